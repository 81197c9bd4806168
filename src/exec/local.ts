/**
 * The executor that runs on this host: execa for processes, node:fs for files. With host.ts (this host's processes),
 * the only files that touch the OS.
 */
import { constants as fsc } from 'node:fs';
import { access, lstat, mkdir, open, readdir, rename, rm, stat, statfs, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { type Executor, type HostIdentity, MAX_OUTPUT_BYTES, type PathKind, type RunOptions, type RunResult } from './types.js';
import { signal, thisHost } from './host.js';
import { onInterrupt } from './interrupt.js';
import { judgePluginDirs, prefixesOf, trustKey, type TrustFacts } from './trust.js';

/** Process groups of the plugins running now: killed when the CLI is interrupted (and marked as such). */
const running = new Map<number, { interrupted?: string }>();
onInterrupt((sig) => {
  for (const [pgid, run] of running) {
    run.interrupted ??= sig;
    signal(-pgid, 'SIGKILL');
  }
  return running.size;
});

/**
 * How long to wait for stdout/stderr to reach EOF once the process itself is gone. A process's output is in the pipe
 * when it exits; only a process it started in another session (`setsid cmd &`) keeps the pipe open past that.
 */
const PIPE_GRACE_MS = 500;

const NSFS_MAGIC = 0x6e736673;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** unlink, where a file already gone is fine (fs.rm does the same with an extra lstat and more JavaScript). */
async function unlinkIfThere(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e;
  }
}

export class LocalExecutor implements Executor, HostIdentity {
  readonly where = 'this host';
  /** Its files are this host's: it can tell owners, inodes and processes (and the cache uses what it can tell). */
  readonly identity: HostIdentity = this;
  /** Directories this process made or found (a batch writes thousands of files into the same few). */
  private readonly dirs = new Set<string>();

  private async ensureDir(dir: string): Promise<void> {
    if (this.dirs.has(dir)) return;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    this.dirs.add(dir);
  }

  /** fn, run again once with the directory made anew if it failed because the directory went away meanwhile. */
  private async inDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
    await this.ensureDir(dir);
    try {
      return await fn();
    } catch (e) {
      if (errno(e) !== 'ENOENT') throw e;
      this.dirs.delete(dir);
      await this.ensureDir(dir);
      return fn();
    }
  }

  baseEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      // CNI_* from the caller's shell must never leak into a plugin run: we set them all ourselves.
      if (v !== undefined && !k.startsWith('CNI_')) env[k] = v;
    }
    return env;
  }

  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    const [file, ...args] = argv;
    if (!file) throw new Error('run: empty argv');
    let timedOut = false;
    let pipesHeld = false;
    const child = execa(file, args, {
      env: opts.env ?? this.baseEnv(),
      extendEnv: false,
      input: opts.stdin ?? '',
      reject: false,
      stripFinalNewline: false,
      maxBuffer: MAX_OUTPUT_BYTES,
      // its own process group, so that a timeout kills the plugin *and* what it started (IPAM plugins, …)
      detached: true,
    });
    const state: { interrupted?: string } = {};
    const pid = child.pid;
    if (pid !== undefined) running.set(pid, state);
    const timers: NodeJS.Timeout[] = [];
    // Stop waiting for the pipes: a descendant outside the process group (setsid) may hold them open for ever.
    const letPipesGo = () => {
      if (child.stdout?.readableEnded && child.stderr?.readableEnded) return;
      pipesHeld = true;
      child.stdout?.destroy();
      child.stderr?.destroy();
    };
    child.once('exit', () => timers.push(setTimeout(letPipesGo, PIPE_GRACE_MS)));
    if (opts.timeoutMs !== undefined && pid !== undefined) {
      timers.push(
        setTimeout(() => {
          timedOut = true;
          signal(-pid, 'SIGKILL');
          // the group is dead within moments; what still holds the pipes then is outside it
          timers.push(setTimeout(letPipesGo, PIPE_GRACE_MS));
          // setTimeout truncates a fraction (1.5 ms would be 1): never sooner than the limit, so rounded up
        }, Math.ceil(opts.timeoutMs)),
      );
    }
    const r = await child;
    for (const t of timers) clearTimeout(t);
    if (pid !== undefined) running.delete(pid);
    if (r.exitCode === undefined && !r.signal) {
      // could not start it at all (ENOENT, EACCES…)
      return { code: 127, stdout: '', stderr: r.shortMessage ?? String(r.message), timedOut: false };
    }
    return {
      code: r.exitCode ?? null,
      ...(r.signal ? { signal: r.signal } : {}),
      stdout: String(r.stdout ?? ''),
      stderr: String(r.stderr ?? ''),
      timedOut,
      ...(state.interrupted ? { interrupted: state.interrupted } : {}),
      ...(r.isMaxBuffer ? { outputLimit: MAX_OUTPUT_BYTES } : {}),
      ...(pipesHeld ? { pipesHeld } : {}),
    };
  }

  async readFile(path: string): Promise<string | undefined> {
    // opened non-blocking and checked before reading: a FIFO planted where a record or lock is expected would block
    // the open() in a pool thread, and no signal or time limit could end the process past it (issue 11, kind 2)
    let h;
    try {
      h = await open(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
    } catch (e) {
      if (errno(e) === 'ENOENT') return undefined;
      throw e;
    }
    try {
      if (!(await h.stat()).isFile()) throw Object.assign(new Error(`${path}: not a regular file`), { code: 'EFTYPE' });
      return await h.readFile('utf8');
    } finally {
      await h.close();
    }
  }

  async writeFileAtomic(path: string, data: string, mode = 0o600): Promise<void> {
    const dir = dirname(path);
    const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await this.inDir(dir, () => writeFile(tmp, data, { mode, flag: 'wx' }));
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async removeFile(path: string): Promise<void> {
    await unlinkIfThere(path);
  }

  async listDir(path: string): Promise<string[]> {
    try {
      return await readdir(path);
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return [];
      throw e;
    }
  }

  async isExecutable(path: string): Promise<boolean> {
    try {
      const s = await stat(path);
      if (!s.isFile()) return false;
      await access(path, fsc.X_OK);
      return true;
    } catch {
      return false;
    }
  }

  /** exec/trust.ts, from lstat and stat of this host's paths (as trustShell gathers them on a node). */
  async untrustedPluginDirs(dirs: string[]): Promise<string | undefined> {
    const facts: TrustFacts = { me: process.geteuid?.() ?? 0, lstat: new Map(), stat: new Map(), files: new Map() };
    const look = async (p: string): Promise<boolean> => {
      try {
        const l = await lstat(p);
        facts.lstat.set(p, { uid: l.uid, mode: l.mode });
      } catch {
        return false;
      }
      await stat(p).then((s) => facts.stat.set(p, { uid: s.uid, mode: s.mode }), () => undefined);
      return true;
    };
    for (const d of dirs.map(trustKey)) {
      for (const p of prefixesOf(d)) if (!(await look(p))) break;
      const files: string[] = [];
      for (const n of await readdir(d).catch(() => [] as string[])) {
        const f = d === '/' ? `/${n}` : `${d}/${n}`;
        if (n.startsWith('.') || n.includes('\n') || !(await look(f))) continue;
        // what is not a directory: any file a plugin could be (a link to nothing too: the rule refuses it)
        if (((facts.stat.get(f)?.mode ?? 0) & 0o170000) !== 0o040000) files.push(f);
      }
      facts.files.set(d, files);
    }
    return judgePluginDirs(dirs, facts);
  }

  async pathKind(path: string): Promise<PathKind> {
    try {
      const s = await statfs(path);
      return Number(s.type) === NSFS_MAGIC ? 'netns' : 'other';
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return 'missing';
      throw e;
    }
  }

  async untrustedDir(path: string): Promise<string | undefined> {
    let st;
    try {
      st = await stat(path);
    } catch (e) {
      if (errno(e) === 'ENOENT') return undefined;
      throw e;
    }
    if (!st.isDirectory()) return undefined; // not a trust question: using it fails later, with its own message
    // root may write anything anyway: a directory of root's is as safe for any user as one of their own
    const me = process.geteuid?.() ?? 0;
    if (st.uid !== me && st.uid !== 0) return `it belongs to uid ${st.uid}, neither to root nor to uid ${me} (this user)`;
    if (st.mode & 0o022) return `group or others may write it (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`;
    return undefined;
  }

  async netnsId(path: string): Promise<string | undefined> {
    try {
      const st = await stat(path);
      return `${st.dev}:${st.ino}`;
    } catch {
      return undefined;
    }
  }

  async fileId(path: string): Promise<string | undefined> {
    try {
      const st = await stat(path, { bigint: true });
      return st.isFile() ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : undefined;
    } catch {
      return undefined;
    }
  }

  startOf(pid: number): Promise<string | undefined> {
    return thisHost.startOf(pid);
  }

  async createExclusive(path: string, data: string, mode = 0o600): Promise<boolean> {
    let fh;
    try {
      fh = await this.inDir(dirname(path), () => open(path, 'wx', mode));
    } catch (e) {
      if (errno(e) === 'EEXIST') return false;
      throw e;
    }
    try {
      await fh.writeFile(data);
    } catch (e) {
      // created but not written (ENOSPC: the cache on a full file system): a lock nobody could tell the holder of
      // must not stay behind
      await fh.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      throw e;
    }
    await fh.close();
    return true;
  }

  async ageMs(path: string): Promise<number | undefined> {
    try {
      return Date.now() - (await stat(path)).mtimeMs;
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return undefined;
      throw e;
    }
  }
}
