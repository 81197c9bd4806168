/** src/cli/fd-out.ts: output straight to a pipe or file descriptor, the stream only where that cannot work. */
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FdOut, outputFailure, PIPE_BUDGET } from '../../src/cli/fd-out.js';
import { OutputError } from '../../src/errors.js';

let dir: string;
const fds: number[] = [];
const open = (path: string, flags: number) => {
  const fd = openSync(path, flags);
  fds.push(fd);
  return fd;
};
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cni-attach-fdout-'));
});
afterEach(() => {
  for (const fd of fds.splice(0)) {
    try {
      closeSync(fd);
    } catch {
      /* closed by the test */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Everything a non-blocking read end holds now. */
function drain(fd: number): string {
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw e;
    }
    if (n === 0) break;
    parts.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(parts).toString();
}

/** A stream that collects what is written to it, and says whether it was made. */
function fakeStream() {
  const got: string[] = [];
  let made = 0;
  const make = () => {
    made++;
    const s = new PassThrough();
    s.on('data', (c: Buffer) => got.push(c.toString()));
    return s;
  };
  return { make, got, made: () => made };
}

describe('FdOut', () => {
  it('writes to a regular file directly, without making the stream', () => {
    const file = join(dir, 'out');
    const fd = open(file, constants.O_WRONLY | constants.O_CREAT);
    const s = fakeStream();
    const out = new FdOut(fd, s.make, () => undefined);
    expect(out.isDirect).toBe(true);
    out.write('one\n');
    out.write('twö\n');
    expect(readFileSync(file, 'utf8')).toBe('one\ntwö\n');
    expect(s.made()).toBe(0);
    expect(out.usedStream).toBeUndefined();
  });

  it('switches to the stream when a non-blocking pipe is full, keeping the order', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    // another writer of the same pipe left it nearly full (its reader has not read yet)
    const earlier = 'e'.repeat(60_000);
    writeSync(writer, earlier);
    const s = fakeStream();
    const out = new FdOut(writer, s.make, () => undefined);
    expect(out.isDirect).toBe(true);
    const chunk = 'x'.repeat(8_000);
    out.write(chunk); // does not fit in what is left (EAGAIN part-way): the rest goes through the stream
    expect(s.made()).toBe(1);
    expect(out.isDirect).toBe(false);
    out.write('after');
    const inPipe = drain(reader); // what the pipe took
    await new Promise((r) => setImmediate(r));
    const viaStream = s.got.join('');
    expect(inPipe.length + viaStream.length).toBe(60_000 + 8_005);
    expect(inPipe + viaStream).toBe(`${earlier}${chunk}after`);
  });

  it('a blocking pipe whose reader does not read: never more than PIPE_BUDGET with writeSync, the rest through the stream (a full pipe must not block the signal handlers)', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // O_RDWR: a blocking descriptor of the pipe that never reads, as `cni-list -o json | sleep 100` gives the CLI
    const writer = open(fifo, constants.O_RDWR);
    const s = fakeStream();
    const out = new FdOut(writer, s.make, () => undefined);
    out.write('small\n'); // directly
    expect(s.made()).toBe(0);
    const big = 'y'.repeat(1 << 20); // 1 MiB: writeSync would block for ever here
    out.write(big);
    out.write('end\n');
    expect(s.made()).toBe(1);
    expect(out.isDirect).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(s.got.join('')).toBe(`${big}end\n`);
  });

  it('several small writes to a pipe stop going directly once PIPE_BUDGET is spent', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const s = fakeStream();
    const out = new FdOut(writer, s.make, () => undefined);
    const line = `${'z'.repeat(1023)}\n`;
    for (let i = 0; i < PIPE_BUDGET / 1024; i++) out.write(line);
    expect(s.made()).toBe(0);
    expect(drain(reader)).toHaveLength(PIPE_BUDGET);
    out.write(line);
    expect(s.made()).toBe(1);
  });

  it('calls onEpipe when the reader went away', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    closeSync(reader);
    let gone = 0;
    const out = new FdOut(writer, fakeStream().make, () => void gone++);
    out.write('nobody reads this');
    expect(gone).toBe(1);
    // from then on output is dropped (the command goes on to its end), and told once
    expect(out.readerGone).toBe(true);
    out.write('nor this');
    expect(gone).toBe(1);
    expect(out.usedStream).toBeUndefined();
  });

  it('writes to a socket directly (what the stdio pipes of a Node parent are)', async () => {
    const { createServer, connect } = await import('node:net');
    const got: Buffer[] = [];
    const server = createServer((c) => c.on('data', (d: Buffer) => got.push(d)));
    const path = join(dir, 'sock');
    await new Promise<void>((r) => server.listen(path, r));
    const client = connect(path);
    await new Promise((r) => client.once('connect', r));
    const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
    const s = fakeStream();
    const out = new FdOut(fd, s.make, () => undefined);
    expect(out.isDirect).toBe(true);
    out.write('over the socket');
    await new Promise((r) => setTimeout(r, 50));
    expect(Buffer.concat(got).toString()).toBe('over the socket');
    expect(s.made()).toBe(0);
    client.destroy();
    await new Promise((r) => server.close(r));
  });

  it('writes directly to a character device that is not a terminal (/dev/null)', async () => {
    const fd = open('/dev/null', constants.O_WRONLY);
    const s = fakeStream();
    const out = new FdOut(fd, s.make, () => undefined);
    expect(out.isDirect).toBe(true);
    out.write('x');
    expect(s.made()).toBe(0);
  });

  it('a write that fails (/dev/full: ENOSPC) throws at once, to the command that can still say what it means', () => {
    const fd = open('/dev/full', constants.O_WRONLY);
    const s = fakeStream();
    const out = new FdOut(fd, s.make, () => undefined);
    expect(out.isDirect).toBe(true);
    let thrown: unknown;
    try {
      out.write('{"cniVersion":"1.0.0"}');
    } catch (e) {
      thrown = e;
    }
    // said as kubectl says it (was Node's "ENOSPC: no space left on device, write", shown as an internal error)
    expect(thrown).toBeInstanceOf(OutputError);
    expect([(thrown as OutputError).message, (thrown as OutputError).code]).toEqual([`write file descriptor ${fd}: no space left on device`, 'ENOSPC']);
    expect(out.failure).toBe(thrown);
    out.write('more'); // dropped: said once
    expect(s.made()).toBe(0);
  });
  it("a failure of the stream (it reports later) is kept, never thrown from the stream's error event: the command asks for it when done", () => {
    const s = new PassThrough();
    const out = new FdOut(-1, () => s, () => undefined);
    out.write('x');
    s.emit('error', Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
    expect(out.failure?.message).toBe('write file descriptor -1: i/o error');
    s.emit('error', Object.assign(new Error('EPIPE: broken pipe, write'), { code: 'EPIPE' }));
    expect(out.readerGone).toBe(true);
  });
  it('stdout and stderr are named as Go names them', () => {
    expect(outputFailure(1, Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })).message).toBe('write /dev/stdout: no space left on device');
    expect(outputFailure(2, Object.assign(new Error('EBADF: bad file descriptor, write'), { code: 'EBADF' })).message).toBe('write /dev/stderr: bad file descriptor');
  });
});
