/**
 * The executor inside a node container (a kind node): every command runs through the Docker exec API, files are read
 * and written with cat/mv inside it. The node's own plugins, IPAM state and CNI cache are used, as kubelet would.
 */
import { PassThrough } from 'node:stream';
import type Dockerode from 'dockerode';
import { UnreachableError } from '../errors.js';
import type { RunOptions, RunResult } from './types.js';
import { type Ran, runStoppable, ShellExecutor, STOP_WAIT_MS, StoppableRun } from './shell.js';
import { SESSION_GRACE_MS, SessionPool, type SessionTransport, viaSession } from './node-session.js';

export class DockerExecExecutor extends ShellExecutor {
  readonly where: string;
  readonly elsewhere: string;
  /** The container through the client for short requests (exec create and inspect): those end within its timeout. */
  private readonly container: Dockerode.Container;

  /**
   * docker: the client for exec streams, without a timeout (a plugin may be silent as long as its own limit allows);
   * requests: the client for the short requests, with the request timeout (default: docker).
   */
  /** Long-lived execs carrying the commands (exec/node-session.ts). */
  readonly sessions: SessionPool;

  constructor(
    private readonly docker: Dockerode,
    readonly containerName: string,
    private readonly requests: Dockerode = docker,
  ) {
    super();
    this.where = `node container ${containerName}`;
    this.elsewhere = this.where;
    this.container = requests.getContainer(containerName);
    this.sessions = new SessionPool((argv) => this.openSession(argv));
  }

  /** The loop of a session, as one exec whose stdin stays open (its stderr is dropped: the loop writes none). */
  private async openSession(argv: string[]): Promise<SessionTransport> {
    const exec = await this.container.exec({ Cmd: argv, Env: [`PATH=${this.baseEnv().PATH}`], AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const stream = await this.docker.getExec(exec.id).start({ hijack: true, stdin: true });
    const out = new PassThrough();
    this.docker.modem.demuxStream(stream, out, new PassThrough().resume());
    const ended = new Promise<void>((resolve) => {
      stream.on('end', () => resolve());
      stream.on('close', () => resolve());
      stream.on('error', () => resolve());
    });
    return {
      write: (data) => void stream.write(data),
      onData: (cb) => void out.on('data', cb),
      ended,
      destroy: () => stream.destroy(),
    };
  }

  /**
   * Run argv in the container. A timeout is enforced inside it with GNU `timeout -s KILL` (the exec API cannot signal
   * an exec'd process: moby has no "exec kill"), which makes its own process group and signals all of it: the plugin
   * and what it started. On the user's signal every process of the run is killed inside the container (StoppableRun):
   * the result says interrupted, and code null when the kill ended it. Every Docker request ends on the signal too.
   */
  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    if (!this.sessions.usable) return this.runExec(argv, opts);
    const send = (a: string[], e: string[], i: string, t: number | undefined) =>
      viaSession(this.sessions, this.where, a, e, i, () => this.execOnce(a, e, i), (t ?? 0) + SESSION_GRACE_MS);
    return runStoppable(this.where, (k) => this.runShort(k), send, argv, opts, this.baseEnv());
  }

  /** One command as an exec of its own, with exactly env: its exit code and output (no signal handling: runStoppable's). */
  private async execOnce(argv: string[], env: string[], stdin: string): Promise<Ran> {
    let exec: Dockerode.Exec;
    let stream: NodeJS.ReadWriteStream;
    try {
      exec = await this.container.exec({ Cmd: ['env', '-i', ...env, ...argv], AttachStdin: true, AttachStdout: true, AttachStderr: true });
      stream = await this.docker.getExec(exec.id).start({ hijack: true, stdin: true });
    } catch (e) {
      throw new UnreachableError(`cannot run ${argv[0]} in ${this.where}: ${(e as Error).message}`, { cause: e });
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    this.docker.modem.demuxStream(stream, new PassThrough().on('data', (c: Buffer) => out.push(c)), new PassThrough().on('data', (c: Buffer) => err.push(c)));
    await new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', reject);
      stream.end(stdin);
    });
    let info: Dockerode.ExecInspectInfo;
    try {
      info = await exec.inspect();
    } catch (e) {
      throw new UnreachableError(`ran ${argv[0]} in ${this.where}, but Docker did not tell how it ended: ${(e as Error).message}`, { cause: e });
    }
    if (typeof info.ExitCode !== 'number') throw new UnreachableError(`ran ${argv[0]} in ${this.where}, but Docker did not tell how it ended`);
    return { code: info.ExitCode, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
  }

  /** One command as an exec of its own, stopped on the user's signal (the way without sessions). */
  private async runExec(argv: string[], opts: RunOptions): Promise<RunResult> {
    const secs = opts.timeoutMs !== undefined ? Math.max(1, Math.ceil(opts.timeoutMs / 1000)) : undefined;
    const cmd = secs !== undefined ? ['timeout', '-s', 'KILL', `${secs}s`, ...argv] : argv;
    // registered before the exec exists: a signal while it is created or started is acted on once it runs
    const stop = new StoppableRun((kill) => this.runShort(kill));
    const env = [...Object.entries(opts.env ?? this.baseEnv()).map(([k, v]) => `${k}=${v}`), stop.mark];
    const interrupted = (stdout = '', stderr = ''): RunResult => ({ code: null, stdout, stderr, timedOut: false, interrupted: stop.stoppedBy! });
    try {
      // nothing has run before the exec is started
      let exec: Dockerode.Exec | undefined;
      try {
        exec = await Promise.race([this.container.exec({ Cmd: cmd, Env: env, AttachStdin: true, AttachStdout: true, AttachStderr: true }), stop.stopped.then(() => undefined)]);
      } catch (e) {
        throw new UnreachableError(`cannot run ${argv[0]} in ${this.where}: ${(e as Error).message}`, { cause: e });
      }
      if (!exec || stop.stoppedBy) return interrupted();
      const stream = await Promise.race([this.docker.getExec(exec.id).start({ hijack: true, stdin: true }), stop.gaveUp]);
      if (!stream) return interrupted('', stop.mayStillRun(this.where));
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const o = new PassThrough().on('data', (c: Buffer) => out.push(c));
      const e = new PassThrough().on('data', (c: Buffer) => err.push(c));
      this.docker.modem.demuxStream(stream, o, e);
      const finished = stop.track(new Promise<void>((resolve, reject) => {
        stream.on('end', resolve);
        stream.on('close', resolve);
        stream.on('error', reject);
      }));
      stream.end(opts.stdin ?? '');
      const given = await Promise.race([finished.then(() => false), stop.gaveUp.then(() => true)]);
      if (given) stream.destroy();
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (given) return interrupted(stdout, `${stderr}${stop.mayStillRun(this.where)}`);
      // the run is over: its exit code, within a moment of a signal that comes meanwhile
      let info: Dockerode.ExecInspectInfo | undefined;
      try {
        info = await Promise.race([exec.inspect(), stop.stopped.then(() => new Promise<undefined>((r) => setTimeout(r, STOP_WAIT_MS)))]);
      } catch (e) {
        throw new UnreachableError(`ran ${argv[0]} in ${this.where}, but Docker did not tell how it ended: ${(e as Error).message}`, { cause: e });
      }
      const code = info ? info.ExitCode ?? null : null;
      // killed (or finished) while the user's signal came: the engine must not build on it (RunResult.interrupted);
      // 137 is 128 + SIGKILL: the kill ended it
      if (stop.stoppedBy) return code === 137 ? { ...interrupted(stdout, stderr), signal: 'SIGKILL' } : { code, stdout, stderr, timedOut: false, interrupted: stop.stoppedBy };
      // timeout(1) exits 137 when it had to SIGKILL the command
      if (secs !== undefined && code === 137) return { code: null, signal: 'SIGKILL', stdout, stderr, timedOut: true };
      return { code, stdout, stderr, timedOut: false };
    } finally {
      stop.release();
    }
  }

  /** A short command in the container (the kill of a stopped run): not marked, not stopped by the signal. */
  private async runShort(argv: string[]): Promise<void> {
    const exec = await this.container.exec({ Cmd: argv, Env: [`PATH=${this.baseEnv().PATH}`], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    stream.resume();
    await new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
  }
}
