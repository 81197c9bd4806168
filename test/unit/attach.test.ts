import { describe, expect, it } from 'vitest';
import { attach, attachLeft, check, detach, gcWaitLine, planAttach, planRecorded, type AttachRequest, type GcWait } from '../../src/cni/attach.js';
import { ResultCache, cacheDirsOf, deletingPath, gcLockPath, intentPath, lockPath, resultPath, versionsPath } from '../../src/cni/cache.js';
import type { ChainContext } from '../../src/cni/chain.js';
import { parseNetworkConfig } from '../../src/cni/conf.js';
import { BusyError, NotFoundError, NotRecordedError, PluginError, UnreachableError, UsageError } from '../../src/errors.js';
import { bridgeResult, FakeExecutor, fakeOwner } from '../fakes/executor.js';

const NS = '/var/run/netns/a';
const CACHE = '/var/lib/cni';
const key = { network: 'net', containerId: 'c1', ifname: 'eth1' };

function setup(version = '1.0.0') {
  const exec = new FakeExecutor();
  exec.netns.add(NS);
  const notes: string[] = [];
  const ctx: ChainContext = { exec, cniPath: ['/opt/cni/bin'], timeoutMs: 1000, note: (l) => notes.push(l) };
  const cache = new ResultCache(exec, CACHE, fakeOwner());
  const list = parseNetworkConfig(JSON.stringify({ cniVersion: version, name: 'net', plugins: [{ type: 'bridge', capabilities: { ips: true } }, { type: 'tuning' }] }), 't');
  const made = new Set<string>();
  exec.addPlugin('/opt/cni/bin/bridge', (c) => {
    if (c.command === 'ADD') {
      // the fake looks at the intent file: it must exist before the plugin runs
      made.add(exec.files.has(intentPath(CACHE, key)) ? 'intent-before-add' : 'no-intent');
      return { stdout: JSON.stringify(bridgeResult('eth1', NS, '198.18.0.2/24', version)) };
    }
    return {};
  });
  exec.addPlugin('/opt/cni/bin/tuning', (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(c.stdin.prevResult) } : {}));
  const req: AttachRequest = {
    list,
    rt: { containerId: 'c1', netns: NS, ifname: 'eth1', cniArgs: [], capabilityArgs: {} },
    describe: `netns ${NS}`,
    interfaceExists: async () => exec.links.get(NS)?.has('eth1') ?? false,
  };
  return { exec, ctx, cache, list, req, notes, made };
}

describe('attach', () => {
  it('records the intent before ADD, caches the result as cniCacheV1 after, and removes the intent', async () => {
    const { exec, ctx, cache, req, made } = setup();
    const done = await attach(ctx, cache, req);
    expect(made.has('intent-before-add')).toBe(true);
    expect(done.cacheFile).toBe(resultPath(CACHE, key));
    const cached = JSON.parse(exec.files.get(resultPath(CACHE, key))!);
    expect(cached).toMatchObject({ kind: 'cniCacheV1', containerId: 'c1', ifName: 'eth1', networkName: 'net', netns: NS });
    expect(Buffer.from(cached.config, 'base64').toString()).toBe(req.list.bytes);
    expect(cached.result).toEqual(done.result);
    expect(exec.files.has(intentPath(CACHE, key))).toBe(false);
    expect([...exec.files.keys()].filter((f) => f.includes('/locks/'))).toEqual([]);
    expect(exec.commands()).toEqual(['VERSION bridge', 'VERSION tuning', 'ADD bridge', 'ADD tuning']);
  });

  it('keeps the plugins\' VERSION answers once the attach succeeded, and writes none when the ADD failed', async () => {
    const ok = setup();
    ok.exec.identifyFiles();
    const ctx = { ...ok.ctx, versions: ok.cache.versionStore()! };
    await attach(ctx, ok.cache, ok.req);
    const kept = JSON.parse(ok.exec.files.get(versionsPath(CACHE))!);
    expect(Object.keys(kept.plugins)).toEqual(['/opt/cni/bin/bridge', '/opt/cni/bin/tuning']);

    const bad = setup();
    bad.exec.identifyFiles();
    bad.exec.addPlugin('/opt/cni/bin/tuning', (c) => (c.command === 'ADD' ? { code: 1, stdout: JSON.stringify({ code: 11, msg: 'no' }) } : {}));
    await expect(attach({ ...bad.ctx, versions: bad.cache.versionStore()! }, bad.cache, bad.req)).rejects.toThrow(/no/);
    expect(bad.exec.files.has(versionsPath(CACHE))).toBe(false);
  });

  it('refuses an ifname that already has a cache entry, before any plugin runs', async () => {
    const { exec, ctx, cache, req } = setup();
    await attach(ctx, cache, req);
    exec.calls.length = 0;
    await expect(attach(ctx, cache, req)).rejects.toThrow(/eth1 is already taken in netns \/var\/run\/netns\/a: it is attached \(network net\)/);
    expect(exec.calls).toHaveLength(0);
  });

  it('refuses an ifname that exists in the namespace', async () => {
    const { exec, ctx, cache, req } = setup();
    exec.links.set(NS, new Set(['eth1']));
    await expect(attach(ctx, cache, req)).rejects.toThrow(UsageError);
    await expect(attach(ctx, cache, req)).rejects.toThrow(/an interface named eth1 already exists/);
    expect(exec.calls).toHaveLength(0);
    expect(exec.files.size).toBe(0);
  });

  it('refuses while another process holds the lock of the same ifname', async () => {
    const { exec, ctx, cache, req } = setup();
    exec.files.set(lockPath(CACHE, 'c1', 'eth1'), 'fake-host 4242 100\n'); // held by a live process (this one)
    const busy = await attach(ctx, cache, req).catch((e) => e);
    expect(busy).toBeInstanceOf(BusyError);
    expect(busy.cniCode).toBe(11);
    // the holder named as its lock names it: pid, host (here: this one) and start
    expect(busy.message).toMatch(/another cni-attach\/cni-detach \(pid 4242 on this host fake-host\) is working on eth1/);
    expect(exec.calls).toHaveLength(0);
  });

  it('on a node reached by commands: its lock holds the plugin time limit; a lock whose holder is gone is respected until that limit passed (busy says when), by attach, its dry run and detach', async () => {
    const { exec, ctx, cache, req, list } = setup();
    Object.assign(exec, { elsewhere: 'node node-b' });
    const lock = lockPath(CACHE, 'c1', 'eth1');
    const seen: string[] = [];
    exec.addPlugin('/opt/cni/bin/tuning', (c) => (seen.push(exec.files.get(lock) ?? 'none'), c.command === 'ADD' ? { stdout: JSON.stringify(c.stdin.prevResult) } : {}));
    const node = { ...ctx, timeoutMs: 60_000 };
    await attach(node, cache, req);
    expect(seen).toEqual(['fake-host 4242 100 limit=70s\n']);
    expect(await detach(node, cache, { containerId: 'c1', ifname: 'eth1', describe: req.describe })).toHaveLength(1);
    // a tight --timeout: each run's lock holds its own limit — an ADD's --timeout, a rollback DEL's at least the default
    // (chain.ts rollbackTimeoutMs), written as it begins (before: 11s, free while that DEL could still run)
    seen.length = 0;
    await attach({ ...ctx, timeoutMs: 1000 }, cache, req);
    expect(await detach({ ...ctx, timeoutMs: 1000 }, cache, { containerId: 'c1', ifname: 'eth1', describe: req.describe })).toHaveLength(1);
    exec.addPlugin('/opt/cni/bin/tuning', (c) => (seen.push(`${c.command} ${exec.files.get(lock) ?? 'none'}`), c.command === 'ADD' ? { code: 1, stderr: 'boom' } : {}));
    await attach({ ...ctx, timeoutMs: 1000 }, cache, req).catch(() => undefined);
    expect(seen).toEqual(['fake-host 4242 100 limit=11s\n', 'fake-host 4242 100 limit=11s\n', 'ADD fake-host 4242 100 limit=11s\n', 'DEL fake-host 4242 100 limit=70s\n']);
    // an attach lost during its ADD: its intent stays, and its lock (its CLI, pid 78, is gone; the ADD may still run)
    exec.files.set(intentPath(CACHE, key), JSON.stringify({ kind: 'cniCacheV1', containerId: 'c1', config: Buffer.from(list.bytes).toString('base64'), ifName: 'eth1', networkName: 'net', netns: NS }));
    exec.files.set(lock, 'fake-host 78 5000 limit=70s\n');
    exec.ages.set(lock, 30_000);
    exec.calls.length = 0;
    const said = /^another cni-attach\/cni-detach is working on eth1 in netns \/var\/run\/netns\/a right now: its command \(pid 78 on this host fake-host\) is gone, but what it started on node node-b may run until its time limit ends; the lock is free in 40s \(at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\): try again then$/;
    for (const op of [() => attach(node, cache, req), () => planAttach(node, cache, req), () => detach(node, cache, { containerId: 'c1', ifname: 'eth1', describe: req.describe })]) {
      const e = await op().catch((x: unknown) => x);
      expect(e).toBeInstanceOf(BusyError);
      expect((e as Error).message).toMatch(said);
    }
    expect(exec.calls).toEqual([]);
    expect(exec.files.has(intentPath(CACHE, key))).toBe(true);
    // its limit passed: the detach breaks the lock and runs DEL from the intent
    exec.ages.set(lock, 70_000);
    expect(await detach(node, cache, { containerId: 'c1', ifname: 'eth1', describe: req.describe })).toEqual([expect.objectContaining({ fromIntent: true })]);
    expect(exec.files.has(lock)).toBe(false);
  });

  it("on a node reached by commands, another host's lock (a laptop lost mid-ADD): a detach is busy and names the way out; with --force (the user's word that it is gone, its owner's othersGone) the lock is broken once its limit has passed", async () => {
    const { exec, ctx, cache, req, list } = setup();
    Object.assign(exec, { elsewhere: 'node node-b' });
    const node = { ...ctx, timeoutMs: 60_000 };
    const lock = lockPath(CACHE, 'c1', 'eth1');
    exec.files.set(intentPath(CACHE, key), JSON.stringify({ kind: 'cniCacheV1', containerId: 'c1', config: Buffer.from(list.bytes).toString('base64'), ifName: 'eth1', networkName: 'net', netns: NS }));
    exec.files.set(lock, 'laptop-2 78 5000 limit=70s\n');
    exec.ages.set(lock, 3_600_000);
    const del = { containerId: 'c1', ifname: 'eth1', describe: req.describe };
    // before: "…right now; try again when it is done", for ever — nothing but removing the lock file on the node ended it
    const head = 'another cni-attach/cni-detach (pid 78 on host laptop-2) holds the lock of eth1 in netns /var/run/netns/a on node node-b: a command of another host, which this host cannot see (only host laptop-2 can tell whether that command still runs; if you know it does not — that host is down, or the command was killed —, ';
    const passed = /takes its lock at once: the time limit that lock holds on node node-b \(70s since it last changed\) passed at \S+Z \(58m50s ago\)/;
    for (const op of [() => detach(node, cache, del), () => planRecorded(node, cache, del, 'DEL')]) {
      const e = await op().catch((x: unknown) => x);
      expect(e).toBeInstanceOf(BusyError);
      expect((e as Error).message.startsWith(`${head}the same cni-detach with --force `)).toBe(true);
      expect((e as Error).message).toMatch(passed);
      expect((e as Error).message).toMatch(/ — and, as --force does, forgets the attachment if its DEL then fails\)$/);
    }
    // attach and check (which an outside tester saw say "…right now; try again when it is done" of a laptop's attach
    // killed long before): the same, naming the cni-detach --force they were given (WaysOut), or cni-detach --force
    const ways = { detach: 'kubectl cni-detach --netns /var/run/netns/a --ifname eth1', force: 'kubectl cni-detach --netns /var/run/netns/a --ifname eth1 --force', forceWithConfig: '' };
    for (const op of [() => attach(node, cache, { ...req, ways }), () => check(node, cache, { ...del, ways })]) {
      const e = await op().catch((x: unknown) => x);
      expect(e).toBeInstanceOf(BusyError);
      expect((e as Error).message.startsWith(`${head}\`kubectl cni-detach --netns /var/run/netns/a --ifname eth1 --force\` `)).toBe(true);
      expect((e as Error).message).toMatch(passed);
      expect((e as Error).message).not.toMatch(/right now|try again/);
    }
    // cni-gc's own DELs: the generic words (its note names the command line: cli/gc.ts leftWhy)
    const e = await detach(node, cache, { ...del, by: 'cni-gc' }).catch((x: unknown) => x);
    expect((e as Error).message.startsWith(`${head}a cni-detach --force of it `)).toBe(true);
    expect(exec.files.get(lock)).toBe('laptop-2 78 5000 limit=70s\n');
    // --force: the user's word; within the limit since it last changed, busy with when it is free
    const forced = new ResultCache(exec, CACHE, { ...fakeOwner(), othersGone: true });
    exec.ages.set(lock, 30_000);
    const f = await detach(node, forced, { ...del, force: true }).catch((x: unknown) => x);
    expect((f as Error).message).toMatch(/^another cni-attach\/cni-detach is working on eth1 in netns \/var\/run\/netns\/a right now: its command \(pid 78 on host laptop-2\) is gone, but what it started on node node-b may run until its time limit ends; the lock is free in 40s \(at \S+Z\): try again then$/);
    exec.ages.set(lock, 70_000);
    expect(await detach(node, forced, { ...del, force: true })).toEqual([expect.objectContaining({ fromIntent: true })]);
    expect(exec.files.has(lock)).toBe(false);
    expect(exec.files.has(intentPath(CACHE, key))).toBe(false);
  });

  it('on this host: its lock holds no time limit, and one whose holder is gone is broken at once', async () => {
    const { exec, ctx, cache, req } = setup();
    const lock = lockPath(CACHE, 'c1', 'eth1');
    const seen: string[] = [];
    exec.addPlugin('/opt/cni/bin/tuning', (c) => (seen.push(exec.files.get(lock) ?? 'none'), c.command === 'ADD' ? { stdout: JSON.stringify(c.stdin.prevResult) } : {}));
    exec.files.set(lock, 'fake-host 78 5000\n');
    await attach({ ...ctx, timeoutMs: 60_000 }, cache, req);
    expect(seen).toEqual(['fake-host 4242 100\n']);
  });

  it('refuses a capability no plugin declares', async () => {
    const { ctx, cache, req } = setup();
    await expect(attach(ctx, cache, { ...req, rt: { ...req.rt, capabilityArgs: { mac: '02:00:00:00:00:01' } } })).rejects.toThrow(/declares the "mac" capability/);
  });

  it('removes the intent after a failed ADD that was rolled back', async () => {
    const { exec, ctx, cache, req } = setup();
    exec.addPlugin('/opt/cni/bin/tuning', (c) => (c.command === 'ADD' ? { code: 1, stderr: 'no' } : {}));
    await expect(attach(ctx, cache, req)).rejects.toThrow(PluginError);
    expect([...exec.files.keys()]).toEqual([]); // no lock file either
  });

  it('keeps the intent when the rollback failed too, so detach can finish the job', async () => {
    const { exec, ctx, cache, req } = setup();
    exec.addPlugin('/opt/cni/bin/tuning', () => ({ code: 1, stderr: 'no' }));
    await expect(attach(ctx, cache, req)).rejects.toThrow(/rolling back also failed/);
    expect(exec.files.has(intentPath(CACHE, key))).toBe(true);
    exec.addPlugin('/opt/cni/bin/tuning', () => ({}));
    exec.calls.length = 0;
    const done = await detach(ctx, cache, { containerId: 'c1', ifname: 'eth1', netns: NS, describe: 'x' });
    expect(done).toEqual([{ network: 'net', containerId: 'c1', fromIntent: true }]);
    expect(exec.commands()).toEqual(['DEL tuning', 'DEL bridge']);
    expect(exec.files.size).toBe(0);
  });

  it('rolls back when the result cannot be cached (no attachment we do not record)', async () => {
    const { exec, ctx, cache, req } = setup();
    exec.failWrites = /\/results\//;
    const err = await attach(ctx, cache, req).catch((e) => e);
    expect(err).toBeInstanceOf(NotRecordedError);
    expect(err.message).toMatch(/could not write the result cache \/var\/lib\/cni\/results\/net-c1-eth1: .*EACCES.*\(rolled back\)/);
    expect(exec.commands()).toEqual(['VERSION bridge', 'VERSION tuning', 'ADD bridge', 'ADD tuning', 'DEL tuning', 'DEL bridge']);
    expect(exec.files.size).toBe(0);
  });

  it('runs no plugin when the intent cannot be recorded', async () => {
    const { exec, ctx, cache, req } = setup();
    exec.failWrites = /intents/;
    const err = await attach(ctx, cache, req).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.fix).toEqual({ setting: 'cacheDir' });
    expect(err.message).toMatch(/could not record the attach in \/var\/lib\/cni\/cni-attach\/intents\/net-c1-eth1: .*EACCES/);
    expect(exec.calls.filter((c) => c.command === 'ADD')).toHaveLength(0);
  });

  it('plans after the read-only checks, running nothing but VERSION and writing nothing', async () => {
    const { exec, ctx, cache, req } = setup();
    const { runs, already } = await planAttach(ctx, cache, req);
    expect(already).toBeUndefined();
    expect(runs.map((r) => [r.type, r.args.command])).toEqual([['bridge', 'ADD'], ['tuning', 'ADD']]);
    expect(runs[1]!.stdin.prevResult).toEqual({ '(result of plugin)': 'bridge' });
    expect(exec.commands()).toEqual(['VERSION bridge', 'VERSION tuning']);
    expect(exec.files.size).toBe(0);
  });

  it('a plan fails as the attach would before changing anything: same error, same kind, nothing run or written', async () => {
    const cases: [string, (s: ReturnType<typeof setup>) => Promise<AttachRequest | void>][] = [
      ['a version no plugin speaks', async (s) => s.exec.addPlugin('/opt/cni/bin/tuning', () => ({}), ['0.3.1', '0.4.0'])],
      ['a missing plugin', async (s) => void s.exec.plugins.delete('/opt/cni/bin/tuning')],
      ['a capability no plugin declares', async (s) => ({ ...s.req, rt: { ...s.req.rt, capabilityArgs: { mac: '02:00:00:00:00:01' } } })],
      ['an existing link', async (s) => void s.exec.links.set(NS, new Set(['eth1']))],
      ['a VERSION that fails', async (s) => void s.exec.plugins.set('/opt/cni/bin/tuning', () => ({ code: 1, stderr: 'broken' }))],
    ];
    for (const [what, arrange] of cases) {
      const plan = setup();
      const real = setup();
      const planReq = (await arrange(plan)) ?? plan.req;
      const realReq = (await arrange(real)) ?? real.req;
      const planned = await planAttach(plan.ctx, plan.cache, planReq).catch((e) => e);
      const attached = await attach(real.ctx, real.cache, realReq).catch((e) => e);
      expect(planned, what).toBeInstanceOf(Error);
      expect([planned.constructor, planned.message, planned.left], what).toEqual([attached.constructor, attached.message, 'nothing']);
      expect(plan.exec.calls.filter((c) => c.command !== 'VERSION'), what).toEqual([]);
      expect(plan.exec.files.has(resultPath(CACHE, key)) || plan.exec.files.has(intentPath(CACHE, key)), what).toBe(false);
    }
  });

  it('a plan refuses a taken ifname as the attach does; an attachment already there (reattachSame) plans no run', async () => {
    const { exec, ctx, cache, req } = setup();
    await attach(ctx, cache, req);
    exec.calls.length = 0;
    const err = await planAttach(ctx, cache, req).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toBe('eth1 is already taken in netns /var/run/netns/a: it is attached (network net)');
    expect(err.next).toMatch(/^run cni-detach first/);
    const again = await planAttach(ctx, cache, { ...req, reattachSame: true });
    expect(again.runs).toEqual([]);
    expect(again.already).toMatchObject({ already: true });
    expect(exec.calls).toHaveLength(0);
  });

  it('a plan of a CNI 1.1 list asks STATUS too, and fails when a plugin is not ready', async () => {
    const s = setup('1.1.0');
    for (const t of ['bridge', 'tuning']) s.exec.addPlugin(`/opt/cni/bin/${t}`, (c) => (c.command === 'STATUS' && t === 'tuning' ? { code: 1, stdout: JSON.stringify({ cniVersion: '1.1.0', code: 50, msg: 'not ready' }) } : {}), ['1.0.0', '1.1.0']);
    const err = await planAttach(s.ctx, s.cache, s.req).catch((e) => e);
    expect(err).toBeInstanceOf(PluginError);
    expect(err.message).toMatch(/plugin tuning failed on STATUS \(CNI error 50\): not ready/);
    expect(s.exec.commands()).toEqual(['VERSION bridge', 'VERSION tuning', 'STATUS bridge', 'STATUS tuning']);
  });

  it('says what a failure left (CniAttachError.left), and keeps the user\'s command lines out of the message (next)', async () => {
    const ways = { detach: 'kubectl cni-detach --netns a --ifname eth1 --cache-dir /tmp/mine', force: 'F', forceWithConfig: 'FC' };
    const left = async (arrange: (s: ReturnType<typeof setup>) => void, twice = false) => {
      const s = setup();
      if (twice) await attach(s.ctx, s.cache, s.req);
      arrange(s);
      const e = await attach(s.ctx, s.cache, { ...s.req, ways }).catch((x) => x);
      expect(e.message).not.toMatch(/kubectl|\/tmp\/mine/);
      return [e.left, e.next !== undefined && /kubectl cni-detach .*--cache-dir \/tmp\/mine/.test(e.next)];
    };
    expect(await left(() => undefined, true)).toEqual(['nothing', true]); // taken
    expect(await left((s) => s.exec.files.set(lockPath(CACHE, 'c1', 'eth1'), 'fake-host 4242 100\n'))).toEqual(['nothing', false]); // busy
    expect(await left((s) => (s.exec.failWrites = /intents/))).toEqual(['nothing', false]);
    expect(await left((s) => s.exec.addPlugin('/opt/cni/bin/tuning', (c) => (c.command === 'ADD' ? { code: 1, stderr: 'no' } : {})))).toEqual(['undone', false]);
    expect(await left((s) => s.exec.addPlugin('/opt/cni/bin/tuning', () => ({ code: 1, stderr: 'no' })))).toEqual(['recorded', true]);
    expect(await left((s) => (s.exec.failWrites = /\/results\//))).toEqual(['undone', false]);
    expect(await left((s) => {
      s.exec.failWrites = /\/results\//;
      s.exec.addPlugin('/opt/cni/bin/tuning', (c) => (c.command === 'DEL' ? { code: 1, stderr: 'no' } : c.command === 'ADD' ? { stdout: JSON.stringify(c.stdin.prevResult) } : {}));
    })).toEqual(['recorded', false]);
  });
});

describe('detach', () => {
  it('DELs through the cached chain with the cached result, then forgets the attachment', async () => {
    const { exec, ctx, cache, req } = setup();
    const { result } = await attach(ctx, cache, req);
    exec.calls.length = 0;
    const done = await detach(ctx, cache, { containerId: 'c1', ifname: 'eth1', netns: NS, describe: 'x' });
    expect(done).toEqual([{ network: 'net', containerId: 'c1', fromIntent: false }]);
    expect(exec.commands()).toEqual(['DEL tuning', 'DEL bridge']);
    expect(exec.calls[0]!.stdin.prevResult).toEqual(result);
    expect(exec.calls[0]!.env.CNI_NETNS).toBe(NS);
    expect(exec.files.size).toBe(0);
  });

  it('is a no-op for something never attached, and twice in a row', async () => {
    const { exec, ctx, cache, req } = setup();
    expect(await detach(ctx, cache, { containerId: 'c1', ifname: 'eth1', netns: NS, describe: 'x' })).toEqual([]);
    await attach(ctx, cache, req);
    await detach(ctx, cache, { containerId: 'c1', ifname: 'eth1', netns: NS, describe: 'x' });
    exec.calls.length = 0;
    expect(await detach(ctx, cache, { containerId: 'c1', ifname: 'eth1', netns: NS, describe: 'x' })).toEqual([]);
    expect(exec.calls).toHaveLength(0);
  });

  it('with a config and no cache entry still runs DEL (idempotent, like cnitool del)', async () => {
    const { exec, ctx, cache, list } = setup();
    const done = await detach(ctx, cache, { containerId: 'c1', ifname: 'eth1', netns: NS, describe: 'x', list });
    expect(done).toEqual([{ network: 'net', containerId: 'c1', fromIntent: false, uncached: true }]);
    expect(exec.commands()).toEqual(['DEL tuning', 'DEL bridge']);
    expect(exec.calls[0]!.stdin).not.toHaveProperty('prevResult');
  });

  it('refuses to DEL with --conf of another network what a different network attached', async () => {
    const { exec, ctx, cache, req } = setup();
    await attach(ctx, cache, req);
    exec.calls.length = 0;
    const other = parseNetworkConfig(JSON.stringify({ cniVersion: '1.0.0', name: 'other', type: 'bridge' }), 't');
    await expect(detach(ctx, cache, { containerId: 'c1', ifname: 'eth1', netns: NS, describe: 'netns a', list: other })).rejects.toThrow(
      /eth1 in netns a was attached through network net, not other/,
    );
    expect(exec.calls).toHaveLength(0);
    expect(exec.files.has(resultPath(CACHE, key))).toBe(true);
  });

  it('refuses it too where the record is found by a match alone (a pod whose sandbox is gone), as its plan does', async () => {
    const { exec, ctx, cache, req } = setup();
    await attach(ctx, cache, req);
    exec.calls.length = 0;
    const other = parseNetworkConfig(JSON.stringify({ cniVersion: '1.0.0', name: 'other', type: 'bridge' }), 't');
    const byMatch = { ifname: 'eth1', netns: '', describe: 'pod shop/web-1', match: (e: { containerId: string }) => e.containerId === 'c1', list: other };
    for (const run of [() => detach(ctx, cache, byMatch), () => planRecorded(ctx, cache, byMatch, 'DEL')]) {
      await expect(run()).rejects.toThrow(/^eth1 in pod shop\/web-1 was attached through network net, not other$/);
    }
    expect(exec.calls).toHaveLength(0);
    expect(exec.files.has(resultPath(CACHE, key))).toBe(true);
  });

  it('uses the cached CNI_ARGS and capability args', async () => {
    const { exec, ctx, cache, req } = setup();
    await attach(ctx, cache, { ...req, rt: { ...req.rt, cniArgs: [['IgnoreUnknown', '1']], capabilityArgs: { ips: ['198.18.0.5/24'] } } });
    exec.calls.length = 0;
    await detach(ctx, cache, { containerId: 'c1', ifname: 'eth1', netns: NS, describe: 'x' });
    const bridgeDel = exec.calls.find((c) => c.command === 'DEL' && c.path.endsWith('bridge'))!;
    expect(bridgeDel.env.CNI_ARGS).toBe('IgnoreUnknown=1');
    expect(bridgeDel.stdin.runtimeConfig).toEqual({ ips: ['198.18.0.5/24'] });
  });

  it('keeps the cache entry when DEL fails, so it can be retried', async () => {
    const { exec, ctx, cache, req } = setup();
    await attach(ctx, cache, req);
    exec.addPlugin('/opt/cni/bin/bridge', () => ({ code: 1, stdout: JSON.stringify({ code: 11, msg: 'try again' }) }));
    const ways = { detach: 'kubectl cni-detach --netns a --ifname eth1 --cache-dir /tmp/mine', force: 'F', forceWithConfig: 'FC' };
    const e = await detach(ctx, cache, { containerId: 'c1', ifname: 'eth1', netns: NS, describe: 'x', ways }).catch((x) => x);
    expect(e.message).toMatch(/try again; the record stays$/);
    expect(e.next).toMatch(/^run `kubectl cni-detach --netns a --ifname eth1 --cache-dir \/tmp\/mine` again/);
    expect(exec.files.has(resultPath(CACHE, key))).toBe(true);
  });
});

describe('the mark of a DEL under way (cni-attach/deleting/: a detach stopped part-way told from an interface deleted by hand)', () => {
  const MARK = deletingPath(CACHE, key);
  const detachReq = { containerId: 'c1', ifname: 'eth1', netns: NS, describe: `netns ${NS}` };

  it('is written before the first DEL, by whom and when, and removed with the result and the intent', async () => {
    const { exec, ctx, cache, req } = setup();
    await attach(ctx, cache, req);
    const seen: (string | undefined)[] = [];
    exec.addPlugin('/opt/cni/bin/tuning', () => (seen.push(exec.files.get(MARK)), {}));
    await detach(ctx, cache, detachReq);
    expect(JSON.parse(seen[0]!)).toMatchObject({ kind: 'cniAttachDeletingV1', command: 'cni-detach', host: fakeOwner().host, pid: fakeOwner().pid, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) });
    expect(exec.files.size).toBe(0);
    expect(cacheDirsOf(CACHE)).toContain(`${CACHE}/cni-attach/deleting`);
  });

  it('stays when the DEL is stopped part-way (its node lost after the first plugin deleted the link): the record and its mark are found together', async () => {
    const { exec, ctx, cache, req } = setup();
    await attach(ctx, cache, req);
    exec.addPlugin('/opt/cni/bin/bridge', () => {
      throw new UnreachableError('the session was lost');
    });
    await expect(detach(ctx, cache, detachReq)).rejects.toThrow(UnreachableError);
    expect(exec.files.has(resultPath(CACHE, key))).toBe(true);
    const [f] = await cache.find('c1', 'eth1');
    expect(f!.deleting).toMatchObject({ command: 'cni-detach', pid: fakeOwner().pid });
    expect(f!.deleting!.failed).toBeUndefined();
    // run again (DEL is idempotent): finished, nothing left
    exec.addPlugin('/opt/cni/bin/bridge', () => ({}));
    expect(await detach(ctx, cache, detachReq)).toHaveLength(1);
    expect(exec.files.size).toBe(0);
  });

  it('says the plugin\'s refusal when its DEL ran to its end and failed; a forced detach leaves no mark', async () => {
    const { exec, ctx, cache, req } = setup();
    await attach(ctx, cache, req);
    exec.addPlugin('/opt/cni/bin/bridge', () => ({ code: 1, stdout: JSON.stringify({ code: 11, msg: 'lease store busy' }) }));
    await expect(detach(ctx, cache, detachReq)).rejects.toThrow(/lease store busy; the record stays/);
    expect(JSON.parse(exec.files.get(MARK)!).failed).toMatch(/lease store busy/);
    await detach(ctx, cache, { ...detachReq, force: true });
    expect(exec.files.size).toBe(0);
  });

  it('is never written by the rollback of a failed ADD (part of the attach: its intent tells), whether the rollback succeeds or fails', async () => {
    for (const rollback of [{}, { code: 1, stdout: JSON.stringify({ code: 11, msg: 'no' }) }]) {
      const { exec, ctx, cache, req } = setup();
      exec.addPlugin('/opt/cni/bin/tuning', (c) => (c.command === 'ADD' ? { code: 1, stdout: JSON.stringify({ code: 11, msg: 'bad' }) } : {}));
      exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult('eth1', NS, '198.18.0.2/24', '1.0.0')) } : rollback));
      await expect(attach(ctx, cache, req)).rejects.toThrow(/bad/);
      expect([...exec.files.keys()].filter((p) => p.includes('/deleting/'))).toEqual([]);
    }
  });

  it('gc\'s DEL names cni-gc', async () => {
    const { exec, ctx, cache, req } = setup();
    await attach(ctx, cache, req);
    exec.addPlugin('/opt/cni/bin/bridge', () => {
      throw new UnreachableError('lost');
    });
    await expect(detach(ctx, cache, { ...detachReq, by: 'cni-gc' })).rejects.toThrow(UnreachableError);
    expect(JSON.parse(exec.files.get(MARK)!).command).toBe('cni-gc');
  });

  it('refuses a new attach of the key as taken, saying the DEL stopped and naming the cni-detach that finishes it (also reattachSame and the dry run)', async () => {
    const { exec, ctx, cache, req } = setup();
    await attach(ctx, cache, req);
    exec.files.set(MARK, JSON.stringify({ kind: 'cniAttachDeletingV1', command: 'cni-detach', at: '2026-12-02T05:00:00Z', host: 'lap', pid: 77 }));
    const ways = { detach: 'kubectl cni-detach --netns a --ifname eth1', force: 'F', forceWithConfig: 'FC' };
    for (const run of [() => attach(ctx, cache, { ...req, ways }), () => attach(ctx, cache, { ...req, ways, reattachSame: true }), () => planAttach(ctx, cache, { ...req, ways })]) {
      const e = await run().then(() => undefined, (x: unknown) => x as UsageError);
      expect(e).toBeInstanceOf(UsageError);
      expect(e!.message).toBe(`eth1 is already taken in netns ${NS}: a cni-detach (pid 77 on host lap) stopped during its DEL of it at 2026-12-02T05:00:00Z (network net); the link eth1 in netns ${NS} and its IPAM lease may remain if no DEL freed them`);
      expect(e!.next).toBe('run cni-detach first to finish it (`kubectl cni-detach --netns a --ifname eth1`: DEL is idempotent; `F` if its DEL keeps failing)');
    }
  });

  it('a mark of no record (a detach stopped between removing the result and its mark) is nothing, and the next attach of the key removes it', async () => {
    const { exec, ctx, cache, req } = setup();
    exec.files.set(MARK, JSON.stringify({ kind: 'cniAttachDeletingV1', command: 'cni-detach' }));
    expect(await cache.all()).toEqual([]);
    await attach(ctx, cache, req);
    expect(exec.files.has(MARK)).toBe(false);
    expect((await cache.find('c1', 'eth1'))[0]!.deleting).toBeUndefined();
  });

  it('cni-check (and its dry run) of a record with its mark: not attached, exit 3, with the cni-detach that finishes it; no CHECK runs', async () => {
    const { exec, ctx, cache, req } = setup();
    await attach(ctx, cache, req);
    exec.files.set(MARK, '{"kind":"cniAttachDeletingV1","command":"cni-gc","at":"2026-12-02T05:00:00Z"}');
    exec.calls.length = 0;
    const ways = { detach: 'kubectl cni-detach --netns a --ifname eth1', force: 'F', forceWithConfig: 'FC' };
    for (const run of [() => check(ctx, cache, { ...detachReq, ways }), () => planRecorded(ctx, cache, { ...detachReq, ways }, 'CHECK')]) {
      const e = await run().then(() => undefined, (x: unknown) => x as NotFoundError);
      expect(e).toBeInstanceOf(NotFoundError);
      expect(e!.message).toBe(`eth1 in netns ${NS} is not attached: a cni-gc stopped during its DEL of it at 2026-12-02T05:00:00Z (network net); the link eth1 in netns ${NS} and its IPAM lease may remain if no DEL freed them; nothing to CHECK`);
      expect(e!.next).toBe('run `kubectl cni-detach --netns a --ifname eth1` to finish it (DEL is idempotent; `F` if its DEL keeps failing)');
    }
    expect(exec.calls.filter((c) => c.command === 'CHECK')).toEqual([]);
  });
});

describe('check', () => {
  it('CHECKs through the chain with the cached result', async () => {
    const { exec, ctx, cache, req } = setup();
    await attach(ctx, cache, req);
    exec.calls.length = 0;
    expect(await check(ctx, cache, { containerId: 'c1', ifname: 'eth1', netns: NS, describe: 'x' })).toEqual([{ network: 'net' }]);
    // the VERSION answers of the attach are still known in this process
    expect(exec.commands()).toEqual(['CHECK bridge', 'CHECK tuning']);
  });
  it('says nothing is attached when there is no cache entry', async () => {
    const { ctx, cache } = setup();
    await expect(check(ctx, cache, { containerId: 'c1', ifname: 'eth1', netns: NS, describe: 'netns x' })).rejects.toThrow(NotFoundError);
  });
});

describe('a cni-gc running GC of the network (SPEC.md "Lifecycle & Ordering": no ADD or DEL beside GC)', () => {
  const GC_LOCK = gcLockPath(CACHE, 'net');
  const LIVE_GC = 'fake-host 5151 200\n';

  /** A 1.1 network; each plugin run logs its command and whether the GC lock was there then. */
  function setup11(version = '1.1.0') {
    const s = setup(version);
    const owner = fakeOwner(new Map([[5151, '200']])); // pid 5151: a live cni-gc
    const cache = new ResultCache(s.exec, CACHE, owner);
    const log: string[] = [];
    for (const t of ['bridge', 'tuning']) {
      s.exec.addPlugin(`/opt/cni/bin/${t}`, (c) => {
        log.push(`${c.command} ${t}${s.exec.files.has(GC_LOCK) ? ' (gc lock held)' : ''}`);
        if (c.command !== 'ADD') return {};
        return { stdout: JSON.stringify(t === 'bridge' ? bridgeResult('eth1', NS, '198.18.0.2/24', version) : c.stdin.prevResult) };
      }, ['1.0.0', '1.1.0']);
    }
    // the port's order: what the attach wrote and read, in turn
    const trace: string[] = [];
    const { readFile, writeFileAtomic, removeFile } = s.exec;
    s.exec.readFile = async (p) => (p === GC_LOCK && trace.push('read gc lock'), readFile.call(s.exec, p));
    s.exec.writeFileAtomic = async (p, d) => (p.includes('/intents/') && trace.push('write intent'), writeFileAtomic.call(s.exec, p, d));
    s.exec.removeFile = async (p) => (p.includes('/intents/') && trace.push('remove intent'), p.endsWith('/c1-eth1.lock') && trace.push('release lock'), removeFile.call(s.exec, p));
    const { createExclusive } = s.exec;
    s.exec.createExclusive = async (p, d, m) => (p.endsWith('/c1-eth1.lock') && trace.push('take lock'), createExclusive.call(s.exec, p, d, m));
    return { ...s, cache, owner, log, trace };
  }

  it('the dry runs of an attach and a detach say that the real command would wait for the running cni-gc (its holder named), and change nothing; none said once GC is done', async () => {
    const s = setup11();
    s.exec.files.set(GC_LOCK, LIVE_GC);
    // before: the plan printed the runs alone, as if the ADD and DEL would run at once
    const plan = await planAttach(s.ctx, s.cache, s.req);
    expect(plan.gcWait).toEqual({ network: 'net', holder: { pid: 5151, host: 'fake-host', start: '200' }, command: 'ADD' });
    expect(gcWaitLine(plan.gcWait!, 'fake-host', 60_000)).toBe('would wait for cni-gc of network net (running, pid 5151 on this host fake-host) before its ADD, at most 1m (--timeout): no ADD runs beside CNI GC');
    await attach(s.ctx, s.cache, s.req).catch(() => undefined); // (it waits past its limit: busy, nothing left)
    s.exec.files.delete(GC_LOCK);
    await attach(s.ctx, s.cache, s.req);
    s.exec.files.set(GC_LOCK, LIVE_GC);
    const waits: GcWait[] = [];
    const runs = await planRecorded(s.ctx, s.cache, { containerId: 'c1', ifname: 'eth1', describe: 'x' }, 'DEL', (w) => waits.push(w));
    expect(runs.map((r) => r.args.command)).toEqual(['DEL', 'DEL']);
    expect(waits).toEqual([{ network: 'net', holder: { pid: 5151, host: 'fake-host', start: '200' }, command: 'DEL' }]);
    expect(s.exec.files.get(GC_LOCK)).toBe(LIVE_GC);
    s.exec.files.delete(GC_LOCK);
    expect((await planAttach(s.ctx, s.cache, { ...s.req, rt: { ...s.req.rt, ifname: 'eth2' } })).gcWait).toBeUndefined();
  });

  it('an attach takes its interface lock, then reads the GC lock before it writes anything: a live cni-gc\'s sends it back without its lock (no intent), and once GC is done it takes the lock again and runs (one note says so)', async () => {
    const s = setup11();
    s.exec.files.set(GC_LOCK, LIVE_GC);
    const LOCK = lockPath(CACHE, 'c1', 'eth1');
    let whileWaiting: string[] = [];
    setTimeout(() => {
      whileWaiting = [...s.exec.files.keys()];
      s.exec.files.delete(GC_LOCK); // GC returned: the lock goes
    }, 150);
    await attach({ ...s.ctx, timeoutMs: 5000 }, s.cache, s.req);
    // before: the intent was written, then the GC lock read, and the attach waited holding its interface lock
    expect(whileWaiting).toEqual([GC_LOCK]);
    expect(s.trace.slice(0, 4)).toEqual(['take lock', 'read gc lock', 'release lock', 'read gc lock']);
    const again = s.trace.indexOf('take lock', 1);
    expect(s.trace.slice(again, again + 3)).toEqual(['take lock', 'read gc lock', 'write intent']);
    expect(s.trace.slice(1, again).filter((t) => t !== 'read gc lock')).toEqual(['release lock']);
    expect(s.exec.files.has(LOCK)).toBe(false);
    expect(s.log).toEqual(['STATUS bridge', 'STATUS tuning', 'ADD bridge', 'ADD tuning']);
    expect(s.notes).toEqual([expect.stringMatching(/^waited \d+\.\ds for a cni-gc \(pid 5151 on this host fake-host\) to finish CNI GC of network net before the ADD \(no ADD runs beside GC\)$/)]);
    expect(s.exec.files.has(resultPath(CACHE, key))).toBe(true);
  });

  it('an attach that took the GC lock\'s absence once does not read it again: a cni-gc that begins during its ADD is the one to wait (cni-gc sees its interface lock)', async () => {
    const s = setup11();
    s.exec.addPlugin('/opt/cni/bin/bridge', (c) => {
      s.log.push(`${c.command} bridge`);
      if (c.command !== 'ADD') return {};
      s.exec.files.set(GC_LOCK, LIVE_GC); // a cni-gc took its GC lock now: it waits for this attach's interface lock
      return { stdout: JSON.stringify(bridgeResult('eth1', NS, '198.18.0.2/24', '1.1.0')) };
    }, ['1.0.0', '1.1.0']);
    await attach({ ...s.ctx, timeoutMs: 200 }, s.cache, s.req);
    expect(s.trace.filter((t) => t === 'read gc lock')).toHaveLength(1);
    expect(s.log).toEqual(['STATUS bridge', 'STATUS tuning', 'ADD bridge', 'ADD tuning (gc lock held)']);
    expect(s.notes).toEqual([]);
  });

  it('a GC lock whose cni-gc is gone is stale: broken, and the attach goes on at once', async () => {
    const s = setup11();
    s.exec.files.set(GC_LOCK, 'fake-host 999 1\n'); // pid 999 runs no more
    await attach(s.ctx, s.cache, s.req);
    expect(s.exec.files.has(GC_LOCK)).toBe(false);
    expect(s.log).toContain('ADD bridge');
    expect(s.notes).toEqual([]);
  });

  it('past the plugin time limit: busy (exit 1), nothing ran or was written, and nothing is left but the cni-gc\'s lock', async () => {
    const s = setup11();
    s.exec.files.set(GC_LOCK, LIVE_GC);
    const e = await attach({ ...s.ctx, timeoutMs: 200 }, s.cache, s.req).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BusyError);
    expect((e as BusyError).message).toBe('a cni-gc (pid 5151 on this host fake-host) is still running CNI GC of network net after 200ms (the plugin time limit) of waiting, and no ADD may run beside it (CNI spec); nothing was changed for netns /var/run/netns/a: try again when it is done');
    expect(attachLeft(e)).toBe('nothing');
    expect(s.log.filter((l) => l.startsWith('ADD'))).toEqual([]);
    // before: its intent was written before the GC lock was read, and removed again
    expect(s.trace).toEqual(['take lock', 'read gc lock', 'release lock', ...s.trace.slice(3).map(() => 'read gc lock')]);
    expect([...s.exec.files.keys()]).toEqual([GC_LOCK]);
  });

  it('a detach waits before its DEL as an attach before its ADD (its interface lock given back meanwhile), and is busy past the bound with its record kept', async () => {
    const s = setup11();
    await attach(s.ctx, s.cache, s.req);
    s.exec.files.set(GC_LOCK, LIVE_GC);
    s.log.length = 0;
    s.trace.length = 0;
    const e = await detach({ ...s.ctx, timeoutMs: 200 }, s.cache, { containerId: 'c1', ifname: 'eth1', describe: 'x' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BusyError);
    expect((e as Error).message).toMatch(/no DEL may run beside it/);
    expect(s.log).toEqual([]);
    expect(s.exec.files.has(resultPath(CACHE, key))).toBe(true);
    expect(s.trace.slice(0, 3)).toEqual(['take lock', 'read gc lock', 'release lock']);
    expect(s.exec.files.has(lockPath(CACHE, 'c1', 'eth1'))).toBe(false);

    let lockWhileWaiting = true;
    setTimeout(() => {
      lockWhileWaiting = s.exec.files.has(lockPath(CACHE, 'c1', 'eth1'));
      s.exec.files.delete(GC_LOCK);
    }, 150);
    expect(await detach({ ...s.ctx, timeoutMs: 5000 }, s.cache, { containerId: 'c1', ifname: 'eth1', describe: 'x' })).toHaveLength(1);
    expect(lockWhileWaiting).toBe(false);
    expect(s.log).toEqual(['DEL tuning', 'DEL bridge']);
    expect(s.notes.at(-1)).toMatch(/^waited \d+\.\ds for a cni-gc \(pid 5151 on this host fake-host\) to finish CNI GC of network net before the DEL/);
  });

  it('costs nothing where GC does not run: a 1.0.0 network, disableGC, a node reached by commands read no GC lock', async () => {
    // (the 1.1 case above reads it: that is what these are measured against)
    for (const make of [
      () => setup11('1.0.0'),
      () => {
        const s = setup11();
        return { ...s, req: { ...s.req, list: parseNetworkConfig(JSON.stringify({ cniVersion: '1.1.0', name: 'net', disableGC: true, plugins: [{ type: 'bridge', capabilities: { ips: true } }, { type: 'tuning' }] }), 't') } };
      },
    ]) {
      const s = make();
      s.exec.files.set(GC_LOCK, LIVE_GC);
      await attach({ ...s.ctx, timeoutMs: 200 }, s.cache, s.req);
      await detach({ ...s.ctx, timeoutMs: 200 }, s.cache, { containerId: 'c1', ifname: 'eth1', describe: 'x' });
      expect(s.trace.filter((t) => !t.endsWith(' lock'))).toEqual(['write intent', 'remove intent', 'remove intent']); // the attach's, the detach's
      expect(s.trace).not.toContain('read gc lock');
    }
    expect(new ResultCache(Object.assign(new FakeExecutor(), { elsewhere: 'node node-b' }), CACHE, fakeOwner()).gcHere).toBe(false);
    expect(new ResultCache(new FakeExecutor(), CACHE, fakeOwner()).gcHere).toBe(true);
  });
});
