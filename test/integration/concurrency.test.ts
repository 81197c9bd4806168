/** Many CLI processes at once: 20 ifnames into one namespace; two racing for one ifname. 198.18.5.0/24. */
import { describe, expect, it } from 'vitest';
import { expectOk, runCli, show } from '../helpers/cli.js';
import { bridgeConf, writeConf } from '../helpers/confs.js';
import { leases } from '../helpers/ipam.js';
import { attachmentFiles, useLab } from '../helpers/lab.js';
import { ipv4Addrs, linkNames, links } from '../helpers/net.js';

const lab = useLab('cc');
const SUBNET = '198.18.5.0/24';

describe('concurrent attaches', () => {
  it('20 processes attach net0..net19 into one namespace: all succeed with distinct addresses; all detach', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const br = lab.bridge();
    const net = lab.name('k');
    const conf = await writeConf(ws.dir, 'net.json', bridgeConf({ name: net, bridge: br, subnet: SUBNET, dataDir: ws.dataDir }));
    const names = Array.from({ length: 20 }, (_, i) => `net${i}`);

    const runs = await Promise.all(names.map((n) => runCli('attach', [...lab.args(ws, ns, n, conf), '-o', 'json'])));
    for (const r of runs) expectOk(r);
    const addrs = runs.map((r) => (JSON.parse(r.stdout) as { ips: { address: string }[] }).ips[0]!.address);
    expect(new Set(addrs).size, addrs.join(' ')).toBe(20);
    for (const a of addrs) expect(a).toMatch(/^198\.18\.5\.\d+\/24$/);

    expect((await linkNames(ns)).filter((n) => /^net\d+$/.test(n)).sort()).toEqual([...names].sort());
    for (const [i, n] of names.entries()) expect(await ipv4Addrs(ns, n)).toEqual([addrs[i]]);
    const held = await leases(ws.dataDir);
    expect(held).toHaveLength(20);
    expect(new Set(held.map((l) => l.ifname))).toEqual(new Set(names));
    expect((await links()).filter((l) => l.master === br)).toHaveLength(20);

    const dels = await Promise.all(names.map((n) => runCli('detach', lab.args(ws, ns, n))));
    for (const d of dels) expectOk(d);
    expect(await linkNames(ns)).toEqual(['lo']);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
    expect((await links()).filter((l) => l.master === br)).toEqual([]);
  });

  it('two processes attaching the same ifname: exactly one wins, the other exits 1 (busy: try again) or 2 (taken) with a clear message', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const net = lab.name('k');
    const conf = await writeConf(ws.dir, 'net.json', bridgeConf({ name: net, bridge: lab.bridge(), subnet: SUBNET, dataDir: ws.dataDir }));

    const runs = await Promise.all([0, 1].map(() => runCli('attach', lab.args(ws, ns, 'eth1', conf))));
    const all = runs.map(show).join('\n');
    const won = runs.filter((r) => r.exitCode === 0);
    const lost = runs.filter((r) => r.exitCode !== 0);
    expect(won, all).toHaveLength(1);
    expect(lost, all).toHaveLength(1);
    const lines = lost[0]!.stderr.trim().split('\n');
    expect(lines, all).toHaveLength(1);
    // either it found the lock held (busy: exit 1, the same command can succeed later), or it came second and found
    // eth1 taken (exit 2)
    if (lost[0]!.exitCode === 1) expect(lines[0], all).toMatch(/^error: another cni-attach\/cni-detach \(pid \d+ on this host \S+, running for \S+\) is working on eth1/);
    else {
      expect(lost[0]!.exitCode, all).toBe(2);
      expect(lines[0], all).toMatch(/^error: (eth1 is already taken|an interface named eth1 already exists)/);
    }

    expect(await leases(ws.dataDir)).toHaveLength(1);
    expect(await attachmentFiles(ws.cacheDir)).toHaveLength(1);
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1')));
    expect(await linkNames(ns)).toEqual(['lo']);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });
});
