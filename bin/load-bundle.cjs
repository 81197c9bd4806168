'use strict';
// How the commands start, for both installs:
// - npm: bin/kubectl-cni_<command> calls run('<command>'), which loads dist/bundle/<command>.js from the files beside
//   this one (a `fileSource`);
// - the single executable (scripts/sea-main.cjs, built by scripts/release.mjs): the same loader, reading the bundle
//   from the executable's SEA assets (`seaSource` there).
//
// One CommonJS bundle per command (scripts/bundle.mjs); a bundle requires only Node's modules and its vendor files
// (./vendor/<name>.js). Each file is compiled through vm.Script with a V8 code cache, so that a run deserializes
// bytecode instead of parsing and compiling megabytes of JavaScript again (BENCHMARKS.md). Where the cache comes from:
//   1. the one shipped with the build (<file>.cache), made by the build with the Node binary it ships (the release's
//      amd64 executable; the npm package's with the Node that built it);
//   2. else, or when V8 rejects it (another Node version, another CPU architecture: the arm64 executable has none),
//      the user's cache: $XDG_CACHE_HOME/cni-attach/code-cache/<node version>-<arch>/<sha256 of the file>.cache
//      (~/.cache when XDG_CACHE_HOME is unset), written when the process exits, for the next run.
// Nothing is ever written beside the bundle (the install may be read-only or another user's). The user's cache is
// optional: one that cannot be read or written only costs the compile time. A cache file is used only if it is the
// current user's and not writable by others (it is bytecode that runs as this user, often root).
// CNI_ATTACH_CODE_CACHE=off compiles without caches; =write ignores the shipped caches and writes the user's cache
// (the build's warm-up, which also points CNI_ATTACH_BUNDLE_DIR at the bundle it is about to install).
//
// Every file is compiled under a stable name, `cni-attach:dist/bundle/<file>` (a cache remembers the name it was
// made under, so a build directory's path must not leak into it); with -v or --verbose, stack traces are mapped
// through the bundle's source maps to the sources' repository paths and lines (src/cli/attach.ts:42:11).
const Module = require('node:module');
const vm = require('node:vm');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');

const NAME_PREFIX = 'cni-attach:dist/bundle/';

/**
 * Where the code caches of this user live: $XDG_CACHE_HOME (an absolute path, as the XDG Base Directory spec says)
 * or ~/.cache, then cni-attach/code-cache/<node version>-<arch>. undefined when there is no home to put it in.
 */
function userCacheDir(env = process.env) {
  let base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : undefined;
  if (!base) {
    let home = env.HOME;
    try {
      home ||= os.homedir();
    } catch {
      /* no passwd entry */
    }
    if (!home) return undefined;
    base = path.join(home, '.cache');
  }
  return path.join(base, 'cni-attach', 'code-cache', `${process.version}-${process.arch}`);
}

const HASH_BYTES = 32;
/** A cache file: the sha256 of the source it was made from (32 bytes), then V8's data. */
const cacheFile = (hash, data) => Buffer.concat([Buffer.from(hash, 'hex'), data]);
const cacheData = (buf, hash) => (buf && buf.length > HASH_BYTES && buf.subarray(0, HASH_BYTES).equals(Buffer.from(hash, 'hex')) ? buf.subarray(HASH_BYTES) : undefined);

/** A file of the user's cache, if it is safe to run: a regular file of this user's that only this user can write. */
function readOwnFile(file) {
  let fd;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
    const st = fs.fstatSync(fd);
    if (!st.isFile() || (process.geteuid && st.uid !== process.geteuid()) || (st.mode & 0o022) !== 0) return undefined;
    return fs.readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function writeUserCache(dir, hash, data) {
  const file = path.join(dir, `${hash}.cache`);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(tmp, cacheFile(hash, data), { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch {
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* never written */
    }
  }
}

/**
 * Stack traces through the bundle's source maps (module.SourceMap): each frame in a bundle file becomes the source's
 * path (as the build wrote it into the map: relative to the repository) with its line and column, and the function's
 * name (the bundles keep their names: esbuild's keepNames). Frames elsewhere (node:internal) stay as V8 prints them.
 * Maps are parsed when a stack is first printed, never before.
 */
function mapStackTraces(source) {
  const maps = new Map();
  const mapOf = (file) => {
    if (!maps.has(file)) {
      let m;
      try {
        const json = source.map(file);
        m = json ? new Module.SourceMap(JSON.parse(json)) : undefined;
      } catch {
        m = undefined;
      }
      maps.set(file, m);
    }
    return maps.get(file);
  };
  const entry = (m, line, col) => {
    const e = line > 0 && col > 0 ? m.findEntry(line - 1, col - 1) : undefined;
    return e && e.originalSource ? e : undefined;
  };
  const frame = (f) => {
    const name = f.getFileName();
    const m = name && name.startsWith(NAME_PREFIX) ? mapOf(name.slice(NAME_PREFIX.length)) : undefined;
    const at = m && entry(m, f.getLineNumber(), f.getColumnNumber());
    if (!at) return String(f);
    const where = `${at.originalSource}:${at.originalLine + 1}:${at.originalColumn + 1}`;
    const fname = f.getFunctionName();
    const prefix = f.isAsync?.() ? 'async ' : f.isConstructor?.() ? 'new ' : '';
    return fname ? `${prefix}${fname} (${where})` : `${prefix}${where}`;
  };
  Error.prepareStackTrace = (err, frames) => {
    let head;
    try {
      head = Error.prototype.toString.call(err);
    } catch {
      head = 'Error';
    }
    return head + frames.map((f) => `\n    at ${frame(f)}`).join('');
  };
}

/**
 * Node 24 and later warn (DEP0169) that url.parse() is deprecated, once per process, when client-node's HTTP client
 * (node-fetch 2) calls it outside node_modules — always in the single executable. Nothing a user can act on: that one
 * warning is dropped, every other warning is printed as before.
 */
function silenceDep0169() {
  const emit = process.emitWarning;
  process.emitWarning = function emitWarning(warning, ...rest) {
    const code = typeof rest[0] === 'object' && rest[0] !== null ? rest[0].code : rest[1];
    if (code === 'DEP0169') return undefined;
    return emit.call(this, warning, ...rest);
  };
}

/**
 * A loader of bundle files from `source`:
 *   read(file) → the file's JavaScript (string); throws if it is missing
 *   hash(file) → the sha256 (hex) of that text, from the build's manifest
 *   cache(file) → the shipped code cache (Buffer) or undefined
 *   map(file) → the source map (JSON text) or undefined
 *   require(id) → a Node module for the bundle's other requires
 * `file` is relative to the bundle's root: 'attach.js', 'vendor/client-node.js'. Returns { load(file) → exports }.
 */
function createLoader(source) {
  const mode = process.env.CNI_ATTACH_CODE_CACHE;
  const userDir = mode === 'off' ? undefined : userCacheDir();
  const modules = new Map();
  const toWrite = [];

  function compile(file, code) {
    const filename = NAME_PREFIX + file;
    if (mode === 'off') return new vm.Script(code, { filename, importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER });
    const hash = source.hash(file);
    const tries = [mode === 'write' ? undefined : () => cacheData(source.cache(file), hash), () => userDir && hash && cacheData(readOwnFile(path.join(userDir, `${hash}.cache`)), hash)];
    for (const get of tries) {
      const cachedData = get?.();
      if (!cachedData) continue;
      const script = new vm.Script(code, { filename, cachedData, importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER });
      if (!script.cachedDataRejected) return script;
    }
    const script = new vm.Script(code, { filename, importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER });
    if (userDir && hash) {
      if (toWrite.length === 0) process.once('exit', () => toWrite.splice(0).forEach((w) => writeUserCache(userDir, w.hash, w.script.createCachedData())));
      toWrite.push({ script, hash });
    }
    return script;
  }

  function load(file) {
    const known = modules.get(file);
    if (known) return known.exports;
    const mod = { exports: {}, id: file, filename: NAME_PREFIX + file, loaded: false, children: [], paths: [] };
    modules.set(file, mod);
    const dir = path.posix.dirname(file);
    const require = (id) => (id.startsWith('./') || id.startsWith('../') ? load(path.posix.join(dir, id)) : source.require(id));
    require.resolve = (id) => id;
    require.cache = Object.create(null);
    const fn = compile(file, Module.wrap(source.read(file))).runInThisContext({ displayErrors: true });
    fn.call(mod.exports, mod.exports, require, mod, mod.filename, path.posix.dirname(mod.filename));
    mod.loaded = true;
    return mod.exports;
  }
  return { load };
}

/** The bundle of an npm install (or a checkout): dist/bundle beside bin/, its manifest written by scripts/bundle.mjs. */
function fileSource(dir) {
  let manifest;
  const hashes = () => {
    try {
      manifest ??= JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).files ?? {};
    } catch {
      manifest = {};
    }
    return manifest;
  };
  const readOpt = (f, enc) => {
    try {
      return fs.readFileSync(path.join(dir, f), enc);
    } catch {
      return undefined;
    }
  };
  const req = Module.createRequire(path.join(dir, 'package.json'));
  return {
    read: (file) => fs.readFileSync(path.join(dir, file), 'utf8'),
    hash: (file) => hashes()[file],
    cache: (file) => readOpt(`${file}.cache`),
    map: (file) => readOpt(`${file}.map`, 'utf8'),
    require: req,
  };
}

/**
 * Node 20 builds its TLS root store (~140 bundled certificates, parsed one by one) the first time a process makes any
 * TLS context, also one that trusts only the kubeconfig's CA: 40–60 ms of main-thread CPU in every command that
 * talks to a cluster (BENCHMARKS.md). The store is shared by the whole process, so a worker thread started here
 * builds it on another core while the main thread loads the command and client-node; the first connection then
 * finds it built. Only for command lines that reach a cluster: a worker still busy when the process exits delays
 * the exit by ~12 ms, so not with --netns (no cluster), --help or completion. CNI_ATTACH_TLS_WARM=off turns it off.
 */
function reachesCluster(argv) {
  if (process.env.CNI_ATTACH_TLS_WARM === 'off') return false;
  for (const a of argv) {
    if (a === '--') break;
    if (a === '--netns' || a.startsWith('--netns=') || a === '-h' || a === '--help' || a === '--version' || a === 'completion') return false;
  }
  return true;
}

function warmTlsRoots() {
  try {
    const { Worker } = require('node:worker_threads');
    const w = new Worker("require('node:tls').createSecureContext()", { eval: true, stdout: true, stderr: true });
    w.unref();
    w.on('error', () => undefined);
  } catch {
    /* no worker: the first connection builds the store itself */
  }
}

/**
 * Whether this command line prints stack traces: a log level of 1 or more before any `--`, in every form the CLI
 * takes (src/cli/argv.ts, klog's): bare `-v`/`--verbose`, `-v N`, `--v N`, `-v=N`, `--v=N`, `-vN`.
 */
function verbose(argv) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return false;
    if (a === '--verbose') return true;
    const m = /^(?:-v|--v)(?:=(.*)|(\d+))?$/.exec(a);
    if (!m) continue;
    const inline = m[1] ?? m[2];
    const level = inline !== undefined ? inline : /^\d+$/.test(argv[i + 1] ?? '') ? argv[i + 1] : '1';
    if (Number(level) >= 1) return true;
  }
  return false;
}

/**
 * Run a command's bundle from `source`: its run() exits with the command's code (src/cli/main.ts, which also handles
 * EPIPE). The process-wide settings (DEP0169, source-mapped stacks, the TLS worker) are made here, for both installs.
 */
/**
 * Catch SIGINT, SIGTERM and SIGHUP from the first line of a command on, until src/cli/main.ts main() takes their handling
 * over (it takes what came meanwhile from globalThis[Symbol.for('cni-attach.earlySignals')].take() and answers it as
 * its own): without this, a Ctrl-C while the bundle loads is Node's default, a death by the signal without a word.
 */
function catchEarlySignals() {
  const key = Symbol.for('cni-attach.earlySignals');
  if (globalThis[key]) return;
  const got = [];
  const listeners = new Map(['SIGINT', 'SIGTERM', 'SIGHUP'].map((sig) => [sig, () => got.push(sig)]));
  for (const [sig, l] of listeners) process.on(sig, l);
  globalThis[key] = {
    take() {
      for (const [sig, l] of listeners) process.removeListener(sig, l);
      return got.splice(0);
    },
  };
}

/** The commands; each also answers cobra's hidden `__complete` / `__completeNoDesc` WORDS… (its shell completion). */
const COMMANDS = new Set(['attach', 'detach', 'check', 'list', 'gc']);

function runFrom(source, command) {
  if (COMMANDS.has(command) && (process.argv[2] === '__complete' || process.argv[2] === '__completeNoDesc')) {
    // `kubectl-cni_attach __complete WORDS…`: the complete bundle answers it (src/cli/complete.ts), as
    // `complete attach __complete WORDS…`; the command's own bundle (the cluster and runtime clients) is not loaded
    process.argv.splice(2, 0, command);
    command = 'complete';
  }
  // the completion answers at once and takes no signal over: Node's default stays
  if (command !== 'complete') catchEarlySignals();
  const argv = process.argv.slice(2);
  silenceDep0169();
  if (verbose(argv)) mapStackTraces(source);
  if (reachesCluster(argv)) warmTlsRoots();
  return createLoader(source).load(`${command}.js`).run();
}

/**
 * The build's warm-up of a vendor file (scripts/bundle.mjs, scripts/release.mjs): V8 caches what a run compiled, so
 * each library does what cni-attach makes it do, against addresses that refuse at once: client-node builds and sends
 * a request, dockerode lists containers and inspects one. `tmp` is a scratch directory. Resolves when done.
 */
async function warmUpVendor(load, file, tmp) {
  if (file === 'vendor/client-node.js') {
    const k8s = load(file);
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: 'default' }],
      currentContext: 'x',
    });
    const core = kc.makeApiClient(k8s.CoreV1Api);
    kc.makeApiClient(k8s.CustomObjectsApi);
    await core.readNamespacedPod({ name: 'p', namespace: 'default' }).catch(() => undefined);
  } else if (file === 'vendor/dockerode.js') {
    const Docker = load(file);
    const d = new Docker({ socketPath: path.join(tmp, 'no-docker.sock') });
    await d.listContainers({ all: true, filters: '{}' }).catch(() => undefined);
    await d.getContainer('x').inspect().catch(() => undefined);
  } else throw new Error(`no warm-up for ${file}`);
}

// the build warms up a new bundle directory before it replaces dist/bundle
const npmDir = () => (process.env.CNI_ATTACH_CODE_CACHE === 'write' && process.env.CNI_ATTACH_BUNDLE_DIR) || path.join(__dirname, '..', 'dist', 'bundle');

/**
 * The single executable's line when neither the name it was started under (`name`, argv[1]'s base name) nor its first
 * argument (`word`) is a command (scripts/sea-main.cjs; `names`: the names it answers to). Started as itself
 * (`cni-attach`): "no command" or the unknown command; under another name (a link `kubectl-cni_foo`, a renamed copy):
 * that name too, and which names it answers to — else the user is left guessing why a link they made prints usage.
 * Pure.
 */
function startError(name, word, names) {
  const self = name === 'cni-attach';
  const what = word === undefined ? 'no command' : `unknown command ${JSON.stringify(word)}`;
  if (self) return `error: ${what}`;
  return `error: started as ${name}: not one of ${names.join(', ')}; and ${what} (give one as cni-attach COMMAND, or start it under one of those names)`;
}

module.exports = {
  startError,
  /** Run a command of the npm install (bin/kubectl-cni_<command>). */
  run: (command) => runFrom(fileSource(npmDir()), command),
  /** A file of dist/bundle (the build's warm-up). */
  load: (file) => createLoader(fileSource(npmDir())).load(file),
  runFrom,
  createLoader,
  warmUpVendor,
  VENDOR_FILES: ['vendor/client-node.js', 'vendor/dockerode.js'],
  userCacheDir,
  reachesCluster,
  verbose,
};
