/**
 * Node round trips as the far side sees them: a command sent as an exec of its own is one; an exec that runs a node
 * session (exec/node-session.ts) carries many, one per request on its stdin. Counted from the stdin an exec received
 * (the stand-in API server records it per exec; the Docker proxy per hijacked exec stream), by walking the session
 * protocol: a line `<id> <script bytes> <stdin bytes>`, then that many bytes; `exit 0 0` ends it.
 */

const HEADER = /^(\d+) (\d+) (\d+)\n/;

/** The requests in a session's stdin; undefined when the stdin is not a session's (a plain exec's, or empty). */
export function sessionRequests(stdin: Buffer): number | undefined {
  let pos = 0;
  let n = 0;
  for (;;) {
    const nl = stdin.indexOf(10, pos);
    if (nl < 0) return pos === 0 ? undefined : n;
    const line = stdin.subarray(pos, nl + 1).toString('latin1');
    if (line === 'exit 0 0\n') return n;
    const m = HEADER.exec(line);
    if (!m) return pos === 0 ? undefined : n;
    pos = nl + 1 + Number(m[2]) + Number(m[3]);
    n++;
  }
}

/** Round trips of one exec: its session's requests, or 1. */
export function execRoundTrips(stdin: Buffer): number {
  return sessionRequests(stdin) ?? 1;
}
