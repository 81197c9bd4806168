/**
 * The cluster's records are checked field by field when read (resolve/records.ts validateRecord): anyone who may write
 * ConfigMaps in the agent namespace can write one, so a record is used only when it could have been the tool's. Each
 * field, good and bad; a record the tool writes (attached, write-ahead, interrupted, gc's) always passes.
 */
import { describe, expect, it } from 'vitest';
import { addAttachingRecord, addRecord, attachmentRecord, badRecordedPath, delPathsOf, readRecords, recordKey, recordName, shown, validateRecord, type AttachmentRecord } from '../../src/resolve/records.js';
import { FakeKube } from '../fakes/kube.js';

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

  it('states: attaching and interrupted are booleans, not both; why a short string', () => {
    expect(why({ interrupted: true, addresses: [], why: 'the connection to the node was lost during its ADD' })).toBeUndefined();
    expect(why({ interrupted: 'yes' })).toBe('its interrupted is "yes", not true or false');
    expect(why({ attaching: 1 }, 'attaching.x')).toBe('its attaching is 1, not true or false');
    expect(why({ attaching: true, interrupted: true }, 'attaching.x')).toBe('it is marked both attaching and interrupted');
    expect(why({ why: 'x'.repeat(1025) })).toBe('its why is longer than 1024 characters');
    expect(why({ why: 3 })).toBe('its why is 3, not a string');
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

  it('shown: quoted, escaped, cut short', () => {
    expect(shown('a\u009bb\u2028')).toBe('"a\\u009bb\\u2028"');
    expect(shown('x'.repeat(100))).toBe(`"${'x'.repeat(38)}…`);
  });

  it('an invalid record keeps its namespace and pod as written (for filters) and its node when that is the ConfigMap\'s', () => {
    const r = validateRecord(CM, KEY, JSON.stringify({ ...good(), cniPath: 'x' }));
    expect(r).toEqual({ invalid: { configMap: CM, key: KEY, why: 'cniPath entry "x" is not an absolute path', namespace: 'shop', pod: 'web-1', node: 'node-a' } });
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
    expect(invalid).toEqual([{ configMap: CM, key: 'x.6e657439', why: 'cniPath entry "/tmp/../tmp/evil" is not a normalized path ("/tmp/evil")', namespace: 'shop', pod: 'web-1', node: 'node-a' }]);
  });
});
