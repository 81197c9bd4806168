/**
 * A cni-detach whose DEL began and did not finish — stopped part-way by the user's signal, or refused by a plugin —
 * says so in the cluster's record of the attachment (AttachmentRecord.detachStopped), so that cni-list -A, which reads
 * no node, shows it `detach stopped` with the cni-detach that finishes it, as cni-list --node does from the node's
 * mark, and cni-gc from anywhere visits its node and finishes it there (tryout 9, finding 10: `cni-list -A` showed
 * such attachments `attached yes <none>`). A detach that works writes nothing more. Each test loads the modules
 * afresh (vi.resetModules): a signal, once received, is the process's for good.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';

let fresh: {
  world: typeof import('../fakes/world.js');
  kube: typeof import('../fakes/kube.js');
  executor: typeof import('../fakes/executor.js');
  attach: typeof import('../../src/cli/attach.js');
  detach: typeof import('../../src/cli/detach.js');
  list: typeof import('../../src/cli/list.js');
  gc: typeof import('../../src/cli/gc.js');
  interrupt: typeof import('../../src/exec/interrupt.js');
  records: typeof import('../../src/resolve/records.js');
};

beforeEach(async () => {
  vi.resetModules();
  fresh = {
    world: await import('../fakes/world.js'),
    kube: await import('../fakes/kube.js'),
    executor: await import('../fakes/executor.js'),
    attach: await import('../../src/cli/attach.js'),
    detach: await import('../../src/cli/detach.js'),
    list: await import('../../src/cli/list.js'),
    gc: await import('../../src/cli/gc.js'),
    interrupt: await import('../../src/exec/interrupt.js'),
    records: await import('../../src/resolve/records.js'),
  };
});

const C = 'c'.repeat(64);
const NS2 = '/proc/9/ns/net';
const POD = ['db-2', '-n', 'shop', '--ifname', 'net1'];

/**
 * A laptop (this host, its cache holding nothing of node-2's) and node-2, reached through the runtime, where the live
 * pod shop/db-2 runs; its bridge plugin makes and removes the link, and answers DEL with `del` when set.
 */
function laptop() {
  const w = fresh.world.world();
  w.deps.hostname = () => 'laptop';
  const node2 = new fresh.executor.FakeExecutor();
  node2.netns.add(NS2);
  let del: (() => Record<string, unknown>) | undefined;
  node2.addPlugin('/opt/cni/bin/bridge', (c) => {
    const ns = c.env.CNI_NETNS ?? '';
    if (c.command === 'ADD') {
      node2.links.set(ns, new Set([...(node2.links.get(ns) ?? []), c.env.CNI_IFNAME!]));
      return { stdout: JSON.stringify(fresh.executor.bridgeResult(c.env.CNI_IFNAME!, ns)) };
    }
    if (c.command === 'DEL') {
      const answer = del?.();
      if (answer) return answer;
      node2.links.get(ns)?.delete(c.env.CNI_IFNAME!);
    }
    return {};
  });
  w.runtime.nodeExecutor = async (n: string) => (n === 'node-2' ? node2 : undefined);
  // its sandboxes are reached there, as an agent's look-up reaches them (resolve/runtime.ts Sandbox.executor)
  const find = w.runtime.findSandbox.bind(w.runtime);
  w.runtime.findSandbox = async (pod) => {
    const s = await find(pod);
    return s && pod.name.startsWith('db-') ? { ...s, executor: node2 } : s;
  };
  w.kube.add(fresh.kube.makePod({ name: 'db-2', namespace: 'shop', uid: 'uid-db-2', node: 'node-2', labels: { app: 'db' } }));
  w.runtime.add('shop', 'db-2', 'uid-db-2', { id: C, pid: 9, netnsPath: NS2 });
  return { ...w, node2, onDel: (fn: typeof del) => void (del = fn) };
}

const recorded = async (w: ReturnType<typeof laptop>) => fresh.records.listRecords(w.kube, 'kube-system');
const marks = (w: ReturnType<typeof laptop>) => [...w.node2.files.keys()].filter((k) => k.includes('/cni-attach/deleting/'));

describe('a detach whose DEL did not finish says so in the cluster\'s record', () => {
  it('refused by a plugin (exit 1): the record says detachStopped (failed); cni-list -A shows `detach stopped` with the cni-detach (before: attached, <none>); cni-gc from the laptop visits node-2 and finishes it; a detach that works writes nothing more', async () => {
    const w = laptop();
    expect(await w.cli(fresh.attach.attachCommand, [...POD, '--conf', '-']), w.stderr()).toBe(0);
    // a detach that works: its record goes, and no other write than that removal (no settle on its way)
    const writes = () => w.kube.configMapCalls.filter((c) => !c.startsWith('list')).length;
    let before = writes();
    expect(await w.cli(fresh.detach.detachCommand, POD), w.stderr()).toBe(0);
    expect(await recorded(w)).toEqual([]);
    expect(w.kube.configMapCalls.slice(before).filter((c) => !c.startsWith('list')).every((c) => c.startsWith('patch') || c.startsWith('delete'))).toBe(true);

    expect(await w.cli(fresh.attach.attachCommand, [...POD, '--conf', '-']), w.stderr()).toBe(0);
    w.onDel(() => ({ code: 1, stdout: JSON.stringify({ cniVersion: '1.0.0', code: 11, msg: 'DEL refused' }) }));
    before = writes();
    expect(await w.cli(fresh.detach.detachCommand, POD)).toBe(1);
    expect(w.stderr()).toMatch(/plugin bridge failed on DEL \(CNI error 11\): DEL refused; the record stays/);
    expect(writes() - before, 'one patch, on this failure\'s path').toBe(1);
    expect(marks(w)).toHaveLength(1);
    const [r] = await recorded(w);
    expect(r).toMatchObject({ pod: 'db-2', node: 'node-2', containerId: C, detachStopped: { command: 'cni-detach', at: expect.stringMatching(/Z$/), by: { host: expect.any(String), pid: process.pid }, failed: expect.stringContaining('DEL refused') } });

    // cni-list -A from the laptop (its cache holds nothing of it): the node's state, from the record
    expect(await w.cli(fresh.list.listCommand, ['-A'])).toBe(0);
    expect(w.stdout()).toMatch(/^shop\s+db-2\s+net1\s+net\s+198\.18\.0\.2\/24\s+detach stopped\s+\S+\s+cccccccccccc\s+its DEL failed part-way$/m);
    expect(w.stderr()).toMatch(/^note: to clear db-2 net1 \(detach stopped\): `kubectl cni-detach db-2 -n shop --ifname net1`$/m);
    expect(await w.cli(fresh.list.listCommand, ['-A', '-o', 'json'])).toBe(0);
    const item = (JSON.parse(w.stdout()) as { items: { pod: string; state: string; reason: string; clearCommand: string }[] }).items.find((i) => i.pod === 'db-2')!;
    expect(item.reason).toMatch(/^a cni-detach \(pid \d+ on this host \S+\) ran a DEL of it at \S+Z that failed \(plugin bridge failed on DEL \(CNI error 11\): DEL refused; the record stays\) on node node-2, and said so in its record: net1 in pod shop\/db-2 and its IPAM lease may remain if no DEL freed them; run cni-detach again to finish it \(DEL is idempotent\), or cni-gc, which finishes it there; `kubectl cni-list -n shop --node node-2` reads what node node-2 holds of it$/);
    expect(item.clearCommand).toBe('kubectl cni-detach db-2 -n shop --ifname net1');
    // --node reads node-2: the same state, from its mark
    expect(await w.cli(fresh.list.listCommand, ['-A', '--node', 'node-2'])).toBe(0);
    expect(w.stdout()).toMatch(/^shop\s+db-2\s+net1\s+.*detach stopped\s+.*its DEL failed part-way$/m);
    // the detach's dry run says that it would run that DEL again (before: only its plugin runs, as of an attachment no
    // DEL had touched), and changes nothing
    const files = [...w.node2.files.keys()].sort();
    expect(await w.cli(fresh.detach.detachCommand, [...POD, '--dry-run']), w.stderr()).toBe(0);
    expect(w.stderr()).toMatch(/^note: a cni-detach \(pid \d+ on this host \S+\) ran a DEL of it at \S+Z that failed \(plugin bridge failed on DEL \(CNI error 11\): DEL refused; the record stays\) \(network net\): this detach runs that DEL again, whole \(DEL is idempotent\)$/m);
    expect([...w.node2.files.keys()].sort()).toEqual(files);

    // cni-gc from the laptop (the pod lives): visits node-2 as the record says, and finishes the DEL there (before: no
    // record sent it there — "0 stale attachments, 0 alive, 1 kept")
    w.onDel(undefined);
    expect(await w.cli(fresh.gc.gcCommand, ['--dry-run']), w.stderr()).toBe(0);
    expect(w.stdout()).toMatch(/^would free net1 of pod shop\/db-2 \(network net\): a DEL of it did not finish \(a cni-detach or cni-gc stopped during it\) \(node node-2\)$/m);
    expect(await w.cli(fresh.gc.gcCommand, []), w.stderr()).toBe(0);
    expect(w.stdout()).toMatch(/^freed net1 of pod shop\/db-2 \(network net\): a DEL of it did not finish \(a cni-detach or cni-gc stopped during it\) \(node node-2\)$/m);
    expect(w.stdout()).toMatch(/^gc: freed 1 stale attachment, 0 alive$/m);
    expect(await recorded(w)).toEqual([]);
    expect(marks(w)).toEqual([]);
    expect([...w.node2.files.keys()].filter((k) => k.includes('/results/'))).toEqual([]);
  });

  it('stopped part-way by the user\'s SIGTERM (exit 143): the record says detachStopped (no failure); cni-list -A shows `DEL stopped part-way`, with the cni-detach that finishes it', async () => {
    const w = laptop();
    expect(await w.cli(fresh.attach.attachCommand, [...POD, '--conf', '-']), w.stderr()).toBe(0);
    w.onDel(() => (fresh.interrupt.interrupt('SIGTERM'), { code: null, interrupted: 'SIGTERM' }));
    expect(await w.cli(fresh.detach.detachCommand, POD)).toBe(143);
    expect(w.stderr().trim().split('\n').at(-1)).toBe("error: detach stopped by SIGTERM during plugin bridge's DEL (it was killed): the record stays: run the command again");
    const [r] = await recorded(w);
    expect(r!.detachStopped).toEqual({ command: 'cni-detach', at: expect.stringMatching(/Z$/), by: expect.objectContaining({ pid: process.pid }) });
    expect(await w.cli(fresh.list.listCommand, ['-A'])).toBe(0);
    expect(w.stdout()).toMatch(/^shop\s+db-2\s+net1\s+.*detach stopped\s+.*DEL stopped part-way$/m);
    expect(w.stderr()).toMatch(/^note: to clear db-2 net1 \(detach stopped\): `kubectl cni-detach db-2 -n shop --ifname net1`$/m);
    expect(marks(w)).toHaveLength(1);
  });

  it('a batch (-l) stopped by SIGTERM during a pod\'s DEL: that pod\'s record says detachStopped, the pods not started keep theirs as they were', async () => {
    const w = laptop();
    w.kube.add(fresh.kube.makePod({ name: 'db-3', namespace: 'shop', uid: 'uid-db-3', node: 'node-2', labels: { app: 'db' } }));
    w.runtime.add('shop', 'db-3', 'uid-db-3', { id: 'd'.repeat(64), pid: 10, netnsPath: '/proc/10/ns/net' });
    w.node2.netns.add('/proc/10/ns/net');
    w.kube.pods.delete('shop/db-1');
    const BATCH = ['-l', 'app=db', '-n', 'shop', '--ifname', 'net1', '--parallel', '1'];
    expect(await w.cli(fresh.attach.attachCommand, [...BATCH, '--conf', '-']), w.stderr()).toBe(0);
    w.onDel(() => (fresh.interrupt.interrupt('SIGTERM'), { code: null, interrupted: 'SIGTERM' }));
    expect(await w.cli(fresh.detach.detachCommand, BATCH)).toBe(143);
    expect(w.stdout()).toMatch(/; stopped by SIGTERM: 1 stopped, still recorded \(run the command again\) \(shop\/db-2\), 1 not started \(shop\/db-3\)/);
    expect((await recorded(w)).map((x) => [x.pod, !!x.detachStopped]).sort()).toEqual([['db-2', true], ['db-3', false]]);
  });
});

describe('validateRecord: detachStopped', () => {
  const good = { kind: 'cniAttachRecordV1', namespace: 'shop', pod: 'db-2', uid: 'u', node: 'node-2', ifname: 'net1', network: 'net', containerId: C, since: '2026-12-01T00:00:00Z' };
  const check = (v: Record<string, unknown>) => fresh.records.validateRecord('cni-attach-node-node-2', fresh.records.recordKey(C, 'net1'), JSON.stringify(v));
  const stop = { command: 'cni-detach', at: '2026-12-01T00:01:00Z', by: { host: 'laptop', pid: 7, start: '99' } };
  it('kept as written; each field by its rule; never with attaching or interrupted', () => {
    expect(check({ ...good, detachStopped: stop })).toEqual({ record: expect.objectContaining({ detachStopped: stop }) });
    expect(check({ ...good, detachStopped: { ...stop, failed: 'plugin x failed on DEL' } })).toEqual({ record: expect.objectContaining({ detachStopped: { ...stop, failed: 'plugin x failed on DEL' } }) });
    const why = (v: unknown) => (check({ ...good, detachStopped: v }) as { invalid?: { why: string } }).invalid?.why;
    expect(why('yes')).toBe('its detachStopped is "yes", not an object');
    expect(why({ ...stop, command: 'rm' })).toBe('its detachStopped.command "rm" is not cni-detach');
    expect(why({ ...stop, at: 'now' })).toBe('its detachStopped.at "now" is not an RFC 3339 time');
    expect(why({ ...stop, by: { host: 'laptop', pid: 0 } })).toBe('its detachStopped.by.pid 0 is not a process id');
    expect(why({ ...stop, failed: 'a\u001b[2Jb' })).toMatch(/^its detachStopped.failed is not a plugin's error/);
    expect(why({ ...stop, extra: 1 })).toBe('its detachStopped has a field "extra" it does not know');
    expect((check({ ...good, interrupted: true, addresses: [], detachStopped: stop }) as { invalid: { why: string } }).invalid.why).toBe('it is marked interrupted and detachStopped');
  });
});
