/**
 * The errors cni-attach raises on purpose, named by what went wrong. Almost a leaf: every layer imports it, it imports
 * only duration.ts (a leaf: time words) of src. Anything thrown that is not a CniAttachError is a bug and is reported as one.
 *
 * Exit codes are not chosen here: cli/main.ts maps each kind to one (exitCodeOf). Messages say what is wrong in the
 * terms of the layer that raised them and never name a command-line flag; where a setting of the user fixes it, the
 * error names that setting (`fix`) and the CLI adds which flag that is. Text from outside is printed through `shown`.
 */

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const NAMED: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const escapeControl = (c: string): string => NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/**
 * Text from outside (a plugin's msg, details and stderr, an API server's message, a node command's stderr, a record's
 * fields) as a terminal may show it: each control character — C0 (NUL…US, so also TAB, LF, CR and the ESC that starts
 * an escape sequence), DEL and C1 (U+0080…U+009F) — written as its escape, `\t` `\n` `\r` or `\xHH` (`\x1b`, `\x00`,
 * `\x07`, `\x9b`), so the text stays on one line and can neither move the cursor, recolour, retitle the terminal nor
 * forge a line of its own (`error: …`). Printable text, backslashes included, is left as it is: applying it twice
 * changes nothing.
 */
import { isoSecond, isoSecondUp, runningFor } from './duration.js';

export function shown(text: string): string {
  return text.replace(CONTROL, escapeControl);
}

/** shown, but keeping the line breaks (LF; a CRLF is one line break): for multi-line text such as a plugin's stderr. */
export function shownLines(text: string): string {
  return text.split(/\r?\n/).map(shown).join('\n');
}

/** What went wrong, one word per kind; the CLI maps each to an exit code. */
export type ErrorKind = 'usage' | 'not-found' | 'unreachable' | 'busy' | 'plugin' | 'not-recorded' | 'some-failed' | 'stopped' | 'output';

/**
 * A setting the user controls that fixes the error. The CLI knows which flag sets it (cli/main.ts FLAG_OF); lower
 * layers only know the setting.
 */
export type Setting =
  | 'cniPath'
  | 'cacheDir'
  | 'networkConfig'
  | 'ifname'
  | 'netns'
  | 'kubeconfig'
  | 'context'
  | 'cluster'
  | 'user'
  | 'server'
  | 'certificateAuthority'
  | 'clientCertificate'
  | 'clientKey'
  | 'insecureSkipTlsVerify'
  | 'tlsServerName'
  | 'impersonateUser'
  | 'requestTimeout'
  | 'dockerHost'
  | 'agentRuntime'
  | 'agentImage'
  | 'agentNamespace'
  | 'selector'
  | 'runTimeout';

export interface Fix {
  setting: Setting;
  /** What to do with it, in the raising layer's words ("install it or point the CNI path at its directory"). */
  advice?: string;
  /** Another setting that fixes it too, said after this one ("…, or …"). */
  or?: Fix;
}

export interface ErrorOptions {
  cause?: unknown;
  fix?: Fix;
}

export abstract class CniAttachError extends Error {
  abstract readonly kind: ErrorKind;
  readonly fix?: Fix;
  /**
   * What the user can do next, in command lines of their own (the CLI's ways out, which carry the flags and local
   * paths they gave: `kubectl cni-detach web-1 -n shop --ifname eth1 --cache-dir /tmp/c`). Shown after the message
   * wherever the user reads it (cli/main.ts describeError); never written into the cluster: a pod's events are read
   * by everyone with access to its namespace, and kubectl's own events never carry a client's command lines or paths.
   */
  next?: string;
  /**
   * What the failed operation left of the change it was to make, where the engine knows it: 'nothing' (refused or
   * failed before any plugin ADD ran: nothing was changed), 'undone' (it ran and was rolled back), 'recorded' (the
   * rollback failed too: the attempt stays recorded and the message says what may remain). undefined: not said.
   */
  left?: LeftByStop;

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    if (options.fix) this.fix = options.fix;
  }
}

/** Bad flags, bad config, bad interface name, a state the request conflicts with: fix the input and run again. */
export class UsageError extends CniAttachError {
  readonly kind = 'usage';
}

/** The target (netns, pod, sandbox) or the thing asked about (a cached attachment) does not exist. */
export class NotFoundError extends CniAttachError {
  readonly kind = 'not-found';
}

/** The cluster, the container runtime or a node cannot be reached (or would not let us in). */
export class UnreachableError extends CniAttachError {
  readonly kind = 'unreachable';
  /**
   * True when the request never reached the node, so nothing of it ran there: a pods/exec whose WebSocket upgrade was
   * answered with a status instead of 101 (resolve/kube.ts execError: 404, the agent pod deleted; 403; 500 …). Not set
   * for a request lost after it was sent (a session that ended before it answered): that one may have run.
   */
  notSent?: boolean;
}

/**
 * The API server answered a request with an error Status (other than 404): it was reached, and refused. Unreachable
 * (exit 4) like any request the cluster would not serve, unless the CLI knows the request was built from the user's
 * input — a 400 BadRequest for the user's label selector is bad input (cli/targets.ts userSelector).
 */
export class ApiStatusError extends UnreachableError {
  constructor(
    message: string,
    /** The HTTP status code (400, 403, 500, …). */
    readonly status: number,
    /** The Status's reason (BadRequest, Forbidden, …) when it gave one. */
    readonly reason: string | undefined,
    /** The Status's message, as the server wrote it. */
    readonly serverMessage: string,
    options: ErrorOptions = {},
  ) {
    super(message, options);
  }
}

/**
 * The command's output could not be written (stdout on a full file system, /dev/full, a closed descriptor; a reader
 * that went away, EPIPE, is none: that output is dropped). Said as kubectl (a Go program) says it: `write /dev/stdout:
 * no space left on device`; `code` is Node's (ENOSPC, EBADF, EIO).
 */
export class OutputError extends CniAttachError {
  readonly kind = 'output';

  constructor(
    readonly code: string | undefined,
    message: string,
    options: ErrorOptions = {},
  ) {
    super(message, options);
  }
}

/** Well-known CNI error codes (SPEC.md "Error"). */
export const CniErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  ContainerUnknown: 3,
  InvalidEnv: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  PluginLimitedConnectivity: 51,
} as const;

/**
 * Another process holds the lock of this attachment right now: nothing was done, the same command can succeed later.
 * CNI's own word for it is code 11, "try again later" (SPEC.md "Error"), which this carries.
 */
export class BusyError extends CniAttachError {
  readonly kind = 'busy';
  readonly cniCode = CniErrorCode.TryAgainLater;
  override left: LeftByStop | undefined = 'nothing';
  /**
   * What the lock says of its holder, where it says it: its pid; freeInMs, when its command is gone but what it started
   * on a node may run until its time limit (ms until that has passed, on the node's clock). For callers that word it
   * their own way (cni-gc's notes).
   */
  holder?: { pid?: number; host?: string; start?: string; freeInMs?: number; limitS?: number; changedAgoMs?: number; readAt?: number };
}

/**
 * "what the quit left running may hold its lock until 2026-12-03T10:31:12Z (its time limit): a cni-attach or
 * cni-detach of it from this host may answer busy until then; from another host, which cannot see that this command
 * is gone, `cni-detach --force` from then on" — `untilMs` rounded up to the second; `one`: of one pod, else of several.
 * Another host respects a lock of this host's until `--force` says its command is gone, and then until its time limit
 * (exec/lock.ts judge); --force also passes an attach's write-ahead record there (cli/targets.ts refuseIfAttaching) —
 * tryout 13, N1 and N3: the words promised that host a time.
 */
export function lockHeldWords(untilMs: number, one: boolean): string {
  return `what the quit left running may hold ${one ? 'its lock' : 'their locks'} until ${isoSecondUp(untilMs)} (its time limit): a cni-attach or cni-detach of ${one ? 'it' : 'them'} from this host may answer busy until then; from another host, which cannot see that this command is gone, \`cni-detach --force\` from then on`;
}

/**
 * How long ago (ms, this host's clock, at `now`) a lock's age was read on its node (`readAt`, exec/lock.ts Busy): 0
 * where unknown. Every time said from that age — when a gone command's lock frees (freeInMs), when another host's
 * limit passes (changedAgoMs) — counts from that read, not from when the message is made: a cni-gc's note made at its
 * end, seconds after its node read, said a lock frees 3 s later than it does (tryout 10, finding 4).
 */
export function sinceRead(h: { readAt?: number }, now = Date.now()): number {
  return h.readAt === undefined ? 0 : Math.max(0, now - h.readAt);
}

/**
 * Whole seconds until a gone command's lock is free (exec/lock.ts Busy.freeInMs, counted from its read: sinceRead), at
 * `now`; 0 once that has passed; undefined when the lock does not say (its command not known to be gone).
 */
export function freeInSecs(h: { freeInMs?: number; readAt?: number }, now = Date.now()): number | undefined {
  return h.freeInMs === undefined ? undefined : Math.max(0, Math.ceil((h.freeInMs - sinceRead(h, now)) / 1000));
}

/** Whole seconds another host's lock may still run (limitS less its age, counted from its read: sinceRead), at `now`. */
export function foreignRunsSecs(h: { limitS?: number; changedAgoMs?: number; readAt?: number }, now = Date.now()): number {
  return Math.ceil((h.limitS! * 1000 - h.changedAgoMs! - sinceRead(h, now)) / 1000);
}

/**
 * Whether another host's lock with a time limit (BusyError.holder: a host other than `here`, limitS, its command not
 * known to be gone: freeInMs unset) has been unchanged for longer than that limit (changedAgoMs, read on the node's
 * clock): nothing it started on the node still runs, and a live command renews its lock before each run
 * (exec/lock.ts Lock.renew), so its command is almost surely gone — but only its host can tell. undefined for any
 * other holder, or where the lock's age was not read.
 */
export function foreignLimitPassed(h: NonNullable<BusyError['holder']>, here: string | undefined, now = Date.now()): boolean | undefined {
  if (h.host === undefined || h.host === here || h.limitS === undefined || h.freeInMs !== undefined || h.changedAgoMs === undefined) return undefined;
  return h.changedAgoMs + sinceRead(h, now) >= h.limitS * 1000;
}

/**
 * When another host's lock's time limit passed or passes, as true at `now`: "passed at 2026-12-02T19:03:41Z (2m8s ago)"
 * or "passes in 39s (at 2026-12-02T19:03:41Z)", on this host's clock (the lock's age is the node's: no skew); undefined
 * where the lock's age was not read (changedAgoMs). Holders as foreignLimitPassed.
 */
export function foreignLimitWhen(h: NonNullable<BusyError['holder']>, now = Date.now()): string | undefined {
  if (h.limitS === undefined || h.changedAgoMs === undefined) return undefined;
  const left = h.limitS * 1000 - h.changedAgoMs - sinceRead(h, now);
  if (left <= 0) return `passed at ${isoSecondUp(now + left)} (${runningFor(-left)} ago)`;
  const secs = Math.ceil(left / 1000);
  return `passes in ${secs}s (at ${isoSecondUp(now + secs * 1000)})`;
}

/**
 * The way out of another host's lock on a node (BusyError.holder with a host other than `here` and a time limit, its
 * command not known to be gone: freeInMs unset), for every message that meets one (a busy detach, check or attach,
 * cni-gc's note, cni-list's reasons): " (only host laptop-2 can tell whether that command still runs; if you know it
 * does not — …—, a cni-detach --force of it takes its lock once the time limit that lock holds<where> (300s since it
 * last changed) has passed<tail>)"; where the lock's age was read (changedAgoMs), what is true at `now`: "… takes its
 * lock at once: the time limit … passed at T (2m8s ago)" or "… once the time limit … has passed, in 39s (at T)".
 * Nothing here can see another host's processes, so that lock is respected until the user says its command is gone
 * (exec/lock.ts LockOwner.othersGone). '' for any other holder. `where`: " on node node-a" or ''; `tail`: what the
 * sentence adds; `by`: who takes the lock ("the same cni-detach with --force" in that detach's own error; the command
 * line to paste where the caller knows it).
 */
export function foreignLockWayOut(h: NonNullable<BusyError['holder']>, here: string | undefined, where = '', tail = '', by = 'a cni-detach --force of it', now = Date.now()): string {
  if (h.host === undefined || h.host === here || h.limitS === undefined || h.freeInMs !== undefined) return '';
  const limit = `the time limit that lock holds${where} (${h.limitS}s since it last changed)`;
  const when = foreignLimitWhen(h, now);
  const takes = when === undefined ? `takes its lock once ${limit} has passed` : foreignLimitPassed(h, here, now) ? `takes its lock at once: ${limit} ${when}` : `takes its lock once ${limit} has passed: it ${when}`;
  return ` (only host ${h.host} can tell whether that command still runs; if you know it does not — that host is down, or the command was killed —, ${by} ${takes}${tail})`;
}

/** "SIGINT (Ctrl-C)", "SIGTERM": the user's signal, for messages. */
export function signalName(signal: string): string {
  return signal === 'SIGINT' ? 'SIGINT (Ctrl-C)' : signal;
}

/**
 * A CNI plugin said no (or died): carries the plugin's {code,msg,details} when it gave one, and what it printed on
 * stderr. With stoppedBy, it was the user's signal that stopped the run ("plugin bridge stopped on ADD: by SIGINT
 * (Ctrl-C) …"), not the plugin that failed: the CLI exits as stopped by that signal.
 */
export class PluginError extends CniAttachError {
  readonly kind = 'plugin';

  constructor(
    readonly plugin: string,
    readonly command: string,
    readonly cniCode: number | undefined,
    readonly cniMsg: string,
    readonly details?: string,
    readonly stderr?: string,
    readonly stoppedBy?: string,
  ) {
    const code = cniCode === undefined ? '' : ` (CNI error ${cniCode})`;
    const det = details ? `: ${details}` : '';
    super(stoppedBy ? `plugin ${plugin} stopped on ${command}: ${cniMsg}` : `plugin ${plugin} failed on ${command}${code}: ${cniMsg}${det}`);
  }
}

/**
 * What a stopped command left: nothing (stopped before it changed anything), undone (its change was rolled back), or
 * recorded (a change stays in the cache records, which the message names the command to finish).
 */
export type LeftByStop = 'nothing' | 'undone' | 'recorded';

/** The user's signal (SIGINT, SIGTERM) stopped the command before a step; the message says what was left (or undone). */
export class StoppedError extends CniAttachError {
  readonly kind = 'stopped';
  declare left: LeftByStop;

  constructor(
    readonly signal: string,
    message: string,
    left: LeftByStop = 'nothing',
  ) {
    super(message);
    this.left = left;
  }
}

/** The signal that stopped e (a StoppedError, a plugin run the signal stopped), if it was one. */
export function stoppedBy(e: unknown): string | undefined {
  if (e instanceof StoppedError) return e.signal;
  if (e instanceof PluginError) return e.stoppedBy;
  return undefined;
}

/**
 * The plugins made a change that could not be recorded in the CNI cache (so nothing could ever detach it): the change
 * was undone, as after a failed ADD, and the message says whether undoing it worked.
 */
export class NotRecordedError extends CniAttachError {
  readonly kind = 'not-recorded';

  constructor(message: string, options: ErrorOptions & { left: LeftByStop }) {
    super(message, options);
    this.left = options.left;
  }
}

/**
 * A command over several things at once (a batch of pods, a gc pass) of which some failed; `first` is the failure that
 * decides how the command ends (the first in order), a CniAttachError or a bug.
 */
export class SomeFailedError extends CniAttachError {
  readonly kind = 'some-failed';

  constructor(
    message: string,
    readonly first: unknown,
  ) {
    super(message);
  }
}
