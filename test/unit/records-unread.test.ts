/**
 * The cluster's records that cannot be read (a 403: `--as` a user without `list configmaps` in the agent namespace;
 * a server that fails) for a pod the API does not have: cni-check and cni-detach say what is known, alike — the pod is
 * not found (exit 3) when nothing here knows it, with a note that the records could not be read and the right they
 * take; not known to hold nothing (exit 4) when this host's cache knew the pod; never "no longer exists" of a pod
 * nobody recorded, nor a note of a record "that could not be removed" nobody found (an outside tester's findings).
 */
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { detachCommand } from '../../src/cli/detach.js';
import { checkCommand } from '../../src/cli/check.js';
import { ApiStatusError, UnreachableError } from '../../src/errors.js';
import { world } from '../fakes/world.js';

const forbidden = (ns: string) =>
  new ApiStatusError(`listing configmaps in ${ns}: the API server answered 403 (Forbidden): configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "${ns}"`, 403, 'Forbidden', 'configmaps is forbidden');

describe('records that cannot be read, the pod not there', () => {
  it('a pod that never existed: check, detach and their dry runs all say it is not found (exit 3), with one note that the records could not be read and the RBAC right; nothing about a pod that "no longer exists" or a record removed', async () => {
    for (const ns of [undefined, 'cni-system']) {
      const w = world();
      w.kube.listConfigMaps = async (n) => {
        throw forbidden(n);
      };
      const agentNs = ns ? ['--agent-namespace', ns] : [];
      const note = `note: the cluster's attachment records could not be read (listing configmaps in ${ns ?? 'kube-system'}: the API server answered 403 (Forbidden): configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "${ns ?? 'kube-system'}"; this user may not list configmaps in namespace ${ns ?? 'kube-system'}, where they are kept (--agent-namespace): deploy/rbac.yaml grants it): whether pod shop/x existed and left an attachment on another node is not known; this host's cache holds nothing of it; run the same command again once they can be read\n`;
      for (const [make, extra] of [[checkCommand, []], [checkCommand, ['--dry-run']], [detachCommand, []], [detachCommand, ['--dry-run']]] as const) {
        const code = await w.cli(make, ['x', '-n', 'shop', '--ifname', 'net1', ...agentNs, ...extra]);
        expect([code, w.stdout(), w.stderr()], `${make.name} ${extra.join(' ')}`).toEqual([3, '', `${note}error: pods "x" not found in namespace "shop"\n`]);
      }
      expect(w.exec.calls.filter((c) => c.command === 'DEL' || c.command === 'CHECK')).toEqual([]);
    }
  });

  it('a server that fails (not a 403): the same, without the RBAC words', async () => {
    const w = world();
    w.kube.listConfigMaps = async () => {
      throw new UnreachableError('listing configmaps in kube-system: the API server answered 500 (Internal Server Error): etcdserver: request timed out');
    };
    for (const make of [checkCommand, detachCommand]) {
      expect(await w.cli(make, ['x', '-n', 'shop', '--ifname', 'net1'])).toBe(3);
      expect(w.stderr()).toBe(
        "note: the cluster's attachment records could not be read (listing configmaps in kube-system: the API server answered 500 (Internal Server Error): etcdserver: request timed out): whether pod shop/x existed and left an attachment on another node is not known; this host's cache holds nothing of it; run the same command again once they can be read\n" +
          'error: pods "x" not found in namespace "shop"\n',
      );
    }
  });

  it('a pod that is gone, which this host\'s cache knew (another interface): check and detach agree — not known to be nothing, exit 4, naming the right; its interface itself: detached, and its record said not found (not "could not be removed")', async () => {
    const w = world();
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    w.kube.pods.clear();
    w.runtime.sandboxes.clear();
    w.kube.listConfigMaps = async (n) => {
      throw forbidden(n);
    };
    const err =
      `error: nothing is attached as net1 in pod shop/web-1 in /var/lib/cni/results, and the cluster's attachment records could not be read (${forbidden('kube-system').message}; this user may not list configmaps in namespace kube-system, where they are kept (--agent-namespace): deploy/rbac.yaml grants it); ` +
      'they name the node of a pod that is gone: whether it is attached on another node is not known; run the same command again once they can be read, or on its node\n';
    for (const make of [checkCommand, detachCommand]) {
      expect(await w.cli(make, ['web-1', '-n', 'shop', '--ifname', 'net1'])).toBe(4);
      // it did exist: this host's cache recorded it
      expect(w.stderr()).toBe(`note: pod shop/web-1 no longer exists: using what the cache recorded for it, and looking up on this host (node-1) whether the sandbox it went into still runs\n${err}`);
    }
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stdout()).toBe('eth1 detached from pod shop/web-1 (network net)\n');
    expect(w.stderr()).toMatch(/^note: the cluster's attachment records could not be read \(.*403.*; this user may not list configmaps in namespace kube-system, .*\), so the record of the attachment, if the cluster has one, is not removed: cni-list -A shows it until cni-gc removes it$/m);
    expect(w.stderr()).not.toMatch(/could not be removed/);
  });

  it('a live pod, nothing attached, the records refused: nothing to do, and no note of an unfinished attach\'s record "that could not be removed"', async () => {
    const w = world();
    w.kube.listConfigMaps = async (n) => {
      throw forbidden(n);
    };
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'net1'])).toBe(0);
    expect(w.stderr()).toBe('note: nothing is attached as net1 in pod shop/web-1 (no cache entry under /var/lib/cni/results); nothing to do\n');
  });
});
