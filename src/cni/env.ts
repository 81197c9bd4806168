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

/**
 * "K=V;K=V" → pairs, split as the plugins split CNI_ARGS (containernetworking/cni pkg/types/args.go LoadArgs: on ';',
 * then each pair on '=', exactly two parts): CNI_ARGS has no quoting, so a value cannot hold ';' or '=' — such text is
 * refused (UsageError, exit 2: an entry that is not KEY=VALUE, the rule said), not passed on to be split otherwise by
 * the plugins. Any other byte of a value (spaces, quotes, '$', a newline) is passed to the plugin as given on every
 * path: argv and env are never joined into shell text unquoted (exec/node-session.ts requestCode, exec/batch.ts).
 * A key given twice is refused (UsageError): libcni passes
 * CNI_ARGS to the plugins as given, and the plugins' types.LoadArgs sets a field once per pair, so the last one wins
 * for them, while a reader that takes the first (a plugin's own parse, a person reading the cache entry) sees the
 * other value; the cache records both. Which of the two an interface was made with must not depend on the reader.
 */
export function parseCniArgs(text: string): [string, string][] {
  if (text.trim() === '') return [];
  const pairs = text.split(';').map((kv): [string, string] => {
    const i = kv.indexOf('=');
    if (i <= 0 || kv.indexOf('=', i + 1) !== -1) {
      throw new UsageError(`CNI_ARGS entry ${JSON.stringify(kv)} is not KEY=VALUE: --args is split on ';' and each pair on '=', as the plugins split CNI_ARGS (types.LoadArgs; it has no quoting), so a value cannot hold ';' or '=' (nothing was changed)`);
    }
    return [kv.slice(0, i), kv.slice(i + 1)];
  });
  const seen = new Set<string>();
  for (const [k] of pairs) {
    if (seen.has(k)) {
      throw new UsageError(`--args gives ${k} more than once (${pairs.filter(([x]) => x === k).map(([x, v]) => `${x}=${v}`).join(', ')}): the plugins (types.LoadArgs) would take the last, other readers the first; give it once (nothing was changed)`);
    }
    seen.add(k);
  }
  return pairs;
}

/**
 * The CNI_ARGS keys the tool sets itself for a pod, as kubelet and Multus pass them (resolve/pod.ts podCniArgs, whose
 * keys a test holds to these).
 */
export const POD_CNI_ARGS = ['IgnoreUnknown', 'K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID'] as const;

/**
 * Refuses (UsageError, exit 2, before anything is read or written) a --args key the tool sets itself for the target:
 * for a pod, every key of POD_CNI_ARGS (given after the tool's own, it would be the one the plugins take: types.LoadArgs,
 * last wins); for a bare --netns, where the tool sets none, the K8S_POD_* keys all the same: cni-list, cni-detach and
 * cni-gc read an attachment's pod from its cache entry's CNI_ARGS (resolve/attachment-state.ts podOf, records.ts
 * recordAgainstNode), so a pod named there would make the entry look like that pod's, and its lease freed by cni-gc
 * once that pod is gone. Keys compare as the plugins compare them (exact case: Go's FieldByName). `command`: the
 * command given, whose words the refusal uses (a DEL or CHECK records nothing).
 */
export function refuseOwnCniArgs(pairs: [string, string][], target: 'pod' | 'netns', command: 'cni-attach' | 'cni-detach' | 'cni-check' = 'cni-attach'): [string, string][] {
  const own: readonly string[] = target === 'pod' ? POD_CNI_ARGS : POD_CNI_ARGS.filter((k) => k.startsWith('K8S_POD_'));
  const bad = pairs.find(([k]) => own.includes(k));
  if (!bad) return pairs;
  const [k, v] = bad;
  // in the words of the command given (tryout 8 F4 d: a cni-check was told its interface "would be recorded")
  const op = command === 'cni-detach' ? 'DEL' : 'CHECK';
  const why = target === 'pod'
    ? `${command} sets ${k} itself for a pod (${POD_CNI_ARGS.join(', ')}, as kubelet does), and a value given after its own would be the one the plugins take; ` +
      (command === 'cni-attach'
        ? "cni-list, cni-detach and cni-gc read the attachment's pod from these, so the interface would be recorded as another pod's (then detached as nothing, and its address freed by cni-gc while it is in use)"
        : `its ${op} would be told of another pod than the one the interface was attached to`)
    : command === 'cni-attach'
      ? `the K8S_POD_* keys name a pod, and cni-list, cni-detach and cni-gc read an attachment's pod from them: a namespace attached with them would be taken for that pod's (and its address freed by cni-gc once that pod is gone)`
      : `the K8S_POD_* keys name a pod, and a namespace's ${op} given them would be told of that pod`;
  throw new UsageError(`--args may not give ${k} (${k}=${v}): ${why} (nothing was changed)`);
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
