// Preloaded (node --import) into a real CLI run by test/helpers/run.ts: SIGKILLs the process at an exact point of its
// file work, the way a crash, an OOM kill or `kill -9` would, so that tests can check what such a death leaves behind.
//
//   RELIABILITY_CRASH=before:mkdir:/results      killed as it is about to create the results directory (write of a result)
//   RELIABILITY_CRASH=before:rename:/results/    killed between writing the result's temp file and renaming it
//   RELIABILITY_CRASH=after:rename:/intents/     killed just after the intent was recorded
//   RELIABILITY_CRASH=before:unlink:/results/    killed as it is about to remove a result (detach, after DEL)
//
// WHEN is before|after, FN one of mkdir, writeFile, rename, rm, unlink, open; the path matched is the destination for rename and
// the first argument otherwise. Only node:fs/promises is patched (what src/exec/local.ts uses): its exports object, which
// a CommonJS bundle reads at each call, and (syncBuiltinESMExports) the ESM named exports, for an ESM bundle.
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';

const spec = process.env.RELIABILITY_CRASH ?? '';
const [when, fn, ...rest] = spec.split(':');
const needle = rest.join(':');
if (spec) {
  if (!['before', 'after'].includes(when) || !['mkdir', 'writeFile', 'rename', 'rm', 'unlink', 'open'].includes(fn) || !needle) {
    process.stderr.write(`crash-at: bad RELIABILITY_CRASH ${JSON.stringify(spec)}\n`);
    process.exit(99);
  }
  const original = fsp[fn];
  const die = () => process.kill(process.pid, 'SIGKILL');
  fsp[fn] = async function (...args) {
    const path = String(fn === 'rename' ? args[1] : args[0]);
    const hit = path.includes(needle);
    if (hit && when === 'before') die();
    const r = await original.apply(this, args);
    if (hit && when === 'after') die();
    return r;
  };
  syncBuiltinESMExports();
}
