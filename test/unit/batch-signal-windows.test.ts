/**
 * The user's signal in the windows of a batch (-l) that an outside tryout found answered wrongly, each made
 * deterministic with fakes at the ports: the signal is sent (exec/interrupt.ts interrupt(), what cli/main.ts does on
 * SIGINT) from inside a fake plugin run, API request or runtime call, at the exact step. Each test loads the modules
 * afresh (vi.resetModules): a signal, once received, is the process's for good.
 *  - a DEL (or ADD) that exited 0 by itself while the signal came: what the node holds decides the words and the
 *    records (before: "stopped … (it had exited 0, its output not yet taken); the record stays" for a DEL that had
 *    freed everything);
 *  - the signal while the pods are listed or while the runtimes are readied (agents starting): a closing line, exit 130
 *    (before: none; the command exited from the signal handler);
 *  - steps alone sent to a node (a batching executor's flush: the cache's bookkeeping after a DEL) are not cut by it;
 *  - an attach whose command quit before replacing its write-ahead record (attaching) with the attached one: the
 *    detach that says "detached" takes it along (before: it stayed in the cluster).
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';

type World = ReturnType<(typeof import('../fakes/world.js'))['manyPods']>;

let fresh: {
  world: typeof import('../fakes/world.js');
  attach: typeof import('../../src/cli/attach.js');
  detach: typeof import('../../src/cli/detach.js');
  check: typeof import('../../src/cli/check.js');
  interrupt: typeof import('../../src/exec/interrupt.js');
  records: typeof import('../../src/resolve/records.js');
  shell: typeof import('../../src/exec/shell.js');
  errors: typeof import('../../src/errors.js');
  host: typeof import('../../src/exec/host.js');
  main: typeof import('../../src/cli/main.js');
  gc: typeof import('../../src/cli/gc.js');
};

beforeEach(async () => {
  vi.resetModules();
  fresh = {
    world: await import('../fakes/world.js'),
    attach: await import('../../src/cli/attach.js'),
    detach: await import('../../src/cli/detach.js'),
    check: await import('../../src/cli/check.js'),
    interrupt: await import('../../src/exec/interrupt.js'),
    records: await import('../../src/resolve/records.js'),
    shell: await import('../../src/exec/shell.js'),
    errors: await import('../../src/errors.js'),
    host: await import('../../src/exec/host.js'),
    main: await import('../../src/cli/main.js'),
    gc: await import('../../src/cli/gc.js'),
  };
});

const BATCH = ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--parallel', '1'];
/** The container ids whose result the node's cache holds. */
const results = (w: World) => [...w.exec.files.keys()].map((k) => /\/results\/net-(\w+)-eth1$/.exec(k)?.[1]).filter(Boolean).sort();
const recordedPods = async (w: World) => (await fresh.records.listRecords(w.kube, 'kube-system')).map((r) => `${r.pod}${r.attaching ? ' (attaching)' : ''}`).sort();
const bridge = (w: World, fn: (c: { command: string; env: Record<string, string> }) => Record<string, unknown> | undefined) => {
  const before = w.exec.plugins.get('/opt/cni/bin/bridge')!;
  w.exec.plugins.set('/opt/cni/bin/bridge', async (c) => ({ ...(await before(c)), ...(fn(c) ?? {}) }));
};
const isPod = (c: { env: Record<string, string> }, pod: string) => c.env.CNI_ARGS?.includes(`K8S_POD_NAME=${pod};`);

describe('a DEL or ADD that exited 0 by itself while the signal came', () => {
  it('detach -l: a DEL that ran to its end is "detached", its cache entry and cluster record gone; the pods after it are not started; exit 130', async () => {
    const w = fresh.world.manyPods(3);
    expect(await w.cli(fresh.attach.attachCommand, BATCH), w.stderr()).toBe(0);
    expect(await recordedPods(w)).toEqual(['web-1', 'web-2', 'web-3']);
    // web-1's DEL: the signal comes while it runs, and it exits 0 all the same (its work done)
    bridge(w, (c) => (c.command === 'DEL' && isPod(c, 'web-1') ? (fresh.interrupt.interrupt('SIGINT'), { code: 0, interrupted: 'SIGINT' }) : undefined));
    expect(await w.cli(fresh.detach.detachCommand, BATCH.filter((a, i) => a !== '--conf' && BATCH[i - 1] !== '--conf'))).toBe(130);
    expect(w.stderr().split('\n')).toContain('[1/3] shop/web-1: detached eth1');
    expect(w.stderr()).not.toMatch(/web-1: stopped|the record stays|output not yet taken/);
    expect(w.stdout()).toBe('eth1 detached from 1 of 3 pods; stopped by SIGINT (Ctrl-C): 2 not started (shop/web-2, shop/web-3)\n');
    expect(w.stderr().trim().split('\n').at(-1)).toBe('error: detach stopped by SIGINT (Ctrl-C): 2 not started; 1 of 3 pods done');
    // what the node holds, and what the cluster says: the same
    expect(results(w)).toEqual(['2'.padStart(64, 'a'), '3'.padStart(64, 'a')].sort());
    expect(await recordedPods(w)).toEqual(['web-2', 'web-3']);
    const status = (pod: string) => JSON.parse(w.kube.pods.get(`shop/${pod}`)?.metadata?.annotations?.['k8s.v1.cni.cncf.io/network-status'] ?? '[]') as { interface: string }[];
    expect([status('web-1'), status('web-2')].map((l) => l.map((e) => e.interface))).toEqual([[], ['eth1']]);
  });

  it('attach -l: an ADD that finished while the signal came is rolled back, and said so; its DEL gets the result it made; no record', async () => {
    const w = fresh.world.manyPods(2);
    bridge(w, (c) => (c.command === 'ADD' && isPod(c, 'web-1') ? (fresh.interrupt.interrupt('SIGTERM'), { interrupted: 'SIGTERM' }) : undefined));
    expect(await w.cli(fresh.attach.attachCommand, BATCH)).toBe(143);
    expect(w.stderr().split('\n')).toContain('[1/2] shop/web-1: stopped: plugin bridge stopped on ADD: by SIGTERM (it had finished; its result is not used) (rolled back: nothing was left behind)');
    expect(w.stdout()).toBe('eth1 attached to 0 of 2 pods; stopped by SIGTERM: 1 rolled back (shop/web-1), 1 not started (shop/web-2)\n');
    const del = w.exec.calls.find((c) => c.command === 'DEL');
    expect((del?.stdin.prevResult as { interfaces?: { name: string }[] } | undefined)?.interfaces?.map((i) => i.name)).toContain('eth1');
    expect(results(w)).toEqual([]);
    expect(await recordedPods(w)).toEqual([]);
  });
});

describe('the signal before any pod began', () => {
  it('while the pods are listed: the closing line says so, exit 130, nothing asked of any node', async () => {
    const w = fresh.world.manyPods(2);
    w.kube.listPods = () => (fresh.interrupt.interrupt('SIGINT'), new Promise(() => undefined));
    expect(await w.cli(fresh.attach.attachCommand, BATCH)).toBe(130);
    expect(w.stderr()).toBe('error: attach stopped by SIGINT (Ctrl-C) while listing the pods: nothing changed\n');
    expect(w.stdout()).toBe('');
    expect(w.exec.calls).toEqual([]);
    expect(await recordedPods(w)).toEqual([]);
  });

  it('while the runtimes are readied (the agents starting, the sandbox look-ups): every pod not started, "nothing changed", exit 143', async () => {
    const w = fresh.world.manyPods(3);
    w.deps.runtimes = () => (fresh.interrupt.interrupt('SIGTERM'), new Promise(() => undefined));
    expect(await w.cli(fresh.detach.detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1'])).toBe(143);
    expect(w.stdout()).toBe('eth1 detached from 0 of 3 pods; stopped by SIGTERM: nothing changed, 3 not started (shop/web-1, shop/web-2, shop/web-3)\n');
    expect(w.stderr()).toBe('error: detach stopped by SIGTERM: nothing changed, 3 not started; 0 of 3 pods done\n');
    expect(w.exec.calls).toEqual([]);
  });
});

describe('steps alone sent to a node (a flush) are not the signal\'s to cut', () => {
  it('runStoppable with no command: no kill, its answer as it came; a plugin run beside it is stopped', async () => {
    const kills: string[][] = [];
    let finish: (v: { code: number; stdout: string; stderr: string }) => void = () => undefined;
    const kill = async (argv: string[]) => void kills.push(argv);
    const flush = fresh.shell.runStoppable('node n', kill, () => new Promise((r) => (finish = r)), [], {}, { PATH: '/bin' });
    const plugin = fresh.shell.runStoppable('node n', kill, () => new Promise(() => undefined), ['/opt/cni/bin/bridge'], {}, { PATH: '/bin' });
    fresh.interrupt.interrupt('SIGINT');
    await new Promise((r) => setTimeout(r, 50));
    finish({ code: 0, stdout: 'steps', stderr: '' });
    expect(await flush).toEqual({ code: 0, stdout: 'steps', stderr: '', timedOut: false });
    expect(kills).toHaveLength(1); // the plugin's, not the flush's
    void plugin;
  });
});

describe('the write-ahead record of an attach whose command quit before settling it', () => {
  /** web-1 attached on its node, while the cluster holds only its write-ahead (attaching): the settle's patch cut. */
  async function cutSettle(w: World): Promise<void> {
    const patch = w.kube.patchConfigMapData.bind(w.kube);
    w.kube.patchConfigMapData = async (ns, name, data) => {
      if (Object.keys(data).some((k) => !k.startsWith('attaching.') && data[k] !== null)) throw new fresh.errors.UnreachableError('connection reset (the command quit)');
      return patch(ns, name, data);
    };
    expect(await w.cli(fresh.attach.attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-']), w.stderr()).toBe(0);
    expect(w.stderr()).toMatch(/it may still say attaching, not attached/);
    w.kube.patchConfigMapData = patch;
    // the command that wrote it has quit (it ran in this process here: its pid made one that no process has)
    const [r] = await fresh.records.listRecords(w.kube, 'kube-system');
    const { key, ...stored } = r!;
    await patch('kube-system', fresh.records.recordName('node-1'), { [key!]: JSON.stringify({ kind: 'cniAttachRecordV1', ...stored, by: { host: fresh.host.thisHost.host, pid: 2 ** 22 + 1 } }) });
    expect(await recordedPods(w)).toEqual(['web-1 (attaching)']);
  }

  it.each([
    ['-l', ['-l', 'app=web']],
    ['one pod', ['web-1']],
  ])('the detach (%s) that says "detached" leaves no record of it; while an attach of it runs now here, the detach answers busy and its write-ahead stays', async (_, target) => {
    const w = fresh.world.manyPods(1);
    await cutSettle(w);
    // another attach of it, running now on this host and not yet at the node: its write-ahead is its own to settle,
    // and the detach waits for it (busy: it would DEL under an attach that is about to reach the node)
    const start = await fresh.host.thisHost.start();
    const running = await fresh.records.addAttachingRecord(w.kube, 'kube-system', {
      namespace: 'shop', pod: 'web-1', uid: 'uid-1', node: 'node-1', ifname: 'eth1', network: 'net', containerId: '', since: '2026-12-01T21:00:00Z', addresses: [],
      by: { host: fresh.host.thisHost.host, pid: process.pid, ...(start !== undefined ? { start } : {}) },
    });
    expect(await w.cli(fresh.detach.detachCommand, [...target, '-n', 'shop', '--ifname', 'eth1']), w.stderr()).toBe(1);
    expect(`${w.stdout()}${w.stderr()}`).toMatch(/an attach of eth1 in pod shop\/web-1 .*is running .* try again when it is done/);
    expect(results(w)).toHaveLength(1);
    expect((await fresh.records.listRecords(w.kube, 'kube-system')).map((r) => [r.pod, r.attaching, r.by?.pid]).sort((a, b) => Number(a[2]) - Number(b[2]))).toEqual([['web-1', true, Math.min(process.pid, 2 ** 22 + 1)], ['web-1', true, Math.max(process.pid, 2 ** 22 + 1)]]);
    // that attach done (its record settled elsewhere): the detach detaches, and no record of it stays
    await fresh.records.removeRecordKeys(w.kube, 'kube-system', 'node-1', [running]);
    expect(await w.cli(fresh.detach.detachCommand, [...target, '-n', 'shop', '--ifname', 'eth1']), w.stderr()).toBe(0);
    expect(`${w.stdout()}${w.stderr()}`).toMatch(/detached/);
    expect(results(w)).toEqual([]);
    expect(await fresh.records.listRecords(w.kube, 'kube-system')).toEqual([]);
  });
});

describe('an attach of another host, whose command this host cannot see', () => {
  /** web-1 attached on its node; the cluster also holds a write-ahead record of eth1 written by host laptop-2. */
  async function otherHostAttaching(w: World, until: string | undefined, attached = true): Promise<string> {
    if (attached) expect(await w.cli(fresh.attach.attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-']), w.stderr()).toBe(0);
    return fresh.records.addAttachingRecord(w.kube, 'kube-system', {
      namespace: 'shop', pod: 'web-1', uid: 'uid-1', node: 'node-1', ifname: 'eth1', network: 'net', containerId: '', since: '2026-12-01T21:00:00Z', addresses: [],
      by: { host: 'laptop-2', pid: 4242 }, ...(until ? { until } : {}),
    });
  }
  const later = () => new Date(Date.now() + 600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

  it.each([
    ['-l', ['-l', 'app=web']],
    ['one pod', ['web-1']],
    ['a dry run', ['web-1', '--dry-run']],
  ])('within the time bound it recorded, the detach (%s) answers busy (exit 1), naming that host and the bound, and changes nothing', async (_, target) => {
    const w = fresh.world.manyPods(1);
    const until = later();
    await otherHostAttaching(w, until);
    expect(await w.cli(fresh.detach.detachCommand, [...target, '-n', 'shop', '--ifname', 'eth1']), w.stderr()).toBe(1);
    expect(`${w.stdout()}${w.stderr()}`).toContain(`an attach of eth1 in pod shop/web-1 may be running (pid 4242 on host laptop-2; begun at 2026-12-01T21:00:00Z, as the cluster's record of it says): this host cannot see that host's processes, so until ${until}`);
    expect(`${w.stdout()}${w.stderr()}`).toMatch(/give --force/);
    expect(results(w)).toHaveLength(1);
    expect((await fresh.records.listRecords(w.kube, 'kube-system')).map((r) => [r.pod, !!r.attaching])).toEqual(expect.arrayContaining([['web-1', true], ['web-1', false]]));
  });

  it('cni-check of a pod whose node holds nothing of it yet answers busy too, without offering --force', async () => {
    const w = fresh.world.manyPods(1);
    await otherHostAttaching(w, later(), false);
    expect(await w.cli(fresh.check.checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-']), w.stderr()).toBe(1);
    expect(w.stderr()).toMatch(/may be running \(pid 4242 on host laptop-2;.*nothing was checked/);
    expect(w.stderr()).not.toMatch(/--force/);
  });

  it.each([
    ['past the bound it recorded', '2026-12-01T21:08:00Z', []],
    ['within it, with --force', 'later', ['--force']],
  ])('%s, the detach detaches (exit 0) and no record of eth1 stays', async (_, until, extra) => {
    const w = fresh.world.manyPods(1);
    await otherHostAttaching(w, until === 'later' ? later() : until);
    expect(await w.cli(fresh.detach.detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', ...extra]), w.stderr()).toBe(0);
    // (--force's words: "forgotten …: DEL succeeded")
    expect(w.stdout()).toMatch(/^eth1 (detached from|forgotten in) pod shop\/web-1.*(DEL succeeded)?/);
    expect(results(w)).toEqual([]);
    expect(await fresh.records.listRecords(w.kube, 'kube-system')).toEqual([]);
  });

  it('past its bound, with nothing on the node: the detach says it removed that record (was "nothing to do"), its dry run that it would; one pod, -l, -o json', async () => {
    const words = "removed the cluster's record of an attach of eth1 that did not finish (begun at 2026-12-01T21:00:00Z; node node-1 holds nothing of it)";
    const w = fresh.world.manyPods(1);
    await otherHostAttaching(w, '2026-12-01T21:08:00Z', false);
    expect(await w.cli(fresh.detach.detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--dry-run']), w.stderr()).toBe(0);
    expect(w.stderr()).toContain(`note: would remove${words.slice('removed'.length)}`);
    expect(await recordedPods(w)).toEqual(['web-1 (attaching)']);
    expect(await w.cli(fresh.detach.detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']), w.stderr()).toBe(0);
    expect(w.stderr()).toMatch(new RegExp(`^note: nothing is attached as eth1 in pod shop/web-1 .*; ${words.replace(/[()]/g, '\\$&')}$`, 'm'));
    expect(w.stderr()).not.toMatch(/nothing to do/);
    expect(await recordedPods(w)).toEqual([]);
    await otherHostAttaching(w, '2026-12-01T21:08:00Z', false);
    expect(await w.cli(fresh.detach.detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1']), w.stderr()).toBe(0);
    expect(`${w.stdout()}${w.stderr()}`).toContain(`shop/web-1: nothing attached as eth1; ${words}`);
    expect(await recordedPods(w)).toEqual([]);
    await otherHostAttaching(w, '2026-12-01T21:08:00Z', false);
    expect(await w.cli(fresh.detach.detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '-o', 'json']), w.stderr()).toBe(0);
    expect(JSON.parse(w.stdout())).toMatchObject({ detached: [], removedAttemptRecords: [{ node: 'node-1', since: '2026-12-01T21:00:00Z' }] });
  });

  it('a record with no bound (older versions) is not busy: as before', async () => {
    const w = fresh.world.manyPods(1);
    await otherHostAttaching(w, undefined);
    expect(await w.cli(fresh.detach.detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']), w.stderr()).toBe(0);
    expect(results(w)).toEqual([]);
  });

  it('the attach writes its bound: (plugins + 1) runs at --timeout, a rollback DEL per plugin at the larger of --timeout and 60 s, 8 requests at --request-timeout, and a minute', async () => {
    const w = fresh.world.manyPods(1);
    let seen: string | undefined;
    const patch = w.kube.patchConfigMapData.bind(w.kube);
    w.kube.patchConfigMapData = async (ns, name, data) => {
      for (const [k, v] of Object.entries(data)) if (k.startsWith('attaching.') && v) seen = (JSON.parse(v) as { until?: string }).until;
      return patch(ns, name, data);
    };
    const t0 = Date.now();
    expect(await w.cli(fresh.attach.attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--timeout', '10s', '--request-timeout', '5s']), w.stderr()).toBe(0);
    const bound = Date.parse(seen!) - t0;
    // one plugin: 2 × 10 s + 60 s (its rollback DEL: cni/chain.ts rollbackTimeoutMs) + 8 × 5 s + 60 s = 180 s, rounded up
    // to the second (before: 130 s, as if the rollback's DEL had --timeout too)
    expect(bound).toBeGreaterThanOrEqual(179_000);
    expect(bound).toBeLessThanOrEqual(182_000);
  });
});

describe('the first signal after one pod\'s attach has cached its result', () => {
  it('says the interface is attached and stays (before: "rolling back what it changed", while nothing would be rolled back); the attach stands, its record settled', async () => {
    const w = fresh.world.manyPods(1);
    let words: string | undefined;
    const create = w.kube.createPodEvent.bind(w.kube);
    // the added-interface event: written after the result was cached, before the pod's network-status
    w.kube.createPodEvent = async (pod, event, host) => {
      words = fresh.interrupt.stepWords();
      fresh.interrupt.interrupt('SIGINT');
      return create(pod, event, host);
    };
    // (0 when the network-status update, which a signal no longer waits for, was answered first: all of it done)
    const code = await w.cli(fresh.attach.attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-']);
    expect([0, 130], w.stderr()).toContain(code);
    expect(w.stdout()).toMatch(/^eth1 attached to pod shop\/web-1/m);
    expect(words).toBe("eth1 is attached and stays: finishing what says so (its record is written; the pod's network-status update is not waited for)");
    expect(fresh.interrupt.stepWords()).toBeUndefined();
    expect(results(w)).toHaveLength(1);
    expect(await recordedPods(w)).toEqual(['web-1']);
  });
});

describe('a second signal\'s note agrees with what the batch was doing (tryout: "what was being changed stays as it is" while the summary counted no pod unknown)', () => {
  const DETACH = ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--parallel', '1'];
  /** The second signal, as cli/main.ts handles it: its note and closing line at that moment, then the quit begins. */
  const second = (make: (d: World['deps']) => import('commander').Command, w: World, argv: string[]) => {
    const note = fresh.main.quitNote('SIGINT');
    const closing = fresh.main.stopEnding(make(w.deps), argv)('SIGINT', true);
    fresh.interrupt.beginQuit();
    return { note, closing };
  };

  it.each(['attach', 'detach'] as const)('%s -l, both signals while the runtimes are readied (the agents starting): nothing was being changed, and the closing line says no pod was started (before: "what was being changed stays as it is", "during its change")', async (verb) => {
    const w = fresh.world.manyPods(3);
    const argv = verb === 'attach' ? BATCH : DETACH;
    // (the detach's pods need nothing attached: the signals come before any node is asked)
    const make = verb === 'attach' ? fresh.attach.attachCommand : fresh.detach.detachCommand;
    let said: { note: string; closing: string } | undefined;
    w.deps.runtimes = () => (fresh.interrupt.interrupt('SIGINT'), (said = second(make, w, argv)), new Promise(() => undefined));
    expect(await w.cli(make, argv)).toBe(130);
    expect(said).toEqual({
      note: 'SIGINT again: quitting now; nothing was being changed: nothing was changed',
      closing: `${verb} stopped by SIGINT (Ctrl-C), quit by a second SIGINT before any pod was started: nothing changed`,
    });
    expect(w.stdout()).toMatch(/; stopped by SIGINT \(Ctrl-C\)(, quit by a second SIGINT)?: nothing changed, 3 not started/);
    expect(w.stdout()).not.toMatch(/unknown|stopped,/);
  });

  it('detach -l, the second signal during a pod\'s DEL: the note names that pod, and the summary counts it (and it alone) unknown, though its DEL then ended (before: "what was being changed stays as it is", the pod "detached")', async () => {
    const w = fresh.world.manyPods(3);
    expect(await w.cli(fresh.attach.attachCommand, BATCH), w.stderr()).toBe(0);
    let said: { note: string; closing: string } | undefined;
    bridge(w, (c) => (c.command === 'DEL' && isPod(c, 'web-2') ? (fresh.interrupt.interrupt('SIGINT'), (said = second(fresh.detach.detachCommand, w, DETACH)), { code: 0 }) : undefined));
    expect(await w.cli(fresh.detach.detachCommand, DETACH)).toBe(130);
    expect(said!.note).toBe('SIGINT again: quitting now; 1 pod was being changed (shop/web-2): it stays as the quit leaves it, recorded where it was (the summary counts it unknown, with the cni-list that tells)');
    expect(w.stdout()).toMatch(/^eth1 detached from 1 of 3 pods; stopped by SIGINT \(Ctrl-C\), quit by a second SIGINT: 1 unknown \(shop\/web-2; `kubectl cni-list -n shop -l app=web [^`]*--node node-\d+` tells\), 1 not started \(shop\/web-3\)$/m);
    expect(w.stderr()).not.toMatch(/web-2: detached/);
  });

  it('attach -l --parallel 2, the second signal during two pods\' ADDs: the note names both, the summary counts both unknown', async () => {
    const w = fresh.world.manyPods(3);
    const argv = [...BATCH.slice(0, -1), '2'];
    let said: { note: string; closing: string } | undefined;
    let began = 0;
    let go: () => void = () => undefined;
    const both = new Promise<void>((r) => (go = r));
    const before = w.exec.plugins.get('/opt/cni/bin/bridge')!;
    w.exec.plugins.set('/opt/cni/bin/bridge', async (c) => {
      if (c.command === 'ADD' && (isPod(c, 'web-1') || isPod(c, 'web-2'))) {
        if (++began === 2) {
          fresh.interrupt.interrupt('SIGINT');
          said = second(fresh.attach.attachCommand, w, argv);
          go();
        }
        await both;
      }
      return before(c);
    });
    expect(await w.cli(fresh.attach.attachCommand, argv)).toBe(130);
    expect(said!.note).toBe('SIGINT again: quitting now; 2 pods were being changed (shop/web-1, shop/web-2): each stays as the quit leaves them, recorded where they were (the summary counts them unknown, with the cni-list that tells)');
    expect(w.stdout()).toMatch(/^eth1 attached to 0 of 3 pods; stopped by SIGINT \(Ctrl-C\), quit by a second SIGINT: 2 unknown \(shop\/web-1, shop\/web-2; [^)]*\), 1 not started \(shop\/web-3\)$/m);
  });

  it('attach -l -o json quit during a pod\'s ADD: its item says what tells its state (listCommand with its node), as the summary line does (tryout 12, finding 3: only "its state is not known")', async () => {
    const w = fresh.world.manyPods(2);
    const argv = [...BATCH, '-o', 'json'];
    let go: () => void = () => undefined;
    const cut = new Promise<void>((r) => (go = r));
    const before = w.exec.plugins.get('/opt/cni/bin/bridge')!;
    w.exec.plugins.set('/opt/cni/bin/bridge', async (c) => {
      if (c.command === 'ADD' && isPod(c, 'web-1')) {
        fresh.interrupt.interrupt('SIGINT');
        second(fresh.attach.attachCommand, w, argv);
        go();
        await cut;
      }
      return before(c);
    });
    expect(await w.cli(fresh.attach.attachCommand, argv)).toBe(130);
    const items = { items: JSON.parse(w.stdout()) as Record<string, unknown>[] };
    expect(Array.isArray(items.items), w.stdout()).toBe(true);
    const web1 = items.items.find((i) => i.pod === 'shop/web-1')!;
    expect(web1).toMatchObject({ state: 'unknown', listCommand: expect.stringMatching(/^kubectl cni-list -n shop -l app=web .*--node \S+$/) });
    // on this host: no lock outlives the command
    expect(web1).not.toHaveProperty('lockHeldUntil');
    expect(items.items.find((i) => i.pod === 'shop/web-2')).not.toHaveProperty('listCommand');
  });

  it('cni-gc: during a DEL, what was being changed stays as it is; after its DELs (its records read), nothing was being changed and the closing line says what they freed stands (checked: so before too)', async () => {
    const w = fresh.world.manyPods(2);
    expect(await w.cli(fresh.attach.attachCommand, BATCH), w.stderr()).toBe(0);
    w.kube.pods.clear();
    const notes: string[] = [];
    bridge(w, (c) => (c.command === 'DEL' && isPod(c, 'web-1') ? (notes.push(fresh.main.quitNote('SIGINT')), undefined) : undefined));
    let after: { note: string; closing: string } | undefined;
    const listPods = w.kube.listPods.bind(w.kube);
    let calls = 0;
    w.kube.listPods = async (ns) => {
      // the second listing of the pods comes after the local DELs (cli/gc.ts: the records pass)
      if (++calls === 2 && !after) {
        fresh.interrupt.interrupt('SIGINT');
        after = { note: fresh.main.quitNote('SIGINT'), closing: fresh.main.stopEnding(fresh.gc.gcCommand(w.deps), [])('SIGINT', true) };
      }
      return listPods(ns);
    };
    await w.cli(fresh.gc.gcCommand, []);
    // the DEL under way, named (before: "what was being changed stays as it is", none named: tryout 9, finding 5)
    expect(notes).toEqual(['SIGINT again: quitting now; a DEL was running (eth1 of pod shop/web-1 on this host): it stays as the quit leaves it, marked where it runs as a DEL that did not finish (the summary names it unknown, with the command that frees it)']);
    expect(after).toEqual({
      note: 'SIGINT again: quitting now; nothing was being changed (what was changed before stands, as printed)',
      closing: 'gc stopped by SIGINT (Ctrl-C), quit by a second SIGINT after its DELs ran: what they freed stays freed, the rest as it was (`kubectl cni-gc --dry-run` says what is left)',
    });
  });
});

describe('the watch of an attach batch\'s pods (cli/batch-watch.ts) ends with the batch', () => {
  it('stopped by SIGINT while web-1\'s ADD runs: exit 130, the one watch asked for is stopped, none left open', async () => {
    const w = fresh.world.manyPods(3);
    bridge(w, (c) => (c.command === 'ADD' && isPod(c, 'web-1') ? (fresh.interrupt.interrupt('SIGINT'), undefined) : undefined));
    expect(await w.cli(fresh.attach.attachCommand, BATCH)).toBe(130);
    expect(w.stdout()).toMatch(/stopped by SIGINT \(Ctrl-C\)/);
    expect(w.kube.podWatches).toHaveLength(1);
    expect(w.kube.openWatches.size).toBe(0);
  });
});

describe('a pod stopped before it changed anything: one form of words, whichever step the signal cut (tryout 15)', () => {
  it('a step that changes nothing (beforeChange) says what a cut step says (cutBySignal): "… before it changed anything: nothing was changed"', async () => {
    const { beforeChange } = await import('../../src/cli/bulk.js');
    fresh.interrupt.interrupt('SIGINT');
    const before = await beforeChange(new Promise(() => undefined)).catch((e: Error) => e.message);
    const cut = fresh.main.cutBySignal(new Error('the look-up failed'))?.message;
    expect(before).toBe('stopped by SIGINT (Ctrl-C) before it changed anything: nothing was changed');
    expect(cut).toBe(before);
  });
});
