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
import { CniAttachError } from '../errors.js';
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

/** The API server limits an event's message to 1 KiB. */
function limited(event: PodEvent): PodEvent {
  return event.message.length > 1024 ? { ...event, message: `${event.message.slice(0, 1021)}...` } : event;
}

/**
 * text with each of `hide` (the CNI cache directory the user gave, which is also the node's; a trailing '/' ignored)
 * written `<cache dir>`: events are read by everyone with access to the namespace, and kubectl's own events never
 * carry a client's paths; and each client command it names written `<command>` (hideCommands). Every event text that
 * comes from an error (a plugin's message, a record's file) goes through it.
 */
function hidePaths(text: string, hide: string[]): string {
  let out = text;
  for (const p of hide.map((h) => h.replace(/\/+$/, '')).filter((h) => h.length > 1)) out = out.split(p).join('<cache dir>');
  return hideCommands(out);
}

/**
 * A client command's identity as messages name it (exec/lock.ts commandName: "pid 1648", "pid 1648 on this host vm",
 * "pid 77 on host laptop-2, running for 3m12s" — a lock's holder, a write-ahead record's command), written `<command>`:
 * a pid and the host it runs on say which user's machine ran what, which the pod's events (read by everyone with
 * access to its namespace) do not carry, as kubectl's carry no client details (the reporting instance is the event's
 * own field). An outside tester found "its command (pid 1648 on this host vm) is gone" in a FailedAddInterface.
 */
export function hideCommands(text: string): string {
  return text.replace(/\bpid \d+(?: on (?:this )?host [^\s,;()]+)?(?:, running for [0-9hms]+)?/g, '<command>');
}

/**
 * Normal/RemovedInterface: "Remove eth1 from shop/macvlan-net". A forced detach whose DEL did not succeed forgot the
 * record without removing anything for sure: Warning/FailedRemoveInterface, "Remove eth1 from shop/macvlan-net
 * failed (<why>); its record was forgotten (forced): <what may remain>", with the paths of `hide` (the cache dir)
 * written `<cache dir>` (see hidePaths).
 */
export function removedInterfaceEvent(ifname: string, network: string, forced: { delError?: string; mayRemain: string } | undefined, hide: string[]): PodEvent {
  if (!forced?.delError) return { type: 'Normal', reason: 'RemovedInterface', message: `Remove ${ifname} from ${network}` };
  return limited({ type: 'Warning', reason: 'FailedRemoveInterface', message: hidePaths(`Remove ${ifname} from ${network} failed (${forced.delError}); its record was forgotten (forced): ${forced.mayRemain}`, hide) });
}

/**
 * Warning/FailedAddInterface, saying what the failed attach left (CniAttachError.left, set by the engine), as the
 * CLI's own message and exit code do:
 *   refused (exit 2, 3; busy): "Add eth1 from blue refused (no plugin ADD ran): eth1 is already taken in pod shop/web-1: it is attached (network blue)"
 *   failed before any ADD (VERSION, STATUS): "Add eth1 from blue failed before any plugin ADD ran: plugin bridge failed on VERSION: …"
 *   rolled back: "Add eth1 from blue failed: plugin bridge failed on ADD (CNI error 11): no bridge today (rolled back: nothing was left behind)"
 *   the rollback failed too: "Add eth1 from blue failed, and so did its rollback: …; rolling back also failed: …; the attempt stays recorded, and <what may remain>"
 *   the node was lost during the ADD: "Add eth1 from blue failed, its outcome unknown (the connection to its node was lost during the ADD): running /opt/cni/bin/bridge on node a: … ; whether the ADD ran is not known: the attempt stays recorded on the node, and <what may remain>"
 * Only the error's message, which says what happened on the pod's node: never its `next` (the user's own command
 * lines, with their local flags and paths) nor the flag of its fix. Events are read by everyone with access to the
 * namespace, and kubectl's own events never carry a client's command lines — nor its paths: each of `hide` (the CNI
 * cache directory the user gave, which is also the node's) is written `<cache dir>` wherever the message names it
 * (hidePaths).
 */
export function failedAddInterfaceEvent(ifname: string, network: string, e: unknown, hide: string[]): PodEvent {
  const message = hidePaths((e as Error)?.message ?? String(e), hide);
  const left = e instanceof CniAttachError ? e.left : undefined;
  const refused = e instanceof CniAttachError && (e.kind === 'usage' || e.kind === 'not-found' || e.kind === 'busy');
  const what =
    left === 'nothing' ? (refused ? 'refused (no plugin ADD ran)' : 'failed before any plugin ADD ran')
      : left === 'recorded' && e instanceof CniAttachError && e.kind === 'unreachable' ? 'failed, its outcome unknown (the connection to its node was lost during the ADD)'
        : left === 'recorded' ? 'failed, and so did its rollback'
          : 'failed';
  return limited({ type: 'Warning', reason: 'FailedAddInterface', message: `Add ${ifname} from ${network} ${what}: ${message}` });
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
