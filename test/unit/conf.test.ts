import { describe, expect, it } from 'vitest';
import { buildPluginConfig, declaredCapabilities, parseNetworkConfig } from '../../src/cni/conf.js';
import { UsageError } from '../../src/errors.js';

const bridge = { cniVersion: '1.0.0', name: 'net', type: 'bridge', bridge: 'br0', ipam: { type: 'host-local', subnet: '198.18.0.0/24' } };

describe('parseNetworkConfig', () => {
  it('turns a single config into a one-plugin list and keeps the bytes', () => {
    const text = JSON.stringify(bridge);
    const l = parseNetworkConfig(text, 'net.json');
    expect(l).toMatchObject({ cniVersion: '1.0.0', name: 'net', isList: false, disableCheck: false, disableGC: false });
    expect(l.plugins).toEqual([bridge]);
    expect(l.bytes).toBe(text);
  });
  it('parses a conflist with flags', () => {
    const l = parseNetworkConfig(
      JSON.stringify({ cniVersion: '0.4.0', name: 'chain', disableCheck: true, plugins: [{ type: 'bridge' }, { type: 'tuning', mtu: 1400 }] }),
      'x',
    );
    expect(l.isList).toBe(true);
    expect(l.disableCheck).toBe(true);
    expect(l.plugins.map((p) => p.type)).toEqual(['bridge', 'tuning']);
  });
  it('takes the highest known version from cniVersions', () => {
    const l = parseNetworkConfig(JSON.stringify({ cniVersions: ['0.4.0', '1.1.0', '9.0.0'], name: 'n', plugins: [{ type: 'bridge' }] }), 'x');
    expect(l.cniVersion).toBe('1.1.0');
  });
  it('takes the highest version among cniVersions AND cniVersion, as libcni ConfListFromBytes does (issue 11)', () => {
    const l = parseNetworkConfig(JSON.stringify({ cniVersion: '1.0.0', cniVersions: ['0.3.1', '0.4.0'], name: 'n', plugins: [{ type: 'bridge' }] }), 'x');
    expect(l.cniVersion).toBe('1.0.0');
    const m = parseNetworkConfig(JSON.stringify({ cniVersion: '0.4.0', cniVersions: ['1.1.0', '9.0.0'], name: 'n', plugins: [{ type: 'bridge' }] }), 'x');
    expect(m.cniVersion).toBe('1.1.0');
    const o = parseNetworkConfig(JSON.stringify({ cniVersion: '1.0.0', cniVersions: ['9.0.0'], name: 'n', plugins: [{ type: 'bridge' }] }), 'x');
    expect(o.cniVersion).toBe('1.0.0');
  });
  it('uses a default name when the config has none (NADs)', () => {
    const l = parseNetworkConfig(JSON.stringify({ cniVersion: '1.0.0', type: 'bridge' }), 'nad', 'from-nad');
    expect(l.name).toBe('from-nad');
    expect(JSON.parse(l.bytes).name).toBe('from-nad');
  });
  it.each([
    ['{not json', /invalid JSON/],
    ['[]', /must be a JSON object/],
    ['"x"', /must be a JSON object/],
    [JSON.stringify({ ...bridge, type: undefined }), /missing "type"/],
    [JSON.stringify({ ...bridge, name: undefined }), /missing "name"/],
    [JSON.stringify({ ...bridge, cniVersion: undefined }), /missing "cniVersion"/],
    [JSON.stringify({ ...bridge, cniVersion: '9.9.9' }), /unknown cniVersion "9.9.9"/],
    [JSON.stringify({ ...bridge, cniVersion: 1 }), /unknown cniVersion/],
    [JSON.stringify({ ...bridge, type: '../bridge' }), /bare executable name/],
    [JSON.stringify({ ...bridge, type: '/usr/lib/cni/bridge' }), /bare executable name/],
    [JSON.stringify({ ...bridge, type: 'a..b' }), /bare executable name/],
    [JSON.stringify({ ...bridge, type: 7 }), /must be a string/],
    [JSON.stringify({ ...bridge, name: '../etc' }), /network name/],
    [JSON.stringify({ ...bridge, name: 'a b' }), /network name/],
    [JSON.stringify({ cniVersion: '1.0.0', name: 'n', plugins: [] }), /"plugins" is empty/],
    [JSON.stringify({ cniVersion: '1.0.0', name: 'n', plugins: {} }), /must be a list/],
    [JSON.stringify({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge' }, {}] }), /plugins\[1\]: missing "type"/],
    [JSON.stringify({ cniVersion: '1.0.0', name: 'n', plugins: ['bridge'] }), /plugins\[0\] must be a JSON object/],
    [JSON.stringify({ cniVersion: '1.0.0', name: 'n', disableCheck: 'yes', plugins: [{ type: 'bridge' }] }), /disableCheck/],
    [JSON.stringify({ cniVersions: ['7.0.0'], name: 'n', plugins: [{ type: 'bridge' }] }), /none of cniVersions/],
    [JSON.stringify({ ...bridge, capabilities: ['ips'] }), /capabilities/],
  ])('refuses %s', (text, msg) => {
    expect(() => parseNetworkConfig(text, 'net.json')).toThrow(UsageError);
    expect(() => parseNetworkConfig(text, 'net.json')).toThrow(msg);
  });
  it('refuses a leading UTF-8 byte order mark, naming it, as libcni (Go encoding/json) refuses it', () => {
    const text = `\ufeff${JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'bridge' })}`;
    expect(() => parseNetworkConfig(text, 'net.json')).toThrow(new UsageError('net.json: starts with a UTF-8 byte order mark (EF BB BF): save it without one'));
    expect(() => parseNetworkConfig(`\ufeff{`, 'stdin')).toThrow(/^stdin: starts with a UTF-8 byte order mark \(EF BB BF\)/);
  });
  it('names the source in its messages', () => {
    expect(() => parseNetworkConfig('{', 'stdin')).toThrow(/^stdin: invalid JSON/);
  });
  it.each([
    ['{"cniVersion":"1.0.0",\n', 'the text ends too early (cut short?)'],
    ['{"cniVersion":"1.0.0","name":"n","type":"br', 'the text ends too early (cut short?)'],
    ['{"a":1,\n"b":', 'the text ends too early (cut short?)'],
    ['{"a": [1,2\n  \n', 'the text ends too early (cut short?)'],
    ['{"a": 1 "b": 2}', "line 1, column 9: expected ',' or '}'"],
    // where V8 says no position ('Unexpected token …, "…" is not valid JSON'), a scan of the grammar finds it (before:
    // `notjson.json: invalid JSON (unexpected character "o")`, no position)
    ['{"a":\n  x}', 'line 2, column 3: unexpected character "x"'],
    ['not json', 'line 1, column 2: unexpected character "o"'],
    ['{"a": tru}', 'line 1, column 10: unexpected character "}"'],
    ['[1, 2, 3]\n\n{', 'line 3, column 1: more after the JSON value'],
    // a character that would print invisibly is named by its code point
    ['{"a":\u00a01}', 'line 1, column 6: unexpected character U+00A0 (a no-break space)'],
    ['{"a":1,\u200b"b":2}', 'line 1, column 8: expected a property name in double quotes, found U+200B (a zero-width space)'],
    ['{"a":1}\ufeff{"b":2}', 'line 1, column 8: more after the JSON value, found U+FEFF (a byte order mark)'],
    ['{"a":\u202e1}', 'line 1, column 6: unexpected character U+202E'],
    ['{"a":\u007f}', 'line 1, column 6: unexpected character U+007F'],
  ])('says what is wrong with %j, without quoting it', (text, what) => {
    expect(() => parseNetworkConfig(text, 'net.json')).toThrow(`net.json: invalid JSON (${what})`);
  });
});

describe('buildPluginConfig', () => {
  const list = { name: 'net', cniVersion: '1.0.0' as const };
  it('injects name and cniVersion over the plugin own values', () => {
    const c = buildPluginConfig(list, { type: 'tuning', name: 'other', cniVersion: '0.3.1' });
    expect(c).toEqual({ type: 'tuning', name: 'net', cniVersion: '1.0.0' });
  });
  it('adds prevResult when given', () => {
    const prev = { cniVersion: '1.0.0', ips: [] };
    expect(buildPluginConfig(list, { type: 'tuning' }, { prevResult: prev }).prevResult).toBe(prev);
    expect(buildPluginConfig(list, { type: 'tuning' })).not.toHaveProperty('prevResult');
  });
  it('passes only the capabilities the plugin declares as runtimeConfig', () => {
    const caps = { ips: ['198.18.0.9/24'], mac: '02:00:00:00:00:09', portMappings: [] };
    const c = buildPluginConfig(list, { type: 'bridge', capabilities: { ips: true, mac: false } }, { capabilityArgs: caps });
    expect(c.runtimeConfig).toEqual({ ips: ['198.18.0.9/24'] });
    expect(buildPluginConfig(list, { type: 'bridge' }, { capabilityArgs: caps })).not.toHaveProperty('runtimeConfig');
  });
  it('does not modify the plugin object', () => {
    const p = { type: 'bridge', capabilities: { ips: true } };
    buildPluginConfig(list, p, { capabilityArgs: { ips: ['x'] }, prevResult: {} });
    expect(p).toEqual({ type: 'bridge', capabilities: { ips: true } });
  });
  it('lists declared capabilities across a chain', () => {
    const l = parseNetworkConfig(
      JSON.stringify({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge', capabilities: { ips: true } }, { type: 'tuning', capabilities: { mac: true, x: false } }] }),
      'x',
    );
    expect([...declaredCapabilities(l)].sort()).toEqual(['ips', 'mac']);
  });
});
