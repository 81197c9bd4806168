/**
 * Many pods at once: a bounded number in flight, a progress line per pod on stderr, a summary, one exit code.
 *
 * The user's first Ctrl-C/SIGTERM stops the batch as kubectl stops its work: the pods in flight are stopped as one
 * command on one pod is (an attach is rolled back, a detach keeps its record), the pods not yet started are not
 * touched at all (no look-up, no plugin), and the summary and the exit code (128 + n) say which pods were done, which
 * were stopped (and what that left) and which were not started. A pod whose change was made before the signal keeps
 * it, and its bookkeeping (its cluster record, its network-status) is finished.
 */
import { CniAttachError, lockHeldWords, PluginError, SomeFailedError, StoppedError, UsageError, signalName, stoppedBy, type LeftByStop } from '../errors.js';
import { duringStep, holdBatch, interruptedBy, limitedLocksHeldUntil, quitting as quitBegun, whenInterrupted } from '../exec/interrupt.js';
import { isNode } from '../exec/types.js';
import { isoSecondUp } from '../duration.js';
import { AddFailed } from '../cni/chain.js';
import type { Executor } from '../exec/types.js';
import type { KubeApi, Pod } from '../resolve/kube.js';
import type { PodRuntime } from '../resolve/runtime.js';
import type { Deps } from './context.js';
import { describeError, ExitCode, exitCodeOf, lineTo, onQuit, type ExitCodeValue, type Io } from './main.js';
import { parseIntFlag, verbosity, type CommonFlags } from './options.js';
import { load } from './load.js';
import { listCommandLine, someNames } from './output.js';
import { watchBatch, type BatchWatch } from './batch-watch.js';

export { NAMED_AT_MOST, someNames } from './output.js';
import { withUserSelector } from './targets.js';

/**
 * How a pod of the batch ended. done: its change is made. failed: it failed by itself (or its rollback failed).
 * stopped: the user's signal stopped it in flight and its change was undone (attach) or its record stays (detach).
 * not started: the signal came before it began, or before it changed anything. unknown: a second signal quit the
 * command while the pod ran (its state is what its node and records say: cni-list tells). apart: neither done nor a
 * failure of the change (CountedApart: an attach made whose pod was deleted meanwhile), counted apart. skipped: its
 * turn found it deleted or being deleted since the batch's list (SkippedPod): nothing was done for it, no failure.
 */
export type PodState = 'done' | 'failed' | 'stopped' | 'not started' | 'unknown' | 'apart' | 'skipped';

/**
 * Thrown by a batch's pod whose outcome is neither its change done nor a failure of it — an attach made whose pod was
 * deleted meanwhile (the single-pod command's exit 3, README "Exit codes"): the batch counts it apart from the done
 * and the failed, under `what` (one pod's: "attached but its pod was deleted meanwhile"; `whatMany`, the same said of
 * several: "attached but their pods were deleted meanwhile"), with `hint` (what to run: "`kubectl cni-gc …` frees
 * what stays") in its summary; its exit code is `cause`'s, and the batch's the first problem's.
 */
export class CountedApart extends Error {
  constructor(readonly what: string, readonly whatMany: string, override readonly cause: CniAttachError, readonly hint: string) {
    super(cause.message);
  }
}

export interface PodOutcome<T> {
  pod: string;
  ok: boolean;
  state: PodState;
  value?: T;
  error?: string;
  exitCode: ExitCodeValue;
  /** What the pod's failure threw. */
  failure?: unknown;
  /** For a pod the user's signal stopped (or kept from starting): the signal, and what it left. */
  stop?: { signal: string; left: LeftByStop };
  /** For a pod that failed by itself: what its failure left, where its error says (CniAttachError.left). */
  left?: LeftByStop;
  /** For a pod counted apart (state 'apart', CountedApart): what it is called (of one pod, of several), and what to run for it. */
  apart?: { what: string; whatMany: string; hint: string };
  /** For a pod skipped in its turn (state 'skipped', SkippedPod): why ("being deleted (since …): …"). */
  skipped?: string;
  /** For a pod skipped in its turn: the group its summary counts it in (SkippedPod.kind). */
  skippedAs?: SkippedPod['kind'];
  /**
   * For a pod a second signal left unknown (state 'unknown'): true while it was still on its node (not handed off:
   * forEachPod), where what the quit left running may hold its lock until its time limit; false once its node was
   * done with (its lock released there, only its bookkeeping in the cluster cut).
   */
  onNode?: boolean;
}

/**
 * Thrown by a batch's pod whose turn did nothing because the pod went: at the start of its turn, before anything is
 * done for it, when the batch's watch saw it deleted, being deleted or relabelled out of the selection since the list
 * (cli/batch-watch.ts); or later in its turn, when it was deleted and nothing of its change is left. Skipped as the
 * list skips a pod already being deleted — no failure (exit 0 for it). kind: 'deleted' (also being deleted) or
 * 'unselected' (its labels changed: no longer selected by -l), the summary's group.
 */
export class SkippedPod extends Error {
  constructor(readonly why: string, readonly kind: 'deleted' | 'unselected' = 'deleted') {
    super(why);
  }
}

/** Thrown for a pod that the user's signal stopped before it changed anything (its look-up is not waited for). */
class NotStarted extends StoppedError {}

/**
 * A step of a pod that changes nothing (its sandbox look-up): its value, or, once the user's signal came (before or
 * while it runs: it is not waited for then), NotStarted.
 */
export async function beforeChange<L>(step: Promise<L>): Promise<L> {
  const got = await unlessSignal(step);
  // the words of a pod whose step the signal cut before a change (cli/main.ts cutBySignal): one form for both (tryout 15)
  if ('s' in got) throw new NotStarted(got.s, `stopped by ${signalName(got.s)} before it changed anything: nothing was changed`);
  return got.v;
}

/**
 * A step that changes nothing, or the user's signal when it came before or while the step ran (the step is not
 * waited for then, its failure ignored; a step that failed because the signal stopped what it ran is the signal's).
 */
async function unlessSignal<L>(step: Promise<L>): Promise<{ v: L } | { s: string }> {
  const sig = interruptedBy();
  if (sig) {
    step.catch(() => undefined);
    return { s: sig };
  }
  const got = await Promise.race([step.then((v) => ({ v })), whenInterrupted().then((s) => ({ s }))]).catch((e: unknown) => {
    if (interruptedBy()) return { s: interruptedBy()! };
    throw e;
  });
  if ('s' in got) step.catch(() => undefined);
  const late = interruptedBy();
  return 'v' in got && late ? { s: late } : got;
}

/**
 * What the user's signal left of a pod whose run threw e, or undefined when e is not the signal's doing. The rule of
 * each error: a StoppedError says it; an ADD stopped by the signal was rolled back unless its rollback failed (then
 * the attempt stays recorded, see cni/attach.ts); a DEL stopped keeps its record; a plugin asked VERSION, STATUS or
 * CHECK changed nothing.
 */
export function leftByStop(e: unknown): LeftByStop | undefined {
  if (!stoppedBy(e)) return undefined;
  if (e instanceof StoppedError) return e.left;
  if (e instanceof AddFailed) return e.rollbackError ? 'recorded' : 'undone';
  if (e instanceof PluginError && e.command === 'DEL') return 'recorded';
  return 'nothing';
}

function outcomeOf<T>(id: string, e: unknown): PodOutcome<T> {
  if (e instanceof SkippedPod) return { pod: id, ok: false, state: 'skipped', skipped: e.why, skippedAs: e.kind, exitCode: ExitCode.Ok };
  if (e instanceof CountedApart) return { pod: id, ok: false, state: 'apart', error: describeError(e.cause), exitCode: exitCodeOf(e.cause), failure: e.cause, apart: { what: e.what, whatMany: e.whatMany, hint: e.hint } };
  const sig = stoppedBy(e);
  const left = leftByStop(e);
  const base = { pod: id, ok: false, error: describeError(e), exitCode: exitCodeOf(e), failure: e };
  if (!sig || !left) return { ...base, state: 'failed', ...(e instanceof CniAttachError && e.left ? { left: e.left } : {}) };
  return { ...base, state: left === 'nothing' ? 'not started' : 'stopped', stop: { signal: sig, left } };
}

/**
 * How many of a batch's pods are on their nodes at a time: `total` in all, at most `perNode` of them on one node.
 */
export interface Parallelism {
  total: number;
  perNode: number;
}

/** The most pods of a batch on one node at a time when --parallel is not given. */
export const PER_NODE_DEFAULT = 4;
/** The most pods of a batch at a time in all when --parallel is not given. */
export const TOTAL_DEFAULT_MAX = 32;

/**
 * The batch's parallelism: `--parallel N` given, N in all (and so at most N on one node: the user's word, also for a
 * batch on one node); else as many as the nodes the pods are on, from PER_NODE_DEFAULT up to TOTAL_DEFAULT_MAX, at
 * most PER_NODE_DEFAULT on one node — one pod at a time on each node of a batch spread over many (each node's CPU
 * runs its own plugins: 100 pods on 10 nodes ran 4 at a time in all before, 10 nodes idle for most of it), four on the
 * one node of a batch there, and never more than four on one node, whatever the others hold (a node with most of the
 * pods no longer gets every slot once the others are done). The bound in all keeps what a batch asks of the API
 * server and this host (a WebSocket and a node session per pod in flight) that of a kubectl command. UsageError
 * (parseParallel) for a bad --parallel.
 */
export function parallelismOf(given: string | undefined, pods: Pod[]): Parallelism {
  if (given !== undefined) {
    const n = parseParallel(given);
    return { total: n, perNode: n };
  }
  const nodes = new Set(pods.map((p) => p.spec?.nodeName ?? '')).size;
  return { total: Math.min(TOTAL_DEFAULT_MAX, Math.max(PER_NODE_DEFAULT, nodes)), perNode: PER_NODE_DEFAULT };
}

/**
 * Run fn for every pod, at most `parallel` at a time on their nodes (a number: that many in all; a Parallelism: its
 * total in all, at most its perNode on one node — a pod whose node has that many waits, the others go first); never
 * throws for one pod's failure. fn runs its
 * look-up through beforeChange. fn may call its `handoff` once its pod's node is done with (an attach's ADD and
 * result written, its lock released): what is left of it is the cluster's bookkeeping (its event, network-status and
 * record: API requests, each a round trip that leaves its node idle), and its worker goes on to the next pod while that
 * runs; before it begins a third, it waits for the first one's end — so at most `parallel` pods on their nodes, and
 * at most twice that in flight. A pod handed off is still in flight until fn ends (a second signal names it; its outcome and
 * progress line are fn's end). The batch is one frame for the signal handling (exec/interrupt.ts holdBatch(), naming the pods in
 * flight): the first signal lets it end as described above, a second one exits at once, leaving the pods in flight
 * unknown (also one whose run ends after the quit began). A pod the signal kept from starting gets no
 * progress line; the summary names it.
 */
export async function forEachPod<T>(
  pods: Pod[],
  parallel: number | Parallelism,
  io: Io,
  fn: (pod: Pod, handoff: () => void) => Promise<T>,
  line: (v: T) => string,
  quitting?: (outcomes: PodOutcome<T>[]) => Promise<void>,
): Promise<PodOutcome<T>[]> {
  const { total, perNode } = typeof parallel === 'number' ? { total: parallel, perNode: parallel } : parallel;
  const out: PodOutcome<T>[] = new Array(pods.length);
  const begun = new Set<number>();
  // the pods begun that handed their node off (their lock there released): what a second signal cut of them is their bookkeeping
  const handed = new Set<number>();
  // a second signal quits at once: `quitting` says what is known then (cli/main.ts onQuit) — the pods done, failed or
  // stopped as they ended, those in flight unknown, the rest not started
  const known = (sig: string) => {
    const why = (i: number) => (begun.has(i) ? `quit by a second ${signalName(sig)} while it ran: its state is not known` : `stopped by ${signalName(sig)} before it started`);
    const code = exitCodeOf(new StoppedError(sig, 'quit'));
    return pods.map((pod, i): PodOutcome<T> => {
      if (out[i]) return out[i]!;
      const unknown = begun.has(i);
      return { pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, ok: false, state: unknown ? 'unknown' : 'not started', error: why(i), exitCode: code, stop: { signal: sig, left: unknown ? 'recorded' : 'nothing' }, ...(unknown ? { onNode: !handed.has(i) } : {}) };
    });
  };
  if (quitting) onQuit((sig) => quitting(known(sig)));
  // the pods not begun, in the list's order; the pods of each node on it now (begun, not handed off): the next pod
  // is the first whose node has none, else the first of a node with the fewest, below perNode — each node's pods one
  // after another while other nodes have some (a node's session serves one pod at a time: a second one there would
  // open another session, exec/node-session.ts), the list's order kept where that does not matter
  const waiting = pods.map((_, i) => i);
  const onNode = new Map<string, number>();
  const nodeOf = (i: number) => pods[i]!.spec?.nodeName ?? '';
  const take = (): number | undefined => {
    let best = -1;
    let fewest = perNode;
    for (let k = 0; k < waiting.length && fewest > 0; k++) {
      const n = onNode.get(nodeOf(waiting[k]!)) ?? 0;
      if (n < fewest) [best, fewest] = [k, n];
    }
    return best < 0 ? undefined : waiting.splice(best, 1)[0];
  };
  // the workers waiting for a node below perNode (every pod waiting is of a node that has perNode on it): woken when
  // a pod hands its node off or ends — one on that node is in progress, so one will
  let slotWaiters: (() => void)[] = [];
  const slotFreed = () => {
    const wake = slotWaiters;
    slotWaiters = [];
    for (const w of wake) w();
  };
  let done = 0;
  const width = String(pods.length).length;
  const worker = async () => {
    // the pod handed off before the one this worker runs now: still in its bookkeeping
    let behind: Promise<void> | undefined;
    for (;;) {
      let i = take();
      while (i === undefined && waiting.length) {
        await new Promise<void>((r) => slotWaiters.push(r));
        if (quitBegun()) return behind;
        i = take();
      }
      if (i === undefined) return behind;
      const pod = pods[i]!;
      const id = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
      const sig = interruptedBy();
      if (sig) {
        const why = `stopped by ${signalName(sig)} before it started`;
        out[i] = { pod: id, ok: false, state: 'not started', error: why, exitCode: exitCodeOf(new StoppedError(sig, why)), stop: { signal: sig, left: 'nothing' } };
        continue;
      }
      begun.add(i);
      const node = nodeOf(i);
      onNode.set(node, (onNode.get(node) ?? 0) + 1);
      let handoff!: () => void;
      const handedOff = new Promise<void>((r) => (handoff = r)).then(() => {
        onNode.set(node, onNode.get(node)! - 1);
        slotFreed();
      });
      // (fn's own hand-off marks its node done with; the one at its end, however it ended, does not)
      const handOff = () => {
        handed.add(i);
        handoff();
      };
      const run = (async () => {
        let o: PodOutcome<T>;
        try {
          const value = await fn(pod, handOff);
          // a pod in flight when a second signal quit stays unknown however it ends: the quit's note named it so
          // (cli/main.ts quitNote, from holdBatch below), and its summary counts it so, with the cni-list that tells
          if (quitBegun()) return;
          o = { pod: id, ok: true, state: 'done', value, exitCode: ExitCode.Ok };
        } catch (e) {
          // what ends so after a second signal began to quit (its session torn down, its agent deleted) is the quit's
          // doing, not the pod's: left unknown, no progress line (the quit's summary says it, with the cni-list that tells)
          if (quitBegun()) return;
          o = outcomeOf(id, e);
        } finally {
          handoff();
        }
        out[i] = o;
        done++;
        const what = o.ok ? line(o.value!) : o.state === 'failed' ? `failed: ${o.error}` : o.apart ? `${o.apart.what}: ${o.error}` : o.skipped ? `skipped: ${o.skipped}` : `${o.state}: ${o.error}`;
        io.err(`[${String(done).padStart(width)}/${pods.length}] ${id}: ${what}\n`);
      })();
      // (awaited below as `behind`, or by the batch's end: a failure of its own is not left unhandled meanwhile)
      run.catch(() => undefined);
      // its node done with (or the pod ended): the next pod may start once the one handed off before has ended
      await handedOff;
      await behind;
      if (quitBegun()) return;
      behind = run;
    }
  };
  // the pods in flight, begun and not ended: what a second signal that quits leaves as it is (its note names them)
  const release = holdBatch(() => pods.flatMap((pod, i) => (begun.has(i) && !out[i] ? [`${pod.metadata?.namespace}/${pod.metadata?.name}`] : [])));
  try {
    await Promise.all(Array.from({ length: Math.min(total, pods.length) }, worker));
  } finally {
    release();
  }
  // a quit begun: the pods it cut are unknown here too (the batch's own end may still print before the process exits)
  return quitBegun() ? known(interruptedBy() ?? 'SIGTERM') : out;
}

/**
 * What a stopped pod's state is called, by what the signal left: attach {undone: 'rolled back', …}. failedRecorded:
 * what a pod that failed by itself and left its change recorded (PodOutcome.left, e.g. an attach whose rollback failed)
 * is called, and `undo`, the words that say how to undo the pods left recorded (failed or stopped so), given the
 * batch's outcomes; without it the summary counts such pods as failed only (a failed detach leaves what was there).
 */
export interface StopWords {
  undone: string;
  recorded: string;
  /**
   * What tells the state of the pods a second signal left unknown ("`kubectl cni-list -n shop -l app=web --node n1`
   * tells"), or a function of those pods ("ns/name" each; `onNode`: those of them still on their nodes,
   * PodOutcome.onNode) that says it (unknownHint: with their nodes, and until when their locks may be held).
   */
  unknown?: string | ((pods: string[], onNode: string[]) => string);
  /** What -o json|yaml adds to the item of such a pod (`onNode`: PodOutcome.onNode), unknownWords' fields. */
  unknownFields?: (pod: string, onNode: boolean) => Record<string, unknown>;
  failedRecorded?: { what: string; undo: (pods: string[], outcomes: PodOutcome<unknown>[]) => string };
}

/** The pods of a batch that failed by themselves and left their change recorded, when words counts them. */
function failedRecorded<T>(outcomes: PodOutcome<T>[], words: StopWords): string[] {
  return words.failedRecorded ? outcomes.filter((o) => o.state === 'failed' && o.left === 'recorded').map((o) => o.pod) : [];
}

/** Where a batch summary's pods not named are (someNames' `where`): each pod's own progress line, and -o json. */
const NAMED_ELSEWHERE = ': each one\'s line on stderr names it, -o json lists every pod';

/**
 * What the user's signal did to the batch, or undefined when it did nothing to it: "stopped by SIGTERM: 1 rolled
 * back (ns/a), 3 not started (ns/b, ns/c, ns/d)"; without `named`, the counts alone ("1 rolled back, 3 not started").
 */
function stopText<T>(outcomes: PodOutcome<T>[], words: StopWords, named: boolean): string | undefined {
  const sig = outcomes.find((o) => o.stop)?.stop?.signal;
  if (!sig) return undefined;
  // the signal came before any pod changed anything (e.g. while the agents started): say so first
  const groups: string[] = outcomes.every((o) => o.state === 'not started' || o.state === 'skipped') ? ['nothing changed'] : [];
  const group = (pods: PodOutcome<T>[], what: string, hint?: string) => {
    // (a pod not started, or left unknown by a quit, gets no progress line: -o json alone names them all — this run's
    // when it was given, else a run's with it: tryout 15, "-o json lists every pod" read as this run's after a quit)
    if (pods.length) groups.push(`${pods.length} ${what}${named ? ` (${someNames(pods.map((o) => o.pod), what === 'not started' || what === 'unknown' ? ': a run with -o json lists every pod' : NAMED_ELSEWHERE)}${hint ? `; ${hint}` : ''})` : ''}`);
  };
  group(outcomes.filter((o) => o.state === 'stopped' && o.stop?.left === 'undone'), words.undone);
  group(outcomes.filter((o) => o.state === 'stopped' && o.stop?.left === 'recorded'), words.recorded);
  const unknown = outcomes.filter((o) => o.state === 'unknown');
  group(unknown, 'unknown', typeof words.unknown === 'function' ? words.unknown(unknown.map((o) => o.pod), unknown.filter((o) => o.onNode !== false).map((o) => o.pod)) : words.unknown);
  group(outcomes.filter((o) => o.state === 'not started'), 'not started');
  const quit = outcomes.some((o) => o.state === 'unknown') ? `, quit by a second ${sig}` : '';
  return `stopped by ${signalName(sig)}${quit}: ${groups.join(', ')}`;
}

/**
 * The batch's summary line, on stdout (the result, as kubectl prints what it did): `done` ("eth1 attached to 2 of 6
 * pods"), then what became of the others, at most NAMED_AT_MOST pods named per group: "; stopped by SIGTERM: 1 rolled
 * back (ns/a), 3 not started (ns/b, …); 1 failed (ns/c)"; the failed that left their change recorded counted among
 * them, and how to undo every pod left recorded, last (words.failedRecorded): "; 3 failed (ns/c, ns/d, ns/e), 2 not
 * rolled back (ns/c, ns/e): they stay recorded (interrupted); `kubectl cni-detach …` runs their DEL again …".
 */
export function batchSummary<T>(outcomes: PodOutcome<T>[], done: string, words: StopWords): string {
  const failed = outcomes.filter((o) => o.state === 'failed').map((o) => o.pod);
  const kept = failedRecorded(outcomes, words);
  const stoppedKept = outcomes.filter((o) => o.state === 'stopped' && o.stop?.left === 'recorded').map((o) => o.pod);
  const failedText = failed.length
    ? `${failed.length} failed (${someNames(failed, NAMED_ELSEWHERE)})${kept.length ? `, ${kept.length} ${words.failedRecorded!.what}${kept.length < failed.length ? ` (${someNames(kept, NAMED_ELSEWHERE)})` : ''}` : ''}`
    : undefined;
  const undo = words.failedRecorded && (kept.length || stoppedKept.length) ? words.failedRecorded.undo([...stoppedKept, ...kept], outcomes as PodOutcome<unknown>[]) : undefined;
  const parts = [stopText(outcomes, words, true), failedText, ...apartTexts(outcomes, true), skippedText(outcomes, true), undo].filter(Boolean);
  return [done, ...parts].join('; ');
}

/**
 * The pods skipped in their turn (SkippedPod), a group per kind: "1 skipped, deleted meanwhile (shop/web-2)",
 * "1 skipped, relabelled out of the selection (shop/web-3)" (`named`), else the counts alone; undefined when none.
 * Each one's line says why (being deleted since when, deleted, no longer selected by -l …).
 */
function skippedText<T>(outcomes: PodOutcome<T>[], named: boolean): string | undefined {
  const group = (kind: SkippedPod['kind'], what: string) => {
    const pods = outcomes.filter((o) => o.state === 'skipped' && (o.skippedAs ?? 'deleted') === kind).map((o) => o.pod);
    return pods.length ? `${pods.length} skipped, ${what}${named ? ` (${someNames(pods, NAMED_ELSEWHERE)})` : ''}` : undefined;
  };
  const groups = [group('deleted', 'deleted meanwhile'), group('unselected', 'relabelled out of the selection')].filter(Boolean);
  return groups.length ? groups.join('; ') : undefined;
}

/**
 * The batch's end: nothing when every pod is done; when the user's signal stopped it, exit 128 + n (whatever else
 * failed: the message counts it), as one command stopped by it; else the code of the first failure (in pod order).
 * The message (stderr's `error:` line) gives counts only: the pods are named once, by their progress lines on stderr
 * and the summary (or -o json) on stdout, not a second time here.
 */
export function batchExit<T>(outcomes: PodOutcome<T>[], verb: string, words: StopWords): void {
  // a pod skipped in its turn is no failure (as one skipped by the list): exit 0 for it
  const failed = outcomes.filter((o) => !o.ok && o.state !== 'skipped');
  if (failed.length === 0) return;
  const mine = failed.filter((o) => o.state === 'failed');
  const kept = failedRecorded(outcomes, words);
  // the pods counted apart, by count (not failures of the change: said as what they are)
  const apart = apartTexts(outcomes, false);
  const keptText = `${kept.length ? `, ${kept.length} ${words.failedRecorded!.what}` : ''}${apart.length ? `; ${apart.join('; ')}` : ''}`;
  const stop = stopText(outcomes, words, false);
  if (stop) {
    const sig = outcomes.find((o) => o.stop)!.stop!.signal;
    const msg = `${verb} ${stop}; ${outcomes.filter((o) => o.ok).length} of ${outcomes.length} pods done${mine.length ? `; ${mine.length} failed${keptText}` : ''}`;
    throw new SomeFailedError(msg, new StoppedError(sig, msg));
  }
  if (mine.length === 0 && apart.length) throw new SomeFailedError(`${verb}: of ${outcomes.length} pods, ${apartTexts(outcomes, false).join('; ')}`, failed[0]!.failure);
  throw new SomeFailedError(`${verb} failed for ${mine.length} of ${outcomes.length} pods${keptText}`, failed[0]!.failure);
}

/**
 * The groups of the pods counted apart (state 'apart'), one per `what`, said of one pod or of several: "1 attached
 * but its pod was deleted meanwhile (shop/web-3): `kubectl cni-gc` frees what stays", "2 attached but their pods were
 * deleted meanwhile (…): …" (`named`: the pods named, and the hint), else the counts alone.
 */
function apartTexts<T>(outcomes: PodOutcome<T>[], named: boolean): string[] {
  const by = new Map<string, PodOutcome<T>[]>();
  for (const o of outcomes) if (o.state === 'apart' && o.apart) by.set(o.apart.what, [...(by.get(o.apart.what) ?? []), o]);
  return [...by].map(([, os]) => `${os.length} ${os.length === 1 ? os[0]!.apart!.what : os[0]!.apart!.whatMany}${named ? ` (${someNames(os.map((o) => o.pod), NAMED_ELSEWHERE)}): ${os[0]!.apart!.hint}` : ''}`);
}

/** What a lock left held on a node by a quit is said with (unknownWords, cli/main.ts stopEnding). */
export interface QuitLocks {
  /** The host this runs on: a pod on it holds no lock past this command's end (its holder, this process, is gone). */
  here: string;
  /**
   * The latest moment a lock this process held on node `node` when the quit began stays held there, or undefined when
   * it held none there (exec/interrupt.ts limitedLocksHeldUntil).
   */
  heldUntil: (node: string) => number | undefined;
}

/**
 * What a batch says of the pods a second signal left unknown: `hint`, the words after them in the summary; `fields`,
 * what -o json|yaml adds to each one's item (tryout 12, finding 3: it said only "its state is not known").
 *
 * The hint: "`kubectl cni-list -n shop -l 'app=web' … --node node-a` tells" — with `--node` and the nodes of those pods
 * (`pods`: the batch's, for their spec.nodeName), so that the list reads what those nodes hold: without it, a row's
 * state comes from the cluster's records alone, which a quit batch may have left behind what its nodes hold (an
 * outside tester saw `attached` for pods whose DEL had run). -A (namespace undefined): cni-list -A, every namespace,
 * as the batch went over. Then, with `locks`, of those pods still on their nodes (`onNode`, default all of them) on
 * other nodes than this host where this process held a lock when the quit began: until when what the quit left
 * running there may hold them — its time limit passed since the lock's last renewal (exec/lock.ts: the limit plus
 * LOCK_GRACE_MS; a rollback's DELs at least 60 s), whatever became of this command (tryout 11, finding 2: the next
 * `cni-detach -l` failed for ~60 s while the summary named only cni-list): "; on node node-b what the quit left running
 * may hold its lock until 2026-12-03T10:31:10Z (its time limit): a cni-attach or cni-detach of it from this host may
 * answer busy until then; from another host, …" (lockHeldWords). Nothing is said of a node where it held none (their steps had not reached
 * it, or had released it: a pod handed off), nor of this host.
 *
 * The fields: `listCommand`, that cni-list with the pod's node; `lockHeldUntil`, when its node's locks are said.
 */
export function unknownWords(flags: CommonFlags, namespace: string | undefined, pods: Pod[] = [], locks?: QuitLocks): { hint: (unknown: string[], onNode?: string[]) => string; fields: (pod: string, onNode: boolean) => Record<string, unknown> } {
  const nodeOf = new Map(pods.map((p) => [`${p.metadata?.namespace ?? namespace}/${p.metadata?.name}`, p.spec?.nodeName]));
  const listOf = (nodes: string[]) => {
    const list = listCommandLine({ ...flags, namespace, ...(flags.all || flags.selector === undefined ? {} : { selector: flags.selector }) });
    return `${namespace === undefined ? list.replace(/^kubectl cni-list/, 'kubectl cni-list -A') : list}${nodes.length ? ` --node ${nodes.join(',')}` : ''}`;
  };
  // the node of a pod still on it, and until when this process's locks there may stay held (undefined: none)
  const heldOn = (pod: string): number | undefined => {
    const node = nodeOf.get(pod);
    return locks && node && node !== locks.here ? locks.heldUntil(node) : undefined;
  };
  return {
    hint: (unknown, onNode = unknown) => {
      const nodes = [...new Set(unknown.map((p) => nodeOf.get(p)).filter((n): n is string => !!n))].sort();
      const tells = `\`${listOf(nodes)}\` tells`;
      const held = onNode.filter((p) => heldOn(p) !== undefined);
      if (!held.length) return tells;
      const until = Math.max(...held.map((p) => heldOn(p)!));
      const there = [...new Set(held.map((p) => nodeOf.get(p)!))].sort();
      return `${tells}; on ${there.length === 1 ? 'node' : 'nodes'} ${there.join(', ')} ${lockHeldWords(until, held.length === 1)}`;
    },
    fields: (pod, onNode) => {
      const node = nodeOf.get(pod);
      const until = onNode ? heldOn(pod) : undefined;
      return { listCommand: listOf(node ? [node] : []), ...(until !== undefined ? { lockHeldUntil: isoSecondUp(until) } : {}) };
    },
  };
}

/**
 * The QuitLocks of this process: the locks it held on each node when the quit began (exec/interrupt.ts
 * limitedLocksHeldUntil, by the node its executor names: exec/types.ts isNode).
 */
export function quitLocksOf(here: string): QuitLocks {
  return { here, heldUntil: (node) => limitedLocksHeldUntil((w) => isNode(w, node)) };
}

/** unknownWords' hint alone. */
export function unknownHint(flags: CommonFlags, namespace: string | undefined, pods: Pod[] = [], locks?: QuitLocks): (unknown: string[], onNode?: string[]) => string {
  return unknownWords(flags, namespace, pods, locks).hint;
}

/** The fields -o json|yaml adds to the item of a pod a second signal left unknown (StopWords.unknownFields), else none. */
export function unknownFields<T>(o: PodOutcome<T>, words: StopWords): Record<string, unknown> {
  return o.state === 'unknown' && words.unknownFields ? words.unknownFields(o.pod, o.onNode !== false) : {};
}

/**
 * What a batch's `quitting` (forEachPod) does with the outcomes known when a second signal quits: `summary` prints
 * them as the batch's end does (once: a summary printed already is not printed again), then the closing `error:`
 * line batchExit would end with.
 */
export function quitReport<T>(io: Io, verb: string, words: StopWords, summary: (outcomes: PodOutcome<T>[]) => Promise<boolean>): (outcomes: PodOutcome<T>[]) => Promise<void> {
  return async (outcomes) => {
    if (!(await summary(outcomes))) return;
    try {
      batchExit(outcomes, verb, words);
    } catch (e) {
      io.err(`error: ${describeError(e)}\n`);
    }
  };
}

/**
 * A pod's record in -o json|yaml: what it did when done, else its state, error and exit code (and the signal that
 * stopped it, or what its failure left: left "recorded" for an attach not rolled back).
 */
export function batchRecord<T>(o: PodOutcome<T>, value: (v: T) => Record<string, unknown>): Record<string, unknown> {
  if (o.ok) return { pod: o.pod, ok: true, ...value(o.value!) };
  if (o.state === 'skipped') return { pod: o.pod, ok: false, state: 'skipped', skipped: o.skipped, exitCode: o.exitCode };
  return { pod: o.pod, ok: false, state: o.state, ...(o.apart ? { apart: o.apart.what } : {}), error: o.error, exitCode: o.exitCode, ...(o.stop ? { stoppedBy: o.stop.signal } : {}), ...(o.left ? { left: o.left } : {}) };
}

/** How much of a repeated note batchNotes quotes when it counts it. */
const QUOTED_AT_MOST = 70;

/**
 * The stderr of a batch's pods, each note said once: a `note:` line the batch has printed already (word for word: the
 * same cause met by many pods, such as records the cluster refuses, 403, for each of 100 pods) is not printed again
 * but counted, and end() prints, for each note said for more than one pod, one line with how many: `note: the note
 * "the attachment is not recorded in the cluster (…" above held for 37 pods`. Other lines (progress, debug) pass
 * through. Notes that name their pod differ, and are each printed.
 */
export function batchNotes(io: Io): { io: Io; end: () => void } {
  const seen = new Map<string, number>();
  return {
    io: {
      out: io.out,
      err: (s) => {
        if (!s.startsWith('note: ')) return io.err(s);
        const n = seen.get(s);
        seen.set(s, (n ?? 0) + 1);
        if (n === undefined) io.err(s);
      },
    },
    end: () => {
      for (const [s, n] of seen) {
        if (n < 2) continue;
        const text = s.slice('note: '.length).trimEnd();
        const quoted = text.length > QUOTED_AT_MOST ? `${text.slice(0, QUOTED_AT_MOST - 1)}…` : text;
        io.err(`note: the note "${quoted}" above held for ${n} pods\n`);
      }
    },
  };
}

/**
 * The note a batch prints of the --cni-path its pods' records name (cli/targets.ts recordedCniPath), once per path:
 * "note: plugins looked for in /opt/x for pod shop/web-1, where …" for one pod, "… in /opt/x for 37 pods
 * (shop/web-1, …, … and 32 more), where the attach of net1 found them (their records; --cni-path overrides)" for
 * several — in path order of first appearance.
 */
export function recordedCniPathNotes(ifname: string, pods: { pod: string; cniPath: string }[]): string {
  const by = new Map<string, string[]>();
  for (const p of pods) by.set(p.cniPath, [...(by.get(p.cniPath) ?? []), p.pod]);
  return [...by]
    .map(([path, named]) =>
      named.length === 1
        ? `note: plugins looked for in ${path} for pod ${named[0]}, where the attach of ${ifname} found them (its record; --cni-path overrides)\n`
        : `note: plugins looked for in ${path} for ${named.length} pods (${someNames(named)}), where the attach of ${ifname} found them (their records; --cni-path overrides)\n`,
    )
    .join('');
}

/**
 * --parallel's text: an int as pflag reads one (options.ts parseIntFlag: `invalid argument "abc" for "--parallel"
 * flag: strconv.ParseInt: parsing "abc": invalid syntax`, with cobra's See line), then from 1 to 64 (`--parallel 0:
 * pods at a time is from 1 to 64`, one line). UsageError (exit 2).
 */
export function parseParallel(text: string): number {
  const n = parseIntFlag('--parallel', text);
  if (n < 1 || n > 64) throw new UsageError(`--parallel ${text}: pods at a time is from 1 to 64`);
  return n;
}

/**
 * The batch's pods (one API list) and runtimes, which have looked them up (one command per node, resolve/pod.ts
 * prepareBatch) and answer from that; undefined, with a note, when no pod matches. Skipped, each kind with one note:
 * pods on hostNetwork, and for an attach (`verb` 'attach') pods being deleted. `prepare`: what the engine will
 * read on a node, declared on the node's session before its look-up. An attach also gets `watch`, the watch of its
 * pods from the list on (batch-watch.ts: which pods were deleted before their turn), begun right after the list so
 * that it is open while the look-ups run; its caller stops it when the batch ends.
 *
 * The user's signal is not waited out here (nothing is changed by these steps; the caller holds the batch, hold()):
 * during the list, a StoppedError "attach stopped by SIGINT (Ctrl-C) while listing the pods: nothing changed" (`verb`:
 * the batch's); later (the runtimes, the agents starting, the look-ups), the pods are returned as they are, and
 * forEachPod starts none of them (each "not started", the summary "nothing changed"). The agents started meanwhile go
 * with the command's other leftovers (atEnd).
 */
export async function batchOf(
  flags: CommonFlags,
  deps: Deps,
  api: KubeApi,
  namespace: string | undefined,
  verb: string,
  prepare?: (exec: Executor) => void,
): Promise<{ pods: Pod[]; runtimes: PodRuntime[]; parallel: Parallelism; watch?: BatchWatch } | undefined> {
  // (a bad --parallel is refused before anything is asked of the cluster)
  if (flags.parallel !== undefined) parseParallel(flags.parallel);
  // the first signal's note says what it does now (cli/main.ts stoppingNote): no pod began, nothing changed
  const end = duringStep('stopping before any pod was started: nothing was changed');
  let watch: BatchWatch | undefined;
  try {
    const got = await unlessSignal(withUserSelector(flags.selector, api.listPods(namespace, flags.selector)));
    if ('s' in got) throw new StoppedError(got.s, `${verb} stopped by ${signalName(got.s)} while listing the pods: nothing changed`);
    const listed = got.v;
    // a pod on hostNetwork has the node's own network namespace: no command touches it (a pod named alone is refused,
    // exit 2). Selected with others it is skipped, said in one note, as Multus leaves such pods alone: `--all` in a
    // namespace that has some (kube-system's, a node agent's) is not a failure.
    const hostNet = listed.filter((p) => p.spec?.hostNetwork);
    if (hostNet.length) {
      const names = hostNet.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`);
      deps.io.err(`note: skipped ${names.length} pod${names.length > 1 ? 's' : ''} on hostNetwork (${someNames(names)}): ${names.length > 1 ? 'their' : 'its'} network namespace is the node's own\n`);
    }
    // a pod being deleted (Terminating: deletionTimestamp set, its phase perhaps still Running) gets no new interface:
    // an attach skips it the same way (one named alone is refused, exit 2); a detach goes on with it (cleaning up is
    // what one wants of a pod on its way out)
    const { beingDeleted } = await load.pods();
    const deleting = verb === 'attach' ? listed.filter((p) => !p.spec?.hostNetwork && beingDeleted(p) !== undefined) : [];
    if (deleting.length) {
      const one = deleting.length === 1;
      const names = deleting.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`);
      deps.io.err(`note: skipped ${names.length} pod${one ? '' : 's'} being deleted (${one ? `${names[0]}, ${beingDeleted(deleting[0]!)}` : someNames(names)}): ${one ? 'its network goes with it' : 'their networks go with them'}\n`);
    }
    const pods = listed.filter((p) => !p.spec?.hostNetwork && !deleting.includes(p));
    // an attach watches its pods from the list on (batch-watch.ts): a pod deleted before its turn is skipped then. Its
    // caller stops it when the batch ends; stopped here when the batch ends before it began
    watch = verb === 'attach' && pods.length ? watchBatch(api, namespace, flags.selector, listed, beingDeleted, verbosity(flags) >= 1 ? lineTo(deps.io, 'debug:') : undefined) : undefined;
    if (pods.length === 0) {
      const but = [hostNet.length ? 'those on hostNetwork' : '', deleting.length ? 'those being deleted' : ''].filter(Boolean).join(' and ');
      deps.io.err(`note: no pods in ${namespace === undefined ? 'any namespace' : `namespace ${namespace}`}${flags.selector ? ` match ${flags.selector}` : ''}${but ? ` but ${but}` : ''}; nothing to do\n`);
      return undefined;
    }
    const ready = await unlessSignal((async () => {
      const runtimes = await deps.runtimes(flags, api);
      await (await load.pods()).prepareBatch(runtimes, pods, prepare);
      return runtimes;
    })());
    const parallel = parallelismOf(flags.parallel, pods);
    if (verbosity(flags) >= 1) {
      const nodes = new Set(pods.map((p) => p.spec?.nodeName ?? '')).size;
      const n = Math.min(parallel.total, pods.length);
      // fewer pods than the width: the pods are the bound (tryout 16: "1 pod at a time … 4 to 32 in all")
      const fewer = n < parallel.total ? `; ${pods.length} pod${pods.length === 1 ? '' : 's'} in all here` : '';
      // the rule's bounds said as bounds (tryout 15: "32 in all" read as a count beside "10 at a time"); a width given
      // by --parallel said as given (tryout 16: -v=1 said nothing then)
      const why = flags.parallel === undefined
        ? `the default: one per node the pods are on, ${nodes} node${nodes === 1 ? '' : 's'} here, but ${PER_NODE_DEFAULT} to ${TOTAL_DEFAULT_MAX} in all and at most ${parallel.perNode} on one node${fewer}; --parallel sets it`
        : `--parallel ${parallel.total}${fewer}`;
      deps.io.err(`debug: ${n} pod${n === 1 ? '' : 's'} at a time on their nodes (${why})\n`);
    }
    return { pods, runtimes: 'v' in ready ? ready.v : [], parallel, ...(watch ? { watch } : {}) };
  } catch (e) {
    watch?.stop();
    throw e;
  } finally {
    end();
  }
}
