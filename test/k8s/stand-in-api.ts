/**
 * A stand-in for the Kubernetes API server, for tests: an HTTP(S) server on 127.0.0.1 that serves real
 * Kubernetes API JSON (objects, lists, Status errors) from an in-memory store, to the real @kubernetes/client-node.
 *
 *   const api = await StandInApiServer.start();          // TLS with a fresh CA, bearer token, kubeconfig written
 *                                                        // (also authorizes api.clientCertPath/clientKeyPath: mTLS)
 *   api.addPod(makePod({ name: 'web', labels: { app: 'web' } }));
 *   kc.loadFromFile(api.kubeconfigPath);
 *   ...
 *   await api.stop();                                    // closes every socket (hanging ones too), removes the temp dir
 *
 * What it serves (everything else is a 404/405 Status, like the real thing):
 *   GET   /api, /api/v1, /apis, /apis/k8s.cni.cncf.io[/v1], /version, /healthz|/livez|/readyz
 *   GET   /api/v1/pods                                   (labelSelector, fieldSelector, limit/continue; watch=true)
 *   GET   /api/v1/namespaces/{ns}/pods                   (same)
 *   POST  /api/v1/namespaces/{ns}/pods                   (create; generateName; dryRun=All; Pod Security admission;
 *                                                         then "scheduled and started")
 *   GET   /api/v1/namespaces/{ns}/pods/{name}
 *   PATCH /api/v1/namespaces/{ns}/pods/{name}            (merge, strategic-merge (≈ merge), json-patch; dryRun=All)
 *   DELETE /api/v1/namespaces/{ns}/pods/{name}           (gracePeriodSeconds, DeleteOptions with preconditions; dryRun=All)
 *   GET|POST /api/v1/namespaces/{ns}/pods/{name}/exec    (WebSocket, v5.channel.k8s.io / v4.channel.k8s.io)
 *   the same GET/PATCH four for /apis/k8s.cni.cncf.io/v1/[namespaces/{ns}/]network-attachment-definitions[/{name}]
 *   GET   /api/v1/[namespaces/{ns}/]events[/{name}]      (fieldSelector involvedObject.*, reason, type: as kubectl describe asks)
 *   POST  /api/v1/namespaces/{ns}/events                 (create a core/v1 Event, validated as the API server does)
 *   GET (one, list with labelSelector), POST, PATCH, DELETE (preconditions) for /api/v1/[namespaces/{ns}/]configmaps
 *
 * Watch (`?watch=true` on a list path): a chunked stream of JSON events, one per line, `{"type":"ADDED"|"MODIFIED"|
 * "DELETED","object":{…}}`, its head sent at once (before any event, as the API server flushes it), filtered by labelSelector/fieldSelector as the real watch cache filters (an object that
 * starts matching comes as ADDED, one that stops as DELETED). Without resourceVersion (or "0") the matching objects
 * come first as ADDED; with one, the changes after it, or an ERROR event with a 410 Expired Status when it is older
 * than the last 10 000 changes kept. Ends after timeoutSeconds (default 1800). No bookmarks (allowWatchBookmarks is
 * ignored, as the real server may).
 *
 * Pod Security Admission: `podSecurity` gives namespaces an enforced level (the namespace label
 * pod-security.kubernetes.io/enforce); a pod that violates it is refused with the real 403 Forbidden Status,
 * `pods "x" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true, hostPID=true),
 * privileged (container "agent" must not set securityContext.privileged=true)` (see podSecurityViolations).
 *
 * Latency: `latencyMs` delays every request, every exec upgrade and every stdin message of an exec by that much, so
 * that round trips show as on a real cluster (the bench uses it; tests leave it at 0). *
 * Semantics kept from the real API server: a cluster-wide resourceVersion that increments on every change (and not on
 * a no-op patch); metadata.resourceVersion in a patch is an optimistic-concurrency precondition (409 Conflict when
 * stale); a patch cannot change name/namespace/uid, pod status (ignored on the main resource) or most of pod spec
 * (422); annotation/label keys are validated as qualified names and annotations are limited to 256 KiB in total (422);
 * list items of built-in kinds carry no apiVersion/kind, custom-resource items do.
 *
 * Pod lifecycle: a created pod is Pending (status {phase, qosClass}); `podStartDelayMs` later (default 50) the
 * stand-in "schedules and starts" it (spec.nodeName, Running, Ready) — or leaves it Pending, or makes it Failed, as
 * `podStartBehaviour` says. runPod()/failPod() drive a pod by hand. A DELETE removes the pod at once (and answers with
 * the deleted pod, as the real server does for an immediate deletion) unless `podTerminationDelayMs` > 0, in which case
 * a scheduled pod first gets a deletionTimestamp and goes away later, as with graceful deletion. Deletions over HTTP
 * are recorded in `podDeletions`. Removing a pod kills the commands exec'd into it (exit code 137).
 *
 * Exec: the upgrade request is authenticated and checked (404 missing pod, 400 not running / bad container / no
 * command). The subprotocol is the server's most preferred of `execProtocols` (default v5.channel.k8s.io, then
 * v4.channel.k8s.io; give one to play an API server that has only that one, e.g. v4 for Kubernetes ≤ 1.29) that the
 * client's Sec-WebSocket-Protocol list offers. Under v5 a frame [255, 0] closes the command's stdin; v4 has no such
 * signal (the frame is ignored), so under v4 only closing the WebSocket ends stdin — and kills the command. Then
 * `execHandler` runs the command — by default on THIS host, `spawn(command[0], command.slice(1))`, as
 * if the pod were on this node — with stdin/stdout/stderr on channels 0/1/2 and the exit Status on channel 3. Execs are
 * recorded in `execs` (and the upgrade request in `requests`). Closing the WebSocket before the command ends kills it;
 * stop() kills every running command and closes every WebSocket.
 *
 * Not a real API server: no update (PUT) and no create/delete for NADs over HTTP (use addNad/…), no attach
 * or port-forward, no tty emulation (tty is recorded, resize frames are ignored), no strategic-merge list merging
 * (lists are replaced, as in a merge patch), no server-side apply (415).
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes, randomInt, randomUUID, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Duplex, finished, type Readable, type Writable } from 'node:stream';
import { promisify } from 'node:util';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

const execFileP = promisify(execFile);

// ---------------------------------------------------------------------------------------------------------------
// Wire types (JSON as the API server sends it: timestamps are strings, absent fields are absent)
// ---------------------------------------------------------------------------------------------------------------

export interface ObjectMetaJson {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface KubeObjectJson {
  apiVersion: string;
  kind: string;
  metadata: ObjectMetaJson;
  [key: string]: unknown;
}

export interface ContainerJson {
  name: string;
  image: string;
  [key: string]: unknown;
}

export interface ContainerStatusJson {
  name: string;
  containerID?: string;
  image?: string;
  ready?: boolean;
  started?: boolean;
  restartCount?: number;
  state?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface PodJson extends KubeObjectJson {
  spec: {
    containers: ContainerJson[];
    nodeName?: string;
    hostNetwork?: boolean;
    [key: string]: unknown;
  };
  status: {
    phase?: string;
    podIP?: string;
    hostIP?: string;
    containerStatuses?: ContainerStatusJson[];
    conditions?: Array<Record<string, unknown>>;
    [key: string]: unknown;
  };
}

export interface NadJson extends KubeObjectJson {
  spec: {
    /** The CNI configuration (a conf or conflist) as a JSON string. */
    config?: string;
    [key: string]: unknown;
  };
}

/** A Kubernetes `Status` object (what the API server sends for errors). */
export interface StatusJson {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; causes?: Array<{ reason?: string; message: string; field?: string }> };
  code: number;
}

export interface RecordedRequest {
  method: string;
  /** The decoded path, without the query. */
  path: string;
  /** The query parameters (the last one wins when repeated). */
  query: Record<string, string>;
  /** The Content-Type header, without parameters (e.g. "application/merge-patch+json"). */
  contentType: string | undefined;
  /** The body: parsed JSON when it is JSON, else the text; undefined when empty. */
  body: unknown;
  rawBody: string;
  headers: http.IncomingHttpHeaders;
  /**
   * The header lines as received, in order, names lower-cased: a header sent twice (Impersonate-Group) is two
   * entries here where `headers` joins them. For User-Agent and impersonation checks.
   */
  headerLines: [string, string][];
  /**
   * The subject CN of the client certificate the request's TLS connection presented, when the stand-in's CA signed it
   * (checked as an API server checks one against its --client-ca-file: clientCertificateOf); undefined otherwise.
   */
  clientCertificate?: string;
  /** Whether the request carried the server's bearer token, or a client certificate its CA signed. */
  authorized: boolean;
}

export interface RequestMatch {
  /** HTTP method, case-insensitive; any when absent. */
  method?: string;
  /** A substring of the decoded path or of the raw request URL (which includes the query). */
  pathIncludes?: string;
  /** How many matching requests this applies to (default 1). */
  times?: number;
}

export type FaultResponse =
  /**
   * Answer with this status code and a Status object (reason from the code), optionally after a delay; with `plain`,
   * that text/plain body instead, as a proxy in front of the API server answers (kubectl proxy's reject filter: 403
   * "Forbidden", for pods/exec among others).
   */
  | { code: number; delayMs?: number; message?: string; plain?: string }
  /** Handle the request normally, but only after this delay. */
  | { delayMs: number }
  /** Never answer (until the client gives up or the server stops). */
  | { hang: true }
  /** Close the connection without answering, as a server or proxy closing an idle kept-alive connection does. */
  | { reset: true };

export interface KubeconfigOptions {
  /** File name inside the server's temp dir (default: a fresh kubeconfig-<n>.yaml). */
  fileName?: string;
  /** Namespace of the current context (default "default"); null leaves the context without one. */
  namespace?: string | null;
  /** Bearer token of the current context's user (default: the token the server accepts). */
  token?: string;
  /** Name of the current context (default "stand-in"). */
  contextName?: string;
  /** Put certificate-authority-data (the stand-in's CA) in the cluster (default true with TLS). */
  withCa?: boolean;
  /** insecure-skip-tls-verify (default false with TLS; true without, which client-node requires for http:). */
  insecureSkipTlsVerify?: boolean;
  /** More contexts on the same cluster; each gets its own user when it has a token. */
  contexts?: Array<{ name: string; namespace?: string; token?: string }>;
}

export interface MakePodOptions {
  name: string;
  namespace?: string;
  uid?: string;
  /** The node the pod is scheduled to (default "node-1"); null for an unscheduled (Pending) pod. */
  nodeName?: string | null;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  hostNetwork?: boolean;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Default: derived from the name (10.244.x.y); the host IP with hostNetwork. */
  podIP?: string;
  /** Default "172.18.0.2". */
  hostIP?: string;
  /** Container names (default ["app"]). */
  containers?: string[];
  /** The containerID scheme (default "docker": "docker://<64 hex>"). */
  containerRuntime?: 'docker' | 'containerd' | 'cri-o';
}

/** What the stand-in does with a created pod once `podStartDelayMs` has passed. */
export type PodStartBehaviour =
  /** Schedule it (spec.nodeName) and start it: Running, Ready, containers running. */
  | 'run'
  /** Leave it Pending and unscheduled (as with no node that fits). */
  | 'pending'
  /** Schedule it, then fail it: phase Failed, containers terminated with exit code 1 (reason Error). */
  | 'fail';

export interface StandInApiOptions {
  /** Serve HTTPS with a fresh CA (default true). */
  tls?: boolean;
  /** How long after its creation a created pod is scheduled and started (default 50 ms). */
  podStartDelayMs?: number;
  /** What happens to created pods (default 'run'); a function decides per pod. */
  podStartBehaviour?: PodStartBehaviour | ((pod: PodJson) => PodStartBehaviour);
  /** Called with each pod created over HTTP, before the response (awaited; the start timer begins after it). */
  onPodCreated?: (pod: PodJson) => void | Promise<void>;
  /** The node created pods are scheduled to when they name none (default "node-1"). */
  nodeName?: string;
  /** The node's IP (status.hostIP of started pods; default "172.18.0.2"). */
  hostIP?: string;
  /**
   * With a value > 0, deleting a scheduled pod with a grace period > 0 is graceful: the pod gets a deletionTimestamp and
   * is removed min(this, grace period) ms later. Default 0: every deletion is immediate.
   */
  podTerminationDelayMs?: number;
  /** What runs an exec'd command (default: hostExecHandler, i.e. on this host). */
  execHandler?: ExecHandler;
  /**
   * The WebSocket subprotocols pods/exec offers, in the server's order of preference (default: both, v5 first, as
   * Kubernetes ≥ 1.30 does; ['v4.channel.k8s.io'] is an API server of 1.29 or older, with no close-stdin signal).
   */
  execProtocols?: ExecProtocol[];
  /**
   * A fixed delay (ms) added before every HTTP request is answered and before every exec upgrade is accepted, so that
   * round trips cost what they cost on a real cluster (default 0).
   */
  latencyMs?: number;
  /**
   * Serve requests that carry no credentials, as `kubectl proxy` does (it adds its own towards the API server; kubectl
   * sends none over plain http). A request with a wrong token is still refused. Default false.
   */
  anonymous?: boolean;
  /**
   * Pod Security Admission: the `pod-security.kubernetes.io/enforce` level of namespaces (the label on the Namespace);
   * namespaces not named are `privileged` (nothing enforced), as with PSA's default configuration.
   */
  podSecurity?: Record<string, PodSecurityLevel>;
}

/** The Pod Security Standards levels (https://kubernetes.io/docs/concepts/security/pod-security-standards/). */
export type PodSecurityLevel = 'privileged' | 'baseline' | 'restricted';

export type ExecProtocol = 'v5.channel.k8s.io' | 'v4.channel.k8s.io';

/** An exec request, after the API server's checks (the container is resolved even when the client named none). */
export interface ExecRequest {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  protocol: ExecProtocol;
}

/**
 * What an exec handler returns: a ChildProcess, or anything shaped like one. It must emit 'exit' or 'close'
 * (code, signal) when the command ends (or 'error' when it cannot start); the status is sent once stdout and stderr
 * have ended too. kill() is called (with 'SIGKILL') when the WebSocket closes early, the pod goes away, or on stop().
 */
export interface ExecProcess {
  readonly pid?: number | undefined;
  readonly stdin?: Writable | null;
  readonly stdout?: Readable | null;
  readonly stderr?: Readable | null;
  kill(signal?: NodeJS.Signals | number): boolean | void;
  once(event: 'exit' | 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
}

export type ExecHandler = (req: ExecRequest) => ExecProcess | Promise<ExecProcess>;

/** The Status an exec ends with (sent on channel 3), as the kubelet writes it. */
export interface ExecStatusJson {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes?: Array<{ reason?: string; message: string }> };
  code?: number;
}

export interface RecordedExec extends ExecRequest {
  startedAt: Date;
  /** The stdin it was sent, one entry per WebSocket message on channel 0 (a node session's requests: sessionRequests). */
  stdinMessages: Buffer[];
  /** The pid of the process the handler returned, when it has one. */
  pid?: number;
  /** The exit code (128 + signal number when killed by a signal); undefined while running or when it never started. */
  exitCode?: number;
  /** The Status sent to the client (also set, but not sent, when the WebSocket had already closed). */
  status?: ExecStatusJson;
  /** The WebSocket closed (client, pod deletion or stop()) before the command ended, so the command was killed. */
  closedEarly?: boolean;
  endedAt?: Date;
}

export interface PodDeletion {
  namespace: string;
  name: string;
  uid: string;
  /** The effective grace period (query, else DeleteOptions, else the pod's terminationGracePeriodSeconds, else 30). */
  gracePeriodSeconds: number;
  propagationPolicy?: string;
  dryRun: boolean;
  /** Whether the pod was removed at once (false: it got a deletionTimestamp and goes later). */
  immediate: boolean;
  at: Date;
}

// ---------------------------------------------------------------------------------------------------------------
// Object helpers
// ---------------------------------------------------------------------------------------------------------------

const rfc3339 = (d: Date = new Date()): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const hex = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A realistic Pod as the API server returns it (resourceVersion is replaced by the server on addPod). */
export function makePod(o: MakePodOptions): PodJson {
  const namespace = o.namespace ?? 'default';
  const uid = o.uid ?? randomUUID();
  const nodeName = o.nodeName === null ? undefined : (o.nodeName ?? 'node-1');
  const phase = o.phase ?? (nodeName ? 'Running' : 'Pending');
  const hostIP = o.hostIP ?? '172.18.0.2';
  const h = hex(`${namespace}/${o.name}`);
  const podIP = o.podIP ?? (o.hostNetwork ? hostIP : `10.244.${parseInt(h.slice(0, 2), 16) % 250}.${(parseInt(h.slice(2, 4), 16) % 250) + 2}`);
  const names = o.containers ?? ['app'];
  const scheme = o.containerRuntime ?? 'docker';
  const created = new Date(Date.now() - 60_000);
  const started = new Date(created.getTime() + 2_000);
  const image = 'docker.io/library/busybox:1.36';
  const imageID = `docker.io/library/busybox@sha256:${hex(image)}`;
  const scheduled = nodeName !== undefined;
  const running = phase === 'Running';
  const ended = phase === 'Succeeded' || phase === 'Failed';
  const haveContainers = scheduled && phase !== 'Pending' && phase !== 'Unknown';
  const cond = (type: string, ok: boolean) => ({
    type,
    status: ok ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: rfc3339(ok ? started : created),
    ...(ok ? {} : { reason: type === 'PodScheduled' ? 'Unschedulable' : phase === 'Pending' ? 'ContainersNotReady' : 'PodCompleted' }),
  });

  const metadata: ObjectMetaJson = {
    name: o.name,
    namespace,
    uid,
    resourceVersion: '1',
    creationTimestamp: rfc3339(created),
  };
  if (o.labels) metadata.labels = { ...o.labels };
  if (o.annotations) metadata.annotations = { ...o.annotations };

  const spec: PodJson['spec'] = {
    containers: names.map((name) => ({
      name,
      image,
      command: ['sleep', 'infinity'],
      imagePullPolicy: 'IfNotPresent',
      resources: {},
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      volumeMounts: [{ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
    })),
    dnsPolicy: o.hostNetwork ? 'ClusterFirstWithHostNet' : 'ClusterFirst',
    enableServiceLinks: true,
    ...(o.hostNetwork ? { hostNetwork: true } : {}),
    ...(nodeName ? { nodeName } : {}),
    preemptionPolicy: 'PreemptLowerPriority',
    priority: 0,
    restartPolicy: 'Always',
    schedulerName: 'default-scheduler',
    securityContext: {},
    serviceAccount: 'default',
    serviceAccountName: 'default',
    terminationGracePeriodSeconds: 30,
    tolerations: [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ],
    volumes: [{ name: 'kube-api-access', projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }] } }],
  };

  const status: PodJson['status'] = {
    phase,
    conditions: [
      ...(scheduled ? [cond('PodReadyToStartContainers', haveContainers && !ended), cond('Initialized', true)] : []),
      ...(scheduled ? [cond('Ready', running), cond('ContainersReady', running)] : []),
      cond('PodScheduled', scheduled),
    ],
    qosClass: 'BestEffort',
  };
  if (scheduled) {
    status.hostIP = hostIP;
    status.hostIPs = [{ ip: hostIP }];
    status.startTime = rfc3339(created);
  }
  if (haveContainers) {
    status.podIP = podIP;
    status.podIPs = [{ ip: podIP }];
  }
  if (scheduled) {
    status.containerStatuses = names.map((name) => {
      const s: ContainerStatusJson = {
        name,
        image,
        imageID: haveContainers ? imageID : '',
        ready: running,
        restartCount: 0,
        started: running,
        state: running
          ? { running: { startedAt: rfc3339(started) } }
          : ended
            ? { terminated: { exitCode: phase === 'Failed' ? 1 : 0, reason: phase === 'Failed' ? 'Error' : 'Completed', startedAt: rfc3339(started), finishedAt: rfc3339() } }
            : { waiting: { reason: 'ContainerCreating' } },
        lastState: {},
      };
      if (haveContainers) s.containerID = `${scheme}://${hex(`${uid}/${name}`)}`;
      return s;
    });
  }
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec, status };
}

/** A NetworkAttachmentDefinition; config may be given as an object (it is serialized) or as the JSON string. */
export function makeNad(o: { name: string; namespace?: string; config: string | object; annotations?: Record<string, string>; uid?: string }): NadJson {
  const metadata: ObjectMetaJson = {
    name: o.name,
    namespace: o.namespace ?? 'default',
    uid: o.uid ?? randomUUID(),
    resourceVersion: '1',
    creationTimestamp: rfc3339(new Date(Date.now() - 60_000)),
    generation: 1,
  };
  if (o.annotations) metadata.annotations = { ...o.annotations };
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata,
    spec: { config: typeof o.config === 'string' ? o.config : JSON.stringify(o.config) },
  };
}

const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Whether a strategic merge patch uses directives ($patch, $retainKeys, $setElementOrder/…, $deleteFromPrimitiveList/…). */
function hasDirective(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasDirective);
  if (isObject(v)) return Object.entries(v).some(([k, x]) => k.startsWith('$') || hasDirective(x));
  return false;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------------
// Status errors
// ---------------------------------------------------------------------------------------------------------------

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

const DEFAULT_MESSAGES: Record<number, string> = {
  401: 'Unauthorized',
  403: 'forbidden',
  429: 'Too many requests, please try again later.',
  500: 'Internal error occurred: injected by the stand-in API server',
  503: 'the server is currently unable to handle the request',
  504: 'the server was unable to return a response in the time allotted, but may still be processing the request',
};

export function statusObject(code: number, message: string, reason?: string, details?: StatusJson['details']): StatusJson {
  // The property order of the real thing: kind, apiVersion, metadata, status, message, reason, details, code.
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: reason ?? REASONS[code] ?? (code >= 500 ? 'InternalError' : 'BadRequest'),
    ...(details ? { details } : {}),
    code,
  };
}

class ApiError extends Error {
  constructor(readonly status: StatusJson) {
    super(status.message);
  }
}

const badRequest = (message: string) => new ApiError(statusObject(400, message, 'BadRequest'));

// ---------------------------------------------------------------------------------------------------------------
// Label and field selectors
// ---------------------------------------------------------------------------------------------------------------

export interface LabelRequirement {
  key: string;
  op: 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';
  values: string[];
}

const QNAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QNAME_HELP =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/** Why `key` is not a valid qualified name (label/annotation key), or undefined when it is. */
export function qualifiedNameError(key: string): string | undefined {
  const parts = key.split('/');
  let name = key;
  if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    name = parts[1] ?? '';
    if (prefix === '') return 'prefix part must be non-empty';
    if (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)) {
      return "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    }
  } else if (parts.length > 2) {
    return `a qualified name ${QNAME_HELP} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`;
  }
  if (name === '') return 'name part must be non-empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!QNAME_PART.test(name)) return `name part ${QNAME_HELP}`;
  return undefined;
}

function labelValueError(v: string): string | undefined {
  if (v.length > 63) return 'must be no more than 63 characters';
  if (!LABEL_VALUE.test(v)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
  }
  return undefined;
}

/**
 * Parse a label selector as k8s.io/apimachinery/pkg/labels.Parse does (selector.go: its Lexer, then Parser.parse,
 * parseRequirement, parseValues, parseExactValue, NewRequirement), with its error texts, which kube-apiserver sends
 * as the message of a 400 BadRequest Status: comma-separated requirements `k`, `!k`, `k=v`, `k==v`, `k!=v`,
 * `k in (a,b)`, `k notin (a,b)`, `k>1`, `k<1`; `in`/`notin` are values where a value is expected; `()` is the set
 * of the empty value. Throws an Error whose message is labels.Parse's.
 */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  type Tok = 'id' | 'eos' | 'err' | ')' | ',' | '!' | '==' | '=' | '>' | 'in' | '<' | '!=' | 'notin' | '(';
  const KEYWORDS: Record<string, Tok> = { ')': ')', ',': ',', '!': '!', '==': '==', '=': '=', '>': '>', in: 'in', '<': '<', '!=': '!=', notin: 'notin', '(': '(' };
  const special = (c: string) => '=!(),><'.includes(c);
  const white = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
  // the Lexer: every token up front, as Parser.scan does
  const items: { tok: Tok; lit: string }[] = [];
  for (let pos = 0; ; ) {
    while (pos < selector.length && white(selector[pos]!)) pos++;
    if (pos >= selector.length || selector[pos] === '\0') {
      items.push({ tok: 'eos', lit: '' });
      break;
    }
    if (special(selector[pos]!)) {
      let buf = '';
      let last: { tok: Tok; lit: string } | undefined;
      while (pos < selector.length && special(selector[pos]!)) {
        buf += selector[pos++];
        const t = KEYWORDS[buf];
        if (t) last = { tok: t, lit: buf };
        else if (last) {
          pos--;
          break;
        }
      }
      items.push(last ?? { tok: 'err', lit: `error expected: keyword found '${buf}'` });
    } else {
      let buf = '';
      while (pos < selector.length && selector[pos] !== '\0' && !special(selector[pos]!) && !white(selector[pos]!)) buf += selector[pos++];
      items.push({ tok: KEYWORDS[buf] ?? 'id', lit: buf });
    }
  }
  let at = 0;
  // in the Values context `in` and `notin` are identifiers
  const asValue = (t: Tok): Tok => (t === 'in' || t === 'notin' ? 'id' : t);
  const lookahead = () => ({ tok: asValue(items[at]!.tok), lit: items[at]!.lit });
  const consume = (values = true) => {
    const it = items[at++]!;
    return { tok: values ? asValue(it.tok) : it.tok, lit: it.lit };
  };
  const fail = (msg: string): never => {
    throw new Error(msg);
  };
  const invalid = (path: string, v: string, detail: string) => `${path}: Invalid value: ${JSON.stringify(v)}: ${detail}`;

  const requirement = (): LabelRequirement => {
    // parseKeyAndInferOperator
    let { tok, lit } = consume();
    let op: LabelRequirement['op'] | undefined;
    if (tok === '!') {
      op = '!';
      ({ tok, lit } = consume());
    }
    if (tok !== 'id') fail(`found '${lit}', expected: identifier`);
    const key = lit;
    const keyError = qualifiedNameError(key);
    if (keyError) fail(invalid('<nil>', key, keyError));
    const next = lookahead().tok;
    if (next === 'eos' || next === ',') op ??= 'exists';
    if (op === 'exists' || op === '!') return { key, op, values: [] };
    // parseOperator
    const o = consume(false);
    const ops: Partial<Record<Tok, LabelRequirement['op']>> = { in: 'in', '=': '=', '==': '=', '>': 'gt', '<': 'lt', notin: 'notin', '!=': '!=' };
    op = ops[o.tok] ?? fail(`found '${o.lit}', expected: in, notin, =, ==, !=, gt, lt`);
    const values = new Set<string>();
    if (op === 'in' || op === 'notin') {
      // parseValues, parseIdentifiersList
      const open = consume();
      if (open.tok !== '(') fail(`found '${open.lit}' expected: '('`);
      const first = lookahead();
      if (first.tok === ')') {
        consume();
        values.add('');
      } else if (first.tok === 'id' || first.tok === ',') {
        for (;;) {
          const t = consume();
          if (t.tok === 'id') {
            values.add(t.lit);
            const t2 = lookahead();
            if (t2.tok === ',') continue;
            if (t2.tok === ')') break;
            fail(`found '${t2.lit}', expected: ',' or ')'`);
          } else if (t.tok === ',') {
            if (values.size === 0) values.add('');
            const t2 = lookahead().tok;
            if (t2 === ')') {
              values.add('');
              break;
            }
            if (t2 === ',') values.add('');
          } else fail(`found '${t.lit}', expected: ',', or identifier`);
        }
        if (consume().tok !== ')') fail(`found '${first.lit}', expected: ')'`);
      } else fail(`found '${first.lit}', expected: ',', ')' or identifier`);
    } else {
      // parseExactValue
      const t = lookahead();
      if (t.tok === 'eos' || t.tok === ',') values.add('');
      else {
        const v = consume();
        if (v.tok !== 'id') fail(`found '${v.lit}', expected: identifier`);
        values.add(v.lit);
      }
    }
    // NewRequirement: the values sorted (sets.String.List), every error of them aggregated
    const vals = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const errs: string[] = [];
    if (op === 'gt' || op === 'lt') {
      vals.forEach((v, i) => {
        if (!/^[+-]?\d+$/.test(v) || BigInt(v) > 2n ** 63n - 1n || BigInt(v) < -(2n ** 63n)) errs.push(invalid(`values[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"));
      });
    }
    vals.forEach((v, i) => {
      const e = labelValueError(v);
      if (e) errs.push(invalid(`values[${i}][${key}]`, v, e));
    });
    const unique = [...new Set(errs)];
    if (unique.length) fail(unique.length === 1 ? unique[0]! : `[${unique.join(', ')}]`);
    return { key, op, values: vals };
  };

  const reqs: LabelRequirement[] = [];
  for (;;) {
    const { tok, lit } = lookahead();
    if (tok === 'eos') return reqs;
    if (tok !== 'id' && tok !== '!') fail(`found '${lit}', expected: !, identifier, or 'end of string'`);
    try {
      reqs.push(requirement());
    } catch (e) {
      throw new Error(`unable to parse requirement: ${(e as Error).message}`);
    }
    const t = consume();
    if (t.tok === 'eos') return reqs;
    if (t.tok !== ',') fail(`found '${t.lit}', expected: ',' or 'end of string'`);
    const t2 = lookahead();
    if (t2.tok !== 'id' && t2.tok !== '!') fail(`found '${t2.lit}', expected: identifier after ','`);
  }
}

export function labelsMatch(reqs: LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every(({ key, op, values }) => {
    const has = Object.hasOwn(l, key);
    const v = l[key];
    switch (op) {
      case 'exists':
        return has;
      case '!':
        return !has;
      case '=':
        return has && v === values[0];
      case '!=':
        return !has || v !== values[0];
      case 'in':
        return has && values.includes(v as string);
      case 'notin':
        return !has || !values.includes(v as string);
      case 'gt':
      case 'lt': {
        if (!has || !/^-?\d+$/.test(v as string)) return false;
        const a = Number(v);
        const b = Number(values[0]);
        return op === 'gt' ? a > b : a < b;
      }
    }
  });
}

/** A predicate for a label selector string; throws on bad syntax. */
export function labelSelectorMatcher(selector: string): (labels: Record<string, string> | undefined) => boolean {
  const reqs = parseLabelSelector(selector);
  return (labels) => labelsMatch(reqs, labels);
}

type FieldGetter = (o: KubeObjectJson) => string;

const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const COMMON_FIELDS: Record<string, FieldGetter> = {
  'metadata.name': (o) => o.metadata.name,
  'metadata.namespace': (o) => str(o.metadata.namespace),
};
const POD_FIELDS: Record<string, FieldGetter> = {
  ...COMMON_FIELDS,
  'spec.nodeName': (o) => str((o as PodJson).spec?.nodeName),
  'spec.restartPolicy': (o) => str((o as PodJson).spec?.restartPolicy),
  'spec.schedulerName': (o) => str((o as PodJson).spec?.schedulerName),
  'spec.serviceAccountName': (o) => str((o as PodJson).spec?.serviceAccountName),
  'spec.hostNetwork': (o) => String((o as PodJson).spec?.hostNetwork === true),
  'status.phase': (o) => str((o as PodJson).status?.phase),
  'status.podIP': (o) => str((o as PodJson).status?.podIP),
  'status.nominatedNodeName': (o) => str((o as PodJson).status?.nominatedNodeName),
};

function fieldSelectorMatcher(selector: string, fields: Record<string, FieldGetter>): (o: KubeObjectJson) => boolean {
  const terms = selector
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '')
    .map((t) => {
      const m = /^([^=!]+?)\s*(==|!=|=)\s*(.*)$/.exec(t);
      if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${t}'`);
      const [, field = '', op, value = ''] = m;
      const get = fields[field];
      if (!get) throw badRequest(`field label not supported: ${field}`);
      return { get, neg: op === '!=', value };
    });
  return (o) => terms.every(({ get, neg, value }) => (get(o) === value) !== neg);
}

// ---------------------------------------------------------------------------------------------------------------
// Patches
// ---------------------------------------------------------------------------------------------------------------

/** RFC 7386 JSON merge patch: objects merge recursively, null deletes a key, anything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = applyMergePatch(result[k], v);
  }
  return result;
}

class JsonPatchError extends Error {}

function parsePointer(p: unknown): string[] {
  if (typeof p !== 'string') throw new JsonPatchError(`missing or invalid path: ${JSON.stringify(p)}`);
  if (p === '') return [];
  if (!p.startsWith('/')) throw new JsonPatchError(`JSON pointer must be empty or start with a "/": ${p}`);
  return p
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function getAt(doc: unknown, path: string[]): { found: boolean; value: unknown } {
  let cur = doc;
  for (const t of path) {
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9]\d*)$/.test(t) || Number(t) >= cur.length) return { found: false, value: undefined };
      cur = cur[Number(t)];
    } else if (isObject(cur)) {
      if (!Object.hasOwn(cur, t)) return { found: false, value: undefined };
      cur = cur[t];
    } else {
      return { found: false, value: undefined };
    }
  }
  return { found: true, value: cur };
}

/** RFC 6902 JSON patch (add, remove, replace, move, copy, test); returns a new document. */
export function applyJsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let root = clone(doc);
  const q = (path: string[]) => JSON.stringify(path.length ? `/${path.map((t) => t.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}` : '');

  const container = (op: string, path: string[]) => {
    const parent = getAt(root, path.slice(0, -1));
    if (!parent.found || (!isObject(parent.value) && !Array.isArray(parent.value))) {
      throw new JsonPatchError(`${op} operation does not apply: doc is missing path: ${q(path)}: missing value`);
    }
    return parent.value as Record<string, unknown> | unknown[];
  };
  const add = (path: string[], value: unknown, op = 'add') => {
    if (path.length === 0) {
      root = clone(value);
      return;
    }
    const parent = container(op, path);
    const last = path[path.length - 1] as string;
    if (Array.isArray(parent)) {
      const idx = last === '-' ? parent.length : /^(0|[1-9]\d*)$/.test(last) ? Number(last) : NaN;
      if (!(idx >= 0 && idx <= parent.length)) throw new JsonPatchError(`${op} operation does not apply: index out of bounds: ${q(path)}`);
      parent.splice(idx, 0, clone(value));
    } else {
      parent[last] = clone(value);
    }
  };
  const remove = (path: string[], op = 'remove') => {
    if (path.length === 0) throw new JsonPatchError(`${op} operation does not apply: cannot remove the whole document`);
    const parent = container(op, path);
    const last = path[path.length - 1] as string;
    if (Array.isArray(parent)) {
      const idx = /^(0|[1-9]\d*)$/.test(last) ? Number(last) : NaN;
      if (!(idx >= 0 && idx < parent.length)) throw new JsonPatchError(`${op} operation does not apply: doc is missing path: ${q(path)}: missing value`);
      return parent.splice(idx, 1)[0];
    }
    if (!Object.hasOwn(parent, last)) throw new JsonPatchError(`${op} operation does not apply: doc is missing key: ${q(path)}: missing value`);
    const v = parent[last];
    delete parent[last];
    return v;
  };

  for (const raw of ops) {
    if (!isObject(raw)) throw badRequest('json: cannot unmarshal into Go value of type jsonpatch.Operation');
    const op = raw.op;
    const path = parsePointer(raw.path);
    switch (op) {
      case 'add':
        if (!Object.hasOwn(raw, 'value')) throw new JsonPatchError('add operation does not apply: missing value');
        add(path, raw.value);
        break;
      case 'remove':
        remove(path);
        break;
      case 'replace': {
        if (!Object.hasOwn(raw, 'value')) throw new JsonPatchError('replace operation does not apply: missing value');
        if (path.length === 0) {
          root = clone(raw.value);
          break;
        }
        if (!getAt(root, path).found) throw new JsonPatchError(`replace operation does not apply: doc is missing key: ${q(path)}: missing value`);
        const parent = container('replace', path);
        const last = path[path.length - 1] as string;
        if (Array.isArray(parent)) parent[Number(last)] = clone(raw.value);
        else parent[last] = clone(raw.value);
        break;
      }
      case 'move': {
        const from = parsePointer(raw.from);
        if (!getAt(root, from).found) throw new JsonPatchError(`move operation does not apply: doc is missing from path: ${q(from)}: missing value`);
        add(path, remove(from, 'move'), 'move');
        break;
      }
      case 'copy': {
        const from = parsePointer(raw.from);
        const src = getAt(root, from);
        if (!src.found) throw new JsonPatchError(`copy operation does not apply: doc is missing from path: ${q(from)}: missing value`);
        add(path, src.value, 'copy');
        break;
      }
      case 'test': {
        const cur = getAt(root, path);
        const want = raw.value;
        const ok = cur.found ? deepEqual(cur.value, want) : want === null || want === undefined;
        if (!ok) throw new JsonPatchError(`testing value ${JSON.parse(q(path)) as string} failed: test failed`);
        break;
      }
      default:
        throw new JsonPatchError(`Unexpected kind: ${String(op)}`);
    }
  }
  return root;
}

// ---------------------------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------------------------

interface Resource {
  group: string; // '' for core
  version: string;
  plural: string;
  singular: string;
  kind: string;
  shortNames: string[];
  builtin: boolean;
  fields: Record<string, FieldGetter>;
  store: Map<string, KubeObjectJson>;
}

/** A core/v1 Event (the fields kubectl describe shows, and those cni-attach sets). */
export interface EventJson extends KubeObjectJson {
  involvedObject: { apiVersion?: string; kind: string; namespace?: string; name: string; uid?: string; resourceVersion?: string; fieldPath?: string };
  reason: string;
  message?: string;
  type?: string;
  source?: { component?: string; host?: string };
  firstTimestamp?: string;
  lastTimestamp?: string;
  count?: number;
  reportingComponent?: string;
  reportingInstance?: string;
}

/** events (core/v1), with the field selectors kubectl describe uses (involvedObject.*). */
function eventsResource(): Resource {
  const io = (o: KubeObjectJson) => (o as EventJson).involvedObject ?? ({} as EventJson['involvedObject']);
  return {
    group: '',
    version: 'v1',
    plural: 'events',
    singular: 'event',
    kind: 'Event',
    shortNames: ['ev'],
    builtin: true,
    fields: {
      ...COMMON_FIELDS,
      'involvedObject.kind': (o) => str(io(o).kind),
      'involvedObject.namespace': (o) => str(io(o).namespace),
      'involvedObject.name': (o) => str(io(o).name),
      'involvedObject.uid': (o) => str(io(o).uid),
      'involvedObject.apiVersion': (o) => str(io(o).apiVersion),
      'involvedObject.resourceVersion': (o) => str(io(o).resourceVersion),
      'involvedObject.fieldPath': (o) => str(io(o).fieldPath),
      reason: (o) => str((o as EventJson).reason),
      reportingComponent: (o) => str((o as EventJson).reportingComponent),
      'source': (o) => str((o as EventJson).source?.component),
      type: (o) => str((o as EventJson).type),
    },
    store: new Map(),
  };
}

const NAD_GROUP = 'k8s.cni.cncf.io';
const key = (ns: string, name: string) => `${ns}/${name}`;
const groupResource = (r: Resource) => (r.group ? `${r.plural}.${r.group}` : r.plural);
const qualifiedKind = (r: Resource) => (r.group ? `${r.kind}.${r.group}` : r.kind);
const detailsOf = (r: Resource, name: string) => (r.group ? { name, group: r.group, kind: r.plural } : { name, kind: r.plural });

interface FieldCause {
  field: string;
  /** e.g. 'Required value', 'Invalid value: "x": …' */
  what: string;
}

/** A 422 Invalid Status the way the API server words it (one cause: "… is invalid: f: what"; more: "[f1: w1, f2: w2]"). */
function invalidError(r: Resource, name: string, causes: FieldCause[]): ApiError {
  const reason = (what: string) =>
    what.startsWith('Too long')
      ? 'FieldValueTooLong'
      : what.startsWith('Required value')
        ? 'FieldValueRequired'
        : what.startsWith('Duplicate value')
          ? 'FieldValueDuplicate'
          : what.startsWith('Forbidden')
            ? 'FieldValueForbidden'
            : 'FieldValueInvalid';
  const parts = causes.map((c) => `${c.field}: ${c.what}`);
  return new ApiError(
    statusObject(422, `${qualifiedKind(r)} "${name}" is invalid: ${parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`}`, 'Invalid', {
      name,
      ...(r.group ? { group: r.group } : {}),
      kind: r.kind,
      causes: causes.map((c) => ({ reason: reason(c.what), message: c.what, field: c.field })),
    }),
  );
}

/** Validate metadata.labels/annotations (types → 400; keys, values, total annotation size → 422); drops empty maps. */
function checkLabelsAndAnnotations(r: Resource, name: string, meta: ObjectMetaJson): void {
  const invalid = (field: string, what: string) => invalidError(r, name, [{ field, what }]);
  for (const field of ['labels', 'annotations'] as const) {
    const map = meta[field];
    if (map === undefined) continue;
    if (!isObject(map)) throw badRequest(`json: cannot unmarshal ${Array.isArray(map) ? 'array' : typeof map} into Go struct field ObjectMeta.metadata.${field} of type map[string]string`);
    let size = 0;
    for (const [k2, v] of Object.entries(map)) {
      if (typeof v !== 'string') throw badRequest(`json: cannot unmarshal ${typeof v} into Go struct field ObjectMeta.metadata.${field} of type string`);
      const e = qualifiedNameError(k2);
      if (e) throw invalid(`metadata.${field}`, `Invalid value: ${JSON.stringify(k2)}: ${e}`);
      if (field === 'labels') {
        const ve = labelValueError(v);
        if (ve) throw invalid(`metadata.labels`, `Invalid value: ${JSON.stringify(v)}: ${ve}`);
      }
      size += Buffer.byteLength(k2) + Buffer.byteLength(v);
    }
    if (field === 'annotations' && size > 262144) throw invalid('metadata.annotations', 'Too long: must have at most 262144 bytes');
    if (Object.keys(map).length === 0) delete meta[field];
  }
}

const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;

/** A ConfigMap's data as the API server validates it: keys of [-._a-zA-Z0-9] (at most 253), string values, 1 MiB in all. */
function checkConfigMapData(r: Resource, name: string, o: KubeObjectJson): void {
  const data = o.data;
  if (data === undefined || data === null) {
    delete o.data;
    return;
  }
  if (!isObject(data)) throw badRequest('json: cannot unmarshal into Go struct field ConfigMap.data of type map[string]string');
  let size = 0;
  for (const [k, v] of Object.entries(data)) {
    if (typeof v !== 'string') throw badRequest(`json: cannot unmarshal ${typeof v} into Go struct field ConfigMap.data of type string`);
    if (k.length > 253 || !CONFIGMAP_KEY.test(k) || k === '.' || k === '..') {
      throw invalidError(r, name, [{ field: `data[${k}]`, what: `Invalid value: ${JSON.stringify(k)}: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')` }]);
    }
    size += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (size > 1048576) throw invalidError(r, name, [{ field: 'data', what: 'Too long: must have at most 1048576 bytes' }]);
  if (Object.keys(data).length === 0) delete o.data;
}

/** ObjectMeta keys in the order the API server writes them. */
const META_ORDER = [
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp',
  'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
];
function orderedMeta(meta: ObjectMetaJson): ObjectMetaJson {
  const out: Record<string, unknown> = {};
  for (const k of META_ORDER) if (meta[k] !== undefined) out[k] = meta[k];
  for (const [k, v] of Object.entries(meta)) if (!(k in out) && v !== undefined) out[k] = v;
  return out as ObjectMetaJson;
}

/** Pod spec fields a pod update may change (the rest is immutable). */
function podSpecMutableStripped(spec: unknown): unknown {
  if (!isObject(spec)) return spec;
  const s = clone(spec);
  delete s.activeDeadlineSeconds;
  delete s.tolerations;
  delete s.terminationGracePeriodSeconds;
  for (const k of ['containers', 'initContainers', 'ephemeralContainers']) {
    const list = s[k];
    if (Array.isArray(list)) for (const c of list) if (isObject(c)) delete c.image;
  }
  return s;
}

interface Interceptor {
  method?: string;
  pathIncludes?: string;
  remaining: number;
  action: { kind: 'fault'; response: FaultResponse } | { kind: 'hook'; fn: (req: RecordedRequest) => void | Promise<void> };
}

const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'];

// ---------------------------------------------------------------------------------------------------------------
// Pod lifecycle helpers
// ---------------------------------------------------------------------------------------------------------------

/** The alphabet of k8s.io/apimachinery/pkg/util/rand.String (no vowels, no 0/1/3: no words, no look-alikes). */
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** generateName + 5 random characters, the base cut to 58 characters as the API server does. */
export function generatedName(base: string): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += NAME_ALPHABET[randomInt(NAME_ALPHABET.length)];
  return `${base.slice(0, 58)}${suffix}`;
}

/** "busybox" → "docker.io/library/busybox:latest", as container statuses report images. */
function normalizeImage(image: string): string {
  let ref = image;
  const first = ref.split('/')[0] ?? '';
  if (!ref.includes('/')) ref = `docker.io/library/${ref}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') ref = `docker.io/${ref}`;
  const last = ref.slice(ref.lastIndexOf('/') + 1);
  if (!last.includes(':') && !last.includes('@')) ref = `${ref}:latest`;
  return ref;
}

function imageTagIsLatest(image: string): boolean {
  if (image.includes('@')) return false;
  const last = image.slice(image.lastIndexOf('/') + 1);
  return !last.includes(':') || last.endsWith(':latest');
}

function qosClassOf(containers: unknown[]): string {
  const rs = containers.map((c) => (isObject(c) && isObject(c.resources) ? c.resources : {}));
  const has = (m: unknown) => isObject(m) && Object.keys(m).length > 0;
  if (!rs.some((r) => has(r.requests) || has(r.limits))) return 'BestEffort';
  const guaranteed = rs.every((r) => {
    const l = isObject(r.limits) ? r.limits : {};
    const q = isObject(r.requests) ? r.requests : {};
    return ['cpu', 'memory'].every((k) => l[k] !== undefined && (q[k] === undefined || q[k] === l[k]));
  });
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** The defaults the API server fills in on create (a subset: what clients commonly look at). */
function defaultPodSpec(spec: Record<string, unknown>): void {
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.enableServiceLinks ??= true;
  spec.preemptionPolicy ??= 'PreemptLowerPriority';
  spec.priority ??= 0;
  spec.restartPolicy ??= 'Always';
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  spec.serviceAccount ??= (spec.serviceAccountName as string | undefined) ?? 'default';
  spec.serviceAccountName ??= spec.serviceAccount;
  spec.terminationGracePeriodSeconds ??= 30;
  spec.tolerations ??= [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  ];
  for (const list of [spec.initContainers, spec.containers]) {
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      if (!isObject(c)) continue;
      c.imagePullPolicy ??= typeof c.image === 'string' && imageTagIsLatest(c.image) ? 'Always' : 'IfNotPresent';
      c.resources ??= {};
      c.terminationMessagePath ??= '/dev/termination-log';
      c.terminationMessagePolicy ??= 'File';
    }
  }
}

const quoted = (xs: string[]) => xs.map((x) => JSON.stringify(x)).join(', ');
const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

/**
 * What Pod Security Admission says of a pod spec at a level, in its words and order (the checks of
 * k8s.io/pod-security-admission/policy, baseline ones then restricted ones, each sorted by id). Covered: baseline's
 * capabilities, host namespaces, hostPath volumes, host ports and privileged; restricted's allowPrivilegeEscalation,
 * capabilities, volume types, runAsNonRoot and seccompProfile. Not covered: AppArmor, SELinux, procMount, sysctls,
 * Windows hostProcess, runAsUser=0.
 */
export function podSecurityViolations(level: PodSecurityLevel, spec: Record<string, unknown>): string[] {
  if (level === 'privileged') return [];
  const obj = (v: unknown): Record<string, unknown> => (isObject(v) ? v : {});
  const containers = (['initContainers', 'containers', 'ephemeralContainers'] as const).flatMap((f) =>
    (Array.isArray(spec[f]) ? (spec[f] as unknown[]) : []).map((c) => obj(c)),
  );
  const names = (cs: Record<string, unknown>[]) => cs.map((c) => String(c.name ?? ''));
  const sc = (c: Record<string, unknown>) => obj(c.securityContext);
  const podSc = obj(spec.securityContext);
  const out: string[] = [];
  const BASELINE_CAPS = new Set(['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT']);
  const added = (c: Record<string, unknown>) => (Array.isArray(obj(sc(c).capabilities).add) ? (obj(sc(c).capabilities).add as unknown[]).map(String) : []);
  // capabilities_baseline
  const capBad = containers.filter((c) => added(c).some((a) => !BASELINE_CAPS.has(a.replace(/^CAP_/, ''))));
  if (capBad.length > 0) {
    const caps = [...new Set(capBad.flatMap((c) => added(c).filter((a) => !BASELINE_CAPS.has(a.replace(/^CAP_/, '')))))];
    out.push(`non-default capabilities (${plural(capBad.length, 'container', 'containers')} ${quoted(names(capBad))} must not include ${quoted(caps)} in securityContext.capabilities.add)`);
  }
  // hostNamespaces
  const hostNs = (['hostNetwork', 'hostPID', 'hostIPC'] as const).filter((f) => spec[f] === true).map((f) => `${f}=true`);
  if (hostNs.length > 0) out.push(`host namespaces (${hostNs.join(', ')})`);
  // hostPathVolumes
  const volumes = (Array.isArray(spec.volumes) ? (spec.volumes as unknown[]) : []).map((v) => obj(v));
  const hostPaths = volumes.filter((v) => v.hostPath !== undefined).map((v) => String(v.name ?? ''));
  if (hostPaths.length > 0) out.push(`hostPath volumes (${plural(hostPaths.length, 'volume', 'volumes')} ${quoted(hostPaths)})`);
  // hostPorts
  const ports = containers.flatMap((c) => (Array.isArray(c.ports) ? (c.ports as unknown[]).map((p) => Number(obj(p).hostPort ?? 0)) : [])).filter((n) => n > 0);
  if (ports.length > 0) {
    const withPorts = containers.filter((c) => Array.isArray(c.ports) && (c.ports as unknown[]).some((p) => Number(obj(p).hostPort ?? 0) > 0));
    out.push(`hostPort (${plural(withPorts.length, 'container', 'containers')} ${quoted(names(withPorts))} ${plural(ports.length, 'uses', 'use')} ${plural(ports.length, 'hostPort', 'hostPorts')} ${ports.join(', ')})`);
  }
  // privileged
  const priv = containers.filter((c) => sc(c).privileged === true);
  if (priv.length > 0) out.push(`privileged (${plural(priv.length, 'container', 'containers')} ${quoted(names(priv))} must not set securityContext.privileged=true)`);
  if (level !== 'restricted') return out;
  // allowPrivilegeEscalation
  const esc = containers.filter((c) => sc(c).allowPrivilegeEscalation !== false);
  if (esc.length > 0) out.push(`allowPrivilegeEscalation != false (${plural(esc.length, 'container', 'containers')} ${quoted(names(esc))} must set securityContext.allowPrivilegeEscalation=false)`);
  // capabilities_restricted
  const dropsAll = (c: Record<string, unknown>) => Array.isArray(obj(sc(c).capabilities).drop) && (obj(sc(c).capabilities).drop as unknown[]).includes('ALL');
  const noDrop = containers.filter((c) => !dropsAll(c));
  if (noDrop.length > 0) out.push(`unrestricted capabilities (${plural(noDrop.length, 'container', 'containers')} ${quoted(names(noDrop))} must set securityContext.capabilities.drop=["ALL"])`);
  // restrictedVolumes
  const allowedVolumes = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
  const badVolumes = volumes.filter((v) => !Object.keys(v).some((k) => allowedVolumes.includes(k)));
  if (badVolumes.length > 0) {
    const kinds = [...new Set(badVolumes.flatMap((v) => Object.keys(v).filter((k) => k !== 'name')))];
    out.push(`restricted volume types (${plural(badVolumes.length, 'volume', 'volumes')} ${quoted(badVolumes.map((v) => String(v.name ?? '')))} ${plural(badVolumes.length, 'uses', 'use')} restricted volume ${plural(kinds.length, 'type', 'types')} ${quoted(kinds)})`);
  }
  // runAsNonRoot
  const nonRoot = containers.filter((c) => (sc(c).runAsNonRoot ?? podSc.runAsNonRoot) !== true);
  if (nonRoot.length > 0) out.push(`runAsNonRoot != true (pod or ${plural(nonRoot.length, 'container', 'containers')} ${quoted(names(nonRoot))} must set securityContext.runAsNonRoot=true)`);
  // seccompProfile_restricted
  const seccomp = (c: Record<string, unknown>) => String(obj(sc(c).seccompProfile ?? podSc.seccompProfile).type ?? '');
  const noSeccomp = containers.filter((c) => !['RuntimeDefault', 'Localhost'].includes(seccomp(c)));
  if (noSeccomp.length > 0) out.push(`seccompProfile (pod or ${plural(noSeccomp.length, 'container', 'containers')} ${quoted(names(noSeccomp))} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`);
  return out;
}

export interface FailPodOptions {
  /** The containers' exit code (default 1). */
  exitCode?: number;
  /** The containers' termination reason (default "Error"). */
  reason?: string;
  /** The containers' termination message. */
  message?: string;
}

/** The status of a scheduled pod that is now Running or Failed (what the kubelet reports). */
function startedPodStatus(pod: PodJson, phase: 'Running' | 'Failed', hostIP: string, o: FailPodOptions = {}): PodJson['status'] {
  const now = rfc3339();
  const prev = isObject(pod.status) ? pod.status : {};
  const running = phase === 'Running';
  const ns = pod.metadata.namespace ?? 'default';
  const h = hex(`${ns}/${pod.metadata.name}`);
  const podIP = pod.spec.hostNetwork ? hostIP : `10.244.${parseInt(h.slice(0, 2), 16) % 250}.${(parseInt(h.slice(2, 4), 16) % 250) + 2}`;
  const startTime = typeof prev.startTime === 'string' ? prev.startTime : now;
  const cond = (type: string, ok: boolean, reason?: string) => ({
    type,
    status: ok ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: now,
    ...(!ok && reason ? { reason } : {}),
  });
  const conditions = [
    cond('PodReadyToStartContainers', running),
    cond('Initialized', true),
    cond('Ready', running, 'PodFailed'),
    cond('ContainersReady', running, 'PodFailed'),
    cond('PodScheduled', true),
  ];
  const containers = Array.isArray(pod.spec.containers) ? pod.spec.containers : [];
  return {
    phase,
    conditions,
    hostIP,
    hostIPs: [{ ip: hostIP }],
    podIP,
    podIPs: [{ ip: podIP }],
    startTime,
    containerStatuses: containers.map((c) => {
      const image = normalizeImage(String(c.image));
      const containerID = `containerd://${hex(`${pod.metadata.uid ?? ''}/${c.name}`)}`;
      return {
        containerID,
        image,
        imageID: `${image.replace(/[:@][^/]*$/, '')}@sha256:${hex(image)}`,
        lastState: {},
        name: c.name,
        ready: running,
        restartCount: 0,
        started: running,
        state: running
          ? { running: { startedAt: now } }
          : {
              terminated: {
                containerID,
                exitCode: o.exitCode ?? 1,
                finishedAt: now,
                ...(o.message !== undefined ? { message: o.message } : {}),
                reason: o.reason ?? 'Error',
                startedAt: now,
              },
            },
      };
    }),
    qosClass: typeof prev.qosClass === 'string' ? prev.qosClass : qosClassOf(containers),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Exec helpers
// ---------------------------------------------------------------------------------------------------------------

/** Children of hostExecHandler: each leads its own process group, which is killed as a whole. */
const processGroupLeaders = new WeakSet<object>();

/**
 * The default exec handler: run the command on this host, as if the pod were on this node
 * (`spawn(command[0], command.slice(1))`, in a process group of its own so that a kill also reaches its children).
 */
export function hostExecHandler(req: ExecRequest): ChildProcess {
  const [file = '', ...args] = req.command;
  const child = spawn(file, args, { stdio: 'pipe', detached: true });
  processGroupLeaders.add(child);
  return child;
}

/** The exit code a runtime reports for a process killed by a signal: 128 + the signal number. */
function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? (osConstants.signals as Record<string, number | undefined>)[signal] : undefined;
  return 128 + (n ?? 9);
}

/** Go's %v of a []string: [a b c]. */
const goStrings = (xs: string[]) => `[${xs.join(' ')}]`;

export function execExitStatus(command: string[], exitCode: number): ExecStatusJson {
  if (exitCode === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command ${goStrings(command)}, exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/** The Status for a command that could not be started (what containerd/runc report, roughly). */
function execStartFailureStatus(command: string[], err: Error): ExecStatusJson {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? `exec: ${JSON.stringify(command[0] ?? '')}: executable file not found in $PATH`
      : code === 'EACCES'
        ? `exec: ${JSON.stringify(command[0] ?? '')}: permission denied`
        : err.message;
  const cause = `error executing command in container: failed to exec in container: failed to start exec: OCI runtime exec failed: exec failed: unable to start container process: ${why}: unknown`;
  return { metadata: {}, status: 'Failure', message: `Internal error occurred: ${cause}`, reason: 'InternalError', details: { causes: [{ message: cause }] }, code: 500 };
}

const EXEC_PROTOCOLS: ExecProtocol[] = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

/** The server's choice among the client's Sec-WebSocket-Protocol list: its own most preferred one that was offered. */
function pickExecProtocol(offered: Iterable<string>, served: readonly ExecProtocol[]): ExecProtocol | undefined {
  const set = new Set([...offered].map((p) => p.trim()));
  return served.find((p) => set.has(p));
}

const toBuffer = (d: RawData | string): Buffer =>
  typeof d === 'string' ? Buffer.from(d) : Buffer.isBuffer(d) ? d : Array.isArray(d) ? Buffer.concat(d) : Buffer.from(d);

/** One change of the store, as a watch sends it (the object as stored after the change; for DELETED, as last stored). */
interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  r: Resource;
  object: KubeObjectJson;
  /** The object before a MODIFIED (to tell when it starts or stops matching a watch's selectors). */
  before?: KubeObjectJson;
}

interface Watcher {
  r: Resource;
  namespace: string | undefined;
  match: (o: KubeObjectJson) => boolean;
  res: http.ServerResponse;
}

/**
 * How large a request's head (request line and headers) may be: a real API server's, 1 MiB (k8s.io/apiserver
 * pkg/server/secure_serving.go: `MaxHeaderBytes: 1 << 20`), not Node's default 16 KiB. A pods/exec without a node
 * session carries its command in the URL (`command=` per argument): the steps of a look-up are a few KiB of sh, some
 * 20 KiB percent-encoded, which a real API server takes and Node's default refused (431).
 */
const MAX_HEADER_BYTES = 1 << 20;

/** How many changes the stand-in keeps for watches from a resourceVersion (the real one keeps a few minutes' worth). */
const WATCH_HISTORY = 10_000;

interface ExecSession {
  req: ExecRequest;
  record: RecordedExec;
  ws: WebSocket;
  proc?: ExecProcess;
  /** Set once the command has exited (or failed to start). */
  exited: boolean;
  /** Resolves once the command has exited, failed to start, or never got started. */
  ended: Promise<void>;
  markEnded: () => void;
  wsClosed: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------------------------

export class StandInApiServer {
  /** e.g. https://127.0.0.1:43121 */
  readonly url: string;
  /** A kubeconfig (context "stand-in", namespace "default", the right token and CA) written at start. */
  readonly kubeconfigPath: string;
  /** The bearer token the server accepts. */
  readonly token: string;
  /** The CA certificate (PEM) that signed the server certificate; undefined without TLS. */
  readonly caPem: string | undefined;
  /** The CA file path (PEM); undefined without TLS. */
  readonly caPath: string | undefined;
  /**
   * A client certificate (PEM file, CN "stand-in-client", extendedKeyUsage clientAuth) and its key that the stand-in's
   * CA signed: a request over a TLS connection that presents it is authorized (RecordedRequest.clientCertificate).
   * Undefined without TLS.
   */
  readonly clientCertPath: string | undefined;
  readonly clientKeyPath: string | undefined;
  /** The temp dir (certificates, kubeconfigs); removed by stop(). */
  readonly dir: string;
  /** Every request received, in order (also unauthorized and failed ones, and exec upgrade requests). */
  readonly requests: RecordedRequest[] = [];
  /** Every exec that got its WebSocket, in order; each record is updated when its command ends. */
  readonly execs: RecordedExec[] = [];
  /** Every pod deletion over HTTP (DELETE), in order, also dry runs (dryRun: true). */
  readonly podDeletions: PodDeletion[] = [];

  /** How long after its creation a created pod is scheduled and started (ms). */
  podStartDelayMs: number;
  /** What happens to created pods once podStartDelayMs has passed; a function decides per pod. */
  podStartBehaviour: PodStartBehaviour | ((pod: PodJson) => PodStartBehaviour);
  /** Called with each pod created over HTTP, before the response (awaited; the start timer begins after it). */
  onPodCreated: ((pod: PodJson) => void | Promise<void>) | undefined;
  /** The node created pods are scheduled to when they name none. */
  nodeName: string;
  /** The node's IP, status.hostIP of started pods. */
  hostIP: string;
  /** See StandInApiOptions.podTerminationDelayMs (0: deletions are immediate). */
  podTerminationDelayMs: number;
  /** What runs exec'd commands; replace it to run them elsewhere, e.g. (req) => spawn('docker', ['exec', '-i', node, ...req.command]). */
  execHandler: ExecHandler;
  /** The pods/exec subprotocols offered, in order of preference (see StandInApiOptions.execProtocols). */
  execProtocols: ExecProtocol[];
  /** The delay added to every request and exec (see StandInApiOptions.latencyMs). */
  latencyMs: number;
  /** See StandInApiOptions.anonymous. */
  anonymous: boolean;
  /** The enforced Pod Security level per namespace (see StandInApiOptions.podSecurity); change it at will. */
  podSecurity: Record<string, PodSecurityLevel>;
  /** Every change of the store, in order, for watches that start at a resourceVersion (the oldest are dropped). */
  private readonly changes: WatchEvent[] = [];
  /** The resourceVersion before the oldest change still kept (a watch from before it gets 410 Gone). */
  private changesFrom = 0;
  private readonly watchers = new Set<Watcher>();

  private readonly server: http.Server;
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<ExecSession>();
  private readonly sockets = new Set<Socket>();
  /** TCP connections accepted so far (a client that keeps its connection alive makes one for many requests). */
  connectionsAccepted = 0;
  /** TLS handshakes done so far, and how many of them resumed an earlier session (no certificate sent or checked). */
  readonly tlsHandshakes = { full: 0, resumed: 0 };
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly interceptors: Interceptor[] = [];
  private readonly pods: Resource;
  private readonly nads: Resource;
  private readonly events: Resource = eventsResource();
  private readonly configMaps: Resource;
  private readonly resources: Resource[];
  private rv = 1000;
  private kubeconfigCount = 0;
  private stopped = false;

  private constructor(args: { server: http.Server; url: string; dir: string; token: string; caPem?: string; caPath?: string; client?: { certPath: string; keyPath: string }; opts: StandInApiOptions }) {
    this.server = args.server;
    const o = args.opts;
    this.podStartDelayMs = o.podStartDelayMs ?? 50;
    this.podStartBehaviour = o.podStartBehaviour ?? 'run';
    this.onPodCreated = o.onPodCreated;
    this.nodeName = o.nodeName ?? 'node-1';
    this.hostIP = o.hostIP ?? '172.18.0.2';
    this.podTerminationDelayMs = o.podTerminationDelayMs ?? 0;
    this.execHandler = o.execHandler ?? hostExecHandler;
    this.execProtocols = [...(o.execProtocols ?? EXEC_PROTOCOLS)];
    this.latencyMs = o.latencyMs ?? 0;
    this.anonymous = o.anonymous ?? false;
    this.podSecurity = { ...o.podSecurity };
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      clientTracking: false,
      maxPayload: 64 * 1024 * 1024,
      handleProtocols: (offered) => pickExecProtocol(offered, this.execProtocols) ?? false,
    });
    this.url = args.url;
    this.dir = args.dir;
    this.token = args.token;
    this.caPem = args.caPem;
    this.caPath = args.caPath;
    this.clientCertPath = args.client?.certPath;
    this.clientKeyPath = args.client?.keyPath;
    this.kubeconfigPath = join(args.dir, 'kubeconfig');
    this.pods = {
      group: '',
      version: 'v1',
      plural: 'pods',
      singular: 'pod',
      kind: 'Pod',
      shortNames: ['po'],
      builtin: true,
      fields: POD_FIELDS,
      store: new Map(),
    };
    this.nads = {
      group: NAD_GROUP,
      version: 'v1',
      plural: 'network-attachment-definitions',
      singular: 'network-attachment-definition',
      kind: 'NetworkAttachmentDefinition',
      shortNames: ['net-attach-def'],
      builtin: false,
      fields: COMMON_FIELDS,
      store: new Map(),
    };
    this.configMaps = {
      group: '',
      version: 'v1',
      plural: 'configmaps',
      singular: 'configmap',
      kind: 'ConfigMap',
      shortNames: ['cm'],
      builtin: true,
      fields: COMMON_FIELDS,
      store: new Map(),
    };
    this.resources = [this.pods, this.nads, this.events, this.configMaps];
    this.server.on('connection', (s: Socket) => {
      this.connectionsAccepted++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('secureConnection', (s: TLSSocket) => {
      if (s.isSessionReused()) this.tlsHandshakes.resumed++;
      else this.tlsHandshakes.full++;
    });
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => {
        /* the client went away; 'close' follows */
      });
      this.handleUpgrade(req, socket, head).catch((e: unknown) => {
        this.rejectUpgrade(socket, 500, statusObject(500, `Internal error occurred: ${(e as Error)?.stack ?? String(e)}`, 'InternalError'));
      });
    });
    this.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          this.send(res, 500, statusObject(500, `Internal error occurred: ${(e as Error)?.stack ?? String(e)}`, 'InternalError'));
        }
      });
    });
  }

  static async start(opts: StandInApiOptions = {}): Promise<StandInApiServer> {
    const tls = opts.tls ?? true;
    const dir = await mkdtemp(join(tmpdir(), 'cni-attach-stand-in-api-'));
    try {
      let server: http.Server;
      let caPem: string | undefined;
      let caPath: string | undefined;
      let client: { certPath: string; keyPath: string } | undefined;
      if (tls) {
        const certs = await makeCertificates(dir);
        caPem = certs.caPem;
        caPath = certs.caPath;
        client = { certPath: certs.clientCertPath, keyPath: certs.clientKeyPath };
        // client certificates are asked for, and verified against the CA by the request's record (clientCertificateOf:
        // an API server's --client-ca-file); a connection without one, or with one the CA did not sign, is still taken:
        // it then needs the token (401 else). No `ca` here: Node would send the CA in the server's chain, which a real
        // API server does not (the clients' "unknown authority" errors would change)
        server = https.createServer({ key: certs.keyPem, cert: certs.certPem, requestCert: true, rejectUnauthorized: false, maxHeaderSize: MAX_HEADER_BYTES });
      } else {
        server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES });
      }
      server.keepAliveTimeout = 5_000;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      const addr = server.address();
      if (addr === null || typeof addr === 'string') throw new Error('stand-in API server: no TCP address');
      const url = `${tls ? 'https' : 'http'}://127.0.0.1:${addr.port}`;
      const api = new StandInApiServer({ server, url, dir, token: randomBytes(24).toString('hex'), caPem, caPath, ...(client ? { client } : {}), opts });
      await api.writeKubeconfig({ fileName: 'kubeconfig' });
      return api;
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /**
   * Kill every exec'd command and close its WebSocket, close the server and every connection (also hanging
   * requests), and remove the temp dir. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    const sessions = [...this.sessions];
    for (const s of sessions) {
      this.killSession(s);
      s.ws.terminate();
    }
    if (sessions.length > 0) {
      // Wait (briefly) for the commands to be reaped, so that none outlives the server.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(sessions.map((s) => s.ended)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, 3_000);
        }),
      ]);
      clearTimeout(timer);
    }
    this.wss.close();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
    await rm(this.dir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------------ kubeconfig

  /** The kubeconfig as an object (the shape kubectl and client-node read). */
  kubeconfig(o: KubeconfigOptions = {}): Record<string, unknown> {
    const tls = this.caPem !== undefined;
    const contextName = o.contextName ?? 'stand-in';
    const cluster: Record<string, unknown> = { server: this.url };
    if (tls && (o.withCa ?? true)) cluster['certificate-authority-data'] = Buffer.from(this.caPem ?? '').toString('base64');
    if (o.insecureSkipTlsVerify ?? !tls) cluster['insecure-skip-tls-verify'] = true;
    const users = [{ name: 'stand-in', user: { token: o.token ?? this.token } }];
    const ctx = (name: string, namespace: string | null | undefined, user: string) => ({
      name,
      context: { cluster: 'stand-in', user, ...(namespace === null ? {} : { namespace: namespace ?? 'default' }) },
    });
    const contexts = [ctx(contextName, o.namespace, 'stand-in')];
    for (const c of o.contexts ?? []) {
      let user = 'stand-in';
      if (c.token !== undefined) {
        user = `stand-in-${c.name}`;
        users.push({ name: user, user: { token: c.token } });
      }
      contexts.push(ctx(c.name, c.namespace, user));
    }
    return {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'stand-in', cluster }],
      contexts,
      'current-context': contextName,
      users,
      preferences: {},
    };
  }

  /** Write a kubeconfig into the temp dir and return its path. */
  async writeKubeconfig(o: KubeconfigOptions = {}): Promise<string> {
    const path = join(this.dir, o.fileName ?? `kubeconfig-${++this.kubeconfigCount}.yaml`);
    await writeFile(path, toYaml(this.kubeconfig(o)), { mode: 0o600 });
    return path;
  }

  // ------------------------------------------------------------------ the store

  /** Add a pod (its namespace defaults to "default"); the server sets resourceVersion (and uid/creationTimestamp if absent). */
  addPod(pod: PodJson): PodJson {
    return this.add(this.pods, pod) as PodJson;
  }

  getPod(namespace: string, name: string): PodJson | undefined {
    return clone(this.pods.store.get(key(namespace, name))) as PodJson | undefined;
  }

  listPods(namespace?: string): PodJson[] {
    return this.list(this.pods, namespace) as PodJson[];
  }

  /** Replace a pod (it must exist), or change it with a function that mutates it or returns the new one. Bumps resourceVersion. */
  updatePod(pod: PodJson): PodJson;
  updatePod(namespace: string, name: string, update: (pod: PodJson) => PodJson | void): PodJson;
  updatePod(a: PodJson | string, name?: string, update?: (pod: PodJson) => PodJson | void): PodJson {
    return this.update(this.pods, a as KubeObjectJson | string, name, update as ((o: KubeObjectJson) => KubeObjectJson | void) | undefined) as PodJson;
  }

  /** Remove a pod (not recorded in podDeletions); commands exec'd into it are killed. */
  deletePod(namespace: string, name: string): boolean {
    const cur = this.pods.store.get(key(namespace, name));
    if (cur) {
      this.pods.store.delete(key(namespace, name));
      this.changed(this.pods, 'DELETED', { ...cur, metadata: { ...cur.metadata, resourceVersion: String(++this.rv) } });
      this.killExecsInto(namespace, name);
    }
    return cur !== undefined;
  }

  /** Schedule (to spec.nodeName, else this.nodeName) and start a pod now: Running, Ready, containers running. */
  runPod(namespace: string, name: string): PodJson {
    return this.updatePod(namespace, name, (p) => {
      p.spec.nodeName ??= this.nodeName;
      p.status = startedPodStatus(p, 'Running', this.hostIP);
    });
  }

  /** Schedule a pod (if it is not) and fail it: phase Failed, containers terminated (exit code 1, reason Error by default). */
  failPod(namespace: string, name: string, o: FailPodOptions = {}): PodJson {
    const pod = this.updatePod(namespace, name, (p) => {
      p.spec.nodeName ??= this.nodeName;
      p.status = startedPodStatus(p, 'Failed', this.hostIP, o);
    });
    this.killExecsInto(namespace, name);
    return pod;
  }

  addNad(nad: NadJson): NadJson {
    return this.add(this.nads, nad) as NadJson;
  }

  getNad(namespace: string, name: string): NadJson | undefined {
    return clone(this.nads.store.get(key(namespace, name))) as NadJson | undefined;
  }

  updateNad(nad: NadJson): NadJson;
  updateNad(namespace: string, name: string, update: (nad: NadJson) => NadJson | void): NadJson;
  updateNad(a: NadJson | string, name?: string, update?: (nad: NadJson) => NadJson | void): NadJson {
    return this.update(this.nads, a as KubeObjectJson | string, name, update as ((o: KubeObjectJson) => KubeObjectJson | void) | undefined) as NadJson;
  }

  deleteNad(namespace: string, name: string): boolean {
    const cur = this.nads.store.get(key(namespace, name));
    if (cur) {
      this.nads.store.delete(key(namespace, name));
      this.changed(this.nads, 'DELETED', { ...cur, metadata: { ...cur.metadata, resourceVersion: String(++this.rv) } });
    }
    return cur !== undefined;
  }

  /** Add a ConfigMap (its namespace defaults to "default"). */
  addConfigMap(cm: KubeObjectJson & { data?: Record<string, string> }): KubeObjectJson & { data?: Record<string, string> } {
    return this.add(this.configMaps, { apiVersion: 'v1', kind: 'ConfigMap', ...cm });
  }

  getConfigMap(namespace: string, name: string): (KubeObjectJson & { data?: Record<string, string> }) | undefined {
    return clone(this.configMaps.store.get(key(namespace, name)));
  }

  listConfigMaps(namespace?: string): (KubeObjectJson & { data?: Record<string, string> })[] {
    return this.list(this.configMaps, namespace);
  }

  deleteConfigMap(namespace: string, name: string): boolean {
    const ok = this.configMaps.store.delete(key(namespace, name));
    if (ok) this.rv++;
    return ok;
  }

  /** The cluster-wide resourceVersion (the last change's). */
  get resourceVersion(): string {
    return String(this.rv);
  }

  private add(r: Resource, input: KubeObjectJson): KubeObjectJson {
    const o = clone(input);
    if (!isObject(o) || !isObject(o.metadata) || typeof o.metadata.name !== 'string' || !o.metadata.name) {
      throw new Error(`stand-in API server: a ${r.kind} needs metadata.name`);
    }
    o.metadata.namespace ??= 'default';
    const k = key(o.metadata.namespace, o.metadata.name);
    if (r.store.has(k)) throw new Error(`stand-in API server: ${groupResource(r)} "${o.metadata.name}" already exists in ${o.metadata.namespace}`);
    o.apiVersion ??= r.group ? `${r.group}/${r.version}` : r.version;
    o.kind ??= r.kind;
    o.metadata.uid ??= randomUUID();
    o.metadata.creationTimestamp ??= rfc3339();
    o.metadata.resourceVersion = String(++this.rv);
    r.store.set(k, o);
    this.changed(r, 'ADDED', o);
    return clone(o);
  }

  private update(r: Resource, a: KubeObjectJson | string, name?: string, fn?: (o: KubeObjectJson) => KubeObjectJson | void): KubeObjectJson {
    let next: KubeObjectJson;
    let k: string;
    if (typeof a === 'string') {
      k = key(a, name ?? '');
      const cur = r.store.get(k);
      if (!cur) throw new Error(`stand-in API server: ${groupResource(r)} "${name}" not found in ${a}`);
      const copy = clone(cur);
      next = fn?.(copy) ?? copy;
    } else {
      next = clone(a);
      next.metadata.namespace ??= 'default';
      k = key(next.metadata.namespace, next.metadata.name);
    }
    const cur = r.store.get(k);
    if (!cur) throw new Error(`stand-in API server: ${groupResource(r)} ${k} not found`);
    next.metadata.namespace = cur.metadata.namespace;
    next.metadata.name = cur.metadata.name;
    next.metadata.uid ??= cur.metadata.uid;
    next.metadata.creationTimestamp ??= cur.metadata.creationTimestamp;
    next.metadata.resourceVersion = String(++this.rv);
    r.store.set(k, next);
    this.changed(r, 'MODIFIED', next, cur);
    return clone(next);
  }

  private list(r: Resource, namespace?: string): KubeObjectJson[] {
    return [...r.store.entries()]
      .filter(([, o]) => namespace === undefined || o.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => clone(o));
  }

  // ------------------------------------------------------------------ watch

  /** Record a change (the object already carries its new resourceVersion) and send it to the watches it concerns. */
  private changed(r: Resource, type: WatchEvent['type'], object: KubeObjectJson, before?: KubeObjectJson): void {
    const ev: WatchEvent = { type, r, object: clone(object), ...(before ? { before: clone(before) } : {}) };
    this.changes.push(ev);
    if (this.changes.length > WATCH_HISTORY) {
      const dropped = this.changes.shift();
      this.changesFrom = Number(dropped?.object.metadata.resourceVersion ?? this.changesFrom);
    }
    for (const w of this.watchers) this.deliver(w, ev);
  }

  /**
   * What a watch sees of a change, as the API server's watch cache filters it (apiserver cacheWatcher
   * convertToWatchEvent): an object that starts matching the selectors is ADDED, as it is now; one that stops matching
   * is DELETED, as it was while it matched (its old labels: the previous object), with the resourceVersion of the
   * change; one that never matched is not sent.
   */
  private deliver(w: Watcher, ev: WatchEvent): void {
    if (ev.r !== w.r || (w.namespace !== undefined && ev.object.metadata.namespace !== w.namespace)) return;
    const now = w.match(ev.object);
    const was = ev.type === 'MODIFIED' && ev.before ? w.match(ev.before) : now;
    if (ev.type === 'MODIFIED' && ev.before && was && !now) {
      return this.writeEvent(w.res, 'DELETED', { ...ev.before, metadata: { ...ev.before.metadata, resourceVersion: ev.object.metadata.resourceVersion } });
    }
    let type = ev.type;
    if (type === 'MODIFIED' && now !== was) type = 'ADDED';
    else if (!now) return;
    this.writeEvent(w.res, type, ev.object);
  }

  private writeEvent(res: http.ServerResponse, type: string, object: unknown): void {
    if (!res.destroyed && !res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
  }

  /**
   * GET …?watch=true: a stream of JSON watch events, one per line (ADDED, MODIFIED, DELETED; ERROR with a Status).
   * Without resourceVersion (or with "0") the current matching objects come first as ADDED, as the real server does;
   * with one, the changes after it (410 Gone in an ERROR event when it is older than the history kept). The stream
   * ends after timeoutSeconds (default 1800) or when the client goes. No bookmarks.
   */
  private serveWatch(rec: RecordedRequest, res: http.ServerResponse): void {
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)$/.exec(rec.path);
    const r = m ? this.resources.find((x) => x.group === (m[2] ?? '') && x.version === (m[1] ?? m[3]) && x.plural === m[5]) : undefined;
    if (!m || !r) throw this.notFoundRoute();
    const namespace = m[4];
    const q = rec.query;
    let match: (o: KubeObjectJson) => boolean = () => true;
    if (q.labelSelector) {
      let reqs: LabelRequirement[];
      try {
        reqs = parseLabelSelector(q.labelSelector);
      } catch (e) {
        throw badRequest((e as Error).message);
      }
      match = (o) => labelsMatch(reqs, o.metadata.labels);
    }
    if (q.fieldSelector) {
      const byField = fieldSelectorMatcher(q.fieldSelector, r.fields);
      const byLabel = match;
      match = (o) => byLabel(o) && byField(o);
    }
    const from = q.resourceVersion;
    if (from !== undefined && from !== '' && !/^\d+$/.test(from)) {
      throw badRequest(`resourceVersion: Invalid value: ${JSON.stringify(from)}: strconv.ParseUint: parsing ${JSON.stringify(from)}: invalid syntax`);
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Audit-Id': randomUUID(), 'Transfer-Encoding': 'chunked' });
    // the head goes out now, before any event, as the API server's watch handler flushes it (a client learns at once
    // that its watch is open, and can end it: client-node's Watch hands back its AbortController only then)
    res.flushHeaders();
    const w: Watcher = { r, namespace, match, res };
    if (from === undefined || from === '' || from === '0') {
      for (const o of r.store.values()) {
        if ((namespace === undefined || o.metadata.namespace === namespace) && match(o)) this.writeEvent(res, 'ADDED', o);
      }
    } else {
      const since = Number(from);
      if (since < this.changesFrom) {
        const status = statusObject(410, `too old resource version: ${since} (${this.changesFrom + 1})`, 'Expired');
        this.writeEvent(res, 'ERROR', status);
        res.end();
        return;
      }
      for (const ev of this.changes) if (Number(ev.object.metadata.resourceVersion) > since) this.deliver(w, ev);
    }
    this.watchers.add(w);
    const secs = q.timeoutSeconds !== undefined && /^\d+$/.test(q.timeoutSeconds) ? Number(q.timeoutSeconds) : 1800;
    const t = setTimeout(() => {
      this.timers.delete(t);
      res.end();
    }, secs * 1000);
    this.timers.add(t);
    const forget = () => {
      clearTimeout(t);
      this.timers.delete(t);
      this.watchers.delete(w);
    };
    res.on('close', forget);
    res.on('finish', forget);
  }

  /** How many watches are open. */
  get activeWatches(): number {
    return this.watchers.size;
  }

  // ------------------------------------------------------------------ faults and hooks

  /**
   * The next matching request (or the next `match.times`) gets `response`: a Status with that code (default 500
   * InternalError), optionally after delayMs; or only a delay; or no answer at all until the client gives up or the
   * server stops; or the connection closed without an answer (reset). Interceptors apply in the order they were added, at most one per request, before authentication.
   */
  failNext(match: RequestMatch = {}, response: FaultResponse = { code: 500 }): void {
    this.interceptors.push({ method: match.method, pathIncludes: match.pathIncludes, remaining: match.times ?? 1, action: { kind: 'fault', response } });
  }

  /** Run fn when the next matching request arrives, before it is handled (e.g. change a pod to provoke a 409). */
  onNext(match: RequestMatch, fn: (req: RecordedRequest) => void | Promise<void>): void {
    this.interceptors.push({ method: match.method, pathIncludes: match.pathIncludes, remaining: match.times ?? 1, action: { kind: 'hook', fn } });
  }

  /** How many fault/hook applications are still waiting for a request. */
  get pendingInterceptors(): number {
    return this.interceptors.reduce((n, i) => n + i.remaining, 0);
  }

  clearInterceptors(): void {
    this.interceptors.length = 0;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /** How many exec'd commands are still running or still have their WebSocket open. */
  get activeExecs(): number {
    return this.sessions.size;
  }

  // ------------------------------------------------------------------ HTTP

  private send(res: http.ServerResponse, code: number, body: unknown, contentType = 'application/json'): void {
    if (res.destroyed || res.headersSent) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(code, {
      'Content-Type': contentType,
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-cache, private',
      'Audit-Id': randomUUID(),
    });
    res.end(text);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  /**
   * The subject CN of the client certificate a TLS connection presented, when it is valid now and the stand-in's CA
   * issued and signed it (as an API server checks one against its --client-ca-file); undefined otherwise (none, plain
   * http, another issuer, expired).
   */
  private clientCertificateOf(socket: TLSSocket): string | undefined {
    if (!socket.encrypted || this.caPem === undefined) return undefined;
    const peer = socket.getPeerCertificate();
    if (!peer?.raw) return undefined;
    try {
      const cert = new X509Certificate(peer.raw);
      const ca = new X509Certificate(this.caPem);
      const now = Date.now();
      const valid = cert.checkIssued(ca) && cert.verify(ca.publicKey) && Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
      return valid && typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined;
    } catch {
      return undefined;
    }
  }

  /** Build the record of a request and add it to `requests`. */
  private record(req: http.IncomingMessage, rawBody: string): { rec: RecordedRequest; url: URL; rawUrl: string } {
    const rawUrl = req.url ?? '/';
    const url = new URL(rawUrl, 'http://stand-in');
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      path = url.pathname;
    }
    const contentType = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase() || undefined;
    let body: unknown = rawBody === '' ? undefined : rawBody;
    if (rawBody !== '' && (contentType === undefined || /[/+]json$/.test(contentType))) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        /* keep the text */
      }
    }
    const auth = req.headers.authorization ?? '';
    const m = /^bearer\s+(.+)$/i.exec(auth.trim());
    const clientCertificate = this.clientCertificateOf(req.socket as TLSSocket);
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      query: Object.fromEntries(url.searchParams),
      contentType,
      body,
      rawBody,
      headers: req.headers,
      headerLines: req.rawHeaders.flatMap((v, i, all) => (i % 2 === 0 ? [[v.toLowerCase(), all[i + 1] ?? ''] as [string, string]] : [])),
      ...(clientCertificate !== undefined ? { clientCertificate } : {}),
      authorized: m?.[1] === this.token || clientCertificate !== undefined || (this.anonymous && req.headers.authorization === undefined),
    };
    this.requests.push(rec);
    return { rec, url, rawUrl };
  }

  /** Apply the first matching interceptor: undefined to go on handling the request, 'hang', or a Status to answer with. */
  private async intercept(rec: RecordedRequest, rawUrl: string): Promise<undefined | 'hang' | 'reset' | StatusJson | { code: number; plain: string }> {
    const hit = this.interceptors.find(
      (i) =>
        i.remaining > 0 &&
        (!i.method || i.method.toUpperCase() === rec.method.toUpperCase()) &&
        (!i.pathIncludes || rec.path.includes(i.pathIncludes) || rawUrl.includes(i.pathIncludes)),
    );
    if (!hit) return undefined;
    hit.remaining--;
    if (hit.remaining <= 0) this.interceptors.splice(this.interceptors.indexOf(hit), 1);
    if (hit.action.kind === 'hook') {
      await hit.action.fn(rec);
      return undefined;
    }
    const f = hit.action.response;
    if ('hang' in f) return 'hang'; // never answer; stop() destroys the socket
    if ('reset' in f) return 'reset';
    if (f.delayMs) await this.sleep(f.delayMs);
    if (this.stopped) return 'hang';
    if ('code' in f) {
      if (f.plain !== undefined) return { code: f.code, plain: f.plain };
      const msg = f.message ?? DEFAULT_MESSAGES[f.code] ?? `injected by the stand-in API server (HTTP ${f.code})`;
      const details = f.code === 500 ? { causes: [{ message: msg }] } : undefined;
      return statusObject(f.code, msg, undefined, details);
    }
    return undefined;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const { rec, rawUrl } = this.record(req, Buffer.concat(chunks).toString('utf8'));
    if (this.latencyMs > 0) await this.sleep(this.latencyMs);
    const fault = await this.intercept(rec, rawUrl);
    if (fault === 'hang') return;
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault) {
      if ('plain' in fault) this.send(res, fault.code, fault.plain, 'text/plain; charset=utf-8');
      else this.send(res, fault.code, fault);
      return;
    }

    const method = rec.method.toUpperCase();
    if (method === 'GET' && ['/healthz', '/livez', '/readyz'].includes(rec.path)) {
      this.send(res, 200, 'ok', 'text/plain; charset=utf-8');
      return;
    }
    if (!rec.authorized) {
      this.send(res, 401, statusObject(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    try {
      if (method === 'GET' && (rec.query.watch === 'true' || rec.query.watch === '1')) {
        this.serveWatch(rec, res);
        return;
      }
      const [code, out] = await this.route(method, rec.path, rec);
      this.send(res, code, out);
    } catch (e) {
      if (e instanceof ApiError) this.send(res, e.status.code, e.status);
      else throw e;
    }
  }

  private notFoundRoute(): ApiError {
    return new ApiError(statusObject(404, 'the server could not find the requested resource', 'NotFound', {}));
  }

  private async route(method: string, path: string, rec: RecordedRequest): Promise<[number, unknown]> {
    const methodNotAllowed = () => new ApiError(statusObject(405, 'the server does not allow this method on the requested resource', 'MethodNotAllowed', {}));
    const discovery = this.discovery(path);
    if (discovery !== undefined) {
      if (method !== 'GET') throw methodNotAllowed();
      return [200, discovery];
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
    if (!m) throw this.notFoundRoute();
    const [, coreVersion, group = '', groupVersion, namespace, plural, name, subresource] = m;
    const version = coreVersion ?? groupVersion;
    const r = this.resources.find((x) => x.group === group && x.version === version && x.plural === plural);
    if (!r) throw this.notFoundRoute();
    if (subresource !== undefined) {
      // exec is served over WebSocket only (see handleUpgrade); a plain request gets what the kubelet answers.
      if (r === this.pods && namespace !== undefined && subresource === 'exec' && (method === 'GET' || method === 'POST')) {
        throw badRequest('Upgrade request required');
      }
      throw this.notFoundRoute();
    }
    if (name === undefined) {
      if (method === 'POST' && r === this.pods && namespace !== undefined) return [201, await this.createPod(namespace, rec)];
      if (method === 'POST' && r === this.events && namespace !== undefined) return [201, this.createEvent(namespace, rec)];
      if (method === 'POST' && r === this.configMaps && namespace !== undefined) return [201, this.createConfigMap(namespace, rec)];
      if (method !== 'GET') throw methodNotAllowed();
      return [200, this.listResponse(r, namespace, rec.query)];
    }
    if (namespace === undefined) throw this.notFoundRoute(); // namespaced resources only
    if (method === 'GET') {
      const o = r.store.get(key(namespace, name));
      if (!o) throw this.notFound(r, name);
      return [200, clone(o)];
    }
    if (method === 'PATCH') return [200, this.patch(r, namespace, name, rec)];
    if (method === 'DELETE' && r === this.pods) return [200, this.deletePodRequest(namespace, name, rec)];
    if (method === 'DELETE' && r === this.configMaps) return [200, this.deleteConfigMapRequest(namespace, name, rec)];
    throw methodNotAllowed();
  }

  // ------------------------------------------------------------------ configmap create and delete

  private createConfigMap(namespace: string, rec: RecordedRequest): KubeObjectJson {
    const r = this.configMaps;
    const body = rec.body;
    if (!isObject(body)) throw badRequest(`ConfigMap in version "v1" cannot be handled as a ConfigMap: ${rec.rawBody === '' ? 'no body' : 'the body is not a JSON object'}`);
    if ((body.apiVersion !== undefined && body.apiVersion !== 'v1') || (body.kind !== undefined && body.kind !== 'ConfigMap')) {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) and kind (${String(body.kind)}) do not match the expected v1, ConfigMap`);
    }
    const input = clone(body) as KubeObjectJson;
    const meta = (isObject(input.metadata) ? input.metadata : {}) as ObjectMetaJson;
    if (typeof meta.namespace === 'string' && meta.namespace !== '' && meta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const name = typeof meta.name === 'string' ? meta.name : '';
    if (!name) throw invalidError(r, '', [{ field: 'metadata.name', what: 'Required value: name or generateName is required' }]);
    if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
      throw invalidError(r, name, [{ field: 'metadata.name', what: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character` }]);
    }
    checkLabelsAndAnnotations(r, name, meta);
    const out: KubeObjectJson = { ...input, apiVersion: 'v1', kind: 'ConfigMap', metadata: meta };
    checkConfigMapData(r, name, out);
    if (r.store.has(key(namespace, name))) {
      throw new ApiError(statusObject(409, `${groupResource(r)} "${name}" already exists`, 'AlreadyExists', detailsOf(r, name)));
    }
    for (const f of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'selfLink', 'managedFields']) delete meta[f];
    meta.namespace = namespace;
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339();
    if (rec.query.dryRun === 'All') return clone({ ...out, metadata: { ...meta, resourceVersion: String(this.rv + 1) } });
    meta.resourceVersion = String(++this.rv);
    r.store.set(key(namespace, name), out);
    return clone(out);
  }

  private deleteConfigMapRequest(namespace: string, name: string, rec: RecordedRequest): unknown {
    const r = this.configMaps;
    const opts = deleteOptionsOf(rec);
    const cur = r.store.get(key(namespace, name));
    if (!cur) throw this.notFound(r, name);
    checkPreconditions(r, name, cur, opts);
    if (!isDryRun(rec, opts)) {
      r.store.delete(key(namespace, name));
      this.rv++;
    }
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: 'configmaps', uid: cur.metadata.uid } };
  }

  // ------------------------------------------------------------------ pod create and delete

  private async createPod(namespace: string, rec: RecordedRequest): Promise<PodJson> {
    const r = this.pods;
    if (rec.contentType !== undefined && !/[/+]json$/.test(rec.contentType)) {
      throw new ApiError(statusObject(415, `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`, 'UnsupportedMediaType'));
    }
    const body = rec.body;
    if (!isObject(body)) {
      throw badRequest(`Pod in version "v1" cannot be handled as a Pod: ${rec.rawBody === '' ? 'no body' : 'the body is not a JSON object'}`);
    }
    if ((body.apiVersion !== undefined && body.apiVersion !== 'v1') || (body.kind !== undefined && body.kind !== 'Pod')) {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) and kind (${String(body.kind)}) do not match the expected v1, Pod`);
    }
    if (body.metadata !== undefined && !isObject(body.metadata)) throw badRequest('Pod in version "v1" cannot be handled as a Pod: metadata is not an object');
    const input = clone(body);
    const meta = (isObject(input.metadata) ? input.metadata : {}) as ObjectMetaJson;
    if (typeof meta.namespace === 'string' && meta.namespace !== '' && meta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    meta.namespace = namespace;
    const generateName = typeof meta.generateName === 'string' ? meta.generateName : '';
    let name = typeof meta.name === 'string' ? meta.name : '';
    if (!name && !generateName) throw invalidError(r, '', [{ field: 'metadata.name', what: 'Required value: name or generateName is required' }]);
    if (!name) {
      do name = generatedName(generateName);
      while (r.store.has(key(namespace, name)));
    }
    meta.name = name;

    const causes: FieldCause[] = [];
    if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
      causes.push({
        field: 'metadata.name',
        what: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      });
    }
    const spec = isObject(input.spec) ? input.spec : undefined;
    const containers: unknown[] = spec && Array.isArray(spec.containers) ? spec.containers : [];
    if (containers.length === 0) causes.push({ field: 'spec.containers', what: 'Required value' });
    const seen = new Set<string>();
    containers.forEach((c, i) => {
      const f = `spec.containers[${i}]`;
      if (!isObject(c)) {
        causes.push({ field: f, what: 'Invalid value: not an object' });
        return;
      }
      if (typeof c.name !== 'string' || c.name === '') causes.push({ field: `${f}.name`, what: 'Required value' });
      else if (seen.has(c.name)) causes.push({ field: `${f}.name`, what: `Duplicate value: ${JSON.stringify(c.name)}` });
      else seen.add(c.name);
      if (typeof c.image !== 'string' || c.image.trim() === '') causes.push({ field: `${f}.image`, what: 'Required value' });
    });
    if (causes.length > 0) throw invalidError(r, name, causes);
    checkLabelsAndAnnotations(r, name, meta);
    if (r.store.has(key(namespace, name))) {
      throw new ApiError(statusObject(409, `${groupResource(r)} "${name}" already exists`, 'AlreadyExists', detailsOf(r, name)));
    }

    // Pod Security Admission (validating admission: after defaulting and name generation, dry runs included)
    const level = this.podSecurity[namespace] ?? 'privileged';
    const violations = podSecurityViolations(level, spec ?? {});
    if (violations.length > 0) {
      throw new ApiError(
        statusObject(403, `pods "${name}" is forbidden: violates PodSecurity "${level}:latest": ${violations.join(', ')}`, 'Forbidden', { name, kind: 'pods' }),
      );
    }

    // Server-managed metadata; status is the server's too.
    for (const f of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink', 'managedFields']) delete meta[f];
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339();
    const podSpec = spec as Record<string, unknown>;
    defaultPodSpec(podSpec);
    const dryRun = rec.query.dryRun === 'All';
    if (!dryRun) meta.resourceVersion = String(++this.rv);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: orderedMeta(meta), spec: podSpec, status: { phase: 'Pending', qosClass: qosClassOf(containers) } } as unknown as PodJson;
    if (dryRun) return clone(pod);
    const k = key(namespace, name);
    r.store.set(k, pod);
    this.changed(r, 'ADDED', pod);
    if (this.onPodCreated) await this.onPodCreated(clone(pod));
    const uid = meta.uid;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.startCreatedPod(namespace, name, uid);
    }, this.podStartDelayMs);
    this.timers.add(t);
    return clone((r.store.get(k) as PodJson | undefined) ?? pod);
  }

  private startCreatedPod(namespace: string, name: string, uid: string): void {
    const cur = this.pods.store.get(key(namespace, name)) as PodJson | undefined;
    // Gone, replaced, terminating, or already moved on (runPod/failPod/updatePod by the test): leave it alone.
    if (this.stopped || !cur || cur.metadata.uid !== uid || cur.metadata.deletionTimestamp !== undefined || cur.status?.phase !== 'Pending') return;
    const behaviour = typeof this.podStartBehaviour === 'function' ? this.podStartBehaviour(clone(cur)) : this.podStartBehaviour;
    if (behaviour === 'run') this.runPod(namespace, name);
    else if (behaviour === 'fail') this.failPod(namespace, name);
  }

  private deletePodRequest(namespace: string, name: string, rec: RecordedRequest): PodJson {
    const r = this.pods;
    const k = key(namespace, name);
    const opts = deleteOptionsOf(rec);
    const q = rec.query;
    let grace: number | undefined;
    if (q.gracePeriodSeconds !== undefined) {
      if (!/^-?\d+$/.test(q.gracePeriodSeconds)) {
        throw badRequest(`gracePeriodSeconds: Invalid value: ${JSON.stringify(q.gracePeriodSeconds)}: strconv.ParseInt: parsing ${JSON.stringify(q.gracePeriodSeconds)}: invalid syntax`);
      }
      grace = Number(q.gracePeriodSeconds);
    } else if (typeof opts.gracePeriodSeconds === 'number') {
      grace = opts.gracePeriodSeconds;
    }
    const cur = r.store.get(k) as PodJson | undefined;
    if (!cur) throw this.notFound(r, name);
    checkPreconditions(r, name, cur, opts);
    const dryRun = isDryRun(rec, opts);
    const propagationPolicy = q.propagationPolicy ?? (typeof opts.propagationPolicy === 'string' ? opts.propagationPolicy : undefined);

    // Like the pod strategy: negative means 1 s; unscheduled and finished pods go at once.
    let effective = grace ?? (typeof cur.spec.terminationGracePeriodSeconds === 'number' ? cur.spec.terminationGracePeriodSeconds : 30);
    if (effective < 0) effective = 1;
    const phase = cur.status?.phase;
    if (!cur.spec.nodeName || phase === 'Succeeded' || phase === 'Failed') effective = 0;
    const alreadyTerminating = cur.metadata.deletionTimestamp !== undefined;
    const immediate = effective === 0 || this.podTerminationDelayMs <= 0;
    const now = new Date();
    this.podDeletions.push({
      namespace,
      name,
      uid: cur.metadata.uid ?? '',
      gracePeriodSeconds: effective,
      ...(propagationPolicy !== undefined ? { propagationPolicy } : {}),
      dryRun,
      immediate,
      at: now,
    });

    const out = clone(cur);
    if (!alreadyTerminating || immediate) {
      out.metadata.deletionTimestamp = rfc3339(new Date(now.getTime() + effective * 1000));
      out.metadata.deletionGracePeriodSeconds = effective;
      out.metadata = orderedMeta(out.metadata);
    }
    if (dryRun) return out;
    if (immediate) {
      r.store.delete(k);
      out.metadata.resourceVersion = String(++this.rv);
      this.changed(r, 'DELETED', out);
      this.killExecsInto(namespace, name);
      return out;
    }
    if (alreadyTerminating) return out; // the removal is already on its way
    out.metadata.resourceVersion = String(++this.rv);
    r.store.set(k, out);
    this.changed(r, 'MODIFIED', out, cur);
    const uid = out.metadata.uid;
    const t = setTimeout(() => {
      this.timers.delete(t);
      const c = r.store.get(k);
      if (c && c.metadata.uid === uid) {
        r.store.delete(k);
        this.changed(r, 'DELETED', { ...c, metadata: { ...c.metadata, resourceVersion: String(++this.rv) } });
        this.killExecsInto(namespace, name);
      }
    }, Math.min(this.podTerminationDelayMs, effective * 1000));
    this.timers.add(t);
    return clone(out);
  }

  // ------------------------------------------------------------------ exec

  /** Refuse a WebSocket upgrade with a Status (as the API server does), or with a plain text (as a proxy does). */
  private rejectUpgrade(socket: Duplex, code: number, status: StatusJson | string): void {
    if (socket.destroyed) return;
    const text = typeof status === 'string' ? status : JSON.stringify(status);
    socket.end(
      [
        `HTTP/1.1 ${code} ${http.STATUS_CODES[code] ?? 'Error'}`,
        `Content-Type: ${typeof status === 'string' ? 'text/plain; charset=utf-8' : 'application/json'}`,
        `Content-Length: ${Buffer.byteLength(text)}`,
        'Cache-Control: no-cache, private',
        `Audit-Id: ${randomUUID()}`,
        'Connection: close',
        '',
        text,
      ].join('\r\n'),
    );
  }

  private async handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { rec, url, rawUrl } = this.record(req, '');
    if (this.latencyMs > 0) await this.sleep(this.latencyMs);
    const fault = await this.intercept(rec, rawUrl);
    if (fault === 'hang') return;
    if (fault === 'reset' || this.stopped) {
      socket.destroy();
      return;
    }
    if (fault) {
      this.rejectUpgrade(socket, fault.code, 'plain' in fault ? fault.plain : fault);
      return;
    }
    if (!rec.authorized) {
      this.rejectUpgrade(socket, 401, statusObject(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    let execReq: ExecRequest;
    try {
      execReq = this.execRequest(rec, url, req);
    } catch (e) {
      if (e instanceof ApiError) {
        this.rejectUpgrade(socket, e.status.code, e.status);
        return;
      }
      throw e;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.runExec(ws, execReq));
  }

  /** Check an exec upgrade request as the API server (and kubelet) would; throws ApiError. */
  private execRequest(rec: RecordedRequest, url: URL, req: http.IncomingMessage): ExecRequest {
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/([^/]+)$/.exec(rec.path);
    const method = rec.method.toUpperCase();
    if (!m || m[3] !== 'exec') throw this.notFoundRoute(); // attach, portforward, … are not served
    if (method !== 'GET' && method !== 'POST') throw new ApiError(statusObject(405, 'the server does not allow this method on the requested resource', 'MethodNotAllowed', {}));
    const namespace = m[1] ?? '';
    const name = m[2] ?? '';
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      throw badRequest(`unable to upgrade connection: the stand-in API server speaks WebSocket only, not ${JSON.stringify(req.headers.upgrade ?? '')}`);
    }
    const pod = this.pods.store.get(key(namespace, name)) as PodJson | undefined;
    if (!pod) throw this.notFound(this.pods, name);
    const q = url.searchParams;
    const bool = (k: string) => ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(q.get(k) ?? '');
    const command = q.getAll('command');
    const [stdin, stdout, stderr, tty] = [bool('stdin'), bool('stdout'), bool('stderr'), bool('tty')];
    if (command.length === 0) throw badRequest('you must specify at least one command for the container');
    if (!stdin && !stdout && !stderr) throw badRequest('you must specify at least 1 of stdin, stdout, stderr');
    const names = (Array.isArray(pod.spec.containers) ? pod.spec.containers : []).map((c) => c.name);
    let container = q.get('container') ?? '';
    if (container === '') {
      if (names.length !== 1) throw badRequest(`a container name must be specified for pod ${name}, choose one of: ${goStrings(names)}`);
      container = names[0] ?? '';
    } else if (!names.includes(container)) {
      throw badRequest(`container ${container} is not valid for pod ${name}`);
    }
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') throw badRequest(`cannot exec into a container in a completed pod; current phase is ${phase}`);
    if (!pod.spec.nodeName) throw badRequest(`pod ${name} does not have a host assigned`);
    if (phase !== 'Running') throw badRequest(`unable to upgrade connection: container not found (${JSON.stringify(container)})`);
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',');
    const protocol = pickExecProtocol(offered, this.execProtocols);
    if (!protocol) {
      throw badRequest(`unable to upgrade connection: the stand-in API server speaks ${this.execProtocols.join(' and ')} only (offered: ${JSON.stringify(offered.map((p) => p.trim()).filter(Boolean))})`);
    }
    return { namespace, pod: name, container, command, stdin, stdout, stderr, tty, protocol };
  }

  private runExec(ws: WebSocket, req: ExecRequest): void {
    const record: RecordedExec = { ...req, command: [...req.command], startedAt: new Date(), stdinMessages: [] };
    this.execs.push(record);
    let markEnded = () => {};
    const ended = new Promise<void>((resolve) => {
      markEnded = resolve;
    });
    const s: ExecSession = { req, record, ws, exited: false, ended, markEnded, wsClosed: false };
    this.sessions.add(s);
    const forget = () => {
      if (s.exited && s.wsClosed) this.sessions.delete(s);
    };
    const send = (channel: number, data: Buffer) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), data]));
    };
    let stdinOpen = req.stdin;
    const pendingStdin: Buffer[] = [];
    const closeStdin = () => {
      stdinOpen = false;
      s.proc?.stdin?.end();
    };
    let finishedSent = false;
    const finish = (status: ExecStatusJson, exitCode?: number) => {
      if (finishedSent) return;
      finishedSent = true;
      record.status = status;
      if (exitCode !== undefined) record.exitCode = exitCode;
      record.endedAt = new Date();
      if (!s.wsClosed && ws.readyState === WebSocket.OPEN) {
        send(3, Buffer.from(JSON.stringify(status)));
        ws.close(1000);
      }
    };

    // each message reaches the command latencyMs after it arrived (in order): a message's way to the node and back
    let delivered = Promise.resolve();
    ws.on('message', (data: RawData) => {
      const buf = toBuffer(data);
      if (buf.length === 0) return;
      if (this.latencyMs <= 0) return onMessage(buf);
      const at = Date.now() + this.latencyMs;
      delivered = delivered.then(() => new Promise<void>((r) => setTimeout(r, Math.max(0, at - Date.now())))).then(() => onMessage(buf));
    });
    const onMessage = (buf: Buffer) => {
      const channel = buf[0];
      const payload = buf.subarray(1);
      if (channel === 0) {
        if (!stdinOpen || payload.length === 0) return;
        record.stdinMessages.push(Buffer.from(payload));
        if (s.proc) s.proc.stdin?.write(payload);
        else pendingStdin.push(payload);
      } else if (channel === 255 && req.protocol === 'v5.channel.k8s.io' && payload[0] === 0) {
        closeStdin(); // v5: the client closed its stdin
      }
      // 4 (resize) and anything else: ignored.
    };
    ws.on('error', () => {
      /* 'close' follows */
    });
    ws.on('close', () => {
      s.wsClosed = true;
      if (!s.exited) {
        // The client went away (under v4 that is also how it ends stdin), the pod went, or stop(): end the command.
        record.closedEarly = true;
        closeStdin();
        this.killSession(s);
      }
      forget();
    });
    // The kubelet writes an empty frame on the lowest output channel first, so the client knows the stream is up.
    send(req.stdout ? 1 : req.stderr ? 2 : 3, Buffer.alloc(0));

    const run = async () => {
      let proc: ExecProcess;
      try {
        proc = await this.execHandler({ ...req, command: [...req.command] });
      } catch (e) {
        s.exited = true;
        markEnded();
        finish(execStartFailureStatus(req.command, e instanceof Error ? e : new Error(String(e))));
        forget();
        return;
      }
      s.proc = proc;
      if (typeof proc.pid === 'number') record.pid = proc.pid;
      const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: Error }>((resolve) => {
        proc.once('exit', (code, signal) => resolve({ code, signal }));
        proc.once('close', (code, signal) => resolve({ code, signal }));
        proc.once('error', (error) => resolve({ error }));
      });
      proc.stdin?.on('error', () => {
        /* EPIPE: the command does not read its stdin */
      });
      const outputs: Array<[Readable | null | undefined, number, boolean]> = [
        [proc.stdout, 1, req.stdout],
        [proc.stderr, 2, req.stderr],
      ];
      for (const [stream, channel, wanted] of outputs) {
        stream?.on('data', (c: Buffer | string) => {
          if (wanted) send(channel, toBuffer(c));
        });
        stream?.on('error', () => {});
      }
      for (const b of pendingStdin.splice(0)) proc.stdin?.write(b);
      if (!stdinOpen) proc.stdin?.end();
      if (s.wsClosed || this.stopped) this.killSession(s);

      const result = await exit;
      s.exited = true;
      markEnded();
      if ('error' in result) {
        finish(execStartFailureStatus(req.command, result.error));
      } else {
        const code = exitCodeOf(result.code, result.signal);
        record.exitCode = code;
        // The status goes after the last output.
        await Promise.all(outputs.map(([st]) => (st ? new Promise<void>((resolve) => finished(st, () => resolve())) : undefined)));
        finish(execExitStatus(req.command, code), code);
      }
      forget();
    };
    run().catch((e: unknown) => {
      s.exited = true;
      markEnded();
      finish(execStartFailureStatus(req.command, e instanceof Error ? e : new Error(String(e))));
      forget();
    });
  }

  private killSession(s: ExecSession): void {
    const p = s.proc;
    if (!p || s.exited) return;
    try {
      if (processGroupLeaders.has(p) && typeof p.pid === 'number') process.kill(-p.pid, 'SIGKILL');
      else p.kill('SIGKILL');
    } catch {
      try {
        p.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }

  /** Kill the commands running in a pod (it was removed or failed); their clients get exit code 137. */
  private killExecsInto(namespace: string, name: string): void {
    for (const s of this.sessions) if (s.req.namespace === namespace && s.req.pod === name) this.killSession(s);
  }

  private notFound(r: Resource, name: string): ApiError {
    return new ApiError(statusObject(404, `${groupResource(r)} "${name}" not found`, 'NotFound', detailsOf(r, name)));
  }

  private listResponse(r: Resource, namespace: string | undefined, query: Record<string, string>): unknown {
    let match: (o: KubeObjectJson) => boolean = () => true;
    const ls = query.labelSelector;
    const fs = query.fieldSelector;
    if (ls) {
      let reqs: LabelRequirement[];
      try {
        reqs = parseLabelSelector(ls);
      } catch (e) {
        throw badRequest((e as Error).message);
      }
      match = (o) => labelsMatch(reqs, o.metadata.labels);
    }
    if (fs) {
      const byField = fieldSelectorMatcher(fs, r.fields);
      const byLabel = match;
      match = (o) => byLabel(o) && byField(o);
    }
    let entries = [...r.store.entries()]
      .filter(([, o]) => (namespace === undefined || o.metadata.namespace === namespace) && match(o))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

    const metadata: Record<string, unknown> = { resourceVersion: String(this.rv) };
    if (query.continue) {
      let start: string;
      try {
        const tok = JSON.parse(Buffer.from(query.continue, 'base64url').toString('utf8')) as { start?: unknown };
        if (typeof tok.start !== 'string') throw new Error('bad token');
        start = tok.start;
      } catch {
        throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
      }
      entries = entries.filter(([k]) => k > start);
    }
    const limit = query.limit ? Number(query.limit) : 0;
    if (limit > 0 && entries.length > limit) {
      const rest = entries.length - limit;
      entries = entries.slice(0, limit);
      const last = entries[entries.length - 1]?.[0] ?? '';
      metadata.continue = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: this.rv, start: last })).toString('base64url');
      if (!ls && !fs) metadata.remainingItemCount = rest;
    }
    const items = entries.map(([, o]) => {
      const c = clone(o) as Record<string, unknown>;
      if (r.builtin) {
        // Built-in lists carry no apiVersion/kind on their items; custom resources (unstructured) do.
        delete c.apiVersion;
        delete c.kind;
      }
      return c;
    });
    return { kind: `${r.kind}List`, apiVersion: r.group ? `${r.group}/${r.version}` : r.version, metadata, items };
  }

  private patch(r: Resource, namespace: string, name: string, rec: RecordedRequest): unknown {
    const k = key(namespace, name);
    const cur = r.store.get(k);
    const ct = rec.contentType;
    if (!ct || !PATCH_TYPES.includes(ct)) {
      throw new ApiError(
        statusObject(415, `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(', ')}`, 'UnsupportedMediaType'),
      );
    }
    let patchBody: unknown;
    try {
      patchBody = JSON.parse(rec.rawBody);
    } catch (e) {
      throw badRequest(`error decoding patch: ${(e as Error).message}`);
    }
    if (!cur) throw this.notFound(r, name);

    let next: unknown;
    if (ct === 'application/json-patch+json') {
      try {
        next = applyJsonPatch(cur, patchBody);
      } catch (e) {
        if (e instanceof JsonPatchError) throw new ApiError(statusObject(422, e.message, 'Invalid'));
        throw e;
      }
    } else {
      if (!isObject(patchBody)) throw badRequest(`json: cannot unmarshal ${Array.isArray(patchBody) ? 'array' : typeof patchBody} into Go value of type map[string]interface {}`);
      if (ct === 'application/strategic-merge-patch+json' && hasDirective(patchBody)) {
        throw badRequest('the stand-in API server treats strategic merge patches as merge patches and does not support $patch/$retainKeys/$setElementOrder directives');
      }
      next = applyMergePatch(cur, patchBody);
    }

    if (!isObject(next) || !isObject(next.metadata)) throw badRequest('Object \'metadata\' is missing or not an object');
    const out = next as KubeObjectJson;
    const meta = out.metadata;
    if (out.apiVersion !== cur.apiVersion || out.kind !== cur.kind) {
      throw badRequest(`the API version in the data (${String(out.apiVersion)}) does not match the expected API version (${cur.apiVersion})`);
    }
    if (meta.name !== name) throw badRequest(`the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`);
    if (meta.namespace !== namespace) throw badRequest(`the namespace of the provided object does not match the namespace sent on the request`);
    if (meta.uid !== undefined && meta.uid !== cur.metadata.uid) {
      throw new ApiError(
        statusObject(409, `Precondition failed: UID in precondition: ${String(meta.uid)}, UID in object meta: ${String(cur.metadata.uid)}`, 'Conflict', detailsOf(r, name)),
      );
    }
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== '' && meta.resourceVersion !== cur.metadata.resourceVersion) {
      throw new ApiError(
        statusObject(
          409,
          `Operation cannot be fulfilled on ${groupResource(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          'Conflict',
          detailsOf(r, name),
        ),
      );
    }
    checkLabelsAndAnnotations(r, name, meta);
    if (r === this.configMaps) checkConfigMapData(r, name, out);
    // Server-managed metadata.
    meta.uid = cur.metadata.uid;
    meta.creationTimestamp = cur.metadata.creationTimestamp;
    meta.resourceVersion = cur.metadata.resourceVersion;
    if (r === this.pods) {
      // Status is a subresource: changes through the main resource are ignored.
      if (cur.status === undefined) delete out.status;
      else out.status = clone(cur.status);
      if (!deepEqual(podSpecMutableStripped(out.spec), podSpecMutableStripped(cur.spec))) {
        const why =
          'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,' +
          '`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';
        throw new ApiError(
          statusObject(422, `Pod "${name}" is invalid: spec: Forbidden: ${why}`, 'Invalid', {
            name,
            kind: 'Pod',
            causes: [{ reason: 'FieldValueForbidden', message: `Forbidden: ${why}`, field: 'spec' }],
          }),
        );
      }
    }
    if (deepEqual(out, cur)) return clone(cur); // a no-op patch changes nothing, not even the resourceVersion
    if (rec.query.dryRun === 'All') {
      return clone({ ...out, metadata: { ...meta, resourceVersion: String(this.rv + 1) } });
    }
    meta.resourceVersion = String(++this.rv);
    r.store.set(k, out);
    this.changed(r, 'MODIFIED', out, cur);
    return clone(out);
  }

  // ------------------------------------------------------------------ events (core/v1)

  /** Remove every Event (of one namespace when given). */
  clearEvents(namespace?: string): void {
    for (const [k, o] of this.events.store) if (namespace === undefined || o.metadata.namespace === namespace) this.events.store.delete(k);
  }

  /** The core/v1 Events created over HTTP (or added), oldest first; in one namespace when given. */
  listEvents(namespace?: string): EventJson[] {
    return this.list(this.events, namespace).sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion)) as EventJson[];
  }

  /**
   * POST /api/v1/namespaces/{ns}/events, with the API server's checks of a core/v1 Event (ValidateEventCreate for
   * events without eventTime): a name (or generateName), involvedObject.namespace equal to the event's, type Normal
   * or Warning, reason and involvedObject.kind present.
   */
  private createEvent(namespace: string, rec: RecordedRequest): EventJson {
    const r = this.events;
    const body = rec.body;
    if (!isObject(body)) throw badRequest('Event in version "v1" cannot be handled as a Event: the body is not a JSON object');
    if ((body.apiVersion !== undefined && body.apiVersion !== 'v1') || (body.kind !== undefined && body.kind !== 'Event')) {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) and kind (${String(body.kind)}) do not match the expected v1, Event`);
    }
    const input = clone(body) as unknown as EventJson;
    const meta = (isObject(input.metadata) ? input.metadata : {}) as ObjectMetaJson;
    if (typeof meta.namespace === 'string' && meta.namespace !== '' && meta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    meta.namespace = namespace;
    let name = typeof meta.name === 'string' ? meta.name : '';
    if (!name && typeof meta.generateName === 'string' && meta.generateName) name = generatedName(meta.generateName);
    const causes: FieldCause[] = [];
    if (!name) causes.push({ field: 'metadata.name', what: 'Required value: name or generateName is required' });
    const io = isObject(input.involvedObject) ? input.involvedObject : undefined;
    if (!io) causes.push({ field: 'involvedObject', what: 'Required value' });
    else {
      if (typeof io.kind !== 'string' || io.kind === '') causes.push({ field: 'involvedObject.kind', what: 'Required value' });
      if (io.namespace !== namespace) causes.push({ field: 'involvedObject.namespace', what: `Invalid value: ${JSON.stringify(io.namespace ?? '')}: does not match event.namespace` });
    }
    if (input.type !== undefined && input.type !== 'Normal' && input.type !== 'Warning') {
      causes.push({ field: 'type', what: `Unsupported value: ${JSON.stringify(input.type)}: supported values: "Normal", "Warning"` });
    }
    if (typeof input.reason !== 'string' || input.reason === '') causes.push({ field: 'reason', what: 'Required value' });
    if (causes.length > 0) throw invalidError(r, name, causes);
    meta.name = name;
    if (r.store.has(key(namespace, name))) throw new ApiError(statusObject(409, `events "${name}" already exists`, 'AlreadyExists', detailsOf(r, name)));
    for (const f of ['uid', 'resourceVersion', 'creationTimestamp']) delete meta[f];
    input.metadata = meta;
    return this.add(r, input) as EventJson;
  }

  private discovery(path: string): unknown {
    const port = new URL(this.url).port;
    const gv = (r: Resource) => (r.group ? `${r.group}/${r.version}` : r.version);
    const resourceList = (rs: Resource[]) => ({
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: gv(rs[0] as Resource),
      resources: rs.flatMap((r) => [
        {
          name: r.plural,
          singularName: r.singular,
          namespaced: true,
          kind: r.kind,
          verbs: r === this.pods || r === this.configMaps ? ['create', 'delete', 'get', 'list', 'patch'] : r === this.events ? ['create', 'get', 'list'] : ['get', 'list', 'patch'],
          shortNames: r.shortNames,
          ...(r.builtin ? { categories: ['all'] } : {}),
        },
        ...(r === this.pods ? [{ name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] }] : []),
      ]),
    });
    const nadGroup = {
      name: NAD_GROUP,
      versions: [{ groupVersion: gv(this.nads), version: this.nads.version }],
      preferredVersion: { groupVersion: gv(this.nads), version: this.nads.version },
    };
    switch (path) {
      case '/api':
      case '/api/':
        return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${port}` }] };
      case '/api/v1':
      case '/api/v1/':
        return resourceList([this.pods, this.events, this.configMaps]);
      case '/apis':
      case '/apis/':
        return { kind: 'APIGroupList', apiVersion: 'v1', groups: [nadGroup] };
      case `/apis/${NAD_GROUP}`:
        return { kind: 'APIGroup', apiVersion: 'v1', ...nadGroup };
      case `/apis/${NAD_GROUP}/v1`:
        return resourceList([this.nads]);
      case '/version':
        return {
          major: '1',
          minor: '31',
          gitVersion: 'v1.31.0-stand-in',
          gitCommit: '0000000000000000000000000000000000000000',
          gitTreeState: 'clean',
          buildDate: '2024-08-13T00:00:00Z',
          goVersion: 'go1.22.5',
          compiler: 'gc',
          platform: 'linux/amd64',
        };
      default:
        return undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Certificates and kubeconfig text
// ---------------------------------------------------------------------------------------------------------------

async function makeCertificates(dir: string): Promise<{ caPem: string; caPath: string; certPem: string; keyPem: string; clientCertPath: string; clientKeyPath: string }> {
  const p = (f: string) => join(dir, f);
  const openssl = (args: string[]) => execFileP('openssl', args, { env: { ...process.env, OPENSSL_CONF: p('ca.cnf') } });
  await writeFile(
    p('ca.cnf'),
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      'x509_extensions = v3_ca',
      '[dn]',
      'CN = cni-attach stand-in API CA',
      '[v3_ca]',
      'basicConstraints = critical,CA:TRUE',
      'keyUsage = critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier = hash',
      '',
    ].join('\n'),
  );
  await writeFile(p('server.cnf'), ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', 'CN = 127.0.0.1', ''].join('\n'));
  await writeFile(
    p('server.ext'),
    [
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage = serverAuth',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid,issuer',
      'subjectAltName = IP:127.0.0.1,DNS:localhost',
      '',
    ].join('\n'),
  );
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-x509', '-new', ...ec, '-config', p('ca.cnf'), '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2']);
  await openssl(['req', '-new', ...ec, '-config', p('server.cnf'), '-keyout', p('server.key'), '-out', p('server.csr')]);
  await openssl([
    'x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'),
    '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', '2', '-extfile', p('server.ext'), '-out', p('server.crt'),
  ]);
  // a client certificate of the same CA, as a kubeconfig user's client-certificate (kubeadm's admin.conf has one)
  await writeFile(p('client.cnf'), ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', 'CN = stand-in-client', 'O = system:masters', ''].join('\n'));
  await writeFile(p('client.ext'), ['basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature,keyEncipherment', 'extendedKeyUsage = clientAuth', ''].join('\n'));
  await openssl(['req', '-new', ...ec, '-config', p('client.cnf'), '-keyout', p('client.key'), '-out', p('client.csr')]);
  await openssl([
    'x509', '-req', '-in', p('client.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'),
    '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', '2', '-extfile', p('client.ext'), '-out', p('client.crt'),
  ]);
  const [caPem, certPem, keyPem] = await Promise.all([readFile(p('ca.crt'), 'utf8'), readFile(p('server.crt'), 'utf8'), readFile(p('server.key'), 'utf8')]);
  await Promise.all(['ca.key', 'server.csr', 'client.csr'].map((f) => rm(p(f), { force: true })));
  return { caPem, caPath: p('ca.crt'), certPem, keyPem, clientCertPath: p('client.crt'), clientKeyPath: p('client.key') };
}

/** A small YAML emitter for kubeconfigs: block style, every scalar as JSON (which YAML reads as-is). */
function toYaml(v: unknown, indent = ''): string {
  const scalar = (x: unknown) => JSON.stringify(x);
  const isComplex = (x: unknown) => (isObject(x) && Object.keys(x).length > 0) || (Array.isArray(x) && x.length > 0);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return v
      .map((item) => {
        if (isObject(item) && Object.keys(item).length > 0) {
          const body = toYaml(item, `${indent}  `);
          return `${indent}- ${body.slice(indent.length + 2)}`;
        }
        return `${indent}- ${isComplex(item) ? `\n${toYaml(item, `${indent}  `)}` : toYaml(item)}`;
      })
      .join('\n');
  }
  if (isObject(v)) {
    if (Object.keys(v).length === 0) return '{}';
    return Object.entries(v)
      .map(([k, x]) => (isComplex(x) ? `${indent}${k}:\n${toYaml(x, Array.isArray(x) ? indent : `${indent}  `)}` : `${indent}${k}: ${toYaml(x)}`))
      .join('\n');
  }
  return scalar(v);
}

/** The DeleteOptions of a DELETE request (its body; none: {}); a body that is not a JSON object is a 400, as the API server's. */
function deleteOptionsOf(rec: RecordedRequest): Record<string, unknown> {
  if (rec.body !== undefined && !isObject(rec.body)) throw badRequest('DeleteOptions in version "v1" cannot be handled as a DeleteOptions: the body is not a JSON object');
  return isObject(rec.body) ? rec.body : {};
}

/** A dry run: `?dryRun=All` or DeleteOptions.dryRun ["All"]. */
function isDryRun(rec: RecordedRequest, opts: Record<string, unknown>): boolean {
  return rec.query.dryRun === 'All' || (Array.isArray(opts.dryRun) && opts.dryRun.includes('All'));
}

/**
 * DeleteOptions.preconditions (uid, resourceVersion) against the object as stored: 409 Conflict with the API server's
 * words when one differs (apiserver registry/generic/registry/store.go, Preconditions.Check in the storage layer).
 */
function checkPreconditions(r: Resource, name: string, cur: KubeObjectJson, opts: Record<string, unknown>): void {
  const pre = isObject(opts.preconditions) ? opts.preconditions : {};
  const conflict = (what: string, want: unknown, have: unknown) =>
    new ApiError(
      statusObject(
        409,
        `Operation cannot be fulfilled on ${groupResource(r)} "${name}": Precondition failed: ${what} in precondition: ${String(want)}, ${what} in object meta: ${String(have)}`,
        'Conflict',
        detailsOf(r, name),
      ),
    );
  if (typeof pre.uid === 'string' && pre.uid !== cur.metadata.uid) throw conflict('UID', pre.uid, cur.metadata.uid);
  if (typeof pre.resourceVersion === 'string' && pre.resourceVersion !== cur.metadata.resourceVersion) {
    throw conflict('ResourceVersion', pre.resourceVersion, cur.metadata.resourceVersion);
  }
}
