/**
 * --runtime agent: the pod runs on a node this machine cannot reach. A short-lived privileged pod is pinned to that
 * node (nodeName, hostPID, hostNetwork, tolerating every taint); the sandbox is found with crictl/ctr on the node and
 * the plugins run there, all through pods/exec (see exec/kube-exec.ts). One agent per node per command, shared by
 * every pod on that node; a batch starts the agents of all its nodes at once. The agent pod is deleted afterwards —
 * also on failure and on Ctrl-C. When the CLI itself is killed (SIGKILL, a lost machine) nothing deletes it: its
 * activeDeadlineSeconds (600) makes the kubelet stop the privileged container within 600 s, but the Pod object stays
 * (phase Failed, reason DeadlineExceeded) until someone deletes it: cni-gc does, as it does a Running one whose command
 * (named on it) is gone or that is past its deadline (leftoverAgentPods below). The same
 * deadline bounds a command: one running longer than 600 s loses its agent.
 */
import { StoppedError, UnreachableError, UsageError, signalName } from '../errors.js';
import { KubeExecExecutor } from '../exec/kube-exec.js';
import { BatchingExecutor } from '../exec/batch.js';
import { atEnd, cleanupPending, interruptedBy } from '../exec/interrupt.js';
import type { Executor } from '../exec/types.js';
import { CriSandboxes } from './cri.js';
import { NodeLookups } from './node-lookups.js';
import type { KubeApi, Pod } from './kube.js';
import type { PodRef, PodRuntime, Sandbox, SandboxInfo } from './runtime.js';
import { formatDuration, isoSecond } from '../duration.js';
import { thisHost } from '../exec/host.js';
import { commandInParens, type LockOwner } from '../exec/lock.js';
import { badRecordedCommand, recordedCommand, type RecordedCommand } from './records.js';

/**
 * The agent's image: busybox 1.36.1 pinned by the digest of its multi-arch index on Docker Hub (amd64, arm64, arm,
 * 386, ppc64le, s390x, …), so that a re-pushed tag cannot change what runs privileged on the nodes. It has what the
 * agent uses: sh, head, nsenter, sleep. Mirrors and air-gapped clusters give their copy with --agent-image.
 */
export const AGENT_IMAGE = 'docker.io/library/busybox:1.36.1@sha256:73aaf090f3d85aa34ee199857f03fa3a95c8ede2ffd4cc2cdb5b94e566b11662';

/** The namespace label that lets Pod Security admission take privileged pods (kubernetes.io/docs/concepts/security/pod-security-admission). */
export const PSA_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

/**
 * Why the API server refused to create the agent pod, as a message a person can act on: Pod Security admission (the
 * namespace enforces baseline or restricted, which forbid privileged pods and host namespaces), another admission
 * webhook, or RBAC. Always exit 4: the node cannot be reached this way, nothing was changed.
 */
export function agentRefusal(e: Error, namespace: string): Error {
  const msg = e.message;
  const elsewhere = { setting: 'agentNamespace', advice: 'or create the agent pods in a namespace that admits privileged pods' } as const;
  if (/violates PodSecurity/.test(msg)) {
    return new UnreachableError(
      `Pod Security admission refuses the agent pod in namespace ${namespace} (it is privileged, with the host's PID and network namespaces): ${msg.replace(/^.*?answered 403: /, '')}. ` +
        `Allow privileged pods there with \`kubectl label ns ${namespace} ${PSA_ENFORCE_LABEL}=privileged\``,
      { cause: e, fix: elsewhere },
    );
  }
  if (/admission webhook .* denied/.test(msg)) {
    return new UnreachableError(`an admission webhook refuses the agent pod in namespace ${namespace} (privileged, host PID and network): ${msg}; allow it there`, { cause: e, fix: elsewhere });
  }
  if (/answered 403/.test(msg)) {
    return new UnreachableError(`${msg}; the agent runtime needs to create, watch and delete pods and create pods/exec in ${namespace}: see deploy/rbac.yaml`, { cause: e });
  }
  return e;
}

/** Where the agent looks for a pod's sandbox on its node, for messages. */
const onNodeThroughAgent = (node: string, namespace: string) => `crictl/ctr on node ${node} (through an agent pod in ${namespace})`;

/** Container states that will not get better by waiting. */
const HOPELESS = new Set(['InvalidImageName', 'ErrImageNeverPull', 'CreateContainerConfigError']);

/** How long an agent pod lives (its activeDeadlineSeconds, and its `sleep`): the kubelet ends it then, whatever runs. */
export const AGENT_LIFE_S = 600;
/**
 * The longest plugin run limit (--timeout) a run through an agent may have: the agent's life less a minute for its
 * start, the look-ups and the round trips around the run. A longer one is refused before any agent is made (the
 * agent would be ended under the run, which then fails as "cannot reach", its rollback with it); raising the agent's
 * life instead would leave a privileged pod that long on the node when the command is killed.
 */
export const MAX_RUN_THROUGH_AGENT_MS = (AGENT_LIFE_S - 60) * 1000;

export interface AgentOptions {
  image: string;
  namespace: string;
  /** How long to wait for the agent pod to run. */
  startTimeoutMs: number;
  /** The limit of each plugin run (--timeout), ms: above MAX_RUN_THROUGH_AGENT_MS the agent is refused (UsageError). */
  runTimeoutMs?: number;
  /** That limit as the user gave it ("600s", "99999h"): what its refusal names (else it is said as formatDuration says it). */
  runTimeoutGiven?: string;
  note: (line: string) => void;
  /** -v=6: a line for each look-up command run on a node through its agent (resolve/cri.ts CriSandboxes). */
  trace?: (line: string) => void;
}

export const AGENT_LABEL = 'app.kubernetes.io/name';
export const AGENT_LABEL_VALUE = 'cni-attach-agent';

/** The annotation of an agent pod that names the command that made it (JSON of a RecordedCommand: host, pid, start). */
export const AGENT_BY_ANNOTATION = 'cni-attach/by';

/** Past this long after an agent started (else was created), it is past its deadline whatever it says (ms). */
const PAST_DEADLINE_MS = (AGENT_LIFE_S + 60) * 1000;

/**
 * An agent pod of this tool left in the agent namespace, as cni-gc and cni-list -A judge it (leftoverAgentPods):
 * `leftover` when no command can be using it — gc deletes it —, else `maybeInUse` (a command of another host, or of
 * an older version that named none, within its deadline: only that host can tell), with why in words.
 */
export interface AgentPodVerdict {
  pod: Pod;
  leftover: boolean;
  why: string;
}

/**
 * The command that made an agent pod (its AGENT_BY_ANNOTATION), when the pod names a valid one (records.ts
 * badRecordedCommand: a pod anyone who may create pods there could have written); else undefined.
 */
export function agentCommand(p: Pod): RecordedCommand | undefined {
  const text = p.metadata?.annotations?.[AGENT_BY_ANNOTATION];
  if (text === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return badRecordedCommand(v) === undefined ? (v as RecordedCommand) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The agent pods of this tool (AGENT_LABEL) in `namespace` that are not this process's own, each judged by a rule that
 * never calls one in use leftover:
 *  - finished (phase Succeeded or Failed: the kubelet ended it at activeDeadlineSeconds, or `sleep 600` ran out);
 *  - its command (AGENT_BY_ANNOTATION) ran on this host (`table.host`) and is gone, by the lock rule's test
 *    (records.ts recordedCommand: its pid runs with the start time it had) — a command killed with SIGKILL, whose
 *    agents nothing deleted; one of this host that runs is in use, and not listed;
 *  - past its deadline: started (status.startTime, else created) more than AGENT_LIFE_S + 60 s before `now` — its
 *    container's `sleep` has ended and its kubelet should have ended it, so no command can be using it (a command that
 *    runs longer loses its agent: MAX_RUN_THROUGH_AGENT_MS); the kubelet may not have (a node that lost its kubelet,
 *    a simulated one).
 * Any other (a command of another host, or one naming none: of an older version, within its deadline) may be in use:
 * listed with leftover false and when it will be past its deadline, and `gc` (the cni-gc command line that then deletes
 * it, as the caller prints it: cli/gc.ts) from then on. A command deletes its own agents when it ends,
 * also on Ctrl-C; these are what commands that were killed (SIGKILL, a lost machine) left behind. One list request;
 * errors as KubeApi.listPods.
 */
export async function leftoverAgentPods(api: KubeApi, namespace: string, now = Date.now(), table: Pick<LockOwner, 'host' | 'startOf'> = thisHost, gc = 'a cni-gc'): Promise<AgentPodVerdict[]> {
  const pods = await api.listPods(namespace, `${AGENT_LABEL}=${AGENT_LABEL_VALUE}`);
  const out: AgentPodVerdict[] = [];
  // this command's own agents are deleted when it ends (and one that failed is its own error, not a leftover)
  for (const p of pods.filter((x) => !ownAgents.has(`${namespace}/${x.metadata?.name}`))) {
    const by = agentCommand(p);
    const made = by ? `made by a kubectl cni-* command${commandInParens(by, table.host)}` : 'made by a kubectl cni-* command that it does not name';
    if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') {
      out.push({ pod: p, leftover: true, why: `finished (${[p.status.phase, p.status.reason].filter(Boolean).join(': ')}), left behind by a cni-attach command that did not end normally` });
      continue;
    }
    const state = p.status?.phase ?? 'Pending';
    const command = by ? await recordedCommand({ by }, table) : undefined;
    if (command === 'running') continue;
    if (command === 'gone') {
      out.push({ pod: p, leftover: true, why: `${state}, ${made}, which is gone (killed?): nothing uses it` });
      continue;
    }
    const since = Date.parse(String(p.status?.startTime ?? p.metadata?.creationTimestamp ?? ''));
    // its deadline (start + activeDeadlineSeconds), and the instant gc acts on: a minute later (its kubelet's time to
    // end it) — each named as what it is, in the seconds every other message gives (tryout 8 F4 c: "past its deadline
    // at" named the later one, with milliseconds)
    const deadline = Number.isNaN(since) ? undefined : new Date(since + AGENT_LIFE_S * 1000);
    const actsAt = Number.isNaN(since) ? undefined : new Date(since + PAST_DEADLINE_MS);
    if (actsAt && actsAt.getTime() <= now) {
      out.push({ pod: p, leftover: true, why: `${state} past its deadline (started ${isoSecond(since)}, activeDeadlineSeconds ${AGENT_LIFE_S}: deadline ${isoSecond(deadline!.getTime())}), ${made}: no command can be using it, and its kubelet did not end it` });
      continue;
    }
    const who = by ? `only on host ${by.host} can it be told whether its command still runs` : 'whether its command still runs cannot be told';
    out.push({ pod: p, leftover: false, why: `${state}, ${made}, may be in use: ${who}; ${actsAt ? `its deadline is ${isoSecond(deadline!.getTime())}, and ${gc} from ${isoSecond(actsAt.getTime())} on (a minute for its kubelet to end it) deletes it` : 'its kubelet ends it at its deadline'}` });
  }
  return out;
}

/** The agent pods this process created (namespace/name): never another command's leftovers. */
const ownAgents = new Set<string>();

/**
 * The agent pod for a node: privileged, host PID and network, pinned, tolerating everything, self-expiring; `by`: the
 * command that makes it (AGENT_BY_ANNOTATION).
 */
export function agentPod(node: string, o: Pick<AgentOptions, 'image' | 'namespace'>, by?: RecordedCommand): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'cni-attach-agent-',
      namespace: o.namespace,
      labels: { [AGENT_LABEL]: AGENT_LABEL_VALUE, 'cni-attach/node': node },
      // the command that made it, as its locks and write-ahead records name it: on that host, cni-gc tells whether it
      // still runs (leftoverAgentPods)
      ...(by ? { annotations: { [AGENT_BY_ANNOTATION]: JSON.stringify(by) } } : {}),
    },
    spec: {
      nodeName: node,
      hostPID: true,
      hostNetwork: true,
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 0,
      activeDeadlineSeconds: AGENT_LIFE_S,
      automountServiceAccountToken: false,
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          name: 'agent',
          image: o.image,
          command: ['sleep', String(AGENT_LIFE_S)],
          securityContext: { privileged: true },
        },
      ],
    },
  };
}

/** The longest message of the API's a reason quotes (a kubelet's image-pull error can run to kilobytes). */
const MESSAGE_MAX = 200;

/**
 * Why a Pending agent pod has not run, from what the API last said of it, for the message of a start that timed out:
 * its container's waiting state ("ContainerCreating", "ErrImagePull: <message>"), else its pod conditions that are not
 * True ("Initialized False: <reason>: <message>"), else — no status from any kubelet: a pod bound to a node by
 * spec.nodeName, as an agent is, gets its conditions from that node's kubelet — that no kubelet has reported on it,
 * naming the node (down, NotReady, or no node of that name any more). Messages cut to MESSAGE_MAX characters. Pure.
 */
export function pendingWhy(p: Pod, node: string): string {
  const cut = (m: string | undefined) => (m ? `: ${m.length > MESSAGE_MAX ? `${m.slice(0, MESSAGE_MAX - 1)}…` : m}` : '');
  const w = p.status?.containerStatuses?.[0]?.state?.waiting;
  if (w?.reason) return `${w.reason}${cut(w.message)}`;
  const notTrue = (p.status?.conditions ?? []).filter((c) => c.status !== 'True');
  if (notTrue.length > 0) return notTrue.map((c) => `${c.type} ${c.status}${c.reason ? `: ${c.reason}` : ''}${cut(c.message)}`).join('; ');
  if ((p.status?.conditions ?? []).length > 0) return 'its kubelet has not started its container';
  return `no kubelet has reported on it: node ${node} may be down, NotReady, or no node of the cluster any more`;
}

export function agentRuntime(api: KubeApi, o: AgentOptions): PodRuntime & { close(): Promise<void> } {
  const agents = new Map<string, Promise<{ name: string; cri: CriSandboxes }>>();
  const created: string[] = [];
  // creations sent and not answered yet (the user's signal while agents start): the pod each makes is deleted too
  const creating = new Set<Promise<unknown>>();
  const remove = async () => {
    // wait for a creation in flight (within the CLI's bound after a signal; one not answered by then is named with the
    // command that deletes it: cleanupPending), else its pod, made after the command ended, runs until its deadline
    if (creating.size > 0) await Promise.all([...creating]);
    const names = created.splice(0);
    await Promise.all(names.map((n) => {
      const byHand = `kubectl delete pod -n ${o.namespace} ${n}`;
      // a command that quits before the deletion answered says so (cli/main.ts), with the command that finishes it
      const done = cleanupPending(`agent ${o.namespace}/${n}`, `agent pod ${o.namespace}/${n} may still run (its deletion did not finish): \`${byHand}\``);
      return api.deletePod(o.namespace, n).then(done, (e: Error) => (done(), o.note(`could not delete agent pod ${o.namespace}/${n}: ${e.message} (\`${byHand}\`)`)));
    }));
  };
  // deleted when the command ends, whatever way it ends (on Ctrl-C too: the CLI runs these before it exits)
  atEnd(remove);

  const start = async (node: string) => {
    if (o.runTimeoutMs !== undefined && o.runTimeoutMs > MAX_RUN_THROUGH_AGENT_MS) {
      throw new UsageError(
        `a plugin run limit of ${o.runTimeoutGiven ?? formatDuration(o.runTimeoutMs)} is longer than a run through an agent pod can take (node ${node} is reached through one; it lives ${AGENT_LIFE_S} s, its activeDeadlineSeconds): at most ${formatDuration(MAX_RUN_THROUGH_AGENT_MS)} (nothing was changed)`,
        { fix: { setting: 'runTimeout' } },
      );
    }
    const name = await makeAgent(node);
    // its node sessions end before the agent is deleted (exec/node-session.ts closeAllSessions)
    const exec = new KubeExecExecutor(api, o.namespace, name, 'agent', node);
    // one deleted while the command runs (its pods/exec answered 404) is made anew, once (exec/kube-exec.ts send)
    exec.renew = async (gone) => {
      o.note(`agent pod ${o.namespace}/${gone} on node ${node} is gone (deleted while this command ran): nothing was run in it since; making a new one`);
      return makeAgent(node);
    };
    return { name, cri: new CriSandboxes(exec, o.trace) };
  };
  /** Make an agent pod on node and wait until it runs: its name. */
  const makeAgent = async (node: string): Promise<string> => {
    const start = await thisHost.start();
    // no agent pod is made once the user's signal came: the command ends, its cleanups may have run already
    const sig = interruptedBy();
    if (sig) throw new StoppedError(sig, `stopped by ${signalName(sig)} before the agent pod on node ${node} was made: nothing was changed`);
    const making = api.createPod(o.namespace, agentPod(node, o, { host: thisHost.host, pid: thisHost.pid, ...(start !== undefined ? { start } : {}) }));
    const listing = `kubectl get pods -n ${o.namespace} -l ${AGENT_LABEL}=${AGENT_LABEL_VALUE},cni-attach/node=${node}`;
    const answered = cleanupPending(`agent creation ${o.namespace} ${node}`, `an agent pod for node ${node} may have been created in ${o.namespace} (its creation was not answered): \`${listing}\` lists it; it ends at its deadline (${AGENT_LIFE_S} s), and cni-gc deletes it then`);
    // its name is taken as soon as the answer comes (before this start goes on), so that remove() deletes it
    const tracked = making.then((p) => void (p.metadata?.name && !created.includes(p.metadata.name) && created.push(p.metadata.name)), () => undefined).finally(() => (answered(), creating.delete(tracked)));
    creating.add(tracked);
    const pod = await making.catch((e: Error) => {
      throw agentRefusal(e, o.namespace);
    });
    const name = pod.metadata!.name!;
    if (!created.includes(name)) created.push(name);
    ownAgents.add(`${o.namespace}/${name}`);
    const waiting = (p: Pod) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason;
    // a watch on the pod, from the resourceVersion it was created with: no polling
    const seen = await api.watchPod(
      o.namespace,
      name,
      (p) => ['Running', 'Failed', 'Succeeded'].includes(p.status?.phase ?? '') || HOPELESS.has(waiting(p) ?? ''),
      o.startTimeoutMs,
      pod,
    ).catch((e: Error) => {
      throw agentRefusal(e, o.namespace); // a 403 here is RBAC without watch
    });
    const phase = seen.pod?.status?.phase;
    if (phase === 'Running') return name;
    if (!seen.pod) throw new UnreachableError(`agent pod ${o.namespace}/${name} on node ${node} was deleted before it could be used`);
    if (phase === 'Failed' || phase === 'Succeeded') {
      throw new UnreachableError(`agent pod ${o.namespace}/${name} on node ${node} ended (${phase}) before it could be used`);
    }
    const why = waiting(seen.pod);
    if (seen.settled) throw new UnreachableError(`agent pod ${o.namespace}/${name} on node ${node} cannot start (${why})`, { fix: { setting: 'agentImage' } });
    // --agent-image is the way out of an image that does not come, not of a node no kubelet answers for
    const kubeletSaid = !!why || (seen.pod.status?.conditions ?? []).length > 0;
    throw new UnreachableError(`agent pod ${o.namespace}/${name} on node ${node} did not start within ${o.startTimeoutMs / 1000}s (${pendingWhy(seen.pod, node)})`, kubeletSaid ? { fix: { setting: 'agentImage' } } : {});
  };
  const agent = (node: string) => {
    let a = agents.get(node);
    if (!a) agents.set(node, (a = start(node)));
    return a;
  };

  // a batch: one look-up per node for all its pods (an agent that does not start leaves its pods to fail on their own)
  const batch = new NodeLookups(async (node) => (await agent(node)).cri);

  return {
    name: 'agent',
    where: `agent pods in ${o.namespace}`,
    whereFor: (node) => onNodeThroughAgent(node, o.namespace),
    async findSandbox(pod: PodRef, via?: Executor): Promise<Sandbox | undefined> {
      if (!pod.node) return undefined;
      const { cri } = await agent(pod.node);
      const looked = await batch.answer(pod);
      const s = looked ? await looked.sandbox : await cri.find(pod, via);
      return s ? { ...s, executor: via ?? cri.exec } : undefined;
    },
    lookUpSandboxes: (pods, prepare) => batch.lookUp(pods, prepare),
    async session(nodeName: string): Promise<Executor> {
      const cri = (await agent(nodeName)).cri;
      return (await batch.session(nodeName)) ?? new BatchingExecutor(cri.exec);
    },
    async listSandboxes(): Promise<SandboxInfo[]> {
      const out: SandboxInfo[] = [];
      for (const a of agents.values()) out.push(...(await (await a).cri.list()));
      return out;
    },
    async nodeExecutor(nodeName: string): Promise<Executor | undefined> {
      return (await agent(nodeName)).cri.exec;
    },
    async reachNodes(nodes: string[]): Promise<void> {
      // all at once; a node whose agent fails fails its own pods (they await the same promise), not the others
      await Promise.allSettled(nodes.map((n) => agent(n)));
    },
    close: remove,
  };
}

/**
 * --runtime auto's way to the nodes that are not this host: after the runtimes of this host (Docker, kind node
 * containers, crictl/ctr) found no sandbox for a pod, and the pod's node is not this host (by node name: $NODE_NAME,
 * else the host name, as kubelet names its node), the node is reached through an agent pod — made on first use, one
 * per node, and said in a note on stderr: one per node met alone ("node node-a is not this host (laptop): reaching it
 * through an agent pod in kube-system"), one for the nodes met together — a batch's (reachNodes), those a command
 * reaches while it groups notes (groupNotes: cni-list, cni-gc) — naming them (`names`: the CLI's someNames; before,
 * one note per node). A pod on this host is never looked for through an agent.
 */
export function agentForOtherNodes(
  agent: () => PodRuntime & { close(): Promise<void> },
  o: { thisHost: string; namespace: string; note: (line: string) => void; names?: (nodes: string[]) => string },
): PodRuntime {
  let made: (PodRuntime & { close(): Promise<void> }) | undefined;
  const noted = new Set<string>();
  const elsewhere = (node: string | undefined): node is string => node !== undefined && node !== o.thisHost;
  // the nodes met while notes are grouped (groupNotes, reachNodes): said in one note when the grouping ends
  let grouping = 0;
  const pending: { node: string; pod?: PodRef }[] = [];
  const say = (met: { node: string; pod?: PodRef }[]) => {
    if (met.length === 0) return;
    const [{ node, pod }] = met as [{ node: string; pod?: PodRef }];
    if (met.length > 1) o.note(`nodes ${(o.names ?? ((n) => n.join(', ')))(met.map((m) => m.node))} are not this host (${o.thisHost}): reaching each through an agent pod in ${o.namespace}`);
    else if (pod) o.note(`pod ${pod.namespace}/${pod.name} is on node ${node}, not this host (${o.thisHost}): reaching it through an agent pod in ${o.namespace}`);
    else o.note(`node ${node} is not this host (${o.thisHost}): reaching it through an agent pod in ${o.namespace}`);
  };
  const groupNotes = () => {
    grouping++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--grouping === 0) say(pending.splice(0));
    };
  };
  const via = (node: string, pod?: PodRef) => {
    if (!noted.has(node)) {
      noted.add(node);
      if (grouping > 0) pending.push({ node, ...(pod ? { pod } : {}) });
      else say([{ node, ...(pod ? { pod } : {}) }]);
    }
    return (made ??= agent());
  };
  return {
    name: 'agent',
    where: `agent pods in ${o.namespace} (for nodes other than ${o.thisHost})`,
    whereFor: (node) => onNodeThroughAgent(node, o.namespace),
    lastResort: true,
    reaches: elsewhere,
    async findSandbox(pod: PodRef, exec?: Executor): Promise<Sandbox | undefined> {
      return elsewhere(pod.node) ? via(pod.node, pod).findSandbox(pod, exec) : undefined;
    },
    // a batching session there, as with --runtime agent: the look-up and the engine's steps share round trips
    async session(nodeName: string, pod?: PodRef): Promise<Executor | undefined> {
      return elsewhere(nodeName) ? via(nodeName, pod).session?.(nodeName) : undefined;
    },
    async lookUpSandboxes(pods: PodRef[], prepare?: (exec: Executor) => void): Promise<Set<string>> {
      const far = pods.filter((p) => elsewhere(p.node));
      if (far.length === 0) return new Set();
      for (const p of far) via(p.node!, p);
      return made!.lookUpSandboxes!(far, prepare);
    },
    async listSandboxes(): Promise<SandboxInfo[]> {
      return made ? made.listSandboxes() : [];
    },
    async nodeExecutor(nodeName: string): Promise<Executor | undefined> {
      return elsewhere(nodeName) ? via(nodeName).nodeExecutor!(nodeName) : undefined;
    },
    async reachNodes(nodes: string[]): Promise<void> {
      const far = nodes.filter(elsewhere);
      if (far.length === 0) return;
      // a batch's nodes, said in one note (before: one note per node)
      const end = groupNotes();
      for (const n of far) via(n);
      end();
      await made!.reachNodes!(far);
    },
    groupNotes,
  };
}
