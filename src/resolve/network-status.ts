/**
 * The pod annotation k8s.v1.cni.cncf.io/network-status (NPWG multi-net spec): a JSON list of the pod's networks.
 * Pure functions: add our entry (replacing a stale one for the same interface), remove exactly ours.
 */
import type { JsonObject } from '../cni/conf.js';
import { summarizeResult } from '../cni/result.js';

export const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';

export interface NetworkStatusEntry {
  name: string;
  interface: string;
  ips?: string[];
  mac?: string;
  default: boolean;
  dns?: JsonObject;
  gateway?: string[];
  [k: string]: unknown;
}

/** The entry for an attachment, from the chain's final result. */
export function entryFromResult(name: string, ifname: string, result: JsonObject): NetworkStatusEntry {
  const s = summarizeResult(result);
  const own = s.ips.filter((ip) => ip.interface === undefined || ip.interface === ifname);
  const entry: NetworkStatusEntry = { name, interface: ifname, default: false };
  if (own.length) entry.ips = own.map((ip) => ip.address.split('/')[0]!);
  const mac = s.interfaces.find((i) => i.name === ifname && i.sandbox)?.mac ?? s.interfaces.find((i) => i.name === ifname)?.mac;
  if (mac) entry.mac = mac;
  const gws = [...new Set(own.map((ip) => ip.gateway).filter((g): g is string => !!g))];
  if (gws.length) entry.gateway = gws;
  entry.dns = { ...s.dns } as JsonObject;
  return entry;
}

function parse(current: string | undefined): unknown[] {
  if (!current) return [];
  try {
    const v = JSON.parse(current) as unknown;
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

const sameInterface = (e: unknown, ifname: string) => (e as { interface?: unknown } | null)?.interface === ifname;

/** Whether the annotation (`current`) has an entry for interface `ifname` (an unreadable one has none). */
export function namesInterface(current: string | undefined, ifname: string): boolean {
  return parse(current).some((e) => sameInterface(e, ifname));
}

/** The annotation with our entry added; an earlier entry for the same interface (a retried attach) is replaced. */
export function addEntry(current: string | undefined, entry: NetworkStatusEntry): string {
  const list = parse(current).filter((e) => !(sameInterface(e, entry.interface) && (e as { name?: unknown }).name === entry.name));
  list.push(entry);
  return JSON.stringify(list, null, 2);
}

/**
 * The annotation without our entry for ifname; the pod's default network is never removed. undefined when nothing is
 * left to say. One entry for ifname is ours (an interface name is unique in a pod). Where there are several — another
 * tool's (Multus, a hand edit) beside ours, which addEntry keeps as it keeps every entry of another name — only those
 * named as we name a detached network are ours: `networks` (the networks detached), an entry named NETWORK or
 * NAMESPACE/NETWORK (a NetworkAttachmentDefinition's); when none is, none is removed (which is ours cannot be told).
 */
export function removeEntry(current: string | undefined, ifname: string, networks?: string[]): string | undefined {
  if (current === undefined) return undefined;
  const before = parse(current);
  const candidates = before.filter((e) => sameInterface(e, ifname) && (e as { default?: unknown }).default !== true);
  const named = (e: unknown) => {
    const n = (e as { name?: unknown }).name;
    return typeof n === 'string' && (networks ?? []).some((w) => n === w || n.endsWith(`/${w}`));
  };
  const ours = candidates.length > 1 && networks ? candidates.filter(named) : candidates;
  if (ours.length === 0) return current;
  const after = before.filter((e) => !ours.includes(e));
  return after.length ? JSON.stringify(after, null, 2) : undefined;
}
