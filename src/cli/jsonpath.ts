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

/** kubectl's path → JSONPath: ".a" and "a" are "$.a"; "@" stays the current element. */
function toJsonPath(path: string): string {
  if (/^[@$]/.test(path)) return path.startsWith('@') ? `$${path.slice(1)}` : path;
  if (path.includes(',') && !/\[[^\]]*,/.test(path)) throw new UsageError(`-o jsonpath: unions of paths ({${path}}) are not supported; write one {…} per path`);
  return path.startsWith('.') || path.startsWith('[') ? `$${path}` : `$.${path}`;
}

function evaluate(path: string, data: unknown): unknown[] {
  try {
    return JSONPath({ path: toJsonPath(path), json: data as object, wrap: true }) as unknown[];
  } catch (e) {
    throw new UsageError(`-o jsonpath: cannot evaluate {${path}}: ${(e as Error).message}`);
  }
}

const show = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : JSON.stringify(v));

function render(nodes: Node[], data: unknown): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'expr') out += evaluate(n.path, data).map(show).join(' ');
    else {
      const found = evaluate(n.path, data);
      const items = found.length === 1 && Array.isArray(found[0]) ? (found[0] as unknown[]) : found;
      for (const item of items) out += render(n.body, item);
    }
  }
  return out;
}

/** Print data through a kubectl jsonpath template. Errors: UsageError (exit 2) for a template it cannot read. */
export function printJsonPath(template: string, data: unknown): string {
  return render(parseTemplate(template), data);
}
