/** The one place that exits: run a commander program, map every error to its exit code and a one-line message. */
import { CommanderError, type Command, type OutputConfiguration } from 'commander';
import { CniAttachError, lockHeldWords, OutputError, PluginError, SomeFailedError, StoppedError, shown, shownLines, signalName, stoppedBy, type ErrorKind, type Fix, type Setting } from '../errors.js';
import { batchInFlight, beginQuit, changedOnce, delsInFlight, heldOnce, holding, interrupt, interruptedBy, limitedLocksHeldUntil, runAtEnd, stepWords, unfinishedCleanups } from '../exec/interrupt.js';
import { FdOut } from './fd-out.js';
import { someNames } from './output.js';
import { flagSpecs, scanArgv, type FlagSpec } from './argv.js';
import { FlagTypeError, parseLevel } from './options.js';

/** The exit codes (README "Exit codes"): every command ends with one of these, chosen by exitCodeOf and nowhere else. */
export const ExitCode = {
  Ok: 0,
  PluginFailed: 1,
  Usage: 2,
  NotFound: 3,
  Unreachable: 4,
} as const;
/** The codes above, and 128 + n for a command the user's signal n stopped (129 SIGHUP, 130 SIGINT, 143 SIGTERM), as shells report it. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode] | 129 | 130 | 143;

/**
 * Each kind of error to its exit code. A busy attachment (another process holds its lock; CNI code 11 "try again
 * later") exits 1 like a plugin that answers 11: nothing is wrong with the input, the same command can succeed later.
 * An ADD whose result could not be recorded was rolled back: 1, as a failed ADD. Output that could not be written: 1,
 * as kubectl exits on `write /dev/stdout: no space left on device`. Several things of which some failed
 * exit as the first failure does. Anything else is a bug: 1.
 */
const EXIT_OF: Record<Exclude<ErrorKind, 'some-failed' | 'stopped'>, ExitCodeValue> = {
  usage: ExitCode.Usage,
  'not-found': ExitCode.NotFound,
  unreachable: ExitCode.Unreachable,
  busy: ExitCode.PluginFailed,
  plugin: ExitCode.PluginFailed,
  'not-recorded': ExitCode.PluginFailed,
  // kubectl's code for `error: write /dev/stdout: …`; what the command did stands (an attach rolls back first: cli/attach.ts unprinted)
  output: ExitCode.PluginFailed,
};

export function exitCodeOf(e: unknown): ExitCodeValue {
  if (!(e instanceof CniAttachError)) return ExitCode.PluginFailed;
  if (e instanceof SomeFailedError) return exitCodeOf(e.first);
  // stopped by the user's signal (before a step, or a plugin run it killed): 128 + n, whatever else the error is
  const sig = stoppedBy(e);
  if (sig) return (SIGNAL_EXIT[sig as NodeJS.Signals] ?? 143) as ExitCodeValue;
  return EXIT_OF[e.kind as keyof typeof EXIT_OF];
}

/** The flag that sets each setting an error may name as its fix. */
const FLAG_OF: Record<Setting, string> = {
  cniPath: '--cni-path',
  cacheDir: '--cache-dir',
  networkConfig: '--conf/--net',
  ifname: '--ifname',
  netns: '--netns',
  kubeconfig: '--kubeconfig',
  context: '--context',
  cluster: '--cluster',
  user: '--user',
  server: '--server',
  certificateAuthority: '--certificate-authority',
  clientCertificate: '--client-certificate',
  clientKey: '--client-key',
  insecureSkipTlsVerify: '--insecure-skip-tls-verify',
  tlsServerName: '--tls-server-name',
  impersonateUser: '--as',
  requestTimeout: '--request-timeout',
  dockerHost: '--docker-host',
  agentRuntime: '--runtime agent',
  agentImage: '--agent-image',
  agentNamespace: '--agent-namespace',
  selector: '-l/--selector',
  runTimeout: '--timeout',
};

/**
 * An error as the user reads it: its message, then what to run next (its `next`, the user's own command lines), then
 * which flag fixes it ("; see --cache-dir", "; choose another … (--ifname)"). One line: what it quotes from outside (a
 * plugin's or API server's message, a node command's stderr) is shown with its control characters escaped (shown).
 */
export function describeError(e: unknown): string {
  const next = e instanceof CniAttachError && e.next ? `; ${e.next}` : '';
  const msg = `${(e as Error)?.message ?? String(e)}${next}`;
  const fix = e instanceof CniAttachError ? e.fix : undefined;
  if (!fix) return shown(msg);
  const said = (f: Fix): string => (f.advice ? `${f.advice} (${FLAG_OF[f.setting]})` : `see ${FLAG_OF[f.setting]}`);
  return shown(`${msg}; ${said(fix)}${fix.or ? `, or ${said(fix.or)}` : ''}`);
}

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** A printer of one kind of line on stderr (`note:`, `debug:`, `I`): each text one line, whatever it holds (shown). */
export function lineTo(io: Io, prefix: string): (text: string) => void {
  return (text) => io.err(`${prefix} ${shown(text)}\n`);
}

/**
 * A reader that went away (`-o json | head -1`, `--dry-run | head -1`) is not an error of ours, and not a reason to
 * stop half-way: the command goes on with its output dropped, finishes what it changes and cleans up (an agent pod it
 * started is deleted; exiting here left it running), and exits as it would have. kubectl, a Go program, dies of
 * SIGPIPE at that write instead; a command that changes pods must not.
 */
function readerGone(): void {
  /* FdOut drops what comes after */
}

const stdout = new FdOut(1, () => process.stdout, readerGone);
const stderr = new FdOut(2, () => process.stderr, () => undefined);

/**
 * The process's stdout and stderr. What goes to stderr keeps its line breaks and nothing else of control characters
 * (shownLines): whatever a message quotes, and however it came there, nothing written to the terminal can move its
 * cursor, recolour or retitle it. stdout is the data asked for (-o json, a jsonpath template's tabs), written as it is.
 */
export const stdio: Io = {
  out: (s) => stdout.write(s),
  err: (s) => {
    try {
      stderr.write(shownLines(s));
    } catch {
      // stderr itself cannot be written (/dev/full): there is nowhere to say so; the exit code still tells
    }
  },
};

/**
 * commander's error, in kubectl's words (spf13/pflag's, which cobra prints for kubectl and every plugin written with
 * it), then cobra's "See 'kubectl cni-attach --help' for usage." (`path`: the command's path, `kubectl cni-attach` or
 * `kubectl cni-attach completion`). `argv`: the words as typed, to tell `-n` from `--namespace` as pflag does;
 * `flags`: the command's, to tell a boolean flag given a value that is no boolean (`--annotate=maybe`) from an unknown one.
 *
 *   unknown option '--foo'                    → unknown flag: --foo                   (also `--foo=x`)
 *   unknown option '--annotate=maybe'         → invalid argument "maybe" for "--annotate" flag: strconv.ParseBool: …
 *   unknown option '-Z' (in -Zq)              → unknown shorthand flag: 'Z' in -Zq
 *   option '-n, --namespace <ns>' argument missing → flag needs an argument: 'n' in -n  |  … --namespace
 *   option '--runtime <name>' argument 'rkt' is invalid. Allowed choices are …
 *                                             → invalid argument "rkt" for "--runtime" flag: allowed choices are …
 *                                               (pflag names a flag with a shorthand "-o, --output")
 *
 * `--dry-run=server` (kubectl's values are taken: argv.ts) was "unknown option '--dry-run=server'", as if there were
 * no --dry-run: it says what --dry-run takes. commander's words for arguments (too many, missing) stay. Pure.
 */
function reworded(text: string, argv: string[] = [], path = '', flags: FlagSpec[] = []): string {
  const see = path ? `See '${path} --help' for usage.\n` : '';
  const dry = /^error: unknown option '--dry-run=(.*?)'/.exec(text);
  if (dry) {
    const server = dry[1] === 'server';
    return `error: --dry-run=${dry[1]}: ${server ? 'no server-side dry run here: the change is made on a node by CNI plugins, which have none' : 'not a value of --dry-run'}; give --dry-run (or kubectl's --dry-run=client, the same: runs nothing, prints each plugin run), or --dry-run=none\n${see}`;
  }
  const unknown = /^error: unknown option '(.*?)'/.exec(text);
  if (unknown) {
    const flag = unknown[1]!;
    if (flag.startsWith('--')) {
      // a boolean flag with a value that is no boolean (argv.ts rewrites the ones that are)
      const [name, ...value] = flag.split('=');
      const known = flags.find((f) => f.long === name && !f.takesValue);
      if (known && value.length) {
        const v = value.join('=');
        return `error: invalid argument ${JSON.stringify(v)} for ${JSON.stringify(known.short ? `${known.short}, ${name}` : name)} flag: strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax\n${see}`;
      }
      return `error: unknown flag: ${name}\n${see}`;
    }
    const letter = flag.slice(1, 2);
    // the word as typed: `-qZ` reaches commander as `-q -Z`
    const word = argv.includes(flag) ? flag : (argv.find((w) => /^-[^-]/.test(w) && w.split('=')[0]!.slice(1).includes(letter)) ?? flag);
    return `error: unknown shorthand flag: '${letter}' in ${word}\n${see}`;
  }
  const missing = /^error: option '(.*?)' argument missing/.exec(text);
  if (missing) {
    const { short, long } = flagNames(missing[1]!);
    const typed = [...argv].reverse().find((w) => w === short || w === long);
    return `error: flag needs an argument: ${typed === short && short ? `'${short.slice(1)}' in ${short}` : long ?? short}\n${see}`;
  }
  const invalid = /^error: option '(.*?)' argument '(.*)' is invalid\.\s*([^]*?)\.?\s*$/.exec(text);
  if (invalid) {
    const { short, long } = flagNames(invalid[1]!);
    const name = short && long ? `${short}, ${long}` : (long ?? short);
    const why = invalid[3]!.replace(/^[A-Z](?=[a-z])/, (c) => c.toLowerCase());
    return `error: invalid argument ${JSON.stringify(invalid[2])} for ${JSON.stringify(name)} flag${why ? `: ${why}` : ''}\n${see}`;
  }
  return text.startsWith('error: ') ? `${text}${see}` : text;
}

/** The names in commander's flags text: "-n, --namespace <ns>" → -n and --namespace. */
function flagNames(flags: string): { short?: string; long?: string } {
  const names = flags.split(/[ ,|]+/).filter((n) => n.startsWith('-'));
  return { short: names.find((n) => !n.startsWith('--')), long: names.find((n) => n.startsWith('--')) };
}

/**
 * commander's output: through io, its errors in kubectl's words (reworded); where that is a pipe or a file, 80 columns
 * (commander's default) and no colours.
 */
function outputOf(io: Io, argv: string[], cmd: Command, path: string): OutputConfiguration {
  return {
    writeOut: io.out,
    writeErr: io.err,
    outputError: (text, write) => write(reworded(text, argv, path, flagSpecs(cmd))),
    ...(io === stdio && stdout.isDirect ? { getOutHelpWidth: () => 80, getOutHasColors: () => false } : {}),
    ...(io === stdio && stderr.isDirect ? { getErrHelpWidth: () => 80, getErrHasColors: () => false } : {}),
  };
}

/** Returns the exit code instead of exiting, so tests can drive programs in-process. */
/**
 * Whether the words are a subcommand's use (cni-attach's `completion SHELL`): the subcommand's name first, then at
 * most one word that is no flag (the shell) and -h/--help. Anything else names a pod that is called so
 * (`kubectl cni-attach completion -n ns --ifname net1 --conf c.json`): its name is a word like any other. Pure.
 */
export function usedAsSubcommand(argv: string[], subcommands: string[]): boolean {
  if (!subcommands.includes(argv[0] ?? '')) return false;
  const rest = argv.slice(1).filter((a) => a !== '-h' && a !== '--help');
  return rest.length === 0 || (rest.length === 1 && !rest[0]!.startsWith('-'));
}

/**
 * `completion SHELL` with kubectl's global flags beside it (`kubectl cni-attach completion bash --context prod`, as
 * `kubectl completion bash --context prod` takes them): the subcommand, those flags dropped — the script reads the
 * flags of the line being completed at each TAB, not these. Returns the words to parse, or undefined when the words
 * are not that (a pod named `completion` given with flags and no shell word). A tryout got "too many arguments".
 */
export function completionWithFlags(words: { text: string; role: string }[], subcommands: string[]): string[] | undefined {
  const args = words.filter((w) => w.role === 'arg').map((w) => w.text);
  if (!subcommands.includes(words[0]?.text ?? '') || args.length !== 2 || args[0] !== words[0]!.text || !['bash', 'zsh', 'fish'].includes(args[1]!)) return undefined;
  const help = words.some((w) => w.role === 'flag' && (w.text === '-h' || w.text === '--help'));
  return [args[0]!, args[1]!, ...(help ? ['--help'] : [])];
}

export async function runProgram(program: Command, rawArgv: string[], io: Io = stdio): Promise<number> {
  const words = scanArgv(rawArgv, flagSpecs(program));
  const argv = completionWithFlags(words, program.commands.map((c) => c.name())) ?? words.map((w) => w.text);
  // what the flags say, never a flag's value (`--ifname --version` names an interface) nor what follows `--`
  const flags = words.filter((w) => w.role === 'flag').map((w) => w.text);
  // a level kubectl would refuse (commander's hook says so: options.ts checkGlobalFlags) is no level for this
  const level = flags.filter((a) => a.startsWith('--v=')).map((a) => levelOr0(a.slice(4))).pop() ?? 0;
  const verbose = level >= 1;
  if (flags.includes('--version') && !program.commands.some((c) => argv[0] === c.name())) {
    // before commander: --version answers whatever else the line says (kubectl's `version` takes -o too)
    let format = '';
    words.forEach((w, i) => {
      if (w.role !== 'flag') return;
      if (w.text === '-o' || w.text === '--output') format = words[i + 1]?.role === 'value' ? words[i + 1]!.text : '';
      else if (w.text.startsWith('--output=')) format = w.text.slice(9);
    });
    const v = await import('./version.js');
    try {
      if (format === 'json' || format === 'yaml') io.out(await (await import('./output.js')).formatData(v.versionData(), format));
      else io.out(v.versionText());
    } catch (e) {
      return report(e, io, verbose); // its stdout cannot be written (OutputError)
    }
    return ExitCode.Ok;
  }
  const subcommands = program.commands.map((c) => c.name());
  if (words.some((w) => w.role === 'arg' && subcommands.includes(w.text)) && !usedAsSubcommand(argv, subcommands)) {
    // a pod named `completion` (cni-attach's subcommand): commander would take the word as the subcommand anywhere
    (program as unknown as { commands: Command[] }).commands = [];
  }
  program.exitOverride();
  program.configureOutput(outputOf(io, rawArgv, program, program.name()));
  for (const c of program.commands) c.exitOverride().configureOutput(outputOf(io, rawArgv, c, `${program.name()} ${c.name()}`));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.Ok;
  } catch (e) {
    return report(e, io, verbose, program.name());
  } finally {
    await runAtEnd(lineTo(io, 'note:'));
  }
}

function levelOr0(text: string): number {
  try {
    return parseLevel(text);
  } catch {
    return 0;
  }
}

function report(err: unknown, io: Io, verbose: boolean, command = ''): number {
  let e = err;
  if (e instanceof CommanderError) {
    // commander already printed "error: …" (or the help); help and --version are not errors
    return e.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  }
  const cut = cutBySignal(e, verbose);
  if (cut) e = cut;
  // output lost after a change (a detach's, gc's DELs): the change stands, and is said to (an attach rolls back instead: attach.ts unprinted)
  if (e instanceof OutputError && heldOnce()) e = new OutputError(e.code, `${e.message} (what the command changed stands; only its output was lost)`, { cause: e.cause });
  if (e instanceof CniAttachError) {
    markEnded();
    said = true;
    const code = exitCodeOf(e);
    endCode = interruptedBy() && code === ExitCode.PluginFailed ? SIGNAL_EXIT[interruptedBy()!] ?? code : code;
    const sig = stoppedBy(e);
    const verb = /cni-(attach|detach|check)$/.exec(command)?.[1];
    io.err(`error: ${sig && verb && !(e instanceof SomeFailedError) ? singleStopLine(verb, sig, e, describeError(e)) : describeError(e)}\n`);
    // a value not of its flag's type, which kubectl's parser would have refused: cobra's line, as for the parser's own
    if (e instanceof FlagTypeError && command) io.err(`See '${command} --help' for usage.\n`);
    if (verbose) {
      const stderr = (e as { stderr?: string }).stderr;
      if (stderr) io.err(`plugin stderr:\n${shownLines(stderr.trimEnd())}\n`);
      // a stop the user asked for (their signal) is no fault of the tool's: no stack for it
      if (!stoppedBy(e)) io.err(`${shownLines(e.stack ?? '')}\n`);
    }
    return exitCodeOf(e);
  }
  markEnded();
  said = true;
  io.err(`error: internal error: ${shown((e as Error)?.message ?? String(e))}${verbose ? '' : ' (run with -v for details)'}\n`);
  if (verbose) io.err(`${shownLines((e as Error)?.stack ?? '')}\n`);
  return ExitCode.PluginFailed;
}

/**
 * The StoppedError of a command whose step the user's signal cut short, which then failed as a step fails (a look-up
 * through an agent whose run was killed: "cannot reach the CRI runtime … failed", exit 4; an agent's start, a node
 * session's opening, a read, an API request): the signal's doing, so 128 + n, said as a stop (README "Exit codes").
 * Before any change began (no hold() ever taken: exec/interrupt.ts heldOnce) — whatever the error — "stopped by SIGINT
 * (Ctrl-C) before it changed anything: nothing was changed", the cut step's own words only with -v. During a change,
 * an unreachable node or cluster only (the engine's own errors say their stop already): its message, after "stopped
 * by SIGINT (Ctrl-C):", with what it says it left (else 'recorded'). Several things of which the first failed so
 * (cni-list's rows, cni-gc's nodes, a batch's pods: SomeFailedError; a batch stopped says its stops itself, cli/bulk.ts):
 * their message after "stopped by SIGINT (Ctrl-C):". Input refused (usage) stays as it is. undefined when e is not such
 * an error.
 */
export function cutBySignal(e: unknown, verbose = false): StoppedError | undefined {
  const sig = interruptedBy();
  if (!sig || stoppedBy(e) || e instanceof CommanderError) return undefined;
  const said = (e as Error)?.message ?? String(e);
  // what many things ended with (cni-list's rows, cni-gc's nodes, a batch's pods), the first an unreachable node or
  // cluster: said as it is, after the stop (what was printed before stands)
  if (e instanceof SomeFailedError) return !stoppedBy(e.first) && cutKind(e.first) ? new StoppedError(sig, `stopped by ${signalName(sig)}: ${said}`, heldOnce() ? 'recorded' : 'nothing') : undefined;
  if (e instanceof CniAttachError && e.kind === 'usage') return undefined;
  if (!heldOnce()) {
    // the words of the signal handler's closing line (stopEnding), whichever of the two ends first
    const head = closingLine?.(sig) ?? `stopped by ${signalName(sig)} before it changed anything: nothing was changed`;
    return new StoppedError(sig, `${head}${verbose ? ` (the step it cut short then said: ${said})` : ''}`, 'nothing');
  }
  if (!cutKind(e)) return undefined;
  return new StoppedError(sig, `stopped by ${signalName(sig)}: ${said}`, (e as CniAttachError).left ?? 'recorded');
}

/**
 * The closing line of one pod's (or one --netns') attach, detach or check that the user's signal stopped, in one form
 * whatever step it cut: "<verb> stopped by <signal> <where>: <what was changed>" — `attach stopped by SIGINT (Ctrl-C)
 * during the sandbox look-up on node node-a (…): nothing was changed`, `attach stopped by SIGINT (Ctrl-C) during plugin
 * slow's ADD (it was killed): rolled back: nothing was left behind`, `detach stopped by SIGTERM during plugin bridge's
 * DEL (it was killed): the record stays: run the command again`. Before, the engine's and the steps' own words came
 * as they were (`stopped by … during the sandbox look-up …`, `plugin slow stopped on ADD: by …`, `eth1 is attached;
 * SIGINT came while …`) beside the handler's `detach stopped by … before it changed anything` (a tryout). `text`: e as
 * describeError says it (its next steps and fix included). A batch's end (SomeFailedError), cni-gc's and cni-list's
 * keep their own words. Pure.
 */
export function singleStopLine(verb: string, sig: string, e: unknown, text: string): string {
  const by = `stopped by ${signalName(sig)}`;
  if (text.startsWith(`${verb} stopped by `)) return text;
  if (text.startsWith(by)) return `${verb} ${text}`;
  if (e instanceof PluginError) {
    const base = `plugin ${e.plugin} stopped on ${e.command}: `;
    const said = `by ${signalName(sig)}`;
    if (text.startsWith(base) && e.cniMsg.startsWith(said)) {
      const how = e.cniMsg.slice(said.length);
      const where = how.startsWith(' before it ran') ? ` before plugin ${e.plugin}'s ${e.command}${how.slice(' before it ran'.length)}` : ` during plugin ${e.plugin}'s ${e.command}${how}`;
      const after = text
        .slice(base.length + e.cniMsg.length)
        .replace(/^ \((rolled back: [^)]*)\)/, '; $1')
        .replace(/^; /, '');
      const left = after || (e.left === 'undone' ? 'rolled back' : e.left === 'recorded' ? 'what it changed stays recorded' : e.command === 'DEL' ? 'the record stays: run the command again' : 'nothing was changed');
      return `${verb} ${by}${where}: ${left}`;
    }
  }
  return `${verb} ${by}: ${text}`;
}

/** The command's closing line of a stop (stopEnding), once main() runs it: cutBySignal says a stop in the same words. */
let closingLine: ((sig: NodeJS.Signals) => string) | undefined;

/** An error a step cut short by the signal ends with: an unreachable node or cluster. */
const cutKind = (e: unknown): boolean => e instanceof CniAttachError && e.kind === 'unreachable';

const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/** Say which cleanups begun did not finish (an agent pod whose deletion was not answered). */
function sayUnfinished(io: Io): void {
  for (const t of unfinishedCleanups()) io.err(`note: ${t}\n`);
}

/**
 * Whether the command has said how it ended: its own `error:` line printed (report), or its run returned (main, which
 * then exits with its own code). The signal handler prints its closing line only when neither happened (stopEnding).
 */
let ended = false;
let endedNow: () => void = () => undefined;
const whenEnded = new Promise<void>((r) => (endedNow = r));
function markEnded(): void {
  ended = true;
  endedNow();
}

/** Whether the command printed its own last line (report's `error:` line; main's exit 0 after a signal, cameAfterNote). */
let said = false;
/** The code main exits with once the command's run returned (a second signal then exits with it, saying nothing). */
let endCode: number | undefined;
/** How long a stopped command whose run has ended may wait for its stdout to drain. */
const DRAIN_MS = 300;

/** What a second signal prints before it quits (a batch's summary of what is known then): see onQuit. */
const quitReports: ((sig: NodeJS.Signals) => Promise<void> | void)[] = [];

/**
 * Say, when a second signal quits the command, what is known at that moment (a batch: which pods are done, which not
 * started, which unknown): `report` prints its summary and its `error:` line. Returns the unregister function.
 */
export function onQuit(report: (sig: NodeJS.Signals) => Promise<void> | void): () => void {
  quitReports.push(report);
  return () => void quitReports.splice(quitReports.indexOf(report) >>> 0, 1);
}

/** How long a second signal waits for the cleanups (agent pods deleted) before the CLI exits. */
const QUIT_CLEANUP_MS = 1500;
/** How long the first signal waits for the cleanups when nothing winds down by itself. */
const STOP_CLEANUP_MS = 5000;

/**
 * On the first SIGINT/SIGTERM/SIGHUP: kill the running plugins and let the engine roll back and release its lock, then
 * exit 128+signal. When nothing winds down by itself (no plugin running, no hold: a look-up, an API request, the
 * command still loading) there is nothing to roll back: clean up (an agent pod, at most 5 s) and exit with
 * `closing`'s line (stopEnding) — unless the command ended first with its own (a command that had made a change is
 * given the 5 s to say it; one whose stdout does not drain is ended DRAIN_MS later): every stop ends with the note
 * and one `error:` line. A second signal quits: a batch says what is known then (onQuit: its summary, the pods in
 * flight "unknown"), else one line says what may stay (the intent file and the cluster's write-ahead record let
 * cni-list show it, cni-detach and cni-gc finish the job later); the cleanups (agent pods deleted: a pod left running
 * would hold the node) get at most QUIT_CLEANUP_MS; a third exits at once. Returns the handler, for the signals that
 * came before it was in place.
 */
function handleSignals(io: Io, command: string, closing: (sig: NodeJS.Signals, quit?: boolean) => string): (sig: NodeJS.Signals) => void {
  let quitting = false;
  const on = (sig: NodeJS.Signals) => {
    const code = SIGNAL_EXIT[sig]!;
    if (quitting) process.exit(code);
    if (ended && said) {
      // its last line is printed and stays last: a signal now adds no words after it, and the command exits as that
      // line said once the cleanups under way (an agent pod's deletion) are done, within the bound of a stop (the
      // first signal) or of a quit (a second)
      const first = !interruptedBy();
      quitting = true;
      if (first) interrupt(sig);
      const limit = new Promise((r) => setTimeout(r, first ? STOP_CLEANUP_MS : QUIT_CLEANUP_MS).unref());
      void Promise.race([runAtEnd(() => undefined), limit]).finally(() => process.exit(endCode ?? code));
      return;
    }
    if (interruptedBy()) {
      quitting = true;
      beginQuit();
      io.err(`note: ${quitNote(sig)}\n`);
      const limit = new Promise((r) => setTimeout(r, QUIT_CLEANUP_MS).unref());
      // the cleanups not finished are said before the closing words, which stay last
      void Promise.race([runAtEnd(lineTo(io, 'note:')), limit])
        .then(() => sayUnfinished(io))
        .then(() => quitReport(io, sig, closing))
        .finally(() => process.exit(code));
      return;
    }
    const note = stoppingNote(sig, command);
    // a command that has said how it ended (its closing line, or its result and exit 0) gets no note after it
    const speak = (line: string) => (said ? undefined : io.err(line));
    if (interrupt(sig) > 0) {
      speak(`${note}\n`);
      return;
    }
    speak(`${note}\n`);
    const limit = new Promise((r) => setTimeout(r, STOP_CLEANUP_MS).unref());
    void Promise.race([runAtEnd(lineTo(io, 'note:')), limit])
      // a command that changed something (a hold was taken and released) ends with its own words, within the bound;
      // one that began nothing is not waited for (what it would do next, such as an agent pod's creation, must not start)
      .then(() => (heldOnce() ? Promise.race([whenEnded, new Promise((r) => setTimeout(r, STOP_CLEANUP_MS).unref())]) : undefined))
      .finally(() => {
        // main exits with the command's own code — unless its output cannot drain (a pipe nobody reads): then this
        // does a moment later, as a stop (the output is cut short), with the closing line unless the command said one
        if (ended) {
          return void setTimeout(() => {
            if (!said) io.err(`error: ${closing(sig)}\n`);
            process.exit(code);
          }, DRAIN_MS);
        }
        markEnded();
        sayUnfinished(io);
        io.err(`error: ${closing(sig)}\n`);
        process.exit(code);
      });
  };
  for (const sig of Object.keys(SIGNAL_EXIT) as NodeJS.Signals[]) process.on(sig, () => on(sig));
  return on;
}

/** A second signal's report: the batch's (onQuit), at most QUIT_CLEANUP_MS more; else one closing line. */
export async function quitReport(io: Io, sig: NodeJS.Signals, closing: (sig: NodeJS.Signals, quit?: boolean) => string): Promise<void> {
  if (ended) return;
  markEnded();
  if (quitReports.length === 0) {
    io.err(`error: ${closing(sig, true)}\n`);
    return;
  }
  const limit = new Promise((r) => setTimeout(r, QUIT_CLEANUP_MS).unref());
  await Promise.race([Promise.all(quitReports.map((r) => Promise.resolve(r(sig)).catch(() => undefined))), limit]);
}

/**
 * The closing line of a command that the user's signal stopped while nothing wound down by itself (cli/main.ts
 * handleSignals), by what the process had begun: before any change (no hold ever taken: the command line read, the
 * cluster connected, the pod read, an agent starting) "attach stopped by SIGINT (Ctrl-C) before it changed anything:
 * nothing was changed" (a batch, -l/--selector/--all: "before any pod was started: nothing changed"); cni-list and
 * cni-check change nothing; after a change (a hold taken and released) "… after its change: what it printed stands",
 * gc's after its DELs "… what they freed stays freed, the rest as it was (`kubectl cni-gc --dry-run` says what is left)".
 * `quit`: the line of a second signal that quit the command ("…, quit by a second SIGINT during its change: what was
 * being changed stays as it is, recorded where it was (`kubectl cni-list` shows it …)" while a change was under way).
 */
export function stopEnding(program: Command, argv: string[]): (sig: NodeJS.Signals, quit?: boolean) => string {
  const verb = /cni-(\w+)$/.exec(program.name())?.[1] ?? program.name();
  const flags = scanArgv(argv, flagSpecs(program)).filter((w) => w.role === 'flag').map((w) => w.text);
  const batch = (verb === 'attach' || verb === 'detach') && flags.some((f) => f === '-l' || f === '--all' || f === '--selector' || f.startsWith('--selector='));
  return (sig, quit = false) => {
    const by = `${verb} stopped by ${signalName(sig)}${quit ? `, quit by a second ${sig}` : ''}`;
    if (verb === 'list') return `${by}: nothing was changed (listing changes nothing)`;
    if (verb === 'check') return `${by}: nothing was changed (CHECK changes nothing)`;
    // a batch quit before its pods began (its list, its agents starting): no pod was changed (once they began, its
    // summary speaks: cli/bulk.ts forEachPod)
    if (quit && batch && !changedOnce()) return `${by} before any pod was started: nothing changed`;
    if (quit && holding()) {
      // its lock on a node reached by commands stays held while what the quit left there may run (tryout 11, finding 2)
      const until = limitedLocksHeldUntil();
      return `${by} during its change: what was being changed stays as it is, recorded where it was (\`${program.name().replace(/-(attach|detach|gc)$/, '-list')}\` shows it with the command that clears it)${until === undefined ? '' : `; on its node ${lockHeldWords(until, true)}`}`;
    }
    if (heldOnce() && verb === 'gc') return `${by} after its DELs ran: what they freed stays freed, the rest as it was (\`kubectl cni-gc --dry-run\` says what is left)`;
    if (heldOnce()) return `${by} after its change: what it printed stands`;
    return batch ? `${by} before any pod was started: nothing changed` : `${by} before it changed anything: nothing was changed`;
  };
}

/**
 * The signals that came before main() took over their handling (bin/load-bundle.cjs catches them from its first line,
 * so that a Ctrl-C at start-up is the command's to answer, not Node's default death without a word); none when
 * started otherwise (tests in-process).
 */
function earlySignals(): NodeJS.Signals[] {
  const early = (globalThis as Record<symbol, unknown>)[Symbol.for('cni-attach.earlySignals')] as { take(): NodeJS.Signals[] } | undefined;
  return early?.take() ?? [];
}

/**
 * The note on the first signal: only what is certain at that moment, never the outcome — the command's last line says
 * that (its closing `error:` line, or `SIGINT came after the work was done …` with exit 0), once the stop has landed.
 * A step that says so (exec/interrupt.ts duringStep: the wait for a network-status update, whose change is made; an
 * attach whose result is cached; a batch before any pod began) speaks for itself; cni-list and cni-check change
 * nothing; any other command "stopping what runs now; the last line says what was changed and what was not". Before,
 * the note was chosen by what ran when the signal came — "nothing was changed yet", "rolling back what it changed",
 * "keeping what is recorded" — and the step that followed could contradict it: an attach signalled between its last
 * steps said "nothing was changed yet", then "SIGINT came after the work was done: it stands" (exit 0; a tryout); a
 * detach whose DEL had exited 0 said "keeping what is recorded", then "detached".
 */
export function stoppingNote(sig: string, command: string): string {
  const step = stepWords();
  const then =
    step ??
    (/cni-list$/.test(command)
      ? 'stopping: listing changes nothing'
      : /cni-check$/.test(command)
        ? 'stopping what runs now: CHECK changes nothing'
        : 'stopping what runs now; the last line says what was changed and what was not');
  return `note: ${sig}: ${then} (send it again to quit at once)`;
}

/**
 * The note of a second signal, which quits: what is being changed at that moment stays as it is — a batch's pods in
 * flight (exec/interrupt.ts holdBatch), named, which its summary then counts unknown (cli/bulk.ts forEachPod); cni-gc's
 * DELs running (nameDelsRunning), named likewise (before: "nothing was being changed" between its DELs, or "what was
 * being changed stays as it is", none named: tryout 9, finding 5); else a
 * change under way (hold(): a plugin run under its lock, one pod's change to its printed result) — else nothing was
 * being changed, and nothing was changed at all when no change ever began (changedOnce: a batch whose pods had not
 * reached a node). Before, a batch said "what was being changed stays as it is …" whatever it was doing (its frame
 * was a hold), also while it listed its pods or started its agents, and its summary then counted no pod unknown.
 */
export function quitNote(sig: string): string {
  const pods = batchInFlight();
  if (pods.length) {
    const one = pods.length === 1;
    return `${sig} again: quitting now; ${one ? '1 pod was' : `${pods.length} pods were`} being changed (${someNames(pods)}): ${one ? 'it stays' : 'each stays'} as the quit leaves ${one ? 'it' : 'them'}, recorded where ${one ? 'it was' : 'they were'} (the summary counts ${one ? 'it' : 'them'} unknown, with the cni-list that tells)`;
  }
  // cni-gc's DELs running (exec/interrupt.ts nameDelsRunning): named as a batch names its pods (its quit report names
  // them again, with the command that frees them)
  const dels = delsInFlight();
  if (dels.length) {
    const one = dels.length === 1;
    return `${sig} again: quitting now; ${one ? 'a DEL was' : `${dels.length} DELs were`} running (${someNames(dels)}): ${one ? 'it stays' : 'each stays'} as the quit leaves ${one ? 'it' : 'them'}, marked where ${one ? 'it runs' : 'they run'} as a DEL that did not finish (the summary names ${one ? 'it' : 'them'} unknown, with the command that frees ${one ? 'it' : 'them'})`;
  }
  if (holding()) return `${sig} again: quitting now; what was being changed stays as it is, recorded where it was (cni-list shows it with the command that clears it)`;
  return `${sig} again: quitting now; nothing was being changed${changedOnce() ? ' (what was changed before stands, as printed)' : ': nothing was changed'}`;
}

/** The line of a command that a signal reached after its work was done: it finishes and exits 0 (README "Exit codes"). */
export function cameAfterNote(sig: string): string {
  return `note: ${sig} came after the work was done: it stands, as printed (nothing was left to stop, so the exit code is 0)`;
}

/** Entry for bin/: run and exit with the code. */
export async function main(program: Command, argv = process.argv.slice(2)): Promise<never> {
  closingLine = stopEnding(program, argv);
  const on = handleSignals(stdio, program.name(), closingLine);
  for (const sig of earlySignals()) on(sig);
  let code = await runProgram(program, argv);
  // stdout that failed after the command's last write (through its stream, which reports later): said as kubectl says it
  const failed = stdout.failure;
  if (failed && code === ExitCode.Ok && !said) {
    stdio.err(`error: ${describeError(failed)}\n`);
    code = exitCodeOf(failed);
  }
  markEnded();
  const sig = interruptedBy();
  // A signal that came while a change was under way (hold()): the engine rolled back (its error says stopped: 128+n)
  // or, when the signal came after the change was committed, finished it: exit 0, the state is as printed.
  // A failure of a plugin the signal killed is the signal's doing.
  if (sig && code === ExitCode.PluginFailed) code = SIGNAL_EXIT[sig] ?? code;
  endCode = code;
  const cameAfter = () => {
    const late = interruptedBy();
    if (!late || code !== ExitCode.Ok || said) return;
    said = true;
    stdio.err(`${cameAfterNote(late)}\n`);
  };
  cameAfter();
  // let what went through a stream drain before exiting
  const out = stdout.usedStream;
  if (out) await new Promise<void>((r) => ((out as NodeJS.WriteStream).writableLength === 0 ? r() : out.once('drain', () => r())));
  // a signal that came while it drained: its note said the last line would say what was changed
  cameAfter();
  process.exit(code);
}
