/**
 * Reading a local file the user named (--conf, a kubeconfig, the certificate files it names) so that no wait can
 * outlast a signal: the file is opened non-blocking, and a FIFO or socket is read through the event loop (epoll). A
 * FIFO nobody writes yet waits for its writer, as `cat` would, but never inside a libuv pool thread — a process cannot
 * exit past a blocked read() there, so SIGINT/SIGTERM would print "stopping" and hang (issue 11, kind 2) — and never
 * past `signal` (a time limit: completion's, for one). A regular file or a device is read up to the limit.
 */
// node:fs, not node:fs/promises: the CLI has loaded node:fs anyway
import { close, constants, fstat, open, read } from 'node:fs';
import { promisify } from 'node:util';

/**
 * The bytes of the file at path, or undefined when it does not exist (ENOENT).
 * Errors: the errno error of open/read (EACCES, …); EISDIR for a directory; `EFBIG` (an Error with that code) when
 * the file holds more than maxBytes bytes — /dev/zero or a runaway writer stops there; `ABORT_ERR` (an Error with that
 * code, the signal's reason as its cause) when `signal` is aborted first: a FIFO's read stops at once, a regular
 * file's at its next chunk.
 */
export async function readLocalBytes(path: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer | undefined> {
  const tooBig = () => Object.assign(new Error(`more than ${maxBytes} bytes`), { code: 'EFBIG' });
  const aborted = () => Object.assign(new Error(`${path}: not read: ${(signal?.reason as Error | undefined)?.message ?? 'aborted'}`), { code: 'ABORT_ERR', cause: signal?.reason });
  if (signal?.aborted) throw aborted();
  let fd: number;
  try {
    fd = await promisify(open)(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let owned = true; // until a socket takes the descriptor over (it closes it)
  try {
    const st = await promisify(fstat)(fd);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    const chunks: Buffer[] = [];
    let size = 0;
    if (st.isFIFO() || st.isSocket()) {
      // 'net', not 'node:net': scripts/bundle.mjs serves src's node:net lazily with isIP only
      const { Socket } = await import('net');
      const sock = new Socket({ fd, readable: true, writable: false });
      owned = false;
      const stop = () => sock.destroy(aborted());
      signal?.addEventListener('abort', stop, { once: true });
      try {
        if (signal?.aborted) stop();
        for await (const c of sock) {
          size += (c as Buffer).length;
          if (size > maxBytes) throw tooBig();
          chunks.push(c as Buffer);
        }
      } finally {
        signal?.removeEventListener('abort', stop);
        sock.destroy();
      }
    } else {
      for (;;) {
        if (signal?.aborted) throw aborted();
        const buf = Buffer.alloc(64 * 1024);
        const { bytesRead } = await promisify(read)(fd, buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        size += bytesRead;
        if (size > maxBytes) throw tooBig();
        chunks.push(buf.subarray(0, bytesRead));
      }
    }
    return Buffer.concat(chunks);
  } finally {
    if (owned) close(fd, () => undefined);
  }
}

/** readLocalBytes as UTF-8 text (its errors). */
export async function readLocalText(path: string, maxBytes: number, signal?: AbortSignal): Promise<string | undefined> {
  return (await readLocalBytes(path, maxBytes, signal))?.toString('utf8');
}
