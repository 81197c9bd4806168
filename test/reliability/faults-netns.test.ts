/**
 * Faults around a chain, on a network namespace target, each checked against the host state before the run (links,
 * namespaces, leases, cache files incl. locks and temp files, processes of our plugins): plugins that exit non-zero
 * without output, die of a signal, hang, or print garbage (faults 1–4); the tool SIGKILLed at exact points between
 * recording its intent and releasing its lock (5); the namespace vanishing between resolution and ADD (9); a cache dir
 * that cannot be written (12); stale locks (13). The chain is always a real bridge + host-local first, so that a
 * rollback has something real to undo. Addresses: 198.18.60.0/24.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectCleanError, expectOk, runCli, show, spawnCli } from '../helpers/cli.js';
import { bridgePlugin, conflist, writeConf, type Json } from '../helpers/confs.js';
import { CNI_DIR } from '../helpers/env.js';
import { fakePlugin, passThroughAdd } from '../helpers/fake-plugin.js';
import { captureState, expectState, makeBridge, type Scope } from '../helpers/host-state.js';
import { useLab } from '../helpers/lab.js';
import { containerIdOf, netnsPath } from '../helpers/net.js';
import { runBin } from '../helpers/run.js';
import { must, sh, waitFor } from '../helpers/sh.js';

const lab = useLab('rf');
const SUBNET = '198.18.60.0/24';

/** A namespace, a pre-made bridge, a workspace, and a conflist of the bridge plugin followed by `more`. */
async function world(more: Json[] = [], first: Json[] = []) {
  const ws = await lab.workspace();
  const ns = await lab.netns();
  const br = await makeBridge(lab);
  const net = lab.name('k');
  const conf = await writeConf(ws.dir, 'chain.conflist', conflist(net, [...first, bridgePlugin(br, SUBNET, ws.dataDir), ...more]));
  const cniPath = `${ws.pluginDir}:${CNI_DIR}`;
  const scope: Scope = { lab, ws, netns: [ns], bridges: [br], markers: [netnsPath(ns)] };
  const cid = containerIdOf(netnsPath(ns));
  const args = (withConf = true) => lab.args(ws, ns, 'eth1', withConf ? conf : undefined, cniPath);
  return { ws, ns, br, net, conf, cniPath, scope, cid, args };
}

/** "300.123456123456": a sleep duration (and so a command line) nobody else uses. */
function uniqueSeconds(whole: number): string {
  return `${whole}.${randomInt(100_000, 999_999)}${randomInt(100_000, 999_999)}`;
}

describe('faults 1–4: a plugin of the chain misbehaves on ADD → exit 1, rolled back, host as before', () => {
  const faults: [string, string, RegExp, string[]?][] = [
    ['exits non-zero without any output', 'exit 3', /exited with code 3 and printed nothing/],
    ['is killed by SIGKILL', 'kill -KILL $$', /killed by signal SIGKILL/],
    ['crashes with SIGSEGV', 'kill -SEGV $$', /killed by signal SIGSEGV/],
    ['prints garbage', 'echo "<html>502 Bad Gateway</html> {"', /printed no JSON result: <html>502 Bad Gateway<\/html> \{/],
    ['prints 1 MiB of garbage', "head -c 1048576 /dev/zero | tr '\\000' x", /printed no JSON result: x{50}/],
    ['prints JSON that is not a result', `echo '{"cniVersion":"1.0.0","ips":"nope"}'`, /returned an invalid result/],
    ['exits 0 without output', 'exit 0', /exited 0 but printed no JSON result/],
    ['prints a CNI error but exits 0', `echo '{"code":11,"msg":"try again later"}'`, /\(CNI error 11\): try again later/],
    ['hangs past --timeout (and so does its child)', 'sleep SLEEP & exec sleep SLEEP', /timed out after 1s and was killed with its process group/, ['--timeout', '1s']],
  ];
  it.each(faults)('the second plugin %s', async (_what, add, message, extra = []) => {
    const sleep = uniqueSeconds(120);
    const w = await world([{ type: 'faulty' }]);
    await fakePlugin(w.ws.pluginDir, 'faulty', { add: add.replaceAll('SLEEP', sleep) });
    const before = await captureState(w.scope);

    const r = await runCli('attach', [...w.args(), ...extra]);
    const line = expectCleanError(r, 1, /^error: plugin faulty failed on ADD/);
    expect(line, show(r)).toMatch(message);
    expect(line, show(r)).toMatch(/\(rolled back: nothing was left behind\)$/);
    // a killed plugin's process group is gone by the time the CLI exits; give the kernel a moment to reap it
    await waitFor(async () => (await captureState(w.scope)).processes.length === 0, 3000);
    expectState(await captureState(w.scope), before, 'after the failed attach');
  });

  it('the first plugin fails (before bridge): bridge is never ADDed, DEL of the chain still runs, host as before', async () => {
    const w = await world([], [{ type: 'faulty' }]);
    const log = join(w.ws.dir, 'calls.log');
    await fakePlugin(w.ws.pluginDir, 'faulty', { add: `echo ADD >> ${log}; exit 1`, del: `echo DEL >> ${log}` });
    const before = await captureState(w.scope);
    expectCleanError(await runCli('attach', w.args()), 1, /plugin faulty failed on ADD: exited with code 1 and printed nothing \(rolled back/);
    expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual(['ADD', 'DEL']);
    expectState(await captureState(w.scope), before, 'after the failed attach');
  });
});

describe('fault 5: the tool is SIGKILLed at an exact point; the record it left lets cni-detach undo everything', () => {
  // [when it dies, crash point, what the record is afterwards, how detach describes it]
  const points: [string, string, (w: Awaited<ReturnType<typeof world>>) => string[], boolean][] = [
    ['right after recording the intent, before any ADD', 'after:rename:/cni-attach/intents/',
      (w) => [`cni-attach/intents/${w.net}-${w.cid}-eth1`, `cni-attach/locks/${w.cid}-eth1.lock`], true],
    ['after the chain ADD returned, before the result is written', 'before:mkdir:/results',
      (w) => [`cni-attach/intents/${w.net}-${w.cid}-eth1`, `cni-attach/locks/${w.cid}-eth1.lock`], true],
    ['after the result was written, before the intent is removed', 'before:unlink:/cni-attach/intents/',
      (w) => [`cni-attach/intents/${w.net}-${w.cid}-eth1`, `cni-attach/locks/${w.cid}-eth1.lock`, `results/${w.net}-${w.cid}-eth1`], false],
    ['after everything, before releasing its lock', 'before:unlink:/cni-attach/locks/',
      (w) => [`cni-attach/locks/${w.cid}-eth1.lock`, `results/${w.net}-${w.cid}-eth1`], false],
  ];
  it.each(points)('attach killed %s', async (_when, crashAt, record, interrupted) => {
    const w = await world();
    const before = await captureState(w.scope);
    const r = await runBin('attach', w.args(), { crashAt });
    expect(r.signal, show(r)).toBe('SIGKILL');

    const mid = await captureState(w.scope);
    expect(mid.cacheFiles, 'what the dead attach left recorded').toEqual(record(w).sort());
    const added = crashAt !== 'after:rename:/cni-attach/intents/';
    expect(mid.leases, 'the lease').toHaveLength(added ? 1 : 0);
    expect(mid.targets[w.ns], 'eth1 in the namespace').toEqual(added ? expect.arrayContaining(['link eth1']) : before.targets[w.ns]);

    // the record blocks a second attach of eth1 (and the dead process's lock does not)
    const again = await runCli('attach', w.args());
    expectCleanError(again, 2, interrupted ? /eth1 is already taken .*an attach of it was interrupted/ : /eth1 is already taken .*it is attached/);

    const d = await runCli('detach', w.args(false));
    expectOk(d);
    expect(d.stdout.trim()).toBe(`eth1 detached from netns ${netnsPath(w.ns)} (network ${w.net}${interrupted ? ', an interrupted attach' : ''})`);
    expectState(await captureState(w.scope), before, 'after cni-detach');
  });

  it('detach killed after DEL, before forgetting the result: the next detach DELs again (idempotent) and forgets it', async () => {
    const w = await world();
    const before = await captureState(w.scope);
    expectOk(await runCli('attach', w.args()));
    const r = await runBin('detach', w.args(false), { crashAt: 'before:unlink:/results/' });
    expect(r.signal, show(r)).toBe('SIGKILL');
    const mid = await captureState(w.scope);
    expect(mid.leases, 'DEL ran: the lease is free').toEqual([]);
    // its DEL's mark stays with the result (a DEL stopped part-way: cni-list's `detach stopped`)
    expect(mid.cacheFiles).toEqual([`cni-attach/deleting/${w.net}-${w.cid}-eth1`, `cni-attach/locks/${w.cid}-eth1.lock`, `results/${w.net}-${w.cid}-eth1`]);
    const d = await runCli('detach', w.args(false));
    expectOk(d);
    expect(d.stdout.trim()).toBe(`eth1 detached from netns ${netnsPath(w.ns)} (network ${w.net})`);
    expectState(await captureState(w.scope), before, 'after the second cni-detach');
  });

  const gcArgs = (w: Awaited<ReturnType<typeof world>>) => ['--cache-dir', w.ws.cacheDir, '--cni-path', w.cniPath];

  it('detach SIGKILLed in its DEL after the bridge deleted the link and freed the lease (its last DEL slow): cni-list says `detach stopped` with the cni-detach, cni-check and cni-attach say it too, and cni-detach finishes it', async () => {
    // [slowdel, bridge]: DEL runs in reverse, so the bridge's DEL (the veth, the lease) is done when slowdel's waits
    const w = await world([], [{ type: 'slowdel' }]);
    const [started, release] = [join(w.ws.dir, 'del.started'), join(w.ws.dir, 'del.release')];
    await fakePlugin(w.ws.pluginDir, 'slowdel', { add: passThroughAdd('0'), del: `touch '${started}'; while [ ! -e '${release}' ]; do sleep 0.05; done` });
    lab.defer('the slow DEL', async () => void (await writeFile(release, '')));
    const before = await captureState(w.scope);
    expectOk(await runCli('attach', w.args()));
    const d = spawnCli('detach', w.args(false));
    expect(await waitFor(async () => existsSync(started))).toBe(true);
    d.kill('SIGKILL');
    expect((await d.done).signal).toBe('SIGKILL');
    const mid = await captureState(w.scope);
    expect(mid.leases, 'the bridge DEL freed the lease').toEqual([]);
    expect(mid.targets[w.ns], 'eth1 is gone').not.toEqual(expect.arrayContaining(['link eth1']));
    expect(mid.cacheFiles.filter((f) => !f.startsWith('cni-attach/locks/'))).toEqual([`cni-attach/deleting/${w.net}-${w.cid}-eth1`, `results/${w.net}-${w.cid}-eth1`]);

    const detach = `kubectl cni-detach --netns ${netnsPath(w.ns)} --ifname eth1 --cache-dir ${w.ws.cacheDir} --cni-path ${w.cniPath}`;
    const list = await runCli('list', ['-A', '--no-cluster', ...gcArgs(w)]);
    expectOk(list);
    expect(list.stdout.split('\n').find((l) => / eth1 /.test(l)), show(list)).toMatch(/\seth1\s.*\sdetach stopped\s.*DEL stopped part-way$/);
    expect(list.stderr).toContain(`note: to clear netns:${netnsPath(w.ns)} eth1 (detach stopped): \`${detach}\``);
    const json = await runCli('list', ['-A', '--no-cluster', ...gcArgs(w), '-o', 'json']);
    const item = (JSON.parse(json.stdout) as { items: { ifname: string; state: string; reason: string; clearCommand: string }[] }).items.find((i) => i.ifname === 'eth1')!;
    expect(item.state).toBe('detach stopped');
    expect(item.reason).toMatch(new RegExp(`^a cni-detach \\(pid ${d.pid} on this host [^)]+\\) stopped during its DEL of it at \\d{4}-\\d\\d-\\d\\dT[\\d:]+Z: eth1 is gone from ${netnsPath(w.ns)} already \\(its DEL deleted it\\), but its IPAM lease may still be held; run cni-detach again to finish it \\(DEL is idempotent\\)$`));
    expect(item.clearCommand).toBe(detach);
    expectCleanError(await runCli('check', w.args(false)), 3, /^error: eth1 in netns \S+ is not attached: a cni-detach \(pid \d+ on this host [^)]+\) stopped during its DEL of it at \S+ \(network \S+\); .*nothing to CHECK/);
    expectCleanError(await runCli('attach', w.args()), 2, /^error: eth1 is already taken in netns \S+: a cni-detach \(pid \d+ on this host [^)]+\) stopped during its DEL of it at /);

    await writeFile(release, '');
    const again = await runCli('detach', w.args(false));
    expectOk(again);
    expect(again.stdout.trim()).toBe(`eth1 detached from netns ${netnsPath(w.ns)} (network ${w.net})`);
    expectState(await captureState(w.scope), before, 'after the second cni-detach');
  });

  // (killed after the result was written, the attachment is complete and its namespace alive: gc rightly keeps it)
  it.each(points.slice(0, 2))('attach killed %s: cni-gc finds the record and undoes everything', async (_when, crashAt) => {
    const w = await world();
    const before = await captureState(w.scope);
    const r = await runBin('attach', w.args(), { crashAt });
    expect(r.signal, show(r)).toBe('SIGKILL');
    const gc = await runCli('gc', gcArgs(w));
    expectOk(gc);
    expect(gc.stdout).toMatch(new RegExp(`^freed eth1 of netns ${netnsPath(w.ns)} \\(network ${w.net}\\): an attach of it was interrupted$`, 'm'));
    // (the dead process's lock is not gc's business: the next attach/detach breaks it; remove it to compare the rest)
    const after = await captureState(w.scope);
    expectState(after, before, 'after cni-gc', { cacheFiles: after.cacheFiles.filter((f) => f.startsWith('cni-attach/locks/')) });
    expectOk(await runCli('attach', w.args()));
    expectOk(await runCli('detach', w.args(false)));
    expectState(await captureState(w.scope), before, 'after attach and detach');
  });

  it('attach killed between writing the result temp file and renaming it: cni-detach and cni-gc leave no temp file', async () => {
    const w = await world();
    const before = await captureState(w.scope);
    const r = await runBin('attach', w.args(), { crashAt: 'before:rename:/results/' });
    expect(r.signal, show(r)).toBe('SIGKILL');
    expect((await captureState(w.scope)).cacheFiles.some((f) => /^results\/\..*\.tmp$/.test(f)), 'the temp file is there').toBe(true);
    expectOk(await runCli('detach', w.args(false)));
    expectOk(await runCli('gc', gcArgs(w)));
    expectState(await captureState(w.scope), before, 'after cni-detach and cni-gc');
  });
});

describe('fault 9: the namespace disappears between resolution and ADD', () => {
  it('deleted while the plugins are asked VERSION: ADD fails, exit 1, rolled back, nothing left', async () => {
    // "vanish" is the second plugin of the chain; VERSION runs after the target was resolved and checked, before ADD
    const w = await world([{ type: 'vanish' }]);
    await fakePlugin(w.ws.pluginDir, 'vanish', {
      version: `ip netns del ${w.ns} >/dev/null 2>&1\necho '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'`,
    });
    const before = await captureState(w.scope);
    const r = await runCli('attach', w.args());
    const line = expectCleanError(r, 1, /^error: plugin bridge failed on ADD/);
    expect(line).toMatch(new RegExp(`${netnsPath(w.ns)}`));
    expect(line).toMatch(/\(rolled back: nothing was left behind\)$/);
    // the namespace is gone (that was the fault); everything else is as before
    expectState(await captureState(w.scope), before, 'after the failed attach', { netns: [], targets: { [w.ns]: ['(gone)'] } });
  });
});

/** Make dir read-only for everyone, root included (a read-only bind mount over itself); undone after the test. */
async function readOnly(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await must(['mount', '--bind', dir, dir]);
  lab.defer(`read-only mount ${dir}`, async () => {
    await sh(['umount', dir]);
  });
  await must(['mount', '-o', 'remount,bind,ro', dir]);
}

async function writable(dir: string): Promise<void> {
  await must(['umount', dir]);
}

describe('fault 12: the cache dir cannot be written (read-only mounts, which stop root too)', () => {
  it('results/ read-only: the ADD is rolled back, no attachment is left that is not recorded (exit 1)', async () => {
    const w = await world();
    await readOnly(join(w.ws.cacheDir, 'results'));
    const before = await captureState(w.scope);
    const r = await runCli('attach', w.args());
    const line = expectCleanError(r, 1, /could not write the result cache .*read-only file system/i);
    expect(line).toMatch(/\(rolled back\)$/);
    expectState(await captureState(w.scope), before, 'after the refused attach');
  });

  it('intents/ read-only: nothing runs, exit 2, "nothing was changed"', async () => {
    const w = await world();
    await readOnly(join(w.ws.cacheDir, 'cni-attach/intents'));
    const before = await captureState(w.scope);
    const r = await runCli('attach', w.args());
    expectCleanError(r, 2, /could not record the attach .*read-only file system.*\(nothing was changed\)/i);
    expectState(await captureState(w.scope), before, 'after the refused attach');
  });

  it('the whole cache dir read-only: a clear error, not "internal error"', async () => {
    const w = await world();
    for (const d of ['results', 'cni-attach/intents', 'cni-attach/locks']) await mkdir(join(w.ws.cacheDir, d), { recursive: true });
    await readOnly(w.ws.cacheDir);
    const before = await captureState(w.scope);
    const r = await runCli('attach', w.args());
    const line = expectCleanError(r, 2, /read-only file system/i);
    expect(line).not.toMatch(/internal error/);
    expectState(await captureState(w.scope), before, 'after the refused attach');
  });

  it('the whole cache dir read-only: exit ≠ 0 with one line, and nothing at all is changed', async () => {
    const w = await world();
    for (const d of ['results', 'cni-attach/intents', 'cni-attach/locks']) await mkdir(join(w.ws.cacheDir, d), { recursive: true });
    await readOnly(w.ws.cacheDir);
    const before = await captureState(w.scope);
    const r = await runCli('attach', w.args());
    expect(r.exitCode, show(r)).not.toBe(0);
    expect(r.stderr.trim().split('\n'), show(r)).toHaveLength(1);
    expect(r.stderr, show(r)).toMatch(/^error: .*read-only file system/im);
    expectState(await captureState(w.scope), before, 'after the refused attach');
  });

  it('results/ turns read-only while attached: detach DELs but cannot forget (exit ≠ 0); once writable, detach finishes', async () => {
    const w = await world();
    const before = await captureState(w.scope);
    expectOk(await runCli('attach', w.args()));
    await readOnly(join(w.ws.cacheDir, 'results'));
    const d = await runCli('detach', w.args(false));
    expect(d.exitCode, show(d)).not.toBe(0);
    expect(d.stderr.trim().split('\n'), show(d)).toHaveLength(1);
    expect(d.stderr, show(d)).toMatch(/^error: .*read-only file system/im);
    const mid = await captureState(w.scope);
    expect(mid.leases, 'DEL ran').toEqual([]);
    // (with its DEL's mark: that detach did not finish, and cni-list says `detach stopped`)
    expect(mid.cacheFiles, 'the result is still recorded, so the next detach knows what to do').toEqual([`cni-attach/deleting/${w.net}-${w.cid}-eth1`, `results/${w.net}-${w.cid}-eth1`]);
    await writable(join(w.ws.cacheDir, 'results'));
    expectOk(await runCli('detach', w.args(false)));
    expectState(await captureState(w.scope), before, 'after the second detach');
  });
});

describe('fault 13: locks left by processes that are gone are detected and broken; live ones are respected', () => {
  /** Write the lock of eth1 in w's namespace as a process would; its mtime ageMs in the past (negative: the future). */
  async function plantLock(w: Awaited<ReturnType<typeof world>>, content: string, ageMs = 0): Promise<string> {
    const path = join(w.ws.cacheDir, 'cni-attach/locks', `${w.cid}-eth1.lock`);
    await mkdir(join(w.ws.cacheDir, 'cni-attach/locks'), { recursive: true, mode: 0o700 });
    await writeFile(path, content, { mode: 0o600 });
    if (ageMs) {
      const t = (Date.now() - ageMs) / 1000;
      await utimes(path, t, t);
    }
    return path;
  }
  async function startTime(pid: number): Promise<string> {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
  }
  async function sleeper(): Promise<ChildProcess> {
    const c = spawn('sleep', ['60'], { stdio: 'ignore' });
    lab.defer('sleeper', async () => void c.kill('SIGKILL'));
    await new Promise((r) => c.once('spawn', r));
    return c;
  }

  const stale: [string, (w: Awaited<ReturnType<typeof world>>) => Promise<void>][] = [
    ['a dead process (pid and start time of a process that exited)', async (w) => {
      const c = await sleeper();
      const start = await startTime(c.pid!);
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited; // and reaped
      await plantLock(w, `${c.pid} ${start}\n`);
    }],
    ['a reused pid (a live process, but another start time)', async (w) => {
      const c = await sleeper();
      await plantLock(w, `${c.pid} 1\n`);
    }],
    ['a process killed between creating and writing it (empty, older than 2s)', async (w) => {
      await plantLock(w, '', 5000);
    }],
  ];
  it.each(stale)('held by %s: attach breaks it and succeeds; detach leaves nothing', async (_what, plant) => {
    const w = await world();
    const before = await captureState(w.scope);
    await plant(w);
    expectOk(await runCli('attach', w.args()));
    expectOk(await runCli('detach', w.args(false)));
    expectState(await captureState(w.scope), before, 'after attach and detach');
  });

  it('held by a live process: attach says busy (exit 1, try again later) and changes nothing, the lock included', async () => {
    const w = await world();
    const pid = (await sleeper()).pid!;
    const lock = await plantLock(w, `${pid} ${await startTime(pid)}\n`);
    const before = await captureState(w.scope);
    expectCleanError(await runCli('attach', w.args()), 1, /another cni-attach\/cni-detach \(pid \d+ on (this )?host \S+(, running for \S+)?\) is working on eth1/);
    expect(await readFile(lock, 'utf8')).toBe(`${pid} ${await startTime(pid)}\n`);
    expectState(await captureState(w.scope), before, 'after the refused attach');
  });

  it('being written right now (empty, fresh): refused rather than broken', async () => {
    const w = await world();
    await plantLock(w, '', -10_000); // "fresh" for the next 12 s, however slow this machine is today
    const before = await captureState(w.scope);
    expectCleanError(await runCli('attach', w.args()), 1, /another cni-attach\/cni-detach is working on eth1/); // no holder written yet: none named
    expectState(await captureState(w.scope), before, 'after the refused attach');
  });
});
