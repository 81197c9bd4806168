/**
 * The node executor ports: everything the engine needs from "the machine where the plugins run", as small interfaces.
 * A node *is* a command runner (libcni's invoke.Exec, kind's Cmder); its files are a port of their own; what only
 * this host can tell cheaply (owners, inodes, processes) is an optional extra. Adapters: local.ts (this host),
 * docker-exec.ts (a node container), kube-exec.ts (a node through an agent pod). The engine never touches the OS
 * except through these.
 */

export interface RunOptions {
  /** The complete environment of the child (nothing is inherited beyond it). */
  env?: Record<string, string>;
  /** Written to the child's stdin, then stdin is closed. */
  stdin?: string;
  /** Kill the child and every process it started after this many milliseconds. */
  timeoutMs?: number;
  /**
   * The command as messages name it ("running /opt/cni/bin/bridge on node a: …") when argv wraps it (a batching
   * executor's sh, exec/batch.ts); argv[0] when absent. An executor that wraps argv itself (`timeout` for the limit)
   * names argv[0] all the same, never its wrapper.
   */
  what?: string;
  /**
   * sh run on the node before the command, in the shell that then execs it (a batching executor's steps, exec/batch.ts),
   * so that they cost no sh process of their own on a node session. See Prelude. Only executors that reach a node by
   * commands (exec/shell.ts's) take it; with it, argv may be empty (the prelude alone runs).
   */
  prelude?: Prelude;
}

/**
 * sh statements run before a command (RunOptions.prelude), with `args` as $1…$n and `$t` naming a directory of
 * temporary files that the runner made and removes (a node session's own: requests there run one at a time). They are
 * the body of a function in the runner's shell — a node session's own long-lived shell — and end by falling off their
 * end, and the command then runs (exec'd in a subshell, with exactly its environment: theirs is the runner's), or by
 * `return N` with N ≠ 0, and it does not. So they must leave that shell as they found it (the working directory, the
 * umask, its options, traps; a variable is the session's until a later request sets it again): what changes it runs
 * in a subshell of its own, or puts it back. Their stdout comes before the command's. They must not read stdin (it
 * is the command's).
 */
export interface Prelude {
  script: string;
  args: string[];
  /**
   * Its stdout is its steps' frames and nothing else (no step prints a file or a command's output: exec/batch.ts
   * framesOnly), a few lines of the tool's own: a node session sends it, when it runs no command, straight to its
   * output, without the capped read (`head -c`, a process) that an output nobody bounds needs (exec/node-session.ts P).
   */
  framesOnly?: boolean;
}

/**
 * What a command may print on stdout or stderr (a plugin's real result is a few KiB): past it the output is cut off
 * there and RunResult.outputLimit says so. The same on every executor: this host, a node session, an exec of its own.
 */
export const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/**
 * The chunks of one output as they come, keeping at most `limit` bytes and one more (so that an output past the
 * limit is told from one exactly at it) and dropping the rest: a command that prints gigabytes costs its reader no
 * more memory than the limit (a node's output arrives through a stream the CLI reads to its end).
 */
export class OutputBuffer {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  constructor(private readonly limit = MAX_OUTPUT_BYTES) {}
  push(c: Buffer): void {
    const room = this.limit + 1 - this.kept;
    if (room <= 0) return;
    const part = c.length > room ? c.subarray(0, room) : c;
    this.chunks.push(part);
    this.kept += part.length;
  }
  /** The output as text (at most limit + 1 bytes of it). */
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/**
 * An output cut to `limit` bytes when it is longer (then `over`): for a result whose outputs came whole or as an
 * OutputBuffer kept them.
 */
export function capOutput(text: string, limit = MAX_OUTPUT_BYTES): { text: string; over: boolean } {
  if (text.length <= limit / 4 || Buffer.byteLength(text) <= limit) return { text, over: false };
  return { text: Buffer.from(text, 'utf8').subarray(0, limit).toString('utf8'), over: true };
}

export interface RunResult {
  /** Exit code, or null when the process was killed by a signal. */
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  /** True when the process was killed because it ran past timeoutMs. */
  timedOut: boolean;
  /**
   * The limit the run was given when it is not timeoutMs (ms): a node whose timeout(1) counts whole seconds
   * (busybox's) is given a limit that is not whole seconds rounded up to them (exec/shell.ts nodeTimeout). Absent when
   * the run had the limit asked for.
   */
  limitMs?: number;
  /** The user's signal (SIGINT, SIGTERM…) when the run was stopped because the command was interrupted. */
  interrupted?: string;
  /** Set (to the limit, in bytes) when the process printed more than that on stdout or stderr: it was cut off there. */
  outputLimit?: number;
  /**
   * True when the process was gone but something it started in another session or process group (`setsid cmd &`)
   * still held its stdout or stderr: the run stopped waiting for it (that process may still run).
   */
  pipesHeld?: boolean;
  /**
   * A batching executor's answer from an earlier round trip's read-ahead (exec/batch.ts ReadAhead.runs): this run made
   * no request of its own. For -v=6's lines (exec/traced.ts).
   */
  answeredAhead?: true;
  /** How many of a batching executor's queued steps (writes, removals, checks) rode in this run's round trip, before it. */
  stepsBefore?: number;
}

/** Run commands on a node. */
export interface CommandRunner {
  /** Where commands run, for messages: "this host", "node container kind-worker", … */
  readonly where: string;
  /**
   * The node, when it is not this host ("node node-c", "node container kind-worker"), for messages that name a path
   * of it: a path read as this host's would send the user to the wrong machine. Absent on this host.
   */
  readonly elsewhere?: string;
  /** The environment plugins inherit (PATH and friends), before CNI_* variables are added. */
  baseEnv(): Record<string, string>;
  /** Run argv[0] (an absolute path or a name on PATH) with argv[1..]. Never throws for a non-zero exit. */
  run(argv: string[], opts?: RunOptions): Promise<RunResult>;
}

/** Whether `elsewhere` (CommandRunner.elsewhere: "node node-a", "node container kind-worker") is the node named `node`. */
export function isNode(elsewhere: string | undefined, node: string): boolean {
  return elsewhere === `node ${node}` || elsewhere === `node container ${node}`;
}

/**
 * Where a path of exec's node is, for a message that names one: "" on this host (its paths read as they are),
 * " on node node-c" or " in node container kind-worker" on a node reached by commands (see CommandRunner.elsewhere).
 */
export function onNode(exec: Pick<CommandRunner, 'elsewhere'>): string {
  if (exec.elsewhere === undefined) return '';
  return exec.elsewhere.startsWith('node container ') ? ` in ${exec.elsewhere}` : ` on ${exec.elsewhere}`;
}

/**
 * Where exec runs commands, after what is there, without a bracket around it (the where of an agent has its own):
 * " on this host", " in node container kind-worker", " on node node-c (through agent pod kube-system/cni-attach-agent-x)".
 */
export function onWhere(exec: Pick<CommandRunner, 'where'>): string {
  return exec.where.startsWith('node container ') ? ` in ${exec.where}` : ` on ${exec.where}`;
}

export type PathKind = 'missing' | 'netns' | 'other';

/** Files on a node. Errors are thrown as the node reports them (errno codes where it has them). */
export interface NodeFiles {
  /**
   * File contents, or undefined when the file does not exist. A path that is not a regular file (a FIFO, a device)
   * may be refused with an error of code EFTYPE (this host's executor does: reading a FIFO could wait for ever).
   */
  readFile(path: string): Promise<string | undefined>;
  /** Write via a temp file in the same directory + rename, creating parent directories (0700). */
  writeFileAtomic(path: string, data: string, mode?: number): Promise<void>;
  /**
   * Create path holding data only if nothing is there (O_EXCL; noclobber on a node reached through sh), creating
   * parent directories (0700). False when path exists. What exec/lock.ts builds its locks on.
   */
  createExclusive(path: string, data: string, mode?: number): Promise<boolean>;
  /** Milliseconds since path was last modified (on the node's clock), or undefined when it does not exist. */
  ageMs(path: string): Promise<number | undefined>;
  /**
   * Remove a file; a missing file is not an error. Resolves with nothing once it is gone — or, on an executor that
   * only queues the removal for a later round trip (exec/batch.ts BatchingExecutor), with 'queued', and then calls
   * `gone` once a round trip that carried it answered that it ran (what a lock's release waits for before it stops
   * counting the lock as held on the node: exec/lock.ts, exec/interrupt.ts trackLimitedLock).
   */
  removeFile(path: string, gone?: () => void): Promise<void | 'queued'>;
  /**
   * Names in a directory; [] when it does not exist. With `suffix` (and `prefix`), only the names ending in it (and
   * beginning with prefix) are asked for (an executor may still return others: the caller filters): a batching
   * executor can answer that from what it read ahead, and, under a lock it is taking, check only those names again.
   */
  listDir(path: string, suffix?: string, prefix?: string): Promise<string[]>;
  /** True when path is a regular file this process may execute. */
  isExecutable(path: string): Promise<boolean>;
  /**
   * Why plugins in these directories must not be run (exec/trust.ts judgePluginDirs: a directory of one of these
   * paths, or an executable in one of them, that someone other than root or the user the plugins run as may change),
   * or undefined when they may. Asked of a CNI path the user did not give (a record's).
   */
  untrustedPluginDirs(dirs: string[]): Promise<string | undefined>;
  /** Whether path exists and is a network namespace (an nsfs file). */
  pathKind(path: string): Promise<PathKind>;
}

/** Whether a process runs: its start time (clock ticks since boot, /proc/PID/stat field 22), or undefined when none runs. */
export interface ProcessTable {
  startOf(pid: number): Promise<string | undefined>;
}

/**
 * What can be told cheaply only where the files are this host's own (absent for a node reached by commands, where
 * each answer would be another round trip).
 */
export interface HostIdentity extends ProcessTable {
  /**
   * Why a directory this tool keeps state in must not be trusted (owned by neither root nor this user, or writable by
   * group or others), or undefined when it is fine or does not exist yet.
   */
  untrustedDir(path: string): Promise<string | undefined>;
  /** An identity of the network namespace at path (device and inode), to compare two paths; undefined when missing. */
  netnsId(path: string): Promise<string | undefined>;
  /**
   * An identity of the file at path that changes whenever the file is replaced or modified (device, inode, size,
   * mtime, ctime), or undefined when the file is missing.
   */
  fileId(path: string): Promise<string | undefined>;
}

/** A node: a command runner with its files, and, on this host, what this host can tell of them. */
export interface Executor extends CommandRunner, NodeFiles {
  readonly identity?: HostIdentity;
}
