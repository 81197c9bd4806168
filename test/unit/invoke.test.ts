import { describe, expect, it } from 'vitest';
import { invokePlugin, type PluginRun } from '../../src/cni/invoke.js';
import { PluginError } from '../../src/errors.js';
import { exitCodeOf } from '../../src/cli/main.js';
import { FakeExecutor } from '../fakes/executor.js';
import type { RunResult } from '../../src/exec/types.js';

function run(command: PluginRun['args']['command'] = 'ADD'): PluginRun {
  return { type: 'bridge', path: '/p/bridge', args: { command, containerId: 'c', netns: '/n', ifname: 'eth1', path: ['/p'] }, stdin: { cniVersion: '1.0.0' }, timeoutMs: 1500 };
}

async function outcome(r: Partial<RunResult>, command: PluginRun['args']['command'] = 'ADD') {
  const exec = new FakeExecutor();
  exec.plugins.set('/p/bridge', () => r);
  return invokePlugin(exec, run(command)).then((v) => ({ ok: v }), (e: PluginError) => ({ err: e }));
}

describe('invokePlugin', () => {
  it('returns the parsed result of a successful ADD', async () => {
    expect(await outcome({ stdout: '{"cniVersion":"1.0.0","ips":[]}\n' })).toEqual({ ok: { cniVersion: '1.0.0', ips: [] } });
  });
  it('returns nothing for DEL and ignores its output', async () => {
    expect(await outcome({ stdout: '' }, 'DEL')).toEqual({ ok: undefined });
  });
  it('decodes the CNI error JSON with its code, msg and details', async () => {
    const { err } = (await outcome({ code: 1, stdout: '{"cniVersion":"1.0.0","code":7,"msg":"invalid config","details":"no subnet"}' })) as { err: PluginError };
    expect(err).toBeInstanceOf(PluginError);
    expect([err.cniCode, err.cniMsg, err.details, exitCodeOf(err)]).toEqual([7, 'invalid config', 'no subnet', 1]);
    expect(err.message).toBe('plugin bridge failed on ADD (CNI error 7): invalid config: no subnet');
  });
  it('decodes an error JSON even when the plugin exits 0', async () => {
    const { err } = (await outcome({ code: 0, stdout: '{"code":11,"msg":"try again later"}' })) as { err: PluginError };
    expect(err.cniCode).toBe(11);
  });
  it('decodes an error JSON whatever the exit code', async () => {
    const { err } = (await outcome({ code: 3, stdout: '{"code":4,"msg":"bad env"}' })) as { err: PluginError };
    expect(err.message).toMatch(/CNI error 4\): bad env/);
  });
  it('a plugin\'s msg, details and stderr enter the message with their control characters escaped: one line that cannot drive the terminal', async () => {
    const forged = '{"code":11,"msg":"bad \\u001b[31mRED\\u001b[0m\\r\\nerror: injected line","details":"d\\u0000\\u0007\\u009b"}';
    const { err } = (await outcome({ code: 1, stdout: forged, stderr: 'x\u001b]0;owned\u0007\n' })) as { err: PluginError };
    expect(err.message).toBe('plugin bridge failed on ADD (CNI error 11): bad \\x1b[31mRED\\x1b[0m\\r\\nerror: injected line: d\\x00\\x07\\x9b');
    expect(err.stderr).toBe('x\u001b]0;owned\u0007\n'); // kept as it came; -v prints it through shownLines
    const { err: e2 } = (await outcome({ code: 2, stderr: 'panic: \u001b[2Jgone\r\nat\u0000x\n' })) as { err: PluginError };
    expect(e2.message).toBe('plugin bridge failed on ADD: exited with code 2: panic: \\x1b[2Jgone | at\\x00x');
  });
  it('reports stderr of a failure without JSON', async () => {
    const { err } = (await outcome({ code: 2, stderr: 'panic: something\ngoroutine 1\n' })) as { err: PluginError };
    expect(err.message).toBe('plugin bridge failed on ADD: exited with code 2: panic: something | goroutine 1');
    expect(err.stderr).toContain('panic');
  });
  it('says so when a failing plugin printed nothing', async () => {
    const { err } = (await outcome({ code: 1 })) as { err: PluginError };
    expect(err.message).toMatch(/exited with code 1 and printed nothing/);
  });
  it('reports a plugin killed by a signal', async () => {
    const { err } = (await outcome({ code: null, signal: 'SIGSEGV' })) as { err: PluginError };
    expect(err.message).toMatch(/killed by signal SIGSEGV/);
  });
  it('names the output limit when a plugin printed past it (not "killed by signal SIGPIPE")', async () => {
    const { err } = (await outcome({ code: null, signal: 'SIGPIPE', outputLimit: 64 * 1024 * 1024 })) as { err: PluginError };
    expect(err.message).toBe('plugin bridge failed on ADD: printed more than 64 MiB, the output limit of a plugin run; its output was cut off there');
  });
  it('says the user stopped it (exit 130), not "killed by signal SIGKILL"', async () => {
    const { err } = (await outcome({ code: null, signal: 'SIGKILL', interrupted: 'SIGINT' })) as { err: PluginError };
    expect(err.message).toBe('plugin bridge stopped on ADD: by SIGINT (Ctrl-C) (it was killed)');
    expect(exitCodeOf(err)).toBe(130);
  });
  it('a run that exited 0 by itself while the signal came did its work: answered as it exited (a DEL done is done; whether an ADD is built on is the chain\'s rule); one that exited non-zero is stopped', async () => {
    expect(await outcome({ code: 0, stdout: '', interrupted: 'SIGTERM' }, 'DEL')).toEqual({ ok: undefined });
    expect(await outcome({ code: 0, stdout: '{"cniVersion":"1.0.0","ips":[]}', interrupted: 'SIGTERM' })).toEqual({ ok: { cniVersion: '1.0.0', ips: [] } });
    const { err } = (await outcome({ code: 1, stdout: '', interrupted: 'SIGTERM' }, 'DEL')) as { err: PluginError };
    expect([err.message, err.stoppedBy, exitCodeOf(err)]).toEqual(['plugin bridge stopped on DEL: by SIGTERM (it had exited 1, its output not yet taken)', 'SIGTERM', 143]);
  });
  it('says honestly that a process in another session may still run after a timeout', async () => {
    const { err } = (await outcome({ code: null, signal: 'SIGKILL', timedOut: true, pipesHeld: true })) as { err: PluginError };
    expect(err.message).toBe('plugin bridge failed on ADD: timed out after 1.5s and was killed with its process group; a process it started in another session still held its output, and may still run');
  });
  it('reports a timeout with the limit', async () => {
    const { err } = (await outcome({ code: null, signal: 'SIGKILL', timedOut: true })) as { err: PluginError };
    expect(err.message).toMatch(/timed out after 1\.5s and was killed with its process group/);
  });
  it('a node whose timeout counts whole seconds (busybox) had the limit rounded up: the message says how long it ran and why, not the limit asked for', async () => {
    const exec = new FakeExecutor();
    Object.assign(exec, { where: 'node node-b' });
    exec.plugins.set('/p/bridge', () => ({ code: null, signal: 'SIGKILL', timedOut: true, limitMs: 1000 }));
    const err = await invokePlugin(exec, { ...run(), timeoutMs: 2.5 }).catch((e: PluginError) => e);
    expect((err as PluginError).message).toBe('plugin bridge failed on ADD: timed out after 1s (the limit of 2.5ms rounded up to whole seconds: the timeout command on node node-b counts only whole seconds, as busybox\'s does) and was killed with its process group');
  });
  it.each([[0.4, '400µs'], [1.5, '1.5ms'], [500, '500ms'], [1100, '1.1s'], [90_000, '1m30s'], [150_000, '2m30s'], [3_600_000, '1h'], [3_605_000, '1h5s']])('a limit of %s ms is said as %s (never rounded to 0)', async (ms, said) => {
    const exec = new FakeExecutor();
    exec.plugins.set('/p/bridge', () => ({ code: null, signal: 'SIGKILL', timedOut: true }));
    const err = await invokePlugin(exec, { ...run(), timeoutMs: ms }).catch((e: PluginError) => e);
    expect((err as PluginError).message).toBe(`plugin bridge failed on ADD: timed out after ${said} and was killed with its process group`);
  });
  it('refuses garbage from a successful ADD', async () => {
    const { err } = (await outcome({ code: 0, stdout: 'hello, world' })) as { err: PluginError };
    expect(err.message).toMatch(/exited 0 but printed no JSON result: hello, world/);
  });
  it('refuses a JSON array from ADD', async () => {
    const { err } = (await outcome({ code: 0, stdout: '[1,2]' })) as { err: PluginError };
    expect(err).toBeInstanceOf(PluginError);
  });
  it('sends the config on stdin and the CNI variables in the environment', async () => {
    const exec = new FakeExecutor();
    exec.plugins.set('/p/bridge', () => ({ stdout: '{"cniVersion":"1.0.0"}' }));
    await invokePlugin(exec, run());
    expect(exec.calls[0]!.stdin).toEqual({ cniVersion: '1.0.0' });
    expect(exec.calls[0]!.env).toMatchObject({ PATH: '/usr/bin:/bin', CNI_COMMAND: 'ADD', CNI_IFNAME: 'eth1', CNI_PATH: '/p' });
  });
});
