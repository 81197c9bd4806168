/** One plugin run: find the binary, run it through the executor, decode what it printed. */
import { PluginError, UsageError, shown, signalName } from '../errors.js';
import { buildEnv, type CniCommand, type InvocationArgs } from './env.js';
import { onWhere, type CommandRunner, type NodeFiles } from '../exec/types.js';
import type { JsonObject } from './conf.js';
import { formatDuration } from '../duration.js';

/** The first directory holding an executable `type`; a clear error naming the directories otherwise. */
export async function findPlugin(exec: Pick<CommandRunner, 'where'> & Pick<NodeFiles, 'isExecutable'>, type: string, dirs: string[]): Promise<string> {
  for (const d of dirs) {
    const p = `${d.replace(/\/+$/, '')}/${type}`;
    if (await exec.isExecutable(p)) return p;
  }
  throw new UsageError(`CNI plugin "${type}" not found in ${dirs.join(', ')}${onWhere(exec)}`, {
    fix: { setting: 'cniPath', advice: 'install it or point the CNI path at its directory' },
  });
}

export interface PluginRun {
  /** Display name: the plugin type. */
  type: string;
  path: string;
  args: InvocationArgs;
  stdin: JsonObject;
  timeoutMs: number;
}

/** The last three lines of a plugin's output, joined with " | ", its control characters escaped (shown), at most max characters. */
function oneLine(s: string, max = 300): string {
  const lines = s.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const t = shown(lines.slice(-3).join(' | '));
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

function tryJson(s: string): unknown {
  const t = s.trim();
  if (t === '') return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return undefined;
  }
}

function isCniError(v: unknown): v is { code: number; msg?: string; details?: string } {
  return typeof v === 'object' && v !== null && typeof (v as { code?: unknown }).code === 'number' &&
    !('ips' in v) && !('interfaces' in v) && !('ip4' in v) && !('ip6' in v) && !('supportedVersions' in v);
}

/**
 * Run a plugin. Resolves with its parsed stdout (ADD, VERSION) or undefined (DEL, CHECK, STATUS, GC);
 * rejects with a PluginError that carries the plugin's {code,msg,details} whatever its exit code, or says that the
 * user's signal stopped it (stoppedBy: the run was killed, or did not end by itself). A run the signal came during
 * that exited 0 by itself did its work on the node, and is answered as any run that exited 0 (a DEL that ran to its
 * end freed what it frees: saying "stopped" would keep a record of what is gone); whether the command builds on it is
 * the engine's rule (chain.ts addChain rolls back an ADD that finished after the signal). `note` hears what the user
 * should know of a run that succeeded.
 */
export async function invokePlugin(exec: CommandRunner, run: PluginRun, note?: (line: string) => void): Promise<JsonObject | undefined> {
  const env = buildEnv(exec.baseEnv(), run.args);
  const cmd: CniCommand = run.args.command;
  const r = await exec.run([run.path], { env, stdin: JSON.stringify(run.stdin), timeoutMs: run.timeoutMs });
  const out = tryJson(r.stdout);
  // the plugin's msg and details enter messages (and events, records) with their control characters escaped, so an
  // error stays one line that cannot drive the terminal; its stderr is kept as it came, for -v (printed through shownLines)
  const fail = (msg: string, code?: number, details?: string) =>
    new PluginError(run.type, cmd, code, shown(msg), details === undefined ? undefined : shown(details), r.stderr || undefined);
  const held = r.pipesHeld ? '; a process it started in another session still held its output, and may still run' : '';

  if (r.interrupted && r.code !== 0) {
    const how = r.code === null ? 'it was killed' : `it had exited ${r.code}, its output not yet taken`;
    throw new PluginError(run.type, cmd, undefined, `by ${signalName(r.interrupted)} (${how})`, undefined, r.stderr || undefined, r.interrupted);
  }
  if (r.timedOut) {
    // a node whose timeout(1) counts whole seconds was given the limit rounded up (exec/shell.ts nodeTimeout): the run
    // had that long, and the message says so rather than claim the limit asked for
    const after = r.limitMs !== undefined && r.limitMs !== run.timeoutMs
      ? `${formatDuration(r.limitMs)} (the limit of ${formatDuration(run.timeoutMs)} rounded up to whole seconds: the timeout command${onWhere(exec)} counts only whole seconds, as busybox's does)`
      : formatDuration(run.timeoutMs);
    throw fail(`timed out after ${after} and was killed with its process group${held}`);
  }
  if (r.outputLimit !== undefined) {
    throw fail(`printed more than ${r.outputLimit / 1024 / 1024} MiB, the output limit of a plugin run; its output was cut off there`);
  }
  if (isCniError(out) && (r.code !== 0 || typeof out.msg === 'string')) {
    throw fail(out.msg ?? '(no message)', out.code, typeof out.details === 'string' && out.details ? out.details : undefined);
  }
  if (r.code === null) throw fail(`killed by signal ${r.signal ?? '?'}${r.stderr.trim() ? `: ${oneLine(r.stderr)}` : ''}${held}`);
  if (r.code !== 0) {
    const said = oneLine(r.stderr) || oneLine(r.stdout);
    throw fail(`exited with code ${r.code}${said ? `: ${said}` : ' and printed nothing'}${held}`);
  }
  if (r.pipesHeld) note?.(`plugin ${run.type} (${cmd}) exited 0, but a process it started in another session still held its output: not waited for, it may still run`);
  if (cmd === 'ADD' || cmd === 'VERSION') {
    if (typeof out !== 'object' || out === null || Array.isArray(out)) {
      const shown = oneLine(r.stdout, 120) || '(nothing)';
      throw fail(`exited 0 but printed no JSON ${cmd === 'ADD' ? 'result' : 'version info'}: ${shown}`);
    }
    return out as JsonObject;
  }
  return undefined;
}
