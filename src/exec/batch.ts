/**
 * Few round trips to a node that is reached only by running commands (a kind node container through `docker exec`, a
 * node through an agent pod's pods/exec): each command there costs a round trip of tens to hundreds of milliseconds,
 * so the file steps of the engine (lock, look-ups, intent, cache write, unlock) ride on the commands it runs anyway.
 *
 *  - Read-ahead: the engine declares what it will read (readAhead): the cache entries of an interface name, the
 *    executables in the CNI_PATH directories, the VERSION answers of its plugins (and other read-only commands: the
 *    iptables listings of portmap's chains), the owners and modes that say whether
 *    a CNI path a record named may be trusted (exec/trust.ts). Nothing is sent for it: it rides on
 *    the next command this executor runs (the sandbox look-up), and the reads are then answered from that snapshot.
 *  - Write-behind: writes, removals and lock releases are queued and run, in order, before the next command, in the
 *    shell that then execs it (RunOptions.prelude: on a node session, no sh process of their own), or by flush(). A step that fails stops the command from running: run()
 *    or flush() rejects with that step's error.
 *  - Optimistic locking: while a look-up round trip is still to come, tryLock() takes the lock in the next command's
 *    steps, and whatever was read from the snapshot since is checked there to be unchanged (the names of the cache
 *    entries, the contents read). If the lock is held or something changed, nothing more runs (a lock taken by those
 *    steps is let go again) and run() rejects with PreconditionFailed: the engine then does the same work again step
 *    by step (direct()), as before, with its usual answers (busy, already taken). A lock released before any command
 *    carried it (the engine refused, or found the attachment there) is sent all the same when something was read
 *    under it, with those checks and its removal, by the engine's flush: an answer drawn from the snapshot stands only
 *    once the lock was held when it was read (an intent seen there may be an attach still running: busy, not
 *    "interrupted").
 *
 * Every step's output comes back framed on stdout before the command's own (exec/framed.ts, then `<mark> end`): a
 * random mark per round trip. Needs sh, mktemp, stat, cat, timeout on the node (coreutils or busybox).
 */
import { randomBytes } from 'node:crypto';
import { UnreachableError } from '../errors.js';
import { parseFrames, STEP_SH } from './framed.js';
import { nodeTimeout, takeLimitNote } from './shell.js';
import { judgePluginDirs, parseTrust, trustKey, trustShell, type TrustFacts } from './trust.js';
import type { Executor, PathKind, RunOptions, RunResult } from './types.js';

/** What the engine will read soon (see the file comment). */
export interface ReadAhead {
  /** Directories whose entries ending in `suffix` will be listed and read (names beginning with '.' are not). */
  dirs?: { path: string; suffix: string }[];
  /**
   * Directories whose entry names alone will be asked (listDir without reading the entries; names beginning with '.'
   * are not listed): no process on the node, whatever the number of entries.
   */
  nameDirs?: string[];
  /** Directories whose executable regular files will be asked about (isExecutable). */
  executableDirs?: string[];
  /**
   * Read-only commands whose answers will be asked: the first of `candidates` that is an executable file, run with opts.
   * With `argv`, the command as the engine will run it — argv[0] a name that `candidates` are the places of on the
   * node's PATH, then its arguments — answered to a run() of exactly argv and opts (a name in none of them: exit 127,
   * as sh answers); without it, the engine runs the candidate found, with no arguments (a plugin's VERSION).
   */
  runs?: { candidates: string[]; opts: RunOptions; argv?: string[] }[];
  /** Plugin directories whose trust will be asked (untrustedPluginDirs, exec/trust.ts), all at once. */
  trustDirs?: string[];
}

/** What an executor that batches adds to the port. */
export interface Batching {
  readAhead(r: ReadAhead): void;
  /** Send what is queued now (one round trip; none when nothing is). Resolves with the number of steps sent (0: none). */
  flush(): Promise<number>;
  /** The same node without batching: every step its own round trip (the engine's way when an optimistic step failed). */
  direct(): Executor;
}

export function isBatching(e: Executor): e is Executor & Batching {
  return typeof (e as Partial<Batching>).readAhead === 'function';
}

/**
 * A lock the steps could not take, or something read since the look-up changed before the lock was taken: nothing was
 * done. The engine does the same again step by step.
 */
export class PreconditionFailed extends Error {}

/** The runner and file side this wraps: a ShellExecutor (docker-exec.ts, kube-exec.ts). */
export type ShellNode = Executor;

/** One queued step of a prelude (buildScript): a file written, removed or created, a check under a lock, a read. */
export type Step =
  | { kind: 'write'; path: string; data: string; mode: number }
  | { kind: 'remove'; path: string; gone?: () => void }
  | { kind: 'create'; path: string; data: string; mode: number }
  | { kind: 'expectFile'; path: string; content: string | undefined }
  | { kind: 'expectNames'; dir: string; suffix: string; names: string[]; prefix?: string }
  | { kind: 'list'; dir: string; suffix: string }
  | { kind: 'names'; dir: string }
  | { kind: 'executables'; dir: string }
  | { kind: 'trust'; dirs: string[] }
  | { kind: 'firstRun'; candidates: string[]; opts: RunOptions; key: (path: string) => string; argv?: string[] };

/** Steps are sent in one round trip only while their arguments stay small (a URL carries pods/exec's command). */
const MAX_INLINE = 48 * 1024;

/**
 * `d` := the directory of the absolute path in `$p`, as dirname(1) gives it for the paths written here, without a
 * process: "/a/b" → "/a", "/a" → "/".
 */
const parentOf = 'd=${p%/*}; [ -n "$d" ] || d=/;';

/** The shell of one step; its arguments are $A1… (replaced by positional parameters when the script is made). */
function stepShell(s: Step, arg: (v: string) => string): string {
  switch (s.kind) {
    case 'write':
      // in the steps' own shell (inShell): cni_write (FILE_SH)
      return `cni_write ${arg(s.path)} ${arg(s.data)}${s.mode === 0o600 ? '' : ` ${s.mode.toString(8)}`}`;
    case 'remove':
      return removeShell([arg(s.path)]);
    case 'create': {
      // in the steps' own shell (inShell): the directory made 0700 once per shell (cni_700), the file made with
      // noclobber under umask 077, both put back at once (cni_excl: FILE_SH)
      const chmod = s.mode === 0o600 ? '' : ` && chmod ${s.mode.toString(8)} "$p"`;
      return `p=${arg(s.path)}; ${parentOf} { [ -d "$d" ] || mkdir -p "$d"; } && cni_700 "$d" && cni_excl "$p" ${arg(s.data)}${chmod}`;
    }
    case 'expectFile':
      // the file's bytes and an x (command substitution strips trailing newlines, not the x after them) against the
      // expected text and an x, as one word ("$N"x): a shell argument holds no NUL, so that is exactly what `$(printf
      // '%s' "$N"; printf x)` made, without its process (and the step runs in the steps' own shell: see inShell). The
      // x after the file's bytes comes from a file, "$t/x" (written once by printf: no process), read by the same cat:
      // `$(cat F "$t/x")` is the bytes `$(cat F; printf x)` was, but its shell execs cat, one process where that one
      // forked cat from a shell of its own, two
      return s.content === undefined ? `[ ! -e ${arg(s.path)} ]` : `[ -f ${arg(s.path)} ] && { [ -s "$t/x" ] || printf x > "$t/x"; } && [ "$(cat ${arg(s.path)} "$t/x")" = ${arg(s.content)}x ]`;
    case 'expectNames':
      // the names in the byte order of the C locale, as a pathname expansion sorts them there (POSIX 2.13.3; the
      // steps' environment has no locale, and LC_ALL=C says so to a shell that reads it at once): no sort process
      // (with a prefix, only the names beginning with it: the quoted parts of a pattern match themselves). Run in the
      // steps' own shell (inShell): the directory before the pattern rather than a cd (what runs after the steps keeps
      // the working directory; the paths here are absolute, so no CDPATH), and LC_ALL as it was once the names are read
      return `cni_v=\${LC_ALL-}; cni_s=\${LC_ALL+1}; LC_ALL=C; g=; for f in ${arg(s.dir)}/${s.prefix ? arg(s.prefix) : ''}*${arg(s.suffix)}; do [ -e "$f" ] && g="$g\${f##*/}\n"; done; [ "$g" = ${arg(s.names.map((n) => `${n}\n`).join(''))} ]; cni_w=$?; if [ -n "$cni_s" ]; then LC_ALL=$cni_v; else unset LC_ALL; fi; [ $cni_w -eq 0 ]`;
    case 'list':
      // every file's size and name (one stat) and then all their contents (one cat): a process per file made a node
      // with many attachments pay for each of them on every attach (see parseListing). Never
      // fails: a file removed meanwhile leaves no listing (stat) or one whose sizes do not add up (cat), and the
      // engine then reads step by step
      return `cd ${arg(s.dir)} 2>/dev/null || { echo 0; exit 0; }; x=${arg(s.suffix)}; set --; for f in *"$x"; do [ -f "$f" ] || continue; case $f in *'\n'*) continue;; esac; set -- "$@" "$f"; done; [ $# -gt 0 ] || { echo 0; exit 0; }; stat -L -c '%s %n' -- "$@" > "$t/l" 2>/dev/null || exit 0; echo $#; while IFS= read -r l; do printf '%s\\n' "$l"; done < "$t/l"; cat -- "$@" 2>/dev/null; exit 0`;
    case 'names':
      // the names only (a glob: no process), one per line; a name holding a newline is left out (it is no record's)
      return `cd ${arg(s.dir)} 2>/dev/null || exit 0; for f in *; do [ -e "$f" ] || continue; case $f in *'\n'*) continue;; esac; printf '%s\\n' "$f"; done; exit 0`;
    case 'executables':
      return `cd ${arg(s.dir)} 2>/dev/null || exit 0; for f in *; do [ -f "$f" ] && [ -x "$f" ] && printf '%s\\n' "$f"; done; exit 0`;
    case 'trust':
      return trustShell(s.dirs.map(arg).join(' '));
    case 'firstRun': {
      const env = Object.entries(s.opts.env ?? {}).map(([k, v]) => arg(`${k}=${v}`)).join(' ');
      const limit = s.opts.timeoutMs !== undefined ? nodeTimeout(s.opts.timeoutMs) : undefined;
      const secs = limit ? `timeout -s KILL ${limit.duration} ` : '';
      const cands = s.candidates.map(arg).join(' ');
      const args = (s.argv ?? []).slice(1).map((a) => ` ${arg(a)}`).join('');
      // never fails the round trip: the answer (exit code, path, output) is kept for the engine to judge
      return `${limit?.setup ?? ''}for c in ${cands}; do if [ -f "$c" ] && [ -x "$c" ]; then printf '%s' ${arg(s.opts.stdin ?? '')} | env -i ${env} ${secs}"$c"${args} > "$t/p"; printf '%s %s\\n' $? "$c"; cat "$t/p"; exit 0; fi; done; exit 0`;
    }
  }
}

/**
 * Removals: the paths (one step's, or a run of them: an intent, then a lock) removed by one `rm -f`, run only when one
 * of them is there (a file or a link, dangling or not: `test -e` and `-h`, builtins) — a path that is not there costs
 * no process (an attach's removal of a DEL mark that no interrupted detach left, on every pod). What it leaves is what
 * `rm -f` leaves: none of the paths (as the root shell of a node sees them: a path it cannot see is not there); its
 * status is rm's, or 0.
 */
function removeShell(paths: string[]): string {
  const list = paths.join(' ');
  return `cni_g=; for cni_q in ${list}; do { [ -e "$cni_q" ] || [ -h "$cni_q" ]; } && cni_g=1; done; [ -z "$cni_g" ] || rm -f ${list}`;
}

/**
 * The shell functions of the steps that write files (a write, an exclusive create: a lock), defined by the steps that
 * have one. They run in the steps' own shell, a node session's shell itself (exec/node-session.ts), so what they keep
 * lasts as long as it; what they change there (the umask, noclobber) they put back on every path: nothing between the
 * change and its undoing can end the shell (builtins, a command they wait for, and redirections of printf, a regular
 * builtin, whose failure is its own alone), so neither reaches what runs after the steps (the plugin: its files get
 * the node's umask). Before, a subshell held them: a process per step, and for a write in bash (which forks the `mv`
 * of a subshell's last `&&` list, where dash and busybox exec it) two.
 *
 *  - `cni_um`: the shell's umask, read once per shell into cni_u (`umask` prints it in the octal form it takes back;
 *    its command substitution is one process, once per session).
 *  - `cni_700 DIR`: DIR is made mode 0700 (`chmod 700`: only its owner — root on a node — may then list, add or remove
 *    the locks in it, whoever made it and with whatever mode: an older version, another tool, by hand) before the
 *    first lock this shell makes in it; the shell remembers it (cni_m: the directories, one per line; one whose name
 *    holds a newline is not remembered, and made 0700 each time), and makes no `chmod` process for it again. Nothing
 *    that 0700 keeps out can make it wider again: a mode is changed only by its owner or root, and a directory made
 *    again in its place needs write access to its parent (cni-attach's directory: writable by its owner, root, alone,
 *    as mkdir makes it under any usual umask), which is also what it took before to swap it between the chmod and the
 *    create. Before, a `chmod` process for every lock: one per pod of a batch (BENCHMARKS.md).
 *  - `cni_excl PATH DATA`: PATH created with noclobber (O_EXCL: fails when anything is there) holding DATA, mode 0600
 *    (umask 077).
 *  - `cni_write PATH DATA [MODE]`: PATH replaced atomically by DATA (a temporary file beside it, `.NAME.PID.tmp`,
 *    written under umask 077 — mode 0600, or MODE by chmod — then renamed over it by `mv -f`), its directory made
 *    first if it is not there (`mkdir -p`, under umask 077).
 */
const FILE_SH = `cni_um() { [ -n "\${cni_u-}" ] || cni_u=$(umask); }
cni_700() { case \${cni_m-} in *"
$1
"*) return 0 ;; esac; chmod 700 "$1" || return; case $1 in *"
"*) ;; *) cni_m="\${cni_m:-
}$1
" ;; esac; }
cni_excl() { cni_um || return; cni_C=$-; umask 077; set -C; { printf '%s' "$2" > "$1"; } 2>/dev/null; cni_k=$?; case $cni_C in *C*) ;; *) set +C ;; esac; umask "$cni_u"; return $cni_k; }
cni_write() {
  cni_um || return; d=\${1%/*}; [ -n "$d" ] || d=/; umask 077
  { [ -d "$d" ] || mkdir -p "$d"; } && f="$d/.\${1##*/}.$$.tmp" && printf '%s' "$2" > "$f" && { [ -z "\${3-}" ] || chmod "$3" "$f"; } && mv -f "$f" "$1"
  cni_k=$?; umask "$cni_u"; return $cni_k
}`;

/**
 * Steps run in the steps' own shell (a brace group) rather than in a subshell of their own: the checks under a lock,
 * the writes, removals and exclusive creates — tests, builtins and the commands they run, which neither exit, cd, set
 * positional parameters, nor leave the umask or the shell's options changed (and leave LC_ALL as it was), so a
 * subshell kept nothing apart; it was a process on the node per step, several per pod of a batch (BENCHMARKS.md). The
 * variables they set (p, d, g, f, cni_*) are set again by every step that uses them, but cni_m and cni_u (FILE_SH).
 * None of them prints on stdout: a request of such steps alone sends back only their frames (Prelude.framesOnly).
 */
const inShell = (s: Step) => s.kind === 'expectFile' || s.kind === 'expectNames' || s.kind === 'create' || s.kind === 'remove' || s.kind === 'write';

/** Whether a failed step means "someone else was first" (a precondition) rather than a failure of the node. */
const isGuard = (s: Step) => s.kind === 'create' || s.kind === 'expectFile' || s.kind === 'expectNames';

interface Built {
  script: string;
  args: string[];
  mark: string;
}

/**
 * The steps as a prelude (RunOptions.prelude): sh running them in order, each framed on stdout (its stdout straight
 * into its frame, exec/framed.ts's STEP_SH), then `<mark> end`; a step that fails undoes the files the steps created
 * and ends them with `return 99` (the command does not run): the statements are a function's body, in the runner's
 * shell (see Prelude). $1 is the mark, the steps' arguments follow; `$t` is the runner's temporary directory.
 */
export function buildScript(steps: Step[]): Built {
  const mark = `@cni-attach-${randomBytes(8).toString('hex')}`;
  const args: string[] = [mark];
  const arg = (v: string) => {
    args.push(v);
    return `"\${${args.length}}"`;
  };
  const lines = [STEP_SH];
  if (steps.some((s) => s.kind === 'create' || s.kind === 'write')) lines.push(FILE_SH);
  // files (locks) created by these steps are removed again when a later step fails: c<i> holds the path once made
  const creates = steps.flatMap((s, i) => (s.kind === 'create' ? [i] : []));
  lines.push(creates.map((i) => `c${i}=`).join('; ') || ':');
  lines.push(`undo() { ${creates.map((i) => `[ -z "$c${i}" ] || rm -f "$c${i}";`).join(' ')} :; }`);
  // which positional parameters each step uses, as a comment: for reading a round trip in a trace (and for fakes)
  const meta: { k: Step['kind']; a: number[]; n?: number; x?: number }[] = [];
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    const first = args.length + 1;
    const shell = stepShell(s, arg);
    meta.push({ k: s.kind, a: Array.from({ length: args.length + 1 - first }, (_, j) => first + j), ...(s.kind === 'firstRun' ? { n: s.candidates.length, ...(s.argv && s.argv.length > 1 ? { x: s.argv.length - 1 } : {}) } : {}) });
    // removals in a row (an intent, then a lock) are one rm, a process fewer each: the frame of the first says how it
    // went (its stderr names the file that could not be removed), and once it succeeded the others' frames say so too
    const more: number[] = [];
    const paths = [`"\${${first}}"`];
    while (s.kind === 'remove' && steps[i + 1]?.kind === 'remove') {
      i++;
      const at = args.length + 1;
      paths.push(arg((steps[i] as { path: string }).path));
      meta.push({ k: 'remove', a: [at] });
      more.push(i);
    }
    const rm = s.kind === 'remove' ? removeShell(paths) : shell;
    const others = more.length ? `; [ $r -ne 0 ] || { ${more.map((j) => `fo "\${1}" ${j}; fc "\${1}" ${j} 0;`).join(' ')} }` : '';
    const body = inShell(s) ? `{ ${rm}; }` : `( ${rm} )`;
    lines.push(`fo "\${1}" ${meta.length - 1 - more.length}; ${body} 2> "$t/se"; r=$?; fc "\${1}" ${meta.length - 1 - more.length} $r${others}`);
    if (s.kind === 'create') lines.push(`[ $r -ne 0 ] || c${i}="\${${args.indexOf(s.path) + 1}}"`);
    lines.push(`[ $r -eq 0 ] || { undo; return 99; }`);
  }
  lines.unshift(`# cni-attach-steps ${JSON.stringify(meta)}`);
  lines.push(`printf '%s end\\n' "\${1}"`);
  return { script: lines.join('\n'), args, mark };
}

interface StepOutcome {
  index: number;
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes (a listing's sizes count bytes). */
  raw: Buffer;
}

/** The steps' outcomes and the command's own stdout (undefined when the steps did not get to it). */
export function parseFramed(stdout: string, mark: string): { steps: StepOutcome[]; rest: string | undefined } {
  const { frames, rest } = parseFrames(stdout, mark, ['end']);
  return { steps: frames.map((f) => ({ index: Number(f.key), code: Number(f.code), stdout: f.stdout.toString('utf8'), stderr: f.stderr.toString('utf8'), raw: f.stdout })), rest };
}

/**
 * A 'list' step's output: the count, `<bytes> <name>` per file, then the files' contents one after the other (`0` for
 * a directory that is not there). Undefined when there is no listing or its sizes do not add up (a file changed or went
 * between stat and cat): the engine then reads step by step.
 */
export function parseListing(raw: Buffer): Map<string, string> | undefined {
  let pos = 0;
  const line = () => {
    const nl = raw.indexOf(10, pos);
    if (nl < 0) return undefined;
    const l = raw.subarray(pos, nl).toString('utf8');
    pos = nl + 1;
    return l;
  };
  const count = Number(line());
  if (!Number.isInteger(count) || count < 0) return undefined;
  const sized: [string, number][] = [];
  for (let i = 0; i < count; i++) {
    const l = line();
    const sp = l?.indexOf(' ') ?? -1;
    if (l === undefined || sp < 1) return undefined;
    sized.push([l.slice(sp + 1), Number(l.slice(0, sp))]);
  }
  if (pos + sized.reduce((n, [, b]) => n + b, 0) !== raw.length) return undefined;
  const files = new Map<string, string>();
  for (const [name, bytes] of sized) {
    files.set(name, raw.subarray(pos, pos + bytes).toString('utf8'));
    pos += bytes;
  }
  return files;
}

/** A 'list' step's output for these files (what the node prints; for fakes). */
export function listingOutput(files: [name: string, content: string][]): string {
  return `${files.length}\n${files.map(([n, c]) => `${Buffer.byteLength(c)} ${n}\n`).join('')}${files.map(([, c]) => c).join('')}`;
}

const canonical = (path: string, opts: RunOptions) =>
  JSON.stringify([path, Object.entries(opts.env ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)), opts.stdin ?? '', opts.timeoutMs ?? null]);

export class BatchingExecutor implements Executor, Batching {
  readonly where: string;
  readonly elsewhere?: string;
  private steps: Step[] = [];
  /** Read-ahead declared and not yet sent. */
  private ahead: Step[] = [];
  private readonly declared = new Set<string>();
  /** Directory listings read ahead: dir → suffix → name → contents. */
  private readonly listed = new Map<string, { suffix: string; files: Map<string, string> }>();
  private readonly executables = new Map<string, Set<string>>();
  /** Entry names read ahead (ReadAhead.nameDirs), by directory. */
  private readonly names = new Map<string, string[]>();
  /** The trust facts read ahead, by their directories (joined by NUL). */
  private readonly trust = new Map<string, TrustFacts>();
  private readonly answers = new Map<string, RunResult>();
  /** Exclusive creates (locks) queued: reads of the snapshot until they are sent are checked in the same steps. */
  private pendingCreates = 0;
  /** Paths an exclusive create answered true for but did not make (see settle). */
  private readonly notCreated = new Set<string>();
  /** Files (locks) the steps created and that are not removed yet. */
  private readonly created = new Set<string>();
  /**
   * Removals of created files (unlocks) that a failed round trip did not get to: sent by the next flush() only, so that
   * a lock is held until the engine is done (it flushes when it leaves the lock), not let go before its next command.
   */
  private tail: Step[] = [];
  /** True from a read-ahead until a command (other than an answer read ahead) runs. */
  private fresh = false;

  constructor(private readonly inner: ShellNode) {
    this.where = inner.where;
    if (inner.elsewhere !== undefined) this.elsewhere = inner.elsewhere;
  }

  baseEnv(): Record<string, string> {
    return this.inner.baseEnv();
  }

  direct(): Executor {
    return this.inner;
  }

  /**
   * A new session on the same node for another engine operation, starting from what this one has read: its read-ahead
   * (listings, executables, answers; one use each, as here) and its freshness, with no steps, locks or writes of its
   * own. For a batch: one look-up round trip for all the pods of a node, then each pod's session a fork of it. What a
   * fork reads from the snapshot is checked under its lock as always (expectFile, expectNames), so a snapshot that
   * has grown old only costs that pod its optimistic steps (PreconditionFailed), never a wrong answer.
   */
  fork(): BatchingExecutor {
    const f = new BatchingExecutor(this.inner);
    for (const [dir, l] of this.listed) f.listed.set(dir, { suffix: l.suffix, files: new Map(l.files) });
    for (const [dir, names] of this.executables) f.executables.set(dir, new Set(names));
    for (const [dir, names] of this.names) f.names.set(dir, [...names]);
    for (const [dirs, facts] of this.trust) f.trust.set(dirs, facts);
    for (const [k, v] of this.answers) f.answers.set(k, v);
    for (const k of this.declared) f.declared.add(k);
    f.ahead = [...this.ahead];
    f.fresh = this.fresh;
    return f;
  }

  readAhead(r: ReadAhead): void {
    const add = (key: string, s: Step) => {
      if (this.declared.has(key)) return;
      this.declared.add(key);
      this.ahead.push(s);
    };
    this.fresh = true;
    for (const d of r.dirs ?? []) {
      // a listing that a write made stale is read again
      const dir = d.path.replace(/\/+$/, '');
      const have = this.listed.get(dir);
      if (have?.suffix === d.suffix || this.ahead.some((s) => s.kind === 'list' && s.dir === dir && s.suffix === d.suffix)) continue;
      this.ahead.push({ kind: 'list', dir, suffix: d.suffix });
    }
    for (const d of r.nameDirs ?? []) add(`n\0${d}`, { kind: 'names', dir: d.replace(/\/+$/, '') });
    for (const d of r.executableDirs ?? []) add(`x\0${d}`, { kind: 'executables', dir: d.replace(/\/+$/, '') });
    if (r.trustDirs?.length) {
      const dirs = r.trustDirs.map(trustKey);
      add(`t\0${dirs.join('\0')}`, { kind: 'trust', dirs });
    }
    for (const run of r.runs ?? []) {
      const argv = run.argv;
      if (argv) add(`argv\0${canonical(argv.join('\0'), run.opts)}\0${run.candidates.join('\0')}`, { kind: 'firstRun', candidates: run.candidates, opts: run.opts, key: () => canonical(argv.join('\0'), run.opts), argv });
      else add(`run\0${canonical(run.candidates.join('\0'), run.opts)}`, { kind: 'firstRun', candidates: run.candidates, opts: run.opts, key: (p) => canonical(p, run.opts) });
    }
  }

  private queue(s: Step): void {
    this.steps.push(s);
  }

  private take(withTail = false): Step[] {
    const all = [...this.ahead, ...this.steps, ...(withTail ? this.tail : [])];
    this.ahead = [];
    this.steps = [];
    if (withTail) this.tail = [];
    return all;
  }

  /**
   * Record what the steps of a round trip brought back, and fail as the first failed step says. `r`: the round trip's
   * own result; when no step printed anything, the steps never started there (the node's sh, or the way into the node
   * — an agent's nsenter — failed): an UnreachableError with what it printed, since the node could not be asked.
   */
  private settle(steps: Step[], outcomes: StepOutcome[], gotToCommand: boolean, r: RunResult): void {
    for (const o of outcomes) {
      const s = steps[o.index]!;
      if (o.code !== 0) continue;
      if (s.kind === 'list') {
        const files = parseListing(o.raw);
        if (files) this.listed.set(s.dir.replace(/\/+$/, ''), { suffix: s.suffix, files });
      } else if (s.kind === 'names') {
        this.names.set(s.dir, o.stdout.split('\n').filter(Boolean).sort());
      } else if (s.kind === 'executables') {
        this.executables.set(s.dir, new Set(o.stdout.split('\n').filter(Boolean)));
      } else if (s.kind === 'trust') {
        const facts = parseTrust(o.stdout, s.dirs);
        if (facts) this.trust.set(s.dirs.join('\0'), facts);
      }
    }
    for (const [i, s] of steps.entries()) {
      if (s.kind !== 'firstRun') continue;
      const o = outcomes.find((x) => x.index === i);
      if (!o) continue;
      const nl = o.stdout.indexOf('\n');
      if (nl < 0 && s.argv) {
        // a name in none of its places on the node's PATH: as sh answers a command it does not find
        this.answers.set(s.key(''), { code: 127, stdout: '', stderr: `${s.argv[0]}: not found`, timedOut: false });
        continue;
      }
      if (nl < 0) continue; // no candidate: the engine's own look-up says so
      const head = o.stdout.slice(0, nl);
      const code = Number(head.slice(0, head.indexOf(' ')));
      const timedOut = s.opts.timeoutMs !== undefined && code === 137;
      const { stderr, limitMs } = takeLimitNote(o.stderr);
      this.answers.set(s.key(head.slice(head.indexOf(' ') + 1)), { code: timedOut ? null : code, ...(timedOut ? { signal: 'SIGKILL' } : {}), stdout: o.stdout.slice(nl + 1), stderr, timedOut, ...(limitMs !== undefined ? { limitMs } : {}) });
    }
    for (const [i, s] of steps.entries()) {
      if (s.kind !== 'create') continue;
      this.pendingCreates--;
      // answered true, but not made (someone else's file was there, or the steps stopped before or after it and
      // removed it again): its removal by the caller (a lock's release) must not remove what is not ours
      if (!gotToCommand || outcomes.find((o) => o.index === i)?.code !== 0) this.notCreated.add(s.path);
      else this.created.add(s.path);
    }
    for (const o of outcomes) {
      const s = steps[o.index]!;
      if (s.kind !== 'remove' || o.code !== 0) continue;
      this.created.delete(s.path);
      s.gone?.();
    }
    if (!gotToCommand) {
      // the unlocks the failure stopped wait for the engine's last flush; one of a file no round trip of ours made (its
      // create did not run, or found the file there) has nothing of ours to remove: gone
      const ran = new Set(outcomes.filter((o) => o.code === 0).map((o) => o.index));
      for (const [i, s] of steps.entries()) {
        if (s.kind !== 'remove' || ran.has(i)) continue;
        if (this.created.has(s.path)) this.tail.push(s);
        else s.gone?.();
      }
    }
    if (gotToCommand) return;
    // a step failed: those after it did not run (and a file created by the steps was removed again)
    const failed = outcomes[outcomes.length - 1];
    if (!failed) {
      const why = r.stderr.trim().split('\n').pop() || (r.code === null ? `killed by ${r.signal ?? 'a signal'}` : `exit ${r.code}`);
      // stopped by the user's signal: as any run it stopped (cli/main.ts exits 128 + n)
      if (r.interrupted) throw new Error(`the steps on ${this.where} did not start: ${why}`);
      throw new UnreachableError(`the steps on ${this.where} did not start: ${why}`);
    }
    const s = steps[failed.index]!;
    if (isGuard(s)) {
      throw new PreconditionFailed(s.kind === 'create' ? `${s.path} exists` : `${s.kind === 'expectFile' ? s.path : s.dir} changed since it was read`);
    }
    const what = s.kind === 'write' ? `writing ${s.path}` : s.kind === 'remove' ? `removing ${s.path}` : `reading ahead on ${this.where}`;
    throw new Error(`${what} on ${this.where}: ${failed.stderr.trim() || `exit ${failed.code}`}`);
  }

  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    const [file] = argv;
    if (file) {
      // a plugin's run (argv its path alone) or a named command with its arguments (ReadAhead.runs argv)
      const key = canonical(argv.join('\0'), opts);
      const known = this.answers.get(key);
      if (known) {
        this.answers.delete(key);
        return { ...known, answeredAhead: true };
      }
    }
    const steps = this.take();
    // the look-up command a read-ahead rides on leaves the snapshot fresh; any other command may change the node
    const lookup = steps.some((s) => s.kind === 'list');
    if (steps.length === 0) {
      this.fresh = false;
      return this.inner.run(argv, opts);
    }
    const built = buildScript(steps);
    // the steps go before the command, in its shell (no sh of their own on a node session)
    const r = await this.inner.run(argv, { ...opts, env: opts.env ?? this.inner.baseEnv(), prelude: { script: built.script, args: built.args } }).catch((e: unknown) => this.unsent(steps, e));
    const { steps: outcomes, rest } = parseFramed(r.stdout, built.mark);
    this.settle(steps, outcomes, rest !== undefined, r);
    this.fresh = lookup;
    return { ...r, stdout: rest ?? '', stepsBefore: steps.length };
  }

  async flush(): Promise<number> {
    const steps = this.take(true);
    if (steps.length === 0) return 0;
    const built = buildScript(steps);
    // writes, removals, creates and checks print nothing but their frames (a node session then sends them without a
    // process to read them back: Prelude.framesOnly)
    const framesOnly = steps.every(inShell);
    const r = await this.inner.run([], { env: this.inner.baseEnv(), prelude: { script: built.script, args: built.args, ...(framesOnly ? { framesOnly } : {}) } }).catch((e: unknown) => this.unsent(steps, e));
    const { steps: outcomes, rest } = parseFramed(r.stdout, built.mark);
    this.settle(steps, outcomes, rest !== undefined, r);
    return steps.length;
  }

  /**
   * A round trip that failed: rethrows e. When its request never reached the node (UnreachableError.notSent: its
   * pods/exec refused, or never sent from this host), none of its steps ran: a lock it was to take was not taken — its
   * release sends nothing (a removal sent later could remove another command's lock of that name) — and the unlocks
   * it carried wait for the engine's last flush, as after a failed step (settle).
   */
  private unsent(steps: Step[], e: unknown): never {
    if (e instanceof UnreachableError && e.notSent) {
      for (const s of steps) {
        if (s.kind === 'create') {
          this.pendingCreates--;
          this.notCreated.add(s.path);
        } else if (s.kind === 'remove' && this.created.has(s.path)) this.tail.push(s);
        else if (s.kind === 'remove') s.gone?.();
      }
    }
    throw e;
  }

  /** Read-ahead declared but not sent yet is sent now, before a read that it answers. */
  private async fetched(): Promise<void> {
    if (this.ahead.length > 0) await this.flush();
  }

  private listingOf(dir: string): { suffix: string; files: Map<string, string> } | undefined {
    return this.listed.get(dir.replace(/\/+$/, ''));
  }

  private async direct_<T>(fn: () => Promise<T>): Promise<T> {
    await this.flush();
    return fn();
  }

  async readFile(path: string): Promise<string | undefined> {
    await this.fetched();
    const slash = path.lastIndexOf('/');
    const l = this.listingOf(path.slice(0, slash));
    const name = path.slice(slash + 1);
    const content = l?.files.get(name);
    // a content too large to be checked inline (a guard's argument) is read again under the lock instead
    const checkable = this.pendingCreates === 0 || (content ?? '').length <= MAX_INLINE;
    if (l && checkable && name.endsWith(l.suffix) && !name.startsWith('.') && !this.steps.some((s) => (s.kind === 'write' || s.kind === 'remove') && s.path === path)) {
      if (this.pendingCreates > 0) this.queue({ kind: 'expectFile', path, content });
      return content;
    }
    return this.direct_(() => this.inner.readFile(path));
  }

  async listDir(path: string, suffix?: string, prefix?: string): Promise<string[]> {
    await this.fetched();
    const l = this.listingOf(path);
    if (l && suffix !== undefined && suffix.endsWith(l.suffix) && !this.steps.some((s) => s.kind === 'write' || s.kind === 'remove')) {
      const names = [...l.files.keys()].filter((n) => n.endsWith(suffix)).sort();
      if (this.pendingCreates > 0) this.queue({ kind: 'expectNames', dir: path, suffix, names });
      return names;
    }
    const known = this.names.get(path.replace(/\/+$/, ''));
    if (known && !this.steps.some((s) => s.kind === 'write' || s.kind === 'remove')) {
      const names = known.filter((n) => n.endsWith(suffix ?? '') && n.startsWith(prefix ?? ''));
      if (this.pendingCreates > 0) this.queue({ kind: 'expectNames', dir: path, suffix: suffix ?? '', names, ...(prefix ? { prefix } : {}) });
      return names;
    }
    return this.direct_(() => this.inner.listDir(path));
  }

  async isExecutable(path: string): Promise<boolean> {
    await this.fetched();
    const slash = path.lastIndexOf('/');
    const known = this.executables.get(path.slice(0, slash));
    if (known) return known.has(path.slice(slash + 1));
    return this.direct_(() => this.inner.isExecutable(path));
  }

  async pathKind(path: string): Promise<PathKind> {
    return this.direct_(() => this.inner.pathKind(path));
  }

  /** From the facts read ahead for these directories, else asked of the node (a round trip). */
  async untrustedPluginDirs(dirs: string[]): Promise<string | undefined> {
    await this.fetched();
    const keys = dirs.map(trustKey);
    const known = this.trust.get(keys.join('\0'));
    if (known) return judgePluginDirs(keys, known);
    return this.direct_(() => this.inner.untrustedPluginDirs(dirs));
  }

  async writeFileAtomic(path: string, data: string, mode = 0o600): Promise<void> {
    if (data.length > MAX_INLINE) return this.direct_(() => this.inner.writeFileAtomic(path, data, mode));
    this.forget(path);
    this.queue({ kind: 'write', path, data, mode });
  }

  async removeFile(path: string, gone?: () => void): Promise<void | 'queued'> {
    if (this.notCreated.delete(path)) return;
    const created = this.steps.findIndex((s) => s.kind === 'create' && s.path === path);
    if (created >= 0 && !this.steps.slice(created).some((s) => s.kind === 'expectFile' || s.kind === 'expectNames')) {
      // released before it was taken, and nothing was read under it: neither is sent
      this.steps.splice(created, 1);
      this.pendingCreates--;
      return;
    }
    // released before it was taken, but something was read from the snapshot under it (and judged: an attach refused,
    // an attachment found there already): the lock, the checks of what was read and the release go together in the
    // next round trip (flush), which fails with PreconditionFailed if the lock was held or what was read changed, so
    // that no answer rests on a snapshot the lock would have contradicted (an intent of an attach still running)
    this.forget(path);
    this.queue({ kind: 'remove', path, ...(gone ? { gone } : {}) });
    return 'queued';
  }

  /** A path written or removed from here on is no longer answered from the snapshot. */
  private forget(path: string): void {
    const slash = path.lastIndexOf('/');
    const l = this.listingOf(path.slice(0, slash));
    if (l) this.listed.delete(path.slice(0, slash).replace(/\/+$/, ''));
  }

  /**
   * While the snapshot of a look-up is fresh (read ahead, and nothing else ran since: the engine's order is look-up,
   * then lock), an exclusive create (a lock, exec/lock.ts) is taken by the next round trip's steps and answered true
   * now; if it then finds the file there, that round trip fails with PreconditionFailed and nothing else runs.
   * Otherwise it is done at once.
   */
  async createExclusive(path: string, data: string, mode = 0o600): Promise<boolean> {
    if (!this.fresh || data.length > MAX_INLINE) return this.direct_(() => this.inner.createExclusive(path, data, mode));
    this.pendingCreates++;
    this.queue({ kind: 'create', path, data, mode });
    return true;
  }

  async ageMs(path: string): Promise<number | undefined> {
    return this.direct_(() => this.inner.ageMs(path));
  }
}
