/**
 * Issue 11, kinds 2 and 3 on a batch (`-l`): the user's first SIGINT/SIGTERM stops the batch outright. The pods in
 * flight are stopped as one command is (an attach rolled back, a detach keeping its record), the pods not yet started
 * are not touched (no plugin runs for them), the pods done before stay done with their network-status and cluster
 * record, and the summary and the exit code (130/143) say which is which. Through the binary, on Docker pods (as
 * test/integration/pods.test.ts makes them) served by the stand-in API server; a fake plugin after the bridge is slow
 * for two of the pods, so that those are in flight when the signal comes. Each pod's state is read from its network
 * namespace, the cache, the leases, its annotation and the node's records ConfigMap. Addresses: 198.18.114.0/24.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOk, runCli, show, spawnCli, type CliResult } from '../helpers/cli.js';
import { bridgePlugin, conflist, writeConf } from '../helpers/confs.js';
import { dockerHost, startPod, type PodContainers } from '../helpers/docker.js';
import { CNI_DIR } from '../helpers/env.js';
import { fakePlugin, passThroughAdd } from '../helpers/fake-plugin.js';
import { makeBridge, processesMarked } from '../helpers/host-state.js';
import { leases } from '../helpers/ipam.js';
import { attachmentFiles, useLab } from '../helpers/lab.js';
import { killAll, sh, uniqueSeconds, waitFor } from '../helpers/sh.js';
import { usePodWorld } from '../helpers/pod-world.js';
import { makePod } from '../k8s/stand-in-api.js';

const lab = useLab('bs');
const NODE = hostname();
const NS = 'rel-batch';
const STATUS = 'k8s.v1.cni.cncf.io/network-status';
const DEFAULT_STATUS = [{ name: 'kindnet', interface: 'eth0', ips: ['10.244.1.7'], default: true, dns: {} }];
const PODS = ['web-1', 'web-2', 'web-3', 'web-4', 'web-5', 'web-6'];
/** With --parallel 2, web-1 and web-2 are done before web-3 and web-4 start; those two are slow; web-5, web-6 wait. */
const SLOW = ['web-3', 'web-4'];
const pw = usePodWorld(lab, NS);

/**
 * The 'slow' plugin (after the bridge): logs each ADD/DEL with its pod; for the pods in `slowOn` its `command` marks
 * that it started, then sleeps (until the signal kills it).
 */
function slowPlugin(dir: string, log: string, marker: string, slowOn: 'ADD' | 'DEL' | 'ADD+DEL' | 'none') {
  const pod = `POD=$(printf '%s' "$CNI_ARGS" | sed -n 's/.*K8S_POD_NAME=\\([^;]*\\).*/\\1/p')`;
  const slow = (cmd: string) => (slowOn.split('+').includes(cmd) ? `case "$POD" in ${SLOW.join('|')}) touch ${dir}/started-$POD; sleep ${marker};; esac\n` : '');
  return fakePlugin(dir, 'slow', {
    add: `${pod}\necho "ADD $POD" >> ${log}\n${slow('ADD')}${passThroughAdd('0')}`,
    del: `${pod}\necho "DEL $POD" >> ${log}\n${slow('DEL')}exit 0`,
  });
}

async function world() {
  const ws = await lab.workspace();
  const br = await makeBridge(lab);
  const net = lab.name('k');
  const conf = await writeConf(ws.dir, 'chain.conflist', conflist(net, [bridgePlugin(br, '198.18.114.0/24', ws.dataDir), { type: 'slow' }]));
  const log = join(ws.dir, 'plugin.log');
  const marker = uniqueSeconds(40);
  lab.defer('slow plugin', () => killAll(`^sleep ${marker.replace('.', '\\.')}$`));
  const pods = new Map<string, PodContainers>();
  for (const name of PODS) {
    const uid = `${lab.prefix}-${name}-uid`;
    pw.api.addPod(makePod({ name, namespace: NS, uid, nodeName: NODE, phase: 'Running', labels: { app: 'web' }, annotations: { [STATUS]: JSON.stringify(DEFAULT_STATUS) } }));
    pods.set(name, await startPod(pw.d, { name, namespace: NS, uid, testLabel: lab.prefix }));
  }
  const args = (...more: string[]) => [
    '-l', 'app=web', '-n', NS, '--ifname', 'eth1', '--kubeconfig', pw.api.kubeconfigPath, '--cache-dir', ws.cacheDir,
    '--cni-path', `${ws.pluginDir}:${CNI_DIR}`, '--docker-host', dockerHost(), '--runtime', 'docker', '--parallel', '2', ...more,
  ];
  const plugin = (slowOn: 'ADD' | 'DEL' | 'ADD+DEL' | 'none') => slowPlugin(ws.pluginDir, log, marker, slowOn);
  const logged = async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { ws, net, conf, pods, args, plugin, logged, marker };
}
type World = Awaited<ReturnType<typeof world>>;

/** What is there of eth1 for one pod, from every place that can tell. */
interface PodState {
  /** eth1's IPv4 address in the pod's namespace, or null when there is no eth1. */
  eth1: string | null;
  cacheFiles: string[];
  leases: number;
  /** The interfaces network-status lists. */
  annotated: string[];
  /** Whether the node's records ConfigMap has a record of the pod (its attachment, or an attach's write-ahead). */
  recorded: boolean;
}

async function stateOf(w: World, name: string): Promise<PodState> {
  const pod = w.pods.get(name)!;
  const r = await sh(['nsenter', `--net=/proc/${pod.pid}/ns/net`, '--', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth1']);
  const status = JSON.parse(pw.api.getPod(NS, name)?.metadata.annotations?.[STATUS] ?? '[]') as { interface: string }[];
  const records = pw.api.getConfigMap('kube-system', `cni-attach-node-${NODE}`)?.data ?? {};
  return {
    eth1: r.exitCode === 0 ? /inet (\S+)/.exec(r.stdout)?.[1] ?? '(no address)' : null,
    cacheFiles: (await attachmentFiles(w.ws.cacheDir)).filter((f) => f.includes(pod.sandboxId)),
    leases: (await leases(w.ws.dataDir)).filter((l) => l.containerId === pod.sandboxId).length,
    annotated: status.map((e) => e.interface),
    // its record, or the write-ahead of an attach of it (attaching, keyed by the pod's uid): either is about this pod
    recorded: Object.values(records).some((v) => (JSON.parse(v) as { pod?: string }).pod === name),
  };
}

/** Attached as before (`stoppedInDel`: with the mark of the DEL the signal stopped, cni-list's `detach stopped`). */
function attached(w: World, name: string, s: PodState, what: string, stoppedInDel = false): void {
  expect(s.eth1, `${name} ${what}`).toMatch(/^198\.18\.114\.\d+\/24$/);
  const key = `${w.net}-${w.pods.get(name)!.sandboxId}-eth1`;
  expect(s, `${name} ${what}`).toMatchObject({ cacheFiles: [...(stoppedInDel ? [`cni-attach/deleting/${key}`] : []), `results/${key}`], leases: 1, annotated: ['eth0', 'eth1'], recorded: true });
}

function untouched(name: string, s: PodState, what: string): void {
  expect(s, `${name} ${what}`).toEqual({ eth1: null, cacheFiles: [], leases: 0, annotated: ['eth0'], recorded: false });
}

/** Start the batch, wait until both slow pods are in their slow plugin, send the signal; the run's result. */
async function stopWhenSlow(w: World, tool: 'attach' | 'detach', args: string[], signal: NodeJS.Signals): Promise<CliResult> {
  const run = spawnCli(tool, args);
  const inFlight = await waitFor(async () => SLOW.every((p) => existsSync(join(w.ws.pluginDir, `started-${p}`))), 30_000);
  if (!inFlight) {
    run.kill('SIGKILL');
    expect.fail(`the slow pods never started their plugin\n${show(await run.done)}`);
  }
  const t0 = Date.now();
  run.kill(signal);
  const r = await run.done;
  // the slow plugins are killed, the rollbacks are a few plugin runs: nothing waits for the 40 s sleeps
  expect(Date.now() - t0, show(r)).toBeLessThan(10_000);
  return r;
}

const podsOf = (names: string[]) => names.map((n) => `${NS}/${n}`).join(', ');

describe('a -l batch stops outright on the first signal', () => {
  it.each([
    ['SIGTERM', 143, 'SIGTERM'],
    ['SIGINT', 130, 'SIGINT \\(Ctrl-C\\)'],
  ] as const)('attach, %s: the 2 done stay attached, the 2 in flight are rolled back, the 2 not started are untouched; exit %i', async (signal, code, said) => {
    const w = await world();
    await w.plugin('ADD');
    const r = await stopWhenSlow(w, 'attach', w.args('--conf', w.conf), signal);

    expect(r.exitCode, show(r)).toBe(code);
    expect(r.stdout.trim(), show(r)).toBe(`eth1 attached to 2 of 6 pods; stopped by ${signal === 'SIGINT' ? 'SIGINT (Ctrl-C)' : signal}: 2 rolled back (${podsOf(SLOW)}), 2 not started (${podsOf(['web-5', 'web-6'])})`);
    const lines = r.stderr.trim().split('\n');
    // a progress line for each pod that ran (web-1, web-2 attached; web-3, web-4 stopped and rolled back), none for the rest
    expect(lines.filter((l) => /^\[\d\/6\] /.test(l)).map((l) => l.replace(/^\[\d\/6\] rel-batch\/(web-\d): (\S+).*$/, '$1 $2')).sort(), show(r)).toEqual(
      ['web-1 attached', 'web-2 attached', 'web-3 stopped:', 'web-4 stopped:'],
    );
    for (const p of SLOW) {
      expect(r.stderr, show(r)).toMatch(new RegExp(`\\] ${NS}/${p}: stopped: plugin slow stopped on ADD: by ${said} \\(it was killed\\) \\(rolled back: nothing was left behind\\)`));
    }
    expect(lines.at(-1), show(r)).toMatch(new RegExp(`^error: attach stopped by ${said}: 2 rolled back, 2 not started; 2 of 6 pods done$`));
    expect(r.stderr, show(r)).not.toMatch(/killed by signal SIGKILL|internal error/);

    for (const p of ['web-1', 'web-2']) attached(w, p, await stateOf(w, p), 'done before the signal');
    for (const p of SLOW) untouched(p, await stateOf(w, p), 'rolled back');
    for (const p of ['web-5', 'web-6']) untouched(p, await stateOf(w, p), 'not started');
    // no plugin ever ran for the pods not started; the pods in flight got their ADD and the rollback's DEL
    const log = await w.logged();
    expect(log.filter((l) => /web-[56]$/.test(l)), log.join('\n')).toEqual([]);
    for (const p of SLOW) expect(log.filter((l) => l.endsWith(` ${p}`)), log.join('\n')).toEqual(['ADD ' + p, 'DEL ' + p]);
    expect(await processesMarked([...w.pods.values()].map((p) => p.sandboxId)), 'no plugin of the batch still runs').toEqual([]);
    // the pods' events: the attaches made; the user's stop is no failure of the others
    expect(pw.api.listEvents(NS).map((e) => `${e.reason} ${e.involvedObject.name}`).sort()).toEqual(['AddedInterface web-1', 'AddedInterface web-2']);

    // the same command again attaches the rest (the done pods are there already: the same network, kept)
    await w.plugin('none');
    const again = await runCli('attach', w.args('--conf', w.conf));
    expectOk(again);
    // the 2 done before the signal are counted as already attached (before, not told apart)
    expect(again.stdout.trim()).toBe('eth1 attached to 6 of 6 pods (2 already attached)');
    for (const p of PODS) attached(w, p, await stateOf(w, p), 'after the second attach');
  }, 120_000);

  it('detach, SIGTERM: the 2 done are detached, the 2 in flight keep their record (still attached), the 2 not started are untouched; exit 143; again detaches the rest', async () => {
    const w = await world();
    await w.plugin('none');
    expectOk(await runCli('attach', w.args('--conf', w.conf)));
    await w.plugin('DEL');
    const r = await stopWhenSlow(w, 'detach', w.args(), 'SIGTERM');

    expect(r.exitCode, show(r)).toBe(143);
    expect(r.stdout.trim(), show(r)).toBe(`eth1 detached from 2 of 6 pods; stopped by SIGTERM: 2 stopped, still recorded (run the command again) (${podsOf(SLOW)}), 2 not started (${podsOf(['web-5', 'web-6'])})`);
    for (const p of SLOW) expect(r.stderr, show(r)).toMatch(new RegExp(`\\] ${NS}/${p}: stopped: plugin slow stopped on DEL: by SIGTERM \\(it was killed\\); the record stays: run the command again`));
    expect(r.stderr.trim().split('\n').at(-1), show(r)).toMatch(/^error: detach stopped by SIGTERM: 2 stopped, still recorded \(run the command again\), 2 not started; 2 of 6 pods done$/);

    for (const p of ['web-1', 'web-2']) untouched(p, await stateOf(w, p), 'detached before the signal');
    // the DEL of the slow plugin (the chain's last, so DELed first) was killed: the bridge's DEL never ran
    for (const p of SLOW) attached(w, p, await stateOf(w, p), 'stopped in its DEL', true);
    for (const p of ['web-5', 'web-6']) attached(w, p, await stateOf(w, p), 'not started');
    const log = await w.logged();
    expect(log.filter((l) => /^DEL web-[56]$/.test(l)), log.join('\n')).toEqual([]);

    await w.plugin('none');
    const again = await runCli('detach', w.args());
    expectOk(again);
    // the 2 detached before the signal are counted apart (before, not at all: "detached from 4 of 6 pods")
    expect(again.stdout.trim()).toBe('eth1 detached from 4 of 6 pods, 2 had nothing attached');
    for (const p of PODS) untouched(p, await stateOf(w, p), 'after the second detach');
  }, 120_000);

  it.each(['summary', 'json'] as const)('attach, SIGINT twice while the rollbacks hang: the summary (%s) says what is known, the pods in flight unknown; exit 130', async (output) => {
    const w = await world();
    // the slow pods' ADD and their rollback's DEL both hang: the first signal cannot end them, the second quits
    await w.plugin('ADD+DEL');
    const run = spawnCli('attach', w.args('--conf', w.conf, ...(output === 'json' ? ['-o', 'json'] : [])));
    expect(await waitFor(async () => SLOW.every((p) => existsSync(join(w.ws.pluginDir, `started-${p}`))), 30_000), 'the slow pods are in their ADD').toBe(true);
    run.kill('SIGINT');
    expect(await waitFor(async () => (await w.logged()).filter((l) => /^DEL web-[34]$/.test(l)).length === 2, 10_000), 'the rollbacks began').toBe(true);
    const t0 = Date.now();
    run.kill('SIGINT');
    const r = await run.done;
    expect(Date.now() - t0, show(r)).toBeLessThan(3_000);
    expect(r.exitCode, show(r)).toBe(130);
    // the note names the pods in flight, which the summary then counts unknown (before: "what was being changed stays
    // as it is", naming none)
    expect(r.stderr, show(r)).toMatch(new RegExp(`^note: SIGINT again: quitting now; 2 pods were being changed \\(${podsOf(SLOW)}\\): each stays as the quit leaves them, recorded where they were \\(the summary counts them unknown, with the cni-list that tells\\)$`, 'm'));
    const hint = `\`kubectl cni-list -n ${NS} -l app=web `;
    if (output === 'summary') {
      // before: no summary at all
      expect(r.stdout.trim(), show(r)).toContain(`eth1 attached to 2 of 6 pods; stopped by SIGINT (Ctrl-C), quit by a second SIGINT: 2 unknown (${podsOf(SLOW)}; ${hint}`);
      expect(r.stdout.trim(), show(r)).toMatch(new RegExp(`\` tells\\), 2 not started \\(${NS}/web-5, ${NS}/web-6\\)$`));
    } else {
      const list = JSON.parse(r.stdout) as { pod: string; ok: boolean; state?: string; exitCode?: number }[];
      expect(list.map((o) => `${o.pod} ${o.ok ? 'done' : `${o.state} ${o.exitCode}`}`), show(r)).toEqual([
        `${NS}/web-1 done`, `${NS}/web-2 done`, `${NS}/web-3 unknown 130`, `${NS}/web-4 unknown 130`, `${NS}/web-5 not started 130`, `${NS}/web-6 not started 130`,
      ]);
    }
    expect(r.stderr.trim().split('\n').at(-1), show(r)).toBe('error: attach stopped by SIGINT (Ctrl-C), quit by a second SIGINT: 2 unknown, 2 not started; 2 of 6 pods done');
    // what the summary says of the pods done and not started is what they hold
    for (const p of ['web-1', 'web-2']) attached(w, p, await stateOf(w, p), 'done before the signals');
    for (const p of ['web-5', 'web-6']) untouched(p, await stateOf(w, p), 'not started');
  }, 120_000);

  it('attach of one pod, SIGINT twice while its rollback hangs: the closing line says what stays; exit 130 (before: no error line)', async () => {
    const w = await world();
    await w.plugin('ADD+DEL');
    const one = w.args('--conf', w.conf).map((a) => (a === '-l' ? 'web-3' : a)).filter((a) => a !== 'app=web' && a !== '--parallel' && a !== '2');
    const run = spawnCli('attach', one);
    expect(await waitFor(async () => existsSync(join(w.ws.pluginDir, 'started-web-3')), 30_000), 'in its ADD').toBe(true);
    run.kill('SIGINT');
    expect(await waitFor(async () => (await w.logged()).includes('DEL web-3'), 10_000), 'its rollback began').toBe(true);
    run.kill('SIGINT');
    const r = await run.done;
    expect(r.exitCode, show(r)).toBe(130);
    expect(r.stderr.trim().split('\n').at(-1), show(r)).toBe(
      'error: attach stopped by SIGINT (Ctrl-C), quit by a second SIGINT during its change: what was being changed stays as it is, recorded where it was (`kubectl cni-list` shows it with the command that clears it)',
    );
    expect(r.stderr.split('\n').filter((l) => l.startsWith('error:')), show(r)).toHaveLength(1);
  }, 120_000);
});
