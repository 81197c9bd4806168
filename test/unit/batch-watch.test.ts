/**
 * Issue 12 (an outside tester): a pod deleted, or put into Terminating, after a -l attach listed it and before its turn
 * still got its ADD, then failed to write its network-status (404) and was counted apart, exit 3. The batch watches its
 * pods from the list on (one watch, cli/batch-watch.ts): such a pod's turn is skipped — its line says why, the summary
 * counts it skipped, nothing is done for it on the node or in the cluster, exit 0 as for a pod the list skipped. A
 * watch refused (403) leaves the batch as it was. cni-detach -l goes on with such pods (cleaning up is wanted), and
 * cni-check takes no -l at all. (A pod skipped so may end before the pod whose bookkeeping runs as it begins: the
 * progress lines are in the order pods end, so their numbers are not asserted here.)
 */
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { checkCommand } from '../../src/cli/check.js';
import { detachCommand } from '../../src/cli/detach.js';
import { ApiStatusError } from '../../src/errors.js';
import { bridgeResult } from '../fakes/executor.js';
import { makePod } from '../fakes/kube.js';
import { manyPods } from '../fakes/world.js';

const batch = ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--parallel', '1'];

/** manyPods(4), whose bridge ADD (and DEL) on web-1 first does `during` — a change of the cluster while web-1's plugin runs. */
function changedDuringWeb1(during: (w: ReturnType<typeof manyPods>) => void) {
  const w = manyPods(4);
  let once = false;
  w.exec.addPlugin('/opt/cni/bin/bridge', (c) => {
    if (!once && (c.command === 'ADD' || c.command === 'DEL') && c.env.CNI_ARGS?.includes('K8S_POD_NAME=web-1;')) {
      once = true;
      during(w);
    }
    return c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult(c.env.CNI_IFNAME!, c.env.CNI_NETNS!)) } : {};
  });
  return w;
}

/** Nothing of pod `name` anywhere: no plugin run in its netns, no network-status patch, no event, no record. */
function untouched(w: ReturnType<typeof manyPods>, name: string, netns: string) {
  expect(w.exec.calls.filter((c) => c.env.CNI_ARGS?.includes(`K8S_POD_NAME=${name};`) || c.env.CNI_NETNS === netns)).toEqual([]);
  expect(w.kube.patches.filter((p) => p.name === name)).toEqual([]);
  expect(w.kube.events.filter((e) => e.pod === name)).toEqual([]);
  expect(JSON.stringify([...w.kube.configMaps.values()])).not.toContain(name);
}

describe('a -l attach whose pod is deleted after the list, before its turn', () => {
  it('deleted while an earlier pod\'s ADD runs: skipped on its line (deleted), counted skipped in the summary, nothing done for it, exit 0; one watch, from the list\'s resourceVersion, ended with the batch', async () => {
    const w = changedDuringWeb1((w) => w.kube.removePod('shop', 'web-2'));
    const rv = w.kube.rv;
    expect(await w.cli(attachCommand, batch), w.stderr()).toBe(0);
    expect(w.stderr()).toMatch(/^\[\d\/4\] shop\/web-2: skipped: deleted after the pods were listed: its network went with it$/m);
    expect(w.stderr()).not.toMatch(/meanwhile|failed/);
    expect(w.stdout()).toBe('eth1 attached to 3 of 4 pods; 1 skipped, deleted meanwhile (shop/web-2)\n');
    untouched(w, 'web-2', '/proc/5002/ns/net');
    expect(w.exec.calls.filter((c) => c.command === 'ADD')).toHaveLength(3);
    expect(w.kube.podWatches).toEqual([`shop app=web@${rv}`]);
    expect(w.kube.openWatches.size).toBe(0);
  });

  it('put into Terminating (deletionTimestamp set) likewise: its line says since when; -o json gives it state "skipped", why, exit code 0', async () => {
    const w = changedDuringWeb1((w) => w.kube.terminatePod('shop', 'web-3', new Date(Date.now() - 2000), 30));
    expect(await w.cli(attachCommand, batch), w.stderr()).toBe(0);
    expect(w.stderr()).toMatch(/^\[\d\/4\] shop\/web-3: skipped: being deleted \(since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, [23]s ago, grace period 30s\): its network goes with it$/m);
    expect(w.stdout()).toBe('eth1 attached to 3 of 4 pods; 1 skipped, deleted meanwhile (shop/web-3)\n');
    untouched(w, 'web-3', '/proc/5003/ns/net');

    const j = changedDuringWeb1((w) => {
      w.kube.terminatePod('shop', 'web-3');
      w.kube.removePod('shop', 'web-4');
    });
    expect(await j.cli(attachCommand, [...batch, '-o', 'json']), j.stderr()).toBe(0);
    const out = JSON.parse(j.stdout()) as Record<string, unknown>[];
    expect(out.filter((r) => !r.ok)).toEqual([
      { pod: 'shop/web-3', ok: false, state: 'skipped', skipped: expect.stringMatching(/^being deleted \(since .*\): its network goes with it$/), exitCode: 0 },
      { pod: 'shop/web-4', ok: false, state: 'skipped', skipped: 'deleted after the pods were listed: its network went with it', exitCode: 0 },
    ]);
    expect(out.filter((r) => r.ok).map((r) => r.pod)).toEqual(['shop/web-1', 'shop/web-2']);
  });

  it('beside a real failure, the exit code is the failure\'s and the closing line counts the failure only', async () => {
    const w = changedDuringWeb1((w) => w.kube.removePod('shop', 'web-2'));
    const ok = w.exec.plugins.get('/opt/cni/bin/bridge')!;
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' && c.env.CNI_ARGS?.includes('K8S_POD_NAME=web-4;') ? { code: 1, stderr: 'bad conf' } : ok(c)));
    expect(await w.cli(attachCommand, batch)).toBe(1);
    expect(w.stdout()).toBe('eth1 attached to 2 of 4 pods; 1 failed (shop/web-4); 1 skipped, deleted meanwhile (shop/web-2)\n');
    expect(w.stderr()).toMatch(/^error: attach failed for 1 of 4 pods$/m);
  });

  it('a pod made again under the same name (another uid) is not the one listed: the listed pod\'s deletion skips it all the same', async () => {
    const w = changedDuringWeb1((w) => {
      w.kube.removePod('shop', 'web-2');
      const again = w.kube.add(makePod({ name: 'web-2', namespace: 'shop', uid: 'uid-again', labels: { app: 'web' } }));
      w.kube.podChanged('ADDED', again);
    });
    expect(await w.cli(attachCommand, batch), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('eth1 attached to 3 of 4 pods; 1 skipped, deleted meanwhile (shop/web-2)\n');
    expect(w.stderr()).toMatch(/^\[\d\/4\] shop\/web-2: skipped: deleted after the pods were listed: its network went with it$/m);
  });
});

describe('a -l attach whose pod is relabelled out of the selection before its turn', () => {
  it('is skipped, its line saying it is no longer selected (not deleted: the watch cache\'s DELETED carries its old labels, so the pod is read), counted apart from the deleted in the summary, "skipped" in -o json, exit 0, nothing done for it', async () => {
    const w = changedDuringWeb1((w) => {
      w.kube.relabelPod('shop', 'web-3', { app: 'other' });
      w.kube.removePod('shop', 'web-4');
    });
    expect(await w.cli(attachCommand, batch), w.stderr()).toBe(0);
    expect(w.stderr()).toMatch(/^\[\d\/4\] shop\/web-3: skipped: no longer selected by -l app=web: its labels changed after the pods were listed$/m);
    expect(w.stderr()).toMatch(/^\[4\/4\] shop\/web-4: skipped: deleted after the pods were listed: its network went with it$/m);
    expect(w.stdout()).toBe('eth1 attached to 2 of 4 pods; 1 skipped, deleted meanwhile (shop/web-4); 1 skipped, relabelled out of the selection (shop/web-3)\n');
    untouched(w, 'web-3', '/proc/5003/ns/net');

    const j = changedDuringWeb1((w) => w.kube.relabelPod('shop', 'web-3', { app: 'other' }));
    expect(await j.cli(attachCommand, [...batch, '-o', 'json']), j.stderr()).toBe(0);
    expect((JSON.parse(j.stdout()) as Record<string, unknown>[]).filter((r) => !r.ok)).toEqual([
      { pod: 'shop/web-3', ok: false, state: 'skipped', skipped: 'no longer selected by -l app=web: its labels changed after the pods were listed', exitCode: 0 },
    ]);
  });

  it('relabelled out and back in before its turn (ADDED again): not skipped; a label added that keeps it selected: not skipped', async () => {
    const w = changedDuringWeb1((w) => {
      w.kube.relabelPod('shop', 'web-3', { app: 'other' });
      w.kube.relabelPod('shop', 'web-3', { app: 'web', back: 'yes' });
      w.kube.relabelPod('shop', 'web-4', { app: 'web', tier: 'b' });
    });
    expect(await w.cli(attachCommand, batch), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('eth1 attached to 4 of 4 pods\n');
    expect(w.stderr()).not.toMatch(/skipped/);
  });
});

describe('-A', () => {
  it('watches the pods of every namespace with the selector (one request), and skips a pod of another namespace deleted before its turn', async () => {
    const w = changedDuringWeb1((w) => w.kube.removePod('edge', 'web-9'));
    w.kube.add(makePod({ name: 'web-9', namespace: 'edge', uid: 'uid-9', labels: { app: 'web' } }));
    const rv = w.kube.rv;
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-A', '--ifname', 'eth1', '--conf', '-', '--parallel', '1']), w.stderr()).toBe(0);
    expect(w.kube.podWatches).toEqual([`-A app=web@${rv}`]);
    expect(w.stderr()).toMatch(/^\[\d\/5\] edge\/web-9: skipped: deleted after the pods were listed: its network went with it$/m);
    expect(w.stdout()).toBe('eth1 attached to 4 of 5 pods; 1 skipped, deleted meanwhile (edge/web-9)\n');
  });
});

describe('without the watch', () => {
  it('refused (403: no watch on pods): the batch goes on as before it — the deleted pod gets its ADD and is counted apart (exit 3) — said in one line at -v only', async () => {
    for (const v of [[], ['-v', '1']]) {
      const w = changedDuringWeb1((w) => w.kube.removePod('shop', 'web-2'));
      w.kube.refuseWatch = new ApiStatusError('watching pods in shop matching app=web: the API server answered 403: Forbidden', 403, 'Forbidden', 'Forbidden');
      expect(await w.cli(attachCommand, [...batch, ...v])).toBe(3);
      expect(w.stderr()).toMatch(/^\[2\/4\] shop\/web-2: attached but its pod was deleted meanwhile: /m);
      const line = /^debug: the batch's pods are not watched \(watching pods in shop matching app=web: the API server answered 403: Forbidden\): a pod deleted after the list is still attached to in its turn$/m;
      if (v.length) expect(w.stderr()).toMatch(line);
      else expect(w.stderr()).not.toMatch(/not watched/);
      expect(w.kube.podWatches).toHaveLength(1);
    }
  });

  it('a watch that ends mid-batch (not refused) is reopened once from the last resourceVersion seen, and a deletion it then sees skips the pod', async () => {
    const { UnreachableError } = await import('../../src/errors.js');
    const w = manyPods(4);
    const ok = w.exec.plugins.get('/opt/cni/bin/bridge')!;
    let once = false;
    w.exec.addPlugin('/opt/cni/bin/bridge', async (c) => {
      if (!once && c.command === 'ADD' && c.env.CNI_ARGS?.includes('K8S_POD_NAME=web-1;')) {
        once = true;
        w.kube.podChanged('MODIFIED', w.kube.pods.get('shop/web-1')!); // a change of nothing that matters: its resourceVersion
        for (const ww of [...w.kube.openWatches]) ww.end(new UnreachableError('watching pods in shop matching app=web: closed by the API server'));
        await new Promise((r) => setTimeout(r, 10));
        w.kube.terminatePod('shop', 'web-4'); // seen by the reopened watch only
      }
      return ok(c);
    });
    const rv = w.kube.rv;
    expect(await w.cli(attachCommand, [...batch, '-v', '1']), w.stderr()).toBe(0);
    expect(w.kube.podWatches).toEqual([`shop app=web@${rv}`, `shop app=web@${rv + 1}`]);
    expect(w.stderr()).toMatch(/^debug: the watch of the batch's pods ended \(watching pods in shop matching app=web: closed by the API server\): reopened once, from resourceVersion \d+$/m);
    expect(w.stderr()).toMatch(/^\[\d\/4\] shop\/web-4: skipped: being deleted/m);
    expect(w.kube.openWatches.size).toBe(0);
  });
});

describe('cni-detach -l and cni-check keep as they are', () => {
  it('a -l detach goes on with a pod being deleted or deleted during the batch (its DEL cleans up), and asks for no watch; cni-check takes no -l', async () => {
    const w = manyPods(4);
    expect(await w.cli(attachCommand, batch), w.stderr()).toBe(0);
    let once = false;
    const ok = w.exec.plugins.get('/opt/cni/bin/bridge')!;
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => {
      if (!once && c.command === 'DEL' && c.env.CNI_ARGS?.includes('K8S_POD_NAME=web-1;')) {
        once = true;
        w.kube.terminatePod('shop', 'web-2');
      }
      return ok(c);
    });
    w.kube.podWatches.length = 0;
    expect(await w.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--parallel', '1']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('eth1 detached from 4 of 4 pods\n');
    expect(w.exec.calls.filter((c) => c.command === 'DEL' && c.env.CNI_ARGS?.includes('K8S_POD_NAME=web-2;'))).toHaveLength(1);
    expect(w.kube.podWatches).toEqual([]);
    expect(await w.cli(checkCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1'])).toBe(2);
  });
});

describe('a -l attach whose pod goes after its turn began, right before its ADD (issue 12: the watch was read at the turn\'s start and after the ADD only)', () => {
  /**
   * manyPods(3), whose web-2 is changed (`change`) while its write-ahead record is being written — after its turn's
   * start (its look-up, its lock and checks on the node), the last step before its intent and ADD.
   */
  function goneBeforeAdd(change: (w: ReturnType<typeof manyPods>) => void) {
    const w = manyPods(3);
    let once = false;
    const when = (data: Record<string, string | null>) => {
      if (once || !Object.entries(data).some(([k, v]) => k.startsWith('attaching.uid-2.') && v !== null)) return;
      once = true;
      change(w);
    };
    const [patch, create] = [w.kube.patchConfigMapData.bind(w.kube), w.kube.createConfigMap.bind(w.kube)];
    w.kube.patchConfigMapData = async (ns, name, data) => (when(data), patch(ns, name, data));
    w.kube.createConfigMap = async (cm) => (when(cm.data), create(cm));
    return w;
  }

  /** Nothing of web-2 left: no ADD or intent, no lock, no record (its write-ahead removed), no event, no network-status. */
  function nothingLeft(w: ReturnType<typeof manyPods>) {
    expect(w.exec.calls.filter((c) => c.command === 'ADD' && c.env.CNI_ARGS?.includes('K8S_POD_NAME=web-2;'))).toEqual([]);
    expect([...w.exec.files.keys()].filter((f) => f.includes('a'.repeat(63) + '2'))).toEqual([]);
    expect(JSON.stringify([...w.kube.configMaps.values()])).not.toContain('web-2');
    expect(w.kube.events.filter((e) => e.pod === 'web-2')).toEqual([]);
    expect(w.kube.patches.filter((p) => p.name === 'web-2')).toEqual([]);
  }

  it('deleted: skipped as at its turn\'s start (its line, the summary, exit 0), its lock and write-ahead record released, no ADD; the others attached', async () => {
    const w = goneBeforeAdd((w) => w.kube.removePod('shop', 'web-2'));
    expect(await w.cli(attachCommand, batch), w.stderr()).toBe(0);
    expect(w.stderr()).toMatch(/^\[2\/3\] shop\/web-2: skipped: deleted after the pods were listed: its network went with it$/m);
    expect(w.stderr()).not.toMatch(/meanwhile|failed|note:/);
    expect(w.stdout()).toBe('eth1 attached to 2 of 3 pods; 1 skipped, deleted meanwhile (shop/web-2)\n');
    nothingLeft(w);
    expect(w.exec.calls.filter((c) => c.command === 'ADD')).toHaveLength(2);
  });

  it('put into Terminating, or relabelled out of the selection, likewise; -o json gives it state "skipped", exit code 0', async () => {
    const t = goneBeforeAdd((w) => w.kube.terminatePod('shop', 'web-2'));
    expect(await t.cli(attachCommand, [...batch, '-o', 'json']), t.stderr()).toBe(0);
    expect((JSON.parse(t.stdout()) as Record<string, unknown>[]).filter((r) => !r.ok)).toEqual([
      { pod: 'shop/web-2', ok: false, state: 'skipped', skipped: expect.stringMatching(/^being deleted \(since .*\): its network goes with it$/), exitCode: 0 },
    ]);
    nothingLeft(t);

    const r = goneBeforeAdd((w) => w.kube.relabelPod('shop', 'web-2', { app: 'other' }));
    expect(await r.cli(attachCommand, batch), r.stderr()).toBe(0);
    expect(r.stdout()).toBe('eth1 attached to 2 of 3 pods; 1 skipped, relabelled out of the selection (shop/web-2)\n');
    nothingLeft(r);
  });
});
