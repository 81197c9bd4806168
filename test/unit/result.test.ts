import { describe, it, expect } from 'vitest';
import {
  convertResult,
  parseResult,
  ResultError,
  sandboxInterface,
  summarizeResult,
  type JsonObject,
} from '../../src/cni/result.js';
import { KNOWN_VERSIONS } from '../../src/cni/version.js';

// ---------------------------------------------------------------------------------------------
// Fixtures

/** The seed's 0.2.0 example (host-local-like IPv4 result). */
const SEED_020 = {
  cniVersion: '0.2.0',
  ip4: {
    ip: '10.244.1.5/24',
    gateway: '10.244.1.1',
    routes: [
      { dst: '10.244.0.0/16', gw: '10.244.1.1' },
      { dst: '0.0.0.0/0', gw: '10.244.1.1' },
    ],
  },
  dns: {},
};

const DUAL_020 = {
  cniVersion: '0.2.0',
  ip4: { ip: '198.18.0.5/24', gateway: '198.18.0.1', routes: [{ dst: '0.0.0.0/0' }] },
  ip6: { ip: 'fd00::5/64', gateway: 'fd00::1', routes: [{ dst: '::/0', gw: 'fd00::1' }] },
  dns: { nameservers: ['198.18.0.53'], domain: 'example.test', search: ['example.test'], options: ['ndots:2'] },
};

/** A bridge-plugin-like result: host bridge, host veth, container interface with the IP. */
function bridge100(version = '1.0.0'): JsonObject {
  return {
    cniVersion: version,
    interfaces: [
      { name: 'cni0', mac: '0a:58:0a:f4:01:01' },
      { name: 'veth1234abcd', mac: '2e:11:22:33:44:55' },
      { name: 'eth1', mac: '0a:58:0a:f4:01:05', sandbox: '/var/run/netns/pod1', mtu: 1450 },
    ],
    ips: [{ interface: 2, address: '10.244.1.5/24', gateway: '10.244.1.1' }],
    routes: [{ dst: '10.244.0.0/16', gw: '10.244.1.1' }],
    dns: { nameservers: ['10.96.0.10'] },
  };
}

/** Dual-stack 0.4.0 result with two addresses of each family, v6 listed first. */
const DUAL_040 = {
  cniVersion: '0.4.0',
  interfaces: [
    { name: 'cni0', mac: '00:11:22:33:44:55' },
    { name: 'eth0', mac: '00:11:22:33:44:66', sandbox: '/proc/123/ns/net' },
  ],
  ips: [
    { version: '6', interface: 1, address: '2001:db8::10/64', gateway: '2001:db8::1' },
    { version: '4', interface: 1, address: '198.18.0.5/24', gateway: '198.18.0.1' },
    { version: '4', interface: 1, address: '198.18.1.5/24' },
    { version: '6', interface: 1, address: '2001:db8:1::10/64' },
  ],
  routes: [
    { dst: '0.0.0.0/0', gw: '198.18.0.1' },
    { dst: '::/0', gw: '2001:db8::1' },
    { dst: '10.0.0.0/8' },
    { dst: 'fd00::/8' },
  ],
  dns: { nameservers: ['198.18.0.53'] },
};

const FULL_110 = {
  cniVersion: '1.1.0',
  interfaces: [
    { name: 'net1', mac: '00:11:22:33:44:77', sandbox: '/var/run/netns/x', mtu: 9000, socketPath: '/run/vhost.sock', pciID: '0000:3b:00.1' },
  ],
  ips: [{ interface: 0, address: '198.18.0.5/24', gateway: '198.18.0.1' }],
  routes: [{ dst: '198.19.0.0/16', gw: '198.18.0.1', mtu: 1400, advmss: 1360, priority: 100, table: 200, scope: 0 }],
  dns: {},
};

function expectResultError(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ResultError);
  expect((caught as Error).name).toBe('ResultError');
  expect((caught as Error).message).toMatch(message);
}

// ---------------------------------------------------------------------------------------------
// parseResult

describe('parseResult: general', () => {
  it.each([null, undefined, 42, 'str', [], [{ cniVersion: '1.0.0' }]])('rejects non-object %j', (raw) => {
    expectResultError(() => parseResult(raw), /expected a JSON object/);
  });

  it('rejects a missing or empty cniVersion', () => {
    expectResultError(() => parseResult({ ips: [] }), /cniVersion is missing/);
    expectResultError(() => parseResult({ cniVersion: '' }), /cniVersion is missing/);
  });

  it.each(['0.5.0', '2.0.0', '1.0', 100])('rejects unknown cniVersion %j', (v) => {
    expectResultError(() => parseResult({ cniVersion: v }), /unknown cniVersion/);
  });

  it('returns the very same object, for every known version with a minimal body', () => {
    for (const v of KNOWN_VERSIONS) {
      const raw = { cniVersion: v };
      expect(parseResult(raw)).toBe(raw);
    }
  });

  it('rejects malformed dns', () => {
    expectResultError(() => parseResult({ cniVersion: '1.0.0', dns: [] }), /dns must be an object/);
    expectResultError(() => parseResult({ cniVersion: '0.2.0', dns: { nameservers: '8.8.8.8' } }), /dns\.nameservers must be an array/);
    expectResultError(() => parseResult({ cniVersion: '0.4.0', dns: { search: [1] } }), /dns\.search\[0\] must be a string/);
    expectResultError(() => parseResult({ cniVersion: '1.1.0', dns: { domain: 5 } }), /dns\.domain must be a string/);
  });
});

describe('parseResult: 0.1.0 / 0.2.0', () => {
  it('accepts the seed 0.2.0 example', () => {
    expect(parseResult(SEED_020)).toBe(SEED_020);
  });

  it('accepts a dual-stack 0.1.0 result', () => {
    const raw = { ...DUAL_020, cniVersion: '0.1.0' };
    expect(parseResult(raw).cniVersion).toBe('0.1.0');
  });

  it.each(['0.1.0', '0.2.0'])('accepts a %s result without ip4 — ip6 alone, or no address at all — as libcni does (pkg/types/020 NewResult requires no field; tryout 7); up-conversion keeps it, only down to 0.2.0 needs an address', (v) => {
    for (const raw of [{ cniVersion: v, ip6: { ip: 'fd00::5/64' } }, { cniVersion: v }, { cniVersion: v, dns: { nameservers: ['198.18.0.53'] } }]) {
      expect(parseResult(raw)).toBe(raw);
      expect(convertResult(raw, '1.0.0')).toEqual({ cniVersion: '1.0.0', ...(raw.ip6 ? { ips: [{ address: 'fd00::5/64' }] } : {}), ...(raw.dns ? { dns: raw.dns } : {}) });
    }
    expectResultError(() => convertResult({ cniVersion: '1.0.0', dns: {} }, v), /no IP addresses/);
  });

  it.each(['0.1.0', '0.2.0'])('rejects malformed %s results', (v) => {
    expectResultError(() => parseResult({ cniVersion: v, ip4: 'x' }), /ip4 must be an object/);
    expectResultError(() => parseResult({ cniVersion: v, ip4: {} }), /ip4\.ip is required/);
    expectResultError(() => parseResult({ cniVersion: v, ip4: { ip: '10.0.0.5' } }), /ip4\.ip "10\.0\.0\.5" is not a valid CIDR/);
    expectResultError(() => parseResult({ cniVersion: v, ip4: { ip: '10.0.0.5/33' } }), /not a valid CIDR/);
    expectResultError(() => parseResult({ cniVersion: v, ip4: { ip: '10.0.0.256/24' } }), /not a valid CIDR/);
    expectResultError(() => parseResult({ cniVersion: v, ip4: { ip: 'fd00::5/64' } }), /ip4\.ip "fd00::5\/64" is not an IPv4 CIDR/);
    expectResultError(() => parseResult({ cniVersion: v, ip6: { ip: '10.0.0.5/24' } }), /not an IPv6 CIDR/);
    expectResultError(
      () => parseResult({ cniVersion: v, ip4: { ip: '10.0.0.5/24', gateway: '10.0.0.1/24' } }),
      /ip4\.gateway "10\.0\.0\.1\/24" is not a valid IP address/,
    );
    expectResultError(
      () => parseResult({ cniVersion: v, ip4: { ip: '10.0.0.5/24', routes: [{ gw: '10.0.0.1' }] } }),
      /ip4\.routes\[0\]\.dst is required/,
    );
    expectResultError(
      () => parseResult({ cniVersion: v, ip6: { ip: 'fd00::5/64', routes: [{ dst: '::/0', gw: 'nope' }] } }),
      /ip6\.routes\[0\]\.gw "nope" is not a valid IP address/,
    );
  });
});

describe('parseResult: 0.3.0 / 0.3.1 / 0.4.0', () => {
  it.each(['0.3.0', '0.3.1', '0.4.0'])('accepts a dual-stack %s result', (v) => {
    const raw = { ...DUAL_040, cniVersion: v };
    expect(parseResult(raw)).toBe(raw);
  });

  it.each(['0.3.0', '0.3.1', '0.4.0'])('rejects malformed %s results', (v) => {
    const ok = { version: '4', address: '198.18.0.5/24' };
    expectResultError(() => parseResult({ cniVersion: v, ips: [{ address: '198.18.0.5/24' }] }), /ips\[0\]\.version must be "4" or "6", got nothing/);
    expectResultError(() => parseResult({ cniVersion: v, ips: [{ ...ok, version: 4 }] }), /ips\[0\]\.version must be "4" or "6", got number 4/);
    expectResultError(() => parseResult({ cniVersion: v, ips: [{ ...ok, version: '5' }] }), /must be "4" or "6"/);
    expectResultError(() => parseResult({ cniVersion: v, ips: [{ ...ok, version: '6' }] }), /version is "6" but address "198\.18\.0\.5\/24" is IPv4/);
    expectResultError(() => parseResult({ cniVersion: v, ips: [{ ...ok, address: '198.18.0.5' }] }), /ips\[0\]\.address "198\.18\.0\.5" is not a valid CIDR/);
    expectResultError(() => parseResult({ cniVersion: v, ips: [{ version: '4' }] }), /ips\[0\]\.address is required/);
    expectResultError(() => parseResult({ cniVersion: v, ips: [{ ...ok, interface: 0 }] }), /ips\[0\]\.interface index 0 is out of range \(the result has 0 interface/);
    expectResultError(
      () => parseResult({ cniVersion: v, interfaces: [{ name: 'eth0' }], ips: [{ ...ok, interface: 1 }] }),
      /index 1 is out of range \(the result has 1 interface/,
    );
    expectResultError(
      () => parseResult({ cniVersion: v, interfaces: [{ name: 'eth0' }], ips: [{ ...ok, interface: -1 }] }),
      /index -1 is out of range/,
    );
    expectResultError(
      () => parseResult({ cniVersion: v, interfaces: [{ name: 'eth0' }], ips: [{ ...ok, interface: '0' }] }),
      /ips\[0\]\.interface must be an integer/,
    );
    expectResultError(() => parseResult({ cniVersion: v, interfaces: [{ mac: 'aa' }] }), /interfaces\[0\]\.name is required/);
    expectResultError(() => parseResult({ cniVersion: v, interfaces: [{ name: '' }] }), /interfaces\[0\]\.name must not be empty/);
    expectResultError(() => parseResult({ cniVersion: v, interfaces: {} }), /interfaces must be an array/);
    expectResultError(() => parseResult({ cniVersion: v, routes: [{ dst: '0.0.0.0' }] }), /routes\[0\]\.dst "0\.0\.0\.0" is not a valid CIDR/);
    expectResultError(() => parseResult({ cniVersion: v, ips: [{ ...ok, gateway: 'gw' }] }), /ips\[0\]\.gateway "gw" is not a valid IP/);
  });
});

describe('parseResult: 1.0.0 / 1.1.0', () => {
  it('accepts a bridge-like 1.0.0 result and a full 1.1.0 result', () => {
    const b = bridge100();
    expect(parseResult(b)).toBe(b);
    expect(parseResult(FULL_110)).toBe(FULL_110);
  });

  it('accepts IPv6 CIDRs of every prefix length form', () => {
    for (const address of ['fd00::5/64', '2001:db8::1/128', '::/0', '::ffff:198.18.0.1/120']) {
      expect(parseResult({ cniVersion: '1.0.0', ips: [{ address }] }).cniVersion).toBe('1.0.0');
    }
  });

  it('does not require ips[].version in 1.x', () => {
    expect(() => parseResult({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.1/8' }] })).not.toThrow();
  });

  it.each(['1.0.0', '1.1.0'])('rejects malformed %s results', (v) => {
    expectResultError(() => parseResult({ cniVersion: v, ips: [{ address: 'fd00::5/129' }] }), /"fd00::5\/129" is not a valid CIDR/);
    expectResultError(() => parseResult({ cniVersion: v, ips: [{ address: 'fe80::1%eth0/64' }] }), /not a valid CIDR/);
    expectResultError(() => parseResult({ cniVersion: v, ips: [{ address: '10.0.0.1/8/8' }] }), /not a valid CIDR/);
    expectResultError(() => parseResult({ cniVersion: v, ips: [{ address: '10.0.0.1/' }] }), /not a valid CIDR/);
    expectResultError(() => parseResult({ cniVersion: v, ips: [{ address: 17 }] }), /ips\[0\]\.address must be a string/);
    expectResultError(
      () => parseResult({ cniVersion: v, interfaces: [{ name: 'a' }, { name: 'b' }], ips: [{ address: '10.0.0.1/8', interface: 2 }] }),
      /index 2 is out of range \(the result has 2 interface/,
    );
    expectResultError(
      () => parseResult({ cniVersion: v, interfaces: [{ name: 'a' }], ips: [{ address: '10.0.0.1/8', interface: 0.5 }] }),
      /must be an integer/,
    );
    expectResultError(() => parseResult({ cniVersion: v, interfaces: [{ name: 'a', mtu: '1500' }] }), /interfaces\[0\]\.mtu must be an integer/);
    expectResultError(() => parseResult({ cniVersion: v, interfaces: [{ name: 'a', mtu: -1 }] }), /interfaces\[0\]\.mtu must be >= 0/);
    expectResultError(() => parseResult({ cniVersion: v, interfaces: [{ name: 'a', socketPath: 1 }] }), /socketPath must be a string/);
    expectResultError(() => parseResult({ cniVersion: v, routes: 'default' }), /routes must be an array/);
    expectResultError(() => parseResult({ cniVersion: v, routes: [{ dst: '::/0', gw: 'fd00::1/64' }] }), /routes\[0\]\.gw "fd00::1\/64" is not a valid IP/);
  });

  it('validates 1.1.0-only fields in 1.1.0 results', () => {
    expectResultError(() => parseResult({ cniVersion: '1.1.0', interfaces: [{ name: 'a', pciID: 7 }] }), /interfaces\[0\]\.pciID must be a string/);
    expectResultError(() => parseResult({ cniVersion: '1.1.0', routes: [{ dst: '0.0.0.0/0', table: 'main' }] }), /routes\[0\]\.table must be an integer/);
    expectResultError(() => parseResult({ cniVersion: '1.1.0', routes: [{ dst: '0.0.0.0/0', mtu: 1.5 }] }), /routes\[0\]\.mtu must be an integer/);
    expectResultError(() => parseResult({ cniVersion: '1.1.0', routes: [{ dst: '0.0.0.0/0', priority: -3 }] }), /routes\[0\]\.priority must be >= 0/);
  });
});

// ---------------------------------------------------------------------------------------------
// convertResult

describe('convertResult: 0.2.0 up', () => {
  it('converts the seed example to 0.3.1 with a versioned ip, routes merged and dns kept', () => {
    expect(convertResult(SEED_020, '0.3.1')).toEqual({
      cniVersion: '0.3.1',
      ips: [{ version: '4', address: '10.244.1.5/24', gateway: '10.244.1.1' }],
      routes: [
        { dst: '10.244.0.0/16', gw: '10.244.1.1' },
        { dst: '0.0.0.0/0', gw: '10.244.1.1' },
      ],
      dns: {},
    });
  });

  it('converts dual-stack 0.2.0 to 0.4.0: ip4 then ip6, no interface index, no interfaces', () => {
    const out = convertResult(DUAL_020, '0.4.0');
    expect(out).toEqual({
      cniVersion: '0.4.0',
      ips: [
        { version: '4', address: '198.18.0.5/24', gateway: '198.18.0.1' },
        { version: '6', address: 'fd00::5/64', gateway: 'fd00::1' },
      ],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0', gw: 'fd00::1' }],
      dns: DUAL_020.dns,
    });
    expect(out).not.toHaveProperty('interfaces');
    expect(out.dns).not.toBe(DUAL_020.dns);
  });

  it.each(['1.0.0', '1.1.0'])('converts 0.2.0 to %s without ips[].version', (v) => {
    expect(convertResult(DUAL_020, v)).toEqual({
      cniVersion: v,
      ips: [
        { address: '198.18.0.5/24', gateway: '198.18.0.1' },
        { address: 'fd00::5/64', gateway: 'fd00::1' },
      ],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0', gw: 'fd00::1' }],
      dns: DUAL_020.dns,
    });
  });

  it('converts a 0.1.0 result with no ips or routes to 1.0.0 as an empty result', () => {
    expect(convertResult({ cniVersion: '0.1.0' }, '1.0.0')).toEqual({ cniVersion: '1.0.0' });
  });

  it('round-trips the seed 0.2.0 example through every newer version', () => {
    for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
      expect(convertResult(convertResult(SEED_020, v), '0.2.0')).toEqual(SEED_020);
    }
  });

  it('round-trips a dual-stack 0.2.0 result through 1.1.0', () => {
    expect(convertResult(convertResult(DUAL_020, '1.1.0'), '0.2.0')).toEqual(DUAL_020);
  });
});

describe('convertResult: 0.1.0 <-> 0.2.0', () => {
  it('keeps the shape and each config its own routes', () => {
    const v010 = convertResult(DUAL_020, '0.1.0');
    expect(v010).toEqual({ ...DUAL_020, cniVersion: '0.1.0' });
    expect(convertResult(v010, '0.2.0')).toEqual(DUAL_020);
  });

  it('drops unknown fields', () => {
    const raw = { cniVersion: '0.1.0', ip4: { ip: '10.0.0.2/8', extra: 1 }, bogus: true };
    expect(convertResult(raw, '0.2.0')).toEqual({ cniVersion: '0.2.0', ip4: { ip: '10.0.0.2/8' } });
  });
});

describe('convertResult: down to 0.2.0 / 0.1.0', () => {
  it('takes the first IPv4 and first IPv6 address and splits routes by dst family', () => {
    expect(convertResult(DUAL_040, '0.2.0')).toEqual({
      cniVersion: '0.2.0',
      ip4: {
        ip: '198.18.0.5/24',
        gateway: '198.18.0.1',
        routes: [{ dst: '0.0.0.0/0', gw: '198.18.0.1' }, { dst: '10.0.0.0/8' }],
      },
      ip6: {
        ip: '2001:db8::10/64',
        gateway: '2001:db8::1',
        routes: [{ dst: '::/0', gw: '2001:db8::1' }, { dst: 'fd00::/8' }],
      },
      dns: { nameservers: ['198.18.0.53'] },
    });
  });

  it('drops routes whose family has no address, and drops interfaces', () => {
    const raw = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', sandbox: '/x' }],
      ips: [{ interface: 0, address: '198.18.0.5/24' }],
      routes: [{ dst: '::/0', gw: 'fd00::1' }, { dst: '0.0.0.0/0', gw: '198.18.0.1' }],
    };
    const out = convertResult(raw, '0.1.0');
    expect(out).toEqual({ cniVersion: '0.1.0', ip4: { ip: '198.18.0.5/24', routes: [{ dst: '0.0.0.0/0', gw: '198.18.0.1' }] } });
    expect(out).not.toHaveProperty('ip6');
    expect(out).not.toHaveProperty('interfaces');
  });

  it('produces only ip6 for an IPv6-only result', () => {
    const raw = { cniVersion: '0.3.0', ips: [{ version: '6', address: 'fd00::5/64' }], routes: [{ dst: '0.0.0.0/0' }] };
    expect(convertResult(raw, '0.2.0')).toEqual({ cniVersion: '0.2.0', ip6: { ip: 'fd00::5/64' } });
  });

  it('strips 1.1.0 route extras when going to 0.2.0', () => {
    expect(convertResult(FULL_110, '0.2.0')).toEqual({
      cniVersion: '0.2.0',
      ip4: { ip: '198.18.0.5/24', gateway: '198.18.0.1', routes: [{ dst: '198.19.0.0/16', gw: '198.18.0.1' }] },
      dns: {},
    });
  });

  it.each(['0.3.1', '0.4.0', '1.0.0', '1.1.0'])('fails with no IP at all (from %s)', (v) => {
    const raw = { cniVersion: v, interfaces: [{ name: 'eth0' }], routes: [{ dst: '0.0.0.0/0' }] };
    expectResultError(() => convertResult(raw, '0.2.0'), /cannot convert CNI result to 0\.2\.0: it has no IP addresses/);
    expectResultError(() => convertResult(raw, '0.1.0'), /no IP addresses/);
  });
});

describe('convertResult: 0.3.x / 0.4.0 <-> 1.x', () => {
  it('removes ips[].version going 0.4.0 -> 1.0.0, keeping interfaces and indexes', () => {
    expect(convertResult(DUAL_040, '1.0.0')).toEqual({
      cniVersion: '1.0.0',
      interfaces: DUAL_040.interfaces,
      ips: DUAL_040.ips.map(({ version: _v, ...rest }) => rest),
      routes: DUAL_040.routes,
      dns: DUAL_040.dns,
    });
  });

  it('adds ips[].version from the address family going 1.0.0 -> 0.4.0, dropping mtu/socketPath', () => {
    const raw = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', mac: 'aa:bb:cc:dd:ee:ff', sandbox: '/ns', mtu: 1500, socketPath: '/s' }],
      ips: [
        { interface: 0, address: 'fd00::5/64' },
        { interface: 0, address: '198.18.0.5/24', gateway: '198.18.0.1' },
      ],
    };
    expect(convertResult(raw, '0.4.0')).toEqual({
      cniVersion: '0.4.0',
      interfaces: [{ name: 'eth0', mac: 'aa:bb:cc:dd:ee:ff', sandbox: '/ns' }],
      ips: [
        { version: '6', interface: 0, address: 'fd00::5/64' },
        { version: '4', interface: 0, address: '198.18.0.5/24', gateway: '198.18.0.1' },
      ],
    });
  });

  it('round-trips 0.4.0 -> 1.0.0 -> 0.4.0 and 0.3.0 -> 1.1.0 -> 0.3.0', () => {
    expect(convertResult(convertResult(DUAL_040, '1.0.0'), '0.4.0')).toEqual(DUAL_040);
    const v030 = { ...DUAL_040, cniVersion: '0.3.0' };
    expect(convertResult(convertResult(v030, '1.1.0'), '0.3.0')).toEqual(v030);
  });

  it('converts among 0.3.0 / 0.3.1 / 0.4.0 by only changing cniVersion', () => {
    expect(convertResult(DUAL_040, '0.3.0')).toEqual({ ...DUAL_040, cniVersion: '0.3.0' });
    expect(convertResult({ ...DUAL_040, cniVersion: '0.3.1' }, '0.4.0')).toEqual(DUAL_040);
  });

  it('ignores a stray ips[].version in 1.0.0 input and recomputes it going down', () => {
    const raw = { cniVersion: '1.0.0', ips: [{ version: 'x', address: 'fd00::5/64' }] };
    expect(convertResult(raw, '0.4.0')).toEqual({ cniVersion: '0.4.0', ips: [{ version: '6', address: 'fd00::5/64' }] });
  });
});

describe('convertResult: 1.1.0 -> lower', () => {
  it('1.1.0 -> 1.0.0 drops pciID and route mtu/advmss/priority/table/scope, keeps mtu/socketPath', () => {
    expect(convertResult(FULL_110, '1.0.0')).toEqual({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'net1', mac: '00:11:22:33:44:77', sandbox: '/var/run/netns/x', mtu: 9000, socketPath: '/run/vhost.sock' }],
      ips: [{ interface: 0, address: '198.18.0.5/24', gateway: '198.18.0.1' }],
      routes: [{ dst: '198.19.0.0/16', gw: '198.18.0.1' }],
      dns: {},
    });
  });

  it('1.1.0 -> 0.4.0 keeps only name/mac/sandbox and dst/gw', () => {
    expect(convertResult(FULL_110, '0.4.0')).toEqual({
      cniVersion: '0.4.0',
      interfaces: [{ name: 'net1', mac: '00:11:22:33:44:77', sandbox: '/var/run/netns/x' }],
      ips: [{ version: '4', interface: 0, address: '198.18.0.5/24', gateway: '198.18.0.1' }],
      routes: [{ dst: '198.19.0.0/16', gw: '198.18.0.1' }],
      dns: {},
    });
  });

  it('1.0.0 -> 1.1.0 keeps everything 1.0.0 has', () => {
    const b = bridge100();
    expect(convertResult(b, '1.1.0')).toEqual({ ...b, cniVersion: '1.1.0' });
  });
});

describe('convertResult: general', () => {
  it('same version gives a deep copy, unknown fields included', () => {
    const raw: JsonObject = { ...bridge100(), extra: { nested: [1, 2] } };
    const out = convertResult(raw, '1.0.0');
    expect(out).toEqual(raw);
    expect(out).not.toBe(raw);
    expect(out.interfaces).not.toBe(raw.interfaces);
    expect(out.extra).not.toBe(raw.extra);
  });

  it.each(['0.5.0', '2.0.0', '', 'latest'])('rejects unknown target version %j', (v) => {
    expectResultError(() => convertResult(SEED_020, v), /unknown target version/);
  });

  it('validates the input before converting', () => {
    expectResultError(() => convertResult({ cniVersion: '0.4.0', ips: [{ address: '1.2.3.4/24' }] }, '1.0.0'), /ips\[0\]\.version/);
    expectResultError(() => convertResult({ ips: [] }, '1.0.0'), /cniVersion is missing/);
  });

  it('never mutates its input, in any direction', () => {
    const inputs: JsonObject[] = [SEED_020, DUAL_020, DUAL_040, FULL_110, bridge100()];
    for (const input of inputs) {
      const before = structuredClone(input);
      for (const to of KNOWN_VERSIONS) {
        let out: JsonObject;
        try {
          out = convertResult(input, to);
        } catch {
          continue;
        }
        expect(input).toEqual(before);
        // Mutating the output must not reach back into the input.
        const ips = (out.ips ?? []) as JsonObject[];
        for (const ip of ips) ip.address = 'mutated';
        const dns = out.dns as JsonObject | undefined;
        if (dns) dns.nameservers = ['mutated'];
        const ip4 = out.ip4 as { routes?: JsonObject[] } | undefined;
        for (const r of ip4?.routes ?? []) r.dst = 'mutated';
        expect(input).toEqual(before);
      }
    }
  });

  it('results of every successful conversion parse as the target version', () => {
    for (const input of [SEED_020, DUAL_020, DUAL_040, FULL_110, bridge100()] as JsonObject[]) {
      for (const to of KNOWN_VERSIONS) {
        const out = convertResult(input, to);
        expect(out.cniVersion).toBe(to);
        expect(() => parseResult(out)).not.toThrow();
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// summarizeResult / sandboxInterface

describe('summarizeResult', () => {
  it('summarizes the seed 0.2.0 example', () => {
    expect(summarizeResult(SEED_020)).toEqual({
      interfaces: [],
      ips: [{ address: '10.244.1.5/24', gateway: '10.244.1.1', family: 4 }],
      routes: [
        { dst: '10.244.0.0/16', gw: '10.244.1.1' },
        { dst: '0.0.0.0/0', gw: '10.244.1.1' },
      ],
      dns: {},
    });
  });

  it('summarizes a dual-stack 0.1.0 result with dns', () => {
    const s = summarizeResult({ ...DUAL_020, cniVersion: '0.1.0' });
    expect(s.ips.map((i) => [i.address, i.family])).toEqual([
      ['198.18.0.5/24', 4],
      ['fd00::5/64', 6],
    ]);
    expect(s.routes).toEqual([{ dst: '0.0.0.0/0' }, { dst: '::/0', gw: 'fd00::1' }]);
    expect(s.dns).toEqual(DUAL_020.dns);
  });

  it('summarizes a bridge-like 1.0.0 result, naming the interface of each ip', () => {
    expect(summarizeResult(bridge100())).toEqual({
      interfaces: [
        { name: 'cni0', mac: '0a:58:0a:f4:01:01' },
        { name: 'veth1234abcd', mac: '2e:11:22:33:44:55' },
        { name: 'eth1', mac: '0a:58:0a:f4:01:05', sandbox: '/var/run/netns/pod1', mtu: 1450 },
      ],
      ips: [{ address: '10.244.1.5/24', gateway: '10.244.1.1', family: 4, interface: 'eth1' }],
      routes: [{ dst: '10.244.0.0/16', gw: '10.244.1.1' }],
      dns: { nameservers: ['10.96.0.10'] },
    });
  });

  it('summarizes a 0.4.0 result: families from addresses, ips without index have no interface', () => {
    const s = summarizeResult({
      ...DUAL_040,
      ips: [...DUAL_040.ips, { version: '4', address: '203.0.113.9/32' }],
    });
    expect(s.interfaces.map((i) => i.name)).toEqual(['cni0', 'eth0']);
    expect(s.ips.map((i) => i.family)).toEqual([6, 4, 4, 6, 4]);
    expect(s.ips[0]).toEqual({ address: '2001:db8::10/64', gateway: '2001:db8::1', family: 6, interface: 'eth0' });
    expect(s.ips[4]).toEqual({ address: '203.0.113.9/32', family: 4 });
    expect(s.routes).toHaveLength(4);
  });

  it('leaves 1.1.0-only details out of the summary', () => {
    const s = summarizeResult(FULL_110);
    expect(s.interfaces).toEqual([{ name: 'net1', mac: '00:11:22:33:44:77', sandbox: '/var/run/netns/x', mtu: 9000 }]);
    expect(s.routes).toEqual([{ dst: '198.19.0.0/16', gw: '198.18.0.1' }]);
  });

  it('does not share arrays with the input', () => {
    const raw = bridge100();
    const s = summarizeResult(raw);
    s.dns.nameservers?.push('1.1.1.1');
    expect((raw.dns as { nameservers: string[] }).nameservers).toEqual(['10.96.0.10']);
  });

  it('throws ResultError on malformed input', () => {
    expectResultError(() => summarizeResult({ cniVersion: '1.0.0', ips: [{ address: 'bad' }] }), /not a valid CIDR/);
    expectResultError(() => summarizeResult('{}'), /expected a JSON object/);
  });
});

describe('sandboxInterface', () => {
  it('finds the container-side interface of a bridge-like 1.0.0 result', () => {
    expect(sandboxInterface(bridge100(), 'eth1')).toEqual({
      name: 'eth1',
      mac: '0a:58:0a:f4:01:05',
      sandbox: '/var/run/netns/pod1',
    });
  });

  it('ignores host-side interfaces (no sandbox), even with the right name', () => {
    expect(sandboxInterface(bridge100(), 'cni0')).toBeUndefined();
    const raw = {
      cniVersion: '0.4.0',
      interfaces: [
        { name: 'eth1', mac: '00:00:00:00:00:01' },
        { name: 'eth1', mac: '00:00:00:00:00:02', sandbox: '/ns' },
      ],
    };
    expect(sandboxInterface(raw, 'eth1')).toEqual({ name: 'eth1', mac: '00:00:00:00:00:02', sandbox: '/ns' });
    expect(sandboxInterface({ ...raw, interfaces: [{ name: 'eth1', sandbox: '' }] }, 'eth1')).toBeUndefined();
  });

  it('returns undefined for an absent name', () => {
    expect(sandboxInterface(bridge100(), 'eth9')).toBeUndefined();
    expect(sandboxInterface(DUAL_040, 'eth0')).toEqual({ name: 'eth0', mac: '00:11:22:33:44:66', sandbox: '/proc/123/ns/net' });
  });

  it('returns undefined for 0.1.0 / 0.2.0 results, which list no interfaces', () => {
    expect(sandboxInterface(SEED_020, 'eth0')).toBeUndefined();
    expect(sandboxInterface({ ...DUAL_020, cniVersion: '0.1.0' }, 'eth0')).toBeUndefined();
  });

  it('omits mac when the result has none', () => {
    const out = sandboxInterface({ cniVersion: '1.1.0', interfaces: [{ name: 'net1', sandbox: '/ns' }] }, 'net1');
    expect(out).toEqual({ name: 'net1', sandbox: '/ns' });
    expect(out).not.toHaveProperty('mac');
  });

  it('throws ResultError on malformed input', () => {
    expectResultError(() => sandboxInterface({ cniVersion: '9.9.9' }, 'eth0'), /unknown cniVersion/);
  });
});
