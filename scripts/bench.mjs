#!/usr/bin/env node
// `npm run bench`: cni-attach against the manual way, on this host, in a world the script makes and removes itself.
//
//   P1 pod attach   bin/kubectl-cni_attach POD --ifname eth1 --conf net.json (Docker pod, through the API)
//                   vs the seed's manual pipeline as a bash script: curl | jq → docker ps → docker inspect → plugin
//   P2 netns attach bin/kubectl-cni_attach --netns … vs `node -e 0` followed by the bare plugin ADD (the floor)
//   P3 bulk         bin/kubectl-cni_attach -l … over 1, 10, 25 and 50 pods; the ratio 50/1; docs/bench-bulk.svg
//   P4 start-up     bin/kubectl-cni_attach --help vs `node -e 0`; peak RSS of a pod attach (/usr/bin/time -v)
//   P5 remote pod   from a "laptop" (no Docker, only a kubeconfig), one attach through an agent pod to a pod on a
//                   "remote" node: node round trips (pods/exec calls) and wall time; the stand-in API server adds
//                   --latency ms to every request and exec (default 20), as a real API server and kubelet would
//   P6 remote bulk  the same, -l over 100 pods on 10 remote nodes (--parallel 10, and no --parallel: the default, one
//                   per node, 10 here; an older build's default was 4 in all): wall time,
//                   agents created, ratio to -l over 1 pod on 1 node. The remote nodes are simulated on this host
//                   (test/helpers/remote-nodes.ts): each exec runs in a mount namespace with that node's own CNI cache
//                   and a containerd of its own (one per node, as on real nodes), where its sandboxes are made with
//                   the CRI labels. Also one node's share alone (its 10 pods, --parallel 1, against 1 pod): what
//                   the batch takes where each node has CPUs of its own (here all ten share this machine's cores).
//                   Also once with a no-op plugin (--parallel 10; a sh script that answers ADD with a bare result, no
//                   veth, no lease): the tool's own scaling without the plugins' and the kernel's CPU. Not a target.
//   K5 kind pod     one attach to a pod on a local kind-like node container (--runtime kind): docker execs per attach
//                   and wall time vs the seed's manual way on kind, three `docker exec`s (the sandbox, its task pid,
//                   the plugin with the config on stdin; ctr instead of crictl: the test node image has no crictl)
//   K6 kind bulk    -l over 100 pods on 10 node containers vs the seed's manual way over the same pods (K5's three
//                   docker execs per pod, 10 pods at a time: xargs -P 10), and vs 1 pod on 1 node (no target) and
//                   one node's share alone, as P6's. K5/K6 need --kind-docker HOST: an
//                   engine with the test node image (test/helpers/kind-node.ts), e.g. the one the tests use.
//
// Each pair runs interleaved (A B A B …) after warm-up runs, and every attach is followed by its detach/DEL outside
// the timing. Only ratios measured in the same run mean anything on a noisy machine; the medians are printed for
// orientation. The world: its own dockerd (safe flags, its own directories), pause containers labelled the way
// dockershim labels them, the stand-in Kubernetes API server of the tests (test/k8s/stand-in-api.ts, compiled here
// with esbuild), a bridge network on 198.18.200.0/22 (no gateway, no masquerade). Everything it makes — namespaces,
// links, containers, leases, caches, temp dirs, the dockerd — is removed again, also on failure or Ctrl-C.
//
// Options:
//   --runs N            timed runs per variant (default 15; warm-up runs come on top)
//   --warmup N          warm-up runs per variant (default 2)
//   --bulk-rounds N     timed rounds of P3, P6 and K6 (default 5, after one warm-up round)
//   --only P1,P3        run only these parts
//   --no-build          measure dist/ as it is (default: node scripts/bundle.mjs first)
//   --bin DIR           the commands to measure (default: bin/ of this checkout)
//   --inherit-env       run every command with this shell's environment (default: a clean one, see below)
//   --compare NAME=DIR  also time the commands of another build (DIR holds its bin/kubectl-cni_*, e.g. a copy of
//                       the previous one) in the same interleaved runs of P1, P2, P4 and P5 (and the same rounds
//                       of P6 and K6, with their node round trips), for before/after numbers; repeatable
//   --release ARCHIVE   also time the single executable of a release archive (scripts/release.mjs; this machine's
//                       architecture, e.g. dist/release/cni-attach-v0.1.0-linux-amd64.tar.gz), unpacked into the
//                       bench's temp dir with the kubectl-cni_* names linked to it, as --compare release=… (P1, P2,
//                       P4, and the peak RSS of its pod attach)
//   --svg FILE          where P3's chart goes (default docs/bench-bulk.svg); --svg - writes none
//   --json FILE         also write every sample as JSON
//   --kind-docker HOST  K5/K6: the Docker engine that has the test's kind node image (unix:///…)
//   --latency MS        P5/P6: the stand-in API server's added latency per request and per exec (default 20)
//   --hold FILE         make the world (dockerd, the stand-in API, the pods), write a shell file of variables to
//                       FILE (KUBECONFIG, DOCKER_HOST, the pod, the config, the manual pipeline, …), measure
//                       nothing, and keep the world until Ctrl-C: for profiling and trying changes by hand; with
//                       --only P5 or P6, the remote world instead (the stand-in API with --latency, 10 simulated
//                       nodes, 101 pods; $ATTACH -l role=bulk $LAPTOP_ARGS --conf $CONF attaches the 100).
//                       The simulated nodes have caches of their own only at the --cache-dir of $LAPTOP_ARGS
//                       (bound over it in each node's mount namespace): a command without that --cache-dir uses
//                       this host's /var/lib/cni on every node and as the laptop's, a world no real cluster has
//
// Every measured command runs with a clean environment (PATH, HOME, LANG, plus KUBECONFIG, DOCKER_HOST, CNI_PATH
// and the manual pipeline's own variables), the same for both sides of a pair. Variables such as NODE_EXTRA_CA_CERTS
// or NODE_OPTIONS change what every Node process costs at start (a CA bundle in NODE_EXTRA_CA_CERTS is parsed before
// the first line runs); when the shell has them, P4 also times `node -e 0` with them, so the difference is on record.
import { spawn, execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, hostname, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CNI_DIR = '/usr/lib/cni';
const NS = 'cni-bench';
const SUBNET = '198.18.200.0/22';
const BULK_SIZES = [1, 10, 25, 50];
const RUN_TIMEOUT_MS = 120_000;

/**
 * A simulated sandbox's id: 64 hex digits, as containerd's and Docker's are, from `seed` (the bench's prefix and the
 * pod's name). Before, `${prefix}-bulk-000`: every id shared its first 12 characters, so cni-list's CONTAINER column
 * (an id's first 12, as `docker ps` prints them) repeated one value for 100 pods.
 */
export function sandboxIdOf(seed) {
  return createHash('sha256').update(seed).digest('hex');
}

// ------------------------------------------------------------------------------------------------ options

function parseArgs(argv) {
  const o = { runs: 15, warmup: 2, bulkRounds: 5, latency: 20, only: null, build: true, bin: null, inheritEnv: false, compare: [], release: null, svg: join(ROOT, 'docs/bench-bulk.svg'), json: null, hold: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    const int = (min) => {
      const n = Number(val());
      if (!Number.isInteger(n) || n < min) usage(`${a}: a whole number ≥ ${min}`);
      return n;
    };
    if (a === '--runs') o.runs = int(1);
    else if (a === '--warmup') o.warmup = int(0);
    else if (a === '--bulk-rounds') o.bulkRounds = int(1);
    else if (a === '--latency') o.latency = int(0);
    else if (a === '--kind-docker') o.kindDocker = val();
    else if (a === '--only') o.only = new Set(val().toUpperCase().split(',').map((s) => s.trim()));
    else if (a === '--no-build') o.build = false;
    else if (a === '--bin') o.bin = resolve(val());
    else if (a === '--inherit-env') o.inheritEnv = true;
    else if (a === '--compare') {
      const v = val();
      const eq = v.indexOf('=');
      if (eq < 1) usage('--compare NAME=DIR');
      o.compare.push([v.slice(0, eq), resolve(v.slice(eq + 1))]);
    }
    else if (a === '--release') o.release = resolve(val());
    else if (a === '--svg') o.svg = val() === '-' ? null : resolve(argv[i]);
    else if (a === '--json') o.json = resolve(val());
    else if (a === '--hold') o.hold = resolve(val());
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  if (o.runs > 200 || o.warmup > 20 || o.bulkRounds > 30) usage('--runs ≤ 200, --warmup ≤ 20, --bulk-rounds ≤ 30');
  for (const p of o.only ?? []) if (!['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'K5', 'K6'].includes(p)) usage(`--only: unknown part ${p}`);
  return o;
}

function usage(msg) {
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1);
  const head = lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).map((l) => l.slice(3));
  if (msg) {
    process.stderr.write(`bench: ${msg}\n`);
    process.exit(2);
  }
  process.stdout.write(`${head.join('\n')}\n`);
  process.exit(0);
}

const opts = parseArgs(process.argv.slice(2));
const want = (p) => !opts.only || opts.only.has(p);
const log = (s) => process.stderr.write(`bench: ${s}\n`);

// ------------------------------------------------------------------------------------------------ cleanup and signals

const cleanups = [];
const defer = (what, fn) => cleanups.push({ what, fn });
const children = new Set();
let interrupted = null;

class Interrupted extends Error {}
const checkInterrupt = () => {
  if (interrupted) throw new Interrupted(`interrupted by ${interrupted}`);
};

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (interrupted) {
      log(`${sig}: still cleaning up (every step is bounded); please wait`);
      return;
    }
    interrupted = sig;
    log(`${sig}: letting the running command stop (it rolls back), then removing everything this run made`);
    // a Ctrl-C reached our children too (same process group), and cni-attach rolls back on the first signal but
    // quits at once on a second one: give them time, then stop whatever still runs
    setTimeout(() => {
      for (const c of children) c.kill('SIGTERM');
    }, 5000).unref();
  });
}

async function runCleanups() {
  const errors = [];
  while (cleanups.length) {
    const c = cleanups.pop();
    try {
      await c.fn();
    } catch (e) {
      errors.push(`${c.what}: ${e?.message ?? e}`);
    }
  }
  return errors;
}

// ------------------------------------------------------------------------------------------------ processes

/**
 * Run a command; resolves with its wall time (spawn to exit, in ms), exit code and output. Never rejects on a
 * non-zero exit; is killed past RUN_TIMEOUT_MS.
 */
function run(cmd, args, { env, input, cwd } = {}) {
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint();
    let t1;
    const child = spawn(cmd, args, { env: env ?? process.env, cwd: cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      children.delete(child);
      reject(new Error(`${cmd}: ${e.message}`));
    });
    child.on('exit', () => {
      t1 = process.hrtime.bigint();
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolvePromise({
        ms: Number((t1 ?? process.hrtime.bigint()) - t0) / 1e6,
        code: code ?? 128,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** run(), and throw with the command's output unless it exited 0. */
async function must(cmd, args, o) {
  const r = await run(cmd, args, o);
  if (r.code !== 0) {
    checkInterrupt();
    throw new Error(`${[cmd, ...args].join(' ')} exited ${r.code}${r.signal ? ` (${r.signal})` : ''}:\n${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
  }
  return r;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------ preflight

function onPath(cmd) {
  if (cmd.startsWith('/')) return existsSync(cmd);
  return [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin'].some((d) => d && existsSync(join(d, cmd)));
}

/** Commands the bench needs, and the Debian package of each (installed with apt-get when missing, as test.sh does). */
const NEEDS = [
  ['ip', 'iproute2'],
  ['curl', 'curl'],
  ['jq', 'jq'],
  ['docker', 'docker.io'],
  ['dockerd', 'docker.io'],
  ['/usr/bin/time', 'time'],
  ['/usr/bin/busybox', 'busybox-static'],
  [`${CNI_DIR}/bridge`, 'containernetworking-plugins'],
  ['openssl', 'openssl'],
  ['tar', 'tar'],
  ['umount', 'mount'],
];

async function preflight() {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) throw new Error('run as root on Linux (the bench makes network namespaces and runs CNI plugins)');
  const missing = [...new Set(NEEDS.filter(([c]) => !onPath(c)).map(([, p]) => p))];
  if (missing.length) {
    log(`installing ${missing.join(' ')}`);
    await must('apt-get', ['update', '-qq']);
    await must('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const req = createRequire(join(ROOT, 'package.json'));
  for (const m of ['esbuild', 'dockerode', 'commander']) {
    try {
      req.resolve(m);
    } catch {
      throw new Error(`npm package ${m} is missing: run \`npm ci\` first`);
    }
  }
}

/**
 * CPU seconds this whole machine spent busy so far (/proc/stat: user, nice, system, irq, softirq, steal; USER_HZ 100):
 * the difference over a bulk run says whether the run was CPU-bound (busy ≈ wall × cores).
 */
function machineBusySeconds() {
  if (ownCgroupUsage) return ownCgroupUsage();
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return (user + nice + system + irq + softirq + (steal ?? 0)) / 100;
}

/**
 * When the bench runs in a cgroup of its own (not the root: e.g. `echo $$ > /sys/fs/cgroup/cpuacct/bench/cgroup.procs`
 * before starting it), the CPU its process tree used (the CLI, the stand-in, the simulated nodes' processes, their
 * containerd and plugins), in seconds: what other work on a shared machine does not blur. Else undefined (the busy
 * lines then count the whole machine, from /proc/stat).
 */
const ownCgroupUsage = (() => {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  const v1 = lines.map((l) => l.split(':')).find((f) => f[1]?.split(',').includes('cpuacct'));
  if (v1 && v1[2] && v1[2] !== '/') {
    const file = `/sys/fs/cgroup/cpuacct${v1[2]}/cpuacct.usage`;
    if (existsSync(file)) return () => Number(readFileSync(file, 'utf8')) / 1e9;
  }
  const v2 = lines.find((l) => l.startsWith('0::'))?.slice(3);
  for (const root of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    const file = `${root}${v2}/cpu.stat`;
    if (v2 && v2 !== '/' && existsSync(file)) return () => Number(/usage_usec (\d+)/.exec(readFileSync(file, 'utf8'))?.[1] ?? 0) / 1e6;
  }
  return undefined;
})();

/** "what: the machine was busy B CPU-s during a 100-pod attach of W s (B/(W×cores) of its cores)". */
function busyLine(what, xs) {
  if (!xs.length) return `${what}: no CPU sample`;
  const cpu = median(xs.map((x) => x.cpu));
  const wall = median(xs.map((x) => x.wall));
  const cores = cpus().length;
  const who = ownCgroupUsage ? "the bench's processes (its cgroup) used" : 'the machine was busy';
  return `${what}: ${who} ${cpu.toFixed(1)} CPU-s during a 100-pod attach of ${wall.toFixed(1)} s (${Math.round((100 * cpu) / (wall * cores))} % of its ${cores} cores; medians)`;
}

/** Compile the tests' stand-in API server and Docker helpers (TypeScript) into one ESM file in dir, and import it. */
async function loadHelpers(dir) {
  const { build } = await import('esbuild');
  const outfile = join(dir, 'helpers.mjs');
  await build({
    stdin: {
      contents: [
        "export * from './test/k8s/stand-in-api.ts';",
        "export * from './test/helpers/docker.ts';",
        "export { startContainerd, stopContainerd, startSandbox as startCriSandbox } from './test/helpers/containerd.ts';",
        "export * from './test/helpers/remote-nodes.ts';",
        "export { startNode, removeNode, startSandbox as startNodeSandbox, NODE_IMAGE } from './test/helpers/kind-node.ts';",
        "export { DockerProxy } from './test/helpers/docker-proxy.ts';",
        "export { execRoundTrips } from './test/helpers/node-trips.ts';",
        "export { fakePlugin } from './test/helpers/fake-plugin.ts';",
        '',
      ].join('\n'),
      resolveDir: ROOT, loader: 'ts', sourcefile: 'bench-helpers.ts' },
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    // npm packages stay where they are (the output lives in a temp dir): import them by absolute file URL, resolved
    // as an ES module import resolves them (a package's "import" export, if it has one)
    plugins: [
      {
        name: 'abs-packages',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (a) => (a.path.startsWith('node:') ? { path: a.path, external: true } : { path: import.meta.resolve(a.path), external: true }));
        },
      },
    ],
  });
  return import(pathToFileURL(outfile).href);
}

// ------------------------------------------------------------------------------------------------ the world

/** What start-up-relevant variables the shell has that the clean environment drops. */
const STARTUP_VARS = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS', 'NODE_PATH', 'NODE_COMPILE_CACHE', 'UV_THREADPOOL_SIZE'];
const droppedVars = STARTUP_VARS.filter((k) => process.env[k] !== undefined);

function cleanEnv() {
  if (opts.inheritEnv) return { ...process.env };
  const env = { PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8' };
  return env;
}

async function sysctlGet(key) {
  return (await readFile(`/proc/sys/${key.replaceAll('.', '/')}`, 'utf8')).trim();
}
async function sysctlSet(key, value) {
  await writeFile(`/proc/sys/${key.replaceAll('.', '/')}`, `${value}\n`);
}

async function dockerAnswers(host) {
  const r = await run('docker', ['-H', host, 'version', '--format', '{{.Server.Version}}']).catch(() => ({ code: 1 }));
  return r.code === 0;
}

/** pids of processes whose command line mentions dir (the containerd and shims of our dockerd). */
function processesUnder(dir) {
  const pids = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) pids.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return pids;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function startDockerd(dir) {
  const host = `unix://${dir}/docker.sock`;
  const logFile = join(dir, 'dockerd.log');
  const { openSync, closeSync, mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  const fd = openSync(logFile, 'a');
  // its own session: a Ctrl-C in the terminal reaches the bench, which then removes the containers before stopping it
  const child = spawn(
    'dockerd',
    ['--iptables=false', '--ip-masq=false', '--ip-forward=false', '--bridge=none', '--data-root', `${dir}/data`, '--exec-root', `${dir}/exec`, '--pidfile', `${dir}/dockerd.pid`, '--host', host],
    { detached: true, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const pid = child.pid;
  child.unref();
  defer('dockerd', async () => {
    if (alive(pid)) {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 200 && alive(pid); i++) await sleep(100);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    // containerd and shims of this engine, if any outlived it: by pid, found by our own directory
    for (let i = 0; i < 3; i++) {
      const left = processesUnder(dir);
      if (!left.length) break;
      for (const p of left) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await sleep(200);
    }
    // mounts of the engine (overlay, shm, netns bind mounts), innermost first
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m) => m && (m === dir || m.startsWith(`${dir}/`)))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) await run('umount', ['-l', m]);
  });
  for (let i = 0; i < 300; i++) {
    if (await dockerAnswers(host)) return { host, pid };
    if (!alive(pid)) break;
    await sleep(100);
  }
  throw new Error(`dockerd did not come up; the end of its log:\n${(await readFile(logFile, 'utf8')).split('\n').slice(-20).join('\n')}`);
}

/** Run fn over items with at most n at a time. */
async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        checkInterrupt();
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

async function linkNames() {
  const r = await run('ip', ['-o', 'link', 'show']);
  return r.stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter(Boolean);
}

// ------------------------------------------------------------------------------------------------ statistics

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const quantile = (a, q) => {
  const s = [...a].sort((x, y) => x - y);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
};
const progress = (label, done, total) => {
  if (process.stderr.isTTY) process.stderr.write(`\rbench: ${label}: ${done}/${total} rounds${done === total ? '\n' : ''}`);
  else if (done === total) log(`${label}: ${total} rounds done`);
};
const fmtMs = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
const fmtX = (x) => `${x.toFixed(2)}×`;

/**
 * Interleaved runs: for each round, every variant once, in order (A B A B …); the first `warmup` rounds are
 * discarded. A variant is { name, run: async () => ms, after?: async () => void } — `after` (the detach/DEL) is not
 * timed.
 */
async function interleave(label, variants) {
  const samples = variants.map(() => []);
  const total = opts.warmup + opts.runs;
  for (let round = 0; round < total; round++) {
    for (let v = 0; v < variants.length; v++) {
      checkInterrupt();
      const ms = await variants[v].run();
      if (variants[v].after) await variants[v].after();
      if (round >= opts.warmup) samples[v].push(ms);
    }
    progress(label, round + 1, total);
  }
  return variants.map((v, i) => ({ name: v.name, samples: samples[i], median: median(samples[i]), min: Math.min(...samples[i]), q1: quantile(samples[i], 0.25), q3: quantile(samples[i], 0.75) }));
}

// ------------------------------------------------------------------------------------------------ the chart

function bulkSvg(bulk, meta) {
  const W = 720;
  const H = 430;
  const m = { l: 72, r: 28, t: 56, b: 52 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const target = 4 * bulk.attach[1].median;
  const all = [...Object.values(bulk.attach), ...Object.values(bulk.detach)].flatMap((s) => s.samples);
  const ymaxRaw = Math.max(...all, target) * 1.1;
  const step = [50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000].find((s) => ymaxRaw / s <= 8) ?? 50000;
  const ymax = Math.ceil(ymaxRaw / step) * step;
  const x = (n) => m.l + (n / 50) * pw;
  const y = (ms) => m.t + ph - (ms / ymax) * ph;
  const esc = (t) => String(t).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const halo = 'stroke="#fff" stroke-width="4" paint-order="stroke"';
  const short = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
  const tick = (v) => (v >= 1000 ? `${+(v / 1000).toFixed(2)} s` : `${v} ms`);
  const parts = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(`<text x="${m.l}" y="24" font-size="15" font-weight="600">Bulk attach and detach: pods selected by -l vs wall time</text>`);
  parts.push(`<text x="${m.l}" y="42" fill="#555">${esc(meta)}</text>`);
  for (let v = 0; v <= ymax; v += step) {
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y(v)}" y2="${y(v)}" stroke="#e6e6e6"/>`);
    parts.push(`<text x="${m.l - 8}" y="${y(v) + 4}" text-anchor="end" fill="#444">${tick(v)}</text>`);
  }
  for (const n of BULK_SIZES) {
    parts.push(`<line x1="${x(n)}" x2="${x(n)}" y1="${m.t + ph}" y2="${m.t + ph + 5}" stroke="#444"/>`);
    parts.push(`<text x="${x(n)}" y="${m.t + ph + 19}" text-anchor="middle" fill="#444">${n}</text>`);
  }
  parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${m.t + ph}" y2="${m.t + ph}" stroke="#444"/>`);
  parts.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ph}" stroke="#444"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 12}" text-anchor="middle" fill="#222">pods (kubectl cni-attach -l … / kubectl cni-detach -l …, default --parallel)</text>`);
  parts.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" fill="#222">wall time</text>`);
  // the target: 50 pods within 4 × one pod
  parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y(target)}" y2="${y(target)}" stroke="#c0392b" stroke-dasharray="6 4"/>`);
  parts.push(`<text x="${x(1) + 8}" y="${y(target) - 6}" fill="#c0392b" ${halo}>target for 50 pods: 4 × one pod (${short(target)})</text>`);
  const series = [
    ['attach', bulk.attach, '#1f6feb', 'end', -10],
    ['detach', bulk.detach, '#2da44e', 'start', 16],
  ];
  for (const [, data, color, anchor, dy] of series) {
    const pts = BULK_SIZES.map((n) => [x(n), y(data[n].median)]);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => p.map((c) => c.toFixed(1)).join(',')).join(' ')}"/>`);
    for (const n of BULK_SIZES) {
      for (const v of data[n].samples) parts.push(`<circle cx="${x(n).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.2" fill="${color}" fill-opacity="0.35"/>`);
      parts.push(`<circle cx="${x(n).toFixed(1)}" cy="${y(data[n].median).toFixed(1)}" r="4" fill="${color}"/>`);
      const la = n === 50 ? 'end' : n === 1 ? 'start' : anchor;
      const lx = x(n) + (la === 'end' ? -8 : 8);
      parts.push(`<text x="${lx.toFixed(1)}" y="${(y(data[n].median) + dy).toFixed(1)}" text-anchor="${la}" fill="${color}" ${halo}>${short(data[n].median)}</text>`);
    }
  }
  // legend, top left inside the plot
  const lg = (i, name, color) =>
    `<line x1="${m.l + 14}" x2="${m.l + 34}" y1="${m.t + 14 + i * 18}" y2="${m.t + 14 + i * 18}" stroke="${color}" stroke-width="2"/><circle cx="${m.l + 24}" cy="${m.t + 14 + i * 18}" r="4" fill="${color}"/><text x="${m.l + 40}" y="${m.t + 18 + i * 18}" fill="#222" ${halo}>${name}</text>`;
  parts.push(lg(0, 'attach -l (median; small dots: each run)', '#1f6feb'));
  parts.push(lg(1, 'detach -l (median; small dots: each run)', '#2da44e'));
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

// ------------------------------------------------------------------------------------------------ main

async function main() {
  await preflight();
  const facts = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    host: hostname(),
    cpu: `${cpus()[0]?.model ?? '?'} × ${cpus().length}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    kernel: (await run('uname', ['-r'])).stdout.trim(),
    node: process.version,
    os: (() => {
      try {
        return /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '?';
      } catch {
        return '?';
      }
    })(),
  };

  if (opts.build) {
    log('building dist/ (node scripts/bundle.mjs)');
    await must(process.execPath, [join(ROOT, 'scripts/bundle.mjs')]);
  }
  const binDir = opts.bin ?? join(ROOT, 'bin');
  const bin = (dir, tool) => join(dir, `kubectl-cni_${tool}`);

  const tmp = await mkdtemp('/tmp/cni-attach-bench-');
  defer(`temp dir ${tmp}`, () => rm(tmp, { recursive: true, force: true }));
  const forwardBefore = await sysctlGet('net.ipv4.ip_forward');
  defer('net.ipv4.ip_forward', async () => {
    const now = await sysctlGet('net.ipv4.ip_forward');
    if (now !== forwardBefore) {
      await sysctlSet('net.ipv4.ip_forward', forwardBefore);
      log(`net.ipv4.ip_forward had changed to ${now}; restored to ${forwardBefore}`);
    }
  });

  const prefix = `cnab${randomBytes(2).toString('hex')}`;
  const bridge = `${prefix}br`;
  const netnsName = `${prefix}n`;
  const cacheDir = join(tmp, 'cache');
  const dataDir = join(tmp, 'ipam');
  const confPath = join(tmp, 'net.json');
  const conf = {
    cniVersion: '1.0.0',
    name: `${prefix}-net`,
    type: 'bridge',
    bridge,
    isGateway: false,
    ipMasq: false,
    ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET }]], dataDir },
  };
  await writeFile(confPath, `${JSON.stringify(conf, null, 2)}\n`);

  // the bridge plugin never deletes its bridge; veths die with their namespaces, but sweep them anyway
  defer(`links of ${prefix}`, async () => {
    const names = await linkNames();
    const enslaved = (await run('ip', ['-o', 'link', 'show', 'master', bridge])).stdout
      .split('\n')
      .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
      .filter(Boolean);
    for (const l of [...enslaved, ...names.filter((n) => n.startsWith(prefix))]) await run('ip', ['link', 'del', 'dev', l]);
  });

  log('starting dockerd');
  const dockerDir = join(tmp, 'docker');
  const { host: dockerHost } = await startDockerd(dockerDir);
  process.env.DOCKER_HOST = dockerHost; // for the helpers' dockerode and for the docker CLI
  facts.docker = (await run('docker', ['version', '--format', '{{.Server.Version}}'])).stdout.trim();
  facts.plugins = (await run('dpkg-query', ['-W', '-f=${Version}', 'containernetworking-plugins'])).stdout.trim() || '?';
  checkInterrupt();

  const h = await loadHelpers(tmp);
  const d = await h.requireDocker();
  defer('containers', () => h.removeContainers(d, prefix));
  await h.ensureImage(d);

  const api = await h.StandInApiServer.start();
  defer('stand-in API server', () => api.stop());
  const node = hostname();

  const env = { ...cleanEnv(), KUBECONFIG: api.kubeconfigPath, DOCKER_HOST: dockerHost, CNI_PATH: CNI_DIR };
  const tool = (dir, name, args, cache = cacheDir) => run(bin(dir, name), [...args, '--cache-dir', cache], { env });
  const mustOk = (what, r) => {
    if (r.code !== 0) {
      checkInterrupt(); // it failed because we were interrupted: say that, not the command's error
      throw new Error(`${what} exited ${r.code}${r.signal ? ` (${r.signal})` : ''}:\n${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
    }
    return r;
  };
  // the build measured, and the builds it is compared with (each with its own cache dir)
  if (opts.release) {
    // the release's executable under the five names, as krew or `ln -s` install it; its own HOME is the bench's, so
    // it uses the code caches it ships (a first run would otherwise make none: they are accepted)
    const dir = join(tmp, 'release');
    await mkdir(dir);
    await must('tar', ['-xzf', opts.release, '-C', dir]);
    for (const t of ['attach', 'detach', 'check', 'list', 'gc']) await symlink('cni-attach', join(dir, `kubectl-cni_${t}`));
    opts.compare.push(['release', dir]);
  }
  const variants = [['', binDir, cacheDir], ...opts.compare.map(([name, dir], i) => [` [${name}]`, dir, join(tmp, `cache-compare-${i}`)])];

  // pods: one for P1 (and P4's RSS), 50 for P3, labelled so that -l picks 1, 10, 25 or 50 of them
  const pods = [{ name: 'bench-p1', labels: { role: 'single' } }];
  if (want('P3')) {
    for (let i = 0; i < 50; i++) {
      const labels = { role: 'bulk' };
      for (const n of BULK_SIZES) if (i < n) labels[`bulk${n}`] = 'yes';
      pods.push({ name: `bench-bulk-${String(i).padStart(2, '0')}`, labels });
    }
  }
  log(`starting ${pods.length} pods (pause + app container each, labelled as dockershim labels them)`);
  const started = await pool(pods, 4, async (p) => {
    const pod = h.makePod({ name: p.name, namespace: NS, nodeName: node, labels: p.labels });
    api.addPod(pod);
    const c = await h.startPod(d, { name: p.name, namespace: NS, uid: pod.metadata.uid, testLabel: prefix });
    return { ...p, uid: pod.metadata.uid, ...c };
  });
  const p1 = started[0];
  checkInterrupt();

  const holdRemote = opts.hold && [...(opts.only ?? [])].some((p) => p === 'P5' || p === 'P6');
  if (opts.hold && !holdRemote) return hold(opts.hold, { env, api, p1, confPath, cacheDir, tmp, bin: bin(binDir, 'attach') });

  const results = { facts, opts: { runs: opts.runs, warmup: opts.warmup, bulkRounds: opts.bulkRounds, compare: opts.compare }, pairs: {} };
  const table = [];
  const verdicts = [];
  const verdict = (id, what, value, limit, fmt) => {
    const ok = value <= limit;
    verdicts.push({ id, what, value: fmt(value), limit: fmt(limit), ok });
    return ok;
  };

  // ---------------------------------------------------------------- P1
  if (want('P1')) {
    const script = join(tmp, 'manual-attach.sh');
    await writeFile(
      script,
      [
        '#!/usr/bin/env bash',
        "# The seed's manual pipeline, as a person on the node would run it (kubectl get pod -o jsonpath emulated with curl | jq).",
        'set -euo pipefail',
        'ns=$1 pod=$2 ifname=$3 conf=$4',
        'uid=$(curl -sS --fail --cacert "$BENCH_CA" -H "Authorization: Bearer $BENCH_TOKEN" "$BENCH_SERVER/api/v1/namespaces/$ns/pods/$pod" | jq -r .metadata.uid)',
        'sandbox=$(docker ps -q --no-trunc --filter label=io.kubernetes.docker.type=podsandbox --filter "label=io.kubernetes.pod.uid=$uid")',
        "pid=$(docker inspect -f '{{.State.Pid}}' \"$sandbox\")",
        'CNI_COMMAND=ADD CNI_CONTAINERID=$sandbox CNI_NETNS=/proc/$pid/ns/net CNI_IFNAME=$ifname CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge <"$conf"',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const manualEnv = { ...env, BENCH_CA: api.caPath, BENCH_TOKEN: api.token, BENCH_SERVER: api.url };
    const delEnv = { ...env, CNI_COMMAND: 'DEL', CNI_CONTAINERID: p1.sandboxId, CNI_NETNS: `/proc/${p1.pid}/ns/net`, CNI_IFNAME: 'eth1', CNI_PATH: CNI_DIR };
    const attachArgs = [p1.name, '-n', NS, '--ifname', 'eth1', '--conf', confPath];
    const detachArgs = [p1.name, '-n', NS, '--ifname', 'eth1'];
    // one check that the manual pipeline really attaches (and the right sandbox)
    const probe = await run('bash', [script, NS, p1.name, 'eth1', confPath], { env: manualEnv });
    mustOk('the manual pipeline', probe);
    if (!JSON.parse(probe.stdout).ips?.length) throw new Error(`the manual pipeline gave no address: ${probe.stdout}`);
    mustOk('plugin DEL', await run(`${CNI_DIR}/bridge`, [], { env: delEnv, input: JSON.stringify(conf) }));

    // how many API requests one pod attach makes (the manual pipeline makes one GET)
    const before = api.requests.length;
    mustOk('cni-attach', await tool(binDir, 'attach', attachArgs));
    results.apiRequests = api.requests.slice(before).map((r) => `${r.method} ${r.path}`);
    mustOk('cni-detach', await tool(binDir, 'detach', detachArgs));

    log(`P1: pod attach vs the manual pipeline, ${opts.warmup} warm-up + ${opts.runs} runs each`);
    const vs = [
      ...variants.map(([suffix, dir, cache]) => ({
        name: `cni-attach pod${suffix}`,
        run: async () => mustOk('cni-attach', await tool(dir, 'attach', attachArgs, cache)).ms,
        after: async () => void mustOk('cni-detach', await tool(dir, 'detach', detachArgs, cache)),
      })),
      {
        name: 'manual pipeline (curl|jq, docker ps, docker inspect, plugin)',
        run: async () => mustOk('the manual pipeline', await run('bash', [script, NS, p1.name, 'eth1', confPath], { env: manualEnv })).ms,
        after: async () => void mustOk('plugin DEL', await run(`${CNI_DIR}/bridge`, [], { env: delEnv, input: JSON.stringify(conf) })),
      },
    ];
    const r = await interleave('P1', vs);
    results.pairs.P1 = r;
    const ref = r[r.length - 1];
    table.push({ id: 'P1', rows: r, ref });
    verdict('P1', 'pod attach ≤ 1.5× the manual pipeline', r[0].median / ref.median, 1.5, fmtX);
    verdict('P1*', 'stretch: pod attach ≤ 1.0× the manual pipeline', r[0].median / ref.median, 1.0, fmtX);
  }

  // ---------------------------------------------------------------- P2
  if (want('P2')) {
    await must('ip', ['netns', 'add', netnsName]);
    defer(`netns ${netnsName}`, async () => void (await run('ip', ['netns', 'del', netnsName])));
    await must('ip', ['-n', netnsName, 'link', 'set', 'lo', 'up']);
    const nsPath = `/var/run/netns/${netnsName}`;
    const pluginEnv = (cmd) => ({ ...env, CNI_COMMAND: cmd, CNI_CONTAINERID: 'bench-floor', CNI_NETNS: nsPath, CNI_IFNAME: 'eth1', CNI_PATH: CNI_DIR });
    const args = ['--netns', nsPath, '--ifname', 'eth1'];
    log(`P2: netns attach vs node -e 0 + the bare plugin ADD, ${opts.warmup} warm-up + ${opts.runs} runs each`);
    const vs = [
      ...variants.map(([suffix, dir, cache]) => ({
        name: `cni-attach --netns${suffix}`,
        run: async () => mustOk('cni-attach --netns', await tool(dir, 'attach', [...args, '--conf', confPath], cache)).ms,
        after: async () => void mustOk('cni-detach --netns', await tool(dir, 'detach', args, cache)),
      })),
      {
        name: 'floor: node -e 0, then the plugin ADD',
        run: async () => {
          const a = mustOk('node -e 0', await run(process.execPath, ['-e', '0'], { env }));
          const b = mustOk('plugin ADD', await run(`${CNI_DIR}/bridge`, [], { env: pluginEnv('ADD'), input: JSON.stringify(conf) }));
          return a.ms + b.ms;
        },
        after: async () => void mustOk('plugin DEL', await run(`${CNI_DIR}/bridge`, [], { env: pluginEnv('DEL'), input: JSON.stringify(conf) })),
      },
    ];
    const r = await interleave('P2', vs);
    results.pairs.P2 = r;
    const ref = r[r.length - 1];
    table.push({ id: 'P2', rows: r, ref });
    verdict('P2', 'netns attach ≤ 1.3× the floor', r[0].median / ref.median, 1.3, fmtX);
  }

  // ---------------------------------------------------------------- P3
  if (want('P3')) {
    const helpA = await run(bin(binDir, 'attach'), ['--help'], { env });
    const helpD = await run(bin(binDir, 'detach'), ['--help'], { env });
    const hasSelector = (t) => /(^|\s)-l, --selector\b/m.test(t);
    if (!hasSelector(helpA.stdout) || !hasSelector(helpD.stdout)) {
      results.pairs.P3 = { notRun: '-l missing' };
      verdicts.push({ id: 'P3', what: '50 pods ≤ 4× one pod', value: 'not run: -l missing', limit: '4.00×', ok: null });
      log(`P3: not run: -l missing in ${!hasSelector(helpA.stdout) ? 'kubectl-cni_attach' : 'kubectl-cni_detach'} --help`);
    } else {
      const bulk = { attach: {}, detach: {} };
      for (const n of BULK_SIZES) bulk.attach[n] = { samples: [] };
      for (const n of BULK_SIZES) bulk.detach[n] = { samples: [] };
      const total = 1 + opts.bulkRounds;
      log(`P3: -l over ${BULK_SIZES.join(', ')} pods, 1 warm-up + ${opts.bulkRounds} rounds (order rotates each round)`);
      for (let round = 0; round < total; round++) {
        const order = BULK_SIZES.map((_, i) => BULK_SIZES[(i + round) % BULK_SIZES.length]);
        for (const n of order) {
          checkInterrupt();
          const sel = `bulk${n}=yes`;
          const a = mustOk(`cni-attach -l ${sel}`, await tool(binDir, 'attach', ['-l', sel, '-n', NS, '--ifname', 'eth1', '--conf', confPath]));
          checkInterrupt();
          const dt = mustOk(`cni-detach -l ${sel}`, await tool(binDir, 'detach', ['-l', sel, '-n', NS, '--ifname', 'eth1']));
          if (round > 0) {
            bulk.attach[n].samples.push(a.ms);
            bulk.detach[n].samples.push(dt.ms);
          }
        }
        progress('P3', round + 1, total);
      }
      for (const k of ['attach', 'detach']) for (const n of BULK_SIZES) Object.assign(bulk[k][n], { median: median(bulk[k][n].samples), min: Math.min(...bulk[k][n].samples) });
      results.pairs.P3 = bulk;
      const ratio = bulk.attach[50].median / bulk.attach[1].median;
      verdict('P3', '50 pods ≤ 4× one pod (attach -l)', ratio, 4, fmtX);
      if (opts.svg) {
        const meta = `${facts.date.slice(0, 10)} · ${facts.cpu.replace(/\s+/g, ' ')} · node ${facts.node} · ${opts.bulkRounds} rounds · 50/1 = ${fmtX(ratio)}`;
        await mkdir(dirname(opts.svg), { recursive: true });
        await writeFile(opts.svg, bulkSvg(bulk, meta));
        log(`P3: chart written to ${opts.svg}`);
      }
    }
  }

  // ---------------------------------------------------------------- P5, P6
  if (want('P5') || want('P6')) await remoteParts({ h, tmp, prefix, variants, bin, results, table, verdicts, verdict });
  if (want('K5') || want('K6')) await kindParts({ h, tmp, prefix, binDir, variants, bin, results, table, verdicts, verdict });

  // ---------------------------------------------------------------- P4
  if (want('P4')) {
    log(`P4: --help vs node -e 0, ${opts.warmup} warm-up + ${opts.runs} runs each`);
    const vs = [
      ...variants.map(([suffix, dir]) => ({ name: `cni-attach --help${suffix}`, run: async () => mustOk('--help', await run(bin(dir, 'attach'), ['--help'], { env })).ms })),
      ...(droppedVars.length && !opts.inheritEnv
        ? [{ name: `node -e 0 with this shell's ${droppedVars.join(', ')} (not used elsewhere)`, run: async () => mustOk('node -e 0', await run(process.execPath, ['-e', '0'], { env: { ...env, ...Object.fromEntries(droppedVars.map((k) => [k, process.env[k]])) } })).ms }]
        : []),
      { name: 'node -e 0', run: async () => mustOk('node -e 0', await run(process.execPath, ['-e', '0'], { env })).ms },
    ];
    const r = await interleave('P4', vs);
    results.pairs.P4 = r;
    const ref = r[r.length - 1];
    table.push({ id: 'P4', rows: r, ref });
    verdict('P4', '--help ≤ 1.5× node -e 0', r[0].median / ref.median, 1.5, fmtX);

    // peak RSS: /usr/bin/time -v of a pod attach (3 runs, the largest counts), and of node -e 0 for scale
    const rss = async (cmd, args, after) => {
      const kb = [];
      for (let i = 0; i < 3; i++) {
        checkInterrupt();
        const t = mustOk(`/usr/bin/time -v ${cmd}`, await run('/usr/bin/time', ['-v', cmd, ...args], { env }));
        const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(t.stderr);
        if (!m) throw new Error(`no RSS in /usr/bin/time output:\n${t.stderr}`);
        kb.push(Number(m[1]));
        if (after) await after();
      }
      return Math.max(...kb) * 1024;
    };
    const mb = (b) => `${(b / 1e6).toFixed(1)} MB`;
    results.rss = {};
    for (const [suffix, dir, cache] of variants) {
      results.rss[`pod attach${suffix}`] = await rss(bin(dir, 'attach'), [p1.name, '-n', NS, '--ifname', 'eth1', '--conf', confPath, '--cache-dir', cache], async () =>
        void mustOk('cni-detach', await tool(dir, 'detach', [p1.name, '-n', NS, '--ifname', 'eth1'], cache)),
      );
      results.rss[`--help${suffix}`] = await rss(bin(dir, 'attach'), ['--help']);
    }
    results.rss['node -e 0'] = await rss(process.execPath, ['-e', '0']);
    verdict('P4', 'peak RSS of a pod attach ≤ 80 MB', results.rss['pod attach'], 80e6, mb);
    if (opts.release) verdict('P4', 'peak RSS of a pod attach ≤ 80 MB [release]', results.rss['pod attach [release]'], 80e6, mb);
  }

  // ---------------------------------------------------------------- report
  const lines = [];
  lines.push(`cni-attach benchmark — ${facts.date} — ${facts.cpu}, ${facts.memory}, ${facts.os}, kernel ${facts.kernel}, node ${facts.node}, dockerd ${facts.docker}, plugins ${facts.plugins}`);
  lines.push(`interleaved, ${opts.warmup} warm-up + ${opts.runs} timed runs per variant; wall time from spawn to exit; attach followed by detach/DEL outside the timing`);
  lines.push(opts.inheritEnv ? "environment: this shell's (--inherit-env)" : `environment: clean (PATH, HOME, LANG + the bench's own variables)${droppedVars.length ? `; dropped from this shell: ${droppedVars.join(', ')}` : ''}`);
  lines.push('');
  lines.push('| part | command | median | min | q1–q3 | ratio to reference |');
  lines.push('|---|---|---:|---:|---:|---:|');
  const bulkRows = () => {
    const b = results.pairs.P3;
    if (!b || b.notRun) return;
    for (const k of ['attach', 'detach']) {
      for (const n of BULK_SIZES) {
        const q = (x) => fmtMs(quantile(b[k][n].samples, x));
        lines.push(`| P3 | ${k} -l (${n} pod${n > 1 ? 's' : ''}) | ${fmtMs(b[k][n].median)} | ${fmtMs(b[k][n].min)} | ${q(0.25)}–${q(0.75)} | ${fmtX(b[k][n].median / b[k][1].median)} of 1 pod |`);
      }
    }
  };
  for (const t of table) {
    if (t.id === 'P4') bulkRows();
    for (const row of t.rows) {
      const isRef = row === t.ref;
      lines.push(`| ${t.id} | ${row.name} | ${fmtMs(row.median)} | ${fmtMs(row.min)} | ${fmtMs(row.q1)}–${fmtMs(row.q3)} | ${isRef ? 'reference' : fmtX(row.median / t.ref.median)} |`);
    }
  }
  if (!table.some((t) => t.id === 'P4')) bulkRows();
  if (results.apiRequests) {
    lines.push('');
    lines.push(`API requests of one pod attach: ${results.apiRequests.length} (${results.apiRequests.join(', ')}); the manual pipeline: 1 (GET)`);
  }
  if (results.remoteLines) {
    lines.push('');
    lines.push(...results.remoteLines);
  }
  if (results.rss) {
    lines.push('');
    lines.push(`peak RSS (max of 3, /usr/bin/time -v): ${Object.entries(results.rss).map(([k, v]) => `${k} ${(v / 1e6).toFixed(1)} MB`).join(', ')}`);
  }
  lines.push('');
  lines.push('| target | measured | limit | result |');
  lines.push('|---|---:|---:|---|');
  for (const v of verdicts) lines.push(`| ${v.id} ${v.what} | ${v.value} | ${v.limit} | ${v.ok === null ? 'NOT RUN' : v.ok ? 'PASS' : 'FAIL'} |`);
  process.stdout.write(`${lines.join('\n')}\n`);
  results.verdicts = verdicts;
  if (opts.json) await writeFile(opts.json, `${JSON.stringify(results, null, 2)}\n`);
}

/**
 * P5 and P6: pods on "remote" nodes reached from a laptop through agent pods (see the header). Their own world: a
 * stand-in API server with added latency, 10 simulated nodes, each with a containerd of its own holding its sandboxes.
 */
async function remoteParts({ h, tmp, prefix, variants, bin, results, table, verdict }) {
  const NODES = Array.from({ length: 10 }, (_, i) => `bench-node-${i}`);
  const api = await h.StandInApiServer.start({ latencyMs: opts.latency });
  defer('stand-in API server (P5/P6)', () => api.stop());
  // each node a containerd of its own, serving only its own sandboxes, as on a real node (one shared by all ten made
  // every node's `ctr tasks list` ask all 101 sandboxes' shims)
  const used = want('P6') ? NODES : NODES.slice(0, 1);
  log(`P5/P6: starting ${used.length} containerd(s), one per remote node, for their sandboxes`);
  const cds = new Map();
  await Promise.all(used.map(async (n, i) => {
    const cd = await h.startContainerd(`${prefix}r${i}`);
    cds.set(n, cd);
    defer(`containerd of ${n} (P5/P6)`, () => h.stopContainerd(cd));
  }));
  const laptop = join(tmp, 'laptop-cache');
  const nodes = await h.simulateRemoteNodes(api, (n) => cds.get(n) ?? cds.get(NODES[0]), join(tmp, 'remote'), laptop, NODES);
  defer('the simulated nodes\' mount namespaces (P5/P6)', () => nodes.stop());
  const bridge = `${prefix}rb`;
  defer(`bridge ${bridge}`, () => run('ip', ['link', 'del', 'dev', bridge]));
  const confPath = join(tmp, 'remote-net.json');
  await writeFile(confPath, JSON.stringify({ cniVersion: '1.0.0', name: `${prefix}-rnet`, type: 'bridge', bridge, isGateway: false, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: '198.18.204.0/22' }]], dataDir: join(tmp, 'remote-ipam') } }));
  // one pod for P5 and for P6's reference (on node 0, alone), 100 for P6 (10 on each node)
  const pods = [{ name: 'one', node: NODES[0], role: 'one' }];
  if (want('P6')) for (let i = 0; i < 100; i++) pods.push({ name: `bulk-${String(i).padStart(3, '0')}`, node: NODES[i % 10], role: 'bulk' });
  log(`P5/P6: ${pods.length} sandboxes on ${want('P6') ? 10 : 1} remote node(s)`);
  await pool(pods, 4, async (p) => {
    const pod = h.makePod({ name: p.name, namespace: NS, nodeName: p.node, labels: { role: p.role, node: p.node }, containerRuntime: 'containerd' });
    api.addPod(pod);
    await h.startCriSandbox(cds.get(p.node), { id: sandboxIdOf(`${prefix}-${p.name}`), name: p.name, namespace: NS, uid: pod.metadata.uid });
  });
  const env = { ...cleanEnv(), KUBECONFIG: api.kubeconfigPath, DOCKER_HOST: 'unix:///nonexistent/docker.sock', CNI_PATH: CNI_DIR };
  const laptopArgs = ['-n', NS, '--ifname', 'net1', '--runtime', 'agent', '--agent-image', 'cni-attach-bench/agent:none', '--cache-dir', laptop];
  if (opts.hold) return holdWorld(opts.hold, { ...env, NS, CONF: confPath, LAPTOP_ARGS: laptopArgs.join(' '), ATTACH: bin(variants[0][1], 'attach'), DETACH: bin(variants[0][1], 'detach') });
  const ok = (what, r) => {
    if (r.code !== 0) {
      checkInterrupt();
      const text = (r.stderr || r.stdout).trim();
      const failures = text.split('\n').filter((l) => /failed|error/.test(l)).slice(0, 20).join('\n');
      throw new Error(`${what} exited ${r.code}:\n${failures || text.slice(-2000)}`);
    }
    return r;
  };
  // node round trips: a command's own pods/exec, or each request on a node session's (test/helpers/node-trips.ts)
  const agentTrips = () => api.execs.filter((e) => e.namespace === 'kube-system').reduce((n, e) => n + h.execRoundTrips(Buffer.concat(e.stdinMessages)), 0);
  const agentExecs = () => api.execs.filter((e) => e.namespace === 'kube-system').length;
  const agentsCreated = () => api.requests.filter((q) => q.method === 'POST' && q.path === '/api/v1/namespaces/kube-system/pods').length;
  const timed = async (dir, tool, args, withEnv = env) => {
    const t0 = performance.now();
    const r = await run(bin(dir, tool), args, { env: withEnv });
    return { r, ms: performance.now() - t0 };
  };

  if (want('P5')) {
    log(`P5: one attach through an agent pod, ${opts.latency} ms added per request and exec, ${opts.warmup} warm-up + ${opts.runs} runs per build`);
    const trips = {};
    const execsOf = {};
    const r = await interleave('P5', variants.map(([suffix, dir]) => ({
      name: `attach through an agent${suffix}`,
      run: async () => {
        const before = agentTrips();
        const execs0 = agentExecs();
        const { r: a, ms } = await timed(dir, 'attach', ['one', ...laptopArgs, '--conf', confPath]);
        ok(`attach${suffix}`, a);
        trips[suffix] = agentTrips() - before;
        execsOf[suffix] = agentExecs() - execs0;
        return ms;
      },
      after: async () => ok(`detach${suffix}`, (await run(bin(dir, 'detach'), ['one', ...laptopArgs], { env }))),
    })));
    results.pairs.P5 = { runs: r, nodeRoundTrips: trips, podsExecs: execsOf, latencyMs: opts.latency };
    table.push({ id: 'P5', rows: r, ref: r[r.length - 1] });
    results.remoteLines = [`P5 node round trips per attach: ${Object.entries(trips).map(([k, v]) => `${v}${k || ' (this build)'}`).join(', ')}; target ≤ 3 (2 + 1 plugin); pods/exec calls: ${Object.entries(execsOf).map(([k, v]) => `${v}${k || ' (this build)'}`).join(', ')}`];
    verdict('P5', 'node round trips of one attach ≤ 2 + plugins (1)', trips[''], 3, (x) => String(x));
  }

  if (want('P6')) {
    const rounds = Math.max(1, opts.bulkRounds);
    // the no-op plugin: what the tool's own round trips and bookkeeping cost at this scale, without the bridge and
    // host-local ADDs (their processes and the kernel's veth and namespace work run on this host's 2 cores too)
    const noopDir = join(tmp, 'noop-plugin');
    await mkdir(noopDir, { recursive: true });
    await h.fakePlugin(noopDir, 'bench-noop', { add: `printf '{"cniVersion":"1.0.0","interfaces":[{"name":"%s","sandbox":"%s"}]}' "$CNI_IFNAME" "$CNI_NETNS"` });
    const noopConf = join(tmp, 'noop-net.json');
    await writeFile(noopConf, JSON.stringify({ cniVersion: '1.0.0', name: `${prefix}-noop`, type: 'bench-noop' }));
    const setups = [
      { parallel: '10', conf: confPath, cniPath: CNI_DIR, label: '', target: true },
      // no --parallel: the build's own default (one per node since 2026-12-03, 10 here; 4 in all before)
      { parallel: undefined, conf: confPath, cniPath: CNI_DIR, label: '', target: true },
      { parallel: '10', conf: noopConf, cniPath: `${noopDir}:${CNI_DIR}`, label: ', no-op plugin', target: false },
    ];
    for (const { parallel: given, conf, cniPath, label, target } of setups) {
      const parallel = given ?? 'default';
      const flag = given === undefined ? [] : ['--parallel', given];
      const named = given === undefined ? 'no --parallel (the default)' : `--parallel ${given}`;
      const envOf = { ...env, CNI_PATH: cniPath };
      log(`P6: -l over 100 pods on 10 nodes vs 1 pod on 1 node, ${named}${label}, 1 warm-up + ${rounds} rounds, ${variants.length} build(s) interleaved`);
      // per build: wall times, agents created and node round trips (pods/exec calls) of each 100-pod attach and detach
      const sample = variants.map(() => ({ bulk: [], one: [], agents: [], trips: [], detachTrips: [], execs: [], busy: [] }));
      for (let round = 0; round <= rounds; round++) {
        for (const [v, [, dir]] of variants.entries()) {
          for (const [sel, key] of [['role=bulk', 'bulk'], ['role=one', 'one']]) {
            checkInterrupt();
            const created = agentsCreated();
            const before = agentTrips();
            const execs0 = agentExecs();
            const cpu0 = machineBusySeconds();
            const { r: a, ms } = await timed(dir, 'attach', ['-l', sel, ...laptopArgs, '--conf', conf, ...flag], envOf);
            if (key === 'bulk' && round > 0) sample[v].busy.push({ cpu: machineBusySeconds() - cpu0, wall: ms / 1000 });
            ok(`attach -l ${sel}`, a);
            const trips = agentTrips() - before;
            if (key === 'bulk' && round > 0) sample[v].execs.push(agentExecs() - execs0);
            if (key === 'bulk' && round > 0) sample[v].agents.push(agentsCreated() - created);
            const beforeDetach = agentTrips();
            ok(`detach -l ${sel}`, await run(bin(dir, 'detach'), ['-l', sel, ...laptopArgs, ...flag], { env: envOf }));
            if (key === 'bulk' && round > 0) sample[v].trips.push(trips);
            if (key === 'bulk' && round > 0) sample[v].detachTrips.push(agentTrips() - beforeDetach);
            if (round > 0) sample[v][key].push(ms);
          }
        }
        progress(`P6 (${named}${label})`, round + 1, rounds + 1);
      }
      const row = (name, xs) => ({ name, samples: xs, median: median(xs), min: Math.min(...xs), q1: quantile(xs, 0.25), q3: quantile(xs, 0.75) });
      for (const [v, [suffix]] of variants.entries()) {
        const x = sample[v];
        const rows = [row(`attach -l, 100 pods on 10 nodes, ${named}${label}${suffix}`, x.bulk), row(`attach -l, 1 pod on 1 node, ${named}${label}${suffix}`, x.one)];
        results.pairs[`P6-${parallel}${target ? '' : '-noop'}${suffix}`] = { rows, agentsCreated: x.agents, nodeRoundTrips: x.trips, detachNodeRoundTrips: x.detachTrips, podsExecs: x.execs, machineBusy: x.busy };
        table.push({ id: 'P6', rows, ref: rows[1] });
        (results.remoteLines ??= []).push(busyLine(`P6 (${named}${label})${suffix}`, x.busy));
        (results.remoteLines ??= []).push(`P6 (${named}${label})${suffix}: agents created per 100-pod attach: ${[...new Set(x.agents)].join(', ')} (one per node); node round trips per 100-pod attach: ${[...new Set(x.trips)].join(', ')}, per detach: ${[...new Set(x.detachTrips)].join(', ')}; pods/exec calls per 100-pod attach: ${[...new Set(x.execs)].join(', ')}`);
        if (v === 0 && target) verdict(`P6 ${named}`, '100 pods on 10 nodes ≤ 5× 1 pod on 1 node', rows[0].median / rows[1].median, 5, fmtX);
        else if (v === 0) results.remoteLines.push(`P6 (${named}${label}): ${fmtX(rows[0].median / rows[1].median)} (not a target: without the plugins' and the kernel's CPU)`);
      }
    }
    await nodeShare('P6', variants, rounds, `role=bulk,node=${NODES[0]}`, 'role=one', results, async (dir, sel) => {
      const { r: a, ms } = await timed(dir, 'attach', ['-l', sel, ...laptopArgs, '--conf', confPath, '--parallel', '1']);
      ok(`attach -l ${sel}`, a);
      ok(`detach -l ${sel}`, await run(bin(dir, 'detach'), ['-l', sel, ...laptopArgs], { env }));
      return ms;
    });
  }
}

/**
 * K5 and K6: pods on kind-like node containers on this host (test/helpers/kind-node.ts) in the engine --kind-docker
 * names, reached with --runtime kind; docker execs counted through a proxy in front of that engine.
 */
async function kindParts({ h, tmp, prefix, binDir, variants, bin, results, table, verdicts, verdict }) {
  const notRun = (why) => {
    for (const id of ['K5', 'K6']) if (want(id)) verdicts.push({ id, what: id === 'K5' ? 'kind attach ≤ 1.5× the manual docker execs' : '100 pods on 10 kind nodes ≤ 1.5× the manual docker execs (10 at a time)', value: `not run: ${why}`, limit: '', ok: null });
    log(`K5/K6: not run: ${why}`);
  };
  if (!opts.kindDocker) return notRun('no --kind-docker engine given');
  const { default: Dockerode } = await import('dockerode');
  const d = new Dockerode({ socketPath: opts.kindDocker.replace(/^unix:\/\//, '') });
  if (!(await d.getImage(h.NODE_IMAGE).inspect().then(() => true, () => false))) return notRun(`${h.NODE_IMAGE} is not in ${opts.kindDocker}`);
  const proxy = await h.DockerProxy.start(opts.kindDocker, tmp);
  defer('docker proxy (K5/K6)', () => proxy.stop());
  const count = want('K6') ? 10 : 1;
  log(`K5/K6: starting ${count} node container(s) in ${opts.kindDocker}`);
  const nodes = await pool(Array.from({ length: count }, (_, i) => `${prefix}-kind-${i}`), 4, (name) => h.startNode(d, name, `${prefix}k`));
  defer('node containers (K5/K6)', async () => {
    for (const n of nodes) await h.removeNode(d, n);
  });
  const api = await h.StandInApiServer.start();
  defer('stand-in API server (K5/K6)', () => api.stop());
  const pods = [{ name: 'kone', node: nodes[0], role: 'kone' }];
  if (want('K6')) for (let i = 0; i < 100; i++) pods.push({ name: `kbulk-${String(i).padStart(3, '0')}`, node: nodes[i % count], role: 'kbulk' });
  const made = await pool(pods, 4, async (p) => {
    const pod = h.makePod({ name: p.name, namespace: NS, nodeName: p.node.name, labels: { role: p.role, node: p.node.name }, containerRuntime: 'containerd' });
    api.addPod(pod);
    const sb = await h.startNodeSandbox(d, p.node, { id: sandboxIdOf(`${prefix}-${p.name}`), name: p.name, namespace: NS, uid: pod.metadata.uid });
    return { ...p, ...sb };
  });
  // a bridge inside each node (its own network namespace), addresses from host-local in the node
  const confPath = join(tmp, 'kind-net.json');
  await writeFile(confPath, JSON.stringify({ cniVersion: '1.0.0', name: `${prefix}-knet`, type: 'bridge', bridge: 'cni-bench0', isGateway: false, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: '198.18.208.0/22' }]] } }));
  const env = { ...cleanEnv(), KUBECONFIG: api.kubeconfigPath, DOCKER_HOST: proxy.host };
  const args = ['-n', NS, '--ifname', 'eth1', '--runtime', 'kind', '--docker-host', proxy.host, '--cni-path', CNI_DIR];
  const ok = (what, r) => {
    if (r.code !== 0) {
      checkInterrupt();
      throw new Error(`${what} exited ${r.code}:\n${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
    }
    return r;
  };
  // the seed's manual way for one pod (K5; K6 runs it for each of its 100 pods, 10 at a time)
  const script = join(tmp, 'manual-kind.sh');
  await writeFile(script, [
    '#!/usr/bin/env bash',
    "# The seed's manual way on kind: find the sandbox, its pid, run the plugin — each a docker exec into the node.",
    'set -euo pipefail',
    'node=$1 ns=$2 pod=$3 ifname=$4 conf=$5',
    `id=$(docker exec "$node" ctr -n k8s.io containers list -q "labels.\"io.kubernetes.pod.name\"==$pod,labels.\"io.kubernetes.pod.namespace\"==$ns")`,
    `pid=$(docker exec "$node" ctr -n k8s.io tasks list | awk -v id="$id" '$1 == id { print $2 }')`,
    'docker exec -i "$node" env CNI_COMMAND=ADD CNI_CONTAINERID="$id" CNI_NETNS="/proc/$pid/ns/net" CNI_IFNAME="$ifname" CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge <"$conf"',
    '',
  ].join('\n'), { mode: 0o755 });
  /** The manual way's DEL of one pod's eth1 (a docker exec of the plugin), not timed. */
  const manualDel = (p) => run('docker', ['exec', '-i', '-e', 'CNI_COMMAND=DEL', '-e', `CNI_CONTAINERID=${p.id}`, '-e', `CNI_NETNS=/proc/${p.pid}/ns/net`, '-e', 'CNI_IFNAME=eth1', '-e', 'CNI_PATH=/usr/lib/cni', p.node.name, '/usr/lib/cni/bridge'], { env, input: readFileSync(confPath, 'utf8') });
  if (want('K5')) {
    const one = made[0];
    log(`K5: kind attach vs the manual docker execs, ${opts.warmup} warm-up + ${opts.runs} runs each`);
    const execs = [];
    const dockerExecs = [];
    const r = await interleave('K5', [
      {
        name: 'kind attach (--runtime kind)',
        run: async () => {
          const before = proxy.roundTrips();
          const execs0 = proxy.execCreates;
          const t0 = performance.now();
          ok('kind attach', await run(bin(binDir, 'attach'), [one.name, ...args, '--conf', confPath], { env }));
          const ms = performance.now() - t0;
          execs.push(proxy.roundTrips() - before);
          dockerExecs.push(proxy.execCreates - execs0);
          return ms;
        },
        after: async () => ok('kind detach', await run(bin(binDir, 'detach'), [one.name, ...args], { env })),
      },
      {
        name: 'manual: 3 docker execs',
        run: async () => {
          const t0 = performance.now();
          ok('manual kind attach', await run(script, [one.node.name, NS, one.name, 'eth1', confPath], { env }));
          return performance.now() - t0;
        },
        after: async () => ok('manual DEL', await manualDel(one)),
      },
    ]);
    results.pairs.K5 = { runs: r, nodeRoundTripsPerAttach: [...new Set(execs)], dockerExecsPerAttach: [...new Set(dockerExecs)] };
    table.push({ id: 'K5', rows: r, ref: r[1] });
    (results.remoteLines ??= []).push(`K5 node round trips per kind attach: ${[...new Set(execs)].join(', ')} on ${[...new Set(dockerExecs)].join(', ')} docker exec(s) (the manual way: 3 round trips, 3 docker execs)`);
    verdict('K5', 'kind attach ≤ 1.5× the manual docker execs', r[0].median / r[1].median, 1.5, fmtX);
  }
  if (want('K6')) {
    const rounds = Math.max(1, opts.bulkRounds);
    log(`K6: -l over 100 pods on 10 node containers vs the seed's manual way over them (10 at a time) and vs 1 pod on 1 node, --parallel 10, 1 warm-up + ${rounds} rounds, ${variants.length} build(s) interleaved`);
    // per build: wall times and docker execs (node round trips) of each 100-pod attach and detach
    const sample = variants.map(() => ({ kbulk: [], kone: [], execs: [], detachExecs: [], dockerExecs: [], busy: [] }));
    // the manual way over the same 100 pods: each pod's three docker execs (K5's script), 10 pods at a time as the
    // tool's --parallel 10 (xargs -P 10; the list alternates nodes as the pods do), each pod's DEL after, not timed
    const bulkPods = made.filter((p) => p.role === 'kbulk');
    const manualList = join(tmp, 'manual-kind-bulk.txt');
    await writeFile(manualList, bulkPods.map((p) => `${p.node.name} ${NS} ${p.name} eth1 ${confPath}\n`).join(''));
    const manualBulk = [];
    for (let round = 0; round <= rounds; round++) {
      {
        checkInterrupt();
        const t0 = performance.now();
        const r = await run('bash', ['-c', 'xargs -P 10 -n 5 "$1" < "$2" > /dev/null', 'bash', script, manualList], { env });
        const ms = performance.now() - t0;
        await pool(bulkPods, 10, async (p) => ok(`manual DEL of ${p.name}`, await manualDel(p)));
        ok('the manual way over 100 pods', r);
        if (round > 0) manualBulk.push(ms);
      }
      for (const [v, [, dir]] of variants.entries()) {
        for (const key of ['kbulk', 'kone']) {
          checkInterrupt();
          const before = proxy.roundTrips();
          const execs0 = proxy.execCreates;
          const t0 = performance.now();
          const cpu0 = machineBusySeconds();
          ok(`kind attach -l role=${key}`, await run(bin(dir, 'attach'), ['-l', `role=${key}`, ...args, '--conf', confPath, '--parallel', '10'], { env }));
          const ms = performance.now() - t0;
          if (key === 'kbulk' && round > 0) sample[v].busy.push({ cpu: machineBusySeconds() - cpu0, wall: ms / 1000 });
          const execs = proxy.roundTrips() - before;
          const dockerExecs = proxy.execCreates - execs0;
          const beforeDetach = proxy.roundTrips();
          ok(`kind detach -l role=${key}`, await run(bin(dir, 'detach'), ['-l', `role=${key}`, ...args, '--parallel', '10'], { env }));
          if (round > 0) {
            sample[v][key].push(ms);
            if (key === 'kbulk') sample[v].execs.push(execs);
            if (key === 'kbulk') sample[v].detachExecs.push(proxy.roundTrips() - beforeDetach);
            if (key === 'kbulk') sample[v].dockerExecs.push(dockerExecs);
          }
        }
      }
      progress('K6', round + 1, rounds + 1);
    }
    const row = (name, xs) => ({ name, samples: xs, median: median(xs), min: Math.min(...xs), q1: quantile(xs, 0.25), q3: quantile(xs, 0.75) });
    for (const [v, [suffix]] of variants.entries()) {
      const x = sample[v];
      const rows = [row(`kind attach -l, 100 pods on 10 nodes, --parallel 10${suffix}`, x.kbulk), row(`kind attach -l, 1 pod on 1 node${suffix}`, x.kone)];
      const manualRow = row('manual: 3 docker execs per pod, 100 pods on 10 nodes, 10 at a time', manualBulk);
      results.pairs[`K6${suffix}`] = { rows: [...rows, manualRow], nodeRoundTrips: x.execs, detachNodeRoundTrips: x.detachExecs, dockerExecs: x.dockerExecs, machineBusy: x.busy };
      (results.remoteLines ??= []).push(busyLine(`K6${suffix}`, x.busy));
      table.push({ id: 'K6', rows: [rows[0], manualRow], ref: manualRow });
      (results.remoteLines ??= []).push(`K6${suffix}: node round trips per 100-pod attach: ${[...new Set(x.execs)].join(', ')}, per detach: ${[...new Set(x.detachExecs)].join(', ')}; docker execs per 100-pod attach: ${[...new Set(x.dockerExecs)].join(', ')} (the manual way: 300)`);
      // the issue's kind target is against the seed's manual way (≤ 1.5×, as K5); the ratio to one pod on one node is
      // P6's measure, shown here without a target: ten kind nodes share this machine's cores as on a laptop, and one
      // pod is mostly waiting (BENCHMARKS.md)
      (results.remoteLines ??= []).push(`K6${suffix}: 100 pods on 10 kind nodes / 1 pod on 1 node: ${fmtX(rows[0].median / rows[1].median)} (${fmtMs(rows[0].median)} / ${fmtMs(rows[1].median)}; P6's measure, not the kind path's target)`);
      if (v === 0) verdict('K6', '100 pods on 10 kind nodes ≤ 1.5× the manual docker execs (10 at a time)', rows[0].median / manualRow.median, 1.5, fmtX);
    }
    await nodeShare('K6', variants, rounds, `role=kbulk,node=${nodes[0].name}`, 'role=kone', results, async (dir, sel) => {
      const t0 = performance.now();
      ok(`kind attach -l ${sel}`, await run(bin(dir, 'attach'), ['-l', sel, ...args, '--conf', confPath, '--parallel', '1'], { env }));
      const ms = performance.now() - t0;
      ok(`kind detach -l ${sel}`, await run(bin(dir, 'detach'), ['-l', sel, ...args], { env }));
      return ms;
    });
  }
}

/**
 * One node's share of a 100-pod batch (P6, K6), alone: that node's 10 pods one after another (--parallel 1), as the
 * batch gives each node one pod at a time (its pods alternate nodes, --parallel 10 over 10 nodes), against 1 pod on 1
 * node. Where every node has CPUs of its own, the batch takes about this long (plus what the CLI adds for the other
 * nodes' pods); here the ten nodes' work shares this machine's cores, which the 100-pod rows measure. Not the target's
 * measurement: a line of results.remoteLines per build. `measure(dir, selector)`: one attach's wall time (ms), its
 * detach after it.
 */
async function nodeShare(id, variants, rounds, nodeSel, oneSel, results, measure) {
  log(`${id}: one node's share (its 10 pods, --parallel 1) vs 1 pod on 1 node, 1 warm-up + ${rounds} rounds, ${variants.length} build(s) interleaved`);
  const share = variants.map(() => ({ node: [], one: [] }));
  for (let round = 0; round <= rounds; round++) {
    for (const [v, [, dir]] of variants.entries()) {
      for (const [sel, key] of [[nodeSel, 'node'], [oneSel, 'one']]) {
        checkInterrupt();
        const ms = await measure(dir, sel);
        if (round > 0) share[v][key].push(ms);
      }
    }
    progress(`${id} (one node's share)`, round + 1, rounds + 1);
  }
  for (const [v, [suffix]] of variants.entries()) {
    const x = share[v];
    results.pairs[`${id}-node-share${suffix}`] = { node: x.node, one: x.one };
    (results.remoteLines ??= []).push(
      `${id} one node's share${suffix}: its 10 pods one after another ${Math.round(median(x.node))} ms, 1 pod ${Math.round(median(x.one))} ms: ${fmtX(median(x.node) / median(x.one))} ` +
        "(the 100-pod batch where each node has CPUs of its own; not the target's measurement, which shares this machine's cores among the ten nodes)",
    );
  }
}

/** --hold: say where everything is, then wait for a signal (the cleanups run as after a measured run). */
async function hold(file, w) {
  const manual = join(w.tmp, 'manual-attach.sh');
  await writeFile(
    manual,
    [
      '#!/usr/bin/env bash',
      'set -euo pipefail',
      'uid=$(curl -sS --fail --cacert "$BENCH_CA" -H "Authorization: Bearer $BENCH_TOKEN" "$BENCH_SERVER/api/v1/namespaces/$NS/pods/$POD" | jq -r .metadata.uid)',
      'sandbox=$(docker ps -q --no-trunc --filter label=io.kubernetes.docker.type=podsandbox --filter "label=io.kubernetes.pod.uid=$uid")',
      "pid=$(docker inspect -f '{{.State.Pid}}' \"$sandbox\")",
      'CNI_COMMAND=ADD CNI_CONTAINERID=$sandbox CNI_NETNS=/proc/$pid/ns/net CNI_IFNAME=eth1 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge <"$CONF"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const vars = {
    ...w.env,
    NS,
    POD: w.p1.name,
    SANDBOX: w.p1.sandboxId,
    SANDBOX_PID: String(w.p1.pid),
    CONF: w.confPath,
    CACHE_DIR: w.cacheDir,
    BENCH_CA: w.api.caPath,
    BENCH_TOKEN: w.api.token,
    BENCH_SERVER: w.api.url,
    MANUAL: manual,
    ATTACH: w.bin,
  };
  await holdWorld(file, vars);
}

/** Write these variables to FILE as a shell file to source, then wait for a signal. */
async function holdWorld(file, vars) {
  const q = (v) => `'${String(v).replace(/'/g, "'\\''")}'`;
  await writeFile(file, `${Object.entries(vars).map(([k, v]) => `export ${k}=${q(v)}`).join('\n')}\n`);
  log(`holding the world: variables in ${file} (source it); Ctrl-C (or kill -INT ${process.pid}) removes everything`);
  while (!interrupted) await new Promise((r) => setTimeout(r, 200));
}

let code = 0;
try {
  await main();
} catch (e) {
  if (e instanceof Interrupted) {
    log(`${e.message}: no results`);
    code = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 }[interrupted] ?? 130;
  } else {
    process.stderr.write(`bench: error: ${e?.stack ?? e}\n`);
    code = 1;
  }
} finally {
  log('cleaning up');
  const errors = await runCleanups();
  if (errors.length) {
    process.stderr.write(`bench: cleanup problems:\n  ${errors.join('\n  ')}\n`);
    code ||= 1;
  }
}
if (interrupted && !code) code = 130;
process.exit(code);
