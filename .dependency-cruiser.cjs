/**
 * The layers of src/ and the arrows allowed between them (README "Layout"), checked by dependency-cruiser in
 * `npm test` (scripts/test.sh), `npm run lint:deps` and test/unit/layers.test.ts. Every import counts: static,
 * type-only (tsPreCompilationDeps) and import().
 *
 *   cli → resolve, cni, exec, errors     cli is the composition root: it picks the adapters and wires them together
 *   resolve → cni, exec, errors          a pod or netns to a sandbox and the executor where its plugins run
 *   cni → exec, errors                   the engine runs plugins and keeps its cache through the executor ports only
 *   exec → errors                        the ports and their adapters know nothing of CNI, pods or the CLI
 *   errors → (nothing of src)            a leaf everyone may import
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'cni-not-to-resolve',
      comment: 'the engine does not know where its target came from (pods, runtimes, the cluster): that is resolve/',
      severity: 'error',
      from: { path: '^src/cni/' },
      to: { path: '^src/resolve/' },
    },
    {
      name: 'cni-not-to-cli',
      comment: 'the engine knows no flags, output formats or exit codes: those are cli/',
      severity: 'error',
      from: { path: '^src/cni/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'exec-not-to-cni',
      comment: 'an executor runs commands and keeps files on a node; it knows nothing of CNI',
      severity: 'error',
      from: { path: '^src/exec/' },
      to: { path: '^src/cni/' },
    },
    {
      name: 'exec-not-to-resolve',
      comment: 'an executor gets what it needs through a port of its own (e.g. PodExec), never from resolve/',
      severity: 'error',
      from: { path: '^src/exec/' },
      to: { path: '^src/resolve/' },
    },
    {
      name: 'exec-not-to-cli',
      comment: 'an executor knows nothing of the command line',
      severity: 'error',
      from: { path: '^src/exec/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'resolve-not-to-cli',
      comment: 'resolving a pod or netns knows no flags: the CLI passes what it parsed, and adds flags to messages',
      severity: 'error',
      from: { path: '^src/resolve/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'errors-is-a-leaf',
      comment: 'src/errors.ts is imported by every layer and imports none of them',
      severity: 'error',
      from: { path: '^src/errors\\.ts$' },
      to: { path: '^src/', pathNot: '^src/errors\\.ts$' },
    },
    {
      name: 'src-not-to-test',
      comment: 'the product does not import its tests, fakes or helpers',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-circular',
      comment: 'no import cycles between modules of src',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
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
