/**
 * Nodes that this machine reaches only through the cluster, for the "laptop" tests: the stand-in API server's pods/exec
 * into an agent pod runs the command as the kubelet of that pod's node would, here simulated on this host in a mount
 * namespace of its own per node where
 *   - the CNI cache directory the CLI names (`cacheDir`, also the laptop's own, empty) is the node's own directory
 *     (bind-mounted from `<dir>/nodes/<node>/cache`), so each node has its own cache, apart from the laptop's;
 *   - /run is a fresh tmpfs holding only /run/containerd/containerd.sock: the test's containerd (test/helpers/
 *     containerd.ts), where the pods' sandboxes are made with the CRI labels, so crictl/ctr on the "node" find them.
 * The agent's `nsenter -t 1 … --` (into the node's PID 1 namespaces) is what this replaces: on a real node it enters
 * the node; here PID 1 is this host, so the command enters that node's mount namespace instead — made once per node
 * when the simulation starts and kept by a bind mount of its nsfs file, so that each exec costs one nsenter, as on a
 * real node (a namespace per exec, with its mounts, cost six processes per exec and made the bench's batches measure
 * the simulation's set-up more than the tool).
 * The laptop itself has no Docker (DOCKER_HOST points nowhere) and no containerd: only the kubeconfig.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { ExecHandler, StandInApiServer } from '../k8s/stand-in-api.js';
import type { Containerd } from './containerd.js';

/** Run in the node's new mount namespace once: its cache, a /run of its own with only containerd's socket. */
const SETUP = [
  'set -e',
  'mount --bind "$1" "$2"',
  'mount -t tmpfs -o mode=0755 cni-attach-test-run /run',
  'mkdir -p /run/containerd',
  ': > /run/containerd/containerd.sock',
  'mount --bind "$3" /run/containerd/containerd.sock',
].join('\n');

/** The directory holding a node's cache (under the world's dir). */
export function nodeCacheDir(dir: string, node: string): string {
  return join(dir, 'nodes', node, 'cache');
}

export interface RemoteNodes {
  handler: ExecHandler;
  /** Unmount the nodes' namespaces (what runs in them keeps them until it ends). Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Make `api` run pods/exec of agent pods on simulated remote nodes. `cd`: the containerd all nodes share (tests), or
 * each node's own (the bench: a node's containerd serves its own sandboxes only, as on a real node, so that a `ctr
 * tasks list` there asks its own shims, not every node's). `cacheDir` is the --cache-dir the CLI is given;
 * each node's own cache lives in nodeCacheDir(dir, node). Returns the handler (also installed) and stop(), which the
 * caller must run at the end, also on failure (it holds mounts).
 */
export async function simulateRemoteNodes(api: StandInApiServer, cd: Containerd | ((node: string) => Containerd), dir: string, cacheDir: string, nodes: string[]): Promise<RemoteNodes> {
  const cdOf = typeof cd === 'function' ? cd : () => cd;
  await mkdir(cacheDir, { recursive: true });
  // the nsfs bind mounts need a mount point that is not shared: the directory is bound on itself and made private
  const nsDir = join(dir, 'node-namespaces');
  await mkdir(nsDir, { recursive: true });
  const made: string[] = [];
  let bound = false;
  const stop = async () => {
    for (const f of made.splice(0).reverse()) await execa('umount', ['-l', f], { reject: false });
    if (bound) await execa('umount', ['-l', nsDir], { reject: false });
    bound = false;
    await rm(nsDir, { recursive: true, force: true });
  };
  try {
    await execa('mount', ['--bind', nsDir, nsDir]);
    bound = true;
    await execa('mount', ['--make-private', nsDir]);
    for (const n of nodes) {
      await mkdir(nodeCacheDir(dir, n), { recursive: true });
      const file = join(nsDir, n);
      await writeFile(file, '');
      await execa('unshare', [`--mount=${file}`, '--propagation', 'private', 'sh', '-c', SETUP, 'sh', nodeCacheDir(dir, n), cacheDir, cdOf(n).address]);
      made.push(file);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const handler: ExecHandler = (req) => {
    const node = api.getPod(req.namespace, req.pod)?.spec.nodeName ?? '';
    if (!nodes.includes(node)) throw new Error(`remote-nodes: pod ${req.namespace}/${req.pod} is on ${node || 'no node'}, not a simulated one`);
    const cmd = req.command[0] === 'nsenter' ? req.command.slice(req.command.indexOf('--') + 1) : req.command;
    return spawn('nsenter', [`--mount=${join(nsDir, node)}`, '--', ...cmd], { stdio: ['pipe', 'pipe', 'pipe'] });
  };
  api.execHandler = handler;
  return { handler, stop };
}
