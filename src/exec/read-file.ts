/**
 * Reading a local file the user named (--conf, a kubeconfig) so that no wait can outlast a signal: the file is opened
 * non-blocking, and a FIFO or socket is read through the event loop (epoll). A FIFO nobody writes yet waits for its
 * writer, as `cat` would, but never inside a libuv pool thread — a process cannot exit past a blocked read() there, so
 * SIGINT/SIGTERM would print "stopping" and hang (issue 11, kind 2). A regular file or a device is read up to the limit.
 */
// node:fs, not node:fs/promises: the CLI has loaded node:fs anyway
import { close, constants, fstat, open, read } from 'node:fs';
import { promisify } from 'node:util';

/**
 * The text of the file at path (UTF-8), or undefined when it does not exist (ENOENT).
 * Errors: the errno error of open/read (EACCES, …); EISDIR for a directory; `EFBIG` (an Error with that code) when
 * the file holds more than maxBytes bytes — /dev/zero or a runaway writer stops there.
 */
export async function readLocalText(path: string, maxBytes: number): Promise<string | undefined> {
  const tooBig = () => Object.assign(new Error(`more than ${maxBytes} bytes`), { code: 'EFBIG' });
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
      try {
        for await (const c of sock) {
          size += (c as Buffer).length;
          if (size > maxBytes) throw tooBig();
          chunks.push(c as Buffer);
        }
      } finally {
        sock.destroy();
      }
    } else {
      for (;;) {
        const buf = Buffer.alloc(64 * 1024);
        const { bytesRead } = await promisify(read)(fd, buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        size += bytesRead;
        if (size > maxBytes) throw tooBig();
        chunks.push(buf.subarray(0, bytesRead));
      }
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    if (owned) close(fd, () => undefined);
  }
}
