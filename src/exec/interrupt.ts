/**
 * Ctrl-C and SIGTERM. Plugins run in their own process group (so a timeout can kill them with their children), which
 * also means the terminal's SIGINT never reaches them: on a signal the CLI calls interrupt(), the executors kill the
 * plugins they are running, the engine's usual failure path rolls the attach back, and the CLI exits 130 / 143.
 */

type Handler = (signal: NodeJS.Signals) => void;

const handlers = new Set<Handler>();
let received: NodeJS.Signals | undefined;

/** Register what to do on an interruption (e.g. kill running plugins); returns the unregister function. */
export function onInterrupt(h: Handler): () => void {
  handlers.add(h);
  return () => handlers.delete(h);
}

export function interrupt(signal: NodeJS.Signals): void {
  received ??= signal;
  for (const h of handlers) h(signal);
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
