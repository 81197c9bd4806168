/**
 * The listing of table nat that portmap's check asks of a node (cni/attach.ts natListing) run for real under the
 * shells a node may have (dash, busybox sh, bash), against a stand-in iptables on PATH that lists a table as a node
 * whose kube-proxy uses iptables does: thousands of KUBE-* rules beside portmap's few. What reaches the engine is cut
 * on the node to portmap's chain definitions and CNI-HOSTPORT-DNAT's jumps; iptables' own exit status and stderr pass
 * unchanged, a tool not on PATH is 127, and a node without grep gets the whole listing.
 */
import { chmod, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { natListing } from '../../src/cni/attach.js';

const PORTMAP_LINES = [
  '-N CNI-DN-130585e3249fdac1b556f',
  '-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"pmnet\\" id: \\"x\\"" -m multiport --dports 18080 -j CNI-DN-130585e3249fdac1b556f',
];

/** A table nat as `iptables -S` lists it on a kube-proxy node: policies, KUBE-* chains and rules, portmap's lines. */
function bigTable(services: number): string {
  const lines = ['-P PREROUTING ACCEPT', '-P INPUT ACCEPT', '-P OUTPUT ACCEPT', '-P POSTROUTING ACCEPT', '-N CNI-HOSTPORT-DNAT', '-N KUBE-SERVICES', PORTMAP_LINES[0]!];
  for (let i = 0; i < services; i++) {
    lines.push(`-N KUBE-SVC-${String(i).padStart(16, '0')}`, `-A KUBE-SERVICES -d 10.96.${i >> 8}.${i & 255}/32 -p tcp -m comment --comment "ns/svc-${i}:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-${String(i).padStart(16, '0')}`);
  }
  lines.push('-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT', PORTMAP_LINES[1]!, '-A CNI-DN-130585e3249fdac1b556f -p tcp -m tcp --dport 18080 -j DNAT --to-destination 198.18.0.9:80');
  return `${lines.join('\n')}\n`;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cni-attach-natlisting-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A directory of stand-in tools: iptables printing `out` to stdout and `err` to stderr, exiting `code`; logs its args. */
async function fakeIptables(out: string, err = '', code = 0): Promise<string> {
  const bin = join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  await writeFile(join(dir, 'out'), out);
  await writeFile(join(dir, 'err'), err);
  await writeFile(join(bin, 'iptables'), `#!/bin/sh\necho "$*" >> '${join(dir, 'log')}'\n/bin/cat '${join(dir, 'out')}'; /bin/cat '${join(dir, 'err')}' >&2; exit ${code}\n`);
  await chmod(join(bin, 'iptables'), 0o755);
  return bin;
}

/**
 * Run natListing('iptables') under `shell` (in argv[0]'s place) with PATH as given, stdin /dev/null (Node's stdio pipes
 * are socket pairs, and Debian's bash reads ~/.bashrc when its stdin is a socket, as under rshd/sshd).
 */
async function listUnder(shell: string[], path: string) {
  const argv = natListing('iptables');
  expect(argv[0]).toBe('sh');
  return execa(shell[0]!, [...shell.slice(1), ...argv.slice(1)], { env: { PATH: path }, extendEnv: false, reject: false, stripFinalNewline: false, stdin: 'ignore' });
}

const SHELLS: [string, string[]][] = [
  ['dash', ['/usr/bin/dash']],
  ['busybox sh', ['/usr/bin/busybox', 'sh']],
  ['bash', ['/usr/bin/bash']],
];

describe.each(SHELLS)('portmap\'s listing of table nat under %s', (_name, shell) => {
  it('keeps only portmap\'s chain definitions and the jumps of CNI-HOSTPORT-DNAT of a kube-proxy node\'s table (thousands of rules): the answer is a few lines, not megabytes', async () => {
    const table = bigTable(5000);
    expect(table.length).toBeGreaterThan(500_000);
    const bin = await fakeIptables(table);
    const r = await listUnder(shell, `${bin}:/usr/bin:/bin`);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${PORTMAP_LINES.join('\n')}\n`);
    expect(r.stderr).toBe('');
  });

  it('iptables\' own failure passes unchanged: its exit status and its stderr', async () => {
    const bin = await fakeIptables('', 'iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)\n', 4);
    const r = await listUnder(shell, `${bin}:/usr/bin:/bin`);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toBe('iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)\n');
    expect(r.stdout).toBe('');
  });

  it('no table nat: iptables\' "Table does not exist" and its status pass', async () => {
    const bin = await fakeIptables('', 'iptables v1.8.9 (legacy): can\'t initialize iptables table `nat\': Table does not exist (do you need to insmod?)\n', 3);
    const r = await listUnder(shell, `${bin}:/usr/bin:/bin`);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain('Table does not exist');
  });

  it('iptables not on the node\'s PATH: 127, as for any command', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty);
    for (const d of ['/usr/bin', '/bin']) expect(existsSync(join(d, 'iptables')), `${d}/iptables on this host`).toBe(false);
    const r = await listUnder(shell, `${empty}:/usr/bin:/bin`);
    expect(r.exitCode).toBe(127);
  });

  it('a node without grep on its PATH gets the whole listing, which says the same (busybox sh runs its own grep applet all the same)', async () => {
    const table = bigTable(3);
    const bin = await fakeIptables(table);
    // a PATH of the stand-in iptables alone: no grep on it (printf and command are builtins of each shell)
    const r = await listUnder(shell, bin);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe(shell[0] === '/usr/bin/busybox' ? `${PORTMAP_LINES.join('\n')}\n` : table);
  });
});
