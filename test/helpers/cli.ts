/** Driving the real CLI binaries as child processes, and the checks every failing run must pass. */
import { basename, dirname, join } from 'node:path';
import { execa } from 'execa';
import { expect } from 'vitest';
import { BIN, type Tool } from './env.js';

export interface CliResult {
  tool: Tool;
  args: string[];
  /** The executable when it is not bin/kubectl-cni_<tool> (a completion executable). */
  program?: string;
  exitCode: number | undefined;
  /** The signal that ended the process, when one did (then exitCode is undefined). */
  signal?: string;
  stdout: string;
  stderr: string;
  /** Wall-clock time of the run. */
  ms: number;
}

/** The environment of a CLI run: ours, minus any CNI_* (CNI_PATH would change plugin look-up). */
function cliEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('CNI_')) env[k] = v;
  return env;
}

/**
 * Run bin/kubectl-cni_<tool> with args; never throws. The run is killed after timeoutMs (default 45s). `env` is laid
 * over the usual environment (a value of undefined removes that variable: e.g. KUBECONFIG). `prefix` runs it under
 * another command (e.g. `unshare -m …`), as spawnCli's.
 */
export async function runCli(tool: Tool, args: string[], opts: { input?: string; timeoutMs?: number; env?: Record<string, string | undefined>; prefix?: string[] } = {}): Promise<CliResult> {
  const start = Date.now();
  const env = cliEnv();
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const argv = [...(opts.prefix ?? []), BIN[tool], ...args];
  const r = await execa(argv[0]!, argv.slice(1), {
    reject: false,
    input: opts.input ?? '',
    env,
    extendEnv: false,
    timeout: opts.timeoutMs ?? 45_000,
  });
  return { tool, args, exitCode: r.exitCode, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), ms: Date.now() - start };
}

/**
 * Start a CLI run without waiting for it: for killing it midway. `env` adds (or, undefined, removes) variables.
 * `prefix` runs it under another command (e.g. `unshare --pid --fork`): then pid and kill are that command's.
 */
export function spawnCli(tool: Tool, args: string[], env: Record<string, string | undefined> = {}, prefix: string[] = []): { pid: number; kill: (signal: NodeJS.Signals) => void; done: Promise<CliResult> } {
  return spawnProgram(tool, BIN[tool], args, env, prefix);
}

/**
 * Start bin/kubectl_complete-cni_<tool> (kubectl's plugin completion) with the words typed after the plugin name, as
 * spawnCli starts a command.
 */
export function spawnComplete(tool: Tool, words: string[], env: Record<string, string | undefined> = {}): { pid: number; kill: (signal: NodeJS.Signals) => void; done: Promise<CliResult> } {
  return spawnProgram(tool, join(dirname(BIN[tool]), `kubectl_complete-cni_${tool}`), words, env, []);
}

function spawnProgram(tool: Tool, program: string, args: string[], env: Record<string, string | undefined>, prefix: string[]): { pid: number; kill: (signal: NodeJS.Signals) => void; done: Promise<CliResult> } {
  const start = Date.now();
  const base = cliEnv();
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  const [file, ...before] = [...prefix, program];
  const child = execa(file!, [...before, ...args], { reject: false, input: '', env: base, extendEnv: false, timeout: 45_000 });
  const done = child.then((r) => ({
    tool,
    args,
    ...(program !== BIN[tool] ? { program } : {}),
    exitCode: r.exitCode,
    ...(r.signal ? { signal: r.signal } : {}),
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    ms: Date.now() - start,
  }));
  return { pid: child.pid!, kill: (signal) => child.kill(signal), done };
}

/** Everything about a run, for assertion messages. */
export function show(r: CliResult): string {
  const ended = r.signal ? `killed by ${r.signal}` : `exit ${r.exitCode}`;
  return `${r.program ? basename(r.program) : `kubectl-cni_${r.tool}`} ${r.args.join(' ')}\n  ${ended} after ${r.ms}ms\n  stdout: ${r.stdout.trim() || '(empty)'}\n  stderr: ${r.stderr.trim() || '(empty)'}`;
}

export function expectOk(r: CliResult): void {
  expect(r.exitCode, show(r)).toBe(0);
}

/**
 * A failure as the CLI promises it: the exit code, and exactly one stderr line, "error: …", with no stack trace.
 * Returns that line.
 */
/**
 * A value not of its flag's type (a number, a duration, a level, an address) refused as kubectl's parser refuses it:
 * exit 2, its one `error:` line in pflag's words, then cobra's `See 'kubectl cni-<tool> --help' for usage.`, nothing
 * else. Returns the error line.
 */
export function expectFlagTypeError(r: CliResult, tool: string, message: RegExp): string {
  expect(r.exitCode, show(r)).toBe(2);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, show(r)).toHaveLength(2);
  expect(lines[0], show(r)).toMatch(/^error: invalid argument /);
  expect(lines[0], show(r)).toMatch(message);
  expect(lines[1], show(r)).toBe(`See 'kubectl cni-${tool} --help' for usage.`);
  return lines[0]!;
}

export function expectCleanError(r: CliResult, code: number, message?: RegExp): string {
  expect(r.exitCode, show(r)).toBe(code);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, `stderr should be one line\n${show(r)}`).toHaveLength(1);
  const line = lines[0]!;
  expect(line, show(r)).toMatch(/^error: /);
  expect(r.stderr, `no stack trace\n${show(r)}`).not.toMatch(/^\s{4}at /m);
  if (message) expect(line, show(r)).toMatch(message);
  return line;
}
