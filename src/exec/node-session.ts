/**
 * One long-lived command per node connection, carrying many commands: a node reached by commands (a kind node
 * container through `docker exec`, a node through an agent pod's pods/exec) pays for every new exec — a WebSocket
 * upgrade through the API server and the kubelet, a CRI exec, `runc exec`, a TLS handshake — far more than for a
 * message on a stream that is already open. So the executors open a session (one exec running SESSION_LOOP, a small sh
 * loop) and send each command as a request on its stdin; the loop runs it and sends back its exit code and output.
 *
 * The protocol (all of it here; the loop needs sh, mktemp, stat and cat, and GNU head or dd on the node):
 *  - the loop prints `<mark> ready` first (the mark: a random word per session, argument $1);
 *  - a request is a line `<id> <script bytes> <stdin bytes>`, then the script (sh that `exec`s the command: quoted
 *    argv, its environment, its time limit), then its stdin; the loop reads exactly that many bytes (`head -c` of GNU
 *    coreutils reads no further; elsewhere `dd bs=1`), runs the script in a subshell with stdin, stdout and stderr in
 *    files of its own, and prints `<mark> <id> <exit> <stdout bytes> <stderr bytes>`, then exactly that much of both
 *    outputs (a process the command left running that still writes to them cannot shift the frames that follow: it
 *    writes to this request's files, which nothing reads again);
 *  - a request may be given the session's scratch directory (`$w`, made once per session) in $CNI_ATTACH_SCRATCH
 *    (requestScript's `scratch`): a command that would make and remove a temp directory of its own uses that instead,
 *    two processes fewer per request (RunOptions.scratch);
 *  - the line `exit 0 0`, or the end of its stdin, ends the loop (which removes its temp directory).
 * Requests on one session run one after another; an executor keeps a pool and opens another session when all of its
 * sessions are busy (at most one per command in flight on that node), and closes them when the command ends.
 */
import { randomBytes } from 'node:crypto';
import { UnreachableError } from '../errors.js';
import { atEnd } from './interrupt.js';

/** The node side of a session: argv `sh -c SESSION_LOOP sh <mark>`. */
export const SESSION_LOOP = `M=$1
for c in mktemp stat cat; do command -v $c >/dev/null || exit 96; done
t=$(mktemp -d) || exit 97
trap 'rm -rf "$t"' EXIT
w="$t/w"; mkdir "$w" || exit 97
if head --version 2>/dev/null | grep -q coreutils; then rd() { head -c "$1"; }; else rd() { dd bs=1 count="$1" 2>/dev/null; }; fi
printf '%s ready\\n' "$M"
while IFS=' ' read -r id n m; do
  [ "$id" = exit ] && break
  if [ "$n" -gt 0 ]; then rd "$n" > "$t/s" || break; else : > "$t/s"; fi
  if [ "$m" -gt 0 ]; then rd "$m" > "$t/i" || break; else : > "$t/i"; fi
  ( . "$t/s" ) < "$t/i" > "$t/o.$id" 2> "$t/e.$id"; r=$?
  set -- $(stat -c %s "$t/o.$id" "$t/e.$id")
  printf '%s %s %s %s %s\\n' "$M" "$id" "$r" "$1" "$2"
  [ "$1" = 0 ] || head -c "$1" "$t/o.$id"
  [ "$2" = 0 ] || head -c "$2" "$t/e.$id"
done
exit 0`;

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

/**
 * The script of one request: `exec env -i NAME=VALUE… [timeout -s KILL Ns] argv…` — the command with exactly that
 * environment, as an exec of its own would run it; with `scratch`, also CNI_ATTACH_SCRATCH naming the session's
 * scratch directory (the loop's `$w`, expanded where the request runs; see RunOptions.scratch).
 */
export function requestScript(argv: string[], env: string[], scratch = false): string {
  return `exec env -i ${scratch ? '"CNI_ATTACH_SCRATCH=$w" ' : ''}${[...env, ...argv].map(shQuote).join(' ')}\n`;
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

  /** `mark`: the word the loop was started with (its $1). */
  constructor(
    private readonly t: SessionTransport,
    readonly mark: string,
  ) {
    t.onData((c) => this.data(c));
    void t.ended.then(() => this.lost('the session on the node ended'));
  }

  /** Whether requests may still be sent. */
  get alive(): boolean {
    return this.gone === undefined;
  }

  /** Whether a request is waiting for its answer. */
  get busy(): boolean {
    return this.queue.length > 0;
  }

  /** Whether the loop said ready (a request answered before it cannot have been run by it). */
  get started(): boolean {
    return this.ready;
  }

  /** Resolves when the transport ended. */
  get ended(): Promise<void> {
    return this.t.ended;
  }

  /**
   * Run one request: its script and stdin. Resolves with its exit code and output; rejects with SessionLost when the
   * session ends first (`mayHaveRun` false when the loop never came up, so nothing of it ran).
   */
  request(script: string, stdin: string, limitMs?: number): Promise<{ code: number; stdout: string; stderr: string }> {
    if (this.gone !== undefined) return Promise.reject(new SessionLost(this.gone, false));
    const id = this.next++;
    this.requests++;
    const s = Buffer.from(script, 'utf8');
    const i = Buffer.from(stdin, 'utf8');
    let timer: NodeJS.Timeout | undefined;
    return new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
      this.queue.push({ id, resolve, reject });
      this.t.write(Buffer.concat([Buffer.from(`${id} ${s.length} ${i.length}\n`), s, i]));
      // no answer in time: the node or the way there hangs; the session is torn down (its command may have run)
      if (limitMs !== undefined) timer = setTimeout(() => this.destroy(`no answer from the node within ${Math.round(limitMs / 1000)} s`), limitMs);
    }).finally(() => clearTimeout(timer));
  }

  /** Ask the loop to end after what it runs now, and send nothing more. */
  close(): void {
    if (this.gone === undefined) this.t.write(Buffer.from('exit 0 0\n'));
    this.lost('the session was closed');
  }

  /** Tear the connection down (what runs on the node is left to the loop's end of input). */
  destroy(why = 'the session was torn down'): void {
    this.lost(why);
    this.t.destroy();
  }

  private lost(why: string): void {
    if (this.gone === undefined) this.gone = why;
    for (const p of this.queue.splice(0)) p.reject(new SessionLost(why, this.ready));
  }

  /** Chunks not yet joined into buf, and how many bytes buf must hold before a frame can be taken (0: unknown). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private need = 0;

  private data(chunk: Buffer): void {
    // a large output comes in many chunks: they are joined once it is all there, not at every chunk
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.need > 0 && this.buf.length + this.pendingBytes < this.need) return;
    this.buf = Buffer.concat([this.buf, ...this.pending]);
    this.pending = [];
    this.pendingBytes = 0;
    this.need = 0;
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
      const [id, code, so, se] = f.map(Number) as [number, number, number, number];
      if (this.buf.length < nl + 1 + so + se) {
        this.need = nl + 1 + so + se; // the outputs are still coming
        return;
      }
      const out = this.buf.subarray(nl + 1, nl + 1 + so).toString('utf8');
      const err = this.buf.subarray(nl + 1 + so, nl + 1 + so + se).toString('utf8');
      this.buf = this.buf.subarray(nl + 1 + so + se);
      const at = this.queue.findIndex((p) => p.id === id);
      if (at >= 0) this.queue.splice(at, 1)[0]!.resolve({ code, stdout: out, stderr: err });
    }
  }
}

/**
 * The sessions of one node: a request takes an idle one or opens another. `open` starts the loop (argv `sh -c
 * SESSION_LOOP sh <mark>` on the node) and returns its transport. When a session cannot be opened or does not come
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
  async run(script: string, stdin: string, limitMs?: number): Promise<{ code: number; stdout: string; stderr: string }> {
    let s = this.idle.pop();
    while (s && !s.alive) s = this.idle.pop();
    if (!s) {
      const mark = `@cni-attach-session-${randomBytes(8).toString('hex')}`;
      let t: SessionTransport;
      try {
        t = await this.open(['sh', '-c', SESSION_LOOP, 'sh', mark]);
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
      const r = await s.request(script, stdin, limitMs);
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
 * Run one command (argv with exactly env, stdin) on `pool` when it is usable, else through `exec` (an exec of its
 * own). A session that could not be opened or never came up falls back to `exec` (the command did not run); one lost
 * after the command was sent, or silent for `limitMs`, is an UnreachableError (it may have run, its outcome is not
 * known).
 */
export async function viaSession(
  pool: SessionPool | undefined,
  where: string,
  argv: string[],
  env: string[],
  stdin: string,
  exec: () => Promise<{ code: number; stdout: string; stderr: string }>,
  limitMs = SESSION_GRACE_MS,
  /** The command as the message of a lost session names it (RunOptions.what): not a wrapper around it. */
  what = argv[0],
  /** Give the request the session's scratch directory (RunOptions.scratch). */
  scratch = false,
): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!pool?.usable) return exec();
  try {
    return await pool.run(requestScript(argv, env, scratch), stdin, limitMs);
  } catch (e) {
    if (!(e instanceof SessionLost)) throw e;
    if (!e.mayHaveRun) return exec();
    throw new UnreachableError(`running ${what} on ${where}: ${e.message} before it told how the command ended`, { cause: e });
  }
}
