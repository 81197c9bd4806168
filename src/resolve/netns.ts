/** A target given as a network namespace path (the seed, part 1): no cluster, plugins run on this host. */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { NotFoundError, UsageError } from '../errors.js';
import type { Executor } from '../exec/types.js';

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

/**
 * Resolve --netns PATH. For attach the namespace must exist (exit 3 when it does not, 2 when the path is something
 * else); detach passes mustExist=false because DEL of a vanished namespace still frees its IPAM lease.
 */
export async function netnsTarget(executor: Executor, path: string, mustExist: boolean): Promise<Target> {
  if (path === '') throw new UsageError('the network namespace path is empty', { fix: { setting: 'netns' } });
  const netnsPath = resolve(path);
  if (mustExist) {
    let kind;
    try {
      kind = await executor.pathKind(netnsPath);
    } catch (e) {
      throw new UsageError(`cannot look at ${netnsPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (kind === 'missing') throw new NotFoundError(`network namespace ${netnsPath} does not exist`);
    if (kind !== 'netns') {
      throw new UsageError(`${netnsPath} is not a network namespace (expected e.g. /var/run/netns/NAME or /proc/PID/ns/net)`);
    }
    // the node's own namespace (PID 1's, and the one this command runs in) is what hostNetwork pods share: refused
    const id = await executor.identity?.netnsId(netnsPath);
    if (id !== undefined) {
      for (const own of ['/proc/1/ns/net', '/proc/self/ns/net']) {
        if (id === (await executor.identity?.netnsId(own))) {
          throw new UsageError(`${netnsPath} is the node's own network namespace (the one ${own.includes('self') ? 'this command runs in' : 'PID 1 has'}): attaching there would rewire the node; refused`);
        }
      }
    }
  }
  return { netnsPath, containerId: cnitoolContainerId(netnsPath), executor, describe: `netns ${netnsPath}` };
}

/** Whether a link named ifname exists inside the namespace at netnsPath. */
export async function interfaceExists(executor: Executor, netnsPath: string, ifname: string): Promise<boolean> {
  // a sandbox's /proc/PID/ns/net: its /proc/PID/net/dev lists the links of that namespace, no process needed
  const pid = /^\/proc\/(\d+)\/ns\/net$/.exec(netnsPath)?.[1];
  const dev = pid ? await executor.readFile(`/proc/${pid}/net/dev`).catch(() => undefined) : undefined;
  if (dev !== undefined) return dev.split('\n').slice(2).some((l) => l.trim().split(':')[0] === ifname);
  const r = await executor.run(['nsenter', `--net=${netnsPath}`, '--', 'ip', '-o', 'link', 'show', 'dev', ifname]);
  if (r.code === 0) return true;
  if (/does not exist|Cannot find device/i.test(r.stderr)) return false;
  throw new UsageError(`could not list interfaces in ${netnsPath} on ${executor.where}: ${r.stderr.trim() || `exit ${r.code}`}`);
}
