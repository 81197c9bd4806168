/**
 * kubectl's flag syntax (spf13/pflag) on top of commander. commander reads `-n=shop` as the namespace "=shop", has
 * no `--flag=false` for booleans and no optional-value `-v`; pflag (so kubectl) reads:
 *
 *   -n shop   -n=shop   -nshop   --namespace shop   --namespace=shop
 *   -An shop   -An=shop                                    (booleans and a flag taking a value, in one word)
 *   --insecure-skip-tls-verify   --insecure-skip-tls-verify=true|false (also 1/0, t/f, T/F, TRUE/FALSE, True/False)
 *   --dry-run   --dry-run=client (the same)   --dry-run=none (none)   (kubectl's values; =server is refused)
 *   -v=6   -v 6   -v6   --v=6   --v 6                       (klog's level flag)
 *   --                                                      (everything after it is an argument)
 *
 * A flag that takes a value and has none in its word takes the next word as it is, whatever it looks like (pflag's
 * parseLongArg/parseSingleShortArg): `--ifname -v` names the interface "-v", `-n --` the namespace "--", and no
 * rewrite here touches such a word. scanArgv says what each word is; normalizeArgv rewrites the forms above into what
 * commander reads the same way (commander, too, takes the next word as the value of a `<value>` option whatever it
 * is), before commander sees them. Two differences from kubectl, kept on purpose: a bare `-v` (or `--verbose`, the
 * flag of earlier versions) means level 1 where kubectl says "flag needs an argument" (at the end, or before another
 * flag: `-v --ifname x`, where pflag would take `--ifname` as the level); otherwise `-v` takes the next word as its
 * level as pflag does (`-v 6`, `-v -3`, and `-v abc`, refused: never a pod named abc); a level is checked as kubectl
 * checks it (options.ts parseLevel).
 */
import type { Command, Option } from 'commander';
import { UsageError } from '../errors.js';

export interface FlagSpec {
  /** "-n" */
  short?: string;
  /** "--namespace" */
  long?: string;
  takesValue: boolean;
}

/** The flags of a commander command (its options and commander's -h/--help), as normalizeArgv needs them. */
export function flagSpecs(cmd: Command): FlagSpec[] {
  const specs: FlagSpec[] = (cmd.options as Option[]).map((o) => ({
    ...(o.short ? { short: o.short } : {}),
    ...(o.long ? { long: o.long } : {}),
    takesValue: o.required || o.optional,
  }));
  if (!specs.some((f) => f.short === '-h' || f.long === '--help')) specs.push({ short: '-h', long: '--help', takesValue: false });
  return specs;
}

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/**
 * One word of argv after normalizing, by what it is: a flag (with its value when written in the same word:
 * `--v=6`, `--namespace=shop`), the value of the flag before it, an argument, or the `--` that ends the flags.
 */
export interface Word {
  text: string;
  role: 'flag' | 'value' | 'arg' | 'end';
}

/** Rewrite pflag forms into commander's (see the module comment), saying what each word is. Pure; unknown flags are left for commander to refuse. */
export function scanArgv(argv: string[], flags: FlagSpec[]): Word[] {
  const out: Word[] = [];
  const byShort = new Map(flags.filter((f) => f.short).map((f) => [f.short!, f]));
  const byLong = new Map(flags.filter((f) => f.long).map((f) => [f.long!, f]));
  const hasLevel = byLong.has('--v');
  const flag = (text: string) => out.push({ text, role: 'flag' });
  let i = 0;
  /** The next word, as the value of the flag just pushed (none at the end: commander says the value is missing). */
  const valueFollows = () => {
    if (i + 1 < argv.length) out.push({ text: argv[++i]!, role: 'value' });
  };
  /**
   * A boolean written with a value (pflag's `--flag=false`): commander's bare flag, or nothing. `--dry-run` also takes
   * kubectl's values (kubectl's --dry-run is a string flag, "none", "client" or "server", bare meaning client): client
   * is this tool's dry run (nothing is changed anywhere), none none; server and anything else are left for commander
   * to refuse, and cli/main.ts says why (exit 2).
   */
  const boolWithValue = (name: string, value: string, word: string) => {
    if (name === '--dry-run' && (value === 'client' || value === 'none')) {
      if (value === 'client') flag(name);
    } else if (TRUE.has(value)) flag(name);
    else if (!FALSE.has(value)) flag(word); // commander says what is wrong
  };
  for (; i < argv.length; i++) {
    let a = argv[i]!;
    if (a === '--') {
      out.push({ text: a, role: 'end' }, ...argv.slice(i + 1).map((text): Word => ({ text, role: 'arg' })));
      break;
    }
    // -An, -An=shop, -Av6: each boolean of a word of short flags on its own, then the rest as a word of its own
    while (/^-[^-]./.test(a) && byShort.get(a.slice(0, 2))?.takesValue === false && a[2] !== '=') {
      flag(a.slice(0, 2));
      a = `-${a.slice(2)}`;
    }
    // klog's level: -v N, -v=N, -vN, --v N, --v=N; bare -v / --verbose = 1
    if (hasLevel) {
      const m = /^(?:-v|--v)(?:=(.*)|(\d+))?$/.exec(a);
      if (m || a === '--verbose') {
        const inline = m?.[1] ?? m?.[2];
        if (inline !== undefined) flag(`--v=${inline}`);
        else if (a === '--v' && i + 1 < argv.length) flag(`--v=${argv[++i]}`);
        // the next word is the level, as pflag takes it (`-v abc`: refused in its words, never a pod named abc), unless
        // it is a flag (or none): a bare -v
        else if (i + 1 < argv.length && (/^[+-]?\d+$/.test(argv[i + 1]!) || !argv[i + 1]!.startsWith('-'))) flag(`--v=${argv[++i]}`);
        else flag('--v=1');
        continue;
      }
    }
    if (/^-[^-]/.test(a)) {
      const f = byShort.get(a.slice(0, 2));
      if (f?.takesValue) {
        flag(a.slice(0, 2));
        // -n=shop and -nshop; -n shop
        if (a.length > 2) out.push({ text: a[2] === '=' ? a.slice(3) : a.slice(2), role: 'value' });
        else valueFollows();
      } else if (f && a[2] === '=') boolWithValue(a.slice(0, 2), a.slice(3), a);
      else flag(a);
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      const f = byLong.get(name);
      if (eq > 0 && f && !f.takesValue) boolWithValue(name, a.slice(eq + 1), a); // --insecure-skip-tls-verify=true|false
      else {
        flag(a);
        if (eq < 0 && f?.takesValue) valueFollows();
      }
      continue;
    }
    out.push({ text: a, role: 'arg' });
  }
  return out;
}

/** scanArgv's words as commander reads them. Pure. */
export function normalizeArgv(argv: string[], flags: FlagSpec[]): string[] {
  return scanArgv(argv, flags).map((w) => w.text);
}

/**
 * The POD argument as kubectl's pod commands take it (`kubectl exec pod/web-1`, `kubectl logs pods/web-1`): NAME, or
 * TYPE/NAME with TYPE pod, pods or po (resource names are lower case, as kubectl's RESTMapper matches them). Any
 * other TYPE is refused (exit 2): these commands work on pods, and a name holds no '/' (a DNS subdomain). Before,
 * `pod/one` was looked up as a pod of that name: exit 3, "the server could not find the requested resource".
 * Errors: UsageError.
 */
export function podArgument(value: string): string {
  const slash = value.indexOf('/');
  if (slash < 0) return value;
  const [type, name, ...more] = value.split('/');
  if (!type || !name || more.length) throw new UsageError(`${JSON.stringify(value)}: arguments in resource/name form must have a single resource and name`);
  if (type === 'pod' || type === 'pods' || type === 'po') return name;
  throw new UsageError(`${JSON.stringify(value)}: ${JSON.stringify(type)} is not a pod: these commands work on pods (POD, or pod/POD); the pods of a workload are chosen with -l SELECTOR`);
}
