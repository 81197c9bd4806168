/** kubectl cni-gc: free the attachments whose pod, sandbox or namespace is gone, then CNI GC for 1.1 plugins. */
import { Command } from 'commander';
import { ApiStatusError, BusyError, CniAttachError, NotFoundError, SomeFailedError, StoppedError, UnreachableError, UsageError, signalName, stoppedBy, foreignLockWayOut, freeInSecs } from '../errors.js';
import { holdBatch, interruptedBy, nameDelsRunning, quitting } from '../exec/interrupt.js';
import type { CacheEntry, Found, ResultCache } from '../cni/cache.js';
import type { Executor } from '../exec/types.js';
import { commandInParens, LOCK_GRACE_MS } from '../exec/lock.js';
import { thisHost } from '../exec/host.js';
import type { KubeApi, Pod } from '../resolve/kube.js';
import type { AttachmentRecord, EntryPod, InvalidRecord, NotCopied } from '../resolve/records.js';
import type { PodRuntime, Sandbox } from '../resolve/runtime.js';
import { runtimeMayHold } from '../resolve/runtime.js';
import type { Stale } from '../cni/gc.js';
import type { WaysOut } from '../cni/attach.js';
import type { Classified, State } from '../resolve/attachment-state.js';
import type { Busy } from '../exec/lock.js';
import { addClusterOptions, addEngineOptions, addOutputOptions, collectList } from './options.js';
import { defaultDeps, prepareEngine, thisHostsEntries, unlessDenied, type Deps, type EngineFlags } from './context.js';
import { detachCommandLine, formatData, gcCommandLine, recordDetachLine, removeKeyCommandLine, removeKeysCommandLine, shellQuote, someNames, waysOut } from './output.js';
import type { ChainContext } from '../cni/chain.js';
import { connect, hostOnlyNote, noClusterConfigured } from './targets.js';
import type { CommonFlags } from './options.js';
import { describeError, main, onQuit, stdio } from './main.js';
import { load } from './load.js';
import { formatDuration, isoSecond, isoSecondUp } from '../duration.js';
import { groupReachNotes, heldOfRecord, judgeOnNode, reachNode, refuseUnknownNodes, sandboxLockOf, writeAheadOnNode } from './node-judge.js';

interface GcFlags extends EngineFlags, Pick<CommonFlags, 'kubeconfig' | 'context' | 'requestTimeout' | 'runtime' | 'dockerHost' | 'output' | 'agentNamespace' | 'agentImage'> {
  dryRun?: boolean;
  annotate?: boolean;
  /**
   * --record-legacy: record in --agent-namespace the unrecorded attachments whose node entry does not say which agent
   * namespace their attach records them in (made by a version before it was kept), as every one was before.
   */
  recordLegacy?: boolean;
  /** --node: nodes to visit whether or not a record names them (repeatable, comma-separated). */
  node?: string[];
}

/**
 * The states cni-gc frees, and why. Others stay: attached, interface gone (cni-detach), unreadable (cni-detach --force).
 * A detach stopped (a DEL of ours begun and not finished, its lock free) is finished as an interrupted attach is undone,
 * its target alive or not: both are a command of ours that did not finish, and what it meant is known (README "What is
 * attached").
 */
const WHY: Partial<Record<State, string>> = {
  'pod gone': 'the pod is gone',
  'sandbox gone': "the pod's sandbox is gone",
  'netns gone': 'the network namespace is gone',
  interrupted: 'an attach of it was interrupted',
  'detach stopped': 'a DEL of it did not finish (a cni-detach or cni-gc stopped during it)',
};

export function describeEntry(c: Classified): string {
  if (c.state === 'unreadable' && !c.entry.containerId) return `record ${c.file}`;
  return c.pod ? `pod ${c.pod.namespace}/${c.pod.name}` : c.entry.netns ? `netns ${c.entry.netns}` : `container ${c.entry.containerId}`;
}

type Freed = Stale & { c: Classified };

/**
 * What cni-gc's DELs have done and are doing, for what a stop says of them (its summary, its -o json) and for the
 * report of a second signal that quits it (quitReportOf): each DEL as it begins (its node: `here` for this host's
 * cache) and ends, the ones that freed their attachment, and which of those still have their record in the cluster
 * (the records pass removes a node's records after its DELs). Frozen once a quit begins (exec/interrupt.ts quitting):
 * what ends after it is the quit's doing, and stays "unknown", as a batch's pods in flight (cli/bulk.ts forEachPod).
 * Its DELs under way are named for the quit's note (nameDelsRunning: cli/main.ts quitNote).
 */
class GcProgressOf {
  readonly freed: Freed[] = [];
  readonly running = new Map<Freed, string>();
  /** The node of every DEL begun. */
  readonly nodeOf = new Map<Freed, string>();
  /** The freed whose record the cluster still holds (removed per node: recordsGone). */
  readonly recordKept = new Set<Freed>();
  private quitReport?: () => void;

  constructor(
    private readonly here: string,
    private readonly onFirst: () => () => void,
  ) {}

  /** "net1 of pod shop/web-1 on node node-a" ("… on this host"), as the quit's note and report name a DEL. */
  name(s: Freed): string {
    const node = this.nodeOf.get(s) ?? this.here;
    return `${s.entry.ifName} of ${describeEntry(s.c)} ${node === this.here ? 'on this host' : `on node ${node}`}`;
  }

  began(s: Freed, node = this.here): void {
    if (quitting()) return;
    this.quitReport ??= this.onFirst();
    this.nodeOf.set(s, node);
    this.running.set(s, node);
  }

  ended(s: Freed, freed: boolean): void {
    if (quitting()) return;
    this.running.delete(s);
    if (!freed) return;
    this.freed.push(s);
    this.recordKept.add(s);
  }

  /** The records of `node` were removed (the records pass): its freed attachments' went with them. */
  recordsGone(node: string): void {
    if (quitting()) return;
    for (const s of this.recordKept) if ((this.nodeOf.get(s) ?? this.here) === node) this.recordKept.delete(s);
  }
}

/**
 * The report of a second signal that quits cni-gc (cli/main.ts onQuit), as a batch's quit reports (cli/bulk.ts
 * quitReport): the attachments its DELs freed before it (their `freed …` lines, on stdout, as the end of a run prints
 * them), the DELs running when it came (unknown: each stays as the quit leaves it — on its node, its DEL's mark, and on
 * a node reached by commands its lock, held until the time limit of what gc started there, by a time said —, each
 * named with the cni-gc that frees it), a summary line, and the closing `error:` line; -o json|yaml the same as one
 * document (`freed`, `unknown` with each one's node, `clearCommand` and `freeBy`, `stoppedBy`, `quitBy`). Before, the
 * quit printed only its closing line: nothing of the DELs that had run, nor of those in flight (tryout 9, finding 5).
 */
function quitReportOf(flags: GcFlags, deps: Deps, progress: GcProgressOf, timeoutMs: number): (sig: NodeJS.Signals) => Promise<void> {
  return async (sig) => {
    const gc = gcCommandLine(flags);
    const first = interruptedBy() ?? sig;
    const here = deps.hostname();
    const running = [...progress.running];
    // a DEL on a node reached by commands runs on there under its lock until its time limit (the plugin time limit,
    // --timeout, renewed before each run, plus the grace: exec/lock.ts) whatever became of gc: cni-gc frees it then
    const freeBy = isoSecondUp(Date.now() + timeoutMs + LOCK_GRACE_MS);
    const elsewhere = running.filter(([, node]) => node !== here);
    const kept = progress.freed.filter((s) => progress.recordKept.has(s));
    const rec = (s: Freed) => ({ target: describeEntry(s.c), ifname: s.entry.ifName, network: s.entry.networkName, containerId: s.entry.containerId, reason: s.why, node: progress.nodeOf.get(s) ?? here });
    if (flags.output !== 'summary') {
      deps.io.out(await formatData({
        dryRun: false,
        freed: progress.freed.map((s) => ({ ...rec(s), ...(progress.recordKept.has(s) ? { recordKept: true } : {}) })),
        stoppedBy: first,
        quitBy: sig,
        unknown: running.map(([s, node]) => ({ ...rec(s), clearCommand: gc, ...(node !== here ? { freeBy } : {}) })),
      }, flags.output));
    } else {
      for (const s of progress.freed) deps.io.out(`freed ${s.entry.ifName} of ${describeEntry(s.c)} (network ${s.entry.networkName}): ${s.why}\n`);
      for (const [s, node] of running) {
        const there = node !== here;
        deps.io.err(`note: quit during the DEL of ${progress.name(s)} (network ${s.entry.networkName}): it stays as the quit leaves it, marked there as a DEL that did not finish${there ? `, under the lock of what gc started there, which may run until its time limit: free by ${freeBy}` : ''}; \`${gc}\` frees it${there ? ' from then on, from this host (another host, which cannot see that this command is gone, leaves it to `cni-detach --force`)' : ''}\n`);
      }
      const unknown = running.length ? `${running.length} unknown (${someNames(running.map(([s]) => progress.name(s)))}; \`${gc}\` frees ${running.length === 1 ? 'it' : 'them'}${elsewhere.length ? `, by ${freeBy} at the latest` : ''})` : 'none running';
      const records = kept.length ? `; the record${kept.length === 1 ? '' : 's'} of ${kept.length === 1 ? 'the one' : `the ${kept.length}`} freed ${kept.length === 1 ? 'goes' : 'go'} with the next cni-gc` : '';
      deps.io.out(`gc: freed ${progress.freed.length} stale attachment${progress.freed.length === 1 ? '' : 's'}; stopped by ${signalName(first)}, quit by a second ${sig}: ${unknown}${records}\n`);
    }
    const unknownSaid = running.length ? `, ${running.length} unknown (${running.length === 1 ? 'its DEL was' : 'their DELs were'} running: \`${gc}\` frees ${running.length === 1 ? 'it' : 'them'})` : '';
    deps.io.err(`error: gc stopped by ${signalName(first)}, quit by a second ${sig}: ${progress.freed.length} freed${unknownSaid}; the rest as it was (\`${gc} --dry-run\` says what is left)\n`);
  };
}

/** An attachment a cni-attach/cni-detach is working on right now (its lock held): left alone by this gc. */
export interface Left {
  stale: Freed;
  holder: Busy;
  /** Where the lock's node is, for the note (" on node node-a"; '' for this host). */
  where: string;
}

/**
 * `left` without repeats: one attachment (its pod's uid, or its sandbox where no pod is known, and its ifname) said and
 * counted once, as first found. The node's look and the records' (their write-ahead's command seen running) can each
 * find the same attach in flight: one gc beside a running `cni-attach -l` named two pods twice and counted "4 busy"
 * (tryout 10, finding 5).
 */
export function uniqueLeft(left: Left[]): Left[] {
  const seen = new Set<string>();
  return left.filter((l) => {
    const k = `${l.stale.c.pod?.uid || `sandbox ${l.stale.entry.containerId}`}/${l.stale.entry.ifName}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** A BusyError (from a DEL gc tried, or a dry run's look at the lock) as a Left. */
function leftBy(stale: Freed, e: BusyError, where: string): Left {
  return { stale, holder: e.holder ?? {}, where };
}

/** The records classify found attaching (an unfinished attach whose lock is held right now), as Left; where: as in Left. */
function attachingOf(classified: Classified[], where: string): Left[] {
  return classified.filter((c) => c.state === 'attaching').map((c) => ({ stale: { entry: c.entry, intentOnly: c.intentOnly, netns: '', why: c.reason ?? '', c }, holder: c.busy ?? {}, where }));
}

/**
 * Why gc left an attachment alone, for its note: "a cni-attach/cni-detach (pid 123 on this host laptop-2, running for 12s) is working on it right now", or,
 * on a node whose lock outlives its command (exec/lock.ts), "its command (pid 123 on host laptop-2) is gone, but what it started on
 * node node-a may run until its time limit ends (its lock is free in 12s, at T: a cni-gc from then on acts on it)"; of
 * another host's lock with a time limit,
 * which nothing here can see: "a cni-attach/cni-detach (pid 123 on host laptop-2) holds its lock on node node-a: a
 * command of another host, which this host cannot see (…)" with the way out (errors.ts foreignLockWayOut: when its
 * limit passed or passes, and `kubectl cni-detach … --force`, `force`, that takes it) — never "right now", which an
 * outside tester read of a laptop's attach killed long before, left "busy" by every cni-gc.
 */
function leftWhy(l: Left, here: string, force?: string): string {
  const pid = commandInParens(l.holder, here);
  const h = l.holder;
  const foreign = foreignLockWayOut(h, here, '', '', force === undefined ? undefined : `\`${force}\``);
  if (foreign) return `a cni-attach/cni-detach${pid} holds its lock${l.where}: a command of another host, which this host cannot see${foreign}`;
  if (h.freeInMs === undefined) return `a cni-attach/cni-detach${pid} is working on it right now`;
  // when a cni-gc can act on it, as a time too (a tryout: cni-list -A said to run cni-gc, which left it alone)
  const now = Date.now();
  const secs = freeInSecs(h, now)!;
  return `its command${pid} is gone, but what it started${l.where} may run until its time limit ends (its lock is free in ${secs}s, at ${isoSecondUp(now + secs * 1000)}: a cni-gc from then on acts on it)`;
}

/**
 * Why a dry run's CNI GC would wait (cni/gc.ts gcWaits), and what the real run does when the wait runs out: an ADD or
 * DEL of the network (SPEC.md "Lifecycle & Ordering") leaves its GC for a later cni-gc; another cni-gc's GC of it makes
 * this one's an error.
 */
function gcWaitWhy(w: { for: 'gc' | 'add-del' }): string {
  return w.for === 'add-del'
    ? 'no GC runs beside an ADD or DEL (CNI spec); still running then, its GC is left for a later cni-gc'
    : 'no two cni-gc run GC of one network at once; still running then, no GC of it runs (an error)';
}

/** "eth2 of netns /var/run/netns/x (network green): the cni-attach/cni-detach that was working on it when gc began has ended". */
function endedWhy(ifname: string, target: string, network: string): string {
  return `${ifname} of ${target} (network ${network}): the cni-attach/cni-detach that was working on it when gc began has ended`;
}

/**
 * The attachments of this host that gc left alone because a cni-attach/cni-detach held their lock (`left`, changed
 * in place), judged again once gc's own work here is done: its CNI GC waited for such commands to end (cni/gc.ts
 * untilNoAddOrDel), and its summary says how things are after that wait, not before it. A lock still held stays
 * left (busy). A command that has ended left nothing of that network under the key (its DEL ran, or its attach was
 * rolled back: `gone`, nothing to free), or what `again` judges as gc judges anything — an attachment (its ADD
 * finished: `alive` when attached; freed by `again` when its target went meanwhile), an unfinished attach whose
 * command was killed (freed by `again`), or one whose lock was taken again (left). Reads each one's lock and cache
 * entries on this host; another node's are as gc found them (nothing there waited).
 */
async function settleLeft(
  left: Left[],
  cache: ResultCache,
  again: (found: Found[]) => Promise<{ judged: Classified[]; busy: Left[] }>,
): Promise<{ alive: Classified[]; gone: Left[] }> {
  const gone: Left[] = [];
  const found: Found[] = [];
  for (const l of [...left]) {
    if (l.where !== '') continue;
    const e = l.stale.entry;
    const holder = await cache.lockHeld(e.containerId, e.ifName).catch(() => l.holder);
    if (holder) {
      l.holder = holder;
      continue;
    }
    left.splice(left.indexOf(l), 1);
    const now = (await cache.find(e.containerId, e.ifName)).filter((f) => f.entry.networkName === e.networkName);
    if (now.length === 0) gone.push(l);
    else found.push(...now);
  }
  if (found.length === 0) return { alive: [], gone };
  const { judged, busy } = await again(found);
  left.push(...attachingOf(judged, ''), ...busy);
  return { alive: judged.filter((c) => c.state === 'attached' || c.state === 'interface gone'), gone };
}

/** The records cni-gc added and removed (with --dry-run: would add and remove). */
interface RecordChanges {
  added: AttachmentRecord[];
  removed: AttachmentRecord[];
  /**
   * The attachments of live pods held without a record here that were not recorded here: their entry names another
   * agent namespace, or none (resolve/records.ts reconcileRecords). Said in a note (notCopiedNotes), -o json
   * records.notRecorded.
   */
  notCopied: NotCopied[];
  /**
   * The attachments of live pods held without a record, and the records of live pods held nowhere (written or not);
   * neither counts an unfinished attach (interrupted), which is no attachment: these adjust gc's "alive".
   */
  unrecorded: number;
  unheld: number;
}

interface PassOutcome {
  freed: Freed[];
  failed: { stale: Stale; error: unknown }[];
  /** The gone pods' attachments a command is working on right now (their lock held on their node): left alone. */
  busy: Left[];
  /** The attachments of live pods on other nodes, as recorded (after the reconciliation of the nodes visited). */
  alive: number;
  /**
   * Of `alive`, those judged by the API alone: records of live pods on nodes this gc did not read (not visited, or not
   * reached) — kept because their pods exist; whether their sandbox still runs was not looked at (--node reads them).
   * `nodes`: those nodes.
   */
  unread: { count: number; nodes: string[] };
  records: RecordChanges;
  /** Nodes asked for (--node) that could not be reached, or whose cache could not be read. */
  unreached: { node: string; error: unknown }[];
  /** Live pods' attachments on the nodes visited whose sandbox could not be looked up there (Classified.unchecked): kept. */
  unchecked: Classified[];
  /** Records that say something else than what their node holds under their key (recordAgainstNode): used for nothing. */
  mismatched: Mismatched[];
  /**
   * Records gc would act on that name another cache dir than the one it read — a gone pod's, an interrupted attach's,
   * a write-ahead never settled (of a live pod: its node would be visited) —: kept, said with the gc that frees them.
   */
  elsewhere: Elsewhere[];
  /**
   * Write-ahead records forgotten (with --dry-run: to forget) as records of attaches that left nothing on their node,
   * each with why: judged on their node (nothing held, no lock, the command gone). Counted with the records removed.
   */
  forgotten: { record: AttachmentRecord; why: string }[];
  /** Write-ahead records kept because their attach may still be running (another host's: only it can tell), with why. */
  kept: { record: AttachmentRecord; why: string }[];
  /**
   * Write-ahead records whose attach finished on its node (what it holds for the pod's uid and ifname: a result, no
   * intent, its lock free) but never settled its record (its command quit or was killed after the ADD: a second
   * Ctrl-C while the settle was in flight, SIGKILL, the API unreachable then): replaced (with --dry-run: to replace)
   * by the attached record that attach would have written, as it says — `record` the new one. Counted alive.
   */
  settled: { record: AttachmentRecord; ahead: AttachmentRecord; networkStatus?: NetworkStatusDone }[];
  /**
   * Live pods' attachments on the nodes visited whose interface is no longer in their sandbox (classify, given the sandboxes node-judge.ts sandboxesOnNode found and their links):
   * not alive, not freed (their lease is held: cni-detach frees it), counted apart as on this host.
   */
  interfaceGone: Classified[];
  /**
   * The attachments freed on the nodes visited (with --dry-run: to free) whose entry said their attach records them in
   * another agent namespace (`recordedIn`) than this gc's: their record there stays, saying attached, unless this gc
   * removes it (forgetForeignRecords). `record`: the attachment, as a record of its key.
   */
  foreign: { record: AttachmentRecord; recordedIn: string }[];
}

/**
 * A record gc would act on — a gone pod's, or a live pod's unfinished attach (interrupted, or a write-ahead never
 * settled) — that names another cache dir than the one this gc read (resolve/records.ts recordedIn): kept, untouched —
 * its node keeps the attachment (or the attempt) and its lease there, which this gc did not look at. Counted (the
 * summary's "kept (recorded in another cache dir)") and said with the cni-gc that frees it, offered only once its
 * node trusts that dir by the rule its plugin dirs are held to (exec/trust.ts, as cli/targets.ts recordedCacheDirHint
 * offers a detach's): a record is not the user's word, and a cache dir decides with what config root runs the plugins
 * there. (Before, only a gone pod's was: an outside tester's 15 interrupted records of a `--cache-dir X` batch made a
 * plain gc say "would free 0 stale attachments", no note.)
 */
interface Elsewhere {
  record: AttachmentRecord;
  /** What gc would do with it, in its note's words: "its pod is gone", "an attach of it was interrupted", …. */
  why: string;
  cacheDir: string;
  /** The cni-gc that frees it (its cache dir given), when its node trusts that dir; else undefined and `untrusted` says why. */
  command?: string;
  untrusted?: string;
}

/** A record whose node holds its key for another pod, uid or network (resolve/records.ts recordAgainstNode). */
interface Mismatched {
  record: AttachmentRecord;
  node: string;
  why: string;
  /** Where it is: its ConfigMap (in the agent namespace) and data key. */
  configMap: string;
  key: string;
}

/**
 * The records pass of cni-gc (resolve/records.ts): the attachments recorded in the cluster whose pod is gone, freed on
 * their node, reached as attach reaches it (the runtimes' nodeExecutor: a kind node container, an agent pod; with
 * --runtime auto a runtime not installed here is skipped, as in attach); only the nodes with such records are
 * visited. A record only says where to look: what its node holds under its key (its cache entry's network and pod,
 * from its CNI_ARGS) decides — a record that says another pod, uid or network is used for nothing (`mismatched`, said
 * with the kubectl patch that removes it), and whether the pod is gone and which sandbox is its are judged by the
 * entry's pod (resolve/records.ts recordAgainstNode), never by the record's. DEL runs from that node's cache: in
 * the sandbox's network namespace when the deleted pod's sandbox still
 * runs there (stillRunning), else without one (it went with the sandbox); then the record goes. A record whose node
 * cache holds nothing any more was stale: it just goes. An attaching record (an attach whose command died, its
 * write-ahead never settled) is freed the same way — its intent DELs as any — found by the pod's uid when it was
 * written before its sandbox was known; one of a pod that is still there is not judged here (an attach may be running:
 * cni-list shows it with the cni-detach that clears it) — but its node, as that of an interrupted record of a live
 * pod, is visited: what the node holds decides (reconcileNode: an intent whose lock is free is an interrupted attach,
 * DELed from it in its sandbox, when that still runs, and forgotten with its records, as on this host; a lock held is
 * busy; nothing, and an interrupted record goes, an attaching one goes once its command, of this host, is gone, and
 * stays, said, while it may run). (A write-ahead is written only once its attach found the sandbox, on its way to the
 * node: cli/attach.ts startAhead — so an attach killed before that, e.g. while its agent started, leaves no record to
 * send gc to a node that may never run an agent.) Neither is ever counted alive. The nodes
 * `asked` for (--node) are visited too, records or not; on each node visited the records are reconciled with its cache (reconcileNode), and the gone pods' attachments
 * it holds without a record are freed with the recorded ones. What a cni-attach/cni-detach is working on right now
 * (its lock held on the node, by a live command or, on a node reached by commands, until its time limit: exec/lock.ts)
 * is left alone with its record (`busy`) — a gone pod's attach still running (the pod deleted during it) settles its
 * record itself and is freed by a later gc; a killed one's once its lock is free —, as is a write-ahead record whose
 * node holds nothing yet while its attach holds the lock in the pod's sandbox (before its intent). A record is judged,
 * freed and forgotten only by a gc that reads the cache dir it names (resolve/records.ts recordedIn): a gone pod's
 * record of another dir is kept, untouched, and said (`elsewhere`, keptElsewhere: its node is visited to check that
 * dir before a cni-gc giving it is offered).
 */
/**
 * How the user's signal cut the freeing of an attachment whose DEL (or its node's reaching) ended with e, or
 * undefined when e is a failure of its own: 'not started' — stopped before its DEL (chain.ts: "stopped by SIGINT
 * (Ctrl-C) before DEL"), or its node not reached (a look-up, an agent's start cut short: an unreachable node, or a
 * step that did not start) —; 'stopped' — a DEL the signal stopped while it ran: its record stays (cli/bulk.ts
 * leftByStop). Only asked once the signal came.
 */
function cutBy(e: unknown): 'not started' | 'stopped' | undefined {
  if (e instanceof StoppedError) return e.left === 'nothing' ? 'not started' : 'stopped';
  if (stoppedBy(e)) return 'stopped';
  if (e instanceof UnreachableError || !(e instanceof CniAttachError)) return 'not started';
  return undefined;
}

async function recordsPass(
  flags: GcFlags,
  deps: Deps,
  api: KubeApi,
  pods: Pod[],
  locallyFreed: Set<string>,
  localExec: Executor,
  here: Set<string>,
  all: AttachmentRecord[],
  asked: string[],
  progress?: GcProgressOf,
): Promise<PassOutcome> {
  const records = await import('../resolve/records.js');
  const ns = flags.agentNamespace ?? 'kube-system';
  const live = new Map(pods.map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, { uid: p.metadata?.uid }]));
  // the pods were listed before the records: a pod made and attached in between (its record is in `all`, it is not in
  // `pods`) would look gone, and its attachment freed under it. Each pod a record calls gone is asked for again now
  // (one GET per such pod: gone pods are few), as reconcileNode does for what a node holds.
  await Promise.all([...new Set(all.filter((r) => records.recordedPodGone(r, live)).map((r) => `${r.namespace}/${r.pod}`))].map(async (key) => {
    const [namespace, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
    const now = await api.getPod(namespace, name).catch((e: unknown) => {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    });
    if (now) live.set(key, { uid: now.metadata?.uid });
  }));
  // a record is judged, freed and forgotten only by a gc that reads the cache dir it names: one of another dir is kept
  // and said (Elsewhere), as its node keeps the attachment there
  const mine = all.filter((r) => records.recordedIn(r, flags.cacheDir));
  const { CACHE_KIND, recordsNamespaceOf } = await import('../cni/cache.js');
  const out: PassOutcome = { freed: [], failed: [], busy: [], alive: 0, unread: { count: 0, nodes: [] }, records: { added: [], removed: [], notCopied: [], unrecorded: 0, unheld: 0 }, unreached: [], unchecked: [], mismatched: [], elsewhere: [], forgotten: [], kept: [], settled: [], interfaceGone: [], foreign: [] };
  const gone = mine.filter((r) => records.recordedPodGone(r, live));
  // every record of another cache dir that gc would act on: a gone pod's, a live pod's unfinished attach (Elsewhere)
  const goneElsewhere = all.filter((r) => !records.recordedIn(r, flags.cacheDir) && (records.recordedPodGone(r, live) || r.interrupted || r.attaching || r.detachStopped));
  const whyElsewhere = (r: AttachmentRecord): string =>
    records.recordedPodGone(r, live) ? 'its pod is gone' : r.interrupted ? 'an attach of it was interrupted' : r.detachStopped ? 'a DEL of it did not finish (detach stopped)' : 'its attach has not settled its record (attaching)';
  // the recorded attachments of pods that are there, on other nodes (`here`: this host's, counted from its cache); an
  // attach's write-ahead (attaching) is no attachment yet, nor is an attach that did not finish (interrupted)
  // (a live pod's record on another node than the API's for it is no attachment on that node: said, not counted)
  const misplaced = new Map(all.map((r) => [r, records.recordOnOtherNode(r, pods)] as const).filter((x): x is [AttachmentRecord, string] => x[1] !== undefined));
  for (const [r, why] of misplaced) out.mismatched.push({ record: r, node: r.node, why, configMap: records.recordName(r.node), key: r.key ?? records.recordKey(r.containerId, r.ifname) });
  const byRecord = all.filter((r) => !r.attaching && !r.interrupted && !misplaced.has(r) && !records.recordedPodGone(r, live) && !here.has(`${r.containerId}/${r.ifname}`));
  out.alive = byRecord.length;
  // the nodes whose cache this pass read (reconcileNode): their live pods' records were judged there, the others' by
  // the API alone (their pods exist), which is not "alive" checked (a tryout: "58 alive", a killed sandbox among them)
  const nodesRead = new Set<string>([deps.hostname()]);
  const unreadOf = () => {
    const unread = byRecord.filter((r) => !nodesRead.has(r.node));
    out.unread = { count: unread.length, nodes: [...new Set(unread.map((r) => r.node))].sort() };
  };
  // the unfinished attaches of live pods recorded on other nodes (interrupted, or a write-ahead never settled): their
  // node is visited, where what it holds decides (reconcileNode: an intent whose lock is free is an interrupted attach,
  // freed below; one whose lock is held is running, left busy; nothing held, and an interrupted record goes, an
  // attaching one goes once its command, of this host, is gone, else stays: its attach may not have reached the node
  // yet). This host's were judged by the local pass.
  // (and a DEL a cni-detach began and did not finish, as its record says — detachStopped —: finished there as on this
  // host, by what its node holds: its mark, and its lock)
  const unfinished = mine.filter((r) => (r.interrupted || r.attaching || r.detachStopped) && !records.recordedPodGone(r, live) && r.node !== deps.hostname());
  // what was freed here whose pod is still there (its sandbox went): its record goes too, or cni-list -A and this
  // count would show it attached for ever (the records of gone pods go below, with the others of their node)
  const freedHere = mine.filter((r) => !records.recordedPodGone(r, live) && locallyFreed.has(`${r.containerId}/${r.ifname}`));
  if (!flags.dryRun) {
    for (const [node, recs] of records.recordsByNode(freedHere)) {
      await records.removeRecords(api, ns, node, recs).then(() => progress?.recordsGone(node), (e: unknown) => deps.io.err(`note: the records of node ${node} could not be updated: ${describeError(e)}\n`));
    }
  }
  if (gone.length === 0 && goneElsewhere.length === 0 && asked.length === 0 && unfinished.length === 0) return (unreadOf(), out);
  const byNode = records.recordsByNode(gone);
  // the nodes of records of another cache dir are reached too: that node says whether it trusts that dir
  for (const n of [...asked, ...goneElsewhere.map((r) => r.node), ...unfinished.map((r) => r.node)]) if (!byNode.has(n)) byNode.set(n, []);
  const runtimes = await deps.runtimes(flags, api);
  const engine = await import('../cni/attach.js');
  // the records as they are after a node was read, listed again only where a judgement needs it (reconcileRecords, a
  // write-ahead's settle), one list shared by the nodes asking at once
  const recordsNow = records.recordsReadAfter(api, ns);
  // the nodes reached through agents said in one note (node-judge.ts groupReachNotes), once all were visited
  const endNotes = groupReachNotes(runtimes);
  try {
    await Promise.all([...byNode].map(async ([node, recs]) => {
      // what the node holds of a live pod that is stale (reconcileNode): an attach that did not finish (its intent, its
      // lock free), or an attachment whose sandbox no longer runs there (the pod has a new one, or none): freed from it
      const judged = new Map<AttachmentRecord, Classified>();
      const stale = (r: AttachmentRecord, still?: Sandbox): Freed => {
        const entry: CacheEntry = { kind: CACHE_KIND, containerId: r.containerId, config: '', ifName: r.ifname, networkName: r.network };
        const pod = { namespace: r.namespace, name: r.pod, uid: r.uid };
        const c = judged.get(r);
        if (c?.state === 'sandbox gone') return { entry, intentOnly: c.intentOnly, netns: '', why: `${WHY['sandbox gone']!} (node ${node})`, c: { ...c, entry, pod } };
        if (c?.state === 'detach stopped') return { entry, intentOnly: false, netns: still?.netnsPath ?? '', why: `${WHY['detach stopped']!} (node ${node})`, c: { ...c, entry, pod } };
        if (c) return { entry, intentOnly: true, netns: still?.netnsPath ?? '', why: `${WHY.interrupted!} (node ${node})`, c: { ...c, entry, pod } };
        const why = still ? `the pod is gone (node ${node}), its sandbox still runs there: DEL in its namespace, the interface goes too` : `the pod is gone (node ${node})`;
        return { entry, intentOnly: false, netns: still?.netnsPath ?? '', why, c: { entry, intentOnly: false, state: 'pod gone', pod } };
      };
      // this node's unfinished attaches of live pods (their records): not alive; freed if their node holds them
      // interrupted, else as reconcileNode finds them
      const pending = unfinished.filter((r) => r.node === node);
      const forget: AttachmentRecord[] = recs.filter((r) => locallyFreed.has(`${r.containerId}/${r.ifname}`));
      // the records this node's pass forgets that are not of an attachment it frees (a freed one's record goes with it,
      // said by its `freed` line), each with why: said (PassOutcome.forgotten) once their removal landed, with --dry-run
      // as they would be — before, a gone pod's record its node held nothing of went without a word (tryout 9, F1)
      const said: { record: AttachmentRecord; why: string }[] = [];
      const forgetting = (r: AttachmentRecord, why: string) => {
        said.push({ record: r, why });
        if (!flags.dryRun) forget.push(r);
      };
      // an attachment freed here (with --dry-run: to free) whose entry said its attach records it in another agent
      // namespace than this gc's: its record there is what says it is attached (forgetForeignRecords removes it)
      const foreignOf = (r: AttachmentRecord, recordedIn: string | undefined) => {
        if (recordedIn !== undefined && recordedIn !== ns) out.foreign.push({ record: { ...r, key: undefined }, recordedIn });
      };
      // this host's attachments that its cache holds were judged by the local pass, which had the runtimes' sandboxes:
      // one it kept (refused: its sandbox may still run) is not freed here behind its back
      const todo = recs.filter((r) => !locallyFreed.has(`${r.containerId}/${r.ifname}`) && !(node === deps.hostname() && here.has(`${r.containerId}/${r.ifname}`)));
      let exec: Executor | undefined;
      let reachedBy: PodRuntime | undefined;
      try {
        ({ exec, reachedBy } = await reachNode(flags.runtime, deps.hostname(), runtimes, node, localExec, todo.length > 0 || pending.length > 0 || asked.includes(node)));
      } catch (e) {
        for (const r of todo) out.failed.push({ stale: stale(r), error: e });
        for (const r of pending) out.failed.push({ stale: { ...stale(r), intentOnly: !r.detachStopped, why: `${WHY[r.detachStopped ? 'detach stopped' : 'interrupted']!} (node ${node})` }, error: e });
        if (todo.length === 0 && pending.length === 0) out.unreached.push({ node, error: e });
        out.elsewhere.push(...(await keptElsewhere(flags, goneElsewhere.filter((r) => r.node === node), whyElsewhere, node, undefined)));
        return;
      }
      out.elsewhere.push(...(await keptElsewhere(flags, goneElsewhere.filter((r) => r.node === node), whyElsewhere, node, exec)));
      const { ctx, cache } = exec ? prepareEngine(flags, exec, deps) : { ctx: undefined, cache: undefined };
      // the plugins where the attach found them (its --cni-path, kept in the record), unless gc was given its own: then
      // they run only once that node trusts the path (a record is not the user's word: cli/context.ts cniPathFrom). What
      // each will read, the trust facts too, rides on the node's first round trip.
      const ownOf = (r: AttachmentRecord): GcFlags =>
        !flags.cniPath && r.cniPath
          ? { ...flags, cniPath: r.cniPath, cniPathFrom: { record: records.recordOrigin(r, ns), retry: detachCommandLine({ namespace: r.namespace, name: r.pod }, r.ifname, { ...flags, cniPath: r.cniPath }) } }
          : flags;
      const engines = new Map<AttachmentRecord, ChainContext>();
      const ctxOf = (r: AttachmentRecord): ChainContext => {
        const own = ownOf(r);
        if (own === flags) return ctx!;
        if (!engines.has(r)) engines.set(r, prepareEngine(own, exec!, deps).ctx);
        return engines.get(r)!;
      };
      if (ctx && cache) for (const r of todo) engine.readAhead(ctxOf(r), cache, r.ifname);
      const { runningSandboxOf } = await load.pods();
      // what the node holds of a write-ahead record (its sandbox not known when it was written): by the pod's uid; and
      // the lock its attach takes in the pod's sandbox (held before its intent is recorded)
      const heldOf = (r: AttachmentRecord) => heldOfRecord(cache!, r);
      const attemptLock = (r: AttachmentRecord): Promise<Busy | undefined> => sandboxLockOf(r, node, cache!, reachedBy, exec!);
      // a node reached by commands (this host's cache was read and reconciled by the local pass)
      const unrecorded = new Set<AttachmentRecord>();
      let nodeRead = false;
      if (exec && exec !== localExec) {
        try {
          const v = await reconcileNode(flags, deps, api, node, exec, cache!, pods, all, recordsNow, reachedBy);
          for (const r of v.gone) (todo.push(r), unrecorded.add(r));
          for (const [r, c] of [...v.interrupted, ...v.sandboxGone, ...v.detachStopped]) (todo.push(r), unrecorded.add(r), judged.set(r, c));
          // a live pod's record whose attachment's sandbox is gone (or whose DEL was stopped) was counted alive (by the record): it is not
          for (const [r] of [...v.sandboxGone, ...v.detachStopped]) out.alive -= all.filter((x) => x.node === node && !x.attaching && !x.interrupted && x.containerId === r.containerId && x.ifname === r.ifname).length;
          out.unchecked.push(...v.unchecked);
          out.busy.push(...v.attaching);
          out.kept.push(...v.kept);
          out.records.added.push(...v.changes.added);
          out.records.removed.push(...v.changes.removed);
          out.records.notCopied.push(...v.changes.notCopied);
          out.alive += v.changes.unrecorded - v.changes.unheld - v.interfaceGone.length;
          out.interfaceGone.push(...v.interfaceGone);
          out.mismatched.push(...v.mismatched.filter((m) => !out.mismatched.some((x) => x.key === m.key && x.node === m.node)));
          nodeRead = true;
          nodesRead.add(node);
        } catch (e) {
          out.unreached.push({ node, error: e });
        }
      }
      // the write-ahead records of this node's live pods that what it holds did not settle: an intent (interrupted, or
      // busy) or a result (an attach that finished but could not settle its record) is judged above. Nothing held at all
      // (no intent, no result, no lock in the pod's sandbox): forgotten once its command, of this host, is gone — else it
      // brought gc back to this node at every run; one whose command may still run (another host's, where only that host
      // can tell; or this host's, running) is kept and said, as its attach may not have reached the node yet
      if (nodeRead) {
        for (const r of pending.filter((x) => x.attaching)) {
          try {
            // one judgement with cni-list --node (node-judge.ts writeAheadOnNode)
            const v = await writeAheadOnNode(r, cache!, () => attemptLock(r));
            // its attach finished there and never settled its record: the record it would have written replaces it
            // (an intent is judged above, by reconcileNode; a lock held is a command working on it: left as it is)
            // a settled record already names that attachment (its containerId and ifname, of this pod): this write-ahead
            // is another attach's of the same interface — one that found it attached, or one of another host — and is
            // not the attachment's: settling it counted the attachment twice and rewrote its `since` (an outside
            // tester saw "2 alive" for one interface). Forgotten once its command is gone (or past its bound); kept while
            // it may run (its own settle removes it)
            const recorded = v.state === 'finished' ? all.find((x) => !x.attaching && !x.interrupted && x.node === node && x.uid === r.uid && x.ifname === r.ifname && x.containerId === v.held.entry.containerId) : undefined;
            // likewise an attachment whose entry says its attach records it in another agent namespace: this write-ahead
            // is an attach's that found it there (attached already), and settling it would copy that record here
            const theirs = v.state === 'finished' ? recordsNamespaceOf(v.held.entry) : undefined;
            const foreign = theirs !== undefined && theirs !== ns ? theirs : undefined;
            if (recorded || foreign !== undefined) {
              const command = await records.recordedCommand(r);
              const who = attachBegun(r);
              const same = recorded
                ? `${r.ifname} is attached there and recorded by the attach of ${recorded.since} (the same sandbox): this write-ahead is another attach's of it`
                : `${r.ifname} is attached there by an attach that records it in namespace ${foreign} (its entry on the node says so): this write-ahead is another attach's of it, whose settle would copy that record into ${ns}`;
              // an attachment the settled record does not count here (its record is in its own namespace): alive
              if (!recorded) out.alive++;
              if (command === 'gone' || command === 'past') {
                forgetting(r, `${who} ${commandGone(r, command)}, and ${same}`);
              } else if (command === undefined) out.kept.push({ record: r, why: `${same}, and ${who} may still be running: only on ${r.by ? `host ${r.by.host}` : 'the host that ran it'} can that be told${r.until ? `; elsewhere after ${r.until}, its time bound` : ''}` });
              continue;
            }
            if (v.state === 'finished') {
              const held = v.held;
              // settling it is its attach's own work while that command runs (between its unlock on the node and its
              // settle): this host's, seen running, is left to it, as busy (an outside tester saw gc "settle" the
              // records of a running cni-attach -l). Then the records as listed after that look (recordsNow) say
              // whether it was settled meanwhile: read in this order — the node, the command, the records — a
              // write-ahead still there once its command was seen gone is one that nobody settles any more
              const command = await records.recordedCommand(r);
              if (command === 'running') {
                if (!out.busy.some((l) => l.stale.c.pod?.uid === r.uid && l.stale.entry.ifName === r.ifname)) out.busy.push({ stale: attemptStale(r, CACHE_KIND), holder: r.by!, where: '' });
                continue;
              }
              const now = await recordsNow();
              if (!now.some((x) => x.key === r.key)) {
                // settled (or removed) by its attach since gc listed the records: as it stands now
                if (now.some((x) => !x.attaching && !x.interrupted && x.node === node && x.uid === r.uid && x.ifname === r.ifname && x.containerId === held.entry.containerId)) out.alive++;
                continue;
              }
              const at = { namespace: r.namespace, pod: r.pod, uid: r.uid, node, ifname: r.ifname, network: r.network, containerId: held.entry.containerId, ...(r.cniPath ? { cniPath: r.cniPath } : {}), ...(r.cacheDir ? { cacheDir: r.cacheDir } : {}), ...(r.noAnnotate ? { noAnnotate: true } : {}) };
              const record = records.attachmentRecord(at, { result: held.entry.result });
              // and the bookkeeping that attach does before it: its event and the pod's network-status entry
              const networkStatus = await finishAttachBookkeeping(flags, deps, api, r, held.entry.result!, pods);
              if (!flags.dryRun) await records.addRecord(api, ns, record, r.key);
              out.settled.push({ record, ahead: r, ...(networkStatus ? { networkStatus } : {}) });
              out.alive++;
            }
            if (v.state !== 'nothing' && (v.state !== 'busy' || v.held)) continue;
            if (v.state === 'busy') {
              if (!out.busy.some((l) => l.stale.c.pod?.uid === r.uid && l.stale.entry.ifName === r.ifname)) out.busy.push({ stale: attemptStale(r, CACHE_KIND), holder: v.busy, where: cache!.named('') });
              continue;
            }
            const command = await records.recordedCommand(r);
            const who = attachBegun(r);
            if (command === 'gone' || command === 'past') {
              forgetting(r, `${who} ${commandGone(r, command)}, and node ${node} holds nothing of it (no intent, no result, no lock)`);
            } else if (command === 'running') out.busy.push({ stale: attemptStale(r, CACHE_KIND), holder: r.by!, where: '' });
            else out.kept.push({ record: r, why: `node ${node} holds nothing of it yet, and ${who} may still be running: only on ${r.by ? `host ${r.by.host}` : 'the host that ran it'} can that be told, where \`${gcCommandLine(flags)}\` forgets it once its command is gone${r.until ? `; elsewhere after ${r.until}, its time bound` : ''}` });
          } catch (e) {
            out.unreached.push({ node, error: e });
          }
        }
      }
      for (let r of todo) {
        let s = stale(r);
        // the pod whose attachment this is, by the node's own entry (its CNI_ARGS), not by the record: whether it is gone
        // and where its sandbox is are judged by it (a record anyone who may write ConfigMaps can edit)
        let pod: EntryPod = { namespace: r.namespace, name: r.pod, uid: r.uid };
        try {
          if (r.containerId && !unrecorded.has(r)) {
            const v = records.recordAgainstNode(r, await cache!.find(r.containerId, r.ifname), node);
            if ('mismatch' in v) {
              if (!out.mismatched.some((m) => m.record.key === r.key && m.record.node === r.node)) out.mismatched.push({ record: r, node, why: v.mismatch, configMap: records.recordName(r.node), key: r.key ?? records.recordKey(r.containerId, r.ifname) });
              // the record called it gone, so it was not counted alive; what the node holds is a live pod's: it is
              // (a gone pod's is freed through the node's entry: reconcileNode)
              if (v.held && !records.entryPodGone(v.held, live)) out.alive++;
              continue;
            }
            if ('unreadable' in v) {
              out.failed.push({ stale: s, error: `what node ${node} holds of it cannot be read (${v.unreadable}): nothing is judged by its record alone; \`${waysOut({ namespace: r.namespace, name: r.pod }, r.ifname, ownOf(r)).force}\` forgets it there` });
              continue;
            }
            if ('unheld' in v) {
              // a record of nothing: it goes (nothing to DEL), said (its DEL ran already: a detach with another
              // --agent-namespace, a cni-gc quit after its DEL; or the node's entry was removed by other means)
              forgetting(r, `its pod is gone, and node ${node} holds nothing of it (no result, no intent): nothing left to free there`);
              continue;
            }
            pod = v.pod;
            // the record called its pod gone; the node's entry may not (one without a uid: the pod of that name lives)
            if (!records.entryPodGone(pod, live)) {
              out.alive++;
              continue;
            }
          }
          if (!r.containerId) {
            // a write-ahead record begun before the sandbox look-up (an attach killed since, or still running): what its
            // node holds for it is found by the pod's uid; nothing there, and the record just goes — unless its attach
            // holds the lock in the pod's sandbox, still running there, before recording its intent: then it stays
            const held = await heldOf(r);
            if (!held) {
              const busy = await attemptLock(r);
              if (busy) out.busy.push({ stale: s, holder: busy, where: cache!.named('') });
              else forgetting(r, `its pod is gone, and node ${node} holds nothing of ${attachBegun(r).replace(/,$/, '')} (no intent, no result, no lock): nothing left to free there`);
              continue;
            }
            r = { ...r, containerId: held.entry.containerId };
            s = stale(r);
          }
          // the Pod object is gone, but its sandbox may still run (a pod deleted with --force while its kubelet is down
          // or behind): then DEL runs in its network namespace, so the interface goes with its lease — a DEL without it
          // would free the lease of an address still in use there. Looked up by the pod's uid on its node, as attach does.
          // (a live pod's attachment judged stale because its sandbox is gone was looked up already: reconcileNode)
          const still = reachedBy && judged.get(r)?.state !== 'sandbox gone' ? await runningSandboxOf([reachedBy], { namespace: pod.namespace, name: pod.name, uid: pod.uid ?? '', node }, r.containerId, exec!) : undefined;
          if (still) s = stale(r, still);
          // its records in this namespace: the one judged (not an entry reconcileNode found unrecorded), and for an
          // interrupted attach (or a gone sandbox) the records under its key (an attach's write-ahead, if never settled:
          // forgetFreedAttempts) — they go with it
          const its = [...(unrecorded.has(r) ? [] : [r]), ...(judged.has(r) ? mine.filter((x) => x.node === node && !x.attaching && x.containerId === r.containerId && x.ifname === r.ifname) : [])];
          const goneMeanwhile = `node ${node} holds nothing of it any more (removed there since this gc read it): nothing left to free there`;
          if (flags.dryRun) {
            // what the run would refuse, it says (the DEL below checks the same first)
            await (await import('../cni/chain.js')).checkPathTrusted(ctxOf(r));
            const held = (await cache!.find(r.containerId, r.ifname)).find((f) => f.entry.networkName === r.network);
            if (!held) {
              for (const x of its) forgetting(x, goneMeanwhile);
              continue;
            }
            // as the real run would find it: a lock held now is a command working on it
            const busy = await cache!.direct().lockHeld(r.containerId, r.ifname);
            if (busy) out.busy.push({ stale: s, holder: busy, where: cache!.named('') });
            else (out.freed.push(s), foreignOf(r, held.unreadable ? undefined : recordsNamespaceOf(held.entry)));
            continue;
          }
          const own = ownOf(r);
          progress?.began(s, node);
          let done: Awaited<ReturnType<typeof engine.detach>> = [];
          try {
            done = await engine.detach(ctxOf(r), cache!, {
              containerId: r.containerId, ifname: r.ifname, match: (e) => e.networkName === r.network, netns: s.netns, describe: `pod ${r.namespace}/${r.pod} on node ${node}`,
              // a DEL that fails names the commands that retry and forget it, as on this host (cni-detach finds a gone
              // pod's node through its record)
              ways: waysOut({ namespace: r.namespace, name: r.pod }, r.ifname, own),
              by: 'cni-gc',
            });
          } finally {
            progress?.ended(s, done.length > 0);
          }
          if (done.length > 0) {
            out.freed.push(s);
            forget.push(...its);
            foreignOf(r, done[0]!.recordedIn);
          } else for (const x of its) forgetting(x, goneMeanwhile);
        } catch (e) {
          // an attach still running there (the pod deleted during it), or a detach of it: left, with its record, for a
          // later gc (that attach settles its record itself; one killed leaves it to be freed then)
          if (e instanceof BusyError) out.busy.push(leftBy(s, e, cache!.named('')));
          else out.failed.push({ stale: s, error: e });
        }
      }
      if (flags.dryRun) out.forgotten.push(...said);
      else if (forget.length > 0) {
        try {
          await records.removeRecords(api, ns, node, forget);
          out.forgotten.push(...said);
          progress?.recordsGone(node);
        } catch (e) {
          deps.io.err(`note: the records of node ${node} could not be updated: ${describeError(e)}\n`);
        }
      }
    }));
  } finally {
    endNotes();
  }
  unreadOf();
  return out;
}

/**
 * The summary's words for the live pods' attachments recorded on nodes gc did not read (PassOutcome.unread): not
 * "alive" — only their pods' existence was asked (README "cni-gc": other nodes are judged by the API alone) — but
 * kept, with the nodes and the --node that reads them: ", 58 kept (their pods exist; nodes not read: node-a, node-b:
 * --node reads them)"; '' when none.
 */
function keptUnreadWords(unread: PassOutcome['unread']): string {
  if (unread.count === 0) return '';
  return `, ${unread.count} kept (their pods exist; node${unread.nodes.length === 1 ? '' : 's'} not read: ${someNames(unread.nodes)}: --node reads ${unread.nodes.length === 1 ? 'it' : 'them'})`;
}

/** A write-ahead record's attach, for gc's notes: "its attach (pid 123 on host laptop-2), begun at 2026-12-01T21:00:00Z,". */
function attachBegun(r: Pick<AttachmentRecord, 'by' | 'since'>): string {
  return `its attach${r.by ? commandInParens(r.by, thisHost.host) : ''}, begun at ${r.since},`;
}

/** Why a write-ahead record's command will settle nothing any more (recordedCommand 'gone' or 'past'): "is gone", "is past its time bound (T, which it recorded)". */
function commandGone(r: Pick<AttachmentRecord, 'until'>, command: 'gone' | 'past'): string {
  return command === 'gone' ? 'is gone' : `is past its time bound (${r.until}, which it recorded)`;
}

/** What a settle did with the pod's network-status: written (to write, with --dry-run), or the write's error. */
type NetworkStatusDone = 'written' | 'to write' | { error: string };

/**
 * For a write-ahead record that cni-gc settles (its attach finished on the node, its command went before the end): the
 * bookkeeping that attach does before it settles its record (cli/attach.ts annotate) — the pod's added-interface event
 * and its k8s.v1.cni.cncf.io/network-status entry (named AttachmentRecord.status, else the network, from the result the
 * node holds), through updatePodAnnotation as attach writes it — when the live pod's (`pods`, same uid) network-status
 * does not name the interface yet (an attach killed before it wrote it) and --no-annotate was given neither to this
 * gc nor to that attach (its record's noAnnotate). (An attach whose command still runs here is not settled by gc at
 * all: that command writes both itself.) undefined: nothing to write. --dry-run: 'to write', nothing written. A write that fails is returned (the record is settled all
 * the same: the attachment stands; the same cni-attach writes it, as cni-list says).
 */
async function finishAttachBookkeeping(flags: GcFlags, deps: Deps, api: KubeApi, r: AttachmentRecord, result: unknown, pods: Pod[]): Promise<NetworkStatusDone | undefined> {
  const pod = pods.find((p) => p.metadata?.namespace === r.namespace && p.metadata?.name === r.pod && p.metadata?.uid === r.uid);
  if (!pod || flags.annotate === false || r.noAnnotate) return undefined;
  const ns = await load.networkStatus();
  if (ns.namesInterface(pod.metadata?.annotations?.[ns.NETWORK_STATUS], r.ifname)) return undefined;
  if (flags.dryRun) return 'to write';
  const name = r.status ?? r.network;
  const res = result as import('../cni/result.js').JsonObject;
  try {
    const events = await load.events();
    await events.recordPodEvent(api, pod, events.addedInterfaceEvent(r.ifname, name, res), deps.hostname(), (line) => deps.io.err(`note: ${line}\n`));
    await api.updatePodAnnotation(r.namespace, r.pod, ns.NETWORK_STATUS, (cur) => ns.addEntry(cur, ns.entryFromResult(name, r.ifname, res)), pod);
    return 'written';
  } catch (e) {
    return { error: describeError(e) };
  }
}

/** A settle's network-status write, in its output line's words. */
function statusSaid(st: NetworkStatusDone | undefined): string {
  if (st === 'written') return "; the pod's network-status entry its attach had not written: written (with its event)";
  if (st === 'to write') return "; the pod's network-status does not name it: would write its entry (and event), as the attach would have";
  return st ? "; the pod's network-status entry its attach had not written could not be written (see the note)" : '';
}

/**
 * A write-ahead record (attaching: its sandbox not known when written) as the attachment gc leaves alone: its entry as
 * the record names it (no container id, no config), its pod the record's. `kind`: cni/cache.ts CACHE_KIND.
 */
function attemptStale(r: AttachmentRecord, kind: CacheEntry['kind']): Freed {
  const entry: CacheEntry = { kind, containerId: r.containerId, config: '', ifName: r.ifname, networkName: r.network };
  return { entry, intentOnly: true, netns: '', why: 'an attach of it has not finished', c: { entry, intentOnly: true, state: 'attaching', pod: { namespace: r.namespace, name: r.pod, uid: r.uid } } };
}

/**
 * The records of `node` (`recs`) gc would act on that name another cache dir than gc read, as Elsewhere (`why` says
 * what it would do with each): each dir checked once on the node (`exec`; undefined: it could not be reached) by
 * exec/trust.ts's rule before a cni-gc giving it is offered. The default dir is offered unchecked: that command gives
 * no --cache-dir, nothing of the record's.
 */
async function keptElsewhere(flags: GcFlags, recs: AttachmentRecord[], why: (r: AttachmentRecord) => string, node: string, exec: Executor | undefined): Promise<Elsewhere[]> {
  const [{ recordCacheDir, DEFAULT_CACHE_DIR }, { cacheDirsOf }] = await Promise.all([import('../resolve/records.js'), import('../cni/cache.js')]);
  const checked = new Map<string, Promise<string | undefined>>();
  const check = (dir: string): Promise<string | undefined> => {
    if (dir === DEFAULT_CACHE_DIR) return Promise.resolve(undefined);
    if (!exec) return Promise.resolve(`node ${node} could not be reached to check it`);
    if (!checked.has(dir)) checked.set(dir, exec.untrustedPluginDirs(cacheDirsOf(dir)).then((why) => (why ? `${why} on node ${node}` : undefined), (e: unknown) => `it could not be checked on node ${node} (${(e as Error).message})`));
    return checked.get(dir)!;
  };
  return Promise.all(recs.map(async (record) => {
    const cacheDir = recordCacheDir(record);
    const untrusted = await check(cacheDir);
    return untrusted ? { record, why: why(record), cacheDir, untrusted } : { record, why: why(record), cacheDir, command: gcCommandLine({ ...flags, cacheDir }) };
  }));
}

/**
 * The kept records of another cache dir in gc's notes (Elsewhere): one note per cache dir and what frees its records
 * (the cni-gc giving it, or why none is offered) — what each is, where it says it is, and what frees it; several in one
 * note, by what gc would do with them, NAMED_AT_MOST named each (output.ts someNames; -o json lists every one): an
 * outside tester's 15 such records would have been 15 notes.
 */
function describeElsewhere(flags: GcFlags, kept: Elsewhere[]): string[] {
  const groups = new Map<string, Elsewhere[]>();
  for (const e of kept) {
    const k = `${e.cacheDir}\0${e.command ?? ''}\0${e.untrusted ?? ''}`;
    groups.set(k, [...(groups.get(k) ?? []), e]);
  }
  return [...groups.values()].map((g) => {
    const [e] = g as [Elsewhere];
    const frees = e.command ? `\`${e.command}\` frees ${g.length === 1 ? 'it' : 'them'}` : `no cni-gc for ${g.length === 1 ? 'it' : 'them'} is offered: a record is not your word, and ${e.untrusted}`;
    if (g.length === 1) return `kept the record of ${describeRecord(e.record)}: ${e.why}, but it names cache dir ${shellQuote(e.cacheDir)}, not ${shellQuote(flags.cacheDir)} (read by this gc), where its node keeps it; ${frees}`;
    const whys = new Map<string, Elsewhere[]>();
    for (const x of g) whys.set(x.why, [...(whys.get(x.why) ?? []), x]);
    const each = [...whys].map(([why, xs]) => `${xs.length} where ${why.replace(/^its /, 'the ')} (${someNames(xs.map((x) => `${x.record.namespace}/${x.record.pod} ${x.record.ifname}`))})`).join(', ');
    return `kept ${g.length} records that name cache dir ${shellQuote(e.cacheDir)}, not ${shellQuote(flags.cacheDir)} (read by this gc), where their nodes keep them: ${each}; ${frees}`;
  });
}

/**
 * The write-ahead records (attaching) of the unfinished attaches this gc freed, here or on their node (an intent of a
 * pod's ifname, DELed under its lock, so that attach no longer runs): removed, and returned (with --dry-run: returned
 * only). A failure is a note: records are an index.
 */
async function forgetFreedAttempts(flags: GcFlags, deps: Deps, api: KubeApi, freed: (Stale & { c: Classified })[], all: AttachmentRecord[]): Promise<AttachmentRecord[]> {
  const records = await import('../resolve/records.js');
  const done = new Set(freed.filter((s) => s.intentOnly && s.c.pod?.uid).map((s) => `${s.c.pod!.uid}\0${s.entry.ifName}`));
  // an attempt recorded with another cache dir is another attach, whose intent is there (not the one freed here)
  const stale = all.filter((r) => r.attaching && r.key && records.recordedIn(r, flags.cacheDir) && done.has(`${r.uid}\0${r.ifname}`));
  if (flags.dryRun || stale.length === 0) return stale;
  const out: AttachmentRecord[] = [];
  for (const [node, mine] of records.recordsByNode(stale)) {
    try {
      await records.removeRecordKeys(api, flags.agentNamespace ?? 'kube-system', node, mine.map((r) => r.key!));
      out.push(...mine);
    } catch (e) {
      deps.io.err(`note: the records of node ${node} could not be updated: ${describeError(e)}\n`);
    }
  }
  return out;
}

/**
 * The records, in another agent namespace than this gc's, of the attachments it freed (with --dry-run: would free)
 * whose entry on their node said their attach records them there (`foreign`: PassOutcome.foreign, and this host's
 * alike): left, such a record says `attached` (or `pod gone`, `interrupted`) of an attachment that is no more — before,
 * a gc of namespace A freed a gone pod's attachment its attach had recorded in B, and B's record stayed until a gc of
 * B forgot it without a word (tryout 9, F1). Removed with one merge patch per namespace and node (resolve/records.ts
 * removeRecords: the attachment's key, `<sandbox id>.<hex of the ifname>`; a write-ahead of that namespace, under its
 * attempt's own key, is left to that namespace's gc, which forgets it once its node holds nothing of it). Returns
 * those removed (--dry-run: all, as to remove), with why and their namespace; a node with no ConfigMap in that
 * namespace holds no record there: none. A patch refused (403: this user may not patch configmaps there) or failing is
 * a note with the exact `kubectl patch` that removes them (cli/output.ts removeKeysCommandLine, as cni-detach's note
 * names it), nothing more: records are an index, and gc's outcome does not depend on them.
 */
async function forgetForeignRecords(flags: GcFlags, deps: Deps, api: KubeApi, foreign: { record: AttachmentRecord; recordedIn: string }[]): Promise<{ record: AttachmentRecord; recordedIn: string; why: string }[]> {
  const records = await import('../resolve/records.js');
  const ns = flags.agentNamespace ?? 'kube-system';
  const groups = new Map<string, { recordedIn: string; node: string; recs: AttachmentRecord[] }>();
  for (const f of foreign) {
    const g = groups.get(`${f.recordedIn}\0${f.record.node}`) ?? { recordedIn: f.recordedIn, node: f.record.node, recs: [] };
    if (!g.recs.some((r) => r.containerId === f.record.containerId && r.ifname === f.record.ifname)) g.recs.push(f.record);
    groups.set(`${f.recordedIn}\0${f.record.node}`, g);
  }
  const out: { record: AttachmentRecord; recordedIn: string; why: string }[] = [];
  for (const { recordedIn, node, recs } of groups.values()) {
    const why = `${flags.dryRun ? 'this gc would free it' : 'freed by this gc'}: its entry on the node said its attach records it in namespace ${recordedIn} (not ${ns}, this gc's --agent-namespace); left there, it would name an attachment that is gone`;
    try {
      if (!flags.dryRun && !(await records.removeRecords(api, recordedIn, node, recs))) continue;
      out.push(...recs.map((record) => ({ record, recordedIn, why })));
    } catch (e) {
      const one = recs.length === 1;
      const what = one ? describeRecord(recs[0]!) : `${recs.length} attachments on node ${node} (${someNames(recs.map((r) => `${r.namespace}/${r.pod} ${r.ifname}`))})`;
      const rbac = e instanceof ApiStatusError && e.status === 403 ? `; this user may not patch configmaps in namespace ${recordedIn}` : '';
      const patch = removeKeysCommandLine(flags, recordedIn, records.recordName(node), recs.map((r) => JSON.stringify(records.recordKey(r.containerId, r.ifname))));
      deps.io.err(`note: the record${one ? '' : 's'} of ${what} in namespace ${recordedIn}, where ${one ? 'its attach recorded it' : 'their attaches recorded them'} (${one ? 'its entry' : 'their entries'} on the node said so), could not be removed (${describeError(e)}${rbac}): ${one ? 'it stays' : 'they stay'} there, naming what this gc freed; \`${patch}\` removes ${one ? 'it' : 'them'} and nothing else\n`);
    }
  }
  return out;
}

/**
 * The record of a cache entry of a pod (resolve/records.ts attachmentRecord, as attach writes it) on `node`: a
 * result as attached, an intent alone as interrupted; naming the cache dir gc read (`flags.cacheDir`, when not the
 * default: delPathsOf), where the entry is, so that a gc of another dir does not forget it.
 */
async function recordOfEntry(flags: GcFlags, c: Classified, node: string): Promise<AttachmentRecord> {
  const { attachmentRecord, delPathsOf } = await import('../resolve/records.js');
  const pod = c.livePod ? { namespace: c.livePod.metadata!.namespace!, name: c.livePod.metadata!.name!, uid: c.livePod.metadata!.uid ?? '' } : { ...c.pod!, uid: c.pod!.uid ?? '' };
  return attachmentRecord(
    { namespace: pod.namespace, pod: pod.name, uid: pod.uid, node, ifname: c.entry.ifName, network: c.entry.networkName, containerId: c.entry.containerId, ...delPathsOf({ cacheDir: flags.cacheDir }) },
    c.intentOnly ? { interrupted: true } : { result: c.entry.result },
  );
}

/** The states of a live pod's attachment that its node holds as attached (or half attached): recorded when unrecorded. */
const HELD: State[] = ['attached', 'interrupted', 'interface gone', 'detach stopped'];

/**
 * Make `node`'s records say what its cache holds (resolve/records.ts reconcileRecords): an attachment of a live pod
 * without a record gets one in --agent-namespace when its entry says its attach records it there (or says nothing and
 * --record-legacy was given), else it is returned not copied (notCopied, said in a note: its record is in the
 * namespace its entry names, or, for an earlier version's entry, maybe in any); a record of a live pod whose
 * attachment the cache holds nothing of goes (`heldNow`: asked
 * of each such record, where the cache was read before the records were listed). With --dry-run
 * nothing is written, and what would be is returned. Records are an index: one that cannot be written is a note
 * (and not counted), never a failure of gc.
 *
 * The cache and the records are read at different moments, while other commands may be writing both, in this order:
 * an attach writes its write-ahead record before its intent on the node, and replaces it by the attachment's record
 * (one patch) after its result; a detach removes the node's entry before the record. So an entry the cache held is a
 * command's of ours that no record names only if no read of the records between that command's record write and its
 * removal saw it — and a read on each side of the cache's read closes that gap: `all` read before the cache and
 * `after` (a list sent after it: resolve/records.ts recordsReadAfter, asked only when `all` leaves something to add or
 * remove) on a node reached by commands; on this host, whose cache is read first, `heldNow` (the cache read again
 * after `all`). An entry is recorded only when neither read names it (and, here, it is still held after `all`): an
 * outside tester saw gc "record … attached there without a record" the pods a running cni-attach -l was attaching. A
 * record goes only when both reads hold it, the same (its key and since), and the cache held nothing (here: still holds
 * nothing after it): a record written after the cache was read is an attach's whose entry came after that read; one
 * gone by the second read was removed by its detach. What no order can tell: a record whose detach removed the node's
 * entry before the cache was read and removes the record after the second read — that detach, between its two steps,
 * looks like one killed there, and gc forgets the record as that detach would.
 */
async function reconcileRecords(
  flags: GcFlags,
  deps: Deps,
  api: KubeApi,
  node: string,
  classified: Classified[],
  all: AttachmentRecord[],
  pods: Pod[],
  homeOf: (c: Classified) => string,
  heldNow?: (r: AttachmentRecord) => Promise<boolean>,
  after?: () => Promise<AttachmentRecord[]>,
  cache?: ResultCache,
): Promise<RecordChanges> {
  const records = await import('../resolve/records.js');
  const ns = flags.agentNamespace ?? 'kube-system';
  const live = new Map(pods.map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, { uid: p.metadata?.uid }]));
  const { recordsNamespaceOf } = await import('../cni/cache.js');
  const held = await Promise.all(classified.map(async (c) => ({
    containerId: c.entry.containerId,
    ifname: c.entry.ifName,
    ...(c.livePod && HELD.includes(c.state) ? { record: await recordOfEntry(flags, c, homeOf(c)) } : {}),
    // the agent namespace its attach records it in, as its entry says (none: an earlier version's entry)
    ...(recordsNamespaceOf(c.entry) ? { recordedIn: recordsNamespaceOf(c.entry)! } : {}),
  })));
  const podGone = (r: AttachmentRecord) => records.recordedPodGone(r, live);
  const want = records.reconcileRecords(node, held, all, podGone, flags.cacheDir, ns, !!flags.recordLegacy);
  // what is counted against or for "alive" (the records of `all` were counted): a record of nothing held, removed here
  // or by its detach meanwhile; an entry held without a record, recorded here or settled by its attach meanwhile
  let unheld = want.remove;
  let settledSince: AttachmentRecord[] = [];
  // the records as listed after the cache was read (see above): only what both reads call unrecorded, or unheld
  if (after && (want.add.length > 0 || want.remove.length > 0 || want.notCopied.length > 0)) {
    const now = await after();
    const again = records.reconcileRecords(node, held, now, podGone, flags.cacheDir, ns, !!flags.recordLegacy);
    const sameKey = (a: AttachmentRecord) => (b: AttachmentRecord) => a.containerId === b.containerId && a.ifname === b.ifname;
    // (an entry not copied here is unrecorded in this namespace as much as one to add: a record of it listed since is
    // its attach's, written meanwhile)
    const unrecordedAgain = [...again.add, ...again.notCopied.map((n) => n.record)];
    settledSince = [...want.add, ...want.notCopied.map((n) => n.record)].filter((r) => !unrecordedAgain.some(sameKey(r)) && now.some((x) => !x.attaching && !x.interrupted && sameKey(r)(x)));
    want.add = want.add.filter((r) => again.add.some(sameKey(r)));
    want.notCopied = want.notCopied.filter((n) => again.notCopied.some((x) => sameKey(n.record)(x.record)));
    want.remove = want.remove.filter((r) => again.remove.some((x) => x.key === r.key && x.since === r.since));
  }
  // a cache read before the records were listed: what an attach recorded meanwhile is in the cache now (it records
  // after writing its result), so each record to remove is looked for there again; and what a detach removed meanwhile
  // (its entry, then its record) is not in it any more, so each entry to record is looked for again too
  if (heldNow) {
    unheld = want.remove = (await Promise.all(want.remove.map(async (r) => ((await heldNow(r)) ? undefined : r)))).filter((r) => r !== undefined);
    want.add = (await Promise.all(want.add.map(async (r) => ((await heldNow(r)) ? r : undefined)))).filter((r) => r !== undefined);
    want.notCopied = (await Promise.all(want.notCopied.map(async (n) => ((await heldNow(n.record)) ? n : undefined)))).filter((n) => n !== undefined);
  }
  // counted against "alive" (cli gc's summary): only attachments, not the records of unfinished attaches (those not
  // copied here are attachments all the same, recorded in their own namespace or unknown where)
  const counts = { unrecorded: [...want.add, ...settledSince, ...want.notCopied.map((n) => n.record)].filter((r) => !r.interrupted).length, unheld: unheld.filter((r) => !r.interrupted).length };
  if (flags.dryRun) return { added: want.add, removed: want.remove, notCopied: want.notCopied, ...counts };
  const out: RecordChanges = { added: [], removed: [], notCopied: want.notCopied, ...counts };
  // the entries of an earlier version (naming no namespace) that --record-legacy records here
  const legacy = new Set(held.filter((h) => !h.recordedIn).map((h) => `${h.containerId}/${h.ifname}`));
  for (const r of want.add) {
    try {
      await records.addRecord(api, ns, r);
      out.added.push(r);
    } catch (e) {
      deps.io.err(`note: ${r.ifname} of pod ${r.namespace}/${r.pod} on node ${r.node} could not be recorded in the cluster: ${describeError(e)}\n`);
      continue;
    }
    if (cache && legacy.has(`${r.containerId}/${r.ifname}`)) await stampRecordsNamespace(deps, cache, r, ns);
  }
  if (want.remove.length > 0) {
    try {
      await records.removeRecords(api, ns, node, want.remove);
      out.removed.push(...want.remove);
    } catch (e) {
      deps.io.err(`note: the records of node ${node} could not be updated: ${describeError(e)}\n`);
    }
  }
  return out;
}

/** The time limit of stampRecordsNamespace's lock: one read and one write of a cache file, milliseconds. */
const STAMP_LIMIT_MS = 60_000;

/**
 * After --record-legacy recorded an entry of an earlier version (naming no agent namespace) in `ns`: write `ns` into
 * that entry on its node (CacheEntry.cniAttachRecordsNamespace), under the entry's lock, so that a gc of another
 * namespace then leaves it to this one's instead of offering its own --record-legacy (which made a second record, still
 * saying attached after a detach with `ns`: an outside tester, tryout 10). The entry is read again under the lock and
 * rewritten only while it is the same attachment naming none. A lock held (a command at work on it) or a failure is
 * a note: the record stands, the entry still names none.
 */
async function stampRecordsNamespace(deps: Deps, cache: ResultCache, r: AttachmentRecord, ns: string): Promise<void> {
  const { recordsNamespaceOf } = await import('../cni/cache.js');
  const what = `${r.ifname} of pod ${r.namespace}/${r.pod} on node ${r.node}`;
  const unstamped = `its entry there still names no agent namespace, so a cni-gc of another --agent-namespace would offer to record it there too (do not give it --record-legacy)`;
  try {
    // with a time limit, as an attach's: a gc killed between the lock and its release leaves a lock that other hosts'
    // commands break once it has passed (one without a limit is respected until a cni-detach --force)
    const taken = await cache.lock(r.containerId, r.ifname, STAMP_LIMIT_MS);
    if ('busy' in taken) {
      deps.io.err(`note: ${what} was recorded in namespace ${ns}, but a command holds its lock now: ${unstamped}\n`);
      return;
    }
    try {
      const k = { network: r.network, containerId: r.containerId, ifname: r.ifname };
      const e = await cache.read(k);
      if (e && !recordsNamespaceOf(e)) await cache.write({ ...e, cniAttachRecordsNamespace: ns });
    } finally {
      await taken.lock.release();
      // a node reached by commands queues the write and the release: sent now, before the next node's turn
      await cache.flush();
    }
  } catch (e) {
    deps.io.err(`note: ${what} was recorded in namespace ${ns}, but its entry could not be updated (${describeError(e)}): ${unstamped}\n`);
  }
}

/**
 * A node gc visits through a runtime (recordsPass): its whole cache read, its pods' attachments judged against the
 * cluster's pods (no sandbox look-up: a live pod's attachment stays as it is) and its records reconciled
 * (reconcileRecords). Returns the attachments of gone pods it holds that no record names, as records, for the records
 * pass to free with the recorded ones, the live pods' interrupted attaches it holds (an intent whose lock is free:
 * classify's interrupted), each as a record of its entry (with its own record's --cni-path) and its classification,
 * for the records pass to free (left out of the reconciliation: neither recorded again nor their records taken for
 * records of nothing), the record changes, the live pods' attaches it holds that a command is
 * working on right now (their lock held: attaching), which gc leaves alone, and this node's records that say
 * otherwise than what it holds under their key (resolve/records.ts recordAgainstNode: another pod, uid or network),
 * which are used for nothing — an entry counts as recorded only by a record that says what it says, so such a
 * record hides no gone pod's attachment from being freed through the entry. `all` was listed before the node was read;
 * `recordsNow` lists the records after it (resolve/records.ts recordsReadAfter), asked only when the reconciliation
 * would record or forget something (reconcileRecords: the order of the reads). What was judged from the cache and then
 * the links or a lock is read again on the node after them (classify's World.reread: cni/cache.ts findNow).
 */
async function reconcileNode(
  flags: GcFlags,
  deps: Deps,
  api: KubeApi,
  node: string,
  exec: Executor,
  cache: ResultCache,
  pods: Pod[],
  all: AttachmentRecord[],
  recordsNow: () => Promise<AttachmentRecord[]>,
  rt?: PodRuntime,
): Promise<{ gone: AttachmentRecord[]; interrupted: [AttachmentRecord, Classified][]; sandboxGone: [AttachmentRecord, Classified][]; detachStopped: [AttachmentRecord, Classified][]; unchecked: Classified[]; changes: RecordChanges; attaching: Left[]; mismatched: Mismatched[]; interfaceGone: Classified[]; kept: { record: AttachmentRecord; why: string }[] }> {
  const { classify, podOf } = await load.attachmentState();
  const { recordKey, recordName, recordAgainstNode, recordedIn, recordedCommand, otherHostWithinBound } = await import('../resolve/records.js');
  // the pods' entries (and the unreadable ones, whose records stay); bare namespaces of that node are its own gc's
  const found = (await cache.all()).filter((f) => f.unreadable || podOf(f.entry));
  // the pods were listed before this node was reached (an agent takes seconds to start): a pod made and attached
  // since is not in that list, so each pod the list lacks is asked for again before its attachment is called gone
  const listed = new Map(pods.map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p.metadata?.uid]));
  const fresh: Pod[] = [];
  for (const f of found) {
    const p = f.unreadable ? undefined : podOf(f.entry);
    if (!p || (listed.has(`${p.namespace}/${p.name}`) && (!p.uid || listed.get(`${p.namespace}/${p.name}`) === p.uid))) continue;
    const now = await api.getPod(p.namespace, p.name).catch((e: unknown) => {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    });
    if (now) (fresh.push(now), listed.set(`${p.namespace}/${p.name}`, now.metadata?.uid));
  }
  const world = fresh.length ? [...pods.filter((p) => !fresh.some((q) => q.metadata?.namespace === p.metadata?.namespace && q.metadata?.name === p.metadata?.name)), ...fresh] : pods;
  // an unfinished attach of a live pod whose lock is held is running (attaching), not interrupted: not recorded as such;
  // a live pod's attachment whose sandbox no longer runs here is stale (sandbox gone), one that could not be looked up
  // is not judged (unchecked)
  const lockHeld = (id: string, ifname: string) => cache.direct().lockHeld(id, ifname);
  // (the cni-detach --force its reasons name, with gc's flags: a pod's cni-detach finds its node)
  const forceLine = (of: Parameters<typeof recordDetachLine>[0], ifname: string) => recordDetachLine(of, ifname, flags, true);
  // the cache was read before the links (the sandboxes' look-up) and the locks: what was judged from both is read again
  // after them (classify; a round trip only for such an attachment)
  const reread = (id: string, ifname: string) => cache.findNow(id, ifname);
  const classified = rt ? await judgeOnNode([rt], node, found, world, exec, { lockHeld, forceLine, reread }, exec) : await classify(found, { exec, pods: world, lockHeld, reread, node, forceLine });
  // (the node as the API names it: an entry of a live pod the API places on another node is not this node's: `other
  // node`, left alone and said; one of no uid whose pod of that name runs elsewhere now is an earlier pod's: pod gone)
  for (const c of classified.filter((x) => x.state === 'other node')) {
    deps.io.err(`note: node ${node}'s cache holds ${c.entry.ifName} of pod ${c.pod!.namespace}/${c.pod!.name} (network ${c.entry.networkName}): ${c.reason}; not counted, freed or recorded on node ${node}\n`);
  }
  // the records of each key; an entry counts as recorded only by a record that says what it says (its pod, uid and
  // network: recordAgainstNode): one edited to name another pod hides nothing from being freed through the entry
  // (a record of another cache dir says nothing of what this one holds: recordedIn)
  const mine = all.filter((r) => recordedIn(r, flags.cacheDir));
  const byKey = new Map<string, AttachmentRecord[]>();
  for (const r of mine) if (r.containerId) byKey.set(recordKey(r.containerId, r.ifname), [...(byKey.get(recordKey(r.containerId, r.ifname)) ?? []), r]);
  const mismatched: Mismatched[] = [];
  const recordedAs = (f: Found, ok: (v: ReturnType<typeof recordAgainstNode>) => boolean) => (byKey.get(recordKey(f.entry.containerId, f.entry.ifName)) ?? []).some((r) => ok(recordAgainstNode(r, [f], node)));
  // this node's records that say otherwise than the node (another pod, uid, network): said, and used for nothing
  for (const r of mine.filter((x) => x.node === node && x.containerId)) {
    const v = recordAgainstNode(r, found.filter((f) => !f.unreadable && f.entry.containerId === r.containerId && f.entry.ifName === r.ifname), node);
    if ('mismatch' in v) mismatched.push({ record: r, node, why: v.mismatch, configMap: recordName(r.node), key: r.key ?? recordKey(r.containerId, r.ifname) });
  }
  // an attach's write-ahead record names its pod and ifname before its sandbox: what the node holds of them is its
  // (the records pass frees it through that record, found by the pod's namespace, name and uid)
  const attaching = new Set(all.filter((r) => r.attaching).map((r) => `${r.namespace}/${r.pod}\0${r.uid}\0${r.ifname}`));
  const gone: AttachmentRecord[] = [];
  for (const c of classified) {
    if (c.state !== 'pod gone' || !c.pod || recordedAs(c, (v) => 'pod' in v) || attaching.has(`${c.pod.namespace}/${c.pod.name}\0${c.pod.uid ?? ''}\0${c.entry.ifName}`)) continue;
    gone.push(await recordOfEntry(flags, c, node));
  }
  // a live pod's attach that did not finish (its intent, its lock free: classify's interrupted) is freed by the records
  // pass, as on this host; as a record of its entry, with the --cni-path its attach recorded (its record's, under its
  // key or its write-ahead's), so that its DEL finds the plugins its ADD ran
  const interrupted: [AttachmentRecord, Classified][] = [];
  const kept: { record: AttachmentRecord; why: string }[] = [];
  for (const c of classified) {
    if (c.state !== 'interrupted' || !c.livePod || !c.pod) continue;
    const own = mine.find((r) => r.node === node && (r.attaching ? r.uid === (c.pod!.uid ?? '') && r.ifname === c.entry.ifName : r.containerId === c.entry.containerId && r.ifname === c.entry.ifName));
    // its write-ahead names another host's command within the time bound it recorded: cni-detach answers busy for it
    // (cli/targets.ts refuseIfAttaching), and gc leaves it alike until then (an outside tester saw gc free what the
    // detach called busy)
    if (own?.attaching && otherHostWithinBound(own, await recordedCommand(own))) {
      kept.push({ record: own, why: `node ${node} holds its intent, and ${attachBegun(own)} may still be running: it is taken as running until ${own.until}, the time bound it recorded (cni-detach answers busy until then)` });
      continue;
    }
    const r = await recordOfEntry(flags, c, node);
    interrupted.push([own?.cniPath ? { ...r, cniPath: own.cniPath } : r, c]);
  }
  // a live pod's recorded attachment in `state` on this node, as the record of its entry (with the --cni-path its attach
  // recorded): freed by the records pass as on this host
  const ofState = async (state: State): Promise<[AttachmentRecord, Classified][]> => {
    const out: [AttachmentRecord, Classified][] = [];
    for (const c of classified) {
      if (c.state !== state || !c.livePod || !c.pod) continue;
      const own = mine.find((r) => r.node === node && !r.attaching && r.containerId === c.entry.containerId && r.ifname === c.entry.ifName);
      const r = await recordOfEntry(flags, c, node);
      out.push([own?.cniPath ? { ...r, cniPath: own.cniPath } : r, c]);
    }
    return out;
  };
  // one whose sandbox no longer runs on this node (the pod has a new one from its kubelet, or none): stale — without a
  // network namespace, which went with the sandbox
  const sandboxGone = await ofState('sandbox gone');
  // one whose DEL a cni-detach or cni-gc began and did not finish (its mark, its lock free: classify's detach stopped):
  // finished, as an interrupted attach is undone (WHY)
  const detachStopped = await ofState('detach stopped');
  // what is freed is not recorded again, and its record is not taken for one of nothing (the records pass forgets it
  // once freed; one whose DEL fails keeps its record)
  const freed = new Set([...interrupted, ...sandboxGone, ...detachStopped].map(([, c]) => c));
  const judged = classified.map((c) => (freed.has(c) ? { ...c, state: 'pod gone' as const } : c));
  const unchecked = classified.filter((c) => c.unchecked).map((c) => ({ ...c, reason: `${c.reason} (node ${node})` }));
  const changes = await reconcileRecords(flags, deps, api, node, judged, all, world, () => node, undefined, recordsNow, cache);
  // live pods' attachments whose interface is gone from their sandbox (classify, given the node's sandboxes and their
  // links: node-judge.ts judgeOnNode): counted apart from alive (a recorded one was counted alive from its record, an unrecorded
  // one by changes.unrecorded)
  const interfaceGone = classified.filter((c) => c.state === 'interface gone' && c.livePod);
  return { gone, interrupted, sandboxGone, detachStopped, unchecked, changes, attaching: attachingOf(classified, cache.named('')), mismatched, interfaceGone, kept };
}

/**
 * --node: each name must be a node of the cluster (cli/node-judge.ts refuseUnknownNodes, as cni-list --node: a
 * NotFoundError, exit 3), before anything is changed. Returns the pods (all of the cluster's) and records it read, for
 * gc to go on with.
 */
async function checkNodes(flags: GcFlags, api: KubeApi, asked: string[]): Promise<{ pods: Pod[]; records: AttachmentRecord[]; invalid: InvalidRecord[] }> {
  const { readRecords } = await import('../resolve/records.js');
  const [pods, { records, invalid }] = await Promise.all([api.listPods(undefined), readRecords(api, flags.agentNamespace ?? 'kube-system')]);
  refuseUnknownNodes(asked, pods, records, '; nothing was changed');
  return { pods, records, invalid };
}

/**
 * The agent pods left behind by cni-attach commands that were killed (resolve/agent.ts leftoverAgentPods: this tool's
 * label; finished, or whose command, named on the pod, ran on this host and is gone, or past their deadline — never
 * one a command may be using), deleted — each only as the very pod that was listed (its uid) — and each said on stderr;
 * with --dry-run only said. Those that may be in use (another host's command, within their deadline) are said with
 * when a cni-gc deletes them. A list that cannot be made (no right to list pods in the agent namespace) is a note and
 * leaves gc's outcome alone; a leftover that cannot be deleted is a problem of this gc (returned).
 */
async function leftoverAgents(flags: GcFlags, deps: Deps, api: KubeApi): Promise<{ deleted: string[]; problems: string[] }> {
  const { leftoverAgentPods } = await load.agent();
  const ns = flags.agentNamespace ?? 'kube-system';
  const out = { deleted: [] as string[], problems: [] as string[] };
  let judged: Awaited<ReturnType<typeof leftoverAgentPods>>;
  try {
    // (one that may be in use: when this cni-gc, as pasted, deletes it)
    judged = await leftoverAgentPods(api, ns, Date.now(), thisHost, `\`${gcCommandLine(flags)}\``);
  } catch (e) {
    deps.io.err(`note: agent pods left in ${ns} by commands that were killed are not looked at: ${describeError(e)}\n`);
    return out;
  }
  for (const { pod: p, leftover, why } of judged) {
    const name = `${ns}/${p.metadata?.name}`;
    const what = `agent pod ${name}${p.spec?.nodeName ? ` on node ${p.spec.nodeName}` : ''}: ${why}`;
    if (!leftover) {
      deps.io.err(`note: left ${what}\n`);
      continue;
    }
    if (flags.dryRun) {
      deps.io.err(`note: would delete ${what}\n`);
      out.deleted.push(name);
      continue;
    }
    try {
      await api.deletePod(ns, p.metadata!.name!, p.metadata?.uid);
      deps.io.err(`note: deleted ${what}\n`);
      out.deleted.push(name);
    } catch (e) {
      out.problems.push(`could not delete agent pod ${name}: ${describeError(e)}`);
    }
  }
  return out;
}

/** A recorded attachment in messages: "net1 of pod shop/web-1 (network net) on node node-a". */
function describeRecord(r: AttachmentRecord): string {
  return `${r.ifname} of pod ${r.namespace}/${r.pod} (network ${r.network}) on node ${r.node}`;
}

/** An entry of the records that is not valid, in gc's note: "the record <key> of ConfigMap ns/name is not valid, …". */
function describeInvalid(flags: GcFlags, r: InvalidRecord): string {
  return `the record ${r.shownKey} of ConfigMap ${flags.agentNamespace ?? 'kube-system'}/${r.configMap} is not valid, so it is left alone: ${r.why}`;
}

/**
 * A record that says otherwise than its node holds, in gc's note: "the record <key> of ConfigMap ns/name does not
 * match what node node-a holds, so it is not used: node node-a holds net1 of container … for pod …, not …".
 */
function describeMismatched(flags: GcFlags, m: Mismatched): string {
  return `the record ${m.key} of ConfigMap ${flags.agentNamespace ?? 'kube-system'}/${m.configMap} does not match what node ${m.node} holds, so it is not used for anything: ${m.why}`;
}

/** A mismatched record as the ConfigMap entry that holds it, for removalOf (a valid key: JSON as it is). */
function asEntry(m: Mismatched): Pick<InvalidRecord, 'configMap' | 'keyJson'> {
  return { configMap: m.configMap, keyJson: JSON.stringify(m.key) };
}

/** The kubectl patch that removes an entry of the records (cli/output.ts removeKeyCommandLine). */
function removalOf(flags: GcFlags, r: Pick<InvalidRecord, 'configMap' | 'keyJson'>): string {
  return removeKeyCommandLine(flags, flags.agentNamespace ?? 'kube-system', r.configMap, r.keyJson);
}

/** The cni-detach that frees an attachment whose interface is gone (its pod's, or its namespace's: cli/output.ts). */
function clearIfGone(flags: GcFlags, c: Classified): string {
  return detachCommandLine(c.pod ? { namespace: c.pod.namespace, name: c.pod.name } : { netns: c.entry.netns ?? 'PATH' }, c.entry.ifName, flags);
}

/** An attachment of a live pod whose sandbox could not be checked (Classified.unchecked), as gc says it. */
function notJudged(c: Classified): string {
  return `${c.entry.ifName} of ${describeEntry(c)} (network ${c.entry.networkName}) was not judged, and stays: ${c.reason}`;
}

/**
 * Why gc did not record an attachment its node holds without a record in --agent-namespace (RecordChanges.notCopied),
 * by the namespace its entry names (`recordedIn`; undefined: none); `one` false: said of several.
 */
function notCopiedWhy(flags: GcFlags, recordedIn: string | undefined, one = true): string {
  const ns = flags.agentNamespace ?? 'kube-system';
  const attach = one ? 'its attach records it' : 'their attaches record them';
  const entry = one ? 'its entry on the node' : 'their entries on their nodes';
  if (recordedIn !== undefined) {
    return `${attach} in namespace ${recordedIn} (${entry} ${one ? 'says' : 'say'} so): ${one ? 'a record' : 'records'} in ${ns} would be ${one ? 'a copy' : 'copies'}, still saying attached once a detach with --agent-namespace ${recordedIn} removed ${one ? 'the one' : 'those'} there`;
  }
  return `${entry} ${one ? 'does' : 'do'} not say which agent namespace ${attach} in (made by an earlier version of cni-attach): ${one ? 'a record' : 'records'} in ${ns} could copy ${one ? 'one' : 'those'} of another namespace`;
}

/**
 * The notes for the attachments gc did not record (RecordChanges.notCopied): one per namespace their entries name (and
 * one for those naming none), each with what they are (NAMED_AT_MOST named: output.ts someNames) and the cni-gc that
 * reconciles them where they belong — the one of that namespace on their nodes, or, for entries naming none, this
 * gc's with --record-legacy, for a user who knows they belong here. [] when none.
 */
function notCopiedNotes(flags: GcFlags, notCopied: NotCopied[]): string[] {
  const ns = flags.agentNamespace ?? 'kube-system';
  const groups = new Map<string | undefined, NotCopied[]>();
  for (const n of notCopied) groups.set(n.recordedIn, [...(groups.get(n.recordedIn) ?? []), n]);
  return [...groups].map(([recordedIn, g]) => {
    const one = g.length === 1;
    const nodes = [...new Set(g.map((n) => n.record.node))].sort();
    const what = one ? describeRecord(g[0]!.record) : `${g.length} attachments of live pods on node${nodes.length === 1 ? '' : 's'} ${nodes.join(', ')} (${someNames(g.map((n) => `${n.record.namespace}/${n.record.pod} ${n.record.ifname}`))})`;
    const it = one ? 'it' : 'them';
    const command = recordedIn !== undefined
      ? `\`${gcCommandLine({ ...flags, agentNamespace: recordedIn })} --node ${nodes.join(',')}\` reconciles ${it} there`
      : `\`${gcCommandLine(flags)} --node ${nodes.join(',')} --record-legacy\` records ${it} in ${ns}, for ${one ? 'an attachment' : 'attachments'} you know ${one ? 'was' : 'were'} attached with that namespace (or recorded nowhere)`;
    return `not recorded in namespace ${ns} (--agent-namespace): ${what}, held there without a record in it: ${notCopiedWhy(flags, recordedIn, one)}; ${command}`;
  });
}

/** A record in -o json/yaml. */
function recordRow(r: AttachmentRecord): Record<string, unknown> {
  return { target: `pod ${r.namespace}/${r.pod}`, node: r.node, ifname: r.ifname, network: r.network, containerId: r.containerId, ...(r.interrupted ? { interrupted: true } : {}), ...(r.detachStopped ? { detachStopped: true } : {}) };
}

/** The summary line's part for the records reconciled: ", 1 record added, 2 records removed" (nothing when none). */
function recordCounts(c: Pick<RecordChanges, 'added' | 'removed'>, dryRun: boolean): string {
  const part = (n: number, done: string, todo: string) => (n ? `, ${n} record${n === 1 ? '' : 's'} ${dryRun ? todo : done}` : '');
  return part(c.added.length, 'added', 'to add') + part(c.removed.length, 'removed', 'to remove');
}

/**
 * The summary line's part for the leftover agent pods (leftoverAgents): ", 2 leftover agent pods deleted" (a dry run:
 * "to delete"; nothing when none). Before, neither run counted them (the dry run's notes alone named them).
 */
function agentCount(n: number, dryRun: boolean): string {
  return n ? `, ${n} leftover agent pod${n === 1 ? '' : 's'} ${dryRun ? 'to delete' : 'deleted'}` : '';
}

export function gcCommand(deps: Deps = defaultDeps(stdio)): Command {
  const cmd = new Command('kubectl cni-gc').description(
    "Free what cni-attach attached to pods, sandboxes or namespaces that are gone (DEL through the cached chain frees the IPAM lease), then CNI GC for plugins that speak CNI 1.1; with a cluster, also delete the agent pods that killed commands left behind (finished, their command gone from this host, or past their deadline).",
  );
  // its own options first: commander lists the option groups in the order of their first option, and kubectl's
  // --help lists a command's own flags before the global ones (as cni-attach, cni-detach, cni-check, cni-list do)
  cmd.option('--dry-run', 'say what would be freed and which records would be added or removed; change nothing');
  cmd.option('--node <name>', "also visit this node (reached as cni-attach reaches it) though no record names it: free its gone pods' attachments and record the live ones it holds without a record (whose record could not be written, or attached by a version before records; in --agent-namespace only those whose entry names it: see --record-legacy); repeatable, or comma-separated", collectList);
  cmd.option('--record-legacy', 'also record in --agent-namespace the attachments a node holds without a record whose entry does not say which agent namespace their attach records them in (made by an earlier version of cni-attach); without it they are left unrecorded, with a note, as their record may be in another namespace');
  cmd.option('--no-annotate', "do not remove freed entries from live pods' network-status");
  // gc's scope is every namespace already (it has no -n): -A is taken, as kubectl users type it, and changes nothing
  cmd.option('-A, --all-namespaces', 'every namespace: what cni-gc always covers (it has no -n); accepted, changes nothing');
  addOutputOptions(cmd, ['summary', 'json', 'yaml']);
  addClusterOptions(cmd);
  addEngineOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  kubectl cni-gc                        # this host's cache, and the nodes whose records name a gone pod
  kubectl cni-gc --dry-run              # say what would be freed, recorded and forgotten; change nothing
  kubectl cni-gc --node node-a,node-b   # also visit these nodes: pick up attachments that have no record

Records: each pod attach is recorded in the cluster (a ConfigMap per node in --agent-namespace), so that cni-list -A
and cni-gc see it from anywhere; gc visits only the nodes whose records name a gone pod, and those given with --node.
An attachment without a record (whose record write failed, or made by a version before records) is seen only on its
node until a cni-gc reads that node's cache (there, or --node from anywhere): then it is recorded — in
--agent-namespace only when its entry on the node says its attach records it there (one of another namespace is left
to that namespace's gc, with a note; one whose entry names none, of an earlier version, only with --record-legacy).
A record whose node holds nothing of it is forgotten, said (each record gc removes is: a line, the summary, -o json
records.removed). What gc frees that its attach recorded in another agent namespace (its entry says so) has that
record removed too. A record names the --cache-dir its attach used: a gc of another dir keeps it, and says which
cni-gc frees it (offered only once its node trusts that dir).

An attachment a cni-attach/cni-detach is working on right now (its lock held) is left alone, with a note: not a
failure; a later gc looks at it again (this one too, after its waits: a command that ended meanwhile is counted as
it left things). CNI GC of a network waits until no ADD or DEL of it runs (at most --timeout; then its GC is left for
a later gc, with a note; --dry-run names what it would wait for), and while the plugins' GC runs, an attach of that network waits
for it before its ADD, and a detach before its DEL (at most their --timeout).

Without any kubeconfig (and not in a pod) gc is this host's alone: a note says so, exit 0. A kubeconfig that cannot
be used (--kubeconfig missing, a --context, --cluster or --user it does not define, $KUBECONFIG naming no file that
exists) is refused before anything is freed, as a bad flag value is (exit 2; 4 for $KUBECONFIG).

Exit codes: 0 ok; 2 bad usage or input; 3 a --node that is no node of the cluster (nothing changed); otherwise that
of the first thing that could not be done, each said in a note: 1 a DEL failed or a record cannot be read (with the
command that forgets it), 4 the cluster, the runtime or a node unreachable.`,
  );
  cmd.action(async (flags: GcFlags) => {
    const exec = await deps.localExecutor();
    const { ctx, cache } = prepareEngine(flags, exec, deps);
    const { classify, podOf } = await load.attachmentState();
    const found = await thisHostsEntries(cache, deps);
    const asked = [...new Set(flags.node ?? [])];
    if (asked.includes('')) throw new UsageError('--node: an empty node name (names, repeated or comma-separated: --node a,b --node c)');
    const needCluster = found.some((f) => podOf(f.entry));
    // an unfinished attach whose lock is held right now is running (attaching): left alone, and valid for CNI GC
    const lockHeld = (containerId: string, ifname: string) => unlessDenied(cache, deps, 'the locks', () => cache.lockHeld(containerId, ifname), undefined);
    // the cni-detach --force the reasons name (another host's lock, an unreadable record), with gc's flags
    const forceLine = (of: Parameters<typeof recordDetachLine>[0], ifname: string) => recordDetachLine(of, ifname, flags, true);
    // what was judged from reads at different moments (the cache first, then links and locks) is read again (classify)
    const reread = (containerId: string, ifname: string) => cache.find(containerId, ifname);
    let world: Parameters<typeof classify>[1] = { exec, lockHeld, forceLine, reread };
    // the cluster is asked when this cache has pod attachments, and for its records of other nodes whenever a
    // kubeconfig is there (without one, this is a node-local gc of bare namespaces)
    // (--node: the nodes are the cluster's; without it, nothing to do)
    // No kubeconfig at all (and not in a pod) is the documented on-node use: a node-local gc of bare namespaces, a
    // note says what was not looked at, and it exits 0. Any other failure to make the client is refused here, before
    // anything is freed (exit 2, or 4 for a $KUBECONFIG naming only files that do not exist): a kubeconfig the user
    // named that does not exist, a --context/--cluster/--user it does not define — a typo must not turn a cluster-wide
    // gc into a local one that frees this host's entries and then exits as bad usage. (The flags' values were checked
    // before the action: options.ts checkGlobalFlags.) A cluster that is configured but cannot be asked later is the
    // command's failure (exit 4, after this host's cache is done): from a laptop it is the whole of gc, and a cron
    // job must not read success.
    let clusterError: unknown;
    const api = needCluster || asked.length > 0 ? await connect(flags, deps) : await connect(flags, deps).catch((e: unknown) => {
      if (!noClusterConfigured(e)) throw e;
      deps.io.err(hostOnlyNote(e));
      return undefined;
    });
    let pods: Pod[] | undefined;
    let runtimes: PodRuntime[] = [];
    // --node: every node named must be one of the cluster's before anything is changed
    const listed = api && asked.length > 0 ? await checkNodes(flags, api, asked) : undefined;
    if (api && needCluster) {
      // Pod attachments are judged against the cluster and the runtime; if either cannot be asked, nothing is freed
      // (of --runtime auto's runtimes, one that cannot be asked leaves unjudged only what it may hold: unchecked)
      pods = listed?.pods ?? (await api.listPods(undefined));
      runtimes = await deps.runtimes(flags, api);
      const { sandboxes, unasked } = await (await load.pods()).listAllSandboxes(runtimes);
      world = { exec, pods, sandboxes, unasked, lockHeld, reread, hereName: deps.hostname(), forceLine };
    }
    const runningHere = new Set((world.sandboxes ?? []).filter((x) => x.running).map((x) => x.id));
    // the runtime that could not be asked and may hold the sandbox of this attachment (its namespace's path tells)
    const unaskedFor = (c: Classified) => world.unasked?.find((u) => runtimeMayHold(u.runtime, undefined, c.entry.netns));
    const classified = await classify(found, world);
    for (const c of classified.filter((x) => x.state === 'other node')) {
      deps.io.err(`note: this host's cache holds ${c.entry.ifName} of pod ${c.pod!.namespace}/${c.pod!.name} (network ${c.entry.networkName}): ${c.reason}; not counted, freed or recorded here\n`);
    }
    const { nodeOwnNetns } = await load.netns();
    // which of these judged attachments gc frees (stale), and which it must not touch, with why (refused)
    const judge = async (classified: Classified[]) => {
      const refused: { stale: Stale & { c: Classified }; error: unknown }[] = [];
      const stale: (Stale & { c: Classified })[] = [];
      for (const c of classified) {
        const why = WHY[c.state];
        if (!why) continue;
        let netns = c.state === 'interrupted' || c.state === 'detach stopped' ? (c.entry.netns ?? '') : '';
        // a deleted pod whose sandbox still runs here (deleted with --force, kubelet behind): DEL in its namespace, so the
        // interface goes with its lease; its namespace as the runtime gives it now, not a cached /proc path
        if (c.state === 'pod gone' && c.pod && runningHere.has(c.entry.containerId)) {
          const found = await (await load.pods()).runningSandboxOf(runtimes, { ...c.pod, uid: c.pod.uid ?? '' }, c.entry.containerId).catch(() => undefined);
          if (!found) {
            // never a DEL without the namespace of a sandbox that still runs: its address would be freed while in use
            refused.push({ stale: { entry: c.entry, intentOnly: c.intentOnly, netns: '', why, c }, error: `its sandbox ${c.entry.containerId.slice(0, 12)} still runs here, but its network namespace could not be found: not freed; run \`${gcCommandLine(flags)}\` again once the sandbox is gone` });
            continue;
          }
          netns = found.netnsPath;
        } else if (c.state === 'pod gone' && c.entry.netns && unaskedFor(c) && (await exec.pathKind(c.entry.netns)) === 'netns') {
          // a deleted pod's sandbox that a runtime which could not be asked may still run (containerd restarting, its
          // shims and containers alive; Docker with live-restore): its network namespace still there says it may, and a
          // DEL without it would free the lease of an address in use. Once the namespace is gone, so is the sandbox.
          const u = unaskedFor(c)!;
          refused.push({
            stale: { entry: c.entry, intentOnly: c.intentOnly, netns: '', why, c },
            error: new UnreachableError(`its sandbox ${c.entry.containerId.slice(0, 12)} may still run here (its network namespace ${c.entry.netns} is still there), and the runtime that may hold it (${u.runtime}) could not be asked: ${u.error.message}; not freed`, { cause: u.error }),
          });
          continue;
        }
        const s = { entry: c.entry, intentOnly: c.intentOnly, netns, why: netns && c.state === 'pod gone' ? `${why}; its sandbox still runs here: DEL in its namespace, the interface goes too` : why, c };
        // the refusal attach makes holds here too: never a DEL in the node's own namespace (a record cnitool made there)
        const own = s.netns ? await nodeOwnNetns(exec, s.netns) : undefined;
        if (own) refused.push({ stale: s, error: `${s.netns} is the node's own network namespace (${own}): no DEL runs there; refused` });
        else stale.push(s);
      }
      // records that cannot be read are not guessed at: reported, with the command that forgets them
      for (const c of classified.filter((x) => x.state === 'unreadable')) {
        refused.push({ stale: { entry: c.entry, intentOnly: c.intentOnly, netns: '', why: 'unreadable', c }, error: c.reason! });
      }
      return { stale, refused };
    };
    const { stale, refused } = await judge(classified);
    const valid = classified.filter((c) => c.state === 'attached' || c.state === 'interface gone');
    // attachments whose interface was deleted in a namespace that lives: valid for CNI GC (their lease is held), not
    // freed by gc (cni-detach frees them), and not alive: counted apart (with those of the nodes visited, below)
    const interfaceGone = classified.filter((c) => c.state === 'interface gone');
    // what a cni-attach/cni-detach is working on right now: left alone (and valid for CNI GC: cni/gc.ts)
    const left: Left[] = attachingOf(classified, '');
    // attachments of live pods whose runtime could not be asked: kept (and kept valid for CNI GC), each said, exit 4
    const unchecked = classified.filter((c) => c.unchecked);

    const { collectGarbage } = await load.gc();
    // the command lines that retry and forget what a DEL of gc's could not free (its error names them): of its target,
    // or with the target to fill in where its record names none (output.ts recordDetachLine; before, in words:
    // "`cni-detach, forced`")
    const ways = (s: Stale): WaysOut => {
      const c = (s as Stale & { c: Classified }).c;
      const detach = recordDetachLine({ ...(c.pod ? { pod: c.pod } : {}), ...(c.entry.netns ? { netns: c.entry.netns } : {}), containerId: c.entry.containerId }, s.entry.ifName, flags);
      return { detach, force: `${detach} --force`, forceWithConfig: `${detach} --force --conf FILE` };
    };
    // the cni-detach --force that takes another host's lock once its command is gone, for the notes (leftWhy)
    const forceOf = (l: Left) => ways(l.stale).force;
    // its DELs are a batch under way (exec/interrupt.ts holdBatch()): the user's signal stops the one running, starts
    // no other, and gc ends with its summary of what it freed; after them a signal ends it at once (cli/main.ts
    // stopEnding). Each DEL (and CNI GC) is a change under its own hold() (the engine's ctx.hold), which alone makes a
    // second signal say that what was being changed stays as it is
    const release = flags.dryRun || stale.length === 0 ? () => undefined : holdBatch();
    // what its DELs did and do (here and on the nodes it visits), for what a stop says of them; once one began, a second
    // signal's note names those running and its report says what they freed (GcProgressOf, quitReportOf)
    const progress: GcProgressOf = new GcProgressOf(deps.hostname(), () => {
      const named = nameDelsRunning(() => [...progress.running.keys()].map((s) => progress.name(s)));
      const reported = onQuit(quitReportOf(flags, deps, progress, ctx.timeoutMs));
      return () => (named(), reported());
    });
    const told = { began: (s: Stale) => progress.began(s as Freed), ended: (s: Stale, freed: boolean) => progress.ended(s as Freed, freed) };
    let outcome: Awaited<ReturnType<typeof collectGarbage>>;
    try {
      outcome = await collectGarbage(ctx, cache, stale, classified, !!flags.dryRun, ways, true, told);
    } finally {
      release();
    }
    outcome.failed.push(...refused);
    left.push(...outcome.busy.map((b) => leftBy(b.stale as Freed, b.error, '')));
    // what was left alone because a command was working on it, as it is now that gc's work here is done (its CNI GC
    // waited for such commands to end): a finished ADD is alive (or freed now, if its target went meanwhile), a
    // finished DEL left nothing
    const settled = flags.dryRun || outcome.stoppedBy ? { alive: [] as Classified[], gone: [] as Left[] } : await settleLeft(left, cache, async (again) => {
      const judged = await classify(again, world);
      const j = await judge(judged);
      const more = await collectGarbage(ctx, cache, j.stale, [], false, ways, false, told);
      outcome.freed.push(...more.freed);
      (outcome.notStarted ??= []).push(...(more.notStarted ?? []));
      outcome.failed.push(...more.failed, ...j.refused);
      if (more.stoppedBy) outcome.stoppedBy = more.stoppedBy;
      return { judged, busy: more.busy.map((b) => leftBy(b.stale as Freed, b.error, '')) };
    });
    unchecked.push(...settled.alive.filter((c) => c.unchecked));
    // stale locks (a dead holder, or none written) are broken as any command would; live holders' are left alone
    if (!flags.dryRun) {
      for (const l of await unlessDenied(cache, deps, 'the locks', () => cache.staleLocks(), [])) {
        if (await cache.clearStaleLock(l.file)) deps.io.err(`note: removed ${cache.named(`${cache.dir}/${l.file}`)}: ${l.why}\n`);
      }
    }
    // temp files of writers killed between write and rename (an attach killed at that moment leaves one)
    const swept = flags.dryRun ? [] : await unlessDenied(cache, deps, 'the temp files', () => cache.sweepTemp(), []);
    for (const f of swept) deps.io.err(`note: removed ${cache.named(`${cache.dir}/${f}`)}, left by a writer that died\n`);

    // the attachments the cluster records on other nodes, of pods that are gone: freed on their node
    let aliveElsewhere = 0;
    // of those, the live pods' records of nodes this gc did not read: kept by the API alone, not checked (PassOutcome.unread)
    let unread: PassOutcome['unread'] = { count: 0, nodes: [] };
    const changes = { added: [] as AttachmentRecord[], removed: [] as AttachmentRecord[], notCopied: [] as NotCopied[] };
    const unreached: { node: string; error: unknown }[] = [];
    // entries of the records that are not valid (resolve/records.ts validateRecord): left alone, each said with the
    // kubectl patch that removes it; they do not change gc's outcome (records are an index)
    let invalid: InvalidRecord[] = [];
    // records that say otherwise than their node holds (another pod, uid, network): used for nothing, said likewise
    let mismatched: Mismatched[] = [];
    // gone pods' records of another cache dir: kept, said with the cni-gc that frees them
    let elsewhere: Elsewhere[] = [];
    // write-ahead records of attaches that left nothing on their node, forgotten with why (counted as records removed),
    // and those kept because their attach may still be running
    const forgottenWhy = new Map<AttachmentRecord, string>();
    let keptAttempts: { record: AttachmentRecord; why: string }[] = [];
    let settledAheads: PassOutcome['settled'] = [];
    // records of another agent namespace that this gc removed (forgetForeignRecords): their namespace, for the output
    const removedIn = new Map<AttachmentRecord, string>();
    if (api) {
      const locallyFreed = new Set(outcome.freed.map((s) => `${s.entry.containerId}/${s.entry.ifName}`));
      // this host's freed pod attachments whose entry names another agent namespace than this gc's (PassOutcome.foreign)
      const { recordsNamespaceOf } = await import('../cni/cache.js');
      const foreignHere = (outcome.freed as Freed[]).flatMap((s) => {
        const theirs = recordsNamespaceOf(s.entry);
        const pod = s.c.pod;
        if (!pod || theirs === undefined || theirs === (flags.agentNamespace ?? 'kube-system')) return [];
        const record: AttachmentRecord = { namespace: pod.namespace, pod: pod.name, uid: pod.uid ?? '', node: s.c.livePod?.spec?.nodeName ?? deps.hostname(), ifname: s.entry.ifName, network: s.entry.networkName, containerId: s.entry.containerId, since: '', addresses: [] };
        return [{ record, recordedIn: theirs }];
      });
      try {
        // this host's attachments are counted (alive or freed) from its cache, not from their records
        const localAlive = new Set(classified.map((c) => `${c.entry.containerId}/${c.entry.ifName}`));
        const allPods = pods ?? (await api.listPods(undefined));
        const read = listed ?? (await (await import('../resolve/records.js')).readRecords(api, flags.agentNamespace ?? 'kube-system'));
        const all = read.records;
        invalid = read.invalid;
        const remote = await recordsPass(flags, deps, api, allPods, locallyFreed, exec, localAlive, all, asked, progress);
        outcome.freed.push(...remote.freed);
        outcome.failed.push(...remote.failed);
        left.push(...remote.busy);
        left.splice(0, left.length, ...uniqueLeft(left));
        aliveElsewhere = remote.alive;
        unread = remote.unread;
        unreached.push(...remote.unreached);
        // the live pods' attachments of the nodes visited whose sandbox could not be looked up there: kept, said, exit 4
        unchecked.push(...remote.unchecked);
        mismatched = remote.mismatched;
        elsewhere = remote.elsewhere;
        keptAttempts = remote.kept;
        settledAheads = remote.settled;
        interfaceGone.push(...remote.interfaceGone);
        for (const f of remote.forgotten) (changes.removed.push(f.record), forgottenWhy.set(f.record, f.why));
        // this host's records, reconciled with its cache (what was freed here has its record removed above)
        const freedHere = (c: Classified) => locallyFreed.has(`${c.entry.containerId}/${c.entry.ifName}`);
        const kept = classified.map((c) => (freedHere(c) ? { ...c, state: 'pod gone' as const } : c));
        const here = await reconcileRecords(flags, deps, api, deps.hostname(), kept, all, allPods, (c) => c.livePod?.spec?.nodeName ?? deps.hostname(), async (r) => (await cache.find(r.containerId, r.ifname)).length > 0, undefined, cache);
        changes.added.push(...here.added, ...remote.records.added);
        changes.removed.push(...here.removed, ...remote.records.removed);
        changes.notCopied.push(...here.notCopied, ...remote.records.notCopied);
        // this host's live attachments are counted from its cache (valid), so its records of nothing held are not alive
        aliveElsewhere -= here.unheld;
        // an unfinished attach of a live pod freed here or on its node (its intent DELed under its lock: that attach no
        // longer runs) takes its write-ahead record along, as a gone pod's freed attachment its record — part of
        // freeing it, not of the reconciliation (records.removed), and never counted alive (reconcileRecords leaves
        // attaching records of live pods alone)
        await forgetFreedAttempts(flags, deps, api, outcome.freed as (Stale & { c: Classified })[], all);
        // what this gc freed that its attach recorded in another agent namespace: that record goes too, said as any
        for (const f of await forgetForeignRecords(flags, deps, api, [...foreignHere, ...remote.foreign])) (changes.removed.push(f.record), forgottenWhy.set(f.record, f.why), removedIn.set(f.record, f.recordedIn));
      } catch (e) {
        // with pod attachments here the cluster answered already: its failure now is the command's; without them this
        // was a node-local gc that also looked at the cluster's records, and what it freed here stands
        if (needCluster || asked.length > 0 || !(e instanceof UnreachableError || e instanceof UsageError)) throw e;
        clusterError = e;
        deps.io.err(`note: attachments recorded on other nodes are not looked at: ${describeError(e)}\n`);
      }
    }

    // agent pods that killed commands left behind (finished: never one in use)
    const agents = api ? await leftoverAgents(flags, deps, api) : { deleted: [], problems: [] };
    // record ConfigMaps left empty (a command killed between its last removal and the tidying delete): tidied
    if (api && !flags.dryRun) {
      const { removeEmptyRecordMaps } = await import('../resolve/records.js');
      await removeEmptyRecordMaps(api, flags.agentNamespace ?? 'kube-system').catch(() => []);
    }

    // the freed interfaces of pods that still exist leave their network-status
    const annotateErrors: string[] = [];
    if (api && !flags.dryRun && flags.annotate !== false) {
      const ns = await load.networkStatus();
      for (const s of outcome.freed as (Stale & { c: Classified })[]) {
        const live = s.c.livePod;
        if (!live) continue;
        try {
          await api.updatePodAnnotation(live.metadata!.namespace!, live.metadata!.name!, ns.NETWORK_STATUS, (cur) => ns.removeEntry(cur, s.entry.ifName, [s.entry.networkName]), live);
        } catch (e) {
          annotateErrors.push(`${describeEntry(s.c)}: ${(e as Error).message}`);
        }
      }
    }

    // what the user's signal cut (a DEL it kept from starting, or stopped in flight; a node it kept from being reached):
    // not failures — said as a batch says them (cli/bulk.ts): not started, or stopped and still recorded
    const signal = outcome.stoppedBy ?? interruptedBy();
    const cut = signal ? outcome.failed.map((f) => ({ f, how: cutBy(f.error) })).filter((c) => c.how !== undefined) : [];
    outcome.failed = outcome.failed.filter((f) => !cut.some((c) => c.f === f));
    const notStarted = [...(outcome.notStarted ?? []).map((stale) => ({ stale, error: undefined as unknown })), ...cut.filter((c) => c.how === 'not started').map((c) => c.f)];
    const stoppedKept = cut.filter((c) => c.how === 'stopped').map((c) => c.f);
    // nodes whose reaching it cut (an agent starting, a look-up): not visited, for the next cni-gc
    const notVisited = signal ? unreached.filter((u) => cutBy(u.error) !== undefined) : [];
    for (const u of notVisited) unreached.splice(unreached.indexOf(u), 1);
    if (cut.length || notVisited.length) outcome.stoppedBy ??= signal;
    // the DELs it stopped in flight named, with the command that frees them, as a batch names its pods (`named`: the
    // summary line; the closing line counts them): before, counted only (tryout 9, finding 5)
    const gcAgain = gcCommandLine(flags);
    const stopWords = (named: boolean) =>
      outcome.stoppedBy
        ? `stopped by ${signalName(outcome.stoppedBy)}: ${[
            ...(stoppedKept.length ? [`${stoppedKept.length} stopped, still recorded${named ? ` (${someNames(stoppedKept.map((f) => progress.name(f.stale as Freed)))}: \`${gcAgain}\` frees ${stoppedKept.length === 1 ? 'it' : 'them'})` : ''}`] : []),
            ...(notStarted.length ? [`${notStarted.length} not started`] : []),
            ...(notVisited.length ? [`${notVisited.length} node${notVisited.length > 1 ? 's' : ''} not visited (${notVisited.map((u) => u.node).join(', ')})`] : []),
          ].join(', ') || 'nothing else started'}`
        : undefined;
    const stopSaid = stopWords(true);

    const verb = flags.dryRun ? 'would free' : 'freed';
    // how many stay attached: this host's (its cache) and the other nodes' (the cluster's records); when the cluster
    // could not be asked the others are not known, and the line says so rather than count them as none
    // "alive" only of what was checked (this host's cache, the nodes read); the live pods' records of the nodes not
    // read are kept by the API alone (their pods exist), counted apart with the --node that reads them
    const alive = valid.length + settled.alive.length - unchecked.length - classified.filter((c) => c.state === 'interface gone').length + aliveElsewhere - unread.count;
    const aliveSaid = clusterError ? `${alive} alive on this host (on other nodes: not known, the cluster could not be asked)` : `${alive} alive${keptUnreadWords(unread)}`;
    if (flags.output !== 'summary') {
      const rec = (s: Stale & { c: Classified }) => ({ target: describeEntry(s.c), ifname: s.entry.ifName, network: s.entry.networkName, containerId: s.entry.containerId, reason: s.why });
      deps.io.out(await formatData({
        dryRun: !!flags.dryRun,
        freed: (outcome.freed as (Stale & { c: Classified })[]).map(rec),
        failed: outcome.failed.map((f) => ({ ...rec(f.stale as Stale & { c: Classified }), error: describeError(f.error) })),
        // the user's signal: what it kept from starting, and what it stopped in flight (still recorded)
        ...(outcome.stoppedBy ? { stoppedBy: outcome.stoppedBy, notStarted: notStarted.map((f) => rec(f.stale as Stale & { c: Classified })), stopped: stoppedKept.map((f) => ({ ...rec(f.stale as Stale & { c: Classified }), node: progress.nodeOf.get(f.stale as Freed) ?? deps.hostname(), error: describeError(f.error), clearCommand: gcAgain })) } : {}),
        busy: left.map((l) => ({ ...rec(l.stale), reason: leftWhy(l, deps.hostname(), forceOf(l)) })),
        // left alone when gc began, their command ended since: attached now (counted alive), or nothing left of them
        endedMeanwhile: [
          ...settled.alive.map((c) => ({ ...rec({ entry: c.entry, intentOnly: c.intentOnly, netns: '', why: '', c }), now: 'attached' })),
          ...settled.gone.map((l) => ({ ...rec(l.stale), now: 'gone' })),
        ].map(({ reason: _r, ...r }) => r),
        // live pods' attachments whose interface is gone from their namespace: not alive; cni-detach frees their lease
        interfaceGone: interfaceGone.map((c) => ({ target: describeEntry(c), ifname: c.entry.ifName, network: c.entry.networkName, containerId: c.entry.containerId, reason: c.reason, clearCommand: clearIfGone(flags, c) })),
        // null: not known (the cluster could not be asked: what its records hold on other nodes is not)
        alive: clusterError ? null : alive,
        // the live pods' attachments recorded on nodes not read: kept because their pods exist, not checked (--node)
        keptUnread: unread.count,
        keptUnreadNodes: unread.nodes,
        cniGc: outcome.gcNetworks,
        // networks whose CNI GC waited in vain for an ADD or DEL of theirs to end: left for a later cni-gc (not a failure)
        cniGcBusy: outcome.gcBusy.map((b) => ({ network: b.network, reason: b.why })),
        // --dry-run: what the real run's CNI GC would wait for first (at most --timeout each)
        ...(flags.dryRun ? { cniGcWaits: outcome.gcWaits.map((w) => ({ network: w.network, waitsFor: w.who, atMost: formatDuration(ctx.timeoutMs), reason: gcWaitWhy(w) })) } : {}),
        agentPodsDeleted: agents.deleted,
        records: {
          added: changes.added.map(recordRow),
          removed: changes.removed.map((r) => ({ ...recordRow(r), ...(forgottenWhy.has(r) ? { why: forgottenWhy.get(r) } : {}), ...(removedIn.has(r) ? { recordedIn: removedIn.get(r) } : {}) })),
          // attachments held without a record here, not recorded here: their entry names another agent namespace
          // (recordedIn), or none (null: --record-legacy records them here)
          notRecorded: changes.notCopied.map((n) => ({ ...recordRow(n.record), recordedIn: n.recordedIn ?? null, why: notCopiedWhy(flags, n.recordedIn) })),
          // write-ahead records kept: their attach may still be running (why)
          keptAttaching: keptAttempts.map((k) => ({ ...recordRow(k.record), why: k.why })),
          settledAttaching: settledAheads.map((a) => ({ ...recordRow(a.record), ...(a.networkStatus ? { networkStatus: typeof a.networkStatus === 'object' ? { error: a.networkStatus.error } : a.networkStatus } : {}) })),
          invalid: invalid.map((r) => ({ configMap: r.configMap, key: r.key, why: r.why, removeCommand: removalOf(flags, r) })),
          mismatched: mismatched.map((m) => ({ ...recordRow(m.record), configMap: m.configMap, key: m.key, why: m.why, removeCommand: removalOf(flags, asEntry(m)) })),
          // kept: another cache dir's (gcCommand frees them; absent where their node does not trust it: untrusted says why)
          otherCacheDir: elsewhere.map((e) => ({ ...recordRow(e.record), why: e.why, cacheDir: e.cacheDir, ...(e.command ? { gcCommand: e.command } : { untrusted: e.untrusted }) })),
        },
        errors: [...outcome.gcErrors, ...annotateErrors, ...agents.problems, ...unreached.map((u) => `node ${u.node}: ${describeError(u.error)}`), ...unchecked.map(notJudged)],
      }, flags.output));
    } else {
      for (const s of outcome.freed as (Stale & { c: Classified })[]) {
        deps.io.out(`${verb} ${s.entry.ifName} of ${describeEntry(s.c)} (network ${s.entry.networkName}): ${s.why}\n`);
      }
      for (const c of settled.alive) deps.io.err(`note: ${endedWhy(c.entry.ifName, describeEntry(c), c.entry.networkName)}: ${c.entry.ifName} is attached, counted alive\n`);
      for (const l of settled.gone) deps.io.err(`note: ${endedWhy(l.stale.entry.ifName, describeEntry(l.stale.c), l.stale.entry.networkName)}, and left nothing of it (its DEL ran, or its attach was rolled back): nothing to free\n`);
      for (const l of left) deps.io.err(`note: left ${l.stale.entry.ifName} of ${describeEntry(l.stale.c)} (network ${l.stale.entry.networkName}) alone: ${leftWhy(l, deps.hostname(), forceOf(l))}; a later cni-gc looks at it again\n`);
      for (const f of outcome.failed) deps.io.err(`note: could not free ${f.stale.entry.ifName || f.stale.entry.networkName || '?'} of ${describeEntry((f.stale as Stale & { c: Classified }).c)}: ${describeError(f.error)}\n`);
      for (const f of stoppedKept) deps.io.err(`note: stopped freeing ${progress.name(f.stale as Freed)} (network ${f.stale.entry.networkName}): ${describeError(f.error)}; \`${gcAgain}\` frees it\n`);
      for (const e of outcome.gcErrors) deps.io.err(`note: CNI GC: ${e}\n`);
      for (const b of outcome.gcBusy) deps.io.err(`note: CNI GC of network ${b.network} did not run: ${b.why}; a later cni-gc runs it\n`);
      for (const w of outcome.gcWaits) deps.io.err(`note: CNI GC of network ${w.network} would wait for ${w.who} to finish, at most ${formatDuration(ctx.timeoutMs)} (--timeout): ${gcWaitWhy(w)}\n`);
      for (const r of changes.added) deps.io.out(`${flags.dryRun ? 'would record' : 'recorded'} ${describeRecord(r)}: attached there without a record in namespace ${flags.agentNamespace ?? 'kube-system'} (--agent-namespace)${r.interrupted ? ' (an attach of it did not finish)' : ''}\n`);
      for (const r of changes.removed) deps.io.out(`${flags.dryRun ? 'would forget' : 'forgot'} the record of ${describeRecord(r)}${removedIn.has(r) ? ` in namespace ${removedIn.get(r)}` : ''}: ${forgottenWhy.get(r) ?? 'the node holds nothing of it'}\n`);
      for (const line of notCopiedNotes(flags, changes.notCopied)) deps.io.err(`note: ${line}\n`);
      for (const k of keptAttempts) deps.io.err(`note: kept the record of ${describeRecord(k.record)}: ${k.why}\n`);
      for (const a of settledAheads) deps.io.out(`${flags.dryRun ? 'would settle' : 'settled'} the record of ${describeRecord(a.record)}: it said attaching since ${a.ahead.since}, and its attach finished there (the node holds its result, no intent, no lock): attached, counted alive${statusSaid(a.networkStatus)}\n`);
      for (const a of settledAheads) {
        const st = a.networkStatus;
        if (st && typeof st === 'object') deps.io.err(`note: the pod's network-status entry of ${a.record.ifname} of pod ${a.record.namespace}/${a.record.pod} could not be written: ${st.error}; its record is settled (the attachment stands): the same cni-attach again writes it\n`);
      }
      for (const r of invalid) deps.io.err(`note: ${describeInvalid(flags, r)}; \`${removalOf(flags, r)}\` removes it\n`);
      for (const m of mismatched) deps.io.err(`note: ${describeMismatched(flags, m)}; \`${removalOf(flags, asEntry(m))}\` removes it\n`);
      for (const line of describeElsewhere(flags, elsewhere)) deps.io.err(`note: ${line}\n`);
      for (const e of agents.problems) deps.io.err(`note: ${e}\n`);
      for (const u of unreached) deps.io.err(`note: node ${u.node} was not looked at: ${describeError(u.error)}\n`);
      for (const c of unchecked) deps.io.err(`note: ${notJudged(c)}\n`);
      for (const c of interfaceGone) deps.io.err(`note: ${c.entry.ifName} of ${describeEntry(c)} (network ${c.entry.networkName}) is not counted alive: ${c.reason}; run \`${clearIfGone(flags, c)}\`\n`);
      if (outcome.gcNetworks.length) deps.io.out(`CNI GC ran for network${outcome.gcNetworks.length > 1 ? 's' : ''} ${outcome.gcNetworks.join(', ')}\n`);
      const statuses = settledAheads.filter((a) => a.networkStatus === 'written' || a.networkStatus === 'to write').length;
      const statusesSaid = statuses ? `, ${statuses} network-status entr${statuses === 1 ? 'y' : 'ies'} ${flags.dryRun ? 'to write' : 'written'} (of attaches it settled)` : '';
      deps.io.out(`gc: ${verb} ${outcome.freed.length} stale attachment${outcome.freed.length === 1 ? '' : 's'}, ${aliveSaid}${statusesSaid}${left.length ? `, ${left.length} busy (left for a later run)` : ''}${settled.gone.length ? `, ${settled.gone.length} gone meanwhile (freed by the command that held it)` : ''}${interfaceGone.length ? `, ${interfaceGone.length} interface gone (cni-detach frees ${interfaceGone.length === 1 ? 'its lease' : 'their leases'})` : ''}${outcome.gcBusy.length ? `, CNI GC of ${outcome.gcBusy.length} network${outcome.gcBusy.length === 1 ? '' : 's'} left for a later run` : ''}${unchecked.length ? `, ${unchecked.length} could not be checked` : ''}${outcome.failed.length ? `, ${outcome.failed.length} could not be freed` : ''}${elsewhere.length ? `, ${elsewhere.length} kept (recorded in another cache dir)` : ''}${recordCounts(changes, !!flags.dryRun)}${agentCount(agents.deleted.length, !!flags.dryRun)}${stopSaid ? `; ${stopSaid}` : ''}\n`);
    }
    const others = [...outcome.gcErrors, ...annotateErrors, ...agents.problems];
    if (outcome.stoppedBy) {
      const failed = outcome.failed.length ? `; ${outcome.failed.length} could not be freed` : '';
      throw new StoppedError(outcome.stoppedBy, `gc ${stopWords(false)!}; ${outcome.freed.length} freed${failed}; what is left stays recorded: run \`${gcAgain}\` again`, 'recorded');
    }
    const problems = outcome.failed.length + others.length + unreached.length + unchecked.length + (clusterError ? 1 : 0);
    if (problems) {
      // the exit: as the first attachment that could not be freed, else as the cluster, the runtime or the node that
      // could not be reached
      const first = outcome.failed[0]?.error ?? clusterError ?? unchecked[0]?.unchecked ?? unreached[0]?.error ?? new UnreachableError(others[0]!);
      throw new SomeFailedError(`gc finished with ${problems} problem${problems > 1 ? 's' : ''} (see the notes above)`, first);
    }
  });
  return cmd;
}

export const run = (): Promise<never> => main(gcCommand());
