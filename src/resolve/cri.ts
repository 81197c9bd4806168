/**
 * Finding a pod's sandbox through a CRI runtime (containerd, CRI-O): crictl when it is there, else containerd's ctr in
 * the k8s.io namespace. The commands run through an executor: this host (--runtime cri) or a kind node container
 * (--runtime kind). The sandbox is matched by the CRI pod labels, uid included; its network namespace is the one
 * the runtime gave it (a /var/run/netns path), else /proc/PID/ns/net of its task, as seen where the commands run.
 */
import { randomBytes } from 'node:crypto';
import { NotFoundError, StoppedError, UnreachableError, signalName } from '../errors.js';
import { EMIT_SH, parseFrames, STEP_SH } from '../exec/framed.js';
import type { CommandRunner, Executor, RunResult } from '../exec/types.js';
import { ownTmpDir } from '../exec/node-session.js';
import { tracedExecutor } from '../exec/traced.js';
import type { PodRef, Sandbox, SandboxInfo } from './runtime.js';

interface Tool {
  kind: 'crictl' | 'ctr';
}

/**
 * crictl when it and a CRI socket are there, else ctr when containerd's socket is there. Looking for the socket first
 * keeps --runtime auto fast on nodes without that runtime (ctr would retry its connection for seconds).
 */
const PROBE = `
crisock=\${CONTAINER_RUNTIME_ENDPOINT#unix://}
for s in "$crisock" /run/containerd/containerd.sock /var/run/crio/crio.sock /run/crio/crio.sock; do
  if [ -n "$s" ] && [ -S "$s" ] && command -v crictl >/dev/null; then echo crictl; exit 0; fi
done
ctrsock=\${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}
if [ -S "$ctrsock" ] && command -v ctr >/dev/null; then echo ctr; fi`;

async function which(exec: CommandRunner): Promise<Tool | undefined> {
  const r = await exec.run(['sh', '-c', PROBE], { env: exec.baseEnv() });
  const t = r.stdout.trim();
  return t === 'crictl' || t === 'ctr' ? { kind: t } : undefined;
}

/** No CRI tool to ask on `where` (this host, a node): the runtime cannot be asked there. */
export function noCriRuntime(where: string): UnreachableError {
  return new UnreachableError(`no CRI runtime on ${where}: neither crictl with a runtime socket nor ctr with containerd's socket`);
}

/** A runtime command that failed (its socket refuses, the way into the node fails): the runtime cannot be asked there. */
/**
 * A CRI command on a node that did not succeed: UnreachableError; or, when the user's signal stopped it (the look-up
 * changes nothing), a StoppedError that says so (it was "cannot reach the CRI runtime … failed: …", exit 4).
 */
function failed(exec: CommandRunner, argv: string[], r: RunResult): UnreachableError | StoppedError {
  if (r.interrupted) return new StoppedError(r.interrupted, `stopped by ${signalName(r.interrupted)} during the sandbox look-up on ${exec.where}: nothing was changed`);
  return new UnreachableError(`cannot reach the CRI runtime on ${exec.where}: ${argv.join(' ')} failed: ${(r.stderr || r.stdout).trim().split('\n').pop() || `exit ${r.code}`}`);
}

async function must(exec: CommandRunner, argv: string[]): Promise<string> {
  const r = await exec.run(argv, { env: exec.baseEnv(), timeoutMs: 30_000 });
  if (r.code !== 0) throw failed(exec, argv, r);
  return r.stdout;
}

interface Spec {
  annotations?: Record<string, string>;
  linux?: { namespaces?: { type?: string; path?: string }[] };
}

function netnsOf(spec: Spec | undefined, pid: number): string {
  const path = spec?.linux?.namespaces?.find((n) => n.type === 'network')?.path;
  return path || `/proc/${pid}/ns/net`;
}

/** One sandbox line of `ctr task ls`: TASK PID STATUS. */
function taskPids(text: string): Map<string, { pid: number; running: boolean }> {
  const m = new Map<string, { pid: number; running: boolean }>();
  for (const line of text.split('\n').slice(1)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (id && pid) m.set(id, { pid: Number(pid), running: status === 'RUNNING' });
  }
  return m;
}

const CTR = ['ctr', '-n', 'k8s.io'];

/**
 * The OCI annotations containerd's CRI plugin puts on a sandbox's runtime spec (containerd pkg/cri/annotations,
 * DefaultCRIAnnotations: the sandbox's id, and its pod's name, namespace and uid — the uid since containerd 1.6).
 */
const SANDBOX_ID = 'io.kubernetes.cri.sandbox-id';
const SANDBOX_NAME = 'io.kubernetes.cri.sandbox-name';
const SANDBOX_NAMESPACE = 'io.kubernetes.cri.sandbox-namespace';
const SANDBOX_UID = 'io.kubernetes.cri.sandbox-uid';
const label = (k: string, v: string) => `labels."${k}"==${v}`;

/**
 * A Go regexp (RE2, as crictl's --name and containerd's `~=` filter take it) matching exactly these pod names. Pod
 * names are DNS subdomains ([a-z0-9.-], apimachinery's IsDNS1123Subdomain), so '.' is the one character to escape:
 * written `[.]`, so that no backslash has to pass containerd's quoting.
 */
export function namesPattern(names: string[]): string {
  return `^(${[...new Set(names)].sort().map((n) => n.replaceAll('.', '[.]')).join('|')})$`;
}

/**
 * containerd's filter of the CRI sandboxes of those pod names (and namespace, unless ''): one filter, so one listing
 * (containerd pkg/filters: `,` is AND, `~=` a regexp match).
 */
const ctrFilter = (namespace: string, pattern: string) =>
  [label('io.cri-containerd.kind', 'sandbox'), ...(namespace ? [label('io.kubernetes.pod.namespace', namespace)] : []), `labels."io.kubernetes.pod.name"~="${pattern}"`].join(',');
const crictlPods = (namespace: string, pattern: string) => ['crictl', 'pods', ...(namespace ? ['--namespace', namespace] : []), '--name', pattern, '-o', 'json'];
const crictlInspect = (ids: string[]) => ['crictl', 'inspectp', '-o', 'json', ...ids];

/**
 * The whole look-up of the sandboxes of one or more pods (a batch's pods on one node) in one command — one round trip
 * to a node reached by commands: the probe; one listing of the sandboxes of those pod names; their inspection in as
 * few runtime runs as the tool allows (crictl: one `inspectp` of all the ready ones; ctr: the task list, then the
 * runtime specs of the running sandboxes read from their bundles — `config.json` in the working directory of each
 * one's task's parent, the containerd shim, which containerd starts in the bundle (runtime/v2) — all by one `cat`
 * (`specs`: the files one after another; SandboxLookup takes each spec for the sandbox its CRI annotations name), and
 * `containers info`, which takes one id and costs a `ctr` process, ~25 ms of CPU, only for a running sandbox without
 * such a file (not one running task, no regular file there); and the links of each running one's network namespace
 * (/proc/PID/net/dev). Each command's output comes back framed (exec/framed.ts, keyed `pods`, `inspectp`, `specs`,
 * `info:ID`…); the parsing and the choices stay in TypeScript. $1 mark, $2 namespace ('' for any), $3 the names'
 * regexp, $4 the ctr filter. Before, a `cat` per sandbox read its spec: on a node of a batch one process per pod.
 *
 * Its files (the outputs it parses itself) are in `cni-attach-lookup.<its pid>.XXXXXX` (exec/node-session.ts ownTmpDir,
 * the sessions' rule: in the first writable of $TMPDIR, /dev/shm, /tmp), removed when it ends — also when a signal
 * ends it (its trap). One that a look-up killed outright left (the user's signal on a node is SIGKILL of every marked
 * process: exec/shell.ts KILL_MARKED) is removed by the next look-up there. Before, a killed look-up left its
 * `mktemp -d` directory in the node's /tmp for ever. The same on every path (a session, docker exec, pods/exec, here).
 */
export const LOOKUP = `${PROBE.replace(/echo (crictl|ctr)/g, 'tool=$1').replace('exit 0; fi', 'break; fi')}
${ownTmpDir('cni-attach-lookup', true)}
t=$cni_t
${STEP_SH}
${EMIT_SH}
sec() { k=$1; f=$2; shift 2; "$@" > "$t/$f" 2> "$t/e"; r=$?; emit "$M" "$k" "$r" "$t/$f"; return $r; }
out() { k=$1; shift; fo "$M" "$k"; "$@" 2> "$t/se"; fc "$M" "$k" $?; }
lines() { while IFS= read -r l || [ -n "$l" ]; do printf '%s\\n' "$l"; done < "$1"; }
links() { for pid in "$@"; do out "links:$pid" lines "/proc/$pid/net/dev"; done; }
specof() {
  [ $# -eq 1 ] || return 1; st=; read -r st < "/proc/$1/stat" 2>/dev/null || return 1
  set -- \${st##*\\) }
  sf="/proc/$2/cwd/config.json"; [ -f "$sf" ] && [ -r "$sf" ]
}
pods() { if [ -n "$NS" ]; then crictl pods --namespace "$NS" --name "$NAMES" "$@"; else crictl pods --name "$NAMES" "$@"; fi; }
M=$1 NS=$2 NAMES=$3
printf '%s tool %s\\n' "$M" "\${tool:-none}"
case "$tool" in
crictl)
  out pods pods -o json
  ids=$(pods --state ready -q 2>/dev/null)
  if [ -n "$ids" ]; then
    sec inspectp o crictl inspectp -o json $ids
    links $(sed -n 's/^ *"pid": *\\([0-9][0-9]*\\).*/\\1/p' "$t/o")
  fi ;;
ctr)
  sec ls o ctr -n k8s.io containers list -q "$4"
  ids=; while IFS= read -r l; do ids="$ids $l"; done < "$t/o"
  sec tasks tasks ctr -n k8s.io tasks list
  set --
  for id in $ids; do
    p=; while read -r a b c _; do [ "$a" != "$id" ] || [ "$c" != RUNNING ] || p="$p $b"; done < "$t/tasks"
    if specof $p; then set -- "$@" "$sf"; else out "info:$id" ctr -n k8s.io containers info "$id"; fi
    links $p
  done
  [ $# -eq 0 ] || out specs cat -- "$@" ;;
esac
rm -rf "$t"
exit 0`;

/** What the look-up command printed, by key: the probe's tool and each command's exit, stdout and stderr. */
interface Fetched {
  tool: Tool | undefined;
  outputs: Map<string, RunResult>;
}

function parseLookup(stdout: string, mark: string): Fetched {
  const outputs = new Map<string, RunResult>();
  let tool: Tool | undefined;
  for (const f of parseFrames(stdout, mark, ['tool'], true).frames) {
    if (f.key === 'tool') {
      tool = f.code === 'crictl' || f.code === 'ctr' ? { kind: f.code } : undefined;
      continue;
    }
    outputs.set(f.key, { code: Number(f.code), stdout: f.stdout.toString('utf8'), stderr: f.stderr.toString('utf8'), timedOut: false });
  }
  return { tool, outputs };
}

/** Names of the links in /proc/PID/net/dev (after its two header lines). */
export function linksOf(netDev: string): string[] {
  return netDev.split('\n').slice(2).map((l) => l.trim().split(':')[0]!).filter(Boolean);
}

/**
 * The JSON values of a text that holds one or more of them: `crictl inspectp -o json ID…` prints one object for one
 * id, and for several an array (cri-tools cmd/crictl/util.go outputStatusData) or, in older releases, one object
 * after another. Arrays are flattened. Throws on text that is not such a sequence.
 */
export function jsonValues(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (depth++ === 0) start = i;
    } else if (c === '}' || c === ']') {
      if (--depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
      if (depth < 0) throw new SyntaxError('unbalanced JSON');
    } else if (depth === 0 && !/\s/.test(c)) throw new SyntaxError(`unexpected ${JSON.stringify(c)} between JSON values`);
  }
  if (depth !== 0 || inString) throw new SyntaxError('JSON cut short');
  return out.flatMap((v) => (Array.isArray(v) ? v : [v]));
}

interface CrictlPod {
  id: string;
  state?: string;
  createdAt?: string;
  metadata?: { uid?: string; name?: string; namespace?: string };
}
interface Inspected {
  status?: { id?: string };
  info?: { pid?: number; runtimeSpec?: Spec };
}
interface CtrInfo {
  Labels?: Record<string, string>;
  Spec?: Spec;
}

/**
 * What one look-up command (LOOKUP) brought back for its pods, and each pod's answer from it, by the same rules as a
 * look-up of that pod alone: a command whose output is missing (or failed, for the several ids of one inspection) is
 * run on its own through `fallback`.
 */
export class SandboxLookup {
  private readonly memo = new Map<string, Promise<unknown>>();
  private readonly specs = new Map<string, CtrInfo | undefined>();
  /** LOOKUP's `specs` by the sandbox id each names (bundleSpecs), parsed once. */
  private bundles: Map<string, Spec | undefined> | undefined;

  constructor(
    private readonly cri: CriSandboxes,
    private readonly fetched: Fetched,
    private readonly fallback: CommandRunner,
    private readonly namespace: string,
    private readonly pattern: string,
  ) {}

  /** Whether the node has a CRI tool at all (crictl with a runtime socket, or ctr with containerd's). */
  get tool(): 'crictl' | 'ctr' | undefined {
    return this.fetched.tool?.kind;
  }

  /**
   * The running sandbox of this pod (one of those looked up), with the links of its network namespace; undefined when
   * that node has no sandbox of that pod name. NotFoundError: not ready / not running, or a stale uid (an earlier pod
   * of that name); UnreachableError: no CRI tool there (unless noRuntimeIsNone: then undefined), or a tool that fails.
   */
  async answer(pod: PodRef, o: { noRuntimeIsNone?: boolean } = {}): Promise<Sandbox | undefined> {
    const tool = this.fetched.tool;
    if (!tool) {
      if (o.noRuntimeIsNone) return undefined;
      throw noCriRuntime(this.cri.exec.where);
    }
    const found = tool.kind === 'crictl' ? await this.viaCrictl(pod) : await this.viaCtr(pod);
    const dev = found ? this.fetched.outputs.get(`links:${found.pid}`) : undefined;
    return found && dev?.code === 0 ? { ...found, links: linksOf(dev.stdout) } : found;
  }

  /** A command's output from the look-up (else run now, on its own); its failure is an UnreachableError. */
  private async get(key: string, argv: string[]): Promise<string> {
    const o = this.fetched.outputs.get(key);
    if (!o) return must(this.fallback, argv);
    if (o.code !== 0) throw failed(this.fallback, argv, o);
    return o.stdout;
  }

  private once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let p = this.memo.get(key) as Promise<T> | undefined;
    if (!p) this.memo.set(key, (p = fn()));
    return p;
  }

  private async inspect(id: string): Promise<Inspected> {
    const all = await this.once('inspectp', async () => {
      const o = this.fetched.outputs.get('inspectp');
      const byId = new Map<string, Inspected>();
      if (o?.code !== 0) return byId;
      try {
        for (const v of jsonValues(o.stdout) as Inspected[]) if (v.status?.id) byId.set(v.status.id, v);
      } catch {
        // not what crictl prints: each id is asked again on its own
      }
      return byId;
    });
    return all.get(id) ?? (JSON.parse(await this.once(`inspectp:${id}`, () => must(this.fallback, crictlInspect([id])))) as Inspected);
  }

  private async viaCrictl(pod: PodRef): Promise<Omit<Sandbox, 'links'> | undefined> {
    const out = await this.once('pods', async () => JSON.parse(await this.get('pods', crictlPods(this.namespace, this.pattern))) as { items?: CrictlPod[] });
    const items = (out.items ?? []).filter((p) => p.metadata?.name === pod.name && p.metadata?.namespace === pod.namespace);
    if (items.length === 0) return undefined;
    const mine = items.filter((p) => p.metadata?.uid === pod.uid && p.state === 'SANDBOX_READY');
    if (mine.length === 0) {
      if (items.some((p) => p.metadata?.uid === pod.uid)) throw new NotFoundError(`the sandbox of ${pod.namespace}/${pod.name} on ${this.cri.exec.where} is not ready`);
      throw this.stale(pod, items.map((p) => p.metadata?.uid ?? '?'));
    }
    mine.sort((a, b) => Number(b.createdAt ?? 0) - Number(a.createdAt ?? 0));
    const id = mine[0]!.id;
    const insp = await this.inspect(id);
    const pid = insp.info?.pid ?? 0;
    const netnsPath = netnsOf(insp.info?.runtimeSpec, pid);
    if (!pid && netnsPath.startsWith('/proc/')) throw new NotFoundError(`crictl inspectp ${id} on ${this.cri.exec.where} gives neither a pid nor a network namespace`);
    return { id, pid, netnsPath };
  }

  private async viaCtr(pod: PodRef): Promise<Omit<Sandbox, 'links'> | undefined> {
    const ids = (await this.once('ls', () => this.get('ls', [...CTR, 'containers', 'list', '-q', ctrFilter(this.namespace, this.pattern)]))).split('\n').filter(Boolean);
    const tasks = taskPids(await this.once('tasks', () => this.get('tasks', [...CTR, 'tasks', 'list'])));
    const uids: string[] = [];
    for (const id of ids) {
      const info = this.fromSpec(id) ?? (await this.once(`info:${id}`, async () => JSON.parse(await this.get(`info:${id}`, [...CTR, 'containers', 'info', id])) as CtrInfo));
      const l = info.Labels ?? {};
      // the listing holds the sandboxes of every pod looked up: this pod's are those of its name and namespace
      if (l['io.kubernetes.pod.name'] !== pod.name || l['io.kubernetes.pod.namespace'] !== pod.namespace) continue;
      const uid = l['io.kubernetes.pod.uid'] ?? '?';
      uids.push(uid);
      const task = tasks.get(id);
      if (uid !== pod.uid || !task?.running) continue;
      return { id, pid: task.pid, netnsPath: netnsOf(info.Spec, task.pid) };
    }
    if (uids.length === 0) return undefined;
    if (uids.includes(pod.uid)) throw new NotFoundError(`the sandbox of ${pod.namespace}/${pod.name} on ${this.cri.exec.where} is not running`);
    throw this.stale(pod, uids);
  }

  /**
   * What `ctr containers info` would say of a running sandbox (its pod's labels, its spec), from the runtime spec the
   * look-up read from its bundle (LOOKUP's `specs`): only when a spec there names this sandbox and its pod in
   * containerd CRI's annotations; else undefined (ctr is asked, on its own).
   */
  private fromSpec(id: string): CtrInfo | undefined {
    // each pod's answer walks every sandbox of the look-up: parsed once
    if (this.specs.has(id)) return this.specs.get(id);
    const info = this.parseSpec(id);
    this.specs.set(id, info);
    return info;
  }

  private parseSpec(id: string): CtrInfo | undefined {
    const spec = this.bundleSpecs().get(id);
    if (!spec) return undefined;
    const a = spec.annotations ?? {};
    const [name, namespace, uid] = [a[SANDBOX_NAME], a[SANDBOX_NAMESPACE], a[SANDBOX_UID]];
    if (a[SANDBOX_ID] !== id || !name || !namespace || !uid) return undefined;
    return { Labels: { 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': namespace, 'io.kubernetes.pod.uid': uid }, Spec: spec };
  }

  /**
   * The runtime specs the look-up read from the sandboxes' bundles (LOOKUP's `specs`: the files one after another,
   * whatever cat's exit — a sandbox gone meanwhile is only missing from them), by the sandbox id each names in CRI's
   * annotation (SANDBOX_ID); an id that two different specs name has none (undefined: ctr is asked). Text that is not a
   * sequence of JSON values gives none at all (each sandbox's `containers info` is asked on its own).
   */
  private bundleSpecs(): Map<string, Spec | undefined> {
    if (this.bundles) return this.bundles;
    const by = new Map<string, Spec | undefined>();
    const text = this.fetched.outputs.get('specs')?.stdout;
    let values: unknown[] = [];
    try {
      values = text ? jsonValues(text) : [];
    } catch {
      values = [];
    }
    for (const v of values) {
      const spec = v as Spec;
      const id = typeof v === 'object' && v !== null ? spec.annotations?.[SANDBOX_ID] : undefined;
      if (typeof id !== 'string' || id === '') continue;
      by.set(id, by.has(id) && JSON.stringify(by.get(id)) !== JSON.stringify(spec) ? undefined : spec);
    }
    return (this.bundles = by);
  }

  private stale(pod: PodRef, uids: string[]): NotFoundError {
    return new NotFoundError(
      `the sandboxes of ${pod.namespace}/${pod.name} on ${this.cri.exec.where} belong to an earlier pod of that name (uid ${[...new Set(uids)].join(', ')}), not to this one (uid ${pod.uid}); refusing to attach to a stale sandbox`,
    );
  }
}

export class CriSandboxes {
  private tool: Promise<Tool | undefined> | undefined;

  /**
   * `trace` (-v=6): a line for each look-up command run on the node ("node node-b (through agent pod …): sh -c (a
   * script of 2093 bytes) … → exit 0 in 41 milliseconds"), as for the plugins' runs; the executor itself (a pod's
   * plugins run through it too, traced by the engine) is left as it is.
   */
  constructor(readonly exec: Executor, private readonly trace?: (line: string) => void) {}

  /** `via` reporting each command it runs, when traced. */
  private traced<R extends CommandRunner>(via: R): R {
    return this.trace ? tracedExecutor(via, this.trace) : via;
  }

  /** Whether crictl or ctr is there at all. */
  async available(): Promise<boolean> {
    return (await (this.tool ??= which(this.traced(this.exec)))) !== undefined;
  }

  /**
   * The sandbox of this pod, with the links of its network namespace; an UnreachableError when there is no CRI runtime
   * to ask here at all. One command (see LOOKUP), run through `via` when given (a batching session of this node, whose
   * read-ahead rides on it); a command whose output is missing from it is run on its own.
   */
  async find(pod: PodRef, via: CommandRunner = this.exec, o: { noRuntimeIsNone?: boolean } = {}): Promise<Sandbox | undefined> {
    return (await this.lookUp([pod], via)).answer(pod, o);
  }

  /**
   * Look up the sandboxes of these pods (a batch's pods on this node) in one command through `via` (LOOKUP: one
   * listing for all of them, one inspection where the tool takes several ids); each pod's answer then comes from it
   * (SandboxLookup.answer), commands missing from it run through `fallback`. Errors: UnreachableError when the
   * command itself fails (the node's sh).
   */
  async lookUp(pods: PodRef[], given: CommandRunner = this.exec, fallback: CommandRunner = given): Promise<SandboxLookup> {
    const via = this.traced(given);
    const namespaces = new Set(pods.map((p) => p.namespace));
    const namespace = namespaces.size === 1 ? pods[0]!.namespace : '';
    const pattern = namesPattern(pods.map((p) => p.name));
    const mark = `@cni-attach-lookup-${randomBytes(6).toString('hex')}`;
    const r = await via.run(['sh', '-c', LOOKUP, 'sh', mark, namespace, pattern, ctrFilter(namespace, pattern)], { env: via.baseEnv(), timeoutMs: 60_000 });
    if (r.code !== 0) throw failed(via, ['sh', '-c', '(sandbox look-up)'], r);
    const fetched = parseLookup(r.stdout, mark);
    this.tool ??= Promise.resolve(fetched.tool);
    return new SandboxLookup(this, fetched, this.traced(fallback), namespace, pattern);
  }

  /** Every sandbox of the CRI runtime there; none when there is no CRI tool at all (see available()). */
  async list(): Promise<SandboxInfo[]> {
    const exec = this.traced(this.exec);
    const tool = await (this.tool ??= which(exec));
    if (!tool) return [];
    if (tool.kind === 'crictl') {
      const out = JSON.parse(await must(exec, ['crictl', 'pods', '-o', 'json'])) as { items?: CrictlPod[] };
      return (out.items ?? []).map((p) => ({
        id: p.id, running: p.state === 'SANDBOX_READY', namespace: p.metadata?.namespace, name: p.metadata?.name, uid: p.metadata?.uid,
      }));
    }
    const ids = (await must(exec, [...CTR, 'containers', 'list', '-q', label('io.cri-containerd.kind', 'sandbox')])).split('\n').filter(Boolean);
    const tasks = taskPids(await must(exec, [...CTR, 'tasks', 'list']));
    const out: SandboxInfo[] = [];
    for (const id of ids) {
      const info = JSON.parse(await must(exec, [...CTR, 'containers', 'info', id])) as CtrInfo;
      const l = info.Labels ?? {};
      out.push({ id, running: tasks.get(id)?.running ?? false, namespace: l['io.kubernetes.pod.namespace'], name: l['io.kubernetes.pod.name'], uid: l['io.kubernetes.pod.uid'] });
    }
    return out;
  }
}
