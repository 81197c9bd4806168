/**
 * libcni-compatible result cache (kind "cniCacheV1") at <cacheDir>/results/<network>-<containerId>-<ifname>,
 * plus this tool's own state beside it: intents (written before an ADD, so a crash mid-attach can be undone)
 * and per-attachment locks.
 */
import type { Executor, Lock } from '../exec/types.js';
import type { JsonObject } from './conf.js';

export const CACHE_KIND = 'cniCacheV1';

export interface CacheEntry {
  kind: typeof CACHE_KIND;
  containerId: string;
  /** The network config (conf or conflist) as base64 of its bytes, like Go's []byte in JSON. */
  config: string;
  ifName: string;
  networkName: string;
  netns?: string;
  cniArgs?: [string, string][];
  capabilityArgs?: JsonObject;
  result?: JsonObject;
}

export interface AttachmentKey {
  network: string;
  containerId: string;
  ifname: string;
}

export function resultPath(cacheDir: string, k: AttachmentKey): string {
  return `${cacheDir}/results/${k.network}-${k.containerId}-${k.ifname}`;
}
export function intentPath(cacheDir: string, k: AttachmentKey): string {
  return `${cacheDir}/cni-attach/intents/${k.network}-${k.containerId}-${k.ifname}`;
}
export function lockPath(cacheDir: string, containerId: string, ifname: string): string {
  return `${cacheDir}/cni-attach/locks/${containerId}-${ifname}.lock`;
}

export function makeEntry(
  k: AttachmentKey,
  configBytes: string,
  rt: { netns?: string; cniArgs?: [string, string][]; capabilityArgs?: JsonObject },
  result?: JsonObject,
): CacheEntry {
  const e: CacheEntry = {
    kind: CACHE_KIND,
    containerId: k.containerId,
    config: Buffer.from(configBytes, 'utf8').toString('base64'),
    ifName: k.ifname,
    networkName: k.network,
  };
  if (rt.netns) e.netns = rt.netns;
  if (rt.cniArgs && rt.cniArgs.length > 0) e.cniArgs = rt.cniArgs;
  if (rt.capabilityArgs && Object.keys(rt.capabilityArgs).length > 0) e.capabilityArgs = rt.capabilityArgs;
  if (result) e.result = result;
  return e;
}

export function configText(e: CacheEntry): string {
  return Buffer.from(e.config, 'base64').toString('utf8');
}

function parseEntry(text: string | undefined): CacheEntry | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as Partial<CacheEntry>;
    if (v.kind !== CACHE_KIND || typeof v.containerId !== 'string' || typeof v.ifName !== 'string' ||
        typeof v.networkName !== 'string' || typeof v.config !== 'string') return undefined;
    return v as CacheEntry;
  } catch {
    return undefined;
  }
}

export interface Found {
  entry: CacheEntry;
  /** Only an intent: an attach that never finished (crashed, or its rollback failed). */
  intentOnly: boolean;
}

export class ResultCache {
  constructor(
    private readonly exec: Executor,
    readonly dir: string,
  ) {}

  async read(k: AttachmentKey): Promise<CacheEntry | undefined> {
    return parseEntry(await this.exec.readFile(resultPath(this.dir, k)));
  }
  async write(e: CacheEntry): Promise<void> {
    await this.exec.writeFileAtomic(resultPath(this.dir, keyOf(e)), JSON.stringify(e), 0o600);
  }
  async remove(k: AttachmentKey): Promise<void> {
    await this.exec.removeFile(resultPath(this.dir, k));
  }

  async readIntent(k: AttachmentKey): Promise<CacheEntry | undefined> {
    return parseEntry(await this.exec.readFile(intentPath(this.dir, k)));
  }
  async writeIntent(e: CacheEntry): Promise<void> {
    await this.exec.writeFileAtomic(intentPath(this.dir, keyOf(e)), JSON.stringify(e), 0o600);
  }
  async removeIntent(k: AttachmentKey): Promise<void> {
    await this.exec.removeFile(intentPath(this.dir, k));
  }

  /** Every recorded attachment (results, then intents not yet resolved) of containerId/ifname, whatever its network. */
  async find(containerId: string, ifname: string): Promise<Found[]> {
    return this.scan(`-${containerId}-${ifname}`, (e) => e.containerId === containerId && e.ifName === ifname);
  }

  /** Every recorded attachment and unfinished attach in this cache. */
  async all(): Promise<Found[]> {
    return this.scan('', () => true);
  }

  /** Every recorded attachment of ifname that `match` accepts, whatever its container (a pod whose sandbox is gone). */
  async findWhere(ifname: string, match: (e: CacheEntry) => boolean): Promise<Found[]> {
    return this.scan(`-${ifname}`, (e) => e.ifName === ifname && match(e));
  }

  private async scan(suffix: string, accept: (e: CacheEntry) => boolean): Promise<Found[]> {
    const found: Found[] = [];
    const seen = new Set<string>();
    for (const [sub, intentOnly] of [['results', false], ['cni-attach/intents', true]] as const) {
      for (const name of await this.exec.listDir(`${this.dir}/${sub}`)) {
        if (name.startsWith('.') || !name.endsWith(suffix) || name.length === suffix.length) continue;
        const e = parseEntry(await this.exec.readFile(`${this.dir}/${sub}/${name}`));
        if (!e || !accept(e)) continue;
        const id = `${e.networkName}\0${e.containerId}`;
        if (seen.has(id)) continue;
        seen.add(id);
        found.push({ entry: e, intentOnly });
      }
    }
    return found;
  }

  async lock(containerId: string, ifname: string): Promise<Lock | undefined> {
    return this.exec.tryLock(lockPath(this.dir, containerId, ifname));
  }
}

export function keyOf(e: CacheEntry): AttachmentKey {
  return { network: e.networkName, containerId: e.containerId, ifname: e.ifName };
}
