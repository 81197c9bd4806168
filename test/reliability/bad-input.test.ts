/**
 * Bad input, generated (test/helpers/corpus.ts, fast-check): malformed configs and conflists, broken JSON, unusable
 * NetworkAttachmentDefinitions, bad argument sets. Every input gets exit 2 or 3, exactly one "error: …" line on stderr,
 * no stack trace, nothing on stdout, and changes nothing.
 *
 * Two runs of the same corpus:
 *   - in-process, against the CLI programs (attach/detach/check) with the fake executor, API and runtime: hundreds of
 *     inputs in a second or two; "nothing changed" = no file written, no lock taken, no plugin run but VERSION, no
 *     API patch;
 *   - through the real binaries on the real host, a sample of every generator: "nothing changed" = no new link or
 *     namespace of ours, the target namespace as it was, no file under the run's cache dir or IPAM dir, nothing in its
 *     working directory, no process of ours left.
 * The corpus is deterministic (seed below; RELIABILITY_SEED=n explores another). Addresses: 198.18.62.0/24.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { checkCommand } from '../../src/cli/check.js';
import type { Deps } from '../../src/cli/context.js';
import { detachCommand } from '../../src/cli/detach.js';
import { runProgram } from '../../src/cli/main.js';
import { bridgeResult, FakeExecutor } from '../fakes/executor.js';
import { FakeKube, FakeRuntime, makePod as fakePod } from '../fakes/kube.js';
import { show, type CliResult } from '../helpers/cli.js';
import { badArgs, badClusterArgs, badConfigs, badNads, type BadInput, type CorpusEnv } from '../helpers/corpus.js';
import type { Tool } from '../helpers/env.js';
import { captureState, expectState, type Scope } from '../helpers/host-state.js';
import { filesUnder, useLab } from '../helpers/lab.js';
import { netnsPath } from '../helpers/net.js';
import { pool, runBin } from '../helpers/run.js';
import { makeNad, makePod, StandInApiServer } from '../k8s/stand-in-api.js';

const lab = useLab('rb');
const SEED = Number(process.env.RELIABILITY_SEED ?? 20261128);
/** Inputs per generator, in-process and through the binary. */
const IN_PROCESS = { configs: 160, nads: 60, args: 160 };
const BINARY = { configs: 22, nads: 10, args: 22 };
const counts = { inProcessInputs: 0, inProcessRuns: 0, binaryRuns: 0, categories: new Set<string>(), binaryCategories: new Set<string>() };

/** What every refusal must look like. */
function expectRefusal(r: { exitCode: number | undefined; stdout: string; stderr: string }, input: BadInput, where: string): void {
  const what = `${input.category} (${where})\n${'args' in r ? show(r as CliResult) : `stderr: ${r.stderr}`}`;
  if (input.code !== undefined) expect(r.exitCode, what).toBe(input.code);
  else expect([2, 3], what).toContain(r.exitCode);
  // a flag refused in kubectl's (pflag's) words is followed by cobra's line naming the help
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/^See 'kubectl cni-(attach|detach|check|list|gc) --help' for usage\.$/.test(l));
  expect(lines, `one line on stderr: ${what}`).toHaveLength(1);
  expect(lines[0], what).toMatch(/^error: /);
  expect(lines[0], what).not.toMatch(/internal error/);
  expect(r.stderr, `no stack trace: ${what}`).not.toMatch(/^\s+at /m);
  expect(r.stdout, `nothing on stdout: ${what}`).toBe('');
}

// ------------------------------------------------------------------------------------------------ in-process

const PROGRAMS: Record<'attach' | 'detach' | 'check', (d: Deps) => Command> = { attach: attachCommand, detach: detachCommand, check: checkCommand };
const FAKE: CorpusEnv = {
  netns: '/var/run/netns/rb-target',
  missing: '/nonexistent/cni-attach-rb/missing',
  file: '/var/run/netns/not-a-netns',
  cacheDir: '/var/lib/cni-rb',
  cniPath: '/usr/lib/cni',
  dataDir: '/var/lib/cni-rb/ipam',
  bridge: 'rb-br0',
  namespace: 'shop',
  pod: 'web-1',
  hostNetPod: 'host-1',
  pendingPod: 'pend-1',
  podFlags: [],
};

async function inProcess(input: BadInput, tool: Tool): Promise<void> {
  const exec = new FakeExecutor();
  exec.netns.add(FAKE.netns);
  exec.files.set(FAKE.file, 'not a namespace\n');
  const add = (c: { env: Record<string, string> }) => ({ stdout: JSON.stringify(bridgeResult(c.env.CNI_IFNAME ?? 'eth1', FAKE.netns)) });
  exec.addPlugin('/usr/lib/cni/bridge', add, ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0']);
  exec.addPlugin('/usr/lib/cni/tuning', add, ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0']);
  const kube = new FakeKube(FAKE.namespace);
  kube.add(fakePod({ name: FAKE.pod, namespace: FAKE.namespace, node: 'node-1' }));
  kube.add(fakePod({ name: FAKE.hostNetPod, namespace: FAKE.namespace, node: 'node-1', hostNetwork: true }));
  kube.add(fakePod({ name: FAKE.pendingPod, namespace: FAKE.namespace, node: 'node-1', phase: 'Pending' }));
  if (input.nad) {
    const spec = input.nad.spec(FAKE) as { config: string };
    kube.nads.set(`${FAKE.namespace}/${input.nad.name}`, { namespace: FAKE.namespace, name: input.nad.name, config: spec.config });
  }
  const runtime = new FakeRuntime();
  runtime.add(FAKE.namespace, FAKE.pod, `uid-${FAKE.pod}`, { id: 'f'.repeat(64), pid: 4242, netnsPath: FAKE.netns });
  const out: string[] = [];
  const err: string[] = [];
  const deps: Deps = {
    io: { out: (s) => void out.push(s), err: (s) => void err.push(s) },
    localExecutor: async () => exec,
    kube: async () => kube,
    runtimes: async () => [runtime],
    hostname: () => 'node-1',
    readStdin: async () => input.conf?.(FAKE) ?? '',
    env: {},
  };
  const argv = input.argv(FAKE, input.conf ? '-' : undefined);
  const code = await runProgram(PROGRAMS[tool as 'attach'](deps), argv, deps.io);
  const where = `in-process ${tool} ${JSON.stringify(argv)}`;
  expectRefusal({ exitCode: code, stdout: out.join(''), stderr: err.join('') }, input, where);
  expect([...exec.files.keys()], `no file written (no lock left either): ${where}`).toEqual([FAKE.file]);
  expect(exec.calls.map((c) => c.command).filter((c) => c !== 'VERSION'), `no plugin run but VERSION: ${where}`).toEqual([]);
  expect(kube.patches, `no API write: ${where}`).toEqual([]);
  counts.inProcessRuns++;
}

describe('the generated corpus, in-process with fakes', () => {
  const gens: [string, fc.Arbitrary<BadInput>, number][] = [
    ['configs and conflists', badConfigs, IN_PROCESS.configs],
    ['NetworkAttachmentDefinitions', badNads, IN_PROCESS.nads],
    ['argument sets', badArgs, IN_PROCESS.args],
  ];
  it.each(gens)('%s: every one refused, nothing changed', async (_what, arb, numRuns) => {
    await fc.assert(
      fc.asyncProperty(arb.filter((i) => !i.binaryOnly && !i.apiOnly), async (input) => {
        counts.inProcessInputs++;
        counts.categories.add(input.category);
        for (const tool of input.tools) await inProcess(input, tool);
      }),
      { numRuns, seed: SEED, endOnFailure: true },
    );
  });
});

// ------------------------------------------------------------------------------------------------ the binaries

describe('a sample of the corpus through the real binaries on the real host', () => {
  let api: StandInApiServer;
  beforeAll(async () => {
    api = await StandInApiServer.start();
  });
  afterAll(async () => {
    await api?.stop();
  });

  it('every one refused: exit 2/3, one line, and no change on the host', async () => {
    const ws = await lab.workspace();
    const ns = await lab.netns();
    const bridge = lab.bridge(); // named in the valid base config; a refused input never creates it
    const namespace = 'rel-bad-input';
    const node = hostname();
    api.addPod(makePod({ name: 'web-1', namespace, uid: `${lab.prefix}-web-1`, nodeName: node, phase: 'Running' }));
    api.addPod(makePod({ name: 'host-1', namespace, nodeName: node, phase: 'Running', hostNetwork: true }));
    api.addPod(makePod({ name: 'pend-1', namespace, nodeName: node, phase: 'Pending' }));
    const file = join(ws.dir, 'not-a-netns');
    await writeFile(file, 'not a namespace\n');
    const base: CorpusEnv = {
      netns: netnsPath(ns), missing: join(ws.dir, 'missing'), file, cacheDir: '', cniPath: '/usr/lib/cni', dataDir: '', bridge,
      namespace, pod: 'web-1', hostNetPod: 'host-1', pendingPod: 'pend-1',
      podFlags: ['--kubeconfig', api.kubeconfigPath, '--docker-host', 'unix:///nonexistent/docker.sock', '--runtime', 'docker', '--request-timeout', '10s'],
    };
    const scope: Scope = { lab, ws, netns: [ns], markers: [netnsPath(ns)] };
    const before = await captureState(scope);

    const sample = (arb: fc.Arbitrary<BadInput>, n: number, seed: number) => fc.sample(arb, { numRuns: n, seed });
    const inputs = [
      ...sample(badConfigs, BINARY.configs, SEED),
      ...sample(badNads, BINARY.nads, SEED + 1),
      ...sample(badArgs, BINARY.args, SEED + 2),
      ...badClusterArgs,
      // the inputs only the real host can judge, at least once each
      ...sample(badConfigs.filter((i) => !!i.binaryOnly), 1, SEED + 3),
      ...sample(badNads.filter((i) => !!i.apiOnly), 3, SEED + 4),
    ];
    const results = await pool(inputs, 3, async (input, i) => {
      const run = join(ws.dir, `run-${i}`);
      const cwd = join(run, 'cwd');
      await mkdir(cwd, { recursive: true });
      const e: CorpusEnv = { ...base, cacheDir: join(run, 'cache'), dataDir: join(run, 'ipam') };
      if (input.nad) {
        const nad = makeNad({ name: input.nad.name, namespace, config: '{}' });
        nad.spec = input.nad.spec(e) as typeof nad.spec;
        api.deleteNad(namespace, input.nad.name);
        api.addNad(nad);
      }
      const text = input.conf?.(e);
      let confArg: string | undefined;
      if (text !== undefined) {
        confArg = i % 2 === 0 ? '-' : join(run, 'net.conf');
        if (confArg !== '-') await writeFile(confArg, text);
      }
      const tool = input.tools[0]!;
      const r = await runBin(tool, input.argv(e, confArg), { cwd, ...(confArg === '-' ? { input: text } : {}) });
      expectRefusal(r, input, `binary, ${show(r)}`);
      expect(await filesUnder(e.cacheDir), `no cache file: ${show(r)}`).toEqual([]);
      expect(await filesUnder(e.dataDir), `no IPAM file: ${show(r)}`).toEqual([]);
      expect(await filesUnder(cwd), `nothing in the working directory: ${show(r)}`).toEqual([]);
      counts.binaryRuns++;
      counts.binaryCategories.add(input.category);
      return input.category;
    });
    expectState(await captureState(scope), before, 'after the whole sample');
    const categories = new Set(results);
    expect(categories.size, [...categories].join('\n')).toBeGreaterThanOrEqual(30);
  }, 120_000);
});

afterAll(() => {
  // the numbers RELIABILITY.md quotes
  console.log(
    `bad-input corpus (seed ${SEED}): ${counts.inProcessInputs} inputs in-process (${counts.inProcessRuns} CLI runs, ${counts.categories.size} kinds), ` +
      `${counts.binaryRuns} through the real binaries (${counts.binaryCategories.size} kinds)`,
  );
});

it('a config nested 100000 deep is refused (exit 2) and leaves no intent behind', async () => {
  const ws = await lab.workspace();
  const ns = await lab.netns();
  const deep = `{"cniVersion":"1.0.0","name":"deep","type":"bridge","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
  const conf = join(ws.dir, 'deep.json');
  await writeFile(conf, deep);
  const scope: Scope = { lab, ws, netns: [ns], markers: [netnsPath(ns)] };
  const before = await captureState(scope);
  const r = await runBin('attach', lab.args(ws, ns, 'eth1', conf));
  expectRefusal(r, { category: 'deeply nested config', tools: ['attach'], argv: () => [], code: 2 }, show(r));
  expectState(await captureState(scope), before, 'after the refused attach');
});

