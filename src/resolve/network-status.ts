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

/** The annotation with our entry added; an earlier entry for the same interface (a retried attach) is replaced. */
export function addEntry(current: string | undefined, entry: NetworkStatusEntry): string {
  const list = parse(current).filter((e) => !(sameInterface(e, entry.interface) && (e as { name?: unknown }).name === entry.name));
  list.push(entry);
  return JSON.stringify(list, null, 2);
}

/**
 * The annotation without the entry for ifname (an interface name is unique in a pod, so it names exactly our entry);
 * the pod's default network is never removed. undefined when nothing is left to say.
 */
export function removeEntry(current: string | undefined, ifname: string): string | undefined {
  if (current === undefined) return undefined;
  const before = parse(current);
  const after = before.filter((e) => !(sameInterface(e, ifname) && (e as { default?: unknown }).default !== true));
  if (after.length === before.length) return current;
  return after.length ? JSON.stringify(after, null, 2) : undefined;
}
