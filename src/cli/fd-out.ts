/** Writing to stdout or stderr without Node's stream objects where the descriptor allows it (see FdOut). */
import { fstatSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';

/**
 * One of stdout (1) and stderr (2). Where the descriptor is a pipe, a socket (what a Node or Go parent usually
 * gives) or a regular file, text goes to it with fs.writeSync: making process.stdout or process.stderr for a pipe
 * loads Node's net and stream modules, ~6 ms of every command (BENCHMARKS.md). A terminal (its width and colours)
 * or anything else gets the stream as usual, and so does a descriptor that turns out to be non-blocking and full
 * (EAGAIN), from then on, which keeps the output in order.
 */
export class FdOut {
  private direct: boolean;
  private stream: NodeJS.WritableStream | undefined;

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
  }

  /** Whether output goes through fs.writeSync (not a terminal: no help width, no colours). */
  get isDirect(): boolean {
    return this.direct;
  }

  /** The stream, if anything was written through it (main waits for it to drain). */
  get usedStream(): NodeJS.WritableStream | undefined {
    return this.stream;
  }

  private toStream(): NodeJS.WritableStream {
    if (!this.stream) {
      this.stream = this.makeStream();
      this.stream.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'EPIPE') this.onEpipe();
        else throw e;
      });
    }
    return this.stream;
  }

  write(s: string): void {
    if (!this.direct) {
      this.toStream().write(s);
      return;
    }
    let buf = Buffer.from(s, 'utf8');
    while (buf.length > 0) {
      try {
        buf = buf.subarray(writeSync(this.fd, buf));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') return this.onEpipe();
        if (code !== 'EAGAIN') throw e;
        this.direct = false;
        this.toStream().write(buf);
        return;
      }
    }
  }
}
