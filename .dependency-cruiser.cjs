/**
 * The layers of src/ and the arrows allowed between them (README "Layout"), checked by dependency-cruiser in
 * `npm test` (scripts/test.sh), `npm run lint:deps` and test/unit/layers.test.ts. Every import counts: static,
 * type-only (tsPreCompilationDeps) and import().
 *
 *   cli → resolve, cni, exec, errors     cli is the composition root: it picks the adapters and wires them together
 *   resolve → cni, exec, errors          a pod or netns to a sandbox and the executor where its plugins run
 *   cni → exec, errors                   the engine runs plugins and keeps its cache through the executor ports only
 *   exec → errors                        the ports and their adapters know nothing of CNI, pods or the CLI
 *   errors → duration                    almost a leaf everyone may import: only the time words of duration.ts
 *   duration → (nothing of src)          a leaf too: how durations are read and said, the same in every layer
 */
/** A forbidden arrow: imports from modules matching `from` to modules matching `to` (a path, or a condition) fail. */
function forbid(name, from, to, comment) {
  return { name, comment, severity: 'error', from: { path: from }, to: typeof to === 'string' ? { path: to } : to };
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    forbid('cni-not-to-resolve', '^src/cni/', '^src/resolve/', 'the engine does not know where its target came from (pods, runtimes, the cluster): that is resolve/'),
    forbid('cni-not-to-cli', '^src/cni/', '^src/cli/', 'the engine knows no flags, output formats or exit codes: those are cli/'),
    forbid('exec-not-to-cni', '^src/exec/', '^src/cni/', 'an executor runs commands and keeps files on a node; it knows nothing of CNI'),
    forbid('exec-not-to-resolve', '^src/exec/', '^src/resolve/', 'an executor gets what it needs through a port of its own (e.g. PodExec), never from resolve/'),
    forbid('exec-not-to-cli', '^src/exec/', '^src/cli/', 'an executor knows nothing of the command line'),
    forbid('resolve-not-to-cli', '^src/resolve/', '^src/cli/', 'resolving a pod or netns knows no flags: the CLI passes what it parsed, and adds flags to messages'),
    forbid('errors-is-a-leaf', '^src/errors\\.ts$', { path: '^src/', pathNot: '^src/(errors|duration)\\.ts$' }, 'src/errors.ts is imported by every layer and imports none of them but the leaf duration.ts (the time words its messages use)'),
    forbid('duration-is-a-leaf', '^src/duration\\.ts$', { path: '^src/', pathNot: '^src/duration\\.ts$' }, 'src/duration.ts is imported by every layer and imports none of them'),
    forbid('src-not-to-test', '^src/', '^test/', 'the product does not import its tests, fakes or helpers'),
    forbid('no-circular', '^src/', { circular: true }, 'no import cycles between modules of src'),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'] },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
