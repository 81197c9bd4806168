/**
 * Which cluster, user and namespace a command talks to: kubectl's kubeconfig loading rules, done here and handed to
 * @kubernetes/client-node as one merged config (KubeConfig.loadFromOptions).
 *
 * Why not client-node's own loader: KubeConfig.loadFromDefault() merges the $KUBECONFIG files *last* wins (the last
 * file's current-context is used: a command would act in another cluster or namespace than kubectl), throws on a
 * cluster or user defined in two files (`Duplicate cluster: kubernetes-admin`, common with kubeadm configs), fails on
 * a listed file that does not exist, prefers in-cluster config over ~/.kube/config, and reads a user's `token-file`
 * where kubeconfigs say `tokenFile`. The rules below are client-go's (tools/clientcmd: loader.go
 * ClientConfigLoadingRules.Load, client_config.go DirectClientConfig and DeferredLoadingClientConfig), so that a
 * kubectl plugin always acts where kubectl would:
 *
 * - Files: `--kubeconfig PATH` alone (it must exist), else every path of `$KUBECONFIG` (split on the OS path
 *   separator, empty entries and repeats dropped, missing files skipped), else `~/.kube/config` if it exists.
 * - Merge: for clusters, users and contexts, the FIRST file that defines a name wins that whole entry;
 *   `current-context` is the first non-empty one. Two entries of one name in ONE file are an error (as client-go's
 *   conversion says). Relative paths in a file (certificate-authority, client-certificate, client-key, tokenFile, an
 *   exec command containing a `/`) are relative to that file's directory.
 * - Overrides (kubectl's global flags): --context picks the context; --cluster and --user replace its cluster and user;
 *   --server, --certificate-authority, --insecure-skip-tls-verify, --tls-server-name change the cluster (a CA flag or
 *   --insecure-skip-tls-verify replaces all three CA/skip settings, as client-go's getCluster does); --token replaces
 *   the user's token and tokenFile; --client-certificate replaces the user's client-certificate and
 *   client-certificate-data, --client-key its client-key and client-key-data (client-go getAuthInfo: a file given
 *   as a flag over data in the kubeconfig is no clash); --username and --password replace the user's (userWithOverrides);
 *   --as/--as-group/--as-uid replace the user's impersonation; -n the namespace.
 * - Plain http (`server: http://…`, `kubectl proxy`): no user identity is sent at all (no token, certificate,
 *   credential plugin or impersonation), as client-go sends none over a connection that is not TLS.
 * - In-cluster (the pod's service account) only when all of that yields no server, and KUBERNETES_SERVICE_HOST/_PORT
 *   are set (client-go's inClusterClientConfig.Possible, plus isDefault of the merged config).
 * - Nothing at all: an error naming where it looked (kubectl would try http://localhost:8080; a plugin acting on a
 *   cluster nobody named is worse than stopping). Exit 4.
 * - A kubeconfig named that does not exist is never "nothing at all": `--kubeconfig PATH` missing is bad usage (exit 2,
 *   as kubectl's `stat PATH: no such file or directory`); `$KUBECONFIG` whose files all do not exist, and nothing else
 *   naming a server, is exit 4 naming them (client-go warns `Config not found: …` and then uses the in-cluster config
 *   or tries http://localhost:8080: a typo there would act on another cluster or read as "no cluster").
 *
 * Pure: files come through the `KubeconfigFiles` port, so it is unit-tested without a file system.
 */
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { UnreachableError, UsageError } from '../errors.js';

/** The file system as the loader needs it. `read` returns undefined when the file does not exist (ENOENT). */
export interface KubeconfigFiles {
  read(path: string): string | undefined;
  /** Parse YAML (or JSON) text; throws on bad syntax. */
  parse(text: string): unknown;
}

/** kubectl's global flags that change the config (client-go ConfigOverrides). */
export interface KubeOverrides {
  context?: string;
  cluster?: string;
  user?: string;
  namespace?: string;
  server?: string;
  certificateAuthority?: string;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  token?: string;
  /** --client-certificate: a path (relative to the working directory); replaces the user's client-certificate and -data. */
  clientCertificate?: string;
  /** --client-key: a path (relative to the working directory); replaces the user's client-key and -data. */
  clientKey?: string;
  /** --username (basic authentication). */
  username?: string;
  /** --password (basic authentication). */
  password?: string;
  as?: string;
  asGroups?: string[];
  asUid?: string;
}

export interface LoadingRules {
  /** --kubeconfig */
  explicitPath?: string;
  env: { KUBECONFIG?: string; HOME?: string; KUBERNETES_SERVICE_HOST?: string; KUBERNETES_SERVICE_PORT?: string };
  /** The OS path-list separator (':' on Linux, ';' on Windows): node:path's `delimiter`. */
  delimiter: string;
}

/** The shapes client-node's KubeConfig.loadFromOptions takes (config_types.ts Cluster, User, Context). */
export interface ClusterOptions {
  name: string;
  server: string;
  caData?: string;
  caFile?: string;
  skipTLSVerify: boolean;
  tlsServerName?: string;
  proxyUrl?: string;
}
export interface UserOptions {
  name: string;
  token?: string;
  certData?: string;
  certFile?: string;
  keyData?: string;
  keyFile?: string;
  exec?: Record<string, unknown>;
  authProvider?: Record<string, unknown>;
  username?: string;
  password?: string;
  impersonateUser?: string;
}
export interface ContextOptions {
  name: string;
  cluster: string;
  user: string;
  namespace?: string;
}

/**
 * Where a certificate path came from, for the message that says it cannot be read: a flag (--certificate-authority)
 * or the kubeconfig file that names it.
 */
export type PathOrigin = { flag: true } | { file: string };
/** The origin of each certificate path the options name (caFile, certFile, keyFile). */
export interface PathOrigins {
  caFile?: PathOrigin;
  certFile?: PathOrigin;
  keyFile?: PathOrigin;
}

/** Impersonation headers to send (Impersonate-User, Impersonate-Group (one header each), Impersonate-Uid). */
export interface Impersonation {
  user?: string;
  groups: string[];
  uid?: string;
}

export type ResolvedKubeconfig =
  | {
      kind: 'kubeconfig';
      /** For KubeConfig.loadFromOptions: exactly the current context, its cluster and its user. */
      options: { clusters: ClusterOptions[]; users: UserOptions[]; contexts: ContextOptions[]; currentContext: string };
      /** -n, else the context's namespace, else "default". */
      namespace: string;
      context: string;
      server: string;
      impersonate: Impersonation;
      /** The files that were read, in precedence order. */
      files: string[];
      /** The cluster's `client.authentication.k8s.io/exec` extension (its exec plugins' spec.cluster.config), if any. */
      execExtension?: unknown;
      /** Where options' certificate paths came from (kubeconfig-files.ts inlineCertificateFiles names it when one cannot be read). */
      origins: PathOrigins;
    }
  | { kind: 'in-cluster'; namespace?: string; impersonate: Impersonation };

type Raw = Record<string, unknown>;
interface Named {
  item: Raw;
  /** The file it came from (its directory anchors relative paths). */
  file: string;
}
interface Merged {
  clusters: Map<string, Named>;
  users: Map<string, Named>;
  contexts: Map<string, Named>;
  currentContext: string;
}

const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The files to read, in precedence order (client-go NewDefaultClientConfigLoadingRules + Load). */
export function kubeconfigPaths(rules: LoadingRules): { paths: string[]; explicit: boolean } {
  if (rules.explicitPath !== undefined) return { paths: [rules.explicitPath], explicit: true };
  if (rules.env.KUBECONFIG !== undefined && rules.env.KUBECONFIG !== '') {
    const seen = new Set<string>();
    const paths = rules.env.KUBECONFIG.split(rules.delimiter).filter((p) => p !== '' && !seen.has(p) && !!seen.add(p));
    return { paths, explicit: false };
  }
  return { paths: rules.env.HOME ? [join(rules.env.HOME, '.kube', 'config')] : [], explicit: false };
}

function entries(doc: Raw, list: 'clusters' | 'users' | 'contexts', field: string, file: string): Map<string, Raw> {
  const out = new Map<string, Raw>();
  const items = doc[list];
  if (items === undefined || items === null) return out;
  if (!Array.isArray(items)) throw new UsageError(`kubeconfig ${file}: "${list}" is not a list`);
  for (const e of items) {
    if (!isObj(e) || typeof e.name !== 'string' || e.name === '') continue;
    if (out.has(e.name)) throw new UsageError(`kubeconfig ${file}: duplicate name "${e.name}" in ${list}`);
    out.set(e.name, isObj(e[field]) ? e[field] : {});
  }
  return out;
}

/** Merge parsed files, first wins (client-go ClientConfigLoadingRules.Load). Pure. */
export function mergeKubeconfigs(docs: { file: string; doc: unknown }[]): Merged {
  const merged: Merged = { clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: '' };
  for (const { file, doc } of docs) {
    if (doc === undefined || doc === null) continue; // an empty file
    if (!isObj(doc)) throw new UsageError(`kubeconfig ${file}: not a kubeconfig (a YAML mapping with clusters, users, contexts)`);
    const parts: ['clusters' | 'users' | 'contexts', string][] = [['clusters', 'cluster'], ['users', 'user'], ['contexts', 'context']];
    for (const [list, field] of parts) {
      for (const [name, item] of entries(doc, list, field, file)) if (!merged[list].has(name)) merged[list].set(name, { item, file });
    }
    if (merged.currentContext === '') merged.currentContext = str(doc['current-context']) ?? '';
  }
  return merged;
}

/** A path from a kubeconfig, relative to its file's directory (client-go ResolveLocalPaths). */
const fromFile = (file: string, p: string | undefined): string | undefined => (p === undefined || isAbsolute(p) ? p : resolve(dirname(file), p));

function clusterOptions(name: string, n: Named | undefined, o: KubeOverrides): ClusterOptions {
  const c = n?.item ?? {};
  let caFile = n ? fromFile(n.file, str(c['certificate-authority'])) : undefined;
  let caData = str(c['certificate-authority-data']);
  let skip = c['insecure-skip-tls-verify'] === true;
  if (o.insecureSkipTlsVerify || o.certificateAuthority !== undefined) {
    // client-go getCluster: an override of either replaces all three
    skip = !!o.insecureSkipTlsVerify;
    caFile = o.certificateAuthority !== undefined ? resolve(o.certificateAuthority) : undefined;
    caData = undefined;
  }
  const server = o.server ?? str(c.server) ?? '';
  // client-go getCluster: --server without --tls-server-name clears the kubeconfig's tls-server-name (it named the old server)
  const tlsServerName = o.tlsServerName ?? (o.server !== undefined ? undefined : str(c['tls-server-name']));
  const proxyUrl = str(c['proxy-url']);
  return {
    name,
    server,
    skipTLSVerify: skip,
    ...(caFile !== undefined ? { caFile } : {}),
    ...(caData !== undefined ? { caData } : {}),
    ...(tlsServerName !== undefined ? { tlsServerName } : {}),
    ...(proxyUrl !== undefined ? { proxyUrl } : {}),
  };
}

/**
 * The kubeconfig user's entry `u` (its raw fields, {} for none) with the user flags applied, as client-go's
 * DirectClientConfig.getAuthInfo merges ConfigOverrides.AuthInfo over it: --username and --password replace the
 * user's fields when given (an empty flag is none: cli/options.ts OVERRIDE_FLAGS); --client-certificate replaces
 * client-certificate AND client-certificate-data, --client-key client-key AND client-key-data ("if override sets
 * ClientCertificate, also use override's ClientCertificateData", so a file flag over a kubeconfig's inline data is no
 * "both specified" clash). A flag's path is made absolute against the working directory, as kubectl opens it there.
 * --token is applied where the token is read (userOptions, configurationErrors). The result is checked as client-go
 * checks the merged user (configurationErrors: validateAuthInfo), so `--username` with a token user is "more than one
 * authentication method", and `--client-certificate` alone with a user that has no key is "client-key-data or
 * client-key must be specified". Pure.
 */
export function userWithOverrides(u: Raw, o: KubeOverrides): Raw {
  const m: Raw = { ...u };
  if (o.username !== undefined) m.username = o.username;
  if (o.password !== undefined) m.password = o.password;
  if (o.clientCertificate !== undefined) {
    m['client-certificate'] = resolve(o.clientCertificate);
    delete m['client-certificate-data'];
  }
  if (o.clientKey !== undefined) {
    m['client-key'] = resolve(o.clientKey);
    delete m['client-key-data'];
  }
  return m;
}

function userOptions(name: string, n: Named | undefined, o: KubeOverrides, files: KubeconfigFiles): { user: UserOptions; impersonate: Impersonation } {
  const u = n?.item ?? {};
  const file = n?.file ?? '';
  let token = str(u.token);
  const tokenFile = n ? fromFile(file, str(u.tokenFile)) : undefined;
  if (o.token !== undefined) token = o.token;
  else if (token === undefined && tokenFile !== undefined) {
    // client-go reads tokenFile (and re-reads it as it changes); a command is short enough to read it once
    const text = files.read(tokenFile);
    if (text === undefined) throw new UsageError(`kubeconfig ${file}: user "${name}": tokenFile ${tokenFile} does not exist`);
    token = text.trim();
  }
  let exec = o.token === undefined && isObj(u.exec) ? { ...u.exec } : undefined;
  if (exec && typeof exec.command === 'string' && exec.command.includes('/')) exec.command = fromFile(file, exec.command);
  const authProvider = o.token === undefined && isObj(u['auth-provider']) ? u['auth-provider'] : undefined;
  const certFile = fromFile(file, str(u['client-certificate']));
  // client-go (transport HasCertAuth) uses a key only with a certificate: a key alone is not sent, as kubectl sends none
  const withCert = certFile !== undefined || str(u['client-certificate-data']) !== undefined;
  const keyFile = withCert ? fromFile(file, str(u['client-key'])) : undefined;
  const impersonate = impersonationOf(name, u, o);
  const user: UserOptions = {
    name,
    ...(token !== undefined ? { token } : {}),
    ...(str(u['client-certificate-data']) ? { certData: str(u['client-certificate-data'])! } : {}),
    ...(certFile ? { certFile } : {}),
    ...(withCert && str(u['client-key-data']) ? { keyData: str(u['client-key-data'])! } : {}),
    ...(keyFile ? { keyFile } : {}),
    ...(exec ? { exec } : {}),
    ...(authProvider ? { authProvider } : {}),
    ...(str(u.username) ? { username: str(u.username)! } : {}),
    ...(str(u.password) ? { password: str(u.password)! } : {}),
  };
  return { user, impersonate };
}

/**
 * The impersonation of kubeconfig user `name` (`u`: its entry, {} for none) with the --as/--as-group/--as-uid
 * overrides (`o`), as clientcmd merges them: --as and --as-uid replace the user's `as`/`as-uid` when given non-empty
 * (empty ones are none: cli/options.ts OVERRIDE_FLAGS), --as-group replaces its `as-groups` when given at all — each value
 * as given, an empty one too (client-go's transport sends one Impersonate-Group header per value, `--as u --as-group ""`
 * an empty one, as kubectl 1.32 does). Errors: UsageError (exit 2) for groups or a uid without a user to impersonate,
 * in clientcmd's words (validation.go validateAuthInfo: `requesting uid, groups or user-extra for NAME without
 * impersonating a user`; kubectl exits 1): the API server would refuse every request, and `--as-group ""` alone
 * (a script's `--as-group "$G"` with G unset) would send an empty group.
 */
export function impersonationOf(name: string, u: Raw, o: KubeOverrides): Impersonation {
  const fileGroups = Array.isArray(u['as-groups']) ? u['as-groups'].filter((g): g is string => typeof g === 'string') : [];
  const user = o.as || str(u.as) || undefined;
  const uid = o.asUid || str(u['as-uid']) || undefined;
  const groups = o.asGroups?.length ? o.asGroups : fileGroups;
  if (user === undefined && (uid !== undefined || groups.length > 0)) {
    const what = [groups.length > 0 && `group${groups.length > 1 ? 's' : ''} ${groups.map((g) => JSON.stringify(g)).join(', ')}`, uid !== undefined && `uid ${JSON.stringify(uid)}`].filter(Boolean).join(' and ');
    throw new UsageError(`requesting uid, groups or user-extra for ${JSON.stringify(name)} without impersonating a user (${what} to impersonate, and no user)`, {
      fix: { setting: 'impersonateUser', advice: 'name the user to impersonate (an empty one is none)' },
    });
  }
  return { groups, ...(user !== undefined ? { user } : {}), ...(uid !== undefined ? { uid } : {}) };
}

const EXEC_MODES = ['Never', 'IfAvailable', 'Always'];
/** The exec apiVersions whose interactiveMode defaults to IfAvailable (clientcmd api/v1 defaults.go SetDefaults_ExecConfig). */
const EXEC_MODE_DEFAULTED = ['client.authentication.k8s.io/v1beta1', 'client.authentication.k8s.io/v1alpha1'];

/**
 * What client-go refuses in the cluster and user a command would use (clientcmd client_config.go ConfirmUsable:
 * validation.go validateClusterInfo and validateAuthInfo; transport.go TLSConfigFor for a CA with
 * insecure-skip-tls-verify), each in client-go's words, checked before any request or file read, for the kubeconfig's
 * entries and the flags' overrides alike (`cluster`: the merged cluster, overrides applied; `c`, `u`: the kubeconfig's
 * raw entries, {} for none; `o`: the flags). Returns the messages, [] when usable. Pure.
 *
 * Cluster: a `proxy-url` whose scheme is not http, https or socks5; certificate-authority and
 * certificate-authority-data both given; a CA (file or data) with insecure-skip-tls-verify. User: token and basic
 * auth (username/password) both; client-certificate and -data both, client-key and -data both, a certificate without
 * a key; an exec plugin with an auth-provider, without command or apiVersion, an env entry without a name, an
 * interactiveMode missing (where its apiVersion gives no default) or unknown. A key without a certificate is no error
 * (client-go ignores it: userOptions does not send it); a tokenFile is no second method (client-go counts `token` only).
 */
export function configurationErrors(clusterName: string, cluster: ClusterOptions, c: Raw, userName: string, u: Raw, o: KubeOverrides): string[] {
  const errs: string[] = [];
  const proxy = str(c['proxy-url']);
  if (proxy !== undefined) {
    let scheme: string | undefined;
    try {
      scheme = new URL(proxy).protocol.replace(/:$/, '');
    } catch {
      errs.push(`invalid 'proxy-url' ${JSON.stringify(proxy)} for cluster ${JSON.stringify(clusterName)}: could not parse: ${proxy}`);
    }
    if (scheme !== undefined && !['http', 'https', 'socks5'].includes(scheme)) {
      errs.push(`invalid 'proxy-url' ${JSON.stringify(proxy)} for cluster ${JSON.stringify(clusterName)}: unsupported scheme ${JSON.stringify(scheme)}, must be http, https, or socks5`);
    }
  }
  const caOverridden = o.certificateAuthority !== undefined || !!o.insecureSkipTlsVerify;
  if (!caOverridden && str(c['certificate-authority']) && str(c['certificate-authority-data'])) {
    errs.push(`certificate-authority-data and certificate-authority are both specified for ${clusterName}. certificate-authority-data will override.`);
  }
  if (cluster.skipTLSVerify && (cluster.caFile !== undefined || cluster.caData !== undefined)) errs.push('specifying a root certificates file with the insecure flag is not allowed');

  const methods = [(o.token ?? str(u.token)) && 'token', (str(u.username) || str(u.password)) && 'basicAuth'].filter(Boolean);
  if (str(u['client-certificate']) || str(u['client-certificate-data'])) {
    if (str(u['client-certificate']) && str(u['client-certificate-data'])) errs.push(`client-cert-data and client-cert are both specified for ${userName}. client-cert-data will override.`);
    if (str(u['client-key']) && str(u['client-key-data'])) errs.push(`client-key-data and client-key are both specified for ${userName}; client-key-data will override`);
    if (!str(u['client-key']) && !str(u['client-key-data'])) errs.push(`client-key-data or client-key must be specified for ${userName} to use the clientCert authentication method.`);
  }
  if (u.exec !== undefined && u.exec !== null) {
    const exec = isObj(u.exec) ? u.exec : {};
    if (u['auth-provider'] !== undefined && u['auth-provider'] !== null) errs.push(`authProvider cannot be provided in combination with an exec plugin for ${userName}`);
    if (!str(exec.command)) errs.push(`command must be specified for ${userName} to use exec authentication plugin`);
    if (!str(exec.apiVersion)) errs.push(`apiVersion must be specified for ${userName} to use exec authentication plugin`);
    for (const v of Array.isArray(exec.env) ? exec.env : []) if (!isObj(v) || !str(v.name)) errs.push(`env variable name must be specified for ${userName} to use exec authentication plugin`);
    const mode = str(exec.interactiveMode) ?? (EXEC_MODE_DEFAULTED.includes(str(exec.apiVersion) ?? '') ? 'IfAvailable' : undefined);
    if (mode === undefined) errs.push(`interactiveMode must be specified for ${userName} to use exec authentication plugin`);
    else if (!EXEC_MODES.includes(mode)) errs.push(`invalid interactiveMode for ${userName}: ${JSON.stringify(mode)}`);
  }
  if (methods.length > 1) errs.push(`more than one authentication method found for ${userName}; found [${methods.join(' ')}], only one is allowed`);
  return errs;
}

/**
 * configurationErrors as the error a command ends with (exit 2): one line, client-go's messages joined by "; ", then
 * where they come from — the kubeconfig file(s) of the entries, or, for a CA given with --insecure-skip-tls-verify,
 * the two flags. Undefined when there is nothing to refuse.
 */
function unusable(errs: string[], clusterFile: string | undefined, userFile: string | undefined, o: KubeOverrides, userFlags: string[] = []): UsageError | undefined {
  if (errs.length === 0) return undefined;
  const text = errs.join('; ');
  const tlsOnly = errs.length === 1 && errs[0]!.startsWith('specifying a root certificates file');
  if (tlsOnly && o.insecureSkipTlsVerify) {
    // both flags: a flag replaces the kubeconfig's CA and skip settings (client-go getCluster), so only flags clash
    return new UsageError(`${text} (--certificate-authority with --insecure-skip-tls-verify)`, { fix: { setting: 'insecureSkipTlsVerify', advice: 'give the CA that verifies the server, or skip verifying it, not both' } });
  }
  const files = [...new Set([clusterFile, userFile].filter((f): f is string => f !== undefined && f !== ''))];
  const sources = [...(files.length ? [`kubeconfig ${files.join(', ')}`] : []), ...userFlags];
  const where = sources.length ? ` (${sources.join(' and ')})` : '';
  const advice = tlsOnly
    ? "remove the cluster's certificate-authority(-data) or its insecure-skip-tls-verify, or give one of them as a flag"
    : userFlags.length
      ? `correct the kubeconfig or ${userFlags.join(', ')}, or choose another context, cluster or user`
      : 'correct the kubeconfig, or choose another context, cluster or user';
  return new UsageError(`${tlsOnly ? '' : 'invalid configuration: '}${text}${where}`, { fix: { setting: 'kubeconfig', advice } });
}

/** The user flags (client-go ConfigOverrides.AuthInfo beyond --token), by override key, with their names for messages. */
const USER_FLAGS: [keyof KubeOverrides & ('clientCertificate' | 'clientKey' | 'username' | 'password'), string][] = [
  ['clientCertificate', '--client-certificate'],
  ['clientKey', '--client-key'],
  ['username', '--username'],
  ['password', '--password'],
];

function inClusterPossible(env: LoadingRules['env']): boolean {
  return !!env.KUBERNETES_SERVICE_HOST && !!env.KUBERNETES_SERVICE_PORT;
}

/**
 * Resolve the config a command uses, as kubectl would (see the module comment).
 * Errors: UsageError (exit 2) for an explicit --kubeconfig that does not exist, an unreadable or malformed file, a
 * --context/--cluster/--user naming nothing (client-go's `context "x" does not exist`, `cluster "x" does not exist`,
 * `auth info "x" does not exist`) or a current-context naming nothing (`context was not found for specified context: x`),
 * also with --server; UnreachableError (exit 4) when $KUBECONFIG names only files that do not
 * exist ("none of the kubeconfig files $KUBECONFIG names exists (…)"), or no config exists at all ("no kubeconfig
 * found (…)": the one cli/targets.ts noClusterConfigured takes for "no cluster").
 */
export function resolveKubeconfig(rules: LoadingRules, o: KubeOverrides, files: KubeconfigFiles): ResolvedKubeconfig {
  const { paths, explicit } = kubeconfigPaths(rules);
  const docs: { file: string; doc: unknown }[] = [];
  for (const p of paths) {
    const text = files.read(p);
    if (text === undefined) {
      if (explicit) throw new UsageError(`kubeconfig ${p}: no such file`, { fix: { setting: 'kubeconfig' } });
      continue; // client-go skips missing files
    }
    try {
      docs.push({ file: p, doc: files.parse(text) });
    } catch (e) {
      throw new UsageError(`kubeconfig ${p}: cannot parse it: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const m = mergeKubeconfigs(docs);

  const contextName = o.context ?? m.currentContext;
  // client-go's words (client_config.go getContext/getCluster/getAuthInfo: `context "x" does not exist`, as kubectl
  // 1.32 prints them; ConfirmUsable's errContextNotFound for a current-context naming nothing), checked in its order
  // (context, cluster, user) and whatever else is given: kubectl refuses a --cluster naming nothing also with --server,
  // and a missing current-context also with --server or in a pod
  const where = `(${docs.length ? `kubeconfig ${docs.map((d) => d.file).join(', ')}` : 'no kubeconfig file'})`;
  if (o.context !== undefined && !m.contexts.has(o.context)) {
    throw new UsageError(`context "${o.context}" does not exist ${where}`, { fix: { setting: 'context' } });
  }
  if (o.context === undefined && contextName !== '' && !m.contexts.has(contextName)) {
    throw new UsageError(`context was not found for specified context: ${contextName} (the current-context of ${where.slice(1)}`, {
      fix: { setting: 'context', advice: 'name one it defines' },
    });
  }
  const ctx = m.contexts.get(contextName)?.item ?? {};
  const clusterName = o.cluster ?? str(ctx.cluster) ?? '';
  const userName = o.user ?? str(ctx.user) ?? '';
  if (o.cluster !== undefined && !m.clusters.has(o.cluster)) throw new UsageError(`cluster "${o.cluster}" does not exist ${where}`, { fix: { setting: 'cluster' } });
  if (o.user !== undefined && !m.users.has(o.user)) throw new UsageError(`auth info "${o.user}" does not exist ${where}`, { fix: { setting: 'user' } });
  const cluster = clusterOptions(clusterName || 'cluster', m.clusters.get(clusterName), o);
  const extensions = m.clusters.get(clusterName)?.item.extensions;
  const execExtension = Array.isArray(extensions) ? extensions.find((x): x is Raw => isObj(x) && x.name === 'client.authentication.k8s.io/exec')?.extension : undefined;

  if (cluster.server === '') {
    // $KUBECONFIG names files and none exists: a typo, not "no kubeconfig at all" (client-go warns `Config not found:
    // /x` and falls back to the in-cluster config or http://localhost:8080, which fails or acts where nobody said)
    if (docs.length === 0 && !explicit && !!rules.env.KUBECONFIG && paths.length > 0) {
      throw new UnreachableError(`none of the kubeconfig files $KUBECONFIG names exists (${paths.join(', ')})`, {
        fix: { setting: 'kubeconfig', advice: 'correct $KUBECONFIG, or give the file' },
      });
    }
    // nothing names a server: in-cluster when possible (client-go: only when the merged config is the default one)
    if (inClusterPossible(rules.env)) return { kind: 'in-cluster', ...(o.namespace ? { namespace: o.namespace } : {}), impersonate: impersonationOf('', {}, o) };
    if (docs.length === 0) {
      const looked = explicit ? paths : rules.env.KUBECONFIG ? [`$KUBECONFIG (${paths.join(', ')})`] : paths.length ? paths : ['~/.kube/config ($HOME is not set)'];
      throw new UnreachableError(`no kubeconfig found (looked in ${looked.join(', ')}; not in a pod either)`, {
        fix: { setting: 'kubeconfig', advice: 'name one, set $KUBECONFIG, or give the server' },
      });
    }
    const files = docs.map((d) => d.file).join(', ');
    if (contextName === '') throw new UsageError(`the kubeconfig (${files}) has no current-context`, { fix: { setting: 'context', advice: 'name one' } });
    // client-go's words (validation.go validateContext, validateClusterInfo); kubectl then tries http://localhost:8080
    if (clusterName === '') throw new UsageError(`cluster was not specified for context "${contextName}" (kubeconfig ${files})`, { fix: { setting: 'cluster', advice: 'name the cluster, or give the server' } });
    if (!m.clusters.has(clusterName)) throw new UsageError(`cluster "${clusterName}" was not found for context "${contextName}" (kubeconfig ${files})`, { fix: { setting: 'cluster', advice: 'name a cluster it defines, or give the server' } });
    throw new UsageError(`no server found for cluster "${clusterName}" (context "${contextName}" of kubeconfig ${files})`, { fix: { setting: 'server' } });
  }
  // a context naming a user the kubeconfig does not define (client-go validateContext's words): kubectl would send no
  // credentials (and prompt for a password where it can), which the API server answers 401
  if (o.user === undefined && userName !== '' && !m.users.has(userName)) {
    throw new UsageError(`user "${userName}" was not found for context "${contextName || 'overrides'}" (kubeconfig ${docs.map((d) => d.file).join(', ')})`, { fix: { setting: 'user', advice: 'name a user it defines' } });
  }
  // client-go (client_config.go ClientConfig, "only try to read the auth information if we are secure"): the user's
  // credentials go only over TLS — a plain-http server (`kubectl proxy`, which adds its own) gets no token, client
  // certificate or credential plugin run from kubectl (kubernetes/kubectl#744), nor from this tool. Impersonation is
  // not a credential: kubectl 1.32 sends Impersonate-User/-Group/-Uid (from --as/--as-group/--as-uid and the user's
  // as/as-groups/as-uid) to a plain-http server too (seen against the stand-in API server), and so does this tool.
  const secure = !/^http:\/\//i.test(cluster.server);
  // client-go's ConfirmUsable, whatever the scheme: before any request and before any certificate file is read
  const clusterNamed = m.clusters.get(clusterName);
  const userInFile = m.users.get(userName);
  // the user as client-go uses it: the kubeconfig's entry with --client-certificate/--client-key/--username/--password
  const userFlags = USER_FLAGS.filter(([k]) => o[k] !== undefined).map(([, flag]) => flag);
  const userNamed: Named | undefined = userFlags.length ? { item: userWithOverrides(userInFile?.item ?? {}, o), file: userInFile?.file ?? '' } : userInFile;
  const refused = unusable(configurationErrors(clusterName, cluster, clusterNamed?.item ?? {}, userName, userNamed?.item ?? {}, o), clusterNamed?.file, userInFile?.file, o, userFlags);
  if (refused) throw refused;
  // checked whatever the scheme, as clientcmd validates the merged user before it looks at the transport
  const impersonation = impersonationOf(userName, m.users.get(userName)?.item ?? {}, o);
  const { user, impersonate } = secure ? userOptions(userName || 'user', userNamed, o, files) : { user: { name: userName || 'user' }, impersonate: impersonation };
  const origin = (fromFlag: boolean, n: Named | undefined): PathOrigin | undefined => (fromFlag ? { flag: true } : n ? { file: n.file } : undefined);
  const origins: PathOrigins = {};
  if (cluster.caFile !== undefined) origins.caFile = origin(o.certificateAuthority !== undefined, clusterNamed)!;
  if (user.certFile !== undefined) origins.certFile = origin(o.clientCertificate !== undefined, userInFile)!;
  if (user.keyFile !== undefined) origins.keyFile = origin(o.clientKey !== undefined, userInFile)!;
  const name = contextName || 'overrides';
  const namespace = o.namespace ?? str(ctx.namespace) ?? 'default';
  return {
    kind: 'kubeconfig',
    options: {
      clusters: [cluster],
      users: [user],
      contexts: [{ name, cluster: cluster.name, user: user.name, namespace }],
      currentContext: name,
    },
    namespace,
    context: name,
    server: cluster.server,
    impersonate,
    files: docs.map((d) => d.file),
    origins,
    ...(execExtension !== undefined ? { execExtension } : {}),
  };
}
