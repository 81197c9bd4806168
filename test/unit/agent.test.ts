import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { detachCommand } from '../../src/cli/detach.js';
import { AGENT_IMAGE, agentForOtherNodes, agentPod, agentRuntime, pendingWhy } from '../../src/resolve/agent.js';
import type { Pod } from '../../src/resolve/kube.js';
import { UnreachableError } from '../../src/errors.js';
import { NETWORK_STATUS } from '../../src/resolve/network-status.js';
import { bridgeResult, FakeExecutor } from '../fakes/executor.js';
import { FakeKube, makePod } from '../fakes/kube.js';
import { world } from '../fakes/world.js';
import { listRecords } from '../../src/resolve/records.js';
import { agentOptions, defaultDeps } from '../../src/cli/context.js';

/** A remote node behind the agent: ctr finds the pod's sandbox, the bridge plugin is in its /opt/cni/bin. */
function remoteNode() {
  const node = new FakeExecutor().emulateShell('ctr');
  node.tools.set('ctr', (argv) => {
    if (argv[3] === 'containers' && argv[4] === 'list') return { stdout: 'sb-far\n' };
    if (argv[3] === 'tasks') return { stdout: 'TASK PID STATUS\nsb-far 321 RUNNING\n' };
    // as the CRI plugin labels a sandbox (the listing's filter is on these labels)
    return { stdout: JSON.stringify({ Labels: { 'io.cri-containerd.kind': 'sandbox', 'io.kubernetes.pod.name': 'far-1', 'io.kubernetes.pod.namespace': 'shop', 'io.kubernetes.pod.uid': 'uid-far' }, Spec: { linux: { namespaces: [{ type: 'network', path: '/var/run/netns/cni-far' }] } } }) };
  });
  node.netns.add('/var/run/netns/cni-far');
  // what the sandbox look-up reads of its namespace's links
  node.files.set('/proc/321/net/dev', 'Inter-|   Receive\n face |bytes\n    lo: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n  eth0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n');
  node.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult('eth1', '/var/run/netns/cni-far')) } : {}));
  return node;
}

function agentWorld() {
  const w = world();
  const node = remoteNode();
  w.kube.execOn = node;
  w.kube.add(makePod({ name: 'far-1', namespace: 'shop', uid: 'uid-far', node: 'node-9' }));
  // the agent's options as the CLI makes them from the flags (cli/context.ts agentOptions), with a short start
  w.deps.runtimes = async (flags, api) => [agentRuntime(api!, { ...agentOptions(flags, () => {}, 'busybox:1.36'), startTimeoutMs: 1000 })];
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
  it('-v=6: the sandbox look-up run on the node through the agent is a line, as the plugins\' runs are (before: only the plugins\' runs)', async () => {
    const w = agentWorld();
    // the runtimes as the CLI makes them from the flags (cli/context.ts), -v included
    w.deps.runtimes = defaultDeps(w.deps.io).runtimes;
    expect(await w.cli(attachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent', '-v=6']), w.stderr()).toBe(0);
    const where = `node node-9 \\(through agent pod kube-system/${w.kube.created[0]!.metadata!.name}\\)`;
    expect(w.stderr()).toMatch(new RegExp(`^I ${where}: sh -c \\(a script of \\d+ bytes\\) sh @cni-attach-lookup-[0-9a-f]+ shop \\S*far-1\\S* .*→ exit 0 in \\d+ milliseconds$`, 'm'));
    // the plugin's VERSION answered by the look-up's read-ahead (no request), its ADD after the lock and intent in one
    // round trip, the result and the removals in the last: a line for each round trip, said as what it was (tryout 15)
    expect(w.stderr()).toMatch(new RegExp(`^I ${where}: /opt/cni/bin/bridge \\(VERSION\\) → exit 0 \\(answered by the read-ahead of an earlier round trip: no request of its own\\)$`, 'm'));
    expect(w.stderr()).toMatch(new RegExp(`^I ${where}: /opt/cni/bin/bridge \\(ADD\\) \\(after \\d+ steps in the same round trip\\) → exit 0 in \\d+ milliseconds$`, 'm'));
    expect(w.stderr()).toMatch(new RegExp(`^I ${where}: \\d+ steps alone → done in \\d+ milliseconds$`, 'm'));
    // not traced below -v=6
    const q = agentWorld();
    q.deps.runtimes = defaultDeps(q.deps.io).runtimes;
    expect(await q.cli(attachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent', '-v=5'])).toBe(0);
    expect(q.stderr()).not.toMatch(/^I /m);
  });

  it('finds the sandbox on the remote node with ctr, runs the plugins there through nsenter, caches there, deletes the agent', async () => {
    const w = agentWorld();
    expect(await w.cli(attachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent'])).toBe(0);
    expect(w.stdout()).toMatch(/^eth1 attached to pod shop\/far-1 \(network net, node node-9, sandbox sb-far\)/);
    expect(w.kube.created).toHaveLength(1);
    expect(w.kube.created[0]!.spec!.nodeName).toBe('node-9');
    expect(w.kube.deleted).toEqual([`kube-system/${w.kube.created[0]!.metadata!.name}`]);
    // node round trips: the look-up (with everything the engine reads), the ADD (with the lock and the intent), the
    // result with the unlock: 2 + 1 plugin
    expect(w.kube.execs).toHaveLength(3);
    // every command went through nsenter into the node's namespaces, with a clean environment
    expect(w.kube.execs.every((c) => c.slice(0, 11).join(' ') === 'nsenter -t 1 -m -u -i -n -p -- env -i')).toBe(true);
    const add = w.node.calls.find((c) => c.command === 'ADD')!;
    expect(add.env).toMatchObject({ CNI_CONTAINERID: 'sb-far', CNI_NETNS: '/var/run/netns/cni-far', CNI_IFNAME: 'eth1' });
    // the cache is the node's, not this host's
    expect([...w.node.files.keys()].some((k) => k === '/var/lib/cni/results/net-sb-far-eth1')).toBe(true);
    expect([...w.exec.files.keys()]).toEqual([]);
    expect((w.kube.annotation('shop', 'far-1', NETWORK_STATUS) as { interface: string }[])[0]!.interface).toBe('eth1');
  });

  it('a --timeout longer than an agent lives (600 s, less a minute) is refused when the run goes through one: exit 2, no agent made, nothing run; 9m is run', async () => {
    for (const cmd of [attachCommand, detachCommand]) {
      const w = agentWorld();
      const args = cmd === attachCommand ? ['--conf', '-'] : [];
      expect(await w.cli(cmd, ['far-1', '-n', 'shop', '--ifname', 'eth1', ...args, '--runtime', 'agent', '--timeout', '99999h'])).toBe(2);
      expect(w.stderr()).toMatch(/^error: a plugin run limit of 99999h is longer than a run through an agent pod can take \(node node-9 is reached through one; it lives 600 s, its activeDeadlineSeconds\): at most 9m \(nothing was changed\); see --timeout$/m);
      expect(w.kube.created).toHaveLength(0);
      expect(w.node.calls).toHaveLength(0);
    }
    const w = agentWorld();
    expect(await w.cli(attachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent', '--timeout', '9m']), w.stderr()).toBe(0);
    expect(w.kube.execs.some((c) => c.join(' ').includes('timeout -s KILL 540s'))).toBe(true);
    // the value as given (before: said as 9m1s)
    expect(await w.cli(attachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth2', '--conf', '-', '--runtime', 'agent', '--timeout', '541s'])).toBe(2);
    expect(w.stderr()).toMatch(/^error: a plugin run limit of 541s is longer than a run through an agent pod can take .*; see --timeout$/m);
  });

  it('detach goes through a new agent and deletes it too', async () => {
    const w = agentWorld();
    await w.cli(attachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent']);
    const before = w.kube.execs.length;
    expect(await w.cli(detachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--runtime', 'agent'])).toBe(0);
    expect(w.kube.execs.length - before).toBe(3);
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
    // its node and why, from what the API says of the pod (before: nothing when its container had no waiting state)
    expect(w.stderr()).toMatch(/agent pod kube-system\/\S+ on node node-9 did not start within 1s \(no kubelet has reported on it: node node-9 may be down, NotReady, or no node of the cluster any more\)/);
    expect(w.stderr()).not.toMatch(/see --agent-image/); // no image would make that node's kubelet answer
    expect(w.kube.deleted).toHaveLength(1);
  });

  it('why a Pending agent has not run: its container\'s waiting state, else its conditions not True, else no kubelet has reported on it', () => {
    const pod = (status: Pod['status']): Pod => ({ metadata: { name: 'a' }, status: { phase: 'Pending', ...status } });
    expect(pendingWhy(pod({ containerStatuses: [{ name: 'agent', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImagePull', message: `pull access denied ${'x'.repeat(300)}` } } }] }), 'node-a'))
      .toBe(`ErrImagePull: pull access denied ${'x'.repeat(180)}…`);
    expect(pendingWhy(pod({ conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Initialized', status: 'False', reason: 'NodeNotReady', message: 'node is not ready' }] }), 'node-a'))
      .toBe('Initialized False: NodeNotReady: node is not ready');
    expect(pendingWhy(pod({}), 'node-far')).toBe('no kubelet has reported on it: node node-far may be down, NotReady, or no node of the cluster any more');
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
    // with --netns no runtime is asked at all (the namespace is on this host): --runtime would have no effect
    expect(await w.cli(attachCommand, ['--netns', '/var/run/netns/x', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent'])).toBe(2);
    expect(w.kube.created).toHaveLength(0);
  });
});

describe('a batch (-l) on one node through the agent: one sandbox look-up for all its pods', () => {
  /**
   * A node with the sandboxes of far-1…far-3 (running, with their uids) and one of an earlier pod named far-4; ctr
   * answers as it would: the listing filtered by the look-up's names regexp, the task list, one container's info.
   */
  function batchWorld() {
    const w = agentWorld();
    const node = w.node;
    const sandboxes = [1, 2, 3, 4].map((i) => ({ id: `sb-${i}`, name: `far-${i}`, uid: i === 4 ? 'uid-earlier' : `uid-${i}`, pid: 500 + i }));
    w.kube.pods.clear();
    for (const sb of sandboxes) {
      w.kube.add(makePod({ name: sb.name, namespace: 'shop', uid: `uid-${sb.id.slice(3)}`, node: 'node-9', labels: { app: 'far' } }));
      node.netns.add(`/var/run/netns/cni-${sb.id}`);
      node.files.set(`/proc/${sb.pid}/net/dev`, 'Inter-|   Receive\n face |bytes\n    lo: 0\n  eth0: 0\n');
    }
    node.tools.set('ctr', (argv) => {
      if (argv[3] === 'containers' && argv[4] === 'list') {
        const names = new RegExp(/~="([^"]*)"/.exec(argv[6]!)![1]!);
        return { stdout: sandboxes.filter((sb) => names.test(sb.name)).map((sb) => `${sb.id}\n`).join('') };
      }
      if (argv[3] === 'tasks') return { stdout: `TASK PID STATUS\n${sandboxes.map((sb) => `${sb.id} ${sb.pid} RUNNING\n`).join('')}` };
      const sb = sandboxes.find((x) => x.id === argv[5])!;
      return { stdout: JSON.stringify({ Labels: { 'io.cri-containerd.kind': 'sandbox', 'io.kubernetes.pod.name': sb.name, 'io.kubernetes.pod.namespace': 'shop', 'io.kubernetes.pod.uid': sb.uid }, Spec: { linux: { namespaces: [{ type: 'network', path: `/var/run/netns/cni-${sb.id}` }] } } }) };
    });
    node.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult('eth1', c.env.CNI_NETNS!)) } : {}));
    return w;
  }
  const lookups = (w: ReturnType<typeof batchWorld>) => w.node.ran.filter((a) => a[0] === 'ctr' && a[3] === 'containers' && a[4] === 'list');

  /** The newest agent pod deleted (by hand, evicted): its pods/exec answer 404 from then on. */
  function agentGoneIn(w: ReturnType<typeof batchWorld>): void {
    const agent = w.kube.created.at(-1)!.metadata!;
    void w.kube.deletePod(agent.namespace!, agent.name!);
  }

  it('attach -l: 1 + pods × (1 + plugins) node round trips; the earlier pod\'s sandbox refused for that pod alone', async () => {
    const w = batchWorld();
    expect(await w.cli(attachCommand, ['-l', 'app=far', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent'])).toBe(3);
    // one look-up round trip for the node (one ctr listing for the four pods), then 2 per attached pod
    expect(w.kube.execs).toHaveLength(1 + 3 * 2);
    expect(lookups(w)).toHaveLength(1);
    expect(w.node.calls.filter((c) => c.command === 'ADD').map((c) => c.env.CNI_CONTAINERID).sort()).toEqual(['sb-1', 'sb-2', 'sb-3']);
    expect(w.stdout()).toBe('eth1 attached to 3 of 4 pods; 1 failed (shop/far-4)\n');
    // the same refusal as for that pod alone
    expect(w.stderr()).toMatch(/shop\/far-4: failed: the sandboxes of shop\/far-4 on node node-9 \(through agent pod kube-system\/\S+\) belong to an earlier pod of that name \(uid uid-earlier\), not to this one \(uid uid-4\); refusing to attach to a stale sandbox/);
    const alone = batchWorld();
    expect(await alone.cli(attachCommand, ['far-4', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent'])).toBe(3);
    expect(alone.stderr().replace(/agent pod kube-system\/\S+\)/, '')).toContain(w.stderr().split('\n').find((l) => l.includes('far-4'))!.replace(/^.*failed: /, '').replace(/agent pod kube-system\/\S+\)/, ''));
    // one agent for the node, deleted
    expect(w.kube.created).toHaveLength(1);
    expect(w.kube.deleted).toHaveLength(1);

    const before = w.kube.execs.length;
    expect(await w.cli(detachCommand, ['-l', 'app=far', '-n', 'shop', '--ifname', 'eth1', '--runtime', 'agent'])).toBe(0);
    // the stale pod's detach finds nothing recorded for it: no DEL, one round trip of its own at most
    expect(w.node.calls.filter((c) => c.command === 'DEL').map((c) => c.env.CNI_CONTAINERID).sort()).toEqual(['sb-1', 'sb-2', 'sb-3']);
    expect(w.kube.execs.length - before).toBeLessThanOrEqual(1 + 4 * 2);
    expect([...w.node.files.keys()].filter((k) => k.includes('/results/') || k.includes('/locks/') || k.includes('/intents/'))).toEqual([]);
  });

  it('the agent pod deleted mid-batch (its pods/exec answered 404: nothing reached the node) is made anew once, and the batch goes on through it (what it had not sent is sent there); a new one that cannot be made fails the rest plainly, saying the agent pod is gone and that the same command makes a new one, nothing run or left interrupted for them (before: every remaining pod failed "once the node can be reached", recorded interrupted)', async () => {
    const w = batchWorld();
    // the runtimes as the CLI makes them (cli/context.ts): its notes go to stderr
    w.deps.runtimes = defaultDeps(w.deps.io).runtimes;
    const sandboxes = ['sb-1', 'sb-2', 'sb-3'];
    let adds = 0;
    const agentGone = () => agentGoneIn(w);
    w.node.addPlugin('/opt/cni/bin/bridge', (c) => {
      if (c.command !== 'ADD') return {};
      // the agent deleted right after the first ADD
      if (++adds === 1) agentGone();
      return { stdout: JSON.stringify(bridgeResult('eth1', c.env.CNI_NETNS!)) };
    });
    const args = ['-l', 'app=far', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent', '--parallel', '1'];
    expect(await w.cli(attachCommand, args)).toBe(3); // far-4: its stale sandbox, as ever
    expect(w.node.calls.filter((c) => c.command === 'ADD').map((c) => c.env.CNI_CONTAINERID).sort()).toEqual(sandboxes);
    expect(w.kube.created).toHaveLength(2);
    expect(w.stderr()).toMatch(/^note: agent pod kube-system\/\S+ on node node-9 is gone \(deleted while this command ran\): nothing was run in it since; making a new one$/m);
    expect(w.stdout()).toBe('eth1 attached to 3 of 4 pods; 1 failed (shop/far-4)\n');

    // a new one that cannot be made (it ends Failed): far-1, whose ADD ran, says why its result could not be written
    // (not rolled back: exit 1); the pods after fail plainly, nothing ran for them, nothing left interrupted; no
    // third agent is tried
    const again = batchWorld();
    again.deps.runtimes = defaultDeps(again.deps.io).runtimes;
    again.node.addPlugin('/opt/cni/bin/bridge', (c) => {
      if (c.command !== 'ADD') return {};
      agentGoneIn(again);
      again.kube.startAs = 'Failed';
      return { stdout: JSON.stringify(bridgeResult('eth1', c.env.CNI_NETNS!)) };
    });
    expect(await again.cli(attachCommand, args)).toBe(1);
    expect(again.node.calls.filter((c) => c.command === 'ADD')).toHaveLength(1);
    expect(again.kube.created).toHaveLength(2);
    const gone = 'exec in pod kube-system/\\S+: the API server answered 404 \\(NotFound\\) to its WebSocket upgrade: pod kube-system/\\S+ no longer exists \\(the agent pod was deleted\\): nothing was run in it; running the same command again starts a new agent pod';
    expect(again.stderr()).toMatch(new RegExp(`^\\[1/4\\] shop/far-1: failed: could not write the result cache \\S+ on node node-9: ${gone}; a new agent pod could not be made: agent pod \\S+ on node node-9 ended \\(Failed\\) before it could be used; rolling back also failed`, 'm'));
    for (const pod of ['far-2', 'far-3']) expect(again.stderr()).toMatch(new RegExp(`^\\[\\d/4\\] shop/${pod}: failed: ${gone}; the ADD did not run \\(the request never reached the node\\): nothing was changed$`, 'm'));
    expect((await listRecords(again.kube, 'kube-system')).map((r) => r.pod)).toEqual(['far-1']);
    expect(again.stderr()).not.toMatch(/whether the ADD ran is not known|once the node can be reached/);
  });

  it('a pod whose sandbox is not running is refused on its own, the others attach', async () => {
    const w = batchWorld();
    const tasks = w.node.tools.get('ctr')!;
    w.node.tools.set('ctr', (argv) => (argv[3] === 'tasks' ? { stdout: 'TASK PID STATUS\nsb-1 501 RUNNING\nsb-2 502 STOPPED\nsb-3 503 RUNNING\n' } : tasks(argv)));
    w.kube.pods.delete('shop/far-4');
    expect(await w.cli(attachCommand, ['-l', 'app=far', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent'])).toBe(3);
    expect(w.stderr()).toMatch(/shop\/far-2: failed: the sandbox of shop\/far-2 on node node-9 \(through agent pod kube-system\/\S+\) is not running/);
    expect(w.kube.execs).toHaveLength(1 + 2 * 2);
  });
});

describe('the agent image', () => {
  it('is pinned: a name, a tag and the sha256 digest of its index', () => {
    expect(AGENT_IMAGE).toMatch(/^docker\.io\/library\/busybox:1\.36\.1@sha256:[0-9a-f]{64}$/);
  });
});

describe('starting the agent', () => {
  it('waits for Running with a watch from the created pod, not by reading it again and again', async () => {
    const w = agentWorld();
    expect(await w.cli(attachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent'])).toBe(0);
    expect(w.kube.watches).toEqual([`kube-system/${w.kube.created[0]!.metadata!.name}`]);
  });

  it('names the namespace label that admits it when Pod Security admission refuses it (exit 4, not an RBAC message)', async () => {
    const w = agentWorld();
    w.kube.refuseCreate = new UnreachableError(
      'creating a pod in kube-system: the API server answered 403: pods "cni-attach-agent-x7k2p" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true, hostPID=true), privileged (container "agent" must not set securityContext.privileged=true)',
    );
    expect(await w.cli(attachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent'])).toBe(4);
    expect(w.stderr()).toContain('Pod Security admission refuses the agent pod in namespace kube-system');
    expect(w.stderr()).toContain('violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true, hostPID=true)');
    expect(w.stderr()).toContain('kubectl label ns kube-system pod-security.kubernetes.io/enforce=privileged`; or create the agent pods in a namespace that admits privileged pods (--agent-namespace)');
    expect(w.stderr()).not.toMatch(/rbac/i);
    expect(w.node.calls).toEqual([]);
  });

  it('says RBAC when the 403 is not admission', async () => {
    const w = agentWorld();
    w.kube.refuseCreate = new UnreachableError('creating a pod in kube-system: the API server answered 403: pods is forbidden: User "dev" cannot create resource "pods" in API group "" in the namespace "kube-system"');
    expect(await w.cli(attachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent'])).toBe(4);
    expect(w.stderr()).toContain('see deploy/rbac.yaml');
  });

  it('one agent per node for a batch, all started before the first pod is worked on, reused by every pod of the node', async () => {
    const w = agentWorld();
    for (const [name, node] of [['far-2', 'node-9'], ['far-3', 'node-8'], ['far-4', 'node-7']] as const) {
      w.kube.add(makePod({ name, namespace: 'shop', uid: 'uid-far', node, labels: { app: 'far' } }));
    }
    w.kube.pods.get('shop/far-1')!.metadata!.labels = { app: 'far' };
    const order: string[] = [];
    const create = w.kube.createPod.bind(w.kube);
    w.kube.createPod = async (ns, pod) => (order.push(`create ${pod.spec!.nodeName}`), create(ns, pod));
    const exec = w.kube.exec.bind(w.kube);
    w.kube.exec = async (...a) => (order.push('exec'), exec(...a));
    await w.cli(attachCommand, ['-l', 'app=far', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--runtime', 'agent']);
    expect(w.kube.created.map((p) => p.spec!.nodeName).sort()).toEqual(['node-7', 'node-8', 'node-9']);
    expect(order.slice(0, 3).every((o) => o.startsWith('create '))).toBe(true);
    expect(w.kube.deleted).toHaveLength(3);
  });
});

describe('an agent whose creation is still unanswered when the command ends', () => {
  it('is deleted once its creation is answered (before: its name was not known yet, so the pod ran on until its deadline); unanswered, it is named as a cleanup not finished', async () => {
    const kube = new FakeKube();
    const create = kube.createPod.bind(kube);
    let answer!: () => void;
    const held = new Promise<void>((r) => (answer = r));
    kube.createPod = async (ns, pod) => {
      await held;
      return create(ns, pod);
    };
    const { unfinishedCleanups } = await import('../../src/exec/interrupt.js');
    const rt = agentRuntime(kube, { image: AGENT_IMAGE, namespace: 'kube-system', startTimeoutMs: 1000, note: () => {} });
    const looking = rt.findSandbox({ namespace: 'shop', name: 'far-1', uid: 'uid-far', node: 'node-9' }, new FakeExecutor()).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    // the command ends now (its atEnd cleanups run), the creation's POST sent and not answered
    expect(unfinishedCleanups()).toEqual([expect.stringMatching(/^an agent pod for node node-9 may have been created in kube-system \(its creation was not answered\): `kubectl get pods -n kube-system -l app\.kubernetes\.io\/name=cni-attach-agent,cni-attach\/node=node-9` lists it/)]);
    const closing = rt.close();
    answer();
    await closing;
    expect(kube.created).toHaveLength(1);
    expect(kube.deleted).toEqual([`kube-system/${kube.created[0]!.metadata!.name}`]);
    expect(unfinishedCleanups()).toEqual([]);
    await looking;
  });
});

describe('--runtime auto: the agent for other nodes', () => {
  const ref = (node: string) => ({ namespace: 'shop', name: 'web-1', uid: 'u', node });
  function fallback() {
    const notes: string[] = [];
    const asked: string[] = [];
    let made = 0;
    const inner = {
      name: 'agent', where: 'agent pods in kube-system',
      findSandbox: async (p: { node?: string }) => (asked.push(`find ${p.node}`), { id: 'sb', pid: 1, netnsPath: '/proc/1/ns/net' }),
      listSandboxes: async () => [],
      nodeExecutor: async (n: string) => (asked.push(`exec ${n}`), undefined),
      reachNodes: async (ns: string[]) => void asked.push(`reach ${ns.join(',')}`),
      close: async () => {},
    };
    const rt = agentForOtherNodes(() => (made++, inner), { thisHost: 'laptop', namespace: 'kube-system', note: (l) => notes.push(l) });
    return { rt, notes, asked, made: () => made };
  }

  it('leaves pods of this host alone, reaches other nodes through the agent, one note per node', async () => {
    const f = fallback();
    expect(f.rt.lastResort).toBe(true);
    expect(await f.rt.findSandbox(ref('laptop'))).toBeUndefined();
    expect(await f.rt.nodeExecutor!('laptop')).toBeUndefined();
    expect(f.made()).toBe(0);
    expect(await f.rt.findSandbox(ref('node-2'))).toMatchObject({ id: 'sb' });
    await f.rt.findSandbox({ ...ref('node-2'), name: 'web-2' });
    await f.rt.reachNodes!(['laptop', 'node-3']);
    expect(f.asked).toEqual(['find node-2', 'find node-2', 'reach node-3']);
    expect(f.notes).toEqual([
      'pod shop/web-1 is on node node-2, not this host (laptop): reaching it through an agent pod in kube-system',
      'node node-3 is not this host (laptop): reaching it through an agent pod in kube-system',
    ]);
    expect(f.made()).toBe(1);
  });

  it('the nodes met together are one note naming them: a batch\'s (reachNodes), those reached while notes are grouped (cni-list, cni-gc: groupReachNotes); a node met alone keeps its own (before: one note per node)', async () => {
    const { groupReachNotes } = await import('../../src/cli/node-judge.js');
    const f = fallback();
    await f.rt.reachNodes!(['node-2', 'laptop', 'node-3', 'node-4']);
    expect(f.notes).toEqual(['nodes node-2, node-3, node-4 are not this host (laptop): reaching each through an agent pod in kube-system']);
    // a node met again says nothing; one met alone its own note
    await f.rt.findSandbox(ref('node-3'));
    await f.rt.findSandbox(ref('node-5'));
    expect(f.notes.slice(1)).toEqual(['pod shop/web-1 is on node node-5, not this host (laptop): reaching it through an agent pod in kube-system']);
    // cni-gc / cni-list: the nodes reached in parallel while grouped, said once when the grouping ends
    const end = groupReachNotes([f.rt, { name: 'docker', where: 'Docker', findSandbox: async () => undefined, listSandboxes: async () => [] }]);
    await Promise.all([f.rt.nodeExecutor!('node-6'), f.rt.findSandbox(ref('node-7')), f.rt.nodeExecutor!('node-5')]);
    expect(f.notes).toHaveLength(2);
    end();
    end();
    expect(f.notes.slice(2)).toEqual(['nodes node-6, node-7 are not this host (laptop): reaching each through an agent pod in kube-system']);
    // with the CLI's namer (cli/output.ts someNames): at most 5 named
    const notes: string[] = [];
    const { agentForOtherNodes } = await import('../../src/resolve/agent.js');
    const { someNames } = await import('../../src/cli/output.js');
    const many = agentForOtherNodes(() => ({ name: 'agent', where: 'x', findSandbox: async () => undefined, listSandboxes: async () => [], reachNodes: async () => undefined, close: async () => {} }), { thisHost: 'laptop', namespace: 'kube-system', note: (l) => notes.push(l), names: someNames });
    await many.reachNodes!(Array.from({ length: 9 }, (_, i) => `n${i + 1}`));
    expect(notes).toEqual(['nodes n1, n2, n3, n4, n5, … and 4 more are not this host (laptop): reaching each through an agent pod in kube-system']);
  });

  it('is asked after this host\'s runtimes, which may be missing; its own failure is the answer', async () => {
    const { findSandbox } = await import('../../src/resolve/pod.js');
    const noDocker = { name: 'docker', where: 'Docker at unix:///nope', findSandbox: async () => { throw new UnreachableError('cannot reach Docker at unix:///nope: ENOENT'); }, listSandboxes: async () => [] };
    const f = fallback();
    expect((await findSandbox([noDocker, f.rt], ref('node-2')))?.runtime.name).toBe('agent');
    const refused = { ...f.rt, findSandbox: async () => { throw new UnreachableError('Pod Security admission refuses the agent pod'); } };
    await expect(findSandbox([noDocker, refused], ref('node-2'))).rejects.toThrow(/Pod Security/);
    // on this host: the missing Docker is the answer, as before
    await expect(findSandbox([noDocker, f.rt], ref('laptop'))).rejects.toThrow(/cannot reach Docker/);
  });
});

describe('--runtime auto from a host with no runtime of its own', () => {
  /** What --runtime auto gives on a laptop: a kind runtime whose Docker is missing, then the agent for other nodes. */
  function laptopWorld() {
    const w = agentWorld();
    const noDocker = () => new UnreachableError('cannot reach Docker at unix:///nonexistent/docker.sock: ENOENT');
    const notes: string[] = [];
    w.deps.runtimes = async (_flags, api) => [
      { name: 'kind', where: 'node containers in Docker at unix:///nonexistent/docker.sock', findSandbox: async () => { throw noDocker(); }, listSandboxes: async () => { throw noDocker(); }, nodeExecutor: async () => { throw noDocker(); } },
      agentForOtherNodes(() => agentRuntime(api!, { image: AGENT_IMAGE, namespace: 'kube-system', startTimeoutMs: 1000, note: () => {} }), { thisHost: 'laptop', namespace: 'kube-system', note: (l) => notes.push(l) }),
    ];
    return { ...w, notes };
  }

  it('attaches through an agent, and detaches through one when the sandbox is gone meanwhile (DEL from the node cache)', async () => {
    const w = laptopWorld();
    expect(await w.cli(attachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    expect(w.notes).toEqual(['pod shop/far-1 is on node node-9, not this host (laptop): reaching it through an agent pod in kube-system']);
    expect(w.kube.created[0]!.spec!.containers[0]!.image).toBe(AGENT_IMAGE);
    // the same node round trips as with --runtime agent (a batching session there): look-up, ADD, result
    expect(w.kube.execs).toHaveLength(3);
    // the sandbox goes away on the node
    w.node.tools.set('ctr', (argv) => (argv[3] === 'tasks' ? { stdout: 'TASK PID STATUS\n' } : { stdout: '' }));
    expect(await w.cli(detachCommand, ['far-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stderr()).toContain('note: pod shop/far-1 has no running sandbox on node node-9: the sandbox sb-far its eth1 went into is gone, and its interface with it; DEL runs without a network namespace, to free its IPAM lease');
    const del = w.node.calls.find((c) => c.command === 'DEL')!;
    expect(del.env).toMatchObject({ CNI_CONTAINERID: 'sb-far', CNI_IFNAME: 'eth1' });
    expect([...w.node.files.keys()].filter((k) => k.includes('/results/'))).toEqual([]);
    expect(w.kube.deleted).toHaveLength(2);
  });
});
