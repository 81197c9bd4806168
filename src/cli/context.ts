/** Building the engine's pieces from parsed flags: the executor, chain context, cache and network config. */
import type { ChainContext } from '../cni/chain.js';
import { ResultCache } from '../cni/cache.js';
import { parseNetworkConfig, type NetworkList } from '../cni/conf.js';
import { parseCniArgs, resolveCniPath, validateIfName } from '../cni/env.js';
import { UsageError } from '../cni/errors.js';
import type { Executor } from '../exec/types.js';
import type { Io } from './main.js';
import { parseDuration, readAllStdin, readConf, type CommonFlags } from './options.js';

export interface Deps {
  io: Io;
  /** The executor for targets on this host. Tests pass a fake. */
  localExecutor: () => Promise<Executor>;
  readStdin: () => Promise<string>;
  env: NodeJS.ProcessEnv;
}

export function defaultDeps(io: Io): Deps {
  return {
    io,
    localExecutor: async () => new (await import('../exec/local.js')).LocalExecutor(),
    readStdin: readAllStdin,
    env: process.env,
  };
}

export interface Prepared {
  ctx: ChainContext;
  cache: ResultCache;
  ifname: string;
  extraArgs: [string, string][];
}

export function prepare(flags: CommonFlags, exec: Executor, deps: Deps): Prepared {
  const ifname = validateIfName(flags.ifname);
  const cniPath = resolveCniPath(flags.cniPath, deps.env.CNI_PATH);
  const timeoutMs = parseDuration(flags.timeout);
  if (!flags.cacheDir.startsWith('/')) throw new UsageError(`--cache-dir: ${JSON.stringify(flags.cacheDir)} is not an absolute directory`);
  const extraArgs = flags.args ? parseCniArgs(flags.args) : [];
  const ctx: ChainContext = {
    exec,
    cniPath,
    timeoutMs,
    note: (l) => deps.io.err(`note: ${l}\n`),
    ...(flags.verbose ? { debug: (l: string) => deps.io.err(`debug: ${l}\n`) } : {}),
  };
  return { ctx, cache: new ResultCache(exec, flags.cacheDir.replace(/\/+$/, '') || '/'), ifname, extraArgs };
}

export async function loadConf(path: string, deps: Deps): Promise<NetworkList> {
  const { text, source } = await readConf(path, deps.readStdin);
  return parseNetworkConfig(text, source);
}
