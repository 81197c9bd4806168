/** The container runtime port: find a pod's sandbox (the pause container whose network namespace is the pod's). */
import type { Executor } from '../exec/types.js';
import type { Pod } from './kube.js';

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
  /** spec.nodeName, when scheduled. */
  node?: string;
  /** The runtime of this host its containers run in, when their ids name one (runtimeOfPod): 'docker' or 'cri'. */
  runtime?: string;
}

export interface Sandbox {
  /** The sandbox (pause) container id: CNI_CONTAINERID and K8S_POD_INFRA_CONTAINER_ID, as kubelet uses it. */
  id: string;
  pid: number;
  /** The network namespace as seen where the plugins run. */
  netnsPath: string;
  /**
   * Where the plugins must run when that is not this host: inside a kind node container, or through an agent pod on
   * the pod's node. The plugins, the IPAM state and the result cache of that node are used there.
   */
  executor?: Executor;
  /** The names of the links in its network namespace when the look-up read them (then no command asks again). */
  links?: string[];
}

export interface PodRuntime {
  /** "docker", "kind", … */
  readonly name: string;
  /** Where it looks, for messages: "Docker at unix:///var/run/docker.sock". */
  readonly where: string;
  /**
   * Where it looked for a pod of `node`, when that says more than `where` (the agent: "crictl/ctr on node node-c,
   * through an agent pod in kube-system"), for the message of a sandbox not found.
   */
  whereFor?(node: string): string;
  /**
   * The running sandbox of this pod (matching its uid), or undefined when this runtime has none. `via`: a session of
   * this runtime (session()) to run the look-up through; the sandbox's executor is then that session.
   */
  findSandbox(pod: PodRef, via?: Executor): Promise<Sandbox | undefined>;
  /**
   * Every pod sandbox this runtime has (running or not), in one request (cni-gc; the docker runtime: after it,
   * findSandbox answers from this list, so a batch costs one Docker list, not one per pod).
   */
  listSandboxes(): Promise<SandboxInfo[]>;
  /**
   * A batch (-l) is about to work on these pods: look up their sandboxes at once, one command per node for all of a
   * node's pods (resolve/node-lookups.ts), `prepare` declaring on each node's session what the engine will read there
   * (it rides on that command). After it, findSandbox and session answer these pods from what came back. Resolves with
   * the uids of the pods it has an answer for (a sandbox, or a refusal); never rejects (a node that fails leaves its
   * pods to look themselves up).
   */
  lookUpSandboxes?(pods: PodRef[], prepare?: (exec: Executor) => void): Promise<Set<string>>;
  /**
   * Where a node's plugins and cache are, when that is not this host (kind: the node's container). Lets detach reach
   * the cache of a pod whose sandbox is gone. Undefined for runtimes of this host.
   */
  nodeExecutor?(nodeName: string): Promise<Executor | undefined>;
  /**
   * A batch is about to work on pods of these nodes: get to them all at once (agent: start the agent pods in parallel;
   * kind: look at the node containers). Failures are not thrown here: each pod of a node that cannot be reached fails
   * on its own when its sandbox is looked for.
   */
  reachNodes?(nodes: string[]): Promise<void>;
  /**
   * The command is about to reach several nodes at once (cni-list, cni-gc): the notes this runtime says of each node it
   * reaches (the agent: "node node-a is not this host …") are held and said as one, naming them, when the returned end
   * is called (idempotent).
   */
  groupNotes?(): () => void;
  /**
   * Asked only after the runtimes before it found no sandbox, and its errors are the answer (the agent behind
   * --runtime auto: when it cannot reach the node, saying so beats "not found").
   */
  readonly lastResort?: boolean;
  /** Whether it goes to this node at all (the agent for other nodes: not to this host); asked when present. */
  reaches?(node: string | undefined): boolean;
  /**
   * For a node reached by commands (a kind node container, an agent pod): a new batching session on it (exec/batch.ts)
   * for one engine operation, whose look-up and steps share round trips — in a batch, starting from the node's look-up
   * (lookUpSandboxes). Undefined when this runtime has no such node. `pod`: the pod it is for, for messages.
   */
  session?(nodeName: string, pod?: PodRef): Promise<Executor | undefined>;
}

export interface SandboxInfo {
  id: string;
  running: boolean;
  namespace?: string;
  name?: string;
  uid?: string;
}

/**
 * The runtimes of this host (PodRuntime.name) that make the sandboxes of each containerID type: the Pod API's
 * `status.containerStatuses[].containerID` is `<type>://<container_id>`, the type being the node's runtime (docker
 * through dockershim or cri-dockerd; containerd; cri-o) — --runtime docker asks Docker, --runtime cri crictl/ctr.
 */
const RUNTIME_OF_SCHEME: Record<string, string> = { docker: 'docker', containerd: 'cri', 'cri-o': 'cri' };

/** The runtime of this host (see RUNTIME_OF_SCHEME) that a pod's containers' ids name; undefined when they name none. */
export function runtimeOfPod(pod: Pod | undefined): string | undefined {
  const statuses = [...(pod?.status?.containerStatuses ?? []), ...(pod?.status?.initContainerStatuses ?? [])];
  const scheme = statuses.map((s) => /^([a-z0-9-]+):\/\//.exec(s.containerID ?? '')?.[1]).find((t) => t !== undefined);
  return scheme === undefined ? undefined : RUNTIME_OF_SCHEME[scheme];
}

/**
 * The runtime of this host that made a sandbox whose network namespace is `netns`, where its path tells: Docker's
 * (dockershim, cri-dockerd, and cni-attach's --runtime docker) is the pause container's /proc/PID/ns/net; containerd
 * and CRI-O pin theirs under /var/run/netns (/run/netns). undefined when the path is neither.
 */
function runtimeOfNetns(netns: string | undefined): string | undefined {
  if (netns === undefined) return undefined;
  if (/^\/proc\/\d+\/ns\/net$/.test(netns)) return 'docker';
  return /^\/(var\/)?run\/netns\//.test(netns) ? 'cri' : undefined;
}

/**
 * Whether runtime `name` (PodRuntime.name) may hold the sandbox of `pod` (undefined: a pod that is gone), attached
 * in network namespace `netns`: yes unless the pod's containers' ids name another runtime of this host
 * (runtimeOfPod), or, where they name none (a pod that is gone, or whose statuses name none yet), the namespace's
 * path does (runtimeOfNetns); always for a runtime that is not one of those (kind node containers, an agent: they run
 * any of them).
 */
export function runtimeMayHold(name: string, pod: Pod | undefined, netns?: string): boolean {
  const owner = runtimeOfPod(pod) ?? runtimeOfNetns(netns);
  return owner === undefined || owner === name || !Object.values(RUNTIME_OF_SCHEME).includes(name);
}
