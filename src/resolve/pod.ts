/**
 * A target given as a pod: read it from the API, refuse what must not be touched, find its sandbox through the runtime,
 * and build the CNI_ARGS kubelet would pass. Also the pod side of detach and check (lookupPod), which must work when
 * the pod or its sandbox is gone.
 */
import type { CacheEntry } from '../cni/cache.js';
import { ApiStatusError, NotFoundError, UnreachableError, UsageError } from '../errors.js';
import { formatDuration, isoSecond } from '../duration.js';
import { thisHost } from '../exec/host.js';
import type { Executor } from '../exec/types.js';
import type { KubeApi, Pod } from './kube.js';
import { nodeOwnNetns, type Target } from './netns.js';
import { runtimeOfPod, type PodRef, type PodRuntime, type Sandbox, type SandboxInfo } from './runtime.js';

export interface PodTarget extends Target {
  pod: Pod;
  ref: PodRef;
  node: string;
  sandbox: Sandbox;
  runtime: string;
}

/** CNI_ARGS as kubelet and Multus pass them. */
export function podCniArgs(ref: PodRef, sandboxId: string): [string, string][] {
  return [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', ref.namespace],
    ['K8S_POD_NAME', ref.name],
    ['K8S_POD_INFRA_CONTAINER_ID', sandboxId],
    ['K8S_POD_UID', ref.uid],
  ];
}

/** Whether cached CNI_ARGS name this pod (and this uid, when known). */
export function argsMatchPod(args: [string, string][] | undefined, namespace: string, name: string, uid?: string): boolean {
  const m = new Map(args ?? []);
  return m.get('K8S_POD_NAMESPACE') === namespace && m.get('K8S_POD_NAME') === name && (uid === undefined || m.get('K8S_POD_UID') === uid);
}

export function podRef(pod: Pod, namespace: string, name: string): PodRef {
  const uid = pod.metadata?.uid;
  if (!uid) throw new UsageError(`pod ${namespace}/${name} has no metadata.uid`);
  const node = pod.spec?.nodeName;
  const runtime = runtimeOfPod(pod);
  return { namespace, name, uid, ...(node ? { node } : {}), ...(runtime ? { runtime } : {}) };
}

/** The checks that come before looking for a sandbox. */
export function refusePod(pod: Pod, namespace: string, name: string): void {
  const id = `pod ${namespace}/${name}`;
  if (pod.spec?.hostNetwork) {
    throw new UsageError(`${id} uses hostNetwork: its network namespace is the node's own, and attaching there would rewire the node; refused`);
  }
  if (!pod.spec?.nodeName) throw new NotFoundError(`${id} is not scheduled to a node yet`);
  const phase = pod.status?.phase ?? 'Unknown';
  if (phase !== 'Running') throw new UsageError(`${id} is ${phase}, not Running: only running pods have a network to attach to`);
  const deleting = beingDeleted(pod);
  if (deleting) throw new UsageError(`${id} is being deleted (${deleting}): its network goes with it; only running pods not being deleted are attached to`);
}

/** ISO 8601 to the second, as the API writes times ("2026-12-02T13:00:00Z"). */
const iso = (d: Date) => isoSecond(d);

/**
 * Whether the pod is being deleted (metadata.deletionTimestamp set: kubectl's Terminating, while its phase may still
 * be Running), and since when: "since 2026-12-02T13:00:00Z, grace period 30s". The API server sets deletionTimestamp
 * to the time of the delete request plus the grace period (deletionGracePeriodSeconds), and keeps that request time
 * when a later delete shortens the grace: the request time is their difference. undefined when it is not.
 */
export function beingDeleted(pod: Pod, now = Date.now()): string | undefined {
  const ts = pod.metadata?.deletionTimestamp;
  if (ts === undefined || ts === null) return undefined;
  const at = new Date(ts as Date | string);
  if (Number.isNaN(at.getTime())) return 'since a time the API server gave as unreadable';
  const grace = pod.metadata?.deletionGracePeriodSeconds;
  const since = new Date(at.getTime() - (grace ?? 0) * 1000);
  const ago = Math.max(0, Math.round((now - since.getTime()) / 1000));
  return `since ${iso(since)}, ${formatDuration(ago * 1000)} ago${grace !== undefined ? `, grace period ${grace}s` : ''}`;
}

/** A batching session on a pod's node (PodRuntime.session), with the runtime that made it. */
export interface NodeSession {
  runtime: PodRuntime;
  exec: Executor;
}

/**
 * Ask each runtime in turn (--runtime auto gives several); the first with a sandbox wins. One that cannot be reached
 * (no Docker on a containerd node, no containerd on a Docker node, nothing at all on a laptop) only matters when none
 * of them could answer, or when it is the one the pod's containers run in (PodRef.runtime: Docker down on a Docker
 * node whose containerd answers "none" is not "no sandbox", which detach would take for a sandbox gone and DEL
 * without its namespace): then its error is thrown. A last resort (the agent for other nodes) is the answer: its
 * errors are thrown, and once it was asked this host's runtimes do not matter. `looked` gets where each runtime that
 * answered "none" looked (whereFor the pod's node, else where): those skipped (not reaching that node) and those that
 * could not be reached did not look.
 */
export async function findSandbox(
  runtimes: PodRuntime[],
  ref: PodRef,
  prepare?: (exec: Executor) => void,
  onSession?: (s: NodeSession) => void,
  looked?: string[],
): Promise<{ sandbox: Sandbox; runtime: PodRuntime } | undefined> {
  let firstError: unknown;
  let answered = false;
  let farAsked = false;
  const unasked = new Map<string, unknown>();
  for (const rt of runtimes) {
    if (rt.reaches && !rt.reaches(ref.node)) continue;
    if (rt.lastResort) farAsked = true;
    try {
      // a runtime that reaches the node by commands (kind, agent) gets a batching session there just before it is
      // asked; `prepare` declares on it what the engine will read, which then rides on the look-up (exec/batch.ts)
      const via = ref.node ? await rt.session?.(ref.node, ref) : undefined;
      if (via) {
        prepare?.(via);
        onSession?.({ runtime: rt, exec: via });
      }
      const sandbox = await rt.findSandbox(ref, via);
      answered = true;
      if (sandbox) return { sandbox, runtime: rt };
      looked?.push((ref.node ? rt.whereFor?.(ref.node) : undefined) ?? rt.where);
    } catch (e) {
      if (runtimes.length === 1 || rt.lastResort || !(e instanceof UnreachableError)) throw e;
      firstError ??= e;
      unasked.set(rt.name, e);
    }
  }
  if (!answered && firstError) throw firstError;
  if (!farAsked && ref.runtime !== undefined && unasked.has(ref.runtime)) throw unasked.get(ref.runtime);
  return undefined;
}

/**
 * The one rule by which every command judges the sandbox of an attachment (cni-list, cni-check, cni-detach, cni-gc;
 * on this host by the runtimes' list, resolve/attachment-state.ts classify, to the same effect): the sandbox it went
 * into (`containerId`: its cache entry's, or its record's) runs while the runtimes find the running sandbox of its
 * pod on its node (by the pod's namespace, name and uid, `ref`, as attach finds one) and that sandbox is this one —
 * then it is returned, its network namespace as the runtime gives it now. undefined: it no longer runs there (none,
 * not running, another one: a live pod whose sandbox died gets a new one from its kubelet; an earlier pod's): the
 * attachment is stale whether or not its Pod object exists, and its network namespace went with it (a DEL without
 * one is right). A look-up that fails (the node unreachable, the runtime not answering: UnreachableError, …) is thrown:
 * such a sandbox is not gone, only not judged. `via`: a session on the node of the one runtime given (exec/batch.ts),
 * to look through.
 */
export async function runningSandboxOf(runtimes: PodRuntime[], ref: PodRef, containerId: string, via?: Executor): Promise<Sandbox | undefined> {
  try {
    const sandbox = via && runtimes.length === 1 ? await runtimes[0]!.findSandbox(ref, via) : (await findSandbox(runtimes, ref))?.sandbox;
    return sandbox?.id === containerId ? sandbox : undefined;
  } catch (e) {
    if (e instanceof NotFoundError) return undefined; // not ready, not running, an earlier pod's: not this sandbox running
    throw e;
  }
}

/** A node in messages: "node node-a", or "this host (vm)" for this host's (`node` undefined, or thisNode). */
export function nodeWords(node: string | undefined, thisNode = thisHost.host): string {
  return node === undefined || node === thisNode ? `this host (${thisNode})` : `node ${node}`;
}

/** What the runtimes here said of their sandboxes (listAllSandboxes). */
export interface SandboxesHere {
  /** Every sandbox the runtimes that answered list. */
  sandboxes: SandboxInfo[];
  /** The runtimes that could not be asked, with their UnreachableError (--runtime auto only). */
  unasked: { runtime: string; error: UnreachableError }[];
}

/**
 * Every sandbox the runtimes here know, one list each. cni-gc frees what has no sandbox, so a runtime that cannot be
 * asked must not make every attachment look dead: the one runtime --runtime names must answer (its error is thrown);
 * of --runtime auto's, one that cannot be asked (an UnreachableError: not on this host, or down) is returned in
 * `unasked`, and the attachments it may hold are not judged by the others' lists (resolve/attachment-state.ts).
 * Other errors are thrown.
 */
export async function listAllSandboxes(runtimes: PodRuntime[]): Promise<SandboxesHere> {
  const out: SandboxesHere = { sandboxes: [], unasked: [] };
  await Promise.all(runtimes.map(async (r) => {
    try {
      out.sandboxes.push(...(await r.listSandboxes()));
    } catch (e) {
      if (runtimes.length === 1 || !(e instanceof UnreachableError)) throw e;
      out.unasked.push({ runtime: r.name, error: e });
    }
  }));
  return out;
}

/**
 * Before a batch: look at the pods' nodes through each runtime at once (kind: the node containers); then each runtime
 * of this host in turn looks up the batch's pods it has not been answered for yet — one command per node for all of
 * that node's pods where it can (lookUpSandboxes: kind, crictl/ctr here), else one list (Docker) — after which they
 * answer from it; one that cannot be reached is left to answer per pod. Then the way to the nodes whose pods none of
 * them has is started, in parallel (the agents), and those pods are looked up there the same way, one command per
 * node. `prepare` declares on each node's session what the engine will read (it rides on that node's look-up).
 */
export async function prepareBatch(runtimes: PodRuntime[], pods: Pod[], prepare?: (exec: Executor) => void): Promise<void> {
  const refs = pods.flatMap((p) => (p.spec?.nodeName && p.metadata?.uid && p.metadata.name && p.metadata.namespace && !p.spec.hostNetwork ? [podRef(p, p.metadata.namespace, p.metadata.name)] : []));
  const nodes = [...new Set(pods.map((p) => p.spec?.nodeName).filter((n): n is string => !!n))];
  const local = runtimes.filter((r) => !r.lastResort);
  await Promise.all(local.map((r) => r.reachNodes?.(nodes)));
  const known = new Set<string>();
  for (const r of local) {
    try {
      if (r.lookUpSandboxes) for (const uid of await r.lookUpSandboxes(refs.filter((p) => !known.has(p.uid)), prepare)) known.add(uid);
      else for (const s of await r.listSandboxes()) if (s.running && s.uid) known.add(s.uid);
    } catch (e) {
      if (local.length === 1 || !(e instanceof UnreachableError)) throw e;
    }
  }
  const far = refs.filter((p) => !known.has(p.uid));
  const farNodes = [...new Set(far.map((p) => p.node!))];
  await Promise.all(runtimes.filter((r) => r.lastResort).map(async (r) => {
    await r.reachNodes?.(farNodes);
    await r.lookUpSandboxes?.(far, prepare);
  }));
}

/**
 * A pod as read from the API (one GET, or one list for a batch) to its target: refused when it must not be touched
 * (UsageError, NotFoundError when not scheduled), else its sandbox from the first runtime that has it (NotFoundError
 * when none has, saying which node to run on when it is not thisNode); executor is where plugins run unless the
 * sandbox says otherwise (a kind node container, an agent pod). `prepare` gets the session on the pod's node before its
 * look-up runs there (findSandbox).
 */
export async function podTargetOf(
  pod: Pod,
  runtimes: PodRuntime[],
  executor: Executor,
  namespace: string,
  name: string,
  thisNode = thisHost.host,
  prepare?: (exec: Executor) => void,
): Promise<PodTarget> {
  refusePod(pod, namespace, name);
  const ref = podRef(pod, namespace, name);
  const node = pod.spec!.nodeName!;
  const looked: string[] = [];
  let found;
  try {
    found = await findSandbox(runtimes, ref, prepare, undefined, looked);
  } catch (e) {
    throw elsewhere(ref, runtimes, thisNode, e) ?? e;
  }
  if (!found) {
    throw elsewhere(ref, runtimes, thisNode) ?? new NotFoundError(`no running sandbox of pod ${namespace}/${name} (uid ${ref.uid}, node ${node}) found by ${looked.join(', ')}`);
  }
  const { sandbox, runtime } = found;
  return {
    netnsPath: sandbox.netnsPath,
    containerId: sandbox.id,
    executor: sandbox.executor ?? executor,
    describe: `pod ${namespace}/${name}`,
    pod,
    ref,
    node,
    sandbox,
    runtime: runtime.name,
  };
}

/**
 * The error for a pod on another node than this one (`thisNode`) that runtimes of this host alone were asked for (no
 * agent among them: --runtime docker, cri or kind): it names the pod's node and the ways there (README "Exit codes":
 * a pod on another node is named clearly). When they answered that they have no sandbox of it, a NotFoundError (exit
 * 3); when they could not be asked (`cause`: their UnreachableError, "cannot reach Docker …"), an UnreachableError
 * (exit 4) that says so: whether this host has the pod's sandbox after all (a node named unlike its host) is not
 * known. undefined when that is not the case (the pod is on this node, an agent was asked, or `cause` is another
 * error).
 */
function elsewhere(ref: PodRef, runtimes: PodRuntime[], thisNode: string, cause?: unknown): NotFoundError | UnreachableError | undefined {
  if (!ref.node || ref.node === thisNode || runtimes.some((r) => r.name === 'agent')) return undefined;
  if (cause !== undefined && !(cause instanceof UnreachableError && !(cause instanceof ApiStatusError))) return undefined;
  const how = runtimes.length === 1 ? `--runtime ${runtimes[0]!.name} (${runtimes[0]!.where})` : runtimes.map((r) => r.where).join(', ');
  const why = cause ? `, which could not be asked: ${(cause as Error).message}` : `, which has no sandbox of it`;
  const message = `pod ${ref.namespace}/${ref.name} runs on node ${ref.node}, not on this host (${thisNode}), and was looked for only here, with ${how}${why}`;
  const fix = { setting: 'agentRuntime' as const, advice: `run the command on ${ref.node}, or leave --runtime at auto (the default), which reaches it there through an agent pod, or choose the agent yourself` };
  return cause ? new UnreachableError(message, { cause, fix }) : new NotFoundError(message, { fix });
}

/** What became of the sandbox an earlier pod's cache entry went into (earlierPodsEntries). */
export interface EarlierEntry {
  entry: CacheEntry;
  /** The earlier pod's uid, as its CNI_ARGS recorded it ('' when they name none). */
  uid: string;
  /** 'runs': still running on the pod's node; 'gone': no longer; else the error its look-up gave (not judged). */
  sandbox: 'runs' | 'gone' | Error;
}

/**
 * The entries of `entries` (a cache's of one ifname) that an earlier pod of the looked-up pod's namespace and name
 * left — a pod of another uid, replaced since (deleted and made again under that name) — each with whether the
 * sandbox it went into still runs on the pod's node, by the rule every command judges a sandbox with
 * (runningSandboxOf, by the earlier pod's namespace, name and uid). [] for a pod that is gone (its entries are its own:
 * lookupPodOf) or has no uid. Errors of a look-up are returned in `sandbox`, not thrown.
 */
export async function earlierPodsEntries(lookup: PodLookup, entries: CacheEntry[], runtimes: PodRuntime[]): Promise<EarlierEntry[]> {
  const uid = lookup.pod?.metadata?.uid;
  if (!lookup.podExists || !uid) return [];
  const older = entries.filter((e) => argsMatchPod(e.cniArgs, lookup.namespace, lookup.name) && !argsMatchPod(e.cniArgs, lookup.namespace, lookup.name, uid));
  return Promise.all(older.map(async (entry): Promise<EarlierEntry> => {
    const old = new Map(entry.cniArgs ?? []).get('K8S_POD_UID') ?? '';
    try {
      const ref = { namespace: lookup.namespace, name: lookup.name, uid: old, ...(lookup.node ? { node: lookup.node } : {}) };
      return { entry, uid: old, sandbox: (await runningSandboxOf(runtimes, ref, entry.containerId)) ? 'runs' : 'gone' };
    } catch (e) {
      return { entry, uid: old, sandbox: e as Error };
    }
  }));
}

/** What detach and check know about a pod that may be gone: how to find its cache entries and where DEL should run. */
export interface PodLookup {
  namespace: string;
  name: string;
  podExists: boolean;
  /** The pod as read (undefined when it no longer exists). */
  pod?: Pod;
  containerId?: string;
  /** '' when the sandbox is gone. */
  netns: string;
  match: (e: CacheEntry) => boolean;
  describe: string;
  /** Where its plugins and cache are, when not on this host (a kind node container, an agent pod). */
  executor?: Executor;
  /** Its node: the pod's, or for a pod that is gone the one its record names; undefined: this host. */
  node?: string;
  /**
   * The names of the links in its running sandbox's network namespace, when the look-up read them (resolve/runtime.ts
   * Sandbox.links: the CRI look-up on a node, through an agent or a session); undefined: not read.
   */
  links?: string[];
  /**
   * For a pod that is gone: the network namespace of the sandbox each cache entry went into, while it still runs on
   * the pod's node (runningSandboxOf), else '' (cni/attach.ts DetachRequest.netnsOf). `resolved`: what it answered,
   * by container id (for a dry run's target line). For a live pod with no running sandbox: '' for a DEL (said in a
   * note, once per sandbox, only of an entry found), a NotFoundError for a CHECK.
   */
  netnsOf?: (e: CacheEntry, command: 'DEL' | 'CHECK') => Promise<string>;
  resolved?: Map<string, string>;
}

/**
 * Read pod namespace/name (a pod that no longer exists is not an error here) and look it up as lookupPodOf does.
 * runtimes is asked only after the pod was read. Errors: the API's (UnreachableError, …) other than not found.
 */
export async function lookupPod(
  api: KubeApi,
  namespace: string,
  name: string,
  runtimes: () => Promise<PodRuntime[]>,
  note: (line: string) => void,
  prepare?: (exec: Executor) => void,
  thisNode = thisHost.host,
  goneNodeOf?: () => Promise<string | undefined>,
  local?: Executor,
): Promise<PodLookup> {
  let pod: Pod | undefined;
  try {
    pod = await api.getPod(namespace, name);
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
  return lookupPodOf(pod, namespace, name, await runtimes(), note, prepare, thisNode, pod ? undefined : await goneNodeOf?.(), local);
}

/**
 * The executor of `node` for a pod whose sandbox (or the pod itself) is gone: the first runtime that reaches that node
 * (a kind node container, an agent pod), else undefined (this host). As --runtime auto does elsewhere: a runtime not
 * installed here is no answer; the way to other nodes (lastResort) answers for itself.
 */
async function nodeExecutorOf(runtimes: PodRuntime[], node: string | undefined, session?: NodeSession): Promise<Executor | undefined> {
  let executor: Executor | undefined = session?.exec;
  for (const r of runtimes) {
    try {
      executor ??= node ? await r.nodeExecutor?.(node) : undefined;
    } catch (e) {
      if (r.lastResort || runtimes.length === 1 || !(e instanceof UnreachableError)) throw e;
    }
  }
  return executor;
}

/**
 * The same for a pod already read (undefined: it no longer exists), with the runtimes to look in. A pod or sandbox
 * that is gone is said in a note and matched by the CNI_ARGS kubelet-style attaches recorded (namespace, name, and
 * the uid while the pod exists). A live pod whose sandbox is gone: DEL runs without a network namespace, as kubelet's
 * does for a dead sandbox. A pod that is gone: its Pod object may go while its sandbox still runs (deleted with
 * --force while its kubelet is down or behind, a grace period): the sandbox each entry went into is looked up on its
 * node (`goneNode`, else this host) by the rule cni-gc uses (runningSandboxOf, through netnsOf): while it runs, DEL
 * and CHECK run in its network namespace — a DEL without it would free the lease of an address still in use there;
 * only once it is gone, without one. A sandbox that cannot be looked up there is not gone: unless the entry's
 * recorded namespace is no namespace any more on that node (`local` for this host: then the sandbox went with it),
 * that is the command's error (UnreachableError), with nothing run.
 */
export async function lookupPodOf(
  pod: Pod | undefined,
  namespace: string,
  name: string,
  runtimes: PodRuntime[],
  note: (line: string) => void,
  prepare?: (exec: Executor) => void,
  thisNode = thisHost.host,
  goneNode?: string,
  local?: Executor,
): Promise<PodLookup> {
  const describe = `pod ${namespace}/${name}`;
  if (!pod) {
    // its node, when the cluster's records know it (a pod attached from anywhere): that node's cache, reached as its
    // sandbox would have been; else this host's
    const executor = goneNode ? await nodeExecutorOf(runtimes, goneNode) : undefined;
    const where = nodeWords(goneNode, thisNode);
    note(`${describe} no longer exists: using what the cache${goneNode ? ` of node ${goneNode} (its record in the cluster names it)` : ''} recorded for it, and looking up on ${where} whether the sandbox it went into still runs`);
    const resolved = new Map<string, string>();
    const netnsOf = async (e: CacheEntry, command: 'DEL' | 'CHECK'): Promise<string> => {
      const uid = new Map(e.cniArgs ?? []).get('K8S_POD_UID') ?? '';
      const id = e.containerId.slice(0, 12);
      let sandbox: Sandbox | undefined;
      try {
        sandbox = await runningSandboxOf(runtimes, { namespace, name, uid, ...(goneNode ? { node: goneNode } : {}) }, e.containerId);
      } catch (err) {
        // not looked up is not gone: unless the namespace it was attached in is no namespace any more there
        const on = executor ?? local;
        const kind = e.netns && on ? await on.pathKind(e.netns).catch(() => undefined) : undefined;
        if (!(kind === 'missing' || (kind !== undefined && kind !== 'netns'))) {
          throw new UnreachableError(
            `${describe} no longer exists, and whether the sandbox ${id} its ${e.ifName} went into still runs on ${where} could not be told: ${(err as Error).message}; nothing was run (a ${command} without its network namespace would ${command === 'DEL' ? 'free the lease of an address that may still be in use there' : 'check nothing'})`,
            { cause: err },
          );
        }
      }
      if (!sandbox && command === 'CHECK') {
        throw new NotFoundError(`${describe} no longer exists, and the sandbox ${id} its ${e.ifName} went into no longer runs on ${where}: nothing to CHECK; what the cache holds of it is stale, its IPAM lease still held`);
      }
      // the refusal every command makes: never a plugin in the node's own namespace (a hostNetwork pod's sandbox)
      const own = sandbox && (executor ?? local) ? await nodeOwnNetns((executor ?? local)!, sandbox.netnsPath) : undefined;
      if (own) throw new UsageError(`the sandbox ${id} of ${describe} still runs on ${where}, in the node's own network namespace (${own}, as a hostNetwork pod's): a plugin run there would rewire the node; refused`);
      if (sandbox && !resolved.has(e.containerId)) {
        note(`the sandbox ${id} of ${describe} still runs on ${where}: ${command} runs in its network namespace${command === 'DEL' ? ', so the interface goes with its lease' : ''}`);
      }
      resolved.set(e.containerId, sandbox?.netnsPath ?? '');
      return sandbox?.netnsPath ?? '';
    };
    return {
      namespace, name, podExists: false, netns: '', match: (en) => argsMatchPod(en.cniArgs, namespace, name), describe, netnsOf, resolved,
      ...(executor ? { executor } : {}), ...(goneNode ? { node: goneNode } : {}),
    };
  }
  // the refusal attach makes (a hostNetwork pod's namespace is the node's) holds for every command that touches it
  if (pod.spec?.hostNetwork) {
    throw new UsageError(`${describe} uses hostNetwork: its network namespace is the node's own, and a plugin run there would rewire the node; refused`);
  }
  const ref = podRef(pod, namespace, name);
  const match = (en: CacheEntry) => argsMatchPod(en.cniArgs, namespace, name, ref.uid);
  let found;
  let session: NodeSession | undefined;
  try {
    found = await findSandbox(runtimes, ref, prepare, (s) => (session = s));
  } catch (e) {
    // this host's runtime not reachable for a pod of another node: that node is the answer, not "cannot reach Docker"
    if (!(e instanceof NotFoundError)) throw elsewhere(ref, runtimes, thisNode, e) ?? e;
  }
  const node = pod.spec?.nodeName;
  if (!found) {
    // said only of what the cache records of this pod (its uid), once per sandbox, as the DEL of it is about to run or
    // be planned: a pod with nothing recorded gets no note (a batch's pods never attached), nor does a CHECK, which
    // runs nothing without a sandbox (cli/check.ts says so in its error)
    const said = new Set<string>();
    const netnsOf = async (e: CacheEntry, command: 'DEL' | 'CHECK'): Promise<string> => {
      const id = e.containerId.slice(0, 12);
      if (command === 'CHECK') {
        throw new NotFoundError(`${describe} has no running sandbox on ${nodeWords(node, thisNode)}: nothing to CHECK; the sandbox ${id} its ${e.ifName} went into is gone`);
      }
      if (!said.has(e.containerId)) {
        said.add(e.containerId);
        note(node
          ? `${describe} has no running sandbox on ${nodeWords(node, thisNode)}: the sandbox ${id} its ${e.ifName} went into is gone, and its interface with it; DEL runs without a network namespace, to free its IPAM lease`
          : `${describe} is not scheduled on any node (${pod.status?.phase ?? 'Pending'}): it has no sandbox; DEL of the ${e.ifName} this host's cache recorded for it (sandbox ${id}) runs without a network namespace`);
      }
      return '';
    };
    const executor = await nodeExecutorOf(runtimes, node, session);
    return { namespace, name, podExists: true, pod, netns: '', match, describe, netnsOf, ...(executor ? { executor } : {}), ...(node ? { node } : {}) };
  }
  const executor = found.sandbox.executor;
  return { namespace, name, podExists: true, pod, containerId: found.sandbox.id, netns: found.sandbox.netnsPath, match, describe, ...(executor ? { executor } : {}), ...(node ? { node } : {}), ...(found.sandbox.links ? { links: found.sandbox.links } : {}) };
}
