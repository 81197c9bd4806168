/** A target given as a network namespace path (the seed, part 1): no cluster, plugins run on this host. */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { NotFoundError, StoppedError, UsageError, signalName } from '../errors.js';
import { onNode, type Executor } from '../exec/types.js';

export interface Target {
  netnsPath: string;
  containerId: string;
  executor: Executor;
  /** For messages: "netns /var/run/netns/a", "pod shop/web-1". */
  describe: string;
}

/** The container id cnitool derives for a netns path, so that cnitool and cni-attach share cache entries. */
export function cnitoolContainerId(netnsPath: string): string {
  const sum = createHash('sha512').update(resolve(netnsPath)).digest();
  return `cnitool-${sum.subarray(0, 10).toString('hex')}`;
}

/** Where `ip netns` keeps named namespaces: `--netns NAME` (no '/') means NETNS_RUN_DIR/NAME, as `ip netns exec NAME` does. */
export const NETNS_RUN_DIR = '/var/run/netns';

/** --netns as given → the path used: a bare name (no '/', not '.' or '..') is `ip netns`'s NETNS_RUN_DIR/NAME. */
export function netnsPathOf(given: string): string {
  if (!given.includes('/') && given !== '.' && given !== '..') return `${NETNS_RUN_DIR}/${given}`;
  return resolve(given);
}

/**
 * Whether the namespace at path is the node's own (PID 1's, or the one this command runs in: what hostNetwork pods
 * share), compared by identity (device and inode of the nsfs file); undefined when it is not, or cannot be told.
 * Returns which one, for the message.
 */
export async function nodeOwnNetns(executor: Executor, path: string): Promise<string | undefined> {
  const id = await executor.identity?.netnsId(path);
  if (id === undefined) return undefined;
  for (const own of ['/proc/1/ns/net', '/proc/self/ns/net']) {
    if (id === (await executor.identity?.netnsId(own))) return own.includes('self') ? 'the one this command runs in' : 'the one PID 1 has';
  }
  return undefined;
}

/**
 * Resolve --netns PATH (or a bare NAME: /var/run/netns/NAME). For attach the namespace must exist (exit 3 when it
 * does not, 2 when the path is something else); detach passes mustExist=false because DEL of a vanished namespace
 * still frees its IPAM lease — its Target then has gone=true, and DEL runs with CNI_NETNS empty (SPEC.md: optional on
 * DEL; libcni's callers pass it empty for a gone sandbox). Every command refuses the node's own namespace (exit 2),
 * whatever path names it. The container id is cnitool's, from the path as used.
 */
export async function netnsTarget(executor: Executor, path: string, mustExist: boolean): Promise<Target & { gone: boolean }> {
  if (path === '') throw new UsageError('the network namespace path is empty', { fix: { setting: 'netns' } });
  const netnsPath = netnsPathOf(path);
  let kind;
  try {
    kind = await executor.pathKind(netnsPath);
  } catch (e) {
    throw new UsageError(`cannot look at ${netnsPath}${onNode(executor)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (mustExist && kind === 'missing') throw new NotFoundError(`network namespace ${netnsPath} does not exist${onNode(executor)}`);
  if (kind === 'other') {
    throw new UsageError(`${netnsPath}${onNode(executor)} is not a network namespace (expected NAME, meaning /var/run/netns/NAME, or a path such as /var/run/netns/NAME or /proc/PID/ns/net)`);
  }
  if (kind === 'netns') {
    const own = await nodeOwnNetns(executor, netnsPath);
    if (own) throw new UsageError(`${netnsPath}${onNode(executor)} is the node's own network namespace (${own}): a plugin run there would rewire the node; refused`);
  }
  return { netnsPath, containerId: cnitoolContainerId(netnsPath), executor, describe: `netns ${netnsPath}`, gone: kind === 'missing' };
}

/** Whether a link named ifname exists inside the namespace at netnsPath. */
export async function interfaceExists(executor: Executor, netnsPath: string, ifname: string): Promise<boolean> {
  // a sandbox's /proc/PID/ns/net: its /proc/PID/net/dev lists the links of that namespace, no process needed
  const pid = /^\/proc\/(\d+)\/ns\/net$/.exec(netnsPath)?.[1];
  const dev = pid ? await executor.readFile(`/proc/${pid}/net/dev`).catch(() => undefined) : undefined;
  if (dev !== undefined) return dev.split('\n').slice(2).some((l) => l.trim().split(':')[0] === ifname);
  const r = await executor.run(['nsenter', `--net=${netnsPath}`, '--', 'ip', '-o', 'link', 'show', 'dev', ifname]);
  if (r.interrupted) throw new StoppedError(r.interrupted, `stopped by ${signalName(r.interrupted)} while looking for ${ifname} in ${netnsPath}: nothing was changed`);
  if (r.code === 0) return true;
  if (/does not exist|Cannot find device/i.test(r.stderr)) return false;
  throw new UsageError(`could not list interfaces in ${netnsPath} on ${executor.where}: ${r.stderr.trim() || `exit ${r.code}`}`);
}
