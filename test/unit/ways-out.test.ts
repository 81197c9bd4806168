/**
 * Every way out a message names is the exact command to paste (issue 12): the cni-detach --force that takes another
 * host's lock — in cni-list's rows within that lock's time limit too (what to run, and when), in the reasons of
 * cni-list and cni-gc, in a dry run's refusal, in cni-gc's own DELs — with the flags that reached the node, built by
 * cli/output.ts (detachCommandLine, recordDetachLine); never "a cni-detach --force of it" or "the same cni-detach with
 * --force" in words.
 */
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { checkCommand } from '../../src/cli/check.js';
import { detachCommand } from '../../src/cli/detach.js';
import { gcCommand } from '../../src/cli/gc.js';
import { listCommand } from '../../src/cli/list.js';
import { detach } from '../../src/cni/attach.js';
import { deletingPath, lockPath, ResultCache } from '../../src/cni/cache.js';
import type { ChainContext } from '../../src/cni/chain.js';
import { BusyError } from '../../src/errors.js';
import { fakeOwner } from '../fakes/executor.js';
import { NETNS, SANDBOX, world } from '../fakes/world.js';

const attachArgs = ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'];
const conf = Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64');
const podArgs = [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'web-1'], ['K8S_POD_UID', 'uid-1']];
/** The flags that reached the node, which every command printed must carry (--cni-path: always, output.ts reachArgs). */
const REACH = ['--cni-path', '/opt/cni/bin'];
const FORCE = 'kubectl cni-detach web-1 -n shop --ifname eth1 --cni-path /opt/cni/bin --force';

/** Another host's lock (laptop-2's cni-attach/cni-detach, a limit of 70 s) on eth1 of web-1, last changed `ageMs` ago. */
function foreignLock(w: ReturnType<typeof world>, ageMs: number, id = SANDBOX, ifname = 'eth1'): string {
  const lock = lockPath('/var/lib/cni', id, ifname);
  w.exec.files.set(lock, 'laptop-2 26304 159882 limit=70s\n');
  w.exec.ages.set(lock, ageMs);
  return lock;
}

/** An attach of web-1's eth1 that never finished (its intent alone), as a laptop killed mid-ADD leaves it. */
function intent(w: ReturnType<typeof world>, entry: Record<string, unknown> = {}, id = SANDBOX): void {
  w.exec.files.set(`/var/lib/cni/cni-attach/intents/net-${id}-eth1`, JSON.stringify({ kind: 'cniCacheV1', containerId: id, config: conf, ifName: 'eth1', networkName: 'net', netns: NETNS, cniArgs: podArgs, ...entry }));
}

type Item = { state: string; reason?: string; clearCommand?: string };
const onlyItem = (out: string) => (JSON.parse(out) as { items: Item[] }).items[0]!;

describe("cni-list: another host's lock within its time limit names what ends it, and when (before: no command)", () => {
  it('an unfinished attach under it: `attaching`, clearCommand the cni-detach --force with cni-list\'s flags, the note saying from when it works; the reason names that command line, not "a cni-detach --force of it"', async () => {
    const w = world();
    intent(w);
    foreignLock(w, 20_000);
    expect(await w.cli(listCommand, ['-n', 'shop', ...REACH, '-o', 'json'])).toBe(0);
    const item = onlyItem(w.stdout());
    expect(item.state).toBe('attaching');
    expect(item.clearCommand).toBe(FORCE);
    expect(item.reason).toMatch(/^an attach of eth1 has not finished: a cni-attach\/cni-detach \(pid 26304 on host laptop-2\) holds its lock: a command of another host, which this host cannot see; the time limit of its lock passes in 50s \(at \S+Z\) \(only host laptop-2 can tell whether that command still runs; if you know it does not — that host is down, or the command was killed —, `kubectl cni-detach web-1 -n shop --ifname eth1 --cni-path \/opt\/cni\/bin --force` takes its lock once the time limit that lock holds \(70s since it last changed\) has passed: it passes in 50s \(at \S+Z\)\)$/);
    expect(item.reason).not.toContain('a cni-detach --force of it');
    expect(await w.cli(listCommand, ['-n', 'shop', ...REACH])).toBe(0);
    expect(w.stdout()).toMatch(/ attaching .* may run 50s more: laptop-2's lock$/m);
    expect(w.stderr()).toMatch(new RegExp(`^note: to clear web-1 eth1 \\(attaching\\): \`${FORCE}\` \\(only if that command of host laptop-2 is gone \\(only that host can tell\\), and once its lock's time limit has passed: it passes in 50s \\(at \\S+Z\\); until then --force answers busy too\\)$`, 'm'));
    expect(await w.cli(listCommand, ['-n', 'shop', ...REACH, '-o', 'wide'])).toBe(0);
    expect(w.stdout()).toMatch(/may run 50s more: laptop-2's lock; then cni-detach --force undoes it$/m);
  });

  it('a DEL of it begun under it (its mark): `attached`, its DEL may be running; clearCommand and note as above ("finishes its DEL")', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.exec.files.set(deletingPath('/var/lib/cni', { network: 'net', containerId: SANDBOX, ifname: 'eth1' }), JSON.stringify({ kind: 'cniAttachDeletingV1', command: 'cni-detach', at: '2026-12-02T05:00:00Z', host: 'laptop-2', pid: 26304 }));
    foreignLock(w, 20_000);
    expect(await w.cli(listCommand, ['-n', 'shop', ...REACH, '-o', 'json'])).toBe(0);
    const item = onlyItem(w.stdout());
    expect(item.state).toBe('attached');
    expect(item.clearCommand).toBe(FORCE);
    expect(item.reason).toContain(`whose DEL may be running now (the time limit of its lock passes in 50s (at `);
    expect(item.reason).toContain(`\`${FORCE}\` takes its lock once the time limit that lock holds (70s since it last changed) has passed: it passes in 50s (at `);
    expect(await w.cli(listCommand, ['-n', 'shop', ...REACH])).toBe(0);
    expect(w.stderr()).toMatch(new RegExp(`^note: to clear web-1 eth1 \\(attached\\): \`${FORCE}\` \\(only if that command of host laptop-2 is gone \\(only that host can tell\\), and once its lock's time limit has passed: it passes in 50s`, 'm'));
    expect(await w.cli(listCommand, ['-n', 'shop', ...REACH, '-o', 'wide'])).toBe(0);
    expect(w.stdout()).toMatch(/DEL may run 50s more: laptop-2's lock; then cni-detach --force finishes its DEL$/m);
    // past the limit: the same command, at once
    foreignLock(w, 200_000);
    expect(await w.cli(listCommand, ['-n', 'shop', ...REACH, '-o', 'json'])).toBe(0);
    expect(onlyItem(w.stdout())).toMatchObject({ state: 'detach stopped', clearCommand: FORCE, reason: expect.stringContaining(`\`${FORCE}\` takes its lock at once`) });
  });

  it('an unreadable record: its reason names the cni-detach --force that forgets it (before: "a forced cni-detach of eth1")', async () => {
    const w = world();
    w.exec.files.set(`/var/lib/cni/results/net-${SANDBOX}-eth1`, '{"kind":"cniCacheV1","containerId"');
    expect(await w.cli(listCommand, ['-A', ...REACH, '-o', 'json'])).toBe(0);
    const item = onlyItem(w.stdout());
    expect(item.state).toBe('unreadable');
    // (its text lost its pod and interface: the command with them to fill in, as its row's)
    expect(item.clearCommand).toBe('kubectl cni-detach --netns PATH --ifname IFNAME --cni-path /opt/cni/bin --force');
    expect(item.reason).toBe(`results/net-${SANDBOX}-eth1: not JSON (cut short, or overwritten); \`${item.clearCommand}\` forgets it`);
  });
});

describe("a detach, its dry run and a check that meet another host's lock: the way out is the command line, with the flags given", () => {
  for (const age of [20_000, 200_000]) {
    it(`cni-detach and cni-detach --dry-run (its lock ${age === 20_000 ? 'within' : 'past'} its limit): \`kubectl cni-detach … --force\`, not "the same cni-detach with --force" (which of a dry run is a dry run again)`, async () => {
      const w = world();
      intent(w);
      const lock = foreignLock(w, age);
      const when = age === 20_000 ? 'once the time limit that lock holds (70s since it last changed) has passed: it passes in 50s' : 'at once: the time limit that lock holds (70s since it last changed) passed at';
      for (const dry of [['--dry-run'], []]) {
        expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', ...REACH, ...dry])).toBe(1);
        expect(w.stderr()).toContain(`, \`${FORCE}\` takes its lock ${when}`);
        expect(w.stderr()).toMatch(/ — and, as --force does, forgets the attachment if its DEL then fails\)\n$/);
        expect(w.stderr()).not.toContain('the same cni-detach');
      }
      expect(await w.cli(checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', ...REACH])).toBe(1);
      expect(w.stderr()).toContain(`, \`${FORCE}\` takes its lock ${when}`);
      expect(w.exec.files.get(lock)).toBe('laptop-2 26304 159882 limit=70s\n');
    });
  }
});

describe("cni-gc: another host's lock on what it would free", () => {
  it("its own DEL's busy answer names the cni-detach --force it was given (before: \"a cni-detach --force of it\")", async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    foreignLock(w, 200_000);
    const ctx: ChainContext = { exec: w.exec, cniPath: ['/opt/cni/bin'], timeoutMs: 5000, note: () => undefined };
    const ways = { detach: 'kubectl cni-detach web-1 -n shop --ifname eth1', force: 'kubectl cni-detach web-1 -n shop --ifname eth1 --force', forceWithConfig: 'x' };
    const e = await detach(ctx, new ResultCache(w.exec, '/var/lib/cni', fakeOwner()), { containerId: SANDBOX, ifname: 'eth1', netns: NETNS, describe: 'pod shop/web-1', by: 'cni-gc', ways }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BusyError);
    expect((e as Error).message).toContain(', `kubectl cni-detach web-1 -n shop --ifname eth1 --force` takes its lock at once: ');
    expect((e as Error).message).not.toContain('a cni-detach --force of it');
  });

  it('an unfinished attach of a namespace its record lost, under that lock: left, the note naming the cni-detach --force with the target to fill in (before: "a cni-detach --force of it"), dry run and real run alike', async () => {
    const w = world();
    const id = 'cnitool-0123456789abcdef0123';
    intent(w, { netns: undefined, cniArgs: undefined }, id);
    foreignLock(w, 200_000, id);
    for (const dry of [['--dry-run'], []]) {
      expect(await w.cli(gcCommand, [...REACH, ...dry])).toBe(0);
      expect(w.stdout()).toMatch(/, 1 busy \(left for a later run\)$/m);
      expect(w.stderr()).toContain(', `kubectl cni-detach --netns PATH --ifname eth1 --cni-path /opt/cni/bin --force` takes its lock at once: ');
      expect(w.stderr()).not.toContain('a cni-detach --force of it');
    }
  });
});

describe('cni-check of a pod that is gone, whose sandbox is gone too: the way out as commands (before: "a cni-detach of it, or cni-gc, frees its lease")', () => {
  it('the cni-detach that frees its lease, or the cni-gc, with the flags given (exit 3)', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.kube.pods.clear();
    w.runtime.sandboxes.clear();
    expect(await w.cli(checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', ...REACH])).toBe(3);
    expect(w.stderr().trimEnd().split('\n').at(-1)).toBe(
      `error: pod shop/web-1 no longer exists, and the sandbox ${SANDBOX.slice(0, 12)} its eth1 went into no longer runs on this host (node-1): nothing to CHECK; what the cache holds of it is stale, its IPAM lease still held; \`kubectl cni-detach web-1 -n shop --ifname eth1 --cni-path /opt/cni/bin\` frees its lease (or \`kubectl cni-gc --cni-path /opt/cni/bin\`, which frees every such one)`,
    );
  });
});
