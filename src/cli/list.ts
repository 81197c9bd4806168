/** kubectl cni-list: the attachments this node's cache holds (what cni-attach made), with their state and annotation. */
import { Command, Option } from 'commander';
import { summarizeResult } from '../cni/result.js';
import type { Classified } from '../resolve/attachment-state.js';
import { addClusterOptions, type CommonFlags } from './options.js';
import { defaultDeps, prepareEngine, type Deps, type EngineFlags } from './context.js';
import { formatData } from './output.js';
import { connect } from './targets.js';
import { describeError, main, stdio } from './main.js';
import { load } from './load.js';

interface ListFlags extends EngineFlags, Pick<CommonFlags, 'kubeconfig' | 'context' | 'namespace' | 'requestTimeout' | 'runtime' | 'dockerHost' | 'output'> {
  allNamespaces?: boolean;
  cluster?: boolean;
}

export interface Row {
  namespace: string;
  target: string;
  ifname: string;
  network: string;
  addresses: string[];
  containerId: string;
  state: string;
  /** Whether the pod's network-status lists the interface; undefined for namespaces or when the cluster was not asked. */
  annotated?: boolean;
}

function addresses(c: Classified): string[] {
  try {
    return c.entry.result ? summarizeResult(c.entry.result).ips.map((ip) => ip.address) : [];
  } catch {
    return [];
  }
}

function annotated(c: Classified): boolean | undefined {
  const v = c.livePod?.metadata?.annotations?.['k8s.v1.cni.cncf.io/network-status'];
  if (!c.livePod) return undefined;
  try {
    return (JSON.parse(v ?? '[]') as { interface?: string }[]).some((e) => e.interface === c.entry.ifName);
  } catch {
    return false;
  }
}

export function toRow(c: Classified): Row {
  const a = annotated(c);
  return {
    namespace: c.pod?.namespace ?? '-',
    target: c.pod ? c.pod.name : `netns:${c.entry.netns ?? '?'}`,
    ifname: c.entry.ifName,
    network: c.entry.networkName,
    addresses: addresses(c),
    containerId: c.entry.containerId,
    state: c.state,
    ...(a !== undefined ? { annotated: a } : {}),
  };
}

export function table(rows: Row[]): string {
  const head = ['NAMESPACE', 'POD', 'IFNAME', 'NETWORK', 'ADDRESSES', 'CONTAINER', 'STATE', 'ANNOTATED'];
  const cells = rows.map((r) => [
    r.namespace, r.target, r.ifname, r.network, r.addresses.join(',') || '-', r.containerId.slice(0, 12), r.state,
    r.annotated === undefined ? '-' : r.annotated ? 'yes' : 'no',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  return [head, ...cells].map((line) => line.map((c, i) => (i === line.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('').trimEnd()).join('\n') + '\n';
}

export function listCommand(deps: Deps = defaultDeps(stdio)): Command {
  const cmd = new Command('kubectl cni-list')
    .description('List the attachments in this node\'s CNI cache (what cni-attach and cnitool made), with their state.')
    .argument('[pod]', 'only this pod (in -n NAMESPACE)')
    .option('-n, --namespace <ns>', "only this namespace (default: the context's, else default)")
    .option('-A, --all-namespaces', 'every namespace, and attachments to bare network namespaces');
  addClusterOptions(cmd);
  cmd
    .option('--cache-dir <dir>', 'libcni cache directory', '/var/lib/cni')
    .option('--no-cluster', 'do not ask the cluster and the runtime; show what the cache says')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml']).default('table'))
    .option('-v, --verbose', 'stack traces on failure');
  cmd.action(async (podName: string | undefined, flags: ListFlags) => {
    const exec = await deps.localExecutor();
    const { cache } = prepareEngine({ ...flags, timeout: '60s' }, exec, deps);
    const { classify, podOf } = await load.attachmentState();
    let found = await cache.all();

    let api;
    let apiError: string | undefined;
    // the cluster tells the default namespace and whether pods and sandboxes still exist
    if (flags.cluster !== false && (flags.namespace === undefined || found.some((f) => podOf(f.entry)))) {
      try {
        api = await connect(flags, deps);
      } catch (e) {
        apiError = describeError(e);
      }
    }
    const namespace = flags.namespace ?? api?.defaultNamespace ?? 'default';
    found = found.filter((f) => {
      const p = podOf(f.entry);
      if (podName !== undefined) return p?.namespace === namespace && p.name === podName;
      if (flags.allNamespaces) return true;
      return p?.namespace === namespace;
    });

    let world: Parameters<typeof classify>[1] = { exec };
    if (api && found.some((f) => podOf(f.entry))) {
      try {
        const pods = await api.listPods(flags.allNamespaces ? undefined : namespace);
        const runtimes = await deps.runtimes(flags, api);
        const sandboxes = await (await load.pods()).listAllSandboxes(runtimes);
        world = { exec, pods, sandboxes };
      } catch (e) {
        apiError = describeError(e);
      }
    }
    if (apiError) deps.io.err(`note: states are from the cache only: ${apiError}\n`);
    const rows = (await classify(found, world)).map(toRow).sort((a, b) => `${a.namespace}/${a.target}/${a.ifname}`.localeCompare(`${b.namespace}/${b.target}/${b.ifname}`));
    if (flags.output !== 'table') {
      deps.io.out(await formatData(rows, flags.output));
      return;
    }
    if (rows.length === 0) {
      deps.io.err(`No attachments found${podName ? ` for pod ${namespace}/${podName}` : flags.allNamespaces ? '' : ` in namespace ${namespace}`}.\n`);
      return;
    }
    deps.io.out(table(rows));
  });
  return cmd;
}

export const run = (): Promise<never> => main(listCommand());
