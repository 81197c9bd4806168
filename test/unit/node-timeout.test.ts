/**
 * A sub-second --timeout on a node reached by commands (exec/shell.ts nodeTimeout): GNU timeout is given it exactly,
 * busybox's (which counts whole seconds) the whole seconds above it. Run for real: this host's GNU timeout, and
 * busybox's through a PATH whose `timeout` is busybox; the one-command run (runStoppable) and a batch's first run
 * (batch.ts buildScript, firstRun).
 */
import { execa } from 'execa';
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildScript, parseFramed } from '../../src/exec/batch.js';
import { nodeTimeout, runStoppable, takeLimitNote } from '../../src/exec/shell.js';

let dir: string;
let busyboxPath: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cni-node-timeout-'));
  await execa('mkdir', [join(dir, 'bb')]);
  await symlink('/usr/bin/busybox', join(dir, 'bb', 'timeout'));
  busyboxPath = `${join(dir, 'bb')}:/usr/sbin:/usr/bin:/sbin:/bin`;
  await writeFile(join(dir, 'slow'), '#!/bin/sh\nexec sleep 5\n');
  await chmod(join(dir, 'slow'), 0o755);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const GNU_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
// (the PATH is looked up when the test runs: the busybox directory is made in beforeAll)
// the limit each is given for 300 ms (RunResult.limitMs: absent when it is the one asked for)
const kinds = () => [['GNU coreutils', () => GNU_PATH, 0, 900, undefined], ['busybox', () => busyboxPath, 950, 2500, 1000]] as const;

describe('nodeTimeout', () => {
  it('whole seconds: the same word for either timeout, nothing asked', () => {
    expect(nodeTimeout(3000)).toEqual({ setup: '', duration: '3s' });
  });
  it('a fraction: the exact value for GNU, the whole seconds above it otherwise, chosen on the node', () => {
    expect(nodeTimeout(500)).toEqual({ setup: 'cni_lim=0.5s; timeout --version 2>/dev/null | grep -q coreutils || { cni_lim=1s; echo KUBECTL_CNI_ATTACH_LIMIT=1 >&2; }; ', duration: '"$cni_lim"' });
    expect(nodeTimeout(1250).setup).toContain('cni_lim=1.25s;');
    expect(nodeTimeout(1250).setup).toContain('|| { cni_lim=2s;');
    // a fraction of a millisecond, exactly (not 0.0015000000000000002s)
    expect(nodeTimeout(1.5).setup).toContain('cni_lim=0.0015s;');
    expect(nodeTimeout(1100).setup).toContain('cni_lim=1.1s;');
  });
  it.each(kinds())('a 300 ms limit through runStoppable with %s timeout: killed at 300 ms (GNU) or 1 s (busybox), timedOut, with the limit it had', async (_, path, min, max, limitMs) => {
    const send = async ({ argv, env }: { argv: string[]; env: string[] }) => {
      const r = await execa(argv[0]!, argv.slice(1), { env: { ...Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])), PATH: path() }, extendEnv: false, reject: false });
      return { code: r.exitCode ?? 137, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    const t0 = Date.now();
    const r = await runStoppable('here', async () => undefined, send, ['sleep', '5'], { timeoutMs: 300 }, {});
    const took = Date.now() - t0;
    expect(r.timedOut).toBe(true);
    // the limit the node applied, its note taken off the run's stderr
    expect([r.limitMs, r.stderr]).toEqual([limitMs, '']);
    expect(took).toBeGreaterThanOrEqual(Math.max(min, 280));
    expect(took).toBeLessThan(max);
  });
  it.each(kinds())('a 300 ms limit on a batch\'s first run with %s timeout: killed at 300 ms (GNU) or 1 s (busybox), its note on the step\'s stderr', async (_, path, min, max, limitMs) => {
    const { script, args, mark } = buildScript([{ kind: 'firstRun', candidates: [join(dir, 'slow')], opts: { timeoutMs: 300 }, key: (p) => p }], false);
    const t0 = Date.now();
    // (the steps are a function's body, as on a node: Prelude)
    const r = await execa('sh', ['-c', `steps() {\n${script}\n}\nsteps "$@"`, 'sh', ...args], { env: { PATH: path() }, extendEnv: false, reject: false });
    const took = Date.now() - t0;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    // the run's answer: its exit code 137 (SIGKILL) and its path
    const step = parseFramed(String(r.stdout), mark).steps[0];
    expect(step?.stdout).toBe(`137 ${join(dir, 'slow')}\n`);
    // (after it, what the step's shell says of the killed run: "Killed")
    expect(takeLimitNote(step?.stderr ?? '').limitMs).toBe(limitMs);
    expect(takeLimitNote(step?.stderr ?? '').stderr).not.toContain('KUBECTL_CNI_ATTACH_LIMIT');
    expect(took).toBeGreaterThanOrEqual(Math.max(min, 280));
    expect(took).toBeLessThan(max);
  });
});
