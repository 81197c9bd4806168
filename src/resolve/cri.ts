/**
 * Finding a pod's sandbox through a CRI runtime (containerd, CRI-O): crictl when it is there, else containerd's ctr in
 * the k8s.io namespace. The commands run through an executor: this host (--runtime cri) or a kind node container
 * (--runtime kind). The sandbox is matched by the CRI pod labels, uid included; its network namespace is the one
 * the runtime gave it (a /var/run/netns path), else /proc/PID/ns/net of its task, as seen where the commands run.
 */
import { randomBytes } from 'node:crypto';
import { NotFoundError, UnreachableError } from '../errors.js';
import type { CommandRunner, Executor, RunResult } from '../exec/types.js';
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

function failed(exec: CommandRunner, argv: string[], r: RunResult): UnreachableError {
  return new UnreachableError(`${argv.join(' ')} failed on ${exec.where}: ${(r.stderr || r.stdout).trim().split('\n').pop() || `exit ${r.code}`}`);
}

async function must(exec: CommandRunner, argv: string[]): Promise<string> {
  const r = await exec.run(argv, { env: exec.baseEnv(), timeoutMs: 30_000 });
  if (r.code !== 0) throw failed(exec, argv, r);
  return r.stdout;
}

interface Spec {
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
const label = (k: string, v: string) => `labels."${k}"==${v}`;

const crictlPods = (pod: PodRef) => ['crictl', 'pods', '--namespace', pod.namespace, '--name', `^${pod.name}$`, '-o', 'json'];
const ctrByName = (pod: PodRef) => [...CTR, 'containers', 'list', '-q', [label('io.cri-containerd.kind', 'sandbox'), label('io.kubernetes.pod.name', pod.name), label('io.kubernetes.pod.namespace', pod.namespace)].join(',')];

/**
 * The whole look-up of a pod's sandbox in one command (one round trip to a node reached by commands): the probe, the
 * listing of the pod's sandboxes, the inspection of each (crictl inspectp of the ready ones; ctr's containers info and
 * task list), and the links of each one's network namespace (/proc/PID/net/dev). Each command's output comes back
 * framed as `<mark> <key> <exit> <b64 stdout> <b64 stderr>`; the parsing and the choice stay in TypeScript.
 * $1 mark, $2 namespace, $3 name, $4 the ctr filter.
 */
const LOOKUP = `${PROBE.replace(/echo (crictl|ctr)/g, 'tool=$1').replace('exit 0; fi', 'break; fi')}
t=$(mktemp -d) || exit 97
sec() { k=$1; shift; "$@" > "$t/o" 2> "$t/e"; r=$?; printf '%s %s %s ' "$M" "$k" "$r"; base64 < "$t/o" | tr -d '\\n'; printf ' '; base64 < "$t/e" | tr -d '\\n'; printf '\\n'; return $r; }
M=$1
printf '%s tool %s\\n' "$M" "\${tool:-none}"
case "$tool" in
crictl)
  sec pods crictl pods --namespace "$2" --name "^$3\\$" -o json
  for id in $(crictl pods --namespace "$2" --name "^$3\\$" --state ready -q 2>/dev/null); do
    sec "inspectp:$id" crictl inspectp "$id"
    pid=$(sed -n 's/^ *"pid": *\\([0-9][0-9]*\\).*/\\1/p' "$t/o" | head -n 1)
    [ -n "$pid" ] && sec "links:$id" cat "/proc/$pid/net/dev"
  done ;;
ctr)
  sec ls ctr -n k8s.io containers list -q "$4"
  ids=$(cat "$t/o")
  sec tasks ctr -n k8s.io tasks list
  cp "$t/o" "$t/tasks"
  for id in $ids; do
    sec "info:$id" ctr -n k8s.io containers info "$id"
    pid=$(awk -v id="$id" '$1 == id && $3 == "RUNNING" { print $2 }' "$t/tasks")
    [ -n "$pid" ] && sec "links:$id" cat "/proc/$pid/net/dev"
  done ;;
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
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(`${mark} `)) continue;
    const [key = '', code = '', out = '', err = ''] = line.slice(mark.length + 1).split(' ');
    if (key === 'tool') {
      tool = code === 'crictl' || code === 'ctr' ? { kind: code } : undefined;
      continue;
    }
    outputs.set(key, { code: Number(code), stdout: Buffer.from(out, 'base64').toString('utf8'), stderr: Buffer.from(err, 'base64').toString('utf8'), timedOut: false });
  }
  return { tool, outputs };
}

/** Names of the links in /proc/PID/net/dev (after its two header lines). */
export function linksOf(netDev: string): string[] {
  return netDev.split('\n').slice(2).map((l) => l.trim().split(':')[0]!).filter(Boolean);
}

export class CriSandboxes {
  private tool: Promise<Tool | undefined> | undefined;

  constructor(readonly exec: Executor) {}

  /** Whether crictl or ctr is there at all. */
  async available(): Promise<boolean> {
    return (await (this.tool ??= which(this.exec))) !== undefined;
  }

  /**
   * The sandbox of this pod, with the links of its network namespace; an UnreachableError when there is no CRI runtime
   * to ask here at all. One command (see LOOKUP), run through `via` when given (a batching session of this node, whose
   * read-ahead rides on it); a command whose output is missing from it is run on its own.
   */
  async find(pod: PodRef, via: CommandRunner = this.exec, o: { noRuntimeIsNone?: boolean } = {}): Promise<Sandbox | undefined> {
    const mark = `@cni-attach-lookup-${randomBytes(6).toString('hex')}`;
    const r = await via.run(['sh', '-c', LOOKUP, 'sh', mark, pod.namespace, pod.name, ctrByName(pod).at(-1)!], { env: via.baseEnv(), timeoutMs: 60_000 });
    if (r.code !== 0) throw failed(via, ['sh', '-c', '(sandbox look-up)'], r);
    const fetched = parseLookup(r.stdout, mark);
    this.tool ??= Promise.resolve(fetched.tool);
    if (!fetched.tool) {
      if (o.noRuntimeIsNone) return undefined;
      throw new UnreachableError(`no CRI runtime on ${this.exec.where}: neither crictl with a runtime socket nor ctr with containerd's socket`);
    }
    const get = async (key: string, argv: string[]): Promise<string> => {
      const o = fetched.outputs.get(key);
      if (!o) return must(via, argv);
      if (o.code !== 0) throw failed(via, argv, o);
      return o.stdout;
    };
    const found = fetched.tool.kind === 'crictl' ? await this.viaCrictl(pod, get) : await this.viaCtr(pod, get);
    const dev = found ? fetched.outputs.get(`links:${found.id}`) : undefined;
    return found && dev?.code === 0 ? { ...found, links: linksOf(dev.stdout) } : found;
  }

  async list(): Promise<SandboxInfo[]> {
    const tool = await (this.tool ??= which(this.exec));
    if (!tool) return [];
    if (tool.kind === 'crictl') {
      const out = JSON.parse(await must(this.exec, ['crictl', 'pods', '-o', 'json'])) as { items?: { id: string; state?: string; metadata?: { name?: string; namespace?: string; uid?: string } }[] };
      return (out.items ?? []).map((p) => ({
        id: p.id, running: p.state === 'SANDBOX_READY', namespace: p.metadata?.namespace, name: p.metadata?.name, uid: p.metadata?.uid,
      }));
    }
    const ids = (await must(this.exec, [...CTR, 'containers', 'list', '-q', label('io.cri-containerd.kind', 'sandbox')])).split('\n').filter(Boolean);
    const tasks = taskPids(await must(this.exec, [...CTR, 'tasks', 'list']));
    const out: SandboxInfo[] = [];
    for (const id of ids) {
      const info = JSON.parse(await must(this.exec, [...CTR, 'containers', 'info', id])) as { Labels?: Record<string, string> };
      const l = info.Labels ?? {};
      out.push({ id, running: tasks.get(id)?.running ?? false, namespace: l['io.kubernetes.pod.namespace'], name: l['io.kubernetes.pod.name'], uid: l['io.kubernetes.pod.uid'] });
    }
    return out;
  }

  private stale(pod: PodRef, uids: string[]): NotFoundError {
    return new NotFoundError(
      `the sandboxes of ${pod.namespace}/${pod.name} on ${this.exec.where} belong to an earlier pod of that name (uid ${[...new Set(uids)].join(', ')}), not to this one (uid ${pod.uid}); refusing to attach to a stale sandbox`,
    );
  }

  private async viaCrictl(pod: PodRef, get: (key: string, argv: string[]) => Promise<string>): Promise<Sandbox | undefined> {
    const out = JSON.parse(await get('pods', crictlPods(pod))) as { items?: { id: string; state?: string; createdAt?: string; metadata?: { uid?: string; name?: string; namespace?: string } }[] };
    const items = (out.items ?? []).filter((p) => p.metadata?.name === pod.name && p.metadata?.namespace === pod.namespace);
    if (items.length === 0) return undefined;
    const mine = items.filter((p) => p.metadata?.uid === pod.uid && p.state === 'SANDBOX_READY');
    if (mine.length === 0) {
      if (items.some((p) => p.metadata?.uid === pod.uid)) throw new NotFoundError(`the sandbox of ${pod.namespace}/${pod.name} on ${this.exec.where} is not ready`);
      throw this.stale(pod, items.map((p) => p.metadata?.uid ?? '?'));
    }
    mine.sort((a, b) => Number(b.createdAt ?? 0) - Number(a.createdAt ?? 0));
    const id = mine[0]!.id;
    const insp = JSON.parse(await get(`inspectp:${id}`, ['crictl', 'inspectp', id])) as { info?: { pid?: number; runtimeSpec?: Spec } };
    const pid = insp.info?.pid ?? 0;
    const netnsPath = netnsOf(insp.info?.runtimeSpec, pid);
    if (!pid && netnsPath.startsWith('/proc/')) throw new NotFoundError(`crictl inspectp ${id} on ${this.exec.where} gives neither a pid nor a network namespace`);
    return { id, pid, netnsPath };
  }

  private async viaCtr(pod: PodRef, get: (key: string, argv: string[]) => Promise<string>): Promise<Sandbox | undefined> {
    const ids = (await get('ls', ctrByName(pod))).split('\n').filter(Boolean);
    if (ids.length === 0) return undefined;
    const tasks = taskPids(await get('tasks', [...CTR, 'tasks', 'list']));
    const uids: string[] = [];
    for (const id of ids) {
      const info = JSON.parse(await get(`info:${id}`, [...CTR, 'containers', 'info', id])) as { Labels?: Record<string, string>; Spec?: Spec };
      const uid = info.Labels?.['io.kubernetes.pod.uid'] ?? '?';
      uids.push(uid);
      const task = tasks.get(id);
      if (uid !== pod.uid || !task?.running) continue;
      return { id, pid: task.pid, netnsPath: netnsOf(info.Spec, task.pid) };
    }
    if (uids.includes(pod.uid)) throw new NotFoundError(`the sandbox of ${pod.namespace}/${pod.name} on ${this.exec.where} is not running`);
    throw this.stale(pod, uids);
  }
}
