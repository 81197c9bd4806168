/**
 * How cni-list prints its rows, the way `kubectl get` prints a list (kubectl's get printers):
 *
 *   (default)      a table; the NAMESPACE column only with -A; --no-headers drops the header line
 *   -o wide        the same with more columns (the full container id)
 *   -o name        one `attachment/<pod>.<ifname>` per line (kubectl's resource/name form)
 *   -o json|yaml   a `List` (apiVersion v1, kind List, items), each item an `Attachment` with metadata.name/namespace
 *   -o jsonpath=T  the List through a kubectl jsonpath template (./jsonpath.ts)
 *
 * and, when nothing matched, "No resources found in <ns> namespace." (or "No resources found" with -A) on stderr for
 * the table, wide and name outputs, as kubectl does; json and yaml print an empty List, jsonpath what the template makes.
 *
 * The rows (./list.ts Row) are data only: what is known about an attachment. Printing is here, so new columns or
 * states change the Row and this table, not the command.
 */
import { UsageError } from '../errors.js';
import { formatData } from './output.js';

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
  /** Why the record is in that state, and what clears it (every state but attached; issue 11). */
  reason?: string;
  /** Whether the pod's network-status lists the interface; undefined for namespaces or when the cluster was not asked. */
  annotated?: boolean;
}

export const LIST_FORMATS = ['table', 'wide', 'name', 'json', 'yaml', 'jsonpath=TEMPLATE'];

/** -o's value, checked: Errors: UsageError naming the formats. */
export function parseListFormat(v: string): string {
  if (['table', 'wide', 'name', 'json', 'yaml'].includes(v) || /^jsonpath=/.test(v)) return v;
  throw new UsageError(`-o: unable to match a printer suitable for the output format "${v}", allowed formats are: ${LIST_FORMATS.join(', ')}`);
}

export interface PrintOptions {
  format: string;
  allNamespaces: boolean;
  noHeaders: boolean;
  /** The namespace listed (for "No resources found in … namespace."). */
  namespace: string;
  /** Set when one pod was asked for. */
  pod?: string;
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
      ...(r.annotated !== undefined ? { annotated: r.annotated } : {}),
    })),
  };
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
    // as kubectl get pods -o wide adds NODE
    ...(wide ? [['NODE', (r: Row) => r.node] as [string, (r: Row) => string]] : []),
  ];
  const head = cols.map(([h]) => h);
  const cells = rows.map((r) => cols.map(([, f]) => f(r)));
  const lines = o.noHeaders ? cells : [head, ...cells];
  // kubectl's tabwriter (minwidth 10, padding 3): a column is its widest cell plus 3 spaces, and at least 10 wide
  const widths = head.map((h, i) => Math.max(10, 3 + Math.max(o.noHeaders ? 0 : h.length, ...cells.map((c) => c[i]!.length))));
  return lines.map((line) => line.map((c, i) => (i === line.length - 1 ? c : c.padEnd(widths[i]!))).join('').trimEnd()).join('\n') + '\n';
}

/** What to print: stdout text, and the stderr line for an empty result (or ''). */
export async function printRows(rows: Row[], o: PrintOptions): Promise<{ out: string; err: string }> {
  if (o.format === 'json' || o.format === 'yaml') return { out: await formatData(asList(rows), o.format), err: '' };
  if (o.format.startsWith('jsonpath=')) {
    const { printJsonPath } = await import('./jsonpath.js');
    return { out: printJsonPath(o.format.slice('jsonpath='.length), asList(rows)), err: '' };
  }
  if (rows.length === 0) return { out: '', err: o.allNamespaces ? 'No resources found\n' : `No resources found in ${o.namespace} namespace.\n` };
  if (o.format === 'name') return { out: rows.map((r) => `attachment/${nameOf(r)}\n`).join(''), err: '' };
  return { out: table(rows, o), err: '' };
}
