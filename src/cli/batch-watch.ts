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
import { ApiStatusError, NotFoundError } from '../errors.js';
import type { KubeApi, Pod, PodChange, PodList, PodWatch } from '../resolve/kube.js';

/** Why a pod's turn is skipped: `why`, its words; `kind`, the group the summary counts it in. */
export interface Gone {
  why: string;
  kind: 'deleted' | 'unselected';
}

export interface BatchWatch {
  /**
   * Why the pod's turn is skipped, or undefined when the watch saw nothing against it (or there is no watch): deleted
   * ("deleted after the pods were listed: …", "being deleted (since …, 3s ago, grace period 30s): …"), or no longer
   * selected ("no longer selected by -l app=web: its labels changed after the pods were listed"). A DELETED without a
   * deletionTimestamp may be either — the API server's watch cache sends a pod that leaves the selection as DELETED,
   * as it was while it matched (apiserver cacheWatcher convertToWatchEvent: its labels do not tell) — so the pod is
   * read then, once: gone or of another uid, deleted; there, relabelled. Never rejects.
   */
  gone(pod: Pod): Promise<Gone | undefined>;
  /**
   * Whether the watch follows the pods now: false once it was refused or ended for good (the batch goes on without it),
   * or when there was none to open (the list gave no resourceVersion). What it has not seen, a caller then asks the API.
   */
  watching(): boolean;
  /** End the watch (idempotent). */
  stop(): void;
}

/** What the watch last saw of a listed pod (by uid: a pod made again under its name is another pod). */
interface Seen {
  pod: Pod;
  deleted: boolean;
}

/**
 * Whether the listed pod `listed`, read again during the batch (`now`: the pod of its name now, or the NotFoundError
 * of that read), is gone — deleted (404, or a pod of another uid under its name: "deleted `when`: its network went
 * with it") or being deleted ("being deleted (since …): its network goes with it") — or undefined while it lives.
 * beingDeleted: resolve/pod.ts's words for a pod with a deletionTimestamp.
 */
export function goneNow(listed: Pod, now: Pod | NotFoundError, beingDeleted: (pod: Pod) => string | undefined, when: string): string | undefined {
  if (now instanceof NotFoundError || (listed.metadata?.uid && now.metadata?.uid !== listed.metadata.uid)) return `deleted ${when}: its network went with it`;
  const since = beingDeleted(now);
  return since === undefined ? undefined : `being deleted (${since}): its network goes with it`;
}

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
  let lost = false;
  const without = (why: string) => {
    lost = true;
    debug?.(`the batch's pods are not watched (${why}): a pod deleted after the list is still attached to in its turn`);
  };
  let rv = listed.resourceVersion;
  let stopped = false;
  let current: PodWatch | undefined;
  const on = (c: PodChange) => {
    if (c.resourceVersion) rv = c.resourceVersion;
    const uid = c.pod.metadata?.uid;
    if (!uid || !uids.has(uid)) return;
    // a pod back in the selection (its labels again matching) is ADDED: its turn goes on
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
    async gone(pod) {
      const s = pod.metadata?.uid ? seen.get(pod.metadata.uid) : undefined;
      if (!s) return undefined;
      const deleting = beingDeleted(s.pod);
      if (!s.deleted) return deleting === undefined ? undefined : { why: `being deleted (${deleting}): its network goes with it`, kind: 'deleted' };
      if (s.pod.metadata?.deletionTimestamp) return { why: 'deleted after the pods were listed: its network went with it', kind: 'deleted' };
      // left the selection: deleted at once, or relabelled — the pod as it is now tells
      const m = pod.metadata!;
      const now = await api.getPod(m.namespace!, m.name!).catch((e: unknown) => e);
      const by = selector ? `-l ${selector}` : 'the batch';
      if (now instanceof NotFoundError || !(now instanceof Error)) {
        const why = goneNow(pod, now as Pod | NotFoundError, beingDeleted, 'after the pods were listed');
        return why ? { why, kind: 'deleted' } : { why: `no longer selected by ${by}: its labels changed after the pods were listed`, kind: 'unselected' };
      }
      return { why: `no longer selected by ${by} after the pods were listed: deleted, or its labels changed (reading it failed: ${now.message})`, kind: 'unselected' };
    },
    watching() {
      return !lost && !stopped;
    },
    stop() {
      stopped = true;
      current?.stop();
    },
  };
}
