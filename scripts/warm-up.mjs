// The build's code caches (bin/load-bundle.cjs says how they are used). V8 caches what a run has compiled, so each
// file is warmed up by doing what it is there for, without touching the host: a --dry-run attach, a detach and a
// check of nothing, in a temp dir; list and gc without a cluster; client-node building a request and dockerode
// listing containers, against addresses that refuse at once (bin/load-bundle.cjs warmUpVendor). Each run writes the
// caches it made into a scratch XDG_CACHE_HOME, exactly as a user's first run would; they are then collected and
// shipped. A warm-up that fails only makes a cache smaller (or leaves a file without one: it is made at run time).
//
// Used by scripts/bundle.mjs (the npm package: the Node that builds) and scripts/release.mjs (each executable: the
// Node binary it ships, run as the executable itself).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const COMMAND_NAMES = ['attach', 'detach', 'check', 'list', 'gc'];

/**
 * Runs the warm-up and returns the caches made: Map of bundle file ('attach.js', 'vendor/dockerode.js') → cache file
 * contents (Buffer, in bin/load-bundle.cjs's format), for the files of `hashes` (file → sha256 hex).
 *   command(name) → argv (array: executable first) that runs that command
 *   vendor(file) → argv that runs bin/load-bundle.cjs's warmUpVendor(file, tmp) with the same loader
 *   env → extra environment (CNI_ATTACH_BUNDLE_DIR for a bundle not yet in place)
 */
export function makeCodeCaches({ command, vendor, hashes, env: extra = {}, warn = (m) => process.stderr.write(`${m}\n`) }) {
  const tmp = mkdtempSync(join(tmpdir(), 'cni-attach-warm-up-'));
  try {
    mkdirSync(join(tmp, 'plugins'));
    writeFileSync(join(tmp, 'plugins/bridge'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    writeFileSync(join(tmp, 'net.json'), JSON.stringify({ cniVersion: '1.0.0', name: 'warm-up', type: 'bridge', ipam: { type: 'host-local', subnet: '198.18.255.0/24' } }));
    const xdg = join(tmp, 'xdg');
    const env = {
      PATH: process.env.PATH,
      HOME: tmp,
      XDG_CACHE_HOME: xdg,
      CNI_ATTACH_CODE_CACHE: 'write',
      KUBECONFIG: join(tmp, 'no-kubeconfig'),
      DOCKER_HOST: `unix://${join(tmp, 'no-docker.sock')}`,
      ...extra,
    };
    const netns = ['--netns', '/proc/self/ns/net', '--ifname', 'warm0', '--cache-dir', join(tmp, 'cache'), '--cni-path', join(tmp, 'plugins')];
    const runs = [
      [...command('attach'), ...netns, '--conf', join(tmp, 'net.json'), '--dry-run'],
      [...command('detach'), ...netns],
      [...command('check'), ...netns],
      [...command('list'), '--cache-dir', join(tmp, 'cache')],
      [...command('gc'), '--cache-dir', join(tmp, 'cache'), '--cni-path', join(tmp, 'plugins')],
      // kubectl_complete-cni_*: flag names of cni-attach (no cluster)
      [...command('complete'), 'attach', '--if'],
      ...['vendor/client-node.js', 'vendor/dockerode.js'].map((f) => vendor(f, tmp)),
    ];
    for (const [exe, ...args] of runs) {
      const r = spawnSync(exe, args, { env, cwd: tmp, stdio: 'ignore', timeout: 60_000 });
      if (r.error || r.signal) warn(`warning: code cache warm-up (${[exe, ...args.slice(0, 2)].join(' ')}) failed (${r.error?.message ?? r.signal}); that cache is made at run time instead`);
    }
    const caches = new Map();
    const root = join(xdg, 'cni-attach/code-cache');
    const dirs = existsSync(root) ? readdirSync(root) : [];
    for (const [file, hash] of Object.entries(hashes)) {
      const f = dirs.map((d) => join(root, d, `${hash}.cache`)).find(existsSync);
      if (f) caches.set(file, readFileSync(f));
      else warn(`warning: the warm-up made no code cache for ${file}`);
    }
    return caches;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
