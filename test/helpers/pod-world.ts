/** The pod tests' world: a Docker engine with the busybox image, and a stand-in API server; torn down together. */
import type Docker from 'dockerode';
import { StandInApiServer } from '../k8s/stand-in-api.js';
import { ensureImage, removeContainers, requireDocker } from './docker.js';

export async function startPodWorld(): Promise<{ d: Docker; api: StandInApiServer }> {
  const d = await requireDocker();
  await ensureImage(d);
  return { d, api: await StandInApiServer.start() };
}

/** Remove the containers labelled with `label` and stop the API server (either may never have started). */
export async function stopPodWorld(d: Docker | undefined, api: StandInApiServer | undefined, label: string): Promise<void> {
  if (d) await removeContainers(d, label);
  await api?.stop();
}
