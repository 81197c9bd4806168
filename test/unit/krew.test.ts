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
