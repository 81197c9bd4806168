'use strict';
// The single executable's main script (scripts/release.mjs bundles it with bin/load-bundle.cjs and injects it into
// the Node binary it ships, with Node's Single Executable Applications: node --build-sea). One executable, many
// names: the command is chosen from the name it was started under (argv[1] in a single executable: the path as
// typed or as kubectl found it on PATH; krew's and `ln -s`'s links keep that name), or from its first argument
// (`cni-attach attach POD …`). The bundles, their source maps and the shipped code caches are SEA assets; nothing is
// read from beside the executable, and nothing is written there (caches go to the user's cache directory: see
// bin/load-bundle.cjs).
const sea = require('node:sea');
const path = require('node:path');
const { runFrom, createLoader, warmUpVendor, startError } = require('../bin/load-bundle.cjs');

const asset = (key, encoding) => {
  try {
    return encoding ? sea.getAsset(key, encoding) : Buffer.from(sea.getRawAsset(key));
  } catch {
    return undefined; // not in this build (the arm64 executable ships no code caches)
  }
};
const manifest = JSON.parse(asset('manifest.json', 'utf8'));
// the release's version (npm run release -- --version vX.Y.Z), which the commands' --version and User-Agent say
// (src/cli/version.ts): the bundles inside carry package.json's, baked when they were built
globalThis[Symbol.for('cni-attach.release-version')] = manifest.version;
const source = {
  read: (file) => sea.getAsset(file, 'utf8'),
  hash: (file) => manifest.files[file],
  cache: (file) => asset(`${file}.cache`),
  map: (file) => asset(`${file}.map`, 'utf8'),
  // a single executable's main script can require only Node's built-in modules: the bundles need nothing else (the
  // optional modules some libraries try, such as bufferutil or supports-color, are then simply absent)
  require,
};

const COMMANDS = ['attach', 'detach', 'check', 'list', 'gc'];
// executable name → the command's bundle, and arguments put before the user's
const NAMES = new Map();
for (const c of COMMANDS) {
  NAMES.set(`kubectl-cni_${c}`, [c]);
  // kubectl's plugin completion (kubectl_complete-<plugin>): the complete bundle (src/cli/complete.ts) tells the
  // command from the name it was started under
  NAMES.set(`kubectl_complete-cni_${c}`, ['complete']);
}

function usage(out) {
  out.write(`cni-attach ${manifest.version} (Node.js ${process.version}, ${process.platform}-${process.arch}): one executable for the kubectl plugins
${[...NAMES.keys()].map((n) => `  ${n}`).join('\n')}
Start it under one of these names (a symbolic link named so, as krew makes), or as
  cni-attach COMMAND [ARGS]     COMMAND: ${COMMANDS.join(', ')}
`);
}

const name = path.basename(process.argv[1] ?? process.execPath);
let spec = NAMES.get(name);
// `cni-attach complete COMMAND WORDS…` too (the release's code-cache warm-up runs it so)
if (!spec && [...COMMANDS, 'complete'].includes(process.argv[2])) {
  spec = [process.argv[2]];
  process.argv.splice(2, 1);
}
if (spec) {
  process.argv.splice(2, 0, ...spec.slice(1));
  runFrom(source, spec[0]);
} else if (process.env.CNI_ATTACH_CODE_CACHE === 'write' && process.argv[2] === '__warm-up-vendor') {
  // the release's warm-up of the vendor files (scripts/warm-up.mjs), run with this executable itself
  const { load } = createLoader(source);
  warmUpVendor(load, process.argv[3], process.argv[4]);
} else if (['-h', '--help', 'help'].includes(process.argv[2])) {
  usage(process.stdout);
} else if (process.argv[2] === '--version') {
  // the commands' own --version (src/cli/version.ts: "cni-attach v0.1.0 (linux/amd64, node v26.12.1)", -o json too),
  // so that the executable says the same line under every name
  runFrom(source, 'list');
} else {
  usage(process.stderr);
  process.stderr.write(`${startError(name, process.argv[2], [...NAMES.keys()])}\n`);
  process.exitCode = 2;
}
