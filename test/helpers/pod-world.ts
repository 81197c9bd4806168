/** The pod tests' world: a Docker engine with the busybox image, and a stand-in API server; torn down together. */
import type Docker from 'dockerode';
import { afterAll, afterEach, beforeAll } from 'vitest';
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

/**
 * The pod world of a test file, with its hooks: started before the file's tests and stopped after them; after each
 * test the lab's containers, the pods of `namespace`, the records' ConfigMaps (kube-system) and the API server's
 * request log, interceptors and events are removed. Read d and api in the tests (they are set once beforeAll ran).
 */
export function usePodWorld(lab: { prefix: string }, namespace: string): { d: Docker; api: StandInApiServer } {
  const w = {} as { d: Docker; api: StandInApiServer };
  beforeAll(async () => {
    Object.assign(w, await startPodWorld());
  });
  afterAll(() => stopPodWorld(w.d, w.api, lab.prefix));
  afterEach(async () => {
    await removeContainers(w.d, lab.prefix);
    for (const p of w.api.listPods(namespace)) w.api.deletePod(namespace, p.metadata.name);
    for (const c of w.api.listConfigMaps('kube-system')) w.api.deleteConfigMap('kube-system', c.metadata.name);
    w.api.clearRequests();
    w.api.clearInterceptors();
    w.api.clearEvents();
  });
  return w;
}
