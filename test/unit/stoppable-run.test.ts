/**
 * Stopping a run on a node reached by commands (exec/shell.ts): the kill script, run by the real sh against real
 * processes of this host (each marked with a value of this test's own), and when StoppableRun asks for it.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KILL_MARKED, RUN_MARK, StoppableRun } from '../../src/exec/shell.js';
import { interrupt } from '../../src/exec/interrupt.js';

/** Whether pid runs (a zombie, killed but not yet reaped by whoever inherited it, does not). */
const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
};

/** `sh -c script` with RUN_MARK=value in its environment, detached; its pid. */
function marked(value: string, script: string): number {
  const p = spawn('sh', ['-c', script], { env: { PATH: process.env.PATH, [RUN_MARK]: value }, detached: true, stdio: 'ignore' });
  p.unref();
  return p.pid!;
}

/** The pid a process writes to `file` once it runs, waiting at most 2 s; 0 when none came. */
async function pidIn(file: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const pid = Number((await execa('cat', [file], { reject: false })).stdout) || 0;
    if (pid) return pid;
  }
  return 0;
}

const started: number[] = [];
const made: string[] = [];
afterEach(async () => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const p of made.splice(0)) await rm(p, { recursive: true, force: true });
});

/** A directory with a grep that refuses -z (as some greps do), in front of the real one. */
async function grepWithoutZ(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stoppable-run-'));
  made.push(dir);
  const real = (await execa('sh', ['-c', 'command -v grep'])).stdout.trim();
  await writeFile(join(dir, 'grep'), `#!/bin/sh\nfor a in "$@"; do case "$a" in -*z*) exit 2;; esac; done\nexec ${real} "$@"\n`, { mode: 0o755 });
  return dir;
}

describe('KILL_MARKED', () => {
  it.each(['grep -z', 'a grep without -z'])('kills every process carrying the mark, also one that moved to a session of its own, and no other (%s)', async (which) => {
    const shim = which === 'grep -z' ? undefined : await grepWithoutZ();
    const mine = randomBytes(8).toString('hex');
    const other = randomBytes(8).toString('hex');
    const pidFile = join(tmpdir(), `stoppable-run-${mine}`);
    made.push(pidFile);
    const leader = marked(mine, `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 300' & exec sleep 300`);
    const bystander = marked(other, 'exec sleep 300');
    started.push(leader, bystander);
    const escaped = await pidIn(pidFile);
    expect(escaped, 'the descendant in its own session started').toBeGreaterThan(0);
    started.push(escaped);
    const env = shim ? { PATH: `${shim}:${process.env.PATH}` } : {};
    const r = await execa('sh', ['-c', KILL_MARKED, 'sh', mine], { reject: false, env });
    expect(r.exitCode, r.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    expect([alive(leader), alive(escaped), alive(bystander)]).toEqual([false, false, true]);
  });
});

describe('KILL_MARKED and what lost the mark', () => {
  it.each([['sh'], ['busybox sh']])('kills what a marked timeout started with an environment of its own (env -i), through the group timeout leads, and no other group (%s)', async (shell) => {
    const mine = randomBytes(8).toString('hex');
    const pidFile = join(tmpdir(), `stoppable-run-${mine}`);
    made.push(pidFile);
    // as a run on a node: a marked sh running timeout, which makes a process group of its own; the plugin's child
    // drops the environment, and so the mark, and stays in timeout's group
    const outer = spawn('sh', ['-c', `timeout 300 sh -c 'env -i sleep 300 & echo $! > ${pidFile}; wait'; sleep 300`], { env: { PATH: process.env.PATH, [RUN_MARK]: mine }, detached: true, stdio: 'ignore' });
    outer.unref();
    started.push(outer.pid!);
    const unmarked = await pidIn(pidFile);
    expect(unmarked, 'the unmarked child started').toBeGreaterThan(0);
    started.push(unmarked);
    expect(readFileSync(`/proc/${unmarked}/environ`, 'utf8')).not.toContain(mine);
    const bystander = marked(randomBytes(8).toString('hex'), 'exec sleep 300');
    started.push(bystander);
    const argv = shell === 'sh' ? ['sh'] : ['busybox', 'sh'];
    const r = await execa(argv[0]!, [...argv.slice(1), '-c', KILL_MARKED, 'sh', mine], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    expect([alive(outer.pid!), alive(unmarked), alive(bystander)]).toEqual([false, false, true]);
  });
});

describe('StoppableRun', () => {
  it('a signal while it runs kills it on the node (again each second until it ended, then gives up); a run begun after the signal is left alone', async () => {
    vi.useFakeTimers();
    try {
      const kills: string[][] = [];
      const run = new StoppableRun(async (argv) => void kills.push(argv));
      expect(run.mark).toBe(`${RUN_MARK}=${run.id}`);
      run.track(new Promise(() => undefined)); // never ends: the kills do not reach it
      let gaveUp = false;
      void run.gaveUp.then(() => (gaveUp = true));
      expect(interrupt('SIGTERM')).toBeGreaterThanOrEqual(1);
      expect(await run.stopped).toBe('SIGTERM');
      expect(kills).toEqual([['sh', '-c', KILL_MARKED, 'sh', run.id]]);
      await vi.advanceTimersByTimeAsync(5_100);
      expect(kills).toHaveLength(5);
      expect(gaveUp).toBe(true);
      run.release();

      // the rollback's run, after the signal: nothing stops it
      const later: string[][] = [];
      const rollback = new StoppableRun(async (argv) => void later.push(argv));
      let ended = false;
      await rollback.track(Promise.resolve()).then(() => (ended = true));
      await vi.advanceTimersByTimeAsync(2_000);
      expect([ended, rollback.stoppedBy, later]).toEqual([true, undefined, []]);
      rollback.release();
    } finally {
      vi.useRealTimers();
    }
  });
});
