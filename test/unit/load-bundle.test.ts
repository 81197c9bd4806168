/** bin/load-bundle.cjs: which command lines get the TLS root store built ahead, in a worker thread. */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';

const { reachesCluster } = createRequire(import.meta.url)('../../bin/load-bundle.cjs') as { reachesCluster: (argv: string[]) => boolean };

describe('reachesCluster', () => {
  afterEach(() => {
    delete process.env.CNI_ATTACH_TLS_WARM;
  });
  it('is true for pods, selectors and the cluster-wide commands', () => {
    expect(reachesCluster(['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', 'net.json'])).toBe(true);
    expect(reachesCluster(['-l', 'app=web', '--ifname', 'eth1', '--net', 'macvlan'])).toBe(true);
    expect(reachesCluster(['web-1', '--ifname', 'eth1', '--conf', 'net.json', '--dry-run'])).toBe(true);
    expect(reachesCluster([])).toBe(true); // cni-list, cni-gc
  });
  it('is false where no cluster is reached: --netns, --help, completion', () => {
    expect(reachesCluster(['--netns', '/var/run/netns/a', '--ifname', 'eth1', '--conf', 'net.json'])).toBe(false);
    expect(reachesCluster(['--netns=/var/run/netns/a', '--ifname', 'eth1'])).toBe(false);
    expect(reachesCluster(['--help'])).toBe(false);
    expect(reachesCluster(['web-1', '-h'])).toBe(false);
    expect(reachesCluster(['completion', 'bash'])).toBe(false);
  });
  it('stops looking at --, and can be turned off', () => {
    expect(reachesCluster(['web-1', '--', '--netns'])).toBe(true);
    process.env.CNI_ATTACH_TLS_WARM = 'off';
    expect(reachesCluster(['web-1'])).toBe(false);
  });
});

const { userCacheDir } = createRequire(import.meta.url)('../../bin/load-bundle.cjs') as { userCacheDir: (env: Record<string, string | undefined>) => string | undefined };

describe('userCacheDir: where run-time code caches go (never beside the bundle)', () => {
  const tail = `cni-attach/code-cache/${process.version}-${process.arch}`;
  it('is under $XDG_CACHE_HOME when that is an absolute path', () => {
    expect(userCacheDir({ XDG_CACHE_HOME: '/var/cache/me', HOME: '/home/me' })).toBe(`/var/cache/me/${tail}`);
  });
  it('is under ~/.cache otherwise (the XDG Base Directory spec ignores a relative XDG_CACHE_HOME)', () => {
    expect(userCacheDir({ HOME: '/home/me' })).toBe(`/home/me/.cache/${tail}`);
    expect(userCacheDir({ XDG_CACHE_HOME: 'rel/cache', HOME: '/home/me' })).toBe(`/home/me/.cache/${tail}`);
  });
});

const { verbose } = createRequire(import.meta.url)('../../bin/load-bundle.cjs') as { verbose: (argv: string[]) => boolean };

describe('verbose: which command lines get stack traces mapped to the sources', () => {
  it('is true for a level of 1 or more in every form argv.ts reads (klog/pflag)', () => {
    for (const argv of [['-v'], ['--verbose'], ['-v', '6'], ['--v', '2'], ['-v=1'], ['-v=6'], ['--v=6'], ['-v6'], ['-v', '--netns', 'x']]) {
      expect(verbose(['--netns', 'x', ...argv]), argv.join(' ')).toBe(true);
    }
  });
  it('is false for level 0, without -v, and after --', () => {
    for (const argv of [[], ['-v', '0'], ['-v=0'], ['--v=0'], ['-v0'], ['--', '-v'], ['--netns', 'x']]) {
      expect(verbose(argv), argv.join(' ')).toBe(false);
    }
  });
});

const { startError } = createRequire(import.meta.url)('../../bin/load-bundle.cjs') as { startError: (name: string, word: string | undefined, names: string[]) => string };

describe('the single executable started under a name it does not answer to (scripts/sea-main.cjs)', () => {
  const names = ['kubectl-cni_attach', 'kubectl-cni_list', 'kubectl_complete-cni_attach'];
  it('says the name it was started under and the names it answers to (was only "error: no command")', () => {
    expect(startError('kubectl-cni_foo', undefined, names)).toBe(
      'error: started as kubectl-cni_foo: not one of kubectl-cni_attach, kubectl-cni_list, kubectl_complete-cni_attach; and no command (give one as cni-attach COMMAND, or start it under one of those names)',
    );
    expect(startError('kubectl-cni_foo', 'frob', names)).toMatch(/^error: started as kubectl-cni_foo: not one of .*; and unknown command "frob" \(give one as cni-attach COMMAND/);
  });
  it('started as itself (cni-attach): only what is missing', () => {
    expect(startError('cni-attach', undefined, names)).toBe('error: no command');
    expect(startError('cni-attach', 'frob', names)).toBe('error: unknown command "frob"');
  });
});
