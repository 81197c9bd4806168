/**
 * cni-gc and cni-list beside a cni-attach or cni-detach of the same attachments (tryout 9, findings 3 and 4): what they
 * judge from reads taken at different moments — a node's cache, then its sandboxes' links and its locks; the cluster's
 * records, then a node's cache — is read again where the other command's write order could make it false. Each test
 * lands the other command's step between two of gc's reads, as the fakes let it (a hook on the read that comes next).
 */
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { gcCommand } from '../../src/cli/gc.js';
import { listCommand } from '../../src/cli/list.js';
import { lockPath, ResultCache } from '../../src/cni/cache.js';
import { BatchingExecutor } from '../../src/exec/batch.js';
import { thisHost } from '../../src/exec/host.js';
import { addAttachingRecord, addRecord, attachmentRecord, listRecords, recordKey, recordsReadAfter, removeRecords, type AttachmentRecord } from '../../src/resolve/records.js';
import { bridgeResult, FakeExecutor, fakeOwner } from '../fakes/executor.js';
import { FakeKube, makePod } from '../fakes/kube.js';
import { NETNS, SANDBOX, world } from '../fakes/world.js';

const A = 'a'.repeat(64);
const conf = Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64');
const RESULT = `/var/lib/cni/results/net-${A}-net1`;
const INTENT = `/var/lib/cni/cni-attach/intents/net-${A}-net1`;
const MARK = `/var/lib/cni/cni-attach/deleting/net-${A}-net1`;
const LOCK = lockPath('/var/lib/cni', A, 'net1');

/** db-4's net1 on node-2 as the node holds it: its result, or its intent alone. */
const entryText = (intent = false) =>
  JSON.stringify({ kind: 'cniCacheV1', containerId: A, config: conf, ifName: 'net1', networkName: 'net', netns: '/proc/9/ns/net', cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'db-4'], ['K8S_POD_UID', 'uid-db-4']], ...(intent ? {} : { result: bridgeResult('net1', '/proc/9/ns/net') }) });

const db4 = { namespace: 'shop', pod: 'db-4', uid: 'uid-db-4', node: 'node-2', ifname: 'net1', network: 'net', containerId: A };

/**
 * This host is a laptop (its cache empty); node-2 (reached through the runtime) runs db-4, whose sandbox A holds net1
 * (`links`), attached there (`held`: its result) and recorded in the cluster (`recorded`).
 */
async function setup(o: { held?: 'result' | 'intent'; recorded?: boolean } = {}) {
  const w = world();
  w.deps.hostname = () => 'laptop';
  const node2 = new FakeExecutor();
  node2.addPlugin('/opt/cni/bin/bridge', () => ({}));
  w.runtime.nodeExecutor = async (n: string) => (n === 'node-2' ? node2 : undefined);
  w.kube.add(makePod({ name: 'db-4', namespace: 'shop', uid: 'uid-db-4', node: 'node-2' }));
  w.runtime.add('shop', 'db-4', 'uid-db-4', { id: A, pid: 9, netnsPath: '/proc/9/ns/net', links: ['lo', 'eth0', 'net1'] });
  if ((o.held ?? 'result') === 'result') node2.files.set(RESULT, entryText());
  else node2.files.set(INTENT, entryText(true));
  if (o.recorded ?? true) await addRecord(w.kube, 'kube-system', attachmentRecord(db4, { result: bridgeResult('net1', '/proc/9/ns/net') }));
  return { ...w, node2 };
}

/** db-4's sandbox as its next look-up on node-2 reads it: `links`, after `step` (what another command did just before). */
function beforeLookUp(w: Awaited<ReturnType<typeof setup>>, links: string[], step: () => Promise<void> | void): void {
  const find = w.runtime.findSandbox.bind(w.runtime);
  let done = false;
  w.runtime.findSandbox = async (ref) => {
    const sb = await find(ref);
    if (!sb || ref.name !== 'db-4') return sb;
    if (!done) (done = true, await step());
    return { ...sb, links };
  };
}

/** The holder a live command of this host writes into a lock on a node (exec/lock.ts): this process, 70 s limit. */
const liveHolder = async () => `${thisHost.host} ${process.pid} ${(await thisHost.start())!} limit=70s\n`;

describe('cni-gc beside a running cni-detach of the same node (tryout 9, F3: "deleted outside cni-attach" of what that detach was deleting)', () => {
  it('its DEL lands between gc\'s read of the node\'s cache and its look-up of the sandbox, and it finishes (entry, mark, then record removed): not `interface gone` — nothing said, nothing counted', async () => {
    const w = await setup();
    beforeLookUp(w, ['lo', 'eth0'], async () => {
      // the detach: its mark, its DEL (the link goes), its result and mark removed, then its record
      w.node2.files.set(MARK, JSON.stringify({ kind: 'cniAttachDeletingV1', command: 'cni-detach', at: '2026-12-02T05:00:00Z', host: thisHost.host, pid: process.pid }));
      w.node2.files.delete(RESULT);
      w.node2.files.delete(MARK);
      await removeRecords(w.kube, 'kube-system', 'node-2', [{ containerId: A, ifname: 'net1' }]);
    });
    expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
    // before: "note: net1 of pod shop/db-4 (network net) is not counted alive: net1 is not in the network namespace of
    // sandbox aaaaaaaaaaaa on node node-2 any more: deleted outside cni-attach (no DEL of ours was under way); its IPAM
    // lease is still held …" and "1 interface gone (cni-detach frees its lease)"
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive\n');
    expect(w.stderr()).toBe('');
    expect(w.node2.calls.filter((c) => c.command === 'DEL')).toEqual([]);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
  });

  it('its DEL still under way when gc reads the entry again (its mark there, its lock held by its live command): a DEL running, attached until it ends — not `interface gone`', async () => {
    const w = await setup();
    const holder = await liveHolder();
    beforeLookUp(w, ['lo', 'eth0'], () => {
      w.node2.files.set(LOCK, holder);
      w.node2.files.set(MARK, JSON.stringify({ kind: 'cniAttachDeletingV1', command: 'cni-detach', at: '2026-12-02T05:00:00Z', host: thisHost.host, pid: process.pid }));
    });
    expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
    // before: "… deleted outside cni-attach (no DEL of ours was under way) …", "0 alive, 1 interface gone"
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 1 alive\n');
    expect(w.stderr()).not.toMatch(/interface gone|deleted outside/);
    expect(w.node2.files.has(RESULT)).toBe(true);
  });

  it('an interface really deleted outside cni-attach (the same entry, no mark, when read again) is still `interface gone`', async () => {
    const w = await setup();
    let reads = 0;
    const listDir = w.node2.listDir.bind(w.node2);
    w.node2.listDir = async (path) => (path.endsWith('/results') && reads++, listDir(path));
    beforeLookUp(w, ['lo', 'eth0'], () => undefined);
    expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive, 1 interface gone (cni-detach frees its lease)\n');
    expect(w.stderr()).toMatch(/^note: net1 of pod shop\/db-4 \(network net\) is not counted alive: net1 is not in the network namespace of sandbox a{12} on node node-2 any more: deleted outside cni-attach/m);
    // the cache once, and its entry again after the look-up
    expect(reads).toBe(2);
  });

  it('an attach that finishes between gc\'s read of its intent and its look at the lock (its command still running, before its settle): not interrupted — never a DEL of what it just attached', async () => {
    const w = await setup({ held: 'intent', recorded: false });
    await addAttachingRecord(w.kube, 'kube-system', { ...db4, containerId: '', since: '2026-12-02T05:00:00Z', addresses: [], by: { host: thisHost.host, pid: process.pid, start: (await thisHost.start())! } });
    const readFile = w.node2.readFile.bind(w.node2);
    let finished = false;
    w.node2.readFile = async (path) => {
      if (path === LOCK && !finished) {
        // the attach: its ADD returned, its result written, its intent removed, its lock released
        finished = true;
        w.node2.files.set(RESULT, entryText());
        w.node2.files.delete(INTENT);
      }
      return readFile(path);
    };
    expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
    // before: "freed net1 of pod shop/db-4 (network net): an attach of it was interrupted (node node-2)", its DEL run
    expect(w.stdout()).not.toMatch(/freed net1/);
    expect(w.node2.calls.filter((c) => c.command === 'DEL')).toEqual([]);
    expect(w.node2.files.has(RESULT)).toBe(true);
    // its record is its command's to settle: left, busy
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive, 1 busy (left for a later run)\n');
    expect((await listRecords(w.kube, 'kube-system')).map((r) => !!r.attaching)).toEqual([true]);
  });

  it('cni-list --node: a DEL running when the mark is read and finished before the lock is: not `detach stopped`', async () => {
    const w = await setup();
    w.node2.files.set(MARK, JSON.stringify({ kind: 'cniAttachDeletingV1', command: 'cni-detach', at: '2026-12-02T05:00:00Z', host: thisHost.host, pid: process.pid }));
    const readFile = w.node2.readFile.bind(w.node2);
    let finished = false;
    w.node2.readFile = async (path) => {
      if (path === LOCK && !finished) {
        finished = true;
        w.node2.files.delete(RESULT);
        w.node2.files.delete(MARK);
      }
      return readFile(path);
    };
    expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2', '-o', 'json'])).toBe(0);
    const row = (JSON.parse(w.stdout()) as { items: { pod: string; state: string; reason?: string }[] }).items.find((i) => i.pod === 'db-4')!;
    // before: "detach stopped", "a cni-detach … stopped during its DEL of it …; run cni-detach again to finish it"
    expect(row.state).not.toBe('detach stopped');
    // what the node holds now: nothing, while the record (listed first) is still there
    expect(row).toMatchObject({ state: 'mismatched', reason: expect.stringContaining("but node node-2's cache holds nothing of it (no result, no intent)") });
  });

  it('cni-list --node: a detach finished whole (its entry, then its record) between the list of the records and the node\'s read: no row, not `mismatched` (tryout 10: the last pod done on each node of a running cni-detach -l, 4 of 4)', async () => {
    const w = await setup();
    beforeLookUp(w, ['lo', 'eth0'], async () => {
      w.node2.files.delete(RESULT);
      await removeRecords(w.kube, 'kube-system', 'node-2', [{ containerId: A, ifname: 'net1' }]);
    });
    expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2', '-o', 'json']), w.stderr()).toBe(0);
    // before: a row `mismatched`, "node holds nothing of it", with a cni-detach to run
    expect((JSON.parse(w.stdout()) as { items: { pod: string }[] }).items.map((i) => i.pod), w.stdout()).not.toContain('db-4');
    // a record that stays while its node holds nothing is still said so
    const kept = await setup();
    beforeLookUp(kept, ['lo', 'eth0'], () => void kept.node2.files.delete(RESULT));
    expect(await kept.cli(listCommand, ['-n', 'shop', '--node', 'node-2', '-o', 'json']), kept.stderr()).toBe(0);
    expect((JSON.parse(kept.stdout()) as { items: { pod: string; state: string }[] }).items.find((i) => i.pod === 'db-4')).toMatchObject({ state: 'mismatched' });
  });
});

describe('cni-gc and cni-list on this host beside a cni-detach of it (tryout 9, F3)', () => {
  it('the DEL lands between the read of the cache and the look for the link: nothing said of it, no row', async () => {
    const w = world();
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    const result = `/var/lib/cni/results/net-${SANDBOX}-eth1`;
    expect(w.exec.files.has(result)).toBe(true);
    const detachOnLook = () => {
      let done = false;
      w.exec.tools.set('nsenter', async (argv) => {
        if (!done) {
          // a cni-detach of this host: its DEL (the link goes), its result removed, then its record
          done = true;
          w.exec.links.get(NETNS)?.delete('eth1');
          w.exec.files.delete(result);
          await removeRecords(w.kube, 'kube-system', 'node-1', [{ containerId: SANDBOX, ifname: 'eth1' }]);
        }
        const dev = argv[argv.length - 1]!;
        return w.exec.links.get(NETNS)?.has(dev) ? { stdout: `2: ${dev}: <UP>` } : { code: 1, stderr: `Device "${dev}" does not exist.` };
      });
    };
    detachOnLook();
    expect(await w.cli(gcCommand, [])).toBe(0);
    // before: "note: eth1 of pod shop/web-1 (network net) is not counted alive: eth1 is not in /proc/4242/ns/net any
    // more: deleted outside cni-attach (no DEL of ours was under way) …", "1 interface gone"
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive\n');
    expect(w.stderr()).toBe('');

    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    detachOnLook();
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'json'])).toBe(0);
    // before: a row `interface gone`, "deleted outside cni-attach …"
    expect((JSON.parse(w.stdout()) as { items: { ifname: string }[] }).items.map((i) => i.ifname)).not.toContain('eth1');
  });

  it('a detach (its entry, then its record) between gc\'s read of the cache and its list of the records: not recorded again as "attached there without a record"', async () => {
    const w = world();
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    const list = w.kube.listConfigMaps.bind(w.kube);
    let done = false;
    w.kube.listConfigMaps = async (ns, sel) => {
      if (!done) {
        done = true;
        w.exec.files.delete(`/var/lib/cni/results/net-${SANDBOX}-eth1`);
        w.exec.links.get(NETNS)?.delete('eth1');
        await removeRecords(w.kube, 'kube-system', 'node-1', [{ containerId: SANDBOX, ifname: 'eth1' }]);
      }
      return list(ns, sel);
    };
    expect(await w.cli(gcCommand, [])).toBe(0);
    // before: "recorded eth1 of pod shop/web-1 (network net) on node node-1: attached there without a record …", and
    // a record of what the detach had just removed
    expect(w.stdout()).not.toMatch(/record/);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
  });
});

describe('cni-gc beside a running cni-attach of a node it visits (tryout 9, F4: "attached there without a record")', () => {
  it('an attach whose write-ahead comes after gc listed the records and before it read the node: not recorded by gc', async () => {
    const w = await setup({ held: 'intent', recorded: false });
    w.node2.files.delete(INTENT);
    const listDir = w.node2.listDir.bind(w.node2);
    let begun = false;
    w.node2.listDir = async (path) => {
      if (!begun) {
        // the attach: its write-ahead in the cluster, then (on the node) its ADD and its result
        begun = true;
        await addAttachingRecord(w.kube, 'kube-system', { ...db4, containerId: '', since: '2026-12-02T05:00:00Z', addresses: [], by: { host: thisHost.host, pid: process.pid, start: (await thisHost.start())! } });
        w.node2.files.set(RESULT, entryText());
      }
      return listDir(path);
    };
    expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
    // before: "recorded net1 of pod shop/db-4 (network net) on node node-2: attached there without a record in
    // namespace kube-system (--agent-namespace)", "1 record added"
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive\n');
    expect((await listRecords(w.kube, 'kube-system')).map((r) => !!r.attaching)).toEqual([true]);
  });

  it('a record whose node holds nothing, removed by its detach after gc read the node: not "forgot the record" by gc', async () => {
    const w = await setup();
    w.node2.files.delete(RESULT); // the detach's DEL ran, its entry removed; its record not yet
    const listDir = w.node2.listDir.bind(w.node2);
    let done = false;
    w.node2.listDir = async (path) => {
      if (!done) (done = true, await removeRecords(w.kube, 'kube-system', 'node-2', [{ containerId: A, ifname: 'net1' }]));
      return listDir(path);
    };
    expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
    // before: "forgot the record of net1 of pod shop/db-4 (network net) on node node-2: the node holds nothing of it"
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive\n');
    // one that stays after the node was read is forgotten, as before
    await addRecord(w.kube, 'kube-system', attachmentRecord(db4, { result: bridgeResult('net1', '/proc/9/ns/net') }));
    expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
    expect(w.stdout()).toBe('forgot the record of net1 of pod shop/db-4 (network net) on node node-2: the node holds nothing of it\ngc: freed 0 stale attachments, 0 alive, 1 record removed\n');
  });
});

describe('recordsReadAfter', () => {
  it('each answer comes from a list sent after it was asked; asks while a list is on its way share the next one', async () => {
    const kube = new FakeKube();
    const rec = (ifname: string): AttachmentRecord => ({ ...db4, ifname, since: '2026-12-02T05:00:00Z', addresses: [] });
    await addRecord(kube, 'kube-system', rec('net1'));
    let release: () => void = () => undefined;
    const list = kube.listConfigMaps.bind(kube);
    let lists = 0;
    kube.listConfigMaps = async (ns, sel) => {
      lists++;
      // read by the server when sent; the first answer arrives only once released: asks meanwhile wait for the next
      const answer = await list(ns, sel);
      if (lists === 1) await new Promise<void>((r) => (release = r));
      return answer;
    };
    const read = recordsReadAfter(kube, 'kube-system');
    const first = read();
    await new Promise((r) => setImmediate(r));
    // written after the first list was sent: the asks after it see it
    await addRecord(kube, 'kube-system', rec('net2'));
    const second = read();
    const third = read();
    expect(second).toBe(third);
    release();
    expect((await first).map((r) => r.ifname)).toEqual(['net1']);
    expect((await second).map((r) => r.ifname).sort()).toEqual(['net1', 'net2']);
    expect(lists).toBe(2);
    expect(recordKey(A, 'net1')).toBe(`${A}.6e657431`);
  });
});

describe('ResultCache.findNow', () => {
  it('on a node reached by commands: what the node holds now, not the session\'s snapshot, in one round trip', async () => {
    const node = new FakeExecutor().emulateShell();
    const session = new BatchingExecutor(node);
    const cache = new ResultCache(session, '/var/lib/cni', fakeOwner());
    node.files.set(RESULT, entryText());
    node.files.set(MARK, JSON.stringify({ kind: 'cniAttachDeletingV1', command: 'cni-detach', at: '2026-12-02T05:00:00Z', host: 'h', pid: 1 }));
    expect((await cache.find(A, 'net1')).map((f) => !!f.deleting)).toEqual([true]);
    // read ahead once (as a look-up's round trip brings it): find answers from that snapshot
    session.readAhead({ dirs: cache.readAheadFor('net1') });
    expect(await cache.find(A, 'net1')).toHaveLength(1);
    node.files.delete(MARK);
    node.files.delete(RESULT);
    expect(await cache.find(A, 'net1')).toHaveLength(1);
    const before = node.ran.length;
    expect(await cache.findNow(A, 'net1')).toEqual([]);
    expect(node.ran.length - before).toBe(1);
    node.files.set(RESULT, entryText());
    expect((await cache.findNow(A, 'net1')).map((f) => [f.entry.ifName, !!f.deleting])).toEqual([['net1', false]]);
  });
});
