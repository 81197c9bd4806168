/** kubectl cni-attach: add an interface to running pods (or a network namespace) by running a CNI config's plugins. */
import { Command } from 'commander';
import { ApiStatusError, NotFoundError, NotRecordedError, StoppedError, UnreachableError, UsageError, shown, signalName, stoppedBy } from '../errors.js';
import { AFTER_SIGNAL_MS, atEnd, duringStep, hold, holdBatch, inFlightUntilEnd, interruptedBy, unlessInterrupted, whenInterrupted, within } from '../exec/interrupt.js';
import { thisHost } from '../exec/host.js';
import type { JsonObject } from '../cni/conf.js';
import type { AttachRequest, Attached } from '../cni/attach.js';
import type { Executor } from '../exec/types.js';
import type { KubeApi, Pod } from '../resolve/kube.js';
import type { Target } from '../resolve/netns.js';
import type { PodTarget } from '../resolve/pod.js';
import type { PodRuntime } from '../resolve/runtime.js';
import type { AttachmentRecord } from '../resolve/records.js';
import { addCapabilityOptions, addTargetOptions, parseRequestTimeout, REQUEST_TIMEOUT_DEFAULT, validateCidr, validateMac, validateNewIfName, type CommonFlags } from './options.js';
import { defaultDeps, prepare, type Deps, type Prepared } from './context.js';
import { detachCommandLine, formatData, gcCommandLine, listAllCommandLine, nameLine, printPlan, summaryInline, summaryLines, waysOut } from './output.js';
import { connect, resolveConf, resolveNetns, targetKind, type ResolvedConf } from './targets.js';
import { batchExit, batchNotes, batchOf, batchRecord, batchSummary, beforeChange, CountedApart, forEachPod, parseParallel, quitReport, quitLocksOf, SkippedPod, unknownFields, unknownWords, type PodOutcome, type StopWords } from './bulk.js';
import { rollbackTimeoutMs } from '../cni/chain.js';
import { goneNow } from './batch-watch.js';
import { load } from './load.js';
import { lineTo, main, stdio } from './main.js';
import { isoSecond } from '../duration.js';

interface AttachFlags extends CommonFlags {
  ip?: string[];
  mac?: string;
  dryRun?: boolean;
}

interface Outcome {
  target: Target;
  pod?: PodTarget;
  done: Attached;
  annotated: boolean;
  /** Set when the interface is attached but the annotation could not be written. */
  annotateError?: Error;
  /**
   * Set when the interface is attached and its network-status written, but the pod was being deleted then (the PATCH's
   * answer carried a deletionTimestamp; with --no-annotate, the pod read after the ADD was gone or Terminating; a batch:
   * or its watch saw the pod deleted or Terminating during its turn): how (resolve/pod.ts beingDeleted's words,
   * batch-watch.ts goneNow's, or the watch's). Reported as the 404 case (deletedMeanwhile).
   */
  deleting?: string;
  /** The write-ahead record of a pod attach. */
  ahead?: Ahead;
}

/**
 * The write-ahead record of one pod attach (resolve/records.ts): started once the pod's sandbox was found, on the
 * attach's way to its node (startAhead), awaited before the first plugin ADD (the engine's beforeFirstAdd), then
 * replaced or removed by settleRecord. `written`: whether it landed (it never rejects: a record is only an index).
 */
interface Ahead {
  node: string;
  written: Promise<{ key: string } | { error: Error }>;
  /** Set by settleRecord: the record was replaced or removed (or that was tried). */
  settled: boolean;
  /** Set when the engine asked for it before its first ADD: from then on the node may hold something of the attach. */
  reached?: boolean;
}

const now = () => isoSecond(Date.now());
const recordsNamespace = (job: Job) => job.flags.agentNamespace ?? 'kube-system';

/** Start writing the attaching record of pod (its sandbox id is not known to the record yet: ''). */
function writeAhead(job: Job, pod: Pod): Ahead {
  const m = pod.metadata!;
  const node = pod.spec!.nodeName!;
  const written = (async () => {
    const { addAttachingRecord, delPathsOf, writeAheadUntil } = await import('../resolve/records.js');
    try {
      // the command that writes it, as its locks name it: where it runs, cni-list tells whether it still does; and
      // until when it can, for the hosts that cannot see it (another laptop's cni-detach answers busy until then)
      const start = await thisHost.start();
      const until = writeAheadUntil(Date.now(), job.conf.list.plugins.length, job.p.ctx.timeoutMs, parseRequestTimeout(job.flags.requestTimeout ?? REQUEST_TIMEOUT_DEFAULT), rollbackTimeoutMs(job.p.ctx.timeoutMs));
      const key = await addAttachingRecord(job.api!, recordsNamespace(job), {
        namespace: m.namespace!, pod: m.name!, uid: m.uid!, node, ifname: job.p.ifname, network: job.conf.list.name, containerId: '', since: now(), addresses: [], ...delPathsOf(job.flags),
        // --no-annotate: its missing network-status entry is on purpose (cni-list gives no advice for it, cni-gc writes none)
        ...(job.flags.annotate === false ? { noAnnotate: true } : {}),
        // the name its network-status entry will carry, when not the network's: what cni-gc writes if this command goes before it does
        ...(job.conf.statusName !== job.conf.list.name ? { status: job.conf.statusName } : {}),
        by: { host: thisHost.host, pid: thisHost.pid, ...(start !== undefined ? { start } : {}) },
        ...(until ? { until } : {}),
      });
      return { key };
    } catch (e) {
      return { error: e as Error };
    }
  })();
  const ahead: Ahead = { node, written, settled: false };
  // the user's signal before the attach changed anything (the look-up, an agent starting: no hold yet) ends the
  // command without settleRecord: the attempt's record goes with the command's other leftovers, within the bound.
  // Once the engine went on to its ADD the record stays unless settled: a second signal that quits during the
  // rollback leaves the node as it is, and the record is what shows it from anywhere.
  atEnd(async () => {
    if (ahead.settled || ahead.reached || !interruptedBy()) return;
    const w = await within(written, AFTER_SIGNAL_MS);
    const key = w && 'key' in w ? w.key : undefined;
    if (key) await within(import('../resolve/records.js').then((r) => r.removeRecordKeys(job.api!, recordsNamespace(job), node, [key])), AFTER_SIGNAL_MS);
  });
  return ahead;
}

/**
 * The write-ahead of a pod attach, started once its sandbox was found — nothing is written for a pod refused before
 * (not Running, hostNetwork, not scheduled, no sandbox: podTargetOf refuses it), nor for a dry run.
 *
 * Why not earlier, alongside the look-up (which would hide the write's round trip behind the look-up's): a record is
 * what sends cni-gc to a node. One written before the sandbox was found, by an attach killed then (while its agent
 * pod started, say), would name a node that holds nothing of it, and gc could not tell that without going there — on a
 * node where no agent can start, waiting out an agent's start at every run. Written once the sandbox was found, the
 * record stands for an attach on its way to that node's ADD (its first request there carries its lock and intent): an
 * attach killed before it leaves no record at all, and one killed after is found on a node the look-up just reached.
 * The cost is one API round trip between the look-up and the first ADD (the engine's beforeFirstAdd waits for it).
 */
function startAhead(job: Job, pod: Pod): Ahead | undefined {
  const m = pod.metadata;
  if (!job.api || !m?.uid || !m.name || !m.namespace || !pod.spec?.nodeName || pod.spec.hostNetwork || pod.status?.phase !== 'Running') return undefined;
  return writeAhead(job, pod);
}


/** What the cluster's record of an attach says once it ended. */
export type Settled =
  | { attached: Attached; containerId: string }
  | { interrupted: true; containerId: string; why?: string }
  | { nothing: true };

/**
 * Settle the cluster's record of a pod attach (resolve/records.ts), so that cni-list -A and cni-gc see from anywhere
 * what the node keeps: attached (the result) or interrupted (something may remain on the node) replace the
 * write-ahead in one patch; nothing left removes it. Only an index: when it cannot be written the attach stands, and
 * a note says what will not see it. afterSignal: within AFTER_SIGNAL_MS, silently (the user asked to stop).
 */
async function settleRecord(job: Job, pod: Pod, node: string, ahead: Ahead | undefined, outcome: Settled, afterSignal = false): Promise<void> {
  const records = await import('../resolve/records.js');
  if (ahead) ahead.settled = true;
  const w = ahead ? await (afterSignal ? within(ahead.written, AFTER_SIGNAL_MS) : ahead.written) : undefined;
  const pending = w && 'key' in w ? w.key : undefined;
  const refused = w && 'error' in w ? w.error : undefined;
  // which attachment a note is of: a batch's notes of many pods (--parallel) would otherwise not say
  const of = `${job.p.ifname} in pod ${pod.metadata?.namespace}/${pod.metadata?.name}`;
  // an attachment already there whose own attach records it in another agent namespace (its entry says so): its record
  // is there; one here too would be a copy, left saying attached once a detach of that namespace removed the original
  const elsewhere = 'attached' in outcome && outcome.attached.already && outcome.attached.recordedIn !== undefined && outcome.attached.recordedIn !== recordsNamespace(job) ? outcome.attached.recordedIn : undefined;
  const work = async () => {
    if ('nothing' in outcome || elsewhere !== undefined) {
      if (pending) await records.removeRecordKeys(job.api!, recordsNamespace(job), node, [pending]);
      return;
    }
    // no right to write records (403): the write-ahead was refused already; the same request again would only fail again
    if (refused instanceof ApiStatusError && refused.status === 403) throw refused;
    const m = pod.metadata!;
    const at = { namespace: m.namespace!, pod: m.name!, uid: m.uid!, node, ifname: job.p.ifname, network: job.conf.list.name, containerId: outcome.containerId, ...records.delPathsOf(job.flags), ...(job.flags.annotate === false ? { noAnnotate: true } : {}) };
    await records.addRecord(job.api!, recordsNamespace(job), 'attached' in outcome
      ? records.attachmentRecord(at, { result: outcome.attached.result })
      : { ...records.attachmentRecord(at, { interrupted: true }), ...(outcome.why ? { why: outcome.why } : {}) }, pending);
  };
  try {
    await (afterSignal ? within(work(), AFTER_SIGNAL_MS) : work());
  } catch (e) {
    if (!afterSignal) job.deps.io.err(`note: ${recordNote(elsewhere !== undefined ? { nothing: true } : outcome, pending !== undefined, shown((e as Error).message), of, e instanceof ApiStatusError)}\n`);
    return;
  }
  if (elsewhere !== undefined && !afterSignal) {
    job.deps.io.err(`note: ${of} was already attached, by an attach that records it in namespace ${elsewhere} (its entry on node ${node} says so): not recorded in namespace ${recordsNamespace(job)} (--agent-namespace) too, where a copy would still say attached once a detach with --agent-namespace ${elsewhere} removed the record there; \`${listAllCommandLine({ ...job.flags, agentNamespace: elsewhere })}\` shows it\n`);
  }
  // nothing left, and nothing was recorded because the write-ahead failed: say so once (what is missing from the
  // cluster is only the attempt; its cause will refuse the records of attaches that succeed, too)
  if ('nothing' in outcome && refused && !afterSignal) job.deps.io.err(`note: ${recordNote(outcome, false, shown(refused.message), of, refused instanceof ApiStatusError)}\n`);
}

/**
 * The note for a record of an attach that the cluster does not hold as the attach ended, from what it holds instead:
 * `written` — the write-ahead landed (it says attaching); otherwise nothing of this attach is recorded there. `of`:
 * the attachment (`eth1 in pod shop/web-1`), named wherever the note is of that attachment's own state (with --parallel a
 * batch's notes would not say which), not in a refusal every pod meets alike (403: one note for the batch, bulk.ts
 * batchNotes). `answered`: the failed request was answered with a status (ApiStatusError),
 * so it was not applied; one that got no answer (--request-timeout, a connection lost) may have been applied after
 * all, so what the cluster holds is said as what it may hold.
 */
export function recordNote(outcome: Settled, written: boolean, why: string, of: string, answered: boolean): string {
  const unanswered = answered ? '' : ', and a request that got no answer may still have been applied';
  if ('nothing' in outcome) {
    if (written) {
      return answered
        ? `the record of the attempt at ${of} could not be removed from the cluster (${why}); cni-list -A shows it attaching until cni-gc or cni-detach clears it`
        : `the record of the attempt at ${of} may not have been removed from the cluster (${why}${unanswered}); if not, cni-list -A shows it attaching until cni-gc or cni-detach clears it`;
    }
    // (a refusal the cluster gives every pod of a batch alike, 403: one note for them all, bulk.ts batchNotes)
    return `the attempt was not recorded in the cluster (${why}); nothing of it is left to record (records need the rights in deploy/rbac.yaml)`;
  }
  const state = 'attached' in outcome ? 'attached' : 'interrupted';
  if (written) {
    return answered
      ? `the record of ${of} in the cluster could not be updated (${why}): it still says attaching, not ${state}; cni-list -A shows it so until cni-detach (or cni-gc, once the pod is gone) clears it`
      : `the record of ${of} in the cluster may not have been updated (${why}${unanswered}): it may still say attaching, not ${state}; cni-list -A shows which, and one still attaching stays so until cni-detach (or cni-gc, once the pod is gone) clears it`;
  }
  return answered
    ? `the attachment is not recorded in the cluster (${why}); cni-list -A and cni-gc elsewhere will not see it (see deploy/rbac.yaml)`
    : `the attachment of ${of} may not be recorded in the cluster (${why}${unanswered}); if not, cni-list -A and cni-gc elsewhere will not see it (see deploy/rbac.yaml)`;
}

/** Everything one attach needs that does not depend on the target. */
interface Job {
  flags: AttachFlags;
  deps: Deps;
  exec: Executor;
  p: Prepared;
  conf: ResolvedConf;
  capabilityArgs: JsonObject;
  api?: KubeApi;
}

/**
 * The engine's request for an attach to target (pod: a pod's). `ahead`: its write-ahead record, awaited before the first
 * ADD. `recheck`: asked right after that wait, the last moment before the intent and the ADD (a batch: its watch's
 * knowledge of the pod, in memory — cli/batch-watch.ts); what it throws (SkippedPod) stops the attach before anything
 * was changed, its lock released.
 */
async function request(job: Job, target: Target, pod: PodTarget | undefined, ahead?: Ahead, recheck?: () => Promise<void>): Promise<AttachRequest> {
  const { podCniArgs } = await load.pods();
  const { interfaceExists } = await load.netns();
  const cniArgs: [string, string][] = [...(pod ? podCniArgs(pod.ref, pod.sandbox.id) : []), ...job.p.extraArgs];
  return {
    list: job.conf.list,
    rt: { containerId: target.containerId, netns: target.netnsPath, ifname: job.p.ifname, cniArgs, capabilityArgs: job.capabilityArgs },
    describe: target.describe,
    // the sandbox look-up read its links (one round trip fewer on a remote node)
    interfaceExists: async () => pod?.sandbox.links?.includes(job.p.ifname) ?? interfaceExists(target.executor, target.netnsPath, job.p.ifname),
    reattachSame: !!pod,
    ways: waysOut(pod ? pod.ref : { netns: target.netnsPath }, job.p.ifname, job.flags),
    // the write-ahead record lands before the first ADD (whether it landed or not: it is only an index); the user's
    // signal ends the wait (the engine then stops before changing anything); then the batch's last look at its pod
    ...(ahead || recheck
      ? {
          beforeFirstAdd: async () => {
            if (ahead) {
              ahead.reached = true;
              await Promise.race([ahead.written, whenInterrupted()]);
            }
            await recheck?.();
          },
        }
      : {}),
    // where its record goes (a pod attach with a cluster): kept with its entry on the node, so that a cni-gc of another
    // --agent-namespace does not copy it there (cli/gc.ts reconcileRecords)
    ...(pod && job.api ? { recordsNamespace: recordsNamespace(job) } : {}),
  };
}

async function attachOnly(job: Job, target: Target, pod: PodTarget | undefined, ahead?: Ahead, recheck?: () => Promise<void>): Promise<Outcome> {
  const engine = await load.engine();
  const { ctx, cache } = job.p.on(target.executor);
  let done: Attached;
  try {
    done = await engine.attach(ctx, cache, await request(job, target, pod, ahead, recheck));
  } catch (e) {
    // a batch's pod that went right before its ADD (recheck): nothing was done for it — its write-ahead goes, no event
    if (e instanceof SkippedPod) {
      if (pod && job.api) await settleRecord(job, pod.pod, pod.node, ahead, { nothing: true });
      throw e;
    }
    const sig = stoppedBy(e);
    // the pod's events (Multus's), unless --no-annotate: the pod's objects are left alone; an attach the user's signal
    // stopped did not fail (and after the user's signal only its record is settled, within a short bound)
    if (pod && job.api && job.flags.annotate !== false && !sig) {
      const events = await load.events();
      await events.recordPodEvent(job.api, pod.pod, events.failedAddInterfaceEvent(job.p.ifname, job.conf.statusName, e, [job.p.cache.dir]), job.deps.hostname(), lineTo(job.deps.io, 'note:'));
    }
    // the write-ahead record: removed when nothing was left (refused, rolled back); marked interrupted when the node
    // keeps the attempt (its rollback failed, or the node was lost during the ADD), so that cni-list -A and cni-gc see
    // it from anywhere, as they see a finished one. An error that says nothing of what it left (a bug) keeps it attaching
    if (pod && job.api) {
      const left = engine.attachLeft(e);
      const lost = left === 'recorded' && e instanceof UnreachableError ? 'the connection to its node was lost during the ADD, which may have run' : undefined;
      if (left === 'nothing' || left === 'undone') await settleRecord(job, pod.pod, pod.node, ahead, { nothing: true }, !!sig);
      else if (left === 'recorded') await settleRecord(job, pod.pod, pod.node, ahead, { interrupted: true, containerId: pod.containerId, ...(lost ? { why: lost } : {}) }, !!sig);
    }
    throw e;
  }
  return { target, done, annotated: false, ...(pod ? { pod } : {}), ...(ahead ? { ahead } : {}) };
}

/**
 * For a pod (once the result is printed): record the added-interface event, add the interface to its network-status
 * (a failure is kept in the outcome: the attachment stands), and then record the attachment in the cluster, replacing
 * its write-ahead — last, so that while the write-ahead is there (and its command runs) the attach is not done with the
 * pod: a cni-detach of that interface answers busy until then (cli/targets.ts refuseIfAttaching), instead of detaching
 * under an attach whose network-status PATCH lands after the detach and names an interface that is gone.
 * stopOnSignal: the user's signal stops the wait for the network-status PATCH (one attach; the record is settled all
 * the same: the attachment stands); a batch finishes the bookkeeping of an attach made, each request within
 * --request-timeout (a second signal exits at once).
 */
async function annotate(job: Job, out: Outcome, stopOnSignal = true, readPod = true): Promise<Outcome> {
  const pod = out.pod;
  const { done } = out;
  // the event and the network-status PATCH are of two objects, neither waiting for the other: sent together (one
  // round trip for both); the event's failure is a note, never thrown (resolve/events.ts recordPodEvent)
  const event = pod && job.api && job.flags.annotate !== false && !done.already
    ? load.events().then((events) => events.recordPodEvent(job.api!, pod.pod, events.addedInterfaceEvent(job.p.ifname, job.conf.statusName, done.result), job.deps.hostname(), lineTo(job.deps.io, 'note:')))
    : undefined;
  if (pod && job.api && job.flags.annotate !== false) {
    const ns = await load.networkStatus();
    const entry = ns.entryFromResult(job.conf.statusName, job.p.ifname, done.result);
    try {
      const update = job.api.updatePodAnnotation(pod.ref.namespace, pod.ref.name, ns.NETWORK_STATUS, (cur) => ns.addEntry(cur, entry), pod.pod);
      const patched = await (stopOnSignal ? unlessInterrupted(update, "the pod's network-status update") : update);
      out.annotated = true;
      // graceful deletion: a pod put into Terminating during the attach still takes the PATCH (tryout 8 F1); its answer
      // says so, at no request more
      const deleting = patched ? (await load.pods()).beingDeleted(patched) : undefined;
      if (deleting !== undefined) out.deleting = `being deleted (${deleting}): its network goes with it`;
    } catch (e) {
      out.annotateError = e as Error;
    }
  }
  await event;
  // --no-annotate sends no PATCH whose answer says whether the pod went during the ADD: one read of it does, so that the
  // attach says so as with the PATCH (404 or another pod of its name: deleted; deletionTimestamp: Terminating).
  // `readPod` false: a batch whose watch tells it instead. A read that fails (or the user's signal) tells nothing.
  if (pod && job.api && job.flags.annotate === false && readPod) {
    const read = job.api.getPod(pod.ref.namespace, pod.ref.name).catch((e: unknown) => e as Error);
    const now = await (stopOnSignal ? Promise.race([read, whenInterrupted().then(() => undefined)]) : read);
    if (now !== undefined && (!(now instanceof Error) || now instanceof NotFoundError)) {
      const went = goneNow(pod.pod, now, (await load.pods()).beingDeleted, 'during the attach');
      if (went !== undefined) out.deleting = went;
    }
  }
  // last (see above); waited for at the end also by a quitting second signal, within its bound (inFlightUntilEnd)
  if (pod && job.api) await inFlightUntilEnd(settleRecord(job, pod.pod, pod.node, out.ahead, { attached: done, containerId: pod.containerId }));
  return out;
}

/**
 * The error for an attach that stands but whose network-status was not (or, when the user's signal stopped the wait,
 * perhaps not) written: exit 4, or 128+n for the signal; either way the same command again makes sure. The pod deleted
 * meanwhile (404, or another pod of its name: resolve/kube.ts updatePodAnnotation): exit 3, target not found — neither
 * the same command nor cni-detach can reach it any more (its sandbox is gone or going); what stays on its node is a
 * gone pod's attachment, recorded in the cluster, which cni-gc frees: the message gives that cni-gc with the flags that
 * reach the node.
 */
function annotateFailure(job: Job, o: Outcome, e: Error): UnreachableError | StoppedError | NotFoundError {
  const ifname = job.p.ifname;
  if (e instanceof NotFoundError && o.pod) {
    const pod = `pod ${o.pod.ref.namespace}/${o.pod.ref.name}`;
    const gone = new NotFoundError(`${ifname} is attached, but ${pod} was deleted meanwhile (its network-status could not be written: ${e.message})`, { cause: e });
    gone.next = `\`${gcCommandLine(job.flags)}\` frees what stays of the attachment on node ${o.pod.node} (its interface, its IPAM lease)`;
    return gone;
  }
  const sig = stoppedBy(e);
  if (sig) return new StoppedError(sig, `stopped by ${signalName(sig)} while the pod's network-status update was being sent: ${ifname} is attached; the update may or may not have landed; run the same command again to make sure, or cni-detach to undo`, 'recorded');
  return new UnreachableError(
    `${ifname} is attached, but the pod's network-status annotation could not be written (${e.message}); run the same command again to retry, or cni-detach to undo`,
    { cause: e },
  );
}

/**
 * The error for an attach that stands, its network-status written, whose pod was being deleted meanwhile (Outcome
 * deleting): exit 3, as the 404 case of annotateFailure — attached, but to a pod that goes, its network with it; what
 * stays on its node (interface, IPAM lease; its record says attached) is a gone pod's attachment, which cni-gc frees.
 */
function deletedMeanwhile(job: Job, o: Outcome): NotFoundError {
  const pod = `pod ${o.pod!.ref.namespace}/${o.pod!.ref.name}`;
  const gone = new NotFoundError(`${job.p.ifname} is attached, but ${pod} was deleted meanwhile (${o.deleting})`);
  gone.next = `\`${gcCommandLine(job.flags)}\` frees what stays of the attachment on node ${o.pod!.node} (its interface, its IPAM lease) once the pod is gone`;
  return gone;
}

function headline(job: Job, o: Outcome): string {
  const how = o.done.already ? 'was already attached to' : 'attached to';
  const extra = o.pod ? `node ${o.pod.node}, sandbox ${o.pod.sandbox.id.slice(0, 12)}` : `container id ${o.target.containerId}`;
  return `${job.p.ifname} ${how} ${o.target.describe} (network ${job.conf.list.name}, ${extra})`;
}

/**
 * --dry-run: the runs the attach would make, after the read-only checks it makes before changing anything (engine
 * planAttach: capabilities, plugins found and executable, ifname free, VERSION, STATUS), so that it fails as the attach
 * would, with the same message and exit code. An attachment already there (a pod's retried attach) runs nothing.
 */
async function dryRun(job: Job, target: Target, pod: PodTarget | undefined): Promise<void> {
  const engine = await load.engine();
  const { ctx, cache } = job.p.on(target.executor);
  const plan = await engine.planAttach(ctx, cache, await request(job, target, pod));
  const where = pod
    ? { pod: `${pod.ref.namespace}/${pod.ref.name}`, uid: pod.ref.uid, node: pod.node, runtime: pod.runtime, sandbox: pod.sandbox.id, pid: pod.sandbox.pid, netns: pod.netnsPath }
    : { netns: target.netnsPath, containerId: target.containerId };
  const none = plan.already ? `${job.p.ifname} is already attached to ${target.describe} (network ${job.conf.list.name}): no plugin would run` : undefined;
  const waits = plan.gcWait ? [engine.gcWaitLine(plan.gcWait, job.deps.hostname(), ctx.timeoutMs)] : [];
  await printPlan(job.deps.io.out, job.flags.output, where, plan.runs, target.executor, none, waits);
}

/**
 * What to do with a pod's node session before its sandbox look-up: declare what the attach will read there, so that it
 * rides on the look-up (cni/attach.ts readAhead, exec/batch.ts).
 */
async function readAheadOn(job: Job): Promise<(exec: Executor) => void> {
  const engine = await load.engine();
  return (exec) => {
    const { ctx, cache } = job.p.on(exec);
    engine.readAhead(ctx, cache, job.p.ifname, job.conf.list, false, job.capabilityArgs);
  };
}

async function podTargetFor(job: Job, runtimes: PodRuntime[], pod: Pod): Promise<PodTarget> {
  const { podTargetOf } = await load.pods();
  return podTargetOf(pod, runtimes, job.exec, pod.metadata!.namespace!, pod.metadata!.name!, job.deps.hostname(), await readAheadOn(job));
}

/**
 * What the user's signal left of an attach it stopped, and what a failed one whose rollback failed too (or whose node
 * was lost during its ADD) left (cli/bulk.ts): with the cni-detach that undoes those — the batch's own -l/--all when
 * no pod of it may be attached (each failed, and said what it left), else one pod's (the others attached stay so).
 */
function stopWords(job: Job, namespace: string | undefined, pods: Pod[] = []): StopWords {
  const ifname = job.p.ifname;
  const undo = (pods: string[], outcomes: PodOutcome<unknown>[]): string => {
    const whole = outcomes.every((o) => !o.ok && (o.stop?.left ?? o.left) !== undefined);
    const name = pods.length === 1 ? pods[0]!.slice(pods[0]!.indexOf('/') + 1) : 'POD';
    // -A (namespace undefined): one pod's own namespace, else NAMESPACE to fill in
    const ns = namespace ?? (pods.length === 1 ? pods[0]!.slice(0, pods[0]!.indexOf('/')) : 'NAMESPACE');
    const cmd = detachCommandLine(whole ? { namespace, selector: job.flags.all ? undefined : job.flags.selector } : { namespace: ns, name }, ifname, job.flags);
    const each = !whole && pods.length > 1 ? ` for each of them (-l would also detach the pods attached)` : '';
    return pods.length === 1
      ? `the 1 not rolled back stays recorded (interrupted): \`${cmd}\` runs its DEL again (\`${cmd} --force\` forgets it if that DEL keeps failing)`
      : `the ${pods.length} not rolled back stay recorded (interrupted): \`${cmd}\`${each} runs their DEL again (\`${cmd} --force\` forgets those whose DEL keeps failing)`;
  };
  const unknown = unknownWords(job.flags, namespace, pods, quitLocksOf(job.deps.hostname()));
  return { undone: 'rolled back', recorded: 'left recorded (rollback failed)', unknown: unknown.hint, unknownFields: unknown.fields, failedRecorded: { what: 'not rolled back', undo } };
}

/**
 * A SkippedPod for a batch's pod whose step failed with e (`what`: the step, or what it left) while the pod went —
 * read again now: 404 or another pod of its name, "deleted `when`: its network went with it (what: e's message)"; a
 * deletionTimestamp, "being deleted (since …): …" — or undefined while it lives (e is its own failure), after the
 * user's signal, or when it cannot be read (e stands). The read is made for failed pods only, and only for failures
 * a pod going can cause (its sandbox not found, a plugin's failure): not when the cluster or node cannot be reached.
 */
async function wentDuringTurn(job: Job, pod: Pod, e: unknown, when: string, what: string): Promise<SkippedPod | undefined> {
  if (stoppedBy(e) || interruptedBy() || !job.api) return undefined;
  const m = pod.metadata!;
  const now = await job.api.getPod(m.namespace!, m.name!).catch((r: unknown) => r);
  if (now instanceof Error && !(now instanceof NotFoundError)) return undefined;
  const { beingDeleted } = await load.pods();
  const why = goneNow(pod, now as Pod | NotFoundError, beingDeleted, when);
  return why ? new SkippedPod(`${why} (${what}: ${shown((e as Error).message)})`) : undefined;
}

/**
 * -l / --all (of `namespace`; of every namespace when undefined: -A): one API list, one runtime list, then every pod with bounded parallelism. On the user's signal the pods in
 * flight are rolled back (or, their result recorded, kept with their network-status), the rest not started (bulk.ts).
 */
async function attachMany(job: Job, namespace: string | undefined): Promise<void> {
  const { flags, deps } = job;
  if (flags.dryRun) throw new UsageError('--dry-run works on one pod at a time');
  // the batch is under way from its list on: the user's signal ends it with its summary (bulk.ts batchOf, forEachPod),
  // never by the exit of a command that began nothing (cli/main.ts), whatever step it came in; no change by itself
  // (holdBatch): before its pods begin, a second signal says nothing was being changed
  const release = holdBatch();
  let batch: Awaited<ReturnType<typeof batchOf>>;
  try {
    batch = await batchOf(flags, deps, job.api!, namespace, 'attach', await readAheadOn(job));
    if (!batch) return;
    const { pods, runtimes, parallel, watch } = batch;
    // each note of the pods said once, with how many pods it held for (bulk.ts batchNotes: a cluster that refuses the
    // records, 403, refuses them for every pod)
    const notes = batchNotes(deps.io);
    const bjob: Job = { ...job, deps: { ...deps, io: notes.io } };
    // the batch's summary, once: at its end, or when a second signal quits it (the pods in flight unknown)
    let summarized = false;
    const summary = async (outcomes: PodOutcome<Outcome>[]): Promise<boolean> => {
      if (summarized) return false;
      summarized = true;
      notes.end();
      if (flags.output === 'name') deps.io.out(outcomes.filter((o) => o.ok).map((o) => nameLine(o.pod)).join(''));
      else if (flags.output !== 'summary') {
        const words = stopWords(job, namespace, pods);
        deps.io.out(await formatData(outcomes.map((o) => ({ ...batchRecord(o, (v) => ({ result: v.done.result, ...(v.done.already ? { alreadyAttached: true } : {}) })), ...unknownFields(o, words) })), flags.output));
      } else {
        const ok = outcomes.filter((o) => o.ok).length;
        const already = outcomes.filter((o) => o.ok && o.value!.done.already).length;
        deps.io.out(`${batchSummary(outcomes, `${job.p.ifname} attached to ${ok} of ${outcomes.length} pods${already ? ` (${already} already attached)` : ''}`, stopWords(job, namespace, pods))}\n`);
      }
      return true;
    };
    const outcomes = await forEachPod(
      pods,
      parallel,
      deps.io,
      async (pod, handoff) => {
        const job = bjob;
        // deleted, being deleted or relabelled out of the selection since the list (the batch's watch saw it): skipped
        // before anything is done for it (no look-up, no record, no event), as the list skips a pod being deleted
        const gone = watch ? await beforeChange(watch.gone(pod)) : undefined;
        if (gone) throw new SkippedPod(gone.why, gone.kind);
        let target: PodTarget;
        try {
          target = await beforeChange(podTargetFor(job, runtimes, pod));
        } catch (e) {
          // its sandbox not found because the pod went meanwhile (the watch had not said so, or there is none): a skip
          throw (e instanceof NotFoundError && (await wentDuringTurn(job, pod, e, 'after the pods were listed', 'its sandbox look-up'))) || e;
        }
        // the write-ahead record, once the sandbox was found (startAhead; in a batch the look-ups were made for all pods
        // at once, before)
        const ahead = startAhead(job, pod);
        // its watch again right before its ADD (what it saw since: in memory, no request): a pod deleted, put into
        // Terminating or relabelled out since its turn began (its look-up, lock and checks) is skipped as at its start,
        // its lock and write-ahead record released — nothing of it left on its node or in the cluster
        const recheck = watch
          ? async () => {
              const went = await watch.gone(pod);
              if (went) throw new SkippedPod(went.why, went.kind);
            }
          : undefined;
        // an attach made is finished, also after a signal: its record and network-status must match it
        let made: Outcome;
        try {
          made = await attachOnly(job, target, target, ahead, recheck);
        } catch (e) {
          // failed, leaving nothing (refused, rolled back; its write-ahead record removed), while its pod went: its turn
          // did nothing because the pod was gone — a skip. One that left something (not rolled back, or whether its ADD
          // ran is not known) stays a failure: its record (interrupted) is what cni-detach and cni-gc act on
          // (a node or cluster that cannot be reached is no sign of it: not asked then, each failed pod a request more)
          const left = (await load.engine()).attachLeft(e);
          if ((left === 'nothing' || left === 'undone') && !(e instanceof UnreachableError)) throw (await wentDuringTurn(job, pod, e, 'during its turn', 'its attach')) ?? e;
          throw e;
        }
        // its node is done with (the result written there, its lock released): the next pod's attach may begin while
        // this one's event, network-status and record are written (forEachPod)
        handoff();
        // --no-annotate: the watch tells whether the pod went during the ADD (below); without one (refused, ended for
        // good), a read of the pod, as for one pod
        const o = await annotate(job, made, false, !watch?.watching());
        if (o.annotateError) {
          const e = annotateFailure(job, o, o.annotateError);
          // attached, its pod deleted meanwhile: neither attached (its pod is gone) nor a failure of the attach — counted
          // apart, with the cni-gc that frees what stays (the single-pod command's exit 3, which the batch's code keeps)
          if (e instanceof NotFoundError) throw new CountedApart('attached but its pod was deleted meanwhile', 'attached but their pods were deleted meanwhile', e, `\`${gcCommandLine(job.flags)}\` frees what stays`);
          throw e;
        }
        // deleted or put into Terminating during its own turn (graceful deletion: the PATCH still landed), as the PATCH
        // answered or the batch's watch saw it: counted apart as the 404 case is (tryout 8 F1)
        if (!o.deleting && watch && o.pod && !o.done.already) {
          const gone = await watch.gone(pod);
          if (gone?.kind === 'deleted') o.deleting = gone.why;
        }
        if (o.deleting) throw new CountedApart('attached but its pod was deleted meanwhile', 'attached but their pods were deleted meanwhile', deletedMeanwhile(job, o), `\`${gcCommandLine(job.flags)}\` frees what stays`);
        return o;
      },
      (o) => `${o.done.already ? 'already attached' : 'attached'} ${job.p.ifname}: ${summaryInline(o.done.result, job.p.ifname)}`,
      quitReport(deps.io, 'attach', stopWords(job, namespace, pods), summary),
    );
    await summary(outcomes);
    batchExit(outcomes, 'attach', stopWords(job, namespace, pods));
  } finally {
    // the watch ends with the batch, however it ends (its signal too)
    batch?.watch?.stop();
    release();
  }
}

export function attachCommand(deps: Deps = defaultDeps(stdio)): Command {
  const cmd = new Command('kubectl cni-attach').description(
    'Hot-plug a network interface into running pods (or a network namespace) by running CNI plugins (ADD).',
  );
  addCapabilityOptions(addTargetOptions(cmd, { confRequired: true, annotate: true, bulk: true }));
  cmd.addHelpText(
    'after',
    `
Examples:
  kubectl cni-attach web-1 -n shop --ifname eth1 --conf net.json
  kubectl cni-attach web-1 -n shop --ifname net1 --net shop/macvlan-net
  kubectl cni-attach -l app=web -n shop --ifname eth1 --conf net.json --parallel 8
  kubectl cni-attach --netns /var/run/netns/pod-a --ifname eth1 --conf - < bridge.conflist -o json

The pod is read from the API; its sandbox (pause) container is found through --runtime: with auto, a pod on this
host's node through this host's runtime (the plugins run here), a pod on another node through a short-lived agent
pod on that node (the node's own plugins run there). kubectl passes only the flags after the plugin name.

Exit codes: 0 ok (attached, as printed); 1 a plugin failed, or the result could not be recorded or printed (rolled
back; the message says so, or says what stays when the rollback failed too), or the interface is busy (try again);
2 bad usage or input; 3 target not found; 4 cluster/runtime unreachable, or no kubeconfig at all (after an ADD:
attached, the pod's network-status not written); 128+signal, i.e. 129 SIGHUP, 130 SIGINT (Ctrl-C), 143 SIGTERM:
stopped before the result was recorded (rolled back); a signal after it stopped nothing: 0, the attachment stands (a
note says so).`,
  );
  cmd
    .command('completion')
    .description('print a bash, zsh or fish completion script for all the cni-attach commands')
    .argument('<shell>', 'bash, zsh or fish')
    .action(async (shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh' && shell !== 'fish') throw new UsageError(`completion: "${shell}" is not bash, zsh or fish`);
      // the other four programs are loaded only for this (not for every attach): see load.ts
      const { completionScript } = await import('./completion.js');
      deps.io.out(completionScript(shell, attachCommand(deps), deps));
    });
  cmd.action(async (podName: string | undefined, flags: AttachFlags) => {
    const kind = targetKind(podName, flags);
    const exec = await deps.localExecutor();
    const p = prepare(flags, exec, deps);
    validateNewIfName(p.ifname);
    const capabilityArgs: JsonObject = {};
    if (flags.ip?.length) capabilityArgs.ips = flags.ip.map(validateCidr);
    if (flags.mac !== undefined) capabilityArgs.mac = validateMac(flags.mac);
    if (flags.parallel !== undefined) parseParallel(flags.parallel);

    const api = kind === 'netns' ? undefined : await connect(flags, deps);
    const namespace = api ? flags.namespace ?? api.defaultNamespace : undefined;
    const conf = (await resolveConf(flags, deps, async () => api!, namespace, true))!;
    // the command line against the config, before the pod is read or anything is written to the cluster: a typo leaves
    // no write-ahead record and no FailedAddInterface event (kubectl's client-side checks leave no trace either)
    (await load.engine()).checkCapabilities(conf.list, capabilityArgs);
    const job: Job = { flags, deps, exec, p, conf, capabilityArgs, ...(api ? { api } : {}) };

    // -A: the pods of every namespace (namespace undefined)
    if (kind === 'pods') return attachMany(job, flags.allNamespaces ? undefined : namespace!);

    let target: Target;
    let pod: PodTarget | undefined;
    let podAhead: Ahead | undefined;
    if (kind === 'pod') {
      const { podTargetOf } = await load.pods();
      const read = await api!.getPod(namespace!, podName!);
      const runtimes = await deps.runtimes(flags, api);
      // the dry run reads what the attach reads (planAttach): ahead too
      pod = await podTargetOf(read, runtimes, exec, namespace!, podName!, deps.hostname(), await readAheadOn(job));
      target = pod;
      // the write-ahead record, once the sandbox was found (startAhead; a dry run writes none)
      podAhead = flags.dryRun ? undefined : startAhead(job, read);
    } else target = await resolveNetns(exec, flags.netns!, true);

    if (flags.dryRun) return dryRun(job, target, pod);
    // from here to the printed result, a signal rolls back (or, once the result is cached, lets it stand): see hold()
    const release = hold();
    let standing: (() => void) | undefined;
    try {
      const o = await attachOnly(job, target, pod, podAhead);
      // the result is cached: the attachment stands, and the first signal says so (not "rolling back"): what is left
      // is printing it and writing what says so (an event, the pod's network-status, the record)
      standing = duringStep(`${p.ifname} is attached and stays: finishing what says so (its record is written; the pod's network-status update is not waited for)`);
      const text = flags.output === 'name' && pod
        ? nameLine(pod.ref.name)
        : flags.output !== 'summary'
        ? await formatData(o.done.result, flags.output)
        : `${headline(job, o)}\n${summaryLines(o.done.result, p.ifname).join('\n')}\n`;
      try {
        deps.io.out(text);
      } catch (e) {
        const failed = await unprinted(job, o, e);
        // its write-ahead record, as after any attach that ended so: removed when rolled back, interrupted when not,
        // attached when it was there before this command
        if (pod && job.api) {
          const outcome: Settled = failed.left === 'recorded' ? { interrupted: true, containerId: pod.containerId } : o.done.already ? { attached: o.done, containerId: pod.containerId } : { nothing: true };
          await settleRecord(job, pod.pod, pod.node, o.ahead, outcome);
        }
        throw failed;
      }
      await annotate(job, o);
      if (o.annotated && flags.output === 'summary') {
        try {
          deps.io.out(`  network-status: ${conf.statusName} on ${p.ifname} recorded on the pod\n`);
        } catch {
          deps.io.err(`note: network-status: ${conf.statusName} on ${p.ifname} recorded on the pod (stdout failed after the result)\n`);
        }
      }
      if (o.annotateError) throw annotateFailure(job, o, o.annotateError);
      if (o.deleting) throw deletedMeanwhile(job, o);
    } finally {
      standing?.();
      release();
    }
  });
  return cmd;
}

/**
 * The result could not be printed (stdout on a full file system, /dev/full, a closed descriptor): the caller cannot
 * learn what was attached, so it is rolled back (DEL through the just-cached chain) and the command fails with exit 1,
 * like any failed attach. An attachment that was already there before this command (a retried pod attach) stays.
 */
async function unprinted(job: Job, o: Outcome, e: unknown): Promise<NotRecordedError> {
  // "ENOSPC: no space left on device, write" already names its code; a message that does not gets it in front
  const code = (e as NodeJS.ErrnoException).code;
  const message = (e as Error).message;
  const why = code && !message.startsWith(code) ? `${code}: ${message}` : message;
  const ifname = job.p.ifname;
  if (o.done.already) return new NotRecordedError(`the result could not be printed (${why}); ${ifname} was already attached before this command and stays attached`, { cause: e, left: 'nothing' });
  const engine = await load.engine();
  const { ctx, cache } = job.p.on(o.target.executor);
  try {
    await engine.detach(ctx, cache, { containerId: o.target.containerId, ifname, netns: o.target.netnsPath, describe: o.target.describe, by: 'cni-attach' });
  } catch (d) {
    const failed = new NotRecordedError(`the result could not be printed (${why}); rolling back failed too (${(d as Error).message}): ${ifname} IS attached to ${o.target.describe}`, { cause: e, left: 'recorded' });
    failed.next = `\`${detachCommandLine(o.pod ? o.pod.ref : { netns: o.target.netnsPath }, ifname, job.flags)}\` undoes it`;
    return failed;
  }
  return new NotRecordedError(`the result could not be printed (${why}): rolled back, nothing was left behind`, { cause: e, left: 'undone' });
}

export const run = (): Promise<never> => main(attachCommand());
