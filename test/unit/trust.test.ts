/**
 * exec/trust.ts: whether plugins may be run from directories a record named. The rule on facts (pure), then on real
 * directories of this host through each way a node is reached: this host's executor (lstat/stat), a node reached by
 * commands (one sh: trustShell, parsed), and that node with the facts read ahead on its next command (no round trip of
 * their own). The same verdicts each way.
 */
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { withPrelude } from '../../src/exec/node-session.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchingExecutor } from '../../src/exec/batch.js';
import { LocalExecutor } from '../../src/exec/local.js';
import { ShellExecutor } from '../../src/exec/shell.js';
import { judgePluginDirs, parseTrust, prefixesOf, trustOutput, type StatFacts, type TrustFacts } from '../../src/exec/trust.js';
import type { Executor, RunOptions, RunResult } from '../../src/exec/types.js';
import { attachCommand } from '../../src/cli/attach.js';
import { checkCommand } from '../../src/cli/check.js';
import { detachCommand } from '../../src/cli/detach.js';
import { gcCommand } from '../../src/cli/gc.js';
import { addRecord, attachmentRecord, listRecords, recordKey } from '../../src/resolve/records.js';
import { bridgeResult, FakeExecutor } from '../fakes/executor.js';
import { NETNS, SANDBOX, world } from '../fakes/world.js';

const DIR = 0o40000;
const FILE = 0o100000;
const LINK = 0o120000;

/** Facts from a table: path → [uid, mode] (lstat = stat), or [uid, mode, target [uid, mode]] for a link. */
function facts(table: Record<string, [number, number] | [number, number, [number, number] | null]>, files: Record<string, string[]> = {}, me = 0): TrustFacts {
  const f: TrustFacts = { me, lstat: new Map(), stat: new Map(), files: new Map(Object.entries(files)) };
  for (const [p, [uid, mode, target]] of Object.entries(table)) {
    f.lstat.set(p, { uid, mode });
    if (target !== null) f.stat.set(p, target ? { uid: target[0], mode: target[1] } : { uid, mode });
  }
  return f;
}
const root = (mode: number): [number, number] => [0, mode];

describe('judgePluginDirs: the rule', () => {
  const base = { '/': root(DIR | 0o755), '/opt': root(DIR | 0o755), '/opt/cni': root(DIR | 0o755), '/opt/cni/bin': root(DIR | 0o755), '/opt/cni/bin/bridge': root(FILE | 0o755) };
  const exe = { '/opt/cni/bin': ['/opt/cni/bin/bridge'] };

  it('every directory from / down and every plugin root\'s (or the user\'s) and others may not write: trusted', () => {
    expect(prefixesOf('/opt/cni/bin/')).toEqual(['/', '/opt', '/opt/cni', '/opt/cni/bin']);
    expect(judgePluginDirs(['/opt/cni/bin'], facts(base, exe))).toBeUndefined();
    expect(judgePluginDirs(['/opt/cni/bin'], facts({ ...base, '/opt/cni/bin': [1000, DIR | 0o755], '/opt/cni/bin/bridge': [1000, FILE | 0o700] }, exe, 1000))).toBeUndefined();
  });

  it('a directory others or the group may write, or of another user, anywhere on the way: refused, named', () => {
    expect(judgePluginDirs(['/opt/cni/bin'], facts({ ...base, '/opt/cni/bin': root(DIR | 0o777) }, exe))).toBe('group or others may write /opt/cni/bin (mode 0777)');
    expect(judgePluginDirs(['/opt/cni/bin'], facts({ ...base, '/opt': root(DIR | 0o775) }, exe))).toBe('group or others may write /opt (mode 0775)');
    expect(judgePluginDirs(['/opt/cni/bin'], facts({ ...base, '/opt/cni': [1000, DIR | 0o755] }, exe))).toBe('/opt/cni belongs to uid 1000, neither to root nor to uid 0, who runs the plugins');
  });

  it('a sticky directory on the way (/tmp) passes, the plugin directory itself never: anyone could add a plugin there', () => {
    const tmp = { '/': root(DIR | 0o755), '/tmp': root(DIR | 0o1777), '/tmp/p': root(DIR | 0o755) };
    expect(judgePluginDirs(['/tmp/p'], facts(tmp))).toBeUndefined();
    expect(judgePluginDirs(['/tmp'], facts(tmp))).toBe('group or others may write /tmp (mode 1777)');
    // the next directory another user's: they may replace it
    expect(judgePluginDirs(['/tmp/p'], facts({ ...tmp, '/tmp/p': [1000, DIR | 0o755] }))).toMatch(/^\/tmp\/p belongs to uid 1000/);
  });

  it('every plugin of the directory, not only the one to run (a plugin runs others it finds in CNI_PATH: IPAM)', () => {
    const more = { ...base, '/opt/cni/bin/host-local': root(FILE | 0o757) };
    expect(judgePluginDirs(['/opt/cni/bin'], facts(more, { '/opt/cni/bin': ['/opt/cni/bin/bridge', '/opt/cni/bin/host-local'] }))).toBe('group or others may write /opt/cni/bin/host-local (mode 0757)');
    expect(judgePluginDirs(['/opt/cni/bin'], facts({ ...base, '/opt/cni/bin/bridge': [65534, FILE | 0o755] }, exe))).toBe('/opt/cni/bin/bridge belongs to uid 65534, neither to root nor to uid 0, who runs the plugins');
    // a file that is not executable today: its owner may make it so
    expect(judgePluginDirs(['/opt/cni/bin'], facts({ ...base, '/opt/cni/bin/notes': [1000, FILE | 0o644] }, { '/opt/cni/bin': ['/opt/cni/bin/bridge', '/opt/cni/bin/notes'] }))).toBe('/opt/cni/bin/notes belongs to uid 1000, neither to root nor to uid 0, who runs the plugins');
    expect(judgePluginDirs(['/opt/cni/bin'], facts({ ...base, '/opt/cni/bin/gone': [0, LINK | 0o777, null] }, { '/opt/cni/bin': ['/opt/cni/bin/gone'] }))).toMatch(/^\/opt\/cni\/bin\/gone is a symbolic link to nothing/);
    // every directory of the path, the second as the first
    expect(judgePluginDirs(['/opt/cni/bin', '/opt/x'], facts({ ...base, '/opt/x': root(DIR | 0o777) }, exe))).toBe('group or others may write /opt/x (mode 0777)');
  });

  it('symbolic links: followed; one of another user refused; one to nothing refused', () => {
    const linked = { ...base, '/opt/cni/bin': [0, LINK | 0o777, [0, DIR | 0o755]] as [number, number, [number, number]] };
    expect(judgePluginDirs(['/opt/cni/bin'], facts(linked, exe))).toBeUndefined();
    expect(judgePluginDirs(['/opt/cni/bin'], facts({ ...base, '/opt/cni/bin': [0, LINK | 0o777, [0, DIR | 0o777]] }, exe))).toBe('group or others may write /opt/cni/bin (mode 0777)');
    expect(judgePluginDirs(['/opt/cni/bin'], facts({ ...base, '/opt/cni/bin': [1000, LINK | 0o777, [0, DIR | 0o755]] }, exe))).toBe('/opt/cni/bin, a symbolic link, belongs to uid 1000, neither to root nor to uid 0, who runs the plugins');
    expect(judgePluginDirs(['/opt/cni/bin'], facts({ ...base, '/opt/cni/bin': [0, LINK | 0o777, null] }, exe))).toMatch(/^\/opt\/cni\/bin is a symbolic link to nothing/);
  });

  it('a file or directory removed between the two stats (lstat saw it, stat did not, and it was no link): gone meanwhile, not a link to nothing (a record an attach removes on the node while a look-up reads the cache)', () => {
    const cache = { '/': root(DIR | 0o755), '/var': root(DIR | 0o755), '/var/lib': root(DIR | 0o755), '/var/lib/cni': root(DIR | 0o700), '/var/lib/cni/intents': root(DIR | 0o700) };
    const intent = '/var/lib/cni/intents/net-sb-a-net1';
    const f = facts(cache, { '/var/lib/cni/intents': [intent] });
    f.lstat.set(intent, { uid: 0, mode: FILE | 0o600 });
    expect(judgePluginDirs(['/var/lib/cni/intents'], f)).toBeUndefined();
    // the directory itself gone between them: as one not there (nobody else can make it here; anyone could in /tmp)
    const g = facts(cache);
    g.stat.delete('/var/lib/cni/intents');
    expect(judgePluginDirs(['/var/lib/cni/intents'], g)).toBeUndefined();
    const t = facts({ '/': root(DIR | 0o755), '/tmp': root(DIR | 0o1777) });
    t.lstat.set('/tmp/c', { uid: 0, mode: DIR | 0o700 });
    expect(judgePluginDirs(['/tmp/c'], t)).toBe('/tmp/c does not exist, and group or others may write /tmp (mode 1777), so anyone could make it');
    // a link still is one to nothing when its target is not there
    f.lstat.set(intent, { uid: 0, mode: LINK | 0o777 });
    expect(judgePluginDirs(['/var/lib/cni/intents'], f)).toMatch(/intents\/net-sb-a-net1 is a symbolic link to nothing/);
  });

  it('a directory that is not there: fine where nobody else can make it, refused where anyone can', () => {
    expect(judgePluginDirs(['/opt/none/bin'], facts(base))).toBeUndefined();
    expect(judgePluginDirs(['/tmp/none'], facts({ '/': root(DIR | 0o755), '/tmp': root(DIR | 0o1777) }))).toBe('/tmp/none does not exist, and group or others may write /tmp (mode 1777), so anyone could make it');
  });

  it('the facts as the node prints them parse back (names with spaces too)', () => {
    const f = facts({ ...base, '/opt/my plugins': root(DIR | 0o755), '/opt/my plugins/a b': root(FILE | 0o755) }, { ...exe, '/opt/my plugins': ['/opt/my plugins/a b'] });
    expect(parseTrust(trustOutput(f), ['/opt/cni/bin', '/opt/my plugins'])).toEqual(f);
    expect(parseTrust('no facts', ['/opt'])).toBeUndefined();
  });
});

/** A node whose commands run on this host through execa; every run() is one round trip, counted. */
class LocalNode extends ShellExecutor {
  readonly where = 'node test-node';
  readonly elsewhere = 'node test-node';
  trips = 0;
  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    this.trips++;
    argv = opts.prelude ? withPrelude(argv, opts.prelude) : argv;
    const r = await execa(argv[0]!, argv.slice(1), { env: opts.env ?? this.baseEnv(), extendEnv: false, input: opts.stdin ?? '', reject: false, stripFinalNewline: false });
    return { code: r.exitCode ?? null, stdout: String(r.stdout), stderr: String(r.stderr), timedOut: false };
  }
}

const isRoot = process.getuid?.() === 0;
const ways: [string, () => { exec: Executor; before?: (dirs: string[]) => Promise<void>; trips?: () => number }][] = [
  ['this host', () => ({ exec: new LocalExecutor() })],
  ['a node reached by commands (one sh)', () => {
    const node = new LocalNode();
    return { exec: node, trips: () => node.trips };
  }],
  ['a node reached by commands, the facts read ahead on its next command', () => {
    const node = new LocalNode();
    const exec = new BatchingExecutor(node);
    return {
      exec,
      trips: () => node.trips,
      // the look-up command the read-ahead rides on (a sandbox look-up, in the CLI)
      before: async (dirs) => {
        exec.readAhead({ trustDirs: dirs });
        await exec.run(['true']);
      },
    };
  }],
];

describe.each(ways)('on real directories: %s', (_way, make) => {
  let dir: string;
  beforeEach(async () => {
    // /tmp is 1777 (sticky): the directories under it are judged as the rule says
    dir = await mkdtemp(join(tmpdir(), 'cni-attach-trust-'));
    await chmod(dir, 0o755);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function verdict(dirs: string[]): Promise<string | undefined> {
    const w = make();
    await w.before?.(dirs);
    const before = w.trips?.();
    const why = await w.exec.untrustedPluginDirs(dirs);
    // read ahead: answered from what came back with the command, no round trip of its own; else one
    if (w.trips) expect(w.trips() - before!).toBe(w.before ? 0 : 1);
    return why;
  }
  async function plugins(name: string, mode = 0o755, fileMode = 0o755): Promise<string> {
    const d = join(dir, name);
    await mkdir(d);
    await chmod(d, mode);
    await writeFile(join(d, 'bridge'), '#!/bin/sh\n');
    await chmod(join(d, 'bridge'), fileMode);
    return d;
  }

  it('root\'s directories others may not write, under sticky /tmp: trusted (a path with a space too)', async () => {
    expect(await verdict([await plugins('ok'), await plugins('my plugins')])).toBeUndefined();
  });

  it('a plugin directory anyone may write: refused, named with its mode', async () => {
    const d = await plugins('open', 0o777);
    expect(await verdict([d])).toBe(`group or others may write ${d} (mode 0777)`);
  });

  it('a plugin others may write: refused', async () => {
    const d = await plugins('file', 0o755, 0o757);
    expect(await verdict([d])).toBe(`group or others may write ${d}/bridge (mode 0757)`);
  });

  it('a directory on the way that anyone may write (not sticky): refused there', async () => {
    await chmod(dir, 0o777);
    const d = await plugins('under');
    expect(await verdict([d])).toBe(`group or others may write ${dir} (mode 0777)`);
  });

  it.skipIf(!isRoot)('a file of another user in a plugin directory, executable or not; not a subdirectory or a dotfile (no plugin type names them)', async () => {
    const d = await plugins('mixed');
    await mkdir(join(d, 'sub'));
    await writeFile(join(d, '.hidden'), '');
    await chown(join(d, 'sub'), 65534, 65534);
    await chown(join(d, '.hidden'), 65534, 65534);
    expect(await verdict([d])).toBeUndefined();
    await writeFile(join(d, 'notes'), 'x', { mode: 0o644 });
    await chown(join(d, 'notes'), 65534, 65534);
    expect(await verdict([d])).toBe(`${d}/notes belongs to uid 65534, neither to root nor to uid 0, who runs the plugins`);
  });

  it.skipIf(!isRoot)('a directory or plugin of another user, a link of another user: refused', async () => {
    const d = await plugins('theirs');
    await chown(d, 65534, 65534);
    expect(await verdict([d])).toBe(`${d} belongs to uid 65534, neither to root nor to uid 0, who runs the plugins`);
    const f = await plugins('file');
    await chown(join(f, 'bridge'), 65534, 65534);
    expect(await verdict([f])).toBe(`${f}/bridge belongs to uid 65534, neither to root nor to uid 0, who runs the plugins`);
    const ok = await plugins('target');
    await symlink(ok, join(dir, 'link'));
    expect(await verdict([join(dir, 'link')])).toBeUndefined();
    await execa('chown', ['-h', '65534:65534', join(dir, 'link')]);
    expect(await verdict([join(dir, 'link')])).toBe(`${dir}/link, a symbolic link, belongs to uid 65534, neither to root nor to uid 0, who runs the plugins`);
  });

  it('a plugin directory that is not there: fine under a directory only root writes, refused under /tmp', async () => {
    expect(await verdict([join(dir, 'none', 'bin')])).toBeUndefined();
    const name = join(tmpdir(), `cni-attach-trust-none-${process.pid}`);
    expect(await verdict([name])).toBe(`${name} does not exist, and group or others may write ${tmpdir()} (mode 1777), so anyone could make it`);
  });
});

describe('facts of paths: uid and mode as stat gives them', () => {
  it('StatFacts carry the file type bits (what tells a link and a directory)', () => {
    const s: StatFacts = { uid: 0, mode: DIR | 0o755 };
    expect((s.mode & 0o170000) === DIR).toBe(true);
  });
});

/** The cache entry of net1 (network net) of a pod's sandbox containerId. */
const entryOf = (containerId: string, pod: string, uid: string) => ({
  kind: 'cniCacheV1', containerId, config: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64'),
  ifName: 'net1', networkName: 'net', netns: '', cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', pod], ['K8S_POD_UID', uid]], result: bridgeResult('net1', '/proc/9/ns/net'),
});

describe('a record\'s --cni-path through the commands: used only when its node trusts it (the user\'s own as always)', () => {

  /** This host's pod shop/web-1 attached with --cni-path /srv/plugins (the record names it), that directory then opened to anyone. */
  async function attachedHere() {
    const w = world();
    w.exec.addPlugin('/srv/plugins/bridge', (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult('net1', NETNS)) } : {}));
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'net1', '--conf', '-', '--cni-path', '/srv/plugins'])).toBe(0);
    expect((await listRecords(w.kube, 'kube-system'))[0]).toMatchObject({ cniPath: '/srv/plugins' });
    w.exec.modes.set('/srv/plugins', { uid: 0, mode: 0o40777 });
    return w;
  }

  it('cni-detach (and its --dry-run, and cni-check) given no --cni-path: refused (exit 2) naming the record, why, and the command with the path given; nothing ran, nothing changed', async () => {
    const w = await attachedHere();
    const files = [...w.exec.files.keys()].sort();
    const calls = w.exec.calls.length;
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'net1'])).toBe(2);
    const key = recordKey(SANDBOX, 'net1');
    expect(w.stderr()).toBe([
      'note: plugins looked for in /srv/plugins, where the attach of net1 found them (its record; --cni-path overrides)',
      `error: refusing to run plugins from /srv/plugins, the --cni-path that the cluster's record of net1 of pod shop/web-1 on node node-1 (key ${key} of ConfigMap kube-system/cni-attach-node-node-1) names: group or others may write /srv/plugins (mode 0777); anyone who may write ConfigMaps in its namespace can write a record, so its path is used only where none but root or the user the plugins run as may change it; nothing was run; if you trust it, give it yourself: \`kubectl cni-detach web-1 -n shop --ifname net1 --cni-path /srv/plugins\``,
      '',
    ].join('\n'));
    expect(w.exec.calls.length).toBe(calls);
    expect([...w.exec.files.keys()].sort()).toEqual(files);
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'net1', '--dry-run'])).toBe(2);
    expect(w.stderr()).toMatch(/^error: refusing to run plugins from \/srv\/plugins, .*`kubectl cni-detach web-1 -n shop --ifname net1 --cni-path \/srv\/plugins`$/m);
    expect(await w.cli(checkCommand, ['web-1', '-n', 'shop', '--ifname', 'net1'])).toBe(2);
    expect(w.stderr()).toMatch(/^error: refusing to run plugins from \/srv\/plugins, .*`kubectl cni-check web-1 -n shop --ifname net1 --cni-path \/srv\/plugins`$/m);
    expect(w.exec.calls.length).toBe(calls);
    // given by the user: trusted as typed
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'net1', '--cni-path', '/srv/plugins'])).toBe(0);
    expect(w.exec.calls.map((c) => c.command)).toContain('DEL');
  });

  it('cni-detach given no --cni-path, the record\'s directory root\'s and closed: used, as before', async () => {
    const w = await attachedHere();
    w.exec.modes.delete('/srv/plugins');
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'net1'])).toBe(0);
    expect(w.exec.calls.filter((c) => c.command === 'DEL').map((c) => c.path)).toEqual(['/srv/plugins/bridge']);
  });

  it('cni-detach --all and -l use each pod\'s own record\'s --cni-path as one pod does: the same note (naming the pod), the same trust rule', async () => {
    const w = await attachedHere();
    w.pod.metadata!.labels = { app: 'web' };
    const calls = w.exec.calls.length;
    // opened to anyone: refused for that pod, naming its record and the command with the path given; nothing ran
    expect(await w.cli(detachCommand, ['--all', '-n', 'shop', '--ifname', 'net1'])).toBe(2);
    expect(w.stderr()).toContain('note: plugins looked for in /srv/plugins for pod shop/web-1, where the attach of net1 found them (its record; --cni-path overrides)\n');
    expect(w.stderr()).toContain("refusing to run plugins from /srv/plugins, the --cni-path that the cluster's record of net1 of pod shop/web-1 on node node-1");
    expect(w.exec.calls.length).toBe(calls);
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
    // closed again: its DEL runs from the record's directory (before, the batch looked in the default and failed)
    w.exec.modes.delete('/srv/plugins');
    expect(await w.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'net1'])).toBe(0);
    expect(w.exec.calls.filter((c) => c.command === 'DEL').map((c) => c.path)).toEqual(['/srv/plugins/bridge']);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
  });

  it('a plugin not found names the record\'s --cni-path: the one looked in, or the one not used because --cni-path was given (one pod and a batch)', async () => {
    const w = await attachedHere();
    w.exec.modes.delete('/srv/plugins');
    w.exec.plugins.delete('/srv/plugins/bridge');
    const key = recordKey(SANDBOX, 'net1');
    const record = `the cluster's record of net1 of pod shop/web-1 on node node-1 (key ${key} of ConfigMap kube-system/cni-attach-node-node-1)`;
    const used = `CNI plugin "bridge" not found in /srv/plugins on fake node; /srv/plugins is the --cni-path that ${record} names, where its attach found its plugins (--cni-path overrides)`;
    const unused = `CNI plugin "bridge" not found in /opt/other on fake node; ${record} names --cni-path /srv/plugins, where its attach found its plugins: not used, --cni-path was given`;
    for (const [args, said] of [
      [['web-1', '-n', 'shop', '--ifname', 'net1'], used],
      [['--all', '-n', 'shop', '--ifname', 'net1'], used],
      [['web-1', '-n', 'shop', '--ifname', 'net1', '--cni-path', '/opt/other'], unused],
      [['--all', '-n', 'shop', '--ifname', 'net1', '--cni-path', '/opt/other'], unused],
    ] as const) {
      expect(await w.cli(detachCommand, [...args]), w.stderr()).not.toBe(0);
      expect(w.stderr(), args.join(' ')).toContain(said);
    }
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
  });

  /** A gone pod's attachment on node-2, reached as `reach` makes it, recorded with --cni-path /tmp/evil (anyone may write it there). */
  async function goneOnNode2(reach: (node2: FakeExecutor) => Executor) {
    const w = world();
    const node2 = new FakeExecutor();
    node2.addPlugin('/tmp/evil/bridge', () => ({}));
    node2.modes.set('/tmp', { uid: 0, mode: 0o41777 });
    node2.modes.set('/tmp/evil', { uid: 0, mode: 0o40777 });
    node2.files.set(`/var/lib/cni/results/net-${'c'.repeat(64)}-net1`, JSON.stringify(entryOf('c'.repeat(64), 'db-1', 'uid-db')));
    const exec = reach(node2);
    w.runtime.nodeExecutor = async (n: string) => (n === 'node-2' ? exec : undefined);
    await addRecord(w.kube, 'kube-system', attachmentRecord({ namespace: 'shop', pod: 'db-1', uid: 'uid-db', node: 'node-2', ifname: 'net1', network: 'net', containerId: 'c'.repeat(64), cniPath: '/tmp/evil' }, { result: {} }));
    return { w, node2 };
  }

  it('cni-gc frees a gone pod\'s attachment on its node with the record\'s path only once that node trusts it: else not freed (exit 2), said with the record and the command; --dry-run says the same', async () => {
    const { w, node2 } = await goneOnNode2((n) => n);
    const key = recordKey('c'.repeat(64), 'net1');
    const refusal = `note: could not free net1 of pod shop/db-1: refusing to run plugins from /tmp/evil, the --cni-path that the cluster's record of net1 of pod shop/db-1 on node node-2 (key ${key} of ConfigMap kube-system/cni-attach-node-node-2) names: group or others may write /tmp/evil (mode 0777); anyone who may write ConfigMaps in its namespace can write a record, so its path is used only where none but root or the user the plugins run as may change it; nothing was run`;
    for (const dry of [['--dry-run'], []]) {
      expect(await w.cli(gcCommand, dry)).toBe(2);
      expect(w.stderr()).toContain(refusal);
      expect(w.stderr()).toContain('if you trust it, give it yourself: `kubectl cni-detach db-1 -n shop --ifname net1 --cni-path /tmp/evil`\n');
      expect(w.stdout()).toMatch(/, 1 could not be freed\n$/);
    }
    expect(node2.calls).toEqual([]);
    expect(node2.files.has(`/var/lib/cni/results/net-${'c'.repeat(64)}-net1`)).toBe(true);
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
    // given by the user: trusted as typed
    expect(await w.cli(gcCommand, ['--cni-path', '/tmp/evil'])).toBe(0);
    expect(node2.calls.map((c) => c.command)).toEqual(['DEL']);
  });

  it('on a node reached by commands the trust facts ride on the node\'s first round trip: a record\'s path costs gc no round trip more than the same path given', async () => {
    const trips = async (trusted: boolean, given: string[]) => {
      const { w, node2 } = await goneOnNode2((n) => new BatchingExecutor(new ShellNode(n.emulateShell())));
      if (trusted) node2.modes.set('/tmp/evil', { uid: 0, mode: 0o40755 });
      const before = node2.ran.length;
      expect(await w.cli(gcCommand, given), w.stderr()).toBe(0);
      expect(node2.calls.filter((c) => c.command === 'DEL')).toHaveLength(1);
      return node2.ran.length - before;
    };
    expect(await trips(true, [])).toBe(await trips(false, ['--cni-path', '/tmp/evil']));
    // and refused there as on a node reached directly
    const { w, node2 } = await goneOnNode2((n) => new BatchingExecutor(new ShellNode(n.emulateShell())));
    expect(await w.cli(gcCommand, [])).toBe(2);
    expect(w.stderr()).toContain('names: group or others may write /tmp/evil (mode 0777) on node node-2; ');
    expect(node2.calls).toEqual([]);
  });
});

describe('a record\'s cache dir (--cache-dir) is offered only where its node trusts it', () => {
  /** A gone pod's attachment on node-2 in /tmp/evil (anyone may write it there), its record naming that cache dir. */
  async function inEvilCache(reach: (node2: FakeExecutor) => Executor) {
    const w = world();
    w.deps.hostname = () => 'laptop';
    const node2 = new FakeExecutor();
    node2.addPlugin('/opt/cni/bin/bridge', () => ({}));
    node2.modes.set('/tmp', { uid: 0, mode: 0o41777 });
    node2.modes.set('/tmp/evil', { uid: 1000, mode: 0o40777 });
    node2.files.set(`/tmp/evil/results/net-${'c'.repeat(64)}-net1`, JSON.stringify(entryOf('c'.repeat(64), 'db-1', 'uid-db')));
    const exec = reach(node2);
    w.runtime.nodeExecutor = async (n: string) => (n === 'node-2' ? exec : undefined);
    await addRecord(w.kube, 'kube-system', attachmentRecord({ namespace: 'shop', pod: 'db-1', uid: 'uid-db', node: 'node-2', ifname: 'net1', network: 'net', containerId: 'c'.repeat(64), cacheDir: '/tmp/evil' }, { result: {} }));
    return { w, node2 };
  }

  it('cni-detach that finds nothing in the default: names the record\'s dir, and offers --cache-dir only once its node trusts it — reached directly and by commands', async () => {
    const ways: [string, (n: FakeExecutor) => Executor][] = [['fake node', (n) => n], ['node node-2', (n) => new BatchingExecutor(new ShellNode(n.emulateShell()))]];
    for (const [where, reach] of ways) {
      const { w, node2 } = await inEvilCache(reach);
      expect(await w.cli(detachCommand, ['db-1', '-n', 'shop', '--ifname', 'net1'])).toBe(3);
      // before: "… attached with --cache-dir /tmp/evil: give --cache-dir /tmp/evil", unchecked
      expect(w.stderr()).toContain(`the cluster records net1 attached with cache dir /tmp/evil, which is not offered: a record is not your word, and /tmp/evil belongs to uid 1000, neither to root nor to uid 0, who runs the plugins on ${where}\n`);
      expect(w.stderr()).not.toContain('--cache-dir');
      expect(node2.calls).toEqual([]);
      node2.modes.set('/tmp/evil', { uid: 0, mode: 0o40755 });
      expect(await w.cli(detachCommand, ['db-1', '-n', 'shop', '--ifname', 'net1'])).toBe(3);
      expect(w.stderr()).toContain(`the cluster records net1 attached with cache dir /tmp/evil (trusted on ${where}: owned by root or you, not writable by others): \`kubectl cni-detach db-1 -n shop --ifname net1 --cache-dir /tmp/evil\` detaches it there\n`);
      // offered, never used: only the user's flag reads it
      expect(node2.calls).toEqual([]);
      expect(await w.cli(detachCommand, ['db-1', '-n', 'shop', '--ifname', 'net1', '--cache-dir', '/tmp/evil'])).toBe(0);
      expect(node2.calls.map((c) => c.command)).toEqual(['DEL']);
    }
  });
});

/** A node reached by commands whose sh is a fake's emulation. */
class ShellNode extends ShellExecutor {
  readonly where = 'node node-2';
  readonly elsewhere = 'node node-2';
  constructor(readonly node: FakeExecutor) {
    super();
  }
  run(argv: string[], opts?: RunOptions): Promise<RunResult> {
    return this.node.run(argv, opts);
  }
}
