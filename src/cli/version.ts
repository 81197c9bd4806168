/**
 * The version of cni-attach, baked into the bundle by scripts/bundle.mjs (esbuild `define` from package.json), and
 * what is derived from it: --version's text and JSON, and the User-Agent of every API request.
 */
declare const __CNI_ATTACH_VERSION__: string | undefined;

/** The release's version ("v0.2.0") that a single executable's main script (scripts/sea-main.cjs) sets. */
const released = (globalThis as Record<symbol, unknown>)[Symbol.for('cni-attach.release-version')];

/**
 * "0.1.0": in a release's single executable, the release's version (without its v); in a bundle, package.json's;
 * "0.0.0-dev" when run from the sources (tests).
 */
export const VERSION: string =
  typeof released === 'string' ? released.replace(/^v/, '') : typeof __CNI_ATTACH_VERSION__ === 'string' ? __CNI_ATTACH_VERSION__ : '0.0.0-dev';

/** Go's GOOS/GOARCH names, as kubectl prints its platform (linux/amd64). */
export function platform(os: string = process.platform, arch: string = process.arch): string {
  const goArch: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
  return `${os === 'win32' ? 'windows' : os}/${goArch[arch] ?? arch}`;
}

/** "cni-attach/v0.1.0 (linux/amd64)": kubectl's User-Agent shape (client-go DefaultKubernetesUserAgent) for us. */
export function userAgent(): string {
  return `cni-attach/v${VERSION} (${platform()})`;
}

/**
 * --version: "cni-attach v0.1.0 (linux/amd64, node v20.19.0)", or with -o json / yaml the object
 * {"clientVersion": {"gitVersion": "v0.1.0", "platform": "linux/amd64", "nodeVersion": "v20.19.0"}} — the shape of
 * `kubectl version --client -o json`, with the fields that mean something for a Node program.
 */
export function versionData(): { clientVersion: { gitVersion: string; platform: string; nodeVersion: string } } {
  return { clientVersion: { gitVersion: `v${VERSION}`, platform: platform(), nodeVersion: process.version } };
}

export function versionText(): string {
  return `cni-attach v${VERSION} (${platform()}, node ${process.version})\n`;
}
