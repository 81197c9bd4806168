/** An executor that reports each command it runs (for -v=6), and otherwise is the executor it wraps. */
import type { CommandRunner, RunOptions, RunResult } from './types.js';

/** The longest `sh -c` script a trace line quotes; a longer one (a look-up, a batch of reads) is said by its size. */
const SCRIPT_SHOWN_AT_MOST = 80;

/**
 * The same executor (or any command runner), with `trace` called once per run() when it ends: "<where>: <argv> →
 * exit N in M milliseconds" (a long `sh -c` script said as "(a script of N bytes)"). Every other method is the
 * wrapped one's own (prototype delegation keeps its fields and optional methods).
 */
export function tracedExecutor<E extends CommandRunner>(inner: E, trace: (line: string) => void): E {
  const t = Object.create(inner) as E;
  t.run = async (argv: string[], opts?: RunOptions): Promise<RunResult> => {
    const t0 = Date.now();
    const r = await inner.run(argv, opts);
    const how = r.timedOut ? 'timed out' : r.code === null ? `killed by ${r.signal ?? 'a signal'}` : `exit ${r.code}`;
    const shown = argv[0] === 'sh' && argv[1] === '-c' && argv[2] !== undefined && (argv[2].length > SCRIPT_SHOWN_AT_MOST || argv[2].includes('\n'))
      ? ['sh', '-c', `(a script of ${Buffer.byteLength(argv[2])} bytes)`, ...argv.slice(3)]
      : argv;
    trace(`${inner.where}: ${shown.join(' ')} → ${how} in ${Date.now() - t0} milliseconds`);
    return r;
  };
  return t;
}
