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
 *
 * A removal that leaves a node's ConfigMap with no keys deletes it, with the resourceVersion the patch's answer gave
 * as DeleteOptions precondition: an attach on another machine that wrote a key since makes the API server answer 409
 * Conflict, and the ConfigMap stays with that key (a write after the delete finds none and creates it again).
 */
import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { posix } from 'node:path';
import { CniAttachError, NotFoundError } from '../errors.js';
import { summarizeResult } from '../cni/result.js';
import { validateContainerId, validateIfName } from '../cni/env.js';
import { validateNetworkName } from '../cni/conf.js';
import { AlreadyExistsError, listAnew, type KubeApi, type Pod } from './kube.js';
import { thisHost } from '../exec/host.js';
import { commandInParens, type LockOwner } from '../exec/lock.js';
import { isoSecond } from '../duration.js';

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
   * On a write-ahead record: RFC 3339 time, on the clock of the host that wrote it, past which the attach that wrote it
   * cannot still be running it (writeAheadUntil: every plugin run it may start is killed at its time limit on the node,
   * every API request at --request-timeout). Another host cannot see that command: until then it takes the attach as
   * possibly running (cni-detach answers busy), after it as gone (recordedCommand 'past'). Absent on records of older
   * versions and of an attach with no request time limit (--request-timeout 0): then no other host can ever tell.
   */
  until?: string;
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
  /**
   * true: attached with --no-annotate — the pod's k8s.v1.cni.cncf.io/network-status left alone on purpose, so its
   * missing entry is nothing to clear (cni-list gives no advice for it; cni-gc, settling its write-ahead, writes none).
   * Absent: the entry was to be written (or a record of an older version).
   */
  noAnnotate?: boolean;
  /**
   * On a write-ahead record: the name the attach gives its network in the pod's k8s.v1.cni.cncf.io/network-status when
   * that is not `network` (a NetworkAttachmentDefinition's NAMESPACE/NAME, as Multus names it): cni-gc, settling an
   * attach that finished without doing so, writes that entry by it. Absent: `network`.
   */
  status?: string;
  /**
   * A DEL of this attachment that a cni-detach began on its node and did not finish — the user's signal stopped it
   * part-way, or a plugin refused it (`failed`) —, as the mark that DEL left on the node says it (cni/cache.ts
   * DeleteMark): written by that cni-detach as it ended (cli/detach.ts recordStoppedDel), so that cni-list -A shows
   * `detach stopped` from anywhere, and cni-gc visits its node (where the mark, and the lock, decide: the node's cache
   * stays the truth). Absent: attached as recorded (and on every record of a version before it: an older reader
   * ignores the field, and shows the record attached, as before).
   */
  detachStopped?: RecordedDelStop;
  /** The record's data key, as listRecords read it (not part of the stored value). */
  key?: string;
}

/** A command of this tool on some host: its host name (os.hostname()), pid and start time (/proc/PID/stat field 22). */
export interface RecordedCommand {
  host: string;
  pid: number;
  start?: string;
}

/**
 * A DEL that a command began and did not finish, as a record keeps it (AttachmentRecord.detachStopped): the command
 * (`cni-detach`), when its DEL began (RFC 3339: the mark's time), the command itself (its host, pid and start time),
 * and, when its DEL ran to its end and a plugin refused it, the plugin's error (at most 1024 characters).
 */
export interface RecordedDelStop {
  command: 'cni-detach';
  at: string;
  by: RecordedCommand;
  failed?: string;
}

/**
 * Why `v` is not a RecordedDelStop (an object of `command` cni-detach, `at` an RFC 3339 time, `by` a RecordedCommand,
 * `failed` a string of at most 1024 without control characters, and no other field), in words ("its
 * detachStopped.at \"x\" is not an RFC 3339 time"), or undefined when it is one.
 */
export function badRecordedDelStop(v: unknown): string | undefined {
  const d = v as Partial<Record<keyof RecordedDelStop, unknown>> | null;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return `its detachStopped is ${shown(v)}, not an object`;
  if (d.command !== 'cni-detach') return `its detachStopped.command ${shown(d.command)} is not cni-detach`;
  if (typeof d.at !== 'string' || !RFC3339.test(d.at) || Number.isNaN(Date.parse(d.at))) return `its detachStopped.at ${shown(d.at)} is not an RFC 3339 time`;
  const by = badRecordedCommand(d.by);
  if (by) return by.replace(/^its by/, 'its detachStopped.by');
  if (d.failed !== undefined && (typeof d.failed !== 'string' || d.failed.length > WHY_MAX || CONTROL.test(d.failed))) return `its detachStopped.failed is not a plugin's error (a string of at most ${WHY_MAX}, no control characters)`;
  for (const k of Object.keys(d)) if (!['command', 'at', 'by', 'failed'].includes(k)) return `its detachStopped has a field ${shown(k)} it does not know`;
  return undefined;
}

/**
 * Why `by` is not a RecordedCommand (an object of a host name ≤ 253 characters, a pid > 0 and an optional start time ≤
 * 64 characters, no control characters, no other field), in words ("its by.pid \"x\" is not a process id"), or
 * undefined when it is one: a write-ahead record's `by`, and an agent pod's (resolve/agent.ts agentCommand).
 */
export function badRecordedCommand(v: unknown): string | undefined {
  const by = v as Partial<Record<keyof RecordedCommand, unknown>> | null;
  if (typeof by !== 'object' || by === null || Array.isArray(by)) return `its by is ${shown(v)}, not an object`;
  if (typeof by.host !== 'string' || by.host === '' || by.host.length > 253 || CONTROL.test(by.host)) return `its by.host ${shown(by.host)} is not a host name`;
  if (typeof by.pid !== 'number' || !Number.isSafeInteger(by.pid) || by.pid <= 0) return `its by.pid ${shown(by.pid)} is not a process id`;
  if (by.start !== undefined && (typeof by.start !== 'string' || by.start.length > 64 || CONTROL.test(by.start))) return `its by.start ${shown(by.start)} is not a process start time`;
  for (const k of Object.keys(by)) if (k !== 'host' && k !== 'pid' && k !== 'start') return `its by has a field ${shown(k)} it does not know`;
  return undefined;
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

/** A record's data key that is not one this tool writes, or a value that fails a rule: why, for cni-list and cni-gc. */
export interface InvalidRecord {
  /** The ConfigMap (in the agent namespace) that holds it, and its data key. */
  configMap: string;
  key: string;
  /** The key as a JSON string safe to print (safeJson): what a printed command that removes it names. */
  keyJson: string;
  /** The key as messages show it: as it is when it is a ConfigMap key (as the API server allows), else keyJson. */
  shownKey: string;
  /** Why it is not used, in a few words; a value it names is quoted and cut short (shown()). */
  why: string;
  /** Its node, when that field is valid and its ConfigMap is that node's: for cni-list's NODE column. */
  node?: string;
  /** Its namespace and pod name as written, when they are strings: for cni-list's filters only, never printed. */
  namespace?: string;
  pod?: string;
}

/**
 * A value of a record as a message may show it: JSON-quoted (control characters escaped), the characters JSON leaves
 * as they are but a terminal or a reader may take for something else (C1 controls, Unicode format characters such as
 * the bidirectional overrides) escaped too, and cut to `max` characters with "…".
 */
export function shown(v: unknown, max = 40): string {
  const text = safeJson(v);
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** v as JSON with every control and format character (and U+2028/9) as a \uXXXX escape: valid JSON, safe to print. */
export function safeJson(v: unknown): string {
  return (JSON.stringify(v) ?? String(v)).replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Unicode control and format characters (Cc, Cf): none is in any field this tool writes. */
const CONTROL = /[\p{Cc}\p{Cf}]/u;
/** The fields of a stored record (AttachmentRecord without its key). */
const RECORD_FIELDS = ['namespace', 'pod', 'uid', 'node', 'ifname', 'network', 'containerId', 'since', 'addresses', 'interrupted', 'attaching', 'why', 'cniPath', 'cacheDir', 'noAnnotate', 'by', 'until', 'status', 'detachStopped'] as const satisfies readonly Exclude<keyof AttachmentRecord, 'key'>[];
/** apimachinery IsDNS1123Label: namespaces (ValidateNamespaceName). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** apimachinery IsDNS1123Subdomain: pods (ValidatePodName) and nodes (ValidateNodeName). */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** apimachinery IsConfigMapKey: what the API server lets a ConfigMap's data key be. */
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;
/** RFC 3339 date-time (section 5.6), as Kubernetes and this tool write times. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
/** Linux PATH_MAX (4096, the NUL included): the longest path a system call takes. */
const PATH_MAX = 4096;
/** Linux MAX_ARG_STRLEN (32 pages of 4 KiB): the longest environment string a plugin can be given (CNI_PATH=…). */
const MAX_ARG_STRLEN = 32 * 4096;
/** Linux NAME_MAX: the longest file name, and so the longest libcni cache file name `<network>-<containerId>-<ifname>`. */
const NAME_MAX = 255;
/** The longest `why` this tool writes is a sentence; a record's reason is shown in cni-list's REASON. */
const WHY_MAX = 1024;
/** A uid is any string to the API; the API server makes a UUID (36 characters). */
const UID = /^[-._a-zA-Z0-9]{0,128}$/;

const is = (ok: () => unknown): boolean => {
  try {
    ok();
    return true;
  } catch {
    return false;
  }
};

/**
 * Why a path a record names (`what`: its --cni-path entry or its --cache-dir) cannot be one: not absolute, not
 * normalized (a `.` or `..` component, `//`, a trailing `/`: posix.normalize gives another), longer than PATH_MAX,
 * or holding a control or format character (NUL and newline among them). Undefined when fine. The attach writes
 * them normalized (delPathsOf).
 */
export function badRecordedPath(path: string, what: string): string | undefined {
  if (CONTROL.test(path)) return `${what} ${shown(path)} holds a control character`;
  if (!path.startsWith('/')) return `${what} ${shown(path)} is not an absolute path`;
  if (Buffer.byteLength(path) >= PATH_MAX) return `${what} is longer than PATH_MAX (${PATH_MAX} bytes)`;
  if (normalPath(path) !== path) return `${what} ${shown(path)} is not a normalized path (${shown(normalPath(path))})`;
  return undefined;
}

/** An absolute path without `.`, `..`, `//` or a trailing `/` (posix.normalize, "/" stays "/"). */
function normalPath(path: string): string {
  const n = posix.normalize(path);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/**
 * The record stored under `key` of ConfigMap `configMap`, checked field by field, or why it cannot be used. Each
 * rule is the one its field has where it comes from, so that a record the tool wrote always passes and one written by
 * anyone else who may write ConfigMaps in the agent namespace (a much smaller right than running plugins on a node)
 * is used only when it could have been the tool's:
 *  - the key: a ConfigMap key (apimachinery IsConfigMapKey), the attachment's own (recordKey), or an attach's
 *    write-ahead key (`attaching.…`) for a record marked attaching;
 *  - kind cniAttachRecordV1; namespace a DNS label, pod and node DNS subdomains (Kubernetes' rules for those names:
 *    ValidateNamespaceName, ValidatePodName, ValidateNodeName), the node the ConfigMap's (recordName); uid at most
 *    128 of [-._a-zA-Z0-9] (the API server's are UUIDs);
 *  - ifname as the kernel and CNI take it (cni/env.ts validateIfName, as for --ifname); network and containerId by
 *    CNI's rule (libcni ValidateNetworkName; the spec's container id), containerId empty only while attaching, and
 *    their cache file name `<network>-<containerId>-<ifname>` no longer than NAME_MAX;
 *  - since (and until, on a write-ahead record only) RFC 3339; addresses CIDRs; attaching and interrupted booleans, not both;
 *    noAnnotate a boolean; why a string without control
 *    characters of at most 1024; detachStopped (never with attaching or interrupted) a RecordedDelStop (badRecordedDelStop);
 *  - cniPath: absolute normalized directories joined by ':' (badRecordedPath), at most MAX_ARG_STRLEN in all (what a
 *    plugin's CNI_PATH can hold); cacheDir: one absolute normalized path. Empty is absent, as attach writes it.
 * No string holds a control or format character (Unicode Cc, Cf: they would reach a terminal through cni-list).
 * Fields it does not know are ignored. Pure.
 */
export function validateRecord(configMap: string, key: string, text: string): { record: AttachmentRecord } | { invalid: InvalidRecord } {
  const bad = (why: string, v?: Record<string, unknown>): { invalid: InvalidRecord } => ({
    invalid: {
      configMap, key, keyJson: safeJson(key), shownKey: CONFIGMAP_KEY.test(key) ? key : safeJson(key), why,
      ...(typeof v?.namespace === 'string' ? { namespace: v.namespace } : {}),
      ...(typeof v?.pod === 'string' ? { pod: v.pod } : {}),
      ...(typeof v?.node === 'string' && DNS_SUBDOMAIN.test(v.node) && v.node.length <= 253 && recordName(v.node) === configMap ? { node: v.node } : {}),
    },
  });
  if (!CONFIGMAP_KEY.test(key) || key.length > 253) return bad(`its key ${shown(key)} is not a ConfigMap key`);
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return bad('its value is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('its value is not a JSON object');
  const why = checkFields(v, configMap, key);
  if (why) return bad(why, v);
  // the fields it knows, and no others: nothing a reader does not check is carried on
  const rec: Record<string, unknown> = {};
  for (const f of RECORD_FIELDS) if (v[f] !== undefined && v[f] !== '') rec[f] = v[f];
  for (const f of ['containerId', 'uid'] as const) rec[f] = v[f];
  return { record: rec as unknown as AttachmentRecord };
}

/** validateRecord's rules for the fields of a parsed value: the first that fails, or undefined. */
function checkFields(v: Record<string, unknown>, configMap: string, key: string): string | undefined {
  if (v.kind !== RECORD_KIND) return `its kind is ${shown(v.kind)}, not ${RECORD_KIND}`;
  for (const f of ['namespace', 'pod', 'uid', 'node', 'ifname', 'network', 'containerId', 'since'] as const) {
    if (typeof v[f] !== 'string') return `its ${f} is ${v[f] === undefined ? 'missing' : `${shown(v[f])}, not a string`}`;
  }
  for (const f of ['why', 'cniPath', 'cacheDir', 'until', 'status'] as const) {
    if (v[f] !== undefined && typeof v[f] !== 'string') return `its ${f} is ${shown(v[f])}, not a string`;
  }
  for (const [f, x] of Object.entries(v)) if (typeof x === 'string' && CONTROL.test(x)) return `its ${f} ${shown(x)} holds a control character`;
  const s = v as Record<string, string>;
  if (s.namespace!.length > 63 || !DNS_LABEL.test(s.namespace!)) return `namespace ${shown(s.namespace)} is not a DNS label (RFC 1123: at most 63 of a-z, 0-9 and '-', a letter or digit at each end)`;
  if (s.pod!.length > 253 || !DNS_SUBDOMAIN.test(s.pod!)) return `pod name ${shown(s.pod)} is not a DNS subdomain (RFC 1123: at most 253 of a-z, 0-9, '-' and '.')`;
  if (s.node!.length > 253 || !DNS_SUBDOMAIN.test(s.node!)) return `node name ${shown(s.node)} is not a DNS subdomain (RFC 1123: at most 253 of a-z, 0-9, '-' and '.')`;
  if (recordName(s.node!) !== configMap) return `node ${shown(s.node)} is not the node of ConfigMap ${configMap}`;
  if (!UID.test(s.uid!)) return `uid ${shown(s.uid)} is not a Kubernetes uid (at most 128 of letters, digits, '-', '_', '.')`;
  if (!is(() => validateIfName(s.ifname!))) return `interface name ${shown(s.ifname)} is not one the kernel and CNI take (1-15 bytes; not . or ..; no '/', ':', '%' or whitespace)`;
  if (!is(() => validateNetworkName(s.network, 'record'))) return `network name ${shown(s.network)} breaks CNI's rule (letters, digits, '_', '.', '-', a letter or digit first)`;
  for (const f of ['attaching', 'interrupted', 'noAnnotate'] as const) if (v[f] !== undefined && typeof v[f] !== 'boolean') return `its ${f} is ${shown(v[f])}, not true or false`;
  if (v.attaching === true && v.interrupted === true) return 'it is marked both attaching and interrupted';
  if (v.detachStopped !== undefined) {
    // a detach's of an attachment: not of an attach in progress, nor of one that did not finish
    if (v.attaching === true || v.interrupted === true) return `it is marked ${v.attaching === true ? 'attaching' : 'interrupted'} and detachStopped`;
    const why = badRecordedDelStop(v.detachStopped);
    if (why) return why;
  }
  if (s.containerId === '' ? v.attaching !== true : !is(() => validateContainerId(s.containerId!))) {
    return s.containerId === '' ? 'its container id is empty, and it is not an attach in progress' : `container id ${shown(s.containerId)} breaks CNI's rule (letters, digits, '_', '.', '-', a letter or digit first)`;
  }
  if (Buffer.byteLength(`${s.network}-${s.containerId}-${s.ifname}`) > NAME_MAX) return `its network name and container id are too long for a cache file name (NAME_MAX, ${NAME_MAX} bytes)`;
  if (v.attaching === true ? !key.startsWith('attaching.') : key !== recordKey(s.containerId!, s.ifname!)) {
    return v.attaching === true ? `its key ${shown(key)} is not an attach's write-ahead key (attaching.…)` : `its key ${shown(key)} is not that of its container id and interface (${shown(recordKey(s.containerId!, s.ifname!))})`;
  }
  if (s.status !== undefined) {
    const [ns, name, more] = s.status.split('/');
    if (more !== undefined || !ns || !name || ns.length > 63 || !DNS_LABEL.test(ns) || name.length > 253 || !DNS_SUBDOMAIN.test(name)) return `its network-status name ${shown(s.status)} is not a NetworkAttachmentDefinition's NAMESPACE/NAME`;
  }
  if (!RFC3339.test(s.since!) || Number.isNaN(Date.parse(s.since!))) return `since ${shown(s.since)} is not an RFC 3339 time`;
  if (s.until !== undefined) {
    if (v.attaching !== true) return 'it has an until, and it is not an attach in progress';
    if (!RFC3339.test(s.until) || Number.isNaN(Date.parse(s.until))) return `until ${shown(s.until)} is not an RFC 3339 time`;
  }
  if (v.addresses !== undefined) {
    if (!Array.isArray(v.addresses)) return `its addresses are ${shown(v.addresses)}, not a list`;
    const a = (v.addresses as unknown[]).find((x) => !isCidr(x));
    if (a !== undefined) return `address ${shown(a)} is not an address/prefix (CIDR)`;
  }
  if (s.why !== undefined && s.why.length > WHY_MAX) return `its why is longer than ${WHY_MAX} characters`;
  if (v.by !== undefined) {
    // the command of a write-ahead record (its host, pid and start, as the lock files name a holder: exec/lock.ts)
    const why = badRecordedCommand(v.by);
    if (why) return why;
  }
  if (s.cniPath) {
    if (Buffer.byteLength(`CNI_PATH=${s.cniPath}`) >= MAX_ARG_STRLEN) return `its cniPath is longer than a plugin's CNI_PATH may be (MAX_ARG_STRLEN, ${MAX_ARG_STRLEN} bytes)`;
    for (const d of s.cniPath.split(':')) {
      const why = badRecordedPath(d, 'cniPath entry');
      if (why) return why;
    }
  }
  if (s.cacheDir) return badRecordedPath(s.cacheDir, 'cacheDir');
  return undefined;
}

/** An address in CIDR notation (an IPv4 or IPv6 address, '/', a prefix length it can have). */
function isCidr(x: unknown): boolean {
  if (typeof x !== 'string') return false;
  const m = /^([^/]+)\/(\d{1,3})$/.exec(x);
  const family = m ? isIP(m[1]!) : 0;
  return family !== 0 && Number(m![2]) <= (family === 4 ? 32 : 128);
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
  // patch; none there: create; created by another command meanwhile: patch again — which a removal on another machine
  // that emptied and deleted it in between can make a NotFound again (removeRecords): so a few rounds, not one
  for (let round = 1; ; round++) {
    try {
      await api.patchConfigMapData(namespace, name, patch);
      return;
    } catch (e) {
      if (!(e instanceof NotFoundError) || round === PUT_ROUNDS) throw e;
    }
    try {
      await api.createConfigMap({ name, namespace, labels: { [RECORD_LABEL]: RECORD_LABEL_VALUE }, data: { [k]: value } });
      return;
    } catch (e) {
      if (!(e instanceof AlreadyExistsError)) throw e;
    }
  }
}

/** How many patch-or-create rounds a record write makes before its NotFound is the error (putRecord). */
const PUT_ROUNDS = 3;

/**
 * Forget attachments of a node (a merge patch setting their keys to null: a record's own key when listRecords gave
 * it, else the attachment's); a node without records is fine. When that leaves the node's ConfigMap with no keys it is
 * deleted, on the precondition that it is still the version the patch left (an attach elsewhere that wrote a key since:
 * 409 Conflict, it stays). The delete is tidying only: its failure (a 403 without RBAC for delete, the API gone) leaves
 * an empty ConfigMap, harmless, and is not the removal's failure. Resolves with false when the node has no ConfigMap in
 * `namespace` (nothing was there to remove: the PATCH answered 404), else true (the keys are not there now; whether
 * each was before, a merge patch does not tell). Errors: the API's (403 without RBAC for patch).
 */
export async function removeRecords(api: KubeApi, namespace: string, node: string, keys: { containerId: string; ifname: string; key?: string }[]): Promise<boolean> {
  if (keys.length === 0) return false;
  const patch: Record<string, null> = {};
  for (const k of keys) patch[k.key ?? recordKey(k.containerId, k.ifname)] = null;
  const name = recordName(node);
  let left;
  try {
    left = await api.patchConfigMapData(namespace, name, patch);
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    return false;
  }
  if (Object.keys(left.data).length > 0 || left.binaryKeys?.length || !left.resourceVersion) return true;
  await api.deleteConfigMap(namespace, name, left.resourceVersion).catch((e: unknown) => {
    if (!(e instanceof CniAttachError)) throw e;
  });
  return true;
}

/**
 * Delete the record ConfigMaps (this tool's label, in `namespace`) that hold no key: what a removal left when its
 * tidying delete (removeRecords) did not happen — the command was killed between its patch and the delete, or the
 * delete was refused. Each on the precondition that it is still the version listed (a key written since: 409, it
 * stays). Tidying only: a failed delete is left for a later run. Returns the names deleted. One list request.
 */
export async function removeEmptyRecordMaps(api: KubeApi, namespace: string): Promise<string[]> {
  const out: string[] = [];
  for (const cm of await api.listConfigMaps(namespace, `${RECORD_LABEL}=${RECORD_LABEL_VALUE}`)) {
    if (Object.keys(cm.data).length > 0 || cm.binaryKeys?.length || !cm.resourceVersion) continue;
    const r = await api.deleteConfigMap(namespace, cm.name, cm.resourceVersion).catch((e: unknown) => {
      if (!(e instanceof CniAttachError)) throw e;
      return undefined;
    });
    if (r === 'deleted') out.push(cm.name);
  }
  return out;
}

/**
 * Every entry of the cluster's records (one list request): the valid ones, and the others with why (validateRecord).
 * Only a valid record is used for anything: an invalid one is shown (cni-list) and said (cni-gc), never acted on.
 */
export async function readRecords(api: KubeApi, namespace: string): Promise<{ records: AttachmentRecord[]; invalid: InvalidRecord[] }> {
  const maps = await api.listConfigMaps(namespace, `${RECORD_LABEL}=${RECORD_LABEL_VALUE}`);
  const out = { records: [] as AttachmentRecord[], invalid: [] as InvalidRecord[] };
  for (const cm of maps) {
    for (const [key, text] of Object.entries(cm.data)) {
      const r = validateRecord(cm.name, key, text);
      if ('record' in r) out.records.push({ ...r.record, key });
      else out.invalid.push(r.invalid);
    }
  }
  return out;
}

/**
 * A reader of the records (readRecords' valid ones) whose every answer comes from a list sent after it was asked
 * (listAnew: not the command's list from before): for a judgement that must compare what a node held with the records
 * as they were after that node was read (cli/gc.ts: an attach writes its record before its node's intent, a detach
 * removes its record after its node's entry). Asks that come while a list is on its way wait for the next one, which
 * all of them share: at most one list in flight and one to come, however many nodes ask at once. Errors: readRecords'.
 */
export function recordsReadAfter(api: KubeApi, namespace: string): () => Promise<AttachmentRecord[]> {
  let inFlight: Promise<unknown> = Promise.resolve();
  let next: Promise<AttachmentRecord[]> | undefined;
  return () => {
    if (next) return next;
    const mine: Promise<AttachmentRecord[]> = inFlight.catch(() => undefined).then(() => {
      // sent now: every ask that joined it came before
      next = undefined;
      listAnew(api);
      return listRecords(api, namespace);
    });
    next = mine;
    inFlight = mine;
    return mine;
  };
}

/** The valid attachments recorded in the cluster (readRecords; the invalid ones are left out). */
export async function listRecords(api: KubeApi, namespace: string): Promise<AttachmentRecord[]> {
  return (await readRecords(api, namespace)).records;
}

/** Whether the pod a record names is gone: no pod of that namespace/name, or one with another uid. */
export function recordedPodGone(rec: AttachmentRecord, pods: Map<string, { uid?: string }>): boolean {
  const p = pods.get(`${rec.namespace}/${rec.pod}`);
  return !p || p.uid !== rec.uid;
}

/** The pod a node's cache entry was made for, from its CNI_ARGS (K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID). */
export interface EntryPod {
  namespace: string;
  name: string;
  /** Absent when the entry's CNI_ARGS hold none (not one of this tool's: it always passes K8S_POD_UID). */
  uid?: string;
}

/** What a node's cache holds under a record's key, as recordAgainstNode reads it (cni/cache.ts Found). */
export interface HeldEntry {
  entry: { networkName: string; cniArgs?: [string, string][] };
  unreadable?: string;
}

/**
 * A record judged against what its node's CNI cache holds under its key (container id and ifname: cache.find). The
 * node's entry is the truth and a record only its index, so the record is used only when it says what the entry says:
 *  - `{ pod }`: the node holds it for the record's network and pod (namespace, name, and uid when the entry has one):
 *    the entry's pod, by which whether it is gone is judged and its sandbox looked for (never the record's);
 *  - `{ unheld: true }`: the node holds nothing under that key (a stale record: it just goes);
 *  - `{ unreadable }`: what the node holds for its network cannot be read (nothing can be judged: left alone);
 *  - `{ mismatch }`: the node holds it for another network, another pod or uid, or no pod at all: why, in words. The
 *    record is then used for nothing (`held`: the entry's pod, when it has one, for gc's count; anyone who may write ConfigMaps in the agent namespace can edit a record; a
 *    pod name or uid changed would otherwise make a live pod's attachment look gone and its lease freed under it).
 * `node`: its name, for the words. Pure.
 */
export function recordAgainstNode(r: AttachmentRecord, held: HeldEntry[], node: string): { pod: EntryPod } | { unheld: true } | { unreadable: string } | { mismatch: string; held?: EntryPod } {
  if (held.length === 0) return { unheld: true };
  const f = held.find((h) => h.entry.networkName === r.network);
  if (!f) {
    const nets = [...new Set(held.map((h) => h.entry.networkName))].map((n) => shown(n)).join(', ');
    return { mismatch: `node ${node} holds ${r.ifname} of container ${shown(r.containerId)} for network ${nets}, not ${shown(r.network)}` };
  }
  if (f.unreadable) return { unreadable: f.unreadable };
  const args = new Map(f.entry.cniArgs ?? []);
  const namespace = args.get('K8S_POD_NAMESPACE');
  const name = args.get('K8S_POD_NAME');
  const uid = args.get('K8S_POD_UID') || undefined;
  const what = `node ${node} holds ${r.ifname} of container ${shown(r.containerId)} (network ${r.network})`;
  if (!namespace || !name) return { mismatch: `${what} for no pod (its CNI_ARGS name none), not for pod ${r.namespace}/${r.pod}` };
  const pod = { namespace, name, ...(uid !== undefined ? { uid } : {}) };
  if (namespace !== r.namespace || name !== r.pod) return { mismatch: `${what} for pod ${shown(`${namespace}/${name}`)}, not ${r.namespace}/${r.pod}`, held: pod };
  if (uid !== undefined && uid !== r.uid) return { mismatch: `${what} for pod ${r.namespace}/${r.pod} of uid ${shown(uid)}, not ${shown(r.uid)}`, held: pod };
  return { pod };
}

/**
 * A record that the API alone would call a gone pod's (recordedPodGone), checked against what the API says of the pods
 * (`pods`: those listed, every namespace the record may name) where its node's cache cannot be read (cni-list of
 * another node's record). The record names the attachment's pod and uid, and anyone who may write ConfigMaps in the
 * agent namespace can edit them; the API contradicts it when:
 *  - a pod of its namespace and name exists with another uid, created (metadata.creationTimestamp) no later than the
 *    record's attach (`since`): the pod of that name then was that one (one pod per name at a time), so it was never
 *    another's;
 *  - a live pod on the record's node carries the record's ifname with one of its addresses in its network-status
 *    (k8s.v1.cni.cncf.io/network-status, which attach writes): the attachment looks like that pod's (`held`).
 * Then `{ mismatch }` says which, in words; undefined when nothing contradicts it (the pod may be gone: only its node's
 * entry can tell, which cni-gc reads). A record whose fields are all forged consistently (pod, uid, since and
 * addresses) is not caught here: cni-gc still judges by the node's entry (recordAgainstNode). Pure.
 */
/**
 * A settled record (not a write-ahead) that names a live pod, by its uid, on another node than the one the API places
 * that pod on (spec.nodeName): a pod runs on one node for its life (Kubernetes binds it once), so the record does not
 * say where its pod's attachment is — made from a cache that holds another node's entries (one shared between nodes,
 * or copied), or edited. Returns the mismatch in words, else undefined (no such pod, another uid, not scheduled, or
 * the same node). Pure. Used by cni-list (its row is `mismatched`) and cni-gc (not counted alive on that node).
 */
export function recordOnOtherNode(r: AttachmentRecord, pods: Pod[]): string | undefined {
  if (r.attaching) return undefined;
  const p = pods.find((x) => x.metadata?.namespace === r.namespace && x.metadata?.name === r.pod && x.metadata?.uid === r.uid);
  const there = p?.spec?.nodeName;
  if (!there || there === r.node) return undefined;
  return `the API places pod ${r.namespace}/${r.pod} (uid ${shown(r.uid)}) on node ${shown(there)}, and a pod runs on one node for its life: what node ${r.node} holds under this key is not that pod's attachment there (a cache shared between nodes, or copied?); node ${shown(there)} holds its attachment`;
}

export function recordAgainstPods(r: AttachmentRecord, pods: Pod[]): { mismatch: string; held?: EntryPod } | undefined {
  const named = pods.find((p) => p.metadata?.namespace === r.namespace && p.metadata?.name === r.pod);
  // a Date as client-node reads it (V1ObjectMeta), or RFC 3339 text
  const c: unknown = named?.metadata?.creationTimestamp;
  const created = c instanceof Date ? c.getTime() : typeof c === 'string' ? Date.parse(c) : NaN;
  if (named && named.metadata?.uid !== r.uid && !Number.isNaN(created) && created <= Date.parse(r.since)) {
    const at = isoSecond(created);
    return {
      mismatch: `pod ${r.namespace}/${r.pod} of uid ${shown(named.metadata?.uid)} has existed since ${at}, before the attach the record names (${r.since}): that attach was to it, not to uid ${shown(r.uid)}`,
      held: { namespace: r.namespace, name: r.pod, ...(named.metadata?.uid ? { uid: named.metadata.uid } : {}) },
    };
  }
  const ips = new Set((r.addresses ?? []).map((a) => a.replace(/\/\d+$/, '')));
  if (ips.size === 0) return undefined;
  for (const p of pods) {
    if (p.spec?.nodeName !== r.node || (p.metadata?.namespace === r.namespace && p.metadata?.name === r.pod && p.metadata?.uid === r.uid)) continue;
    let entries: unknown;
    try {
      entries = JSON.parse(p.metadata?.annotations?.['k8s.v1.cni.cncf.io/network-status'] ?? '[]');
    } catch {
      continue;
    }
    if (!Array.isArray(entries)) continue;
    const e = (entries as { interface?: unknown; ips?: unknown }[]).find((x) => x?.interface === r.ifname && Array.isArray(x.ips) && x.ips.some((ip) => ips.has(String(ip))));
    if (!e) continue;
    const ip = (e.ips as unknown[]).map(String).find((x) => ips.has(x));
    const m = p.metadata!;
    return {
      mismatch: `live pod ${shown(`${m.namespace}/${m.name}`)} on node ${r.node} carries ${r.ifname} with ${shown(ip)} in its network-status: the attachment looks like that pod's, not ${r.namespace}/${r.pod}'s`,
      held: { namespace: m.namespace!, name: m.name!, ...(m.uid ? { uid: m.uid } : {}) },
    };
  }
  return undefined;
}

/**
 * Whether the pod a node's entry was made for (recordAgainstNode's `pod`) is gone: no pod of that namespace/name, or
 * one with another uid — an entry without a uid is of whichever pod has that name (resolve/attachment-state.ts
 * classify judges so too). `pods`: namespace/name → uid, as listed (and asked for again) by gc.
 */
export function entryPodGone(pod: EntryPod, pods: Map<string, { uid?: string }>): boolean {
  const p = pods.get(`${pod.namespace}/${pod.name}`);
  return !p || (pod.uid !== undefined && p.uid !== pod.uid);
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

/**
 * Whether the command a write-ahead record names (AttachmentRecord.by) still runs: 'running' or 'gone' when it ran on
 * this host (`table.host`, the name lock files give their holders: exec/host.ts thisHost), by the lock rule's test
 * (exec/lock.ts: its pid runs with the start time it had; a pid now another process's is gone). A record of another
 * host (or naming none) cannot be told by its pid: 'past' once `now` (ms since the epoch, this host's clock) is past
 * the record's `until` (the attach's own bound: writeAheadUntil), else undefined — it may still be running. One /proc
 * read.
 */
export async function recordedCommand(
  r: Pick<AttachmentRecord, 'by' | 'until'>,
  table: Pick<LockOwner, 'host' | 'startOf'> = thisHost,
  now = Date.now(),
): Promise<'running' | 'gone' | 'past' | undefined> {
  if (!r.by || r.by.host !== table.host) return r.until !== undefined && Date.parse(r.until) <= now ? 'past' : undefined;
  const start = await table.startOf(r.by.pid);
  return start !== undefined && (r.by.start === undefined || start === r.by.start) ? 'running' : 'gone';
}

/**
 * The rule "another host's write-ahead within its bound": a record whose command cannot be seen from here
 * (`command`, recordedCommand's answer for it, is undefined: it ran on another host, or names none, and `now` is not
 * past its `until`) and that recorded a bound (`until`: writeAheadUntil). Such an attach is taken as running until
 * then: cni-detach answers busy (cli/targets.ts refuseIfAttaching; unless --force), cni-gc leaves what its node holds
 * of it (cli/gc.ts reconcileNode), cni-list shows it attaching (cli/list.ts). A record without `until`
 * (--request-timeout 0) is not taken as running by other hosts.
 */
export function otherHostWithinBound(r: Pick<AttachmentRecord, 'until'>, command: Awaited<ReturnType<typeof recordedCommand>>): boolean {
  return command === undefined && r.until !== undefined;
}

/** writeAheadUntil's allowance for what is not a plugin run or an API request: the node's round trips and file steps (ms). */
const WRITE_AHEAD_MARGIN_MS = 60_000;

/**
 * The `until` of an attach's write-ahead record written at `since` (ms since the epoch): past it no command that
 * wrote the record can still be working on it — each plugin run it may start (an ADD per plugin of the chain, a
 * rollback DEL per plugin, the VERSION probe) is killed at `runTimeoutMs` on the node (`timeout -s KILL`, exec/shell.ts) —
 * a rollback DEL at `rollbackMs` (cni/chain.ts rollbackTimeoutMs: at least the default --timeout) —, each
 * API request it makes after the write (its event, the pod's network-status read and PATCH, the record's settle, and
 * a retry of each) fails at `requestTimeoutMs`, plus a minute for everything between (the node's round trips, its file
 * steps). undefined when `requestTimeoutMs` is 0 (--request-timeout 0: a request may take for ever, so no bound).
 * RFC 3339 to the second, rounded up.
 */
export function writeAheadUntil(since: number, plugins: number, runTimeoutMs: number, requestTimeoutMs: number, rollbackMs = runTimeoutMs): string | undefined {
  if (!(requestTimeoutMs > 0)) return undefined;
  const bound = (plugins + 1) * runTimeoutMs + plugins * rollbackMs + 8 * requestTimeoutMs + WRITE_AHEAD_MARGIN_MS;
  return isoSecond(Math.ceil((since + bound) / 1000) * 1000);
}

/**
 * A record as a message names it: "the cluster's record of net1 of pod shop/web-1 on node node-a (key K of ConfigMap
 * kube-system/cni-attach-node-node-a)". `namespace`: the agent namespace the records were read from.
 */
export function recordOrigin(r: AttachmentRecord, namespace: string): string {
  return `the cluster's record of ${r.ifname} of pod ${r.namespace}/${r.pod} on node ${r.node} (${r.key ? `key ${r.key} of ` : ''}ConfigMap ${namespace}/${recordName(r.node)})`;
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
export type RecordedAttachment = Pick<AttachmentRecord, 'namespace' | 'pod' | 'uid' | 'node' | 'ifname' | 'network' | 'containerId' | 'cniPath' | 'cacheDir' | 'noAnnotate'>;

/**
 * What a DEL of an attachment needs to find what its ADD used on its node, from the attach's flags: its --cni-path
 * when given, its --cache-dir when not the default /var/lib/cni, each directory normalized (posix.normalize, trailing
 * slashes dropped). Fields absent otherwise.
 */
export function delPathsOf(flags: { cniPath?: string; cacheDir?: string }): Pick<AttachmentRecord, 'cniPath' | 'cacheDir'> {
  // normalized, as a reader requires them (validateRecord): the same directories, "/opt/cni/bin/" as "/opt/cni/bin"
  const cacheDir = flags.cacheDir !== undefined ? normalPath(flags.cacheDir) : undefined;
  const cniPath = flags.cniPath?.split(':').map((d) => (d.startsWith('/') ? normalPath(d) : d)).join(':');
  return { ...(cniPath !== undefined ? { cniPath } : {}), ...(cacheDir !== undefined && cacheDir !== DEFAULT_CACHE_DIR ? { cacheDir } : {}) };
}

/** The cache dir a node uses when no --cache-dir was given, and that a record without cacheDir names. */
export const DEFAULT_CACHE_DIR = '/var/lib/cni';

/**
 * The cache dir a record says its attachment lives in on its node: its cacheDir, else the default /var/lib/cni
 * (attach records only another: delPathsOf).
 */
export function recordCacheDir(r: Pick<AttachmentRecord, 'cacheDir'>): string {
  return r.cacheDir ?? DEFAULT_CACHE_DIR;
}

/**
 * Whether a record says its attachment lives in `dir` (a --cache-dir as given; normalized as delPathsOf writes it).
 * The rule for every command that removes records: one that read only `dir` may forget only the records of `dir` —
 * a record of another dir whose node holds nothing in `dir` says nothing of what that other dir holds (an attachment
 * and its IPAM lease there would be left untracked, and nothing would find them again). Pure.
 */
export function recordedIn(r: Pick<AttachmentRecord, 'cacheDir'>, dir: string): boolean {
  return recordCacheDir(r) === (delPathsOf({ cacheDir: dir }).cacheDir ?? DEFAULT_CACHE_DIR);
}

/**
 * The record of an attachment as cni-attach writes it: after its ADD (`result`: the chain's result, its addresses in
 * CIDR notation; one that is not a valid CNI result gives none), or after an ADD whose rollback failed too
 * (`interrupted`: no addresses). `since`: `now` in RFC 3339 to the second. Written by attach (cli/attach.ts), and by
 * cni-gc for an attachment its node holds without a record (made before records existed, or whose record could not
 * be written): then `since` is when gc recorded it, not when it was attached.
 */
export function attachmentRecord(at: RecordedAttachment, outcome: { result: unknown } | { interrupted: true }, now = new Date()): AttachmentRecord {
  const since = isoSecond(now);
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
  /**
   * The agent namespace its entry says its attach records it in (cni/cache.ts recordsNamespaceOf); undefined when the
   * entry says none (made by a version before it was kept: which namespace holds its record, if any, is not known).
   */
  recordedIn?: string;
}

/** An attachment reconcileRecords does not record in the namespace it reconciles, and where its attach records it. */
export interface NotCopied {
  record: AttachmentRecord;
  /** The agent namespace its entry names (another than the one reconciled); undefined: its entry names none. */
  recordedIn?: string;
}

/**
 * How the records of `node` in agent namespace `namespace` differ from what its cache holds (cni-gc; the cache is the
 * truth, a record only its index): `add`, the records of the attachments of live pods it holds that no record (of any
 * node) names and whose attach records them in `namespace` — its entry names it (HeldAttachment.recordedIn), or names
 * none and `legacy` is set (cni-gc --record-legacy: the user's word that such entries belong here); `notCopied`, the
 * others among them: an entry that names another namespace has its record there (one here would be a copy, which a
 * detach with that namespace leaves behind saying attached), and one that names none may too (conservative: never
 * recorded in a namespace it may not have been made in unless asked); `remove`,
 * the records of that node whose attachment it holds nothing of (no result, no intent) and whose pod is alive
 * (`podGone`: the records of gone pods are freed on their node by gc's records pass, which forgets them there). Keys
 * compared as recordKey (container id and ifname). A write-ahead record (attaching) of a live pod is neither removed
 * (its attach may be running: the record comes before the node's intent) nor doubled: what the node holds of that pod
 * and ifname is its attachment, already named. `dir`: the cache dir `held` was read from; only the records of that
 * dir are removed (recordedIn: a record of another dir says the node keeps it there, which was not looked at), though
 * every record counts as naming its key (one key per attachment in a node's ConfigMap: adding one would overwrite
 * it). Pure.
 */
export function reconcileRecords(
  node: string,
  held: HeldAttachment[],
  recorded: AttachmentRecord[],
  podGone: (r: AttachmentRecord) => boolean,
  dir: string,
  namespace: string,
  legacy = false,
): { add: AttachmentRecord[]; remove: AttachmentRecord[]; notCopied: NotCopied[] } {
  const mine = recorded.filter((r) => r.node === node);
  // recorded anywhere: a record under another name of this node (its pod's spec.nodeName) is its record
  const recordedKeys = new Set(recorded.map((r) => recordKey(r.containerId, r.ifname)));
  const heldKeys = new Set(held.map((h) => recordKey(h.containerId, h.ifname)));
  const attaching = new Set(recorded.filter((r) => r.attaching).map((r) => `${r.uid}\0${r.ifname}`));
  const add: AttachmentRecord[] = [];
  const notCopied: NotCopied[] = [];
  for (const h of held) {
    const k = recordKey(h.containerId, h.ifname);
    if (!h.record || recordedKeys.has(k) || attaching.has(`${h.record.uid}\0${h.ifname}`)) continue;
    recordedKeys.add(k); // one record per key (two networks on one ifname: the first)
    if (h.recordedIn === namespace || (h.recordedIn === undefined && legacy)) add.push(h.record);
    else notCopied.push({ record: h.record, ...(h.recordedIn !== undefined ? { recordedIn: h.recordedIn } : {}) });
  }
  const remove = mine.filter((r) => !r.attaching && recordedIn(r, dir) && !podGone(r) && !heldKeys.has(recordKey(r.containerId, r.ifname)));
  return { add, remove, notCopied };
}
