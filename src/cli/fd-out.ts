/** Writing to stdout or stderr without Node's stream objects where the descriptor allows it (see FdOut). */
import { fstatSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { OutputError } from '../errors.js';

/**
 * A failed write to descriptor `fd` as kubectl (a Go program) says it: `write /dev/stdout: no space left on device`
 * (Node's "ENOSPC: no space left on device, write" without its code and syscall), its code kept on the error. Pure.
 */
export function outputFailure(fd: number, e: unknown): OutputError {
  const code = (e as NodeJS.ErrnoException).code;
  const text = ((e as Error)?.message ?? String(e)).replace(code ? new RegExp(`^${code}: `) : /^$/, '').replace(/, write$/, '');
  const name = fd === 1 ? '/dev/stdout' : fd === 2 ? '/dev/stderr' : `file descriptor ${fd}`;
  return new OutputError(code, `write ${name}: ${text}`, { cause: e });
}

/**
 * One of stdout (1) and stderr (2). Where the descriptor is a pipe, a socket (what a Node or Go parent usually
 * gives) or a regular file, text goes to it with fs.writeSync: making process.stdout or process.stderr for a pipe
 * loads Node's net and stream modules, ~6 ms of every command (BENCHMARKS.md). A terminal (its width and colours)
 * or anything else gets the stream as usual, and so does a descriptor that turns out to be non-blocking and full
 * (EAGAIN), from then on, which keeps the output in order.
 *
 * A pipe or socket inherited from a shell is usually blocking: writeSync into one whose reader does not read (`| sleep
 * 100`, a pager the user left open) would block the main thread once the pipe is full, and with it the SIGINT/SIGTERM
 * handlers, so Ctrl-C would not end the command. So at most PIPE_BUDGET bytes go to a pipe or socket directly, which
 * fits in an empty pipe (64 KiB by default on Linux, at least 2 pages where the per-user pipe limit is reached); the
 * rest goes through the stream, whose writes Node makes non-blocking, in order.
 */
/** Bytes written with writeSync to a pipe or socket before the stream takes over (see FdOut). */
export const PIPE_BUDGET = 16 * 1024;

export class FdOut {
  private direct: boolean;
  /** What may still go to the descriptor with writeSync: PIPE_BUDGET for a pipe or socket, unbounded otherwise. */
  private budget = Infinity;
  private stream: NodeJS.WritableStream | undefined;
  /** The reader went away (EPIPE): what is written from then on is dropped. */
  private gone = false;
  /** A write failed otherwise (ENOSPC, EIO, EBADF): what is written from then on is dropped. */
  private failed: OutputError | undefined;

  constructor(
    private readonly fd: number,
    /** The stream of that descriptor (process.stdout, process.stderr), made only when needed. */
    private readonly makeStream: () => NodeJS.WritableStream,
    /** What to do when the reader went away (EPIPE). */
    private readonly onEpipe: () => void,
  ) {
    let kind;
    try {
      kind = fstatSync(fd);
    } catch {
      /* closed: the stream reports it */
    }
    // a character device that is not a terminal (/dev/null, /dev/full) too: its write errors (ENOSPC) then come back
    // at once, to the command that can still say what they mean, not later from a stream
    this.direct = !!kind && (kind.isFIFO() || kind.isFile() || kind.isSocket() || (kind.isCharacterDevice() && !isatty(fd)));
    if (kind && (kind.isFIFO() || kind.isSocket())) this.budget = PIPE_BUDGET;
  }

  /** Whether output goes through fs.writeSync (not a terminal: no help width, no colours). */
  get isDirect(): boolean {
    return this.direct;
  }

  /** The stream, if anything was written through it and its reader is still there (main waits for it to drain). */
  get usedStream(): NodeJS.WritableStream | undefined {
    return this.gone ? undefined : this.stream;
  }

  /**
   * The write that failed other than by EPIPE (ENOSPC on /dev/full, EIO, EBADF), as outputFailure says it: a direct
   * write throws it at once; one through the stream fails later, so the caller asks here when the command is done.
   */
  get failure(): OutputError | undefined {
    return this.failed;
  }

  /** Whether the reader went away (EPIPE): nothing more is written. */
  get readerGone(): boolean {
    return this.gone;
  }

  private epipe(): void {
    if (this.gone) return;
    this.gone = true;
    this.onEpipe();
  }

  private toStream(): NodeJS.WritableStream {
    if (!this.stream) {
      this.stream = this.makeStream();
      this.stream.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'EPIPE') this.epipe();
        else this.failed ??= outputFailure(this.fd, e);
      });
    }
    return this.stream;
  }

  /** Write s. Throws OutputError when the descriptor refuses it (not for EPIPE: the rest is then dropped). */
  write(s: string): void {
    if (this.gone || this.failed) return;
    if (!this.direct) {
      this.toStream().write(s);
      return;
    }
    let buf = Buffer.from(s, 'utf8');
    if (buf.length > this.budget) {
      // could fill the pipe and block past a signal: from here on through the stream (in order)
      this.direct = false;
      this.toStream().write(buf);
      return;
    }
    this.budget -= buf.length;
    while (buf.length > 0) {
      try {
        buf = buf.subarray(writeSync(this.fd, buf));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') return this.epipe();
        if (code !== 'EAGAIN') throw (this.failed = outputFailure(this.fd, e));
        this.direct = false;
        this.toStream().write(buf);
        return;
      }
    }
  }
}
