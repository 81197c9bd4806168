/**
 * exec/node-session.ts: the session loop run for real (sh here, as on a node), its requests and answers, the pool, and
 * what a caller gets when a session never comes up or goes away in the middle of a command.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeAllSessions, NodeSession, requestScript, SESSION_LOOP, SessionLost, SessionPool, type SessionTransport, shQuote, viaSession } from '../../src/exec/node-session.js';
import { UnreachableError } from '../../src/errors.js';
import { BatchingExecutor } from '../../src/exec/batch.js';
import { runStoppable, ShellExecutor } from '../../src/exec/shell.js';
import type { RunOptions, RunResult } from '../../src/exec/types.js';
import { execRoundTrips, sessionRequests } from '../helpers/node-trips.js';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

let dir: string;
const procs: ChildProcess[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cni-attach-session-'));
});
afterEach(async () => {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** A transport to argv run here (what docker exec or pods/exec would run on the node); also what it was sent. */
function local(argv: string[], env: Record<string, string> = { PATH }): SessionTransport & { sent: Buffer[]; proc: ChildProcess } {
  const proc = spawn(argv[0]!, argv.slice(1), { env, stdio: ['pipe', 'pipe', 'inherit'] });
  procs.push(proc);
  const sent: Buffer[] = [];
  const ended = new Promise<void>((r) => {
    proc.on('close', () => r());
    proc.on('error', () => r());
  });
  proc.stdin!.on('error', () => undefined);
  return {
    sent,
    proc,
    write: (d) => {
      sent.push(d);
      proc.stdin!.write(d);
    },
    onData: (cb) => void proc.stdout!.on('data', cb),
    ended,
    destroy: () => proc.kill('SIGKILL'),
  };
}

const env = [`PATH=${PATH}`, 'KUBECTL_CNI_ATTACH_RUN=r1'];

/** A pool's opener that runs each session here (local) and keeps what it opened. */
function recording() {
  const opened: ReturnType<typeof local>[] = [];
  const open = async (argv: string[]) => {
    const t = local(argv);
    opened.push(t);
    return t;
  };
  return { opened, open };
}

describe('the session loop (real sh)', () => {
  it('runs requests one after another with exactly their argv, environment and stdin; exit codes and both outputs come back byte for byte', async () => {
    const mark = '@m1';
    const t = local(['sh', '-c', SESSION_LOOP, 'sh', mark]);
    const s = new NodeSession(t, mark);
    const odd = [`it's`, 'two words', 'new\nline', '$HOME `id` "q"', '', 'ünï ✓', '\\'];
    // (PWD is the shell's own)
    const r1 = await s.request(requestScript(['sh', '-c', 'for a in "$@"; do printf "[%s]" "$a"; done; echo; env | grep -v ^PWD= | sort', 'sh', ...odd], env), '');
    expect(r1.code).toBe(0);
    expect(r1.stdout).toBe(`${odd.map((a) => `[${a}]`).join('')}\nKUBECTL_CNI_ATTACH_RUN=r1\nPATH=${PATH}\n`);
    // stdin of its own (read to the end, as a plugin does), output with no final newline, stderr, a non-zero exit
    const input = '{"cniVersion":"1.0.0"}\n\u0000tail ✓';
    const r2 = await s.request(requestScript(['sh', '-c', 'cat; printf err >&2; exit 7'], env), input);
    expect(r2).toEqual({ code: 7, stdout: input, stderr: 'err' });
    // a large output, and a command that is not there
    const r3 = await s.request(requestScript(['sh', '-c', 'head -c 1048576 /dev/zero | tr "\\0" x'], env), '');
    expect(r3.stdout).toBe('x'.repeat(1048576));
    const r4 = await s.request(requestScript(['/nonexistent/plugin'], env), '');
    expect(r4.code).toBe(127);
    expect(s.started).toBe(true);
    expect(sessionRequests(Buffer.concat(t.sent))).toBe(4);
    s.close();
    await t.ended;
    expect(t.proc.exitCode).toBe(0);
  });

  it('requests sent at once, before the loop is up, are answered in order; killed commands say 137 and the loop goes on', async () => {
    const t = local(['sh', '-c', SESSION_LOOP, 'sh', '@m2']);
    const s = new NodeSession(t, '@m2');
    const answers = await Promise.all([
      s.request(requestScript(['sh', '-c', 'echo one'], env), ''),
      s.request(requestScript(['sh', '-c', 'kill -KILL $$'], env), ''),
      s.request(requestScript(['sh', '-c', 'cat'], env), 'three'),
    ]);
    expect(answers.map((a) => [a.code, a.stdout])).toEqual([[0, 'one\n'], [137, ''], [0, 'three']]);
  });

  it('a command that leaves a process writing to its output: its answer is what it printed itself, and the next frames stay whole', async () => {
    const t = local(['sh', '-c', SESSION_LOOP, 'sh', '@m4']);
    const s = new NodeSession(t, '@m4');
    const first = await s.request(requestScript(['sh', '-c', '(sleep 0.3; echo late; echo late >&2) & echo now'], env), '');
    expect(first).toEqual({ code: 0, stdout: 'now\n', stderr: '' });
    // the leftover writes while the next command runs
    expect(await s.request(requestScript(['sh', '-c', 'sleep 0.6; echo next'], env), '')).toEqual({ code: 0, stdout: 'next\n', stderr: '' });
    expect(await s.request(requestScript(['sh', '-c', 'echo third'], env), '')).toEqual({ code: 0, stdout: 'third\n', stderr: '' });
    // a large output in many chunks
    const big = await s.request(requestScript(['sh', '-c', 'head -c 8000000 /dev/zero | tr "\\0" y'], env), '');
    expect(big.stdout.length).toBe(8_000_000);
    s.close();
  });

  it('reads requests exactly with busybox head too (it over-reads a pipe: dd, one byte at a time)', async () => {
    // a PATH where head is busybox's (a test dependency: busybox-static), as on a busybox node
    const bin = join(dir, 'bin');
    await mkdir(bin, { recursive: true });
    await symlink('/bin/busybox', join(bin, 'head'));
    expect((await execa(join(bin, 'head'), ['--version'], { reject: false })).stdout).not.toMatch(/coreutils/);
    const t = local(['sh', '-c', SESSION_LOOP, 'sh', '@m3'], { PATH: `${bin}:${PATH}` });
    const s = new NodeSession(t, '@m3');
    const big = 'y'.repeat(20_000);
    const got = await Promise.all([s.request(requestScript(['sh', '-c', 'wc -c'], env), big), s.request(requestScript(['sh', '-c', 'echo after'], env), '')]);
    expect(got.map((g) => g.stdout.trim())).toEqual(['20000', 'after']);
  });

  it('shQuote survives sh for any text', async () => {
    for (const v of [`'`, `''a'`, 'a b', '$(id)', '\n', '*']) {
      const t = local(['sh', '-c', `printf '%s' ${shQuote(v)}`]);
      let out = '';
      t.onData((c) => (out += c.toString()));
      await t.ended;
      expect(out).toBe(v);
    }
  });
});

describe('SessionPool and viaSession', () => {
  it('opens another session only while all are busy, and closes them all at the end', async () => {
    const { opened, open } = recording();
    const pool = new SessionPool(open);
    const slow = (tag: string) => pool.run(requestScript(['sh', '-c', `sleep 0.2; echo ${tag}`], env), '');
    expect((await Promise.all([slow('a'), slow('b')])).map((r) => r.stdout)).toEqual(['a\n', 'b\n']);
    expect(opened).toHaveLength(2);
    await slow('c');
    await slow('d');
    expect(opened).toHaveLength(2);
    expect(pool.counts).toEqual({ requests: 4, sessions: 2 });
    await pool.close();
    for (const t of opened) expect(t.proc.exitCode).toBe(0);
    expect(opened.map((t) => execRoundTrips(Buffer.concat(t.sent))).reduce((a, b) => a + b)).toBe(4);
  });

  it('a session that never comes up: the command runs as an exec of its own, and later ones too (nothing ran twice)', async () => {
    // a node without mktemp: the loop exits before it is ready
    const pool = new SessionPool(async (argv) => local(['/bin/sh', ...argv.slice(1)], { PATH: '/nonexistent' }));
    const execs: string[] = [];
    const exec = async () => {
      execs.push('exec');
      return { code: 0, stdout: 'by exec', stderr: '' };
    };
    expect(await viaSession(pool, 'node x', ['true'], env, '', exec)).toEqual({ code: 0, stdout: 'by exec', stderr: '' });
    expect(pool.usable).toBe(false);
    expect(await viaSession(pool, 'node x', ['true'], env, '', exec)).toMatchObject({ stdout: 'by exec' });
    expect(execs).toEqual(['exec', 'exec']);
  });

  it('a session that cannot be opened: the same', async () => {
    const pool = new SessionPool(async () => {
      throw new Error('403 pods/exec forbidden');
    });
    expect(await viaSession(pool, 'node x', ['true'], env, '', async () => ({ code: 3, stdout: '', stderr: 'own' }))).toEqual({ code: 3, stdout: '', stderr: 'own' });
  });

  it('a session lost while its command runs: an UnreachableError (it may have run), never a second run of it', async () => {
    let t: ReturnType<typeof local> | undefined;
    const pool = new SessionPool(async (argv) => (t = local(argv)));
    await pool.run(requestScript(['true'], env), ''); // up
    const running = viaSession(pool, 'node x', ['sh', '-c', 'sleep 5'], env, '', async () => {
      throw new Error('must not run again');
    });
    await new Promise((r) => setTimeout(r, 200));
    t!.proc.kill('SIGKILL');
    const e = await running.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnreachableError);
    expect(String((e as Error).message)).toMatch(/running sh on node x: the session on the node ended before it told how the command ended/);
    expect(((e as Error).cause as SessionLost).mayHaveRun).toBe(true);
  });

  it('a session lost while a plugin runs names the plugin, not the `timeout` (the time limit) or the sh (the batched steps) wrapped around it', async () => {
    const plugin = join(dir, 'slow-plugin');
    await writeFile(plugin, '#!/bin/sh\nsleep 5\n', { mode: 0o755 });
    let t: ReturnType<typeof local> | undefined;
    const pool = new SessionPool(async (argv) => (t = local(argv)));
    await pool.run(requestScript(['true'], env), ''); // up
    const never = async (): Promise<{ code: number; stdout: string; stderr: string }> => {
      throw new Error('must not run again');
    };
    /** A node reached by commands as kube-exec.ts makes one: runStoppable (the limit's timeout) over viaSession. */
    class SessionNode extends ShellExecutor {
      readonly where = 'node x';
      run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
        return runStoppable(this.where, async () => undefined, (a, e, i, lim, what) => viaSession(pool, this.where, a, e, i, never, (lim ?? 0) + 10_000, what), argv, opts, this.baseEnv());
      }
    }
    const batching = new BatchingExecutor(new SessionNode());
    batching.readAhead({ executableDirs: [dir] }); // a step rides on the next command: it goes wrapped in sh
    for (const exec of [new SessionNode(), batching]) {
      const running = exec.run([plugin], { env: { PATH }, timeoutMs: 5000 });
      await new Promise((r) => setTimeout(r, 300));
      t!.proc.kill('SIGKILL');
      const e = await running.catch((x: unknown) => x);
      expect(e).toBeInstanceOf(UnreachableError);
      expect((e as Error).message).toMatch(new RegExp(`^running ${plugin} on node x: the session on the node ended before it told how the command ended$`));
      await pool.run(requestScript(['true'], env), ''); // a new session for the next
    }
  });

  it('a request unanswered past its limit gives the session up: an UnreachableError, and the next command gets a new session', async () => {
    const { opened, open } = recording();
    const pool = new SessionPool(open);
    const never = async () => {
      throw new Error('must not run again');
    };
    const e = await viaSession(pool, 'node x', ['sh', '-c', 'sleep 5'], env, '', never, 300).catch((x: unknown) => x);
    expect(String((e as Error).message)).toMatch(/no answer from the node within 0 s before it told how the command ended/);
    expect(pool.usable).toBe(true);
    expect((await viaSession(pool, 'node x', ['sh', '-c', 'echo next'], env, '', never)).stdout).toBe('next\n');
    expect(opened).toHaveLength(2);
    await pool.close();
  });

  it('batched steps on a session use its scratch directory: no mktemp or rm of their own, the command does not see it; without a session they make and remove their own', async () => {
    // mktemp and rm counted through PATH, for the loop and the requests alike
    const bin = join(dir, 'bin');
    const log = join(dir, 'ran.log');
    await mkdir(bin);
    await writeFile(log, '');
    for (const tool of ['mktemp', 'rm']) await writeFile(join(bin, tool), `#!/bin/sh\necho ${tool} >> '${log}'\nexec /bin/${tool} "$@"\n`, { mode: 0o755 });
    const path = `${bin}:${PATH}`;
    const ran = async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean);
    const tmp = join(dir, 'tmp');
    await mkdir(tmp);
    const pool = new SessionPool(async (argv) => local(argv, { PATH: path, TMPDIR: tmp }));
    const never = async (): Promise<{ code: number; stdout: string; stderr: string }> => {
      throw new Error('must not run as an exec of its own');
    };
    /** As kube-exec.ts makes a node: runStoppable over viaSession, the scratch option passed on. */
    class SessionNode extends ShellExecutor {
      readonly where = 'node x';
      run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
        return runStoppable(this.where, async () => undefined, (a, e, i, lim, what, scratch) => viaSession(pool, this.where, a, e, i, never, (lim ?? 0) + 10_000, what, scratch), argv, opts, this.baseEnv());
      }
    }
    await pool.run(requestScript(['true'], env), ''); // up: the loop's own temp directory (one mktemp)
    expect(await ran()).toEqual(['mktemp']);
    const batching = new BatchingExecutor(new SessionNode());
    for (let i = 0; i < 3; i++) {
      batching.readAhead({ executableDirs: [bin] });
      await batching.writeFileAtomic(join(dir, `f${i}`), `data ${i}`);
      const r = await batching.run(['env'], { env: { PATH: path } });
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(/CNI_ATTACH_SCRATCH/);
      expect(await batching.isExecutable(join(bin, 'rm'))).toBe(true);
      expect(await readFile(join(dir, `f${i}`), 'utf8')).toBe(`data ${i}`);
    }
    expect(await ran()).toEqual(['mktemp']);
    // the loop's directory holds the scratch; nothing else was made in TMPDIR, and the loop removes it at its end
    const made = await readdir(tmp);
    expect(made).toHaveLength(1);
    expect(await readdir(join(tmp, made[0]!))).toContain('w');
    await pool.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(await readdir(tmp)).toEqual([]);
    // without a session: the steps make their own temp directory and remove it
    await writeFile(log, '');
    class ExecNode extends ShellExecutor {
      readonly where = 'node y';
      async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
        const r = await execa(argv[0]!, argv.slice(1), { env: { ...(opts.env ?? this.baseEnv()), PATH: path, TMPDIR: tmp }, extendEnv: false, input: opts.stdin ?? '', reject: false, stripFinalNewline: false });
        return { code: r.exitCode ?? null, stdout: String(r.stdout), stderr: String(r.stderr), timedOut: false };
      }
    }
    const direct = new BatchingExecutor(new ExecNode());
    await direct.writeFileAtomic(join(dir, "g"), "g");
    expect((await direct.run(['true'])).code).toBe(0);
    expect(await readFile(join(dir, 'g'), 'utf8')).toBe('g');
    expect(await ran()).toEqual(['mktemp', 'rm']);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('closeAllSessions ends every pool at once: an idle session asked to end, a busy one torn down, within the limit', async () => {
    const { opened, open } = recording();
    const [a, b] = [new SessionPool(open), new SessionPool(open)];
    await a.run(requestScript(['true'], env), '');
    void b.run(requestScript(['sh', '-c', 'sleep 5'], env), '').catch(() => undefined); // busy when the command ends
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await closeAllSessions(800);
    expect(Date.now() - t0).toBeLessThan(1500);
    await Promise.all(opened.map((t) => t.ended));
    expect(opened[0]!.proc.exitCode).toBe(0); // asked to end: the loop's own exit
    expect(opened[1]!.proc.signalCode).toBe('SIGKILL'); // torn down
  });
});
