/**
 * One lock algorithm for every executor, over the node-files port: a lock file created exclusively (NodeFiles.
 * createExclusive: O_EXCL here, noclobber on a node reached through sh) holding "<host> <pid> <start>" of the process
 * that took it — the CLI, which always runs on this host, whichever node the lock file is on. A lock is stale, and
 * broken, when its host is this host and its pid no longer runs or runs with another start time (a reused pid); a
 * lock of another host is respected, as nothing here can tell whether its process runs. A lock file without a holder
 * (a process killed between creating and writing it) is stale once it is HALF_WRITTEN_MS old.
 *
 * Breakers are serialised by a second exclusive file, `<lock>.break`, so that two of them cannot both remove a stale
 * lock and one of them remove the other's new one; a breaker left by a killed process goes after BREAKER_STALE_MS.
 */
import type { NodeFiles, ProcessTable } from './types.js';

/** A held lock; release() is idempotent. */
export interface Lock {
  release(): Promise<void>;
}

/** The process that takes locks (this CLI), and the process table of its host, to tell whether a holder still runs. */
export interface LockOwner extends ProcessTable {
  /** This host's name, as written in lock files. */
  readonly host: string;
  readonly pid: number;
  /** This process's start time (as ProcessTable.startOf gives it); undefined where it cannot be told. */
  start(): Promise<string | undefined>;
}

export type LockFiles = Pick<NodeFiles, 'createExclusive' | 'readFile' | 'removeFile' | 'ageMs'>;

export const HALF_WRITTEN_MS = 2000;
export const BREAKER_STALE_MS = 10_000;

export interface Holder {
  host: string;
  pid: number;
  /** Absent in locks written by cni-attach before this format, on a node reached through sh ("<host> <pid>"). */
  start?: string;
}

/**
 * The holder a lock file names: "<host> <pid> <start>". Also the formats cni-attach wrote before, so that a lock of
 * an older version is judged, not broken blindly: "<pid> <start>" (this host's own cache) and "<host> <pid>" (a node
 * reached through sh). Undefined for anything else (empty: being written, or its writer died).
 */
export function parseHolder(text: string, thisHost: string): Holder | undefined {
  const f = text.trim().split(/\s+/);
  const pidOf = (s: string | undefined) => (s !== undefined && /^[1-9]\d*$/.test(s) ? Number(s) : undefined);
  if (f.length === 3 && pidOf(f[1]) !== undefined) return { host: f[0]!, pid: pidOf(f[1])!, start: f[2]! };
  if (f.length === 2 && pidOf(f[0]) !== undefined) return { host: thisHost, pid: pidOf(f[0])!, start: f[1]! };
  if (f.length === 2 && pidOf(f[1]) !== undefined) return { host: f[0]!, pid: pidOf(f[1])! };
  return undefined;
}

/** Take the lock at path without waiting; undefined when a live process holds it. Stale locks are broken (see above). */
export async function tryLock(files: LockFiles, path: string, owner: LockOwner): Promise<Lock | undefined> {
  const start = await owner.start();
  const me = `${owner.host} ${owner.pid}${start !== undefined ? ` ${start}` : ''}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (await files.createExclusive(path, me, 0o600)) {
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          await files.removeFile(path);
        },
      };
    }
    if (!(await breakIfStale(files, path, owner))) return undefined;
  }
  return undefined;
}

async function isStale(files: LockFiles, path: string, text: string, owner: LockOwner): Promise<boolean> {
  const holder = parseHolder(text, owner.host);
  if (!holder) {
    const age = await files.ageMs(path);
    return age === undefined || age >= HALF_WRITTEN_MS;
  }
  if (holder.host !== owner.host) return false;
  const now = await owner.startOf(holder.pid);
  return now === undefined || (holder.start !== undefined && now !== holder.start);
}

/**
 * Why the lock at path is stale (its holder is gone: "its holder, pid 123, is gone"; no holder written and older than
 * HALF_WRITTEN_MS), or undefined when it is held, of another host, being written, or gone. For cni-list and cni-gc.
 */
export async function whyStale(files: LockFiles, path: string, owner: LockOwner): Promise<string | undefined> {
  const text = await files.readFile(path);
  if (text === undefined || !(await isStale(files, path, text, owner))) return undefined;
  const holder = parseHolder(text, owner.host);
  if (!holder) return text.trim() === '' ? 'the lock file is empty (its holder died, or could not write its pid)' : 'the lock file names no holder';
  return `its holder, pid ${holder.pid}, is gone`;
}

/** Remove the lock at path if its holder is gone; true when it is gone (removed here, or released meanwhile). */
async function breakIfStale(files: LockFiles, path: string, owner: LockOwner): Promise<boolean> {
  const text = await files.readFile(path);
  if (text === undefined) return true;
  if (!(await isStale(files, path, text, owner))) return false;
  const breaker = `${path}.break`;
  if (!(await files.createExclusive(breaker, '', 0o600))) {
    const age = await files.ageMs(breaker);
    if (age !== undefined && age > BREAKER_STALE_MS) await files.removeFile(breaker);
    return false;
  }
  try {
    if ((await files.readFile(path)) === text) await files.removeFile(path);
    return true;
  } finally {
    await files.removeFile(breaker);
  }
}
