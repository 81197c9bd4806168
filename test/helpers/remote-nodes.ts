/**
 * Nodes that this machine reaches only through the cluster, for the "laptop" tests: the stand-in API server's pods/exec
 * into an agent pod runs the command as the kubelet of that pod's node would, here simulated on this host in a mount
 * namespace of its own per command where
 *   - the CNI cache directory the CLI names (`cacheDir`, also the laptop's own, empty) is the node's own directory
 *     (bind-mounted from `<dir>/nodes/<node>/cache`), so each node has its own cache, apart from the laptop's;
 *   - /run is a fresh tmpfs holding only /run/containerd/containerd.sock: the test's containerd (test/helpers/
 *     containerd.ts), where the pods' sandboxes are made with the CRI labels, so crictl/ctr on the "node" find them.
 * The agent's `nsenter -t 1 … --` (into the node's PID 1 namespaces) is what this replaces: on a real node it enters
 * the node; here PID 1 is this host, so the command runs in the mount namespace made for it instead.
 * The laptop itself has no Docker (DOCKER_HOST points nowhere) and no containerd: only the kubeconfig.
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecHandler, StandInApiServer } from '../k8s/stand-in-api.js';
import type { Containerd } from './containerd.js';

const SCRIPT = [
  'set -e',
  'mount --bind "$1" "$2"',
  'mount -t tmpfs -o mode=0755 cni-attach-test-run /run',
  'mkdir -p /run/containerd',
  ': > /run/containerd/containerd.sock',
  'mount --bind "$3" /run/containerd/containerd.sock',
  'shift 3',
  'exec "$@"',
].join('\n');

/** The directory holding a node's cache (under the world's dir). */
export function nodeCacheDir(dir: string, node: string): string {
  return join(dir, 'nodes', node, 'cache');
}

/**
 * Make `api` run pods/exec of agent pods on simulated remote nodes. `cacheDir` is the --cache-dir the CLI is given;
 * each node's own cache lives in nodeCacheDir(dir, node). Returns the handler (also installed).
 */
export async function simulateRemoteNodes(api: StandInApiServer, cd: Containerd, dir: string, cacheDir: string, nodes: string[]): Promise<ExecHandler> {
  await mkdir(cacheDir, { recursive: true });
  for (const n of nodes) await mkdir(nodeCacheDir(dir, n), { recursive: true });
  const handler: ExecHandler = (req) => {
    const node = api.getPod(req.namespace, req.pod)?.spec.nodeName ?? '';
    if (!nodes.includes(node)) throw new Error(`remote-nodes: pod ${req.namespace}/${req.pod} is on ${node || 'no node'}, not a simulated one`);
    const cmd = req.command[0] === 'nsenter' ? req.command.slice(req.command.indexOf('--') + 1) : req.command;
    return spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', SCRIPT, 'sh', nodeCacheDir(dir, node), cacheDir, cd.address, ...cmd], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  };
  api.execHandler = handler;
  return handler;
}
