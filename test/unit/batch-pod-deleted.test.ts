/**
 * A pod deleted while a batch attaches to it (tryout: its line said "failed", the summary "attached to 5 of 7 pods; 2
 * failed (…)"): attached, its pod gone — neither attached nor a failure of the attach. Counted apart on its line, in the
 * summary and in -o json, with the cni-gc that frees what stays; the batch's exit code stays the first problem's (3,
 * as the single-pod command's for it).
 */
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { NotFoundError } from '../../src/errors.js';
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
