/**
 * The pieces behind the laptop user's faults: follow-up command lines that carry how the cluster and the node were
 * reached, paths named with their node, the API server's 400 for the user's label selector, a batch line's result.
 */
import { describe, expect, it } from 'vitest';
import { ApiStatusError, UnreachableError, UsageError } from '../../src/errors.js';
import { onNode } from '../../src/exec/types.js';
import { detachCommandLine, gcCommandLine, summaryInline, waysOut } from '../../src/cli/output.js';
import { withUserSelector } from '../../src/cli/targets.js';
import { describeError, exitCodeOf } from '../../src/cli/main.js';

describe('follow-up command lines', () => {
  const given = {
    kubeconfig: '/home/me/kube configs/air.yaml', context: 'air-gapped', asGroup: ['ops', 'net admins'], token: 's3cr3t',
    runtime: 'agent', dockerHost: 'tcp://10.0.0.5:2375', agentImage: 'registry.local:5000/busybox@sha256:abc', agentNamespace: 'cni-agents',
    cacheDir: '/tmp/x', cniPath: '/opt/cni/bin', requestTimeout: '5s', timeout: '10s', parallel: '8',
  };
  it('a pod target carries every flag that reached the cluster and the node, quoted, the token as a placeholder, nothing else', () => {
    expect(detachCommandLine({ namespace: 'shop', name: 'db-1' }, 'net1', given)).toBe(
      "kubectl cni-detach db-1 -n shop --ifname net1 --kubeconfig '/home/me/kube configs/air.yaml' --context air-gapped --token TOKEN --as-group ops --as-group 'net admins' " +
        '--runtime agent --docker-host tcp://10.0.0.5:2375 --agent-image registry.local:5000/busybox@sha256:abc --agent-namespace cni-agents --cache-dir /tmp/x --cni-path /opt/cni/bin',
    );
    expect(waysOut({ namespace: 'shop', name: 'db-1' }, 'net1', given).force).toMatch(/--agent-image registry\.local:5000\/busybox@sha256:abc .*--force$/);
  });
  it("a bare namespace (this host's) takes only --cache-dir and --cni-path; defaults are left out", () => {
    expect(detachCommandLine({ netns: '/var/run/netns/a b' }, 'eth1', given)).toBe("kubectl cni-detach --netns '/var/run/netns/a b' --ifname eth1 --cache-dir /tmp/x --cni-path /opt/cni/bin");
    expect(detachCommandLine({ namespace: 'shop', name: 'web-1' }, 'eth1', { runtime: 'auto', agentNamespace: 'kube-system', cacheDir: '/var/lib/cni/' })).toBe(
      'kubectl cni-detach web-1 -n shop --ifname eth1',
    );
  });
  it('the user flags are carried; a --password, as a --token, only as a placeholder', () => {
    expect(gcCommandLine({ clientCertificate: '/home/me/me.crt', clientKey: 'me.key', username: 'bob', password: 's3cr3t' })).toBe(
      'kubectl cni-gc --client-certificate /home/me/me.crt --client-key me.key --username bob --password PASSWORD',
    );
    expect(detachCommandLine({ namespace: 'shop', name: 'db-1' }, 'net1', { username: 'bob smith', password: "it's secret" })).toBe(
      "kubectl cni-detach db-1 -n shop --ifname net1 --username 'bob smith' --password PASSWORD",
    );
  });
  it('cni-gc gets them too; --no-cluster (cluster: false) is not carried', () => {
    expect(gcCommandLine({ ...given, cluster: false, cniPath: undefined })).toBe(
      "kubectl cni-gc --kubeconfig '/home/me/kube configs/air.yaml' --context air-gapped --token TOKEN --as-group ops --as-group 'net admins' --runtime agent --docker-host tcp://10.0.0.5:2375 --agent-image registry.local:5000/busybox@sha256:abc --agent-namespace cni-agents --cache-dir /tmp/x",
    );
    expect(gcCommandLine({ cluster: 'c1', insecureSkipTlsVerify: true, server: 'https://h:6443' })).toBe('kubectl cni-gc --cluster c1 --server https://h:6443 --insecure-skip-tls-verify');
  });
});

describe('paths named with their node', () => {
  it('nothing on this host, "on node X" through an agent, "in node container X" for a kind node', () => {
    expect(onNode({})).toBe('');
    expect(onNode({ elsewhere: 'node node-c' })).toBe(' on node node-c');
    expect(onNode({ elsewhere: 'node container kind-worker' })).toBe(' in node container kind-worker');
  });
});

describe("the API server's 400 for the user's label selector", () => {
  const bad = new ApiStatusError("listing pods in shop matching app=(: the API server answered 400: unable to parse requirement: found '(', expected: identifier", 400, 'BadRequest', "unable to parse requirement: found '(', expected: identifier");
  it('is bad input (exit 2) naming the selector and -l', async () => {
    const e = await withUserSelector('app=(', Promise.reject(bad)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(exitCodeOf(e)).toBe(2);
    expect(describeError(e)).toBe(
      "the label selector 'app=(' is not valid: the API server answered 400 (BadRequest): unable to parse requirement: found '(', expected: identifier (nothing was changed); see -l/--selector",
    );
    // a command that changes nothing (cni-list) says nothing of changes
    expect(describeError(await withUserSelector('app=(', Promise.reject(bad), true).catch((x: unknown) => x))).toBe(
      "the label selector 'app=(' is not valid: the API server answered 400 (BadRequest): unable to parse requirement: found '(', expected: identifier; see -l/--selector",
    );
  });
  it('a 400 without the user\'s selector, and any other answer, stay unreachable (exit 4)', async () => {
    expect(exitCodeOf(await withUserSelector(undefined, Promise.reject(bad)).catch((x: unknown) => x))).toBe(4);
    const forbidden = new ApiStatusError('listing pods: the API server answered 403: forbidden', 403, 'Forbidden', 'forbidden');
    expect(await withUserSelector('app=web', Promise.reject(forbidden)).catch((x: unknown) => x)).toBe(forbidden);
    const down = new UnreachableError('cannot reach the API server');
    expect(await withUserSelector('app=web', Promise.reject(down)).catch((x: unknown) => x)).toBe(down);
    expect(await withUserSelector('app=web', Promise.resolve([1]))).toEqual([1]);
  });
});

describe("a batch's progress line", () => {
  it('names the interface once: its addresses, gateway and mac; another interface keeps its name', () => {
    const result = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'cni0', mac: '0a:00:00:00:00:01' }, { name: 'net1', mac: '26:60:43:17:57:d2', sandbox: '/proc/1/ns/net' }],
      ips: [{ address: '198.18.230.4/24', gateway: '198.18.230.1', interface: 1 }, { address: '198.18.231.4/24', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0' }],
    };
    expect(summaryInline(result, 'net1')).toBe('198.18.230.4/24  gateway 198.18.230.1  mac 26:60:43:17:57:d2; cni0  198.18.231.4/24  mac 0a:00:00:00:00:01');
    expect(summaryInline({ cniVersion: '1.0.0', interfaces: [{ name: 'net1', mac: '02:00:00:00:00:01' }] }, 'net1')).toBe('(no address)  mac 02:00:00:00:00:01');
  });
});
