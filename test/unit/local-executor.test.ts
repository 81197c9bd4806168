/** LocalExecutor's file side, in a temp directory: reads, atomic writes, locks (exec/lock.ts over its files), file identities. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { thisHost } from '../../src/exec/host.js';
import { LocalExecutor } from '../../src/exec/local.js';
import { tryLock } from '../../src/exec/lock.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cni-attach-local-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('makes the parent directories (0700) and the file (0600)', async () => {
    const exec = new LocalExecutor();
    const file = join(dir, 'a/b/c.json');
    await exec.writeFileAtomic(file, '{}');
    expect(await readFile(file, 'utf8')).toBe('{}');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'a/b'))).mode & 0o777).toBe(0o700);
  });
  it('makes the directory again when it was removed after an earlier write of this process', async () => {
    const exec = new LocalExecutor();
    await exec.writeFileAtomic(join(dir, 'x/one'), '1');
    await rm(join(dir, 'x'), { recursive: true });
    await exec.writeFileAtomic(join(dir, 'x/two'), '2');
    expect(await readFile(join(dir, 'x/two'), 'utf8')).toBe('2');
  });
});

describe('readFile', () => {
  it('reads a regular file (and /proc files), undefined when missing, refuses a FIFO at once instead of waiting for a writer', async () => {
    const exec = new LocalExecutor();
    await writeFile(join(dir, 'r'), 'text');
    expect(await exec.readFile(join(dir, 'r'))).toBe('text');
    expect(await exec.readFile(join(dir, 'nosuch'))).toBeUndefined();
    expect(await exec.readFile('/proc/self/net/dev')).toMatch(/^Inter-/);
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    await expect(exec.readFile(join(dir, 'fifo'))).rejects.toMatchObject({ code: 'EFTYPE', message: `${join(dir, 'fifo')}: not a regular file` });
    await expect(exec.readFile(dir)).rejects.toMatchObject({ code: 'EFTYPE' });
  });
});

describe('removeFile', () => {
  it('removes a file, is fine with one already gone, and refuses a directory', async () => {
    const exec = new LocalExecutor();
    const file = join(dir, 'f');
    await writeFile(file, 'x');
    await exec.removeFile(file);
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
    await exec.removeFile(file);
    await expect(exec.removeFile(dir)).rejects.toThrow(/EISDIR|EPERM/);
  });
});

describe('tryLock', () => {
  it('locks, refuses a second holder, releases, and survives its directory being removed in between', async () => {
    const exec = new LocalExecutor();
    const path = join(dir, 'locks/a.lock');
    const lock = await tryLock(exec, path, thisHost);
    expect(lock).toBeDefined();
    expect(await tryLock(exec, path, thisHost)).toBeUndefined();
    await lock!.release();
    await rm(join(dir, 'locks'), { recursive: true });
    const again = await tryLock(exec, path, thisHost);
    expect(again).toBeDefined();
    const [host, pid, start] = (await readFile(path, 'utf8')).trim().split(' ');
    expect([host, pid]).toEqual([hostname(), String(process.pid)]);
    expect(start).toBe(await thisHost.startOf(process.pid));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await again!.release();
  });
});

describe('fileId', () => {
  it('stays the same while the file is untouched, and changes when it is rewritten, touched or replaced', async () => {
    const exec = new LocalExecutor();
    const file = join(dir, 'plugin');
    await writeFile(file, 'v1', { mode: 0o755 });
    const first = await exec.fileId(file);
    expect(first).toMatch(/^\d+:\d+:2:\d+:\d+$/);
    expect(await exec.fileId(file)).toBe(first);
    await utimes(file, new Date(), new Date(Date.now() - 60_000));
    const touched = await exec.fileId(file);
    expect(touched).not.toBe(first);
    await rm(file);
    await writeFile(file, 'v1', { mode: 0o755 });
    expect(await exec.fileId(file)).not.toBe(touched);
  });
  it('is undefined for a missing file or a directory', async () => {
    const exec = new LocalExecutor();
    expect(await exec.fileId(join(dir, 'missing'))).toBeUndefined();
    expect(await exec.fileId(dir)).toBeUndefined();
  });
});
