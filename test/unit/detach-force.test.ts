/**
 * cni-detach --force and what each failure leaves (README "cni-detach --force"): --force forgets what a plugin refuses
 * (DEL fails, the plugin is missing, its DEL timed out), never what a node could not be asked (UnreachableError: the
 * session or agent lost) nor what the user's signal stopped; the printed state and the exit code say what is left, and
 * the cluster's record stays wherever the node's does.
 */
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { detachCommand } from '../../src/cli/detach.js';
import { UnreachableError } from '../../src/errors.js';
import { listRecords } from '../../src/resolve/records.js';
import { resultPath } from '../../src/cni/cache.js';
import { manyPods, SANDBOX, world } from '../fakes/world.js';

const target = ['web-1', '-n', 'shop', '--ifname', 'eth1'];
const LOST = 'running sh on node node-1: the session was lost before it told how the command ended';
const entry = resultPath('/var/lib/cni', { network: 'net', containerId: SANDBOX, ifname: 'eth1' });

/** A world with eth1 attached in shop/web-1 (recorded on node-1 and in the cluster). */
async function attached() {
  const w = world();
  expect(await w.cli(attachCommand, [...target, '--conf', '-'])).toBe(0);
  expect(w.exec.files.has(entry)).toBe(true);
  expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
  return w;
}

/** The bridge plugin answering DEL with `del` (VERSION as usual). */
function onDel(w: Awaited<ReturnType<typeof attached>>, del: () => ReturnType<Parameters<typeof w.exec.addPlugin>[1]>): void {
  w.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'DEL' ? del() : {}));
}

describe('cni-detach --force: what each failure leaves', () => {
  it('the node lost during the DEL: the record stays (node and cluster), exit 4, and the message says so and what to run later — with and without --force', async () => {
    for (const force of [['--force'], []]) {
      const w = await attached();
      onDel(w, () => {
        throw new UnreachableError(LOST);
      });
      // before: --force forgot the cache entry and the cluster's record (exit 0, "DEL did not succeed")
      expect(await w.cli(detachCommand, [...target, ...force])).toBe(4);
      expect(w.stdout()).toBe('');
      expect(w.stderr()).toContain(`${LOST}; whether its DEL ran is not known, so nothing on the node is known to be gone: the record of eth1 in pod shop/web-1 was kept on the node and in the cluster`);
      expect(w.stderr()).toContain(`run \`kubectl cni-detach web-1 -n shop --ifname eth1${force.length ? ' --force' : ''}\` again once the node can be reached (cni-list and cni-gc still find it by its record)`);
      expect(w.stderr()).not.toMatch(/forgotten|removed its cache file/);
      expect(w.exec.files.has(entry)).toBe(true);
      expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
      // once the node answers, the same command finishes it
      onDel(w, () => ({}));
      expect(await w.cli(detachCommand, [...target, ...force])).toBe(0);
      expect(w.exec.files.has(entry)).toBe(false);
      expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
    }
  });

  it('a DEL whose request never reached the node (its pods/exec upgrade answered 404: the agent pod deleted): exit 4, "did not run: nothing was changed", the record as it was (no DEL mark: not "detach stopped"), and the same command again, not "once the node can be reached" (it said "whether its DEL ran is not known")', async () => {
    const SAID = 'exec in pod kube-system/cni-attach-agent-x: the API server answered 404 (NotFound) to its WebSocket upgrade: pod kube-system/cni-attach-agent-x no longer exists (the agent pod was deleted): nothing was run in it; running the same command again starts a new agent pod';
    for (const force of [['--force'], []]) {
      const w = await attached();
      const before = new Map(w.exec.files);
      onDel(w, () => {
        throw Object.assign(new UnreachableError(SAID), { notSent: true });
      });
      expect(await w.cli(detachCommand, [...target, ...force])).toBe(4);
      expect(w.stderr()).toContain(`${SAID}; its DEL did not run (the request never reached the node): nothing was changed, and the record of eth1 in pod shop/web-1 is kept on the node and in the cluster`);
      expect(w.stderr()).toContain(`run \`kubectl cni-detach web-1 -n shop --ifname eth1${force.length ? ' --force' : ''}\` again\n`);
      expect(w.stderr()).not.toMatch(/not known|once the node can be reached/);
      expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
      expect([...w.exec.files.keys()].sort()).toEqual([...before.keys()].sort());
      expect(w.exec.files.get(entry)).toBe(before.get(entry));
      onDel(w, () => ({}));
      expect(await w.cli(detachCommand, [...target, ...force])).toBe(0);
      expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
    }
  });

  it('the node lost while looking for the plugin: the record stays, exit 4', async () => {
    const w = await attached();
    w.exec.isExecutable = async () => {
      throw new UnreachableError(LOST);
    };
    // before: "DEL did not succeed (…session was lost…)", the record forgotten, exit 0
    expect(await w.cli(detachCommand, [...target, '--force'])).toBe(4);
    expect(w.stderr()).toContain('the record of eth1 in pod shop/web-1 was kept on the node and in the cluster (--force forgets what a plugin refuses, not what a node could not be asked)');
    expect(w.exec.files.has(entry)).toBe(true);
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
  });

  it('the node lost after the DEL, while removing the record on it: exit 4, the cluster\'s record stays, the message says the DEL ran', async () => {
    const w = await attached();
    const remove = w.exec.removeFile.bind(w.exec);
    w.exec.removeFile = async (p) => {
      if (p.includes('/results/')) throw new UnreachableError(LOST);
      return remove(p);
    };
    expect(await w.cli(detachCommand, [...target, '--force'])).toBe(4);
    expect(w.stderr()).toContain(`${LOST}; its DEL ran, but whether its record on the node was removed is not known: the record of eth1 in pod shop/web-1 was kept in the cluster (--force forgets what a plugin refuses, not what a node could not be asked)`);
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
  });

  it('what a plugin refuses is forgotten, saying DEL did not succeed and what remains (exit 0): it fails, it timed out (may remain), it is missing (no DEL ran: they remain, and the --conf FILE detach that frees them)', async () => {
    const ran = /; removed its cache file results\/net-f+-eth1; its DEL \(plugin bridge\) failed: the link eth1 in pod shop\/web-1 and its IPAM lease may remain if no DEL freed them\n$/;
    const cases: [string, (w: Awaited<ReturnType<typeof attached>>) => void, RegExp, RegExp][] = [
      ['fails', (w) => onDel(w, () => ({ code: 1, stderr: 'gone wrong' })), /DEL did not succeed \(plugin bridge failed on DEL: exited with code 1: gone wrong\)/, ran],
      // before: "… may remain if no DEL freed them", though no DEL had run
      ['missing', (w) => void w.exec.plugins.delete('/opt/cni/bin/bridge'), /DEL did not succeed \(CNI plugin "bridge" not found in \/opt\/cni\/bin, \/usr\/lib\/cni on fake node\)/,
        /; removed its cache file results\/net-f+-eth1; no DEL ran, so the link eth1 in pod shop\/web-1 and its IPAM lease remain; `kubectl cni-detach web-1 -n shop --ifname eth1 --conf FILE` \(FILE: the config of network net\) runs its DEL once its plugins can run\n$/],
      ['timed out', (w) => onDel(w, () => ({ code: null, timedOut: true })), /DEL did not succeed \(plugin bridge failed on DEL: timed out after \S+ and was killed with its process group\)/, ran],
    ];
    for (const [, make, said, remains] of cases) {
      const w = await attached();
      make(w);
      expect(await w.cli(detachCommand, [...target, '--force'])).toBe(0);
      expect(w.stdout()).toMatch(said);
      expect(w.stdout()).toMatch(remains);
      expect(w.stdout()).not.toMatch(/no DEL ran.*may remain|may remain.*no DEL ran/);
      expect(w.exec.files.has(entry)).toBe(false);
      expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
    }
  });

  it('a chain whose DEL failed part-way: the line says which DELs ran, which failed and which did not run (last plugin first); when its first plugin\'s DEL did not run, the --conf FILE detach that runs it (tryout 8 F6: nothing named it, nothing records them after)', async () => {
    const chain = JSON.stringify({ cniVersion: '1.0.0', name: 'net', plugins: [{ type: 'bridge' }, { type: 'tuning' }, { type: 'portmap' }] });
    for (const [failing, said] of [
      ['tuning', "of its chain's DELs (last plugin first) that of portmap ran, that of tuning failed, that of bridge did not run: the link eth1 in pod shop/web-1 and its IPAM lease may remain if no DEL freed them; `kubectl cni-detach web-1 -n shop --ifname eth1 --conf FILE` (FILE: the config of network net) runs its DEL once its plugins can run"],
      ['portmap', "of its chain's DELs (last plugin first) that of portmap failed, that of tuning, bridge did not run: the link eth1 in pod shop/web-1 and its IPAM lease may remain if no DEL freed them; `kubectl cni-detach web-1 -n shop --ifname eth1 --conf FILE` (FILE: the config of network net) runs its DEL once its plugins can run"],
      ['bridge', "of its chain's DELs (last plugin first) that of portmap, tuning ran, that of bridge failed: the link eth1 in pod shop/web-1 and its IPAM lease may remain if no DEL freed them"],
    ] as const) {
      const w = world({ stdin: chain });
      for (const t of ['tuning', 'portmap']) w.exec.addPlugin(`/opt/cni/bin/${t}`, (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(c.stdin.prevResult) } : {}));
      expect(await w.cli(attachCommand, [...target, '--conf', '-']), w.stderr()).toBe(0);
      const runs: string[] = [];
      for (const t of ['bridge', 'tuning', 'portmap']) w.exec.addPlugin(`/opt/cni/bin/${t}`, (c) => (c.command === 'DEL' ? (runs.push(t), t === failing ? { code: 1, stderr: 'no' } : {}) : {}));
      expect(await w.cli(detachCommand, [...target, '--force']), w.stderr()).toBe(0);
      expect(w.stdout()).toMatch(new RegExp(`; ${said.replace(/[()|]/g, '\\$&')}\n$`));
      expect(runs).toEqual(['portmap', 'tuning', 'bridge'].slice(0, ['portmap', 'tuning', 'bridge'].indexOf(failing) + 1));
    }
  });

  it('-l --force: a pod whose DEL did not succeed is "forgotten", with why and what may remain, on its line, in the summary (counted apart from detached) and in -o json (it said "detached", "eth1 detached from 3 of 3 pods", {"detached":["net"]})', async () => {
    for (const output of [[], ['-o', 'json']]) {
      const w = manyPods(3);
      expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
      w.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'DEL' && c.env.CNI_ARGS?.includes('K8S_POD_NAME=web-2;') ? { code: 1, stderr: 'gone wrong' } : {}));
      expect(await w.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--force', ...output]), w.stderr()).toBe(0);
      const why = 'DEL did not succeed (plugin bridge failed on DEL: exited with code 1: gone wrong)';
      const mayRemain = 'its DEL (plugin bridge) failed: the link eth1 in pod shop/web-2 and its IPAM lease may remain if no DEL freed them';
      expect(w.stderr()).toMatch(new RegExp(`^\\[\\d/3\\] shop/web-2: forgotten eth1: ${why.replace(/[()]/g, '\\$&')}; ${mayRemain.replace(/[()]/g, '\\$&')}$`, 'm'));
      expect(w.stderr()).toMatch(/^\[\d\/3\] shop\/web-1: detached eth1$/m);
      expect(w.stderr()).not.toMatch(/web-2: detached/);
      if (output.length) {
        const out = JSON.parse(w.stdout()) as Record<string, unknown>[];
        expect(out.find((r) => r.pod === 'shop/web-2')).toEqual({ pod: 'shop/web-2', ok: true, detached: [], forgotten: [{ network: 'net', delError: why.slice('DEL did not succeed ('.length, -1), mayRemain }] });
        expect(out.find((r) => r.pod === 'shop/web-1')).toEqual({ pod: 'shop/web-1', ok: true, detached: ['net'] });
      } else {
        expect(w.stdout()).toBe('eth1 detached from 2 of 3 pods; forgotten in 1 (shop/web-2): their DEL did not succeed, so eth1 and its IPAM lease may remain there (each pod\'s line says why, and which DELs ran)\n');
      }
      // forgotten all the same: the node's records and the cluster's
      expect([...w.exec.files.keys()].filter((k) => k.includes('/results/'))).toEqual([]);
      expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
    }
  });

  it('the user\'s signal during the DEL: stopped (130), the record stays on the node and in the cluster', async () => {
    const w = await attached();
    onDel(w, () => ({ code: null, interrupted: 'SIGINT' }));
    expect(await w.cli(detachCommand, [...target, '--force'])).toBe(130);
    // one form for a stop of one pod: command, signal, where, what it left (before: "plugin bridge stopped on DEL: by …")
    expect(w.stderr()).toMatch(/^error: detach stopped by SIGINT \(Ctrl-C\) during plugin bridge's DEL \(it was killed\): the record stays: run the command again/m);
    expect(w.exec.files.has(entry)).toBe(true);
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
  });

  it('the API lost when removing the cluster\'s record: forgotten on the node (exit 0), and the note says cni-list -A shows it until the same cni-detach or cni-gc removes it', async () => {
    const w = await attached();
    onDel(w, () => ({ code: 1, stderr: 'gone wrong' }));
    w.kube.patchConfigMapData = async () => {
      throw new UnreachableError('patching configmap kube-system/cni-attach-node-node-1: connect ECONNREFUSED 127.0.0.1:6443');
    };
    expect(await w.cli(detachCommand, [...target, '--force'])).toBe(0);
    expect(w.stdout()).toMatch(/^eth1 forgotten in pod shop\/web-1 \(network net\): DEL did not succeed/);
    expect(w.stderr()).toContain("note: the cluster's record of the attachment could not be removed (patching configmap kube-system/cni-attach-node-node-1: connect ECONNREFUSED 127.0.0.1:6443); cni-list -A shows it until `kubectl cni-detach web-1 -n shop --ifname eth1` (run again) or cni-gc removes it\n");
    expect(w.exec.files.has(entry)).toBe(false);
  });
});
