/**
 * Attachment records in the cluster: what cni-attach attached on each node, kept where any machine with a kubeconfig
 * can read it, so that `cni-list -A` and `cni-gc` work from anywhere without visiting every node.
 *
 * One ConfigMap per node in the agent namespace (kube-system by default), named `cni-attach-node-<node>` and labelled
 * `app.kubernetes.io/managed-by=cni-attach`; one data key per attachment, `<containerId>.<hex of ifname>` (ConfigMap
 * keys allow only [-._a-zA-Z0-9]), whose value is a JSON {@link AttachmentRecord}. Written ahead of the first plugin
 * ADD, marked attaching, under a key of its own (`attaching.<pod uid>.<hex of ifname>.<8 hex>`: the sandbox id is not
 * known yet when that write starts, and an attempt's own key is one no other attempt removes), then replaced by the
 * attachment's key after a successful ADD (one patch: the new key set, the attempt's key null), removed when nothing
 * was left (refused, rolled back), kept marked interrupted when something may have been. Removed after DEL. Each write
 * is a JSON merge patch (RFC 7386) of its keys: the API server applies a patch to the
 * object as it is at that moment, so concurrent patches of other keys (other attaches on the node) are not lost and no
 * resourceVersion precondition is needed. The node's CNI cache stays the truth about what is attached; a record is
 * only the index that says which nodes to visit.
 */
import { createHash, randomBytes } from 'node:crypto';
import { NotFoundError } from '../errors.js';
import { summarizeResult } from '../cni/result.js';
import { AlreadyExistsError, type KubeApi } from './kube.js';

export const RECORD_LABEL = 'app.kubernetes.io/managed-by';
export const RECORD_LABEL_VALUE = 'cni-attach';
const RECORD_KIND = 'cniAttachRecordV1';

/** One attachment as recorded in the cluster. */
export interface AttachmentRecord {
  namespace: string;
  pod: string;
  uid: string;
  node: string;
  ifname: string;
  network: string;
  /** The sandbox id (CNI_CONTAINERID). */
  containerId: string;
  /** RFC 3339 time of the attach. */
  since: string;
  /** The addresses of the result (CIDR notation), for cni-list. */
  addresses?: string[];
  /**
   * The attach did not finish: it failed and so did its rollback, so the node keeps its intent (and maybe an
   * interface and a lease). cni-list -A shows it as interrupted with the command that clears it; cni-gc frees it
   * once its pod is gone; cni-detach (--force) forgets it with the rest.
   */
  interrupted?: boolean;
  /**
   * Written before the first plugin ADD (the write-ahead): the attach is in progress, or its command died (SIGKILL, a
   * laptop gone) — then the node may keep its intent, an interface and a lease. containerId is '' when the write
   * began before the sandbox look-up. Absent (old records): attached, or interrupted.
   */
  attaching?: boolean;
  /**
   * On a write-ahead record (attaching): the command that wrote it, as its locks name it (exec/lock.ts: host name, pid,
   * start time): on that host — and only there — whether it still runs can be told (cni-list: attaching while it runs,
   * interrupted once it is gone without settling the record). Absent on records of older versions.
   */
  by?: RecordedCommand;
  /**
   * For an interrupted record: why the attach did not finish, when it is not that its rollback failed (e.g. the
   * connection to the node was lost during its ADD, which may have run). Words of the tool: no paths, no command lines.
   */
  why?: string;
  /**
   * The attach's own --cni-path, as given (absent: the default, CNI_PATH or /opt/cni/bin:/usr/lib/cni, or a record of
   * an older version): where its node has the plugins its DEL needs. cni-list carries it into the commands it prints.
   */
  cniPath?: string;
  /** The attach's --cache-dir when not /var/lib/cni: where its node keeps its result and intent (DEL reads them). */
  cacheDir?: string;
  /** The record's data key, as listRecords read it (not part of the stored value). */
  key?: string;
}

/** A command of this tool on some host: its host name (os.hostname()), pid and start time (/proc/PID/stat field 22). */
export interface RecordedCommand {
  host: string;
  pid: number;
  start?: string;
}

/** The ConfigMap name of a node's records: a DNS subdomain of at most 253 characters (long node names are hashed). */
export function recordName(node: string): string {
  const name = `cni-attach-node-${node}`;
  return name.length <= 253 ? name : `cni-attach-node-${createHash('sha256').update(node).digest('hex').slice(0, 40)}`;
}

/** The data key of an attachment: `<containerId>.<hex of ifname>` (container ids hold only [a-zA-Z0-9_.-]). */
export function recordKey(containerId: string, ifname: string): string {
  return `${containerId}.${Buffer.from(ifname, 'utf8').toString('hex')}`;
}

function parseRecord(text: string): AttachmentRecord | undefined {
  try {
    const v = JSON.parse(text) as Partial<AttachmentRecord> & { kind?: string };
    if (v.kind !== RECORD_KIND) return undefined;
    for (const f of ['namespace', 'pod', 'uid', 'node', 'ifname', 'network', 'containerId', 'since'] as const) {
      if (typeof v[f] !== 'string') return undefined;
    }
    const { kind: _kind, ...rec } = v;
    // optional strings of a newer writer: one of another type is dropped, not carried into a printed command
    for (const f of ['cniPath', 'cacheDir'] as const) if (rec[f] !== undefined && (typeof rec[f] !== 'string' || rec[f] === '')) delete rec[f];
    const by = rec.by as Partial<RecordedCommand> | undefined;
    if (by !== undefined && (typeof by !== 'object' || by === null || typeof by.host !== 'string' || !Number.isSafeInteger(by.pid) || by.pid! <= 0 || (by.start !== undefined && typeof by.start !== 'string'))) delete rec.by;
    return rec as AttachmentRecord;
  } catch {
    return undefined;
  }
}

/**
 * Record an attachment on its node's ConfigMap: a merge patch of its key; when the ConfigMap is not there yet, create
 * it (and patch after all when another command created it first). Errors: the API's (403 without RBAC: exit 4).
 */
export async function addRecord(api: KubeApi, namespace: string, rec: AttachmentRecord, replaces?: string): Promise<void> {
  await putRecord(api, namespace, rec, recordKey(rec.containerId, rec.ifname), replaces);
}

/**
 * Set key to rec on its node's ConfigMap, and `replaces` (another key, the attempt's write-ahead) to null in the same
 * patch; created when the ConfigMap is not there (then nothing is there to replace).
 */
async function putRecord(api: KubeApi, namespace: string, rec: AttachmentRecord, k: string, replaces?: string): Promise<void> {
  const name = recordName(rec.node);
  const { key: _key, ...stored } = rec;
  const value = JSON.stringify({ kind: RECORD_KIND, ...stored });
  const patch = { [k]: value, ...(replaces !== undefined && replaces !== k ? { [replaces]: null } : {}) };
  try {
    await api.patchConfigMapData(namespace, name, patch);
    return;
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
  try {
    await api.createConfigMap({ name, namespace, labels: { [RECORD_LABEL]: RECORD_LABEL_VALUE }, data: { [k]: value } });
  } catch (e) {
    if (!(e instanceof AlreadyExistsError)) throw e;
    await api.patchConfigMapData(namespace, name, patch);
  }
}

/**
 * Forget attachments of a node (a merge patch setting their keys to null: a record's own key when listRecords gave
 * it, else the attachment's); a node without records is fine.
 */
export async function removeRecords(api: KubeApi, namespace: string, node: string, keys: { containerId: string; ifname: string; key?: string }[]): Promise<void> {
  if (keys.length === 0) return;
  const patch: Record<string, null> = {};
  for (const k of keys) patch[k.key ?? recordKey(k.containerId, k.ifname)] = null;
  try {
    await api.patchConfigMapData(namespace, recordName(node), patch);
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
}

/** Every attachment recorded in the cluster (one list request); entries that do not parse are skipped. */
export async function listRecords(api: KubeApi, namespace: string): Promise<AttachmentRecord[]> {
  const maps = await api.listConfigMaps(namespace, `${RECORD_LABEL}=${RECORD_LABEL_VALUE}`);
  const out: AttachmentRecord[] = [];
  for (const cm of maps) {
    for (const [key, text] of Object.entries(cm.data)) {
      const r = parseRecord(text);
      if (r) out.push({ ...r, key });
    }
  }
  return out;
}

/** Whether the pod a record names is gone: no pod of that namespace/name, or one with another uid. */
export function recordedPodGone(rec: AttachmentRecord, pods: Map<string, { uid?: string }>): boolean {
  const p = pods.get(`${rec.namespace}/${rec.pod}`);
  return !p || p.uid !== rec.uid;
}

/**
 * The write-ahead of an attach (rec.attaching): written under a key of this attempt's own,
 * `attaching.<uid>.<hex of ifname>.<8 random hex>`, which it returns; the attach then replaces it (addRecord's
 * `replaces`) or removes it (removeRecordKeys). Errors: the API's (403 without RBAC).
 */
export async function addAttachingRecord(api: KubeApi, namespace: string, rec: AttachmentRecord): Promise<string> {
  const uid = rec.uid.replace(/[^-._a-zA-Z0-9]/g, '_');
  const k = `attaching.${uid}.${Buffer.from(rec.ifname, 'utf8').toString('hex')}.${randomBytes(4).toString('hex')}`;
  await putRecord(api, namespace, { ...rec, attaching: true }, k);
  return k;
}

/** Records grouped by their node, in the order met (each node's records are one ConfigMap: one patch per node). */
export function recordsByNode(recs: AttachmentRecord[]): Map<string, AttachmentRecord[]> {
  const out = new Map<string, AttachmentRecord[]>();
  for (const r of recs) out.set(r.node, [...(out.get(r.node) ?? []), r]);
  return out;
}

/** Remove records of a node by their keys (one merge patch); a node without records is fine. */
export async function removeRecordKeys(api: KubeApi, namespace: string, node: string, keys: string[]): Promise<void> {
  await removeRecords(api, namespace, node, keys.map((key) => ({ containerId: '', ifname: '', key })));
}

/** Who and what an attachment is, as a record names it (the rest of AttachmentRecord comes from its outcome). */
export type RecordedAttachment = Pick<AttachmentRecord, 'namespace' | 'pod' | 'uid' | 'node' | 'ifname' | 'network' | 'containerId' | 'cniPath' | 'cacheDir'>;

/**
 * What a DEL of an attachment needs to find what its ADD used on its node, from the attach's flags: its --cni-path
 * when given, its --cache-dir when not the default /var/lib/cni (trailing slashes dropped). Fields absent otherwise.
 */
export function delPathsOf(flags: { cniPath?: string; cacheDir?: string }): Pick<AttachmentRecord, 'cniPath' | 'cacheDir'> {
  const cacheDir = flags.cacheDir?.replace(/(.)\/+$/, '$1');
  return { ...(flags.cniPath !== undefined ? { cniPath: flags.cniPath } : {}), ...(cacheDir !== undefined && cacheDir !== '/var/lib/cni' ? { cacheDir } : {}) };
}

/**
 * The record of an attachment as cni-attach writes it: after its ADD (`result`: the chain's result, its addresses in
 * CIDR notation; one that is not a valid CNI result gives none), or after an ADD whose rollback failed too
 * (`interrupted`: no addresses). `since`: `now` in RFC 3339 to the second. Written by attach (cli/attach.ts), and by
 * cni-gc for an attachment its node holds without a record (made before records existed, or whose record could not
 * be written): then `since` is when gc recorded it, not when it was attached.
 */
export function attachmentRecord(at: RecordedAttachment, outcome: { result: unknown } | { interrupted: true }, now = new Date()): AttachmentRecord {
  const since = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  if ('interrupted' in outcome) return { ...at, since, addresses: [], interrupted: true };
  let addresses: string[] = [];
  try {
    addresses = summarizeResult(outcome.result).ips.map((ip) => ip.address);
  } catch {
    /* not a result this tool can read: recorded without addresses */
  }
  return { ...at, since, addresses };
}

/** What a node's CNI cache holds of one attachment, for reconcileRecords. */
export interface HeldAttachment {
  containerId: string;
  ifname: string;
  /** Set when its pod is alive (same uid): the record it should have (attachmentRecord). */
  record?: AttachmentRecord;
}

/**
 * How the records of `node` differ from what its cache holds (cni-gc; the cache is the truth, a record only its
 * index): `add`, the records of the attachments of live pods it holds that no record (of any node) names; `remove`,
 * the records of that node whose attachment it holds nothing of (no result, no intent) and whose pod is alive
 * (`podGone`: the records of gone pods are freed on their node by gc's records pass, which forgets them there). Keys
 * compared as recordKey (container id and ifname). A write-ahead record (attaching) of a live pod is neither removed
 * (its attach may be running: the record comes before the node's intent) nor doubled: what the node holds of that pod
 * and ifname is its attachment, already named. Pure.
 */
export function reconcileRecords(
  node: string,
  held: HeldAttachment[],
  recorded: AttachmentRecord[],
  podGone: (r: AttachmentRecord) => boolean,
): { add: AttachmentRecord[]; remove: AttachmentRecord[] } {
  const mine = recorded.filter((r) => r.node === node);
  // recorded anywhere: a record under another name of this node (its pod's spec.nodeName) is its record
  const recordedKeys = new Set(recorded.map((r) => recordKey(r.containerId, r.ifname)));
  const heldKeys = new Set(held.map((h) => recordKey(h.containerId, h.ifname)));
  const attaching = new Set(recorded.filter((r) => r.attaching).map((r) => `${r.uid}\0${r.ifname}`));
  const add: AttachmentRecord[] = [];
  for (const h of held) {
    const k = recordKey(h.containerId, h.ifname);
    if (!h.record || recordedKeys.has(k) || attaching.has(`${h.record.uid}\0${h.ifname}`)) continue;
    recordedKeys.add(k); // one record per key (two networks on one ifname: the first)
    add.push(h.record);
  }
  const remove = mine.filter((r) => !r.attaching && !podGone(r) && !heldKeys.has(recordKey(r.containerId, r.ifname)));
  return { add, remove };
}
