/** The executor that runs on this host: execa for processes, node:fs for files. The only file here that touches the OS. */
import { constants as fsc } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, rm, stat, statfs, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import type { Executor, Lock, PathKind, RunOptions, RunResult } from './types.js';
import { onInterrupt } from './interrupt.js';

/** Process groups of the plugins running now: killed when the CLI is interrupted. */
const running = new Set<number>();
onInterrupt(() => {
  for (const pgid of running) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  return running.size;
});

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

/** Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), or undefined if it is gone. */
async function processStart(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces and parentheses: split after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

export class LocalExecutor implements Executor {
  readonly where = 'this host';
  /** Directories this process made or found (a batch writes thousands of files into the same few). */
  private readonly dirs = new Set<string>();
  private myStart: Promise<string | undefined> | undefined;

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
    const child = execa(file, args, {
      env: opts.env ?? this.baseEnv(),
      extendEnv: false,
      input: opts.stdin ?? '',
      reject: false,
      stripFinalNewline: false,
      // its own process group, so that a timeout kills the plugin *and* what it started (IPAM plugins, …)
      detached: true,
    });
    let timer: NodeJS.Timeout | undefined;
    if (child.pid !== undefined) running.add(child.pid);
    if (opts.timeoutMs !== undefined && child.pid !== undefined) {
      const pid = child.pid;
      timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, opts.timeoutMs);
    }
    const r = await child;
    if (timer) clearTimeout(timer);
    if (child.pid !== undefined) running.delete(child.pid);
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
    };
  }

  async readFile(path: string): Promise<string | undefined> {
    try {
      return await readFile(path, 'utf8');
    } catch (e) {
      if (errno(e) === 'ENOENT') return undefined;
      throw e;
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
    const me = process.geteuid?.() ?? 0;
    if (st.uid !== me) return `it belongs to uid ${st.uid}, not to uid ${me}`;
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

  processAlive(pid: number): boolean {
    if (pid === process.pid) return true;
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return errno(e) === 'EPERM';
    }
  }

  async tryLock(path: string): Promise<Lock | undefined> {
    const me = `${process.pid} ${(await (this.myStart ??= processStart(process.pid))) ?? ''}\n`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await this.inDir(dirname(path), () => open(path, 'wx', 0o600));
        await fh.writeFile(me);
        await fh.close();
        let released = false;
        return {
          release: async () => {
            if (released) return;
            released = true;
            await unlinkIfThere(path);
          },
        };
      } catch (e) {
        if (errno(e) !== 'EEXIST') throw e;
      }
      if (!(await this.breakIfStale(path))) return undefined;
    }
    return undefined;
  }

  /** Remove the lock at path if the process that wrote it is gone; true when removed. */
  private async breakIfStale(path: string): Promise<boolean> {
    const holder = await this.readFile(path);
    if (holder === undefined) return true;
    const [pidText, start] = holder.trim().split(' ');
    const pid = Number(pidText);
    if (Number.isInteger(pid) && pid > 0) {
      const now = await processStart(pid);
      if (now !== undefined && (start === undefined || start === '' || now === start)) return false; // alive
    } else {
      // half-written by a process killed between create and write: give it a moment, then break
      const age = Date.now() - (await stat(path).then((s) => s.mtimeMs).catch(() => 0));
      if (age < 2000) return false;
    }
    // Serialise breakers so that two of them cannot both remove and re-create.
    const breaker = `${path}.break`;
    try {
      const fh = await open(breaker, 'wx', 0o600);
      await fh.close();
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
      const age = Date.now() - (await stat(breaker).then((s) => s.mtimeMs).catch(() => Date.now()));
      if (age > 10_000) await rm(breaker, { force: true });
      return false;
    }
    try {
      if ((await this.readFile(path)) === holder) await unlink(path).catch(() => undefined);
      return true;
    } finally {
      await rm(breaker, { force: true });
    }
  }
}
