/**
 * The executor inside a node container (a kind node): every command runs through the Docker exec API, files are read
 * and written with cat/mv inside it. The node's own plugins, IPAM state and CNI cache are used, as kubelet would.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type Dockerode from 'dockerode';
import { UnreachableError } from '../errors.js';
import type { RunOptions, RunResult } from './types.js';
import { onInterrupt } from './interrupt.js';
import { ShellExecutor } from './shell.js';

/**
 * The environment variable that marks every process of one run inside the container (inherited by what the command
 * starts, in whatever process group or session): what the user's signal kills there. See stopRun.
 */
export const RUN_MARK = 'KUBECTL_CNI_ATTACH_RUN';

/**
 * Kill, inside the container, every process whose environment holds `RUN_MARK=$1`, until none is left (at most 10
 * rounds: a process may be forking when its parent is killed). Needs only sh, tr, grep and kill.
 */
const KILL_MARKED = `m="${RUN_MARK}=$1"; for round in 1 2 3 4 5 6 7 8 9 10; do
  found=; for d in /proc/[0-9]*; do
    tr '\\000' '\\n' < "$d/environ" 2>/dev/null | grep -qxF "$m" && { kill -KILL "\${d#/proc/}" 2>/dev/null; found=1; }
  done; [ -z "$found" ] && exit 0
done`;

/** How often, and how long apart, the kill is tried before the run is no longer waited for (5 × 1 s). */
const STOP_TRIES = 5;
const STOP_WAIT_MS = 1000;

export class DockerExecExecutor extends ShellExecutor {
  readonly where: string;
  /** The container through the client for short requests (exec create and inspect): those end within its timeout. */
  private readonly container: Dockerode.Container;

  /**
   * docker: the client for exec streams, without a timeout (a plugin may be silent as long as its own limit allows);
   * requests: the client for the short requests, with the request timeout (default: docker).
   */
  constructor(
    private readonly docker: Dockerode,
    readonly containerName: string,
    private readonly requests: Dockerode = docker,
  ) {
    super();
    this.where = `node container ${containerName}`;
    this.container = requests.getContainer(containerName);
  }

  /**
   * Run argv in the container. A timeout is enforced inside it with GNU `timeout -s KILL` (the exec API cannot signal
   * an exec'd process: moby has no "exec kill"), which makes its own process group and signals all of it: the plugin
   * and what it started. On the user's signal every process of the run is killed inside the container (stopRun): the
   * result says interrupted, and code null when the kill ended it.
   */
  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    const secs = opts.timeoutMs !== undefined ? Math.max(1, Math.ceil(opts.timeoutMs / 1000)) : undefined;
    const cmd = secs !== undefined ? ['timeout', '-s', 'KILL', `${secs}s`, ...argv] : argv;
    const id = randomBytes(12).toString('hex');
    const env = [...Object.entries(opts.env ?? this.baseEnv()).map(([k, v]) => `${k}=${v}`), `${RUN_MARK}=${id}`];
    let stoppedBy: string | undefined;
    let ended = false;
    let finished: Promise<void> = new Promise(() => undefined);
    let signalled: (sig: string) => void = () => undefined;
    const stopped = new Promise<string>((r) => (signalled = r));
    let giveUp: () => void = () => undefined;
    /** Resolves when the kills did not end the run (Docker not answering, a process that left the mark behind). */
    const gaveUp = new Promise<undefined>((r) => (giveUp = () => r(undefined)));
    // registered before the exec exists: a signal while it is created or started is acted on once it runs
    const off = onInterrupt((sig) => {
      if (stoppedBy) return 1;
      stoppedBy = sig;
      signalled(sig);
      void this.stopRun(id, () => ended, () => finished).then((still) => still && giveUp());
      return 1;
    });
    const interrupted = (stdout = '', stderr = ''): RunResult => ({ code: null, stdout, stderr, timedOut: false, interrupted: stoppedBy! });
    const mayStillRun = `(no longer waited for: it may still run in ${this.where})\n`;
    try {
      // every Docker request ends on the signal too: nothing has run before the exec is started
      let exec: Dockerode.Exec | undefined;
      try {
        exec = await Promise.race([this.container.exec({ Cmd: cmd, Env: env, AttachStdin: true, AttachStdout: true, AttachStderr: true }), stopped.then(() => undefined)]);
      } catch (e) {
        throw new UnreachableError(`cannot run ${argv[0]} in ${this.where}: ${(e as Error).message}`, { cause: e });
      }
      if (!exec || stoppedBy) return interrupted();
      const stream = await Promise.race([this.docker.getExec(exec.id).start({ hijack: true, stdin: true }), gaveUp]);
      if (!stream) return interrupted('', mayStillRun);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const o = new PassThrough().on('data', (c: Buffer) => out.push(c));
      const e = new PassThrough().on('data', (c: Buffer) => err.push(c));
      this.docker.modem.demuxStream(stream, o, e);
      finished = new Promise<void>((resolve, reject) => {
        stream.on('end', resolve);
        stream.on('close', resolve);
        stream.on('error', reject);
      }).finally(() => {
        ended = true;
      });
      finished.catch(() => undefined); // awaited below, unless given up on
      stream.end(opts.stdin ?? '');
      const given = await Promise.race([finished.then(() => false), gaveUp.then(() => true)]);
      if (given) stream.destroy();
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (given) return interrupted(stdout, `${stderr}${mayStillRun}`);
      // the run is over: its exit code, within a moment of a signal that comes meanwhile
      let info: Dockerode.ExecInspectInfo | undefined;
      try {
        info = await Promise.race([exec.inspect(), stopped.then(() => new Promise<undefined>((r) => setTimeout(r, STOP_WAIT_MS)))]);
      } catch (e) {
        throw new UnreachableError(`ran ${argv[0]} in ${this.where}, but Docker did not tell how it ended: ${(e as Error).message}`, { cause: e });
      }
      const code = info ? info.ExitCode ?? null : null;
      // killed (or finished) while the user's signal came: the engine must not build on it (RunResult.interrupted);
      // 137 is 128 + SIGKILL: the kill ended it
      if (stoppedBy) return code === 137 ? { ...interrupted(stdout, stderr), signal: 'SIGKILL' } : { code, stdout, stderr, timedOut: false, interrupted: stoppedBy };
      // timeout(1) exits 137 when it had to SIGKILL the command
      if (secs !== undefined && code === 137) return { code: null, signal: 'SIGKILL', stdout, stderr, timedOut: true };
      return { code, stdout, stderr, timedOut: false };
    } finally {
      off();
    }
  }

  /**
   * Kill the processes of run `id` inside the container (by their RUN_MARK: the exec API cannot signal them, and the
   * pid Docker reports is of the engine's host, not of this one), again each second until the run ended; true when it
   * still had not after STOP_TRIES tries.
   */
  private async stopRun(id: string, ended: () => boolean, finished: () => Promise<void>): Promise<boolean> {
    for (let i = 0; i < STOP_TRIES && !ended(); i++) {
      void this.killMarked(id).catch(() => undefined);
      await Promise.race([finished().catch(() => undefined), new Promise((r) => setTimeout(r, STOP_WAIT_MS))]);
    }
    return !ended();
  }

  /** One `sh -c KILL_MARKED` in the container (not itself marked, not itself stopped by the signal). */
  private async killMarked(id: string): Promise<void> {
    const exec = await this.container.exec({ Cmd: ['sh', '-c', KILL_MARKED, 'sh', id], Env: [`PATH=${this.baseEnv().PATH}`], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    stream.resume();
    await new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
  }
}
