/**
 * Garbage collection of attachments whose target is gone (the leak Multus users report): DEL each one through its
 * cached chain (freeing its IPAM lease), then CNI GC (1.1) per network with the attachments that are still valid, for
 * the plugins that speak it.
 */
import { detach, entryList, type WaysOut } from './attach.js';
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
  /** Stale ones that could not be freed now (an attach holds the lock, or DEL failed), with what was thrown. */
  failed: { stale: Stale; error: unknown }[];
  /** Networks whose plugins ran CNI GC. */
  gcNetworks: string[];
  gcErrors: string[];
  /** The user's signal, when it stopped the pass: the records not reached yet stay for the next cni-gc; no CNI GC ran. */
  stoppedBy?: string;
}

/**
 * Free the stale attachments (DEL through each one's cached chain, then forget it), then CNI GC per network of CNI
 * 1.1.0 (SPEC.md "GC"; libcni GCNetworkList) with the attachments still valid. A network of an older version gets no
 * GC and so needs none of its plugins: a missing plugin there is no error. `ways(s)` gives the command lines that
 * clear a stale record (retry, forget), named in the error when its DEL fails.
 */
export async function collectGarbage(
  ctx: ChainContext,
  cache: ResultCache,
  stale: Stale[],
  valid: Found[],
  dryRun: boolean,
  ways?: (s: Stale) => WaysOut | undefined,
): Promise<GcOutcome> {
  const out: GcOutcome = { freed: [], failed: [], gcNetworks: [], gcErrors: [] };
  for (const s of stale) {
    if (dryRun) {
      out.freed.push(s);
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
        describe: `container ${s.entry.containerId.slice(0, 12)}`,
        ...(w ? { ways: w } : {}),
      });
      if (done.length > 0) out.freed.push(s);
    } catch (e) {
      out.failed.push({ stale: s, error: e });
    }
  }

  // CNI GC per network, with what is still valid. The config of each network is taken from its newest cache entry.
  const lists = new Map<string, NetworkConfigList>();
  for (const f of [...valid, ...stale]) {
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
  for (const [name, list] of lists) {
    const keep: GcAttachment[] = valid.filter((f) => f.entry.networkName === name).map((f) => ({ containerID: f.entry.containerId, ifname: f.entry.ifName }));
    if (dryRun) continue;
    if (!atLeast(list.cniVersion, '1.1.0') || list.disableGC) {
      ctx.debug?.(`CNI GC skipped for network ${name}: ${list.disableGC ? 'it sets disableGC' : `it uses CNI ${list.cniVersion}; GC came with 1.1.0`}`);
      continue;
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
