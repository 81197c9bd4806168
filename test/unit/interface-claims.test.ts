/**
 * "interface gone" is judged only of an interface the cached result names in the sandbox (tryout 7: a chain whose
 * result lists no interface — IPAM/sysctl only, a 0.2.0 or 0.3.x result without interfaces — was said gone by cni-check,
 * cni-list and cni-gc), and cni-check's rule for a network that sets disableCheck.
 */
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { checkCommand } from '../../src/cli/check.js';
import { gcCommand } from '../../src/cli/gc.js';
import { listCommand } from '../../src/cli/list.js';
import { NETNS, world } from '../fakes/world.js';

const attachArgs = ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'];
const checkArgs = ['web-1', '-n', 'shop', '--ifname', 'eth1'];
const sandboxIf = { name: 'eth1', mac: '02:00:00:00:00:03', sandbox: NETNS };

/** The results of each shape, with and without the interface in the sandbox (named eth1, `sandbox` set). */
const cases: { version: string; result: Record<string, unknown>; names: boolean; why: string }[] = [
  { version: '0.2.0', names: false, why: 'a 0.2.0 result (no interfaces in its shape)', result: { cniVersion: '0.2.0', ip4: { ip: '198.18.0.2/24' } } },
  { version: '0.3.1', names: false, why: 'a 0.3.1 result without interfaces', result: { cniVersion: '0.3.1', ips: [{ version: '4', address: '198.18.0.2/24' }] } },
  { version: '0.3.1', names: true, why: 'a 0.3.1 result naming eth1 in the sandbox', result: { cniVersion: '0.3.1', interfaces: [sandboxIf], ips: [{ version: '4', interface: 0, address: '198.18.0.2/24' }] } },
  { version: '0.4.0', names: false, why: 'a 0.4.0 result whose interfaces are on the host only', result: { cniVersion: '0.4.0', interfaces: [{ name: 'eth1' }, { name: 'veth1' }], ips: [{ version: '4', address: '198.18.0.2/24' }] } },
  { version: '0.4.0', names: true, why: 'a 0.4.0 result naming eth1 in the sandbox', result: { cniVersion: '0.4.0', interfaces: [{ name: 'veth1' }, sandboxIf], ips: [{ version: '4', interface: 1, address: '198.18.0.2/24' }] } },
  { version: '1.0.0', names: false, why: 'a 1.0.0 result without interfaces (an IPAM/sysctl-only chain)', result: { cniVersion: '1.0.0', ips: [{ address: '198.18.0.2/24' }] } },
  { version: '1.0.0', names: false, why: 'a 1.0.0 result naming another interface in the sandbox', result: { cniVersion: '1.0.0', interfaces: [{ ...sandboxIf, name: 'net9' }], ips: [{ address: '198.18.0.2/24', interface: 0 }] } },
  { version: '1.0.0', names: true, why: 'a 1.0.0 result naming eth1 in the sandbox', result: { cniVersion: '1.0.0', interfaces: [sandboxIf], ips: [{ address: '198.18.0.2/24', interface: 0 }] } },
];

/** A world whose network `claims` (one plugin, `opts.disableCheck` optional) answers ADD with `result`. */
function claimsWorld(version: string, result: Record<string, unknown>, opts: { disableCheck?: boolean } = {}) {
  const conf = opts.disableCheck !== undefined
    ? { cniVersion: version, name: 'claims', disableCheck: opts.disableCheck, plugins: [{ type: 'claims' }] }
    : { cniVersion: version, name: 'claims', type: 'claims' };
  const w = world({ stdin: JSON.stringify(conf) });
  w.exec.addPlugin('/opt/cni/bin/claims', (c) => {
    // its ADD makes eth1 in the sandbox, whatever its result says of it
    if (c.command === 'ADD') w.exec.links.set(NETNS, new Set(['lo', 'eth0', 'eth1']));
    return c.command === 'ADD' ? { stdout: JSON.stringify(result) } : {};
  }, ['0.2.0', '0.3.1', '0.4.0', '1.0.0']);
  return w;
}

describe('"interface gone" only of an interface the result names in the sandbox (tryout 7: a result naming none was said gone)', () => {
  for (const c of cases) {
    it(`${c.why}: ${c.names ? 'interface gone' : 'not judged by its link'} in cni-list and cni-gc${c.version.startsWith('0.4') || c.version.startsWith('1.') ? ', and cni-check' : ''}`, async () => {
      const w = claimsWorld(c.version, c.result);
      expect(await w.cli(attachCommand, attachArgs), w.stderr()).toBe(0);
      w.exec.links.set(NETNS, new Set(['lo', 'eth0'])); // eth1 deleted in the sandbox
      expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'json']), w.stderr()).toBe(0);
      const [row] = (JSON.parse(w.stdout()) as { items: { ifname: string; state: string }[] }).items;
      expect(row).toMatchObject({ ifname: 'eth1', state: c.names ? 'interface gone' : 'attached' });
      expect(await w.cli(gcCommand, []), w.stderr()).toBe(0);
      expect(w.stdout()).toBe(c.names ? 'gc: freed 0 stale attachments, 0 alive, 1 interface gone (cni-detach frees its lease)\n' : 'gc: freed 0 stale attachments, 1 alive\n');
      if (c.version === '0.2.0' || c.version === '0.3.1') return; // (no CHECK before 0.4.0: exit 2, before anything is looked at)
      w.exec.calls.length = 0;
      const code = await w.cli(checkCommand, checkArgs);
      if (c.names) {
        expect(code).toBe(3);
        expect(w.stderr()).toMatch(/^error: eth1 in pod shop\/web-1 is gone \(`kubectl cni-list web-1 -n shop` shows it as interface gone\)/);
        expect(w.exec.calls.filter((x) => x.command === 'CHECK')).toEqual([]);
      } else {
        // the plugins are asked: whether it is as they made it is theirs to say
        expect(code, w.stderr()).toBe(0);
        expect(w.stdout()).toBe('eth1 in pod shop/web-1 (network claims): CHECK ok\n');
        expect(w.exec.calls.filter((x) => x.command === 'CHECK')).toHaveLength(1);
      }
    });
  }
});

describe('cni-check of a network that sets disableCheck (tryout 7): no plugin asked; its own look at the record counts as for any network', () => {
  it('the interface there: exit 0, its line says CHECK is not run (it said "CHECK ok"), -o json disableCheck: true; the note on stderr', async () => {
    const w = claimsWorld('1.0.0', cases.at(-1)!.result, { disableCheck: true });
    expect(await w.cli(attachCommand, attachArgs), w.stderr()).toBe(0);
    w.exec.calls.length = 0;
    expect(await w.cli(checkCommand, checkArgs), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('eth1 in pod shop/web-1 (network claims): CHECK is not run for this network (it sets disableCheck); nothing cni-check sees contradicts its record\n');
    expect(w.stderr()).toBe('note: network claims sets disableCheck: CHECK is not run for this network (no plugin is asked)\n');
    expect(await w.cli(checkCommand, [...checkArgs, '-o', 'json']), w.stderr()).toBe(0);
    expect(JSON.parse(w.stdout())).toEqual({ ok: true, ifname: 'eth1', target: 'pod shop/web-1', exitCode: 0, checked: [{ network: 'claims', ifname: 'eth1', ok: true, disableCheck: true }] });
    expect(w.exec.calls.filter((x) => x.command === 'CHECK')).toEqual([]);
  });
  it('the interface gone: exit 3 in cni-list\'s words, as cni-list shows it (its state does not depend on disableCheck); its dry run too', async () => {
    const w = claimsWorld('1.0.0', cases.at(-1)!.result, { disableCheck: true });
    expect(await w.cli(attachCommand, attachArgs), w.stderr()).toBe(0);
    w.exec.links.set(NETNS, new Set(['lo', 'eth0']));
    for (const extra of [[], ['--dry-run']]) {
      expect(await w.cli(checkCommand, [...checkArgs, ...extra])).toBe(3);
      expect(w.stderr()).toMatch(/^note: network claims sets disableCheck: CHECK is not run for this network \(no plugin is asked\)\nerror: eth1 in pod shop\/web-1 is gone \(`kubectl cni-list web-1 -n shop` shows it as interface gone\)/);
    }
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'json'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { items: unknown[] }).items).toEqual([expect.objectContaining({ state: 'interface gone' })]);
    expect(w.exec.calls.filter((x) => x.command === 'CHECK')).toEqual([]);
  });
  it('a result naming no interface: exit 0, nothing judged, no plugin asked', async () => {
    const w = claimsWorld('1.0.0', cases[5]!.result, { disableCheck: true });
    expect(await w.cli(attachCommand, attachArgs), w.stderr()).toBe(0);
    w.exec.links.set(NETNS, new Set(['lo', 'eth0']));
    expect(await w.cli(checkCommand, checkArgs), w.stderr()).toBe(0);
    expect(w.stdout()).toMatch(/CHECK is not run for this network \(it sets disableCheck\)/);
    expect(w.exec.calls.filter((x) => x.command === 'CHECK')).toEqual([]);
  });
});
