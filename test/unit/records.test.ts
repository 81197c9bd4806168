/**
 * The cluster's records of attachments (resolve/records.ts) through the CLIs with fakes: attach records, detach
 * forgets, cni-list shows other nodes' attachments from the API alone, cni-gc frees a gone pod's attachment on its node.
 */
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { detachCommand } from '../../src/cli/detach.js';
import { checkCommand } from '../../src/cli/check.js';
import { gcCommand } from '../../src/cli/gc.js';
import { listCommand } from '../../src/cli/list.js';
import { ApiStatusError, UnreachableError } from '../../src/errors.js';
import { addAttachingRecord, addRecord, attachmentRecord, listRecords, otherHostWithinBound, readRecords, reconcileRecords, recordedCommand, recordKey, recordName, removeEmptyRecordMaps, removeRecordKeys, removeRecords, writeAheadUntil, type AttachmentRecord } from '../../src/resolve/records.js';
import { AlreadyExistsError } from '../../src/resolve/kube.js';
import { lockPath } from '../../src/cni/cache.js';
import { thisHost } from '../../src/exec/host.js';
import { bridgeResult, FakeExecutor } from '../fakes/executor.js';
import { FakeKube, makePod } from '../fakes/kube.js';
import { manyPods, NETNS, SANDBOX, world } from '../fakes/world.js';
import { NETWORK_STATUS } from '../../src/resolve/network-status.js';

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

  it('a write-ahead\'s until covers its rollback\'s DELs at their own limit (cni/chain.ts rollbackTimeoutMs), not the --timeout of its ADDs', () => {
    // one plugin, --timeout 20ms, --request-timeout 30s: 2 runs of 20 ms, a rollback DEL of 60 s, 8 requests, the margin
    expect(writeAheadUntil(0, 1, 20, 30_000, 60_000)).toBe(new Date(Math.ceil((40 + 60_000 + 240_000 + 60_000) / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    expect(writeAheadUntil(0, 2, 90_000, 30_000)).toBe(new Date((5 * 90_000 + 240_000 + 60_000)).toISOString().replace(/\.\d{3}Z$/, 'Z'));
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
    // the node's last record: its ConfigMap goes too
    expect([...w.kube.configMaps.keys()]).toEqual([]);
  });

  it('a removal that leaves the node\'s ConfigMap with no keys deletes it, on the precondition of the version the patch left; one that leaves keys does not', async () => {
    const kube = new FakeKube();
    await addRecord(kube, 'kube-system', rec());
    await addRecord(kube, 'kube-system', rec({ ifname: 'net2', containerId: 'd'.repeat(64) }));
    kube.configMapCalls.length = 0;
    await removeRecords(kube, 'kube-system', 'node-2', [{ containerId: 'c'.repeat(64), ifname: 'net1' }]);
    expect(kube.configMapCalls).toEqual(['patch kube-system/cni-attach-node-node-2']);
    const rv = Number(kube.configMaps.get('kube-system/cni-attach-node-node-2')!.resourceVersion);
    await removeRecords(kube, 'kube-system', 'node-2', [{ containerId: 'd'.repeat(64), ifname: 'net2' }]);
    expect(kube.configMapCalls).toEqual(['patch kube-system/cni-attach-node-node-2', 'patch kube-system/cni-attach-node-node-2', `delete kube-system/cni-attach-node-node-2@${rv + 1}`]);
    expect(kube.configMaps.has('kube-system/cni-attach-node-node-2')).toBe(false);
    // the next attach on that node creates it again
    await addRecord(kube, 'kube-system', rec());
    expect((await listRecords(kube, 'kube-system')).map((r) => r.ifname)).toEqual(['net1']);
  });

  it('an attach on another machine that writes a key between the emptying patch and the delete: 409 Conflict, the ConfigMap stays with its record', async () => {
    const kube = new FakeKube();
    await addRecord(kube, 'kube-system', rec());
    const del = kube.deleteConfigMap.bind(kube);
    kube.deleteConfigMap = async (ns, name, rv) => {
      // the other machine's merge patch lands first: the ConfigMap is at a newer version than the one seen empty
      await addRecord(kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db2', ifname: 'net7', containerId: 'e'.repeat(64) }));
      const outcome = await del(ns, name, rv);
      expect(outcome).toBe('changed');
      return outcome;
    };
    await removeRecords(kube, 'kube-system', 'node-2', [{ containerId: 'c'.repeat(64), ifname: 'net1' }]);
    expect(kube.configMapCalls.filter((c) => c.startsWith('delete'))).toHaveLength(1);
    expect((await listRecords(kube, 'kube-system')).map((r) => `${r.pod} ${r.ifname}`)).toEqual(['db-2 net7']);
  });

  it('the delete is tidying only: refused (403, no RBAC for delete) or the API gone, the removal still succeeds and the empty ConfigMap stays', async () => {
    for (const err of [new ApiStatusError('deleting configmap kube-system/cni-attach-node-node-2: the API server answered 403 (Forbidden)', 403, 'Forbidden', 'forbidden'), new UnreachableError('deleting configmap: connection refused')]) {
      const kube = new FakeKube();
      await addRecord(kube, 'kube-system', rec());
      kube.deleteConfigMap = async () => {
        throw err;
      };
      await expect(removeRecords(kube, 'kube-system', 'node-2', [{ containerId: 'c'.repeat(64), ifname: 'net1' }])).resolves.toBe(true);
      expect(kube.configMaps.get('kube-system/cni-attach-node-node-2')?.data).toEqual({});
    }
  });

  it('what such a removal left empty, cni-gc deletes (not --dry-run); a ConfigMap holding a key, or written since it was listed, stays', async () => {
    const w = world();
    await addRecord(w.kube, 'kube-system', rec());
    // one holding a key (an entry gc does not use: it is not a record)
    await w.kube.createConfigMap({ name: 'cni-attach-node-node-5', namespace: 'kube-system', labels: { 'app.kubernetes.io/managed-by': 'cni-attach' }, data: { junk: 'x' } });
    const del = w.kube.deleteConfigMap.bind(w.kube);
    w.kube.deleteConfigMap = async () => {
      throw new UnreachableError('deleting configmap: connection reset (the command was killed)');
    };
    await removeRecords(w.kube, 'kube-system', 'node-2', [{ containerId: 'c'.repeat(64), ifname: 'net1' }]);
    w.kube.deleteConfigMap = del;
    expect(w.kube.configMaps.get('kube-system/cni-attach-node-node-2')?.data).toEqual({});
    expect(await w.cli(gcCommand, ['--dry-run'])).toBe(0);
    expect(w.kube.configMaps.has('kube-system/cni-attach-node-node-2')).toBe(true);
    expect(await w.cli(gcCommand, [])).toBe(0);
    // before: it stayed for ever (an outside tester found one after a killed detach batch)
    expect(w.kube.configMaps.has('kube-system/cni-attach-node-node-2')).toBe(false);
    expect(w.kube.configMaps.has('kube-system/cni-attach-node-node-5')).toBe(true);
    // written between the list and the delete: the precondition keeps it
    await w.kube.createConfigMap({ name: 'cni-attach-node-node-4', namespace: 'kube-system', labels: { 'app.kubernetes.io/managed-by': 'cni-attach' }, data: {} });
    w.kube.deleteConfigMap = async (ns, name, rv) => {
      await w.kube.patchConfigMapData(ns, name, { k: '{}' });
      return del(ns, name, rv);
    };
    expect(await removeEmptyRecordMaps(w.kube, 'kube-system')).toEqual([]);
    expect(w.kube.configMaps.get('kube-system/cni-attach-node-node-4')?.data).toEqual({ k: '{}' });
  });

  it('a record written while another machine empties and deletes the node\'s ConfigMap: created again, not lost', async () => {
    const kube = new FakeKube();
    // patch: none (NotFound); create: another command created it (AlreadyExists); patch: deleted meanwhile (NotFound)
    const create = kube.createConfigMap.bind(kube);
    let first = true;
    kube.createConfigMap = async (cm) => {
      if (first) {
        first = false;
        await create({ ...cm, data: { other: '{}' } });
        await removeRecordKeys(kube, 'kube-system', 'node-2', ['other']);
        expect(kube.configMaps.size).toBe(0);
        throw new AlreadyExistsError('configmap exists');
      }
      return create(cm);
    };
    await addRecord(kube, 'kube-system', rec());
    expect(kube.configMapCalls.filter((c) => !c.startsWith('delete'))).toEqual([
      'patch kube-system/cni-attach-node-node-2',
      'create kube-system/cni-attach-node-node-2',
      'patch kube-system/cni-attach-node-node-2', // removeRecordKeys of the other machine
      'patch kube-system/cni-attach-node-node-2',
      'create kube-system/cni-attach-node-node-2',
    ]);
    expect((await listRecords(kube, 'kube-system')).map((r) => r.ifname)).toEqual(['net1']);
  });

  it('detach of a live pod that has nothing attached names the records of an earlier pod of that name (replaced), with the cni-gc that frees them', async () => {
    const w = world();
    await addRecord(w.kube, 'kube-system', rec({ namespace: 'shop', pod: 'web-1', uid: 'uid-old', node: 'node-3', ifname: 'eth1' }));
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stderr()).toMatch(/^note: nothing is attached as eth1 in pod shop\/web-1 /m);
    expect(w.stderr()).toMatch(/^note: the cluster records eth1 of an earlier pod shop\/web-1 \(uid uid-old, node node-3\), replaced since: `kubectl cni-gc[^`]*` frees it$/m);
    // the old pod's record is another pod's: this detach leaves it
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
  });

  it('a batch says each of its pods\' notes once, with how many pods it held for (before: the same 403 note once per pod)', async () => {
    const w = manyPods(6);
    w.kube.patchConfigMapData = async () => {
      throw new ApiStatusError('patching configmap kube-system/cni-attach-node-node-1: the API server answered 403: forbidden', 403, 'Forbidden', 'forbidden');
    };
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    const notes = w.stderr().split('\n').filter((l) => l.startsWith('note: '));
    const refused = notes.filter((l) => l.startsWith('note: the attachment is not recorded in the cluster'));
    expect(refused).toHaveLength(1);
    expect(notes, w.stderr()).toContain('note: the note "the attachment is not recorded in the cluster (patching configmap kub…" above held for 6 pods');
    expect(w.stderr().match(/^\[\d\/6\] shop\/web-\d: attached eth1/gm)).toHaveLength(6);
  });

  it('a settle whose request got no answer (--request-timeout: the API frozen) may have been applied: the note says what the record may still say, and names the pod and interface (with --parallel a note of "the record" named neither, and said "it still says attaching" of a PATCH applied later)', async () => {
    const w = manyPods(3);
    const patch = w.kube.patchConfigMapData.bind(w.kube);
    w.kube.patchConfigMapData = async (ns, name, data) => {
      // the write-ahead lands; the settle's PATCH is applied, but its answer does not come in time
      if (Object.keys(data).some((k) => !k.startsWith('attaching.') && data[k] !== null)) {
        await patch(ns, name, data);
        throw new UnreachableError(`patching configmap ${ns}/${name}: no answer from the API server within 5s`);
      }
      return patch(ns, name, data);
    };
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--parallel', '3'])).toBe(0);
    const notes = w.stderr().split('\n').filter((l) => l.startsWith('note: the record'));
    expect(notes.sort()).toEqual([1, 2, 3].map((i) => `note: the record of eth1 in pod shop/web-${i} in the cluster may not have been updated (patching configmap kube-system/cni-attach-node-node-1: no answer from the API server within 5s, and a request that got no answer may still have been applied): it may still say attaching, not attached; cni-list -A shows which, and one still attaching stays so until cni-detach (or cni-gc, once the pod is gone) clears it`));
    expect(w.stderr()).not.toMatch(/it still says/);
  });

  it('a batch detach says the --cni-path its pods\' records name once per path, with how many pods (before: once per pod)', async () => {
    const w = manyPods(6);
    const paths = ['/opt/a', '/opt/a', '/opt/a', '/opt/a', '/opt/a', '/opt/b'];
    for (const [i, cniPath] of paths.entries()) {
      await addRecord(w.kube, 'kube-system', attachmentRecord({ namespace: 'shop', pod: `web-${i + 1}`, uid: `uid-${i + 1}`, node: 'node-1', ifname: 'eth1', network: 'net', containerId: `${i + 1}`.padStart(64, 'a'), cniPath }, { result: {} }));
    }
    await w.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1']);
    const notes = w.stderr().split('\n').filter((l) => l.startsWith('note: plugins looked for'));
    expect(notes).toEqual([
      'note: plugins looked for in /opt/a for 5 pods (shop/web-1, shop/web-2, shop/web-3, shop/web-4, shop/web-5), where the attach of eth1 found them (their records; --cni-path overrides)',
      'note: plugins looked for in /opt/b for pod shop/web-6, where the attach of eth1 found them (its record; --cni-path overrides)',
    ]);
    // given --cni-path: no such note
    await w.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--cni-path', '/opt/cni/bin']);
    expect(w.stderr()).not.toMatch(/plugins looked for/);
  });

  it('a record that cannot be written is a note; the attach stands (exit 0)', async () => {
    const w = world();
    w.kube.patchConfigMapData = async () => {
      throw new ApiStatusError('patching configmap kube-system/cni-attach-node-node-1: the API server answered 403: forbidden', 403, 'Forbidden', 'forbidden');
    };
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    expect(w.stderr()).toMatch(/note: the attachment is not recorded in the cluster \(.*403: forbidden\); cni-list -A and cni-gc elsewhere will not see it/);
  });

  describe('the note after an attach says what the cluster holds of it: every outcome × the write-ahead landed, refused (403) or failed otherwise', () => {
    type Mode = 'landed, then refused' | '403' | 'other error';
    const outcomes = {
      // attached: the plugin's ADD succeeds
      attached: { exit: 0, setup: () => undefined },
      // nothing: ADD fails, its rollback (DEL) succeeds
      nothing: { exit: 1, setup: (w: ReturnType<typeof world>) => w.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' ? { code: 1, stdout: '{"code":11,"msg":"no"}' } : {})) },
      // interrupted: ADD fails and so does its rollback
      interrupted: { exit: 1, setup: (w: ReturnType<typeof world>) => w.exec.addPlugin('/opt/cni/bin/bridge', () => ({ code: 1, stdout: '{"code":11,"msg":"no"}' })) },
    };
    const notes: Record<keyof typeof outcomes, Record<Mode, { note: RegExp | undefined; held: string[] }>> = {
      attached: {
        'landed, then refused': { note: /^note: the record of eth1 in pod shop\/web-1 in the cluster could not be updated \(.*500: boom\): it still says attaching, not attached; cni-list -A shows it so until cni-detach \(or cni-gc, once the pod is gone\) clears it$/m, held: ['attaching'] },
        '403': { note: /^note: the attachment is not recorded in the cluster \(.*403: forbidden\); cni-list -A and cni-gc elsewhere will not see it \(see deploy\/rbac\.yaml\)$/m, held: [] },
        'other error': { note: undefined, held: ['attached'] },
      },
      interrupted: {
        'landed, then refused': { note: /^note: the record of eth1 in pod shop\/web-1 in the cluster could not be updated \(.*500: boom\): it still says attaching, not interrupted;/m, held: ['attaching'] },
        '403': { note: /^note: the attachment is not recorded in the cluster \(.*403: forbidden\);/m, held: [] },
        'other error': { note: undefined, held: ['interrupted'] },
      },
      nothing: {
        'landed, then refused': { note: /^note: the record of the attempt at eth1 in pod shop\/web-1 could not be removed from the cluster \(.*500: boom\); cni-list -A shows it attaching until cni-gc or cni-detach clears it$/m, held: ['attaching'] },
        '403': { note: /^note: the attempt was not recorded in the cluster \(.*403: forbidden\); nothing of it is left to record \(records need the rights in deploy\/rbac\.yaml\)$/m, held: [] },
        'other error': { note: /^note: the attempt was not recorded in the cluster \(.*ECONNRESET\); nothing of it is left to record/m, held: [] },
      },
    };
    for (const [outcome, o] of Object.entries(outcomes) as [keyof typeof outcomes, (typeof outcomes)[keyof typeof outcomes]][]) {
      for (const mode of ['landed, then refused', '403', 'other error'] as Mode[]) {
        it(`${outcome}, the write-ahead ${mode}`, async () => {
          const w = world();
          o.setup(w);
          const patch = w.kube.patchConfigMapData.bind(w.kube);
          const create = w.kube.createConfigMap.bind(w.kube);
          let writes = 0;
          const forbidden = () => new ApiStatusError('patching configmap kube-system/cni-attach-node-node-1: the API server answered 403: forbidden', 403, 'Forbidden', 'forbidden');
          w.kube.patchConfigMapData = async (...a) => {
            writes++;
            if (mode === '403') throw forbidden();
            if (mode === 'other error' && writes === 1) throw new UnreachableError('patching configmap kube-system/cni-attach-node-node-1: cannot reach the API server at https://x: ECONNRESET');
            // (its rewrite before the node is changed, attaching still, lands: a refused one stops the attach, below)
            if (mode === 'landed, then refused' && writes > 1 && !Object.values(a[2]).some((v) => v !== null && JSON.parse(v).attaching === true)) throw new ApiStatusError('patching configmap kube-system/cni-attach-node-node-1: the API server answered 500: boom', 500, undefined, 'boom');
            return patch(...a);
          };
          w.kube.createConfigMap = async (cm) => {
            writes++;
            if (mode === '403') throw forbidden();
            return create(cm);
          };
          expect(await w.cli(attachCommand, attachArgs)).toBe(o.exit);
          const want = notes[outcome][mode];
          const said = w.stderr().split('\n').filter((l) => l.startsWith('note: ') && /cluster/.test(l));
          if (want.note) expect(said).toEqual([expect.stringMatching(want.note)]);
          else expect(said).toEqual([]);
          // a refused write is not asked again
          if (mode === '403') expect(writes).toBe(1);
          const held = (await listRecords(w.kube, 'kube-system')).map((r) => (r.attaching ? 'attaching' : r.interrupted ? 'interrupted' : 'attached'));
          expect(held).toEqual(want.held);
        });
      }
    }
  });

  it('cni-list -A shows attachments on other nodes from the records, with their state from the API', async () => {
    const w = world();
    w.kube.add(makePod({ name: 'web-3', namespace: 'shop', uid: 'uid-3', node: 'node-3' }));
    await addRecord(w.kube, 'kube-system', rec());
    await addRecord(w.kube, 'kube-system', rec({ pod: 'web-3', uid: 'uid-3', node: 'node-3', containerId: 'e'.repeat(64) }));
    expect(await w.cli(listCommand, ['-A', '-o', 'json'])).toBe(0);
    const rows = (JSON.parse(w.stdout()) as { items: { pod: string; node: string; state: string }[] }).items;
    expect(rows.map((r) => [r.pod, r.node, r.state])).toEqual([['db-1', 'node-2', 'pod gone'], ['web-3', 'node-3', 'attached']]);
  });

  it('a record of a live pod (by its uid) on another node than the API places it on is never listed as being on that node: mismatched, with why; --node there does not look it up', async () => {
    const w = world(); // web-1 (uid-1) runs on node-1
    w.deps.hostname = () => 'laptop';
    await addRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-3', containerId: 'e'.repeat(64) }));
    const reached: string[] = [];
    w.runtime.nodeExecutor = async (n: string) => (reached.push(n), undefined);
    expect(await w.cli(listCommand, ['-A', '--node', 'node-3', '-o', 'json'])).toBe(0);
    const rows = (JSON.parse(w.stdout()) as { items: { pod: string; node: string; state: string; reason: string }[] }).items;
    expect(rows.map((r) => [r.pod, r.node, r.state])).toEqual([['web-1', 'node-3', 'mismatched']]);
    expect(rows[0]!.reason).toContain('the API places pod shop/web-1 (uid "uid-1") on node "node-1", and a pod runs on one node for its life: what node node-3 holds under this key is not that pod\'s attachment there');
    expect(reached).toEqual([]);
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
    w.kube.add(makePod({ name: 'web-3', namespace: 'shop', uid: 'uid-3', node: 'node-3' }));
    await addRecord(w.kube, 'kube-system', rec({ pod: 'web-3', uid: 'uid-3', node: 'node-3', containerId: 'e'.repeat(64) })); // alive: node-3 is not visited

    expect(await w.cli(gcCommand, ['--dry-run'])).toBe(0);
    expect(w.stdout()).toMatch(/^would free net1 of pod shop\/db-1 \(network net\): the pod is gone \(node node-2\)$/m);
    expect(node2.calls).toHaveLength(0);

    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toMatch(/^freed net1 of pod shop\/db-1 \(network net\): the pod is gone \(node node-2\)$/m);
    expect(node2.calls.filter((c) => c.command === 'DEL').map((c) => c.env)).toEqual([expect.objectContaining({ CNI_CONTAINERID: 'c'.repeat(64), CNI_IFNAME: 'net1', CNI_NETNS: '' })]);
    expect([...node2.files.keys()].filter((k) => k.includes('/results/'))).toEqual([]);
    expect(new Set(reached)).toEqual(new Set(['node-2']));
    expect((await listRecords(w.kube, 'kube-system')).map((r) => r.pod)).toEqual(['web-3']);
  });

  it('detach forgets only the records of the cache dir it read: one of its key that names another (an attach with that --cache-dir after its interface went) is kept, said', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    const [r] = await listRecords(w.kube, 'kube-system');
    await addRecord(w.kube, 'kube-system', { ...r!, key: undefined, cacheDir: '/srv/x' });
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toHaveLength(1);
    // before: removed by its key, what /srv/x keeps under it left with nothing to find it
    expect(await listRecords(w.kube, 'kube-system')).toEqual([expect.objectContaining({ pod: 'web-1', ifname: 'eth1', cacheDir: '/srv/x' })]);
    expect(w.stderr()).toContain("note: the cluster's record of eth1 of pod shop/web-1 on node node-1 names cache dir /srv/x, not /var/lib/cni (read by this detach): kept");
  });

  it('cni-gc says which node it cannot reach and keeps the record (exit 4)', async () => {
    const w = world();
    await addRecord(w.kube, 'kube-system', rec());
    expect(await w.cli(gcCommand, [])).toBe(4);
    expect(w.stderr()).toMatch(/could not free net1 of pod shop\/db-1: node node-2 cannot be reached from here/);
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
  });
});

describe('the write-ahead record of a pod attach', () => {
  const attaching = (kube: FakeKube) => [...kube.configMaps.values()].flatMap((c) => Object.keys(c.data)).filter((k) => k.startsWith('attaching.'));

  it('is written once the sandbox was found and awaited before the first ADD; success replaces it in one patch; a look-up that finds no sandbox writes none', async () => {
    const w = world();
    const log: string[] = [];
    const patch = w.kube.patchConfigMapData.bind(w.kube);
    w.kube.patchConfigMapData = async (ns, name, data) => {
      const ahead = Object.values(data).some((v) => v !== null && JSON.parse(v).attaching === true);
      if (ahead) {
        log.push('write-ahead sent');
        await new Promise((r) => setTimeout(r, 20)); // a slow answer: the ADD must wait for it
      }
      try {
        return await patch(ns, name, data);
      } finally {
        if (ahead) log.push('write-ahead landed');
      }
    };
    const find = w.runtime.findSandbox.bind(w.runtime);
    w.runtime.findSandbox = async (ref) => {
      log.push('look-up began');
      const s = await find(ref);
      log.push('look-up ended');
      return s;
    };
    const bridge = w.exec.plugins.get('/opt/cni/bin/bridge')!;
    w.exec.plugins.set('/opt/cni/bin/bridge', (c) => {
      if (c.command === 'ADD') log.push('ADD');
      return bridge(c);
    });
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    // before (h22c's): written alongside the look-up marked beforeNode, then rewritten without the mark — one write
    // more per attach; before that: written alongside the look-up, so an attach killed during it (its agent starting)
    // left a record that sent every cni-gc to a node that held nothing of it
    expect(log).toEqual(['look-up began', 'look-up ended', 'write-ahead sent', 'write-ahead landed', 'ADD']);
    // the write-ahead (a patch, then the ConfigMap created), then the attached record replacing it: one patch
    expect(w.kube.configMapCalls).toEqual(['patch kube-system/cni-attach-node-node-1', 'create kube-system/cni-attach-node-node-1', 'patch kube-system/cni-attach-node-node-1']);
    const cm = w.kube.configMaps.get('kube-system/cni-attach-node-node-1')!;
    expect(Object.keys(cm.data)).toEqual([recordKey(SANDBOX, 'eth1')]);
    const [r] = await listRecords(w.kube, 'kube-system');
    expect(r!.attaching).toBeUndefined();
    expect(r).toMatchObject({ pod: 'web-1', containerId: SANDBOX, addresses: ['198.18.0.2/24'] });

    // no sandbox found (the pod's sandbox gone; the same for an attach killed during its look-up): nothing written
    w.kube.configMapCalls.length = 0;
    w.runtime.sandboxes.clear();
    expect(await w.cli(attachCommand, [...attachArgs.filter((a) => a !== 'eth1' && a !== '--ifname'), '--ifname', 'eth2'])).toBe(3);
    expect(w.kube.configMapCalls).toEqual([]);
  });

  it('is removed when nothing was left: refused (ifname present), rolled back (ADD failed); a dry run writes none', async () => {
    const w = world();
    w.exec.links.set('/proc/4242/ns/net', new Set(['eth1']));
    expect(await w.cli(attachCommand, attachArgs)).toBe(2);
    // the write-ahead's removal left the node's ConfigMap empty: deleted at the version that patch left
    expect(w.kube.configMapCalls).toEqual(['patch kube-system/cni-attach-node-node-1', 'create kube-system/cni-attach-node-node-1', 'patch kube-system/cni-attach-node-node-1', 'delete kube-system/cni-attach-node-node-1@2']);
    expect(w.kube.configMaps.size).toBe(0);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
    w.exec.links.clear();

    w.exec.plugins.set('/opt/cni/bin/bridge', (c) => (c.command === 'VERSION' ? { code: 0, stdout: JSON.stringify({ cniVersion: '1.0.0', supportedVersions: ['1.0.0'] }) } : c.command === 'ADD' ? { code: 1, stdout: '{"code": 11, "msg": "no bridge today"}' } : {}));
    expect(await w.cli(attachCommand, attachArgs)).toBe(1);
    expect(w.stderr()).toMatch(/rolled back: nothing was left behind/);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
    expect(attaching(w.kube)).toEqual([]);

    w.kube.configMapCalls.length = 0;
    expect(await w.cli(attachCommand, [...attachArgs, '--dry-run'])).toBe(0);
    expect(w.kube.configMapCalls).toEqual([]);
  });

  it('without the right to write records (403), the attach goes on with the note, and the refused write is not tried twice', async () => {
    const w = world();
    const { ApiStatusError } = await import('../../src/errors.js');
    w.kube.patchConfigMapData = async (ns, name) => {
      w.kube.configMapCalls.push(`patch ${ns}/${name}`);
      throw new ApiStatusError(`patching configmap ${ns}/${name}: the API server answered 403 (Forbidden): configmaps is forbidden`, 403, 'Forbidden', 'configmaps is forbidden');
    };
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    expect(w.kube.configMapCalls).toEqual(['patch kube-system/cni-attach-node-node-1']);
    expect(w.stderr()).toMatch(/^note: the attachment is not recorded in the cluster \(.*403 \(Forbidden\).*\); cni-list -A and cni-gc elsewhere will not see it/m);
  });

  it('a node lost during the ADD: the record stays, interrupted, saying so; the event says the outcome is unknown, without the cache dir', async () => {
    const w = world();
    const { UnreachableError } = await import('../../src/errors.js');
    w.exec.plugins.set('/opt/cni/bin/bridge', (c) => {
      if (c.command === 'VERSION') return { code: 0, stdout: JSON.stringify({ cniVersion: '1.0.0', supportedVersions: ['1.0.0'] }) };
      if (c.command === 'ADD') throw new UnreachableError('running sh on node node-1: the session was lost before it told how the command ended');
      return {};
    });
    expect(await w.cli(attachCommand, [...attachArgs, '--cache-dir', '/home/alice/cni-cache'])).toBe(4);
    expect(w.stderr()).toMatch(/whether the ADD ran is not known: the attempt stays recorded on the node, and the link eth1 in pod shop\/web-1 and its IPAM lease may remain/);
    const [r] = await listRecords(w.kube, 'kube-system');
    expect(r).toMatchObject({ containerId: SANDBOX, interrupted: true, why: 'the connection to its node was lost during the ADD, which may have run' });
    expect(r!.attaching).toBeUndefined();
    expect(attaching(w.kube)).toEqual([]);
    const ev = w.kube.events.at(-1)!;
    expect(ev.reason).toBe('FailedAddInterface');
    expect(ev.message).toMatch(/^Add eth1 from net failed, its outcome unknown \(the connection to its node was lost during the ADD\): running sh on node node-1/);
    // cni-list -A (from another node) shows it interrupted, saying why
    w.deps.hostname = () => 'laptop';
    expect(await w.cli(listCommand, ['-A', '-o', 'json', '--cache-dir', '/home/alice/other'])).toBe(0);
    const row = (JSON.parse(w.stdout()) as { items: { state: string; reason: string }[] }).items[0]!;
    expect(row.state).toBe('interrupted');
    expect(row.reason).toMatch(/failed on node node-1: the connection to its node was lost during the ADD, which may have run;/);
  });

  it('an ADD whose request never reached the node (its pods/exec upgrade answered 404: the agent pod deleted): a plain failure, exit 4, nothing ran, nothing to roll back; no intent on the node, the write-ahead record removed (it was left interrupted, "whether the ADD ran is not known"); one plugin later in the chain: the ones before ran, not known as before', async () => {
    const refused = () => Object.assign(new ApiStatusError('exec in pod kube-system/cni-attach-agent-x: the API server answered 404 (NotFound) to its WebSocket upgrade: pod kube-system/cni-attach-agent-x no longer exists (the agent pod was deleted): nothing was run in it; running the same command again starts a new agent pod', 404, 'NotFound', 'NotFound'), { notSent: true });
    const w = world();
    w.exec.plugins.set('/opt/cni/bin/bridge', (c) => {
      if (c.command === 'VERSION') return { code: 0, stdout: JSON.stringify({ cniVersion: '1.0.0', supportedVersions: ['1.0.0'] }) };
      if (c.command === 'ADD') throw refused();
      return {};
    });
    expect(await w.cli(attachCommand, attachArgs)).toBe(4);
    expect(w.stderr()).toMatch(/the agent pod was deleted\): nothing was run in it; running the same command again starts a new agent pod; the ADD did not run \(the request never reached the node\): nothing was changed\n$/);
    expect(w.stderr()).not.toMatch(/not known|may remain/);
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toEqual([]);
    expect([...w.exec.files.keys()].filter((k) => k.includes(SANDBOX))).toEqual([]); // no result, intent, mark or lock
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
    expect(attaching(w.kube)).toEqual([]);
    expect(w.kube.events.at(-1)!.message).toMatch(/^Add eth1 from net failed before any plugin ADD ran: /);

    // a chain whose second plugin's request never reached the node: the first's ADD ran, and could not be rolled back
    const two = world({ stdin: JSON.stringify({ cniVersion: '1.0.0', name: 'net', plugins: [{ type: 'bridge' }, { type: 'tuning' }] }) });
    two.exec.addPlugin('/opt/cni/bin/tuning', (c) => {
      if (c.command === 'ADD') throw refused();
      return {};
    });
    expect(await two.cli(attachCommand, attachArgs)).toBe(4);
    expect(two.stderr()).toMatch(/whether the ADD ran is not known: the attempt stays recorded on the node/);
    expect((await listRecords(two.kube, 'kube-system'))[0]).toMatchObject({ interrupted: true });
  });

  it("an event's message names the cache dir the user gave as <cache dir>", async () => {
    const w = world();
    // an unreadable record blocks eth1: its path is in the refusal, on stderr; not in the pod's event
    w.exec.files.set(`/home/alice/cni-cache/results/net-${SANDBOX}-eth1`, 'not json');
    expect(await w.cli(attachCommand, [...attachArgs, '--cache-dir', '/home/alice/cni-cache/'])).toBe(2);
    expect(w.stderr()).toContain(`/home/alice/cni-cache/results/net-${SANDBOX}-eth1`);
    const ev = w.kube.events.at(-1)!;
    expect(ev.message).toContain(`its record <cache dir>/results/net-${SANDBOX}-eth1 cannot be used`);
    expect(ev.message).not.toContain('alice');
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
  });

  it('cni-list -A shows a record never settled as attaching, with its age and the cni-detach that clears it; that detach removes it', async () => {
    const w = world();
    const since = new Date(Date.now() - 5 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await addAttachingRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-3', ifname: 'eth1', containerId: '', since, addresses: [] }));
    w.deps.hostname = () => 'laptop';
    expect(await w.cli(listCommand, ['-A', '-o', 'json'])).toBe(0);
    const row = (JSON.parse(w.stdout()) as { items: { pod: string; node: string; state: string; reason: string; clearCommand: string }[] }).items[0]!;
    expect(row).toMatchObject({ pod: 'web-1', node: 'node-3', state: 'attaching' });
    expect(row.reason).toMatch(new RegExp(`^an attach of eth1 began on node node-3 at ${since} \\(5m ago\\) and has not finished`));
    expect(row.clearCommand).toBe('kubectl cni-detach web-1 -n shop --ifname eth1');
    expect(await w.cli(listCommand, ['-A'])).toBe(0);
    expect(w.stdout()).toMatch(/ attaching .* since \S+ \(5m\)$/m);
    // the detach finds nothing on the node (the attach died before its intent): the record goes all the same
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(attaching(w.kube)).toEqual([]);
  });

  it('an attach writes the pod\'s network-status before it replaces its write-ahead record (last); a cni-detach (and its dry run) while an attach of that interface runs and its node holds the attachment (the attach still writing to the pod): busy (exit 1), no DEL, the record kept', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    const writes = w.kube.writes.filter((x) => !x.startsWith('delete'));
    // the write-ahead (a patch that finds no ConfigMap, then its create), the network-status, then the record that
    // replaces the write-ahead (before: that record came first)
    expect(writes).toEqual(['patch kube-system/cni-attach-node-node-1', 'create kube-system/cni-attach-node-node-1', `annotate shop/web-1 ${NETWORK_STATUS}`, 'patch kube-system/cni-attach-node-node-1']);
    // now an attach of it that runs still (this process stands for it): its write-ahead record is back
    const start = (await thisHost.start())!;
    await addAttachingRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-1', ifname: 'eth1', containerId: SANDBOX, addresses: [], by: { host: thisHost.host, pid: process.pid, start } }));
    w.exec.calls.length = 0;
    for (const extra of [[], ['--dry-run']]) {
      // before: the detach ran its DEL under the attach (exit 0), whose network-status PATCH then named a gone interface
      expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', ...extra]), w.stderr()).toBe(1);
      expect(w.stderr()).toMatch(/^error: an attach of eth1 in pod shop\/web-1 .*is running \(pid \d+ on this host .* and is not done \(its ADD on the node, or the pod's network-status and record after it\); try again when it is done$/m);
    }
    expect(w.exec.commands()).toEqual([]);
    expect((await listRecords(w.kube, 'kube-system')).map((r) => (r.attaching ? 'attaching' : 'attached')).sort()).toEqual(['attached', 'attaching']);
    expect(w.kube.pods.get('shop/web-1')!.metadata!.annotations![NETWORK_STATUS]).toContain('"eth1"');
  });

  it('cni-detach, its dry run, cni-check and its dry run while an attach of that interface runs but has not reached its node (its sandbox look-up, VERSION, STATUS: no lock or intent there yet): busy (exit 1), its record kept; once its command is gone, the detach clears the record', async () => {
    const w = world();
    const start = (await thisHost.start())!;
    // this very process stands for the running attach: its record names it as an attach names itself
    await addAttachingRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-3', ifname: 'eth1', containerId: '', addresses: [], by: { host: thisHost.host, pid: process.pid, start } }));
    w.deps.hostname = () => 'laptop';
    const said = new RegExp(`^error: an attach of eth1 in pod shop/web-1 \\S* ?is running \\(pid ${process.pid} on this host ${thisHost.host}, running for \\S+; begun at \\S+Z, as the cluster's record of it says\\) and is not done \\(its ADD on the node, or the pod's network-status and record after it\\); try again when it is done$`, 'm');
    // before: detach said "nothing is attached as eth1 … nothing to do" (exit 0) and removed the running attach's record
    for (const [cmd, extra] of [[detachCommand, []], [detachCommand, ['--dry-run']], [checkCommand, []], [checkCommand, ['--dry-run']]] as const) {
      expect(await w.cli(cmd, ['web-1', '-n', 'shop', '--ifname', 'eth1', ...extra]), `${cmd.name} ${extra.join(' ')}`).toBe(1);
      expect(w.stderr()).toMatch(said);
      expect(attaching(w.kube)).toHaveLength(1);
    }
    // its command gone (the same pid, another start: a reused pid): nothing runs, and the detach clears the record
    const [key] = attaching(w.kube);
    await removeRecordKeys(w.kube, 'kube-system', 'node-3', [key!]);
    await addAttachingRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-3', ifname: 'eth1', containerId: '', addresses: [], by: { host: thisHost.host, pid: process.pid, start: `${start}0` } }));
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(attaching(w.kube)).toEqual([]);
  });

  it('cni-list -A tells a record\'s attach running from one whose command is gone where that command ran (this host: its pid and start time), and says it cannot elsewhere', async () => {
    const w = world();
    const start = (await thisHost.start())!;
    const ahead = (ifname: string, by: AttachmentRecord['by']) => addAttachingRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-3', ifname, containerId: '', addresses: [], by }));
    await ahead('eth1', { host: thisHost.host, pid: process.pid, start }); // this very process: running
    await ahead('eth2', { host: thisHost.host, pid: process.pid, start: `${start}0` }); // its pid now another process's: gone
    await ahead('eth3', { host: 'laptop-2', pid: 4242, start: '1' }); // another host's: cannot be told here
    w.deps.hostname = () => 'laptop';
    expect(await w.cli(listCommand, ['-A', '-o', 'json'])).toBe(0);
    const rows = (JSON.parse(w.stdout()) as { items: { ifname: string; state: string; reason: string; clearCommand?: string }[] }).items;
    // before: all three attaching, "still running, or its command was killed"
    // eth2: unsettled — its node decides whether it finished (before: interrupted, read as "cni-detach undoes it")
    expect(rows.map((r) => [r.ifname, r.state])).toEqual([['eth1', 'attaching'], ['eth2', 'unsettled'], ['eth3', 'attaching']]);
    expect(rows[0]!.reason).toMatch(new RegExp(`and has not finished: its command \\(pid ${process.pid} on this host ${thisHost.host}\\) runs right now$`));
    expect(rows[0]!.clearCommand).toBeUndefined();
    expect(rows[1]!.reason).toMatch(new RegExp(`and did not settle its record: its command \\(pid ${process.pid} on this host ${thisHost.host}\\) is gone \\(killed, or the cluster could not be reached when it ended: it said so then\\); what node node-3 holds decides: its result \\(the attach finished there: cni-gc settles the record and writes the pod's network-status entry\\), its intent \\(it did not: .*\\), or nothing \\(cni-gc forgets the record\\); \`kubectl cni-list -n shop --node node-3\` shows which$`));
    // cni-gc, which judges it by what its node holds (before: a cni-detach, which undid an attach that had finished there)
    expect(rows[1]!.clearCommand).toBe('kubectl cni-gc');
    expect(rows[2]!.reason).toMatch(/and has not finished: it is still running, or its command was killed \(its command, pid 4242 on host laptop-2: only on that host can it be told\), and then the node may keep its intent/);
    expect(rows[2]!.clearCommand).toBe('kubectl cni-detach web-1 -n shop --ifname eth3');
    // another host's with the time bound it recorded: attaching until then (said), interrupted after it
    await addAttachingRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-3', ifname: 'eth5', containerId: '', addresses: [], by: { host: 'laptop-2', pid: 4243 }, until: '2099-01-01T00:00:00Z' }));
    await addAttachingRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-3', ifname: 'eth6', containerId: '', addresses: [], by: { host: 'laptop-2', pid: 4244 }, until: '2026-12-01T21:08:00Z' }));
    expect(await w.cli(listCommand, ['-A', '-o', 'json'])).toBe(0);
    const more = (JSON.parse(w.stdout()) as { items: { ifname: string; state: string; reason: string; clearCommand?: string }[] }).items.filter((r) => r.ifname === 'eth5' || r.ifname === 'eth6');
    expect(more.map((r) => [r.ifname, r.state])).toEqual([['eth5', 'attaching'], ['eth6', 'unsettled']]);
    expect(more[0]!.reason).toMatch(/; it is taken as running until 2099-01-01T00:00:00Z \(its time bound, which it recorded: cni-detach of eth5 answers busy until then, unless given --force\)$/);
    expect(more[1]!.reason).toMatch(/and did not settle its record: its command \(pid 4244 on host laptop-2\) is past its time bound \(2026-12-01T21:08:00Z, which it recorded: its plugin runs and API requests have all ended by then\) \(killed/);
    // another host's past its bound: its node may still hold that command's lock, which cni-gc leaves for ever ("1
    // busy") and only cni-detach --force takes — the cni-list --node that tells, not a cni-gc (before: `kubectl cni-gc`,
    // which an outside tester pasted: it cleared nothing; tryout 8, F2)
    expect(more[1]!.clearCommand).toBe('kubectl cni-list -n shop --node node-3');
    // the note of the one within its bound says the detach it offers answers busy until then (tryout)
    expect(await w.cli(listCommand, ['-A'])).toBe(0);
    // the unsettled ones' note names the cni-list that shows what their node holds, with their namespace (tryout: the
    // bare `cni-list --node N` it named said "No resources found in default namespace.")
    const notes = [
      /^note: to clear the record in state unsettled: `kubectl cni-gc` \(`kubectl cni-list -n shop --node node-3` shows what their nodes hold of them\)$/m,
      /^note: to clear web-1 eth6 \(unsettled\): `kubectl cni-list -n shop --node node-3` \(cni-gc settles it unless node node-3 still holds the lock of that command of host laptop-2, killed — then only cni-detach --force takes it: that cni-list names the command\)$/m,
    ];
    for (const n of notes) expect(w.stderr()).toMatch(n);
    // listed with -n: that namespace once (a tryout saw `kubectl cni-list -n cni-bench -n cni-bench …`)
    expect(await w.cli(listCommand, ['-n', 'shop'])).toBe(0);
    for (const n of notes) expect(w.stderr()).toMatch(n);
    expect(w.stderr()).toMatch(/^note: to clear web-1 eth5 \(attaching\): `kubectl cni-detach web-1 -n shop --ifname eth5` \(until 2099-01-01T00:00:00Z, the time bound that attach recorded, cni-detach answers busy: that host's command may still be running \(after it, a lock of it left on its node, if any, is still respected until --force says that command is gone\)\)$/m);
    // a command that does not read as one (another writer's) makes the record invalid, as any field breaking its rule
    // (validateRecord): used for nothing, and shown with why
    await ahead('eth4', { host: 1, pid: -1 } as unknown as AttachmentRecord['by']);
    expect((await listRecords(w.kube, 'kube-system')).find((r) => r.ifname === 'eth4')).toBeUndefined();
    expect((await readRecords(w.kube, 'kube-system')).invalid).toEqual([expect.objectContaining({ why: 'its by.host 1 is not a host name', pod: 'web-1' })]);
  });
});

/** Another node, node-2, of w's runtime (its nodeExecutor): a fake of its own with a bridge plugin that answers {}. */
function nodeTwo(w: ReturnType<typeof world>): FakeExecutor {
  const node2 = new FakeExecutor();
  node2.addPlugin('/opt/cni/bin/bridge', () => ({}));
  w.runtime.nodeExecutor = async (n: string) => (n === 'node-2' ? node2 : undefined);
  return node2;
}

describe('cni-gc and attaching records', () => {
  it('a pod gone: what its node holds for an attaching record (found by the pod uid) is freed, and a record its node holds nothing for goes, said (tryout 9, F1: it went without a word)', async () => {
    const w = world();
    const node2 = nodeTwo(w);
    // the intent of an attach killed during its ADD (no result)
    const cid = 'c'.repeat(64);
    const intent = { kind: 'cniCacheV1', containerId: cid, config: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64'), ifName: 'net1', networkName: 'net', netns: '/proc/9/ns/net', cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'db-1'], ['K8S_POD_UID', 'uid-db']] };
    node2.files.set(`/var/lib/cni/cni-attach/intents/net-${cid}-net1`, JSON.stringify(intent));
    await addAttachingRecord(w.kube, 'kube-system', rec({ containerId: '', addresses: [] }));
    await addAttachingRecord(w.kube, 'kube-system', rec({ ifname: 'net2', containerId: '', addresses: [] })); // never reached the node
    w.deps.hostname = () => 'laptop';
    const net2 = 'the record of net2 of pod shop/db-1 (network net) on node node-2: its pod is gone, and node node-2 holds nothing of its attach, begun at 2026-12-01T00:00:00Z (no intent, no result, no lock): nothing left to free there';
    expect(await w.cli(gcCommand, ['--dry-run'])).toBe(0);
    expect(w.stdout()).toBe(`would free net1 of pod shop/db-1 (network net): the pod is gone (node node-2)\nwould forget ${net2}\ngc: would free 1 stale attachment, 0 alive, 1 record to remove\n`);
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(2);
    expect(await w.cli(gcCommand, [])).toBe(0);
    // before: only the freed line, and "gc: freed 1 stale attachment, 0 alive", while net2's record went too
    expect(w.stdout()).toBe(`freed net1 of pod shop/db-1 (network net): the pod is gone (node node-2)\nforgot ${net2}\ngc: freed 1 stale attachment, 0 alive, 1 record removed\n`);
    expect(node2.calls.filter((c) => c.command === 'DEL').map((c) => c.env)).toEqual([expect.objectContaining({ CNI_CONTAINERID: cid, CNI_IFNAME: 'net1' })]);
    expect([...node2.files.keys()].filter((k) => k.includes('/intents/'))).toEqual([]);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
  });
});

describe('cni-gc and attaching records: an attach still running', () => {
  it('a pod gone while its attach holds the lock in its sandbox, before recording its intent: gc leaves its write-ahead record (a note, exit 0); once the lock is free and the node holds nothing, the record goes', async () => {
    const w = world();
    const node2 = nodeTwo(w);
    const cid = 'c'.repeat(64);
    w.runtime.add('shop', 'db-1', 'uid-db', { id: cid, pid: 9, netnsPath: '/proc/9/ns/net' }); // its sandbox still runs there
    node2.files.set(lockPath('/var/lib/cni', cid, 'net1'), 'laptop-2 77 1\n'); // an attach of another host, asking VERSION
    await addAttachingRecord(w.kube, 'kube-system', rec({ containerId: '', addresses: [] }));
    w.deps.hostname = () => 'laptop';
    // the holder named with its host (before: "(pid 77)", read as a pid of this host or of the node)
    const note = 'note: left net1 of pod shop/db-1 (network net) alone: a cni-attach/cni-detach (pid 77 on host laptop-2) is working on it right now; a later cni-gc looks at it again\n';
    for (const args of [['--dry-run'], []]) {
      // before: the node held nothing of it, so its record went, while that attach went on to its ADD
      expect(await w.cli(gcCommand, args)).toBe(0);
      expect(w.stderr()).toContain(note);
      expect(w.stdout()).toMatch(/^gc: (would free|freed) 0 stale attachments, 0 alive, 1 busy \(left for a later run\)$/m);
      expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
    }
    node2.files.delete(lockPath('/var/lib/cni', cid, 'net1')); // that attach ended (refused, say), leaving nothing
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stderr()).not.toContain('note: left');
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
    expect(node2.calls.filter((c) => c.command === 'DEL')).toEqual([]);
  });
});

describe('the write-ahead record when the result cannot be printed', () => {
  it('rolled back: the record goes; already attached before: it is the attached record', async () => {
    const w = world();
    const out = w.deps.io.out;
    w.deps.io.out = () => {
      throw Object.assign(new Error('no space left on device, write'), { code: 'ENOSPC' });
    };
    expect(await w.cli(attachCommand, attachArgs)).toBe(1);
    expect(w.stderr()).toMatch(/the result could not be printed \(ENOSPC: no space left on device, write\): rolled back, nothing was left behind/);
    // node's own errors name their code already ("ENOSPC: no space left on device, write"): said once
    w.deps.io.out = () => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    expect(await w.cli(attachCommand, attachArgs)).toBe(1);
    expect(w.stderr()).toMatch(/the result could not be printed \(ENOSPC: no space left on device, write\): rolled back, nothing was left behind/);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
    w.deps.io.out = out;
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    w.deps.io.out = () => {
      throw Object.assign(new Error('no space left on device, write'), { code: 'ENOSPC' });
    };
    expect(await w.cli(attachCommand, attachArgs)).toBe(1);
    const recs = await listRecords(w.kube, 'kube-system');
    expect(recs.map((r) => [r.containerId, r.attaching, r.interrupted])).toEqual([[SANDBOX, undefined, undefined]]);
  });
});

describe('records reconciled with the nodes\' caches (cni-gc)', () => {
  const C = 'c'.repeat(64);
  const E = 'e'.repeat(64);
  const G = '9'.repeat(64);
  const conf = Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64');
  /** A cache entry of pod shop/NAME (uid-NAME unless given) as attach writes it, at its result path (or its intent path). */
  /** An entry on `node`, as an attach of pod shop/`name` recording in agent namespace `ns` writes it (null: an earlier version's, which names none). */
  const put = (node: FakeExecutor, name: string, id: string, intent = false, uid = `uid-${name}`, dir = '/var/lib/cni', ns: string | null = 'kube-system') => {
    const entry = { kind: 'cniCacheV1', containerId: id, config: conf, ifName: 'net1', networkName: 'net', netns: '/proc/9/ns/net', cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', name], ['K8S_POD_UID', uid]], ...(intent ? {} : { result: bridgeResult('net1', '/proc/9/ns/net') }), ...(ns ? { cniAttachRecordsNamespace: ns } : {}) };
    node.files.set(`${dir}/${intent ? 'cni-attach/intents' : 'results'}/net-${id}-net1`, JSON.stringify(entry));
  };
  /** The fake world with a node-2 reached through the runtime, a live pod shop/db-2 on it (uid-db-2). */
  const twoNodes = () => {
    const w = world();
    const node2 = new FakeExecutor();
    node2.addPlugin('/opt/cni/bin/bridge', () => ({}));
    const reached: string[] = [];
    w.runtime.nodeExecutor = async (n: string) => (reached.push(n), n === 'node-2' ? node2 : undefined);
    w.kube.add(makePod({ name: 'db-2', namespace: 'shop', uid: 'uid-db-2', node: 'node-2', annotations: { [NETWORK_STATUS]: JSON.stringify([{ name: 'net', interface: 'net1' }]) } }));
    // its sandbox runs (the fake runtime answers for every node): what node-2 holds of db-2 under C is alive
    w.runtime.add('shop', 'db-2', 'uid-db-2', { id: C, pid: 9, netnsPath: '/proc/9/ns/net' });
    return { ...w, node2, reached };
  };
  const keys = async (kube: FakeKube) => (await listRecords(kube, 'kube-system')).map((r) => `${r.node}/${r.pod}/${r.containerId.slice(0, 1)}${r.interrupted ? '/interrupted' : ''}`).sort();

  it('attachmentRecord: addresses of the result, none for an interrupted attach or a result it cannot read; since to the second', () => {
    const at = { namespace: 'shop', pod: 'web-1', uid: 'u', node: 'n', ifname: 'net1', network: 'net', containerId: C };
    const now = new Date('2026-12-01T10:20:30.456Z');
    expect(attachmentRecord(at, { result: bridgeResult('net1', '/proc/9/ns/net') }, now)).toEqual({ ...at, since: '2026-12-01T10:20:30Z', addresses: ['198.18.0.2/24'] });
    expect(attachmentRecord(at, { interrupted: true }, now)).toEqual({ ...at, since: '2026-12-01T10:20:30Z', addresses: [], interrupted: true });
    expect(attachmentRecord(at, { result: { nonsense: 1 } }, now).addresses).toEqual([]);
  });

  it('reconcileRecords: adds what a live pod holds without a record (anywhere), removes a live pod\'s record its node holds nothing of, leaves gone pods\' records to the records pass', () => {
    const held = [
      { containerId: C, ifname: 'net1', record: rec({ containerId: C, pod: 'a' }), recordedIn: 'kube-system' }, // no record: added
      { containerId: E, ifname: 'net1', record: rec({ containerId: E, pod: 'b' }), recordedIn: 'kube-system' }, // recorded (under another node name): kept
      { containerId: G, ifname: 'net1' }, // a gone pod's, or unreadable: not added, its record not removed
    ];
    const recorded = [
      rec({ containerId: E, node: 'other-name' }),
      rec({ containerId: G }),
      rec({ containerId: '1'.repeat(64), pod: 'alive-nothing-held' }), // removed
      rec({ containerId: '2'.repeat(64), pod: 'gone-nothing-held' }), // the records pass's
      rec({ containerId: '3'.repeat(64), node: 'node-9' }), // another node's
    ];
    const r = reconcileRecords('node-2', held, recorded, (x) => x.pod.startsWith('gone'), '/var/lib/cni', 'kube-system');
    expect(r.add.map((x) => x.pod)).toEqual(['a']);
    expect(r.remove.map((x) => x.pod)).toEqual(['alive-nothing-held']);
    // two entries of one key (two networks on one ifname): one record
    expect(reconcileRecords('n', [held[0]!, held[0]!], [], () => false, '/var/lib/cni', 'kube-system').add).toHaveLength(1);
    // only the records of the dir read are removed; one of another dir still names its key (not recorded again over it)
    const other = [rec({ containerId: '1'.repeat(64), pod: 'alive-nothing-held', cacheDir: '/srv/x' }), rec({ containerId: C, pod: 'a', cacheDir: '/srv/x' })];
    const r2 = reconcileRecords('node-2', held, other, () => false, '/var/lib/cni', 'kube-system');
    expect([r2.add.map((x) => x.pod), r2.remove]).toEqual([['b'], []]);
    expect(reconcileRecords('node-2', [], other, () => false, '/srv/x/', 'kube-system').remove).toHaveLength(2);
  });

  it('reconcileRecords and write-ahead records: an attaching record of a live pod is not removed (its attach may be running before its intent), and what its node holds of that pod and ifname gets no second record', () => {
    const ahead = rec({ containerId: '', pod: 'a', uid: 'uid-a', attaching: true });
    const held = [{ containerId: C, ifname: 'net1', record: rec({ containerId: C, pod: 'a', uid: 'uid-a' }), recordedIn: 'kube-system' }];
    const r = reconcileRecords('node-2', held, [ahead], () => false, '/var/lib/cni', 'kube-system');
    expect(r).toEqual({ add: [], remove: [], notCopied: [] });
    // the same pod's other interface is still recorded; another pod's attaching record does not hide this one's
    expect(reconcileRecords('node-2', [{ ...held[0]!, ifname: 'net2', record: rec({ containerId: C, pod: 'a', uid: 'uid-a', ifname: 'net2' }) }], [ahead], () => false, '/var/lib/cni', 'kube-system').add).toHaveLength(1);
    expect(reconcileRecords('node-2', held, [{ ...ahead, uid: 'uid-b', pod: 'b' }], () => false, '/var/lib/cni', 'kube-system').add.map((x) => x.pod)).toEqual(['a']);
    // nothing held and nothing attaching: a live pod's record goes as before
    expect(reconcileRecords('node-2', [], [{ ...ahead, attaching: undefined, containerId: C }], () => false, '/var/lib/cni', 'kube-system').remove).toHaveLength(1);
  });

  it('cni-gc --node: reaches that node though no record names it, records its live pod\'s attachment, frees a gone pod\'s, forgets a record it holds nothing of; --dry-run changes nothing', async () => {
    const w = twoNodes();
    put(w.node2, 'db-2', C); // live, unrecorded
    put(w.node2, 'db-3', E, true); // gone (no such pod), an intent alone, unrecorded
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: G })); // live, nothing on the node
    // without --node: no record of a gone pod, so no node is visited: db-2's record is kept because its pod exists,
    // not checked on node-2 — not "alive" (before: "1 alive", and a tryout's sandbox killed there was among them)
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.reached).toEqual([]);
    expect(w.stdout()).toMatch(/^gc: freed 0 stale attachments, 0 alive, 1 kept \(their pods exist; node not read: node-2: --node reads it\)$/m);
    expect(await w.cli(gcCommand, ['-o', 'json'])).toBe(0);
    expect(JSON.parse(w.stdout())).toMatchObject({ alive: 0, keptUnread: 1, keptUnreadNodes: ['node-2'] });

    const before = [...w.node2.files.keys()].sort();
    expect(await w.cli(gcCommand, ['--node', 'node-2', '--dry-run'])).toBe(0);
    expect(w.stdout()).toBe([
      'would free net1 of pod shop/db-3 (network net): the pod is gone (node node-2)',
      'would record net1 of pod shop/db-2 (network net) on node node-2: attached there without a record in namespace kube-system (--agent-namespace)',
      'would forget the record of net1 of pod shop/db-2 (network net) on node node-2: the node holds nothing of it',
      'gc: would free 1 stale attachment, 1 alive, 1 record to add, 1 record to remove',
      '',
    ].join('\n'));
    expect(await keys(w.kube)).toEqual(['node-2/db-2/9']);
    expect([...w.node2.files.keys()].sort()).toEqual(before);
    expect(w.node2.calls).toEqual([]);

    expect(await w.cli(gcCommand, ['--node', 'node-2', '-o', 'json'])).toBe(0);
    const out = JSON.parse(w.stdout()) as { freed: { target: string }[]; alive: number; records: { added: { target: string; node: string }[]; removed: { target: string }[] } };
    expect(out.freed.map((f) => f.target)).toEqual(['pod shop/db-3']);
    expect(out.alive).toBe(1);
    // node-2 read: nothing kept unread
    expect(out).toMatchObject({ keptUnread: 0, keptUnreadNodes: [] });
    expect(out.records.added).toEqual([expect.objectContaining({ target: 'pod shop/db-2', node: 'node-2', ifname: 'net1', network: 'net', containerId: C })]);
    expect(out.records.removed).toEqual([expect.objectContaining({ target: 'pod shop/db-2', containerId: G })]);
    expect(await keys(w.kube)).toEqual(['node-2/db-2/c']);
    const [added] = await listRecords(w.kube, 'kube-system');
    expect(added).toMatchObject({ namespace: 'shop', pod: 'db-2', uid: 'uid-db-2', node: 'node-2', ifname: 'net1', network: 'net', addresses: ['198.18.0.2/24'] });
    expect(w.node2.calls.filter((c) => c.command === 'DEL').map((c) => c.env.CNI_CONTAINERID)).toEqual([E]);
    expect([...w.node2.files.keys()].filter((k) => k.includes(E))).toEqual([]);
    expect(new Set(w.reached)).toEqual(new Set(['node-2']));

    // again: nothing left to do
    expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 1 alive\n');
  });

  it('cni-gc --node: what a node\'s cache holds of a live pod the API places on another node is not that node\'s (not freed, counted alive or recorded there, said); one naming no uid, of a pod of that name now elsewhere, is an earlier pod\'s: freed; a record placing a live pod on another node is not counted alive, said mismatched', async () => {
    const w = twoNodes();
    // web-1 (uid-1) runs on node-1; node-2's cache holds an entry of it (a cache shared between nodes, or copied)
    put(w.node2, 'web-1', E, false, 'uid-1');
    // and one of a web-1 that names no uid: an earlier pod of that name that ran on node-2
    const old = { kind: 'cniCacheV1', containerId: G, config: conf, ifName: 'net2', networkName: 'net', netns: '/proc/9/ns/net', cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'web-1']], result: bridgeResult('net2', '/proc/9/ns/net') };
    w.node2.files.set(`/var/lib/cni/results/net-${G}-net2`, JSON.stringify(old));
    // the fake runtime would find web-1's sandbox on any node: before, the entry was called alive on node-2 and recorded there
    w.runtime.add('shop', 'web-1', 'uid-1', { id: E, pid: 9, netnsPath: '/proc/9/ns/net' });
    w.deps.hostname = () => 'laptop';
    expect(await w.cli(gcCommand, ['--node', 'node-2', '-o', 'json'])).toBe(0);
    const out = JSON.parse(w.stdout()) as { freed: { target: string; ifname: string; why: string }[]; alive: number; records: { added: unknown[] } };
    expect(out.freed).toEqual([expect.objectContaining({ target: 'pod shop/web-1', ifname: 'net2' })]);
    expect(out.alive).toBe(0);
    expect(out.records.added).toEqual([]);
    expect(w.stderr()).toContain(`note: node node-2's cache holds net1 of pod shop/web-1 (network net): pod shop/web-1 (uid uid-1) runs on node node-1, not on node node-2, whose cache holds this entry: a pod runs on one node for its life, so this is not node node-2's attachment of it (a cache directory shared between nodes, or copied from node node-1?); left alone here: node node-1's cache is the one that counts; not counted, freed or recorded on node node-2\n`);
    expect(w.node2.calls.filter((c) => c.command === 'DEL').map((c) => [c.env.CNI_CONTAINERID, c.env.CNI_IFNAME])).toEqual([[G, 'net2']]);
    expect(w.node2.files.has(`/var/lib/cni/results/net-${E}-net1`)).toBe(true);
    expect(await keys(w.kube)).toEqual([]);
    // a record (an earlier version's, or edited) placing web-1 on node-2: not alive there, said mismatched
    await addRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-2', containerId: E }));
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toMatch(/^gc: freed 0 stale attachments, 0 alive$/m);
    expect(w.stderr()).toMatch(/the API places pod shop\/web-1 \(uid "uid-1"\) on node "node-1", and a pod runs on one node for its life: what node node-2 holds under this key is not that pod's attachment there .*`kubectl patch configmap cni-attach-node-node-2 -n kube-system --type merge -p/);
  });

  it('cni-gc --node: a live pod\'s attachment whose sandbox no longer runs on its node (the pod has a new one) is stale by the rule every command uses, and freed without a namespace, its record and network-status entry too; one whose sandbox cannot be looked up there is not judged (kept, exit 4)', async () => {
    const w = twoNodes();
    put(w.node2, 'db-2', E); // attached to an earlier sandbox of db-2 (E); its running sandbox is C
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: E }));
    w.kube.pods.get('shop/db-2')!.metadata!.annotations = { [NETWORK_STATUS]: JSON.stringify([{ name: 'kindnet', interface: 'eth0', default: true }, { name: 'net', interface: 'net1' }]) };
    // the runtime cannot be asked there: not judged, kept, said, exit 4 (before: counted alive, nothing said)
    const find = w.runtime.findSandbox.bind(w.runtime);
    w.runtime.findSandbox = async () => {
      throw new UnreachableError('cannot reach the CRI runtime on node node-2: ctr failed');
    };
    expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(4);
    expect(w.stderr()).toMatch(/^note: net1 of pod shop\/db-2 \(network net\) was not judged, and stays: its sandbox e{12} could not be checked: .*cannot reach the CRI runtime on node node-2: ctr failed \(node node-2\)$/m);
    expect(w.node2.calls.filter((c) => c.command === 'DEL')).toEqual([]);
    expect(await keys(w.kube)).toEqual(['node-2/db-2/e']);
    w.runtime.findSandbox = find;
    // before: "gc: would free 0 stale attachments, 1 alive"
    expect(await w.cli(gcCommand, ['--node', 'node-2', '--dry-run'])).toBe(0);
    expect(w.stdout()).toBe("would free net1 of pod shop/db-2 (network net): the pod's sandbox is gone (node node-2)\ngc: would free 1 stale attachment, 0 alive\n");
    expect(w.node2.calls.filter((c) => c.command === 'DEL')).toEqual([]);
    expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
    expect(w.stdout()).toBe("freed net1 of pod shop/db-2 (network net): the pod's sandbox is gone (node node-2)\ngc: freed 1 stale attachment, 0 alive\n");
    expect(w.node2.calls.filter((c) => c.command === 'DEL').map((c) => [c.env.CNI_CONTAINERID, c.env.CNI_NETNS])).toEqual([[E, '']]);
    expect(await keys(w.kube)).toEqual([]);
    expect(w.kube.annotation('shop', 'db-2', NETWORK_STATUS)).toEqual([{ name: 'kindnet', interface: 'eth0', default: true }]);
  });

  it('cni-list --node: a record of another cache dir whose interface is gone from its sandbox says that dir was not read there, with the cni-list that reads it, never "deleted outside cni-attach" (tryout: said of an interface our own cni-detach had deleted, its lease freed)', async () => {
    const w = twoNodes();
    w.runtime.add('shop', 'db-2', 'uid-db-2', { id: C, pid: 9, netnsPath: '/proc/9/ns/net', links: ['lo', 'eth0'] });
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: C, cacheDir: '/srv/x' }));
    expect(await w.cli(listCommand, ['-A', '-o', 'json', '--node', 'node-2'])).toBe(0);
    const [item] = (JSON.parse(w.stdout()) as { items: { state: string; reason: string; clearCommand?: string }[] }).items;
    expect(item!.state).toBe('interface gone');
    expect(item!.reason).toMatch(/; its record names cache dir \/srv\/x, which this cni-list \(--cache-dir \/var\/lib\/cni\) did not read there: whether a DEL of ours stopped part-way and whether its lease is still held is what that one holds; `kubectl cni-list -n shop --cache-dir \/srv\/x --node node-2` reads it$/);
    expect(item!.reason).not.toMatch(/deleted outside cni-attach/);
    expect(item!.clearCommand).toBe('kubectl cni-list -n shop --cache-dir /srv/x --node node-2');
  });

  it('cni-list --node: a record whose entry on the node names no interface in the sandbox (an IPAM-only chain) is not `interface gone` for a link missing; one whose entry names it is (tryout 7)', async () => {
    const w = twoNodes();
    w.runtime.add('shop', 'db-2', 'uid-db-2', { id: C, pid: 9, netnsPath: '/proc/9/ns/net', links: ['lo', 'eth0'] });
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: C }));
    const state = async () => {
      expect(await w.cli(listCommand, ['-A', '-o', 'json', '--node', 'node-2']), w.stderr()).toBe(0);
      return (JSON.parse(w.stdout()) as { items: { state: string }[] }).items.map((i) => i.state);
    };
    put(w.node2, 'db-2', C);
    expect(await state()).toEqual(['interface gone']);
    const key = `/var/lib/cni/results/net-${C}-net1`;
    const entry = JSON.parse(w.node2.files.get(key)!) as Record<string, unknown>;
    w.node2.files.set(key, JSON.stringify({ ...entry, result: { cniVersion: '1.0.0', ips: [{ address: '198.18.0.9/24' }] } }));
    expect(await state()).toEqual(['attached']);
  });

  it('cni-list --node: another node\'s record of a live pod is judged by its sandbox there (sandbox gone, with the cni-gc --node that frees it); one that cannot be looked up is "sandbox not checked", exit 4; without --node the API alone decides', async () => {
    const w = twoNodes();
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: E })); // db-2 runs C now
    const rows = async (args: string[], code = 0) => {
      expect(await w.cli(listCommand, ['-A', '-o', 'json', ...args]), w.stderr()).toBe(code);
      return (JSON.parse(w.stdout()) as { items: { pod: string; state: string; clearCommand?: string }[] }).items.map((x) => [x.pod, x.state, x.clearCommand]);
    };
    expect(await rows([])).toEqual([['db-2', 'attached', undefined]]);
    expect(w.reached).toEqual([]);
    // node-2 holds nothing under the record's key: not an attachment (a cni-detach stopped after its DEL, say), with
    // the cni-detach that removes the record and the network-status entry (tryout: "interface gone … lease still held")
    expect(await rows(['--node', 'node-2'])).toEqual([['db-2', 'mismatched', 'kubectl cni-detach db-2 -n shop --ifname net1']]);
    expect(await w.cli(listCommand, ['-A', '-o', 'json', '--node', 'node-2'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { items: { reason: string }[] }).items[0]!.reason).toMatch(/^the cluster records net1 attached on node node-2 since \S+, but node node-2's cache holds nothing of it \(no result, no intent\): a cni-detach stopped after its DEL ran, before it updated the cluster, or the entry was removed there by hand; cni-detach removes the pod's network-status entry and this record$/);
    put(w.node2, 'db-2', E);
    expect(await rows(['--node', 'node-2'])).toEqual([['db-2', 'sandbox gone', 'kubectl cni-gc --node node-2']]);
    const find2 = w.runtime.findSandbox.bind(w.runtime);
    w.runtime.findSandbox = async () => {
      throw new UnreachableError('cannot reach the CRI runtime on node node-2: ctr failed');
    };
    expect(await rows(['--node', 'node-2'], 4)).toEqual([['db-2', 'attached', undefined]]);
    expect(w.stderr()).toMatch(/^error: the sandboxes of attachments on node-2 could not all be looked up there \(REASON: sandbox not checked\): cannot reach the CRI runtime on node node-2: ctr failed$/m);
    // a node of no pod and no record: not found, as cni-gc --node answers it (before: this note, exit 0)
    expect(await w.cli(listCommand, ['-A', '--node', 'node-9'])).toBe(3);
    expect(w.stdout()).toBe('');
    expect(w.stderr()).toMatch(/^error: node "node-9" not found: no pod is scheduled there and no attachment is recorded there \(the nodes with pods or records: /);
    // a user who may list only one namespace's pods: the name is not checked (no refusal for it), the rows still filtered
    const { ApiStatusError } = await import('../../src/errors.js');
    const listPods = w.kube.listPods.bind(w.kube);
    w.kube.listPods = async (ns, sel) => {
      if (ns === undefined) throw new ApiStatusError('listing pods: the API server answered 403 (Forbidden)', 403, 'Forbidden', 'forbidden');
      return listPods(ns, sel);
    };
    w.runtime.findSandbox = find2;
    expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-9'])).toBe(0);
    expect(w.stderr()).toContain('note: --node node-9: no attachment of a live pod listed here is recorded on node node-9');
    // several such nodes: one note naming them (before: one per node)
    expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-8,node-9'])).toBe(0);
    expect(w.stderr().split('\n').filter((l) => l.includes('nothing to look up there'))).toEqual(['note: --node node-8,node-9: no attachment of a live pod listed here is recorded on nodes node-8, node-9: nothing to look up there (only namespace shop is listed: -A lists every namespace)']);
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'json', '--node', 'node-2'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { items: { pod: string; state: string }[] }).items.map((x) => [x.pod, x.state])).toEqual([['db-2', 'sandbox gone']]);
    w.kube.listPods = listPods;
    // without -A, one namespace is listed: said, with -A (tryout: read as "nothing on that node")
    expect(await w.cli(listCommand, ['-n', 'other', '--node', 'node-2'])).toBe(0);
    expect(w.stderr().split('\n')).toContain('note: --node node-2: no attachment of a live pod listed here is recorded on node node-2: nothing to look up there (only namespace other is listed: -A lists every namespace)');
  });

  it('--node takes names repeated and comma-separated; an unknown one is exit 3 before anything is changed; an empty one exit 2', async () => {
    const w = twoNodes();
    put(w.node2, 'db-2', C);
    // a gone pod's attachment here, which a gc would free
    put(w.exec, 'gone-here', E);
    const local = [...w.exec.files.keys()].sort();
    expect(await w.cli(gcCommand, ['--node', 'node-2,nosuch', '--node', 'node-1'])).toBe(3);
    expect(w.stderr()).toBe('error: node "nosuch" not found: no pod is scheduled there and no attachment is recorded there (the nodes with pods or records: node-1, node-2); nothing was changed\n');
    expect(w.reached).toEqual([]);
    expect([...w.exec.files.keys()].sort()).toEqual(local);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
    expect(await w.cli(gcCommand, ['--node', 'node-2,'])).toBe(2);
    expect(w.stderr()).toMatch(/^error: --node: an empty node name/);
    // node-1 is this host: its cache was read by the local pass (no runtime is asked for it)
    expect(await w.cli(gcCommand, ['--node', 'node-2', '--node', 'node-1'])).toBe(0);
    expect(await keys(w.kube)).toEqual(['node-2/db-2/c']);
    expect(w.reached).toEqual(['node-2', 'node-1']);
  });

  it('races: a pod the list lacks is asked for again before its attachment is called gone; a record made after this host\'s cache was read is not forgotten', async () => {
    const w = twoNodes();
    // db-4 is made (and attached on node-2) after gc listed the pods
    w.kube.add(makePod({ name: 'db-4', namespace: 'shop', uid: 'uid-db-4', node: 'node-2' }));
    w.runtime.add('shop', 'db-4', 'uid-db-4', { id: C, pid: 9, netnsPath: '/proc/9/ns/net' });
    put(w.node2, 'db-4', C);
    const list = w.kube.listPods.bind(w.kube);
    w.kube.listPods = async (ns, sel) => (await list(ns, sel)).filter((p) => p.metadata!.name !== 'db-4');
    expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
    expect(w.stdout()).toBe('recorded net1 of pod shop/db-4 (network net) on node node-2: attached there without a record in namespace kube-system (--agent-namespace)\ngc: freed 0 stale attachments, 1 alive, 1 record added\n');
    expect(w.node2.calls.filter((c) => c.command === 'DEL')).toEqual([]);
    w.kube.listPods = list;

    // an attach on this host between gc's read of its cache and its list of the records: its result is there now
    const w2 = world();
    const listMaps = w2.kube.listConfigMaps.bind(w2.kube);
    w2.kube.listConfigMaps = async (ns, sel) => {
      put(w2.exec, 'web-1', SANDBOX, false, 'uid-1');
      await addRecord(w2.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-1', containerId: SANDBOX, ifname: 'net1' }));
      return listMaps(ns, sel);
    };
    expect(await w2.cli(gcCommand, [])).toBe(0);
    expect(w2.stdout()).not.toMatch(/forgot/);
    expect(await keys(w2.kube)).toEqual(['node-1/web-1/f']);
  });

  it('races: a recorded pod the pod list lacks (made and attached between gc\'s list of the pods and its list of the records) is asked for again, and its attachment is not freed; a pod really gone still is', async () => {
    const w = twoNodes();
    put(w.node2, 'db-4', C);
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-4', uid: 'uid-db-4', node: 'node-2', containerId: C }));
    w.kube.add(makePod({ name: 'db-4', namespace: 'shop', uid: 'uid-db-4', node: 'node-2' }));
    const list = w.kube.listPods.bind(w.kube);
    w.kube.listPods = async (ns, sel) => (await list(ns, sel)).filter((p) => p.metadata!.name !== 'db-4');
    expect(await w.cli(gcCommand, []), w.stderr()).toBe(0);
    expect(w.stdout()).toMatch(/^gc: freed 0 stale attachments, 0 alive, 1 kept \(their pods exist; node not read: node-2: --node reads it\)/m);
    expect(w.node2.calls.filter((c) => c.command === 'DEL')).toEqual([]);
    expect(await keys(w.kube)).toEqual(['node-2/db-4/c']);
    // the same pod deleted for real: freed, its record gone
    w.kube.listPods = list;
    w.kube.deletePod('shop', 'db-4');
    expect(await w.cli(gcCommand, []), w.stderr()).toBe(0);
    expect(w.stdout()).toMatch(/^freed net1 of pod shop\/db-4 \(network net\): the pod is gone \(node node-2\)$/m);
    expect(w.node2.calls.filter((c) => c.command === 'DEL')).toHaveLength(1);
    expect(await keys(w.kube)).toEqual([]);
  });

  it('a live pod\'s attachment missing from its network-status whose record names another cache dir: the note\'s cni-attach says that --cache-dir is needed (tryout: without it the pasted attach refused "an interface named net4 already exists")', async () => {
    const w = twoNodes();
    w.deps.hostname = () => 'laptop';
    w.runtime.add('shop', 'db-2', 'uid-db-2', { id: E, pid: 9, netnsPath: '/proc/9/ns/net' });
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: E, cacheDir: '/srv/x' }));
    // its attach was killed before it wrote the pod's network-status
    delete w.kube.pods.get('shop/db-2')!.metadata!.annotations?.[NETWORK_STATUS];
    await w.cli(listCommand, ['-A', '--no-headers']);
    expect(w.stdout()).toMatch(/^shop\s+db-2\s+net1\s.*\sattached\s+no\s.*not in the pod's network-status$/m);
    // before: the command alone, with nothing to say that it needs the cache dir the attach used
    // (then: said, not in the command: pasted, it refused again)
    // only the cluster's record was read (no --node): the same row is left by a cni-detach killed after its DEL and its
    // network-status update, so no cni-attach is offered (pasted, it attached anew: tryout) but the cni-list that reads
    // the node, with the record's cache dir, whose row then names cni-attach or cni-detach
    expect(w.stderr()).toContain('note: to clear db-2 net1 (attached): `kubectl cni-list -n shop --cache-dir /srv/x --node node-2` (it reads node node-2, and its row names the command: cni-attach (the node holds it) or cni-detach (it holds nothing of it))\n');
    expect(w.stderr()).not.toContain('kubectl cni-attach');
  });

  it('an attachment made with --no-annotate: its record says so, and cni-list gives no advice for its missing network-status entry, without --node and with it (tester: it offered the cni-list --node, whose row then offered a cni-attach that writes the entry the user opted out of)', async () => {
    const w = twoNodes();
    w.deps.hostname = () => 'laptop';
    w.runtime.add('shop', 'db-2', 'uid-db-2', { id: E, pid: 9, netnsPath: '/proc/9/ns/net' });
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: E, noAnnotate: true }));
    expect(await listRecords(w.kube, 'kube-system')).toEqual([expect.objectContaining({ pod: 'db-2', noAnnotate: true })]);
    delete w.kube.pods.get('shop/db-2')!.metadata!.annotations?.[NETWORK_STATUS];
    for (const args of [[], ['--node', 'node-2']]) {
      if (args.length) put(w.node2, 'db-2', E);
      expect(await w.cli(listCommand, ['-A', '--no-headers', ...args]), w.stderr()).toBe(0);
      expect(w.stdout()).toMatch(/^shop\s+db-2\s+net1\s.*\sattached\s+no\s+\S+\s+attached with --no-annotate$/m);
      expect(w.stderr(), args.join(' ')).toBe('');
      expect(await w.cli(listCommand, ['-A', '-o', 'json', ...args])).toBe(0);
      const [item] = (JSON.parse(w.stdout()) as { items: Record<string, unknown>[] }).items;
      expect(item).toMatchObject({ pod: 'db-2', state: 'attached', annotated: false, reason: "attached with --no-annotate: the pod's k8s.v1.cni.cncf.io/network-status was left alone on purpose, so it does not name net1; nothing to clear" });
      expect(item).not.toHaveProperty('clearCommand');
    }
    // a record that does not say so (an older version's, or an attach killed before its write): the advice stays
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: E }));
    expect(await w.cli(listCommand, ['-A', '--no-headers', '--node', 'node-2'])).toBe(0);
    expect(w.stderr()).toContain('`kubectl cni-attach db-2 -n shop --ifname net1 --conf FILE`');
  });

  it('cni-attach --no-annotate writes noAnnotate in its record; this host\'s own row of it gets no advice either', async () => {
    const w = world();
    w.deps.hostname = () => 'node-1';
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth9', '--conf', '-', '--no-annotate']), w.stderr()).toBe(0);
    w.exec.links.set(NETNS, new Set(['lo', 'eth9']));
    expect(await listRecords(w.kube, 'kube-system')).toEqual([expect.objectContaining({ pod: 'web-1', ifname: 'eth9', noAnnotate: true })]);
    expect(await w.cli(listCommand, ['-n', 'shop', '--no-headers'])).toBe(0);
    expect(w.stdout()).toMatch(/^web-1\s+eth9\s.*\sattached\s+no\s+\S+\s+attached with --no-annotate$/m);
    expect(w.stderr()).toBe('');
    // without --no-annotate: no such field
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth8', '--conf', '-']), w.stderr()).toBe(0);
    expect((await listRecords(w.kube, 'kube-system')).find((r) => r.ifname === 'eth8')).not.toHaveProperty('noAnnotate');
  });

  it('a record names the cache dir its attachment lives in: a gc of another dir keeps it and says which cni-gc frees it (offered once its node trusts that dir); that gc frees it; a live pod\'s is not forgotten either', async () => {
    const w = twoNodes();
    w.deps.hostname = () => 'laptop';
    // db-1 (gone) attached with --cache-dir /srv/x on node-2: its entry there, nothing in /var/lib/cni
    put(w.node2, 'db-1', C, false, 'uid-db', '/srv/x');
    await addRecord(w.kube, 'kube-system', rec({ containerId: C, cacheDir: '/srv/x' }));
    // and an attach of db-1's net2 with --cache-dir /srv/x killed before its sandbox look-up: its write-ahead record
    await addAttachingRecord(w.kube, 'kube-system', rec({ ifname: 'net2', containerId: '', addresses: [], cacheDir: '/srv/x' }));
    // db-2 (live) attached likewise: node-2 holds nothing of it in /var/lib/cni either
    put(w.node2, 'db-2', E, false, 'uid-db-2', '/srv/x');
    w.runtime.add('shop', 'db-2', 'uid-db-2', { id: E, pid: 9, netnsPath: '/proc/9/ns/net' });
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: E, cacheDir: '/srv/x' }));
    const before = [...w.node2.files.keys()].sort();
    // before: `forgot`/no word, both records gone (the pass found nothing under their keys in /var/lib/cni), their
    // attachments and leases left in /srv/x with nothing to find them
    for (const args of [['--dry-run'], [], ['--node', 'node-2']]) {
      expect(await w.cli(gcCommand, args), w.stderr()).toBe(0);
      // one note for the records of one dir (before: one note each)
      expect(w.stderr()).toContain('note: kept 2 records that name cache dir /srv/x, not /var/lib/cni (read by this gc), where their nodes keep them: 2 where the pod is gone (shop/db-1 net1, shop/db-1 net2); `kubectl cni-gc --cache-dir /srv/x` frees them\n');
      expect(w.stdout()).toMatch(/^gc: (would free|freed) 0 stale attachments, 1 alive, 2 kept \(recorded in another cache dir\)$/m);
      expect(w.stdout()).not.toMatch(/forg[eo]t/);
      expect(await keys(w.kube)).toEqual(['node-2/db-1/', 'node-2/db-1/c', 'node-2/db-2/e']);
      expect([...w.node2.files.keys()].sort()).toEqual(before);
    }
    expect(await w.cli(gcCommand, ['-o', 'json'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { records: { otherCacheDir: unknown[] } }).records.otherCacheDir).toEqual([
      expect.objectContaining({ target: 'pod shop/db-1', node: 'node-2', ifname: 'net1', cacheDir: '/srv/x', gcCommand: 'kubectl cni-gc --cache-dir /srv/x' }),
      expect.objectContaining({ target: 'pod shop/db-1', node: 'node-2', ifname: 'net2', cacheDir: '/srv/x', gcCommand: 'kubectl cni-gc --cache-dir /srv/x' }),
    ]);
    // a dir its node does not trust (writable by others) is not offered: a record is not the user's word
    w.node2.modes.set('/srv/x', { uid: 1000, mode: 0o40777 });
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stderr()).toMatch(/^note: kept 2 records that name cache dir \/srv\/x, .* where their nodes keep them: 2 where the pod is gone \(shop\/db-1 net1, shop\/db-1 net2\); no cni-gc for them is offered: a record is not your word, and .*\/srv\/x.* on node node-2$/m);
    expect(w.stderr()).not.toContain('--cache-dir /srv/x');
    w.node2.modes.delete('/srv/x');
    // the gc of that dir frees it there, and forgets its record; the live pod's stays
    expect(await w.cli(gcCommand, ['--cache-dir', '/srv/x/'])).toBe(0);
    expect(w.stdout()).toMatch(/^freed net1 of pod shop\/db-1 \(network net\): the pod is gone \(node node-2\)$/m);
    expect(w.node2.calls.filter((c) => c.command === 'DEL').map((c) => c.env.CNI_CONTAINERID)).toEqual([C]);
    expect([...w.node2.files.keys()].filter((k) => k.includes(C))).toEqual([]);
    expect(await keys(w.kube)).toEqual(['node-2/db-2/e']);
  });

  it('every record gc would act on but cannot because of its cache dir is counted and said the same way: a live pod\'s interrupted attach and unsettled write-ahead, not only a gone pod\'s (tryout: 15 interrupted records of a --cache-dir X batch, plain gc "would free 0 stale attachments, 2 alive", no note)', async () => {
    const w = twoNodes();
    w.deps.hostname = () => 'laptop';
    for (const [name, id] of [['db-3', E], ['db-4', G]] as const) {
      w.kube.add(makePod({ name, namespace: 'shop', uid: `uid-${name}`, node: 'node-2' }));
      w.runtime.add('shop', name, `uid-${name}`, { id, pid: 9, netnsPath: '/proc/9/ns/net' });
    }
    // db-3: an attach with --cache-dir /srv/x whose ADD and rollback failed (its intent there); db-4: one killed
    // outright (its write-ahead never settled); db-1 (gone): attached there
    put(w.node2, 'db-3', E, true, 'uid-db-3', '/srv/x');
    await addRecord(w.kube, 'kube-system', attachmentRecord({ namespace: 'shop', pod: 'db-3', uid: 'uid-db-3', node: 'node-2', ifname: 'net1', network: 'net', containerId: E, cacheDir: '/srv/x' }, { interrupted: true }));
    put(w.node2, 'db-4', G, true, 'uid-db-4', '/srv/x');
    await addAttachingRecord(w.kube, 'kube-system', rec({ pod: 'db-4', uid: 'uid-db-4', containerId: '', addresses: [], cacheDir: '/srv/x', by: { host: 'laptop-2', pid: 77 } }));
    put(w.node2, 'db-1', C, false, 'uid-db', '/srv/x');
    await addRecord(w.kube, 'kube-system', rec({ containerId: C, cacheDir: '/srv/x' }));
    const before = [...w.node2.files.keys()].sort();
    for (const args of [['--dry-run'], []]) {
      expect(await w.cli(gcCommand, args), w.stderr()).toBe(0);
      // before: "gc: would free 0 stale attachments, 0 alive, 1 kept (recorded in another cache dir)", db-3 and db-4 unsaid
      expect(w.stdout()).toMatch(/^gc: (would free|freed) 0 stale attachments, 0 alive, 3 kept \(recorded in another cache dir\)$/m);
      expect(w.stderr()).toContain('note: kept 3 records that name cache dir /srv/x, not /var/lib/cni (read by this gc), where their nodes keep them: 1 where an attach of it was interrupted (shop/db-3 net1), 1 where the attach has not settled its record (attaching) (shop/db-4 net1), 1 where the pod is gone (shop/db-1 net1); `kubectl cni-gc --cache-dir /srv/x` frees them\n');
      expect([...w.node2.files.keys()].sort()).toEqual(before);
      expect(w.node2.calls.filter((c) => c.command === 'DEL')).toEqual([]);
    }
    expect(await w.cli(gcCommand, ['-o', 'json'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { records: { otherCacheDir: { target: string; why: string; gcCommand: string }[] } }).records.otherCacheDir.map((e) => [e.target, e.why, e.gcCommand])).toEqual([
      ['pod shop/db-3', 'an attach of it was interrupted', 'kubectl cni-gc --cache-dir /srv/x'],
      ['pod shop/db-4', 'its attach has not settled its record (attaching)', 'kubectl cni-gc --cache-dir /srv/x'],
      ['pod shop/db-1', 'its pod is gone', 'kubectl cni-gc --cache-dir /srv/x'],
    ]);
    // the gc it offers frees the interrupted attach from its intent there (the write-ahead of another host's command stays, said)
    expect(await w.cli(gcCommand, ['--cache-dir', '/srv/x']), w.stderr()).toBe(0);
    expect(w.stdout()).toMatch(/^freed net1 of pod shop\/db-3 \(network net\): an attach of it was interrupted \(node node-2\)$/m);
    expect(w.stdout()).toMatch(/^freed net1 of pod shop\/db-1 \(network net\): the pod is gone \(node node-2\)$/m);
  });

  it('records cni-gc writes name the cache dir it read; a gc of another dir that visits the node does not forget them', async () => {
    const w = twoNodes();
    w.deps.hostname = () => 'laptop';
    put(w.node2, 'db-2', C, false, 'uid-db-2', '/srv/x'); // live, unrecorded, in /srv/x
    expect(await w.cli(gcCommand, ['--node', 'node-2', '--cache-dir', '/srv/x'])).toBe(0);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([expect.objectContaining({ pod: 'db-2', containerId: C, cacheDir: '/srv/x' })]);
    // before: recorded without cacheDir, then forgotten by this plain gc (nothing of it in /var/lib/cni)
    expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 1 alive\n');
    expect(await keys(w.kube)).toEqual(['node-2/db-2/c']);
  });

  it('this host: a gc of the default dir keeps this host\'s record of another dir (a live pod\'s, its cache holding nothing of it in the default)', async () => {
    const w = world();
    await addRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-1', containerId: C, cacheDir: '/srv/x' }));
    // before: `forgot the record of net1 of pod shop/web-1 … the node holds nothing of it`
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 1 alive\n');
    expect(await keys(w.kube)).toEqual(['node-1/web-1/c']);
    // the gc of that dir reads it: nothing there, and then the record goes
    expect(await w.cli(gcCommand, ['--cache-dir', '/srv/x'])).toBe(0);
    expect(w.stdout()).toMatch(/^forgot the record of net1 of pod shop\/web-1 \(network net\) on node node-1: the node holds nothing of it$/m);
    expect(await keys(w.kube)).toEqual([]);
  });

  it('local gc records this host\'s unrecorded attachment of a live pod and forgets a record of this host it holds nothing of; a record that cannot be written is a note (exit 0)', async () => {
    const w = world();
    put(w.exec, 'web-1', SANDBOX, false, 'uid-1');
    w.exec.netns.add('/proc/9/ns/net');
    w.exec.links.set('/proc/9/ns/net', new Set(['net1'])); // its interface is there: alive
    await addRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-1', containerId: C }));
    const patch = w.kube.patchConfigMapData.bind(w.kube);
    w.kube.patchConfigMapData = async () => {
      throw new UnreachableError('patching configmap kube-system/cni-attach-node-node-1: the API server answered 403: forbidden');
    };
    expect(await w.cli(gcCommand, []), w.stderr()).toBe(0);
    expect(w.stderr()).toMatch(/note: net1 of pod shop\/web-1 on node node-1 could not be recorded in the cluster: .*403: forbidden/);
    expect(w.stderr()).toMatch(/note: the records of node node-1 could not be updated: .*403: forbidden/);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 1 alive\n');
    w.kube.patchConfigMapData = patch;
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe([
      `recorded net1 of pod shop/web-1 (network net) on node node-1: attached there without a record in namespace kube-system (--agent-namespace)`,
      `forgot the record of net1 of pod shop/web-1 (network net) on node node-1: the node holds nothing of it`,
      'gc: freed 0 stale attachments, 1 alive, 1 record added, 1 record removed',
      '',
    ].join('\n'));
    expect(await keys(w.kube)).toEqual(['node-1/web-1/f']);
  });

  it('reconcileRecords records only what its entry says belongs to the namespace reconciled: another namespace\'s, and (without legacy) an entry naming none, are not copied', () => {
    const held = [
      { containerId: C, ifname: 'net1', record: rec({ containerId: C, pod: 'a' }), recordedIn: 'kube-system' },
      { containerId: E, ifname: 'net1', record: rec({ containerId: E, pod: 'b' }), recordedIn: 'other' },
      { containerId: G, ifname: 'net1', record: rec({ containerId: G, pod: 'c' }) }, // an earlier version's entry
    ];
    const r = reconcileRecords('node-2', held, [], () => false, '/var/lib/cni', 'other');
    expect(r.add.map((x) => x.pod)).toEqual(['b']);
    expect(r.notCopied.map((n) => [n.record.pod, n.recordedIn])).toEqual([['a', 'kube-system'], ['c', undefined]]);
    const legacy = reconcileRecords('node-2', held, [], () => false, '/var/lib/cni', 'kube-system', true);
    expect(legacy.add.map((x) => x.pod)).toEqual(['a', 'c']);
    expect(legacy.notCopied.map((n) => n.record.pod)).toEqual(['b']);
  });

  it('cni-gc --node with another --agent-namespace does not copy the records of the attachments recorded in kube-system (they stayed "attached" there after their detach): a note names them and the cni-gc that reconciles them; still counted alive; -o json notRecorded', async () => {
    const w = twoNodes();
    put(w.node2, 'db-2', C); // attached by an attach of --agent-namespace kube-system, its record there
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: C }));
    w.kube.configMapCalls.length = 0;
    expect(await w.cli(gcCommand, ['--node', 'node-2', '--agent-namespace', 'other']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 1 alive\n');
    expect(w.stderr()).toMatch(new RegExp('^note: not recorded in namespace other \\(--agent-namespace\\): net1 of pod shop/db-2 \\(network net\\) on node node-2, held there without a record in it: its attach records it in namespace kube-system \\(its entry on the node says so\\): a record in other would be a copy, still saying attached once a detach with --agent-namespace kube-system removed the one there; `kubectl cni-gc --node node-2` reconciles it there$', 'm'));
    expect(await listRecords(w.kube, 'other')).toEqual([]);
    expect(w.kube.configMapCalls.filter((c) => !c.startsWith('list'))).toEqual([]);
    expect(await w.cli(gcCommand, ['--node', 'node-2', '--agent-namespace', 'other', '-o', 'json'])).toBe(0);
    expect(JSON.parse(w.stdout())).toMatchObject({ alive: 1, records: { added: [], notRecorded: [{ target: 'pod shop/db-2', node: 'node-2', ifname: 'net1', recordedIn: 'kube-system', why: expect.stringMatching(/^its attach records it in namespace kube-system/) }] } });
    // with its own namespace, as before: nothing to add (recorded there)
    expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 1 alive\n');
    expect(w.stderr()).not.toMatch(/not recorded/);
    // an attachment of `other` whose record is missing there is recorded there, and only there
    put(w.node2, 'db-2', C, false, 'uid-db-2', '/var/lib/cni', 'other');
    expect(await w.cli(gcCommand, ['--node', 'node-2', '--agent-namespace', 'other'])).toBe(0);
    expect(w.stdout()).toMatch(/^recorded net1 of pod shop\/db-2 \(network net\) on node node-2: attached there without a record in namespace other \(--agent-namespace\)$/m);
    expect((await listRecords(w.kube, 'other')).map((r) => r.pod)).toEqual(['db-2']);
  });

  it('an entry of an earlier version (no namespace on it): not recorded without --record-legacy (its record may be in another namespace), said with the cni-gc that does; --record-legacy records it', async () => {
    const w = twoNodes();
    put(w.node2, 'db-2', C, false, 'uid-db-2', '/var/lib/cni', null);
    expect(await w.cli(gcCommand, ['--node', 'node-2', '--dry-run']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('gc: would free 0 stale attachments, 1 alive\n');
    expect(w.stderr()).toMatch(/^note: not recorded in namespace kube-system \(--agent-namespace\): net1 of pod shop\/db-2 \(network net\) on node node-2, held there without a record in it: its entry on the node does not say which agent namespace its attach records it in \(made by an earlier version of cni-attach\): a record in kube-system could copy one of another namespace; `kubectl cni-gc --node node-2 --record-legacy` records it in kube-system, for an attachment you know was attached with that namespace \(or recorded nowhere\)$/m);
    expect(await w.cli(gcCommand, ['--node', 'node-2', '--record-legacy'])).toBe(0);
    expect(w.stdout()).toBe([
      'recorded net1 of pod shop/db-2 (network net) on node node-2: attached there without a record in namespace kube-system (--agent-namespace)',
      'gc: freed 0 stale attachments, 1 alive, 1 record added',
      '',
    ].join('\n'));
    expect(await keys(w.kube)).toEqual(['node-2/db-2/c']);
    // its entry on the node now names kube-system: a gc of another namespace leaves it to kube-system's (before: it
    // offered its own --record-legacy, and that made a second record, still saying attached after a detach — tryout 10)
    expect(await w.cli(gcCommand, ['--node', 'node-2', '--agent-namespace', 'other', '--dry-run']), w.stderr()).toBe(0);
    expect(w.stderr()).toMatch(/^note: not recorded in namespace other \(--agent-namespace\): net1 of pod shop\/db-2 \(network net\) on node node-2, held there without a record in it: its attach records it in namespace kube-system \(its entry on the node says so\)/m);
    expect(w.stderr()).not.toMatch(/record-legacy/);
    expect(await w.cli(gcCommand, ['--node', 'node-2', '--agent-namespace', 'other', '--record-legacy']), w.stderr()).toBe(0);
    expect(await listRecords(w.kube, 'other')).toEqual([]);
  });

  it('this host\'s cache alike: a cni-gc with another --agent-namespace does not copy what an attach recorded in kube-system; a detach with kube-system then leaves no record saying attached anywhere (tryout 8: the copy did)', async () => {
    const w = world();
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'net1', '--conf', '-']), w.stderr()).toBe(0);
    expect(await w.cli(gcCommand, ['--agent-namespace', 'other']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 1 alive\n');
    expect(w.stderr()).toMatch(/^note: not recorded in namespace other \(--agent-namespace\): net1 of pod shop\/web-1 \(network net\) on node node-1, held there without a record in it: its attach records it in namespace kube-system/m);
    expect(await listRecords(w.kube, 'other')).toEqual([]);
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'net1'])).toBe(0);
    expect([...(await listRecords(w.kube, 'kube-system')), ...(await listRecords(w.kube, 'other'))]).toEqual([]);
  });
});

describe('cni-list and the records of other nodes (a laptop: this host\'s cache is empty)', () => {
  /** shop/web-1 (app=web, node-1's fake pod), shop/web-2 (app=web), shop/db-1 (app=db), other/web-9 (app=web): each recorded on a node of its own. */
  async function laptop() {
    const w = world();
    w.deps.hostname = () => 'laptop';
    w.pod.metadata!.labels = { app: 'web' };
    w.pod.spec!.nodeName = 'node-3'; // where its records say it is (a pod runs on one node)
    // their attaches wrote their network-status (else each row says it is missing: unannotated in cli/list.ts)
    w.pod.metadata!.annotations = { ...w.pod.metadata!.annotations, ...{ [NETWORK_STATUS]: JSON.stringify([{ name: 'net', interface: 'net1' }]) } };
    w.kube.add(makePod({ name: 'web-2', namespace: 'shop', uid: 'uid-web-2', node: 'node-2', labels: { app: 'web' }, annotations: { [NETWORK_STATUS]: JSON.stringify([{ name: 'net', interface: 'net1' }]) } }));
    w.kube.add(makePod({ name: 'db-1', namespace: 'shop', uid: 'uid-db', node: 'node-3', labels: { app: 'db' }, annotations: { [NETWORK_STATUS]: JSON.stringify([{ name: 'net', interface: 'net1' }]) } }));
    w.kube.add(makePod({ name: 'web-9', namespace: 'other', uid: 'uid-web-9', node: 'node-4', labels: { app: 'web' }, annotations: { [NETWORK_STATUS]: JSON.stringify([{ name: 'net', interface: 'net1' }]) } }));
    await addRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-3', containerId: 'a'.repeat(64) }));
    await addRecord(w.kube, 'kube-system', rec({ pod: 'web-2', uid: 'uid-web-2', node: 'node-2', containerId: 'b'.repeat(64) }));
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-1', uid: 'uid-db', node: 'node-3', containerId: 'c'.repeat(64) }));
    await addRecord(w.kube, 'kube-system', rec({ namespace: 'other', pod: 'web-9', uid: 'uid-web-9', node: 'node-4', containerId: 'd'.repeat(64) }));
    const listed = async (args: string[]) => {
      expect(await w.cli(listCommand, [...args, '-o', 'json']), w.stderr()).toBe(0);
      return (JSON.parse(w.stdout()) as { items: { metadata: { namespace: string }; pod: string; state: string }[] }).items.map((x) => `${x.metadata.namespace}/${x.pod} ${x.state}`);
    };
    return { w, listed };
  }

  it('every filter applies to them as to this host\'s rows: -n, -A, -l (with -n and with -A), a pod name; --no-cluster shows none', async () => {
    const { w, listed } = await laptop();
    expect(await listed(['-n', 'shop'])).toEqual(['shop/db-1 attached', 'shop/web-1 attached', 'shop/web-2 attached']);
    expect(await listed(['-A'])).toEqual(['other/web-9 attached', 'shop/db-1 attached', 'shop/web-1 attached', 'shop/web-2 attached']);
    // -l: before, the records were never listed ("No resources found", exit 0)
    expect(await listed(['-n', 'shop', '-l', 'app=web'])).toEqual(['shop/web-1 attached', 'shop/web-2 attached']);
    expect(await listed(['-A', '-l', 'app=web'])).toEqual(['other/web-9 attached', 'shop/web-1 attached', 'shop/web-2 attached']);
    expect(await listed(['-n', 'shop', '-l', 'app=none'])).toEqual([]);
    expect(await listed(['web-2', '-n', 'shop'])).toEqual(['shop/web-2 attached']);
    // a name and -l: refused, as kubectl get refuses them (it was an empty list)
    expect(await w.cli(listCommand, ['web-2', '-n', 'shop', '-l', 'app=db'])).toBe(2);
    expect(w.stderr()).toBe('error: name cannot be provided when a selector is specified: give the pod or -l, not both\n');
    // the table too, and no note (all attached)
    expect(await w.cli(listCommand, ['-n', 'shop', '-l', 'app=web', '--no-headers'])).toBe(0);
    expect(w.stdout().trim().split('\n').map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(['web-1 eth1', 'web-2 eth1'].map((x) => x.replace('eth1', 'net1')));
    expect(w.stderr()).toBe('');
    // --no-cluster: this host's cache alone (empty here)
    expect(await w.cli(listCommand, ['-n', 'shop', '--no-cluster'])).toBe(0);
    expect(w.stderr()).toBe('No resources found in shop namespace.\n');
  });

  it('each row says which cache dir holds it: -o json/yaml cacheDir (the default too), -o wide CACHE-DIR, and a plainly attached row of another dir than the one read says so in REASON with the --cache-dir its cni-detach takes (tester: it looked like the listed dir\'s own, the pasted cni-detach exited 3)', async () => {
    const w = world();
    w.deps.hostname = () => 'laptop';
    for (const [pod, node, cacheDir] of [['web-2', 'node-2', '/tmp/x/cache2'], ['db-1', 'node-3', '/srv/a'], ['db-2', 'node-3', undefined]] as const) {
      w.kube.add(makePod({ name: pod, namespace: 'shop', uid: `uid-${pod}`, node, annotations: { [NETWORK_STATUS]: JSON.stringify([{ name: 'net', interface: 'net1' }]) } }));
      await addRecord(w.kube, 'kube-system', rec({ pod, uid: `uid-${pod}`, node, containerId: pod.replace(/\W/g, '').padEnd(64, 'f'), ...(cacheDir ? { cacheDir } : {}) }));
    }
    // json: every row's cacheDir, the default /var/lib/cni too
    expect(await w.cli(listCommand, ['-n', 'shop', '--cache-dir', '/srv/a/', '-o', 'json'])).toBe(0);
    const items = (JSON.parse(w.stdout()) as { items: { pod: string; cacheDir?: string; state: string; reason?: string }[] }).items;
    expect(items.map((x) => [x.pod, x.state, x.cacheDir])).toEqual([['db-1', 'attached', '/srv/a'], ['db-2', 'attached', '/var/lib/cni'], ['web-2', 'attached', '/tmp/x/cache2']]);
    expect(items.find((x) => x.pod === 'db-1')).not.toHaveProperty('reason');
    expect(items.find((x) => x.pod === 'web-2')!.reason).toBe('its attach kept it in cache dir /tmp/x/cache2 on node node-2, not in the one this cni-list reads (/srv/a): its cni-detach and cni-check take --cache-dir /tmp/x/cache2');
    expect(items.find((x) => x.pod === 'db-2')!.reason).toBe('its attach kept it in cache dir /var/lib/cni on node node-3, not in the one this cni-list reads (/srv/a): its cni-detach and cni-check take no --cache-dir (the default, /var/lib/cni)');
    // the table: the listed dir's row plain, the others' REASON names their dir; nothing to clear, no note
    expect(await w.cli(listCommand, ['-n', 'shop', '--cache-dir', '/srv/a', '--no-headers'])).toBe(0);
    expect(w.stdout()).toMatch(/^db-1\s.*\sattached\s+yes\s+\S+\s+<none>$/m);
    expect(w.stdout()).toMatch(/^db-2\s.*\sattached\s+yes\s+\S+\s+in cache dir \/var\/lib\/cni$/m);
    expect(w.stdout()).toMatch(/^web-2\s.*\sattached\s+yes\s+\S+\s+in cache dir \/tmp\/x\/cache2$/m);
    expect(w.stderr()).toBe('');
    // -o wide: a CACHE-DIR column after NODE
    expect(await w.cli(listCommand, ['-n', 'shop', '--cache-dir', '/srv/a', '-o', 'wide'])).toBe(0);
    expect(w.stdout()).toMatch(/\sNODE\s+CACHE-DIR\s+REASON\n/);
    expect(w.stdout()).toMatch(/^web-2\s.*\snode-2\s+\/tmp\/x\/cache2\s+in cache dir \/tmp\/x\/cache2$/m);
    expect(w.stdout()).toMatch(/^db-1\s.*\snode-3\s+\/srv\/a\s+<none>$/m);
    // no --cache-dir: the default is the one read
    expect(await w.cli(listCommand, ['-n', 'shop', '--no-headers'])).toBe(0);
    expect(w.stdout()).toMatch(/^db-2\s.*\s<none>$/m);
    expect(w.stdout()).toMatch(/^db-1\s.*\sin cache dir \/srv\/a$/m);
  });

  it('several pod names, as kubectl get pods a b: one table in the order given, a name given twice listed twice (as kubectl); a name nobody knows: the others\' rows, then its NotFound line (exit 3)', async () => {
    const { w, listed } = await laptop();
    // before: "too many arguments" (exit 2)
    expect(await listed(['web-2', 'db-1', '-n', 'shop'])).toEqual(['shop/web-2 attached', 'shop/db-1 attached']);
    expect(await listed(['pod/db-1', 'web-1', 'db-1', '-n', 'shop'])).toEqual(['shop/db-1 attached', 'shop/web-1 attached', 'shop/db-1 attached']);
    expect(await w.cli(listCommand, ['web-2', 'web-1', '-n', 'shop'])).toBe(0);
    const lines = w.stdout().trim().split('\n');
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(['POD', 'web-2', 'web-1']);
    expect(w.stderr()).toBe('');
    expect(await w.cli(listCommand, ['web-1', 'web-2', '-n', 'shop', '-o', 'name'])).toBe(0);
    expect(w.stdout()).toBe('attachment/web-1.net1\nattachment/web-2.net1\n');
    // names nobody knows, among known ones: the rows (stdout), then one line per name as given (exit 3)
    expect(await w.cli(listCommand, ['nope', 'web-1', 'nada', 'web-2', 'nope', '-n', 'shop'])).toBe(3);
    expect(w.stdout().trim().split('\n').map((l) => l.split(/\s+/)[0])).toEqual(['POD', 'web-1', 'web-2']);
    const nf = (n: string) => `error: pods "${n}" not found in namespace "shop", and no attachment of it is recorded here or in the cluster`;
    expect(w.stderr()).toBe(`${nf('nope')}\n${nf('nada')}\n${nf('nope')}\n`);
    // -o json: the List of the others, then the errors
    expect(await w.cli(listCommand, ['web-1', 'nope', '-n', 'shop', '-o', 'json'])).toBe(3);
    expect((JSON.parse(w.stdout()) as { kind: string; items: { pod: string }[] }).items.map((i) => i.pod)).toEqual(['web-1']);
    expect(w.stderr()).toBe(`${nf('nope')}\n`);
    // only unknown names: the errors alone, no "No resources found"; a known pod without attachments is no error
    expect(await w.cli(listCommand, ['nope', 'nada', '-n', 'shop'])).toBe(3);
    expect([w.stdout(), w.stderr()]).toEqual(['', `${nf('nope')}\n${nf('nada')}\n`]);
    w.kube.add(makePod({ name: 'idle', namespace: 'shop', uid: 'uid-idle', node: 'node-3' }));
    expect(await w.cli(listCommand, ['idle', 'web-1', '-n', 'shop', '--no-headers'])).toBe(0);
    expect(w.stdout()).toMatch(/^web-1\s+net1\s/);
    expect(await w.cli(listCommand, ['idle', 'nope', '-n', 'shop'])).toBe(3);
    expect([w.stdout(), w.stderr()]).toEqual(['', `${nf('nope')}\n`]);
    // with -A or -l, names stay refused (kubectl get's words)
    expect(await w.cli(listCommand, ['web-1', 'web-2', '-A'])).toBe(2);
    expect(w.stderr()).toMatch(/^error: a resource cannot be retrieved by name across all namespaces/);
    expect(await w.cli(listCommand, ['web-1', 'web-2', '-n', 'shop', '-l', 'app=web'])).toBe(2);
    expect(w.stderr()).toBe('error: name cannot be provided when a selector is specified: give the pod or -l, not both\n');
    // another kind than pods among them: refused before anything is asked
    expect(await w.cli(listCommand, ['web-1', 'deploy/web', '-n', 'shop'])).toBe(2);
    expect(w.stderr()).toMatch(/^error: "deploy\/web": "deploy" is not a pod/);
  });

  it('a server that does not answer: what could be listed, then one error (exit 4, as cni-gc; it was a note and exit 0), and the cluster is not asked again', async () => {
    const { w } = await laptop();
    let asked = 0;
    w.kube.listConfigMaps = async () => {
      asked++;
      throw new UnreachableError('listing configmaps in kube-system: connect ECONNREFUSED 127.0.0.1:6443');
    };
    const listPods = w.kube.listPods.bind(w.kube);
    w.kube.listPods = async (...a) => (asked++, listPods(...a));
    expect(await w.cli(listCommand, ['-A'])).toBe(4);
    // nothing to show: the error alone (it was "No resources found", then the error)
    expect(w.stderr()).toEqual(
      expect.stringMatching(/^error: the cluster could not be asked: listing configmaps in kube-system: connect ECONNREFUSED 127\.0\.0\.1:6443; this host's cache \(\S+\) has nothing to show, and attachments on other nodes are not known without the cluster\n$/),
    );
    expect(w.stdout()).toBe('');
    expect(asked).toBe(1);
  });

  it('a server that refuses the records (403) or the pods: the rows it could make, then the error (exit 4; the records\' was a note and exit 0)', async () => {
    const { ApiStatusError } = await import('../../src/errors.js');
    const forbidden = (what: string) => new ApiStatusError(`${what}: the API server answered 403 (Forbidden): configmaps is forbidden: User "me" cannot list resource "configmaps"`, 403, 'Forbidden', 'forbidden');
    // this host's own attachment, and the records refused: its row, then the error
    const { w } = await laptop();
    w.deps.hostname = () => 'node-1';
    await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth9', '--conf', '-', '--no-annotate']);
    w.exec.links.set(NETNS, new Set(['lo', 'eth9'])); // what the plugin made (the fake plugin makes no link)
    w.kube.listConfigMaps = async () => {
      throw forbidden('listing configmaps in kube-system');
    };
    expect(await w.cli(listCommand, ['-n', 'shop', '--no-headers'])).toBe(4);
    expect(w.stdout()).toMatch(/^web-1\s+eth9\s+net\s+198\.18\.0\.2\/24\s+attached\s+no\s+\S+\s+not in the pod's network-status$/m);
    // attached with --no-annotate: its row says so, with what writes it
    expect(w.stderr()).toBe(
      "note: to clear web-1 eth9 (attached): `kubectl cni-attach web-1 -n shop --ifname eth9 --conf FILE` (FILE: the config of network net it was attached with, or --net with its NetworkAttachmentDefinition)\n" +
      "error: the cluster's attachment records could not be read: listing configmaps in kube-system: the API server answered 403 (Forbidden): configmaps is forbidden: User \"me\" cannot list resource \"configmaps\"; attachments on other nodes are not shown\n",
    );
    // the pods refused too: the first failure decides, the next is a note
    w.kube.listPods = async () => {
      throw forbidden('listing pods in shop');
    };
    expect(await w.cli(listCommand, ['-n', 'shop', '--no-headers'])).toBe(4);
    expect(w.stdout()).toMatch(/^web-1\s+eth9\s+net\s+198\.18\.0\.2\/24\s+attached\s/);
    const lines = w.stderr().split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^note: the cluster could not be asked: listing pods in shop: the API server answered 403 \(Forbidden\)/);
    expect(lines[1]).toMatch(/^error: the cluster's attachment records could not be read: listing configmaps in kube-system: the API server answered 403/);
  });

  it('a kubeconfig that cannot be used: refused at once, no rows (exit 2; 4 for $KUBECONFIG), never "this host\'s cache only"; a cluster it cannot reach: exit 4 after this host\'s rows; no cluster configured at all: a note, exit 0', async () => {
    const { UsageError } = await import('../../src/errors.js');
    const w = world();
    await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-']);
    const kube = w.deps.kube;
    for (const [error, code] of [
      [new UsageError('context "nope" does not exist (kubeconfig /home/me/.kube/config)', { fix: { setting: 'context' } }), 2],
      [new UnreachableError('none of the kubeconfig files $KUBECONFIG names exists (/home/me/.kube/confg)'), 4],
    ] as const) {
      w.deps.kube = async () => {
        throw error;
      };
      expect(await w.cli(listCommand, ['-A', '--no-headers']), w.stderr()).toBe(code);
      expect(w.stdout()).toBe('');
      expect(w.stderr()).toBe(`error: ${error.message}${code === 2 ? '; see --context' : ''}\n`);
    }
    const none = new UnreachableError('no kubeconfig found (looked in /home/me/.kube/config; not in a pod either)');
    w.deps.kube = async () => {
      throw none;
    };
    // -A asks for the whole cluster: none configured is its failure (exit 4, no rows); without -A, this host's cache alone
    expect(await w.cli(listCommand, ['-A', '--no-headers']), w.stderr()).toBe(4);
    expect(w.stdout()).toBe('');
    expect(w.stderr()).toBe(`error: -A: ${none.message} (-A lists the attachments of the whole cluster; --no-cluster -A lists those of this host's CNI cache alone)\n`);
    expect(await w.cli(listCommand, ['-n', 'shop', '--no-headers']), w.stderr()).toBe(0);
    expect(w.stdout()).toMatch(/^web-1\s+eth1\s+net\s+198\.18\.0\.2\/24\s+attached\s/);
    expect(w.stderr()).toBe(`note: only this host's CNI cache was read, nothing in the cluster (its pods and the attachments recorded on other nodes are not included): ${none.message}\n`);
    // the client is made; its first request finds no server: the rows, then the error
    w.deps.kube = kube;
    const down = new UnreachableError('cannot reach the API server at https://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1');
    w.kube.listConfigMaps = async () => {
      throw down;
    };
    expect(await w.cli(listCommand, ['-A', '--no-headers']), w.stderr()).toBe(4);
    expect(w.stdout()).toMatch(/^shop\s+web-1\s+eth1\s+net\s+198\.18\.0\.2\/24\s+attached\s/);
    expect(w.stderr()).toBe(`error: the cluster could not be asked: ${down.message}; the states are from this host's cache only, and attachments on other nodes are not shown\n`);
  });

  it('the commands it prints carry the attach\'s recorded --cache-dir, so that they work on the first paste, but not its --cni-path (the command takes the path from the record, checked); old records still work', async () => {
    const w = world();
    w.deps.hostname = () => 'laptop';
    // attach with its own --cni-path and --cache-dir: the record names them (write-ahead and settled alike)
    w.exec.addPlugin('/opt/slow/bridge', (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult('eth1', '/proc/4242/ns/net')) } : {}));
    expect(await w.cli(attachCommand, [...attachArgs, '--cni-path', '/opt/slow', '--cache-dir', '/srv/cni/'])).toBe(0);
    const [r] = await listRecords(w.kube, 'kube-system');
    expect(r).toMatchObject({ cniPath: '/opt/slow', cacheDir: '/srv/cni' });
    // the defaults are not recorded
    expect(attachmentRecord({ namespace: 'shop', pod: 'p', uid: 'u', node: 'n', ifname: 'e', network: 'net', containerId: 'c', ...(await import('../../src/resolve/records.js')).delPathsOf({ cacheDir: '/var/lib/cni/' }) }, { interrupted: true })).not.toHaveProperty('cacheDir');
    // an interrupted record, a pod gone, an attaching record of other nodes: no command carries a record's --cni-path:
    // pasted, it would be the user's own, trusted as typed; the cni-detach and cni-gc take it from the record, checked
    await addRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-1', ifname: 'net5', containerId: '5'.repeat(64), interrupted: true, addresses: [], cniPath: '/opt/slow:/usr/lib/cni' }));
    await addRecord(w.kube, 'kube-system', rec({ cniPath: '/opt/gone' })); // db-1: no such pod
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-2', uid: 'uid-db-2', containerId: '2'.repeat(64) })); // an old record: neither
    const clear = async (args: string[]) => {
      expect(await w.cli(listCommand, ['-A', '-o', 'json', ...args])).toBe(0);
      return Object.fromEntries((JSON.parse(w.stdout()) as { items: { pod: string; ifname: string; clearCommand?: string }[] }).items.map((x) => [`${x.pod}/${x.ifname}`, x.clearCommand]));
    };
    // web-1 eth1 is this host's (the fake runtime's sandbox is here): its own cache row; the rest are records
    expect(await clear([])).toEqual({
      'web-1/eth1': undefined,
      'web-1/net5': 'kubectl cni-detach web-1 -n shop --ifname net5',
      'db-1/net1': 'kubectl cni-gc',
      'db-2/net1': 'kubectl cni-gc',
    });
    // cni-list's own --cni-path wins; its own --cache-dir goes only in the commands of records of that dir (before:
    // `kubectl cni-gc --cache-dir /srv/other` for a record of /var/lib/cni, a gc that looks in /srv/other and would
    // have forgotten that record, its attachment and lease left in /var/lib/cni; now it keeps it)
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-4', uid: 'uid-db-4', containerId: '4'.repeat(64), cacheDir: '/srv/other' }));
    expect(await clear(['--cni-path', '/opt/mine', '--cache-dir', '/srv/other/'])).toMatchObject({
      'web-1/net5': 'kubectl cni-detach web-1 -n shop --ifname net5 --cni-path /opt/mine',
      'db-1/net1': 'kubectl cni-gc --cni-path /opt/mine',
      'db-4/net1': 'kubectl cni-gc --cache-dir /srv/other/ --cni-path /opt/mine',
    });
    await removeRecordKeys(w.kube, 'kube-system', 'node-2', [recordKey('4'.repeat(64), 'net1')]);
    // a recorded --cache-dir goes in every command for that record, said as its record's (before: in none — the pasted
    // cni-detach said "give --cache-dir …", exit 3, and the REASON's plain cni-gc kept the record (an outside tester))
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-3', uid: 'uid-db-3', containerId: '3'.repeat(64), cacheDir: '/srv/cni' }));
    await addRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-1', ifname: 'net6', containerId: '6'.repeat(64), interrupted: true, addresses: [], cacheDir: '/tmp/x' }));
    expect(await clear([])).toMatchObject({ 'db-3/net1': 'kubectl cni-gc --cache-dir /srv/cni', 'web-1/net6': 'kubectl cni-detach web-1 -n shop --ifname net6 --cache-dir /tmp/x' });
    // the table's notes: one line per gc command, the record's cache dir in its own
    expect(await w.cli(listCommand, ['-A'])).toBe(0);
    expect(w.stderr().split('\n').filter((l) => l.includes('cni-gc'))).toEqual(['note: to clear the 2 records in state pod gone: `kubectl cni-gc`', 'note: to clear the record in state pod gone: `kubectl cni-gc --cache-dir /srv/cni`']);
    expect(w.stderr()).toContain("note: to clear web-1 net6 (interrupted): `kubectl cni-detach web-1 -n shop --ifname net6 --cache-dir /tmp/x` (add --force only if its DEL keeps failing: then the record is forgotten whatever the DEL left; --cache-dir /tmp/x: its record's (not checked here))\n");
    // -o wide: what clears it carries the dir too (before: "pod deleted; cni-gc frees it on its node", which kept it)
    expect(await w.cli(listCommand, ['-A', '-o', 'wide', '--no-headers'])).toBe(0);
    expect(w.stdout()).toMatch(/^shop\s+db-3\s.* pod deleted; cni-gc --cache-dir \/srv\/cni frees it on its node$/m);
    expect(w.stdout()).toMatch(/^shop\s+web-1\s+net6\s.* attach did not finish; cni-detach --cache-dir \/tmp\/x clears it$/m);
    // a gone pod's record read from the API alone does not claim its lease is held: a cni-gc stopped after its DEL
    // leaves such a record with nothing held on its node (before: "where its IPAM lease is still held", tryout 10)
    expect(await w.cli(listCommand, ['-A', '-o', 'json'])).toBe(0);
    const reasons = (JSON.parse(w.stdout()) as { items: { pod?: string; state: string; reason: string }[] }).items.filter((i) => i.state === 'pod gone').map((i) => i.reason);
    expect(reasons.length).toBeGreaterThan(0);
    for (const reason of reasons) {
      expect(reason).not.toContain('still held');
      expect(reason).toContain('where its IPAM lease is held unless a cni-gc freed it there and stopped before it removed this record');
      expect(reason).toContain('or forgets this record when that node holds nothing of it');
    }
  });

  it('notes of one kind are one note: 15 interrupted records of a --cache-dir batch make one line naming 5 pods and a count, with the cni-gc that clears them all and the cni-detach for each, both with that --cache-dir (tryout: 10 notes of ~400 characters); -o wide and -o json keep each one\'s', async () => {
    const w = manyPods(15);
    w.deps.hostname = () => 'laptop';
    w.runtime.sandboxes.clear(); // on other nodes
    for (let i = 1; i <= 15; i++) {
      await addRecord(w.kube, 'kube-system', rec({ pod: `web-${i}`, uid: `uid-${i}`, node: 'node-1', containerId: `${i}`.padStart(64, 'a'), interrupted: true, addresses: [], cacheDir: '/tmp/lc' }));
    }
    // and two write-aheads of commands past their bound, of that batch too: unsettled
    for (const [pod, uid] of [['db-1', 'uid-db'], ['web-1', 'uid-1']] as const) {
      await addAttachingRecord(w.kube, 'kube-system', rec({ pod, uid, node: 'node-1', ifname: 'net2', containerId: '', addresses: [], cacheDir: '/tmp/lc', by: { host: 'laptop-2', pid: 7 }, until: '2026-01-01T00:00:00Z' }));
    }
    expect(await w.cli(listCommand, ['-A'])).toBe(0);
    expect(w.stderr()).toBe([
      // (another host's, past their bound: the cni-list --node that tells whether cni-gc or cni-detach --force clears them)
      "note: to clear the 2 records in state unsettled of net2 of db-1, web-1: `kubectl cni-list -n shop --cache-dir /tmp/lc --node node-1` (cni-gc settles it unless node node-1 still holds the lock of that command of host laptop-2, killed — then only cni-detach --force takes it: that cni-list names the command; --cache-dir /tmp/lc: its record's (not checked here))",
      "note: to clear the 15 records in state interrupted of net1 of web-1, web-10, web-11, web-12, web-13, … and 10 more: `kubectl cni-gc --cache-dir /tmp/lc` clears them all, or `kubectl cni-detach POD -n shop --ifname net1 --cache-dir /tmp/lc` for each POD (add --force only if its DEL keeps failing: then the record is forgotten whatever the DEL left; --cache-dir /tmp/lc: its record's (not checked here))",
      '',
    ].join('\n'));
    // each one's own command stays in -o json
    expect(await w.cli(listCommand, ['-A', '-o', 'json'])).toBe(0);
    const items = (JSON.parse(w.stdout()) as { items: { pod: string; ifname: string; clearCommand: string }[] }).items;
    expect(items.find((x) => x.pod === 'web-7')!.clearCommand).toBe('kubectl cni-detach web-7 -n shop --ifname net1 --cache-dir /tmp/lc');
    expect(items.filter((x) => x.ifname === 'net2').map((x) => x.clearCommand)).toEqual(['kubectl cni-list -n shop --cache-dir /tmp/lc --node node-1', 'kubectl cni-list -n shop --cache-dir /tmp/lc --node node-1']);
  });

  it('a record that names another pod or uid than the attachment\'s is shown mismatched, never pod gone with a cni-gc hint: judged by this host\'s entry where it holds the key, else cross-checked against the API\'s pods', async () => {
    const { w, listed } = await laptop();
    const removal = (node: string, key: string) => `kubectl patch configmap cni-attach-node-${node} -n kube-system --type merge -p '{"data":{"${key}":null}}'`;
    // web-2 (node-2) has existed since before its record's attach, and carries net1 with its address in network-status
    const web2 = w.kube.pods.get('shop/web-2')!;
    web2.metadata!.creationTimestamp = new Date('2026-11-30T00:00:00Z');
    web2.metadata!.annotations = { 'k8s.v1.cni.cncf.io/network-status': JSON.stringify([{ name: 'net', interface: 'net1', ips: ['198.18.0.9'], default: false }]) };
    const key = `${'b'.repeat(64)}.6e657431`;
    const forge = async (o: Partial<AttachmentRecord>) => {
      await removeRecordKeys(w.kube, 'kube-system', 'node-2', [key]);
      await addRecord(w.kube, 'kube-system', rec({ pod: 'web-2', uid: 'uid-web-2', node: 'node-2', containerId: 'b'.repeat(64), ...o }));
    };
    const item = async (args: string[], pod: string) => {
      expect(await w.cli(listCommand, [...args, '-o', 'json']), w.stderr()).toBe(0);
      return (JSON.parse(w.stdout()) as { items: { pod: string; state: string; reason?: string; clearCommand?: string }[] }).items.find((i) => i.pod === pod);
    };

    // its uid edited: the pod of that name is there since before the attach, so the attach was to it
    await forge({ uid: 'uid-forged' });
    expect(await listed(['-n', 'shop'])).toContain('shop/web-2 mismatched');
    expect(await item(['-n', 'shop'], 'web-2')).toMatchObject({
      clearCommand: removal('node-2', key),
      reason: expect.stringContaining('pod shop/web-2 of uid "uid-web-2" has existed since 2026-11-30T00:00:00Z, before the attach the record names (2026-12-01T00:00:00Z): that attach was to it, not to uid "uid-forged"; the record is used for nothing'),
    });
    expect(await w.cli(listCommand, ['-n', 'shop'])).toBe(0);
    expect(w.stderr()).not.toContain('cni-gc`');
    expect(w.stderr()).toContain(`note: to clear web-2 net1 (mismatched): \`${removal('node-2', key)}\` (\`kubectl cni-gc --node node-2 --dry-run\` first reads what node node-2 holds and says whether the record matches it)`);

    // its pod name edited to a pod that does not exist: web-2 on its node carries the interface with its address; it
    // is shown under web-2 too (its own row would be hidden otherwise)
    await forge({ pod: 'ghost' });
    expect(await listed(['-n', 'shop'])).toContain('shop/ghost mismatched');
    expect(await item(['web-2', '-n', 'shop'], 'ghost')).toMatchObject({ state: 'mismatched', reason: expect.stringContaining('live pod "shop/web-2" on node node-2 carries net1 with "198.18.0.9" in its network-status') });

    // what the API does not contradict stays pod gone: a pod really deleted, a pod replaced after the attach
    await forge({ pod: 'ghost', addresses: ['198.18.0.77/24'] });
    expect(await listed(['-n', 'shop'])).toContain('shop/ghost pod gone');
    web2.metadata!.creationTimestamp = new Date('2026-12-02T00:00:00Z');
    web2.metadata!.annotations = {};
    await forge({ uid: 'uid-earlier' });
    expect(await listed(['-n', 'shop'])).toContain('shop/web-2 pod gone');
  });

  it('several mismatched records whose advice is of one kind are one note (one kubectl patch per ConfigMap, one cni-gc --node …,… --dry-run), and that cni-gc carries the records\' --cache-dir (before: one note each, the cni-gc without it: tryout)', async () => {
    const { w } = await laptop();
    const keyOf = (c: string) => `${c.repeat(64)}.6e657431`;
    // web-2 (node-2) and db-1 (node-3) have existed since before their records' attaches, and carry net1 with its address
    for (const [name, ip] of [['web-2', '198.18.0.9'], ['db-1', '198.18.0.8']] as const) {
      const p = w.kube.pods.get(`shop/${name}`)!;
      p.metadata!.creationTimestamp = new Date('2026-11-30T00:00:00Z');
      p.metadata!.annotations = { 'k8s.v1.cni.cncf.io/network-status': JSON.stringify([{ name: 'net', interface: 'net1', ips: [ip], default: false }]) };
    }
    // their records (of cache dir /tmp/theirs) edited to other uids, and a second one of node-2 (web-1's, made web-2's)
    await removeRecordKeys(w.kube, 'kube-system', 'node-2', [keyOf('b')]);
    await removeRecordKeys(w.kube, 'kube-system', 'node-3', [keyOf('c'), keyOf('a')]);
    await addRecord(w.kube, 'kube-system', rec({ pod: 'web-2', uid: 'uid-forged', node: 'node-2', containerId: 'b'.repeat(64), addresses: ['198.18.0.9/24'], cacheDir: '/tmp/theirs' }));
    await addRecord(w.kube, 'kube-system', rec({ pod: 'web-2', uid: 'uid-forged-2', node: 'node-2', containerId: 'e'.repeat(64), addresses: ['198.18.0.9/24'], cacheDir: '/tmp/theirs' }));
    await addRecord(w.kube, 'kube-system', rec({ pod: 'db-1', uid: 'uid-forged', node: 'node-3', containerId: 'c'.repeat(64), addresses: ['198.18.0.8/24'], cacheDir: '/tmp/theirs' }));
    expect(await w.cli(listCommand, ['-n', 'shop']), w.stderr()).toBe(0);
    const patch = (node: string, keys: string[]) => `kubectl patch configmap cni-attach-node-${node} -n kube-system --type merge -p '{"data":{${keys.map((k) => `"${k}":null`).join(',')}}}'`;
    expect(w.stderr()).toBe(
      `note: to clear the 3 records in state mismatched of net1 of db-1, web-2, web-2: \`${patch('node-3', [keyOf('c')])}\` and \`${patch('node-2', [keyOf('b'), keyOf('e')])}\` (\`kubectl cni-gc --cache-dir /tmp/theirs --node node-2,node-3 --dry-run\` first reads what nodes node-2, node-3 hold and says whether each record matches it)\n`,
    );
    // one of them alone: its note as before, its cni-gc with the record's --cache-dir
    await removeRecordKeys(w.kube, 'kube-system', 'node-2', [keyOf('b'), keyOf('e')]);
    expect(await w.cli(listCommand, ['-n', 'shop']), w.stderr()).toBe(0);
    expect(w.stderr()).toBe(`note: to clear db-1 net1 (mismatched): \`${patch('node-3', [keyOf('c')])}\` (\`kubectl cni-gc --cache-dir /tmp/theirs --node node-3 --dry-run\` first reads what node node-3 holds and says whether the record matches it)\n`);
  });

  it('a record of an attachment this host\'s cache holds is judged by that entry (recordAgainstNode): edited to name a pod of another namespace, it is mismatched, shown under both pods\' filters; one that matches is the entry\'s own row', async () => {
    const w = world(); // this host is node-1, web-1's node
    w.kube.add(makePod({ name: 'db-1', namespace: 'other', uid: 'uid-db-1', node: 'node-1' }));
    expect(await w.cli(attachCommand, [...attachArgs, '--no-annotate'])).toBe(0);
    w.exec.links.set(NETNS, new Set(['lo', 'eth1'])); // what the plugin made (the fake plugin makes no link)
    const [r] = await listRecords(w.kube, 'kube-system');
    const listedState = async (args: string[]) => {
      expect(await w.cli(listCommand, [...args, '-o', 'json']), w.stderr()).toBe(0);
      return (JSON.parse(w.stdout()) as { items: { metadata: { namespace: string }; pod: string; state: string; reason?: string }[] }).items.map((x) => `${x.metadata.namespace}/${x.pod} ${x.state}`);
    };
    expect(await listedState(['-A'])).toEqual(['shop/web-1 attached']);
    // edited: the record now says other/db-1 (alive, another uid) and then other/gone (no such pod)
    for (const [o, name] of [[{ namespace: 'other', pod: 'db-1' }, 'db-1'], [{ namespace: 'other', pod: 'gone', uid: 'uid-gone' }, 'gone']] as const) {
      await removeRecordKeys(w.kube, 'kube-system', 'node-1', [r!.key!]);
      const { key: _k, ...stored } = r!;
      await addRecord(w.kube, 'kube-system', { ...stored, ...o });
      expect(await listedState(['-n', 'other'])).toEqual([`other/${name} mismatched`]);
      expect(await listedState(['-n', 'shop'])).toEqual([`other/${name} mismatched`, 'shop/web-1 attached']);
      expect(await w.cli(listCommand, ['-n', 'other', '-o', 'json'])).toBe(0);
      expect(w.stdout()).toContain('node node-1 holds eth1 of container');
      expect(w.stdout()).toContain(`for pod \\"shop/web-1\\", not other/${name}`);
      expect(w.stdout()).not.toContain('--dry-run');
    }
  });

  it('an interrupted record of another node: plain cni-detach first, --force only if its DEL keeps failing — in the notes, -o wide and -o json', async () => {
    const w = world();
    w.deps.hostname = () => 'laptop';
    w.runtime.sandboxes.clear();
    await addRecord(w.kube, 'kube-system', rec({ pod: 'web-1', uid: 'uid-1', node: 'node-1', ifname: 'net5', containerId: '5'.repeat(64), interrupted: true, addresses: [] }));
    expect(await w.cli(listCommand, ['-n', 'shop'])).toBe(0);
    expect(w.stderr()).toBe('note: to clear web-1 net5 (interrupted): `kubectl cni-detach web-1 -n shop --ifname net5` (add --force only if its DEL keeps failing: then the record is forgotten whatever the DEL left)\n');
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'wide', '--no-headers'])).toBe(0);
    expect(w.stdout()).toMatch(/ node-1 +\/var\/lib\/cni +attach did not finish; cni-detach clears it \(--force if its DEL fails\)\n$/);
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'json'])).toBe(0);
    const item = (JSON.parse(w.stdout()) as { items: { clearCommand: string; reason: string }[] }).items[0]!;
    expect(item.clearCommand).toBe('kubectl cni-detach web-1 -n shop --ifname net5');
    expect(item.reason).toMatch(/: cni-detach runs its DEL and forgets it \(--force forgets it if that DEL keeps failing\)$/);
  });
});

describe('cni-gc and interrupted attaches of live pods on other nodes', () => {
  // the tryout's state: an attach whose ADD and rollback DEL failed on node-2 (its intent kept there, its lock free)
  // while its pod lives, recorded in the cluster as interrupted (its key) or still as its write-ahead (attaching)
  const C = 'c'.repeat(64);
  const E = 'e'.repeat(64);
  const A = 'a'.repeat(64);
  const conf = Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64');
  const put = (node: FakeExecutor, name: string, id: string, ifname: string, intent: boolean) => {
    const entry = { kind: 'cniCacheV1', containerId: id, config: conf, ifName: ifname, networkName: 'net', netns: `/proc/9/ns/net`, cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', name], ['K8S_POD_UID', `uid-${name}`]], ...(intent ? {} : { result: bridgeResult(ifname, '/proc/9/ns/net') }), cniAttachRecordsNamespace: 'kube-system' };
    node.files.set(`/var/lib/cni/${intent ? 'cni-attach/intents' : 'results'}/net-${id}-${ifname}`, JSON.stringify(entry));
  };
  const setup = (del: () => { code?: number; stdout?: string } = () => ({})) => {
    const w = world();
    const node2 = new FakeExecutor();
    node2.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'DEL' ? del() : {}));
    const reached: string[] = [];
    w.runtime.nodeExecutor = async (n: string) => (reached.push(n), n === 'node-2' ? node2 : undefined);
    w.deps.hostname = () => 'laptop';
    for (const [name, id] of [['db-2', C], ['db-3', E], ['db-4', A]] as const) {
      w.kube.add(makePod({ name, namespace: 'shop', uid: `uid-${name}`, node: 'node-2' }));
      w.runtime.add('shop', name, `uid-${name}`, { id, pid: 9, netnsPath: `/proc/9/ns/net` });
    }
    put(node2, 'db-2', C, 'net3', true);
    put(node2, 'db-3', E, 'net3', true);
    put(node2, 'db-4', A, 'net1', false); // attached, alive
    return { ...w, node2, reached };
  };
  const recorded = async (w: ReturnType<typeof world>) => (await listRecords(w.kube, 'kube-system')).map((r) => `${r.pod}/${r.ifname}${r.attaching ? '/attaching' : r.interrupted ? '/interrupted' : ''}`).sort();
  const records = async (w: ReturnType<typeof world>) => {
    await addRecord(w.kube, 'kube-system', attachmentRecord({ namespace: 'shop', pod: 'db-2', uid: 'uid-db-2', node: 'node-2', ifname: 'net3', network: 'net', containerId: C }, { interrupted: true }));
    await addAttachingRecord(w.kube, 'kube-system', rec({ pod: 'db-3', uid: 'uid-db-3', ifname: 'net3', containerId: '', addresses: [] }));
    await addRecord(w.kube, 'kube-system', attachmentRecord({ namespace: 'shop', pod: 'db-4', uid: 'uid-db-4', node: 'node-2', ifname: 'net1', network: 'net', containerId: A }, { result: bridgeResult('net1', '/proc/9/ns/net') }));
  };

  it('are freed on their node from their intent (DEL in the sandbox), their records forgotten; never counted alive; --dry-run and --node say the same', async () => {
    const w = setup();
    await records(w);
    const before = [...w.node2.files.keys()].sort();
    for (const args of [['--dry-run'], ['--dry-run', '--node', 'node-2']]) {
      // before: "gc: would free 0 stale attachments, 2 alive" (the interrupted record counted alive; node-2 not visited)
      expect(await w.cli(gcCommand, args)).toBe(0);
      expect(w.stdout()).toBe([
        'would free net3 of pod shop/db-2 (network net): an attach of it was interrupted (node node-2)',
        'would free net3 of pod shop/db-3 (network net): an attach of it was interrupted (node node-2)',
        'gc: would free 2 stale attachments, 1 alive',
        '',
      ].join('\n'));
      expect([...w.node2.files.keys()].sort()).toEqual(before);
      expect(w.node2.calls.filter((c) => c.command === 'DEL')).toEqual([]);
    }
    expect(await w.cli(gcCommand, ['--dry-run', '-o', 'json'])).toBe(0);
    expect(JSON.parse(w.stdout())).toMatchObject({ alive: 1, freed: [{ target: 'pod shop/db-2', ifname: 'net3' }, { target: 'pod shop/db-3', ifname: 'net3' }], failed: [], busy: [] });
    expect(await recorded(w)).toEqual(['db-2/net3/interrupted', 'db-3/net3/attaching', 'db-4/net1']);

    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toMatch(/^gc: freed 2 stale attachments, 1 alive$/m);
    expect(w.node2.calls.filter((c) => c.command === 'DEL').map((c) => [c.env.CNI_CONTAINERID, c.env.CNI_IFNAME, c.env.CNI_NETNS]).sort()).toEqual([[C, 'net3', '/proc/9/ns/net'], [E, 'net3', '/proc/9/ns/net']].sort());
    expect([...w.node2.files.keys()].filter((k) => k.includes('/intents/'))).toEqual([]);
    expect(await recorded(w)).toEqual(['db-4/net1']);
    // nothing left
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive, 1 kept (their pods exist; node not read: node-2: --node reads it)\n');
  });

  it('a live pod\'s attachment on a visited node whose interface is gone from its sandbox is not alive: counted apart, as on this host (its sandbox looked up there, its links read)', async () => {
    const w = setup();
    await records(w);
    // db-4's sandbox on node-2 as the node's look-up reads it: net1 is not among its links any more
    const find = w.runtime.findSandbox.bind(w.runtime);
    w.runtime.findSandbox = async (ref) => {
      const sb = await find(ref);
      return sb && ref.name === 'db-4' ? { ...sb, links: ['lo', 'eth0'] } : sb;
    };
    // before: "gc: freed 2 stale attachments, 1 alive"
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toMatch(/^gc: freed 2 stale attachments, 0 alive, 1 interface gone \(cni-detach frees its lease\)$/m);
    expect(w.stderr()).toContain(`note: net1 of pod shop/db-4 (network net) is not counted alive: net1 is not in the network namespace of sandbox ${A.slice(0, 12)} on node node-2 any more: deleted outside cni-attach (no DEL of ours was under way); its IPAM lease is still held: cni-detach frees it; run \`kubectl cni-detach db-4 -n shop --ifname net1\`\n`);
    expect(w.node2.calls.filter((c) => c.command === 'DEL' && c.env.CNI_CONTAINERID === A)).toEqual([]);
    expect(await recorded(w)).toEqual(['db-4/net1']);
    // its links read with net1 among them: alive
    w.runtime.findSandbox = async (ref) => {
      const sb = await find(ref);
      return sb ? { ...sb, links: ['lo', 'eth0', 'net1'] } : sb;
    };
    expect(await w.cli(gcCommand, ['--node', 'node-2', '-o', 'json'])).toBe(0);
    expect(JSON.parse(w.stdout())).toMatchObject({ alive: 1, interfaceGone: [] });
  });

  it('a live pod\'s attachment on a visited node whose DEL a cni-detach began there and did not finish (its mark, its lock free): cni-list --node says `detach stopped`, cni-gc finishes its DEL, as it undoes an interrupted attach', async () => {
    const w = setup();
    await records(w);
    const mark = `/var/lib/cni/cni-attach/deleting/net-${A}-net1`;
    w.node2.files.set(mark, JSON.stringify({ kind: 'cniAttachDeletingV1', command: 'cni-detach', at: '2026-12-02T05:00:00Z', host: 'laptop-2', pid: 77 }));
    expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2', '-o', 'json'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { items: { pod: string }[] }).items.find((i) => i.pod === 'db-4')).toMatchObject({
      state: 'detach stopped',
      reason: `a cni-detach (pid 77 on host laptop-2) stopped during its DEL of it at 2026-12-02T05:00:00Z: net1 in the network namespace of sandbox ${A.slice(0, 12)} on node node-2 and its IPAM lease may remain; run cni-detach again to finish it (DEL is idempotent)`,
      clearCommand: 'kubectl cni-detach db-4 -n shop --ifname net1',
    });
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toContain('freed net1 of pod shop/db-4 (network net): a DEL of it did not finish (a cni-detach or cni-gc stopped during it) (node node-2)\n');
    expect(w.stdout()).toMatch(/^gc: freed 3 stale attachments, 0 alive$/m);
    expect(w.node2.calls.filter((c) => c.command === 'DEL' && c.env.CNI_CONTAINERID === A).map((c) => c.env.CNI_NETNS)).toEqual(['/proc/9/ns/net']);
    expect([...w.node2.files.keys()].filter((k) => k.includes(A))).toEqual([]);
    expect(await recorded(w)).toEqual([]);
  });

  it('one whose DEL finished on the node, its command killed before it removed its mark (its lock held until its time limit): `detach stopped` with when the lock is free, not `interface gone`', async () => {
    const w = setup();
    await records(w);
    const mark = `/var/lib/cni/cni-attach/deleting/net-${A}-net1`;
    w.node2.files.set(mark, JSON.stringify({ kind: 'cniAttachDeletingV1', command: 'cni-detach', at: '2026-12-02T05:00:00Z', host: hostname(), pid: 4194303 }));
    // its command (this host's, gone) left its lock, 10 s into its 70 s limit; its DEL had deleted the link
    const lock = lockPath('/var/lib/cni', A, 'net1');
    w.node2.files.set(lock, `${hostname()} 4194303 1 limit=70s\n`);
    w.node2.ages.set(lock, 10_000);
    const find = w.runtime.findSandbox.bind(w.runtime);
    w.runtime.findSandbox = async (ref) => {
      const sb = await find(ref);
      return sb && ref.name === 'db-4' ? { ...sb, links: ['lo', 'eth0'] } : sb;
    };
    expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2', '-o', 'json'])).toBe(0);
    // before: "interface gone", "deleted outside cni-attach (no DEL of ours was under way); its IPAM lease is still held"
    expect((JSON.parse(w.stdout()) as { items: { pod: string }[] }).items.find((i) => i.pod === 'db-4')).toMatchObject({
      state: 'detach stopped',
      reason: `a cni-detach (pid 4194303 on this host ${hostname()}) stopped during its DEL of it at 2026-12-02T05:00:00Z: net1 is gone from the network namespace of sandbox ${A.slice(0, 12)} on node node-2 already (its DEL deleted it), but its IPAM lease may still be held; run cni-detach again to finish it (DEL is idempotent) (its lock is free in 60s: what it started may run until its time limit; until then cni-detach answers busy)`,
    });
    // the table and its note say that the cni-detach printed answers busy until the lock is free (tryout 8, F3)
    expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2'])).toBe(0);
    expect(w.stdout()).toMatch(/^db-4 +net1 +net +\S+ +detach stopped +\S+ +\S+ +DEL stopped; lock free in 60s$/m);
    expect(w.stderr()).toMatch(/^note: to clear db-4 net1 \(detach stopped\): `kubectl cni-detach db-4 -n shop --ifname net1` \(it answers busy until its lock is free, in 60s \(at \S+Z\)\)$/m);
    // cni-gc, which visits node-2 for it only with --node (its pod lives): left for a later run, with when — not
    // counted "interface gone (cni-detach frees its lease)"
    expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
    expect(w.stdout()).toMatch(/^gc: freed 2 stale attachments, 0 alive, 1 busy \(left for a later run\)$/m);
    expect(w.stderr()).toMatch(/^note: left net1 of pod shop\/db-4 \(network net\) alone: its command \(pid 4194303 on host \S+\) is gone, but what it started may run until its time limit ends \(its lock is free in 60s, at \S+Z: a cni-gc from then on acts on it\); a later cni-gc looks at it again$/m);
    expect(w.node2.files.has(mark)).toBe(true);
  });

  describe("a DEL mark of another host's cni-detach (a laptop killed during its DEL, which ran on to its end): judged by its lock (tryout 8, F7)", () => {
    // db-4's net1: its DEL deleted the link and freed the lease; its mark and its lock stay on node-2
    const marked = (w: ReturnType<typeof setup>, lock: { ageMs: number } | undefined) => {
      w.node2.files.set(`/var/lib/cni/cni-attach/deleting/net-${A}-net1`, JSON.stringify({ kind: 'cniAttachDeletingV1', command: 'cni-detach', at: '2026-12-02T19:15:32Z', host: 'laptop-2', pid: 31389 }));
      const path = lockPath('/var/lib/cni', A, 'net1');
      if (lock) {
        w.node2.files.set(path, 'laptop-2 31389 238392 limit=70s\n');
        w.node2.ages.set(path, lock.ageMs);
      }
      const find = w.runtime.findSandbox.bind(w.runtime);
      w.runtime.findSandbox = async (ref) => {
        const sb = await find(ref);
        return sb && ref.name === 'db-4' ? { ...sb, links: ['lo', 'eth0'] } : sb;
      };
    };
    type Item = { pod: string; state: string; reason?: string; clearCommand?: string };
    const db4 = (out: string) => (JSON.parse(out) as { items: Item[] }).items.find((i) => i.pod === 'db-4')!;

    it('its lock past its time limit: `detach stopped`, the other host named, with the cni-detach --force that finishes it (table, -o wide, note, -o json); cni-gc leaves it busy with that way out, not alive', async () => {
      const w = setup();
      await records(w);
      marked(w, { ageMs: 200_000 });
      expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2', '-o', 'json'])).toBe(0);
      // before: "interface gone", "net1 is not in … any more: deleted outside cni-attach (no DEL of ours was under way);
      // its IPAM lease is still held: cni-detach frees it", and a plain cni-detach that answered busy
      const item = db4(w.stdout());
      expect(item.state).toBe('detach stopped');
      expect(item.reason).toMatch(/^a cni-detach \(pid 31389 on host laptop-2\) stopped during its DEL of it at 2026-12-02T19:15:32Z: net1 is gone from the network namespace of sandbox a{12} on node node-2 already \(its DEL deleted it\), but its IPAM lease may still be held; run cni-detach again to finish it \(DEL is idempotent\); its lock is still held by that command of host laptop-2, which this host cannot see: cni-detach answers busy without --force \(only host laptop-2 can tell whether that command still runs; if you know it does not — that host is down, or the command was killed —, `kubectl cni-detach db-4 -n shop --ifname net1 --force` takes its lock at once: the time limit that lock holds \(70s since it last changed\) passed at \S+Z \(2m10s ago\)\)$/);
      expect(item.clearCommand).toBe('kubectl cni-detach db-4 -n shop --ifname net1 --force');
      expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2'])).toBe(0);
      expect(w.stdout()).toMatch(/^db-4 +net1 +net +\S+ +detach stopped +\S+ +\S+ +DEL stopped; --force: laptop-2's lock$/m);
      expect(w.stderr()).toMatch(/^note: to clear db-4 net1 \(detach stopped\): `kubectl cni-detach db-4 -n shop --ifname net1 --force` \(only if that command of host laptop-2 is gone \(only that host can tell\): --force takes its lock\)$/m);
      expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2', '-o', 'wide'])).toBe(0);
      expect(w.stdout()).toMatch(/DEL stopped; --force: laptop-2's lock; cni-detach --force finishes its DEL/);
      // cni-gc: its DEL answers busy (that host's lock): left, with the way out as true now — not counted alive
      // (before: "alive", no note)
      expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
      expect(w.stdout()).toMatch(/^gc: freed 2 stale attachments, 0 alive, 1 busy \(left for a later run\)$/m);
      expect(w.stderr()).toMatch(/^note: left net1 of pod shop\/db-4 \(network net\) alone: a cni-attach\/cni-detach \(pid 31389 on host laptop-2\) holds its lock: a command of another host, which this host cannot see \(only host laptop-2 can tell whether that command still runs; if you know it does not — that host is down, or the command was killed —, `kubectl cni-detach db-4 -n shop --ifname net1 --force` takes its lock at once: the time limit that lock holds \(70s since it last changed\) passed at \S+Z \(2m10s ago\)\); a later cni-gc looks at it again$/m);
      expect(w.node2.calls.filter((c) => c.command === 'DEL' && c.env.CNI_CONTAINERID === A)).toEqual([]);
      expect(w.node2.files.has(`/var/lib/cni/cni-attach/deleting/net-${A}-net1`)).toBe(true);
    });

    it('its lock within its time limit: its DEL may be running — attached (never "interface gone … no DEL of ours was under way"), saying whose and until when', async () => {
      const w = setup();
      await records(w);
      marked(w, { ageMs: 10_000 });
      expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2', '-o', 'json'])).toBe(0);
      const item = db4(w.stdout());
      expect(item.state).toBe('attached');
      expect(item.reason).toMatch(/^a cni-detach \(pid 31389 on host laptop-2\) began a DEL of it at 2026-12-02T19:15:32Z and holds its lock: a command of another host, which this host cannot see, whose DEL may be running now \(the time limit of its lock passes in 60s \(at \S+Z\)\) \(only host laptop-2 can tell whether that command still runs; if you know it does not — that host is down, or the command was killed —, `kubectl cni-detach db-4 -n shop --ifname net1 --force` takes its lock once the time limit that lock holds \(70s since it last changed\) has passed: it passes in 60s \(at \S+Z\)\)$/);
      // what ends it, and when (before: no command at all, the way out "a cni-detach --force of it")
      expect(item.clearCommand).toBe('kubectl cni-detach db-4 -n shop --ifname net1 --force');
      expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2'])).toBe(0);
      expect(w.stdout()).toMatch(/^db-4 +net1 +net +\S+ +attached +\S+ +\S+ +DEL may run 60s more: laptop-2's lock$/m);
      expect(w.stderr()).toMatch(/^note: to clear db-4 net1 \(attached\): `kubectl cni-detach db-4 -n shop --ifname net1 --force` \(only if that command of host laptop-2 is gone \(only that host can tell\), and once its lock's time limit has passed: it passes in 60s \(at \S+Z\); until then --force answers busy too\)$/m);
      expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2', '-o', 'wide'])).toBe(0);
      expect(w.stdout()).toMatch(/DEL may run 60s more: laptop-2's lock; then cni-detach --force finishes its DEL/);
    });

    it('its lock gone: `detach stopped`, the plain cni-detach (or cni-gc) finishes it', async () => {
      const w = setup();
      await records(w);
      marked(w, undefined);
      expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2', '-o', 'json'])).toBe(0);
      expect(db4(w.stdout())).toMatchObject({ state: 'detach stopped', clearCommand: 'kubectl cni-detach db-4 -n shop --ifname net1' });
      expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
      expect(w.stdout()).toMatch(/^gc: freed 3 stale attachments, 0 alive$/m);
    });
  });

  it('one whose DEL fails again is counted as could not be freed, with the reason (exit 1), not alive; its records stay', async () => {
    const w = setup(() => ({ code: 1, stdout: '{"code":11,"msg":"bad range"}' }));
    await records(w);
    expect(await w.cli(gcCommand, [])).toBe(1);
    expect(w.stdout()).toMatch(/^gc: freed 0 stale attachments, 1 alive, 2 could not be freed$/m);
    expect(w.stderr()).toMatch(/^note: could not free net3 of pod shop\/db-2: .*bad range/m);
    expect(await recorded(w)).toEqual(['db-2/net3/interrupted', 'db-3/net3/attaching', 'db-4/net1']);
    expect(await w.cli(gcCommand, ['-o', 'json'])).toBe(1);
    expect(JSON.parse(w.stdout())).toMatchObject({ alive: 1, freed: [], failed: [{ target: 'pod shop/db-2' }, { target: 'pod shop/db-3' }] });
  });

  it('one whose attach runs right now (its lock held on the node) stays busy, with its records', async () => {
    const w = setup();
    await records(w);
    w.node2.files.set(lockPath('/var/lib/cni', C, 'net3'), 'laptop-2 77 1\n');
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toMatch(/^freed net3 of pod shop\/db-3 \(network net\): an attach of it was interrupted \(node node-2\)$/m);
    expect(w.stdout()).toMatch(/^gc: freed 1 stale attachment, 1 alive, 1 busy \(left for a later run\)$/m);
    expect(w.stderr()).toContain('note: left net3 of pod shop/db-2 (network net) alone: a cni-attach/cni-detach (pid 77 on host laptop-2');
    expect(await recorded(w)).toEqual(['db-2/net3/interrupted', 'db-4/net1']);
  });

  /** db-3's net3: an attach of another host (laptop-2's, a limit of 70 s) killed mid-ADD, its lock on node-2 last changed `ageMs` ago. */
  const laptopLock = (w: ReturnType<typeof setup>, ageMs: number): string => {
    const lock = lockPath('/var/lib/cni', E, 'net3');
    w.node2.files.set(lock, 'laptop-2 26304 159882 limit=70s\n');
    w.node2.ages.set(lock, ageMs);
    return lock;
  };

  it("one whose attach is of another host, its lock within its time limit: cni-list --node names the cni-detach --force that ends it and from when (before: no command); cni-gc's note likewise, with gc's flags", async () => {
    const w = setup();
    await records(w);
    const lock = laptopLock(w, 30_000);
    const force = 'kubectl cni-detach db-3 -n shop --ifname net3 --cni-path /opt/cni/bin --force';
    expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2', '--cni-path', '/opt/cni/bin', '-o', 'json'])).toBe(0);
    const item = (JSON.parse(w.stdout()) as { items: { pod: string; state: string; reason: string; clearCommand?: string }[] }).items.find((i) => i.pod === 'db-3')!;
    expect(item.state).toBe('attaching');
    expect(item.clearCommand).toBe(force);
    expect(item.reason).toContain(`\`${force}\` takes its lock once the time limit that lock holds (70s since it last changed) has passed: it passes in 40s (at `);
    expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2', '--cni-path', '/opt/cni/bin'])).toBe(0);
    expect(w.stdout()).toMatch(/^db-3 +net3 +net +<none> +attaching +no +may run 40s more: laptop-2's lock$/m);
    expect(w.stderr()).toMatch(new RegExp(`^note: to clear db-3 net3 \\(attaching\\): \`${force}\` \\(only if that command of host laptop-2 is gone \\(only that host can tell\\), and once its lock's time limit has passed: it passes in 40s \\(at \\S+Z\\); until then --force answers busy too\\)$`, 'm'));
    for (const dry of [['--dry-run'], []]) {
      expect(await w.cli(gcCommand, ['--node', 'node-2', '--cni-path', '/opt/cni/bin', ...dry])).toBe(0);
      expect(w.stderr()).toContain(`, \`${force}\` takes its lock once the time limit that lock holds (70s since it last changed) has passed: it passes in 40s (at `);
    }
    expect(w.node2.files.get(lock)).toBe('laptop-2 26304 159882 limit=70s\n');
  });

  it("one whose attach was of another host, killed mid-ADD, its lock past its time limit: never \"right now\" nor \"try again when it is done\" — cni-list --node, cni-check, cni-attach and cni-gc say whose, since when, and the cni-detach --force that ends it (tryout 8, F2)", async () => {
    const w = setup();
    await records(w);
    const lock = laptopLock(w, 78_000);
    const force = 'kubectl cni-detach db-3 -n shop --ifname net3 --force';
    // before: `attaching`, REASON "attach running (pid 26304 on host laptop-2)" as of a live attach, "… holds its lock
    // on node node-2 right now; list again once it is done", no clearCommand
    expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2', '-o', 'json'])).toBe(0);
    const item = (JSON.parse(w.stdout()) as { items: { pod: string; state: string; reason: string; clearCommand?: string }[] }).items.find((i) => i.pod === 'db-3')!;
    expect(item.state).toBe('attaching');
    expect(item.reason).toMatch(/ and has not finished: a cni-attach\/cni-detach \(pid 26304 on host laptop-2\) holds its lock on node node-2: a command of another host, which this host cannot see; the time limit of its lock passed at \S+Z \(8s ago\), so nothing it started there runs any more \(only host laptop-2 can tell whether that command still runs; if you know it does not — that host is down, or the command was killed —, `kubectl cni-detach db-3 -n shop --ifname net3 --force` takes its lock at once: the time limit that lock holds \(70s since it last changed\) passed at \S+Z \(8s ago\)\)$/);
    expect(item.reason).not.toMatch(/right now|once it is done/);
    expect(item.clearCommand).toBe(force);
    expect(await w.cli(listCommand, ['-n', 'shop', '--node', 'node-2'])).toBe(0);
    expect(w.stdout()).toMatch(/^db-3 +net3 +net +<none> +attaching +no +limit passed; --force: laptop-2's lock$/m);
    expect(w.stderr()).toContain(`note: to clear db-3 net3 (attaching): \`${force}\``);
    // cni-gc leaves it (that host's lock), its note with the way out as true now (before: "is working on it right
    // now (… takes its lock once the time limit … has passed)", long after it had)
    expect(await w.cli(gcCommand, ['--node', 'node-2'])).toBe(0);
    expect(w.stderr()).toMatch(/^note: left net3 of pod shop\/db-3 \(network net\) alone: a cni-attach\/cni-detach \(pid 26304 on host laptop-2\) holds its lock: a command of another host, which this host cannot see \(.*`kubectl cni-detach db-3 -n shop --ifname net3 --force` takes its lock at once: the time limit that lock holds \(70s since it last changed\) passed at \S+Z \(8s ago\)\); a later cni-gc looks at it again$/m);
    expect(w.node2.files.get(lock)).toBe('laptop-2 26304 159882 limit=70s\n');
  });
});

describe("another host's lock past its time limit (an attach of a laptop killed mid-ADD), through cni-check and cni-attach", () => {
  it('busy (exit 1), saying whose lock, since when, and the cni-detach --force that ends it — not "is working on … right now; try again when it is done" (tryout 8, F2)', async () => {
    const w = world();
    const conf = Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64');
    w.exec.files.set(`/var/lib/cni/cni-attach/intents/net-${SANDBOX}-eth1`, JSON.stringify({ kind: 'cniCacheV1', containerId: SANDBOX, config: conf, ifName: 'eth1', networkName: 'net', netns: NETNS, cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'web-1'], ['K8S_POD_UID', 'uid-1']] }));
    const lock = lockPath('/var/lib/cni', SANDBOX, 'eth1');
    w.exec.files.set(lock, 'laptop-2 26304 159882 limit=70s\n');
    w.exec.ages.set(lock, 78_000);
    for (const [cmd, args] of [[checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']], [attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-']]] as const) {
      expect(await w.cli(cmd, [...args])).toBe(1);
      expect(w.stderr()).toMatch(/^error: another cni-attach\/cni-detach \(pid 26304 on host laptop-2\) holds the lock of eth1 in pod shop\/web-1: a command of another host, which this host cannot see \(only host laptop-2 can tell whether that command still runs; if you know it does not — that host is down, or the command was killed —, `kubectl cni-detach web-1 -n shop --ifname eth1 --force` takes its lock at once: the time limit that lock holds \(70s since it last changed\) passed at \S+Z \(8s ago\)\)$/m);
      expect(w.stderr()).not.toMatch(/right now|try again when it is done/);
    }
    expect(w.exec.files.get(lock)).toBe('laptop-2 26304 159882 limit=70s\n');
    // cni-list of this host's cache: not "attach running (…)" as of a live attach, and the --force detach clears it
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'json'])).toBe(0);
    const item = (JSON.parse(w.stdout()) as { items: { ifname: string; state: string; reason: string; clearCommand?: string }[] }).items.find((i) => i.ifname === 'eth1')!;
    expect(item).toMatchObject({ state: 'attaching', clearCommand: 'kubectl cni-detach web-1 -n shop --ifname eth1 --force' });
    expect(item.reason).toMatch(/^an attach of eth1 has not finished: a cni-attach\/cni-detach \(pid 26304 on host laptop-2\) holds its lock: a command of another host, which this host cannot see; the time limit of its lock passed at \S+Z \(8s ago\), so nothing it started there runs any more \(only host laptop-2 can tell/);
    expect(await w.cli(listCommand, ['-n', 'shop'])).toBe(0);
    expect(w.stdout()).toMatch(/ attaching .* limit passed; --force: laptop-2's lock$/m);
  });
});

describe('cni-gc and a live pod\'s write-ahead record: judged on its node', () => {
  // a write-ahead is written only once its attach found the sandbox (cli/attach.ts startAhead): an attach killed
  // before, e.g. while its agent pod was starting on a node where no agent ever runs, leaves none (the attach tests
  // above), so no record sends gc to a node that holds nothing of it; one that is there is of an attach on its way to
  // that node, and the node decides
  it('is judged on its node: one that cannot be reached keeps it (exit 4)', async () => {
    const w = world();
    w.kube.add(makePod({ name: 'web-far', namespace: 'shop', uid: 'uid-far', node: 'node-far' }));
    const reached: string[] = [];
    w.runtime.nodeExecutor = async (n: string) => {
      reached.push(n);
      throw new UnreachableError(`agent pod kube-system/cni-attach-agent-x on node ${n} did not start within 120s (ContainerCreating)`);
    };
    w.deps.hostname = () => 'laptop';
    const by = { host: thisHost.host, pid: process.pid, start: `${(await thisHost.start())!}0` }; // this pid, now another process: gone
    await addAttachingRecord(w.kube, 'kube-system', rec({ pod: 'web-far', uid: 'uid-far', node: 'node-far', ifname: 'net1', containerId: '', addresses: [], since: '2026-12-01T21:00:00Z', by }));
    expect(await w.cli(gcCommand, [])).toBe(4);
    expect(reached).toEqual(['node-far']);
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
  });
});

describe('cni-gc on a node that holds nothing of a live pod\'s write-ahead record (fault: kept, so every gc came back)', () => {
  const setup = () => {
    const w = world();
    const node2 = nodeTwo(w);
    const cid = 'c'.repeat(64);
    w.kube.add(makePod({ name: 'db-1', namespace: 'shop', uid: 'uid-db', node: 'node-2' }));
    w.runtime.add('shop', 'db-1', 'uid-db', { id: cid, pid: 9, netnsPath: '/proc/9/ns/net' });
    w.deps.hostname = () => 'laptop';
    return { ...w, node2, cid };
  };
  const ahead = (w: ReturnType<typeof world>, by: AttachmentRecord['by'], until?: string) =>
    addAttachingRecord(w.kube, 'kube-system', rec({ containerId: '', addresses: [], since: '2026-12-01T21:00:00Z', by, ...(until ? { until } : {}) }));
  /** What node-2 holds of db-1's net1: its intent's entry, with its result unless `intentOnly`. */
  const heldEntry = (w: ReturnType<typeof setup>, intentOnly = false) => ({
    kind: 'cniCacheV1', containerId: w.cid, config: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64'), ifName: 'net1', networkName: 'net', netns: '/proc/9/ns/net',
    cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'db-1'], ['K8S_POD_UID', 'uid-db']], ...(intentOnly ? {} : { result: bridgeResult('net1', '/proc/9/ns/net') }),
  });

  it('its command (this host\'s) gone and no intent, result or lock there: forgotten, said; the next gc does not visit', async () => {
    const w = setup();
    const by = { host: thisHost.host, pid: process.pid, start: `${(await thisHost.start())!}0` };
    await ahead(w, by);
    const line = `the record of net1 of pod shop/db-1 (network net) on node node-2: its attach (pid ${process.pid} on this host ${thisHost.host}), begun at 2026-12-01T21:00:00Z, is gone, and node node-2 holds nothing of it (no intent, no result, no lock)`;
    expect(await w.cli(gcCommand, ['--dry-run'])).toBe(0);
    expect(w.stdout()).toBe(`would forget ${line}\ngc: would free 0 stale attachments, 0 alive, 1 record to remove\n`);
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
    // its lock held on the node (what that command started may still run there): left alone
    w.node2.files.set(lockPath('/var/lib/cni', w.cid, 'net1'), 'laptop-2 77 1\n');
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive, 1 busy (left for a later run)\n');
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
    w.node2.files.delete(lockPath('/var/lib/cni', w.cid, 'net1'));
    // before: "gc: freed 0 stale attachments, 0 alive", the record kept, and node-2 visited again at every gc
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe(`forgot ${line}\ngc: freed 0 stale attachments, 0 alive, 1 record removed\n`);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
    let visits = 0;
    w.runtime.nodeExecutor = async () => (visits++, w.node2);
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(visits).toBe(0);
  });

  it('the node holds its result, no intent, no lock (its attach finished; its settle was cut, e.g. by a second Ctrl-C): cni-list shows it attached once the pod\'s network-status names it, and cni-gc settles the record from the node (was: attaching/interrupted until a detach)', async () => {
    const w = setup();
    const by = { host: thisHost.host, pid: process.pid, start: `${(await thisHost.start())!}0` }; // gone
    await ahead(w, by);
    const entry = heldEntry(w);
    w.node2.files.set(`/var/lib/cni/results/net-${w.cid}-net1`, JSON.stringify(entry));
    const row = async () => {
      expect(await w.cli(listCommand, ['-A', '-o', 'json'])).toBe(0);
      return (JSON.parse(w.stdout()) as { items: { pod: string; state: string; reason?: string; clearCommand?: string }[] }).items.find((i) => i.pod === 'db-1');
    };
    // its command gone, nothing else known here: unsettled (the node may hold anything)
    expect(await row()).toMatchObject({ state: 'unsettled' });
    // the pod's network-status names net1, written by the attach only after its ADD: attached, its record not settled
    w.kube.pods.get('shop/db-1')!.metadata!.annotations = { [NETWORK_STATUS]: JSON.stringify([{ name: 'kindnet', interface: 'eth0', default: true }, { name: 'net', interface: 'net1' }]) };
    expect(await row()).toMatchObject({ state: 'attached', clearCommand: 'kubectl cni-gc', reason: expect.stringMatching(/^an attach of net1 began on node node-2 at 2026-12-01T21:00:00Z and finished there \(the pod's network-status names net1, which the attach writes only after its ADD\), but its record still says attaching: .*cni-gc settles it from what node node-2 holds$/) });
    expect(await w.cli(listCommand, ['-A'])).toBe(0);
    expect(w.stderr()).toBe('note: to settle the record of attachments whose attach finished but whose record says attaching (REASON record not settled): `kubectl cni-gc`\n');
    const line = 'the record of net1 of pod shop/db-1 (network net) on node node-2: it said attaching since 2026-12-01T21:00:00Z, and its attach finished there (the node holds its result, no intent, no lock): attached, counted alive';
    expect(await w.cli(gcCommand, ['--dry-run'])).toBe(0);
    expect(w.stdout()).toBe(`would settle ${line}\ngc: would free 0 stale attachments, 1 alive\n`);
    expect((await listRecords(w.kube, 'kube-system')).map((r) => !!r.attaching)).toEqual([true]);
    // a lock held there: a command is working on it, left as it is
    w.node2.files.set(lockPath('/var/lib/cni', w.cid, 'net1'), 'laptop-2 77 1\n');
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).not.toMatch(/settle/);
    expect((await listRecords(w.kube, 'kube-system')).map((r) => !!r.attaching)).toEqual([true]);
    w.node2.files.delete(lockPath('/var/lib/cni', w.cid, 'net1'));
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe(`settled ${line}\ngc: freed 0 stale attachments, 1 alive\n`);
    const [r] = await listRecords(w.kube, 'kube-system');
    expect(r).toMatchObject({ pod: 'db-1', uid: 'uid-db', node: 'node-2', ifname: 'net1', network: 'net', containerId: w.cid, addresses: ['198.18.0.2/24'] });
    expect(r).not.toHaveProperty('attaching');
    expect(await row()).toMatchObject({ state: 'attached' });
    expect((await row())!.reason).toBeUndefined();
    // nothing more to do
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive, 1 kept (their pods exist; node not read: node-2: --node reads it)\n');
  });

  it('a write-ahead of an attach given --no-annotate (its record\'s noAnnotate): cni-gc settles it without writing the pod\'s network-status entry, and the settled record keeps noAnnotate; without it, the entry is written', async () => {
    for (const noAnnotate of [true, false]) {
      const w = setup();
      const by = { host: thisHost.host, pid: process.pid, start: `${(await thisHost.start())!}0` }; // gone
      await addAttachingRecord(w.kube, 'kube-system', rec({ containerId: '', addresses: [], since: '2026-12-01T21:00:00Z', by, ...(noAnnotate ? { noAnnotate } : {}) }));
      w.node2.files.set(`/var/lib/cni/results/net-${w.cid}-net1`, JSON.stringify(heldEntry(w)));
      expect(await w.cli(gcCommand, []), w.stderr()).toBe(0);
      expect(w.stdout()).toMatch(/^settled the record of net1 of pod shop\/db-1/m);
      const status = w.kube.pods.get('shop/db-1')!.metadata!.annotations?.[NETWORK_STATUS] ?? '[]';
      expect((JSON.parse(status) as { interface?: string }[]).some((e) => e.interface === 'net1'), `noAnnotate ${noAnnotate}`).toBe(!noAnnotate);
      const [r] = await listRecords(w.kube, 'kube-system');
      expect(r).not.toHaveProperty('attaching');
      if (noAnnotate) expect(r).toMatchObject({ noAnnotate: true });
      else expect(r).not.toHaveProperty('noAnnotate');
    }
  });

  it('a write-ahead of an interface attached by an attach of another --agent-namespace (its entry says so: an attach that found it there, then died): cni-gc of its namespace does not settle it (a copy of that record), forgets it once its command is gone; counted alive once', async () => {
    const w = setup();
    w.node2.files.set(`/var/lib/cni/results/net-${w.cid}-net1`, JSON.stringify({ ...heldEntry(w), cniAttachRecordsNamespace: 'kube-system' }));
    const by = { host: thisHost.host, pid: process.pid, start: `${(await thisHost.start())!}0` }; // gone
    await addAttachingRecord(w.kube, 'other', rec({ containerId: '', addresses: [], since: '2026-12-01T21:00:00Z', by }));
    expect(await w.cli(gcCommand, ['--agent-namespace', 'other']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe([
      `forgot the record of net1 of pod shop/db-1 (network net) on node node-2: its attach (pid ${process.pid} on this host ${thisHost.host}), begun at 2026-12-01T21:00:00Z, is gone, and net1 is attached there by an attach that records it in namespace kube-system (its entry on the node says so): this write-ahead is another attach's of it, whose settle would copy that record into other`,
      'gc: freed 0 stale attachments, 1 alive, 1 record removed',
      '',
    ].join('\n'));
    expect(await listRecords(w.kube, 'other')).toEqual([]);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
  });

  it('a write-ahead of an interface a settled record already names (another attach of it): cni-gc neither settles it over that record nor counts it alive twice; kept while its command may run, forgotten after; cni-list shows it as another attach, then not at all (tryout: "2 alive", since rewritten)', async () => {
    const w = setup();
    w.node2.files.set(`/var/lib/cni/results/net-${w.cid}-net1`, JSON.stringify(heldEntry(w)));
    await addRecord(w.kube, 'kube-system', rec({ containerId: w.cid, since: '2026-12-01T20:00:00Z' }));
    const settledSince = async () => (await listRecords(w.kube, 'kube-system')).filter((r) => !r.attaching).map((r) => r.since);
    const rows = async () => {
      expect(await w.cli(listCommand, ['-A', '-o', 'json'])).toBe(0);
      return (JSON.parse(w.stdout()) as { items: { pod: string; state: string; brief?: string; reason?: string }[] }).items.filter((i) => i.pod === 'db-1').map((i) => i.state);
    };
    // another host's, within its bound
    await ahead(w, { host: 'laptop-2', pid: 77, start: '1' }, '2099-01-01T00:00:00Z');
    expect(await rows()).toEqual(['attached', 'attaching']);
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 1 alive\n');
    expect(w.stderr()).toMatch(/note: kept the record of net1 of pod shop\/db-1 .*net1 is attached there and recorded by the attach of 2026-12-01T20:00:00Z \(the same sandbox\): this write-ahead is another attach's of it, and its attach \(pid 77 on host laptop-2\), begun at 2026-12-01T21:00:00Z, may still be running/);
    expect(await settledSince()).toEqual(['2026-12-01T20:00:00Z']);
    expect((await listRecords(w.kube, 'kube-system')).filter((r) => r.attaching)).toHaveLength(1);
    // past its bound: not listed, and forgotten (its dry run first)
    const [a] = (await listRecords(w.kube, 'kube-system')).filter((r) => r.attaching);
    await removeRecordKeys(w.kube, 'kube-system', 'node-2', [a!.key!]);
    await ahead(w, { host: 'laptop-2', pid: 77, start: '1' }, '2026-12-01T21:08:00Z');
    expect(await rows()).toEqual(['attached']);
    expect(await w.cli(gcCommand, ['--dry-run'])).toBe(0);
    expect(w.stdout()).toMatch(/^would forget the record of net1 of pod shop\/db-1 .*is past its time bound \(2026-12-01T21:08:00Z, which it recorded\), and net1 is attached there and recorded by the attach of 2026-12-01T20:00:00Z/m);
    expect(w.stdout()).toMatch(/^gc: would free 0 stale attachments, 1 alive/m);
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect((await listRecords(w.kube, 'kube-system')).map((r) => [!!r.attaching, r.since])).toEqual([[false, '2026-12-01T20:00:00Z']]);
  });

  it('cni-list --node judges a write-ahead record by what its node holds, as cni-gc and its dry run do, for every node state (tryout: the finished attach of a kill -9\'d batch listed interrupted with a cni-detach, while cni-gc --dry-run would settle it)', async () => {
    const result = (w: ReturnType<typeof setup>) => w.node2.files.set(`/var/lib/cni/results/net-${w.cid}-net1`, JSON.stringify(heldEntry(w)));
    const intent = (w: ReturnType<typeof setup>) => w.node2.files.set(`/var/lib/cni/cni-attach/intents/net-${w.cid}-net1`, JSON.stringify(heldEntry(w, true)));
    const lock = (w: ReturnType<typeof setup>) => w.node2.files.set(lockPath('/var/lib/cni', w.cid, 'net1'), 'laptop-2 77 1\n');
    const gone = async () => ({ host: thisHost.host, pid: process.pid, start: `${(await thisHost.start())!}0` });
    const cases: { held: string; node: (w: ReturnType<typeof setup>) => void; by?: 'other' | 'bounded' | 'past'; list: Record<string, unknown>; gc: RegExp; not?: RegExp }[] = [
      { held: 'its result, no lock (the attach finished)', node: result, list: { state: 'attached', reason: expect.stringMatching(/^an attach of net1 began on node node-2 at 2026-12-01T21:00:00Z and finished there \(node node-2 holds its result: no intent, no lock\), but its record still says attaching: .*; cni-gc settles it from what node node-2 holds, and writes the pod's network-status entry as the attach would have$/), clearCommand: 'kubectl cni-gc', containerId: 'c'.repeat(64), addresses: ['198.18.0.2/24'] }, gc: /^would settle the record of net1 of pod shop\/db-1 /m },
      { held: 'its result, its lock held', node: (w) => (result(w), lock(w)), list: { state: 'attaching', reason: expect.stringMatching(/holds its lock on node node-2 right now/) }, gc: /^gc: would free 0 stale attachments/m, not: /settle|would free net1/ },
      { held: 'its intent, no lock (killed during its ADD)', node: intent, list: { state: 'interrupted', reason: expect.stringMatching(/node node-2 holds its intent and no result, its lock free/), clearCommand: 'kubectl cni-detach db-1 -n shop --ifname net1' }, gc: /^would free net1 of pod shop\/db-1 \(network net\)/m },
      { held: 'its intent, its lock held', node: (w) => (intent(w), lock(w)), list: { state: 'attaching' }, gc: /1 busy \(left for a later run\)/, not: /would free net1/ },
      { held: 'nothing, its command gone', node: () => undefined, list: { state: 'interrupted', reason: expect.stringMatching(/node node-2 holds nothing of it \(no intent, no result, no lock\): only the record is left; cni-gc forgets it$/), clearCommand: 'kubectl cni-gc' }, gc: /^would forget the record of net1 of pod shop\/db-1 /m },
      { held: 'nothing, another host\'s command', node: () => undefined, by: 'other', list: { state: 'attaching', reason: expect.stringMatching(/; node node-2 holds nothing of it yet \(no intent, no result, no lock\)$/) }, gc: /^gc: would free 0 stale attachments, 0 alive$/m, not: /forget|settle/ },
      // another host's command within the time bound it recorded: as cni-detach (busy), not freed (tryout: gc freed it)
      { held: 'its intent, no lock, another host\'s command within its bound', node: intent, by: 'bounded', list: { state: 'attaching', reason: expect.stringMatching(/its command \(pid 77 on host laptop-2\) may still be running .*taken as running until 2099-01-01T00:00:00Z/) }, gc: /^gc: would free 0 stale attachments/m, not: /would free net1/ },
      { held: 'its intent, no lock, another host\'s command past its bound', node: intent, by: 'past', list: { state: 'interrupted', clearCommand: 'kubectl cni-detach db-1 -n shop --ifname net1' }, gc: /^would free net1 of pod shop\/db-1 \(network net\)/m },
    ];
    // an interrupted record (its attach failed, and so did its rollback): its intent, its lock held, or nothing held
    const interrupted: typeof cases = [
      { held: 'interrupted: its intent, no lock', node: intent, list: { state: 'interrupted', clearCommand: 'kubectl cni-detach db-1 -n shop --ifname net1' }, gc: /^would free net1 of pod shop\/db-1 \(network net\)/m },
      { held: 'interrupted: its intent, its lock held', node: (w) => (intent(w), lock(w)), list: { state: 'attaching', reason: expect.stringMatching(/holds its lock on node node-2 right now/) }, gc: /1 busy \(left for a later run\)/, not: /would free net1/ },
      { held: 'interrupted: nothing', node: () => undefined, list: { state: 'interrupted', reason: expect.stringMatching(/its record says interrupted, and node node-2 holds nothing of it \(no intent, no result, no lock\): only the record is left; cni-gc forgets it$/), clearCommand: 'kubectl cni-gc' }, gc: /^gc: would free 0 stale attachments, 0 alive/m, not: /would free net1/ },
    ];
    for (const c of [...cases, ...interrupted]) {
      const w = setup();
      if (interrupted.includes(c)) await addRecord(w.kube, 'kube-system', rec({ containerId: w.cid, addresses: [], since: '2026-12-01T21:00:00Z', interrupted: true }));
      else if (c.by === 'bounded' || c.by === 'past') await ahead(w, { host: 'laptop-2', pid: 77, start: '1' }, c.by === 'bounded' ? '2099-01-01T00:00:00Z' : '2026-12-01T21:08:00Z');
      else await ahead(w, c.by === 'other' ? { host: 'laptop-2', pid: 77, start: '1' } : await gone());
      c.node(w);
      expect(await w.cli(listCommand, ['-A', '--node', 'node-2', '-o', 'json']), `${c.held}: ${w.stderr()}`).toBe(0);
      const row = (JSON.parse(w.stdout()) as { items: Record<string, unknown>[] }).items.find((i) => i.pod === 'db-1');
      expect(row, c.held).toMatchObject(c.list);
      expect(await w.cli(gcCommand, ['--dry-run']), c.held).toBe(0);
      expect(w.stdout(), c.held).toMatch(c.gc);
      if (c.not) expect(w.stdout(), c.held).not.toMatch(c.not);
      if (c.held === 'interrupted: nothing') {
        // and gc forgets that record, as the row says
        expect(await w.cli(gcCommand, [])).toBe(0);
        expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
      }
    }
  });

  it('cni-gc settling a finished attach of a live pod writes what that attach did not: the pod\'s network-status entry (by the record\'s status name, else its network) and its event; --dry-run says it would; --no-annotate does not (tryout: the row then said "not in the pod\'s network-status")', async () => {
    for (const status of [undefined, 'shop/blue']) {
      const w = setup();
      await addAttachingRecord(w.kube, 'kube-system', rec({ containerId: '', addresses: [], since: '2026-12-01T21:00:00Z', by: { host: thisHost.host, pid: process.pid, start: `${(await thisHost.start())!}0` }, ...(status ? { status } : {}) }));
      const entry = heldEntry(w);
      w.node2.files.set(`/var/lib/cni/results/net-${w.cid}-net1`, JSON.stringify(entry));
      const line = 'the record of net1 of pod shop/db-1 (network net) on node node-2: it said attaching since 2026-12-01T21:00:00Z, and its attach finished there (the node holds its result, no intent, no lock): attached, counted alive';
      expect(await w.cli(gcCommand, ['--dry-run'])).toBe(0);
      expect(w.stdout()).toBe(`would settle ${line}; the pod's network-status does not name it: would write its entry (and event), as the attach would have\ngc: would free 0 stale attachments, 1 alive, 1 network-status entry to write (of attaches it settled)\n`);
      expect(w.kube.annotation('shop', 'db-1', NETWORK_STATUS)).toBeUndefined();
      expect(w.kube.events).toEqual([]);
      expect(await w.cli(gcCommand, ['--dry-run', '--no-annotate'])).toBe(0);
      expect(w.stdout()).toBe(`would settle ${line}\ngc: would free 0 stale attachments, 1 alive\n`);
      expect(await w.cli(gcCommand, ['-o', 'json'])).toBe(0);
      expect((JSON.parse(w.stdout()) as { records: { settledAttaching: unknown[] } }).records.settledAttaching).toEqual([expect.objectContaining({ target: 'pod shop/db-1', ifname: 'net1', networkStatus: 'written' })]);
      expect(w.kube.annotation('shop', 'db-1', NETWORK_STATUS)).toEqual([expect.objectContaining({ name: status ?? 'net', interface: 'net1', ips: ['198.18.0.2'] })]);
      expect(w.kube.events).toEqual([expect.objectContaining({ pod: 'db-1', reason: 'AddedInterface', message: expect.stringContaining('net1') })]);
      expect((await listRecords(w.kube, 'kube-system')).map((r) => !!r.attaching)).toEqual([false]);
      // cni-list: attached, nothing to say
      expect(await w.cli(listCommand, ['-A', '-o', 'json'])).toBe(0);
      const row = (JSON.parse(w.stdout()) as { items: Record<string, unknown>[] }).items.find((i) => i.pod === 'db-1')!;
      expect(row).toMatchObject({ state: 'attached' });
      expect(row.reason).toBeUndefined();
      expect(await w.cli(gcCommand, [])).toBe(0);
      expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive, 1 kept (their pods exist; node not read: node-2: --node reads it)\n');
    }
  });

  it('an attach whose command still runs here (between its unlock on the node and its settle): cni-gc leaves its record, its network-status and its event to it — busy, not "settled" (tryout 9, F4: gc beside a running attach -l)', async () => {
    const w = setup();
    await addAttachingRecord(w.kube, 'kube-system', rec({ containerId: '', addresses: [], since: '2026-12-01T21:00:00Z', by: { host: thisHost.host, pid: process.pid, start: (await thisHost.start())! } }));
    const entry = heldEntry(w);
    w.node2.files.set(`/var/lib/cni/results/net-${w.cid}-net1`, JSON.stringify(entry));
    for (const dry of [['--dry-run'], []]) {
      expect(await w.cli(gcCommand, dry)).toBe(0);
      // before: "settled the record of net1 of pod shop/db-1 … it said attaching since …, and its attach finished there"
      expect(w.stdout()).toBe(`gc: ${dry.length ? 'would free' : 'freed'} 0 stale attachments, 0 alive, 1 busy (left for a later run)\n`);
      expect(w.stderr()).toBe(`note: left net1 of pod shop/db-1 (network net) alone: a cni-attach/cni-detach (pid ${process.pid} on host ${thisHost.host}) is working on it right now; a later cni-gc looks at it again\n`);
    }
    expect((await listRecords(w.kube, 'kube-system')).map((r) => !!r.attaching)).toEqual([true]);
    expect(w.kube.annotation('shop', 'db-1', NETWORK_STATUS)).toBeUndefined();
    expect(w.kube.events).toEqual([]);
  });

  it('an attach that settled its record between gc\'s list of the records and its look at the node (its command gone since): not settled again, counted alive as it stands (tryout 9, F4)', async () => {
    const w = setup();
    const by = { host: thisHost.host, pid: process.pid, start: `${(await thisHost.start())!}0` }; // gone by the time gc asks
    const key = await ahead(w, by);
    const entry = heldEntry(w);
    const settledSince = '2026-12-01T21:00:05Z';
    // gc's first read of node-2's cache (after it listed the records): the attach has written its result there and
    // settled its record just before (one patch: the attachment's key, its write-ahead removed)
    const listDir = w.node2.listDir.bind(w.node2);
    let settled = false;
    w.node2.listDir = async (path) => {
      if (!settled) {
        settled = true;
        w.node2.files.set(`/var/lib/cni/results/net-${w.cid}-net1`, JSON.stringify(entry));
        await addRecord(w.kube, 'kube-system', rec({ containerId: w.cid, since: settledSince, addresses: ['198.18.0.2/24'] }), key);
      }
      return listDir(path);
    };
    expect(await w.cli(gcCommand, []), w.stderr()).toBe(0);
    // before: "settled the record of net1 of pod shop/db-1 (network net) on node node-2: it said attaching since …"
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 1 alive\n');
    expect(w.stderr()).toBe('');
    expect((await listRecords(w.kube, 'kube-system')).map((r) => [r.since, !!r.attaching])).toEqual([[settledSince, false]]);
  });

  it('another host\'s command: kept, with why (only that host can tell whether it runs)', async () => {
    const w = setup();
    await ahead(w, { host: 'laptop-2', pid: 77, start: '1' });
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive\n');
    expect(w.stderr()).toContain('note: kept the record of net1 of pod shop/db-1 (network net) on node node-2: node node-2 holds nothing of it yet, and its attach (pid 77 on host laptop-2), begun at 2026-12-01T21:00:00Z, may still be running: only on host laptop-2 can that be told, where `kubectl cni-gc` forgets it once its command is gone\n');
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
  });

  it('another host\'s command with a time bound: kept while within it (said), forgotten once past it, as a command of this host that is gone', async () => {
    const w = setup();
    const until = new Date(Date.now() + 600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await ahead(w, { host: 'laptop-2', pid: 77, start: '1' }, until);
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stderr()).toContain(`may still be running: only on host laptop-2 can that be told, where \`kubectl cni-gc\` forgets it once its command is gone; elsewhere after ${until}, its time bound\n`);
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
    const [r] = await listRecords(w.kube, 'kube-system');
    await removeRecordKeys(w.kube, 'kube-system', 'node-2', [r!.key!]);
    // past it (before: kept at every run, and every gc came back to node-2)
    await ahead(w, { host: 'laptop-2', pid: 77, start: '1' }, '2026-12-01T21:08:00Z');
    for (const [args, verb] of [[['--dry-run'], 'would forget'], [[], 'forgot']] as const) {
      expect(await w.cli(gcCommand, [...args])).toBe(0);
      expect(`${w.stdout()}${w.stderr()}`).toContain(`${verb} the record of net1 of pod shop/db-1 (network net) on node node-2: its attach (pid 77 on host laptop-2), begun at 2026-12-01T21:00:00Z, is past its time bound (2026-12-01T21:08:00Z, which it recorded), and node node-2 holds nothing of it (no intent, no result, no lock)`);
    }
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
  });
});

describe('otherHostWithinBound: another host\'s write-ahead within its bound (one rule for cni-detach, cni-gc and cni-list)', () => {
  const table = { host: 'vm', startOf: async (pid: number) => (pid === process.pid ? '42' : undefined) };
  const at = Date.parse('2026-12-01T21:00:00Z');
  it('is another host\'s (or no host\'s) record with an until not yet passed; never this host\'s, one past its until, or one without until', async () => {
    const other = { by: { host: 'laptop-2', pid: 77 }, until: '2026-12-01T21:08:00Z' };
    const cases: [Parameters<typeof recordedCommand>[0], number, boolean][] = [
      [other, at, true],
      [{ until: other.until }, at, true],
      [other, Date.parse('2026-12-01T21:08:01Z'), false],
      [{ by: other.by }, at, false],
      [{ by: { host: 'vm', pid: process.pid, start: '42' }, until: other.until }, at, false],
      [{ by: { host: 'vm', pid: 999999, start: '1' }, until: other.until }, at, false],
    ];
    for (const [r, now, want] of cases) expect(otherHostWithinBound(r, await recordedCommand(r, table, now)), JSON.stringify([r, now])).toBe(want);
  });
});
