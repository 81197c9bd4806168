/**
 * Load: 100 attach/detach cycles on a network namespace and 100 on one pod, through the real binaries, real plugins
 * (bridge + host-local) and, for the pod, the real Docker engine and the stand-in API server. The cycles run in rounds
 * of a few interfaces at once (eth1…eth4 on the namespace, eth1/eth2 on the pod: same IPAM range, same pod annotation,
 * concurrent CLIs), and after each round nothing may be left. Nothing may leak:
 *
 *   links and addresses   the lab-scoped host links and the target's links/addresses equal the state before (host-state.ts)
 *   leases                none left under the IPAM dir; the range holds only 4 addresses, so a single leaked lease
 *                         every 4 cycles would exhaust it: 100 cycles prove that addresses are reused
 *   cache files, locks    no file under the cache dir (results, intents, locks, temp files)
 *   processes             no process whose environment carries our CNI_NETNS / CNI_CONTAINERID (a plugin or a child of
 *                         one that outlived its CLI)
 *   file descriptors      no open fd, in any process on the host, on a file under the workspace or on the target
 *                         namespace (/proc/*\/fd scanned); and, for the tool's own code in a long-lived process, the
 *                         attach/detach programs run 50 cycles in this test process with the real executor: its
 *                         /proc/self/fd count must not grow
 *
 * Each test prints the cycles it ran (RELIABILITY.md quotes them). Addresses: 198.18.63.0/24 (netns), .64 (pod),
 * .65 (in-process).
 */
import { readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { defaultDeps } from '../../src/cli/context.js';
import { detachCommand } from '../../src/cli/detach.js';
import { runProgram } from '../../src/cli/main.js';
import { expectOk, runCli, show } from '../helpers/cli.js';
import { writeConf, type Json } from '../helpers/confs.js';
import { CNI_DIR } from '../helpers/env.js';
import { dockerHost, removeContainers, startPod } from '../helpers/docker.js';
import { captureState, expectState, makeBridge, openFdsOn, processesMarked, type Scope } from '../helpers/host-state.js';
import { attachmentFiles, filesUnder, useLab } from '../helpers/lab.js';
import { netnsPath } from '../helpers/net.js';
import { makePod, StandInApiServer } from '../k8s/stand-in-api.js';
import { startPodWorld, stopPodWorld } from '../helpers/pod-world.js';

const lab = useLab('rl');
const CYCLES = Number(process.env.RELIABILITY_CYCLES ?? 100);
/** Cycles run in rounds of this many interfaces (eth1…) at once; the range has 4 addresses, one per lane at most. */
const NETNS_LANES = 4;
const POD_LANES = 2;
const IN_PROCESS_CYCLES = 50;

/** A bridge config whose host-local range holds exactly 4 addresses (.10–.13 of the /24). */
function smallRange(name: string, bridge: string, subnet: string, dataDir: string): Json {
  const base = subnet.replace(/\.0\/24$/, '');
  return {
    cniVersion: '1.0.0', name, type: 'bridge', bridge, isGateway: false, isDefaultGateway: false, ipMasq: false,
    ipam: { type: 'host-local', ranges: [[{ subnet, rangeStart: `${base}.10`, rangeEnd: `${base}.13` }]], dataDir },
  };
}

function addressOf(stdout: string): string {
  return (JSON.parse(stdout) as { ips: { address: string }[] }).ips[0]!.address;
}

/** The cheap per-cycle check: no lease and no cache file left. */
async function nothingLeft(dataDir: string, cacheDir: string, what: string): Promise<void> {
  const leaseFiles = (await filesUnder(dataDir)).filter((f) => /\/\d+\.\d+\.\d+\.\d+$/.test(f));
  expect(leaseFiles, `leases ${what}`).toEqual([]);
  expect(await attachmentFiles(cacheDir), `cache files ${what}`).toEqual([]);
}

function report(what: string, cycles: number, addrs: Map<string, number>, ms: number): void {
  const uses = [...addrs.entries()].map(([a, n]) => `${a}×${n}`).join(' ');
  console.log(`load: ${cycles} attach/detach cycles on ${what} in ${(ms / 1000).toFixed(1)}s (${(ms / cycles).toFixed(0)} ms/cycle); addresses used: ${uses}`);
}

describe('load', () => {
  it(`${CYCLES} attach/detach cycles on a network namespace (${NETNS_LANES} interfaces at a time): nothing leaks, addresses are reused`, async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const br = await makeBridge(lab);
    const conf = await writeConf(ws.dir, 'net.json', smallRange(lab.name('k'), br, '198.18.63.0/24', ws.dataDir));
    const scope: Scope = { lab, ws, netns: [ns], bridges: [br], markers: [netnsPath(ns)] };
    const before = await captureState(scope);
    const fdsBefore = await openFdsOn([ws.dir], [netnsPath(ns)]);
    const addrs = new Map<string, number>();
    const start = Date.now();
    let cycles = 0;
    for (let round = 0; cycles < CYCLES; round++) {
      const lanes = Array.from({ length: Math.min(NETNS_LANES, CYCLES - cycles) }, (_, l) => `eth${l + 1}`);
      await Promise.all(lanes.map(async (ifname) => {
        const a = await runCli('attach', [...lab.args(ws, ns, ifname, conf), '-o', 'json']);
        expectOk(a);
        const addr = addressOf(a.stdout);
        addrs.set(addr, (addrs.get(addr) ?? 0) + 1);
        expectOk(await runCli('detach', lab.args(ws, ns, ifname)));
      }));
      cycles += lanes.length;
      await nothingLeft(ws.dataDir, ws.cacheDir, `after round ${round + 1} (${cycles} cycles)`);
      if (round % 5 === 4) expectState(await captureState(scope), before, `after ${cycles} cycles`);
    }
    report(`netns ${netnsPath(ns)}`, cycles, addrs, Date.now() - start);
    expect(cycles).toBe(CYCLES);
    expect([...addrs.keys()].every((a) => /^198\.18\.63\.1[0-3]\/24$/.test(a)), [...addrs.keys()].join(' ')).toBe(true);
    expectState(await captureState(scope), before, 'after all cycles');
    expect(await processesMarked([netnsPath(ns)]), 'no plugin process left').toEqual([]);
    expect(await openFdsOn([ws.dir], [netnsPath(ns)]), 'no fd open on the workspace or the namespace').toEqual(fdsBefore);
  }, 240_000);

  it(`${IN_PROCESS_CYCLES} cycles in one long-lived process (the real executor and plugins): its open file descriptors do not grow`, async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const br = await makeBridge(lab);
    const conf = await writeConf(ws.dir, 'net.json', smallRange(lab.name('k'), br, '198.18.65.0/24', ws.dataDir));
    const scope: Scope = { lab, ws, netns: [ns], bridges: [br], markers: [netnsPath(ns)] };
    const before = await captureState(scope);
    const out: string[] = [];
    const deps = defaultDeps({ out: (s) => void out.push(s), err: (s) => void out.push(s) });
    deps.env = {}; // no CNI_PATH from the test's environment
    const cycle = async (i: number) => {
      out.length = 0;
      expect(await runProgram(attachCommand(deps), lab.args(ws, ns, 'eth1', conf), deps.io), `attach ${i}: ${out.join('')}`).toBe(0);
      expect(await runProgram(detachCommand(deps), lab.args(ws, ns, 'eth1'), deps.io), `detach ${i}: ${out.join('')}`).toBe(0);
    };
    const fds = async () => (await readdir('/proc/self/fd')).length;
    await cycle(0); // warm-up: modules loaded, lazily opened handles opened
    const fdsBefore = await fds();
    const start = Date.now();
    for (let i = 1; i <= IN_PROCESS_CYCLES; i++) await cycle(i);
    const fdsAfter = await fds();
    console.log(`load: ${IN_PROCESS_CYCLES} in-process attach/detach cycles in ${((Date.now() - start) / 1000).toFixed(1)}s; open fds of the process: ${fdsBefore} before, ${fdsAfter} after`);
    // a leak of one descriptor per run would add 100; a little slack for the test runner's own
    expect(fdsAfter, 'open fds of the long-lived process').toBeLessThanOrEqual(fdsBefore + 2);
    expectState(await captureState(scope), before, 'after all cycles');
  }, 120_000);
});

describe('load on a pod', () => {
  let api: StandInApiServer;
  let d: Docker;
  beforeAll(async () => {
    ({ d, api } = await startPodWorld());
  });
  afterAll(() => stopPodWorld(d, api, lab.prefix));

  it(`${CYCLES} attach/detach cycles on one pod (${POD_LANES} interfaces at a time): nothing leaks (annotation included), addresses are reused`, async () => {
    const ws = await lab.workspace();
    const br = await makeBridge(lab);
    const net = lab.name('k');
    const conf = await writeConf(ws.dir, 'net.json', smallRange(net, br, '198.18.64.0/24', ws.dataDir));
    const namespace = 'rel-load';
    const name = lab.name('p');
    const uid = `${lab.prefix}-${name}`;
    const STATUS = 'k8s.v1.cni.cncf.io/network-status';
    api.addPod(makePod({ name, namespace, uid, nodeName: hostname(), phase: 'Running', annotations: { [STATUS]: '[{"name":"kindnet","interface":"eth0","default":true}]' } }));
    const pod = await startPod(d, { name, namespace, uid, testLabel: lab.prefix });
    lab.defer('pod containers', () => removeContainers(d, lab.prefix));
    const netns = `/proc/${pod.pid}/ns/net`;
    const scope: Scope = {
      lab, ws, bridges: [br], netnsPaths: [netns], markers: [pod.sandboxId],
      annotation: () => api.getPod(namespace, name)?.metadata.annotations?.[STATUS] ?? null,
    };
    const args = (ifname: string, ...more: string[]) => [
      name, '-n', namespace, '--ifname', ifname, '--kubeconfig', api.kubeconfigPath, '--cache-dir', ws.cacheDir, '--cni-path', CNI_DIR,
      '--docker-host', dockerHost(), '--runtime', 'docker', ...more,
    ];
    const before = await captureState(scope);
    const fdsBefore = await openFdsOn([ws.dir], [netns]);
    const addrs = new Map<string, number>();
    const times = { attach: 0, detach: 0 };
    const start = Date.now();
    let cycles = 0;
    for (let round = 0; cycles < CYCLES; round++) {
      const lanes = Array.from({ length: Math.min(POD_LANES, CYCLES - cycles) }, (_, l) => `eth${l + 1}`);
      await Promise.all(lanes.map(async (ifname) => {
        const a = await runCli('attach', args(ifname, '--conf', conf, '-o', 'json'));
        expectOk(a);
        times.attach += a.ms;
        const addr = addressOf(a.stdout);
        addrs.set(addr, (addrs.get(addr) ?? 0) + 1);
        const status = JSON.parse(api.getPod(namespace, name)!.metadata.annotations![STATUS]!) as { interface: string; ips?: string[] }[];
        expect(status.find((s) => s.interface === ifname)?.ips, `network-status of ${ifname}: ${show(a)}`).toEqual([addr.split('/')[0]]);
        const dt = await runCli('detach', args(ifname));
        expectOk(dt);
        times.detach += dt.ms;
      }));
      cycles += lanes.length;
      await nothingLeft(ws.dataDir, ws.cacheDir, `after round ${round + 1} (${cycles} cycles)`);
      if (round % 10 === 9) expectState(await captureState(scope), before, `after ${cycles} cycles`);
    }
    expect(cycles).toBe(CYCLES);
    report(`pod ${namespace}/${name}`, cycles, addrs, Date.now() - start);
    console.log(`load: pod attach ${(times.attach / cycles).toFixed(0)} ms, detach ${(times.detach / cycles).toFixed(0)} ms on average (wall, per CLI run)`);
    expect([...addrs.keys()].every((a) => /^198\.18\.64\.1[0-3]\/24$/.test(a)), [...addrs.keys()].join(' ')).toBe(true);
    expectState(await captureState(scope), before, 'after all cycles');
    expect(await processesMarked([pod.sandboxId]), 'no plugin process left').toEqual([]);
    expect(await openFdsOn([ws.dir], [netns]), 'no fd open on the workspace or the namespace').toEqual(fdsBefore);
  }, 300_000);
});
