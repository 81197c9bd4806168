/**
 * A containerd of the test's own on this host (its own socket, root and state under a temp dir), and pod sandboxes in
 * it made with `ctr -n k8s.io run` carrying the CRI pod labels: what --runtime cri finds through ctr, with
 * $CONTAINERD_ADDRESS pointing at this socket. Sandboxes get a cgroup parent named after the test, removed again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, rmdir, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export interface Containerd {
  dir: string;
  address: string;
  cgroupParent: string;
  proc: ChildProcess;
  rootfs: string;
}

export async function startContainerd(label: string): Promise<Containerd> {
  const dir = await mkdtemp(join(tmpdir(), `${label}-containerd-`));
  const rootfs = join(dir, 'rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  await copyFile('/usr/bin/busybox', join(rootfs, 'bin/busybox'));
  for (const t of ['sh', 'sleep', 'ip']) await symlink('busybox', join(rootfs, 'bin', t));
  const address = join(dir, 'containerd.sock');
  const proc = spawn('containerd', ['--address', address, '--root', join(dir, 'root'), '--state', join(dir, 'state')], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(address); i++) await new Promise((r) => setTimeout(r, 50));
  const c: Containerd = { dir, address, cgroupParent: `/cni-attach-test-${label}`, proc, rootfs };
  for (let i = 0; i < 100; i++) {
    if ((await ctr(c, ['version'])).exitCode === 0) return c;
    await new Promise((r) => setTimeout(r, 50));
  }
  await stopContainerd(c);
  throw new Error('containerd did not come up');
}

export function ctr(c: Containerd, args: string[]) {
  return execa('ctr', ['-n', 'k8s.io', ...args], { env: { ...process.env, CONTAINERD_ADDRESS: c.address }, reject: false, all: true });
}

/**
 * ctr's flags for a sandbox that carries what containerd's CRI plugin gives one: its labels (io.cri-containerd.kind,
 * the pod's name, namespace, uid) and, unless `annotations` is false (a containerd before 1.6, or a sandbox made
 * otherwise), the OCI annotations of its runtime spec (pkg/cri/annotations DefaultCRIAnnotations).
 */
export function criSandboxFlags(o: { id: string; name: string; namespace: string; uid: string; annotations?: boolean }): string[] {
  const labels = { 'io.cri-containerd.kind': 'sandbox', 'io.kubernetes.pod.name': o.name, 'io.kubernetes.pod.namespace': o.namespace, 'io.kubernetes.pod.uid': o.uid };
  const annotations = {
    'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': o.id, 'io.kubernetes.cri.sandbox-name': o.name,
    'io.kubernetes.cri.sandbox-namespace': o.namespace, 'io.kubernetes.cri.sandbox-uid': o.uid,
  };
  return [
    ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    ...(o.annotations === false ? [] : Object.entries(annotations).flatMap(([k, v]) => ['--annotation', `${k}=${v}`])),
  ];
}

/** A sandbox labelled and annotated like the CRI plugin makes them (criSandboxFlags); returns its task pid. */
export async function startSandbox(c: Containerd, o: { id: string; name: string; namespace: string; uid: string; annotations?: boolean }): Promise<number> {
  const r = await ctr(c, [
    'run', '-d', '--rootfs', '--cgroup', `${c.cgroupParent}/${o.id}`,
    ...criSandboxFlags(o),
    c.rootfs, o.id, '/bin/sleep', '1000000',
  ]);
  if (r.exitCode !== 0) throw new Error(`ctr run ${o.id}: ${r.all}`);
  const line = String((await ctr(c, ['tasks', 'list'])).stdout).split('\n').find((l) => l.startsWith(`${o.id} `));
  return Number(line?.trim().split(/\s+/)[1]);
}

export async function stopContainerd(c: Containerd): Promise<void> {
  const ids = String((await ctr(c, ['containers', 'list', '-q'])).stdout).split('\n').filter(Boolean);
  for (const id of ids) await ctr(c, ['tasks', 'kill', '-s', 'KILL', id]);
  await new Promise((r) => setTimeout(r, 300));
  for (const id of ids) {
    await ctr(c, ['tasks', 'delete', '-f', id]);
    await ctr(c, ['containers', 'delete', id]);
  }
  c.proc.kill('SIGTERM');
  await new Promise((r) => (c.proc.exitCode !== null ? r(undefined) : c.proc.once('exit', r)));
  for (const ctl of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    const base = join('/sys/fs/cgroup', ctl, c.cgroupParent);
    for (const sub of await readdir(base).catch(() => [] as string[])) await rmdir(join(base, sub)).catch(() => undefined);
    await rmdir(base).catch(() => undefined);
  }
  await execa('sh', ['-c', `grep -o ' ${c.dir}[^ ]*' /proc/mounts | xargs -r -n1 umount -l`], { reject: false });
  await rm(c.dir, { recursive: true, force: true });
}
