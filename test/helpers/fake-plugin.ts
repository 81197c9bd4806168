/** Fake CNI plugins: small shell scripts in a temp directory that is then passed as --cni-path. */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const DEFAULT_VERSION_ANSWER = '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}';

export interface FakePluginScript {
  /** Shell run for ADD (default: fail loudly, so a test that did not mean to ADD notices). */
  add?: string;
  /** Shell run for DEL (default: succeed silently, as DEL should). */
  del?: string;
  check?: string;
  /** Shell run for VERSION (default: a valid answer for 0.3.0 … 1.0.0). */
  version?: string;
  /** Shell run for STATUS (CNI 1.1; default: ready, exit 0). */
  status?: string;
}

/**
 * Write an executable plugin `name` into dir and return its path. The script reads its stdin config first (into
 * $CONF) so that the writer never sees a closed pipe, then dispatches on $CNI_COMMAND.
 */
export async function fakePlugin(dir: string, name: string, s: FakePluginScript): Promise<string> {
  const path = join(dir, name);
  const body = `#!/bin/sh
# fake CNI plugin written by cni-attach's integration tests
CONF=$(cat)
case "$CNI_COMMAND" in
VERSION)
${s.version ?? `echo '${DEFAULT_VERSION_ANSWER}'`}
;;
ADD)
${s.add ?? `echo '{"code": 999, "msg": "fake plugin: ADD not scripted"}'; exit 1`}
;;
DEL)
${s.del ?? 'exit 0'}
;;
CHECK)
${s.check ?? 'exit 0'}
;;
STATUS)
${s.status ?? 'exit 0'}
;;
*)
exit 0
;;
esac
`;
  await writeFile(path, body, { mode: 0o755 });
  await chmod(path, 0o755);
  return path;
}

/** A fake plugin's ADD that answers with its prevResult (or a bare result), after `pause` seconds. */
export function passThroughAdd(pause: string): string {
  return `sleep ${pause}
printf '%s' "$CONF" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const c=JSON.parse(s);process.stdout.write(JSON.stringify(c.prevResult??{cniVersion:c.cniVersion,interfaces:[{name:process.env.CNI_IFNAME}]}))})'`;
}
