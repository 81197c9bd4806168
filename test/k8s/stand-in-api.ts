/**
 * A stand-in for the Kubernetes API server, for tests: an HTTP(S) server on 127.0.0.1 that serves real
 * Kubernetes API JSON (objects, lists, Status errors) from an in-memory store, to the real @kubernetes/client-node.
 *
 *   const api = await StandInApiServer.start();          // TLS with a fresh CA, bearer token, kubeconfig written
 *   api.addPod(makePod({ name: 'web', labels: { app: 'web' } }));
 *   kc.loadFromFile(api.kubeconfigPath);
 *   ...
 *   await api.stop();                                    // closes every socket (hanging ones too), removes the temp dir
 *
 * What it serves (everything else is a 404/405 Status, like the real thing):
 *   GET   /api, /api/v1, /apis, /apis/k8s.cni.cncf.io[/v1], /version, /healthz|/livez|/readyz
 *   GET   /api/v1/pods                                   (labelSelector, fieldSelector, limit/continue)
 *   GET   /api/v1/namespaces/{ns}/pods                   (same)
 *   GET   /api/v1/namespaces/{ns}/pods/{name}
 *   PATCH /api/v1/namespaces/{ns}/pods/{name}            (merge, strategic-merge (≈ merge), json-patch; dryRun=All)
 *   the same four for /apis/k8s.cni.cncf.io/v1/[namespaces/{ns}/]network-attachment-definitions[/{name}]
 *
 * Semantics kept from the real API server: a cluster-wide resourceVersion that increments on every change (and not on
 * a no-op patch); metadata.resourceVersion in a patch is an optimistic-concurrency precondition (409 Conflict when
 * stale); a patch cannot change name/namespace/uid, pod status (ignored on the main resource) or most of pod spec
 * (422); annotation/label keys are validated as qualified names and annotations are limited to 256 KiB in total (422);
 * list items of built-in kinds carry no apiVersion/kind, custom-resource items do.
 *
 * Not a real API server: no watch, no create/update/delete over HTTP (use addPod/updatePod/deletePod), no
 * strategic-merge list merging (lists are replaced, as in a merge patch), no server-side apply (415).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

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
  /** Whether the request carried the server's bearer token. */
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
  /** Answer with this status code and a Status object (reason from the code), optionally after a delay. */
  | { code: number; delayMs?: number; message?: string }
  /** Handle the request normally, but only after this delay. */
  | { delayMs: number }
  /** Never answer (until the client gives up or the server stops). */
  | { hang: true };

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
 * Parse a label selector the way k8s.io/apimachinery/pkg/labels.Parse does: comma-separated requirements
 * `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k>1`, `k<1`. Throws an Error on bad syntax.
 */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  const s = selector;
  const n = s.length;
  let i = 0;
  const reqs: LabelRequirement[] = [];
  const fail = (msg: string): never => {
    throw new Error(`unable to parse requirement: ${msg}`);
  };
  const skipWs = () => {
    while (i < n && /\s/.test(s[i] ?? '')) i++;
  };
  const ident = () => {
    const start = i;
    while (i < n && !/[\s,()=!<>]/.test(s[i] ?? '')) i++;
    return s.slice(start, i);
  };
  const at = () => (i < n ? `'${s[i]}'` : 'EOS');
  const checkKey = (k: string) => {
    const e = qualifiedNameError(k);
    if (e) fail(`<nil>: Invalid value: "${k}": ${e}`);
  };
  const checkValue = (v: string) => {
    const e = labelValueError(v);
    if (e) fail(`values[0][${reqs.length}]: Invalid value: "${v}": ${e}`);
  };

  skipWs();
  if (i === n) return [];
  for (;;) {
    skipWs();
    if (s[i] === '!') {
      i++;
      skipWs();
      const key = ident();
      if (!key) fail(`found ${at()}, expected: identifier`);
      checkKey(key);
      reqs.push({ key, op: '!', values: [] });
    } else {
      const key = ident();
      if (!key) fail(`found ${at()}, expected: !, identifier, or 'end of string'`);
      checkKey(key);
      skipWs();
      if (i === n || s[i] === ',') {
        reqs.push({ key, op: 'exists', values: [] });
      } else if (s.startsWith('==', i) || s.startsWith('!=', i) || s[i] === '=') {
        const op = s.startsWith('!=', i) ? '!=' : '=';
        i += s.startsWith('==', i) || op === '!=' ? 2 : 1;
        skipWs();
        const v = ident();
        checkValue(v);
        reqs.push({ key, op, values: [v] });
      } else if (s[i] === '>' || s[i] === '<') {
        const op = s[i] === '>' ? 'gt' : 'lt';
        i++;
        skipWs();
        const v = ident();
        if (!/^-?\d+$/.test(v)) fail(`for 'Gt', 'Lt' operators, the value must be an integer`);
        reqs.push({ key, op, values: [v] });
      } else {
        const word = ident();
        if (word !== 'in' && word !== 'notin') fail(`found '${word || s[i]}', expected: in, notin, =, ==, !=, gt, lt`);
        const op = word as 'in' | 'notin';
        skipWs();
        if (s[i] !== '(') fail(`found ${at()}, expected: '('`);
        i++;
        const values: string[] = [];
        skipWs();
        if (s[i] === ')') fail(`for 'in', 'notin' operators, values set can't be empty`);
        for (;;) {
          skipWs();
          const v = ident();
          checkValue(v);
          values.push(v);
          skipWs();
          if (s[i] === ',') {
            i++;
            continue;
          }
          if (s[i] === ')') {
            i++;
            break;
          }
          fail(`found ${at()}, expected: ',' or ')'`);
        }
        reqs.push({ key, op, values });
      }
    }
    skipWs();
    if (i === n) break;
    if (s[i] !== ',') fail(`found ${at()}, expected: ',' or 'end of string'`);
    i++;
  }
  return reqs;
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

const NAD_GROUP = 'k8s.cni.cncf.io';
const key = (ns: string, name: string) => `${ns}/${name}`;
const groupResource = (r: Resource) => (r.group ? `${r.plural}.${r.group}` : r.plural);
const qualifiedKind = (r: Resource) => (r.group ? `${r.kind}.${r.group}` : r.kind);
const detailsOf = (r: Resource, name: string) => (r.group ? { name, group: r.group, kind: r.plural } : { name, kind: r.plural });

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
  /** The temp dir (certificates, kubeconfigs); removed by stop(). */
  readonly dir: string;
  /** Every request received, in order (also unauthorized and failed ones). */
  readonly requests: RecordedRequest[] = [];

  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly interceptors: Interceptor[] = [];
  private readonly pods: Resource;
  private readonly nads: Resource;
  private readonly resources: Resource[];
  private rv = 1000;
  private kubeconfigCount = 0;
  private stopped = false;

  private constructor(args: { server: http.Server; url: string; dir: string; token: string; caPem?: string; caPath?: string }) {
    this.server = args.server;
    this.url = args.url;
    this.dir = args.dir;
    this.token = args.token;
    this.caPem = args.caPem;
    this.caPath = args.caPath;
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
    this.resources = [this.pods, this.nads];
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          this.send(res, 500, statusObject(500, `Internal error occurred: ${(e as Error)?.stack ?? String(e)}`, 'InternalError'));
        }
      });
    });
  }

  static async start(opts: { tls?: boolean } = {}): Promise<StandInApiServer> {
    const tls = opts.tls ?? true;
    const dir = await mkdtemp(join(tmpdir(), 'cni-attach-stand-in-api-'));
    try {
      let server: http.Server;
      let caPem: string | undefined;
      let caPath: string | undefined;
      if (tls) {
        const certs = await makeCertificates(dir);
        caPem = certs.caPem;
        caPath = certs.caPath;
        server = https.createServer({ key: certs.keyPem, cert: certs.certPem });
      } else {
        server = http.createServer();
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
      const api = new StandInApiServer({ server, url, dir, token: randomBytes(24).toString('hex'), caPem, caPath });
      await api.writeKubeconfig({ fileName: 'kubeconfig' });
      return api;
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** Close the server and every connection (also hanging requests), and remove the temp dir. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
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

  deletePod(namespace: string, name: string): boolean {
    const ok = this.pods.store.delete(key(namespace, name));
    if (ok) this.rv++;
    return ok;
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
    const ok = this.nads.store.delete(key(namespace, name));
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
    return clone(next);
  }

  private list(r: Resource, namespace?: string): KubeObjectJson[] {
    return [...r.store.entries()]
      .filter(([, o]) => namespace === undefined || o.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => clone(o));
  }

  // ------------------------------------------------------------------ faults and hooks

  /**
   * The next matching request (or the next `match.times`) gets `response`: a Status with that code (default 500
   * InternalError), optionally after delayMs; or only a delay; or no answer at all until the client gives up or the
   * server stops. Interceptors apply in the order they were added, at most one per request, before authentication.
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

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const rawUrl = req.url ?? '/';
    const u = new URL(rawUrl, 'http://stand-in');
    let path: string;
    try {
      path = decodeURIComponent(u.pathname);
    } catch {
      path = u.pathname;
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
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      query: Object.fromEntries(u.searchParams),
      contentType,
      body,
      rawBody,
      headers: req.headers,
      authorized: m?.[1] === this.token,
    };
    this.requests.push(rec);

    const hit = this.interceptors.find(
      (i) => i.remaining > 0 && (!i.method || i.method.toUpperCase() === rec.method.toUpperCase()) && (!i.pathIncludes || path.includes(i.pathIncludes) || rawUrl.includes(i.pathIncludes)),
    );
    if (hit) {
      hit.remaining--;
      if (hit.remaining <= 0) this.interceptors.splice(this.interceptors.indexOf(hit), 1);
      if (hit.action.kind === 'hook') {
        await hit.action.fn(rec);
      } else {
        const f = hit.action.response;
        if ('hang' in f) return; // never answer; stop() destroys the socket
        if (f.delayMs) await this.sleep(f.delayMs);
        if (this.stopped) return;
        if ('code' in f) {
          const msg = f.message ?? DEFAULT_MESSAGES[f.code] ?? `injected by the stand-in API server (HTTP ${f.code})`;
          const details = f.code === 500 ? { causes: [{ message: msg }] } : undefined;
          this.send(res, f.code, statusObject(f.code, msg, undefined, details));
          return;
        }
      }
    }

    const method = rec.method.toUpperCase();
    if (method === 'GET' && ['/healthz', '/livez', '/readyz'].includes(path)) {
      this.send(res, 200, 'ok', 'text/plain; charset=utf-8');
      return;
    }
    if (!rec.authorized) {
      this.send(res, 401, statusObject(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    try {
      const [code, out] = this.route(method, path, rec);
      this.send(res, code, out);
    } catch (e) {
      if (e instanceof ApiError) this.send(res, e.status.code, e.status);
      else throw e;
    }
  }

  private notFoundRoute(): ApiError {
    return new ApiError(statusObject(404, 'the server could not find the requested resource', 'NotFound', {}));
  }

  private route(method: string, path: string, rec: RecordedRequest): [number, unknown] {
    const discovery = this.discovery(path);
    if (discovery !== undefined) {
      if (method !== 'GET') throw new ApiError(statusObject(405, 'the server does not allow this method on the requested resource', 'MethodNotAllowed', {}));
      return [200, discovery];
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
    if (!m) throw this.notFoundRoute();
    const [, coreVersion, group = '', groupVersion, namespace, plural, name, subresource] = m;
    const version = coreVersion ?? groupVersion;
    const r = this.resources.find((x) => x.group === group && x.version === version && x.plural === plural);
    if (!r || subresource !== undefined) throw this.notFoundRoute();
    if (rec.query.watch === 'true' || rec.query.watch === '1') {
      throw badRequest('watch is not supported by the stand-in API server');
    }
    if (name === undefined) {
      if (method !== 'GET') throw new ApiError(statusObject(405, 'the server does not allow this method on the requested resource', 'MethodNotAllowed', {}));
      return [200, this.listResponse(r, namespace, rec.query)];
    }
    if (namespace === undefined) throw this.notFoundRoute(); // namespaced resources only
    if (method === 'GET') {
      const o = r.store.get(key(namespace, name));
      if (!o) throw this.notFound(r, name);
      return [200, clone(o)];
    }
    if (method === 'PATCH') return [200, this.patch(r, namespace, name, rec)];
    throw new ApiError(statusObject(405, 'the server does not allow this method on the requested resource', 'MethodNotAllowed', {}));
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

    const invalid = (field: string, what: string) =>
      new ApiError(
        statusObject(422, `${qualifiedKind(r)} "${name}" is invalid: ${field}: ${what}`, 'Invalid', {
          name,
          ...(r.group ? { group: r.group } : {}),
          kind: r.kind,
          causes: [{ reason: what.startsWith('Too long') ? 'FieldValueTooLong' : 'FieldValueInvalid', message: what, field }],
        }),
      );
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
    return clone(out);
  }

  private discovery(path: string): unknown {
    const port = new URL(this.url).port;
    const gv = (r: Resource) => (r.group ? `${r.group}/${r.version}` : r.version);
    const resourceList = (rs: Resource[]) => ({
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: gv(rs[0] as Resource),
      resources: rs.map((r) => ({
        name: r.plural,
        singularName: r.singular,
        namespaced: true,
        kind: r.kind,
        verbs: ['get', 'list', 'patch'],
        shortNames: r.shortNames,
        ...(r.builtin ? { categories: ['all'] } : {}),
      })),
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
        return resourceList([this.pods]);
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

async function makeCertificates(dir: string): Promise<{ caPem: string; caPath: string; certPem: string; keyPem: string }> {
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
  const [caPem, certPem, keyPem] = await Promise.all([readFile(p('ca.crt'), 'utf8'), readFile(p('server.crt'), 'utf8'), readFile(p('server.key'), 'utf8')]);
  await Promise.all(['ca.key', 'server.csr'].map((f) => rm(p(f), { force: true })));
  return { caPem, caPath: p('ca.crt'), certPem, keyPem };
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
