/**
 * What cni-detach and cni-check say of a pod that has no running sandbox (a tryout found a note that claimed an
 * attachment of a gone sandbox whenever a pod had none): said only where something of this pod is recorded, in the
 * words of the command (a CHECK runs no DEL), and for a pod replaced by another of its name (a new uid, no sandbox yet;
 * the old pod's sandbox still running) what the cache holds of the earlier pod, whether its sandbox runs, and the
 * cni-gc that frees it.
 */
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { checkCommand } from '../../src/cli/check.js';
import { detachCommand } from '../../src/cli/detach.js';
import { makePod } from '../fakes/kube.js';
import { manyPods, SANDBOX, world } from '../fakes/world.js';

const target = ['web-1', '-n', 'shop', '--ifname', 'eth1'];
const OLD_NOTE = /belongs to a sandbox that is gone|a DEL runs without/;

/** eth1 attached to shop/web-1 (uid-1), then the pod replaced by a new web-1 (uid-2) that has no sandbox yet. */
async function replaced(oldSandboxRuns: boolean) {
  const w = world();
  expect(await w.cli(attachCommand, [...target, '--conf', '-'])).toBe(0);
  w.kube.pods.clear();
  w.kube.add(makePod({ name: 'web-1', namespace: 'shop', uid: 'uid-2', node: 'node-1' }));
  // the old pod's sandbox still runs (its kubelet has not stopped it yet), or is gone too
  if (!oldSandboxRuns) w.runtime.sandboxes.clear();
  return w;
}

const earlier = (state: string) =>
  `pod shop/web-1 (uid uid-2) has no running sandbox on this host (node-1) (not yet, or not any more), and nothing is attached as eth1 in it; what the cache holds of eth1 for pod shop/web-1: eth1 of network net is of an earlier pod of that name (uid uid-1), attached to its sandbox ${SANDBOX.slice(0, 12)}, ${state}: \`kubectl cni-gc\` frees it (its DEL runs in that sandbox's network namespace while it runs, without one once it is gone)`;

describe('a pod with no running sandbox: what is said', () => {
  it('a live pod whose sandbox died, with eth1 recorded: detach notes that sandbox is gone and that DEL runs without its namespace, once', async () => {
    const w = world();
    expect(await w.cli(attachCommand, [...target, '--conf', '-'])).toBe(0);
    w.runtime.sandboxes.clear();
    expect(await w.cli(detachCommand, target)).toBe(0);
    expect(w.stderr()).toBe(`note: pod shop/web-1 has no running sandbox on this host (node-1): the sandbox ${SANDBOX.slice(0, 12)} its eth1 went into is gone, and its interface with it; DEL runs without a network namespace, to free its IPAM lease\n`);
    expect(w.exec.calls.find((c) => c.command === 'DEL')!.env.CNI_NETNS).toBe('');
  });

  it('cni-check of a pod whose sandbox died: no note of a DEL (a check runs none), the error says there is nothing to CHECK and what frees it; its dry run alike', async () => {
    for (const dry of [[], ['--dry-run']]) {
      const w = world();
      expect(await w.cli(attachCommand, [...target, '--conf', '-'])).toBe(0);
      w.runtime.sandboxes.clear();
      expect(await w.cli(checkCommand, [...target, ...dry])).toBe(3);
      expect(w.stderr()).not.toMatch(/DEL runs|note:/);
      expect(w.stderr()).toMatch(/^error: pod shop\/web-1 has no running sandbox on this host \(node-1\): nothing to CHECK; what the cache holds of eth1 for it was attached to a sandbox that is gone .*`kubectl cni-detach web-1 -n shop --ifname eth1` frees it$/m);
    }
  });

  it('a live pod with no sandbox and nothing recorded: no sandbox note (detach, its dry run), only "nothing is attached"', async () => {
    for (const dry of [[], ['--dry-run']]) {
      const w = world();
      w.runtime.sandboxes.clear();
      expect(await w.cli(detachCommand, [...target, ...dry])).toBe(0);
      expect(w.stderr()).not.toMatch(/no running sandbox|sandbox .* is gone/);
      expect(w.stderr()).not.toMatch(OLD_NOTE);
    }
  });

  it('a batch detach: the note only for the pods whose entry it DELs, none for pods with nothing recorded (no sandbox either)', async () => {
    const w = manyPods(3);
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    // every pod's sandbox gone: web-1 had eth1, the others nothing
    w.runtime.sandboxes.clear();
    expect(await w.cli(detachCommand, ['-A', '--all', '--ifname', 'eth1'])).toBe(0);
    const notes = w.stderr().split('\n').filter((l) => /no running sandbox/.test(l));
    expect(notes, w.stderr()).toHaveLength(1);
    expect(notes[0]).toMatch(/pod shop\/web-1 has no running sandbox .*: the sandbox a{12} its eth1 went into is gone/);
    expect(w.stderr()).not.toMatch(OLD_NOTE);
  });

  it('a pod replaced by another of its name (new uid, no sandbox yet): cni-check says the old pod\'s entry and its sandbox still running, and the cni-gc that frees it — not a gone sandbox; exit 3', async () => {
    for (const [runs, state] of [[true, 'which still runs there'], [false, 'which no longer runs there']] as const) {
      for (const dry of [[], ['--dry-run']]) {
        const w = await replaced(runs);
        expect(await w.cli(checkCommand, [...target, ...dry])).toBe(3);
        expect(w.stderr()).toBe(`error: ${earlier(state)}; nothing to CHECK\n`);
      }
    }
  });

  it('a replaced pod: cni-detach and its dry run say the same in a note (no sandbox-gone claim), exit 0, nothing run', async () => {
    for (const dry of [[], ['--dry-run']]) {
      const w = await replaced(true);
      expect(await w.cli(detachCommand, [...target, ...dry])).toBe(0);
      expect(w.stderr()).toContain(`note: ${earlier('which still runs there')}\n`);
      expect(w.stderr()).not.toMatch(OLD_NOTE);
      expect(w.stderr()).not.toMatch(/its eth1 went into is gone/);
      expect(w.exec.calls.filter((c) => c.command === 'DEL')).toEqual([]);
      if (dry.length) expect(w.stdout()).toMatch(/nothing is recorded/);
    }
  });

  it('a replaced pod whose new sandbox runs: cni-check\'s "nothing is attached" adds the earlier pod\'s entry and its cni-gc', async () => {
    const w = await replaced(false);
    w.runtime.add('shop', 'web-1', 'uid-2', { id: 'b'.repeat(64), pid: 4343, netnsPath: '/proc/4343/ns/net' });
    w.exec.netns.add('/proc/4343/ns/net');
    expect(await w.cli(checkCommand, target)).toBe(3);
    expect(w.stderr()).toMatch(/^error: nothing is attached as eth1 in pod shop\/web-1 \(no cache entry under \S+\); what the cache holds of eth1 for pod shop\/web-1: eth1 of network net is of an earlier pod of that name \(uid uid-1\), attached to its sandbox f{12}, which no longer runs there: `kubectl cni-gc` frees it/m);
  });
});
