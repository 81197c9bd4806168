/**
 * The cluster's records are checked field by field when read (resolve/records.ts validateRecord): anyone who may write
 * ConfigMaps in the agent namespace can write one, so a record is used only when it could have been the tool's. Each
 * field, good and bad; a record the tool writes (attached, write-ahead, interrupted, gc's) always passes.
 */
import { describe, expect, it } from 'vitest';
import { addAttachingRecord, addRecord, attachmentRecord, badRecordedPath, delPathsOf, entryPodGone, readRecords, recordAgainstNode, recordKey, recordName, shown, validateRecord, type AttachmentRecord } from '../../src/resolve/records.js';
import { detachCommand } from '../../src/cli/detach.js';
import { gcCommand } from '../../src/cli/gc.js';
import { listCommand } from '../../src/cli/list.js';
import { FakeExecutor } from '../fakes/executor.js';
import { FakeKube } from '../fakes/kube.js';
import { world } from '../fakes/world.js';

const CID = 'c'.repeat(64);
const good = (): Record<string, unknown> => ({
  kind: 'cniAttachRecordV1', namespace: 'shop', pod: 'web-1', uid: '5b0d6c3e-9c7e-4a57-b2b4-2f7c1b0c9d11', node: 'node-a', ifname: 'net1',
  network: 'blue', containerId: CID, since: '2026-12-01T12:00:00Z', addresses: ['198.18.0.9/24', '2001:db8::9/64'],
});
const CM = recordName('node-a');
const KEY = recordKey(CID, 'net1');

/** Why the record `change` makes of the good one is refused (undefined: it is valid), under `key`. */
function why(change: Record<string, unknown>, key = KEY, configMap = CM): string | undefined {
  const v = { ...good(), ...change };
  for (const [k, x] of Object.entries(change)) if (x === undefined) delete v[k];
  const r = validateRecord(configMap, key, JSON.stringify(v));
  return 'invalid' in r ? r.invalid.why : undefined;
}

describe('validateRecord: each field, good and bad', () => {
  it('a record as the tool writes it passes, and only the fields it knows are kept', () => {
    const r = validateRecord(CM, KEY, JSON.stringify({ ...good(), cniPath: '/opt/cni/bin:/usr/lib/cni', cacheDir: '/srv/cni', extra: 'x' }));
    expect(r).toEqual({ record: { ...good(), kind: undefined, cniPath: '/opt/cni/bin:/usr/lib/cni', cacheDir: '/srv/cni' } });
    expect('record' in r && 'kind' in r.record).toBe(false);
    expect('record' in r && 'extra' in r.record).toBe(false);
  });

  it('not JSON, not an object, another kind', () => {
    expect(validateRecord(CM, KEY, '{"kind":').valueOf()).toMatchObject({ invalid: { why: 'its value is not JSON', configMap: CM, key: KEY } });
    expect(validateRecord(CM, KEY, '[1]')).toMatchObject({ invalid: { why: 'its value is not a JSON object' } });
    expect(why({ kind: 'cniAttachRecordV2' })).toBe('its kind is "cniAttachRecordV2", not cniAttachRecordV1');
    expect(why({ kind: undefined })).toBe('its kind is undefined, not cniAttachRecordV1');
  });

  it('the key: a ConfigMap key, the attachment\'s own, or a write-ahead key for an attaching record', () => {
    expect(why({}, `${KEY}x`)).toMatch(/^its key "c+… is not that of its container id and interface \("c+…\)$/);
    expect(why({}, 'a b')).toBe('its key "a b" is not a ConfigMap key');
    expect(why({ attaching: true }, 'attaching.uid.6e657431.0a1b2c3d')).toBeUndefined();
    expect(why({ attaching: true, containerId: '' }, 'attaching.uid.6e657431.0a1b2c3d')).toBeUndefined();
    expect(why({ attaching: true }, KEY)).toMatch(/is not an attach's write-ahead key/);
  });

  it('namespace: a DNS label', () => {
    for (const ok of ['shop', 'a', 'kube-system', `a${'b'.repeat(62)}`]) expect(why({ namespace: ok }), ok).toBeUndefined();
    for (const bad of ['Shop', 'shop;rm -rf /', '-shop', 'shop.a', '', 'a'.repeat(64)]) expect(why({ namespace: bad }), bad).toMatch(/^namespace .* is not a DNS label/);
    expect(why({ namespace: 7 })).toBe('its namespace is 7, not a string');
    expect(why({ namespace: undefined })).toBe('its namespace is missing');
  });

  it('pod and node: DNS subdomains; the node the ConfigMap\'s', () => {
    for (const ok of ['web-1', 'web.1', 'a'.repeat(253)]) expect(why({ pod: ok }), ok).toBeUndefined();
    for (const bad of ['Web', 'web_1', "web-1'; touch /x", 'web-', '.web', 'a'.repeat(254)]) expect(why({ pod: bad }), bad).toMatch(/^pod name .* is not a DNS subdomain/);
    expect(why({ node: 'node_a' }, KEY, recordName('node_a'))).toMatch(/^node name "node_a" is not a DNS subdomain/);
    expect(why({ node: 'node-b' })).toBe(`node "node-b" is not the node of ConfigMap ${CM}`);
    expect(why({ node: 'n'.repeat(250) }, KEY, recordName('n'.repeat(250)))).toBeUndefined();
  });

  it('uid: at most 128 of [-._a-zA-Z0-9] (empty: a record gc made without one)', () => {
    for (const ok of ['', 'uid-web-1', 'a'.repeat(128)]) expect(why({ uid: ok }), ok).toBeUndefined();
    for (const bad of ['a b', 'a'.repeat(129), 'uid/1']) expect(why({ uid: bad }), bad).toMatch(/^uid .* is not a Kubernetes uid/);
  });

  it('ifname: the kernel\'s and CNI\'s rule (as for --ifname)', () => {
    for (const ok of ['eth1', 'net1', 'a'.repeat(15)]) expect(why({ ifname: ok }, recordKey(CID, ok)), ok).toBeUndefined();
    for (const bad of ['', 'a'.repeat(16), '.', '..', 'a/b', 'a:b', 'eth%d', 'a b']) {
      expect(why({ ifname: bad }, recordKey(CID, bad) || 'x'), bad).toMatch(/^interface name .* is not one the kernel and CNI take/);
    }
  });

  it('status (a write-ahead\'s network-status name, which cni-gc may write into the pod): a NetworkAttachmentDefinition\'s NAMESPACE/NAME', () => {
    expect(why({ status: 'shop/blue.net' })).toBeUndefined();
    for (const bad of ['blue', 'shop/', '/blue', 'Shop/blue', 'shop/blue/x', 'shop/blue net', 7]) expect(why({ status: bad }), String(bad)).toMatch(/^its (network-status name .* is not a NetworkAttachmentDefinition's NAMESPACE\/NAME|status is 7, not a string)$/);
  });
  it('network and container id: CNI\'s rule; the container id empty only while attaching; their cache file name within NAME_MAX', () => {
    expect(why({ network: 'blue.net_1-a' })).toBeUndefined();
    for (const bad of ['', '-blue', 'blue net', 'blue/x']) expect(why({ network: bad }), bad).toMatch(/^network name .* breaks CNI's rule/);
    expect(why({ containerId: 'x-y' }, recordKey('x-y', 'net1'))).toBeUndefined();
    expect(why({ containerId: '-x' }, recordKey('-x', 'net1'))).toMatch(/^container id "-x" breaks CNI's rule/);
    expect(why({ containerId: '' }, recordKey('', 'net1'))).toBe('its container id is empty, and it is not an attach in progress');
    const long = 'c'.repeat(240);
    expect(why({ containerId: long }, recordKey(long, 'net1'))).toBeUndefined();
    expect(why({ containerId: long, network: 'b'.repeat(20) }, recordKey(long, 'net1'))).toMatch(/too long for a cache file name \(NAME_MAX, 255 bytes\)$/);
  });

  it('since: RFC 3339; addresses: CIDRs', () => {
    for (const ok of ['2026-12-01T12:00:00Z', '2026-12-01T12:00:00.123+02:00']) expect(why({ since: ok }), ok).toBeUndefined();
    for (const bad of ['yesterday', '2026-12-01', '2026-13-45T99:00:00Z']) expect(why({ since: bad }), bad).toMatch(/^since .* is not an RFC 3339 time$/);
    expect(why({ addresses: [] })).toBeUndefined();
    expect(why({ addresses: undefined })).toBeUndefined();
    expect(why({ addresses: '198.18.0.9/24' })).toBe('its addresses are "198.18.0.9/24", not a list');
    for (const bad of ['198.18.0.9', '198.18.0.9/33', '2001:db8::1/129', 'x/24', 7]) expect(why({ addresses: [bad] }), String(bad)).toMatch(/^address .* is not an address\/prefix \(CIDR\)$/);
  });

  it('states: attaching and interrupted are booleans, not both; noAnnotate a boolean; why a short string', () => {
    expect(why({ interrupted: true, addresses: [], why: 'the connection to the node was lost during its ADD' })).toBeUndefined();
    expect(why({ interrupted: 'yes' })).toBe('its interrupted is "yes", not true or false');
    expect(why({ attaching: 1 }, 'attaching.x')).toBe('its attaching is 1, not true or false');
    expect(why({ attaching: true, interrupted: true }, 'attaching.x')).toBe('it is marked both attaching and interrupted');
    expect(why({ why: 'x'.repeat(1025) })).toBe('its why is longer than 1024 characters');
    expect(why({ why: 3 })).toBe('its why is 3, not a string');
    // an attach given --no-annotate: a boolean, carried on
    expect(why({ noAnnotate: true })).toBeUndefined();
    expect(why({ noAnnotate: 'yes' })).toBe('its noAnnotate is "yes", not true or false');
    const r = validateRecord(CM, KEY, JSON.stringify({ ...good(), noAnnotate: true }));
    expect('record' in r && r.record.noAnnotate).toBe(true);
  });

  it('no string holds a control or format character: escape sequences, newlines, NUL, bidirectional overrides', () => {
    expect(why({ why: 'ok\u001b]0;pwned\u0007' })).toBe('its why "ok\\u001b]0;pwned\\u0007" holds a control character');
    expect(why({ network: 'blue\nred' })).toBe('its network "blue\\nred" holds a control character');
    expect(why({ cniPath: '/opt/cni/bin\u0000' })).toBe('its cniPath "/opt/cni/bin\\u0000" holds a control character');
    expect(why({ pod: 'web\u202e1' })).toBe('its pod "web\\u202e1" holds a control character');
  });

  it('cniPath: absolute normalized directories joined by ":", within PATH_MAX each and MAX_ARG_STRLEN in all; empty is absent', () => {
    for (const ok of ['/opt/cni/bin', '/opt/cni/bin:/usr/lib/cni', '/', '/opt/my plugins']) expect(why({ cniPath: ok }), ok).toBeUndefined();
    const empty = validateRecord(CM, KEY, JSON.stringify({ ...good(), cniPath: '', cacheDir: '' }));
    expect('record' in empty && !('cniPath' in empty.record) && !('cacheDir' in empty.record)).toBe(true);
    expect(why({ cniPath: 'plugins' })).toBe('cniPath entry "plugins" is not an absolute path');
    expect(why({ cniPath: '/opt/cni/bin:' })).toBe('cniPath entry "" is not an absolute path');
    expect(why({ cniPath: '/opt/cni/bin/' })).toBe('cniPath entry "/opt/cni/bin/" is not a normalized path ("/opt/cni/bin")');
    expect(why({ cniPath: '/opt/../tmp/x' })).toBe('cniPath entry "/opt/../tmp/x" is not a normalized path ("/tmp/x")');
    expect(why({ cniPath: '/opt//cni' })).toMatch(/is not a normalized path/);
    expect(why({ cniPath: `/${'a'.repeat(4095)}` })).toBe('cniPath entry is longer than PATH_MAX (4096 bytes)');
    expect(why({ cniPath: Array.from({ length: 40 }, () => `/${'a'.repeat(4000)}`).join(':') })).toMatch(/^its cniPath is longer than a plugin's CNI_PATH may be \(MAX_ARG_STRLEN/);
    expect(why({ cniPath: ['/opt'] })).toBe('its cniPath is ["/opt"], not a string');
  });

  it('cacheDir: one absolute normalized path', () => {
    expect(why({ cacheDir: '/srv/cni' })).toBeUndefined();
    expect(why({ cacheDir: 'cache' })).toBe('cacheDir "cache" is not an absolute path');
    expect(why({ cacheDir: '/srv/./cni' })).toBe('cacheDir "/srv/./cni" is not a normalized path ("/srv/cni")');
    expect(badRecordedPath('/a:b', 'cacheDir')).toBeUndefined();
  });

  it('until (the time bound of a write-ahead record): RFC 3339, only on an attaching record', () => {
    const ahead = { attaching: true, containerId: '' };
    expect(why({ ...ahead, until: '2026-12-01T21:08:00Z' }, 'attaching.uid.6e657431.0a0b0c0d')).toBeUndefined();
    expect(why({ ...ahead, until: 'soon' }, 'attaching.uid.6e657431.0a0b0c0d')).toBe('until "soon" is not an RFC 3339 time');
    expect(why({ ...ahead, until: 7 }, 'attaching.uid.6e657431.0a0b0c0d')).toBe('its until is 7, not a string');
    expect(why({ until: '2026-12-01T21:08:00Z' })).toBe('it has an until, and it is not an attach in progress');
  });

  it('by (the command of a write-ahead record): a host name, a pid, a start time; nothing else', () => {
    for (const ok of [{ host: 'laptop', pid: 4242 }, { host: 'laptop.example', pid: 1, start: '123456' }]) expect(why({ by: ok }), JSON.stringify(ok)).toBeUndefined();
    expect(why({ by: 'laptop' })).toBe('its by is "laptop", not an object');
    expect(why({ by: [] })).toBe('its by is [], not an object');
    expect(why({ by: { host: '', pid: 1 } })).toBe('its by.host "" is not a host name');
    expect(why({ by: { host: 'a\u001b[2Jb', pid: 1 } })).toMatch(/^its by.host .* is not a host name$/);
    for (const pid of [0, -1, 1.5, '12', 2 ** 60]) expect(why({ by: { host: 'h', pid } }), String(pid)).toMatch(/^its by.pid .* is not a process id$/);
    expect(why({ by: { host: 'h', pid: 1, start: 7 } })).toBe('its by.start 7 is not a process start time');
    expect(why({ by: { host: 'h', pid: 1, cmd: 'rm -rf /' } })).toBe('its by has a field "cmd" it does not know');
  });

  it('shown: quoted, escaped, cut short', () => {
    expect(shown('a\u009bb\u2028')).toBe('"a\\u009bb\\u2028"');
    expect(shown('x'.repeat(100))).toBe(`"${'x'.repeat(38)}…`);
  });

  it('an invalid record keeps its namespace and pod as written (for filters) and its node when that is the ConfigMap\'s', () => {
    const r = validateRecord(CM, KEY, JSON.stringify({ ...good(), cniPath: 'x' }));
    expect(r).toEqual({ invalid: { configMap: CM, key: KEY, keyJson: `"${KEY}"`, shownKey: KEY, why: 'cniPath entry "x" is not an absolute path', namespace: 'shop', pod: 'web-1', node: 'node-a' } });
    // a key the API server would not take (a stand-in's) is shown escaped
    expect(validateRecord(CM, 'a\u001b[2Jb', '{}')).toMatchObject({ invalid: { keyJson: '"a\\u001b[2Jb"', shownKey: '"a\\u001b[2Jb"' } });
    const other = validateRecord(recordName('node-b'), KEY, JSON.stringify(good()));
    expect('invalid' in other && other.invalid.node).toBeUndefined();
  });
});

describe('records the tool writes pass; readRecords splits valid and invalid', () => {
  it('attached, write-ahead, interrupted and gc\'s records (uid empty) pass; an attach\'s --cni-path and --cache-dir are written normalized', async () => {
    const kube = new FakeKube();
    const at = { namespace: 'shop', pod: 'web-1', uid: 'uid-1', node: 'node-a', ifname: 'net1', network: 'blue', containerId: CID, ...delPathsOf({ cniPath: '/opt/x/:/usr//lib/cni', cacheDir: '/srv/cni/' }) };
    expect(at).toMatchObject({ cniPath: '/opt/x:/usr/lib/cni', cacheDir: '/srv/cni' });
    await addRecord(kube, 'kube-system', attachmentRecord(at, { result: { cniVersion: '1.0.0', ips: [{ address: '198.18.0.2/24' }] } }));
    await addRecord(kube, 'kube-system', attachmentRecord({ ...at, ifname: 'net2' }, { interrupted: true }));
    await addRecord(kube, 'kube-system', attachmentRecord({ ...at, ifname: 'net3', uid: '', cniPath: undefined, cacheDir: undefined } as AttachmentRecord, { result: {} }));
    await addAttachingRecord(kube, 'kube-system', { ...attachmentRecord({ ...at, ifname: 'net4', containerId: '' }, { interrupted: true }), interrupted: undefined, addresses: [] } as AttachmentRecord);
    const { records, invalid } = await readRecords(kube, 'kube-system');
    expect(invalid).toEqual([]);
    expect(records.map((r) => r.ifname).sort()).toEqual(['net1', 'net2', 'net3', 'net4']);
  });

  it('an invalid entry is not among the records, and is named with why', async () => {
    const kube = new FakeKube();
    await addRecord(kube, 'kube-system', attachmentRecord({ namespace: 'shop', pod: 'web-1', uid: 'u', node: 'node-a', ifname: 'net1', network: 'blue', containerId: CID }, { result: {} }));
    await kube.patchConfigMapData('kube-system', CM, { 'x.6e657439': JSON.stringify({ ...good(), ifname: 'net9', containerId: 'x', cniPath: '/tmp/../tmp/evil' }) });
    const { records, invalid } = await readRecords(kube, 'kube-system');
    expect(records.map((r) => r.ifname)).toEqual(['net1']);
    expect(invalid).toEqual([expect.objectContaining({ configMap: CM, key: 'x.6e657439', why: 'cniPath entry "/tmp/../tmp/evil" is not a normalized path ("/tmp/evil")', namespace: 'shop', pod: 'web-1', node: 'node-a' })]);
  });
});

describe('an invalid record through the commands: shown by cni-list, left alone by cni-gc, not used by cni-detach', () => {
  /** A laptop (this host's cache empty) whose cluster holds a forged entry for shop/db-1 on node-2, next to a valid record. */
  async function forged(change: Record<string, unknown>) {
    const w = world();
    w.deps.hostname = () => 'laptop';
    w.runtime.sandboxes.clear();
    w.pod.spec!.nodeName = 'node-2'; // where its record says it is (a pod runs on one node)
    // its attach wrote its network-status (else its row says it is missing)
    w.pod.metadata!.annotations = { ...w.pod.metadata!.annotations, 'k8s.v1.cni.cncf.io/network-status': JSON.stringify([{ name: 'net', interface: 'net1' }]) };
    await addRecord(w.kube, 'kube-system', attachmentRecord({ namespace: 'shop', pod: 'web-1', uid: 'uid-1', node: 'node-2', ifname: 'net1', network: 'net', containerId: 'a'.repeat(64) }, { result: {} }));
    const key = recordKey('b'.repeat(64), 'net2');
    const value = { ...good(), node: 'node-2', pod: 'db-1', uid: 'uid-db', ifname: 'net2', containerId: 'b'.repeat(64), ...change };
    await w.kube.patchConfigMapData('kube-system', recordName('node-2'), { [key]: JSON.stringify(value) });
    return { w, key, removal: `kubectl patch configmap cni-attach-node-node-2 -n kube-system --type merge -p '{"data":{"${key}":null}}'` };
  }

  it('cni-list -A: a row `record:<configmap>/<key>` in state invalid with why, and the kubectl patch that removes it; -n picks it by the namespace it holds', async () => {
    const { w, key, removal } = await forged({ pod: "db-1'; touch /tmp/x; '" });
    expect(await w.cli(listCommand, ['-A'])).toBe(0);
    const lines = w.stdout().trim().split('\n');
    expect(lines[1]).toMatch(new RegExp(`^- +record:cni-attach-node-node-2/${key.replace('.', '\\.')} +- +- +<none> +invalid +<unknown> +- +pod name "db-1'; touch /tmp/x; '" is\\.\\.\\.$`));
    expect(lines[2]).toMatch(/^shop +web-1 +net1 /);
    expect(w.stderr()).toBe(`note: to clear record:cni-attach-node-node-2/${key} (invalid): \`${removal}\`\n`);
    expect(await w.cli(listCommand, ['-A', '-o', 'json', '--kubeconfig', '/k/config'])).toBe(0);
    const item = (JSON.parse(w.stdout()) as { items: Record<string, unknown>[] }).items.find((i) => i.state === 'invalid')!;
    expect(item).toMatchObject({ pod: `record:cni-attach-node-node-2/${key}`, node: 'node-2', clearCommand: `${removal} --kubeconfig /k/config` });
    expect(item.reason).toBe(`the record ${key} of ConfigMap kube-system/cni-attach-node-node-2 is not valid: pod name "db-1'; touch /tmp/x; '" is not a DNS subdomain (RFC 1123: at most 253 of a-z, 0-9, '-' and '.'); no command uses it (cni-gc and cni-detach leave it alone): remove it with kubectl patch`);
    // the filters: it says namespace shop
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'name'])).toBe(0);
    expect(w.stdout()).toBe(`attachment/record:cni-attach-node-node-2/${key}.-\nattachment/web-1.net1\n`);
    expect(await w.cli(listCommand, ['-n', 'other', '-o', 'name'])).toBe(0);
    expect(w.stdout()).toBe('');
  });

  it('cni-gc: its pod is gone, but nothing is done for it (no node reached, no DEL, the entry stays), and a note says so with the command that removes it; gc exits 0', async () => {
    const { w, key, removal } = await forged({ cniPath: '/tmp/evil/../evil' });
    const reached: string[] = [];
    w.runtime.nodeExecutor = async (n: string) => (reached.push(n), new FakeExecutor());
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stderr()).toContain(`note: the record ${key} of ConfigMap kube-system/cni-attach-node-node-2 is not valid, so it is left alone: cniPath entry "/tmp/evil/../evil" is not a normalized path ("/tmp/evil"); \`${removal}\` removes it\n`);
    expect(reached).toEqual([]);
    expect(Object.keys(w.kube.configMaps.get(`kube-system/${recordName('node-2')}`)!.data)).toContain(key);
    expect(await w.cli(gcCommand, ['-o', 'json'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { records: { invalid: unknown[] } }).records.invalid).toEqual([{ configMap: 'cni-attach-node-node-2', key, why: expect.stringMatching(/^cniPath entry/), removeCommand: removal }]);
  });

  it('cni-detach of its pod given no --cni-path takes the path of the newest valid record, not of a newer invalid one', async () => {
    const { w } = await forged({ pod: 'web-1', uid: 'uid-1', ifname: 'net1', containerId: 'b'.repeat(64), since: '2030-01-01T00:00:00Z', cniPath: '/tmp/evil:/x/../y' });
    // the valid record of web-1 net1 (older), with the attach's own --cni-path
    await addRecord(w.kube, 'kube-system', { ...attachmentRecord({ namespace: 'shop', pod: 'web-1', uid: 'uid-1', node: 'node-2', ifname: 'net1', network: 'net', containerId: 'a'.repeat(64), cniPath: '/opt/x' }, { result: {} }), since: '2026-01-01T00:00:00Z' });
    await w.kube.patchConfigMapData('kube-system', recordName('node-2'), { [recordKey('b'.repeat(64), 'net1')]: JSON.stringify({ ...good(), node: 'node-2', pod: 'web-1', uid: 'uid-1', containerId: 'b'.repeat(64), since: '2030-01-01T00:00:00Z', cniPath: '/tmp/evil:/x/../y' }) });
    await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'net1', '--dry-run']);
    expect(w.stderr()).toContain('note: plugins looked for in /opt/x, where the attach of net1 found them (its record; --cni-path overrides)\n');
    expect(w.stderr()).not.toContain('/tmp/evil');
  });
});

describe('a record judged against what its node holds (recordAgainstNode, entryPodGone)', () => {
  const rec: AttachmentRecord = { namespace: 'shop', pod: 'web-1', uid: 'u1', node: 'node-a', ifname: 'net1', network: 'net', containerId: 'sb1', since: '2024-01-01T00:00:00Z' };
  const held = (o: { network?: string; args?: [string, string][]; unreadable?: string } = {}) => ({
    entry: { networkName: o.network ?? 'net', cniArgs: o.args ?? [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'web-1'], ['K8S_POD_UID', 'u1']] as [string, string][] },
    ...(o.unreadable ? { unreadable: o.unreadable } : {}),
  });

  it('the entry\'s pod when the record says what the entry says; nothing held is a stale record; an unreadable entry judges nothing', () => {
    expect(recordAgainstNode(rec, [held()], 'node-a')).toEqual({ pod: { namespace: 'shop', name: 'web-1', uid: 'u1' } });
    expect(recordAgainstNode(rec, [], 'node-a')).toEqual({ unheld: true });
    expect(recordAgainstNode(rec, [held({ unreadable: 'cut short' })], 'node-a')).toEqual({ unreadable: 'cut short' });
    // an entry without a uid: its pod is whichever has its name (the record's uid is not taken for it)
    expect(recordAgainstNode(rec, [held({ args: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'web-1']] })], 'node-a')).toEqual({ pod: { namespace: 'shop', name: 'web-1' } });
  });

  it('another pod name, namespace, uid or network, or no pod at all: a mismatch, with the entry\'s pod', () => {
    const live = { namespace: 'shop', name: 'web-1', uid: 'u1' };
    expect(recordAgainstNode({ ...rec, pod: 'web-9' }, [held()], 'node-a')).toEqual({ mismatch: 'node node-a holds net1 of container "sb1" (network net) for pod "shop/web-1", not shop/web-9', held: live });
    expect(recordAgainstNode({ ...rec, namespace: 'other' }, [held()], 'node-a')).toEqual({ mismatch: 'node node-a holds net1 of container "sb1" (network net) for pod "shop/web-1", not other/web-1', held: live });
    expect(recordAgainstNode({ ...rec, uid: 'forged' }, [held()], 'node-a')).toEqual({ mismatch: 'node node-a holds net1 of container "sb1" (network net) for pod shop/web-1 of uid "u1", not "forged"', held: live });
    expect(recordAgainstNode({ ...rec, network: 'other' }, [held()], 'node-a')).toEqual({ mismatch: 'node node-a holds net1 of container "sb1" for network "net", not "other"' });
    expect(recordAgainstNode(rec, [held({ args: [] })], 'node-a')).toEqual({ mismatch: 'node node-a holds net1 of container "sb1" (network net) for no pod (its CNI_ARGS name none), not for pod shop/web-1' });
    // of two networks under one key, the record's is the one judged
    expect(recordAgainstNode(rec, [held({ network: 'a' }), held()], 'node-a')).toEqual({ pod: live });
  });

  it('entryPodGone: no pod of that name, or another uid; an entry without a uid is alive while a pod has its name', () => {
    const pods = new Map([['shop/web-1', { uid: 'u1' }]]);
    expect(entryPodGone({ namespace: 'shop', name: 'web-1', uid: 'u1' }, pods)).toBe(false);
    expect(entryPodGone({ namespace: 'shop', name: 'web-1', uid: 'u0' }, pods)).toBe(true);
    expect(entryPodGone({ namespace: 'shop', name: 'web-2', uid: 'u2' }, pods)).toBe(true);
    expect(entryPodGone({ namespace: 'shop', name: 'web-1' }, pods)).toBe(false);
    expect(entryPodGone({ namespace: 'shop', name: 'web-2' }, pods)).toBe(true);
  });
});
