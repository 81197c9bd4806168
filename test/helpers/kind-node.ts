/**
 * A kind-like node on this machine: a Debian rootfs made with debootstrap (containerd, runc, the CNI plugins, iproute2)
 * imported with `docker import`, run as a container named like the node, with containerd inside it. Pods' sandboxes
 * are started in it with `ctr -n k8s.io run` carrying the CRI pod labels, so cni-attach --runtime kind must find them
 * through ctr inside the node and run the plugins there.
 *
 * The container gets every capability this machine grants (not --privileged: this kernel's bounding set lacks
 * CAP_SYS_RESOURCE, which --privileged asks for) and the host's cgroup hierarchy, so that runc inside can make
 * cgroups; sandboxes get a cgroup parent named after the test, removed again by removeNode().
 */
import { mkdtemp, rm, mkdir, copyFile, symlink, readdir, rmdir } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { execa } from 'execa';
import { criSandboxFlags } from './containerd.js';
import { execIn } from './docker.js';

export const NODE_IMAGE = 'cni-attach-test/kind-node:bookworm';
const PACKAGES = 'containerd,runc,containernetworking-plugins,iproute2,util-linux,procps,coreutils';

/** Build the node image once per Docker engine (debootstrap takes about a minute). */
export async function ensureNodeImage(d: Docker): Promise<void> {
  try {
    await d.getImage(NODE_IMAGE).inspect();
    return;
  } catch {
    /* build it */
  }
  const dir = await mkdtemp(join(tmpdir(), 'cni-attach-node-'));
  try {
    const root = join(dir, 'root');
    const r = await execa('debootstrap', ['--variant=minbase', `--include=${PACKAGES}`, 'bookworm', root, 'http://deb.debian.org/debian'], { reject: false, all: true });
    if (r.exitCode !== 0) throw new Error(`debootstrap failed (exit ${r.exitCode}): ${String(r.all).split('\n').slice(-5).join(' | ')}`);
    // the sandboxes' own root: busybox, enough for a pause container and a ping
    const sb = join(root, 'opt/sandbox-rootfs/bin');
    await mkdir(sb, { recursive: true });
    await copyFile('/usr/bin/busybox', join(sb, 'busybox'));
    for (const t of ['sh', 'sleep', 'ip', 'ping']) await symlink('busybox', join(sb, t));
    const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [repo, tag] = NODE_IMAGE.split(':') as [string, string];
    const stream: NodeJS.ReadableStream = await d.importImage(tar.stdout, { repo, tag });
    await new Promise<void>((resolve, reject) => d.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface Node {
  name: string;
  /** The cgroup parent of this node's sandboxes, under every controller of the host. */
  cgroupParent: string;
  id: string;
}

/** Start a node container named `name` with containerd running inside, and wait until ctr answers. */
export async function startNode(d: Docker, name: string, testLabel: string): Promise<Node> {
  const c = await d.createContainer({
    name,
    Hostname: name,
    Image: NODE_IMAGE,
    Cmd: ['/usr/bin/containerd'],
    Labels: { 'cni-attach-test': testLabel, 'io.x-k8s.kind.role': 'worker' },
    HostConfig: {
      NetworkMode: 'none',
      CapAdd: ['ALL'],
      CapDrop: ['SYS_RESOURCE'],
      SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
      Binds: ['/sys/fs/cgroup:/sys/fs/cgroup:rw'],
      Tmpfs: { '/run': '', '/tmp': '' },
      // its own cgroup namespace, and /proc and /sys unmasked (fields newer than @types/dockerode)
      ...({ CgroupnsMode: 'private', MaskedPaths: [], ReadonlyPaths: [] } as object),
    },
  });
  await c.start();
  for (let i = 0; i < 100; i++) {
    if ((await execIn(d, c.id, ['ctr', 'version'])).code === 0) return { name, cgroupParent: `/cni-attach-test-${testLabel}`, id: c.id };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`containerd did not come up in node container ${name}`);
}

export interface NodeSandbox {
  id: string;
  pid: number;
}

/** A pod sandbox in the node, labelled and annotated as the CRI plugin makes them (containerd.ts criSandboxFlags). */
export async function startSandbox(d: Docker, node: Node, o: { id: string; name: string; namespace: string; uid: string; annotations?: boolean }): Promise<NodeSandbox> {
  const r = await execIn(d, node.id, [
    'ctr', '-n', 'k8s.io', 'run', '-d', '--rootfs', '--cgroup', `${node.cgroupParent}/${o.id}`,
    ...criSandboxFlags(o),
    '/opt/sandbox-rootfs', o.id, '/bin/sleep', '1000000',
  ]);
  if (r.code !== 0) throw new Error(`ctr run ${o.id}: ${r.output}`);
  const tasks = (await execIn(d, node.id, ['ctr', '-n', 'k8s.io', 'tasks', 'list'])).output;
  const line = tasks.split('\n').find((l) => l.startsWith(`${o.id} `));
  const pid = Number(line?.trim().split(/\s+/)[1]);
  if (!pid) throw new Error(`no task for ${o.id}: ${tasks}`);
  return { id: o.id, pid };
}

/** Run a command in a sandbox's network namespace, inside the node. */
export async function inSandbox(d: Docker, node: Node, sb: NodeSandbox, cmd: string[]): Promise<{ code: number; output: string }> {
  return execIn(d, node.id, ['nsenter', '-t', String(sb.pid), '-n', ...cmd]);
}

/** Stop the sandboxes, remove the node container and the cgroups its sandboxes had on the host. */
export async function removeNode(d: Docker, node: Node): Promise<void> {
  await execIn(d, node.id, ['sh', '-c', 'for t in $(ctr -n k8s.io t ls -q); do ctr -n k8s.io t kill -s KILL $t; done; sleep 0.5; for t in $(ctr -n k8s.io t ls -q); do ctr -n k8s.io t rm -f $t; done; for c in $(ctr -n k8s.io c ls -q); do ctr -n k8s.io c rm $c; done']).catch(() => undefined);
  await d.getContainer(node.id).remove({ force: true }).catch(() => undefined);
  for (const ctl of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    const base = join('/sys/fs/cgroup', ctl, node.cgroupParent);
    for (const sub of await readdir(base).catch(() => [] as string[])) {
      await rmdir(join(base, sub)).catch(() => undefined);
    }
    await rmdir(base).catch(() => undefined);
  }
}
