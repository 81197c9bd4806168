/**
 * Security: the tool runs as root on nodes. hostNetwork pods are refused before any plugin runs; a plugin type is a
 * bare name looked up only in CNI_PATH (no traversal, not from PATH, not from the current directory, not even through a
 * tampered cache entry); cache and lock files are 0600 in 0700 root-owned directories (also under umask 000), never
 * written through a planted symlink, and the default lock directory is under /var/lib/cni, not /tmp; configs are not
 * echoed at default verbosity. Every plugin a test expects never to run is a "tripwire" that leaves a file when run.
 * Addresses: 198.18.66.0/24.
 */
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, readFile, rm, rmdir, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanError, expectOk, runCli, show } from '../helpers/cli.js';
import { bridgeConf, bridgePlugin, conflist, writeConf } from '../helpers/confs.js';
import { CNI_DIR } from '../helpers/env.js';
import { fakePlugin } from '../helpers/fake-plugin.js';
import { captureState, expectState, makeBridge, type Scope } from '../helpers/host-state.js';
import { useLab, type Workspace } from '../helpers/lab.js';
import { containerIdOf, linkExists, netnsPath } from '../helpers/net.js';
import { runBin } from '../helpers/run.js';
import { makePod, StandInApiServer } from '../k8s/stand-in-api.js';

const lab = useLab('rs');
const SUBNET = '198.18.66.0/24';

/** A plugin that must never run: it leaves `trip` behind if it does (for any command, VERSION included). */
async function tripwire(dir: string, name: string, trip: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const s = `echo "$CNI_COMMAND" >> ${trip}; echo '{"code":99,"msg":"tripwire ran"}'; exit 1`;
  return fakePlugin(dir, name, { version: s, add: s, del: s, check: s });
}

async function world() {
  const ws = await lab.workspace();
  const ns = await lab.netns();
  const br = await makeBridge(lab);
  const net = lab.name('k');
  const trip = join(ws.dir, 'TRIPPED');
  const scope: Scope = { lab, ws, netns: [ns], bridges: [br], markers: [netnsPath(ns)] };
  return { ws, ns, br, net, trip, scope, cid: containerIdOf(netnsPath(ns)) };
}

describe('hostNetwork pods are refused before anything runs', () => {
  let api: StandInApiServer;
  beforeAll(async () => {
    api = await StandInApiServer.start();
  });
  afterAll(async () => {
    await api?.stop();
  });

  it.each([[[]], [['--dry-run']]] as [string[]][])('attach %j: exit 2, no plugin run (not even VERSION), no link in the node namespace', async (extra) => {
    const w = await world();
    await tripwire(w.ws.pluginDir, 'bridge', w.trip);
    const conf = await writeConf(w.ws.dir, 'net.json', bridgeConf({ name: w.net, bridge: w.br, subnet: SUBNET, dataDir: w.ws.dataDir }));
    const pod = lab.name('p');
    api.addPod(makePod({ name: pod, namespace: 'rel-sec', nodeName: hostname(), phase: 'Running', hostNetwork: true }));
    const ifname = lab.name('i');
    const before = await captureState(w.scope);
    const r = await runCli('attach', [
      pod, '-n', 'rel-sec', '--ifname', ifname, '--conf', conf, '--kubeconfig', api.kubeconfigPath, '--cache-dir', w.ws.cacheDir,
      '--cni-path', w.ws.pluginDir, '--docker-host', 'unix:///nonexistent/docker.sock', '--runtime', 'docker', ...extra,
    ]);
    expectCleanError(r, 2, /uses hostNetwork: its network namespace is the node's own.*refused/);
    expect(existsSync(w.trip), 'no plugin ran').toBe(false);
    expect(await linkExists(ifname), 'no such link in the node namespace').toBe(false);
    expectState(await captureState(w.scope), before, 'after the refusal');
  });
});

describe('a plugin type is a bare name found only in CNI_PATH', () => {
  /** CNI_PATH is <ws>/cni; the tripwire "evil" sits just outside it, at <ws>/plugins/evil. */
  const traversals = (ws: Workspace) => ['../plugins/evil', `${ws.pluginDir}/evil`, 'sub/../../plugins/evil', '..', './evil', 'evil/', `${'../'.repeat(12)}${ws.pluginDir.slice(1)}/evil`];

  it('path-like types are refused (exit 2) as a config, in a conflist, and for detach/check --conf; the tripwire never runs', async () => {
    const w = await world();
    const cniDir = join(w.ws.dir, 'cni');
    await mkdir(cniDir);
    await tripwire(w.ws.pluginDir, 'evil', w.trip);
    const before = await captureState(w.scope);
    let n = 0;
    for (const type of traversals(w.ws)) {
      const single = await writeConf(w.ws.dir, `t${n}.json`, { cniVersion: '1.0.0', name: w.net, type });
      const list = await writeConf(w.ws.dir, `t${n++}.conflist`, conflist(w.net, [bridgePlugin(w.br, SUBNET, w.ws.dataDir), { type }]));
      for (const [tool, conf] of [['attach', single], ['attach', list], ['detach', single], ['check', list]] as const) {
        const r = await runCli(tool, lab.args(w.ws, w.ns, 'eth1', conf, cniDir));
        expectCleanError(r, 2, /must be a bare executable name \(no '\/', no '\.\.'\)/);
      }
    }
    expect(existsSync(w.trip), 'the plugin outside CNI_PATH never ran').toBe(false);
    expectState(await captureState(w.scope), before, 'after the refusals');
  });

  it('a tampered cache entry naming a path-like type: detach refuses (exit 2) and runs nothing', async () => {
    const w = await world();
    const cniDir = join(w.ws.dir, 'cni');
    await mkdir(cniDir);
    await tripwire(w.ws.pluginDir, 'evil', w.trip);
    const config = JSON.stringify({ cniVersion: '1.0.0', name: w.net, type: '../plugins/evil' });
    const entry = { kind: 'cniCacheV1', containerId: w.cid, config: Buffer.from(config).toString('base64'), ifName: 'eth1', networkName: w.net, netns: netnsPath(w.ns) };
    await mkdir(join(w.ws.cacheDir, 'results'), { recursive: true, mode: 0o700 });
    await writeFile(join(w.ws.cacheDir, 'results', `${w.net}-${w.cid}-eth1`), JSON.stringify(entry), { mode: 0o600 });
    const before = await captureState(w.scope);
    for (const tool of ['detach', 'check'] as const) {
      const r = await runCli(tool, lab.args(w.ws, w.ns, 'eth1', undefined, cniDir));
      expectCleanError(r, 2, /must be a bare executable name/);
    }
    expect(existsSync(w.trip)).toBe(false);
    expectState(await captureState(w.scope), before, 'after the refusals');
  });

  it('a plugin on $PATH or in the working directory, but not in CNI_PATH, is not found (exit 2) and never runs', async () => {
    const w = await world();
    const elsewhere = join(w.ws.dir, 'on-path');
    const cwd = join(w.ws.dir, 'cwd');
    await tripwire(elsewhere, 'cntrsevil', w.trip);
    await tripwire(cwd, 'cntrsevil', w.trip);
    const conf = await writeConf(w.ws.dir, 'evil.json', { cniVersion: '1.0.0', name: w.net, type: 'cntrsevil' });
    const before = await captureState(w.scope);
    const env = { PATH: `${elsewhere}:.:${process.env.PATH ?? '/usr/bin:/bin'}` };
    // with --cni-path, with $CNI_PATH, and with neither (the defaults)
    for (const o of [{ args: ['--cni-path', CNI_DIR], env }, { args: [], env: { ...env, CNI_PATH: CNI_DIR } }, { args: [], env }]) {
      const args = [...lab.args(w.ws, w.ns, 'eth1', conf).slice(0, -2), ...o.args];
      const r = await runBin('attach', args, { cwd, env: o.env });
      const line = expectCleanError(r, 2, /CNI plugin "cntrsevil" not found in /);
      expect(line).not.toContain(elsewhere);
      expect(line).not.toMatch(/ \.(,|$| )/);
    }
    expect(existsSync(w.trip), 'never ran').toBe(false);
    expectState(await captureState(w.scope), before, 'after the refusals');
  });

  it.each([':/usr/lib/cni', '/usr/lib/cni:', '/usr/lib/cni::/opt/cni/bin', '.', './', 'cni'])(
    '$CNI_PATH=%j (an empty or relative entry means the working directory to a shell): refused, exit 2',
    async (cniPath) => {
      const w = await world();
      const cwd = join(w.ws.dir, 'cwd');
      await tripwire(cwd, 'cntrsprobe', w.trip);
      await tripwire(join(cwd, 'cni'), 'cntrsprobe', w.trip);
      const conf = await writeConf(w.ws.dir, 'probe.json', { cniVersion: '1.0.0', name: w.net, type: 'cntrsprobe' });
      const before = await captureState(w.scope);
      const r = await runBin('attach', lab.args(w.ws, w.ns, 'eth1', conf).slice(0, -2), { cwd, env: { CNI_PATH: cniPath } });
      expectCleanError(r, 2, /CNI path entry .* is not an absolute directory \(from \$CNI_PATH\)/);
      expect(existsSync(w.trip)).toBe(false);
      expectState(await captureState(w.scope), before, 'after the refusal');
    },
  );

  it('$CNI_PATH="" means the defaults (/opt/cni/bin:/usr/lib/cni), never the working directory', async () => {
    const w = await world();
    const cwd = join(w.ws.dir, 'cwd');
    await tripwire(cwd, 'cntrsprobe', w.trip);
    const conf = await writeConf(w.ws.dir, 'probe.json', { cniVersion: '1.0.0', name: w.net, type: 'cntrsprobe' });
    const r = await runBin('attach', lab.args(w.ws, w.ns, 'eth1', conf).slice(0, -2), { cwd, env: { CNI_PATH: '' } });
    expectCleanError(r, 2, /CNI plugin "cntrsprobe" not found in \/opt\/cni\/bin, \/usr\/lib\/cni /);
    expect(existsSync(w.trip)).toBe(false);
  });

  it('the plugins get exactly the CNI_PATH given (absolute directories), whatever the caller exported', async () => {
    const w = await world();
    const seen = join(w.ws.dir, 'seen');
    await fakePlugin(w.ws.pluginDir, 'probe', { add: `echo "$CNI_COMMAND $CNI_PATH" >> ${seen}; echo "$CONF" | sed -n 's/.*"prevResult":\\(.*\\)}$/\\1/p'`, del: `echo "$CNI_COMMAND $CNI_PATH" >> ${seen}` });
    const conf = await writeConf(w.ws.dir, 'chain.conflist', conflist(w.net, [bridgePlugin(w.br, SUBNET, w.ws.dataDir), { type: 'probe' }]));
    const dirs = `${w.ws.pluginDir}:${CNI_DIR}`;
    const before = await captureState(w.scope);
    const r = await runBin('attach', lab.args(w.ws, w.ns, 'eth1', conf, dirs), { cwd: w.ws.dir, env: { CNI_PATH: '.:/tmp', CNI_COMMAND: 'DEL', CNI_ARGS: 'X=1' } });
    expect(r.exitCode, show(r)).toBe(0);
    expectOk(await runCli('detach', lab.args(w.ws, w.ns, 'eth1', undefined, dirs)));
    expect((await readFile(seen, 'utf8')).trim().split('\n')).toEqual([`ADD ${dirs}`, `DEL ${dirs}`]);
    expectState(await captureState(w.scope), before, 'after attach and detach');
  });
});

describe('cache and lock files', () => {
  /** During ADD, a plugin after bridge records the mode, owner and type of every file and directory of the cache. */
  async function probeChain(w: Awaited<ReturnType<typeof world>>, cacheDir: string) {
    const log = join(w.ws.dir, 'modes');
    await fakePlugin(w.ws.pluginDir, 'probe', {
      add: `find ${cacheDir} -exec stat -c '%a %u %F %n' {} + >> ${log}\necho "$CONF" | sed -n 's/.*"prevResult":\\(.*\\)}$/\\1/p'`,
    });
    const conf = await writeConf(w.ws.dir, 'chain.conflist', conflist(w.net, [bridgePlugin(w.br, SUBNET, w.ws.dataDir), { type: 'probe' }]));
    return { conf, log, cniPath: `${w.ws.pluginDir}:${CNI_DIR}` };
  }
  function parse(text: string, root: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const l of text.trim().split('\n')) {
      const [mode, uid, ...rest] = l.split(' ');
      const path = rest.join(' ');
      const m = /^(regular (?:empty )?file|directory|symbolic link) (.*)$/.exec(path)!;
      out[m[2]!.replace(root, '<cache>')] = `${mode} uid=${uid} ${m[1]!.replace('regular empty file', 'regular file')}`;
    }
    return out;
  }

  it.each([['022'], ['000']])('under umask %s: results, intents and locks are 0600 files in 0700 root-owned directories', async (umask) => {
    const w = await world();
    const p = await probeChain(w, w.ws.cacheDir);
    const before = await captureState(w.scope);
    const r = await runBin('attach', lab.args(w.ws, w.ns, 'eth1', p.conf, p.cniPath), { umask });
    expect(r.exitCode, show(r)).toBe(0);
    const during = parse(await readFile(p.log, 'utf8'), w.ws.cacheDir);
    const key = `${w.net}-${w.cid}-eth1`;
    expect(during).toEqual({
      '<cache>': '700 uid=0 directory',
      '<cache>/cni-attach': '700 uid=0 directory',
      '<cache>/cni-attach/intents': '700 uid=0 directory',
      [`<cache>/cni-attach/intents/${key}`]: '600 uid=0 regular file',
      '<cache>/cni-attach/locks': '700 uid=0 directory',
      [`<cache>/cni-attach/locks/${w.cid}-eth1.lock`]: '600 uid=0 regular file',
    });
    const result = await stat(join(w.ws.cacheDir, 'results', key));
    expect((result.mode & 0o777).toString(8)).toBe('600');
    expect(result.uid).toBe(0);
    expect(((await stat(join(w.ws.cacheDir, 'results'))).mode & 0o777).toString(8)).toBe('700');
    expectOk(await runCli('detach', lab.args(w.ws, w.ns, 'eth1', undefined, p.cniPath)));
    expectState(await captureState(w.scope), before, 'after attach and detach');
  });

  it('by default the lock is under /var/lib/cni/cni-attach/locks (root-owned, 0700), not in /tmp', async () => {
    const w = await world();
    const existed = ['/var/lib/cni', '/var/lib/cni/results', '/var/lib/cni/cni-attach', '/var/lib/cni/cni-attach/intents', '/var/lib/cni/cni-attach/locks'].filter((d) => existsSync(d));
    lab.defer('directories this test made under /var/lib/cni', async () => {
      for (const d of ['/var/lib/cni/cni-attach/locks', '/var/lib/cni/cni-attach/intents', '/var/lib/cni/cni-attach', '/var/lib/cni/results', '/var/lib/cni']) {
        if (!existed.includes(d)) await rmdir(d).catch(() => undefined); // only if empty
      }
    });
    const p = await probeChain(w, '/var/lib/cni/cni-attach/locks');
    const key = `${w.net}-${w.cid}-eth1`;
    // a successful attach keeps the plugins' VERSION answers there: put back what was there before
    const versionsFile = '/var/lib/cni/cni-attach/plugin-versions.json';
    const versionsBefore = await readFile(versionsFile, 'utf8').catch(() => undefined);
    lab.defer('our default-cache entries', async () => {
      if (versionsBefore === undefined) await rm(versionsFile, { force: true });
      else await writeFile(versionsFile, versionsBefore, { mode: 0o600 });
      await rm(`/var/lib/cni/results/${key}`, { force: true });
      await rm(`/var/lib/cni/cni-attach/intents/${key}`, { force: true });
      await rm(`/var/lib/cni/cni-attach/locks/${w.cid}-eth1.lock`, { force: true });
    });
    const args = ['--netns', netnsPath(w.ns), '--ifname', 'eth1', '--cni-path', p.cniPath];
    expectOk(await runCli('attach', [...args, '--conf', p.conf]));
    const during = parse(await readFile(p.log, 'utf8'), '/var/lib/cni/cni-attach/locks');
    expect(during['<cache>']).toBe('700 uid=0 directory');
    expect(during[`<cache>/${w.cid}-eth1.lock`]).toBe('600 uid=0 regular file');
    expect(((await stat('/var/lib/cni')).uid)).toBe(0);
    expectOk(await runCli('detach', args));
    expect(existsSync(`/var/lib/cni/results/${key}`)).toBe(false);
    expect(existsSync(`/var/lib/cni/cni-attach/locks/${w.cid}-eth1.lock`)).toBe(false);
  });

  it('symlinks planted at the lock, intent and result paths are never written through: their targets stay as they were', async () => {
    const w = await world();
    const conf = await writeConf(w.ws.dir, 'net.json', bridgeConf({ name: w.net, bridge: w.br, subnet: SUBNET, dataDir: w.ws.dataDir }));
    const key = `${w.net}-${w.cid}-eth1`;
    const victims = join(w.ws.dir, 'victims');
    await mkdir(victims);
    const planted: [string, string][] = [
      [join(w.ws.cacheDir, 'cni-attach/locks', `${w.cid}-eth1.lock`), join(victims, 'lock-target')],
      [join(w.ws.cacheDir, 'cni-attach/intents', key), join(victims, 'intent-target')],
      [join(w.ws.cacheDir, 'results', key), join(victims, 'result-target')],
    ];
    const old = (Date.now() - 60_000) / 1000;
    for (const [link, target] of planted) {
      await mkdir(join(link, '..'), { recursive: true, mode: 0o700 });
      await writeFile(target, `precious ${target}\n`, { mode: 0o644 });
      await utimes(target, old, old);
      await symlink(target, link);
    }
    const before = await captureState(w.scope);
    const untouched = async () => {
      for (const [, target] of planted) {
        expect(await readFile(target, 'utf8'), `${target} untouched`).toBe(`precious ${target}\n`);
        expect(((await stat(target)).mode & 0o777).toString(8)).toBe('644');
      }
    };
    // what sits at the intent and result paths is no cache entry: like any unreadable record it blocks eth1, and the
    // refusal names the way out (issue 11: never skipped silently)
    const r = await runCli('attach', lab.args(w.ws, w.ns, 'eth1', conf));
    expectCleanError(r, 2, /eth1 is already taken .*cannot be used \(not JSON .*--force` forgets it/);
    await untouched();
    // --force removes the links themselves (unlink), never what they point at
    expectOk(await runCli('detach', [...lab.args(w.ws, w.ns, 'eth1'), '--force']));
    for (const [link] of planted) expect(await lstat(link).catch(() => 'gone'), link).toBe('gone');
    await untouched();
    expectOk(await runCli('attach', lab.args(w.ws, w.ns, 'eth1', conf)));
    await untouched();
    expect((await lstat(planted[2]![0])).isSymbolicLink()).toBe(false);
    expectOk(await runCli('detach', lab.args(w.ws, w.ns, 'eth1')));
    for (const [, target] of planted) expect(await readFile(target, 'utf8')).toBe(`precious ${target}\n`);
    const after = await captureState(w.scope);
    expect(after.leases).toEqual(before.leases);
    expect(after.targets).toEqual(before.targets);
  });

  it('a dangling symlink at the lock path: its target is never created', async () => {
    const w = await world();
    const conf = await writeConf(w.ws.dir, 'net.json', bridgeConf({ name: w.net, bridge: w.br, subnet: SUBNET, dataDir: w.ws.dataDir }));
    const lock = join(w.ws.cacheDir, 'cni-attach/locks', `${w.cid}-eth1.lock`);
    const target = join(w.ws.dir, 'created-through-the-link');
    await mkdir(join(lock, '..'), { recursive: true, mode: 0o700 });
    await symlink(target, lock);
    const r = await runCli('attach', lab.args(w.ws, w.ns, 'eth1', conf));
    expect(existsSync(target), show(r)).toBe(false);
    if (r.exitCode === 0) expectOk(await runCli('detach', lab.args(w.ws, w.ns, 'eth1')));
  });

  it('a cache dir that others may write (not root-owned, mode 0777) is refused: a planted entry would make root DEL with its config', async () => {
    const w = await world();
    await mkdir(w.ws.cacheDir, { recursive: true });
    await chown(w.ws.cacheDir, 65534, 65534);
    await chmod(w.ws.cacheDir, 0o777);
    const conf = await writeConf(w.ws.dir, 'net.json', bridgeConf({ name: w.net, bridge: w.br, subnet: SUBNET, dataDir: w.ws.dataDir }));
    const before = await captureState(w.scope);
    const r = await runCli('attach', lab.args(w.ws, w.ns, 'eth1', conf));
    expectCleanError(r, 2, /cache/);
    expectState(await captureState(w.scope), before, 'after the refusal');
  });
});

describe('configs are not echoed at default verbosity', () => {
  const SECRET = 'S3CR3T-d0-not-log-me';
  /** Any 6 characters of it would be too many: V8's JSON error messages quote about 10 characters around the error. */
  const PART = 'S3CR3T';

  it('attach (summary, json, yaml), check, detach and a failing plugin print no part of the config', async () => {
    const w = await world();
    const conf = await writeConf(w.ws.dir, 'net.json', { ...bridgeConf({ name: w.net, bridge: w.br, subnet: SUBNET, dataDir: w.ws.dataDir }), token: SECRET });
    const outputs: string[] = [];
    for (const o of ['summary', 'json', 'yaml']) {
      const a = await runCli('attach', [...lab.args(w.ws, w.ns, 'eth1', conf), '-o', o]);
      expectOk(a);
      outputs.push(a.stdout, a.stderr);
      const c = await runCli('check', lab.args(w.ws, w.ns, 'eth1'));
      expectOk(c);
      outputs.push(c.stdout, c.stderr);
      const d = await runCli('detach', lab.args(w.ws, w.ns, 'eth1'));
      expectOk(d);
      outputs.push(d.stdout, d.stderr);
    }
    // a plugin that fails with a CNI error (host-local refuses the range), and one whose config is refused by us
    const bad = await writeConf(w.ws.dir, 'bad.json', { ...bridgeConf({ name: w.net, bridge: w.br, subnet: 'not-a-subnet', dataDir: w.ws.dataDir }), token: SECRET });
    const f = await runCli('attach', lab.args(w.ws, w.ns, 'eth1', bad));
    expect(f.exitCode, show(f)).toBe(1);
    outputs.push(f.stdout, f.stderr);
    const refused = await writeConf(w.ws.dir, 'refused.json', { cniVersion: '9.9.9', name: w.net, type: 'bridge', token: SECRET });
    const g = await runCli('attach', lab.args(w.ws, w.ns, 'eth1', refused));
    expect(g.exitCode, show(g)).toBe(2);
    outputs.push(g.stdout, g.stderr);
    for (const text of outputs) expect(text).not.toContain(PART);
  });

  it('a config that is not valid JSON is not echoed either', async () => {
    const w = await world();
    const conf = await writeConf(w.ws.dir, 'broken.json', `{"cniVersion":"1.0.0","name":"${w.net}","type":"bridge","token":${SECRET}}`);
    const r = await runCli('attach', lab.args(w.ws, w.ns, 'eth1', conf));
    expectCleanError(r, 2, /invalid JSON/);
    expect(r.stderr).not.toContain(PART);
  });
});
