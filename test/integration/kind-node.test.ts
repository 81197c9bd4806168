/**
 * The kind path against a real node container on this machine (see test/helpers/kind-node.ts): the pods' node is a
 * Docker container named like the node, with containerd inside; their sandboxes are ctr containers with the CRI
 * labels. cni-attach must find them through ctr inside the node, run the node's own plugins there, and keep the cache
 * and the leases in the node. Addresses: 198.18.45.0/24, on a bridge inside the node.
 */
import type Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanError, expectOk, runCli, show, spawnCli } from '../helpers/cli.js';
import { sh, uniqueSeconds, waitFor } from '../helpers/sh.js';
import { requireDocker, execIn, removeContainers } from '../helpers/docker.js';
import { useLab } from '../helpers/lab.js';
import { ensureNodeImage, inSandbox, removeNode, startNode, startSandbox, type Node } from '../helpers/kind-node.js';
import { spawn } from 'node:child_process';
import { makePod, StandInApiServer } from '../k8s/stand-in-api.js';
import { writeConf } from '../helpers/confs.js';
import { accessOf, allowed, shippedRbac } from '../helpers/rbac.js';
import { execRoundTrips } from '../helpers/node-trips.js';
import { DockerProxy } from '../helpers/docker-proxy.js';

const lab = useLab('kd');
let api: StandInApiServer;
let d: Docker;
let node: Node | undefined;

beforeAll(async () => {
  d = await requireDocker();
  await ensureNodeImage(d);
  api = await StandInApiServer.start();
}, 300_000);
afterEach(async () => {
  api.execHandler = (await import('../k8s/stand-in-api.js')).hostExecHandler;
  api.clearRequests();
  api.podDeletions.length = 0;
  api.execs.length = 0;
  if (node) await removeNode(d, node);
  node = undefined;
  await removeContainers(d, lab.prefix);
  for (const p of api.listPods('shop')) api.deletePod('shop', p.metadata.name);
  for (const c of api.listConfigMaps('kube-system')) api.deleteConfigMap('kube-system', c.metadata.name);
});
afterAll(async () => {
  await api?.stop();
});

const conf = { cniVersion: '1.0.0', name: 'kind-br', type: 'bridge', bridge: 'cni-kind0', ipam: { type: 'host-local', subnet: '198.18.45.0/24' } };

async function world() {
  const ws = await lab.workspace();
  const file = await writeConf(ws.dir, 'net.json', conf);
  node = await startNode(d, `${lab.prefix}-worker`, lab.prefix);
  const pods = [];
  for (const name of ['web-1', 'web-2']) {
    const uid = `${lab.prefix}-${name}`;
    api.addPod(makePod({ name, namespace: 'shop', uid, nodeName: node.name, containerRuntime: 'containerd' }));
    pods.push(await startSandbox(d, node, { id: `sb-${name}`, name, namespace: 'shop', uid }));
  }
  // (--runtime agent asks no Docker: --docker-host is refused with it)
  const agent = (more: string[]) => more.some((m, i) => m === 'agent' && more[i - 1] === '--runtime');
  const args = (...more: string[]) => ['-n', 'shop', '--kubeconfig', api.kubeconfigPath, ...(agent(more) ? [] : ['--docker-host', process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock']), ...more];
  return { file, pods, args, node };
}

async function nodeFiles(n: Node, dir: string): Promise<string[]> {
  const r = await execIn(d, n.id, ['sh', '-c', `[ -d ${dir} ] && ls -1A ${dir} || true`]);
  return r.output.split('\n').filter(Boolean);
}

describe('kind: the pod is on a node container', () => {
  it('attaches inside the node through ctr, pings between the pods, keeps cache and leases in the node; a link deleted is interface gone for cni-check; detaches', async () => {
    const w = await world();
    // docker execs counted through a proxy in front of the engine: node round trips on the kind path
    const ws = await lab.workspace();
    const proxy = await DockerProxy.start(process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock', ws.dir);
    let a;
    try {
      a = await runCli('attach', ['web-1', ...w.args('--ifname', 'eth1', '--conf', w.file, '--runtime', 'kind', '--docker-host', proxy.host)]);
    } finally {
      await proxy.stop();
    }
    expectOk(a);
    // the look-up with what the engine reads, the ADD with the lock and the intent, the result with the unlock: three
    // requests on one node session (one docker exec)
    expect(proxy.roundTrips()).toBe(3);
    expect(proxy.execCreates).toBe(1);
    expect(a.stdout).toMatch(new RegExp(`^eth1 attached to pod shop/web-1 \\(network kind-br, node ${w.node.name}, sandbox sb-web-1\\)\\n  eth1  198\\.18\\.45\\.\\d+/24`));
    // auto finds the node container by itself
    const b = await runCli('attach', ['web-2', ...w.args('--ifname', 'eth1', '--conf', w.file, '-o', 'json')]);
    expectOk(b);
    const addrB = JSON.parse(b.stdout).ips[0].address.split('/')[0];
    expect(JSON.parse(b.stdout).interfaces[2].sandbox).toBe(`/proc/${w.pods[1]!.pid}/ns/net`);

    const seen = await inSandbox(d, w.node, w.pods[0]!, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth1']);
    expect(seen.output).toMatch(/inet 198\.18\.45\.\d+\/24/);
    const ping = await inSandbox(d, w.node, w.pods[0]!, ['/opt/sandbox-rootfs/bin/busybox', 'ping', '-c', '1', '-W', '2', addrB]);
    expect(ping.code, ping.output).toBe(0);

    // the node's own cache and IPAM state, not this host's
    expect(await nodeFiles(w.node, '/var/lib/cni/results')).toEqual(['kind-br-sb-web-1-eth1', 'kind-br-sb-web-2-eth1']);
    expect((await nodeFiles(w.node, '/var/lib/cni/networks/kind-br')).filter((f) => f.startsWith('198.18.'))).toHaveLength(2);

    // web-1's eth1 deleted in its sandbox: cni-check says so (one look through the node container) before any CHECK,
    // in cni-list's words, exit 3 (before: the bridge's "Mac doesn't match", exit 1)
    expect((await inSandbox(d, w.node, w.pods[0]!, ['ip', 'link', 'del', 'eth1'])).code).toBe(0);
    for (const more of [[], ['-o', 'json']]) {
      const gone = await runCli('check', ['web-1', ...w.args('--ifname', 'eth1', ...more)]);
      expectCleanError(gone, 3, new RegExp(`^error: eth1 in pod shop/web-1 is gone \\(\`kubectl cni-list web-1 -n shop --node ${w.node.name}( [^\`]*)?\` shows it as interface gone\\): eth1 is not in the network namespace of sandbox sb-web-1 on node ${w.node.name} any more: deleted outside cni-attach \\(no DEL of ours was under way\\); .*; nothing to CHECK$`));
      if (more.length) expect(JSON.parse(gone.stdout)).toMatchObject({ ok: false, exitCode: 3, target: 'pod shop/web-1' });
    }
    for (const p of ['web-1', 'web-2']) {
      const r = await runCli('detach', [p, ...w.args('--ifname', 'eth1')]);
      expectOk(r);
      expect(r.stdout).toBe(`eth1 detached from pod shop/${p} (network kind-br)`);
    }
    expect((await inSandbox(d, w.node, w.pods[0]!, ['ip', 'link', 'show', 'eth1'])).code).not.toBe(0);
    expect(await nodeFiles(w.node, '/var/lib/cni/results')).toEqual([]);
    expect((await nodeFiles(w.node, '/var/lib/cni/networks/kind-br')).filter((f) => f.startsWith('198.18.'))).toEqual([]);
  });

  it('a DEL of ours stopped on the node (its mark in the node\'s cache, the link gone, the lock free): cni-list --node says `detach stopped`, cni-check exit 3, and cni-detach finishes it in the round trips of any detach', async () => {
    const w = await world();
    expectOk(await runCli('attach', ['web-1', ...w.args('--ifname', 'eth1', '--conf', w.file, '--runtime', 'kind')]));
    // what a cni-detach killed after the bridge's DEL leaves on the node: the link gone, the record and its DEL's mark
    expect((await inSandbox(d, w.node, w.pods[0]!, ['ip', 'link', 'del', 'eth1'])).code).toBe(0);
    const mark = JSON.stringify({ kind: 'cniAttachDeletingV1', command: 'cni-detach', at: '2026-12-02T05:00:00Z', host: 'laptop-2', pid: 77 });
    expect((await execIn(d, w.node.id, ['sh', '-c', `mkdir -p /var/lib/cni/cni-attach/deleting && printf '%s' '${mark}' > /var/lib/cni/cni-attach/deleting/kind-br-sb-web-1-eth1`])).code).toBe(0);
    const list = await runCli('list', ['--node', w.node.name, '-o', 'json', ...w.args()]);
    expectOk(list);
    expect((JSON.parse(list.stdout) as { items: unknown[] }).items).toEqual([expect.objectContaining({
      pod: 'web-1', state: 'detach stopped',
      reason: `a cni-detach (pid 77 on host laptop-2) stopped during its DEL of it at 2026-12-02T05:00:00Z: eth1 is gone from the network namespace of sandbox sb-web-1 on node ${w.node.name} already (its DEL deleted it), but its IPAM lease may still be held; run cni-detach again to finish it (DEL is idempotent)`,
    })]);
    expectCleanError(await runCli('check', ['web-1', ...w.args('--ifname', 'eth1')]), 3, /^error: eth1 in pod shop\/web-1 is not attached: a cni-detach \(pid 77 on host laptop-2\) stopped during its DEL of it at 2026-12-02T05:00:00Z \(network kind-br\); .*nothing to CHECK; run `kubectl cni-detach web-1 -n shop --ifname eth1 [^`]*` to finish it/);
    const ws = await lab.workspace();
    const proxy = await DockerProxy.start(process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock', ws.dir);
    let r;
    try {
      r = await runCli('detach', ['web-1', ...w.args('--ifname', 'eth1', '--runtime', 'kind', '--docker-host', proxy.host)]);
    } finally {
      await proxy.stop();
    }
    expectOk(r);
    // the look-up, the DEL with the lock (and the mark, were it not there), the removals with the unlock: 2 + 1 plugin
    expect(proxy.roundTrips()).toBe(3);
    expect(await nodeFiles(w.node, '/var/lib/cni/results')).toEqual([]);
    expect(await nodeFiles(w.node, '/var/lib/cni/cni-attach/deleting')).toEqual([]);
    expect((await nodeFiles(w.node, '/var/lib/cni/networks/kind-br')).filter((f) => f.startsWith('198.18.'))).toEqual([]);
  });

  it('the node container stopped: attach, detach and check of its pods (one and -l) cannot reach the node, exit 4; cni-gc keeps the record of a gone pod there', async () => {
    const w = await world();
    for (const name of ['web-1', 'web-2']) api.updatePod('shop', name, (p) => void (p.metadata.labels = { app: 'web' }));
    expectOk(await runCli('attach', ['web-1', ...w.args('--ifname', 'eth1', '--conf', w.file, '--runtime', 'kind')]));
    await d.getContainer(w.node.id).stop({ t: 0 });
    const down = new RegExp(`cannot reach node ${w.node.name}: its container in Docker at \\S+ is not running \\(exited\\)`);
    // before: "… runs on node X, not on this host …, which has no sandbox of it" (exit 3); the detach "the sandbox of
    // pod shop/web-1 is gone" and then "nothing is attached as eth1" in this host's cache (exit 0), its record kept
    for (const [tool, target, extra] of [
      ['attach', ['web-2'], ['--conf', w.file]],
      ['detach', ['web-1'], []],
      ['check', ['web-1'], []],
      ['attach', ['-l', 'app=web'], ['--conf', w.file]],
      ['detach', ['-l', 'app=web'], []],
    ] as const) {
      const r = await runCli(tool, [...target, ...w.args('--ifname', 'eth1', '--runtime', 'kind', ...extra)]);
      expect(r.exitCode, show(r)).toBe(4);
      expect(r.stderr, show(r)).toMatch(down);
      expect(r.stderr, show(r)).not.toMatch(/has no sandbox|is gone|nothing is attached|nothing attached/);
    }
    expect(api.listConfigMaps('kube-system').flatMap((c) => Object.keys(c.data ?? {}))).toHaveLength(1);
    // the pod deleted: gc cannot reach its node, frees nothing and keeps its record
    api.deletePod('shop', 'web-1');
    const gc = await runCli('gc', ['--kubeconfig', api.kubeconfigPath, '--docker-host', process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock', '--runtime', 'kind', '--cache-dir', (await lab.workspace()).cacheDir]);
    expect(gc.exitCode, show(gc)).toBe(4);
    expect(gc.stderr, show(gc)).toMatch(down);
    expect(gc.stdout, show(gc)).not.toMatch(/^freed|forgot/m);
    expect(api.listConfigMaps('kube-system').flatMap((c) => Object.keys(c.data ?? {}))).toHaveLength(1);
  });

  it('refuses a sandbox of an earlier pod with the same name, and names a node that is not here', async () => {
    const w = await world();
    api.deletePod('shop', 'web-1');
    api.addPod(makePod({ name: 'web-1', namespace: 'shop', uid: 'a-newer-uid', nodeName: w.node.name }));
    expectCleanError(await runCli('attach', ['web-1', ...w.args('--ifname', 'eth1', '--conf', w.file)]), 3, /belong to an earlier pod of that name/);
    api.addPod(makePod({ name: 'far-1', namespace: 'shop', uid: 'far', nodeName: 'some-other-node' }));
    // --runtime kind looks only at local node containers (auto would go on to an agent pod there)
    expectCleanError(await runCli('attach', ['far-1', ...w.args('--ifname', 'eth1', '--conf', w.file, '--runtime', 'kind')]), 3, /runs on node some-other-node/);
  });
});

/** pods/exec into a pod on a node container runs in that container, as the kubelet there would run it. */
function routeExecsToNodes(): void {
  api.execHandler = (req) => {
    const nodeName = api.getPod(req.namespace, req.pod)?.spec.nodeName ?? '';
    return spawn('docker', ['exec', '-i', nodeName, ...req.command], { stdio: ['pipe', 'pipe', 'pipe'] });
  };
}

/** A plugin in the node's /opt/cni/bin: ADD marks that it started, then sleeps `marker` seconds (until it is killed). */
async function slowPluginInNode(n: Node, marker: string): Promise<void> {
  const script = `#!/bin/sh
cat > /dev/null
case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}' ;;
ADD) touch /tmp/slow-started; sleep ${marker} ;;
esac
`;
  // execIn gives no stdin: the script goes in as an argument
  const r = await execIn(d, n.id, ['sh', '-c', 'mkdir -p /opt/cni/bin && printf %s "$1" > /opt/cni/bin/slow && chmod 755 /opt/cni/bin/slow', 'sh', script]);
  if (r.code !== 0) throw new Error(r.output);
}

describe('kind: the user\'s signal while a plugin runs in the node container', () => {
  // 'own pid namespace': the CLI runs where the pids Docker reports are not its host's (a remote engine, Docker
  // Desktop's VM): what stops the plugin must work inside the container, not through a pid of the engine's host
  it.each([
    ['SIGTERM', 143, 'here', 'SIGTERM'],
    ['SIGINT', 130, 'here', 'SIGINT \\(Ctrl-C\\)'],
    ['SIGTERM', 143, 'in its own pid namespace', 'SIGTERM'],
    ['SIGTERM', 143, 'reaching the node through an agent pod', 'SIGTERM'],
  ] as const)('%s: exit %i, the plugin process in the node is gone, the ADD is rolled back, no record left in the node (CLI %s)', async (signal, code, where, said) => {
    const w = await world();
    const agent = where === 'reaching the node through an agent pod';
    if (agent) routeExecsToNodes();
    const marker = uniqueSeconds(120);
    await slowPluginInNode(w.node, marker);
    const ws = await lab.workspace();
    const file = await writeConf(ws.dir, 'chain.conflist', { cniVersion: '1.0.0', name: 'kind-br', plugins: [{ type: 'bridge', bridge: 'cni-kind0', ipam: conf.ipam }, { type: 'slow' }] });
    const runtime = agent ? ['--runtime', 'agent', '--agent-image', 'cni-attach-test/agent:none'] : ['--runtime', 'kind'];
    const args = ['web-1', ...w.args('--ifname', 'eth1', '--conf', file, ...runtime, '--timeout', '5m')];
    const run = where === 'in its own pid namespace' ? spawnCli('attach', args, {}, ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child']) : spawnCli('attach', args);
    const started = await waitFor(async () => (await execIn(d, w.node.id, ['test', '-e', '/tmp/slow-started'])).code === 0, 30_000, 100);
    if (!started) {
      run.kill('SIGKILL');
      expect.fail(`the slow plugin never started in the node\n${show(await run.done)}`);
    }
    expect(await inNode(w.node, marker), 'the plugin runs in the node').not.toEqual([]);
    const t0 = Date.now();
    if (where !== 'in its own pid namespace') run.kill(signal);
    else process.kill(Number((await sh(['pgrep', '-P', String(run.pid)])).stdout.trim()), signal); // the CLI: unshare does not pass signals on
    const r = await run.done;
    expect(r.exitCode, show(r)).toBe(code);
    expect(Date.now() - t0, show(r)).toBeLessThan(10_000);
    // nothing of the docker exec still runs in the node: not the plugin, not its sleep, not timeout(1)
    expect(await inNode(w.node, marker), 'processes of the plugin run left in the node').toEqual([]);
    expect((await inSandbox(d, w.node, w.pods[0]!, ['ip', 'link', 'show', 'eth1'])).code, 'eth1 in the sandbox').not.toBe(0);
    expect(await nodeFiles(w.node, '/var/lib/cni/results')).toEqual([]);
    expect(await nodeFiles(w.node, '/var/lib/cni/cni-attach/intents')).toEqual([]);
    expect(await nodeFiles(w.node, '/var/lib/cni/cni-attach/locks')).toEqual([]);
    expect((await nodeFiles(w.node, '/var/lib/cni/networks/kind-br')).filter((f) => f.startsWith('198.18.'))).toEqual([]);
    // the user stopped it, and the message says so (not that the plugin failed, nor that it had exited by itself)
    expect(r.stderr, show(r)).toMatch(new RegExp(`error: attach stopped by ${said} during plugin slow's ADD \\(it was killed\\): rolled back: nothing was left behind`));
    expect(r.stderr, show(r)).not.toMatch(/killed by signal|internal error/);
  }, 90_000);
});

/** The processes in the node whose command line holds `marker` ("PID ARGS"), by ps inside it. */
async function inNode(n: Node, marker: string): Promise<string[]> {
  const r = await execIn(d, n.id, ['ps', '-eo', 'pid=,args=']);
  return r.output.split('\n').filter((l) => l.includes(marker)).map((l) => l.trim());
}


describe('kind: a batch (-l) with several pods on the node', () => {
  it('one docker exec for the look-up of all of them, then 1 + plugins per pod; an earlier pod\'s sandbox refused for that pod only', async () => {
    const w = await world();
    // web-1 and web-2 from world(), web-3 too, and web-4 whose sandbox belongs to an earlier pod of that name
    w.pods.push(await startSandbox(d, w.node, { id: 'sb-web-3', name: 'web-3', namespace: 'shop', uid: `${lab.prefix}-web-3` }));
    await startSandbox(d, w.node, { id: 'sb-web-4', name: 'web-4', namespace: 'shop', uid: 'an-earlier-uid' });
    for (const name of ['web-3', 'web-4']) api.addPod(makePod({ name, namespace: 'shop', uid: `${lab.prefix}-${name}`, nodeName: w.node.name, containerRuntime: 'containerd' }));
    for (const name of ['web-1', 'web-2', 'web-3', 'web-4']) api.updatePod('shop', name, (p) => void (p.metadata.labels = { app: 'web' }));
    const ws = await lab.workspace();
    const proxy = await DockerProxy.start(process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock', ws.dir);
    try {
      const kind = ['--runtime', 'kind', '--docker-host', proxy.host];
      const a = await runCli('attach', ['-l', 'app=web', ...w.args('--ifname', 'eth1', '--conf', w.file, ...kind)]);
      expect(a.exitCode, a.stderr).toBe(3);
      expect(a.stdout).toBe('eth1 attached to 3 of 4 pods; 1 failed (shop/web-4)');
      expect(a.stderr).toMatch(/shop\/web-4: failed: the sandboxes of shop\/web-4 on node container \S+ belong to an earlier pod of that name \(uid an-earlier-uid\), not to this one/);
      // 1 + pods × (1 + plugins): the look-up of the four (and what the engine reads), then ADD and result per pod
      expect(proxy.roundTrips()).toBe(1 + 3 * 2);
      // one node session per command in flight on the node (--parallel 4: at most 4), not one exec per step
      expect(proxy.execCreates).toBeGreaterThanOrEqual(1);
      expect(proxy.execCreates).toBeLessThanOrEqual(4);
      for (const p of w.pods) expect((await inSandbox(d, w.node, p, ['ip', 'link', 'show', 'eth1'])).code).toBe(0);
      expect(await nodeFiles(w.node, '/var/lib/cni/results')).toEqual(['kind-br-sb-web-1-eth1', 'kind-br-sb-web-2-eth1', 'kind-br-sb-web-3-eth1']);

      const before = proxy.roundTrips();
      const dt = await runCli('detach', ['-l', 'app=web', ...w.args('--ifname', 'eth1', ...kind)]);
      expectOk(dt);
      expect(dt.stdout).toBe('eth1 detached from 3 of 4 pods, 1 had nothing attached');
      // DEL and the cache's removal per attached pod; web-4 (nothing recorded) reads nothing more than the look-up did
      expect(proxy.roundTrips() - before).toBe(1 + 3 * 2);
      expect(await nodeFiles(w.node, '/var/lib/cni/results')).toEqual([]);
      expect(await nodeFiles(w.node, '/var/lib/cni/cni-attach/locks')).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });
});

describe('agent: the pod is on a node reached only through the cluster', () => {
  it('creates a privileged agent pod on that node, attaches through pods/exec and nsenter, deletes the agent', async () => {
    const w = await world();
    routeExecsToNodes();
    const a = await runCli('attach', ['web-1', ...w.args('--ifname', 'net1', '--conf', w.file, '--runtime', 'agent', '--agent-image', 'cni-attach-test/agent:none')]);
    expectOk(a);
    expect(a.stdout).toMatch(new RegExp(`^net1 attached to pod shop/web-1 \\(network kind-br, node ${w.node.name}, sandbox sb-web-1\\)`));
    expect((await inSandbox(d, w.node, w.pods[0]!, ['ip', 'link', 'show', 'net1'])).code).toBe(0);

    // the agent pod: created on that node, privileged, host namespaces, tolerating everything, then deleted
    const created = api.requests.filter((q) => q.method === 'POST' && q.path === '/api/v1/namespaces/kube-system/pods');
    expect(created).toHaveLength(1);
    const spec = (created[0]!.body as { spec: Record<string, unknown> }).spec;
    expect(spec).toMatchObject({ nodeName: w.node.name, hostPID: true, hostNetwork: true, tolerations: [{ operator: 'Exists' }] });
    expect(api.podDeletions.map((p) => p.namespace)).toEqual(['kube-system']);
    expect(api.listPods('kube-system')).toEqual([]);
    // every command went into the node's own namespaces
    // the look-up with what the engine reads, the ADD with the lock and the intent, the result with the unlock: three
    // requests on one node session (one pods/exec)
    expect(api.execs).toHaveLength(1);
    expect(execRoundTrips(Buffer.concat(api.execs[0]!.stdinMessages))).toBe(3);
    expect(api.execs.every((e) => e.command.slice(0, 9).join(' ') === 'nsenter -t 1 -m -u -i -n -p --')).toBe(true);
    expect(await nodeFiles(w.node, '/var/lib/cni/results')).toEqual(['kind-br-sb-web-1-net1']);

    const dt = await runCli('detach', ['web-1', ...w.args('--ifname', 'net1', '--runtime', 'agent', '--agent-image', 'cni-attach-test/agent:none')]);

    // deploy/rbac.yaml lets every request of attach and detach through the agent (as RBAC would check them)
    const grants = shippedRbac();
    const accesses = api.requests.map((q) => accessOf(q.method, q.path, q.query)).filter((a) => a !== undefined);
    expect(accesses.length).toBeGreaterThan(5);
    for (const a of accesses) expect(allowed(grants, a), JSON.stringify(a)).toBe(true);
    // and it is least: nothing in it that these commands (with the NAD read of --net) do not use
    const used = new Set(accesses.map((a) => `${a.group}/${a.resource}/${a.verb}`));
    used.add('k8s.cni.cncf.io/network-attachment-definitions/get'); // --net (pods.test.ts)
    used.add('/pods/list'); // -l, cni-list, cni-gc (pods.test.ts)
    used.add('/configmaps/list'); // the records, read by cni-list -A and cni-gc (remote.test.ts)
    used.add('/pods/exec/get'); // older API servers check websocket exec as get
    const granted = grants.flatMap((g) => g.rules.flatMap((r) => r.apiGroups.flatMap((gr) => r.resources.flatMap((res) => r.verbs.map((v) => `${gr}/${res}/${v}`)))));
    expect(granted.filter((x) => !used.has(x))).toEqual([]);
    expectOk(dt);
    expect((await inSandbox(d, w.node, w.pods[0]!, ['ip', 'link', 'show', 'net1'])).code).not.toBe(0);
    expect(await nodeFiles(w.node, '/var/lib/cni/results')).toEqual([]);
    expect(api.podDeletions).toHaveLength(2);
    expect(api.listPods('kube-system')).toEqual([]);
  });
});
