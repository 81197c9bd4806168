/**
 * How cni-list prints its rows, the way `kubectl get` prints a list (kubectl's get printers):
 *
 *   (default)      a table; the NAMESPACE column only with -A; --no-headers drops the header line; REASON (last, as
 *                  kubectl get events puts MESSAGE last: the one column with spaces) says in a few words why a record
 *                  is not plainly attached, as kubectl get pods puts a reason in STATUS (CrashLoopBackOff)
 *   -o wide        the same with more columns (the full container id, NODE, CACHE-DIR) and a REASON that also says what
 *                  clears it
 *   -o name        one `attachment/<pod>.<ifname>` per line (kubectl's resource/name form)
 *   -o json|yaml   a `List` (apiVersion v1, kind List, items), each item an `Attachment` with metadata.name/namespace
 *                  and cacheDir (every row that has one, /var/lib/cni too)
 *   -o jsonpath=T  the List through a kubectl jsonpath template (./jsonpath.ts)
 *
 * and, when nothing matched, "No resources found in <ns> namespace." (or "No resources found" with -A) on stderr for
 * the table, wide and name outputs, as kubectl does; json and yaml print an empty List, jsonpath what the template makes.
 * After a table, wide or name output that has records which are not attached, `note:` lines on stderr name the
 * command that clears each (stdout stays the table alone; json/yaml items carry it as clearCommand).
 *
 * Text from outside — a cache file's network name (a conf's), a plugin's or a runtime's error in a reason, a lock's host
 * name, a forged record — is printed by table, wide and name (and the notes) through `shown` (errors.ts: control
 * characters as escapes: a row stays one line and drives no terminal), each cell cut to CELL_WIDTH; json, yaml and
 * jsonpath print it exact, as data.
 *
 * The rows (./list.ts Row) are data only: what is known about an attachment. Printing is here, so new columns or
 * states change the Row and this table, not the command.
 */
import { shown, UsageError } from '../errors.js';
import { formatData, shellQuote, someNames } from './output.js';

/** One attachment, as cni-list knows it. */
export interface Row {
  namespace: string;
  target: string;
  /** The pod's node: from the live pod, or from the cluster's record of the attachment; '<none>' when unknown. */
  node: string;
  ifname: string;
  network: string;
  addresses: string[];
  containerId: string;
  state: string;
  /** Why the record is in that state, and what clears it (every state but attached; issue 11): json and yaml. */
  reason?: string;
  /** The reason in a few words, for the table's REASON column (cut to REASON_WIDTH there). */
  brief?: string;
  /** What clears it, in a few words, for -o wide ("cni-gc frees it", "cni-detach --force forgets it"). */
  remedy?: string;
  /** The command line that clears it ("kubectl cni-detach --netns /var/run/netns/x --ifname eth1 --force"). */
  clear?: string;
  /** What to know before running it, for the note ("--conf FILE … runs its DEL first"). */
  clearHint?: string;
  /** A command that clears every row of its state at once (cni-gc, for interrupted attaches), for a note grouping them. */
  clearAll?: string;
  /**
   * Where what its node holds of it is shown (a write-ahead's, unsettled): its namespace, its node, and the cni-list
   * command with the flags that reach them (no -n, no --node), for the note that names one cni-list for all such rows.
   */
  lookAt?: { namespace: string; node: string; command: string };
  /**
   * For a row that `clear` (a cni-gc) clears only once its node's lock of the command that left it is free (an
   * unsettled write-ahead whose command of this host is gone before its recorded bound: list.ts recordRow): the time
   * (RFC 3339) by which it is free at the latest, for the note ("it acts on them once … : by T at latest").
   */
  gcActsBy?: string;
  /** Whether the pod's network-status lists the interface; undefined for namespaces or when the cluster was not asked. */
  annotated?: boolean;
  /**
   * A record that clear removes from its ConfigMap (a mismatched one: list.ts mismatchedRow): its ConfigMap and key (a
   * JSON string), the patch that removes several keys of that ConfigMap at once, and the cni-gc (no --node) whose
   * `--node N --dry-run` reads its node first, when its node was not read — for one note grouping such rows.
   */
  removal?: { configMap: string; keyJson: string; patch: (keysJson: string[]) => string; readFirst?: string };
  /**
   * The libcni cache dir on its node that holds what its DEL needs (the --cache-dir its attach was given: the cluster's
   * record's AttachmentRecord.cacheDir, /var/lib/cni when it names none; this host's rows: the dir cni-list read),
   * normalized; undefined for a row of no cache (an invalid record). -o wide's CACHE-DIR, -o json's cacheDir.
   */
  cacheDir?: string;
}

export const LIST_FORMATS = ['table', 'wide', 'name', 'json', 'yaml', 'jsonpath=TEMPLATE'];

/** kubectl's printers that cni-list does not have (kubectl get's -o: k8s.io/cli-runtime genericclioptions). */
const KUBECTL_ONLY_FORMATS = ['go-template', 'go-template-file', 'template', 'templatefile', 'jsonpath-file', 'jsonpath-as-json', 'custom-columns', 'custom-columns-file'];

/**
 * -o's value, checked. Errors: UsageError — `jsonpath` without a template in kubectl's words (cli-runtime
 * JSONPathPrintFlags: "template format specified but no template given"); a printer of kubectl's that cni-list does
 * not have, saying so; anything else naming the formats, as kubectl does.
 */
export function parseListFormat(v: string): string {
  if (['table', 'wide', 'name', 'json', 'yaml'].includes(v) || /^jsonpath=./s.test(v)) return v;
  if (v === 'jsonpath' || v === 'jsonpath=') throw new UsageError('-o jsonpath: template format specified but no template given');
  const printer = v.split('=')[0]!;
  if (KUBECTL_ONLY_FORMATS.includes(printer)) {
    throw new UsageError(`-o ${printer}: kubectl's printer, not one of cni-list's (${LIST_FORMATS.join(', ')}): -o jsonpath=TEMPLATE, or -o json with jq`);
  }
  throw new UsageError(`-o: unable to match a printer suitable for the output format "${v}", allowed formats are: ${LIST_FORMATS.join(', ')}`);
}

export interface PrintOptions {
  format: string;
  allNamespaces: boolean;
  noHeaders: boolean;
  /** The namespace listed (for "No resources found in … namespace."). */
  namespace: string;
}

/** metadata.name of an attachment: "<pod>.<ifname>" (a netns: "netns:<path>.<ifname>"). */
const nameOf = (r: Row) => `${r.target}.${r.ifname}`;

/** The rows as a kubectl List of Attachment items. */
export function asList(rows: Row[]): { apiVersion: 'v1'; kind: 'List'; metadata: { resourceVersion: string }; items: unknown[] } {
  return {
    apiVersion: 'v1',
    kind: 'List',
    metadata: { resourceVersion: '' },
    items: rows.map((r) => ({
      apiVersion: 'cni-attach/v1',
      kind: 'Attachment',
      metadata: { name: nameOf(r), ...(r.namespace !== '-' ? { namespace: r.namespace } : {}) },
      pod: r.target,
      node: r.node,
      ifname: r.ifname,
      network: r.network,
      addresses: r.addresses,
      containerId: r.containerId,
      state: r.state,
      ...(r.reason ? { reason: r.reason } : {}),
      ...(r.clear ? { clearCommand: r.clear } : {}),
      ...(r.annotated !== undefined ? { annotated: r.annotated } : {}),
      // every row's, the default too: a field of the object, not a difference from a default (kubectl -o json prints
      // a pod's defaulted fields, restartPolicy: Always, as set)
      ...(r.cacheDir !== undefined ? { cacheDir: r.cacheDir } : {}),
    })),
  };
}

/** The widest REASON cell: the table's, and -o wide's (that also says what clears it). Full text: -o json|yaml. */
export const REASON_WIDTH = { table: 40, wide: 80 };

/**
 * text in at most max characters: as is when it fits; else without a trailing parenthesis when that fits
 * ("the lock file is empty (its holder died, …)" → "the lock file is empty"); else cut, ending in "...".
 */
export function fit(text: string, max: number): string {
  if (text.length <= max) return text;
  const bare = text.replace(/\s*\([^()]*\)$/, '');
  if (bare !== text && bare.length <= max) return bare;
  return `${text.slice(0, max - 3).trimEnd()}...`;
}

/**
 * The widest cell but REASON's: the longest name Kubernetes has (a DNS subdomain: pod and node names, 253). A value
 * longer than any name the tool writes — a forged record's, a cache file's network name — is cut, ending in "...":
 * one such value must not push every other column of the table off the screen. Full text: -o json|yaml.
 */
export const CELL_WIDTH = 253;

/**
 * A cell as the table prints it: its text through `shown` (errors.ts: every control character as its escape, `\n`,
 * `\t`, `\x1b`, so that a record's or a cache file's text — outside text: a network name from a conf, a plugin's error,
 * a lock's host name, a forged record — can neither break the row nor drive the terminal), then cut to max characters.
 */
function cell(text: string, max = CELL_WIDTH): string {
  const t = shown(text);
  return t.length <= max ? t : `${t.slice(0, max - 3)}...`;
}

/** A row's REASON cell: "<none>" when attached (kubectl's empty cell), the brief (or the reason) escaped and cut to fit. */
function reasonCell(r: Row, wide: boolean): string {
  const brief = r.brief ?? r.reason;
  if (!brief) return '<none>';
  if (!wide) return fit(shown(brief), REASON_WIDTH.table);
  const remedy = r.remedy === undefined ? undefined : shown(r.remedy);
  return remedy ? `${fit(shown(brief), REASON_WIDTH.wide - remedy.length - 2)}; ${remedy}` : fit(shown(brief), REASON_WIDTH.wide);
}

function table(rows: Row[], o: PrintOptions): string {
  const wide = o.format === 'wide';
  const cols: [string, (r: Row) => string][] = [
    ...(o.allNamespaces ? [['NAMESPACE', (r: Row) => r.namespace] as [string, (r: Row) => string]] : []),
    ['POD', (r) => r.target],
    ['IFNAME', (r) => r.ifname],
    ['NETWORK', (r) => r.network],
    ['ADDRESSES', (r) => r.addresses.join(',') || '<none>'],
    ['STATE', (r) => r.state],
    ['ANNOTATED', (r) => (r.annotated === undefined ? '<unknown>' : r.annotated ? 'yes' : 'no')],
    ['CONTAINER', (r) => (wide ? r.containerId : r.containerId.slice(0, 12))],
    // as kubectl get pods -o wide adds NODE; and where on it the attachment's cache is (the --cache-dir its
    // cni-detach and cni-check take)
    ...(wide ? ([['NODE', (r: Row) => r.node], ['CACHE-DIR', (r: Row) => r.cacheDir ?? '<none>']] as [string, (r: Row) => string][]) : []),
    ['REASON', (r) => reasonCell(r, wide)],
  ];
  const head = cols.map(([h]) => h);
  // every cell escaped and cut (REASON by its own widths): outside text stays in its cell
  const cells = rows.map((r) => cols.map(([h, f]) => (h === 'REASON' ? f(r) : cell(f(r)))));
  const lines = o.noHeaders ? cells : [head, ...cells];
  // kubectl's tabwriter (minwidth 10, padding 3): a column is its widest cell plus 3 spaces, and at least 10 wide
  const widths = head.map((h, i) => Math.max(10, 3 + Math.max(o.noHeaders ? 0 : h.length, ...cells.map((c) => c[i]!.length))));
  return lines.map((line) => line.map((c, i) => (i === line.length - 1 ? c : c.padEnd(widths[i]!))).join('').trimEnd()).join('\n') + '\n';
}

/** At most this many notes of rows with a command of their own (each a row, or a group of rows of one kind); the rest are counted in one line. */
export const MAX_NOTES = 10;

/**
 * A row's command with the pod it names as POD ("kubectl cni-detach POD -n shop --ifname net1 …"), so that the rows of
 * one kind share it; the command as it is when it names no pod there (a --netns, a placeholder).
 */
function commandOfKind(r: Row): string {
  const m = /^(kubectl cni-[a-z]+) (\S+) -n /.exec(r.clear!);
  return m && m[2] === shellQuote(r.target) ? `${m[1]} POD${r.clear!.slice(m[0].length - ' -n '.length)}` : r.clear!;
}

/**
 * The stderr lines after a table: for the rows with a command of their own (cni-detach of that target), one note per
 * kind — a state, a command that differs only in the pod it names, one hint —: a row alone is named with its command;
 * several are one note naming them (output.ts someNames: 5 and a count; -o wide REASON and -o json keep each one's
 * detail), with the command that clears them all where there is one (Row.clearAll: cni-gc, for interrupted attaches)
 * and the command for each (POD) — an outside tester's 15 interrupted rows made 10 notes of ~400 characters. The rows
 * that `kubectl cni-gc` clears in one line per command. '' when every row is attached (or has nothing to run, as a
 * record of another node whose pods could not be listed).
 */
/**
 * One cni-list showing what the nodes of `rows` hold of those with Row.lookAt: of their namespace (-n, or -A for
 * several) and their nodes (--node a,b); undefined when none has it.
 */
function lookOf(rows: Row[]): string | undefined {
  const at = rows.map((r) => r.lookAt).filter((x): x is NonNullable<Row['lookAt']> => x !== undefined);
  if (at.length === 0) return undefined;
  const namespaces = [...new Set(at.map((x) => x.namespace))];
  const nodes = [...new Set(at.map((x) => x.node))].sort();
  const scope = namespaces.length === 1 ? `-n ${shellQuote(namespaces[0]!)}` : '-A';
  return `${at[0]!.command.replace(/^kubectl cni-list/, `kubectl cni-list ${scope}`)} --node ${nodes.map(shellQuote).join(',')}`;
}

/**
 * One note for several records removed from their ConfigMaps (Row.removal, of one kind): one kubectl patch per
 * ConfigMap removing its keys, and the cni-gc --node …,… --dry-run that first reads their nodes where that is the advice
 * — "note: to clear the 3 records in state mismatched of net1 of web-2, web-3, ghost: `kubectl patch configmap
 * cni-attach-node-node-2 … -p '{"data":{"k1":null,"k2":null}}'` and `…` (`kubectl cni-gc --node node-2,node-3 --dry-run`
 * first reads what nodes node-2, node-3 hold and says whether each record matches it)". Before, one note per record.
 */
function removalNote(g: Row[], names: string): string {
  const [r] = g as [Row];
  const maps = new Map<string, Row[]>();
  for (const x of g) maps.set(x.removal!.configMap, [...(maps.get(x.removal!.configMap) ?? []), x]);
  const patches = [...maps.values()].map((xs) => `\`${shown(xs[0]!.removal!.patch(xs.map((x) => x.removal!.keyJson)))}\``).join(' and ');
  const nodes = [...new Set(g.map((x) => x.node))].sort();
  const where = nodes.length === 1 ? `node ${nodes[0]} holds` : `nodes ${someNames(nodes)} hold`;
  const first = r.removal!.readFirst ? ` (\`${shown(`${r.removal!.readFirst} --node ${nodes.map(shellQuote).join(',')} --dry-run`)}\` first reads what ${where} and says whether each record matches it)` : '';
  return `note: to clear the ${g.length} records in state ${r.state} of ${r.ifname === '-' ? '' : `${shown(r.ifname)} of `}${names}: ${patches}${first}\n`;
}

export function clearNotes(rows: Row[]): string {
  const own = rows.filter((r) => r.clear && !/^kubectl cni-gc\b/.test(r.clear));
  const byGc = rows.filter((r) => r.clear && /^kubectl cni-gc\b/.test(r.clear));
  const kinds = new Map<string, Row[]>();
  for (const r of own) {
    // records removed from their ConfigMap (mismatched): of one kind when their advice is (the same cni-gc to read
    // their nodes first, or none), whatever their key, node and ConfigMap
    const k = r.removal ? `removal\0${r.state}\0${r.ifname}\0${r.removal.readFirst ?? ''}` : `${r.state}\0${commandOfKind(r)}\0${r.clearHint ?? ''}\0${r.clearAll ?? ''}`;
    kinds.set(k, [...(kinds.get(k) ?? []), r]);
  }
  const groups = [...kinds.values()];
  // each a line of its own whatever the row's text holds (shown, as the table's cells)
  const lines = groups.slice(0, MAX_NOTES).map((g) => {
    const [r] = g as [Row];
    const hint = r.clearHint ? ` (${shown(r.clearHint)})` : '';
    if (g.length === 1) return `note: to clear ${shown(r.target)}${r.ifname === '-' ? '' : ` ${shown(r.ifname)}`} (${r.state}): \`${shown(r.clear!)}\`${hint}\n`;
    const names = someNames(g.map((x) => shown(x.target)));
    if (r.removal) return removalNote(g, names);
    // one command for them all (it names no pod: a cni-list --node that tells what clears each): said once
    if (commandOfKind(r) === r.clear && g.every((x) => x.clear === r.clear)) return `note: to clear the ${g.length} records in state ${r.state} of ${r.ifname === '-' ? '' : `${shown(r.ifname)} of `}${names}: \`${shown(r.clear!)}\`${hint}\n`;
    const all = r.clearAll ? `\`${shown(r.clearAll)}\` clears them all, or ` : '';
    return `note: to clear the ${g.length} records in state ${r.state} of ${r.ifname === '-' ? '' : `${shown(r.ifname)} of `}${names}: ${all}\`${shown(commandOfKind(r))}\` for each POD${hint}\n`;
  });
  if (groups.length > MAX_NOTES) {
    const more = groups.slice(MAX_NOTES).reduce((n, g) => n + g.length, 0);
    lines.push(`note: ${more} more records need a command of their own: -o json gives each one's clearCommand\n`);
  }
  // one line per command (the flags cni-list was given, and a record's cache dir); an attached row's gc settles its
  // record (list.ts recordRow: a write-ahead whose attach finished), the others' frees them
  for (const cmd of [...new Set(byGc.map((r) => r.clear!))]) {
    const these = byGc.filter((r) => r.clear === cmd);
    const settle = these.filter((r) => r.state === 'attached');
    const clear = these.filter((r) => r.state !== 'attached');
    const records = (n: number) => (n === 1 ? 'record' : `${n} records`);
    const look = lookOf(clear);
    // when it can act on them: once the locks their killed commands hold on their nodes are free (the latest bound)
    const locked = clear.filter((r) => r.gcActsBy !== undefined);
    const by = locked.map((r) => r.gcActsBy!).sort().at(-1);
    const them = locked.length === clear.length ? (clear.length === 1 ? 'it' : 'them') : `the ${locked.length} whose command is gone`;
    const acts = by ? `it acts on ${them} once ${locked.length === 1 ? "its node's lock of that attach is" : "their nodes' locks of those attaches are"} free: by ${by} at latest; ` : '';
    if (clear.length) lines.push(`note: to clear the ${records(clear.length)} in state ${[...new Set(clear.map((r) => r.state))].join(', ')}: \`${shown(cmd)}\`${look || by ? ` (${acts}${look ? `\`${shown(look)}\` shows what their nodes hold of them` : ''})`.replace('; )', ')') : ''}\n`);
    if (settle.length) lines.push(`note: to settle the ${records(settle.length)} of attachments whose attach finished but whose record says attaching (REASON record not settled): \`${shown(cmd)}\`\n`);
  }
  return lines.join('');
}

/**
 * What to print: stdout text; the stderr text to print before it (the line for an empty result, or ''); and after it
 * (clearNotes for table, wide and name; '' otherwise: json and yaml carry each item's clearCommand).
 */
export async function printRows(rows: Row[], o: PrintOptions): Promise<{ out: string; err: string; after: string }> {
  if (o.format === 'json' || o.format === 'yaml') return { out: await formatData(asList(rows), o.format), err: '', after: '' };
  if (o.format.startsWith('jsonpath=')) {
    const { printJsonPath } = await import('./jsonpath.js');
    return { out: printJsonPath(o.format.slice('jsonpath='.length), asList(rows)), err: '', after: '' };
  }
  if (rows.length === 0) return { out: '', err: o.allNamespaces ? 'No resources found\n' : `No resources found in ${o.namespace} namespace.\n`, after: '' };
  if (o.format === 'name') return { out: rows.map((r) => `attachment/${shown(nameOf(r))}\n`).join(''), err: '', after: clearNotes(rows) };
  return { out: table(rows, o), err: '', after: clearNotes(rows) };
}
