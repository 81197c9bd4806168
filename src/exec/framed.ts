/**
 * The framing of several commands' outputs on one stdout, for the scripts that run many steps on a node in one round
 * trip (exec/batch.ts's steps, resolve/cri.ts's sandbox look-up). Each step's outcome is
 *
 *     <mark> <key> <exit code>\n
 *     <base64 of its stdout, in lines as base64(1) wraps them>\n   (nothing when empty)
 *     -\n
 *     <base64 of its stderr>\n
 *     -\n
 *
 * `-` is not in the base64 alphabet, so it ends a body whatever the step printed; the random mark keeps the command's
 * own output (after the frames) from being taken for a frame. base64's own line breaks are kept: removing them took a
 * `tr` process per output on the node, and every process there is paid for every pod (see BENCHMARKS.md). A header with
 * a key in `bare` (e.g. `<mark> end`, `<mark> tool crictl`) has no body.
 */

/**
 * sh defining `emit MARK KEY RC`: the frame of a step whose stdout and stderr are in "$t/o" and "$t/e" (no base64
 * process for an empty one). Needs base64 (coreutils or busybox).
 */
export const EMIT_SH = `emit() { printf '%s %s %s\\n' "$1" "$2" "$3"; [ ! -s "$t/o" ] || base64 < "$t/o"; echo -; [ ! -s "$t/e" ] || base64 < "$t/e"; echo -; }`;

export interface Frame {
  key: string;
  /** The exit code, or (a bare header) the word after the key. */
  code: string;
  stdout: Buffer;
  stderr: Buffer;
}

/** One frame as EMIT_SH prints it (for fakes and tests that answer as a node would). */
export function frame(mark: string, key: string, code: number | string, stdout: string | Buffer = '', stderr: string | Buffer = ''): string {
  const body = (b: string | Buffer) => {
    const s = Buffer.from(b).toString('base64');
    return s ? `${s.replace(/(.{76})(?=.)/g, '$1\n')}\n-\n` : '-\n';
  };
  return `${mark} ${key} ${code}\n${body(stdout)}${body(stderr)}`;
}

/**
 * The frames at the start of `text` (or, `scan`, anywhere in it: lines that are not frames are skipped), up to a bare
 * header `end` when `bare` has it: `rest` is then what follows that line, else undefined. A frame cut short (the
 * command was killed, the connection lost) is not returned.
 */
export function parseFrames(text: string, mark: string, bare: readonly string[] = [], scan = false): { frames: Frame[]; rest: string | undefined } {
  const frames: Frame[] = [];
  let pos = 0;
  const line = (): string | undefined => {
    const nl = text.indexOf('\n', pos);
    if (nl < 0) return undefined;
    const l = text.slice(pos, nl);
    pos = nl + 1;
    return l;
  };
  const body = (): Buffer | undefined => {
    let b64 = '';
    for (;;) {
      const l = line();
      if (l === undefined) return undefined;
      if (l === '-') return Buffer.from(b64, 'base64');
      b64 += l;
    }
  };
  while (pos < text.length) {
    const start = pos;
    const l = line();
    if (l === undefined) break;
    if (!l.startsWith(`${mark} `)) {
      if (scan) continue;
      pos = start;
      break;
    }
    const [key = '', code = ''] = l.slice(mark.length + 1).split(' ');
    if (bare.includes(key)) {
      if (key === 'end') return { frames, rest: text.slice(pos) };
      frames.push({ key, code, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) });
      continue;
    }
    const stdout = body();
    const stderr = stdout && body();
    if (!stdout || !stderr) break;
    frames.push({ key, code, stdout, stderr });
  }
  return { frames, rest: undefined };
}
