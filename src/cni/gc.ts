/**
 * Garbage collection of attachments whose target is gone (the leak Multus users report): DEL each one through its
 * cached chain (freeing its IPAM lease), then CNI GC (1.1) per network with the attachments that are still valid, for
 * the plugins that speak it.
 */
import { BusyError } from '../errors.js';
import { busyError, detach, entryList, poll, type WaysOut } from './attach.js';
import type { CacheEntry, Found, ResultCache } from './cache.js';
import { gcChain, negotiateVersions, resolvePlugins, runsGc, type ChainContext, type GcAttachment, type ResolvedList } from './chain.js';
import type { NetworkConfigList } from './conf.js';
import { commandInParens, type Busy, type Lock } from '../exec/lock.js';
import { formatDuration } from '../duration.js';

export interface Stale {
  entry: CacheEntry;
  intentOnly: boolean;
  /** CNI_NETNS for its DEL: '' when the namespace is gone. */
  netns: string;
  why: string;
}

export interface GcOutcome {
  freed: Stale[];
  /** Stale ones that could not be freed now (DEL failed), with what was thrown. */
  failed: { stale: Stale; error: unknown }[];
  /**
   * Stale ones another cni-attach/cni-detach is working on right now (their lock held: BusyError, whose holder says
   * who and, on a node, until when): not touched, left for a later cni-gc; CNI GC keeps them. Not a failure.
   */
  busy: { stale: Stale; error: BusyError }[];
  /** Networks whose plugins ran CNI GC. */
  gcNetworks: string[];
  gcErrors: string[];
  /** The user's signal, when it stopped the pass: the records not reached yet stay for the next cni-gc; no CNI GC ran. */
  stoppedBy?: string;
}

const keyOf = (e: CacheEntry) => `${e.networkName}\0${e.containerId}\0${e.ifName}`;

/**
 * The GC lock of network (cache.ts gcLockPath), taken; while another cni-gc holds it, waited for as an attach waits
 * (attach.ts poll: at most the plugin time limit). Errors: BusyError when it is still held then (or the user's signal
 * came), a UsageError when the cache cannot be used.
 */
async function gcLock(ctx: ChainContext, cache: ResultCache, network: string): Promise<Lock> {
  let holder: Busy = {};
  const lock = await poll(ctx, async () => {
    const taken = await cache.gcLock(network);
    if ('lock' in taken) return taken.lock;
    holder = taken.busy;
    return undefined;
  });
  if (lock) return lock;
  throw new BusyError(`another cni-gc${commandInParens(holder, cache.host)} is running CNI GC of this network${ctx.interrupted?.() ? '' : ` and did not finish within ${formatDuration(ctx.timeoutMs)} (the plugin time limit)`}: no CNI GC ran for it here`);
}

/**
 * Free the stale attachments (DEL through each one's cached chain, then forget it), then CNI GC per network of CNI
 * 1.1.0 (SPEC.md "GC"; libcni GCNetworkList), for the networks of what the caller read from the cache (`seen`, the
 * stale ones among them). A network of an older version gets no GC and so needs none of its plugins: a missing plugin
 * there is no error. `ways(s)` gives the command lines that clear a stale record (retry, forget), named in the error
 * when its DEL fails.
 *
 * A stale one whose lock another cni-attach/cni-detach holds (an attach still in its plugins, a detach in its DEL; on a
 * node reached by commands, a killed command's plugin until its time limit: exec/lock.ts) is left alone (`busy`): its
 * DEL would run beside that command's ADD or DEL (SPEC.md "Lifecycle & Ordering": no parallel operations for one
 * container). With dryRun, the same is said from the lock as it is now.
 *
 * The valid attachments GC is given (SPEC.md "GC": `cni.dev/valid-attachments`, "the list of **still valid**
 * attachments to this network"; the plugin "may then remove any resources related to attachments that do not exist
 * in this set") are read from the cache again just before GC: every attachment and unfinished attach of that network
 * it holds then, but those this run judged stale and could not free. So an attach that is running (its intent, its
 * lock held: its ADD may have taken a lease already), one gc left alone because it is busy, one that began or finished
 * since the cache was first read, and one gc could not judge (an unreadable record, a target refused) count as valid:
 * GC must not free what a running ADD holds.
 *
 * SPEC.md "Lifecycle & Ordering" asks more: "The runtime must exclusively execute either _gc_ or _add_ and _delete_
 * … and must wait for _gc_ to complete before issuing new _add_ or _delete_ commands." So the GC of each network runs
 * under its GC lock (cache.ts gcLockPath; the interface locks' rules and holder: exec/lock.ts), taken just before that
 * read and released once the plugins' GC returned, inside ctx.hold (a signal lets GC return and the lock go); an
 * attach of that network waits for it after recording its intent and before its ADD, a detach before its DEL
 * (attach.ts untilGcDone, which says why no attach can slip between: the intent first there, the lock first here).
 * gc's own DELs come before and take no GC lock. A GC lock another cni-gc holds is waited for as attaches do (at most
 * the plugin time limit; then that network's GC is skipped, in gcErrors). Only this host's cache has GC locks: cni-gc
 * runs CNI GC for no other.
 */
export async function collectGarbage(
  ctx: ChainContext,
  cache: ResultCache,
  stale: Stale[],
  seen: Found[],
  dryRun: boolean,
  ways?: (s: Stale) => WaysOut | undefined,
): Promise<GcOutcome> {
  const out: GcOutcome = { freed: [], failed: [], busy: [], gcNetworks: [], gcErrors: [] };
  const describe = (s: Stale) => `container ${s.entry.containerId.slice(0, 12)}`;
  for (const s of stale) {
    if (dryRun) {
      // as the real run would find it: a lock held now is a command working on it
      const held = await cache.lockHeld(s.entry.containerId, s.entry.ifName);
      if (held) out.busy.push({ stale: s, error: busyError(s.entry.ifName, describe(s), held, cache) });
      else out.freed.push(s);
      continue;
    }
    // the first Ctrl-C/SIGTERM ends the pass: the DEL it interrupted keeps its record, the rest wait for the next run
    const sig = ctx.interrupted?.();
    if (sig) {
      out.stoppedBy = sig;
      return out;
    }
    const w = ways?.(s);
    try {
      const done = await detach(ctx, cache, {
        containerId: s.entry.containerId,
        ifname: s.entry.ifName,
        match: (e) => e.networkName === s.entry.networkName,
        netns: s.netns,
        describe: describe(s),
        byGc: true,
        ...(w ? { ways: w } : {}),
      });
      if (done.length > 0) out.freed.push(s);
    } catch (e) {
      if (e instanceof BusyError) out.busy.push({ stale: s, error: e });
      else out.failed.push({ stale: s, error: e });
    }
  }

  // CNI GC per network, with what is still valid. The config of each network is taken from its newest cache entry.
  const lists = new Map<string, NetworkConfigList>();
  for (const f of [...seen, ...stale]) {
    if (lists.has(f.entry.networkName) || !f.entry.config) continue;
    try {
      lists.set(f.entry.networkName, entryList(f.entry));
    } catch (e) {
      out.gcErrors.push(`network ${f.entry.networkName}: cached config unreadable: ${(e as Error).message}`);
    }
  }
  if (ctx.interrupted?.()) {
    out.stoppedBy = ctx.interrupted()!;
    return out;
  }
  const gcs = [...lists].filter(([name, list]) => {
    const skip = !runsGc(list);
    if (skip) ctx.debug?.(`CNI GC skipped for network ${name}: ${list.disableGC ? 'it sets disableGC' : `it uses CNI ${list.cniVersion}; GC came with 1.1.0`}`);
    return !skip;
  });
  if (dryRun || gcs.length === 0) return out;
  // what GC is to free: the stale attachments whose DEL failed (their target is gone). Everything else the cache holds
  // now is valid (see above), read again under the GC lock rather than taken from what was judged earlier
  const garbage = new Set(out.failed.map((f) => keyOf(f.stale.entry)));
  for (const [name, list] of gcs) {
    const sig = ctx.interrupted?.();
    if (sig) {
      out.stoppedBy = sig;
      return out;
    }
    let resolved: ResolvedList;
    let versions: Map<string, string[]>;
    try {
      resolved = await resolvePlugins(ctx, list);
      versions = await negotiateVersions(ctx, resolved);
    } catch (e) {
      out.gcErrors.push(`network ${name}: ${(e as Error).message}`);
      continue;
    }
    const lock = await gcLock(ctx, cache, name).catch((e: unknown) => e as Error);
    if (!('release' in lock)) {
      out.gcErrors.push(`network ${name}: ${lock.message}`);
      continue;
    }
    const release = ctx.hold?.();
    try {
      let now: Found[];
      try {
        now = await cache.all();
      } catch (e) {
        out.gcErrors.push(`network ${name}: the cache could not be read again for the attachments still valid, so no CNI GC ran: ${(e as Error).message}`);
        continue;
      }
      const listed = new Set<string>();
      const keep: GcAttachment[] = [];
      for (const f of now) {
        const k = keyOf(f.entry);
        if (f.entry.networkName !== name || !f.entry.containerId || !f.entry.ifName || garbage.has(k) || listed.has(k)) continue;
        listed.add(k);
        keep.push({ containerID: f.entry.containerId, ifname: f.entry.ifName });
      }
      const errors = await gcChain(ctx, resolved, versions, keep);
      out.gcErrors.push(...errors.map((e) => `network ${name}: ${e.message}`));
      if (list.cniVersion === '1.1.0') out.gcNetworks.push(name);
    } catch (e) {
      out.gcErrors.push(`network ${name}: ${(e as Error).message}`);
    } finally {
      await lock.release().catch((e: unknown) => out.gcErrors.push(`network ${name}: its GC lock could not be removed (${(e as Error).message}): it is stale now, and broken by the next command that meets it`));
      release?.();
    }
  }
  return out;
}
