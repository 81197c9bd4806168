/** Many pods at once: a bounded number in flight, a progress line per pod on stderr, a summary, one exit code. */
import { SomeFailedError, UsageError } from '../errors.js';
import { interruptedBy } from '../exec/interrupt.js';
import type { KubeApi, Pod } from '../resolve/kube.js';
import type { PodRuntime } from '../resolve/runtime.js';
import type { Deps } from './context.js';
import { describeError, ExitCode, exitCodeOf, type ExitCodeValue, type Io } from './main.js';
import type { CommonFlags } from './options.js';
import { load } from './load.js';

export interface PodOutcome<T> {
  pod: string;
  ok: boolean;
  value?: T;
  error?: string;
  exitCode: ExitCodeValue;
  /** What the pod's failure threw. */
  failure?: unknown;
}

/** Run fn for every pod, at most `parallel` at a time; never throws for one pod's failure. Stops starting new ones on Ctrl-C. */
export async function forEachPod<T>(
  pods: Pod[],
  parallel: number,
  io: Io,
  fn: (pod: Pod) => Promise<T>,
  line: (v: T) => string,
): Promise<PodOutcome<T>[]> {
  const out: PodOutcome<T>[] = new Array(pods.length);
  let next = 0;
  let done = 0;
  const width = String(pods.length).length;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= pods.length) return;
      const pod = pods[i]!;
      const id = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
      let o: PodOutcome<T>;
      if (interruptedBy()) {
        o = { pod: id, ok: false, error: `not started: interrupted by ${interruptedBy()}`, exitCode: ExitCode.PluginFailed };
      } else {
        try {
          const value = await fn(pod);
          o = { pod: id, ok: true, value, exitCode: ExitCode.Ok };
        } catch (e) {
          o = { pod: id, ok: false, error: describeError(e), exitCode: exitCodeOf(e), failure: e };
        }
      }
      out[i] = o;
      done++;
      io.err(`[${String(done).padStart(width)}/${pods.length}] ${id}: ${o.ok ? line(o.value!) : `failed: ${o.error}`}\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, pods.length) }, worker));
  return out;
}

/** The batch's exit code: 0 when every pod succeeded, else the code of the first failure (in pod order). */
export function batchExit<T>(outcomes: PodOutcome<T>[], verb: string): void {
  const failed = outcomes.filter((o) => !o.ok);
  if (failed.length === 0) return;
  throw new SomeFailedError(`${verb} failed for ${failed.length} of ${outcomes.length} pods (${failed.map((f) => f.pod).join(', ')})`, failed[0]!.failure);
}

export function parseParallel(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`--parallel: ${JSON.stringify(text)} is not a whole number from 1 to 64`);
  return n;
}

/**
 * The batch's pods (one API list) and runtimes (one list each, after which they answer from it); undefined, with a
 * note, when no pod matches.
 */
export async function batchOf(
  flags: CommonFlags,
  deps: Deps,
  api: KubeApi,
  namespace: string,
): Promise<{ pods: Pod[]; runtimes: PodRuntime[]; parallel: number } | undefined> {
  const parallel = parseParallel(flags.parallel ?? '4');
  const pods = await api.listPods(namespace, flags.selector);
  if (pods.length === 0) {
    deps.io.err(`note: no pods in namespace ${namespace}${flags.selector ? ` match ${flags.selector}` : ''}; nothing to do\n`);
    return undefined;
  }
  const runtimes = await deps.runtimes(flags, api);
  await (await load.pods()).prepareBatch(runtimes, pods);
  return { pods, runtimes, parallel };
}
