/**
 * Executors that reach a node only by running commands there (a node container through the Docker exec API, a node
 * through an agent pod's exec): files are read and written with sh, cat and mv on the node. Subclasses give run().
 */
import { randomBytes } from 'node:crypto';
import { capOutput, type Executor, MAX_OUTPUT_BYTES, type PathKind, type RunOptions, type RunResult } from './types.js';
import { onInterrupt } from './interrupt.js';
import { judgePluginDirs, parseTrust, trustKey, trustShell } from './trust.js';
import type { SessionCommand } from './node-session.js';
import { decimalSeconds } from '../duration.js';

export const NODE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The environment variable that marks every process of one run on a node (inherited by what the command starts, in
 * whatever process group or session it moves to): what the user's signal kills there. See StoppableRun.
 */
export const RUN_MARK = 'KUBECTL_CNI_ATTACH_RUN';

/**
 * Kill every process whose environment holds `RUN_MARK=$1`, and the process group of each such process that leads
 * one, until none is left (at most 10 rounds: a process may be forking when its parent is killed). The groups catch
 * what a marked process started with an environment of its own (`env -i`, a plugin's clean exec) and so without the
 * mark: GNU timeout, which wraps every run with a limit, makes its own process group (it runs the command in the
 * background, coreutils timeout.c `setpgid (0, 0)`), so everything the run started stays in a group led by a marked
 * process unless it moved out (setsid, setpgid: those keep the mark unless they also cleared the environment). A group
 * led by an unmarked process (the session loop's) is never signalled. One GNU grep over every /proc/PID/environ per
 * round where grep has -z; else (busybox) tr and grep per process; the group from /proc/PID/stat by sh's read, and
 * signalled as `kill -KILL -PGID` (the one form dash, busybox and bash all take: dash refuses `--` after -KILL, busybox
 * after `-s KILL`). Needs sh, grep, kill (and tr).
 */
export const KILL_MARKED = `m="${RUN_MARK}=$1"
marked() {
  if printf 'a\\000' | grep -qzx a 2>/dev/null; then
    for f in $(grep -lzxF "$m" /proc/[0-9]*/environ 2>/dev/null); do f=\${f#/proc/}; echo "\${f%/environ}"; done
  else
    for d in /proc/[0-9]*; do tr '\\000' '\\n' < "$d/environ" 2>/dev/null | grep -qxF "$m" && echo "\${d#/proc/}"; done
  fi
}
leaders() {
  for x in "$@"; do
    read -r l 2>/dev/null < "/proc/$x/stat" || continue
    set -- \${l##*) }
    [ "$3" != "$x" ] || printf ' -%s' "$x"
  done
}
for round in 1 2 3 4 5 6 7 8 9 10; do
  p=$(marked); [ -z "$p" ] && exit 0
  g=$(leaders $p)
  [ -z "$g" ] || kill -KILL $g 2>/dev/null
  kill -KILL $p 2>/dev/null
done`;

/** How often, and how long apart, the kill is tried before the run is no longer waited for (5 × 1 s). */
const STOP_TRIES = 5;
const STOP_WAIT_MS = 1000;

/**
 * One run on a node reached by commands, which the user's signal must stop there: neither the Docker exec API nor
 * pods/exec can signal what they started, and a pid they report is not this host's. Its `mark` goes into the run's
 * environment. On a signal that comes while it runs (a rollback run after the signal is left alone), `kill(argv)`
 * runs a command on the node that kills every marked process, again each second until the run ended (see track);
 * `stopped` resolves with the signal, `gaveUp` when the run still had not ended after 5 tries. release() when done.
 */
export class StoppableRun {
  readonly id = randomBytes(12).toString('hex');
  readonly mark = `${RUN_MARK}=${this.id}`;
  stoppedBy: string | undefined;
  readonly stopped: Promise<string>;
  readonly gaveUp: Promise<undefined>;
  private ended = false;
  private finished: Promise<unknown> = new Promise(() => undefined);
  readonly release: () => void;

  constructor(kill: (argv: string[]) => Promise<unknown>) {
    let signalled: (sig: string) => void = () => undefined;
    this.stopped = new Promise((r) => (signalled = r));
    let giveUp: () => void = () => undefined;
    this.gaveUp = new Promise((r) => (giveUp = () => r(undefined)));
    this.release = onInterrupt((sig) => {
      if (this.stoppedBy) return 1;
      this.stoppedBy = sig;
      signalled(sig);
      void (async () => {
        let killing: Promise<unknown> | undefined;
        for (let i = 0; i < STOP_TRIES && !this.ended; i++) {
          // one kill at a time on the node: a slow one is not joined by another
          killing ??= kill(['sh', '-c', KILL_MARKED, 'sh', this.id]).catch(() => undefined).finally(() => (killing = undefined));
          await Promise.race([this.finished, new Promise((r) => setTimeout(r, STOP_WAIT_MS))]);
        }
        if (!this.ended) giveUp();
      })();
      return 1;
    });
  }

  /** What ends with the run (its output stream, its exec call); returns it, its rejection handled. */
  track<T>(p: Promise<T>): Promise<T> {
    this.finished = p.then(
      () => void (this.ended = true),
      () => void (this.ended = true),
    );
    return p;
  }

  /** The note for a run no longer waited for. */
  mayStillRun(where: string): string {
    return `(no longer waited for: it may still run on ${where})\n`;
  }
}

/**
 * How `timeout -s KILL` on a node is given a limit of `ms` milliseconds (ms > 0): `setup`, shell statements to run
 * before it (none for whole seconds), and `duration`, its argument as a shell word. GNU coreutils' timeout takes
 * fractional seconds (`0.5s`: coreutils timeout.c parse_duration, a double), and is given the limit exactly.
 * busybox's timeout (1.35, measured here) parses `0.5s` but counts whole seconds (`sleep1` per second: 0.5 and 1.5 both
 * end at 1 s), so it is given the limit rounded up to whole seconds: later than asked, never sooner. Which one the node
 * has is asked there, in the same shell (`timeout --version` says "coreutils" only for GNU), and only for a limit that is
 * not whole seconds, where the two differ.
 */
export function nodeTimeout(ms: number): { setup: string; duration: string } {
  const whole = Math.max(1, Math.ceil(ms / 1000));
  if (ms % 1000 === 0) return { setup: '', duration: `${whole}s` };
  return { setup: `cni_lim=${decimalSeconds(ms)}s; timeout --version 2>/dev/null | grep -q coreutils || { cni_lim=${whole}s; echo ${LIMIT_NOTE}${whole} >&2; }; `, duration: '"$cni_lim"' };
}

/**
 * The first line nodeTimeout's setup writes on stderr when the node's timeout counts whole seconds, with the seconds it
 * was given: "KUBECTL_CNI_ATTACH_LIMIT=1" (before the command runs, so always the first line of the run's stderr).
 */
export const LIMIT_NOTE = 'KUBECTL_CNI_ATTACH_LIMIT=';

/**
 * A run's stderr without nodeTimeout's note, and the limit the note names (ms; absent without one): what
 * RunResult.limitMs says.
 */
export function takeLimitNote(stderr: string): { stderr: string; limitMs?: number } {
  const m = new RegExp(`^${LIMIT_NOTE}(\\d+)(?:\n|$)`).exec(stderr);
  return m ? { stderr: stderr.slice(m[0].length), limitMs: Number(m[1]) * 1000 } : { stderr };
}

/** argv under `timeout -s KILL` for a limit of `ms` (nodeTimeout): argv as it was, or through sh where the node is asked. */
export function limitedArgv(argv: string[], ms: number): string[] {
  const t = nodeTimeout(ms);
  return t.setup === '' ? ['timeout', '-s', 'KILL', t.duration, ...argv] : ['sh', '-c', `${t.setup}exec timeout -s KILL ${t.duration} "$@"`, 'sh', ...argv];
}

/** What one command on a node gave back: its exit code (137 when SIGKILL ended it) and output. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run argv on a node as one StoppableRun: a clean environment with exactly the options' env (plus the run's mark),
 * `timeout -s KILL` on the node for the limit (limitedArgv: exact with GNU's, whole seconds with busybox's), `send` carrying it there (an exec of its own, or a request on a
 * node session; its `what` is the command as messages name it: see RunOptions.what). On the user's signal while it runs every process of the run is killed on the node (`kill` runs the
 * kill command there) and its end is waited for, at most about 5 s: the engine then rolls back or keeps the record
 * (RunResult.interrupted), with nothing of the run left running. Steps without a command (argv []: a flush) are not
 * stopped: they run to their end.
 */
export async function runStoppable(
  where: string,
  kill: (argv: string[]) => Promise<unknown>,
  send: (cmd: SessionCommand, timeoutMs: number | undefined, what: string) => Promise<Ran>,
  argv: string[],
  opts: RunOptions,
  baseEnv: Record<string, string>,
): Promise<RunResult> {
  // the steps alone (no command: a batching executor's flush, exec/batch.ts — the cache's bookkeeping after a plugin
  // ran, and the unlock) are short file operations, and not the signal's to cut: cut half-way they would leave the
  // node's cache saying something else than what the plugins did there (a DEL done, its record still there)
  const stop = argv.length > 0 ? new StoppableRun(kill) : undefined;
  const env = [...Object.entries(opts.env ?? baseEnv).map(([k, v]) => `${k}=${v}`), ...(stop ? [stop.mark] : [])];
  const limited = opts.timeoutMs !== undefined && argv.length > 0 ? limitedArgv(argv, opts.timeoutMs) : argv;
  try {
    // messages name the command asked for (opts.what, else argv[0]), not the `timeout` wrapped around it here
    const cmd: SessionCommand = { argv: limited, env, stdin: opts.stdin ?? '', ...(opts.prelude ? { prelude: opts.prelude } : {}) };
    const sent = send(cmd, opts.timeoutMs, opts.what ?? argv[0] ?? 'sh');
    const ran = stop ? stop.track(sent) : sent;
    const got = await Promise.race([ran.then((x) => ({ x })), ...(stop ? [stop.gaveUp] : [])]);
    if (!got) return { code: null, stdout: '', stderr: stop!.mayStillRun(where), timedOut: false, interrupted: stop!.stoppedBy! };
    // what the node printed past MAX_OUTPUT_BYTES was not carried here (the session's head -c, an exec's OutputBuffer)
    const noted = takeLimitNote(got.x.stderr);
    const out = capOutput(got.x.stdout);
    const err = capOutput(noted.stderr);
    const r = { ...got.x, stdout: out.text, stderr: err.text };
    const limit = { ...(noted.limitMs !== undefined ? { limitMs: noted.limitMs } : {}), ...(out.over || err.over ? { outputLimit: MAX_OUTPUT_BYTES } : {}) };
    // 137 is 128 + SIGKILL: the kill (or timeout(1)) ended it
    if (stop?.stoppedBy) return r.code === 137 ? { code: null, signal: 'SIGKILL', stdout: r.stdout, stderr: r.stderr, timedOut: false, interrupted: stop.stoppedBy } : { ...r, timedOut: false, interrupted: stop.stoppedBy };
    if (opts.timeoutMs !== undefined && r.code === 137) return { code: null, signal: 'SIGKILL', stdout: r.stdout, stderr: r.stderr, timedOut: true, ...limit };
    return { code: r.code, stdout: r.stdout, stderr: r.stderr, timedOut: false, ...limit };
  } finally {
    stop?.release();
  }
}

export abstract class ShellExecutor implements Executor {
  abstract readonly where: string;
  abstract run(argv: string[], opts?: RunOptions): Promise<RunResult>;

  baseEnv(): Record<string, string> {
    return { PATH: NODE_PATH };
  }

  protected sh(script: string, args: string[] = [], stdin?: string): Promise<RunResult> {
    return this.run(['sh', '-c', script, 'sh', ...args], { env: this.baseEnv(), ...(stdin !== undefined ? { stdin } : {}) });
  }

  private fail(what: string, r: RunResult): Error {
    return new Error(`${what} on ${this.where}: ${r.stderr.trim() || `exit ${r.code}`}`);
  }

  async readFile(path: string): Promise<string | undefined> {
    const r = await this.sh('[ -e "$1" ] || exit 3; cat "$1"', [path]);
    if (r.code === 3) return undefined;
    if (r.code !== 0) throw this.fail(`reading ${path}`, r);
    return r.stdout;
  }

  async writeFileAtomic(path: string, data: string, mode = 0o600): Promise<void> {
    const script = `umask 077; d=$(dirname "$1"); mkdir -p "$d" && t="$d/.$(basename "$1").$$.tmp" && cat > "$t" && chmod ${mode.toString(8)} "$t" && mv -f "$t" "$1"`;
    const r = await this.sh(script, [path], data);
    if (r.code !== 0) throw this.fail(`writing ${path}`, r);
  }

  async removeFile(path: string): Promise<void> {
    const r = await this.sh('rm -f "$1"', [path]);
    if (r.code !== 0) throw this.fail(`removing ${path}`, r);
  }

  async listDir(path: string): Promise<string[]> {
    const r = await this.sh('[ -d "$1" ] || exit 0; ls -1A "$1"', [path]);
    if (r.code !== 0) throw this.fail(`listing ${path}`, r);
    return r.stdout.split('\n').filter(Boolean);
  }

  async isExecutable(path: string): Promise<boolean> {
    return (await this.sh('[ -f "$1" ] && [ -x "$1" ]', [path])).code === 0;
  }

  /** exec/trust.ts: the facts from one sh on the node (trustShell), judged here. */
  async untrustedPluginDirs(dirs: string[]): Promise<string | undefined> {
    const keys = dirs.map(trustKey);
    const r = await this.sh(trustShell('"$@"'), keys);
    const facts = r.code === 0 ? parseTrust(r.stdout, keys) : undefined;
    if (!facts) throw this.fail('reading the owners and modes of the plugin directories', r);
    return judgePluginDirs(keys, facts);
  }

  async pathKind(path: string): Promise<PathKind> {
    const r = await this.sh('[ -e "$1" ] || { echo missing; exit 0; }; stat -L -f -c %T "$1"', [path]);
    const t = r.stdout.trim();
    return t === 'missing' ? 'missing' : t === 'nsfs' ? 'netns' : 'other';
  }

  /** noclobber (O_EXCL) creation, after making the directory (0700); exit 3 when something is there already. */
  async createExclusive(path: string, data: string, mode = 0o600): Promise<boolean> {
    const script = `d=$(dirname "$1"); mkdir -p "$d" && chmod 700 "$d" || exit 1; umask 077; set -C; cat > "$1" 2>/dev/null && { chmod ${mode.toString(8)} "$1"; exit 0; }; [ -e "$1" ] && exit 3; echo "cannot create $1" >&2; exit 1`;
    const r = await this.sh(script, [path], data);
    if (r.code === 3) return false;
    if (r.code !== 0) throw this.fail(`creating ${path}`, r);
    return true;
  }

  /** From the node's clock and the file's mtime, to the second. */
  async ageMs(path: string): Promise<number | undefined> {
    const r = await this.sh('[ -e "$1" ] || exit 3; echo $(( $(date +%s) - $(stat -c %Y "$1") ))', [path]);
    if (r.code === 3) return undefined;
    const s = Number(r.stdout.trim());
    if (r.code !== 0 || !Number.isFinite(s)) throw this.fail(`reading the age of ${path}`, r);
    return s * 1000;
  }
}
