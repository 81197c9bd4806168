/**
 * The node executor port: everything the engine needs from "the machine where the plugins run".
 * One implementation runs here (local.ts); later ones run inside a kind node container or an agent pod.
 * The engine never touches the OS except through this interface.
 */

export interface RunOptions {
  /** The complete environment of the child (nothing is inherited beyond it). */
  env?: Record<string, string>;
  /** Written to the child's stdin, then stdin is closed. */
  stdin?: string;
  /** Kill the child and every process it started after this many milliseconds. */
  timeoutMs?: number;
}

export interface RunResult {
  /** Exit code, or null when the process was killed by a signal. */
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  /** True when the process was killed because it ran past timeoutMs. */
  timedOut: boolean;
}

/** A held lock; release() is idempotent. */
export interface Lock {
  release(): Promise<void>;
}

export type PathKind = 'missing' | 'netns' | 'other';

export interface Executor {
  /** Where commands run, for messages: "this host", "node container kind-worker", … */
  readonly where: string;
  /** The environment plugins inherit (PATH and friends), before CNI_* variables are added. */
  baseEnv(): Record<string, string>;
  /** Run argv[0] (an absolute path or a name on PATH) with argv[1..]. Never throws for a non-zero exit. */
  run(argv: string[], opts?: RunOptions): Promise<RunResult>;
  /** File contents, or undefined when the file does not exist. */
  readFile(path: string): Promise<string | undefined>;
  /** Write via a temp file in the same directory + rename, creating parent directories (0700). */
  writeFileAtomic(path: string, data: string, mode?: number): Promise<void>;
  /** Remove a file; a missing file is not an error. */
  removeFile(path: string): Promise<void>;
  /** Names in a directory; [] when it does not exist. */
  listDir(path: string): Promise<string[]>;
  /** True when path is a regular file this process may execute. */
  isExecutable(path: string): Promise<boolean>;
  /** Whether path exists and is a network namespace (an nsfs file). */
  pathKind(path: string): Promise<PathKind>;
  /**
   * Why a directory this tool keeps state in must not be trusted (owned by another user, or writable by group or
   * others), or undefined when it is fine or does not exist yet. Absent where it cannot be told.
   */
  untrustedDir?(path: string): Promise<string | undefined>;
  /** An identity of the network namespace at path (device and inode), to compare two paths; absent where it cannot tell. */
  netnsId?(path: string): Promise<string | undefined>;
  /**
   * An identity of the file at path that changes whenever the file is replaced or modified (device, inode, size,
   * mtime, ctime), or undefined when it cannot be told cheaply (a remote node) or the file is missing.
   */
  fileId?(path: string): Promise<string | undefined>;
  /** Whether a process of this pid runs where this executor runs; absent when it cannot tell (a remote node). */
  processAlive?(pid: number): boolean;
  /** Take an exclusive lock without waiting; undefined when someone else holds it. Stale locks of dead processes are broken. */
  tryLock(path: string): Promise<Lock | undefined>;
}
