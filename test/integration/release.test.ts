/**
 * The release: one tarball that runs without node_modules, and a krew manifest per command carrying its sha256.
 * Unpacked elsewhere, the commands start and answer from the bundles (and their code caches) alone.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import yaml from 'js-yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/env.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('release', () => {
  it('packs a tarball that runs without node_modules, and five krew manifests with its sha256', async () => {
    const out = await mkdtemp(join(tmpdir(), 'cni-attach-release-'));
    const unpacked = await mkdtemp(join(tmpdir(), 'cni-attach-unpacked-'));
    dirs.push(out, unpacked);
    const url = 'https://example.invalid/cni-attach-v9.9.9.tar.gz';
    await execa('node', [join(ROOT, 'scripts/release.mjs'), '--version', 'v9.9.9', '--url', url, '--out', out]);
    const tarball = join(out, 'cni-attach-v9.9.9.tar.gz');
    const sha = createHash('sha256').update(await readFile(tarball)).digest('hex');

    expect((await readdir(join(out, 'krew'))).sort()).toEqual(['cni-attach.yaml', 'cni-check.yaml', 'cni-detach.yaml', 'cni-gc.yaml', 'cni-list.yaml']);
    for (const cmd of ['attach', 'detach', 'check', 'list', 'gc']) {
      const m = yaml.load(await readFile(join(out, 'krew', `cni-${cmd}.yaml`), 'utf8')) as { kind: string; metadata: { name: string }; spec: { version: string; platforms: { uri: string; sha256: string; bin: string }[] } };
      expect(m.kind).toBe('Plugin');
      expect(m.metadata.name).toBe(`cni-${cmd}`);
      expect(m.spec.version).toBe('v9.9.9');
      expect(m.spec.platforms[0]).toMatchObject({ uri: url, sha256: sha, bin: `bin/kubectl-cni_${cmd}` });
    }

    await execa('tar', ['-xzf', tarball, '-C', unpacked]);
    expect(await readdir(unpacked)).not.toContain('node_modules');
    // from the unpacked copy, in another directory, with a bare environment: only node itself is needed
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: unpacked };
    for (const cmd of ['attach', 'detach', 'check', 'list', 'gc']) {
      const r = await execa(join(unpacked, 'bin', `kubectl-cni_${cmd}`), ['--help'], { cwd: tmpdir(), env, extendEnv: false, reject: false });
      expect(r.exitCode, `${cmd}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: kubectl cni-${cmd}`));
    }
    const c = await execa(join(unpacked, 'bin/kubectl-cni_attach'), ['completion', 'bash'], { cwd: tmpdir(), env, extendEnv: false });
    expect(c.stdout).toContain('complete -F _kubectl_cni_gc kubectl-cni_gc');
  });
});
