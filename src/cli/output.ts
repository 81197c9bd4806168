/** How results and plans are shown: a short human summary by default, or JSON / YAML. */
import type { JsonObject } from '../cni/conf.js';
import { cniVars } from '../cni/env.js';
import type { PluginRun } from '../cni/invoke.js';
import { summarizeResult } from '../cni/result.js';
import { buildEnv } from '../cni/env.js';
import { load } from './load.js';

export async function formatData(data: unknown, format: string): Promise<string> {
  if (format === 'yaml') {
    const yaml = await load.yaml();
    return yaml.dump(data, { noRefs: true, lineWidth: -1 });
  }
  return `${JSON.stringify(data, null, 2)}\n`;
}

/** "eth1  198.18.0.2/24  gw 198.18.0.1  mac 0a:58:…" lines, one per address (or per interface without one). */
export function summaryLines(result: JsonObject, ifname: string): string[] {
  const s = summarizeResult(result);
  const macOf = (name?: string) => s.interfaces.find((i) => i.name === (name ?? ifname))?.mac;
  const lines: string[] = [];
  for (const ip of s.ips) {
    const name = ip.interface ?? ifname;
    const mac = macOf(name);
    lines.push(`  ${name}  ${ip.address}${ip.gateway ? `  gateway ${ip.gateway}` : ''}${mac ? `  mac ${mac}` : ''}`);
  }
  if (s.ips.length === 0) {
    const mac = macOf(ifname);
    lines.push(`  ${ifname}  (no address)${mac ? `  mac ${mac}` : ''}`);
  }
  for (const r of s.routes) lines.push(`  route ${r.dst}${r.gw ? ` via ${r.gw}` : ''}`);
  if (s.dns.nameservers?.length) lines.push(`  dns ${s.dns.nameservers.join(', ')}`);
  return lines;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A plugin run as a command a person could paste into a root shell. */
export function runAsShell(run: PluginRun, index: number, total: number): string {
  const env = cniVars(buildEnv({}, run.args));
  const vars = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`).join(' ');
  return [
    `# plugin ${index + 1}/${total}: ${run.type}`,
    `${vars} ${run.path} <<'EOF'`,
    JSON.stringify(run.stdin, null, 2),
    'EOF',
    '',
  ].join('\n');
}

export function planData(runs: PluginRun[]): JsonObject[] {
  return runs.map((r) => ({ plugin: r.type, path: r.path, env: cniVars(buildEnv({}, r.args)), stdin: r.stdin }));
}

/** The plan of a --dry-run: where, then each run as a shell command (summary) or as data (json/yaml). */
export async function printPlan(out: (s: string) => void, format: string, where: Record<string, unknown>, runs: PluginRun[]): Promise<void> {
  if (format === 'summary') {
    out(`# target: ${Object.entries(where).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
    out(runs.length ? runs.map((r, i) => runAsShell(r, i, runs.length)).join('\n') : '# nothing is recorded: no plugin would run\n');
  } else out(await formatData({ target: where, runs: planData(runs) }, format));
}

/**
 * The cni-detach command line for a target, as a person would paste it ("kubectl cni-detach --netns /var/run/netns/a
 * --ifname eth1"), with --cache-dir and --cni-path when they are not the defaults: for the messages that name it.
 */
export function detachCommandLine(
  target: { netns: string } | { namespace: string; name: string },
  ifname: string,
  flags: { cacheDir?: string; cniPath?: string },
): string {
  const parts = ['kubectl', 'cni-detach'];
  if ('netns' in target) parts.push('--netns', target.netns);
  else parts.push(target.name, '-n', target.namespace);
  parts.push('--ifname', ifname);
  if (flags.cacheDir && flags.cacheDir.replace(/\/+$/, '') !== '/var/lib/cni') parts.push('--cache-dir', flags.cacheDir);
  if (flags.cniPath !== undefined) parts.push('--cni-path', flags.cniPath);
  return parts.map(shellQuote).join(' ');
}

/** The cni-gc command line for the cache at flags.cacheDir ("kubectl cni-gc", with --cache-dir when not the default). */
export function gcCommandLine(flags: { cacheDir?: string }): string {
  const parts = ['kubectl', 'cni-gc'];
  if (flags.cacheDir && flags.cacheDir.replace(/\/+$/, '') !== '/var/lib/cni') parts.push('--cache-dir', flags.cacheDir);
  return parts.map(shellQuote).join(' ');
}

/** The command lines that clear a target's record, for the engine's messages (it names no flag): see cni/attach.ts WaysOut. */
export function waysOut(
  target: { netns: string } | { namespace: string; name: string },
  ifname: string,
  flags: { cacheDir?: string; cniPath?: string },
): { detach: string; force: string; forceWithConfig: string } {
  const detach = detachCommandLine(target, ifname, flags);
  return { detach, force: `${detach} --force`, forceWithConfig: `${detach} --force --conf FILE` };
}
