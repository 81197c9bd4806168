/**
 * A pod being deleted (metadata.deletionTimestamp set, kubectl's Terminating, its phase still Running): an outside
 * tester's attach to one went ahead silently. An attach (and its --dry-run) refuses it as it refuses a pod not Running
 * (exit 2, the words say it is being deleted and since when); a -l/--all attach skips it with one note, as it skips
 * pods on hostNetwork; detach and check of it go on (cleaning up is what one wants then).
 */
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { checkCommand } from '../../src/cli/check.js';
import { detachCommand } from '../../src/cli/detach.js';
import { beingDeleted } from '../../src/resolve/pod.js';
import { formatDuration } from '../../src/duration.js';
import type { Pod } from '../../src/resolve/kube.js';
import { manyPods, world } from '../fakes/world.js';

const attachArgs = ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'];

/** The pod as the API server leaves it after a delete with a grace period: deletionTimestamp = request + grace. */
function terminating(pod: Pod, requested: Date, grace = 30): void {
  pod.metadata!.deletionTimestamp = new Date(requested.getTime() + grace * 1000);
  pod.metadata!.deletionGracePeriodSeconds = grace;
}

describe('beingDeleted', () => {
  it('is undefined for a pod not being deleted; else since when the delete was asked for (deletionTimestamp minus its grace), how long ago, the grace period', () => {
    const w = world();
    expect(beingDeleted(w.pod)).toBeUndefined();
    terminating(w.pod, new Date('2026-12-02T13:00:00Z'), 30);
    expect(beingDeleted(w.pod, Date.parse('2026-12-02T13:00:12Z'))).toBe('since 2026-12-02T13:00:00Z, 12s ago, grace period 30s');
    // as the API JSON gives it (a string), without a grace period
    const raw = { metadata: { deletionTimestamp: '2026-12-02T13:00:00Z' } } as unknown as Pod;
    expect(beingDeleted(raw, Date.parse('2026-12-02T13:02:00Z'))).toBe('since 2026-12-02T13:00:00Z, 2m ago');
    // asked for this very second (a batch's watch sees it at once): "0s", as Go prints a zero duration (was "0ns ago")
    expect(beingDeleted(w.pod, Date.parse('2026-12-02T13:00:00.300Z'))).toBe('since 2026-12-02T13:00:00Z, 0s ago, grace period 30s');
    expect(formatDuration(0)).toBe('0s');
  });
});

describe('an attach to a pod being deleted', () => {
  it('is refused, exit 2, nothing run or written: the pod and its dry run alike', async () => {
    const w = world();
    terminating(w.pod, new Date(Date.now() - 5000));
    for (const extra of [[], ['--dry-run']]) {
      expect(await w.cli(attachCommand, [...attachArgs, ...extra])).toBe(2);
      expect(w.stderr()).toMatch(/^error: pod shop\/web-1 is being deleted \(since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, [45]s ago, grace period 30s\): its network goes with it; only running pods not being deleted are attached to\n$/);
      expect(w.stdout()).toBe('');
    }
    expect(w.exec.calls).toHaveLength(0);
    expect(w.kube.patches).toHaveLength(0);
  });

  it('detach and check of it go on', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attachArgs), w.stderr()).toBe(0);
    terminating(w.kube.pods.get('shop/web-1')!, new Date());
    expect(await w.cli(checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']), w.stderr()).toBe(0);
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--dry-run']), w.stderr()).toBe(0);
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('eth1 detached from pod shop/web-1 (network net)\n');
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toHaveLength(1);
  });
});

describe('a -l/--all attach with pods being deleted among them', () => {
  it('skips them with one note (one pod: since when; several: named), attaches the others, exit 0', async () => {
    const w = manyPods(4);
    terminating(w.kube.pods.get('shop/web-2')!, new Date('2026-12-02T13:00:00Z'));
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-']), w.stderr()).toBe(0);
    expect(w.stderr()).toMatch(/^note: skipped 1 pod being deleted \(shop\/web-2, since 2026-12-02T13:00:00Z, \S+ ago, grace period 30s\): its network goes with it$/m);
    expect(w.stderr()).not.toMatch(/web-2: /);
    expect(w.stdout()).toBe('eth1 attached to 3 of 3 pods\n');
    expect(w.exec.calls.filter((c) => c.command === 'ADD').map((c) => c.env.CNI_ARGS)).not.toContainEqual(expect.stringContaining('K8S_POD_NAME=web-2;'));

    const m = manyPods(4);
    for (const n of ['web-1', 'web-3']) terminating(m.kube.pods.get(`shop/${n}`)!, new Date());
    expect(await m.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-']), m.stderr()).toBe(0);
    expect(m.stderr()).toMatch(/^note: skipped 2 pods being deleted \(shop\/web-1, shop\/web-3\): their networks go with them$/m);
    expect(m.stdout()).toBe('eth1 attached to 2 of 2 pods\n');
    // and a detach of the batch goes on with every pod, those being deleted too
    expect(await m.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1']), m.stderr()).toBe(0);
    expect(m.stderr()).not.toMatch(/being deleted/);
  });

  it('only pods being deleted selected: nothing to do, said so', async () => {
    const w = manyPods(1);
    terminating(w.kube.pods.get('shop/web-1')!, new Date());
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    expect(w.stderr()).toMatch(/^note: no pods in namespace shop match app=web but those being deleted; nothing to do$/m);
    expect(w.exec.calls.filter((c) => c.command === 'ADD')).toHaveLength(0);
  });
});
