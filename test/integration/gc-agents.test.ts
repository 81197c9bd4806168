/**
 * cni-gc deletes the agent pods that killed commands left behind, through the binaries against the stand-in API
 * server: an attach whose agent pod is still starting is SIGKILLed (nothing deletes its agent, as when a laptop loses
 * power), the kubelet's activeDeadlineSeconds is played by failing that pod (reason DeadlineExceeded); cni-gc then
 * deletes it and a Succeeded one, and never a Pending or Running agent (another command may be using it); --dry-run
 * only says so. No node is reached: the agents never run a command, and the killed attach left no write-ahead record
 * (one is written only once the sandbox was found) to send gc there.
 */
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
  it('deletes the finished ones (Failed at the deadline, Succeeded), says so, leaves Pending and Running ones; --dry-run deletes nothing', async () => {
    const ws = await lab.workspace();
    const file = await writeConf(ws.dir, 'net.json', { cniVersion: '1.0.0', name: 'far', type: 'bridge', bridge: 'cni-far0', ipam: { type: 'host-local', subnet: '198.18.47.0/24' } });
    api.addPod(makePod({ name: 'web-1', namespace: 'shop', uid: 'uid-web-1', nodeName: 'node-far', containerRuntime: 'containerd' }));
    const cluster = ['--kubeconfig', api.kubeconfigPath, '--cache-dir', ws.cacheDir];

    // an attach whose agent is still starting, killed with SIGKILL: its agent pod stays behind
    api.podStartDelayMs = 600_000;
    const run = spawnCli('attach', ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', file, '--runtime', 'agent', '--agent-image', 'cni-attach-test/agent:none', ...cluster]);
    await expect.poll(() => agents().length, { timeout: 20_000 }).toBe(1);
    // no write-ahead record while its agent starts: one is written only once the sandbox was found (before, it was
    // written alongside the look-up, and the killed attach's record sent every cni-gc to node-far — where this agent
    // never runs: gc waited out its start, 120 s, and failed, exit 4, at every run)
    await new Promise((r) => setTimeout(r, 1500));
    expect(api.listConfigMaps('kube-system')).toEqual([]);
    run.kill('SIGKILL');
    expect((await run.done).exitCode).not.toBe(0);
    const killed = agents()[0]!;
    expect(killed.status?.phase).toBe('Pending');

    // still Pending (as it is while a command starts it): gc leaves it alone, and has no node to visit
    const began = Date.now();
    const g0 = await runCli('gc', cluster);
    expectOk(g0);
    expect(Date.now() - began).toBeLessThan(20_000);
    expect(g0.stdout, show(g0)).toBe('gc: freed 0 stale attachments, 0 alive');
    expect(g0.stderr).toBe('');
    expect(api.listConfigMaps('kube-system')).toEqual([]);
    expect(agents().map((p) => p.metadata.name)).toEqual([killed.metadata.name]);
    api.clearRequests();

    // the kubelet ends it at activeDeadlineSeconds; another agent ran out its sleep; a third is in use
    api.failPod('kube-system', killed.metadata.name, { reason: 'DeadlineExceeded', exitCode: 137 });
    api.updatePod('kube-system', killed.metadata.name, (p) => {
      p.status!.reason = 'DeadlineExceeded';
      p.status!.message = 'Pod was active on the node longer than the specified deadline';
    });
    api.addPod(makePod({ name: 'cni-attach-agent-done1', namespace: 'kube-system', nodeName: 'node-b', phase: 'Succeeded', labels: { ...AGENT, 'cni-attach/node': 'node-b' } }));
    api.addPod(makePod({ name: 'cni-attach-agent-inuse', namespace: 'kube-system', nodeName: 'node-c', phase: 'Running', labels: { ...AGENT, 'cni-attach/node': 'node-c' } }));
    const uids = agents().filter((p) => p.status?.phase !== 'Running').map((p) => p.metadata.uid).sort();
    const said = (verb: string) => [
      `note: ${verb} agent pod kube-system/${killed.metadata.name} on node node-far (Failed: DeadlineExceeded), left behind by a cni-attach command that did not end normally`,
      `note: ${verb} agent pod kube-system/cni-attach-agent-done1 on node node-b (Succeeded), left behind by a cni-attach command that did not end normally`,
    ].sort();

    const dry = await runCli('gc', ['--dry-run', ...cluster]);
    expectOk(dry);
    expect(dry.stderr.split('\n').filter(Boolean).sort(), show(dry)).toEqual(said('would delete'));
    expect(agents()).toHaveLength(3);
    expect(api.requests.filter((q) => q.method === 'DELETE')).toEqual([]);

    api.clearRequests();
    const g = await runCli('gc', ['-o', 'json', ...cluster]);
    expectOk(g);
    expect(g.stderr.split('\n').filter(Boolean).sort(), show(g)).toEqual(said('deleted'));
    expect(JSON.parse(g.stdout).agentPodsDeleted.sort()).toEqual([`kube-system/${killed.metadata.name}`, 'kube-system/cni-attach-agent-done1'].sort());
    expect(agents().map((p) => p.metadata.name)).toEqual(['cni-attach-agent-inuse']);
    // each delete names the very pod that was listed (a uid precondition), and what it asked the shipped RBAC allows
    const deletes = api.requests.filter((q) => q.method === 'DELETE');
    expect(deletes.map((q) => (q.body as { preconditions?: { uid?: string } }).preconditions?.uid).sort()).toEqual(uids);
    const grants = shippedRbac();
    for (const a of api.requests.map((q) => accessOf(q.method, q.path, q.query)).filter((x) => x !== undefined)) expect(allowed(grants, a), JSON.stringify(a)).toBe(true);
  }, 120_000);
});
