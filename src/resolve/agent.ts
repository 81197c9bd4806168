/**
 * --runtime agent: the pod runs on a node this machine cannot reach. A short-lived privileged pod is pinned to that
 * node (nodeName, hostPID, hostNetwork, tolerating every taint); the sandbox is found with crictl/ctr on the node and
 * the plugins run there, all through pods/exec (see exec/kube-exec.ts). The agent pod is deleted afterwards — also
 * on failure and on Ctrl-C — and carries activeDeadlineSeconds so that even a killed CLI's agent does not linger.
 */
import { UnreachableError } from '../errors.js';
import { KubeExecExecutor } from '../exec/kube-exec.js';
import { atEnd } from '../exec/interrupt.js';
import type { Executor } from '../exec/types.js';
import { CriSandboxes } from './cri.js';
import type { KubeApi, Pod } from './kube.js';
import type { PodRef, PodRuntime, Sandbox, SandboxInfo } from './runtime.js';

export interface AgentOptions {
  image: string;
  namespace: string;
  /** How long to wait for the agent pod to run. */
  startTimeoutMs: number;
  note: (line: string) => void;
}

export const AGENT_LABEL = 'app.kubernetes.io/name';
export const AGENT_LABEL_VALUE = 'cni-attach-agent';

/** The agent pod for a node: privileged, host PID and network, pinned, tolerating everything, self-expiring. */
export function agentPod(node: string, o: Pick<AgentOptions, 'image' | 'namespace'>): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'cni-attach-agent-',
      namespace: o.namespace,
      labels: { [AGENT_LABEL]: AGENT_LABEL_VALUE, 'cni-attach/node': node },
    },
    spec: {
      nodeName: node,
      hostPID: true,
      hostNetwork: true,
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 0,
      activeDeadlineSeconds: 600,
      automountServiceAccountToken: false,
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          name: 'agent',
          image: o.image,
          command: ['sleep', '600'],
          securityContext: { privileged: true },
        },
      ],
    },
  };
}

export function agentRuntime(api: KubeApi, o: AgentOptions): PodRuntime & { close(): Promise<void> } {
  const agents = new Map<string, Promise<{ name: string; cri: CriSandboxes }>>();
  const created: string[] = [];
  const remove = async () => {
    const names = created.splice(0);
    await Promise.all(names.map((n) => api.deletePod(o.namespace, n).catch((e: Error) => o.note(`could not delete agent pod ${o.namespace}/${n}: ${e.message}`))));
  };
  // deleted when the command ends, whatever way it ends (on Ctrl-C too: the CLI runs these before it exits)
  atEnd(remove);

  const start = async (node: string) => {
    const pod = await api.createPod(o.namespace, agentPod(node, o)).catch((e: Error) => {
      if (/answered 403/.test(e.message)) {
        throw new UnreachableError(`${e.message}; the agent runtime needs to create pods and pods/exec in ${o.namespace}: see deploy/rbac.yaml`, { cause: e });
      }
      throw e;
    });
    const name = pod.metadata!.name!;
    created.push(name);
    const deadline = Date.now() + o.startTimeoutMs;
    for (;;) {
      const p = await api.getPod(o.namespace, name);
      const phase = p.status?.phase;
      if (phase === 'Running') break;
      if (phase === 'Failed' || phase === 'Succeeded') {
        throw new UnreachableError(`agent pod ${o.namespace}/${name} on node ${node} ended (${phase}) before it could be used`);
      }
      if (Date.now() > deadline) {
        const why = p.status?.containerStatuses?.[0]?.state?.waiting?.reason;
        throw new UnreachableError(`agent pod ${o.namespace}/${name} on node ${node} did not start within ${o.startTimeoutMs / 1000}s${why ? ` (${why})` : ''}`, {
          fix: { setting: 'agentImage' },
        });
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    return { name, cri: new CriSandboxes(new KubeExecExecutor(api, o.namespace, name, 'agent', node)) };
  };
  const agent = (node: string) => {
    let a = agents.get(node);
    if (!a) agents.set(node, (a = start(node)));
    return a;
  };

  return {
    name: 'agent',
    where: `agent pods in ${o.namespace}`,
    async findSandbox(pod: PodRef): Promise<Sandbox | undefined> {
      if (!pod.node) return undefined;
      const { cri } = await agent(pod.node);
      const s = await cri.find(pod);
      return s ? { ...s, executor: cri.exec } : undefined;
    },
    async listSandboxes(): Promise<SandboxInfo[]> {
      const out: SandboxInfo[] = [];
      for (const a of agents.values()) out.push(...(await (await a).cri.list()));
      return out;
    },
    async nodeExecutor(nodeName: string): Promise<Executor | undefined> {
      return (await agent(nodeName)).cri.exec;
    },
    close: remove,
  };
}
