/**
 * The life of one attachment: lock, refuse what is already there, record the intent, run the chain, cache the result
 * (or roll back); and the way back: find what was cached, DEL it, forget it. Also CHECK of a cached attachment.
 */
import { createHash } from 'node:crypto';
import { buildPluginConfig, parseNetworkConfig, declaredCapabilities, type JsonObject, type NetworkConfigList } from './conf.js';
import { BusyError, NotFoundError, NotRecordedError, PluginError, StoppedError, UnreachableError, UsageError, CniAttachError, stoppedBy, type LeftByStop, foreignLockWayOut, freeInSecs, shown } from '../errors.js';
import {
  addChain, AddFailed, checkChain, checkPathTrusted, checkRuns, delChain, negotiateVersions, planAdd, planRecordedRuns, resolvePlugins, rollbackContext, runsGc, statusChain,
  statusRunOptions, stopIfInterrupted, versionRunOptions, type ChainContext, type ResolvedList, type RuntimeConf,
} from './chain.js';
import { cacheDirsOf, configText, deleteStopped, intentPath, keyOf, makeEntry, recordsNamespaceOf, resultPath, type CacheEntry, type DeleteMark, type Found, type ResultCache } from './cache.js';
import { convertResult, summarizeResult } from './result.js';
import { atLeast } from './version.js';
import type { PluginRun } from './invoke.js';
import { POD_CNI_ARGS } from './env.js';
import { isBatching, PreconditionFailed } from '../exec/batch.js';
import { commandInParens, commandName, type Busy, type Lock } from '../exec/lock.js';
import { formatDuration, isoSecond, isoSecondUp } from '../duration.js';
import { onNode, type RunOptions, type RunResult } from '../exec/types.js';

export interface AttachRequest {
  list: NetworkConfigList;
  rt: RuntimeConf;
  /** Where the interface would go, for messages ("netns /var/run/netns/a"). */
  describe: string;
  /** Whether ifname is already a link in the target namespace. */
  interfaceExists: () => Promise<boolean>;
  /**
   * When the same network (same config) is already attached as ifname, answer with the cached result instead of
   * refusing: a retried attach whose first try failed only after the ADD (e.g. writing the pod annotation).
   */
  reattachSame?: boolean;
  /** The commands that undo this attachment, for messages (the CLI builds them: the engine names no flag). */
  ways?: WaysOut;
  /**
   * A port awaited once the checks passed and before the intent is recorded and the first plugin ADD runs (never when
   * the attach is refused, or when reattachSame finds it there): the CLI's write-ahead record in the cluster, which it
   * started when the attach started, so that it runs alongside the node's look-up and costs no wait of its own, and a
   * batch's last look at its watch (a pod gone since its turn began: cli/attach.ts). A rejection stops the attach
   * before anything was changed, its locks released (its error as thrown); so does a signal that came during the wait.
   */
  beforeFirstAdd?: () => Promise<void>;
  /**
   * The agent namespace whose ConfigMaps the CLI records this pod attachment in (--agent-namespace): kept in its intent
   * and result on the node (cache.ts CacheEntry.cniAttachRecordsNamespace). Absent: no record is made (a bare namespace).
   */
  recordsNamespace?: string;
}

export interface Attached {
  result: JsonObject;
  list: NetworkConfigList;
  cacheFile: string;
  /** True when nothing ran because this very attachment was already there (reattachSame). */
  already: boolean;
  /**
   * For an attachment already there: the agent namespace its entry says its attach recorded it in (cache.ts
   * recordsNamespaceOf), undefined when it says none (an entry of an earlier version, or of no pod attach).
   */
  recordedIn?: string;
}

/**
 * The refusal of a held lock: "another cni-attach/cni-detach is working on eth1 in pod shop/web-1 right now; try again
 * when it is done", or, when its holder is gone but what it started on the node may still run (exec/lock.ts), until
 * when (on this host's clock). With `network`: the refusal of that network's lock in the sandbox (lockNetworkInSandbox),
 * "another cni-attach (pid …) is attaching network blue under another ifname in pod shop/web-1 right now; …".
 * A lock of another host with a time limit, respected (foreignLockWayOut), is not said to be worked on "right now",
 * nor to be waited for (an outside tester's cni-check and cni-attach said so of a laptop's attach killed long before):
 * "another cni-attach/cni-detach (pid 26304 on host laptop-2) holds the lock of eth1 in pod shop/web-1 on node node-b:
 * a command of another host, which this host cannot see" and the way out of it, with when its time limit passed or
 * passes — naming "a cni-detach --force of it" until withWayOut names the command line.
 */
export function busyError(ifname: string, describe: string, busy: Busy, cache: ResultCache, now = Date.now(), network?: string): BusyError {
  const who = network === undefined ? 'another cni-attach/cni-detach' : 'another cni-attach';
  const doing = network === undefined ? `is working on ${ifname}` : `is attaching network ${network} under another ifname`;
  const head = `${who}${busy.freeInMs === undefined ? commandInParens(busy, cache.host) : ''} ${doing} in ${describe} right now`;
  const secs = freeInSecs(busy, now);
  const at = secs === undefined ? '' : isoSecondUp(now + secs * 1000);
  if (secs === undefined && foreignLockWayOut(busy, cache.host) !== '') {
    const lockOf = network === undefined ? `the lock of ${ifname}` : `the lock of network ${network}`;
    const foreign = `${who}${commandInParens(busy, cache.host)} holds ${lockOf} in ${describe}${cache.named('')}: a command of another host, which this host cannot see`;
    const say = (by?: string, tail = '') => `${foreign}${foreignLockWayOut(busy, cache.host, cache.named(''), tail, by, now)}`;
    const e = new BusyError(say());
    e.holder = { ...busy };
    foreignSaid.set(e, say);
    return e;
  }
  const e = new BusyError(
    secs === undefined
      ? `${head}; try again when it is done`
      : `${head}: its command${commandInParens(busy, cache.host)} is gone, but what it started${cache.named('')} may run until its time limit ends; ` +
          `the lock is free in ${secs}s (at ${at}): try again then`,
  );
  e.holder = { ...busy };
  return e;
}

/** busyError's refusals of another host's lock, and how each says its way out with another `by` and tail (withWayOut). */
const foreignSaid = new WeakMap<BusyError, (by?: string, tail?: string) => string>();

/**
 * A busy answer of another host's lock (busyError) with its way out in the caller's words: `by`, who takes the lock
 * (the command line to paste: WaysOut.force; "the same cni-detach with --force" in that detach's own error), `tail`
 * what the sentence adds. Any other error as it is.
 */
export function withWayOut(e: unknown, by: string | undefined, tail = ''): unknown {
  const say = e instanceof BusyError ? foreignSaid.get(e) : undefined;
  if (say && by !== undefined) (e as BusyError).message = say(by, tail);
  return e;
}

/** The command of a withLock that must not run beside a cni-gc's GC of `list`'s network (untilGcDone). */
interface GcTurn {
  list: NetworkConfigList;
  command: 'ADD' | 'DEL';
}

/**
 * fn under the attachment's lock. On a node reached by commands (exec/batch.ts) the lock is taken by the steps of the
 * next command run and released with the last writes, which are flushed here: one round trip for both. fn gets ctx
 * with the lock's renewal before each plugin run (exec/lock.ts: its time limit on such a node counts from there).
 * With `gc`, the lock is taken outside any cni-gc's GC of that network (lockOutsideGc), before fn writes anything.
 */
async function withLock<T>(ctx: ChainContext, cache: ResultCache, rt: { containerId: string; ifname: string }, describe: string, fn: (lock: Lock, ctx: ChainContext) => Promise<T>, gc?: GcTurn): Promise<T> {
  const lock = await lockOutsideGc(ctx, cache, rt, describe, gc);
  let failed = false;
  try {
    return await fn(lock, { ...ctx, beforeRun: (ms) => lock.renew(ms) });
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    await lock.release();
    // after a failure, its error is the one to tell (a flush that fails as well leaves the lock to the stale-lock rule),
    // unless the flush says the lock was not ours when fn read the snapshot it judged by (exec/batch.ts: a lock
    // released before any command carried it): then that judgement does not stand, and nothing was done
    await cache.flush().catch((e: unknown) => {
      if (!failed || e instanceof PreconditionFailed) throw e;
    });
  }
}

/**
 * The lock of rt's attachment, taken when no cni-gc runs GC of gc.list's network (the lock order: untilGcDone). The
 * interface lock first, then the GC lock read; while a live cni-gc holds that, the interface lock goes back (nothing
 * was done under it), the GC is waited for (untilGcDone, at most ctx.timeoutMs in all), and both are taken again.
 * -v says when the wait begins; once it waited, one note says so. Errors: BusyError when another command holds the interface lock (busyError) or
 * the GC outlasts the wait; StoppedError when the user's signal came during the wait. Nothing is read for the GC
 * lock without gc, or where cni-gc runs no GC (gcRunning).
 */
async function lockOutsideGc(ctx: ChainContext, cache: ResultCache, rt: { containerId: string; ifname: string }, describe: string, gc?: GcTurn): Promise<Lock> {
  let waited: { began: number; holder: Busy } | undefined;
  for (;;) {
    // (a rollback's DELs, whose limit is their own, write theirs into it as they begin: withLock's beforeRun)
    const taken = await cache.lock(rt.containerId, rt.ifname, ctx.timeoutMs);
    if ('busy' in taken) throw busyError(rt.ifname, describe, taken.busy, cache);
    const running = gc ? await gcRunning(cache, gc.list).catch(async (e: unknown) => {
      await taken.lock.release();
      if (e instanceof CniAttachError) e.left ??= 'nothing';
      throw e;
    }) : undefined;
    if (!running) {
      if (waited) ctx.note(`waited ${((Date.now() - waited.began) / 1000).toFixed(1)}s for ${gcName(waited.holder, cache)} to finish CNI GC of network ${gc!.list.name} before the ${gc!.command} (no ${gc!.command} runs beside GC)`);
      return taken.lock;
    }
    await taken.lock.release();
    if (!waited) ctx.debug?.(`${gcName(running, cache)} is running CNI GC of network ${gc!.list.name}: the ${gc!.command} waits until it is done (at most ${formatDuration(ctx.timeoutMs)}, the plugin time limit)`);
    waited = { began: waited?.began ?? Date.now(), holder: running };
    waited.holder = await untilGcDone(ctx, cache, gc!.list, gc!.command, describe, waited);
  }
}

/**
 * attempt() now and then again — after 25 ms, doubling up to every 250 ms — until it answers (not undefined), for at
 * most ctx.timeoutMs in all; undefined when that passed or the user's signal came first (ctx.interrupted says which).
 * For a wait on a GC lock (untilGcDone; cni/gc.ts).
 */
export async function poll<T>(ctx: ChainContext, attempt: () => Promise<T | undefined>): Promise<T | undefined> {
  const began = Date.now();
  for (let every = 25; ; every = Math.min(every * 2, 250)) {
    const answer = await attempt();
    if (answer !== undefined) return answer;
    const left = ctx.timeoutMs - (Date.now() - began);
    if (left <= 0 || ctx.interrupted?.()) return undefined;
    await new Promise<void>((r) => setTimeout(r, Math.min(every, left)));
  }
}

/** "a cni-gc (pid 123 on this host vm, running for 4s)": the holder of a GC lock, for messages. */
function gcName(b: Busy, cache: ResultCache): string {
  return `a cni-gc${commandInParens(b, cache.host)}`;
}

/**
 * What holds the GC lock of list's network now (a stale one broken first: cache.ts gcHolder), or undefined when it is
 * free — and always undefined, nothing read, where cni-gc runs no GC: another node's cache (ResultCache.gcHere: no
 * round trip there), a network without GC (chain.ts runsGc: older than CNI 1.1.0, or disableGC).
 */
async function gcRunning(cache: ResultCache, list: NetworkConfigList): Promise<Busy | undefined> {
  if (!cache.gcHere || !runsGc(list)) return undefined;
  return cache.gcHolder(list.name);
}

/**
 * Wait, holding no lock, while a cni-gc runs the plugins' GC of list's network, before this command's ADD (an attach)
 * or DEL (a detach, and cni-gc's own DELs of stale attachments). SPEC.md "Lifecycle & Ordering": "The runtime must
 * exclusively execute either _gc_ or _add_ and _delete_. The runtime must ensure that no _add_ or _delete_ operations
 * are in progress before executing _gc_, and must wait for _gc_ to complete before issuing new _add_ or _delete_
 * commands."
 *
 * The lock order (RELIABILITY.md "cni-gc and running attaches"): an ADD or DEL takes its interface lock (cache.ts
 * lockPath), THEN reads the network's GC lock (cache.ts gcLockPath) — before it writes anything, its intent included;
 * cni-gc takes the GC lock, THEN reads the interface locks (cni/gc.ts gcTurn) and only then the cache for
 * `cni.dev/valid-attachments`. Each step is a file operation on this host, finished before the next one starts, so
 * of the two reads the later one sees the other's lock: either the ADD/DEL sees the GC lock, gives its interface lock
 * back (lockOutsideGc: nothing was done under it) and waits here, or cni-gc sees the interface lock and waits until
 * the ADD/DEL has finished (at most its --timeout; then that network's GC is skipped, busy) — giving the GC lock
 * back while it waits, so that ADDs and DELs begun meanwhile are not held up by a gc that is only waiting. Neither
 * waits while holding what the other waits for, so neither waits for the other in a circle: the ADD/DEL waits here
 * holding no lock, and so does cni-gc.
 *
 * This waits until the GC lock is free — at most ctx.timeoutMs (the plugin time limit) since waited.began, looking
 * again every 25 ms to 250 ms (poll); a GC lock whose holder is gone is stale and broken (exec/lock.ts, as the
 * interface locks). Returns the last holder seen (for lockOutsideGc's note:
 * "waited 1.2s for a cni-gc (pid 123 on this host lap, running for 2m5s) to finish CNI GC of network
 * net before the ADD …").
 *
 * Only where cni-gc runs GC (gcRunning): nothing is read for any other network, nor on a node reached by commands.
 * Errors: BusyError (exit 1) when the GC outlasts the wait (nothing of this command ran), StoppedError when the
 * user's signal came during the wait.
 */
async function untilGcDone(ctx: ChainContext, cache: ResultCache, list: NetworkConfigList, command: 'ADD' | 'DEL', describe: string, waited: { began: number; holder: Busy }): Promise<Busy> {
  let holder = waited.holder;
  const done = await poll({ ...ctx, timeoutMs: ctx.timeoutMs - (Date.now() - waited.began) }, async () => {
    const now = await cache.gcHolder(list.name);
    if (!now) return true;
    holder = now;
    return undefined;
  });
  if (!done) {
    stopIfInterrupted(ctx, `the ${command}, while waiting for ${gcName(holder, cache)} to finish CNI GC of network ${list.name}: nothing was changed`);
    const e = new BusyError(
      `${gcName(holder, cache)} is still running CNI GC of network ${list.name} after ${formatDuration(ctx.timeoutMs)} (the plugin time limit) of waiting, ` +
        `and no ${command} may run beside it (CNI spec); nothing was changed for ${describe}: try again when it is done`,
    );
    e.holder = { ...holder };
    throw e;
  }
  return holder;
}

/** A cni-gc the real command would wait for (untilGcDone): its network, what holds its GC lock, and the command. */
export interface GcWait {
  network: string;
  holder: Busy;
  command: 'ADD' | 'DEL';
}

/**
 * For a dry run: the cni-gc the real command would wait for before its ADD or DEL of list (untilGcDone's test, read
 * only: a stale GC lock is left as it is), or undefined. The line a dry run prints of it: gcWaitLine.
 */
export async function gcWaitOf(cache: ResultCache, list: NetworkConfigList, command: 'ADD' | 'DEL'): Promise<GcWait | undefined> {
  if (!cache.gcHere || !runsGc(list)) return undefined;
  const holder = await cache.gcHeld(list.name);
  return holder ? { network: list.name, holder, command } : undefined;
}

/** "would wait for cni-gc of network green (running, pid 123 on this host vm, …) before its ADD, at most 60s". */
export function gcWaitLine(w: GcWait, here: string, timeoutMs: number): string {
  const who = commandName(w.holder, here);
  return `would wait for cni-gc of network ${w.network} (running${who ? `, ${who}` : ''}) before its ${w.command}, at most ${formatDuration(timeoutMs)} (--timeout): no ${w.command} runs beside CNI GC`;
}

/** ctx.hold() around fn, when the CLI gave one: a signal meanwhile is answered by rolling back, not by exiting. */
async function held<T>(ctx: ChainContext, fn: () => Promise<T>): Promise<T> {
  const release = ctx.hold?.();
  try {
    return await fn();
  } finally {
    release?.();
  }
}

/**
 * An engine operation, then once more step by step when its optimistic steps on a node did not hold (someone held the
 * lock or changed the cache between the look-up and the lock: exec/batch.ts PreconditionFailed). Nothing was done
 * by the first try then, and the second gives the usual answers (busy, already taken).
 */
async function optimistically<T>(ctx: ChainContext, cache: ResultCache, op: (ctx: ChainContext, cache: ResultCache) => Promise<T>): Promise<T> {
  try {
    return await op(ctx, cache);
  } catch (e) {
    if (!(e instanceof PreconditionFailed) || !isBatching(ctx.exec)) throw e;
    ctx.debug?.(`the steps taken ahead on ${ctx.exec.where} did not hold (${e.message}): again step by step`);
    const exec = ctx.exec.direct();
    return op({ ...ctx, exec }, cache.on(exec));
  }
}

/**
 * Plugins of containernetworking/plugins that name what they make on the node by the network's name and the container
 * id alone, not the interface: two attachments of one network in one sandbox (libcni allows it: the key of an
 * attachment is network, container and ifname) share that name, so the second ADD fails on the first's ("file
 * exists") and its rollback's DEL — or a later DEL of either — removes the other's. Seen with bandwidth 1.1.1 (an
 * outside tryout: a failed second attach rolled back "with nothing left behind" and took the first's ifb device).
 * Source: plugins/meta/bandwidth getIfbDeviceName(networkName, containerID), plugins/meta/portmap
 * genDnatChain(netName, containerID) (FormatChainName "DN-").
 */
export const KEYED_BY_NETWORK_AND_CONTAINER: ReadonlyMap<string, string> = new Map([
  ['bandwidth', 'its ifb device on the node, bwp…'],
  ['portmap', 'its iptables chain on the node, CNI-DN-…'],
]);

/** The plugins of list that KEYED_BY_NETWORK_AND_CONTAINER names, by type, in the list's order. */
function keyedPlugins(list: NetworkConfigList): string[] {
  return [...new Set(list.plugins.map((p) => p.type).filter((t) => KEYED_BY_NETWORK_AND_CONTAINER.has(t)))];
}

/**
 * "its plugin bandwidth (its ifb device on the node, bwp…) names that state", "its plugins portmap (…) and bandwidth (…)
 * name that state": the keyed plugins of a chain, what they key, and the verb.
 */
function keyedWords(keyed: string[]): string {
  const which = keyed.map((t) => `${t} (${KEYED_BY_NETWORK_AND_CONTAINER.get(t)})`).join(' and ');
  return keyed.length === 1 ? `its plugin ${which} names that state` : `its plugins ${which} name that state`;
}

/**
 * Refuse an attach of a network already recorded in the same sandbox under another ifname when a plugin of its chain
 * keys its node state by network and container only (KEYED_BY_NETWORK_AND_CONTAINER): the ADD would fail on the
 * other's state and its rollback remove it (or succeed, and a later DEL of either remove both). Read-only, from the
 * record files' names (ResultCache.otherAttachmentsOf). Made before the lock (as a dry run makes it: an early answer
 * from the look-up's names), and again under the network's lock in the sandbox (lockNetworkInSandbox), where an attach
 * of the network under another ifname that runs at the same moment cannot pass it too. Errors: UsageError (exit 2).
 */
async function refuseSharedPluginState(ctx: ChainContext, cache: ResultCache, req: AttachRequest): Promise<void> {
  // portmap without port mappings neither makes nor removes its chain (keyedOnDel): no share to collide over
  const keyed = keyedOnDel(req.list, req.rt.capabilityArgs);
  if (keyed.length === 0) return;
  const recorded = await cache.attachmentsOf(req.list.name, req.rt.containerId);
  const others = recorded.filter((i) => i !== req.rt.ifname);
  if (others.length === 0) {
    if (recorded.length === 0 && keyed.includes('bandwidth')) await refuseForeignIfb(ctx, cache, req);
    if (recorded.length === 0 && keyed.includes('portmap')) await refuseForeignPortmapChain(ctx, cache, req);
    return;
  }
  const e = new UsageError(
    `network ${req.list.name} is already recorded in ${req.describe} as ${others.join(', ')}, and ${keyedWords(keyed)} by network and container only: attaching it again as ${req.rt.ifname} would collide with it, and a DEL of either would remove the other's (nothing was changed)`,
  );
  e.next = `attach a config whose "name" is another network's, or detach ${others.join(', ')} first`;
  throw e;
}

/** The directory whose entries are the node's network interfaces (of the namespace the node's commands run in). */
export const NODE_LINKS = '/sys/class/net';

/**
 * The name bandwidth gives its ifb device for network in container's sandbox: "bwp" and the sha512 of network name and
 * container id (hex), 15 bytes in all (containernetworking/plugins plugins/meta/bandwidth getIfbDeviceName,
 * pkg/utils MustFormatHashWithPrefix).
 */
export function bandwidthIfbName(network: string, containerId: string): string {
  return `bwp${createHash('sha512').update(network + containerId).digest('hex')}`.slice(0, 15);
}

/**
 * Refuse an attach of a network with bandwidth in its chain, recorded in the sandbox in no way this cache knows, when
 * bandwidth's ifb device of that network and sandbox exists on the node all the same: another attachment of the
 * network in the sandbox made it — recorded in another cache dir (`--cache-dir`), or made by another tool — and the
 * ADD would fail on it ("file exists") and its rollback's DEL remove it (seen by an outside tester with two cache
 * dirs). From the node's interface names (NODE_LINKS), which ride on the look-up. Errors: UsageError (exit 2).
 */
async function refuseForeignIfb(ctx: ChainContext, cache: ResultCache, req: AttachRequest): Promise<void> {
  const ifb = bandwidthIfbName(req.list.name, req.rt.containerId);
  if (!(await ctx.exec.listDir(NODE_LINKS, '', ifb)).includes(ifb)) return;
  const e = new UsageError(
    `network ${req.list.name}'s plugin bandwidth names its ifb device on the node by network and container only, and that device, ${ifb}${cache.named('')}, exists already: another attachment of network ${req.list.name} in ${req.describe} made it, recorded in another cache dir than ${cache.dir} or made by another tool; attaching it as ${req.rt.ifname} would collide with it, and a DEL of either would remove the other's (nothing was changed)`,
  );
  e.next = `find that attachment (\`kubectl cni-list -A -o wide\` shows each one's cache dir) and detach it first, or attach a config whose "name" is another network's`;
  throw e;
}

/**
 * Whether a portmap of list gets port mappings (its runtimeConfig's "portMappings", from the config itself or from
 * capabilityArgs for a plugin that declares the capability, as buildPluginConfig gives it): portmap's ADD and DEL do
 * nothing on the node without them (containernetworking/plugins plugins/meta/portmap main.go cmdAdd, cmdDel: `if
 * len(netConf.RuntimeConfig.PortMaps) == 0` they return before any iptables), so only then does it make or remove
 * its chain. Without capabilityArgs (a read-ahead, before the request is known): whether it may get them.
 */
function portmapMaps(list: NetworkConfigList, capabilityArgs?: JsonObject): boolean {
  return list.plugins.some((p) => {
    if (p.type !== 'portmap') return false;
    const declared = (p.capabilities as JsonObject | undefined)?.portMappings === true;
    if (!capabilityArgs && declared) return true;
    const rc = buildPluginConfig(list, p, { capabilityArgs: capabilityArgs ?? {} }).runtimeConfig as JsonObject | undefined;
    const maps = rc?.portMappings;
    return Array.isArray(maps) && maps.length > 0;
  });
}

/**
 * The keyed plugins (KEYED_BY_NETWORK_AND_CONTAINER) whose DEL of an attachment of list with capabilityArgs removes
 * node state: portmap only when it gets port mappings (portmapMaps), bandwidth always (its DEL removes the ifb device
 * of that name when there is one).
 */
function keyedOnDel(list: NetworkConfigList, capabilityArgs: JsonObject): string[] {
  return keyedPlugins(list).filter((t) => t !== 'portmap' || portmapMaps(list, capabilityArgs));
}

/**
 * The name portmap gives its DNAT chain for network in container's sandbox: "CNI-DN-" and the sha512 of network name
 * and container id (hex), 28 bytes in all (containernetworking/plugins plugins/meta/portmap genDnatChain,
 * pkg/utils MustFormatChainNameWithPrefix). The same in iptables and ip6tables.
 */
export function portmapChainName(network: string, containerId: string): string {
  return `CNI-DN-${createHash('sha512').update(network + containerId).digest('hex')}`.slice(0, 28);
}

/**
 * The chain of table nat that jumps to every DNAT chain portmap made (its TopLevelDNATChainName): portmap's setup
 * adds a rule `… -j CNI-DN-…` there for each chain with mappings.
 */
export const PORTMAP_TOP_CHAIN = 'CNI-HOSTPORT-DNAT';

/**
 * The lines of a listing of table nat that tell of portmap's chains (natListing): their definitions and the jumps of
 * PORTMAP_TOP_CHAIN. Every chain portmap makes starts `CNI-DN-` (portmapChainName).
 */
const NAT_KEPT = `^(-N CNI-DN-|-A ${PORTMAP_TOP_CHAIN} )`;

/**
 * The command that lists table nat of `tool` (iptables or ip6tables), every chain and rule (`-S`), keeping on the node
 * only the lines of NAT_KEPT: the chains that are there (`-N CNI-DN-…`) and the jumps of PORTMAP_TOP_CHAIN (`-A
 * CNI-HOSTPORT-DNAT … -j CNI-DN-…`), whatever the container id, which a read-ahead before the sandbox look-up does not
 * know yet (so no listing of the chain by its name can ride on that look-up). A chain with no jump to it is one a
 * portmap ADD or DEL left when it stopped part-way (chain.go setup makes the chain, then its rules, then the jump;
 * teardown removes the jump, then the chain): portmap's next ADD of that name takes it, rules and all, and its DEL
 * removes it. The whole table is megabytes on a node whose kube-proxy uses iptables (a few rules per service), so it
 * is cut to those lines where it is read — by grep, in an sh that exits with iptables' own status and passes its stderr
 * (127 from sh when the tool is not on the node's PATH, as for any command); a node without grep gets the whole
 * listing, which says the same. Read only for an attach whose portmap gets port mappings.
 */
export function natListing(tool: 'iptables' | 'ip6tables'): string[] {
  return ['sh', '-c', `o=$("$0" -w -t nat -S) || exit $?; command -v grep >/dev/null 2>&1 || { printf '%s\\n' "$o"; exit 0; }; printf '%s\\n' "$o" | grep -E '${NAT_KEPT}'; exit 0`, tool];
}

/** The listings of table nat, IPv4 and IPv6 (portmap makes its chain in each family of the addresses). */
const PORTMAP_LISTINGS = (['iptables', 'ip6tables'] as const).map(natListing);

/** The tool a listing asks (a nat listing's is its sh's $0) and the listing as messages show it: what it asks that tool. */
function listingTool(argv: string[]): { tool: string; shown: string } {
  if (argv[0] === 'sh' && argv[1] === '-c' && argv[3]) return { tool: argv[3], shown: `${argv[3]} -w -t nat -S` };
  return { tool: argv[0]!, shown: argv.join(' ') };
}

function portmapListingOptions(ctx: ChainContext): RunOptions {
  return { env: ctx.exec.baseEnv(), timeoutMs: ctx.timeoutMs };
}

/**
 * The "backend" portmap of list is given (plugins ≥ 1.6: "iptables" or "nftables"; a portmap that is given none uses
 * iptables where the node supports it, else nftables — plugins/meta/portmap main.go parseConfig, utils
 * SupportsIPTables), 'nftables' when any portmap of list is given that one.
 */
function portmapBackend(list: NetworkConfigList): 'iptables' | 'nftables' | undefined {
  const given = list.plugins.filter((p) => p.type === 'portmap').map((p) => p.backend);
  if (given.includes('nftables')) return 'nftables';
  return given.every((b) => b === 'iptables') ? 'iptables' : undefined;
}

/**
 * The table portmap's nftables backend keeps its rules in, IPv4 and IPv6 alike: each rule it adds carries the
 * container id as its comment, and its DEL removes every rule of that comment in the table — of any network, any
 * interface of the sandbox (plugins/meta/portmap portmap_nftables.go forwardPorts, unforwardPorts). So with that
 * backend an attachment shares its rules with every other attachment in the sandbox whose portmap uses it: the pod's
 * own network's host ports (a runtime's portmap) included.
 */
export const PORTMAP_NFT_TABLE = 'cni_hostport';

/** The commands that list PORTMAP_NFT_TABLE, IPv4 and IPv6 (a small table: the host ports of the node's pods). */
const PORTMAP_NFT_LISTINGS = ['ip', 'ip6'].map((family) => ['nft', 'list', 'table', family, PORTMAP_NFT_TABLE]);

/** Why a listing could not tell (the tool not on the node's PATH, another error, the time limit); undefined when it answered (exit 0). */
function listingFailure(r: RunResult, timeoutMs: number): string | undefined {
  if (r.code === 0) return undefined;
  const err = r.stderr.trim().split('\n')[0] ?? '';
  if (r.timedOut) return `no answer within ${formatDuration(r.limitMs ?? timeoutMs)}`;
  if (r.code === 127) return NOT_ON_PATH;
  return `${r.code === null ? `killed by ${r.signal ?? 'a signal'}` : `exit ${r.code}`}${err ? `: ${err}` : ''}`;
}

const NOT_ON_PATH = 'not found on the PATH of the plugins';

/**
 * What one listing of PORTMAP_NFT_TABLE says of container id: there (a rule of the table ends in `comment "<id>"`),
 * absent (no such rule, or no such table: exit 1 "No such file or directory"), or why it could not tell.
 */
function judgeNftListing(r: RunResult, containerId: string, timeoutMs: number): 'there' | 'absent' | string {
  if (r.code === 0) return r.stdout.split('\n').some((l) => l.trimEnd().endsWith(` comment "${containerId}"`)) ? 'there' : 'absent';
  if (r.code === 1 && /No such file or directory|does not exist/.test(r.stderr)) return 'absent';
  return listingFailure(r, timeoutMs)!;
}

/** Whether a listing of table nat (PORTMAP_LISTINGS) has a rule of PORTMAP_TOP_CHAIN that jumps to chain. */
function jumpsTo(out: string, chain: string): boolean {
  return out.split('\n').some((l) => l.startsWith(`-A ${PORTMAP_TOP_CHAIN} `) && (l.endsWith(` -j ${chain}`) || l.includes(` -j ${chain} `)));
}

/**
 * What one listing of table nat (PORTMAP_LISTINGS) says of chain: there (the chain is defined, `-N <chain>`, or a rule
 * of PORTMAP_TOP_CHAIN jumps to it), absent (neither; or no table nat at all: "… Table does not exist"), or why it
 * could not tell (iptables not on the node's PATH, another error — iptables-nft's "… is incompatible, use 'nft' tool"
 * for a table it cannot read —, the time limit).
 */
function judgePortmapListing(r: RunResult, chain: string, timeoutMs: number): 'there' | 'absent' | string {
  if (r.code === 0) return r.stdout.split('\n').some((l) => l.trimEnd() === `-N ${chain}`) || jumpsTo(r.stdout, chain) ? 'there' : 'absent';
  const err = r.stderr.trim().split('\n')[0] ?? '';
  if ((r.code === 1 || r.code === 3) && /Table does not exist/.test(err)) return 'absent';
  return listingFailure(r, timeoutMs)!;
}

/**
 * Run listings on the node in turn (each judged by `judge`: 'there', 'absent' or why it could not tell) until one says
 * 'there': `there` is its argv, `out` what it printed; else `unknown` holds "`argv`: why" for each that could not tell, and `why` the same by
 * the listing's first word (its tool).
 */
async function firstListingThere(ctx: ChainContext, listings: string[][], judge: (r: RunResult) => string): Promise<{ there?: string[]; out?: string; unknown: string[]; why: Map<string, string> }> {
  const unknown: string[] = [];
  const why = new Map<string, string>();
  for (const argv of listings) {
    const r = await ctx.exec.run(argv, portmapListingOptions(ctx));
    const said = judge(r);
    if (said === 'there') return { there: argv, out: r.stdout, unknown, why };
    if (said === 'absent') continue;
    const { tool, shown } = listingTool(argv);
    why.set(tool, said);
    unknown.push(`\`${shown}\`: ${said}`);
  }
  return { unknown, why };
}

/** The answer of refuseForeignPortmapChain for a request, asked of the node once (before the locks, or by the dry run). */
const portmapAsked = new WeakMap<AttachRequest, Promise<UsageError | undefined>>();

/**
 * Refuse an attach of a network whose portmap gets port mappings (portmapMaps), recorded in the sandbox in no way this
 * cache knows, when portmap's DNAT chain of that network and sandbox is on the node all the same (in table nat of
 * iptables or ip6tables: defined, or a rule of PORTMAP_TOP_CHAIN jumps to it): another attachment of the network in
 * the sandbox made it — recorded in another cache dir, or made by another tool — and this ADD would add its rules to
 * that chain (portmap's setup takes a chain that is there) and a DEL of either remove the chain with both's rules;
 * or, with no jump to it, a portmap ADD or DEL of that name stopped part-way left it (a failed ADD whose rollback
 * failed too), and this ADD would take it with the rules left in it. From iptables on the node
 * (portmap execs it itself, so a node where it works has it), read-only, `-w` for the xtables lock; on a node reached
 * by commands the listings ride on the look-up (readAhead). iptables missing or failing: not refused, said at -v.
 * A portmap that uses its nftables backend (given "backend": "nftables", or given none on a node without iptables)
 * is asked of nft instead (askPortmapNft: its rules are marked by container id alone, so any other attachment's rules
 * in the sandbox collide). Asked once per request (the check under the network's lock uses that answer: another cache dir's attach takes no
 * lock of ours, so asking again would only cost a round trip). Errors: UsageError (exit 2).
 */
async function refuseForeignPortmapChain(ctx: ChainContext, cache: ResultCache, req: AttachRequest): Promise<void> {
  let asked = portmapAsked.get(req);
  if (!asked) {
    asked = askPortmapChain(ctx, cache, req);
    portmapAsked.set(req, asked);
  }
  const e = await asked;
  if (e) throw e;
}

async function askPortmapChain(ctx: ChainContext, cache: ResultCache, req: AttachRequest): Promise<UsageError | undefined> {
  const backend = portmapBackend(req.list);
  let iptablesMissing = false;
  if (backend !== 'nftables') {
    const chain = portmapChainName(req.list.name, req.rt.containerId);
    const { there, out, unknown, why } = await firstListingThere(ctx, PORTMAP_LISTINGS, (r) => judgePortmapListing(r, chain, ctx.timeoutMs));
    if (there) return foreignChainRefusal(ctx, cache, req, chain, listingTool(there).tool === 'ip6tables' ? 'ip6tables' : 'iptables', jumpsTo(out!, chain));
    ctx.debug?.(unknown.length === PORTMAP_LISTINGS.length
      ? `could not tell whether portmap's chain ${chain} of network ${req.list.name} is on the node (${unknown.join('; ')}): not refused for it`
      : `portmap's chain ${chain} of network ${req.list.name} is not on the node${unknown.length ? ` as far as it could be told (${unknown.join('; ')})` : ''}`);
    iptablesMissing = why.get('iptables') === NOT_ON_PATH;
  }
  // nftables: given, or chosen by a portmap given no backend on a node without iptables
  if (backend === 'nftables' || (backend === undefined && iptablesMissing)) return askPortmapNft(ctx, req, backend);
  return undefined;
}

/**
 * The refusal of portmap's chain of the network in the sandbox already on the node (askPortmapChain), in `family`'s
 * table nat: `jumped`, a rule of PORTMAP_TOP_CHAIN jumps to it (an attachment's, live); else a chain nothing jumps to,
 * left by a portmap ADD or DEL stopped part-way, said as such, with the listing of its rules and the commands that
 * remove it once the user knows nothing records it.
 */
function foreignChainRefusal(ctx: ChainContext, cache: ResultCache, req: AttachRequest, chain: string, family: string, jumped: boolean): UsageError {
  if (!jumped) {
    const e = new UsageError(
      `network ${req.list.name}'s plugin portmap names its iptables chain on the node by network and container only, and that chain, ${chain} (table nat of ${family}${onNode(ctx.exec)}), exists already with no rule of ${PORTMAP_TOP_CHAIN} jumping to it: a portmap ADD or DEL of network ${req.list.name} in ${req.describe} stopped part-way left it (a failed ADD whose rollback failed too), of an attachment recorded in another cache dir than ${cache.dir} or made by another tool; attaching it as ${req.rt.ifname} would take that chain with the rules left in it, and a DEL of either would remove it (nothing was changed)`,
    );
    e.next = `\`${family} -w -t nat -S ${chain}\`${onNode(ctx.exec)} shows its rules; find what left it (\`kubectl cni-list -A -o wide\` shows each attachment's cache dir) and detach it (its DEL removes the chain), or, once you know nothing records it, remove it: \`${family} -w -t nat -F ${chain} && ${family} -w -t nat -X ${chain}\`${onNode(ctx.exec)}`;
    return e;
  }
  const e = new UsageError(
    `network ${req.list.name}'s plugin portmap names its iptables chain on the node by network and container only, and that chain, ${chain} (table nat of ${family}${onNode(ctx.exec)}, jumped to from ${PORTMAP_TOP_CHAIN}), exists already: another attachment of network ${req.list.name} in ${req.describe} made it, recorded in another cache dir than ${cache.dir} or made by another tool; attaching it as ${req.rt.ifname} would collide with it, and a DEL of either would remove the other's (nothing was changed)`,
  );
  e.next = `find that attachment (\`kubectl cni-list -A -o wide\` shows each one's cache dir; \`${family} -t nat -S ${PORTMAP_TOP_CHAIN}\`${onNode(ctx.exec)} shows the rule's "dnat name" and "id") and detach it first, or attach a config whose "name" is another network's`;
  return e;
}

/**
 * Refuse an attach whose portmap uses its nftables backend (given, or chosen on a node without iptables) when rules of
 * the sandbox's container id are in PORTMAP_NFT_TABLE already: another attachment in the sandbox made them (the pod's
 * own network's host ports, another network's, one of another cache dir or tool), and portmap's DEL removes every rule
 * of that container id, so this attachment's DEL — or the rollback of its failed ADD — would remove those too. From
 * `nft list table ip|ip6 cni_hostport` on the node (read-only; riding on the look-up). nft missing or failing: not
 * refused, said at -v. Errors: none (the refusal is returned).
 */
async function askPortmapNft(ctx: ChainContext, req: AttachRequest, backend: 'nftables' | undefined): Promise<UsageError | undefined> {
  const cid = req.rt.containerId;
  const { there, unknown } = await firstListingThere(ctx, PORTMAP_NFT_LISTINGS, (r) => judgeNftListing(r, cid, ctx.timeoutMs));
  if (!there) {
    ctx.debug?.(unknown.length === PORTMAP_NFT_LISTINGS.length
      ? `could not tell whether rules of container ${cid} are in portmap's nftables table ${PORTMAP_NFT_TABLE} on the node (${unknown.join('; ')}): not refused for it`
      : `no rules of container ${cid} in portmap's nftables table ${PORTMAP_NFT_TABLE} on the node${unknown.length ? ` as far as it could be told (${unknown.join('; ')})` : ''}`);
    return undefined;
  }
  const table = `${there[3]} ${PORTMAP_NFT_TABLE}`;
  const e = new UsageError(
    `network ${req.list.name}'s plugin portmap uses its nftables backend${backend ? '' : ' (given no "backend", it chooses nftables on a node without iptables)'}, which marks each rule it makes with the container id alone, and rules of container ${cid} are in table ${table}${onNode(ctx.exec)} already: another attachment in ${req.describe} made them — the pod's own network's host ports, or another network's —, and portmap's DEL removes every rule of its container id, so a DEL of ${req.rt.ifname} (or the rollback of a failed ADD) would remove those too (nothing was changed)`,
  );
  e.next = `attach it with portmap's "backend": "iptables" where the node has iptables (its chain is named by network and container), or without port mappings; \`nft list table ${table}\`${onNode(ctx.exec)} shows those rules`;
  return e;
}

/** An address as nft lists it: IPv6 in its compressed form (as URL parsing writes it), IPv4 as it is. */
function nftAddress(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
}

/**
 * Whether an nft rule's text names address `ip` (not as part of a longer one: 198.18.0.9 is not in 198.18.0.90, nor
 * fd00::9 in fd00::9a), as nft lists it: `dnat to 198.18.0.9:80`, `ip daddr 198.18.0.9`, `dnat to [fd00::9]:80`.
 */
function ruleNames(rule: string, ip: string): boolean {
  const esc = nftAddress(ip).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const around = ip.includes(':') ? ['[^0-9a-fA-F:]', '(?![0-9a-fA-F:])'] : ['[^0-9.]', '(?![0-9]|\\.[0-9])'];
  return new RegExp(`(^|${around[0]})${esc}${around[1]}`).test(rule);
}

/**
 * The rules of portmap's nftables table (PORTMAP_NFT_TABLE, `ip` and `ip6`) that a DEL of `f` would remove and that
 * its attach did not make: portmap's nftables backend marks each rule it makes with the container id alone and its
 * DEL removes every rule of that id (portmap_nftables.go unforwardPorts), while each rule its ADD made names the
 * attachment's own address (`dnat to ADDR:PORT`, `… daddr ADDR masquerade`: forwardPorts) — so a rule of the id that
 * names none of the addresses of `f`'s cached result is another's: the pod's own network's host ports (a runtime's
 * portmap), another network's, another tool's, made after this attach (whose check refused rules of the id already
 * there: askPortmapNft). Asked only for a chain whose portmap gets port mappings (portmapMaps) and uses that backend
 * — "backend": "nftables"; given none, it chooses nftables on a node without iptables, and then its own rules are in
 * the table: so a rule of the id naming one of the attachment's addresses is what tells (none: its portmap used
 * iptables, and its DEL leaves the table alone; no run of iptables, no round trip more) — for a record with a result
 * (an unfinished attach's intent names no address of its own: not looked at). From `nft list table ip|ip6
 * cni_hostport` on the node, riding on the detach's look-up (readAhead forDetach); nft missing or failing: nothing
 * found, said at -v. undefined: none.
 */
async function foreignPortmapNftRules(ctx: ChainContext, list: NetworkConfigList, rt: RuntimeConf, f: Found): Promise<{ tables: { table: string; rules: string[] }[]; ours: string[]; chosen: boolean } | undefined> {
  if (f.intentOnly || f.unreadable || !f.entry.result || !portmapMaps(list, rt.capabilityArgs)) return undefined;
  const backend = portmapBackend(list);
  if (backend === 'iptables') return undefined;
  let ours: string[];
  try {
    ours = summarizeResult(f.entry.result).ips.map((ip) => ip.address.replace(/\/\d+$/, ''));
  } catch {
    ours = [];
  }
  const cid = rt.containerId;
  const tables: { table: string; rules: string[] }[] = [];
  const unknown: string[] = [];
  // (given no backend: whether a rule of its own is there, which says that its portmap chose nftables)
  let own = false;
  for (const argv of PORTMAP_NFT_LISTINGS) {
    const r = await ctx.exec.run(argv, portmapListingOptions(ctx));
    const said = judgeNftListing(r, cid, ctx.timeoutMs);
    if (said === 'absent') continue;
    if (said !== 'there') {
      unknown.push(`\`${argv.join(' ')}\`: ${said}`);
      continue;
    }
    const ofId = r.stdout.split('\n').map((l) => l.trim()).filter((l) => l.endsWith(` comment "${cid}"`));
    const rules = ofId.filter((l) => !ours.some((ip) => ruleNames(l, ip)));
    own ||= rules.length < ofId.length;
    if (rules.length > 0) tables.push({ table: `${argv[3]} ${PORTMAP_NFT_TABLE}`, rules });
  }
  if (unknown.length > 0) ctx.debug?.(`could not tell whether portmap's nftables table ${PORTMAP_NFT_TABLE} on the node holds rules of container ${cid} that this attachment did not make (${unknown.join('; ')}): its DEL runs`);
  // given no backend, portmap uses iptables where the node has it (its DEL then leaves table cni_hostport alone): only
  // a rule of its own there says it chose nftables
  if (tables.length === 0 || (backend === undefined && !own)) return undefined;
  return { tables, ours, chosen: backend === undefined };
}

/**
 * What a DEL of `f` (cni-detach, its dry run) would remove of others in portmap's nftables table (foreignPortmapNftRules):
 * without --force, a UsageError (exit 2, nothing changed) naming those rules, its `next` the cni-detach --force that
 * detaches it all the same (`force`: WaysOut.force) and the nft listing that shows them; with --force, a note that its
 * DEL removes them too. Nothing when there are none.
 */
async function refuseForeignNftRules(ctx: ChainContext, req: DetachRequest, list: NetworkConfigList, rt: RuntimeConf, f: Found, dryRun = false): Promise<void> {
  const found = await foreignPortmapNftRules(ctx, list, rt, f);
  if (!found) return;
  const n = found.tables.reduce((k, t) => k + t.rules.length, 0);
  const rules = found.tables.map((t) => `table ${t.table}: ${t.rules.map((r) => `«${shown(r)}»`).join(', ')}`).join('; ');
  const whose = `${n === 1 ? 'a rule' : `${n} rules`} of container ${rt.containerId} in portmap's nftables table${onNode(ctx.exec)} that this attachment did not make (${n === 1 ? 'it names' : 'they name'} none of its addresses${found.ours.length ? `, ${found.ours.join(', ')}` : ''}): ${rules}`;
  const uses = `network ${list.name}'s plugin portmap uses its nftables backend${found.chosen ? ' (given no "backend", it chose nftables, as its own rules there say: a node without iptables)' : ''}, whose DEL removes every rule of its container id`;
  if (req.force) {
    ctx.note(`--force: ${uses}: the DEL of ${req.ifname} ${dryRun ? 'would remove' : 'removes'} ${whose}`);
    return;
  }
  const e = new UsageError(`${req.ifname} in ${req.describe} is not detached: ${uses}, and there ${n === 1 ? 'is' : 'are'} ${whose} — another attachment's in the sandbox, the pod's own network's host ports, or another tool's, made after this attach —; its DEL would remove ${n === 1 ? 'it' : 'them'} too (nothing was changed)`);
  const w = req.ways ?? NO_WAYS;
  e.next = `\`${w.force}\` detaches it all the same, and its DEL removes ${n === 1 ? 'that rule' : 'those rules'} too; ${found.tables.map((t) => `\`nft list table ${t.table}\``).join(' and ')}${onNode(ctx.exec)} ${found.tables.length === 1 ? 'shows' : 'show'} ${n === 1 ? 'it' : 'them'}`;
  throw e;
}

/** The directories of the node's PATH (absolute ones), where a listing's tool (iptables, nft) is looked for. */
function nodePathDirs(ctx: ChainContext): string[] {
  return (ctx.exec.baseEnv().PATH ?? '').split(':').filter((d) => d.startsWith('/')).map((d) => d.replace(/\/+$/, ''));
}

/**
 * Declare what an attach (with `list`) or a detach (`forDetach`) or check of ifname will read, so that an executor
 * that reaches its node by commands fetches it with the round trip it makes next (the sandbox look-up): the cache
 * entries of ifname, the executables of the CNI path, (attach) each plugin's VERSION answer, and (attach of a chain
 * with a plugin of KEYED_BY_NETWORK_AND_CONTAINER, every detach) the names of the cache's records, which tell whether
 * the network is recorded in the sandbox under another ifname, and the node's state of such a plugin that another
 * cache dir or tool made (bandwidth's ifb device: the node's interface names; portmap's chain, when it gets port
 * mappings with `capabilityArgs` — may get, without them —: the listings of table nat, PORTMAP_LISTINGS), and (every
 * detach) portmap's nftables table, for rules of the sandbox its DEL would remove that its attach did not make
 * (refuseForeignNftRules). Nothing happens on other executors.
 */
export function readAhead(ctx: ChainContext, cache: ResultCache, ifname: string, list?: NetworkConfigList, forDetach = false, capabilityArgs?: JsonObject): void {
  if (!isBatching(ctx.exec)) return;
  const types = [...new Set(list?.plugins.map((p) => p.type) ?? [])];
  const candidates = (t: string) => ctx.cniPath.map((d) => `${d.replace(/\/+$/, '')}/${t}`);
  // an attach of a 1.1 list asks STATUS before its ADD: read ahead too, or it would cost a round trip of its own
  const status = list && atLeast(list.cniVersion, '1.1.0') ? list.plugins.map((p, i) => ({ candidates: candidates(p.type), opts: statusRunOptions(ctx, list, i) })) : [];
  ctx.exec.readAhead({
    dirs: cache.readAheadFor(ifname),
    executableDirs: ctx.cniPath,
    ...(ctx.untrustedPath ? { trustDirs: ctx.cniPath } : {}),
    runs: [...(ctx.versions || !list ? [] : types.map((t) => ({ candidates: candidates(t), opts: versionRunOptions(ctx, list.cniVersion) }))), ...status],
  });
  // the cache directory's owner and mode, which the cache checks before its first use there (cni/cache.ts)
  ctx.exec.readAhead({ trustDirs: cacheDirsOf(cache.dir) });
  // the names of the network's other records in the sandbox, for a chain whose plugins would share their state (a
  // detach's chain is known only once its record is read: its names always, a glob on the node, no process)
  if ((list && keyedPlugins(list).length > 0) || forDetach) ctx.exec.readAhead({ nameDirs: cache.namesFor() });
  // a detach: portmap's nftables table, for rules of the sandbox its DEL would remove that its attach did not make
  // (refuseForeignNftRules; its chain is known only once its record is read: asked of every detach, two nft processes
  // on a node that has nft, none on one that has not)
  if (forDetach) ctx.exec.readAhead({ runs: PORTMAP_NFT_LISTINGS.map((argv) => ({ candidates: nodePathDirs(ctx).map((d) => `${d}/${argv[0]}`), opts: portmapListingOptions(ctx), argv })) });
  // the node's interface names, for bandwidth's ifb device of the network made by an attachment this cache lacks
  if (list && keyedPlugins(list).includes('bandwidth')) ctx.exec.readAhead({ nameDirs: [NODE_LINKS] });
  // table nat, for portmap's chain of the network made (or left part-way) by an attachment this cache lacks (a process
  // of iptables and one of ip6tables on the node, only for a chain whose portmap may get port mappings)
  // (and, for a portmap that uses nftables or may choose it, the rules of portmap's nftables table: two nft processes)
  if (list && portmapMaps(list, capabilityArgs)) {
    const dirs = nodePathDirs(ctx);
    const opts = portmapListingOptions(ctx);
    const backend = portmapBackend(list);
    const listings = [...(backend !== 'nftables' ? PORTMAP_LISTINGS : []), ...(backend !== 'iptables' ? PORTMAP_NFT_LISTINGS : [])];
    ctx.exec.readAhead({ runs: listings.map((argv) => ({ candidates: dirs.map((d) => `${d}/${argv[0]}`), opts, argv })) });
  }
}

/**
 * Refuse runtimeConfig capability arguments (`--ip` → "ips", `--mac` → "mac") that no plugin of list declares
 * (SPEC.md "Deriving runtimeConfig": a runtime passes a capability only to plugins that declare it, so one nobody
 * declares would be silently ignored). A check of the command line and the config alone: the CLI makes it before it
 * reads the pod or writes anything to the cluster (no write-ahead record, no event for a typo); attach() makes it
 * again. Errors: UsageError (exit 2).
 */
export function checkCapabilities(list: NetworkConfigList, capabilityArgs: JsonObject): void {
  const declared = declaredCapabilities(list);
  for (const cap of Object.keys(capabilityArgs)) {
    if (!declared.has(cap)) {
      throw new UsageError(
        `no plugin of network ${list.name} declares the "${cap}" capability, so it would be ignored: add "capabilities": {"${cap}": true} to the plugin that should receive it`,
      );
    }
  }
}

/**
 * The command lines that clear a record, for the messages of a record that blocks an ifname or a DEL that fails. The
 * CLI builds them (the engine names no flag): detach it, forget it even if its DEL fails, and forget it after a DEL
 * with a config the user gives.
 */
export interface WaysOut {
  detach: string;
  force: string;
  forceWithConfig: string;
}

const NO_WAYS: WaysOut = { detach: 'cni-detach', force: 'cni-detach, forced', forceWithConfig: 'cni-detach, forced, with a config' };

/** What a forced detach leaves, in words (it forgets the record; only a DEL that succeeded freed anything). */
export function mayRemain(ifname: string, where: string): string {
  return `the link ${ifname} in ${where} and its IPAM lease may remain if no DEL freed them`;
}

/**
 * What a forced detach leaves of a record it forgot whose DEL did not succeed, in words. `dels` undefined: no DEL ran
 * at all (no config to run it with, a plugin not found, its cached config unusable) — the link and the IPAM lease
 * remain (nothing freed them), and `withConf` (the detach given the network's config, `--conf FILE`, which DELs from
 * that config alone: detach) frees them once the plugins can run. Else the chain's DELs (last plugin first, as libcni
 * runs them) that finished (`ran`) before the one that failed (`failed`), and those never run (`list`'s others): the
 * link and the lease may remain (what the failed DEL did before it failed is not known); when the chain's first
 * plugin's DEL is among those never run, `withConf` is named too (nothing records them once forgotten).
 */
export function forcedRemains(ifname: string, where: string, network: string, list: NetworkConfigList | undefined, dels: { ran: string[]; failed: string } | undefined, withConf: string): string {
  const delLater = `\`${withConf} --conf FILE\` (FILE: the config of network ${network || '(unknown)'}) runs its DEL once its plugins can run`;
  if (!dels) return `no DEL ran, so the link ${ifname} in ${where} and its IPAM lease remain; ${delLater}`;
  const types = list ? [...list.plugins].reverse().map((p) => p.type) : [];
  const notRun = types.slice(dels.ran.length + 1);
  if (types.length <= 1) return `its DEL (plugin ${dels.failed}) failed: ${mayRemain(ifname, where)}`;
  const said = (t: string[]) => t.join(', ');
  // the chain's first plugin's DEL never ran (the one that most often made the link and holds the lease): once the
  // record is forgotten nothing names them, so the way to free them is said, as for "no DEL ran" (tryout 8 F6)
  const firstNotRun = notRun.length > 0 ? `; ${delLater}` : '';
  return `of its chain's DELs (last plugin first) ${dels.ran.length ? `that of ${said(dels.ran)} ran, ` : ''}that of ${dels.failed} failed${notRun.length ? `, that of ${said(notRun)} did not run` : ''}: ${mayRemain(ifname, where)}${firstNotRun}`;
}

/**
 * The refusal of an ifname a record blocks: what blocks it (the message: "eth1 is already taken in pod shop/web-1: it
 * is attached (network blue)") and the way out (its `next`: "run cni-detach first (`CMD`; `CMD --force` if its DEL
 * keeps failing)"), which carries the user's own command lines.
 */
function taken(rt: RuntimeConf, describe: string, f: Found, ways: WaysOut, cache: ResultCache): UsageError {
  const what = f.unreadable
    ? `its record ${cache.named(`${cache.dir}/${f.file}`)} cannot be used (${f.unreadable})`
    : f.deleting
      ? `${deleteStopped(f.deleting, cache.host)} (network ${f.entry.networkName}); ${mayRemain(rt.ifname, describe)}`
      : `${f.intentOnly ? 'an attach of it was interrupted' : 'it is attached'} (network ${f.entry.networkName})`;
  const e = new UsageError(`${rt.ifname} is already taken in ${describe}: ${what}`);
  e.next = f.unreadable
    ? `\`${ways.force}\` forgets it (\`${ways.forceWithConfig}\` runs DEL with that config first)`
    : f.deleting
      ? `run cni-detach first to finish it (\`${ways.detach}\`: DEL is idempotent; \`${ways.force}\` if its DEL keeps failing)`
      : `run cni-detach first (\`${ways.detach}\`; \`${ways.force}\` if its DEL keeps failing)`;
  return e;
}

/**
 * The read-only checks an attach makes before it changes anything, in its order: ifname not taken by a record (unless
 * it is this very attachment and req.reattachSame: then that attachment is returned), no link of that name in the
 * target, every plugin speaks the config's version (VERSION), and, for a 1.1 list, every plugin of 1.1 is ready
 * (STATUS). attach runs them under the lock; its dry run (planAttach, unlocked) runs the same, so that it fails as the
 * real run would before changing anything: a record found while another command holds the lock is that command's
 * (an attach or detach still running), so the dry run answers busy then, as the attach would. Errors: UsageError
 * (exit 2) for a taken ifname, an existing link, a version not spoken; BusyError (unlocked); PluginError when VERSION
 * or STATUS fails.
 */
async function beforeAdd(ctx: ChainContext, cache: ResultCache, req: AttachRequest, resolved: ResolvedList, locked: boolean): Promise<Attached | undefined> {
  const { list, rt } = req;
  const existing = await cache.find(rt.containerId, rt.ifname);
  if (!locked && existing.length > 0) {
    const busy = await cache.lockHeld(rt.containerId, rt.ifname);
    if (busy) throw busyError(rt.ifname, req.describe, busy, cache);
  }
  const same = existing.find((f) => !f.intentOnly && !f.unreadable && !f.deleting && f.entry.networkName === list.name && configText(f.entry) === list.bytes && f.entry.result);
  if (req.reattachSame && same && existing.length === 1) {
    const recordedIn = recordsNamespaceOf(same.entry);
    return { result: same.entry.result!, list, cacheFile: resultPath(cache.dir, keyOf(same.entry)), already: true, ...(recordedIn ? { recordedIn } : {}) };
  }
  if (existing.length > 0) throw taken(rt, req.describe, existing[0]!, req.ways ?? NO_WAYS, cache);
  if (await req.interfaceExists()) {
    throw new UsageError(`an interface named ${rt.ifname} already exists in ${req.describe}`, { fix: { setting: 'ifname', advice: 'choose another name' } });
  }
  const versions = await negotiateVersions(ctx, resolved);
  await statusChain(ctx, resolved, versions);
  return undefined;
}

/** What planAttach finds: the runs an attach would make, or the attachment already there (reattachSame). */
export interface AttachPlan {
  runs: PluginRun[];
  already?: Attached;
  /** The cni-gc the attach would wait for before its ADD (gcWaitOf). */
  gcWait?: GcWait;
}

/**
 * The runs an attach would make (cni-attach --dry-run), after the same read-only checks the attach makes before it
 * changes anything (capabilities, plugin look-up, beforeAdd): a dry run fails as the real run would, with the same
 * error. Runs nothing but VERSION and STATUS (side-effect free, SPEC.md); takes no lock and writes nothing (VERSION
 * answers are not saved).
 */
export async function planAttach(ctx: ChainContext, cache: ResultCache, req: AttachRequest): Promise<AttachPlan> {
  return refusing(async () => {
    checkCapabilities(req.list, req.rt.capabilityArgs);
    const resolved = await resolvePlugins(ctx, req.list);
    await refuseSharedPluginState(ctx, cache, req);
    const already = await beforeAdd(ctx, cache, req, resolved, false);
    if (already) return { runs: [], already };
    const gcWait = await gcWaitOf(cache, req.list, 'ADD');
    return { runs: planAdd(ctx, resolved, req.rt), ...(gcWait ? { gcWait } : {}) };
  });
}

/** fn, whose errors are all from before anything was changed: they say so (CniAttachError.left 'nothing'). */
async function refusing<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof CniAttachError) e.left ??= 'nothing';
    throw e;
  }
}

/**
 * What a failed attach left, from its error (CniAttachError.left): 'nothing' (refused or failed before any plugin ADD
 * ran), 'undone' (rolled back), 'recorded' (the rollback failed too); undefined when it is not known (an error that is
 * not ours).
 */
export function attachLeft(e: unknown): LeftByStop | undefined {
  return e instanceof CniAttachError ? e.left : undefined;
}

/**
 * Attach: lock, outside any cni-gc's GC of the network (lockOutsideGc: while one runs, the lock is given back and
 * GC waited for, BusyError past the plugin time limit, nothing done); refuse a taken ifname (naming the command that
 * clears it); VERSION/STATUS; record the intent; ADD the chain; cache the result. Everything from the lock to the cached result runs inside ctx.hold(): the user's signal
 * rolls it back (AddFailed / StoppedError, exit 128+n) unless the result is already cached (then it stands).
 */
export async function attach(ctx: ChainContext, cache: ResultCache, req: AttachRequest): Promise<Attached> {
  await refusing(async () => checkCapabilities(req.list, req.rt.capabilityArgs));
  readAhead(ctx, cache, req.rt.ifname, req.list, false, req.rt.capabilityArgs);
  return optimistically(ctx, cache, (c, k) => attachOnce(c, k, req)).catch((e: unknown) => {
    throw withWayOut(e, req.ways && `\`${req.ways.force}\``);
  });
}

async function attachOnce(ctx: ChainContext, cache: ResultCache, req: AttachRequest): Promise<Attached> {
  const { list, rt } = req;
  // everything up to the recorded intent changes nothing: its errors say so (the pod's event, cli/attach.ts)
  const resolved = await refusing(() => resolvePlugins(ctx, list));
  await refusing(() => refuseSharedPluginState(ctx, cache, req));
  return held(ctx, () => withLock(ctx, cache, rt, req.describe, async (lock, lockedCtx) => {
    // a chain whose plugins share their node state among the network's attachments in the sandbox: that check again,
    // under the network's lock in the sandbox (held until the result is recorded, renewed with the interface lock)
    const netLock = await refusing(() => lockNetworkInSandbox(lockedCtx, cache, req));
    const ctx: ChainContext = netLock ? { ...lockedCtx, beforeRun: async (ms) => { await lockedCtx.beforeRun?.(ms); await netLock.renew(ms); } } : lockedCtx;
    try {
      return await attachLocked(ctx, cache, req, resolved, lock, netLock);
    } finally {
      await netLock?.release();
    }
  }, { list, command: 'ADD' }));
}

/**
 * Take the lock of req's network in its sandbox (cache.ts networkLockPath) when its chain holds a plugin of
 * KEYED_BY_NETWORK_AND_CONTAINER, and under it refuse as refuseSharedPluginState (made again: an attach of the network
 * under another ifname that finished since the first check, or runs now, is seen). undefined for other chains.
 * Errors: BusyError while another attach of the network in the sandbox holds it; UsageError (refuseSharedPluginState).
 */
async function lockNetworkInSandbox(ctx: ChainContext, cache: ResultCache, req: AttachRequest): Promise<Lock | undefined> {
  if (keyedPlugins(req.list).length === 0) return undefined;
  const taken = await cache.networkLock(req.list.name, req.rt.containerId, ctx.timeoutMs);
  if ('busy' in taken) throw busyError(req.rt.ifname, req.describe, taken.busy, cache, Date.now(), req.list.name);
  try {
    await refuseSharedPluginState(ctx, cache, req);
  } catch (e) {
    await taken.lock.release();
    throw e;
  }
  return taken.lock;
}

/** attachOnce under its locks (the interface's, and netLock: lockNetworkInSandbox), from the checks to the recorded result. */
async function attachLocked(ctx: ChainContext, cache: ResultCache, req: AttachRequest, resolved: ResolvedList, lock: Lock, netLock: Lock | undefined): Promise<Attached> {
  const { list, rt } = req;
  const key = { network: list.name, containerId: rt.containerId, ifname: rt.ifname };
  const runtime = { netns: rt.netns, cniArgs: rt.cniArgs, capabilityArgs: rt.capabilityArgs, ...(req.recordsNamespace ? { recordsNamespace: req.recordsNamespace } : {}) };
  {
    const already = await refusing(async () => {
      const found = await beforeAdd(ctx, cache, req, resolved, true);
      stopIfInterrupted(ctx, 'it changed anything: nothing was changed');
      if (found) return found;
      await req.beforeFirstAdd?.();
      stopIfInterrupted(ctx, 'it changed anything: nothing was changed');
      // Record the intent first: if we die between the plugin's ADD and the cache write, detach/gc still find it.
      // (No cni-gc runs GC of the network now, nor begins one before this attach is done: lockOutsideGc.)
      try {
        await cache.writeIntent(makeEntry(key, list.bytes, runtime));
        // a DEL mark of no record (a detach stopped between removing the result and its mark) is not this attach's
        await cache.removeDeleteMark(key);
      } catch (e) {
        throw new UsageError(`could not record the attach in ${cache.named(intentPath(cache.dir, key))}: ${(e as Error).message} (nothing was changed)`, { cause: e, fix: { setting: 'cacheDir' } });
      }
      return undefined;
    });
    if (already) return already;
    let result: JsonObject;
    try {
      result = await addChain(ctx, resolved, rt);
    } catch (e) {
      if (e instanceof AddFailed && !e.rollbackError) await cache.removeIntent(key);
      else if (e instanceof UnreachableError && e.notSent) {
        // the first ADD never reached the node (its pods/exec upgrade answered 404, the agent pod deleted; or another
        // status): no plugin ran, and nothing is to be rolled back. The intent rides on that request on a node reached
        // by commands (exec/batch.ts), so it did not get there either; where it was written apart, it goes (a removal
        // that cannot be sent now leaves an intent of no link, which cni-gc forgets)
        await cache.removeIntent(key).catch(() => undefined);
        e.message += '; the ADD did not run (the request never reached the node): nothing was changed';
        e.left = 'nothing';
      } else if (e instanceof AddFailed) {
        const w = req.ways ?? NO_WAYS;
        e.message += `; the attempt stays recorded, and ${mayRemain(rt.ifname, req.describe)}`;
        e.next = `\`${w.detach}\` runs its DEL again (\`${w.force}\` forgets it if that DEL keeps failing)`;
      } else if (e instanceof UnreachableError) {
        // the way to the node went away during the ADD (a node session lost): the ADD may have run, and nothing could
        // roll it back; the intent, sent with the ADD, stays on the node if it got there
        const w = req.ways ?? NO_WAYS;
        e.message += `; whether the ADD ran is not known: the attempt stays recorded on the node, and ${mayRemain(rt.ifname, req.describe)}`;
        e.next = `\`${w.detach}\` runs its DEL once the node can be reached (\`${w.force}\` forgets it if that DEL keeps failing)`;
        e.left = 'recorded';
      }
      throw e;
    }
    const notRecorded = async (e: unknown): Promise<never> => {
      // An attachment we cannot record (or that the user stopped) is one nobody could detach: undo it.
      let rollbackError: string | undefined;
      try {
        await delChain(rollbackContext(ctx), resolved, rt, result);
        await cache.removeIntent(key);
      } catch (d) {
        rollbackError = `rolling back also failed: ${(d as Error).message}`;
      }
      if (e instanceof StoppedError) throw new StoppedError(e.signal, `${e.message} (${rollbackError ?? 'rolled back: nothing was left behind'})`, rollbackError ? 'recorded' : 'undone');
      throw new NotRecordedError(`could not write the result cache ${cache.named(resultPath(cache.dir, key))}: ${(e as Error).message}${rollbackError ? `; ${rollbackError}` : ' (rolled back)'}`, { cause: e, left: rollbackError ? 'recorded' : 'undone' });
    };
    try {
      // the last moment a signal undoes the attach: once the result is cached, the attachment stands
      stopIfInterrupted(ctx, 'the result was recorded');
      await cache.write(makeEntry(key, list.bytes, runtime, result));
    } catch (e) {
      return notRecorded(e);
    }
    await cache.removeIntent(key);
    await netLock?.release();
    await lock.release();
    try {
      // on a node reached by commands: the result, the intent's removal and the unlocks, in one round trip
      await cache.flush();
    } catch (e) {
      // the result is what matters: when it is there, the attach stands and only the cleanup failed
      if ((await cache.direct().read(key).catch(() => undefined)) === undefined) return notRecorded(e);
      throw e;
    }
    await ctx.versions?.save();
    return { result, list, cacheFile: resultPath(cache.dir, key), already: false };
  }
}

export interface DetachRequest {
  ifname: string;
  describe: string;
  /** Find the attachment by container id (the sandbox id, or the id derived from a netns path)… */
  containerId?: string;
  /** …or by a predicate over every cached entry of ifname (a pod whose sandbox is already gone). */
  match?: (e: CacheEntry) => boolean;
  /**
   * When nothing is recorded under containerId: whether an entry of ifname was made for the same network namespace
   * through another path (its device and inode: /proc/PID/ns/net and /var/run/netns/x of one namespace).
   */
  sameNetns?: (e: CacheEntry) => Promise<boolean>;
  /**
   * CNI_NETNS for DEL. undefined: the one recorded at ADD. '': none — the sandbox or namespace is gone, and a recorded
   * /proc/PID/ns/net may by now belong to another process, so it must not be used (SPEC.md: CNI_NETNS is optional on DEL).
   */
  netns?: string;
  /**
   * CNI_NETNS decided per cache entry, in place of `netns` (a pod that is gone: the sandbox each entry went into may
   * still run — resolve/pod.ts runningSandboxOf): its network namespace as its runtime gives it now, or '' when that
   * sandbox no longer runs (then DEL runs without one). Asked for each entry found, before its plugins run (a dry
   * run: before its plan); what it throws is the command's error, with nothing run (a sandbox that could not be
   * looked up is not gone). CHECK: it throws a NotFoundError for a sandbox gone (nothing to CHECK in).
   */
  netnsOf?: (e: CacheEntry, command: 'DEL' | 'CHECK') => Promise<string>;
  /** A config given by the user: DEL this network even when nothing is cached (like cnitool del); needs containerId and netns. */
  list?: NetworkConfigList;
  /** CNI_ARGS given on the command line. */
  cniArgs?: [string, string][];
  /** True when CNI_ARGS were given: they replace the cached ones (a pod's IgnoreUnknown and K8S_* are kept). */
  argsGiven?: boolean;
  /**
   * Forced (`cni-detach --force`): run DEL as best it can (a given config and CNI_ARGS taking precedence), then forget the record
   * (result, intent, temp files, the stale lock) whether DEL succeeded or not, and whether the record could be read.
   * A lock that is held (exec/lock.ts: its holder lives, or on a node its time limit has not passed) is respected as
   * without force: BusyError, nothing run or removed.
   */
  force?: boolean;
  /** The command lines that clear this target's record, for messages (built by the CLI). */
  ways?: WaysOut;
  /**
   * The command running the DEL, as its mark names it (cache.ts DeleteMark): 'cni-detach' (the default), 'cni-gc', or
   * 'cni-attach' (its rollback of a result it cached but could not print: cli/attach.ts unprinted).
   */
  by?: 'cni-detach' | 'cni-gc' | 'cni-attach';
  /**
   * CHECK only: the error (the CLI's, a NotFoundError: `interface gone`) when the entry's interface is known to be gone
   * from the namespace CHECK would run in, else undefined (there, or not known). Asked for each attached entry under
   * its lock once its config and plugins were judged (their refusals come first), before its CHECK runs (a dry run:
   * before its plan), as a plugin's CHECK of a link that is gone answers
   * something else first (the bridge: its own MAC, containernetworking/plugins#60). What it throws is the command's error.
   */
  interfaceGone?: (e: CacheEntry) => Promise<Error | undefined>;
}

export interface Detached {
  network: string;
  containerId: string;
  /** True when only an interrupted attach's intent was found. */
  fromIntent: boolean;
  /** True when nothing was recorded and DEL ran from the given config alone. */
  uncached?: boolean;
  /** The namespace path the record was made through, when it was found by the namespace's identity. */
  via?: string;
  /** A forced detach forgot the record: why its DEL did not run or failed (undefined: DEL succeeded), and what may remain. */
  forced?: { delError?: string; mayRemain: string };
  /** The record's file, relative to the cache dir. */
  file?: string;
  /**
   * The agent namespace the entry said its attach recorded it in (cache.ts recordsNamespaceOf), undefined when it said
   * none: where the cluster's record of what was detached is (cli/detach.ts noRecordNote).
   */
  recordedIn?: string;
  /**
   * Set when its DEL ran and succeeded while the same network is recorded in the same sandbox under other ifnames
   * (`ifnames`, sorted) and plugins of its chain (`plugins`: KEYED_BY_NETWORK_AND_CONTAINER) name their node state by
   * network and container only: that DEL removed such state under that name, theirs too if their chains made any (a
   * note says so: sharedStateNote; from the records' names alone, not their configs).
   */
  sharedWith?: { ifnames: string[]; plugins: string[] };
}

/**
 * The note of a DEL that removed node state another attachment of the same network in the sandbox shares (a pair an
 * attach now refuses to make — refuseSharedPluginState —, left by an earlier cni-attach or made by another tool into
 * the same cache, e.g. Multus attaching one NetworkAttachmentDefinition twice): what went, for which ifnames, and the
 * way to have it again (their detach and attach: an ADD makes it anew).
 */
export function sharedStateNote(network: string, ifname: string, describe: string, shared: { ifnames: string[]; plugins: string[] }, dryRun = false): string {
  const them = shared.ifnames.join(', ');
  const one = shared.ifnames.length === 1;
  const share = one ? `${them}'s share` : 'their share';
  const made = one ? 'its chain made one' : 'their chains made one';
  return `network ${network} is also recorded in ${describe} as ${them}, and ${keyedWords(shared.plugins)} by network and container only: the DEL of ${ifname} ${dryRun ? 'would remove' : 'removed'} what there was of it under that name, so ${share} ${dryRun ? 'would be' : 'is'} gone too if ${made}; to have it again, detach ${them} and attach ${one ? 'it' : 'them'} again`;
}

export function entryList(e: CacheEntry): NetworkConfigList {
  return parseNetworkConfig(configText(e), `cached config of ${e.networkName}`);
}

function cachedPrev(list: NetworkConfigList, e: CacheEntry, note: (s: string) => void): JsonObject | undefined {
  if (!e.result) return undefined;
  try {
    return convertResult(e.result, list.cniVersion);
  } catch (err) {
    note(`cached result of ${e.networkName} could not be used as prevResult (${(err as Error).message}); DEL runs without it`);
    return undefined;
  }
}

/** The CNI_ARGS a pod attach always carries (kubelet's): kept when given CNI_ARGS replace the rest. */
const POD_ARGS = new Set<string>(POD_CNI_ARGS);

/** CNI_ARGS for a DEL or CHECK of entry: the cached ones, or (when given) the given ones plus a pod's own. */
function argsFor(entry: CacheEntry | undefined, req: DetachRequest): [string, string][] {
  if (req.argsGiven) return [...(entry?.cniArgs ?? []).filter(([k]) => POD_ARGS.has(k)), ...(req.cniArgs ?? [])];
  return entry?.cniArgs ?? req.cniArgs ?? [];
}

/**
 * CNI_NETNS for a found entry: DetachRequest.netnsOf's answer where it decides (a readable entry with its container
 * id), else `netns`, else the one recorded at ADD, else none.
 */
async function netnsFor(req: DetachRequest, f: Found, command: 'DEL' | 'CHECK'): Promise<string> {
  if (req.netnsOf && !f.unreadable && f.entry.containerId) return req.netnsOf(f.entry, command);
  return req.netns ?? f.entry.netns ?? '';
}

async function findRecorded(cache: ResultCache, req: DetachRequest): Promise<Found[]> {
  let found = req.containerId !== undefined
    ? await cache.find(req.containerId, req.ifname)
    : await cache.findWhere(req.ifname, req.match ?? (() => false));
  if (req.containerId !== undefined && req.match) found = found.filter((f) => f.unreadable || req.match!(f.entry));
  if (req.list) found = found.filter((f) => f.entry.networkName === req.list!.name);
  return found;
}

/** The records of the same namespace made through another path (found by identity), when the path has none. */
async function findBySameNetns(cache: ResultCache, req: DetachRequest): Promise<(Found & { via: string })[]> {
  if (!req.sameNetns) return [];
  const out: (Found & { via: string })[] = [];
  for (const f of await cache.findWhere(req.ifname, (e) => !!e.netns && (!req.list || e.networkName === req.list.name))) {
    if (await req.sameNetns(f.entry)) out.push({ ...f, via: f.entry.netns! });
  }
  return out;
}

/**
 * The records a DEL or CHECK of req acts on, after the refusals its command makes before it runs any plugin. detach,
 * check and their dry run (planRecorded) all start here, so that a dry run refuses what the real command refuses,
 * with the same error:
 * - a config given (--conf/--net) of another network than the one recorded as ifname in that container: UsageError
 *   ("net1 in pod shop/web-1 was attached through network blue, not red"): plugins delete interfaces by name, and a
 *   CHECK of another network's config says nothing of what is there;
 * - an unreadable record: UsageError naming it and the `cni-detach --force` that forgets it (a forced DEL goes on);
 * - CHECK of nothing recorded: BusyError when an attach holds the lock before recording anything, else NotFoundError
 *   ("nothing is attached as …"). A DEL of nothing is not an error: [] (the caller looks at the lock: refuseIfHeld).
 */
async function recordedFor(cache: ResultCache, req: DetachRequest, command: 'DEL' | 'CHECK'): Promise<(Found & { via?: string })[]> {
  let found: (Found & { via?: string })[] = await findRecorded(cache, req);
  if (found.length === 0) found = await findBySameNetns(cache, req);
  if (found.length === 0 && req.list && (req.containerId !== undefined || req.match)) {
    // never DEL with one network's config what another network attached: plugins delete interfaces by name (also
    // where the record is found by the pod's match alone: its sandbox gone)
    const other = (req.containerId !== undefined ? await cache.find(req.containerId, req.ifname) : await cache.findWhere(req.ifname, req.match!))[0];
    if (other) {
      throw new UsageError(
        `${req.ifname} in ${req.describe} was attached through network ${other.entry.networkName || '(unreadable record)'}, not ${req.list.name}`,
        { fix: { setting: 'networkConfig', advice: `${command === 'DEL' ? 'detach' : 'check'} it without a config (the cache knows the config)` } },
      );
    }
  }
  const w = req.ways ?? NO_WAYS;
  for (const f of found) {
    if (!f.unreadable || (command === 'DEL' && req.force)) continue;
    const named = `the record of ${req.ifname} in ${req.describe}, ${cache.named(`${cache.dir}/${f.file}`)}, cannot be used (${f.unreadable})`;
    throw new UsageError(command === 'DEL'
      ? `${named}; nothing was run. \`${w.forceWithConfig}\` runs DEL with that config, then forgets it; \`${w.force}\` only forgets it (${mayRemain(req.ifname, req.describe)})`
      : `${named}: nothing to CHECK against; \`${w.force}\` forgets it`);
  }
  if (found.length === 0 && command === 'CHECK') {
    // an attach that holds the lock but has not recorded its intent yet (asking VERSION, STATUS) is still an attach
    await refuseIfHeld(cache.direct(), req, found);
    throw nothingToCheck(cache, req);
  }
  return found;
}

function nothingToCheck(cache: ResultCache, req: DetachRequest): NotFoundError {
  return new NotFoundError(`nothing is attached as ${req.ifname} in ${req.describe} (no cache entry under ${cache.named(`${cache.dir}/results`)})`);
}

/**
 * What a CHECK of a recorded entry runs with, after the checks it makes before it runs CHECK (check and its dry run
 * alike): its plugins found, each speaking the config's version (VERSION), a cached result to check against
 * (PluginError otherwise), a config of 0.4.0 or later (UsageError); undefined when the network sets disableCheck.
 */
async function beforeCheck(ctx: ChainContext, req: DetachRequest, f: Found): Promise<{ resolved: ResolvedList; rt: RuntimeConf; prev: JsonObject } | undefined> {
  const { entry } = f;
  const list = req.list ?? entryList(entry);
  const resolved = await resolvePlugins(ctx, list);
  await negotiateVersions(ctx, resolved);
  const prev = cachedPrev(list, entry, ctx.note);
  if (!prev) throw new PluginError(list.plugins[0]!.type, 'CHECK', undefined, 'no cached result to check against');
  if (!checkRuns(ctx, list)) return undefined;
  const rt: RuntimeConf = { containerId: entry.containerId, netns: await netnsFor(req, f, 'CHECK'), ifname: req.ifname, cniArgs: argsFor(entry, req), capabilityArgs: entry.capabilityArgs ?? {} };
  return { resolved, rt, prev };
}

/** The way out of a failed DEL (its error's `next`): how to retry, and how to forget the record if it keeps failing. */
function retryHint(req: DetachRequest): string {
  const w = req.ways ?? NO_WAYS;
  return `run \`${w.detach}\` again once its DEL can succeed (a config and CNI_ARGS given to it override the cached ones), or \`${w.force}\` to forget it (${mayRemain(req.ifname, req.describe)})`;
}

/**
 * The answer of a detach whose node could not be asked (the session or agent lost, the runtime gone: UnreachableError,
 * exit 4) — `step` says at which step: what ran there is not known, so nothing on the node is known to be gone — the record stays
 * (`kept`: on the node and in the cluster; the CLI forgets the cluster's only after the engine's detach returns), forced or not
 * (--force is for a DEL the plugin refuses). Its `next` is the detach to run once the node can be reached; `left`
 * 'recorded'.
 */
function nodeUnreached(e: UnreachableError, req: DetachRequest, step: string, kept = 'on the node and in the cluster', notSent = false): UnreachableError {
  const w = req.ways ?? NO_WAYS;
  e.message = notSent
    ? `${e.message}; ${step} the record of ${req.ifname} in ${req.describe} is kept ${kept}`
    : `${e.message}; ${step}: the record of ${req.ifname} in ${req.describe} was kept ${kept}${req.force ? ' (--force forgets what a plugin refuses, not what a node could not be asked)' : ''}`;
  // a request refused before it reached the node says why in its own words (a 404: the agent pod deleted, and the same
  // command again starts a new one): not "once the node can be reached", which it may well be
  e.next = notSent
    ? `run \`${req.force ? w.force : w.detach}\` again`
    : `run \`${req.force ? w.force : w.detach}\` again once the node can be reached (cni-list and cni-gc still find it by its record)`;
  e.left = 'recorded';
  return e;
}

/**
 * DEL whatever is recorded for the attachment. Returns what was detached; [] means nothing was attached.
 * Errors: UsageError for an unreadable record (unless forced) and for a config of another network than the recorded
 * one; BusyError for a lock held by a live process (also with nothing recorded: an attach that has not recorded its
 * intent yet holds it), and when a cni-gc's GC of the network outlasts the wait before the DEL (untilGcDone, also
 * for cni-gc's own DELs); PluginError when DEL fails (unless forced: then the record is forgotten and Detached.forced
 * says what may remain) — its message names the commands that retry and that forget the record; a PluginError with
 * stoppedBy / StoppedError when the user's signal stopped it (the record stays).
 *
 * Each DEL of a readable record is marked (cache.ts deletingPath: req.by, now, this process) under the lock just before
 * its first plugin DEL, and the mark is removed with the result and the intent: one left with its record (the lock free)
 * is a DEL stopped part-way — killed, the user's signal, the node lost (UnreachableError) — or, rewritten with the
 * plugin's error, one a plugin refused (resolve/attachment-state.ts `detach stopped`). --force removes it with the
 * record. On a node reached by commands the mark costs no round trip (exec/batch.ts: it rides on the first DEL).
 */
export async function detach(ctx: ChainContext, cache: ResultCache, req: DetachRequest): Promise<Detached[]> {
  readAhead(ctx, cache, req.ifname, undefined, (req.by ?? 'cni-detach') === 'cni-detach');
  await checkPathTrusted(ctx);
  return optimistically(ctx, cache, (c, k) => detachOnce(c, k, req)).catch((e: unknown) => {
    throw withForceHint(e, cache, req);
  });
}

/**
 * detach() with the node looked at as it is now: no step read ahead or taken from an earlier look-up (a batching
 * executor's snapshot) — for a detach that found nothing while the cluster, listed after that look-up, records the
 * attachment (cli/detach.ts: an attach of another command that finished meanwhile). Errors: as detach().
 */
export async function detachAnew(ctx: ChainContext, cache: ResultCache, req: DetachRequest): Promise<Detached[]> {
  const exec = isBatching(ctx.exec) ? ctx.exec.direct() : ctx.exec;
  return detach({ ...ctx, exec }, cache.on(exec), req);
}

/**
 * A DEL's BusyError for a lock of another host that holds a time limit (work on a node reached by commands), given
 * the way out when that command is gone for good (a laptop lost mid-ADD): nothing here can see another host's processes,
 * so the lock is respected until the user says so with --force, which then breaks it once that limit has passed
 * (exec/lock.ts LockOwner.othersGone). The way out is the command line to paste, req.ways.force (`kubectl cni-detach
 * web-1 -n shop --ifname eth1 --force`, with the flags that reached the node) — in a cni-detach's own error, its dry
 * run's (before: "the same cni-detach with --force", which of a dry run is that dry run) and cni-gc's DELs (before: "a
 * cni-detach --force of it"); "the same cni-detach with --force" only where no command lines were given. Other errors
 * as they are.
 */
function withForceHint(e: unknown, cache: ResultCache, req: DetachRequest): unknown {
  const h = e instanceof BusyError ? e.holder : undefined;
  if (!h || req.force) return e;
  const force = req.ways ? `\`${req.ways.force}\`` : undefined;
  if ((req.by ?? 'cni-detach') !== 'cni-detach') return withWayOut(e, force);
  return withWayOut(e, force ?? 'the same cni-detach with --force', ' — and, as --force does, forgets the attachment if its DEL then fails');
}

async function detachOnce(ctx: ChainContext, cache: ResultCache, req: DetachRequest): Promise<Detached[]> {
  const found = await recordedFor(cache, req, 'DEL');
  if (found.length === 0) {
    if (!req.list || req.containerId === undefined || req.netns === undefined) {
      // nothing recorded, but an attach that holds the lock before recording its intent (asking VERSION, STATUS) is
      // still an attach: busy, as check answers, not "nothing to do" (nor a write-ahead record forgotten beside it)
      await refuseIfHeld(cache.direct(), req, found);
      return [];
    }
    // Nothing cached but a config given: DEL is idempotent, so run it (frees what a lost cache forgot).
    const rt: RuntimeConf = { containerId: req.containerId, netns: req.netns, ifname: req.ifname, cniArgs: req.cniArgs ?? [], capabilityArgs: {} };
    const resolved = await resolvePlugins(ctx, req.list);
    await held(ctx, () => withLock(ctx, cache, rt, req.describe, async (_lock, ctx) => {
      stopIfInterrupted(ctx, 'its DEL: nothing was changed');
      await delChain(ctx, resolved, rt);
    }, { list: resolved.list, command: 'DEL' }));
    return [{ network: req.list.name, containerId: req.containerId, fromIntent: false, uncached: true }];
  }
  const done: Detached[] = [];
  for (const f of found) {
    const { entry, intentOnly } = f;
    let list: NetworkConfigList | undefined = req.list;
    let delError: string | undefined;
    if (!list && !f.unreadable) {
      try {
        list = entryList(entry);
      } catch (e) {
        if (!req.force) throw e;
        delError = `its cached config cannot be used (${(e as Error).message})`;
      }
    }
    if (!list && f.unreadable) delError = 'no config to run DEL with: the record has none, and none was given';
    const rt: RuntimeConf = {
      containerId: entry.containerId || req.containerId || '',
      netns: await netnsFor(req, f, 'DEL'),
      ifname: req.ifname,
      cniArgs: argsFor(f.unreadable ? undefined : entry, req),
      capabilityArgs: entry.capabilityArgs ?? {},
    };
    const resolved = list ? await resolvePlugins(ctx, list).catch((e: Error) => {
      // a plugin missing is the plugin's side (forced: forget it); a node that cannot be asked is not (nodeUnreached)
      if (e instanceof UnreachableError && !stoppedBy(e)) throw nodeUnreached(e, req, 'its plugins could not be looked for, so nothing ran');
      if (!req.force || stoppedBy(e)) throw e;
      delError = e.message;
      return undefined;
    }) : undefined;
    const key = keyOf({ ...entry, containerId: rt.containerId });
    const by = req.by ?? 'cni-detach';
    // the network under other ifnames in the sandbox, whose share of a keyed plugin's node state this DEL removes too
    // (read-only, from the names the look-up brought: readAhead forDetach); cni-gc frees a gone sandbox's all alike
    const keyed = list && resolved && by === 'cni-detach' && !f.unreadable ? keyedOnDel(list, rt.capabilityArgs) : [];
    const sharing = keyed.length > 0 ? await cache.otherAttachmentsOf(list!.name, rt.containerId, req.ifname) : [];
    // portmap's nftables backend: rules of the sandbox its DEL would remove that this attach did not make (refused
    // without --force; read-only, riding on the look-up)
    if (list && resolved && by === 'cni-detach') await refuseForeignNftRules(ctx, req, list, rt, f);
    let removing = false;
    // the DELs of its chain that finished, and (forced) which one failed: undefined while none ran (forcedRemains)
    const ran: string[] = [];
    let dels: { ran: string[]; failed: string } | undefined;
    const deleted = await held(ctx, () => withLock(ctx, cache, rt, req.describe, async (_lock, ctx) => {
      // a concurrent detach may have finished it (and a new attach begun) since we looked: read again under the lock
      if (!f.unreadable) {
        const still = intentOnly ? await cache.readIntent(key) : await cache.read(key);
        if (!still || JSON.stringify(still) !== JSON.stringify(entry)) return false;
      }
      stopIfInterrupted(ctx, 'its DEL: nothing was changed');
      if (resolved && list) {
        // the mark that a DEL of ours is under way (cache.ts deletingPath): left by a DEL stopped part-way (killed, the
        // user's second signal, its node lost), it tells that from an interface deleted by hand. On a node reached by
        // commands it rides on the first DEL (exec/batch.ts), and its removal on the flush that removes the result
        const mark = f.unreadable ? undefined : await cache.markDeleting(key, by);
        try {
          await delChain(ctx, resolved, rt, f.unreadable ? undefined : cachedPrev(list, entry, ctx.note), true, ran);
        } catch (e) {
          // the lock the steps on a node were to take with the first DEL was held (exec/batch.ts): nothing ran, and
          // no DEL failed; the step-by-step try answers busy (optimistically). --force never forgets a record under
          // a live lock (an attach still in its ADD, a detach in its DEL, a killed command's plugin until its limit)
          if (e instanceof PreconditionFailed) throw e;
          const stopped = stoppedBy(e) !== undefined;
          // --force forgets what a plugin refuses, never what a node could not be asked (nothing there is known gone)
          // a first DEL that never reached the node (UnreachableError.notSent: its pods/exec upgrade refused, the agent
          // pod deleted) ran nowhere: nothing changed, the record stays as it was; a later one: the DELs before it ran
          if (e instanceof UnreachableError && !stopped && e.notSent && ran.length === 0) {
            // its DEL mark rides on that request on a node reached by commands (exec/batch.ts); where it was written
            // apart, it goes: no DEL began (a mark left would say "detach stopped")
            if (!f.unreadable) await cache.removeDeleteMark(key).catch(() => undefined);
            throw nodeUnreached(e, req, 'its DEL did not run (the request never reached the node): nothing was changed, and', 'on the node and in the cluster', true);
          }
          if (e instanceof UnreachableError && !stopped) throw nodeUnreached(e, req, 'whether its DEL ran is not known, so nothing on the node is known to be gone');
          if (!req.force || stopped) {
            if (e instanceof CniAttachError && stopped) e.message += '; the record stays: run the command again';
            else if (e instanceof CniAttachError) [e.message, e.next] = [`${e.message}; the record stays`, retryHint(req)];
            // a DEL that ran to its end, refused by a plugin: its mark says so (it may have deleted the link already)
            const left = !stopped && !f.unreadable ? ((await cache.markDeleting(key, by, (e as Error).message).catch(() => undefined)) ?? (mark && { ...mark, failed: (e as Error).message })) : mark;
            // what its mark says, for the caller to record where the node is not read (the cluster's record: delStoppedOf);
            // an interrupted attach's intent stays what it was (interrupted), whatever its DEL did
            if (left && !intentOnly && e instanceof Error) stoppedDels.set(e, { containerId: key.containerId, ifname: req.ifname, network: key.network, mark: left });
            throw e;
          }
          delError = (e as Error).message;
          dels = { ran: [...ran], failed: e instanceof PluginError ? e.plugin : list.plugins[list.plugins.length - 1 - ran.length]?.type ?? '?' };
        }
      }
      removing = true;
      if (f.unreadable) await cache.removeRecord(f.file!);
      else {
        // the mark last: a DEL stopped between these leaves a mark of no record (nothing: cache.ts scan), never a
        // record without its mark (an attach of the key removes such a leftover before its ADD)
        await cache.remove(key);
        await cache.removeIntent(key);
        await cache.removeDeleteMark(key);
      }
      // a writer killed between its temp file and the rename leaves the temp file: it goes with the attachment
      await cache.sweepTemp(`${key.network}-${key.containerId}-${key.ifname}.`);
      return true;
    }, resolved && list ? { list, command: 'DEL' } : undefined)).catch((e: unknown) => {
      // the removal, or (on a node reached by commands: exec/batch.ts) the flush that carries it after the lock
      if (removing && e instanceof UnreachableError && !stoppedBy(e)) {
        throw nodeUnreached(e, req, `${delError ? `its DEL did not succeed (${delError}), and` : 'its DEL ran, but'} whether its record on the node was removed is not known`, 'in the cluster');
      }
      throw e;
    });
    if (!deleted) continue;
    const sharedWith = sharing.length > 0 && !delError ? { ifnames: sharing, plugins: keyed } : undefined;
    if (sharedWith) ctx.note(sharedStateNote(list!.name, req.ifname, req.describe, sharedWith));
    done.push({
      network: entry.networkName || '(unreadable record)',
      containerId: rt.containerId,
      fromIntent: intentOnly,
      ...(!f.unreadable && recordsNamespaceOf(entry) ? { recordedIn: recordsNamespaceOf(entry)! } : {}),
      ...(f.via ? { via: f.via } : {}),
      ...(req.force && f.file ? { file: f.file } : {}),
      ...(req.force ? { forced: { ...(delError ? { delError } : {}), mayRemain: delError ? forcedRemains(req.ifname, req.describe, entry.networkName, list, dels, (req.ways ?? NO_WAYS).detach) : mayRemain(req.ifname, req.describe) } } : {}),
      ...(sharedWith ? { sharedWith } : {}),
    });
  }
  return done;
}

/** A DEL of a recorded attachment begun and not finished, as its mark on the node says it (delStoppedOf). */
export interface StoppedDel {
  containerId: string;
  ifname: string;
  network: string;
  mark: DeleteMark;
}

const stoppedDels = new WeakMap<Error, StoppedDel>();

/**
 * The DEL that detach() began and did not finish when it threw e — stopped part-way by the user's signal, or run to
 * its end and refused by a plugin (not forced) —, with the mark it left on the node (cache.ts DeleteMark: the
 * attachment is `detach stopped` there): its key and what the mark says, for the cluster's record of it
 * (cli/detach.ts recordStoppedDel). undefined for any other error: one before the DEL began (nothing marked), a node
 * that could not be asked (whether the DEL ran is not known), an interrupted attach's intent (it stays interrupted).
 */
export function delStoppedOf(e: unknown): StoppedDel | undefined {
  return e instanceof Error ? stoppedDels.get(e) : undefined;
}

/**
 * The answer of cni-check for an attach that never finished (its intent alone, its lock free): there is no attachment
 * to CHECK (NotFoundError, exit 3, as for nothing there), but something may be left, and its `next` names the
 * cni-detach that undoes it (as attach's "already taken" does).
 */
function interruptedAttach(ifname: string, describe: string, f: Found, ways: WaysOut): NotFoundError {
  const e = new NotFoundError(`${ifname} in ${describe} is not attached: an attach of it was interrupted (network ${f.entry.networkName}); ${mayRemain(ifname, describe)}; nothing to CHECK`);
  e.next = `run \`${ways.detach}\` to undo it (\`${ways.force}\` if its DEL keeps failing)`;
  return heldAnswer(e);
}

/** cni-check's "not attached" answers for a record the node holds (interruptedAttach, detachStopped): answersHeldRecord. */
const heldAnswers = new WeakSet<Error>();
function heldAnswer(e: NotFoundError): NotFoundError {
  heldAnswers.add(e);
  return e;
}

/**
 * Whether e is cni-check's answer for a record the node holds but that is no attachment to CHECK (an interrupted
 * attach, a detach stopped): not "nothing is recorded" — the CLI adds no hint of a record found elsewhere to it.
 */
export function answersHeldRecord(e: unknown): boolean {
  return e instanceof Error && heldAnswers.has(e);
}

/**
 * The answer of cni-check for an attachment whose DEL a cni-detach or cni-gc began and did not finish (its mark, its
 * lock free: cache.ts DeleteMark): no attachment to CHECK (NotFoundError, exit 3, as an interrupted attach), with what
 * may remain, and its `next` the cni-detach that finishes it (DEL is idempotent).
 */
function detachStopped(ifname: string, describe: string, f: Found, ways: WaysOut, here: string): NotFoundError {
  const e = new NotFoundError(`${ifname} in ${describe} is not attached: ${deleteStopped(f.deleting!, here)} (network ${f.entry.networkName}); ${mayRemain(ifname, describe)}; nothing to CHECK`);
  e.next = `run \`${ways.detach}\` to finish it (DEL is idempotent; \`${ways.force}\` if its DEL keeps failing)`;
  return heldAnswer(e);
}

/**
 * Busy when another command holds the lock of ifname in a container that records of it (found) name, or in
 * req.containerId when none does: for the unlocked answers (a dry run; a look-up that found nothing, which an attach
 * before its intent still holds).
 */
async function refuseIfHeld(cache: ResultCache, req: DetachRequest, found: Found[]): Promise<void> {
  const ids = found.length > 0 ? [...new Set(found.map((f) => f.entry.containerId))] : req.containerId !== undefined ? [req.containerId] : [];
  for (const id of ids) {
    const busy = await cache.lockHeld(id, req.ifname);
    if (busy) throw busyError(req.ifname, req.describe, busy, cache);
  }
}

/**
 * A network check() answered for: `network`, its name; `disableCheck` when its config sets it — no plugin's CHECK ran
 * (libcni CheckNetworkList returns nil without running one), only what the caller itself judged of the record
 * (DetachRequest.interfaceGone) found nothing against it.
 */
export interface Checked {
  network: string;
  disableCheck?: true;
}

/**
 * CHECK a cached attachment through its chain, under its lock (SPEC.md: no parallel operations on one container; so
 * that no DEL runs beside it). Returns the networks checked (Checked: a network that sets disableCheck runs no plugin
 * CHECK, but req.interfaceGone is asked for it as for any other, its error thrown alike). Errors: BusyError when
 * another cni-attach/cni-detach holds the lock (an attach still in its plugins, a detach): nothing is run; NotFoundError when nothing is recorded,
 * or only an attach that was interrupted (its intent, the lock free: the message names what may remain and its
 * `next` the cni-detach that undoes it); UsageError for an unreadable record; PluginError when CHECK (or VERSION)
 * fails. On a node reached by commands the lock rides on the first plugin run, as for detach.
 */
export async function check(ctx: ChainContext, cache: ResultCache, req: DetachRequest): Promise<Checked[]> {
  readAhead(ctx, cache, req.ifname);
  await checkPathTrusted(ctx);
  return optimistically(ctx, cache, (c, k) => checkOnce(c, k, req)).catch((e: unknown) => {
    throw withWayOut(e, req.ways && `\`${req.ways.force}\``);
  });
}

async function checkOnce(ctx: ChainContext, cache: ResultCache, req: DetachRequest): Promise<Checked[]> {
  const found = await recordedFor(cache, req, 'CHECK');
  const checked: Checked[] = [];
  let interrupted: Found | undefined;
  for (const f of found) {
    const key = keyOf(f.entry);
    await held(ctx, () => withLock(ctx, cache, { containerId: key.containerId, ifname: req.ifname }, req.describe, async (_lock, ctx) => {
      // read again under the lock: an attach may have finished (its result now) or a detach removed it since we looked
      const entry = await cache.read(key);
      if (!entry) {
        const intent = await cache.readIntent(key);
        if (intent) interrupted ??= { ...f, entry: intent, intentOnly: true };
        return;
      }
      // a DEL of it begun and not finished (its mark, the lock now ours): no attachment to CHECK
      const mark = await cache.readDeleteMark(key);
      if (mark) throw detachStopped(req.ifname, req.describe, { ...f, entry, deleting: mark }, req.ways ?? NO_WAYS, cache.host);
      stopIfInterrupted(ctx, 'its CHECK: nothing was changed');
      // what it would run is judged first (a config or plugin refused: that refusal), then whether the interface is there
      const ready = await beforeCheck(ctx, req, { ...f, entry });
      const gone = await req.interfaceGone?.(entry);
      if (gone) throw gone;
      if (ready) await checkChain(ctx, ready.resolved, ready.rt, ready.prev);
      checked.push({ network: entry.networkName, ...(ready ? {} : { disableCheck: true as const }) });
    }));
  }
  if (interrupted && checked.length === 0) throw interruptedAttach(req.ifname, req.describe, interrupted, req.ways ?? NO_WAYS);
  if (interrupted) ctx.note(`an attach of ${req.ifname} in ${req.describe} through network ${interrupted.entry.networkName} was interrupted: \`${(req.ways ?? NO_WAYS).detach}\` undoes it`);
  if (checked.length === 0) throw nothingToCheck(cache, req);
  return checked;
}

/**
 * The runs a DEL (cni-detach --dry-run) or CHECK (cni-check --dry-run) would make for what is recorded, running nothing
 * but VERSION (for CHECK, as check asks it) and taking no lock. It fails as the real run would before running anything,
 * with the same error (recordedFor, beforeCheck): UsageError for a config of another network or an unreadable record;
 * BusyError while another cni-attach/cni-detach holds the lock (an attach still in its plugins: its intent is not an
 * interrupted attach's); for CHECK, NotFoundError when nothing is recorded or only an attach that was interrupted,
 * PluginError with no cached result, UsageError for a config before 0.4.0. A forced DEL plans the DELs it would run
 * (none for a record it would only forget). `stoppedDel` hears of a DEL of it that stopped part-way before (the words
 * that say so); `recordedIn`, for a DEL, of each attachment whose entry names the agent namespace its attach recorded
 * it in (its sandbox id, that namespace), where the detach removes its record.
 */
export async function planRecorded(ctx: ChainContext, cache: ResultCache, req: DetachRequest, command: 'DEL' | 'CHECK', gcWaits?: (w: GcWait) => void, stoppedDel?: (words: string) => void, recordedIn?: (containerId: string, namespace: string) => void): Promise<PluginRun[]> {
  const waitFor = async (list: NetworkConfigList) => {
    const w = command === 'DEL' && gcWaits ? await gcWaitOf(cache, list, 'DEL') : undefined;
    if (w) gcWaits!(w);
  };
  await checkPathTrusted(ctx);
  const found = await recordedFor(cache, req, command);
  // the locks the real run would take, or would find held: of what is recorded; with nothing recorded, that of the
  // container given (an attach before its intent; a DEL from a given config)
  await refuseIfHeld(cache, req, found).catch((e: unknown) => {
    throw command === 'DEL' ? withForceHint(e, cache, req) : e;
  });
  if (command === 'CHECK' && found.every((f) => f.intentOnly)) throw interruptedAttach(req.ifname, req.describe, found[0]!, req.ways ?? NO_WAYS);
  const runs: PluginRun[] = [];
  for (const f of found) {
    if (command === 'CHECK') {
      if (f.intentOnly) continue;
      if (f.deleting) throw detachStopped(req.ifname, req.describe, f, req.ways ?? NO_WAYS, cache.host);
      const ready = await beforeCheck(ctx, req, f);
      const gone = await req.interfaceGone?.(f.entry);
      if (gone) throw gone;
      if (ready) runs.push(...planRecordedRuns(ctx, ready.resolved, ready.rt, 'CHECK', ready.prev));
      continue;
    }
    // a DEL of it that stopped part-way (or failed) before: the detach runs it again from the start (DEL is
    // idempotent), and its dry run says so (it showed only the runs, as of an attachment no DEL had touched)
    if (f.deleting) stoppedDel?.(`${deleteStopped(f.deleting, cache.host)} (network ${f.entry.networkName}): this detach runs that DEL again, whole (DEL is idempotent)`);
    // the agent namespace its attach recorded it in, as its entry says (the detach's Detached.recordedIn)
    const ns = f.unreadable ? undefined : recordsNamespaceOf(f.entry);
    if (ns) recordedIn?.(f.entry.containerId, ns);
    // as detachOnce: a forced DEL of a record whose config or plugins cannot be used runs nothing, and forgets it
    let list: NetworkConfigList | undefined = req.list;
    if (!list && !f.unreadable) {
      try {
        list = entryList(f.entry);
      } catch (e) {
        if (!req.force) throw e;
      }
    }
    if (!list) continue;
    const resolved = await resolvePlugins(ctx, list).catch((e: Error) => {
      if (!req.force || e instanceof UnreachableError) throw e;
      return undefined;
    });
    if (!resolved) continue;
    const rt: RuntimeConf = {
      containerId: f.entry.containerId || req.containerId || '',
      netns: await netnsFor(req, f, 'DEL'),
      ifname: req.ifname,
      cniArgs: argsFor(f.unreadable ? undefined : f.entry, req),
      capabilityArgs: f.entry.capabilityArgs ?? {},
    };
    await waitFor(list);
    // as detachOnce: rules of portmap's nftables table its DEL would remove that this attach did not make
    if ((req.by ?? 'cni-detach') === 'cni-detach') await refuseForeignNftRules(ctx, req, list, rt, f, true);
    // as detachOnce: what its DEL would remove of the network's other attachments in the sandbox
    const keyed = (req.by ?? 'cni-detach') === 'cni-detach' && !f.unreadable ? keyedOnDel(list, rt.capabilityArgs) : [];
    const sharing = keyed.length > 0 ? await cache.otherAttachmentsOf(list.name, rt.containerId, req.ifname) : [];
    if (sharing.length > 0) ctx.note(sharedStateNote(list.name, req.ifname, req.describe, { ifnames: sharing, plugins: keyed }, true));
    runs.push(...planRecordedRuns(ctx, resolved, rt, 'DEL', f.unreadable ? undefined : cachedPrev(list, f.entry, ctx.note)));
  }
  if (found.length === 0 && command === 'DEL' && req.list && req.containerId !== undefined && req.netns !== undefined) {
    const rt: RuntimeConf = { containerId: req.containerId, netns: req.netns, ifname: req.ifname, cniArgs: req.cniArgs ?? [], capabilityArgs: {} };
    await waitFor(req.list);
    runs.push(...planRecordedRuns(ctx, await resolvePlugins(ctx, req.list), rt, 'DEL'));
  }
  return runs;
}
