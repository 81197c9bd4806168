/** The container runtime port: find a pod's sandbox (the pause container whose network namespace is the pod's). */

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

export interface Sandbox {
  /** The sandbox (pause) container id: CNI_CONTAINERID and K8S_POD_INFRA_CONTAINER_ID, as kubelet uses it. */
  id: string;
  pid: number;
  netnsPath: string;
}

export interface PodRuntime {
  /** "docker", "kind", … */
  readonly name: string;
  /** Where it looks, for messages: "Docker at unix:///var/run/docker.sock". */
  readonly where: string;
  /** The running sandbox of this pod (matching its uid), or undefined when this runtime has none. */
  findSandbox(pod: PodRef): Promise<Sandbox | undefined>;
  /**
   * Every pod sandbox this runtime has (running or not), in one request. After it, findSandbox answers from this list
   * (a batch costs one runtime list, not one per pod).
   */
  listSandboxes(): Promise<SandboxInfo[]>;
}

export interface SandboxInfo {
  id: string;
  running: boolean;
  namespace?: string;
  name?: string;
  uid?: string;
}
