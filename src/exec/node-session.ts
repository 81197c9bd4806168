/**
 * One long-lived command per node connection, carrying many commands: a node reached by commands (a kind node
 * container through `docker exec`, a node through an agent pod's pods/exec) pays for every new exec — a WebSocket
 * upgrade through the API server and the kubelet, a CRI exec, `runc exec`, a TLS handshake — far more than for a
 * message on a stream that is already open. So the executors open a session (one exec of `sh -s <mark>`: a shell that
 * reads its commands from stdin) and send each command as sh code on that stdin; the shell runs it and sends back its
 * exit code and output.
 *
 * The protocol (all of it here; the node needs sh, mktemp and head):
 *  - first the mark (a random word per session, `cni_M=…`: on stdin, not in the command line) and SESSION_BOOT (sent
 *    by NodeSession as it starts): it makes the session's directory, defines R and X, and prints `<mark> ready`;
 *  - a request is sh code (requestCode): a function `x` holding the command — the prelude's statements, if any
 *    (RunOptions.prelude: a batching executor's steps, run in this same shell, with no sh process of their own), then
 *    a subshell `X` execs the command in, with exactly its environment — and `R <id> <stdin>`, which runs x (S) in the
 *    session's shell itself with that stdin and its stdout and stderr in files of this request's own (the steps alone,
 *    a flush, then cost no process but their own commands'; what they keep, such as the directories a lock step made
 *    0700, lasts as long as the session: exec/batch.ts FILE_SH), then prints
 *    `<mark> <id>\n<stdout>\n<mark> <id> <exit>\n<stderr>\n<mark> <id> .\n` (exec/framed.ts's framing, which needs no
 *    process for the sizes: the mark ends each output), each output at most MAX_OUTPUT_BYTES and one byte more (`head
 *    -c`: a plugin that prints gigabytes costs the CLI no more memory than that; exec/shell.ts runStoppable cuts it and
 *    says so). A process the command left running that still writes to its
 *    outputs cannot shift the frames that follow: it writes to this request's files, which nothing reads again;
 *  - each request is preceded by a comment line `# cni-attach-request <id> <bytes>` (what a trace or a test counts);
 *  - `exit 0`, or the end of its stdin, ends the shell (which removes its directory).
 * The shell reads its stdin in blocks (dash, busybox ash) or byte by byte (bash): no `head -c` to read a request, no `env -i`
 * where the shell can clear its environment itself (dash, busybox ash: see SESSION_BOOT), no `stat` per answer; on a
 * node each process is paid for every pod of a batch (BENCHMARKS.md). Requests on one session run one after another;
 * an executor keeps a pool and opens another session when all of its sessions are busy (at most one per command in
 * flight on that node), and closes them when the command ends.
 */
import { randomBytes } from 'node:crypto';
import { UnreachableError } from '../errors.js';
import { atEnd } from './interrupt.js';
import { parseFrames } from './framed.js';
import { MAX_OUTPUT_BYTES, type Prelude } from './types.js';

/**
 * The node side of a session: its argv (the boot and the requests come on its stdin). The mark is not in it: a
 * command line is any local user's to read (/proc/PID/cmdline), and the mark is what ends each output.
 */
export const SESSION_ARGV: readonly string[] = ['sh', '-s'];

/**
 * Shell code that makes a command's own temporary directory, `<name>.<its shell's pid>.XXXXXX` in the first writable
 * directory of $TMPDIR, /dev/shm and /tmp (a tmpfs where there is one: see SESSION_BOOT), as `$cni_t` (exit 97 when it
 * cannot), removed when that shell exits (its EXIT trap; with `signals`, HUP, INT and TERM end it through that trap,
 * 128 + n) — and first removes the directories of that name that a shell killed outright left there or in /tmp (SIGKILL
 * runs no trap: the user's signal on a node, exec/shell.ts KILL_MARKED; an exec torn down): its own (`-O`), not a
 * link, its pid no longer running. Used by every command of ours that keeps files on a node: a session
 * (cni-attach-session), the sandbox look-up (cni-attach-lookup: resolve/cri.ts LOOKUP), steps sent without a session
 * (cni-attach-steps: withPrelude). Needs sh, mktemp, kill, rm.
 */
export function ownTmpDir(name: string, signals = false): string {
  return `cni_d=
for cni_c in "\${TMPDIR:-}" /dev/shm /tmp; do
  [ -n "$cni_c" ] && [ -d "$cni_c" ] && [ -w "$cni_c" ] && { cni_d=$cni_c; break; }
done
for cni_c in "\${cni_d:-/tmp}" /tmp; do
  for cni_o in "$cni_c"/${name}.*; do
    cni_p=\${cni_o#"$cni_c"/${name}.}; cni_p=\${cni_p%%.*}
    case $cni_p in ''|*[!0-9]*) continue ;; esac
    [ -d "$cni_o" ] && [ ! -L "$cni_o" ] && [ -O "$cni_o" ] && ! kill -0 "$cni_p" 2>/dev/null && rm -rf "$cni_o"
  done
done
cni_t=$(mktemp -d "\${cni_d:-/tmp}/${name}.$$.XXXXXX") || exit 97
trap 'rm -rf "$cni_t"' EXIT${signals ? "\ntrap 'exit 129' HUP\ntrap 'exit 130' INT\ntrap 'exit 143' TERM" : ''}`;
}

/**
 * The first code a session's shell runs. Its directory is `cni-attach-session.<its pid>.XXXXXX` in the first writable
 * directory of $TMPDIR, /dev/shm and /tmp: every request makes and removes three files there (its stdin, stdout and
 * stderr), and on a disk file system such as ext4 that churn of inodes costs the node's CPU (inode allocation scans
 * the recently deleted ones: ~30 % of the sessions' shell CPU in a 100-pod batch, BENCHMARKS.md), while on a tmpfs
 * (/dev/shm on every Linux with glibc's POSIX shared memory; a container's own, 64 MiB by default) it is a page of
 * memory. It is removed when the shell ends; one whose shell is gone without removing it (killed: the exec torn down)
 * is removed by the next session there or in /tmp (where earlier releases made them: its own, not a link, its pid no
 * longer running). `X N NAME=VALUE… argv…` execs argv with exactly those N variables as its
 * environment: bash (also as sh) puts `_` into every child's environment, so there it is `env -i`; dash and busybox ash
 * unset every variable exported when the session started (their names read once from `export -p`, and PWD, OLDPWD,
 * SHLVL, which they add) and export the N given. `R ID STDIN` runs the request's function x (see the file comment);
 * `B ID BASE64` is R for a stdin that sh cannot hold in a word (one with NUL bytes), decoded by base64 on the node.
 */
export const SESSION_BOOT = `command -v mktemp >/dev/null && command -v head >/dev/null || exit 96
${ownTmpDir('cni-attach-session')}
if [ -n "\${BASH_VERSION:-}" ]; then
  X() { shift; exec env -i "$@"; }
else
  cni_x='PWD OLDPWD SHLVL'
  cni_e=$(export -p)
  while IFS= read -r cni_l; do
    case $cni_l in "export "*) cni_l=\${cni_l#export }; cni_l=\${cni_l%%=*}; case $cni_l in ''|*[!A-Za-z0-9_]*) ;; *) cni_x="$cni_x $cni_l" ;; esac ;; esac
  done <<cni_EOF
$cni_e
cni_EOF
  X() { cni_n=$1; shift; unset $cni_x; while [ "$cni_n" -gt 0 ]; do export "$1"; shift; cni_n=$((cni_n - 1)); done; exec "$@"; }
fi
R() { printf '%s' "$2" > "$cni_t/i.$1"; S "$1"; }
P() {
  printf '%s %s\\n' "$cni_M" "$1"; x < /dev/null 2> "$cni_t/e.$1"
  printf '\\n%s %s %s\\n' "$cni_M" "$1" "$?"; [ ! -s "$cni_t/e.$1" ] || head -c ${MAX_OUTPUT_BYTES + 1} "$cni_t/e.$1"
  printf '\\n%s %s .\\n' "$cni_M" "$1"
}
B() { printf '%s' "$2" | base64 -d > "$cni_t/i.$1"; S "$1"; }
S() {
  x < "$cni_t/i.$1" > "$cni_t/o.$1" 2> "$cni_t/e.$1"
  cni_r=$?
  printf '%s %s\\n' "$cni_M" "$1"; [ ! -s "$cni_t/o.$1" ] || head -c ${MAX_OUTPUT_BYTES + 1} "$cni_t/o.$1"
  printf '\\n%s %s %s\\n' "$cni_M" "$1" "$cni_r"; [ ! -s "$cni_t/e.$1" ] || head -c ${MAX_OUTPUT_BYTES + 1} "$cni_t/e.$1"
  printf '\\n%s %s .\\n' "$cni_M" "$1"
}
printf '%s ready\\n' "$cni_M"
`;

/** A byte stream to the session command on the node (its stdin and stdout), however it is carried. */
export interface SessionTransport {
  write(data: Buffer): void;
  /** Called with each chunk of the command's stdout, in order. */
  onData(cb: (chunk: Buffer) => void): void;
  /** Resolves when the command or its connection ended (never rejects). */
  readonly ended: Promise<void>;
  /** Tear the connection down at once. */
  destroy(): void;
}

/** Single-quoted for sh: any bytes but NUL pass. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** An environment variable's name that sh can export (POSIX: letters, digits, underscore, not first a digit). */
const SH_NAME = /^[A-Za-z_][A-Za-z0-9_]*=/;

/**
 * The sh code of one request (see the file comment): the command argv with exactly the environment env (NAME=VALUE
 * each) and stdin, after the prelude's statements (with its args as $1…, and `$t` the session's directory) when given;
 * with an empty argv, the prelude alone. Preceded by its comment line. The function x runs in the session's shell: the
 * prelude there (its failure returns from x), the command in a subshell that execs it (one process, as before).
 */
export function requestCode(id: number, argv: string[], env: string[], stdin: string, prelude?: Prelude): string {
  const lines: string[] = ['x() {'];
  if (prelude) {
    if (prelude.args.length) lines.push(`set -- ${prelude.args.map(shQuote).join(' ')}`);
    lines.push('t=$cni_t', prelude.script);
  }
  if (argv.length === 0) lines.push('return 0');
  // X clears the environment in the shell where it can (no env process); env -i for a PATH-less environment (the
  // shell's own lookup needs one) or a name sh cannot export
  else if (env.every((e) => SH_NAME.test(e)) && env.some((e) => e.startsWith('PATH='))) lines.push(`( X ${env.length} ${[...env, ...argv].map(shQuote).join(' ')} )`);
  else lines.push(`( exec env -i ${[...env, ...argv].map(shQuote).join(' ')} )`);
  lines.push('}');
  // steps alone whose stdout is their frames (Prelude.framesOnly), with no stdin: P, their stdout straight to the
  // session's (the same bytes S sends from its file, without the `head -c` of it)
  if (argv.length === 0 && prelude?.framesOnly && stdin === '') lines.push(`P ${id}`);
  else lines.push(stdin.includes('\0') ? `B ${id} ${shQuote(Buffer.from(stdin, 'utf8').toString('base64'))}` : `R ${id} ${shQuote(stdin)}`);
  const code = `${lines.join('\n')}\n`;
  return `# cni-attach-request ${id} ${Buffer.byteLength(code)}\n${code}`;
}

/** The session went away (or never came up): whether the request may have run is in `mayHaveRun`. */
export class SessionLost extends Error {
  constructor(
    message: string,
    readonly mayHaveRun: boolean,
  ) {
    super(message);
  }
}

/** One command for a session (see requestCode). */
export interface SessionCommand {
  argv: string[];
  /** NAME=VALUE each: the command's whole environment. */
  env: string[];
  stdin: string;
  prelude?: Prelude;
}

interface Pending {
  id: number;
  resolve: (r: { code: number; stdout: string; stderr: string }) => void;
  reject: (e: Error) => void;
}

export class NodeSession {
  private buf: Buffer = Buffer.alloc(0);
  private ready = false;
  private gone: string | undefined;
  private readonly queue: Pending[] = [];
  private next = 1;
  /** Requests sent on this session so far (each one node round trip). */
  requests = 0;

  /** `mark`: the session's word (see the file comment). Sends it and SESSION_BOOT at once. */
  constructor(
    private readonly t: SessionTransport,
    readonly mark: string,
  ) {
    t.onData((c) => this.data(c));
    void t.ended.then(() => this.lost('the session on the node ended'));
    const boot = `cni_M=${shQuote(mark)}\n${SESSION_BOOT}`;
    t.write(Buffer.from(`# cni-attach-boot ${Buffer.byteLength(boot)}\n${boot}`, 'utf8'));
  }

  /** Whether requests may still be sent. */
  get alive(): boolean {
    return this.gone === undefined;
  }

  /** Whether a request is waiting for its answer. */
  get busy(): boolean {
    return this.queue.length > 0;
  }

  /** Whether the shell said ready (a request answered before it cannot have been run by it). */
  get started(): boolean {
    return this.ready;
  }

  /** Resolves when the transport ended. */
  get ended(): Promise<void> {
    return this.t.ended;
  }

  /**
   * Run one command. Resolves with its exit code and output; rejects with SessionLost when the session ends first
   * (`mayHaveRun` false when the shell never came up, so nothing of it ran).
   */
  request(cmd: SessionCommand, limitMs?: number): Promise<{ code: number; stdout: string; stderr: string }> {
    if (this.gone !== undefined) return Promise.reject(new SessionLost(this.gone, false));
    const id = this.next++;
    this.requests++;
    const code = requestCode(id, cmd.argv, cmd.env, cmd.stdin, cmd.prelude);
    let timer: NodeJS.Timeout | undefined;
    return new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
      this.queue.push({ id, resolve, reject });
      this.t.write(Buffer.from(code, 'utf8'));
      // no answer in time: the node or the way there hangs; the session is torn down (its command may have run)
      if (limitMs !== undefined) timer = setTimeout(() => this.destroy(`no answer from the node within ${Math.round(limitMs / 1000)} s`), limitMs);
    }).finally(() => clearTimeout(timer));
  }

  /** Ask the shell to end after what it runs now, and send nothing more. */
  close(): void {
    if (this.gone === undefined) this.t.write(Buffer.from('exit 0\n'));
    this.lost('the session was closed');
  }

  /** Tear the connection down (what runs on the node is left to the shell's end of input). */
  destroy(why = 'the session was torn down'): void {
    this.lost(why);
    this.t.destroy();
  }

  private lost(why: string): void {
    if (this.gone === undefined) this.gone = why;
    for (const p of this.queue.splice(0)) p.reject(new SessionLost(why, this.ready));
  }

  /** Chunks not yet joined into buf (a frame's end is still to come), and the end line awaited, if known. */
  private pending: Buffer[] = [];
  private awaiting: Buffer | undefined;
  /** The last bytes received (fewer than the awaited end line): that line may begin in one chunk and end in the next. */
  private tail: Buffer = Buffer.alloc(0);

  private data(chunk: Buffer): void {
    if (this.awaiting) {
      // a large output comes in many chunks: each is searched (with the bytes before it) for the frame's end, and they
      // are joined once it is there, not at every chunk
      const seam = Buffer.concat([this.tail, chunk]);
      this.pending.push(chunk);
      if (seam.indexOf(this.awaiting) < 0) {
        this.tail = seam.subarray(Math.max(0, seam.length - this.awaiting.length + 1));
        return;
      }
      chunk = Buffer.concat(this.pending);
      this.pending = [];
      this.awaiting = undefined;
    }
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl < 0) return;
      const line = this.buf.subarray(0, nl).toString('utf8');
      if (!line.startsWith(`${this.mark} `)) {
        // not ours (a login banner, a profile's output): skipped, up to the mark
        this.buf = this.buf.subarray(nl + 1);
        continue;
      }
      const f = line.slice(this.mark.length + 1).split(' ');
      if (f[0] === 'ready') {
        this.ready = true;
        this.buf = this.buf.subarray(nl + 1);
        continue;
      }
      // `<mark> <id>`, stdout, `\n<mark> <id> <exit>\n`, stderr, `\n<mark> <id> .\n` (exec/framed.ts)
      const id = f[0]!;
      const end = Buffer.from(`\n${this.mark} ${id} .\n`);
      const endAt = this.buf.indexOf(end, nl);
      if (endAt < 0) {
        // the rest is still coming: what is here waits in pending
        this.awaiting = end;
        this.pending = [this.buf];
        this.tail = this.buf.subarray(Math.max(0, this.buf.length - end.length + 1));
        this.buf = Buffer.alloc(0);
        return;
      }
      const frame = this.buf.subarray(0, endAt + end.length).toString('utf8');
      this.buf = this.buf.subarray(endAt + end.length);
      const [parsed] = parseFrames(frame, this.mark).frames;
      const at = this.queue.findIndex((p) => String(p.id) === id);
      if (parsed && at >= 0) this.queue.splice(at, 1)[0]!.resolve({ code: Number(parsed.code), stdout: parsed.stdout.toString('utf8'), stderr: parsed.stderr.toString('utf8') });
    }
  }
}

/**
 * The sessions of one node: a request takes an idle one or opens another. `open` starts the shell (argv
 * SESSION_ARGV on the node) and returns its transport. When a session cannot be opened or does not come
 * up, run() rejects with SessionLost (mayHaveRun false) and the pool is no longer `usable`: the caller then runs its
 * commands one exec each, as without sessions.
 */
/** The pools with sessions open in this process: ended together when the command ends (atEnd), at most 1 s. */
const openPools = new Set<SessionPool>();
let endRegistered = false;

/**
 * End every session of this process, all at once, waiting at most `ms` for them (registered with atEnd when the first
 * session opens, so it runs before the cleanups registered earlier, such as deleting the agent pods).
 */
export async function closeAllSessions(ms = 1000): Promise<void> {
  const pools = [...openPools];
  openPools.clear();
  await Promise.all(pools.map((p) => p.close(ms)));
}

export class SessionPool {
  private readonly idle: NodeSession[] = [];
  private readonly all = new Set<NodeSession>();
  usable = true;

  constructor(private readonly open: (argv: string[]) => Promise<SessionTransport>) {}

  /** Requests sent on the sessions of this pool so far (node round trips), and sessions opened (execs). */
  readonly counts = { requests: 0, sessions: 0 };

  /** One request (see NodeSession.request; `limitMs`: how long its answer may take before the session is given up). */
  async run(cmd: SessionCommand, limitMs?: number): Promise<{ code: number; stdout: string; stderr: string }> {
    let s = this.idle.pop();
    while (s && !s.alive) s = this.idle.pop();
    if (!s) {
      const mark = `@cni-attach-session-${randomBytes(8).toString('hex')}`;
      let t: SessionTransport;
      try {
        t = await this.open([...SESSION_ARGV]);
      } catch (e) {
        this.usable = false;
        throw new SessionLost(`could not open a session: ${(e as Error).message}`, false);
      }
      s = new NodeSession(t, mark);
      this.all.add(s);
      this.counts.sessions++;
      if (openPools.size === 0 && !endRegistered) {
        endRegistered = true;
        atEnd(() => closeAllSessions());
      }
      openPools.add(this);
    }
    this.counts.requests++;
    try {
      const r = await s.request(cmd, limitMs);
      this.idle.push(s);
      return r;
    } catch (e) {
      if (e instanceof SessionLost && !s.started) this.usable = false;
      this.all.delete(s);
      s.destroy();
      throw e;
    }
  }

  /**
   * End every session: an idle one is asked to end, one still busy (a request no longer waited for) is torn down.
   * Waits at most `ms` for them to end.
   */
  async close(ms = 1000): Promise<void> {
    const ending = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    for (const s of ending) (s.busy ? s.destroy() : s.close());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(ending.map((s) => s.ended)), new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }
}

/** How long a request may go unanswered beyond its command's own limit before its session is given up (ms). */
export const SESSION_GRACE_MS = 120_000;

/**
 * argv after the prelude's statements, as one sh command of its own (where there is no session): the statements as the
 * body of a function (cni_steps, given every argument), with a temporary directory of their own in `$t` (removed before
 * the command runs), then argv exec'd (none: the prelude alone). What the session's request code does with no sh
 * process (requestCode).
 */
export function withPrelude(argv: string[], prelude: Prelude): string[] {
  const script = [
    ownTmpDir('cni-attach-steps', true),
    't=$cni_t',
    'cni_steps() {',
    prelude.script,
    '}',
    'cni_steps "$@" || { r=$?; rm -rf "$t"; exit $r; }',
    'rm -rf "$t"',
    `shift ${prelude.args.length}`,
    argv.length ? 'exec "$@"' : 'exit 0',
  ].join('\n');
  return ['sh', '-c', script, 'sh', ...prelude.args, ...argv];
}

/**
 * Run one command (argv with exactly env, stdin; the prelude's statements before it) on `pool` when it is usable, else
 * through `exec` (an exec of its own, given the argv to run: withPrelude's when there is a prelude). A session that
 * could not be opened or never came up falls back to `exec` (the command did not run); one lost after the command was
 * sent, or silent for `limitMs`, is an UnreachableError (it may have run, its outcome is not known).
 */
export async function viaSession(
  pool: SessionPool | undefined,
  where: string,
  cmd: SessionCommand,
  exec: (argv: string[]) => Promise<{ code: number; stdout: string; stderr: string }>,
  limitMs = SESSION_GRACE_MS,
  /** The command as the message of a lost session names it (RunOptions.what): not a wrapper around it. */
  what = cmd.argv[0] ?? 'sh',
): Promise<{ code: number; stdout: string; stderr: string }> {
  const alone = () => exec(cmd.prelude ? withPrelude(cmd.argv, cmd.prelude) : cmd.argv);
  if (!pool?.usable) return alone();
  try {
    return await pool.run(cmd, limitMs);
  } catch (e) {
    if (!(e instanceof SessionLost)) throw e;
    if (!e.mayHaveRun) return alone();
    throw new UnreachableError(`running ${what} on ${where}: ${e.message} before it told how the command ended`, { cause: e });
  }
}
