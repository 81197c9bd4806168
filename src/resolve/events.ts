/**
 * The Events cni-attach records on a pod, so that `kubectl describe pod` shows what was hot-plugged and when, in
 * Multus's words (multus-cni pkg/multus delegateAdd: reason AddedInterface, message "Add <ifname> [<ip/prefix> …]
 * from <network>", with <network> "namespace/name" for a NetworkAttachmentDefinition).
 *
 * They are core/v1 Events (POST /api/v1/namespaces/{ns}/events): `kubectl describe pod` lists events by
 * involvedObject through the core/v1 API on every server version (kubectl 1.32 included; events.k8s.io/v1 is the same
 * storage seen through another API, and needs API servers ≥ 1.19), and Multus itself writes them with client-go's
 * core/v1 EventRecorder.
 *
 * An event is a record, not part of the attachment: one that cannot be written is a note on stderr, never a failure.
 */
import type { JsonObject } from '../cni/conf.js';
import { summarizeResult } from '../cni/result.js';
import type { KubeApi, Pod, PodEvent } from './kube.js';

/** Go's %v of a []string: "[a b]". */
const goList = (xs: string[]) => `[${xs.join(' ')}]`;

/** Normal/AddedInterface: "Add eth1 [198.18.0.5/24] from shop/macvlan-net" (Multus's message). */
export function addedInterfaceEvent(ifname: string, network: string, result: JsonObject): PodEvent {
  let ips: string[] = [];
  try {
    ips = summarizeResult(result).ips.filter((ip) => ip.interface === undefined || ip.interface === ifname).map((ip) => ip.address);
  } catch {
    /* a result we cannot read has no addresses to show */
  }
  return { type: 'Normal', reason: 'AddedInterface', message: `Add ${ifname} ${goList(ips)} from ${network}` };
}

/** Normal/RemovedInterface: "Remove eth1 from shop/macvlan-net". */
export function removedInterfaceEvent(ifname: string, network: string): PodEvent {
  return { type: 'Normal', reason: 'RemovedInterface', message: `Remove ${ifname} from ${network}` };
}

/** Warning/FailedAddInterface: "Add eth1 from shop/macvlan-net failed (rolled back): <error>". */
export function failedAddInterfaceEvent(ifname: string, network: string, error: string): PodEvent {
  const msg = `Add ${ifname} from ${network} failed (rolled back): ${error}`;
  // the API server limits an event's message to 1 KiB
  return { type: 'Warning', reason: 'FailedAddInterface', message: msg.length > 1024 ? `${msg.slice(0, 1021)}...` : msg };
}

/** Record an event on a pod; a failure becomes a note (returns false), never an error. */
export async function recordPodEvent(api: KubeApi, pod: Pod, event: PodEvent, host: string, note: (line: string) => void): Promise<boolean> {
  try {
    await api.createPodEvent(pod, event, host);
    return true;
  } catch (e) {
    note(`the ${event.reason} event could not be recorded on pod ${pod.metadata?.namespace}/${pod.metadata?.name}: ${(e as Error).message}`);
    return false;
  }
}
