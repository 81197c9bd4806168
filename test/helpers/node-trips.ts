/**
 * Node round trips as the far side sees them: a command sent as an exec of its own is one; an exec that runs a node
 * session (exec/node-session.ts) carries many, one per request on its stdin. Counted from the stdin an exec received
 * (the stand-in API server records it per exec; the Docker proxy per hijacked exec stream), by walking the session
 * protocol: the boot, `# cni-attach-boot <bytes>` and that many bytes, then each request, `# cni-attach-request <id>
 * <bytes>` and that many bytes; `exit 0` ends it.
 */

const HEADER = /^# cni-attach-(boot|request) (?:\d+ )?(\d+)\n$/;

/** The earlier protocol's request header (before requests were sh code): `<id> <script bytes> <stdin bytes>`. */
const OLD_HEADER = /^(\d+) (\d+) (\d+)\n$/;

/**
 * The requests of a session of the earlier protocol (a build before requests were sh code, as `npm run bench
 * --compare` may time): `<id> <script bytes> <stdin bytes>` and those bytes each; `exit 0 0` ends it.
 */
function oldSessionRequests(stdin: Buffer): number | undefined {
  let pos = 0;
  let n = 0;
  for (;;) {
    const nl = stdin.indexOf(10, pos);
    if (nl < 0) return pos === 0 ? undefined : n;
    const line = stdin.subarray(pos, nl + 1).toString('latin1');
    if (line === 'exit 0 0\n') return n;
    const m = OLD_HEADER.exec(line);
    if (!m) return pos === 0 ? undefined : n;
    pos = nl + 1 + Number(m[2]) + Number(m[3]);
    n++;
  }
}

/** The requests in a session's stdin; undefined when the stdin is not a session's (a plain exec's, or empty). */
export function sessionRequests(stdin: Buffer): number | undefined {
  if (OLD_HEADER.test(stdin.subarray(0, Math.max(0, stdin.indexOf(10)) + 1).toString('latin1'))) return oldSessionRequests(stdin);
  let pos = 0;
  let n = 0;
  for (;;) {
    const nl = stdin.indexOf(10, pos);
    if (nl < 0) return pos === 0 ? undefined : n;
    const line = stdin.subarray(pos, nl + 1).toString('latin1');
    if (line === 'exit 0\n') return n;
    const m = HEADER.exec(line);
    if (!m || (pos === 0) !== (m[1] === 'boot')) return pos === 0 ? undefined : n;
    pos = nl + 1 + Number(m[2]);
    if (m[1] === 'request') n++;
  }
}

/** Round trips of one exec: its session's requests, or 1. */
export function execRoundTrips(stdin: Buffer): number {
  return sessionRequests(stdin) ?? 1;
}
