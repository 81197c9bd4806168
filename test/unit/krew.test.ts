/** test/helpers/krew.ts: the check of krew's manifest rules rejects what krew (and krew-index) would reject. */
import { describe, expect, it } from 'vitest';
import { validateKrewPlugin } from '../helpers/krew.js';

const good = () => ({
  apiVersion: 'krew.googlecontainertools.github.com/v1alpha2',
  kind: 'Plugin',
  metadata: { name: 'cni-attach' },
  spec: {
    version: 'v1.2.3',
    homepage: 'https://example.org/cni-attach',
    shortDescription: 'Hot-plug a network interface into a running pod',
    platforms: [
      {
        selector: { matchLabels: { os: 'linux', arch: 'amd64' } },
        uri: 'https://example.org/a.tar.gz',
        sha256: 'a'.repeat(64),
        files: [{ from: 'cni-attach', to: '.' }],
        bin: 'cni-attach',
      },
    ],
  },
});
type M = ReturnType<typeof good>;
const broken = (f: (m: M) => void): M => {
  const m = good();
  f(m);
  return m;
};

describe('validateKrewPlugin', () => {
  it('accepts a well-formed manifest', () => {
    expect(validateKrewPlugin('cni-attach', good())).toEqual([]);
  });
  it.each<[string, string, M]>([
    ['apiVersion', 'apiVersion', broken((m) => (m.apiVersion = 'krew.googlecontainertools.github.com/v1alpha1'))],
    ['kind', 'kind', broken((m) => (m.kind = 'Plugins'))],
    ['metadata.name differing from the file', 'metadata.name', broken((m) => (m.metadata.name = 'cni-detach'))],
    ['a version without v', 'spec.version', broken((m) => (m.spec.version = '1.2.3'))],
    ['a version that is not semver', 'spec.version', broken((m) => (m.spec.version = 'v1.2'))],
    ['a long shortDescription', 'at most 50', broken((m) => (m.spec.shortDescription = 'x'.repeat(51)))],
    ['a shortDescription with a line break', 'line break', broken((m) => (m.spec.shortDescription = 'a\nb'))],
    ['no homepage', 'homepage', broken((m) => delete (m.spec as Partial<M['spec']>).homepage)],
    ['no platforms', 'platforms', broken((m) => (m.spec.platforms = []))],
    ['an upper-case sha256', 'sha256', broken((m) => (m.spec.platforms[0]!.sha256 = 'A'.repeat(64)))],
    ['a short sha256', 'sha256', broken((m) => (m.spec.platforms[0]!.sha256 = 'a'.repeat(63)))],
    ['no bin', 'bin', broken((m) => (m.spec.platforms[0]!.bin = ''))],
    ['no uri', 'uri', broken((m) => (m.spec.platforms[0]!.uri = ''))],
    ['an empty files list', 'files', broken((m) => (m.spec.platforms[0]!.files = []))],
    ['a files entry without to', 'to has to be set', broken((m) => (m.spec.platforms[0]!.files = [{ from: 'x', to: '' }]))],
    ['an unclean to', 'not clean', broken((m) => (m.spec.platforms[0]!.files = [{ from: 'x', to: './bin/' }]))],
    ['a selector key other than os/arch', 'not supported', broken((m) => ((m.spec.platforms[0]!.selector.matchLabels as Record<string, string>).distro = 'debian'))],
    ['an empty matchLabels', 'specified but empty', broken((m) => (m.spec.platforms[0]!.selector = { matchLabels: {} as M['spec']['platforms'][0]['selector']['matchLabels'] }))],
    ['no selector', 'nil selector', broken((m) => delete (m.spec.platforms[0] as Partial<M['spec']['platforms'][0]>).selector)],
  ])('rejects %s', (_what, problem, m) => {
    const errs = validateKrewPlugin('cni-attach', m);
    expect(errs.join('\n')).toContain(problem);
  });
  it('rejects names krew refuses', () => {
    expect(validateKrewPlugin('cni/attach', { ...good(), metadata: { name: 'cni/attach' } }).join('\n')).toContain('not allowed');
    expect(validateKrewPlugin('NUL', { ...good(), metadata: { name: 'NUL' } }).join('\n')).toContain('not allowed');
  });
});

describe('the release archive and its krew manifests (scripts/release.mjs)', () => {
  it('hold deploy/rbac.yaml, which the error messages name ("see deploy/rbac.yaml"): in the archive, and kept by a krew install', async () => {
    const { ARCHIVE_FILES, KREW_FILES, ARCHIVE_README, manifest } = (await import('../../scripts/release.mjs')) as {
      ARCHIVE_FILES: string[]; KREW_FILES: { from: string; to: string }[]; ARCHIVE_README: (v: string, p: string) => string;
      manifest: (o: { cmd: string; version: string; homepage: string; archives: { os: string; arch: string; uri: string; sha256: string }[] }) => string;
    };
    const { readFileSync, existsSync, readdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    const yaml = (await import('js-yaml')).default;
    const root = join(import.meta.dirname, '../..');
    expect(ARCHIVE_FILES).toEqual(['cni-attach', 'LICENSE', 'LICENSE.nodejs', 'README.md', 'deploy/rbac.yaml']);
    expect(existsSync(join(root, 'deploy/rbac.yaml'))).toBe(true);
    // every file of the repository a message names is one the archive holds
    const named = new Set<string>();
    for (const dir of ['src/cli', 'src/resolve', 'src/cni', 'src/exec']) {
      for (const f of readdirSync(join(root, dir))) for (const m of readFileSync(join(root, dir, f), 'utf8').matchAll(/see (deploy\/[\w.-]+)/g)) named.add(m[1]!);
    }
    expect([...named]).toEqual(['deploy/rbac.yaml']);
    for (const n of named) expect(ARCHIVE_FILES).toContain(n);
    // krew keeps what its files list names (from: a path in the archive; to: a clean directory of the install)
    expect(KREW_FILES.map((f) => f.from)).toEqual(['cni-attach', 'LICENSE', 'LICENSE.nodejs', 'deploy/rbac.yaml']);
    for (const f of KREW_FILES) expect(ARCHIVE_FILES).toContain(f.from);
    const m = yaml.load(manifest({ cmd: 'attach', version: 'v1.2.3', homepage: 'https://example.org/cni-attach', archives: [{ os: 'linux', arch: 'amd64', uri: 'https://example.org/a.tar.gz', sha256: 'a'.repeat(64) }] })) as ReturnType<typeof good>;
    expect(validateKrewPlugin('cni-attach', m)).toEqual([]);
    expect(m.spec.platforms[0]!.files).toEqual(KREW_FILES);
    expect(ARCHIVE_README('v1.2.3', 'linux-amd64')).toMatch(/deploy\/rbac\.yaml, in this archive/);
  });

  it('the README\'s Install section shows `cni-attach --help` as the executable prints it: every name of package.json\'s bin, each command before its completion executable (scripts/sea-main.cjs NAMES; it showed five of the ten)', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const root = join(import.meta.dirname, '../..');
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const block = /\n\$ cni-attach --help\n(cni-attach v\S+ \(Node\.js v\S+, linux-x64\): one executable for the kubectl plugins\n(?: {2}\S+\n)+)Start it under/.exec(readme);
    expect(block, 'the README shows the usage of `cni-attach --help`').not.toBeNull();
    const shown = block![1]!.split('\n').slice(1).filter(Boolean).map((l) => l.trim());
    const bin = Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin);
    const commands = ['attach', 'detach', 'check', 'list', 'gc'];
    expect(shown).toEqual(commands.flatMap((c) => [`kubectl-cni_${c}`, `kubectl_complete-cni_${c}`]));
    expect([...shown].sort()).toEqual([...bin].sort());
    // the names the usage lists are the ones sea-main.cjs answers to
    const sea = readFileSync(join(root, 'scripts/sea-main.cjs'), 'utf8');
    expect(sea).toMatch(/NAMES\.set\(`kubectl-cni_\$\{c\}`[^\n]*\n[\s\S]*?NAMES\.set\(`kubectl_complete-cni_\$\{c\}`/);
  });

  it('say what is true of work off the node: the default --runtime auto reaches other nodes through an agent pod by itself (an outside tester read "runs through --runtime agent" as a flag to give)', async () => {
    const { ARCHIVE_README, manifest } = (await import('../../scripts/release.mjs')) as { ARCHIVE_README: (v: string, p: string) => string; manifest: (o: unknown) => string };
    const yaml = (await import('js-yaml')).default;
    const caveats = (yaml.load(manifest({ cmd: 'attach', version: 'v1.2.3', homepage: 'https://example.org/cni-attach', archives: [{ os: 'linux', arch: 'amd64', uri: 'https://example.org/a.tar.gz', sha256: 'a'.repeat(64) }] })) as { spec: { caveats: string } }).spec.caveats;
    const readme = ARCHIVE_README('v1.2.3', 'linux-amd64');
    for (const text of [readme, caveats]) {
      const flat = text.replace(/\s+/g, ' ');
      expect(flat).toMatch(/the default --runtime auto then (reaches a pod on another node by itself, through a short-lived agent pod|does the node-side work by itself through a short-lived agent pod)/);
      expect(flat).not.toMatch(/runs through --runtime agent/);
    }
  });
});
