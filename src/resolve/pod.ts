/**
 * A target given as a pod: read it from the API, refuse what must not be touched, find its sandbox through the runtime,
 * and build the CNI_ARGS kubelet would pass.
 */
import { hostname } from 'node:os';
import { NotFoundError, UnreachableError, UsageError } from '../errors.js';
import type { Executor } from '../exec/types.js';
import type { KubeApi, Pod } from './kube.js';
import type { Target } from './netns.js';
import type { PodRef, PodRuntime, Sandbox, SandboxInfo } from './runtime.js';

export interface PodTarget extends Target {
  pod: Pod;
  ref: PodRef;
  node: string;
  sandbox: Sandbox;
  runtime: string;
}

/** CNI_ARGS as kubelet and Multus pass them. */
export function podCniArgs(ref: PodRef, sandboxId: string): [string, string][] {
  return [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', ref.namespace],
    ['K8S_POD_NAME', ref.name],
    ['K8S_POD_INFRA_CONTAINER_ID', sandboxId],
    ['K8S_POD_UID', ref.uid],
  ];
}

/** Whether cached CNI_ARGS name this pod (and this uid, when known). */
export function argsMatchPod(args: [string, string][] | undefined, namespace: string, name: string, uid?: string): boolean {
  const m = new Map(args ?? []);
  return m.get('K8S_POD_NAMESPACE') === namespace && m.get('K8S_POD_NAME') === name && (uid === undefined || m.get('K8S_POD_UID') === uid);
}

export function podRef(pod: Pod, namespace: string, name: string): PodRef {
  const uid = pod.metadata?.uid;
  if (!uid) throw new UsageError(`pod ${namespace}/${name} has no metadata.uid`);
  const node = pod.spec?.nodeName;
  return { namespace, name, uid, ...(node ? { node } : {}) };
}

/** The checks that come before looking for a sandbox. */
export function refusePod(pod: Pod, namespace: string, name: string): void {
  const id = `pod ${namespace}/${name}`;
  if (pod.spec?.hostNetwork) {
    throw new UsageError(`${id} uses hostNetwork: its network namespace is the node's own, and attaching there would rewire the node; refused`);
  }
  if (!pod.spec?.nodeName) throw new NotFoundError(`${id} is not scheduled to a node yet`);
  const phase = pod.status?.phase ?? 'Unknown';
  if (phase !== 'Running') throw new UsageError(`${id} is ${phase}, not Running: only running pods have a network to attach to`);
}

/**
 * Ask each runtime in turn (--runtime auto gives several); the first with a sandbox wins. One that cannot be reached
 * (no Docker on a containerd node, no containerd on a Docker node) only matters when none of them could answer.
 */
export async function findSandbox(runtimes: PodRuntime[], ref: PodRef): Promise<{ sandbox: Sandbox; runtime: PodRuntime } | undefined> {
  let firstError: unknown;
  let answered = false;
  for (const rt of runtimes) {
    try {
      const sandbox = await rt.findSandbox(ref);
      answered = true;
      if (sandbox) return { sandbox, runtime: rt };
    } catch (e) {
      if (runtimes.length === 1 || !(e instanceof UnreachableError)) throw e;
      firstError ??= e;
    }
  }
  if (!answered && firstError) throw firstError;
  return undefined;
}

/**
 * Every sandbox the runtimes here know, one list each. All must answer: cni-gc frees what has no sandbox, so a runtime
 * that cannot be asked must stop it rather than make every attachment look dead.
 */
export async function listAllSandboxes(runtimes: PodRuntime[]): Promise<SandboxInfo[]> {
  return (await Promise.all(runtimes.map((r) => r.listSandboxes()))).flat();
}

export async function podTarget(
  api: KubeApi,
  runtimes: PodRuntime[],
  executor: Executor,
  namespace: string,
  name: string,
  thisHost = hostname(),
): Promise<PodTarget> {
  return podTargetOf(await api.getPod(namespace, name), runtimes, executor, namespace, name, thisHost);
}

/** The same for a pod already read (a batch lists them once). */
export async function podTargetOf(
  pod: Pod,
  runtimes: PodRuntime[],
  executor: Executor,
  namespace: string,
  name: string,
  thisHost = hostname(),
): Promise<PodTarget> {
  refusePod(pod, namespace, name);
  const ref = podRef(pod, namespace, name);
  const node = pod.spec!.nodeName!;
  const found = await findSandbox(runtimes, ref);
  if (!found) {
    const looked = runtimes.map((r) => r.where).join(', ');
    if (node !== thisHost && !runtimes.some((r) => r.name === 'agent')) {
      throw new NotFoundError(
        `pod ${namespace}/${name} runs on node ${node}, and this host (${thisHost}) has no sandbox for it in ${looked}`,
        { fix: { setting: 'agentRuntime', advice: `run cni-attach on ${node}, or reach it through an agent pod` } },
      );
    }
    throw new NotFoundError(`no running sandbox of pod ${namespace}/${name} (uid ${ref.uid}, node ${node}) found in ${looked}`);
  }
  const { sandbox, runtime } = found;
  return {
    netnsPath: sandbox.netnsPath,
    containerId: sandbox.id,
    executor: sandbox.executor ?? executor,
    describe: `pod ${namespace}/${name}`,
    pod,
    ref,
    node,
    sandbox,
    runtime: runtime.name,
  };
}
