/**
 * The generated corpus of bad input (fast-check arbitraries): malformed configs and conflists, broken JSON, bad
 * NetworkAttachmentDefinitions and bad argument sets. Every input is invalid *by construction* (the generator says
 * why, in `category`), so every one must be refused: exit 2 or 3, one "error: …" line, nothing changed.
 *
 * An input is a recipe over a CorpusEnv (the paths and names of the world it runs in), so that the same corpus runs
 * in-process against the CLI programs with fakes and through the real binaries on the real host.
 */
import fc from 'fast-check';
import type { Tool } from './env.js';
import { parseDuration, parseRequestTimeout } from '../../src/cli/options.js';

/** Whether parse refuses text (--timeout: as pflag's Duration; --request-timeout: as kubectl's clientcmd.ParseTimeout). */
function refused(parse: (text: string) => unknown, text: string): boolean {
  try {
    parse(text);
    return false;
  } catch {
    return true;
  }
}

export interface CorpusEnv {
  /** An existing network namespace path. */
  netns: string;
  /** A path that does not exist. */
  missing: string;
  /** A regular file (not a namespace). */
  file: string;
  cacheDir: string;
  cniPath: string;
  dataDir: string;
  /** The bridge a valid config would use (never created by a refused input). */
  bridge: string;
  namespace: string;
  /** A Running pod on this node; a hostNetwork pod; a Pending pod. */
  pod: string;
  hostNetPod: string;
  pendingPod: string;
  /** Cluster and runtime flags for pod targets (the binary: --kubeconfig, --docker-host …; in-process: none). */
  podFlags: string[];
}

export interface BadInput {
  category: string;
  /** The tools that must refuse it (the first is the one the binary sample runs). */
  tools: Tool[];
  /** Config text given with --conf (as a file or on stdin), if any. */
  conf?: (e: CorpusEnv) => string;
  /** A NetworkAttachmentDefinition to serve (its spec, as the API holds it) for --net. */
  nad?: { name: string; spec: (e: CorpusEnv) => unknown };
  argv: (e: CorpusEnv, confArg: string | undefined) => string[];
  /** The exit code, when the input decides it (else 2 or 3). */
  code?: 2 | 3;
  /** Judged by the real host only (e.g. file-name limits): not run in-process. */
  binaryOnly?: boolean;
  /** Only meaningful through the real API client (the NAD's spec shape): not run in-process. */
  apiOnly?: boolean;
}

export const KNOWN_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];
type Json = Record<string, unknown>;

export function goodConf(e: CorpusEnv): Json {
  return { cniVersion: '1.0.0', name: 'rb-net', type: 'bridge', bridge: e.bridge, isGateway: false, ipMasq: false, ipam: { type: 'host-local', subnet: '198.18.62.0/24', dataDir: e.dataDir } };
}
export function goodList(e: CorpusEnv): Json {
  const { cniVersion, name, ...bridge } = goodConf(e);
  return { cniVersion, name, plugins: [bridge, { type: 'tuning', mtu: 1400 }] };
}

/** Flags for a target: the namespace (default) or the pod; patch replaces (or with null removes) a flag's value. */
export function argsFor(e: CorpusEnv, o: { confArg?: string; pod?: string; patch?: Record<string, string | null>; extra?: string[] } = {}): string[] {
  const flags: Record<string, string | null> = {
    ...(o.pod === undefined ? { '--netns': e.netns } : { '-n': e.namespace }),
    '--ifname': 'eth1',
    '--cache-dir': e.cacheDir,
    '--cni-path': e.cniPath,
    ...(o.confArg !== undefined ? { '--conf': o.confArg } : {}),
    ...o.patch,
  };
  const argv = o.pod === undefined ? [] : [o.pod, ...e.podFlags];
  for (const [k, v] of Object.entries(flags)) if (v !== null) argv.push(k, v);
  return [...argv, ...(o.extra ?? [])];
}

const word = fc.stringMatching(/^[a-z0-9]{1,8}$/);
const optWord = fc.stringMatching(/^[a-z0-9]{0,8}$/);
/** Characters outside libcni's name alphabet [a-zA-Z0-9_.-] ('+' is allowed in a plugin type, so it is left out). */
const badChar = fc.constantFrom('/', ' ', ':', '\\', 'é', '*', '\n', '\t', '\u0000', '"', '$', '@', '~', '%', ';', '|', '&', '`', '\u202e', '日');
const nonString = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 }), fc.dictionary(word, fc.integer(), { maxKeys: 2 }));

/** A network name libcni refuses (it becomes a file name). */
const badName = fc.oneof(
  fc.tuple(optWord, badChar, optWord).map(([a, b, c]) => a + b + c),
  fc.tuple(fc.constantFrom('.', '-', '_'), optWord).map(([a, b]) => a + b),
  nonString.filter((v) => v !== null),
);
/** A plugin type that is not a bare executable name: paths, traversal, odd characters, not a string. */
const badType = fc.oneof(
  word.map((w) => `../${w}`),
  word.map((w) => `../../../../usr/bin/${w}`),
  word.map((w) => `/usr/lib/cni/${w}`),
  word.map((w) => `./${w}`),
  fc.tuple(word, word).map(([a, b]) => `${a}/${b}`),
  fc.tuple(word, word).map(([a, b]) => `${a}..${b}`),
  fc.constantFrom('..', '.', '.bridge', '-bridge', '~', 'bridge/', '/'),
  fc.tuple(optWord, badChar, optWord).map(([a, b, c]) => a + b + c),
  nonString.filter((v) => v !== null),
);
const badVersion = fc.oneof(
  fc.string({ maxLength: 8 }).filter((s) => !KNOWN_VERSIONS.includes(s)),
  fc.constantFrom('1.0', '1', 'v1.0.0', '1.0.0 ', ' 1.0.0', '1.0.0-rc1', '0.3.2', '2.0.0', '01.0.0'),
  nonString,
);
const badBool = fc.oneof(fc.integer(), fc.string({ maxLength: 6 }).filter((s) => s !== 'true' && s !== 'false'), fc.constant(null), fc.array(fc.boolean(), { maxLength: 2 }));
const badCapabilities = fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.constant('ips'), { maxLength: 2 }));

/** A config or conflist object made invalid by one structural change. */
const badConfObject: fc.Arbitrary<{ why: string; make: (e: CorpusEnv) => Json }> = fc.oneof(
  fc.constantFrom('cniVersion', 'name', 'type').map((k) => ({ why: `config without "${k}"`, make: (e: CorpusEnv) => without(goodConf(e), k) })),
  badVersion.map((v) => ({ why: 'config with a bad cniVersion', make: (e: CorpusEnv) => ({ ...goodConf(e), cniVersion: v }) })),
  fc.array(badVersion, { minLength: 1, maxLength: 3 }).map((vs) => ({ why: 'cniVersions none of which is known', make: (e: CorpusEnv) => ({ ...without(goodConf(e), 'cniVersion'), cniVersions: vs }) })),
  badName.map((n) => ({ why: 'config with a bad name', make: (e: CorpusEnv) => ({ ...goodConf(e), name: n }) })),
  badType.map((t) => ({ why: 'config with a bad type', make: (e: CorpusEnv) => ({ ...goodConf(e), type: t }) })),
  badCapabilities.map((c) => ({ why: 'config with capabilities not an object', make: (e: CorpusEnv) => ({ ...goodConf(e), capabilities: c }) })),
  fc.constantFrom('cniVersion', 'name').map((k) => ({ why: `conflist without "${k}"`, make: (e: CorpusEnv) => without(goodList(e), k) })),
  badVersion.map((v) => ({ why: 'conflist with a bad cniVersion', make: (e: CorpusEnv) => ({ ...goodList(e), cniVersion: v }) })),
  badName.map((n) => ({ why: 'conflist with a bad name', make: (e: CorpusEnv) => ({ ...goodList(e), name: n }) })),
  fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(null), fc.dictionary(word, fc.integer(), { maxKeys: 2 }))
    .map((p) => ({ why: 'conflist whose plugins is not a list', make: (e: CorpusEnv) => ({ ...goodList(e), plugins: p }) })),
  fc.constant({ why: 'conflist with no plugins', make: (e: CorpusEnv) => ({ ...goodList(e), plugins: [] }) }),
  fc.tuple(fc.integer({ min: 0, max: 1 }), fc.oneof(fc.integer(), fc.string({ maxLength: 6 }), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 })))
    .map(([i, v]) => ({ why: 'conflist with a plugin that is not an object', make: (e: CorpusEnv) => withPlugin(goodList(e), i, () => v) })),
  fc.integer({ min: 0, max: 1 }).map((i) => ({ why: 'conflist with a plugin without type', make: (e: CorpusEnv) => withPlugin(goodList(e), i, (p) => without(p as Json, 'type')) })),
  fc.tuple(fc.integer({ min: 0, max: 1 }), badType).map(([i, t]) => ({ why: 'conflist with a plugin of a bad type', make: (e: CorpusEnv) => withPlugin(goodList(e), i, (p) => ({ ...(p as Json), type: t })) })),
  fc.tuple(fc.integer({ min: 0, max: 1 }), badCapabilities).map(([i, c]) => ({ why: 'conflist plugin with capabilities not an object', make: (e: CorpusEnv) => withPlugin(goodList(e), i, (p) => ({ ...(p as Json), capabilities: c })) })),
  fc.tuple(fc.constantFrom('disableCheck', 'disableGC'), badBool).map(([k, v]) => ({ why: `conflist with a ${k} that is not a boolean`, make: (e: CorpusEnv) => ({ ...goodList(e), [k]: v }) })),
);

function without(o: Json, key: string): Json {
  const copy = { ...o };
  delete copy[key];
  return copy;
}
function withPlugin(list: Json, i: number, f: (p: unknown) => unknown): Json {
  const plugins = [...(list.plugins as unknown[])];
  plugins[i] = f(plugins[i]);
  return { ...list, plugins };
}

/** Text that is not a JSON object: broken syntax, or valid JSON of another kind. */
const badText: fc.Arbitrary<{ why: string; make: (e: CorpusEnv) => string }> = fc.oneof(
  fc.tuple(fc.boolean(), fc.double({ min: 0.01, max: 0.99, noNaN: true })).map(([list, at]) => ({
    why: 'JSON cut short',
    make: (e: CorpusEnv) => {
      const t = JSON.stringify(list ? goodList(e) : goodConf(e));
      return t.slice(0, Math.max(1, Math.floor(t.length * at)));
    },
  })),
  fc.constantFrom('x', ',', '}', ']', '{', '"', '0', '/', '\u0000').map((g) => ({ why: 'JSON with trailing garbage', make: (e: CorpusEnv) => JSON.stringify(goodConf(e)) + g })),
  fc.constantFrom(['":', '"='], ['{', '['], [',', ';'], ['"', "'"], ['true', 'True'], ['false', 'FALSE']).map(([a, b]) => ({
    why: `JSON with ${a} replaced by ${b}`,
    make: (e: CorpusEnv) => JSON.stringify({ ...goodConf(e), flag: true, off: false }).replace(a!, b!),
  })),
  fc.constant({ why: 'JSON with a byte-order mark', make: (e: CorpusEnv) => `\uFEFF${JSON.stringify(goodConf(e))}` }),
  fc.constant({ why: 'JSON with a comment', make: (e: CorpusEnv) => `// bridge network\n${JSON.stringify(goodConf(e))}` }),
  fc.constant({ why: 'YAML instead of JSON', make: () => 'cniVersion: 1.0.0\nname: rb-net\ntype: bridge\n' }),
  fc.constantFrom('', ' ', '\n', '\t\n ').map((t) => ({ why: 'an empty config', make: () => t })),
  fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.string({ maxLength: 10 }), fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }))
    .map((v) => ({ why: 'JSON that is not an object', make: () => JSON.stringify(v) })),
  fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !isJsonObject(s)).map((s) => ({ why: 'random text', make: () => s })),
);

function isJsonObject(s: string): boolean {
  try {
    const v = JSON.parse(s);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

/** Configs: broken text, broken structure, or well-formed but unusable here (a plugin that is not installed, …). */
export const badConfigs: fc.Arbitrary<BadInput> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(badText, fc.constantFrom<Tool[]>(['attach'], ['detach'], ['check'])).map(([b, tools]) => ({
    category: `config: ${b.why}`, tools, conf: b.make, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c }), code: 2 as const,
  })) },
  { weight: 5, arbitrary: fc.tuple(badConfObject, fc.constantFrom<Tool[]>(['attach', 'detach', 'check'], ['attach'], ['detach'], ['check'])).map(([b, tools]) => ({
    category: `config: ${b.why}`, tools, conf: (e: CorpusEnv) => JSON.stringify(b.make(e)), argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c }), code: 2 as const,
  })) },
  { weight: 1, arbitrary: word.map((w) => ({
    category: 'config: a plugin type that is not installed', tools: ['attach'] as Tool[], conf: (e: CorpusEnv) => JSON.stringify({ ...goodConf(e), type: `cntnosuch${w}` }),
    argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c }), code: 2 as const,
  })) },
  { weight: 1, arbitrary: fc.constant({
    category: 'config: a CNI version the plugin does not speak (bridge, 1.1.0)', tools: ['attach'] as Tool[], conf: (e: CorpusEnv) => JSON.stringify({ ...goodConf(e), cniVersion: '1.1.0' }),
    argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c }), code: 2 as const,
  }) },
  { weight: 1, arbitrary: fc.integer({ min: 240, max: 400 }).map((n) => ({
    category: 'config: a network name too long for a cache file name', tools: ['attach'] as Tool[], conf: (e: CorpusEnv) => JSON.stringify({ ...goodConf(e), name: 'n'.repeat(n) }),
    argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c }), code: 2 as const, binaryOnly: true,
  })) },
);

const k8sName = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);

/** NetworkAttachmentDefinitions whose config is unusable, NADs that do not exist, and --net values that are not names. */
export const badNads: fc.Arbitrary<BadInput> = fc.oneof(
  fc.tuple(k8sName, fc.oneof(badText, badConfObject.filter((b) => b.why !== 'config without "name"' && b.why !== 'conflist without "name"').map((b) => ({ why: b.why, make: (e: CorpusEnv) => JSON.stringify(b.make(e)) }))))
    .map(([name, b]) => ({
      category: `NAD: ${b.why}`, tools: ['attach'] as Tool[], nad: { name, spec: (e: CorpusEnv) => ({ config: b.make(e) }) },
      argv: (e: CorpusEnv) => argsFor(e, { pod: e.pod, extra: ['--net', name] }), code: 2 as const,
    })),
  fc.tuple(k8sName, fc.oneof(fc.constant(undefined), fc.integer(), fc.constant(''), fc.constant('   '), fc.dictionary(word, fc.string({ maxLength: 4 }), { maxKeys: 2 }), fc.constant(null)))
    .map(([name, config]) => ({
      category: 'NAD: spec.config missing, empty or not a string', tools: ['attach'] as Tool[], nad: { name, spec: () => (config === undefined ? {} : { config }) },
      argv: (e: CorpusEnv) => argsFor(e, { pod: e.pod, extra: ['--net', name] }), code: 2 as const, apiOnly: true,
    })),
  k8sName.map((name) => ({
    category: 'NAD: does not exist', tools: ['attach'] as Tool[], argv: (e: CorpusEnv) => argsFor(e, { pod: e.pod, extra: ['--net', `missing-${name}`] }), code: 3 as const,
  })),
  fc.oneof(fc.tuple(word, word, word).map((p) => p.join('/')), word.map((w) => `/${w}`), word.map((w) => `${w}/`), fc.constantFrom('/', '//', 'a//b'))
    .map((net) => ({ category: 'NAD: --net that is not NAME or NS/NAME', tools: ['attach'] as Tool[], argv: (e: CorpusEnv) => argsFor(e, { pod: e.pod, extra: ['--net', net] }), code: 2 as const })),
);

const badIfname = fc.oneof(
  fc.constant(''),
  fc.stringMatching(/^[a-z0-9]{16,24}$/),
  fc.integer({ min: 8, max: 12 }).map((n) => 'ü'.repeat(n)),
  fc.tuple(fc.stringMatching(/^[a-z0-9]{0,6}$/), fc.constantFrom('/', ':', ' ', '\t', '\n'), fc.stringMatching(/^[a-z0-9]{0,6}$/)).map(([a, b, c]) => a + b + c),
  fc.constantFrom('.', '..'),
);
const badDuration = fc.oneof(
  fc.constantFrom('0', '0s', '0ms', '0.0h', '-1s', '', ' ', 's', 'ms', '1s2', '1e3s', '5 s', 'forever', '1,5s', '+3s'),
  fc.tuple(fc.integer({ min: 1, max: 999 }), fc.constantFrom('x', 'd', 'sec', 'min', 'y', 'us', 'ns', 'hr', 'S', 'M')).map(([n, u]) => `${n}${u}`),
);
const badCidr = fc.oneof(
  fc.constantFrom('198.18.62.5', '198.18.62.5/33', '198.18.62.5/-1', '300.1.1.1/24', '198.18.62.5/24/1', '', '::1/129', '198.18.62.5/ 24', '198.18.62.5/2a', '/24', '198.18.62.5/024x'),
  fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('/')),
);
const badMac = fc.oneof(
  fc.integer({ min: 1, max: 8 }).filter((n) => n !== 6).map((n) => Array.from({ length: n }, () => '02').join(':')),
  fc.constantFrom('02:00:00:00:00:0g', '02-00-00-00-00-01', '0200.0000.0001', '02:00:00:00:00:001', ''),
);
const relativePath = fc.tuple(fc.constantFrom('', './', '../'), word).map(([a, b]) => a + b);
const badCniPath = fc.oneof(
  relativePath.map((r) => `/usr/lib/cni:${r}`),
  relativePath.map((r) => `${r}:/usr/lib/cni`),
  fc.constantFrom('/usr/lib/cni:', ':/usr/lib/cni', '/usr/lib/cni::/opt/cni/bin', '.', './', 'bin'),
);
const badCniArgs = fc.oneof(
  word,
  fc.tuple(word, word, word).map(([a, b, c]) => `${a}=${b}=${c}`),
  word.map((v) => `=${v}`),
  fc.tuple(word, word, word).map(([a, b, c]) => `${a}=${b};${c}`),
  fc.constantFrom(';', 'A=1;;B=2', 'A=1;'),
);
const unknownFlag = fc.stringMatching(/^[a-z]{3,10}$/).map((w) => `--x-${w}`);

/** Argument sets: each breaks one flag (or the combination of flags) of an otherwise valid command. */
export const badArgs: fc.Arbitrary<BadInput> = fc.oneof(
  fc.tuple(badIfname, fc.constantFrom<Tool[]>(['attach'], ['detach'], ['check'])).map(([v, tools]) => ({ category: 'args: a bad --ifname', tools, conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, patch: { '--ifname': v } }), code: 2 as const })),
  fc.tuple(badDuration.filter((v) => refused(parseDuration, v)), fc.constantFrom<Tool[]>(['attach'], ['detach'], ['check'])).map(([v, tools]) => ({ category: 'args: a bad --timeout', tools, conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, patch: { '--timeout': v } }), code: 2 as const })),
  // only what kubectl's clientcmd.ParseTimeout refuses: not zero (kubectl's "no limit" there), a negative or a
  // nanosecond duration (taken), nor empty (no override, as client-go's clientcmd takes an empty flag: the default)
  badDuration.filter((v) => v !== '' && refused(parseRequestTimeout, v)).map((v) => ({ category: 'args: a bad --request-timeout', tools: ['attach'] as Tool[], conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { pod: e.pod, confArg: c, patch: { '--request-timeout': v } }), code: 2 as const })),
  badCidr.map((v) => ({ category: 'args: a bad --ip', tools: ['attach'] as Tool[], conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, extra: ['--ip', v] }), code: 2 as const })),
  fc.constantFrom('198.18.62.9/24', '2001:db8::9/64').map((v) => ({ category: 'args: --ip, but no plugin declares the ips capability', tools: ['attach'] as Tool[], conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, extra: ['--ip', v] }), code: 2 as const })),
  badMac.map((v) => ({ category: 'args: a bad --mac', tools: ['attach'] as Tool[], conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, extra: ['--mac', v] }), code: 2 as const })),
  fc.tuple(relativePath, fc.constantFrom<Tool[]>(['attach'], ['detach'], ['check'])).map(([v, tools]) => ({ category: 'args: a relative --cache-dir', tools, conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, patch: { '--cache-dir': v } }), code: 2 as const })),
  fc.tuple(badCniPath, fc.constantFrom<Tool[]>(['attach'], ['detach'], ['check'])).map(([v, tools]) => ({ category: 'args: a --cni-path with a relative or empty entry', tools, conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, patch: { '--cni-path': v } }), code: 2 as const })),
  fc.tuple(badCniArgs, fc.constantFrom<Tool[]>(['attach'], ['detach'])).map(([v, tools]) => ({ category: 'args: --args that is not K=V;…', tools, conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, extra: ['--args', v] }), code: 2 as const })),
  fc.tuple(fc.string({ maxLength: 8 }).filter((s) => !['summary', 'json', 'yaml'].includes(s)), fc.constantFrom<Tool[]>(['attach'], ['detach'], ['check'])).map(([v, tools]) => ({ category: 'args: a bad -o', tools, conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, extra: ['-o', v] }), code: 2 as const })),
  fc.constantFrom('bogus', 'tcp', 'rkt').map((v) => ({ category: 'args: a bad --runtime', tools: ['attach'] as Tool[], conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { pod: e.pod, confArg: c, extra: ['--runtime', v] }), code: 2 as const })),
  fc.tuple(unknownFlag, fc.constantFrom<Tool[]>(['attach'], ['detach'], ['check'])).map(([f, tools]) => ({ category: 'args: an unknown flag', tools, conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, extra: [f] }), code: 2 as const })),
  fc.constantFrom<Tool[]>(['attach'], ['detach'], ['check']).map((tools) => ({ category: 'args: both a pod and --netns', tools, conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => [e.pod, ...argsFor(e, { confArg: c })], code: 2 as const })),
  fc.constantFrom<Tool[]>(['attach'], ['detach'], ['check']).map((tools) => ({ category: 'args: neither a pod nor --netns', tools, conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, patch: { '--netns': null } }), code: 2 as const })),
  fc.tuple(fc.constantFrom('-n', '--context', '--kubeconfig', '--net'), word).map(([f, v]) => ({ category: `args: ${f} with --netns`, tools: ['attach'] as Tool[], conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, extra: [f, v] }), code: 2 as const })),
  word.map((n) => ({ category: 'args: both --conf and --net', tools: ['attach'] as Tool[], conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { pod: e.pod, confArg: c, extra: ['--net', n] }), code: 2 as const })),
  fc.constantFrom<Tool[]>(['attach'], ['detach']).map((tools) => ({ category: 'args: no --ifname', tools, conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, patch: { '--ifname': null } }), code: 2 as const })),
  fc.constant({ category: 'args: attach without --conf or --net', tools: ['attach'] as Tool[], argv: (e: CorpusEnv) => argsFor(e), code: 2 as const }),
  fc.constantFrom<Tool[]>(['attach'], ['check']).map((tools) => ({ category: 'args: a --netns that does not exist', tools, conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, patch: { '--netns': e.missing } }), code: 3 as const })),
  fc.constant({ category: 'args: a --netns that is a regular file', tools: ['attach'] as Tool[], conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, patch: { '--netns': e.file } }), code: 2 as const }),
  fc.constantFrom<Tool[]>(['attach'], ['detach'], ['check']).map((tools) => ({ category: 'args: an empty --netns', tools, conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { confArg: c, patch: { '--netns': '' } }), code: 2 as const })),
  fc.tuple(word, word).map(([a, b]) => ({ category: 'args: more than one pod', tools: ['attach'] as Tool[], conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => [a, b, ...argsFor(e, { confArg: c }).slice(2)], code: 2 as const })),
  fc.constant({ category: 'args: a --conf file that does not exist', tools: ['attach'] as Tool[], argv: (e: CorpusEnv) => argsFor(e, { confArg: e.missing }), code: 2 as const }),
  fc.constant({ category: 'args: a --conf that is a directory', tools: ['attach'] as Tool[], argv: (e: CorpusEnv) => argsFor(e, { confArg: e.cniPath.split(':')[0]! }), code: 2 as const }),
  k8sName.map((p) => ({ category: 'pod: does not exist', tools: ['attach'] as Tool[], conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { pod: `missing-${p}`, confArg: c }), code: 3 as const })),
  fc.constant({ category: 'pod: uses hostNetwork', tools: ['attach'] as Tool[], conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { pod: e.hostNetPod, confArg: c }), code: 2 as const }),
  fc.constant({ category: 'pod: not Running', tools: ['attach'] as Tool[], conf: goodText, argv: (e: CorpusEnv, c: string | undefined) => argsFor(e, { pod: e.pendingPod, confArg: c }), code: 2 as const }),
);

function goodText(e: CorpusEnv): string {
  return JSON.stringify(goodConf(e));
}

/** Arguments only the real binary can judge (the real kubeconfig loader and Docker client). */
export const badClusterArgs: BadInput[] = [
  { category: 'args: a --kubeconfig that does not exist', tools: ['attach'], conf: goodText, code: 2, binaryOnly: true,
    argv: (e, c) => argsFor({ ...e, podFlags: [] }, { pod: e.pod, confArg: c, patch: { '--kubeconfig': e.missing } }) },
  { category: 'args: a --context that is not in the kubeconfig', tools: ['attach'], conf: goodText, code: 2, binaryOnly: true,
    argv: (e, c) => argsFor(e, { pod: e.pod, confArg: c, extra: ['--context', 'no-such-context'] }) },
  { category: 'args: a --docker-host that is not unix:// or tcp://', tools: ['attach'], conf: goodText, code: 2, binaryOnly: true,
    argv: (e, c) => argsFor(e, { pod: e.pod, confArg: c, extra: ['--docker-host', 'ftp://example.invalid'] }) },
];
