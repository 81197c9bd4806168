/** VERSION answers kept in the cache directory between runs, while the plugin file stays the same. */
import { describe, expect, it } from 'vitest';
import { negotiateVersions, resolvePlugins, type ChainContext } from '../../src/cni/chain.js';
import { ResultCache, versionsPath } from '../../src/cni/cache.js';
import { parseNetworkConfig } from '../../src/cni/conf.js';
import { UsageError } from '../../src/errors.js';
import { FakeExecutor, fakeOwner } from '../fakes/executor.js';

const CACHE = '/var/lib/cni';
const FILE = versionsPath(CACHE);

/** One run of the tool: a new executor (so nothing is memoized in-process) on the same files. */
function run(files: Map<string, string> = new Map(), opts: { identify?: boolean; versions?: string[]; id?: string } = {}) {
  const exec = new FakeExecutor();
  for (const [k, v] of files) exec.files.set(k, v);
  if (opts.identify !== false) exec.identifyFiles();
  if (opts.id) exec.fileIds.set('/usr/lib/cni/bridge', opts.id);
  exec.addPlugin('/usr/lib/cni/bridge', () => ({}), opts.versions ?? ['0.4.0', '1.0.0']);
  exec.addPlugin('/usr/lib/cni/tuning', () => ({}), ['1.0.0']);
  const cache = new ResultCache(exec, CACHE, fakeOwner());
  const versions = cache.versionStore();
  const debug: string[] = [];
  const ctx: ChainContext = { exec, cniPath: ['/usr/lib/cni'], timeoutMs: 1000, note: () => {}, debug: (l) => debug.push(l), ...(versions ? { versions } : {}) };
  return { exec, ctx, debug };
}

const list = (v = '1.0.0', types = ['bridge', 'tuning']) =>
  parseNetworkConfig(JSON.stringify({ cniVersion: v, name: 'n', plugins: types.map((type) => ({ type })) }), 't');
const negotiate = async (ctx: ChainContext, l = list()) => negotiateVersions(ctx, await resolvePlugins(ctx, l));
/** What a successful attach does after its ADD: write what was learnt. */
const save = (ctx: ChainContext) => ctx.versions!.save();

describe('the VERSION store', () => {
  it('asks each plugin once, then remembers its answer for the next run', async () => {
    const first = run();
    const v1 = await negotiate(first.ctx);
    expect(first.exec.commands()).toEqual(['VERSION bridge', 'VERSION tuning']);
    expect(first.exec.files.has(FILE)).toBe(false); // not before the attach succeeded
    await save(first.ctx);
    const saved = JSON.parse(first.exec.files.get(FILE)!);
    expect(saved).toEqual({
      kind: 'cniAttachPluginVersionsV1',
      plugins: { '/usr/lib/cni/bridge': { id: 'v1', supportedVersions: ['0.4.0', '1.0.0'] }, '/usr/lib/cni/tuning': { id: 'v1', supportedVersions: ['1.0.0'] } },
    });

    const second = run(first.exec.files);
    const v2 = await negotiate(second.ctx);
    expect(second.exec.commands()).toEqual([]);
    expect([...v2]).toEqual([...v1]);
    expect(second.debug.join('\n')).toMatch(/VERSION of bridge: 0.4.0, 1.0.0 \(remembered; \/usr\/lib\/cni\/bridge is unchanged\)/);
  });

  it('asks again when the plugin file changed (another identity), and keeps the new answer', async () => {
    const first = run();
    await negotiate(first.ctx);
    await save(first.ctx);
    const upgraded = run(first.exec.files, { id: 'v2', versions: ['1.0.0', '1.1.0'] });
    const v = await negotiate(upgraded.ctx);
    expect(upgraded.exec.commands()).toEqual(['VERSION bridge']);
    expect(v.get('bridge')).toEqual(['1.0.0', '1.1.0']);
    await save(upgraded.ctx);
    expect(JSON.parse(upgraded.exec.files.get(FILE)!).plugins['/usr/lib/cni/bridge']).toEqual({ id: 'v2', supportedVersions: ['1.0.0', '1.1.0'] });
  });

  it('refuses a config version the remembered answer does not include, as if the plugin had said it', async () => {
    const first = run();
    await negotiate(first.ctx);
    await save(first.ctx);
    const second = run(first.exec.files);
    const err = await negotiate(second.ctx, list('1.1.0', ['bridge'])).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/supports CNI 0.4.0, 1.0.0; the config asks for 1.1.0/);
    expect(second.exec.commands()).toEqual([]);
  });

  it('ignores a damaged or foreign file and asks the plugins', async () => {
    for (const text of ['{not json', '[]', JSON.stringify({ kind: 'other', plugins: {} }),
      JSON.stringify({ kind: 'cniAttachPluginVersionsV1', plugins: { '/usr/lib/cni/bridge': { id: 'v1', supportedVersions: [1] } } }),
      JSON.stringify({ kind: 'cniAttachPluginVersionsV1', plugins: { '/usr/lib/cni/bridge': { id: 'v1', supportedVersions: [] } } })]) {
      const r = run(new Map([[FILE, text]]));
      await negotiate(r.ctx, list('1.0.0', ['bridge']));
      expect(r.exec.commands()).toEqual(['VERSION bridge']);
    }
  });

  it('never fails the command when the file cannot be written', async () => {
    const r = run();
    r.exec.failWrites = /plugin-versions/;
    const v = await negotiate(r.ctx);
    await save(r.ctx);
    expect(v.get('tuning')).toEqual(['1.0.0']);
    expect(r.exec.files.has(FILE)).toBe(false);
  });

  it('is not used where files cannot be identified (a node reached through docker exec or an agent)', async () => {
    const r = run(new Map(), { identify: false });
    expect(r.ctx.versions).toBeUndefined();
    await negotiate(r.ctx);
    expect(r.exec.files.has(FILE)).toBe(false);
  });

  it('does not remember a failed VERSION', async () => {
    const r = run();
    r.exec.plugins.set('/usr/lib/cni/bridge', () => ({ code: 1, stdout: JSON.stringify({ code: 4, msg: 'broken' }) }));
    await expect(negotiate(r.ctx, list('1.0.0', ['bridge']))).rejects.toThrow(/broken/);
    await save(r.ctx);
    expect(r.exec.files.has(FILE)).toBe(false);
  });
});
