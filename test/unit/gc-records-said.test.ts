/**
 * Every record cni-gc removes is said — a line (`forgot the record of …`; `--dry-run`: `would forget`), the summary's
 * count, `records.removed` in -o json — and a record of another agent namespace whose attachment gc freed goes too
 * (tryout 9, findings 1 and 2). Before, gc forgot a gone pod's record whose node held nothing of it without a word (an
 * attach with --agent-namespace X detached with the default; the DELs a gc quit by a second SIGINT had run), and a gc
 * of namespace A that freed an attachment recorded in B left B's record saying it was there.
 */
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { detachCommand } from '../../src/cli/detach.js';
import { gcCommand } from '../../src/cli/gc.js';
import { listCommand } from '../../src/cli/list.js';
import { ApiStatusError } from '../../src/errors.js';
import { thisHost } from '../../src/exec/host.js';
import { addAttachingRecord, addRecord, listRecords, type AttachmentRecord } from '../../src/resolve/records.js';
import { NETWORK_STATUS } from '../../src/resolve/network-status.js';
import { bridgeResult, FakeExecutor } from '../fakes/executor.js';
import { FakeKube, makePod } from '../fakes/kube.js';
import { world } from '../fakes/world.js';

const attach = (ifname: string, ...more: string[]) => ['web-1', '-n', 'shop', '--ifname', ifname, '--conf', '-', ...more];
const detach = (ifname: string, ...more: string[]) => ['web-1', '-n', 'shop', '--ifname', ifname, ...more];
const C = 'c'.repeat(64);
const D = 'd'.repeat(64);
const conf = Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64');
const hex = (ifname: string) => Buffer.from(ifname).toString('hex');

/** A record on node-2 of pod shop/`pod`, as an attach writes it. */
const rec = (o: Partial<AttachmentRecord> = {}): AttachmentRecord => ({
  namespace: 'shop', pod: 'db-1', uid: 'uid-db-1', node: 'node-2', ifname: 'net1', network: 'net', containerId: C, since: '2026-12-01T00:00:00Z', addresses: ['198.18.0.2/24'], ...o,
});

/** The fake world seen from a laptop, with a node-2 reached through the runtime (its own cache and plugins), and a live pod shop/db-2 there. */
function laptopAndNode2() {
  const w = world();
  w.kube.pods.clear();
  w.runtime.sandboxes.clear();
  const node2 = new FakeExecutor();
  node2.addPlugin('/opt/cni/bin/bridge', () => ({}));
  w.runtime.nodeExecutor = async (n: string) => (n === 'node-2' ? node2 : undefined);
  w.kube.add(makePod({ name: 'db-2', namespace: 'shop', uid: 'uid-db-2', node: 'node-2', annotations: { [NETWORK_STATUS]: JSON.stringify([{ name: 'net', interface: 'net1' }]) } }));
  w.runtime.add('shop', 'db-2', 'uid-db-2', { id: D, pid: 9, netnsPath: '/proc/9/ns/net' });
  w.deps.hostname = () => 'laptop';
  /** An entry on node-2 of pod shop/`pod` under `id`, as an attach recording in agent namespace `ns` writes it. */
  const put = (pod: string, id: string, ifname: string, ns = 'kube-system') => {
    const entry = { kind: 'cniCacheV1', containerId: id, config: conf, ifName: ifname, networkName: 'net', netns: '/proc/9/ns/net', cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', pod], ['K8S_POD_UID', `uid-${pod}`]], result: bridgeResult(ifname, '/proc/9/ns/net'), cniAttachRecordsNamespace: ns };
    node2.files.set(`/var/lib/cni/results/net-${id}-${ifname}`, JSON.stringify(entry));
  };
  return { ...w, node2, put };
}

const dels = (node: FakeExecutor) => node.calls.filter((c) => c.command === 'DEL').map((c) => `${c.env.CNI_CONTAINERID!.slice(0, 1)}/${c.env.CNI_IFNAME}`);
const ifnames = async (kube: FakeKube, ns: string) => (await listRecords(kube, ns)).map((r) => `${r.pod}/${r.ifname}`).sort();

describe('cni-gc says every record it forgets (tryout 9, F1)', () => {
  it('the finding\'s repro: attach with --agent-namespace x, detach with the default, the pod deleted: gc with x says it forgets that record — line, dry run, summary, -o json (before: nothing said, records.removed [])', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attach('z1', '--agent-namespace', 'x'))).toBe(0);
    // the detach with the default namespace now removes the record in x too (its entry names x); the record an earlier
    // version's detach left there is put back, as the tester met it
    const left = structuredClone(w.kube.configMaps.get('x/cni-attach-node-node-1')!);
    expect(await w.cli(detachCommand, detach('z1'))).toBe(0);
    expect(w.stderr()).toMatch(/^note: removed the record of z1 of pod shop\/web-1 in namespace x too /m);
    expect(await ifnames(w.kube, 'x')).toEqual([]);
    w.kube.configMaps.set('x/cni-attach-node-node-1', left);
    w.kube.pods.clear();
    w.runtime.sandboxes.clear();
    expect(await ifnames(w.kube, 'x')).toEqual(['web-1/z1']);
    const line = 'the record of z1 of pod shop/web-1 (network net) on node node-1: its pod is gone, and node node-1 holds nothing of it (no result, no intent): nothing left to free there';

    expect(await w.cli(gcCommand, ['--agent-namespace', 'x', '--dry-run'])).toBe(0);
    expect(w.stdout()).toBe(`would forget ${line}\ngc: would free 0 stale attachments, 0 alive, 1 record to remove\n`);
    expect(await ifnames(w.kube, 'x')).toEqual(['web-1/z1']);
    expect(await w.cli(gcCommand, ['--agent-namespace', 'x', '--dry-run', '-o', 'json'])).toBe(0);
    expect(JSON.parse(w.stdout()).records.removed).toEqual([expect.objectContaining({ target: 'pod shop/web-1', node: 'node-1', ifname: 'z1', why: expect.stringMatching(/^its pod is gone, and node node-1 holds nothing of it/) })]);

    expect(await w.cli(gcCommand, ['--agent-namespace', 'x', '-o', 'json'])).toBe(0);
    const out = JSON.parse(w.stdout()) as { dryRun: boolean; freed: unknown[]; records: { removed: { target: string; ifname: string; why: string }[] } };
    expect(out.freed).toEqual([]);
    expect(out.records.removed.map((r) => [r.target, r.ifname, r.why])).toEqual([['pod shop/web-1', 'z1', line.replace(/^.*node-1: /, '')]]);
    expect(await listRecords(w.kube, 'x')).toEqual([]);
    // nothing left: nothing said
    expect(await w.cli(gcCommand, ['--agent-namespace', 'x'])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive\n');
  });

  it('a gone pod\'s records on another node whose DELs ran (a gc quit by a second SIGINT after them): the next gc says each it forgets', async () => {
    const w = laptopAndNode2();
    // the DEL of db-1's net1 and net2 ran on node-2 (their entries gone), their records stayed
    await addRecord(w.kube, 'kube-system', rec());
    await addRecord(w.kube, 'kube-system', rec({ ifname: 'net2' }));
    const said = (ifname: string) => `the record of ${ifname} of pod shop/db-1 (network net) on node node-2: its pod is gone, and node node-2 holds nothing of it (no result, no intent): nothing left to free there`;
    expect(await w.cli(gcCommand, ['--dry-run'])).toBe(0);
    expect(w.stdout()).toBe(`would forget ${said('net1')}\nwould forget ${said('net2')}\ngc: would free 0 stale attachments, 0 alive, 2 records to remove\n`);
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe(`forgot ${said('net1')}\nforgot ${said('net2')}\ngc: freed 0 stale attachments, 0 alive, 2 records removed\n`);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
    expect(dels(w.node2)).toEqual([]);
  });

  it('a removal that fails is not said as done: a note, the record kept, no count', async () => {
    const w = laptopAndNode2();
    await addRecord(w.kube, 'kube-system', rec());
    w.kube.patchConfigMapData = async () => {
      throw new ApiStatusError('patching configmap kube-system/cni-attach-node-node-2: the API server answered 403 (Forbidden)', 403, 'Forbidden', 'forbidden');
    };
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive\n');
    expect(w.stderr()).toMatch(/^note: the records of node node-2 could not be updated: .*403 \(Forbidden\)/m);
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
  });

  it('a gone pod\'s record whose entry went between gc\'s look and its DEL (another command removed it): forgotten, said, not counted freed', async () => {
    const w = laptopAndNode2();
    w.put('db-1', C, 'net1');
    await addRecord(w.kube, 'kube-system', rec());
    // the look-up of the deleted pod's sandbox comes between them: the entry goes then (a cni-detach elsewhere, say)
    const find = w.runtime.findSandbox.bind(w.runtime);
    w.runtime.findSandbox = async (ref, via) => {
      if (ref.name === 'db-1') w.node2.files.delete(`/var/lib/cni/results/net-${C}-net1`);
      return find(ref, via);
    };
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe([
      'forgot the record of net1 of pod shop/db-1 (network net) on node node-2: node node-2 holds nothing of it any more (removed there since this gc read it): nothing left to free there',
      'gc: freed 0 stale attachments, 0 alive, 1 record removed',
      '',
    ].join('\n'));
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
  });
});

describe('cni-gc frees an attachment recorded in another agent namespace: that record goes too', () => {
  it('another node: gc with --agent-namespace other frees a gone pod\'s attachment its attach recorded in kube-system, and removes that record in one patch — said, counted, -o json recordedIn; --dry-run says it would', async () => {
    const w = laptopAndNode2();
    w.put('db-1', C, 'net1');
    w.put('db-2', D, 'net1');
    await addRecord(w.kube, 'kube-system', rec());
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: D }));
    // a record of db-1 in `other` whose node holds nothing of it (what finding 1 left): forgotten, said
    await addRecord(w.kube, 'other', rec({ ifname: 'z1' }));
    const line = (verb: string) => `${verb} the record of net1 of pod shop/db-1 (network net) on node node-2 in namespace kube-system: ${verb === 'forgot' ? 'freed by this gc' : 'this gc would free it'}: its entry on the node said its attach records it in namespace kube-system (not other, this gc's --agent-namespace); left there, it would name an attachment that is gone`;
    const z1 = 'the record of z1 of pod shop/db-1 (network net) on node node-2: its pod is gone, and node node-2 holds nothing of it (no result, no intent): nothing left to free there';

    expect(await w.cli(gcCommand, ['--agent-namespace', 'other', '--dry-run']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe([
      'would free net1 of pod shop/db-1 (network net): the pod is gone (node node-2)',
      `would forget ${z1}`,
      line('would forget'),
      'gc: would free 1 stale attachment, 1 alive, 2 records to remove',
      '',
    ].join('\n'));
    expect(await ifnames(w.kube, 'kube-system')).toEqual(['db-1/net1', 'db-2/net1']);
    expect(dels(w.node2)).toEqual([]);

    w.kube.configMapCalls.length = 0;
    expect(await w.cli(gcCommand, ['--agent-namespace', 'other', '-o', 'json']), w.stderr()).toBe(0);
    const out = JSON.parse(w.stdout()) as { freed: { target: string }[]; records: { added: unknown[]; removed: Record<string, unknown>[] } };
    expect(out.freed.map((f) => f.target)).toEqual(['pod shop/db-1']);
    expect(out.records.added).toEqual([]);
    expect(out.records.removed).toEqual([
      expect.objectContaining({ target: 'pod shop/db-1', ifname: 'z1' }),
      { target: 'pod shop/db-1', node: 'node-2', ifname: 'net1', network: 'net', containerId: C, why: expect.stringMatching(/^freed by this gc: its entry on the node said its attach records it in namespace kube-system/), recordedIn: 'kube-system' },
    ]);
    expect(out.records.removed[0]).not.toHaveProperty('recordedIn');
    expect(dels(w.node2)).toEqual(['c/net1']);
    // one patch in kube-system, of that key alone; db-2's record (its pod lives) stays, and nothing is copied into other
    expect(w.kube.configMapCalls.filter((c) => c.includes('kube-system/'))).toEqual(['patch kube-system/cni-attach-node-node-2']);
    expect(await ifnames(w.kube, 'kube-system')).toEqual(['db-2/net1']);
    expect(await listRecords(w.kube, 'other')).toEqual([]);
  });

  it('the patch refused (403): a note saying so, with the exact kubectl patch that removes it (and nothing else); not said as forgotten; the attachment freed all the same (exit 0)', async () => {
    const w = laptopAndNode2();
    w.put('db-1', C, 'net1');
    w.put('db-1', C, 'net2');
    await addRecord(w.kube, 'kube-system', rec());
    await addRecord(w.kube, 'kube-system', rec({ ifname: 'net2' }));
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: D }));
    const patch = w.kube.patchConfigMapData.bind(w.kube);
    w.kube.patchConfigMapData = async (ns, name, data) => {
      if (ns === 'kube-system') throw new ApiStatusError(`patching configmap ${ns}/${name}: the API server answered 403 (Forbidden): configmaps "${name}" is forbidden`, 403, 'Forbidden', 'forbidden');
      return patch(ns, name, data);
    };
    // --node: no record of `other` names node-2
    expect(await w.cli(gcCommand, ['--agent-namespace', 'other', '--node', 'node-2', '--kubeconfig', 'kc.yaml']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe([
      'freed net1 of pod shop/db-1 (network net): the pod is gone (node node-2)',
      'freed net2 of pod shop/db-1 (network net): the pod is gone (node node-2)',
      'gc: freed 2 stale attachments, 0 alive',
      '',
    ].join('\n'));
    const keys = [`"${C}.${hex('net1')}":null`, `"${C}.${hex('net2')}":null`].join(',');
    const note = w.stderr().split('\n').find((l) => l.includes('could not be removed'))!;
    expect(note).toBe(
      'note: the records of 2 attachments on node node-2 (shop/db-1 net1, shop/db-1 net2) in namespace kube-system, where their attaches recorded them (their entries on the node said so), could not be removed ' +
        '(patching configmap kube-system/cni-attach-node-node-2: the API server answered 403 (Forbidden): configmaps "cni-attach-node-node-2" is forbidden; this user may not patch configmaps in namespace kube-system): ' +
        `they stay there, naming what this gc freed; \`kubectl patch configmap cni-attach-node-node-2 -n kube-system --type merge -p '{"data":{${keys}}}' --kubeconfig kc.yaml\` removes them and nothing else`,
    );
    expect(await ifnames(w.kube, 'kube-system')).toEqual(['db-1/net1', 'db-1/net2', 'db-2/net1']);
    // the command it names, as kubectl applies it (once it may), removes those two and nothing else
    w.kube.patchConfigMapData = patch;
    const m = /`kubectl patch configmap (\S+) -n (\S+) --type merge -p '([^']+)'/.exec(note)!;
    await w.kube.patchConfigMapData(m[2]!, m[1]!, (JSON.parse(m[3]!) as { data: Record<string, null> }).data);
    expect(await ifnames(w.kube, 'kube-system')).toEqual(['db-2/net1']);
  });

  it('this host: gc with another --agent-namespace frees a gone pod\'s attachment attached with the default, and removes its kube-system record (before: it stayed, `pod gone`, until a gc of kube-system forgot it without a word)', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attach('net1'))).toBe(0);
    w.kube.pods.clear();
    w.runtime.sandboxes.clear();
    expect(await w.cli(gcCommand, ['--agent-namespace', 'other'])).toBe(0);
    expect(w.stdout()).toBe([
      'freed net1 of pod shop/web-1 (network net): the pod is gone',
      'forgot the record of net1 of pod shop/web-1 (network net) on node node-1 in namespace kube-system: freed by this gc: its entry on the node said its attach records it in namespace kube-system (not other, this gc\'s --agent-namespace); left there, it would name an attachment that is gone',
      'gc: freed 1 stale attachment, 0 alive, 1 record removed',
      '',
    ].join('\n'));
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
    expect(await listRecords(w.kube, 'other')).toEqual([]);
    // a gc of kube-system then has nothing left to forget
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive\n');
  });
});

describe('cni-list\'s advice for a `pod gone` record of another agent namespace (tryout 9, F2)', () => {
  it('the cni-gc its note names clears the record, copies nothing into that namespace, and frees (with its kube-system record) what the gone pod held of the default namespace; after it, both lists are clear of the pod', async () => {
    const w = laptopAndNode2();
    // db-1: z1 attached with --agent-namespace t9 and detached with the default (its entry gone, its t9 record stays),
    // c3 attached with the default; db-2 (alive) has net1 recorded in kube-system — what that gc copied into t9
    await addRecord(w.kube, 't9', rec({ ifname: 'z1' }));
    w.put('db-1', C, 'c3');
    await addRecord(w.kube, 'kube-system', rec({ ifname: 'c3' }));
    w.put('db-2', D, 'net1');
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: D }));

    expect(await w.cli(listCommand, ['-A', '--agent-namespace', 't9'])).toBe(0);
    expect(w.stdout()).toMatch(/^shop\s+db-1\s+z1\s+net\s+198\.18\.0\.2\/24\s+pod gone\s/m);
    const note = w.stderr().split('\n').find((l) => l.startsWith('note: to clear'))!;
    expect(note).toBe('note: to clear the record in state pod gone: `kubectl cni-gc --agent-namespace t9`');
    const command = /`kubectl cni-gc ([^`]*)`/.exec(note)![1]!.split(' ');

    // exactly that command
    expect(await w.cli(gcCommand, command), w.stderr()).toBe(0);
    expect(w.stdout()).toBe([
      'freed c3 of pod shop/db-1 (network net): the pod is gone (node node-2)',
      'forgot the record of z1 of pod shop/db-1 (network net) on node node-2: its pod is gone, and node node-2 holds nothing of it (no result, no intent): nothing left to free there',
      'forgot the record of c3 of pod shop/db-1 (network net) on node node-2 in namespace kube-system: freed by this gc: its entry on the node said its attach records it in namespace kube-system (not t9, this gc\'s --agent-namespace); left there, it would name an attachment that is gone',
      'gc: freed 1 stale attachment, 1 alive, 2 records removed',
      '',
    ].join('\n'));
    // nothing copied into t9 (before 29832d0: `recorded … without a record in namespace t9`, db-2's net1 among them)
    expect(w.stdout()).not.toMatch(/^recorded /m);
    expect(await listRecords(w.kube, 't9')).toEqual([]);
    expect(await ifnames(w.kube, 'kube-system')).toEqual(['db-2/net1']);
    expect(await w.cli(listCommand, ['-A', '--agent-namespace', 't9'])).toBe(0);
    expect(w.stdout()).not.toMatch(/db-1/);
    expect(await w.cli(listCommand, ['-A'])).toBe(0);
    expect(w.stdout()).not.toMatch(/db-1/);
    expect(w.stderr()).not.toMatch(/to clear/);
  });
});

describe('cni-list --node and a write-ahead of an attachment made from another agent namespace', () => {
  it('is not `record not settled` with a cni-gc to settle it (gc does not: it would copy the other namespace\'s record): `unsettled` once its command is gone, with the cni-gc that forgets it; `attaching`, another attach of it, while that command may run', async () => {
    const w = laptopAndNode2();
    w.put('db-2', D, 'net1', 'kube-system');
    const gone = { host: thisHost.host, pid: process.pid, start: `${(await thisHost.start())!}0` };
    await addAttachingRecord(w.kube, 'other', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: '', addresses: [], since: '2026-12-01T21:00:00Z', by: gone }));
    const row = async () => {
      expect(await w.cli(listCommand, ['-A', '--node', 'node-2', '--agent-namespace', 'other', '-o', 'json']), w.stderr()).toBe(0);
      return (JSON.parse(w.stdout()) as { items: Record<string, unknown>[] }).items.find((i) => i.pod === 'db-2');
    };
    // before: state attached, REASON record not settled, "cni-gc settles it from what node node-2 holds"
    expect(await row()).toMatchObject({
      state: 'unsettled',
      reason: expect.stringMatching(/; node node-2 holds net1 attached by an attach that records it in namespace kube-system \(its entry on the node says so; `kubectl cni-list -A` shows it\): this write-ahead is of another attach of it, and cni-gc forgets it \(settling it would copy that record into namespace other\)$/),
      clearCommand: 'kubectl cni-gc --agent-namespace other',
    });
    // that cni-gc does as the row says
    expect(await w.cli(gcCommand, ['--agent-namespace', 'other'])).toBe(0);
    expect(w.stdout()).toMatch(/^forgot the record of net1 of pod shop\/db-2 .*whose settle would copy that record into other$/m);
    expect(await listRecords(w.kube, 'other')).toEqual([]);
    // another host's command, which may still run: another attach of it, nothing to clear
    await addAttachingRecord(w.kube, 'other', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: '', addresses: [], since: '2026-12-01T21:00:00Z', by: { host: 'laptop-2', pid: 77, start: '1' } }));
    const r = await row();
    expect(r).toMatchObject({ state: 'attaching', reason: expect.stringMatching(/^an attach of net1 began on node node-2 at 2026-12-01T21:00:00Z and has not settled its record, while node node-2 holds net1 attached by an attach that records it in namespace kube-system .*: its command \(pid 77 on host laptop-2\) may still be running; its record goes when it ends, or cni-gc forgets it once its command is gone$/) });
    expect(r).not.toHaveProperty('clearCommand');
    // its own namespace's write-ahead of it stays `record not settled` (gc settles that one), as before
    await addAttachingRecord(w.kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: '', addresses: [], since: '2026-12-01T21:00:00Z', by: gone }));
    expect(await w.cli(listCommand, ['-A', '--node', 'node-2', '-o', 'json'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { items: Record<string, unknown>[] }).items.find((i) => i.pod === 'db-2')).toMatchObject({ state: 'attached', reason: expect.stringMatching(/but its record still says attaching: .*; cni-gc settles it from what node node-2 holds/), clearCommand: 'kubectl cni-gc' });
  });
});
