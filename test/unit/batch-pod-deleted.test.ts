/**
 * A pod deleted while a batch attaches to it (tryout: its line said "failed", the summary "attached to 5 of 7 pods; 2
 * failed (…)"): attached, its pod gone — neither attached nor a failure of the attach. Counted apart on its line, in the
 * summary and in -o json, with the cni-gc that frees what stays; the batch's exit code stays the first problem's (3,
 * as the single-pod command's for it).
 */
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { ApiStatusError, NotFoundError } from '../../src/errors.js';
import { makePod } from '../fakes/kube.js';
import { manyPods } from '../fakes/world.js';

const batch = ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'];

/** web-2 (and `also`) deleted while its attach ran: its network-status PATCH answers 404, as the API server's. */
function deletedDuring(names: string[], failing: string[] = []) {
  const w = manyPods(4);
  const update = w.kube.updatePodAnnotation.bind(w.kube);
  w.kube.updatePodAnnotation = async (ns, name, ...rest) => {
    if (names.includes(name)) throw new NotFoundError(`pod ${ns}/${name} not found`);
    return update(ns, name, ...rest);
  };
  // a pod whose plugin fails: a real failure beside it
  w.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' && failing.some((f) => c.env.CNI_ARGS?.includes(`K8S_POD_NAME=${f};`)) ? { code: 1, stderr: 'bad conf' } : c.command === 'ADD' ? { stdout: JSON.stringify({ cniVersion: '1.0.0', interfaces: [{ name: 'eth1', sandbox: c.env.CNI_NETNS }], ips: [{ address: '198.18.0.2/24', interface: 0 }] }) } : {}));
  return w;
}

describe('a batch attach whose pod was deleted meanwhile', () => {
  it('is counted apart from attached and failed: its line, the summary (with the cni-gc that frees what stays), exit 3', async () => {
    const w = deletedDuring(['web-2']);
    expect(await w.cli(attachCommand, batch)).toBe(3);
    expect(w.stderr()).toMatch(/^\[\d\/4\] shop\/web-2: attached but its pod was deleted meanwhile: eth1 is attached, but pod shop\/web-2 was deleted meanwhile \(its network-status could not be written: pod shop\/web-2 not found\)/m);
    expect(w.stderr()).not.toMatch(/web-2: failed/);
    expect(w.stdout()).toBe('eth1 attached to 3 of 4 pods; 1 attached but its pod was deleted meanwhile (shop/web-2): `kubectl cni-gc` frees what stays\n');
    expect(w.stderr()).toMatch(/^error: attach: of 4 pods, 1 attached but its pod was deleted meanwhile$/m);
  });

  it('several: "their pods were", in the summary and the closing line (an outside tester saw "2 of 10 pods attached but its pod was deleted meanwhile")', async () => {
    const w = deletedDuring(['web-2', 'web-4']);
    expect(await w.cli(attachCommand, batch)).toBe(3);
    expect(w.stdout()).toBe('eth1 attached to 2 of 4 pods; 2 attached but their pods were deleted meanwhile (shop/web-2, shop/web-4): `kubectl cni-gc` frees what stays\n');
    expect(w.stderr()).toMatch(/^error: attach: of 4 pods, 2 attached but their pods were deleted meanwhile$/m);
    // each pod's own line, and its -o json, say it of the one pod
    expect(w.stderr()).toMatch(/^\[\d\/4\] shop\/web-4: attached but its pod was deleted meanwhile: /m);
    const f = deletedDuring(['web-2', 'web-3'], ['web-1']);
    expect(await f.cli(attachCommand, batch)).toBe(1);
    expect(f.stderr()).toMatch(/^error: attach failed for 1 of 4 pods; 2 attached but their pods were deleted meanwhile$/m);
  });

  it('beside a real failure: each counted as what it is; the exit code is the first problem\'s', async () => {
    const w = deletedDuring(['web-3'], ['web-1']);
    expect(await w.cli(attachCommand, batch)).toBe(1);
    expect(w.stdout()).toBe('eth1 attached to 2 of 4 pods; 1 failed (shop/web-1); 1 attached but its pod was deleted meanwhile (shop/web-3): `kubectl cni-gc` frees what stays\n');
    expect(w.stderr()).toMatch(/^error: attach failed for 1 of 4 pods; 1 attached but its pod was deleted meanwhile$/m);
  });

  it('-o json: ok false, state "apart", what it is, its error and exit code', async () => {
    const w = deletedDuring(['web-2']);
    expect(await w.cli(attachCommand, [...batch, '-o', 'json'])).toBe(3);
    const out = JSON.parse(w.stdout()) as Record<string, unknown>[];
    expect(out.find((r) => r.pod === 'shop/web-2')).toEqual({
      pod: 'shop/web-2', ok: false, state: 'apart', apart: 'attached but its pod was deleted meanwhile',
      error: expect.stringMatching(/^eth1 is attached, but pod shop\/web-2 was deleted meanwhile/), exitCode: 3,
    });
    expect(out.filter((r) => r.ok)).toHaveLength(3);
  });
});

/**
 * Task h29b: a pod deleted during its own turn — after the batch's watch could say so. What its turn did decides: a
 * turn that did nothing because the pod was gone (its sandbox not found, its ADD failed and left nothing) is a skip
 * like one before its turn (exit 0, "skipped", why); one whose ADD ran and stands is attached-then-deleted (counted
 * apart, exit 3), its record attached, which cni-gc frees as any record of a gone pod.
 */
/**
 * w, whose pod `name` is deleted right after the next pod list, its sandbox with it (before the batch's look-up); with
 * `unwatched`, the batch's watch is refused (403), so that only its turn can find it gone.
 */
function deletedAfterList(w: ReturnType<typeof manyPods>, name: string, unwatched = false) {
  if (unwatched) w.kube.refuseWatch = new ApiStatusError('watching pods: the API server answered 403: Forbidden', 403, 'Forbidden', 'Forbidden');
  const list = w.kube.listPods.bind(w.kube);
  w.kube.listPods = async (...a) => {
    const got = await list(...a);
    w.kube.listPods = list;
    w.kube.removePod('shop', name);
    w.runtime.sandboxes.delete(`shop/${name}`);
    return got;
  };
  return w;
}

describe('a -l attach whose pod is deleted during its own turn', () => {
  const serial = [...batch, '--parallel', '1'];

  it('gone before its sandbox was found (the watch had not said so: refused here): skipped, its line saying why, exit 0 (it failed: "no sandbox", exit 3)', async () => {
    const w = deletedAfterList(manyPods(4), 'web-2', true);
    expect(await w.cli(attachCommand, serial), w.stderr()).toBe(0);
    expect(w.stderr()).toMatch(/^\[2\/4\] shop\/web-2: skipped: deleted after the pods were listed: its network went with it \(its sandbox look-up: .+\)$/m);
    expect(w.stdout()).toBe('eth1 attached to 3 of 4 pods; 1 skipped, deleted meanwhile (shop/web-2)\n');
    const j = deletedAfterList(manyPods(2), 'web-2', true);
    expect(await j.cli(attachCommand, [...serial, '-o', 'json'])).toBe(0);
    expect((JSON.parse(j.stdout()) as Record<string, unknown>[])[1]).toEqual({ pod: 'shop/web-2', ok: false, state: 'skipped', skipped: expect.stringMatching(/^deleted after the pods were listed: its network went with it \(its sandbox look-up: /), exitCode: 0 });
  });

  it('deleted during its ADD, which failed in the sandbox going away and was rolled back: skipped (nothing of it left: no record, no lease), exit 0 (it failed, exit 1)', async () => {
    const w = manyPods(4);
    const ok = w.exec.plugins.get('/opt/cni/bin/bridge')!;
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => {
      if (c.command === 'ADD' && c.env.CNI_ARGS?.includes('K8S_POD_NAME=web-2;')) {
        w.kube.removePod('shop', 'web-2');
        return { code: 1, stdout: JSON.stringify({ cniVersion: '1.0.0', code: 999, msg: `failed to open netns "${c.env.CNI_NETNS}": no such file or directory` }) };
      }
      return ok(c);
    });
    expect(await w.cli(attachCommand, serial), w.stderr()).toBe(0);
    expect(w.stderr()).toMatch(/^\[2\/4\] shop\/web-2: skipped: deleted during its turn: its network went with it \(its attach: .*failed to open netns.*\(rolled back: nothing was left behind\)\)$/m);
    expect(w.stdout()).toBe('eth1 attached to 3 of 4 pods; 1 skipped, deleted meanwhile (shop/web-2)\n');
    expect(JSON.stringify([...w.kube.configMaps.values()])).not.toContain('web-2');
  });

  it('a failure of its own, its pod alive: still a failure (the pod is read again only for a failed pod, and not when its node could not be reached)', async () => {
    const w = manyPods(2);
    const reads: string[] = [];
    const get = w.kube.getPod.bind(w.kube);
    w.kube.getPod = async (ns, name) => (reads.push(name), get(ns, name));
    const ok = w.exec.plugins.get('/opt/cni/bin/bridge')!;
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' && c.env.CNI_ARGS?.includes('K8S_POD_NAME=web-2;') ? { code: 1, stderr: 'bad conf' } : ok(c)));
    expect(await w.cli(attachCommand, serial)).toBe(1);
    expect(w.stdout()).toBe('eth1 attached to 1 of 2 pods; 1 failed (shop/web-2)\n');
    expect(reads).toEqual(['web-2']);
    reads.length = 0;
    const { UnreachableError } = await import('../../src/errors.js');
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => {
      if (c.command === 'ADD') throw Object.assign(new UnreachableError('exec in pod kube-system/agent: connect ECONNREFUSED'), { notSent: true });
      return ok(c);
    });
    expect(await w.cli(attachCommand, [...serial, '--ifname', 'eth2'])).toBe(4);
    expect(reads).toEqual([]);
  });

  it('deleted after its ADD ran: attached-then-deleted, counted apart (exit 3), its record attached — what cni-gc frees', async () => {
    const w = deletedDuring(['web-2']);
    expect(await w.cli(attachCommand, batch)).toBe(3);
    const { listRecords } = await import('../../src/resolve/records.js');
    const rec = (await listRecords(w.kube, 'kube-system')).find((r) => r.pod === 'web-2');
    expect(rec).toMatchObject({ pod: 'web-2', ifname: 'eth1' });
    expect(rec?.attaching).toBeUndefined();
    expect(rec?.interrupted).toBeUndefined();
  });
});

describe('a pod put into Terminating (graceful delete) during its own ADD (tryout 8 F1: reported plainly attached, exit 0)', () => {
  /** manyPods(n) whose web-2 ADD first puts web-2 into Terminating (its network-status PATCH still lands, as the API server's). */
  function terminatedDuring(n: number, name = 'web-2') {
    const w = manyPods(n);
    const ok = w.exec.plugins.get('/opt/cni/bin/bridge')!;
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => {
      if (c.command === 'ADD' && c.env.CNI_ARGS?.includes(`K8S_POD_NAME=${name};`)) w.kube.terminatePod('shop', name, new Date(Date.now() - 1000), 3);
      return ok(c);
    });
    return w;
  }
  const gone = /eth1 is attached, but pod shop\/web-2 was deleted meanwhile \(being deleted \(since \S+Z, [0-9]s ago, grace period 3s\): its network goes with it\)/;

  it('-l: counted apart as the 404 case ("attached but its pod was deleted meanwhile", cni-gc frees what stays), exit 3; its record attached', async () => {
    const w = terminatedDuring(3);
    expect(await w.cli(attachCommand, [...batch, '--parallel', '1']), w.stderr()).toBe(3);
    expect(w.stderr()).toMatch(new RegExp(`^\\[2/3\\] shop/web-2: attached but its pod was deleted meanwhile: ${gone.source}`, 'm'));
    expect(w.stdout()).toBe('eth1 attached to 2 of 3 pods; 1 attached but its pod was deleted meanwhile (shop/web-2): `kubectl cni-gc` frees what stays\n');
    const { listRecords } = await import('../../src/resolve/records.js');
    expect((await listRecords(w.kube, 'kube-system')).find((r) => r.pod === 'web-2')).toMatchObject({ ifname: 'eth1' });
  });

  it('-l --no-annotate (no PATCH to answer): the batch\'s watch saw it, counted apart likewise', async () => {
    const w = terminatedDuring(3);
    expect(await w.cli(attachCommand, [...batch, '--parallel', '1', '--no-annotate']), w.stderr()).toBe(3);
    expect(w.stderr()).toMatch(/^\[2\/3\] shop\/web-2: attached but its pod was deleted meanwhile: eth1 is attached, but pod shop\/web-2 was deleted meanwhile \(being deleted \(since .*\): its network goes with it\)/m);
  });

  it('one pod: the PATCH\'s answer says so, at no request more: the result printed, exit 3, the cni-gc that frees what stays', async () => {
    const w = terminatedDuring(2);
    const reads: string[] = [];
    const get = w.kube.getPod.bind(w.kube);
    w.kube.getPod = async (ns, name) => (reads.push(name), get(ns, name));
    expect(await w.cli(attachCommand, ['web-2', '-n', 'shop', '--ifname', 'eth1', '--conf', '-']), w.stderr()).toBe(3);
    expect(w.stdout()).toMatch(/^eth1 attached to pod shop\/web-2 /);
    expect(w.stderr()).toMatch(new RegExp(`^error: ${gone.source}`, 'm'));
    expect(w.stderr()).toMatch(/`kubectl cni-gc` frees what stays of the attachment on node \S+ \(its interface, its IPAM lease\) once the pod is gone/);
    expect(reads).toEqual(['web-2']);
    // a pod not being deleted: exit 0 as before
    const v = manyPods(1);
    expect(await v.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
  });
});

describe('--no-annotate: no network-status PATCH to answer whether the pod went during the ADD (issue 12: exit 0, plainly attached)', () => {
  /** manyPods(n) whose web-2 ADD first does `change` (its pod put into Terminating, or deleted at once). */
  function changedDuringAdd(n: number, change: (w: ReturnType<typeof manyPods>) => void) {
    const w = manyPods(n);
    const ok = w.exec.plugins.get('/opt/cni/bin/bridge')!;
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => {
      if (c.command === 'ADD' && c.env.CNI_ARGS?.includes('K8S_POD_NAME=web-2;')) change(w);
      return ok(c);
    });
    const reads: string[] = [];
    const get = w.kube.getPod.bind(w.kube);
    w.kube.getPod = async (ns, name) => (reads.push(name), get(ns, name));
    return { w, reads };
  }
  const one = ['web-2', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--no-annotate'];

  it('one pod put into Terminating: one read of the pod after the ADD says so — the result printed, the same error as with the PATCH, exit 3; its record attached, for cni-gc', async () => {
    const { w, reads } = changedDuringAdd(2, (w) => w.kube.terminatePod('shop', 'web-2', new Date(Date.now() - 1000), 3));
    expect(await w.cli(attachCommand, one), w.stderr()).toBe(3);
    expect(w.stdout()).toMatch(/^eth1 attached to pod shop\/web-2 /);
    expect(w.stderr()).toMatch(/^error: eth1 is attached, but pod shop\/web-2 was deleted meanwhile \(being deleted \(since \S+Z, [0-9]s ago, grace period 3s\): its network goes with it\); `kubectl cni-gc` frees what stays of the attachment on node \S+ \(its interface, its IPAM lease\) once the pod is gone$/m);
    expect(reads).toEqual(['web-2', 'web-2']);
    expect(w.kube.patches).toEqual([]);
    expect(w.kube.events).toEqual([]);
    const { listRecords } = await import('../../src/resolve/records.js');
    const rec = (await listRecords(w.kube, 'kube-system')).find((r) => r.pod === 'web-2');
    expect(rec).toMatchObject({ ifname: 'eth1', noAnnotate: true });
    expect(rec?.attaching).toBeUndefined();
  });

  it('one pod deleted at once (the read answers 404), or replaced by a pod of its name: deleted during the attach, exit 3; a pod that stays: exit 0, one read more', async () => {
    const { w } = changedDuringAdd(2, (w) => w.kube.removePod('shop', 'web-2'));
    expect(await w.cli(attachCommand, one), w.stderr()).toBe(3);
    expect(w.stderr()).toMatch(/^error: eth1 is attached, but pod shop\/web-2 was deleted meanwhile \(deleted during the attach: its network went with it\); `kubectl cni-gc` frees what stays/m);

    const { w: r } = changedDuringAdd(2, (w) => {
      w.kube.removePod('shop', 'web-2');
      w.kube.add(makePod({ name: 'web-2', namespace: 'shop', uid: 'uid-again', labels: { app: 'web' } }));
    });
    expect(await r.cli(attachCommand, one), r.stderr()).toBe(3);
    expect(r.stderr()).toMatch(/was deleted meanwhile \(deleted during the attach: its network went with it\)/);

    const { w: v, reads } = changedDuringAdd(2, () => undefined);
    expect(await v.cli(attachCommand, one), v.stderr()).toBe(0);
    expect(v.stderr()).toBe('');
    expect(reads).toEqual(['web-2', 'web-2']);
    // a read that fails tells nothing: attached, exit 0, as before
    const { w: u } = changedDuringAdd(2, () => undefined);
    const get = u.kube.getPod.bind(u.kube);
    let n = 0;
    u.kube.getPod = async (ns, name) => {
      if (++n === 2) throw new ApiStatusError('getting pod shop/web-2: the API server answered 500', 500, 'InternalError', 'boom');
      return get(ns, name);
    };
    expect(await u.cli(attachCommand, one), u.stderr()).toBe(0);
  });

  it('-l whose watch is refused (403): each pod read after its ADD, as one pod is — counted apart likewise, exit 3; with the watch, no read (the watch tells)', async () => {
    const { w, reads } = changedDuringAdd(3, (w) => w.kube.terminatePod('shop', 'web-2', new Date(Date.now() - 1000), 3));
    w.kube.refuseWatch = new ApiStatusError('watching pods: the API server answered 403: Forbidden', 403, 'Forbidden', 'Forbidden');
    expect(await w.cli(attachCommand, [...batch, '--parallel', '1', '--no-annotate']), w.stderr()).toBe(3);
    expect(w.stderr()).toMatch(/^\[2\/3\] shop\/web-2: attached but its pod was deleted meanwhile: eth1 is attached, but pod shop\/web-2 was deleted meanwhile \(being deleted \(since .*\): its network goes with it\)/m);
    expect(w.stdout()).toBe('eth1 attached to 2 of 3 pods; 1 attached but its pod was deleted meanwhile (shop/web-2): `kubectl cni-gc` frees what stays\n');
    expect(reads).toEqual(['web-1', 'web-2', 'web-3']);

    const { w: v, reads: none } = changedDuringAdd(3, (w) => w.kube.terminatePod('shop', 'web-2', new Date(Date.now() - 1000), 3));
    expect(await v.cli(attachCommand, [...batch, '--parallel', '1', '--no-annotate']), v.stderr()).toBe(3);
    expect(v.stderr()).toMatch(/^\[2\/3\] shop\/web-2: attached but its pod was deleted meanwhile: eth1 is attached, but pod shop\/web-2 was deleted meanwhile \(being deleted \(since .*\): its network goes with it\)/m);
    expect(none).toEqual([]);
  });
});

describe('a -l detach whose pod is deleted during its own turn (no change: kept so)', () => {
  it('gone before its sandbox look-up: its DEL runs without a netns and frees its lease — detached, exit 0, with notes that say so', async () => {
    const { detachCommand } = await import('../../src/cli/detach.js');
    const w = manyPods(3);
    expect(await w.cli(attachCommand, batch), w.stderr()).toBe(0);
    deletedAfterList(w, 'web-2');
    expect(await w.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--parallel', '1'])).toBe(0);
    expect(w.stdout()).toBe('eth1 detached from 3 of 3 pods\n');
    expect(w.stderr()).toMatch(/^note: pod shop\/web-2 was deleted meanwhile, so there is no network-status annotation to update/m);
    expect(w.exec.calls.filter((c) => c.command === 'DEL' && c.env.CNI_ARGS?.includes('K8S_POD_NAME=web-2;'))).toHaveLength(1);
  });
});
