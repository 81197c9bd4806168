/**
 * What one reliability test could have changed on the host, captured before and after a run and compared:
 *
 *   const scope = { lab, ws, netns: [ns], bridges: [br], markers: [netnsPath(ns)] };
 *   const before = await captureState(scope);
 *   … run the tool …
 *   expectState(await captureState(scope), before, 'after the failed attach');
 *
 * The state is scoped to what the test owns, because other test files run in parallel on the same host: host links
 * named with the lab's prefix, enslaved to one of its bridges or peered into one of its namespaces; the links and
 * addresses inside the target namespaces (named, or a path such as /proc/PID/ns/net); the lab's named namespaces;
 * host-local leases under the workspace's IPAM dir; every file under the cache dir (results, intents, locks, temp
 * files); processes whose environment names one of the markers (our plugin runs carry CNI_NETNS / CNI_CONTAINERID);
 * and the pod's network-status annotation.
 */
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { expect } from 'vitest';
import { leases } from './ipam.js';
import { attachmentFiles, type Lab, type Workspace } from './lab.js';
import { links, netnsPath } from './net.js';
import { sh } from './sh.js';

export interface Scope {
  lab: Lab;
  ws: Workspace;
  /** Named namespaces (ip netns) whose links and addresses are recorded. */
  netns?: string[];
  /** Namespace paths (e.g. a pod sandbox's /proc/PID/ns/net) whose links and addresses are recorded. */
  netnsPaths?: string[];
  /** Host bridges whose ports are recorded (bridges named with the lab prefix are covered anyway). */
  bridges?: string[];
  /** Substrings of a process environment that mark a process as ours (e.g. the target netns path). */
  markers?: string[];
  /** The pod whose network-status annotation is recorded. */
  annotation?: () => string | null;
}

export interface HostState {
  hostLinks: string[];
  targets: Record<string, string[]>;
  netns: string[];
  leases: string[];
  cacheFiles: string[];
  processes: string[];
  annotation?: string | null;
}

/** "name master=X" (no index or MAC: a bridge's MAC follows its ports, and a veth's index is new each time). */
async function hostLinks(scope: Scope): Promise<string[]> {
  const p = scope.lab.prefix;
  const bridges = new Set(scope.bridges ?? []);
  return (await links())
    .filter((l) => l.name.startsWith(p) || (l.master !== undefined && (l.master.startsWith(p) || bridges.has(l.master))) || l.line.includes(` link-netns ${p}`))
    .map((l) => `${l.name}${l.master ? ` master=${l.master}` : ''}`)
    .sort();
}

/** Link names and IPv4/IPv6 addresses inside a namespace, or ["(gone)"] when it no longer exists. */
async function inside(path: string): Promise<string[]> {
  const l = await sh(['nsenter', `--net=${path}`, '--', 'ip', '-o', 'link']);
  if (l.exitCode !== 0) return ['(gone)'];
  const a = await sh(['nsenter', `--net=${path}`, '--', 'ip', '-o', 'addr']);
  const names = l.stdout.split('\n').map((x) => /^\d+: ([^:@\s]+)/.exec(x)?.[1]).filter((x): x is string => !!x).map((n) => `link ${n}`);
  const addrs = a.stdout.split('\n').map((x) => /^\d+: (\S+)\s+inet6? (\S+)/.exec(x)).filter((m): m is RegExpExecArray => !!m && !m[2]!.startsWith('fe80:'))
    .map((m) => `addr ${m[1]} ${m[2]}`);
  return [...names, ...addrs].sort();
}

/** Processes (pid and command) whose environment contains one of the markers; the caller's own process is skipped. */
export async function processesMarked(markers: string[]): Promise<string[]> {
  if (markers.length === 0) return [];
  const out: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let env: string;
    try {
      env = await readFile(`/proc/${pid}/environ`, 'utf8');
    } catch {
      continue;
    }
    const vars = env.split('\0');
    if (!markers.some((m) => vars.some((v) => v.startsWith('CNI_') && v.includes(m)))) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    out.push(`${pid} ${cmd.split('\0').join(' ').trim()}`);
  }
  return out.sort();
}

/**
 * Open file descriptors, in any process on the host, that point into one of `dirs` or at one of the namespaces (by
 * inode: an open namespace shows as "net:[INODE]"). Returns "pid fd -> target" lines. This is how the load test sees
 * that nothing the tool started is still holding a cache file, a lock or the target namespace open.
 */
export async function openFdsOn(dirs: string[], nsPaths: string[] = []): Promise<string[]> {
  const inodes = new Set<string>();
  for (const p of nsPaths) {
    const s = await stat(p).catch(() => undefined);
    if (s) inodes.add(`net:[${s.ino}]`);
  }
  const out: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = await readdir(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (!target) continue;
      if (inodes.has(target) || dirs.some((d) => target === d || target.startsWith(`${d}/`))) out.push(`${pid} ${fd} -> ${target}`);
    }
  }
  return out.sort();
}

/** JSON text in one canonical layout (the tool pretty-prints what it writes back), or the text as it is. */
function normalJson(text: string | null): string | null {
  if (text === null) return null;
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text;
  }
}

export async function captureState(scope: Scope): Promise<HostState> {
  const targets: Record<string, string[]> = {};
  for (const n of scope.netns ?? []) targets[n] = await inside(netnsPath(n));
  for (const p of scope.netnsPaths ?? []) targets[p] = await inside(p);
  const { stdout } = await sh(['ip', 'netns', 'list']);
  const state: HostState = {
    hostLinks: await hostLinks(scope),
    targets,
    netns: stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(scope.lab.prefix)).sort(),
    leases: (await leases(scope.ws.dataDir)).map((l) => `${l.network}/${l.address} ${l.containerId} ${l.ifname}`).sort(),
    cacheFiles: await attachmentFiles(scope.ws.cacheDir),
    processes: await processesMarked(scope.markers ?? []),
  };
  if (scope.annotation) state.annotation = normalJson(scope.annotation());
  return state;
}

/**
 * captureState once the host's links are those of `before` again, waiting at most 30 s (10 s was seen to run out on a loaded machine): a namespace whose last
 * process is gone (a removed sandbox) is torn down by the kernel in the background (net namespace cleanup), and the
 * host side of its veth with it, so right after a command the host may still list it. Then as captureState.
 */
export async function captureSettled(scope: Scope, before: HostState): Promise<HostState> {
  const want = JSON.stringify(before.hostLinks);
  for (const t0 = Date.now(); Date.now() - t0 < 30_000; await new Promise((r) => setTimeout(r, 100))) {
    if (JSON.stringify(await hostLinks(scope)) === want) break;
  }
  return captureState(scope);
}

/** The host is exactly as `before` (optionally with some fields expected to differ: pass them in `changed`). */
export function expectState(now: HostState, before: HostState, what: string, changed: Partial<HostState> = {}): void {
  expect(now, `host state ${what}`).toEqual({ ...before, ...changed });
}

/** The bridge the tests' networks use, created up front so that it is part of the "before" state; deleted after. */
export async function makeBridge(lab: Lab): Promise<string> {
  const br = lab.bridge(); // registers the deletion
  const r = await sh(['ip', 'link', 'add', br, 'type', 'bridge']);
  if (r.exitCode !== 0) throw new Error(`ip link add ${br} type bridge: ${r.stderr.trim()}`);
  await sh(['ip', 'link', 'set', br, 'up']);
  return br;
}

/**
 * How messages name a live command of this host that holds a lock (exec/lock.ts commandName), as a RegExp source:
 * "pid 123 on this host vm, running for 3m12s" — how long it has run changes from one moment to the next.
 */
export function commandOfThisHost(pid: number): string {
  return `pid ${pid} on this host ${hostname().replace(/[.]/g, '\\.')}, running for \\d+(h\\d+m|m\\d+s|s)`;
}

/** A line `text` in which `{cmd}` stands for the live command pid of this host (commandOfThisHost): a whole line ('m'). */
export function lineWithCommand(text: string, pid: number): RegExp {
  const literal = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${text.split('{cmd}').map(literal).join(commandOfThisHost(pid))}$`, 'm');
}
