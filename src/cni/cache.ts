/**
 * libcni-compatible result cache (kind "cniCacheV1") at <cacheDir>/results/<network>-<containerId>-<ifname>,
 * plus this tool's own state beside it: intents (written before an ADD, so a crash mid-attach can be undone),
 * deletion marks (written before a DEL of a recorded attachment, so a DEL stopped half-way is told from an interface
 * deleted by hand) and per-attachment locks.
 */
import { commandInParens, heldNow, holderNow, takeLock, tryLock, whyStale, type Busy, type Lock, type LockOwner } from '../exec/lock.js';
import { onNode, type Executor } from '../exec/types.js';
import { BatchingExecutor, isBatching, type Batching } from '../exec/batch.js';
import type { JsonObject } from './conf.js';
import { UsageError } from '../errors.js';
import { isoSecond } from '../duration.js';

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
  /**
   * This tool's own field, beside libcni's (its cachedInfo, as any reader of the cache in Go's encoding/json, ignores a
   * field it does not know): the agent namespace (--agent-namespace) whose ConfigMaps the pod attach that made this
   * entry records it in (resolve/records.ts) — so that a cni-gc of another namespace does not copy its record there
   * (reconcileRecords), and a cni-detach of another namespace says where it stays. Absent: an attach without a cluster
   * (a bare namespace), or an entry of a version before it was kept (recordsNamespaceOf: unknown).
   */
  cniAttachRecordsNamespace?: string;
}

/**
 * The agent namespace an entry says its attach records it in (CacheEntry.cniAttachRecordsNamespace), or undefined when
 * it says none (a version before it was kept): a value that is not a non-empty string counts as none.
 */
export function recordsNamespaceOf(e: Pick<CacheEntry, 'cniAttachRecordsNamespace'>): string | undefined {
  const ns: unknown = e.cniAttachRecordsNamespace;
  return typeof ns === 'string' && ns !== '' ? ns : undefined;
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
/**
 * The mark of a DEL of a recorded attachment in progress (DeleteMark): written by cni-detach and cni-gc (cni/attach.ts
 * detachOnce) under the attachment's lock just before its first plugin DEL, removed in the same step that removes its
 * result and intent. Still there with the lock free: that DEL was stopped part-way (killed, the user's second signal,
 * its node lost) or failed. In cni-attach's own directory only: results stay libcni's.
 */
export function deletingPath(cacheDir: string, k: AttachmentKey): string {
  return `${cacheDir}/cni-attach/deleting/${k.network}-${k.containerId}-${k.ifname}`;
}
/** VERSION answers of plugins, kept between runs (see ResultCache.versionStore). */
export function versionsPath(cacheDir: string): string {
  return `${cacheDir}/cni-attach/plugin-versions.json`;
}
export function lockPath(cacheDir: string, containerId: string, ifname: string): string {
  return `${cacheDir}/cni-attach/locks/${lockFile(containerId, ifname)}`;
}

/** The file name of an attachment's lock under cni-attach/locks (lockPath), as cache.heldLocks lists it. */
export function lockFile(containerId: string, ifname: string): string {
  return `${containerId}-${ifname}.lock`;
}

/**
 * The GC lock of a network: held by cni-gc from just before it reads this cache for the attachments still valid until
 * the plugins' GC of that network returned (cni/gc.ts), and waited for by the attaches and detaches of that network
 * (cni/attach.ts untilGcDone). Among the attachment locks, as `gc:<network>.lock`: ':' is in no container id, ifname
 * (SPEC.md) or network name (conf.ts validateNetworkName), so no attachment lock has that name; staleLocks and
 * clearStaleLock treat it as any lock (one whose cni-gc died is stale).
 */
export function gcLockPath(cacheDir: string, network: string): string {
  return `${cacheDir}/cni-attach/locks/gc:${network}.lock`;
}

/**
 * The lock of one network in one sandbox, among the attachment locks as `net:<network>:<containerId>.lock` (':' is in
 * no container id, ifname or network name, as with gc:): taken by an attach whose chain holds a plugin that names its
 * node state by network and container only (cni/attach.ts KEYED_BY_NETWORK_AND_CONTAINER), under its interface lock,
 * around its check that the network is recorded in the sandbox under no other ifname and until its result is
 * recorded — so that two such attaches under two ifnames at one moment cannot both pass that check. Not among
 * heldLocks (its attach holds an interface lock too); staleLocks and clearStaleLock treat it as any lock.
 */
export function networkLockPath(cacheDir: string, network: string, containerId: string): string {
  return `${cacheDir}/cni-attach/locks/net:${network}:${containerId}.lock`;
}

/**
 * The cache entry of an attachment (its intent without `result`): libcni's fields, and this tool's records namespace
 * when `rt.recordsNamespace` is given (CacheEntry.cniAttachRecordsNamespace).
 */
export function makeEntry(
  k: AttachmentKey,
  configBytes: string,
  rt: { netns?: string; cniArgs?: [string, string][]; capabilityArgs?: JsonObject; recordsNamespace?: string },
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
  if (rt.recordsNamespace) e.cniAttachRecordsNamespace = rt.recordsNamespace;
  return e;
}

export function configText(e: CacheEntry): string {
  return Buffer.from(e.config, 'base64').toString('utf8');
}

/** The entry in text, or why it is not one ("not JSON (cut short?)", …). */
function entryOrWhy(text: string): CacheEntry | string {
  let v: Partial<CacheEntry>;
  try {
    v = JSON.parse(text) as Partial<CacheEntry>;
  } catch {
    return text.trim() === '' ? 'the file is empty' : 'not JSON (cut short, or overwritten)';
  }
  if (typeof v !== 'object' || v === null || v.kind !== CACHE_KIND) return `not a ${CACHE_KIND} entry`;
  for (const f of ['containerId', 'ifName', 'networkName', 'config'] as const) {
    if (typeof v[f] !== 'string') return `its "${f}" is missing or not a string`;
  }
  return v as CacheEntry;
}

function parseEntry(text: string | undefined): CacheEntry | undefined {
  if (text === undefined) return undefined;
  const e = entryOrWhy(text);
  return typeof e === 'string' ? undefined : e;
}

/**
 * What a record that cannot be read still tells: its network, container id and ifname from the file name when the
 * caller knows two of them (a look-up by container id and ifname), else from whatever fields survive in the text —
 * and, once the container id is known (it comes first in the file, so it survives a cut), the network and ifname
 * from the file name `<network>-<containerId>-<ifname>` (libcni's naming) where the text lost them.
 */
function salvage(name: string, text: string, known?: { containerId: string; ifname: string }): CacheEntry {
  const field = (f: string) => new RegExp(`"${f}"\\s*:\\s*"([^"\\\\]*)"`).exec(text)?.[1];
  const containerId = known?.containerId ?? field('containerId') ?? '';
  const at = containerId ? name.lastIndexOf(`-${containerId}-`) : -1;
  const fromName = at > 0 ? { networkName: name.slice(0, at), ifName: name.slice(at + containerId.length + 2) } : undefined;
  return {
    kind: CACHE_KIND,
    containerId,
    ifName: known?.ifname ?? field('ifName') ?? fromName?.ifName ?? '',
    networkName: fromName?.networkName ?? field('networkName') ?? '',
    config: '',
    ...(field('netns') ? { netns: field('netns')! } : {}),
  };
}

/**
 * Plugins' VERSION answers kept between runs, each valid while the plugin's file stays the same (device, inode, size,
 * mtime and ctime: replacing or touching the file forgets it). lookup() gives that identity, taken before asking
 * the plugin, for remember() to keep with the answer; save() writes what was learnt, once an attach has succeeded
 * (a refused or failed command leaves no file behind).
 */
export interface VersionStore {
  lookup(path: string): Promise<{ id?: string; versions?: string[] }>;
  remember(path: string, id: string, versions: string[]): Promise<void>;
  save(): Promise<void>;
}

const VERSIONS_KIND = 'cniAttachPluginVersionsV1';
type KnownVersions = Record<string, { id: string; supportedVersions: string[] }>;

function parseVersions(text: string | undefined): KnownVersions {
  const known: KnownVersions = {};
  try {
    const v = JSON.parse(text ?? '{}') as { kind?: unknown; plugins?: Record<string, { id?: unknown; supportedVersions?: unknown }> };
    if (v.kind !== VERSIONS_KIND || typeof v.plugins !== 'object' || v.plugins === null) return known;
    for (const [path, e] of Object.entries(v.plugins)) {
      const sv = e?.supportedVersions;
      if (typeof e?.id === 'string' && Array.isArray(sv) && sv.length > 0 && sv.every((x) => typeof x === 'string')) {
        known[path] = { id: e.id, supportedVersions: sv as string[] };
      }
    }
  } catch {
    /* unreadable: ask the plugins again */
  }
  return known;
}

/**
 * A DEL of ours under way or stopped (deletingPath): which command began it (`cni-detach`, `cni-gc`), when (`at`, an
 * ISO 8601 time on the clock of the host that ran it), the host, pid and start time of that command (as its lock names
 * it), and, when its DEL ran to its end but a plugin refused it, the plugin's error (`failed`). A file that cannot be
 * read as one is still a mark (its fields unknown): its being there is what counts.
 */
export interface DeleteMark {
  command: string;
  at?: string;
  host?: string;
  pid?: number;
  start?: string;
  failed?: string;
}

/**
 * A DEL of ours that a mark says began and did not finish (DeleteMark), in words: "a cni-detach (pid 123 on host lap)
 * stopped during its DEL of it at 2026-12-02T05:00:00Z", or "a cni-gc (pid 123 on this host vm) ran a DEL of it at T
 * that failed (plugin …)" when it ran to its end and a plugin refused it; `here`: this host's name (its commands are
 * "on this host"). The words cni-list, cni-gc, cni-check and cni-attach all say it in.
 */
export function deleteStopped(m: DeleteMark, here?: string): string {
  const who = m.pid !== undefined ? commandInParens({ pid: m.pid, ...(m.host ? { host: m.host } : {}) }, here ?? '') : '';
  const at = m.at ? ` at ${m.at}` : '';
  return m.failed ? `a ${m.command}${who} ran a DEL of it${at} that failed (${m.failed})` : `a ${m.command}${who} stopped during its DEL of it${at}`;
}

const DELETING_KIND = 'cniAttachDeletingV1';

/** A mark file's text as a DeleteMark; what cannot be read keeps only that a cni-detach or cni-gc began a DEL. */
export function parseDeleteMark(text: string): DeleteMark {
  try {
    const v = JSON.parse(text) as Partial<DeleteMark> & { kind?: unknown };
    if (v?.kind === DELETING_KIND && typeof v.command === 'string') {
      return {
        command: v.command,
        ...(typeof v.at === 'string' ? { at: v.at } : {}),
        ...(typeof v.host === 'string' ? { host: v.host } : {}),
        ...(typeof v.pid === 'number' ? { pid: v.pid } : {}),
        ...(typeof v.start === 'string' ? { start: v.start } : {}),
        ...(typeof v.failed === 'string' ? { failed: v.failed } : {}),
      };
    }
  } catch {
    /* cut short: still a mark */
  }
  return { command: 'cni-detach or cni-gc' };
}

export interface Found {
  entry: CacheEntry;
  /** Only an intent: an attach that never finished (crashed, or its rollback failed). */
  intentOnly: boolean;
  /**
   * The mark of a DEL of it begun by a cni-detach or cni-gc and not finished (deletingPath): with its lock free, that
   * DEL was stopped part-way or failed (resolve/attachment-state.ts `detach stopped`).
   */
  deleting?: DeleteMark;
  /** The record's file, relative to the cache dir ("results/<network>-<id>-<ifname>"). */
  file?: string;
  /**
   * Why the record cannot be used (cut short, not an entry, unreadable); entry then holds only what could be
   * salvaged (from the file name or the surviving text) and has no config. Such a record blocks its ifname until
   * `cni-detach --force` forgets it.
   */
  unreadable?: string;
}

/** A file error in the cache directory, as a one-line message that names it (exit 2: the cache cannot be used). */
function cacheFailure(dir: string, what: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (!code || !/^E[A-Z]+$/.test(code)) return e;
  const said = { EROFS: 'read-only file system', EACCES: 'permission denied', EPERM: 'not permitted', ENOSPC: 'no space left', ENOTDIR: 'not a directory' }[code];
  const reason = said ? `${code}, ${said}` : code;
  return new UsageError(`cannot use the CNI cache ${dir} (${what}: ${reason})`, { cause: e, fix: { setting: 'cacheDir' } });
}

/** The directories of a cache dir whose owner and mode decide what its entries make root run: it, and where entries, intents and locks go. */
export function cacheDirsOf(dir: string): string[] {
  return [dir, `${dir}/results`, `${dir}/cni-attach`, `${dir}/cni-attach/intents`, `${dir}/cni-attach/deleting`, `${dir}/cni-attach/locks`];
}

/** Temp files of atomic writes: `.<name>.<pid>.<hex>.tmp` (local) or `.<name>.<pid>.tmp` (on a node over sh). */
const TEMP_RE = /^\..+\.(\d+)(\.[0-9a-f]+)?\.tmp$/;

export class ResultCache {
  /**
   * exec: the node whose cache this is (its files); owner: this CLI process, which takes the locks (see exec/lock.ts),
   * whichever node the cache is on.
   */
  constructor(
    private readonly exec: Executor,
    readonly dir: string,
    private readonly owner: LockOwner,
  ) {}

  private trusted: Promise<void> | undefined;

  /**
   * A path of this cache's node as a message names it: as it is on this host, "PATH on node node-c" (or "in node
   * container kind-worker") on a node reached by commands, so that nobody looks for it on their own machine.
   */
  named(path: string): string {
    return `${path}${onNode(this.exec)}`;
  }

  /**
   * The cache decides which plugins root runs and with what: refuse a directory (or its subdirectories) that someone
   * other than its owner may write, or whose owner is neither root nor this user (exec/local.ts untrustedDir), where
   * a planted entry could make us DEL with its config. A directory of root's that only root may write is trusted by
   * any user (root could change anything anyway): a non-root user's commands to other nodes read /var/lib/cni here.
   */
  private async checkTrusted(): Promise<void> {
    const refuse = (d: string, why: string) =>
      new UsageError(`refusing the CNI cache ${d}: ${why}`, { fix: { setting: 'cacheDir', advice: 'use a directory owned by root or by this user that group and others may not write' } });
    const identity = this.exec.identity;
    if (!identity) {
      // a node reached by commands (an agent pod, a kind node): the same rule, judged from one sh's facts of all its
      // directories (exec/trust.ts, as plugin directories are), which ride on the node's first round trip (readAhead
      // declares them). Before, it was not checked there at all: a --cache-dir pasted from a cluster record (cni-list
      // prints the record's) could make root DEL with entries whoever may write that directory planted.
      const why = await this.exec.untrustedPluginDirs(cacheDirsOf(this.dir));
      if (why) throw refuse(this.named(this.dir), why);
      return;
    }
    for (const d of cacheDirsOf(this.dir)) {
      const why = await identity.untrustedDir(d);
      if (why) throw refuse(d, why);
    }
  }

  private async fs<T>(what: string, fn: () => Promise<T>): Promise<T> {
    await (this.trusted ??= this.checkTrusted().catch((e) => {
      throw cacheFailure(this.named(this.dir), 'checking its owner and mode', e);
    }));
    try {
      return await fn();
    } catch (e) {
      throw cacheFailure(this.named(this.dir), what, e);
    }
  }

  async read(k: AttachmentKey): Promise<CacheEntry | undefined> {
    return parseEntry(await this.fs('reading a result', () => this.exec.readFile(resultPath(this.dir, k))));
  }
  async write(e: CacheEntry): Promise<void> {
    await this.fs('writing the result', () => this.exec.writeFileAtomic(resultPath(this.dir, keyOf(e)), JSON.stringify(e), 0o600));
  }
  async remove(k: AttachmentKey): Promise<void> {
    await this.fs('removing the result', () => this.exec.removeFile(resultPath(this.dir, k)));
  }

  async readIntent(k: AttachmentKey): Promise<CacheEntry | undefined> {
    return parseEntry(await this.fs('reading an intent', () => this.exec.readFile(intentPath(this.dir, k))));
  }
  async writeIntent(e: CacheEntry): Promise<void> {
    await this.fs('recording the intent', () => this.exec.writeFileAtomic(intentPath(this.dir, keyOf(e)), JSON.stringify(e), 0o600));
  }
  async removeIntent(k: AttachmentKey): Promise<void> {
    await this.fs('removing the intent', () => this.exec.removeFile(intentPath(this.dir, k)));
  }

  /**
   * Mark that a DEL of k begins (deletingPath), written atomically: by `command` ("cni-detach", "cni-gc"), now, this
   * CLI process (the lock's owner); `failed`: its DEL ran and a plugin refused it (the mark rewritten with why). On a
   * node reached by commands the write rides on the next command run (exec/batch.ts): the first DEL. Returns the mark
   * written (its fields: what the cluster's record of a detach that stopped keeps, cli/detach.ts).
   */
  async markDeleting(k: AttachmentKey, command: string, failed?: string): Promise<DeleteMark> {
    const start = await this.owner.start().catch(() => undefined);
    const mark = { command, at: isoSecond(Date.now()), host: this.owner.host, pid: this.owner.pid, ...(start ? { start } : {}), ...(failed ? { failed } : {}) };
    await this.fs('marking the DEL', () => this.exec.writeFileAtomic(deletingPath(this.dir, k), JSON.stringify({ kind: DELETING_KIND, ...mark }), 0o600));
    return mark;
  }
  /** Remove the mark of k's DEL (none there: nothing to do); on a node reached by commands, queued with the result's removal. */
  async removeDeleteMark(k: AttachmentKey): Promise<void> {
    await this.fs('removing the DEL mark', () => this.exec.removeFile(deletingPath(this.dir, k)));
  }
  /** The mark of a DEL of k begun and not finished, or undefined (none). */
  async readDeleteMark(k: AttachmentKey): Promise<DeleteMark | undefined> {
    const text = await this.fs('reading the DEL mark', () => this.exec.readFile(deletingPath(this.dir, k)));
    return text === undefined ? undefined : parseDeleteMark(text);
  }

  /** Every recorded attachment (results, then intents not yet resolved) of containerId/ifname, whatever its network. */
  async find(containerId: string, ifname: string): Promise<Found[]> {
    return this.scan(`-${containerId}-${ifname}`, (e) => e.containerId === containerId && e.ifName === ifname, { containerId, ifname });
  }

  /**
   * find() as the node holds it now — never from a snapshot read earlier (exec/batch.ts): for a judgement that must
   * rest on a read made after another one (resolve/attachment-state.ts World.reread). On a node reached by commands
   * it costs one round trip (the listings of results, intents and DEL marks of that name ride on one command, and
   * the trust of the cache dir with them when not judged yet); here, none.
   */
  async findNow(containerId: string, ifname: string): Promise<Found[]> {
    if (!isBatching(this.exec)) return this.find(containerId, ifname);
    const once = new BatchingExecutor(this.exec.direct());
    once.readAhead({ dirs: this.readAheadFor(`${containerId}-${ifname}`), ...(this.trusted ? {} : { trustDirs: cacheDirsOf(this.dir) }) });
    const now = new ResultCache(once, this.dir, this.owner);
    if (this.trusted) now.trusted = this.trusted;
    return now.find(containerId, ifname);
  }

  /** The directories and name suffix find() and findWhere() read for ifname (what to read ahead on a remote node). */
  readAheadFor(ifname: string): { path: string; suffix: string }[] {
    return ['results', 'cni-attach/intents', 'cni-attach/deleting'].map((sub) => ({ path: `${this.dir}/${sub}`, suffix: `-${ifname}` }));
  }

  /** The directories whose entry names otherAttachmentsOf() reads (what to read ahead on a remote node). */
  namesFor(): string[] {
    return [`${this.dir}/results`, `${this.dir}/cni-attach/intents`];
  }

  /**
   * The interface names under which `network` is recorded in containerId besides `ifname` (attached, or an attach not
   * finished), from the record files' names alone (libcni's `<network>-<containerId>-<ifname>`: the container id
   * between the two makes the split unambiguous), sorted, without duplicates. Reads no record.
   */
  async otherAttachmentsOf(network: string, containerId: string, ifname: string): Promise<string[]> {
    return (await this.attachmentsOf(network, containerId)).filter((i) => i !== ifname);
  }

  /** The interface names under which `network` is recorded in containerId (as otherAttachmentsOf, ifname included). */
  async attachmentsOf(network: string, containerId: string): Promise<string[]> {
    const prefix = `${network}-${containerId}-`;
    return this.fs('reading', async () => {
      const out = new Set<string>();
      for (const dir of this.namesFor()) {
        for (const name of await this.exec.listDir(dir, '', prefix)) {
          if (name.startsWith('.') || !name.startsWith(prefix) || name.length === prefix.length) continue;
          out.add(name.slice(prefix.length));
        }
      }
      return [...out].sort();
    });
  }

  /** Every recorded attachment and unfinished attach in this cache, unreadable records included. */
  async all(): Promise<Found[]> {
    return this.scan('', () => true);
  }

  /** Every recorded attachment of ifname that `match` accepts, whatever its container (a pod whose sandbox is gone). */
  async findWhere(ifname: string, match: (e: CacheEntry) => boolean): Promise<Found[]> {
    return (await this.scan(`-${ifname}`, (e) => e.ifName === ifname && match(e))).filter((f) => !f.unreadable);
  }

  /** Forget a record by its file (relative to the cache dir, as Found.file): `cni-detach --force` of an unreadable one. */
  async removeRecord(file: string): Promise<void> {
    if (!/^(results|cni-attach\/intents)\/[^/]+$/.test(file)) throw new Error(`not a record file: ${file}`);
    await this.fs('removing a record', () => this.exec.removeFile(`${this.dir}/${file}`));
  }

  private async scan(suffix: string, accept: (e: CacheEntry) => boolean, known?: { containerId: string; ifname: string }): Promise<Found[]> {
    return this.fs('reading', async () => {
      const found: Found[] = [];
      const seen = new Set<string>();
      for (const [sub, intentOnly] of [['results', false], ['cni-attach/intents', true]] as const) {
        for (const name of await this.exec.listDir(`${this.dir}/${sub}`, suffix)) {
          if (name.startsWith('.') || !name.endsWith(suffix) || name.length === suffix.length) continue;
          const file = `${sub}/${name}`;
          let text: string | undefined;
          let why: string | undefined;
          try {
            text = await this.exec.readFile(`${this.dir}/${file}`);
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            if (!code) throw e;
            why = code === 'EFTYPE' ? 'it is not a regular file' : `it cannot be read (${code})`;
          }
          if (text === undefined && why === undefined) continue; // removed meanwhile
          const e = text === undefined ? why! : entryOrWhy(text);
          if (typeof e === 'string') {
            const entry = salvage(name, text ?? '', known);
            if (known && (entry.containerId !== known.containerId || entry.ifName !== known.ifname)) continue;
            found.push({ entry, intentOnly, file, unreadable: e });
            continue;
          }
          if (!accept(e)) continue;
          const id = `${e.networkName}\0${e.containerId}\0${e.ifName}`;
          if (seen.has(id)) continue;
          seen.add(id);
          found.push({ entry: e, intentOnly, file });
        }
      }
      // the marks of DELs begun and not finished, on the records they name (a mark of no record is a leftover: nothing)
      if (found.some((f) => !f.unreadable)) {
        const marked = new Set((await this.exec.listDir(`${this.dir}/cni-attach/deleting`, suffix)).filter((n) => !n.startsWith('.')));
        for (const f of found) {
          const name = `${f.entry.networkName}-${f.entry.containerId}-${f.entry.ifName}`;
          if (f.unreadable || !marked.has(name)) continue;
          const text = await this.exec.readFile(`${this.dir}/cni-attach/deleting/${name}`).catch(() => undefined);
          if (text !== undefined) f.deleting = parseDeleteMark(text);
        }
      }
      return found;
    });
  }

  /**
   * Lock files of this cache whose holder is gone (exec/lock.ts whyStale: a dead pid of this host, or no holder written
   * and older than a moment), as file names under cni-attach/locks with the reason.
   */
  async staleLocks(): Promise<{ file: string; why: string }[]> {
    return this.fs('reading locks', async () => {
      const out: { file: string; why: string }[] = [];
      for (const name of await this.exec.listDir(`${this.dir}/cni-attach/locks`)) {
        if (!name.endsWith('.lock')) continue;
        const why = await whyStale(this.exec, `${this.dir}/cni-attach/locks/${name}`, this.owner);
        if (why) out.push({ file: `cni-attach/locks/${name}`, why });
      }
      return out;
    });
  }

  /**
   * Remove the temp files that writers killed between write and rename left behind (they hold a config and a result),
   * those whose name starts with `.${prefix}` when given. Only where the executor can tell whether their writer still
   * runs (this host); a temp file of a live writer is left alone. Returns what was removed.
   */
  async sweepTemp(prefix = ''): Promise<string[]> {
    const processes = this.exec.identity;
    if (!processes) return [];
    return this.fs('sweeping temp files', async () => {
      const removed: string[] = [];
      for (const sub of ['results', 'cni-attach/intents', 'cni-attach/deleting']) {
        for (const name of await this.exec.listDir(`${this.dir}/${sub}`)) {
          const m = TEMP_RE.exec(name);
          if (!m || !name.startsWith(`.${prefix}`) || (await processes.startOf(Number(m[1]))) !== undefined) continue;
          await this.exec.removeFile(`${this.dir}/${sub}/${name}`);
          removed.push(`${sub}/${name}`);
        }
      }
      return removed;
    });
  }

  private knownVersions: Promise<KnownVersions> | undefined;

  /**
   * Where VERSION answers are kept between runs, so that an attach runs one process fewer per plugin; undefined
   * where the executor cannot identify a file cheaply (a node reached through docker exec or an agent pod). Only a
   * cache: a file that cannot be read or written means asking the plugins, never a failed command.
   */
  versionStore(): VersionStore | undefined {
    const identity = this.exec.identity;
    if (!identity) return undefined;
    const fileId = (path: string) => identity.fileId(path);
    const file = versionsPath(this.dir);
    let learnt = false;
    const load = () =>
      (this.knownVersions ??= this.fs('reading plugin versions', () => this.exec.readFile(file)).then(parseVersions, (): KnownVersions => ({})));
    return {
      lookup: async (path) => {
        const [id, known] = await Promise.all([fileId(path), load()]);
        const e = known[path];
        return { ...(id !== undefined ? { id } : {}), ...(id !== undefined && e?.id === id ? { versions: [...e.supportedVersions] } : {}) };
      },
      remember: async (path, id, versions) => {
        const known = await load();
        known[path] = { id, supportedVersions: versions };
        learnt = true;
      },
      save: async () => {
        if (!learnt) return;
        learnt = false;
        const plugins = await load();
        try {
          await this.fs('recording plugin versions', () => this.exec.writeFileAtomic(file, JSON.stringify({ kind: VERSIONS_KIND, plugins }), 0o600));
        } catch {
          /* only a cache */
        }
      },
    };
  }

  /**
   * Break a stale lock (as staleLocks() lists it) the way tryLock does, then release it; true when it is gone. A lock
   * whose holder lives (or that is being written) is left alone.
   */
  async clearStaleLock(file: string): Promise<boolean> {
    if (!/^cni-attach\/locks\/[^/]+\.lock$/.test(file)) throw new Error(`not a lock file: ${file}`);
    const lock = await this.fs('breaking a stale lock', () => tryLock(this.exec, `${this.dir}/${file}`, this.owner));
    if (!lock) return false;
    await lock.release();
    return true;
  }

  /** The same cache through another executor (the same node without batching). */
  on(exec: Executor): ResultCache {
    return new ResultCache(exec, this.dir, this.owner);
  }

  /** This cache without batching (each step at once): for a read that must see the node as it is now. */
  direct(): ResultCache {
    return isBatching(this.exec) ? this.on(this.exec.direct()) : this;
  }

  /** Send the writes and removals a batching executor queued (exec/batch.ts); nothing to do on others. */
  async flush(): Promise<void> {
    if (isBatching(this.exec)) await this.fs('writing', () => (this.exec as Executor & Batching).flush());
  }

  /**
   * The lock of containerId/ifname, or what holds it (exec/lock.ts Busy). workLimitMs: the plugin time limit, recorded
   * in the lock on a node reached by commands (where the locked work outlives this process: see exec/lock.ts); a lock
   * of this host's cache holds none.
   */
  async lock(containerId: string, ifname: string, workLimitMs?: number): Promise<{ lock: Lock } | { busy: Busy }> {
    const opts = this.exec.elsewhere !== undefined && workLimitMs !== undefined ? { workLimitMs, where: this.exec.elsewhere } : {};
    return this.fs('taking a lock', () => takeLock(this.exec, lockPath(this.dir, containerId, ifname), this.owner, opts));
  }

  /** The lock of network in containerId's sandbox (networkLockPath), or what holds it; with a time limit as lock()'s. */
  async networkLock(network: string, containerId: string, workLimitMs?: number): Promise<{ lock: Lock } | { busy: Busy }> {
    const opts = this.exec.elsewhere !== undefined && workLimitMs !== undefined ? { workLimitMs, where: this.exec.elsewhere } : {};
    return this.fs('taking a lock', () => takeLock(this.exec, networkLockPath(this.dir, network, containerId), this.owner, opts));
  }

  /**
   * Whether cni-gc runs the plugins' GC over this cache, so that its GC locks matter: this host's cache (cni-gc runs
   * CNI GC for this host's cache only; a node reached by commands has none, and its attaches read no GC lock).
   */
  get gcHere(): boolean {
    return this.exec.elsewhere === undefined && !isBatching(this.exec);
  }

  /** The name of the host this CLI runs on, as its lock files write it: what a holder's host is told against ("this host"). */
  get host(): string {
    return this.owner.host;
  }

  /** cni-gc's GC lock of network (gcLockPath), or what holds it (exec/lock.ts Busy). Of this host: no time limit. */
  async gcLock(network: string): Promise<{ lock: Lock } | { busy: Busy }> {
    return this.fs('taking the GC lock', () => takeLock(this.exec, gcLockPath(this.dir, network), this.owner));
  }

  /** What holds the GC lock of network now (a stale one is broken first: exec/lock.ts holderNow), or undefined when it is free. */
  async gcHolder(network: string): Promise<Busy | undefined> {
    return this.fs('reading the GC lock', () => holderNow(this.exec, gcLockPath(this.dir, network), this.owner));
  }

  /** What holds the GC lock of network now, read only (a stale one is not broken: a dry run changes nothing). */
  async gcHeld(network: string): Promise<Busy | undefined> {
    return this.fs('reading the GC lock', () => heldNow(this.exec, gcLockPath(this.dir, network), this.owner));
  }

  /**
   * The attachment locks of this cache held now (exec/lock.ts heldNow: a live holder, one of another host, one being
   * written; a stale one is neither listed nor broken), as their file name under cni-attach/locks (lockPath's
   * `<containerId>-<ifname>.lock`, which alone does not tell the two apart) and their holder; the GC locks and the
   * network locks (networkLockPath: their attach holds an interface lock as well) are not among them. For cni-gc, which waits until no ADD or DEL of a network runs (cni/gc.ts).
   */
  async heldLocks(): Promise<{ file: string; holder: Busy }[]> {
    return this.fs('reading locks', async () => {
      const out: { file: string; holder: Busy }[] = [];
      for (const name of await this.exec.listDir(`${this.dir}/cni-attach/locks`)) {
        if (!name.endsWith('.lock') || name.startsWith('gc:') || name.startsWith('net:')) continue;
        const holder = await heldNow(this.exec, `${this.dir}/cni-attach/locks/${name}`, this.owner);
        if (holder) out.push({ file: name, holder });
      }
      return out;
    });
  }

  /** What holds the lock of containerId/ifname now, or undefined when nothing does (free, or stale). */
  async lockHeld(containerId: string, ifname: string): Promise<Busy | undefined> {
    return this.fs('reading a lock', () => heldNow(this.exec, lockPath(this.dir, containerId, ifname), this.owner));
  }
}

export function keyOf(e: CacheEntry): AttachmentKey {
  return { network: e.networkName, containerId: e.containerId, ifname: e.ifName };
}
