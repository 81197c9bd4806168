/**
 * kubectl's flag syntax (spf13/pflag) on top of commander. commander reads `-n=shop` as the namespace "=shop", has
 * no `--flag=false` for booleans and no optional-value `-v`; pflag (so kubectl) reads:
 *
 *   -n shop   -n=shop   -nshop   --namespace shop   --namespace=shop
 *   --insecure-skip-tls-verify   --insecure-skip-tls-verify=true|false (also 1/0, t/f, T/F, TRUE/FALSE, True/False)
 *   -v=6   -v 6   -v6   --v=6   --v 6                       (klog's level flag)
 *   --                                                      (everything after it is an argument)
 *
 * normalizeArgv rewrites those forms into what commander reads the same way, before commander sees them. Two
 * differences from kubectl, kept on purpose: a bare `-v` (or `--verbose`, the flag of earlier versions) means level 1
 * where kubectl says "flag needs an argument", and `-v` takes the next word as its level only when it is a number.
 */
import type { Command, Option } from 'commander';

export interface FlagSpec {
  /** "-n" */
  short?: string;
  /** "--namespace" */
  long?: string;
  takesValue: boolean;
}

/** The flags of a commander command, as normalizeArgv needs them. */
export function flagSpecs(cmd: Command): FlagSpec[] {
  return (cmd.options as Option[]).map((o) => ({
    ...(o.short ? { short: o.short } : {}),
    ...(o.long ? { long: o.long } : {}),
    takesValue: o.required || o.optional,
  }));
}

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Rewrite pflag forms into commander's (see the module comment). Pure; unknown flags are left for commander to refuse. */
export function normalizeArgv(argv: string[], flags: FlagSpec[]): string[] {
  const out: string[] = [];
  const byShort = new Map(flags.filter((f) => f.short).map((f) => [f.short!, f]));
  const byLong = new Map(flags.filter((f) => f.long).map((f) => [f.long!, f]));
  const hasLevel = byLong.has('--v');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    // klog's level: -v N, -v=N, -vN, --v N, --v=N; bare -v / --verbose = 1
    if (hasLevel) {
      const m = /^(?:-v|--v)(?:=(.*)|(\d+))?$/.exec(a);
      if (m || a === '--verbose') {
        const inline = m?.[1] ?? m?.[2];
        if (inline !== undefined) out.push(`--v=${inline}`);
        else if (a === '--v' && i + 1 < argv.length) out.push(`--v=${argv[++i]}`);
        else if (/^\d+$/.test(argv[i + 1] ?? '')) out.push(`--v=${argv[++i]}`);
        else out.push('--v=1');
        continue;
      }
    }
    if (/^-[^-]/.test(a)) {
      const f = byShort.get(a.slice(0, 2));
      if (f?.takesValue && a.length > 2) {
        // -n=shop and -nshop
        out.push(a.slice(0, 2), a[2] === '=' ? a.slice(3) : a.slice(2));
        continue;
      }
    } else if (a.startsWith('--') && a.includes('=')) {
      const name = a.slice(0, a.indexOf('='));
      const value = a.slice(a.indexOf('=') + 1);
      const f = byLong.get(name);
      if (f && !f.takesValue) {
        // --insecure-skip-tls-verify=true|false
        if (TRUE.has(value)) out.push(name);
        else if (!FALSE.has(value)) out.push(a); // commander says what is wrong
        continue;
      }
    }
    out.push(a);
  }
  return out;
}
