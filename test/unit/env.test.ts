import { describe, expect, it } from 'vitest';
import { buildEnv, cniVars, formatCniArgs, parseCniArgs, resolveCniPath, validateContainerId, validateIfName } from '../../src/cni/env.js';
import { UsageError } from '../../src/errors.js';
import { cnitoolContainerId } from '../../src/resolve/netns.js';

describe('validateIfName', () => {
  it.each(['eth1', 'net0', 'a', '123456789012345', 'veth-x_y.z'])('accepts %j', (n) => {
    expect(validateIfName(n)).toBe(n);
  });
  it.each([
    ['', /empty/],
    ['1234567890123456', /longer than 15 bytes/],
    ['éééééééé', /longer than 15 bytes/], // 16 bytes in UTF-8
    ['a/b', /may not contain/],
    ['a b', /may not contain/],
    ['a\tb', /may not contain/],
    ['a:b', /may not contain/],
    ['.', /not allowed/],
    ['..', /not allowed/],
    // the kernel's template (dev_alloc_name): eth%d would become eth0 (issue 11)
    ['eth%d', /may not contain '%' \(the kernel would take it as a template/],
    ['%', /may not contain '%'/],
    ['a\u00a0b', /may not contain/], // no-break space: unicode.IsSpace in libcni
    ['a\u0085b', /may not contain/], // NEL: unicode.IsSpace too
    ['a\nb', /may not contain/],
  ])('refuses %j', (n, msg) => {
    expect(() => validateIfName(n)).toThrow(UsageError);
    expect(() => validateIfName(n)).toThrow(msg);
  });
});

describe('container ids', () => {
  it('derives the same id as cnitool for a netns path', () => {
    // the cache file name cnitool writes for /var/run/netns/testing is default-cnitool-77383ca0a0715733ca6f-eth0
    expect(cnitoolContainerId('/var/run/netns/testing')).toBe('cnitool-77383ca0a0715733ca6f');
  });
  it('is stable for the same path and differs between paths', () => {
    expect(cnitoolContainerId('/var/run/netns/a')).toBe(cnitoolContainerId('/var/run/netns/a'));
    expect(cnitoolContainerId('/var/run/netns/a')).not.toBe(cnitoolContainerId('/var/run/netns/b'));
  });
  it('validates ids like libcni', () => {
    expect(validateContainerId('abc-1.2_3')).toBe('abc-1.2_3');
    expect(() => validateContainerId('-x')).toThrow(UsageError);
    expect(() => validateContainerId('a/b')).toThrow(UsageError);
  });
});

describe('CNI_ARGS', () => {
  it('round-trips pairs in order', () => {
    const pairs: [string, string][] = [['IgnoreUnknown', '1'], ['K8S_POD_NAME', 'web-1'], ['K8S_POD_NAMESPACE', 'shop']];
    const text = formatCniArgs(pairs);
    expect(text).toBe('IgnoreUnknown=1;K8S_POD_NAME=web-1;K8S_POD_NAMESPACE=shop');
    expect(parseCniArgs(text)).toEqual(pairs);
  });
  it('parses empty text to no pairs', () => {
    expect(parseCniArgs('')).toEqual([]);
  });
  it.each(['novalue', '=x', 'a=b=c', 'a=1;;b=2'])('refuses %j', (t) => {
    expect(() => parseCniArgs(t)).toThrow(UsageError);
  });
  it('refuses separators inside values', () => {
    expect(() => formatCniArgs([['A', 'x;y']])).toThrow(/may not contain/);
  });
});

describe('buildEnv', () => {
  const base = { PATH: '/usr/bin', HOME: '/root' };
  it('sets every variable for ADD and keeps the base', () => {
    const env = buildEnv(base, {
      command: 'ADD', containerId: 'c1', netns: '/var/run/netns/a', ifname: 'eth1',
      args: [['IgnoreUnknown', '1']], path: ['/opt/cni/bin', '/usr/lib/cni'],
    });
    expect(cniVars(env)).toEqual({
      CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/var/run/netns/a', CNI_IFNAME: 'eth1',
      CNI_ARGS: 'IgnoreUnknown=1', CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
    });
    expect(env.PATH).toBe('/usr/bin');
  });
  it('omits CNI_ARGS when there are none', () => {
    const env = buildEnv(base, { command: 'DEL', containerId: 'c1', netns: '/n', ifname: 'eth1', args: [], path: ['/p'] });
    expect(env).not.toHaveProperty('CNI_ARGS');
  });
  it.each(['VERSION', 'STATUS', 'GC'] as const)('%s gets only CNI_COMMAND and CNI_PATH', (command) => {
    const env = buildEnv({}, { command, containerId: 'c1', netns: '/n', ifname: 'eth1', path: ['/p'] });
    expect(env).toEqual({ CNI_COMMAND: command, CNI_PATH: '/p' });
  });
});

describe('resolveCniPath', () => {
  it('prefers the flag, then $CNI_PATH, then the defaults', () => {
    expect(resolveCniPath('/a:/b', '/c')).toEqual(['/a', '/b']);
    expect(resolveCniPath(undefined, '/c')).toEqual(['/c']);
    expect(resolveCniPath(undefined, undefined)).toEqual(['/opt/cni/bin', '/usr/lib/cni']);
    expect(resolveCniPath(undefined, '')).toEqual(['/opt/cni/bin', '/usr/lib/cni']);
  });
  it('never searches relative directories (the current directory included)', () => {
    expect(() => resolveCniPath('bin', undefined)).toThrow(/not an absolute directory/);
    expect(() => resolveCniPath('/a::/b', undefined)).toThrow(UsageError);
    expect(() => resolveCniPath(undefined, '.:/opt/cni/bin')).toThrow(/\$CNI_PATH/);
  });
});
