/**
 * Pods end to end: a real Docker engine holds pods made the way dockershim / cri-dockerd make them (a labelled pause
 * container plus an app container in its network namespace), the stand-in API server serves the Pod objects to the
 * real client-node, and the real CLI attaches eth1 over a bridge network. The checks run from inside the app
 * containers: eth1 is there, pings the other pod, and is gone after detach. Addresses: 198.18.40.0/24.
 */
import { hostname } from 'node:os';
import type Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanError, expectOk, runCli, show } from '../helpers/cli.js';
import { bridgeConf, writeConf } from '../helpers/confs.js';
import { execIn, removeContainers, startPod, type PodContainers } from '../helpers/docker.js';
import { leases } from '../helpers/ipam.js';
import { attachmentFiles, useLab, type Workspace } from '../helpers/lab.js';
import { makeNad, makePod, StandInApiServer } from '../k8s/stand-in-api.js';
import { startPodWorld, stopPodWorld } from '../helpers/pod-world.js';

const lab = useLab('pd');
const NODE = hostname();
const STATUS = 'k8s.v1.cni.cncf.io/network-status';
let api: StandInApiServer;
let d: Docker;

beforeAll(async () => {
  ({ d, api } = await startPodWorld());
});
afterAll(() => stopPodWorld(d, api, lab.prefix));
afterEach(async () => {
  await removeContainers(d, lab.prefix);
  for (const p of api.listPods('shop')) api.deletePod('shop', p.metadata.name);
  for (const n of ['br-net']) api.deleteNad('shop', n);
  api.clearEvents();
  for (const c of api.listConfigMaps('kube-system')) api.deleteConfigMap('kube-system', c.metadata.name);
  api.clearRequests();
  api.clearInterceptors();
});

interface World {
  ws: Workspace;
  conf: string;
  net: string;
  args: (pod: string, ...more: string[]) => string[];
}

async function world(): Promise<World> {
  const ws = await lab.workspace();
  const net = lab.name('k');
  const conf = await writeConf(ws.dir, 'net.json', bridgeConf({ name: net, bridge: lab.bridge(), subnet: '198.18.40.0/24', dataDir: ws.dataDir }));
  const args = (pod: string, ...more: string[]) => [
    pod, '-n', 'shop', '--kubeconfig', api.kubeconfigPath, '--cache-dir', ws.cacheDir, '--cni-path', '/usr/lib/cni',
    '--docker-host', process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock', ...more,
  ];
  return { ws, conf, net, args };
}

/** A running pod in the API and in Docker, scheduled to this node. */
async function pod(name: string, o: { sandboxUid?: string; phase?: 'Running' | 'Pending'; hostNetwork?: boolean; labels?: Record<string, string> } = {}): Promise<PodContainers & { uid: string }> {
  const uid = `${lab.prefix}-${name}-uid`;
  // the pod's default network, as Multus would have recorded it
  const annotations = { [STATUS]: JSON.stringify([{ name: 'kindnet', interface: 'eth0', ips: ['10.244.1.7'], default: true, dns: {} }]) };
  api.addPod(makePod({ name, namespace: 'shop', uid, nodeName: NODE, phase: o.phase ?? 'Running', hostNetwork: o.hostNetwork ?? false, annotations, labels: o.labels ?? {} }));
  const c = await startPod(d, { name, namespace: 'shop', uid, testLabel: lab.prefix, ...(o.sandboxUid ? { sandboxUid: o.sandboxUid } : {}) });
  return { ...c, uid };
}

async function eth1In(c: PodContainers): Promise<string | undefined> {
  const r = await execIn(d, c.appId, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth1']);
  if (r.code !== 0) return undefined;
  return /inet (\S+)/.exec(r.output)?.[1];
}

function statusOf(name: string): { name: string; interface: string; ips?: string[]; mac?: string; default: boolean }[] {
  const v = api.getPod('shop', name)?.metadata.annotations?.[STATUS];
  return v ? JSON.parse(v) : [];
}

describe('attach to pods through the API and Docker', () => {
  it('attaches eth1 to two pods, they ping each other from their app containers, and detach removes it all', async () => {
    const w = await world();
    const [p1, p2] = [await pod('web-1'), await pod('web-2')];

    const r1 = await runCli('attach', w.args('web-1', '--ifname', 'eth1', '--conf', w.conf));
    expectOk(r1);
    expect(r1.stdout).toMatch(new RegExp(`^eth1 attached to pod shop/web-1 \\(network ${w.net}, node ${NODE}, sandbox ${p1.sandboxId.slice(0, 12)}\\)\\n  eth1  198\\.18\\.40\\.\\d+/24`));
    const r2 = await runCli('attach', w.args('web-2', '--ifname', 'eth1', '--conf', w.conf, '-o', 'json'));
    expectOk(r2);
    const res2 = JSON.parse(r2.stdout);
    expect(res2.interfaces[2]).toMatchObject({ name: 'eth1', sandbox: `/proc/${p2.pid}/ns/net` });

    // seen from inside the pods
    const a1 = await eth1In(p1);
    const a2 = await eth1In(p2);
    expect(a1, 'eth1 in web-1').toMatch(/^198\.18\.40\.\d+\/24$/);
    expect(a2).toBe(res2.ips[0].address);
    const pingr = await execIn(d, p1.appId, ['ping', '-c', '1', '-W', '2', a2!.split('/')[0]!]);
    expect(pingr.code, pingr.output).toBe(0);

    // the cache is keyed by the sandbox id, with kubelet's CNI_ARGS
    const files = await attachmentFiles(w.ws.cacheDir);
    expect(files).toContain(`results/${w.net}-${p1.sandboxId}-eth1`);
    // network-status was merge-patched with our entry, after the default network entry the pod had
    const s1 = statusOf('web-1');
    expect(s1[0]).toMatchObject({ interface: 'eth0', default: true });
    expect(s1[1]).toMatchObject({ name: w.net, interface: 'eth1', ips: [a1!.split('/')[0]], default: false });
    const patches = api.requests.filter((q) => q.method === 'PATCH' && q.path.includes('/pods/'));
    expect(patches.length).toBe(2);
    expect(patches[0]!.contentType).toBe('application/merge-patch+json');
    expect(patches[0]!.path).toBe('/api/v1/namespaces/shop/pods/web-1');

    for (const p of ['web-1', 'web-2']) {
      const r = await runCli('detach', w.args(p, '--ifname', 'eth1'));
      expectOk(r);
      expect(r.stdout).toBe(`eth1 detached from pod shop/${p} (network ${w.net})`);
    }
    expect(await eth1In(p1)).toBeUndefined();
    expect(await eth1In(p2)).toBeUndefined();
    expect(statusOf('web-1').map((e) => e.interface)).toEqual(['eth0']);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect((await attachmentFiles(w.ws.cacheDir)).filter((f) => f.startsWith('results/'))).toEqual([]);
    // Multus's events on each pod, what kubectl describe pod shows
    expect(api.listEvents('shop').map((e) => [e.involvedObject.name, e.involvedObject.uid, e.type, e.reason, e.message, e.reportingComponent])).toEqual([
      ['web-1', p1.uid, 'Normal', 'AddedInterface', `Add eth1 [${a1}] from ${w.net}`, 'cni-attach'],
      ['web-2', p2.uid, 'Normal', 'AddedInterface', `Add eth1 [${a2}] from ${w.net}`, 'cni-attach'],
      ['web-1', p1.uid, 'Normal', 'RemovedInterface', `Remove eth1 from ${w.net}`, 'cni-attach'],
      ['web-2', p2.uid, 'Normal', 'RemovedInterface', `Remove eth1 from ${w.net}`, 'cni-attach'],
    ]);
  });

  it('takes the config from a NetworkAttachmentDefinition (--net) and records ns/name in network-status', async () => {
    const w = await world();
    const p1 = await pod('web-1');
    const { readFile } = await import('node:fs/promises');
    const cfg = JSON.parse(await readFile(w.conf, 'utf8'));
    delete cfg.name; // the NAD's name is injected
    api.addNad(makeNad({ name: 'br-net', namespace: 'shop', config: JSON.stringify(cfg) }));
    expectOk(await runCli('attach', w.args('web-1', '--ifname', 'net1', '--net', 'br-net')));
    expect(await execIn(d, p1.appId, ['ip', 'link', 'show', 'net1']).then((r) => r.code)).toBe(0);
    expect(statusOf('web-1')[1]).toMatchObject({ name: 'shop/br-net', interface: 'net1' });
    expect(api.listEvents('shop').map((e) => e.message)).toEqual([expect.stringMatching(/^Add net1 \[198\.18\.40\.\d+\/24\] from shop\/br-net$/)]);
    expect((await attachmentFiles(w.ws.cacheDir))).toContain(`results/br-net-${p1.sandboxId}-net1`);
    expectOk(await runCli('detach', w.args('web-1', '--ifname', 'net1')));
    expect(statusOf('web-1')).toHaveLength(1);
    expect(api.listEvents('shop').map((e) => e.message).at(-1)).toBe('Remove net1 from shop/br-net');
  });

  it('detach works after the sandbox is gone: DEL frees the lease, the annotation is still fixed', async () => {
    const w = await world();
    const p1 = await pod('web-1');
    expectOk(await runCli('attach', w.args('web-1', '--ifname', 'eth1', '--conf', w.conf)));
    expect(await leases(w.ws.dataDir)).toHaveLength(1);
    await d.getContainer(p1.appId).remove({ force: true });
    await d.getContainer(p1.sandboxId).remove({ force: true });
    const r = await runCli('detach', w.args('web-1', '--ifname', 'eth1'));
    expectOk(r);
    expect(r.stderr).toMatch(/^note: pod shop\/web-1 has no running sandbox on this host \(\S+\): the sandbox [0-9a-f]{12} its eth1 went into is gone, and its interface with it; DEL runs without a network namespace, to free its IPAM lease$/m);
    expect(await leases(w.ws.dataDir)).toEqual([]);
    expect(statusOf('web-1').map((e) => e.interface)).toEqual(['eth0']);
    expect((await attachmentFiles(w.ws.cacheDir)).filter((f) => f.startsWith('results/'))).toEqual([]);
  });

  it('annotation write fails (API 500): the attach stands with exit 4, and the same command again succeeds', async () => {
    const w = await world();
    const p1 = await pod('web-1');
    api.failNext({ method: 'PATCH', pathIncludes: '/pods/' }, { code: 500 });
    const r = await runCli('attach', w.args('web-1', '--ifname', 'eth1', '--conf', w.conf));
    expect(r.exitCode, show(r)).toBe(4);
    expect(r.stderr).toMatch(/eth1 is attached, but the pod's network-status annotation could not be written/);
    expect(await eth1In(p1)).toBeDefined();
    const again = await runCli('attach', w.args('web-1', '--ifname', 'eth1', '--conf', w.conf));
    expectOk(again);
    expect(again.stdout).toMatch(/^eth1 was already attached to pod shop\/web-1/);
    expect(statusOf('web-1').filter((e) => e.interface === 'eth1')).toHaveLength(1);
    expectOk(await runCli('detach', w.args('web-1', '--ifname', 'eth1')));
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });
});

describe('events', () => {
  it('an event the API refuses (403) is a note and the attach stands; a failed attach records a Warning', async () => {
    const w = await world();
    const p1 = await pod('web-1');
    api.failNext({ method: 'POST', pathIncludes: '/events' }, { code: 403, message: 'events is forbidden: User "jane" cannot create resource "events"' });
    const r = await runCli('attach', w.args('web-1', '--ifname', 'eth1', '--conf', w.conf));
    expectOk(r);
    expect(r.stderr).toMatch(/^note: the AddedInterface event could not be recorded on pod shop\/web-1: .*403.*events is forbidden/m);
    expect(await eth1In(p1)).toBeDefined();
    expect(statusOf('web-1').map((e) => e.interface)).toEqual(['eth0', 'eth1']);
    expect(api.listEvents('shop')).toEqual([]);
    // a config whose IPAM cannot work: the plugin fails, and so does its DEL: the Warning says the rollback failed too
    const { readFile } = await import('node:fs/promises');
    const bad = JSON.parse(await readFile(w.conf, 'utf8'));
    bad.ipam.ranges = [[{ subnet: '198.18.40.0/24', rangeStart: '198.18.41.1' }]];
    const badConf = await writeConf(w.ws.dir, 'bad.json', bad);
    const f = await runCli('attach', w.args('web-1', '--ifname', 'eth2', '--conf', badConf));
    expect(f.exitCode, show(f)).toBe(1);
    expect(api.listEvents('shop').map((e) => [e.type, e.reason, e.involvedObject.uid])).toEqual([['Warning', 'FailedAddInterface', p1.uid]]);
    expect(api.listEvents('shop')[0]!.message).toMatch(/^Add eth2 from \S+ failed, and so did its rollback: plugin bridge failed on ADD .*; rolling back also failed: plugin bridge failed on DEL .*; the attempt stays recorded, and the link eth2 in pod shop\/web-1 and its IPAM lease may remain if no DEL freed them$/);
    expectOk(await runCli('detach', w.args('web-1', '--ifname', 'eth1')));
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });
});

describe('cni-list and cni-gc', () => {
  it('the Pod object deleted while its sandbox still runs here: check and detach (and its dry run) run in the sandbox\'s namespace, so eth1 goes with its lease; a live pod whose sandbox is gone: check names this host and the cni-detach that frees it', async () => {
    const w = await world();
    const p1 = await pod('web-1');
    expectOk(await runCli('attach', w.args('web-1', '--ifname', 'eth1', '--conf', w.conf)));
    expect(await eth1In(p1)).toMatch(/^198\.18\.40\.\d+\/24$/);
    api.deletePod('shop', 'web-1'); // force-deleted: its containers still run
    // before: "pod shop/web-1 has no running sandbox on this node: nothing to CHECK" (exit 3)
    const c = await runCli('check', w.args('web-1', '--ifname', 'eth1'));
    expectOk(c);
    expect(c.stdout).toMatch(/^eth1 in pod shop\/web-1 \(network \S+\): CHECK ok$/m);
    // before: netns=(none), CNI_NETNS='' — a DEL that frees the lease of the address eth1 still holds
    const plan = await runCli('detach', w.args('web-1', '--ifname', 'eth1', '--dry-run'));
    expectOk(plan);
    expect(plan.stdout).toMatch(new RegExp(`^# target: pod=shop/web-1 netns=/proc/${p1.pid}/ns/net$`, 'm'));
    expect(plan.stdout).toContain(`CNI_NETNS=/proc/${p1.pid}/ns/net`);
    const r = await runCli('detach', w.args('web-1', '--ifname', 'eth1'));
    expectOk(r);
    expect(r.stderr).toMatch(new RegExp(`^note: the sandbox ${p1.sandboxId.slice(0, 12)} of pod shop/web-1 still runs on this host \\(${NODE}\\): DEL runs in its network namespace, so the interface goes with its lease$`, 'm'));
    expect(await eth1In(p1)).toBeUndefined();
    expect(await leases(w.ws.dataDir)).toEqual([]);

    const p2 = await pod('web-2');
    expectOk(await runCli('attach', w.args('web-2', '--ifname', 'eth1', '--conf', w.conf)));
    await d.getContainer(p2.appId).remove({ force: true });
    await d.getContainer(p2.sandboxId).remove({ force: true });
    const gone = await runCli('check', w.args('web-2', '--ifname', 'eth1'));
    expect(gone.exitCode, show(gone)).toBe(3);
    expect(gone.stderr).toMatch(new RegExp(`^error: pod shop/web-2 has no running sandbox on this host \\(${NODE}\\): nothing to CHECK; what the cache holds of eth1 for it was attached to a sandbox that is gone .*: \`kubectl cni-detach web-2 -n shop --ifname eth1 .*\` frees it$`, 'm'));
    expectOk(await runCli('detach', w.args('web-2', '--ifname', 'eth1')));
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });

  it('lists the attachments; after a sandbox is removed, gc frees its lease, forgets it and fixes the annotation', async () => {
    const w = await world();
    const [p1] = [await pod('web-1'), await pod('web-2')];
    expectOk(await runCli('attach', w.args('web-1', '--ifname', 'eth1', '--conf', w.conf)));
    expectOk(await runCli('attach', w.args('web-2', '--ifname', 'eth1', '--conf', w.conf)));
    const common = ['--kubeconfig', api.kubeconfigPath, '--cache-dir', w.ws.cacheDir, '--docker-host', process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'];

    const l = await runCli('list', ['-n', 'shop', ...common]);
    expectOk(l);
    const rows = l.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^POD\s+IFNAME\s+NETWORK\s+ADDRESSES\s+STATE\s+ANNOTATED\s+CONTAINER\s+REASON$/);
    expect(rows.slice(1).map((r) => r.split(/\s+/).filter((_, i) => [0, 4, 5].includes(i)))).toEqual([['web-1', 'attached', 'yes'], ['web-2', 'attached', 'yes']]);
    // as kubectl get prints lists: -A adds NAMESPACE, --no-headers, -o name, -o jsonpath, -l selects pods
    expect((await runCli('list', ['-A', '--no-headers', ...common])).stdout).toMatch(/^shop\s+web-1\s+eth1\s+/);
    expect((await runCli('list', ['-n', 'shop', '-o', 'name', ...common])).stdout).toBe('attachment/web-1.eth1\nattachment/web-2.eth1');
    const jp = await runCli('list', ['-n=shop', '-o', 'jsonpath={range .items[*]}{.pod} {.ifname} {.state}{"\\n"}{end}', ...common]);
    expect(jp.stdout, show(jp)).toBe('web-1 eth1 attached\nweb-2 eth1 attached');
    api.updatePod('shop', 'web-2', (p) => void (p.metadata.labels = { app: 'db' }));
    expect((await runCli('list', ['-n', 'shop', '-l', 'app=db', '-o', 'name', ...common])).stdout).toBe('attachment/web-2.eth1');
    const none = await runCli('list', ['-n', 'shop', '-l', 'app=nothing', ...common]);
    expect([none.exitCode, none.stdout, none.stderr]).toEqual([0, '', 'No resources found in shop namespace.']);

    await d.getContainer(p1.appId).remove({ force: true });
    await d.getContainer(p1.sandboxId).remove({ force: true });
    const listed = JSON.parse((await runCli('list', ['web-1', '-n', 'shop', '-o', 'json', ...common])).stdout);
    expect(listed).toMatchObject({ apiVersion: 'v1', kind: 'List' });
    expect(listed.items[0]).toMatchObject({ kind: 'Attachment', metadata: { name: 'web-1.eth1', namespace: 'shop' }, state: 'sandbox gone' });

    const dry = await runCli('gc', ['--dry-run', '--cni-path', '/usr/lib/cni', ...common]);
    expectOk(dry);
    expect(dry.stdout).toMatch(/^would free eth1 of pod shop\/web-1 \(network \S+\): the pod's sandbox is gone/);
    expect(await leases(w.ws.dataDir)).toHaveLength(2);

    const g = await runCli('gc', ['--cni-path', '/usr/lib/cni', ...common]);
    expectOk(g);
    expect(g.stdout).toMatch(/^freed eth1 of pod shop\/web-1 \(network \S+\): the pod's sandbox is gone\ngc: freed 1 stale attachment, 1 alive/);
    expect(await leases(w.ws.dataDir)).toHaveLength(1);
    expect(statusOf('web-1').map((e) => e.interface)).toEqual(['eth0']);
    expect(statusOf('web-2').map((e) => e.interface)).toEqual(['eth0', 'eth1']);
    expectOk(await runCli('detach', w.args('web-2', '--ifname', 'eth1')));
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });
});

describe('cni-gc and the cluster\'s records of this host', () => {
  it('records an attachment of a live pod that has none (as a refused record write leaves it), forgets a record of nothing; --dry-run changes nothing', async () => {
    const w = await world();
    const p1 = await pod('web-1');
    expectOk(await runCli('attach', w.args('web-1', '--ifname', 'eth1', '--conf', w.conf)));
    const common = ['--kubeconfig', api.kubeconfigPath, '--cache-dir', w.ws.cacheDir, '--docker-host', process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock', '--cni-path', '/usr/lib/cni'];
    const name = `cni-attach-node-${NODE}`;
    const cm = api.getConfigMap('kube-system', name)!;
    const [[key, value]] = Object.entries(cm.data!) as [[string, string]];
    const made = JSON.parse(value) as Record<string, unknown>;
    // no record (as a refused record write leaves it; its entry names kube-system, where gc records it); and a record
    // of an attachment this host's cache does not hold
    const ghost = { ...made, ifname: 'eth7', containerId: `${p1.sandboxId}` };
    const ghostKey = `${p1.sandboxId}.${Buffer.from('eth7').toString('hex')}`;
    api.deleteConfigMap('kube-system', name);
    api.addConfigMap({ ...cm, data: { [ghostKey]: JSON.stringify(ghost) } });
    const keys = () => Object.keys(api.getConfigMap('kube-system', name)?.data ?? {}).sort();

    const dry = await runCli('gc', ['--dry-run', ...common]);
    expectOk(dry);
    expect(dry.stdout.split('\n')).toEqual([
      `would record eth1 of pod shop/web-1 (network ${w.net}) on node ${NODE}: attached there without a record in namespace kube-system (--agent-namespace)`,
      `would forget the record of eth7 of pod shop/web-1 (network ${w.net}) on node ${NODE}: the node holds nothing of it`,
      'gc: would free 0 stale attachments, 1 alive, 1 record to add, 1 record to remove',
    ]);
    expect(keys()).toEqual([ghostKey]);

    const g = await runCli('gc', common);
    expectOk(g);
    expect(g.stdout.split('\n')).toEqual([
      `recorded eth1 of pod shop/web-1 (network ${w.net}) on node ${NODE}: attached there without a record in namespace kube-system (--agent-namespace)`,
      `forgot the record of eth7 of pod shop/web-1 (network ${w.net}) on node ${NODE}: the node holds nothing of it`,
      'gc: freed 0 stale attachments, 1 alive, 1 record added, 1 record removed',
    ]);
    expect(keys()).toEqual([key]);
    // the same record as the attach wrote, but for its time and the attach's own --cni-path (which only the attach
    // knows: a record without it is read as one of an older version); the --cache-dir is gc's own, the dir it read
    expect(made).toMatchObject({ cniPath: '/usr/lib/cni', cacheDir: w.ws.cacheDir });
    const { cniPath: _p, ...asGcSees } = made;
    expect({ ...JSON.parse(api.getConfigMap('kube-system', name)!.data![key]!) as object, since: 'x' }).toEqual({ ...asGcSees, since: 'x' });
    expect(await leases(w.ws.dataDir)).toHaveLength(1);

    const again = await runCli('gc', common);
    expect(again.stdout).toBe('gc: freed 0 stale attachments, 1 alive');
    expectOk(await runCli('detach', w.args('web-1', '--ifname', 'eth1')));
    expect(keys()).toEqual([]);
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });
});

describe('many pods at once', () => {
  it('-l attaches every matching pod of 20 (and only those), each from inside sees its own address; -l detach removes them all', async () => {
    const w = await world();
    const web = [];
    for (let i = 1; i <= 20; i++) web.push(await pod(`web-${i}`, { labels: { app: 'web' } }));
    const db = await pod('db-1', { labels: { app: 'db' } });
    api.clearRequests();
    const r = await runCli('attach', ['-l', 'app=web', ...w.args('', '--ifname', 'eth1', '--conf', w.conf, '--parallel', '3')].filter((a) => a !== ''));
    expectOk(r);
    expect(r.stdout).toBe('eth1 attached to 20 of 20 pods');
    expect(r.stderr.trim().split('\n')).toHaveLength(20);
    // one list for the whole batch and one watch of it (from the list's resourceVersion: a pod deleted before its turn is
    // skipped), no GET per pod; one PATCH per pod (and the cluster's record of each: a ConfigMap patch)
    expect(api.requests.filter((q) => q.method === 'GET').map((q) => [q.path, q.query.watch])).toEqual([['/api/v1/namespaces/shop/pods', undefined], ['/api/v1/namespaces/shop/pods', 'true']]);
    expect(api.requests.filter((q) => q.method === 'PATCH' && q.path.includes('/pods/'))).toHaveLength(20);
    const addrs = await Promise.all(web.map(eth1In));
    expect(addrs.every((a) => a && /^198\.18\.40\.\d+\/24$/.test(a)), addrs.join(' ')).toBe(true);
    expect(new Set(addrs).size).toBe(20);
    expect(await eth1In(db)).toBeUndefined();

    const d = await runCli('detach', ['-l', 'app=web', ...w.args('', '--ifname', 'eth1')].filter((a) => a !== ''));
    expectOk(d);
    expect(d.stdout).toBe('eth1 detached from 20 of 20 pods');
    for (const p of web) expect(await eth1In(p)).toBeUndefined();
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });
});

describe('refusals (nothing changes on the host)', () => {
  it('a hostNetwork pod is refused', async () => {
    const w = await world();
    await pod('host-1', { hostNetwork: true });
    expectCleanError(await runCli('attach', w.args('host-1', '--ifname', 'eth1', '--conf', w.conf)), 2, /uses hostNetwork/);
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });
  it('a Pending pod is refused', async () => {
    const w = await world();
    await pod('pend-1', { phase: 'Pending' });
    expectCleanError(await runCli('attach', w.args('pend-1', '--ifname', 'eth1', '--conf', w.conf)), 2, /is Pending, not Running/);
  });
  it('a pod being deleted (deletionTimestamp set, phase still Running) is refused, its dry run too (exit 2, since when); its detach goes on', async () => {
    const w = await world();
    const p = await pod('term-1');
    expectOk(await runCli('attach', w.args('term-1', '--ifname', 'eth1', '--conf', w.conf)));
    const requested = new Date(Date.now() - 3000);
    api.updatePod('shop', 'term-1', (o) => {
      o.metadata.deletionTimestamp = new Date(requested.getTime() + 30_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      o.metadata.deletionGracePeriodSeconds = 30;
    });
    const since = requested.toISOString().replace(/\.\d{3}Z$/, 'Z');
    for (const extra of [[], ['--dry-run']]) {
      const r = await runCli('attach', w.args('term-1', '--ifname', 'eth2', '--conf', w.conf, ...extra));
      expectCleanError(r, 2, new RegExp(`^error: pod shop/term-1 is being deleted \\(since ${since}, \\d+s ago, grace period 30s\\): its network goes with it; only running pods not being deleted are attached to$`, 'm'));
    }
    expect(api.requests.filter((q) => q.method === 'PATCH' && q.path.includes('/pods/term-1'))).toHaveLength(1);
    expectOk(await runCli('check', w.args('term-1', '--ifname', 'eth1')));
    expectOk(await runCli('detach', w.args('term-1', '--ifname', 'eth1')));
    expect(await eth1In(p)).toBeUndefined();
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });
  it('a missing pod exits 3', async () => {
    const w = await world();
    expectCleanError(await runCli('attach', w.args('nope', '--ifname', 'eth1', '--conf', w.conf)), 3, /^error: pods "nope" not found in namespace "shop"$/m);
  });
  it('a sandbox left by an earlier pod of the same name (other uid) is never used', async () => {
    const w = await world();
    const p = await pod('web-9', { sandboxUid: 'an-older-uid' });
    expectCleanError(await runCli('attach', w.args('web-9', '--ifname', 'eth1', '--conf', w.conf)), 3, /belong to an earlier pod of that name \(uid an-older-uid\)/);
    expect(await eth1In(p)).toBeUndefined();
  });
  it('Docker unreachable exits 4', async () => {
    const w = await world();
    await pod('web-1');
    const args = w.args('web-1', '--ifname', 'eth1', '--conf', w.conf);
    args[args.indexOf('--docker-host') + 1] = 'unix:///nonexistent/docker.sock';
    expectCleanError(await runCli('attach', args), 4, /cannot reach Docker at unix:\/\/\/nonexistent\/docker.sock/);
  });
  it('API 500 on reading the pod exits 4 and changes nothing', async () => {
    const w = await world();
    await pod('web-1');
    api.failNext({ method: 'GET', pathIncludes: '/pods/web-1' }, { code: 500 });
    expectCleanError(await runCli('attach', w.args('web-1', '--ifname', 'eth1', '--conf', w.conf)), 4, /the API server answered 500/);
    expect(await leases(w.ws.dataDir)).toEqual([]);
  });
  it('an API server that does not answer hits --request-timeout (exit 4)', async () => {
    const w = await world();
    await pod('web-1');
    api.failNext({ method: 'GET', pathIncludes: '/pods/web-1' }, { hang: true });
    const r = await runCli('attach', w.args('web-1', '--ifname', 'eth1', '--conf', w.conf, '--request-timeout', '1s'));
    expectCleanError(r, 4, /no answer from the API server within 1s/);
  });
});
