/**
 * kubectl's rules for flags and arguments, checked before anything is done, on every command (through the binaries,
 * against the stand-in API server): a bad flag value or a kubeconfig selection kubectl refuses is refused before any
 * change (cni-gc frees nothing, cni-list shows no "this host's cache only" rows); -v is klog's int32 level; an empty
 * override (`-n ""`) is no override; a POD of cni-list goes with -n, not -A or -l, and one nobody knows is NotFound;
 * notes speak of the rows shown. No plugin of the system runs: a fake plugin answers DEL, no network is touched.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanError, expectFlagTypeError, runCli, show, spawnComplete } from '../helpers/cli.js';
import { fakePlugin } from '../helpers/fake-plugin.js';
import { useLab, type Workspace } from '../helpers/lab.js';
import { makePod, StandInApiServer } from '../k8s/stand-in-api.js';
import { recordKey, recordName } from '../../src/resolve/records.js';
import { linkNames } from '../helpers/net.js';

const lab = useLab('fr');
let api: StandInApiServer;

beforeAll(async () => {
  api = await StandInApiServer.start();
  api.addPod(makePod({ name: 'web-1', namespace: 'shop', labels: { app: 'web' } }));
  api.addPod(makePod({ name: 'db-1', namespace: 'other', labels: { app: 'db' } }));
});
afterEach(() => {
  for (const c of api.listConfigMaps('kube-system')) api.deleteConfigMap('kube-system', c.metadata.name);
});
afterAll(async () => {
  await api?.stop();
});

/** No runtime here, no kubeconfig but the one given, no in-cluster variables. */
const env = (home: string, o: Record<string, string | undefined> = {}) => ({
  DOCKER_HOST: 'unix:///nonexistent/docker.sock', CONTAINERD_ADDRESS: '/nonexistent/containerd.sock', NODE_NAME: undefined,
  KUBECONFIG: undefined, HOME: home, KUBERNETES_SERVICE_HOST: undefined, KUBERNETES_SERVICE_PORT: undefined, ...o,
});

/**
 * A bare namespace's attachment in the workspace's cache whose namespace is gone (what cni-gc frees), with a fake
 * `bridge` whose DEL succeeds in the plugin dir. Returns the entry's file.
 */
async function staleBareEntry(ws: Workspace): Promise<string> {
  await mkdir(join(ws.cacheDir, 'results'), { recursive: true });
  const entry = {
    kind: 'cniCacheV1', containerId: 'cnitool-0123456789abcdef0123', ifName: 'eth1', networkName: 'net', netns: `/var/run/netns/${lab.name('n')}`,
    config: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64'),
    result: { cniVersion: '1.0.0', interfaces: [{ name: 'eth1' }], ips: [{ address: '198.18.47.6/24' }] },
  };
  const file = join(ws.cacheDir, 'results', 'net-cnitool-0123456789abcdef0123-eth1');
  await writeFile(file, JSON.stringify(entry));
  await fakePlugin(ws.pluginDir, 'bridge', {});
  return file;
}

/** A workspace, an empty HOME, a network namespace, and a config whose `bridge` (a fake) ADDs and DELs. */
async function netnsWorld(): Promise<{ ws: Workspace; h: string; ns: string; conf: string }> {
  const ws = await lab.workspace();
  const conf = join(ws.dir, 'net.json');
  await writeFile(conf, JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' }));
  await fakePlugin(ws.pluginDir, 'bridge', { add: `echo '{"cniVersion":"1.0.0","interfaces":[{"name":"eth1"}]}'` });
  return { ws, h: await home(ws), ns: await lab.netns(), conf };
}

async function home(ws: Workspace): Promise<string> {
  const h = join(ws.dir, 'home');
  await mkdir(h, { recursive: true });
  return h;
}

/** What kubectl 1.32 prints for a --request-timeout that clientcmd.ParseTimeout refuses. */
const INVALID_TIMEOUT = /^error: Invalid timeout value\. Timeout must be a single integer in seconds, or an integer followed by a corresponding time unit \(e\.g\. 1s \| 2m \| 3h\)$/m;

describe('cni-gc refuses a bad flag value or kubeconfig selection before it frees anything', () => {
  it('--request-timeout abc / 1.5 / -1, -v=abc, --context/--cluster/--user not in the kubeconfig, --kubeconfig missing: exit 2, one error, the entry still there; no kubeconfig at all: this host alone (exit 0)', async () => {
    const ws = await lab.workspace();
    const file = await staleBareEntry(ws);
    const h = await home(ws);
    const common = ['--cache-dir', ws.cacheDir, '--cni-path', ws.pluginDir];
    const kc = ['--kubeconfig', api.kubeconfigPath];
    const cases: [string[], RegExp][] = [
      // kubectl's words (clientcmd.ParseTimeout: `kubectl get pods --request-timeout 1.5` says the same, exit 1)
      [[...kc, '--request-timeout', 'abc'], INVALID_TIMEOUT],
      [[...kc, '--request-timeout', '1.5'], INVALID_TIMEOUT],
      [[...kc, '--request-timeout', '-1'], INVALID_TIMEOUT],
      [[...kc, '-v=abc'], /invalid argument "abc" for "-v, --v" flag: strconv\.ParseInt: parsing "abc": invalid syntax/],
      [[...kc, '--context', 'nosuch'], /context "nosuch" does not exist \(kubeconfig /],
      [[...kc, '--cluster', 'nosuch'], /cluster "nosuch" does not exist \(kubeconfig /],
      [[...kc, '--user', 'nosuch'], /auth info "nosuch" does not exist \(kubeconfig /],
      [['--kubeconfig', join(ws.dir, 'nonexistent')], /kubeconfig \S+\/nonexistent: no such file/],
      // no kubeconfig at all, but a context named: the user meant a cluster
      [['--context', 'nosuch'], /context "nosuch" does not exist \(no kubeconfig file\)/],
      [['--request-timeout', 'abc'], INVALID_TIMEOUT],
    ];
    for (const [flags, message] of cases) {
      const r = await runCli('gc', [...common, ...flags], { env: env(h) });
      // a value not of its flag's type: pflag's words and cobra's See line
      if (/invalid argument/.test(message.source)) expectFlagTypeError(r, 'gc', message);
      else expectCleanError(r, 2, message);
      expect(r.stdout, show(r)).toBe('');
      expect(existsSync(file), `the entry is freed by ${flags.join(' ')}`).toBe(true);
    }
    // no kubeconfig at all (the on-node use): this host's cache alone, a note, exit 0
    const local = await runCli('gc', common, { env: env(h) });
    expect(local.exitCode, show(local)).toBe(0);
    expect(local.stdout).toMatch(/^freed eth1 of netns \/var\/run\/netns\/\S+ \(network net\): the network namespace is gone$/m);
    expect(local.stderr).toMatch(/^note: only this host's CNI cache was read, nothing in the cluster \(its pods and the attachments recorded on other nodes are not included\): no kubeconfig found/m);
    expect(existsSync(file)).toBe(false);
  });
});

describe('cni-list refuses a bad kubeconfig selection; a POD goes with -n; the error alone when nothing could be shown', () => {
  it('--context nosuch, --kubeconfig missing: exit 2, no rows, no "this host\'s cache only"', async () => {
    const ws = await lab.workspace();
    await staleBareEntry(ws);
    const h = await home(ws);
    for (const flags of [['--kubeconfig', api.kubeconfigPath, '--context', 'nosuch'], ['--kubeconfig', join(ws.dir, 'nonexistent')], ['--kubeconfig', api.kubeconfigPath, '--request-timeout', '1.5']]) {
      const r = await runCli('list', ['-A', '--cache-dir', ws.cacheDir, ...flags], { env: env(h) });
      expectCleanError(r, 2);
      expect(r.stdout, show(r)).toBe('');
    }
  });

  it('POD with -A or -l: exit 2 as kubectl get refuses them; a POD nobody knows: NotFound (exit 3); one that exists: none found (exit 0); one that is gone with a record: its row', async () => {
    const ws = await lab.workspace();
    const h = await home(ws);
    const list = (args: string[]) => runCli('list', [...args, '--cache-dir', ws.cacheDir, '--kubeconfig', api.kubeconfigPath], { env: env(h) });
    expectCleanError(await list(['web-1', '-A']), 2, /^error: a resource cannot be retrieved by name across all namespaces/);
    expectCleanError(await list(['web-1', '-n', 'shop', '-l', 'app=web']), 2, /^error: name cannot be provided when a selector is specified/);
    expectCleanError(await list(['nosuchpod', '-n', 'shop']), 3, /^error: pods "nosuchpod" not found in namespace "shop", and no attachment of it is recorded here or in the cluster/);
    const there = await list(['web-1', '-n', 'shop']);
    expect(there.exitCode, show(there)).toBe(0);
    expect(there.stderr).toBe('No resources found in shop namespace.');
    // a pod that is gone, recorded on another node: its row (what cni-list is for)
    const rec = { namespace: 'shop', pod: 'gone-1', uid: 'uid-gone-1', node: 'node-far', ifname: 'net1', network: 'net', containerId: 'c0ffee', since: new Date().toISOString(), addresses: ['198.18.47.9/24'] };
    api.addConfigMap({ metadata: { name: recordName('node-far'), namespace: 'kube-system', labels: { 'app.kubernetes.io/managed-by': 'cni-attach' } }, data: { [recordKey('c0ffee', 'net1')]: JSON.stringify({ kind: 'cniAttachRecordV1', ...rec }) } });
    const gone = await list(['gone-1', '-n', 'shop']);
    expect(gone.exitCode, show(gone)).toBe(0);
    expect(gone.stdout, show(gone)).toMatch(/^gone-1\s+net1\s+net\s+198\.18\.47\.9\/24\s+pod gone\s/m);
  });

  it('the cluster cannot be asked and nothing could be shown: the error alone (no "No resources found"), exit 4', async () => {
    const ws = await lab.workspace();
    const h = await home(ws);
    const kc = join(ws.dir, 'closed.json');
    const k = api.kubeconfig({}) as { clusters: { cluster: Record<string, unknown> }[] };
    k.clusters[0]!.cluster.server = 'https://127.0.0.1:1';
    await writeFile(kc, JSON.stringify(k));
    const r = await runCli('list', ['--cache-dir', ws.cacheDir, '--kubeconfig', kc, '--request-timeout', '5s'], { env: env(h) });
    expectCleanError(r, 4, /^error: the cluster could not be asked: .*ECONNREFUSED/);
    expect(r.stdout).toBe('');
  });

  it('--no-cluster without -A: bare namespaces are not shown, a note counts them (and names -A); no note of a row not shown', async () => {
    const ws = await lab.workspace();
    await staleBareEntry(ws);
    const h = await home(ws);
    const r = await runCli('list', ['--no-cluster', '--cache-dir', ws.cacheDir], { env: env(h) });
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("No resources found in default namespace.\nnote: 1 attachment of bare network namespaces in this host's cache is not shown (in no namespace): -A shows it");
    const all = await runCli('list', ['--no-cluster', '--cache-dir', ws.cacheDir, '-A'], { env: env(h) });
    expect(all.stdout).toMatch(/netns gone/);
    expect(all.stderr).toMatch(/^note: to clear the record in state netns gone: `kubectl cni-gc --cache-dir /m);
  });
});

describe('a flag that would have no effect with the rest of the command line is refused (exit 2), on every command, before anything is done', () => {
  /** Each flag (and its value) of kubectl's and the runtime's that a bare network namespace or --no-cluster never uses. */
  const kubectlFlags: string[][] = [
    ['-n', 'shop'], ['--kubeconfig', '/nonexistent/kc'], ['--context', 'nosuch'], ['--cluster', 'nosuch'], ['--user', 'nosuch'], ['-s', 'https://127.0.0.1:1'],
    ['--token', 'T'], ['--certificate-authority', '/nonexistent/ca'], ['--insecure-skip-tls-verify'], ['--tls-server-name', 'x'], ['--as', 'u'], ['--as-group', ''],
    ['--as-uid', '1'], ['--request-timeout', '5s'], ['--client-certificate', '/nonexistent/c.crt'], ['--client-key', '/nonexistent/c.key'], ['--username', 'u'], ['--password', 'p'],
  ];
  const runtimeFlags = [['--runtime', 'agent'], ['--docker-host', 'unix:///nonexistent'], ['--agent-image', 'x'], ['--agent-namespace', 'x']];
  const flagName = (f: string[]) => ({ '-n': '-n/--namespace', '-s': '-s/--server' })[f[0]!] ?? f[0]!;

  it('--netns (attach, detach, check): every cluster and runtime flag, --net, --no-annotate, --parallel; the namespace is left as it was, no API request', async () => {
    const { ws, h, ns, conf } = await netnsWorld();
    const common = ['--netns', ns, '--ifname', 'eth1', '--cache-dir', ws.cacheDir, '--cni-path', ws.pluginDir];
    api.clearRequests();
    for (const [tool, extra] of [['attach', ['--conf', conf]], ['detach', []], ['check', []]] as const) {
      const only = tool === 'check' ? [] : [['--no-annotate']];
      for (const f of [...kubectlFlags, ...runtimeFlags, ['--net', 'x'], ...only, ...(tool === 'check' ? [] : [['--parallel', '2']])]) {
        const r = await runCli(tool, [...common, ...extra, ...f], { env: env(h) });
        expectCleanError(r, 2, new RegExp(`^error: ${flagName(f).replace(/[-/]/g, '\\$&')} cannot be used with --netns: a bare network namespace is reached on this host, without the cluster or a runtime \\(those flags are for pods\\)$`));
        expect(r.stdout, show(r)).toBe('');
      }
    }
    expect(await linkNames(ns)).toEqual(['lo']);
    expect(existsSync(join(ws.cacheDir, 'results'))).toBe(false);
    expect(api.requests, 'no API request').toEqual([]);
  });

  it('cni-list --no-cluster: the request and runtime flags and --cluster NAME (either order) refused; the kubeconfig selection checked as kubectl checks it, and its namespace used', async () => {
    const ws = await lab.workspace();
    const h = await home(ws);
    // an attachment of pod shop/web-9 in this host's cache
    await mkdir(join(ws.cacheDir, 'results'), { recursive: true });
    const entry = {
      kind: 'cniCacheV1', containerId: 'c'.repeat(64), ifName: 'net1', networkName: 'net', netns: '/proc/1/ns/net',
      cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'web-9'], ['K8S_POD_UID', 'u9']],
      config: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64'),
      result: { cniVersion: '1.0.0', interfaces: [{ name: 'net1' }], ips: [{ address: '198.18.47.7/24' }] },
    };
    await writeFile(join(ws.cacheDir, 'results', `net-${'c'.repeat(64)}-net1`), JSON.stringify(entry));
    const list = (args: string[]) => runCli('list', ['--no-cluster', '--cache-dir', ws.cacheDir, ...args], { env: env(h) });
    for (const f of [...kubectlFlags.filter((x) => !['-n', '--kubeconfig', '--context', '--cluster', '--user'].includes(x[0]!)), ['--runtime', 'docker'], ['--docker-host', 'unix:///x'], ['--agent-namespace', 'x']]) {
      expectCleanError(await list(f), 2, new RegExp(`^error: ${flagName(f).replace(/[-/]/g, '\\$&')} cannot be used with --no-cluster: it asks neither the cluster nor the runtime`));
    }
    for (const args of [['--cluster', 'x'], ['--cluster', 'x', '--no-cluster']]) expectCleanError(await list(args), 2, /^error: --cluster cannot be used with --no-cluster: give one of them/);
    // the selection: what kubectl refuses (`kubectl create … --dry-run=client --context nosuch`: context "nosuch" does not exist)
    const kc = await api.writeKubeconfig({ namespace: 'shop', contexts: [{ name: 'other-ns', namespace: 'other' }] });
    expectCleanError(await list(['--context', 'nosuch']), 2, /^error: context "nosuch" does not exist \(no kubeconfig file\); see --context$/);
    expectCleanError(await list(['--kubeconfig', kc, '--context', 'nosuch']), 2, /context "nosuch" does not exist/);
    expectCleanError(await list(['--kubeconfig', kc, '--user', 'nosuch']), 2, /auth info "nosuch" does not exist/);
    expectCleanError(await list(['--kubeconfig', join(ws.dir, 'nonexistent')]), 2, /kubeconfig \S+\/nonexistent: no such file/);
    // the context's namespace is the one listed (it was `default` whatever the kubeconfig said); no request made
    api.clearRequests();
    const shop = await list(['--kubeconfig', kc]);
    expect(shop.exitCode, show(shop)).toBe(0);
    expect(shop.stdout, show(shop)).toMatch(/^web-9\s+net1\s+net\s+198\.18\.47\.7\/24\s/m);
    const other = await list(['--kubeconfig', kc, '--context', 'other-ns']);
    expect(other.exitCode, show(other)).toBe(0);
    expect(other.stderr, show(other)).toBe('No resources found in other namespace.');
    expect(api.requests, 'no API request').toEqual([]);
    // no kubeconfig at all (the on-node use): default, as before
    expect((await list([])).stderr).toBe('No resources found in default namespace.');
  });

  it('--parallel with one pod; --agent-image with --runtime docker/kind/cri; --docker-host with --runtime cri/agent (every command that has them)', async () => {
    const ws = await lab.workspace();
    const h = await home(ws);
    const kc = ['--kubeconfig', api.kubeconfigPath, '--cache-dir', ws.cacheDir];
    api.clearRequests();
    expectCleanError(await runCli('attach', ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '/nonexistent', '--parallel', '2', ...kc], { env: env(h) }), 2, /^error: --parallel cannot be used with one pod: it says how many pods of -l\/--all are worked on at a time$/);
    expectCleanError(await runCli('detach', ['web-1', '-n', 'shop', '--ifname', 'eth1', '--parallel', '2', ...kc], { env: env(h) }), 2, /^error: --parallel cannot be used with one pod/);
    for (const tool of ['attach', 'detach', 'check', 'list', 'gc'] as const) {
      const target = tool === 'list' || tool === 'gc' ? [] : ['web-1', '-n', 'shop', '--ifname', 'eth1', ...(tool === 'attach' ? ['--conf', '/nonexistent'] : [])];
      for (const rt of ['docker', 'kind', 'cri']) {
        expectCleanError(await runCli(tool, [...target, ...kc, '--runtime', rt, '--agent-image', 'x'], { env: env(h) }), 2, new RegExp(`^error: --agent-image cannot be used with --runtime ${rt}: it starts no agent pod`));
      }
      for (const rt of ['cri', 'agent']) {
        expectCleanError(await runCli(tool, [...target, ...kc, '--runtime', rt, '--docker-host', 'unix:///x'], { env: env(h) }), 2, new RegExp(`^error: --docker-host cannot be used with --runtime ${rt}: it asks no Docker`));
      }
    }
    expect(api.requests, 'no API request').toEqual([]);
  });
});

describe('-v is klog\'s int32 level on every command', () => {
  it('abc, 1.5, "", 99999999999: exit 2 in pflag\'s words, nothing done, no stack trace; -3, +2, -v -3: taken', async () => {
    const { ws, h, ns, conf } = await netnsWorld();
    const target = ['--netns', ns, '--ifname', 'eth1', '--cache-dir', ws.cacheDir, '--cni-path', ws.pluginDir];
    const runs: [Parameters<typeof runCli>[0], string[]][] = [
      ['attach', [...target, '--conf', conf]],
      ['detach', target],
      ['check', target],
      ['list', ['--no-cluster', '--cache-dir', ws.cacheDir]],
      ['gc', ['--cache-dir', ws.cacheDir, '--cni-path', ws.pluginDir]],
    ];
    for (const [tool, args] of runs) {
      for (const [v, why] of [['abc', 'invalid syntax'], ['1.5', 'invalid syntax'], ['', 'invalid syntax'], ['99999999999', 'value out of range']]) {
        const r = await runCli(tool, [...args, `--v=${v}`], { env: env(h) });
        expectFlagTypeError(r, tool, new RegExp(`^error: invalid argument "${v.replace('.', '\\.')}" for "-v, --v" flag: strconv\\.ParseInt: parsing "${v.replace('.', '\\.')}": ${why}$`));
        expect(existsSync(join(ws.cacheDir, 'results')), `${tool} --v=${v} changed the cache`).toBe(false);
      }
    }
    for (const v of [['-v=-3'], ['--v=+2'], ['-v', '-3']]) {
      const r = await runCli('list', ['--no-cluster', '--cache-dir', ws.cacheDir, ...v], { env: env(h) });
      expect(r.exitCode, show(r)).toBe(0);
    }
  });
});

describe('an empty override is no override (clientcmd), and --ifname of a new interface does not begin with -', () => {
  it('-n "": the context\'s namespace in cni-list, cni-check and completion; --context "" and --request-timeout "": not given', async () => {
    const ws = await lab.workspace();
    const h = await home(ws);
    const kc = await api.writeKubeconfig({ namespace: 'shop' });
    const list = await runCli('list', ['-n', '', '--context', '', '--request-timeout', '', '-l', 'app=none', '--cache-dir', ws.cacheDir, '--kubeconfig', kc], { env: env(h) });
    expect(list.exitCode, show(list)).toBe(0);
    expect(list.stderr).toBe('No resources found in shop namespace.');
    // cni-check of shop/web-1 (it exists: the runtime is what cannot be asked here), not `pod "web-1" not found in namespace ""`
    const check = await runCli('check', ['web-1', '-n', '', '--ifname', 'net1', '--runtime', 'docker', '--cache-dir', ws.cacheDir, '--kubeconfig', kc], { env: env(h) });
    expect(check.stderr, show(check)).not.toMatch(/namespace ""/);
    expect(check.stderr, show(check)).toMatch(/shop\/web-1/);
    expect(check.exitCode, show(check)).toBe(4);
    const c = await spawnComplete('check', ['-n', '', '--kubeconfig', kc, '']).done;
    expect(c.stdout, show(c)).toBe('web-1\n:4');
  });

  it('cni-attach --ifname --version (a flag taken as the value): refused, exit 2, nothing made; cni-detach of such a name is not refused for it', async () => {
    const { ws, h, ns, conf } = await netnsWorld();
    const args = (ifname: string) => ['--netns', ns, '--ifname', ifname, '--cache-dir', ws.cacheDir, '--cni-path', ws.pluginDir];
    for (const name of ['--version', '-n', '-x']) {
      const r = await runCli('attach', [...args(name), '--conf', conf], { env: env(h) });
      expectCleanError(r, 2, new RegExp(`^error: interface name "${name}" begins with '-': the kernel and CNI would take it, but tools .* read it as an option`));
      expect(existsSync(join(ws.cacheDir, 'results')), name).toBe(false);
    }
    const d = await runCli('detach', args('-x'), { env: env(h) });
    expect(d.exitCode, show(d)).toBe(0);
    expect(d.stderr).not.toMatch(/begins with '-'/);
  });
});
