/**
 * The Docker runtime (dockershim / cri-dockerd nodes): the pod's sandbox is the container labelled
 * io.kubernetes.docker.type=podsandbox with the pod's name, namespace and uid; its State.Pid gives /proc/PID/ns/net.
 */
import type Dockerode from 'dockerode';
import { NotFoundError, UnreachableError, UsageError } from '../errors.js';
import type { PodRef, PodRuntime, Sandbox } from './runtime.js';

/** dockerode options for a DOCKER_HOST-style address; undefined leaves it to dockerode ($DOCKER_HOST or the default socket). */
export function dockerOptions(host: string | undefined): Dockerode.DockerOptions | undefined {
  if (!host) return undefined;
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  const m = /^(tcp|http|https):\/\/([^:/]+|\[[^\]]+\]):(\d+)\/?$/.exec(host);
  if (m) return { protocol: m[1] === 'https' ? 'https' : 'http', host: m[2]!, port: Number(m[3]) };
  throw new UsageError(`Docker host "${host}" is not unix:///path/to/docker.sock or tcp://host:port`, { fix: { setting: 'dockerHost' } });
}

function describeHost(host: string | undefined, env: NodeJS.ProcessEnv): string {
  return `Docker at ${host ?? env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'}`;
}

/**
 * A dockerode client for --docker-host / $DOCKER_HOST, and how to name it in messages. With timeoutMs, a request
 * that gets no answer for that long fails (a wedged Docker must not hang the CLI); exec streams use a client without.
 */
export async function dockerClient(host: string | undefined, env: NodeJS.ProcessEnv = process.env, timeoutMs?: number): Promise<{ docker: Dockerode; where: string }> {
  const opts = { ...dockerOptions(host), ...(timeoutMs ? { timeout: timeoutMs } : {}) };
  const { default: Docker } = await import('dockerode');
  return { docker: new Docker(opts), where: describeHost(host, env) };
}

export async function dockerRuntime(host: string | undefined, env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000): Promise<PodRuntime> {
  const { docker, where } = await dockerClient(host, env, timeoutMs);
  const unreachable = (e: unknown) => {
    const err = e as { code?: string; statusCode?: number; message?: string };
    return new UnreachableError(`cannot reach ${where}: ${err.code ?? err.statusCode ?? ''} ${err.message ?? String(e)}`.replace(/\s+/g, ' ').trim(), { cause: e });
  };

  const list = async (labels: string[]): Promise<Dockerode.ContainerInfo[]> => {
    try {
      return await docker.listContainers({ all: true, filters: JSON.stringify({ label: ['io.kubernetes.docker.type=podsandbox', ...labels] }) });
    } catch (e) {
      throw unreachable(e);
    }
  };
  let all: Dockerode.ContainerInfo[] | undefined;
  const label = (c: Dockerode.ContainerInfo, k: string) => c.Labels?.[`io.kubernetes.pod.${k}`];

  return {
    name: 'docker',
    where,
    // no Docker socket at all (ENOENT) is a Docker that cannot be asked, as one that refuses: never "no sandboxes" —
    // a batch would say "no sandbox" of every pod, cni-gc free every attachment of this host's pods. (--runtime auto
    // lets the other runtimes answer: resolve/pod.ts findSandbox, prepareBatch, listAllSandboxes.)
    async listSandboxes() {
      all = await list([]);
      return all.map((c) => ({ id: c.Id, running: c.State === 'running', namespace: label(c, 'namespace'), name: label(c, 'name'), uid: label(c, 'uid') }));
    },
    async findSandbox(pod: PodRef): Promise<Sandbox | undefined> {
      const found = all
        ? all.filter((c) => label(c, 'name') === pod.name && label(c, 'namespace') === pod.namespace)
        : await list([`io.kubernetes.pod.name=${pod.name}`, `io.kubernetes.pod.namespace=${pod.namespace}`]);
      if (found.length === 0) return undefined;
      const mine = found.filter((c) => label(c, 'uid') === pod.uid);
      if (mine.length === 0) {
        const uids = [...new Set(found.map((c) => label(c, 'uid') ?? '?'))].join(', ');
        throw new NotFoundError(
          `the sandbox containers of ${pod.namespace}/${pod.name} in ${where} belong to an earlier pod of that name (uid ${uids}), not to this one (uid ${pod.uid}); refusing to attach to a stale sandbox`,
        );
      }
      // newest first: after a sandbox restart the old one may linger, exited
      mine.sort((a, b) => b.Created - a.Created);
      for (const c of mine) {
        let info: Dockerode.ContainerInspectInfo;
        try {
          info = await docker.getContainer(c.Id).inspect();
        } catch (e) {
          if ((e as { statusCode?: number }).statusCode === 404) continue; // removed in between
          throw unreachable(e);
        }
        if (info.State.Running && info.State.Pid > 0) {
          return { id: info.Id, pid: info.State.Pid, netnsPath: `/proc/${info.State.Pid}/ns/net` };
        }
      }
      throw new NotFoundError(`the sandbox of ${pod.namespace}/${pod.name} (${mine[0]!.Id.slice(0, 12)}) in ${where} is not running`);
    },
  };
}
