/**
 * --runtime cri on this host: a containerd of the test's own ($CONTAINERD_ADDRESS), pod sandboxes made with ctr and
 * the CRI labels, the plugins run here against the sandbox task's network namespace. 198.18.46.0/24.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanError, expectOk, runCli } from '../helpers/cli.js';
import { bridgeConf, writeConf } from '../helpers/confs.js';
import { startContainerd, startSandbox, stopContainerd, type Containerd } from '../helpers/containerd.js';
import { leases } from '../helpers/ipam.js';
import { useLab } from '../helpers/lab.js';
import { must } from '../helpers/sh.js';
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

  it('a batch\'s look-up reads each running sandbox\'s runtime spec from its bundle (CRI annotations), asking ctr `containers info` only for a sandbox without them', async () => {
    const ws = await lab.workspace();
    cd = await startContainerd(lab.prefix);
    process.env.CONTAINERD_ADDRESS = cd.address;
    // a ctr on PATH that logs its arguments and runs the real one: the runtime CLI runs of the look-up are counted
    const bin = join(ws.dir, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'ctr'), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${join(ws.dir, 'ctr.log')}\nexec /usr/bin/ctr "$@"\n`, { mode: 0o755 });
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
