/**
 * The Kubernetes API port and its @kubernetes/client-node adapter: read pods and NetworkAttachmentDefinitions,
 * merge-patch pod annotations. kubectl's conventions for --kubeconfig, $KUBECONFIG, --context, -n and in-cluster config.
 * client-node is imported lazily: it costs hundreds of milliseconds and the --netns path never needs it.
 */
import type { KubeConfig, RequestContext, SecurityAuthentication, V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { Agent as HttpAgent, STATUS_CODES } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import { isatty } from 'node:tty';
import { delimiter } from 'node:path';
import { ApiStatusError, CniAttachError, NotFoundError, UnreachableError, UsageError, type Fix } from '../errors.js';
import type { PodExec } from '../exec/kube-exec.js';
import { OutputBuffer } from '../exec/types.js';
import { kubeconfigPaths, resolveKubeconfig, type Impersonation, type KubeOverrides } from './kubeconfig.js';
import { inlineCertificateFiles, kubeconfigFiles } from './kubeconfig-files.js';
import { CredentialError, wrapExecAuth } from './exec-credential.js';
import { formatDuration } from '../duration.js';

export type Pod = V1Pod;

/** A list of pods, with the list's resourceVersion (ListMeta) when the API server gave one. */
export type PodList = Pod[] & { resourceVersion?: string };

/**
 * pods as a PodList of that resourceVersion: a property of the array that is not enumerable, so that the list reads,
 * copies and compares as the plain array of pods it is.
 */
export function podList(pods: Pod[], resourceVersion: string | undefined): PodList {
  if (resourceVersion) Object.defineProperty(pods, 'resourceVersion', { value: resourceVersion, enumerable: false });
  return pods;
}

/** One event of a watch of pods: ADDED, MODIFIED or DELETED, with the pod as the API server sent it. */
export interface PodChange {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  pod: Pod;
  /** The event's resourceVersion (the pod's), from which a watch reopened goes on. */
  resourceVersion?: string;
}

/** A watch under way (KubeApi.watchPods). */
export interface PodWatch {
  /** End it (idempotent): the request is aborted, `ended` resolves with undefined if it had not ended before. */
  stop(): void;
  /** Resolves when the watch is over: undefined when stopped, else why it ended. */
  readonly ended: Promise<Error | undefined>;
}

/** A ConfigMap as this tool reads and writes it: name, labels, resourceVersion and string data. */
export interface ConfigMapData {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  resourceVersion?: string;
  data: Record<string, string>;
  /** The keys of its binaryData, when it has any (this tool writes none; a ConfigMap with some is not empty). */
  binaryKeys?: string[];
}

/** What a precondition DELETE of a ConfigMap did: deleted it; found it changed since (409 Conflict: left); found none. */
export type DeleteOutcome = 'deleted' | 'changed' | 'gone';

export interface Nad {
  namespace: string;
  name: string;
  /** spec.config: the CNI config (conf or conflist) as text. */
  config: string;
}

export interface KubeApi extends PodExec {
  /** The namespace to use when the user gave none: the context's, else "default". */
  readonly defaultNamespace: string;
  readonly context: string;
  getPod(namespace: string, name: string): Promise<Pod>;
  /**
   * Pods of a namespace (every namespace when undefined) matching a label selector: one request. The array's
   * `resourceVersion` is the list's (where a watch of what changes after it starts: watchPods), when the server gave one.
   */
  listPods(namespace: string | undefined, labelSelector?: string): Promise<PodList>;
  /**
   * Watch the pods of a list (GET …/pods?watch=true&labelSelector=…&resourceVersion=RV, kubectl's `get -w` from a
   * list): one request, each change it streams given to `seen` as it comes (the object as sent, its namespace filled
   * in), until stop(). `ended` resolves when it is over: undefined once stop() was called, else why it ended — an
   * ApiStatusError for a refusal (403 without `watch` on pods, 410 Expired in an ERROR event: the resourceVersion is
   * too old) or another error (the connection lost), or an UnreachableError "closed by the API server" for a stream
   * the server ended. It never reopens itself (its caller decides), and never holds the process open once stopped.
   */
  watchPods(namespace: string | undefined, labelSelector: string | undefined, resourceVersion: string, seen: (change: PodChange) => void): PodWatch;
  getNad(namespace: string, name: string): Promise<Nad>;
  /** The names of the NetworkAttachmentDefinitions of a namespace (for completion). */
  listNads(namespace: string): Promise<string[]>;
  /** Create a pod (metadata.generateName works); resolves with the created object. */
  createPod(namespace: string, pod: Pod): Promise<Pod>;
  /**
   * Record a core/v1 Event on a pod (involvedObject with its uid and resourceVersion, reportingComponent
   * "cni-attach", source.component "cni-attach", source.host = reportingInstance = the node or host name).
   */
  createPodEvent(pod: Pod, event: PodEvent, host: string): Promise<void>;
  /**
   * Follow a pod through a watch (GET …/pods?watch=true&fieldSelector=metadata.name=NAME, from `from`'s
   * resourceVersion, else from a fresh list of that one pod) until settled(pod) is true, the pod is deleted, or
   * timeoutMs passes.
   * A watch the server ends (timeoutSeconds, a restart) is reopened from the last resourceVersion seen; one that is
   * too old (410 Expired) from a fresh read, as client-go's reflector does. Resolves with the last state seen
   * (undefined: deleted) and whether it settled; a watch the server refuses is an UnreachableError (exit 4).
   */
  watchPod(namespace: string, name: string, settled: (pod: Pod) => boolean, timeoutMs: number, from?: Pod): Promise<{ pod: Pod | undefined; settled: boolean }>;
  /**
   * Delete a pod at once (grace period 0); a pod already gone is not an error. With `uid`, only that very pod
   * (DeleteOptions preconditions.uid): a pod of that name with another uid is left alone and, as the one meant is
   * gone, that is not an error either (the API server answers 409 Conflict).
   */
  deletePod(namespace: string, name: string, uid?: string): Promise<void>;
  /** ConfigMaps of a namespace matching a label selector: one request. */
  listConfigMaps(namespace: string, labelSelector: string): Promise<ConfigMapData[]>;
  /** Create a ConfigMap; an AlreadyExistsError when one of that name is there. */
  createConfigMap(cm: ConfigMapData): Promise<void>;
  /**
   * JSON merge patch (RFC 7386) of a ConfigMap's data: each key set to its value, or removed when null. Resolves with
   * the ConfigMap as the patch left it (the API server's answer: its data and resourceVersion). A NotFoundError when
   * the ConfigMap does not exist.
   */
  patchConfigMapData(namespace: string, name: string, data: Record<string, string | null>): Promise<ConfigMapData>;
  /**
   * Delete a ConfigMap only if it is still at `resourceVersion` (DeleteOptions preconditions.resourceVersion: the API
   * server compares and deletes in one step, answering 409 Conflict when it was changed since): 'deleted', 'changed'
   * (it was left as it is) or 'gone' (404). Other errors as every call's (403 without RBAC for delete: exit 4).
   */
  deleteConfigMap(namespace: string, name: string, resourceVersion: string): Promise<DeleteOutcome>;
  /**
   * Read-modify-write one annotation of a pod, with the pod's resourceVersion as precondition (retried on conflict).
   * update gets the current value (undefined when absent) and returns the new one (undefined removes it).
   * `known` is the pod as read earlier: its annotation and resourceVersion serve for the first try (saving a GET)
   * when it needs a change; when it needs none, the pod is read again and that decides (known may be older than
   * another command's write: no change is judged on a copy).
   * Returns the pod as the API server answered the PATCH (or as read again when it needed no change; undefined when
   * `known` needed none and nothing was read): its metadata.deletionTimestamp tells a pod put into Terminating
   * meanwhile, which a PATCH still changes (graceful deletion: tryout 8), at no request more.
   * Errors: NotFoundError when the pod is gone (404), or when a pod read again to retry is another pod of that name
   * (another uid than known's: the pod was deleted and made again) — never written to.
   */
  updatePodAnnotation(
    namespace: string,
    name: string,
    key: string,
    update: (current: string | undefined) => string | undefined,
    known?: Pod,
  ): Promise<Pod | undefined>;
}

/** A create that found an object of that name already there (HTTP 409 AlreadyExists): callers that expect it patch instead. */
export class AlreadyExistsError extends UnreachableError {}

export interface KubeOptions extends KubeOverrides {
  /** --kubeconfig */
  kubeconfig?: string;
  /** Limit for each request; 0 or undefined: none (kubectl's --request-timeout 0). */
  requestTimeoutMs?: number;
  /** Sent on every request (REST and pods/exec): e.g. "cni-attach/v0.1.0 (linux/amd64)". */
  userAgent?: string;
  /** -v=6 and up: called with a line per API request ("GET https://… 200 OK in 5 milliseconds", as kubectl -v=6). */
  trace?: (line: string) => void;
  /** -v=1 and up: where notes on how the API server was reached go (e.g. which pods/exec subprotocol the API server speaks). */
  debug?: (line: string) => void;
  /** Ends the reading of the kubeconfig and certificate files when aborted (completion's limit); none: no limit. */
  readSignal?: AbortSignal;
}

export const EXEC_V5 = 'v5.channel.k8s.io';

/**
 * How a pods/exec carries stdin so that the command sees its end, by subprotocol (the API server picks one of the
 * client's list: v5.channel.k8s.io since Kubernetes 1.30, else v4.channel.k8s.io):
 * - no stdin: none is attached (stdin=false); the command reads an empty stdin. Works on every protocol.
 * - v5: the bytes on channel 0, then the close frame [255, 0] (KEP-4006), as kubectl does.
 * - v4 (or not known yet): v4 has no way to close stdin but closing the WebSocket, which loses the rest of stdout and
 *   the exit status. So the end is told by the length instead: the command runs as `sh -c 'head -c N | "$@"'`, the N
 *   bytes go on channel 0 and stdin is never closed; head ends the pipe after N bytes, the command sees EOF and exits,
 *   and the API server sends the status and closes. No size limit (argv would have one: 128 KiB per argument).
 * Returns the command to run and the chunks to send (undefined: no stdin); `end`: whether to close stdin after them.
 */
export function execStdin(command: string[], stdin: string, protocol: string | undefined): { command: string[]; chunks?: Buffer[]; end: boolean } {
  const bytes = Buffer.from(stdin, 'utf8');
  if (bytes.length === 0) return { command, end: false };
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 32 * 1024) chunks.push(bytes.subarray(i, i + 32 * 1024));
  if (protocol === EXEC_V5) return { command, chunks, end: true };
  return { command: ['sh', '-c', 'head -c "$0" | "$@"', String(bytes.length), ...command], chunks, end: false };
}

/** A Pod's event, as `kubectl describe pod` shows it (core/v1 Event). */
export interface PodEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

interface ApiErrorShape {
  code?: number;
  body?: unknown;
  message?: string;
  cause?: { code?: string; message?: string };
}

/** The message and reason of the Status the server answered with (the body's text when it is not JSON). */
function statusOf(e: ApiErrorShape): { message?: string; reason?: string } {
  let body: unknown = e.body;
  if (typeof body === 'string') {
    const text = body;
    try {
      body = JSON.parse(text);
    } catch {
      return text.trim() ? { message: text.trim() } : {};
    }
  }
  const { message, reason } = (body ?? {}) as { message?: unknown; reason?: unknown };
  return { ...(typeof message === 'string' ? { message } : {}), ...(typeof reason === 'string' && reason ? { reason } : {}) };
}

/**
 * A pod the API does not have, in kubectl's words (`Error from server (NotFound): pods "nope" not found`) with its
 * namespace: `pods "nope" not found in namespace "shop"`. Every command says it so (attach said `pod shop/nope: pods
 * "nope" not found`, detach and check `pod "nope" not found in namespace "shop"`).
 */
export function podNotFound(namespace: string, name: string): string {
  return `pods ${JSON.stringify(name)} not found in namespace ${JSON.stringify(namespace)}`;
}

/**
 * `api` as one command uses it: its ConfigMap lists (the cluster's attachment records: resolve/records.ts readRecords)
 * asked once and the answer reused — a command that asks in several steps (the pod look-up, the busy check, the
 * removal, its notes) sends one list, not one per step: each is a request through the API server that lists every
 * node's records (an outside tester counted 6 for one cni-detach, 4 for a cni-check that found nothing). An error is
 * kept as the answer too (a 403 does not change within a command). Any ConfigMap write of this command (create, patch,
 * delete: its own change of the records, landed or not) drops what was listed, so a read after it asks again and sees
 * it; a read that must see what other commands changed meanwhile calls listAnew(api) first (its answer is then the one
 * reused). Each answer is a copy. Everything else goes to `api` as it is. cli/targets.ts connect gives every command
 * its api so.
 */
export function listsOncePerCommand(api: KubeApi): KubeApi {
  const listed = new Map<string, Promise<ConfigMapData[]>>();
  const wrote = async <T>(write: () => Promise<T>): Promise<T> => {
    listed.clear();
    try {
      return await write();
    } finally {
      // a list sent while the write was under way may or may not show it
      listed.clear();
    }
  };
  const own: Partial<KubeApi> = {
    listConfigMaps(namespace, labelSelector) {
      const k = `${namespace}\0${labelSelector}`;
      let p = listed.get(k);
      if (!p) listed.set(k, (p = api.listConfigMaps(namespace, labelSelector)));
      return p.then((maps) => structuredClone(maps));
    },
    createConfigMap: (cm) => wrote(() => api.createConfigMap(cm)),
    patchConfigMapData: (namespace, name, data) => wrote(() => api.patchConfigMapData(namespace, name, data)),
    deleteConfigMap: (namespace, name, resourceVersion) => wrote(() => api.deleteConfigMap(namespace, name, resourceVersion)),
  };
  const wrapped = new Proxy(api, {
    get(target, prop) {
      if (Object.hasOwn(own, prop)) return own[prop as keyof KubeApi];
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  forgetters.set(wrapped, () => listed.clear());
  return wrapped;
}

const forgetters = new WeakMap<KubeApi, () => void>();

/**
 * Make the next ConfigMap list of `api` (listsOncePerCommand's) a new request, whose answer is reused after it: for a
 * read that must see what other commands changed since this one listed. Nothing for another api (it lists anew each
 * time).
 */
export function listAnew(api: KubeApi): void {
  forgetters.get(api)?.();
}

/**
 * Map a client-node failure to our exit codes: 404 → 3, anything about reaching or being let into the API → 4 (an
 * error Status as an ApiStatusError, which the CLI may read as bad input when the request carried the user's).
 */
export function apiError(e: unknown, what: string, server: string): CniAttachError {
  // the kubeconfig user's credential plugin failed: no request was sent (kubectl: "getting credentials: exec: …")
  if (e instanceof CredentialError) return new CredentialError(`${what}: ${e.message}`, { cause: e.cause, ...(e.fix ? { fix: e.fix } : {}) });
  if (e instanceof CniAttachError) return e;
  const err = e as ApiErrorShape;
  if (typeof err.code === 'number') {
    const status = statusOf(err);
    const msg = status.message ?? (err.code === 401 ? 'Unauthorized' : `HTTP ${err.code}`);
    if (err.code === 404) return new NotFoundError(`${what}: ${msg}`);
    // 401: the credentials were refused (kubectl: "You must be logged in to the server (Unauthorized)")
    const hint = err.code === 401 ? ": you must be logged in to the server (the kubeconfig user's token or client certificate was refused)" : '';
    return new ApiStatusError(`${what}: the API server answered ${err.code}: ${msg}${hint}`, err.code, status.reason, msg, { cause: e });
  }
  const tls = tlsFailure(e);
  if (tls) {
    const text = `${what}: cannot reach the API server at ${server}: ${tls.text}`;
    return tls.usage ? new UsageError(text, { cause: e, fix: tls.fix }) : new UnreachableError(text, { cause: e, ...(tls.fix ? { fix: tls.fix } : {}) });
  }
  const reason = withoutNodeAdvice(err.cause?.code ?? err.cause?.message ?? err.message ?? String(e));
  return new UnreachableError(`${what}: cannot reach the API server at ${server}: ${reason}`, { cause: e });
}

/**
 * Node's advice at the end of a TLS message ("…; if the root CA is installed locally, try running Node.js with
 * --use-system-ca"): a user of this tool cannot follow it (the single executable ignores NODE_OPTIONS), so it is cut.
 */
export function withoutNodeAdvice(text: string): string {
  return text.replace(/;?\s*if the root CA is installed locally, try running Node\.js with --use-system-ca\.?/, '').replace(/;?\s*try running Node\.js with [^;]*$/, '');
}

const UNKNOWN_AUTHORITY = 'x509: the server\'s certificate is signed by an authority not trusted here';
const CA_HINT: Fix = {
  setting: 'certificateAuthority',
  advice: "give the CA that signed it, as the kubeconfig cluster's certificate-authority(-data) or as a flag",
  or: { setting: 'insecureSkipTlsVerify', advice: 'do not verify the server (insecure)' },
};
/** What each TLS failure Node (OpenSSL) gives by its code means, in this tool's words, with what fixes it. */
const TLS_CODES: Record<string, { text: string; fix?: Fix; usage?: boolean }> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: { text: `${UNKNOWN_AUTHORITY} (its issuer is not among the CAs given)`, fix: CA_HINT },
  UNABLE_TO_GET_ISSUER_CERT: { text: `${UNKNOWN_AUTHORITY} (the issuer of a certificate of its chain is not among the CAs given)`, fix: CA_HINT },
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: { text: `${UNKNOWN_AUTHORITY} (its issuer is not among the CAs given)`, fix: CA_HINT },
  DEPTH_ZERO_SELF_SIGNED_CERT: { text: 'x509: the server\'s certificate is self-signed, and not among the CAs given', fix: CA_HINT },
  SELF_SIGNED_CERT_IN_CHAIN: { text: `${UNKNOWN_AUTHORITY} (a self-signed certificate of its chain is not among the CAs given)`, fix: CA_HINT },
  CERT_UNTRUSTED: { text: `${UNKNOWN_AUTHORITY} (not trusted for this purpose)`, fix: CA_HINT },
  CERT_REJECTED: { text: `${UNKNOWN_AUTHORITY} (its root CA is marked to reject it)`, fix: CA_HINT },
  INVALID_CA: { text: 'x509: a CA certificate of the server\'s chain is not valid as a CA', fix: CA_HINT },
  CERT_HAS_EXPIRED: { text: "x509: the server's certificate has expired (or a certificate of its chain has): the cluster's certificates need renewing", fix: { setting: 'insecureSkipTlsVerify', advice: 'until they are, its identity cannot be verified; skipping that is insecure' } },
  CERT_NOT_YET_VALID: { text: "x509: the server's certificate is not valid yet (or a certificate of its chain is not): is this host's clock right?" },
  ERROR_IN_CERT_NOT_BEFORE_FIELD: { text: "x509: the server's certificate has a malformed validity period (notBefore)" },
  ERROR_IN_CERT_NOT_AFTER_FIELD: { text: "x509: the server's certificate has a malformed validity period (notAfter)" },
  CERT_SIGNATURE_FAILURE: { text: "x509: a signature in the server's certificate chain does not verify", fix: CA_HINT },
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: { text: "x509: a signature in the server's certificate chain cannot be read", fix: CA_HINT },
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: { text: "x509: the public key of an issuer in the server's certificate chain cannot be read", fix: CA_HINT },
  CERT_REVOKED: { text: "x509: the server's certificate has been revoked" },
  INVALID_PURPOSE: { text: "x509: the server's certificate is not for TLS servers (its key usage)" },
  PATH_LENGTH_EXCEEDED: { text: "x509: the server's certificate chain is longer than its CA allows" },
  CERT_CHAIN_TOO_LONG: { text: "x509: the server's certificate chain is too long" },
  ERR_TLS_CERT_ALTNAME_INVALID: {
    text: "x509: the server's certificate is not for the name connected to",
    fix: { setting: 'tlsServerName', advice: 'connect by a name the certificate is for (the server address), or give that name' },
  },
  HOSTNAME_MISMATCH: { text: "x509: the server's certificate is not for the name connected to", fix: { setting: 'tlsServerName', advice: 'connect by a name the certificate is for (the server address), or give that name' } },
  ERR_SSL_WRONG_VERSION_NUMBER: { text: 'the server does not answer TLS (a plain-http server? then its address begins http://)', fix: { setting: 'server' } },
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: { text: "the server refused this client's certificate: its CA is not one the server trusts", fix: { setting: 'user', advice: 'choose a user whose client certificate the cluster trusts' } },
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: { text: "the server refused this client's certificate", fix: { setting: 'user', advice: 'choose a user whose client certificate the cluster trusts' } },
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: { text: 'the server requires a client certificate, and none was given', fix: { setting: 'user', advice: 'choose a user with a client certificate' } },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: { text: "the server refused this client's certificate: it has expired", fix: { setting: 'user', advice: 'renew it, or choose another user' } },
};

/**
 * A TLS failure of a request (the error or one of its causes carries Node's code: `UNABLE_TO_VERIFY_LEAF_SIGNATURE`,
 * `ERR_TLS_CERT_ALTNAME_INVALID`, …), said as kubectl says its x509 errors (`x509: certificate signed by unknown
 * authority`) in this tool's words, with its code and Node's own reason without its advice, and what fixes it
 * (TLS_CODES); another `ERR_SSL_*` by Node's words without the advice; a certificate or key of the kubeconfig that
 * Node cannot read (`ERR_OSSL_*`: `DECODER routines::unsupported`, a key that does not match its certificate) is bad
 * input, `usage`. Undefined for anything else. Pure.
 */
export function tlsFailure(e: unknown): { text: string; fix?: Fix; usage?: boolean } | undefined {
  for (let x = e as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; x && depth < 4; x = x.cause as typeof x, depth++) {
    const code = typeof x.code === 'string' ? x.code : undefined;
    if (!code) continue;
    const own = withoutNodeAdvice(typeof x.message === 'string' ? x.message.replace(/^request to \S+ failed, reason: /, '') : '');
    const known = TLS_CODES[code];
    if (known) return { ...known, text: `${known.text} (${code}${own && !own.includes(code) ? `: ${own}` : ''})` };
    if (code.startsWith('ERR_OSSL_')) {
      return { text: `a certificate or key of the kubeconfig (or its CA) cannot be used: ${own || code} (${code})`, fix: { setting: 'kubeconfig', advice: 'give PEM certificates, and the key that belongs to the client certificate' }, usage: true };
    }
    if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return { text: `TLS failed: ${own || code} (${code})` };
  }
  return undefined;
}

/** ws's error for a WebSocket upgrade the server answered with an HTTP status instead of 101 Switching Protocols. */
const UPGRADE_REFUSED = /^Unexpected server response: (\d{3})$/;

/** Where the Content-Type of a refused pods/exec upgrade is kept, on its WebSocket (upgradeRefusalSeen). */
const REFUSAL_TYPE = Symbol('cni-attach: content type of a refused upgrade');

/**
 * ws's `finishRequest` option for a pods/exec WebSocket: sends the upgrade request as ws would, and keeps the
 * Content-Type of an answer that is not 101 on the WebSocket, where execError finds it through the error event's target.
 * ws reads no body of such an answer (it closes the connection), so the Content-Type is what tells a Kubernetes Status
 * (application/json) from a proxy's plain text.
 */
export function upgradeRefusalSeen(req: import('node:http').ClientRequest, ws: object, trace?: (line: string) => void): void {
  const t0 = Date.now();
  // -v=6: the upgrade is an API request as any other (client-go's round_trippers logs it so: "… 101 Switching Protocols")
  const url = `${req.protocol}//${String(req.getHeader('host') ?? req.host)}${req.path}`;
  req.on('response', (res: import('node:http').IncomingMessage) => {
    (ws as Record<symbol, string>)[REFUSAL_TYPE] = String(res.headers['content-type'] ?? '');
    trace?.(requestLine(req.method, url, res.statusCode ?? 0, t0));
  });
  if (trace) {
    req.on('upgrade', (res: import('node:http').IncomingMessage) => trace(requestLine(req.method, url, res.statusCode ?? 101, t0)));
    req.on('error', (e: Error) => trace(requestLine(req.method, url, `failed (${e.message})`, t0)));
  }
  req.end();
}

/**
 * One -v=6 line of an API request once it is answered, as kubectl 1.32 -v=6 logs it (client-go round_trippers:
 * "GET https://…/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb 200 OK in 5 milliseconds"): the status code with
 * its reason phrase, or `failed (why)` when no answer came.
 */
/**
 * -v=6: a watch request once answered, as the REST ones (client-node's Watch sends it with fetch, not through the HTTP
 * library `traced` wraps): its URL as Watch builds it, its status or why none came. Once per request; from now.
 */
function watchTrace(base: string, params: Record<string, string | number | undefined>, trace: ((line: string) => void) | undefined): (status: number | string) => void {
  const t0 = Date.now();
  let traced = false;
  return (status) => {
    if (traced || !trace) return;
    traced = true;
    const url = new URL(base);
    url.searchParams.set('watch', 'true');
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v));
    trace(requestLine('GET', url.toString(), status, t0));
  };
}

export function requestLine(method: string, url: string, status: number | string, t0: number): string {
  const said = typeof status === 'number' ? `${status} ${STATUS_CODES[status] ?? ''}`.trimEnd() : status;
  return `${method} ${url} ${said} in ${Date.now() - t0} milliseconds`;
}

/**
 * What a pods/exec upgrade refused in plain text (no Kubernetes Status) means, by its code — blaming only what can
 * answer that code: 403, `kubectl proxy`'s reject filter (k8s.io/kubectl pkg/proxy: a rejected path gets 403
 * "Forbidden"; its default --reject-paths has ^/api/.*\/pods/.*\/exec); 431, request headers too large for whoever
 * read them: the API server itself (Go's net/http answers it in plain text past its header limit) or a proxy in front
 * of it; 407, a proxy that wants credentials of its own; any other, something in front of the API server (a proxy, a
 * load balancer) that answered in its place. Returned with its leading ", " or ": ".
 */
function plainRefusalWords(code: number): string {
  if (code === 403) return ", not a Kubernetes answer: a proxy in the way? `kubectl proxy` refuses pods/exec unless started with --reject-paths='^$' (its default rejects ^/api/.*/pods/.*/exec)";
  if (code === 431) return ': the request\'s headers were too large for the API server or for a proxy in front of it (a long bearer token or client certificate header, many --as-group impersonation headers); nothing was run';
  if (code === 407) return ', not a Kubernetes answer: a proxy in the way asks for credentials of its own (Proxy Authentication Required)';
  return ', not a Kubernetes answer: something in front of the API server (a proxy, a load balancer) answered in its place';
}

/**
 * Map a failed pods/exec (exec, openExec) to our errors: an upgrade the API server refused is said as such, with what
 * it means — 403, this user may not create pods/exec in the agent's namespace (deploy/rbac.yaml grants it); 401, the
 * credentials were refused — not as a server that cannot be reached. An upgrade refused with something else than a
 * Kubernetes Status (no JSON: a proxy's plain text, as `kubectl proxy`'s reject filter answers pods/exec with 403
 * "Forbidden") is said as that, not blamed on RBAC, and blamed only on what can answer its code (plainRefusalWords). Exit 4 all the same (the node cannot be reached this way: README's
 * exit codes); anything else as apiError.
 */
export function execError(e: unknown, namespace: string, what: string, server: string, beforeOpen = false): CniAttachError {
  // an upgrade answered with a status, not 101: no stream was opened, so the command in it never reached the node
  const unsent = <T extends UnreachableError>(err: T): T => ((err.notSent = true), err);
  const m = UPGRADE_REFUSED.exec((e as Error | undefined)?.message ?? '');
  if (!m) {
    const err = apiError(e, what, server);
    // the upgrade request never left this host (no connection, no TLS session, no credentials): nothing of it ran
    return beforeOpen && err instanceof UnreachableError && neverSent(e) ? unsent(err) : err;
  }
  const code = Number(m[1]);
  const type = ((e as { target?: Record<symbol, string> }).target ?? {})[REFUSAL_TYPE];
  if (type !== undefined && !/json/i.test(type)) {
    const name = STATUS_CODES[code];
    // not an ApiStatusError: no Status came, and no RBAC hint applies
    return unsent(new UnreachableError(
      `${what}: the server at ${server} refused the pods/exec upgrade with a plain ${code}${name ? ` ${name}` : ''}${type ? ` (${type.split(';')[0]})` : ''}${plainRefusalWords(code)}`,
      { cause: e, fix: { setting: 'server' } },
    ));
  }
  const meaning: Record<number, [string, string]> = {
    401: ['Unauthorized', "it refused the credentials of the kubeconfig's user (expired or wrong: log in again, or see --context, --user, --token)"],
    403: ['Forbidden', `this user may not create pods/exec in namespace ${namespace}, which the agent runtime needs (deploy/rbac.yaml grants it)`],
    431: ['Request Header Fields Too Large', "the request's headers were too large for it (a long bearer token, many --as-group impersonation headers)"],
    // the pods/exec of this tool go to its agent pods (exec/kube-exec.ts): one deleted while its command ran (by hand,
    // evicted, its activeDeadlineSeconds) answers 404 to every exec after
    404: ['NotFound', `${what.replace(/^exec in /, '')} no longer exists (the agent pod was deleted): nothing was run in it; running the same command again starts a new agent pod`],
  };
  const [reason, why] = meaning[code] ?? [undefined, undefined];
  return unsent(new ApiStatusError(
    `${what}: the API server answered ${code}${reason ? ` (${reason})` : ''} to its WebSocket upgrade${why ? `: ${why}` : ''}`,
    code, reason, reason ?? `HTTP ${code}`, { cause: e },
  ));
}

/** Node's codes of a connection that was never made (with syscall `connect`, `getaddrinfo`: the name not resolved). */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/**
 * Whether a request that failed before any answer provably never left this host, so that nothing of it reached the
 * server: the connection was never made (ECONNREFUSED, ENOTFOUND, EAI_AGAIN, EHOSTUNREACH, ENETUNREACH: Node's
 * `connect` and `getaddrinfo` failures), its TLS handshake failed (tlsFailure: the server's certificate refused here,
 * or this client's refused there — the HTTP request is only sent, and only read, over an established session), or the
 * kubeconfig user's credentials could not be had (CredentialError: nothing was sent). e: Node's error, client-node's
 * (`cause`) or ws's ErrorEvent (`error`). Not for anything after the request may have been written (ECONNRESET, "socket
 * hang up", a timeout): that one may have been served. Pure.
 */
export function neverSent(e: unknown): boolean {
  if (e instanceof CredentialError || (e instanceof CniAttachError && e.cause instanceof CredentialError)) return true;
  for (let x = e as { code?: unknown; syscall?: unknown; error?: unknown; cause?: unknown } | undefined, depth = 0; x && depth < 4; x = (x.error ?? x.cause) as typeof x, depth++) {
    if (x.syscall === 'connect' || x.syscall === 'getaddrinfo') return true;
    if (typeof x.code === 'string' && NOT_CONNECTED.has(x.code)) return true;
    if (tlsFailure(x)) return true;
  }
  return false;
}

/**
 * Whether a request failed because the kept-alive connection it was sent on had just been closed by the server (or a
 * proxy) for being idle: "socket hang up" / ECONNRESET before any answer. Such a request never reached the server, and
 * an idempotent one may be sent again on a new connection, as Go's net/http transport (client-go's) does.
 */
export function staleConnection(e: unknown): boolean {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (typeof (err as { code?: unknown }).code === 'number') return false; // the server answered
  const text = `${err?.code ?? ''} ${err?.message ?? ''} ${err?.cause?.code ?? ''} ${err?.cause?.message ?? ''}`;
  return /ECONNRESET|socket hang up/.test(text);
}

/** A ConfigMap of the API as ConfigMapData (its namespace: the request's). */
function configMapOf(c: V1ConfigMap, namespace: string): ConfigMapData {
  const binary = Object.keys(c.binaryData ?? {});
  return {
    name: c.metadata?.name ?? '',
    namespace,
    ...(c.metadata?.labels ? { labels: c.metadata.labels } : {}),
    ...(c.metadata?.resourceVersion ? { resourceVersion: c.metadata.resourceVersion } : {}),
    data: c.data ?? {},
    ...(binary.length ? { binaryKeys: binary } : {}),
  };
}

function withTimeout<T>(p: Promise<T>, ms: number | undefined, what: string): Promise<T> {
  if (!ms) return p;
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnreachableError(`${what}: no answer from the API server within ${formatDuration(ms)}`, { fix: { setting: 'requestTimeout' } })), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** The TLS options of an agent, as one string: requests with the same ones may share a connection. */
function tlsKey(o: AgentOptions): string {
  const part = (v: unknown): string =>
    v === undefined || v === null ? '' : Array.isArray(v) ? v.map(part).join(',') : Buffer.isBuffer(v) ? v.toString('base64') : String(v);
  return [o.ca, o.cert, o.key, o.pfx, o.passphrase, o.rejectUnauthorized, o.servername].map(part).join('\0');
}

/**
 * client-node authenticates each request (KubeConfig.applySecurityAuthentication: headers for tokens and exec
 * plugins, an agent with the CA and client certificate) with a new https.Agent every time: a new connection, a new
 * CA store and a full TLS handshake per request; a batch of 50 pods paid that 51 times. This authentication method
 * lets client-node do all of it as before, then hands the request one keep-alive agent per set of TLS options (plain
 * http: one keep-alive http.Agent). Agents of another kind (a proxy in the kubeconfig) are left as client-node made them.
 */
export function sharedAgentAuth(kc: Pick<KubeConfig, 'applySecurityAuthentication'>, headers: [string, string][] = []): SecurityAuthentication {
  return {
    getName: () => 'kubeconfig authentication, one keep-alive agent',
    async applySecurityAuthentication(context: RequestContext) {
      await kc.applySecurityAuthentication(context);
      addHeaders(context, headers);
      const agent = context.getAgent();
      if (agent?.constructor === HttpAgent) context.setAgent((plainAgent ??= new HttpAgent({ keepAlive: true })));
      if (!agent || agent.constructor !== HttpsAgent) return;
      context.setAgent(sharedHttpsAgent((agent as HttpsAgent).options, true));
    },
  };
}

const agents = new Map<string, HttpsAgent>();
/** The keep-alive agent of REST requests to a plain-http server (`kubectl proxy`), made at its first request. */
let plainAgent: HttpAgent | undefined;

/**
 * The one https.Agent of this process for these TLS options (keep-alive for REST calls; not for pods/exec, whose
 * WebSocket takes its connection over), with one TLS context made from them once. client-node makes a new agent per
 * request and per pods/exec, and Node a new TLS context (the CA, the client certificate and key parsed again) and a
 * full handshake per connection: a 100-pod batch, two pods/exec per pod, spent about a third of its CPU on it. One
 * agent per options also resumes TLS sessions (Agent's session cache, maxCachedSessions 100), as client-go reuses its
 * connections. A certificate or key that cannot be used fails each request as it did (no shared TLS context).
 */
export function sharedHttpsAgent(options: AgentOptions, keepAlive: boolean): HttpsAgent {
  const key = `${keepAlive}\0${tlsKey(options)}`;
  let agent = agents.get(key);
  if (!agent) {
    const { ca, cert, key: privateKey, pfx, passphrase } = options;
    let secureContext: SecureContext | undefined;
    try {
      secureContext = createSecureContext({ ca, cert, key: privateKey, pfx, passphrase });
    } catch {
      // a certificate or key Node cannot use: each connection fails with that error as before, at its request
    }
    agent = new HttpsAgent({ ...options, ...(secureContext ? { secureContext } : {}), keepAlive });
    agents.set(key, agent);
  }
  return agent;
}

/**
 * The headers of every request: User-Agent and kubectl's impersonation headers (one Impersonate-Group header per
 * group, as client-go's transport sends them). client-node sends only Impersonate-User (from the kubeconfig's `as`).
 */
export function requestHeaders(userAgent: string | undefined, imp: Impersonation): [string, string][] {
  return [
    ...(userAgent ? [['User-Agent', userAgent] as [string, string]] : []),
    ...(imp.user !== undefined ? [['Impersonate-User', imp.user] as [string, string]] : []),
    ...imp.groups.map((g) => ['Impersonate-Group', g] as [string, string]),
    ...(imp.uid !== undefined ? [['Impersonate-Uid', imp.uid] as [string, string]] : []),
  ];
}

/**
 * Add headers to a client-node request. Its RequestContext keeps headers in a plain object (one value per name), which
 * node-fetch reads as {name: value}; a header sent more than once (Impersonate-Group) is added by giving that object
 * an iterator, which node-fetch's Headers prefers to the object's keys (node-fetch 2 Headers(init)). Tested against
 * the stand-in API server, which records the headers as received.
 */
function addHeaders(context: RequestContext, pairs: [string, string][]): void {
  if (pairs.length === 0) return;
  const multi = pairs.filter(([k]) => pairs.filter(([j]) => j === k).length > 1);
  for (const [k, v] of pairs) if (!multi.some(([m]) => m === k)) context.setHeaderParam(k, v);
  if (multi.length === 0) return;
  const headers = context.getHeaders() as Record<string, string>;
  Object.defineProperty(headers, Symbol.iterator, {
    enumerable: false,
    configurable: true,
    value: function* (this: Record<string, string>) {
      for (const k of Object.keys(this)) yield [k, this[k]];
      yield* multi;
    },
  });
}

type HttpLibrary = ReturnType<typeof import('./k8s-client.js').createConfiguration>['httpApi'];

/**
 * client-node's HTTP library, with a line per request once it is answered, as kubectl -v=6 logs them (requestLine).
 * The other requests (pods/exec upgrades, watches) are traced where they are made: upgradeRefusalSeen, watchPod.
 */
function traced(inner: HttpLibrary, trace: (line: string) => void): HttpLibrary {
  return {
    send(req) {
      const t0 = Date.now();
      const line = (status: number | string) => trace(requestLine(req.getHttpMethod(), req.getUrl(), status, t0));
      const p = inner.send(req).toPromise().then(
        (res) => {
          line(res.httpStatusCode);
          return res;
        },
        (e: unknown) => {
          line(`failed (${(e as Error).message})`);
          throw e;
        },
      );
      return { toPromise: () => p, pipe: (f: (v: Awaited<typeof p>) => unknown) => ({ toPromise: () => p.then(f) }) } as unknown as ReturnType<HttpLibrary['send']>;
    },
  };
}

export async function connectKube(opts: KubeOptions, env: NodeJS.ProcessEnv = process.env): Promise<KubeApi> {
  const k8s = await import('./k8s-client.js');
  const rules = { ...(opts.kubeconfig !== undefined ? { explicitPath: opts.kubeconfig } : {}), env, delimiter };
  const resolved = resolveKubeconfig(rules, opts, await kubeconfigFiles(kubeconfigPaths(rules).paths, opts.readSignal));
  // its certificate files read here, through the event loop: client-node would read them synchronously per request
  if (resolved.kind === 'kubeconfig') resolved.options = { ...resolved.options, ...(await inlineCertificateFiles(resolved.options, opts.readSignal, resolved.origins)) };
  const headers = requestHeaders(opts.userAgent, resolved.impersonate);
  /** pods/exec (WebSocket) requests take their headers here; the REST calls in sharedAgentAuth. */
  class KubectlConfig extends k8s.KubeConfig {
    override async applyToHTTPSOptions(o: Parameters<KubeConfig['applyToHTTPSOptions']>[0]): Promise<void> {
      await super.applyToHTTPSOptions(o);
      (o as { finishRequest?: unknown }).finishRequest = (req: import('node:http').ClientRequest, ws: object) => upgradeRefusalSeen(req, ws, opts.trace);
      const made = (o as { agent?: unknown }).agent;
      if (made instanceof HttpsAgent && made.constructor === HttpsAgent) (o as { agent?: unknown }).agent = sharedHttpsAgent(made.options, false);
      const h: Record<string, string | string[]> = { ...((o as { headers?: Record<string, string> }).headers ?? {}) };
      for (const [k, v] of headers) h[k] = h[k] === undefined || k === 'User-Agent' ? v : ([] as string[]).concat(h[k]!, v);
      (o as { headers?: unknown }).headers = h;
    }
  }
  const kc = new KubectlConfig();
  try {
    if (resolved.kind === 'in-cluster') kc.loadFromCluster();
    // a plain-http server (`kubectl proxy`, `-s http://…`), which kubectl takes as it is: client-node refuses one
    // unless skipTLSVerify is set ("HTTP protocol is not allowed when skipTLSVerify is not set or false"), and uses
    // it for nothing else there is on plain http (no TLS to verify); its exec plugins see the cluster as given
    else kc.loadFromOptions({ ...resolved.options, clusters: resolved.options.clusters.map((c) => (/^http:/.test(c.server) ? { ...c, skipTLSVerify: true } : c)) });
  } catch (e) {
    throw new UsageError(`cannot load the ${resolved.kind === 'in-cluster' ? 'in-cluster config' : 'kubeconfig'}: ${(e as Error).message}`, { fix: { setting: 'kubeconfig' } });
  }
  const execConfig = resolved.kind === 'kubeconfig' ? resolved.options.users[0]?.exec : undefined;
  if (execConfig && resolved.kind === 'kubeconfig') {
    // the user's credential plugin, run as kubectl runs it (exec-credential.ts says why and how)
    wrapExecAuth(kc, {
      exec: execConfig,
      cluster: resolved.options.clusters[0]!,
      ...(resolved.execExtension !== undefined ? { extension: resolved.execExtension } : {}),
      stdinIsTerminal: isatty(0), // not process.stdin: making that stream is not needed to ask
      stderr: (text) => void process.stderr.write(text),
    });
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new UsageError('no Kubernetes cluster configured', { fix: { setting: 'kubeconfig', advice: 'name a kubeconfig, set $KUBECONFIG, or run inside a pod' } });
  }
  const server = cluster.server;
  const ctxObj = kc.getContextObject(kc.getCurrentContext());
  const defaultNamespace = (resolved.kind === 'kubeconfig' ? resolved.namespace : resolved.namespace ?? ctxObj?.namespace) ?? 'default';
  // as kc.makeApiClient, with one keep-alive connection for all requests of this process
  const params = { baseServer: new k8s.ServerConfiguration(server, {}), authMethods: { default: sharedAgentAuth(kc, headers) } };
  let config = k8s.createConfiguration(params);
  if (opts.trace) config = k8s.createConfiguration({ ...params, httpApi: traced(config.httpApi, opts.trace) });
  const core = new k8s.CoreV1Api(config);
  const custom = new k8s.CustomObjectsApi(config);
  const t = opts.requestTimeoutMs;
  // one API server per process: its exec subprotocol, learnt from the first exec
  let execProtocol: string | undefined;

  /** A request; an idempotent one is sent once more when its kept-alive connection turned out closed (staleConnection). */
  const send = async <T>(what: string, fn: () => Promise<T>, idempotent = true): Promise<T> => {
    try {
      return await withTimeout(fn(), t, what);
    } catch (e) {
      if (!idempotent || !staleConnection(e)) throw e;
    }
    return withTimeout(fn(), t, what);
  };
  const call = async <T>(what: string, fn: () => Promise<T>, idempotent = true): Promise<T> => {
    try {
      return await send(what, fn, idempotent);
    } catch (e) {
      throw apiError(e, what, server);
    }
  };

  return {
    defaultNamespace,
    context: kc.getCurrentContext(),
    getPod: (namespace, name) =>
      call(`pod ${namespace}/${name}`, () => core.readNamespacedPod({ name, namespace })).catch((e: unknown) => {
        // one wording for a pod that is not there, whichever command asks (podNotFound)
        throw e instanceof NotFoundError ? new NotFoundError(podNotFound(namespace, name), { cause: e }) : e;
      }),
    async listPods(namespace, labelSelector) {
      const what = `listing pods${namespace ? ` in ${namespace}` : ''}${labelSelector ? ` matching ${labelSelector}` : ''}`;
      const sel = labelSelector ? { labelSelector } : {};
      const list = await call(what, () =>
        namespace ? core.listNamespacedPod({ namespace, ...sel }) : core.listPodForAllNamespaces({ ...sel }),
      );
      // list items carry no apiVersion/kind, and their namespace only in metadata
      return podList(list.items.map((p) => ({ ...p, metadata: { ...p.metadata, namespace: p.metadata?.namespace ?? namespace } })), list.metadata?.resourceVersion);
    },
    watchPods(namespace, labelSelector, resourceVersion, seen) {
      const what = `watching pods${namespace ? ` in ${namespace}` : ''}${labelSelector ? ` matching ${labelSelector}` : ''}`;
      const path = namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods` : '/api/v1/pods';
      const params = { ...(labelSelector ? { labelSelector } : {}), resourceVersion };
      const traceOnce = watchTrace(server + path, params, opts.trace);
      let ctl: AbortController | undefined;
      let over = false;
      let settle: (e: Error | undefined) => void = () => undefined;
      const ended = new Promise<Error | undefined>((r) => (settle = r));
      const end = (e: Error | undefined) => {
        if (over) return;
        over = true;
        ctl?.abort();
        settle(e);
      };
      new k8s.Watch(kc)
        .watch(
          path,
          params,
          (type: string, obj: Pod & { code?: number; message?: string; reason?: string }) => {
            if (over) return;
            // a Status: 410 Expired (the resourceVersion is older than the server keeps), or another refusal
            if (type === 'ERROR') return end(apiError({ code: obj.code ?? 500, body: obj, message: obj.message }, what, server));
            if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return; // BOOKMARK: none asked for
            const pod = { ...obj, metadata: { ...obj.metadata, namespace: obj.metadata?.namespace ?? namespace } };
            seen({ type, pod, ...(obj.metadata?.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}) });
          },
          (err: unknown) => {
            const code = (err as { statusCode?: unknown } | null)?.statusCode;
            if (err) traceOnce(typeof code === 'number' ? code : `failed (${(err as Error).message})`);
            if (over || (err as Error | null)?.name === 'AbortError') return end(undefined);
            end(err ? apiError(typeof code === 'number' ? { code, message: String((err as Error).message) } : err, what, server) : new UnreachableError(`${what}: closed by the API server`));
          },
        )
        .then(
          (c) => {
            traceOnce(200);
            ctl = c;
            if (over) c.abort();
          },
          (err: unknown) => {
            traceOnce(`failed (${(err as Error).message})`);
            end(apiError(err, what, server));
          },
        );
      return { stop: () => end(undefined), ended };
    },
    async getNad(namespace, name) {
      const what = `NetworkAttachmentDefinition ${namespace}/${name}`;
      const obj = (await call(what, () =>
        custom.getNamespacedCustomObject({ group: 'k8s.cni.cncf.io', version: 'v1', namespace, plural: 'network-attachment-definitions', name }),
      )) as { spec?: { config?: unknown } };
      const config = obj?.spec?.config;
      if (typeof config !== 'string' || config.trim() === '') {
        throw new UsageError(`${what} has no spec.config (a CNI config as a JSON string)`);
      }
      return { namespace, name, config };
    },
    async listNads(namespace) {
      const list = (await call(`listing NetworkAttachmentDefinitions in ${namespace}`, () =>
        custom.listNamespacedCustomObject({ group: 'k8s.cni.cncf.io', version: 'v1', namespace, plural: 'network-attachment-definitions' }),
      )) as { items?: { metadata?: { name?: string } }[] };
      return (list.items ?? []).map((i) => i.metadata?.name ?? '').filter(Boolean);
    },
    async createPodEvent(pod, event, host) {
      const namespace = pod.metadata?.namespace ?? defaultNamespace;
      const name = pod.metadata?.name ?? '';
      const now = new Date();
      // client-go's EventRecorder names events <object>.<unix nanoseconds in hex>
      const nanos = (BigInt(now.getTime()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000))).toString(16);
      await call(`recording an event on pod ${namespace}/${name}`, () =>
        core.createNamespacedEvent({
          namespace,
          body: {
            metadata: { name: `${name}.${nanos}`, namespace },
            involvedObject: {
              apiVersion: 'v1', kind: 'Pod', namespace, name,
              ...(pod.metadata?.uid ? { uid: pod.metadata.uid } : {}),
              ...(pod.metadata?.resourceVersion ? { resourceVersion: pod.metadata.resourceVersion } : {}),
            },
            reason: event.reason,
            message: event.message,
            type: event.type,
            source: { component: 'cni-attach', host },
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
            reportingComponent: 'cni-attach',
            reportingInstance: host,
          },
        }),
      );
    },
    async listConfigMaps(namespace, labelSelector) {
      const list = await call(`listing configmaps in ${namespace}`, () => core.listNamespacedConfigMap({ namespace, labelSelector }));
      return list.items.map((c) => configMapOf(c, namespace));
    },
    async createConfigMap(cm) {
      const what = `creating configmap ${cm.namespace}/${cm.name}`;
      const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: cm.name, namespace: cm.namespace, ...(cm.labels ? { labels: cm.labels } : {}) }, data: cm.data };
      try {
        await withTimeout(core.createNamespacedConfigMap({ namespace: cm.namespace, body }), t, what);
      } catch (e) {
        if ((e as ApiErrorShape).code === 409) throw new AlreadyExistsError(`${what}: it already exists`);
        throw apiError(e, what, server);
      }
    },
    async patchConfigMapData(namespace, name, data) {
      const strategy = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
      return configMapOf(await call(`patching configmap ${namespace}/${name}`, () => core.patchNamespacedConfigMap({ name, namespace, body: { data } }, strategy)), namespace);
    },
    async deleteConfigMap(namespace, name, resourceVersion) {
      const what = `deleting configmap ${namespace}/${name}`;
      try {
        // retried once on a stale connection as every call: a first try that landed makes the second a 404
        await send(what, () => core.deleteNamespacedConfigMap({ name, namespace, body: { preconditions: { resourceVersion } } }));
        return 'deleted';
      } catch (e) {
        const code = (e as ApiErrorShape).code;
        if (code === 404) return 'gone';
        if (code === 409) return 'changed';
        throw apiError(e, what, server);
      }
    },
    async watchPod(namespace, name, settled, timeoutMs, from) {
      const what = `watching pod ${namespace}/${name}`;
      const deadline = Date.now() + timeoutMs;
      let last: Pod | undefined = from;
      let rv = from?.metadata?.resourceVersion;
      if (last && settled(last)) return { pod: last, settled: true };
      const watch = new k8s.Watch(kc);
      for (;;) {
        if (rv === undefined) {
          // list-then-watch, as client-go's reflector: the list's resourceVersion is current, the object's may be old
          const list = await call(`pod ${namespace}/${name}`, () => core.listNamespacedPod({ namespace, fieldSelector: `metadata.name=${name}` }));
          last = list.items[0];
          if (!last) return { pod: undefined, settled: false };
          rv = list.metadata?.resourceVersion;
          if (settled(last)) return { pod: last, settled: true };
        }
        const left = deadline - Date.now();
        if (left <= 0) return { pod: last, settled: false };
        const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
        const params = { fieldSelector: `metadata.name=${name}`, resourceVersion: rv, timeoutSeconds: Math.ceil(left / 1000) };
        const outcome = await new Promise<'settled' | 'deleted' | 'reopen' | 'relist' | 'timeout' | { error: unknown }>((resolve) => {
          let ctl: AbortController | undefined;
          let over = false;
          const traceOnce = watchTrace(server + path, params, opts.trace);
          const end = (o: Parameters<typeof resolve>[0]) => {
            if (over) return;
            over = true;
            clearTimeout(timer);
            ctl?.abort();
            resolve(o);
          };
          const timer = setTimeout(() => end('timeout'), left);
          watch
            .watch(
              path,
              params,
              (type: string, obj: Pod) => {
                if (type === 'ERROR') return end('relist'); // a Status, e.g. 410 Expired: start again from a read
                if (type === 'DELETED') {
                  last = undefined;
                  return end('deleted');
                }
                last = obj;
                rv = obj.metadata?.resourceVersion ?? rv;
                if (settled(obj)) end('settled');
              },
              (err: unknown) => {
                // before the answer was traced: what Watch made of it (a status other than 200, or no answer)
                if (err) traceOnce(typeof (err as { statusCode?: unknown }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : `failed (${(err as Error).message})`);
                end(err ? { error: err } : 'reopen');
              },
            )
            .then((c) => {
              traceOnce(200);
              ctl = c;
              if (over) c.abort();
            }, (err: unknown) => {
              traceOnce(`failed (${(err as Error).message})`);
              end({ error: err });
            });
        });
        if (outcome === 'settled') return { pod: last, settled: true };
        if (outcome === 'deleted') return { pod: undefined, settled: false };
        if (outcome === 'timeout') return { pod: last, settled: false };
        if (outcome === 'relist') rv = undefined;
        if (typeof outcome === 'object') {
          const err = outcome.error as { statusCode?: number; name?: string };
          if (err?.name === 'AbortError') continue;
          throw apiError(typeof err?.statusCode === 'number' ? { code: err.statusCode, message: String((err as Error).message) } : err, what, server);
        }
      }
    },
    // not sent twice: with generateName a second POST would make a second pod
    createPod: (namespace, pod) => call(`creating a pod in ${namespace}`, () => core.createNamespacedPod({ namespace, body: pod }), false),
    async deletePod(namespace, name, uid) {
      const what = `deleting pod ${namespace}/${name}`;
      try {
        await send(what, () => core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0, ...(uid ? { body: { preconditions: { uid } } } : {}) }));
      } catch (e) {
        const code = (e as ApiErrorShape).code;
        if (code === 404 || (uid && code === 409)) return;
        throw apiError(e, what, server);
      }
    },
    async exec(namespace, pod, container, command, stdin) {
      const what = `exec in pod ${namespace}/${pod}`;
      const { PassThrough, Readable } = await import('node:stream');
      // each output kept up to the limit (the rest read and dropped): exec/shell.ts runStoppable cuts it and says so
      const out = new OutputBuffer();
      const err = new OutputBuffer();
      const stdout = new PassThrough().on('data', (c: Buffer) => out.push(c));
      const stderr = new PassThrough().on('data', (c: Buffer) => err.push(c));
      let status: { status?: string; reason?: string; message?: string; details?: { causes?: { reason?: string; message?: string }[] } } | undefined;
      const how = execStdin(command, stdin, execProtocol);
      let input: InstanceType<typeof Readable> | null = null;
      if (how.chunks) {
        // client-node sends each chunk on channel 0; at the stream's end it closes stdin (v5) or the WebSocket (v4)
        input = how.end ? Readable.from(how.chunks) : new Readable({ read() {} });
        if (!how.end) for (const c of how.chunks) input.push(c);
      }
      // whether the WebSocket opened: an error before it may be one of a request that never left this host (execError)
      let opened = false;
      const done = new Promise<void>((resolve, reject) => {
        new k8s.Exec(kc)
          .exec(namespace, pod, container, how.command, stdout, stderr, input, false, (s) => {
            status = s;
          })
          .then((ws) => {
            opened = true;
            if (execProtocol === undefined) {
              execProtocol = ws.protocol;
              opts.debug?.(`pods/exec: the API server speaks ${ws.protocol || 'no subprotocol'}${ws.protocol === EXEC_V5 ? ' (stdin ends with the close-stdin signal)' : ' (no close-stdin signal: stdin is delimited by its length, with sh and head -c in the container)'}`);
            }
            ws.on('close', () => resolve());
            ws.on('error', (e: Error) => reject(e));
          }, reject);
      });
      try {
        await withTimeout(done, t ? Math.max(t, 120_000) : undefined, what);
      } catch (e) {
        throw execError(e, namespace, what, server, !opened);
      } finally {
        input?.destroy();
      }
      const result = { stdout: out.text(), stderr: err.text() };
      if (status?.status === 'Success') return { code: 0, ...result };
      const exit = status?.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
      if (status?.reason === 'NonZeroExitCode' && exit !== undefined) return { code: Number(exit), ...result };
      throw new UnreachableError(`${what}: ${status?.message ?? 'the connection closed without an exit status'}`);
    },
    async openExec(namespace, pod, container, command) {
      const what = `exec in pod ${namespace}/${pod}`;
      const { PassThrough, Readable } = await import('node:stream');
      const stdout = new PassThrough();
      const stderr = new PassThrough().resume();
      // never ended by this side: the session ends when its command does (v4 could not say "end of stdin" anyway)
      const input = new Readable({ read() {} });
      let socket: { close(): void; terminate?(): void } | undefined;
      let ended: () => void = () => undefined;
      const closed = new Promise<void>((r) => (ended = r));
      try {
        const ws = await withTimeout(new k8s.Exec(kc).exec(namespace, pod, container, command, stdout, stderr, input, false), t ? Math.max(t, 120_000) : undefined, what);
        if (execProtocol === undefined) {
          execProtocol = ws.protocol;
          opts.debug?.(`pods/exec: the API server speaks ${ws.protocol || 'no subprotocol'} (a node session: one pods/exec whose stdin stays open carries the commands)`);
        }
        socket = ws as unknown as { close(): void; terminate?(): void };
        ws.on('close', () => ended());
        ws.on('error', () => ended());
      } catch (e) {
        input.destroy();
        // not opened (a timeout's error says no answer came: not one that never left)
        throw execError(e, namespace, what, server, true);
      }
      void closed.then(() => input.destroy());
      return {
        write: (data: Buffer) => void input.push(data),
        onData: (cb: (c: Buffer) => void) => void stdout.on('data', cb),
        ended: closed,
        destroy: () => {
          input.destroy();
          (socket?.terminate ?? socket?.close)?.call(socket);
          ended();
        },
      };
    },
    async updatePodAnnotation(namespace, name, key, update, known) {
      const what = `annotating pod ${namespace}/${name}`;
      const strategy = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
      for (let attempt = 0; ; attempt++) {
        const pod = attempt === 0 && known?.metadata?.resourceVersion ? known : await call(what, () => core.readNamespacedPod({ name, namespace }));
        if (known?.metadata?.uid && pod.metadata?.uid !== known.metadata.uid) {
          throw new NotFoundError(`${what}: the pod of uid ${known.metadata.uid} was deleted, and a pod of that name now has uid ${pod.metadata?.uid ?? '(none)'}`);
        }
        const current = pod.metadata?.annotations?.[key];
        const next = update(current);
        // nothing to change in `known`, a copy read earlier: the pod as it is now decides (another command may have
        // written the annotation since — an attach's entry that a detach, reading before, would leave behind)
        if (next === current && pod === known) continue;
        if (next === current) return pod;
        const body = { metadata: { resourceVersion: pod.metadata?.resourceVersion, annotations: { [key]: next ?? null } } };
        try {
          // idempotent: the resourceVersion precondition makes a repeat that already applied a 409, read again below
          return await send(what, () => core.patchNamespacedPod({ name, namespace, body }, strategy));
        } catch (e) {
          if ((e as ApiErrorShape).code === 409 && attempt < 15) {
            // someone else changed the pod (other attaches to it, kubelet): read again after a jittered, growing pause
            await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random())));
            continue;
          }
          throw apiError(e, what, server);
        }
      }
    },
  };
}
