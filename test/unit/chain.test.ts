import { describe, expect, it } from 'vitest';
import { addChain, AddFailed, checkChain, delChain, gcChain, negotiateVersions, resolvePlugins, statusChain, type ChainContext, type RuntimeConf } from '../../src/cni/chain.js';
import { parseNetworkConfig } from '../../src/cni/conf.js';
import { PluginError, UsageError } from '../../src/errors.js';
import { bridgeResult, FakeExecutor } from '../fakes/executor.js';
import { exitCodeOf } from '../../src/cli/main.js';

const NS = '/var/run/netns/a';
const rt: RuntimeConf = { containerId: 'c1', netns: NS, ifname: 'eth1', cniArgs: [['IgnoreUnknown', '1']], capabilityArgs: {} };

function setup(version = '1.0.0', types = ['bridge', 'tuning', 'bandwidth']) {
  const exec = new FakeExecutor();
  const notes: string[] = [];
  const ctx: ChainContext = { exec, cniPath: ['/opt/cni/bin', '/usr/lib/cni'], timeoutMs: 1000, note: (l) => notes.push(l) };
  const list = parseNetworkConfig(JSON.stringify({ cniVersion: version, name: 'net', plugins: types.map((type) => ({ type })) }), 'test');
  // each plugin passes the previous result through, the first one makes it
  for (const t of types) {
    exec.addPlugin(`/usr/lib/cni/${t}`, (c) => {
      if (c.command !== 'ADD') return {};
      const prev = c.stdin.prevResult as Record<string, unknown> | undefined;
      return { stdout: JSON.stringify(prev ?? bridgeResult('eth1', NS, '198.18.0.2/24', version)) };
    }, ['0.3.1', '0.4.0', '1.0.0', '1.1.0']);
  }
  return { exec, ctx, list, notes };
}

describe('resolvePlugins', () => {
  it('finds each plugin in the first directory that has it', async () => {
    const { exec, ctx, list } = setup();
    exec.addPlugin('/opt/cni/bin/tuning', () => ({}));
    const r = await resolvePlugins(ctx, list);
    expect(r.paths).toEqual(['/usr/lib/cni/bridge', '/opt/cni/bin/tuning', '/usr/lib/cni/bandwidth']);
  });
  it('names the directories it searched when a plugin is missing', async () => {
    const { ctx } = setup();
    const list = parseNetworkConfig(JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'flannel' }), 't');
    await expect(resolvePlugins(ctx, list)).rejects.toThrow(/"flannel" not found in \/opt\/cni\/bin, \/usr\/lib\/cni/);
  });
});

describe('addChain', () => {
  it('runs ADD in order, injecting name, cniVersion and the previous result', async () => {
    const { exec, ctx, list } = setup();
    const result = await addChain(ctx, await resolvePlugins(ctx, list), rt);
    expect(exec.commands()).toEqual(['ADD bridge', 'ADD tuning', 'ADD bandwidth']);
    expect(exec.calls[0]!.stdin).not.toHaveProperty('prevResult');
    expect(exec.calls[1]!.stdin.prevResult).toEqual(bridgeResult('eth1', NS));
    for (const c of exec.calls) expect(c.stdin).toMatchObject({ name: 'net', cniVersion: '1.0.0' });
    expect(exec.calls[0]!.env).toMatchObject({ CNI_CONTAINERID: 'c1', CNI_NETNS: NS, CNI_IFNAME: 'eth1', CNI_ARGS: 'IgnoreUnknown=1' });
    expect(result).toEqual(bridgeResult('eth1', NS));
  });

  it('rolls back with DEL of the whole chain in reverse when a plugin fails', async () => {
    const { exec, ctx, list } = setup('0.4.0');
    exec.addPlugin('/usr/lib/cni/tuning', (c) => (c.command === 'ADD' ? { code: 1, stdout: JSON.stringify({ code: 7, msg: 'bad sysctl', details: 'net.x' }) } : {}));
    const err = await addChain(ctx, await resolvePlugins(ctx, list), rt).catch((e) => e);
    expect(err).toBeInstanceOf(AddFailed);
    expect(err.cniCode).toBe(7);
    expect(err.message).toMatch(/plugin tuning failed on ADD \(CNI error 7\): bad sysctl: net.x \(rolled back/);
    expect(exec.commands()).toEqual(['ADD bridge', 'ADD tuning', 'DEL bandwidth', 'DEL tuning', 'DEL bridge']);
    // DEL gets the last good result as prevResult (0.4.0+)
    expect(exec.calls[4]!.stdin.prevResult).toEqual(bridgeResult('eth1', NS, '198.18.0.2/24', '0.4.0'));
  });

  it('says so when the rollback fails too', async () => {
    const { exec, ctx, list } = setup();
    exec.addPlugin('/usr/lib/cni/tuning', (c) => (c.command === 'ADD' ? { code: 1, stderr: 'boom' } : {}));
    exec.addPlugin('/usr/lib/cni/bridge', (c) =>
      c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult('eth1', NS)) } : { code: 1, stdout: JSON.stringify({ code: 11, msg: 'busy' }) });
    const err = await addChain(ctx, await resolvePlugins(ctx, list), rt).catch((e) => e);
    expect(err.rollbackError).toBeInstanceOf(PluginError);
    expect(err.message).toMatch(/exited with code 1: boom; rolling back also failed: plugin bridge failed on DEL \(CNI error 11\): busy/);
  });

  it('a rollback\'s DELs are not bound by the --timeout that ended the ADD: each gets at least the default --timeout (tryout: --timeout 20ms left all 10 pods of a batch interrupted, their DELs killed at 20 ms too)', async () => {
    const { exec, ctx, list } = setup('1.0.0', ['bridge', 'tuning']);
    // each run takes 50 ms on the node: within a limit shorter than that it is killed (timedOut), as timeout(1) kills it
    const slow = (c: { command: string; timeoutMs?: number }) => (c.timeoutMs !== undefined && c.timeoutMs < 50 ? { code: null, timedOut: true } : c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult('eth1', NS)) } : {});
    exec.addPlugin('/usr/lib/cni/bridge', (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult('eth1', NS)) } : slow(c)));
    exec.addPlugin('/usr/lib/cni/tuning', slow);
    const err = await addChain({ ...ctx, timeoutMs: 20 }, await resolvePlugins(ctx, list), rt).catch((e) => e);
    expect(err).toBeInstanceOf(AddFailed);
    // before: "…; rolling back also failed: plugin tuning failed on DEL: timed out after 20ms …"
    expect(err.rollbackError).toBeUndefined();
    expect(err.message).toBe('plugin tuning failed on ADD: timed out after 20ms and was killed with its process group (rolled back: nothing was left behind)');
    expect(exec.calls.map((c) => `${c.command} ${c.path.split('/').pop()} ${c.timeoutMs}`)).toEqual(['ADD bridge 20', 'ADD tuning 20', 'DEL tuning 60000', 'DEL bridge 60000']);
    // a --timeout above the default is kept for the rollback too
    exec.calls.length = 0;
    exec.addPlugin('/usr/lib/cni/tuning', (c) => (c.command === 'ADD' ? { code: 1, stderr: 'boom' } : {}));
    await addChain({ ...ctx, timeoutMs: 90_000 }, await resolvePlugins(ctx, list), rt).catch((e) => e);
    expect(exec.calls.filter((c) => c.command === 'DEL').map((c) => c.timeoutMs)).toEqual([90_000, 90_000]);
  });

  it('rolls back a plugin that returns something that is not a result', async () => {
    const { exec, ctx, list } = setup('1.0.0', ['bridge']);
    exec.addPlugin('/usr/lib/cni/bridge', (c) => (c.command === 'ADD' ? { stdout: '{"cniVersion":"1.0.0","ips":[{"address":"nope"}]}' } : {}));
    const err = await addChain(ctx, await resolvePlugins(ctx, list), rt).catch((e) => e);
    expect(err).toBeInstanceOf(AddFailed);
    expect(err.message).toMatch(/invalid result/);
    expect(exec.commands()).toEqual(['ADD bridge', 'DEL bridge']);
  });

  it('converts a result in another version to the config version', async () => {
    const { exec, ctx, list } = setup('0.2.0', ['bridge']);
    exec.addPlugin('/usr/lib/cni/bridge', () => ({ stdout: JSON.stringify(bridgeResult('eth1', NS, '198.18.0.7/24', '1.0.0')) }), ['0.2.0', '1.0.0']);
    const r = await addChain(ctx, await resolvePlugins(ctx, list), rt);
    expect(r).toMatchObject({ cniVersion: '0.2.0', ip4: { ip: '198.18.0.7/24', gateway: '198.18.0.1' } });
  });

  it('passes capability args as runtimeConfig only to plugins that declare them', async () => {
    const exec = new FakeExecutor();
    const ctx: ChainContext = { exec, cniPath: ['/p'], timeoutMs: 1000, note: () => {} };
    exec.addPlugin('/p/bridge', () => ({ stdout: JSON.stringify(bridgeResult('eth1', NS)) }));
    exec.addPlugin('/p/tuning', (c) => ({ stdout: JSON.stringify(c.stdin.prevResult) }));
    const list = parseNetworkConfig(JSON.stringify({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge', capabilities: { ips: true } }, { type: 'tuning', capabilities: { mac: true } }] }), 't');
    await addChain(ctx, await resolvePlugins(ctx, list), { ...rt, capabilityArgs: { ips: ['198.18.0.9/24'], mac: '02:00:00:00:00:09' } });
    expect(exec.calls[0]!.stdin.runtimeConfig).toEqual({ ips: ['198.18.0.9/24'] });
    expect(exec.calls[1]!.stdin.runtimeConfig).toEqual({ mac: '02:00:00:00:00:09' });
  });
});

describe('addChain and the rules of issue 11', () => {
  it.each([[''], [null], [undefined], [5]])('takes a result whose cniVersion is %j as the config version (libcni fixupResultVersion)', async (v) => {
    const { exec, ctx, list } = setup('1.0.0', ['bridge']);
    const r = { ...bridgeResult('eth1', NS, '198.18.0.2/24', '1.0.0'), cniVersion: v };
    exec.addPlugin('/usr/lib/cni/bridge', (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(r) } : {}));
    const got = await addChain(ctx, await resolvePlugins(ctx, list), rt);
    expect(got.cniVersion).toBe('1.0.0');
    expect(exec.commands()).toEqual(['ADD bridge']);
  });

  it('a signal that lands while a plugin finished (its ADD exited 0) stops the chain: plugin 3 never runs, the whole chain is DELed, exit 143', async () => {
    const { exec, ctx, list } = setup();
    let signal: string | undefined;
    ctx.interrupted = () => signal;
    exec.addPlugin('/usr/lib/cni/tuning', (c) => {
      if (c.command !== 'ADD') return {};
      signal = 'SIGTERM'; // arrives after tuning answered, before its result is taken
      return { stdout: JSON.stringify(c.stdin.prevResult) };
    }, ['1.0.0']);
    const e = await addChain(ctx, await resolvePlugins(ctx, list), rt).catch((x: AddFailed) => x);
    expect(e).toBeInstanceOf(AddFailed);
    expect(e.stoppedBy).toBe('SIGTERM');
    expect(exitCodeOf(e)).toBe(143);
    expect(e.message).toBe('plugin tuning stopped on ADD: by SIGTERM (it had finished; its result is not used) (rolled back: nothing was left behind)');
    expect(exec.commands()).toEqual(['ADD bridge', 'ADD tuning', 'DEL bandwidth', 'DEL tuning', 'DEL bridge']);
  });
});

describe('delChain', () => {
  it('a detach\'s chain (stoppable) begins no further DEL after the signal, and names the DELs that had finished; a rollback\'s DELs all run', async () => {
    const { exec, ctx, list } = setup();
    let signal: string | undefined;
    ctx.interrupted = () => signal;
    exec.addPlugin('/usr/lib/cni/bandwidth', () => ((signal = 'SIGINT'), {}), ['1.0.0']); // the chain's first DEL
    const r = await resolvePlugins(ctx, list);
    const e = await delChain(ctx, r, rt, bridgeResult('eth1', NS), true).catch((x: PluginError) => x);
    expect(e).toBeInstanceOf(PluginError);
    expect([e.message, e.stoppedBy, exitCodeOf(e)]).toEqual(['plugin tuning stopped on DEL: by SIGINT (Ctrl-C) before it ran (the DEL of bandwidth had finished)', 'SIGINT', 130]);
    expect(exec.commands()).toEqual(['DEL bandwidth']);
    exec.calls.length = 0;
    await delChain(ctx, r, rt, bridgeResult('eth1', NS));
    expect(exec.commands()).toEqual(['DEL bandwidth', 'DEL tuning', 'DEL bridge']);
  });

  it('runs DEL in reverse with the cached result for 0.4.0 and later', async () => {
    const { exec, ctx, list } = setup('1.0.0');
    const prev = bridgeResult('eth1', NS);
    await delChain(ctx, await resolvePlugins(ctx, list), rt, prev);
    expect(exec.commands()).toEqual(['DEL bandwidth', 'DEL tuning', 'DEL bridge']);
    for (const c of exec.calls) expect(c.stdin.prevResult).toEqual(prev);
  });
  it('passes no prevResult before 0.4.0, like libcni', async () => {
    const { exec, ctx, list } = setup('0.3.1');
    await delChain(ctx, await resolvePlugins(ctx, list), rt, bridgeResult('eth1', NS, '198.18.0.2/24', '0.3.1'));
    for (const c of exec.calls) expect(c.stdin).not.toHaveProperty('prevResult');
  });
});

describe('negotiateVersions', () => {
  it('asks each distinct plugin once and returns what they support', async () => {
    const { exec, ctx, list } = setup();
    const v = await negotiateVersions(ctx, await resolvePlugins(ctx, list));
    expect(exec.commands()).toEqual(['VERSION bridge', 'VERSION tuning', 'VERSION bandwidth']);
    expect(exec.calls[0]!.stdin).toEqual({ cniVersion: '1.0.0' });
    expect(v.get('bridge')).toContain('1.1.0');
  });
  it('asks once per process: a batch of attaches does not ask again', async () => {
    const { exec, ctx, list } = setup();
    const r = await resolvePlugins(ctx, list);
    await negotiateVersions(ctx, r);
    await negotiateVersions(ctx, r);
    expect(exec.commands().filter((c) => c.startsWith('VERSION'))).toHaveLength(3);
  });
  it('refuses clearly when the config version is not supported', async () => {
    const { exec, ctx, list } = setup('1.1.0', ['bridge']);
    exec.addPlugin('/usr/lib/cni/bridge', () => ({}), ['0.3.1', '0.4.0', '1.0.0']);
    const err = await negotiateVersions(ctx, await resolvePlugins(ctx, list)).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/plugin "bridge" \(\/usr\/lib\/cni\/bridge\) supports CNI 0.3.1, 0.4.0, 1.0.0; the config asks for 1.1.0/);
  });
  it('a version picked from "cniVersions" (a conflist: libcni takes the highest it knows of cniVersions and cniVersion) is named as such, with the fix that makes libcni pick one the plugin speaks (it said: set "cniVersion" to one of those, which the config already was)', async () => {
    const ask = async (conf: object) => {
      const { exec, ctx } = setup('1.0.0', ['bridge']);
      exec.addPlugin('/usr/lib/cni/bridge', () => ({}), ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0']);
      const list = parseNetworkConfig(JSON.stringify({ name: 'net', plugins: [{ type: 'bridge' }], ...conf }), 'test');
      const err = await negotiateVersions(ctx, await resolvePlugins(ctx, list)).catch((e: Error) => e);
      expect(err).toBeInstanceOf(UsageError);
      return (err as Error).message.replace(/^.*the config asks for /, '');
    };
    expect(await ask({ cniVersion: '1.0.0', cniVersions: ['1.0.0', '1.1.0'] })).toBe('1.1.0, the highest of its "cniVersions" (libcni takes the highest version it knows among "cniVersions" and "cniVersion"): remove 1.1.0 from "cniVersions", so that 1.0.0, the highest it then lists, is taken');
    expect(await ask({ cniVersions: ['0.4.0', '1.1.0'] })).toBe('1.1.0, the highest of its "cniVersions" (libcni takes the highest version it knows among "cniVersions" and "cniVersion"): remove 1.1.0 from "cniVersions", so that 0.4.0, the highest it then lists, is taken');
    expect(await ask({ cniVersion: '1.1.0', cniVersions: ['0.4.0', '1.1.0'] })).toBe('1.1.0, the highest of its "cniVersions" and "cniVersion" (libcni takes the highest version it knows among "cniVersions" and "cniVersion"): remove 1.1.0 from "cniVersions" and set "cniVersion" to 0.4.0 (or remove it), so that 0.4.0, the highest it then lists, is taken');
    expect(await ask({ cniVersion: '1.1.0', cniVersions: ['0.4.0'] })).toBe('1.1.0, the highest of its "cniVersion" (libcni takes the highest version it knows among "cniVersions" and "cniVersion"): set "cniVersion" to 0.4.0 (or remove it), so that 0.4.0, the highest it then lists, is taken');
    expect(await ask({ cniVersions: ['1.1.0'] })).toBe('1.1.0, the highest of its "cniVersions" (libcni takes the highest version it knows among "cniVersions" and "cniVersion"), and none of those it lists (1.1.0) is one the plugin supports: add one of those to "cniVersions"');
    // without cniVersions, as before
    expect(await ask({ cniVersion: '1.1.0' })).toBe('1.1.0: set "cniVersion" to one of those');
  });
  it('a single config\'s "cniVersions" asks for nothing: libcni reads it only in a conflist (a single config becomes a list of its "cniVersion": ConfListFromConf); the evidence\'s config runs at 1.0.0', async () => {
    const one = parseNetworkConfig(JSON.stringify({ cniVersion: '1.0.0', cniVersions: ['1.0.0', '1.1.0'], name: 'net', type: 'bridge' }), 'test');
    expect(one.cniVersion).toBe('1.0.0');
    expect(() => parseNetworkConfig(JSON.stringify({ cniVersions: ['1.0.0'], name: 'net', type: 'bridge' }), 'test')).toThrow('test: missing "cniVersion" ("cniVersions" is read only in a conflist, as libcni does: a single config gives its version in "cniVersion")');
    const { exec, ctx } = setup('1.0.0', ['bridge']);
    exec.addPlugin('/usr/lib/cni/bridge', () => ({}), ['0.4.0', '1.0.0']);
    await expect(negotiateVersions(ctx, await resolvePlugins(ctx, one))).resolves.toBeDefined();
  });
  it('fails on a plugin that does not answer VERSION', async () => {
    const { exec, ctx, list } = setup('1.0.0', ['bridge']);
    exec.plugins.set('/usr/lib/cni/bridge', () => ({ stdout: 'hello' }));
    await expect(negotiateVersions(ctx, await resolvePlugins(ctx, list))).rejects.toThrow(/VERSION.*printed no JSON version info/);
  });
});

describe('checkChain', () => {
  it('runs CHECK in order with the cached result', async () => {
    const { exec, ctx, list } = setup('0.4.0');
    const prev = bridgeResult('eth1', NS, '198.18.0.2/24', '0.4.0');
    await checkChain(ctx, await resolvePlugins(ctx, list), rt, prev);
    expect(exec.commands()).toEqual(['CHECK bridge', 'CHECK tuning', 'CHECK bandwidth']);
    expect(exec.calls[2]!.stdin.prevResult).toEqual(prev);
  });
  it('is refused for configs before 0.4.0', async () => {
    const { ctx, list } = setup('0.3.1');
    await expect(checkChain(ctx, await resolvePlugins(ctx, list), rt, {})).rejects.toThrow(/has no CHECK/);
  });
  it('reports a plugin that finds the attachment broken', async () => {
    const { exec, ctx, list } = setup('1.0.0');
    exec.addPlugin('/usr/lib/cni/tuning', () => ({ code: 1, stdout: JSON.stringify({ code: 999, msg: 'mtu differs' }) }));
    await expect(checkChain(ctx, await resolvePlugins(ctx, list), rt, bridgeResult('eth1', NS))).rejects.toThrow(/tuning failed on CHECK \(CNI error 999\): mtu differs/);
  });
});

describe('STATUS and GC (CNI 1.1)', () => {
  it('STATUS runs for 1.1.0 configs with only CNI_COMMAND and CNI_PATH', async () => {
    const { exec, ctx, list } = setup('1.1.0', ['bridge', 'tuning']);
    const r = await resolvePlugins(ctx, list);
    await statusChain(ctx, r, await negotiateVersions(ctx, r));
    const status = exec.calls.filter((c) => c.command === 'STATUS');
    expect(status.map((c) => c.path)).toEqual(['/usr/lib/cni/bridge', '/usr/lib/cni/tuning']);
    expect(Object.keys(status[0]!.env).filter((k) => k.startsWith('CNI_')).sort()).toEqual(['CNI_COMMAND', 'CNI_PATH']);
  });
  it('STATUS failure is a plugin error (code 50: not available)', async () => {
    const { exec, ctx, list } = setup('1.1.0', ['bridge']);
    exec.addPlugin('/usr/lib/cni/bridge', (c) => (c.command === 'STATUS' ? { code: 1, stdout: JSON.stringify({ code: 50, msg: 'no daemon' }) } : {}), ['1.1.0']);
    const r = await resolvePlugins(ctx, list);
    await expect(statusChain(ctx, r, await negotiateVersions(ctx, r))).rejects.toThrow(/CNI error 50\): no daemon/);
  });
  it('STATUS is skipped (quietly) before 1.1.0', async () => {
    const { exec, ctx, list, notes } = setup('1.0.0', ['bridge']);
    const debug: string[] = [];
    ctx.debug = (l) => debug.push(l);
    await statusChain(ctx, await resolvePlugins(ctx, list), new Map());
    expect(exec.calls).toHaveLength(0);
    expect(notes).toEqual([]);
    expect(debug[0]).toMatch(/STATUS skipped/);
  });
  it('GC passes cni.dev/valid-attachments to every 1.1 plugin', async () => {
    const { exec, ctx, list } = setup('1.1.0', ['bridge', 'tuning']);
    const r = await resolvePlugins(ctx, list);
    const errors = await gcChain(ctx, r, await negotiateVersions(ctx, r), [{ containerID: 'c1', ifname: 'eth1' }]);
    expect(errors).toEqual([]);
    const gc = exec.calls.filter((c) => c.command === 'GC');
    expect(gc).toHaveLength(2);
    expect(gc[0]!.stdin['cni.dev/valid-attachments']).toEqual([{ containerID: 'c1', ifname: 'eth1' }]);
    expect(gc[0]!.stdin['cni.dev/attachments'], 'also under the name libcni sends (#1101)').toEqual([{ containerID: 'c1', ifname: 'eth1' }]);
  });
  it('GC is skipped with a note for configs before 1.1.0 and when disableGC is set', async () => {
    const { exec, ctx, list, notes } = setup('1.0.0', ['bridge']);
    await gcChain(ctx, await resolvePlugins(ctx, list), new Map(), []);
    expect(notes[0]).toMatch(/GC skipped: network net uses CNI 1.0.0/);
    const l2 = parseNetworkConfig(JSON.stringify({ cniVersion: '1.1.0', name: 'n', disableGC: true, plugins: [{ type: 'bridge' }] }), 't');
    await gcChain(ctx, await resolvePlugins(ctx, l2), new Map(), []);
    expect(notes[1]).toMatch(/disableGC/);
    expect(exec.calls).toHaveLength(0);
  });
  it('GC collects errors and goes on with the other plugins', async () => {
    const { exec, ctx, list } = setup('1.1.0', ['bridge', 'tuning']);
    exec.addPlugin('/usr/lib/cni/bridge', () => ({ code: 1, stderr: 'gc broke' }), ['1.1.0']);
    const r = await resolvePlugins(ctx, list);
    const errors = await gcChain(ctx, r, await negotiateVersions(ctx, r), []);
    expect(errors).toHaveLength(1);
    expect(exec.calls.filter((c) => c.command === 'GC').map((c) => c.path)).toEqual(['/usr/lib/cni/bridge', '/usr/lib/cni/tuning']);
  });
});
