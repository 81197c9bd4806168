/**
 * Conflists: bridge → tuning → bandwidth takes effect and comes off again; a chain whose second plugin fails is
 * rolled back completely. 198.18.4.0/24.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectCleanError, expectOk, runCli, show } from '../helpers/cli.js';
import { bridgePlugin, conflist, writeConf } from '../helpers/confs.js';
import { leases } from '../helpers/ipam.js';
import { attachmentFiles, deleteLink, filesUnder, useLab } from '../helpers/lab.js';
import { must } from '../helpers/sh.js';
import { containerIdOf, getLink, linkExists, links, netnsPath, qdiscs } from '../helpers/net.js';

const lab = useLab('cl');
const SUBNET = '198.18.4.0/24';

describe('conflist bridge → tuning → bandwidth', () => {
  it('sets the MTU and an ingress TBF on the host veth, and detach removes everything', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const br = lab.bridge();
    const net = lab.name('k');
    const conf = await writeConf(
      ws.dir,
      'chain.conflist',
      conflist(net, [
        bridgePlugin(br, SUBNET, ws.dataDir),
        { type: 'tuning', mtu: 1400, dataDir: join(ws.dir, 'tuning') },
        { type: 'bandwidth', ingressRate: 8_000_000, ingressBurst: 800_000 },
      ]),
    );

    const r = await runCli('attach', [...lab.args(ws, ns, 'eth1', conf), '-o', 'json']);
    expectOk(r);
    const res = JSON.parse(r.stdout) as { interfaces: { name: string; sandbox?: string }[]; ips: { address: string }[] };
    const hostVeth = res.interfaces.find((i) => !i.sandbox && i.name !== br)?.name;
    expect(hostVeth, show(r)).toBeDefined();
    expect(res.ips[0]!.address).toMatch(/^198\.18\.4\.\d+\/24$/);

    expect((await getLink('eth1', ns))?.mtu).toBe(1400);
    expect((await getLink(hostVeth!))?.master).toBe(br);
    expect(await qdiscs(hostVeth!)).toMatch(/qdisc tbf .* rate 8Mbit/);

    const d = await runCli('detach', lab.args(ws, ns, 'eth1'));
    expectOk(d);
    expect(await linkExists('eth1', ns)).toBe(false);
    expect(await linkExists(hostVeth!)).toBe(false);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
    expect(await filesUnder(join(ws.dir, 'tuning'))).toEqual([]);
  });
});

describe('rollback', () => {
  it('undoes the bridge ADD when tuning fails: no eth1, lease, cache, intent or host veth is left', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const br = lab.bridge();
    const net = lab.name('k');
    const conf = await writeConf(
      ws.dir,
      'broken.conflist',
      conflist(net, [
        bridgePlugin(br, SUBNET, ws.dataDir),
        { type: 'tuning', sysctl: { 'net.ipv4.conf.eth1.cnt_no_such_sysctl': '1' }, dataDir: join(ws.dir, 'tuning') },
      ]),
    );
    const before = await links();

    const r = await runCli('attach', lab.args(ws, ns, 'eth1', conf));
    const line = expectCleanError(r, 1, /plugin tuning failed on ADD/);
    expect(line).toMatch(/rolled back/);

    expect(await linkExists('eth1', ns)).toBe(false);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await filesUnder(join(ws.cacheDir, 'results'))).toEqual([]);
    expect(await filesUnder(join(ws.cacheDir, 'cni-attach', 'intents'))).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
    const now = await links();
    expect(now.filter((l) => l.master === br || l.line.includes(` link-netns ${ns}`))).toEqual([]);
    const had = new Set(before.map((l) => l.name));
    // the only new host link this test may have made is the bridge itself (the plugin never deletes it)
    expect(now.filter((l) => !had.has(l.name) && l.name.startsWith(lab.prefix)).map((l) => l.name)).toEqual([br]);
  });
});

describe('one network twice in one sandbox, with a plugin that keys its state by network and container', () => {
  /**
   * A netns, a bridge and a network whose chain shapes egress with bandwidth (what makes bandwidth create its ifb
   * device: bwp + sha512(network + container id), 12 hex), the device removed at the end whatever happens.
   */
  async function shapedWorld() {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const br = lab.bridge();
    const net = lab.name('k');
    const cid = containerIdOf(netnsPath(ns));
    const ifb = `bwp${createHash('sha512').update(net + cid).digest('hex').slice(0, 12)}`;
    lab.defer(`ifb ${ifb}`, () => deleteLink(ifb));
    const conf = await writeConf(ws.dir, 'shaped.conflist', conflist(net, [bridgePlugin(br, SUBNET, ws.dataDir), { type: 'bandwidth', egressRate: 8_000_000, egressBurst: 800_000 }]));
    return { ws, ns, br, net, cid, ifb, conf };
  }

  it('refuses the second attach before any ADD (bandwidth names its ifb device by network and container): the first keeps its ifb, nothing is written', async () => {
    const { ws, ns, br, net, ifb, conf } = await shapedWorld();

    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf)));
    expect(await linkExists(ifb)).toBe(true);
    const leased = await leases(ws.dataDir);
    const recorded = await attachmentFiles(ws.cacheDir);

    for (const dry of [['--dry-run'], []]) {
      const r = await runCli('attach', [...lab.args(ws, ns, 'eth2', conf), ...dry]);
      const line = expectCleanError(r, 2, new RegExp(`network ${net} is already recorded in .* as eth1, and its plugin bandwidth \\(its ifb device on the node, bwp…\\) names that state by network and container only: attaching it again as eth2 would collide with it, and a DEL of either would remove the other's \\(nothing was changed\\)`));
      expect(line, show(r)).not.toMatch(/rolled back/);
      expect(r.stderr, show(r)).toMatch(/detach eth1 first/);
      // the first attachment's ifb device, lease and records are as they were; no eth2
      expect(await linkExists(ifb), show(r)).toBe(true);
      expect(await linkExists('eth2', ns)).toBe(false);
      expect(await leases(ws.dataDir)).toEqual(leased);
      expect(await attachmentFiles(ws.cacheDir)).toEqual(recorded);
    }

    // the same network under another name is another network: no shared state, attached
    const other = await writeConf(ws.dir, 'other.conflist', conflist(`${net}b`, [bridgePlugin(br, SUBNET, ws.dataDir), { type: 'bandwidth', egressRate: 8_000_000, egressBurst: 800_000 }]));
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth2', other)));
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth2')));
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1')));
    expect(await linkExists(ifb)).toBe(false);
    expect(await leases(ws.dataDir)).toEqual([]);
  });

  it('refuses an attach of the network recorded only in another cache dir when bandwidth\'s ifb device of it is on the node already (what an outside tester saw: the ADD failed on it and its rollback removed it); nothing is written', async () => {
    const { ws, ns, br, net, ifb, conf } = await shapedWorld();
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf)));
    const leased = await leases(ws.dataDir);
    const other = join(ws.dir, 'other-cache');
    for (const dry of [['--dry-run'], []]) {
      const r = await runCli('attach', [...lab.args(ws, ns, 'eth2', conf), '--cache-dir', other, ...dry]);
      const line = expectCleanError(r, 2, new RegExp(`network ${net}'s plugin bandwidth names its ifb device on the node by network and container only, and that device, ${ifb}, exists already: another attachment of network ${net} in netns ${netnsPath(ns)} made it, recorded in another cache dir than ${other} or made by another tool; attaching it as eth2 would collide with it, and a DEL of either would remove the other's \\(nothing was changed\\)`));
      expect(line, show(r)).not.toMatch(/rolled back/);
      expect(r.stderr, show(r)).toMatch(/cni-list -A -o wide/);
      expect(await linkExists(ifb), show(r)).toBe(true);
      expect(await linkExists('eth2', ns)).toBe(false);
      expect(await leases(ws.dataDir)).toEqual(leased);
      expect(await attachmentFiles(other)).toEqual([]);
    }
    // the same network under another name shares nothing there: attached in that cache dir
    const renamed = await writeConf(ws.dir, 'renamed.conflist', conflist(`${net}b`, [bridgePlugin(br, SUBNET, ws.dataDir), { type: 'bandwidth', egressRate: 8_000_000, egressBurst: 800_000 }]));
    expectOk(await runCli('attach', [...lab.args(ws, ns, 'eth2', renamed), '--cache-dir', other]));
    expectOk(await runCli('detach', [...lab.args(ws, ns, 'eth2'), '--cache-dir', other]));
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1')));
    expect(await linkExists(ifb)).toBe(false);
    expect(await leases(ws.dataDir)).toEqual([]);
  });

  it('a detach of such an attachment while the network is also recorded in the sandbox under another name (an attach of it without bandwidth, which is allowed; or a pair an earlier cni-attach left): its DEL runs, a note (and -o json) says what it removed for the other, whose link and record stay', async () => {
    const { ws, ns, br, net, cid, ifb, conf: shaped } = await shapedWorld();
    const plain = await writeConf(ws.dir, 'plain.conflist', conflist(net, [bridgePlugin(br, SUBNET, ws.dataDir)]));
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', shaped)));
    // its chain shares no state with eth1's, so the attach takes it: the network is now recorded as eth1 and eth2
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth2', plain)));
    const note = (verb: string) => `note: network ${net} is also recorded in netns ${netnsPath(ns)} as eth2, and its plugin bandwidth (its ifb device on the node, bwp…) names that state by network and container only: the DEL of eth1 ${verb} what there was of it under that name, so eth2's share ${verb === 'removed' ? 'is' : 'would be'} gone too if its chain made one; to have it again, detach eth2 and attach it again`;

    const dry = await runCli('detach', [...lab.args(ws, ns, 'eth1'), '--dry-run']);
    expectOk(dry);
    expect(dry.stderr, show(dry)).toContain(note('would remove'));
    expect(await linkExists(ifb)).toBe(true);

    const d = await runCli('detach', [...lab.args(ws, ns, 'eth1'), '-o', 'json']);
    expectOk(d);
    expect(d.stderr, show(d)).toContain(note('removed'));
    expect((JSON.parse(d.stdout) as { detached: { sharedStateRemovedFor?: string[] }[] }).detached[0]!.sharedStateRemovedFor).toEqual(['eth2']);
    expect(await linkExists(ifb)).toBe(false);
    expect(await linkExists('eth1', ns)).toBe(false);
    expect(await linkExists('eth2', ns)).toBe(true);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([`results/${net}-${cid}-eth2`]);

    // the other detaches as usual (bandwidth's DEL of an ifb device already gone is no error), and nothing is said
    const d2 = await runCli('detach', lab.args(ws, ns, 'eth2'));
    expectOk(d2);
    expect(d2.stderr, show(d2)).not.toMatch(/also recorded/);
    expect(await linkExists('eth2', ns)).toBe(false);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });

  it('attaches a network twice when no plugin of it keys its state by network and container (bridge + host-local)', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const br = lab.bridge();
    const net = lab.name('k');
    const conf = await writeConf(ws.dir, 'plain.conflist', conflist(net, [bridgePlugin(br, SUBNET, ws.dataDir)]));
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf)));
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth2', conf)));
    expect((await leases(ws.dataDir)).length).toBe(2);
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth2')));
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1')));
    expect(await leases(ws.dataDir)).toEqual([]);
  });
});

describe('portmap (the real plugin) through two cache dirs, the node a network namespace of the test', () => {
  /**
   * The CLI runs under `ip netns exec <node>` — a namespace this test made, standing for the node: the bridge, the host
   * veths and every iptables rule portmap writes are in it (this host's own nat table is never read or written), and
   * go with it at the end whatever happens. The pod is another namespace. The network's portmap gets a port mapping
   * from its own config (runtimeConfig: the tool has no flag for it; without mappings portmap makes no chain).
   */
  async function mappedWorld() {
    const ws = await lab.workspace();
    const node = await lab.netns();
    const ns = await lab.netns();
    const net = lab.name('k');
    const cid = containerIdOf(netnsPath(ns));
    const chain = `CNI-DN-${createHash('sha512').update(net + cid).digest('hex')}`.slice(0, 28);
    const portmap = { type: 'portmap', capabilities: { portMappings: true }, runtimeConfig: { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] } };
    const conf = await writeConf(ws.dir, 'mapped.conflist', conflist(net, [bridgePlugin(lab.name('b'), SUBNET, ws.dataDir), portmap]));
    const onNode = { prefix: ['ip', 'netns', 'exec', node] };
    const nat = async () => must(['ip', 'netns', 'exec', node, 'iptables', '-w', '-t', 'nat', '-S']);
    return { ws, node, ns, net, cid, chain, conf, onNode, nat };
  }

  it('refuses an attach of the network recorded only in another cache dir when portmap\'s chain of it is on the node (before: its ADD took that chain, and a DEL of either removed both\'s rules); the dry run too; nothing is written, the first\'s rules stay', async () => {
    const { ws, ns, net, chain, conf, onNode, nat } = await mappedWorld();
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf), onNode));
    const rules = await nat();
    expect(rules).toContain(`-N ${chain}\n`);
    expect(rules).toMatch(new RegExp(`^-A CNI-HOSTPORT-DNAT .* -j ${chain}$`, 'm'));
    const leased = await leases(ws.dataDir);
    const other = join(ws.dir, 'other-cache');
    for (const dry of [['--dry-run'], []]) {
      const r = await runCli('attach', [...lab.args(ws, ns, 'eth2', conf), '--cache-dir', other, ...dry], onNode);
      const line = expectCleanError(r, 2, new RegExp(`network ${net}'s plugin portmap names its iptables chain on the node by network and container only, and that chain, ${chain} \\(table nat of iptables, jumped to from CNI-HOSTPORT-DNAT\\), exists already: another attachment of network ${net} in netns ${netnsPath(ns)} made it, recorded in another cache dir than ${other} or made by another tool; attaching it as eth2 would collide with it, and a DEL of either would remove the other's \\(nothing was changed\\)`));
      expect(line, show(r)).not.toMatch(/rolled back/);
      expect(r.stderr, show(r)).toMatch(/cni-list -A -o wide/);
      expect(await nat(), show(r)).toBe(rules);
      expect(await linkExists('eth2', ns)).toBe(false);
      expect(await leases(ws.dataDir)).toEqual(leased);
      expect(await attachmentFiles(other)).toEqual([]);
    }
    // the same network under another name has a chain of its own: attached in that cache dir, and -v says the node
    // was asked
    const renamed = await writeConf(ws.dir, 'renamed.conflist', conflist(`${net}b`, JSON.parse(await readFile(conf, 'utf8')).plugins as Record<string, unknown>[]));
    const r = await runCli('attach', [...lab.args(ws, ns, 'eth2', renamed), '--cache-dir', other, '-v'], onNode);
    expectOk(r);
    expect(r.stderr, show(r)).toMatch(new RegExp(`portmap's chain CNI-DN-[0-9a-f]{21} of network ${net}b is not on the node`));
    expectOk(await runCli('detach', [...lab.args(ws, ns, 'eth2'), '--cache-dir', other], onNode));
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1'), onNode));
    expect(await nat()).not.toMatch(/CNI-DN-/);
    expect(await leases(ws.dataDir)).toEqual([]);
  });

  it('refuses it too when portmap\'s chain of the network is on the node with no jump to it (left by a portmap DEL or ADD stopped part-way: its teardown removes the jump, then the chain), said as such; once the chain is removed with the commands it names, the attach goes on (before: the jumps alone were read, and the attach took that chain with the rules left in it)', async () => {
    const { ws, node, ns, net, chain, conf, onNode, nat } = await mappedWorld();
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf), onNode));
    // the jump gone, the chain and its rules left: as portmap's teardown leaves them when it stops between the two
    const jump = (await nat()).split('\n').find((l) => l.startsWith('-A CNI-HOSTPORT-DNAT ') && l.endsWith(` -j ${chain}`));
    expect(jump).toBeDefined();
    await must(['ip', 'netns', 'exec', node, 'sh', '-c', `iptables -w -t nat ${jump!.replace(/^-A /, '-D ')}`]);
    const rules = await nat();
    expect(rules).toContain(`-N ${chain}\n`);
    expect(rules).toMatch(new RegExp(`^-A ${chain} .*DNAT`, 'm'));
    expect(rules).not.toMatch(new RegExp(`-j ${chain}$`, 'm'));
    const other = join(ws.dir, 'other-cache');
    for (const dry of [['--dry-run'], []]) {
      const r = await runCli('attach', [...lab.args(ws, ns, 'eth2', conf), '--cache-dir', other, ...dry], onNode);
      expectCleanError(r, 2, new RegExp(`network ${net}'s plugin portmap names its iptables chain on the node by network and container only, and that chain, ${chain} \\(table nat of iptables\\), exists already with no rule of CNI-HOSTPORT-DNAT jumping to it: a portmap ADD or DEL of network ${net} in netns ${netnsPath(ns)} stopped part-way left it \\(a failed ADD whose rollback failed too\\), of an attachment recorded in another cache dir than ${other} or made by another tool; attaching it as eth2 would take that chain with the rules left in it, and a DEL of either would remove it \\(nothing was changed\\)`));
      expect(r.stderr, show(r)).toContain(`; \`iptables -w -t nat -S ${chain}\` shows its rules; find what left it (\`kubectl cni-list -A -o wide\` shows each attachment's cache dir) and detach it (its DEL removes the chain), or, once you know nothing records it, remove it: \`iptables -w -t nat -F ${chain} && iptables -w -t nat -X ${chain}\``);
      expect(await nat(), show(r)).toBe(rules);
      expect(await linkExists('eth2', ns)).toBe(false);
      expect(await attachmentFiles(other)).toEqual([]);
    }
    // the commands it names, run on the node: the chain gone, the attach in the other cache dir goes on
    await must(['ip', 'netns', 'exec', node, 'sh', '-c', `iptables -w -t nat -F ${chain} && iptables -w -t nat -X ${chain}`]);
    expectOk(await runCli('attach', [...lab.args(ws, ns, 'eth2', conf), '--cache-dir', other], onNode));
    expect(await nat()).toMatch(new RegExp(`-j ${chain}$`, 'm'));
    expectOk(await runCli('detach', [...lab.args(ws, ns, 'eth2'), '--cache-dir', other], onNode));
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1'), onNode));
    expect(await nat()).not.toMatch(/CNI-DN-/);
    expect(await leases(ws.dataDir)).toEqual([]);
  });

  it('without iptables on the node\'s PATH the attach is not refused, and -v says it could not tell', async () => {
    const { ws, ns, net, chain, conf, onNode } = await mappedWorld();
    // PATH without iptables (/usr/sbin here): not refused for the chain; portmap itself then fails its ADD (it execs
    // iptables), and its rollback's DEL too ("neither iptables nor ip6tables usable"): the attempt stays recorded
    const r = await runCli('attach', [...lab.args(ws, ns, 'eth1', conf), '-v'], { ...onNode, env: { PATH: '/usr/bin:/bin' } });
    expect(r.exitCode, show(r)).toBe(1);
    expect(r.stderr, show(r)).toContain(`debug: could not tell whether portmap's chain ${chain} of network ${net} is on the node (\`iptables -w -t nat -S\`: not found on the PATH of the plugins; \`ip6tables -w -t nat -S\`: not found on the PATH of the plugins): not refused for it`);
    expect(r.stderr, show(r)).not.toMatch(/exists already/);
    expect(r.stderr, show(r)).toMatch(/error: plugin portmap failed on ADD .*failed to open iptables/);
    // with iptables on the PATH again its DEL runs: nothing left
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1'), onNode));
    expect(await linkExists('eth1', ns)).toBe(false);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });

  it('"backend": "nftables" (plugins ≥ 1.6; this Debian\'s portmap 1.1.1 ignores the key and uses iptables): rules of the sandbox\'s container id in the node\'s table ip cni_hostport — as a runtime\'s portmap makes them for the pod\'s own host ports — refuse the attach and its dry run before any ADD, since that backend\'s DEL removes every rule of the container id; rules of other containers only: attached', async () => {
    const { ws, node, ns, net, cid, conf, onNode, nat } = await mappedWorld();
    const plugins = (JSON.parse(await readFile(conf, 'utf8')) as { plugins: Record<string, unknown>[] }).plugins.map((p) => (p.type === 'portmap' ? { ...p, backend: 'nftables' } : p));
    const nftConf = await writeConf(ws.dir, 'nft.conflist', conflist(net, plugins));
    // what portmap's nftables backend makes for a mapping (portmap_nftables.go forwardPorts), made here with nft in the
    // node's namespace: the table, its hostports chain, a rule commented with the container id
    const nft = (...args: string[]) => must(['ip', 'netns', 'exec', node, 'nft', ...args]);
    await nft('add', 'table', 'ip', 'cni_hostport', '{ comment "CNI portmap plugin"; }');
    await nft('add', 'chain', 'ip', 'cni_hostport', 'hostports');
    await nft('add', 'rule', 'ip', 'cni_hostport', 'hostports', 'tcp', 'dport', '18081', 'dnat', 'to', '198.18.47.9:80', 'comment', `"${cid}"`);
    const table = await nft('list', 'table', 'ip', 'cni_hostport');
    expect(table).toContain(`comment "${cid}"`);
    const natBefore = await nat();
    for (const dry of [['--dry-run'], []]) {
      const r = await runCli('attach', [...lab.args(ws, ns, 'eth1', nftConf), ...dry], onNode);
      expectCleanError(r, 2, new RegExp(`network ${net}'s plugin portmap uses its nftables backend, which marks each rule it makes with the container id alone, and rules of container ${cid} are in table ip cni_hostport already: another attachment in netns ${netnsPath(ns)} made them — the pod's own network's host ports, or another network's —, and portmap's DEL removes every rule of its container id, so a DEL of eth1 \\(or the rollback of a failed ADD\\) would remove those too \\(nothing was changed\\)`));
      expect(r.stderr, show(r)).toContain('`nft list table ip cni_hostport` shows those rules');
      expect(await nft('list', 'table', 'ip', 'cni_hostport')).toBe(table);
      expect(await nat()).toBe(natBefore);
      expect(await linkExists('eth1', ns)).toBe(false);
      expect(await leases(ws.dataDir)).toEqual([]);
      expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
    }
    // the rule now another container's: nothing of this sandbox's there, and -v says so; attached (portmap 1.1.1 itself
    // then uses iptables), detached, nothing left, the other container's rule untouched
    await nft('flush', 'chain', 'ip', 'cni_hostport', 'hostports');
    await nft('add', 'rule', 'ip', 'cni_hostport', 'hostports', 'tcp', 'dport', '18081', 'dnat', 'to', '198.18.47.9:80', 'comment', '"another-container"');
    const r = await runCli('attach', [...lab.args(ws, ns, 'eth1', nftConf), '-v'], onNode);
    expectOk(r);
    expect(r.stderr, show(r)).toContain(`debug: no rules of container ${cid} in portmap's nftables table cni_hostport on the node`);
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1'), onNode));
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
    expect(await nft('list', 'table', 'ip', 'cni_hostport')).toContain('comment "another-container"');
  });

  it('"backend": "nftables", rules of the sandbox\'s container id added to the node\'s table ip cni_hostport after the attach (as a runtime\'s portmap adds them for the pod\'s own host ports): the detach and its dry run are refused, naming them and the cni-detach --force (that backend\'s DEL would remove them too); --force detaches it, saying so', async () => {
    const { ws, node, ns, net, cid, conf, onNode, nat } = await mappedWorld();
    const plugins = (JSON.parse(await readFile(conf, 'utf8')) as { plugins: Record<string, unknown>[] }).plugins.map((p) => (p.type === 'portmap' ? { ...p, backend: 'nftables' } : p));
    const nftConf = await writeConf(ws.dir, 'nft.conflist', conflist(net, plugins));
    const nft = (...args: string[]) => must(['ip', 'netns', 'exec', node, 'nft', ...args]);
    const r = await runCli('attach', [...lab.args(ws, ns, 'eth1', nftConf), '-o', 'json'], onNode);
    expectOk(r);
    const address = (JSON.parse(r.stdout) as { ips: { address: string }[] }).ips[0]!.address.replace(/\/\d+$/, '');
    // after it, another's rules of this container id (another address): what portmap's nftables backend writes
    await nft('add', 'table', 'ip', 'cni_hostport', '{ comment "CNI portmap plugin"; }');
    await nft('add', 'chain', 'ip', 'cni_hostport', 'hostports');
    await nft('add', 'rule', 'ip', 'cni_hostport', 'hostports', 'tcp', 'dport', '18081', 'dnat', 'to', '198.18.47.9:80', 'comment', `"${cid}"`);
    const table = await nft('list', 'table', 'ip', 'cni_hostport');
    const natBefore = await nat();
    const leased = await leases(ws.dataDir);
    const rule = `tcp dport 18081 dnat to 198.18.47.9:80 comment "${cid}"`;
    for (const dry of [['--dry-run'], []]) {
      const d = await runCli('detach', [...lab.args(ws, ns, 'eth1'), ...dry], onNode);
      expectCleanError(d, 2, new RegExp(`^error: eth1 in netns ${netnsPath(ns)} is not detached: network ${net}'s plugin portmap uses its nftables backend, whose DEL removes every rule of its container id, and there is a rule of container ${cid} in portmap's nftables table that this attachment did not make \\(it names none of its addresses, ${address.replaceAll('.', '\\.')}\\): table ip cni_hostport: «${rule.replaceAll('.', '\\.')}» — another attachment's in the sandbox, the pod's own network's host ports, or another tool's, made after this attach —; its DEL would remove it too \\(nothing was changed\\)`));
      expect(d.stderr, show(d)).toContain(`; \`kubectl cni-detach --netns ${netnsPath(ns)} --ifname eth1 --cache-dir ${ws.cacheDir} --cni-path `);
      expect(d.stderr, show(d)).toMatch(/ --force` detaches it all the same, and its DEL removes that rule too; `nft list table ip cni_hostport` shows it$/m);
      expect(await nft('list', 'table', 'ip', 'cni_hostport')).toBe(table);
      expect(await nat()).toBe(natBefore);
      expect(await linkExists('eth1', ns)).toBe(true);
      expect(await leases(ws.dataDir)).toEqual(leased);
    }
    const forced = await runCli('detach', [...lab.args(ws, ns, 'eth1'), '--force'], onNode);
    expectOk(forced);
    expect(forced.stderr, show(forced)).toContain(`note: --force: network ${net}'s plugin portmap uses its nftables backend, whose DEL removes every rule of its container id: the DEL of eth1 removes a rule of container ${cid} in portmap's nftables table that this attachment did not make`);
    expect(await linkExists('eth1', ns)).toBe(false);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
    expect(await nat()).not.toMatch(/CNI-DN-/);
    // (this Debian's portmap 1.1.1 ignores "backend" and used iptables: the rule stays here; 1.6's DEL removes it)
    expect(await nft('list', 'table', 'ip', 'cni_hostport')).toContain(rule);
  });
});
