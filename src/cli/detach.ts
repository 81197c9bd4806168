/** kubectl cni-detach: remove an interface that cni-attach (or cnitool) added, using the cached config and result. */
import { Command } from 'commander';
import { NotFoundError, StoppedError, UnreachableError, UsageError, shown, signalName, stoppedBy } from '../errors.js';
import type { DetachRequest, Detached, StoppedDel } from '../cni/attach.js';
import type { ResultCache } from '../cni/cache.js';
import type { KubeApi, Pod } from '../resolve/kube.js';
import type { AttachmentRecord, RecordedDelStop } from '../resolve/records.js';
import { addDryRunOption, addTargetOptions, type CommonFlags } from './options.js';
import { defaultDeps, prepare, type Deps, type Prepared } from './context.js';
import { detachCommandLine, formatData, gcCommandLine, listAllCommandLine, listCommandLine, nameLine, printPlan, removeKeysCommandLine, shellQuote, waysOut } from './output.js';
import { AFTER_SIGNAL_MS, hold, holdBatch, interruptedBy, unlessInterrupted, within } from '../exec/interrupt.js';
import { thisHost } from '../exec/host.js';
import { isoSecond } from '../duration.js';
import type { Target } from '../resolve/netns.js';
import type { PodLookup } from '../resolve/pod.js';
import { attachRunsHere, connect, earlierPodsWords, lookupPodFor, podOf, podWhere, recordedCacheDir, recordedCacheDirHint, recordedCniPath, recordsUnreadError, recordsUnreadWords, refuseIfAttaching, resolveConf, resolveNetns, sameNetnsAs, targetKind, type ResolvedConf } from './targets.js';
import { batchExit, batchNotes, batchOf, batchRecord, batchSummary, beforeChange, forEachPod, parseParallel, quitReport, recordedCniPathNotes, someNames, quitLocksOf, unknownFields, unknownWords, type PodOutcome } from './bulk.js';
import { describeError, lineTo, main, stdio } from './main.js';
import { load } from './load.js';
import type { Executor } from '../exec/types.js';

interface DetachFlags extends CommonFlags {
  force?: boolean;
}

interface Job {
  flags: DetachFlags;
  deps: Deps;
  p: Prepared;
  conf?: ResolvedConf;
  api?: KubeApi;
  /** A batch's one list of the cluster's records (refuseIfAttaching); a single detach lists them when it asks. */
  records?: Promise<AttachmentRecord[]>;
}

interface Outcome {
  describe: string;
  done: Detached[];
  /** The cache the DEL used (this host's, or the pod's node's): where the messages' paths are. */
  cache: ResultCache;
  annotateError?: Error;
  /** Nothing was detached, but the network-status entry and the record an earlier detach left went (leftBehind). */
  leftBehind?: boolean;
  /** Whether this detach's network-status update removed an entry (false: the pod's network-status had none left). */
  statusEntryRemoved?: boolean;
  /** Nothing was detached, but these write-ahead records of attaches that did not finish went (forgetAttempts). */
  attemptsRemoved?: AttachmentRecord[];
  /** The pod and what was detached of it, when it has no record in the records this detach reads (forget: said in noRecordNote). */
  unrecorded?: Unrecorded;
}

/** A pod whose detached attachments (`keys`) have no record where this detach read them (noRecordNote). */
interface Unrecorded {
  pod: PodLookup;
  /** What was detached; `recordedIn`: the agent namespace its entry on the node said its attach recorded it in. */
  keys: { containerId: string; ifname: string; recordedIn?: string }[];
}

/** The --cache-dir a batch pod's failure offers (RecordedElsewhere), if it is one. */
const recordedIn = (o: PodOutcome<Outcome>): string | undefined => (o.failure instanceof RecordedElsewhere ? o.failure.cacheDir : undefined);

/**
 * A detach (one pod, a batch's pod, a dry run) that found nothing of --ifname in the cache dir it read, while the
 * cluster records that interface of the pod — attached, interrupted, or an attach that did not finish (killed, a second
 * Ctrl-C) — with another cache dir: not "nothing to do" (the node keeps it there), exit 3 as cni-check's "nothing
 * attached". `cacheDir`: that dir when its node trusts it (offered: "give --cache-dir D"), else undefined (the message
 * says why it is not offered). Rule: cli/targets.ts recordedCacheDir.
 */
class RecordedElsewhere extends NotFoundError {
  constructor(message: string, readonly cacheDir?: string) {
    super(message);
  }
}

/**
 * The RecordedElsewhere of a pod whose detach found nothing in `cache`, or undefined when no record names another
 * cache dir. `batch`: a batch pod's shorter words ("nothing attached as net1 here: the cluster records it with
 * --cache-dir D: give --cache-dir D"); else one pod's, as cni-check's ("nothing is attached as net1 in pod shop/a (no
 * cache entry under /var/lib/cni/results); the cluster records net1 attached with cache dir D (trusted …): give …").
 */
async function recordedElsewhere(job: Job, pod: PodLookup, cache: ResultCache, exec: Executor, batch = false): Promise<RecordedElsewhere | undefined> {
  if (!job.api) return undefined;
  const uid = pod.pod?.metadata?.uid;
  if (batch) {
    const r = await recordedCacheDir(job.api, job.flags, pod.namespace, pod.name, uid, cache.dir, exec);
    if (!r) return undefined;
    const said = `nothing attached as ${job.p.ifname} here: the cluster records it ${r.as === 'attached' ? '' : `${r.as} `}with --cache-dir ${shellQuote(r.cacheDir)}`;
    return r.untrusted
      ? new RecordedElsewhere(`${said}, which is not offered: a record is not your word, and ${r.untrusted}`)
      : new RecordedElsewhere(`${said}: give --cache-dir ${shellQuote(r.cacheDir)}`, r.cacheDir);
  }
  const hint = await recordedCacheDirHint(job.api, job.flags, pod.namespace, pod.name, uid, cache.dir, exec, 'cni-detach');
  return hint ? new RecordedElsewhere(`nothing is attached as ${job.p.ifname} in ${pod.describe} (no cache entry under ${cache.named(`${cache.dir}/results`)}); ${hint}`) : undefined;
}

/**
 * A batch's words for its pods whose record names another --cache-dir, one group per dir, at most NAMED_AT_MOST pods
 * named in each (bulk.ts someNames), with the batch's own command given that dir (its node trusts it: recordedElsewhere),
 * to paste: "2 recorded with --cache-dir /srv/x (shop/a, shop/b): `kubectl cni-detach -l app=web -n shop --ifname net1
 * --cache-dir /srv/x` detaches them" (before: "give --cache-dir /srv/x"); '' when none. `batch`: the batch's selector
 * and namespace (undefined: -A).
 */
function otherCacheDirs(outcomes: PodOutcome<Outcome>[], flags: Job['flags'], batch: { namespace: string | undefined; selector: string | undefined }): string {
  const by = new Map<string, string[]>();
  for (const o of outcomes) {
    const dir = recordedIn(o);
    if (dir !== undefined) by.set(dir, [...(by.get(dir) ?? []), o.pod]);
  }
  return [...by].map(([dir, pods]) => `; ${pods.length} recorded with --cache-dir ${shellQuote(dir)} (${someNames(pods)}): \`${detachCommandLine(batch, flags.ifname!, { ...flags, cacheDir: dir })}\` detaches ${pods.length === 1 ? 'it' : 'them'}`).join('');
}

/** What detach and its --dry-run ask of the engine for a pod. */
function podRequest(job: Job, pod: PodLookup): DetachRequest {
  return {
    ifname: job.p.ifname,
    describe: pod.describe,
    ...(pod.containerId !== undefined ? { containerId: pod.containerId } : {}),
    match: pod.match,
    netns: pod.netns,
    ...(pod.netnsOf ? { netnsOf: pod.netnsOf } : {}),
    ...(job.conf ? { list: job.conf.list } : {}),
    cniArgs: job.p.extraArgs,
    argsGiven: job.flags.args !== undefined,
    force: !!job.flags.force,
    ways: waysOut({ namespace: pod.namespace, name: pod.name }, job.p.ifname, job.flags),
  };
}

/** What detach and its --dry-run ask of the engine for --netns: the record by the path, else by the namespace's identity. */
function netnsRequest(job: Job, target: Target & { gone: boolean }): DetachRequest {
  return {
    containerId: target.containerId,
    ifname: job.p.ifname,
    // a namespace that is gone: DEL without CNI_NETNS (SPEC.md: optional on DEL), so that plugins free what they can
    netns: target.gone ? '' : target.netnsPath,
    describe: target.describe,
    cniArgs: job.p.extraArgs,
    argsGiven: job.flags.args !== undefined,
    force: !!job.flags.force,
    ways: waysOut({ netns: target.netnsPath }, job.p.ifname, job.flags),
    ...(sameNetnsAs(target) ? { sameNetns: sameNetnsAs(target)! } : {}),
    ...(job.conf ? { list: job.conf.list } : {}),
  };
}

/**
 * DEL what the cache holds for a pod (present, sandbox gone, or pod gone), then fix its network-status, then forget
 * its records in the cluster — after the network-status, so that a record stays while its entry does: a detach whose
 * update failed ("run the same command again") is finished by the next, which finds the record and nothing in the
 * cache (leftBehind). A detach that finds nothing else writes nothing to the pod: an entry of that ifname may be
 * Multus's, or an interface's attached with another --cache-dir. stopOnSignal: the user's signal stops the wait for
 * the network-status PATCH (one detach); a batch finishes the bookkeeping of a detach made, each request within
 * --request-timeout (a second signal exits at once).
 */
async function detachPod(job: Job, pod: PodLookup, stopOnSignal = true, handoff?: () => void): Promise<Outcome> {
  const engine = await load.engine();
  const { ctx, cache } = pod.executor ? job.p.on(pod.executor) : job.p;
  // an attach of it is known to run (its write-ahead record is there: it has not reached the node yet, or it is still
  // writing to the pod after its ADD): busy, nothing done, its record kept
  if (job.api) await refuseIfAttaching(job.api, job.flags, podOf(pod), pod.describe, job.records, true, true);
  let done: Detached[];
  try {
    done = await engine.detach(ctx, cache, podRequest(job, pod));
  } catch (e) {
    // its DEL began and did not finish (stopped part-way, or a plugin refused it): the node says `detach stopped`, and
    // the cluster's record, which cni-list -A reads, says so too
    const stop = engine.delStoppedOf(e);
    if (stop && job.api) await recordStoppedDel(job, pod, cache.dir, stop);
    throw e;
  }
  if (done.length === 0 && job.api && pod.pod) {
    // nothing on the node as its look-up found it; the records as listed now (a batch lists them once, and again
    // after its own writes) may say what another command did since that look-up (an outside tester: an attach batch
    // and a detach batch of the same pods at once; the detach took an attach that finished meanwhile for what an
    // earlier detach left, and removed its record and network-status entry, the interface left up unrecorded):
    // an attach of it running now is busy, as the one-pod detach answers before its DEL
    if (job.records) {
      const { listRecords } = await import('../resolve/records.js');
      await refuseIfAttaching(job.api, job.flags, podOf(pod), pod.describe, listRecords(job.api, job.flags.agentNamespace ?? 'kube-system'), true);
    }
    // and a record of it, settled, is either what an earlier detach left or an attach finished since: the node decides,
    // looked at again as it is now (in that order: an attach writes its result on the node before it settles its record)
    if ((await leftBehind(job, pod, cache.dir)).length > 0) {
      done = await engine.detachAnew(ctx, cache, podRequest(job, pod));
      if (done.length > 0) ctx.debug?.(`${pod.describe}: ${job.p.ifname} was attached after this detach first looked (another command's attach finished meanwhile): detached now`);
    }
  }
  const out: Outcome = { describe: pod.describe, done, cache };
  // an attach that never finished may have left its write-ahead record (attaching): it goes with what it left
  const attempts = done.length === 0 || done.some((d) => d.fromIntent);
  let aheads = 0;
  if (attempts) {
    const gone = await forgetAttempts(job, pod, cache.dir);
    aheads = gone.length;
    if (done.length === 0 && gone.length > 0) out.attemptsRemoved = gone;
  }
  // what was detached had no record (settled or write-ahead) where this detach reads them: said (noRecordNote), one
  // pod's now, a batch's pods in one note after its summary (detachMany)
  // not after a DEL run from the given config alone with nothing on the node (--conf of what an earlier --force
  // forgot, or of nothing): no attachment of this tool was there, so there is no record of it to miss
  const unrecorded = async (none: boolean, keys: Unrecorded['keys']) => {
    if (!none || aheads > 0 || (done.length > 0 && done.every((d) => d.uncached))) return;
    if (job.records) out.unrecorded = { pod, keys };
    else {
      const notes = await noRecordNote(job, [{ pod, keys }], job.flags.agentNamespace ?? 'kube-system');
      if (notes) job.deps.io.err(notes);
    }
  };
  const keys = done.map((d) => ({ containerId: d.containerId, ifname: job.p.ifname, ...(d.recordedIn !== undefined ? { recordedIn: d.recordedIn } : {}) }));
  const left = done.length === 0 && pod.pod && job.flags.annotate !== false ? await leftBehind(job, pod, cache.dir) : [];
  if (left.length > 0) out.leftBehind = true;
  // a batch: its node is done with (what was attached is detached there; what follows is the cluster's bookkeeping),
  // so the next pod's detach may begin (bulk.ts forEachPod); a pod with nothing detached may still read its node
  if (done.length > 0) handoff?.();
  if (done.length === 0 && left.length === 0) return out;
  if (job.flags.annotate === false || !pod.podExists) {
    if (job.flags.annotate !== false) job.deps.io.err('note: the pod is gone, so there is no network-status annotation to update\n');
    await unrecorded(await forget(job, pod, keys, cache.dir, !attempts), keys);
    return out;
  }
  const ns = await load.networkStatus();
  // the pod's events (RemovedInterface, one per network detached, in order), named as network-status names the network
  // (NS/NAD for --net attachments): sent alongside the network-status PATCH, of another object (one round trip for
  // both); an event's failure is a note, never thrown (resolve/events.ts recordPodEvent)
  const sent = pod.pod;
  const events = sent
    ? (async () => {
        const ev = await load.events();
        const recorded = statusName(sent, job.p.ifname, ns.NETWORK_STATUS);
        for (const d of done) {
          await ev.recordPodEvent(job.api!, sent, ev.removedInterfaceEvent(job.p.ifname, recorded ?? d.network, d.forced, [cache.dir]), job.deps.hostname(), lineTo(job.deps.io, 'note:'));
        }
      })()
    : undefined;
  try {
    // an API that does not answer must not hold a command the user stopped (see hold() in main)
    // (the pod as read last decides whether an entry went: an earlier detach's update may have landed after all)
    const update = job.api!.updatePodAnnotation(pod.namespace, pod.name, ns.NETWORK_STATUS, (cur) => {
      const next = ns.removeEntry(cur, job.p.ifname, done.map((d) => d.network));
      out.statusEntryRemoved = next !== cur;
      return next;
    }, pod.pod);
    await (stopOnSignal ? unlessInterrupted(update, "the pod's network-status update") : update);
  } catch (e) {
    // the pod deleted meanwhile (resolve/kube.ts): its network-status went with it, and the detach is whole
    if (e instanceof NotFoundError) job.deps.io.err(`note: pod ${pod.namespace}/${pod.name} was deleted meanwhile, so there is no network-status annotation to update (${shown(e.message)})\n`);
    else {
      out.annotateError = e as Error;
      await events;
      return out;
    }
  }
  await events;
  // with them, the write-ahead of an attach whose command quit after its ADD, before it replaced that record (a
  // second signal during the patch, or the patch failed): it said attaching of the attachment detached now
  await unrecorded(await forget(job, pod, [...keys, ...left], cache.dir, !attempts), [...keys, ...left]);
  return out;
}

/**
 * After a DEL of a pod's attachment that began and did not finish (`stop`: cni/attach.ts delStoppedOf — the user's
 * signal stopped it part-way, or a plugin refused it; its mark stays on the node, its record in the cluster): that
 * record (of its key, network and node, in the cache dir `dir` this detach read) is rewritten to say so
 * (AttachmentRecord.detachStopped: the mark's command, time and failure), so that cni-list -A, which does not read the
 * node, shows it `detach stopped` with the cni-detach that finishes it, and cni-gc visits its node (before: `attached`,
 * only cni-list --node said otherwise: a tryout). One list and one patch, on this failure's path only (none on the
 * way of a detach that works). After the user's signal within AFTER_SIGNAL_MS (a second signal exits at once: then, as
 * after a SIGKILL, the record still says attached, and cni-list --node is what shows it). Only an index: a failure is
 * a note (none after the signal), the detach's own error stands.
 */
async function recordStoppedDel(job: Job, pod: PodLookup, dir: string, stop: StoppedDel): Promise<void> {
  const records = await import('../resolve/records.js');
  const ns = job.flags.agentNamespace ?? 'kube-system';
  const node = pod.pod?.spec?.nodeName ?? pod.node;
  const { mark } = stop;
  const detachStopped: RecordedDelStop = {
    command: 'cni-detach',
    at: mark.at ?? isoSecond(Date.now()),
    by: { host: mark.host ?? thisHost.host, pid: mark.pid ?? thisHost.pid, ...(mark.start !== undefined ? { start: mark.start } : {}) },
    // (a plugin's error is outside text: its control characters escaped, as a record holds none: validateRecord)
    ...(mark.failed !== undefined ? { failed: mark.failed.replace(/[\p{Cc}\p{Cf}]/gu, (c) => `\\x${c.codePointAt(0)!.toString(16).padStart(2, '0')}`).slice(0, 1024) } : {}),
  };
  const work = async () => {
    const all = await records.listRecords(job.api!, ns);
    const mine = all.filter((r) => !r.attaching && !r.interrupted && r.containerId === stop.containerId && r.ifname === stop.ifname && r.network === stop.network && (!node || r.node === node) && records.recordedIn(r, dir));
    for (const r of mine) await records.addRecord(job.api!, ns, { ...r, detachStopped });
  };
  const signalled = interruptedBy() !== undefined;
  try {
    await (signalled ? within(work(), AFTER_SIGNAL_MS) : work());
  } catch (e) {
    if (!signalled) job.deps.io.err(`note: the cluster's record of ${job.p.ifname} in ${pod.describe} could not be updated to say that its DEL did not finish (${shown((e as Error).message)}): cni-list -A shows it attached; \`${listCommandLine({ ...job.flags, namespace: pod.namespace })} --node ${node ?? 'NODE'}\` reads its node\n`);
  }
}

/**
 * The cluster's records of this live pod's ifname (its uid; attached or interrupted) that name the cache dir this
 * detach read (`dir`), which holds nothing of them: what a detach left whose network-status update failed (its
 * records are forgotten only after it: detachPod), or an attachment forgotten on the node by other means. Their entry
 * goes, and they do. Records of another cache dir are not (cni-detach says which to give: cli/targets.ts
 * recordedCacheDirHint). Records that cannot be read give none.
 */
async function leftBehind(job: Job, pod: PodLookup, dir: string): Promise<{ containerId: string; ifname: string }[]> {
  const records = await import('../resolve/records.js');
  const uid = pod.pod?.metadata?.uid;
  const mine = records.delPathsOf({ cacheDir: dir }).cacheDir ?? '/var/lib/cni';
  const all = await records.listRecords(job.api!, job.flags.agentNamespace ?? 'kube-system').catch(() => []);
  return all
    .filter((r) => !r.attaching && r.namespace === pod.namespace && r.pod === pod.name && r.ifname === job.p.ifname && r.uid === uid && (r.cacheDir ?? '/var/lib/cni') === mine)
    .map((r) => ({ containerId: r.containerId, ifname: r.ifname }));
}

/** The network-status name of the pod's interface (e.g. "shop/macvlan-net"), when recorded. */
function statusName(pod: Pod, ifname: string, key: string): string | undefined {
  try {
    const list = JSON.parse(pod.metadata?.annotations?.[key] ?? '[]') as { name?: unknown; interface?: unknown }[];
    const name = list.find((e) => e.interface === ifname)?.name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Remove the write-ahead records (attaching) of this pod's ifname: an attach whose command died before it settled its
 * record — whose intent (or nothing) this detach found, or whose attachment it detached (the command quit between its
 * ADD and the patch that replaces the write-ahead). A write-ahead whose command runs now on this host
 * (attachRunsHere: an attach that has not reached the node yet) stays: it settles its own. One list of the records,
 * one patch per node that has some; a failure is a note, the detach stands.
 */
async function forgetAttempts(job: Job, pod: PodLookup, dir: string): Promise<AttachmentRecord[]> {
  if (!job.api) return [];
  const records = await import('../resolve/records.js');
  const ns = job.flags.agentNamespace ?? 'kube-system';
  // records that cannot be read name no unfinished attach: nothing to remove, and nothing to say of a removal (an
  // outside tester saw "could not be removed" of a record nobody found; a gone pod's look-up says they could not be read)
  const all = await records.listRecords(job.api, ns).catch(() => undefined);
  if (!all) return [];
  const mine = await attemptsOf(job, pod, all, dir);
  try {
    for (const [node, recs] of records.recordsByNode(mine)) await records.removeRecordKeys(job.api, ns, node, recs.map((r) => r.key!));
    return mine;
  } catch (e) {
    job.deps.io.err(`note: the cluster's record of an unfinished attach could not be removed (${shown((e as Error).message)}); cni-gc will remove it once the pod is gone\n`);
    return [];
  }
}

/**
 * What a detach that found nothing on the node says of the write-ahead records it removed (forgetAttempts) — it did
 * change the cluster, so not "nothing to do" (an outside tester saw that while a record went): "removed the cluster's
 * record of an attach of net1 that did not finish (begun at T; node node-a holds nothing of it)", `would remove` for
 * a dry run. undefined when there were none.
 */
export function attemptsRemovedWords(ifname: string, recs: AttachmentRecord[], dryRun = false): string | undefined {
  if (recs.length === 0) return undefined;
  const since = [...new Set(recs.map((r) => r.since))].sort().join(', ');
  const nodes = [...new Set(recs.map((r) => r.node))].join(', ');
  return `${dryRun ? 'would remove' : 'removed'} the cluster's record${recs.length > 1 ? 's' : ''} of ${recs.length > 1 ? `${recs.length} attaches` : 'an attach'} of ${ifname} that did not finish (begun at ${since}; node ${nodes} holds nothing of ${recs.length > 1 ? 'them' : 'it'})`;
}

/**
 * The write-ahead records (attaching) of this pod's ifname in `all` whose command does not run now here, and whose
 * cache dir is `dir`, the one this detach read (forgetAttempts): an attempt made with another --cache-dir keeps its
 * intent there, and its record is what says so (the detach fails naming it: RecordedElsewhere).
 */
async function attemptsOf(job: Job, pod: PodLookup, all: AttachmentRecord[], dir: string): Promise<AttachmentRecord[]> {
  const { recordedIn } = await import('../resolve/records.js');
  const uid = pod.pod?.metadata?.uid;
  const out: AttachmentRecord[] = [];
  for (const r of all) {
    if (r.attaching && r.key && r.namespace === pod.namespace && r.pod === pod.name && r.ifname === job.p.ifname && (uid === undefined || r.uid === uid) && recordedIn(r, dir) && !(await attachRunsHere(r))) out.push(r);
  }
  return out;
}

/**
 * When a detach of a live pod found nothing: the cluster's records of that interface of an earlier pod of the same
 * name (another uid: the pod was replaced), which cni-list shows under this name, are said in a note with the
 * cni-gc that frees them (they belong to a pod that is gone; this detach does not touch another pod's attachment).
 * Records that cannot be read add nothing.
 */
/**
 * The flags of a command printed for record `r`: `flags` with the cache dir the record names when it is another than
 * the one `flags` reads (resolve/records.ts recordedIn), as --cache-dir — the command reads where its node keeps it
 * (a cni-gc of another dir keeps the record).
 */
async function recordFlags(flags: Job['flags'], r: AttachmentRecord): Promise<Job['flags']> {
  const { recordedIn, recordCacheDir } = await import('../resolve/records.js');
  return recordedIn(r, flags.cacheDir) ? flags : { ...flags, cacheDir: recordCacheDir(r) };
}

async function earlierPodsRecords(job: Job, pod: Pod, ifname: string): Promise<void> {
  const { listRecords } = await import('../resolve/records.js');
  const m = pod.metadata!;
  const older = (await listRecords(job.api!, job.flags.agentNamespace ?? 'kube-system').catch(() => [])).filter((r) => r.namespace === m.namespace && r.pod === m.name && r.ifname === ifname && r.uid !== m.uid);
  for (const r of older) {
    job.deps.io.err(`note: the cluster records ${ifname} of an earlier pod ${r.namespace}/${r.pod} (uid ${r.uid}, node ${r.node}), replaced since: \`${gcCommandLine(await recordFlags(job.flags, r))}\` frees it\n`);
  }
}

/**
 * Remove the cluster records of what was detached from the cache dir `dir` (resolve/records.ts); a failure is a note
 * that says what shows it and what removes it, the detach stands (exit 0: the node's cache, the truth, no longer holds
 * it). A record of such a key that names another cache dir stays, said in a note (recordedIn: it says its node keeps
 * an attachment there, which this detach did not look at — an attach with that --cache-dir after this one's interface
 * went writes the same key). `attempts`: the pod's write-ahead records of ifname (attemptsOf) go in the same patch.
 * Returns whether the records it read hold none of them (noRecordNote); false when they could not be read.
 */
async function forget(job: Job, pod: PodLookup, keys: { containerId: string; ifname: string }[], dir: string, attempts = false): Promise<boolean> {
  if (keys.length === 0) return false;
  const records = await import('../resolve/records.js');
  const ns = job.flags.agentNamespace ?? 'kube-system';
  // a live pod's are its node's (spec.nodeName); a gone pod's node is known only to the records
  const node = pod.pod?.spec?.nodeName;
  const until = () => (pod.podExists && job.flags.annotate !== false ? `\`${waysOut({ namespace: pod.namespace, name: pod.name }, job.p.ifname, job.flags).detach}\` (run again) or cni-gc removes it` : 'cni-gc removes it');
  let all: AttachmentRecord[];
  try {
    all = await records.listRecords(job.api!, ns);
  } catch (e) {
    // not found, so not removed: said as that, not as a removal that failed
    job.deps.io.err(`note: ${recordsUnreadWords(e, job.flags)}, so the record of the attachment, if the cluster has one, is not removed: cni-list -A shows it until ${until()}\n`);
    return false;
  }
  try {
    const ofKeys = all.filter((r) => !r.attaching && (!node || r.node === node) && keys.some((k) => k.containerId === r.containerId && k.ifname === r.ifname));
    for (const r of ofKeys.filter((x) => !records.recordedIn(x, dir))) {
      job.deps.io.err(`note: the cluster's record of ${r.ifname} of pod ${r.namespace}/${r.pod} on node ${r.node} names cache dir ${shellQuote(records.recordCacheDir(r))}, not ${shellQuote(dir)} (read by this detach): kept, as that node keeps its attachment there; a cni-detach that finds nothing in ${shellQuote(dir)} says whether that node trusts that dir, and then the --cache-dir to give\n`);
    }
    const gone = [...ofKeys.filter((x) => records.recordedIn(x, dir)), ...(attempts ? await attemptsOf(job, pod, all, dir) : [])];
    for (const [n, recs] of records.recordsByNode(gone)) await records.removeRecords(job.api!, ns, n, recs);
    return ofKeys.length === 0 && gone.length === 0;
  } catch (e) {
    // a live pod's record is found again by the same detach (leftBehind), a gone pod's by cni-gc's records pass
    job.deps.io.err(`note: the cluster's record of the attachment could not be removed (${shown((e as Error).message)}); cni-list -A shows it until ${until()}\n`);
    return false;
  }
}

/**
 * The notes of a detach that removed attachments from their node and found no record of them in the records it reads —
 * the ConfigMaps of its agent namespace (`ns`, --agent-namespace) —, by where their records are: an attach made with
 * another --agent-namespace recorded it in that one's, where it stays, saying `attached` (cni-list -A with that flag) —
 * an outside tester saw `net1 detached` and nothing else. The node's entry names that namespace (cni/attach.ts
 * Detached.recordedIn): such keys are said with it; one naming `ns` itself had no record at all (its write refused, or
 * removed): nothing stays, nothing is said; one naming none (an entry of an earlier version) is said with NS to fill
 * in, "if" its attach used another. Each note says where it looked, and what removes just that record: for a live pod
 * this detach run again with that namespace (it finds the record its node no longer holds: leftBehind); for any pod
 * the `kubectl patch` of its node's ConfigMap in that namespace that sets its key (resolve/records.ts recordName,
 * recordKey) to null — one per ConfigMap (`cni-attach-node-NODE` where the node is not known: a gone pod's on this
 * host). Not a cni-gc with that flag: before entries named their namespace it recorded there every attachment of the
 * node recorded in the other namespace (tryout 8: records that went stale at the next ordinary detach). '' when none.
 */
async function noRecordNote(job: Job, unrecorded: Unrecorded[], ns: string, batch?: { namespace: string | undefined }): Promise<string> {
  // by the namespace their entries name (undefined: none); those naming `ns` have no record anywhere
  const where = new Map<string | undefined, Unrecorded[]>();
  for (const u of unrecorded) {
    for (const k of u.keys) {
      if (k.recordedIn === ns) continue;
      const group = where.get(k.recordedIn) ?? [];
      const mine = group.find((g) => g.pod === u.pod);
      if (mine) mine.keys.push(k);
      else group.push({ pod: u.pod, keys: [k] });
      where.set(k.recordedIn, group);
    }
  }
  const notes: string[] = [];
  for (const [recordedIn, group] of where) {
    // the namespace its entry names: the record there goes too, as cni-gc removes the record of what it frees in the
    // namespace its entry names (before: only the note below, the record left saying attached until someone ran what
    // it named); where that cannot be done (the node not known: a gone pod's; the API refused, e.g. no rights there),
    // the note says what removes it
    const left = recordedIn === undefined ? group : await removeElsewhere(job, group, recordedIn, notes);
    if (left.length) notes.push(await noRecordNoteIn(job, left, ns, recordedIn, batch));
  }
  return notes.join('');
}

/**
 * Remove the records of `group`'s detached keys in agent namespace `recordedIn` (their entries on the node named it):
 * one merge patch per pod on its node's ConfigMap there (resolve/records.ts removeRecordKeys), each removal said in
 * `notes` ("removed … in namespace X too"), each failure said with its error. Returns the pods whose records were not
 * removed (their node not known, or the API refused), for noRecordNoteIn.
 */
async function removeElsewhere(job: Job, group: Unrecorded[], recordedIn: string, notes: string[]): Promise<Unrecorded[]> {
  const records = await import('../resolve/records.js');
  const left: Unrecorded[] = [];
  const removed: Unrecorded[] = [];
  const absent: Unrecorded[] = [];
  // the pods whose removal failed, by the failure's words: a batch's pods that meet one refusal (a 403 there) in one note
  const failed = new Map<string, Unrecorded[]>();
  // what is recorded there now (one list): a key that is not is not said removed (tryout 12, finding 5: a ConfigMap
  // deleted by hand, "removed the record" all the same); unreadable (a 403 there): each removal says what it meets
  const there = job.api ? await records.listRecords(job.api, recordedIn).catch(() => undefined) : undefined;
  for (const u of group) {
    const node = u.pod.node ?? u.pod.pod?.spec?.nodeName;
    if (!node || !job.api) {
      left.push(u);
      continue;
    }
    if (there && !u.keys.some((k) => there.some((r) => r.node === node && r.containerId === k.containerId && r.ifname === k.ifname))) {
      absent.push(u);
      continue;
    }
    const keys = [...new Set(u.keys.map((k) => records.recordKey(k.containerId, k.ifname)))];
    try {
      await records.removeRecordKeys(job.api, recordedIn, node, keys);
      removed.push(u);
    } catch (e) {
      const why = shown((e as Error).message);
      failed.set(why, [...(failed.get(why) ?? []), u]);
      left.push(u);
    }
  }
  const ifname = job.p.ifname;
  const ours = job.flags.agentNamespace ?? 'kube-system';
  const nodeOf = (u: Unrecorded) => u.pod.node ?? u.pod.pod?.spec?.nodeName;
  if (removed.length === 1) {
    notes.push(`note: removed the record of ${ifname} of ${removed[0]!.pod.describe} in namespace ${recordedIn} too (its attach recorded it there, not in ${ours}: its entry on node ${nodeOf(removed[0]!)} said so)\n`);
  } else if (removed.length > 1) {
    notes.push(`note: removed the records of ${ifname} of ${removed.length} pods (${someNames(removed.map((u) => `${u.pod.namespace}/${u.pod.name}`))}) in namespace ${recordedIn} too (their attaches recorded them there, not in ${ours}: their entries on their nodes said so)\n`);
  }
  if (absent.length) notes.push(`note: ${absentElsewhereWords(ifname, absent.map((u) => u.pod.describe), recordedIn, absent.length === 1 ? nodeOf(absent[0]!) : undefined)}\n`);
  for (const [why, us] of failed) {
    notes.push(us.length === 1
      ? `note: the record of ${ifname} of ${us[0]!.pod.describe} in namespace ${recordedIn} could not be removed (${why})\n`
      : `note: the records of ${ifname} of ${us.length} pods (${someNames(us.map((u) => `${u.pod.namespace}/${u.pod.name}`))}) in namespace ${recordedIn} could not be removed (${why})\n`);
  }
  return left;
}

/**
 * "no record of net1 of pod shop/web-1 is in namespace other either, where its entry on node node-a says its attach
 * recorded it (removed already): nothing to remove there" — of one pod (its node given) or several ("of 3 pods (…)",
 * "their entries on their nodes").
 */
function absentElsewhereWords(ifname: string, pods: string[], ns: string, node?: string): string {
  return pods.length === 1
    ? `no record of ${ifname} of ${pods[0]} is in namespace ${ns} either, where its entry on node ${node} says its attach recorded it (removed already): nothing to remove there`
    : `no records of ${ifname} of ${pods.length} pods (${someNames(pods.map((p) => p.replace(/^pod /, '')))}) are in namespace ${ns} either, where their entries on their nodes say their attaches recorded them (removed already): nothing to remove there`;
}

/**
 * The dry run's words for removeElsewhere: of the attachments it would detach (`found`: their sandbox ids and the
 * agent namespace their entries name) those recorded in another namespace than this detach's, with no record in its
 * own (its records as listed now), on a node that is known — "note: would remove the record of net1 of pod shop/web-1
 * in namespace other too (its attach recorded it there, not in kube-system: its entry on node node-a says so)", one
 * line each; '' when none (or when this namespace's records cannot be read: the detach would say what it met).
 */
async function wouldRemoveElsewhere(job: Job, pod: PodLookup, found: { containerId: string; ns: string }[]): Promise<string> {
  const ours = job.flags.agentNamespace ?? 'kube-system';
  const node = pod.node ?? pod.pod?.spec?.nodeName;
  const theirs = found.filter((f) => f.ns !== ours);
  if (!theirs.length || !node || !job.api) return '';
  const { listRecords } = await import('../resolve/records.js');
  const mine = await listRecords(job.api, ours).catch(() => undefined);
  if (!mine) return '';
  const ifname = job.p.ifname;
  const words: string[] = [];
  for (const f of theirs.filter((f) => !mine.some((r) => r.containerId === f.containerId && r.ifname === ifname))) {
    // as the detach: said only of a record that is there (one it cannot read, 403, it would try)
    const there = await listRecords(job.api, f.ns).catch(() => undefined);
    words.push(there && !there.some((r) => r.node === node && r.containerId === f.containerId && r.ifname === ifname)
      ? `note: ${absentElsewhereWords(ifname, [pod.describe], f.ns, node)}\n`
      : `note: would remove the record of ${ifname} of ${pod.describe} in namespace ${f.ns} too (its attach recorded it there, not in ${ours}: its entry on node ${node} says so)\n`);
  }
  return words.join('');
}

/**
 * One note of noRecordNote: the pods of `unrecorded`, whose records are in agent namespace `recordedIn` (their entries
 * said so), or in an unknown one (undefined: said as NS, with "if").
 */
async function noRecordNoteIn(job: Job, unrecorded: Unrecorded[], ns: string, recordedIn: string | undefined, batch?: { namespace: string | undefined }): Promise<string> {
  const { recordKey, recordName } = await import('../resolve/records.js');
  const theirs = recordedIn ?? 'NS';
  const other = { ...job.flags, agentNamespace: theirs };
  const pods = unrecorded.map((u) => u.pod);
  const one = pods.length === 1;
  const live = pods.some((p) => p.podExists);
  const again = batch
    ? detachCommandLine({ namespace: batch.namespace, selector: job.flags.all ? undefined : job.flags.selector }, job.p.ifname, other)
    : detachCommandLine({ namespace: pods[0]!.namespace, name: pods[0]!.name }, job.p.ifname, other);
  const byMap = new Map<string, string[]>();
  for (const u of unrecorded) {
    const node = u.pod.node ?? u.pod.pod?.spec?.nodeName;
    const map = node ? recordName(node) : 'cni-attach-node-NODE';
    const keys = byMap.get(map) ?? [];
    for (const k of u.keys) if (!keys.includes(JSON.stringify(recordKey(k.containerId, k.ifname)))) keys.push(JSON.stringify(recordKey(k.containerId, k.ifname)));
    byMap.set(map, keys);
  }
  const patches = [...byMap].filter(([, keys]) => keys.length > 0).map(([map, keys]) => `\`${removeKeysCommandLine(other, theirs, map, keys)}\``);
  const unknownNode = byMap.has('cni-attach-node-NODE') ? ' (NODE: the node it was attached on)' : '';
  const removes = `${live && job.flags.annotate !== false ? `\`${again}\` (this detach again with that namespace) or ` : ''}${patches.join(' and ')}${unknownNode} removes ${one ? 'it' : 'them'} and nothing else`;
  const what = one ? `${job.p.ifname} of ${pods[0]!.describe}` : `${job.p.ifname} of ${pods.length} pods (${someNames(pods.map((p) => `${p.namespace}/${p.name}`))})`;
  const shows = `saying attached (\`${listAllCommandLine(other)}\` shows ${one ? 'it' : 'them'})`;
  const whereItIs = recordedIn !== undefined
    ? `${one ? 'its attach recorded it' : 'their attaches recorded them'} in namespace ${recordedIn} (${one ? 'its entry' : 'their entries'} on the node said so), where ${one ? 'it stays' : 'they stay'}, ${shows}`
    : `if ${one ? 'its attach was' : 'their attaches were'} made with another --agent-namespace NS, ${one ? 'its record stays' : 'their records stay'} in NS, ${shows}`;
  return `note: the cluster records nothing of ${what} in namespace ${ns} (--agent-namespace), where this detach looked for ${one ? 'its record' : 'their records'}: ${whereItIs}; ${removes}\n`;
}

/** Declare what the detach will read on a pod's node before its sandbox look-up, which it then rides on (exec/batch.ts). */
async function readAheadOn(job: Job): Promise<(exec: Executor) => void> {
  const engine = await load.engine();
  return (exec) => {
    const { ctx, cache } = job.p.on(exec);
    engine.readAhead(ctx, cache, job.p.ifname, undefined, true);
  };
}

/**
 * A detach made whose pod's network-status update failed, or whose wait for it the user's signal stopped (the update
 * may have landed): exit 4, or 128+n, as attach's (cli/attach.ts annotateFailure). What is certain is said — the
 * interface and its IPAM lease are gone (a --force whose DEL did not succeed: forgotten, they may remain) — and that
 * the cluster's record of the attachment is kept: it is removed only once the update is known to have landed
 * (detachPod), so that the same command again finds it (leftBehind), makes sure of the update and removes the record,
 * saying so. Before, the line said nothing of the record, which the next detach then removed.
 */
function annotateFailure(ifname: string, o: Outcome, e: Error): UnreachableError | StoppedError {
  const forgot = forgottenOf(o).length > 0;
  const made = forgot ? `${ifname} is forgotten (its DEL did not succeed: its interface and IPAM lease may remain)` : `${ifname} is detached (its interface and IPAM lease are gone)`;
  const kept = "the cluster's record of the attachment is kept";
  const sig = stoppedBy(e);
  if (sig) return new StoppedError(sig, `stopped by ${signalName(sig)} while the pod's network-status update was being sent: ${made}; the update may or may not have landed, so ${kept}; run the same command again to make sure (it removes that record)`, 'recorded');
  return new UnreachableError(`${made}, but the pod's network-status annotation could not be updated (${e.message}), so ${kept}; run the same command again to retry (it removes that record)`, { cause: e });
}

/**
 * What a detach that found nothing on the node did with what an earlier one left (its record, kept while its
 * network-status update was not known to have landed: annotateFailure): "removed its network-status entry and its
 * record in the cluster, which an earlier detach left", or, the entry gone already (that update landed after all),
 * "removed its record in the cluster, which an earlier detach left (its network-status entry was gone already)".
 */
function leftBehindWords(o: Outcome): string {
  return o.statusEntryRemoved === false
    ? 'removed its record in the cluster, which an earlier detach left (its network-status entry was gone already)'
    : 'removed its network-status entry and its record in the cluster, which an earlier detach left';
}

function lines(ifname: string, o: Outcome): string[] {
  if (o.done.length === 0) return [];
  return o.done.map((d) => {
    if (d.uncached) return `nothing was recorded for ${ifname} in ${o.describe}; ran DEL of network ${d.network} anyway (DEL is idempotent)`;
    const via = d.via ? `; it was attached through ${d.via}, container id ${d.containerId}` : '';
    if (d.forced) {
      const del = d.forced.delError ? `DEL did not succeed (${d.forced.delError})` : 'DEL succeeded';
      return `${ifname} forgotten in ${o.describe} (network ${d.network}${via}): ${del}; removed its cache file${d.file ? ` ${o.cache.named(d.file)}` : ''}${d.forced.delError ? `; ${d.forced.mayRemain}` : ''}`;
    }
    return `${ifname} detached from ${o.describe} (network ${d.network}${d.fromIntent ? ', an interrupted attach' : ''}${via})`;
  });
}

/** What --force forgot of a pod whose DEL did not succeed (Detached.forced.delError): not detached, only forgotten. */
const forgottenOf = (o: Outcome): Detached[] => o.done.filter((d) => d.forced?.delError !== undefined);
/** What a pod's detach did detach: its DEL succeeded (or, forced, still succeeded). */
const detachedOf = (o: Outcome): Detached[] => o.done.filter((d) => d.forced?.delError === undefined);

/**
 * A batch pod's progress line for what its detach found, as the one-pod lines say it: "detached eth1", or, forced,
 * "forgotten eth1: DEL did not succeed (…); the link eth1 in pod shop/a and its IPAM lease may remain if no DEL freed
 * them" — never "detached" for a record only forgotten.
 */
function podLine(ifname: string, o: Outcome): string {
  const forgot = forgottenOf(o).map((d) => `forgotten ${ifname}${o.done.length > 1 ? ` (network ${d.network})` : ''}: DEL did not succeed (${d.forced!.delError}); ${d.forced!.mayRemain}`);
  return [...(detachedOf(o).length ? [`detached ${ifname}`] : []), ...forgot].join('; ');
}

/**
 * After a -l/--all detach: the cluster's records of this ifname in namespace (every namespace: undefined, -A) whose pod no longer exists (no pod of that
 * name and uid now), both read after the batch. A selector matches live pods only, so the batch did not look at them, and without a word the
 * user would think the selector's attachments all gone while a gone pod's lease leaks. One note names them (at most
 * a few, then a count) with the commands that free them. Records or pods that cannot be read add nothing.
 */
async function gonePodsRecords(job: Job, namespace: string | undefined): Promise<void> {
  try {
    const r = await import('../resolve/records.js');
    // read now, after the batch: a pod it detached (deleted while it ran) has no record left to name
    const [all, pods] = await Promise.all([r.listRecords(job.api!, job.flags.agentNamespace ?? 'kube-system'), job.api!.listPods(namespace)]);
    const live = new Map(pods.map((p) => [`${p.metadata?.namespace ?? namespace}/${p.metadata?.name}`, { ...(p.metadata?.uid ? { uid: p.metadata.uid } : {}) }]));
    // -A (namespace undefined): the records of every namespace, named NAMESPACE/POD
    const recs = all.filter((rec) => (namespace === undefined || rec.namespace === namespace) && rec.ifname === job.p.ifname && r.recordedPodGone(rec, live));
    // one note per cache dir the records name: the cni-gc that frees them reads that one (a gc of another keeps them)
    const byDir = new Map<string, AttachmentRecord[]>();
    for (const rec of recs) byDir.set(r.recordCacheDir(rec), [...(byDir.get(r.recordCacheDir(rec)) ?? []), rec]);
    for (const these of byDir.values()) {
      const gone = [...new Set(these.map((rec) => (namespace === undefined ? `${rec.namespace}/${rec.pod}` : rec.pod)))].sort();
      const one = gone.length === 1;
      const of = namespace === undefined ? 'any namespace' : `namespace ${namespace}`;
      const own = await recordFlags(job.flags, these[0]!);
      job.deps.io.err(
        `note: ${one ? `a pod of ${of} that no longer exists still has` : `${gone.length} pods of ${of} that no longer exist still have`} ${job.p.ifname} recorded (${shown(someNames(gone))}): ` +
          `no selector matches a gone pod, so this batch did not look at ${one ? 'it' : 'them'}; \`${gcCommandLine(own)}\` frees ${one ? 'it' : 'them'} (\`${namespace === undefined ? listCommandLine({ ...own, selector: undefined }).replace(/^kubectl cni-list/, 'kubectl cni-list -A') : listCommandLine({ ...own, selector: undefined, namespace })}\` shows ${one ? 'it' : 'them'})\n`,
      );
    }
  } catch {
    /* an index that cannot be read says nothing here: the batch stands */
  }
}

/** What the user's signal left of a detach it stopped (cli/bulk.ts): its DEL did not finish, its record stays. */
const STOP_WORDS = { undone: 'undone', recorded: 'stopped, still recorded (run the command again)' };

/**
 * -l / --all: every matching pod with bounded parallelism, each with its own record's --cni-path when none is given
 * (as one pod: recordedCniPath). On the user's signal the pods in flight are stopped (their
 * records stay, a DEL that finished is forgotten with its network-status), the rest not started (bulk.ts).
 */
async function detachMany(job: Job, namespace: string | undefined): Promise<void> {
  const { flags, deps } = job;
  // the batch is under way from its list on: the user's signal ends it with its summary (bulk.ts batchOf, forEachPod),
  // never by the exit of a command that began nothing (cli/main.ts), whatever step it came in; no change by itself
  // (holdBatch): before its pods begin, a second signal says nothing was being changed
  const release = holdBatch();
  try {
    const batch = await batchOf(flags, deps, job.api!, namespace, 'detach', await readAheadOn(job));
    if (!batch) return;
    const { pods, runtimes, parallel } = batch;
    // each pod's plugins where its own attach found them, as for one pod (its newest record's --cni-path, trusted only
    // where its node trusts it; --cni-path overrides): one list of the records for the batch, which also says which
    // pods an attach running here has not finished with (refuseIfAttaching)
    const records = import('../resolve/records.js').then((m) => m.listRecords(job.api!, flags.agentNamespace ?? 'kube-system'));
    records.catch(() => undefined);
    const recorded = new Map<Pod, Awaited<ReturnType<typeof recordedCniPath>>>();
    for (const pod of pods) {
      const m = pod.metadata!;
      recorded.set(pod, await recordedCniPath(flags, deps, job.api!, m.name!, 'cni-detach', { namespace: m.namespace ?? namespace, quiet: true, ...(flags.cniPath === undefined ? { records } : {}) }));
    }
    // said once per path, for all the pods whose records name it
    deps.io.err(recordedCniPathNotes(job.p.ifname, pods.filter((p) => recorded.get(p)!.cniPath !== undefined).map((p) => ({ pod: `${p.metadata!.namespace ?? namespace}/${p.metadata!.name}`, cniPath: recorded.get(p)!.cniPath! }))));
    const exec = await deps.localExecutor();
    // each note of the pods said once, with how many pods it held for (bulk.ts batchNotes)
    const notes = batchNotes(deps.io);
    const bjob: Job = { ...job, deps: { ...deps, io: notes.io }, records };
    const unknown = unknownWords(flags, namespace, pods, quitLocksOf(deps.hostname()));
    const words = { ...STOP_WORDS, unknown: unknown.hint, unknownFields: unknown.fields };
    // the batch's summary, once: at its end, or when a second signal quits it (the pods in flight unknown). A pod
    // with nothing attached as ifname is done (as one pod: exit 0, a note) and counted apart, in the line and in json
    let summarized = false;
    const summary = async (outcomes: PodOutcome<Outcome>[]): Promise<boolean> => {
      if (summarized) return false;
      summarized = true;
      notes.end();
      const nothing = (o: PodOutcome<Outcome>) => o.ok && o.value!.done.length === 0;
      if (flags.output === 'name') deps.io.out(outcomes.filter((o) => o.ok).map((o) => nameLine(o.pod)).join(''));
      else if (flags.output !== 'summary') {
        deps.io.out(await formatData(outcomes.map((o) => ({
          ...batchRecord(o, (v) => ({
            detached: detachedOf(v).map((d) => d.network),
            ...(nothing(o) ? { nothingAttached: true } : {}),
            ...(v.done.some((d) => d.sharedWith) ? { sharedStateRemovedFor: [...new Set(v.done.flatMap((d) => d.sharedWith?.ifnames ?? []))].sort() } : {}),
            ...(forgottenOf(v).length ? { forgotten: forgottenOf(v).map((d) => ({ network: d.network, delError: d.forced!.delError, mayRemain: d.forced!.mayRemain })) } : {}),
          })),
          ...(recordedIn(o) !== undefined ? { recordedCacheDir: recordedIn(o) } : {}),
          ...unknownFields(o, words),
        })), flags.output));
      } else {
        const n = outcomes.filter((o) => o.ok && detachedOf(o.value!).length > 0).length;
        const none = outcomes.filter(nothing).length;
        const forgot = outcomes.filter((o) => o.ok && forgottenOf(o.value!).length > 0).map((o) => o.pod);
        const also = forgot.length ? `; forgotten in ${forgot.length} (${someNames(forgot)}): their DEL did not succeed, so ${job.p.ifname} and its IPAM lease may remain there (each pod's line says why, and which DELs ran)` : '';
        deps.io.out(`${batchSummary(outcomes, `${job.p.ifname} detached from ${n} of ${outcomes.length} pods${none ? `, ${none} had nothing attached` : ''}${also}`, words)}${otherCacheDirs(outcomes, flags, { namespace, selector: flags.all ? undefined : flags.selector })}\n`);
      }
      return true;
    };
    const outcomes = await forEachPod(
      pods,
      parallel,
      deps.io,
      async (pod, handoff) => {
        const m = pod.metadata!;
        const own = recorded.get(pod)!;
        const podJob: Job = own.cniPath !== undefined || own.cniPathNote ? { ...bjob, flags: { ...flags, ...own }, p: prepare({ ...flags, ...own }, exec, bjob.deps, 'cni-detach') } : bjob;
        const lookup = await beforeChange((async () => (await load.pods()).lookupPodOf(pod, m.namespace ?? namespace!, m.name!, runtimes, lineTo(bjob.deps.io, 'note:'), await readAheadOn(podJob), deps.hostname(), undefined, exec))());
        // a detach made is finished, also after a signal: the records and network-status must match it
        const o = await detachPod(podJob, lookup, false, handoff);
        if (o.annotateError) throw annotateFailure(job.p.ifname, o, o.annotateError);
        // nothing in the cache dir given, while the pod's record names another: this pod failed (exit 3), as one pod;
        // its --cache-dir offered only where its node trusts that dir, else said with why
        if (o.done.length === 0 && !o.leftBehind) {
          const elsewhere = await recordedElsewhere(podJob, lookup, o.cache, lookup.executor ?? exec, true);
          if (elsewhere) throw elsewhere;
        }
        return o;
      },
      (o) => (o.done.length ? podLine(job.p.ifname, o) : `nothing attached as ${job.p.ifname}${o.leftBehind ? `; ${leftBehindWords(o)}` : ''}${o.attemptsRemoved?.length ? `; ${attemptsRemovedWords(job.p.ifname, o.attemptsRemoved)}` : ''}`),
      quitReport(deps.io, 'detach', words, summary),
    );
    await summary(outcomes);
    // the pods whose detached interface had no record where this batch read them: one note
    const unrecorded = outcomes.flatMap((o) => (o.ok && o.value!.unrecorded ? [o.value!.unrecorded] : []));
    const unrecordedNotes = unrecorded.length ? await noRecordNote(job, unrecorded, flags.agentNamespace ?? 'kube-system', { namespace }) : '';
    if (unrecordedNotes) deps.io.err(unrecordedNotes);
    if (!outcomes.some((o) => o.stop)) await gonePodsRecords(job, namespace);
    batchExit(outcomes, 'detach', words);
  } finally {
    release();
  }
}

export function detachCommand(deps: Deps = defaultDeps(stdio)): Command {
  const cmd = new Command('kubectl cni-detach').description(
    'Unplug an interface added by cni-attach: CNI DEL through the cached chain, then forget it.',
  );
  addTargetOptions(cmd, { confRequired: false, annotate: true, bulk: true });
  addDryRunOption(cmd, 'DEL');
  cmd.option(
    '--force',
    'forget the record even if its DEL fails or it cannot be read: runs DEL as best it can (--conf and --args override the cached ones), then removes the cache entry, the intent and a stale lock; the link and the IPAM lease may remain if no DEL freed them. Also detaches while the cluster records an attach of that interface from another host that may still run (within the time bound it recorded), and takes the lock such a command of another host left on the node once the time limit that lock holds has passed (nothing here can see another host\'s processes: --force is your word that it is gone)',
  );
  cmd.addHelpText(
    'after',
    `
Examples:
  kubectl cni-detach web-1 -n shop --ifname eth1
  kubectl cni-detach -l app=web -n shop --ifname eth1
  kubectl cni-detach --netns /var/run/netns/pod-a --ifname eth1
  kubectl cni-detach --netns /var/run/netns/gone --ifname eth1 --conf net.json   # DEL even without a cache entry

The config and the result of the ADD come from the cache, so no --conf is needed. A pod whose sandbox (or the pod
itself) is gone can still be detached: DEL runs without a network namespace and frees the IPAM lease.
Detaching something that is not attached is not an error (exit 0 with a note), like rm -f — unless the cluster
records it with another --cache-dir (attached, interrupted, or an attach that did not finish): exit 3, naming it.

A record nothing can clear (its DEL keeps failing: cached CNI_ARGS the plugin rejects, a plugin whose DEL fails when
nothing is there; or the cache file is cut short): --args and --conf replace the cached ones for the DEL; --force
forgets the record even when DEL fails, and says what may remain (the link, the IPAM lease):
  kubectl cni-detach --netns x --ifname eth1 --force --args ''        # --netns NAME is /var/run/netns/NAME
  kubectl cni-detach --netns x --ifname eth1 --force --conf fixed.json

Exit codes: 0 detached, or nothing attached (a note); 1 a plugin's DEL failed (the record stays, and a pod's record in
the cluster says the detach stopped: cni-list -A shows it; run it again, or --force), or the interface is busy (an
attach or detach holds it: try again); 2 bad usage or input; 3 target not found, or nothing in this --cache-dir while
the cluster records it with another; 4 cluster/runtime unreachable (after a DEL: detached, the pod's network-status
not written: run it again); 128+signal (129 SIGHUP, 130 SIGINT (Ctrl-C), 143 SIGTERM): stopped, the record kept and
said so in the cluster (run it again); a signal after the DEL finished stopped nothing: 0 (a note says so). With
-l/--all: that of the first pod that failed, or 128+signal.`,
  );
  cmd.action(async (podName: string | undefined, given: DetachFlags) => {
    const kind = targetKind(podName, given);
    const exec = await deps.localExecutor();
    prepare(given, exec, deps, 'cni-detach'); // the flags' own checks, before the cluster is asked
    if (given.parallel !== undefined) parseParallel(given.parallel);
    const api = kind === 'netns' ? undefined : await connect(given, deps);
    // one pod, no --cni-path: where its attach found the plugins (its record); -l/--all: each pod's (detachMany)
    const flags: DetachFlags = kind === 'pod' ? { ...given, ...(await recordedCniPath(given, deps, api!, podName!, 'cni-detach')) } : given;
    const p = prepare(flags, exec, deps, 'cni-detach');
    const namespace = api ? flags.namespace ?? api.defaultNamespace : undefined;
    const conf = await resolveConf(flags, deps, async () => api!, namespace, false);
    const job: Job = { flags, deps, p, ...(conf ? { conf } : {}), ...(api ? { api } : {}) };
    if (kind === 'pods') {
      if (conf) throw new UsageError('--conf/--net go with one pod; with -l/--all each pod is detached from its cache entry');
      // as attach's: a batch has no plan to print (and detachMany would run its DELs)
      if (flags.dryRun) throw new UsageError('--dry-run works on one pod at a time');
      // -A: the pods of every namespace (namespace undefined)
      return detachMany(job, flags.allNamespaces ? undefined : namespace!);
    }

    const engine = await load.engine();
    const pod = kind === 'pod' ? await lookupPodFor(flags, deps, api!, podName!, p.cache, flags.dryRun ? undefined : await readAheadOn(job)) : undefined;
    const target = pod ? undefined : await resolveNetns(exec, flags.netns!, false);
    if (flags.dryRun) {
      const { ctx, cache } = pod?.executor ? p.on(pod.executor) : p;
      const waits: string[] = [];
      // refused as the detach refuses (detachPod): while an attach of it runs here, whatever its node holds
      if (pod) await refuseIfAttaching(api!, flags, podOf(pod), pod.describe, undefined, true);
      const elsewhere: { containerId: string; ns: string }[] = [];
      const runs = await engine.planRecorded(ctx, cache, pod ? podRequest(job, pod) : netnsRequest(job, target!), 'DEL', (w) => waits.push(engine.gcWaitLine(w, deps.hostname(), ctx.timeoutMs)), (words) => deps.io.err(`note: ${words}\n`), (containerId, ns) => elsewhere.push({ containerId, ns }));
      if (runs.length === 0 && pod?.recordsUnread !== undefined) throw recordsUnreadError(p.ifname, pod.describe, cache, pod.recordsUnread, flags);
      // as the detach: nothing here, while the cluster records it with another cache dir, is exit 3 naming that dir
      const recordedElsewhereNow = runs.length === 0 && pod ? await recordedElsewhere(job, pod, cache, pod.executor ?? exec) : undefined;
      if (recordedElsewhereNow) throw recordedElsewhereNow;
      // what it would detach whose attach recorded it in another agent namespace, with no record in this one: the
      // detach removes that record there too (removeElsewhere), and its dry run says it would
      if (pod && api) {
        const words = await wouldRemoveElsewhere(job, pod, elsewhere);
        if (words) deps.io.err(words);
      }
      // nothing on the node, while the cluster holds write-ahead records of attaches that did not finish: the detach
      // removes them (forgetAttempts), and its dry run says it would
      if (runs.length === 0 && pod && api) {
        const { listRecords } = await import('../resolve/records.js');
        const would = await listRecords(api, flags.agentNamespace ?? 'kube-system').then((all) => attemptsOf(job, pod, all, cache.dir), () => []);
        const words = attemptsRemovedWords(p.ifname, would, true);
        if (words) deps.io.err(`note: ${words}\n`);
        // nothing of this pod's, while an earlier pod of its name (replaced since) left one: said, with its cni-gc
        const earlier = await earlierPodsWords(flags, deps, api, pod, cache, p.ifname);
        if (earlier) deps.io.err(`note: ${earlier}\n`);
      }
      const where = pod ? podWhere(pod) : { netns: target!.gone ? '(gone)' : target!.netnsPath, containerId: target!.containerId };
      return printPlan(deps.io.out, flags.output, where, runs, pod?.executor, undefined, waits);
    }
    // from here to the printed outcome, a signal stops the DEL (the record stays) or lets a finished detach stand
    const release = hold();
    try {
      let o: Outcome;
      if (pod) o = await detachPod(job, pod);
      else o = { describe: target!.describe, done: await engine.detach(p.ctx, p.cache, netnsRequest(job, target!)), cache: p.cache };
      if (o.done.length === 0 && pod?.recordsUnread !== undefined) throw recordsUnreadError(p.ifname, o.describe, o.cache, pod.recordsUnread, flags);
      // nothing in the cache dir given, while the cluster records it with another: exit 3 naming it, not used (cli/targets.ts)
      const elsewhere = o.done.length === 0 && !o.leftBehind && pod ? await recordedElsewhere(job, pod, o.cache, pod.executor ?? exec) : undefined;
      if (elsewhere) throw elsewhere;
      // -o name: the pod, also when nothing was attached (kubectl's `-o name` of a label already there); notes as summary's
      if (flags.output === 'name' && pod) deps.io.out(nameLine(pod.name));
      if (flags.output !== 'summary' && flags.output !== 'name') {
        deps.io.out(await formatData({
          detached: o.done.map((d) => ({
            network: d.network, ifname: p.ifname, containerId: d.containerId, interrupted: d.fromIntent, recorded: !d.uncached,
            ...(d.via ? { attachedThrough: d.via } : {}),
            ...(d.forced ? { forced: true, ...(d.forced.delError ? { delError: d.forced.delError, mayRemain: d.forced.mayRemain } : {}) } : {}),
            ...(d.sharedWith ? { sharedStateRemovedFor: d.sharedWith.ifnames } : {}),
          })),
          ...(o.attemptsRemoved?.length ? { removedAttemptRecords: o.attemptsRemoved.map((r) => ({ node: r.node, key: r.key, since: r.since })) } : {}),
        }, flags.output));
      } else if (o.done.length === 0) {
        const rest = o.leftBehind ? leftBehindWords(o) : (attemptsRemovedWords(p.ifname, o.attemptsRemoved ?? []) ?? 'nothing to do');
        deps.io.err(`note: nothing is attached as ${p.ifname} in ${o.describe} (no cache entry under ${o.cache.named(`${o.cache.dir}/results`)}); ${rest}\n`);
        // an earlier pod of its name (replaced since) left one in this cache: said from it (whether its sandbox still
        // runs, the cni-gc that frees it); else from the cluster's records of earlier pods
        const earlier = pod && api ? await earlierPodsWords(flags, deps, api, pod, o.cache, p.ifname) : undefined;
        if (earlier) deps.io.err(`note: ${earlier}\n`);
        else if (pod?.pod && api) await earlierPodsRecords(job, pod.pod, p.ifname);
      } else if (flags.output === 'summary') {
        deps.io.out(`${lines(p.ifname, o).join('\n')}\n`);
      }
      if (o.annotateError) throw annotateFailure(p.ifname, o, o.annotateError);
    } finally {
      release();
    }
  });
  return cmd;
}

export const run = (): Promise<never> => main(detachCommand());
