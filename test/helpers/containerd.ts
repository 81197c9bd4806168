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

/** A sandbox labelled like the CRI plugin labels them; returns its task pid. */
export async function startSandbox(c: Containerd, o: { id: string; name: string; namespace: string; uid: string }): Promise<number> {
  const r = await ctr(c, [
    'run', '-d', '--rootfs', '--cgroup', `${c.cgroupParent}/${o.id}`,
    '--label', 'io.cri-containerd.kind=sandbox',
    '--label', `io.kubernetes.pod.name=${o.name}`,
    '--label', `io.kubernetes.pod.namespace=${o.namespace}`,
    '--label', `io.kubernetes.pod.uid=${o.uid}`,
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
