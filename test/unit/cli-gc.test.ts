import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { detachCommand } from '../../src/cli/detach.js';
import { gcCommand } from '../../src/cli/gc.js';
import { listCommand } from '../../src/cli/list.js';
import { attach, detach } from '../../src/cni/attach.js';
import { deletingPath, gcLockPath, intentPath, lockPath, ResultCache, resultPath } from '../../src/cni/cache.js';
import type { ChainContext } from '../../src/cni/chain.js';
import { parseNetworkConfig } from '../../src/cni/conf.js';
import { thisHost } from '../../src/exec/host.js';
import { addAttachingRecord, listRecords } from '../../src/resolve/records.js';
import { NETWORK_STATUS } from '../../src/resolve/network-status.js';
import { bridgeResult, fakeOwner } from '../fakes/executor.js';
import { makePod } from '../fakes/kube.js';
import { NETNS, SANDBOX, world } from '../fakes/world.js';

const attachArgs = ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'];
const results = (w: ReturnType<typeof world>) => [...w.exec.files.keys()].filter((k) => k.includes('/results/'));
const dels = (w: ReturnType<typeof world>) => w.exec.calls.filter((c) => c.command === 'DEL');

describe('kubectl cni-gc', () => {
  it('keeps what is alive and says so', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 1 alive\n');
    expect(dels(w)).toHaveLength(0);
    expect(results(w)).toHaveLength(1);
  });

  it('-A/--all-namespaces: taken (kubectl\'s habit) and the same as without it: gc covers every namespace (a pod of another namespace too)', async () => {
    const w = world();
    w.kube.add(makePod({ name: 'db-1', namespace: 'other', uid: 'uid-db' }));
    w.runtime.add('other', 'db-1', 'uid-db', { id: 'd'.repeat(64), pid: 4343, netnsPath: '/proc/4343/ns/net' });
    w.exec.netns.add('/proc/4343/ns/net');
    await w.cli(attachCommand, attachArgs);
    expect(await w.cli(attachCommand, ['db-1', '-n', 'other', '--ifname', 'eth1', '--conf', '-']), w.stderr()).toBe(0);
    w.runtime.sandboxes.clear();
    expect(await w.cli(gcCommand, ['-A', '--dry-run'])).toBe(0);
    const dry = w.stdout();
    expect(await w.cli(gcCommand, ['--dry-run'])).toBe(0);
    expect(w.stdout()).toBe(dry);
    expect(await w.cli(gcCommand, ['--all-namespaces'])).toBe(0);
    expect(w.stdout()).toMatch(/gc: freed 2 stale attachments, 0 alive\n$/);
    expect(dels(w)).toHaveLength(2);
  });

  it('frees the attachment of a pod whose sandbox is gone: DEL without a netns, cache forgotten, annotation fixed', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.runtime.sandboxes.clear();
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toMatch(/^freed eth1 of pod shop\/web-1 \(network net\): the pod's sandbox is gone\ngc: freed 1 stale attachment, 0 alive\n$/);
    expect(dels(w)).toHaveLength(1);
    expect(dels(w)[0]!.env).toMatchObject({ CNI_CONTAINERID: SANDBOX, CNI_NETNS: '', CNI_IFNAME: 'eth1' });
    expect(dels(w)[0]!.stdin.prevResult).toBeDefined();
    expect(results(w)).toEqual([]);
    expect((w.kube.annotation('shop', 'web-1', NETWORK_STATUS) as { interface: string }[]).map((e) => e.interface)).toEqual(['eth0']);
  });

  it('frees the attachment of a pod that is gone, or replaced by a new pod of the same name', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.kube.add(makePod({ name: 'web-1', namespace: 'shop', uid: 'uid-NEW' }));
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toMatch(/freed eth1 of pod shop\/web-1 \(network net\): the pod is gone/);
    expect(w.kube.patches.filter((p) => p.key === NETWORK_STATUS)).toHaveLength(1); // only the attach's; the new pod is not touched
  });

  it('--dry-run says what it would free and frees nothing', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.kube.pods.clear();
    // the Pod object is gone, its sandbox still runs here (deleted with --force, kubelet behind)
    expect(await w.cli(gcCommand, ['--dry-run'])).toBe(0);
    expect(w.stdout()).toMatch(/^would free eth1 of pod shop\/web-1 \(network net\): the pod is gone; its sandbox still runs here: DEL in its namespace, the interface goes too\ngc: would free 1 stale attachment, 0 alive\n$/);
    expect(dels(w)).toHaveLength(0);
    expect(results(w)).toHaveLength(1);
  });

  it('--dry-run says what the real run could not free as it says it (a plugin gone: it said "would free"), with the same exit code, running nothing', async () => {
    const runs: [number, string, string][] = [];
    for (const dry of [true, false]) {
      const w = world();
      await w.cli(attachCommand, attachArgs);
      w.runtime.sandboxes.clear();
      w.exec.plugins.delete('/opt/cni/bin/bridge');
      w.exec.calls.length = 0;
      const code = await w.cli(gcCommand, dry ? ['--dry-run'] : []);
      runs.push([code, w.stdout().replace('would free', 'freed'), w.stderr()]);
      expect(dels(w)).toHaveLength(0);
      expect(results(w)).toHaveLength(1);
    }
    expect(runs[0]![2]).toMatch(/CNI plugin "bridge" not found/);
    expect(runs[0]![1]).toMatch(/1 could not be freed/);
    expect(runs[0]).toEqual(runs[1]);
  });

  it('a deleted pod whose sandbox still runs is DELed in its namespace; once the sandbox is gone too, without one', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.kube.pods.clear();
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(dels(w)[0]!.env.CNI_NETNS).toBe(NETNS);
    expect(results(w)).toHaveLength(0);

    const again = world();
    await again.cli(attachCommand, attachArgs);
    again.kube.pods.clear();
    again.runtime.sandboxes.clear();
    expect(await again.cli(gcCommand, [])).toBe(0);
    expect(again.stdout()).toMatch(/freed eth1 of pod shop\/web-1 \(network net\): the pod is gone\n/);
    expect(dels(again)[0]!.env.CNI_NETNS).toBe('');
  });

  it('finishes an interrupted attach (an intent with no result)', async () => {
    const w = world();
    const key = { network: 'net', containerId: SANDBOX, ifname: 'eth1' };
    const entry = { kind: 'cniCacheV1', containerId: SANDBOX, config: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64'), ifName: 'eth1', networkName: 'net', netns: '/proc/4242/ns/net', cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'web-1'], ['K8S_POD_UID', 'uid-1']] };
    w.exec.files.set(intentPath('/var/lib/cni', key), JSON.stringify(entry));
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toMatch(/freed eth1 of pod shop\/web-1 \(network net\): an attach of it was interrupted/);
    expect(dels(w)[0]!.env.CNI_NETNS).toBe('/proc/4242/ns/net'); // the sandbox is alive: DEL where the ADD went
    expect(w.exec.files.size).toBe(0);
  });

  it('an interrupted attach freed here takes its write-ahead record along, and is counted freed, never alive (before: "-1 alive", the record removed counted against the live ones)', async () => {
    const w = world();
    const key = { network: 'net', containerId: SANDBOX, ifname: 'eth1' };
    const entry = { kind: 'cniCacheV1', containerId: SANDBOX, config: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64'), ifName: 'eth1', networkName: 'net', netns: '/proc/4242/ns/net', cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'web-1'], ['K8S_POD_UID', 'uid-1']] };
    w.exec.files.set(intentPath('/var/lib/cni', key), JSON.stringify(entry));
    await addAttachingRecord(w.kube, 'kube-system', { namespace: 'shop', pod: 'web-1', uid: 'uid-1', node: 'node-1', ifname: 'eth1', network: 'net', containerId: '', since: '2026-12-01T00:00:00Z', addresses: [] });
    expect(await w.cli(gcCommand, ['-o', 'json'])).toBe(0);
    expect(JSON.parse(w.stdout())).toMatchObject({ alive: 0, freed: [{ target: 'pod shop/web-1', ifname: 'eth1' }], failed: [] });
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive\n');
  });

  it('frees a bare-namespace attachment whose namespace is gone, with no cluster configured', async () => {
    const w = world();
    w.exec.netns.add('/var/run/netns/x');
    await w.cli(attachCommand, ['--netns', '/var/run/netns/x', '--ifname', 'eth1', '--conf', '-']);
    w.exec.netns.delete('/var/run/netns/x');
    w.deps.kube = async () => {
      const { UsageError } = await import('../../src/errors.js');
      throw new UsageError('no Kubernetes cluster configured');
    };
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toMatch(/freed eth1 of netns \/var\/run\/netns\/x \(network net\): the network namespace is gone/);
    expect(dels(w)[0]!.env.CNI_NETNS).toBe('');
    // what was not looked at is said
    // what was not looked at is said, whole (it ended "…attachments recorded on other nodes are not")
    expect(w.stderr()).toMatch(/^note: only this host's CNI cache was read, nothing in the cluster \(its pods and the attachments recorded on other nodes are not included\): no Kubernetes cluster configured$/m);
  });

  it('a cluster that is configured but cannot be asked fails gc (exit 4) after this host\'s cache is done: from a laptop it is the whole of gc, and a cron job must not read success', async () => {
    const { UnreachableError } = await import('../../src/errors.js');
    for (const local of [false, true]) {
      const w = world();
      if (local) {
        w.exec.netns.add('/var/run/netns/x');
        await w.cli(attachCommand, ['--netns', '/var/run/netns/x', '--ifname', 'eth1', '--conf', '-']);
        w.exec.netns.delete('/var/run/netns/x');
      }
      // the client is made (nothing is asked then); its first request finds no server
      const down = async () => {
        throw new UnreachableError('cannot reach the API server at https://127.0.0.1:1: connect ECONNREFUSED');
      };
      w.kube.listPods = down;
      w.kube.listConfigMaps = down;
      expect(await w.cli(gcCommand, []), `local ${local}`).toBe(4);
      expect(w.stderr()).toMatch(/^note: attachments recorded on other nodes are not looked at: cannot reach the API server/m);
      // the summary says what was done here, and the exit says that the rest could not be
      // (how many stay attached on other nodes is not known: not "0 alive")
      const n = local ? 'freed 1 stale attachment' : 'freed 0 stale attachments';
      expect(w.stdout()).toMatch(new RegExp(`^gc: ${n}, 0 alive on this host \\(on other nodes: not known, the cluster could not be asked\\)$`, 'm'));
      expect(await w.cli(gcCommand, ['-o', 'json']), `local ${local}`).toBe(4);
      expect(JSON.parse(w.stdout().slice(w.stdout().indexOf('{')))).toMatchObject({ alive: null });
      expect(dels(w)).toHaveLength(local ? 1 : 0);
    }
  });

  it('a kubeconfig that cannot be used (a --context, --cluster or --user it does not define, --kubeconfig missing, $KUBECONFIG naming no file) or a bad flag value: refused before anything is freed, never a local-only gc', async () => {
    const { UnreachableError, UsageError } = await import('../../src/errors.js');
    const cases: [string[], Error | undefined, number, RegExp][] = [
      [['--context', 'nosuch'], new UsageError('context "nosuch" does not exist (kubeconfig /home/me/.kube/config)', { fix: { setting: 'context' } }), 2, /^error: context "nosuch" does not exist \(kubeconfig \/home\/me\/\.kube\/config\); see --context\n$/],
      [['--kubeconfig', '/nonexistent'], new UsageError('kubeconfig /nonexistent: no such file', { fix: { setting: 'kubeconfig' } }), 2, /^error: kubeconfig \/nonexistent: no such file; see --kubeconfig\n$/],
      [[], new UnreachableError('none of the kubeconfig files $KUBECONFIG names exists (/home/me/.kube/confg)'), 4, /^error: none of the kubeconfig files/],
      [['--request-timeout', 'abc'], undefined, 2, /^error: Invalid timeout value\. Timeout must be a single integer in seconds, or an integer followed by a corresponding time unit \(e\.g\. 1s \| 2m \| 3h\)\n$/],
      [['--request-timeout', '1.5'], undefined, 2, /^error: Invalid timeout value\. /],
      [['-v=abc'], undefined, 2, /^error: invalid argument "abc" for "-v, --v" flag/],
    ];
    for (const [flags, error, code, message] of cases) {
      const w = world();
      w.exec.netns.add('/var/run/netns/x');
      await w.cli(attachCommand, ['--netns', '/var/run/netns/x', '--ifname', 'eth1', '--conf', '-']);
      w.exec.netns.delete('/var/run/netns/x');
      if (error) {
        w.deps.kube = async () => {
          throw error;
        };
      }
      expect(await w.cli(gcCommand, flags), flags.join(' ')).toBe(code);
      expect(w.stderr(), flags.join(' ')).toMatch(message);
      // one line, and cobra's See line after a value not of its flag's type
      expect(w.stderr().trim().split('\n').filter((l) => !l.startsWith('See ')), flags.join(' ')).toHaveLength(1);
      expect(w.stdout(), flags.join(' ')).toBe('');
      expect(dels(w), flags.join(' ')).toHaveLength(0);
      expect(results(w), flags.join(' ')).toHaveLength(1);
    }
  });

  it('frees nothing when the cluster cannot be asked (exit 4)', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.kube.listPods = async () => {
      const { UnreachableError } = await import('../../src/errors.js');
      throw new UnreachableError('listing pods: cannot reach the API server');
    };
    expect(await w.cli(gcCommand, [])).toBe(4);
    expect(dels(w)).toHaveLength(0);
    expect(results(w)).toHaveLength(1);
  });

  it('frees nothing when a runtime cannot be asked (every attachment would look dead)', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.runtime.listSandboxes = async () => {
      const { UnreachableError } = await import('../../src/errors.js');
      throw new UnreachableError('cannot reach Docker at unix:///var/run/docker.sock: EACCES');
    };
    expect(await w.cli(gcCommand, [])).toBe(4);
    expect(w.stderr()).toMatch(/cannot reach Docker/);
    expect(dels(w)).toHaveLength(0);
    expect(results(w)).toHaveLength(1);
  });

  it('--runtime auto with a runtime here that cannot be asked: a live pod it may hold is not judged (kept, said, exit 4); one of another runtime is (freed)', async () => {
    const { UnreachableError } = await import('../../src/errors.js');
    // Docker down (its socket gone), crictl/ctr answering with no sandboxes: before, every attachment of this host's
    // pods looked "sandbox gone" and was freed (exit 0), the Docker pods' live ones too
    const auto = () => [
      { name: 'docker', where: 'Docker at unix:///var/run/docker.sock', findSandbox: async () => undefined, listSandboxes: async () => { throw new UnreachableError('cannot reach Docker at unix:///var/run/docker.sock: ENOENT connect ENOENT /var/run/docker.sock'); } },
      { name: 'cri', where: 'crictl/ctr on this host', findSandbox: async () => undefined, listSandboxes: async () => [] },
    ];
    for (const scheme of ['docker', 'containerd', undefined]) {
      const w = world();
      await w.cli(attachCommand, attachArgs);
      if (scheme) w.pod.status!.containerStatuses = [{ name: 'app', image: 'busybox', imageID: '', ready: true, restartCount: 0, containerID: `${scheme}://${'c'.repeat(64)}` }];
      w.deps.runtimes = async () => auto();
      const code = await w.cli(gcCommand, []);
      if (scheme === 'containerd') {
        // crictl/ctr answered for it, and Docker holds no containerd pod: its sandbox is gone
        expect(code, w.stderr()).toBe(0);
        expect(w.stdout()).toMatch(/^freed eth1 of pod shop\/web-1 \(network net\): the pod's sandbox is gone$/m);
        expect(dels(w)).toHaveLength(1);
        continue;
      }
      // a Docker pod (or one whose runtime its statuses do not name): Docker alone could say, and it could not be asked
      expect(code, `${scheme}: ${w.stderr()}`).toBe(4);
      expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive, 1 could not be checked\n');
      expect(w.stderr()).toBe(
        `note: eth1 of pod shop/web-1 (network net) was not judged, and stays: its sandbox ffffffffffff could not be checked: the runtime that may hold it (docker) could not be asked: cannot reach Docker at unix:///var/run/docker.sock: ENOENT connect ENOENT /var/run/docker.sock\n` +
          'error: gc finished with 1 problem (see the notes above)\n',
      );
      expect(dels(w)).toHaveLength(0);
      expect(results(w)).toHaveLength(1);
      // cni-list: the row as attached, REASON saying it was not checked; then the error (exit 4)
      expect(await w.cli(listCommand, ['-n', 'shop'])).toBe(4);
      expect(w.stdout()).toMatch(/^web-1\s+eth1\s+net\s+198\.18\.0\.2\/24\s+attached\s+yes\s+ffffffffffff\s+sandbox not checked$/m);
      expect(w.stderr()).toBe('error: the sandbox of 1 attachment of this host could not be checked (REASON: sandbox not checked): cannot reach Docker at unix:///var/run/docker.sock: ENOENT connect ENOENT /var/run/docker.sock\n');
    }
  });

  it('--runtime auto with a runtime here that cannot be asked: a deleted pod\'s attachment whose namespace is still there (its sandbox may still run in that runtime) is not freed (exit 4); once the namespace is gone, it is', async () => {
    const { UnreachableError } = await import('../../src/errors.js');
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.kube.pods.clear();
    w.runtime.sandboxes.clear();
    // Docker down; crictl/ctr answer with none. The attachment's namespace is /proc/4242/ns/net: a Docker sandbox's
    w.deps.runtimes = async () => [
      { name: 'docker', where: 'Docker at unix:///var/run/docker.sock', findSandbox: async () => undefined, listSandboxes: async () => { throw new UnreachableError('cannot reach Docker at unix:///var/run/docker.sock: ECONNREFUSED'); } },
      { name: 'cri', where: 'crictl/ctr on this host', findSandbox: async () => undefined, listSandboxes: async () => [] },
    ];
    // before: freed with a DEL without its namespace, the lease of an address the sandbox may still use freed
    expect(await w.cli(gcCommand, [])).toBe(4);
    expect(w.stderr()).toMatch(/^note: could not free eth1 of pod shop\/web-1: its sandbox ffffffffffff may still run here \(its network namespace \/proc\/4242\/ns\/net is still there\), and the runtime that may hold it \(docker\) could not be asked: cannot reach Docker at unix:\/\/\/var\/run\/docker\.sock: ECONNREFUSED; not freed$/m);
    expect(dels(w)).toHaveLength(0);
    expect(results(w)).toHaveLength(1);
    // nor by the records pass, as this host's record of a gone pod (it freed it behind the local pass's back)
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
    // the namespace gone: the sandbox is gone with it
    w.exec.netns.delete(NETNS);
    expect(await w.cli(gcCommand, []), w.stderr()).toBe(0);
    expect(w.stdout()).toMatch(/^freed eth1 of pod shop\/web-1 \(network net\): the pod is gone$/m);
    expect(dels(w)[0]!.env.CNI_NETNS).toBe('');
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
  });

  it('a deleted pod whose sandbox still runs here but whose namespace cannot be found is not freed, not by the records pass either (it DELed it without its namespace behind the local pass\'s refusal)', async () => {
    const { UnreachableError } = await import('../../src/errors.js');
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.kube.pods.clear();
    // listed running, but its look-up fails
    w.runtime.findSandbox = async () => {
      throw new UnreachableError('cannot reach Docker at unix:///var/run/docker.sock: ECONNRESET');
    };
    expect(await w.cli(gcCommand, [])).toBe(1);
    expect(w.stderr()).toMatch(/^note: could not free eth1 of pod shop\/web-1: its sandbox ffffffffffff still runs here, but its network namespace could not be found: not freed/m);
    // the way on as the command to paste (before: "run cni-gc again once the sandbox is gone")
    expect(w.stderr()).toContain('not freed; run `kubectl cni-gc` again once the sandbox is gone');
    expect(w.stdout()).not.toMatch(/^freed/m);
    expect(dels(w)).toHaveLength(0);
    expect(results(w)).toHaveLength(1);
    expect(await listRecords(w.kube, 'kube-system')).toHaveLength(1);
  });

  it('cni-list: the one runtime --runtime names cannot be asked: the rows with the states the cluster gives, then the error (exit 4)', async () => {
    const { UnreachableError } = await import('../../src/errors.js');
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.runtime.listSandboxes = async () => {
      throw new UnreachableError('cannot reach Docker at unix:///var/run/docker.sock: EACCES');
    };
    // before: exit 0, with a note that the cluster (not the runtime) could not be asked
    expect(await w.cli(listCommand, ['-n', 'shop'])).toBe(4);
    expect(w.stdout()).toMatch(/^web-1\s+eth1\s+net\s+198\.18\.0\.2\/24\s+attached\s+yes\s+ffffffffffff\s+<none>$/m);
    expect(w.stderr()).toBe("error: this host's sandboxes could not be listed: cannot reach Docker at unix:///var/run/docker.sock: EACCES; whether the sandboxes of this host's pod attachments are gone is not known\n");
  });

  it('reports a DEL that fails and keeps the entry for the next run (exit 1)', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.runtime.sandboxes.clear();
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'DEL' ? { code: 1, stdout: '{"code":11,"msg":"busy"}' } : {}));
    expect(await w.cli(gcCommand, [])).toBe(1);
    expect(w.stderr()).toMatch(/note: could not free eth1 of pod shop\/web-1: plugin bridge failed on DEL \(CNI error 11\): busy/);
    expect(results(w)).toHaveLength(1);
  });

  it('a 1.0.0 network whose plugin is gone needs no GC: exit 0, not 4 (CNI GC came with 1.1.0)', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.exec.plugins.delete('/opt/cni/bin/bridge');
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stderr()).not.toMatch(/not found/);
    expect(results(w)).toHaveLength(1);
  });

  it('runs CNI GC with the valid attachments for a 1.1 network', async () => {
    const w = world({ stdin: JSON.stringify({ cniVersion: '1.1.0', name: 'net11', type: 'bridge' }) });
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult('eth1', '/proc/4242/ns/net', '198.18.0.2/24', '1.1.0')) } : {}), ['1.0.0', '1.1.0']);
    await w.cli(attachCommand, attachArgs);
    expect(await w.cli(gcCommand, [])).toBe(0);
    const gc = w.exec.calls.filter((c) => c.command === 'GC');
    expect(gc).toHaveLength(1);
    expect(gc[0]!.stdin['cni.dev/valid-attachments']).toEqual([{ containerID: SANDBOX, ifname: 'eth1' }]);
    expect(w.stdout()).toMatch(/CNI GC ran for network net11/);
  });

  it('CNI GC is given what the cache holds when it runs (an attach begun since gc read it, waited for until its ADD is done, counts as valid), but what gc could not free', async () => {
    const w = world({ stdin: JSON.stringify({ cniVersion: '1.1.0', name: 'net11', type: 'bridge' }) });
    const other = 'e'.repeat(64);
    let delFails = false;
    const eth3 = { network: 'net11', containerId: other, ifname: 'eth3' };
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => {
      if (c.command === 'ADD') return { stdout: JSON.stringify(bridgeResult(c.env.CNI_IFNAME!, '/proc/4242/ns/net', '198.18.0.2/24', '1.1.0')) };
      if (c.command === 'DEL' && c.env.CNI_IFNAME === 'eth1') {
        // while gc frees eth1, another attach records its intent for eth3 (its ADD under way): the cache gc read had
        // none; 150 ms later its ADD is done (its result cached, its lock gone)
        const intent = { kind: 'cniCacheV1', containerId: other, config: Buffer.from(JSON.stringify({ cniVersion: '1.1.0', name: 'net11', type: 'bridge' })).toString('base64'), ifName: 'eth3', networkName: 'net11', netns: '/proc/4343/ns/net' };
        w.exec.files.set(intentPath('/var/lib/cni', eth3), JSON.stringify(intent));
        w.exec.files.set(lockPath('/var/lib/cni', other, 'eth3'), 'other-host 77 1\n');
        setTimeout(() => {
          w.exec.files.set(resultPath('/var/lib/cni', eth3), JSON.stringify({ ...intent, result: bridgeResult('eth3', '/proc/4343/ns/net', '198.18.0.3/24', '1.1.0') }));
          w.exec.files.delete(intentPath('/var/lib/cni', eth3));
          w.exec.files.delete(lockPath('/var/lib/cni', other, 'eth3'));
        }, 150);
        if (delFails) return { code: 1, stdout: '{"code":11,"msg":"busy"}' };
      }
      return {};
    }, ['1.0.0', '1.1.0']);
    await w.cli(attachCommand, attachArgs);
    w.runtime.sandboxes.clear(); // eth1 is stale now: gc frees it
    expect(await w.cli(gcCommand, [])).toBe(0);
    const gc = w.exec.calls.filter((c) => c.command === 'GC');
    // before: [] (what gc had judged valid when it read the cache), and GC was free to take eth3's lease
    expect(gc[0]!.stdin['cni.dev/valid-attachments']).toEqual([{ containerID: other, ifname: 'eth3' }]);
    expect(w.stderr()).toMatch(/^note: waited \d+\.\ds for a cni-attach\/cni-detach \(pid 77 on host other-host\) working on eth3 of container eeeeeeeeeeee in \/proc\/4343\/ns\/net to finish before CNI GC of network net11 \(no GC runs beside an ADD or DEL\)$/m);

    // a stale attachment whose DEL failed is what GC is for: not in the list
    w.exec.calls.length = 0;
    w.exec.files.clear();
    w.runtime.add('shop', 'web-1', 'uid-1', { id: SANDBOX, pid: 4242, netnsPath: NETNS });
    await w.cli(attachCommand, attachArgs);
    w.runtime.sandboxes.clear();
    delFails = true;
    expect(await w.cli(gcCommand, [])).toBe(1);
    expect(w.exec.calls.filter((c) => c.command === 'GC')[0]!.stdin['cni.dev/valid-attachments']).toEqual([{ containerID: other, ifname: 'eth3' }]);
  });
});

describe('kubectl cni-gc and attaches of the network it runs GC for (SPEC.md "Lifecycle & Ordering")', () => {
  it('GC runs under the network\'s GC lock, taken before the cache is read for the valid attachments and released once GC returned; an attach begun during GC runs its ADD after it', async () => {
    const net11 = JSON.stringify({ cniVersion: '1.1.0', name: 'net11', type: 'bridge' });
    const w = world({ stdin: net11 });
    const gcLock = gcLockPath('/var/lib/cni', 'net11');
    const log: string[] = [];
    let during: Promise<unknown> | undefined;
    w.exec.addPlugin('/opt/cni/bin/bridge', async (c) => {
      if (c.command === 'ADD') {
        log.push(`ADD ${c.env.CNI_IFNAME}`);
        return { stdout: JSON.stringify(bridgeResult(c.env.CNI_IFNAME!, '/proc/4242/ns/net', '198.18.0.2/24', '1.1.0')) };
      }
      if (c.command !== 'GC') return {};
      log.push(`GC start, its lock: ${w.exec.files.get(gcLock)?.trim() ?? 'none'}`);
      // another attach of net11 (its own process: another host's lock holder to it) begins while GC runs
      const exec = w.exec;
      const ctx: ChainContext = { exec, cniPath: ['/opt/cni/bin'], timeoutMs: 5000, note: (l) => log.push(`note: ${l.replace(/[\d.]+s/, 'Ns')}`) };
      const list = parseNetworkConfig(net11, 't');
      during = attach(ctx, new ResultCache(exec, '/var/lib/cni', fakeOwner()), { list, rt: { containerId: 'e'.repeat(64), netns: '/proc/4343/ns/net', ifname: 'eth3', cniArgs: [], capabilityArgs: {} }, describe: 'x', interfaceExists: async () => false });
      await new Promise((r) => setTimeout(r, 200));
      // the attach took its interface lock, saw the GC lock and gave its lock back before writing anything
      log.push(`GC end; the attach's intent: ${[...w.exec.files.keys()].some((k) => k.includes('/intents/')) ? 'written' : 'none'}, its lock: ${w.exec.files.has(lockPath('/var/lib/cni', 'e'.repeat(64), 'eth3')) ? 'held' : 'free'}`);
      return {};
    }, ['1.0.0', '1.1.0']);
    await w.cli(attachCommand, attachArgs);
    // the port's order: the GC lock taken, then the cache read for the valid attachments
    const { createExclusive, listDir, removeFile } = w.exec;
    w.exec.createExclusive = async (p, d) => (p === gcLock && log.push('take gc lock'), createExclusive.call(w.exec, p, d));
    w.exec.listDir = async (p, suffix) => (p.endsWith('/results') && !suffix && log.push('read cache'), listDir.call(w.exec, p, suffix));
    w.exec.removeFile = async (p) => (p === gcLock && log.push('release gc lock'), removeFile.call(w.exec, p));
    expect(await w.cli(gcCommand, [])).toBe(0);
    await during;
    expect(log.slice(log.indexOf('take gc lock'))).toEqual([
      'take gc lock',
      'read cache',
      `GC start, its lock: ${thisHost.host} ${process.pid} ${await thisHost.start()}`,
      "GC end; the attach's intent: none, its lock: free",
      'release gc lock',
      `note: waited Ns for a cni-gc (pid ${process.pid} on host ${thisHost.host}) to finish CNI GC of network net11 before the ADD (no ADD runs beside GC)`,
      'ADD eth3',
    ]);
    expect(w.exec.files.has(gcLock)).toBe(false);
  });
});

describe('kubectl cni-gc and an ADD or DEL already running (SPEC.md "Lifecycle & Ordering": no ADD or DEL in progress before GC)', () => {
  const net11 = JSON.stringify({ cniVersion: '1.1.0', name: 'net11', type: 'bridge' });
  const other = 'e'.repeat(64);

  /** A world whose attach of eth3 (another process: a lock of host fake-host to gc) stays in its ADD until let go. */
  function slowAdd() {
    const w = world({ stdin: net11 });
    const log: string[] = [];
    let letGo!: () => void;
    const goOn = new Promise<void>((r) => (letGo = r));
    let started!: () => void;
    const inAdd = new Promise<void>((r) => (started = r));
    w.exec.addPlugin('/opt/cni/bin/bridge', async (c) => {
      if (c.command === 'ADD') {
        log.push(`ADD ${c.env.CNI_IFNAME} start`);
        started();
        await goOn;
        log.push(`ADD ${c.env.CNI_IFNAME} end`);
        return { stdout: JSON.stringify(bridgeResult(c.env.CNI_IFNAME!, '/proc/4343/ns/net', '198.18.0.3/24', '1.1.0')) };
      }
      if (c.command === 'GC') log.push(`GC valid=${(c.stdin['cni.dev/valid-attachments'] as { ifname: string }[]).map((a) => a.ifname).join(',')}`);
      return {};
    }, ['1.0.0', '1.1.0']);
    const ctx: ChainContext = { exec: w.exec, cniPath: ['/opt/cni/bin'], timeoutMs: 5000, note: () => undefined };
    const running = attach(ctx, new ResultCache(w.exec, '/var/lib/cni', fakeOwner()), { list: parseNetworkConfig(net11, 't'), rt: { containerId: other, netns: '/proc/4343/ns/net', ifname: 'eth3', cniArgs: [], capabilityArgs: {} }, describe: 'x', interfaceExists: async () => false });
    return { w, log, letGo, inAdd, running };
  }

  it('ADD first: gc waits, holding no GC lock, while the attach holds its interface lock, and runs GC once the ADD returned, with that attachment valid (one note says so)', async () => {
    const s = slowAdd();
    await s.inAdd;
    const gcLock = gcLockPath('/var/lib/cni', 'net11');
    let gcLockWhileWaiting: string | undefined;
    setTimeout(() => {
      gcLockWhileWaiting = s.w.exec.files.get(gcLock);
      s.log.push('ADD let go');
      s.letGo();
    }, 200);
    expect(await s.w.cli(gcCommand, [])).toBe(0);
    await s.running;
    // before: GC ran at once, beside the ADD ('GC valid=eth3' before 'ADD eth3 end')
    expect(s.log).toEqual(['ADD eth3 start', 'ADD let go', 'ADD eth3 end', 'GC valid=eth3']);
    // before: gc held its GC lock while it waited, so attaches of the network begun meanwhile waited behind it
    expect(gcLockWhileWaiting).toBeUndefined();
    expect(s.w.stderr()).toMatch(/^note: waited \d+\.\ds for a cni-attach\/cni-detach \(pid 4242 on host fake-host\) working on eth3 of container eeeeeeeeeeee in \/proc\/4343\/ns\/net to finish before CNI GC of network net11 \(no GC runs beside an ADD or DEL\)$/m);
    expect(s.w.stdout()).toMatch(/^CNI GC ran for network net11$/m);
    expect(s.w.exec.files.has(gcLock)).toBe(false);
  });

  it('an ADD that takes its interface lock after gc saw none and before gc took the GC lock: gc reads the locks again under the GC lock, gives it back and waits for that ADD too, then runs GC', async () => {
    const s = slowAdd();
    await s.inAdd;
    const gcLock = gcLockPath('/var/lib/cni', 'net11');
    const eth4 = lockPath('/var/lib/cni', other, 'eth4');
    const files = s.w.exec.files;
    const set = files.set.bind(files);
    let taken = 0;
    // the moment gc creates its GC lock, an attach of eth4 is found to have taken its interface lock just before (a
    // live holder), and gives it back 150 ms later
    files.set = (k: string, v: string) => {
      if (k === gcLock && ++taken === 1) {
        set(eth4, 'fake-host 4242 100\n');
        s.log.push('eth4 locked');
        setTimeout(() => (files.delete(eth4), s.log.push('eth4 unlocked')), 150);
      }
      return set(k, v);
    };
    setTimeout(() => (s.log.push('ADD let go'), s.letGo()), 100);
    expect(await s.w.cli(gcCommand, [])).toBe(0);
    await s.running;
    // before the re-read under the GC lock (gc read the locks, then took the GC lock): GC ran beside eth4's lock
    expect(s.log).toEqual(['ADD eth3 start', 'ADD let go', 'ADD eth3 end', 'eth4 locked', 'eth4 unlocked', 'GC valid=eth3']);
    expect(taken, 'the GC lock was given back once and taken again').toBe(2);
    expect(s.w.stdout()).toMatch(/^CNI GC ran for network net11$/m);
    expect(s.w.exec.files.has(gcLock)).toBe(false);
  });

  it('an ADD that finishes while gc waits for it is counted as it is then: alive, not busy (before: "0 alive, 1 busy")', async () => {
    const s = slowAdd();
    s.w.exec.netns.add('/proc/4343/ns/net');
    await s.inAdd;
    setTimeout(() => s.letGo(), 200);
    expect(await s.w.cli(gcCommand, [])).toBe(0);
    await s.running;
    expect(s.log).toEqual(['ADD eth3 start', 'ADD eth3 end', 'GC valid=eth3']);
    expect(s.w.stdout()).toMatch(/^gc: freed 0 stale attachments, 1 alive$/m);
    expect(s.w.stderr()).toContain('note: eth3 of netns /proc/4343/ns/net (network net11): the cni-attach/cni-detach that was working on it when gc began has ended: eth3 is attached, counted alive\n');
    expect(s.w.stderr()).not.toMatch(/left eth3/);
  });

  it('an ADD whose target went while gc waited for it: freed by that gc once the ADD is done (before: left busy)', async () => {
    const s = slowAdd(); // its netns /proc/4343/ns/net is not there: the attachment is stale once its ADD is done
    await s.inAdd;
    setTimeout(() => s.letGo(), 200);
    expect(await s.w.cli(gcCommand, [])).toBe(0);
    await s.running;
    expect(s.w.stdout()).toMatch(/^freed eth3 of netns \/proc\/4343\/ns\/net \(network net11\): the network namespace is gone$/m);
    expect(s.w.stdout()).toMatch(/^gc: freed 1 stale attachment, 0 alive$/m);
    expect(s.w.exec.calls.filter((c) => c.command === 'DEL').map((c) => c.env.CNI_IFNAME)).toEqual(['eth3']);
    expect([...s.w.exec.files.keys()].filter((f) => f.includes('eeeeeeee') && !f.endsWith('.lock'))).toEqual([]);
  });

  it('a DEL (another cni-detach) that finishes while gc waits for it: said gone meanwhile, not busy (before: "1 busy")', async () => {
    const w = world({ stdin: net11 });
    let letGo!: () => void;
    const goOn = new Promise<void>((r) => (letGo = r));
    let started!: () => void;
    const inDel = new Promise<void>((r) => (started = r));
    w.exec.addPlugin('/opt/cni/bin/bridge', async (c) => {
      if (c.command === 'ADD') return { stdout: JSON.stringify(bridgeResult(c.env.CNI_IFNAME!, '/proc/4343/ns/net', '198.18.0.3/24', '1.1.0')) };
      if (c.command === 'DEL' && c.env.CNI_IFNAME === 'eth3' && !w.exec.calls.some((x) => x.command === 'GC')) {
        started();
        await goOn;
      }
      return {};
    }, ['1.0.0', '1.1.0']);
    w.exec.netns.add('/proc/4343/ns/net');
    const ctx: ChainContext = { exec: w.exec, cniPath: ['/opt/cni/bin'], timeoutMs: 5000, note: () => undefined };
    const cache = new ResultCache(w.exec, '/var/lib/cni', fakeOwner());
    await attach(ctx, cache, { list: parseNetworkConfig(net11, 't'), rt: { containerId: other, netns: '/proc/4343/ns/net', ifname: 'eth3', cniArgs: [], capabilityArgs: {} }, describe: 'x', interfaceExists: async () => false });
    w.exec.netns.delete('/proc/4343/ns/net'); // stale now: its namespace is gone
    const deleting = detach(ctx, cache, { containerId: other, ifname: 'eth3', netns: '', describe: 'x' });
    await inDel;
    setTimeout(() => letGo(), 200);
    expect(await w.cli(gcCommand, [])).toBe(0);
    await deleting;
    expect(w.stdout()).toMatch(/^gc: freed 0 stale attachments, 0 alive, 1 gone meanwhile \(freed by the command that held it\)$/m);
    expect(w.stderr()).toContain('note: eth3 of netns /proc/4343/ns/net (network net11): the cni-attach/cni-detach that was working on it when gc began has ended, and left nothing of it (its DEL ran, or its attach was rolled back): nothing to free\n');
    expect(await w.cli(gcCommand, ['-o', 'json'])).toBe(0);
    expect(JSON.parse(w.stdout())).toMatchObject({ busy: [], endedMeanwhile: [] });
  });

  it('--dry-run says what the real run\'s CNI GC would wait for, and for how long at most: a running ADD, another cni-gc (before: nothing)', async () => {
    const s = slowAdd();
    await s.inAdd;
    expect(await s.w.cli(gcCommand, ['--dry-run', '--timeout', '90s'])).toBe(0);
    expect(s.w.stderr()).toContain('note: CNI GC of network net11 would wait for a cni-attach/cni-detach (pid 4242 on host fake-host) working on eth3 of container eeeeeeeeeeee in /proc/4343/ns/net to finish, at most 1m30s (--timeout): no GC runs beside an ADD or DEL (CNI spec); still running then, its GC is left for a later cni-gc\n');
    expect(await s.w.cli(gcCommand, ['--dry-run', '-o', 'json'])).toBe(0);
    expect(JSON.parse(s.w.stdout()).cniGcWaits).toEqual([
      { network: 'net11', waitsFor: 'a cni-attach/cni-detach (pid 4242 on host fake-host) working on eth3 of container eeeeeeeeeeee in /proc/4343/ns/net', atMost: '1m', reason: expect.stringMatching(/^no GC runs beside an ADD or DEL/) },
    ]);
    s.w.exec.files.set(gcLockPath('/var/lib/cni', 'net11'), 'other-host 77 1\n');
    expect(await s.w.cli(gcCommand, ['--dry-run'])).toBe(0);
    expect(s.w.stderr()).toContain('note: CNI GC of network net11 would wait for another cni-gc (pid 77 on host other-host) to finish, at most 1m (--timeout): no two cni-gc run GC of one network at once; still running then, no GC of it runs (an error)\n');
    expect(s.log).toEqual(['ADD eth3 start']); // the dry run ran nothing
    s.w.exec.files.delete(gcLockPath('/var/lib/cni', 'net11'));
    s.letGo();
    await s.running;
  });

  it('an ADD that outlasts --timeout: that network\'s GC does not run (busy: a note, the summary and -o json say so), exit 0, the GC lock released; the ADD goes on undisturbed', async () => {
    const s = slowAdd();
    await s.inAdd;
    expect(await s.w.cli(gcCommand, ['--timeout', '200ms'])).toBe(0);
    expect(s.log).toEqual(['ADD eth3 start']);
    const why = 'a cni-attach/cni-detach (pid 4242 on host fake-host) working on eth3 of container eeeeeeeeeeee in /proc/4343/ns/net was still running after 200ms (the plugin time limit) of waiting, and no CNI GC runs beside an ADD or DEL (CNI spec)';
    expect(s.w.stderr().split('\n')).toContain(`note: CNI GC of network net11 did not run: ${why}; a later cni-gc runs it`);
    expect(s.w.stdout()).toMatch(/^gc: freed 0 stale attachments, \d+ alive, 1 busy \(left for a later run\), CNI GC of 1 network left for a later run$/m);
    expect(s.w.stdout()).not.toMatch(/CNI GC ran/);
    expect(s.w.exec.files.has(gcLockPath('/var/lib/cni', 'net11'))).toBe(false);

    expect(await s.w.cli(gcCommand, ['--timeout', '200ms', '-o', 'json'])).toBe(0);
    const json = JSON.parse(s.w.stdout().slice(s.w.stdout().indexOf('{'))) as { cniGc: string[]; cniGcBusy: unknown[]; errors: string[] };
    expect(json).toMatchObject({ cniGc: [], cniGcBusy: [{ network: 'net11', reason: why }], errors: [] });

    s.letGo();
    await s.running;
    expect(s.log).toEqual(['ADD eth3 start', 'ADD eth3 end']);
  });

  it('an interface lock that only another network\'s record names is not waited for', async () => {
    const w = world({ stdin: net11 });
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult(c.env.CNI_IFNAME!, '/proc/4242/ns/net', '198.18.0.2/24', '1.1.0')) } : {}), ['1.0.0', '1.1.0']);
    await w.cli(attachCommand, attachArgs);
    // another network's attach of eth3 is in its ADD (its intent, its lock held by a live process of another host)
    const old = JSON.stringify({ cniVersion: '1.0.0', name: 'old10', type: 'bridge' });
    const intent = { kind: 'cniCacheV1', containerId: other, config: Buffer.from(old).toString('base64'), ifName: 'eth3', networkName: 'old10', netns: '/proc/4343/ns/net' };
    w.exec.files.set(intentPath('/var/lib/cni', { network: 'old10', containerId: other, ifname: 'eth3' }), JSON.stringify(intent));
    w.exec.files.set(lockPath('/var/lib/cni', other, 'eth3'), 'other-host 77 1\n');
    const began = Date.now();
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(Date.now() - began).toBeLessThan(2000);
    expect(w.stdout()).toMatch(/^CNI GC ran for network net11$/m);
    expect(w.stderr()).not.toMatch(/waited/);

    // with no record under it, a held lock may be any network's attach before its intent: waited for
    w.exec.files.delete(intentPath('/var/lib/cni', { network: 'old10', containerId: other, ifname: 'eth3' }));
    expect(await w.cli(gcCommand, ['--timeout', '100ms'])).toBe(0);
    expect(w.stderr()).toContain(`note: CNI GC of network net11 did not run: a cni-attach/cni-detach (pid 77 on host other-host) working on the attachment of /var/lib/cni/cni-attach/locks/${other}-eth3.lock was still running after 100ms`);
  });
});

describe('kubectl cni-list', () => {
  it('table and -o wide show outside text escaped and long values cut, one line per row; -o json, yaml and jsonpath keep it exact (before: a newline broke the row, ESC[2J cleared the screen)', async () => {
    const w = world();
    const forged = 'blue\nshop  web-9  eth1\x1b[2J\tx';
    const long = 'n'.repeat(200);
    const entry = (network: string, ifname: string) => ({
      kind: 'cniCacheV1', containerId: SANDBOX, config: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: network, type: 'bridge' })).toString('base64'), ifName: ifname, networkName: network, netns: NETNS,
      cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'web-1'], ['K8S_POD_UID', 'uid-1']], result: { cniVersion: '1.0.0', ips: [{ address: '198.18.0.2/24' }] },
    });
    w.exec.files.set(resultPath('/var/lib/cni', { network: 'forged', containerId: SANDBOX, ifname: 'eth1' }), JSON.stringify(entry(forged, 'eth1')));
    w.exec.files.set(resultPath('/var/lib/cni', { network: 'long', containerId: SANDBOX, ifname: 'eth2' }), JSON.stringify(entry(long.repeat(2), 'eth2')));
    // an attach running (its intent, its lock held) by a command whose host name holds an escape sequence: REASON names it
    const { result: _r, ...intent } = entry('net', 'eth3');
    w.exec.files.set(intentPath('/var/lib/cni', { network: 'net', containerId: SANDBOX, ifname: 'eth3' }), JSON.stringify(intent));
    w.exec.files.set(lockPath('/var/lib/cni', SANDBOX, 'eth3'), 'lap\x1b]0;owned\x07 77 1\n');
    for (const format of ['table', 'wide']) {
      expect(await w.cli(listCommand, ['-A', '-o', format])).toBe(0);
      const out = w.stdout();
      expect(out, format).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
      const lines = out.trimEnd().split('\n');
      expect(lines, out).toHaveLength(4); // the header and three rows
      if (format === 'wide') expect(lines.find((l) => / eth3 /.test(l))).toContain('attach running (pid 77 on host lap\\x1b]0;owned\\x07)');
      expect(out).toContain('blue\\nshop  web-9  eth1\\x1b[2J\\tx');
      expect(lines.find((l) => / eth2 /.test(l))).toContain(`${'n'.repeat(250)}...`);
      expect(lines.find((l) => / eth2 /.test(l))).not.toContain('n'.repeat(251));
      expect(w.stderr()).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
    }
    expect(await w.cli(listCommand, ['-A', '-o', 'name'])).toBe(0);
    expect(w.stdout()).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
    expect(await w.cli(listCommand, ['-A', '-o', 'json'])).toBe(0);
    const items = (JSON.parse(w.stdout()) as { items: { ifname: string; network: string }[] }).items;
    expect(items.find((i) => i.ifname === 'eth1')!.network).toBe(forged);
    expect(items.find((i) => i.ifname === 'eth2')!.network).toBe(long.repeat(2));
    expect(await w.cli(listCommand, ['-A', '-o', 'jsonpath={.items[?(@.ifname=="eth1")].network}'])).toBe(0);
    expect(w.stdout()).toBe(forged);
    expect(await w.cli(listCommand, ['-A', '-o', 'yaml'])).toBe(0);
    expect(w.stdout()).toContain('\\e[2J');
  });
  it('shows "interface gone", with its reason, when the sandbox lives but the interface is not in it', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.exec.links.set(NETNS, new Set(['lo']));
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'json'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { items: unknown[] }).items).toEqual([
      expect.objectContaining({ ifname: 'eth1', state: 'interface gone', reason: `eth1 is not in ${NETNS} any more: deleted outside cni-attach (no DEL of ours was under way); its IPAM lease is still held: cni-detach frees it` }),
    ]);
  });

  it('shows the attachments of the namespace as a table with their state', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.exec.links.set(NETNS, new Set(['lo', 'eth1'])); // what the plugin made (the fake plugin makes no link)
    expect(await w.cli(listCommand, ['-n', 'shop'])).toBe(0);
    const lines = w.stdout().trim().split('\n');
    // as kubectl get: no NAMESPACE column without -A
    expect(lines[0]).toMatch(/^POD\s+IFNAME\s+NETWORK\s+ADDRESSES\s+STATE\s+ANNOTATED\s+CONTAINER\s+REASON$/);
    expect(lines[1]).toMatch(/^web-1\s+eth1\s+net\s+198\.18\.0\.2\/24\s+attached\s+yes\s+ffffffffffff\s+<none>$/);
    expect(w.stderr()).toBe(''); // nothing to clear: no note
    expect(await w.cli(listCommand, ['-n', 'shop', '--no-headers', '-A'])).toBe(0);
    expect(w.stdout().trim().split('\n').at(-1)).toMatch(/^shop\s+web-1\s+eth1\s+net\s+198\.18\.0\.2\/24\s+attached\s+yes\s+ffffffffffff\s+<none>$/);
  });
  it('a record that is not attached: its brief reason in the table, the command that clears it in a note on stderr', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.exec.links.set(NETNS, new Set(['lo']));
    expect(await w.cli(listCommand, ['-n', 'shop'])).toBe(0);
    expect(w.stdout().split('\n')[1]).toMatch(/^web-1\s+eth1\s+net\s+\S+\s+interface gone\s+yes\s+ffffffffffff\s+link deleted, lease still held$/);
    expect(w.stderr()).toBe('note: to clear web-1 eth1 (interface gone): `kubectl cni-detach web-1 -n shop --ifname eth1`\n');
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'wide', '--no-headers'])).toBe(0);
    expect(w.stdout()).toMatch(/\snode-1\s+\/var\/lib\/cni\s+link deleted, lease still held; cni-detach frees its lease\n$/);
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'json'])).toBe(0);
    expect(JSON.parse(w.stdout()).items[0].clearCommand).toBe('kubectl cni-detach web-1 -n shop --ifname eth1');
    expect(w.stderr()).toBe(''); // json carries it: no note
  });
  it('a cache entry cut short: its target found by its sandbox (a pod) or among ip netns names (cnitool id), for the command', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.exec.netns.add('/var/run/netns/blue');
    await w.cli(attachCommand, ['--netns', 'blue', '--ifname', 'net1', '--conf', '-']);
    const files = [...w.exec.files.keys()].filter((k) => k.includes('/results/'));
    expect(files).toHaveLength(2);
    for (const f of files) w.exec.files.set(f, w.exec.files.get(f)!.slice(0, 120)); // the container id survives, the rest not
    expect(await w.cli(listCommand, ['-A', '--no-headers'])).toBe(0);
    const rows = w.stdout().trim().split('\n');
    expect(rows).toEqual([
      expect.stringMatching(/^-\s+netns:\/var\/run\/netns\/blue\s+net1\s+net\s+<none>\s+unreadable\s+<unknown>\s+cnitool-\S+\s+not JSON \(cut short\?\)$/),
      expect.stringMatching(/^shop\s+web-1\s+eth1\s+net\s+<none>\s+unreadable\s+<unknown>\s+ffffffffffff\s+not JSON \(cut short\?\)$/),
    ]);
    expect(w.stderr()).toBe(
      "note: to clear netns:/var/run/netns/blue net1 (unreadable): `kubectl cni-detach --netns /var/run/netns/blue --ifname net1 --force` (with --conf FILE, the network's config, its DEL runs first and frees the lease)\n" +
        "note: to clear web-1 eth1 (unreadable): `kubectl cni-detach web-1 -n shop --ifname eth1 --force` (with --conf FILE, the network's config, its DEL runs first and frees the lease)\n",
    );
    // without the runtime (--no-cluster) the pod's record names no target: the command has a placeholder
    expect(await w.cli(listCommand, ['-A', '--no-cluster', '-o', 'json'])).toBe(0);
    expect((JSON.parse(w.stdout()).items as { clearCommand: string }[]).map((i) => i.clearCommand)).toEqual([
      'kubectl cni-detach --netns /var/run/netns/blue --ifname net1 --force',
      'kubectl cni-detach POD -n NAMESPACE --ifname eth1 --force',
    ]);
  });
  it('an unfinished attach whose lock is held right now is attaching (an attach still in its plugins), with nothing to clear; once free, interrupted with the cni-detach that undoes it', async () => {
    const w = world();
    const key = { network: 'net', containerId: SANDBOX, ifname: 'eth1' };
    const entry = { kind: 'cniCacheV1', containerId: SANDBOX, config: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' })).toString('base64'), ifName: 'eth1', networkName: 'net', netns: NETNS, cniArgs: [['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'web-1'], ['K8S_POD_UID', 'uid-1']] };
    w.exec.files.set(intentPath('/var/lib/cni', key), JSON.stringify(entry));
    w.exec.files.set(lockPath('/var/lib/cni', SANDBOX, 'eth1'), 'other-host 77 1\n'); // its holder's host: respected
    // before: interrupted, with the cni-detach to run beside it
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'json'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { items: unknown[] }).items).toEqual([
      expect.objectContaining({
        pod: 'web-1', ifname: 'eth1', state: 'attaching',
        reason: 'an attach of eth1 has not finished: a cni-attach/cni-detach (pid 77 on host other-host) is working on it right now (an attach still in its plugins, or a detach undoing it); list again once it is done',
      }),
    ]);
    expect(JSON.parse(w.stdout()).items[0]).not.toHaveProperty('clearCommand');
    expect(await w.cli(listCommand, ['-n', 'shop'])).toBe(0);
    expect(w.stdout().split('\n')[1]).toMatch(/^web-1\s+eth1\s+net\s+<none>\s+attaching\s+no\s+ffffffffffff\s+attach running$/); // (pid 77 on host other-host) does not fit the 40 columns: -o wide, json say it
    expect(w.stderr()).toBe('');
    w.exec.files.delete(lockPath('/var/lib/cni', SANDBOX, 'eth1'));
    expect(await w.cli(listCommand, ['-n', 'shop'])).toBe(0);
    expect(w.stdout().split('\n')[1]).toMatch(/^web-1\s+eth1\s+net\s+<none>\s+interrupted\s+\S+\s+ffffffffffff\s+attach did not finish$/);
    expect(w.stderr()).toBe('note: to clear web-1 eth1 (interrupted): `kubectl cni-detach web-1 -n shop --ifname eth1`\n');
  });
  it('an entry of this host\'s cache whose live pod the API places on another node, its sandbox not here, is `other node`: cni-gc leaves it (not freed, not counted alive) and says why; cni-list shows it so (an outside tryout: a cache dir shared with the nodes, and cni-gc here freed the leases of live pods there)', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.runtime.sandboxes.clear();
    w.kube.pods.get('shop/web-1')!.spec!.nodeName = 'node-7';
    const files = [...w.exec.files.keys()].sort();
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive\n');
    expect(w.stderr()).toContain(`note: this host's cache holds eth1 of pod shop/web-1 (network net): pod shop/web-1 (uid uid-1) runs on node node-7, and its sandbox ${SANDBOX.slice(0, 12)} is not running here (node-1), whose cache holds this entry`);
    expect(w.stderr()).toContain('set NODE_NAME=node-7); not counted, freed or recorded here');
    expect([...w.exec.files.keys()].sort()).toEqual(files);
    expect(await w.cli(listCommand, ['web-1', '-n', 'shop', '-o', 'json'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { items: { state: string }[] }).items.map((x) => x.state)).toEqual(['other node']);
    // on its own node (this host named so) the same entry is a sandbox gone: freed
    w.kube.pods.get('shop/web-1')!.spec!.nodeName = 'node-1';
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toMatch(/^gc: freed 1 stale attachment/m);
  });
  it('-o json with the sandbox gone', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.runtime.sandboxes.clear();
    expect(await w.cli(listCommand, ['web-1', '-n', 'shop', '-o', 'json'])).toBe(0);
    expect(JSON.parse(w.stdout())).toEqual({
      apiVersion: 'v1',
      kind: 'List',
      metadata: { resourceVersion: '' },
      items: [
        {
          apiVersion: 'cni-attach/v1', kind: 'Attachment', metadata: { name: 'web-1.eth1', namespace: 'shop' },
          pod: 'web-1', node: 'node-1', ifname: 'eth1', network: 'net', addresses: ['198.18.0.2/24'], containerId: SANDBOX, state: 'sandbox gone', annotated: true,
          reason: 'its sandbox ffffffffffff is not running here any more (the pod was restarted?); the IPAM lease is still held: cni-gc frees it',
          clearCommand: 'kubectl cni-gc',
          cacheDir: '/var/lib/cni',
        },
      ],
    });
  });
  it('bare namespaces show with -A only', async () => {
    const w = world();
    w.exec.netns.add('/var/run/netns/x');
    await w.cli(attachCommand, ['--netns', '/var/run/netns/x', '--ifname', 'eth1', '--conf', '-']);
    expect(await w.cli(listCommand, [])).toBe(0);
    expect(w.stderr()).toMatch(/^No resources found in shop namespace\.$/m);
    expect(await w.cli(listCommand, ['-A'])).toBe(0);
    expect(w.stdout()).toMatch(/^-\s+netns:\/var\/run\/netns\/x\s+eth1\s+net/m);
  });
  it('falls back to the cache when the cluster cannot be reached', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.deps.kube = async () => {
      const { UsageError } = await import('../../src/errors.js');
      throw new UsageError('no Kubernetes cluster configured');
    };
    expect(await w.cli(listCommand, ['-n', 'shop'])).toBe(0);
    expect(w.stderr()).toMatch(/note: only this host's CNI cache was read, nothing in the cluster \(.*\): no Kubernetes cluster configured/);
    expect(w.stdout()).toMatch(/web-1\s+eth1\s+net\s+198\.18\.0\.2\/24\s+attached\s+<unknown>\s+ffffffffffff/);
  });
  it('--help lists "Options" before "Global options", as cni-attach --help does, and says what the cluster flags do for it', async () => {
    const w = world();
    expect(await w.cli(listCommand, ['--help'])).toBe(0);
    const help = w.stdout();
    expect(help.indexOf('\nOptions:')).toBeGreaterThan(0);
    expect(help.indexOf('\nOptions:')).toBeLessThan(help.indexOf('\nGlobal options'));
    expect(help).toMatch(/--no-cluster asks neither the\s+cluster nor the runtime/);
  });
  it('an empty cache and no cluster: "No resources found" and the note that the cluster could not be asked, exit 0', async () => {
    const w = world();
    w.deps.kube = async () => {
      const { UsageError } = await import('../../src/errors.js');
      throw new UsageError('no Kubernetes cluster configured');
    };
    expect(await w.cli(listCommand, [])).toBe(0);
    expect(w.stdout()).toBe('');
    expect(w.stderr()).toBe("note: only this host's CNI cache was read, nothing in the cluster (its pods and the attachments recorded on other nodes are not included): no Kubernetes cluster configured\nNo resources found in default namespace.\n");
  });
});

describe('kubectl cni-gc: agent pods left behind by commands that were killed', () => {
  const AGENT = { 'app.kubernetes.io/name': 'cni-attach-agent' };
  /**
   * Agent pods in kube-system in every phase — a Running one whose command (named on it) ran on this host and is gone,
   * one of another host's command within its deadline and one past it, one of a command of this host that runs (this
   * test's) — one in another namespace, and a finished pod that is not an agent.
   */
  function agentsWorld() {
    const w = world();
    const add = (name: string, phase: string, o: { namespace?: string; labels?: Record<string, string>; reason?: string; by?: object; startedAgoS?: number } = {}) => {
      const p = makePod({ name, namespace: o.namespace ?? 'kube-system', uid: `uid-${name}`, node: 'node-b', phase, labels: o.labels ?? { ...AGENT, 'cni-attach/node': 'node-b' }, ...(o.by ? { annotations: { 'cni-attach/by': JSON.stringify(o.by) } } : {}) });
      if (o.reason) p.status!.reason = o.reason;
      if (o.startedAgoS !== undefined) p.metadata!.creationTimestamp = new Date(Date.now() - o.startedAgoS * 1000) as never;
      w.kube.add(p);
    };
    add('cni-attach-agent-dead1', 'Failed', { reason: 'DeadlineExceeded' });
    add('cni-attach-agent-done1', 'Succeeded');
    add('cni-attach-agent-busy1', 'Running');
    add('cni-attach-agent-new01', 'Pending');
    add('cni-attach-agent-kill9', 'Running', { by: { host: hostname(), pid: 2 ** 22 + 7 }, startedAgoS: 30 });
    add('cni-attach-agent-other', 'Running', { by: { host: 'laptop-2', pid: 77 }, startedAgoS: 30 });
    add('cni-attach-agent-late1', 'Running', { by: { host: 'laptop-2', pid: 78 }, startedAgoS: 661 });
    add('cni-attach-agent-mine1', 'Running', { by: { host: hostname(), pid: process.pid }, startedAgoS: 700 });
    add('cni-attach-agent-forge', 'Running', { by: { host: hostname(), pid: 'x' }, startedAgoS: 30 });
    add('cni-attach-agent-tools', 'Failed', { namespace: 'cni-tools', reason: 'DeadlineExceeded' });
    add('some-job-x', 'Failed', { labels: { app: 'job' } });
    return w;
  }
  const left = (w: ReturnType<typeof world>) => [...w.kube.pods.keys()].filter((k) => !k.startsWith('shop/')).sort();
  const DELETABLE = ['kube-system/cni-attach-agent-dead1', 'kube-system/cni-attach-agent-done1', 'kube-system/cni-attach-agent-kill9', 'kube-system/cni-attach-agent-late1'];

  it('names the deadline as it is (start + activeDeadlineSeconds) and the instant gc acts on (a minute later) as what it is, in whole seconds (tryout 8 F4 c: "past its deadline at" named deadline + 60 s, with milliseconds)', async () => {
    const w = world();
    const secs = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const t = Math.floor(Date.now() / 1000) * 1000;
    for (const [name, agoS] of [['cni-attach-agent-late1', 661], ['cni-attach-agent-other', 30]] as const) {
      const p = makePod({ name, namespace: 'kube-system', uid: `uid-${name}`, node: 'node-b', phase: 'Running', labels: { ...AGENT, 'cni-attach/node': 'node-b' }, annotations: { 'cni-attach/by': JSON.stringify({ host: 'laptop-2', pid: 77 }) } });
      p.metadata!.creationTimestamp = new Date(t - agoS * 1000) as never;
      w.kube.add(p);
    }
    expect(await w.cli(gcCommand, ['--dry-run', '--cni-path', '/opt/cni/bin'])).toBe(0);
    const notes = w.stderr().split('\n').filter((l) => l.includes('agent pod')).sort();
    expect(notes).toEqual([
      `note: left agent pod kube-system/cni-attach-agent-other on node node-b: Running, made by a kubectl cni-* command (pid 77 on host laptop-2), may be in use: only on host laptop-2 can it be told whether its command still runs; its deadline is ${secs(t - 30_000 + 600_000)}, and \`kubectl cni-gc --cni-path /opt/cni/bin\` from ${secs(t - 30_000 + 660_000)} on (a minute for its kubelet to end it) deletes it`,
      `note: would delete agent pod kube-system/cni-attach-agent-late1 on node node-b: Running past its deadline (started ${secs(t - 661_000)}, activeDeadlineSeconds 600: deadline ${secs(t - 61_000)}), made by a kubectl cni-* command (pid 77 on host laptop-2): no command can be using it, and its kubelet did not end it`,
    ]);
  });

  it('deletes the finished ones of this tool, those whose command (named on them) ran on this host and is gone, and those past their deadline; never one a command may be using (its command runs here, another host\'s within its deadline, or one it cannot tell), saying so', async () => {
    const w = agentsWorld();
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.kube.deleted.sort()).toEqual(DELETABLE);
    expect(left(w)).toEqual(['cni-tools/cni-attach-agent-tools', 'kube-system/cni-attach-agent-busy1', 'kube-system/cni-attach-agent-forge', 'kube-system/cni-attach-agent-mine1', 'kube-system/cni-attach-agent-new01', 'kube-system/cni-attach-agent-other', 'kube-system/some-job-x']);
    const lines = w.stderr().split('\n').filter(Boolean).sort();
    expect(lines.filter((l) => l.startsWith('note: deleted'))).toEqual([
      'note: deleted agent pod kube-system/cni-attach-agent-dead1 on node node-b: finished (Failed: DeadlineExceeded), left behind by a cni-attach command that did not end normally',
      'note: deleted agent pod kube-system/cni-attach-agent-done1 on node node-b: finished (Succeeded), left behind by a cni-attach command that did not end normally',
      `note: deleted agent pod kube-system/cni-attach-agent-kill9 on node node-b: Running, made by a kubectl cni-* command (pid ${2 ** 22 + 7} on this host ${hostname()}), which is gone (killed?): nothing uses it`,
      expect.stringMatching(/^note: deleted agent pod kube-system\/cni-attach-agent-late1 on node node-b: Running past its deadline \(started \S+Z, activeDeadlineSeconds 600: deadline \S+Z\), made by a kubectl cni-\* command \(pid 78 on host laptop-2\): no command can be using it, and its kubelet did not end it$/),
    ]);
    // the ones that may be in use are said (not this host's running command's: that one is in use, nothing to say)
    expect(lines.filter((l) => l.startsWith('note: left'))).toEqual([
      'note: left agent pod kube-system/cni-attach-agent-busy1 on node node-b: Running, made by a kubectl cni-* command that it does not name, may be in use: whether its command still runs cannot be told; its kubelet ends it at its deadline',
      // a `by` that is no command (anyone who may create pods there may write it) names none
      expect.stringMatching(/^note: left agent pod kube-system\/cni-attach-agent-forge on node node-b: Running, made by a kubectl cni-\* command that it does not name, may be in use: whether its command still runs cannot be told; its deadline is \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, and `kubectl cni-gc` from \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ on \(a minute for its kubelet to end it\) deletes it$/),
      'note: left agent pod kube-system/cni-attach-agent-new01 on node node-b: Pending, made by a kubectl cni-* command that it does not name, may be in use: whether its command still runs cannot be told; its kubelet ends it at its deadline',
      expect.stringMatching(/^note: left agent pod kube-system\/cni-attach-agent-other on node node-b: Running, made by a kubectl cni-\* command \(pid 77 on host laptop-2\), may be in use: only on host laptop-2 can it be told whether its command still runs; its deadline is \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, and `kubectl cni-gc` from \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ on \(a minute for its kubelet to end it\) deletes it$/),
    ]);
    // counted in the summary (before: the notes alone said them)
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive, 4 leftover agent pods deleted\n');
  });

  it('--dry-run says what it would delete and deletes nothing; --agent-namespace says where to look; -o json lists them', async () => {
    const w = agentsWorld();
    expect(await w.cli(gcCommand, ['--dry-run'])).toBe(0);
    expect(w.kube.deleted).toEqual([]);
    expect(w.stderr()).toContain('note: would delete agent pod kube-system/cni-attach-agent-dead1 on node node-b: finished (Failed: DeadlineExceeded), left behind by a cni-attach command that did not end normally\n');
    expect(w.stderr().match(/would delete/g)).toHaveLength(4);
    // and counts them as the real run does (before: not counted, "gc: would free 0 stale attachments, 0 alive")
    expect(w.stdout()).toBe('gc: would free 0 stale attachments, 0 alive, 4 leftover agent pods to delete\n');
    expect(await w.cli(gcCommand, ['--agent-namespace', 'cni-tools', '-o', 'json'])).toBe(0);
    expect(w.kube.deleted).toEqual(['cni-tools/cni-attach-agent-tools']);
    expect(JSON.parse(w.stdout()).agentPodsDeleted).toEqual(['cni-tools/cni-attach-agent-tools']);
  });

  it('cni-list -A names the leftovers (the ones cni-gc deletes) with the cni-gc that deletes them; without -A, or with -o json, it does not', async () => {
    const w = agentsWorld();
    expect(await w.cli(listCommand, ['-A'])).toBe(0);
    const notes = w.stderr().split('\n').filter((l) => l.includes('agent pod')).sort();
    expect(notes.map((l) => l.slice(0, l.indexOf(':', 6)))).toEqual(DELETABLE.map((n) => `note: agent pod ${n} on node node-b is left over`));
    expect(notes.every((l) => l.endsWith('; `kubectl cni-gc` deletes it'))).toBe(true);
    expect(w.kube.deleted).toEqual([]);
    expect(await w.cli(listCommand, [])).toBe(0);
    expect(w.stderr()).not.toContain('agent pod');
    expect(await w.cli(listCommand, ['-A', '-o', 'json'])).toBe(0);
    expect(w.stderr()).not.toContain('agent pod');
  });

  it('a list it may not make is a note, and gc goes on; a delete that fails is a problem of the gc (exit 4)', async () => {
    const w = agentsWorld();
    const { UnreachableError } = await import('../../src/errors.js');
    const list = w.kube.listPods.bind(w.kube);
    w.kube.listPods = async (ns, sel) => {
      if (ns === 'kube-system') throw new UnreachableError('listing pods in kube-system: the API server answered 403: pods is forbidden');
      return list(ns, sel);
    };
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stderr()).toBe('note: agent pods left in kube-system by commands that were killed are not looked at: listing pods in kube-system: the API server answered 403: pods is forbidden\n');
    w.kube.listPods = list;
    w.kube.deletePod = async () => {
      throw new UnreachableError('deleting pod: the API server answered 403: pods "x" is forbidden');
    };
    expect(await w.cli(gcCommand, [])).toBe(4);
    expect(w.stderr()).toMatch(/^note: could not delete agent pod kube-system\/cni-attach-agent-dead1: deleting pod: the API server answered 403/m);
  });
});

describe('kubectl cni-gc: an attachment whose interface is gone is not alive (fault: counted "alive")', () => {
  it('this host: counted apart, with the cni-detach that frees its lease; not freed, not a failure (exit 0)', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.exec.links.set(NETNS, new Set(['lo']));
    // before: "gc: freed 0 stale attachments, 1 alive"
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toBe('gc: freed 0 stale attachments, 0 alive, 1 interface gone (cni-detach frees its lease)\n');
    expect(w.stderr()).toContain(`note: eth1 of pod shop/web-1 (network net) is not counted alive: eth1 is not in ${NETNS} any more: deleted outside cni-attach (no DEL of ours was under way); its IPAM lease is still held: cni-detach frees it; run \`kubectl cni-detach web-1 -n shop --ifname eth1\`\n`);
    expect(dels(w)).toHaveLength(0);
    expect(await w.cli(gcCommand, ['-o', 'json'])).toBe(0);
    expect(JSON.parse(w.stdout())).toMatchObject({ alive: 0, freed: [], interfaceGone: [{ target: 'pod shop/web-1', ifname: 'eth1', network: 'net', containerId: SANDBOX, clearCommand: 'kubectl cni-detach web-1 -n shop --ifname eth1' }] });
    expect(results(w)).toHaveLength(1);
  });
});

describe('a detach stopped during its DEL (its mark in cni-attach/deleting/, its lock free) told from an interface deleted by hand', () => {
  const key = { network: 'net', containerId: SANDBOX, ifname: 'eth1' };
  const mark = JSON.stringify({ kind: 'cniAttachDeletingV1', command: 'cni-detach', at: '2026-12-02T05:00:00Z', host: 'lap', pid: 77 });

  it('cni-list: `detach stopped`, its reason (who, when, the link gone already) and the cni-detach that finishes it; without the mark, the by-hand words', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.exec.links.set(NETNS, new Set(['lo']));
    w.exec.files.set(deletingPath('/var/lib/cni', key), mark);
    expect(await w.cli(listCommand, ['-n', 'shop'])).toBe(0);
    expect(w.stdout().split('\n')[1]).toMatch(/^web-1\s+eth1\s+net\s+\S+\s+detach stopped\s+yes\s+ffffffffffff\s+DEL stopped part-way$/);
    expect(w.stderr()).toBe('note: to clear web-1 eth1 (detach stopped): `kubectl cni-detach web-1 -n shop --ifname eth1`\n');
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'json'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { items: unknown[] }).items).toEqual([
      expect.objectContaining({
        state: 'detach stopped',
        reason: `a cni-detach (pid 77 on host lap) stopped during its DEL of it at 2026-12-02T05:00:00Z: eth1 is gone from ${NETNS} already (its DEL deleted it), but its IPAM lease may still be held; run cni-detach again to finish it (DEL is idempotent)`,
        clearCommand: 'kubectl cni-detach web-1 -n shop --ifname eth1',
      }),
    ]);
    // the link still there: said so
    w.exec.links.set(NETNS, new Set(['lo', 'eth1']));
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'json'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { items: { reason: string }[] }).items[0]!.reason).toContain(`: eth1 is still in ${NETNS}, and its IPAM lease held; run cni-detach again`);
    // a DEL running now (its lock held by a live command): not stopped
    w.exec.files.set(lockPath('/var/lib/cni', SANDBOX, 'eth1'), `${thisHost.host} ${process.pid} ${await thisHost.start()}\n`);
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'json'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { items: { state: string }[] }).items[0]!.state).toBe('attached');
  });

  it("its lock another host's (a laptop's cni-detach killed in its DEL): within its time limit attached (its DEL may run), past it `detach stopped` with the cni-detach --force that finishes it; cni-gc leaves it busy, not alive (tryout 8, F7)", async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.exec.links.set(NETNS, new Set(['lo']));
    w.exec.files.set(deletingPath('/var/lib/cni', key), mark);
    const lock = lockPath('/var/lib/cni', SANDBOX, 'eth1');
    w.exec.files.set(lock, 'lap 77 5000 limit=70s\n');
    w.exec.ages.set(lock, 20_000);
    type Item = { state: string; reason?: string; clearCommand?: string };
    const item = async () => (expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'json'])).toBe(0), (JSON.parse(w.stdout()) as { items: Item[] }).items[0]!);
    // within its limit: a DEL that may be running (never "interface gone … no DEL of ours was under way")
    expect(await item()).toMatchObject({ state: 'attached', reason: expect.stringMatching(/^a cni-detach \(pid 77 on host lap\) began a DEL of it at 2026-12-02T05:00:00Z and holds its lock: a command of another host, which this host cannot see, whose DEL may be running now \(the time limit of its lock passes in 50s/) });
    // past it: stopped; only --force takes that lock (before: `interface gone`, "lease still held", counted alive)
    w.exec.ages.set(lock, 200_000);
    const stopped = await item();
    expect(stopped).toMatchObject({ state: 'detach stopped', clearCommand: 'kubectl cni-detach web-1 -n shop --ifname eth1 --force' });
    expect(stopped.reason).toContain('; its lock is still held by that command of host lap, which this host cannot see: cni-detach answers busy without --force (only host lap can tell');
    expect(await w.cli(listCommand, ['-n', 'shop'])).toBe(0);
    expect(w.stdout().split('\n')[1]).toMatch(/\sdetach stopped\s+yes\s+ffffffffffff\s+DEL stopped; --force: lap's lock$/);
    expect(await w.cli(gcCommand, [])).toBe(0);
    expect(w.stdout()).toMatch(/^gc: freed 0 stale attachments, 0 alive, 1 busy \(left for a later run\)$/m);
    expect(w.stderr()).toMatch(/^note: left eth1 of pod shop\/web-1 \(network net\) alone: a cni-attach\/cni-detach \(pid 77 on host lap\) holds its lock: a command of another host, which this host cannot see \(.*`kubectl cni-detach web-1 -n shop --ifname eth1 --force` takes its lock at once: .* passed at \S+Z \(2m10s ago\)\); a later cni-gc looks at it again$/m);
    expect(w.exec.files.get(lock)).toBe('lap 77 5000 limit=70s\n');
  });

  it('an interrupted attach whose cni-detach was stopped in its DEL stays `interrupted`, its reason saying so too', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    const result = resultPath('/var/lib/cni', key);
    const { result: _r, ...intent } = JSON.parse(w.exec.files.get(result)!) as Record<string, unknown>;
    w.exec.files.delete(result);
    w.exec.files.set(intentPath('/var/lib/cni', key), JSON.stringify(intent));
    w.exec.files.set(deletingPath('/var/lib/cni', key), mark);
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'json'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { items: unknown[] }).items).toEqual([expect.objectContaining({
      state: 'interrupted',
      reason: 'an attach of it did not finish (killed, or its rollback failed), and then a cni-detach (pid 77 on host lap) stopped during its DEL of it at 2026-12-02T05:00:00Z: cni-detach or cni-gc undoes it',
    })]);
  });

  it('cni-detach finishes it: DEL again, the record, its mark and the pod\'s network-status entry gone', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.exec.files.set(deletingPath('/var/lib/cni', key), mark);
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']), w.stderr()).toBe(0);
    expect(dels(w)).toHaveLength(1);
    expect([...w.exec.files.keys()].filter((k) => k.includes('/results/') || k.includes('/cni-attach/'))).toEqual([]);
    expect((w.kube.annotation('shop', 'web-1', NETWORK_STATUS) as { interface: string }[]).map((e) => e.interface)).toEqual(['eth0']);
  });

  it('cni-gc with the pod alive finishes its DEL, as it undoes an interrupted attach (README); with the pod gone, frees it as before', async () => {
    for (const podGone of [false, true]) {
      const w = world();
      await w.cli(attachCommand, attachArgs);
      w.exec.files.set(deletingPath('/var/lib/cni', key), mark);
      if (podGone) w.kube.pods.clear();
      expect(await w.cli(gcCommand, []), w.stderr()).toBe(0);
      expect(w.stdout()).toBe(podGone
        ? 'freed eth1 of pod shop/web-1 (network net): the pod is gone; its sandbox still runs here: DEL in its namespace, the interface goes too\ngc: freed 1 stale attachment, 0 alive\n'
        : 'freed eth1 of pod shop/web-1 (network net): a DEL of it did not finish (a cni-detach or cni-gc stopped during it)\ngc: freed 1 stale attachment, 0 alive\n');
      expect(dels(w)).toHaveLength(1);
      if (!podGone) expect(dels(w)[0]!.env).toMatchObject({ CNI_NETNS: NETNS });
      expect([...w.exec.files.keys()].filter((k) => k.includes('/results/') || k.includes('/cni-attach/'))).toEqual([]);
      if (!podGone) expect((w.kube.annotation('shop', 'web-1', NETWORK_STATUS) as { interface: string }[]).map((e) => e.interface)).toEqual(['eth0']);
    }
  });
});
