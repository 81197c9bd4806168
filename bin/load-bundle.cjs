'use strict';
// How the commands start. bin/kubectl-cni_<command> calls run('<command>'), which requires dist/bundle/<command>.js
// (one bundle per command, see scripts/bundle.mjs). Every file of dist/bundle is compiled through vm.Script with V8's
// code cache kept beside it (<file>.cache): a run deserializes bytecode instead of parsing and compiling megabytes
// of JavaScript again (BENCHMARKS.md: with the bundling changes a pod attach went from 495 ms to 264 ms).
//
// A cache is used only for the file it was made from: its 16-byte header holds that file's size and mtime (as .pyc
// files do), and V8 itself rejects data from another V8 version or other flags. A cache that is missing or rejected
// is written again when the process exits (to a temp file, then renamed; only where the directory is writable).
// CNI_ATTACH_CODE_CACHE=off compiles without caches; =write rewrites them (the build's warm-up, which also sets
// CNI_ATTACH_BUNDLE_DIR to the directory it is about to install).
const Module = require('node:module');
const vm = require('node:vm');
const fs = require('node:fs');
const path = require('node:path');

const MODE = process.env.CNI_ATTACH_CODE_CACHE;
// the build warms up a new bundle directory before it replaces dist/bundle
const DIR = (MODE === 'write' && process.env.CNI_ATTACH_BUNDLE_DIR) || path.join(__dirname, '..', 'dist', 'bundle');
const HEADER = 16;
const toWrite = [];

function readCache(filename, st) {
  try {
    const buf = fs.readFileSync(`${filename}.cache`);
    if (buf.length > HEADER && buf.readDoubleLE(0) === st.size && buf.readDoubleLE(8) === st.mtimeMs) return buf.subarray(HEADER);
  } catch {
    /* none yet */
  }
  return undefined;
}

function writeCaches() {
  for (const { script, filename, st } of toWrite.splice(0)) {
    const tmp = `${filename}.cache.${process.pid}.tmp`;
    try {
      fs.accessSync(path.dirname(filename), fs.constants.W_OK);
      const head = Buffer.alloc(HEADER);
      head.writeDoubleLE(st.size, 0);
      head.writeDoubleLE(st.mtimeMs, 8);
      fs.writeFileSync(tmp, Buffer.concat([head, script.createCachedData()]));
      fs.renameSync(tmp, `${filename}.cache`);
    } catch {
      try {
        fs.unlinkSync(tmp);
      } catch {
        /* never written */
      }
    }
  }
}

if (MODE !== 'off') {
  const compile = Module.prototype._compile;
  Module.prototype._compile = function compileWithCodeCache(content, filename) {
    if (!filename.startsWith(DIR + path.sep)) return compile.call(this, content, filename);
    const st = fs.statSync(filename);
    const cachedData = MODE === 'write' ? undefined : readCache(filename, st);
    const script = new vm.Script(Module.wrap(content), {
      filename,
      cachedData,
      importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    if (!cachedData || script.cachedDataRejected) {
      if (toWrite.length === 0) process.once('exit', writeCaches);
      toWrite.push({ script, filename, st });
    }
    const mod = this;
    const require = (id) => mod.require(id);
    require.resolve = (request, options) => Module._resolveFilename(request, mod, false, options);
    require.main = process.mainModule;
    require.cache = Module._cache;
    require.extensions = Module._extensions;
    return script.runInThisContext({ displayErrors: true }).call(mod.exports, mod.exports, require, mod, filename, path.dirname(filename));
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
    if (a === '--netns' || a.startsWith('--netns=') || a === '-h' || a === '--help' || a === 'completion') return false;
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

/** Run a command: its bundle's run() exits with the command's code (src/cli/main.ts, which also handles EPIPE). */
exports.run = (command) => {
  if (reachesCluster(process.argv.slice(2))) warmTlsRoots();
  return require(path.join(DIR, `${command}.js`)).run();
};
exports.reachesCluster = reachesCluster;
/** A file of dist/bundle (the build's warm-up). */
exports.load = (file) => require(path.join(DIR, file));
