/**
 * An attach batch's watch of its pods (issue 12): a pod deleted, or put into Terminating (deletionTimestamp set), after
 * the batch listed it and before its turn would still get its ADD — into a sandbox the kubelet is tearing down, and a
 * lease left for cni-gc. One watch of the batch's selection (its namespace or -A, its label selector) from the list's
 * resourceVersion, as client-go's reflector and `kubectl get -w` follow a list, tells the batch which pods went: their
 * turn skips them (cli/bulk.ts SkippedPod), with nothing done on their node or in the cluster.
 *
 * One request for the whole batch, stopped when the batch ends (also on the user's signal: the caller's finally).
 * Best effort: a watch that cannot be made (403 without `watch` on pods, an old server, 410 Expired, a lost
 * connection) leaves the batch as it was without it, said in one line at -v. A watch that ends after it began (the
 * server's timeout, a lost connection) is reopened once, from the last resourceVersion it gave; the second end stops
 * it for the rest of the batch (said at -v too).
 */
import { ApiStatusError } from '../errors.js';
import type { KubeApi, Pod, PodChange, PodList, PodWatch } from '../resolve/kube.js';

export interface BatchWatch {
  /**
   * Why the pod's turn is skipped, or undefined when the watch saw nothing against it (or there is no watch): "deleted
   * after the pods were listed", "being deleted (since …, 3s ago, grace period 30s)".
   */
  gone(pod: Pod): string | undefined;
  /** End the watch (idempotent). */
  stop(): void;
}

/** What the watch last saw of a listed pod (by uid: a pod made again under its name is another pod). */
interface Seen {
  pod: Pod;
  deleted: boolean;
}

const sameLabels = (a: Pod, b: Pod) => {
  const l = (p: Pod) => JSON.stringify(Object.entries(p.metadata?.labels ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return l(a) === l(b);
};

/**
 * Watch `listed`'s pods (listed by api.listPods(namespace, selector)) from its resourceVersion. beingDeleted: the
 * words of resolve/pod.ts for a pod with a deletionTimestamp. debug: -v's line. No resourceVersion in the list (a
 * server that gave none): no watch, said at -v.
 */
export function watchBatch(
  api: KubeApi,
  namespace: string | undefined,
  selector: string | undefined,
  listed: PodList,
  beingDeleted: (pod: Pod) => string | undefined,
  debug?: (line: string) => void,
): BatchWatch {
  const uids = new Map<string, Pod>(listed.flatMap((p) => (p.metadata?.uid ? [[p.metadata.uid, p] as [string, Pod]] : [])));
  const seen = new Map<string, Seen>();
  const without = (why: string) => debug?.(`the batch's pods are not watched (${why}): a pod deleted after the list is still attached to in its turn`);
  let rv = listed.resourceVersion;
  let stopped = false;
  let current: PodWatch | undefined;
  const on = (c: PodChange) => {
    if (c.resourceVersion) rv = c.resourceVersion;
    const uid = c.pod.metadata?.uid;
    if (!uid || !uids.has(uid)) return;
    const before = seen.get(uid)?.pod ?? uids.get(uid)!;
    // a DELETED that is the pod leaving the selection (its labels changed; the watch cache sends those so) is no
    // deletion: the pod is alive, and its turn goes on as the list had it
    if (c.type === 'DELETED' && !c.pod.metadata?.deletionTimestamp && !sameLabels(before, c.pod)) return;
    seen.set(uid, { pod: c.pod, deleted: c.type === 'DELETED' });
  };
  const open = (reopened: boolean) => {
    if (stopped || rv === undefined) return;
    const w = (current = api.watchPods(namespace, selector, rv, on));
    void w.ended.then((e) => {
      if (stopped || e === undefined) return;
      // refused (403, 410 Expired, another Status) or ended twice: the rest of the batch goes on without it
      if (e instanceof ApiStatusError || reopened) return without(`${e.message}${reopened ? '; it had been reopened once already' : ''}`);
      debug?.(`the watch of the batch's pods ended (${e.message}): reopened once, from resourceVersion ${rv}`);
      open(true);
    });
  };
  if (rv === undefined) without('the pod list came without a resourceVersion to watch from');
  else open(false);
  return {
    gone(pod) {
      const s = pod.metadata?.uid ? seen.get(pod.metadata.uid) : undefined;
      if (!s) return undefined;
      if (s.deleted) return 'deleted after the pods were listed: its network went with it';
      const since = beingDeleted(s.pod);
      return since === undefined ? undefined : `being deleted (${since}): its network goes with it`;
    },
    stop() {
      stopped = true;
      current?.stop();
    },
  };
}
