/**
 * How cni-list --node and cni-gc judge the attachments of live pods on a node they look at (one rule, one copy): the
 * sandboxes those attachments went into looked up there (resolve/pod.ts runningSandboxOf, the rule every command
 * judges a sandbox by; all of that node's pods at once first), with the links each look-up read, then
 * resolve/attachment-state.ts classify — `sandbox gone`, `interface gone` (the link is not in the sandbox's namespace:
 * its lease is still held, cni-detach frees it), `attached`, or not judged (Classified.unchecked: the look-up failed).
 * cni-gc gives the entries its node's cache holds; cni-list those its records name (recordFound).
 */
import { NotFoundError, UnreachableError } from '../errors.js';
import type { CacheEntry, Found, ResultCache } from '../cni/cache.js';
import type { Busy } from '../exec/lock.js';
import type { Executor } from '../exec/types.js';
import type { Classified, World } from '../resolve/attachment-state.js';
import type { Pod } from '../resolve/kube.js';
import type { AttachmentRecord } from '../resolve/records.js';
import type { PodRef, PodRuntime } from '../resolve/runtime.js';
import { load } from './load.js';

/**
 * What classify needs to judge the sandboxes of the live pods' attachments that `node` holds (`found`; `pods`: the
 * live pods), as on this host: the sandboxes that still run (runningSandboxOf through `runtimes`, or through the one
 * runtime's session `via` on that node; all of them looked up in one command first: PodRuntime.lookUpSandboxes, or
 * prepareBatch without `via`), with the links their look-up read (no command asks again), and the runtime that could
 * not be asked (`unasked`: then those it did not find running are not judged).
 */
export async function sandboxesOnNode(runtimes: PodRuntime[], node: string, found: Found[], pods: Pod[], via?: Executor): Promise<Pick<World, 'sandboxes' | 'unasked' | 'links' | 'node'>> {
  const [{ podOf }, { runningSandboxOf, prepareBatch }] = await Promise.all([load.attachmentState(), load.pods()]);
  const byName = new Map(pods.map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p]));
  const judged: { f: Found; ref: PodRef; pod: Pod }[] = [];
  for (const f of found) {
    const p = f.unreadable ? undefined : podOf(f.entry);
    const live = p ? byName.get(`${p.namespace}/${p.name}`) : undefined;
    // (one the API places on another node is not this node's to look up: classify's `other node`)
    if (!p || !live?.metadata?.uid || (p.uid && p.uid !== live.metadata.uid) || (live.spec?.nodeName && live.spec.nodeName !== node)) continue;
    judged.push({ f, pod: live, ref: { namespace: p.namespace, name: p.name, uid: live.metadata.uid, node } });
  }
  if (judged.length === 0) return { node };
  // (it never rejects; a node it could not look at leaves each pod to look itself up, and say why it could not)
  if (via) await runtimes[0]?.lookUpSandboxes?.([...new Map(judged.map((j) => [j.ref.uid, j.ref])).values()]).catch(() => undefined);
  else await prepareBatch(runtimes, [...new Set(judged.map((j) => j.pod))]).catch(() => undefined);
  const out: Required<Pick<World, 'sandboxes' | 'links' | 'node'>> & Pick<World, 'unasked'> = { sandboxes: [], links: new Map(), node };
  for (const { f, ref } of judged) {
    try {
      const sb = await runningSandboxOf(runtimes, ref, f.entry.containerId, via);
      if (!sb) continue;
      out.sandboxes.push({ id: sb.id, running: true });
      if (sb.links) out.links.set(sb.id, sb.links);
    } catch (e) {
      out.unasked ??= [{ runtime: runtimes[0]?.name ?? 'agent', error: e as Error }];
    }
  }
  return out;
}

/** A record of another node as the cache entry it names (its pod in CNI_ARGS, no config, no result), for classify. */
export function recordFound(r: AttachmentRecord, kind: CacheEntry['kind']): Found {
  const cniArgs: [string, string][] = [['K8S_POD_NAMESPACE', r.namespace], ['K8S_POD_NAME', r.pod], ...(r.uid ? [['K8S_POD_UID', r.uid] as [string, string]] : [])];
  return { entry: { kind, containerId: r.containerId, config: '', ifName: r.ifname, networkName: r.network, cniArgs }, intentOnly: false };
}

/** Judge `found` on `node` (sandboxesOnNode, then classify) with `exec` as classify's executor where no links were read. */
export async function judgeOnNode(runtimes: PodRuntime[], node: string, found: Found[], pods: Pod[], exec: Executor, extra: Omit<World, 'exec' | 'pods'> = {}, via?: Executor): Promise<Classified[]> {
  const { classify } = await load.attachmentState();
  return classify(found, { exec, pods, ...extra, ...(await sandboxesOnNode(runtimes, node, found, pods, via)) });
}

/**
 * --node (cni-gc, cni-list): each name must be a node of the cluster, known as a node that pods are scheduled on
 * (spec.nodeName of `pods`, every pod of the cluster: every node runs some, its network's and kube-proxy's at least) or
 * that `records` name — no Node object is read, so no right to read nodes is needed (deploy/rbac.yaml). A name that is
 * neither is a NotFoundError (exit 3, as kubectl answers a node it does not have) naming the nodes there are; `after`
 * ends the message ("; nothing was changed").
 */
export function refuseUnknownNodes(asked: string[], pods: Pod[], records: Pick<AttachmentRecord, 'node'>[], after = ''): void {
  const known = new Set([...pods.map((p) => p.spec?.nodeName), ...records.map((r) => r.node)].filter((n): n is string => !!n));
  const unknown = asked.filter((n) => !known.has(n));
  if (unknown.length === 0) return;
  const names = [...known].sort();
  const there = names.length === 0 ? 'no pod of the cluster is scheduled on any node' : `the nodes with pods or records: ${names.slice(0, 10).join(', ')}${names.length > 10 ? `, … (${names.length} in all)` : ''}`;
  throw new NotFoundError(`node${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')} not found: no pod is scheduled there and no attachment is recorded there (${there})${after}`);
}

/**
 * Group, until the returned end (idempotent), the notes the runtimes say of each node they reach (PodRuntime.groupNotes:
 * the agent's "node node-a is not this host …"), so that a command reaching several nodes at once (cni-list --node,
 * cni-gc) says them in one note naming the nodes, as a batch does (before: one note per node).
 */
export function groupReachNotes(runtimes: PodRuntime[]): () => void {
  const ends = runtimes.map((r) => r.groupNotes?.()).filter((e): e is () => void => e !== undefined);
  return () => ends.forEach((e) => e());
}

/**
 * A node's executor, reached as attach reaches it: a batching session where the runtime offers one (exec/batch.ts),
 * else its nodeExecutor (a kind node container, an agent pod); this host's (localExec) when none has it and it is this
 * host (`hostname`). As attach's --runtime auto: a runtime not installed here (no Docker on a laptop) is no answer; the
 * way to other nodes (the agent) answers for itself. `required`: a node that cannot be reached is an error (the first
 * runtime's, else an UnreachableError naming --runtime `runtime`), else `exec` is undefined. cni-gc and cni-list --node.
 */
export async function reachNode(runtime: string | undefined, hostname: string, runtimes: PodRuntime[], node: string, localExec: Executor, required: boolean): Promise<{ exec?: Executor; reachedBy?: PodRuntime }> {
  let firstError: unknown;
  for (const rt of runtimes) {
    try {
      const exec = (await rt.session?.(node)) ?? (await rt.nodeExecutor?.(node));
      if (exec) return { exec, reachedBy: rt };
    } catch (e) {
      if (runtimes.length === 1 || rt.lastResort || !(e instanceof UnreachableError)) throw e;
      firstError ??= e;
    }
  }
  if (node === hostname) return { exec: localExec };
  if (required) {
    throw firstError ?? new UnreachableError(`node ${node} cannot be reached from here with the runtime ${runtime ?? 'auto'}`, { fix: { setting: 'agentRuntime', advice: 'reach it through the cluster' } });
  }
  return {};
}

/** What node `cache` holds of a write-ahead record (its sandbox not known when written): found by the pod's uid and the record's network. */
export async function heldOfRecord(cache: ResultCache, r: AttachmentRecord): Promise<Found | undefined> {
  const { argsMatchPod } = await load.pods();
  return (await cache.findWhere(r.ifname, (e) => e.networkName === r.network && argsMatchPod(e.cniArgs, r.namespace, r.pod, r.uid)))[0];
}

/**
 * The lock an attach of a write-ahead record takes in the pod's sandbox (held before its intent is recorded), found by
 * the pod's uid on `node` through `reachedBy` (the runtime that reached it, `exec` its executor there); undefined when
 * it is free, or the pod has no sandbox there (none: nothing can be running in it).
 */
export async function sandboxLockOf(r: AttachmentRecord, node: string, cache: ResultCache, reachedBy: PodRuntime | undefined, exec: Executor): Promise<Busy | undefined> {
  const sb = reachedBy ? await reachedBy.findSandbox({ namespace: r.namespace, name: r.pod, uid: r.uid, node }, exec).catch((e: unknown) => {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }) : undefined;
  return sb ? cache.direct().lockHeld(sb.id, r.ifname) : undefined;
}

/**
 * What a write-ahead record (attaching: an attach begun, its record never settled) stands for on its node, the one
 * judgement cni-gc acts on (it settles, frees, keeps or forgets the record) and cni-list --node shows:
 *  - `finished`: the node holds its result (no intent) and no lock: the attach finished there and its command went
 *    before it settled the record (cni-gc settles it: attached; cni-list: attached, REASON `record not settled`);
 *  - `interrupted`: its intent, its lock free: an attach that did not finish (cni-gc and cni-detach undo it);
 *  - `busy`: a lock held — of what it holds, or with nothing held, of the pod's sandbox (`sandboxLock`: an attach
 *    before it recorded its intent) — a command working on it right now: left alone;
 *  - `nothing`: no result, no intent, no lock: nothing of that attach is there (cni-gc forgets the record once its
 *    command, of this host, is gone; keeps it while that command may run).
 * The lock and the entry are read from the node's cache (`cache`, a node's: cni/cache.ts ResultCache).
 */
export type WriteAhead = { state: 'finished' | 'interrupted'; held: Found } | { state: 'busy'; held?: Found; busy: Busy } | { state: 'nothing' };

export async function writeAheadOnNode(r: AttachmentRecord, cache: ResultCache, sandboxLock: () => Promise<Busy | undefined>): Promise<WriteAhead> {
  const held = await heldOfRecord(cache, r);
  if (held) {
    const busy = await cache.direct().lockHeld(held.entry.containerId, r.ifname);
    if (busy) return { state: 'busy', held, busy };
    return { state: !held.intentOnly && held.entry.result !== undefined ? 'finished' : 'interrupted', held };
  }
  const busy = await sandboxLock();
  return busy ? { state: 'busy', busy } : { state: 'nothing' };
}
