/**
 * kind (and any cluster whose nodes are Docker containers named like the nodes): the pod's node is a local container;
 * its sandbox is found with crictl/ctr inside it, and the plugins run inside it too (its /opt/cni/bin, its IPAM state,
 * its /var/lib/cni cache), exactly where kubelet would have run them.
 */
import type Dockerode from 'dockerode';
import { DockerExecExecutor } from '../exec/docker-exec.js';
import { BatchingExecutor } from '../exec/batch.js';
import type { Executor } from '../exec/types.js';
import { UnreachableError } from '../errors.js';
import { CriSandboxes, noCriRuntime } from './cri.js';
import { NodeLookups } from './node-lookups.js';
import { dockerClient } from './docker.js';
import type { PodRef, PodRuntime, Sandbox, SandboxInfo } from './runtime.js';

export async function kindRuntime(host: string | undefined, env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000, trace?: (line: string) => void): Promise<PodRuntime> {
  const { docker, where } = await dockerClient(host, env, timeoutMs);
  // plugin runs may be silent for as long as --timeout allows: their exec streams get a client without a timeout
  const { docker: execDocker } = await dockerClient(host, env);
  const nodes = new Map<string, Promise<CriSandboxes | undefined>>();

  /**
   * The node's container when it is a local container, with a CRI tool inside; undefined when there is no container
   * of that name. One that is there but not running (stopped, paused) is a node that cannot be asked (an
   * UnreachableError): its pods' sandboxes, its cache and its plugins are in it, so "no sandbox" would be wrong.
   */
  const node = (name: string): Promise<CriSandboxes | undefined> => {
    let n = nodes.get(name);
    if (!n) {
      n = (async () => {
        let info: Dockerode.ContainerInspectInfo;
        try {
          info = await docker.getContainer(name).inspect();
        } catch (e) {
          const code = (e as { statusCode?: number }).statusCode;
          if (code === 404) return undefined;
          throw new UnreachableError(`cannot reach ${where}: ${(e as Error).message}`, { cause: e });
        }
        if (!info.State.Running || info.State.Paused) {
          throw new UnreachableError(`cannot reach node ${name}: its container in ${where} is not running (${info.State.Status})`);
        }
        // whether it has a CRI runtime inside is told by the look-up itself (one round trip, not two)
        return new CriSandboxes(new DockerExecExecutor(execDocker, name, docker), trace);
      })();
      nodes.set(name, n);
    }
    return n;
  };

  // a container named like the node without a CRI runtime inside is not a kind node: not this runtime's pod
  const batch = new NodeLookups(node, { noRuntimeIsNone: true });

  return {
    name: 'kind',
    where: `node containers in ${where}`,
    async findSandbox(pod: PodRef, via?: Executor): Promise<Sandbox | undefined> {
      if (!pod.node) return undefined;
      const cri = await node(pod.node);
      if (!cri) return undefined;
      const looked = await batch.answer(pod);
      const s = looked ? await looked.sandbox : await cri.find(pod, via, { noRuntimeIsNone: true });
      return s ? { ...s, executor: via ?? cri.exec } : undefined;
    },
    lookUpSandboxes: (pods, prepare) => batch.lookUp(pods, prepare),
    async session(nodeName: string): Promise<Executor | undefined> {
      const cri = await node(nodeName);
      return cri ? ((await batch.session(nodeName)) ?? new BatchingExecutor(cri.exec)) : undefined;
    },
    async listSandboxes(): Promise<SandboxInfo[]> {
      // only the nodes already looked at: a batch resolves its pods' nodes first
      const out: SandboxInfo[] = [];
      for (const n of nodes.values()) {
        const cri = await n;
        if (cri) out.push(...(await cri.list()));
      }
      return out;
    },
    async nodeExecutor(nodeName: string): Promise<Executor | undefined> {
      return (await node(nodeName))?.exec;
    },
    async reachNodes(names: string[]): Promise<void> {
      // inspected at once; one that cannot be (no Docker here) answers again, with its error, per pod
      await Promise.allSettled(names.map((n) => node(n)));
    },
  };
}

/** --runtime cri: containerd or CRI-O on this host, through crictl or ctr. */
export function criRuntime(exec: Executor, trace?: (line: string) => void): PodRuntime {
  const cri = new CriSandboxes(exec, trace);
  // a batch's pods in one look-up here: one listing and one inspection, not three runtime CLI runs per pod
  const batch = new NodeLookups(async () => cri, { here: true });
  return {
    name: 'cri',
    where: `crictl/ctr on ${exec.where}`,
    findSandbox: async (pod) => {
      const looked = await batch.answer(pod);
      return looked ? looked.sandbox : cri.find(pod);
    },
    lookUpSandboxes: (pods) => batch.lookUp(pods),
    // no crictl/ctr with a runtime socket here is a runtime that cannot be asked, not one without sandboxes (cni-gc
    // would free every attachment of this host's pods)
    listSandboxes: async () => {
      if (!(await cri.available())) throw noCriRuntime(exec.where);
      return cri.list();
    },
  };
}
