/** Fakes for the cluster ports: an in-memory KubeApi and a PodRuntime that knows a fixed set of sandboxes. */
import { ApiStatusError, NotFoundError, UnreachableError } from '../../src/errors.js';
import type { FakeExecutor } from './executor.js';
import { AlreadyExistsError, podList, podNotFound, type ConfigMapData, type DeleteOutcome, type KubeApi, type Nad, type Pod, type PodChange, type PodEvent, type PodList, type PodWatch } from '../../src/resolve/kube.js';
import type { PodRef, PodRuntime, Sandbox, SandboxInfo } from '../../src/resolve/runtime.js';

export function makePod(o: { name: string; namespace?: string; uid?: string; node?: string | null; phase?: string; hostNetwork?: boolean; annotations?: Record<string, string>; labels?: Record<string, string> }): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: o.name, namespace: o.namespace ?? 'default', uid: o.uid ?? `uid-${o.name}`, resourceVersion: '1', annotations: o.annotations ?? {}, labels: o.labels ?? {} },
    spec: { containers: [{ name: 'app', image: 'busybox' }], ...(o.node === null ? {} : { nodeName: o.node ?? 'node-1' }), ...(o.hostNetwork ? { hostNetwork: true } : {}) },
    status: { phase: o.phase ?? 'Running' },
  };
}

export class FakeKube implements KubeApi {
  readonly context = 'fake';
  readonly pods = new Map<string, Pod>();
  readonly nads = new Map<string, Nad>();
  readonly patches: { namespace: string; name: string; key: string; value: string | undefined }[] = [];
  failAnnotate = 0;

  constructor(readonly defaultNamespace = 'default') {}

  add(pod: Pod): Pod {
    this.pods.set(`${pod.metadata!.namespace}/${pod.metadata!.name}`, pod);
    return pod;
  }
  async getPod(namespace: string, name: string): Promise<Pod> {
    const p = this.pods.get(`${namespace}/${name}`);
    if (!p) throw new NotFoundError(podNotFound(namespace, name));
    return structuredClone(p);
  }
  listCalls = 0;
  /** The cluster's resourceVersion: a list gives it; each change delivered to the watches (podChanged) takes the next. */
  rv = 100;
  async listPods(namespace: string | undefined, labelSelector?: string): Promise<PodList> {
    this.listCalls++;
    return podList([...this.pods.values()].filter((p) => this.selects(p, namespace, labelSelector)).map((p) => structuredClone(p)), String(this.rv));
  }
  private selects(p: Pod, namespace: string | undefined, labelSelector: string | undefined): boolean {
    const want = (labelSelector ?? '').split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]);
    return (namespace === undefined || p.metadata!.namespace === namespace) && want.every(([k, v]) => p.metadata!.labels?.[k] === v);
  }

  /** Every watch of pods asked for: "NS|-A SELECTOR@RV". */
  readonly podWatches: string[] = [];
  /** The watches of pods open now. */
  readonly openWatches = new Set<{ namespace: string | undefined; selector: string | undefined; seen: (c: PodChange) => void; end: (e: Error | undefined) => void }>();
  /** What the next watches of pods are refused with (e.g. a 403 ApiStatusError), when set: `ended` resolves with it. */
  refuseWatch?: Error;
  watchPods(namespace: string | undefined, labelSelector: string | undefined, resourceVersion: string, seen: (c: PodChange) => void): PodWatch {
    this.podWatches.push(`${namespace ?? '-A'} ${labelSelector ?? ''}@${resourceVersion}`);
    let settle: (e: Error | undefined) => void = () => undefined;
    const ended = new Promise<Error | undefined>((r) => (settle = r));
    if (this.refuseWatch) {
      const e = this.refuseWatch;
      queueMicrotask(() => settle(e));
      return { stop: () => settle(undefined), ended };
    }
    const w = {
      namespace,
      selector: labelSelector,
      seen,
      end: (e: Error | undefined) => {
        if (!this.openWatches.delete(w)) return;
        settle(e);
      },
    };
    this.openWatches.add(w);
    return { stop: () => w.end(undefined), ended };
  }
  /** Send a change of pod to the open watches that select it, as the API server does (a new resourceVersion). */
  podChanged(type: PodChange['type'], pod: Pod): void {
    const rv = String(++this.rv);
    pod.metadata!.resourceVersion = rv;
    for (const w of this.openWatches) if (this.selects(pod, w.namespace, w.selector)) w.seen({ type, pod: structuredClone(pod), resourceVersion: rv });
  }
  /** Delete a pod with a grace period, as the API server does: deletionTimestamp = now + grace; MODIFIED to the watches. */
  terminatePod(namespace: string, name: string, requested = new Date(), grace = 30): void {
    const p = this.pods.get(`${namespace}/${name}`)!;
    p.metadata!.deletionTimestamp = new Date(requested.getTime() + grace * 1000);
    p.metadata!.deletionGracePeriodSeconds = grace;
    this.podChanged('MODIFIED', p);
  }
  /**
   * Change a pod's labels, as the API server's watch cache tells its watches (apiserver cacheWatcher
   * convertToWatchEvent): one whose selector it leaves gets DELETED with the pod as it was (its old labels) at the new
   * resourceVersion, one it enters ADDED, one it stays in MODIFIED.
   */
  relabelPod(namespace: string, name: string, labels: Record<string, string>): void {
    const p = this.pods.get(`${namespace}/${name}`)!;
    const before = structuredClone(p);
    p.metadata!.labels = labels;
    const rv = String(++this.rv);
    p.metadata!.resourceVersion = rv;
    for (const w of this.openWatches) {
      const was = this.selects(before, w.namespace, w.selector);
      const now = this.selects(p, w.namespace, w.selector);
      if (was && !now) w.seen({ type: 'DELETED', pod: { ...before, metadata: { ...before.metadata, resourceVersion: rv } }, resourceVersion: rv });
      else if (now) w.seen({ type: was ? 'MODIFIED' : 'ADDED', pod: structuredClone(p), resourceVersion: rv });
    }
  }
  /** Remove a pod at once (as its kubelet's final delete): DELETED to the watches. */
  removePod(namespace: string, name: string): void {
    const p = this.pods.get(`${namespace}/${name}`)!;
    this.pods.delete(`${namespace}/${name}`);
    this.podChanged('DELETED', p);
  }
  readonly created: Pod[] = [];
  readonly deleted: string[] = [];
  /** What a created pod becomes: Running at once (default), or stuck Pending, or Failed. */
  startAs: 'Running' | 'Pending' | 'Failed' = 'Running';
  /** Where pods/exec runs: argv (after the agent's nsenter/env wrapping is undone) on this fake node. */
  execOn?: FakeExecutor;
  readonly execs: string[][] = [];

  async listNads(namespace: string): Promise<string[]> {
    return [...this.nads.values()].filter((n) => n.namespace === namespace).map((n) => n.name);
  }
  /** Events recorded on pods, in order; failEvents > 0 makes that many fail (unreachable). */
  readonly events: { namespace: string; pod: string; uid?: string; type: string; reason: string; message: string; host: string }[] = [];
  failEvents = 0;
  async createPodEvent(pod: Pod, event: PodEvent, host: string): Promise<void> {
    if (this.failEvents > 0) {
      this.failEvents--;
      throw new UnreachableError(`recording an event on pod ${pod.metadata!.namespace}/${pod.metadata!.name}: the API server answered 403: events is forbidden`);
    }
    this.events.push({ namespace: pod.metadata!.namespace!, pod: pod.metadata!.name!, ...(pod.metadata?.uid ? { uid: pod.metadata.uid } : {}), ...event, host });
  }

  async createPod(namespace: string, pod: Pod): Promise<Pod> {
    if (this.refuseCreate) throw this.refuseCreate;
    const name = pod.metadata?.name ?? `${pod.metadata?.generateName ?? 'pod-'}${(this.created.length + 1).toString(36).padStart(5, 'x')}`;
    const made: Pod = structuredClone({ ...pod, metadata: { ...pod.metadata, name, namespace, uid: `uid-${name}`, resourceVersion: '1' }, status: { phase: this.startAs } });
    this.created.push(made);
    this.add(made);
    return structuredClone(made);
  }
  /** What the fake API server refuses pod creation with (e.g. a Pod Security 403), when set. */
  refuseCreate?: Error;
  readonly watches: string[] = [];
  /** Pods do not change by themselves here: the state is the answer, at once when settled, else after the timeout. */
  async watchPod(namespace: string, name: string, settled: (pod: Pod) => boolean, timeoutMs: number): Promise<{ pod: Pod | undefined; settled: boolean }> {
    this.watches.push(`${namespace}/${name}`);
    const p = this.pods.get(`${namespace}/${name}`);
    if (!p) return { pod: undefined, settled: false };
    if (settled(p)) return { pod: structuredClone(p), settled: true };
    await new Promise((r) => setTimeout(r, timeoutMs));
    return { pod: structuredClone(p), settled: false };
  }
  async deletePod(namespace: string, name: string, uid?: string): Promise<void> {
    // a uid precondition that does not hold: another pod of that name, left alone (the API server's 409)
    if (uid !== undefined && this.pods.has(`${namespace}/${name}`) && this.pods.get(`${namespace}/${name}`)!.metadata?.uid !== uid) return;
    this.deleted.push(`${namespace}/${name}`);
    this.pods.delete(`${namespace}/${name}`);
  }
  async exec(namespace: string, pod: string, _container: string, command: string[], stdin: string): Promise<{ code: number; stdout: string; stderr: string }> {
    // as the real client says it (resolve/kube.ts execError): the upgrade answered 404, nothing sent to the node
    if (!this.pods.has(`${namespace}/${pod}`)) {
      throw Object.assign(new ApiStatusError(`exec in pod ${namespace}/${pod}: the API server answered 404 (NotFound) to its WebSocket upgrade: pod ${namespace}/${pod} no longer exists (the agent pod was deleted): nothing was run in it; running the same command again starts a new agent pod`, 404, 'NotFound', 'NotFound'), { notSent: true });
    }
    this.execs.push(command);
    // undo: nsenter -t 1 -m -u -i -n -p -- env -i K=V… [timeout -s KILL Ns | sh -c '…' sh] argv…
    const rest = command.slice(command.indexOf('--') + 1);
    if (rest[0] !== 'env' || rest[1] !== '-i') throw new Error(`unexpected agent command ${command.join(' ')}`);
    let i = 2;
    const env: Record<string, string> = {};
    while (rest[i]?.includes('=')) {
      const kv = rest[i]!;
      env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
      i++;
    }
    let argv = rest.slice(i);
    if (argv[0] === 'timeout') argv = argv.slice(4);
    // a limit that is not whole seconds: sh -c '…exec timeout -s KILL "$cni_lim" "$@"' sh argv… (exec/shell.ts limitedArgv)
    else if (argv[0] === 'sh' && argv[1] === '-c' && argv[2]?.includes('exec timeout -s KILL')) argv = argv.slice(4);
    const r = await this.execOn!.run(argv, { env, stdin });
    return { code: r.code ?? 137, stdout: r.stdout, stderr: r.stderr };
  }
  readonly configMaps = new Map<string, ConfigMapData>();
  /** Every ConfigMap request: "list ns", "create ns/name", "patch ns/name", "delete ns/name@resourceVersion". */
  readonly configMapCalls: string[] = [];
  /** Every write in the order made: "annotate ns/name KEY", and the ConfigMap writes as in configMapCalls. */
  readonly writes: string[] = [];
  /** The resourceVersion the next ConfigMap write gives (each create and patch takes the next). */
  private configMapRv = 1;
  async listConfigMaps(namespace: string, labelSelector: string): Promise<ConfigMapData[]> {
    this.configMapCalls.push(`list ${namespace}`);
    const want = labelSelector.split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]);
    return [...this.configMaps.values()].filter((c) => c.namespace === namespace && want.every(([k, v]) => c.labels?.[k] === v)).map((c) => structuredClone(c));
  }
  async createConfigMap(cm: ConfigMapData): Promise<void> {
    this.configMapCalls.push(`create ${cm.namespace}/${cm.name}`);
    this.writes.push(`create ${cm.namespace}/${cm.name}`);
    if (this.configMaps.has(`${cm.namespace}/${cm.name}`)) throw new AlreadyExistsError(`configmap ${cm.name} exists`);
    this.configMaps.set(`${cm.namespace}/${cm.name}`, { ...structuredClone(cm), resourceVersion: String(this.configMapRv++) });
  }
  async patchConfigMapData(namespace: string, name: string, data: Record<string, string | null>): Promise<ConfigMapData> {
    this.configMapCalls.push(`patch ${namespace}/${name}`);
    this.writes.push(`patch ${namespace}/${name}`);
    const cm = this.configMaps.get(`${namespace}/${name}`);
    if (!cm) throw new NotFoundError(`configmap ${namespace}/${name} not found`);
    for (const [k, v] of Object.entries(data)) {
      if (v === null) delete cm.data[k];
      else cm.data[k] = v;
    }
    cm.resourceVersion = String(this.configMapRv++);
    return structuredClone(cm);
  }
  /** As the API server: deleted only while still at resourceVersion (else 'changed', left); none: 'gone'. */
  async deleteConfigMap(namespace: string, name: string, resourceVersion: string): Promise<DeleteOutcome> {
    this.configMapCalls.push(`delete ${namespace}/${name}@${resourceVersion}`);
    const cm = this.configMaps.get(`${namespace}/${name}`);
    if (!cm) return 'gone';
    if (cm.resourceVersion !== resourceVersion) return 'changed';
    this.configMaps.delete(`${namespace}/${name}`);
    return 'deleted';
  }
  async getNad(namespace: string, name: string): Promise<Nad> {
    const n = this.nads.get(`${namespace}/${name}`);
    if (!n) throw new NotFoundError(`NetworkAttachmentDefinition ${namespace}/${name}: not found`);
    return n;
  }
  async updatePodAnnotation(namespace: string, name: string, key: string, update: (c: string | undefined) => string | undefined): Promise<Pod> {
    if (this.failAnnotate > 0) {
      this.failAnnotate--;
      throw new UnreachableError(`annotating pod ${namespace}/${name}: the API server answered 500: boom`);
    }
    const p = this.pods.get(`${namespace}/${name}`);
    if (!p) throw new NotFoundError(`pod ${namespace}/${name} not found`);
    const anns = (p.metadata!.annotations ??= {});
    const next = update(anns[key]);
    if (next === undefined) delete anns[key];
    else anns[key] = next;
    this.patches.push({ namespace, name, key, value: next });
    this.writes.push(`annotate ${namespace}/${name} ${key}`);
    return structuredClone(p);
  }
  annotation(namespace: string, name: string, key: string): unknown {
    const v = this.pods.get(`${namespace}/${name}`)?.metadata?.annotations?.[key];
    return v === undefined ? undefined : JSON.parse(v);
  }
}

export class FakeRuntime implements PodRuntime {
  readonly name = 'docker';
  readonly where = 'fake Docker';
  readonly sandboxes = new Map<string, Sandbox & { uid: string }>();
  add(namespace: string, name: string, uid: string, s: Sandbox): void {
    this.sandboxes.set(`${namespace}/${name}`, { ...s, uid });
  }
  listCalls = 0;
  async listSandboxes(): Promise<SandboxInfo[]> {
    this.listCalls++;
    return [...this.sandboxes.entries()].map(([k, s]) => {
      const [namespace, name] = k.split('/') as [string, string];
      return { id: s.id, running: true, namespace, name, uid: s.uid };
    });
  }
  async findSandbox(pod: PodRef): Promise<Sandbox | undefined> {
    const s = this.sandboxes.get(`${pod.namespace}/${pod.name}`);
    if (!s) return undefined;
    if (s.uid !== pod.uid) throw new NotFoundError(`the sandbox of ${pod.namespace}/${pod.name} belongs to an earlier pod (uid ${s.uid})`);
    // the links of its namespace, where a test gives them as a node's look-up reads them (resolve/cri.ts)
    return { id: s.id, pid: s.pid, netnsPath: s.netnsPath, ...(s.links ? { links: s.links } : {}) };
  }
}
