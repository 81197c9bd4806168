/**
 * kubectl's plugin completion: `kubectl cni-attach <TAB>` makes kubectl (≥ 1.26) run `kubectl_complete-cni_attach`
 * from PATH with the words typed after the plugin name, the last one being the word under the cursor (possibly "").
 * The answer is cobra's `__complete` protocol (spf13/cobra completions.go): one candidate per line, optionally
 * followed by a tab and a description, then a line `:<directive>` — a bit set: 1 error, 2 no space after the word,
 * 4 no file completion, 8 filter file extensions, 16 only directories, 32 keep the order; 0 lets the shell complete
 * file names.
 *
 * What is completed: flag names (with their help as description); values of flags with fixed choices (-o, --runtime);
 * --context/--cluster/--user from the kubeconfig (read the kubectl way, no API call); the POD argument from the API
 * (pods of the namespace, context and kubeconfig given so far); --net from the API (NetworkAttachmentDefinitions);
 * --ifname of cni-detach/cni-check from this host's CNI cache when this process can read it and from the cluster's
 * attachment records of that pod (an attachment on another node, seen from a laptop); file and directory
 * names where a flag takes a path. API calls have a short limit (COMPLETION_TIMEOUT_MS): a slow cluster gives no
 * candidates rather than a hung shell. client-node is loaded only for the candidates that need the API.
 *
 * Completion never hangs a shell: the kubeconfig files are read through the event loop (resolve/kubeconfig-files.ts:
 * a FIFO, `--kubeconfig <(…)` or a $KUBECONFIG entry, waits for its writer without blocking the process) within
 * KUBECONFIG_READ_TIMEOUT_MS, and the whole answer within COMPLETION_DEADLINE_MS; past either, no candidates and exit
 * 0 with the directive, as kubectl's completion degrades when it cannot ask. A signal ends it at once (nothing
 * blocks the main thread or a pool thread).
 */
import { basename, delimiter } from 'node:path';
import type { Command } from 'commander';
import { load as loadYaml } from 'js-yaml';
import { load } from './load.js';
import { kubeconfigPaths, mergeKubeconfigs } from '../resolve/kubeconfig.js';
import { readKubeconfigFiles } from '../resolve/kubeconfig-files.js';
import { flagSpecs, scanArgv } from './argv.js';
import { valueChoices } from './completion.js';
import type { Deps } from './context.js';
import { withoutEmptyOverrides, type KubectlFlags } from './options.js';

export const Directive = { Default: 0, Error: 1, NoSpace: 2, NoFileComp: 4, FilterFileExt: 8, FilterDirs: 16, KeepOrder: 32 } as const;

/** Limit for the one API call a completion makes. */
export const COMPLETION_TIMEOUT_MS = 3000;

/** Limit for reading the kubeconfig files (local files: a FIFO fed by `<(…)` delivers at once). */
export const KUBECONFIG_READ_TIMEOUT_MS = 1000;

/** Limit for a whole completion: the kubeconfig, loading the API client, the API call (COMPLETION_TIMEOUT_MS). */
export const COMPLETION_DEADLINE_MS = 5000;

export type Tool = 'attach' | 'detach' | 'check' | 'list' | 'gc';

export interface Completion {
  candidates: string[];
  directive: number;
}

/**
 * The protocol's text: candidates, then ":directive". Without descriptions (cobra's `__completeNoDesc`), each
 * candidate up to its first tab.
 */
export function completionText(c: Completion, descriptions = true): string {
  const shown = c.candidates.map((x) => x.replace(/\n/g, ' ')).map((x) => (descriptions ? x : x.split('\t')[0]!));
  return `${shown.join('\n')}${shown.length ? '\n' : ''}:${c.directive}\n`;
}

/** cobra's names of the directive bits (ShellCompDirective.string() in spf13/cobra completions.go), in its order. */
const DIRECTIVE_NAMES: [number, string][] = [
  [Directive.Error, 'ShellCompDirectiveError'],
  [Directive.NoSpace, 'ShellCompDirectiveNoSpace'],
  [Directive.NoFileComp, 'ShellCompDirectiveNoFileComp'],
  [Directive.FilterFileExt, 'ShellCompDirectiveFilterFileExt'],
  [Directive.FilterDirs, 'ShellCompDirectiveFilterDirs'],
  [Directive.KeepOrder, 'ShellCompDirectiveKeepOrder'],
];

/**
 * cobra's line on stderr after a `__complete` answer, for a person running it by hand (shells ignore stderr):
 * "Completion ended with directive: ShellCompDirectiveNoSpace, ShellCompDirectiveNoFileComp"; 0 is
 * ShellCompDirectiveDefault.
 */
export function directiveLine(directive: number): string {
  const names = DIRECTIVE_NAMES.filter(([bit]) => directive & bit).map(([, name]) => name);
  return `Completion ended with directive: ${names.length ? names.join(', ') : 'ShellCompDirectiveDefault'}\n`;
}

/** cobra's hidden completion commands: `__complete` (candidates with descriptions) and `__completeNoDesc`. */
export const COMPLETE_COMMANDS = ['__complete', '__completeNoDesc'] as const;



const PATH_FLAGS = new Set(['--conf', '--kubeconfig', '--certificate-authority', '--client-certificate', '--client-key', '--netns']);
const DIR_FLAGS = new Set(['--cache-dir', '--cni-path']);

/** What the words typed so far say: flags (by attribute name) and positional arguments. */
function wordsSoFar(cmd: Command, typed: string[]): { flags: Record<string, unknown>; positionals: string[] } {
  const words = scanArgv(typed, flagSpecs(cmd));
  const flags: Record<string, unknown> = {};
  const positionals: string[] = [];
  const opts = cmd.options;
  for (let i = 0; i < words.length; i++) {
    const { text: a, role } = words[i]!;
    if (role === 'arg') positionals.push(a);
    if (role !== 'flag') continue; // a value is taken with its flag; `--` ends the flags, the arguments after it are args
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    const o = opts.find((x) => x.long === name || x.short === name);
    if (!o) continue;
    const key = o.attributeName();
    if (o.required || o.optional) {
      const v = eq > 0 ? a.slice(eq + 1) : words[i + 1]?.role === 'value' ? words[++i]!.text : undefined;
      if (v !== undefined) flags[key] = Array.isArray(flags[key]) || key === 'asGroup' ? [...((flags[key] as string[]) ?? []), v] : v;
    } else flags[key] = !o.negate;
  }
  // `-n ""` is no namespace given, as in the commands (options.ts withoutEmptyOverrides): the context's, else default
  return { flags: withoutEmptyOverrides(flags), positionals };
}

/**
 * Complete the last word of `words` (the words after the plugin name) for one command. Never throws: a failure
 * gives no candidates (and NoFileComp), as kubectl's own completion does when the API cannot be asked; so does an
 * answer not ready within deadlineMs (what was still waited for is left to the process's exit).
 */
export async function complete(tool: Tool, cmd: Command, words: string[], deps: Deps, deadlineMs = COMPLETION_DEADLINE_MS): Promise<Completion> {
  const none: Completion = { candidates: [], directive: Directive.NoFileComp };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Completion>((resolve) => (timer = setTimeout(() => resolve(none), deadlineMs)));
  try {
    return await Promise.race([completeWord(tool, cmd, words, deps), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function completeWord(tool: Tool, cmd: Command, words: string[], deps: Deps): Promise<Completion> {
  const none: Completion = { candidates: [], directive: Directive.NoFileComp };
  const all = words.length ? words : [''];
  const cur = all[all.length - 1]!;
  const before = all.slice(0, -1);
  const { flags, positionals } = wordsSoFar(cmd, before);
  const opts = cmd.options;

  // the value of a flag: "--flag=va<TAB>" or "--flag va<TAB>"
  let valueOf: string | undefined;
  let prefix = '';
  let partial = cur;
  if (cur.startsWith('--') && cur.includes('=')) {
    valueOf = cur.slice(0, cur.indexOf('='));
    prefix = `${valueOf}=`;
    partial = cur.slice(prefix.length);
  } else if (before.length && before[before.length - 1]!.startsWith('-') && !before[before.length - 1]!.includes('=') && scanArgv(before, flagSpecs(cmd)).pop()?.role !== 'value') {
    // (`--ifname -n <TAB>`: that -n is the interface's name, not the namespace flag)
    const prev = before[before.length - 1]!;
    const o = opts.find((x) => x.long === prev || x.short === prev);
    if (o && (o.required || o.optional)) valueOf = o.long ?? o.short;
  }

  try {
    if (valueOf !== undefined) {
      const o = opts.find((x) => x.long === valueOf || x.short === valueOf);
      if (!o) return none;
      const long = o.long ?? '';
      const withPrefix = (xs: string[]) => xs.filter((x) => x.startsWith(partial)).map((x) => prefix + x);
      const choices = valueChoices(o);
      if (choices) {
        const c = withPrefix([...choices]);
        // "jsonpath=" goes on with the template: no space after it (when it is the only way on)
        return { candidates: c, directive: c.length && c.every((x) => x.endsWith('=')) ? Directive.NoFileComp | Directive.NoSpace : Directive.NoFileComp };
      }
      if (PATH_FLAGS.has(long)) return { candidates: [], directive: Directive.Default };
      if (DIR_FLAGS.has(long)) return { candidates: [], directive: Directive.FilterDirs };
      if (long === '--context' || long === '--cluster' || long === '--user') {
        return { candidates: withPrefix(await kubeconfigNames(flags as unknown as KubectlFlags, long.slice(2) as 'context' | 'cluster' | 'user', deps.env)), directive: Directive.NoFileComp };
      }
      if (long === '--namespace' || long === '--agent-namespace') return { candidates: withPrefix(await namespaceNames(flags as unknown as KubectlFlags, deps)), directive: Directive.NoFileComp };
      if (long === '--net') return { candidates: withPrefix(await nadNames(flags as unknown as KubectlFlags, deps)), directive: Directive.NoFileComp };
      if (long === '--node') {
        // a comma-separated list: the names before the last comma stay as typed, the last one is completed
        const head = partial.slice(0, partial.lastIndexOf(',') + 1);
        const names = await nodeNames(flags as unknown as KubectlFlags, deps);
        return { candidates: names.filter((n) => n.startsWith(partial.slice(head.length))).map((n) => prefix + head + n), directive: Directive.NoFileComp };
      }
      if (long === '--ifname' && (tool === 'detach' || tool === 'check') && positionals[0]) {
        return { candidates: withPrefix(await cachedIfnames(flags, positionals[0], deps)), directive: Directive.NoFileComp };
      }
      return none;
    }
    if (cur.startsWith('-')) {
      const names = opts.filter((o) => !o.hidden).flatMap((o) => [o.long, ...(cur.startsWith('--') ? [] : [o.short])].filter((n): n is string => !!n).map((n) => `${n}\t${o.description}`));
      return { candidates: [...names, '--help\tdisplay help for command'].filter((n) => n.startsWith(cur)), directive: Directive.NoFileComp };
    }
    // cni-attach's `completion SHELL`
    if (tool === 'attach' && positionals.length === 1 && positionals[0] === 'completion' && before.length === 1) {
      return { candidates: ['bash', 'zsh', 'fish'].filter((x) => x.startsWith(cur)), directive: Directive.NoFileComp };
    }
    // the POD argument (cni-gc takes none; cni-list several, as kubectl get: the pods not yet on the line, as kubectl's
    // completion removes the choices already given; the others one)
    if (tool === 'gc' || (positionals.length >= 1 && tool !== 'list') || flags.netns !== undefined) return none;
    const given = new Set(positionals.map((p) => p.replace(/^(?:pods?|po)\//, '')));
    const pods = (await podNames(flags as unknown as KubectlFlags, deps)).filter((p) => !given.has(p));
    return { candidates: pods.filter((p) => p.startsWith(cur)), directive: Directive.NoFileComp };
  } catch {
    return none;
  }
}

async function api(flags: KubectlFlags, deps: Deps) {
  const { kubeOptions } = await import('./targets.js');
  return deps.kube({ ...kubeOptions({ ...flags, requestTimeout: '0' }), requestTimeoutMs: COMPLETION_TIMEOUT_MS, readSignal: AbortSignal.timeout(KUBECONFIG_READ_TIMEOUT_MS) });
}

async function podNames(flags: KubectlFlags, deps: Deps): Promise<string[]> {
  const kube = await api(flags, deps);
  const pods = await kube.listPods(flags.namespace ?? kube.defaultNamespace);
  return pods.map((p) => p.metadata?.name ?? '').filter(Boolean).sort();
}

/** The nodes pods are scheduled on (cni-gc --node: no Node object is read, as gc checks the names). */
async function nodeNames(flags: KubectlFlags, deps: Deps): Promise<string[]> {
  const kube = await api(flags, deps);
  return [...new Set((await kube.listPods(undefined)).map((p) => p.spec?.nodeName ?? '').filter(Boolean))].sort();
}

/**
 * The namespaces that have pods (one pod list of every namespace: the tool reads no Namespace objects, so a user
 * who may list pods everywhere gets the namespaces worth naming; one who may not gets none).
 */
async function namespaceNames(flags: KubectlFlags, deps: Deps): Promise<string[]> {
  const kube = await api(flags, deps);
  return [...new Set((await kube.listPods(undefined)).map((p) => p.metadata?.namespace ?? '').filter(Boolean))].sort();
}

async function nadNames(flags: KubectlFlags, deps: Deps): Promise<string[]> {
  const kube = await api(flags, deps);
  return (await kube.listNads(flags.namespace ?? kube.defaultNamespace)).sort();
}

/**
 * The names of the kubeconfig's contexts, clusters or users (merged the kubectl way). A file that cannot be parsed
 * is left out; files not read within KUBECONFIG_READ_TIMEOUT_MS (a FIFO nobody writes) or not readable make it throw:
 * no candidates.
 */
async function kubeconfigNames(flags: KubectlFlags, what: 'context' | 'cluster' | 'user', env: NodeJS.ProcessEnv): Promise<string[]> {
  // the kubeconfig module is pure and small: no client-node for this
  const { paths } = kubeconfigPaths({ ...(flags.kubeconfig ? { explicitPath: flags.kubeconfig } : {}), env, delimiter });
  const texts = await readKubeconfigFiles(paths, AbortSignal.timeout(KUBECONFIG_READ_TIMEOUT_MS));
  const docs = [...texts].flatMap(([file, text]) => {
    if (text === undefined) return [];
    try {
      return [{ file, doc: loadYaml(text) }];
    } catch {
      return [];
    }
  });
  const m = mergeKubeconfigs(docs);
  return [...(what === 'context' ? m.contexts : what === 'cluster' ? m.clusters : m.users).keys()].sort();
}

async function cachedIfnames(flags: Record<string, unknown>, pod: string, deps: Deps): Promise<string[]> {
  const cacheDir = typeof flags.cacheDir === 'string' ? flags.cacheDir : '/var/lib/cni';
  const namespace = typeof flags.namespace === 'string' ? flags.namespace : undefined;
  const here = async () => {
    const { argsMatchPod } = await load.pods();
    const { prepareEngine } = await import('./context.js');
    const { cache } = prepareEngine({ cacheDir, timeout: '60s' }, await deps.localExecutor(), deps);
    const found = await cache.all();
    return found.filter((f) => (namespace ? argsMatchPod(f.entry.cniArgs, namespace, pod) : new Map(f.entry.cniArgs ?? []).get('K8S_POD_NAME') === pod)).map((f) => f.entry.ifName);
  };
  // the cluster's records (resolve/records.ts) of that pod: what a laptop knows of an attachment on another node
  const recorded = async () => {
    const kube = await api(flags as unknown as KubectlFlags, deps);
    const { listRecords } = await import('../resolve/records.js');
    const ns = namespace ?? kube.defaultNamespace;
    const where = typeof flags.agentNamespace === 'string' ? flags.agentNamespace : 'kube-system';
    return (await listRecords(kube, where)).filter((r) => r.namespace === ns && r.pod === pod).map((r) => r.ifname);
  };
  // either source may fail (no cache here, no cluster): the other one's names still complete
  const names = await Promise.allSettled([here(), recorded()]);
  return [...new Set(names.flatMap((r) => (r.status === 'fulfilled' ? r.value : [])))].sort();
}

/** The command a kubectl_complete-cni_<tool> executable completes, from its name. */
export function toolOf(executable: string): Tool | undefined {
  const m = /^kubectl_complete-cni_(attach|detach|check|list|gc)$/.exec(basename(executable));
  return m?.[1] as Tool | undefined;
}

/**
 * Entry for bin/kubectl_complete-cni_* and for `kubectl-cni_<tool> __complete|__completeNoDesc WORDS…` (cobra's
 * hidden commands, every command has them: shells and users call them; bin/load-bundle.cjs sends them here): print
 * the completion of the words and exit 0; after cobra's commands, also cobra's "Completion ended with directive: …"
 * on stderr, and without descriptions for __completeNoDesc.
 */
export async function run(): Promise<never> {
  const { stdio } = await import('./main.js');
  const { defaultDeps } = await import('./context.js');
  // the executable's name says the command; else (`cni-attach complete COMMAND WORDS…`, the single executable) its
  // first argument
  let tool = toolOf(process.argv[1] ?? '');
  let words = process.argv.slice(2);
  if (!tool && /^(attach|detach|check|list|gc)$/.test(words[0] ?? '')) [tool, words] = [words[0] as Tool, words.slice(1)];
  // `kubectl-cni_<tool> __complete WORDS…` (bin/load-bundle.cjs brings it here as `complete <tool> __complete …`)
  const cobra = (COMPLETE_COMMANDS as readonly string[]).includes(words[0] ?? '') ? words.shift() : undefined;
  const deps = defaultDeps(stdio);
  let out: Completion = { candidates: [], directive: Directive.Error };
  if (tool) {
    const commands: Record<Tool, () => Promise<Command>> = {
      attach: async () => (await import('./attach.js')).attachCommand(deps),
      detach: async () => (await import('./detach.js')).detachCommand(deps),
      check: async () => (await import('./check.js')).checkCommand(deps),
      list: async () => (await import('./list.js')).listCommand(deps),
      gc: async () => (await import('./gc.js')).gcCommand(deps),
    };
    out = await complete(tool, await commands[tool](), words, deps);
  }
  stdio.out(completionText(out, cobra !== '__completeNoDesc'));
  if (cobra) stdio.err(directiveLine(out.directive));
  process.exit(0);
}
