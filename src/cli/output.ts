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
