/**
 * The Kubernetes API port and its @kubernetes/client-node adapter: read pods and NetworkAttachmentDefinitions,
 * merge-patch pod annotations. kubectl's conventions for --kubeconfig, $KUBECONFIG, --context, -n and in-cluster config.
 * client-node is imported lazily: it costs hundreds of milliseconds and the --netns path never needs it.
 */
import type { KubeConfig, RequestContext, SecurityAuthentication, V1Pod } from '@kubernetes/client-node';
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import { CniAttachError, NotFoundError, UnreachableError, UsageError } from '../errors.js';
import type { PodExec } from '../exec/kube-exec.js';

export type Pod = V1Pod;

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
  /** Pods of a namespace (every namespace when undefined) matching a label selector: one request. */
  listPods(namespace: string | undefined, labelSelector?: string): Promise<Pod[]>;
  getNad(namespace: string, name: string): Promise<Nad>;
  /** Create a pod (metadata.generateName works); resolves with the created object. */
  createPod(namespace: string, pod: Pod): Promise<Pod>;
  /** Delete a pod at once (grace period 0); a pod already gone is not an error. */
  deletePod(namespace: string, name: string): Promise<void>;
  /**
   * Read-modify-write one annotation of a pod, with the pod's resourceVersion as precondition (retried on conflict).
   * update gets the current value (undefined when absent) and returns the new one (undefined removes it).
   * `known` is the pod as just read: its annotation and resourceVersion serve for the first try (saving a GET).
   */
  updatePodAnnotation(
    namespace: string,
    name: string,
    key: string,
    update: (current: string | undefined) => string | undefined,
    known?: Pod,
  ): Promise<void>;
}

export interface KubeOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  requestTimeoutMs?: number;
}

interface ApiErrorShape {
  code?: number;
  body?: unknown;
  message?: string;
  cause?: { code?: string; message?: string };
}

function statusMessage(e: ApiErrorShape): string | undefined {
  let body: unknown = e.body;
  if (typeof body === 'string') {
    const text = body;
    try {
      body = JSON.parse(text);
    } catch {
      return text.trim() || undefined;
    }
  }
  const m = (body as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' ? m : undefined;
}

/** Map a client-node failure to our exit codes: 404 → 3, anything about reaching or being let into the API → 4. */
export function apiError(e: unknown, what: string, server: string): CniAttachError {
  if (e instanceof CniAttachError) return e;
  const err = e as ApiErrorShape;
  if (typeof err.code === 'number') {
    const msg = statusMessage(err) ?? `HTTP ${err.code}`;
    if (err.code === 404) return new NotFoundError(`${what}: ${msg}`);
    return new UnreachableError(`${what}: the API server answered ${err.code}: ${msg}`, { cause: e });
  }
  const reason = err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
  return new UnreachableError(`${what}: cannot reach the API server at ${server}: ${reason}`, { cause: e });
}

function withTimeout<T>(p: Promise<T>, ms: number | undefined, what: string): Promise<T> {
  if (!ms) return p;
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnreachableError(`${what}: no answer from the API server within ${ms / 1000}s`, { fix: { setting: 'requestTimeout' } })), ms);
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
 * lets client-node do all of it as before, then hands the request one keep-alive agent per set of TLS options. Agents
 * of another kind (a proxy in the kubeconfig, plain http) are left as client-node made them.
 */
export function sharedAgentAuth(kc: Pick<KubeConfig, 'applySecurityAuthentication'>): SecurityAuthentication {
  let shared: { key: string; agent: HttpsAgent } | undefined;
  return {
    getName: () => 'kubeconfig authentication, one keep-alive agent',
    async applySecurityAuthentication(context: RequestContext) {
      await kc.applySecurityAuthentication(context);
      const agent = context.getAgent();
      if (!agent || agent.constructor !== HttpsAgent) return;
      const options = (agent as HttpsAgent).options;
      const key = tlsKey(options);
      if (shared?.key !== key) shared = { key, agent: new HttpsAgent({ ...options, keepAlive: true }) };
      context.setAgent(shared.agent);
    },
  };
}

export async function connectKube(opts: KubeOptions, env: NodeJS.ProcessEnv = process.env): Promise<KubeApi> {
  const k8s = await import('./k8s-client.js');
  const kc = new k8s.KubeConfig();
  try {
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    else if (env.KUBECONFIG || !env.KUBERNETES_SERVICE_HOST) kc.loadFromDefault();
    else kc.loadFromCluster();
  } catch (e) {
    throw new UsageError(`cannot load kubeconfig${opts.kubeconfig ? ` ${opts.kubeconfig}` : ''}: ${(e as Error).message}`);
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) throw new UsageError(`no context named "${opts.context}" in the kubeconfig`, { fix: { setting: 'context' } });
    kc.setCurrentContext(opts.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new UsageError('no Kubernetes cluster configured', { fix: { setting: 'kubeconfig', advice: 'name a kubeconfig, set $KUBECONFIG, or run inside a pod' } });
  }
  const server = cluster.server;
  const ctxObj = kc.getContextObject(kc.getCurrentContext());
  const defaultNamespace = opts.namespace ?? ctxObj?.namespace ?? 'default';
  // as kc.makeApiClient, with one keep-alive connection for all requests of this process
  const config = k8s.createConfiguration({ baseServer: new k8s.ServerConfiguration(server, {}), authMethods: { default: sharedAgentAuth(kc) } });
  const core = new k8s.CoreV1Api(config);
  const custom = new k8s.CustomObjectsApi(config);
  const t = opts.requestTimeoutMs;

  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await withTimeout(fn(), t, what);
    } catch (e) {
      throw apiError(e, what, server);
    }
  };

  return {
    defaultNamespace,
    context: kc.getCurrentContext(),
    getPod: (namespace, name) => call(`pod ${namespace}/${name}`, () => core.readNamespacedPod({ name, namespace })),
    async listPods(namespace, labelSelector) {
      const what = `listing pods${namespace ? ` in ${namespace}` : ''}${labelSelector ? ` matching ${labelSelector}` : ''}`;
      const sel = labelSelector ? { labelSelector } : {};
      const list = await call(what, () =>
        namespace ? core.listNamespacedPod({ namespace, ...sel }) : core.listPodForAllNamespaces({ ...sel }),
      );
      // list items carry no apiVersion/kind, and their namespace only in metadata
      return list.items.map((p) => ({ ...p, metadata: { ...p.metadata, namespace: p.metadata?.namespace ?? namespace } }));
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
    createPod: (namespace, pod) => call(`creating a pod in ${namespace}`, () => core.createNamespacedPod({ namespace, body: pod })),
    async deletePod(namespace, name) {
      try {
        await call(`deleting pod ${namespace}/${name}`, () => core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }));
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
    },
    async exec(namespace, pod, container, command, stdin) {
      const what = `exec in pod ${namespace}/${pod}`;
      const { PassThrough, Readable } = await import('node:stream');
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const stdout = new PassThrough().on('data', (c: Buffer) => out.push(c));
      const stderr = new PassThrough().on('data', (c: Buffer) => err.push(c));
      let status: { status?: string; reason?: string; message?: string; details?: { causes?: { reason?: string; message?: string }[] } } | undefined;
      const done = new Promise<void>((resolve, reject) => {
        new k8s.Exec(kc)
          .exec(namespace, pod, container, command, stdout, stderr, Readable.from([Buffer.from(stdin)]), false, (s) => {
            status = s;
          })
          .then((ws) => {
            ws.on('close', () => resolve());
            ws.on('error', (e: Error) => reject(e));
          }, reject);
      });
      try {
        await withTimeout(done, t ? Math.max(t, 120_000) : undefined, what);
      } catch (e) {
        throw apiError(e, what, server);
      }
      const result = { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
      if (status?.status === 'Success') return { code: 0, ...result };
      const exit = status?.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
      if (status?.reason === 'NonZeroExitCode' && exit !== undefined) return { code: Number(exit), ...result };
      throw new UnreachableError(`${what}: ${status?.message ?? 'the connection closed without an exit status'}`);
    },
    async updatePodAnnotation(namespace, name, key, update, known) {
      const what = `annotating pod ${namespace}/${name}`;
      const strategy = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
      for (let attempt = 0; ; attempt++) {
        const pod = attempt === 0 && known?.metadata?.resourceVersion ? known : await call(what, () => core.readNamespacedPod({ name, namespace }));
        const current = pod.metadata?.annotations?.[key];
        const next = update(current);
        if (next === current) return;
        const body = { metadata: { resourceVersion: pod.metadata?.resourceVersion, annotations: { [key]: next ?? null } } };
        try {
          await withTimeout(core.patchNamespacedPod({ name, namespace, body }, strategy), t, what);
          return;
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
