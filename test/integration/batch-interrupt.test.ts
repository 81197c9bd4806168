/**
 * A batch (`-l`) from a "laptop" (pods on other nodes, reached through agent pods; no Docker, no containerd here) that
 * the user's Ctrl-C stops before any pod began: at the first moment the tool's own code runs, while the pods are
 * listed, while the agents start. Each must end with a closing line that says what the signal did, and exit 130
 * (README "Exit codes"); nothing may be left in the cluster (no record, no agent pod). Before, a Ctrl-C in the first
 * ~0.5 s printed `note: SIGINT: stopping` and nothing else (found by an outside tryout). Through the binary against the
 * stand-in API server; no plugin runs in these tests (the config is never used). The batch stopped mid-way is
 * test/reliability/batch-signals.test.ts's; the windows inside a pod's run, test/unit/batch-signal-windows.test.ts's.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { show, spawnCli, type CliResult } from '../helpers/cli.js';
import { bridgeConf, writeConf } from '../helpers/confs.js';
import { useLab } from '../helpers/lab.js';
import { waitFor } from '../helpers/sh.js';
import { makePod, type StandInApiServer } from '../k8s/stand-in-api.js';
import { ownCodeRuns, useStandInApi } from '../helpers/stops.js';

const lab = useLab('bi');
const standIn = useStandInApi();
let api: StandInApiServer;
beforeEach(() => {
  api = standIn();
});

/** Two pods on two other nodes, and the batch's command line from a laptop. */
async function world(): Promise<string[]> {
  const ws = await lab.workspace();
  const conf = await writeConf(ws.dir, 'net.json', bridgeConf({ name: lab.name('k'), bridge: lab.bridge(), subnet: '198.18.72.0/24', dataDir: ws.dataDir }));
  for (const [i, node] of ['node-a', 'node-b'].entries()) {
    api.addPod(makePod({ name: `web-${i + 1}`, namespace: 'shop', uid: `uid-web-${i + 1}`, nodeName: node, containerRuntime: 'containerd', labels: { app: 'web' } }));
  }
  return [
    '-l', 'app=web', '-n', 'shop', '--ifname', 'net1', '--conf', conf, '--kubeconfig', api.kubeconfigPath,
    '--cache-dir', `${ws.dir}/laptop-cache`, '--runtime', 'agent', '--agent-image', 'cni-attach-test/agent:none', '--cni-path', '/usr/lib/cni',
  ];
}

/** The run's end, checked: exit 130, the closing line last on stderr; nothing of it left in the cluster. */
function stoppedWith(r: CliResult, closing: string): void {
  expect(r.exitCode, show(r)).toBe(130);
  expect(r.stderr.trim().split('\n').at(-1), show(r)).toBe(closing);
  expect(r.stderr, show(r)).not.toMatch(/internal error|^\s+at /m);
  expect(api.listConfigMaps('kube-system'), 'no record').toEqual([]);
}

describe('Ctrl-C before a batch began any pod: a closing line, exit 130, nothing left', () => {
  it.each(['attach', 'detach'] as const)('%s: at the first moment its own code runs', async (tool) => {
    const args = await world();
    const run = spawnCli(tool, tool === 'attach' ? args : args.filter((a, i) => a !== '--conf' && args[i - 1] !== '--conf'));
    expect(await waitFor(() => ownCodeRuns(run.pid), 20_000, 1), 'the loader began').toBe(true);
    run.kill('SIGINT');
    const r = await run.done;
    stoppedWith(r, `error: ${tool} stopped by SIGINT (Ctrl-C) before any pod was started: nothing changed`);
    expect(api.requests.filter((q) => q.method !== 'GET'), 'nothing was written').toEqual([]);
  });

  it('attach: while the pods are listed (the list request unanswered)', async () => {
    const args = await world();
    api.failNext({ method: 'GET', pathIncludes: 'labelSelector' }, { hang: true });
    const run = spawnCli('attach', args);
    expect(await waitFor(async () => api.requests.some((q) => q.method === 'GET' && q.path === '/api/v1/namespaces/shop/pods'), 20_000), 'the list was asked').toBe(true);
    run.kill('SIGINT');
    const r = await run.done;
    stoppedWith(r, 'error: attach stopped by SIGINT (Ctrl-C) while listing the pods: nothing changed');
    // before: "stopping what runs now and rolling back what it changed", then "nothing changed"
    expect(r.stderr, show(r)).toMatch(/^note: SIGINT: stopping before any pod was started: nothing was changed \(send it again to quit at once\)$/m);
    expect(r.stdout, show(r)).toBe('');
    expect(api.listPods('kube-system'), 'no agent').toEqual([]);
  });

  it('attach: while the agents start on both nodes (they stay Pending): every pod not started, the agents deleted', async () => {
    const args = await world();
    const delay = api.podStartDelayMs;
    api.podStartDelayMs = 60_000;
    try {
      const run = spawnCli('attach', args);
      expect(await waitFor(async () => api.listPods('kube-system').length === 2, 20_000), 'both agents were created').toBe(true);
      // the batch watches its pods from its list on (a pod deleted before its turn is skipped)
      expect(await waitFor(async () => api.requests.some((q) => q.query.watch === 'true' && q.path === '/api/v1/namespaces/shop/pods'), 10_000), 'the batch\'s watch of its pods was asked').toBe(true);
      run.kill('SIGINT');
      const r = await run.done;
      stoppedWith(r, 'error: attach stopped by SIGINT (Ctrl-C): nothing changed, 2 not started; 0 of 2 pods done');
      expect(r.stderr, show(r)).toMatch(/^note: SIGINT: stopping before any pod was started: nothing was changed \(send it again to quit at once\)$/m);
      expect(r.stdout, show(r)).toBe('net1 attached to 0 of 2 pods; stopped by SIGINT (Ctrl-C): nothing changed, 2 not started (shop/web-1, shop/web-2)');
      expect(api.listPods('kube-system'), 'the agents are deleted').toEqual([]);
      // one watch of the batch (the agents' own watches are in kube-system), and none left open after the stop
      expect(api.requests.filter((q) => q.query.watch === 'true' && q.path.startsWith('/api/v1/namespaces/shop/')).map((q) => q.query.labelSelector)).toEqual(['app=web']);
      await expect.poll(() => api.activeWatches, { timeout: 5_000 }).toBe(0);
    } finally {
      api.podStartDelayMs = delay;
    }
  });
});
