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
import { attachmentFiles, useLab } from '../helpers/lab.js';
import { containerIdOf, netnsPath } from '../helpers/net.js';
import { killAll, uniqueSeconds, waitFor } from '../helpers/sh.js';

const lab = useLab('ce');

/** hang: the ADD of that ifname touches `started` and sleeps until killed (every such sleep matches `pattern`). */
async function setup(o: { hang?: { ifname: string; started: string; marker: string } } = {}) {
  const ws = await lab.workspace();
  const ns = await lab.netns();
  const log = join(ws.dir, 'calls.log');
  const notReady = join(ws.dir, 'not-ready');
  const hang = o.hang ? `if [ "$CNI_IFNAME" = ${o.hang.ifname} ]; then touch ${o.hang.started}; exec sleep ${o.hang.marker}; fi\n` : '';
  await fakePlugin(ws.pluginDir, 'one11', {
    version: `echo '{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}'`,
    add: `${hang}echo "ADD $CNI_IFNAME" >> ${log}
echo '{"cniVersion":"1.1.0","interfaces":[{"name":"'$CNI_IFNAME'","sandbox":"'$CNI_NETNS'"}],"ips":[{"interface":0,"address":"198.18.8.2/24"}]}'`,
    del: `echo "DEL $CNI_IFNAME" >> ${log}`,
    status: `echo "STATUS env=$(env | grep -c '^CNI_')" >> ${log}
if [ -e ${notReady} ]; then echo '{"cniVersion":"1.1.0","code":50,"msg":"the daemon is down"}'; exit 1; fi
exit 0`,
  });
  // GC is not in the helper's case list: add it in front of its fallback
  const path = join(ws.pluginDir, 'one11');
  const script = (await readFile(path, 'utf8')).replace(
    '*)\nexit 0',
    `GC)
echo "GC $CONF" >> ${log}
exit 0
;;
*)
exit 0`,
  );
  await writeFile(path, script, { mode: 0o755 });
  const conf = await writeConf(ws.dir, 'net11.json', { cniVersion: '1.1.0', name: lab.name('k'), type: 'one11' });
  const calls = async () => (existsSync(log) ? (await readFile(log, 'utf8')).trim().split('\n') : []);
  return { ws, ns, conf, calls, notReady, args: (...more: string[]) => [...lab.args(ws, ns, 'eth1', undefined, ws.pluginDir), ...more], argsOf: (ifname: string, ...more: string[]) => [...lab.args(ws, ns, ifname, undefined, ws.pluginDir), ...more] };
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

  it('cni-gc while an attach is in its ADD: that attachment is among the valid ones GC is given (SPEC.md GC: the still valid attachments), left alone with a note, exit 0; once that attach is killed, gc frees it and GC no longer lists it', async () => {
    const started = join((await lab.workspace()).dir, 'hang.started');
    const marker = uniqueSeconds(30);
    const pattern = `^sleep ${marker.replace('.', '\\.')}$`;
    lab.defer('hanging plugin', () => killAll(pattern));
    const s = await setup({ hang: { ifname: 'eth2', started, marker } });
    const cid = containerIdOf(netnsPath(s.ns));
    const gcArgs = ['--cache-dir', s.ws.cacheDir, '--cni-path', s.ws.pluginDir];
    const validOf = async (n: number) => {
      const gc = (await s.calls()).filter((c) => c.startsWith('GC '))[n]!;
      return (JSON.parse(gc.slice(3)) as Record<string, { containerID: string; ifname: string }[]>)['cni.dev/valid-attachments']!.map((a) => `${a.containerID}/${a.ifname}`).sort();
    };
    expectOk(await runCli('attach', s.argsOf('eth1', '--conf', s.conf)));
    const run = spawnCli('attach', s.argsOf('eth2', '--conf', s.conf));
    expect(await waitFor(async () => existsSync(started), 15_000), 'the attach of eth2 is in its ADD').toBe(true);

    // before: eth2 was taken for an interrupted attach: its DEL refused as busy (exit 1), and GC was given eth1 alone,
    // free to take the lease of the ADD still running
    const g = await runCli('gc', gcArgs);
    expectOk(g);
    expect(g.stderr.split('\n'), show(g)).toContain(`note: left eth2 of netns ${netnsPath(s.ns)} (network ${(JSON.parse(await readFile(s.conf, 'utf8')) as { name: string }).name}) alone: a cni-attach/cni-detach (pid ${run.pid}) is working on it right now; a later cni-gc looks at it again`);
    expect(g.stdout).toMatch(/CNI GC ran for network \S+\ngc: freed 0 stale attachments, 1 alive, 1 busy \(left for a later run\)$/);
    expect(await validOf(0)).toEqual([`${cid}/eth1`, `${cid}/eth2`]);
    expect(await s.calls()).not.toContain('DEL eth2');

    run.kill('SIGKILL');
    expect((await run.done).exitCode).toBeUndefined();
    await killAll(pattern);
    const again = await runCli('gc', gcArgs);
    expectOk(again);
    expect(again.stdout).toMatch(/^freed eth2 of netns \S+ \(network \S+\): an attach of it was interrupted\nCNI GC ran for network \S+\ngc: freed 1 stale attachment, 1 alive$/);
    expect(await s.calls()).toContain('DEL eth2');
    expect(await validOf(1)).toEqual([`${cid}/eth1`]);
    expectOk(await runCli('detach', s.args()));
    expect(await attachmentFiles(s.ws.cacheDir)).toEqual([]);
  });
});
