/**
 * bridge + host-local, end to end through the real CLIs: attach into two namespaces, look at the result, the
 * interfaces, the cache and the leases, ping across, CHECK, detach, and make sure nothing is left.
 * Addresses: 198.18.1.0/24 (CNI 1.0.0) and 198.18.2.0/24 (CNI 0.2.0).
 */
import { chmod, copyFile, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectCleanError, expectOk, runCli, show } from '../helpers/cli.js';
import { bridgeConf, writeConf } from '../helpers/confs.js';
import { leases } from '../helpers/ipam.js';
import { attachmentFiles, useLab, VERSIONS_FILE } from '../helpers/lab.js';
import { CNI_DIR } from '../helpers/env.js';
import { addrOnly, containerIdOf, getLink, ipv4Addrs, linkExists, links, netnsPath, ping } from '../helpers/net.js';
import { must } from '../helpers/sh.js';

const lab = useLab('br');

interface Result100 {
  cniVersion: string;
  interfaces: { name: string; mac?: string; sandbox?: string }[];
  ips: { interface?: number; address: string; gateway?: string; version?: string }[];
  dns?: unknown;
}

describe('bridge + host-local (CNI 1.0.0)', () => {
  it('attaches eth1 into two namespaces, pings across, caches, and detaches without a trace', async () => {
    const ws = await lab.workspace();
    const [a, b] = [await lab.netns(), await lab.netns()];
    const br = lab.bridge();
    const net = lab.name('k');
    const confText = `${JSON.stringify(bridgeConf({ name: net, bridge: br, subnet: '198.18.1.0/24', dataDir: ws.dataDir }), null, 2)}\n`;
    const conf = await writeConf(ws.dir, 'net.json', confText);

    // A: the summary
    const ra = await runCli('attach', lab.args(ws, a, 'eth1', conf));
    expectOk(ra);
    const lines = ra.stdout.trimEnd().split('\n');
    expect(lines[0], show(ra)).toBe(`eth1 attached to netns ${netnsPath(a)} (network ${net}, container id ${containerIdOf(netnsPath(a))})`);
    const m = /^ {2}eth1 {2}(198\.18\.1\.\d+)\/24 {2}gateway 198\.18\.1\.1 {2}mac ([0-9a-f]{2}(?::[0-9a-f]{2}){5})$/.exec(lines[1] ?? '');
    expect(m, show(ra)).not.toBeNull();
    const addrA = m![1]!;

    // B: -o json, the 1.0.0 shape
    const rb = await runCli('attach', [...lab.args(ws, b, 'eth1', conf), '-o', 'json']);
    expectOk(rb);
    const res = JSON.parse(rb.stdout) as Result100;
    expect(res.cniVersion).toBe('1.0.0');
    const inside = res.interfaces.findIndex((i) => i.name === 'eth1');
    expect(inside, show(rb)).toBeGreaterThanOrEqual(0);
    expect(res.interfaces[inside]!.sandbox).toBe(netnsPath(b));
    expect(res.interfaces[inside]!.mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(res.interfaces.some((i) => i.name === br && !i.sandbox)).toBe(true);
    expect(res.ips).toHaveLength(1);
    expect(res.ips[0]!.interface).toBe(inside);
    expect(res.ips[0]!.address).toMatch(/^198\.18\.1\.\d+\/24$/);
    expect(res.ips[0]!.gateway).toBe('198.18.1.1');
    expect(res.ips[0]).not.toHaveProperty('version'); // 0.3/0.4 only
    const addrB = addrOnly(res.ips[0]!.address);
    expect(addrB).not.toBe(addrA);

    // the kernel agrees
    expect(await ipv4Addrs(a, 'eth1')).toEqual([`${addrA}/24`]);
    expect(await ipv4Addrs(b, 'eth1')).toEqual([`${addrB}/24`]);
    const pab = await ping(a, addrB);
    expect(pab.ok, pab.output).toBe(true);
    const pba = await ping(b, addrA);
    expect(pba.ok, pba.output).toBe(true);

    // the libcni cache entry
    for (const [ns, addr] of [[a, addrA], [b, addrB]] as const) {
      const cid = containerIdOf(netnsPath(ns));
      const file = join(ws.cacheDir, 'results', `${net}-${cid}-eth1`);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const entry = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      expect(entry).toMatchObject({ kind: 'cniCacheV1', containerId: cid, ifName: 'eth1', networkName: net, netns: netnsPath(ns) });
      expect(Buffer.from(entry.config as string, 'base64').toString('utf8')).toBe(confText);
      expect((entry.result as Result100).ips[0]!.address).toBe(`${addr}/24`);
    }
    expect((await attachmentFiles(ws.cacheDir)).filter((f) => f.startsWith('cni-attach/'))).toEqual([]); // no intents or locks left

    const held = await leases(ws.dataDir);
    expect(held.map((l) => l.address).sort()).toEqual([addrA, addrB].sort());
    expect(held.find((l) => l.address === addrA)).toMatchObject({ network: net, containerId: containerIdOf(netnsPath(a)), ifname: 'eth1' });

    // detach both (summary and json)
    const da = await runCli('detach', lab.args(ws, a, 'eth1'));
    expectOk(da);
    expect(da.stdout.trim()).toBe(`eth1 detached from netns ${netnsPath(a)} (network ${net})`);
    const db = await runCli('detach', [...lab.args(ws, b, 'eth1'), '-o', 'json']);
    expectOk(db);
    expect(JSON.parse(db.stdout)).toEqual({
      detached: [{ network: net, ifname: 'eth1', containerId: containerIdOf(netnsPath(b)), interrupted: false, recorded: true }],
    });

    expect(await linkExists('eth1', a)).toBe(false);
    expect(await linkExists('eth1', b)).toBe(false);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect((await links()).filter((l) => l.master === br)).toEqual([]); // host veths went with their peers
  });

  it('cni-check passes on a fresh attachment; once eth1 was deleted by hand it says the interface is gone (exit 3, also --dry-run and -o json), not the bridge\'s Mac', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const net = lab.name('k');
    const conf = await writeConf(ws.dir, 'net.json', bridgeConf({ name: net, bridge: lab.bridge(), subnet: '198.18.1.0/24', dataDir: ws.dataDir }));

    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf)));
    const ok = await runCli('check', lab.args(ws, ns, 'eth1'));
    expectOk(ok);
    expect(ok.stdout.trim()).toBe(`eth1 in netns ${netnsPath(ns)} (network ${net}): CHECK ok`);
    const okJson = await runCli('check', [...lab.args(ws, ns, 'eth1'), '-o', 'json']);
    expectOk(okJson);
    expect(JSON.parse(okJson.stdout)).toEqual({ ok: true, ifname: 'eth1', target: expect.stringMatching(/^netns /), exitCode: 0, checked: [{ network: net, ifname: 'eth1', ok: true }] });

    await must(['ip', '-n', ns, 'link', 'del', 'eth1']); // someone deletes it by hand
    // said as cni-list says it (interface gone), exit 3, before the plugin's CHECK — which answered first with the
    // bridge's own MAC (its last port went with eth1): "Mac doesn't match"
    const gone = new RegExp(`^error: eth1 in netns ${netnsPath(ns)} is gone \\(\`kubectl cni-list -A[^\`]*\` shows it as interface gone\\): eth1 is not in netns ${netnsPath(ns)} any more: deleted outside cni-attach \\(no DEL of ours was under way\\); its IPAM lease is still held: \`kubectl cni-detach --netns ${netnsPath(ns)} --ifname eth1 [^\`]*\` frees it; nothing to CHECK$`, 'm');
    for (const more of [[], ['--dry-run']]) {
      const bad = await runCli('check', [...lab.args(ws, ns, 'eth1'), ...more]);
      expectCleanError(bad, 3, gone);
      expect(bad.stderr).not.toMatch(/Mac doesn't match/);
    }
    const badJson = await runCli('check', [...lab.args(ws, ns, 'eth1'), '-o', 'json']);
    expectCleanError(badJson, 3, gone);
    expect(JSON.parse(badJson.stdout)).toMatchObject({ ok: false, ifname: 'eth1', target: `netns ${netnsPath(ns)}`, exitCode: 3, checked: [], error: expect.stringMatching(/\(`kubectl cni-list -A --no-cluster --cache-dir [^`]*` shows it as interface gone\)/) });
    // the cni-list it names, as pasted (its words have no quotes here), shows that row so
    const printed = /\(`kubectl cni-list ([^`]*)`/.exec(badJson.stdout)![1]!.split(' ');
    const listed = await runCli('list', [...printed, '-o', 'json']);
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { items: { ifname: string; state: string; netns?: string }[] }).items).toContainEqual(expect.objectContaining({ ifname: 'eth1', state: 'interface gone' }));

    // detaching what is half gone still frees the lease and the cache
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1')));
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });

  it('a CHECK that fails because the bridge\'s own MAC changed (it follows its ports when not pinned) says what that means, exit 1 as any failed CHECK', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const br = lab.bridge();
    const conf = await writeConf(ws.dir, 'net.json', bridgeConf({ name: lab.name('k'), bridge: br, subnet: '198.18.1.0/24', dataDir: ws.dataDir }));
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf)));
    expectOk(await runCli('check', lab.args(ws, ns, 'eth1')));
    // what another pod's attach or detach does to an unpinned bridge (its MAC is its lowest port's), done at once
    await must(['ip', 'link', 'set', br, 'address', '02:00:00:00:18:01']);
    const bad = await runCli('check', lab.args(ws, ns, 'eth1'));
    // the plugin names the MAC its ADD recorded
    expectCleanError(bad, 1, new RegExp(`^error: plugin bridge failed on CHECK \\(CNI error \\d+\\): Bridge interface ${br} Mac doesn't match: [0-9a-f:]{17} \\(the MAC the bridge itself had at this ADD: .* takes the lowest MAC of its ports, .* containernetworking/plugins#60\\)$`, 'm'));
    // -o json: the failure as an object too (it printed nothing), the same exit
    const badJson = await runCli('check', [...lab.args(ws, ns, 'eth1'), '-o', 'json']);
    expectCleanError(badJson, 1, /Mac doesn't match/);
    expect(JSON.parse(badJson.stdout)).toMatchObject({ ok: false, ifname: 'eth1', exitCode: 1, checked: [], error: expect.stringMatching(/^plugin bridge failed on CHECK .*Mac doesn't match/) });
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1')));
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });

  it('asks the plugin VERSION once, remembers it while the plugin file is unchanged, and asks again after it changed', async () => {
    const ws = await lab.workspace();
    const [a, b] = [await lab.netns(), await lab.netns()];
    for (const p of ['bridge', 'host-local']) await copyFile(join(CNI_DIR, p), join(ws.pluginDir, p));
    await chmod(join(ws.pluginDir, 'bridge'), 0o755);
    await chmod(join(ws.pluginDir, 'host-local'), 0o755);
    const conf = await writeConf(ws.dir, 'net.json', bridgeConf({ name: lab.name('k'), bridge: lab.bridge(), subnet: '198.18.1.0/24', dataDir: ws.dataDir }));
    const attachV = async (ns: string) => {
      const r = await runCli('attach', [...lab.args(ws, ns, 'eth1', conf, ws.pluginDir), '-v']);
      expectOk(r);
      return r.stderr;
    };
    const remembered = /debug: VERSION of bridge: [0-9., ]+ \(remembered; .*\/bridge is unchanged\)/;

    expect(await attachV(a)).not.toMatch(remembered);
    const file = join(ws.cacheDir, VERSIONS_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const kept = JSON.parse(await readFile(file, 'utf8'));
    expect(kept.plugins[join(ws.pluginDir, 'bridge')].supportedVersions).toContain('1.0.0');

    expect(await attachV(b)).toMatch(remembered); // a second run: no VERSION process
    for (const ns of [a, b]) expectOk(await runCli('detach', lab.args(ws, ns, 'eth1', undefined, ws.pluginDir)));

    // an upgraded plugin (here: the same bytes written again, so a new ctime) is asked again
    await copyFile(join(CNI_DIR, 'bridge'), join(ws.pluginDir, 'bridge'));
    expect(await attachV(a)).not.toMatch(remembered);
    expectOk(await runCli('detach', lab.args(ws, a, 'eth1', undefined, ws.pluginDir)));
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
    expect(await leases(ws.dataDir)).toEqual([]);
  });

  it('cni-check of something never attached exits 3', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    expectCleanError(await runCli('check', lab.args(ws, ns, 'eth1')), 3, /nothing is attached as eth1/);
  });
});

describe('capabilities', () => {
  it('--ip and --mac reach the plugin through runtimeConfig, are cached, and detach still frees the lease', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const net = lab.name('k');
    const conf = await writeConf(ws.dir, 'net.json', {
      ...bridgeConf({ name: net, bridge: lab.bridge(), subnet: '198.18.1.0/24', dataDir: ws.dataDir }),
      capabilities: { ips: true, mac: true },
    });
    const r = await runCli('attach', [...lab.args(ws, ns, 'eth1', conf), '--ip', '198.18.1.77/24', '--mac', '02:00:c6:12:01:4d', '-o', 'yaml']);
    expectOk(r);
    expect(r.stdout).toMatch(/^cniVersion: 1\.0\.0$/m);
    expect(r.stdout).toMatch(/address: 198\.18\.1\.77\/24/);
    expect(await ipv4Addrs(ns, 'eth1')).toEqual(['198.18.1.77/24']);
    expect((await getLink('eth1', ns))?.line).toContain('link/ether 02:00:c6:12:01:4d');
    const entry = JSON.parse(await readFile(join(ws.cacheDir, 'results', `${net}-${containerIdOf(netnsPath(ns))}-eth1`), 'utf8')) as Record<string, unknown>;
    expect(entry.capabilityArgs).toEqual({ ips: ['198.18.1.77/24'], mac: '02:00:c6:12:01:4d' });

    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1')));
    expect(await leases(ws.dataDir)).toEqual([]);
  });
});

describe('bridge + host-local (CNI 0.2.0, the seed)', () => {
  it('prints the 0.2.0 result shape, pings, and detaches', async () => {
    const ws = await lab.workspace();
    const [a, b] = [await lab.netns(), await lab.netns()];
    const net = lab.name('k');
    const conf = await writeConf(
      ws.dir,
      'net.json',
      bridgeConf({ name: net, bridge: lab.bridge(), subnet: '198.18.2.0/24', dataDir: ws.dataDir, cniVersion: '0.2.0' }),
    );

    const addrs: string[] = [];
    for (const ns of [a, b]) {
      const r = await runCli('attach', [...lab.args(ws, ns, 'eth1', conf), '-o', 'json']);
      expectOk(r);
      const res = JSON.parse(r.stdout) as { cniVersion: string; ip4: { ip: string; gateway?: string }; dns: unknown };
      expect(res.cniVersion).toBe('0.2.0');
      expect(res.ip4.ip, show(r)).toMatch(/^198\.18\.2\.\d+\/24$/);
      expect(res.ip4.gateway).toBe('198.18.2.1');
      expect(res.dns).toEqual({});
      expect(res).not.toHaveProperty('interfaces');
      expect(res).not.toHaveProperty('ips');
      expect(await ipv4Addrs(ns, 'eth1')).toEqual([res.ip4.ip]);
      addrs.push(addrOnly(res.ip4.ip));
    }
    const p = await ping(a, addrs[1]!);
    expect(p.ok, p.output).toBe(true);
    expect(await leases(ws.dataDir)).toHaveLength(2);

    for (const ns of [a, b]) {
      const d = await runCli('detach', lab.args(ws, ns, 'eth1'));
      expectOk(d);
      expect(d.stdout).toContain(`eth1 detached from netns ${netnsPath(ns)} (network ${net})`);
      expect(await linkExists('eth1', ns)).toBe(false);
    }
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });
});
