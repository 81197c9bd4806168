/** macvlan (mode bridge) on a veth in the host namespace: two namespaces talk through the shared parent. 198.18.3.0/24. */
import { describe, expect, it } from 'vitest';
import { expectOk, runCli, show } from '../helpers/cli.js';
import { writeConf } from '../helpers/confs.js';
import { leases } from '../helpers/ipam.js';
import { deleteLink, attachmentFiles, useLab } from '../helpers/lab.js';
import { addrOnly, getLink, ipv4Addrs, linkExists, ping } from '../helpers/net.js';

const lab = useLab('mv');

describe('macvlan on a veth parent', () => {
  it('gives two namespaces eth1 on the same parent; they ping each other; detach removes them', async () => {
    const ws = await lab.workspace();
    const [parent, peer] = await lab.veth();
    const [a, b] = [await lab.netns(), await lab.netns()];
    const net = lab.name('k');
    const conf = await writeConf(ws.dir, 'macvlan.json', {
      cniVersion: '1.0.0',
      name: net,
      type: 'macvlan',
      master: parent,
      mode: 'bridge',
      ipam: { type: 'host-local', subnet: '198.18.3.0/24', dataDir: ws.dataDir },
    });

    const addrs: string[] = [];
    for (const ns of [a, b]) {
      const r = await runCli('attach', [...lab.args(ws, ns, 'eth1', conf), '-o', 'json']);
      expectOk(r);
      const res = JSON.parse(r.stdout) as { interfaces: { name: string; sandbox?: string }[]; ips: { address: string }[] };
      expect(res.interfaces, show(r)).toEqual([expect.objectContaining({ name: 'eth1', sandbox: `/var/run/netns/${ns}` })]);
      expect(res.ips[0]!.address).toMatch(/^198\.18\.3\.\d+\/24$/);
      expect(await ipv4Addrs(ns, 'eth1')).toEqual([res.ips[0]!.address]);
      const link = await getLink('eth1', ns);
      expect(link?.line, 'eth1 is a macvlan of the veth').toMatch(/eth1@/);
      addrs.push(addrOnly(res.ips[0]!.address));
    }
    const pab = await ping(a, addrs[1]!);
    expect(pab.ok, pab.output).toBe(true);
    const pba = await ping(b, addrs[0]!);
    expect(pba.ok, pba.output).toBe(true);

    for (const ns of [a, b]) {
      expectOk(await runCli('detach', lab.args(ws, ns, 'eth1')));
      expect(await linkExists('eth1', ns)).toBe(false);
    }
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
    // the parent is ours, untouched by the plugin; deleting it takes the peer too
    expect(await linkExists(parent)).toBe(true);
    await deleteLink(parent);
    expect(await linkExists(peer)).toBe(false);
  });
});
