/** host-local's on-disk state: one file per leased address under <dataDir>/<network>/. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isIP } from 'node:net';

export interface Lease {
  network: string;
  address: string;
  containerId: string;
  ifname: string;
}

/** Every lease under dataDir (all networks). Files that are not addresses (lock, last_reserved_ip.0) are skipped. */
export async function leases(dataDir: string): Promise<Lease[]> {
  const out: Lease[] = [];
  let nets: string[];
  try {
    nets = await readdir(dataDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  for (const network of nets) {
    let names: string[];
    try {
      names = await readdir(join(dataDir, network));
    } catch {
      continue;
    }
    for (const address of names) {
      if (isIP(address) === 0) continue;
      const [containerId = '', ifname = ''] = (await readFile(join(dataDir, network, address), 'utf8')).split(/\r?\n/);
      out.push({ network, address, containerId: containerId.trim(), ifname: ifname.trim() });
    }
  }
  return out;
}
