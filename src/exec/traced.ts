/** An executor that reports each command it runs (for -v=6), and otherwise is the executor it wraps. */
import type { CommandRunner, RunOptions, RunResult } from './types.js';

/** The longest `sh -c` script a trace line quotes; a longer one (a look-up, a batch of reads) is said by its size. */
const SCRIPT_SHOWN_AT_MOST = 80;

/**
 * The same executor (or any command runner), with `trace` called once per node round trip when it ends, so that -v=6
 * shows each one as it happens:
 *  - run(): "<where>: <argv> → exit N in M milliseconds" (a long `sh -c` script said as "(a script of N bytes)"; a
 *    plugin's run followed by its CNI_COMMAND: "/usr/lib/cni/bridge (ADD)"); with
 *    "(after K steps in the same round trip)" when a batching executor sent its queued steps (a lock, an intent…)
 *    before the command (RunResult.stepsBefore); an answer read ahead by an earlier round trip (RunResult.answeredAhead)
 *    says so instead of a time, since it made no request;
 *  - flush() of a batching executor (exec/batch.ts: its queued steps alone, e.g. an attach's result, the removal of its
 *    intent and lock): "<where>: K steps alone → done in M milliseconds" (or "→ failed in M milliseconds"), nothing
 *    when there was nothing to send.
 * Every other member is the wrapped one's own, called on it (a Proxy: state a method keeps — a batching executor's
 * queue — stays in one object; before, methods inherited through Object.create wrote their fields onto the wrapper).
 */
export function tracedExecutor<E extends CommandRunner>(inner: E, trace: (line: string) => void): E {
  const run = async (argv: string[], opts?: RunOptions): Promise<RunResult> => {
    const t0 = Date.now();
    const r = await inner.run(argv, opts);
    const how = r.timedOut ? 'timed out' : r.code === null ? `killed by ${r.signal ?? 'a signal'}` : `exit ${r.code}`;
    const shown = argv[0] === 'sh' && argv[1] === '-c' && argv[2] !== undefined && (argv[2].length > SCRIPT_SHOWN_AT_MOST || argv[2].includes('\n'))
      ? ['sh', '-c', `(a script of ${Buffer.byteLength(argv[2])} bytes)`, ...argv.slice(3)]
      : argv;
    // a plugin's run named by its CNI command (tryout 16: a check's VERSION and CHECK lines looked alike)
    const cniCommand = opts?.env?.CNI_COMMAND ? ` (${opts.env.CNI_COMMAND})` : '';
    const steps = r.stepsBefore ? ` (after ${r.stepsBefore} step${r.stepsBefore === 1 ? '' : 's'} in the same round trip)` : '';
    const when = r.answeredAhead ? '(answered by the read-ahead of an earlier round trip: no request of its own)' : `in ${Date.now() - t0} milliseconds`;
    trace(`${inner.where}: ${shown.join(' ')}${cniCommand}${steps} → ${how} ${when}`);
    return r;
  };
  const batching = inner as E & { flush?: () => Promise<number> };
  const flush = typeof batching.flush === 'function'
    ? async (): Promise<number> => {
        const t0 = Date.now();
        let n: number;
        try {
          n = await batching.flush!();
        } catch (e) {
          trace(`${inner.where}: steps alone → failed in ${Date.now() - t0} milliseconds`);
          throw e;
        }
        if (n > 0) trace(`${inner.where}: ${n} step${n === 1 ? '' : 's'} alone → done in ${Date.now() - t0} milliseconds`);
        return n;
      }
    : undefined;
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'run') return run;
      if (prop === 'flush' && flush) return flush;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
