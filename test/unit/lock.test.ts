/**
 * exec/lock.ts, the one lock algorithm of every executor, over fake files: over this host's files directly and over
 * a node's files through the sh scripts of a ShellExecutor (the fake answers them), with a fake process table.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { commandName, heldNow, parseHolder, runningFor, takeLock, tryLock, whyStale, type LockFiles } from '../../src/exec/lock.js';
import { ShellExecutor } from '../../src/exec/shell.js';
import { thisHost } from '../../src/exec/host.js';
import { readFile } from 'node:fs/promises';
import type { RunOptions, RunResult } from '../../src/exec/types.js';
import { FakeExecutor, fakeOwner } from '../fakes/executor.js';
import { foreignLimitPassed, foreignLimitWhen, foreignLockWayOut, foreignRunsSecs, freeInSecs } from '../../src/errors.js';
import { busyError } from '../../src/cni/attach.js';
import type { Busy } from '../../src/exec/lock.js';
import type { ResultCache } from '../../src/cni/cache.js';

const PATH = '/var/lib/cni/cni-attach/locks/c1-eth1.lock';

/** A node reached by commands whose sh is the fake's emulation. */
class FakeNode extends ShellExecutor {
  readonly where = 'fake node over sh';
  constructor(readonly node: FakeExecutor) {
    super();
  }
  run(argv: string[], opts?: RunOptions): Promise<RunResult> {
    return this.node.run(argv, opts);
  }
}

const kinds: [string, (f: FakeExecutor) => LockFiles][] = [
  ['this host', (f) => f],
  ['a node over sh', (f) => new FakeNode(f.emulateShell())],
];

describe.each(kinds)('tryLock on %s', (_kind, filesOf) => {
  function setup(holder?: string, ageMs = 0) {
    const fake = new FakeExecutor();
    if (holder !== undefined) fake.files.set(PATH, holder);
    if (ageMs) fake.ages.set(PATH, ageMs);
    const owner = fakeOwner(new Map([[77, '5000']]));
    return { fake, files: filesOf(fake), owner };
  }

  it('takes a free lock as "<host> <pid> <start>", refuses a second taker, and releases (once)', async () => {
    const { fake, files, owner } = setup();
    const lock = await tryLock(files, PATH, owner);
    expect(fake.files.get(PATH)).toBe('fake-host 4242 100\n');
    expect(await tryLock(files, PATH, owner)).toBeUndefined();
    await lock!.release();
    expect(fake.files.has(PATH)).toBe(false);
    fake.files.set(PATH, 'someone else 1 1\n');
    await lock!.release(); // idempotent: does not remove what is there now
    expect(fake.files.get(PATH)).toBe('someone else 1 1\n');
  });

  it.each([
    ['a live process of this host', 'fake-host 77 5000\n'],
    ['a process of another host (nothing here can tell whether it runs)', 'other-node 12 34\n'],
    ['an older cni-attach of this host ("<pid> <start>")', '77 5000\n'],
    ['an older cni-attach on a node ("<host> <pid>")', 'fake-host 77\n'],
  ])('respects a lock held by %s', async (_what, holder) => {
    const { fake, files, owner } = setup(holder);
    expect(await tryLock(files, PATH, owner)).toBeUndefined();
    expect(fake.files.get(PATH)).toBe(holder);
    expect(fake.files.has(`${PATH}.break`)).toBe(false);
  });

  it.each([
    ['a process of this host that is gone', 'fake-host 78 5000\n', 0],
    ['a reused pid (running, another start time)', 'fake-host 77 4999\n', 0],
    ['an older cni-attach of this host that is gone ("<pid> <start>")', '78 5000\n', 0],
    ['an older cni-attach on a node that is gone ("<host> <pid>")', 'fake-host 78\n', 0],
    ['nobody: empty, older than 2 s (killed between creating and writing it)', '', 5000],
  ])('breaks a lock held by %s, and takes it', async (_what, holder, age) => {
    const { fake, files, owner } = setup(holder, age);
    const lock = await tryLock(files, PATH, owner);
    expect(lock).toBeDefined();
    expect(fake.files.get(PATH)).toBe('fake-host 4242 100\n');
    expect(fake.files.has(`${PATH}.break`)).toBe(false);
    await lock!.release();
  });

  it('leaves a lock being written right now (empty, fresh) alone', async () => {
    const { fake, files, owner } = setup('', 0);
    expect(await tryLock(files, PATH, owner)).toBeUndefined();
    expect(fake.files.get(PATH)).toBe('');
  });

  it('does not break while another breaker works on it; removes a breaker left by a killed process', async () => {
    const { fake, files, owner } = setup('fake-host 78 5000\n');
    fake.files.set(`${PATH}.break`, '');
    expect(await tryLock(files, PATH, owner)).toBeUndefined();
    expect(fake.files.get(PATH)).toBe('fake-host 78 5000\n');
    fake.ages.set(`${PATH}.break`, 60_000);
    expect(await tryLock(files, PATH, owner)).toBeUndefined(); // this try removes the old breaker…
    expect(fake.files.has(`${PATH}.break`)).toBe(false);
    expect(await tryLock(files, PATH, owner)).toBeDefined(); // …the next one breaks the lock
  });

  describe('with a time limit (work on a node reached by commands, which outlives the CLI there)', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('is taken as "<host> <pid> <start> limit=<s>s" (the plugin limit plus the grace); renew() rewrites it, so its age counts from then, at most once a second', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const { fake, files, owner } = setup();
      const r = await takeLock(files, PATH, owner, { workLimitMs: 60_000 });
      expect('lock' in r).toBe(true);
      const lock = (r as { lock: { renew(): Promise<void>; release(): Promise<void> } }).lock;
      expect(fake.files.get(PATH)).toBe('fake-host 4242 100 limit=70s\n');
      fake.ages.set(PATH, 50_000);
      await lock.renew(); // within a second of taking it: nothing
      expect(fake.ages.get(PATH)).toBe(50_000);
      vi.setSystemTime(Date.now() + 2000);
      await lock.renew();
      expect(fake.ages.has(PATH)).toBe(false);
      expect(fake.files.get(PATH)).toBe('fake-host 4242 100 limit=70s\n');
      await lock.release();
      expect(fake.files.has(PATH)).toBe(false);
    });

    it('while held, this process knows until when it stays held once it is gone: taken or renewed plus the limit and the grace, the latest of those held; none once released, none for this host\'s work (exec/interrupt.ts limitedLocksHeldUntil: what a quit says)', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      // (fresh modules: the other tests' locks, some never released, are not this one's)
      vi.resetModules();
      const { limitedLocksHeldUntil } = await import('../../src/exec/interrupt.js');
      const { tryLock } = await import('../../src/exec/lock.js');
      const t0 = Date.now();
      const { files, owner } = setup();
      // (plus LOCK_WRITE_SLACK_MS, 2 s: a lock write rides with a later request and lands up to a round trip later)
      const lock = (await tryLock(files, PATH, owner, { workLimitMs: 60_000, where: 'node node-a' }))!;
      expect(limitedLocksHeldUntil()).toBe(t0 + 70_000 + 2000);
      const other = setup();
      const mine = (await tryLock(other.files, PATH, owner))!;
      const b = setup();
      const onB = (await tryLock(b.files, PATH, owner, { workLimitMs: 10_000, where: 'node node-b' }))!;
      vi.setSystemTime(t0 + 2000);
      // a rollback's DEL of a longer limit, written at once
      await lock.renew(120_000);
      expect(limitedLocksHeldUntil()).toBe(t0 + 2000 + 130_000 + 2000);
      // by node, as its executor names it
      expect(limitedLocksHeldUntil((w) => w === 'node node-b')).toBe(t0 + 20_000 + 2000);
      expect(limitedLocksHeldUntil((w) => w === 'node node-c')).toBeUndefined();
      await onB.release();
      await mine.release();
      expect(limitedLocksHeldUntil()).toBe(t0 + 2000 + 130_000 + 2000);
      await lock.release();
      expect(limitedLocksHeldUntil()).toBeUndefined();
      // a second signal's quit: what was held when it began, whatever is released during its teardown (which cuts the
      // requests under way: a release then may not have reached the node)
      const again = (await tryLock(files, PATH, owner, { workLimitMs: 60_000 }))!;
      const { beginQuit } = await import('../../src/exec/interrupt.js');
      beginQuit();
      await again.release();
      expect(limitedLocksHeldUntil()).toBe(t0 + 2000 + 70_000 + 2000);
    });

    it('without one (this host\'s work) it holds no limit and renew() writes nothing', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const { fake, files, owner } = setup();
      const lock = await tryLock(files, PATH, owner);
      fake.ages.set(PATH, 50_000);
      vi.setSystemTime(Date.now() + 2000);
      await lock!.renew();
      expect(fake.ages.get(PATH)).toBe(50_000);
      expect(fake.files.get(PATH)).toBe('fake-host 4242 100\n');
    });

    it('its holder gone: respected (saying when it is free) until the limit has passed since it last changed, then broken', async () => {
      const { fake, files, owner } = setup('fake-host 78 5000 limit=70s\n', 30_000);
      expect(await takeLock(files, PATH, owner, { workLimitMs: 60_000 })).toEqual({ busy: { pid: 78, host: 'fake-host', start: '5000', limitS: 70, freeInMs: 40_000, readAt: expect.any(Number) } });
      expect(await whyStale(files, PATH, owner)).toBeUndefined();
      expect(fake.files.get(PATH)).toBe('fake-host 78 5000 limit=70s\n');
      fake.ages.set(PATH, 70_000);
      expect(await whyStale(files, PATH, owner)).toBe('its holder, pid 78 on this host fake-host, is gone, and its time limit on the node (70s) has passed');
      const r = await takeLock(files, PATH, owner, { workLimitMs: 60_000 });
      expect('lock' in r).toBe(true);
      expect(fake.files.get(PATH)).toBe('fake-host 4242 100 limit=70s\n');
    });

    it('the times said of it count from when its age was read, not from when a message is made (tryout 10: a cni-gc note made 3 s after its node read said the lock frees 3 s later than it does)', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const read = Date.parse('2026-12-03T06:30:00Z');
      vi.setSystemTime(read);
      const { files, owner } = setup('fake-host 78 5000 limit=70s\n', 30_000);
      const gone = await takeLock(files, PATH, owner, { workLimitMs: 60_000 });
      const busy = (gone as { busy: Busy }).busy;
      expect(busy.readAt).toBe(read);
      vi.setSystemTime(read + 3_000);
      // free at read + 40 s, whenever it is said: in 37 s now (before: 40 s, at 06:30:43)
      expect(freeInSecs(busy)).toBe(37);
      // (what busyError reads of the cache: its host and how it names a path)
      const e = busyError('eth1', 'pod shop/web-1', busy, { host: 'fake-host', named: () => ' on node node-a' } as unknown as ResultCache);
      expect(e.message).toContain('the lock is free in 37s (at 2026-12-03T06:30:40Z)');
      vi.setSystemTime(read + 45_000);
      expect(freeInSecs(busy)).toBe(0);
      // another host's lock, unchanged for 30 s of its 70: its limit passes at read + 40 s, said so 3 s later too
      vi.setSystemTime(read);
      const foreign = (await takeLock(setup('laptop-2 12 34 limit=70s\n', 30_000).files, PATH, owner, { workLimitMs: 60_000 })) as { busy: Busy };
      vi.setSystemTime(read + 3_000);
      expect(foreignLimitWhen(foreign.busy)).toBe('passes in 37s (at 2026-12-03T06:30:40Z)');
      expect(foreignRunsSecs(foreign.busy)).toBe(37);
      vi.setSystemTime(read + 41_000);
      expect(foreignLimitPassed(foreign.busy, 'fake-host')).toBe(true);
      expect(foreignLimitWhen(foreign.busy)).toBe('passed at 2026-12-03T06:30:40Z (1s ago)');
    });

    describe("another host's holder (a laptop lost mid-ADD: nothing here can see its processes)", () => {
      it('is respected whatever its age, the limit passed or not (the limit it holds is told, and how long ago it last changed: when that limit passed or passes)', async () => {
        const { fake, files, owner } = setup('laptop-2 12 34 limit=70s\n', 3_600_000);
        expect(await takeLock(files, PATH, owner, { workLimitMs: 60_000 })).toEqual({ busy: { pid: 12, host: 'laptop-2', start: '34', limitS: 70, changedAgoMs: 3_600_000, readAt: expect.any(Number) } });
        expect(await whyStale(files, PATH, owner)).toBeUndefined();
        expect(fake.files.get(PATH)).toBe('laptop-2 12 34 limit=70s\n');
      });

      it("with the user's word that it is gone (cni-detach --force: othersGone): respected until its limit has passed since it last changed, then broken and taken", async () => {
        const { fake, files, owner } = setup('laptop-2 12 34 limit=70s\n', 30_000);
        const forced = { ...owner, othersGone: true };
        expect(await takeLock(files, PATH, forced, { workLimitMs: 60_000 })).toEqual({ busy: { pid: 12, host: 'laptop-2', start: '34', limitS: 70, freeInMs: 40_000, readAt: expect.any(Number) } });
        expect(await heldNow(files, PATH, forced)).toEqual({ pid: 12, host: 'laptop-2', start: '34', limitS: 70, freeInMs: 40_000, readAt: expect.any(Number) });
        expect(fake.files.get(PATH)).toBe('laptop-2 12 34 limit=70s\n');
        fake.ages.set(PATH, 70_000);
        // a dry run sees it free, and changes nothing; without the word it is still respected
        expect(await heldNow(files, PATH, forced)).toBeUndefined();
        expect(await heldNow(files, PATH, owner)).toEqual({ pid: 12, host: 'laptop-2', start: '34', limitS: 70, changedAgoMs: 70_000, readAt: expect.any(Number) });
        const r = await takeLock(files, PATH, forced, { workLimitMs: 60_000 });
        expect('lock' in r).toBe(true);
        expect(fake.files.get(PATH)).toBe('fake-host 4242 100 limit=70s\n');
      });

      it.each([
        ['holds no time limit (an older version, or work on that host itself)', 'laptop-2 12 34\n'],
        ['names no start ("<host> <pid>", an older version on a node)', 'laptop-2 12\n'],
      ])("with the user's word, still respected when it %s: nothing bounds what it started", async (_what, holder) => {
        const { fake, files, owner } = setup(holder, 3_600_000);
        expect('busy' in (await takeLock(files, PATH, { ...owner, othersGone: true }, { workLimitMs: 60_000 }))).toBe(true);
        expect(fake.files.get(PATH)).toBe(holder);
      });

      it("the word does not change how this host's own live holders are judged", async () => {
        const { files, owner } = setup('fake-host 77 5000 limit=70s\n', 3_600_000);
        expect(await takeLock(files, PATH, { ...owner, othersGone: true })).toEqual({ busy: { pid: 77, host: 'fake-host', start: '5000', limitS: 70 } });
      });
    });

    it('its holder alive: respected whatever its age, with no time to wait for', async () => {
      const { files, owner } = setup('fake-host 77 5000 limit=70s\n', 3_600_000);
      expect(await takeLock(files, PATH, owner)).toEqual({ busy: { pid: 77, host: 'fake-host', start: '5000', limitS: 70 } });
    });
  });
});

describe('this host\'s process table', () => {
  it('a process that has exited but is not reaped yet (a zombie) is gone: its locks are stale', async () => {
    // sh starts `sleep 0` and becomes `sleep 5`, which never waits for it: once it exits it stays a zombie
    const { execa } = await import('execa');
    const parent = execa('sh', ['-c', 'sleep 0 & echo $!; exec sleep 5'], { reject: false });
    const pid = await new Promise<number>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
    try {
      await vi.waitFor(async () => expect((await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.startsWith('Z')).toBe(true), { timeout: 3000 });
      // before: its start time, as if it ran (a lock it held was respected until its parent went)
      expect(await thisHost.startOf(pid)).toBeUndefined();
      expect(await thisHost.startOf(process.pid)).toMatch(/^\d+$/);
    } finally {
      parent.kill('SIGKILL');
      await parent;
    }
  });
});

describe('how a holder is named: how long it has run, never its start in clock ticks', () => {
  it('a live holder of this host: "running for 3m12s", from its start and the host\'s uptime; its identity (host, pid, start) unchanged', async () => {
    const fake = new FakeExecutor();
    fake.files.set(PATH, 'fake-host 77 5000\n');
    const asked: string[] = [];
    const owner = { ...fakeOwner(new Map([[77, '5000']])), runningForMs: async (start: string) => (asked.push(start), 192_400) };
    const busy = await heldNow(fake, PATH, owner);
    expect(busy).toEqual({ pid: 77, host: 'fake-host', start: '5000', runningForMs: 192_400 });
    expect(asked).toEqual(['5000']);
    expect(commandName(busy!, 'fake-host')).toBe('pid 77 on this host fake-host, running for 3m12s');
    expect(commandName(busy!, 'fake-host', true)).toBe('pid 77 on this host fake-host');
    // the same pid with another start is another process: the lock is stale, whatever its running time
    owner.running.set(77, '6000');
    expect(await heldNow(fake, PATH, owner)).toBeUndefined();
  });
  it('a holder of another host, or where the time cannot be told: pid and host only (before: "started 5000 ticks after boot")', async () => {
    const fake = new FakeExecutor();
    fake.files.set(PATH, 'laptop-2 77 5000\n');
    const owner = { ...fakeOwner(), runningForMs: async () => 1000 };
    const busy = await heldNow(fake, PATH, owner);
    expect(busy).toEqual({ pid: 77, host: 'laptop-2', start: '5000' });
    expect(commandName(busy!, 'fake-host')).toBe('pid 77 on host laptop-2');
    expect(commandName({ pid: 77, host: 'fake-host', start: '5000' } as never, 'fake-host')).toBe('pid 77 on this host fake-host');
  });
  it('runningFor: to the second', () => {
    expect([0, 999, 42_000, 192_400, 3_600_000, 7_512_000].map(runningFor)).toEqual(['0s', '0s', '42s', '3m12s', '1h0m', '2h5m']);
  });
  it('this host: a process\'s running time from /proc/uptime and its start (USER_HZ ticks a second), about what Node says of itself', async () => {
    const start = (await thisHost.startOf(process.pid))!;
    const ms = (await thisHost.runningForMs!(start))!;
    expect(Math.abs(ms - process.uptime() * 1000)).toBeLessThan(2000);
    expect(await thisHost.runningForMs!('not-ticks')).toBeUndefined();
  });
});

describe('parseHolder', () => {
  it('reads the current format and the two older ones; nothing else', () => {
    expect(parseHolder('node-a 12 345\n', 'me')).toEqual({ host: 'node-a', pid: 12, start: '345' });
    expect(parseHolder('12 345\n', 'me')).toEqual({ host: 'me', pid: 12, start: '345' });
    expect(parseHolder('node-a 12\n', 'me')).toEqual({ host: 'node-a', pid: 12 });
    expect(parseHolder('laptop 12 345 limit=70s\n', 'me')).toEqual({ host: 'laptop', pid: 12, start: '345', limitS: 70 });
    for (const bad of ['', '\n', 'node-a', 'node-a 0 1', 'node-a -3 1', 'node-a x 1', 'a b c d', 'a 1 2 limit=x', 'a 1 2 limit=5']) expect(parseHolder(bad, 'me')).toBeUndefined();
  });
});

describe('the way out of another host\'s lock, one wording for a busy detach and cni-gc\'s note', () => {
  it('is said only of another host\'s lock that holds a time limit and whose command is not known to be gone', () => {
    const foreign = { host: 'laptop-2', pid: 7, limitS: 70 };
    expect(foreignLockWayOut(foreign, 'laptop-1', ' on node node-b', ' — and more', 'the same cni-detach with --force')).toBe(
      ' (only host laptop-2 can tell whether that command still runs; if you know it does not — that host is down, or the command was killed —, the same cni-detach with --force takes its lock once the time limit that lock holds on node node-b (70s since it last changed) has passed — and more)',
    );
    expect(foreignLockWayOut(foreign, 'laptop-1')).toContain(', a cni-detach --force of it takes its lock once the time limit that lock holds (70s since');
    expect(foreignLockWayOut(foreign, 'laptop-2')).toBe('');
    expect(foreignLockWayOut({ host: 'laptop-2', pid: 7 }, 'laptop-1')).toBe('');
    expect(foreignLockWayOut({ pid: 7, limitS: 70 }, 'laptop-1')).toBe('');
    expect(foreignLockWayOut({ ...foreign, freeInMs: 3000 }, 'laptop-1')).toBe('');
  });

  it('says what is true at the time where the lock\'s age was read: "at once: … passed at T (…ago)", or "… has passed: it passes in Ns (at T)" — not "once … has passed" long after it has (tryout 8, F4 f)', () => {
    const now = Date.parse('2026-12-02T19:10:00Z');
    const past = { host: 'laptop-2', pid: 7, limitS: 70, changedAgoMs: 200_000 };
    expect(foreignLockWayOut(past, 'laptop-1', ' on node node-b', '', '`kubectl cni-detach web-9 -n shop --ifname net14 --force`', now)).toBe(
      ' (only host laptop-2 can tell whether that command still runs; if you know it does not — that host is down, or the command was killed —, `kubectl cni-detach web-9 -n shop --ifname net14 --force` takes its lock at once: the time limit that lock holds on node node-b (70s since it last changed) passed at 2026-12-02T19:07:50Z (2m10s ago))',
    );
    expect(foreignLockWayOut({ ...past, changedAgoMs: 30_500 }, 'laptop-1', '', '', undefined, now)).toContain(
      'a cni-detach --force of it takes its lock once the time limit that lock holds (70s since it last changed) has passed: it passes in 40s (at 2026-12-02T19:10:40Z))',
    );
    expect(foreignLimitPassed(past, 'laptop-1')).toBe(true);
    expect(foreignLimitPassed({ ...past, changedAgoMs: 69_999 }, 'laptop-1')).toBe(false);
    expect(foreignLimitPassed({ host: 'laptop-2', pid: 7, limitS: 70 }, 'laptop-1')).toBeUndefined();
    expect(foreignLimitPassed(past, 'laptop-2')).toBeUndefined();
  });
});
