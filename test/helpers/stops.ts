/** What the tests of the user's signals through the binaries share (test/integration/batch-interrupt, stop-lines). */
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { StandInApiServer } from '../k8s/stand-in-api.js';

/**
 * Whether the process's own code has begun: its loader catches SIGHUP from its first line (bin/load-bundle.cjs),
 * which Node alone does not (its start-up catches SIGINT and SIGTERM only to reset the terminal, then dies of them).
 */
export async function ownCodeRuns(pid: number): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return caught !== undefined && (BigInt(`0x${caught}`) & 1n) === 1n;
}

/**
 * A stand-in API server for the file's tests (started before them, stopped after them); after each test its
 * interceptors, requests, the pods of `shop` and `kube-system` and kube-system's config maps (records) are cleared.
 * Returns the getter of the server.
 */
export function useStandInApi(): () => StandInApiServer {
  let api: StandInApiServer | undefined;
  beforeAll(async () => {
    api = await StandInApiServer.start();
  });
  afterEach(async () => {
    if (!api) return;
    api.clearInterceptors();
    api.clearRequests();
    for (const ns of ['shop', 'kube-system']) for (const p of api.listPods(ns)) api.deletePod(ns, p.metadata.name);
    for (const c of api.listConfigMaps('kube-system')) api.deleteConfigMap('kube-system', c.metadata.name);
  });
  afterAll(async () => {
    await api?.stop();
  });
  return () => api!;
}
