/** Looking at the host's and the namespaces' network state with iproute2. */
import { createHash } from 'node:crypto';
import { must, sh } from './sh.js';

export const NETNS_DIR = '/var/run/netns';
export const netnsPath = (name: string): string => `${NETNS_DIR}/${name}`;

/** The container id cni-attach derives from a netns path, the way cnitool does: sha512 of the absolute path. */
export function containerIdOf(path: string): string {
  return `cnitool-${createHash('sha512').update(path).digest().subarray(0, 10).toString('hex')}`;
}

export interface Link {
  index: number;
  name: string;
  /** The whole `ip -o link` line (flags, mtu, master, link-netns, …). */
  line: string;
  mtu?: number;
  master?: string;
}

function parseLinks(out: string): Link[] {
  const links: Link[] = [];
  for (const line of out.split('\n')) {
    const m = /^(\d+): ([^:@\s]+)(?:@[^:\s]+)?: /.exec(line);
    if (!m) continue;
    const link: Link = { index: Number(m[1]), name: m[2]!, line };
    const mtu = / mtu (\d+)/.exec(line);
    if (mtu) link.mtu = Number(mtu[1]);
    const master = / master (\S+)/.exec(line);
    if (master) link.master = master[1]!;
    links.push(link);
  }
  return links;
}

/** Links of the host namespace (ns undefined) or of a named namespace. */
export async function links(ns?: string): Promise<Link[]> {
  return parseLinks(await must(ns === undefined ? ['ip', '-o', 'link'] : ['ip', '-n', ns, '-o', 'link']));
}

export async function linkNames(ns?: string): Promise<string[]> {
  return (await links(ns)).map((l) => l.name);
}

export async function linkExists(name: string, ns?: string): Promise<boolean> {
  const r = await sh(ns === undefined ? ['ip', 'link', 'show', 'dev', name] : ['ip', '-n', ns, 'link', 'show', 'dev', name]);
  return r.exitCode === 0;
}

export async function getLink(name: string, ns?: string): Promise<Link | undefined> {
  return (await links(ns)).find((l) => l.name === name);
}

/** IPv4 addresses (with prefix) on a link in a namespace. */
export async function ipv4Addrs(ns: string, dev: string): Promise<string[]> {
  const out = await must(['ip', '-n', ns, '-o', '-4', 'addr', 'show', 'dev', dev]);
  return [...out.matchAll(/ inet (\S+)/g)].map((m) => m[1]!);
}

/** Named namespaces (`ip netns list`). */
export async function netnsList(): Promise<string[]> {
  const out = await must(['ip', 'netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

export async function ping(fromNs: string, address: string): Promise<{ ok: boolean; output: string }> {
  const r = await sh(['ip', 'netns', 'exec', fromNs, 'ping', '-c1', '-W2', address]);
  return { ok: r.exitCode === 0, output: `${r.stdout}${r.stderr}` };
}

/** `tc qdisc show dev DEV` in the host namespace. */
export async function qdiscs(dev: string): Promise<string> {
  return must(['tc', 'qdisc', 'show', 'dev', dev]);
}

export async function ipForward(): Promise<string> {
  return (await must(['sysctl', '-n', 'net.ipv4.ip_forward'])).trim();
}

export async function setIpForward(v: string): Promise<void> {
  await must(['sysctl', '-q', '-w', `net.ipv4.ip_forward=${v}`]);
}

/** The address part of "198.18.1.2/24". */
export const addrOnly = (cidr: string): string => cidr.split('/')[0]!;
