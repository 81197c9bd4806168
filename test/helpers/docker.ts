/**
 * The Docker side of the test world: a busybox image made with `docker import` from the busybox-static binary
 * (no registry here), and pods as dockershim / cri-dockerd make them — a pause ("sandbox") container labelled with the
 * pod's name, namespace and uid, plus app containers sharing its network namespace (`--network container:`).
 * Every container made here carries the label cni-attach-test=<lab prefix> and is removed by removeContainers().
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, symlink, copyFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';

export const IMAGE = 'cni-attach-test/busybox:1';
const TOOLS = ['sh', 'sleep', 'ip', 'ping', 'cat', 'ls', 'true'];

export function dockerHost(): string {
  return process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
}

export function docker(): Docker {
  const host = dockerHost();
  return host.startsWith('unix://') ? new Docker({ socketPath: host.slice(7) }) : new Docker();
}

/** Throws a clear error when no Docker engine answers (the test command starts one). */
export async function requireDocker(): Promise<Docker> {
  const d = docker();
  try {
    await d.ping();
  } catch (e) {
    throw new Error(`no Docker engine at ${dockerHost()} (${(e as Error).message}): run the tests with \`npm test\`, which starts dockerd`);
  }
  return d;
}

/** The busybox image, imported once from /usr/bin/busybox (Debian busybox-static). */
export async function ensureImage(d: Docker): Promise<void> {
  try {
    await d.getImage(IMAGE).inspect();
    return;
  } catch {
    /* not there yet */
  }
  const dir = await mkdtemp(join(tmpdir(), 'cni-attach-rootfs-'));
  try {
    await mkdir(join(dir, 'bin'));
    await copyFile('/usr/bin/busybox', join(dir, 'bin/busybox'));
    for (const t of TOOLS) await symlink('busybox', join(dir, 'bin', t));
    const tar = spawn('tar', ['-C', dir, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [repo, tag] = IMAGE.split(':') as [string, string];
    const stream: NodeJS.ReadableStream = await d.importImage(tar.stdout, { repo, tag });
    await new Promise<void>((resolve, reject) => d.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
    await d.getImage(IMAGE).inspect();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface PodContainers {
  sandboxId: string;
  sandboxName: string;
  pid: number;
  appId: string;
}

/** A pod as dockershim names and labels it: k8s_POD_<pod>_<ns>_<uid>_0 plus k8s_app_<pod>_<ns>_<uid>_0 in its netns. */
export async function startPod(d: Docker, o: { name: string; namespace: string; uid: string; testLabel: string; sandboxUid?: string }): Promise<PodContainers> {
  const uid = o.sandboxUid ?? o.uid;
  const podLabels = {
    'io.kubernetes.pod.name': o.name,
    'io.kubernetes.pod.namespace': o.namespace,
    'io.kubernetes.pod.uid': uid,
    'cni-attach-test': o.testLabel,
  };
  const sandboxName = `k8s_POD_${o.name}_${o.namespace}_${uid}_0`;
  const sandbox = await d.createContainer({
    name: sandboxName,
    Image: IMAGE,
    Cmd: ['/bin/sleep', 'infinity'],
    Labels: { ...podLabels, 'io.kubernetes.docker.type': 'podsandbox' },
    HostConfig: { NetworkMode: 'none' },
  });
  await sandbox.start();
  const app = await d.createContainer({
    name: `k8s_app_${o.name}_${o.namespace}_${uid}_0`,
    Image: IMAGE,
    Cmd: ['/bin/sleep', 'infinity'],
    Labels: { ...podLabels, 'io.kubernetes.docker.type': 'container', 'io.kubernetes.container.name': 'app' },
    HostConfig: { NetworkMode: `container:${sandbox.id}` },
  });
  await app.start();
  const info = await sandbox.inspect();
  return { sandboxId: sandbox.id, sandboxName, pid: info.State.Pid, appId: app.id };
}

/** Run a command in a container; resolves with its exit code and output (stdout and stderr together). */
export async function execIn(d: Docker, id: string, cmd: string[]): Promise<{ code: number; output: string }> {
  const exec = await d.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const sink = { write: (c: Buffer) => void chunks.push(Buffer.from(c)) } as unknown as NodeJS.WritableStream;
    d.modem.demuxStream(stream, sink, sink);
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
  const { ExitCode } = await exec.inspect();
  return { code: ExitCode ?? -1, output: Buffer.concat(chunks).toString('utf8') };
}

/** Remove every container carrying cni-attach-test=<label>. */
export async function removeContainers(d: Docker, label: string): Promise<void> {
  const list = await d.listContainers({ all: true, filters: JSON.stringify({ label: [`cni-attach-test=${label}`] }) });
  // app containers first: they use the sandbox's namespace
  list.sort((a, b) => Number(a.Labels['io.kubernetes.docker.type'] === 'podsandbox') - Number(b.Labels['io.kubernetes.docker.type'] === 'podsandbox'));
  for (const c of list) await d.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
}
