/**
 * The life of one attachment: lock, refuse what is already there, record the intent, run the chain, cache the result
 * (or roll back); and the way back: find what was cached, DEL it, forget it. Also CHECK of a cached attachment.
 */
import { parseNetworkConfig, declaredCapabilities, type JsonObject, type NetworkConfigList } from './conf.js';
import { BusyError, NotFoundError, NotRecordedError, PluginError, UsageError } from '../errors.js';
import {
  addChain, AddFailed, checkChain, delChain, negotiateVersions, planAdd, resolvePlugins, statusChain,
  type ChainContext, type RuntimeConf,
} from './chain.js';
import { configText, intentPath, keyOf, makeEntry, resultPath, type CacheEntry, type Found, type ResultCache } from './cache.js';
import { convertResult } from './result.js';
import type { PluginRun } from './invoke.js';

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
}

export interface Attached {
  result: JsonObject;
  list: NetworkConfigList;
  cacheFile: string;
  /** True when nothing ran because this very attachment was already there (reattachSame). */
  already: boolean;
}

async function withLock<T>(cache: ResultCache, rt: { containerId: string; ifname: string }, describe: string, fn: () => Promise<T>): Promise<T> {
  const lock = await cache.lock(rt.containerId, rt.ifname);
  if (!lock) {
    throw new BusyError(`another cni-attach/cni-detach is working on ${rt.ifname} in ${describe} right now; try again when it is done`);
  }
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

function checkCapabilities(list: NetworkConfigList, capabilityArgs: JsonObject): void {
  const declared = declaredCapabilities(list);
  for (const cap of Object.keys(capabilityArgs)) {
    if (!declared.has(cap)) {
      throw new UsageError(
        `no plugin of network ${list.name} declares the "${cap}" capability, so it would be ignored: add "capabilities": {"${cap}": true} to the plugin that should receive it`,
      );
    }
  }
}

/** The runs an attach would make, without running anything but plugin look-up. */
export async function planAttach(ctx: ChainContext, req: AttachRequest): Promise<PluginRun[]> {
  checkCapabilities(req.list, req.rt.capabilityArgs);
  return planAdd(ctx, await resolvePlugins(ctx, req.list), req.rt);
}

export async function attach(ctx: ChainContext, cache: ResultCache, req: AttachRequest): Promise<Attached> {
  const { list, rt } = req;
  checkCapabilities(list, rt.capabilityArgs);
  const resolved = await resolvePlugins(ctx, list);
  return withLock(cache, rt, req.describe, async () => {
    const existing = await cache.find(rt.containerId, rt.ifname);
    const same = existing.find((f) => !f.intentOnly && f.entry.networkName === list.name && configText(f.entry) === list.bytes && f.entry.result);
    if (req.reattachSame && same && existing.length === 1) {
      return { result: same.entry.result!, list, cacheFile: resultPath(cache.dir, keyOf(same.entry)), already: true };
    }
    if (existing.length > 0) {
      const e = existing[0]!;
      const how = e.intentOnly ? 'an attach of it was interrupted' : 'it is attached';
      throw new UsageError(`${rt.ifname} is already taken in ${req.describe}: ${how} (network ${e.entry.networkName}); run cni-detach first`);
    }
    if (await req.interfaceExists()) {
      throw new UsageError(`an interface named ${rt.ifname} already exists in ${req.describe}`, { fix: { setting: 'ifname', advice: 'choose another name' } });
    }
    const versions = await negotiateVersions(ctx, resolved);
    await statusChain(ctx, resolved, versions);

    const key = { network: list.name, containerId: rt.containerId, ifname: rt.ifname };
    const runtime = { netns: rt.netns, cniArgs: rt.cniArgs, capabilityArgs: rt.capabilityArgs };
    // Record the intent first: if we die between the plugin's ADD and the cache write, detach/gc still find it.
    try {
      await cache.writeIntent(makeEntry(key, list.bytes, runtime));
    } catch (e) {
      throw new UsageError(`could not record the attach in ${intentPath(cache.dir, key)}: ${(e as Error).message} (nothing was changed)`, { cause: e, fix: { setting: 'cacheDir' } });
    }
    let result: JsonObject;
    try {
      result = await addChain(ctx, resolved, rt);
    } catch (e) {
      if (e instanceof AddFailed && !e.rollbackError) await cache.removeIntent(key);
      throw e;
    }
    try {
      await cache.write(makeEntry(key, list.bytes, runtime, result));
    } catch (e) {
      // An attachment we cannot record is one nobody could detach: undo it.
      let undo = 'rolled back';
      try {
        await delChain(ctx, resolved, rt, result);
        await cache.removeIntent(key);
      } catch (d) {
        undo = `rolling back also failed: ${(d as Error).message}`;
      }
      throw new NotRecordedError(`could not write the result cache ${resultPath(cache.dir, key)}: ${(e as Error).message} (${undo})`, { cause: e });
    }
    await cache.removeIntent(key);
    await ctx.versions?.save();
    return { result, list, cacheFile: resultPath(cache.dir, key), already: false };
  });
}

export interface DetachRequest {
  ifname: string;
  describe: string;
  /** Find the attachment by container id (the sandbox id, or the id derived from a netns path)… */
  containerId?: string;
  /** …or by a predicate over every cached entry of ifname (a pod whose sandbox is already gone). */
  match?: (e: CacheEntry) => boolean;
  /**
   * CNI_NETNS for DEL. undefined: the one recorded at ADD. '': none — the sandbox is gone, and a recorded
   * /proc/PID/ns/net may by now belong to another process, so it must not be used.
   */
  netns?: string;
  /** With --conf: DEL this network even when nothing is cached (like cnitool del); needs containerId and netns. */
  list?: NetworkConfigList;
  cniArgs?: [string, string][];
}

export interface Detached {
  network: string;
  containerId: string;
  /** True when only an interrupted attach's intent was found. */
  fromIntent: boolean;
  /** True when nothing was recorded and DEL ran from --conf alone. */
  uncached?: boolean;
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

async function findRecorded(cache: ResultCache, req: DetachRequest): Promise<Found[]> {
  let found = req.containerId !== undefined
    ? await cache.find(req.containerId, req.ifname)
    : await cache.findWhere(req.ifname, req.match ?? (() => false));
  if (req.containerId !== undefined && req.match) found = found.filter((f) => req.match!(f.entry));
  if (req.list) found = found.filter((f) => f.entry.networkName === req.list!.name);
  return found;
}

/** DEL whatever is recorded for the attachment. Returns what was detached; [] means nothing was attached. */
export async function detach(ctx: ChainContext, cache: ResultCache, req: DetachRequest): Promise<Detached[]> {
  const found = await findRecorded(cache, req);
  if (found.length === 0 && req.list && req.containerId !== undefined) {
    // never DEL with one network's config what another network attached: plugins delete interfaces by name
    const other = (await cache.find(req.containerId, req.ifname))[0];
    if (other) {
      throw new UsageError(
        `${req.ifname} in ${req.describe} was attached through network ${other.entry.networkName}, not ${req.list.name}`,
        { fix: { setting: 'networkConfig', advice: 'detach it without a config (the cache knows the config)' } },
      );
    }
  }
  if (found.length === 0) {
    if (!req.list || req.containerId === undefined || req.netns === undefined) return [];
    // Nothing cached but a config given: DEL is idempotent, so run it (frees what a lost cache forgot).
    const rt: RuntimeConf = { containerId: req.containerId, netns: req.netns, ifname: req.ifname, cniArgs: req.cniArgs ?? [], capabilityArgs: {} };
    const resolved = await resolvePlugins(ctx, req.list);
    await withLock(cache, rt, req.describe, () => delChain(ctx, resolved, rt));
    return [{ network: req.list.name, containerId: req.containerId, fromIntent: false, uncached: true }];
  }
  const done: Detached[] = [];
  for (const { entry, intentOnly } of found) {
    const list = req.list ?? entryList(entry);
    const rt: RuntimeConf = {
      containerId: entry.containerId,
      netns: req.netns ?? entry.netns ?? '',
      ifname: req.ifname,
      cniArgs: entry.cniArgs ?? req.cniArgs ?? [],
      capabilityArgs: entry.capabilityArgs ?? {},
    };
    const resolved = await resolvePlugins(ctx, list);
    const key = keyOf(entry);
    const deleted = await withLock(cache, rt, req.describe, async () => {
      // a concurrent detach may have finished it (and a new attach begun) since we looked: read again under the lock
      const still = intentOnly ? await cache.readIntent(key) : await cache.read(key);
      if (!still || JSON.stringify(still) !== JSON.stringify(entry)) return false;
      await delChain(ctx, resolved, rt, cachedPrev(list, entry, ctx.note));
      await cache.remove(key);
      await cache.removeIntent(key);
      // a writer killed between its temp file and the rename leaves the temp file: it goes with the attachment
      await cache.sweepTemp(`${key.network}-${key.containerId}-${key.ifname}.`);
      return true;
    });
    if (deleted) done.push({ network: entry.networkName, containerId: entry.containerId, fromIntent: intentOnly });
  }
  return done;
}

/** CHECK a cached attachment through its chain. */
export async function check(ctx: ChainContext, cache: ResultCache, req: DetachRequest): Promise<string[]> {
  const found = (await findRecorded(cache, req)).filter((f) => !f.intentOnly);
  if (found.length === 0) throw new NotFoundError(`nothing is attached as ${req.ifname} in ${req.describe} (no cache entry under ${cache.dir}/results)`);
  const checked: string[] = [];
  for (const { entry } of found) {
    const list = req.list ?? entryList(entry);
    const rt: RuntimeConf = {
      containerId: entry.containerId,
      netns: req.netns ?? entry.netns ?? '',
      ifname: req.ifname,
      cniArgs: entry.cniArgs ?? [],
      capabilityArgs: entry.capabilityArgs ?? {},
    };
    const resolved = await resolvePlugins(ctx, list);
    await negotiateVersions(ctx, resolved);
    const prev = cachedPrev(list, entry, ctx.note);
    if (!prev) throw new PluginError(list.plugins[0]!.type, 'CHECK', undefined, 'no cached result to check against');
    await checkChain(ctx, resolved, rt, prev);
    checked.push(entry.networkName);
  }
  return checked;
}
