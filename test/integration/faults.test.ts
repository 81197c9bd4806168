/**
 * The unhappy paths of the lifecycle: DEL twice, DEL without a cache, DEL after the namespace is gone, a plugin
 * that hangs past --timeout, a CLI killed mid-chain, a result that cannot be cached. 198.18.6.0/24.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectCleanError, expectOk, runCli, show, spawnCli } from '../helpers/cli.js';
import { bridgeConf, bridgePlugin, conflist, writeConf } from '../helpers/confs.js';
import { CNI_DIR } from '../helpers/env.js';
import { DEFAULT_VERSION_ANSWER, fakePlugin, passThroughAdd, type FakePluginScript } from '../helpers/fake-plugin.js';
import { leases } from '../helpers/ipam.js';
import { lineWithCommand } from '../helpers/host-state.js';
import { deleteNetns, attachmentFiles, useLab } from '../helpers/lab.js';
import { containerIdOf, getLink, linkExists, linkNames, links, netnsPath } from '../helpers/net.js';
import { killAll, must, pgrep, uniqueSeconds, waitFor } from '../helpers/sh.js';

const lab = useLab('ft');
const SUBNET = '198.18.6.0/24';

async function setup() {
  const ws = await lab.workspace();
  const ns = await lab.netns();
  const net = lab.name('k');
  const br = lab.bridge();
  const conf = await writeConf(ws.dir, 'net.json', bridgeConf({ name: net, bridge: br, subnet: SUBNET, dataDir: ws.dataDir }));
  return { ws, ns, net, br, conf };
}

/**
 * setup() with a chain of bridge and `hang`, a fake plugin whose ADD touches `started` and then sleeps until killed
 * (every such sleep is killed at the end of the test: `pattern`); `more` adds its other commands (VERSION, CHECK),
 * given the workspace's directory.
 */
async function hangingChain(more: (dir: string) => Omit<FakePluginScript, 'add'> = () => ({})) {
  const s = await setup();
  const started = join(s.ws.dir, 'hang.started');
  const marker = uniqueSeconds(30);
  const pattern = `^sleep ${marker.replace('.', '\\.')}$`;
  lab.defer('hanging plugin', () => killAll(pattern));
  await fakePlugin(s.ws.pluginDir, 'hang', { add: `touch ${started}\nexec sleep ${marker}`, ...more(s.ws.dir) });
  const chain = await writeConf(s.ws.dir, 'chain.conflist', conflist(s.net, [bridgePlugin(s.br, SUBNET, s.ws.dataDir), { type: 'hang' }]));
  return { ...s, chain, started, pattern, cniPath: `${s.ws.pluginDir}:${CNI_DIR}` };
}

describe('detach is idempotent', () => {
  it('a second detach exits 0 with a "nothing is attached" note', async () => {
    const { ws, ns, conf } = await setup();
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf)));
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1')));

    const again = await runCli('detach', lab.args(ws, ns, 'eth1'));
    expectOk(again);
    expect(again.stdout).toBe('');
    expect(again.stderr.trim()).toBe(
      `note: nothing is attached as eth1 in netns ${netnsPath(ns)} (no cache entry under ${ws.cacheDir}/results); nothing to do`,
    );
    expect(await leases(ws.dataDir)).toEqual([]);
  });

  it('detach --conf with no cache entry exits 0, and frees what a lost cache forgot', async () => {
    const { ws, ns, net, conf } = await setup();
    // nothing was ever attached: DEL still runs and succeeds
    const never = await runCli('detach', lab.args(ws, ns, 'eth1', conf));
    expectOk(never);
    expect(never.stderr).not.toMatch(/^error:/m);

    // attached, then the cache is lost: --conf still removes the interface and the lease
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf)));
    await rm(join(ws.cacheDir, 'results', `${net}-${containerIdOf(netnsPath(ns))}-eth1`));
    expect(await leases(ws.dataDir)).toHaveLength(1);
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1', conf)));
    expect(await linkExists('eth1', ns)).toBe(false);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });

  it('detach after the namespace was deleted still frees the lease and the cache entry', async () => {
    const { ws, ns, conf } = await setup();
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf)));
    expect(await leases(ws.dataDir)).toHaveLength(1);
    await deleteNetns(ns);

    const d = await runCli('detach', lab.args(ws, ns, 'eth1'));
    expectOk(d);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });
});

/** A process that exists and is not a zombie. */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('--timeout', () => {
  it('kills a hanging plugin and the child it started, rolls back, and caches nothing', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    // a unique duration makes the background child findable by its command line (and nobody else's)
    const marker = uniqueSeconds(300);
    const pattern = `^sleep ${marker.replace('.', '\\.')}$`;
    lab.defer('stray sleep', () => killAll(pattern));
    const pidFile = join(ws.dir, 'child.pid');
    await fakePlugin(ws.pluginDir, 'slow', { add: `sleep ${marker} &\necho $! > ${pidFile}\nsleep 30` });
    const conf = await writeConf(ws.dir, 'slow.json', { cniVersion: '1.0.0', name: lab.name('k'), type: 'slow' });

    const r = await runCli('attach', [...lab.args(ws, ns, 'eth1', conf, ws.pluginDir), '--timeout', '1s']);
    expectCleanError(r, 1, /plugin slow failed on ADD: timed out after 1s/);
    expect(r.stderr).toMatch(/rolled back/);
    expect(r.ms, 'gave up within a few seconds').toBeLessThan(10_000);

    const gone = await waitFor(async () => (await pgrep(pattern)).length === 0, 2000);
    expect(gone, "the plugin's background child was killed with it").toBe(true);
    const child = Number((await readFile(pidFile, 'utf8')).trim()); // proves the child had started
    expect(await alive(child), `child ${child} is gone`).toBe(false);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
    expect(await linkNames(ns)).toEqual(['lo']);
  });
});

describe('crashes and failures around the chain', () => {
  it('an attach killed mid-chain leaves an intent: re-attach is refused, detach undoes what was done', async () => {
    const { ws, ns, net, br, chain: conf, started, pattern, cniPath } = await hangingChain();

    const run = spawnCli('attach', lab.args(ws, ns, 'eth1', conf, cniPath));
    expect(await waitFor(async () => existsSync(started), 15_000), 'the chain reached the second plugin').toBe(true);
    run.kill('SIGKILL'); // the CLI dies between bridge's ADD and writing the result
    const killed = await run.done;
    expect(killed.exitCode, show(killed)).toBeUndefined();
    await killAll(pattern); // the plugin runs in its own process group: it outlives the CLI

    const cid = containerIdOf(netnsPath(ns));
    expect(await linkExists('eth1', ns)).toBe(true);
    expect(await leases(ws.dataDir)).toHaveLength(1);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([`cni-attach/intents/${net}-${cid}-eth1`, `cni-attach/locks/${cid}-eth1.lock`]);

    // the dead process's lock is broken; the intent blocks a second attach
    const again = await runCli('attach', lab.args(ws, ns, 'eth1', conf, cniPath));
    expectCleanError(again, 2, /eth1 is already taken in netns .*: an attach of it was interrupted .*run cni-detach first/);

    const d = await runCli('detach', lab.args(ws, ns, 'eth1', undefined, cniPath));
    expectOk(d);
    expect(d.stdout.trim()).toBe(`eth1 detached from netns ${netnsPath(ns)} (network ${net}, an interrupted attach)`);
    expect(await linkExists('eth1', ns)).toBe(false);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
    expect((await links()).filter((l) => l.master === br)).toEqual([]);
  });

  it('while an attach is in its ADD: cni-check, its dry run and cni-detach --dry-run answer busy (exit 1, no plugin run), cni-list shows it attaching; once that attach is killed, cni-check says it was interrupted and prints the cni-detach that clears it, cni-list shows it interrupted', async () => {
    const { ws, ns, net, chain: conf, started, pattern, cniPath } = await hangingChain((dir) => ({
      version: `echo VERSION >> ${join(dir, 'hang.ran')}\necho '${DEFAULT_VERSION_ANSWER}'`,
      check: `echo CHECK >> ${join(dir, 'hang.ran')}`,
    }));
    const ran = join(ws.dir, 'hang.ran'); // one line per VERSION or CHECK of the hanging plugin
    const args = lab.args(ws, ns, 'eth1', undefined, cniPath);
    const list = async () => {
      const l = await runCli('list', ['-A', '--no-cluster', '--cache-dir', ws.cacheDir, '--cni-path', cniPath, '-o', 'json']);
      expectOk(l);
      return (JSON.parse(l.stdout) as { items: { pod: string; ifname: string; state: string; reason?: string; clearCommand?: string }[] }).items.filter((i) => i.ifname === 'eth1');
    };

    const run = spawnCli('attach', [...args, '--conf', conf]);
    expect(await waitFor(async () => existsSync(started), 15_000), 'the chain reached the second plugin').toBe(true);
    const ranBefore = await readFile(ran, 'utf8');
    // before: check said "nothing is attached as eth1 … (no cache entry …)", exit 3; its dry run and detach's printed
    // runs (CHECK: none; DEL: from the running attach's intent), exit 0
    const busy = lineWithCommand(`error: another cni-attach/cni-detach ({cmd}) is working on eth1 in netns ${netnsPath(ns)} right now; try again when it is done`, run.pid!);
    const files = await attachmentFiles(ws.cacheDir);
    // --force too: a lock whose holder lives is respected (README), its intent not forgotten
    for (const [tool, extra] of [['check', []], ['check', ['--dry-run']], ['detach', ['--dry-run']], ['detach', ['--force']]] as const) {
      const r = await runCli(tool, [...args, ...extra]);
      expectCleanError(r, 1);
      expect(r.stderr.trim(), show(r)).toMatch(busy);
      expect(r.stdout, show(r)).toBe('');
    }
    expect(await readFile(ran, 'utf8'), 'no plugin ran').toBe(ranBefore);
    expect(await attachmentFiles(ws.cacheDir)).toEqual(files);
    // before: interrupted, with a cni-detach to run beside the attach still running
    const during = await list();
    expect(during).toEqual([expect.objectContaining({ pod: `netns:${netnsPath(ns)}`, state: 'attaching' })]);
    expect(during[0]!.reason).toMatch(new RegExp(`^an attach of eth1 has not finished: a cni-attach/cni-detach \\(pid ${run.pid} on this host \\S+, running for \\S+\\) is working on it right now`));
    expect(during[0]!.clearCommand).toBeUndefined();

    run.kill('SIGKILL'); // the CLI dies between bridge's ADD and writing the result
    expect((await run.done).exitCode).toBeUndefined();
    await killAll(pattern);
    // before: "nothing is attached as eth1 …" (exit 3), as if nothing were there
    const c = await runCli('check', args);
    const line = expectCleanError(c, 3);
    const detach = `kubectl cni-detach --netns ${netnsPath(ns)} --ifname eth1 --cache-dir ${ws.cacheDir} --cni-path ${cniPath}`;
    expect(line).toBe(
      `error: eth1 in netns ${netnsPath(ns)} is not attached: an attach of it was interrupted (network ${net}); the link eth1 in netns ${netnsPath(ns)} and its IPAM lease may remain if no DEL freed them; ` +
        `nothing to CHECK; run \`${detach}\` to undo it (\`${detach} --force\` if its DEL keeps failing)`,
    );
    const dry = await runCli('check', [...args, '--dry-run']);
    expect(dry.exitCode, show(dry)).toBe(3);
    expect(dry.stderr.trim()).toBe(line);
    expect(await readFile(ran, 'utf8'), 'no plugin ran').toBe(ranBefore);
    const after = await list();
    expect(after).toEqual([expect.objectContaining({ state: 'interrupted', clearCommand: detach })]);

    // the printed command clears it
    const d = await runCli('detach', detach.split(' ').slice(2));
    expectOk(d);
    expect(d.stdout.trim()).toBe(`eth1 detached from netns ${netnsPath(ns)} (network ${net}, an interrupted attach)`);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
    expect(await linkExists('eth1', ns)).toBe(false);
  });

  it('cni-gc while an attach is in its ADD leaves it alone: a note that a command is working on it, exit 0, nothing DELed (its intent, link and lease stay); once that attach is killed, cni-gc frees it', async () => {
    const { ws, ns, net, chain: conf, started, pattern, cniPath } = await hangingChain();
    const gcArgs = ['--cache-dir', ws.cacheDir, '--cni-path', cniPath];
    const cid = containerIdOf(netnsPath(ns));

    const run = spawnCli('attach', lab.args(ws, ns, 'eth1', conf, cniPath));
    expect(await waitFor(async () => existsSync(started), 15_000), 'the chain reached the second plugin').toBe(true);
    const note = lineWithCommand(`note: left eth1 of netns ${netnsPath(ns)} (network ${net}) alone: a cni-attach/cni-detach ({cmd}) is working on it right now; a later cni-gc looks at it again`, run.pid!);
    // before: taken for an interrupted attach, its DEL refused as busy: "note: could not free eth1 …", exit 1
    for (const extra of [['--dry-run'], []]) {
      const g = await runCli('gc', [...gcArgs, ...extra]);
      expectOk(g);
      expect(g.stderr, show(g)).toMatch(note);
      expect(g.stderr).not.toMatch(/could not free/);
      expect(g.stdout, show(g)).toBe('gc: ' + (extra.length ? 'would free' : 'freed') + ' 0 stale attachments, 0 alive, 1 busy (left for a later run)');
    }
    const json = await runCli('gc', [...gcArgs, '-o', 'json']);
    expectOk(json);
    expect(JSON.parse(json.stdout)).toMatchObject({ freed: [], failed: [], busy: [{ target: `netns ${netnsPath(ns)}`, ifname: 'eth1', network: net, containerId: cid, reason: expect.stringMatching(lineWithCommand('a cni-attach/cni-detach ({cmd}) is working on it right now', run.pid!)) }] });
    expect(await linkExists('eth1', ns)).toBe(true);
    expect(await leases(ws.dataDir)).toHaveLength(1);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([`cni-attach/intents/${net}-${cid}-eth1`, `cni-attach/locks/${cid}-eth1.lock`]);

    run.kill('SIGKILL'); // the attach dies in its ADD: now it is an interrupted attach, and gc's to undo
    expect((await run.done).exitCode).toBeUndefined();
    await killAll(pattern);
    const g = await runCli('gc', gcArgs);
    expectOk(g);
    expect(g.stdout).toBe(`freed eth1 of netns ${netnsPath(ns)} (network ${net}): an attach of it was interrupted\ngc: freed 1 stale attachment, 0 alive`);
    expect(await linkExists('eth1', ns)).toBe(false);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });

  it('two attaches of one network under two ifnames at one moment, its chain holding a plugin that keys its node state by network and container (here a stand-in named bandwidth): the second is busy (exit 1) while the first holds the network\'s lock in the sandbox, nothing of it made; once the first is done, refused (exit 2)', async () => {
    const { ws, ns, net, br } = await setup();
    const started = join(ws.dir, 'version.started');
    const go = join(ws.dir, 'version.go');
    // a plugin of that name, whose VERSION waits: the first attach holds its locks there, before its intent
    await fakePlugin(ws.pluginDir, 'bandwidth', {
      version: `[ -e ${go} ] || touch ${started}\nwhile [ ! -e ${go} ]; do sleep 0.1; done\necho '${DEFAULT_VERSION_ANSWER}'`,
      add: passThroughAdd('0'),
    });
    lab.defer('slow VERSION', () => writeFile(go, ''));
    const conf = await writeConf(ws.dir, 'chain.conflist', conflist(net, [bridgePlugin(br, SUBNET, ws.dataDir), { type: 'bandwidth' }]));
    const args = (ifname: string) => [...lab.args(ws, ns, ifname, undefined, `${ws.pluginDir}:${CNI_DIR}`), '--conf', conf];
    const cid = containerIdOf(netnsPath(ns));

    const first = spawnCli('attach', args('eth1'));
    expect(await waitFor(async () => existsSync(started), 15_000), 'the first attach is asking VERSION').toBe(true);
    expect(await attachmentFiles(ws.cacheDir), 'its two locks, no intent yet').toEqual([`cni-attach/locks/${cid}-eth1.lock`, `cni-attach/locks/net:${net}:${cid}.lock`]);
    // before: nothing recorded yet, so the second went on to its own ADD, and the two collided
    const r = await runCli('attach', args('eth2'));
    expectCleanError(r, 1);
    expect(r.stderr.trim(), show(r)).toMatch(lineWithCommand(`error: another cni-attach ({cmd}) is attaching network ${net} under another ifname in netns ${netnsPath(ns)} right now; try again when it is done`, first.pid!));
    expect(await linkExists('eth2', ns)).toBe(false);
    await writeFile(go, '');
    expectOk(await first.done);
    expect(await leases(ws.dataDir)).toHaveLength(1);
    const again = await runCli('attach', args('eth2'));
    expectCleanError(again, 2, new RegExp(`network ${net} is already recorded in .* as eth1, and its plugin bandwidth .* \\(nothing was changed\\)`));
    expect(await attachmentFiles(ws.cacheDir)).toEqual([`results/${net}-${cid}-eth1`]);
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1', undefined, `${ws.pluginDir}:${CNI_DIR}`)));
    expect(await leases(ws.dataDir)).toEqual([]);
  });

  it('cni-detach (and its dry run) while an attach holds the lock but has not recorded its intent yet (in VERSION): busy (exit 1), not "nothing to do"; the attach then succeeds', async () => {
    const { ws, ns, net, br } = await setup();
    const started = join(ws.dir, 'version.started');
    const go = join(ws.dir, 'version.go');
    await fakePlugin(ws.pluginDir, 'slowv', {
      version: `touch ${started}\nwhile [ ! -e ${go} ]; do sleep 0.1; done\necho '${DEFAULT_VERSION_ANSWER}'`,
      add: passThroughAdd('0'),
    });
    lab.defer('slow VERSION', () => writeFile(go, ''));
    const conf = await writeConf(ws.dir, 'chain.conflist', conflist(net, [bridgePlugin(br, SUBNET, ws.dataDir), { type: 'slowv' }]));
    const args = lab.args(ws, ns, 'eth1', undefined, `${ws.pluginDir}:${CNI_DIR}`);
    const cid = containerIdOf(netnsPath(ns));

    const run = spawnCli('attach', [...args, '--conf', conf]);
    expect(await waitFor(async () => existsSync(started), 15_000), 'the attach is asking VERSION').toBe(true);
    expect(await attachmentFiles(ws.cacheDir), 'its lock, no intent yet').toEqual([`cni-attach/locks/${cid}-eth1.lock`]);
    // before: "nothing is attached as eth1 … nothing to do", exit 0 (and the dry run printed no run, exit 0)
    for (const extra of [[], ['--dry-run']]) {
      const r = await runCli('detach', [...args, ...extra]);
      expectCleanError(r, 1);
      expect(r.stderr.trim(), show(r)).toMatch(lineWithCommand(`error: another cni-attach/cni-detach ({cmd}) is working on eth1 in netns ${netnsPath(ns)} right now; try again when it is done`, run.pid!));
      expect(r.stdout).toBe('');
    }
    await writeFile(go, '');
    const r = await run.done;
    expectOk(r);
    expect(r.stdout).toMatch(/^eth1 attached to netns /);
    expect(await leases(ws.dataDir)).toHaveLength(1);
    expectOk(await runCli('detach', args));
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });

  it('while a detach is in its DEL: cni-check and its dry run answer busy (exit 1), no CHECK runs; once it is stopped, cni-check says the detach stopped (exit 3, no CHECK: the DEL\'s mark), with the cni-detach that finishes it', async () => {
    const { ws, ns, net, br } = await setup();
    const started = join(ws.dir, 'del.started');
    const ran = join(ws.dir, 'check.ran');
    const marker = uniqueSeconds(30);
    const pattern = `^sleep ${marker.replace('.', '\\.')}$`;
    lab.defer('hanging plugin', () => killAll(pattern));
    // its first DEL hangs (until the detach is stopped), the next ones succeed
    await fakePlugin(ws.pluginDir, 'hangdel', { add: passThroughAdd('0'), del: `[ -e ${started} ] && exit 0\ntouch ${started}\nexec sleep ${marker}`, check: `echo CHECK >> ${ran}` });
    const conf = await writeConf(ws.dir, 'chain.conflist', conflist(net, [bridgePlugin(br, SUBNET, ws.dataDir), { type: 'hangdel' }]));
    const args = lab.args(ws, ns, 'eth1', undefined, `${ws.pluginDir}:${CNI_DIR}`);
    expectOk(await runCli('attach', [...args, '--conf', conf]));

    const run = spawnCli('detach', args);
    expect(await waitFor(async () => existsSync(started), 15_000), 'the detach reached its hanging DEL').toBe(true);
    // before: CHECK ran beside the DEL (bridge's CHECK of what the DEL was removing)
    for (const extra of [[], ['--dry-run']]) {
      const r = await runCli('check', [...args, ...extra]);
      expectCleanError(r, 1);
      expect(r.stderr.trim()).toMatch(lineWithCommand(`error: another cni-attach/cni-detach ({cmd}) is working on eth1 in netns ${netnsPath(ns)} right now; try again when it is done`, run.pid!));
    }
    expect(existsSync(ran), 'no CHECK ran').toBe(false);
    run.kill('SIGTERM'); // the detach stops in its DEL: its record stays
    expect((await run.done).exitCode).toBe(143);
    // (before the DEL's mark: "CHECK ok", of an attachment whose detach had begun)
    const c = await runCli('check', args);
    expectCleanError(c, 3, new RegExp(`^error: eth1 in netns ${netnsPath(ns)} is not attached: a cni-detach \\(pid ${run.pid} on this host [^)]+\\) stopped during its DEL of it at \\S+ \\(network ${net}\\); .*nothing to CHECK; run \`kubectl cni-detach --netns ${netnsPath(ns)} --ifname eth1 [^\`]*\` to finish it`));
    expect(existsSync(ran), 'no CHECK ran').toBe(false);
    expectOk(await runCli('detach', args));
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('%s during the chain kills the plugin, rolls back, releases the lock and exits %i', async (signal, code) => {
    const { ws, ns, net, chain: conf, started, pattern, cniPath } = await hangingChain();

    const run = spawnCli('attach', lab.args(ws, ns, 'eth1', conf, cniPath));
    expect(await waitFor(async () => existsSync(started), 15_000), 'the chain reached the second plugin').toBe(true);
    run.kill(signal);
    const r = await run.done;
    expect(r.exitCode, show(r)).toBe(code);
    expect(r.stderr).toMatch(new RegExp(`note: ${signal}: stopping what runs now; the last line says what was changed and what was not`));
    expect(r.stderr).toMatch(/rolled back: nothing was left behind/);
    // it was the user who stopped it, and the message says so (issue 11): not "killed by signal SIGKILL"
    expect(r.stderr).toMatch(new RegExp(`error: attach stopped by ${signal}( \\(Ctrl-C\\))? during plugin hang's ADD \\(it was killed\\): rolled back: nothing was left behind`));
    expect(r.stderr).not.toMatch(/killed by signal/);
    expect(await waitFor(async () => (await pgrep(pattern)).length === 0, 2000), 'the hanging plugin was killed').toBe(true);
    expect(await linkNames(ns)).toEqual(['lo']);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });

  it('a result that cannot be cached is rolled back (exit 1)', async () => {
    const { ws, ns, conf, br } = await setup();
    await mkdir(ws.cacheDir, { recursive: true });
    await writeFile(join(ws.cacheDir, 'results'), 'in the way\n'); // a file where the results directory should be

    const r = await runCli('attach', lab.args(ws, ns, 'eth1', conf));
    const line = expectCleanError(r, 1, /could not write the result cache/);
    expect(line).toMatch(/\(rolled back\)$/);
    expect(await linkExists('eth1', ns)).toBe(false);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual(['results']);
    expect((await links()).filter((l) => l.master === br)).toEqual([]);
  });
});

describe('attach refuses what is already there (exit 2)', () => {
  it('an ifname that is already attached', async () => {
    const { ws, ns, net, conf } = await setup();
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf)));
    const again = await runCli('attach', lab.args(ws, ns, 'eth1', conf));
    expectCleanError(again, 2, new RegExp(`eth1 is already taken in netns ${netnsPath(ns)}: it is attached \\(network ${net}\\); run cni-detach first`));
    expect(await leases(ws.dataDir)).toHaveLength(1);
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1')));
    expect(await leases(ws.dataDir)).toEqual([]);
  });

  it('an interface of that name made by someone else', async () => {
    const { ws, ns, conf } = await setup();
    await must(['ip', '-n', ns, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'other1']); // (no dummy module here)
    const r = await runCli('attach', lab.args(ws, ns, 'eth1', conf));
    expectCleanError(r, 2, /an interface named eth1 already exists/);
    expect((await getLink('eth1', ns))?.line).toMatch(/^\d+: eth1@other1: /); // still theirs, untouched
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });
});

describe('a rollback that fails too', () => {
  it('keeps the intent, so that detach can finish the job once the plugin works again', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const net = lab.name('k');
    const failing = '{"code": 11, "msg": "brittle: cannot do that now"}';
    await fakePlugin(ws.pluginDir, 'brittle', { add: `echo '${failing}'; exit 1`, del: `echo '${failing}'; exit 1` });
    const conf = await writeConf(ws.dir, 'brittle.json', { cniVersion: '1.0.0', name: net, type: 'brittle' });
    const args = lab.args(ws, ns, 'eth1', conf, ws.pluginDir);
    const cid = containerIdOf(netnsPath(ns));

    const r = await runCli('attach', args);
    const line = expectCleanError(r, 1, /plugin brittle failed on ADD \(CNI error 11\): brittle: cannot do that now/);
    expect(line).toMatch(/rolling back also failed: plugin brittle failed on DEL/);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([`cni-attach/intents/${net}-${cid}-eth1`]);

    const stillFailing = await runCli('detach', lab.args(ws, ns, 'eth1', undefined, ws.pluginDir));
    expectCleanError(stillFailing, 1, /plugin brittle failed on DEL/);
    // (with the mark of that DEL, which a plugin refused: cni-list says so)
    expect(await attachmentFiles(ws.cacheDir)).toEqual([`cni-attach/deleting/${net}-${cid}-eth1`, `cni-attach/intents/${net}-${cid}-eth1`]);

    await fakePlugin(ws.pluginDir, 'brittle', { del: 'exit 0' }); // fixed
    const d = await runCli('detach', lab.args(ws, ns, 'eth1', undefined, ws.pluginDir));
    expectOk(d);
    expect(d.stdout.trim()).toBe(`eth1 detached from netns ${netnsPath(ns)} (network ${net}, an interrupted attach)`);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });
});


