/**
 * Running the real CLI binaries with control over what runCli (cli.ts) fixes: the environment (CNI_PATH, PATH, …),
 * the working directory, the umask, and an exact crash point (crash-at.mjs). Never throws.
 */
import { join } from 'node:path';
import { execa } from 'execa';
import type { CliResult } from './cli.js';
import { BIN, ROOT, type Tool } from './env.js';

export const CRASH_PRELOAD = join(ROOT, 'test/helpers/crash-at.mjs');

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  /** Working directory of the run (default: the test process's). */
  cwd?: string;
  /** Variables to set (undefined removes one). The base is the test's environment minus CNI_*. */
  env?: Record<string, string | undefined>;
  /** Run under this umask (through sh). */
  umask?: string;
  /** SIGKILL the CLI at this point of its file work: see crash-at.mjs (e.g. "before:rename:/results/"). */
  crashAt?: string;
}

export interface RunResult extends CliResult {
  signal?: string;
}

function environment(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('CNI_')) env[k] = v;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Run bin/kubectl-cni_<tool> (through node, so that a preload can be given) with the options above. */
export async function runBin(tool: Tool, args: string[], o: RunOptions = {}): Promise<RunResult> {
  const start = Date.now();
  const node = [...(o.crashAt ? ['--import', CRASH_PRELOAD] : []), BIN[tool], ...args];
  const argv = o.umask ? ['sh', '-c', `umask ${o.umask} && exec "$0" "$@"`, process.execPath, ...node] : [process.execPath, ...node];
  const env = environment({ ...o.env, ...(o.crashAt ? { RELIABILITY_CRASH: o.crashAt } : {}) });
  const r = await execa(argv[0]!, argv.slice(1), {
    reject: false,
    input: o.input ?? '',
    env,
    extendEnv: false,
    cwd: o.cwd,
    timeout: o.timeoutMs ?? 45_000,
  });
  return {
    tool,
    args,
    exitCode: r.exitCode,
    ...(r.signal ? { signal: r.signal } : {}),
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    ms: Date.now() - start,
  };
}

/** Map items to promises with at most `limit` running at once; results in input order. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}
