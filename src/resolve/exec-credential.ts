/**
 * A kubeconfig user's credential plugin (`users[].user.exec`: kubelogin, aws eks get-token, gke-gcloud-auth-plugin),
 * run as client-go runs it (k8s.io/client-go plugin/pkg/client/auth/exec, exec.go: refreshCredsLocked,
 * isInteractive, wrapCmdRunErrorLocked), through @kubernetes/client-node's own runner.
 *
 * client-node's ExecAuth runs the plugin and reads its ExecCredential, but: it sets no KUBERNETES_EXEC_INFO (a plugin
 * that reads it — for spec.interactive, or spec.cluster with provideClusterInfo — gets nothing); it gives the plugin
 * a stdin pipe it never closes, whatever interactiveMode says; it keeps no exit code (a failed plugin is an Error whose
 * message is the plugin's raw stderr, trailing newline and all; a missing one is `spawn X ENOENT`), which this tool
 * then said as "cannot reach the API server"; and it runs the plugin again for every request when the credential has
 * no expirationTimestamp (client-go keeps such a credential for the process). Re-implementing ExecAuth would mean
 * carrying its token, certificate and header handling too, so it is wrapped instead, at its one seam: the spawn
 * function it keeps as `execFn`, and its `getCredential` (both private fields of client-node 1.x, found by shape;
 * test/k8s/kube-client.test.ts and test/integration/kubectl-conventions.test.ts run real plugin scripts against the
 * stand-in API server, so a client-node that changes them fails there, not in the field). The wrap:
 * - sets KUBERNETES_EXEC_INFO: an ExecCredential of the plugin's apiVersion, spec.interactive, and spec.cluster when
 *   provideClusterInfo is true (execInfo);
 * - runs the plugin with the terminal's stdin only when interactive (interactiveMode Never: never; IfAvailable, the
 *   default: when stdin is a terminal; Always: a terminal is required), its stderr passed through to ours while
 *   interactive (the plugin's prompts), as kubectl does;
 * - asks once per process while the credential holds (no expirationTimestamp: for the process), concurrent requests
 *   sharing one run;
 * - says a failure as kubectl does: `getting credentials: exec: executable X failed with exit code 1` (or `… not
 *   found`, with the exec config's installHint), plus the plugin's stderr on one line, escaped (credentialError).
 *   UnreachableError, exit 4: the cluster would not let us in, as for a 401 (README, exit codes) — not exit 2, since
 *   the kubeconfig is read as given, and a login that expired is the usual cause.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { UnreachableError, shown } from '../errors.js';
import type { ClusterOptions } from './kubeconfig.js';

/** A credential plugin that failed (exit 4 as UnreachableError); kube.ts apiError prefixes the request it failed. */
export class CredentialError extends UnreachableError {}

/** The extension of a kubeconfig cluster handed to its exec plugins as spec.cluster.config (client-go's name). */
export const EXEC_EXTENSION = 'client.authentication.k8s.io/exec';

type Raw = Record<string, unknown>;

/**
 * Whether the plugin runs interactive (client-go isInteractive): interactiveMode Never → false; IfAvailable (the
 * default when unset) → stdin is a terminal; Always → true, and an UnreachableError when stdin is no terminal ("exec
 * plugin cannot support interactive mode: standard input is not a terminal"). Another value is an error too.
 */
export function interactiveOf(exec: Raw, stdinIsTerminal: boolean): boolean {
  const mode = typeof exec.interactiveMode === 'string' && exec.interactiveMode !== '' ? exec.interactiveMode : 'IfAvailable';
  const fail = (why: string) => new CredentialError(`getting credentials: exec plugin cannot support interactive mode: ${why}`, { fix: { setting: 'user' } });
  if (mode === 'Never') return false;
  if (mode === 'IfAvailable') return stdinIsTerminal;
  if (mode === 'Always') {
    if (!stdinIsTerminal) throw fail('standard input is not a terminal');
    return true;
  }
  throw fail(`unknown interactiveMode: "${shown(mode)}"`);
}

/**
 * KUBERNETES_EXEC_INFO as client-go sets it for the plugin: `{"kind":"ExecCredential","apiVersion":<the exec config's
 * apiVersion>,"spec":{"interactive":…}}`, with spec.cluster (server, tls-server-name, insecure-skip-tls-verify,
 * certificate-authority-data (base64), proxy-url, config: the cluster's client.authentication.k8s.io/exec extension)
 * when provideClusterInfo is true. Pure.
 */
export function execInfo(exec: Raw, cluster: ClusterOptions, extension: unknown, interactive: boolean): string {
  const apiVersion = typeof exec.apiVersion === 'string' && exec.apiVersion ? exec.apiVersion : 'client.authentication.k8s.io/v1beta1';
  const spec: Raw = { interactive };
  if (exec.provideClusterInfo === true) {
    spec.cluster = {
      server: cluster.server,
      ...(cluster.tlsServerName ? { 'tls-server-name': cluster.tlsServerName } : {}),
      ...(cluster.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}),
      ...(cluster.caData ? { 'certificate-authority-data': cluster.caData } : {}),
      ...(cluster.proxyUrl ? { 'proxy-url': cluster.proxyUrl } : {}),
      ...(extension !== undefined ? { config: extension } : {}),
    };
  }
  return JSON.stringify({ kind: 'ExecCredential', apiVersion, spec });
}

/** How one run of the plugin ended, as the wrap saw it. */
export interface PluginRun {
  /** The spawn failed (ENOENT: no such executable; EACCES: not executable). */
  spawnError?: NodeJS.ErrnoException;
  code?: number | null;
  signal?: NodeJS.Signals | null;
  stderr: string;
  /** Its stderr went to the user's terminal already (interactive). */
  stderrShown?: boolean;
}

/**
 * A failed credential plugin in kubectl's words (client-go wrapCmdRunErrorLocked, behind "getting credentials: "),
 * with the plugin's stderr on the same line, escaped (shown), unless it was shown already. `cause`: client-node's
 * error, for a plugin that ran and exited 0 (its output not an ExecCredential: "decoding stdout: …").
 */
export function credentialError(command: string, run: PluginRun | undefined, cause: unknown, installHint?: string): CredentialError {
  const fix = { setting: 'user' as const, advice: 'log in again (the kubeconfig user gets its credentials from this plugin), or choose another user' };
  const stderr = run && !run.stderrShown && run.stderr.trim() ? `; its stderr: ${shown(run.stderr.trim())}` : '';
  let what: string;
  const hint = installHint ? ` (${shown(installHint.trim())})` : '';
  const errno = run?.spawnError?.code;
  if (errno === 'ENOENT' && !command.includes('/')) {
    // a bare name not on $PATH (Go's exec.LookPath: exec.Error)
    what = `exec: executable ${command} not found${hint}`;
  } else if (errno === 'ENOENT' || errno === 'EACCES') {
    // a path (Go runs it as given: *fs.PathError, "exec: %v")
    what = `exec: fork/exec ${command}: ${errno === 'ENOENT' ? 'no such file or directory' : 'permission denied'}${hint}`;
  } else if (run?.spawnError) {
    what = `exec: ${run.spawnError.code ?? ''} ${run.spawnError.message}`.replace(/ +/g, ' ');
  } else if (run?.signal) {
    what = `exec: executable ${command} failed: killed by ${run.signal}`;
  } else if (run?.code !== undefined && run.code !== null && run.code !== 0) {
    what = `exec: executable ${command} failed with exit code ${run.code}`;
  } else {
    what = `decoding stdout: ${shown((cause as Error | undefined)?.message ?? String(cause))}`;
  }
  return new CredentialError(`getting credentials: ${what}${stderr}`, { cause, fix });
}

/** The shape of client-node's ExecAuth the wrap uses (private fields of client-node 1.x: see the module comment). */
interface ExecAuthLike {
  execFn: (command: string, args: string[] | undefined, opts: SpawnOptions) => ChildProcess;
  getCredential: (user: Raw) => Promise<{ status?: { expirationTimestamp?: string } } | null>;
  applyAuthentication: (user: Raw, opts: unknown) => Promise<void>;
}

function findExecAuth(kc: object): ExecAuthLike | undefined {
  const list = (kc as { authenticators?: unknown }).authenticators;
  if (!Array.isArray(list)) return undefined;
  return list.find((a: Partial<ExecAuthLike> | null) => typeof a?.execFn === 'function' && typeof a.getCredential === 'function' && typeof a.applyAuthentication === 'function') as ExecAuthLike | undefined;
}

export interface ExecPluginSetup {
  /** The kubeconfig user's exec config (command already made absolute where the loader does). */
  exec: Raw;
  cluster: ClusterOptions;
  /** The cluster's client.authentication.k8s.io/exec extension, when it has one. */
  extension?: unknown;
  stdinIsTerminal: boolean;
  /** Where the plugin's stderr goes while interactive (the user's terminal). */
  stderr: (chunk: string) => void;
}

/**
 * Wrap the ExecAuth of a client-node KubeConfig as the module comment says. Returns false when kc has no ExecAuth
 * of the known shape (nothing is changed then). Throws (UnreachableError) for an interactiveMode that cannot be met.
 */
export function wrapExecAuth(kc: object, setup: ExecPluginSetup): boolean {
  const auth = findExecAuth(kc);
  if (!auth) return false;
  const interactive = interactiveOf(setup.exec, setup.stdinIsTerminal);
  const info = execInfo(setup.exec, setup.cluster, setup.extension, interactive);
  const command = String(setup.exec.command ?? '');
  const installHint = typeof setup.exec.installHint === 'string' ? setup.exec.installHint : undefined;
  let last: PluginRun | undefined;
  auth.execFn = (cmd, args, opts) => {
    const run: PluginRun = { stderr: '', ...(interactive ? { stderrShown: true } : {}) };
    last = run;
    const child = spawn(cmd, args ?? [], {
      ...opts,
      env: { ...(opts.env ?? process.env), KUBERNETES_EXEC_INFO: info },
      stdio: [interactive ? 'inherit' : 'ignore', 'pipe', 'pipe'],
    });
    child.stderr?.on('data', (c: Buffer | string) => {
      const text = String(c);
      if (run.stderr.length < 64 * 1024) run.stderr += text;
      if (interactive) setup.stderr(text);
    });
    child.on('error', (e: NodeJS.ErrnoException) => (run.spawnError = e));
    child.on('close', (code, signal) => Object.assign(run, { code, signal }));
    return child;
  };
  const getCredential = auth.getCredential.bind(auth);
  let held: { promise: ReturnType<ExecAuthLike['getCredential']>; expires?: number } | undefined;
  auth.getCredential = (user) => {
    if (held && (held.expires === undefined || held.expires > Date.now())) return held.promise;
    const mine: NonNullable<typeof held> = { promise: getCredential(user) };
    held = mine;
    mine.promise.then(
      (cred) => {
        const at = Date.parse(cred?.status?.expirationTimestamp ?? '');
        if (!Number.isNaN(at)) mine.expires = at;
      },
      () => {
        if (held === mine) held = undefined; // a failed run is not kept: the next request asks again
      },
    );
    return mine.promise;
  };
  const apply = auth.applyAuthentication.bind(auth);
  auth.applyAuthentication = async (user, opts) => {
    try {
      await apply(user, opts);
    } catch (e) {
      throw credentialError(command, last, e, installHint);
    }
  };
  return true;
}
