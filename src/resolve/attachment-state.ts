/**
 * Is a cached attachment still alive? A pod's is alive while the pod (same uid) exists and its sandbox is the one the
 * attachment went into; a bare namespace's while the namespace exists; an unfinished attach's intent never is (unless
 * an attach holds its lock right now). Used by cni-list (to show) and cni-gc (to free what is dead).
 */
import type { CacheEntry, Found } from '../cni/cache.js';
import type { Executor } from '../exec/types.js';
import type { Pod } from './kube.js';
import type { SandboxInfo } from './runtime.js';

export type State = 'attached' | 'interrupted' | 'pod gone' | 'sandbox gone' | 'netns gone';

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

export async function classify(found: Found[], world: World): Promise<Classified[]> {
  const pods = new Map((world.pods ?? []).map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p]));
  const running = new Set((world.sandboxes ?? []).filter((s) => s.running).map((s) => s.id));
  const out: Classified[] = [];
  for (const f of found) {
    const pod = podOf(f.entry);
    let state: State = 'attached';
    let livePod: Pod | undefined;
    if (pod) {
      const p = pods.get(`${pod.namespace}/${pod.name}`);
      if (world.pods && (!p || (pod.uid && p.metadata?.uid !== pod.uid))) state = 'pod gone';
      else {
        livePod = p;
        if (world.sandboxes && !running.has(f.entry.containerId)) state = 'sandbox gone';
      }
    } else if (f.entry.netns && (await world.exec.pathKind(f.entry.netns)) !== 'netns') {
      state = 'netns gone';
    }
    if (state === 'attached' && f.intentOnly) state = 'interrupted';
    out.push({ ...f, state, ...(pod ? { pod } : {}), ...(livePod ? { livePod } : {}) });
  }
  return out;
}
