/**
 * A step of one pod's command that the user's signal cut short, and that then failed as a step fails — a sandbox
 * look-up through an agent whose run was killed said `cannot reach the CRI runtime on node … failed: …` (exit 4), an
 * API request or a node session's opening likewise: the signal's doing, said as a stop with 128 + n (README "Exit
 * codes"; cli/main.ts cutBySignal). The signal is sent (exec/interrupt.ts interrupt(), what cli/main.ts does on SIGINT)
 * from inside the fake runtime's look-up, at the exact step; each test loads the modules afresh (vi.resetModules): a
 * signal, once received, is the process's for good.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';

/** The modules a test uses, loaded afresh (a signal, once received, is the process's for good). */
async function load() {
  vi.resetModules();
  return {
    world: await import('../fakes/world.js'),
    attach: await import('../../src/cli/attach.js'),
    detach: await import('../../src/cli/detach.js'),
    check: await import('../../src/cli/check.js'),
    interrupt: await import('../../src/exec/interrupt.js'),
    errors: await import('../../src/errors.js'),
  };
}

let fresh: Awaited<ReturnType<typeof load>>;

beforeEach(async () => {
  fresh = await load();
});

const POD = ['web-1', '-n', 'shop', '--ifname', 'eth1'];

/** A world whose runtime's look-up receives the user's signal and then fails as a killed run through an agent does. */
function cutLookUp(failure: () => Error) {
  const w = fresh.world.world();
  const runtime = {
    name: 'agent',
    where: 'agent pods in kube-system',
    findSandbox: async () => {
      fresh.interrupt.interrupt('SIGINT');
      throw failure();
    },
    listSandboxes: async () => [],
  };
  w.deps.runtimes = async () => [runtime];
  return w;
}

describe('a look-up the user\'s signal cut short, one pod: exit 130, "nothing was changed"', () => {
  const commands = () =>
    [
      ['attach', fresh.attach.attachCommand, [...POD, '--conf', '-']],
      ['detach', fresh.detach.detachCommand, POD],
      ['detach --dry-run', fresh.detach.detachCommand, [...POD, '--dry-run']],
      ['check', fresh.check.checkCommand, POD],
    ] as const;
  for (const i of [0, 1, 2, 3]) {
    it(`${['attach', 'detach', 'detach --dry-run', 'check'][i]}: an unreachable runtime (a killed run), an internal error, each said as the stop`, async () => {
      for (const failure of [
        () => new fresh.errors.UnreachableError('cannot reach the CRI runtime on node node-b (through agent pod x): sh -c (sandbox look-up) failed: @cni-attach-lookup-1 tasks'),
        () => new Error('the connection closed without an exit status'),
      ]) {
        fresh = await load();
        const [name, make, args] = commands()[i]!;
        const verb = name.split(' ')[0]!;
        const w = cutLookUp(failure);
        const keys = () => [...w.kube.configMaps.values()].flatMap((c) => Object.keys(c.data));
        // before: exit 4 "error: cannot reach the CRI runtime …", exit 1 "internal error: …"
        expect(await w.cli(make, [...args]), w.stderr()).toBe(130);
        // one form for a stop of one pod: "<command> stopped by …" (before: "stopped by …", the command unnamed)
        expect(w.stderr()).toBe(`error: ${verb} stopped by SIGINT (Ctrl-C) before it changed anything: nothing was changed\n`);
        expect(w.exec.calls).toEqual([]);
        expect(keys()).toEqual([]);
        expect(w.kube.patches).toEqual([]);
        // -v: the cut step's own words, still the stop
        expect(await w.cli(make, [...args, '-v']), w.stderr()).toBe(130);
        expect(w.stderr()).toMatch(new RegExp(`^error: ${verb} stopped by SIGINT \\(Ctrl-C\\) before it changed anything: nothing was changed \\(the step it cut short then said: .+\\)\n$`));
      }
    });
  }
  it('input refused while the signal came is still said as refused (exit 2)', async () => {
    const w = cutLookUp(() => new Error('never'));
    fresh.interrupt.interrupt('SIGINT');
    expect(await w.cli(fresh.attach.attachCommand, [...POD, '--conf', '-', '--timeout', 'abc'])).toBe(2);
  });
});

describe('cni-gc stopped by the user\'s signal: said as a batch says it (not started, counted apart from failures), no "problems" line', () => {
  /** The cache entry of net1 (network net) of a gone pod's sandbox containerId. */
  const entryOf = (containerId: string, pod: string) => ({
    kind: 'cniCacheV1', containerId, config: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64'),
    ifName: 'net1', networkName: 'net', netns: '', cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', pod], ['K8S_POD_UID', `uid-${pod}`]], result: {},
  });

  it('on another node (its records): the first DEL done when the signal came, the others not started (before: "could not free … stopped by SIGINT (Ctrl-C) before DEL" each, "2 could not be freed", "error: gc finished with 2 problems")', async () => {
    const { FakeExecutor } = await import('../fakes/executor.js');
    const records = await import('../../src/resolve/records.js');
    const { gcCommand } = await import('../../src/cli/gc.js');
    const w = fresh.world.world();
    const node2 = new FakeExecutor();
    node2.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'DEL' ? (fresh.interrupt.interrupt('SIGINT'), {}) : {}));
    for (const [i, pod] of ['db-1', 'db-2', 'db-3'].entries()) {
      const id = String(i + 1).repeat(64);
      node2.files.set(`/var/lib/cni/results/net-${id}-net1`, JSON.stringify(entryOf(id, pod)));
      await records.addRecord(w.kube, 'kube-system', records.attachmentRecord({ namespace: 'shop', pod, uid: `uid-${pod}`, node: 'node-2', ifname: 'net1', network: 'net', containerId: id }, { result: {} }));
    }
    w.runtime.nodeExecutor = async (n: string) => (n === 'node-2' ? node2 : undefined);
    expect(await w.cli(gcCommand, []), w.stderr()).toBe(130);
    expect(node2.calls.filter((c) => c.command === 'DEL')).toHaveLength(1);
    expect(w.stderr()).not.toMatch(/could not free|problem/);
    expect(w.stdout()).toMatch(/^gc: freed 1 stale attachment, 0 alive; stopped by SIGINT \(Ctrl-C\): 2 not started$/m);
    expect(w.stderr().trim().split('\n').at(-1)).toBe('error: gc stopped by SIGINT (Ctrl-C): 2 not started; 1 freed; what is left stays recorded: run `kubectl cni-gc` again');
    // what was not started stays, recorded, for the next cni-gc
    expect((await records.listRecords(w.kube, 'kube-system')).map((r) => r.pod).sort()).toEqual(['db-2', 'db-3']);
    expect([...node2.files.keys()].filter((k) => k.includes('/results/')).sort()).toEqual(['2', '3'].map((d) => `/var/lib/cni/results/net-${d.repeat(64)}-net1`));
  });

  it('on this host: the DEL it stopped in flight "stopped, still recorded", the rest "not started"; -o json says which', async () => {
    const { gcCommand } = await import('../../src/cli/gc.js');
    const w = fresh.world.manyPods(3);
    expect(await w.cli(fresh.attach.attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-']), w.stderr()).toBe(0);
    w.kube.pods.clear();
    const before = w.exec.plugins.get('/opt/cni/bin/bridge')!;
    w.exec.plugins.set('/opt/cni/bin/bridge', async (c) => (c.command === 'DEL' ? (fresh.interrupt.interrupt('SIGINT'), { code: null, interrupted: 'SIGINT' }) : before(c)));
    expect(await w.cli(gcCommand, ['-o', 'json']), w.stderr()).toBe(130);
    const out = JSON.parse(w.stdout()) as { failed: unknown[]; stoppedBy: string; notStarted: unknown[]; stopped: { error: string }[] };
    expect(out.failed).toEqual([]);
    expect(out.stoppedBy).toBe('SIGINT');
    expect(out.notStarted).toHaveLength(2);
    expect(out.stopped).toHaveLength(1);
    expect(w.stderr().trim().split('\n').at(-1)).toBe('error: gc stopped by SIGINT (Ctrl-C): 1 stopped, still recorded, 2 not started; 0 freed; what is left stays recorded: run `kubectl cni-gc` again');
  });
});

describe('cni-list and cni-gc whose look-ups the signal cut short: a stop, exit 130 (it was exit 4, "could not be listed")', () => {
  it('cni-list: this host\'s sandboxes not listed because the signal stopped the look-up: its rows, then "stopped by SIGINT (Ctrl-C): …"', async () => {
    const { listCommand } = await import('../../src/cli/list.js');
    const w = fresh.world.world();
    expect(await w.cli(fresh.attach.attachCommand, [...POD, '--conf', '-'])).toBe(0);
    w.runtime.listSandboxes = async () => {
      fresh.interrupt.interrupt('SIGINT');
      throw new fresh.errors.UnreachableError('cannot reach the CRI runtime on this host: crictl pods failed: signal: interrupt');
    };
    expect(await w.cli(listCommand, ['-A']), w.stderr()).toBe(130);
    expect(w.stdout()).toMatch(/web-1/);
    expect(w.stderr()).toMatch(/^error: stopped by SIGINT \(Ctrl-C\): this host's sandboxes could not be listed: /m);
  });

  it('cni-gc: a node whose agent\'s start the signal cut is "not visited", not a problem (it was "node X was not looked at: cannot reach …", exit 4)', async () => {
    const { gcCommand } = await import('../../src/cli/gc.js');
    const w = fresh.world.world();
    w.kube.add((await import('../fakes/kube.js')).makePod({ name: 'db-1', namespace: 'shop', uid: 'uid-db', node: 'node-2' }));
    w.runtime.nodeExecutor = async () => {
      fresh.interrupt.interrupt('SIGINT');
      throw new fresh.errors.UnreachableError('cannot reach node node-2: its agent pod did not start');
    };
    expect(await w.cli(gcCommand, ['--node', 'node-2']), w.stderr()).toBe(130);
    expect(w.stderr()).not.toMatch(/was not looked at|problem/);
    expect(w.stdout()).toMatch(/; stopped by SIGINT \(Ctrl-C\): 1 node not visited \(node-2\)$/m);
  });
});

describe('the closing line of a stop the command did not end itself (cli/main.ts stopEnding): by command and by what it had begun', () => {
  async function ending(make: () => import('commander').Command, argv: string[]) {
    const main = await import('../../src/cli/main.js');
    return main.stopEnding(make(), argv);
  }
  it('before any change: one pod, a batch, list, check, gc; during a change quit by a second signal; after a change', async () => {
    const { attach, detach, check, interrupt } = fresh;
    const list = await import('../../src/cli/list.js');
    const gc = await import('../../src/cli/gc.js');
    expect((await ending(attach.attachCommand, POD))('SIGINT')).toBe('attach stopped by SIGINT (Ctrl-C) before it changed anything: nothing was changed');
    expect((await ending(detach.detachCommand, ['-l', 'app=web', '--ifname', 'eth1']))('SIGTERM')).toBe('detach stopped by SIGTERM before any pod was started: nothing changed');
    expect((await ending(check.checkCommand, POD))('SIGINT')).toBe('check stopped by SIGINT (Ctrl-C): nothing was changed (CHECK changes nothing)');
    expect((await ending(list.listCommand, ['-A']))('SIGHUP', true)).toBe('list stopped by SIGHUP, quit by a second SIGHUP: nothing was changed (listing changes nothing)');
    expect((await ending(gc.gcCommand, ['--dry-run']))('SIGINT')).toBe('gc stopped by SIGINT (Ctrl-C) before it changed anything: nothing was changed');
    const release = interrupt.hold();
    expect((await ending(attach.attachCommand, POD))('SIGINT', true)).toBe(
      'attach stopped by SIGINT (Ctrl-C), quit by a second SIGINT during its change: what was being changed stays as it is, recorded where it was (`kubectl cni-list` shows it with the command that clears it)',
    );
    // a lock held on a node reached by commands: until when it stays held (tryout 11, finding 2), with the 2 s slack of a
    // lock write in flight, rounded up; and what another host meets: the lock respected until --force (tryout 13, N1/N3)
    const lock = interrupt.trackLimitedLock(Date.parse('2026-12-03T10:31:09.500Z'), 'node node-a');
    expect((await ending(detach.detachCommand, POD))('SIGINT', true)).toBe(
      'detach stopped by SIGINT (Ctrl-C), quit by a second SIGINT during its change: what was being changed stays as it is, recorded where it was (`kubectl cni-list` shows it with the command that clears it); on its node what the quit left running may hold its lock until 2026-12-03T10:31:12Z (its time limit): a cni-attach or cni-detach of it from this host may answer busy until then; from another host, which cannot see that this command is gone, `cni-detach --force` from then on',
    );
    expect((await ending(attach.attachCommand, POD))('SIGINT', true)).toBe(
      "attach stopped by SIGINT (Ctrl-C), quit by a second SIGINT during its change: what was being changed stays as it is, recorded where it was (`kubectl cni-list` shows it with the command that clears it); on its node what the quit left running may hold its lock until 2026-12-03T10:31:12Z (its time limit): a cni-attach or cni-detach of it from this host may answer busy until then; from another host, which cannot see that this command is gone, `cni-detach --force` from then on",
    );
    lock.release();
    release();
    expect((await ending(attach.attachCommand, POD))('SIGINT')).toBe('attach stopped by SIGINT (Ctrl-C) after its change: what it printed stands');
    expect((await ending(gc.gcCommand, []))('SIGINT')).toBe('gc stopped by SIGINT (Ctrl-C) after its DELs ran: what they freed stays freed, the rest as it was (`kubectl cni-gc --dry-run` says what is left)');
  });
});
