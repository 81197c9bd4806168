/** An executor that reports each command it runs (for -v=6), and otherwise is the executor it wraps. */
import type { Executor, RunOptions, RunResult } from './types.js';

/**
 * The same executor, with `trace` called once per run() when it ends: "<where>: <argv> → exit N in M milliseconds".
 * Every other method is the wrapped executor's own (prototype delegation keeps its fields and optional methods).
 */
export function tracedExecutor(inner: Executor, trace: (line: string) => void): Executor {
  const t = Object.create(inner) as Executor;
  t.run = async (argv: string[], opts?: RunOptions): Promise<RunResult> => {
    const t0 = Date.now();
    const r = await inner.run(argv, opts);
    const how = r.timedOut ? 'timed out' : r.code === null ? `killed by ${r.signal ?? 'a signal'}` : `exit ${r.code}`;
    trace(`${inner.where}: ${argv.join(' ')} → ${how} in ${Date.now() - t0} milliseconds`);
    return r;
  };
  return t;
}
