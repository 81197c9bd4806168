/**
 * Is a cached attachment still alive? A pod's is alive while the pod (same uid) exists and its sandbox is the one the
 * attachment went into; a bare namespace's while the namespace exists; an unfinished attach's intent never is, unless
 * an attach holds its lock right now (then it is attaching: World.lockHeld, asked by cni-list and cni-gc). Used by
 * cni-list (to show) and cni-gc (to free what is dead, and to leave alone what a command is working on).
 */
import { deleteStopped, type CacheEntry, type DeleteMark, type Found } from '../cni/cache.js';
import type { Executor } from '../exec/types.js';
import type { Busy } from '../exec/lock.js';
import { commandInParens } from '../exec/lock.js';
import { foreignLimitPassed, foreignLimitWhen, foreignLockWayOut, foreignRunsSecs, freeInSecs } from '../errors.js';
import { thisHost } from '../exec/host.js';
import type { Pod } from './kube.js';
import type { SandboxInfo } from './runtime.js';
import { cnitoolContainerId, interfaceExists, NETNS_RUN_DIR } from './netns.js';
import { runtimeMayHold } from './runtime.js';
import { sandboxInterface } from '../cni/result.js';

/**
 * attached: alive as recorded. interrupted: an attach that never finished (or whose rollback failed). attaching: its
 * intent, while a cni-attach/cni-detach holds its lock (an attach still in its plugins, or a detach undoing it; on a
 * node, a killed one's plugins until their time limit): not interrupted, not to be cleared now. pod / sandbox /
 * netns gone: its target is gone (cni-gc frees it). interface gone: the target lives but the interface its result
 * names in the sandbox (namesSandboxInterface; a result that names none is never judged so) is not in it,
 * and no DEL of ours was under way (no mark: cni/cache.ts deletingPath): deleted outside cni-attach (an `ip link del`,
 * another tool); the IPAM lease is still held: cni-detach frees it. detach stopped: the target lives, and a cni-detach or
 * cni-gc began a DEL of it and did not finish (its mark there, its lock free: killed, stopped by a second signal, its
 * node lost, or a plugin refused it; or its lock held by a gone command of this host, or by another host's past its
 * time limit: markUnderLock): the interface may be gone or not, the lease may be held; cni-detach (DEL is
 * idempotent; --force for another host's lock) or cni-gc finishes it. unreadable: the record cannot be read
 * (cni-detach --force forgets it). stale lock: a lock file whose holder is gone (the next command breaks it).
 * other node: the cache of a node (World.node) holds an entry of a live pod, by its uid, that the API places on another
 * node (spec.nodeName) — a pod runs on one node for its life, so the entry is not this node's attachment of it (a
 * cache directory shared between nodes, or copied); nothing is done with it there (neither alive, nor freed, nor
 * recorded on this node).
 */
export type State = 'attached' | 'interrupted' | 'attaching' | 'pod gone' | 'sandbox gone' | 'netns gone' | 'interface gone' | 'detach stopped' | 'other node' | 'unreadable' | 'stale lock';

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
  /** Why it is in that state, in words, for every state but attached ("eth1 is not in /var/run/netns/x …", …). */
  reason?: string;
  /** The reason in a few words (≤ 40 characters where it can be), for a table's REASON column ("pod deleted", …). */
  brief?: string;
  pod?: PodOf;
  /** The live Pod object, when the entry's pod still exists (same uid). */
  livePod?: Pod;
  /** For attaching, and for a DEL mark's attachment whose lock is held (markUnderLock): what holds its lock (World.lockHeld). */
  busy?: Busy;
  /**
   * A live pod's attachment whose sandbox could not be checked: none of the runtimes that answered lists it running,
   * and one that may hold it could not be asked (World.unasked) — its error. The state stays `attached` (nothing here
   * says otherwise); `reason` says why it was not judged, and cni-gc does not free it.
   */
  unchecked?: Error;
}

export interface World {
  /** Every pod of the cluster (one list); undefined when the cluster was not consulted. */
  pods?: Pod[];
  /** Every sandbox of the runtimes here (one list each); undefined when not consulted. */
  sandboxes?: SandboxInfo[];
  /** The runtimes here that could not be asked for `sandboxes` (resolve/pod.ts listAllSandboxes), with their errors. */
  unasked?: { runtime: string; error: Error }[];
  exec: Executor;
  /**
   * What holds the lock of containerId/ifname now (cni/cache.ts ResultCache.lockHeld), undefined when nothing does:
   * asked for an unfinished attach's intent, which is then attaching rather than interrupted. Not given: never asked.
   */
  lockHeld?: (containerId: string, ifname: string) => Promise<Busy | undefined>;
  /**
   * The names of the links in a running sandbox's network namespace, by sandbox id, where its look-up read them (a
   * node reached by commands: resolve/runtime.ts Sandbox.links): an attached record of it is checked against them,
   * not by another command there; then an attached record is judged by them also without a netns (a record of the
   * cluster's names none).
   */
  links?: Map<string, string[]>;
  /**
   * The node whose cache `found` is, as the API names nodes — given only where that is known for sure (a node reached
   * through the cluster by that name: cli/gc.ts reconcileNode), not for this host, whose host name may not be its
   * node name. Then an entry of a pod whose spec.nodeName is another node is judged by it (pods are bound to one node
   * for life, Kubernetes' Pod spec.nodeName): one that names the live pod's uid is `other node`; one that names no uid
   * is of an earlier pod of that name that ran here, `pod gone`.
   * Named in the reasons ("on node node-a").
   */
  node?: string;
  /**
   * This host's name as the cluster may call it ($NODE_NAME, else the host name: cli/context.ts hostname), for this
   * host's own cache, whose node name is not known for sure (see node). Used only where that errs on the safe side: a
   * live pod's entry whose sandbox is not running here, while the API places that pod on another node, is `other node`
   * (left alone: a cache dir shared with or copied from that node), not `sandbox gone` (freed). Before, cni-gc here
   * freed the leases of live pods on other nodes from a cache dir they shared (an outside tryout).
   */
  hereName?: string;
  /**
   * The cni-detach --force command line of an attachment, as the user would paste it (the CLI builds it with the flags
   * that reached the cluster and the node: cli/output.ts recordDetachLine): for the ways out the reasons name — of
   * another host's lock (foreignLockWayOut), of an unreadable record. Not given: they name it in words.
   */
  forceLine?: (of: { pod?: PodOf; netns?: string; containerId: string }, ifname: string) => string;
  /**
   * What the cache holds of containerId/ifname now, read after everything classify read before (cni/cache.ts
   * ResultCache.findNow on a node reached by commands: one round trip, taken only for an attachment judged `interface
   * gone`, `detach stopped` or `interrupted`; find here). Given: those judgements stand only once a read after them
   * finds the same entry and mark (classify). Not given: they stand as read (a caller whose own order makes them
   * sound: cni-list --node reads the node's entry after the links).
   */
  reread?: (containerId: string, ifname: string) => Promise<Found[]>;
}

/**
 * Whether the entry's cached result names its interface (`ifName`, CNI_IFNAME) in the sandbox: an interface of that
 * name whose `sandbox` is set (SPEC.md "Result": `sandbox` is set for an interface in the container's namespace,
 * absent for one on the host; cni/result.ts sandboxInterface). Only such an interface can be judged `interface gone`:
 * a result of 0.1.0/0.2.0 (no `interfaces` in that shape), one without `interfaces`, or one that names none in the
 * sandbox — a chain that only does IPAM or sysctls, a plugin that reports no interfaces — never claimed one there, so
 * its absence says nothing (false, also for a result that does not parse). An entry without a result is a cluster
 * record's (cli/node-judge.ts recordFound: records carry no result): true, judged by its link — cni-list --node
 * corrects that by the node's own entry where it reads that node's cache (cli/list.ts judgeOnNodes).
 */
export function namesSandboxInterface(e: CacheEntry): boolean {
  if (e.result === undefined) return true;
  try {
    return sandboxInterface(e.result, e.ifName) !== undefined;
  } catch {
    return false;
  }
}

/** The brief of `interface gone` (cni-list's REASON). */
const INTERFACE_GONE_BRIEF = 'link deleted, lease still held';

/**
 * Why an attachment is `interface gone`, in the words cni-list, cni-gc and cni-check all say it: `ifName` is not in
 * `where` (a namespace's words: "netns /var/run/netns/x", "the network namespace of sandbox 0123… on node n"); `frees`:
 * what frees its lease ("cni-detach", or the command line that does).
 */
export function interfaceGoneReason(ifName: string, where: string, frees = 'cni-detach'): string {
  return `${ifName} is not in ${where} any more: deleted outside cni-attach (no DEL of ours was under way); its IPAM lease is still held: ${frees} frees it`;
}

/**
 * Why an attachment is `detach stopped`, in the words cni-list and cni-gc say it: what its mark tells (cni/cache.ts
 * deleteStopped: who, when, or the plugin's refusal), whether `ifName` is still in `where` (`there`: undefined when not
 * looked at), and the way on: cni-detach again (`frees`), since DEL is idempotent.
 */
export function detachStoppedReason(m: DeleteMark, ifName: string, where: string, there: boolean | undefined, frees = 'cni-detach'): string {
  const link = there === undefined ? `${ifName} in ${where} and its IPAM lease may remain` : there ? `${ifName} is still in ${where}, and its IPAM lease held` : `${ifName} is gone from ${where} already (its DEL deleted it), but its IPAM lease may still be held`;
  return `${deleteStopped(m, thisHost.host)}: ${link}; run ${frees} again to finish it (DEL is idempotent)`;
}

/** What markUnderLock says of a DEL mark. */
export interface MarkWords {
  /** A DEL begun and not finished: `detach stopped`; else a DEL that may be running now (the row stays attached). */
  stopped: boolean;
  /** The REASON column's few words; undefined for a live DEL of this host (nothing to say: attached). */
  brief?: string;
  /** What the reason adds after detachStoppedReason (stopped), or the whole reason (a DEL of another host that may run). */
  more: string;
  /** The lock is another host's, past its time limit: only cni-detach --force takes it. */
  force?: true;
}

/**
 * A DEL mark (cni/cache.ts DeleteMark) judged with what holds its lock now (World.lockHeld; undefined: free), in the
 * words cni-list and cni-gc say it: `stopped` — a DEL of ours begun and not finished — when the lock is free, held by
 * a gone command of this host until its time limit (freeInMs), or held by a command of another host whose time limit
 * has passed since the lock last changed (errors.ts foreignLimitPassed: nothing it started on the node still runs,
 * and a live command renews its lock before each run); otherwise a DEL that may be running now (this host's live
 * command; another host's within its limit). `brief`: a table's few words, which say what the printed cni-detach
 * answers while the lock is held (an outside tester pasted it and got "busy"); `more`: what the reason adds of the
 * lock; `force`: the lock is another host's, which only cni-detach --force takes (exec/lock.ts LockOwner.othersGone);
 * `by`: that command line, where the caller knows it (World.forceLine), for the way out (foreignLockWayOut).
 * An outside tester saw a DEL of another host's cni-detach, killed, said "interface gone … deleted outside
 * cni-attach (no DEL of ours was under way); its IPAM lease is still held", counted alive by cni-gc.
 */
export function markUnderLock(m: DeleteMark, held: Busy | undefined, here = thisHost.host, by?: string): MarkWords {
  const what = m.failed ? 'its DEL failed part-way' : 'DEL stopped part-way';
  if (!held) return { stopped: true, brief: what, more: '' };
  if (held.freeInMs !== undefined) {
    const secs = freeInSecs(held)!;
    return { stopped: true, brief: `${m.failed ? 'DEL failed' : 'DEL stopped'}; lock free in ${secs}s`, more: ` (its lock is free in ${secs}s: what it started may run until its time limit; until then cni-detach answers busy)` };
  }
  const passed = foreignLimitPassed(held, here);
  if (passed === undefined) return { stopped: false, more: '' };
  const of = `host ${held.host}`;
  if (!passed) {
    return {
      stopped: false,
      brief: `DEL may run ${foreignRunsSecs(held)}s more: ${held.host}'s lock`,
      more: `${deleteStopped(m, here).replace(' stopped during its DEL', ' began a DEL')} and holds its lock: a command of another host, which this host cannot see, whose DEL may be running now (the time limit of its lock ${foreignLimitWhen(held)})${foreignLockWayOut(held, here, '', '', by)}`,
    };
  }
  return {
    stopped: true,
    brief: `${m.failed ? 'DEL failed' : 'DEL stopped'}; --force: ${held.host}'s lock`,
    more: `; its lock is still held by that command of ${of}, which this host cannot see: cni-detach answers busy without --force${foreignLockWayOut(held, here, '', '', by)}`,
    force: true,
  };
}

/**
 * An unfinished attach (its intent, or a write-ahead record) whose lock another host's command holds with a time limit
 * (errors.ts foreignLimitPassed: defined), in the words cni-list says it: `brief`, a table's few words that tell it
 * from a live attach ("attach running", before: an outside tester could not tell a laptop's attach killed long ago
 * from one running); `why`, what the reason says after "<an attach> has not finished: " — the holder, that this host
 * cannot see it, when its lock's time limit passed or passes, and the way out (foreignLockWayOut, `by`: the command
 * line that takes the lock, where the caller knows it); `force`: past its limit, only cni-detach --force ends it.
 * undefined for any other holder.
 */
export function attachUnderForeignLock(busy: Busy, where = '', by?: string, here = thisHost.host): { brief: string; why: string; force: boolean } | undefined {
  const passed = foreignLimitPassed(busy, here);
  if (passed === undefined) return undefined;
  return {
    brief: passed ? `limit passed; --force: ${busy.host}'s lock` : `may run ${foreignRunsSecs(busy)}s more: ${busy.host}'s lock`,
    why: `a cni-attach/cni-detach${commandInParens(busy, here)} holds its lock${where}: a command of another host, which this host cannot see; the time limit of its lock ${foreignLimitWhen(busy)}${passed ? ', so nothing it started there runs any more' : ''}${foreignLockWayOut(busy, here, '', '', by)}`,
    force: passed,
  };
}

/** An unreadable record's why (cni/cache.ts Found.unreadable), in a table's few words. */
function briefUnreadable(why: string): string {
  return why.replace(/^it cannot be read/, 'cannot be read').replace('(cut short, or overwritten)', '(cut short?)');
}

/**
 * The namespace a cnitool-style container id was derived from (cnitoolContainerId), among the named ones of
 * `ip netns` (NETNS_RUN_DIR): for a record whose text lost its netns. undefined when none matches (a /proc path, or
 * a namespace since deleted).
 */
async function namedNetnsOf(exec: Executor, containerId: string, names: Promise<string[]>): Promise<string | undefined> {
  if (!containerId.startsWith('cnitool-')) return undefined;
  const name = (await names).find((n) => cnitoolContainerId(`${NETNS_RUN_DIR}/${n}`) === containerId);
  return name === undefined ? undefined : `${NETNS_RUN_DIR}/${name}`;
}

/**
 * The state of each record (see State), with its reason in words and in brief for every state but attached (and for
 * an attached one whose sandbox could not be checked: Classified.unchecked). Where the target's namespace is
 * reachable from world.exec (a bare namespace that exists, a pod's sandbox the runtime reports running), an attached
 * record whose result names its interface in the sandbox (namesSandboxInterface) is also checked for it: a read of /proc/PID/net/dev for a sandbox, one `ip link` in the namespace
 * otherwise. An unreadable record whose text lost its target is matched to one by its
 * container id: a pod by the runtimes' sandboxes (world.sandboxes), a bare namespace among those of `ip netns` (one
 * listing of NETNS_RUN_DIR), so that the command clearing it can name it.
 *
 * The reads come in an order, and some judgements combine two of them: the entries and DEL marks (`found`, read by
 * the caller first), then the links (world.links, read by a later look-up; or interfaceExists now) and the lock
 * (world.lockHeld, now). A cni-detach or cni-gc running meanwhile writes its mark before its DEL and removes the
 * result, the intent and then the mark after it, all under the attachment's lock; a cni-attach writes its intent
 * before its ADD and its result (then removes the intent) after it, under the lock too (cni/attach.ts). So:
 *  - `interface gone` (an entry, no mark, then no link) is also what a DEL that began after the entry was read and
 *    deleted the link before the links were read leaves — an outside tester saw gc say "deleted outside cni-attach"
 *    of the interfaces a running cni-detach -l was deleting;
 *  - `detach stopped` (a mark, then the lock free) also what a DEL running when the mark was read and finished before
 *    the lock was read leaves; `interrupted` (an intent, then the lock free) what an attach that then finished leaves.
 * With world.reread, each of these is read again after the links and the lock were (the third read) and stands only
 * if the entry and its mark are still the very ones first read: a DEL that deleted the link before the links were
 * read wrote its mark before that, and removes it only after the result, so a result read again after the links
 * without a mark is no DEL of ours under way; a mark (an intent) still there after its lock was seen free belongs to
 * no command that held the lock throughout, as a running one does. Otherwise it is judged again from what is held now
 * (up to REREADS rounds), and nothing held any more is no attachment (left out of the answer: its command removed
 * it). A new attach of the same key writing the very same intent between the reads is the one case this cannot tell
 * (gc's DEL of it then answers busy under that attach's lock).
 */
export async function classify(found: Found[], world: World): Promise<Classified[]> {
  const first = await classifyOnce(found, world);
  const reread = world.reread;
  if (!reread) return first;
  const out: Classified[] = [];
  for (const judged of first) {
    let c: Classified | undefined = judged;
    for (let round = 0; c && MIXED.has(c.state) && round < REREADS; round++) {
      const was: Classified = c;
      const now = await reread(was.entry.containerId, was.entry.ifName).catch(() => undefined);
      // not read again (a failure): as judged
      if (now === undefined) break;
      const fresh = now.find((x) => !x.unreadable && x.entry.networkName === was.entry.networkName);
      if (fresh && sameHeld(fresh, was)) break;
      // changed meanwhile (a command of ours worked on it between the reads): judged again from what it holds now —
      // but not by links read before it (an attach that finished meanwhile made its interface after them): where the
      // caller gave the links its look-ups read, its interface is not judged (attached, as a finished ADD is); here
      // it is looked for again, and the next round reads the entry once more. Nothing held any more (its DEL
      // finished, or its attach was rolled back): no attachment to judge
      c = fresh ? (await classifyOnce([fresh], world.links ? { ...world, links: new Map() } : world))[0] : undefined;
    }
    if (c) out.push(c);
  }
  return out;
}

/**
 * The states whose judgement rests on reads of one attachment taken at different moments — its cache entry and DEL
 * mark (first), then its interface among the sandbox's links, or its lock (after) —, which classify reads again
 * (World.reread) before it stands: `interface gone`, `detach stopped`, `interrupted`.
 */
const MIXED: ReadonlySet<State> = new Set(['interface gone', 'detach stopped', 'interrupted']);

/** How often classify reads an attachment again whose entry or mark changed between its reads (then the last judgement stands). */
const REREADS = 2;

/** Whether two reads of an attachment found the same: its entry (result or intent, same text) and the same DEL mark, or none. */
function sameHeld(a: Found, b: Found): boolean {
  return a.intentOnly === b.intentOnly && JSON.stringify(a.entry) === JSON.stringify(b.entry) && JSON.stringify(a.deleting ?? null) === JSON.stringify(b.deleting ?? null);
}

/** classify's judgement from the reads as they come (the entries given; links, locks, sandboxes read now), each once. */
async function classifyOnce(found: Found[], world: World): Promise<Classified[]> {
  const pods = new Map((world.pods ?? []).map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p]));
  const running = new Set((world.sandboxes ?? []).filter((s) => s.running).map((s) => s.id));
  let netnsNames: Promise<string[]> | undefined;
  const out: Classified[] = [];
  // what a gone target leaves: an attach that finished holds its lease; one that did not may (gc undoes either)
  const gcFrees = (f: Found) => (f.intentOnly ? '; an attach of it did not finish: cni-gc undoes it' : '; the IPAM lease is still held: cni-gc frees it');
  for (const f of found) {
    if (f.unreadable) {
      const sandbox = world.sandboxes?.find((s) => s.id === f.entry.containerId && s.namespace && s.name);
      const netns = !sandbox && !f.entry.netns ? await namedNetnsOf(world.exec, f.entry.containerId, (netnsNames ??= world.exec.listDir(NETNS_RUN_DIR).catch(() => []))) : undefined;
      const pod = sandbox ? { namespace: sandbox.namespace!, name: sandbox.name!, ...(sandbox.uid ? { uid: sandbox.uid } : {}) } : undefined;
      const forget = world.forceLine ? `\`${world.forceLine({ ...(pod ? { pod } : {}), ...((netns ?? f.entry.netns) ? { netns: netns ?? f.entry.netns } : {}), containerId: f.entry.containerId }, f.entry.ifName)}\`` : `a forced cni-detach of ${f.entry.ifName || 'its interface'}`;
      out.push({
        ...f,
        ...(netns ? { entry: { ...f.entry, netns } } : {}),
        state: 'unreadable',
        reason: `${f.file}: ${f.unreadable}; ${forget} forgets it`,
        brief: briefUnreadable(f.unreadable),
        ...(pod ? { pod } : {}),
      });
      continue;
    }
    const pod = podOf(f.entry);
    let state: State = 'attached';
    let reason: string | undefined;
    let brief: string | undefined;
    let livePod: Pod | undefined;
    let unchecked: Error | undefined;
    let reachable = false;
    if (pod) {
      const p = pods.get(`${pod.namespace}/${pod.name}`);
      if (world.pods && (!p || (pod.uid && p.metadata?.uid !== pod.uid))) {
        state = 'pod gone';
        brief = p ? 'pod replaced (another uid)' : 'pod deleted';
        reason = `${p ? `pod ${pod.namespace}/${pod.name} is another pod now (uid ${p.metadata?.uid}, not ${pod.uid})` : `pod ${pod.namespace}/${pod.name} no longer exists`}${gcFrees(f)}`;
      } else if (world.node !== undefined && p?.spec?.nodeName && p.spec.nodeName !== world.node) {
        const there = p.spec.nodeName;
        if (pod.uid) {
          // the live pod itself, on another node: not this node's attachment of it (its entry there is the one that counts)
          livePod = p;
          state = 'other node';
          brief = `pod runs on node ${there}`;
          reason = `pod ${pod.namespace}/${pod.name} (uid ${pod.uid}) runs on node ${there}, not on node ${world.node}, whose cache holds this entry: a pod runs on one node for its life, so this is not node ${world.node}'s attachment of it (a cache directory shared between nodes, or copied from node ${there}?); left alone here: node ${there}'s cache is the one that counts`;
        } else {
          state = 'pod gone';
          brief = `pod now on node ${there}`;
          reason = `pod ${pod.namespace}/${pod.name} runs on node ${there}, not on node ${world.node}: this entry, which names no pod uid, is of an earlier pod of that name that ran on node ${world.node}${gcFrees(f)}`;
        }
      } else {
        livePod = p;
        const cannot = world.sandboxes && !running.has(f.entry.containerId) ? world.unasked?.find((u) => runtimeMayHold(u.runtime, p, f.entry.netns)) : undefined;
        if (cannot) {
          // not listed by the runtimes that answered, but one that may hold it could not be asked: not judged
          unchecked = cannot.error;
          brief = 'sandbox not checked';
          reason = `its sandbox ${f.entry.containerId.slice(0, 12)} could not be checked: the runtime that may hold it (${cannot.runtime}) could not be asked: ${cannot.error.message}`;
        } else if (world.sandboxes && !running.has(f.entry.containerId) && world.node === undefined && world.hereName && pod.uid && p?.spec?.nodeName && p.spec.nodeName !== world.hereName) {
          const there = p.spec.nodeName;
          state = 'other node';
          brief = `pod runs on node ${there}`;
          reason = `pod ${pod.namespace}/${pod.name} (uid ${pod.uid}) runs on node ${there}, and its sandbox ${f.entry.containerId.slice(0, 12)} is not running here (${world.hereName}), whose cache holds this entry: a pod runs on one node for its life, so this is not this host's attachment of it (a cache directory shared with node ${there}, or copied from it?); left alone here: node ${there}'s cache is the one that counts (if this host is node ${there} under another name, set NODE_NAME=${there})`;
        } else if (world.sandboxes && !running.has(f.entry.containerId)) {
          state = 'sandbox gone';
          brief = 'sandbox not running';
          reason = `its sandbox ${f.entry.containerId.slice(0, 12)} is not running ${world.node ? `on node ${world.node}` : 'here'} any more (the pod was restarted?)${gcFrees(f)}`;
        } else reachable = !!world.sandboxes;
      }
    } else if (f.entry.netns) {
      const kind = await world.exec.pathKind(f.entry.netns);
      if (kind !== 'netns') {
        state = 'netns gone';
        brief = kind === 'missing' ? 'namespace deleted' : 'the path is no namespace now';
        reason = `${f.entry.netns} is not a network namespace any more${gcFrees(f)}`;
      } else reachable = true;
    }
    const busy = state === 'attached' && f.intentOnly ? await world.lockHeld?.(f.entry.containerId, f.entry.ifName) : undefined;
    // the cni-detach --force that takes another host's lock, as the user would paste it (World.forceLine)
    const force = world.forceLine ? `\`${world.forceLine({ ...(pod ? { pod } : {}), ...(f.entry.netns ? { netns: f.entry.netns } : {}), containerId: f.entry.containerId }, f.entry.ifName)}\`` : undefined;
    // what holds the lock of a DEL mark's attachment (markUnderLock), for the command that clears it
    let lockOf: Busy | undefined;
    if (busy) {
      // a command is working on it right now: nothing to judge
      unchecked = undefined;
      state = 'attaching';
      const who = `a cni-attach/cni-detach${commandInParens(busy, thisHost.host)}`;
      const foreign = attachUnderForeignLock(busy, '', force);
      if (foreign) {
        brief = foreign.brief;
        reason = `an attach of ${f.entry.ifName} has not finished: ${foreign.why}`;
      } else if (busy.freeInMs === undefined) {
        brief = `attach running${commandInParens(busy, thisHost.host, true)}`;
        reason = `an attach of ${f.entry.ifName} has not finished: ${who} is working on it right now (an attach still in its plugins, or a detach undoing it); list again once it is done`;
      } else {
        const secs = freeInSecs(busy)!;
        brief = `its command gone; free in ${secs}s`;
        reason = `an attach of ${f.entry.ifName} has not finished: its command${commandInParens(busy, thisHost.host)} is gone, but what it started may run until its time limit ends; its lock is free in ${secs}s: then cni-detach or cni-gc undoes it`;
      }
    } else if (state === 'attached' && f.intentOnly && f.deleting) {
      unchecked = undefined;
      state = 'interrupted';
      brief = 'attach did not finish';
      reason = `an attach of it did not finish (killed, or its rollback failed), and ${deleteStopped(f.deleting, thisHost.host).replace(/^a /, 'then a ')}: cni-detach or cni-gc undoes it`;
    } else if (state === 'attached' && f.intentOnly) {
      // an attach that did not finish is undone wherever its sandbox is: nothing to judge
      unchecked = undefined;
      state = 'interrupted';
      brief = 'attach did not finish';
      reason = 'an attach of it did not finish (killed, or its rollback failed): cni-detach or cni-gc undoes it';
    } else if (state === 'attached') {
      const links = world.links?.get(f.entry.containerId);
      const where = world.node ? `the network namespace of sandbox ${f.entry.containerId.slice(0, 12)} on node ${world.node}` : (f.entry.netns ?? `the network namespace of sandbox ${f.entry.containerId.slice(0, 12)}`);
      // looked for where the namespace is reachable; where the caller gave the links its look-ups read (a node reached
      // by commands), a sandbox whose links were not read is not judged: no command asks again
      // (only an interface its result names in the sandbox: namesSandboxInterface)
      const looked = reachable && (f.entry.netns || world.links) && namesSandboxInterface(f.entry);
      const there = !looked ? undefined : links ? links.includes(f.entry.ifName) : world.links || !f.entry.netns ? undefined : await interfaceExists(world.exec, f.entry.netns, f.entry.ifName).catch(() => undefined);
      // a DEL of ours begun and not finished (its mark) whose lock is free: stopped part-way or refused by a plugin,
      // whatever the link (its plugins may have deleted it before the lease); without a mark, a link gone was deleted
      // outside cni-attach. A mark whose lock is held by a live command is a DEL running now: attached until it is
      // done; held by a command that is gone, until the time limit of what it started on the node (exec/lock.ts
      // freeInMs), it stopped too — never "interface gone": its own DEL may have deleted the link (an outside tester
      // saw "deleted outside cni-attach; its lease still held" of a DEL that had finished, its command killed)
      // (of another host: stopped once its lock's time limit has passed, else it may be running: markUnderLock)
      const held = f.deleting ? await world.lockHeld?.(f.entry.containerId, f.entry.ifName) : undefined;
      const judged = f.deleting ? markUnderLock(f.deleting, held, thisHost.host, force) : undefined;
      if (judged?.stopped) {
        unchecked = undefined;
        state = 'detach stopped';
        brief = judged.brief;
        reason = detachStoppedReason(f.deleting!, f.entry.ifName, where, there) + judged.more;
        if (held) lockOf = held;
      } else if (judged?.brief) {
        // another host's DEL within its lock's time limit: attached, as a DEL of this host running now is
        brief = judged.brief;
        reason = judged.more;
        lockOf = held;
      } else if (there === false && !f.deleting) {
        state = 'interface gone';
        brief = INTERFACE_GONE_BRIEF;
        reason = interfaceGoneReason(f.entry.ifName, where);
      }
    }
    out.push({ ...f, state, ...(reason ? { reason } : {}), ...(brief ? { brief } : {}), ...(pod ? { pod } : {}), ...(livePod ? { livePod } : {}), ...(busy ? { busy } : lockOf ? { busy: lockOf } : {}), ...(unchecked ? { unchecked } : {}) });
  }
  return out;
}
