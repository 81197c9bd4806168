/**
 * Garbage collection of attachments whose target is gone (the leak Multus users report): DEL each one through its
 * cached chain (freeing its IPAM lease), then CNI GC (1.1) per network with the attachments that are still valid, for
 * the plugins that speak it.
 */
import { BusyError } from '../errors.js';
import { busyError, detach, entryList, type WaysOut } from './attach.js';
import type { CacheEntry, Found, ResultCache } from './cache.js';
import { gcChain, negotiateVersions, resolvePlugins, type ChainContext, type GcAttachment } from './chain.js';
import type { NetworkConfigList } from './conf.js';
import { atLeast } from './version.js';

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
 * GC must not free what a running ADD holds. SPEC.md asks more ("The runtime must ensure that no add or delete
 * operations are in progress before executing gc, and must wait for gc to complete before issuing new add or delete
 * commands"): the second half needs attaches to wait for a gc, which they do not; an attach that takes its lock after
 * that read and runs its ADD during the plugins' GC can still lose its lease to it.
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
    const skip = !atLeast(list.cniVersion, '1.1.0') || list.disableGC;
    if (skip) ctx.debug?.(`CNI GC skipped for network ${name}: ${list.disableGC ? 'it sets disableGC' : `it uses CNI ${list.cniVersion}; GC came with 1.1.0`}`);
    return !skip;
  });
  if (dryRun || gcs.length === 0) return out;
  // what GC is to free: the stale attachments whose DEL failed (their target is gone). Everything else the cache holds
  // now is valid (see above), read again here rather than taken from what was judged earlier
  const garbage = new Set(out.failed.map((f) => keyOf(f.stale.entry)));
  let now: Found[];
  try {
    now = await cache.all();
  } catch (e) {
    out.gcErrors.push(`the cache could not be read again for the valid attachments, so no CNI GC ran: ${(e as Error).message}`);
    return out;
  }
  for (const [name, list] of gcs) {
    const listed = new Set<string>();
    const keep: GcAttachment[] = [];
    for (const f of now) {
      const k = keyOf(f.entry);
      if (f.entry.networkName !== name || !f.entry.containerId || !f.entry.ifName || garbage.has(k) || listed.has(k)) continue;
      listed.add(k);
      keep.push({ containerID: f.entry.containerId, ifname: f.entry.ifName });
    }
    try {
      const resolved = await resolvePlugins(ctx, list);
      const errors = await gcChain(ctx, resolved, await negotiateVersions(ctx, resolved), keep);
      out.gcErrors.push(...errors.map((e) => `network ${name}: ${e.message}`));
      if (list.cniVersion === '1.1.0' && !list.disableGC) out.gcNetworks.push(name);
    } catch (e) {
      out.gcErrors.push(`network ${name}: ${(e as Error).message}`);
    }
  }
  return out;
}
