/**
 * From flags to a target: either --netns PATH (no cluster) or a pod (the API, then the runtime), plus the network
 * config from --conf or --net. Also the pod side of detach/check, which must work when the pod or sandbox is gone.
 */
import type { NetworkConfigList } from '../cni/conf.js';
import { parseNetworkConfig } from '../cni/conf.js';
import type { CacheEntry } from '../cni/cache.js';
import { NotFoundError, UsageError } from '../errors.js';
import type { Executor } from '../exec/types.js';
import type { KubeApi, Pod } from '../resolve/kube.js';
import type { PodRuntime } from '../resolve/runtime.js';
import type { Target } from '../resolve/netns.js';
import type { Deps } from './context.js';
import { loadConf } from './context.js';
import { parseDuration, type CommonFlags } from './options.js';

export interface ResolvedConf {
  list: NetworkConfigList;
  /** The name in network-status: "ns/nad" for a NetworkAttachmentDefinition, the config's name otherwise. */
  statusName: string;
}

/** Exactly one of: a POD, --netns, or (where offered) -l / --all. */
export function targetKind(pod: string | undefined, flags: CommonFlags): 'pod' | 'netns' | 'pods' {
  const bulk = flags.selector !== undefined || flags.all === true;
  const given = [pod !== undefined && 'a pod name', flags.netns !== undefined && '--netns', bulk && (flags.all ? '--all' : '-l')].filter(Boolean);
  if (given.length > 1) throw new UsageError(`give one of a pod, --netns or -l/--all, not ${given.join(' and ')}`);
  if (flags.selector !== undefined && flags.all) throw new UsageError('give either -l or --all, not both');
  if (given.length === 0) throw new UsageError('which pod? give a pod name (or -l SELECTOR, or --netns PATH for a bare network namespace)');
  if (flags.netns !== undefined) {
    for (const f of ['namespace', 'context', 'kubeconfig', 'net'] as const) {
      if (flags[f] !== undefined) throw new UsageError(`--${f} is for pods; with --netns there is no cluster`);
    }
    return 'netns';
  }
  return bulk ? 'pods' : 'pod';
}

export async function connect(flags: Pick<CommonFlags, 'kubeconfig' | 'context' | 'namespace' | 'requestTimeout'>, deps: Deps): Promise<KubeApi> {
  return deps.kube({
    ...(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}),
    ...(flags.context !== undefined ? { context: flags.context } : {}),
    ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
    requestTimeoutMs: parseDuration(flags.requestTimeout, '--request-timeout'),
  });
}

/** --conf FILE|- or --net [NS/]NAME (a NAD, read through the API; its namespace defaults to the pod's). */
export async function resolveConf(flags: CommonFlags, deps: Deps, api: () => Promise<KubeApi>, podNamespace: string | undefined, required: boolean): Promise<ResolvedConf | undefined> {
  if (flags.conf !== undefined && flags.net !== undefined) throw new UsageError('give either --conf or --net, not both');
  if (flags.conf !== undefined) {
    const list = await loadConf(flags.conf, deps);
    return { list, statusName: list.name };
  }
  if (flags.net !== undefined) {
    const parts = flags.net.split('/');
    if (parts.length > 2 || parts.some((p) => p === '')) throw new UsageError(`--net: "${flags.net}" is not NAME or NAMESPACE/NAME`);
    const [ns, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : [podNamespace ?? 'default', parts[0]!];
    const nad = await (await api()).getNad(ns, name);
    const list = parseNetworkConfig(nad.config, `NetworkAttachmentDefinition ${ns}/${name}`, name);
    return { list, statusName: `${ns}/${name}` };
  }
  if (required) throw new UsageError('which network? give --conf FILE (or - for stdin) or --net NAD');
  return undefined;
}

export async function resolveNetns(exec: Executor, path: string, mustExist: boolean): Promise<Target> {
  const { netnsTarget } = await import('../resolve/netns.js');
  return netnsTarget(exec, path, mustExist);
}

/** What detach and check know about a pod that may be gone: how to find its cache entries and where DEL should run. */
export interface PodLookup {
  namespace: string;
  name: string;
  podExists: boolean;
  /** The pod as read (undefined when it no longer exists). */
  pod?: Pod;
  containerId?: string;
  /** '' when the sandbox is gone. */
  netns: string;
  match: (e: CacheEntry) => boolean;
  describe: string;
  /** Where its plugins and cache are, when not on this host (a kind node container). */
  executor?: Executor;
}

export async function lookupPod(flags: CommonFlags, deps: Deps, api: KubeApi, name: string): Promise<PodLookup> {
  const namespace = flags.namespace ?? api.defaultNamespace;
  let pod: Pod | undefined;
  try {
    pod = await api.getPod(namespace, name);
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
  return lookupPodOf(pod, namespace, name, deps, await deps.runtimes(flags, api));
}

/** The same for a pod already read (undefined: it no longer exists), with the runtimes to look in. */
export async function lookupPodOf(pod: Pod | undefined, namespace: string, name: string, deps: Deps, runtimes: PodRuntime[]): Promise<PodLookup> {
  const { argsMatchPod, findSandbox, podRef } = await import('../resolve/pod.js');
  const describe = `pod ${namespace}/${name}`;
  if (!pod) {
    deps.io.err(`note: ${describe} no longer exists: using what the cache recorded for it\n`);
    return { namespace, name, podExists: false, netns: '', match: (en) => argsMatchPod(en.cniArgs, namespace, name), describe };
  }
  const ref = podRef(pod, namespace, name);
  const match = (en: CacheEntry) => argsMatchPod(en.cniArgs, namespace, name, ref.uid);
  let found;
  if (!pod.spec?.hostNetwork) {
    try {
      found = await findSandbox(runtimes, ref);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }
  if (!found) {
    deps.io.err(`note: the sandbox of ${describe} is gone: using what the cache recorded for it (DEL runs without a network namespace)\n`);
    let executor: Executor | undefined;
    for (const r of runtimes) executor ??= pod.spec?.nodeName ? await r.nodeExecutor?.(pod.spec.nodeName) : undefined;
    return { namespace, name, podExists: true, pod, netns: '', match, describe, ...(executor ? { executor } : {}) };
  }
  const executor = found.sandbox.executor;
  return { namespace, name, podExists: true, pod, containerId: found.sandbox.id, netns: found.sandbox.netnsPath, match, describe, ...(executor ? { executor } : {}) };
}
