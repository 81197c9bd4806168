/** An in-memory Executor: files in a Map, plugins as functions. For unit tests of the engine and the CLI. */
import { listingOutput } from '../../src/exec/batch.js';
import { frame } from '../../src/exec/framed.js';
import type { LockOwner } from '../../src/exec/lock.js';
import type { Executor, HostIdentity, PathKind, RunOptions, RunResult } from '../../src/exec/types.js';
import { judgePluginDirs, prefixesOf, trustKey, trustOutput, type StatFacts, type TrustFacts } from '../../src/exec/trust.js';

export interface PluginCall {
  path: string;
  command: string;
  env: Record<string, string>;
  stdin: Record<string, unknown>;
  /** The run's time limit (RunOptions.timeoutMs), when one was given. */
  timeoutMs?: number;
}

export type FakePlugin = (call: PluginCall) => Partial<RunResult> | Promise<Partial<RunResult>>;

export class FakeExecutor implements Executor {
  readonly where = 'fake node';
  readonly files = new Map<string, string>();
  readonly plugins = new Map<string, FakePlugin>();
  readonly calls: PluginCall[] = [];
  readonly netns = new Set<string>();
  /** Links per netns path, for the interfaceExists check (nsenter … ip link show dev X). */
  readonly links = new Map<string, Set<string>>();
  /** Ages (ms) of files, for ageMs; a file not listed is fresh (0). */
  readonly ages = new Map<string, number>();

  baseEnv(): Record<string, string> {
    return { PATH: '/usr/bin:/bin' };
  }

  /** A plugin that answers VERSION with `versions` and everything else with `fn`. */
  addPlugin(path: string, fn: FakePlugin, versions = ['0.3.1', '0.4.0', '1.0.0']): void {
    this.plugins.set(path, (call) => {
      if (call.command === 'VERSION') return { code: 0, stdout: JSON.stringify({ cniVersion: '1.0.0', supportedVersions: versions }) };
      return fn(call);
    });
  }

  /** Other commands (crictl, ctr, sh -c …) by argv[0]; each call is recorded in `ran`. */
  readonly tools = new Map<string, (argv: string[]) => Partial<RunResult> | Promise<Partial<RunResult>>>();
  readonly ran: string[][] = [];

  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    // a prelude (a batching executor's steps) as the node would run it without a session: sh, then the command
    if (opts.prelude) {
      const { prelude, ...rest } = opts;
      return this.run(['sh', '-c', prelude.script, 'sh', ...prelude.args, ...argv], rest);
    }
    const [file, ...args] = argv;
    const cmd = this.tools.get(file!);
    if (cmd) {
      this.ran.push(argv);
      this.lastStdin = opts.stdin ?? '';
      this.lastEnv = opts.env ?? {};
      return { code: 0, stdout: '', stderr: '', timedOut: false, ...(await cmd(argv)) };
    }
    if (file === 'nsenter') {
      const ns = args[0]!.replace('--net=', '');
      const dev = args[args.length - 1]!;
      return this.links.get(ns)?.has(dev)
        ? { code: 0, stdout: `2: ${dev}: <UP>`, stderr: '', timedOut: false }
        : { code: 1, stdout: '', stderr: `Device "${dev}" does not exist.`, timedOut: false };
    }
    const plugin = this.plugins.get(file!);
    if (!plugin) return { code: 127, stdout: '', stderr: `${file}: not found`, timedOut: false };
    const env = opts.env ?? {};
    const call: PluginCall = { path: file!, command: env.CNI_COMMAND ?? '', env, stdin: JSON.parse(opts.stdin || '{}'), ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) };
    this.calls.push(call);
    const r = await plugin(call);
    return { code: 0, stdout: '', stderr: '', timedOut: false, ...r };
  }

  async readFile(path: string): Promise<string | undefined> {
    return this.files.get(path);
  }
  /** Writes to paths matching this fail with EACCES (an unwritable cache dir). */
  failWrites?: RegExp;

  async writeFileAtomic(path: string, data: string): Promise<void> {
    if (this.failWrites?.test(path)) {
      throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES' });
    }
    this.files.set(path, data);
    this.ages.delete(path); // written now
  }
  async createExclusive(path: string, data: string): Promise<boolean> {
    if (this.files.has(path)) return false;
    if (this.failWrites?.test(path)) {
      throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES' });
    }
    this.files.set(path, data);
    return true;
  }
  async ageMs(path: string): Promise<number | undefined> {
    return this.files.has(path) ? this.ages.get(path) ?? 0 : undefined;
  }
  async removeFile(path: string): Promise<void> {
    this.files.delete(path);
    this.ages.delete(path);
  }
  async listDir(path: string): Promise<string[]> {
    const prefix = `${path.replace(/\/$/, '')}/`;
    const names = new Set<string>();
    // the namespaces are files too (nsfs mounts: what `ls /var/run/netns` shows)
    for (const k of [...this.files.keys(), ...this.netns]) if (k.startsWith(prefix)) names.add(k.slice(prefix.length).split('/')[0]!);
    return [...names];
  }
  async isExecutable(path: string): Promise<boolean> {
    return this.plugins.has(path);
  }
  /**
   * Owners and modes (lstat; `target`: what stat gives for a link) of this fake's paths for the trust rule
   * (exec/trust.ts). Not listed: a directory that holds a file or plugin (and /) is root's 0755, a plugin root's 0755,
   * anything else is not there.
   */
  readonly modes = new Map<string, StatFacts & { target?: StatFacts }>();
  /** The uid the plugins run as here. */
  uid = 0;
  /** How often untrustedPluginDirs was asked directly (not from steps). */
  trustAsked = 0;

  /** What trustShell would gather here for dirs. */
  trustFacts(dirs: string[]): TrustFacts {
    const facts: TrustFacts = { me: this.uid, lstat: new Map(), stat: new Map(), files: new Map() };
    const all = [...this.plugins.keys(), ...this.files.keys()];
    const known = (p: string): (StatFacts & { target?: StatFacts }) | undefined =>
      this.modes.get(p) ?? (p === '/' || all.some((k) => k.startsWith(`${p}/`)) ? { uid: 0, mode: 0o40755 } : this.plugins.has(p) ? { uid: 0, mode: 0o100755 } : undefined);
    const look = (p: string) => {
      const m = known(p);
      if (!m) return false;
      facts.lstat.set(p, { uid: m.uid, mode: m.mode });
      if ((m.mode & 0o170000) !== 0o120000) facts.stat.set(p, { uid: m.uid, mode: m.mode });
      else if (m.target) facts.stat.set(p, m.target);
      return true;
    };
    for (const d of dirs.map(trustKey)) {
      for (const p of prefixesOf(d)) if (!look(p)) break;
      const files = [...this.plugins.keys()].filter((k) => k.slice(0, k.lastIndexOf('/')) === d);
      for (const f of files) look(f);
      facts.files.set(d, files);
    }
    return facts;
  }
  async untrustedPluginDirs(dirs: string[]): Promise<string | undefined> {
    this.trustAsked++;
    return judgePluginDirs(dirs, this.trustFacts(dirs));
  }

  async pathKind(path: string): Promise<PathKind> {
    if (this.netns.has(path)) return 'netns';
    return this.files.has(path) ? 'other' : 'missing';
  }
  /**
   * Answer the sh scripts a ShellExecutor sends (read, write, rm, ls, test -x, stat, lock) from this fake's own
   * files, plugins and namespaces, so a fake node can stand behind a docker-exec or agent executor. `probe` answers
   * the CRI tool probe.
   */
  emulateShell(probe = ''): this {
    this.tools.set('sh', (argv) => {
      let script = argv[2]!;
      // steps sent as an exec of their own (node-session.ts withPrelude): the steps' script inside it
      const wrapped = /^cni_d=\n[\s\S]*?\nt=\$cni_t\ncni_steps\(\) \{\n([\s\S]*)\n\}\ncni_steps "\$@" \|\| \{ r=\$\?; rm -rf "\$t"; exit \$r; \}\nrm -rf "\$t"\nshift \d+\n(exec "\$@"|exit 0)$/.exec(script);
      if (wrapped) {
        script = wrapped[1]!;
        argv = [argv[0]!, argv[1]!, script, ...argv.slice(3)];
      }
      const a1 = argv[4]!;
      const stdin = this.lastStdin;
      // the command's own environment, taken now: other commands may run while the steps do (a batch's pods)
      if (script.startsWith('# cni-attach-steps ')) return this.runSteps(argv, stdin, this.lastEnv);
      if (script.includes('sec()')) return this.lookup(probe, argv);
      if (script.includes('command -v crictl')) return { stdout: probe ? `${probe}\n` : '' };
      if (script.includes('me=$(id -u)')) return { stdout: trustOutput(this.trustFacts(argv.slice(4))) };
      if (script.includes('cat "$1"') && script.startsWith('[ -e')) return this.files.has(a1) ? { stdout: this.files.get(a1)! } : { code: 3 };
      if (script.includes('set -C')) return this.files.has(a1) ? { code: 3 } : (this.files.set(a1, stdin), {});
      if (script.includes('umask 077')) return (this.files.set(a1, stdin), this.ages.delete(a1), {});
      if (script.startsWith('rm -f')) return (this.files.delete(a1), {});
      if (script.includes('ls -1A')) return { stdout: [...new Set([...this.files.keys()].filter((k) => k.startsWith(`${a1}/`)).map((k) => k.slice(a1.length + 1).split('/')[0]!))].join('\n') };
      if (script.includes('[ -x "$1" ]')) return { code: this.plugins.has(a1) ? 0 : 1 };
      if (script.includes('stat -L -f')) return { stdout: this.netns.has(a1) ? 'nsfs\n' : this.files.has(a1) ? 'ext2/ext3\n' : 'missing\n' };
      if (script.includes('stat -c %Y')) return this.files.has(a1) ? { stdout: `${Math.floor((this.ages.get(a1) ?? 0) / 1000)}\n` } : { code: 3 };
      throw new Error(`fake shell: unknown script ${script}`);
    });
    return this;
  }
  private lastStdin = '';
  private lastEnv: Record<string, string> = {};

  /**
   * The steps exec/batch.ts sends before a command (its script says which positional parameters each step uses), done
   * on this fake's files and plugins; then the command, as `exec "$@"` would run it. Framed as the real script frames.
   */
  private runSteps(argv: string[], stdin: string, env: Record<string, string>): Partial<RunResult> | Promise<Partial<RunResult>> {
    const meta = JSON.parse(argv[2]!.split('\n')[0]!.slice('# cni-attach-steps '.length)) as { k: string; a: number[]; n?: number; x?: number }[];
    const args = argv.slice(4);
    const at = (i: number) => args[i - 1]!;
    const mark = args[0]!;
    const out: string[] = [];
    const made: string[] = [];
    const children = (dir: string) => [...this.files.keys()].filter((k) => k.startsWith(`${dir}/`) && !k.slice(dir.length + 1).includes('/')).map((k) => k.slice(dir.length + 1));
    const step = async (m: (typeof meta)[number]): Promise<{ code: number; stdout?: string; stderr?: string }> => {
      const [a, b, c] = m.a.map(at);
      switch (m.k) {
        case 'write': return (this.files.set(a!, b!), this.ages.delete(a!), { code: 0 });
        case 'remove': return (this.files.delete(a!), { code: 0 });
        case 'create': return this.files.has(a!) ? { code: 1 } : (this.files.set(a!, b!), made.push(a!), { code: 0 });
        case 'expectFile': return { code: (m.a.length === 1 ? !this.files.has(a!) : this.files.get(a!) === c) ? 0 : 1 };
        case 'expectNames': {
          // dir, suffix, names; or (a prefix given) dir, prefix, suffix, names
          const [prefix, suffix, names] = m.a.length === 4 ? [b!, c!, at(m.a[3]!)] : ['', b!, c!];
          return { code: children(a!).filter((n) => n.startsWith(prefix) && n.endsWith(suffix) && !n.startsWith('.')).sort().map((n) => `${n}\n`).join('') === names ? 0 : 1 };
        }
        case 'list': return { code: 0, stdout: listingOutput(children(a!).filter((n) => n.endsWith(b!) && !n.startsWith('.')).sort().map((n) => [n, this.files.get(`${a}/${n}`)!])) };
        case 'names': return { code: 0, stdout: children(a!).filter((n) => !n.startsWith('.')).map((n) => `${n}\n`).join('') };
        case 'trust': return { code: 0, stdout: trustOutput(this.trustFacts(m.a.map(at))) };
        case 'executables': return { code: 0, stdout: [...this.plugins.keys()].filter((p) => p.startsWith(`${a}/`)).map((p) => `${p.slice(a!.length + 1)}\n`).join('') };
        case 'firstRun': {
          // env, candidates, the command's arguments (x of them: ReadAhead.runs argv), stdin
          const vals = m.a.map(at);
          const envList = vals.slice(0, vals.length - m.n! - (m.x ?? 0) - 1);
          const cands = vals.slice(envList.length, envList.length + m.n!);
          const rest = vals.slice(envList.length + m.n!, vals.length - 1);
          const path = cands.find((x) => this.plugins.has(x));
          if (!path) return { code: 0 };
          const env = Object.fromEntries(envList.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
          const r = await this.run([path, ...rest], { env, stdin: vals[vals.length - 1]! });
          return { code: 0, stdout: `${r.code} ${path}\n${r.stdout}`, stderr: r.stderr };
        }
        default: throw new Error(`fake shell: unknown step ${m.k}`);
      }
    };
    return (async () => {
      for (const [i, m] of meta.entries()) {
        const r = await step(m);
        out.push(frame(mark, String(i), r.code, r.stdout ?? '', r.stderr ?? ''));
        if (r.code !== 0) {
          for (const p of made) this.files.delete(p);
          return { code: 99, stdout: out.join('') };
        }
      }
      out.push(`${mark} end\n`);
      const used = Math.max(1, ...meta.flatMap((m) => m.a));
      let cmd = args.slice(used);
      // the command's time limit, which the runner put around it after the steps (exec/shell.ts limitedArgv)
      if (cmd[0] === 'timeout' && cmd[1] === '-s') cmd = cmd.slice(4);
      else if (cmd[0] === 'sh' && cmd[1] === '-c' && cmd[2]?.includes('exec timeout -s KILL')) cmd = cmd.slice(4);
      if (cmd.length === 0) return { code: 0, stdout: out.join('') };
      const r = await this.run(cmd, { env, stdin });
      return { ...r, stdout: out.join('') + r.stdout };
    })();
  }

  /**
   * The sandbox look-up script of resolve/cri.ts (one or more pods): the probe, then the tool's commands, framed as it
   * frames them. The tools' answers come from `tools`; what crictl and ctr themselves do is done here: the name regexp
   * and namespace filters, `--state ready -q`, and `crictl inspectp` of several ids answering with an array of the
   * single answers (cri-tools outputStatusData).
   */
  private lookup(probe: string, argv: string[]): Partial<RunResult> {
    const [mark, namespace, pattern, filter] = argv.slice(4) as [string, string, string, string];
    const out = [`${mark} tool ${probe || 'none'}\n`];
    const call = (cmd: string[]) => ({ code: 0, stdout: '', stderr: '', ...(this.tools.get(cmd[0]!)!(cmd) as Partial<RunResult>) });
    const framed = (key: string, r: { code: number; stdout: string; stderr: string }) => out.push(frame(mark, key, r.code, r.stdout, r.stderr));
    const sec = (key: string, cmd: string[]) => {
      this.ran.push(cmd);
      const r = call(cmd);
      framed(key, r);
      return r;
    };
    const names = new RegExp(pattern);
    const links = (pid: number | string | undefined) => {
      const dev = pid ? this.files.get(`/proc/${pid}/net/dev`) : undefined;
      if (dev !== undefined) out.push(frame(mark, `links:${pid}`, 0, dev));
    };
    if (probe === 'crictl') {
      const pods = sec('pods', ['crictl', 'pods', ...(namespace ? ['--namespace', namespace] : []), '--name', pattern, '-o', 'json']);
      type Item = { id: string; state?: string; metadata?: { name?: string; namespace?: string } };
      const items = ((JSON.parse(pods.stdout || '{}') as { items?: Item[] }).items ?? [])
        .filter((x) => names.test(x.metadata?.name ?? '') && (!namespace || (x.metadata?.namespace ?? '').includes(namespace)));
      const ids = items.filter((x) => x.state === 'SANDBOX_READY').map((x) => x.id);
      if (ids.length > 0) {
        const cmd = ['crictl', 'inspectp', '-o', 'json', ...ids];
        this.ran.push(cmd);
        const each = ids.map((id) => call(['crictl', 'inspectp', '-o', 'json', id]));
        const bad = each.find((r) => r.code !== 0);
        const stdout = bad ? '' : ids.length === 1 ? each[0]!.stdout : `[${each.map((r) => r.stdout).join(',')}]`;
        framed('inspectp', bad ?? { code: 0, stdout, stderr: '' });
        for (const r of bad ? [] : each) links((JSON.parse(r.stdout) as { info?: { pid?: number } }).info?.pid);
      }
    } else if (probe === 'ctr') {
      const ids = sec('ls', ['ctr', '-n', 'k8s.io', 'containers', 'list', '-q', filter]).stdout.split('\n').filter(Boolean);
      sec('tasks', ['ctr', '-n', 'k8s.io', 'tasks', 'list']);
      const tasks = (this.tools.get('ctr')!(['ctr', '-n', 'k8s.io', 'tasks', 'list']) as Partial<RunResult>).stdout ?? '';
      const specs: string[] = [];
      for (const id of ids) {
        const pid = tasks.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[0] === id && f[2] === 'RUNNING')?.[1];
        // the script's specof(): the runtime spec in the bundle, the cwd of the task's parent (/proc/PID/stat's 4th
        // field), read with the others by one cat after the loop; none there: `containers info` now
        const ppid = pid ? this.files.get(`/proc/${pid}/stat`)?.replace(/^.*\) /s, '').split(' ')[1] : undefined;
        const spec = ppid ? this.files.get(`/proc/${ppid}/cwd/config.json`) : undefined;
        if (spec !== undefined) specs.push(spec);
        else sec(`info:${id}`, ['ctr', '-n', 'k8s.io', 'containers', 'info', id]);
        links(pid);
      }
      if (specs.length > 0) framed('specs', { code: 0, stdout: specs.join(''), stderr: '' });
    }
    return { stdout: out.join('') };
  }

  /**
   * Executor.identity, off unless identifyFiles() turns it on (as a node reached by commands has none): a plugin's
   * identity is fileIds' entry, else "v1"; directories are trusted, namespaces cannot be told apart, processes run.
   */
  identity?: HostIdentity;
  readonly fileIds = new Map<string, string>();
  identifyFiles(): this {
    this.identity = {
      fileId: async (path) => (this.plugins.has(path) ? this.fileIds.get(path) ?? 'v1' : undefined),
      untrustedDir: async () => undefined,
      netnsId: async () => undefined,
      startOf: async () => '1',
    };
    return this;
  }

  commands(): string[] {
    return this.calls.map((c) => `${c.command} ${c.path.split('/').pop()}`);
  }
}

/** A 1.0.0 result like the bridge plugin's: host bridge, host veth, container interface. */
export function bridgeResult(ifname: string, netns: string, address = '198.18.0.2/24', version = '1.0.0'): Record<string, unknown> {
  return {
    cniVersion: version,
    interfaces: [
      { name: 'br0', mac: '02:00:00:00:00:01' },
      { name: 'veth1234', mac: '02:00:00:00:00:02' },
      { name: ifname, mac: '02:00:00:00:00:03', sandbox: netns },
    ],
    // 0.3.x/0.4.0 results carry ips[].version, 1.x ones do not
    ips: [{ ...(version.startsWith('0.') ? { version: '4' } : {}), interface: 2, address, gateway: '198.18.0.1' }],
    dns: {},
  };
}

/**
 * A lock owner on a fake host: this process is pid 4242 of "fake-host", started at tick 100; `running` is the host's
 * process table (pid → start time), this process included.
 */
export function fakeOwner(running: Map<number, string> = new Map()): LockOwner & { running: Map<number, string> } {
  running.set(4242, '100');
  return { host: 'fake-host', pid: 4242, start: async () => '100', startOf: async (pid) => running.get(pid), running };
}
