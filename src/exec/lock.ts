/**
 * One lock algorithm for every executor, over the node-files port: a lock file created exclusively (NodeFiles.
 * createExclusive: O_EXCL here, noclobber on a node reached through sh) holding "<host> <pid> <start>" of the process
 * that took it — the CLI, which always runs on this host, whichever node the lock file is on. A lock is stale, and
 * broken, when its host is this host and its pid no longer runs or runs with another start time (a reused pid); a
 * lock of another host is respected, as nothing here can tell whether its process runs (unless the user says it is
 * gone: LockOwner.othersGone, cni-detach --force; then a lock with a time limit is judged as this host's). A lock file without a holder
 * (a process killed between creating and writing it) is stale once it is HALF_WRITTEN_MS old.
 *
 * A lock taken for work on a node reached by commands (docker exec, pods/exec) also holds a time limit,
 * "<host> <pid> <start> limit=<seconds>s": the locked work runs there in processes of the node that outlive the CLI
 * (a plugin run goes on until its `timeout -s KILL` ends it, whatever became of the command that started it), so such
 * a lock is stale only when its holder is gone AND the limit has passed since the lock file last changed, on the
 * node's clock (NodeFiles.ageMs: no skew between this host's clock and the node's). The holder renews it (Lock.renew:
 * the file rewritten) before each plugin run it starts under the lock, so the limit is one run's: the plugin time
 * limit plus LOCK_GRACE_MS. Older cni-attach versions read such a lock as one without a holder.
 *
 * Breakers are serialised by a second exclusive file, `<lock>.break`, so that two of them cannot both remove a stale
 * lock and one of them remove the other's new one; a breaker left by a killed process goes after BREAKER_STALE_MS.
 */
import type { NodeFiles, ProcessTable } from './types.js';
import { runningFor } from '../duration.js';
import { trackLimitedLock } from './interrupt.js';

/** A held lock; release() is idempotent. */
export interface Lock {
  release(): Promise<void>;
  /**
   * Before a plugin run under the lock: a lock with a time limit (see the file comment) is rewritten, so that its limit
   * counts from now (not again within RENEW_MIN_MS of the last time: the run that follows at once is covered by the
   * grace). `limitMs`: the time limit of that run, when it is not the one the lock was taken with (a rollback's DEL,
   * whose limit is its own: cni/chain.ts rollbackTimeoutMs): the lock then holds it, written at once, so that a command
   * killed during that run leaves a lock respected as long as the run may go on. Nothing for a lock without one.
   */
  renew(limitMs?: number): Promise<void>;
}

/**
 * A command as a lock file or a write-ahead record names it ({host, pid, start}: exec/lock.ts Holder, resolve/records.ts
 * RecordedCommand), for messages: "pid 1234 on host laptop-2" — "on this host laptop-2" when it is `here` (this host's
 * name: exec/host.ts), and ", running for 3m12s" where how long it has run is known (`runningForMs`: a live command of
 * this host, Busy.runningForMs). Its start time (clock ticks after its host booted, /proc/PID/stat field 22) is an
 * identity detail — it tells a reused pid from the one meant — and is never printed: a tick count means nothing to a
 * reader. The host is where the command ran (the CLI's host, os.hostname()), not the node whose lock or record it is: a
 * pid is only ever looked for there. undefined without a pid (a lock file that names none). `short`: without how long
 * (a table's brief column).
 */
export function commandName(c: { host?: string; pid?: number; runningForMs?: number }, here: string, short = false): string | undefined {
  if (c.pid === undefined) return undefined;
  const host = c.host === undefined ? '' : c.host === here ? ` on this host ${c.host}` : ` on host ${c.host}`;
  return `pid ${c.pid}${host}${c.runningForMs !== undefined && !short ? `, running for ${runningFor(c.runningForMs)}` : ''}`;
}

/** How long a command has run, to the second ("0s", "42s", "3m12s", "2h5m"): errors.ts runningFor. */
export { runningFor };

/** " (pid 1234 on host laptop-2, started …)" for a command named (commandName), else ''. */
export function commandInParens(c: { host?: string; pid?: number; runningForMs?: number }, here: string, short = false): string {
  const n = commandName(c, here, short);
  return n === undefined ? '' : ` (${n})`;
}

/** Why a lock could not be taken: its holder lives (or is of another host, or is writing it), or has not run out. */
export interface Busy {
  /** Set when its holder is gone but its time limit has not passed: how long until it has (ms, on the node's clock). */
  freeInMs?: number;
  /**
   * When the lock's age was read (ms since the epoch, this host's clock): freeInMs and changedAgoMs count from then
   * (errors.ts sinceRead, freeInSecs), not from when a message is made.
   */
  readAt?: number;
  /** The holder's pid, when the lock names one. */
  pid?: number;
  /** The holder's host (where its command ran: the CLI's, not the lock's node) and start time, when the lock names them. */
  host?: string;
  start?: string;
  /**
   * How long the holder has run (ms), where that can be told: a live holder of this host (LockOwner.runningForMs). For
   * messages only (commandName): the holder's identity stays host, pid and start.
   */
  runningForMs?: number;
  /** The time limit the lock holds for its work on the node (seconds since it last changed), when it holds one. */
  limitS?: number;
  /**
   * How long ago the lock last changed (ms, on the node's clock: NodeFiles.ageMs), read for another host's lock with a
   * time limit that is respected (not LockOwner.othersGone): when that limit passed or passes (errors.ts
   * foreignLimitWhen), for the messages that name the way out of it (foreignLockWayOut).
   */
  changedAgoMs?: number;
}

/** The process that takes locks (this CLI), and the process table of its host, to tell whether a holder still runs. */
export interface LockOwner extends ProcessTable {
  /** This host's name, as written in lock files. */
  readonly host: string;
  readonly pid: number;
  /** This process's start time (as ProcessTable.startOf gives it); undefined where it cannot be told. */
  start(): Promise<string | undefined>;
  /**
   * How long ago (ms) a process of this host that began at `start` (as startOf gives it: clock ticks after boot) began,
   * or undefined where it cannot be told. For messages only (Busy.runningForMs).
   */
  runningForMs?(start: string): Promise<number | undefined>;
  /**
   * The user's word that the commands of other hosts holding the locks this process meets are gone (cni-detach
   * --force): nothing here can see another host's processes, so without it such a lock is respected for ever. With
   * it, a lock of another host that holds a time limit (work on a node reached by commands) is judged as one of this
   * host whose holder is gone: stale once that limit has passed since it last changed, busy (with freeInMs) until
   * then — what its command started on the node may still run. A lock of another host that holds no limit (an older
   * version's, or work on that host itself) stays respected.
   */
  othersGone?: boolean;
}

export type LockFiles = Pick<NodeFiles, 'createExclusive' | 'readFile' | 'removeFile' | 'ageMs' | 'writeFileAtomic'>;

export const HALF_WRITTEN_MS = 2000;
export const BREAKER_STALE_MS = 10_000;
/**
 * Added to the plugin time limit in a lock's limit: a run starts on the node a little after the lock was renewed (the
 * command's way there), and SIGKILL and the exit take a moment.
 */
export const LOCK_GRACE_MS = 10_000;
const RENEW_MIN_MS = 1000;

export interface Holder {
  host: string;
  pid: number;
  /** Absent in locks written by cni-attach before this format, on a node reached through sh ("<host> <pid>"). */
  start?: string;
  /** The time limit of the locked work on its node, in seconds since the lock file last changed (see the file comment). */
  limitS?: number;
}

/**
 * The holder a lock file names: "<host> <pid> <start>", with " limit=<seconds>s" on a node reached by commands. Also the formats cni-attach wrote before, so that a lock of
 * an older version is judged, not broken blindly: "<pid> <start>" (this host's own cache) and "<host> <pid>" (a node
 * reached through sh). Undefined for anything else (empty: being written, or its writer died).
 */
export function parseHolder(text: string, thisHost: string): Holder | undefined {
  const f = text.trim().split(/\s+/);
  const pidOf = (s: string | undefined) => (s !== undefined && /^[1-9]\d*$/.test(s) ? Number(s) : undefined);
  const limit = /^limit=(\d{1,9})s$/.exec(f[3] ?? '');
  if (f.length === 4 && pidOf(f[1]) !== undefined && limit) return { host: f[0]!, pid: pidOf(f[1])!, start: f[2]!, limitS: Number(limit[1]) };
  if (f.length === 3 && pidOf(f[1]) !== undefined) return { host: f[0]!, pid: pidOf(f[1])!, start: f[2]! };
  if (f.length === 2 && pidOf(f[0]) !== undefined) return { host: thisHost, pid: pidOf(f[0])!, start: f[1]! };
  if (f.length === 2 && pidOf(f[1]) !== undefined) return { host: f[0]!, pid: pidOf(f[1])! };
  return undefined;
}

/**
 * Take the lock at path without waiting; { busy } when it is held (see Busy). Stale locks are broken (see above).
 * workLimitMs: the time limit of one run of the locked work on a node reached by commands (the plugin time limit),
 * recorded in the lock with LOCK_GRACE_MS added; absent for work on this host. `where`: that node, as its executor
 * names it (CommandRunner.elsewhere), for what a quit says of the locks it leaves held (exec/interrupt.ts).
 */
export async function takeLock(files: LockFiles, path: string, owner: LockOwner, opts: { workLimitMs?: number; where?: string } = {}): Promise<{ lock: Lock } | { busy: Busy }> {
  const start = await owner.start();
  const limited = opts.workLimitMs !== undefined && start !== undefined;
  let workLimitMs = opts.workLimitMs ?? 0;
  const line = () => `${owner.host} ${owner.pid}${start !== undefined ? ` ${start}${limited ? ` limit=${Math.ceil((workLimitMs + LOCK_GRACE_MS) / 1000)}s` : ''}` : ''}\n`;
  const me = line();
  let busy: Busy = {};
  for (let attempt = 0; attempt < 2; attempt++) {
    if (await files.createExclusive(path, me, 0o600)) {
      let released = false;
      let renewed = Date.now();
      // what a quit leaves running on that node may hold it until its limit has passed (exec/interrupt.ts)
      const tracked = limited ? trackLimitedLock(renewed + workLimitMs + LOCK_GRACE_MS, opts.where) : undefined;
      return {
        lock: {
          release: async () => {
            if (released) return;
            released = true;
            // a batching executor only queues the removal: the lock stays on the node, and counted as held (what a
            // quit says, exec/interrupt.ts), until the round trip that carries it ran (tryout 16: a quit then left
            // locks on nodes it did not name)
            if ((await files.removeFile(path, () => tracked?.release())) !== 'queued') tracked?.release();
          },
          renew: async (limitMs?: number) => {
            if (released || !limited) return;
            // a run of another limit (a rollback's DEL: cni/chain.ts rollbackTimeoutMs) is written at once
            const other = limitMs !== undefined && limitMs !== workLimitMs;
            if (!other && Date.now() - renewed < RENEW_MIN_MS) return;
            if (limitMs !== undefined) workLimitMs = limitMs;
            renewed = Date.now();
            // (said before the write, for a quit during it, which may find the new limit written; and again once it
            // was written: the node's clock counts from then, so the moment said is never before it)
            tracked?.renewed(renewed + workLimitMs + LOCK_GRACE_MS);
            await files.writeFileAtomic(path, line(), 0o600);
            tracked?.renewed(Date.now() + workLimitMs + LOCK_GRACE_MS);
          },
        },
      };
    }
    const held = await breakIfStale(files, path, owner);
    if (held === undefined) continue;
    busy = held;
    break;
  }
  return { busy };
}

/** Take the lock at path without waiting; undefined when it is held (takeLock says more). */
export async function tryLock(files: LockFiles, path: string, owner: LockOwner, opts: { workLimitMs?: number } = {}): Promise<Lock | undefined> {
  const r = await takeLock(files, path, owner, opts);
  return 'lock' in r ? r.lock : undefined;
}

/** Whether the lock holding text is stale; when it is not, what Busy says of it. */
async function judge(files: LockFiles, path: string, text: string, owner: LockOwner): Promise<{ stale: true } | { stale: false; busy: Busy }> {
  const holder = parseHolder(text, owner.host);
  if (!holder) {
    const age = await files.ageMs(path);
    return age === undefined || age >= HALF_WRITTEN_MS ? { stale: true } : { stale: false, busy: {} };
  }
  const named: Busy = { pid: holder.pid, host: holder.host, ...(holder.start !== undefined ? { start: holder.start } : {}), ...(holder.limitS !== undefined ? { limitS: holder.limitS } : {}) };
  const held = { stale: false as const, busy: named };
  if (holder.host !== owner.host) {
    // another host's: respected, unless the user says its command is gone and the lock bounds what that started
    if (holder.limitS === undefined) return held;
    if (!owner.othersGone) {
      // (its age: when its limit passed or passes, for the way out that messages name)
      const age = await files.ageMs(path);
      return age === undefined ? held : { stale: false, busy: { ...named, changedAgoMs: age, readAt: Date.now() } };
    }
  } else {
    const now = await owner.startOf(holder.pid);
    const gone = now === undefined || (holder.start !== undefined && now !== holder.start);
    if (!gone) {
      // alive, and of this host: how long it has run is known here (its start, and this host's uptime)
      const ran = holder.start !== undefined ? await owner.runningForMs?.(holder.start) : undefined;
      return ran === undefined ? held : { stale: false, busy: { ...named, runningForMs: ran } };
    }
  }
  if (holder.limitS === undefined) return { stale: true };
  // its holder is gone, but what it started on the node may run until its limit has passed since the last renewal
  const age = await files.ageMs(path);
  if (age === undefined || age >= holder.limitS * 1000) return { stale: true };
  return { stale: false, busy: { ...named, freeInMs: holder.limitS * 1000 - age, readAt: Date.now() } };
}

/** Whether the lock at path is held now (undefined: free, or stale), and what Busy says of it. For a dry run. */
export async function heldNow(files: LockFiles, path: string, owner: LockOwner): Promise<Busy | undefined> {
  const text = await files.readFile(path);
  if (text === undefined) return undefined;
  const j = await judge(files, path, text, owner);
  return j.stale ? undefined : j.busy;
}

/**
 * What holds the lock at path now (Busy), a stale one broken first as takeLock breaks it (see the file comment);
 * undefined when it is free. For a lock that is waited for but never taken by the one waiting (an attach waiting for
 * cni-gc's GC lock: cni/attach.ts untilGcDone).
 */
export async function holderNow(files: LockFiles, path: string, owner: LockOwner): Promise<Busy | undefined> {
  return breakIfStale(files, path, owner);
}

/**
 * Why the lock at path is stale (its holder is gone: "its holder, pid 123, is gone"; no holder written and older than
 * HALF_WRITTEN_MS), or undefined when it is held, of another host, being written, or gone. For cni-list and cni-gc.
 */
export async function whyStale(files: LockFiles, path: string, owner: LockOwner): Promise<string | undefined> {
  const text = await files.readFile(path);
  if (text === undefined || !(await judge(files, path, text, owner)).stale) return undefined;
  const holder = parseHolder(text, owner.host);
  if (!holder) return text.trim() === '' ? 'the lock file is empty (its holder died, or could not write its pid)' : 'the lock file names no holder';
  return `its holder, ${commandName(holder, owner.host)}, is gone${holder.limitS !== undefined ? `, and its time limit on the node (${holder.limitS}s) has passed` : ''}`;
}

/**
 * Remove the lock at path if it is stale: undefined when it is gone (removed here, or released meanwhile), else what
 * holds it (Busy; also while another process is breaking it).
 */
async function breakIfStale(files: LockFiles, path: string, owner: LockOwner): Promise<Busy | undefined> {
  const text = await files.readFile(path);
  if (text === undefined) return undefined;
  const j = await judge(files, path, text, owner);
  if (!j.stale) return j.busy;
  const breaker = `${path}.break`;
  if (!(await files.createExclusive(breaker, '', 0o600))) {
    const age = await files.ageMs(breaker);
    if (age !== undefined && age > BREAKER_STALE_MS) await files.removeFile(breaker);
    return {};
  }
  try {
    if ((await files.readFile(path)) === text) await files.removeFile(path);
    return undefined;
  } finally {
    await files.removeFile(breaker);
  }
}
