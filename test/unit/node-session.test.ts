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
import { closeAllSessions, NodeSession, SESSION_ARGV, SessionLost, SessionPool, type SessionTransport, shQuote, viaSession, withPrelude } from '../../src/exec/node-session.js';
import { UnreachableError } from '../../src/errors.js';
import { BatchingExecutor } from '../../src/exec/batch.js';
import { runStoppable, ShellExecutor } from '../../src/exec/shell.js';
import { MAX_OUTPUT_BYTES, OutputBuffer, type RunOptions, type RunResult } from '../../src/exec/types.js';
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

/** A PATH whose `sh` is this shell (dash, bash or busybox's ash: what a node's /bin/sh may be). */
async function shellPath(shell: string): Promise<string> {
  const bin = join(dir, `sh-${shell}`);
  await mkdir(bin, { recursive: true });
  await symlink(shell === 'busybox' ? '/bin/busybox' : `/bin/${shell}`, join(bin, 'sh'));
  return `${bin}:${PATH}`;
}

describe('the session shell (real sh)', () => {
  it.each(['dash', 'bash', 'busybox'])('runs requests one after another with exactly their argv, environment and stdin; exit codes and both outputs come back byte for byte (%s as sh)', async (shell) => {
    const mark = '@m1';
    // the session's own environment holds more than PATH (docker exec adds the container's): none of it reaches a command
    const t = local([...SESSION_ARGV], { PATH: await shellPath(shell), HOSTNAME: 'node-1', container: 'docker' });
    const s = new NodeSession(t, mark);
    // the mark that ends each output is not in the command line (any local user may read that)
    expect(t.proc.spawnargs.join(' ')).not.toContain(mark);
    const odd = [`it's`, 'two words', 'new\nline', '$HOME `id` "q"', '', 'ünï ✓', '\\'];
    const r0 = await s.request({ argv: ['/usr/bin/env'], env, stdin: '' });
    expect(r0.stdout.split('\n').filter(Boolean).sort()).toEqual(['KUBECTL_CNI_ATTACH_RUN=r1', `PATH=${PATH}`]);
    const r1 = await s.request({ argv: ['sh', '-c', 'for a in "$@"; do printf "[%s]" "$a"; done', 'sh', ...odd], env, stdin: '' });
    expect(r1).toEqual({ code: 0, stdout: odd.map((a) => `[${a}]`).join(''), stderr: '' });
    // stdin of its own (read to the end, as a plugin does), output with no final newline, stderr, a non-zero exit
    const input = '{"cniVersion":"1.0.0"}\n\u0000tail ✓';
    const r2 = await s.request({ argv: ['sh', '-c', 'cat; printf err >&2; exit 7'], env, stdin: input });
    expect(r2).toEqual({ code: 7, stdout: input, stderr: 'err' });
    // outputs that end in newlines, or are one, and a stdin with quotes and no NUL
    const r3 = await s.request({ argv: ['sh', '-c', 'cat; printf "\\n\\n" >&2'], env, stdin: `it's "q"\n\n` });
    expect(r3).toEqual({ code: 0, stdout: `it's "q"\n\n`, stderr: '\n\n' });
    // a large output, and a command that is not there
    const r4 = await s.request({ argv: ['sh', '-c', 'head -c 1048576 /dev/zero | tr "\\0" x'], env, stdin: '' });
    expect(r4.stdout).toBe('x'.repeat(1048576));
    const r5 = await s.request({ argv: ['/nonexistent/plugin'], env, stdin: '' });
    expect(r5.code).toBe(127);
    // a large stdin
    const big = 'y'.repeat(200_000);
    expect((await s.request({ argv: ['sh', '-c', 'wc -c'], env, stdin: big })).stdout.trim()).toBe('200000');
    expect(s.started).toBe(true);
    expect(sessionRequests(Buffer.concat(t.sent))).toBe(7);
    s.close();
    await t.ended;
    expect(t.proc.exitCode).toBe(0);
  });

  it.each(['dash', 'bash', 'busybox'])('steps alone that print only their frames (Prelude.framesOnly) come back as the same bytes, exit code and stderr as through their file, with no head -c of their stdout (%s as sh)', async (shell) => {
    const log = join(dir, 'ran.log');
    // a head on PATH that says it ran: the one the session would run for a capped read
    const bin = join(dir, `logged-${shell}`);
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'head'), `#!/bin/sh\necho head >> ${log}\nexec /usr/bin/head "$@"\n`, { mode: 0o755 });
    const t = local([...SESSION_ARGV], { PATH: `${bin}:${await shellPath(shell)}` });
    const s = new NodeSession(t, '@m3');
    // (busybox sh runs its own head applet, not PATH's: its processes are counted in round-trips.test.ts instead)
    const heads = (n: number) => (shell === 'busybox' ? [] : Array.from({ length: n }, () => 'head'));
    const ran = async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    // frames as the steps print them: no final newline, then a failing step's stderr (framed on stdout) and its exit code
    const script = `printf '@f 0\\nout'; printf 'oops\\n' >&2; return 3`;
    const viaFile = await s.request({ argv: [], env, stdin: '', prelude: { script, args: [] } });
    expect(await ran()).toEqual(heads(2));
    const direct = await s.request({ argv: [], env, stdin: '', prelude: { script, args: [], framesOnly: true } });
    expect(direct).toEqual(viaFile);
    expect(direct).toEqual({ code: 3, stdout: '@f 0\nout', stderr: 'oops\n' });
    // the stderr's capped read is still made when there is one; none for the stdout
    expect(await ran()).toEqual(heads(3));
    // and nothing to read: no process
    expect(await s.request({ argv: [], env, stdin: '', prelude: { script: ':', args: [], framesOnly: true } })).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await ran()).toEqual(heads(3));
    // a request with a command, or with a stdin, goes through its files as before
    expect(await s.request({ argv: ['sh', '-c', 'echo x'], env, stdin: '', prelude: { script: ':', args: [], framesOnly: true } })).toEqual({ code: 0, stdout: 'x\n', stderr: '' });
    expect(await ran()).toEqual(heads(4));
    s.close();
    await t.ended;
  });

  it.each(['dash', 'bash', 'busybox'])('an environment value with spaces, quotes, $, backquotes, a backslash, a tab and a newline reaches the command byte for byte, as runStoppable sends it (CNI_ARGS of --args \'A=b c\': tryout 7; %s as sh)', async (shell) => {
    const t = local([...SESSION_ARGV], { PATH: await shellPath(shell) });
    const s = new NodeSession(t, '@m2');
    const value = `IgnoreUnknown=1;A=b c;Q=it's "q";D=$HOME \`id\` $(id) \\x;T=a\tb;N=new\nline`;
    const r = await runStoppable('node x', async () => undefined, (c) => s.request(c), ['/usr/bin/printenv', 'CNI_ARGS'], { env: { PATH, CNI_ARGS: value } }, { PATH });
    expect(r).toMatchObject({ code: 0, stdout: `${value}\n`, stderr: '' });
    s.close();
    await t.ended;
  });

  it('requests sent at once, before the loop is up, are answered in order; killed commands say 137 and the loop goes on', async () => {
    const t = local([...SESSION_ARGV]);
    const s = new NodeSession(t, '@m2');
    const answers = await Promise.all([
      s.request({ argv: ['sh', '-c', 'echo one'], env, stdin: '' }),
      s.request({ argv: ['sh', '-c', 'kill -KILL $$'], env, stdin: '' }),
      s.request({ argv: ['sh', '-c', 'cat'], env, stdin: 'three' }),
    ]);
    expect(answers.map((a) => [a.code, a.stdout])).toEqual([[0, 'one\n'], [137, ''], [0, 'three']]);
  });

  it('a command that leaves a process writing to its output: its answer is what it printed itself, and the next frames stay whole', async () => {
    const t = local([...SESSION_ARGV]);
    const s = new NodeSession(t, '@m4');
    const first = await s.request({ argv: ['sh', '-c', '(sleep 0.3; echo late; echo late >&2) & echo now'], env, stdin: '' });
    expect(first).toEqual({ code: 0, stdout: 'now\n', stderr: '' });
    // the leftover writes while the next command runs
    expect(await s.request({ argv: ['sh', '-c', 'sleep 0.6; echo next'], env, stdin: '' })).toEqual({ code: 0, stdout: 'next\n', stderr: '' });
    expect(await s.request({ argv: ['sh', '-c', 'echo third'], env, stdin: '' })).toEqual({ code: 0, stdout: 'third\n', stderr: '' });
    // a large output in many chunks
    const big = await s.request({ argv: ['sh', '-c', 'head -c 8000000 /dev/zero | tr "\\0" y'], env, stdin: '' });
    expect(big.stdout.length).toBe(8_000_000);
    s.close();
  });

  it('round trips are counted from what a session was sent, also in the earlier protocol (a build that bench --compare times)', () => {
    expect(sessionRequests(Buffer.from('# cni-attach-boot 3\nabc# cni-attach-request 1 2\nxy# cni-attach-request 2 1\nzexit 0\n'))).toBe(2);
    expect(sessionRequests(Buffer.from('1 3 2\nabcxy2 1 0\nzexit 0 0\n'))).toBe(2);
    expect(sessionRequests(Buffer.from('{"cniVersion":"1.0.0"}'))).toBeUndefined();
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
    const slow = (tag: string) => pool.run({ argv: ['sh', '-c', `sleep 0.2; echo ${tag}`], env, stdin: '' });
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
    expect(await viaSession(pool, 'node x', { argv: ['true'], env, stdin: '' }, exec)).toEqual({ code: 0, stdout: 'by exec', stderr: '' });
    expect(pool.usable).toBe(false);
    expect(await viaSession(pool, 'node x', { argv: ['true'], env, stdin: '' }, exec)).toMatchObject({ stdout: 'by exec' });
    expect(execs).toEqual(['exec', 'exec']);
  });

  it('a session that cannot be opened: the same', async () => {
    const pool = new SessionPool(async () => {
      throw new Error('403 pods/exec forbidden');
    });
    expect(await viaSession(pool, 'node x', { argv: ['true'], env, stdin: '' }, async () => ({ code: 3, stdout: '', stderr: 'own' }))).toEqual({ code: 3, stdout: '', stderr: 'own' });
  });

  it('a session lost while its command runs: an UnreachableError (it may have run), never a second run of it', async () => {
    let t: ReturnType<typeof local> | undefined;
    const pool = new SessionPool(async (argv) => (t = local(argv)));
    await pool.run({ argv: ['true'], env, stdin: '' }); // up
    const running = viaSession(pool, 'node x', { argv: ['sh', '-c', 'sleep 5'], env, stdin: '' }, async () => {
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
    await pool.run({ argv: ['true'], env, stdin: '' }); // up
    const never = async (): Promise<{ code: number; stdout: string; stderr: string }> => {
      throw new Error('must not run again');
    };
    /** A node reached by commands as kube-exec.ts makes one: runStoppable (the limit's timeout) over viaSession. */
    class SessionNode extends ShellExecutor {
      readonly where = 'node x';
      run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
        return runStoppable(this.where, async () => undefined, (c, lim, what) => viaSession(pool, this.where, c, never, (lim ?? 0) + 10_000, what), argv, opts, this.baseEnv());
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
      await pool.run({ argv: ['true'], env, stdin: '' }); // a new session for the next
    }
  });

  it('a request unanswered past its limit gives the session up: an UnreachableError, and the next command gets a new session', async () => {
    const { opened, open } = recording();
    const pool = new SessionPool(open);
    const never = async () => {
      throw new Error('must not run again');
    };
    const e = await viaSession(pool, 'node x', { argv: ['sh', '-c', 'sleep 5'], env, stdin: '' }, never, 300).catch((x: unknown) => x);
    expect(String((e as Error).message)).toMatch(/no answer from the node within 0 s before it told how the command ended/);
    expect(pool.usable).toBe(true);
    expect((await viaSession(pool, 'node x', { argv: ['sh', '-c', 'echo next'], env, stdin: '' }, never)).stdout).toBe('next\n');
    expect(opened).toHaveLength(2);
    await pool.close();
  });

  it('batched steps on a session run in its shell and use its directory: no process of their own but their steps\' (no sh, env, mktemp, rm, stat, base64, cat); the command sees none of their variables; without a session they make and remove their own directory', async () => {
    // the tools counted through PATH, for the session and the requests alike
    const bin = join(dir, 'bin');
    const log = join(dir, 'ran.log');
    await mkdir(bin);
    await writeFile(log, '');
    // (head is each answer's: it reads the outputs back, at most MAX_OUTPUT_BYTES of each)
    const counted = ['sh', 'env', 'mktemp', 'rm', 'stat', 'base64', 'cat', 'dd'];
    for (const tool of counted) await writeFile(join(bin, tool), `#!/bin/sh\necho ${tool} >> '${log}'\nexec /bin/${tool} "$@"\n`, { mode: 0o755 });
    const path = `${bin}:${PATH}`;
    const ran = async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean);
    const tmp = join(dir, 'tmp');
    await mkdir(tmp);
    const pool = new SessionPool(async (argv) => local(argv, { PATH: path, TMPDIR: tmp }));
    const never = async (): Promise<{ code: number; stdout: string; stderr: string }> => {
      throw new Error('must not run as an exec of its own');
    };
    /** As kube-exec.ts makes a node: runStoppable over viaSession. */
    class SessionNode extends ShellExecutor {
      readonly where = 'node x';
      run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
        return runStoppable(this.where, async () => undefined, (c, lim, what) => viaSession(pool, this.where, c, never, (lim ?? 0) + 10_000, what), argv, opts, this.baseEnv());
      }
    }
    await pool.run({ argv: ['true'], env: [`PATH=${path}`], stdin: '' }); // up: the session's shell and its directory
    expect(await ran()).toEqual(['sh', 'mktemp']);
    const batching = new BatchingExecutor(new SessionNode());
    for (let i = 0; i < 3; i++) {
      batching.readAhead({ executableDirs: [bin] });
      await batching.writeFileAtomic(join(dir, `f${i}`), `data ${i}`);
      const r = await batching.run(['/usr/bin/env'], { env: { PATH: path, A: `${i}` } });
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual([`A=${i}`, expect.stringMatching(/^KUBECTL_CNI_ATTACH_RUN=/), `PATH=${path}`]);
      expect(await batching.isExecutable(join(bin, 'rm'))).toBe(true);
      expect(await readFile(join(dir, `f${i}`), 'utf8')).toBe(`data ${i}`);
    }
    await batching.removeFile(join(dir, 'f0'));
    await batching.flush();
    expect(await readdir(dir)).not.toContain('f0');
    // the steps' own processes (mv for each write, rm for the removal) and nothing else
    expect((await ran()).filter((t) => counted.includes(t))).toEqual(['sh', 'mktemp', 'rm']);
    // the session's directory holds what the steps kept; nothing else was made in TMPDIR, and the shell removes it at its end
    expect(await readdir(tmp)).toHaveLength(1);
    await pool.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(await readdir(tmp)).toEqual([]);
    // without a session: the steps make their own temp directory and remove it
    await writeFile(log, '');
    class ExecNode extends ShellExecutor {
      readonly where = 'node y';
      async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
        const cmd = opts.prelude ? withPrelude(argv, opts.prelude) : argv;
        const r = await execa(cmd[0]!, cmd.slice(1), { env: { ...(opts.env ?? this.baseEnv()), PATH: path, TMPDIR: tmp }, extendEnv: false, input: opts.stdin ?? '', reject: false, stripFinalNewline: false });
        return { code: r.exitCode ?? null, stdout: String(r.stdout), stderr: String(r.stderr), timedOut: false };
      }
    }
    const direct = new BatchingExecutor(new ExecNode());
    await direct.writeFileAtomic(join(dir, 'g'), 'g');
    expect((await direct.run(['true'])).code).toBe(0);
    expect(await readFile(join(dir, 'g'), 'utf8')).toBe('g');
    expect((await ran()).filter((t) => counted.includes(t))).toEqual(['sh', 'mktemp', 'rm']);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('a session\'s directory left by a shell that was killed is removed by the next session there; a running one\'s, a link and others\' names stay', async () => {
    const tmp = join(dir, 'tmp');
    await mkdir(tmp);
    // a killed session's (its pid gone: a process that ended), a running one's (this test's pid), a link, another name
    const gone = execa('true');
    await gone;
    const stale = join(tmp, `cni-attach-session.${gone.pid}.AbCdEf`);
    const live = join(tmp, `cni-attach-session.${process.pid}.GhIjKl`);
    await mkdir(join(stale, 'x'), { recursive: true });
    await writeFile(join(stale, 'o.1'), 'left');
    await mkdir(live);
    await mkdir(join(dir, 'target'));
    await symlink(join(dir, 'target'), join(tmp, 'cni-attach-session.1.Lnk'));
    await mkdir(join(tmp, 'cni-attach-session.notapid.X'));
    const pool = new SessionPool(async (argv) => local(argv, { PATH, TMPDIR: tmp }));
    expect((await pool.run({ argv: ['true'], env, stdin: '' })).code).toBe(0);
    const names = (await readdir(tmp)).sort();
    expect(names).not.toContain(`cni-attach-session.${gone.pid}.AbCdEf`);
    expect(names).toEqual(expect.arrayContaining([`cni-attach-session.${process.pid}.GhIjKl`, 'cni-attach-session.1.Lnk', 'cni-attach-session.notapid.X']));
    // its own, named by its shell's pid
    expect(names.filter((n) => /^cni-attach-session\.\d+\.[A-Za-z0-9]{6}$/.test(n) && !n.includes(`.${process.pid}.`))).toHaveLength(1);
    await pool.close();
    expect(await readdir(join(dir, 'target'))).toEqual([]);
  });

  it('steps sent without a session (withPrelude) keep their files by the sessions\' rule: cni-attach-steps.<pid>.*, in $TMPDIR; one a killed shell left is removed by the next, a running one\'s stays (was: mktemp -d, left in /tmp for ever when killed)', async () => {
    const tmp = join(dir, 'tmp');
    await mkdir(tmp);
    const gone = execa('true');
    await gone;
    await mkdir(join(tmp, `cni-attach-steps.${gone.pid}.AbCdEf`));
    await mkdir(join(tmp, `cni-attach-steps.${process.pid}.GhIjKl`));
    const run = (script: string) => {
      const cmd = withPrelude(['true'], { script, args: [] });
      return execa(cmd[0]!, cmd.slice(1), { env: { PATH, TMPDIR: tmp }, extendEnv: false, reject: false, detached: true });
    };
    // its directory while it runs, where the steps write ($t)
    expect((await run('[ -d "$t" ] && case $t in "$TMPDIR"/cni-attach-steps.*) echo in-tmpdir;; esac')).stdout).toBe('in-tmpdir');
    expect((await readdir(tmp)).sort()).toEqual([`cni-attach-steps.${process.pid}.GhIjKl`]);
    // killed outright mid-way (SIGKILL: no trap runs): its directory stays until the next one
    const killed = run('touch "$t/o"; sleep 30');
    for (let i = 0; i < 100 && (await readdir(tmp)).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await readdir(tmp)).toHaveLength(2);
    // every process of the run, as KILL_MARKED kills them on a node
    process.kill(-killed.pid!, 'SIGKILL');
    await killed;
    expect(await readdir(tmp)).toHaveLength(2);
    expect((await run('true')).exitCode).toBe(0);
    expect(await readdir(tmp)).toEqual([`cni-attach-steps.${process.pid}.GhIjKl`]);
  });

  it('a session keeps its request files in the first writable directory of $TMPDIR, /dev/shm (a tmpfs: no inode churn on a disk) and /tmp; a killed session\'s in /tmp (earlier releases) is removed too', async () => {
    // where a request's stdout goes: the command reads the link of its own fd 1
    const where = async (tmp?: string) => {
      const pool = new SessionPool(async (argv) => local(argv, { PATH, ...(tmp !== undefined ? { TMPDIR: tmp } : {}) }));
      try {
        const r = await pool.run({ argv: ['readlink', '/proc/self/fd/1'], env, stdin: '' });
        expect(r.code).toBe(0);
        return r.stdout.toString().trim();
      } finally {
        await pool.close();
      }
    };
    const session = /\/cni-attach-session\.\d+\.[A-Za-z0-9]{6}\/o\.[^/]+$/;
    const tmp = join(dir, 'tmp');
    await mkdir(tmp);
    expect(await where(tmp)).toMatch(new RegExp(`^${tmp}${session.source}`));
    expect(await where()).toMatch(new RegExp(`^/dev/shm${session.source}`));
    expect(await where(join(dir, 'missing'))).toMatch(new RegExp(`^/dev/shm${session.source}`));
    expect(await where('')).toMatch(new RegExp(`^/dev/shm${session.source}`));
    const gone = execa('true');
    await gone;
    const stale = join('/tmp', `cni-attach-session.${gone.pid}.QrStUv`);
    try {
      await mkdir(stale);
      await where();
      expect(await readdir('/tmp')).not.toContain(`cni-attach-session.${gone.pid}.QrStUv`);
    } finally {
      await rm(stale, { recursive: true, force: true });
    }
  });

  it('an output past MAX_OUTPUT_BYTES is cut there and said (outputLimit), on a session and as an exec of its own; the session goes on', async () => {
    const pool = new SessionPool(async (argv) => local(argv));
    const asExec = async (argv: string[]) => {
      // as kube.ts and docker-exec.ts collect an exec's outputs
      const o = new OutputBuffer();
      const child = execa(argv[0]!, argv.slice(1), { env: { PATH }, extendEnv: false, buffer: false, reject: false });
      child.stdout!.on('data', (c: Buffer) => o.push(c));
      const r = await child;
      return { code: r.exitCode ?? 137, stdout: o.text(), stderr: '' };
    };
    class Node extends ShellExecutor {
      readonly where = 'node x';
      constructor(private readonly p: SessionPool | undefined) {
        super();
      }
      run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
        return runStoppable(this.where, async () => undefined, (c, lim, what) => viaSession(this.p, this.where, c, asExec, (lim ?? 0) + 10_000, what), argv, opts, this.baseEnv());
      }
    }
    for (const node of [new Node(pool), new Node(undefined)]) {
      const r = await node.run(['sh', '-c', `head -c ${MAX_OUTPUT_BYTES + 5000} /dev/zero | tr '\\0' y`]);
      expect(r.outputLimit).toBe(MAX_OUTPUT_BYTES);
      expect(r.stdout.length).toBe(MAX_OUTPUT_BYTES);
      const small = await node.run(['sh', '-c', `head -c ${MAX_OUTPUT_BYTES} /dev/zero | tr '\\0' y`]);
      expect(small.outputLimit).toBeUndefined();
      expect(small.stdout.length).toBe(MAX_OUTPUT_BYTES);
    }
    expect((await new Node(pool).run(['sh', '-c', 'echo next'])).stdout).toBe('next\n');
    await pool.close();
  });

  it('closeAllSessions ends every pool at once: an idle session asked to end, a busy one torn down, within the limit', async () => {
    const { opened, open } = recording();
    const [a, b] = [new SessionPool(open), new SessionPool(open)];
    await a.run({ argv: ['true'], env, stdin: '' });
    void b.run({ argv: ['sh', '-c', 'sleep 5'], env, stdin: '' }).catch(() => undefined); // busy when the command ends
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await closeAllSessions(800);
    expect(Date.now() - t0).toBeLessThan(1500);
    await Promise.all(opened.map((t) => t.ended));
    expect(opened[0]!.proc.exitCode).toBe(0); // asked to end: the loop's own exit
    expect(opened[1]!.proc.signalCode).toBe('SIGKILL'); // torn down
  });
});
