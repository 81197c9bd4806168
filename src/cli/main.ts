/** The one place that exits: run a commander program, map every error to its exit code and a one-line message. */
import { CommanderError, type Command } from 'commander';
import { CliError, ExitCode } from '../cni/errors.js';
import { interrupt, interruptedBy, runAtEnd } from '../exec/interrupt.js';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const stdio: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

/** Returns the exit code instead of exiting, so tests can drive programs in-process. */
export async function runProgram(program: Command, argv: string[], io: Io = stdio): Promise<number> {
  const verbose = argv.includes('-v') || argv.includes('--verbose');
  program.exitOverride();
  program.configureOutput({ writeOut: io.out, writeErr: io.err });
  for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.Ok;
  } catch (e) {
    return report(e, io, verbose);
  } finally {
    await runAtEnd((l) => io.err(`note: ${l}\n`));
  }
}

function report(e: unknown, io: Io, verbose: boolean): number {
  if (e instanceof CommanderError) {
    // commander already printed "error: …" (or the help); help and --version are not errors
    return e.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  }
  if (e instanceof CliError) {
    io.err(`error: ${e.message}\n`);
    if (verbose) {
      const stderr = (e as { stderr?: string }).stderr;
      if (stderr) io.err(`plugin stderr:\n${stderr.trimEnd()}\n`);
      io.err(`${e.stack ?? ''}\n`);
    }
    return e.exitCode;
  }
  io.err(`error: internal error: ${(e as Error)?.message ?? String(e)}${verbose ? '' : ' (run with -v for details)'}\n`);
  if (verbose) io.err(`${(e as Error)?.stack ?? ''}\n`);
  return ExitCode.PluginFailed;
}

const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/**
 * On the first SIGINT/SIGTERM/SIGHUP: kill the running plugins and let the engine roll back and release its lock, then
 * exit 128+signal. When no plugin is running there is nothing to roll back: clean up (an agent pod, at most 5 s) and
 * exit at once — a CLI waiting on a wedged API or runtime stops when asked. A second signal exits at once (the intent
 * file lets cni-detach and cni-gc finish the job later).
 */
function handleSignals(io: Io): void {
  for (const sig of Object.keys(SIGNAL_EXIT) as NodeJS.Signals[]) {
    process.on(sig, () => {
      const code = SIGNAL_EXIT[sig]!;
      if (interruptedBy()) process.exit(code);
      if (interrupt(sig) > 0) {
        io.err(`note: ${sig}: stopping the running plugin and rolling back (send it again to quit at once)\n`);
        return;
      }
      io.err(`note: ${sig}: stopping\n`);
      const limit = new Promise((r) => setTimeout(r, 5000).unref());
      void Promise.race([runAtEnd((l) => io.err(`note: ${l}\n`)), limit]).finally(() => process.exit(code));
    });
  }
}

/** Entry for bin/: run and exit with the code. */
export async function main(program: Command, argv = process.argv.slice(2)): Promise<never> {
  handleSignals(stdio);
  // a reader that went away (`-o json | head -1`) is not an error of ours
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(interruptedBy() ? SIGNAL_EXIT[interruptedBy()!] ?? 0 : 0);
  });
  let code = await runProgram(program, argv);
  const sig = interruptedBy();
  if (sig) code = SIGNAL_EXIT[sig] ?? code;
  // let stdout drain before exiting (piped output)
  await new Promise<void>((r) => (process.stdout.writableLength === 0 ? r() : process.stdout.once('drain', () => r())));
  process.exit(code);
}
