/** kubectl cni-list: the attachments this node's cache holds and those the cluster's attachment records name on other nodes, with their state and annotation. */
import { Command, Option } from 'commander';
import { ApiStatusError, CniAttachError, NotFoundError, SomeFailedError, UnreachableError, UsageError, foreignLimitPassed, foreignLimitWhen, freeInSecs } from '../errors.js';
import { summarizeResult } from '../cni/result.js';
import type { Classified, MarkWords } from '../resolve/attachment-state.js';
import type { Busy } from '../exec/lock.js';
import { addClusterOptions, collectList, nameAcrossNamespaces, namespaceOption, type CommonFlags, type KubectlFlags } from './options.js';
import { parseListFormat, printRows, type Row } from './list-print.js';
import { defaultDeps, prepareEngine, thisHostsEntries, unlessDenied, type Deps, type EngineFlags } from './context.js';
import { connect, hostOnlyNote, noClusterConfigured, withUserSelector } from './targets.js';
import { detachCommandLine, gcCommandLine, listAllCommandLine, listCommandLine, recordDetachLine, removeKeyCommandLine, removeKeysCommandLine, someNames, type ReachFlags } from './output.js';
import { describeError, main, stdio } from './main.js';
import { refuseUnknownNodes } from './node-judge.js';
import { load } from './load.js';
import { podArgument } from './argv.js';
import { posix } from 'node:path';
import { thisHost } from '../exec/host.js';
import { commandInParens, commandName } from '../exec/lock.js';
import type { KubeApi, Pod } from '../resolve/kube.js';
import type { AttachmentRecord, EntryPod, InvalidRecord } from '../resolve/records.js';
import { deleteStopped, type DeleteMark, type Found } from '../cni/cache.js';
import type { Executor } from '../exec/types.js';
import type { PodRuntime } from '../resolve/runtime.js';
import { isoSecond, isoSecondUp, runningFor } from '../duration.js';

interface ListFlags extends EngineFlags, KubectlFlags, Pick<CommonFlags, 'runtime' | 'dockerHost' | 'output' | 'agentNamespace' | 'agentImage'> {
  allNamespaces?: boolean;
  selector?: string;
  headers?: boolean;
  /** --node: nodes whose recorded attachments of live pods get their sandbox looked up there (repeatable, comma-separated). */
  node?: string[];
}

export type { Row } from './list-print.js';

function addresses(c: Classified): string[] {
  try {
    return c.entry.result ? summarizeResult(c.entry.result).ips.map((ip) => ip.address) : [];
  } catch {
    return [];
  }
}

function annotated(c: Classified): boolean | undefined {
  const v = c.livePod?.metadata?.annotations?.['k8s.v1.cni.cncf.io/network-status'];
  if (!c.livePod) return undefined;
  try {
    return (JSON.parse(v ?? '[]') as { interface?: string }[]).some((e) => e.interface === c.entry.ifName);
  } catch {
    return false;
  }
}

/**
 * A row for an attachment the cluster records on another node (resolve/records.ts): its state from the API alone —
 * 'attached' while a pod of that name and uid exists ('attaching' for a write-ahead record never settled, with its
 * age from `now` — but 'attached', REASON `record not settled`, when the pod's network-status names its interface,
 * which the attach writes only once its ADD finished; 'interrupted' for an attach that left something on the node), else 'pod gone' ('recorded' when the
 * pods could not be listed: live is null) — since that node's cache is not read (cni-list checks a 'pod gone' against
 * the API's pods first: recordVerdict, mismatchedRow). `command`: for a write-ahead record
 * that names its command (AttachmentRecord.by), whether that command still runs, where this host can tell (it ran
 * here: resolve/records.ts recordedCommand): 'running' keeps it attaching, 'gone' (or 'past', another host's past its
 * bound) makes it 'unsettled' — nothing will settle the record, and whether the attach finished is what its node holds
 * (cni-list --node, cni-gc); undefined (another host's, or not named): attaching, "still running, or its command was killed".
 */
/** The cache dir a row's record names when recordedCacheDir gives one (for the notes of rows that name no command yet). */
const recordedDirOf = new WeakMap<Row, { dir: string; node: string }>();
/** The rows whose record says they were attached with --no-annotate (AttachmentRecord.noAnnotate): see unannotated. */
const noAnnotateRows = new WeakSet<Row>();

export function recordRow(r: AttachmentRecord, live: Pod | undefined | null, flags: ReachFlags = {}, now = Date.now(), command?: 'running' | 'gone' | 'past'): Row {
  // the commands printed for it read the cache dir it names (a cni-gc of another dir keeps the record, a cni-detach
  // finds nothing there: resolve/records.ts recordedIn): cni-list's own --cache-dir when it is that one, the default
  // in no flag, another recorded dir as --cache-dir (recordedCacheDir) — in every command, REASON and note, so that a
  // pasted one works the first time (an outside tester's pasted cni-detach said "give --cache-dir …", exit 3, and the
  // REASON's cni-gc kept the record)
  const other = recordedCacheDir(r, flags);
  const row = { ...recordRowOf(r, live, recordReach(r, flags), now, command), cacheDir: r.cacheDir ?? DEFAULT_CACHE_DIR };
  if (r.noAnnotate) noAnnotateRows.add(row);
  if (!other) return row;
  const hint = `--cache-dir ${other}: its record's (not checked here)`;
  const out: Row = {
    ...row,
    // (its parenthesis left to REASON in -o json: the dir takes its room in -o wide's 80 columns)
    ...(row.remedy ? { remedy: row.remedy.replace(/^(cni-gc|cni-detach)\b/, `$1 --cache-dir ${other}`).replace(/ \([^)]*\)$/, '') } : {}),
    ...(row.clear ? { clearHint: row.clearHint ? `${row.clearHint}; ${hint}` : hint } : {}),
  };
  recordedDirOf.set(out, { dir: other, node: r.node });
  if (r.noAnnotate) noAnnotateRows.add(out);
  return out;
}

/**
 * The flags of the commands printed for a record: those cni-list was given, with the cache dir the record names —
 * cni-list's own --cache-dir when it is that one, none for the default, another recorded dir as --cache-dir
 * (recordedCacheDir). Pure.
 */
function recordReach(r: Pick<AttachmentRecord, 'cacheDir'>, flags: ReachFlags): ReachFlags {
  const { cacheDir: own, ...rest } = flags;
  const other = recordedCacheDir(r, flags);
  return other ? { ...rest, cacheDir: other } : own !== undefined && cacheDirOf(own) === (r.cacheDir ?? DEFAULT_CACHE_DIR) ? flags : rest;
}

/** The default libcni cache dir: a record without cacheDir names it (resolve/records.ts DEFAULT_CACHE_DIR). */
const DEFAULT_CACHE_DIR = '/var/lib/cni';

/** A --cache-dir as records name dirs: normalized, no trailing '/' (resolve/records.ts delPathsOf). */
function cacheDirOf(dir: string): string {
  const n = posix.normalize(dir);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

function recordRowOf(r: AttachmentRecord, live: Pod | undefined | null, flags: ReachFlags, now: number, command: 'running' | 'gone' | 'past' | undefined): Row {
  const alive = live?.metadata?.uid === r.uid;
  let annotated: boolean | undefined;
  if (alive) {
    try {
      annotated = (JSON.parse(live.metadata?.annotations?.['k8s.v1.cni.cncf.io/network-status'] ?? '[]') as { interface?: string }[]).some((e) => e.interface === r.ifname);
    } catch {
      annotated = false;
    }
  }
  const row: Row = {
    namespace: r.namespace, target: r.pod, node: r.node, ifname: r.ifname, network: r.network, addresses: r.addresses ?? [],
    containerId: r.containerId, state: live === null ? 'recorded' : alive ? 'attached' : 'pod gone', ...(annotated !== undefined ? { annotated } : {}),
  };
  if (row.state === 'recorded') {
    return { ...row, brief: 'pods could not be listed', reason: `recorded by cni-attach on node ${r.node}; whether pod ${r.namespace}/${r.pod} still exists is not known: the pods could not be listed` };
  }
  if (r.attaching && row.state === 'attached') {
    // written before its first ADD and never settled: still running, or its command died (SIGKILL, a laptop gone)
    const age = ageOf(r.since, now);
    const began = `an attach of ${r.ifname} began on node ${r.node} at ${r.since}${age ? ` (${age} ago)` : ''}`;
    const pid = r.by ? commandInParens(r.by, thisHost.host) : '';
    const clear = detachCommandLine({ namespace: r.namespace, name: r.pod }, r.ifname, flags);
    const mayKeep = 'the node may keep its intent (and maybe the interface and its lease): cni-detach runs its DEL and forgets it';
    if (annotated) {
      // the pod's network-status names the interface: written by the attach only once its ADD finished (annotate),
      // alongside the settle of this record, which did not land (its command quit or was killed then, or the API did
      // not answer it): the attachment stands; the node holds its result, and cni-gc, which visits the node of every
      // write-ahead of a live pod, settles the record from it
      return {
        ...row,
        brief: 'record not settled',
        reason: `an attach of ${r.ifname} began on node ${r.node} at ${r.since} and finished there (the pod's network-status names ${r.ifname}, which the attach writes only after its ADD), but its record still says attaching: its command${pid} quit or was killed before the record was settled, or the cluster did not answer it; cni-gc settles it from what node ${r.node} holds`,
        remedy: 'cni-gc settles its record',
        clear: gcCommandLine(flags),
      };
    }
    if (command === 'gone' || command === 'past') {
      // its command ran on this host and is gone, or ran elsewhere and is past its own bound (the record's until):
      // nothing will settle the record any more
      // the cni-list that shows what its node holds: of its namespace (a bare one lists the kubeconfig's: "No resources
      // found in default namespace." for an outside tester), with the flags that reach it (its cache dir: recordRow)
      const look = `${listCommandLine({ ...flags, namespace: r.namespace })} --node ${r.node}`;
      const gone = command === 'gone' ? `its command${pid} is gone` : `its command${pid} is past its time bound (${r.until}, which it recorded: its plugin runs and API requests have all ended by then)`;
      // its command of this host gone before the time bound it recorded: what it started on the node may still run
      // there, under its lock (until the time limit of that run), which cni-gc leaves busy until then (cni-list --node:
      // `attaching`, "its command gone; free in 66s") — so when cni-gc can act is said, by that bound at latest (a
      // tryout: -A said "unsettled, run cni-gc", and the cni-gc pasted left it alone for a minute)
      const lockedUntil = command === 'gone' && r.until !== undefined && Date.parse(r.until) > now ? r.until : undefined;
      const acts = lockedUntil ? `; cni-gc acts on it once node ${r.node}'s lock of that attach is free (what its command started there may run until its time limit, and cni-gc leaves it busy until then): by ${lockedUntil} at latest, the time bound the attach recorded` : '';
      // `unsettled`, not `interrupted`: whether the attach finished is what its node holds, which only a visit tells
      // (cni-list --node, cni-gc); `interrupted` read as "cni-detach undoes it", and undid finished attaches (tryout)
      return {
        ...row,
        state: 'unsettled',
        brief: lockedUntil
          ? `its command gone; free within ${runningFor(Math.ceil((Date.parse(lockedUntil) - now) / 1000) * 1000)}`
          : command === 'gone' ? `its command is gone${r.by ? commandInParens(r.by, thisHost.host, true) : ''}` : `past its bound ${r.until}`,
        // what its node holds decides — its result (the attach finished), its intent (it did not), nothing — and only a
        // visit tells: cni-gc makes it and does the right thing for each; a cni-detach offered here undid a finished
        // attach (an outside tester saw that after a kill -9'd batch)
        reason: `${began} and did not settle its record: ${gone} (killed, or the cluster could not be reached when it ended: it said so then); what node ${r.node} holds decides: its result (the attach finished there: cni-gc settles the record and writes the pod's network-status entry), its intent (it did not: the interface and its lease may remain, and cni-detach or cni-gc undoes it), or nothing (cni-gc forgets the record); \`${look}\` shows which${acts}`,
        // another host's (past its bound): its node may still hold that command's lock, killed, which cni-gc leaves
        // for ever ("1 busy") and only cni-detach --force takes — the cni-list --node that tells, and names the
        // command that clears it (an outside tester pasted the cni-gc offered here: it cleared nothing)
        ...(command === 'past'
          ? {
              remedy: `cni-list --node ${r.node} says what clears it`,
              clear: look,
              clearHint: `cni-gc settles it unless node ${r.node} still holds the lock of that command${r.by?.host ? ` of host ${r.by.host}` : ''}, killed — then only cni-detach --force takes it: that cni-list names the command`,
            }
          : {
              remedy: `cni-gc judges it on node ${r.node}`,
              clear: gcCommandLine(flags),
              clearHint: `it visits node ${r.node}; \`${look}\` shows what that node holds of it`,
              ...(lockedUntil ? { gcActsBy: lockedUntil } : {}),
            }),
        lookAt: { namespace: r.namespace, node: r.node, command: listCommandLine({ ...flags, namespace: undefined }) },
      };
    }
    const which =
      command === 'running'
        ? `its command${pid} runs right now`
        : `it is still running, or its command was killed${r.by ? ` (its command, ${commandName(r.by, thisHost.host)}: only on that host can it be told)` : ''}, and then ${mayKeep}${r.until ? `; it is taken as running until ${r.until} (its time bound, which it recorded: cni-detach of ${r.ifname} answers busy until then, unless given --force)` : ''}`;
    return {
      ...row,
      state: 'attaching',
      brief: `since ${r.since}${age ? ` (${age})` : ''}`,
      reason: `${began} and has not finished: ${which}`,
      ...(command === 'running' ? {} : { remedy: 'cni-detach clears it (once no attach runs)', clear }),
      // another host's, within the time bound it recorded: the cni-detach offered answers busy until then
      ...(command === undefined && r.until ? { clearHint: `until ${r.until}, the time bound that attach recorded, cni-detach answers busy: that host's command may still be running (after it, a lock of it left on its node, if any, is still respected until --force says that command is gone)` } : {}),
    };
  }
  if (r.interrupted && row.state === 'attached') {
    // its attach failed and so did its rollback (or its node was lost during the ADD): the node keeps its intent
    // (and maybe an interface and a lease)
    return {
      ...row,
      state: 'interrupted',
      brief: 'attach did not finish',
      reason: `an attach of ${r.ifname} failed on node ${r.node}${r.why ? `: ${r.why}` : ' and so did its rollback'}; the node keeps its record (and maybe the interface and its lease): cni-detach runs its DEL and forgets it (--force forgets it if that DEL keeps failing)`,
      remedy: 'cni-detach clears it (--force if its DEL fails)',
      clear: detachCommandLine({ namespace: r.namespace, name: r.pod }, r.ifname, flags),
      // cni-gc frees every interrupted attach it visits (a note grouping several offers it)
      clearAll: gcCommandLine(flags),
      clearHint: 'add --force only if its DEL keeps failing: then the record is forgotten whatever the DEL left',
    };
  }
  if (r.detachStopped && row.state === 'attached') {
    // a cni-detach began its DEL and did not finish (stopped part-way, or a plugin refused it), and said so in the
    // record as it ended (cli/detach.ts recordStoppedDel): `detach stopped`, as cni-list --node says it from the node's
    // mark (before: attached, REASON <none>, from anywhere but --node: a tryout)
    const s = r.detachStopped;
    const look = `${listCommandLine({ ...flags, namespace: r.namespace })} --node ${r.node}`;
    return {
      ...row,
      state: 'detach stopped',
      brief: s.failed ? 'its DEL failed part-way' : 'DEL stopped part-way',
      reason: `${deleteStopped({ command: s.command, at: s.at, host: s.by.host, pid: s.by.pid, ...(s.failed ? { failed: s.failed } : {}) }, thisHost.host)} on node ${r.node}, and said so in its record: ${r.ifname} in pod ${r.namespace}/${r.pod} and its IPAM lease may remain if no DEL freed them; run cni-detach again to finish it (DEL is idempotent), or cni-gc, which finishes it there; \`${look}\` reads what node ${r.node} holds of it`,
      remedy: 'cni-detach or cni-gc finishes its DEL',
      clear: detachCommandLine({ namespace: r.namespace, name: r.pod }, r.ifname, flags),
      clearAll: gcCommandLine(flags),
    };
  }
  if (row.state === 'pod gone') {
    return {
      ...row,
      brief: live ? 'pod replaced (another uid)' : 'pod deleted',
      reason: `${live ? `pod ${r.namespace}/${r.pod} is another pod now (uid ${live.metadata?.uid}, not ${r.uid})` : `pod ${r.namespace}/${r.pod} no longer exists`}; recorded on node ${r.node}${r.attaching ? ` by an attach begun at ${r.since} that never finished, where its intent (and maybe its interface and IPAM lease) may be held` : ', where its IPAM lease is held unless a cni-gc freed it there and stopped before it removed this record'}: cni-gc frees it there once that node's own entry says the same (its pod, uid and network: a record is only an index, and one that says otherwise is used for nothing), or forgets this record when that node holds nothing of it`,
      remedy: 'cni-gc frees it on its node (if its node agrees)',
      clear: gcCommandLine(flags),
    };
  }
  return row;
}

/**
 * A row for a record that says otherwise than what is known of its attachment (`why`): this host's cache entry under
 * its key (resolve/records.ts recordAgainstNode, as cni-gc judges it), or the API's pods where only the record is
 * there (recordAgainstPods). State `mismatched`, never `pod gone`: the record is used for nothing (cni-gc judges by its
 * node's entry), and its row names it and the kubectl patch that removes it. `held`: the pod the attachment looks
 * like it is of, named in the brief. `where`: the agent namespace and the record's ConfigMap (records.ts recordName); its
 * key is a valid record's (a ConfigMap key: JSON as it is). `nodeRead`: the node's entry was read (this host); otherwise the note says that
 * `cni-gc --node N --dry-run` reads it and says whether the record matches, before removing the record.
 */
export function mismatchedRow(
  r: AttachmentRecord & { key: string },
  why: string,
  where: { agentNamespace: string; configMap: string },
  flags: ReachFlags,
  held: { namespace: string; name: string } | undefined,
  nodeRead: boolean,
): Row {
  const { agentNamespace, configMap } = where;
  const key = r.key;
  // the cni-gc that reads its node reads the cache dir the record names (before: cni-list's, without the record's
  // --cache-dir, as no other printed command was: tryout)
  const gc = gcCommandLine(recordReach(r, flags));
  return {
    namespace: r.namespace, target: r.pod, node: r.node, ifname: r.ifname, network: r.network, addresses: r.addresses ?? [], containerId: r.containerId,
    state: 'mismatched',
    brief: held ? `record disagrees: ${held.namespace}/${held.name}'s?` : 'record disagrees',
    reason: `the cluster's record of ${r.ifname} on node ${r.node} (key ${key} of ConfigMap ${agentNamespace}/${configMap}) says pod ${r.namespace}/${r.pod} (uid ${r.uid}), but ${why}; the record is used for nothing (cni-gc judges by what node ${r.node} holds under its key): remove it with kubectl patch`,
    remedy: 'kubectl patch removes the record',
    clear: removeKeyCommandLine(flags, agentNamespace, configMap, JSON.stringify(key)),
    ...(nodeRead ? {} : { clearHint: `\`${gc} --node ${r.node} --dry-run\` first reads what node ${r.node} holds and says whether the record matches it` }),
    removal: { configMap, keyJson: JSON.stringify(key), patch: (keys) => removeKeysCommandLine(flags, agentNamespace, configMap, keys), ...(nodeRead ? {} : { readFirst: gc }) },
    cacheDir: r.cacheDir ?? DEFAULT_CACHE_DIR,
  };
}

/**
 * A plainly attached row (no REASON of its own) whose cache dir is not the one this cni-list reads (`--cache-dir`, or
 * the default): said in REASON, with the --cache-dir that its cni-detach and cni-check take — else it reads as one of
 * that dir's, and the cni-detach pasted with cni-list's flags finds nothing there (exit 3: an outside tester's). The row
 * is changed in place.
 */
function inOtherCacheDir(r: Row, flags: ReachFlags): void {
  const listed = cacheDirOf(flags.cacheDir ?? DEFAULT_CACHE_DIR);
  if (r.cacheDir === undefined || r.cacheDir === listed || r.state !== 'attached' || r.brief !== undefined) return;
  const flag = r.cacheDir === DEFAULT_CACHE_DIR ? `no --cache-dir (the default, ${DEFAULT_CACHE_DIR})` : `--cache-dir ${r.cacheDir}`;
  Object.assign(r, {
    brief: `in cache dir ${r.cacheDir}`,
    reason: `its attach kept it in cache dir ${r.cacheDir} on node ${r.node}, not in the one this cni-list reads (${listed}): its cni-detach and cni-check take ${flag}`,
  });
}

/**
 * A record judged before it is shown, as cni-gc judges records (never by its word alone):
 *  - this host's cache holds its key (`here`, every entry, before cni-list's filters): by that entry
 *    (records.ts recordAgainstNode): `{ here: true }` when it says what the entry says (the entry's own row stands for
 *    it), else its mismatch (`nodeRead`);
 *  - otherwise, by the pods: one of a live pod the API places on another node is a mismatch (recordOnOtherNode:
 *    never listed as being on its record's node); and when the API alone would call its pod gone (recordAgainstPods),
 *    a mismatch or undefined. `pods`: the pods listed, given only when they cover the pod the record names (its namespace listed).
 * undefined: shown as the API says (recordRow).
 */
function recordVerdict(
  records: typeof import('../resolve/records.js'),
  r: AttachmentRecord,
  here: Found[],
  hostname: string,
  pods: Pod[] | undefined,
): { here: true } | { mismatch: string; held?: EntryPod; nodeRead: boolean } | undefined {
  const held = r.containerId ? here.filter((f) => f.entry.containerId === r.containerId && f.entry.ifName === r.ifname) : [];
  if (held.length > 0) {
    const v = records.recordAgainstNode(r, held, r.node === hostname ? r.node : `${hostname} (this host)`);
    if ('mismatch' in v) return { mismatch: v.mismatch, ...(v.held ? { held: v.held } : {}), nodeRead: true };
    return { here: true };
  }
  if (!pods) return undefined;
  // a live pod's record on another node than the API's for that pod: not where its attachment is (never listed on it)
  const elsewhere = records.recordOnOtherNode(r, pods);
  if (elsewhere) return { mismatch: elsewhere, nodeRead: false };
  const uids = new Map(pods.map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, { uid: p.metadata?.uid }]));
  if (r.attaching || !records.recordedPodGone(r, uids)) return undefined;
  const v = records.recordAgainstPods(r, pods);
  return v ? { ...v, nodeRead: false } : undefined;
}

/**
 * The cache dir a record of another node names (AttachmentRecord.cacheDir: where that node keeps what the DEL needs),
 * when it is neither the default nor the one cni-list was given (`flags.cacheDir`); else undefined. It goes in the
 * commands printed for that record as --cache-dir (recordRow), said as the record's, not checked here: cni-list
 * visits no node (exec/trust.ts checks a dir only there). Without it the pasted command could not work (a cni-detach
 * finds nothing in the default and says which to give; a cni-gc keeps the record). A record's --cni-path stays out
 * of them: the commands take it from the record and check it on its node themselves.
 */
export function recordedCacheDir(r: Pick<AttachmentRecord, 'cacheDir'>, flags: ReachFlags): string | undefined {
  return r.cacheDir !== undefined && r.cacheDir !== DEFAULT_CACHE_DIR && r.cacheDir !== cacheDirOf(flags.cacheDir ?? DEFAULT_CACHE_DIR) ? r.cacheDir : undefined;
}

/**
 * A row for an entry of the cluster's records that is not valid (resolve/records.ts validateRecord): named by its
 * ConfigMap and key (`record:<configmap>/<key>`), none of its fields shown but in why (quoted and cut short), state
 * `invalid`, and the kubectl patch that removes it. No command uses it for anything (cni-gc leaves it).
 */
export function invalidRecordRow(r: InvalidRecord, agentNamespace: string, flags: ReachFlags = {}): Row {
  const key = r.shownKey;
  return {
    namespace: '-', target: `record:${r.configMap}/${key}`, node: r.node ?? '<none>', ifname: '-', network: '-', addresses: [], containerId: '-',
    state: 'invalid',
    brief: r.why,
    reason: `the record ${key} of ConfigMap ${agentNamespace}/${r.configMap} is not valid: ${r.why}; no command uses it (cni-gc and cni-detach leave it alone): remove it with kubectl patch`,
    remedy: 'kubectl patch removes it',
    clear: removeKeyCommandLine(flags, agentNamespace, r.configMap, r.keyJson),
  };
}

/** "45s", "12m", "3h", "2d" since an RFC 3339 time (kubectl's AGE, roughly); undefined for a time that does not parse. */
function ageOf(since: string, now: number): string | undefined {
  const t = Date.parse(since);
  if (Number.isNaN(t)) return undefined;
  const s = Math.max(0, Math.floor((now - t) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : s < 172_800 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86_400)}d`;
}

/**
 * A detach stopped row's note while a gone command of this host holds its lock until its time limit (exec/lock.ts
 * freeInMs): the cni-detach printed answers busy until then (an outside tester pasted it and got "busy").
 */
function freeInHint(busy: { freeInMs?: number; readAt?: number }, now = Date.now()): string {
  const secs = freeInSecs(busy, now)!;
  return `it answers busy until its lock is free, in ${secs}s (at ${isoSecondUp(now + secs * 1000)})`;
}

/**
 * The way out of another host's lock with a time limit (errors.ts foreignLimitPassed: defined), for a row: the
 * cni-detach --force that takes it (`force`, the command line; `does`: what it then does, "undoes it", "finishes its
 * DEL") and when — at once past the limit, else once it has passed (until then that command answers busy too, its
 * time said as foreignLimitWhen says it at `now`) — and, either way, only if that host's command is gone (only that
 * host can tell). undefined for any other holder. Before, a row of such a lock within its limit named no command.
 */
export function foreignLockClear(busy: Busy, force: string, does: string, now = Date.now()): Pick<Row, 'remedy' | 'clear' | 'clearHint'> | undefined {
  const passed = foreignLimitPassed(busy, thisHost.host);
  if (passed === undefined) return undefined;
  const only = `only if that command of host ${busy.host} is gone (only that host can tell)`;
  if (passed) return { remedy: `cni-detach --force ${does}`, clear: force, clearHint: `${only}: --force takes its lock` };
  return { remedy: `then cni-detach --force ${does}`, clear: force, clearHint: `${only}, and once its lock's time limit has passed: it ${foreignLimitWhen(busy, now)}; until then --force answers busy too` };
}

/**
 * What clears a record of this node's cache, by its state (issue 11: every state is reported with its reason and the
 * command that clears it): the cni-detach of its target (plain, or --force for a record that cannot be read) or
 * cni-gc (its target is gone). A record whose text lost its target gets the command with the target as a
 * placeholder (POD -n NAMESPACE, or --netns PATH for a cnitool-style container id: output.ts recordDetachLine).
 */
function clearing(c: Classified, flags: ReachFlags): Pick<Row, 'remedy' | 'clear' | 'clearHint' | 'clearAll'> {
  const target = c.pod ? { namespace: c.pod.namespace, name: c.pod.name } : c.entry.netns ? { netns: c.entry.netns } : undefined;
  const detach = (force: boolean) => recordDetachLine({ ...(c.pod ? { pod: c.pod } : {}), ...(c.entry.netns ? { netns: c.entry.netns } : {}), containerId: c.entry.containerId }, c.entry.ifName, flags, force);
  // another host's lock with a time limit (attachment-state.ts markUnderLock, attachUnderForeignLock): only a
  // cni-detach --force takes it, once that limit has passed; the plain one answers busy, and cni-gc leaves it for ever
  // (an attach of it, or a DEL that may be running: `attaching`, or `attached` with a DEL mark; a DEL stopped)
  const foreign = c.busy && (c.state === 'attaching' || c.state === 'detach stopped' || (c.state === 'attached' && c.deleting)) ? foreignLockClear(c.busy, detach(true), c.state === 'attaching' ? 'undoes it' : 'finishes its DEL') : undefined;
  if (foreign) return foreign;
  switch (c.state) {
    case 'attached':
    case 'attaching':
    case 'other node':
      // a command is working on it right now: nothing to clear (the next cni-list says what it left); or its pod's
      // own node holds it (gc's visited nodes only: attachment-state.ts World.node)
      return {};
    case 'unreadable':
      // the record has no config left: a forced detach forgets it without a DEL unless given the network's config
      return { remedy: 'cni-detach --force forgets it', clear: detach(true), clearHint: "with --conf FILE, the network's config, its DEL runs first and frees the lease" };
    case 'interface gone':
      return { remedy: 'cni-detach frees its lease', clear: detach(false) };
    case 'detach stopped':
      // its lock held by a gone command of this host until its time limit: the same cni-detach answers busy until then
      return { remedy: 'cni-detach or cni-gc finishes its DEL', clear: detach(false), ...(c.busy?.freeInMs !== undefined ? { clearHint: freeInHint(c.busy) } : {}) };
    case 'interrupted':
      return target ? { remedy: 'cni-detach or cni-gc undoes it', clear: detach(false), clearAll: gcCommandLine(flags) } : { remedy: 'cni-gc undoes it', clear: gcCommandLine(flags) };
    default:
      return { remedy: 'cni-gc frees it', clear: gcCommandLine(flags) };
  }
}

export function toRow(c: Classified, flags: ReachFlags = {}): Row {
  const a = annotated(c);
  return {
    namespace: c.pod?.namespace ?? '-',
    target: c.pod ? c.pod.name : c.entry.netns ? `netns:${c.entry.netns}` : c.file && c.state === 'unreadable' ? `record:${c.file}` : 'netns:?',
    node: c.livePod?.spec?.nodeName ?? '<none>',
    ifname: c.entry.ifName,
    network: c.entry.networkName,
    addresses: addresses(c),
    containerId: c.entry.containerId,
    state: c.state,
    ...(c.reason ? { reason: c.reason } : {}),
    ...(c.brief ? { brief: c.brief } : {}),
    ...clearing(c, flags),
    ...(a !== undefined ? { annotated: a } : {}),
    cacheDir: cacheDirOf(flags.cacheDir ?? DEFAULT_CACHE_DIR),
  };
}

/**
 * A live pod's attachment that is attached (nothing else to say of it) but not in its pod's network-status (ANNOTATED
 * no): said in REASON, with what writes it — the same cni-attach again, which finds the interface attached, runs no
 * plugin and writes the entry (cli/attach.ts annotate; the config as a placeholder: no record keeps it). Its attach
 * ended between its result and that write (killed: the tryout's kill -9 of a batch), the write failed (said then), it
 * was attached with --no-annotate, or someone removed the entry. A row whose record says --no-annotate
 * (AttachmentRecord.noAnnotate) gets no advice: REASON `attached with --no-annotate`, nothing to clear (the cni-attach
 * again would write the entry the user opted out of). The row is changed in place.
 */
function unannotated(r: Row, flags: ReachFlags, readOnNode: boolean): void {
  if (r.state !== 'attached' || r.annotated !== false || r.brief !== undefined || r.namespace === '-') return;
  if (noAnnotateRows.has(r)) {
    // its record says --no-annotate: the entry is missing on purpose, nothing to clear (a cni-attach again, the
    // advice before, would write the entry the user opted out of: an outside tester's)
    Object.assign(r, {
      brief: 'attached with --no-annotate',
      reason: `attached with --no-annotate: the pod's k8s.v1.cni.cncf.io/network-status was left alone on purpose, so it does not name ${r.ifname}; nothing to clear`,
    });
    return;
  }
  if (!readOnNode && r.node !== '<none>') {
    // only the cluster's record says attached: a cni-detach killed after its DEL and its network-status update, before
    // it removed the record, leaves the same row as an attach killed before that update — and the same cni-attach
    // again would attach it anew there (a tryout pasted it and got a new ADD); what the node holds tells which
    const look = `${listCommandLine({ ...flags, namespace: r.namespace, ...(recordedDirOf.has(r) ? { cacheDir: recordedDirOf.get(r)!.dir } : {}) })} --node ${r.node}`;
    Object.assign(r, {
      brief: 'not in the pod\'s network-status',
      reason: `the pod's k8s.v1.cni.cncf.io/network-status does not name ${r.ifname}, and only the cluster's record of it was read: either its attach ended before writing that entry (node ${r.node} holds it: the same cni-attach again finds it attached, runs no plugin and writes the entry), or a cni-detach of it stopped after its DEL, before it removed the record (node ${r.node} holds nothing of it: cni-detach removes the record); \`${look}\` reads node ${r.node} and says which`,
      remedy: `cni-list --node ${r.node} says what clears it`,
      clear: look,
      clearHint: `it reads node ${r.node}, and its row names the command: cni-attach (the node holds it) or cni-detach (it holds nothing of it)`,
    });
    return;
  }
  Object.assign(r, {
    brief: 'not in the pod\'s network-status',
    reason: `the pod's k8s.v1.cni.cncf.io/network-status does not name ${r.ifname}: its attach ended before writing it (killed, or the write failed), it was attached with --no-annotate, or the entry was removed; the same cni-attach again (network ${r.network}) finds ${r.ifname} attached, runs no plugin and writes it`,
    remedy: 'the same cni-attach again writes it',
    clear: detachCommandLine({ namespace: r.namespace, name: r.target }, r.ifname, recordedDirOf.has(r) ? { ...flags, cacheDir: recordedDirOf.get(r)!.dir } : flags, 'cni-attach'),
    clearHint: `FILE: the config of network ${r.network} it was attached with, or --net with its NetworkAttachmentDefinition${dirHint(r)}`,
  });
}

/**
 * For a row whose record names another cache dir than the default and cni-list's own (recordedCacheDir): that the
 * command's --cache-dir is the record's (without it the attach finds the interface but not its record there, and
 * refuses: "an interface named … already exists").
 */
function dirHint(r: Row): string {
  const d = recordedDirOf.get(r);
  return d ? `; --cache-dir ${d.dir}: its record's (not checked here)` : '';
}

/** A lock file whose holder is gone: harmless (the next command breaks it), listed so that nothing is hidden. */
function lockRow(l: { file: string; why: string }, flags: ReachFlags): Row {
  return {
    namespace: '-', target: `lock:${l.file}`, node: '<none>', ifname: '-', network: '-', addresses: [], containerId: '-', state: 'stale lock',
    reason: `${l.why}; the next cni-attach/cni-detach of it (or cni-gc) removes it`,
    brief: l.why,
    remedy: 'the next command or cni-gc removes it',
    clear: gcCommandLine(flags),
    cacheDir: cacheDirOf(flags.cacheDir ?? DEFAULT_CACHE_DIR),
  };
}

/** A row of another node's record of a live pod (`pod`), whose sandbox --node looks up on that node. */
interface Judged {
  row: Row;
  r: AttachmentRecord;
  pod: Pod;
}

/**
 * --node: the attachments of these rows (live pods' records on their node) judged on that node as cni-gc --node
 * judges what it holds (cli/node-judge.ts judgeOnNode: the sandbox each went into looked up there by the rule every
 * command judges by, all of a node's pods at once, then classify with the links the look-up read; the nodes reached
 * as attach reaches them): a sandbox that no longer runs there is `sandbox gone` (its lease is still held there: the
 * cni-gc --node that frees it); an interface not in its sandbox's namespace any more is `interface gone` (its lease
 * is still held: the cni-detach that frees it); one that could not be looked up stays `attached` with REASON
 * `sandbox not checked`, and the first such error is returned (the command's failure). The rows are changed in place.
 */
async function judgeOnNodes(flags: ListFlags, deps: Deps, runtimes: PodRuntime[], rows: Judged[], pods: Pod[]): Promise<Error | undefined> {
  const [{ judgeOnNode, recordFound, reachNode }, { CACHE_KIND }, { recordedIn, recordCacheDir }, { detachStoppedReason, namesSandboxInterface, markUnderLock }] = await Promise.all([import('./node-judge.js'), import('../cni/cache.js'), import('../resolve/records.js'), load.attachmentState()]);
  const exec = await deps.localExecutor();
  let first: Error | undefined;
  await Promise.all([...new Set(rows.map((j) => j.r.node))].map(async (node) => {
    const these = rows.filter((j) => j.r.node === node);
    const judged = await judgeOnNode(runtimes, node, these.map((j) => recordFound(j.r, CACHE_KIND)), pods, exec);
    // what the node's cache holds under each record's key (of the cache dir listed): a record of nothing there is not
    // an attachment, whatever its sandbox's links say (an outside tester saw `interface gone … lease still held` for
    // a record a killed cni-detach left after its DEL, while the node held no entry and no lease)
    const unheld = new Set<Judged>();
    // and the mark of a DEL of ours begun there and not finished, its lock free (cni/cache.ts DeleteMark): detach stopped
    const stopped = new Map<Judged, { mark: DeleteMark; words: MarkWords; busy: Busy | undefined }>();
    // and such a mark whose lock a command holds that may still run (this host's, live; another host's within its
    // time limit): a DEL under way now, attached until it ends — never "interface gone … no DEL of ours was under way"
    const deletingNow = new Map<Judged, { words: MarkWords; busy: Busy | undefined }>();
    // and those whose entry there names no interface in the sandbox (its result: an IPAM-only chain, a 0.2.0 result):
    // a link missing says nothing of them (the record, which carries no result, was judged by its link)
    const unclaimed = new Set<Judged>();
    try {
      const mine = these.filter((j, i) => !judged[i]!.unchecked && recordedIn(j.r, flags.cacheDir));
      if (mine.length > 0) {
        const { exec: there } = await reachNode(flags.runtime, deps.hostname(), runtimes, node, exec, true);
        const { cache } = prepareEngine({ ...flags, timeout: '60s' }, there!, deps);
        for (const j of mine) {
          // read in this order: the record (listed first), the links (the look-up above), the entry and its DEL mark
          // here, then its lock. `interface gone` (a record, no link, then an entry without a mark) is sound by it: a
          // DEL of ours that deleted the link before the look-up wrote its mark before, and removes it only after the
          // result. `detach stopped` (a mark, then the lock free) is not — a DEL running at the first read may have
          // finished before the lock's — so it stands only once the same mark is read again after the lock
          let held = await cache.find(j.r.containerId, j.r.ifname);
          const markOf = (h: Found[]) => h.find((f) => !f.unreadable && !f.intentOnly && f.deleting && f.entry.networkName === j.r.network);
          let marked = markOf(held);
          // its lock free, or held by a command that is gone until the time limit of what it started (exec/lock.ts
          // freeInMs): stopped (an outside tester saw `interface gone … lease still held` of such a DEL that had
          // finished); held by a live command: a DEL running now
          // (another host's: stopped once its time limit has passed since it last changed: markUnderLock)
          let busy = marked ? await cache.direct().lockHeld(j.r.containerId, j.r.ifname) : undefined;
          const force = `\`${detachCommandLine({ namespace: j.r.namespace, name: j.r.pod }, j.r.ifname, flags)} --force\``;
          let words = marked ? markUnderLock(marked.deleting!, busy, thisHost.host, force) : undefined;
          for (let round = 0; marked && words?.stopped && round < 2; round++) {
            const now = await cache.findNow(j.r.containerId, j.r.ifname);
            const again = markOf(now);
            if (again && JSON.stringify(again.deleting) === JSON.stringify(marked.deleting) && JSON.stringify(again.entry) === JSON.stringify(marked.entry)) break;
            held = now;
            marked = again;
            busy = marked ? await cache.direct().lockHeld(j.r.containerId, j.r.ifname) : undefined;
            words = marked ? markUnderLock(marked.deleting!, busy, thisHost.host, force) : undefined;
          }
          if (marked && words?.stopped) stopped.set(j, { mark: marked.deleting!, words, busy });
          else if (words) deletingNow.set(j, { words, busy });
          else if (held.length === 0) unheld.add(j);
          if (!held.some((f) => !f.unreadable && !f.intentOnly && f.entry.networkName === j.r.network && namesSandboxInterface(f.entry))) unclaimed.add(j);
        }
      }
    } catch (e) {
      first ??= e as Error;
    }
    these.forEach((j, i) => {
      const { row, r } = j;
      const c = judged[i]!;
      const stop = stopped.get(j);
      const now = deletingNow.get(j);
      const clear = detachCommandLine({ namespace: r.namespace, name: r.pod }, r.ifname, flags);
      // its record says a detach stopped during its DEL (recordRow), and its node, read now, decides: with no stopped
      // DEL there it is what the node holds (below), the record's word said in REASON where nothing else is
      if (r.detachStopped && !stop) {
        patchRow(row, {
          state: 'attached', brief: 'record says DEL stopped',
          reason: `the cluster's record says a cni-detach stopped during its DEL of it at ${r.detachStopped.at}, but node ${node} holds no stopped DEL of it (no mark whose lock is free): what node ${node} holds stands`,
          remedy: undefined, clear: undefined, clearAll: undefined, clearHint: undefined,
        });
      }
      if (stop) {
        const { mark, words, busy } = stop;
        patchRow(row, {
          state: 'detach stopped',
          brief: words.brief,
          reason: detachStoppedReason(mark, r.ifname, `the network namespace of sandbox ${r.containerId.slice(0, 12)} on node ${node}`, c.state === 'interface gone' && !unclaimed.has(j) ? false : undefined) + words.more,
          ...((words.force ? foreignLockClear(busy!, `${clear} --force`, 'finishes its DEL') : undefined) ?? {
            remedy: 'cni-detach or cni-gc finishes its DEL',
            clear,
            clearHint: busy?.freeInMs !== undefined ? freeInHint(busy) : undefined,
          }),
        });
      } else if (now) {
        // another host's DEL within its lock's time limit: what ends it once that limit has passed, and when
        const { words, busy } = now;
        if (words.brief) patchRow(row, { brief: words.brief, reason: words.more, ...(busy ? foreignLockClear(busy, `${clear} --force`, 'finishes its DEL') : {}) });
      } else if (unheld.has(j)) {
        patchRow(row, {
          state: 'mismatched',
          brief: 'node holds nothing of it',
          reason: `the cluster records ${r.ifname} attached on node ${node} since ${r.since}, but node ${node}'s cache holds nothing of it (no result, no intent): a cni-detach stopped after its DEL ran, before it updated the cluster, or the entry was removed there by hand${c.state === 'interface gone' ? `; ${r.ifname} is not in its sandbox either` : ''}; cni-detach removes the pod's network-status entry and this record`,
          remedy: 'cni-detach removes the record',
          clear: detachCommandLine({ namespace: r.namespace, name: r.pod }, r.ifname, flags),
          clearHint: undefined,
        });
      } else if (c.state === 'interface gone' && unclaimed.has(j)) {
        // (its result names no interface in the sandbox: attached, as the record says)
      } else if (c.unchecked) {
        first ??= c.unchecked;
        Object.assign(row, { brief: 'sandbox not checked', reason: `its sandbox ${r.containerId.slice(0, 12)} could not be looked up on node ${node}: ${describeError(c.unchecked)}` });
      } else if (c.state === 'sandbox gone') {
        Object.assign(row, {
          state: 'sandbox gone',
          brief: 'sandbox not running',
          reason: `its sandbox ${r.containerId.slice(0, 12)} no longer runs on node ${node} (the pod has a new one, or none): what was attached to it is stale, and its IPAM lease is still held there: cni-gc --node ${node} frees it`,
          remedy: 'cni-gc --node frees it',
          clear: `${gcCommandLine(flags)} --node ${node}`,
        });
      } else if (c.state === 'interface gone' && !recordedIn(r, flags.cacheDir)) {
        // its record names another cache dir, which this cni-list did not read there: whether a DEL of ours was under
        // way (its mark) and what holds the lease are in that one (a tryout saw "deleted outside cni-attach … lease
        // still held" for an interface our own cni-detach had deleted, its lease freed)
        const dir = recordCacheDir(r);
        const look = `${listCommandLine({ ...flags, namespace: r.namespace, cacheDir: dir })} --node ${node}`;
        Object.assign(row, {
          state: c.state, brief: c.brief,
          reason: `${r.ifname} is not in the network namespace of sandbox ${r.containerId.slice(0, 12)} on node ${node} any more; its record names cache dir ${dir}, which this cni-list (--cache-dir ${flags.cacheDir}) did not read there: whether a DEL of ours stopped part-way and whether its lease is still held is what that one holds; \`${look}\` reads it`,
          remedy: `cni-list --cache-dir ${dir} --node ${node} reads its cache`,
          clear: look,
        });
      } else if (c.state === 'interface gone') {
        Object.assign(row, { state: c.state, brief: c.brief, reason: c.reason, remedy: 'cni-detach frees its lease', clear: detachCommandLine({ namespace: r.namespace, name: r.pod }, r.ifname, flags) });
      }
    });
  }));
  return first;
}

/** Row fields set to the patch's, those it gives as undefined removed (a row's -o json/yaml never holds one). */
function patchRow(row: Row, patch: Partial<Row>): void {
  Object.assign(row, patch);
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete (row as unknown as Record<string, unknown>)[k];
}

/**
 * --node: the write-ahead records (attaching: an attach begun, its record never settled) of live pods on those nodes,
 * judged by what the node holds of them as cni-gc judges them (cli/node-judge.ts writeAheadOnNode, one rule; the node
 * reached as cni-gc reaches it, its cache at the record's cache dir when that is --cache-dir's, else not read): its
 * result and no lock — the attach finished there — `attached`, REASON `record not settled` (cni-gc settles it; the
 * row is then judged there as the others are: `toJudge`); its intent, lock free, `interrupted`; a lock held,
 * `attaching`; nothing at all, `interrupted` once its command (of this host) is gone (cni-gc forgets the record),
 * else as the record says. An interrupted record (an attach whose rollback failed) likewise, but for its intent (or a
 * result) held there: its own words stand. Before, such a row said `interrupted` with a cni-detach to run while cni-gc --dry-run said
 * it would settle it as attached. The rows are changed in place; the first error (a node not reached, a read that
 * failed) is returned, and its rows stay as their record says, their reason saying why.
 */
async function judgeWriteAheads(flags: ListFlags, deps: Deps, runtimes: PodRuntime[], rows: (Judged & { command: 'running' | 'gone' | 'past' | undefined })[], toJudge: Judged[]): Promise<Error | undefined> {
  const [{ reachNode, sandboxLockOf, writeAheadOnNode }, { recordedIn, otherHostWithinBound }, { attachUnderForeignLock }, { recordsNamespaceOf }] = await Promise.all([import('./node-judge.js'), import('../resolve/records.js'), load.attachmentState(), import('../cni/cache.js')]);
  const ns = flags.agentNamespace ?? 'kube-system';
  const localExec = await deps.localExecutor();
  let first: Error | undefined;
  const notRead = (row: Row, node: string, e: unknown) => {
    first ??= e as Error;
    patchRow(row, { reason: `${row.reason ?? ''}; what node ${node} holds of it could not be read: ${describeError(e)}` });
  };
  await Promise.all([...new Set(rows.map((j) => j.r.node))].map(async (node) => {
    const these = rows.filter((j) => j.r.node === node && recordedIn(j.r, flags.cacheDir));
    if (these.length === 0) return;
    let reached: { exec?: Executor; reachedBy?: PodRuntime };
    try {
      reached = await reachNode(flags.runtime, deps.hostname(), runtimes, node, localExec, true);
    } catch (e) {
      for (const { row } of these) notRead(row, node, e);
      return;
    }
    const exec = reached.exec!;
    const { cache } = prepareEngine({ ...flags, timeout: '60s' }, exec, deps);
    for (const j of these) {
      const { row, r } = j;
      try {
        const v = await writeAheadOnNode(r, cache, () => sandboxLockOf(r, node, cache, reached.reachedBy, exec));
        // an interrupted record (its attach failed, and so did its rollback) whose node holds its intent, or an entry
        // settled since: its own words stand
        if (r.interrupted && (v.state === 'interrupted' || v.state === 'finished')) continue;
        const began = `an attach of ${r.ifname} began on node ${node} at ${r.since}`;
        const pid = r.by ? commandInParens(r.by, thisHost.host) : '';
        // what the node holds was attached by an attach that records it in another agent namespace (its entry says so):
        // this write-ahead is of another attach of it (one that found it attached, then quit), not an attachment of this
        // namespace — cni-gc does not settle it (that would copy the other namespace's record here), it forgets it once
        // its command is gone (gc.ts recordsPass). Before, this row said `attached`, `record not settled`, with a cni-gc
        // offered to settle it, which then forgot it.
        const theirs = v.state === 'finished' ? recordsNamespaceOf(v.held.entry) : undefined;
        if (v.state === 'finished' && r.attaching && theirs !== undefined && theirs !== ns) {
          const there = `node ${node} holds ${r.ifname} attached by an attach that records it in namespace ${theirs} (its entry on the node says so; \`${listAllCommandLine({ ...flags, agentNamespace: theirs })}\` shows it)`;
          const gone = j.command === 'gone' || j.command === 'past';
          patchRow(row, gone
            ? {
                state: 'unsettled', brief: `attached in namespace ${theirs}`, addresses: [],
                reason: `${began} and did not settle its record: ${j.command === 'past' ? `its command${pid} is past its time bound (${r.until}, which it recorded)` : `its command${pid} is gone`}; ${there}: this write-ahead is of another attach of it, and cni-gc forgets it (settling it would copy that record into namespace ${ns})`,
                remedy: 'cni-gc forgets its record', clear: gcCommandLine(flags), clearHint: undefined,
              }
            : {
                state: 'attaching', brief: 'another attach of it', addresses: [],
                reason: `${began} and has not settled its record, while ${there}: ${j.command === 'running' ? 'its command runs right now' : `its command${pid} may still be running${r.until ? ` (taken as running until ${r.until}, the time bound it recorded)` : ''}`}; its record goes when it ends, or cni-gc forgets it once its command is gone`,
                remedy: undefined, clear: undefined, clearHint: undefined,
              });
          continue;
        }
        if (v.state === 'finished') {
          let addresses = row.addresses;
          try {
            addresses = summarizeResult(v.held.entry.result).ips.map((ip) => ip.address);
          } catch {
            /* not a result this tool can read: the record's */
          }
          patchRow(row, {
            state: 'attached', containerId: v.held.entry.containerId, addresses, brief: 'record not settled',
            reason: `${began} and finished there (node ${node} holds its result: no intent, no lock), but its record still says attaching: its command${pid} quit or was killed before it settled the record${row.annotated === false ? " and wrote the pod's network-status" : ''}, or the cluster did not answer it; cni-gc settles it from what node ${node} holds${row.annotated === false ? ", and writes the pod's network-status entry as the attach would have" : ''}`,
            remedy: 'cni-gc settles its record', clear: gcCommandLine(flags), clearHint: undefined,
          });
          toJudge.push({ row, r: { ...r, containerId: v.held.entry.containerId }, pod: j.pod });
        } else if (v.state === 'interrupted' && r.attaching && otherHostWithinBound(r, j.command)) {
          // another host's command, within the time bound it recorded: cni-detach answers busy, cni-gc leaves it
          patchRow(row, {
            state: 'attaching', brief: `until ${r.until}`,
            reason: `${began} and has not finished: node ${node} holds its intent, its lock free; its command${pid} may still be running (only on that host can it be told): it is taken as running until ${r.until}, the time bound it recorded — until then cni-detach answers busy and cni-gc leaves it; after it, either undoes it`,
            remedy: undefined, clear: undefined, clearHint: undefined,
          });
        } else if (v.state === 'interrupted') {
          patchRow(row, {
            state: 'interrupted', brief: 'attach did not finish',
            reason: `${began} and did not finish: node ${node} holds its intent and no result, its lock free (its command${pid} was killed, or its rollback failed): the interface and its lease may remain; cni-detach or cni-gc undoes it`,
            remedy: 'cni-detach clears it', clear: detachCommandLine({ namespace: r.namespace, name: r.pod }, r.ifname, flags), clearHint: undefined,
          });
        } else if (v.state === 'busy' && attachUnderForeignLock(v.busy)) {
          // another host's command holds its lock: not "right now" (nobody here can know), nor "list again once it is
          // done" (it may never be): when its time limit passed or passes, and the cni-detach --force that ends it
          // (within its limit too: what ends it once that limit has passed, and when)
          const detach = detachCommandLine({ namespace: r.namespace, name: r.pod }, r.ifname, flags);
          const foreign = attachUnderForeignLock(v.busy, ` on node ${node}`, `\`${detach} --force\``)!;
          patchRow(row, {
            state: 'attaching', brief: foreign.brief,
            reason: `${began} and has not finished: ${foreign.why}`,
            ...foreignLockClear(v.busy, `${detach} --force`, 'undoes it'),
          });
        } else if (v.state === 'busy') {
          const gone = v.busy.freeInMs !== undefined;
          patchRow(row, {
            state: 'attaching',
            brief: gone ? `its command gone; free in ${freeInSecs(v.busy)}s` : `attach running${commandInParens(v.busy, thisHost.host, true)}`,
            reason: gone
              ? `${began} and has not finished: its command${commandInParens(v.busy, thisHost.host)} is gone, but what it started on node ${node} may run until its time limit ends; its lock is free in ${freeInSecs(v.busy)}s: then cni-detach or cni-gc undoes it`
              : `${began} and has not finished: a cni-attach/cni-detach${commandInParens(v.busy, thisHost.host)} holds its lock on node ${node} right now; list again once it is done`,
            remedy: undefined, clear: undefined, clearHint: undefined,
          });
        } else if (j.command === 'gone' || j.command === 'past' || r.interrupted) {
          const gone = j.command === 'past' ? `its command${pid} is past its time bound (${r.until}, which it recorded)` : `its command${pid} is gone`;
          patchRow(row, {
            state: 'interrupted', brief: 'node holds nothing of it',
            reason: `${began} and did not finish: ${r.interrupted ? 'its record says interrupted' : gone}, and node ${node} holds nothing of it (no intent, no result, no lock): only the record is left; cni-gc forgets it`,
            remedy: 'cni-gc forgets its record', clear: gcCommandLine(flags), clearHint: undefined,
          });
        } else patchRow(row, { reason: `${row.reason ?? ''}; node ${node} holds nothing of it yet (no intent, no result, no lock)` });
      } catch (e) {
        notRead(row, node, e);
      }
    }
  }));
  return first;
}

export function listCommand(deps: Deps = defaultDeps(stdio)): Command {
  const cmd = new Command('kubectl cni-list')
    .description(
      "List the attachments in this node's CNI cache (what cni-attach and cnitool made) and the ones the cluster's attachment records name on other nodes, with their state.",
    )
    .argument('[pods...]', 'only these pods (in -n NAMESPACE; POD or pod/POD; several as kubectl get pods a b)', (v: string, prev: string[] = []) => [...prev, podArgument(v)])
    // "Options" before "Global options", as in the other commands' --help (commander lists groups by first option)
    .option('-A, --all-namespaces', 'every namespace, and attachments to bare network namespaces')
    .option('-l, --selector <selector>', 'only pods matching this label selector (e.g. app=web)')
    .addOption(namespaceOption("only this namespace (default: the context's, else default)"));
  addClusterOptions(cmd);
  cmd.addHelpText(
    'after',
    `
The cluster is asked for the pods (their state), the attachment records (ConfigMaps cni-attach-node-<node> in
--agent-namespace: the rows of other nodes, whose state comes from the API alone; a record that this host's cache
or the API's pods contradict is shown mismatched, with the kubectl patch that removes it) and, through --runtime, this
host's sandboxes. cni-list runs no plugin, and starts no agent pod unless --node asks it to look at a node's
sandboxes (other nodes' rows are otherwise judged by the API alone: a live pod whose sandbox died there shows
attached); --agent-image and --cni-path otherwise only go into the commands it prints (cni-detach, cni-gc), so that
they work as pasted. --no-cluster asks neither the cluster nor the runtime: the rows and states are those of this
node's cache alone; the kubeconfig is still read for the namespace and a --kubeconfig/--context/--user given (checked
as kubectl checks them), and the flags of requests and runtimes are refused with it (exit 2). With no kubeconfig at all a note says so (exit 0); a kubeconfig that cannot be used
(--kubeconfig missing, a --context, --cluster or --user it does not define) is refused at once (exit 2; 4 for a
$KUBECONFIG naming no file that exists); a cluster that is configured but cannot be asked, or a runtime here, fails
the command after the rows it could make (exit 4; with no rows, the error alone). A POD goes with -n, not with -A or
-l (exit 2, as kubectl get refuses them); several PODs are one table, in the order given (a name given twice is
listed twice, as kubectl get lists it); a POD that nothing holds and the API does not have is not found: the rows of
the others first, then one error line for each such name (exit 3).
Without -A, attachments of bare network namespaces are not shown: a note counts them.`,
  );
  cmd
    .option('--cache-dir <dir>', 'libcni cache directory', '/var/lib/cni')
    .option('--cni-path <dirs>', 'plugin directories, colon-separated: runs none; carried into the commands it prints')
    .option('--no-cluster', 'do not ask the cluster and the runtime; show what the cache says')
    .option('--node <name>', "only this node's rows, its live pods' attachments judged there as cni-gc --node judges them (reached as cni-attach reaches it: an agent pod, a kind node container): `sandbox gone`, `interface gone`, `detach stopped`; a name of no pod and no record is not found (exit 3); repeatable, or comma-separated", collectList)
    .addOption(new Option('-o, --output <format>', 'output format: table, wide, name, json, yaml (a List), jsonpath=TEMPLATE').default('table').argParser(parseListFormat))
    .option('--no-headers', 'table and wide: no header line');
  cmd.action(async (names: string[], flags: ListFlags) => {
    // the pods named (as given: a name twice is listed twice, as kubectl get lists it), and each name once, for the filters
    const namedPods = new Set(names);
    const named = names.length > 0;
    // kubectl get's refusals of a name with -A or -l (k8s.io/cli-runtime resource.Builder), before anything is asked
    if (named && flags.allNamespaces) throw nameAcrossNamespaces();
    if (named && flags.selector !== undefined) throw new UsageError('name cannot be provided when a selector is specified: give the pod or -l, not both');
    if (flags.node?.includes('')) throw new UsageError('--node: an empty node name (names, repeated or comma-separated: --node a,b --node c)');
    if (flags.node && flags.cluster === false) throw new UsageError('--node needs the cluster (it reaches the node through it): drop --no-cluster');
    const exec = await deps.localExecutor();
    const { cache } = prepareEngine({ ...flags, timeout: '60s' }, exec, deps);
    const { classify, podOf } = await load.attachmentState();
    let found = await thisHostsEntries(cache, deps);
    // every entry of this host's cache, before the filters: what judges a record of an attachment held here
    const everyHere = found;

    let api;
    // the cluster tells the default namespace, whether pods and sandboxes still exist, and (its attachment records)
    // what is attached on other nodes — so it is asked also when this host's cache holds nothing for the namespace.
    // As cni-gc: no cluster configured at all is this host's cache alone (a note, exit 0); a cluster that is
    // configured but cannot be asked (or a runtime here) is the command's failure — the rows it could make are
    // printed, then the error (exit 4; 2 for a kubeconfig that cannot be used), as kubectl get fails then.
    // A kubeconfig that cannot be used (--kubeconfig missing, a --context/--cluster/--user it does not define,
    // $KUBECONFIG naming no file that exists) is refused at once, as kubectl refuses it: no rows, exit 2 (4 for
    // $KUBECONFIG), never this host's cache alone with a note — a typo is not "no cluster".
    let apiError: string | undefined;
    // says: after the rows that could be made; saysEmpty (when it differs): when there are none to show
    const failures: { error: unknown; says: string; saysEmpty?: string }[] = [];
    const clusterFailed = (e: unknown) => {
      apiError = describeError(e);
      failures.push({
        error: e,
        says: `the cluster could not be asked: ${apiError}; the states are from this host's cache only, and attachments on other nodes are not shown`,
        saysEmpty: `the cluster could not be asked: ${apiError}; this host's cache (${cache.dir}) has nothing to show, and attachments on other nodes are not known without the cluster`,
      });
    };
    if (flags.selector !== undefined && flags.cluster === false) throw new UsageError('-l needs the cluster (it selects pods by their labels): drop --no-cluster');
    if (flags.cluster !== false) {
      try {
        api = await connect(flags, deps);
      } catch (e) {
        if (!noClusterConfigured(e)) throw e;
        // -A asks for every namespace of the cluster: without one, that is the command's failure (exit 4), not a note
        if (flags.allNamespaces) throw new UnreachableError(`-A: ${(e as Error).message} (-A lists the attachments of the whole cluster; --no-cluster -A lists those of this host's CNI cache alone)`, { cause: e, ...(e instanceof CniAttachError && e.fix ? { fix: e.fix } : {}) });
        deps.io.err(hostOnlyNote(e));
        apiError = describeError(e);
      }
    }
    const namespace = flags.namespace ?? api?.defaultNamespace ?? (flags.cluster === false ? await kubeconfigNamespace(flags, deps) : undefined) ?? 'default';
    // attachments of bare network namespaces belong to no namespace: only -A shows them (counted for a note)
    const bare = !flags.allNamespaces && !named && flags.selector === undefined ? found.filter((f) => !f.unreadable && !podOf(f.entry)).length : 0;
    found = found.filter((f) => {
      if (f.unreadable) return !named; // it names no pod: shown unless pods were asked for
      const p = podOf(f.entry);
      if (named) return p?.namespace === namespace && namedPods.has(p.name);
      if (flags.allNamespaces) return true;
      return p?.namespace === namespace;
    });

    // an unfinished attach's intent under a lock held now is an attach still running, not an interrupted one
    const lockHeld = (containerId: string, ifname: string) => unlessDenied(cache, deps, 'the locks', () => cache.lockHeld(containerId, ifname), undefined);
    // the cni-detach --force its reasons name, with the flags cni-list was given (as its rows' commands)
    const forceLine = (of: Parameters<typeof recordDetachLine>[0], ifname: string) => recordDetachLine(of, ifname, flags, true);
    // what was judged from reads at different moments (the cache first, then links and locks) is read again (classify)
    const reread = (containerId: string, ifname: string) => cache.find(containerId, ifname);
    let world: Parameters<typeof classify>[1] = { exec, lockHeld, forceLine, reread };
    let podList: Pod[] | undefined;
    // -l: the pods the API lists for the selector (an unreachable cluster is an error here: nothing to select by); the
    // rows of this host's cache and of the records on other nodes alike are those of the pods it selects
    let selected: Set<string> | undefined;
    if (flags.selector !== undefined) {
      if (!api) throw new UnreachableError(`-l ${flags.selector}: ${apiError ?? 'no cluster'}`);
      podList = await withUserSelector(flags.selector, api.listPods(flags.allNamespaces ? undefined : namespace, flags.selector), true);
      const chosen = (selected = new Set(podList.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`)));
      found = found.filter((f) => {
        const p = podOf(f.entry);
        return p !== undefined && chosen.has(`${p.namespace}/${p.name}`);
      });
    }
    // what cni-attach recorded in the cluster on every node (one list), for the pods asked about: the same filters
    // as this host's rows (a pod name, -n or -A, -l)
    let records: AttachmentRecord[] = [];
    // the record of an attachment another pod's than its own (a record anyone who may write ConfigMaps in the agent
    // namespace can edit) is picked by the pod it names or the pod it looks like it is of (recordVerdicts)
    let wantedRecord: (r: { namespace?: string; pod?: string }) => boolean = () => true;
    let recordsModule: typeof import('../resolve/records.js') | undefined;
    // the entries that are not valid records (shown as such, with the command that removes them): picked by the same
    // filters, on the namespace and pod name they hold (-A without a pod name or -l: all of them)
    let invalid: InvalidRecord[] = [];
    if (api) {
      try {
        const wanted = (r: { namespace?: string; pod?: string }) =>
          (named ? r.namespace === namespace && namedPods.has(r.pod ?? '') : flags.allNamespaces || r.namespace === namespace) &&
          (selected === undefined || selected.has(`${r.namespace}/${r.pod}`));
        recordsModule = await import('../resolve/records.js');
        const read = await recordsModule.readRecords(api, flags.agentNamespace ?? 'kube-system');
        wantedRecord = wanted;
        // all of them: one may name another pod than the one whose attachment it is (picked after judging it)
        records = read.records;
        invalid = read.invalid.filter(wanted);
      } catch (e) {
        // a server that does not answer, or refuses the credentials (401), is the cluster not asked (not asked again);
        // an answer refusing the records (403) leaves the rest of the cluster's answers
        if (e instanceof UnreachableError && !(e instanceof ApiStatusError && e.status !== 401)) {
          clusterFailed(e);
          api = undefined;
        } else failures.push({ error: e, says: `the cluster's attachment records could not be read: ${describeError(e)}; attachments on other nodes are not shown` });
      }
    }
    const asked = [...new Set(flags.node ?? [])];
    if (asked.length > 0 && !api) throw new UnreachableError(`--node ${asked.join(',')}: ${apiError ?? 'the cluster could not be asked'}`);
    // --node names nodes of the cluster (as cni-gc --node: a name no pod is scheduled on and no record names is not
    // found, exit 3, before anything is shown; kubectl get node answers NotFound); its rows are only theirs (below).
    // A user who may not list every namespace's pods (403) is not refused for it: the names are then not checked
    if (api && asked.length > 0) {
      const every = await api.listPods(undefined).catch((e: unknown) => {
        if (e instanceof ApiStatusError && e.status === 403) return undefined;
        throw e;
      });
      if (every) refuseUnknownNodes(asked, every, records);
    }
    if (api && podList === undefined && records.some((r) => flags.allNamespaces || r.namespace === namespace) && !found.some((f) => podOf(f.entry) || f.unreadable)) {
      try {
        podList = await api.listPods(flags.allNamespaces ? undefined : namespace);
      } catch (e) {
        clusterFailed(e);
      }
    }
    // an unreadable record may be a pod's: the runtimes' sandboxes tell which (classify), for the command clearing it
    if (api && found.some((f) => podOf(f.entry) || f.unreadable)) {
      let pods: Pod[] | undefined;
      try {
        pods = podList = await api.listPods(flags.allNamespaces ? undefined : namespace);
      } catch (e) {
        clusterFailed(e);
      }
      if (pods) {
        // the pods' states stand without the runtime; the sandboxes' need it (one --runtime names must answer; of
        // auto's, one that cannot be asked leaves what it may hold unchecked: the rows say so)
        try {
          const { sandboxes, unasked } = await (await load.pods()).listAllSandboxes(await deps.runtimes(flags, api));
          world = { exec, pods, sandboxes, unasked, lockHeld, reread, hereName: deps.hostname(), forceLine };
        } catch (e) {
          world = { exec, pods, lockHeld, reread, forceLine };
          failures.push({ error: e, says: `this host's sandboxes could not be listed: ${describeError(e)}; whether the sandboxes of this host's pod attachments are gone is not known` });
        }
      }
    }
    const locks = !named ? await unlessDenied(cache, deps, 'the locks', () => cache.staleLocks(), []) : [];
    const classified = await classify(found, world);
    const unchecked = classified.filter((c) => c.unchecked);
    if (unchecked.length) {
      failures.push({ error: unchecked[0]!.unchecked, says: `the sandbox of ${unchecked.length} attachment${unchecked.length > 1 ? 's' : ''} of this host could not be checked (REASON: sandbox not checked): ${describeError(unchecked[0]!.unchecked)}` });
    }
    const local = [...classified.map((c) => toRow(c, flags)), ...locks.map((l) => lockRow(l, flags))];
    const seen = new Set(local.map((r) => `${r.containerId}/${r.ifname}`));
    const livePods = new Map((podList ?? []).map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p]));
    // an attaching record names no sandbox yet: this host's own cache row of that pod's ifname stands for it
    const seenPods = new Set(local.map((r) => `${r.namespace}/${r.target}/${r.ifname}`));
    const agentNamespace = flags.agentNamespace ?? 'kube-system';
    const remote: Row[] = [];
    const toJudge: Judged[] = [];
    const aheads: (Judged & { command: 'running' | 'gone' | 'past' | undefined })[] = [];
    for (const r of records) {
      // the pods listed cover the pod it names: its namespace (-n, or -A), and with -l the pods selected
      const covered = selected ? selected.has(`${r.namespace}/${r.pod}`) : !!flags.allNamespaces || r.namespace === namespace;
      const v = recordsModule ? recordVerdict(recordsModule, r, everyHere, deps.hostname(), covered ? podList : undefined) : undefined;
      if (v && 'here' in v) {
        // this host's cache holds it as recorded: its own row stands for it (attached with --no-annotate, as it says)
        const own = r.noAnnotate ? local.find((x) => x.containerId === r.containerId && x.ifname === r.ifname) : undefined;
        if (own) noAnnotateRows.add(own);
        continue;
      }
      if (v) {
        if (wantedRecord(r) || (v.held && wantedRecord({ namespace: v.held.namespace, pod: v.held.name }))) {
          remote.push(mismatchedRow(r as AttachmentRecord & { key: string }, v.mismatch, { agentNamespace, configMap: recordsModule!.recordName(r.node) }, flags, v.held, v.nodeRead));
        }
        continue;
      }
      if (!wantedRecord(r) || seen.has(`${r.containerId}/${r.ifname}`) || (r.attaching && seenPods.has(`${r.namespace}/${r.pod}/${r.ifname}`))) continue;
      const command = r.attaching ? await recordsModule!.recordedCommand(r) : undefined;
      // a write-ahead of an interface a settled record of that pod names: another attach's of it (one that found it
      // attached, or another host's), not a second attachment — not listed once its command is gone (cni-gc forgets
      // it), else said as what it is (an outside tester saw two rows, both attached, for one interface)
      const settled = r.attaching ? records.find((x) => !x.attaching && !x.interrupted && x.namespace === r.namespace && x.pod === r.pod && x.uid === r.uid && x.ifname === r.ifname) : undefined;
      if (settled && (command === 'gone' || command === 'past')) continue;
      const row = recordRow(r, podList ? livePods.get(`${r.namespace}/${r.pod}`) : null, flags, Date.now(), command);
      if (settled && row.state !== 'pod gone' && row.state !== 'recorded') {
        patchRow(row, {
          state: 'attaching', brief: 'another attach of it', addresses: [],
          reason: `another attach of ${r.ifname} began at ${r.since}${r.by ? commandInParens(r.by, thisHost.host) : ''} and has not settled its record, while ${r.ifname} is attached and recorded (since ${settled.since}): ${command === 'running' ? 'its command runs right now' : `its command may still be running${r.until ? ` (taken as running until ${r.until}, the time bound it recorded)` : ''}`}; its record goes when it ends, or cni-gc forgets it once its command is gone`,
          remedy: undefined, clear: undefined, clearHint: undefined,
        });
        remote.push(row);
        continue;
      }
      remote.push(row);
      const there = asked.includes(r.node) && r.node !== deps.hostname();
      // a write-ahead record of a live pod: judged by what its node holds of it, as cni-gc judges it (judgeWriteAheads)
      if (there && (r.attaching || r.interrupted) && ['attached', 'attaching', 'interrupted', 'unsettled'].includes(row.state)) aheads.push({ row, r, pod: livePods.get(`${r.namespace}/${r.pod}`)!, command });
      else if (there && (row.state === 'attached' || (r.detachStopped && row.state === 'detach stopped'))) toJudge.push({ row, r, pod: livePods.get(`${r.namespace}/${r.pod}`)! });
    }
    // --node: those rows' sandboxes looked up on their node, as cni-gc --node judges them
    // (one note for all such nodes, naming them: it was one per node)
    const idle = asked.filter((x) => x !== deps.hostname() && ![...toJudge, ...aheads].some((j) => j.r.node === x));
    if (idle.length > 0) {
      const one = idle.length === 1;
      deps.io.err(`note: --node ${idle.join(',')}: no attachment of a live pod listed here is recorded on ${one ? `node ${idle[0]}` : `nodes ${someNames(idle)}`}: nothing to look up there${flags.allNamespaces || named ? '' : ` (only namespace ${namespace} is listed: -A lists every namespace)`}\n`);
    }
    const runtimes = toJudge.length > 0 || aheads.length > 0 ? await deps.runtimes(flags, api!) : [];
    // the nodes reached through agents said in one note (node-judge.ts groupReachNotes), once all were read
    const endNotes = runtimes.length > 0 ? (await import('./node-judge.js')).groupReachNotes(runtimes) : () => undefined;
    try {
      if (aheads.length > 0) {
        const unread = await judgeWriteAheads(flags, deps, runtimes, aheads, toJudge);
        if (unread) failures.push({ error: unread, says: `what ${asked.join(', ')} hold${asked.length > 1 ? '' : 's'} of the attaches whose record says attaching could not all be read there: ${describeError(unread)}` });
      }
      if (toJudge.length > 0) {
        const unchecked = await judgeOnNodes(flags, deps, runtimes, toJudge, podList ?? []);
        if (unchecked) failures.push({ error: unchecked, says: `the sandboxes of attachments on ${asked.join(', ')} could not all be looked up there (REASON: sandbox not checked): ${describeError(unchecked)}` });
      }
    } finally {
      endNotes();
    }
    // the rows judged `mismatched` on their node (node holds nothing of it) whose record went since it was listed: a
    // detach finished them between that list and the node's read, which comes after the agents started (an outside
    // tester saw the last pod finished on each node of a running `cni-detach -l` so, 4 of 4 samples): the records
    // listed again after the nodes were read (one request, only when there are such rows) no longer name them, so they
    // are not shown, as cni-gc compares the records listed before and after its node read (gc.ts reconcileRecords)
    const detachedMeanwhile = new Set<Row>();
    const mismatchedThere = toJudge.filter((j) => j.row.state === 'mismatched');
    if (mismatchedThere.length > 0 && recordsModule && api) {
      const now = await recordsModule.recordsReadAfter(api, agentNamespace)().catch(() => undefined);
      for (const j of mismatchedThere) if (now && !now.some((x) => x.key === j.r.key && x.since === j.r.since)) detachedMeanwhile.add(j.row);
    }
    // rows whose node was read (this host's cache; a record judged on its node with --node) against those only the
    // cluster's record says (their network-status advice needs their node: unannotated)
    const readOnNode = new Set<Row>([...local, ...toJudge.map((j) => j.row), ...aheads.map((j) => j.row)]);
    for (const r of [...local, ...remote]) unannotated(r, flags, readOnNode.has(r));
    for (const r of remote) inOtherCacheDir(r, flags);
    const bad = invalid.map((r) => invalidRecordRow(r, agentNamespace, flags));
    // --node: the rows of those nodes only, as `kubectl get pods --field-selector spec.nodeName=N` (this host's cache
    // is this host's: its rows with --node naming it)
    const onNodes = (r: Row) => asked.length === 0 || asked.includes(local.includes(r) ? deps.hostname() : r.node);
    const rows = [...local, ...remote, ...bad].filter((r) => onNodes(r) && !detachedMeanwhile.has(r)).sort((a, b) => `${a.namespace}/${a.target}/${a.ifname}`.localeCompare(`${b.namespace}/${b.target}/${b.ifname}`));
    // nothing to show and something could not be asked: the error alone (an empty result would read as "none")
    if (rows.length === 0 && failures.length) {
      for (const f of failures.slice(1)) deps.io.err(`note: ${f.saysEmpty ?? f.says}\n`);
      throw new SomeFailedError(failures[0]!.saysEmpty ?? failures[0]!.says, failures[0]!.error);
    }
    // a pod asked for that nothing holds — no row here or in the records — and that the API does not have either: a
    // name nobody knows (a typo, another namespace), NotFound as kubectl get answers it (exit 3). A pod that is gone
    // but has rows shows them (that is what cni-list is for); one that exists with none is "No resources found". Of
    // several names, each is judged by its own rows (one name: by all of them, since a mismatched record's row that
    // its attachment stands for may name another pod); kubectl get prints the others' rows, then an error per name.
    const missing: string[] = [];
    if (named && api) {
      for (const name of namedPods) {
        if (namedPods.size === 1 ? rows.length > 0 : rows.some((r) => r.namespace === namespace && r.target === name)) continue;
        const known = podList?.some((p) => p.metadata?.namespace === namespace && p.metadata?.name === name) || (await podExists(api, namespace, name));
        if (!known) missing.push(name);
      }
    }
    const notFound = missing.length ? (await import('../resolve/kube.js')).podNotFound : undefined;
    /** The NotFound line of each name missing, in the order given (a name given twice, twice: as kubectl get says it). */
    const notFoundErrors = names.filter((n) => missing.includes(n)).map((n) => new NotFoundError(`${notFound!(namespace, n)}, and no attachment of it is recorded here or in the cluster`));
    // nothing of any name to show: the errors alone (kubectl get prints no "No resources found" then)
    if (rows.length === 0 && notFoundErrors.length) {
      for (const e of notFoundErrors.slice(0, -1)) deps.io.err(`error: ${describeError(e)}\n`);
      throw notFoundErrors.at(-1)!;
    }
    const printed = await printRows(named ? inNameOrder(rows, names, namespace) : rows, {
      format: flags.output,
      allNamespaces: !!flags.allNamespaces,
      noHeaders: flags.headers === false,
      namespace,
    });
    if (printed.err) deps.io.err(printed.err);
    if (printed.out) deps.io.out(printed.out);
    if (printed.after) deps.io.err(printed.after);
    if (bare && !/^(json|yaml|jsonpath=)/.test(flags.output) && (asked.length === 0 || asked.includes(deps.hostname()))) {
      deps.io.err(`note: ${bare} attachment${bare > 1 ? 's' : ''} of bare network namespaces in this host's cache ${bare > 1 ? 'are' : 'is'} not shown (in no namespace): -A shows ${bare > 1 ? 'them' : 'it'}\n`);
    }
    // -A: the agent pods that commands which were killed left behind (privileged, on the nodes until their deadline),
    // as cni-gc judges them (resolve/agent.ts leftoverAgentPods: never one a command may be using), with the cni-gc
    // that deletes them
    if (api && flags.allNamespaces && !/^(json|yaml|jsonpath=)/.test(flags.output)) {
      try {
        const left = (await (await load.agent()).leftoverAgentPods(api, agentNamespace)).filter((a) => a.leftover && (asked.length === 0 || asked.includes(a.pod.spec?.nodeName ?? '')));
        for (const a of left.slice(0, 10)) deps.io.err(`note: agent pod ${agentNamespace}/${a.pod.metadata?.name}${a.pod.spec?.nodeName ? ` on node ${a.pod.spec.nodeName}` : ''} is left over: ${a.why}; \`${gcCommandLine(flags)}\` deletes it\n`);
        if (left.length > 10) deps.io.err(`note: ${left.length - 10} more agent pods are left over: \`${gcCommandLine(flags)}\` deletes them\n`);
      } catch (e) {
        deps.io.err(`note: the agent pods in ${agentNamespace} were not looked at: ${describeError(e)}\n`);
      }
    }
    // the names not found, after the rows of the others: exit 3 (unless something could not be asked: below, exit 4)
    if (notFoundErrors.length) {
      for (const e of failures.length ? notFoundErrors : notFoundErrors.slice(0, -1)) deps.io.err(`error: ${describeError(e)}\n`);
      if (!failures.length) throw notFoundErrors.at(-1)!;
    }
    // what could not be asked, after the rows that could be made: the first decides the exit, the others are notes
    if (failures.length) {
      for (const f of failures.slice(1)) deps.io.err(`note: ${f.says}\n`);
      throw new SomeFailedError(failures[0]!.says, failures[0]!.error);
    }
  });
  return cmd;
}

/**
 * --no-cluster: the kubeconfig read as kubectl reads it for a command that sends no request (`kubectl create …
 * --dry-run=client`), when it decides something: the namespace (no -n, no -A), or a selection flag given (--kubeconfig,
 * --context, --cluster is refused with --no-cluster, --user) that must name something in it — so a typo is refused
 * (exit 2: `context "nosuch" does not exist (kubeconfig …)`, as kubectl's `error: context "nosuch" does not exist`), never
 * silently unused, and the rows' commands carry only flags that work. No request is made (the client is made, not
 * used). Returns the context's namespace; undefined when nothing is to be read, or no kubeconfig exists at all (the
 * on-node use: `default`). Errors: connect's others (exit 2; 4 for a $KUBECONFIG naming no file that exists).
 */
async function kubeconfigNamespace(flags: ListFlags, deps: Deps): Promise<string | undefined> {
  const selection = flags.kubeconfig !== undefined || flags.context !== undefined || flags.user !== undefined;
  if (!selection && (flags.allNamespaces || flags.namespace !== undefined)) return undefined;
  try {
    return (await connect(flags, deps)).defaultNamespace;
  } catch (e) {
    if (noClusterConfigured(e)) return undefined;
    throw e;
  }
}

/**
 * The rows of pods named on the command line in the order the names were given, as kubectl get prints `get pods b a`
 * (b's first) — a name given twice has its rows twice, as kubectl lists such a pod twice —, each pod's rows in their
 * order (by interface); rows of no name given (a mismatched record's, of the pod it names) after them. Pure.
 */
export function inNameOrder(rows: Row[], names: string[], namespace: string): Row[] {
  const ofName = (n: string) => rows.filter((r) => r.namespace === namespace && r.target === n);
  const given = new Set(names);
  return [...names.flatMap(ofName), ...rows.filter((r) => !(r.namespace === namespace && given.has(r.target)))];
}

/** Whether pod namespace/name exists: false on the API's NotFound; its other errors as they are (exit 4). */
async function podExists(api: KubeApi, namespace: string, name: string): Promise<boolean> {
  try {
    await api.getPod(namespace, name);
    return true;
  } catch (e) {
    if (e instanceof NotFoundError) return false;
    throw e;
  }
}

export const run = (): Promise<never> => main(listCommand());
