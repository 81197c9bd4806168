/**
 * From flags to a target: either --netns PATH (no cluster) or a pod (the API, then the runtime), plus the network
 * config from --conf or --net; the flags of detach/check's pod lookup (resolve/pod.ts does the lookup).
 */
import type { NetworkConfigList } from '../cni/conf.js';
import { parseNetworkConfig } from '../cni/conf.js';
import { ApiStatusError, BusyError, CniAttachError, NotFoundError, UnreachableError, UsageError } from '../errors.js';
import { onNode, type Executor } from '../exec/types.js';
import type { AttachmentRecord } from '../resolve/records.js';
import type { KubeApi, KubeOptions } from '../resolve/kube.js';
import type { PodLookup } from '../resolve/pod.js';
import type { Target } from '../resolve/netns.js';
import type { CacheEntry, ResultCache } from '../cni/cache.js';
import type { Deps } from './context.js';
import { loadConf } from './context.js';
import { nameAcrossNamespaces, parseRequestTimeout, verbosity, type CommonFlags, type KubectlFlags } from './options.js';
import { load } from './load.js';
import { userAgent } from './version.js';
import { detachCommandLine, shellQuote } from './output.js';
import { describeError, lineTo } from './main.js';

export interface ResolvedConf {
  list: NetworkConfigList;
  /** The name in network-status: "ns/nad" for a NetworkAttachmentDefinition, the config's name otherwise. */
  statusName: string;
}

/**
 * Exactly one of: a POD, --netns, or (where offered: `many`, attach and detach) -l / --all. None of them is a usage
 * error asking for what this command takes — cni-check, which refuses -l/--all, is not offered them.
 */
export function targetKind(pod: string | undefined, flags: CommonFlags, many = true): 'pod' | 'netns' | 'pods' {
  const bulk = flags.selector !== undefined || flags.all === true;
  // -A (attach, detach): with -l/--all only, as kubectl label's (--netns with it: refused before, options.ts)
  if (flags.allNamespaces && pod !== undefined) throw nameAcrossNamespaces();
  if (flags.allNamespaces && !bulk && flags.netns === undefined) throw new UsageError('-A needs -l SELECTOR or --all: which pods of every namespace? (kubectl label -A needs one too)');
  const given = [pod !== undefined && 'a pod name', flags.netns !== undefined && '--netns', bulk && (flags.all ? '--all' : '-l')].filter(Boolean);
  if (given.length > 1) throw new UsageError(`give one of a pod, --netns or -l/--all, not ${given.join(' and ')}`);
  if (flags.selector !== undefined && flags.all) throw new UsageError('give either -l or --all, not both');
  if (given.length === 0) throw new UsageError(`which pod? give a pod name (${many ? 'or -l SELECTOR or --all for many, ' : ''}or --netns PATH for a bare network namespace)`);
  // the flags that have no effect with --netns (kubectl's, the runtime's, --net, …) were refused before the action
  // (options.ts refuseUnusedFlags)
  if (flags.netns !== undefined) return 'netns';
  return bulk ? 'pods' : 'pod';
}

/** kubectl's global flags → the API client's options (kubeconfig overrides, timeout, User-Agent, -v=6 tracing). */
export function kubeOptions(flags: KubectlFlags, io?: Deps['io']): KubeOptions {
  const def = <K extends string, V>(k: K, v: V | undefined) => (v !== undefined ? ({ [k]: v } as Record<K, V>) : {});
  return {
    ...def('kubeconfig', flags.kubeconfig),
    ...def('context', flags.context),
    ...def('cluster', typeof flags.cluster === 'string' ? flags.cluster : undefined),
    ...def('user', flags.user),
    ...def('namespace', flags.namespace),
    ...def('server', flags.server),
    ...def('token', flags.token),
    ...def('clientCertificate', flags.clientCertificate),
    ...def('clientKey', flags.clientKey),
    ...def('username', flags.username),
    ...def('password', flags.password),
    ...def('certificateAuthority', flags.certificateAuthority),
    ...def('insecureSkipTlsVerify', flags.insecureSkipTlsVerify),
    ...def('tlsServerName', flags.tlsServerName),
    ...def('as', flags.as),
    ...def('asGroups', flags.asGroup),
    ...def('asUid', flags.asUid),
    requestTimeoutMs: parseRequestTimeout(flags.requestTimeout),
    userAgent: userAgent(),
    ...(io && verbosity(flags) >= 6 ? { trace: lineTo(io, 'I') } : {}),
    ...(io && verbosity(flags) >= 1 ? { debug: lineTo(io, 'debug:') } : {}),
  };
}

/** The command's API (resolve/kube.ts listsOncePerCommand: the records are listed once per command, not per step). */
export async function connect(flags: KubectlFlags, deps: Deps): Promise<KubeApi> {
  const [api, { listsOncePerCommand }] = await Promise.all([deps.kube(kubeOptions(flags, deps.io)), load.kube()]);
  return listsOncePerCommand(api);
}

/**
 * Whether connect's error says that no cluster is configured at all (no kubeconfig anywhere and not in a pod:
 * resolve/kubeconfig.ts, resolve/kube.ts): cni-list and cni-gc are then about this host's cache alone (a note, exit
 * 0). Any other error of connect is a cluster that is configured but cannot be used or asked: their failure (README
 * "Exit codes"), after what this host's cache gave. A kubeconfig the user named that does not exist (--kubeconfig, or
 * $KUBECONFIG whose files all do not exist) is such a failure, not "no cluster": resolve/kubeconfig.ts words it
 * otherwise ("kubeconfig PATH: no such file", "none of the kubeconfig files $KUBECONFIG names exists (…)").
 */
export function noClusterConfigured(e: unknown): boolean {
  return e instanceof CniAttachError && /^(no kubeconfig found|no Kubernetes cluster configured)/.test(e.message);
}

/**
 * The note of cni-list and cni-gc on a host where no cluster is configured at all (noClusterConfigured's error `e`):
 * what was read — this host's CNI cache — and what was not: nothing of the cluster (its pods, the attachments recorded
 * for other nodes), then the error with what to give to include it. One line.
 */
export function hostOnlyNote(e: unknown): string {
  return `note: only this host's CNI cache was read, nothing in the cluster (its pods and the attachments recorded on other nodes are not included): ${describeError(e)}\n`;
}

/** --conf FILE|- or --net [NS/]NAME (a NAD, read through the API; its namespace defaults to the pod's). */
export async function resolveConf(flags: CommonFlags, deps: Deps, api: () => Promise<KubeApi>, podNamespace: string | undefined, required: boolean): Promise<ResolvedConf | undefined> {
  if (flags.conf !== undefined && flags.net !== undefined) throw new UsageError('give either --conf or --net, not both');
  if (flags.conf !== undefined) {
    const list = await loadConf(flags.conf, deps);
    return { list, statusName: list.name };
  }
  if (flags.net !== undefined) {
    const parts = flags.net.split('/');
    // one NAD for the whole batch: with -A there is no namespace to find a bare NAME in
    if (flags.allNamespaces && parts.length === 1) throw new UsageError(`--net ${flags.net} with -A: give NAMESPACE/NAME (one NetworkAttachmentDefinition serves the whole batch, and -A spans namespaces)`);
    if (parts.length > 2 || parts.some((p) => p === '')) throw new UsageError(`--net ${flags.net}: not NAME or NAMESPACE/NAME (a NetworkAttachmentDefinition)`);
    const [ns, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : [podNamespace ?? 'default', parts[0]!];
    const nad = await (await api()).getNad(ns, name);
    const list = parseNetworkConfig(nad.config, `NetworkAttachmentDefinition ${ns}/${name}`, name);
    return { list, statusName: `${ns}/${name}` };
  }
  if (required) throw new UsageError('which network? give --conf FILE (or - for stdin) or --net NAD');
  return undefined;
}

export async function resolveNetns(exec: Executor, path: string, mustExist: boolean): Promise<Target & { gone: boolean }> {
  const { netnsTarget } = await load.netns();
  return netnsTarget(exec, path, mustExist);
}

/**
 * The cluster's records (resolve/records.ts) of pod namespace/name and the interface --ifname names (any, without
 * it) that `keep` accepts, newest first. Records that cannot be read give none (they are only an index).
 */
async function newestRecords(api: KubeApi, flags: CommonFlags, namespace: string, name: string, keep: (r: AttachmentRecord) => boolean = () => true): Promise<AttachmentRecord[]> {
  const { listRecords } = await import('../resolve/records.js');
  return newestOf(await listRecords(api, flags.agentNamespace ?? 'kube-system').catch(() => []), flags, namespace, name, keep);
}

/** newestRecords of records already listed. */
function newestOf(all: AttachmentRecord[], flags: CommonFlags, namespace: string, name: string, keep: (r: AttachmentRecord) => boolean): AttachmentRecord[] {
  return all
    .filter((r) => r.namespace === namespace && r.pod === name && (!flags.ifname || r.ifname === flags.ifname) && keep(r))
    .sort((a, b) => (a.since < b.since ? 1 : a.since > b.since ? -1 : 0));
}

/**
 * For detach and check of a pod given no --cni-path: the --cni-path its attach used, as the cluster's newest record
 * of that pod and interface names it (resolve/records.ts), so that the plugins are found where the attach found them
 * and the commands other commands print without it (an attach's "already taken", cni-list's) work as printed. One
 * list of the records, or `o.records` (a batch's one list, for each of its pods: `o.namespace` is the pod's); none, or
 * records that cannot be read: {} (the usual default). A note says which path — not with `o.quiet` (a batch, which
 * says it once per path for all its pods: cli/bulk.ts recordedCniPathNotes). The path
 * is a record's, not the user's: `cniPathFrom` names that record and the same command with the path given
 * (`command`), and the engine runs nothing from it unless its node trusts it (cli/context.ts prepareEngine). Given
 * --cni-path: no record is read now, and `cniPathNote` names the newest record's path (not used) should a plugin not
 * be found.
 */
export async function recordedCniPath(
  flags: CommonFlags,
  deps: Deps,
  api: KubeApi,
  name: string,
  command: 'cni-detach' | 'cni-check',
  o: { namespace?: string; records?: Promise<AttachmentRecord[]>; quiet?: boolean } = {},
): Promise<Pick<CommonFlags, 'cniPath' | 'cniPathFrom' | 'cniPathNote'>> {
  if (flags.ifname === undefined) return {};
  const namespace = o.namespace ?? flags.namespace ?? api.defaultNamespace;
  const agentNs = flags.agentNamespace ?? 'kube-system';
  const newest = async () =>
    (o.records ? newestOf(await o.records.catch(() => []), flags, namespace, name, (r) => !!r.cniPath) : await newestRecords(api, flags, namespace, name, (r) => !!r.cniPath))[0];
  const { recordOrigin } = await import('../resolve/records.js');
  if (flags.cniPath !== undefined) {
    const given = flags.cniPath;
    return {
      cniPathNote: async () => {
        const r = await newest();
        return r?.cniPath && r.cniPath !== given ? `${recordOrigin(r, agentNs)} names --cni-path ${r.cniPath}, where its attach found its plugins: not used, --cni-path was given` : undefined;
      },
    };
  }
  const r = await newest();
  if (!r?.cniPath) return {};
  if (!o.quiet) deps.io.err(`note: plugins looked for in ${r.cniPath}, where the attach of ${flags.ifname} found them (its record; --cni-path overrides)\n`);
  return {
    cniPath: r.cniPath,
    cniPathFrom: { record: recordOrigin(r, agentNs), retry: detachCommandLine({ namespace, name }, flags.ifname, { ...flags, cniPath: r.cniPath }, command) },
  };
}

/**
 * For a detach or check of one pod that found nothing in the cache dir it read (`dir`, as --cache-dir gave it): when
 * the cluster's newest record of that pod (of `uid`, when the pod is there) and --ifname, attached or interrupted,
 * names another cache dir, the words that say so — "the cluster records net1 attached with --cache-dir /var/lib/cni
 * (node node-2 trusts it): `kubectl cni-detach web-1 -n shop --ifname net1 --cache-dir /var/lib/cni` detaches it there"
 * (`command`: the command that found nothing, given that dir; a record without one names the default) — else undefined.
 * Only said, never used, and offered as a flag to give only once the pod's node (`exec`) trusts that dir by the rule
 * its plugin dirs are held to (exec/trust.ts: owned by root or the user the commands run as, not writable by group or
 * others, from / down, with its results and cni-attach dirs): a record is not the user's word (anyone who may write
 * ConfigMaps in the agent namespace can write one), and a cache dir decides with what config root runs the plugins
 * there. A dir the node does not trust is named with why, not offered. Records that cannot be read say nothing (they
 * are only an index); a node that cannot be asked offers nothing and says so.
 */
export async function recordedCacheDirHint(api: KubeApi, flags: CommonFlags, namespace: string, name: string, uid: string | undefined, dir: string, exec: Executor, command: 'cni-detach' | 'cni-check'): Promise<string | undefined> {
  const r = await recordedCacheDir(api, flags, namespace, name, uid, dir, exec);
  if (!r) return undefined;
  const said = `the cluster records ${flags.ifname} ${r.as} with cache dir ${shellQuote(r.cacheDir)}`;
  if (r.untrusted) return `${said}, which is not offered: a record is not your word, and ${r.untrusted}`;
  // the same command with that dir, to paste (before: "give --cache-dir D", a second edit before it worked)
  return `${said} (trusted${r.node}: owned by root or you, not writable by others): \`${detachCommandLine({ namespace, name }, flags.ifname!, { ...flags, cacheDir: r.cacheDir }, command)}\` ${command === 'cni-check' ? 'checks' : 'detaches'} it there`;
}

/**
 * For a cni-check that found nothing on the node: the cluster's record of that pod's --ifname in the cache dir it read
 * (`dir`; attached or interrupted, of the pod's uid), which a cni-detach stopped after its DEL ran (before it updated
 * the cluster) leaves, said with the cni-detach (`detach`, the command line) that removes it and the pod's
 * network-status entry; undefined when there is none (an outside tester's cni-check said only "nothing is attached"
 * while cni-list showed the record). Records that cannot be read say nothing.
 */
export async function recordLeftHint(api: KubeApi, flags: CommonFlags, namespace: string, name: string, uid: string | undefined, dir: string, detach: string): Promise<string | undefined> {
  const { recordedIn } = await import('../resolve/records.js');
  const [r] = await newestRecords(api, flags, namespace, name, (x) => !x.attaching && (uid === undefined || x.uid === uid) && recordedIn(x, dir));
  if (!r) return undefined;
  return `the cluster still records ${r.ifname} of this pod ${r.interrupted ? 'as an interrupted attach' : `attached since ${r.since}`} on node ${r.node} (a cni-detach stopped after its DEL ran leaves that): \`${detach}\` removes that record and the pod's network-status entry`;
}

/**
 * The other cache dir recordedCacheDirHint names, how its record has it (`as`: "attached", "as an interrupted attach",
 * or, for a write-ahead record (attaching) whose command does not run on this host — killed, a second Ctrl-C, or one on
 * another host —, "as an attach that did not finish"), and, when the pod's node (`exec`) does not trust that dir, why
 * (then it is not offered); `node`: " on node X" for the messages. Undefined when there is none. For a batch too, which
 * groups its pods by it (cli/detach.ts detachMany). A write-ahead whose command runs here is not one: refuseIfAttaching
 * answers it (busy).
 */
export async function recordedCacheDir(
  api: KubeApi,
  flags: CommonFlags,
  namespace: string,
  name: string,
  uid: string | undefined,
  dir: string,
  exec: Executor,
): Promise<{ cacheDir: string; as: string; untrusted?: string; node: string } | undefined> {
  if (flags.ifname === undefined) return undefined;
  const [{ recordedIn, recordCacheDir }, { cacheDirsOf }] = await Promise.all([import('../resolve/records.js'), import('../cni/cache.js')]);
  // the newest that names another dir than the one that held nothing (a record of this one is stale: detach's leftBehind)
  let r: AttachmentRecord | undefined;
  for (const x of await newestRecords(api, flags, namespace, name, (x) => (uid === undefined || x.uid === uid) && !recordedIn(x, dir))) {
    if (!x.attaching || !(await attachRunsHere(x))) {
      r = x;
      break;
    }
  }
  if (!r) return undefined;
  const recorded = recordCacheDir(r);
  const node = onNode(exec) || ` on ${exec.where}`;
  const why = await exec.untrustedPluginDirs(cacheDirsOf(recorded)).catch((e: unknown) => `it could not be checked (${(e as Error).message})`);
  const as = r.attaching ? 'as an attach that did not finish' : r.interrupted ? 'as an interrupted attach' : 'attached';
  return { cacheDir: recorded, as, node, ...(why ? { untrusted: `${why}${node}` } : {}) };
}

/**
 * For a detach of one pod (and a check or dry run whose node holds nothing of --ifname, no lock of it either):
 * BusyError (exit 1) when an attach of that interface is known to be running, or may be — the cluster holds its
 * write-ahead record (attaching, of this pod's uid), and the command it names runs on this host right now (its pid with
 * the start time it recorded: the lock rule, exec/lock.ts), or it names another host's command (or none) and is not
 * past its `until`, the attach's own time bound (resolve/records.ts writeAheadUntil; nothing here can see that host's
 * processes). An attach writes that record once it found the sandbox and replaces it last, after its ADD, the node's
 * cache and unlock, its event and the pod's network-status (cli/attach.ts annotate). So while it is there the attach
 * is not done: before its ADD reaches the node (through the agent or a kind node its lock and intent ride on its first
 * ADD, exec/batch.ts) nothing on the node says it runs, and after it unlocked the node it still writes to the pod; a
 * detach in either window said "nothing to do", or detached under it, and the attach's network-status PATCH then
 * named an interface that was gone. `force` (cni-detach --force) passes another host's record within its bound (the
 * user knows that command is gone), never a command seen running here. A record with no `until` (older versions, or an
 * attach with --request-timeout 0) that names another host's command answers as before: not busy. Records that cannot
 * be read say nothing (they are only an index). `listed`: the records already listed by this command (a batch's one
 * list), else the command's list (connect: one per command). `forceable`: the command has --force (cni-detach), which
 * the message then offers. `anew` (a detach's check right before its DEL): the records listed again — this check is
 * there for another command's write-ahead, and the command's list may be older than it by the whole look-up (an agent
 * pod's start): an attach begun since, whose ADD reached the node meanwhile, would be detached under its
 * network-status PATCH. That list is then the command's for its later steps.
 */
export async function refuseIfAttaching(
  api: KubeApi,
  flags: CommonFlags & { force?: boolean },
  pod: { namespace: string; name: string; uid?: string },
  describe: string,
  listed?: Promise<AttachmentRecord[]>,
  forceable = false,
  anew = false,
): Promise<void> {
  if (flags.ifname === undefined) return;
  if (anew && !listed) (await load.kube()).listAnew(api);
  const { thisHost } = await import('../exec/host.js');
  const { commandName } = await import('../exec/lock.js');
  const { recordedCommand, otherHostWithinBound } = await import('../resolve/records.js');
  const keep = (r: AttachmentRecord) => !!r.attaching && (pod.uid === undefined || r.uid === pod.uid);
  const recs = listed ? newestOf(await listed.catch(() => []), flags, pod.namespace, pod.name, keep) : await newestRecords(api, flags, pod.namespace, pod.name, keep);
  for (const r of recs) {
    const command = await recordedCommand(r);
    if (command === 'running') {
      throw new BusyError(
        `an attach of ${flags.ifname} in ${describe} is running (${commandName({ ...r.by!, runningForMs: r.by?.start !== undefined ? await thisHost.runningForMs?.(r.by.start) : undefined }, thisHost.host)}; begun at ${r.since}, as the cluster's record of it says) ` +
          "and is not done (its ADD on the node, or the pod's network-status and record after it); try again when it is done",
      );
    }
    if (otherHostWithinBound(r, command) && !flags.force) {
      const who = r.by ? commandName(r.by, thisHost.host) : 'a command that names no host';
      throw new BusyError(
        `an attach of ${flags.ifname} in ${describe} may be running (${who}; begun at ${r.since}, as the cluster's record of it says): this host cannot see that host's processes, ` +
          `so until ${r.until}, the time bound that attach recorded, it is taken as running; try again when it is done (its record then goes), or after ${r.until} (a lock of it left on its node, if any, is then still respected${forceable ? ' until --force says its command is gone' : ''}); ` +
          (forceable ? 'if you know that command is gone, give --force (a lock of it on the node, if any, is still waited for until its time limit)' : 'nothing was checked'),
      );
    }
  }
}

/**
 * Whether the command that wrote a write-ahead record (its `by`) runs now on this host: the same pid with the same
 * start time (exec/host.ts). false for a record of another host (whether that one runs cannot be told here) or of none.
 */
export async function attachRunsHere(r: Pick<AttachmentRecord, 'by'>): Promise<boolean> {
  const { recordedCommand } = await import('../resolve/records.js');
  return (await recordedCommand(r)) === 'running';
}

/** The pod a look-up found, as refuseIfAttaching takes it (its uid when the pod is there). */
export function podOf(l: PodLookup): { namespace: string; name: string; uid?: string } {
  const uid = l.pod?.metadata?.uid;
  return { namespace: l.namespace, name: l.name, ...(uid !== undefined ? { uid } : {}) };
}

/**
 * "the cluster's attachment records could not be read (ERROR; …)": why, from the error `e` of their list, with, for a
 * 403, the right it takes — `list` of `configmaps` in the agent namespace, as deploy/rbac.yaml grants it (as the
 * agent's refusals name theirs: resolve/agent.ts agentRefusal).
 */
export function recordsUnreadWords(e: unknown, flags: Pick<CommonFlags, 'agentNamespace'>): string {
  const ns = flags.agentNamespace ?? 'kube-system';
  const rbac = e instanceof ApiStatusError && e.status === 403 ? `; this user may not list configmaps in namespace ${ns}, where they are kept (--agent-namespace): deploy/rbac.yaml grants it` : '';
  return `the cluster's attachment records could not be read (${describeError(e)}${rbac})`;
}

/**
 * The answer of a detach or check (and their dry runs) that found nothing for a pod that is gone, whose node only the
 * cluster's records name, when those could not be read: nothing here is not "nothing attached" (exit 4).
 */
export function recordsUnreadError(ifname: string, describe: string, cache: ResultCache, e: unknown, flags: Pick<CommonFlags, 'agentNamespace'>): UnreachableError {
  return new UnreachableError(
    `nothing is attached as ${ifname} in ${describe} in ${cache.named(`${cache.dir}/results`)}, and ${recordsUnreadWords(e, flags)}; they name the node of a pod that is gone: whether it is attached on another node is not known; run the same command again once they can be read, or on its node`,
    { cause: e },
  );
}

/**
 * The pod side of detach and check (resolve/pod.ts lookupPod: it works when the pod or its sandbox is gone), with
 * -n, the runtimes --runtime names, and its notes on stderr. `recordsUnread`: for a pod that is gone, the error of
 * the cluster's records that could not be read, when they could not (then its node is not known: this host's cache
 * is looked in, and a detach that finds nothing there fails with it rather than say "nothing to do").
 *
 * A pod the API does not have, that nothing looked at names — no record in the cluster (of any interface, attached,
 * interrupted or attaching), no entry or intent in `cache` (this host's, where a gone pod no record places is looked
 * for) — is a name nobody knows (a typo, another namespace): NotFoundError (exit 3) as kubectl answers for a missing
 * object, `pods "nope" not found in namespace "shop"` (resolve/kube.ts podNotFound), before any note or DEL; not "no longer exists … nothing to do".
 */
export async function lookupPodFor(flags: CommonFlags, deps: Deps, api: KubeApi, name: string, cache: ResultCache, prepare?: (exec: Executor) => void): Promise<PodLookup & { recordsUnread?: unknown }> {
  const { lookupPod, argsMatchPod } = await load.pods();
  const namespace = flags.namespace ?? api.defaultNamespace;
  // a pod that is gone: its node as the cluster's records of this interface name it (the newest), so that a detach
  // from anywhere reaches the cache that holds it; none (or records that cannot be read) is this host's cache
  let recordsUnread: unknown;
  const goneNodeOf = async (): Promise<string | undefined> => {
    const { listRecords } = await import('../resolve/records.js');
    const all = await listRecords(api, flags.agentNamespace ?? 'kube-system').catch((e: unknown) => ((recordsUnread = e), []));
    if (!all.some((r) => r.namespace === namespace && r.pod === name) && !(await cache.all()).some((f) => argsMatchPod(f.entry.cniArgs, namespace, name))) {
      // records that could not be read name nothing either: the pod is not found, as kubectl says it (exit 3, for
      // cni-check and cni-detach alike), and what could not be read is said — never "no longer exists" of a pod
      // nothing here ever knew (an outside tester: `--as` a user without `list configmaps`)
      if (recordsUnread !== undefined) deps.io.err(`note: ${recordsUnreadWords(recordsUnread, flags)}: whether pod ${namespace}/${name} existed and left an attachment on another node is not known; this host's cache holds nothing of it; run the same command again once they can be read\n`);
      throw new NotFoundError((await import('../resolve/kube.js')).podNotFound(namespace, name));
    }
    const node = newestOf(all, flags, namespace, name, () => true)[0]?.node;
    return node && node !== deps.hostname() ? node : undefined;
  };
  const found = await lookupPod(api, namespace, name, () => deps.runtimes(flags, api), lineTo(deps.io, 'note:'), prepare, deps.hostname(), goneNodeOf, await deps.localExecutor());
  return recordsUnread === undefined ? found : { ...found, recordsUnread };
}

/**
 * The words for what the cache at `cache` holds of `ifname` for earlier pods of the looked-up pod's name (another
 * uid: the pod was deleted and made again under its name), when this pod itself has nothing there — undefined when it
 * holds none. They say whether this pod has a running sandbox (none: not yet, or not any more), which earlier pod
 * (uid) and sandbox each entry is of and whether that sandbox still runs on the pod's node (resolve/pod.ts
 * earlierPodsEntries), and the cni-gc that frees them (it judges them by the same rule: DEL in that sandbox's network
 * namespace while it runs, without one once it is gone; `--node` for a node other than this host, which a plain
 * cni-gc reads only through a record of it). As cni-detach's note of the cluster's records of earlier pods. `lead`
 * false: without the first part (this pod's sandbox, nothing attached in it), for a message that said it already.
 */
export async function earlierPodsWords(flags: CommonFlags, deps: Deps, api: KubeApi, pod: PodLookup, cache: ResultCache, ifname: string, lead = true): Promise<string | undefined> {
  const uid = pod.pod?.metadata?.uid;
  if (!pod.podExists || !uid) return undefined;
  const { argsMatchPod, earlierPodsEntries } = await load.pods();
  const entries = (await cache.findWhere(ifname, (e) => argsMatchPod(e.cniArgs, pod.namespace, pod.name))).map((f) => f.entry);
  if (entries.length === 0 || entries.some((e) => pod.match(e))) return undefined;
  const earlier = await earlierPodsEntries(pod, entries, await deps.runtimes(flags, api));
  if (earlier.length === 0) return undefined;
  const here = !pod.node || pod.node === deps.hostname();
  const there = here ? `on this host (${deps.hostname()})` : `on node ${pod.node}`;
  const now = pod.containerId !== undefined ? `runs in sandbox ${pod.containerId.slice(0, 12)}` : `has no running sandbox ${there} (not yet, or not any more)`;
  const each = earlier.map((x) => {
    const state = x.sandbox === 'runs' ? 'which still runs there' : x.sandbox === 'gone' ? 'which no longer runs there' : `which could not be looked up there (${describeError(x.sandbox)})`;
    return `${ifname} of network ${x.entry.networkName} is of an earlier pod of that name (uid ${x.uid || '(none recorded)'}), attached to its sandbox ${x.entry.containerId.slice(0, 12)}, ${state}`;
  });
  const { gcCommandLine } = await import('./output.js');
  const gc = `${gcCommandLine(flags)}${here ? '' : ` --node ${shellQuote(pod.node!)}`}`;
  return `${lead ? `${pod.describe} (uid ${uid}) ${now}, and nothing is attached as ${ifname} in it; ` : ''}what the cache holds of ${ifname} for pod ${pod.namespace}/${pod.name}: ${each.join('; ')}: \`${gc}\` frees ${earlier.length === 1 ? 'it' : 'them'} (its DEL runs in that sandbox's network namespace while it runs, without one once it is gone)`;
}

/**
 * A dry run's "# target:" fields for a pod (cni-detach, cni-check): the pod, its node when reached by commands, and the
 * network namespace the plan runs in — for a pod that is gone, that of each sandbox of its entries that still runs
 * (PodLookup.resolved, known once the plan was made), '(none)' where none does.
 */
export function podWhere(pod: PodLookup): Record<string, string> {
  const resolved = [...new Set(pod.resolved?.values() ?? [])].map((n) => n || '(none)');
  return {
    pod: `${pod.namespace}/${pod.name}`,
    ...(pod.executor?.elsewhere ? { node: pod.executor.elsewhere.replace(/^node /, '') } : {}),
    netns: resolved.length ? resolved.join(',') : pod.netns || '(none)',
  };
}

/**
 * For detach/check of --netns: whether a cache entry was made for the same network namespace through another path
 * (/proc/PID/ns/net and /var/run/netns/x of one namespace), by the namespace's identity (device and inode);
 * undefined where the executor cannot tell, or the namespace is gone.
 */
export function sameNetnsAs(target: Target & { gone: boolean }): ((e: CacheEntry) => Promise<boolean>) | undefined {
  const identity = target.executor.identity;
  if (!identity || target.gone) return undefined;
  const netnsId = (path: string) => identity.netnsId(path);
  const id = netnsId(target.netnsPath);
  return async (e) => !!e.netns && e.netns !== target.netnsPath && (await id) !== undefined && (await netnsId(e.netns)) === (await id);
}

/**
 * A pod list made with the user's label selector (-l of attach, detach, list): the API server's 400 BadRequest for it
 * is bad input (exit 2: the selector is named, and, unless `readOnly`, that nothing was changed), as kubectl reports it as the server's BadRequest
 * for that selector (k8s.io/cli-runtime resource.Selector.Visit: `Unable to find "/v1, Resource=pods" that match label
 * selector "app=(", …: unable to parse requirement: …`). kube-apiserver answers 400 for a selector labels.Parse refuses
 * (apimachinery meta/v1 Convert_string_To_labels_Selector); any other error, and a 400 of a request without the
 * user's selector, stays what it is (exit 4).
 */
export async function withUserSelector<T>(selector: string | undefined, list: Promise<T>, readOnly = false): Promise<T> {
  try {
    return await list;
  } catch (e) {
    if (selector !== undefined && e instanceof ApiStatusError && e.status === 400) {
      // (a command that changes nothing, cni-list, says nothing of changes)
      throw new UsageError(`the label selector ${shellQuote(selector)} is not valid: the API server answered 400${e.reason ? ` (${e.reason})` : ''}: ${e.serverMessage}${readOnly ? '' : ' (nothing was changed)'}`, {
        cause: e,
        fix: { setting: 'selector' },
      });
    }
    throw e;
  }
}
