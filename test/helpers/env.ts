/**
 * Where things are, and the preflight every integration file runs first. Integration tests must FAIL (not skip)
 * when the environment cannot run them, so requireRoot() throws a message that says what is missing.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CNI_DIR = '/usr/lib/cni';

export const BIN = {
  attach: join(ROOT, 'bin/kubectl-cni_attach'),
  detach: join(ROOT, 'bin/kubectl-cni_detach'),
  check: join(ROOT, 'bin/kubectl-cni_check'),
  list: join(ROOT, 'bin/kubectl-cni_list'),
  gc: join(ROOT, 'bin/kubectl-cni_gc'),
} as const;
export type Tool = keyof typeof BIN;

const PLUGINS = ['bridge', 'host-local', 'macvlan', 'tuning', 'bandwidth'];
const COMMANDS = ['ip', 'tc', 'nsenter', 'ping', 'pgrep', 'sysctl'];

function executable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(cmd: string): boolean {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return [...dirs, '/usr/sbin', '/sbin'].some((d) => executable(join(d, cmd)));
}

/** Throws a clear error unless this is Linux, we are root, the CNI plugins and tools are here and the CLI is built. */
export function requireRoot(): void {
  const problems: string[] = [];
  if (process.platform !== 'linux') problems.push(`this is ${process.platform}: network namespaces need Linux`);
  if (process.getuid?.() !== 0) {
    problems.push('not running as root (uid 0): creating network namespaces and running CNI plugins needs root');
  }
  for (const p of PLUGINS) {
    if (!executable(join(CNI_DIR, p))) problems.push(`${CNI_DIR}/${p} is missing (install the Debian package containernetworking-plugins)`);
  }
  for (const c of COMMANDS) if (!onPath(c)) problems.push(`command "${c}" is not on PATH (iproute2, util-linux, iputils-ping, procps)`);
  for (const [tool, bin] of Object.entries(BIN)) {
    const js = join(ROOT, 'dist/bundle', `${tool}.js`);
    if (!executable(bin)) problems.push(`${bin} is missing or not executable`);
    try {
      statSync(js);
    } catch {
      problems.push(`${js} is missing: build first with "npm run build"`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`integration tests cannot run here:\n  - ${problems.join('\n  - ')}`);
  }
}
