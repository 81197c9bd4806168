/**
 * Is a cached attachment still alive? A pod's is alive while the pod (same uid) exists and its sandbox is the one the
 * attachment went into; a bare namespace's while the namespace exists; an unfinished attach's intent never is (unless
 * an attach holds its lock right now). Used by cni-list (to show) and cni-gc (to free what is dead).
 */
import type { CacheEntry, Found } from '../cni/cache.js';
import type { Executor } from '../exec/types.js';
import type { Pod } from './kube.js';
import type { SandboxInfo } from './runtime.js';
import { interfaceExists } from './netns.js';

/**
 * attached: alive as recorded. interrupted: an attach that never finished (or whose rollback failed). pod / sandbox /
 * netns gone: its target is gone (cni-gc frees it). interface gone: the target lives but the interface is not in it
 * (someone deleted it; the IPAM lease is still held: cni-detach frees it). unreadable: the record cannot be read
 * (cni-detach --force forgets it). stale lock: a lock file whose holder is gone (the next command breaks it).
 */
export type State = 'attached' | 'interrupted' | 'pod gone' | 'sandbox gone' | 'netns gone' | 'interface gone' | 'unreadable' | 'stale lock';

export interface PodOf {
  namespace: string;
  name: string;
  uid?: string;
}

/** The pod an entry was made for, from the CNI_ARGS kubelet-style attaches carry. */
export function podOf(e: CacheEntry): PodOf | undefined {
  const m = new Map(e.cniArgs ?? []);
  const namespace = m.get('K8S_POD_NAMESPACE');
  const name = m.get('K8S_POD_NAME');
  if (!namespace || !name) return undefined;
  const uid = m.get('K8S_POD_UID');
  return { namespace, name, ...(uid ? { uid } : {}) };
}

export interface Classified extends Found {
  state: State;
  /** Why it is in that state, in words, for states other than attached ("eth1 is not in /var/run/netns/x", …). */
  reason?: string;
  pod?: PodOf;
  /** The live Pod object, when the entry's pod still exists (same uid). */
  livePod?: Pod;
}

export interface World {
  /** Every pod of the cluster (one list); undefined when the cluster was not consulted. */
  pods?: Pod[];
  /** Every sandbox of the runtimes here (one list each); undefined when not consulted. */
  sandboxes?: SandboxInfo[];
  exec: Executor;
}

/**
 * The state of each record (see State). Where the target's namespace is reachable from world.exec (a bare namespace
 * that exists, a pod's sandbox the runtime reports running), an attached record is also checked for its interface:
 * a read of /proc/PID/net/dev for a sandbox, one `ip link` in the namespace otherwise.
 */
export async function classify(found: Found[], world: World): Promise<Classified[]> {
  const pods = new Map((world.pods ?? []).map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p]));
  const running = new Set((world.sandboxes ?? []).filter((s) => s.running).map((s) => s.id));
  const out: Classified[] = [];
  for (const f of found) {
    if (f.unreadable) {
      out.push({ ...f, state: 'unreadable', reason: `${f.file}: ${f.unreadable}; a forced cni-detach of ${f.entry.ifName || 'its interface'} forgets it` });
      continue;
    }
    const pod = podOf(f.entry);
    let state: State = 'attached';
    let reason: string | undefined;
    let livePod: Pod | undefined;
    let reachable = false;
    if (pod) {
      const p = pods.get(`${pod.namespace}/${pod.name}`);
      if (world.pods && (!p || (pod.uid && p.metadata?.uid !== pod.uid))) state = 'pod gone';
      else {
        livePod = p;
        if (world.sandboxes && !running.has(f.entry.containerId)) state = 'sandbox gone';
        else reachable = !!world.sandboxes;
      }
    } else if (f.entry.netns) {
      if ((await world.exec.pathKind(f.entry.netns)) !== 'netns') state = 'netns gone';
      else reachable = true;
    }
    if (state === 'attached' && f.intentOnly) {
      state = 'interrupted';
      reason = 'an attach of it did not finish (killed, or its rollback failed): cni-detach or cni-gc undoes it';
    } else if (state === 'attached' && reachable && f.entry.netns) {
      const there = await interfaceExists(world.exec, f.entry.netns, f.entry.ifName).catch(() => undefined);
      if (there === false) {
        state = 'interface gone';
        reason = `${f.entry.ifName} is not in ${f.entry.netns} any more (deleted by someone else?); its IPAM lease is still held: cni-detach frees it`;
      }
    }
    out.push({ ...f, state, ...(reason ? { reason } : {}), ...(pod ? { pod } : {}), ...(livePod ? { livePod } : {}) });
  }
  return out;
}
