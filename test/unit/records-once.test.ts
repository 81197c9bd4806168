/**
 * One command lists the cluster's records (the agent namespace's ConfigMaps, resolve/records.ts) once, and reuses the
 * answer (resolve/kube.ts listsOncePerCommand, given by cli/targets.ts connect): an outside tester counted 6 lists of
 * `GET …/kube-system/configmaps?labelSelector=…managed-by…` for one cni-detach and 4 for a cni-check that found
 * nothing, each a request through the API server listing every node's records. It lists again only after its own
 * change of the records, and once where it must see other commands' changes: a detach's busy check right before its
 * DEL (cli/targets.ts refuseIfAttaching `anew`: an attach begun since the first list).
 */
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { detachCommand } from '../../src/cli/detach.js';
import { checkCommand } from '../../src/cli/check.js';
import { gcCommand } from '../../src/cli/gc.js';
import { listCommand } from '../../src/cli/list.js';
import { ApiStatusError } from '../../src/errors.js';
import { listAnew, listsOncePerCommand } from '../../src/resolve/kube.js';
import { FakeKube } from '../fakes/kube.js';
import { manyPods, world } from '../fakes/world.js';

const LIST = 'list kube-system';
const conf = ['--conf', '-'];

describe('the records are listed once per command', () => {
  it('cni-check, cni-detach (nothing attached, then attached), cni-attach, cni-list: the ConfigMap requests of each, and what each said', async () => {
    const w = world();
    const run = async (make: Parameters<typeof w.cli>[0], args: string[]) => {
      w.kube.configMapCalls.length = 0;
      const code = await w.cli(make, args);
      return { code, calls: [...w.kube.configMapCalls], out: w.stdout(), err: w.stderr() };
    };
    // nothing attached: was 4 lists (check), 6 (detach)
    expect(await run(checkCommand, ['web-1', '-n', 'shop', '--ifname', 'net9'])).toEqual({ code: 3, calls: [LIST], out: '', err: 'error: nothing is attached as net9 in pod shop/web-1 (no cache entry under /var/lib/cni/results)\n' });
    expect(await run(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'net9'])).toEqual({
      code: 0,
      // the second: the busy check right before the DEL lists anew (an attach begun since the first would be missed)
      calls: [LIST, LIST],
      out: '',
      err: 'note: nothing is attached as net9 in pod shop/web-1 (no cache entry under /var/lib/cni/results); nothing to do\n',
    });
    // attach lists none: its writes only (the write-ahead's patch, the create, the settle)
    const a = await run(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', ...conf]);
    expect([a.code, a.calls]).toEqual([0, ['patch kube-system/cni-attach-node-node-1', 'create kube-system/cni-attach-node-node-1', 'patch kube-system/cni-attach-node-node-1']]);
    const c = await run(checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']);
    expect([c.code, c.calls, c.err]).toEqual([0, [LIST], '']);
    for (const args of [['-A'], ['web-1', '-n', 'shop'], ['-n', 'shop']]) {
      const l = await run(listCommand, args);
      expect([l.code, l.calls, l.err], args.join(' ')).toEqual([0, [LIST], '']);
      expect(l.out).toMatch(/^NAMESPACE|^POD/);
      expect(l.out).toMatch(/web-1 +eth1 +net +198\.18\.0\.2\/24 +attached/);
    }
    // was 3 lists before the removal
    const d = await run(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']);
    expect([d.code, d.calls, d.err]).toEqual([0, [LIST, LIST, 'patch kube-system/cni-attach-node-node-1', 'delete kube-system/cni-attach-node-node-1@3'], '']);
    expect(d.out).toMatch(/^eth1 detached from pod shop\/web-1/);
    // a pod nobody knows: was 2 lists each
    for (const make of [checkCommand, detachCommand]) {
      expect(await run(make, ['x', '-n', 'shop', '--ifname', 'net1'])).toEqual({ code: 3, calls: [LIST], out: '', err: 'error: pods "x" not found in namespace "shop"\n' });
    }
  });

  it('-l: one list for the batch (was 4 with attachments, 1 + 1 per pod and step without: 11 for 3 pods), and one after the batch removed records, for its note of gone pods; cni-gc one (was 2)', async () => {
    const w = manyPods(3);
    const run = async (make: Parameters<typeof w.cli>[0], args: string[]) => {
      w.kube.configMapCalls.length = 0;
      const code = await w.cli(make, args);
      return { code, calls: [...w.kube.configMapCalls] };
    };
    expect((await run(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', ...conf])).calls.filter((c) => c === LIST)).toEqual([]);
    expect(await run(gcCommand, [])).toEqual({ code: 0, calls: [LIST] });
    const patch = 'patch kube-system/cni-attach-node-node-1';
    expect(await run(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1'])).toEqual({ code: 0, calls: [LIST, patch, patch, patch, 'delete kube-system/cni-attach-node-node-1@9', LIST] });
    expect(await run(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1'])).toEqual({ code: 0, calls: [LIST] });
  });

  it('listsOncePerCommand: a list is asked once (an error too), each answer a copy; a write of the command, or listAnew, makes the next list a request; the rest goes through', async () => {
    const kube = new FakeKube();
    await kube.createConfigMap({ name: 'a', namespace: 'kube-system', labels: { x: 'y' }, data: { k: 'v' } });
    kube.configMapCalls.length = 0;
    const api = listsOncePerCommand(kube);
    const first = await api.listConfigMaps('kube-system', 'x=y');
    first[0]!.data.k = 'changed by a reader';
    expect(await api.listConfigMaps('kube-system', 'x=y')).toEqual([expect.objectContaining({ name: 'a', data: { k: 'v' } })]);
    expect(kube.configMapCalls).toEqual(['list kube-system']);
    // another namespace or selector is another list
    await api.listConfigMaps('other', 'x=y');
    expect(kube.configMapCalls).toEqual(['list kube-system', 'list other']);
    // the command's own write: listed again, and seen
    await api.patchConfigMapData('kube-system', 'a', { k2: 'v2' });
    expect((await api.listConfigMaps('kube-system', 'x=y'))[0]!.data).toEqual({ k: 'v', k2: 'v2' });
    await api.listConfigMaps('kube-system', 'x=y');
    expect(kube.configMapCalls.filter((c) => c === 'list kube-system')).toHaveLength(2);
    // another command's write is not seen until listAnew
    await kube.patchConfigMapData('kube-system', 'a', { k3: 'v3' });
    expect((await api.listConfigMaps('kube-system', 'x=y'))[0]!.data).toEqual({ k: 'v', k2: 'v2' });
    listAnew(api);
    expect((await api.listConfigMaps('kube-system', 'x=y'))[0]!.data).toEqual({ k: 'v', k2: 'v2', k3: 'v3' });
    expect(kube.configMapCalls.filter((c) => c === 'list kube-system')).toHaveLength(3);
    // a refusal is the answer for the command: asked once
    const refusing = new FakeKube();
    let asked = 0;
    refusing.listConfigMaps = async () => {
      asked++;
      throw new ApiStatusError('listing configmaps in kube-system: the API server answered 403 (Forbidden): configmaps is forbidden', 403, 'Forbidden', 'configmaps is forbidden');
    };
    const r = listsOncePerCommand(refusing);
    await expect(r.listConfigMaps('kube-system', 'x=y')).rejects.toThrow(/403/);
    await expect(r.listConfigMaps('kube-system', 'x=y')).rejects.toThrow(/403/);
    expect(asked).toBe(1);
    // everything else is the api's own, this bound to it
    expect(api.defaultNamespace).toBe('default');
    expect(await api.listPods(undefined)).toEqual([]);
    expect(kube.listCalls).toBe(1);
  });
});
