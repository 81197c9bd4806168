// The commands' start-up (BENCHMARKS.md has the measurements behind each choice):
//
// - One CommonJS bundle per command (esbuild, minified, tree-shaken): dist/bundle/<command>.js. Modules that src
//   imports lazily (import()) stay lazy: esbuild turns each into an init function run on first use.
// - What only the pod path needs, @kubernetes/client-node and dockerode (most of the bytes), lives in its own file,
//   dist/bundle/vendor/<name>.js, required when that path first imports it. Parts of dockerode cni-attach never
//   reaches are replaced by stubs (see STUBS).
// - bin/load-bundle.cjs compiles every file of dist/bundle with V8's code cache kept beside it (<file>.cache). The
//   caches are made here, by running each command once on something harmless (scripts/warm-up.mjs); where V8
//   rejects one (another Node version) the loader makes one in the user's cache directory, never in dist/bundle.
// - manifest.json holds each file's sha256 (the key of its caches); the source maps name the sources by their
//   repository paths, without their text (bin/load-bundle.cjs maps -v stack traces with them).
//
// dist/bundle/package.json says "commonjs" (the package itself is "type": "module"). The new bundle is built and
// warmed up in a directory of its own, then put in place with two renames: a command (or a test) running during a
// build finds the old bundle or the new one, never half of one.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCodeCaches } from './warm-up.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const FINAL = join(DIST, 'bundle');
const COMMANDS = {
  attach: 'src/cli/attach.ts', detach: 'src/cli/detach.ts', check: 'src/cli/check.ts', list: 'src/cli/list.ts', gc: 'src/cli/gc.ts',
  // kubectl_complete-cni_*: kubectl's plugin completion (src/cli/complete.ts)
  complete: 'src/cli/complete.ts',
};
// the version src/cli/version.ts reports (--version, the User-Agent)
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
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
  keepNames: true,
  sourcemap: true,
  legalComments: 'linked',
  // import() of a bundled module becomes an init function run on first use (nothing is evaluated before a path needs it)
  supported: { 'dynamic-import': false },
  logLevel: 'warning',
  define: { __CNI_ATTACH_VERSION__: JSON.stringify(version) },
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

// The manifest (manifest.json: each file's sha256, which keys its code caches) and the source maps. A map keeps
// what turns a bundle position into a source position (bin/load-bundle.cjs maps -v stack traces with it): its sources
// become repository paths (src/cli/attach.ts, node_modules/…), and the sources' text is dropped (megabytes nobody
// reads at run time; the repository has it).
function finish(out) {
  const hashes = {};
  const walk = (rel) => {
    for (const e of readdirSync(join(out, rel), { withFileTypes: true })) {
      const f = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(f);
      else if (f.endsWith('.js')) hashes[f] = createHash('sha256').update(readFileSync(join(out, f))).digest('hex');
      else if (f.endsWith('.js.map')) {
        const m = JSON.parse(readFileSync(join(out, f), 'utf8'));
        m.sources = m.sources.map((src) => relative(ROOT, resolve(dirname(join(FINAL, f)), src)).split(sep).join('/'));
        delete m.sourcesContent;
        writeFileSync(join(out, f), JSON.stringify(m));
      }
    }
  };
  walk('');
  writeFileSync(join(out, 'manifest.json'), `${JSON.stringify({ files: hashes }, null, 1)}\n`);
  return hashes;
}

// The npm package's code caches, made with the Node that builds (scripts/warm-up.mjs).
function warmUp(out, hashes) {
  const loader = JSON.stringify(join(ROOT, 'bin/load-bundle.cjs'));
  const caches = makeCodeCaches({
    hashes,
    env: { CNI_ATTACH_BUNDLE_DIR: out },
    command: (c) => [process.execPath, join(ROOT, c === 'complete' ? 'bin/kubectl_complete-cni_attach' : `bin/kubectl-cni_${c}`)],
    vendor: (file, tmp) => [process.execPath, '-e', `const l = require(${loader}); l.warmUpVendor(l.load, ${JSON.stringify(file)}, ${JSON.stringify(tmp)});`],
    warn: (m) => process.stderr.write(`bundle: ${m}\n`),
  });
  for (const [file, data] of caches) writeFileSync(join(out, `${file}.cache`), data);
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
  warmUp(out, finish(out));
  if (existsSync(FINAL)) renameSync(FINAL, old);
  renameSync(out, FINAL);
} finally {
  rmSync(out, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}
