/**
 * Ctrl-C and SIGTERM. Plugins run in their own process group (so a timeout can kill them with their children), which
 * also means the terminal's SIGINT never reaches them: on a signal the CLI calls interrupt(), the executors kill the
 * plugins they are running, the engine (which checks interruptedBy() between steps, inside a hold()) rolls the attach
 * back, and the CLI exits 130 / 143 — or 0 when the signal came after the change was committed and reported.
 */

import { StoppedError } from '../errors.js';

/** Stops what it can; returns how many running things (plugin runs) it stopped. */
type Handler = (signal: NodeJS.Signals) => number | void;

const handlers = new Set<Handler>();
let received: NodeJS.Signals | undefined;

/** Register what to do on an interruption (e.g. kill running plugins); returns the unregister function. */
export function onInterrupt(h: Handler): () => void {
  handlers.add(h);
  return () => handlers.delete(h);
}

let holds = 0;
let everHeld = false;
/** The holds of a change itself (hold()), not of a batch's frame (holdBatch). */
let changeHolds = 0;
let changeEverHeld = false;

/**
 * Mark a change under way (an attach between its lock and its printed result, a detach's DEL and forget): while any
 * hold is active, a signal does not exit at once; the engine sees interruptedBy(), rolls back (or finishes what is
 * committed) and the CLI exits with what it says. Returns the release (idempotent).
 */
export function hold(): () => void {
  changeHolds++;
  changeEverHeld = true;
  const release = frame();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    changeHolds--;
    release();
  };
}

/** A hold of the signal handling alone: the command ends with its own words (hold, holdBatch). */
function frame(): () => void {
  holds++;
  everHeld = true;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holds--;
  };
}

const batches = new Set<() => string[]>();

/**
 * Mark a batch under way (cni-attach/cni-detach -l from its pod list on, each pod in it; cni-gc's pass of DELs): as
 * hold() for the signal handling — the first signal lets it end with its summary — but no change by itself: the
 * changes are its items', each under its own hold() where it changes a node, and `inFlight` names the items begun
 * and not ended ("shop/web-3"), which a second signal that quits leaves as they are (its note names them:
 * cli/main.ts quitNote; the batch's summary counts them unknown). Returns the release (idempotent).
 */
export function holdBatch(inFlight: () => string[] = () => []): () => void {
  const release = frame();
  batches.add(inFlight);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    batches.delete(inFlight);
    release();
  };
}

/** The items of the batches under way that are begun and not ended (holdBatch), in their batches' order. */
export function batchInFlight(): string[] {
  return [...batches].flatMap((f) => f());
}

const delsRunning = new Set<() => string[]>();

/**
 * Name the DELs of cni-gc under way (`running`: "net1 of pod shop/web-1 on node node-a", each begun and not ended),
 * which a second signal that quits leaves as they are (its note names them: cli/main.ts quitNote; gc's quit report
 * names them with the command that frees them). Names only: no frame for the signal handling (each DEL is a change
 * under its own hold()). Returns the end (idempotent).
 */
export function nameDelsRunning(running: () => string[]): () => void {
  delsRunning.add(running);
  return () => void delsRunning.delete(running);
}

/** The DELs named as under way (nameDelsRunning). */
export function delsInFlight(): string[] {
  return [...delsRunning].flatMap((f) => f());
}

/** The locks held now on nodes reached by commands: the moment each one's time limit there passes, and its node. */
const limitedLocks = new Set<{ until: number; where?: string }>();

/**
 * Added to the moment a lock's limit passes as this process saw it renewed (trackLimitedLock): a lock write rides
 * with a later request of its node session (exec/batch.ts: an optimistic lock goes with the next command) and lands up
 * to a round trip after this process took it as written, so the node's clock starts its limit that much later.
 */
export const LOCK_WRITE_SLACK_MS = 2000;

/**
 * Track a lock this process holds on a node reached by commands (exec/lock.ts takeLock with a work limit): what a
 * second signal quits leaves there running may hold it until its time limit has passed since its last renewal —
 * `untilMs` (ms since the epoch, this host's clock: the renewal as this process saw it plus the limit and the
 * grace). `where`: its node as its executor names it (CommandRunner.elsewhere: "node node-a", "node container
 * kind-worker"). `renewed` moves that moment; `release`, once the lock is removed, forgets it (both idempotent).
 */
export function trackLimitedLock(untilMs: number, where?: string): { renewed: (untilMs: number) => void; release: () => void } {
  const entry: { until: number; where?: string } = { until: untilMs, ...(where !== undefined ? { where } : {}) };
  limitedLocks.add(entry);
  return { renewed: (u) => void (entry.until = u), release: () => void limitedLocks.delete(entry) };
}

/**
 * The latest moment a lock this process holds now on a node reached by commands stays held once it is gone
 * (trackLimitedLock; plus LOCK_WRITE_SLACK_MS), of those whose node `on` accepts (default all), or undefined when it
 * holds none — once a second signal began to quit, of those it held then (beginQuit): what a quit's words say a
 * cni-attach or cni-detach meets there (busy) until then — cli/main.ts stopEnding, cli/bulk.ts quitLocksOf (unknownWords).
 */
export function limitedLocksHeldUntil(on: (where: string | undefined) => boolean = () => true): number | undefined {
  let latest: number | undefined;
  for (const l of quit ? locksAtQuit : limitedLocks) if (on(l.where)) latest = latest === undefined ? l.until : Math.max(latest, l.until);
  return latest === undefined ? undefined : latest + LOCK_WRITE_SLACK_MS;
}

/** Whether a change is under way now (a hold(); a batch's frame, holdBatch, is none): cli/main.ts stoppingNote, quitNote. */
export function holding(): boolean {
  return changeHolds > 0;
}

const phases: string[] = [];

/**
 * Say what the first signal does during a step (the note cli/main.ts stoppingNote prints then: "stopping the wait
 * for the pod's network-status update: the interface stays as it is now …"), until the returned end is called
 * (idempotent). The latest step begun and not ended speaks.
 */
export function duringStep(words: string): () => void {
  phases.push(words);
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    phases.splice(phases.lastIndexOf(words), 1);
  };
}

/** What the step under way says the first signal does (duringStep), if one says it. */
export function stepWords(): string | undefined {
  return phases.at(-1);
}

/** Whether any hold() or holdBatch() was ever taken in this process (a command that began its change, or its batch). */
export function heldOnce(): boolean {
  return everHeld;
}

/** Whether a change itself ever began in this process (a hold(); a batch's frame alone, holdBatch, is none). */
export function changedOnce(): boolean {
  return changeEverHeld;
}

/**
 * Returns how many things will wind down by themselves (plugin runs stopped, holds active): 0 means there is nothing
 * to roll back, the CLI may just go.
 */
export function interrupt(signal: NodeJS.Signals): number {
  received ??= signal;
  for (const w of waiters.splice(0)) w(received);
  let stopped = 0;
  for (const h of handlers) stopped += h(signal) || 0;
  return stopped + holds;
}

const waiters: ((signal: NodeJS.Signals) => void)[] = [];

/**
 * Resolves with the user's signal when the command is interrupted: to stop waiting for a step nothing can kill (an API
 * request) once the command must end. Never resolves otherwise.
 */
export function whenInterrupted(): Promise<NodeJS.Signals> {
  if (received) return Promise.resolve(received);
  return new Promise((r) => waiters.push(r));
}

/**
 * p, unless the user's signal comes first: then a StoppedError (left 'recorded') that says `what` was in flight, so may
 * or may not have landed. For a request nothing can kill (an API write) that must not hold a command the user stopped;
 * the caller's message must not claim the write failed (it may have landed after the CLI stopped waiting).
 */
export function unlessInterrupted<T>(p: Promise<T>, what: string): Promise<T> {
  const end = duringStep(`stopping the wait for ${what}: what was changed before it stands (the same command again makes sure)`);
  return Promise.race([
    p,
    whenInterrupted().then((sig): never => {
      throw new StoppedError(sig, `${sig} came while ${what} was being sent: it may or may not have landed`, 'recorded');
    }),
  ]).finally(end);
}

/**
 * How long the bookkeeping of a command the user's signal stopped may take — the cluster's record of an attach
 * settled (cli/attach.ts), of a detach that stopped during its DEL (cli/detach.ts) —: a second signal exits at once.
 */
export const AFTER_SIGNAL_MS = 3000;

/** p, or undefined once ms have passed (its timer holds no process open). */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
}

let quit = false;

/**
 * Mark that a second signal quits the command (cli/main.ts, before it tears down the sessions and agents): what ends
 * after this moment ended because of the quit, so a batch does not take it for the pod's own outcome (cli/bulk.ts:
 * a pod whose session the quit tore down is "unknown", not "failed: … the session was torn down").
 */
export function beginQuit(): void {
  if (!quit) locksAtQuit = [...limitedLocks].map((l) => ({ ...l }));
  quit = true;
}

/**
 * The locks held on nodes when the quit began (limitedLocksHeldUntil then): the quit's teardown cuts the requests
 * under way, and a lock released after that may not have been removed on its node.
 */
let locksAtQuit: { until: number; where?: string }[] = [];

/** Whether a second signal is quitting the command (beginQuit). */
export function quitting(): boolean {
  return quit;
}

/** The signal that interrupted this process, if any. */
export function interruptedBy(): NodeJS.Signals | undefined {
  return received;
}

const finalizers: (() => Promise<void>)[] = [];

/** Work to do when the command ends, however it ends (e.g. delete an agent pod). */
export function atEnd(fn: () => Promise<void>): void {
  finalizers.push(fn);
}

/** Writes under way that the end of the command waits for alongside the atEnd cleanups (inFlightUntilEnd). */
const inFlight = new Set<Promise<unknown>>();

/**
 * A write under way (e.g. the settle of an attach's record in the cluster) that the command's end waits for —
 * runAtEnd, also a quitting second signal's, within its time bound — alongside the atEnd cleanups rather than after
 * them, so that neither holds the other back. Returns `p`; its failure is the caller's to see (here it only ends).
 */
export function inFlightUntilEnd<T>(p: Promise<T>): Promise<T> {
  const settled: Promise<unknown> = p.then(
    () => inFlight.delete(settled),
    () => inFlight.delete(settled),
  );
  inFlight.add(settled);
  return p;
}

let atEndRunning: Promise<void> | undefined;

/**
 * Run (and forget) what atEnd registered, and wait for the writes in flight (inFlightUntilEnd) meanwhile; errors are reported to `note`, not thrown. A call while a run is under way
 * (the signal handler's, then the command's own end) waits for that run instead of finding nothing left to do, so the
 * command does not exit before its cleanups (or the signal's time bound) are done.
 */
export function runAtEnd(note: (line: string) => void): Promise<void> {
  atEndRunning ??= Promise.all([
    (async () => {
      const todo = finalizers.splice(0).reverse();
      for (const fn of todo) {
        try {
          await fn();
        } catch (e) {
          note(`cleanup: ${(e as Error).message}`);
        }
      }
    })(),
    ...inFlight,
  ])
    .then(() => undefined)
    .finally(() => (atEndRunning = undefined));
  return atEndRunning;
}

const pendingCleanups = new Map<string, string>();

/**
 * Say that a cleanup has begun (e.g. an agent pod's deletion) and what stays if it does not finish: `text`, a line
 * with the command that finishes it by hand. Returns the call that says it finished. A command that quits before
 * it finished (the second signal, the 5 s bound of the first) prints what is still pending: unfinishedCleanups().
 */
export function cleanupPending(key: string, text: string): () => void {
  pendingCleanups.set(key, text);
  return () => void pendingCleanups.delete(key);
}

/** The cleanups begun and not finished (their texts). */
export function unfinishedCleanups(): string[] {
  return [...pendingCleanups.values()];
}
