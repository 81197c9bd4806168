/**
 * The framing of several commands' outputs on one stdout, for the scripts that run many steps on a node in one round
 * trip (exec/batch.ts's steps, resolve/cri.ts's sandbox look-up). Each step's outcome is
 *
 *     <mark> <key>\n
 *     <its stdout, as it is>
 *     \n<mark> <key> <exit code>\n
 *     <its stderr, as it is>
 *     \n<mark> <key> .\n
 *
 * The outputs go as they are, with no encoding: a step's stdout may go straight to the frame, with no file and no
 * process (STEP_SH); a `base64` of each output cost a process per step on the node, paid for every pod of a batch
 * (see BENCHMARKS.md). What ends a body is the line that follows it, which holds the mark: a random word per round trip
 * (128 bits), which no file read or command run there can be expected to print by chance. The `\n` before each such
 * line is the frame's, not the output's, so an output that does not end in a newline comes back as it was. A header
 * with a key in `bare` (e.g. `<mark> end`, `<mark> tool crictl`) is one line, with no body.
 *
 * The outputs are decoded as UTF-8 (they are JSON, names and numbers): bytes that are not UTF-8 do not come back
 * byte for byte (a listing's sizes then do not add up, and the engine reads those files one by one instead).
 */

/**
 * sh defining `emit MARK KEY RC FILE`: the frame of a step whose stdout is in FILE (kept there for the script's own
 * use) and its stderr in "$t/e" (a `cat` for each that is not empty, none for an empty one). Needs cat.
 */
export const EMIT_SH = `emit() { printf '%s %s\\n' "$1" "$2"; [ ! -s "$4" ] || cat "$4"; printf '\\n%s %s %s\\n' "$1" "$2" "$3"; [ ! -s "$t/e" ] || cat "$t/e"; printf '\\n%s %s .\\n' "$1" "$2"; }`;

/**
 * sh defining `fo MARK KEY` and `fc MARK KEY RC`, which open and close the frame of a step that prints its stdout
 * straight into the frame between them, its stderr in "$t/se": `fo "$m" 3; ( step ) 2> "$t/se"; fc "$m" 3 $?`. No
 * process unless the step wrote to stderr (a `cat`).
 */
export const STEP_SH = `fo() { printf '%s %s\\n' "$1" "$2"; }
fc() { printf '\\n%s %s %s\\n' "$1" "$2" "$3"; [ ! -s "$t/se" ] || cat "$t/se"; printf '\\n%s %s .\\n' "$1" "$2"; }`;

export interface Frame {
  key: string;
  /** The exit code, or (a bare header) the word after the key. */
  code: string;
  stdout: Buffer;
  stderr: Buffer;
}

/** One frame as EMIT_SH and STEP_SH print it (for fakes and tests that answer as a node would). */
export function frame(mark: string, key: string, code: number | string, stdout: string | Buffer = '', stderr: string | Buffer = ''): string {
  return `${mark} ${key}\n${Buffer.from(stdout).toString('utf8')}\n${mark} ${key} ${code}\n${Buffer.from(stderr).toString('utf8')}\n${mark} ${key} .\n`;
}

/**
 * The frames at the start of `text` (or, `scan`, anywhere in it: lines that are not frames are skipped), up to a bare
 * header `end` when `bare` has it: `rest` is then what follows that line, else undefined. A frame cut short (the
 * command was killed, the connection lost) is not returned.
 */
export function parseFrames(text: string, mark: string, bare: readonly string[] = [], scan = false): { frames: Frame[]; rest: string | undefined } {
  const frames: Frame[] = [];
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    if (nl < 0) break;
    const l = text.slice(pos, nl);
    if (!l.startsWith(`${mark} `)) {
      if (!scan) break;
      pos = nl + 1;
      continue;
    }
    const [key = '', code = ''] = l.slice(mark.length + 1).split(' ');
    if (bare.includes(key)) {
      pos = nl + 1;
      if (key === 'end') return { frames, rest: text.slice(pos) };
      frames.push({ key, code, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) });
      continue;
    }
    // the body runs to the line that closes it: `\n<mark> <key> <code>\n`, then `\n<mark> <key> .\n`
    const head = `\n${mark} ${key} `;
    const bodyAt = nl + 1;
    const closeAt = text.indexOf(head, bodyAt);
    if (closeAt < 0) break;
    const codeEnd = text.indexOf('\n', closeAt + head.length);
    if (codeEnd < 0) break;
    const endLine = `\n${mark} ${key} .\n`;
    const endAt = text.indexOf(endLine, codeEnd);
    if (endAt < 0) break;
    frames.push({
      key,
      code: text.slice(closeAt + head.length, codeEnd),
      stdout: Buffer.from(text.slice(bodyAt, closeAt), 'utf8'),
      stderr: Buffer.from(text.slice(codeEnd + 1, endAt), 'utf8'),
    });
    pos = endAt + endLine.length;
  }
  return { frames, rest: undefined };
}
