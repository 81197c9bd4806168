/**
 * CNI 1.1 through the real CLI with a plugin that speaks it (a script: the Debian plugins stop at 1.0.0): STATUS
 * before every ADD (a plugin that is not ready stops the attach before anything is done), and GC with
 * cni.dev/valid-attachments from cni-gc. The plugin only records what it is asked; no interface is made.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectCleanError, expectOk, runCli } from '../helpers/cli.js';
import { writeConf } from '../helpers/confs.js';
import { fakePlugin } from '../helpers/fake-plugin.js';
import { attachmentFiles, useLab } from '../helpers/lab.js';
import { containerIdOf, netnsPath } from '../helpers/net.js';

const lab = useLab('ce');

async function setup() {
  const ws = await lab.workspace();
  const ns = await lab.netns();
  const log = join(ws.dir, 'calls.log');
  const notReady = join(ws.dir, 'not-ready');
  await fakePlugin(ws.pluginDir, 'one11', {
    version: `echo '{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}'`,
    add: `echo "ADD $CNI_IFNAME" >> ${log}
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
  return { ws, ns, conf, calls, notReady, args: (...more: string[]) => [...lab.args(ws, ns, 'eth1', undefined, ws.pluginDir), ...more] };
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
});
