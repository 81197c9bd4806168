/**
 * Ctrl-C and SIGTERM. Plugins run in their own process group (so a timeout can kill them with their children), which
 * also means the terminal's SIGINT never reaches them: on a signal the CLI calls interrupt(), the executors kill the
 * plugins they are running, the engine's usual failure path rolls the attach back, and the CLI exits 130 / 143.
 */

/** Stops what it can; returns how many running things (plugin runs) it stopped. */
type Handler = (signal: NodeJS.Signals) => number | void;

const handlers = new Set<Handler>();
let received: NodeJS.Signals | undefined;

/** Register what to do on an interruption (e.g. kill running plugins); returns the unregister function. */
export function onInterrupt(h: Handler): () => void {
  handlers.add(h);
  return () => handlers.delete(h);
}

/** Returns how many running plugin runs were stopped: 0 means there is nothing to roll back, the CLI may just go. */
export function interrupt(signal: NodeJS.Signals): number {
  received ??= signal;
  let stopped = 0;
  for (const h of handlers) stopped += h(signal) || 0;
  return stopped;
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

/** Run (and forget) what atEnd registered; errors are reported to `note`, not thrown. */
export async function runAtEnd(note: (line: string) => void): Promise<void> {
  const todo = finalizers.splice(0).reverse();
  for (const fn of todo) {
    try {
      await fn();
    } catch (e) {
      note(`cleanup: ${(e as Error).message}`);
    }
  }
}
