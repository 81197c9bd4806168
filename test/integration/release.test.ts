/**
 * The release (scripts/release.mjs) and the npm package, as users install them:
 * - the archives: only regular files (krew unpacks nothing else), the Apache-2.0 LICENSE, the size limit;
 * - the krew manifests, checked against krew's rules (test/helpers/krew.ts) and against the archives;
 * - the amd64 executable unpacked into a temp dir and run with no Node.js reachable (a private mount namespace where
 *   every node binary is covered by /dev/null): --help, and a real netns attach + detach with the bridge plugin;
 *   it writes nothing into its directory nor into the user's cache (its shipped code caches are accepted);
 * - -v stack traces name the sources (src/…ts:line:col), from the executable and from the npm launcher;
 * - `npm pack` installed with `npm i -g` into a temp prefix: the commands run, and a code cache V8 would reject goes
 *   to the user's cache directory, never into the install.
 *
 * SLOW (about 2–4 minutes, most of it in beforeAll: the release of dist/bundle as the suite built it, two
 * executables and their archives; the Node packages are kept in node_modules/.cache/cni-attach-node, so only the first run fetches them).
 * Addresses: 198.18.14.0/24.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeConf, writeConf } from '../helpers/confs.js';
import { CNI_DIR, ROOT } from '../helpers/env.js';
import { validateKrewPlugin } from '../helpers/krew.js';
import { useLab } from '../helpers/lab.js';
import { linkExists, netnsPath } from '../helpers/net.js';

const lab = useLab('rx');
const VERSION = 'v9.9.9';
const URL_BASE = 'https://example.invalid/downloads';
const HOMEPAGE = 'https://example.invalid/cni-attach';
const COMMANDS = ['attach', 'detach', 'check', 'list', 'gc'];
const archiveName = (platform: string) => `cni-attach-${VERSION}-${platform}.tar.gz`;
const sha256 = async (f: string) => createHash('sha256').update(await readFile(f)).digest('hex');

let out: string;
const dirs: string[] = [];
const tempDir = async (what: string) => {
  const d = await mkdtemp(join(tmpdir(), `cni-attach-${what}-`));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  out = await tempDir('release');
  await execa('node', [join(ROOT, 'scripts/release.mjs'), '--version', VERSION, '--url-base', URL_BASE, '--homepage', HOMEPAGE, '--out', out, '--no-build'], { cwd: ROOT });
}, 400_000);
afterAll(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** Every file under dir with its size and mtime, to see that a run changed nothing there. */
async function listing(dir: string): Promise<string[]> {
  const rows: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const p = join(e.parentPath, e.name);
    const s = await stat(p).catch(() => undefined);
    rows.push(`${p} ${s?.size} ${s?.mtimeMs}`);
  }
  return rows.sort();
}

async function unpack(platform: string): Promise<string> {
  const dir = await tempDir('unpacked');
  await execa('tar', ['-xzf', join(out, archiveName(platform)), '-C', dir]);
  return dir;
}

/**
 * Runs argv in a private mount namespace where every node binary this machine has (on PATH, /usr/bin, /usr/local/bin,
 * this test's own) is covered by /dev/null, with a PATH of system directories only: first proves that `node` cannot
 * start there (exit 126 or 127), then runs the command.
 */
async function withoutNode(argv: string[], env: Record<string, string>) {
  const nodes = new Set<string>([process.execPath]);
  for (const d of [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/local/bin', '/bin']) {
    const p = join(d, 'node');
    if (await stat(p).then((s) => s.isFile(), () => false)) nodes.add(p);
  }
  const script = `for f in "$@"; do case "$f" in --) shift; break;; esac; mount --bind /dev/null "$f" || exit 90; shift; done
node -e 0 >/dev/null 2>&1; rc=$?; if [ $rc -ne 126 ] && [ $rc -ne 127 ]; then echo "node still runs (exit $rc)" >&2; exit 91; fi
exec "$@"`;
  return execa('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', ...nodes, '--', ...argv], {
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...env },
    extendEnv: false,
    reject: false,
    cwd: tmpdir(),
  });
}

describe('release archives', () => {
  it('holds one executable, LICENSE (Apache-2.0), LICENSE.nodejs, README.md and deploy/rbac.yaml, regular files only, within 60 MiB', async () => {
    for (const platform of ['linux-amd64', 'linux-arm64']) {
      const list = await execa('tar', ['-tvzf', join(out, archiveName(platform))]);
      const rows = list.stdout.trim().split('\n');
      // krew's tar extractor takes regular files and directories only: no symlinks (l), no hard links (h)
      expect(rows.map((r) => r[0]), list.stdout).toEqual(['-', '-', '-', '-', '-']);
      expect(rows.map((r) => r.split(/\s+/).pop()).sort()).toEqual(['LICENSE', 'LICENSE.nodejs', 'README.md', 'cni-attach', 'deploy/rbac.yaml']);
      expect(rows.find((r) => r.endsWith(' cni-attach'))).toMatch(/^-rwxr-xr-x/);
    }
    const dir = await unpack('linux-amd64');
    const license = await readFile(join(dir, 'LICENSE'), 'utf8');
    expect(license).toBe(await readFile(join(ROOT, 'LICENSE'), 'utf8'));
    expect(license).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
    expect(license).toContain('END OF TERMS AND CONDITIONS');
    expect(createHash('md5').update(license).digest('hex')).toBe('3b83ef96387f14655fc854ddc3c6bd57'); // apache.org's LICENSE-2.0.txt
    expect(await readFile(join(dir, 'LICENSE.nodejs'), 'utf8')).toMatch(/^Node\.js is licensed for use as follows/);
    // the RBAC the error messages name ("see deploy/rbac.yaml")
    expect(await readFile(join(dir, 'deploy/rbac.yaml'), 'utf8')).toBe(await readFile(join(ROOT, 'deploy/rbac.yaml'), 'utf8'));
    expect((await stat(join(out, archiveName('linux-amd64')))).size).toBeLessThanOrEqual(60 * 2 ** 20);
    expect((await stat(join(out, archiveName('linux-arm64')))).size).toBeLessThanOrEqual(60 * 2 ** 20);
  });

  it('has five krew manifests that follow krew’s rules and point at the archives with their sha256', async () => {
    expect((await readdir(join(out, 'krew'))).sort()).toEqual(COMMANDS.map((c) => `cni-${c}.yaml`).sort());
    const shas = { amd64: await sha256(join(out, archiveName('linux-amd64'))), arm64: await sha256(join(out, archiveName('linux-arm64'))) };
    for (const cmd of COMMANDS) {
      const m = yaml.load(await readFile(join(out, 'krew', `cni-${cmd}.yaml`), 'utf8')) as {
        spec: { version: string; homepage: string; shortDescription: string; caveats: string; platforms: { selector: { matchLabels: Record<string, string> }; uri: string; sha256: string; bin: string; files: { from: string; to: string }[] }[] };
      };
      expect(validateKrewPlugin(`cni-${cmd}`, m), cmd).toEqual([]);
      expect(m.spec.version).toBe(VERSION);
      expect(m.spec.homepage).toBe(HOMEPAGE);
      expect(m.spec.caveats).toMatch(/root/);
      expect(m.spec.caveats).toMatch(/CNI plugins/);
      expect(m.spec.caveats).toMatch(/kubeconfig/);
      expect(m.spec.platforms.map((p) => p.selector.matchLabels)).toEqual([
        { os: 'linux', arch: 'amd64' },
        { os: 'linux', arch: 'arm64' },
      ]);
      for (const p of m.spec.platforms) {
        const arch = p.selector.matchLabels.arch as 'amd64' | 'arm64';
        expect(p.uri).toBe(`${URL_BASE}/${archiveName(`linux-${arch}`)}`);
        expect(p.sha256).toBe(shas[arch]);
        expect(p.bin).toBe('cni-attach');
        expect(p.files.map((f) => f.from)).toEqual(['cni-attach', 'LICENSE', 'LICENSE.nodejs', 'deploy/rbac.yaml']); // all in the archive (above), both licences kept (krew's checklist)
      }
    }
  });
});

describe('the amd64 executable, with no Node.js reachable', () => {
  it('prints --help, attaches and detaches a bridge interface in a netns, reports an unreachable cluster (no DEP0169), writing nothing beside itself', async () => {
    const dir = await unpack('linux-amd64');
    // the names krew's links (or `ln -s` by hand, as the archive's README says) give the one executable
    for (const c of COMMANDS) await symlink('cni-attach', join(dir, `kubectl-cni_${c}`));
    // and kubectl's plugin completion names (kubectl ≥ 1.26 runs kubectl_complete-cni_<command> for <TAB>)
    for (const c of COMMANDS) await symlink('cni-attach', join(dir, `kubectl_complete-cni_${c}`));
    const home = await tempDir('home');
    const env = { HOME: home };
    const before = await listing(dir);

    const help = await withoutNode([join(dir, 'kubectl-cni_attach'), '--help'], env);
    expect(help.exitCode, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: kubectl cni-attach/);
    expect(help.stderr).toBe('');
    const multi = await withoutNode([join(dir, 'cni-attach'), 'list', '--help'], env);
    expect(multi.exitCode, multi.stderr).toBe(0);
    expect(multi.stdout).toMatch(/^Usage: kubectl cni-list/);
    // one --version line under every name (the bare executable printed just "v0.1.0")
    const versions = await Promise.all([['cni-attach'], ['kubectl-cni_gc'], ['cni-attach', 'check']].map(async ([n, ...a]) => (await withoutNode([join(dir, n!), ...a, '--version'], env)).stdout));
    // the release's version, not package.json's that the bundles inside were built with (tryout: v0.1.0-try's
    // executable said v0.1.0)
    expect(versions[0]).toMatch(new RegExp(`^cni-attach ${VERSION.replaceAll('.', '\\.')} \\(linux/amd64, node v\\d+\\.\\d+\\.\\d+\\)$`));
    expect(versions).toEqual([versions[0], versions[0], versions[0]]);
    const none = await withoutNode([join(dir, 'cni-attach')], env);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('error: no command');
    // under a name it does not answer to: it says which (was the usage and "error: no command" alone)
    await symlink('cni-attach', join(dir, 'kubectl-cni_foo'));
    const foo = await withoutNode([join(dir, 'kubectl-cni_foo')], env);
    expect(foo.exitCode).toBe(2);
    expect(foo.stderr).toMatch(/^error: started as kubectl-cni_foo: not one of kubectl-cni_attach, kubectl_complete-cni_attach, kubectl-cni_detach, .*kubectl_complete-cni_gc; and no command \(give one as cni-attach COMMAND, or start it under one of those names\)$/m);
    const fooList = await withoutNode([join(dir, 'kubectl-cni_foo'), 'list', '--help'], env);
    expect([fooList.exitCode, fooList.stdout], fooList.stderr).toEqual([0, expect.stringMatching(/^Usage: kubectl cni-list/)]);
    await rm(join(dir, 'kubectl-cni_foo')); // the test's own link: the listing below is of what the executable wrote
    const complete = await withoutNode([join(dir, 'kubectl_complete-cni_list'), '-o', 'j'], env);
    expect([complete.exitCode, complete.stdout], complete.stderr).toEqual([0, 'json\njsonpath=\n:4']);
    const flags = await withoutNode([join(dir, 'cni-attach'), 'complete', 'detach', 'web-1', '--ifn'], env);
    expect(flags.stdout, flags.stderr).toMatch(/^--ifname\t.*\n:4$/);

    const ws = await lab.workspace();
    const ns = await lab.netns();
    const conf = await writeConf(ws.dir, 'net.json', bridgeConf({ name: lab.name('k'), bridge: lab.bridge(), subnet: '198.18.14.0/24', dataDir: ws.dataDir }));
    const add = await withoutNode([join(dir, 'kubectl-cni_attach'), ...lab.args(ws, ns, 'eth1', conf, CNI_DIR)], env);
    expect(add.exitCode, add.stderr).toBe(0);
    expect(add.stdout).toContain(`eth1 attached to netns ${netnsPath(ns)}`);
    expect(await linkExists('eth1', ns)).toBe(true);
    const del = await withoutNode([join(dir, 'kubectl-cni_detach'), ...lab.args(ws, ns, 'eth1', undefined, CNI_DIR)], env);
    expect(del.exitCode, del.stderr).toBe(0);
    expect(await linkExists('eth1', ns)).toBe(false);

    // the pod path loads client-node, whose HTTP client calls url.parse(): Node 26 warns DEP0169 unless the launcher
    // drops that warning; the API server here refuses at once (exit 4, unreachable), with one error line and no warning
    const kubeconfig = join(ws.dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      yaml.dump({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: 'default' } }],
        'current-context': 'x',
      }),
    );
    const pod = await withoutNode([join(dir, 'kubectl-cni_attach'), 'web-1', '--ifname', 'eth1', '--conf', conf, '--kubeconfig', kubeconfig], env);
    expect(pod.exitCode, pod.stderr).toBe(4);
    expect(pod.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: pod default\/web-1: cannot reach the API server at https:\/\/127\.0\.0\.1:1/)]);

    expect(await listing(dir)).toEqual(before);
    // its shipped code caches were accepted: no cache had to be made in the user's cache directory either
    expect(await readdir(home, { recursive: true })).toEqual([]);
  });
});

describe('-v stack traces', () => {
  it('name the source files and lines, from the executable and from the npm launcher', async () => {
    const dir = await unpack('linux-amd64');
    const tmp = await tempDir('stack');
    const conf = await writeConf(tmp, 'bad.json', '{}');
    const args = ['--netns', '/proc/self/ns/net', '--ifname', 'eth9', '--conf', conf, '-v'];
    const lineOf = async (file: string, text: string) => (await readFile(join(ROOT, file), 'utf8')).split('\n').findIndex((l) => l.includes(text)) + 1;
    const throwLine = await lineOf('src/cni/conf.ts', 'missing "cniVersion"');
    for (const argv of [[join(dir, 'cni-attach'), 'attach', ...args], [join(ROOT, 'bin/kubectl-cni_attach'), ...args]]) {
      const r = await execa(argv[0]!, argv.slice(1), { reject: false, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp }, extendEnv: false });
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^UsageError: .*missing "cniVersion"$/m);
      expect(r.stderr).toMatch(new RegExp(`^ {4}at pickVersion \\(src/cni/conf\\.ts:${throwLine}:\\d+\\)$`, 'm'));
      expect(r.stderr).toMatch(/^ {4}at async main \(src\/cli\/main\.ts:\d+:\d+\)$/m);
      expect(r.stderr).not.toMatch(/dist\/bundle|bundle\.new|cni-attach:/);
    }
  });
});

describe('the npm package', () => {
  it('installs with npm i -g from npm pack, runs, and keeps run-time caches out of the install', async () => {
    const tmp = await tempDir('npm');
    // --ignore-scripts: no `prepare` build, which would replace dist/bundle under the other tests running now; the
    // package is the build the release used
    const packed = await execa('npm', ['pack', '--pack-destination', tmp, '--silent', '--ignore-scripts'], { cwd: ROOT });
    const tgz = join(tmp, packed.stdout.trim().split('\n').pop()!);
    const prefix = join(tmp, 'prefix');
    await execa('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tgz], { cwd: tmp });
    const pkgDir = join(prefix, 'lib/node_modules/cni-attach');
    expect((await readdir(pkgDir)).sort()).toContain('LICENSE');
    // a shipped cache V8 would not take (as with another Node version): its header no longer matches the file
    await writeFile(join(pkgDir, 'dist/bundle/attach.js.cache'), 'not a code cache');
    const before = await listing(pkgDir);
    const xdg = join(tmp, 'xdg');
    const env = { PATH: `${join(prefix, 'bin')}:${process.env.PATH}`, HOME: tmp, XDG_CACHE_HOME: xdg };
    const r = await execa('kubectl-cni_attach', ['--help'], { env, extendEnv: false, reject: false, cwd: tmp });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage: kubectl cni-attach/);
    expect(await listing(pkgDir)).toEqual(before);
    const hash = (JSON.parse(await readFile(join(pkgDir, 'dist/bundle/manifest.json'), 'utf8')) as { files: Record<string, string> }).files['attach.js'];
    const made = await readdir(join(xdg, 'cni-attach/code-cache', `${process.version}-${process.arch}`));
    expect(made).toEqual([`${hash}.cache`]);
    // a cache directory that cannot be made (its parent is a file) costs only the compile time
    await mkdir(join(tmp, 'ro'));
    await writeFile(join(tmp, 'ro/file'), '');
    const r2 = await execa('kubectl-cni_list', ['--help'], { env: { ...env, XDG_CACHE_HOME: join(tmp, 'ro/file/xdg') }, extendEnv: false, reject: false, cwd: tmp });
    expect(r2.exitCode, r2.stderr).toBe(0);
    expect(r2.stdout).toMatch(/^Usage: kubectl cni-list/);
  }, 240_000);
});

describe('scripts/release.mjs flags', () => {
  it('prints its usage for --help, and exits 2 with a message (no stack trace) on bad flags', async () => {
    const release = (args: string[]) => execa('node', [join(ROOT, 'scripts/release.mjs'), ...args], { reject: false });
    const help = await release(['--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^usage: npm run release -- --version vX\.Y\.Z/);
    for (const [args, message] of [
      [['--bogus'], /Unknown option '--bogus'/],
      [[], /--version is required/],
      [['--version', '1.2.3'], /not a semantic version with a leading v/],
      [['--version', 'v1.2.3', '--platform', 'darwin-arm64'], /--platform darwin-arm64: not one of linux-amd64, linux-arm64/],
      [['--version', 'v1.2.3', '--url-base', 'ftp://x'], /not an http\(s\) URL/],
    ] as [string[], RegExp][]) {
      const r = await release(args);
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });
});
