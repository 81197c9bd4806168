/**
 * Network configuration: a single plugin config or a conflist, parsed, validated and normalised to a list.
 * Pure: text in, NetworkConfigList out (or a UsageError that says what is wrong).
 */
import { UsageError } from '../errors.js';
import { KNOWN_VERSIONS, compareVersions, isKnownVersion, type CniVersion } from './version.js';

import type { JsonObject } from './result.js';
export type { JsonObject };

export interface PluginConf extends JsonObject {
  type: string;
}

/** A network's plugin chain, as libcni's NetworkConfigList: a single config is a list of one. */
export interface NetworkConfigList {
  cniVersion: CniVersion;
  name: string;
  plugins: PluginConf[];
  disableCheck: boolean;
  disableGC: boolean;
  /** The text as given: cached verbatim (base64) like libcni does, so DEL sees the same config. */
  bytes: string;
  /** True when the input had a plugins[] list. */
  isList: boolean;
  /**
   * What cniVersion was picked from when a conflist has "cniVersions" (CNI 1.1): the entries of cniVersions and the
   * cniVersion this tool knows (those libcni counts), for the advice of a plugin that does not speak the version picked
   * (chain.ts negotiateVersions).
   */
  versionFrom?: { cniVersions: CniVersion[]; cniVersion?: CniVersion };
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** Far more than any real config needs, and far less than what overflows the stack when it is serialised again. */
const MAX_DEPTH = 64;

/** How deeply arrays and objects nest (iteratively: the input may be deep enough to overflow a recursion). */
function nesting(v: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (d + 1 > max) max = d + 1;
    if (max > 10_000) return max;
    for (const c of Array.isArray(x) ? x : Object.values(x)) stack.push([c, d + 1]);
  }
  return max;
}

/** Characters a message would print invisibly, or not at all, named instead (jsonProblem). */
const INVISIBLE_NAMES: Record<number, string> = { 0xfeff: 'a byte order mark', 0xa0: 'a no-break space', 0x200b: 'a zero-width space', 0x3000: 'an ideographic space' };

/**
 * A character as a message shows it: quoted when it is visible ("x"), by its code point otherwise — a control, format
 * (zero-width, bidi, U+FEFF), separator or unassigned character, a space other than U+0020: `U+00A0 (a no-break space)`.
 */
function characterNamed(c: string): string {
  if (!/^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Z}]$/u.test(c) || c === ' ') return JSON.stringify(c);
  const cp = c.codePointAt(0)!;
  const name = INVISIBLE_NAMES[cp];
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}${name ? ` (${name})` : ''}`;
}

/**
 * What the JSON error is, without quoting the text around it (V8's message does, and a config may hold secrets):
 * "unexpected character 'S'", "the text ends too early", with the line and column when V8 gives a position.
 */
function jsonProblem(text: string, e: Error): string {
  if (text.trim() === '') return 'it is empty';
  const token = /Unexpected token '?(.)'?/.exec(e.message)?.[1];
  const m = /at position (\d+)/.exec(e.message);
  // V8 gives no position for some errors ('Unexpected token 'o', "not json" is not valid JSON'): found by a scan
  const pos = m ? Number(m[1]) : jsonErrorAt(text);
  // V8 names what it expected where the text stopped ("Expected double-quoted property name … at position <end>"):
  // a cut-short file is said as such
  const atEnd = pos !== undefined && pos >= text.trimEnd().length;
  const expected = /Expected (.+?) (?:after|in JSON)/.exec(e.message)?.[1]?.replace(/double-quoted property name/, 'a property name in double quotes');
  const what = /Unexpected end/i.test(e.message) || atEnd
    ? 'the text ends too early (cut short?)'
    : /Unterminated string/i.test(e.message)
      ? 'a string that is not closed'
      : /Bad control character/i.test(e.message)
        ? 'a control character inside a string'
        : token !== undefined
          ? `unexpected character ${characterNamed(token)}`
          : expected
            ? `expected ${expected}`
            : /after JSON/.test(e.message)
              ? 'more after the JSON value'
              : 'not JSON';
  if (pos === undefined || atEnd) return what;
  const before = text.slice(0, pos);
  // a character there that would print invisibly is named, whatever V8 expected instead
  const at = String.fromCodePoint(text.codePointAt(pos)!);
  const found = token === undefined && characterNamed(at) !== JSON.stringify(at) ? `, found ${characterNamed(at)}` : '';
  return `line ${before.split('\n').length}, column ${pos - before.lastIndexOf('\n')}: ${what}${found}`;
}

/**
 * Where JSON's grammar (RFC 8259, as JSON.parse reads it) first fails in text: the offset of the first character it
 * does not take (text.length when the text ends too early), or undefined when it takes it all (or nests too deep to
 * scan). For the position of an error V8 does not place. Our own, as no library here places it either: npm's
 * json-parse-even-better-errors 6.0.0, tried for this, gives position 0 for those messages ("not json": the error is
 * at 1; '{"a":\n tru}': at 9).
 */
export function jsonErrorAt(text: string): number | undefined {
  let i = 0;
  const fail = (): never => {
    throw new JsonAt(i);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const digits = () => {
    const start = i;
    while (i < text.length && text[i]! >= '0' && text[i]! <= '9') i++;
    if (i === start) fail();
  };
  const string = () => {
    i++;
    for (;;) {
      if (i >= text.length) fail();
      const c = text[i]!;
      if (c === '"') return void i++;
      if (c < ' ') fail();
      if (c !== '\\') {
        i++;
        continue;
      }
      i++;
      if (i < text.length && '"\\/bfnrt'.includes(text[i]!)) i++;
      else if (text[i] === 'u') {
        i++;
        for (let k = 0; k < 4; k++, i++) if (!/[0-9a-fA-F]/.test(text[i] ?? '')) fail();
      } else fail();
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) return void i++;
      for (;;) {
        if (c === '{') {
          ws();
          if (text[i] !== '"') fail();
          string();
          ws();
          if (text[i] !== ':') fail();
          i++;
        }
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === close) return void i++;
        else fail();
      }
    }
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) {
      if (c !== word[0]) continue;
      for (const w of word) (text[i] === w ? i++ : fail());
      return;
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      if (text[i] === '-') i++;
      if (text[i] === '0') i++;
      else digits();
      if (text[i] === '.') (i++, digits());
      if (text[i] === 'e' || text[i] === 'E') {
        i++;
        if (text[i] === '+' || text[i] === '-') i++;
        digits();
      }
      return;
    }
    fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return undefined;
  } catch (e) {
    if (e instanceof JsonAt) return e.at;
    return undefined; // nested too deep for this scan (RangeError)
  }
}

class JsonAt {
  constructor(readonly at: number) {}
}

const TYPE_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]*$/;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A network name ends up in file names (the cache), so it is held to libcni's rule. */
export function validateNetworkName(name: unknown, where: string): string {
  if (typeof name !== 'string' || name === '') throw new UsageError(`${where}: missing "name"`);
  if (!NAME_RE.test(name)) {
    throw new UsageError(`${where}: network name ${JSON.stringify(name)} may only hold letters, digits, '_', '.', '-' and must start with a letter or digit`);
  }
  return name;
}

/** A plugin type is a bare executable name looked up in CNI_PATH: never a path. */
export function validateType(type: unknown, where: string): string {
  if (type === undefined || type === null || type === '') throw new UsageError(`${where}: missing "type"`);
  if (typeof type !== 'string') throw new UsageError(`${where}: "type" must be a string`);
  if (type.includes('/') || type.includes('..') || !TYPE_RE.test(type)) {
    throw new UsageError(`${where}: plugin type ${JSON.stringify(type)} must be a bare executable name (no '/', no '..'); plugins are looked up in the CNI path`);
  }
  return type;
}

/**
 * The config's version. With "cniVersions" (CNI 1.1, SPEC.md "Configuration format"), the highest version this tool
 * knows among cniVersions *and* cniVersion, as libcni's ConfListFromBytes does (it sorts both together and takes the
 * last); versions newer than this tool's are skipped there as here. Throws UsageError when none is usable.
 */
function pickVersion(obj: JsonObject, where: string, isList: boolean): Pick<NetworkConfigList, 'cniVersion' | 'versionFrom'> {
  const v = obj.cniVersion;
  // a single config: libcni reads "cniVersions" only in a conflist (NetworkConfFromBytes); a single one becomes a list
  // of its "cniVersion" alone (ConfListFromConf), so its cniVersions asks for nothing
  if (isList && Array.isArray(obj.cniVersions) && obj.cniVersions.length > 0) {
    const candidates = [...obj.cniVersions, ...(v !== undefined && v !== '' ? [v] : [])];
    // like libcni: an entry that is not a version at all is an error; a version this tool does not know is skipped
    for (const c of candidates) {
      if (typeof c !== 'string' || !/^\d+\.\d+\.\d+$/.test(c)) {
        throw new UsageError(`${where}: ${c === v ? 'cniVersion' : 'cniVersions entry'} ${JSON.stringify(c)} is not a version (like 1.0.0)`);
      }
    }
    const ours = [...new Set(candidates.filter(isKnownVersion))].sort(compareVersions);
    const best = ours[ours.length - 1];
    if (best) {
      const listed = [...new Set((obj.cniVersions as string[]).filter(isKnownVersion))].sort(compareVersions);
      return { cniVersion: best, versionFrom: { cniVersions: listed, ...(typeof v === 'string' && isKnownVersion(v) ? { cniVersion: v } : {}) } };
    }
    throw new UsageError(`${where}: none of cniVersions ${JSON.stringify(obj.cniVersions)} is a version this tool knows (${KNOWN_VERSIONS.join(', ')})`);
  }
  if (v === undefined || v === '') {
    throw new UsageError(`${where}: missing "cniVersion"${obj.cniVersions !== undefined && !isList ? ' ("cniVersions" is read only in a conflist, as libcni does: a single config gives its version in "cniVersion")' : ''}`);
  }
  if (!isKnownVersion(v)) {
    throw new UsageError(`${where}: unknown cniVersion ${JSON.stringify(v)} (known: ${KNOWN_VERSIONS.join(', ')})`);
  }
  return { cniVersion: v };
}

function optBool(obj: JsonObject, key: string, where: string): boolean {
  const v = obj[key];
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new UsageError(`${where}: "${key}" must be a boolean`);
}

/**
 * Parse conf or conflist text. `source` names it in messages ("net.json", "stdin", "NAD shop/net1").
 * `defaultName` is used when the config has no name (a NetworkAttachmentDefinition's own name).
 */
export function parseNetworkConfig(text: string, source: string, defaultName?: string): NetworkConfigList {
  // libcni hands the bytes to Go's encoding/json, which refuses a byte order mark (libcni/conf.go ConfFromBytes,
  // NetworkConfFromBytes: json.Unmarshal, "invalid character 'ï' looking for beginning of value"): refused here too, named
  if (text.startsWith('\uFEFF')) throw new UsageError(`${source}: starts with a UTF-8 byte order mark (EF BB BF): save it without one`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${source}: invalid JSON (${jsonProblem(text, e as Error)})`);
  }
  const depth = nesting(parsed);
  if (depth > MAX_DEPTH) throw new UsageError(`${source}: the config nests ${depth > 10_000 ? 'more than 10000' : depth} levels deep; at most ${MAX_DEPTH} are accepted`);
  if (!isObject(parsed)) throw new UsageError(`${source}: the config must be a JSON object`);
  let obj = parsed;
  if ((obj.name === undefined || obj.name === '') && defaultName !== undefined) {
    obj = { ...obj, name: defaultName };
    text = JSON.stringify(obj);
  }
  const { cniVersion, versionFrom } = pickVersion(obj, source, 'plugins' in obj);
  const name = validateNetworkName(obj.name, source);

  if ('plugins' in obj) {
    if (!Array.isArray(obj.plugins)) throw new UsageError(`${source}: "plugins" must be a list`);
    if (obj.plugins.length === 0) throw new UsageError(`${source}: "plugins" is empty: a conflist needs at least one plugin`);
    const plugins = obj.plugins.map((p, i) => {
      const where = `${source}: plugins[${i}]`;
      if (!isObject(p)) throw new UsageError(`${where} must be a JSON object`);
      validateType(p.type, where);
      validateCapabilities(p, where);
      return p as PluginConf;
    });
    return {
      cniVersion,
      name,
      plugins,
      disableCheck: optBool(obj, 'disableCheck', source),
      disableGC: optBool(obj, 'disableGC', source),
      bytes: text,
      isList: true,
      ...(versionFrom ? { versionFrom } : {}),
    };
  }
  validateType(obj.type, source);
  validateCapabilities(obj, source);
  return {
    cniVersion,
    name,
    plugins: [obj as PluginConf],
    disableCheck: false,
    disableGC: false,
    bytes: text,
    isList: false,
  };
}

function validateCapabilities(p: JsonObject, where: string): void {
  if (p.capabilities === undefined) return;
  if (!isObject(p.capabilities)) throw new UsageError(`${where}: "capabilities" must be an object of name: true|false`);
}

/**
 * The exact config one plugin gets on stdin (libcni buildOneConfig): the plugin's own object with the list's
 * name and cniVersion, the previous result when there is one, and runtimeConfig for the capabilities it declares.
 */
export function buildPluginConfig(
  list: Pick<NetworkConfigList, 'name' | 'cniVersion'>,
  plugin: PluginConf,
  opts: { prevResult?: JsonObject; capabilityArgs?: JsonObject; extra?: JsonObject } = {},
): JsonObject {
  const out: JsonObject = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  if (opts.prevResult !== undefined) out.prevResult = opts.prevResult;
  const caps = isObject(plugin.capabilities) ? plugin.capabilities : {};
  const rc: JsonObject = {};
  for (const [cap, enabled] of Object.entries(caps)) {
    if (enabled === true && opts.capabilityArgs && cap in opts.capabilityArgs) rc[cap] = opts.capabilityArgs[cap];
  }
  if (Object.keys(rc).length > 0) {
    out.runtimeConfig = { ...(isObject(plugin.runtimeConfig) ? plugin.runtimeConfig : {}), ...rc };
  }
  if (opts.extra) Object.assign(out, opts.extra);
  return out;
}

/** Capability names that at least one plugin of the list declares. */
export function declaredCapabilities(list: NetworkConfigList): Set<string> {
  const caps = new Set<string>();
  for (const p of list.plugins) {
    if (isObject(p.capabilities)) for (const [k, v] of Object.entries(p.capabilities)) if (v === true) caps.add(k);
  }
  return caps;
}
