/**
 * Attachment records in the cluster: what cni-attach attached on each node, kept where any machine with a kubeconfig
 * can read it, so that `cni-list -A` and `cni-gc` work from anywhere without visiting every node.
 *
 * One ConfigMap per node in the agent namespace (kube-system by default), named `cni-attach-node-<node>` and labelled
 * `app.kubernetes.io/managed-by=cni-attach`; one data key per attachment, `<containerId>.<hex of ifname>` (ConfigMap
 * keys allow only [-._a-zA-Z0-9]), whose value is a JSON {@link AttachmentRecord}. Written after a successful ADD,
 * removed after DEL, each as a JSON merge patch (RFC 7386) of that one key: the API server applies a patch to the
 * object as it is at that moment, so concurrent patches of other keys (other attaches on the node) are not lost and no
 * resourceVersion precondition is needed. The node's CNI cache stays the truth about what is attached; a record is
 * only the index that says which nodes to visit.
 */
import { createHash } from 'node:crypto';
import { NotFoundError } from '../errors.js';
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
    return rec as AttachmentRecord;
  } catch {
    return undefined;
  }
}

/**
 * Record an attachment on its node's ConfigMap: a merge patch of its key; when the ConfigMap is not there yet, create
 * it (and patch after all when another command created it first). Errors: the API's (403 without RBAC: exit 4).
 */
export async function addRecord(api: KubeApi, namespace: string, rec: AttachmentRecord): Promise<void> {
  const name = recordName(rec.node);
  const k = recordKey(rec.containerId, rec.ifname);
  const value = JSON.stringify({ kind: RECORD_KIND, ...rec });
  try {
    await api.patchConfigMapData(namespace, name, { [k]: value });
    return;
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
  try {
    await api.createConfigMap({ name, namespace, labels: { [RECORD_LABEL]: RECORD_LABEL_VALUE }, data: { [k]: value } });
  } catch (e) {
    if (!(e instanceof AlreadyExistsError)) throw e;
    await api.patchConfigMapData(namespace, name, { [k]: value });
  }
}

/** Forget attachments of a node (a merge patch setting their keys to null); a node without records is fine. */
export async function removeRecords(api: KubeApi, namespace: string, node: string, keys: { containerId: string; ifname: string }[]): Promise<void> {
  if (keys.length === 0) return;
  const patch: Record<string, null> = {};
  for (const k of keys) patch[recordKey(k.containerId, k.ifname)] = null;
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
    for (const text of Object.values(cm.data)) {
      const r = parseRecord(text);
      if (r) out.push(r);
    }
  }
  return out;
}

/** Whether the pod a record names is gone: no pod of that namespace/name, or one with another uid. */
export function recordedPodGone(rec: AttachmentRecord, pods: Map<string, { uid?: string }>): boolean {
  const p = pods.get(`${rec.namespace}/${rec.pod}`);
  return !p || p.uid !== rec.uid;
}
