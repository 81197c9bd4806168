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
