/** How results and plans are shown: a short human summary by default, or JSON / YAML, or kubectl's `-o name`. */
import type { JsonObject } from '../cni/conf.js';
import { cniVars } from '../cni/env.js';
import type { PluginRun } from '../cni/invoke.js';
import { summarizeResult } from '../cni/result.js';
import { buildEnv } from '../cni/env.js';
import { load } from './load.js';
import { onNode, type CommandRunner } from '../exec/types.js';
import type { CommonFlags, KubectlFlags } from './options.js';

export async function formatData(data: unknown, format: string): Promise<string> {
  if (format === 'yaml') {
    const yaml = await load.yaml();
    return yaml.dump(data, { noRefs: true, lineWidth: -1 });
  }
  return `${JSON.stringify(data, null, 2)}\n`;
}

/**
 * kubectl's `-o name` line of a pod acted on (`kubectl label … -o name`): "pod/NAME", without the namespace (also with
 * -A), and the same for a dry run (kubectl's NamePrinter prints no operation, so no "(dry run)"). `pod`: NAME or
 * NAMESPACE/NAME.
 */
export function nameLine(pod: string): string {
  return `pod/${pod.slice(pod.lastIndexOf('/') + 1)}\n`;
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

/**
 * The result on one line, for a batch's progress line ("attached eth1: 198.18.50.2/24  gateway 198.18.50.1  mac …"):
 * summaryLines' address lines without the interface name they start with when it is `ifname` (the progress line has
 * just named it), joined with "; " (another interface's keeps its name); routes and DNS are left to -o json.
 */
export function summaryInline(result: JsonObject, ifname: string): string {
  return summaryLines(result, ifname)
    .map((l) => l.trim())
    .filter((l) => !l.startsWith('route ') && !l.startsWith('dns '))
    .map((l) => (l.startsWith(`${ifname}  `) ? l.slice(ifname.length + 2) : l))
    .join('; ');
}

/** s as one word of a POSIX shell command line (quoted only when it must be). */
export function shellQuote(s: string): string {
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

/**
 * The plan of a --dry-run: where, then each run as a shell command (summary) or as data (json/yaml). `on`: the node
 * the runs would be made on; when it is not this host, a line says so (and the data's target carries `runsOn`): its
 * paths (netns, plugins) are that node's, the commands are to be pasted there. `waits`: what the real command would
 * wait for first (a running cni-gc: cni/attach.ts gcWaitLine), a line each (the data's `waits`).
 */
export async function printPlan(
  out: (s: string) => void, format: string, where: Record<string, unknown>, runs: PluginRun[], on?: Pick<CommandRunner, 'elsewhere'>,
  none = 'nothing is recorded: no plugin would run',
  waits: string[] = [],
): Promise<void> {
  const elsewhere = on?.elsewhere;
  // -o name: the pod it would act on (kubectl's --dry-run=client -o name), never a netns (refused: options.ts)
  if (format === 'name') return out(nameLine(String(where.pod)));
  if (format === 'summary') {
    out(`# target: ${Object.entries(where).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
    if (elsewhere) out(`# the paths below are${onNode(on)}: these commands run there, not on this host\n`);
    for (const w of waits) out(`# ${w}\n`);
    out(runs.length ? runs.map((r, i) => runAsShell(r, i, runs.length)).join('\n') : `# ${none}\n`);
  } else out(await formatData({ target: elsewhere ? { ...where, runsOn: elsewhere } : where, ...(waits.length ? { waits } : {}), runs: planData(runs) }, format));
}

/**
 * The flags of the user's command that say how the cluster and the node were reached, as the user gave them: what a
 * follow-up command the tool prints must carry to reach the same cluster and node the same way (an air-gapped cluster
 * needs its --agent-image, a second kubeconfig its --kubeconfig/--context, …). Defaults are left out.
 */
export type ReachFlags = Partial<
  Pick<KubectlFlags, 'kubeconfig' | 'context' | 'cluster' | 'user' | 'server' | 'token' | 'clientCertificate' | 'clientKey' | 'username' | 'password' | 'certificateAuthority' | 'insecureSkipTlsVerify' | 'tlsServerName' | 'as' | 'asGroup' | 'asUid'> &
    Pick<CommonFlags, 'runtime' | 'dockerHost' | 'agentImage' | 'agentNamespace' | 'cacheDir' | 'cniPath'>
>;

/**
 * The words of those flags for a follow-up command: --cache-dir (when not /var/lib/cni) and --cni-path always; with
 * `cluster`, also kubectl's flags that choose the cluster and the identity, and --runtime, --docker-host,
 * --agent-image, --agent-namespace (when not their defaults). A --token or --password is never printed: it stands as
 * `--token TOKEN` / `--password PASSWORD`, to be filled in, as a placeholder target is (messages end up in logs and
 * tickets).
 */
export function reachArgs(flags: ReachFlags, cluster: boolean): string[] {
  const out = cluster ? kubectlArgs(flags) : [];
  const add = flagAdder(out);
  if (cluster) {
    if (flags.runtime !== undefined && flags.runtime !== 'auto') add('--runtime', flags.runtime);
    add('--docker-host', flags.dockerHost);
    add('--agent-image', flags.agentImage);
    if (flags.agentNamespace !== undefined && flags.agentNamespace !== 'kube-system') add('--agent-namespace', flags.agentNamespace);
  }
  if (flags.cacheDir && flags.cacheDir.replace(/\/+$/, '') !== '/var/lib/cni') add('--cache-dir', flags.cacheDir);
  add('--cni-path', flags.cniPath);
  return out;
}

/** Push `flag value` onto out when the value is given. */
const flagAdder = (out: string[]) => (flag: string, v: string | undefined) => {
  if (v !== undefined) out.push(flag, v);
};

/** The secrets' stand-ins in a printed command line, left unquoted: to be filled in. */
const PLACEHOLDERS = new Set(['TOKEN', 'PASSWORD']);

/** kubectl's own flags among them: those that choose the cluster and the identity (a --token as `--token TOKEN`, a --password as `--password PASSWORD`). */
function kubectlArgs(flags: ReachFlags): string[] {
  const out: string[] = [];
  const add = flagAdder(out);
  add('--kubeconfig', flags.kubeconfig);
  add('--context', flags.context);
  if (typeof flags.cluster === 'string') add('--cluster', flags.cluster);
  add('--user', flags.user);
  add('--server', flags.server);
  if (flags.token !== undefined) out.push('--token', 'TOKEN');
  add('--client-certificate', flags.clientCertificate);
  add('--client-key', flags.clientKey);
  add('--username', flags.username);
  if (flags.password !== undefined) out.push('--password', 'PASSWORD');
  add('--certificate-authority', flags.certificateAuthority);
  if (flags.insecureSkipTlsVerify) out.push('--insecure-skip-tls-verify');
  add('--tls-server-name', flags.tlsServerName);
  add('--as', flags.as);
  for (const g of flags.asGroup ?? []) add('--as-group', g);
  add('--as-uid', flags.asUid);
  return out;
}

/**
 * The kubectl command that removes one data key of a ConfigMap (a record: resolve/records.ts), as the tool removes
 * records, a JSON merge patch setting it to null: `kubectl patch configmap cni-attach-node-node-a -n kube-system
 * --type merge -p '{"data":{"<key>":null}}'`, with kubectl's flags that reached the cluster. `keyJson`: the key as a
 * JSON string whose control characters are escaped (records.ts safeJson), so that any key stays one word.
 */
export function removeKeyCommandLine(flags: ReachFlags, namespace: string, configMap: string, keyJson: string): string {
  return removeKeysCommandLine(flags, namespace, configMap, [keyJson]);
}

/** removeKeyCommandLine for several keys of one ConfigMap: one merge patch that sets each to null. */
export function removeKeysCommandLine(flags: ReachFlags, namespace: string, configMap: string, keysJson: string[]): string {
  const patch = `{"data":{${keysJson.map((k) => `${k}:null`).join(',')}}}`;
  return ['kubectl', 'patch', 'configmap', configMap, '-n', namespace, '--type', 'merge', '-p', patch, ...kubectlArgs(flags)].map((w) => (PLACEHOLDERS.has(w) ? w : shellQuote(w))).join(' ');
}

/**
 * The cni-detach command line for a target, as a person would paste it ("kubectl cni-detach --netns /var/run/netns/a
 * --ifname eth1"), with the flags that reached the cluster and the node (reachArgs; for a bare namespace, which is
 * this host's, only --cache-dir and --cni-path): for the messages that name it. `command`: cni-check for its own;
 * cni-attach for the same attach again, with `--conf FILE` as a placeholder (no record keeps the config). A
 * batch's pods (`selector`; undefined: all of the namespace): "kubectl cni-detach -l 'app=web' -n shop --ifname eth1".
 */
export function detachCommandLine(
  target: { netns: string } | { namespace: string; name: string } | { namespace: string | undefined; selector: string | undefined },
  ifname: string,
  flags: ReachFlags,
  command: 'cni-detach' | 'cni-check' | 'cni-attach' = 'cni-detach',
): string {
  const parts = ['kubectl', command];
  if ('netns' in target) parts.push('--netns', target.netns);
  else if ('name' in target) parts.push(target.name, '-n', target.namespace);
  // a batch of every namespace (-A): namespace undefined
  else parts.push(...(target.selector !== undefined ? ['-l', target.selector] : ['--all']), ...(target.namespace !== undefined ? ['-n', target.namespace] : ['-A']));
  // an attach again needs its network's config, which no record keeps: a placeholder to fill in
  parts.push('--ifname', ifname, ...(command === 'cni-attach' ? ['--conf', 'FILE'] : []), ...reachArgs(flags, !('netns' in target)));
  return parts.map((w) => (PLACEHOLDERS.has(w) ? w : shellQuote(w))).join(' ');
}

/**
 * The cni-detach command line of a cached attachment (detachCommandLine) by what its record names: its pod, else its
 * network namespace, else a target to fill in — `--netns PATH` for a cnitool-style container id (or none), `POD -n
 * NAMESPACE` otherwise (a record whose text lost its target); `IFNAME` for a record that lost its interface name.
 * `force`: with --force (another host's lock, an unreadable record). For the ways out that cni-list and cni-gc name.
 */
export function recordDetachLine(of: { pod?: { namespace: string; name: string }; netns?: string; containerId: string }, ifname: string, flags: ReachFlags, force = false): string {
  const target = of.pod ? { namespace: of.pod.namespace, name: of.pod.name } : of.netns ? { netns: of.netns } : of.containerId.startsWith('cnitool-') || !of.containerId ? { netns: 'PATH' } : { namespace: 'NAMESPACE', name: 'POD' };
  return `${detachCommandLine(target, ifname || 'IFNAME', flags)}${force ? ' --force' : ''}`;
}

/**
 * The cni-list of a namespace's pods (of a selector, when given) with the flags that reach them (reachArgs), as a
 * command to paste: `kubectl cni-list -n shop -l 'app=web' --kubeconfig …`.
 */
export function listCommandLine(flags: ReachFlags & { namespace?: string; selector?: string }): string {
  return ['kubectl', 'cni-list', ...(flags.namespace !== undefined ? ['-n', flags.namespace] : []), ...(flags.selector !== undefined ? ['-l', flags.selector] : []), ...reachArgs(flags, true)].map(shellQuote).join(' ');
}

/** The `kubectl cni-list -A` that lists every namespace's rows, with the flags that reach what `flags` reach. */
export function listAllCommandLine(flags: ReachFlags): string {
  return ['kubectl', 'cni-list', '-A', ...reachArgs(flags, true)].map(shellQuote).join(' ');
}

/** The cni-gc command line, with the flags that reached the cluster and the node (reachArgs). */
export function gcCommandLine(flags: ReachFlags): string {
  return ['kubectl', 'cni-gc', ...reachArgs(flags, true)].map(shellQuote).join(' ');
}

/** The command lines that clear a target's record, for the engine's messages (it names no flag): see cni/attach.ts WaysOut. */
export function waysOut(
  target: { netns: string } | { namespace: string; name: string },
  ifname: string,
  flags: ReachFlags,
): { detach: string; force: string; forceWithConfig: string } {
  const detach = detachCommandLine(target, ifname, flags);
  return { detach, force: `${detach} --force`, forceWithConfig: `${detach} --force --conf FILE` };
}

/** How many pods a summary names in each of its groups; each pod's own progress line names every one. */
export const NAMED_AT_MOST = 5;

/**
 * The first NAMED_AT_MOST of pods, then how many more: "ns/a, ns/b" or "ns/a, …, ns/e, … and 95 more" (`where`, when
 * given, after it: where the pods not named are named). One more than NAMED_AT_MOST is named rather than counted ("…
 * and 1 more" said less than the name: an outside tester's summary of 6 pods named 5, the 6th only on stderr). A
 * summary of 1 000 pods stays one readable line; -o json names every pod.
 */
export function someNames(pods: string[], where = ''): string {
  if (pods.length <= NAMED_AT_MOST + 1) return pods.join(', ');
  return `${pods.slice(0, NAMED_AT_MOST).join(', ')}, … and ${pods.length - NAMED_AT_MOST} more${where}`;
}
