/**
 * Every command stopped by the user's Ctrl-C before it changed anything ends with the note and one closing `error:`
 * line that says what was (not) done, and exits 130 (README "Exit codes"), single pod and batch (-l), on the agent path
 * from a "laptop" (pods on other nodes; no Docker, no containerd here): at the first moment the tool's own code runs,
 * and while the API server has not answered the command's first request (a stand-in that never answers it). Before,
 * every command but a batch printed `note: SIGINT: stopping` and nothing else (an outside tryout found it for the
 * first ~0.5 s); a single pod stopped at its first moment also left the agent pod it went on to create. Through the
 * binaries against the stand-in API server; no plugin runs (the config is never used). The batch's later windows are
 * test/integration/batch-interrupt.test.ts's.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { show, spawnCli } from '../helpers/cli.js';
import { bridgeConf, writeConf } from '../helpers/confs.js';
import type { Tool } from '../helpers/env.js';
import { useLab } from '../helpers/lab.js';
import { waitFor } from '../helpers/sh.js';
import { makePod, type StandInApiServer } from '../k8s/stand-in-api.js';
import { ownCodeRuns, useStandInApi } from '../helpers/stops.js';

const lab = useLab('sl');
const standIn = useStandInApi();
let api: StandInApiServer;
beforeEach(() => {
  api = standIn();
});

const NOTHING = 'before it changed anything: nothing was changed';
/** Each command line (a name, the tool, its words after the common ones) and the closing line its stop ends with. */
const LINES: [string, Tool, (conf: string) => string[], string][] = [
  ['attach one pod', 'attach', (conf) => ['web-1', '--ifname', 'net1', '--conf', conf], `attach stopped by SIGINT (Ctrl-C) ${NOTHING}`],
  ['detach one pod', 'detach', () => ['web-1', '--ifname', 'net1'], `detach stopped by SIGINT (Ctrl-C) ${NOTHING}`],
  ['check one pod', 'check', () => ['web-1', '--ifname', 'net1'], 'check stopped by SIGINT (Ctrl-C): nothing was changed (CHECK changes nothing)'],
  ['list one pod', 'list', () => ['web-1'], 'list stopped by SIGINT (Ctrl-C): nothing was changed (listing changes nothing)'],
  ['list -A', 'list', () => ['-A'], 'list stopped by SIGINT (Ctrl-C): nothing was changed (listing changes nothing)'],
  ['gc', 'gc', () => [], `gc stopped by SIGINT (Ctrl-C) ${NOTHING}`],
  ['gc --dry-run', 'gc', () => ['--dry-run'], `gc stopped by SIGINT (Ctrl-C) ${NOTHING}`],
];
/** The batches: at the first moment their own line; while their list is unanswered, their own step's. */
const BATCHES: [string, Tool, (conf: string) => string[], string, string][] = [
  ['attach -l', 'attach', (conf) => ['-l', 'app=web', '--ifname', 'net1', '--conf', conf], 'attach stopped by SIGINT (Ctrl-C) before any pod was started: nothing changed', 'attach stopped by SIGINT (Ctrl-C) while listing the pods: nothing changed'],
  ['detach -l', 'detach', () => ['-l', 'app=web', '--ifname', 'net1'], 'detach stopped by SIGINT (Ctrl-C) before any pod was started: nothing changed', 'detach stopped by SIGINT (Ctrl-C) while listing the pods: nothing changed'],
];

/** Two pods on two other nodes; the words every command line ends with (agent flags only where the command takes them). */
async function world(tool: Tool): Promise<{ conf: string; common: string[] }> {
  const ws = await lab.workspace();
  const conf = await writeConf(ws.dir, 'net.json', bridgeConf({ name: lab.name('k'), bridge: lab.bridge(), subnet: '198.18.73.0/24', dataDir: ws.dataDir }));
  for (const [i, node] of ['node-a', 'node-b'].entries()) {
    api.addPod(makePod({ name: `web-${i + 1}`, namespace: 'shop', uid: `uid-web-${i + 1}`, nodeName: node, containerRuntime: 'containerd', labels: { app: 'web' } }));
  }
  const agent = tool === 'list' || tool === 'gc' ? [] : ['-n', 'shop', '--runtime', 'agent', '--agent-image', 'cni-attach-test/agent:none', '--cni-path', '/usr/lib/cni'];
  return { conf, common: [...(tool === 'list' ? ['-n', 'shop'] : []), ...agent, '--kubeconfig', api.kubeconfigPath, '--cache-dir', `${ws.dir}/laptop-cache`] };
}

/** Start the command, send SIGINT once `ready` says so, and check its end: the note, the closing line last, 130, nothing made. */
async function stopAt(tool: Tool, words: string[], ready: (pid: number) => Promise<boolean>, closing: string): Promise<void> {
  const run = spawnCli(tool, words);
  expect(await waitFor(() => ready(run.pid), 20_000, 1), 'the moment came').toBe(true);
  run.kill('SIGINT');
  const r = await run.done;
  expect(r.exitCode, show(r)).toBe(130);
  const lines = r.stderr.trim().split('\n');
  expect(lines.at(-1), show(r)).toBe(`error: ${closing}`);
  expect(lines.filter((l) => l.startsWith('error:')), show(r)).toHaveLength(1);
  expect(r.stderr, show(r)).toMatch(/^note: SIGINT: stopping.*\(send it again to quit at once\)$/m);
  expect(r.stderr, show(r)).not.toMatch(/internal error|^\s+at /m);
  expect(r.stdout, show(r)).toBe('');
  expect(api.requests.filter((q) => q.method !== 'GET'), 'nothing was written').toEqual([]);
  expect(api.listPods('kube-system'), 'no agent pod').toEqual([]);
  expect(api.listConfigMaps('kube-system'), 'no record').toEqual([]);
}

/** The first request the command sends is never answered. */
function firstRequestUnanswered(): (pid: number) => Promise<boolean> {
  api.failNext({}, { hang: true });
  return async () => api.requests.length > 0;
}

describe('a stop before anything changed: the note, one closing line, exit 130, nothing made', () => {
  it.each(LINES)('%s: at the first moment its own code runs', async (_name, tool, args, closing) => {
    const { conf, common } = await world(tool);
    await stopAt(tool, [...args(conf), ...common], ownCodeRuns, closing);
  });

  it.each(LINES)('%s: while its first API request is unanswered', async (_name, tool, args, closing) => {
    const { conf, common } = await world(tool);
    await stopAt(tool, [...args(conf), ...common], firstRequestUnanswered(), closing);
  });

  it.each(BATCHES)('%s: at the first moment and while its list is unanswered', async (_name, tool, args, first, listing) => {
    const { conf, common } = await world(tool);
    await stopAt(tool, [...args(conf), ...common], ownCodeRuns, first);
    await stopAt(tool, [...args(conf), ...common], firstRequestUnanswered(), listing);
  });
});

describe('a stop while the agent pod starts (it stays Pending): the closing line, exit 130, the agent deleted', () => {
  it.each(LINES.filter(([, tool]) => tool === 'attach' || tool === 'detach' || tool === 'check'))('%s', async (_name, tool, args, closing) => {
    const { conf, common } = await world(tool);
    const delay = api.podStartDelayMs;
    api.podStartDelayMs = 60_000;
    try {
      const run = spawnCli(tool, [...args(conf), ...common]);
      expect(await waitFor(async () => api.listPods('kube-system').length === 1, 20_000), 'the agent was created').toBe(true);
      run.kill('SIGINT');
      const r = await run.done;
      expect(r.exitCode, show(r)).toBe(130);
      expect(r.stderr.trim().split('\n').at(-1), show(r)).toBe(`error: ${closing}`);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('error:')), show(r)).toHaveLength(1);
      expect(r.stderr, show(r)).toMatch(/^note: SIGINT: stopping.*\(send it again to quit at once\)$/m);
      expect(api.listPods('kube-system'), 'the agent is deleted').toEqual([]);
      expect(api.listConfigMaps('kube-system'), 'no record').toEqual([]);
    } finally {
      api.podStartDelayMs = delay;
    }
  });
});

describe('a second Ctrl-C while the first stop cleans up (the agent pod\'s deletion unanswered): nothing was being changed', () => {
  it('attach one pod: the quit says nothing was being changed (if it speaks at all), never after the closing line, which is last and the only one', async () => {
    const { conf, common } = await world('attach');
    const delay = api.podStartDelayMs;
    api.podStartDelayMs = 60_000;
    try {
      const run = spawnCli('attach', ['web-1', '--ifname', 'net1', '--conf', conf, ...common]);
      expect(await waitFor(async () => api.listPods('kube-system').length === 1, 20_000), 'the agent was created').toBe(true);
      // the agent's deletion is never answered: the first stop waits for it (its cleanup), the second quits
      api.failNext({ method: 'DELETE', pathIncludes: '/namespaces/kube-system/pods/' }, { hang: true });
      run.kill('SIGINT');
      expect(await waitFor(async () => api.requests.some((q) => q.method === 'DELETE'), 10_000), 'the agent\'s deletion was sent').toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      run.kill('SIGINT');
      const r = await run.done;
      expect(r.exitCode, show(r)).toBe(130);
      const lines = r.stderr.trim().split('\n');
      const errors = lines.filter((l) => l.startsWith('error:'));
      expect(errors, show(r)).toHaveLength(1);
      // notes first, the one closing line last (before: "note: SIGINT again: …" could follow it)
      expect(lines.at(-1), show(r)).toBe(errors[0]);
      expect(errors[0], show(r)).toMatch(/^error: attach stopped by SIGINT \(Ctrl-C\)(, quit by a second SIGINT)? before it changed anything: nothing was changed$/);
      // nothing was being changed: the quit does not say "what was being changed stays as it is"
      expect(r.stderr, show(r)).not.toMatch(/what was being changed stays/);
      const quit = lines.find((l) => l.startsWith('note: SIGINT again'));
      if (quit) expect(quit, show(r)).toBe('note: SIGINT again: quitting now; nothing was being changed: nothing was changed');
      expect(api.listConfigMaps('kube-system'), 'no record').toEqual([]);
    } finally {
      api.podStartDelayMs = delay;
    }
  });
});
