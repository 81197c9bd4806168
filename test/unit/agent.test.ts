import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { detachCommand } from '../../src/cli/detach.js';
import { agentPod, agentRuntime } from '../../src/resolve/agent.js';
import { NETWORK_STATUS } from '../../src/resolve/network-status.js';
import { bridgeResult, FakeExecutor } from '../fakes/executor.js';
import { FakeKube, makePod } from '../fakes/kube.js';
import { world } from '../fakes/world.js';

/** A remote node behind the agent: ctr finds the pod's sandbox, the bridge plugin is in its /opt/cni/bin. */
function remoteNode() {
  const node = new FakeExecutor().emulateShell('ctr');
  node.tools.set('ctr', (argv) => {
    if (argv[3] === 'containers' && argv[4] === 'list') return { stdout: 'sb-far\n' };
    if (argv[3] === 'tasks') return { stdout: 'TASK PID STATUS\nsb-far 321 RUNNING\n' };
    return { stdout: JSON.stringify({ Labels: { 'io.kubernetes.pod.uid': 'uid-far' }, Spec: { linux: { namespaces: [{ type: 'network', path: '/var/run/netns/cni-far' }] } } }) };
  });
  node.netns.add('/var/run/netns/cni-far');
  node.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult('eth1', '/var/run/netns/cni-far')) } : {}));
  return node;
}

function agentWorld() {
  const w = world();
  const node = remoteNode();
  w.kube.execOn = node;
  w.kube.add(makePod({ name: 'far-1', namespace: 'shop', uid: 'uid-far', node: 'node-9' }));
  w.deps.runtimes = async (flags, api) => [agentRuntime(api!, { image: flags.agentImage ?? 'busybox:1.36', namespace: flags.agentNamespace ?? 'kube-system', startTimeoutMs: 1000, note: () => {} })];
  return { ...w, node };
}

describe('agent pod', () => {
  it('is privileged, on the host PID and network namespaces, pinned to the node, tolerating every taint, self-expiring', () => {
    const p = agentPod('node-9', { image: 'busybox:1.36', namespace: 'kube-system' });
    expect(p.spec).toMatchObject({
      nodeName: 'node-9', hostPID: true, hostNetwork: true, restartPolicy: 'Never', tolerations: [{ operator: 'Exists' }],
      automountServiceAccountToken: false, activeDeadlineSeconds: 600,
    });
    expect(p.spec!.containers[0]).toMatchObject({ image: 'busybox:1.36', securityContext: { privileged: true } });
    expect(p.metadata).toMatchObject({ generateName: 'cni-attach-agent-', namespace: 'kube-system' });
  });
});

describe('--runtime agent', () => {
  it('finds the sandbox on the remote node with ctr, runs the plugins there through nsenter, caches there, deletes the agent', async () => {
    const w = agentWorld();
    expect(await w.cli(attachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent'])).toBe(0);
    expect(w.stdout()).toMatch(/^eth1 attached to pod shop\/far-1 \(network net, node node-9, sandbox sb-far\)/);
    expect(w.kube.created).toHaveLength(1);
    expect(w.kube.created[0]!.spec!.nodeName).toBe('node-9');
    expect(w.kube.deleted).toEqual([`kube-system/${w.kube.created[0]!.metadata!.name}`]);
    // every command went through nsenter into the node's namespaces, with a clean environment
    expect(w.kube.execs.every((c) => c.slice(0, 11).join(' ') === 'nsenter -t 1 -m -u -i -n -p -- env -i')).toBe(true);
    const add = w.node.calls.find((c) => c.command === 'ADD')!;
    expect(add.env).toMatchObject({ CNI_CONTAINERID: 'sb-far', CNI_NETNS: '/var/run/netns/cni-far', CNI_IFNAME: 'eth1' });
    // the cache is the node's, not this host's
    expect([...w.node.files.keys()].some((k) => k === '/var/lib/cni/results/net-sb-far-eth1')).toBe(true);
    expect([...w.exec.files.keys()]).toEqual([]);
    expect((w.kube.annotation('shop', 'far-1', NETWORK_STATUS) as { interface: string }[])[0]!.interface).toBe('eth1');
  });

  it('detach goes through a new agent and deletes it too', async () => {
    const w = agentWorld();
    await w.cli(attachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent']);
    expect(await w.cli(detachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--runtime', 'agent'])).toBe(0);
    expect(w.node.calls.filter((c) => c.command === 'DEL')).toHaveLength(1);
    expect(w.kube.deleted).toHaveLength(2);
    expect([...w.node.files.keys()].filter((k) => k.includes('/results/'))).toEqual([]);
  });

  it('deletes the agent also when the attach fails', async () => {
    const w = agentWorld();
    w.node.addPlugin('/opt/cni/bin/bridge', () => ({ code: 1, stdout: '{"code":7,"msg":"bad"}' }));
    expect(await w.cli(attachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent'])).toBe(1);
    expect(w.kube.deleted).toHaveLength(1);
  });

  it('an agent that never runs is a clear error (exit 4), and is deleted', async () => {
    const w = agentWorld();
    w.kube.startAs = 'Pending';
    expect(await w.cli(attachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent'])).toBe(4);
    expect(w.stderr()).toMatch(/agent pod kube-system\/\S+ on node node-9 did not start within 1s/);
    expect(w.kube.deleted).toHaveLength(1);
  });

  it('passes --agent-image and --agent-namespace', async () => {
    const w = agentWorld();
    await w.cli(attachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent', '--agent-image', 'registry.local/tools:1', '--agent-namespace', 'cni-tools']);
    expect(w.kube.created[0]!.metadata!.namespace).toBe('cni-tools');
    expect(w.kube.created[0]!.spec!.containers[0]!.image).toBe('registry.local/tools:1');
  });

  it('is refused with --netns', async () => {
    const w = agentWorld();
    w.exec.netns.add('/var/run/netns/x');
    expect(await w.cli(attachCommand, ['--netns', '/var/run/netns/x', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent'])).toBe(0);
    // with --netns no runtime is asked at all: the namespace is on this host
    expect(w.kube.created).toHaveLength(0);
  });
});
