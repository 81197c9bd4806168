/**
 * The executor inside a node container (a kind node): every command runs through the Docker exec API, files are read
 * and written with cat/mv inside it. The node's own plugins, IPAM state and CNI cache are used, as kubelet would.
 */
import { PassThrough } from 'node:stream';
import type Dockerode from 'dockerode';
import { UnreachableError } from '../errors.js';
import { OutputBuffer, type RunOptions, type RunResult } from './types.js';
import { type Ran, runStoppable, ShellExecutor } from './shell.js';
import { SESSION_GRACE_MS, type SessionCommand, SessionPool, type SessionTransport, viaSession } from './node-session.js';

export class DockerExecExecutor extends ShellExecutor {
  readonly where: string;
  readonly elsewhere: string;
  /** The container through the client for short requests (exec create and inspect): those end within its timeout. */
  private readonly container: Dockerode.Container;

  /** Long-lived execs carrying the commands (exec/node-session.ts). */
  readonly sessions: SessionPool;

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
   * the result says interrupted, and code null when the kill ended it; a run those kills do not end within about 5 s
   * is no longer waited for (runStoppable).
   */
  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    // on a node session; where none can be had, as an exec of its own (viaSession)
    const send = (c: SessionCommand, t: number | undefined, w: string) =>
      viaSession(this.sessions, this.where, c, (a) => this.execOnce(a, c.env, c.stdin, w), (t ?? 0) + SESSION_GRACE_MS, w);
    return runStoppable(this.where, (k) => this.runShort(k), send, argv, opts, this.baseEnv());
  }

  /** One command as an exec of its own, with exactly env: its exit code and output (no signal handling: runStoppable's). */
  private async execOnce(argv: string[], env: string[], stdin: string, what = argv[0]): Promise<Ran> {
    let exec: Dockerode.Exec;
    let stream: NodeJS.ReadWriteStream;
    try {
      exec = await this.container.exec({ Cmd: ['env', '-i', ...env, ...argv], AttachStdin: true, AttachStdout: true, AttachStderr: true });
      stream = await this.docker.getExec(exec.id).start({ hijack: true, stdin: true });
    } catch (e) {
      throw new UnreachableError(`cannot run ${what} in ${this.where}: ${(e as Error).message}`, { cause: e });
    }
    // each output kept up to the limit (the rest read and dropped): runStoppable cuts it and says so
    const out = new OutputBuffer();
    const err = new OutputBuffer();
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
      throw new UnreachableError(`ran ${what} in ${this.where}, but Docker did not tell how it ended: ${(e as Error).message}`, { cause: e });
    }
    if (typeof info.ExitCode !== 'number') throw new UnreachableError(`ran ${what} in ${this.where}, but Docker did not tell how it ended`);
    return { code: info.ExitCode, stdout: out.text(), stderr: err.text() };
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
