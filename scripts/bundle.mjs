// The commands' start-up (BENCHMARKS.md has the measurements behind each choice):
//
// - One CommonJS bundle per command (esbuild, minified, tree-shaken): dist/bundle/<command>.js. Modules that src
//   imports lazily (import()) stay lazy: esbuild turns each into an init function run on first use.
// - What only the pod path needs, @kubernetes/client-node and dockerode (most of the bytes), lives in its own file,
//   dist/bundle/vendor/<name>.js, required when that path first imports it. Parts of dockerode cni-attach never
//   reaches are replaced by stubs (see STUBS).
// - bin/load-bundle.cjs compiles every file of dist/bundle with V8's code cache kept beside it (<file>.cache). The
//   caches are made here, by running each command once on something harmless; the loader remakes a cache that is
//   missing or that V8 rejects (another Node version) at the end of a run.
//
// dist/bundle/package.json says "commonjs" (the package itself is "type": "module"). The new bundle is built and
// warmed up in a directory of its own, then put in place with two renames: a command (or a test) running during a
// build finds the old bundle or the new one, never half of one.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const FINAL = join(DIST, 'bundle');
const COMMANDS = { attach: 'src/cli/attach.ts', detach: 'src/cli/detach.ts', check: 'src/cli/check.ts', list: 'src/cli/list.ts', gc: 'src/cli/gc.ts' };
// import specifier → vendor file; each is built from its own entry (src/resolve/k8s-client.ts re-exports only the
// parts of client-node the tool uses, so tree-shaking drops the rest of the library)
const VENDOR = { './k8s-client.js': 'client-node', dockerode: 'dockerode' };
const VENDOR_ENTRY = {
  'client-node': { entryPoints: ['src/resolve/k8s-client.ts'] },
  dockerode: { stdin: { contents: 'module.exports = require("dockerode");', resolveDir: ROOT, sourcefile: 'vendor-dockerode.js' } },
};
// dockerode's ssh:// transport (ssh2 and its native addons: src/resolve/docker.ts accepts only unix:// and tcp://
// hosts) and BuildKit sessions (gRPC, for buildImage): loaded with dockerode, never used by cni-attach. Each becomes
// a stub that throws a clear error if it ever is used; together they were a third of every pod attach's load time.
const STUBS = ['ssh2', '@grpc/grpc-js', '@grpc/proto-loader'];

// node-fetch 2 (client-node's HTTP client) loads whatwg-url, and with it tr46's Unicode tables (a third of the
// client-node vendor file, parsed on every pod attach), only to fall back on it where Node has no URL class
// (`Url.URL || whatwgUrl.URL`); Node 20 has one. The alias hands out Node's own WHATWG URL instead.
const ALIASES = { 'whatwg-url': 'module.exports = { URL: globalThis.URL, URLSearchParams: globalThis.URLSearchParams };' };

const exact = (names) => new RegExp(`^(${names.map((n) => n.replace(/[/.]/g, '\\$&')).join('|')})$`);

const common = {
  absWorkingDir: ROOT,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  // import() of a bundled module becomes an init function run on first use (nothing is evaluated before a path needs it)
  supported: { 'dynamic-import': false },
  logLevel: 'warning',
};

// Node modules required when first used instead of when the bundle loads, for `--help` and whatever else never
// needs them: commander requires node:child_process only to run executable subcommands (cni-attach has none), and
// src needs node:net only for isIP; loading them also loads net and stream, a few milliseconds of every `--help`.
// commander (CommonJS) reads the module's properties when it calls them, so a proxy serves them; src's named imports
// are copied when its module initialises, so each name it uses becomes a function that loads the module when called
// (a name not listed here is missing from the bundle's node:net, which its tests would show at once).
const LAZY_BUILTINS = [
  { module: 'node:child_process', importer: /[\\/]node_modules[\\/]commander[\\/]/ },
  { module: 'node:net', importer: /[\\/]src[\\/]/, names: ['isIP', 'isIPv4', 'isIPv6'] },
];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: exact(LAZY_BUILTINS.map((l) => l.module)) }, (a) => {
      const i = LAZY_BUILTINS.findIndex((l) => l.module === a.path && l.importer.test(a.importer));
      return i < 0 ? undefined : { path: `${a.path}#${i}`, namespace: 'lazy' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, (a) => {
      const l = LAZY_BUILTINS[Number(a.path.split('#')[1])];
      const load = `let m; const load = () => (m ??= require(${JSON.stringify(l.module)}));`;
      const exports = l.names
        ? `module.exports = { ${l.names.map((n) => `${n}: (...a) => load().${n}(...a)`).join(', ')} };`
        : 'module.exports = new Proxy({}, { get: (_, k) => load()[k] });';
      return { loader: 'js', contents: `${load}\n${exports}` };
    });
  },
};

const vendor = {
  name: 'vendor',
  setup(b) {
    b.onResolve({ filter: exact(Object.keys(VENDOR)) }, (a) => ({ path: `./vendor/${VENDOR[a.path]}.js`, external: true }));
  },
};

const stubs = {
  name: 'stubs',
  setup(b) {
    b.onResolve({ filter: exact(STUBS) }, (a) => ({ path: a.path, namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, (a) => ({
      loader: 'js',
      contents: `const fail = () => { throw new Error(${JSON.stringify(`${a.path} is not part of cni-attach's bundle (scripts/bundle.mjs): Docker over ssh:// and BuildKit sessions are not supported`)}); };
const stub = new Proxy(function () {}, { get: (_, k) => (k === '__esModule' || k === 'then' ? undefined : stub), apply: fail, construct: fail });
module.exports = stub;`,
    }));
  },
};

const aliases = {
  name: 'aliases',
  setup(b) {
    b.onResolve({ filter: exact(Object.keys(ALIASES)) }, (a) => ({ path: a.path, namespace: 'alias' }));
    b.onLoad({ filter: /.*/, namespace: 'alias' }, (a) => ({ loader: 'js', contents: ALIASES[a.path] }));
  },
};

async function bundle(out) {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n');
  await build({ ...common, entryPoints: COMMANDS, outdir: out, plugins: [vendor, lazyBuiltins] });
  for (const name of Object.values(VENDOR)) {
    await build({ ...common, ...VENDOR_ENTRY[name], outfile: join(out, 'vendor', `${name}.js`), plugins: [stubs, aliases] });
  }
}

// Code caches. V8 caches what a run has compiled, so each file is warmed up by doing what it is there for, without
// touching the host: a --dry-run attach, a detach and a check of nothing, in a temp dir; list and gc without a
// cluster; client-node building a request and dockerode listing containers, against addresses that refuse at once
// (these two last: of several runs that load a file, the last one writes its cache). A warm-up that fails only
// makes a cache smaller.
function warmUp(out) {
  const tmp = mkdtempSync(join(tmpdir(), 'cni-attach-bundle-'));
  try {
    mkdirSync(join(tmp, 'plugins'));
    writeFileSync(join(tmp, 'plugins/bridge'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    writeFileSync(join(tmp, 'net.json'), JSON.stringify({ cniVersion: '1.0.0', name: 'warm-up', type: 'bridge', ipam: { type: 'host-local', subnet: '198.18.255.0/24' } }));
    const env = {
      PATH: process.env.PATH,
      HOME: tmp,
      CNI_ATTACH_CODE_CACHE: 'write',
      CNI_ATTACH_BUNDLE_DIR: out,
      KUBECONFIG: join(tmp, 'no-kubeconfig'),
      DOCKER_HOST: `unix://${join(tmp, 'no-docker.sock')}`,
    };
    const bin = (c) => join(ROOT, `bin/kubectl-cni_${c}`);
    const netns = ['--netns', '/proc/self/ns/net', '--ifname', 'warm0', '--cache-dir', join(tmp, 'cache'), '--cni-path', join(tmp, 'plugins')];
    const loader = JSON.stringify(join(ROOT, 'bin/load-bundle.cjs'));
    const runs = [
      [bin('attach'), ...netns, '--conf', join(tmp, 'net.json'), '--dry-run'],
      [bin('detach'), ...netns],
      [bin('check'), ...netns],
      [bin('list'), '--cache-dir', join(tmp, 'cache')],
      [bin('gc'), '--cache-dir', join(tmp, 'cache'), '--cni-path', join(tmp, 'plugins')],
      [
        '-e',
        `const k8s = require(${loader}).load('vendor/client-node.js');
const kc = new k8s.KubeConfig();
kc.loadFromOptions({ clusters: [{ name: 'c', server: 'http://127.0.0.1:1', skipTLSVerify: true }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: 'default' }], currentContext: 'x' });
const core = kc.makeApiClient(k8s.CoreV1Api);
kc.makeApiClient(k8s.CustomObjectsApi);
core.readNamespacedPod({ name: 'p', namespace: 'default' }).catch(() => undefined);`,
      ],
      [
        '-e',
        `const Docker = require(${loader}).load('vendor/dockerode.js');
const d = new Docker({ socketPath: ${JSON.stringify(join(tmp, 'no-docker.sock'))} });
d.listContainers({ all: true, filters: '{}' }).catch(() => undefined).then(() => d.getContainer('x').inspect()).catch(() => undefined);`,
      ],
    ];
    for (const args of runs) {
      const r = spawnSync(process.execPath, args, { env, cwd: tmp, stdio: 'ignore', timeout: 30_000 });
      if (r.error || r.signal) {
        const what = args[0] === '-e' ? 'of a vendor file' : args[0];
        process.stderr.write(`bundle: warning: code cache warm-up ${what} failed (${r.error?.message ?? r.signal}); that cache is made at run time instead\n`);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// directories of builds that died (their pid is gone)
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
};
mkdirSync(DIST, { recursive: true });
for (const d of readdirSync(DIST)) {
  const m = /^bundle\.(new|old)-(\d+)$/.exec(d);
  if (m && !alive(Number(m[2]))) rmSync(join(DIST, d), { recursive: true, force: true });
}

const out = join(DIST, `bundle.new-${process.pid}`);
const old = join(DIST, `bundle.old-${process.pid}`);
try {
  await bundle(out);
  warmUp(out);
  if (existsSync(FINAL)) renameSync(FINAL, old);
  renameSync(out, FINAL);
} finally {
  rmSync(out, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}
