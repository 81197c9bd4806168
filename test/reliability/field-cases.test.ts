/**
 * Cases from the field (issue 11), one describe per kind, through the real binaries on real namespaces: records
 * nothing could clear (1), waits that never ended (2), exit codes that contradicted the state (3), refusals made on
 * attach only (4), libcni's rules (5), one namespace under two paths (6), and the smaller ones. Each test's expected
 * value is the example's right value. Addresses: 198.18.110.0/24 – 198.18.113.0/24.
 */
import { spawn } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, readlink, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KUBECONFIG_READ_TIMEOUT_MS } from '../../src/cli/complete.js';
import { expectCleanError, expectOk, runCli, show, spawnCli, spawnComplete } from '../helpers/cli.js';
import { bridgeConf, bridgePlugin, conflist, writeConf } from '../helpers/confs.js';
import { CNI_DIR } from '../helpers/env.js';
import { fakePlugin, passThroughAdd } from '../helpers/fake-plugin.js';
import { leases } from '../helpers/ipam.js';
import { attachmentFiles, deleteNetns, useLab } from '../helpers/lab.js';
import { containerIdOf, linkExists, linkNames, netnsPath } from '../helpers/net.js';
import { killAll, must, sh, uniqueSeconds, waitFor } from '../helpers/sh.js';

const lab = useLab('fc');

/** A namespace, a workspace and a one-plugin bridge config in `subnet`. */
async function bridgeWorld(subnet: string) {
  const ws = await lab.workspace();
  const ns = await lab.netns();
  const net = lab.name('k');
  const br = lab.bridge();
  const conf = await writeConf(ws.dir, 'net.json', bridgeConf({ name: net, bridge: br, subnet, dataDir: ws.dataDir }));
  return { ws, ns, net, br, conf, cid: containerIdOf(netnsPath(ns)) };
}

/** The rows of `cni-list -A --no-cluster -o json`. */
async function listRows(cacheDir: string): Promise<{ target: string; ifname: string; state: string; reason?: string }[]> {
  const r = await runCli('list', ['-A', '--no-cluster', '--cache-dir', cacheDir, '-o', 'json']);
  expectOk(r);
  const items = (JSON.parse(r.stdout) as { items: { pod: string; ifname: string; state: string; reason?: string }[] }).items;
  return items.map((i) => ({ target: i.pod, ifname: i.ifname, state: i.state, ...(i.reason ? { reason: i.reason } : {}) }));
}

/**
 * `cni-list -A --no-cluster` as a person sees it: the table's rows (header checked: REASON last), split on the column
 * starts of the header (kubectl's aligned columns; cells may hold spaces), and the note lines on stderr.
 */
async function listTable(cacheDir: string): Promise<{ rows: Record<string, string>[]; notes: string[] }> {
  const r = await runCli('list', ['-A', '--no-cluster', '--cache-dir', cacheDir]);
  expectOk(r);
  const [head, ...lines] = r.stdout.split('\n');
  expect(head).toMatch(/^NAMESPACE\s+POD\s+IFNAME\s+NETWORK\s+ADDRESSES\s+STATE\s+ANNOTATED\s+CONTAINER\s+REASON$/);
  const cols = [...head!.matchAll(/\S+/g)].map((m) => ({ name: m[0], at: m.index! }));
  const rows = lines.map((l) => Object.fromEntries(cols.map((c, i) => [c.name, l.slice(c.at, cols[i + 1]?.at).trim()])));
  // the same cells with --no-headers (widths are the cells', as kubectl's: a gap of 3 spaces at least)
  const bare = await runCli('list', ['-A', '--no-cluster', '--cache-dir', cacheDir, '--no-headers']);
  const cells = (ls: string[]) => ls.map((l) => l.split(/ {3,}/));
  expect(cells(bare.stdout.split('\n'))).toEqual(cells(lines));
  return { rows, notes: r.stderr.split('\n').filter((l) => l !== '') };
}

describe('kind 1: every record can be cleared', () => {
  it('cached CNI_ARGS the plugin rejects: detach names --force; --args on detach replaces them and frees everything', async () => {
    const { ws, ns, net, conf, cid } = await bridgeWorld('198.18.110.0/24');
    const args = lab.args(ws, ns, 'eth1', conf);
    const a = await runCli('attach', [...args, '--args', 'FOO=bar']);
    const line = expectCleanError(a, 1, /rolling back also failed/);
    expect(line).toMatch(/the attempt stays recorded, and the link eth1 in netns \S+ and its IPAM lease may remain if no DEL freed them; `kubectl cni-detach --netns \S+ --ifname eth1 --cache-dir \S+ --cni-path \S+` runs its DEL again/);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([`cni-attach/intents/${net}-${cid}-eth1`]);

    // (a) cni-list reports it, with its reason: in full in -o json, in brief in the table, whose note names the command
    const rows = await listRows(ws.cacheDir);
    expect(rows).toEqual([expect.objectContaining({ ifname: 'eth1', state: 'interrupted', reason: expect.stringMatching(/did not finish/) })]);
    const clear = `kubectl cni-detach --netns ${netnsPath(ns)} --ifname eth1 --cache-dir ${ws.cacheDir}`;
    expect(await listTable(ws.cacheDir)).toEqual({
      rows: [{ NAMESPACE: '-', POD: `netns:${netnsPath(ns)}`, IFNAME: 'eth1', NETWORK: net, ADDRESSES: '<none>', STATE: 'interrupted', ANNOTATED: '<unknown>', CONTAINER: cid.slice(0, 12), REASON: 'attach did not finish' }],
      notes: [`note: to clear netns:${netnsPath(ns)} eth1 (interrupted): \`${clear}\``],
    });

    // (c) the error that blocks a retry names the commands that clear it
    const again = await runCli('attach', args);
    expectCleanError(again, 2, /eth1 is already taken .*an attach of it was interrupted .*run cni-detach first \(`kubectl cni-detach .*`; `kubectl cni-detach .* --force` if its DEL keeps failing\)/);
    const d = await runCli('detach', lab.args(ws, ns, 'eth1'));
    expectCleanError(d, 1, /failed on DEL.*the record stays; run `kubectl cni-detach .*` again .*or `kubectl cni-detach .* --force` to forget it/);

    // (b) --args on detach takes precedence over the cached ones
    const fixed = await runCli('detach', [...lab.args(ws, ns, 'eth1'), '--args', '']);
    expectOk(fixed);
    expect(fixed.stdout.trim()).toBe(`eth1 detached from netns ${netnsPath(ns)} (network ${net}, an interrupted attach)`);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await linkNames(ns)).toEqual(['lo']);
  });

  it('a plugin whose DEL fails when nothing is there (macvlan master nosuchdev): --force forgets the record and says what may remain', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const net = lab.name('k');
    const conf = await writeConf(ws.dir, 'mv.json', { cniVersion: '1.0.0', name: net, type: 'macvlan', master: 'nosuchdev', ipam: { type: 'host-local', subnet: '198.18.111.0/24', dataDir: ws.dataDir } });
    const a = await runCli('attach', lab.args(ws, ns, 'eth1', conf));
    expectCleanError(a, 1, /rolling back also failed/);
    const cid = containerIdOf(netnsPath(ns));
    expect(await attachmentFiles(ws.cacheDir)).toEqual([`cni-attach/intents/${net}-${cid}-eth1`]);

    const listed = await listTable(ws.cacheDir);
    expect(listed.rows.map((r) => [r.POD, r.IFNAME, r.STATE, r.REASON])).toEqual([[`netns:${netnsPath(ns)}`, 'eth1', 'interrupted', 'attach did not finish']]);
    expect(listed.notes).toEqual([`note: to clear netns:${netnsPath(ns)} eth1 (interrupted): \`kubectl cni-detach --netns ${netnsPath(ns)} --ifname eth1 --cache-dir ${ws.cacheDir}\``]);
    // the command the note names says what to do when its DEL keeps failing
    const plain = await runCli('detach', lab.args(ws, ns, 'eth1'));
    expectCleanError(plain, 1, /--force` to forget it/);
    const gc = await runCli('gc', ['--cache-dir', ws.cacheDir, '--cni-path', CNI_DIR]);
    expect(gc.exitCode, show(gc)).toBe(1);
    expect(gc.stderr).toMatch(/could not free eth1 .*--force` to forget it/);

    const forced = await runCli('detach', [...lab.args(ws, ns, 'eth1'), '--force']);
    expectOk(forced);
    expect(forced.stdout.trim()).toMatch(
      new RegExp(`^eth1 forgotten in netns ${netnsPath(ns)} \\(network ${net}\\): DEL did not succeed \\(plugin macvlan failed on DEL.*\\); removed its cache file cni-attach/intents/${net}-${cid}-eth1; its DEL \\(plugin macvlan\\) failed: the link eth1 in netns \\S+ and its IPAM lease may remain if no DEL freed them$`),
    );
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
    expect(await listRows(ws.cacheDir)).toEqual([]);
  });

  it('a cache entry cut in half is reported by cni-list and cni-gc, refused by detach (naming --force), and cleared by detach --force --conf', async () => {
    const { ws, ns, net, conf, cid } = await bridgeWorld('198.18.112.0/24');
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf)));
    const file = join(ws.cacheDir, 'results', `${net}-${cid}-eth1`);
    await truncate(file, Math.floor((await stat(file)).size / 2));

    const rows = await listRows(ws.cacheDir);
    expect(rows).toEqual([expect.objectContaining({ state: 'unreadable', reason: expect.stringMatching(/^results\/.*: not JSON \(cut short, or overwritten\)/) })]);
    // the table: the target found again by its container id among the ip netns names, the brief reason, the command
    const force = `kubectl cni-detach --netns ${netnsPath(ns)} --ifname eth1 --cache-dir ${ws.cacheDir} --force`;
    expect(await listTable(ws.cacheDir)).toEqual({
      rows: [{ NAMESPACE: '-', POD: `netns:${netnsPath(ns)}`, IFNAME: 'eth1', NETWORK: net, ADDRESSES: '<none>', STATE: 'unreadable', ANNOTATED: '<unknown>', CONTAINER: cid.slice(0, 12), REASON: 'not JSON (cut short?)' }],
      notes: [`note: to clear netns:${netnsPath(ns)} eth1 (unreadable): \`${force}\` (with --conf FILE, the network's config, its DEL runs first and frees the lease)`],
    });
    const gc = await runCli('gc', ['--cache-dir', ws.cacheDir, '--cni-path', CNI_DIR]);
    expect(gc.exitCode, show(gc)).toBe(1);
    expect(gc.stderr).toMatch(/could not free .*not JSON/);

    const d = await runCli('detach', lab.args(ws, ns, 'eth1'));
    expectCleanError(d, 2, /the record of eth1 .* cannot be used \(not JSON \(cut short, or overwritten\)\); nothing was run\. `kubectl cni-detach .* --force --conf FILE` runs DEL with that config/);
    expect(await linkExists('eth1', ns)).toBe(true);

    const again = await runCli('attach', lab.args(ws, ns, 'eth1', conf));
    expectCleanError(again, 2, /eth1 is already taken .*its record .* cannot be used/);

    const forced = await runCli('detach', [...lab.args(ws, ns, 'eth1', conf), '--force']);
    expectOk(forced);
    expect(forced.stdout).toMatch(/eth1 forgotten in netns .*: DEL succeeded; removed its cache file results\//);
    expect(await linkExists('eth1', ns)).toBe(false);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });

  it('a lock whose holder is gone is listed by cni-list and removed by cni-gc', async () => {
    const ws = await lab.workspace();
    await mkdir(join(ws.cacheDir, 'cni-attach/locks'), { recursive: true, mode: 0o700 });
    const lock = join(ws.cacheDir, 'cni-attach/locks/cnitool-0000-eth1.lock');
    await writeFile(lock, '', { mode: 0o600 });
    // an empty lock younger than 2 s may be being written: neither listed as stale nor broken
    expect(await listRows(ws.cacheDir)).toEqual([]);
    const old = (Date.now() - 60_000) / 1000;
    await utimes(lock, old, old);
    const rows = await listRows(ws.cacheDir);
    expect(rows).toEqual([expect.objectContaining({ target: 'lock:cni-attach/locks/cnitool-0000-eth1.lock', state: 'stale lock', reason: expect.stringMatching(/empty/) })]);
    const table = await listTable(ws.cacheDir);
    expect(table.rows.map((r) => [r.POD, r.STATE, r.REASON])).toEqual([['lock:cni-attach/locks/cnitool-0000-eth1.lock', 'stale lock', 'the lock file is empty']]);
    expect(table.notes).toEqual([`note: to clear the record in state stale lock: \`kubectl cni-gc --cache-dir ${ws.cacheDir}\``]);
    const gc = await runCli('gc', ['--cache-dir', ws.cacheDir, '--cni-path', CNI_DIR]);
    expectOk(gc);
    expect(gc.stderr).toMatch(/removed .*cnitool-0000-eth1\.lock: the lock file is empty/);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });

  it('a lock whose pid could not be written (the cache on a full file system) is not left behind', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const full = join(ws.dir, 'full');
    await mkdir(full);
    await must(['mount', '-t', 'tmpfs', '-o', 'size=16k,mode=0700', 'tmpfs', full]);
    lab.defer('tmpfs', async () => void (await sh(['umount', '-l', full])));
    await mkdir(join(full, 'cni-attach/locks'), { recursive: true, mode: 0o700 });
    await sh(['dd', 'if=/dev/zero', `of=${join(full, 'filler')}`, 'bs=4k', 'count=64']); // fills it (dd stops at ENOSPC)
    const conf = await writeConf(ws.dir, 'net.json', bridgeConf({ name: lab.name('k'), bridge: lab.bridge(), subnet: '198.18.113.0/24', dataDir: ws.dataDir }));
    const r = await runCli('attach', [...lab.args(ws, ns, 'eth1', conf), '--cache-dir', full]);
    expectCleanError(r, 2, /cannot use the CNI cache .*ENOSPC/);
    expect(await attachmentFiles(join(full, 'cni-attach'))).toEqual([]);
    expect(await linkNames(ns)).toEqual(['lo']);
  });
});

describe('kind 2: every wait ends within its limit and on the first signal', () => {
  it('a plugin whose descendant in its own session holds stdout: --timeout 2s ends in about 2 s and says what may still run', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const marker = uniqueSeconds(25);
    const pattern = `^sleep ${marker.replace('.', '\\.')}$`;
    lab.defer('setsid sleep', () => killAll(pattern));
    await fakePlugin(ws.pluginDir, 'lingers', { add: `setsid sleep ${marker} &\nexec sleep 30` });
    const conf = await writeConf(ws.dir, 'l.json', { cniVersion: '1.0.0', name: lab.name('k'), type: 'lingers' });
    const r = await runCli('attach', [...lab.args(ws, ns, 'eth1', conf, ws.pluginDir), '--timeout', '2s']);
    expectCleanError(r, 1, /plugin lingers failed on ADD: timed out after 2s and was killed with its process group; a process it started in another session still held its output, and may still run \(rolled back: nothing was left behind\)/);
    expect(r.ms, show(r)).toBeLessThan(8000);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });

  it('a plugin that exits 0 but leaves such a descendant: the attach does not wait for it', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const marker = uniqueSeconds(25);
    lab.defer('setsid sleep', () => killAll(`^sleep ${marker.replace('.', '\\.')}$`));
    await fakePlugin(ws.pluginDir, 'daemon', { add: `setsid sleep ${marker} &\n${passThroughAdd('0')}` });
    const conf = await writeConf(ws.dir, 'd.json', { cniVersion: '1.0.0', name: lab.name('k'), type: 'daemon' });
    const r = await runCli('attach', [...lab.args(ws, ns, 'eth1', conf, ws.pluginDir), '--timeout', '20s', '-v']);
    expectOk(r);
    expect(r.ms, show(r)).toBeLessThan(8000);
    expect(r.stderr).toMatch(/plugin daemon \(ADD\) exited 0, but a process it started in another session still held its output: not waited for, it may still run/);
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1', undefined, ws.pluginDir)));
  });

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('--conf on a FIFO nobody writes: %s exits %i at once', async (signal, code) => {
    const ws = await lab.workspace();
    const fifo = join(ws.dir, 'fifo');
    await must(['mkfifo', fifo]);
    const run = spawnCli('attach', ['--netns', netnsPath('nosuch'), '--ifname', 'eth1', '--conf', fifo, '--cache-dir', ws.cacheDir]);
    await expectStopsAtOnce(run, signal, code);
  });

  it.each([
    ['attach', '--kubeconfig', 'SIGTERM', 143],
    ['attach', 'KUBECONFIG', 'SIGINT', 130],
    ['list', '--kubeconfig', 'SIGTERM', 143],
    ['detach', 'KUBECONFIG', 'SIGTERM', 143],
  ] as const)('a kubeconfig on a FIFO nobody writes (%s, %s): %s exits %i at once', async (tool, how, signal, code) => {
    const { fifo, args } = await fifoAndPodArgs('kubeconfig', tool);
    const run = spawnCli(tool, [...args, ...(how === '--kubeconfig' ? ['--kubeconfig', fifo] : [])], how === 'KUBECONFIG' ? { KUBECONFIG: fifo } : {});
    await expectStopsAtOnce(run, signal, code);
  });

  // client-node reads these with readFileSync at each request: the main thread blocked, no signal handled
  it.each([
    ['list', '--certificate-authority', 'SIGINT', 130],
    ['attach', 'certificate-authority in the kubeconfig', 'SIGTERM', 143],
    ['detach', 'client-key in the kubeconfig', 'SIGINT', 130],
  ] as const)('%s, %s on a FIFO nobody writes: %s exits %i at once', async (tool, how, signal, code) => {
    const { ws, fifo, args } = await fifoAndPodArgs('pem', tool);
    const kubeconfig = join(ws.dir, 'kubeconfig');
    await writeFile(kubeconfig, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'fc',
      clusters: [{ name: 'fc', cluster: { server: 'https://198.18.113.1:6443', ...(how.startsWith('certificate-authority') ? { 'certificate-authority': fifo } : {}) } }],
      users: [{ name: 'fc', user: how.startsWith('client-key') ? { 'client-certificate-data': 'Qg==', 'client-key': fifo } : { token: 't' } }],
      contexts: [{ name: 'fc', context: { cluster: 'fc', user: 'fc' } }],
    }));
    const run = spawnCli(tool, [...args, '--kubeconfig', kubeconfig, ...(how === '--certificate-authority' ? ['--certificate-authority', fifo] : [])]);
    await expectStopsAtOnce(run, signal, code);
  });
});

describe('kind 2: output to a pipe nobody reads does not hold the command past a signal', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('--dry-run -o json of ~1 MiB into `| sleep`: %s exits %i at once', async (signal, code) => {
    const { ws, ns } = await bridgeWorld('198.18.112.0/24');
    // a config with a large field: the dry-run prints it in the plan, far more than a pipe holds (64 KiB)
    const big = await writeConf(ws.dir, 'big.json', { ...bridgeConf({ name: lab.name('k'), bridge: lab.bridge(), subnet: '198.18.112.0/24', dataDir: ws.dataDir }), padding: 'p'.repeat(1 << 20) });
    const fifo = join(ws.dir, 'stdout-fifo');
    await must(['mkfifo', fifo]);
    // the reader end, held open and never read but for one byte (to see that the output has started)
    const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    lab.defer('fifo reader', () => reader.close());
    const run = spawnCli('attach', [...lab.args(ws, ns, 'eth1', big), '--dry-run', '-o', 'json'], { FIFO: fifo }, ['sh', '-c', 'exec "$@" > "$FIFO"', 'sh']);
    const started = await waitFor(async () => {
      try {
        return (await reader.read(Buffer.alloc(1), 0, 1, null)).bytesRead === 1;
      } catch {
        return false; // EAGAIN: nothing yet
      }
    }, 30_000, 20);
    expect(started, 'the output started').toBe(true);
    await new Promise((r) => setTimeout(r, 300)); // the pipe is full again by now
    const t = Date.now();
    run.kill(signal);
    const r = await run.done;
    expect(r.exitCode, show(r)).toBe(code);
    expect(Date.now() - t, 'exited at once').toBeLessThan(3000);
    // with its closing line (a dry run changes nothing), the output cut short
    expect(r.stderr.trim().split('\n').at(-1), show(r)).toBe(`error: attach stopped by ${signal === 'SIGINT' ? 'SIGINT (Ctrl-C)' : signal} before it changed anything: nothing was changed`);
    expect(await linkExists('eth1', ns)).toBe(false);
  });
});

describe('kind 2: completion never hangs the shell (kubectl_complete-cni_*)', () => {
  /** A kubeconfig file and a FIFO beside it, in a fresh workspace. */
  async function fifoWorld() {
    const ws = await lab.workspace();
    const fifo = join(ws.dir, 'kubeconfig-fifo');
    await must(['mkfifo', fifo]);
    const file = join(ws.dir, 'kubeconfig');
    await writeFile(file, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'fc-a',
      clusters: [{ name: 'fc-c', cluster: { server: 'https://198.18.113.1:6443' } }],
      users: [{ name: 'fc-u', user: { token: 't' } }],
      contexts: [{ name: 'fc-a', context: { cluster: 'fc-c', user: 'fc-u' } }, { name: 'fc-b', context: { cluster: 'fc-c', user: 'fc-u' } }],
    }));
    return { ws, fifo, file };
  }
  const how = (h: '--kubeconfig' | 'KUBECONFIG', fifo: string, words: string[]) => ({
    words: h === '--kubeconfig' ? ['--kubeconfig', fifo, ...words] : words,
    env: h === 'KUBECONFIG' ? { KUBECONFIG: fifo } : { KUBECONFIG: undefined },
  });

  it.each([
    ['list', '--kubeconfig', ['--context', '']],
    ['attach', 'KUBECONFIG', ['web-1', '--context', '']],
    ['detach', '--kubeconfig', ['--cluster', '']],
    // the POD argument: the kubeconfig is read (under the same limit) before the API would be asked
    ['attach', 'KUBECONFIG', ['-n', 'shop', '']],
  ] as const)('a kubeconfig on a FIFO nobody writes (%s, %s, %j): no candidates, exit 0, after the read limit', async (tool, h, words) => {
    const { fifo } = await fifoWorld();
    const w = how(h, fifo, [...words]);
    const r = await spawnComplete(tool, w.words, w.env).done;
    expect([r.exitCode, r.stdout, r.stderr], show(r)).toEqual([0, ':4', '']);
    expect(r.ms, show(r)).toBeGreaterThanOrEqual(KUBECONFIG_READ_TIMEOUT_MS - 50);
    expect(r.ms, show(r)).toBeLessThan(KUBECONFIG_READ_TIMEOUT_MS + 3000);
  });

  it.each(['--kubeconfig', 'KUBECONFIG'] as const)('a FIFO that is written (%s <(cat file)): its contexts', async (h) => {
    const { fifo, file } = await fifoWorld();
    const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', file, fifo], { stdio: 'ignore' });
    lab.defer('fifo writer', async () => void writer.kill('SIGKILL'));
    const w = how(h, fifo, ['--context', 'fc-']);
    const r = await spawnComplete('list', w.words, w.env).done;
    expect([r.exitCode, r.stdout], show(r)).toEqual([0, 'fc-a\nfc-b\n:4']);
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s while it waits for the FIFO ends it at once', async (signal, code) => {
    const { fifo } = await fifoWorld();
    const run = spawnComplete('list', ['--kubeconfig', fifo, '--context', '']);
    // once it has the FIFO open (it waits for a writer there), within its read limit
    const hasFifo = async () => {
      const fds = await readdir(`/proc/${run.pid}/fd`).catch(() => [] as string[]);
      return (await Promise.all(fds.map((fd) => readlink(`/proc/${run.pid}/fd/${fd}`).catch(() => '')))).includes(fifo);
    };
    expect(await waitFor(hasFifo, 5000, 20)).toBe(true);
    const t0 = Date.now();
    run.kill(signal);
    const r = await run.done;
    expect(r.signal === signal || r.exitCode === code, show(r)).toBe(true);
    expect(r.stdout, show(r)).toBe(''); // not the answer given after the read limit
    expect(Date.now() - t0, show(r)).toBeLessThan(500);
  });
});

/**
 * A workspace with a FIFO nobody writes at `name` in it, and the arguments of `tool` for pod shop/web-1 with this
 * workspace's cache (a config for attach).
 */
async function fifoAndPodArgs(name: string, tool: 'attach' | 'detach' | 'list'): Promise<{ ws: Awaited<ReturnType<typeof lab.workspace>>; fifo: string; args: string[] }> {
  const ws = await lab.workspace();
  const fifo = join(ws.dir, name);
  await must(['mkfifo', fifo]);
  const conf = join(ws.dir, 'net.json');
  await writeFile(conf, JSON.stringify({ cniVersion: '1.0.0', name: 'fifo-net', type: 'bridge' }));
  const args = tool === 'list' ? ['-n', 'shop'] : ['web-1', '-n', 'shop', '--ifname', 'eth1', ...(tool === 'attach' ? ['--conf', conf] : [])];
  return { ws, fifo, args: [...args, '--cache-dir', ws.cacheDir] };
}

/** Once the command has waited 1.5 s on its input, `signal` ends it with `code` within 3 s. */
async function expectStopsAtOnce(run: ReturnType<typeof spawnCli>, signal: NodeJS.Signals, code: number): Promise<void> {
  await new Promise((r) => setTimeout(r, 1500));
  const t0 = Date.now();
  run.kill(signal);
  const r = await run.done;
  expect(r.exitCode, show(r)).toBe(code);
  expect(Date.now() - t0, show(r)).toBeLessThan(3000);
}

describe('kind 2: cni-gc ends on the first signal', () => {
  it('SIGTERM during a DEL of cni-gc: exit 143 at once, that record and the ones not reached stay for the next run', async () => {
    const ws = await lab.workspace();
    const started = join(ws.dir, 'del.started');
    const marker = uniqueSeconds(30);
    lab.defer('slow DEL', () => killAll(`^sleep ${marker.replace('.', '\\.')}$`));
    await fakePlugin(ws.pluginDir, 'slowdel', { add: passThroughAdd('0') });
    const conf = await writeConf(ws.dir, 's.json', { cniVersion: '1.0.0', name: lab.name('k'), type: 'slowdel' });
    for (let i = 0; i < 2; i++) {
      const ns = await lab.netns();
      expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf, ws.pluginDir)));
      await deleteNetns(ns);
    }
    await fakePlugin(ws.pluginDir, 'slowdel', { add: passThroughAdd('0'), del: `touch ${started}; exec sleep ${marker}` });
    const records = await attachmentFiles(ws.cacheDir);
    expect(records).toHaveLength(2);
    const run = spawnCli('gc', ['--cache-dir', ws.cacheDir, '--cni-path', ws.pluginDir]);
    expect(await waitFor(async () => existsSync(started), 15_000), 'the first DEL started').toBe(true);
    const t0 = Date.now();
    run.kill('SIGTERM');
    const r = await run.done;
    expect(r.exitCode, show(r)).toBe(143);
    expect(Date.now() - t0, show(r)).toBeLessThan(3000);
    // the DEL in flight and the one not started, as a batch says them (before: "after freeing 0 of 2")
    // the way on as the command to paste, with the flags it was given (before: "run cni-gc again")
    expect(r.stderr.trimEnd().split('\n').at(-1)).toBe(`error: gc stopped by SIGTERM: 1 stopped, still recorded, 1 not started; 0 freed; what is left stays recorded: run \`kubectl cni-gc --cache-dir ${ws.cacheDir} --cni-path ${ws.pluginDir}\` again`);
    // the one stopped named on its node, with the cni-gc that frees it (tryout 9, finding 5)
    expect(r.stdout).toMatch(/; stopped by SIGTERM: 1 stopped, still recorded \(eth1 of netns \S+ on this host: `kubectl cni-gc --cache-dir \S+ --cni-path \S+` frees it\), 1 not started$/m);
    expect(r.stderr).not.toMatch(/could not free|problems/);
    // both records, the one stopped with its DEL's mark (cni-list: `detach stopped`, by cni-gc)
    const left = await attachmentFiles(ws.cacheDir);
    const marks = left.filter((f) => f.startsWith('cni-attach/deleting/'));
    expect(left.filter((f) => !marks.includes(f))).toEqual(records);
    expect(marks.map((f) => f.replace('cni-attach/deleting/', 'results/'))).toEqual([expect.toBeOneOf(records)]);
    expect(JSON.parse(await readFile(join(ws.cacheDir, marks[0]!), 'utf8'))).toMatchObject({ kind: 'cniAttachDeletingV1', command: 'cni-gc', pid: run.pid });
  });
});

describe('kind 3: output and exit code match the state left', () => {
  it('-o json on /dev/full: the result could not be printed, so the attach is rolled back (exit 1)', async () => {
    const { ws, ns, conf } = await bridgeWorld('198.18.110.0/24');
    const bin = join(process.cwd(), 'bin/kubectl-cni_attach');
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const r = await sh(['sh', '-c', `${q(bin)} ${lab.args(ws, ns, 'eth1', conf).map(q).join(' ')} -o json > /dev/full`]);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr.trim()).toMatch(/^error: the result could not be printed \(ENOSPC: .*\): rolled back, nothing was left behind$/);
    expect(await linkNames(ns)).toEqual(['lo']);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });

  it('30 SIGTERMs at random moments of a 3-plugin attach (seeded): exit 0 means attached and recorded, 143 means nothing left', async () => {
    const { ws, ns, net, br, cid } = await bridgeWorld('198.18.111.0/24');
    await fakePlugin(ws.pluginDir, 'second', { add: passThroughAdd('0.05') });
    await fakePlugin(ws.pluginDir, 'third', { add: passThroughAdd('0.05') });
    const conf = await writeConf(ws.dir, 'chain.conflist', conflist(net, [bridgePlugin(br, '198.18.111.0/24', ws.dataDir), { type: 'second' }, { type: 'third' }]));
    const cniPath = `${ws.pluginDir}:${CNI_DIR}`;
    // one attach without a signal tells how long the whole command takes here (the machine may be loaded): the
    // timings spread from its start-up to a little past its end, so that signals land before, during and after the chain
    const base = await runCli('attach', lab.args(ws, ns, 'eth1', conf, cniPath));
    expectOk(base);
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1', undefined, cniPath)));
    let seed = 20261201;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
    const seen = { 0: 0, 143: 0 } as Record<number, number>;
    for (let i = 0; i < 30; i++) {
      const delay = 50 + Math.floor(next() * base.ms * 1.2);
      const run = spawnCli('attach', lab.args(ws, ns, 'eth1', conf, cniPath));
      await new Promise((r) => setTimeout(r, delay));
      run.kill('SIGTERM');
      const r = await run.done;
      const what = `timing ${i} (${delay} ms): exit ${r.exitCode}\n${r.stdout.slice(-500)}\n${r.stderr.slice(-1500)}`;
      // no exit code: SIGTERM's default action, before Node had installed the handlers (nothing had run yet): 143 to a shell
      const code = r.exitCode ?? 143;
      expect([0, 143], what).toContain(code);
      seen[code] = (seen[code] ?? 0) + 1;
      expect(r.stderr, what).not.toMatch(/killed by signal SIGKILL/);
      if (code === 0) {
        expect(await attachmentFiles(ws.cacheDir), what).toEqual([`results/${net}-${cid}-eth1`]);
        expect(await linkExists('eth1', ns), what).toBe(true);
        expect(await leases(ws.dataDir), what).toHaveLength(1);
        expectOk(await runCli('detach', lab.args(ws, ns, 'eth1', undefined, cniPath)));
      } else {
        if (r.exitCode !== undefined) expect(r.stderr, what).toMatch(/SIGTERM/);
        expect(await attachmentFiles(ws.cacheDir), what).toEqual([]);
        expect(await linkNames(ns), what).toEqual(['lo']);
        expect(await leases(ws.dataDir), what).toEqual([]);
      }
    }
    expect(seen[0]! + seen[143]!).toBe(30);
    console.log(`sweep (an attach takes ${base.ms} ms here): ${seen[0]} attached (exit 0), ${seen[143]} stopped and rolled back (exit 143)`);
  }, 120_000);
});

describe('kind 4: every refusal applies to every command that touches the target', () => {
  it.each(['self', 'ip netns attach'])("detach and check refuse the node's own namespace (%s) before any plugin runs", async (how) => {
    const ws = await lab.workspace();
    let path = '/proc/self/ns/net';
    if (how !== 'self') {
      // the issue's example: `ip netns attach host $$` names the node's namespace like any other
      const name = lab.name('h');
      await must(['ip', 'netns', 'attach', name, String(process.pid)]);
      lab.defer(`netns ${name}`, () => deleteNetns(name));
      path = netnsPath(name);
    }
    const ran = join(ws.dir, 'ran');
    await fakePlugin(ws.pluginDir, 'tripwire', { version: `touch ${ran}; echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'`, del: `touch ${ran}` });
    const conf = await writeConf(ws.dir, 't.json', { cniVersion: '1.0.0', name: lab.name('k'), type: 'tripwire' });
    const common = ['--netns', path, '--ifname', 'eth0', '--conf', conf, '--cache-dir', ws.cacheDir, '--cni-path', ws.pluginDir];
    expectCleanError(await runCli('detach', common), 2, /is the node's own network namespace .*refused/);
    expectCleanError(await runCli('detach', [...common, '--force']), 2, /is the node's own network namespace/);
    expectCleanError(await runCli('check', common), 2, /is the node's own network namespace/);
    expectCleanError(await runCli('attach', common), 2, /is the node's own network namespace/);
    expect(existsSync(ran)).toBe(false);
  });

  it.each(['eth%d', 'a b', 'x:1', '.', 'sixteen-bytes-xx'])('--ifname %j is refused (exit 2) before any plugin runs, on every command', async (ifname) => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const ran = join(ws.dir, 'ran');
    await fakePlugin(ws.pluginDir, 'tripwire', { version: `touch ${ran}; echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'` });
    const conf = await writeConf(ws.dir, 't.json', { cniVersion: '1.0.0', name: lab.name('k'), type: 'tripwire' });
    for (const tool of ['attach', 'detach', 'check'] as const) {
      expectCleanError(await runCli(tool, lab.args(ws, ns, ifname, conf, ws.pluginDir)), 2, /interface name/);
    }
    expect(existsSync(ran)).toBe(false);
    expect(await linkNames(ns)).toEqual(['lo']);
  });
});

describe('kind 5: libcni rules', () => {
  it('DEL of a --netns target whose namespace is gone passes CNI_NETNS empty', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const seen = join(ws.dir, 'del-env');
    await fakePlugin(ws.pluginDir, 'rec', { add: passThroughAdd('0'), del: `printf 'CNI_NETNS=[%s]' "$CNI_NETNS" > ${seen}` });
    const conf = await writeConf(ws.dir, 'r.json', { cniVersion: '1.0.0', name: lab.name('k'), type: 'rec' });
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf, ws.pluginDir)));
    await deleteNetns(ns);
    // cni-list: netns gone, cleared by cni-gc (or this detach)
    const table = await listTable(ws.cacheDir);
    expect(table.rows.map((r) => [r.STATE, r.REASON])).toEqual([['netns gone', 'namespace deleted']]);
    expect(table.notes).toEqual([`note: to clear the record in state netns gone: \`kubectl cni-gc --cache-dir ${ws.cacheDir}\``]);
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1', undefined, ws.pluginDir)));
    expect(await readFile(seen, 'utf8')).toBe('CNI_NETNS=[]');
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });
});

describe('kind 6: one network namespace, however it is written', () => {
  it('attached through /proc/PID/ns/net, detached through /var/run/netns/x: found by the namespace identity', async () => {
    const { ws, ns, net, conf } = await bridgeWorld('198.18.112.0/24');
    const holder = spawnHolder(ns);
    lab.defer('holder', async () => holder.kill());
    const pid = await holder.pid;
    const byPid = `/proc/${pid}/ns/net`;
    expectOk(await runCli('attach', ['--netns', byPid, '--ifname', 'eth1', '--conf', conf, '--cache-dir', ws.cacheDir, '--cni-path', CNI_DIR]));
    const d = await runCli('detach', lab.args(ws, ns, 'eth1'));
    expectOk(d);
    expect(d.stdout.trim()).toBe(`eth1 detached from netns ${netnsPath(ns)} (network ${net}; it was attached through ${byPid}, container id ${containerIdOf(byPid)})`);
    expect(await linkExists('eth1', ns)).toBe(false);
    expect(await leases(ws.dataDir)).toEqual([]);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });

  it('--netns NAME is /var/run/netns/NAME, as ip netns reads it (same container id as the full path)', async () => {
    const { ws, ns, net, conf, cid } = await bridgeWorld('198.18.113.0/24');
    const bare = ['--netns', ns, '--ifname', 'eth1', '--cache-dir', ws.cacheDir, '--cni-path', CNI_DIR];
    const a = await runCli('attach', [...bare, '--conf', conf]);
    expectOk(a);
    expect(a.stdout).toMatch(new RegExp(`eth1 attached to netns ${netnsPath(ns)} .*container id ${cid}`));
    expect(await attachmentFiles(ws.cacheDir)).toEqual([`results/${net}-${cid}-eth1`]);
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1')));
    expect(await leases(ws.dataDir)).toEqual([]);
  });
});

describe('smaller field cases', () => {
  it('cni-list says "interface gone", deleted outside cni-attach, when the interface was deleted inside the namespace by hand (no DEL mark)', async () => {
    const { ws, ns, conf } = await bridgeWorld('198.18.110.0/24');
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf)));
    expect((await listRows(ws.cacheDir)).map((r) => r.state)).toEqual(['attached']);
    await must(['ip', '-n', ns, 'link', 'del', 'eth1']);
    expect(await listRows(ws.cacheDir)).toEqual([expect.objectContaining({ state: 'interface gone', reason: `eth1 is not in ${netnsPath(ns)} any more: deleted outside cni-attach (no DEL of ours was under way); its IPAM lease is still held: cni-detach frees it` })]);
    expect(await attachmentFiles(ws.cacheDir), 'no DEL mark: nothing of ours deleted it').not.toContainEqual(expect.stringMatching(/^cni-attach\/deleting\//));
    const table = await listTable(ws.cacheDir);
    expect(table.rows.map((r) => [r.STATE, r.REASON])).toEqual([['interface gone', 'link deleted, lease still held']]);
    expect(table.notes).toEqual([`note: to clear netns:${netnsPath(ns)} eth1 (interface gone): \`kubectl cni-detach --netns ${netnsPath(ns)} --ifname eth1 --cache-dir ${ws.cacheDir}\``]);
    // cni-gc does not count it alive (before: "gc: freed 0 stale attachments, 1 alive"), nor frees it: the same state
    // apart, with the cni-detach that frees its lease
    const gc = await runCli('gc', ['--cache-dir', ws.cacheDir, '--cni-path', CNI_DIR]);
    expectOk(gc);
    expect(gc.stdout, show(gc)).toMatch(/^gc: freed 0 stale attachments, 0 alive, 1 interface gone \(cni-detach frees its lease\)$/m);
    expect(gc.stderr).toContain(`note: eth1 of netns ${netnsPath(ns)} (network `);
    expect(gc.stderr).toContain(`is not counted alive: eth1 is not in ${netnsPath(ns)} any more: deleted outside cni-attach (no DEL of ours was under way); its IPAM lease is still held: cni-detach frees it; run \`kubectl cni-detach --netns ${netnsPath(ns)} --ifname eth1 --cache-dir ${ws.cacheDir} --cni-path ${CNI_DIR}\``);
    expect(await leases(ws.dataDir)).not.toEqual([]);
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1')));
    expect(await leases(ws.dataDir)).toEqual([]);
  });

  it('detach --dry-run and check --dry-run print the runs and change nothing', async () => {
    const { ws, ns, conf } = await bridgeWorld('198.18.111.0/24');
    expectOk(await runCli('attach', lab.args(ws, ns, 'eth1', conf)));
    const before = await attachmentFiles(ws.cacheDir);
    const d = await runCli('detach', [...lab.args(ws, ns, 'eth1'), '--dry-run']);
    expectOk(d);
    expect(d.stdout).toMatch(/CNI_COMMAND=DEL .*CNI_IFNAME=eth1 \/usr\/lib\/cni\/bridge <<'EOF'/);
    const c = await runCli('check', [...lab.args(ws, ns, 'eth1'), '--dry-run', '-o', 'json']);
    expectOk(c);
    expect((JSON.parse(c.stdout) as { runs: { env: Record<string, string> }[] }).runs.map((r) => r.env.CNI_COMMAND)).toEqual(['CHECK']);
    expect(await linkExists('eth1', ns)).toBe(true);
    expect(await attachmentFiles(ws.cacheDir)).toEqual(before);
    expectOk(await runCli('detach', lab.args(ws, ns, 'eth1')));
  });

  it('a plugin printing more than the output limit is refused naming the limit, not "killed by SIGPIPE"', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    await fakePlugin(ws.pluginDir, 'huge', { add: 'head -c 70000000 /dev/zero | tr "\\\\0" x; exit 0' });
    const conf = await writeConf(ws.dir, 'h.json', { cniVersion: '1.0.0', name: lab.name('k'), type: 'huge' });
    const r = await runCli('attach', [...lab.args(ws, ns, 'eth1', conf, ws.pluginDir), '--timeout', '30s']);
    expectCleanError(r, 1, /plugin huge failed on ADD: printed more than 64 MiB, the output limit of a plugin run/);
    expect(await attachmentFiles(ws.cacheDir)).toEqual([]);
  });
});

/** A process that lives in namespace ns (for its /proc/PID/ns/net), until killed. */
function spawnHolder(ns: string): { pid: Promise<number>; kill: () => void } {
  const child = spawn('ip', ['netns', 'exec', ns, 'sleep', '120'], { stdio: 'ignore' });
  const pid = (async () => {
    // `ip netns exec` enters the namespace, then execs sleep: wait until the pid's namespace is no longer ours
    const mine = (await sh(['readlink', '/proc/self/ns/net'])).stdout.trim();
    await waitFor(async () => {
      const now = (await sh(['readlink', `/proc/${child.pid}/ns/net`])).stdout.trim();
      return now !== '' && now !== mine;
    }, 5000);
    return child.pid!;
  })();
  return { pid, kill: () => child.kill('SIGKILL') };
}
