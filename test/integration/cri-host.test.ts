/**
 * --runtime cri on this host: a containerd of the test's own ($CONTAINERD_ADDRESS), pod sandboxes made with ctr and
 * the CRI labels, the plugins run here against the sandbox task's network namespace. 198.18.46.0/24.
 * Also a -l batch whose pods are deleted (or put into Terminating) while its first pod's plugin runs: the batch's
 * watch of its pods, served by the stand-in API server, skips them (issue 12).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanError, expectOk, runCli, show, spawnCli } from '../helpers/cli.js';
import { bridgeConf, bridgePlugin, conflist, writeConf } from '../helpers/confs.js';
import { fakePlugin, passThroughAdd } from '../helpers/fake-plugin.js';
import { startContainerd, startSandbox, stopContainerd, type Containerd } from '../helpers/containerd.js';
import { leases } from '../helpers/ipam.js';
import { useLab } from '../helpers/lab.js';
import { must, waitFor } from '../helpers/sh.js';
import { makePod, StandInApiServer } from '../k8s/stand-in-api.js';

const lab = useLab('cr');
let api: StandInApiServer;
let cd: Containerd | undefined;

beforeAll(async () => {
  api = await StandInApiServer.start();
});
afterEach(async () => {
  if (cd) await stopContainerd(cd);
  cd = undefined;
  delete process.env.CONTAINERD_ADDRESS;
  for (const p of api.listPods('shop')) api.deletePod('shop', p.metadata.name);
  api.clearRequests();
  api.clearInterceptors();
  api.clearEvents();
  for (const c of api.listConfigMaps('kube-system')) api.deleteConfigMap('kube-system', c.metadata.name);
});
afterAll(async () => {
  await api?.stop();
});

describe('cri: containerd on this host, through ctr', () => {
  it('finds the sandbox by its CRI labels and uid, attaches in its task netns, detaches', async () => {
    const ws = await lab.workspace();
    cd = await startContainerd(lab.prefix);
    process.env.CONTAINERD_ADDRESS = cd.address; // the CLI (a child) inherits it, as it would on a node
    const conf = await writeConf(ws.dir, 'net.json', bridgeConf({ name: lab.name('k'), bridge: lab.bridge(), subnet: '198.18.46.0/24', dataDir: ws.dataDir }));
    api.addPod(makePod({ name: 'web-1', namespace: 'shop', uid: 'uid-cri-1', nodeName: hostname(), containerRuntime: 'containerd' }));
    const pid = await startSandbox(cd, { id: `${lab.prefix}-sb1`, name: 'web-1', namespace: 'shop', uid: 'uid-cri-1' });
    const args = (...more: string[]) => ['web-1', '-n', 'shop', '--kubeconfig', api.kubeconfigPath, '--cache-dir', ws.cacheDir, '--cni-path', '/usr/lib/cni', '--runtime', 'cri', ...more];

    const r = await runCli('attach', args('--ifname', 'eth1', '--conf', conf));
    expectOk(r);
    expect(r.stdout).toMatch(new RegExp(`^eth1 attached to pod shop/web-1 \\(network \\S+, node ${hostname()}, sandbox ${`${lab.prefix}-sb1`.slice(0, 12)}\\)`));
    expect(await must(['nsenter', '-t', String(pid), '-n', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth1'])).toMatch(/inet 198\.18\.46\.\d+\/24/);
    expectOk(await runCli('detach', args('--ifname', 'eth1')));
    expect((await runCli('attach', args('--ifname', 'eth1', '--conf', conf, '--dry-run'))).stdout).toMatch(/runtime=cri/);
    expect(await leases(ws.dataDir)).toEqual([]);
  });

  it('a batch\'s look-up reads the running sandboxes\' runtime specs from their bundles by one cat (CRI annotations), asking ctr `containers info` only for a sandbox without them', async () => {
    const ws = await lab.workspace();
    cd = await startContainerd(lab.prefix);
    process.env.CONTAINERD_ADDRESS = cd.address;
    // a ctr on PATH that logs its arguments and runs the real one: the runtime CLI runs of the look-up are counted
    const bin = join(ws.dir, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'ctr'), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${join(ws.dir, 'ctr.log')}\nexec /usr/bin/ctr "$@"\n`, { mode: 0o755 });
    // and a cat that logs its runs of the sandboxes' config.json files: one for the three, not one each
    await writeFile(join(bin, 'cat'), `#!/bin/sh\ncase "$*" in *config.json*) printf '%s\\n' "$*" >> ${join(ws.dir, 'cat.log')} ;; esac\nexec /bin/cat "$@"\n`, { mode: 0o755 });
    const conf = await writeConf(ws.dir, 'net.json', bridgeConf({ name: lab.name('k'), bridge: lab.bridge(), subnet: '198.18.46.0/24', dataDir: ws.dataDir }));
    const pids: Record<string, number> = {};
    for (const [i, annotations] of [[1, true], [2, true], [3, false]] as const) {
      api.addPod(makePod({ name: `web-${i}`, namespace: 'shop', uid: `uid-cri-${i}`, nodeName: hostname(), containerRuntime: 'containerd', labels: { app: 'web' } }));
      pids[`web-${i}`] = await startSandbox(cd, { id: `${lab.prefix}-sb${i}`, name: `web-${i}`, namespace: 'shop', uid: `uid-cri-${i}`, annotations });
    }
    const env = { PATH: `${bin}:${process.env.PATH}` };
    const args = (...more: string[]) => ['-l', 'app=web', '-n', 'shop', '--kubeconfig', api.kubeconfigPath, '--cache-dir', ws.cacheDir, '--cni-path', '/usr/lib/cni', '--runtime', 'cri', '--ifname', 'eth1', ...more];
    const r = await runCli('attach', args('--conf', conf), { env });
    expectOk(r);
    for (const [name, pid] of Object.entries(pids)) {
      expect(await must(['nsenter', '-t', String(pid), '-n', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth1']), name).toMatch(/inet 198\.18\.46\.\d+\/24/);
    }
    const runs = (await readFile(join(ws.dir, 'ctr.log'), 'utf8')).trim().split('\n');
    // one listing, one task list, and `containers info` of the one sandbox whose spec lacks CRI's annotations
    expect(runs.filter((l) => /containers info/.test(l))).toEqual([`-n k8s.io containers info ${lab.prefix}-sb3`]);
    expect(runs.filter((l) => /containers list/.test(l))).toHaveLength(1);
    expect(runs.filter((l) => /tasks list/.test(l))).toHaveLength(1);
    const cats = (await readFile(join(ws.dir, 'cat.log'), 'utf8')).trim().split('\n');
    expect(cats).toHaveLength(1);
    expect(cats[0]!.match(/\/proc\/\d+\/cwd\/config\.json/g)).toHaveLength(3);
    expectOk(await runCli('detach', args(), { env }));
    expect(await leases(ws.dataDir)).toEqual([]);
  });

  it('a sandbox of an earlier pod with that name is refused; no containerd at all is exit 4', async () => {
    const ws = await lab.workspace();
    cd = await startContainerd(lab.prefix);
    process.env.CONTAINERD_ADDRESS = cd.address;
    const conf = await writeConf(ws.dir, 'net.json', bridgeConf({ name: lab.name('k'), bridge: lab.bridge(), subnet: '198.18.46.0/24', dataDir: ws.dataDir }));
    api.addPod(makePod({ name: 'web-1', namespace: 'shop', uid: 'uid-new', nodeName: hostname() }));
    await startSandbox(cd, { id: `${lab.prefix}-sb1`, name: 'web-1', namespace: 'shop', uid: 'uid-old' });
    const args = ['web-1', '-n', 'shop', '--kubeconfig', api.kubeconfigPath, '--cache-dir', ws.cacheDir, '--ifname', 'eth1', '--conf', conf, '--runtime', 'cri'];
    expectCleanError(await runCli('attach', args), 3, /belong to an earlier pod of that name \(uid uid-old\)/);
    process.env.CONTAINERD_ADDRESS = '/nonexistent/containerd.sock';
    expectCleanError(await runCli('attach', args), 4, /no CRI runtime on this host/);
  });
});

describe('a -l attach whose pods are deleted after the list, before their turn (issue 12)', () => {
  /**
   * web-1, web-2, web-3 (app=web) with sandboxes here; a chain of bridge and `waiter`, a fake plugin that logs each
   * ADD's pod and, for web-1, touches `started` and waits until `go` exists: the test changes the cluster meanwhile.
   */
  async function batchWorld() {
    const ws = await lab.workspace();
    cd = await startContainerd(lab.prefix);
    process.env.CONTAINERD_ADDRESS = cd.address;
    const started = join(ws.dir, 'web-1.started');
    const go = join(ws.dir, 'go');
    const adds = join(ws.dir, 'adds.log');
    await fakePlugin(ws.pluginDir, 'waiter', {
      add: `echo "$CNI_ARGS" | sed 's/.*K8S_POD_NAME=\\([^;]*\\).*/\\1/' >> ${adds}
case "$CNI_ARGS" in *"K8S_POD_NAME=web-1;"*) touch ${started}; i=0; while [ ! -e ${go} ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done;; esac
${passThroughAdd('0')}`,
    });
    const conf = await writeConf(ws.dir, 'net.conflist', conflist(lab.name('w'), [bridgePlugin(lab.bridge(), '198.18.46.0/24', ws.dataDir), { type: 'waiter' }]));
    const pids: Record<string, number> = {};
    for (const i of [1, 2, 3]) {
      api.addPod(makePod({ name: `web-${i}`, namespace: 'shop', uid: `uid-w-${i}`, nodeName: hostname(), containerRuntime: 'containerd', labels: { app: 'web' } }));
      pids[`web-${i}`] = await startSandbox(cd, { id: `${lab.prefix}-w${i}`, name: `web-${i}`, namespace: 'shop', uid: `uid-w-${i}` });
    }
    const args = (...more: string[]) => ['-l', 'app=web', '-n', 'shop', '--kubeconfig', api.kubeconfigPath, '--cache-dir', ws.cacheDir, '--cni-path', `${ws.pluginDir}:/usr/lib/cni`, '--runtime', 'cri', '--ifname', 'eth1', '--parallel', '1', ...more];
    const addsOf = async () => (await readFile(adds, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    const eth1 = async (name: string) => (await must(['nsenter', '-t', String(pids[name]), '-n', 'ip', '-o', 'link'])).includes(' eth1@');
    return { ws, conf, started, go, args, addsOf, eth1 };
  }

  it('one deleted and one put into Terminating while web-1\'s ADD runs: both skipped, no ADD, no event, no record for them, exit 0; -v=6 shows the one watch request', async () => {
    const w = await batchWorld();
    const run = spawnCli('attach', w.args('--conf', w.conf, '-v', '6'));
    expect(await waitFor(async () => (await readFile(w.started).then(() => true, () => false)), 30_000), 'web-1\'s ADD began').toBe(true);
    api.deletePod('shop', 'web-2');
    api.updatePod('shop', 'web-3', (p) => {
      p.metadata.deletionTimestamp = new Date(Date.now() + 30_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      p.metadata.deletionGracePeriodSeconds = 30;
    });
    await writeFile(w.go, '');
    const r = await run.done;
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stderr, show(r)).toMatch(/^\[\d\/3\] shop\/web-2: skipped: deleted after the pods were listed: its network went with it$/m);
    expect(r.stderr, show(r)).toMatch(/^\[\d\/3\] shop\/web-3: skipped: being deleted \(since \S+Z, \d+s ago, grace period 30s\): its network goes with it$/m);
    expect(r.stdout).toBe('eth1 attached to 1 of 3 pods; 2 skipped, deleted meanwhile (shop/web-2, shop/web-3)');
    expect(await w.addsOf()).toEqual(['web-1']);
    expect(await w.eth1('web-1')).toBe(true);
    expect(await w.eth1('web-2')).toBe(false);
    expect(await w.eth1('web-3')).toBe(false);
    expect(api.listEvents('shop').map((e) => e.involvedObject.name)).toEqual(['web-1']);
    expect(JSON.stringify(api.listConfigMaps('kube-system'))).not.toMatch(/web-[23]/);
    // one list, one watch of the list's selection from its resourceVersion; traced at -v=6 as the other requests
    const watches = api.requests.filter((q) => q.method === 'GET' && q.query.watch === 'true');
    expect(watches.map((q) => [q.path, q.query.labelSelector])).toEqual([['/api/v1/namespaces/shop/pods', 'app=web']]);
    expect(watches[0]!.query.resourceVersion).toMatch(/^\d+$/);
    expect(r.stderr).toMatch(new RegExp(`^I GET ${api.url}/api/v1/namespaces/shop/pods\\?watch=true&labelSelector=app%3Dweb&resourceVersion=${watches[0]!.query.resourceVersion} 200 OK in \\d+ milliseconds$`, 'm'));
    await expect.poll(() => api.activeWatches, { timeout: 5_000, message: 'the watch ended with the batch' }).toBe(0);
    expectOk(await runCli('detach', w.args()));
    expect(await w.eth1('web-1')).toBe(false);
  });

  it('web-1 put into Terminating during its own ADD (graceful delete: its PATCH still lands): counted apart, exit 3, through the binary; a one-pod attach likewise, its result printed first (tryout 8 F1)', async () => {
    const w = await batchWorld();
    const terminate = () =>
      api.updatePod('shop', 'web-1', (p) => {
        p.metadata.deletionTimestamp = new Date(Date.now() + 30_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
        p.metadata.deletionGracePeriodSeconds = 30;
      });
    const run = spawnCli('attach', w.args('--conf', w.conf));
    expect(await waitFor(async () => (await readFile(w.started).then(() => true, () => false)), 30_000), 'web-1\'s ADD began').toBe(true);
    terminate();
    await writeFile(w.go, '');
    const r = await run.done;
    expect(r.exitCode, show(r)).toBe(3);
    expect(r.stderr, show(r)).toMatch(/^\[\d\/3\] shop\/web-1: attached but its pod was deleted meanwhile: eth1 is attached, but pod shop\/web-1 was deleted meanwhile \(being deleted \(since \S+Z, \d+s ago, grace period 30s\): its network goes with it\); `kubectl cni-gc .*` frees what stays of the attachment on node \S+ \(its interface, its IPAM lease\) once the pod is gone$/m);
    expect(r.stdout).toMatch(/^eth1 attached to 2 of 3 pods; 1 attached but its pod was deleted meanwhile \(shop\/web-1\): `kubectl cni-gc .*` frees what stays$/);
    expect(await w.eth1('web-1')).toBe(true);
    expectOk(await runCli('detach', w.args()));
    // one pod: web-1 running again, put into Terminating during its net2 ADD (the waiter waits again)
    api.updatePod('shop', 'web-1', (p) => {
      delete p.metadata.deletionTimestamp;
      delete p.metadata.deletionGracePeriodSeconds;
    });
    await rm(w.go);
    await rm(w.started);
    const one = ['web-1', '-n', 'shop', '--kubeconfig', api.kubeconfigPath, '--cache-dir', w.ws.cacheDir, '--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`, '--runtime', 'cri', '--ifname', 'net2', '--conf', w.conf];
    const single = spawnCli('attach', one);
    expect(await waitFor(async () => (await readFile(w.started).then(() => true, () => false)), 30_000), 'web-1\'s net2 ADD began').toBe(true);
    terminate();
    await writeFile(w.go, '');
    const o = await single.done;
    expect(o.exitCode, show(o)).toBe(3);
    expect(o.stdout).toMatch(/^net2 attached to pod shop\/web-1 /);
    expect(o.stderr).toMatch(/^error: net2 is attached, but pod shop\/web-1 was deleted meanwhile \(being deleted \(since .*\): its network goes with it\); `kubectl cni-gc .*` frees what stays of the attachment on node \S+ \(its interface, its IPAM lease\) once the pod is gone$/m);
    expectOk(await runCli('detach', one.slice(0, -2)));
    expect(await w.eth1('web-1')).toBe(false);
  });

  it('one relabelled out of the selection while web-1\'s ADD runs: skipped as no longer selected (not deleted), no ADD, exit 0; one relabelled out and back: attached', async () => {
    const w = await batchWorld();
    const run = spawnCli('attach', w.args('--conf', w.conf));
    expect(await waitFor(async () => (await readFile(w.started).then(() => true, () => false)), 30_000), 'web-1\'s ADD began').toBe(true);
    api.updatePod('shop', 'web-2', (p) => void (p.metadata.labels = { app: 'other' }));
    api.updatePod('shop', 'web-3', (p) => void (p.metadata.labels = { app: 'other' }));
    api.updatePod('shop', 'web-3', (p) => void (p.metadata.labels = { app: 'web' }));
    await writeFile(w.go, '');
    const r = await run.done;
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stderr, show(r)).toMatch(/^\[\d\/3\] shop\/web-2: skipped: no longer selected by -l app=web: its labels changed after the pods were listed$/m);
    expect(r.stdout).toBe('eth1 attached to 2 of 3 pods; 1 skipped, relabelled out of the selection (shop/web-2)');
    expect(await w.addsOf()).toEqual(['web-1', 'web-3']);
    expect(await w.eth1('web-2')).toBe(false);
    expect(JSON.stringify(api.listConfigMaps('kube-system'))).not.toMatch(/web-2/);
    expectOk(await runCli('detach', w.args()));
    expect(await w.eth1('web-3')).toBe(false);
  });

  it('the watch refused (403: no watch on pods): the batch goes on as before — the deleted pod gets its ADD, counted apart, exit 3 — said at -v', async () => {
    const w = await batchWorld();
    api.failNext({ method: 'GET', pathIncludes: 'watch=true' }, { code: 403 });
    const run = spawnCli('attach', w.args('--conf', w.conf, '-v', '1'));
    expect(await waitFor(async () => (await readFile(w.started).then(() => true, () => false)), 30_000), 'web-1\'s ADD began').toBe(true);
    api.deletePod('shop', 'web-2');
    await writeFile(w.go, '');
    const r = await run.done;
    expect(r.exitCode, show(r)).toBe(3);
    expect(r.stderr).toMatch(/^debug: the batch's pods are not watched \(watching pods in shop matching app=web: the API server answered 403: .*\): a pod deleted after the list is still attached to in its turn$/m);
    expect(r.stderr).toMatch(/^\[\d\/3\] shop\/web-2: attached but its pod was deleted meanwhile: /m);
    expect(await w.addsOf()).toEqual(['web-1', 'web-2', 'web-3']);
    expectOk(await runCli('detach', w.args()));
    // web-2's Pod is gone: its DEL by cni-gc, as the summary said (its lease and link go with its sandbox here)
    expectOk(await runCli('gc', ['--kubeconfig', api.kubeconfigPath, '--cache-dir', w.ws.cacheDir, '--cni-path', `${w.ws.pluginDir}:/usr/lib/cni`, '--runtime', 'cri']));
  });
});
