/**
 * From a laptop: a kubeconfig and nothing else (DOCKER_HOST names a socket that does not exist, no containerd), the
 * pods on two other nodes. --runtime auto must reach each node through an agent pod there, over API servers that
 * speak only v4.channel.k8s.io or only v5.channel.k8s.io, and leave no agent behind (also after Ctrl-C). The nodes
 * are node containers of test/helpers/kind-node.ts (containerd inside, the sandboxes ctr containers with the CRI
 * labels); the stand-in API server runs the agents' pods/exec inside the container of the agent pod's node, as the
 * kubelet there would. The node containers are named unlike the nodes, so nothing on this machine finds them by name.
 * Addresses: 198.18.46.0/24, on a bridge inside each node.
 */
import { spawn } from 'node:child_process';
import type Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, show, spawnCli } from '../helpers/cli.js';
import { writeConf } from '../helpers/confs.js';
import { execIn, requireDocker } from '../helpers/docker.js';
import { ensureNodeImage, inSandbox, removeNode, startNode, startSandbox, type Node, type NodeSandbox } from '../helpers/kind-node.js';
import { useLab } from '../helpers/lab.js';
import { runBin } from '../helpers/run.js';
import { type ExecProtocol, makePod, StandInApiServer } from '../k8s/stand-in-api.js';
import { execRoundTrips } from '../helpers/node-trips.js';

const lab = useLab('lp');
let api: StandInApiServer;
let d: Docker;
const nodes: Node[] = [];
/** Kubernetes node name → the node container. */
const containerOf = new Map<string, string>();
/** Agent pod name → the node its pods/exec calls run on. */
const nodeOfAgent = new Map<string, string>();
/** Kubernetes node name → the node round trips made there: an exec's own command, or each request of a node session. */
const execsOn = {
  clear: () => void (counted = api.execs.length),
  get: (): Record<string, number> => {
    const on: Record<string, number> = {};
    for (const e of api.execs.slice(counted)) {
      const node = nodeOfAgent.get(e.pod) ?? '?';
      on[node] = (on[node] ?? 0) + execRoundTrips(Buffer.concat(e.stdinMessages));
    }
    return on;
  },
};
let counted = 0;

beforeAll(async () => {
  d = await requireDocker();
  await ensureNodeImage(d);
  api = await StandInApiServer.start();
  api.execHandler = (req) => {
    const node = api.getPod(req.namespace, req.pod)?.spec.nodeName ?? '';
    nodeOfAgent.set(req.pod, node);
    return spawn('docker', ['exec', '-i', containerOf.get(node) ?? node, ...req.command], { stdio: ['pipe', 'pipe', 'pipe'] });
  };
}, 300_000);
afterEach(async () => {
  for (const n of nodes.splice(0)) await removeNode(d, n);
  containerOf.clear();
  nodeOfAgent.clear();
  for (const ns of ['shop', 'kube-system']) for (const p of api.listPods(ns)) api.deletePod(ns, p.metadata.name);
  api.execProtocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
  api.podSecurity = {};
  api.podStartDelayMs = 50;
  api.clearRequests();
  api.execs.length = 0;
  counted = 0;
  api.podDeletions.length = 0;
});
afterAll(async () => {
  await api?.stop();
});

const conf = { cniVersion: '1.0.0', name: 'far-br', type: 'bridge', bridge: 'cni-far0', ipam: { type: 'host-local', subnet: '198.18.46.0/24' } };
/** A laptop: no Docker, no containerd, not a node of the cluster. */
const LAPTOP = { DOCKER_HOST: 'unix:///nonexistent/docker.sock', CONTAINERD_ADDRESS: '/nonexistent/containerd.sock', NODE_NAME: undefined };

/** Two nodes, node-a-… and node-b-…, each with one pod of app=web. */
async function world() {
  const ws = await lab.workspace();
  const file = await writeConf(ws.dir, 'net.json', conf);
  const pods: { name: string; node: Node; nodeName: string; sandbox: NodeSandbox }[] = [];
  await Promise.all(
    ['a', 'b'].map(async (x, i) => {
      const node = await startNode(d, `${lab.prefix}-${x}`, `${lab.prefix}-${x}`);
      nodes.push(node);
      const nodeName = `far-node-${x}-${lab.prefix}`;
      containerOf.set(nodeName, node.name);
      const name = `web-${i + 1}`;
      const uid = `${lab.prefix}-${name}`;
      api.addPod(makePod({ name, namespace: 'shop', uid, nodeName, containerRuntime: 'containerd', labels: { app: 'web' } }));
      pods.push({ name, node, nodeName, sandbox: await startSandbox(d, node, { id: `sb-${name}`, name, namespace: 'shop', uid }) });
    }),
  );
  pods.sort((a, b) => a.name.localeCompare(b.name));
  const args = (...more: string[]) => ['-n', 'shop', '--kubeconfig', api.kubeconfigPath, ...more];
  return { file, pods, args };
}

const hasLink = async (p: { node: Node; sandbox: NodeSandbox }, ifname: string) => (await inSandbox(d, p.node, p.sandbox, ['ip', 'link', 'show', ifname])).code === 0;
const results = async (n: Node) => (await execIn(d, n.id, ['sh', '-c', 'ls -1A /var/lib/cni/results 2>/dev/null || true'])).output.split('\n').filter(Boolean);
const agentsLeft = () => api.listPods('kube-system').filter((p) => p.metadata.name.startsWith('cni-attach-agent-'));

describe('from a laptop (a kubeconfig, no Docker, no containerd): pods on two other nodes, with the defaults', () => {
  for (const protocol of ['v4.channel.k8s.io', 'v5.channel.k8s.io'] as ExecProtocol[]) {
    it(`${protocol}: attach each pod, check, detach the batch; an agent per node, none left`, async () => {
      api.execProtocols = [protocol];
      const w = await world();
      for (const p of w.pods) {
        const r = await runBin('attach', [p.name, ...w.args('--ifname', 'eth1', '--conf', w.file, '-v')], { env: LAPTOP, timeoutMs: 90_000 });
        expectOk(r);
        expect(r.stdout, show(r)).toMatch(new RegExp(`^eth1 attached to pod shop/${p.name} \\(network far-br, node ${p.nodeName}, sandbox sb-${p.name}\\)\\n  eth1  198\\.18\\.46\\.\\d+/24`));
        expect(r.stderr, show(r)).toContain(`note: pod shop/${p.name} is on node ${p.nodeName}, not this host`);
        expect(r.stderr, show(r)).toContain('reaching it through an agent pod in kube-system');
        expect(r.stderr, show(r)).toContain(`debug: pods/exec: the API server speaks ${protocol}`);
        expect(await hasLink(p, 'eth1')).toBe(true);
        expect(await results(p.node)).toEqual([`far-br-sb-${p.name}-eth1`]);
      }
      // with the defaults too, 2 + plugins node round trips per attach (look-up, ADD, result), as requests on one node
      // session (one pods/exec) per attach
      expect(api.execs.length).toBe(2);
      expect(api.execs.map((e) => execRoundTrips(Buffer.concat(e.stdinMessages)))).toEqual([3, 3]);
      // every pods/exec ended by itself, with its status, stdin included (no early close under v4)
      expect(api.execs.filter((e) => e.closedEarly || e.protocol !== protocol)).toEqual([]);
      expect(api.execs.some((e) => e.stdin)).toBe(true);
      expect(agentsLeft()).toEqual([]);

      const c = await runBin('check', ['web-2', ...w.args('--ifname', 'eth1')], { env: LAPTOP, timeoutMs: 90_000 });
      expectOk(c);
      expect(c.stdout).toBe('eth1 in pod shop/web-2 (network far-br): CHECK ok');

      api.clearRequests();
      const dt = await runBin('detach', ['-l', 'app=web', ...w.args('--ifname', 'eth1')], { env: LAPTOP, timeoutMs: 90_000 });
      expectOk(dt);
      expect(dt.stdout).toBe('eth1 detached from 2 of 2 pods');
      // the batch's nodes in one note (before: one note per node)
      const reaching = dt.stderr.split('\n').filter((l) => l.includes('not this host'));
      expect(reaching, show(dt)).toHaveLength(1);
      expect(reaching[0], show(dt)).toMatch(new RegExp(`^note: nodes (${w.pods.map((p) => p.nodeName).join(', ')}|${[...w.pods].reverse().map((p) => p.nodeName).join(', ')}) are not this host \\(\\S+\\): reaching each through an agent pod in kube-system$`));
      // one agent per node for the batch
      const created = api.requests.filter((q) => q.method === 'POST' && q.path === '/api/v1/namespaces/kube-system/pods');
      expect(created.map((q) => (q.body as { spec: { nodeName: string } }).spec.nodeName).sort()).toEqual(w.pods.map((p) => p.nodeName));
      for (const p of w.pods) {
        expect(await hasLink(p, 'eth1')).toBe(false);
        expect(await results(p.node)).toEqual([]);
      }
      expect(agentsLeft()).toEqual([]);
      expect(api.podDeletions.filter((x) => x.namespace === 'kube-system')).toHaveLength(2 + 1 + 2);
    }, 240_000);
  }

  it('cni-check of a pod whose sandbox on the other node is an earlier pod\'s: its "not this host" note once, one agent pod (tryout 8 F4 b: the note twice, from a second agent runtime)', async () => {
    const w = await world();
    const b = w.pods[1]!;
    // web-5 attached, then deleted and made again under its name (another uid): its sandbox and cache entry are the
    // earlier pod's
    api.addPod(makePod({ name: 'web-5', namespace: 'shop', uid: 'an-earlier-uid', nodeName: b.nodeName, containerRuntime: 'containerd', labels: { app: 'other' } }));
    await startSandbox(d, b.node, { id: 'sb-web-5', name: 'web-5', namespace: 'shop', uid: 'an-earlier-uid' });
    expectOk(await runBin('attach', ['web-5', ...w.args('--ifname', 'eth1', '--conf', w.file)], { env: LAPTOP, timeoutMs: 90_000 }));
    api.deletePod('shop', 'web-5');
    api.addPod(makePod({ name: 'web-5', namespace: 'shop', uid: `${lab.prefix}-web-5`, nodeName: b.nodeName, containerRuntime: 'containerd', labels: { app: 'other' } }));
    api.clearRequests();
    const c = await runBin('check', ['web-5', ...w.args('--ifname', 'eth1')], { env: LAPTOP, timeoutMs: 90_000 });
    expect(c.exitCode, show(c)).toBe(3);
    expect(c.stderr.split('\n').filter((l) => l.includes('not this host')), show(c)).toEqual([expect.stringMatching(new RegExp(`^note: pod shop/web-5 is on node ${b.nodeName}, not this host \\(\\S+\\): reaching it through an agent pod in kube-system$`))]);
    expect(c.stderr, show(c)).toMatch(/earlier pod/);
    expect(api.requests.filter((q) => q.method === 'POST' && q.path === '/api/v1/namespaces/kube-system/pods')).toHaveLength(1);
    expect(agentsLeft()).toEqual([]);
  }, 180_000);

  for (const protocol of ['v4.channel.k8s.io', 'v5.channel.k8s.io'] as ExecProtocol[]) {
    it(`${protocol}: a batch with several pods on a node: one look-up round trip per node, then 1 + plugins per pod`, async () => {
      api.execProtocols = [protocol];
      const w = await world();
      const [a, b] = [w.pods[0]!, w.pods[1]!];
      // node a: web-1, web-3, web-4; node b: web-2, and web-5 whose sandbox belongs to an earlier pod of that name
      const more = [{ name: 'web-3', at: a }, { name: 'web-4', at: a }, { name: 'web-5', at: b }];
      for (const m of more) {
        const uid = `${lab.prefix}-${m.name}`;
        api.addPod(makePod({ name: m.name, namespace: 'shop', uid, nodeName: m.at.nodeName, containerRuntime: 'containerd', labels: { app: 'web' } }));
        const sandbox = await startSandbox(d, m.at.node, { id: `sb-${m.name}`, name: m.name, namespace: 'shop', uid: m.name === 'web-5' ? 'an-earlier-uid' : uid });
        if (m.name !== 'web-5') w.pods.push({ ...m.at, name: m.name, sandbox });
      }
      const r = await runBin('attach', ['-l', 'app=web', ...w.args('--ifname', 'eth1', '--conf', w.file)], { env: LAPTOP, timeoutMs: 120_000 });
      expect(r.exitCode, show(r)).toBe(3);
      expect(r.stdout, show(r)).toBe('eth1 attached to 4 of 5 pods; 1 failed (shop/web-5)');
      expect(r.stderr).toMatch(/shop\/web-5: failed: the sandboxes of shop\/web-5 on node \S+ \(through agent pod kube-system\/\S+\) belong to an earlier pod of that name \(uid an-earlier-uid\)/);
      // node round trips: ≤ 1 + pods × (1 + plugins) per node (the look-up of all its pods, then ADD and result)
      expect(execsOn.get()).toEqual({ [a.nodeName]: 1 + 3 * 2, [b.nodeName]: 1 + 1 * 2 });
      expect(api.execs.filter((e) => e.closedEarly || e.protocol !== protocol)).toEqual([]);
      // a node session per command in flight on the node (--parallel 4), not an exec per step
      expect(api.execs.length).toBeLessThanOrEqual(4 + 1);
      for (const p of w.pods) expect(await hasLink(p, 'eth1'), p.name).toBe(true);
      expect(agentsLeft()).toEqual([]);

      execsOn.clear();
      const dt = await runBin('detach', ['-l', 'app=web', ...w.args('--ifname', 'eth1')], { env: LAPTOP, timeoutMs: 120_000 });
      expectOk(dt);
      expect(dt.stdout).toBe('eth1 detached from 4 of 5 pods, 1 had nothing attached');
      expect(execsOn.get()).toEqual({ [a.nodeName]: 1 + 3 * 2, [b.nodeName]: 1 + 1 * 2 });
      for (const p of w.pods) expect(await hasLink(p, 'eth1'), p.name).toBe(false);
      for (const n of [a.node, b.node]) expect(await results(n)).toEqual([]);
      expect(agentsLeft()).toEqual([]);
    }, 300_000);
  }

  it('Ctrl-C while the agents start: exit 130, nothing attached, no agent left', async () => {
    const w = await world();
    api.podStartDelayMs = 60_000; // the agents stay Pending
    const run = spawnCli('attach', ['-l', 'app=web', ...w.args('--ifname', 'eth1', '--conf', w.file)], LAPTOP);
    await expect.poll(() => agentsLeft().length, { timeout: 20_000 }).toBe(2);
    run.kill('SIGINT');
    const r = await run.done;
    expect(r.exitCode, show(r)).toBe(130);
    expect(agentsLeft()).toEqual([]);
    for (const p of w.pods) expect(await hasLink(p, 'eth1')).toBe(false);
  }, 120_000);

  it('Pod Security admission refusing privileged pods in the agent namespace: the label to set, exit 4', async () => {
    const w = await world();
    api.podSecurity = { 'kube-system': 'baseline' };
    const r = await runBin('attach', ['web-1', ...w.args('--ifname', 'eth1', '--conf', w.file)], { env: LAPTOP });
    // the note of how the node is reached, then the error: no stack trace, nothing else
    expect(r.exitCode, show(r)).toBe(4);
    const [note, line, ...rest] = r.stderr.split('\n').filter(Boolean);
    expect(note).toMatch(/^note: pod shop\/web-1 is on node far-node-a-\S+, not this host/);
    expect(rest).toEqual([]);
    expect(line).toMatch(/^error: Pod Security admission refuses the agent pod in namespace kube-system/);
    expect(line).toContain('violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true, hostPID=true), privileged (container "agent" must not set securityContext.privileged=true)');
    expect(line).toContain('kubectl label ns kube-system pod-security.kubernetes.io/enforce=privileged');
    expect(agentsLeft()).toEqual([]);
    expect(await hasLink(w.pods[0]!, 'eth1')).toBe(false);
  }, 120_000);
});

describe('a node container here and a node elsewhere, in one batch', () => {
  it('reaches the local node container through Docker and the other node through an agent', async () => {
    const w = await world();
    // node a is also a local node container named like its node (kind); node b is only reachable through the cluster
    const a = w.pods[0]!;
    api.deletePod('shop', a.name);
    api.addPod(makePod({ name: a.name, namespace: 'shop', uid: `${lab.prefix}-${a.name}`, nodeName: a.node.name, containerRuntime: 'containerd', labels: { app: 'web' } }));
    containerOf.set(a.node.name, a.node.name);
    const r = await runBin('attach', ['-l', 'app=web', ...w.args('--ifname', 'eth1', '--conf', w.file)], { env: { CONTAINERD_ADDRESS: LAPTOP.CONTAINERD_ADDRESS }, timeoutMs: 90_000 });
    expectOk(r);
    expect(r.stdout).toBe('eth1 attached to 2 of 2 pods');
    expect(r.stderr).toContain(`node ${w.pods[1]!.nodeName} is not this host`);
    expect(r.stderr).not.toContain(a.node.name);
    const created = api.requests.filter((q) => q.method === 'POST' && q.path === '/api/v1/namespaces/kube-system/pods');
    expect(created.map((q) => (q.body as { spec: { nodeName: string } }).spec.nodeName)).toEqual([w.pods[1]!.nodeName]);
    for (const p of w.pods) expect(await hasLink(p, 'eth1')).toBe(true);
    const dt = await runBin('detach', ['-l', 'app=web', ...w.args('--ifname', 'eth1')], { env: { CONTAINERD_ADDRESS: LAPTOP.CONTAINERD_ADDRESS }, timeoutMs: 90_000 });
    expectOk(dt);
    for (const p of w.pods) expect(await results(p.node)).toEqual([]);
    expect(agentsLeft()).toEqual([]);
  }, 240_000);
});
