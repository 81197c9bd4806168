/**
 * cni-gc stopped by the user's signal, and quit by a second one (tryout 9, finding 5): the quit printed only its closing
 * line — no `freed …` line for the DELs that had run, nothing of those in flight (whose locks stayed on their nodes),
 * while a batch's quit names its pods "being changed". Now its quit note names the DELs running, and its report says
 * what they freed before it and names those in flight (pod, ifname, node) with the cni-gc that frees them (and when,
 * on a node reached by commands); -o json the same as one document. A first signal's stop names what it stopped in
 * flight, with that command, as a batch does. Three gone pods' attachments on node-2 (their records), reached through
 * the runtime. Each test loads the modules afresh (vi.resetModules): a signal, once received, is the process's for good.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';

let fresh: {
  world: typeof import('../fakes/world.js');
  executor: typeof import('../fakes/executor.js');
  gc: typeof import('../../src/cli/gc.js');
  main: typeof import('../../src/cli/main.js');
  interrupt: typeof import('../../src/exec/interrupt.js');
  records: typeof import('../../src/resolve/records.js');
};

beforeEach(async () => {
  vi.resetModules();
  const [world, executor, gc, main, interrupt, records] = await Promise.all([
    import('../fakes/world.js'), import('../fakes/executor.js'), import('../../src/cli/gc.js'),
    import('../../src/cli/main.js'), import('../../src/exec/interrupt.js'), import('../../src/resolve/records.js'),
  ]);
  fresh = { world, executor, gc, main, interrupt, records };
});

const conf = Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64');

/** A laptop's world whose cluster records net1 of the gone pods shop/db-1 … db-3 on node-2; `onDel` answers each DEL there. */
async function threeGone(onDel: (pod: string) => Record<string, unknown> | Promise<Record<string, unknown>>) {
  const w = fresh.world.world();
  w.deps.hostname = () => 'laptop';
  const node2 = new fresh.executor.FakeExecutor();
  node2.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'DEL' ? onDel(/K8S_POD_NAME=([^;]+)/.exec(c.env.CNI_ARGS ?? '')![1]!) : {}));
  for (const [i, pod] of ['db-1', 'db-2', 'db-3'].entries()) {
    const id = String(i + 1).repeat(64);
    const entry = { kind: 'cniCacheV1', containerId: id, config: conf, ifName: 'net1', networkName: 'net', result: {}, cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', pod], ['K8S_POD_UID', `uid-${pod}`]] };
    node2.files.set(`/var/lib/cni/results/net-${id}-net1`, JSON.stringify(entry));
    await fresh.records.addRecord(w.kube, 'kube-system', fresh.records.attachmentRecord({ namespace: 'shop', pod, uid: `uid-${pod}`, node: 'node-2', ifname: 'net1', network: 'net', containerId: id }, { result: {} }));
  }
  w.runtime.nodeExecutor = async (n: string) => (n === 'node-2' ? node2 : undefined);
  return { ...w, node2 };
}

/**
 * The second signal as cli/main.ts handles it (its note, the quit begun, its report): what the command printed by the
 * end of its report (the process exits then; here the command's own end follows, and is not looked at).
 */
async function secondSignal(argv: string[], w: Awaited<ReturnType<typeof threeGone>>) {
  const note = fresh.main.quitNote('SIGINT');
  fresh.interrupt.beginQuit();
  const [out0, err0] = [w.stdout().length, w.stderr().length];
  await fresh.main.quitReport(w.deps.io, 'SIGINT', fresh.main.stopEnding(fresh.gc.gcCommand(w.deps), argv));
  return { note, before: { out: w.stdout().slice(0, out0), err: w.stderr().slice(0, err0) }, out: w.stdout().slice(out0), err: w.stderr().slice(err0) };
}

describe('cni-gc quit by a second signal during its DELs', () => {
  it('the note names the DEL running; the report says what was freed before (its `freed` line) and names the one in flight, on its node, with the cni-gc that frees it and when; the closing line counts both (before: the closing line alone)', async () => {
    let said: Awaited<ReturnType<typeof secondSignal>> | undefined;
    const w: Awaited<ReturnType<typeof threeGone>> = await threeGone(async (pod) => {
      if (pod !== 'db-2') return {};
      fresh.interrupt.interrupt('SIGINT');
      said = await secondSignal([], w);
      return { code: null, interrupted: 'SIGINT' };
    });
    const t0 = Date.now();
    await w.cli(fresh.gc.gcCommand, []);
    expect(said!.note).toBe('SIGINT again: quitting now; a DEL was running (net1 of pod shop/db-2 on node node-2): it stays as the quit leaves it, marked where it runs as a DEL that did not finish (the summary names it unknown, with the command that frees it)');
    const [line, by] = /^gc: freed 1 stale attachment; stopped by SIGINT \(Ctrl-C\), quit by a second SIGINT: 1 unknown \(net1 of pod shop\/db-2 on node node-2; `kubectl cni-gc` frees it, by (\S+Z) at the latest\); the record of the one freed goes with the next cni-gc$/m.exec(said!.out) ?? [];
    expect(line, JSON.stringify(said)).toBeDefined();
    // its lock there: the plugin time limit (--timeout, 1m by default) and the lock's grace after the quit, at most
    expect(Date.parse(by!) - t0).toBeGreaterThan(60_000);
    expect(Date.parse(by!) - t0).toBeLessThan(75_000);
    // nothing of it was said before the quit (gc says what it freed at its end)
    expect(said!.before.out).toBe('');
    expect(said!.out).toBe(`freed net1 of pod shop/db-1 (network net): the pod is gone (node node-2)\n${line}\n`);
    expect(said!.err).toBe(
      `note: quit during the DEL of net1 of pod shop/db-2 on node node-2 (network net): it stays as the quit leaves it, marked there as a DEL that did not finish, under the lock of what gc started there, which may run until its time limit: free by ${by}; \`kubectl cni-gc\` frees it from then on, from this host (another host, which cannot see that this command is gone, leaves it to \`cni-detach --force\`)\n` +
        'error: gc stopped by SIGINT (Ctrl-C), quit by a second SIGINT: 1 freed, 1 unknown (its DEL was running: `kubectl cni-gc` frees it); the rest as it was (`kubectl cni-gc --dry-run` says what is left)\n',
    );
  });

  it('-o json: the same as one document (freed, unknown with node, clearCommand and freeBy, stoppedBy, quitBy)', async () => {
    let said: Awaited<ReturnType<typeof secondSignal>> | undefined;
    const w: Awaited<ReturnType<typeof threeGone>> = await threeGone(async (pod) => {
      if (pod !== 'db-2') return {};
      fresh.interrupt.interrupt('SIGINT');
      said = await secondSignal(['-o', 'json'], w);
      return { code: null, interrupted: 'SIGINT' };
    });
    await w.cli(fresh.gc.gcCommand, ['-o', 'json']);
    expect(JSON.parse(said!.out)).toEqual({
      dryRun: false,
      freed: [{ target: 'pod shop/db-1', ifname: 'net1', network: 'net', containerId: '1'.repeat(64), reason: 'the pod is gone (node node-2)', node: 'node-2', recordKept: true }],
      stoppedBy: 'SIGINT',
      quitBy: 'SIGINT',
      unknown: [{ target: 'pod shop/db-2', ifname: 'net1', network: 'net', containerId: '2'.repeat(64), reason: 'the pod is gone (node node-2)', node: 'node-2', clearCommand: 'kubectl cni-gc', freeBy: expect.stringMatching(/Z$/) }],
    });
    expect(said!.err.trim().split('\n').at(-1)).toMatch(/^error: gc stopped by SIGINT \(Ctrl-C\), quit by a second SIGINT: 1 freed, 1 unknown/);
  });

  it('a first signal alone, -o json: the DEL it stopped in flight with its node and the cni-gc that frees it', async () => {
    const w = await threeGone((pod) => (pod === 'db-2' ? (fresh.interrupt.interrupt('SIGINT'), { code: null, interrupted: 'SIGINT' }) : {}));
    expect(await w.cli(fresh.gc.gcCommand, ['-o', 'json']), w.stderr()).toBe(130);
    const out = JSON.parse(w.stdout()) as { freed: { target: string }[]; stopped: Record<string, unknown>[]; notStarted: unknown[] };
    expect(out.freed.map((f) => f.target)).toEqual(['pod shop/db-1']);
    expect(out.stopped).toEqual([expect.objectContaining({ target: 'pod shop/db-2', node: 'node-2', clearCommand: 'kubectl cni-gc' })]);
    expect(out.notStarted).toHaveLength(1);
  });

  it('a first signal alone: the DEL it stopped is named on its node with the cni-gc that frees it, in the summary and its note (before: counted only)', async () => {
    const w = await threeGone((pod) => (pod === 'db-2' ? (fresh.interrupt.interrupt('SIGINT'), { code: null, interrupted: 'SIGINT' }) : {}));
    expect(await w.cli(fresh.gc.gcCommand, []), w.stderr()).toBe(130);
    expect(w.stdout()).toMatch(/^freed net1 of pod shop\/db-1 \(network net\): the pod is gone \(node node-2\)$/m);
    expect(w.stdout()).toMatch(/^gc: freed 1 stale attachment, 0 alive; stopped by SIGINT \(Ctrl-C\): 1 stopped, still recorded \(net1 of pod shop\/db-2 on node node-2: `kubectl cni-gc` frees it\), 1 not started$/m);
    expect(w.stderr()).toMatch(/^note: stopped freeing net1 of pod shop\/db-2 on node node-2 \(network net\): .*; `kubectl cni-gc` frees it$/m);
    expect(w.stderr().trim().split('\n').at(-1)).toBe('error: gc stopped by SIGINT (Ctrl-C): 1 stopped, still recorded, 1 not started; 1 freed; what is left stays recorded: run `kubectl cni-gc` again');
  });
});
