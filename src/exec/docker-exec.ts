/**
 * The executor inside a node container (a kind node): every command runs through the Docker exec API, files are read
 * and written with cat/mv inside it. The node's own plugins, IPAM state and CNI cache are used, as kubelet would.
 */
import { PassThrough } from 'node:stream';
import type Dockerode from 'dockerode';
import { UnreachableError } from '../cni/errors.js';
import type { Executor, Lock, PathKind, RunOptions, RunResult } from './types.js';
import { onInterrupt } from './interrupt.js';

const NODE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class DockerExecExecutor implements Executor {
  readonly where: string;
  private readonly container: Dockerode.Container;

  constructor(
    private readonly docker: Dockerode,
    readonly containerName: string,
  ) {
    this.where = `node container ${containerName}`;
    this.container = docker.getContainer(containerName);
  }

  baseEnv(): Record<string, string> {
    return { PATH: NODE_PATH };
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
    // on Ctrl-C: kill what we started in the container (the exec's pid, as the container sees it)
    const off = onInterrupt(() => {
      void exec.inspect().then((i) => (i.Pid ? this.container.exec({ Cmd: ['kill', '-9', String(i.Pid)] }).then((k) => k.start({})) : undefined)).catch(() => undefined);
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
    if (secs !== undefined && code === 137) return { code: null, signal: 'SIGKILL', stdout, stderr, timedOut: true };
    return { code, stdout, stderr, timedOut: false };
  }

  private async sh(script: string, args: string[] = [], stdin?: string): Promise<RunResult> {
    return this.run(['sh', '-c', script, 'sh', ...args], { env: this.baseEnv(), ...(stdin !== undefined ? { stdin } : {}) });
  }

  private fail(what: string, r: RunResult): Error {
    return new Error(`${what} in ${this.where}: ${r.stderr.trim() || `exit ${r.code}`}`);
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

  async pathKind(path: string): Promise<PathKind> {
    const r = await this.sh('[ -e "$1" ] || { echo missing; exit 0; }; stat -L -f -c %T "$1"', [path]);
    const t = r.stdout.trim();
    return t === 'missing' ? 'missing' : t === 'nsfs' ? 'netns' : 'other';
  }

  /**
   * noclobber creation (O_EXCL) of a lock file holding the pid of this CLI on the Docker host; a lock whose pid is no
   * longer alive here is broken (the CLI and dockerd share a host in kind setups).
   */
  async tryLock(path: string): Promise<Lock | undefined> {
    const me = `${process.pid}`;
    const take = `mkdir -p "$(dirname "$1")" && chmod 700 "$(dirname "$1")" && set -C && echo "$2" > "$1"`;
    for (let attempt = 0; attempt < 2; attempt++) {
      if ((await this.sh(take, [path, me])).code === 0) {
        let released = false;
        return {
          release: async () => {
            if (released) return;
            released = true;
            await this.removeFile(path);
          },
        };
      }
      const holder = Number((await this.readFile(path))?.trim());
      if (!Number.isInteger(holder) || holder <= 0) return undefined;
      try {
        process.kill(holder, 0);
        return undefined; // alive
      } catch {
        await this.sh(`[ "$(cat "$1")" = "$2" ] && rm -f "$1"`, [path, String(holder)]);
      }
    }
    return undefined;
  }
}
