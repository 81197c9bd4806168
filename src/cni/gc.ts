/**
 * Garbage collection of attachments whose target is gone (the leak Multus users report): DEL each one through its
 * cached chain (freeing its IPAM lease), then CNI GC (1.1) per network with the attachments that are still valid, for
 * the plugins that speak it.
 */
import { BusyError } from '../errors.js';
import { detach, entryList, planRecorded, poll, type DetachRequest, type WaysOut } from './attach.js';
import { lockFile, type CacheEntry, type Found, type ResultCache } from './cache.js';
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
  /**
   * Networks whose CNI GC did not run because an ADD or DEL of them was still running after the wait (gcTurn),
   * with why ("a cni-attach/cni-detach (pid 123 …) working on eth2 of container 3c8c3e007d60 in /proc/4976/ns/net was
   * still running after 1m …"): not a failure, left for a later cni-gc, as a busy attachment is.
   */
  gcBusy: { network: string; why: string }[];
  /**
   * With dryRun: what the real run's CNI GC of a network would wait for first, as the locks are now — another cni-gc
   * running GC of it (`gc`: its GC lock held), or an ADD or DEL of it (`add-del`: gcTurn) — and who that is
   * ("a cni-attach/cni-detach (pid 123 on this host vm, running for 5s) working on eth2 of container 3c8c3e007d60 in
   * /var/run/netns/x"). The real run waits at most ctx.timeoutMs for each.
   */
  gcWaits: { network: string; for: 'gc' | 'add-del'; who: string }[];
  gcErrors: string[];
  /** The user's signal, when it stopped the pass: the records not reached yet stay for the next cni-gc; no CNI GC ran. */
  stoppedBy?: string;
  /** With stoppedBy: the stale ones whose DEL it kept from starting (not failures: left for the next cni-gc). */
  notStarted?: Stale[];
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

/** An ADD or DEL running now (its interface lock held), for messages: what it works on, and who runs it. */
interface Running {
  what: string;
  holder: Busy;
}

/**
 * An ADD or DEL of network running on this host now (gcTurn's test, read only: a stale lock counts for nothing and is
 * left as it is), or undefined: an attachment lock held now (cache.ts heldLocks: a live holder's) that is that
 * network's. A lock file names only a container and an ifname: a held lock is that network's when the cache has a
 * record (result or intent) of that network under it, or none of any network (an attach before its intent; a DEL from
 * a given config; a record that cannot be read): a lock only other networks' records name is left out. A cni-check's
 * lock counts too (it cannot be told from a DEL's).
 */
async function addOrDelOf(cache: ResultCache, network: string): Promise<Running | undefined> {
  const held = await cache.heldLocks();
  if (held.length === 0) return undefined;
  const base = (e: CacheEntry) => lockFile(e.containerId, e.ifName);
  const named = new Map<string, CacheEntry[]>();
  for (const f of await cache.all()) named.set(base(f.entry), [...(named.get(base(f.entry)) ?? []), f.entry]);
  for (const l of held) {
    const entries = named.get(l.file) ?? [];
    if (entries.length > 0 && entries.every((e) => e.networkName !== '' && e.networkName !== network)) continue;
    const e = entries[0];
    const what = e ? `${e.ifName} of container ${e.containerId.slice(0, 12)}${e.netns ? ` in ${e.netns}` : ''}` : `the attachment of ${cache.named(`${cache.dir}/cni-attach/locks/${l.file}`)}`;
    return { what, holder: l.holder };
  }
  return undefined;
}

/** "a cni-attach/cni-detach (pid 123 on this host vm, running for 5s) working on eth2 of container …": addOrDelOf's, for messages. */
function addOrDelName(r: Running, cache: ResultCache): string {
  return `a cni-attach/cni-detach${commandInParens(r.holder, cache.host)} working on ${r.what}`;
}

/**
 * The GC lock of network, taken at a moment when no ADD or DEL of that network runs on this host (SPEC.md "Lifecycle
 * & Ordering": "The runtime must ensure that no _add_ or _delete_ operations are in progress before executing _gc_").
 *
 * The wait for a running ADD or DEL holds NO lock: were the GC lock held while waiting, every attach or detach of the
 * network begun meanwhile would wait behind it (attach.ts untilGcDone) for as long as the slowest ADD already running
 * — a cni-gc waiting for one slow plugin would stall all the others' attaches. So: wait until no interface lock of the
 * network is held (addOrDelOf, looked at every 25 ms to 250 ms: poll); take the GC lock (gcLock; another cni-gc's
 * is waited for); read the interface locks again under it — the read that counts, by the lock order of attach.ts
 * untilGcDone: an ADD/DEL that took its interface lock before this read is seen here, one that takes it after sees
 * the GC lock and waits. One seen here (it began in between) makes gc give the GC lock back and wait again. An ADD or
 * DEL is never kept waiting by a gc that is only waiting; the price is that ADDs following each other without a gap
 * could keep gc from its turn — at most ctx.timeoutMs (the plugin time limit) in all, after which that network's GC is
 * left for a later cni-gc (`busy`), as before.
 *
 * Returns { lock } (the caller releases it) or { busy: why GC of network must not run now: its ADD or DEL still
 * running after the wait, or the user's signal }. Once it waited, one note says so (-v when it begins). Errors:
 * gcLock's (BusyError: another cni-gc's GC outlasted the wait; the cache's errors).
 */
async function gcTurn(ctx: ChainContext, cache: ResultCache, network: string): Promise<{ lock: Lock } | { busy: string }> {
  const began = Date.now();
  const left = (): ChainContext => ({ ...ctx, timeoutMs: Math.max(0, ctx.timeoutMs - (Date.now() - began)) });
  const who = (r: Running) => addOrDelName(r, cache);
  const outwaited = (r: Running) => {
    const sig = ctx.interrupted?.();
    return { busy: sig ? `stopped by ${sig} while waiting for ${who(r)}` : `${who(r)} was still running after ${formatDuration(ctx.timeoutMs)} (the plugin time limit) of waiting, and no CNI GC runs beside an ADD or DEL (CNI spec)` };
  };
  let running: Running | undefined;
  for (;;) {
    const now = await addOrDelOf(cache, network);
    if (now) {
      if (!running) ctx.debug?.(`${who(now)} runs an ADD or DEL of network ${network}: its CNI GC waits until it is done (at most ${formatDuration(ctx.timeoutMs)}, the plugin time limit), holding no lock meanwhile`);
      running = now;
      const done = await poll(left(), async () => {
        const r = await addOrDelOf(cache, network);
        if (!r) return true;
        running = r;
        return undefined;
      });
      if (!done) return outwaited(running);
    }
    const lock = await gcLock(left(), cache, network);
    let again: Running | undefined;
    try {
      again = await addOrDelOf(cache, network);
    } catch (e) {
      await lock.release().catch(() => undefined);
      throw e;
    }
    if (!again) {
      if (running) ctx.note(`waited ${((Date.now() - began) / 1000).toFixed(1)}s for ${who(running)} to finish before CNI GC of network ${network} (no GC runs beside an ADD or DEL)`);
      return { lock };
    }
    // an ADD or DEL took its interface lock between the read above and the GC lock: it saw no GC lock, so it runs; wait
    // for it as for the first, holding nothing
    await lock.release();
    running = again;
    if (Date.now() - began >= ctx.timeoutMs || ctx.interrupted?.()) return outwaited(running);
  }
}

/**
 * Told of each DEL collectGarbage runs, as it begins and as it ends (`freed`: it freed the attachment): what a second
 * signal that quits the command finds done and under way at that moment (cli/gc.ts: its quit report names both).
 */
export interface GcProgress {
  began(s: Stale): void;
  ended(s: Stale, freed: boolean): void;
}

/**
 * Free the stale attachments (DEL through each one's cached chain, then forget it), then CNI GC per network of CNI
 * 1.1.0 (SPEC.md "GC"; libcni GCNetworkList), for the networks of what the caller read from the cache (`seen`, the
 * stale ones among them). A network of an older version gets no GC and so needs none of its plugins: a missing plugin
 * there is no error. `ways(s)` gives the command lines that clear a stale record (retry, forget), named in the error
 * when its DEL fails. `cniGc` false: the DELs alone (cni-gc's second look at what it left busy: cli/gc.ts settleLeft).
 * `progress`: told of each DEL as it begins and ends (GcProgress).
 *
 * A stale one whose lock another cni-attach/cni-detach holds (an attach still in its plugins, a detach in its DEL; on a
 * node reached by commands, a killed command's plugin until its time limit: exec/lock.ts) is left alone (`busy`): its
 * DEL would run beside that command's ADD or DEL (SPEC.md "Lifecycle & Ordering": no parallel operations for one
 * container). With dryRun, the same is said from the lock as it is now, and what each network's GC would wait for
 * first (gcWaits).
 *
 * The valid attachments GC is given (SPEC.md "GC": `cni.dev/valid-attachments`, "the list of **still valid**
 * attachments to this network"; the plugin "may then remove any resources related to attachments that do not exist
 * in this set") are read from the cache again just before GC: every attachment and unfinished attach of that network
 * it holds then (no ADD or DEL of it runs by then: below), but those this run judged stale and could not free. So
 * an attach that was interrupted, one gc left alone because it was busy, one that began or finished since the cache
 * was first read, and one gc could not judge (an unreadable record, a target refused) count as valid.
 *
 * SPEC.md "Lifecycle & Ordering" asks more: "The runtime must exclusively execute either _gc_ or _add_ and _delete_.
 * The runtime must ensure that no _add_ or _delete_ operations are in progress before executing _gc_, and must wait
 * for _gc_ to complete before issuing new _add_ or _delete_ commands." So the GC of each network runs under its GC
 * lock (cache.ts gcLockPath; the interface locks' rules and holder: exec/lock.ts), taken when no ADD or DEL of that
 * network runs (gcTurn: waited for holding no lock, then the interface locks read again under the GC lock; at most
 * the plugin time limit, then that network's GC is skipped, `gcBusy`, for a later cni-gc), held while gc reads the
 * cache for the valid list and until the plugins' GC returned, inside ctx.hold (a signal lets GC return and the lock
 * go). An
 * attach or detach of that network that meets the GC lock gives its interface lock back and waits for it (attach.ts
 * untilGcDone, which gives the lock order and why it leaves no window and no deadlock). gc's own DELs come before,
 * holding no GC lock, and wait for another cni-gc's GC as a detach does. A GC lock another cni-gc holds is waited
 * for as attaches do (at most the plugin time limit; then that network's GC is skipped, in gcErrors). Only this
 * host's cache has GC locks: cni-gc runs CNI GC for no other.
 */
export async function collectGarbage(
  ctx: ChainContext,
  cache: ResultCache,
  stale: Stale[],
  seen: Found[],
  dryRun: boolean,
  ways?: (s: Stale) => WaysOut | undefined,
  cniGc = true,
  progress?: GcProgress,
): Promise<GcOutcome> {
  const out: GcOutcome = { freed: [], failed: [], busy: [], gcNetworks: [], gcBusy: [], gcWaits: [], gcErrors: [] };
  const describe = (s: Stale) => `container ${s.entry.containerId.slice(0, 12)}`;
  for (const [i, s] of stale.entries()) {
    const w = ways?.(s);
    const req: DetachRequest = {
      containerId: s.entry.containerId,
      ifname: s.entry.ifName,
      match: (e) => e.networkName === s.entry.networkName,
      netns: s.netns,
      describe: describe(s),
      by: 'cni-gc',
      ...(w ? { ways: w } : {}),
    };
    if (dryRun) {
      // as the real run would find it (the DEL's own refusals, planRecorded: a lock held now is a command working on
      // it; a record or config that cannot be used, a plugin missing: it could not be freed), running nothing
      try {
        if ((await planRecorded(ctx, cache, req, 'DEL')).length > 0) out.freed.push(s);
      } catch (e) {
        if (e instanceof BusyError) out.busy.push({ stale: s, error: e });
        else out.failed.push({ stale: s, error: e });
      }
      continue;
    }
    // the first Ctrl-C/SIGTERM ends the pass: the DEL it interrupted keeps its record, the rest wait for the next run
    const sig = ctx.interrupted?.();
    if (sig) {
      out.stoppedBy = sig;
      out.notStarted = stale.slice(i);
      return out;
    }
    progress?.began(s);
    let freed = false;
    try {
      const done = await detach(ctx, cache, req);
      freed = done.length > 0;
      if (freed) out.freed.push(s);
    } catch (e) {
      if (e instanceof BusyError) out.busy.push({ stale: s, error: e });
      else out.failed.push({ stale: s, error: e });
    } finally {
      progress?.ended(s, freed);
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
  if (!cniGc) return out;
  const gcs = [...lists].filter(([name, list]) => {
    const skip = !runsGc(list);
    if (skip) ctx.debug?.(`CNI GC skipped for network ${name}: ${list.disableGC ? 'it sets disableGC' : `it uses CNI ${list.cniVersion}; GC came with 1.1.0`}`);
    return !skip;
  });
  if (dryRun) {
    // what the real run's GC of each network would wait for (gcTurn: a running ADD or DEL, then another cni-gc's GC
    // lock), as the locks are now
    for (const [name] of gcs) {
      const r = await addOrDelOf(cache, name).catch(() => undefined);
      if (r) out.gcWaits.push({ network: name, for: 'add-del', who: addOrDelName(r, cache) });
      const gc = await cache.gcHeld(name).catch(() => undefined);
      if (gc) out.gcWaits.push({ network: name, for: 'gc', who: `another cni-gc${commandInParens(gc, cache.host)}` });
    }
    return out;
  }
  if (gcs.length === 0) return out;
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
    const turn = await gcTurn(ctx, cache, name).catch((e: unknown) => e as Error);
    if (turn instanceof Error) {
      out.gcErrors.push(`network ${name}: ${turn.message}`);
      continue;
    }
    if ('busy' in turn) {
      const sig = ctx.interrupted?.();
      if (sig) {
        out.stoppedBy = sig;
        return out;
      }
      out.gcBusy.push({ network: name, why: turn.busy });
      continue;
    }
    const { lock } = turn;
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
