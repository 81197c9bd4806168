/**
 * Node round trips as the far side sees them: a command sent as an exec of its own is one; an exec that runs a node
 * session (exec/node-session.ts) carries many, one per request on its stdin. Counted from the stdin an exec received
 * (the stand-in API server records it per exec; the Docker proxy per hijacked exec stream), by walking the session
 * protocol: the boot, `# cni-attach-boot <bytes>` and that many bytes, then each request, `# cni-attach-request <id>
 * <bytes>` and that many bytes; `exit 0` ends it.
 */

/**
 * A header line of one protocol, read: the bytes that follow it (undefined: not a header here) and whether it counts as
 * a request; `pos0`: whether it is the stdin's first line.
 */
type ReadHeader = (line: string, pos0: boolean) => { skip: number; request: boolean } | undefined;

/** This protocol: the boot first, then the requests. */
const current = { end: 'exit 0\n', read: ((line, pos0) => {
  const m = /^# cni-attach-(boot|request) (?:\d+ )?(\d+)\n$/.exec(line);
  return m && pos0 === (m[1] === 'boot') ? { skip: Number(m[2]), request: m[1] === 'request' } : undefined;
}) as ReadHeader };

/**
 * The earlier protocol (a build before requests were sh code, as `npm run bench --compare` may time): `<id> <script
 * bytes> <stdin bytes>` and those bytes each; `exit 0 0` ends it.
 */
const earlier = { end: 'exit 0 0\n', read: ((line) => {
  const m = /^(\d+) (\d+) (\d+)\n$/.exec(line);
  return m ? { skip: Number(m[2]) + Number(m[3]), request: true } : undefined;
}) as ReadHeader };

/** The requests in a session's stdin; undefined when the stdin is not a session's (a plain exec's, or empty). */
export function sessionRequests(stdin: Buffer): number | undefined {
  const first = stdin.subarray(0, stdin.indexOf(10) + 1).toString('latin1');
  const { end, read } = earlier.read(first, true) ? earlier : current;
  let pos = 0;
  let n = 0;
  for (;;) {
    const nl = stdin.indexOf(10, pos);
    if (nl < 0) return pos === 0 ? undefined : n;
    const line = stdin.subarray(pos, nl + 1).toString('latin1');
    if (line === end) return n;
    const h = read(line, pos === 0);
    if (!h) return pos === 0 ? undefined : n;
    pos = nl + 1 + h.skip;
    if (h.request) n++;
  }
}

/** Round trips of one exec: its session's requests, or 1. */
export function execRoundTrips(stdin: Buffer): number {
  return sessionRequests(stdin) ?? 1;
}
