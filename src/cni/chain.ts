/**
 * Plugin chains, as the spec and libcni run them: ADD in order with prevResult (rolled back with DEL in reverse on
 * failure), DEL in reverse, CHECK in order, STATUS and GC for CNI 1.1, and VERSION negotiation before any of it.
 */
import { buildPluginConfig, type JsonObject, type NetworkConfigList } from './conf.js';
import { PluginError, StoppedError, UnreachableError, UsageError, signalName } from '../errors.js';
import type { CniCommand, InvocationArgs } from './env.js';
import { findPlugin, invokePlugin, type PluginRun } from './invoke.js';
import { convertResult, parseResult } from './result.js';
import { atLeast, compareVersions } from './version.js';
import type { VersionStore } from './cache.js';
import { onNode, type Executor, type RunOptions } from '../exec/types.js';
import { buildEnv } from './env.js';

export interface ChainContext {
  exec: Executor;
  cniPath: string[];
  /** Per plugin run. */
  timeoutMs: number;
  /** Notes for the user (skipped steps, rollbacks); the CLI shows them on stderr. */
  note: (line: string) => void;
  /** Details shown only with -v. */
  debug?: (line: string) => void;
  /**
   * Details shown only with -v, each line once per command (the contexts of a batch's nodes share it): what every
   * pod's attach would say alike, such as STATUS skipped for the network's CNI version (tryout 15: 100 times in a
   * 100-pod batch). Absent: debug.
   */
  debugOnce?: (line: string) => void;
  /** VERSION answers kept between runs (the result cache's directory), where the executor can identify files. */
  versions?: VersionStore;
  /** The user's signal, once the command was asked to stop (Ctrl-C, SIGTERM): no further step may build on. */
  interrupted?: () => string | undefined;
  /**
   * Tell the signal handling that a change is under way which must be finished or rolled back, not abandoned (the
   * CLI then waits for it instead of exiting at once); returns the release. See exec/interrupt.ts hold().
   */
  hold?: () => () => void;
  /**
   * Awaited before each plugin run, given its time limit: under an attachment's lock on a node reached by commands, the
   * lock's renewal (exec/lock.ts Lock.renew), so that its time limit — that run's — counts from the run that may
   * outlive this process.
   */
  beforeRun?: (timeoutMs: number) => Promise<void>;
  /**
   * Set when cniPath is not the user's own but came from elsewhere (a record in the cluster: the CLI knows which):
   * then nothing runs from it until the node says its directories and plugins may be trusted (NodeFiles
   * .untrustedPluginDirs, exec/trust.ts); otherwise what this makes of the node's reason is thrown (checkPathTrusted).
   */
  untrustedPath?: (why: string) => Error;
  /**
   * Words on where cniPath came from, added to a plugin not found (invoke.ts findPlugin): the CLI says whether it was
   * a record's path, or names a record's path that was not used. Asked only when a plugin is not found.
   */
  pathNote?: () => Promise<string | undefined>;
}

/**
 * Refuse a CNI path that is not the user's own (ctx.untrustedPath) unless its node trusts it: throws what
 * ctx.untrustedPath makes of the reason (the path's node named: "… on node node-a"). Called before anything of an
 * operation runs or changes, so that a refusal leaves all as it was. A path the user gave is not asked about.
 */
export async function checkPathTrusted(ctx: ChainContext): Promise<void> {
  if (!ctx.untrustedPath) return;
  const why = await ctx.exec.untrustedPluginDirs(ctx.cniPath);
  if (why) throw ctx.untrustedPath(`${why}${onNode(ctx.exec)}`);
}

/** One plugin run of the chain (invoke.ts invokePlugin), after ctx.beforeRun. */
async function invoke(ctx: ChainContext, run: PluginRun): Promise<JsonObject | undefined> {
  await ctx.beforeRun?.(run.timeoutMs);
  return invokePlugin(ctx.exec, run, ctx.note);
}

/** Throw StoppedError if the user's signal arrived: before a step that would add to what is there. */
export function stopIfInterrupted(ctx: ChainContext, before: string): void {
  const sig = ctx.interrupted?.();
  if (sig) throw new StoppedError(sig, `stopped by ${signalName(sig)} before ${before}`);
}

/** What the runtime tells the plugins about the attachment (libcni RuntimeConf). */
export interface RuntimeConf {
  containerId: string;
  netns: string;
  ifname: string;
  cniArgs: [string, string][];
  capabilityArgs: JsonObject;
}

export interface ResolvedList {
  list: NetworkConfigList;
  /** Absolute plugin path for each entry of list.plugins. */
  paths: string[];
}

export async function resolvePlugins(ctx: ChainContext, list: NetworkConfigList): Promise<ResolvedList> {
  const cache = new Map<string, Promise<string>>();
  const paths = await Promise.all(
    list.plugins.map((p) => {
      let found = cache.get(p.type);
      if (!found) {
        found = findPlugin(ctx.exec, p.type, ctx.cniPath).catch(async (e: unknown) => {
          const said = e instanceof UsageError && ctx.pathNote ? await ctx.pathNote().catch(() => undefined) : undefined;
          if (!said) throw e;
          throw new UsageError(`${(e as UsageError).message}; ${said}`, { cause: e, ...((e as UsageError).fix ? { fix: (e as UsageError).fix! } : {}) });
        });
        cache.set(p.type, found);
      }
      return found;
    }),
  );
  return { list, paths };
}

function args(ctx: ChainContext, command: CniCommand, rt?: RuntimeConf): InvocationArgs {
  if (!rt) return { command, path: ctx.cniPath };
  return { command, containerId: rt.containerId, netns: rt.netns, ifname: rt.ifname, args: rt.cniArgs, path: ctx.cniPath };
}

function runOf(ctx: ChainContext, r: ResolvedList, i: number, command: CniCommand, stdin: JsonObject, rt?: RuntimeConf): PluginRun {
  const plugin = r.list.plugins[i]!;
  return { type: plugin.type, path: r.paths[i]!, args: args(ctx, command, rt), stdin, timeoutMs: ctx.timeoutMs };
}

/** How a plugin is run for VERSION (the same for every plugin path): what a batching executor may run ahead. */
export function versionRunOptions(ctx: ChainContext, cniVersion: string): RunOptions {
  return { env: buildEnv(ctx.exec.baseEnv(), { command: 'VERSION', path: ctx.cniPath }), stdin: JSON.stringify({ cniVersion }), timeoutMs: ctx.timeoutMs };
}

/**
 * How plugin i of a list is run for STATUS (CNI 1.1; what statusChain runs): what a batching executor may run ahead.
 * STATUS has no side effects, and libcni's GetStatusNetworkList asks every plugin of a list of 1.1.0 or later; the
 * engine uses an answer only for a plugin whose VERSION says 1.1.0 (pluginsWith11).
 */
export function statusRunOptions(ctx: ChainContext, list: NetworkConfigList, i: number): RunOptions {
  return { env: buildEnv(ctx.exec.baseEnv(), args(ctx, 'STATUS')), stdin: JSON.stringify(buildPluginConfig(list, list.plugins[i]!)), timeoutMs: ctx.timeoutMs };
}

/** VERSION answers of this process, per executor and plugin path: a batch of attaches asks each plugin once. */
const versionAnswers = new WeakMap<object, Map<string, Promise<string[]>>>();

/** A plugin's supportedVersions: from the store while its file is unchanged, else by running it with VERSION. */
async function askVersion(ctx: ChainContext, type: string, path: string, cniVersion: string): Promise<string[]> {
  const known = ctx.versions ? await ctx.versions.lookup(path).catch(() => ({}) as { id?: string; versions?: string[] }) : {};
  if (known.versions) {
    ctx.debug?.(`VERSION of ${type}: ${known.versions.join(', ')} (remembered; ${path} is unchanged)`);
    return known.versions;
  }
  const stdin = { cniVersion };
  const out = await invoke(ctx, { type, path, args: { command: 'VERSION', path: ctx.cniPath }, stdin, timeoutMs: ctx.timeoutMs });
  const sv = out?.supportedVersions;
  let versions: string[];
  if (Array.isArray(sv) && sv.every((v) => typeof v === 'string')) versions = sv as string[];
  else if (typeof out?.cniVersion === 'string') versions = [out.cniVersion];
  else throw new PluginError(type, 'VERSION', undefined, 'answered VERSION without supportedVersions');
  if (ctx.versions && known.id !== undefined) await ctx.versions.remember(path, known.id, versions);
  return versions;
}

/**
 * The way out of a config version a plugin does not speak (`supported`), from where the version came from. A conflist
 * with "cniVersions" (CNI 1.1) gets the highest version this tool knows among cniVersions and cniVersion (libcni
 * NetworkConfFromBytes: both sorted together, the last taken), so the one asked for may come from cniVersions: the
 * fix is then to remove from cniVersions (and cniVersion) the versions above the highest the plugin speaks, which libcni
 * then takes; without it, "cniVersion" is the field to set. Begins with "; " or ": ".
 */
function versionAdvice(list: NetworkConfigList, supported: string[]): string {
  const from = list.versionFrom;
  if (!from) return ': set "cniVersion" to one of those';
  const asked = [...new Set([...from.cniVersions, ...(from.cniVersion ? [from.cniVersion] : [])])].sort(compareVersions);
  const fields = [...(from.cniVersions.includes(list.cniVersion) ? ['"cniVersions"'] : []), ...(from.cniVersion === list.cniVersion ? ['"cniVersion"'] : [])].join(' and ');
  const why = `, the highest of its ${fields} (libcni takes the highest version it knows among "cniVersions" and "cniVersion")`;
  const best = asked.filter((v) => supported.includes(v)).at(-1);
  if (!best) return `${why}, and none of those it lists (${asked.join(', ')}) is one the plugin supports: add one of those to "cniVersions"`;
  const above = (v: string) => compareVersions(v, best) > 0;
  const drop = from.cniVersions.filter(above);
  const steps = [
    ...(drop.length ? [`remove ${drop.join(', ')} from "cniVersions"`] : []),
    ...(from.cniVersion && above(from.cniVersion) ? [`set "cniVersion" to ${best} (or remove it)`] : []),
  ];
  return `${why}: ${steps.join(' and ')}, so that ${best}, the highest it then lists, is taken`;
}

/** Ask every plugin which spec versions it speaks; refuse (exit 2) when the config's version is not among them. */
export async function negotiateVersions(ctx: ChainContext, r: ResolvedList): Promise<Map<string, string[]>> {
  let byPath = versionAnswers.get(ctx.exec);
  if (!byPath) versionAnswers.set(ctx.exec, (byPath = new Map()));
  r.list.plugins.forEach((p, i) => {
    const path = r.paths[i]!;
    if (byPath.has(path)) return;
    const asked = askVersion(ctx, p.type, path, r.list.cniVersion);
    asked.catch(() => undefined); // awaited below, in order; one failing while an earlier one is awaited is not unhandled
    byPath.set(path, asked);
  });
  const out = new Map<string, string[]>();
  for (const [i, p] of r.list.plugins.entries()) {
    const supported = await byPath.get(r.paths[i]!)!.catch((e: unknown) => {
      byPath.delete(r.paths[i]!); // a failed answer is not kept: the next attach asks again
      throw e;
    });
    if (!supported.includes(r.list.cniVersion)) {
      throw new UsageError(`plugin "${p.type}" (${r.paths[i]}${onNode(ctx.exec)}) supports CNI ${supported.join(', ')}; the config asks for ${r.list.cniVersion}${versionAdvice(r.list, supported)}`);
    }
    out.set(p.type, supported);
  }
  return out;
}

/**
 * A result from a plugin, validated, in the config's version. A result whose "cniVersion" is absent, empty, null or
 * not a string is taken as the config's version (libcni pkg/invoke fixupResultVersion).
 */
export function acceptResult(type: string, raw: JsonObject, cniVersion: string): JsonObject {
  try {
    const withVersion = typeof raw.cniVersion !== 'string' || raw.cniVersion === '' ? { ...raw, cniVersion } : raw;
    const parsed = parseResult(withVersion);
    return parsed.cniVersion === cniVersion ? parsed : convertResult(parsed, cniVersion);
  } catch (e) {
    throw new PluginError(type, 'ADD', undefined, `returned an invalid result: ${(e as Error).message}`);
  }
}

/**
 * The least time limit of each DEL of a rollback (ms): the default --timeout (cli/options.ts). A rollback undoes an ADD
 * that failed — often because it outran a tight --timeout (an outside tester's `--timeout 20ms` left all 10 pods of a
 * batch `interrupted`, their rollback DELs killed by the same 20 ms): its DELs are not doomed by the limit that ended
 * the ADD. The user's signal still stops a rollback as before (a second one quits; exec/interrupt.ts).
 */
export const ROLLBACK_MIN_TIMEOUT_MS = 60_000;

/** The time limit of each DEL of a rollback (ms): the larger of the plugin time limit (--timeout) and ROLLBACK_MIN_TIMEOUT_MS. */
export function rollbackTimeoutMs(timeoutMs: number): number {
  return Math.max(timeoutMs, ROLLBACK_MIN_TIMEOUT_MS);
}

/** ctx for the DELs of a rollback: each run's limit rollbackTimeoutMs. */
export function rollbackContext(ctx: ChainContext): ChainContext {
  return { ...ctx, timeoutMs: rollbackTimeoutMs(ctx.timeoutMs) };
}

export class AddFailed extends PluginError {
  constructor(
    readonly original: PluginError,
    readonly rollbackError: Error | undefined,
  ) {
    super(original.plugin, original.command, original.cniCode, original.cniMsg, original.details, original.stderr, original.stoppedBy);
    this.message = rollbackError
      ? `${original.message}; rolling back also failed: ${rollbackError.message}`
      : `${original.message} (rolled back: nothing was left behind)`;
    this.left = rollbackError ? 'recorded' : 'undone';
  }
}

/**
 * ADD every plugin in order, each getting the previous result. On a failure, DEL the whole chain in reverse
 * (with the last good result as prevResult; each DEL limited by rollbackTimeoutMs, not by the --timeout that may have
 * ended the ADD), then throw AddFailed. The user's signal counts as a failure wherever it
 * lands: a plugin it stopped, or one that had finished when it came (its result is not built on), or between runs.
 */
export async function addChain(ctx: ChainContext, r: ResolvedList, rt: RuntimeConf): Promise<JsonObject> {
  let prev: JsonObject | undefined;
  for (let i = 0; i < r.list.plugins.length; i++) {
    const type = r.list.plugins[i]!.type;
    const stdin = buildPluginConfig(r.list, r.list.plugins[i]!, { prevResult: prev, capabilityArgs: rt.capabilityArgs });
    try {
      const sig = ctx.interrupted?.();
      if (sig) throw new PluginError(type, 'ADD', undefined, `by ${signalName(sig)} before it ran`, undefined, undefined, sig);
      const raw = await invoke(ctx, runOf(ctx, r, i, 'ADD', stdin, rt));
      const after = ctx.interrupted?.();
      if (after) {
        // it finished: the rollback's DELs get its result (what it made) as prevResult, when it is one
        try {
          prev = acceptResult(type, raw!, r.list.cniVersion);
        } catch {
          /* not a result: the DELs get the one before */
        }
        throw new PluginError(type, 'ADD', undefined, `by ${signalName(after)} (it had finished; its result is not used)`, undefined, undefined, after);
      }
      prev = acceptResult(type, raw!, r.list.cniVersion);
    } catch (e) {
      // a request that never reached the node (UnreachableError.notSent) left nothing of this plugin's ADD, but the
      // ADDs before it ran: of the chain, nothing ran only when it was the first
      if (e instanceof UnreachableError && e.notSent && i > 0) e.notSent = false;
      if (!(e instanceof PluginError)) throw e;
      let rollbackError: Error | undefined;
      try {
        await delChain(rollbackContext(ctx), r, rt, prev);
      } catch (d) {
        rollbackError = d as Error;
      }
      throw new AddFailed(e, rollbackError);
    }
  }
  return prev!;
}

/**
 * DEL in reverse order. prevResult is passed for configs of 0.4.0 and later, as libcni does. `stoppable` (a detach,
 * not a rollback): once the user's signal has come, no further plugin's DEL begins — a PluginError with stoppedBy for
 * the next one names the DELs that had finished (the record stays, and the same detach runs them again: DEL is
 * idempotent). A DEL that finished when the signal came counts as done (invoke.ts): when it was the chain's last, the
 * detach is whole. `finished` gets the type of each plugin whose DEL finished, in the order they ran (a forced detach
 * says which ran before one failed: cni/attach.ts forcedRemains).
 */
export async function delChain(ctx: ChainContext, r: ResolvedList, rt: RuntimeConf, prevResult?: JsonObject, stoppable = false, finished: string[] = []): Promise<void> {
  const prev = prevResult && atLeast(r.list.cniVersion, '0.4.0') ? prevResult : undefined;
  for (let i = r.list.plugins.length - 1; i >= 0; i--) {
    const type = r.list.plugins[i]!.type;
    const sig = stoppable && finished.length > 0 ? ctx.interrupted?.() : undefined;
    if (sig) throw new PluginError(type, 'DEL', undefined, `by ${signalName(sig)} before it ran (the DEL of ${finished.join(', ')} had finished)`, undefined, undefined, sig);
    const stdin = buildPluginConfig(r.list, r.list.plugins[i]!, { prevResult: prev, capabilityArgs: rt.capabilityArgs });
    await invoke(ctx, runOf(ctx, r, i, 'DEL', stdin, rt));
    finished.push(type);
  }
}

/**
 * Whether a CHECK of the list runs at all: a config before 0.4.0 has none (UsageError); one that sets disableCheck
 * skips it (false, with a note). checkChain and cni-check's dry run (cni/attach.ts planRecorded) both ask here.
 */
export function checkRuns(ctx: ChainContext, list: NetworkConfigList): boolean {
  if (!atLeast(list.cniVersion, '0.4.0')) {
    throw new UsageError(`config version ${list.cniVersion} has no CHECK (it came with CNI 0.4.0)`);
  }
  if (list.disableCheck) {
    ctx.note(`network ${list.name} sets disableCheck: CHECK is not run for this network (no plugin is asked)`);
    return false;
  }
  return true;
}

/**
 * The bridge plugin's CHECK of the bridge's MAC (containernetworking/plugins bridge.go: "Bridge interface %s Mac
 * doesn't match: %s", against the MAC its ADD returned). A Linux bridge whose MAC the plugin did not pin takes the
 * lowest MAC of its ports, so it changes as ports come and go, other attachments' included: plugins 1.1 pin it only
 * when they put a gateway address on the bridge (isGateway); containernetworking/plugins#60, #1265. The plugin checks
 * the bridge before the interface, so such a failure does not tell whether the interface checked is as attached (its
 * own veth gone changes the bridge's MAC too): said with it (bridgeMacHint), never hidden nor taken for success.
 */
const BRIDGE_MAC_CHANGED = /^Bridge interface \S+ Mac doesn't match/;

/** The words added to a bridge CHECK that failed on the bridge's own MAC (see BRIDGE_MAC_CHANGED). */
export function bridgeMacHint(e: unknown): string | undefined {
  if (!(e instanceof PluginError) || e.command !== 'CHECK' || !BRIDGE_MAC_CHANGED.test(e.cniMsg)) return undefined;
  return " (the MAC the bridge itself had at this ADD: the bridge plugin checks it before the interface, and a bridge whose MAC it did not pin — no isGateway address on it — takes the lowest MAC of its ports, so it changes whenever a port comes or goes, another pod's attach or detach included; so this failure does not tell whether this interface is still as attached; containernetworking/plugins#60)";
}

/** CHECK in order with the cached result, when checkRuns says it runs. */
export async function checkChain(ctx: ChainContext, r: ResolvedList, rt: RuntimeConf, prevResult: JsonObject): Promise<void> {
  if (!checkRuns(ctx, r.list)) return;
  for (let i = 0; i < r.list.plugins.length; i++) {
    const stdin = buildPluginConfig(r.list, r.list.plugins[i]!, { prevResult, capabilityArgs: rt.capabilityArgs });
    await invoke(ctx, runOf(ctx, r, i, 'CHECK', stdin, rt)).catch((e: unknown) => {
      const hint = bridgeMacHint(e);
      if (hint) (e as Error).message += hint;
      throw e;
    });
  }
}

/** Which plugins speak CNI 1.1 (STATUS, GC) given their VERSION answers; notes the others. */
function pluginsWith11(ctx: ChainContext, r: ResolvedList, versions: Map<string, string[]>, what: string, quiet = false): number[] {
  const note = quiet ? (l: string) => (ctx.debugOnce ?? ctx.debug)?.(l) : ctx.note;
  if (!atLeast(r.list.cniVersion, '1.1.0')) {
    note(`${what} skipped: network ${r.list.name} uses CNI ${r.list.cniVersion}; ${what} came with CNI 1.1.0`);
    return [];
  }
  const ok: number[] = [];
  r.list.plugins.forEach((p, i) => {
    if (versions.get(p.type)?.includes('1.1.0')) ok.push(i);
    else note(`${what} skipped for plugin ${p.type}: it does not support CNI 1.1.0`);
  });
  return ok;
}

/** STATUS (CNI 1.1): every plugin must say it is ready; the first that does not stops us. */
export async function statusChain(ctx: ChainContext, r: ResolvedList, versions: Map<string, string[]>): Promise<void> {
  // STATUS runs before every ADD, so its "skipped" notes are for -v only
  for (const i of pluginsWith11(ctx, r, versions, 'STATUS', true)) {
    const stdin = buildPluginConfig(r.list, r.list.plugins[i]!);
    await invoke(ctx, runOf(ctx, r, i, 'STATUS', stdin));
  }
}

export interface GcAttachment {
  containerID: string;
  ifname: string;
}

/**
 * Whether cni-gc runs GC for the network of list: CNI 1.1.0 and later (SPEC.md "GC" came with 1.1.0), and not
 * `disableGC` (SPEC.md "Configuration format": "runtimes must not call `GC` for this network configuration list").
 * Also whether its attaches and detaches wait for a running GC (attach.ts untilGcDone).
 */
export function runsGc(list: Pick<NetworkConfigList, 'cniVersion' | 'disableGC'>): boolean {
  return atLeast(list.cniVersion, '1.1.0') && !list.disableGC;
}

/**
 * GC (CNI 1.1): each plugin gets cni.dev/valid-attachments and frees whatever else it holds. Errors are collected.
 * The list goes under cni.dev/attachments too, as libcni's GCNetworkList sends it (the spec's earlier name, #1101).
 */
export async function gcChain(ctx: ChainContext, r: ResolvedList, versions: Map<string, string[]>, valid: GcAttachment[]): Promise<Error[]> {
  const errors: Error[] = [];
  if (r.list.disableGC) {
    ctx.note(`network ${r.list.name} sets disableGC: GC skipped`);
    return errors;
  }
  for (const i of pluginsWith11(ctx, r, versions, 'GC')) {
    const stdin = buildPluginConfig(r.list, r.list.plugins[i]!, { extra: { 'cni.dev/valid-attachments': valid, 'cni.dev/attachments': valid } });
    try {
      await invoke(ctx, runOf(ctx, r, i, 'GC', stdin));
    } catch (e) {
      errors.push(e as Error);
    }
  }
  return errors;
}

/** For --dry-run: the runs an ADD would make, with a placeholder where a previous result will be injected. */
export function planAdd(ctx: ChainContext, r: ResolvedList, rt: RuntimeConf): PluginRun[] {
  return r.list.plugins.map((p, i) => {
    const prevResult = i === 0 ? undefined : { '(result of plugin)': r.list.plugins[i - 1]!.type };
    return runOf(ctx, r, i, 'ADD', buildPluginConfig(r.list, p, { prevResult, capabilityArgs: rt.capabilityArgs }), rt);
  });
}

/** For --dry-run of detach and check: the runs a DEL (in reverse) or CHECK (in order) would make. */
export function planRecordedRuns(ctx: ChainContext, r: ResolvedList, rt: RuntimeConf, command: 'DEL' | 'CHECK', prevResult?: JsonObject): PluginRun[] {
  const prev = prevResult && atLeast(r.list.cniVersion, '0.4.0') ? prevResult : undefined;
  const order = r.list.plugins.map((_, i) => i);
  if (command === 'DEL') order.reverse();
  return order.map((i) => runOf(ctx, r, i, command, buildPluginConfig(r.list, r.list.plugins[i]!, { prevResult: prev, capabilityArgs: rt.capabilityArgs }), rt));
}
