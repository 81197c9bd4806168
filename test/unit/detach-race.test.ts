/**
 * A detach batch and an attach of the same interface at once (an outside tester ran `cni-attach -l …` and `cni-detach
 * -l …` of the same pods together): the detach looked at a pod's node before the attach got there (nothing), and by
 * the time it read the cluster's records again (a batch lists them once, and again after its own writes) the attach
 * had finished and settled its record. The detach took that record for what an earlier detach left, and removed it
 * and the pod's network-status entry: the interface stayed up, its lease held, and nothing in the cluster said so.
 * Now a settled record of an interface the look-up found nothing of sends the detach to the node again, as it is now;
 * an attach still running (its write-ahead record, its command running) makes the pod busy.
 */
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { detachCommand } from '../../src/cli/detach.js';
import { listCommand } from '../../src/cli/list.js';
import { NETWORK_STATUS } from '../../src/resolve/network-status.js';
import { manyPods } from '../fakes/world.js';

const conf = ['--conf', '-'];
const batch = ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--parallel', '1'];

/**
 * web-1 attached; web-2's attach made in the world and then taken back out of it, to be put back — its node's files,
 * its record and its network-status entry — at the first records list that follows a write of the detach (web-1's
 * record removed): the attach of another command finishing between web-2's node look-up and that list.
 */
async function raced(o: { running?: boolean } = {}) {
  const w = manyPods(2);
  expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', ...conf])).toBe(0);
  const files0 = new Map(w.exec.files);
  const cms0 = structuredClone([...w.kube.configMaps.entries()]);
  expect(await w.cli(attachCommand, ['web-2', '-n', 'shop', '--ifname', 'eth1', ...conf])).toBe(0);
  const added = [...w.exec.files].filter(([k, v]) => files0.get(k) !== v);
  const records1 = structuredClone([...w.kube.configMaps.entries()]);
  const status2 = w.kube.pods.get('shop/web-2')!.metadata!.annotations![NETWORK_STATUS]!;
  // back to before web-2's attach
  for (const [k] of added) if (!files0.has(k)) w.exec.files.delete(k);
  w.kube.configMaps.clear();
  for (const [k, v] of cms0) w.kube.configMaps.set(k, v);
  delete w.kube.pods.get('shop/web-2')!.metadata!.annotations![NETWORK_STATUS];
  const keys0 = new Set(cms0.flatMap(([, c]) => Object.keys(c.data)));
  let finished = false;
  const list = w.kube.listConfigMaps.bind(w.kube);
  w.kube.listConfigMaps = async (ns, sel) => {
    if (!finished && w.kube.configMapCalls.some((c) => /^(patch|delete) /.test(c))) {
      finished = true;
      // (still running: only its write-ahead record, made by a command that runs — this process — on this host)
      if (!o.running) for (const [k, v] of added) w.exec.files.set(k, v);
      // (into its node's ConfigMap, made again as the attach makes it when web-1's detach removed it, empty)
      for (const [name, c] of records1) {
        for (const [k, v] of Object.entries(c.data)) {
          if (keys0.has(k)) continue;
          if (!w.kube.configMaps.has(name)) w.kube.configMaps.set(name, { ...structuredClone(c), data: {} });
          if (o.running) w.kube.configMaps.get(name)!.data[`attaching.uid-2.${Buffer.from('eth1').toString('hex')}.0123abcd`] = JSON.stringify({ ...JSON.parse(v), attaching: true, containerId: '', by: { host: hostname(), pid: process.pid } });
          else w.kube.configMaps.get(name)!.data[k] = v;
        }
      }
      if (!o.running) w.kube.pods.get('shop/web-2')!.metadata!.annotations![NETWORK_STATUS] = status2;
    }
    return list(ns, sel);
  };
  w.kube.configMapCalls.length = 0;
  return { w, finished: () => finished };
}

describe('a detach batch and an attach of the same interface at once', () => {
  it('an attach that finished after the look-up found nothing is detached (looked at again), not left up with its record and network-status entry removed', async () => {
    const { w, finished } = await raced();
    expect(await w.cli(detachCommand, batch)).toBe(0);
    expect(finished(), 'the attach finished during the batch').toBe(true);
    // before: "[2/2] shop/web-2: nothing attached as eth1; removed its network-status entry and its record in the
    // cluster, which an earlier detach left", exit 0 — and web-2's eth1 stayed on the node, unrecorded
    expect(w.stdout()).toBe('eth1 detached from 2 of 2 pods\n');
    expect(w.stderr()).not.toMatch(/earlier detach left/);
    expect([...w.exec.files.keys()].filter((k) => k.includes('/results/'))).toEqual([]);
    expect([...w.kube.configMaps.values()].flatMap((c) => Object.keys(c.data))).toEqual([]);
    expect(w.kube.pods.get('shop/web-2')!.metadata!.annotations![NETWORK_STATUS] ?? '').not.toContain('"eth1"');
    expect(await w.cli(listCommand, ['-n', 'shop'])).toBe(0);
    expect(w.stdout()).not.toMatch(/eth1/);
  });

  it('an attach still running then (its write-ahead record, its command running on this host): busy, as one pod\'s detach answers, its record kept', async () => {
    const { w, finished } = await raced({ running: true });
    expect(await w.cli(detachCommand, batch)).toBe(1);
    expect(finished()).toBe(true);
    // before: "nothing attached as eth1", exit 0, while that attach went on
    expect(w.stderr()).toMatch(/^\[2\/2\] shop\/web-2: (busy|failed): an attach of eth1 in pod shop\/web-2 is running \(pid \d+ on this host /m);
    expect([...w.kube.configMaps.values()].flatMap((c) => Object.values(c.data)).map((v) => JSON.parse(v) as { pod: string; attaching?: boolean })).toEqual([expect.objectContaining({ pod: 'web-2', attaching: true })]);
  });
});
