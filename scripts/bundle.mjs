// One bundle per command (esbuild, ESM, code splitting): start-up reads a few files instead of hundreds, and what only
// some paths need (client-node, dockerode, js-yaml) stays in chunks that are loaded when those paths import them.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// chunk names carry content hashes: start from an empty directory so that no stale chunk is left behind
rmSync('dist/bundle', { recursive: true, force: true });

await build({
  entryPoints: {
    attach: 'src/cli/attach.ts',
    detach: 'src/cli/detach.ts',
    check: 'src/cli/check.ts',
    list: 'src/cli/list.ts',
    gc: 'src/cli/gc.ts',
  },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  // CommonJS dependencies bundled into ESM still call require() for Node built-ins
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  // native optional parts of dockerode's ssh:// transport: left to node_modules, loaded only for ssh hosts
  external: ['ssh2', 'cpu-features'],
  logLevel: 'warning',
});
