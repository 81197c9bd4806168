/**
 * One set of runtimes per command (cli/context.ts defaultDeps): a second look-up in the same command (cni-check's
 * earlier-pod and cache-dir hints after its pod's) reuses the first's — its agent pods and its "pod … is on node …, not
 * this host" note, which some cni-check runs printed twice (tryout 8 F4 b), each from a runtime of its own (and so a
 * second agent pod per node).
 */
import { describe, expect, it } from 'vitest';
import { defaultDeps } from '../../src/cli/context.js';
import { FakeKube } from '../fakes/kube.js';

describe('defaultDeps().runtimes', () => {
  it('gives the same runtimes to every look-up of a command with the same API client and runtime flags; another client or flags get their own', async () => {
    const deps = defaultDeps({ out: () => undefined, err: () => undefined });
    const api = new FakeKube('shop');
    const flags = { runtime: 'auto', agentNamespace: 'kube-system' };
    const first = await deps.runtimes(flags, api);
    expect(await deps.runtimes({ ...flags }, api)).toBe(first);
    expect(first.map((r) => r.name)).toContain('agent');
    expect(await deps.runtimes({ ...flags, agentNamespace: 'other' }, api)).not.toBe(first);
    expect(await deps.runtimes(flags, new FakeKube('shop'))).not.toBe(first);
  });
});
