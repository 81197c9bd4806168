/** Network configs the tests use. Never ipMasq, never isGateway: they would change the host (NAT, ip_forward). */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type Json = Record<string, unknown>;

export function hostLocal(subnet: string, dataDir: string): Json {
  return { type: 'host-local', subnet, dataDir };
}

/** A bridge plugin object (for a conflist) on bridge `bridge`, addresses from host-local in `subnet`. */
export function bridgePlugin(bridge: string, subnet: string, dataDir: string): Json {
  return { type: 'bridge', bridge, isGateway: false, isDefaultGateway: false, ipMasq: false, ipam: hostLocal(subnet, dataDir) };
}

/** A single-plugin bridge config. */
export function bridgeConf(o: { name: string; bridge: string; subnet: string; dataDir: string; cniVersion?: string }): Json {
  return { cniVersion: o.cniVersion ?? '1.0.0', name: o.name, ...bridgePlugin(o.bridge, o.subnet, o.dataDir) };
}

export function conflist(name: string, plugins: Json[], cniVersion = '1.0.0'): Json {
  return { cniVersion, name, plugins };
}

/** Write a config (object, or raw text for bad-input tests) to dir/file and return its path. */
export async function writeConf(dir: string, file: string, conf: Json | string): Promise<string> {
  const path = join(dir, file);
  await writeFile(path, typeof conf === 'string' ? conf : `${JSON.stringify(conf, null, 2)}\n`);
  return path;
}
