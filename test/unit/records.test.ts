/**
 * The cluster's records of attachments (resolve/records.ts) through the CLIs with fakes: attach records, detach
 * forgets, cni-list shows other nodes' attachments from the API alone, cni-gc frees a gone pod's attachment on its node.
 */
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { detachCommand } from '../../src/cli/detach.js';
import { gcCommand } from '../../src/cli/gc.js';
import { listCommand } from '../../src/cli/list.js';
import { addRecord, listRecords, recordKey, recordName, removeRecords, type AttachmentRecord } from '../../src/resolve/records.js';
import { bridgeResult, FakeExecutor } from '../fakes/executor.js';
import { FakeKube } from '../fakes/kube.js';
import { SANDBOX, world } from '../fakes/world.js';

const attachArgs = ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'];
const rec = (o: Partial<AttachmentRecord> = {}): AttachmentRecord => ({
  namespace: 'shop', pod: 'db-1', uid: 'uid-db', node: 'node-2', ifname: 'net1', network: 'net', containerId: 'c'.repeat(64),
  since: '2026-12-01T00:00:00Z', addresses: ['198.18.0.9/24'], ...o,
});

describe('records', () => {
  it('one ConfigMap per node, one key per attachment: created once, then patched; removal patches the key to null', async () => {
    const kube = new FakeKube();
    await addRecord(kube, 'kube-system', rec());
    await addRecord(kube, 'kube-system', rec({ ifname: 'net2', containerId: 'd'.repeat(64) }));
    expect(kube.configMapCalls).toEqual(['patch kube-system/cni-attach-node-node-2', 'create kube-system/cni-attach-node-node-2', 'patch kube-system/cni-attach-node-node-2']);
    const cm = kube.configMaps.get('kube-system/cni-attach-node-node-2')!;
    expect(cm.labels).toEqual({ 'app.kubernetes.io/managed-by': 'cni-attach' });
    expect(Object.keys(cm.data).sort()).toEqual([recordKey('c'.repeat(64), 'net1'), recordKey('d'.repeat(64), 'net2')].sort());
    expect(recordKey('abc', 'net1')).toBe('abc.6e657431');
    expect(await listRecords(kube, 'kube-system')).toHaveLength(2);
    await removeRecords(kube, 'kube-system', 'node-2', [{ containerId: 'c'.repeat(64), ifname: 'net1' }]);
    expect((await listRecords(kube, 'kube-system')).map((r) => r.ifname)).toEqual(['net2']);
    await removeRecords(kube, 'kube-system', 'node-9', [{ containerId: 'x', ifname: 'y' }]); // no ConfigMap: fine
  });

  it('a node name too long for a ConfigMap name is hashed', () => {
    expect(recordName('n'.repeat(250))).toMatch(/^cni-attach-node-[0-9a-f]{40}$/);
  });

  it('attach records the attachment on its node, detach removes it', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    const [r] = await listRecords(w.kube, 'kube-system');
    expect(r).toMatchObject({ namespace: 'shop', pod: 'web-1', uid: 'uid-1', node: 'node-1', ifname: 'eth1', network: 'net', containerId: SANDBOX, addresses: ['198.18.0.2/24'] });
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
  });

  it('a record that cannot be written is a note; the attach stands (exit 0)', async () => {
    const w = world();
    w.kube.patchConfigMapData = async () => {
      const { UnreachableError } = await import('../../src/errors.js');
      throw new UnreachableError('patching configmap kube-system/cni-attach-node-node-1: the API server answered 403: forbidden');
    };
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    expect(w.stderr()).toMatch(/note: the attachment is not recorded in the cluster \(.*403: forbidden\); cni-list -A and cni-gc elsewhere will not see it/);
  });

  it('cni-list -A shows attachments on other nodes from the records, with their state from the API', async () => {
    const w = world();
    await addRecord(w.kube, 'kube-system', rec());
    await addRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-3', containerId: 'e'.repeat(64) }));
    expect(await w.cli(listCommand, ['-A', '-o', 'json'])).toBe(0);
    const rows = (JSON.parse(w.stdout()) as { items: { pod: string; node: string; state: string }[] }).items;
    expect(rows.map((r) => [r.pod, r.node, r.state])).toEqual([['db-1', 'node-2', 'pod gone'], ['web-1', 'node-3', 'attached']]);
  });

  it('cni-gc frees a gone pod\'s attachment on its node (reached through the runtime), then forgets the record', async () => {
    const w = world();
    // node-2 is another node: its own plugins and cache, reached through the runtime's nodeExecutor
    const node2 = new FakeExecutor();
    node2.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult('net1', '/proc/9/ns/net')) } : {}));
    const reached: string[] = [];
    w.runtime.nodeExecutor = async (n: string) => (reached.push(n), n === 'node-2' ? node2 : undefined);
    const entry = { kind: 'cniCacheV1', containerId: 'c'.repeat(64), config: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64'), ifName: 'net1', networkName: 'net', netns: '/proc/9/ns/net', cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'db-1'], ['K8S_POD_UID', 'uid-db']], result: bridgeResult('net1', '/proc/9/ns/net') };
    node2.files.set(`/var/lib/cni/results/net-${'c'.repeat(64)}-net1`, JSON.stringify(entry));
    await addRecord(w.kube, 'kube-system', rec());
    await addRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-3', containerId: 'e'.repeat(64) })); // alive: node-3 is not visited

    expect(await w.cli(gcCommand, ['--dry-run'])).toBe(0);
    expect(w.stdout()).toMatch(/^would free net1 of pod shop\/db-1 \(network net\): the pod is gone \(node node-2\)$/m);
    expect(node2.calls).toHaveLength(0);

    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toMatch(/^freed net1 of pod shop\/db-1 \(network net\): the pod is gone \(node node-2\)$/m);
    expect(node2.calls.filter((c) => c.command === 'DEL').map((c) => c.env)).toEqual([expect.objectContaining({ CNI_CONTAINERID: 'c'.repeat(64), CNI_IFNAME: 'net1', CNI_NETNS: '' })]);
    expect([...node2.files.keys()].filter((k) => k.includes('/results/'))).toEqual([]);
    expect(new Set(reached)).toEqual(new Set(['node-2']));
    expect((await listRecords(w.kube, 'kube-system')).map((r) => r.pod)).toEqual(['web-1']);
  });

  it('cni-gc says which node it cannot reach and keeps the record (exit 4)', async () => {
    const w = world();
    await addRecord(w.kube, 'kube-system', rec());
    expect(await w.cli(gcCommand, [])).toBe(4);
    expect(w.stderr()).toMatch(/could not free net1 of pod shop\/db-1: node node-2 cannot be reached from here/);
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
  });
});
