/** Flags shared by the commands, and turning them into the engine's inputs. */
import { isIP } from 'node:net';
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import { formatDuration, goDurationError, goParseDuration } from '../duration.js';
import { readLocalText } from '../exec/read-file.js';
import { load } from './load.js';
import { podArgument } from './argv.js';

/** kubectl's global flags (the ones that make sense for a plugin): how to reach the cluster, and as whom. */
export interface KubectlFlags {
  namespace?: string;
  context?: string;
  kubeconfig?: string;
  /** --cluster NAME; false with cni-list's --no-cluster. */
  cluster?: string | boolean;
  user?: string;
  server?: string;
  token?: string;
  /** --client-certificate FILE (client-go ConfigOverrides.AuthInfo.ClientCertificate). */
  clientCertificate?: string;
  /** --client-key FILE (client-go ConfigOverrides.AuthInfo.ClientKey). */
  clientKey?: string;
  /** --username (basic authentication). */
  username?: string;
  /** --password (basic authentication). */
  password?: string;
  certificateAuthority?: string;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  as?: string;
  asGroup?: string[];
  asUid?: string;
  requestTimeout: string;
  /** -v/--v level, as text ("0" … "10"). */
  v?: string;
}

export interface CommonFlags extends KubectlFlags {
  netns?: string;
  ifname?: string;
  conf?: string;
  net?: string;
  runtime: string;
  dockerHost?: string;
  annotate?: boolean;
  agentImage?: string;
  agentNamespace?: string;
  selector?: string;
  all?: boolean;
  /** -A/--all-namespaces: with -l/--all, the pods of every namespace. */
  allNamespaces?: boolean;
  parallel?: string;
  cniPath?: string;
  /** Not a flag: set when cniPath is a record's, not the user's (cli/context.ts EngineFlags). */
  cniPathFrom?: { record: string; retry: string };
  /** Not a flag: words on a record's --cni-path that was not used, for a plugin not found (cli/context.ts EngineFlags). */
  cniPathNote?: () => Promise<string | undefined>;
  cacheDir: string;
  timeout: string;
  output: string;
  args?: string;
  dryRun?: boolean;
}

/** The -v level: 0 quiet (and below: kubectl takes negative levels), ≥ 1 notes, plugin stderr and stack traces, ≥ 6 each API request and node round trip. */
export function verbosity(flags: { v?: string }): number {
  return flags.v === undefined ? 0 : parseLevel(flags.v);
}

/**
 * -v/--v's value as kubectl takes it: klog's Level, an int32 read by strconv.ParseInt(s, 10, 32) — an optional sign and
 * decimal digits, nothing else (no "1.5", " 1", "0x10", "1_0", ""), from -2147483648 to 2147483647; negative levels
 * are taken (as quiet as 0). Errors: UsageError (exit 2) in pflag's words: `invalid argument "abc" for "-v, --v" flag:
 * strconv.ParseInt: parsing "abc": invalid syntax` (or `value out of range`).
 */
export function parseLevel(text: string): number {
  const bad = (why: string) => typedArgument('-v, --v', text, `strconv.ParseInt: parsing ${JSON.stringify(text)}: ${why}`);
  if (!/^[+-]?\d+$/.test(text)) throw bad('invalid syntax');
  const n = Number(text);
  if (n < -(2 ** 31) || n > 2 ** 31 - 1) throw bad('value out of range');
  return n;
}

/**
 * kubectl's global flags that name a kubeconfig, what to pick from it or what to override in it (client-go
 * ConfigOverrides, clientcmd.ClientConfigLoadingRules.ExplicitPath): given empty (`-n ""`, `-n "$NS"` with NS unset),
 * each is no override at all — clientcmd uses an override only when it is non-empty (DirectClientConfig.Namespace:
 * `overrides.Context.Namespace != ""`; the context, cluster, user, server and token likewise; an empty --kubeconfig
 * is no explicit path; the user's client certificate, key, username and password: client-go merges ConfigOverrides.AuthInfo
 * over the user with mergo, which skips empty values), so `-n ""` is the context's namespace, else default, as in kubectl.
 */
export const OVERRIDE_FLAGS = ['namespace', 'context', 'cluster', 'user', 'server', 'token', 'kubeconfig', 'certificateAuthority', 'tlsServerName', 'as', 'asUid', 'clientCertificate', 'clientKey', 'username', 'password'] as const;

/** flags without the kubectl overrides given empty (OVERRIDE_FLAGS): as if not given. Pure. */
export function withoutEmptyOverrides<T extends object>(flags: T): T {
  const out = { ...flags } as Record<string, unknown>;
  for (const k of OVERRIDE_FLAGS) if (out[k] === '') delete out[k];
  return out as T;
}

/**
 * Every command's flags, checked and read as kubectl reads them before the command does anything (a commander
 * preAction hook: addKubectlOptions): the overrides given empty are dropped (withoutEmptyOverrides), an empty
 * --request-timeout is its default (clientcmd: an empty Timeout is none given), and the values of --request-timeout,
 * -v and (where the command has it) --timeout are parsed — so that a bad value is refused (exit 2) whatever the
 * command does with it later, or whether it uses it at all (a --netns attach asks no API server, yet
 * `--request-timeout abc` is as wrong there as kubectl says it is everywhere). The kubeconfig selection (--kubeconfig
 * missing, --context/--cluster/--user it does not define) is checked where the command connects, before it changes
 * anything (cli/targets.ts connect; cni-gc and cni-list refuse it too, never fall back to this host's cache).
 */
export function checkGlobalFlags(cmd: Command): void {
  const opts = cmd.opts();
  for (const k of OVERRIDE_FLAGS) if (opts[k] === '') cmd.setOptionValue(k, undefined);
  if (opts.requestTimeout === '') cmd.setOptionValue('requestTimeout', REQUEST_TIMEOUT_DEFAULT);
  if (typeof opts.requestTimeout === 'string') parseRequestTimeout(opts.requestTimeout);
  if (typeof opts.v === 'string') parseLevel(opts.v);
  if (typeof opts.timeout === 'string') parseDuration(opts.timeout);
  refuseEmptyValues(opts);
  refuseUnusedFlags(cmd);
}

/**
 * This tool's own string flags that no empty value can serve, with what each names: refused given empty (exit 2,
 * before anything is read or asked), as kubectl refuses `-o ''`. An empty --agent-namespace reached the API as a
 * namespace of no name (tryout 8: "creating a pod in : the server could not find the requested resource", exit 3).
 * kubectl's own overrides given empty are dropped instead, as kubectl does (OVERRIDE_FLAGS); an empty -l selects
 * every pod, as kubectl's; an empty --cni-path or --docker-host is its default, as the variables they stand for are
 * ($CNI_PATH, $DOCKER_HOST); --ifname, --node and --cache-dir give their own refusals.
 */
const NON_EMPTY: Record<string, { flag: string; names: string }> = {
  agentNamespace: { flag: '--agent-namespace', names: 'the namespace of the agent pods and the records (default kube-system)' },
  agentImage: { flag: '--agent-image', names: 'the image of the agent pod' },
  net: { flag: '--net', names: 'a NetworkAttachmentDefinition, [NAMESPACE/]NAME' },
};

function refuseEmptyValues(opts: Record<string, unknown>): void {
  for (const [k, { flag, names }] of Object.entries(NON_EMPTY)) {
    if (opts[k] === '') throw new UsageError(`${flag}: an empty value; it names ${names}: give one, or leave the flag out`);
  }
}

/** kubectl's flags that choose the kubeconfig and what in it (the kubeconfig is read for them even when no request is made). */
const SELECTION_KEYS = ['namespace', 'kubeconfig', 'context', 'cluster', 'user'] as const;
/** kubectl's flags that only shape the requests made to the API server: how to reach it, as whom, for how long. */
const REQUEST_KEYS = ['server', 'token', 'clientCertificate', 'clientKey', 'username', 'password', 'certificateAuthority', 'insecureSkipTlsVerify', 'tlsServerName', 'as', 'asGroup', 'asUid', 'requestTimeout'] as const;
/** The flags of how a pod's sandbox is reached (addClusterOptions). */
const RUNTIME_KEYS = ['runtime', 'dockerHost', 'agentImage', 'agentNamespace'] as const;

/**
 * What each command line gave of the flags commander stores under one key for two options (cni-list's --cluster NAME
 * and --no-cluster share `cluster`: the later one would silently replace the other), seen as commander parses them.
 */
const sharedKeySeen = new WeakMap<Command, { clusterName?: string; noCluster?: boolean }>();

/**
 * Flags given on the command line (not defaults, not the empty overrides checkGlobalFlags drops) that would have no
 * effect with the rest of the command line are refused (UsageError, exit 2: `--context cannot be used with --netns:
 * …`) rather than let a typo or a wrong assumption pass silently — nothing is read or changed before (a preAction
 * hook). kubectl checks the kubeconfig selection wherever it reads the kubeconfig (also for a command that sends no
 * request: `kubectl create … --dry-run=client --context nosuch`, `error: context "nosuch" does not exist`), but lets
 * pass a flag that a command never reads (`kubectl version --client --context nosuch`: exit 0); here such a flag is
 * refused, and the ones kubectl documents as ignored are left as they are (cni-list's `-A` with `-n`, `--no-headers`
 * with `-o json`). The rules, one per kind:
 * - `--netns PATH` (attach, detach, check): a bare network namespace of this host: no cluster flag (kubectl's, the
 *   selection or the requests'), no runtime flag, no --net, --no-annotate or --parallel has an effect.
 * - cni-list `--no-cluster`: no request is made and no runtime asked: kubectl's request flags (--server, --token,
 *   --client-certificate, --client-key, --username, --password, --certificate-authority, --insecure-skip-tls-verify, --tls-server-name, --as, --as-group, --as-uid,
 *   --request-timeout), --runtime, --docker-host and --agent-namespace are refused, and so is --cluster NAME (which
 *   shares its key with --no-cluster). The kubeconfig selection (--kubeconfig, --context, --user, -n) is read and
 *   checked as kubectl reads it for a command that sends nothing (`kubectl create … --dry-run=client`: `error:
 *   context "nosuch" does not exist`): cli/list.ts.
 * - `--parallel` (attach, detach) is for -l/--all.
 * - `-o name` (attach, detach, check) prints `pod/NAME`: not with `--netns`.
 * - `--runtime docker|kind|cri` start no agent pod: --agent-image is refused there; `--runtime cri|agent` ask no
 *   Docker: --docker-host is refused there (resolve's runtimes: cli/context.ts defaultDeps runtimes).
 */
export function refuseUnusedFlags(cmd: Command): void {
  const opts = cmd.opts();
  const given = (k: string) => cmd.getOptionValueSource(k) === 'cli' && opts[k] !== undefined && !(k === 'cluster' && opts[k] === false);
  const flagOf = (k: string) => {
    const o = cmd.options.find((x) => x.attributeName() === k && !(k === 'cluster' && x.negate));
    return o?.short && o.long ? `${o.short}/${o.long}` : (o?.long ?? k);
  };
  const refuse = (keys: readonly string[], other: string, why: string) => {
    const bad = keys.filter(given).map(flagOf);
    if (bad.length) throw new UsageError(`${bad.join(', ')} cannot be used with ${other}: ${why}`);
  };
  const seen = sharedKeySeen.get(cmd) ?? {};
  if (opts.netns !== undefined) {
    refuse([...SELECTION_KEYS, ...REQUEST_KEYS, ...RUNTIME_KEYS, 'net', 'annotate', 'parallel', 'allNamespaces'], '--netns', 'a bare network namespace is reached on this host, without the cluster or a runtime (those flags are for pods)');
  }
  if (opts.netns !== undefined && opts.output === 'name') throw new UsageError('-o name cannot be used with --netns: it prints pod/NAME of each pod acted on, and a bare network namespace is no pod (give -o json or yaml)');
  if (seen.noCluster && seen.clusterName) throw new UsageError('--cluster cannot be used with --no-cluster: give one of them (--cluster NAME picks the kubeconfig cluster to ask; --no-cluster asks none)');
  if (opts.cluster === false) {
    refuse([...REQUEST_KEYS, 'runtime', 'dockerHost', 'agentNamespace'], '--no-cluster', "it asks neither the cluster nor the runtime (the rows are this host's cache alone)");
  }
  if (opts.parallel !== undefined && opts.selector === undefined && !opts.all) refuse(['parallel'], 'one pod', 'it says how many pods of -l/--all are worked on at a time');
  if (opts.runtime === 'docker' || opts.runtime === 'kind' || opts.runtime === 'cri') {
    refuse(['agentImage'], `--runtime ${opts.runtime}`, 'it starts no agent pod (--agent-image is for --runtime agent and auto)');
  }
  if (opts.runtime === 'cri' || opts.runtime === 'agent') {
    refuse(['dockerHost'], `--runtime ${opts.runtime}`, 'it asks no Docker (--docker-host is for --runtime docker, kind and auto)');
  }
}

/** What kubectl says of a --request-timeout that clientcmd.ParseTimeout does not take (its words, exactly). */
export const INVALID_TIMEOUT = 'Invalid timeout value. Timeout must be a single integer in seconds, or an integer followed by a corresponding time unit (e.g. 1s | 2m | 3h)';

/** The longest timer Node keeps (2^31 - 1 ms, about 24.8 days): a longer one fires at once (TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * kubectl's --request-timeout, read as client-go's clientcmd.ParseTimeout reads it, the one rule of every command: a
 * non-negative integer (strconv.ParseInt, base 10: a sign taken, no spaces, no `_`) is seconds; anything else is Go's
 * time.ParseDuration's (src/duration.ts goParseDuration: "1.5s", "2m30s", "-1s"); else UsageError (exit 2; kubectl:
 * 1) with kubectl's words, INVALID_TIMEOUT (`1.5`, `-1`, `abc`, ` 5`). Milliseconds; 0 is no limit, and so is a
 * negative duration (client-go's http.Client sets no deadline unless its Timeout is > 0). A limit longer than a
 * timer can hold (24.8 days: "99999999999", which kubectl takes) is that longest one, never a timer that fires at once.
 */
export function parseRequestTimeout(text: string): number {
  let ms: number;
  if (/^[+-]?\d+$/.test(text) && BigInt(text) >= 0n && BigInt(text) < 2n ** 63n) ms = Number(text) * 1000;
  else {
    const d = goParseDuration(text);
    if ('error' in d) throw new UsageError(INVALID_TIMEOUT);
    ms = Number(d.ns) / 1e6;
  }
  return ms <= 0 ? 0 : Math.min(ms, MAX_TIMER_MS);
}

/**
 * The least plugin time limit --timeout takes (ms): no plugin is even started (fork, exec, the dynamic loader) within
 * less, so a smaller limit could only ever kill every run — refused as bad input (exit 2) rather than run to fail.
 */
export const MIN_TIMEOUT_MS = 1;

/**
 * A value that is not of its flag's type (a number, a duration, a level, an address), which kubectl's parser (pflag)
 * would refuse while it reads the command line: said in pflag's words, and cli/main.ts adds cobra's `See '… --help'
 * for usage.` as it does for every error the parser finds. A value of the right type that is wrong for the flag
 * (`--parallel 0`, `--timeout 0.4ms`) is a plain UsageError: one line that says what is taken.
 */
export class FlagTypeError extends UsageError {}

/** FlagTypeError in pflag's words: `invalid argument "abc" for "--parallel" flag: strconv.ParseInt: parsing "abc": invalid syntax`. */
export function typedArgument(flag: string, value: string, why: string): FlagTypeError {
  return new FlagTypeError(`invalid argument ${JSON.stringify(value)} for ${JSON.stringify(flag)} flag: ${why}`);
}

/**
 * An int flag's text as pflag reads it (strconv.ParseInt(text, 0, 64): decimal, 0x hex, 0o/0 octal, 0b binary,
 * underscores between digits), or FlagTypeError in its words (`strconv.ParseInt: parsing "abc": invalid syntax`,
 * `… value out of range` beyond 64 bits). Pure.
 */
export function parseIntFlag(flag: string, text: string): number {
  const bad = (why: string) => typedArgument(flag, text, `strconv.ParseInt: parsing ${JSON.stringify(text)}: ${why}`);
  const m = /^([+-]?)(0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*|0[bB][01](?:_?[01])*|0[oO]?[0-7](?:_?[0-7])*|[0-9](?:_?[0-9])*)$/.exec(text);
  if (!m) throw bad('invalid syntax');
  const digits = m[2]!.replace(/_/g, '');
  const big = BigInt(/^0[0-7]+$/.test(digits) ? `0o${digits.slice(1)}` : /^0[oO]/.test(digits) ? `0o${digits.slice(2)}` : digits);
  const n = m[1] === '-' ? -big : big;
  if (n > 2n ** 63n - 1n || n < -(2n ** 63n)) throw bad('value out of range');
  return Number(n);
}

/**
 * A duration flag of this tool's own (--timeout), read as pflag reads a Duration flag — Go's time.ParseDuration
 * (src/duration.ts goParseDuration: "30s", "2m", "500ms", "1m30s", "1.5s", "250us", ".5s", "+5s"; no spaces) — and a
 * bare number as seconds ("5", "1.5": Go's "missing unit") → milliseconds, exactly (a fraction kept: 1.5ms is 1.5).
 * Every refusal names the value as given (exit 2): not a duration, as pflag says it (FlagTypeError: `invalid argument
 * "5x" for "--timeout" flag: time: unknown unit "x" in duration "5x"`, with cobra's See line); zero or negative
 * (`--timeout 0: must be more than zero`); less than `min` ms (MIN_TIMEOUT_MS). A limit longer than a timer can hold
 * (24.8 days) is that longest one, never a timer that fires at once (Node's TimeoutOverflowWarning: every plugin
 * killed at its start).
 */
export function parseDuration(text: string, flag = '--timeout', min = MIN_TIMEOUT_MS): number {
  const d = goParseDuration(/^(\d+(\.\d*)?|\.\d+)$/.test(text) ? `${text}s` : text);
  if ('error' in d) throw typedArgument(flag, text, goDurationError(text) ?? d.error);
  if (d.ns <= 0n) throw new UsageError(`${flag} ${text}: must be more than zero`);
  const ms = Number(d.ns) / 1e6;
  if (ms < min) {
    throw new UsageError(`${flag} ${text}: less than ${formatDuration(min)}, the least plugin time limit: no plugin can even start within ${formatDuration(ms)}, so every run would be killed (give e.g. 500ms or 10s)`);
  }
  return Math.min(ms, MAX_TIMER_MS);
}

/**
 * The interface name of a new attachment (cni-attach), beyond what the kernel and libcni take (cni/env.ts
 * validateIfName): not beginning with '-'. The kernel (dev_valid_name) and libcni (ValidateInterfaceName) take such a
 * name, and iproute2 (6.1) too where a name is due (`ip link show -x`), but tools that take an interface name as a
 * word of their own command line read it as an option (`ifconfig -x`: "option `-x' not recognised"); and given as
 * `--ifname --version` or `--ifname -n` it is most often a flag that pflag's rule (the next word is the value,
 * whatever it is: cli/argv.ts) made the name. Refused (UsageError, exit 2) only where an interface is made:
 * cni-detach and cni-check take what the kernel takes, so that one made before can still be undone.
 */
export function validateNewIfName(name: string): string {
  if (name.startsWith('-')) {
    throw new UsageError(`interface name ${JSON.stringify(name)} begins with '-': the kernel and CNI would take it, but tools that take an interface name on their command line read it as an option (\`ifconfig ${name}\`); give a name that does not begin with '-' (a flag written right after --ifname is taken as the name, as kubectl's flags take their next word: \`--ifname ${name}\` names the interface ${name})`);
  }
  return name;
}

/**
 * A --ip value: an address with its prefix length, as the CNI `ips` capability carries it (CNI conventions:
 * `["10.10.0.1/24", "3ffe:ffff:0:01ff::1/64"]`; the static IPAM plugin refuses an address without one), read as
 * kubectl's parser reads an IPNet flag (spf13/pflag ipNetValue.Set: Go's net.ParseCIDR of the value with its outer
 * whitespace trimmed): IPv4 (no leading zeros in a field) or IPv6 without a zone, then `/` and a decimal prefix length
 * of at most 32 or 128. Returns the trimmed text. Errors: FlagTypeError (exit 2, with cobra's See line) in pflag's
 * words, Go's net.ParseError: `invalid argument "1.2.3" for "--ip" flag: invalid CIDR address: 1.2.3`. Pure.
 */
export function validateCidr(text: string): string {
  const cidr = text.trim();
  const slash = cidr.indexOf('/');
  const [ip, len] = slash < 0 ? [cidr, undefined] : [cidr.slice(0, slash), cidr.slice(slash + 1)];
  const fam = ip.includes('%') ? 0 : isIP(ip);
  if (fam === 0 || len === undefined || !/^\d+$/.test(len) || Number(len) > (fam === 4 ? 32 : 128)) {
    throw typedArgument('--ip', text, `invalid CIDR address: ${cidr}`);
  }
  return cidr;
}

export function validateMac(text: string): string {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) throw typedArgument('--mac', text, 'not a MAC address (e.g. 02:00:00:00:00:01)');
  return text;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * A repeatable flag that also takes a comma-separated list, as kubectl's string-slice flags do (`--node a,b --node c`
 * is a, b, c). Names are trimmed; empty ones are kept for the command to refuse (exit 2).
 */
export const collectList = (v: string, prev: string[] = []): string[] => [...prev, ...v.split(',').map((x) => x.trim())];

export function addTargetOptions(cmd: Command, opts: { confRequired: boolean; annotate: boolean; bulk?: boolean }): Command {
  cmd.argument('[pod]', 'the pod to work on (in -n NAMESPACE; POD or pod/POD); or give --netns instead', podArgument);
  if (opts.bulk) {
    cmd
      .option('-l, --selector <selector>', 'every pod of the namespace matching this label selector (e.g. app=web)')
      .option('--all', 'every pod of the namespace')
      .option('-A, --all-namespaces', 'with -l/--all: the pods of every namespace (as kubectl label -A -l)')
      .option('--parallel <n>', 'with -l/--all: how many pods at a time on their nodes, in all (1 to 64; default: one per node the pods are on, 4 to 32 in all, at most 4 on one node)');
  } else {
    // not offered, but known: refused by the command with what it takes instead (refuseBulk), not as an unknown option
    cmd.addOption(new Option('-l, --selector <selector>').hideHelp()).addOption(new Option('--all').hideHelp()).addOption(new Option('-A, --all-namespaces').hideHelp());
  }
  cmd
    .option('--netns <path>', "no cluster: a network namespace: a path (/var/run/netns/NAME, /proc/PID/ns/net) or, like 'ip netns', a bare NAME for /var/run/netns/NAME")
    // required, but checked in the action: commander would also demand it of the completion subcommand
    .option('--ifname <name>', 'interface name inside the pod or namespace (e.g. eth1); required');
  const confHelp = opts.confRequired
    ? "network config or conflist (JSON); '-' reads stdin"
    : "network config or conflist; without it the cached config is used ('-' reads stdin)";
  cmd
    .option('--conf <file>', confHelp)
    .option('--net <[ns/]name>', 'take the config from this NetworkAttachmentDefinition (k8s.cni.cncf.io/v1 spec.config)')
    .addOption(namespaceOption("the pod's namespace (default: the context's, else default)"));
  addClusterOptions(cmd);
  if (opts.annotate) cmd.option('--no-annotate', "do not update the pod's k8s.v1.cni.cncf.io/network-status annotation");
  addEngineOptions(cmd).option('--args <K=V;...>', 'extra CNI_ARGS, appended to the ones the tool sets (not one of those, nor a key twice)');
  return addOutputOptions(cmd, ['summary', 'json', 'yaml', 'name']);
}

/**
 * For a command that takes one pod at a time (addTargetOptions without bulk: cni-check): -l/--all are refused as
 * that (UsageError, exit 2), saying what to do instead; commander would say "unknown option '-l'". `listCommand`:
 * the cni-list that lists those pods' attachments, with the flags given (cli/output.ts listCommandLine).
 */
/**
 * A pod named with -A/--all-namespaces, refused in kubectl's words (`kubectl label pods web-1 -A …`: "error: a resource
 * cannot be retrieved by name across all namespaces") and what to give instead. A UsageError (exit 2; kubectl's 1).
 */
export function nameAcrossNamespaces(): UsageError {
  return new UsageError('a resource cannot be retrieved by name across all namespaces: give -n NAMESPACE with the pod, or -A without it');
}

export function refuseBulk(command: string, flags: { selector?: string; all?: boolean; allNamespaces?: boolean }, listCommand: () => string, podName?: string): void {
  if (flags.allNamespaces && podName !== undefined) throw nameAcrossNamespaces();
  if (flags.allNamespaces && flags.selector === undefined && !flags.all) {
    throw new UsageError(`${command} takes one pod (or --netns PATH) at a time, in one namespace (-n), not -A: \`${listCommand()} -A\` lists the attachments of every namespace, then ${command} each by name`);
  }
  if (flags.selector === undefined && !flags.all) return;
  const list = listCommand();
  throw new UsageError(`${command} takes one pod (or --netns PATH) at a time, not ${flags.selector !== undefined ? '-l' : '--all'}: \`${list}\` lists the attachments of those pods, then ${command} each by name`);
}

/** --request-timeout when not given, or given empty (kubectl's default is 0, no limit; this tool's is 30s). */
export const REQUEST_TIMEOUT_DEFAULT = '30s';

/** The heading kubectl's global flags are listed under in --help. */
export const GLOBAL_GROUP = "Global options (kubectl's; only those written after the plugin name reach it):";

export const namespaceOption = (help: string): Option => new Option('-n, --namespace <ns>', help).helpGroup(GLOBAL_GROUP);

/**
 * kubectl's global flags that make sense for a plugin, with kubectl's meanings (client-go ConfigOverrides, kubectl's
 * --request-timeout, klog's -v), listed in --help under their own heading as `kubectl options` lists them.
 */
export function addKubectlOptions(cmd: Command): Command {
  const g = (o: Option) => cmd.addOption(o.helpGroup(GLOBAL_GROUP));
  g(new Option('--kubeconfig <file>', 'kubeconfig file (default: the $KUBECONFIG list, else ~/.kube/config, else in-cluster)'));
  g(new Option('--context <name>', 'kubeconfig context to use'));
  g(new Option('--cluster <name>', 'kubeconfig cluster to use (instead of the context\'s)'));
  g(new Option('--user <name>', 'kubeconfig user to use (instead of the context\'s)'));
  g(new Option('-s, --server <url>', 'address and port of the Kubernetes API server'));
  g(new Option('--token <token>', 'bearer token for authentication to the API server'));
  g(new Option('--client-certificate <file>', 'path to a client certificate file for TLS'));
  g(new Option('--client-key <file>', 'path to a client key file for TLS'));
  g(new Option('--username <name>', 'username for basic authentication to the API server'));
  g(new Option('--password <password>', 'password for basic authentication to the API server'));
  g(new Option('--certificate-authority <file>', 'path to a cert file for the certificate authority'));
  g(new Option('--insecure-skip-tls-verify', "don't check the server certificate (makes HTTPS connections insecure)"));
  g(new Option('--tls-server-name <name>', 'server name for server certificate validation (default: the server\'s host name)'));
  g(new Option('--as <user>', 'user to impersonate for the operation (a user or a service account)'));
  g(new Option('--as-group <group>', 'group to impersonate for the operation; repeatable').argParser(collect));
  g(new Option('--as-uid <uid>', 'UID to impersonate for the operation'));
  g(new Option('--request-timeout <duration>', 'limit for each Kubernetes API request (e.g. 1s, 2m, 3h; a whole number is seconds; 0: no limit)').default(REQUEST_TIMEOUT_DEFAULT));
  g(new Option('-v, --v <level>', 'log level: 1 notes, plugin stderr and stack traces on failure; 6 each API request and node round trip (bare -v: 1)'));
  g(new Option('--version', 'print the version of cni-attach (with -o json: as JSON)'));
  // --cluster NAME and cni-list's --no-cluster share one key: which of them were given, as commander parses them
  const seen: { clusterName?: string; noCluster?: boolean } = {};
  sharedKeySeen.set(cmd, seen);
  cmd.on('option:cluster', (v: string) => (seen.clusterName = v));
  cmd.on('option:no-cluster', () => (seen.noCluster = true));
  // before the action, so before anything is read or changed (a subcommand's action, cni-attach completion, too)
  cmd.hook('preAction', (self) => checkGlobalFlags(self));
  return cmd;
}

/** How to reach the cluster and the runtime (kubectl's flags, and ours for the runtime). */
export function addClusterOptions(cmd: Command): Command {
  return addKubectlOptions(cmd)
    .addOption(
      new Option(
        '--runtime <name>',
        "how to reach the pod's sandbox: docker (pause containers here), kind (the node is a local container), cri (crictl/ctr here), agent (a short-lived privileged pod on the pod's node); auto: this host's runtimes, and an agent for pods on other nodes",
      )
        .choices(['auto', 'docker', 'kind', 'cri', 'agent'])
        .default('auto'),
    )
    .option('--agent-image <image>', 'the image of the agent pod (needs sh, head, nsenter; default: busybox 1.36.1 pinned by digest)')
    .option('--agent-namespace <ns>', 'where agent pods are created (privileged pods must be admitted there) and the attachment records are kept (cni-list -A and cni-gc read only this namespace\'s)', 'kube-system')
    .option('--docker-host <addr>', 'Docker endpoint (default: $DOCKER_HOST, else unix:///var/run/docker.sock)');
}

/** Where the plugins and the cache are, and how long a plugin may run. */
export function addEngineOptions(cmd: Command): Command {
  return cmd
    .option('--cni-path <dirs>', 'plugin directories, colon-separated (default: $CNI_PATH, else /opt/cni/bin:/usr/lib/cni)')
    .option('--cache-dir <dir>', 'libcni cache directory', '/var/lib/cni')
    .option('--timeout <duration>', 'limit for each plugin run (e.g. 500ms, 10s, 2m30s; at least 1ms, at most 9m through an agent pod; a bare number is seconds); past it the plugin is killed (and an attach rolled back)', '60s');
}

export function addOutputOptions(cmd: Command, formats: string[]): Command {
  return cmd.addOption(new Option('-o, --output <format>', 'output format').choices(formats).default(formats[0]));
}

/** --dry-run of detach and check: print the DEL / CHECK runs the cached records would make, run nothing. */
export function addDryRunOption(cmd: Command, what: string): Command {
  return cmd.option('--dry-run', `print each plugin run of the ${what} (env and stdin) and run nothing`);
}

export function addCapabilityOptions(cmd: Command): Command {
  return cmd
    .option('--ip <cidr>', 'request this address (runtimeConfig "ips" capability); repeatable', collect)
    .option('--mac <mac>', 'request this MAC address (runtimeConfig "mac" capability)')
    .option('--dry-run', 'print each plugin run (env and stdin) and run nothing');
}

/** The largest --conf read: far above any real config (a few KiB); /dev/zero or a runaway pipe stops there. */
export const MAX_CONF_BYTES = 4 * 1024 * 1024;

/**
 * Read --conf: a file or '-' for stdin. A missing or unreadable file is bad input (exit 2). The file is opened
 * non-blocking and a FIFO (or socket, or character device) is read through the event loop: a FIFO nobody writes yet
 * waits for its writer as `cat` would, but never inside a libuv pool thread — which the process could not exit past,
 * so SIGINT/SIGTERM would print "stopping" and hang. More than MAX_CONF_BYTES is refused (exit 2). `source`: how the
 * config's own refusals name it (cni/conf.ts parseNetworkConfig), as these do: `--conf PATH`, `--conf - (stdin)`.
 */
export async function readConf(path: string, readStdin: () => Promise<string>): Promise<{ text: string; source: string }> {
  // every refusal of the config names it the same way, whether it could not be read or what it holds is refused:
  // `--conf adir: is a directory`, `--conf notjson.json: invalid JSON (…)`, `--conf - (stdin): missing "type"`
  if (path === '-') return { text: await readStdin(), source: '--conf - (stdin)' };
  let text: string | undefined;
  try {
    text = await readLocalText(path, MAX_CONF_BYTES);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EFBIG') throw new UsageError(`--conf ${path}: more than ${MAX_CONF_BYTES / 1024 / 1024} MiB; a network config is a few KiB`);
    throw new UsageError(`--conf ${path}: ${code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
  }
  if (text === undefined) throw new UsageError(`--conf ${path}: no such file`);
  return { text, source: `--conf ${path}` };
}

export async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
