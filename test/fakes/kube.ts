/** Fakes for the cluster ports: an in-memory KubeApi and a PodRuntime that knows a fixed set of sandboxes. */
import { NotFoundError, UnreachableError } from '../../src/cni/errors.js';
import type { KubeApi, Nad, Pod } from '../../src/target/kube.js';
import type { PodRef, PodRuntime, Sandbox, SandboxInfo } from '../../src/target/runtime.js';

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
    if (!p) throw new NotFoundError(`pod ${namespace}/${name}: pods "${name}" not found`);
    return structuredClone(p);
  }
  listCalls = 0;
  async listPods(namespace: string | undefined, labelSelector?: string): Promise<Pod[]> {
    this.listCalls++;
    const want = (labelSelector ?? '').split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]);
    return [...this.pods.values()]
      .filter((p) => namespace === undefined || p.metadata!.namespace === namespace)
      .filter((p) => want.every(([k, v]) => p.metadata!.labels?.[k] === v))
      .map((p) => structuredClone(p));
  }
  async getNad(namespace: string, name: string): Promise<Nad> {
    const n = this.nads.get(`${namespace}/${name}`);
    if (!n) throw new NotFoundError(`NetworkAttachmentDefinition ${namespace}/${name}: not found`);
    return n;
  }
  async updatePodAnnotation(namespace: string, name: string, key: string, update: (c: string | undefined) => string | undefined): Promise<void> {
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
    return { id: s.id, pid: s.pid, netnsPath: s.netnsPath };
  }
}
