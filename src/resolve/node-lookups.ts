/**
 * The sandbox look-ups of a batch (-l): its pods grouped by node, ONE command per node for all of that node's pods
 * (CriSandboxes.lookUp: one listing with the CRI labels, one inspection where the runtime's CLI takes several ids),
 * instead of one per pod. On a node reached by commands (a kind node container, an agent pod) what the engine will
 * read rides on that command as on a single look-up (`prepare` declares it on the node's session, exec/batch.ts), and
 * each pod's session then starts from that snapshot (BatchingExecutor.fork): after one round trip per node, a pod's
 * attach or detach costs 1 + (number of plugins) round trips. Each pod is answered by the same rules as when looked
 * up alone (same refusals: not ready, not running, an earlier pod's sandbox), and a pod no node look-up covers (its
 * node's look-up failed, or it was not in the batch) looks itself up as before.
 */
import { NotFoundError } from '../errors.js';
import { BatchingExecutor } from '../exec/batch.js';
import type { Executor } from '../exec/types.js';
import type { CriSandboxes, SandboxLookup } from './cri.js';
import type { PodRef, Sandbox } from './runtime.js';

interface NodeLookup {
  /** The session the look-up ran through, holding what was read ahead; undefined for this host's runtime. */
  snapshot?: BatchingExecutor;
  answers: Map<string, Promise<Sandbox | undefined>>;
}

const keyOf = (p: PodRef) => `${p.namespace}/${p.name}/${p.uid}`;

export interface NodeLookupsOptions {
  /** A node without a CRI tool has none of the pods (kind: a container named like the node that is no kind node). */
  noRuntimeIsNone?: boolean;
  /**
   * The runtime of this host (--runtime cri): every pod is looked for in the one runtime there, whatever its node, and
   * the commands run here directly (there are no round trips to save, only runtime CLI runs).
   */
  here?: boolean;
}

export class NodeLookups {
  private readonly nodes = new Map<string, Promise<NodeLookup | undefined>>();

  /** `reach`: the CRI tools of a node, undefined when this runtime does not reach it (kind: no such node container). */
  constructor(
    private readonly reach: (node: string) => Promise<CriSandboxes | undefined>,
    private readonly o: NodeLookupsOptions = {},
  ) {}

  private nodeOf(p: PodRef): string | undefined {
    return this.o.here ? '' : p.node;
  }

  /**
   * Look up these pods' sandboxes, one command per node, all nodes at once. Resolves with the uids of the pods this
   * runtime has an answer for — a running sandbox, or a refusal (NotFoundError: not ready, an earlier pod's) — so that
   * --runtime auto looks no further for them. Never rejects: a node that cannot be reached or looked at is left to its
   * pods, which then look themselves up (and fail, each with its own message).
   */
  async lookUp(pods: PodRef[], prepare?: (exec: Executor) => void): Promise<Set<string>> {
    const byNode = new Map<string, PodRef[]>();
    for (const p of pods) {
      const node = this.nodeOf(p);
      if (node === undefined || this.nodes.has(node)) continue;
      byNode.set(node, [...(byNode.get(node) ?? []), p]);
    }
    const answered = new Set<string>();
    await Promise.all([...byNode].map(async ([node, refs]) => {
      const looked = this.lookUpNode(node, refs, prepare);
      this.nodes.set(node, looked);
      const n = await looked;
      if (!n) return;
      for (const r of refs) {
        const a = await n.answers.get(keyOf(r))!.then((s) => s !== undefined, (e: unknown) => e instanceof NotFoundError);
        if (a) answered.add(r.uid);
      }
    }));
    return answered;
  }

  private async lookUpNode(node: string, refs: PodRef[], prepare?: (exec: Executor) => void): Promise<NodeLookup | undefined> {
    let looked: SandboxLookup;
    let snapshot: BatchingExecutor | undefined;
    try {
      const cri = await this.reach(node);
      if (!cri) return undefined;
      if (!this.o.here) {
        snapshot = new BatchingExecutor(cri.exec);
        prepare?.(snapshot);
      }
      // a command missing from the answer runs on the node directly: the snapshot stays as the look-up left it
      looked = await cri.lookUp(refs, snapshot ?? cri.exec, cri.exec);
    } catch {
      return undefined;
    }
    const answers = new Map<string, Promise<Sandbox | undefined>>();
    for (const r of refs) {
      const a = looked.answer(r, this.o);
      a.catch(() => undefined); // asked for again when its pod's turn comes
      answers.set(keyOf(r), a);
    }
    return { ...(snapshot ? { snapshot } : {}), answers };
  }

  /**
   * The answer for this pod from its node's look-up (a sandbox without executor, undefined: none there; a rejection:
   * that pod's refusal), or undefined when no look-up of this batch covers it.
   */
  async answer(pod: PodRef): Promise<{ sandbox: Promise<Sandbox | undefined> } | undefined> {
    const node = this.nodeOf(pod);
    const n = node === undefined ? undefined : await this.nodes.get(node);
    const sandbox = n?.answers.get(keyOf(pod));
    return sandbox ? { sandbox } : undefined;
  }

  /** A session for one pod's engine operation on this node, from the node's look-up snapshot; undefined without one. */
  async session(node: string): Promise<BatchingExecutor | undefined> {
    return (await this.nodes.get(node))?.snapshot?.fork();
  }
}
