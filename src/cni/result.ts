/**
 * CNI ADD results: validation, conversion between spec versions, and a version-independent summary.
 *
 * Three result shapes exist (SPEC.md "Result" and libcni's pkg/types/020, 040, 100):
 *   - 0.1.0, 0.2.0:         { ip4?: {ip, gateway?, routes?}, ip6?: {...}, dns? }
 *   - 0.3.0, 0.3.1, 0.4.0:  { interfaces?, ips?: [{version, interface?, address, gateway?}], routes?, dns? }
 *   - 1.0.0, 1.1.0:         like 0.4.0 without ips[].version; interfaces may carry mtu and socketPath;
 *                           1.1.0 adds interface pciID and route mtu/advmss/priority/table/scope.
 *
 * Pure module: no I/O. Malformed input raises ResultError.
 */

import { isIPv4, isIPv6 } from 'node:net';
import { atLeast, isKnownVersion, KNOWN_VERSIONS, type CniVersion } from './version.js';

export type JsonObject = Record<string, unknown>;

/** A result that is not what the CNI spec says it should be, or that cannot be converted. */
export class ResultError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ResultError';
  }
}

export interface ResultSummary {
  interfaces: { name: string; mac?: string; sandbox?: string; mtu?: number }[];
  ips: { address: string; gateway?: string; family: 4 | 6; interface?: string }[];
  routes: { dst: string; gw?: string }[];
  dns: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
}

// ---------------------------------------------------------------------------------------------
// Version families

type Shape = 'legacy' | 'v04' | 'v1';

function shapeOf(v: CniVersion): Shape {
  if (!atLeast(v, '0.3.0')) return 'legacy';
  if (!atLeast(v, '1.0.0')) return 'v04';
  return 'v1';
}

// ---------------------------------------------------------------------------------------------
// Small validators. `at` is a JSON-path-like location used in messages.

function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Address family of a plain IP (no zone, no prefix), or undefined if it is not one. */
function ipFamily(s: string): 4 | 6 | undefined {
  if (isIPv4(s)) return 4;
  // Go's net.ParseIP (used by libcni) rejects zoned addresses such as fe80::1%eth0.
  if (!s.includes('%') && isIPv6(s)) return 6;
  return undefined;
}

/** Address family of "address/prefix", or undefined if it is not a valid CIDR. */
function cidrFamily(s: string): 4 | 6 | undefined {
  const slash = s.indexOf('/');
  if (slash < 0 || slash !== s.lastIndexOf('/')) return undefined;
  const fam = ipFamily(s.slice(0, slash));
  const prefix = s.slice(slash + 1);
  if (fam === undefined || !/^\d{1,3}$/.test(prefix)) return undefined;
  const n = Number(prefix);
  return n <= (fam === 4 ? 32 : 128) ? fam : undefined;
}

class Validator {
  constructor(private readonly version: string) {}

  fail(at: string, what: string): never {
    throw new ResultError(`invalid CNI ${this.version} result: ${at} ${what}`);
  }

  /** Optional fields: absent or JSON null both count as "not given" (as with Go's decoder). */
  given(obj: JsonObject, key: string): boolean {
    return obj[key] !== undefined && obj[key] !== null;
  }

  object(v: unknown, at: string): JsonObject {
    if (!isPlainObject(v)) this.fail(at, `must be an object, got ${describe(v)}`);
    return v;
  }

  array(v: unknown, at: string): unknown[] {
    if (!Array.isArray(v)) this.fail(at, `must be an array, got ${describe(v)}`);
    return v;
  }

  string(v: unknown, at: string): string {
    if (typeof v !== 'string') this.fail(at, `must be a string, got ${describe(v)}`);
    return v;
  }

  stringArray(v: unknown, at: string): string[] {
    const arr = this.array(v, at);
    arr.forEach((x, i) => this.string(x, `${at}[${i}]`));
    return arr as string[];
  }

  integer(v: unknown, at: string, min?: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(at, `must be an integer, got ${describe(v)}`);
    if (min !== undefined && v < min) this.fail(at, `must be >= ${min}, got ${v}`);
    return v;
  }

  cidr(v: unknown, at: string): 4 | 6 {
    const s = this.string(v, at);
    const fam = cidrFamily(s);
    if (fam === undefined) this.fail(at, `${JSON.stringify(s)} is not a valid CIDR (address/prefix)`);
    return fam;
  }

  ip(v: unknown, at: string): 4 | 6 {
    const s = this.string(v, at);
    const fam = ipFamily(s);
    if (fam === undefined) this.fail(at, `${JSON.stringify(s)} is not a valid IP address`);
    return fam;
  }

  optString(obj: JsonObject, key: string, at: string): void {
    if (this.given(obj, key)) this.string(obj[key], `${at}.${key}`);
  }

  optInteger(obj: JsonObject, key: string, at: string, min?: number): void {
    if (this.given(obj, key)) this.integer(obj[key], `${at}.${key}`, min);
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function validateRoute(val: Validator, v: unknown, at: string, version: CniVersion): void {
  const r = val.object(v, at);
  if (!val.given(r, 'dst')) val.fail(`${at}.dst`, 'is required');
  val.cidr(r.dst, `${at}.dst`);
  if (val.given(r, 'gw')) val.ip(r.gw, `${at}.gw`);
  if (atLeast(version, '1.1.0')) {
    val.optInteger(r, 'mtu', at, 0);
    val.optInteger(r, 'advmss', at, 0);
    val.optInteger(r, 'priority', at, 0);
    val.optInteger(r, 'table', at, 0);
    val.optInteger(r, 'scope', at, 0);
  }
}

function validateRoutes(val: Validator, v: unknown, at: string, version: CniVersion): void {
  val.array(v, at).forEach((r, i) => validateRoute(val, r, `${at}[${i}]`, version));
}

function validateDns(val: Validator, v: unknown): void {
  const dns = val.object(v, 'dns');
  for (const key of ['nameservers', 'search', 'options']) {
    if (val.given(dns, key)) val.stringArray(dns[key], `dns.${key}`);
  }
  val.optString(dns, 'domain', 'dns');
}

function validateLegacy(val: Validator, obj: JsonObject, version: CniVersion): void {
  for (const [key, fam] of [
    ['ip4', 4],
    ['ip6', 6],
  ] as const) {
    if (!val.given(obj, key)) continue;
    const cfg = val.object(obj[key], key);
    if (!val.given(cfg, 'ip')) val.fail(`${key}.ip`, 'is required');
    const got = val.cidr(cfg.ip, `${key}.ip`);
    if (got !== fam) val.fail(`${key}.ip`, `${JSON.stringify(cfg.ip)} is not an IPv${fam} CIDR`);
    if (val.given(cfg, 'gateway')) val.ip(cfg.gateway, `${key}.gateway`);
    if (val.given(cfg, 'routes')) validateRoutes(val, cfg.routes, `${key}.routes`, version);
  }
}

function validateModern(val: Validator, obj: JsonObject, version: CniVersion, shape: Shape): void {
  let ifCount = 0;
  if (val.given(obj, 'interfaces')) {
    const ifs = val.array(obj.interfaces, 'interfaces');
    ifCount = ifs.length;
    ifs.forEach((x, i) => {
      const at = `interfaces[${i}]`;
      const intf = val.object(x, at);
      if (!val.given(intf, 'name')) val.fail(`${at}.name`, 'is required');
      if (val.string(intf.name, `${at}.name`) === '') val.fail(`${at}.name`, 'must not be empty');
      val.optString(intf, 'mac', at);
      val.optString(intf, 'sandbox', at);
      if (shape === 'v1') {
        val.optInteger(intf, 'mtu', at, 0);
        val.optString(intf, 'socketPath', at);
      }
      if (atLeast(version, '1.1.0')) val.optString(intf, 'pciID', at);
    });
  }
  if (val.given(obj, 'ips')) {
    val.array(obj.ips, 'ips').forEach((x, i) => {
      const at = `ips[${i}]`;
      const ip = val.object(x, at);
      if (!val.given(ip, 'address')) val.fail(`${at}.address`, 'is required');
      const fam = val.cidr(ip.address, `${at}.address`);
      if (shape === 'v04') {
        if (ip.version !== '4' && ip.version !== '6') {
          val.fail(`${at}.version`, `must be "4" or "6", got ${ip.version === undefined ? 'nothing' : describe(ip.version)}`);
        }
        if (ip.version !== String(fam)) {
          val.fail(`${at}.version`, `is "${ip.version}" but address ${JSON.stringify(ip.address)} is IPv${fam}`);
        }
      }
      if (val.given(ip, 'interface')) {
        const idx = val.integer(ip.interface, `${at}.interface`);
        if (idx < 0 || idx >= ifCount) {
          val.fail(`${at}.interface`, `index ${idx} is out of range (the result has ${ifCount} interface(s))`);
        }
      }
      if (val.given(ip, 'gateway')) val.ip(ip.gateway, `${at}.gateway`);
    });
  }
  if (val.given(obj, 'routes')) validateRoutes(val, obj.routes, 'routes', version);
}

function validate(raw: unknown): { obj: JsonObject & { cniVersion: CniVersion }; version: CniVersion } {
  if (!isPlainObject(raw)) throw new ResultError(`invalid CNI result: expected a JSON object, got ${describe(raw)}`);
  const v = raw.cniVersion;
  if (v === undefined || v === null || v === '') throw new ResultError('invalid CNI result: cniVersion is missing');
  if (!isKnownVersion(v)) {
    throw new ResultError(`invalid CNI result: unknown cniVersion ${describe(v)} (known: ${KNOWN_VERSIONS.join(', ')})`);
  }
  const val = new Validator(v);
  const shape = shapeOf(v);
  if (shape === 'legacy') validateLegacy(val, raw, v);
  else validateModern(val, raw, v, shape);
  if (val.given(raw, 'dns')) validateDns(val, raw.dns);
  return { obj: raw as JsonObject & { cniVersion: CniVersion }, version: v };
}

// ---------------------------------------------------------------------------------------------
// Public API

/** Validate a result of any known version; returns the same object, typed. */
export function parseResult(raw: unknown): JsonObject & { cniVersion: string } {
  return validate(raw).obj;
}

// Internal, version-independent model used for conversion. Only fields some spec version defines
// are carried over (as libcni does, since it decodes into typed structs).
interface ModelIp {
  address: string;
  family: 4 | 6;
  gateway?: string;
  interface?: number;
}
interface Model {
  interfaces: JsonObject[];
  ips: ModelIp[];
  routes: JsonObject[];
  dns?: JsonObject;
}

const IFACE_FIELDS_04 = ['name', 'mac', 'sandbox'] as const;
const IFACE_FIELDS_100 = [...IFACE_FIELDS_04, 'mtu', 'socketPath'] as const;
const IFACE_FIELDS_110 = [...IFACE_FIELDS_100, 'pciID'] as const;
const ROUTE_FIELDS_BASE = ['dst', 'gw'] as const;
const ROUTE_FIELDS_110 = [...ROUTE_FIELDS_BASE, 'mtu', 'advmss', 'priority', 'table', 'scope'] as const;
const DNS_FIELDS = ['nameservers', 'domain', 'search', 'options'] as const;

function given(v: unknown): boolean {
  return v !== undefined && v !== null;
}

/** A copy of `obj` holding only `fields` that are given (deep-copied). */
function pick(obj: JsonObject, fields: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const f of fields) {
    if (given(obj[f])) out[f] = structuredClone(obj[f]);
  }
  return out;
}

function asObjects(v: unknown): JsonObject[] {
  return Array.isArray(v) ? (v as JsonObject[]) : [];
}

function routeFields(v: CniVersion): readonly string[] {
  return atLeast(v, '1.1.0') ? ROUTE_FIELDS_110 : ROUTE_FIELDS_BASE;
}

function ifaceFields(v: CniVersion): readonly string[] {
  if (atLeast(v, '1.1.0')) return IFACE_FIELDS_110;
  if (atLeast(v, '1.0.0')) return IFACE_FIELDS_100;
  return IFACE_FIELDS_04;
}

/** Build the model from an already validated result (fields the source version lacks are ignored). */
function toModel(obj: JsonObject, version: CniVersion): Model {
  const model: Model = { interfaces: [], ips: [], routes: [] };
  const rf = routeFields(version);
  if (shapeOf(version) === 'legacy') {
    for (const [key, family] of [
      ['ip4', 4],
      ['ip6', 6],
    ] as const) {
      const cfg = obj[key];
      if (!isPlainObject(cfg)) continue;
      const ip: ModelIp = { address: cfg.ip as string, family };
      if (given(cfg.gateway)) ip.gateway = cfg.gateway as string;
      model.ips.push(ip);
      for (const r of asObjects(cfg.routes)) model.routes.push(pick(r, rf));
    }
  } else {
    const iff = ifaceFields(version);
    model.interfaces = asObjects(obj.interfaces).map((i) => pick(i, iff));
    for (const x of asObjects(obj.ips)) {
      const address = x.address as string;
      const ip: ModelIp = { address, family: cidrFamily(address)! };
      if (given(x.interface)) ip.interface = x.interface as number;
      if (given(x.gateway)) ip.gateway = x.gateway as string;
      model.ips.push(ip);
    }
    model.routes = asObjects(obj.routes).map((r) => pick(r, rf));
  }
  if (isPlainObject(obj.dns)) model.dns = pick(obj.dns, DNS_FIELDS);
  return model;
}

function fromModel(model: Model, to: CniVersion): JsonObject & { cniVersion: string } {
  const out: JsonObject & { cniVersion: string } = { cniVersion: to };
  const shape = shapeOf(to);
  const rf = routeFields(to);
  if (shape === 'legacy') {
    // Only the first address of each family survives: 0.2.0 and earlier hold one of each.
    const v4 = model.ips.find((i) => i.family === 4);
    const v6 = model.ips.find((i) => i.family === 6);
    if (!v4 && !v6) throw new ResultError(`cannot convert CNI result to ${to}: it has no IP addresses`);
    const cfgs = new Map<4 | 6, JsonObject>();
    for (const [key, ip] of [
      ['ip4', v4],
      ['ip6', v6],
    ] as const) {
      if (!ip) continue;
      const cfg: JsonObject = { ip: ip.address };
      if (ip.gateway !== undefined) cfg.gateway = ip.gateway;
      out[key] = cfg;
      cfgs.set(ip.family, cfg);
    }
    // Each route goes to the config of its destination's family; dropped if that family has no IP.
    for (const r of model.routes) {
      const cfg = cfgs.get(cidrFamily(r.dst as string)!);
      if (!cfg) continue;
      const routes = (cfg.routes ??= []) as JsonObject[];
      routes.push(pick(r, rf));
    }
  } else {
    const iff = ifaceFields(to);
    if (model.interfaces.length > 0) out.interfaces = model.interfaces.map((i) => pick(i, iff));
    if (model.ips.length > 0) {
      out.ips = model.ips.map((ip) => {
        const o: JsonObject = {};
        if (shape === 'v04') o.version = String(ip.family);
        if (ip.interface !== undefined) o.interface = ip.interface;
        o.address = ip.address;
        if (ip.gateway !== undefined) o.gateway = ip.gateway;
        return o;
      });
    }
    if (model.routes.length > 0) out.routes = model.routes.map((r) => pick(r, rf));
  }
  if (model.dns) out.dns = structuredClone(model.dns);
  return out;
}

/** Legacy <-> legacy (0.1.0 <-> 0.2.0): same shape, keep each config's own routes. */
function legacyCopy(obj: JsonObject, to: CniVersion): JsonObject & { cniVersion: string } {
  const out: JsonObject & { cniVersion: string } = { cniVersion: to };
  for (const key of ['ip4', 'ip6'] as const) {
    const cfg = obj[key];
    if (!isPlainObject(cfg)) continue;
    const c = pick(cfg, ['ip', 'gateway']);
    if (Array.isArray(cfg.routes)) c.routes = asObjects(cfg.routes).map((r) => pick(r, ROUTE_FIELDS_BASE));
    out[key] = c;
  }
  if (isPlainObject(obj.dns)) out.dns = pick(obj.dns, DNS_FIELDS);
  return out;
}

/**
 * Convert a result to another spec version, as libcni's GetAsVersion does. Returns a new object
 * (the input is never modified). Same version gives a deep copy, unknown fields included;
 * otherwise only the fields the target version defines are kept.
 */
export function convertResult(raw: unknown, toVersion: string): JsonObject & { cniVersion: string } {
  const { obj, version } = validate(raw);
  if (!isKnownVersion(toVersion)) {
    throw new ResultError(
      `cannot convert CNI result: unknown target version ${describe(toVersion)} (known: ${KNOWN_VERSIONS.join(', ')})`,
    );
  }
  if (version === toVersion) return structuredClone(obj);
  if (shapeOf(version) === 'legacy' && shapeOf(toVersion) === 'legacy') return legacyCopy(obj, toVersion);
  return fromModel(toModel(obj, version), toVersion);
}

/** A version-independent view of a result. Throws ResultError on malformed input. */
export function summarizeResult(raw: unknown): ResultSummary {
  const { obj, version } = validate(raw);
  const model = toModel(obj, version);
  const interfaces = model.interfaces.map((i) => {
    const s: ResultSummary['interfaces'][number] = { name: i.name as string };
    if (typeof i.mac === 'string') s.mac = i.mac;
    if (typeof i.sandbox === 'string') s.sandbox = i.sandbox;
    if (typeof i.mtu === 'number') s.mtu = i.mtu;
    return s;
  });
  const ips = model.ips.map((ip) => {
    const s: ResultSummary['ips'][number] = { address: ip.address, family: ip.family };
    if (ip.gateway !== undefined) s.gateway = ip.gateway;
    const name = ip.interface === undefined ? undefined : interfaces[ip.interface]?.name;
    if (name !== undefined) s.interface = name;
    return s;
  });
  const routes = model.routes.map((r) => {
    const s: ResultSummary['routes'][number] = { dst: r.dst as string };
    if (typeof r.gw === 'string') s.gw = r.gw;
    return s;
  });
  const dns: ResultSummary['dns'] = {};
  if (model.dns) {
    const d = model.dns;
    if (Array.isArray(d.nameservers)) dns.nameservers = d.nameservers as string[];
    if (typeof d.domain === 'string') dns.domain = d.domain;
    if (Array.isArray(d.search)) dns.search = d.search as string[];
    if (Array.isArray(d.options)) dns.options = d.options as string[];
  }
  return { interfaces, ips, routes, dns };
}

/**
 * The interface the result places inside the container (it has a non-empty `sandbox`) and is named
 * `ifname`; undefined when there is none (always for 0.1.0/0.2.0 results, which list no interfaces).
 */
export function sandboxInterface(
  raw: unknown,
  ifname: string,
): { name: string; mac?: string; sandbox?: string } | undefined {
  const { interfaces } = summarizeResult(raw);
  const found = interfaces.find((i) => i.name === ifname && i.sandbox !== undefined && i.sandbox !== '');
  if (!found) return undefined;
  const out: { name: string; mac?: string; sandbox?: string } = { name: found.name };
  if (found.mac !== undefined) out.mac = found.mac;
  out.sandbox = found.sandbox;
  return out;
}
