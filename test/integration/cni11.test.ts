/**
 * CNI 1.1 through the real CLI with a plugin that speaks it (a script: the Debian plugins stop at 1.0.0): STATUS
 * before every ADD (a plugin that is not ready stops the attach before anything is done), and GC with
 * cni.dev/valid-attachments from cni-gc. The plugin only records what it is asked; no interface is made.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectCleanError, expectOk, runCli, show, spawnCli } from '../helpers/cli.js';
import { writeConf } from '../helpers/confs.js';
import { fakePlugin } from '../helpers/fake-plugin.js';
import { lineWithCommand } from '../helpers/host-state.js';
import { attachmentFiles, useLab } from '../helpers/lab.js';
import { containerIdOf, netnsPath } from '../helpers/net.js';
import { killAll, uniqueSeconds, waitFor } from '../helpers/sh.js';

const lab = useLab('ce');

/**
 * hang: the ADD of that ifname touches `started` and sleeps until killed (every such sleep matches `pattern`).
 * slow: the ADD of that ifname logs "ADD start <ifname>", then waits until the file `release` appears (at most 30s).
 * leases: ADD writes a lease file <ws>/leases/<ifname> (as host-local keeps one per address), DEL removes it, and GC
 * logs "GC start", waits until the file `release` appears (at most 30s), removes every lease whose ifname is not among
 * cni.dev/valid-attachments (as host-local's GC frees what it was not told is valid), then logs "GC end".
 */
async function setup(o: { hang?: { ifname: string; started: string; marker: string }; slow?: { ifname: string; release: string }; leases?: { release: string } } = {}) {
  const ws = await lab.workspace();
  const ns = await lab.netns();
  const log = join(ws.dir, 'calls.log');
  const notReady = join(ws.dir, 'not-ready');
  const hang = o.hang ? `if [ "$CNI_IFNAME" = ${o.hang.ifname} ]; then touch ${o.hang.started}; exec sleep ${o.hang.marker}; fi\n` : '';
  const slow = o.slow
    ? `if [ "$CNI_IFNAME" = ${o.slow.ifname} ]; then echo "ADD start $CNI_IFNAME" >> ${log}; i=0; while [ ! -e ${o.slow.release} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; fi\n`
    : '';
  const leases = join(ws.dir, 'leases');
  const lease = o.leases ? { add: `mkdir -p ${leases}; echo "$CNI_CONTAINERID" > ${leases}/$CNI_IFNAME\n`, del: `\nrm -f ${leases}/$CNI_IFNAME` } : { add: '', del: '' };
  const gc = o.leases
    ? `echo "GC start" >> ${log}
i=0; while [ ! -e ${o.leases.release} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
for f in ${leases}/*; do
  [ -e "$f" ] || continue
  n=$(basename "$f")
  case "$CONF" in *'"ifname":"'$n'"'*) ;; *) rm -f "$f"; echo "GC freed the lease of $n" >> ${log} ;; esac
done
echo "GC end" >> ${log}`
    : `echo "GC $CONF" >> ${log}`;
  await fakePlugin(ws.pluginDir, 'one11', {
    version: `echo '{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}'`,
    // the interface is made as a real plugin makes it (a link of its own in the namespace: a bridge device, which every
    // kernel here has), so that cni-gc counts the attachment alive
    add: `${hang}${slow}${lease.add}nsenter --net="$CNI_NETNS" ip link add "$CNI_IFNAME" type bridge
echo "ADD $CNI_IFNAME" >> ${log}
echo '{"cniVersion":"1.1.0","interfaces":[{"name":"'$CNI_IFNAME'","sandbox":"'$CNI_NETNS'"}],"ips":[{"interface":0,"address":"198.18.8.2/24"}]}'`,
    del: `echo "DEL $CNI_IFNAME" >> ${log}${lease.del}
if [ -n "$CNI_NETNS" ]; then nsenter --net="$CNI_NETNS" ip link del "$CNI_IFNAME" 2>/dev/null; fi
exit 0`,
    status: `echo "STATUS env=$(env | grep -c '^CNI_')" >> ${log}
if [ -e ${notReady} ]; then echo '{"cniVersion":"1.1.0","code":50,"msg":"the daemon is down"}'; exit 1; fi
exit 0`,
  });
  // GC is not in the helper's case list: add it in front of its fallback
  const path = join(ws.pluginDir, 'one11');
  const script = (await readFile(path, 'utf8')).replace(
    '*)\nexit 0',
    `GC)
${gc}
exit 0
;;
*)
exit 0`,
  );
  await writeFile(path, script, { mode: 0o755 });
  const conf = await writeConf(ws.dir, 'net11.json', { cniVersion: '1.1.0', name: lab.name('k'), type: 'one11' });
  const calls = async () => (existsSync(log) ? (await readFile(log, 'utf8')).trim().split('\n') : []);
  const leaseOf = async (ifname: string) => (existsSync(join(leases, ifname)) ? (await readFile(join(leases, ifname), 'utf8')).trim() : undefined);
  return { ws, ns, conf, calls, notReady, leaseOf, args: (...more: string[]) => [...lab.args(ws, ns, 'eth1', undefined, ws.pluginDir), ...more], argsOf: (ifname: string, ...more: string[]) => [...lab.args(ws, ns, ifname, undefined, ws.pluginDir), ...more] };
}

describe('CNI 1.1 plugins', () => {
  it('STATUS runs before ADD with only CNI_COMMAND and CNI_PATH; a plugin that is not ready stops the attach (exit 1)', async () => {
    const s = await setup();
    await writeFile(s.notReady, '');
    expectCleanError(await runCli('attach', s.args('--conf', s.conf)), 1, /plugin one11 failed on STATUS \(CNI error 50\): the daemon is down/);
    expect(await s.calls()).toEqual(['STATUS env=2']);
    expect(await attachmentFiles(s.ws.cacheDir)).toEqual([]);

    await (await import('node:fs/promises')).rm(s.notReady);
    expectOk(await runCli('attach', s.args('--conf', s.conf)));
    expect(await s.calls()).toEqual(['STATUS env=2', 'STATUS env=2', 'ADD eth1']);
  });

  it('cni-gc passes the attachments still alive to GC', async () => {
    const s = await setup();
    expectOk(await runCli('attach', s.args('--conf', s.conf)));
    const g = await runCli('gc', ['--cache-dir', s.ws.cacheDir, '--cni-path', s.ws.pluginDir]);
    expectOk(g);
    expect(g.stdout).toMatch(/CNI GC ran for network \S+\ngc: freed 0 stale attachments, 1 alive/);
    const gc = (await s.calls()).find((c) => c.startsWith('GC '))!;
    const stdin = JSON.parse(gc.slice(3));
    expect(stdin['cni.dev/valid-attachments']).toEqual([{ containerID: containerIdOf(netnsPath(s.ns)), ifname: 'eth1' }]);
    expect(stdin.cniVersion).toBe('1.1.0');
    expectOk(await runCli('detach', s.args()));
  });

  it('cni-gc while an attach is in its ADD past gc\'s --timeout: that attachment is left alone with a note, and no CNI GC runs beside the ADD (its network\'s GC left for a later run, a note), exit 0; once that attach is killed, gc frees it and GC no longer lists it', async () => {
    const started = join((await lab.workspace()).dir, 'hang.started');
    const marker = uniqueSeconds(30);
    const pattern = `^sleep ${marker.replace('.', '\\.')}$`;
    lab.defer('hanging plugin', () => killAll(pattern));
    const s = await setup({ hang: { ifname: 'eth2', started, marker } });
    const cid = containerIdOf(netnsPath(s.ns));
    const network = (JSON.parse(await readFile(s.conf, 'utf8')) as { name: string }).name;
    const gcArgs = ['--cache-dir', s.ws.cacheDir, '--cni-path', s.ws.pluginDir];
    const validOf = async (n: number) => {
      const gc = (await s.calls()).filter((c) => c.startsWith('GC '))[n]!;
      return (JSON.parse(gc.slice(3)) as Record<string, { containerID: string; ifname: string }[]>)['cni.dev/valid-attachments']!.map((a) => `${a.containerID}/${a.ifname}`).sort();
    };
    expectOk(await runCli('attach', s.argsOf('eth1', '--conf', s.conf)));
    const run = spawnCli('attach', s.argsOf('eth2', '--conf', s.conf));
    expect(await waitFor(async () => existsSync(started), 15_000), 'the attach of eth2 is in its ADD').toBe(true);

    // before: eth2 was taken for an interrupted attach: its DEL refused as busy (exit 1), and GC was given eth1 alone,
    // free to take the lease of the ADD still running; then GC ran beside that ADD, given eth2 as valid
    const g = await runCli('gc', [...gcArgs, '--timeout', '1s']);
    expectOk(g);
    expect(g.stderr, show(g)).toMatch(lineWithCommand(`note: left eth2 of netns ${netnsPath(s.ns)} (network ${network}) alone: a cni-attach/cni-detach ({cmd}) is working on it right now; a later cni-gc looks at it again`, run.pid!));
    expect(g.stderr, show(g)).toMatch(lineWithCommand(`note: CNI GC of network ${network} did not run: a cni-attach/cni-detach ({cmd}) working on eth2 of container ${cid.slice(0, 12)} in ${netnsPath(s.ns)} was still running after 1s (the plugin time limit) of waiting, and no CNI GC runs beside an ADD or DEL (CNI spec); a later cni-gc runs it`, run.pid!));
    expect(g.stdout, show(g)).toBe('gc: freed 0 stale attachments, 1 alive, 1 busy (left for a later run), CNI GC of 1 network left for a later run');
    expect((await s.calls()).filter((c) => c.startsWith('GC ')), 'no GC beside the ADD').toEqual([]);
    expect(await s.calls()).not.toContain('DEL eth2');

    run.kill('SIGKILL');
    expect((await run.done).exitCode).toBeUndefined();
    await killAll(pattern);
    const again = await runCli('gc', gcArgs);
    expectOk(again);
    expect(again.stdout).toMatch(/^freed eth2 of netns \S+ \(network \S+\): an attach of it was interrupted\nCNI GC ran for network \S+\ngc: freed 1 stale attachment, 1 alive$/);
    expect(await s.calls()).toContain('DEL eth2');
    expect(await validOf(0)).toEqual([`${cid}/eth1`]);
    expectOk(await runCli('detach', s.args()));
    expect(await attachmentFiles(s.ws.cacheDir)).toEqual([]);
  });

  it('cni-gc begun while an attach is in its ADD waits for that ADD to return before its CNI GC (SPEC.md Lifecycle & Ordering: no add in progress before gc), holding no GC lock meanwhile (another attach of the network runs at once), says so in a note, and gives GC those attachments as valid', async () => {
    const release = join((await lab.workspace()).dir, 'add.release');
    lab.defer('the ADD waiting for its release file', () => writeFile(release, ''));
    const s = await setup({ slow: { ifname: 'eth2', release } });
    const cid = containerIdOf(netnsPath(s.ns));
    const network = (JSON.parse(await readFile(s.conf, 'utf8')) as { name: string }).name;
    expectOk(await runCli('attach', s.argsOf('eth1', '--conf', s.conf)));
    const run = spawnCli('attach', s.argsOf('eth2', '--conf', s.conf));
    expect(await waitFor(async () => (await s.calls()).includes('ADD start eth2'), 15_000), 'the attach of eth2 is in its ADD').toBe(true);

    // its dry run says what the real run will wait for, and how long at most (before: nothing)
    const dry = await runCli('gc', ['--cache-dir', s.ws.cacheDir, '--cni-path', s.ws.pluginDir, '--dry-run', '--timeout', '1m']);
    expectOk(dry);
    expect(dry.stderr, show(dry)).toMatch(lineWithCommand(`note: CNI GC of network ${network} would wait for a cni-attach/cni-detach ({cmd}) working on eth2 of container ${cid.slice(0, 12)} in ${netnsPath(s.ns)} to finish, at most 1m (--timeout): no GC runs beside an ADD or DEL (CNI spec); still running then, its GC is left for a later cni-gc`, run.pid!));

    const gc = spawnCli('gc', ['--cache-dir', s.ws.cacheDir, '--cni-path', s.ws.pluginDir]);
    let gcDone = false;
    void gc.done.then(() => (gcDone = true));
    const gcLock = join(s.ws.cacheDir, 'cni-attach', 'locks', `gc:${network}.lock`);
    // before: GC ran at once, beside the ADD (given eth2 as valid from its intent)
    await new Promise((r) => setTimeout(r, 2000));
    expect((await s.calls()).filter((c) => c.startsWith('GC ')), 'no GC while the ADD runs').toEqual([]);
    expect(existsSync(gcLock), 'cni-gc waits holding no GC lock').toBe(false);
    // another attach of the network meanwhile runs at once: before, gc held the GC lock while it waited, and this
    // attach waited behind it until its --timeout (busy, exit 1)
    const other = await runCli('attach', s.argsOf('eth3', '--conf', s.conf, '--timeout', '3s'));
    expectOk(other);
    expect(other.stderr, show(other)).not.toMatch(/waited .* for a cni-gc/);
    expect(gcDone, 'cni-gc still waits for eth2').toBe(false);

    await writeFile(release, '');
    const [a, g] = await Promise.all([run.done, gc.done]);
    expectOk(a);
    expectOk(g);
    const calls = await s.calls();
    expect(calls.map((c) => (c.startsWith('GC ') ? 'GC' : c))).toEqual(['STATUS env=2', 'ADD eth1', 'STATUS env=2', 'ADD start eth2', 'STATUS env=2', 'ADD eth3', 'ADD eth2', 'GC']);
    const valid = (JSON.parse(calls.at(-1)!.slice(3)) as Record<string, { containerID: string; ifname: string }[]>)['cni.dev/valid-attachments']!;
    expect(valid.map((v) => `${v.containerID}/${v.ifname}`).sort()).toEqual([`${cid}/eth1`, `${cid}/eth2`, `${cid}/eth3`]);
    expect(g.stderr, show(g)).toMatch(new RegExp(`^note: waited \\d+\\.\\ds for a cni-attach/cni-detach \\(pid ${run.pid} on this host \\S+, running for \\S+\\) working on eth2 of container ${cid.slice(0, 12)} in ${netnsPath(s.ns)} to finish before CNI GC of network ${network.replace(/[.]/g, '\\.')} \\(no GC runs beside an ADD or DEL\\)$`, 'm'));
    // counted as it is after the wait: alive (before: "1 alive, 1 busy (left for a later run)")
    expect(g.stdout, show(g)).toMatch(/CNI GC ran for network \S+\ngc: freed 0 stale attachments, 2 alive$/);
    expect(g.stderr, show(g)).toContain(`note: eth2 of netns ${netnsPath(s.ns)} (network ${network}): the cni-attach/cni-detach that was working on it when gc began has ended: eth2 is attached, counted alive`);
    expect(g.stderr, show(g)).not.toMatch(/left eth2/);
    expect(existsSync(gcLock)).toBe(false);

    expectOk(await runCli('detach', s.argsOf('eth1')));
    expectOk(await runCli('detach', s.argsOf('eth2')));
    expectOk(await runCli('detach', s.argsOf('eth3')));
    expect(await attachmentFiles(s.ws.cacheDir)).toEqual([]);
  });

  it('an attach begun while cni-gc runs GC of its network waits for GC to return before its ADD (SPEC.md Lifecycle & Ordering), says so in a note, and its lease survives GC', async () => {
    const dir = (await lab.workspace()).dir;
    const release = join(dir, 'gc.release');
    lab.defer('the GC waiting for its release file', () => writeFile(release, ''));
    const s = await setup({ leases: { release } });
    const cid = containerIdOf(netnsPath(s.ns));
    const network = (JSON.parse(await readFile(s.conf, 'utf8')) as { name: string }).name;
    expectOk(await runCli('attach', s.argsOf('eth1', '--conf', s.conf)));

    const gc = spawnCli('gc', ['--cache-dir', s.ws.cacheDir, '--cni-path', s.ws.pluginDir]);
    expect(await waitFor(async () => (await s.calls()).includes('GC start'), 15_000), 'cni-gc is in the plugin\'s GC').toBe(true);
    const run = spawnCli('attach', s.argsOf('eth2', '--conf', s.conf));
    const intent = join(s.ws.cacheDir, 'cni-attach', 'intents', `${network}-${cid}-eth2`);
    // before: the ADD ran at once, during GC, and GC (not told of eth2: it read the cache before the attach began)
    // freed its lease; then (h17a) the attach recorded its intent and waited holding its interface lock
    await new Promise((r) => setTimeout(r, 1500));
    expect(await s.calls(), 'the attach of eth2 is waiting: not even its STATUS ran').toEqual(['STATUS env=2', 'ADD eth1', 'GC start']);
    expect(existsSync(intent), 'nothing written while it waits').toBe(false);
    expect(existsSync(join(s.ws.cacheDir, 'cni-attach', 'locks', `${cid}-eth2.lock`)), 'nor its interface lock held').toBe(false);

    await writeFile(release, '');
    const [g, a] = await Promise.all([gc.done, run.done]);
    expectOk(g);
    expectOk(a);
    expect(a.stderr, show(a)).toMatch(new RegExp(`^note: waited \\d+\\.\\ds for a cni-gc \\(pid ${gc.pid} on this host \\S+, running for \\S+\\) to finish CNI GC of network ${network.replace(/[.]/g, '\\.')} before the ADD \\(no ADD runs beside GC\\)$`, 'm'));
    expect(await s.calls()).toEqual(['STATUS env=2', 'ADD eth1', 'GC start', 'GC end', 'STATUS env=2', 'ADD eth2']);
    expect(await s.leaseOf('eth1')).toBe(cid);
    expect(await s.leaseOf('eth2')).toBe(cid);
    expect(existsSync(join(s.ws.cacheDir, 'cni-attach', 'locks', `gc:${network}.lock`))).toBe(false);

    expectOk(await runCli('detach', s.argsOf('eth1')));
    expectOk(await runCli('detach', s.argsOf('eth2')));
    expect(await attachmentFiles(s.ws.cacheDir)).toEqual([]);
  });
});
