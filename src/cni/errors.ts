/**
 * Typed errors. Every error the tool raises on purpose is a CliError carrying the exit code the
 * CLI uses (see DESIGN.md "Exit codes"); anything else is a bug and is reported as such.
 */

export const ExitCode = {
  Ok: 0,
  PluginFailed: 1,
  Usage: 2,
  NotFound: 3,
  Unreachable: 4,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad flags, bad config, bad interface name: exit 2. */
export class UsageError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.Usage, options);
  }
}

/** The target (netns, pod, sandbox) does not exist: exit 3. */
export class NotFoundError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.NotFound, options);
  }
}

/** The cluster or container runtime cannot be reached: exit 4. */
export class UnreachableError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.Unreachable, options);
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

/** A CNI plugin said no (or died): exit 1. Carries the plugin's {code,msg,details} when it gave one. */
export class PluginError extends CliError {
  constructor(
    readonly plugin: string,
    readonly command: string,
    readonly cniCode: number | undefined,
    readonly cniMsg: string,
    readonly details?: string,
    readonly stderr?: string,
  ) {
    const code = cniCode === undefined ? '' : ` (CNI error ${cniCode})`;
    const det = details ? `: ${details}` : '';
    super(`plugin ${plugin} failed on ${command}${code}: ${cniMsg}${det}`, ExitCode.PluginFailed);
  }
}
