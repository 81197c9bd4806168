/** Building the engine's pieces from parsed flags: the executor, chain context, cache, cluster and runtime clients. */
import type { ChainContext } from '../cni/chain.js';
import { ResultCache, type Found } from '../cni/cache.js';
import { parseNetworkConfig, type NetworkConfigList } from '../cni/conf.js';
import { parseCniArgs, refuseOwnCniArgs, resolveCniPath, validateIfName } from '../cni/env.js';
import { UsageError } from '../errors.js';
import { thisHost } from '../exec/host.js';
import type { Executor } from '../exec/types.js';
import type { KubeApi, KubeOptions } from '../resolve/kube.js';
import type { PodRuntime } from '../resolve/runtime.js';
import type { AgentOptions } from '../resolve/agent.js';
import { hold, interruptedBy } from '../exec/interrupt.js';
import { lineTo, type Io } from './main.js';
import { parseDuration, parseRequestTimeout, readAllStdin, readConf, REQUEST_TIMEOUT_DEFAULT, verbosity, type CommonFlags } from './options.js';
import { load } from './load.js';
import { someNames } from './output.js';
import { tracedExecutor } from '../exec/traced.js';

export interface RuntimeFlags {
  runtime: string;
  /** Also the limit for each Docker request. */
  requestTimeout?: string;
  dockerHost?: string;
  agentImage?: string;
  agentNamespace?: string;
  /** --timeout, the limit of each plugin run: a run through an agent must end before the agent does. */
  timeout?: string;
  /** -v: at 6 and up, each look-up command a runtime runs on a node is traced. */
  v?: string;
}

/** The agent's options from the flags (resolve/agent.ts AgentOptions): image, namespace, and the plugin run limit. */
export function agentOptions(flags: RuntimeFlags, note: (line: string) => void, image: string, trace?: (line: string) => void): AgentOptions {
  return {
    ...(trace ? { trace } : {}),
    image: flags.agentImage ?? image,
    namespace: flags.agentNamespace ?? 'kube-system',
    startTimeoutMs: 120_000,
    ...(flags.timeout !== undefined ? { runTimeoutMs: parseDuration(flags.timeout), runTimeoutGiven: flags.timeout } : {}),
    note,
  };
}

/** The ports, chosen once at the edge. Tests pass fakes. */
export interface Deps {
  io: Io;
  /** The executor for targets on this host. */
  localExecutor: () => Promise<Executor>;
  kube: (opts: KubeOptions) => Promise<KubeApi>;
  /** The runtimes --runtime names, in the order to ask them (api: for the agent runtime). */
  runtimes: (flags: RuntimeFlags, api: KubeApi | undefined) => Promise<PodRuntime[]>;
  hostname: () => string;
  readStdin: () => Promise<string>;
  env: NodeJS.ProcessEnv;
}

export function defaultDeps(io: Io): Deps {
  // one set of runtimes per API client and runtime flags for the whole command: a second look-up (cni-check's
  // earlier-pod and cache-dir hints after its pod's) reuses the first's agent pods and says its "not this host" note
  // once (tryout 8 F4 b: printed twice), instead of making a second agent runtime (a second agent pod per node). Its
  // agents are deleted when the command ends (resolve/agent.ts atEnd), whoever asked for them.
  const made = new WeakMap<object, Map<string, Promise<PodRuntime[]>>>();
  const noApi = {};
  const once = (flags: RuntimeFlags, api: KubeApi | undefined, make: () => Promise<PodRuntime[]>): Promise<PodRuntime[]> => {
    const key = JSON.stringify([flags.runtime, flags.dockerHost, flags.agentImage, flags.agentNamespace, flags.timeout, flags.requestTimeout, verbosity(flags)]);
    let byFlags = made.get(api ?? noApi);
    if (!byFlags) made.set(api ?? noApi, (byFlags = new Map()));
    let got = byFlags.get(key);
    if (!got) byFlags.set(key, (got = make()));
    // one that failed (a runtime flag refused) is asked anew next time, as before
    got.catch(() => byFlags.delete(key));
    return got;
  };
  return {
    io,
    localExecutor: async () => new (await load.local()).LocalExecutor(),
    kube: async (opts) => (await load.kube()).connectKube(opts),
    runtimes: (flags, api) => once(flags, api, async () => {
      const dockerHost = flags.dockerHost ?? process.env.DOCKER_HOST;
      const timeoutMs = parseRequestTimeout(flags.requestTimeout ?? REQUEST_TIMEOUT_DEFAULT); // 0: no limit
      const docker = async () => (await load.docker()).dockerRuntime(dockerHost, process.env, timeoutMs);
      // -v=6: the look-up commands a runtime runs on a node, as the plugins' runs (prepareEngine)
      const trace = verbosity(flags) >= 6 ? lineTo(io, 'I') : undefined;
      const kind = async () => (await load.kind()).kindRuntime(dockerHost, process.env, timeoutMs, trace);
      const cri = async () => (await load.kind()).criRuntime(new (await load.local()).LocalExecutor(), trace);
      const agent = async (api: KubeApi) => {
        const { agentRuntime, AGENT_IMAGE } = await load.agent();
        return agentRuntime(api, agentOptions(flags, lineTo(io, 'note:'), AGENT_IMAGE, trace));
      };
      switch (flags.runtime) {
        case 'docker':
          return [await docker()];
        case 'kind':
          return [await kind()];
        case 'cri':
          return [await cri()];
        case 'agent': {
          if (!api) throw new UsageError('--runtime agent works on pods (it reaches their node through the cluster)');
          return [await agent(api)];
        }
        default: {
          // auto: a local pause container with the pod's labels, else the pod's node as a local container, else CRI
          // here; and for a pod on another node that none of these has, an agent pod on that node
          const here = [await docker(), await kind(), await cri()];
          if (!api) return here;
          const { agentForOtherNodes } = await load.agent();
          const viaAgent = await agent(api);
          const namespace = flags.agentNamespace ?? 'kube-system';
          return [...here, agentForOtherNodes(() => viaAgent, { thisHost: process.env.NODE_NAME || thisHost.host, namespace, note: lineTo(io, 'note:'), names: (nodes) => someNames(nodes) })];
        }
      }
    }),
    // which node this is: $NODE_NAME (as the downward API sets it in a pod), else the host name
    hostname: () => process.env.NODE_NAME || thisHost.host,
    readStdin: readAllStdin,
    env: process.env,
  };
}


export interface Prepared {
  /** The engine on this host. */
  ctx: ChainContext;
  cache: ResultCache;
  ifname: string;
  extraArgs: [string, string][];
  /** The engine on another node (a kind node container, an agent pod): its plugins, its cache. */
  on(executor: Executor): Pick<Prepared, 'ctx' | 'cache'>;
}

export interface EngineFlags {
  cniPath?: string;
  /**
   * Set when cniPath is not the user's but a record's (cli/targets.ts recordedCniPath, cli/gc.ts): then plugins run
   * from it only once its node trusts it (cni/chain.ts checkPathTrusted), else the refusal (untrustedRecordedPath)
   * names `record` and `retry`, the command that gives the same path explicitly.
   */
  cniPathFrom?: { record: string; retry: string };
  /**
   * When cniPath is the user's (or the default) while a record may name another: the words that name the record's,
   * not used (cli/targets.ts recordedCniPath), for a plugin not found; asked only then (cni/chain.ts pathNote).
   */
  cniPathNote?: () => Promise<string | undefined>;
  cacheDir: string;
  timeout: string;
  /**
   * cni-detach --force: among what it means, the user's word that a command of another host holding a lock this
   * command meets is gone (exec/lock.ts LockOwner.othersGone).
   */
  force?: boolean;
  /** -v level as text */
  v?: string;
}

/** The chain context and the cache, from the engine flags. */
export function prepareEngine(flags: EngineFlags, node: Executor, deps: Deps): Pick<Prepared, 'ctx' | 'cache'> {
  const level = verbosity(flags);
  const exec = level >= 6 ? tracedExecutor(node, lineTo(deps.io, 'I')) : node;
  const cniPath = resolveCniPath(flags.cniPath, deps.env.CNI_PATH);
  const timeoutMs = parseDuration(flags.timeout);
  if (!flags.cacheDir.startsWith('/')) throw new UsageError(`--cache-dir: ${JSON.stringify(flags.cacheDir)} is not an absolute directory`);
  // cni-detach --force: the user's word that a command of another host holding the interface's lock is gone
  // (exec/lock.ts LockOwner.othersGone: its lock is broken once the time limit it holds has passed)
  const cache = new ResultCache(exec, flags.cacheDir.replace(/\/+$/, '') || '/', flags.force ? { ...thisHost, othersGone: true } : thisHost);
  const versions = cache.versionStore();
  const ctx: ChainContext = {
    exec,
    cniPath,
    timeoutMs,
    note: lineTo(deps.io, 'note:'),
    ...(level >= 1 ? { debug: lineTo(deps.io, 'debug:'), debugOnce: onceTo(deps.io, 'debug:') } : {}),
    ...(versions ? { versions } : {}),
    interrupted: interruptedBy,
    hold,
    ...(flags.cniPathFrom && flags.cniPath !== undefined ? { untrustedPath: untrustedRecordedPath(flags.cniPath, flags.cniPathFrom) } : {}),
    ...(pathNoteOf(flags) ? { pathNote: pathNoteOf(flags)! } : {}),
  };
  return { ctx, cache };
}

/** The lines said once to each Io (onceTo): a command has one Io, whatever the number of its nodes' contexts. */
const saidTo = new WeakMap<Io, Set<string>>();

/** lineTo, saying each distinct line once to io (ChainContext.debugOnce). */
function onceTo(io: Io, prefix: string): (text: string) => void {
  const line = lineTo(io, prefix);
  return (text) => {
    let said = saidTo.get(io);
    if (!said) saidTo.set(io, (said = new Set()));
    if (said.has(text)) return;
    said.add(text);
    line(text);
  };
}

/**
 * What a plugin not found says of the record's --cni-path (cni/chain.ts ChainContext.pathNote): that it was the one
 * looked in (cniPathFrom), or what cniPathNote says of one not used; undefined when there is nothing to say.
 */
function pathNoteOf(flags: EngineFlags): (() => Promise<string | undefined>) | undefined {
  const from = flags.cniPathFrom;
  if (from && flags.cniPath !== undefined) return async () => `${flags.cniPath} is the --cni-path that ${from.record} names, where its attach found its plugins (--cni-path overrides)`;
  return flags.cniPathNote;
}

/**
 * The refusal of a record's --cni-path whose directories or plugins someone other than root (or the user the plugins
 * run as) may change on its node (exec/trust.ts): exit 2, nothing was run; it names the record (anyone who may write
 * ConfigMaps in the agent namespace can write one) and the command that gives the path explicitly, for a user who
 * trusts it.
 */
function untrustedRecordedPath(path: string, from: { record: string; retry: string }): (why: string) => Error {
  return (why) => {
    const e = new UsageError(`refusing to run plugins from ${path}, the --cni-path that ${from.record} names: ${why}; anyone who may write ConfigMaps in its namespace can write a record, so its path is used only where none but root or the user the plugins run as may change it; nothing was run`);
    e.next = `if you trust it, give it yourself: \`${from.retry}\``;
    return e;
  };
}

export function prepare(flags: CommonFlags, exec: Executor, deps: Deps, command: 'cni-attach' | 'cni-detach' | 'cni-check' = 'cni-attach'): Prepared {
  if (flags.ifname === undefined) throw new UsageError('required flag(s) "ifname" not set'); // cobra's words for a required flag
  const ifname = validateIfName(flags.ifname);
  const engine = prepareEngine(flags, exec, deps);
  // before anything is read or written (every command calls this first, the dry run too): a pod target unless --netns
  const extraArgs = flags.args ? refuseOwnCniArgs(parseCniArgs(flags.args), flags.netns !== undefined ? 'netns' : 'pod', command) : [];
  const others = new Map<Executor, Pick<Prepared, 'ctx' | 'cache'>>([[exec, engine]]);
  const on = (e: Executor) => {
    let got = others.get(e);
    if (!got) others.set(e, (got = prepareEngine(flags, e, deps)));
    return got;
  };
  return { ...engine, ifname, extraArgs, on };
}

export async function loadConf(path: string, deps: Deps): Promise<NetworkConfigList> {
  const { text, source } = await readConf(path, deps.readStdin);
  return parseNetworkConfig(text, source);
}

/**
 * This host's cache entries for cni-list and cni-gc. A user who is not root may be kept out of a cache that root made
 * (libcni makes its results directory 0700; another tool's entries are 0600): that is not a fault of the cache, and
 * the cluster's records of other nodes are still theirs to see. So for a non-root user, a cache directory it may not
 * read is a note and no entries, and entries it may not read are left out with a note (not offered to
 * `cni-detach --force` as "unreadable"). Root gets every error as before. Errors: the cache's (UsageError, exit 2).
 */
export async function thisHostsEntries(cache: ResultCache, deps: Deps): Promise<Found[]> {
  let found: Found[];
  try {
    found = await cache.all();
  } catch (e) {
    const code = deniedHere(e);
    if (!code) throw e;
    deps.io.err(`note: this host's CNI cache ${cache.dir} cannot be read by this user (${code}): its attachments are not included; run as root to include them\n`);
    return [];
  }
  if ((process.getuid?.() ?? 0) === 0) return found;
  const denied = found.filter((f) => f.unreadable && /\b(EACCES|EPERM)\b/.test(f.unreadable));
  if (denied.length === 0) return found;
  deps.io.err(`note: ${denied.length} entr${denied.length > 1 ? 'ies' : 'y'} of this host's CNI cache ${cache.dir} cannot be read by this user (${denied.slice(0, 3).map((f) => f.file).join(', ')}${denied.length > 3 ? ', …' : ''}): not included; run as root to include them\n`);
  return found.filter((f) => !denied.includes(f));
}

/**
 * EACCES or EPERM of a read of this host's cache (cni/cache.ts's UsageError carries the file error as its cause) when
 * this user is not root: a directory root made 0700 (libcni's results, cni-attach's locks) keeps such a user out, which
 * is not a fault of the cache (README "--cache-dir"). undefined for root, and for any other error.
 */
function deniedHere(e: unknown): string | undefined {
  if ((process.getuid?.() ?? 0) === 0) return undefined;
  const code = ((e as { cause?: NodeJS.ErrnoException }).cause ?? (e as NodeJS.ErrnoException))?.code;
  return code === 'EACCES' || code === 'EPERM' ? code : undefined;
}

const saidDenied = new WeakMap<Deps, Set<string>>();

/**
 * A read of this host's cache besides its entries (thisHostsEntries) — its locks (stale ones listed, held ones asked),
 * its temp files — for cni-list and cni-gc: for a user who is not root, EACCES/EPERM is `none` and a note, once per
 * command and `what` ("its locks"), that what it would have shown is not included ("note: the locks of this host's CNI
 * cache /var/lib/cni cannot be read by this user (EACCES): not included; run as root to include them"); the cluster's
 * rows are listed as ever. Before, `cannot use the CNI cache … (reading locks: EACCES …)`, exit 2, no rows at all.
 * Root, and any other error: thrown (UsageError, exit 2).
 */
export async function unlessDenied<T>(cache: ResultCache, deps: Deps, what: string, read: () => Promise<T>, none: T): Promise<T> {
  try {
    return await read();
  } catch (e) {
    const code = deniedHere(e);
    if (!code) throw e;
    const said = saidDenied.get(deps) ?? new Set<string>();
    saidDenied.set(deps, said);
    if (!said.has(what)) deps.io.err(`note: ${what} of this host's CNI cache ${cache.dir} cannot be read by this user (${code}): not included; run as root to include them\n`);
    said.add(what);
    return none;
  }
}
