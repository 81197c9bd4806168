/**
 * Executors that reach a node only by running commands there (a node container through the Docker exec API, a node
 * through an agent pod's exec): files are read and written with sh, cat and mv on the node. Subclasses give run().
 */
import type { Executor, PathKind, RunOptions, RunResult } from './types.js';

export const NODE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export abstract class ShellExecutor implements Executor {
  abstract readonly where: string;
  abstract run(argv: string[], opts?: RunOptions): Promise<RunResult>;

  baseEnv(): Record<string, string> {
    return { PATH: NODE_PATH };
  }

  protected sh(script: string, args: string[] = [], stdin?: string): Promise<RunResult> {
    return this.run(['sh', '-c', script, 'sh', ...args], { env: this.baseEnv(), ...(stdin !== undefined ? { stdin } : {}) });
  }

  private fail(what: string, r: RunResult): Error {
    return new Error(`${what} on ${this.where}: ${r.stderr.trim() || `exit ${r.code}`}`);
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

  /** noclobber (O_EXCL) creation, after making the directory (0700); exit 3 when something is there already. */
  async createExclusive(path: string, data: string, mode = 0o600): Promise<boolean> {
    const script = `d=$(dirname "$1"); mkdir -p "$d" && chmod 700 "$d" || exit 1; umask 077; set -C; cat > "$1" 2>/dev/null && { chmod ${mode.toString(8)} "$1"; exit 0; }; [ -e "$1" ] && exit 3; echo "cannot create $1" >&2; exit 1`;
    const r = await this.sh(script, [path], data);
    if (r.code === 3) return false;
    if (r.code !== 0) throw this.fail(`creating ${path}`, r);
    return true;
  }

  /** From the node's clock and the file's mtime, to the second. */
  async ageMs(path: string): Promise<number | undefined> {
    const r = await this.sh('[ -e "$1" ] || exit 3; echo $(( $(date +%s) - $(stat -c %Y "$1") ))', [path]);
    if (r.code === 3) return undefined;
    const s = Number(r.stdout.trim());
    if (r.code !== 0 || !Number.isFinite(s)) throw this.fail(`reading the age of ${path}`, r);
    return s * 1000;
  }
}
