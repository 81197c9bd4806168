/** Running host commands (ip, tc, sysctl, …) from tests. */
import { execa } from 'execa';

export interface ShResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** Run argv; never throws for a non-zero exit. */
export async function sh(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ShResult> {
  const [file, ...args] = argv;
  const r = await execa(file!, args, { reject: false, input: opts.input ?? '', timeout: opts.timeoutMs ?? 30_000 });
  return { exitCode: r.exitCode, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** Run argv and return stdout; throws with the command and its stderr when it fails. */
export async function must(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await sh(argv, opts);
  if (r.exitCode !== 0) {
    throw new Error(`command failed (exit ${r.exitCode}): ${argv.join(' ')}\n${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

/** Pids of processes whose full command line matches the regex (pgrep -f). */
export async function pgrep(pattern: string): Promise<number[]> {
  return (await sh(['pgrep', '-f', pattern])).stdout.split('\n').filter(Boolean).map(Number);
}

/** Poll until check() is true or timeoutMs passes; returns the last value of check(). */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000, everyMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** "300.123456123456": a sleep duration nobody else uses, so that a stray `sleep` of a test can be found by it. */
export function uniqueSeconds(whole: number): string {
  const r = () => String(100_000 + Math.floor(Math.random() * 900_000));
  return `${whole}.${r()}${r()}`;
}

/** SIGKILL, by pid, the processes whose command line matches pattern (only ours: the pattern is unique). */
export async function killAll(pattern: string): Promise<void> {
  for (const pid of await pgrep(pattern)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
