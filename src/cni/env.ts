/** The CNI_* environment of a plugin run, and the names that go into it. Pure. */
import { UsageError } from '../errors.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS' | 'GC';

export interface InvocationArgs {
  command: CniCommand;
  containerId?: string;
  netns?: string;
  ifname?: string;
  /** CNI_ARGS as ordered pairs. */
  args?: [string, string][];
  /** Directories searched for plugins, joined with ':' into CNI_PATH. */
  path: string[];
}

/**
 * Interface names as the kernel and libcni accept them *as given*: the kernel's dev_valid_name (net/core/dev.c:
 * non-empty, shorter than IFNAMSIZ 16 bytes, not "." or "..", no '/', ':' or whitespace), libcni's
 * ValidateInterfaceName (pkg/utils: the same, whitespace as unicode.IsSpace), and no '%': the kernel reads a name
 * with '%' as a template (dev_alloc_name: "eth%d" becomes eth0), so the link would not be named what was asked.
 * Throws UsageError (exit 2) naming the rule.
 */
export function validateIfName(name: string): string {
  if (name === '') throw new UsageError('interface name is empty');
  if (Buffer.byteLength(name) > 15) throw new UsageError(`interface name ${JSON.stringify(name)} is longer than 15 bytes`);
  if (name === '.' || name === '..') throw new UsageError(`interface name ${JSON.stringify(name)} is not allowed`);
  if (name.includes('%')) {
    throw new UsageError(`interface name ${JSON.stringify(name)} may not contain '%' (the kernel would take it as a template, e.g. eth%d becomes eth0)`);
  }
  if (/[/:\s\u0085]/.test(name)) throw new UsageError(`interface name ${JSON.stringify(name)} may not contain '/', ':' or whitespace`);
  return name;
}

const CID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
export function validateContainerId(id: string): string {
  if (!CID_RE.test(id)) throw new UsageError(`container id ${JSON.stringify(id)} may only hold letters, digits, '_', '.', '-'`);
  return id;
}

/** "K=V;K=V" → pairs; keys and values may not hold ';' or '='. */
export function parseCniArgs(text: string): [string, string][] {
  if (text.trim() === '') return [];
  return text.split(';').map((kv) => {
    const i = kv.indexOf('=');
    if (i <= 0 || kv.indexOf('=', i + 1) !== -1) throw new UsageError(`CNI_ARGS entry ${JSON.stringify(kv)} is not KEY=VALUE`);
    return [kv.slice(0, i), kv.slice(i + 1)];
  });
}

export function formatCniArgs(pairs: [string, string][]): string {
  for (const [k, v] of pairs) {
    if (!k || /[;=]/.test(k) || /[;=]/.test(v)) throw new UsageError(`CNI_ARGS entry ${JSON.stringify(`${k}=${v}`)} may not contain ';' or '='`);
  }
  return pairs.map(([k, v]) => `${k}=${v}`).join(';');
}

/** The variables the spec defines for a command, added to base (from which any CNI_* was already removed). */
export function buildEnv(base: Record<string, string>, a: InvocationArgs): Record<string, string> {
  const env: Record<string, string> = { ...base, CNI_COMMAND: a.command, CNI_PATH: a.path.join(':') };
  if (a.command === 'VERSION' || a.command === 'STATUS' || a.command === 'GC') return env;
  if (a.containerId !== undefined) env.CNI_CONTAINERID = a.containerId;
  if (a.netns !== undefined) env.CNI_NETNS = a.netns;
  if (a.ifname !== undefined) env.CNI_IFNAME = a.ifname;
  if (a.args && a.args.length > 0) env.CNI_ARGS = formatCniArgs(a.args);
  return env;
}

/** Only the CNI_* part of an environment, for --dry-run and messages. */
export function cniVars(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('CNI_')));
}

/**
 * CNI_PATH directories: --cni-path, else $CNI_PATH, else /opt/cni/bin then /usr/lib/cni.
 * Relative entries (and empty ones, which mean "." to a shell) are refused: the current directory is never searched implicitly.
 */
export function resolveCniPath(flag: string | undefined, envValue: string | undefined): string[] {
  const raw = flag ?? envValue;
  if (raw === undefined || raw === '') return ['/opt/cni/bin', '/usr/lib/cni'];
  const dirs = raw.split(':');
  for (const d of dirs) {
    if (!d.startsWith('/')) {
      const entry = `CNI path entry ${JSON.stringify(d)} is not an absolute directory`;
      throw flag !== undefined ? new UsageError(entry, { fix: { setting: 'cniPath' } }) : new UsageError(`${entry} (from $CNI_PATH)`);
    }
  }
  return dirs;
}
