// A release: one tarball that runs without node_modules (bin/ and the bundles of dist/bundle, code caches included),
// and a krew manifest for each of the five commands pointing at it with its sha256.
//
//   node scripts/release.mjs --version v0.1.0 --url https://example.org/cni-attach-v0.1.0.tar.gz [--out dist/release]
//
// Needs Node.js >= 20 on the user's PATH (the commands are `#!/usr/bin/env node` scripts); nothing else.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { version: { type: 'string' }, url: { type: 'string' }, out: { type: 'string' } } });
if (!values.version || !/^v\d+\.\d+\.\d+/.test(values.version) || !values.url) {
  console.error('usage: node scripts/release.mjs --version vX.Y.Z --url URL-OF-THE-TARBALL [--out DIR]');
  process.exit(2);
}
const out = resolve(values.out ?? join(ROOT, 'dist/release'));
if (!existsSync(join(ROOT, 'dist/bundle/attach.js'))) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });

const COMMANDS = [
  ['attach', 'Hot-plug a network interface into a running pod with CNI plugins'],
  ['detach', 'Unplug an interface that cni-attach added to a pod'],
  ['check', 'CNI CHECK of an interface cni-attach added to a pod'],
  ['list', 'List the interfaces cni-attach added to pods on this node'],
  ['gc', 'Free interfaces whose pod or sandbox is gone (and their IPAM leases)'],
];

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'krew'), { recursive: true });
const tarball = join(out, `cni-attach-${values.version}.tar.gz`);
const files = ['bin', 'dist/bundle', 'README.md', 'deploy/rbac.yaml'];
// fixed owner and order, so the same build gives the same tarball
execFileSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '--sort=name', '-czf', tarball, '-C', ROOT, ...files]);
const sha256 = createHash('sha256').update(readFileSync(tarball)).digest('hex');

for (const [cmd, short] of COMMANDS) {
  const manifest = `apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: cni-${cmd}
spec:
  version: ${values.version}
  homepage: ${values.url.replace(/\/[^/]*$/, '')}
  shortDescription: ${short}
  description: |
    Part of cni-attach: hot-plug and unplug extra network interfaces in running pods by running CNI plugins to
    the spec (ADD with rollback, DEL from the libcni cache, CHECK, GC), with the pod's network-status annotation
    kept true. The other commands of the family: cni-attach, cni-detach, cni-check, cni-list, cni-gc.
  caveats: |
    Needs Node.js 20 or later on PATH. The plugins run on the pod's node: run it there as root, or use
    --runtime agent (RBAC in deploy/rbac.yaml of the archive).
  platforms:
    - selector:
        matchLabels:
          os: linux
      uri: ${values.url}
      sha256: ${sha256}
      files:
        - from: "*"
          to: "."
      bin: bin/kubectl-cni_${cmd}
`;
  writeFileSync(join(out, 'krew', `cni-${cmd}.yaml`), manifest);
}
console.log(`${tarball}\nsha256 ${sha256}\nkrew manifests in ${join(out, 'krew')}`);
