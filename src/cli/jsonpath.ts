/**
 * kubectl's `-o jsonpath=TEMPLATE` (k8s.io/client-go/util/jsonpath): text with `{…}` actions, where an action is a
 * JSONPath expression (`{.items[*].metadata.name}`, `{.items[0].ifname}`, `{..name}`, `{.items[?(@.state=="attached")].pod}`),
 * a quoted string (`{"\n"}`, `{"\t"}`), or `{range EXPR}…{end}` repeating its body for each match.
 *
 * The expressions are evaluated by jsonpath-plus (a well-kept JSONPath engine, already a dependency of
 * @kubernetes/client-node); this module adds what kubectl's templates have and JSONPath has not: the template text,
 * range/end, string literals, kubectl's leading `.` for the root (`$` is accepted too), `@` for the current element
 * inside range, and kubectl's printing: several results joined by one space, strings as they are, other values as JSON.
 * Not supported (refused with a message): kubectl's `{.a,.b}` union of whole paths, and `{range}` over a non-list.
 */
import { JSONPath } from 'jsonpath-plus';
import { UsageError } from '../errors.js';

type Node = { kind: 'text'; text: string } | { kind: 'expr'; path: string } | { kind: 'range'; path: string; body: Node[] };

function unquote(s: string): string {
  // Go string literal escapes, as kubectl's parser reads them
  return s.slice(1, -1).replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"' })[c] ?? c);
}

/** Split a template into text and actions; a `{` inside quotes does not end an action. */
function tokens(template: string): { text?: string; action?: string }[] {
  const out: { text?: string; action?: string }[] = [];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) {
      out.push({ text: template.slice(i) });
      break;
    }
    if (open > i) out.push({ text: template.slice(i, open) });
    let j = open + 1;
    let quote = false;
    for (; j < template.length; j++) {
      const c = template[j];
      if (c === '\\' && quote) j++;
      else if (c === '"') quote = !quote;
      else if (c === '}' && !quote) break;
    }
    if (j >= template.length) throw new UsageError(`-o jsonpath: unclosed action in ${JSON.stringify(template)}`);
    out.push({ action: template.slice(open + 1, j).trim() });
    i = j + 1;
  }
  return out;
}

export function parseTemplate(template: string): Node[] {
  const stack: Node[][] = [[]];
  const ranges: { path: string; body: Node[] }[] = [];
  for (const t of tokens(template)) {
    const top = stack[stack.length - 1]!;
    if (t.text !== undefined) top.push({ kind: 'text', text: t.text });
    else if (/^range\s/.test(t.action!)) {
      const r = { path: t.action!.replace(/^range\s+/, ''), body: [] as Node[] };
      ranges.push(r);
      stack.push(r.body);
    } else if (t.action === 'end') {
      const r = ranges.pop();
      if (!r) throw new UsageError('-o jsonpath: {end} without {range}');
      stack.pop();
      stack[stack.length - 1]!.push({ kind: 'range', ...r });
    } else if (/^".*"$/s.test(t.action!)) top.push({ kind: 'text', text: unquote(t.action!) });
    else if (t.action === '') top.push({ kind: 'text', text: '' });
    else top.push({ kind: 'expr', path: t.action! });
  }
  if (ranges.length) throw new UsageError('-o jsonpath: {range} without {end}');
  return stack[0]!;
}

/** kubectl's path → JSONPath: ".a" and "a" are "$.a"; "@" stays the current element; [-1] the last. */
function toJsonPath(kubectlPath: string): string {
  // [-n] counts from the end in kubectl (client-go: [n:n+1]); jsonpath-plus gives nothing for it: a slice does it
  const path = kubectlPath.replace(/\[\s*-(\d+)\s*\]/g, (_, n: string) => `[-${n}:${Number(n) === 1 ? '' : 1 - Number(n)}]`);
  if (/^[@$]/.test(path)) return path.startsWith('@') ? `$${path.slice(1)}` : path;
  if (path.includes(',') && !/\[[^\]]*,/.test(path)) throw new UsageError(`-o jsonpath: unions of paths ({${path}}) are not supported; write one {…} per path`);
  return path.startsWith('.') || path.startsWith('[') ? `$${path}` : `$.${path}`;
}

/** A step of a path as kubectl's evaluation of arrays needs it; 'other' (`..`, filters, unions): not checked past it. */
type Step = { kind: 'field'; name: string } | { kind: 'all' } | { kind: 'slice'; start?: number; end?: number; step?: number; index: boolean } | { kind: 'other' };

/** The steps of a kubectl path (`.items[500].pod`, `@.addresses[0]`, `.a['b'][1:3]`), up to the first it does not read. */
function steps(path: string): Step[] {
  const out: Step[] = [];
  let rest = path.replace(/^[@$]/, '');
  const int = (t: string | undefined) => (t === undefined || t.trim() === '' ? undefined : Number(t));
  while (rest !== '') {
    let m: RegExpExecArray | null;
    if (rest.startsWith('..')) return [...out, { kind: 'other' }];
    if ((m = /^\.?\*/.exec(rest)) || (m = /^\[\*\]/.exec(rest))) out.push({ kind: 'all' });
    else if ((m = /^\.((?:\\.|[^.[\\])+)/.exec(rest))) out.push({ kind: 'field', name: m[1]!.replace(/\\(.)/g, '$1') });
    else if ((m = /^\[\s*'([^']*)'\s*\]/.exec(rest)) || (m = /^\[\s*"([^"]*)"\s*\]/.exec(rest))) out.push({ kind: 'field', name: m[1]! });
    else if ((m = /^\[\s*(-?\d+)\s*\]/.exec(rest))) out.push({ kind: 'slice', start: Number(m[1]), index: true });
    else if ((m = /^\[\s*(-?\d*)\s*:\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?\]/.exec(rest))) {
      const [start, end, step] = [int(m[1]), int(m[2]), int(m[3])];
      out.push({ kind: 'slice', index: false, ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}), ...(step !== undefined ? { step } : {}) });
    } else return [...out, { kind: 'other' }];
    rest = rest.slice(m[0].length);
  }
  return out;
}

/** Go's name of a JSON value's type, as kubectl's errors print it (unstructured objects: map[string]interface {}). */
const goType = (v: unknown): string =>
  typeof v === 'string' ? 'string' : typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? (Number.isInteger(v) ? 'int64' : 'float64') : 'map[string]interface {}';

/**
 * The errors kubectl's evaluation raises where JSONPath gives nothing (client-go util/jsonpath evalArray): an index or
 * slice bound outside the list (`array index out of bounds: index 500, length 3`; a negative one counts from the end;
 * a slice that asks for no element is none), a start past the end (`starting index 3 is greater than ending index 1`),
 * a step that is not > 0, and an index into what is not a list (`string is not array or slice`). A missing key is no
 * error: kubectl get's --allow-missing-template-keys is true unless set false (then `x is not found`), and cni-list
 * has no such flag. Returns the message, or undefined when kubectl would evaluate the path.
 */
export function kubectlPathError(path: string, data: unknown): string | undefined {
  let values: unknown[] = [data];
  for (const step of steps(path)) {
    if (step.kind === 'other') return undefined;
    const next: unknown[] = [];
    for (const v of values) {
      if (v === null || v === undefined) continue;
      if (step.kind === 'field') {
        if (typeof v === 'object' && !Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, step.name)) next.push((v as Record<string, unknown>)[step.name]);
      } else if (step.kind === 'all') next.push(...(Array.isArray(v) ? v : typeof v === 'object' ? Object.values(v as object) : []));
      else {
        if (!Array.isArray(v)) return `${goType(v)} is not array or slice`;
        const len = v.length;
        let start = step.start ?? 0;
        if (start < 0) start += len;
        // [n] is [n:n+1] with its end derived (client-go's parser): an end of 0 there is the list's end ([-1])
        let end = step.index ? step.start! + 1 : step.end ?? len;
        if (end < 0 || (step.index && end === 0)) end += len;
        if (end === start) continue; // no element asked for: none, no error
        if (start >= len || start < 0) return `array index out of bounds: index ${start}, length ${len}`;
        if (end > len || end < 0) return `array index out of bounds: index ${end - 1}, length ${len}`;
        if (start > end) return `starting index ${start} is greater than ending index ${end}`;
        const by = step.step ?? 1;
        if (by <= 0) return 'step must be > 0';
        for (let i = start; i < end; i += by) next.push(v[i]);
      }
    }
    values = next;
  }
  return undefined;
}

function evaluate(path: string, data: unknown, template: string): unknown[] {
  const kubectlError = kubectlPathError(path, data);
  if (kubectlError) throw new UsageError(`error executing jsonpath ${JSON.stringify(template)}: Error executing template: ${kubectlError}`);
  try {
    return JSONPath({ path: toJsonPath(path), json: data as object, wrap: true }) as unknown[];
  } catch (e) {
    throw new UsageError(`-o jsonpath: cannot evaluate {${path}}: ${(e as Error).message}`);
  }
}

const show = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : JSON.stringify(v));

function render(nodes: Node[], data: unknown, template: string): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'expr') out += evaluate(n.path, data, template).map(show).join(' ');
    else {
      const found = evaluate(n.path, data, template);
      const items = found.length === 1 && Array.isArray(found[0]) ? (found[0] as unknown[]) : found;
      for (const item of items) out += render(n.body, item, template);
    }
  }
  return out;
}

/**
 * Print data through a kubectl jsonpath template. Errors: UsageError (exit 2) for a template it cannot read, and for
 * one kubectl's evaluation fails on (kubectlPathError: `error executing jsonpath "{.items[500].pod}": Error executing
 * template: array index out of bounds: index 500, length 3`, as kubectl words it; kubectl exits 1).
 */
export function printJsonPath(template: string, data: unknown): string {
  return render(parseTemplate(template), data, template);
}
