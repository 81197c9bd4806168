/**
 * Records live in the ConfigMaps of the agent namespace (--agent-namespace, default kube-system): a detach with
 * another one than its attach's found and removed the attachment on the node, found no record of it where it looked,
 * and said only `net1 detached …` while the attach's record stayed, saying attached (an outside tester's finding). It
 * now removes that record where the node's entry says it is, and says so; where it cannot (no rights there, a gone
 * pod's node not known, an earlier version's entry naming no namespace) it says so in one note — where it looked,
 * the namespace the record stays in (NS to fill in for an earlier version's entry), and what removes it — and the
 * commands it names do. What it names removes that
 * one record and nothing else: not a cni-gc with that flag, which recorded there every other attachment of the node
 * (recorded in the first namespace), records that went stale at their next ordinary detach (tryout 8; issue 12: gc no
 * longer copies them, unit test records). An attach that finds its attachment there, made with another namespace,
 * does not copy its record either.
 */
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { detachCommand } from '../../src/cli/detach.js';
import { listRecords } from '../../src/resolve/records.js';
import { ApiStatusError, UnreachableError } from '../../src/errors.js';
import { thisHost } from '../../src/exec/host.js';
import { manyPods, world } from '../fakes/world.js';

const attach = (ifname: string, ...more: string[]) => ['web-1', '-n', 'shop', '--ifname', ifname, '--conf', '-', ...more];
const detach = (ifname: string, ...more: string[]) => ['web-1', '-n', 'shop', '--ifname', ifname, ...more];
const lines = (s: string) => s.split('\n').filter(Boolean);
const KEY = (ifname: string) => `${'f'.repeat(64)}.${Buffer.from(ifname).toString('hex')}`;

/** Apply a `kubectl patch configmap NAME -n NS --type merge -p '{"data":…}'` a note printed, as kubectl would: in `ns` (the note's NS filled in, or the namespace it names). */
async function kubectlPatch(w: ReturnType<typeof world>, note: string, ns: string): Promise<void> {
  const m = /`kubectl patch configmap (\S+) -n (\S+) --type merge -p '([^']+)'`/.exec(note);
  expect(m, note).not.toBeNull();
  if (m![2] !== 'NS') expect(m![2]).toBe(ns);
  await w.kube.patchConfigMapData(ns, m![1]!, JSON.parse(m![3]!).data);
}

/** Strip the agent namespace from every cache entry of `w`'s node, as a version before it was kept wrote them. */
function asEarlierVersion(w: ReturnType<typeof world>): void {
  for (const [f, text] of w.exec.files) {
    if (!f.includes('/results/') && !f.includes('/intents/')) continue;
    const { cniAttachRecordsNamespace: _ns, ...rest } = JSON.parse(text) as Record<string, unknown>;
    w.exec.files.set(f, JSON.stringify(rest));
  }
}

describe('a detach with another --agent-namespace than its attach', () => {
  it('attach in kube-system, detach with --agent-namespace other; and the reverse (attach --agent-namespace nosuch, detach with the default): the record goes from where its entry says it is, said in a note (before: only a note naming what removes it, the record left saying attached)', async () => {
    for (const [attachNs, detachNs] of [[undefined, 'other'], ['nosuch', undefined]] as const) {
      const w = world();
      const flag = (ns: string | undefined) => (ns ? ['--agent-namespace', ns] : []);
      expect(await w.cli(attachCommand, attach('net1', ...flag(attachNs)))).toBe(0);
      expect(await w.cli(attachCommand, attach('net3', ...flag(detachNs)))).toBe(0);
      expect(await w.cli(detachCommand, detach('net1', ...flag(detachNs)))).toBe(0);
      expect(w.stdout()).toBe('net1 detached from pod shop/web-1 (network net)\n');
      // its entry on the node names the namespace its attach recorded it in: its record goes from there
      const theirs = attachNs ?? 'kube-system';
      expect(lines(w.stderr())).toEqual([`note: removed the record of net1 of pod shop/web-1 in namespace ${theirs} too (its attach recorded it there, not in ${detachNs ?? 'kube-system'}: its entry on node node-1 said so)`]);
      expect(await listRecords(w.kube, theirs)).toEqual([]);
      // and nothing else: the attachment of the node recorded where the detach looked stays recorded there alone
      expect((await listRecords(w.kube, detachNs ?? 'kube-system')).map((r) => r.ifname)).toEqual(['net3']);
      // --no-annotate alike (its record's removal is the same patch)
      expect(await w.cli(attachCommand, attach('net2', '--no-annotate', ...flag(attachNs)))).toBe(0);
      expect(await w.cli(detachCommand, detach('net2', '--no-annotate', ...flag(detachNs)))).toBe(0);
      expect(lines(w.stderr())).toEqual([`note: removed the record of net2 of pod shop/web-1 in namespace ${theirs} too (its attach recorded it there, not in ${detachNs ?? 'kube-system'}: its entry on node node-1 said so)`]);
      expect(await listRecords(w.kube, theirs)).toEqual([]);
    }
  });

  it('the record there cannot be removed (no rights in that namespace: 403): said with why, then the note naming what removes it; the command it names does', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attach('net1'))).toBe(0);
    const patch = w.kube.patchConfigMapData.bind(w.kube);
    w.kube.patchConfigMapData = async (ns, name, data) => {
      if (ns === 'kube-system') throw new ApiStatusError('patching configmap kube-system/cni-attach-node-node-1: the API server answered 403 Forbidden: configmaps "cni-attach-node-node-1" is forbidden', 403, 'Forbidden', 'configmaps "cni-attach-node-node-1" is forbidden');
      return patch(ns, name, data);
    };
    expect(await w.cli(detachCommand, detach('net1', '--agent-namespace', 'other'))).toBe(0);
    expect(w.stdout()).toBe('net1 detached from pod shop/web-1 (network net)\n');
    expect(lines(w.stderr())).toEqual([
      'note: the record of net1 of pod shop/web-1 in namespace kube-system could not be removed (patching configmap kube-system/cni-attach-node-node-1: the API server answered 403 Forbidden: configmaps "cni-attach-node-node-1" is forbidden)',
      'note: the cluster records nothing of net1 of pod shop/web-1 in namespace other (--agent-namespace), where this detach looked for its record: ' +
        'its attach recorded it in namespace kube-system (its entry on the node said so), where it stays, saying attached (`kubectl cni-list -A` shows it); ' +
        '`kubectl cni-detach web-1 -n shop --ifname net1` (this detach again with that namespace) or ' +
        `\`kubectl patch configmap cni-attach-node-node-1 -n kube-system --type merge -p '{"data":{"${KEY('net1')}":null}}'\` removes it and nothing else`,
    ]);
    expect((await listRecords(w.kube, 'kube-system')).map((r) => r.ifname)).toEqual(['net1']);
    // with the rights back, the detach it names removes it
    w.kube.patchConfigMapData = patch;
    expect(await w.cli(detachCommand, detach('net1'))).toBe(0);
    expect(w.stderr()).toMatch(/removed its record in the cluster, which an earlier detach left/);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
  });

  it('a pod that is gone: the patch it names (its node, when not known, as NODE) removes it; a detach whose record is where it looked says nothing of it', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attach('net1'))).toBe(0);
    w.kube.pods.clear();
    w.runtime.sandboxes.clear();
    expect(await w.cli(detachCommand, detach('net1', '--agent-namespace', 'other'))).toBe(0);
    expect(lines(w.stderr()).at(-1)).toBe(
      'note: the cluster records nothing of net1 of pod shop/web-1 in namespace other (--agent-namespace), where this detach looked for its record: its attach recorded it in namespace kube-system (its entry on the node said so), where it stays, saying attached (`kubectl cni-list -A` shows it); ' +
        `\`kubectl patch configmap cni-attach-node-NODE -n kube-system --type merge -p '{"data":{"${KEY('net1')}":null}}'\` (NODE: the node it was attached on) removes it and nothing else`,
    );
    await kubectlPatch(w, w.stderr().replace('cni-attach-node-NODE', 'cni-attach-node-node-1'), 'kube-system');
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
    // the same namespace: no such note
    const v = world();
    expect(await v.cli(attachCommand, attach('net1', '--agent-namespace', 'other'))).toBe(0);
    expect(await v.cli(detachCommand, detach('net1', '--agent-namespace', 'other'))).toBe(0);
    expect(v.stderr()).toBe('');
  });

  it('a DEL run from --conf alone with nothing on the node (what an earlier --force forgot): no such note, as no record can name it (tryout 8 F4 h)', async () => {
    const w = world();
    expect(await w.cli(detachCommand, detach('net1', '--conf', '-'))).toBe(0);
    expect(w.stdout()).toMatch(/^nothing was recorded for net1 in pod shop\/web-1; ran DEL of network net anyway/);
    expect(w.stderr()).not.toMatch(/records nothing of/);
  });

  it('an attach whose record still says attaching (its settle cut): its detach removes that write-ahead and says no such note', async () => {
    const w = world();
    const patch = w.kube.patchConfigMapData.bind(w.kube);
    let n = 0;
    w.kube.patchConfigMapData = async (ns, name, data) => {
      // the write-ahead's patch (NotFound: then created), then the settle: lost
      if (++n === 2) throw new UnreachableError('patching configmap: connection reset');
      return patch(ns, name, data);
    };
    expect(await w.cli(attachCommand, attach('net1'))).toBe(0);
    expect(w.stderr()).toMatch(/it may still say attaching/);
    w.kube.patchConfigMapData = patch;
    // its command gone (a pid of this host that does not run)
    const cm = w.kube.configMaps.get('kube-system/cni-attach-node-node-1')!;
    for (const k of Object.keys(cm.data)) cm.data[k] = JSON.stringify({ ...JSON.parse(cm.data[k]!), by: { host: thisHost.host, pid: 2 ** 22 + 1 } });
    expect((await listRecords(w.kube, 'kube-system')).map((r) => r.attaching)).toEqual([true]);
    expect(await w.cli(detachCommand, detach('net1'))).toBe(0);
    expect(w.stdout()).toBe('net1 detached from pod shop/web-1 (network net)\n');
    expect(w.stderr()).toBe('');
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
  });

  it('-l: each pod\'s record goes from the namespace its entry names, said in one note for the batch (a tryout: ten patch commands in one 10 KB note); a refusal there, one note for the pods it met', async () => {
    const w = manyPods(3);
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    expect(await w.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--agent-namespace', 'x'])).toBe(0);
    const notes = lines(w.stderr()).filter((l) => l.startsWith('note:'));
    expect(notes).toEqual(['note: removed the records of eth1 of 3 pods (shop/web-1, shop/web-2, shop/web-3) in namespace kube-system too (their attaches recorded them there, not in x: their entries on their nodes said so)']);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);

    const v = manyPods(2);
    expect(await v.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    const patch = v.kube.patchConfigMapData.bind(v.kube);
    v.kube.patchConfigMapData = async (ns, name, data) => {
      if (ns === 'kube-system') throw new ApiStatusError('patching configmap kube-system/cni-attach-node-node-1: the API server answered 403 Forbidden', 403, 'Forbidden', 'forbidden');
      return patch(ns, name, data);
    };
    expect(await v.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--agent-namespace', 'x'])).toBe(0);
    const said = lines(v.stderr()).filter((l) => l.startsWith('note:'));
    expect(said[0]).toBe('note: the records of eth1 of 2 pods (shop/web-1, shop/web-2) in namespace kube-system could not be removed (patching configmap kube-system/cni-attach-node-node-1: the API server answered 403 Forbidden)');
    expect(said[1]).toMatch(/^note: the cluster records nothing of eth1 of 2 pods \(shop\/web-1, shop\/web-2\) in namespace x \(--agent-namespace\), where this detach looked for their records: .* removes them and nothing else$/);
    expect(said).toHaveLength(2);
    expect(await listRecords(v.kube, 'kube-system')).toHaveLength(2);
  });

  it('an entry of an earlier version names no namespace: the note says NS, to fill in, with "if" (its attach may have used another, or none recorded it)', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attach('net1'))).toBe(0);
    asEarlierVersion(w);
    expect(await w.cli(detachCommand, detach('net1', '--agent-namespace', 'other'))).toBe(0);
    expect(lines(w.stderr())).toEqual([
      'note: the cluster records nothing of net1 of pod shop/web-1 in namespace other (--agent-namespace), where this detach looked for its record: ' +
        'if its attach was made with another --agent-namespace NS, its record stays in NS, saying attached (`kubectl cni-list -A --agent-namespace NS` shows it); ' +
        '`kubectl cni-detach web-1 -n shop --ifname net1 --agent-namespace NS` (this detach again with that namespace) or ' +
        `\`kubectl patch configmap cni-attach-node-node-1 -n NS --type merge -p '{"data":{"${KEY('net1')}":null}}'\` removes it and nothing else`,
    ]);
  });

  it('an entry naming the namespace the detach read, whose record is not there (its write refused, or removed by hand): nothing stays anywhere, so no note', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attach('net1'))).toBe(0);
    w.kube.configMaps.clear();
    expect(await w.cli(detachCommand, detach('net1'))).toBe(0);
    expect(w.stdout()).toBe('net1 detached from pod shop/web-1 (network net)\n');
    expect(w.stderr()).toBe('');
  });

  it('an attach that finds the same attachment there, made by an attach of another --agent-namespace (its entry says so): not recorded in its own namespace too (a copy), its write-ahead removed, said in a note; exit 0', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attach('net1'))).toBe(0);
    expect(await w.cli(attachCommand, attach('net1', '--agent-namespace', 'other')), w.stderr()).toBe(0);
    expect(w.stdout()).toMatch(/^net1 was already attached to pod shop\/web-1 /);
    expect(lines(w.stderr())).toEqual([
      'note: net1 in pod shop/web-1 was already attached, by an attach that records it in namespace kube-system (its entry on node node-1 says so): not recorded in namespace other (--agent-namespace) too, where a copy would still say attached once a detach with --agent-namespace kube-system removed the record there; `kubectl cni-list -A` shows it',
    ]);
    expect(await listRecords(w.kube, 'other')).toEqual([]);
    expect((await listRecords(w.kube, 'kube-system')).map((r) => r.ifname)).toEqual(['net1']);
    // the same namespace: recorded (settled) as before, no note
    expect(await w.cli(attachCommand, attach('net1'))).toBe(0);
    expect(w.stderr()).toBe('');
    expect((await listRecords(w.kube, 'kube-system')).map((r) => r.ifname)).toEqual(['net1']);
  });
});
