import { describe, expect, it } from 'vitest';
import { addEntry, entryFromResult, removeEntry } from '../../src/resolve/network-status.js';
import { bridgeResult } from '../fakes/executor.js';

const eth0 = { name: 'kindnet', interface: 'eth0', ips: ['10.244.1.5'], mac: '0a:58:0a:f4:01:05', default: true, dns: {} };

describe('network-status', () => {
  it('makes the NPWG entry from a 1.0.0 result', () => {
    expect(entryFromResult('shop/macvlan', 'eth1', bridgeResult('eth1', '/proc/1/ns/net', '198.18.0.4/24'))).toEqual({
      name: 'shop/macvlan', interface: 'eth1', ips: ['198.18.0.4'], mac: '02:00:00:00:00:03', gateway: ['198.18.0.1'], default: false, dns: {},
    });
  });
  it('makes an entry from a 0.2.0 result (no interfaces, so no mac)', () => {
    const r = { cniVersion: '0.2.0', ip4: { ip: '198.18.0.9/24', gateway: '198.18.0.1' }, dns: { nameservers: ['198.18.0.53'] } };
    expect(entryFromResult('net', 'eth1', r)).toEqual({ name: 'net', interface: 'eth1', ips: ['198.18.0.9'], gateway: ['198.18.0.1'], default: false, dns: { nameservers: ['198.18.0.53'] } });
  });
  it('adds an entry and keeps the ones already there', () => {
    const after = JSON.parse(addEntry(JSON.stringify([eth0]), { name: 'net', interface: 'eth1', default: false }));
    expect(after).toEqual([eth0, { name: 'net', interface: 'eth1', default: false }]);
  });
  it('replaces its own earlier entry on a retried attach instead of duplicating it', () => {
    const once = addEntry(JSON.stringify([eth0]), { name: 'net', interface: 'eth1', ips: ['198.18.0.2'], default: false });
    const twice = JSON.parse(addEntry(once, { name: 'net', interface: 'eth1', ips: ['198.18.0.2'], default: false }));
    expect(twice).toHaveLength(2);
  });
  it('starts a list when there is no annotation (or a broken one)', () => {
    expect(JSON.parse(addEntry(undefined, { name: 'n', interface: 'eth1', default: false }))).toHaveLength(1);
    expect(JSON.parse(addEntry('not json', { name: 'n', interface: 'eth1', default: false }))).toHaveLength(1);
  });
  it('removes exactly the entry of the interface, never the default network', () => {
    const cur = JSON.stringify([eth0, { name: 'a', interface: 'eth1', default: false }, { name: 'b', interface: 'net2', default: false }]);
    expect(JSON.parse(removeEntry(cur, 'eth1')!)).toEqual([eth0, { name: 'b', interface: 'net2', default: false }]);
    expect(removeEntry(cur, 'eth0')).toBe(cur);
    expect(removeEntry(cur, 'eth9')).toBe(cur);
  });
  it('with another tool\'s entry of the same interface beside ours, removes only ours (named as the network detached, or NS/network for a NAD); none when neither is', () => {
    const theirs = { name: 'other/n1', interface: 'net1', default: false };
    const mine = { name: 'blue', interface: 'net1', default: false };
    const nad = { name: 'shop/blue', interface: 'net1', default: false };
    const net5 = { name: 'other/net5', interface: 'net5', default: false };
    expect(JSON.parse(removeEntry(JSON.stringify([eth0, net5, theirs, mine]), 'net1', ['blue'])!)).toEqual([eth0, net5, theirs]);
    expect(JSON.parse(removeEntry(JSON.stringify([eth0, theirs, nad]), 'net1', ['blue'])!)).toEqual([eth0, theirs]);
    // several, none named as ours: which is ours cannot be told, so none goes
    const two = JSON.stringify([eth0, theirs, { name: 'x/y', interface: 'net1', default: false }]);
    expect(removeEntry(two, 'net1', ['blue'])).toBe(two);
    // one entry of the interface is ours whatever its name (a pod has one net1)
    expect(JSON.parse(removeEntry(JSON.stringify([eth0, theirs]), 'net1', ['blue'])!)).toEqual([eth0]);
  });
  it('removes the annotation when our entry was the only one', () => {
    expect(removeEntry(JSON.stringify([{ name: 'a', interface: 'eth1', default: false }]), 'eth1')).toBeUndefined();
    expect(removeEntry(undefined, 'eth1')).toBeUndefined();
  });
});
