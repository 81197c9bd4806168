/**
 * One write-ahead record, three views that agree (tryout 9, finding 6): an attach of this host quit (its command gone)
 * while what it started on node-2 still runs there under its lock. Before, `cni-list -A` said `unsettled … its command
 * is gone` with a `cni-gc` to run, `cni-list --node` said `attaching … its command gone; free in 66s`, and the `cni-gc`
 * pasted left it alone (`its lock is free in 52s`) with no word of when it could act. Now -A says when cni-gc can act
 * (by the time bound the attach recorded, at latest), in words related to --node's, and gc's "left alone" line names
 * the time its lock is free.
 */
import { describe, expect, it } from 'vitest';
import { gcCommand } from '../../src/cli/gc.js';
import { listCommand } from '../../src/cli/list.js';
import { addAttachingRecord, type AttachmentRecord } from '../../src/resolve/records.js';
import { lockPath } from '../../src/cni/cache.js';
import { thisHost } from '../../src/exec/host.js';
import { isoSecond } from '../../src/duration.js';
import { FakeExecutor } from '../fakes/executor.js';
import { makePod } from '../fakes/kube.js';
import { world } from '../fakes/world.js';

const C = 'c'.repeat(64);
const conf = Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64');

describe('an unsettled write-ahead whose command of this host is gone while its node still holds its lock', () => {
  it('cni-list -A says when cni-gc can act (by its recorded bound), --node says when the lock is free, cni-gc leaves it saying at what time', async () => {
    const w = world();
    w.deps.hostname = () => 'laptop';
    const node2 = new FakeExecutor();
    node2.addPlugin('/opt/cni/bin/bridge', () => ({}));
    w.runtime.nodeExecutor = async (n: string) => (n === 'node-2' ? node2 : undefined);
    w.kube.add(makePod({ name: 'db-2', namespace: 'shop', uid: 'uid-db-2', node: 'node-2' }));
    w.runtime.add('shop', 'db-2', 'uid-db-2', { id: C, pid: 9, netnsPath: '/proc/9/ns/net' });
    // the attach: this host's, its command gone (the same pid, another start: a reused pid), its bound 5 minutes away
    const start = (await thisHost.start())!;
    const gone = { host: thisHost.host, pid: process.pid, start: `${start}0` };
    const until = isoSecond(Date.now() + 300_000);
    const since = isoSecond(Date.now() - 20_000);
    await addAttachingRecord(w.kube, 'kube-system', { namespace: 'shop', pod: 'db-2', uid: 'uid-db-2', node: 'node-2', ifname: 'net1', network: 'net', containerId: '', since, addresses: [], by: gone, until } as AttachmentRecord);
    // node-2 holds its intent and its lock: what it started there may run 66s more (a limit of 70s, changed 4s ago)
    const intent = { kind: 'cniCacheV1', containerId: C, config: conf, ifName: 'net1', networkName: 'net', netns: '/proc/9/ns/net', cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'db-2'], ['K8S_POD_UID', 'uid-db-2']] };
    node2.files.set(`/var/lib/cni/cni-attach/intents/net-${C}-net1`, JSON.stringify(intent));
    const lock = lockPath('/var/lib/cni', C, 'net1');
    node2.files.set(lock, `${gone.host} ${gone.pid} ${gone.start} limit=70s\n`);
    node2.ages.set(lock, 4000);

    // -A, from the record: unsettled, and when cni-gc can act on it (before: "its command is gone (pid …)", run cni-gc)
    expect(await w.cli(listCommand, ['-A'])).toBe(0);
    expect(w.stdout()).toMatch(/^shop\s+db-2\s+net1\s+net\s+<none>\s+unsettled\s+no\s+its command gone; free within (4m5\d|5m0)s$/m);
    expect(w.stderr()).toContain(`note: to clear the record in state unsettled: \`kubectl cni-gc\` (it acts on it once its node's lock of that attach is free: by ${until} at latest; \`kubectl cni-list -n shop --node node-2\` shows what their nodes hold of them)\n`);
    expect(await w.cli(listCommand, ['-A', '-o', 'json'])).toBe(0);
    const [item] = (JSON.parse(w.stdout()) as { items: { state: string; reason: string; clearCommand: string }[] }).items;
    expect(item!.reason).toMatch(new RegExp(`; cni-gc acts on it once node node-2's lock of that attach is free \\(what its command started there may run until its time limit, and cni-gc leaves it busy until then\\): by ${until} at latest, the time bound the attach recorded$`));
    expect(item!.clearCommand).toBe('kubectl cni-gc');
    // --node, from node-2: the same words' family ("its command gone; free in 66s")
    expect(await w.cli(listCommand, ['-A', '--node', 'node-2'])).toBe(0);
    expect(w.stdout()).toMatch(/^shop\s+db-2\s+net1\s+.*\s+attaching\s+no\s+\S*\s*its command gone; free in 66s$/m);
    // cni-gc: left alone, its lock free at a time said (before: "its lock is free in 66s" alone)
    const at = Date.now() + 66_000;
    expect(await w.cli(gcCommand, []), w.stderr()).toBe(0);
    const free = /its lock is free in 66s, at (\S+Z): a cni-gc from then on acts on it\); a later cni-gc looks at it again$/m.exec(w.stderr());
    expect(free, w.stderr()).not.toBeNull();
    expect(Math.abs(Date.parse(free![1]!) - at)).toBeLessThan(3000);
    // (the fake node's executor names no node; "this host" is the laptop here, not the process's host name)
    expect(w.stderr()).toMatch(new RegExp(`^note: left net1 of pod shop/db-2 \\(network net\\) alone: its command \\(pid ${process.pid} on host ${thisHost.host}\\) is gone, but what it started may run until its time limit ends \\(its lock is free in 66s, at `, 'm'));
    expect(w.stdout()).toMatch(/^gc: freed 0 stale attachments, 0 alive, 1 busy \(left for a later run\)$/m);
  });
});
