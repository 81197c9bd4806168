/**
 * cni-gc deletes the agent pods that killed commands left behind, through the binaries against the stand-in API
 * server: an attach whose agent pod is still starting is SIGKILLed (nothing deletes its agent, as when a laptop loses
 * power, or a batch is killed with kill -9); the agent names the command that made it (host, pid, start), so cni-gc on
 * that host deletes it at once (before: it was left Pending/Running until the kubelet's deadline, which a node that
 * lost its kubelet, or the simulated nodes, never enforce). The kubelet's activeDeadlineSeconds is played by failing a
 * pod (reason DeadlineExceeded); a Running agent past its deadline is deleted too; never one a command may be using (its
 * command runs here, or it is another host's within its deadline: said, with when it will be deleted); cni-list -A
 * names the leftovers with the cni-gc that deletes them; --dry-run only says so. No node is reached: the agents never
 * run a command, and the killed attach left no write-ahead record (one is written only once the sandbox was found) to
 * send gc there.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, runCli, show, spawnCli } from '../helpers/cli.js';
import { writeConf } from '../helpers/confs.js';
import { useLab } from '../helpers/lab.js';
import { accessOf, allowed, shippedRbac } from '../helpers/rbac.js';
import { makePod, StandInApiServer } from '../k8s/stand-in-api.js';

const lab = useLab('ga');
let api: StandInApiServer;

beforeAll(async () => {
  api = await StandInApiServer.start();
});
afterEach(async () => {
  for (const ns of ['shop', 'kube-system']) for (const p of api.listPods(ns)) api.deletePod(ns, p.metadata.name);
  api.podStartDelayMs = 50;
  api.clearRequests();
});
afterAll(async () => {
  await api?.stop();
});

const AGENT = { 'app.kubernetes.io/name': 'cni-attach-agent' };
const agents = () => api.listPods('kube-system').filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'cni-attach-agent');

describe('cni-gc and the agent pods of killed commands', () => {
  it('deletes the finished ones, those whose command (named on the pod) is gone from this host, and those past their deadline; leaves those a command may be using, saying when; cni-list -A names the leftovers; --dry-run deletes nothing', async () => {
    const ws = await lab.workspace();
    const file = await writeConf(ws.dir, 'net.json', { cniVersion: '1.0.0', name: 'far', type: 'bridge', bridge: 'cni-far0', ipam: { type: 'host-local', subnet: '198.18.47.0/24' } });
    api.addPod(makePod({ name: 'web-1', namespace: 'shop', uid: 'uid-web-1', nodeName: 'node-far', containerRuntime: 'containerd' }));
    const cluster = ['--kubeconfig', api.kubeconfigPath, '--cache-dir', ws.cacheDir];

    // an attach whose agent is still starting, killed with SIGKILL: its agent pod stays behind
    api.podStartDelayMs = 600_000;
    const run = spawnCli('attach', ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', file, '--runtime', 'agent', '--agent-image', 'cni-attach-test/agent:none', ...cluster]);
    await expect.poll(() => agents().length, { timeout: 20_000 }).toBe(1);
    const killed = agents()[0]!;
    // it names the command that made it, as a write-ahead record does
    const by = JSON.parse(killed.metadata.annotations?.['cni-attach/by'] ?? '{}') as { host?: string; pid?: number; start?: string };
    expect(by).toEqual({ host: hostname(), pid: expect.any(Number), start: expect.stringMatching(/^\d+$/) });
    // while that command runs, its agent is in use: gc leaves it, and says nothing of it
    const g0 = await runCli('gc', cluster);
    expectOk(g0);
    expect(g0.stdout, show(g0)).toBe('gc: freed 0 stale attachments, 0 alive');
    expect(g0.stderr).toBe('');
    expect(agents().map((p) => p.metadata.name)).toEqual([killed.metadata.name]);
    // no write-ahead record while its agent starts: one is written only once the sandbox was found
    expect(api.listConfigMaps('kube-system')).toEqual([]);
    run.kill('SIGKILL');
    expect((await run.done).exitCode).not.toBe(0);
    await expect.poll(() => existsSync(`/proc/${by.pid}`), { timeout: 10_000 }).toBe(false);
    expect(agents()[0]!.status?.phase).toBe('Pending');

    // the kubelet ended another at activeDeadlineSeconds (an older version's: it names no command); another ran out its
    // sleep; one of another host's command is in use; another host's is Running past its deadline (its kubelet did not
    // end it); one of a command of this host that runs (this test) is in use
    const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const add = (name: string, node: string, phase: 'Running' | 'Succeeded' | 'Failed', byWho?: object) =>
      api.addPod(makePod({ name, namespace: 'kube-system', nodeName: node, phase, labels: { ...AGENT, 'cni-attach/node': node }, ...(byWho ? { annotations: { 'cni-attach/by': JSON.stringify(byWho) } } : {}) }));
    add('cni-attach-agent-old', 'node-a', 'Failed');
    api.updatePod('kube-system', 'cni-attach-agent-old', (p) => {
      p.status!.reason = 'DeadlineExceeded';
    });
    add('cni-attach-agent-done1', 'node-b', 'Succeeded');
    add('cni-attach-agent-inuse', 'node-c', 'Running', { host: 'laptop-2', pid: 4242 });
    add('cni-attach-agent-late', 'node-d', 'Running', { host: 'laptop-2', pid: 4243 });
    api.updatePod('kube-system', 'cni-attach-agent-late', (p) => {
      p.metadata.creationTimestamp = ago(700);
      p.status!.startTime = ago(700);
    });
    add('cni-attach-agent-mine', 'node-e', 'Running', { host: hostname(), pid: process.pid });
    const deletable = [killed.metadata.name, 'cni-attach-agent-old', 'cni-attach-agent-done1', 'cni-attach-agent-late'];
    const uids = agents().filter((p) => deletable.includes(p.metadata.name)).map((p) => p.metadata.uid).sort();
    const lateSince = agents().find((p) => p.metadata.name === 'cni-attach-agent-late')!.status!.startTime;
    const secs = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const inuseStart = Date.parse(agents().find((p) => p.metadata.name === 'cni-attach-agent-inuse')!.status!.startTime!);
    const whys = [
      `kube-system/${killed.metadata.name} on node node-far: Pending, made by a kubectl cni-* command (pid ${by.pid} on this host ${hostname()}), which is gone (killed?): nothing uses it`,
      'kube-system/cni-attach-agent-old on node node-a: finished (Failed: DeadlineExceeded), left behind by a cni-attach command that did not end normally',
      'kube-system/cni-attach-agent-done1 on node node-b: finished (Succeeded), left behind by a cni-attach command that did not end normally',
      `kube-system/cni-attach-agent-late on node node-d: Running past its deadline (started ${secs(Date.parse(lateSince!))}, activeDeadlineSeconds 600: deadline ${secs(Date.parse(lateSince!) + 600_000)}), made by a kubectl cni-* command (pid 4243 on host laptop-2): no command can be using it, and its kubelet did not end it`,
    ];
    const left = `note: left agent pod kube-system/cni-attach-agent-inuse on node node-c: Running, made by a kubectl cni-* command (pid 4242 on host laptop-2), may be in use: only on host laptop-2 can it be told whether its command still runs; its deadline is ${secs(inuseStart + 600_000)}, and \`kubectl cni-gc --kubeconfig ${api.kubeconfigPath} --cache-dir ${ws.cacheDir}\` from ${secs(inuseStart + 660_000)} on (a minute for its kubelet to end it) deletes it`;
    const said = (verb: string) => [...whys.map((w) => `note: ${verb} agent pod ${w}`), left].sort();

    // cni-list -A names the leftovers (before: nothing), with the cni-gc that deletes them
    const list = await runCli('list', ['-A', ...cluster]);
    expectOk(list);
    expect(list.stderr.split('\n').filter((l) => l.includes('agent pod')).sort(), show(list)).toEqual(
      whys.map((w) => { const [name, why] = [w.slice(0, w.indexOf(': ')), w.slice(w.indexOf(': ') + 2)]; return `note: agent pod ${name} is left over: ${why}; \`kubectl cni-gc --kubeconfig ${api.kubeconfigPath} --cache-dir ${ws.cacheDir}\` deletes it`; }).sort(),
    );

    const dry = await runCli('gc', ['--dry-run', ...cluster]);
    expectOk(dry);
    expect(dry.stderr.split('\n').filter(Boolean).sort(), show(dry)).toEqual(said('would delete'));
    // counted in the summary as the real run counts them (before: named in notes, not counted)
    expect(dry.stdout, show(dry)).toBe('gc: would free 0 stale attachments, 0 alive, 4 leftover agent pods to delete');
    const dryJson = await runCli('gc', ['--dry-run', '-o', 'json', ...cluster]);
    expectOk(dryJson);
    expect(JSON.parse(dryJson.stdout).agentPodsDeleted.sort(), show(dryJson)).toEqual(deletable.map((n) => `kube-system/${n}`).sort());
    expect(agents()).toHaveLength(6);
    expect(api.requests.filter((q) => q.method === 'DELETE')).toEqual([]);

    api.clearRequests();
    const g = await runCli('gc', ['-o', 'json', ...cluster]);
    expectOk(g);
    expect(g.stderr.split('\n').filter(Boolean).sort(), show(g)).toEqual(said('deleted'));
    expect(JSON.parse(g.stdout).agentPodsDeleted.sort()).toEqual(deletable.map((n) => `kube-system/${n}`).sort());
    // nothing left to delete: the next run counts none
    const again = await runCli('gc', cluster);
    expectOk(again);
    expect(again.stdout, show(again)).toBe('gc: freed 0 stale attachments, 0 alive');
    expect(agents().map((p) => p.metadata.name).sort()).toEqual(['cni-attach-agent-inuse', 'cni-attach-agent-mine']);
    // each delete names the very pod that was listed (a uid precondition), and what it asked the shipped RBAC allows
    const deletes = api.requests.filter((q) => q.method === 'DELETE');
    expect(deletes.map((q) => (q.body as { preconditions?: { uid?: string } }).preconditions?.uid).sort()).toEqual(uids);
    const grants = shippedRbac();
    for (const a of api.requests.map((q) => accessOf(q.method, q.path, q.query)).filter((x) => x !== undefined)) expect(allowed(grants, a), JSON.stringify(a)).toBe(true);
  }, 120_000);
});
