/**
 * A runtime, a node or the cluster that a command needs and that cannot be asked ends the command with "cannot reach
 * …"/"could not be asked" and exit 4 (README "Exit codes") — never with "no sandbox", "not found" (exit 3) or exit 0,
 * and never with a cni-gc that frees what it could not check. Through the binaries, against the stand-in API server;
 * the runtimes are missing (a socket path that does not exist, Docker's default socket where there is none) or refuse
 * (a socket nothing listens on). No sandbox exists and no plugin runs: nothing here touches the network.
 */
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanError, runCli, show, type CliResult } from '../helpers/cli.js';
import { startContainerd, stopContainerd } from '../helpers/containerd.js';
import { fakePlugin } from '../helpers/fake-plugin.js';
import { deleteNetns, useLab, type Workspace } from '../helpers/lab.js';
import { hostExecHandler, makePod, StandInApiServer } from '../k8s/stand-in-api.js';

const lab = useLab('un');
const HOST = hostname();
let api: StandInApiServer;

beforeAll(async () => {
  api = await StandInApiServer.start();
});
afterEach(() => {
  api.execHandler = hostExecHandler;
  for (const ns of ['shop', 'kube-system']) for (const p of api.listPods(ns)) api.deletePod(ns, p.metadata.name);
  for (const c of api.listConfigMaps('kube-system')) api.deleteConfigMap('kube-system', c.metadata.name);
});
afterAll(async () => {
  await api?.stop();
});

/** Docker's default socket, asked when neither --docker-host nor $DOCKER_HOST names one. */
const DEFAULT_DOCKER = '/var/run/docker.sock';
/**
 * What runs the CLI where Docker's default socket is not there: on a host that has one, under a mount namespace of its
 * own with an empty tmpfs over the socket's directory (so these tests run everywhere, none skipped for it).
 */
const noDefaultDocker = existsSync(DEFAULT_DOCKER) ? ['unshare', '-m', 'sh', '-c', `mount -t tmpfs tmpfs ${dirname(realpathSync(DEFAULT_DOCKER))} && exec "$@"`, 'sh'] : [];
/** No runtime at all: Docker at its default socket (when it is not there), no containerd. */
const NOTHING = { DOCKER_HOST: undefined, CONTAINERD_ADDRESS: '/nonexistent/containerd.sock', NODE_NAME: undefined };

/**
 * A unix socket that nothing listens on (its server was killed: the path stays, as after a crash): connecting to it is
 * refused (ECONNREFUSED).
 */
async function refusingSocket(ws: Workspace): Promise<string> {
  const path = join(ws.dir, 'refused.sock');
  await execa(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`], { reject: false });
  expect(existsSync(path)).toBe(true);
  return path;
}

/** Pods web-1, web-2 (app=web) on this host, and the workspace with a network config. */
async function world(o: { containerRuntime?: 'docker' | 'containerd' } = {}) {
  const ws = await lab.workspace();
  for (const name of ['web-1', 'web-2']) {
    api.addPod(makePod({ name, namespace: 'shop', uid: `${lab.prefix}-${name}`, nodeName: HOST, labels: { app: 'web' }, ...(o.containerRuntime ? { containerRuntime: o.containerRuntime } : {}) }));
  }
  const conf = join(ws.dir, 'net.json');
  await writeFile(conf, JSON.stringify({ cniVersion: '1.0.0', name: lab.name('k'), type: 'bridge', bridge: lab.bridge(), ipam: { type: 'host-local', subnet: '198.18.47.0/24', dataDir: ws.dataDir } }));
  const args = (...more: string[]) => ['-n', 'shop', '--kubeconfig', api.kubeconfigPath, '--cache-dir', ws.cacheDir, '--cni-path', '/usr/lib/cni', ...more];
  return { ws, conf, args };
}

/** Exit 4, the reason on stderr, no "not found"/"no sandbox" and no "nothing attached". */
function expectUnreachable(r: CliResult, reason: RegExp): void {
  expect(r.exitCode, show(r)).toBe(4);
  expect(r.stderr, show(r)).toMatch(reason);
  expect(r.stderr, show(r)).not.toMatch(/no running sandbox|has no sandbox|nothing is attached|nothing attached|sandbox of pod \S+ is gone/);
  expect(r.stderr, show(r)).not.toMatch(/^\s{4}at /m);
}

/**
 * An attachment of pod shop/web-1 (alive, on this host) in the workspace's cache, as attach records it, and a plugin
 * `bridge` whose DEL writes to `dels`: what cni-gc would run if it judged the attachment dead.
 */
async function attachedHere(ws: Workspace, netns = '/proc/1/ns/net'): Promise<{ dels: string; results: () => Promise<string[]> }> {
  const cid = 'a'.repeat(64);
  await mkdir(join(ws.cacheDir, 'results'), { recursive: true });
  const entry = {
    kind: 'cniCacheV1', containerId: cid, ifName: 'eth1', networkName: 'net', netns,
    config: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64'),
    cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'web-1'], ['K8S_POD_UID', `${lab.prefix}-web-1`]],
    result: { cniVersion: '1.0.0', interfaces: [{ name: 'eth1' }], ips: [{ address: '198.18.47.5/24' }] },
  };
  await writeFile(join(ws.cacheDir, 'results', `net-${cid}-eth1`), JSON.stringify(entry));
  const dels = join(ws.dir, 'dels');
  await fakePlugin(ws.pluginDir, 'bridge', { del: `echo "$CNI_CONTAINERID $CNI_IFNAME" >> ${dels}` });
  return { dels, results: async () => readdir(join(ws.cacheDir, 'results')) };
}

describe('the container runtime of this host cannot be asked', () => {
  it(`-l with Docker's default socket missing (${DEFAULT_DOCKER}): "cannot reach Docker", exit 4, for --runtime docker and auto (attach and detach)`, async () => {
    const w = await world();
    for (const runtime of ['docker', 'auto']) {
      // before: "no running sandbox of pod … found by Docker at unix:///var/run/docker.sock" for each pod (exit 3), and
      // the detach "nothing attached as eth1" with "the sandbox … is gone" (exit 0): a missing socket was taken as a
      // Docker with no sandboxes
      const a = await runCli('attach', w.args('-l', 'app=web', '--ifname', 'eth1', '--conf', w.conf, '--runtime', runtime), { env: NOTHING, prefix: noDefaultDocker });
      expectUnreachable(a, /cannot reach Docker at unix:\/\/\/var\/run\/docker\.sock: ENOENT/);
      const d = await runCli('detach', w.args('-l', 'app=web', '--ifname', 'eth1', '--runtime', runtime), { env: NOTHING, prefix: noDefaultDocker });
      expectUnreachable(d, /cannot reach Docker at unix:\/\/\/var\/run\/docker\.sock: ENOENT/);
      if (runtime === 'docker') {
        // the one runtime named cannot be asked: the batch stops before any pod, as one pod does
        expectCleanError(a, 4, /^error: cannot reach Docker at unix:\/\/\/var\/run\/docker\.sock: ENOENT connect ENOENT \/var\/run\/docker\.sock$/);
        expectCleanError(d, 4, /^error: cannot reach Docker at unix:\/\/\/var\/run\/docker\.sock: ENOENT connect ENOENT \/var\/run\/docker\.sock$/);
      } else {
        // auto: each pod fails by itself, with the first runtime's reason; then the batch, exit 4
        expect(a.stdout).toBe('eth1 attached to 0 of 2 pods; 2 failed (shop/web-1, shop/web-2)');
        expect(a.stderr).toMatch(/^\[1\/2\] shop\/web-\d: failed: cannot reach Docker at unix:\/\/\/var\/run\/docker\.sock: ENOENT/m);
        expect(d.stdout).toBe('eth1 detached from 0 of 2 pods; 2 failed (shop/web-1, shop/web-2)');
      }
    }
    expect(existsSync(w.ws.cacheDir) ? await readdir(w.ws.cacheDir) : []).toEqual([]);
  });

  it('--runtime cri, containerd\'s socket missing or refusing: attach, check, detach of a pod of this host and -l say "no CRI runtime"/"cannot reach the CRI runtime on this host", exit 4', async () => {
    const w = await world({ containerRuntime: 'containerd' });
    const stale = await refusingSocket(w.ws);
    for (const [address, reason] of [
      ['/nonexistent/containerd.sock', /no CRI runtime on this host: neither crictl with a runtime socket nor ctr with containerd's socket/],
      [stale, /cannot reach the CRI runtime on this host: ctr -n k8s\.io .* failed: .*connection refused/],
    ] as const) {
      for (const [tool, target, extra] of [['attach', ['web-1'], ['--conf', w.conf]], ['check', ['web-1'], []], ['detach', ['web-1'], []], ['attach', ['-l', 'app=web'], ['--conf', w.conf]], ['detach', ['-l', 'app=web'], []]] as const) {
        const r = await runCli(tool, w.args(...target, '--ifname', 'eth1', '--runtime', 'cri', ...extra), { env: { ...NOTHING, CONTAINERD_ADDRESS: address } });
        expectUnreachable(r, reason);
        if (target.length === 1) expectCleanError(r, 4, reason);
      }
    }
  });

  const cases: { runtime: string; env: Record<string, string | undefined>; reason: RegExp; containerRuntime?: 'docker' | 'containerd' }[] = [
    { runtime: 'docker', env: NOTHING, reason: /cannot reach Docker at unix:\/\/\/var\/run\/docker\.sock: ENOENT/ },
    { runtime: 'cri', env: NOTHING, reason: /no CRI runtime on this host: neither crictl with a runtime socket nor ctr with containerd's socket/ },
    { runtime: 'auto', env: NOTHING, reason: /cannot reach Docker at unix:\/\/\/var\/run\/docker\.sock: ENOENT/ },
    { runtime: 'auto', env: NOTHING, reason: /no CRI runtime on this host/, containerRuntime: 'containerd' },
  ];
  for (const c of cases) {
    it(`cni-gc and cni-list --runtime ${c.runtime}${c.containerRuntime ? ` (a ${c.containerRuntime} pod)` : ''}, the runtime missing: a live pod's attachment is not freed, exit 4`, async () => {
      const w = await world(c.containerRuntime ? { containerRuntime: c.containerRuntime } : {});
      const held = await attachedHere(w.ws);
      // before: "freed eth1 of pod shop/web-1 (network net): the pod's sandbox is gone", exit 0 — a live attachment's
      // DEL and its lease freed, because a runtime that is not there was taken as one with no sandboxes
      const gc = await runCli('gc', ['--kubeconfig', api.kubeconfigPath, '--cache-dir', w.ws.cacheDir, '--cni-path', w.ws.pluginDir, '--runtime', c.runtime], { env: c.env, prefix: noDefaultDocker });
      expectUnreachable(gc, c.reason);
      expect(gc.stdout, show(gc)).not.toMatch(/freed eth1/);
      expect(existsSync(held.dels), show(gc)).toBe(false);
      expect(await held.results()).toEqual([`net-${'a'.repeat(64)}-eth1`]);
      // cni-list: the row stays, never "sandbox gone"; then the error
      const list = await runCli('list', ['-A', '--kubeconfig', api.kubeconfigPath, '--cache-dir', w.ws.cacheDir, '--runtime', c.runtime], { env: c.env, prefix: noDefaultDocker });
      expectUnreachable(list, c.reason);
      expect(list.stdout, show(list)).toMatch(/^shop\s+web-1\s+eth1\s+net\s+198\.18\.47\.5\/24\s+attached\s/m);
      expect(list.stderr.trim().split('\n').at(-1), show(list)).toMatch(/^error: /);
    });
  }

  it('a pod on another node, --runtime docker or cri missing or refusing here: attach, detach, check of the pod and -l name its node and the runtime that could not be asked, exit 4 (was exit 3, as if it had answered "no sandbox")', async () => {
    const w = await world();
    api.addPod(makePod({ name: 'far-1', namespace: 'shop', uid: `${lab.prefix}-far-1`, nodeName: 'node-far', labels: { app: 'far' } }));
    const stale = await refusingSocket(w.ws);
    const ways: [string, Record<string, string | undefined>, RegExp][] = [
      ['docker', { DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, /cannot reach Docker at unix:\/\/\/nonexistent\/docker\.sock: ENOENT/],
      ['docker', { DOCKER_HOST: `unix://${stale}` }, /cannot reach Docker at unix:\/\/\S+\/refused\.sock: ECONNREFUSED/],
      ['cri', { CONTAINERD_ADDRESS: '/nonexistent/containerd.sock' }, /no CRI runtime on this host/],
      ['cri', { CONTAINERD_ADDRESS: stale }, /cannot reach the CRI runtime on this host: ctr -n k8s\.io .* failed: .*connection refused/],
    ];
    for (const [runtime, env, reason] of ways) {
      const named = new RegExp(`pod shop/far-1 runs on node node-far, not on this host \\(${HOST}\\), and was looked for only here, with --runtime ${runtime} \\(.*\\), which could not be asked: .*${reason.source}`);
      for (const [tool, extra] of [['attach', ['--conf', w.conf]], ['detach', []], ['check', []]] as const) {
        const r = await runCli(tool, w.args('far-1', '--ifname', 'eth1', '--runtime', runtime, ...extra), { env: { ...env, NODE_NAME: undefined } });
        expectUnreachable(r, named);
        expectCleanError(r, 4);
      }
      for (const tool of ['attach', 'detach'] as const) {
        const r = await runCli(tool, w.args('-l', 'app=far', '--ifname', 'eth1', '--runtime', runtime, ...(tool === 'attach' ? ['--conf', w.conf] : [])), { env: { ...env, NODE_NAME: undefined } });
        // Docker's one list for the batch fails before any pod; crictl/ctr are asked per pod, which names the node
        expectUnreachable(r, runtime === 'docker' ? reason : named);
      }
    }
    expect(existsSync(w.ws.cacheDir) ? await readdir(w.ws.cacheDir) : []).toEqual([]);
  });
});

describe('--runtime auto: the runtime the pod\'s containers run in cannot be asked, another answers', () => {
  it('Docker refusing, a containerd here with no sandbox of the pod: attach, check, detach of a Docker pod (one and -l) exit 4 "cannot reach Docker"; the detach does not DEL (it said the sandbox was gone and DELed without it, exit 0)', async () => {
    const w = await world({ containerRuntime: 'docker' });
    const held = await attachedHere(w.ws);
    const stale = await refusingSocket(w.ws);
    const cd = await startContainerd(lab.prefix);
    lab.defer('containerd', () => stopContainerd(cd));
    const env = { DOCKER_HOST: `unix://${stale}`, CONTAINERD_ADDRESS: cd.address, NODE_NAME: undefined };
    const docker = /cannot reach Docker at unix:\/\/\S+\/refused\.sock: ECONNREFUSED/;
    for (const [tool, target, extra] of [
      ['check', ['web-1'], []],
      ['attach', ['web-1'], ['--ifname', 'eth2', '--conf', w.conf]],
      ['detach', ['-l', 'app=web'], []],
      ['detach', ['web-1'], []],
    ] as const) {
      const r = await runCli(tool, w.args(...target, '--ifname', 'eth1', '--cni-path', w.ws.pluginDir, ...extra), { env });
      expectUnreachable(r, docker);
    }
    expect(existsSync(held.dels)).toBe(false);
    expect(await held.results()).toHaveLength(1);
  });
});

describe('the container runtime of this host cannot be asked: a deleted pod', () => {
  it('cni-gc --runtime auto, crictl/ctr missing: a deleted pod\'s attachment whose network namespace is still there (its sandbox may still run) is not freed, exit 4; once the namespace is gone, it is', async () => {
    const w = await world({ containerRuntime: 'containerd' });
    const ns = await lab.netns();
    const held = await attachedHere(w.ws, `/var/run/netns/${ns}`);
    api.deletePod('shop', 'web-1');
    const gc = () => runCli('gc', ['--kubeconfig', api.kubeconfigPath, '--cache-dir', w.ws.cacheDir, '--cni-path', w.ws.pluginDir], { env: NOTHING });
    // before: "freed eth1 of pod shop/web-1 (network net): the pod is gone", a DEL without the namespace, exit 0
    const kept = await gc();
    expectUnreachable(kept, new RegExp(`^note: could not free eth1 of pod shop/web-1: its sandbox aaaaaaaaaaaa may still run here \\(its network namespace /var/run/netns/${ns} is still there\\), and the runtime that may hold it \\(cri\\) could not be asked: no CRI runtime on this host`, 'm'));
    expect(existsSync(held.dels), show(kept)).toBe(false);
    expect(await held.results()).toHaveLength(1);
    await deleteNetns(ns);
    const freed = await runCli('gc', ['--kubeconfig', api.kubeconfigPath, '--cache-dir', w.ws.cacheDir, '--cni-path', w.ws.pluginDir], { env: NOTHING });
    expect(freed.exitCode, show(freed)).toBe(0);
    expect(freed.stdout).toMatch(/^freed eth1 of pod shop\/web-1 \(network net\): the pod is gone$/m);
    expect(await readFile(held.dels, 'utf8')).toBe(`${'a'.repeat(64)} eth1\n`);
    expect(await held.results()).toEqual([]);
  });
});

describe('a node reached through the cluster cannot be asked', () => {
  it('an agent whose way into the node is refused (its nsenter fails): attach, check, detach -l say why, exit 4 (was "internal error: … did not start: no output", exit 1)', async () => {
    const w = await world();
    api.addPod(makePod({ name: 'far-1', namespace: 'shop', uid: `${lab.prefix}-far-1`, nodeName: 'node-far', labels: { app: 'far' }, containerRuntime: 'containerd' }));
    // the kubelet runs the agent's command, and nsenter is refused there (a policy took the privilege away)
    api.execHandler = () => spawn('sh', ['-c', 'cat >/dev/null & echo "nsenter: cannot open /proc/1/ns/ipc: Permission denied" >&2; exit 1'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const agent = ['--runtime', 'agent', '--agent-image', 'cni-attach-test/agent:none'];
    for (const [tool, target, extra] of [['attach', ['far-1'], ['--conf', w.conf]], ['check', ['far-1'], []], ['detach', ['-l', 'app=far'], []]] as const) {
      const r = await runCli(tool, w.args(...target, '--ifname', 'eth1', ...agent, ...extra), { env: NOTHING });
      expectUnreachable(r, /on node node-far \(through agent pod kube-system\/cni-attach-agent-\S+\)[^\n]*: nsenter: cannot open \/proc\/1\/ns\/ipc: Permission denied/);
      expect(r.stderr, show(r)).not.toMatch(/internal error|no output/);
    }
    // every agent deleted
    expect(api.listPods('kube-system')).toEqual([]);
  });
});

describe('the cluster cannot be asked: cni-list prints this host\'s rows, then the error (exit 4, as cni-gc and kubectl get); with no kubeconfig at all, a note and exit 0', () => {
  /** A bare namespace's attachment in this host's cache, its namespace gone: a row that needs neither cluster nor runtime. */
  async function bareRow(ws: Workspace): Promise<string> {
    const netns = `/var/run/netns/${lab.name('n')}`;
    await mkdir(join(ws.cacheDir, 'results'), { recursive: true });
    const entry = {
      kind: 'cniCacheV1', containerId: 'cnitool-0123456789abcdef0123', ifName: 'eth1', networkName: 'net', netns,
      config: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64'),
      result: { cniVersion: '1.0.0', interfaces: [{ name: 'eth1' }], ips: [{ address: '198.18.47.6/24' }] },
    };
    await writeFile(join(ws.cacheDir, 'results', 'net-cnitool-0123456789abcdef0123-eth1'), JSON.stringify(entry));
    return netns;
  }
  /** The stand-in's kubeconfig changed by `change`, written to the workspace. */
  async function kubeconfig(ws: Workspace, o: Parameters<StandInApiServer['kubeconfig']>[0], change: (k: { clusters: { cluster: Record<string, unknown> }[] }) => void = () => undefined): Promise<string> {
    const k = api.kubeconfig(o) as { clusters: { cluster: Record<string, unknown> }[] };
    change(k);
    const path = join(ws.dir, `kubeconfig-${lab.name('c')}`);
    await writeFile(path, JSON.stringify(k));
    return path;
  }

  it('a closed port, credentials refused (401), a server certificate not trusted, the records refused (403): the row, then the error, exit 4 (was a note, exit 0); no kubeconfig at all: the note, exit 0', async () => {
    const ws = await lab.workspace();
    const netns = await bareRow(ws);
    const row = new RegExp(`^-\\s+netns:${netns}\\s+eth1\\s+net\\s+198\\.18\\.47\\.6/24\\s+netns gone\\s`, 'm');
    const list = (kc: string) => runCli('list', ['-A', '--kubeconfig', kc, '--cache-dir', ws.cacheDir, '--request-timeout', '5s'], { env: NOTHING });
    const cases: [string, string, RegExp][] = [
      ['closed port', await kubeconfig(ws, {}, (k) => void (k.clusters[0]!.cluster.server = 'https://127.0.0.1:1')), /^error: the cluster could not be asked: .*cannot reach the API server at https:\/\/127\.0\.0\.1:1: .*ECONNREFUSED.*; the states are from this host's cache only, and attachments on other nodes are not shown$/],
      ['401', await kubeconfig(ws, { token: 'not-the-token' }), /^error: the cluster could not be asked: .*401.*; the states are from this host's cache only, and attachments on other nodes are not shown$/],
      ['untrusted certificate', await kubeconfig(ws, { withCa: false, insecureSkipTlsVerify: false }), /^error: the cluster could not be asked: .*cannot reach the API server at https:\/\/127\.0\.0\.1:\d+: .*certificate.*; the states are from this host's cache only/],
    ];
    for (const [what, kc, error] of cases) {
      const r = await list(kc);
      expect(r.exitCode, `${what}\n${show(r)}`).toBe(4);
      expect(r.stdout, what).toMatch(row);
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(lines.at(-1), `${what}\n${show(r)}`).toMatch(error);
      expect(r.stderr, what).not.toMatch(/^\s{4}at /m);
    }
    // nothing in this host's cache to show: the error alone says so (it said "the states are from this host's cache
    // only" of a table it did not print)
    const empty = join(ws.dir, 'empty-cache');
    await mkdir(empty);
    const closed = await runCli('list', ['-A', '--kubeconfig', cases[0]![1], '--cache-dir', empty, '--request-timeout', '5s'], { env: NOTHING });
    expect([closed.exitCode, closed.stdout], show(closed)).toEqual([4, '']);
    expect(closed.stderr.trim()).toMatch(new RegExp(`^error: the cluster could not be asked: .*ECONNREFUSED.*; this host's cache \\(${empty}\\) has nothing to show, and attachments on other nodes are not known without the cluster$`));
    // the records refused (403), the rest answered
    api.failNext({ method: 'GET', pathIncludes: '/configmaps' }, { code: 403, message: 'configmaps is forbidden: User "me" cannot list resource "configmaps" in API group "" in the namespace "kube-system"' });
    const forbidden = await list(api.kubeconfigPath);
    expect(forbidden.exitCode, show(forbidden)).toBe(4);
    expect(forbidden.stdout).toMatch(row);
    expect(forbidden.stderr.trim().split('\n').at(-1)).toMatch(/^error: the cluster's attachment records could not be read: .*403.*configmaps is forbidden.*; attachments on other nodes are not shown$/);
    // no kubeconfig at all (none named, $KUBECONFIG unset, none in $HOME, not in a pod): this host's cache alone, exit 0
    const home = join(ws.dir, 'home');
    await mkdir(home);
    const nothing = { ...NOTHING, HOME: home, KUBECONFIG: undefined, KUBERNETES_SERVICE_HOST: undefined, KUBERNETES_SERVICE_PORT: undefined };
    const none = await runCli('list', ['--cache-dir', ws.cacheDir], { env: nothing });
    expect(none.exitCode, show(none)).toBe(0);
    expect(none.stderr).toMatch(/^note: only this host's CNI cache was read, nothing in the cluster \(its pods and the attachments recorded on other nodes are not included\): no kubeconfig found \(looked in \S+\/home\/\.kube\/config; not in a pod either\)/);
    // -A asks for the whole cluster: none configured is exit 4, no rows
    const all = await runCli('list', ['-A', '--cache-dir', ws.cacheDir], { env: nothing });
    expect([all.exitCode, all.stdout], show(all)).toEqual([4, '']);
    expect(all.stderr).toMatch(/^error: -A: no kubeconfig found \(looked in .*\) \(-A lists the attachments of the whole cluster; --no-cluster -A lists those of this host's CNI cache alone\); name one, set \$KUBECONFIG, or give the server \(--kubeconfig\)$/m);
    const local = await runCli('list', ['--no-cluster', '-A', '--cache-dir', ws.cacheDir], { env: nothing });
    expect(local.exitCode, show(local)).toBe(0);
    expect(local.stdout).toMatch(row);
    expect(none.stderr).not.toMatch(/^error:/m);
  });

  it('cni-detach and cni-check of a pod the API does not have from a laptop, the records (which would name its node) refused and this host\'s cache holding nothing of it: the pod is not found, exit 3, both, with a note that the records could not be read and the right they take (was exit 4 for detach, 3 for check, each saying it "no longer exists"; before that "nothing to do", exit 0)', async () => {
    const ws = await lab.workspace();
    // one list of the records each (unit test records-once)
    api.failNext({ method: 'GET', pathIncludes: '/configmaps', times: 2 }, { code: 403, message: 'configmaps is forbidden: User "me" cannot list resource "configmaps"' });
    for (const tool of ['detach', 'check'] as const) {
      const r = await runCli(tool, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--kubeconfig', api.kubeconfigPath, '--cache-dir', ws.cacheDir, '--runtime', 'agent'], { env: NOTHING });
      expect(r.exitCode, show(r)).toBe(3);
      const lines = r.stderr.trim().split('\n');
      expect(lines.at(-1), show(r)).toBe('error: pods "web-1" not found in namespace "shop"');
      expect(lines.at(-2), show(r)).toMatch(/^note: the cluster's attachment records could not be read \(.*403.*; this user may not list configmaps in namespace kube-system, where they are kept \(--agent-namespace\): deploy\/rbac\.yaml grants it\): whether pod shop\/web-1 existed and left an attachment on another node is not known; this host's cache holds nothing of it; /);
      expect(r.stderr, show(r)).not.toMatch(/nothing to do|no longer exists|could not be removed/);
    }
  });
});
