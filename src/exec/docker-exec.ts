/**
 * The executor inside a node container (a kind node): every command runs through the Docker exec API, files are read
 * and written with cat/mv inside it. The node's own plugins, IPAM state and CNI cache are used, as kubelet would.
 */
import { PassThrough } from 'node:stream';
import type Dockerode from 'dockerode';
import { UnreachableError } from '../errors.js';
import type { RunOptions, RunResult } from './types.js';
import { signal } from './host.js';
import { onInterrupt } from './interrupt.js';
import { ShellExecutor } from './shell.js';

export class DockerExecExecutor extends ShellExecutor {
  readonly where: string;
  private readonly container: Dockerode.Container;

  constructor(
    private readonly docker: Dockerode,
    readonly containerName: string,
  ) {
    super();
    this.where = `node container ${containerName}`;
    this.container = docker.getContainer(containerName);
  }

  /**
   * Run argv in the container. A timeout is enforced inside it with GNU `timeout -s KILL` (the exec API cannot signal
   * an exec'd process), which makes its own process group and signals all of it: the plugin and what it started.
   */
  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    const secs = opts.timeoutMs !== undefined ? Math.max(1, Math.ceil(opts.timeoutMs / 1000)) : undefined;
    const cmd = secs !== undefined ? ['timeout', '-s', 'KILL', `${secs}s`, ...argv] : argv;
    const env = Object.entries(opts.env ?? this.baseEnv()).map(([k, v]) => `${k}=${v}`);
    let exec: Dockerode.Exec;
    try {
      exec = await this.container.exec({ Cmd: cmd, Env: env, AttachStdin: true, AttachStdout: true, AttachStderr: true });
    } catch (e) {
      throw new UnreachableError(`cannot run ${argv[0]} in ${this.where}: ${(e as Error).message}`, { cause: e });
    }
    const stream = await exec.start({ hijack: true, stdin: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const o = new PassThrough().on('data', (c: Buffer) => out.push(c));
    const e = new PassThrough().on('data', (c: Buffer) => err.push(c));
    this.docker.modem.demuxStream(stream, o, e);
    const finished = new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', reject);
    });
    // on Ctrl-C: kill what we started (Docker reports the exec's pid as this host sees it; timeout(1) leads its group)
    let stoppedBy: string | undefined;
    const off = onInterrupt((sig) => {
      stoppedBy ??= sig;
      void exec.inspect().then((i) => {
        if (!i.Pid) return;
        for (const target of [-i.Pid, i.Pid]) signal(target, 'SIGKILL');
      }).catch(() => undefined);
      return 1;
    });
    stream.end(opts.stdin ?? '');
    try {
      await finished;
    } finally {
      off();
    }
    const info = await exec.inspect();
    const code = info.ExitCode ?? null;
    const stdout = Buffer.concat(out).toString('utf8');
    const stderr = Buffer.concat(err).toString('utf8');
    // timeout(1) exits 137 when it had to SIGKILL the command
    // killed (or finished) while the user's signal came: the engine must not build on it (RunResult.interrupted)
    if (stoppedBy) return { code, stdout, stderr, timedOut: false, interrupted: stoppedBy };
    if (secs !== undefined && code === 137) return { code: null, signal: 'SIGKILL', stdout, stderr, timedOut: true };
    return { code, stdout, stderr, timedOut: false };
  }
}
