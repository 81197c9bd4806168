/**
 * krew's rules for a plugin manifest, written down from krew's source (sigs.k8s.io/krew, read through the search
 * tool: internal/index/validation/validate.go ValidatePlugin/validatePlatform/validateSelector/validateFiles,
 * internal/installation/semver, internal/installation/move.go, pkg/constants) and krew-index's review rules
 * (homepage required, shortDescription short). krew itself is not installable here.
 *
 * validateKrewPlugin(name, manifest) → the list of problems (empty when krew would accept it). `name` is the file's
 * name without .yaml (krew requires metadata.name to equal it).
 */

/** krew's IsSafePluginName: `^[\w-]+$`, and not a Windows device name. */
const SAFE_NAME = /^[\w-]+$/;
const WINDOWS_FORBIDDEN = ['CON', 'PRN', 'AUX', 'NUL', ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((i) => [`COM${i}`, `LPT${i}`])];
/** krew's semver: github.com/Masterminds-like parse of a version that must start with v (internal/installation/semver). */
const SEMVER_V = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
const SHA256 = /^[a-f0-9]{64}$/;
/** Go's filepath.Clean of a relative slash path (what move.go requires `to` to be already). */
function cleanPath(p: string): string {
  const parts: string[] = [];
  for (const s of p.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..' && parts.length && parts[parts.length - 1] !== '..') parts.pop();
    else parts.push(s);
  }
  const out = (p.startsWith('/') ? '/' : '') + parts.join('/');
  return out || (p.startsWith('/') ? '/' : '.');
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function validateKrewPlugin(name: string, m: unknown): string[] {
  const errs: string[] = [];
  if (!isObj(m)) return ['the manifest is not a mapping'];
  if (m.apiVersion !== 'krew.googlecontainertools.github.com/v1alpha2') errs.push(`apiVersion ${String(m.apiVersion)} is not krew.googlecontainertools.github.com/v1alpha2`);
  if (m.kind !== 'Plugin') errs.push(`kind ${String(m.kind)} is not Plugin`);
  if (!SAFE_NAME.test(name) || WINDOWS_FORBIDDEN.some((w) => w.toLowerCase() === name.toLowerCase())) errs.push(`plugin name ${name} is not allowed (must match ^[\\w-]+$)`);
  const meta = isObj(m.metadata) ? m.metadata : {};
  if (meta.name !== name) errs.push(`metadata.name ${String(meta.name)} is not the file's name ${name}`);
  const spec = isObj(m.spec) ? m.spec : {};
  const short = spec.shortDescription;
  if (typeof short !== 'string' || short === '') errs.push('spec.shortDescription is missing');
  else {
    if (/[\r\n]/.test(short)) errs.push('spec.shortDescription has a line break');
    if (short.length > 50) errs.push(`spec.shortDescription is ${short.length} characters (krew-index: at most 50)`);
  }
  if (typeof spec.homepage !== 'string' || !/^https?:\/\/\S+$/.test(spec.homepage)) errs.push('spec.homepage is missing or not an http(s) URL (krew-index requires one)');
  if (typeof spec.version !== 'string' || spec.version === '') errs.push('spec.version is missing');
  else if (!SEMVER_V.test(spec.version)) errs.push(`spec.version ${spec.version} is not a semantic version with a leading v`);
  const platforms = spec.platforms;
  if (!Array.isArray(platforms) || platforms.length === 0) errs.push('spec.platforms: at least one platform is required');
  else
    platforms.forEach((p, i) => {
      const at = `spec.platforms[${i}]`;
      if (!isObj(p)) return errs.push(`${at} is not a mapping`);
      if (typeof p.uri !== 'string' || p.uri === '') errs.push(`${at}.uri has to be set`);
      if (typeof p.sha256 !== 'string' || p.sha256 === '') errs.push(`${at}.sha256 has to be set`);
      else if (!SHA256.test(p.sha256)) errs.push(`${at}.sha256 ${p.sha256} does not match ^[a-f0-9]{64}$`);
      if (typeof p.bin !== 'string' || p.bin === '') errs.push(`${at}.bin has to be set`);
      if (p.files !== undefined) {
        if (!Array.isArray(p.files) || p.files.length === 0) errs.push(`${at}.files has to be unspecified or non-empty`);
        else
          p.files.forEach((f, j) => {
            if (!isObj(f) || typeof f.from !== 'string' || f.from === '') errs.push(`${at}.files[${j}].from has to be set`);
            if (!isObj(f) || typeof f.to !== 'string' || f.to === '') errs.push(`${at}.files[${j}].to has to be set`);
            else if (cleanPath(f.to) !== f.to) errs.push(`${at}.files[${j}].to ${f.to} is not clean (${cleanPath(f.to)})`);
          });
      }
      const sel = p.selector;
      if (!isObj(sel)) return errs.push(`${at}.selector: a nil selector is not supported`);
      const labels = sel.matchLabels;
      const exprs = sel.matchExpressions;
      if (labels === undefined && (!Array.isArray(exprs) || exprs.length === 0)) errs.push(`${at}.selector is empty`);
      if (labels !== undefined && (!isObj(labels) || Object.keys(labels).length === 0)) errs.push(`${at}.selector.matchLabels specified but empty`);
      if (exprs !== undefined && (!Array.isArray(exprs) || exprs.length === 0)) errs.push(`${at}.selector.matchExpressions specified but empty`);
      const keys = [...(isObj(labels) ? Object.keys(labels) : []), ...(Array.isArray(exprs) ? exprs.map((e) => (isObj(e) ? String(e.key) : '')) : [])];
      for (const k of keys) if (k !== 'os' && k !== 'arch') errs.push(`${at}.selector: key ${k} is not supported (os, arch)`);
    });
  return errs;
}
