/**
 * From a "laptop": no Docker, no containerd, only a kubeconfig. The pods run on two other nodes, reached through the
 * stand-in API server's pods/exec into agent pods (test/helpers/remote-nodes.ts: each node with its own CNI cache, the
 * sandboxes in a containerd of the test's). Through the binaries: attach to pods on both nodes with node round trips
 * counted, cni-list -A from the laptop, a pod deleted on a remote node and cni-gc from the laptop freeing its lease
 * there, and the shipped RBAC proven sufficient and used. Addresses: 198.18.71.0/24.
 */
import { existsSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, expectOk, runCli, show, spawnCli } from '../helpers/cli.js';
import { bridgeConf, bridgePlugin, conflist, writeConf } from '../helpers/confs.js';
import { fakePlugin, passThroughAdd } from '../helpers/fake-plugin.js';
import { ctr, startContainerd, startSandbox, stopContainerd, type Containerd } from '../helpers/containerd.js';
import { leases } from '../helpers/ipam.js';
import { commandOfThisHost, lineWithCommand } from '../helpers/host-state.js';
import { BIN, type Tool } from '../helpers/env.js';
import { useLab } from '../helpers/lab.js';
import { nodeCacheDir, type RemoteNodes, simulateRemoteNodes } from '../helpers/remote-nodes.js';
import { execRoundTrips } from '../helpers/node-trips.js';
import { accessOf, allowed, shippedRbac } from '../helpers/rbac.js';
import { killAll, must, sh, uniqueSeconds, waitFor } from '../helpers/sh.js';
import { type ExecProcess, makePod, StandInApiServer } from '../k8s/stand-in-api.js';

const lab = useLab('rn');
let api: StandInApiServer;
let cd: Containerd | undefined;
let nodes: RemoteNodes | undefined;

beforeAll(async () => {
  api = await StandInApiServer.start();
});
afterEach(async () => {
  await nodes?.stop();
  nodes = undefined;
  if (cd) await stopContainerd(cd);
  cd = undefined;
  api.clearRequests();
  for (const ns of ['shop', 'kube-system', 'other']) for (const p of api.listPods(ns)) api.deletePod(ns, p.metadata.name);
  for (const ns of ['kube-system', 'other']) for (const c of api.listConfigMaps(ns)) api.deleteConfigMap(ns, c.metadata.name);
});
afterAll(async () => {
  await api?.stop();
});

const NODES = ['node-a', 'node-b'];

async function world() {
  const ws = await lab.workspace();
  cd = await startContainerd(lab.prefix);
  const laptopCache = `${ws.dir}/laptop-cache`;
  nodes = await simulateRemoteNodes(api, cd, ws.dir, laptopCache, NODES);
  const file = await writeConf(ws.dir, 'net.json', bridgeConf({ name: lab.name('k'), bridge: lab.bridge(), subnet: '198.18.71.0/24', dataDir: ws.dataDir }));
  const pids: Record<string, number> = {};
  for (const [i, node] of NODES.entries()) {
    const name = `web-${i + 1}`;
    api.addPod(makePod({ name, namespace: 'shop', uid: `uid-${name}`, nodeName: node, containerRuntime: 'containerd', labels: { app: 'web', at: node } }));
    pids[name] = await startSandbox(cd, { id: `${name}-${lab.prefix}`, name, namespace: 'shop', uid: `uid-${name}` });
  }
  // the laptop: a kubeconfig, a Docker host that is not there, its own (empty) cache directory
  // (--runtime agent asks no Docker: --docker-host goes with --runtime auto alone)
  const cluster = ['--kubeconfig', api.kubeconfigPath, '--cache-dir', laptopCache, '--runtime', 'agent', '--agent-image', 'cni-attach-test/agent:none'];
  // attach, detach (in shop), gc (every namespace) run plugins; list does not
  const common = ['-n', 'shop', ...cluster, '--cni-path', '/usr/lib/cni'];
  // gc with the defaults (--runtime auto): no Docker here is no error, the agent reaches the other nodes
  const gcArgs = [...cluster.filter((a, i) => a !== '--runtime' && cluster[i - 1] !== '--runtime'), '--docker-host', 'unix:///nonexistent/docker.sock', '--cni-path', '/usr/lib/cni'];
  const listArgs = ['-A', ...cluster];
  return { ws, file, pids, common, gcArgs, listArgs, laptopCache };
}

type World = Awaited<ReturnType<typeof world>>;

/**
 * A chain of bridge and `hang`, a fake plugin whose ADD (and with `del` its DEL) touches its file (`started`,
 * `delStarted`) and then sleeps until killed: every such sleep is killed at the end of the test (`pattern`).
 */
async function hangingChain(w: World, o: { del?: boolean } = {}) {
  const started = join(w.ws.dir, 'hang.started');
  const delStarted = join(w.ws.dir, 'hang.del');
  const marker = uniqueSeconds(30);
  const pattern = `^sleep ${marker.replace('.', '\\.')}$`;
  lab.defer('hanging plugin', () => killAll(pattern));
  await fakePlugin(w.ws.pluginDir, 'hang', { add: `touch ${started}\nexec sleep ${marker}`, ...(o.del ? { del: `touch ${delStarted}\nexec sleep ${marker}` } : {}) });
  const net = lab.name('h');
  const conf = await writeConf(w.ws.dir, 'hang.conflist', conflist(net, [bridgePlugin(lab.bridge(), '198.18.71.0/24', w.ws.dataDir), { type: 'hang' }]));
  return { net, conf, started, delStarted, pattern, cniPath: ['--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`] };
}

/**
 * A chain of bridge and `type`, a fake plugin whose ADD touches `started`, waits until `go` exists (made at the end of
 * the test at the latest) and then passes bridge's result on.
 */
async function slowChain(w: World, type = 'slow') {
  const started = join(w.ws.dir, 'slow.started');
  const go = join(w.ws.dir, 'slow.go');
  await fakePlugin(w.ws.pluginDir, type, { add: `touch ${started}\nwhile [ ! -e ${go} ]; do sleep 0.1; done\n${passThroughAdd('0')}` });
  lab.defer('slow plugin', () => writeFile(go, ''));
  const net = lab.name('s');
  const conf = await writeConf(w.ws.dir, `${type}.conflist`, conflist(net, [bridgePlugin(lab.bridge(), '198.18.71.0/24', w.ws.dataDir), { type }]));
  return { net, conf, started, go };
}

/**
 * Run a command again each second while its answer is busy (`busy`; by default exit 1: a lock still held), at most
 * `ms` (20 s); `first` is an answer already had; `onBusy` checks each busy answer. Returns the last answer.
 */
async function untilFree(tool: Tool, args: string[], o: { busy?: (r: CliResult) => boolean; onBusy?: (r: CliResult) => unknown; first?: CliResult; ms?: number } = {}): Promise<CliResult> {
  const busy = o.busy ?? ((r: CliResult) => r.exitCode === 1);
  const t0 = Date.now();
  let r = o.first ?? (await runCli(tool, args));
  while (busy(r) && Date.now() - t0 < (o.ms ?? 20_000)) {
    await o.onBusy?.(r);
    await new Promise((done) => setTimeout(done, 1000));
    r = await runCli(tool, args);
  }
  return r;
}

/** The keys of the cluster's attachment records, every node's. */
const recordKeys = () => api.listConfigMaps('kube-system').flatMap((c) => Object.keys(c.data ?? {}));

/**
 * An attach of net1 into web-1 (node-a) whose ADD fails and whose rollback fails too, so node-a keeps its intent and
 * bridge's lease, and the cluster records it interrupted. Its plugin flaky fails ADD always and DEL while `delFails`
 * exists (remove it to let DEL work). Returns the file, the network's name and the --cni-path the attach was given.
 */
async function interruptedAttach(w: World, args: (a: string[]) => string[] = (a) => a): Promise<{ delFails: string; net: string; cniPath: string[] }> {
  const delFails = join(w.ws.dir, 'del-fails');
  await writeFile(delFails, '');
  await fakePlugin(w.ws.pluginDir, 'flaky', { add: `echo '{"code": 11, "msg": "flaky today"}'; exit 1`, del: `if [ -e ${delFails} ]; then echo '{"code": 11, "msg": "flaky DEL"}'; exit 1; fi` });
  const net = lab.name('f');
  const conf = await writeConf(w.ws.dir, 'flaky.conflist', conflist(net, [bridgePlugin(lab.bridge(), '198.18.71.0/24', w.ws.dataDir), { type: 'flaky' }]));
  const cniPath = ['--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`];
  const a = await runCli('attach', args(['web-1', '--ifname', 'net1', '--conf', conf, ...w.common.slice(0, -2), ...cniPath]));
  expect(a.exitCode, a.stderr).toBe(1);
  expect(a.stderr).toMatch(/rolling back also failed/);
  expect(await leases(w.ws.dataDir)).toHaveLength(1);
  return { delFails, net, cniPath };
}

/**
 * From the moment `file` exists, what the nodes send back (their exec streams' stdout) reaches the API server `ms`
 * late, in order: a node's answer on its way while the CLI waits for it. Until the test sets the handler back.
 */
function lateAnswersAfter(file: string, ms: number): void {
  const inner = nodes!.handler;
  api.execHandler = async (req) => {
    const p = await inner(req);
    const out = new PassThrough();
    let chain = Promise.resolve();
    let late = false;
    p.stdout?.on('data', (c: Buffer) => {
      chain = chain.then(async () => {
        if (!late && existsSync(file)) {
          late = true;
          await new Promise((r) => setTimeout(r, ms));
        }
        out.write(c);
      });
    });
    p.stdout?.on('end', () => void chain.then(() => out.end()));
    return { pid: p.pid, stdin: p.stdin, stdout: out, stderr: p.stderr, kill: (sig) => p.kill(sig), once: (e: 'exit', l: (code: number | null, signal: NodeJS.Signals | null) => void) => p.once(e, l) } as ExecProcess;
  };
}

/**
 * Run cni-attach `args` (web-1 on node-a first) so that the patch settling web-1's record is never answered nor
 * applied — node-a's records are not there yet, so the write-ahead's patch is answered 404 (it then creates them), and
 * the next patch there, the settle's, hangs — and, once that patch was sent and `ready()` holds, quit it with a
 * second Ctrl-C: exit 130, saying it quits.
 */
async function quitWhileSettleHangs(args: string[], ready: () => boolean): Promise<void> {
  api.onNext({ method: 'PATCH', pathIncludes: 'cni-attach-node-node-a' }, () => {
    api.failNext({ method: 'PATCH', pathIncludes: 'cni-attach-node-node-a' }, { hang: true });
  });
  const patches = () => api.requests.filter((q) => q.method === 'PATCH' && q.path.includes('cni-attach-node-node-a')).length;
  const run = spawnCli('attach', args);
  try {
    expect(await waitFor(async () => patches() >= 2 && ready(), 20_000), 'web-1 attached, its record being settled').toBe(true);
    run.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    run.kill('SIGINT');
    const r = await run.done;
    expect(r.exitCode, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/^note: SIGINT again: quitting now/m);
  } finally {
    // (a failed wait leaves no attach running past the test: its node state goes with the test's cleanups)
    run.kill('SIGKILL');
    await run.done;
    api.clearInterceptors();
  }
}

const agentExecs = () => api.execs.filter((e) => e.namespace === 'kube-system');
const nodeResults = async (dir: string, node: string) => (await readdir(`${nodeCacheDir(dir, node)}/results`).catch(() => [] as string[])).filter((n) => !n.startsWith('.'));

describe('from a laptop: pods on other nodes, through agent pods', () => {
  it('attaches on two nodes (node round trips counted), lists them from the API, gc frees a deleted pod\'s lease on its node', async () => {
    const w = await world();
    for (const [i, pod] of ['web-1', 'web-2'].entries()) {
      api.clearRequests();
      const before = agentExecs().length;
      const r = await runCli('attach', [pod, '--ifname', 'net1', '--conf', w.file, ...w.common]);
      expectOk(r);
      expect(r.stdout).toMatch(new RegExp(`^net1 attached to pod shop/${pod} \\(network \\S+, node ${NODES[i]}, sandbox`));
      expect(await must(['nsenter', '-t', String(w.pids[pod]), '-n', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'net1'])).toMatch(/inet 198\.18\.71\.\d+\/24/);
      // one plugin: the sandbox lookup and everything before the ADD, the ADD, the cache write
      expect(agentExecs().length - before).toBeLessThanOrEqual(3);
    }
    // each node keeps its own cache; the laptop's stays empty
    expect(await nodeResults(w.ws.dir, 'node-a')).toEqual([expect.stringMatching(/-net1$/)]);
    expect(await nodeResults(w.ws.dir, 'node-b')).toEqual([expect.stringMatching(/-net1$/)]);
    expect(await readdir(w.laptopCache)).toEqual([]);
    expect(await leases(w.ws.dataDir)).toHaveLength(2);

    // cni-list -A from the laptop: both, with their node, from the API alone (no agent started)
    api.clearRequests();
    const l = await runCli('list', ['-o', 'json', ...w.listArgs]);
    expectOk(l);
    expect((JSON.parse(l.stdout) as { items: { pod: string; node: string; state: string }[] }).items.map((x) => [x.pod, x.node, x.state])).toEqual([['web-1', 'node-a', 'attached'], ['web-2', 'node-b', 'attached']]);
    expect(api.requests.filter((q) => q.method === 'POST')).toEqual([]);
    // -l selects among them as among this host's (before, the records were not even listed: "No resources found")
    const selected = async (args: string[]) => {
      const r = await runCli('list', ['-o', 'json', ...args, ...w.listArgs.slice(1)]);
      expectOk(r);
      return (JSON.parse(r.stdout) as { items: { pod: string }[] }).items.map((x) => x.pod);
    };
    expect(await selected(['-n', 'shop', '-l', 'app=web'])).toEqual(['web-1', 'web-2']);
    expect(await selected(['-A', '-l', 'at=node-b'])).toEqual(['web-2']);
    expect(await selected(['web-1', '-n', 'shop'])).toEqual(['web-1']);

    // web-2 is deleted (its sandbox is left, as a crashed kubelet would leave it); gc from the laptop
    expect((await sh(['nsenter', '-t', String(w.pids['web-2']), '-n', 'ip', 'link', 'show', 'net1'])).exitCode, 'net1 is there before gc').toBe(0);
    api.deletePod('shop', 'web-2');
    api.clearRequests();
    const g = await runCli('gc', w.gcArgs);
    expectOk(g);
    expect(g.stdout).toMatch(/^freed net1 of pod shop\/web-2 \(network \S+\): the pod is gone \(node node-b\), its sandbox still runs there: DEL in its namespace, the interface goes too$/m);
    // web-1, attached on node-a, is kept (its pod exists; node-a not read: not called alive) though this laptop's cache is empty
    expect(g.stdout).toMatch(/^gc: freed 1 stale attachment, 0 alive, 1 kept \(their pods exist; node not read: node-a: --node reads it\)$/m);
    // its sandbox still runs: DEL ran in its namespace, so no address is left there whose lease was freed
    expect((await sh(['nsenter', '-t', String(w.pids['web-2']), '-n', 'ip', 'link', 'show', 'net1'])).exitCode).not.toBe(0);
    // only node-b was visited: one agent, there, deleted again
    const created = api.requests.filter((q) => q.method === 'POST' && q.path === '/api/v1/namespaces/kube-system/pods');
    expect(created.map((q) => (q.body as { spec: { nodeName: string } }).spec.nodeName)).toEqual(['node-b']);
    expect(api.listPods('kube-system')).toEqual([]);
    expect(await nodeResults(w.ws.dir, 'node-b')).toEqual([]);
    expect(await nodeResults(w.ws.dir, 'node-a')).toHaveLength(1);
    // node-b's last record went with it: so did its ConfigMap
    expect(api.listConfigMaps('kube-system').map((c) => c.metadata.name)).toEqual(['cni-attach-node-node-a']);
    expect((await leases(w.ws.dataDir)).map((x) => x.containerId)).toEqual([`web-1-${lab.prefix}`]);
    const left = (JSON.parse((await runCli('list', ['-o', 'json', ...w.listArgs])).stdout) as { items: { pod: string }[] }).items;
    expect(left.map((x) => x.pod)).toEqual(['web-1']);

    // detach web-1 from the laptop: the record goes too
    api.clearRequests();
    const before = agentExecs().length;
    expectOk(await runCli('detach', ['web-1', '--ifname', 'net1', ...w.common]));
    expect(agentExecs().length - before).toBeLessThanOrEqual(3);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(recordKeys()).toEqual([]);
    // the last detach of node-a: its ConfigMap is gone (DELETE on the precondition of the version its patch left)
    expect(api.getConfigMap('kube-system', 'cni-attach-node-node-a')).toBeUndefined();
    const del = api.requests.filter((q) => q.method === 'DELETE' && q.path.endsWith('/configmaps/cni-attach-node-node-a'));
    expect(del.map((q) => q.body)).toEqual([{ preconditions: { resourceVersion: expect.stringMatching(/^\d+$/) } }]);
    expect(api.listConfigMaps('kube-system')).toEqual([]);
  });

  it('--args values with a space, quotes, $, backquotes and a newline reach the plugins on the node byte for byte (pods/exec, the node session): ADD, CHECK and DEL alike (tryout 7: `--args \'A=b c\'`)', async () => {
    const w = await world();
    const seen = join(w.ws.dir, 'args');
    await fakePlugin(w.ws.pluginDir, 'argsrec', { add: `printf '%s' "$CNI_ARGS" > '${seen}.ADD'\n${passThroughAdd('0')}`, check: `printf '%s' "$CNI_ARGS" > '${seen}.CHECK'`, del: `printf '%s' "$CNI_ARGS" > '${seen}.DEL'` });
    const conf = await writeConf(w.ws.dir, 'args.conflist', conflist(lab.name('a'), [bridgePlugin(lab.bridge(), '198.18.71.0/24', w.ws.dataDir), { type: 'argsrec' }]));
    const given = `A=b c;Q=it's "q";D=$HOME \`id\` $(id) \\x;N=new\nline`;
    const common = [...w.common, '--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`];
    expectOk(await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', conf, '--args', given, ...common]));
    expectOk(await runCli('check', ['web-1', '--ifname', 'net1', ...common]));
    expectOk(await runCli('detach', ['web-1', '--ifname', 'net1', ...common]));
    // the pod's own first (as kubelet passes them), then the given ones as given; the cached ones for CHECK and DEL
    for (const cmd of ['ADD', 'CHECK', 'DEL']) {
      const got = await readFile(`${seen}.${cmd}`, 'utf8');
      expect(got, cmd).toMatch(/^IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_INFRA_CONTAINER_ID=\S+;K8S_POD_UID=uid-web-1;/);
      expect(got.endsWith(`;${given}`), `${cmd}: ${got}`).toBe(true);
    }
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });

  it('-A -l from the laptop (kubectl label -A -l): attach and detach the matching pods of every namespace on both nodes; -o name prints pod/NAME of each; -A with a pod name is kubectl\'s refusal', async () => {
    const w = await world();
    api.addPod(makePod({ name: 'db-1', namespace: 'other', uid: 'uid-db-1', nodeName: 'node-b', containerRuntime: 'containerd', labels: { app: 'web' } }));
    try {
      await startSandbox(cd!, { id: `db-1-${lab.prefix}`, name: 'db-1', namespace: 'other', uid: 'uid-db-1' });
      const a = await runCli('attach', ['-A', '-l', 'app=web', '--ifname', 'net1', '--conf', w.file, '-o', 'name', ...w.common]);
      expectOk(a);
      expect(a.stdout.split('\n').sort()).toEqual(['pod/db-1', 'pod/web-1', 'pod/web-2']);
      expect(await leases(w.ws.dataDir)).toHaveLength(3);
      const dry = await runCli('detach', ['db-1', '-n', 'other', '--ifname', 'net1', '--dry-run', '-o', 'name', ...w.common.slice(2)]);
      expectOk(dry);
      expect(dry.stdout).toBe('pod/db-1');
      const refused = await runCli('detach', ['db-1', '-A', '--ifname', 'net1', ...w.common]);
      expect([refused.exitCode, refused.stderr.trim()]).toEqual([2, 'error: a resource cannot be retrieved by name across all namespaces: give -n NAMESPACE with the pod, or -A without it']);
      const d = await runCli('detach', ['--all-namespaces', '-l', 'app=web', '--ifname', 'net1', '-o', 'name', ...w.common]);
      expectOk(d);
      expect(d.stdout.split('\n').sort()).toEqual(['pod/db-1', 'pod/web-1', 'pod/web-2']);
      expect(await leases(w.ws.dataDir)).toEqual([]);
      expect(await nodeResults(w.ws.dir, 'node-b')).toEqual([]);
    } finally {
      api.deletePod('other', 'db-1');
    }
  });

  it('gc from the laptop: a deleted pod whose sandbox is gone too is freed without its namespace (DEL frees the lease)', async () => {
    const w = await world();
    expectOk(await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', w.file, ...w.common]));
    expect((await leases(w.ws.dataDir)).map((x) => x.containerId)).toEqual([`web-1-${lab.prefix}`]);
    // the kubelet stopped its sandbox, then the Pod object went
    const id = `web-1-${lab.prefix}`;
    await ctr(cd!, ['tasks', 'kill', '-s', 'KILL', id]);
    const task = async () => String((await ctr(cd!, ['tasks', 'list'])).stdout).split('\n').find((l) => l.startsWith(`${id} `));
    expect(await waitFor(async () => !/RUNNING/.test((await task()) ?? ''))).toBe(true);
    api.deletePod('shop', 'web-1');
    const g = await runCli('gc', w.gcArgs);
    expectOk(g);
    expect(g.stdout).toMatch(/^freed net1 of pod shop\/web-1 \(network \S+\): the pod is gone \(node node-a\)$/m);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(await nodeResults(w.ws.dir, 'node-a')).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
  });

  it('a --cache-dir that others may write on the pod\'s node is refused there (exit 2, nothing changed), as on this host; the check rides on the look-up (3 node round trips for a good one, as before) (before: not checked on a node reached by commands, so a --cache-dir pasted from a cluster record could make root DEL with planted entries)', async () => {
    const w = await world();
    const dir = nodeCacheDir(w.ws.dir, 'node-a');
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o777);
    const r = await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', w.file, ...w.common]);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain(`error: refusing the CNI cache ${w.laptopCache} on node node-a: group or others may write ${w.laptopCache} (mode 0777)`);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
    const d = await runCli('detach', ['web-1', '--ifname', 'net1', ...w.common]);
    expect(d.exitCode, d.stderr).toBe(2);
    expect(d.stderr).toContain(`refusing the CNI cache ${w.laptopCache} on node node-a`);
    // made safe, the same attach goes through in its usual round trips
    await chmod(dir, 0o755);
    const trips = async (args: string[]) => {
      const before = api.execs.length;
      expectOk(await runCli(args[0] as Tool, args.slice(1)));
      return agentExecs().filter((e) => api.execs.indexOf(e) >= before).reduce((n, e) => n + execRoundTrips(Buffer.concat(e.stdinMessages)), 0);
    };
    // one plugin: 2 + 1 for the attach, 2 + 1 for the detach (issue 12's bounds)
    expect(await trips(['attach', 'web-1', '--ifname', 'net1', '--conf', w.file, ...w.common])).toBe(3);
    expect(await trips(['detach', 'web-1', '--ifname', 'net1', ...w.common])).toBe(3);
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });

  it('from the laptop: a malformed -l is bad input (exit 2), messages name the node of a path, printed commands carry the flags given', async () => {
    const w = await world();
    // 1. the API server's 400 for the user's label selector: exit 2, the selector named, nothing asked of any node
    for (const [cmd, args] of [['attach', ['--conf', w.file, ...w.common]], ['detach', w.common], ['list', ['-n', 'shop', '--kubeconfig', api.kubeconfigPath, '--cache-dir', w.laptopCache]]] as const) {
      api.clearRequests();
      const r = await runCli(cmd, ['-l', 'app=(', '--ifname', 'net1', ...args].filter((a, i, all) => cmd !== 'list' || (a !== '--ifname' && all[i - 1] !== '--ifname')));
      expect(r.exitCode, `${cmd}: ${r.stderr}`).toBe(2);
      // (cni-list changes nothing, and says nothing of changes)
      expect(r.stderr).toBe(
        `error: the label selector 'app=(' is not valid: the API server answered 400 (BadRequest): unable to parse requirement: found '(', expected: identifier${cmd === 'list' ? '' : ' (nothing was changed)'}; see -l/--selector`,
      );
      expect(api.requests.filter((q) => q.method !== 'GET')).toEqual([]);
    }

    // 2. a path of a node is named with its node
    const check = await runCli('check', ['web-1', '--ifname', 'eth9', ...w.common]);
    expect(check.exitCode).toBe(3);
    expect(check.stderr).toContain(`nothing is attached as eth9 in pod shop/web-1 (no cache entry under ${w.laptopCache}/results on node node-a)`);
    const nothing = await runCli('detach', ['web-1', '--ifname', 'eth9', ...w.common]);
    expectOk(nothing);
    expect(nothing.stderr).toContain(`note: nothing is attached as eth9 in pod shop/web-1 (no cache entry under ${w.laptopCache}/results on node node-a); nothing to do`);
    expectOk(await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', w.file, ...w.common]));
    const plan = await runCli('detach', ['web-1', '--ifname', 'net1', '--dry-run', ...w.common]);
    expectOk(plan);
    expect(plan.stdout).toMatch(/^# target: pod=shop\/web-1 node=node-a netns=\/proc\/\d+\/ns\/net\n# the paths below are on node node-a: these commands run there, not on this host\n/);

    // 3. "already taken": the command it prints carries how the cluster and the node were reached, and works as printed
    const other = await writeConf(w.ws.dir, 'other.json', bridgeConf({ name: lab.name('o'), bridge: lab.bridge(), subnet: '198.18.71.0/24', dataDir: w.ws.dataDir }));
    const taken = await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', other, ...w.common]);
    expect(taken.exitCode).toBe(2);
    const printed = /`(kubectl cni-detach [^`]*)`/.exec(taken.stderr)?.[1];
    expect(printed).toBe(
      `kubectl cni-detach web-1 -n shop --ifname net1 --kubeconfig ${api.kubeconfigPath} --runtime agent --agent-image cni-attach-test/agent:none --cache-dir ${w.laptopCache} --cni-path /usr/lib/cni`,
    );
    const words = (await must(['sh', '-c', `set -- ${printed!.replace(/^kubectl cni-detach /, '')}; printf '%s\\0' "$@"`])).split('\0').filter((x) => x !== '');
    const pasted = await runCli('detach', words);
    expectOk(pasted);
    expect(pasted.stdout).toMatch(/^net1 detached from pod shop\/web-1/);
    expect(await leases(w.ws.dataDir)).toEqual([]);

    // cni-list's clearing command for a record of another node: cni-gc with the same flags
    expectOk(await runCli('attach', ['web-2', '--ifname', 'net1', '--conf', w.file, ...w.common]));
    api.deletePod('shop', 'web-2');
    // cni-list takes the plugins' directory only to put it into the commands it prints, which then work as pasted
    const l = await runCli('list', ['-o', 'json', ...w.listArgs, '--cni-path', '/usr/lib/cni']);
    expectOk(l);
    const clear = (JSON.parse(l.stdout) as { items: { pod: string; clearCommand?: string }[] }).items.find((x) => x.pod === 'web-2')?.clearCommand;
    expect(clear).toBe(
      `kubectl cni-gc --kubeconfig ${api.kubeconfigPath} --runtime agent --agent-image cni-attach-test/agent:none --cache-dir ${w.laptopCache} --cni-path /usr/lib/cni`,
    );
    const gcWords = clear!.split(' ').slice(1);
    expectOk(await runCli(gcWords[0]!.replace('cni-', '') as 'gc', gcWords.slice(1)));
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
  });

  it('from the laptop: --dry-run fails as the attach would (CNI version, missing plugin), and the pod\'s events say what happened, without the laptop\'s command lines', async () => {
    const w = await world();
    api.clearEvents();
    const nodeState = async () => [await nodeResults(w.ws.dir, 'node-a'), await readdir(`${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/intents`).catch(() => [] as string[])];
    // 1. a CNI 1.1 config against plugins that speak up to 1.0.0: the dry run and the attach, the same message and exit 2
    const v11 = await writeConf(w.ws.dir, 'v11.json', bridgeConf({ name: lab.name('v'), bridge: lab.bridge(), subnet: '198.18.71.0/24', dataDir: w.ws.dataDir, cniVersion: '1.1.0' }));
    const version = /^error: plugin "bridge" \(\/usr\/lib\/cni\/bridge on node node-a\) supports CNI [\d., ]*1\.0\.0; the config asks for 1\.1\.0: set "cniVersion" to one of those$/;
    const dry = await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', v11, '--dry-run', ...w.common]);
    expect(dry.exitCode, dry.stderr).toBe(2);
    expect(dry.stderr).toMatch(version);
    expect(dry.stdout).toBe('');
    expect(api.listEvents('shop')).toEqual([]); // a dry run records nothing
    const real = await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', v11, ...w.common]);
    expect(real.exitCode, real.stderr).toBe(2);
    expect(real.stderr).toBe(dry.stderr);
    // 2. a plugin that is not there: named with its node, in one bracket
    const missing = /^error: CNI plugin "bridge" not found in \/opt\/nothing on node node-a \(through agent pod kube-system\/[\w-]+\); install it or point the CNI path at its directory \(--cni-path\)$/;
    for (const extra of [['--dry-run'], []]) {
      const r = await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', w.file, ...extra, ...w.common, '--cni-path', '/opt/nothing']);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toMatch(missing);
    }
    // 3. "already taken": the CLI names the command that clears it (with the laptop's --cache-dir); the event does not
    expectOk(await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', w.file, ...w.common]));
    const other = await writeConf(w.ws.dir, 'other.json', bridgeConf({ name: lab.name('o'), bridge: lab.bridge(), subnet: '198.18.71.0/24', dataDir: w.ws.dataDir }));
    for (const extra of [['--dry-run'], []]) {
      const taken = await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', other, ...extra, ...w.common]);
      expect(taken.exitCode, taken.stderr).toBe(2);
      expect(taken.stderr).toMatch(/^error: net1 is already taken in pod shop\/web-1: it is attached \(network \S+\); run cni-detach first \(`kubectl cni-detach web-1 -n shop --ifname net1 .*--cache-dir /);
    }
    const events = api.listEvents('shop').map((e) => [e.type, e.reason, e.message]);
    expect(events).toEqual([
      ['Warning', 'FailedAddInterface', expect.stringMatching(/^Add net1 from \S+ refused \(no plugin ADD ran\): plugin "bridge" \(\/usr\/lib\/cni\/bridge on node node-a\) supports CNI .*; the config asks for 1\.1\.0: set "cniVersion" to one of those$/)],
      ['Warning', 'FailedAddInterface', expect.stringMatching(/^Add net1 from \S+ refused \(no plugin ADD ran\): CNI plugin "bridge" not found in \/opt\/nothing on node node-a \(through agent pod kube-system\/[\w-]+\)$/)],
      ['Normal', 'AddedInterface', expect.stringMatching(/^Add net1 \[198\.18\.71\.\d+\/24\] from /)],
      ['Warning', 'FailedAddInterface', expect.stringMatching(/^Add net1 from \S+ refused \(no plugin ADD ran\): net1 is already taken in pod shop\/web-1: it is attached \(network \S+\)$/)],
    ]);
    for (const [, , m] of events) expect(m).not.toMatch(/kubectl|--cache-dir|laptop-cache/);
    expectOk(await runCli('detach', ['web-1', '--ifname', 'net1', ...w.common]));
    expect(await nodeState()).toEqual([[], []]);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
    api.clearEvents();
  });

  it('a reader that goes away (`| head -1`) does not cut the command short: it finishes, deletes its agent, exits as it would have', async () => {
    const w = await world();
    const env = { ...process.env, KUBECONFIG: api.kubeconfigPath };
    const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    for (const [tool, args] of [['attach', ['web-1', '--ifname', 'net1', '--conf', w.file, ...w.common, '--dry-run']], ['attach', ['web-1', '--ifname', 'net1', '--conf', w.file, ...w.common]], ['detach', ['web-1', '--ifname', 'net1', ...w.common]]] as const) {
      const r = await execa('bash', ['-c', `set -o pipefail; ${BIN[tool]} ${args.map(q).join(' ')} | head -c 1`], { env, reject: false });
      expect(r.exitCode, `${tool}: ${r.stderr}`).toBe(0);
      // every agent the command started is gone
      expect(api.listPods('kube-system'), tool).toEqual([]);
    }
    // the attach was made in full and the detach undid it: nothing left on the node
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(await nodeResults(w.ws.dir, 'node-a')).toEqual([]);
  });

  it('an attach on another node whose rollback fails is recorded in the cluster: cni-list -A shows it interrupted, and its command clears it', async () => {
    const w = await world();
    const bad = await writeConf(w.ws.dir, 'bad.json', { cniVersion: '1.0.0', name: lab.name('b'), type: 'bridge', bridge: lab.bridge(), isGateway: false, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: 'not-a-cidr' }]], dataDir: w.ws.dataDir } });
    const a = await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', bad, ...w.common]);
    expect(a.exitCode, a.stderr).toBe(1);
    expect(a.stderr).toMatch(/rolling back also failed/);
    const l = await runCli('list', ['-o', 'json', ...w.listArgs, '--cni-path', '/usr/lib/cni']);
    expectOk(l);
    const row = (JSON.parse(l.stdout) as { items: { pod: string; node: string; state: string; clearCommand?: string }[] }).items.find((x) => x.pod === 'web-1');
    expect(row).toMatchObject({ node: 'node-a', state: 'interrupted' });
    // plain cni-detach first, as the attach's own error says (--force only if its DEL keeps failing)
    expect(row!.clearCommand).toMatch(/^kubectl cni-detach web-1 -n shop --ifname net1 .*--cni-path \/usr\/lib\/cni$/);
    expect((await runCli('list', [...w.listArgs, '--cni-path', '/usr/lib/cni'])).stderr).toMatch(/^note: to clear web-1 net1 \(interrupted\): `kubectl cni-detach web-1 -n shop --ifname net1 [^`]*` \(add --force only if its DEL keeps failing/m);
    // pasted as printed: its DEL runs again; here it keeps failing (the config's CIDR), so its error names the forced
    // command, which clears the node and the record
    const plain = await runCli('detach', row!.clearCommand!.split(' ').slice(2));
    expect(plain.exitCode, plain.stderr).toBe(1);
    const forced = new RegExp(`\`(${row!.clearCommand!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} --force)\``).exec(plain.stderr)?.[1];
    expect(forced, plain.stderr).toBeDefined();
    expectOk(await runCli('detach', forced!.split(' ').slice(2)));
    expect(await nodeResults(w.ws.dir, 'node-a')).toEqual([]);
    expect(await readdir(`${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/intents`).catch(() => [])).toEqual([]);
    expect(recordKeys()).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
  });

  it('an interrupted attach made with another --cache-dir: a plain cni-gc counts and notes it with the cni-gc that frees it (before: "would free 0 stale attachments", no note: only a gone pod\'s was); cni-list -A\'s cni-detach carries that --cache-dir and works as pasted (before: exit 3, "give --cache-dir …")', async () => {
    const w = await world();
    // a dir of the test's, the same on both simulated nodes (only the laptop's own is each node's): node-a's attach alone uses it
    const other = join(w.ws.dir, 'other-cache');
    await mkdir(other, { mode: 0o700 });
    const withOther = (a: string[]) => a.map((x, i) => (a[i - 1] === '--cache-dir' ? other : x));
    const { delFails, cniPath } = await interruptedAttach(w, withOther);
    expect(JSON.parse(api.listConfigMaps('kube-system').flatMap((c) => Object.values(c.data ?? {}))[0]!)).toMatchObject({ pod: 'web-1', interrupted: true, cacheDir: other });
    // (gc given the plugins' path, as it is given on a laptop with its own plugins: the flaky one)
    const dry = await runCli('gc', ['--dry-run', ...w.gcArgs.slice(0, -2), ...cniPath]);
    expectOk(dry);
    expect(dry.stdout).toMatch(/^gc: would free 0 stale attachments, 0 alive, 1 kept \(recorded in another cache dir\)$/m);
    const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const gc = new RegExp(`^note: kept the record of net1 of pod shop/web-1 \\(network \\S+\\) on node node-a: an attach of it was interrupted, but it names cache dir ${esc(other)}, not ${esc(w.laptopCache)} \\(read by this gc\\), where its node keeps it; \`(kubectl cni-gc [^\`]*)\` frees it$`, 'm').exec(dry.stderr)?.[1];
    expect(gc, dry.stderr).toContain(`--cache-dir ${other}`);
    // that gc, pasted (as a dry run): it reads that dir, and would free it
    const pastedGc = await runCli('gc', [...gc!.split(' ').slice(2), '--dry-run']);
    expectOk(pastedGc);
    expect(pastedGc.stdout).toMatch(/^would free net1 of pod shop\/web-1 \(network \S+\): an attach of it was interrupted \(node node-a\)$/m);
    // cni-list -A (the laptop's own dir): the note's cni-detach carries the record's dir
    const l = await runCli('list', [...w.listArgs, ...cniPath]);
    expectOk(l);
    const detach = /^note: to clear web-1 net1 \(interrupted\): `(kubectl cni-detach [^`]*)`/m.exec(l.stderr)?.[1];
    expect(detach, l.stderr).toContain(`--cache-dir ${other}`);
    // pasted once its DEL can succeed: it works the first time
    await rm(delFails);
    expectOk(await runCli('detach', detach!.split(' ').slice(2)));
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(await readdir(`${other}/cni-attach/intents`)).toEqual([]);
    expect(recordKeys()).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
  });

  it('a tight --timeout does not doom the rollback: the ADD it killed is rolled back by DELs that get at least the default limit (tryout: --timeout 20ms left 10 of 10 pods interrupted, "not rolled back")', async () => {
    const w = await world();
    const marker = uniqueSeconds(30);
    lab.defer('slow plugin', () => killAll(`^sleep ${marker.replace('.', '\\.')}$`));
    // ADD outlives the limit; DEL takes longer than the limit too, and finishes
    await fakePlugin(w.ws.pluginDir, 'slowdel', { add: `exec sleep ${marker}`, del: 'sleep 1.5' });
    const net = lab.name('t');
    const conf = await writeConf(w.ws.dir, 'slowdel.conflist', conflist(net, [bridgePlugin(lab.bridge(), '198.18.71.0/24', w.ws.dataDir), { type: 'slowdel' }]));
    const a = await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', conf, ...w.common.slice(0, -2), '--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`, '--timeout', '1s']);
    expect(a.exitCode, a.stderr).toBe(1);
    // before: "…; rolling back also failed: plugin slowdel failed on DEL: timed out after 1s …; the attempt stays recorded"
    expect(a.stderr).toMatch(/plugin slowdel failed on ADD: timed out after 1s\b.*\(rolled back: nothing was left behind\)/);
    expect(a.stderr).not.toMatch(/rolling back also failed/);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(await nodeResults(w.ws.dir, 'node-a')).toEqual([]);
    expect(await readdir(`${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/intents`).catch(() => [])).toEqual([]);
    expect(recordKeys()).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
  });

  it('an attach on another node SIGKILLed during its ADD: its write-ahead record was there first; cni-list -A on the laptop that ran it shows it attaching while its command runs, interrupted once it is gone, with the command that clears it; once its pod is gone, cni-gc frees its lease there and the record', async () => {
    const w = await world();
    const { conf, started, pattern, net } = await hangingChain(w);
    const args = ['web-1', '--ifname', 'net1', '--conf', conf, ...w.common.slice(0, -2), '--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`];
    api.clearRequests();
    // a plugin time limit of 3 s: the lock the killed attach leaves on the node is held for 3 s + 10 s (exec/lock.ts)
    const run = spawnCli('attach', [...args, '--timeout', '3s']);
    expect(await waitFor(async () => existsSync(started), 20_000), 'the chain reached its second plugin').toBe(true);
    // the record was written before the first ADD: attaching, its sandbox not known when the write began
    const ahead = api.listConfigMaps('kube-system').flatMap((c) => Object.entries(c.data ?? {}));
    expect(ahead.map(([k]) => k)).toEqual([expect.stringMatching(/^attaching\.uid-web-1\.6e657431\.[0-9a-f]{8}$/)]);
    expect(JSON.parse(ahead[0]![1])).toMatchObject({ pod: 'web-1', node: 'node-a', ifname: 'net1', network: net, containerId: '', attaching: true, by: { host: hostname(), pid: run.pid } });
    type Item = { pod: string; node: string; state: string; reason: string; clearCommand?: string };
    const listed = async () => {
      const l = await runCli('list', ['-o', 'json', ...w.listArgs]);
      expectOk(l);
      return (JSON.parse(l.stdout) as { items: Item[] }).items.find((x) => x.pod === 'web-1')!;
    };
    // cni-list -A on the laptop that runs the attach: attaching, its command running here; nothing to clear
    const during = await listed();
    expect(during).toMatchObject({ node: 'node-a', state: 'attaching' });
    expect(during.reason).toMatch(new RegExp(`^an attach of net1 began on node node-a at \\S+Z \\(\\d+s ago\\) and has not finished: its command \\(pid ${run.pid} on this host \\S+\\) runs right now$`));
    expect(during.clearCommand).toBeUndefined();
    run.kill('SIGKILL'); // a laptop gone mid-ADD: nothing settles the record
    expect((await run.done).exitCode).toBeUndefined();
    await killAll(pattern);
    // the node keeps the intent and bridge's lease
    expect(await readdir(`${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/intents`)).toEqual([`${net}-web-1-${lab.prefix}-net1`]);
    expect(await leases(w.ws.dataDir)).toHaveLength(1);

    // cni-list -A from the laptop: its command is gone (before: attaching, "still running, or its command was
    // killed"), so interrupted, since when, and the command that clears it
    const row = await listed();
    expect(row).toMatchObject({ node: 'node-a', state: 'unsettled' });
    expect(row.reason).toMatch(new RegExp(`^an attach of net1 began on node node-a at \\S+Z \\(\\d+s ago\\) and did not settle its record: its command \\(pid ${run.pid} on this host \\S+\\) is gone \\(killed, .*\\); what node node-a holds decides: `));
    // cni-gc, which judges it by what node-a holds (before: a cni-detach, which would undo an attach that finished)
    expect(row.clearCommand).toMatch(/^kubectl cni-gc --kubeconfig /);
    const table = await runCli('list', w.listArgs);
    expectOk(table);
    // its lock on node-a may be held until the bound the attach recorded: when cni-gc can act is said (tryout 9: -A said
    // "run cni-gc", which then left it alone for a minute, while --node said "free in 66s")
    expect(table.stdout).toMatch(/^shop +web-1 +net1 +\S+ +<none> +unsettled +.*its command gone; free within \d+m\d+s$/m);
    expect(table.stderr).toMatch(/^note: to clear the record in state unsettled: `kubectl cni-gc [^`]*` \(it acts on it once its node's lock of that attach is free: by \S+Z at latest; `kubectl cni-list -n shop --kubeconfig [^`]* --node node-a` shows what their nodes hold of them\)$/m);

    // the pod is deleted (its sandbox still runs); cni-gc from the laptop frees the lease on node-a, and the record
    expect((await sh(['nsenter', '-t', String(w.pids['web-1']), '-n', 'ip', 'link', 'show', 'net1'])).exitCode, 'net1 is there before gc').toBe(0);
    api.deletePod('shop', 'web-1');
    // a dry run names it once: through its write-ahead record, not also as an attachment its node holds unrecorded;
    // as the run would find it now: its lock held until its time limit (below), so left alone, not "would free"
    const dry = await runCli('gc', [...w.gcArgs.slice(0, -2), '--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`, '--dry-run']);
    expectOk(dry);
    expect(dry.stderr.match(/^note: left net1 of pod shop\/web-1 /gm), dry.stderr).toHaveLength(1);
    expect(dry.stdout).not.toMatch(/^would (free|record) /m);
    // the killed command's agent pod counted with those it would delete (its notes name it)
    expect(dry.stdout).toMatch(/^gc: would free 0 stale attachments, 0 alive, 1 busy \(left for a later run\), 1 leftover agent pod to delete$/m);
    // the killed attach's lock: its command is gone, but its ADD may run on the node until its time limit: gc leaves
    // it (a note, nothing freed; exit 0: not a failure — before, "could not free", exit 1) until then, and frees it
    // afterwards
    const gcArgs = [...w.gcArgs.slice(0, -2), '--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`];
    let busyRuns = 0;
    const g = await untilFree('gc', gcArgs, {
      busy: (r) => r.exitCode === 0 && /^note: left net1 of pod shop\/web-1 \(network \S+\) alone: its command \(pid \d+ on this host \S+\) is gone, but what it started on node node-a may run until its time limit ends \(its lock is free in \d+s, at \S+Z: a cni-gc from then on acts on it\); a later cni-gc looks at it again$/m.test(r.stderr),
      onBusy: async (r) => {
        expect(await leases(w.ws.dataDir)).toHaveLength(1);
        // the killed command's agent pod goes with the first gc that runs, whatever it leaves
        expect(r.stdout).toMatch(busyRuns++ === 0 ? /^gc: freed 0 stale attachments, 0 alive, 1 busy \(left for a later run\), 1 leftover agent pod deleted$/m : /^gc: freed 0 stale attachments, 0 alive, 1 busy \(left for a later run\)$/m);
      },
    });
    expectOk(g);
    expect(g.stdout).toMatch(/^freed net1 of pod shop\/web-1 \(network \S+\): the pod is gone \(node node-a\), its sandbox still runs there: DEL in its namespace, the interface goes too$/m);
    // once: the records pass frees it through its write-ahead record; the node's intent is not also taken for an
    // attachment without a record (gc's reconciliation of the node it visits)
    expect(g.stdout.match(/^freed /gm)).toHaveLength(1);
    // the agent pod went with the first gc: this one, when the lock ran out before it (a loaded machine), else a busy one
    expect(g.stdout).toMatch(busyRuns === 0 ? /^gc: freed 1 stale attachment, 0 alive, 1 leftover agent pod deleted$/m : /^gc: freed 1 stale attachment, 0 alive$/m);
    expect(api.listPods('kube-system')).toEqual([]);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(await readdir(`${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/intents`)).toEqual([]);
    expect((await sh(['nsenter', '-t', String(w.pids['web-1']), '-n', 'ip', 'link', 'show', 'net1'])).exitCode).not.toBe(0);
    expect(recordKeys()).toEqual([]);
  });

  it("an attach of another host lost mid-ADD (a laptop gone for good): its lock on the node is respected and the detach names the way out; cni-detach --force takes the user's word that it is gone and breaks the lock once its time limit has passed", async () => {
    const w = await world();
    const { conf, started, pattern, net, cniPath } = await hangingChain(w);
    // a plugin time limit of 3 s: its lock on the node holds 3 s + 10 s
    const run = spawnCli('attach', ['web-1', '--ifname', 'net1', '--conf', conf, ...w.common.slice(0, -2), ...cniPath, '--timeout', '3s']);
    expect(await waitFor(async () => existsSync(started), 20_000), 'the chain reached its second plugin').toBe(true);
    run.kill('SIGKILL');
    await run.done;
    await killAll(pattern);
    // as if that attach had run on laptop-2: its lock on node-a and its write-ahead record name that host (the record
    // past the bound it recorded, so the lock is what a detach meets)
    const locks = `${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/locks`;
    const [lockName, ...more] = (await readdir(locks)).filter((n) => n.endsWith('.lock'));
    expect(more).toEqual([]);
    const held = (await readFile(join(locks, lockName!), 'utf8')).replace(/^\S+ /, 'laptop-2 ');
    expect(held).toMatch(/^laptop-2 \d+ \d+ limit=13s\n$/);
    await writeFile(join(locks, lockName!), held);
    const [cm] = api.listConfigMaps('kube-system');
    const [[k, v]] = Object.entries(cm!.data ?? {});
    const rec = { ...JSON.parse(v!), by: { host: 'laptop-2', pid: 4242 }, until: new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z') };
    api.deleteConfigMap('kube-system', cm!.metadata.name);
    api.addConfigMap({ metadata: { name: cm!.metadata.name, namespace: 'kube-system', labels: cm!.metadata.labels ?? {} }, data: { [k!]: JSON.stringify(rec) } });
    const detach = ['web-1', '--ifname', 'net1', ...w.common.slice(0, -2), ...cniPath];
    // before: "…right now; try again when it is done", for ever: only removing the lock file on node-a ended it
    const busy = await runCli('detach', detach);
    expect(busy.exitCode, busy.stderr).toBe(1);
    // (when its limit passes or passed, as true at the time: tryout 8, F4 f)
    const when = (where: string) => `(takes its lock once the time limit that lock holds${where} \\(13s since it last changed\\) has passed: it passes in \\d+s \\(at \\S+Z\\)|takes its lock at once: the time limit that lock holds${where} \\(13s since it last changed\\) passed at \\S+Z \\(\\S+ ago\\))`;
    const foreign = (what: string, who = 'another') => `${who} cni-attach\\/cni-detach \\(pid \\d+ on host laptop-2\\) holds ${what}: a command of another host, which this host cannot see \\(only host laptop-2 can tell whether that command still runs; if you know it does not — that host is down, or the command was killed —, `;
    // (its way out the command line to paste, with the flags given: before, "the same cni-detach with --force")
    expect(busy.stderr).toMatch(new RegExp(`^error: ${foreign('the lock of net1 in pod shop\\/web-1 on node node-a')}\`kubectl cni-detach web-1 -n shop --ifname net1 [^\`]*--force\` ${when(' on node node-a')} — and, as --force does, forgets the attachment if its DEL then fails\\)$`, 'm'));
    expect(await readFile(join(locks, lockName!), 'utf8')).toBe(held);
    // cni-check: the same, naming the cni-detach --force to paste (before: "… right now; try again when it is done": tryout 8, F2)
    const checked = await runCli('check', detach);
    expect(checked.exitCode, checked.stderr).toBe(1);
    expect(checked.stderr).toContain(`(only host laptop-2 can tell whether that command still runs; if you know it does not — that host is down, or the command was killed —, \``);
    expect(checked.stderr).toMatch(new RegExp(`^error: ${foreign('the lock of net1 in pod shop\\/web-1 on node node-a')}\`kubectl cni-detach web-1 -n shop --ifname net1 [^\`]*--force\` ${when(' on node node-a')}\\)$`, 'm'));
    // cni-list --node: not "attach running" as of a live attach; once the limit has passed, the --force detach clears it
    const listed = await runCli('list', ['web-1', ...w.common.slice(0, -2), '--node', 'node-a', '-o', 'json']);
    expect(listed.exitCode, listed.stderr).toBe(0);
    const row = (JSON.parse(listed.stdout) as { items: { ifname: string; state: string; reason: string; clearCommand?: string }[] }).items.find((i) => i.ifname === 'net1')!;
    expect(row.state).toBe('attaching');
    expect(row.reason).toMatch(/holds its lock on node node-a: a command of another host, which this host cannot see; the time limit of its lock (passes in|passed at)/);
    expect(row.reason).not.toMatch(/right now|once it is done/);
    // cni-gc, which visits node-a for the unfinished attach, leaves it alone and says the same way out
    const gc = await runCli('gc', [...w.gcArgs.slice(0, -2), ...cniPath]);
    expect(gc.exitCode, gc.stderr).toBe(0);
    expect(gc.stderr).toMatch(new RegExp(`^note: left net1 of pod shop\\/web-1 \\(network \\S+\\) alone: ${foreign('its lock on node node-a', 'a')}\`kubectl cni-detach web-1 -n shop --ifname net1 [^\`]*--force\` ${when('')}\\); a later cni-gc looks at it again$`, 'm'));
    expect(await readFile(join(locks, lockName!), 'utf8')).toBe(held);
    // --force within the limit: busy, saying when the lock is free; then the DEL runs from the intent (the lock
    // rewritten first, as a renewal would: the commands above may have taken its 13 s on a loaded machine)
    await writeFile(join(locks, lockName!), held);
    const forced = await runCli('detach', [...detach, '--force']);
    expect(forced.exitCode, forced.stderr).toBe(1);
    expect(forced.stderr).toMatch(/its command \(pid \d+ on host laptop-2\) is gone, but what it started on node node-a may run until its time limit ends; the lock is free in \d+s/);
    expect(await leases(w.ws.dataDir)).toHaveLength(1);
    const d = await untilFree('detach', [...detach, '--force'], { first: forced });
    expectOk(d);
    // (what --force says of what it ran: the DEL of the attach's intent succeeded)
    expect(d.stdout).toBe(`net1 forgotten in pod shop/web-1 (network ${net}): DEL succeeded; removed its cache file cni-attach/intents/${net}-web-1-${lab.prefix}-net1 on node node-a`);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(await readdir(locks)).toEqual([]);
    expect(await readdir(`${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/intents`)).toEqual([]);
    expect(recordKeys()).toEqual([]);
  });

  it('the connection to the node lost during the ADD (its agent pod deleted): exit 4; the record and the event say the ADD may have run and what may remain, without the laptop\'s paths; the printed cni-detach clears it', async () => {
    const w = await world();
    api.clearEvents();
    const { conf, started, pattern, cniPath } = await hangingChain(w);
    // a plugin time limit of 3 s: the ADD left running on the node ends then (timeout -s KILL there), and the lock
    // the attach leaves with its intent holds 3 s + the grace (10 s)
    const run = spawnCli('attach', ['web-1', '--ifname', 'net1', '--conf', conf, ...w.common.slice(0, -2), ...cniPath, '--timeout', '3s']);
    expect(await waitFor(async () => existsSync(started), 20_000), 'the chain reached its second plugin').toBe(true);
    for (const p of api.listPods('kube-system')) api.deletePod('kube-system', p.metadata.name);
    const r = await run.done;
    await killAll(pattern);
    expect(r.exitCode, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/whether the ADD ran is not known: the attempt stays recorded on the node, and the link net1 in pod shop\/web-1 and its IPAM lease may remain if no DEL freed them/);
    // the plugin is named, not the `timeout` (its time limit) or the sh (the batched steps) around it
    expect(r.stderr).toContain(`running ${w.ws.pluginDir}/hang on node node-a (through agent pod kube-system/`);
    const printed = /`(kubectl cni-detach [^`]*)`/.exec(r.stderr)?.[1];
    expect(printed).toMatch(/^kubectl cni-detach web-1 -n shop --ifname net1 /);
    const events = api.listEvents('shop').map((e) => [e.type, e.reason, e.message]);
    expect(events).toEqual([['Warning', 'FailedAddInterface', expect.stringMatching(/^Add net1 from \S+ failed, its outcome unknown \(the connection to its node was lost during the ADD\): .*whether the ADD ran is not known/)]]);
    for (const [, , m] of events) expect(m).not.toMatch(/kubectl|laptop-cache|--cache-dir/);
    const l = await runCli('list', ['-o', 'json', ...w.listArgs]);
    const row = (JSON.parse(l.stdout) as { items: { pod: string; state: string; reason: string }[] }).items.find((x) => x.pod === 'web-1')!;
    expect(row.state).toBe('interrupted');
    expect(row.reason).toMatch(/failed on node node-a: the connection to its node was lost during the ADD, which may have run;/);
    // cni-list was given no --cni-path: its command carries none (pasted, a record's path would be the user's own,
    // trusted as typed); the cni-detach takes the attach's from the record, once node-a trusts it (the attach's own
    // error carries the --cni-path the user gave it)
    const clear = (row as { clearCommand?: string }).clearCommand!;
    expect(clear).toMatch(/^kubectl cni-detach web-1 -n shop --ifname net1 /);
    expect(clear).not.toContain('--cni-path');
    expect(printed).toBe(`${clear} --cni-path ${w.ws.pluginDir}:/usr/lib/cni`);
    // the command it printed, pasted at once: its lock's holder (the attach, on this laptop) is gone, but the ADD it
    // started may still run on the node until its time limit: busy (exit 1), saying when it is free; nothing ran
    const detachArgs = (await must(['sh', '-c', `set -- ${clear.replace(/^kubectl cni-detach /, '')}; printf '%s\\0' "$@"`])).split('\0').filter((x) => x !== '');
    const intents = await readdir(`${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/intents`);
    expect(intents).toHaveLength(1);
    // and with --force too: before, it forgot the intent beside the ADD that may still run ("DEL did not succeed")
    for (const extra of [[], ['--force']]) {
      const early = await runCli('detach', [...detachArgs, ...extra]);
      expect(early.exitCode, early.stderr).toBe(1);
      expect(early.stderr).toMatch(/^error: another cni-attach\/cni-detach is working on net1 in pod shop\/web-1 right now: its command \(pid \d+ on this host \S+\) is gone, but what it started on node node-a may run until its time limit ends; the lock is free in \d+s \(at \S+Z\): try again then$/m);
      expect(early.stdout).toBe('');
    }
    expect(await readdir(`${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/intents`)).toEqual(intents);
    expect(await leases(w.ws.dataDir)).toHaveLength(1);
    // once free (the limit passed), the same command runs DEL from the intent with the record's --cni-path: the lease
    // and the record go
    const freed = await untilFree('detach', detachArgs);
    expectOk(freed);
    expect(freed.stderr).toContain(`note: plugins looked for in ${w.ws.pluginDir}:/usr/lib/cni, where the attach of net1 found them (its record; --cni-path overrides)`);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(recordKeys()).toEqual([]);
    api.clearEvents();
  });

  it('a second attach, its dry run and a detach while the first attach is still in its ADD on the node: busy (exit 1), not "interrupted"; the first attach then succeeds', async () => {
    const w = await world();
    api.clearEvents();
    const { conf, started, go } = await slowChain(w);
    const args = ['web-1', '--ifname', 'net1', ...w.common.slice(0, -2), '--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`];
    const first = spawnCli('attach', [...args, '--conf', conf]);
    expect(await waitFor(async () => existsSync(started), 20_000), 'the first attach reached its slow ADD').toBe(true);
    const busy = lineWithCommand('error: another cni-attach/cni-detach ({cmd}) is working on net1 in pod shop/web-1 right now; try again when it is done', first.pid!);
    // a detach is refused before it asks the node: the attach's write-ahead record names a command running here
    const attachRuns = new RegExp(`^error: an attach of net1 in pod shop/web-1 is running \\(${commandOfThisHost(first.pid!)}; begun at \\S+, as the cluster's record of it says\\) and is not done \\(its ADD on the node, or the pod's network-status and record after it\\); try again when it is done$`, 'm');
    const ahead = recordKeys();
    const intents = await readdir(`${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/intents`);
    expect(intents).toHaveLength(1);
    // --force too (README: a lock whose holder lives is still respected): before, it took the lock the node's steps
    // could not take for a failed DEL ("DEL did not succeed (….lock exists)"), forgot the running attach's intent
    // and write-ahead record, exit 0, with a FailedRemoveInterface event
    for (const [tool, extra] of [['attach', ['--conf', conf]], ['attach', ['--conf', conf, '--dry-run']], ['detach', []], ['detach', ['--force']]] as const) {
      const r = await runCli(tool, [...args, ...extra]);
      expect(r.exitCode, `${tool} ${extra.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(tool === 'detach' ? attachRuns : busy);
      expect(r.stdout).toBe('');
    }
    expect(recordKeys()).toEqual(ahead);
    expect(await readdir(`${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/intents`)).toEqual(intents);
    expect(api.listEvents('shop').map((e) => e.reason)).not.toContainEqual(expect.stringMatching(/RemoveInterface/));
    expect(api.listEvents('shop').map((e) => e.message)).not.toContainEqual(expect.stringMatching(/interrupted/));
    await writeFile(go, '');
    const r = await first.done;
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^net1 attached to pod shop\/web-1 /);
    expect(await leases(w.ws.dataDir)).toHaveLength(1);
    expectOk(await runCli('detach', args));
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(recordKeys()).toEqual([]);
    api.clearEvents();
  });

  it('cni-check, its dry run and cni-detach --dry-run while an attach is in its ADD on the node: busy (exit 1), not "nothing is attached"; once that attach is killed and its lock\'s time limit has passed, cni-check says it was interrupted with the cni-detach that clears it, which, pasted, does', async () => {
    const w = await world();
    const { conf, started, pattern, cniPath } = await hangingChain(w);
    const args = ['web-1', '--ifname', 'net1', ...w.common.slice(0, -2), ...cniPath];
    // a plugin time limit of 8 s: long enough for the four commands below to run while the ADD hangs (with 3 s, a busy
    // machine saw the ADD killed by its limit, and the attach rolled back, before cni-list ran); the lock the killed
    // attach leaves on the node is then held for 8 s + 10 s (exec/lock.ts)
    const run = spawnCli('attach', [...args, '--conf', conf, '--timeout', '8s']);
    expect(await waitFor(async () => existsSync(started), 20_000), 'the attach reached its hanging ADD').toBe(true);
    // before: check said "nothing is attached as net1 in pod shop/web-1 (no cache entry under … on node node-a)"
    // (exit 3), its dry run and detach's printed runs beside the ADD (exit 0)
    const busy = lineWithCommand('error: another cni-attach/cni-detach ({cmd}) is working on net1 in pod shop/web-1 right now; try again when it is done', run.pid!);
    // a detach (its dry run too) is refused before it asks the node: the attach's write-ahead names a command running here
    const attachRuns = new RegExp(`^error: an attach of net1 in pod shop/web-1 is running \\(${commandOfThisHost(run.pid!)}; begun at \\S+, as the cluster's record of it says\\) and is not done \\(its ADD on the node, or the pod's network-status and record after it\\); try again when it is done$`, 'm');
    for (const [tool, extra] of [['check', []], ['check', ['--dry-run']], ['detach', ['--dry-run']]] as const) {
      const r = await runCli(tool, [...args, ...extra]);
      expect(r.exitCode, `${tool} ${extra.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(tool === 'detach' ? attachRuns : busy);
      expect(r.stdout).toBe('');
    }
    // cni-list of the pod (its record, its node's cache not read): attaching, neither hidden nor attached
    const l = await runCli('list', ['web-1', '-n', 'shop', ...w.listArgs.slice(1), '-o', 'json']);
    expectOk(l);
    expect((JSON.parse(l.stdout) as { items: { pod: string; ifname: string; state: string }[] }).items).toEqual([expect.objectContaining({ pod: 'web-1', ifname: 'net1', state: 'attaching' })]);
    run.kill('SIGKILL'); // a laptop gone mid-ADD
    expect((await run.done).exitCode).toBeUndefined();
    await killAll(pattern);
    // its command is gone, but its ADD may run on the node until its time limit: busy, saying when it is free; then
    // "interrupted" (exit 3), not "nothing is attached", with the command that clears it
    const c = await untilFree('check', args, {
      busy: (r) => r.exitCode === 1 && /its command \(pid \d+ on this host \S+\) is gone, but what it started on node node-a may run until its time limit ends; the lock is free in \d+s/.test(r.stderr),
      ms: 40_000,
    });
    expect(c.exitCode, c.stderr).toBe(3);
    expect(c.stderr).toMatch(/^error: net1 in pod shop\/web-1 is not attached: an attach of it was interrupted \(network \S+\); the link net1 in pod shop\/web-1 and its IPAM lease may remain if no DEL freed them; nothing to CHECK; run `kubectl cni-detach web-1 -n shop --ifname net1 [^`]*` to undo it/m);
    const dry = await runCli('check', [...args, '--dry-run']);
    expect(dry.exitCode, dry.stderr).toBe(3);
    expect(dry.stderr).toBe(c.stderr);
    const printed = /run `(kubectl cni-detach [^`]*)` to undo it/.exec(c.stderr)![1]!;
    expect(printed).toContain(`--cni-path ${w.ws.pluginDir}:/usr/lib/cni`);
    const detachArgs = (await must(['sh', '-c', `set -- ${printed.replace(/^kubectl cni-detach /, '')}; printf '%s\\0' "$@"`])).split('\0').filter((x) => x !== '');
    const d = await runCli('detach', detachArgs);
    expectOk(d);
    expect(d.stdout).toMatch(/^net1 detached from pod shop\/web-1 \(network \S+, an interrupted attach\)$/m);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(await readdir(`${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/intents`)).toEqual([]);
    expect(recordKeys()).toEqual([]);
  });

  it('cni-gc from the laptop while an attach is in its ADD on another node: a live pod\'s attach is left alone (nothing freed or failed, no second record); its pod deleted meanwhile, gc leaves it too (a note that a command is working on it, exit 0, its lease and write-ahead record kept); once that attach has ended, the next cni-gc frees it', async () => {
    const w = await world();
    const { net, conf, started, go } = await slowChain(w);
    const cniPath = ['--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`];
    const gcArgs = [...w.gcArgs.slice(0, -2), ...cniPath];
    const run = spawnCli('attach', ['web-1', '--ifname', 'net1', '--conf', conf, ...w.common.slice(0, -2), ...cniPath]);
    expect(await waitFor(async () => existsSync(started), 20_000), 'the attach reached its slow ADD').toBe(true);
    const ahead = recordKeys();
    expect(ahead).toEqual([expect.stringMatching(/^attaching\.uid-web-1\.6e657431\.[0-9a-f]{8}$/)]);
    const note = lineWithCommand(`note: left net1 of pod shop/web-1 (network ${net}) alone: a cni-attach/cni-detach ({cmd}) is working on it right now; a later cni-gc looks at it again`, run.pid!);

    // the pod lives: gc that visits its node (--node) reads the running attach's intent there
    const live = await runCli('gc', ['--node', 'node-a', ...gcArgs]);
    expectOk(live);
    expect(live.stderr).toMatch(note);
    expect(live.stderr).not.toMatch(/could not free/);
    expect(live.stdout).not.toMatch(/^(freed|recorded) /m);
    expect(live.stdout).toMatch(/^gc: freed 0 stale attachments, 0 alive, 1 busy \(left for a later run\)$/m);
    expect(recordKeys()).toEqual(ahead);

    // its pod is deleted during the ADD (its sandbox still runs): before, gc took its intent for an interrupted
    // attach of a gone pod, its DEL was refused as busy: "note: could not free net1 of pod shop/web-1 …", exit 1
    api.deletePod('shop', 'web-1');
    for (const extra of [['--dry-run'], []]) {
      const g = await runCli('gc', [...gcArgs, ...extra]);
      expectOk(g);
      expect(g.stderr, g.stderr).toMatch(note);
      expect(g.stderr).not.toMatch(/could not free/);
      expect(g.stdout).toMatch(new RegExp(`^gc: ${extra.length ? 'would free' : 'freed'} 0 stale attachments, 0 alive, 1 busy \\(left for a later run\\)$`, 'm'));
    }
    expect(await leases(w.ws.dataDir)).toHaveLength(1);
    expect(recordKeys()).toEqual(ahead);

    // the attach ends (its ADD done, its pod gone); the next gc frees what it left, and the record
    await writeFile(go, '');
    await run.done;
    const g = await runCli('gc', gcArgs);
    expectOk(g);
    expect(g.stdout).toMatch(/^freed net1 of pod shop\/web-1 \(network \S+\): the pod is gone \(node node-a\), its sandbox still runs there: DEL in its namespace, the interface goes too$/m);
    expect(g.stdout).toMatch(/^gc: freed 1 stale attachment, 0 alive$/m);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(await nodeResults(w.ws.dir, 'node-a')).toEqual([]);
    expect(recordKeys()).toEqual([]);
  });

  it('a pod deleted during its attach (or replaced by one of its name): exit 3, saying so and giving the cni-gc that frees what stays on its node; that cni-gc, pasted, frees it; a new pod of that name is not written to', async () => {
    const w = await world();
    const { conf, started, go } = await slowChain(w);
    const cniPath = ['--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`];
    for (const replaced of [false, true]) {
      await rm(started, { force: true });
      await rm(go, { force: true });
      const run = spawnCli('attach', ['web-1', '--ifname', 'net1', '--conf', conf, ...w.common.slice(0, -2), ...cniPath]);
      expect(await waitFor(async () => existsSync(started), 20_000), 'the attach reached its slow ADD').toBe(true);
      api.deletePod('shop', 'web-1');
      if (replaced) api.addPod(makePod({ name: 'web-1', namespace: 'shop', uid: 'uid-web-1-new', nodeName: 'node-a', containerRuntime: 'containerd', annotations: { 'k8s.v1.cni.cncf.io/network-status': '[]' } }));
      await writeFile(go, '');
      const r = await run.done;
      // before: exit 4, "… could not be written (… pods "web-1" not found); run the same command again to retry, or
      // cni-detach to undo", neither of which can reach a pod that is gone (and a replacing pod got the entry)
      expect(r.exitCode, r.stderr).toBe(3);
      const line = r.stderr.split('\n').find((l) => l.startsWith('error: '))!;
      expect(line).toMatch(/^error: net1 is attached, but pod shop\/web-1 was deleted meanwhile \(its network-status could not be written: annotating pod shop\/web-1: [^)]*\); `kubectl cni-gc [^`]*` frees what stays of the attachment on node node-a \(its interface, its IPAM lease\)$/);
      expect(line).not.toMatch(/run the same command again|cni-detach/);
      if (replaced) expect(api.getPod('shop', 'web-1')!.metadata.annotations?.['k8s.v1.cni.cncf.io/network-status']).toBe('[]');
      expect(await leases(w.ws.dataDir)).toHaveLength(1);
      const printed = /`(kubectl cni-gc [^`]*)`/.exec(line)![1]!;
      const gcArgs = (await must(['sh', '-c', `set -- ${printed.replace(/^kubectl cni-gc /, '')}; printf '%s\\0' "$@"`])).split('\0').filter((x) => x !== '');
      const g = await runCli('gc', gcArgs);
      expectOk(g);
      expect(g.stdout).toMatch(/^freed net1 of pod shop\/web-1 \(network \S+\): the pod is gone \(node node-a\)/m);
      expect(await leases(w.ws.dataDir)).toEqual([]);
      expect(recordKeys()).toEqual([]);
      if (replaced) api.deletePod('shop', 'web-1');
      api.addPod(makePod({ name: 'web-1', namespace: 'shop', uid: 'uid-web-1', nodeName: 'node-a', containerRuntime: 'containerd', labels: { app: 'web', at: 'node-a' } }));
    }
  });

  it('configmaps and pods/exec both refused (403): the exec error says forbidden and the right it needs (exit 4); no record is tried (the attach never reached its node)', async () => {
    const w = await world();
    api.clearRequests();
    api.failNext({ pathIncludes: '/configmaps', times: 100 }, { code: 403, message: 'configmaps is forbidden: User "jane" cannot patch resource "configmaps" in API group "" in the namespace "kube-system"' });
    api.failNext({ pathIncludes: '/exec', times: 100 }, { code: 403 });
    try {
      const r = await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', w.file, ...w.common]);
      expect(r.exitCode, r.stderr).toBe(4);
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(lines).toContainEqual(expect.stringMatching(/^error: exec in pod kube-system\/cni-attach-agent-\w+: the API server answered 403 \(Forbidden\) to its WebSocket upgrade: this user may not create pods\/exec in namespace kube-system, which the agent runtime needs \(deploy\/rbac\.yaml grants it\)$/));
      expect(r.stderr).not.toMatch(/could not be removed|cannot reach|not recorded/);
      // the write-ahead is written once the sandbox was found: the look-up's exec was refused first
      expect(api.requests.filter((q) => q.path.includes('/configmaps')).map((q) => q.method)).toEqual([]);
    } finally {
      api.clearInterceptors();
    }
    expect(api.listPods('kube-system')).toEqual([]);
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });

  it('SIGTERM during the ADD on another node: rolled back (exit 143), and its write-ahead record removed within the bound', async () => {
    const w = await world();
    const { conf, started, pattern } = await hangingChain(w);
    const run = spawnCli('attach', ['web-1', '--ifname', 'net1', '--conf', conf, ...w.common.slice(0, -2), '--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`]);
    expect(await waitFor(async () => existsSync(started), 20_000), 'the chain reached its second plugin').toBe(true);
    expect(recordKeys()).toEqual([expect.stringMatching(/^attaching\./)]);
    const t0 = Date.now();
    run.kill('SIGTERM');
    const r = await run.done;
    await killAll(pattern);
    expect(r.exitCode, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/rolled back: nothing was left behind/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(recordKeys()).toEqual([]);
  });

  it('detach -l from the laptop, Ctrl-C while the chain\'s last DEL of the first pod has exited 0 on its node but its answer is still on its way: that pod is "detached" (lease, node cache entry and record gone), the other not started, exit 130; the same detach again finishes the rest', async () => {
    const w = await world();
    const exited = join(w.ws.dir, 'linger.exited');
    // `linger`, first in the chain (so its DEL is the chain's last): for web-1 it marks that it ran, and exits 0; from
    // then on the nodes' answers come 3 s late (lateAnswersAfter), so the signal lands between its exit and its answer
    await fakePlugin(w.ws.pluginDir, 'linger', { add: `echo '{"cniVersion":"1.0.0"}'`, del: `case "$CNI_ARGS" in *K8S_POD_NAME=web-1\\;*) touch ${exited};; esac\nexit 0` });
    const conf = await writeConf(w.ws.dir, 'linger.conflist', conflist(lab.name('l'), [{ type: 'linger' }, bridgePlugin(lab.bridge(), '198.18.71.0/24', w.ws.dataDir)]));
    const args = ['-l', 'app=web', '--ifname', 'net1', ...w.common.slice(0, -2), '--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`, '--parallel', '1'];
    expectOk(await runCli('attach', [...args, '--conf', conf]));
    expect(await leases(w.ws.dataDir)).toHaveLength(2);
    lateAnswersAfter(exited, 3000);
    const run = spawnCli('detach', args);
    expect(await waitFor(async () => existsSync(exited), 20_000), 'web-1\'s last DEL exited').toBe(true);
    run.kill('SIGINT');
    const r = await run.done;
    expect(r.exitCode, r.stderr).toBe(130);
    // before: "[1/2] shop/web-1: stopped: plugin linger stopped on DEL: by SIGINT (Ctrl-C) (it had exited 0, its output
    // not yet taken); the record stays", while the node held nothing of it any more
    expect(r.stderr).toMatch(/^\[\d\/2\] shop\/web-1: detached net1$/m);
    expect(r.stdout).toBe('net1 detached from 1 of 2 pods; stopped by SIGINT (Ctrl-C): 1 not started (shop/web-2)');
    expect(r.stderr.trim().split('\n').at(-1)).toBe('error: detach stopped by SIGINT (Ctrl-C): 1 not started; 1 of 2 pods done');
    expect((await leases(w.ws.dataDir)).map((x) => x.containerId)).toEqual([`web-2-${lab.prefix}`]);
    expect([await nodeResults(w.ws.dir, 'node-a'), (await nodeResults(w.ws.dir, 'node-b')).length]).toEqual([[], 1]);
    expect(api.listConfigMaps('kube-system').map((c) => c.metadata.name)).toEqual(['cni-attach-node-node-b']);
    expect(api.listPods('kube-system')).toEqual([]);
    api.execHandler = nodes!.handler;
    const again = await runCli('detach', args);
    expectOk(again);
    expect(again.stdout).toBe('net1 detached from 1 of 2 pods, 1 had nothing attached');
    expect(again.stderr).toMatch(/^\[\d\/2\] shop\/web-1: nothing attached as net1$/m);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(recordKeys()).toEqual([]);
  });

  it('attach -l from the laptop quit by a second Ctrl-C while the patch replacing a pod\'s write-ahead record is unanswered (the pod attached on its node, the cluster saying attaching; the next pod, handed its node meanwhile, attached and settled): the next detach -l says "detached" for both and leaves no record of them', async () => {
    const w = await world();
    const args = ['-l', 'app=web', '--ifname', 'net1', ...w.common, '--parallel', '1'];
    // web-1's bookkeeping hangs; with --parallel 1 the worker hands its node step to web-2 meanwhile (forEachPod's
    // hand-off), which runs to its end: the quit waits for that, so what it leaves does not depend on timing
    await quitWhileSettleHangs([...args, '--conf', w.file], () => recordKeys().some((k) => k.startsWith('web-2-')));
    // what that quit left: net1 attached on node-a, the cluster's record of it a write-ahead saying attaching; web-2's settled
    expect(await nodeResults(w.ws.dir, 'node-a')).toHaveLength(1);
    expect(await nodeResults(w.ws.dir, 'node-b')).toHaveLength(1);
    expect(recordKeys().sort()).toEqual([expect.stringMatching(/^attaching\.uid-web-1\./), expect.stringMatching(/^web-2-/)]);
    const d = await runCli('detach', args);
    expectOk(d);
    expect(d.stderr).toMatch(/^\[\d\/2\] shop\/web-1: detached net1$/m);
    expect(d.stderr).toMatch(/^\[\d\/2\] shop\/web-2: detached net1$/m);
    expect(d.stdout).toBe('net1 detached from 2 of 2 pods');
    // before: the write-ahead stayed, and cni-list -A showed an attach of net1 in web-1 that nothing held
    expect(recordKeys()).toEqual([]);
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });

  it('an attach from the laptop quit by a second Ctrl-C while the patch settling its record is unanswered: its network-status went out alongside, so cni-list -A shows it attached (record not settled), not interrupted; cni-check passes; cni-gc settles the record from what node-a holds; cni-detach then clears it all', async () => {
    const w = await world();
    const args = ['web-1', '--ifname', 'net1', ...w.common];
    // (before, the network-status update waited for the settle, and so was never sent)
    await quitWhileSettleHangs([...args, '--conf', w.file], () => (api.getPod('shop', 'web-1')!.metadata.annotations?.['k8s.v1.cni.cncf.io/network-status'] ?? '').includes('"net1"'));
    expect(await nodeResults(w.ws.dir, 'node-a')).toHaveLength(1);
    expect(recordKeys()).toEqual([expect.stringMatching(/^attaching\./)]);
    // before: `interrupted`, "its command is gone without settling this record", until a detach ran
    const l = await runCli('list', [...w.listArgs, '-o', 'wide']);
    expectOk(l);
    expect(l.stdout).toMatch(/^shop +web-1 +.* attached +.*record not settled/m);
    expect(l.stderr).toMatch(/^note: to settle the record of attachments whose attach finished but whose record says attaching \(REASON record not settled\): `kubectl cni-gc --kubeconfig /m);
    const json = await runCli('list', [...w.listArgs, '-o', 'json']);
    const item = (JSON.parse(json.stdout) as { items: { pod: string; state: string; reason: string }[] }).items.find((i) => i.pod === 'web-1')!;
    expect(item.state).toBe('attached');
    expect(item.reason).toMatch(/finished there \(the pod's network-status names net1, which the attach writes only after its ADD\), but its record still says attaching: .*cni-gc settles it from what node node-a holds$/);
    expectOk(await runCli('check', args));
    // cni-gc visits node-a (the node of a live pod's write-ahead) and settles the record from its result
    const g = await runCli('gc', w.gcArgs);
    expectOk(g);
    expect(g.stdout).toMatch(/^settled the record of net1 of pod shop\/web-1 \(network \S+\) on node node-a: it said attaching since \S+, and its attach finished there \(the node holds its result, no intent, no lock\): attached, counted alive$/m);
    expect(g.stdout).toMatch(/^gc: freed 0 stale attachments, 1 alive$/m);
    expect(recordKeys()).toEqual([expect.not.stringMatching(/^attaching\./)]);
    const after = await runCli('list', [...w.listArgs, '-o', 'json']);
    expect((JSON.parse(after.stdout) as { items: { pod: string; state: string; reason?: string }[] }).items.find((i) => i.pod === 'web-1')).toMatchObject({ state: 'attached' });
    expectOk(await runCli('detach', args));
    expect(recordKeys()).toEqual([]);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
  });

  it('an attach from the laptop killed (kill -9) after its ADD, before its network-status and settle: cni-list --node node-a shows it attached (record not settled), not interrupted, as cni-gc --dry-run would settle it and write its network-status; cni-gc does both; then net1 deleted in the sandbox: cni-check says interface gone (exit 3, -o json too), not the bridge\'s Mac', async () => {
    const w = await world();
    const args = ['web-1', '--ifname', 'net1', ...w.common];
    expectOk(await runCli('attach', [...args, '--conf', w.file]));
    // what the kill -9 leaves (a batch's pod or one pod alike): node-a's result (no intent, no lock), the pod's
    // network-status without net1, and the cluster's record a write-ahead of a command that is gone
    const cmName = 'cni-attach-node-node-a';
    const [key, text] = Object.entries(api.getConfigMap('kube-system', cmName)!.data!)[0]!;
    const done = JSON.parse(text) as Record<string, unknown>;
    const dead = execa('true');
    await dead;
    api.deleteConfigMap('kube-system', cmName);
    api.addConfigMap({ metadata: { name: cmName, namespace: 'kube-system', labels: { 'app.kubernetes.io/managed-by': 'cni-attach' } }, data: { [`attaching.uid-web-1.6e657431.0badc0de`]: JSON.stringify({ ...done, containerId: '', addresses: [], attaching: true, by: { host: hostname(), pid: dead.pid, start: '1' } }) } });
    api.updatePod('shop', 'web-1', (p) => {
      p.metadata.annotations = { ...p.metadata.annotations, [STATUS]: '[]' };
    });
    expect(key).not.toMatch(/^attaching\./);
    // before: `interrupted`, "its command is gone …", with a cni-detach to run
    const l = await runCli('list', [...w.listArgs, '--node', 'node-a', '-o', 'json']);
    expectOk(l);
    expect((JSON.parse(l.stdout) as { items: Record<string, unknown>[] }).items.find((i) => i.pod === 'web-1')).toMatchObject({
      state: 'attached', containerId: `web-1-${lab.prefix}`, clearCommand: expect.stringMatching(/^kubectl cni-gc /),
      reason: expect.stringMatching(/^an attach of net1 began on node node-a at \S+ and finished there \(node node-a holds its result: no intent, no lock\), but its record still says attaching: .*cni-gc settles it from what node node-a holds, and writes the pod's network-status entry as the attach would have$/),
    });
    const table = await runCli('list', [...w.listArgs, '--node', 'node-a']);
    expect(table.stdout).toMatch(/^shop +web-1 +net1 .* attached +.*record not settled$/m);
    const dry = await runCli('gc', [...w.gcArgs, '--dry-run']);
    expectOk(dry);
    expect(dry.stdout).toMatch(/^would settle the record of net1 of pod shop\/web-1 .*: attached, counted alive; the pod's network-status does not name it: would write its entry \(and event\), as the attach would have$/m);
    expect(dry.stdout).toMatch(/^gc: would free 0 stale attachments, 1 alive, 1 network-status entry to write \(of attaches it settled\)$/m);
    expect(api.getPod('shop', 'web-1')!.metadata.annotations?.[STATUS]).toBe('[]');
    const g = await runCli('gc', w.gcArgs);
    expectOk(g);
    expect(g.stdout).toMatch(/^settled the record of net1 of pod shop\/web-1 .*; the pod's network-status entry its attach had not written: written \(with its event\)$/m);
    expect(JSON.parse(api.getPod('shop', 'web-1')!.metadata.annotations![STATUS]!)).toEqual([expect.objectContaining({ interface: 'net1', ips: [expect.stringMatching(/^198\.18\.71\./)] })]);
    const after = await runCli('list', [...w.listArgs, '--node', 'node-a', '-o', 'json']);
    const row = (JSON.parse(after.stdout) as { items: Record<string, unknown>[] }).items.find((i) => i.pod === 'web-1')!;
    expect(row).toMatchObject({ state: 'attached' });
    expect(row.reason).toBeUndefined();
    expectOk(await runCli('check', args));
    // the link deleted in the sandbox: the look-up read its links through the agent; said before any CHECK
    await must(['nsenter', '-t', String(w.pids['web-1']), '-n', 'ip', 'link', 'del', 'net1']);
    const gone = /^error: net1 in pod shop\/web-1 is gone \(`kubectl cni-list web-1 -n shop --node node-a [^`]*` shows it as interface gone\): net1 is not in the network namespace of sandbox \S+ on node node-a any more: deleted outside cni-attach \(no DEL of ours was under way\); its IPAM lease is still held: `kubectl cni-detach web-1 -n shop --ifname net1 [^`]*` frees it; nothing to CHECK$/m;
    for (const more of [[], ['--dry-run'], ['-o', 'json']]) {
      const c = await runCli('check', [...args, ...more]);
      expect(c.exitCode, c.stderr).toBe(3);
      expect(c.stderr).toMatch(gone);
      expect(c.stderr).not.toMatch(/Mac doesn't match/);
      if (more.length === 0) {
        // the cni-list it names, as pasted (its words have no quotes here), shows that row so
        const printed = /\(`kubectl cni-list ([^`]*)`/.exec(c.stderr)![1]!.split(' ');
        const l = await runCli('list', [...printed, '-o', 'json']);
        expect(l.exitCode, l.stderr).toBe(0);
        expect((JSON.parse(l.stdout) as { items: { ifname: string; state: string }[] }).items).toContainEqual(expect.objectContaining({ ifname: 'net1', state: 'interface gone' }));
      }
      if (more[0] === '-o') expect(JSON.parse(c.stdout)).toMatchObject({ ok: false, ifname: 'net1', target: 'pod shop/web-1', exitCode: 3, checked: [] });
    }
    const l2 = await runCli('list', [...w.listArgs, '--node', 'node-a', '-o', 'json']);
    expect((JSON.parse(l2.stdout) as { items: Record<string, unknown>[] }).items.find((i) => i.pod === 'web-1')).toMatchObject({ state: 'interface gone' });
    expectOk(await runCli('detach', args));
    expect(recordKeys()).toEqual([]);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
  });

  it('node-b\'s cache holding a copy of web-1\'s entry (web-1 runs on node-a: a cache shared or copied between nodes): cni-gc --node node-b leaves it alone and says so (not counted, recorded or freed there: web-1\'s interface and lease stay), and cni-list -A --node node-b lists web-1 on node-a only', async () => {
    const w = await world();
    expectOk(await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', w.file, ...w.common]));
    const [file] = await nodeResults(w.ws.dir, 'node-a');
    await mkdir(`${nodeCacheDir(w.ws.dir, 'node-b')}/results`, { recursive: true });
    await copyFile(`${nodeCacheDir(w.ws.dir, 'node-a')}/results/${file}`, `${nodeCacheDir(w.ws.dir, 'node-b')}/results/${file}`);
    const keys = recordKeys();
    for (const dry of [['--dry-run'], []]) {
      const g = await runCli('gc', [...w.gcArgs, '--node', 'node-b', ...dry]);
      expectOk(g);
      expect(g.stdout).toBe(`gc: ${dry.length ? 'would free' : 'freed'} 0 stale attachments, 0 alive, 1 kept (their pods exist; node not read: node-a: --node reads it)`);
      expect(g.stderr).toMatch(/^note: node node-b's cache holds net1 of pod shop\/web-1 \(network \S+\): pod shop\/web-1 \(uid uid-web-1\) runs on node node-a, not on node node-b, whose cache holds this entry: .*; not counted, freed or recorded on node node-b$/m);
    }
    expect(recordKeys()).toEqual(keys);
    expect(await leases(w.ws.dataDir)).toHaveLength(1);
    expect(await must(['nsenter', '-t', String(w.pids['web-1']), '-n', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'net1'])).toMatch(/inet 198\.18\.71\.\d+\/24/);
    expect(await nodeResults(w.ws.dir, 'node-b')).toEqual([file]);
    // --node filters rows to that node (as kubectl's --field-selector spec.nodeName): web-1's row is node-a's only
    const rows = async (node: string) => {
      const l = await runCli('list', [...w.listArgs, '--node', node, '-o', 'json']);
      expectOk(l);
      return (JSON.parse(l.stdout) as { items: { pod: string; node: string; state: string }[] }).items.map((i) => [i.pod, i.node, i.state]);
    };
    expect(await rows('node-b')).toEqual([]);
    expect(await rows('node-a')).toEqual([['web-1', 'node-a', 'attached']]);
    await rm(`${nodeCacheDir(w.ws.dir, 'node-b')}/results/${file}`);
    expectOk(await runCli('detach', ['web-1', '--ifname', 'net1', ...w.common]));
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(recordKeys()).toEqual([]);
  });

  it('cni-gc from the laptop whose DEL fails on another node: the note names the cni-detach that retries it and the --force that forgets it; the retry, pasted on the laptop once DEL works, reaches the gone pod\'s node through its record and frees the lease', async () => {
    const w = await world();
    await fakePlugin(w.ws.pluginDir, 'faildel', { add: passThroughAdd('0'), del: `echo '{"cniVersion":"1.0.0","code":11,"msg":"no"}'; exit 1` });
    const conf = await writeConf(w.ws.dir, 'fd.conflist', conflist(lab.name('f'), [bridgePlugin(lab.bridge(), '198.18.71.0/24', w.ws.dataDir), { type: 'faildel' }]));
    const cniPath = ['--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`];
    expectOk(await runCli('attach', ['web-2', '--ifname', 'net1', '--conf', conf, ...w.common.slice(0, -2), ...cniPath]));
    api.deletePod('shop', 'web-2');
    const g = await runCli('gc', [...w.gcArgs.slice(0, -2), ...cniPath]);
    expect(g.exitCode, g.stderr).toBe(1);
    const note = g.stderr.split('\n').find((l) => l.startsWith('note: could not free net1 of pod shop/web-2'));
    expect(note, g.stderr).toMatch(/`(kubectl cni-detach web-2 -n shop --ifname net1 [^`]*--force)`/);
    const retry = /run `(kubectl cni-detach web-2 -n shop --ifname net1 [^`]*)` again/.exec(note!)?.[1];
    expect(retry, note).toContain(`--cni-path ${w.ws.pluginDir}:/usr/lib/cni`);
    // the plugin's DEL is fixed; the printed retry, pasted on the laptop, reaches node-b (the pod is gone: its record
    // names the node) and DELs there: the lease goes, and the record
    await fakePlugin(w.ws.pluginDir, 'faildel', { add: passThroughAdd('0') });
    const d = await runCli('detach', retry!.split(' ').slice(2));
    expectOk(d);
    expect(d.stderr).toMatch(/note: pod shop\/web-2 no longer exists: using what the cache of node node-b \(its record in the cluster names it\) recorded for it/);
    expect(await nodeResults(w.ws.dir, 'node-b'), `${retry}\n${d.stdout}${d.stderr}`).toEqual([]);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(recordKeys()).toEqual([]);
  });

  it('a bare cni-gc from the laptop finds the plugins where the attach found them (its --cni-path, kept in the record)', async () => {
    const w = await world();
    await fakePlugin(w.ws.pluginDir, 'passon', { add: passThroughAdd('0') });
    const conf = await writeConf(w.ws.dir, 'po.conflist', conflist(lab.name('p'), [bridgePlugin(lab.bridge(), '198.18.71.0/24', w.ws.dataDir), { type: 'passon' }]));
    expectOk(await runCli('attach', ['web-2', '--ifname', 'net1', '--conf', conf, ...w.common.slice(0, -2), '--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`]));
    api.deletePod('shop', 'web-2');
    // no --cni-path: the defaults (/opt/cni/bin:/usr/lib/cni) do not hold passon; the record's path does
    const g = await runCli('gc', w.gcArgs.slice(0, -2));
    expectOk(g);
    expect(g.stdout).toMatch(/^freed net1 of pod shop\/web-2 \(network \S+\): the pod is gone \(node node-b\)/m);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(recordKeys()).toEqual([]);
  });

  it('detach and check of a pod given no --cni-path look for the plugins where its attach found them (its record): busy during its ADD, and the cni-detach an "already taken" prints works as printed', async () => {
    const w = await world();
    const { conf, started, go } = await slowChain(w, 'slowpass');
    const bare = ['web-1', '--ifname', 'net1', ...w.common.slice(0, -2)]; // no --cni-path
    const first = spawnCli('attach', [...bare, '--conf', conf, '--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`]);
    expect(await waitFor(async () => existsSync(started), 20_000), 'the attach reached its slow ADD').toBe(true);
    // during its ADD: busy (before, "CNI plugin slowpass not found in /opt/cni/bin, /usr/lib/cni", exit 2)
    const during = await runCli('detach', bare);
    expect(during.exitCode, during.stderr).toBe(1);
    expect(during.stderr).toMatch(/an attach of net1 in pod shop\/web-1 is running \(pid \d+ on this host \S+, running for \S+; begun at \S+, as the cluster's record of it says\) and is not done/);
    await writeFile(go, '');
    expectOk(await first.done);
    const check = await runCli('check', bare);
    expectOk(check);
    expect(check.stderr).toContain(`note: plugins looked for in ${w.ws.pluginDir}:/usr/lib/cni, where the attach of net1 found them (its record; --cni-path overrides)`);
    // another config on the same interface: already taken; the cni-detach it prints, pasted, detaches
    const again = await runCli('attach', [...bare, '--conf', w.file]);
    expect(again.exitCode, again.stderr).toBe(2);
    const printed = /run cni-detach first \(`(kubectl cni-detach [^`]*)`/.exec(again.stderr)?.[1];
    expect(printed, again.stderr).toMatch(/^kubectl cni-detach web-1 -n shop --ifname net1 /);
    expectOk(await runCli('detach', printed!.split(' ').slice(2)));
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(recordKeys()).toEqual([]);
  });

  it('a record forged to name a --cni-path anyone may write, holding a "plugin" that leaves a marker: cni-detach (no --cni-path), cni-check and cni-gc from the laptop do not run it, say why with the record (exit 2), and change nothing; the user\'s own --cni-path then frees it', async () => {
    const w = await world();
    expectOk(await runCli('attach', ['web-2', '--ifname', 'net1', '--conf', w.file, ...w.common]));
    // a directory anyone may write (as a hostPath another workload writes), with a "bridge" that only leaves a marker
    const evil = join(w.ws.dir, 'evil');
    const marker = join(w.ws.dir, 'evil-ran');
    await mkdir(evil);
    await chmod(evil, 0o777);
    await writeFile(join(evil, 'bridge'), `#!/bin/sh\ntouch '${marker}'\necho '{"cniVersion":"1.0.0","supportedVersions":["0.3.1","0.4.0","1.0.0"]}'\n`, { mode: 0o755 });
    // someone who may write ConfigMaps in kube-system (and nothing more) points the record there
    const cm = api.getConfigMap('kube-system', 'cni-attach-node-node-b')!;
    const [[key, value]] = Object.entries(cm.data!) as [[string, string]];
    api.deleteConfigMap('kube-system', cm.metadata.name);
    api.addConfigMap({ ...cm, data: { [key]: JSON.stringify({ ...(JSON.parse(value) as object), cniPath: evil }) } });
    const refusal = `refusing to run plugins from ${evil}, the --cni-path that the cluster's record of net1 of pod shop/web-2 on node node-b (key ${key} of ConfigMap kube-system/cni-attach-node-node-b) names: group or others may write ${evil} (mode 0777) on node node-b; anyone who may write ConfigMaps in its namespace can write a record, so its path is used only where none but root or the user the plugins run as may change it; nothing was run; if you trust it, give it yourself: \``;
    const unchanged = async () => {
      expect(existsSync(marker), 'the forged plugin ran').toBe(false);
      expect(await nodeResults(w.ws.dir, 'node-b')).toHaveLength(1);
      expect(await leases(w.ws.dataDir)).toHaveLength(1);
      expect(recordKeys()).toEqual([key]);
    };
    const bare = ['web-2', '--ifname', 'net1', ...w.common.slice(0, -2)]; // no --cni-path

    // cni-detach of the pod: refused; the trust facts came with the node's look-up (no round trip of their own)
    const before = agentExecs().length;
    const d = await runCli('detach', bare);
    expect(d.exitCode, d.stderr).toBe(2);
    expect(d.stderr.split('\n').filter((l) => l.startsWith('error: '))).toEqual([`error: ${refusal}kubectl cni-detach web-2 -n shop --ifname net1 --kubeconfig ${api.kubeconfigPath} --runtime agent --agent-image cni-attach-test/agent:none --cache-dir ${w.laptopCache} --cni-path ${evil}\``]);
    expect(agentExecs().length - before).toBe(1);
    await unchanged();
    const c = await runCli('check', bare);
    expect(c.exitCode, c.stderr).toBe(2);
    expect(c.stderr).toContain(`error: ${refusal}kubectl cni-check web-2 -n shop --ifname net1 `);
    await unchanged();

    // its pod gone: cni-gc from the laptop, and cni-detach of the gone pod, refuse it too
    api.deletePod('shop', 'web-2');
    const g = await runCli('gc', w.gcArgs.slice(0, -2));
    expect(g.exitCode, g.stderr).toBe(2);
    expect(g.stderr).toContain(`note: could not free net1 of pod shop/web-2: ${refusal}kubectl cni-detach web-2 -n shop --ifname net1 `);
    expect(g.stdout).toMatch(/^gc: freed 0 stale attachments, 0 alive, 1 could not be freed$/m);
    await unchanged();
    const gone = await runCli('detach', bare);
    expect(gone.exitCode, gone.stderr).toBe(2);
    expect(gone.stderr).toContain(`error: ${refusal}`);
    await unchanged();

    // the user's own --cni-path is the user's word: the attachment goes, the lease with it
    expectOk(await runCli('detach', [...bare, '--cni-path', '/usr/lib/cni']));
    expect(existsSync(marker)).toBe(false);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(recordKeys()).toEqual([]);
  });

  it('a record whose fields break their rules is shown by cni-list -A as invalid, with why and the kubectl patch that removes it; cni-gc leaves it alone and says so', async () => {
    const w = await world();
    expectOk(await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', w.file, ...w.common]));
    const cm = api.getConfigMap('kube-system', 'cni-attach-node-node-a')!;
    const [[key, value]] = Object.entries(cm.data!) as [[string, string]];
    // a pod name no pod can have, a relative --cache-dir, a state nobody writes; under a key of its own
    const bad = { ...(JSON.parse(value) as object), pod: "web-1'; touch /tmp/x; '", ifname: 'net9', containerId: 'forged', cacheDir: 'cache', interrupted: 'maybe' };
    const badKey = `forged.${Buffer.from('net9').toString('hex')}`;
    api.deleteConfigMap('kube-system', cm.metadata.name);
    api.addConfigMap({ ...cm, data: { [key]: value, [badKey]: JSON.stringify(bad) } });
    const removal = `kubectl patch configmap cni-attach-node-node-a -n kube-system --type merge -p '{"data":{"${badKey}":null}}' --kubeconfig ${api.kubeconfigPath}`;

    const l = await runCli('list', w.listArgs);
    expectOk(l);
    expect(l.stdout.split('\n').slice(1, 3)).toEqual([
      expect.stringMatching(new RegExp(`^- +record:cni-attach-node-node-a/${badKey.replace('.', '\\.')} +- +- +<none> +invalid +<unknown> +- +pod name "web-1'; touch /tmp/x; '" is\\.\\.\\.$`)),
      expect.stringMatching(/^shop +web-1 +net1 +\S+ +198\.18\.71\.\d+\/24 +attached /),
    ]);
    expect(l.stderr).toBe(`note: to clear record:cni-attach-node-node-a/${badKey} (invalid): \`${removal}\``);
    const json = await runCli('list', ['-o', 'json', ...w.listArgs]);
    const item = (JSON.parse(json.stdout) as { items: { state: string; node: string; reason?: string; clearCommand?: string }[] }).items.find((i) => i.state === 'invalid');
    expect(item).toMatchObject({ node: 'node-a', clearCommand: removal, reason: expect.stringContaining(`pod name "web-1'; touch /tmp/x; '" is not a DNS subdomain`) });

    // cni-gc: nothing done for it (the entry stays), said with the same command; gc's outcome is its own
    const g = await runCli('gc', w.gcArgs);
    expectOk(g);
    expect(g.stderr).toContain(`note: the record ${badKey} of ConfigMap kube-system/cni-attach-node-node-a is not valid, so it is left alone: pod name "web-1'; touch /tmp/x; '" is not a DNS subdomain (RFC 1123: at most 253 of a-z, 0-9, '-' and '.'); \`${removal}\` removes it`);
    expect(recordKeys().sort()).toEqual([badKey, key].sort());
    // web-1's record: its pod exists, node-a not read by a plain gc — kept, not "alive"
    expect(g.stdout).toMatch(/^gc: freed 0 stale attachments, 0 alive, 1 kept \(their pods exist; node not read: node-a: --node reads it\)$/m);

    // the printed command, run by kubectl where there is one, removes it
    const kubectl = ['/usr/bin/kubectl', ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'kubectl'))].find((p) => existsSync(p));
    if (kubectl) {
      const words = (await must(['sh', '-c', `set -- ${removal.replace(/^kubectl /, '')}; printf '%s\\0' "$@"`])).split('\0').filter((x) => x !== '');
      const k = await execa(kubectl, words, { reject: false, env: { HOME: w.ws.dir, PATH: process.env.PATH ?? '' }, extendEnv: false, timeout: 30_000 });
      expect(k.exitCode, k.stderr).toBe(0);
      expect(recordKeys()).toEqual([key]);
    }
    expectOk(await runCli('detach', ['web-1', '--ifname', 'net1', ...w.common]));
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });

  it.each([
    ['its pod name (to a live pod of another node)', { pod: 'web-2' }, `for pod "shop/web-1", not shop/web-2`],
    ['its pod name (to a pod that is gone)', { pod: 'web-9' }, `for pod "shop/web-1", not shop/web-9`],
    ['its uid', { uid: 'uid-forged' }, `for pod shop/web-1 of uid "uid-web-1", not "uid-forged"`],
  ])('a live attachment\'s record forged in %s: cni-gc (dry run and real) from the laptop frees nothing of it (lease, cache entry and interface stay), says the record does not match what its node holds with the kubectl patch that removes it, and frees a gone pod\'s attachment in the same run; cni-detach of the forged pod runs nothing', async (_what, forged, why) => {
    const w = await world();
    // web-3: a pod of node-a that will be gone (its sandbox left running, as a kubelet behind leaves it)
    api.addPod(makePod({ name: 'web-3', namespace: 'shop', uid: 'uid-web-3', nodeName: 'node-a', containerRuntime: 'containerd' }));
    const pid3 = await startSandbox(cd!, { id: `web-3-${lab.prefix}`, name: 'web-3', namespace: 'shop', uid: 'uid-web-3' });
    for (const pod of ['web-1', 'web-2', 'web-3']) expectOk(await runCli('attach', [pod, '--ifname', 'net1', '--conf', w.file, ...w.common]));
    const addrOf = async (pid: number) => (await sh(['nsenter', '-t', String(pid), '-n', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'net1'])).stdout;
    const web1Addr = (await addrOf(w.pids['web-1']!)).match(/inet (198\.18\.71\.\d+)\/24/)?.[1];
    expect(web1Addr).toBeDefined();
    // someone who may write ConfigMaps in kube-system edits web-1's record (web-1 is alive, its net1 attached)
    const cm = api.getConfigMap('kube-system', 'cni-attach-node-node-a')!;
    const key = `web-1-${lab.prefix}.6e657431`;
    const original = JSON.parse(cm.data![key]!) as Record<string, unknown>;
    api.deleteConfigMap('kube-system', cm.metadata.name);
    api.addConfigMap({ ...cm, data: { ...cm.data, [key]: JSON.stringify({ ...original, ...forged }) } });
    api.deletePod('shop', 'web-3');
    const removal = `kubectl patch configmap cni-attach-node-node-a -n kube-system --type merge -p '{"data":{"${key}":null}}' --kubeconfig ${api.kubeconfigPath}`;
    const note = `note: the record ${key} of ConfigMap kube-system/cni-attach-node-node-a does not match what node node-a holds, so it is not used for anything: node node-a holds net1 of container "${key.slice(0, -9)}" (network ${original.network as string}) ${why}; \`${removal}\` removes it`;
    const web1Stays = async () => {
      expect((await leases(w.ws.dataDir)).map((x) => x.containerId)).toContain(`web-1-${lab.prefix}`);
      expect((await nodeResults(w.ws.dir, 'node-a')).filter((n) => n.includes(`web-1-${lab.prefix}-`))).toHaveLength(1);
      expect(await addrOf(w.pids['web-1']!)).toContain(`inet ${web1Addr}/24`);
      expect(recordKeys()).toContain(key);
    };

    // cni-list -A from the laptop reads no node: the API's pods contradict the record (web-1 and web-2 were there before
    // its attach; web-1 carries its address), so it is mismatched with the patch that removes it, never pod gone with a
    // cni-gc hint; the gone pod's record is pod gone
    const l = await runCli('list', ['-o', 'json', ...w.listArgs]);
    expectOk(l);
    const items = (JSON.parse(l.stdout) as { items: { pod: string; containerId: string; state: string; clearCommand?: string }[] }).items;
    expect(items.filter((i) => i.containerId === `web-1-${lab.prefix}`)).toEqual([expect.objectContaining({ state: 'mismatched', clearCommand: removal })]);
    expect(items.filter((i) => i.state === 'pod gone').map((i) => i.pod)).toEqual(['web-3']);
    const table = await runCli('list', w.listArgs);
    expectOk(table);
    expect(table.stderr).toContain(`(mismatched): \`${removal}\` (\`kubectl cni-gc --kubeconfig ${api.kubeconfigPath}`);

    const dry = await runCli('gc', ['--dry-run', ...w.gcArgs]);
    expectOk(dry);
    expect(dry.stderr).toContain(note);
    expect(dry.stdout.split('\n').filter((l) => l.startsWith('would free'))).toEqual([expect.stringMatching(/^would free net1 of pod shop\/web-3 \(network \S+\): the pod is gone \(node node-a\), its sandbox still runs there/)]);
    expect(dry.stdout).toMatch(/^gc: would free 1 stale attachment, 1 alive, 1 kept \(their pods exist; node not read: node-b: --node reads it\)$/m);
    await web1Stays();
    expect(await leases(w.ws.dataDir)).toHaveLength(3);

    const j = await runCli('gc', ['--dry-run', '-o', 'json', ...w.gcArgs]);
    expectOk(j);
    const out = JSON.parse(j.stdout) as { freed: { target: string }[]; alive: number; records: { mismatched: { key: string; why: string; removeCommand: string }[] } };
    expect(out.freed.map((f) => f.target)).toEqual(['pod shop/web-3']);
    expect(out).toMatchObject({ alive: 1, keptUnread: 1, keptUnreadNodes: ['node-b'] });
    expect(out.records.mismatched).toEqual([expect.objectContaining({ key, removeCommand: removal, why: expect.stringContaining(why) })]);

    const g = await runCli('gc', w.gcArgs);
    expectOk(g);
    expect(g.stderr).toContain(note);
    expect(g.stdout.split('\n').filter((l) => l.startsWith('freed'))).toEqual([expect.stringMatching(/^freed net1 of pod shop\/web-3 \(network \S+\): the pod is gone \(node node-a\), its sandbox still runs there/)]);
    expect(g.stdout).toMatch(/^gc: freed 1 stale attachment, 1 alive, 1 kept \(their pods exist; node not read: node-b: --node reads it\)$/m);
    await web1Stays();
    // the gone pod's attachment went, in its sandbox's namespace (the interface with its lease)
    expect((await leases(w.ws.dataDir)).map((x) => x.containerId).sort()).toEqual([`web-1-${lab.prefix}`, `web-2-${lab.prefix}`]);
    expect((await sh(['nsenter', '-t', String(pid3), '-n', 'ip', 'link', 'show', 'net1'])).exitCode).not.toBe(0);

    // cni-detach of the pod the record names, when that pod is gone, reaches node-a through it: what runs there is
    // decided by node-a's entries (none is of that pod), so nothing does
    if (forged.pod === 'web-9') {
      const d = await runCli('detach', ['web-9', '--ifname', 'net1', ...w.common]);
      expectOk(d);
      expect(d.stderr).toContain('nothing is attached as net1 in pod shop/web-9');
      await web1Stays();
    }
    for (const pod of ['web-1', 'web-2']) expectOk(await runCli('detach', [pod, '--ifname', 'net1', ...w.common]));
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });

  it('cni-gc whose own agent pod fails: its error says so (exit 4), and the agent is not taken for a leftover of another command', async () => {
    const w = await world();
    expectOk(await runCli('attach', ['web-2', '--ifname', 'net1', '--conf', w.file, ...w.common]));
    api.deletePod('shop', 'web-2');
    const behaviour = api.podStartBehaviour;
    api.podStartBehaviour = (p) => (p.metadata.namespace === 'kube-system' ? 'fail' : 'run');
    try {
      const g = await runCli('gc', w.gcArgs);
      expect(g.exitCode, g.stderr).toBe(4);
      expect(g.stderr).toMatch(/could not free net1 of pod shop\/web-2: agent pod kube-system\/cni-attach-agent-\S+ on node node-b ended \(Failed\)/);
      expect(g.stderr).not.toMatch(/left behind by a cni-attach command that did not end normally/);
      // deleted all the same when the command ended, as every agent of a command is
      expect(api.listPods('kube-system')).toEqual([]);
    } finally {
      api.podStartBehaviour = behaviour;
    }
  });

  it('Ctrl-C during the sandbox look-up on the node (attach, detach, check): a stop, exit 130, nothing changed (it was "cannot reach the CRI runtime on node node-a (through agent pod …): sh -c (sandbox look-up) failed: @cni-attach-lookup-… tasks", exit 4)', async () => {
    const w = await world();
    // the look-up on node-a waits: its ctr (bind-mounted over in that node's mount namespace only) says it began,
    // sleeps, then runs the real one
    const started = join(w.ws.dir, 'lookup.started');
    const marker = uniqueSeconds(30);
    lab.defer('slow look-up', () => killAll(`^sleep ${marker.replace('.', '\\.')}$`));
    const realCtr = join(w.ws.dir, 'ctr.real');
    await copyFile('/usr/bin/ctr', realCtr);
    await writeFile(join(w.ws.dir, 'ctr.slow'), `#!/bin/sh\ntouch ${started}\nsleep ${marker}\nexec ${realCtr} "$@"\n`, { mode: 0o755 });
    await must(['nsenter', `--mount=${join(w.ws.dir, 'node-namespaces', 'node-a')}`, '--', 'mount', '--bind', join(w.ws.dir, 'ctr.slow'), '/usr/bin/ctr']);
    try {
      for (const [tool, extra] of [['attach', ['--conf', w.file]], ['detach', []], ['check', []]] as const) {
        await rm(started, { force: true });
        const run = spawnCli(tool, ['web-1', '--ifname', 'net1', ...extra, ...w.common]);
        expect(await waitFor(async () => existsSync(started), 20_000), `${tool}: the look-up began`).toBe(true);
        run.kill('SIGINT');
        const r = await run.done;
        expect(r.exitCode, `${tool}: ${r.stderr}`).toBe(130);
        // the look-up's own stop, or the command's closing line (cli/main.ts stopEnding), whichever ends first
        // one form either way: "<command> stopped by …" (before: the look-up's "stopped by …", the command unnamed)
        expect(r.stderr).toMatch(new RegExp(`^error: ${tool} stopped by SIGINT \\(Ctrl-C\\)( during the sandbox look-up on node node-a \\(through agent pod \\S+\\): nothing was changed|${tool === 'check' ? ': nothing was changed \\(CHECK changes nothing\\)' : ' before it changed anything: nothing was changed'})$`, 'm'));
        expect(r.stderr.split('\n').filter((l) => l.startsWith('error:')), r.stderr).toHaveLength(1);
        expect(r.stderr).not.toMatch(/cannot reach|internal error/);
        expect(r.stderr).toMatch(/^note: SIGINT: stopping what runs now(; the last line says what was changed and what was not|: CHECK changes nothing) \(send it again to quit at once\)$/m);
        await expect.poll(() => api.listPods('kube-system').length, { timeout: 5000 }).toBe(0);
      }
    } finally {
      await killAll(`^sleep ${marker.replace('.', '\\.')}$`);
    }
    expect(api.listConfigMaps('kube-system')).toEqual([]);
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });

  it('a second Ctrl-C during the rollback quits at once: it says what stays, still deletes the agent pod, and the attach stays visible (interrupted: its command is gone) with the command that clears it', async () => {
    const w = await world();
    const { conf, started, delStarted, pattern, cniPath } = await hangingChain(w, { del: true });
    // a plugin time limit of 3 s; the rollback's DELs have at least 60 s (cni/chain.ts rollbackTimeoutMs): what the quit
    // left running on the node (the slow DEL) may run that long, and its lock is free 60 s + the grace after
    const run = spawnCli('attach', ['web-1', '--ifname', 'net1', '--conf', conf, ...w.common.slice(0, -2), ...cniPath, '--timeout', '3s']);
    expect(await waitFor(async () => existsSync(started), 20_000), 'the chain reached its second plugin').toBe(true);
    run.kill('SIGINT');
    expect(await waitFor(async () => existsSync(delStarted), 20_000), 'the rollback reached the slow DEL').toBe(true);
    const t0 = Date.now();
    run.kill('SIGINT');
    const r = await run.done;
    expect(r.exitCode, r.stderr).toBe(130);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.stderr).toMatch(/^note: SIGINT again: quitting now; what was being changed stays as it is, recorded where it was \(cni-list shows it with the command that clears it\)$/m);
    // and until when its lock there may be held: that DEL's limit, 60 s plus the grace, from its renewal before the quit
    const last = /; on its node what the quit left running may hold its lock until (\S+) \(its time limit\): a cni-attach or cni-detach of it from this host may answer busy until then; from another host, which cannot see that this command is gone, `cni-detach --force` from then on$/.exec(r.stderr.trim().split('\n').at(-1)!);
    expect(last, r.stderr).not.toBeNull();
    expect(Date.parse(last![1]!) - t0).toBeGreaterThan(55_000);
    expect(Date.parse(last![1]!) - t0).toBeLessThanOrEqual(73_000);
    // the agent pod is deleted all the same: a running privileged pod is not left on the node
    await expect.poll(() => api.listPods('kube-system').length, { timeout: 5000 }).toBe(0);
    await killAll(pattern);
    // the attach is seen from the laptop, and the command printed clears it
    const l = await runCli('list', ['-o', 'json', ...w.listArgs, ...cniPath]);
    expectOk(l);
    const row = (JSON.parse(l.stdout) as { items: { pod: string; ifname: string; state: string; clearCommand: string }[] }).items.find((x) => x.pod === 'web-1' && x.ifname === 'net1')!;
    expect(row.state).toBe('unsettled');
    await fakePlugin(w.ws.pluginDir, 'hang', { add: 'exit 1' });
    expect(row.clearCommand).toMatch(/^kubectl cni-gc /);
    // pasted at once it leaves it (the DEL the quit left may still run there: its lock), saying so; then it frees it
    const pasted = row.clearCommand.split(' ').slice(2);
    const busy = (r: CliResult) => /busy \(left for a later run\)/.test(r.stdout);
    const first = await runCli('gc', pasted);
    expectOk(first);
    expect(first.stdout).toMatch(/, 1 busy \(left for a later run\)/);
    // the lock holds the rollback DEL's limit, not --timeout's (before: free 13 s after, while that DEL could run on)
    expect(Number(/its lock is free in (\d+)s/.exec(first.stderr)?.[1]), first.stderr).toBeGreaterThan(50);
    // that DEL was killed above (killAll): its limit passing is the lock's age on the node
    const locks = `${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/locks`;
    const old = new Date(Date.now() - 71_000);
    for (const f of await readdir(locks)) await utimes(join(locks, f), old, old);
    const freed = await untilFree('gc', pasted, { first, busy, ms: 30_000 });
    expectOk(freed);
    expect(freed.stdout).toMatch(/^freed net1 of pod shop\/web-1 /m);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(recordKeys()).toEqual([]);
  });

  it('attach -l quit by a second Ctrl-C during a pod\'s rollback on another node: the summary says until when its lock there may be held, and the next detach, busy meanwhile, is free by then (tryout 11, finding 2)', async () => {
    const w = await world();
    const { conf, started, delStarted, pattern, cniPath } = await hangingChain(w, { del: true });
    const one = ['--ifname', 'net1', ...w.common.slice(0, -2), ...cniPath];
    const run = spawnCli('attach', ['-l', 'app=web', ...one, '--parallel', '1', '--conf', conf, '--timeout', '3s']);
    expect(await waitFor(async () => existsSync(started), 20_000), 'the chain reached its second plugin').toBe(true);
    run.kill('SIGINT');
    expect(await waitFor(async () => existsSync(delStarted), 20_000), 'the rollback reached the slow DEL').toBe(true);
    const quitAt = Date.now();
    run.kill('SIGINT');
    const r = await run.done;
    await killAll(pattern);
    expect(r.exitCode, r.stderr).toBe(130);
    // the rollback's DELs have at least 60 s (cni/chain.ts rollbackTimeoutMs), plus the lock's 10 s grace
    const m = /^net1 attached to 0 of 2 pods; stopped by SIGINT \(Ctrl-C\), quit by a second SIGINT: 1 unknown \(shop\/(web-\d); `kubectl cni-list -n shop -l app=web [^`]* --node (node-\w)` tells; on node \2 what the quit left running may hold its lock until (\S+) \(its time limit\): a cni-attach or cni-detach of it from this host may answer busy until then; from another host, which cannot see that this command is gone, `cni-detach --force` from then on\), 1 not started \(shop\/web-\d\)$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const [, pod, , until] = m!;
    const bound = Date.parse(until!);
    // (the lock as renewed before that DEL: its 60 s, not --timeout's 3 s, plus the 10 s grace, from before the quit,
    // and the 2 s slack of a lock write in flight)
    expect(bound - quitAt).toBeGreaterThan(55_000);
    expect(bound - quitAt).toBeLessThanOrEqual(73_000);
    // the next detach of it answers busy, its lock free no later than the summary said (before: only cni-list was named)
    const d = await runCli('detach', [pod!, ...one]);
    expect(d.exitCode, d.stderr).toBe(1);
    const free = /the lock is free in \d+s \(at (\S+)\)/.exec(d.stderr);
    expect(free, d.stderr).not.toBeNull();
    expect(Date.parse(free![1]!)).toBeLessThanOrEqual(bound + 1000);
    // that DEL was killed above: its limit passing is the lock's age on the node; the detach then clears it
    const locks = `${nodeCacheDir(w.ws.dir, pod === 'web-1' ? 'node-a' : 'node-b')}/cni-attach/locks`;
    const old = new Date(Date.now() - 71_000);
    for (const f of await readdir(locks)) await utimes(join(locks, f), old, old);
    await fakePlugin(w.ws.pluginDir, 'hang', { add: 'exit 1' });
    expectOk(await untilFree('detach', [pod!, ...one]));
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(recordKeys()).toEqual([]);
  });

  it('a second Ctrl-C whose agent pod deletion does not finish in time says so, with the kubectl delete that finishes it', async () => {
    const w = await world();
    const { conf, started, pattern } = await hangingChain(w, { del: true });
    const run = spawnCli('attach', ['web-1', '--ifname', 'net1', '--conf', conf, ...w.common.slice(0, -2), '--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`, '--timeout', '3s']);
    expect(await waitFor(async () => existsSync(started), 20_000), 'the chain reached its second plugin').toBe(true);
    api.failNext({ method: 'DELETE', pathIncludes: '/pods/cni-attach-agent', times: 10 }, { hang: true });
    try {
      run.kill('SIGINT');
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      run.kill('SIGINT');
      const r = await run.done;
      expect(r.exitCode, r.stderr).toBe(130);
      expect(Date.now() - t0).toBeLessThan(5000);
      const agent = api.listPods('kube-system')[0]!.metadata.name;
      expect(r.stderr).toContain(`note: agent pod kube-system/${agent} may still run (its deletion did not finish): \`kubectl delete pod -n kube-system ${agent}\``);
    } finally {
      api.clearInterceptors();
      await killAll(pattern);
    }
    for (const p of api.listPods('kube-system')) api.deletePod('kube-system', p.metadata.name);
  });

  it('Ctrl-C while its agent starts (nothing changed on the node yet): exit 130, no record written (one is written only once the sandbox was found), the agent gone', async () => {
    const w = await world();
    const delay = api.podStartDelayMs;
    api.podStartDelayMs = 60_000; // the agent stays Pending
    try {
      api.clearRequests();
      const run = spawnCli('attach', ['web-1', '--ifname', 'net1', '--conf', w.file, ...w.common]);
      await expect.poll(() => api.listPods('kube-system').length, { timeout: 20_000 }).toBe(1);
      await new Promise((r) => setTimeout(r, 1000));
      expect(recordKeys()).toEqual([]);
      run.kill('SIGINT');
      const r = await run.done;
      expect(r.exitCode, r.stderr).toBe(130);
      expect(recordKeys()).toEqual([]);
      expect(api.listPods('kube-system')).toEqual([]);
    } finally {
      api.podStartDelayMs = delay;
    }
  });

  it('records: a successful attach leaves exactly one, attached (write-ahead, then one patch replacing it); a refused one leaves none', async () => {
    const w = await world();
    api.clearRequests();
    expectOk(await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', w.file, ...w.common]));
    const cmRequests = () => api.requests.filter((q) => q.path.startsWith('/api/v1/namespaces/kube-system/configmaps')).map((q) => `${q.method} ${q.path.replace('/api/v1/namespaces/kube-system/configmaps', '')}`);
    // the first attach on node-a: the write-ahead once the sandbox was found (its ConfigMap is not there yet:
    // created), then the attached record
    expect(cmRequests()).toEqual(['PATCH /cni-attach-node-node-a', 'POST ', 'PATCH /cni-attach-node-node-a']);
    const final = api.requests.filter((q) => q.method === 'PATCH' && q.path.endsWith('/cni-attach-node-node-a')).at(-1)!.body as { data: Record<string, string | null> };
    expect(Object.values(final.data).filter((v) => v === null)).toHaveLength(1); // the write-ahead's key, in the same patch
    const data = Object.entries(api.listConfigMaps('kube-system')[0]!.data ?? {});
    expect(data.map(([k]) => k)).toEqual([expect.stringMatching(new RegExp(`^web-1-${lab.prefix}\\.6e657431$`))]);
    const r = JSON.parse(data[0]![1]) as Record<string, unknown>;
    expect(r).toMatchObject({ pod: 'web-1', containerId: `web-1-${lab.prefix}`, addresses: [expect.stringMatching(/^198\.18\.71\.\d+\/24$/)] });
    expect(r.attaching).toBeUndefined();

    // refused: net1 is there already (a record blocks it), and a plugin that is not there: no record of either stays
    const other = await writeConf(w.ws.dir, 'other.json', bridgeConf({ name: lab.name('o'), bridge: lab.bridge(), subnet: '198.18.71.0/24', dataDir: w.ws.dataDir }));
    expect((await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', other, ...w.common])).exitCode).toBe(2);
    api.clearRequests();
    const missing = await runCli('attach', ['web-2', '--ifname', 'net1', '--conf', w.file, ...w.common, '--cni-path', '/opt/nothing']);
    expect(missing.exitCode, missing.stderr).toBe(2);
    // its write-ahead (once its sandbox was found, alongside the checks that refuse it) removed, node-b's ConfigMap was
    // empty: deleted
    expect(cmRequests()).toEqual(['PATCH /cni-attach-node-node-b', 'POST ', 'PATCH /cni-attach-node-node-b', 'DELETE /cni-attach-node-node-b']);
    expect(api.getConfigMap('kube-system', 'cni-attach-node-node-b')).toBeUndefined();
    const keys = recordKeys();
    expect(keys).toEqual([expect.stringMatching(new RegExp(`^web-1-${lab.prefix}\\.`))]);
    expectOk(await runCli('detach', ['web-1', '--ifname', 'net1', ...w.common]));
    expect(recordKeys()).toEqual([]);
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });

  it('an interrupted record (its rollback failed) is freed by cni-gc from the laptop once its pod is gone: lease and record', async () => {
    const w = await world();
    const { delFails, cniPath } = await interruptedAttach(w);
    const l = await runCli('list', ['-o', 'json', ...w.listArgs]);
    expect((JSON.parse(l.stdout) as { items: { pod: string; state: string }[] }).items.map((x) => [x.pod, x.state])).toEqual([['web-1', 'interrupted']]);
    expect(recordKeys()).toEqual([`web-1-${lab.prefix}.6e657431`]);

    await rm(delFails);
    api.deletePod('shop', 'web-1');
    const g = await runCli('gc', [...w.gcArgs.slice(0, -2), ...cniPath]);
    expectOk(g);
    expect(g.stdout).toMatch(/^freed net1 of pod shop\/web-1 \(network \S+\): the pod is gone \(node node-a\)/m);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(await readdir(`${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/intents`)).toEqual([]);
    expect(recordKeys()).toEqual([]);
  });

  it('an interrupted attach (its rollback failed) of a pod that lives is freed by cni-gc from the laptop on its node, from its intent: lease and record; never counted alive; a DEL that fails again is said, not alive', async () => {
    const w = await world();
    const { delFails, cniPath, net } = await interruptedAttach(w);
    expect(recordKeys()).toEqual([`web-1-${lab.prefix}.6e657431`]);

    // before: "gc: would free 0 stale attachments, 1 alive", exit 0 (node-a not visited; the record counted alive)
    const dry = await runCli('gc', [...w.gcArgs.slice(0, -2), ...cniPath, '--dry-run']);
    expectOk(dry);
    expect(dry.stdout).toBe(`would free net1 of pod shop/web-1 (network ${net}): an attach of it was interrupted (node node-a)\ngc: would free 1 stale attachment, 0 alive`);
    // its DEL fails again: said, with the reason; not alive; the lease, intent and record stay
    const failed = await runCli('gc', [...w.gcArgs.slice(0, -2), ...cniPath, '-o', 'json']);
    expect(failed.exitCode, failed.stderr).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({ alive: 0, freed: [], failed: [{ target: 'pod shop/web-1', ifname: 'net1', error: expect.stringMatching(/flaky DEL/) }] });
    expect(await leases(w.ws.dataDir)).toHaveLength(1);
    expect(recordKeys()).toEqual([`web-1-${lab.prefix}.6e657431`]);

    await rm(delFails);
    const g = await runCli('gc', [...w.gcArgs.slice(0, -2), ...cniPath]);
    expectOk(g);
    expect(g.stdout).toBe(`freed net1 of pod shop/web-1 (network ${net}): an attach of it was interrupted (node node-a)\ngc: freed 1 stale attachment, 0 alive`);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(await readdir(`${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/intents`)).toEqual([]);
    expect(recordKeys()).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
  });

  it('an attachment with no record (its record deleted by hand) is invisible from the laptop until cni-gc --node picks it up; cni-gc then frees it once its pod is gone', async () => {
    const w = await world();
    for (const pod of ['web-1', 'web-2']) expectOk(await runCli('attach', [pod, '--ifname', 'net1', '--conf', w.file, ...w.common]));
    // web-1's record is deleted by hand (as a refused record write leaves none; its node's entry names kube-system, so
    // gc records it there: an entry of a version before that, naming none, takes --record-legacy); node-b records one
    // attachment too many
    expect(api.deleteConfigMap('kube-system', 'cni-attach-node-node-a')).toBe(true);
    const b = api.getConfigMap('kube-system', 'cni-attach-node-node-b')!;
    const [realKey, realValue] = Object.entries(b.data!)[0]!;
    const ghost = { ...JSON.parse(realValue) as Record<string, unknown>, ifname: 'net9', containerId: `web-2-${lab.prefix}-old` };
    api.deleteConfigMap('kube-system', b.metadata.name);
    api.addConfigMap({ ...b, data: { [realKey]: realValue, [`web-2-${lab.prefix}-old.${Buffer.from('net9').toString('hex')}`]: JSON.stringify(ghost) } });
    const records = () => api.listConfigMaps('kube-system').flatMap((c) => Object.values(c.data ?? {}).map((v) => { const r = JSON.parse(v) as { node: string; pod: string; ifname: string }; return `${r.node}/${r.pod}/${r.ifname}`; })).sort();
    const listed = async () => (JSON.parse((await runCli('list', ['-o', 'json', ...w.listArgs])).stdout) as { items: { pod: string; ifname: string; node: string }[] }).items.map((x) => `${x.node}/${x.pod}/${x.ifname}`).sort();
    // the laptop sees only what is recorded
    expect(await listed()).toEqual(['node-b/web-2/net1', 'node-b/web-2/net9']);
    const posts = () => api.requests.filter((q) => q.method === 'POST' && q.path === '/api/v1/namespaces/kube-system/pods').map((q) => (q.body as { spec: { nodeName: string } }).spec.nodeName);

    // an unknown node: exit 3, nothing asked of any node, nothing changed
    api.clearRequests();
    const nosuch = await runCli('gc', ['--node', 'nosuch', ...w.gcArgs]);
    expect(nosuch.exitCode, nosuch.stderr).toBe(3);
    expect(nosuch.stderr).toBe('error: node "nosuch" not found: no pod is scheduled there and no attachment is recorded there (the nodes with pods or records: node-a, node-b); nothing was changed');
    expect(api.requests.filter((q) => q.method !== 'GET')).toEqual([]);
    expect(records()).toEqual(['node-b/web-2/net1', 'node-b/web-2/net9']);

    // --dry-run: says what it would record and forget, changes nothing
    api.clearRequests();
    const dry = await runCli('gc', ['--node', 'node-a,node-b', '--dry-run', ...w.gcArgs]);
    expectOk(dry);
    expect(dry.stdout.split('\n')).toEqual([
      expect.stringMatching(/^would record net1 of pod shop\/web-1 \(network \S+\) on node node-a: attached there without a record in namespace kube-system \(--agent-namespace\)$/),
      expect.stringMatching(/^would forget the record of net9 of pod shop\/web-2 \(network \S+\) on node node-b: the node holds nothing of it$/),
      'gc: would free 0 stale attachments, 2 alive, 1 record to add, 1 record to remove',
    ]);
    expect(records()).toEqual(['node-b/web-2/net1', 'node-b/web-2/net9']);
    expect(api.requests.filter((q) => q.method === 'PATCH' || (q.method === 'POST' && q.path.includes('configmaps')))).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);

    // --node node-a: its live attachment is recorded (nothing freed); only node-a is visited
    api.clearRequests();
    const g = await runCli('gc', ['--node', 'node-a', ...w.gcArgs]);
    expectOk(g);
    expect(g.stdout.split('\n')).toEqual([
      expect.stringMatching(/^recorded net1 of pod shop\/web-1 \(network \S+\) on node node-a: attached there without a record in namespace kube-system \(--agent-namespace\)$/),
      'gc: freed 0 stale attachments, 1 alive, 2 kept (their pods exist; node not read: node-b: --node reads it), 1 record added',
    ]);
    expect(posts()).toEqual(['node-a']);
    expect(api.listPods('kube-system')).toEqual([]);
    expect(await leases(w.ws.dataDir)).toHaveLength(2);
    expect(await listed()).toEqual(['node-a/web-1/net1', 'node-b/web-2/net1', 'node-b/web-2/net9']);
    // as attach records it: its pod's uid and its address
    const rec = JSON.parse(Object.values(api.getConfigMap('kube-system', 'cni-attach-node-node-a')!.data!)[0]!) as { uid: string; addresses: string[] };
    expect(rec).toMatchObject({ uid: 'uid-web-1', addresses: [expect.stringMatching(/^198\.18\.71\.\d+\/24$/)] });

    // --node node-b: the record of nothing goes
    expectOk(await runCli('gc', ['--node', 'node-b', ...w.gcArgs]));
    expect(records()).toEqual(['node-a/web-1/net1', 'node-b/web-2/net1']);

    // web-1 is deleted: now that it is recorded, a plain cni-gc from the laptop frees it on node-a (its lease goes)
    api.deletePod('shop', 'web-1');
    api.clearRequests();
    const freed = await runCli('gc', w.gcArgs);
    expectOk(freed);
    expect(freed.stdout).toMatch(/^freed net1 of pod shop\/web-1 \(network \S+\): the pod is gone \(node node-a\), its sandbox still runs there: DEL in its namespace, the interface goes too$/m);
    expect(freed.stdout).toMatch(/^gc: freed 1 stale attachment, 0 alive, 1 kept \(their pods exist; node not read: node-b: --node reads it\)$/m);
    expect(posts()).toEqual(['node-a']);
    expect((await leases(w.ws.dataDir)).map((x) => x.containerId)).toEqual([`web-2-${lab.prefix}`]);
    expect(await nodeResults(w.ws.dir, 'node-a')).toEqual([]);
    expect(records()).toEqual(['node-b/web-2/net1']);

    expectOk(await runCli('detach', ['web-2', '--ifname', 'net1', ...w.common]));
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
  });

  it('cni-gc --node with another --agent-namespace does not copy into it an attachment recorded in kube-system (issue 12: the copy said attached after the next detach); a detach with that namespace removes the record where the node\'s entry says it is, and says so', async () => {
    const w = await world();
    expectOk(await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', w.file, ...w.common]));
    const records = (ns: string) => api.listConfigMaps(ns).flatMap((c) => Object.values(c.data ?? {}).map((v) => { const r = JSON.parse(v) as { node: string; pod: string; ifname: string }; return `${r.node}/${r.pod}/${r.ifname}`; })).sort();
    expect(records('kube-system')).toEqual(['node-a/web-1/net1']);
    // the node's entry names the namespace its attach records it in
    const [entry] = await nodeResults(w.ws.dir, 'node-a');
    expect(JSON.parse(await readFile(`${nodeCacheDir(w.ws.dir, 'node-a')}/results/${entry!}`, 'utf8'))).toMatchObject({ kind: 'cniCacheV1', ifName: 'net1', cniAttachRecordsNamespace: 'kube-system' });

    api.clearRequests();
    const g = await runCli('gc', ['--node', 'node-a', '--agent-namespace', 'other', ...w.gcArgs]);
    expectOk(g);
    expect(g.stdout).toBe('gc: freed 0 stale attachments, 1 alive');
    expect(g.stderr).toMatch(/^note: not recorded in namespace other \(--agent-namespace\): net1 of pod shop\/web-1 \(network \S+\) on node node-a, held there without a record in it: its attach records it in namespace kube-system \(its entry on the node says so\): a record in other would be a copy, still saying attached once a detach with --agent-namespace kube-system removed the one there; `kubectl cni-gc .*--node node-a` reconciles it there$/m);
    expect(records('other')).toEqual([]);
    expect(api.requests.filter((q) => q.path.includes('/namespaces/other/configmaps') && q.method !== 'GET')).toEqual([]);
    expect(api.listPods('other')).toEqual([]);

    // its dry run says so (before: only the DEL's runs), and changes nothing
    const dry = await runCli('detach', ['web-1', '--ifname', 'net1', '--agent-namespace', 'other', '--dry-run', ...w.common]);
    expectOk(dry);
    expect(dry.stderr).toMatch(/^note: would remove the record of net1 of pod shop\/web-1 in namespace kube-system too \(its attach recorded it there, not in other: its entry on node node-a says so\)$/m);
    expect(records('kube-system')).toEqual(['node-a/web-1/net1']);
    // with the namespace it is in: nothing more to say
    const dryHere = await runCli('detach', ['web-1', '--ifname', 'net1', '--dry-run', ...w.common]);
    expectOk(dryHere);
    expect(dryHere.stderr).not.toMatch(/would remove the record/);
    // a detach with that namespace: the attachment goes, and its record with it from kube-system, where the node's
    // entry says it is (before: a note naming the detach that removes it, the record left saying attached)
    const d = await runCli('detach', ['web-1', '--ifname', 'net1', '--agent-namespace', 'other', ...w.common]);
    expectOk(d);
    expect(d.stderr).toMatch(/^note: removed the record of net1 of pod shop\/web-1 in namespace kube-system too \(its attach recorded it there, not in other: its entry on node node-a said so\)$/m);
    expect(d.stderr).not.toMatch(/records nothing of/);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect([...records('kube-system'), ...records('other')]).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
  });

  it('a detach whose attach recorded it in another agent namespace, that record deleted by hand meanwhile: the dry run and the detach say there is none there either, not that they remove it (tryout 12, finding 5)', async () => {
    const w = await world();
    expectOk(await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', w.file, '--agent-namespace', 'other', ...w.common]));
    api.deleteConfigMap('other', 'cni-attach-node-node-a');
    const none = /^note: no record of net1 of pod shop\/web-1 is in namespace other either, where its entry on node node-a says its attach recorded it \(removed already\): nothing to remove there$/m;
    const dry = await runCli('detach', ['web-1', '--ifname', 'net1', '--dry-run', ...w.common]);
    expectOk(dry);
    expect(dry.stderr).toMatch(none);
    expect(dry.stderr).not.toMatch(/would remove the record/);
    const d = await runCli('detach', ['web-1', '--ifname', 'net1', ...w.common]);
    expectOk(d);
    expect(d.stderr).toMatch(none);
    // before: "note: removed the record of net1 of pod shop/web-1 in namespace other too (…)"
    expect(d.stderr).not.toMatch(/removed the record/);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect([...api.listConfigMaps('other'), ...api.listConfigMaps('kube-system')]).toEqual([]);
  });

  it('tryout 9, F1 and F2: an attach with --agent-namespace other detached with the default, its pod deleted: the cni-gc cni-list -A --agent-namespace other names says it forgets that record, frees what the pod held of kube-system with its record there, and copies nothing', async () => {
    const w = await world();
    const records = (ns: string) => api.listConfigMaps(ns).flatMap((c) => Object.values(c.data ?? {}).map((v) => { const r = JSON.parse(v) as { node: string; pod: string; ifname: string }; return `${r.node}/${r.pod}/${r.ifname}`; })).sort();
    expectOk(await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', w.file, '--agent-namespace', 'other', ...w.common]));
    expectOk(await runCli('attach', ['web-1', '--ifname', 'net2', '--conf', w.file, ...w.common]));
    // the detach with the default namespace removes the record in other too (its entry says it is there); the record
    // an earlier version's detach left there instead is put back, for what follows
    const left = structuredClone(api.getConfigMap('other', 'cni-attach-node-node-a')!);
    const d = await runCli('detach', ['web-1', '--ifname', 'net1', ...w.common]);
    expectOk(d);
    expect(d.stderr).toMatch(/^note: removed the record of net1 of pod shop\/web-1 in namespace other too /m);
    expect([records('other'), records('kube-system')]).toEqual([[], ['node-a/web-1/net2']]);
    api.addConfigMap(left);
    expect([records('other'), records('kube-system')]).toEqual([['node-a/web-1/net1'], ['node-a/web-1/net2']]);
    api.deletePod('shop', 'web-1');

    const l = await runCli('list', ['--agent-namespace', 'other', ...w.listArgs]);
    expectOk(l);
    const gc = /^note: to clear the record in state pod gone: `kubectl cni-gc ([^`]*)`$/m.exec(l.stderr);
    expect(gc, l.stderr).not.toBeNull();
    const dry = await runCli('gc', [...gc![1]!.split(' '), '--dry-run']);
    expectOk(dry);
    expect(dry.stdout.split('\n')).toEqual([
      expect.stringMatching(/^would free net2 of pod shop\/web-1 \(network \S+\): the pod is gone \(node node-a\), its sandbox still runs there: DEL in its namespace, the interface goes too$/),
      expect.stringMatching(/^would forget the record of net1 of pod shop\/web-1 \(network \S+\) on node node-a: its pod is gone, and node node-a holds nothing of it \(no result, no intent\): nothing left to free there$/),
      expect.stringMatching(/^would forget the record of net2 of pod shop\/web-1 \(network \S+\) on node node-a in namespace kube-system: this gc would free it: its entry on the node said its attach records it in namespace kube-system \(not other, this gc's --agent-namespace\); left there, it would name an attachment that is gone$/),
      'gc: would free 1 stale attachment, 0 alive, 2 records to remove',
    ]);
    expect([records('other'), records('kube-system')]).toEqual([['node-a/web-1/net1'], ['node-a/web-1/net2']]);

    // the command the note names, as given (before: the net1 record went without a word, and kube-system's net2 record stayed)
    api.clearRequests();
    const g = await runCli('gc', gc![1]!.split(' '));
    expectOk(g);
    expect(g.stdout.split('\n')).toEqual([
      expect.stringMatching(/^freed net2 of pod shop\/web-1 /),
      expect.stringMatching(/^forgot the record of net1 of pod shop\/web-1 .* on node node-a: its pod is gone, and node node-a holds nothing of it/),
      expect.stringMatching(/^forgot the record of net2 of pod shop\/web-1 .* on node node-a in namespace kube-system: freed by this gc: /),
      'gc: freed 1 stale attachment, 0 alive, 2 records removed',
    ]);
    expect([records('other'), records('kube-system')]).toEqual([[], []]);
    expect(api.requests.filter((q) => q.method === 'PATCH' && q.path.includes('/configmaps/')).map((q) => q.path)).toEqual([
      '/api/v1/namespaces/other/configmaps/cni-attach-node-node-a',
      '/api/v1/namespaces/kube-system/configmaps/cni-attach-node-node-a',
    ]);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(await nodeResults(w.ws.dir, 'node-a')).toEqual([]);
    expect([api.listPods('other'), api.listPods('kube-system')]).toEqual([[], []]);
  });

  it('from the laptop: a pod whose sandbox is missing on its node is not found by the agent there, and the message names only that; --runtime docker, cri or kind for a pod on another node names the node and the ways there (exit 4: those runtimes are not on the laptop, so could not be asked)', async () => {
    const w = await world();
    api.addPod(makePod({ name: 'nosb', namespace: 'shop', uid: 'uid-nosb', nodeName: 'node-b', containerRuntime: 'containerd' }));
    // --runtime auto with no Docker here (--docker-host goes with auto, docker and kind: not with cri)
    const auto = [...w.common.filter((a, i, all) => a !== '--runtime' && all[i - 1] !== '--runtime'), '--docker-host', 'unix:///nonexistent/docker.sock'];
    const r = await runCli('attach', ['nosb', '--ifname', 'net1', '--conf', w.file, ...auto]);
    expect(r.exitCode, r.stderr).toBe(3);
    // before: "… found in Docker at unix:///nonexistent/docker.sock, node containers in Docker at …, crictl/ctr on this host, agent pods in kube-system (…)"
    expect(r.stderr).toMatch(/^error: no running sandbox of pod shop\/nosb \(uid uid-nosb, node node-b\) found by crictl\/ctr on node node-b \(through an agent pod in kube-system\)$/m);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('error:')).join('')).not.toMatch(/Docker|this host/);
    for (const runtime of ['docker', 'cri', 'kind']) {
      for (const [tool, extra] of [['attach', ['--conf', w.file]], ['detach', []]] as const) {
        // (no --agent-image with these runtimes, nor --docker-host with cri: they would have no effect, refused)
        const without = (flags: string[]) => auto.filter((a, i) => !flags.includes(a) && !flags.includes(auto[i - 1]!));
        const x = await runCli(tool, ['web-1', '--ifname', 'net1', ...extra, ...without(runtime === 'cri' ? ['--agent-image', '--docker-host'] : ['--agent-image']), '--runtime', runtime]);
        expect(x.exitCode, `${runtime} ${tool}: ${x.stderr}`).toBe(4);
        expect(x.stderr).toMatch(new RegExp(`^error: pod shop/web-1 runs on node node-a, not on this host \\(\\S+\\), and was looked for only here, with --runtime ${runtime} \\(.*\\), which could not be asked: .*; run the command on node-a, or leave --runtime at auto \\(the default\\), which reaches it there through an agent pod, or choose the agent yourself \\(--runtime agent\\)$`));
      }
    }
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
  });

  it('a user who is not root, with a cache directory of root\'s that only root may write (podman/CNI make /var/lib/cni): cni-list -A and cni-gc work; one of another user\'s, or one group may write, is refused saying the rule (exit 2)', async () => {
    const w = await world();
    for (const pod of ['web-1', 'web-2']) expectOk(await runCli('attach', [pod, '--ifname', 'net1', '--conf', w.file, ...w.common]));
    api.deletePod('shop', 'web-2');
    // the laptop's cache: root's, 0755 (the default umask's), and the way to it open to others; a kubeconfig they may read
    await chmod(w.ws.dir, 0o755);
    await chmod(w.laptopCache, 0o755);
    expect((await stat(w.laptopCache)).uid).toBe(0);
    const kubeconfig = join(w.ws.dir, 'kubeconfig');
    await copyFile(api.kubeconfigPath, kubeconfig);
    await chmod(kubeconfig, 0o644);
    const asNobody = async (tool: 'list' | 'gc' | 'check', args: string[]) =>
      (await spawnCli(tool, args.map((a) => (a === api.kubeconfigPath ? kubeconfig : a)), {}, ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups']).done);
    // before: "refusing the CNI cache …: it belongs to uid 0, not to uid 65534; use a directory only its owner (root) may write", exit 2
    const l = await asNobody('list', ['-o', 'json', ...w.listArgs]);
    expectOk(l);
    expect((JSON.parse(l.stdout) as { items: { pod: string; state: string }[] }).items.map((x) => `${x.pod} ${x.state}`)).toEqual(['web-1 attached', 'web-2 pod gone']);
    const g = await asNobody('gc', w.gcArgs);
    expectOk(g);
    expect(g.stdout).toMatch(/^gc: freed 1 stale attachment, 0 alive, 1 kept \(their pods exist; node not read: node-a: --node reads it\)$/m);
    expect((await leases(w.ws.dataDir)).map((x) => x.containerId)).toEqual([`web-1-${lab.prefix}`]);
    // still refused: a directory of another user (not root, not this one), and one group or others may write
    await chown(w.laptopCache, 1000, 1000);
    const other = await asNobody('list', w.listArgs);
    expect(other.exitCode, other.stderr).toBe(2);
    expect(other.stderr).toBe(`error: refusing the CNI cache ${w.laptopCache}: it belongs to uid 1000, neither to root nor to uid 65534 (this user); use a directory owned by root or by this user that group and others may not write (--cache-dir)`);
    await chown(w.laptopCache, 0, 0);
    await chmod(w.laptopCache, 0o775);
    const group = await asNobody('gc', w.gcArgs);
    expect(group.exitCode, group.stderr).toBe(2);
    expect(group.stderr).toMatch(/^error: refusing the CNI cache \S+: group or others may write it \(mode 0775\); use a directory owned by root or by this user/);
    await chmod(w.laptopCache, 0o755);
    // a results directory as libcni makes it (0700 root; podman's entries in it): this host's cache is not included,
    // said once; the cluster's records still are (before: "cannot use the CNI cache … EACCES", exit 2)
    const podman = JSON.stringify({ kind: 'cniCacheV1', containerId: '0123456789abcdef', config: '', ifName: 'eth0', networkName: 'podman', cniArgs: [] });
    await mkdir(join(w.laptopCache, 'results'), { mode: 0o700 });
    await writeFile(join(w.laptopCache, 'results', 'podman-0123456789abcdef-eth0'), podman, { mode: 0o600 });
    for (const [mode, said] of [[0o700, /^note: this host's CNI cache \S+ cannot be read by this user \(EACCES\): its attachments are not included; run as root to include them$/m], [0o755, /^note: 1 entry of this host's CNI cache \S+ cannot be read by this user \(results\/podman-0123456789abcdef-eth0\): not included; run as root to include them$/m]] as const) {
      await chmod(join(w.laptopCache, 'results'), mode);
      const listed = await asNobody('list', ['-o', 'json', ...w.listArgs]);
      expectOk(listed);
      expect(listed.stderr).toMatch(said);
      expect((JSON.parse(listed.stdout) as { items: { pod: string; state: string }[] }).items.map((x) => `${x.pod} ${x.state}`)).toEqual(['web-1 attached']);
      const dry = await asNobody('gc', [...w.gcArgs, '--dry-run']);
      expectOk(dry);
      expect(dry.stderr).toMatch(said);
      expect(dry.stdout).toMatch(/^gc: would free 0 stale attachments, 0 alive, 1 kept \(their pods exist; node not read: node-a: --node reads it\)$/m);
    }
    // with cni-attach/locks 0700 too (root's attaches make it so): what cannot be read is a note, the cluster's rows
    // still listed (before: "error: cannot use the CNI cache … (reading locks: EACCES, permission denied); see
    // --cache-dir", exit 2, no rows at all); gc --dry-run, gc and cni-check likewise
    await chmod(join(w.laptopCache, 'results'), 0o755);
    await mkdir(join(w.laptopCache, 'cni-attach', 'locks'), { recursive: true, mode: 0o700 });
    await chmod(join(w.laptopCache, 'cni-attach'), 0o755);
    await chmod(join(w.laptopCache, 'cni-attach', 'locks'), 0o700);
    const locksNote = /^note: the locks of this host's CNI cache \S+ cannot be read by this user \(EACCES\): not included; run as root to include them$/m;
    const listed = await asNobody('list', ['-o', 'json', ...w.listArgs]);
    expectOk(listed);
    expect(listed.stderr).toMatch(locksNote);
    expect((JSON.parse(listed.stdout) as { items: { pod: string; state: string }[] }).items.map((x) => `${x.pod} ${x.state}`)).toEqual(['web-1 attached']);
    for (const dry of [['--dry-run'], []]) {
      const g = await asNobody('gc', [...w.gcArgs, ...dry]);
      expectOk(g);
      expect(g.stdout).toMatch(/^gc: (would free|freed) 0 stale attachments, 0 alive, 1 kept \(their pods exist; node not read: node-a: --node reads it\)$/m);
      if (!dry.length) expect(g.stderr).toMatch(locksNote);
    }
    const checked = await asNobody('check', ['web-1', '--ifname', 'net1', ...w.common]);
    expectOk(checked);
    expect(checked.stdout).toMatch(/CHECK ok/);
    await rm(join(w.laptopCache, 'results'), { recursive: true });
    await rm(join(w.laptopCache, 'cni-attach'), { recursive: true });
    expectOk(await runCli('detach', ['web-1', '--ifname', 'net1', ...w.common]));
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });

  it('deploy/rbac.yaml lets every request of attach, list, gc and detach from the laptop through, and all of it is used', async () => {
    const w = await world();
    api.clearRequests();
    expectOk(await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', w.file, ...w.common]));
    expectOk(await runCli('list', w.listArgs));
    api.deletePod('shop', 'web-1');
    expectOk(await runCli('gc', w.gcArgs));
    const grants = shippedRbac();
    const accesses = api.requests.map((q) => accessOf(q.method, q.path)).filter((a) => a !== undefined);
    for (const a of accesses) expect(allowed(grants, a), JSON.stringify(a)).toBe(true);
    const used = new Set(accesses.map((a) => `${a.group}/${a.resource}/${a.verb}`));
    for (const need of ['/configmaps/list', '/configmaps/create', '/configmaps/patch', '/configmaps/delete']) expect(used, need).toContain(need);
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });
});

/** Kill a pod's sandbox task on its node (as a crash would), and wait until containerd no longer calls it running. */
async function killSandbox(pod: string): Promise<void> {
  const id = `${pod}-${lab.prefix}`;
  await ctr(cd!, ['tasks', 'kill', '-s', 'KILL', id]);
  const task = async () => String((await ctr(cd!, ['tasks', 'list'])).stdout).split('\n').find((l) => l.startsWith(`${id} `));
  expect(await waitFor(async () => !/RUNNING/.test((await task()) ?? ''))).toBe(true);
}

const net1In = async (pid: number) => (await sh(['nsenter', '-t', String(pid), '-n', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'net1'])).stdout;
const STATUS = 'k8s.v1.cni.cncf.io/network-status';

/**
 * The sandbox's truth when the Pod object and the sandbox disagree: a pod deleted while its sandbox still runs
 * (force-deleted on a partitioned node, a grace period) — cni-check and cni-detach (one pod, its dry run) look the
 * recorded sandbox up on its node, as cni-gc does, and CHECK / DEL in its network namespace, so the interface goes with
 * its lease and no address in use is freed; once that sandbox is gone too, check says so naming the node, and detach
 * DELs without a namespace. A live pod whose sandbox died (its kubelet would give it a new one): check says so naming
 * the node, with the cni-detach that frees it; cni-gc --node judges it by the same rule and frees it.
 */
describe('the sandbox decides when the Pod object and the sandbox disagree', () => {
  it('a pod deleted while its sandbox runs: check and detach (and its dry run) use its namespace on its node, so the interface goes with its lease; once the sandbox is gone too, check names the node and detach frees the lease without a namespace', async () => {
    const w = await world();
    expectOk(await runCli('attach', ['web-1', '--ifname', 'net1', '--conf', w.file, ...w.common]));
    expect(await net1In(w.pids['web-1']!)).toMatch(/inet 198\.18\.71\.\d+\/24/);
    // force-deleted on its node's back: the Pod object is gone, its sandbox still runs on node-a
    api.deletePod('shop', 'web-1');

    // before: "# target: … netns=(none)" and CNI_NETNS='' — a DEL that frees the lease of an address still in use
    const plan = await runCli('detach', ['web-1', '--ifname', 'net1', '--dry-run', ...w.common]);
    expectOk(plan);
    const netns = `/proc/${w.pids['web-1']}/ns/net`;
    expect(plan.stdout).toMatch(new RegExp(`^# target: pod=shop/web-1 node=node-a netns=${netns.replaceAll('/', '\\/')}$`, 'm'));
    expect(plan.stdout).toContain(`CNI_NETNS=${netns}`);
    expect(plan.stderr).toMatch(/^note: pod shop\/web-1 no longer exists: using what the cache of node node-a \(its record in the cluster names it\) recorded for it/m);
    expect(plan.stderr).toMatch(/^note: the sandbox \S+ of pod shop\/web-1 still runs on node node-a: DEL runs in its network namespace, so the interface goes with its lease$/m);

    // before: "pod shop/web-1 has no running sandbox on this node: nothing to CHECK" (exit 3)
    const check = await runCli('check', ['web-1', '--ifname', 'net1', ...w.common]);
    expectOk(check);
    expect(check.stdout).toMatch(/^net1 in pod shop\/web-1 \(network \S+\): CHECK ok$/m);

    const d = await runCli('detach', ['web-1', '--ifname', 'net1', ...w.common]);
    expectOk(d);
    expect(d.stdout).toMatch(/^net1 detached from pod shop\/web-1 \(network \S+\)$/m);
    // the interface went with its lease: no address left in use whose lease is free (before: net1 stayed, UP, .2)
    expect(await net1In(w.pids['web-1']!)).toBe('');
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(await nodeResults(w.ws.dir, 'node-a')).toEqual([]);
    expect(recordKeys()).toEqual([]);

    // web-2: its sandbox died, then its Pod object went
    expectOk(await runCli('attach', ['web-2', '--ifname', 'net1', '--conf', w.file, ...w.common]));
    await killSandbox('web-2');
    api.deletePod('shop', 'web-2');
    const gone = await runCli('check', ['web-2', '--ifname', 'net1', ...w.common]);
    expect(gone.exitCode, gone.stderr).toBe(3);
    expect(gone.stderr).toMatch(/^error: pod shop\/web-2 no longer exists, and the sandbox \S+ its net1 went into no longer runs on node node-b: nothing to CHECK;/m);
    expect(gone.stderr).not.toContain('this node');
    const plan2 = await runCli('detach', ['web-2', '--ifname', 'net1', '--dry-run', ...w.common]);
    expectOk(plan2);
    expect(plan2.stdout).toMatch(/^# target: pod=shop\/web-2 node=node-b netns=\(none\)$/m);
    expect(plan2.stdout).toContain("CNI_NETNS=''");
    expectOk(await runCli('detach', ['web-2', '--ifname', 'net1', ...w.common]));
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(recordKeys()).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
  });

  it('a live pod whose sandbox died: check names the node and the cni-detach that frees it; cni-gc --node judges it by the same rule and frees it, its record and network-status entry too', async () => {
    const w = await world();
    for (const pod of ['web-1', 'web-2']) expectOk(await runCli('attach', [pod, '--ifname', 'net1', '--conf', w.file, ...w.common]));
    await killSandbox('web-2');
    const statusHas = () => (JSON.parse(api.getPod('shop', 'web-2')!.metadata.annotations?.[STATUS] ?? '[]') as { interface?: string }[]).some((e) => e.interface === 'net1');
    expect(statusHas()).toBe(true);

    // before: "has no running sandbox on this node: nothing to CHECK"
    const check = await runCli('check', ['web-2', '--ifname', 'net1', ...w.common]);
    expect(check.exitCode, check.stderr).toBe(3);
    expect(check.stderr).toMatch(/^error: pod shop\/web-2 has no running sandbox on node node-b: nothing to CHECK; what the cache holds of net1 for it was attached to a sandbox that is gone \(its interface went with it, its IPAM lease is still held\): `kubectl cni-detach web-2 -n shop --ifname net1 .*` frees it$/m);
    expect(check.stderr).not.toContain('this node');

    // cni-list -A judges other nodes' rows by the API alone (it starts no agent): attached; --node node-b looks there
    const states = (r: { stdout: string }) => (JSON.parse(r.stdout) as { items: { pod: string; state: string; clearCommand?: string }[] }).items.map((x) => [x.pod, x.state, x.clearCommand]);
    const plain = await runCli('list', ['-o', 'json', ...w.listArgs]);
    expectOk(plain);
    expect(states(plain)).toEqual([['web-1', 'attached', undefined], ['web-2', 'attached', undefined]]);
    const judged = await runCli('list', ['--node', 'node-b', ...w.listArgs]);
    expectOk(judged);
    expect(judged.stdout).toMatch(/^shop\s+web-2\s+net1\s+\S+\s+198\.18\.71\.\d+\/24\s+sandbox gone\s+yes\s+\S+\s+sandbox not running$/m);
    // --node lists that node's rows only (web-1 is on node-a; before, every row was listed)
    expect(judged.stdout).not.toMatch(/web-1/);
    expect(judged.stderr).toMatch(/^note: to clear the record in state sandbox gone: `kubectl cni-gc --kubeconfig \S+ --runtime agent .* --node node-b`$/m);
    expect(states(await runCli('list', ['-o', 'json', '--node', 'node-b,node-a', ...w.listArgs]))).toEqual([
      ['web-1', 'attached', undefined],
      ['web-2', 'sandbox gone', expect.stringMatching(/^kubectl cni-gc .* --node node-b$/)],
    ]);
    expect(api.listPods('kube-system')).toEqual([]);
    // before: "gc: would free 0 stale attachments, 2 alive"
    const dry = await runCli('gc', ['--node', 'node-b', '--dry-run', ...w.gcArgs]);
    expectOk(dry);
    expect(dry.stdout.split('\n').filter((l) => l.startsWith('would free'))).toEqual([expect.stringMatching(/^would free net1 of pod shop\/web-2 \(network \S+\): the pod's sandbox is gone \(node node-b\)$/)]);
    expect(dry.stdout).toMatch(/^gc: would free 1 stale attachment, 0 alive, 1 kept \(their pods exist; node not read: node-a: --node reads it\)$/m);
    expect(await leases(w.ws.dataDir)).toHaveLength(2);
    expect(recordKeys()).toHaveLength(2);

    const g = await runCli('gc', ['--node', 'node-b', ...w.gcArgs]);
    expectOk(g);
    expect(g.stdout).toMatch(/^freed net1 of pod shop\/web-2 \(network \S+\): the pod's sandbox is gone \(node node-b\)$/m);
    expect(g.stdout).toMatch(/^gc: freed 1 stale attachment, 0 alive, 1 kept \(their pods exist; node not read: node-a: --node reads it\)$/m);
    expect((await leases(w.ws.dataDir)).map((x) => x.containerId)).toEqual([`web-1-${lab.prefix}`]);
    expect(await nodeResults(w.ws.dir, 'node-b')).toEqual([]);
    expect(recordKeys()).toHaveLength(1);
    expect(statusHas()).toBe(false);
    // web-1 is untouched: its sandbox runs, its interface is there
    expect(await must(['nsenter', '-t', String(w.pids['web-1']), '-n', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'net1'])).toMatch(/inet 198\.18\.71\.\d+\/24/);
    const again = await runCli('gc', ['--node', 'node-a,node-b', ...w.gcArgs]);
    expectOk(again);
    expect(again.stdout).toMatch(/^gc: freed 0 stale attachments, 1 alive$/m);
    expectOk(await runCli('detach', ['web-1', '--ifname', 'net1', ...w.common]));
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
  });

  it("cni-list --node judges a live pod's interface as cni-gc --node does: one deleted inside its sandbox is `interface gone` with the cni-detach that frees its lease; --node lists that node's rows only; a node of no pod and no record is not found (exit 3) for both; an attachment missing from its pod's network-status says so and what writes it", async () => {
    const w = await world();
    for (const pod of ['web-1', 'web-2']) expectOk(await runCli('attach', [pod, '--ifname', 'net1', '--conf', w.file, ...w.common]));
    // an `ip link del` by hand: the link gone from the sandbox, its lease still held, no DEL of ours under way
    await must(['nsenter', '-t', String(w.pids['web-1']), '-n', 'ip', 'link', 'del', 'net1']);
    const table = await runCli('list', ['--node', 'node-a', ...w.listArgs]);
    expectOk(table);
    // before: "attached … <none>", exit 0, and web-2 (node-b) listed too
    expect(table.stdout.split('\n').filter(Boolean).slice(1)).toEqual([expect.stringMatching(/^shop\s+web-1\s+net1\s+\S+\s+198\.18\.71\.\d+\/24\s+interface gone\s+yes\s+\S+\s+link deleted, lease still held$/)]);
    expect(table.stderr).toMatch(/^note: to clear web-1 net1 \(interface gone\): `kubectl cni-detach web-1 -n shop --ifname net1 --kubeconfig \S+ --runtime agent .*`$/m);
    const json = JSON.parse((await runCli('list', ['-o', 'json', '--node', 'node-a,node-b', ...w.listArgs])).stdout) as { items: { pod: string; state: string; reason?: string }[] };
    expect(json.items.map((x) => [x.pod, x.state])).toEqual([['web-1', 'interface gone'], ['web-2', 'attached']]);
    // the same judgement and words as gc's: no mark of a DEL of ours on the node (a stopped one is `detach stopped`)
    const why = `net1 is not in the network namespace of sandbox ${`web-1-${lab.prefix}`.slice(0, 12)} on node node-a any more: deleted outside cni-attach (no DEL of ours was under way); its IPAM lease is still held: cni-detach frees it`;
    expect(json.items[0]!.reason).toBe(why);
    const dry = await runCli('gc', ['--node', 'node-a', '--dry-run', ...w.gcArgs]);
    expectOk(dry);
    expect(dry.stderr).toContain(`is not counted alive: ${why}; run`);

    // a node no pod is scheduled on and no record names: not found, exit 3, for both (before: cni-list a note, exit 0)
    for (const tool of ['list', 'gc'] as const) {
      const r = await runCli(tool, ['--node', 'nosuch', ...(tool === 'list' ? w.listArgs : w.gcArgs)]);
      expect(r.exitCode, `${tool}: ${r.stderr}`).toBe(3);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^error: node "nosuch" not found: no pod is scheduled there and no attachment is recorded there \(the nodes with pods or records: node-a, node-b\)/m);
    }

    // web-2 attached but its network-status never written (its attach killed between its result and that write): its
    // row says so and names what writes it (before: attached, ANNOTATED no, REASON <none>, no note); that attach again does
    api.updatePod('shop', 'web-2', (p) => {
      p.metadata.annotations = { ...p.metadata.annotations, [STATUS]: '[]' };
    });
    const unannotated = await runCli('list', ['--node', 'node-b', ...w.listArgs]);
    expectOk(unannotated);
    expect(unannotated.stdout).toMatch(/^shop\s+web-2\s+net1\s+\S+\s+198\.18\.71\.\d+\/24\s+attached\s+no\s+\S+\s+not in the pod's network-status$/m);
    expect(unannotated.stderr).toMatch(/^note: to clear web-2 net1 \(attached\): `kubectl cni-attach web-2 -n shop --ifname net1 --conf FILE --kubeconfig \S+ .*` \(FILE: the config of network \S+ it was attached with, or --net with its NetworkAttachmentDefinition\)$/m);
    // without --node only the cluster's record was read: the same row is left by a cni-detach killed after its DEL,
    // so the note names the cni-list that reads node-b, not a cni-attach (pasted, that attached anew: tryout)
    const notRead = await runCli('list', w.listArgs);
    expect(notRead.stderr).toMatch(/^note: to clear web-2 net1 \(attached\): `kubectl cni-list .*--node node-b` \(it reads node node-b, and its row names the command: cni-attach \(the node holds it\) or cni-detach \(it holds nothing of it\)\)$/m);
    expect(notRead.stderr).not.toMatch(/cni-attach web-2/);
    const again = await runCli('attach', ['web-2', '--ifname', 'net1', '--conf', w.file, ...w.common]);
    expectOk(again);
    expect(again.stdout).toMatch(/was already attached to/);
    const fixed = await runCli('list', ['--node', 'node-b', ...w.listArgs]);
    expect(fixed.stdout).toMatch(/^shop\s+web-2\s+net1\s+\S+\s+198\.18\.71\.\d+\/24\s+attached\s+yes\s+\S+\s+<none>$/m);
    expect(fixed.stderr).toBe('');

    expectOk(await runCli('detach', ['web-1', '--ifname', 'net1', ...w.common]));
    expectOk(await runCli('detach', ['web-2', '--ifname', 'net1', ...w.common]));
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(recordKeys()).toEqual([]);
    expect(api.listPods('kube-system')).toEqual([]);
  });

  /**
   * The world with [slowdel, bridge] for web-1's net1: DEL runs in reverse, so the bridge's DEL (the veth, the lease) is
   * done when slowdel's, which waits for `release` (and says it began in `started`), waits.
   */
  const slowDelWorld = async () => {
    const w = await world();
    const [started, release] = [join(w.ws.dir, 'del.started'), join(w.ws.dir, 'del.release')];
    await fakePlugin(w.ws.pluginDir, 'slowdel', { add: passThroughAdd('0'), del: `touch ${started}\nwhile [ ! -e ${release} ]; do sleep 0.05; done` });
    lab.defer('the slow DEL', () => writeFile(release, ''));
    const conf = await writeConf(w.ws.dir, 'slowdel.conflist', conflist(lab.name('d'), [{ type: 'slowdel' }, bridgePlugin(lab.bridge(), '198.18.71.0/24', w.ws.dataDir)]));
    const paths = `${w.ws.pluginDir}:/usr/lib/cni`;
    return { w, started, release, conf, paths, args: ['web-1', '--ifname', 'net1', ...w.common.slice(0, -2), '--cni-path', paths] };
  };

  it('a cni-detach from the laptop SIGKILLed in its DEL on node-a, after the bridge freed the link and lease: cni-list --node says `detach stopped` (not `interface gone`) with the cni-detach, which finishes it; the detach round trips are those of before (2 + plugins)', async () => {
    const { w, started, release, conf, args } = await slowDelWorld();
    const trips = async (run: () => Promise<unknown>) => {
      const before = api.execs.length;
      await run();
      return agentExecs().filter((e) => api.execs.indexOf(e) >= before).reduce((n, e) => n + execRoundTrips(Buffer.concat(e.stdinMessages)), 0);
    };
    const deleting = () => readdir(`${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/deleting`).catch(() => [] as string[]);

    // a detach that runs to its end: 2 + 2 round trips, as before the mark (it rides on the first DEL, goes with the result)
    await writeFile(release, '');
    expectOk(await runCli('attach', [...args, '--conf', conf]));
    expect(await trips(async () => expectOk(await runCli('detach', args)))).toBe(4);
    expect(await deleting()).toEqual([]);
    expect(await nodeResults(w.ws.dir, 'node-a')).toEqual([]);

    await rm(release);
    await rm(started, { force: true });
    expectOk(await runCli('attach', [...args, '--conf', conf]));
    const d = spawnCli('detach', args);
    expect(await waitFor(async () => existsSync(started), 20_000)).toBe(true);
    d.kill('SIGKILL');
    expect((await d.done).signal).toBe('SIGKILL');
    await writeFile(release, '');
    expect(await leases(w.ws.dataDir), 'the bridge DEL freed the lease').toEqual([]);
    expect(await nodeResults(w.ws.dir, 'node-a')).toHaveLength(1);
    expect(await deleting()).toEqual(await nodeResults(w.ws.dir, 'node-a'));
    // (its lock on node-a outlives the killed command until the plugin time limit: as if that limit had passed)
    await rm(`${nodeCacheDir(w.ws.dir, 'node-a')}/cni-attach/locks`, { recursive: true, force: true });

    const list = await runCli('list', ['-o', 'json', '--node', 'node-a', ...w.listArgs]);
    expectOk(list);
    const item = (JSON.parse(list.stdout) as { items: { pod: string; state: string; reason: string; clearCommand: string }[] }).items.find((i) => i.pod === 'web-1')!;
    expect(item.state, list.stdout).toBe('detach stopped');
    expect(item.reason).toMatch(new RegExp(`^a cni-detach \\(pid ${d.pid} on this host [^)]+\\) stopped during its DEL of it at \\S+Z: net1 is gone from the network namespace of sandbox ${`web-1-${lab.prefix}`.slice(0, 12)} on node node-a already \\(its DEL deleted it\\), but its IPAM lease may still be held; run cni-detach again to finish it \\(DEL is idempotent\\)$`));
    expect(item.clearCommand).toMatch(/^kubectl cni-detach web-1 -n shop --ifname net1 --kubeconfig /);

    expect(await trips(async () => expectOk(await runCli('detach', args)))).toBe(4);
    expect(await nodeResults(w.ws.dir, 'node-a')).toEqual([]);
    expect(await deleting()).toEqual([]);
    expect(recordKeys()).toEqual([]);
    // the killed detach's agent pod is a leftover cni-gc deletes; nothing else is left to free
    const gc = await runCli('gc', w.gcArgs);
    expectOk(gc);
    expect(gc.stdout).toMatch(/^gc: freed 0 stale attachments, 0 alive, 1 leftover agent pod deleted$/m);
    expect(api.listPods('kube-system')).toEqual([]);
  });

  it('a cni-detach from the laptop stopped by SIGTERM in its DEL on node-a: its record says so, so cni-list -A (no --node) shows `detach stopped` with the cni-detach, as --node does (tryout 9: `attached`, <none>); cni-gc from the laptop, the pod alive, visits node-a and finishes it', async () => {
    const { w, started, release, conf, args, paths } = await slowDelWorld();
    expectOk(await runCli('attach', [...args, '--conf', conf]));
    const d = spawnCli('detach', args);
    expect(await waitFor(async () => existsSync(started), 20_000)).toBe(true);
    d.kill('SIGTERM');
    const r = await d.done;
    expect(r.exitCode, show(r)).toBe(143);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^error: detach stopped by SIGTERM during plugin slowdel's DEL .*the record stays: run the command again$/);
    expect(await leases(w.ws.dataDir), 'the bridge DEL freed the lease').toEqual([]);
    expect(await nodeResults(w.ws.dir, 'node-a')).toHaveLength(1);

    // without --node: from the cluster's record, which the stopped detach rewrote
    const list = await runCli('list', w.listArgs);
    expectOk(list);
    expect(list.stdout).toMatch(/^shop\s+web-1\s+net1\s+\S+\s+198\.18\.71\.\d+\/24\s+detach stopped\s+yes\s+\S+\s+DEL stopped part-way$/m);
    expect(list.stderr).toMatch(/^note: to clear web-1 net1 \(detach stopped\): `kubectl cni-detach web-1 -n shop --ifname net1 --kubeconfig \S+ --runtime agent --agent-image cni-attach-test\/agent:none --cache-dir \S+`$/m);
    const node = await runCli('list', ['--node', 'node-a', ...w.listArgs]);
    expect(node.stdout).toMatch(/^shop\s+web-1\s+net1\s+.*detach stopped\s+.*DEL stopped/m);

    // cni-gc from the laptop: the pod lives, and its record sends gc to node-a, where the mark decides
    await writeFile(release, '');
    const gc = await runCli('gc', [...w.gcArgs.slice(0, -2), '--cni-path', paths]);
    expectOk(gc);
    expect(gc.stdout).toMatch(/^freed net1 of pod shop\/web-1 \(network \S+\): a DEL of it did not finish \(a cni-detach or cni-gc stopped during it\) \(node node-a\)$/m);
    expect(await nodeResults(w.ws.dir, 'node-a')).toEqual([]);
    expect(recordKeys()).toEqual([]);
  });
});
