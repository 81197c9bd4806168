import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { detachCommand } from '../../src/cli/detach.js';
import { checkCommand } from '../../src/cli/check.js';
import { listCommand } from '../../src/cli/list.js';
import { UnreachableError } from '../../src/errors.js';
import { NETWORK_STATUS } from '../../src/resolve/network-status.js';
import { makePod } from '../fakes/kube.js';
import { bridgeResult } from '../fakes/executor.js';
import { manyPods, NETNS, SANDBOX, world } from '../fakes/world.js';
import { podCniArgs } from '../../src/resolve/pod.js';
import { POD_CNI_ARGS } from '../../src/cni/env.js';

const attachArgs = ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'];

describe('kubectl cni-attach POD', () => {
  it('runs the chain in the sandbox netns with the sandbox id and kubelet CNI_ARGS', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    const add = w.exec.calls.find((c) => c.command === 'ADD')!;
    expect(add.env).toMatchObject({
      CNI_CONTAINERID: SANDBOX,
      CNI_NETNS: NETNS,
      CNI_IFNAME: 'eth1',
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_INFRA_CONTAINER_ID=${SANDBOX};K8S_POD_UID=uid-1`,
    });
    expect(w.stdout()).toMatch(/^eth1 attached to pod shop\/web-1 \(network net, node node-1, sandbox ffffffffffff\)\n  eth1  198\.18\.0\.2\/24/);
    expect(w.stdout()).toMatch(/network-status: net on eth1 recorded on the pod/);
  });
  it('adds its entry to network-status and keeps the default network', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    expect(w.kube.annotation('shop', 'web-1', NETWORK_STATUS)).toEqual([
      { name: 'kindnet', interface: 'eth0', default: true },
      { name: 'net', interface: 'eth1', ips: ['198.18.0.2'], mac: '02:00:00:00:00:03', gateway: ['198.18.0.1'], default: false, dns: {} },
    ]);
  });
  it('uses the context namespace when -n is not given', async () => {
    const w = world();
    expect(await w.cli(attachCommand, ['web-1', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
  });
  it('passes kubectl connection flags to the API client', async () => {
    const w = world();
    await w.cli(attachCommand, [...attachArgs, '--context', 'kind-x', '--kubeconfig', '/k', '--request-timeout', '5s']);
    expect(w.kubeCalls[0]).toEqual({ kubeconfig: '/k', context: 'kind-x', namespace: 'shop', requestTimeoutMs: 5000, userAgent: expect.stringMatching(/^cni-attach\/v\S+ \(linux\/(amd64|arm64)\)$/) });
  });
  it("passes kubectl's global flags, in pflag's forms, to the API client", async () => {
    const w = world();
    const args = ['web-1', '-n=shop', '--ifname', 'eth1', '--conf', '-', '--cluster=c2', '--user', 'u2', '-s', 'https://198.18.0.1:6443', '--token=t0k',
      '--certificate-authority', '/ca.pem', '--insecure-skip-tls-verify=false', '--tls-server-name', 'api.x', '--as', 'jane', '--as-group', 'g1', '--as-group=g2',
      '--as-uid', 'u-1', '--request-timeout', '0'];
    expect(await w.cli(attachCommand, args), w.stderr()).toBe(0);
    expect(w.kubeCalls[0]).toEqual({
      namespace: 'shop', cluster: 'c2', user: 'u2', server: 'https://198.18.0.1:6443', token: 't0k', certificateAuthority: '/ca.pem', tlsServerName: 'api.x',
      as: 'jane', asGroups: ['g1', 'g2'], asUid: 'u-1', requestTimeoutMs: 0, userAgent: expect.stringMatching(/^cni-attach\//),
    });
    expect(await w.cli(attachCommand, [...args.slice(0, 6), '--insecure-skip-tls-verify=true', '--request-timeout=1m'])).toBe(0);
    expect(w.kubeCalls[1]).toMatchObject({ insecureSkipTlsVerify: true, requestTimeoutMs: 60_000 });
  });
  it("passes kubectl's user flags (--client-certificate, --client-key, --username, --password) to the API client; given empty, none (clientcmd: mergo skips empty values)", async () => {
    const w = world();
    const args = ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'];
    expect(await w.cli(attachCommand, [...args, '--client-certificate', 'me.crt', '--client-key=me.key', '--username', 'bob', '--password', 'pw']), w.stderr()).toBe(0);
    expect(w.kubeCalls[0]).toMatchObject({ clientCertificate: 'me.crt', clientKey: 'me.key', username: 'bob', password: 'pw' });
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--client-certificate', '', '--client-key', '', '--username', '', '--password', '']), w.stderr()).toBe(0);
    for (const k of ['clientCertificate', 'clientKey', 'username', 'password']) expect(w.kubeCalls[1]).not.toHaveProperty(k);
  });
  it('a pod named `completion` is a pod (attach, detach, check; the word first or later); `completion SHELL` alone stays the subcommand', async () => {
    const w = world();
    w.kube.add(makePod({ name: 'completion', namespace: 'shop', uid: 'uid-c', node: 'node-1' }));
    w.runtime.add('shop', 'completion', 'uid-c', { id: SANDBOX, pid: 4242, netnsPath: NETNS });
    expect(await w.cli(attachCommand, ['completion', '-n', 'shop', '--ifname', 'net1', '--conf', '-']), w.stderr()).toBe(0);
    expect(w.stdout()).toMatch(/^net1 attached to pod shop\/completion /);
    expect(await w.cli(checkCommand, ['-n', 'shop', 'completion', '--ifname', 'net1']), w.stderr()).toBe(0);
    expect(await w.cli(detachCommand, ['completion', '--ifname=net1', '-n', 'shop']), w.stderr()).toBe(0);
    expect(w.stdout()).toMatch(/^net1 detached from pod shop\/completion /);
    expect(w.exec.calls.map((c) => c.command).filter((c) => c !== 'VERSION')).toEqual(['ADD', 'CHECK', 'DEL']);
    // the subcommand, as used: a shell, or its help; a wrong shell is still the subcommand's error
    expect(await w.cli(attachCommand, ['completion', 'bash'])).toBe(0);
    expect(w.stdout()).toMatch(/^# bash completion for cni-attach/);
    // with kubectl's global flags beside it, as `kubectl completion bash --context x` takes them (tryout: "too many
    // arguments"): the script, the flags not used (it reads the line being completed at each TAB)
    for (const extra of [['--context', 'foo'], ['--kubeconfig', '/nope', '-n', 'shop'], ['--context=foo']]) {
      expect(await w.cli(attachCommand, ['completion', 'bash', ...extra]), w.stderr()).toBe(0);
      expect(w.stdout()).toMatch(/^# bash completion for cni-attach/);
    }
    expect(await w.cli(attachCommand, ['completion', '--context', 'foo', 'zsh'])).toBe(0);
    expect(w.stdout()).toMatch(/compdef|zsh/);
    expect(await w.cli(attachCommand, ['completion', 'csh'])).toBe(2);
    expect(w.stderr()).toBe('error: completion: "csh" is not bash, zsh or fish\n');
    expect(await w.cli(attachCommand, ['completion'])).toBe(2);
    expect(w.stderr()).toMatch(/missing required argument 'shell'/);
    expect(w.kubeCalls).toHaveLength(3);
  });
  it('--no-annotate leaves the pod alone', async () => {
    const w = world();
    expect(await w.cli(attachCommand, [...attachArgs, '--no-annotate'])).toBe(0);
    expect(w.kube.patches).toHaveLength(0);
  });
  it('takes the config from a NetworkAttachmentDefinition and names the entry ns/name', async () => {
    const w = world();
    w.kube.nads.set('infra/mv', { namespace: 'infra', name: 'mv', config: JSON.stringify({ cniVersion: '1.0.0', type: 'bridge' }) });
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'net1', '--net', 'infra/mv'])).toBe(0);
    const add = w.exec.calls.find((c) => c.command === 'ADD')!;
    expect(add.stdin.name).toBe('mv');
    expect((w.kube.annotation('shop', 'web-1', NETWORK_STATUS) as { name: string }[])[1]!.name).toBe('infra/mv');
  });
  it('its write-ahead record names that network-status name (status), for a cni-gc that settles the attach if its command goes first; a --conf attach\'s names none (its network\'s)', async () => {
    for (const [args, status] of [[['--net', 'infra/mv'], 'infra/mv'], [['--conf', '-'], undefined]] as const) {
      const w = world();
      w.kube.nads.set('infra/mv', { namespace: 'infra', name: 'mv', config: JSON.stringify({ cniVersion: '1.0.0', type: 'bridge' }) });
      const written: Record<string, unknown>[] = [];
      const patch = w.kube.patchConfigMapData.bind(w.kube);
      w.kube.patchConfigMapData = async (ns, name, data) => {
        for (const v of Object.values(data)) if (v) written.push(JSON.parse(v) as Record<string, unknown>);
        return patch(ns, name, data);
      };
      const create = w.kube.createConfigMap.bind(w.kube);
      w.kube.createConfigMap = async (cm) => {
        for (const v of Object.values(cm.data)) written.push(JSON.parse(v) as Record<string, unknown>);
        return create(cm);
      };
      expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'net1', ...args])).toBe(0);
      const ahead = written.find((r) => r.attaching === true);
      expect(ahead).toMatchObject({ network: args[0] === '--net' ? 'mv' : 'net' });
      expect(ahead?.status).toBe(status);
    }
  });
  it('--net without a namespace looks in the pod namespace', async () => {
    const w = world();
    w.kube.nads.set('shop/mv', { namespace: 'shop', name: 'mv', config: JSON.stringify({ cniVersion: '1.0.0', name: 'own-name', type: 'bridge' }) });
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'net1', '--net', 'mv'])).toBe(0);
    expect(w.exec.calls.find((c) => c.command === 'ADD')!.stdin.name).toBe('own-name');
  });
  it('a NAD that does not exist exits 3', async () => {
    const w = world();
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'net1', '--net', 'nope'])).toBe(3);
  });
  it('when the annotation cannot be written the attach stands (exit 4) and a retry succeeds without "already exists"', async () => {
    const w = world();
    w.kube.failAnnotate = 1;
    expect(await w.cli(attachCommand, attachArgs)).toBe(4);
    expect(w.stderr()).toMatch(/error: eth1 is attached, but the pod's network-status annotation could not be written .*run the same command again/);
    expect([...w.exec.files.keys()].some((k) => k.includes('/results/net-'))).toBe(true);
    const adds = w.exec.calls.filter((c) => c.command === 'ADD').length;
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    expect(w.stdout()).toMatch(/^eth1 was already attached to pod shop\/web-1/);
    expect(w.exec.calls.filter((c) => c.command === 'ADD').length).toBe(adds);
    expect((w.kube.annotation('shop', 'web-1', NETWORK_STATUS) as unknown[]).length).toBe(2);
  });
  it('--dry-run shows the resolved target', async () => {
    const w = world();
    expect(await w.cli(attachCommand, [...attachArgs, '--dry-run'])).toBe(0);
    expect(w.stdout()).toMatch(new RegExp(`^# target: pod=shop/web-1 uid=uid-1 node=node-1 runtime=docker sandbox=${SANDBOX} pid=4242 netns=/proc/4242/ns/net\\n# plugin 1/1: bridge`));
    expect(w.exec.commands()).toEqual(['VERSION bridge']);
    expect(w.kube.patches).toHaveLength(0);
  });
});

describe('refusals', () => {
  it.each([
    ['hostNetwork', { hostNetwork: true }, 2, /uses hostNetwork.*refused/],
    ['Pending', { phase: 'Pending' }, 2, /is Pending, not Running/],
    ['Succeeded', { phase: 'Succeeded' }, 2, /is Succeeded, not Running/],
    ['not scheduled', { node: null, phase: 'Pending' }, 3, /is not scheduled to a node yet/],
  ])('%s pod', async (_what, o, code, msg) => {
    const w = world();
    w.kube.add(makePod({ name: 'web-1', namespace: 'shop', uid: 'uid-1', ...o }));
    expect(await w.cli(attachCommand, attachArgs)).toBe(code);
    expect(w.stderr()).toMatch(msg);
    expect(w.exec.calls).toHaveLength(0);
  });
  it('--args may not give a CNI_ARGS key the tool sets for the target (pod: all five; --netns: K8S_POD_*), nor a key twice: exit 2 before anything is read or written, for attach, detach, check, the dry run and -l (it appended K8S_POD_NAME=bulk-007x after the tool\'s own: the entry named another pod, detach found nothing, gc freed the live lease)', async () => {
    const w = manyPods(2);
    const files = () => [...w.exec.files.keys()].sort();
    const before = files();
    const pod = ['web-1', '-n', 'shop', '--ifname', 'x1'];
    // each in the words of the command given (tryout 8 F4 d: cni-check and cni-detach were told of recording)
    const recorded = "cni-list, cni-detach and cni-gc read the attachment's pod from these, so the interface would be recorded as another pod's";
    const del = 'its DEL would be told of another pod than the one the interface was attached to';
    const cases: [typeof attachCommand, string[], string, string][] = [
      [attachCommand, [...pod, '--conf', '-'], 'cni-attach', recorded],
      [attachCommand, [...pod, '--conf', '-', '--dry-run'], 'cni-attach', recorded],
      [attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'x1', '--conf', '-'], 'cni-attach', recorded],
      [detachCommand, pod, 'cni-detach', del],
      [detachCommand, [...pod, '--dry-run'], 'cni-detach', del],
      [detachCommand, ['--all', '-n', 'shop', '--ifname', 'x1'], 'cni-detach', del],
      [checkCommand, pod, 'cni-check', 'its CHECK would be told of another pod than the one the interface was attached to'],
    ];
    for (const key of ['IgnoreUnknown', 'K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID']) {
      for (const [make, args, command, said] of cases) {
        expect(await w.cli(make, [...args, '--args', `FOO=1;${key}=web-1x`]), `${key} ${args.join(' ')}`).toBe(2);
        const err = w.stderr();
        expect(err.startsWith(`error: --args may not give ${key} (${key}=web-1x): ${command} sets ${key} itself for a pod (`), err).toBe(true);
        expect(err).toContain(`the plugins take; ${said}`);
        expect(err.endsWith(' (nothing was changed)\n')).toBe(true);
        if (make !== attachCommand) expect(err).not.toMatch(/recorded/);
      }
    }
    // a bare namespace: the tool sets none of them, but K8S_POD_* name a pod to cni-list/detach/gc; IgnoreUnknown is the user's
    for (const [make, said] of [[attachCommand, "cni-list, cni-detach and cni-gc read an attachment's pod from them"], [detachCommand, "a namespace's DEL given them would be told of that pod"], [checkCommand, "a namespace's CHECK given them would be told of that pod"]] as const) {
      expect(await w.cli(make, ['--netns', NETNS, '--ifname', 'x1', ...(make === attachCommand ? ['--conf', '-'] : []), '--args', 'K8S_POD_NAME=web-1'])).toBe(2);
      expect(w.stderr()).toMatch(/^error: --args may not give K8S_POD_NAME \(K8S_POD_NAME=web-1\): the K8S_POD_\* keys name a pod.*\(nothing was changed\)\n$/);
      expect(w.stderr()).toContain(said);
    }
    // the same key twice: the plugins (types.LoadArgs) take the last, other readers the first
    expect(await w.cli(attachCommand, [...pod, '--conf', '-', '--args', 'FOO=1;BAR=2;FOO=3'])).toBe(2);
    expect(w.stderr()).toBe('error: --args gives FOO more than once (FOO=1, FOO=3): the plugins (types.LoadArgs) would take the last, other readers the first; give it once (nothing was changed)\n');
    expect(w.exec.calls).toHaveLength(0);
    expect(w.kubeCalls).toHaveLength(0);
    expect(files()).toEqual(before);
    // the user's own keys still go after the tool's
    expect(await w.cli(attachCommand, [...pod, '--conf', '-', '--args', 'FOO=1'])).toBe(0);
    expect(w.exec.calls.find((c) => c.command === 'ADD')!.env.CNI_ARGS).toMatch(/K8S_POD_NAME=web-1;K8S_POD_INFRA_CONTAINER_ID=[^;]+;K8S_POD_UID=[^;]+;FOO=1$/);
  });
  it('POD_CNI_ARGS (what --args may not give for a pod) are the keys podCniArgs sets', () => {
    expect(podCniArgs({ namespace: 'n', name: 'p', uid: 'u' }, 's').map(([k]) => k)).toEqual([...POD_CNI_ARGS]);
  });
  it('missing pod exits 3', async () => {
    const w = world();
    expect(await w.cli(attachCommand, ['nope', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(3);
    expect(w.stderr()).toMatch(/^error: pods "nope" not found in namespace "shop"$/m);
  });
  it('a sandbox of an earlier pod of the same name (uid differs) is refused', async () => {
    const w = world();
    w.runtime.add('shop', 'web-1', 'uid-OLD', { id: SANDBOX, pid: 4242, netnsPath: NETNS });
    expect(await w.cli(attachCommand, attachArgs)).toBe(3);
    expect(w.stderr()).toMatch(/earlier pod \(uid uid-OLD\)/);
    expect(w.exec.calls).toHaveLength(0);
  });
  it('a pod on another node is named clearly', async () => {
    const w = world();
    w.runtime.sandboxes.clear();
    w.kube.add(makePod({ name: 'web-1', namespace: 'shop', uid: 'uid-1', node: 'node-7' }));
    expect(await w.cli(attachCommand, attachArgs)).toBe(3);
    expect(w.stderr()).toBe(
      'error: pod shop/web-1 runs on node node-7, not on this host (node-1), and was looked for only here, with --runtime docker (fake Docker), which has no sandbox of it; ' +
        'run the command on node-7, or leave --runtime at auto (the default), which reaches it there through an agent pod, or choose the agent yourself (--runtime agent)\n',
    );
  });
  it('a pod on another node and this host\'s runtime not there (--runtime docker, cri or kind on a laptop): that node is named, with the runtime that could not be asked, exit 4 (it was exit 3, as if it had answered "no sandbox"); attach, detach and check alike', async () => {
    const w = world();
    w.kube.add(makePod({ name: 'web-1', namespace: 'shop', uid: 'uid-1', node: 'node-a' }));
    for (const [name, where, error] of [
      ['docker', 'Docker at unix:///var/run/docker.sock', 'cannot reach Docker at unix:///var/run/docker.sock: ENOENT'],
      ['cri', 'crictl/ctr on this host', 'no CRI runtime on this host: neither crictl with a runtime socket nor ctr with containerd\'s socket'],
      ['kind', 'node containers in Docker at unix:///var/run/docker.sock', 'cannot reach Docker at unix:///var/run/docker.sock: ENOENT'],
    ]) {
      const missing = { name, where, findSandbox: async () => { throw new UnreachableError(error!); }, listSandboxes: async () => { throw new UnreachableError(error!); } };
      w.deps.runtimes = async () => [missing];
      for (const [make, args] of [[attachCommand, attachArgs], [detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']], [checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']]] as const) {
        expect(await w.cli(make, [...args]), `${name}: ${w.stderr()}`).toBe(4);
        expect(w.stderr()).toBe(
          `error: pod shop/web-1 runs on node node-a, not on this host (node-1), and was looked for only here, with --runtime ${name} (${where}), which could not be asked: ${error}; ` +
            'run the command on node-a, or leave --runtime at auto (the default), which reaches it there through an agent pod, or choose the agent yourself (--runtime agent)\n',
        );
      }
    }
    // a pod of this node: this host's runtime not there is the answer, as before (exit 4)
    w.kube.add(makePod({ name: 'web-1', namespace: 'shop', uid: 'uid-1', node: 'node-1' }));
    expect(await w.cli(attachCommand, attachArgs)).toBe(4);
    expect(w.stderr()).toMatch(/^error: cannot reach Docker/);
  });
  it('a pod on this node without a sandbox', async () => {
    const w = world();
    w.runtime.sandboxes.clear();
    expect(await w.cli(attachCommand, attachArgs)).toBe(3);
    expect(w.stderr()).toMatch(/no running sandbox of pod shop\/web-1 \(uid uid-1, node node-1\) found by fake Docker/);
  });
  it('no sandbox found: the message names only the runtimes that looked (not those that could not be reached, nor those that do not go to that node)', async () => {
    const w = world();
    w.kube.add(makePod({ name: 'nosb', namespace: 'shop', uid: 'uid-nosb', node: 'node-c' }));
    const cannot = (name: string, where: string) => ({ name, where, findSandbox: async () => { throw new UnreachableError(`cannot reach ${where}`); }, listSandboxes: async () => [] });
    const agent = { name: 'agent', where: 'agent pods in kube-system (for nodes other than node-1)', whereFor: (n: string) => `crictl/ctr on node ${n} (through an agent pod in kube-system)`, lastResort: true, reaches: (n?: string) => n !== 'node-1', findSandbox: async () => undefined, listSandboxes: async () => [] };
    w.deps.runtimes = async () => [cannot('docker', 'Docker at unix:///var/run/docker.sock'), cannot('kind', 'node containers in Docker at unix:///var/run/docker.sock'), cannot('cri', 'crictl/ctr on this host'), agent];
    expect(await w.cli(attachCommand, ['nosb', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(3);
    expect(w.stderr()).toBe('error: no running sandbox of pod shop/nosb (uid uid-nosb, node node-c) found by crictl/ctr on node node-c (through an agent pod in kube-system)\n');
  });
  it('pod and --netns together, and neither', async () => {
    const w = world();
    expect(await w.cli(attachCommand, [...attachArgs, '--netns', '/x'])).toBe(2);
    expect(await w.cli(attachCommand, ['--ifname', 'eth1', '--conf', '-'])).toBe(2);
    expect(w.stderr()).toBe('error: which pod? give a pod name (or -l SELECTOR or --all for many, or --netns PATH for a bare network namespace)\n');
  });
  it("\"which pod?\" offers what each command takes: cni-check refuses -l/--all, so it is not offered them", async () => {
    const w = world();
    expect(await w.cli(detachCommand, ['-n', 'shop', '--ifname', 'eth1'])).toBe(2);
    expect(w.stderr()).toBe('error: which pod? give a pod name (or -l SELECTOR or --all for many, or --netns PATH for a bare network namespace)\n');
    const c = world();
    expect(await c.cli(checkCommand, ['-n', 'shop', '--ifname', 'eth1'])).toBe(2);
    expect(c.stderr()).toBe('error: which pod? give a pod name (or --netns PATH for a bare network namespace)\n');
  });
});

describe('kubectl cni-detach POD', () => {
  it('a detach whose network-status update failed keeps the record until it is done: the same command again removes the entry and the record; a third writes nothing', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    const keys = () => [...w.kube.configMaps.values()].flatMap((c) => Object.keys(c.data));
    expect(keys()).toHaveLength(1);
    w.kube.failAnnotate = 1;
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(4);
    expect(w.stderr()).toMatch(/run the same command again to retry/);
    expect(keys()).toHaveLength(1);
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stderr()).toBe('note: nothing is attached as eth1 in pod shop/web-1 (no cache entry under /var/lib/cni/results); removed its network-status entry and its record in the cluster, which an earlier detach left\n');
    expect(w.kube.annotation('shop', 'web-1', NETWORK_STATUS)).toEqual([{ name: 'kindnet', interface: 'eth0', default: true }]);
    expect(keys()).toEqual([]);
    const patches = w.kube.patches.length;
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stderr()).toMatch(/; nothing to do\n$/);
    expect(w.kube.patches).toHaveLength(patches);
  });
  it('cni-check, cni-detach and its --dry-run that find nothing in the --cache-dir given, while the pod\'s newest record names another: exit 3, they say which to give, and do not use it (detach said "nothing to do", exit 0; -o json "detached": [])', async () => {
    const w = world();
    expect(await w.cli(attachCommand, [...attachArgs, '--cache-dir', '/tmp/theirs'])).toBe(0);
    // the same command with that dir, to paste (before: "give --cache-dir /tmp/theirs")
    const said = (cmd: string) => `error: nothing is attached as eth1 in pod shop/web-1 (no cache entry under /var/lib/cni/results); the cluster records eth1 attached with cache dir /tmp/theirs (trusted on fake node: owned by root or you, not writable by others): \`kubectl ${cmd} web-1 -n shop --ifname eth1 --cache-dir /tmp/theirs\` ${cmd === 'cni-check' ? 'checks' : 'detaches'} it there\n`;
    expect(await w.cli(checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(3);
    expect(w.stderr()).toBe(said('cni-check'));
    for (const more of [[], ['-o', 'json'], ['--dry-run']]) {
      expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', ...more]), more.join(' ')).toBe(3);
      expect(w.stderr()).toBe(said('cni-detach'));
      expect(w.stdout()).toBe('');
    }
    expect(w.exec.calls.filter((c) => c.command === 'DEL' || c.command === 'CHECK')).toEqual([]);
    expect([...w.kube.configMaps.values()].flatMap((c) => Object.keys(c.data))).toHaveLength(1);
    // the other way round: the record names the default
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--cache-dir', '/tmp/theirs/'])).toBe(0);
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    expect(await w.cli(checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--cache-dir', '/tmp/theirs'])).toBe(3);
    expect(w.stderr()).toMatch(/; the cluster records eth1 attached with cache dir \/var\/lib\/cni \(trusted on fake node: [^)]*\): `kubectl cni-check web-1 -n shop --ifname eth1` checks it there\n$/);
    // the same dir (written otherwise): no hint
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--cache-dir', '/var/lib/cni/'])).toBe(0);
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stderr()).toMatch(/; nothing to do\n$/);
  });
  it('an attach that did not finish (killed, a second Ctrl-C: its write-ahead record, attaching) with another --cache-dir: detach (one pod, --all, --dry-run) and check exit 3 naming it and the --cache-dir to give, and keep its record (detach said "nothing to do", exit 0, and removed the record)', async () => {
    const w = world();
    const { addAttachingRecord, listRecords } = await import('../../src/resolve/records.js');
    // its command gone: a pid of this host that runs no process
    await addAttachingRecord(w.kube, 'kube-system', { namespace: 'shop', pod: 'web-1', uid: 'uid-1', node: 'node-1', ifname: 'eth1', network: 'net', containerId: '', since: '2026-12-01T00:00:00Z', addresses: [], cacheDir: '/tmp/theirs', by: { host: (await import('node:os')).hostname(), pid: 2 ** 22 + 7 } });
    const said = (cmd: string) => `error: nothing is attached as eth1 in pod shop/web-1 (no cache entry under /var/lib/cni/results); the cluster records eth1 as an attach that did not finish with cache dir /tmp/theirs (trusted on fake node: owned by root or you, not writable by others): \`kubectl ${cmd} web-1 -n shop --ifname eth1 --cache-dir /tmp/theirs\` ${cmd === 'cni-check' ? 'checks' : 'detaches'} it there\n`;
    for (const [make, more, cmd] of [[detachCommand, [], 'cni-detach'], [detachCommand, ['--dry-run'], 'cni-detach'], [checkCommand, [], 'cni-check']] as const) {
      expect(await w.cli(make, ['web-1', '-n', 'shop', '--ifname', 'eth1', ...more]), w.stderr()).toBe(3);
      expect(w.stderr()).toBe(said(cmd));
    }
    expect(await w.cli(detachCommand, ['--all', '-n', 'shop', '--ifname', 'eth1'])).toBe(3);
    expect(w.stderr()).toContain('[1/1] shop/web-1: failed: nothing attached as eth1 here: the cluster records it as an attach that did not finish with --cache-dir /tmp/theirs: give --cache-dir /tmp/theirs\n');
    expect((await listRecords(w.kube, 'kube-system')).map((r) => r.attaching)).toEqual([true]);
    // given that dir: nothing there either (the attach never reached the node), so its record goes
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--cache-dir', '/tmp/theirs']), w.stderr()).toBe(0);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
  });
  it('cni-detach --all that finds nothing in the --cache-dir given for a pod whose record names another: said per pod (its progress line, the summary grouped by dir, -o json), not used', async () => {
    const w = world();
    expect(await w.cli(attachCommand, [...attachArgs, '--cache-dir', '/tmp/theirs'])).toBe(0);
    // before: exit 0, "eth1 detached from 0 of 1 pods; 1 recorded with …", -o json ok: true, "detached": []
    expect(await w.cli(detachCommand, ['--all', '-n', 'shop', '--ifname', 'eth1'])).toBe(3);
    expect(w.stderr()).toBe(
      '[1/1] shop/web-1: failed: nothing attached as eth1 here: the cluster records it with --cache-dir /tmp/theirs: give --cache-dir /tmp/theirs\nerror: detach failed for 1 of 1 pods\n',
    );
    // the batch again with that dir, to paste (before: "give --cache-dir /tmp/theirs")
    expect(w.stdout()).toBe('eth1 detached from 0 of 1 pods; 1 failed (shop/web-1); 1 recorded with --cache-dir /tmp/theirs (shop/web-1): `kubectl cni-detach --all -n shop --ifname eth1 --cache-dir /tmp/theirs` detaches it\n');
    expect(await w.cli(detachCommand, ['--all', '-n', 'shop', '--ifname', 'eth1', '-o', 'json'])).toBe(3);
    expect(JSON.parse(w.stdout())).toEqual([
      { pod: 'shop/web-1', ok: false, state: 'failed', exitCode: 3, error: 'nothing attached as eth1 here: the cluster records it with --cache-dir /tmp/theirs: give --cache-dir /tmp/theirs', recordedCacheDir: '/tmp/theirs' },
    ]);
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toEqual([]);
    // given that dir, the batch detaches it, and says nothing more
    expect(await w.cli(detachCommand, ['--all', '-n', 'shop', '--ifname', 'eth1', '--cache-dir', '/tmp/theirs'])).toBe(0);
    expect(w.stdout()).toBe('eth1 detached from 1 of 1 pods\n');
  });
  it('the pod deleted during its DEL: detached, exit 0, a note that there is no network-status to update (it said exit 4, "run the same command again")', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'DEL' ? (w.kube.pods.delete('shop/web-1'), {}) : {}));
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('eth1 detached from pod shop/web-1 (network net)\n');
    expect(w.stderr()).toMatch(/^note: pod shop\/web-1 was deleted meanwhile, so there is no network-status annotation to update \(pod shop\/web-1 not found\)$/m);
  });
  it('finding nothing, writes nothing to the pod: a network-status entry of that ifname another tool wrote, or of an interface attached with another --cache-dir, stays (one pod, -l); no event', async () => {
    const w = world();
    const multus = { name: 'shop/macvlan', interface: 'net2', ips: ['198.18.9.9'], default: false };
    w.pod.metadata!.annotations![NETWORK_STATUS] = JSON.stringify([{ name: 'kindnet', interface: 'eth0', default: true }, multus]);
    w.pod.metadata!.labels = { app: 'web' };
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    const before = w.kube.annotation('shop', 'web-1', NETWORK_STATUS);
    expect(before).toEqual([expect.objectContaining({ interface: 'eth0' }), multus, expect.objectContaining({ name: 'net', interface: 'eth1' })]);
    const patches = w.kube.patches.length;
    const events = w.kube.events.length;
    for (const args of [
      ['web-1', '-n', 'shop', '--ifname', 'net2'],
      ['-l', 'app=web', '-n', 'shop', '--ifname', 'net2'],
      // eth1 is attached, with the default cache dir: this one looks elsewhere
      ['web-1', '-n', 'shop', '--ifname', 'eth1', '--cache-dir', '/tmp/elsewhere'],
      ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--cache-dir', '/tmp/elsewhere'],
    ]) {
      // nothing there, while the cluster records eth1 with the default cache dir: exit 3 (said in the test above)
      expect(await w.cli(detachCommand, args), `${args.join(' ')}: ${w.stderr()}`).toBe(args.includes('/tmp/elsewhere') ? 3 : 0);
      expect(w.exec.calls.filter((c) => c.command === 'DEL')).toEqual([]);
      // before: the entry was removed from network-status (a PATCH of the pod)
      expect(w.kube.patches.length, args.join(' ')).toBe(patches);
      expect(w.kube.annotation('shop', 'web-1', NETWORK_STATUS)).toEqual(before);
      expect(w.kube.events.length).toBe(events);
    }
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.kube.annotation('shop', 'web-1', NETWORK_STATUS)).toEqual([expect.objectContaining({ interface: 'eth0' }), multus]);
  });
  it('DELs in the sandbox and removes its network-status entry', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stdout()).toBe('eth1 detached from pod shop/web-1 (network net)\n');
    const del = w.exec.calls.find((c) => c.command === 'DEL')!;
    expect(del.env).toMatchObject({ CNI_CONTAINERID: SANDBOX, CNI_NETNS: NETNS, CNI_IFNAME: 'eth1' });
    expect(w.kube.annotation('shop', 'web-1', NETWORK_STATUS)).toEqual([{ name: 'kindnet', interface: 'eth0', default: true }]);
    expect([...w.exec.files.keys()].filter((k) => k.includes('/results/'))).toEqual([]);
  });
  it('works when the sandbox is gone: DEL without a netns frees the lease, the annotation is still fixed', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.runtime.sandboxes.clear();
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    const del = w.exec.calls.find((c) => c.command === 'DEL')!;
    expect(del.env.CNI_NETNS).toBe('');
    expect(del.env.CNI_CONTAINERID).toBe(SANDBOX);
    expect(w.stderr()).toMatch(/^note: pod shop\/web-1 has no running sandbox on this host \(node-1\): the sandbox f{12} its eth1 went into is gone, and its interface with it; DEL runs without a network namespace, to free its IPAM lease$/m);
    expect((w.kube.annotation('shop', 'web-1', NETWORK_STATUS) as unknown[]).length).toBe(1);
  });
  it('works when the pod itself is gone, with a note that the annotation step is skipped', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.kube.pods.clear();
    w.runtime.sandboxes.clear();
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toHaveLength(1);
    expect(w.stderr()).toMatch(/no longer exists[\s\S]*no network-status annotation to update/);
  });
  it('the pod gone while its sandbox still runs (force-deleted, a grace period): check, the dry run and detach look that sandbox up and run in its namespace, so the interface goes with its lease; a runtime that cannot be asked is no answer (exit 4, nothing run) unless the namespace is gone', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    w.kube.pods.clear(); // the sandbox stays in the runtime
    // before: CHECK refused ("no running sandbox on this node"), the plan and the DEL with CNI_NETNS ''
    expect(await w.cli(checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stdout()).toBe('eth1 in pod shop/web-1 (network net): CHECK ok\n');
    expect(w.exec.calls.find((c) => c.command === 'CHECK')!.env).toMatchObject({ CNI_CONTAINERID: SANDBOX, CNI_NETNS: NETNS });
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--dry-run'])).toBe(0);
    expect(w.stdout()).toMatch(new RegExp(`^# target: pod=shop/web-1 netns=${NETNS}$`, 'm'));
    expect(w.stdout()).toContain(`CNI_NETNS=${NETNS}`);
    // the runtime cannot be asked, and the namespace the entry names is still one: not judged, nothing run
    const find = w.runtime.findSandbox.bind(w.runtime);
    w.runtime.findSandbox = async () => {
      throw new UnreachableError('cannot reach Docker at unix:///x.sock');
    };
    for (const make of [detachCommand, checkCommand]) {
      expect(await w.cli(make, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(4);
      expect(w.stderr()).toMatch(/^error: pod shop\/web-1 no longer exists, and whether the sandbox f{12} its eth1 went into still runs on this host \(node-1\) could not be told: cannot reach Docker at unix:\/\/\/x\.sock; nothing was run/m);
    }
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toEqual([]);
    w.runtime.findSandbox = find;
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stderr()).toMatch(/^note: the sandbox f{12} of pod shop\/web-1 still runs on this host \(node-1\): DEL runs in its network namespace, so the interface goes with its lease$/m);
    expect(w.exec.calls.filter((c) => c.command === 'DEL').map((c) => c.env.CNI_NETNS)).toEqual([NETNS]);
    // its sandbox gone too: check says so (exit 3), detach runs DEL without a namespace
    const g = world();
    expect(await g.cli(attachCommand, attachArgs)).toBe(0);
    g.kube.pods.clear();
    g.runtime.sandboxes.clear();
    expect(await g.cli(checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(3);
    expect(g.stderr()).toMatch(/^error: pod shop\/web-1 no longer exists, and the sandbox f{12} its eth1 went into no longer runs on this host \(node-1\): nothing to CHECK/m);
    // a runtime that cannot be asked, but the namespace is gone: so is the sandbox
    g.runtime.findSandbox = async () => {
      throw new UnreachableError('cannot reach Docker at unix:///x.sock');
    };
    g.exec.netns.delete(NETNS);
    expect(await g.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(g.exec.calls.filter((c) => c.command === 'DEL').map((c) => c.env.CNI_NETNS)).toEqual(['']);
  });
  it('the pod gone while its sandbox still runs in the node\'s own namespace (a hostNetwork pod\'s): detach and check refuse (exit 2), nothing run', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    w.kube.pods.clear();
    w.exec.identifyFiles();
    w.exec.identity!.netnsId = async (path) => ([NETNS, '/proc/1/ns/net'].includes(path) ? 'host' : undefined);
    for (const [make, extra] of [[detachCommand, []], [detachCommand, ['--dry-run']], [checkCommand, []]] as const) {
      expect(await w.cli(make, ['web-1', '-n', 'shop', '--ifname', 'eth1', ...extra])).toBe(2);
      expect(w.stderr()).toMatch(/^error: the sandbox f{12} of pod shop\/web-1 still runs on this host \(node-1\), in the node's own network namespace \(the one PID 1 has, as a hostNetwork pod's\): a plugin run there would rewire the node; refused$/m);
    }
    expect(w.exec.calls.filter((c) => c.command === 'DEL' || c.command === 'CHECK')).toEqual([]);
  });
  it('a pod nobody knows (not in the API, no record in the cluster, nothing in the cache): detach and check answer as kubectl does, exit 3, nothing run (they said "no longer exists … nothing to do", exit 0); a pod that was there and is gone, which a record or the cache still names, stays "nothing to do"', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    for (const [make, extra] of [[detachCommand, []], [detachCommand, ['--force']], [detachCommand, ['--dry-run']], [checkCommand, []]] as const) {
      expect(await w.cli(make, ['nope', '-n', 'shop', '--ifname', 'eth1', ...extra])).toBe(3);
      expect(w.stdout()).toBe('');
      expect(w.stderr()).toBe('error: pods "nope" not found in namespace "shop"\n');
      // the same name in a namespace that has no such pod either
      expect(await w.cli(make, ['web-1', '-n', 'other', '--ifname', 'eth1', ...extra])).toBe(3);
      expect(w.stderr()).toBe('error: pods "web-1" not found in namespace "other"\n');
    }
    expect(w.exec.calls.filter((c) => c.command === 'DEL' || c.command === 'CHECK')).toEqual([]);
    // web-1 deleted: the cluster's record names it (this host's cache emptied), then only the cache's entry of another interface
    w.kube.pods.clear();
    w.runtime.sandboxes.clear();
    for (const k of [...w.exec.files.keys()].filter((k) => k.includes('/results/'))) w.exec.files.delete(k);
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stderr()).toMatch(/^note: pod shop\/web-1 no longer exists: using what the cache recorded for it, and looking up on this host \(node-1\) whether the sandbox it went into still runs\n[\s\S]*; nothing to do\n$/);
    const g = world();
    expect(await g.cli(attachCommand, [...attachArgs.slice(0, 4), 'net2', ...attachArgs.slice(5), '--no-annotate'])).toBe(0);
    g.kube.configMaps.clear();
    g.kube.pods.clear();
    g.runtime.sandboxes.clear();
    expect(await g.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(g.stderr()).toMatch(/; nothing to do\n$/);
  });
  it('the pod gone and the cluster\'s records (which name its node) not readable: this host\'s cache holds it, detached; holds nothing of that interface (another of the pod), exit 4 saying why (it said "nothing to do", exit 0); nothing of the pod, not found (exit 3) with a note', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    await w.cli(attachCommand, [...attachArgs.slice(0, 4), 'net2', ...attachArgs.slice(5)]);
    w.kube.pods.clear();
    w.runtime.sandboxes.clear();
    w.kube.listConfigMaps = async () => {
      throw new UnreachableError('listing configmaps in kube-system: the API server answered 403 (Forbidden): configmaps is forbidden');
    };
    // held here: the records are only an index
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']), w.stderr()).toBe(0);
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toHaveLength(1);
    // held nowhere here (the pod's net2 is): perhaps on the node only the records name
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(4);
    expect(w.stdout()).toBe('');
    expect(w.stderr().trim().split('\n').at(-1)).toBe(
      "error: nothing is attached as eth1 in pod shop/web-1 in /var/lib/cni/results, and the cluster's attachment records could not be read (listing configmaps in kube-system: the API server answered 403 (Forbidden): configmaps is forbidden); they name the node of a pod that is gone: whether it is attached on another node is not known; run the same command again once they can be read, or on its node",
    );
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toHaveLength(1);
    // its dry run refuses alike (it printed "nothing is recorded: no plugin would run", exit 0)
    const said = w.stderr().trim().split('\n').at(-1);
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--dry-run'])).toBe(4);
    expect(w.stdout()).toBe('');
    expect(w.stderr().trim().split('\n').at(-1)).toBe(said);
    // net2 detached too: nothing here knows the pod any more — not found, as kubectl says it, with what was not read
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'net2'])).toBe(0);
    for (const extra of [[], ['--dry-run']]) {
      expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', ...extra])).toBe(3);
      expect(w.stderr()).toMatch(/^note: the cluster's attachment records could not be read \(.*\): whether pod shop\/web-1 existed and left an attachment on another node is not known; this host's cache holds nothing of it; run the same command again once they can be read\nerror: pods "web-1" not found in namespace "shop"\n$/);
    }
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toHaveLength(2);
  });
  it('--runtime auto, the runtime the pod\'s containers run in cannot be asked and another answers "none": check, attach, detach (one pod and -l) exit 4 with its error; detach ran DEL without the namespace of a live sandbox (exit 0)', async () => {
    // Docker down on a Docker node whose containerd (docker's own) answers with no CRI sandboxes
    const down = () => [
      { name: 'docker', where: 'Docker at unix:///var/run/docker.sock', findSandbox: async () => { throw new UnreachableError('cannot reach Docker at unix:///var/run/docker.sock: ENOENT'); }, listSandboxes: async () => [] },
      { name: 'cri', where: 'crictl/ctr on this host', findSandbox: async () => undefined, listSandboxes: async () => [] },
    ];
    for (const scheme of ['docker', 'containerd']) {
      const w = world();
      w.pod.metadata!.labels = { app: 'web' };
      expect(await w.cli(attachCommand, attachArgs)).toBe(0);
      w.pod.status!.containerStatuses = [{ name: 'app', image: 'busybox', imageID: '', ready: true, restartCount: 0, containerID: `${scheme}://${'c'.repeat(64)}` }];
      w.deps.runtimes = async () => down();
      const runs = [
        [checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']],
        [attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth2', '--conf', '-']],
        [detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1']],
        [detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']],
      ] as const;
      for (const [make, args] of runs) {
        const code = await w.cli(make, [...args]);
        if (scheme === 'docker') {
          expect(code, `${args.join(' ')}: ${w.stderr()}`).toBe(4);
          expect(w.stderr()).toMatch(/cannot reach Docker at unix:\/\/\/var\/run\/docker\.sock: ENOENT$/m);
          expect(w.stderr()).not.toMatch(/is gone|no running sandbox/);
        }
      }
      const dels = w.exec.calls.filter((c) => c.command === 'DEL');
      // a containerd pod: crictl/ctr answered for it, Docker holds none of its kind: its sandbox is gone (DEL without it)
      expect(dels.map((d) => d.env.CNI_NETNS), scheme).toEqual(scheme === 'docker' ? [] : ['']);
    }
  });
  it('does not touch another pod of the same name with a different uid', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    w.kube.add(makePod({ name: 'web-1', namespace: 'shop', uid: 'uid-2' }));
    w.runtime.sandboxes.clear();
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toHaveLength(0);
    expect(w.stderr()).toMatch(/nothing is attached as eth1 in pod shop\/web-1/);
  });
  it('check CHECKs a pod attachment', async () => {
    const w = world();
    await w.cli(attachCommand, attachArgs);
    expect(await w.cli(checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stdout()).toMatch(/eth1 in pod shop\/web-1 \(network net\): CHECK ok/);
  });
});

describe('-l / --all: many pods', () => {
  const many = manyPods;

  it('-v=1 says how many pods at a time: without --parallel from the nodes the pods are on, with it as given; fewer pods than that said', async () => {
    const w = many(6);
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '-v', '1'])).toBe(0);
    expect(w.stderr()).toMatch(/^debug: 4 pods at a time on their nodes \(the default: one per node the pods are on, 1 node here, but 4 to 32 in all and at most 4 on one node; --parallel sets it\)$/m);
    const given = many(6);
    expect(await given.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '-v', '1', '--parallel', '2'])).toBe(0);
    expect(given.stderr()).toMatch(/^debug: 2 pods at a time on their nodes \(--parallel 2\)$/m);
    // every pod's attach skips STATUS alike (the network is CNI 1.0.0): said once for the batch (tryout 15: once per pod)
    expect(w.stderr().match(/^debug: STATUS skipped: network net uses CNI 1\.0\.0; STATUS came with CNI 1\.1\.0$/gm)).toHaveLength(1);
    // one pod: "1 pod", not "1 pods"
    const one = many(1);
    expect(await one.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '-v', '1'])).toBe(0);
    expect(one.stderr()).toMatch(/^debug: 1 pod at a time on their nodes \(the default: one per node the pods are on, 1 node here, but 4 to 32 in all and at most 4 on one node; 1 pod in all here; --parallel sets it\)$/m);
    const wide = many(3);
    expect(await wide.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '-v', '1', '--parallel', '10'])).toBe(0);
    expect(wide.stderr()).toMatch(/^debug: 3 pods at a time on their nodes \(--parallel 10; 3 pods in all here\)$/m);
  });

  it('attaches every matching pod with one API list and one runtime list, a progress line each, and a summary', async () => {
    const w = many(5);
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--parallel', '2'])).toBe(0);
    expect(w.kube.listCalls).toBe(1);
    expect(w.runtime.listCalls).toBe(1);
    expect(w.exec.calls.filter((c) => c.command === 'ADD').map((c) => c.env.K8S_POD_NAME ?? c.env.CNI_ARGS!.match(/K8S_POD_NAME=([^;]+)/)![1]).sort()).toEqual(
      ['web-1', 'web-2', 'web-3', 'web-4', 'web-5'],
    );
    expect(w.stderr().trim().split('\n')).toHaveLength(5);
    expect(w.stderr()).toMatch(/^\[1\/5\] shop\/web-\d: attached eth1: 198\.18\.0\.2\/24/m);
    expect(w.stdout()).toBe('eth1 attached to 5 of 5 pods\n');
    expect(w.kube.annotation('shop', 'db-1', NETWORK_STATUS)).toBeUndefined();
    for (let i = 1; i <= 5; i++) expect((w.kube.annotation('shop', `web-${i}`, NETWORK_STATUS) as unknown[]).length).toBe(1);
  });

  it('--dry-run with -l or --all is refused (exit 2) by attach and detach alike, before anything runs (a detach -l --dry-run detached every pod)', async () => {
    const w = many(2);
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    const before = w.exec.calls.length;
    for (const [make, args] of [[attachCommand, ['--conf', '-']], [detachCommand, []]] as const) {
      for (const which of [['-l', 'app=web'], ['--all']]) {
        expect(await w.cli(make, [...which, '-n', 'shop', '--ifname', 'eth1', ...args, '--dry-run'])).toBe(2);
        expect(w.stderr()).toBe('error: --dry-run works on one pod at a time\n');
      }
    }
    expect(w.exec.calls.length).toBe(before);
    expect([...w.exec.files.keys()].filter((k) => k.includes('/results/'))).toHaveLength(2);
  });

  it('goes on when one pod fails, says which, and exits with that failure code', async () => {
    const w = many(3);
    w.runtime.sandboxes.delete('shop/web-2');
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(3);
    expect(w.stderr()).toMatch(/shop\/web-2: failed: no running sandbox of pod shop\/web-2/);
    expect(w.stderr()).toMatch(/error: attach failed for 1 of 3 pods\n$/);
    expect(w.stdout()).toBe('eth1 attached to 2 of 3 pods; 1 failed (shop/web-2)\n');
    expect(w.exec.calls.filter((c) => c.command === 'ADD')).toHaveLength(2);
  });

  it('an attach batch whose failed pods were not rolled back: the summary, the error line and -o json count them, with the cni-detach that undoes them — the batch\'s -l when no pod is attached, else one pod\'s (it said only "3 failed")', async () => {
    const w = many(3);
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' || c.command === 'DEL' ? { code: 1, stderr: 'bad conf' } : {}));
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(1);
    const undo = 'kubectl cni-detach -l app=web -n shop --ifname eth1';
    expect(w.stdout()).toBe(
      'eth1 attached to 0 of 3 pods; 3 failed (shop/web-1, shop/web-2, shop/web-3), 3 not rolled back; ' +
        `the 3 not rolled back stay recorded (interrupted): \`${undo}\` runs their DEL again (\`${undo} --force\` forgets those whose DEL keeps failing)\n`,
    );
    expect(w.stderr().trim().split('\n').at(-1)).toBe('error: attach failed for 3 of 3 pods, 3 not rolled back');
    expect(await w.cli(attachCommand, ['--all', '-n', 'shop', '--ifname', 'eth2', '--conf', '-', '-o', 'json'])).toBe(1);
    expect((JSON.parse(w.stdout()) as { left?: string }[]).map((r) => r.left)).toEqual(['recorded', 'recorded', 'recorded', undefined]);
    // what it says undoes them does
    expect(await w.cli(detachCommand, [...undo.split(' ').slice(2), '--force'])).toBe(0);
    expect(w.stdout()).toMatch(/^eth1 detached from 0 of 3 pods; forgotten in 3 /);
    // one pod of three not rolled back, the others attached: its own cni-detach (the -l would detach those too)
    const m = many(3);
    m.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.env.CNI_ARGS?.includes('K8S_POD_NAME=web-2;') && (c.command === 'ADD' || c.command === 'DEL') ? { code: 1, stderr: 'bad conf' } : c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult('eth1', '/proc/5002/ns/net')) } : {}));
    expect(await m.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(1);
    expect(m.stdout()).toBe('eth1 attached to 2 of 3 pods; 1 failed (shop/web-2), 1 not rolled back; the 1 not rolled back stays recorded (interrupted): `kubectl cni-detach web-2 -n shop --ifname eth1` runs its DEL again (`kubectl cni-detach web-2 -n shop --ifname eth1 --force` forgets it if that DEL keeps failing)\n');
  });

  it('a batch counts the pods that had nothing to do apart: detach "N had nothing attached", attach "(N already attached)", in the line and in -o json (before: not counted at all)', async () => {
    const m = many(3);
    m.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult('eth1', c.env.CNI_NETNS!)) } : {}));
    expect(await m.cli(attachCommand, ['web-2', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    expect(await m.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    expect(m.stdout()).toBe('eth1 attached to 3 of 3 pods (1 already attached)\n');
    expect(await m.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '-o', 'json'])).toBe(0);
    expect((JSON.parse(m.stdout()) as { alreadyAttached?: boolean }[]).map((r) => r.alreadyAttached)).toEqual([true, true, true]);
    expect(await m.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(await m.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(m.stdout()).toBe('eth1 detached from 2 of 3 pods, 1 had nothing attached\n');
    expect(m.stderr()).toMatch(/\] shop\/web-1: nothing attached as eth1\n/);
    expect(await m.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '-o', 'json'])).toBe(0);
    expect(JSON.parse(m.stdout())).toEqual(['web-1', 'web-2', 'web-3'].map((p) => ({ pod: `shop/${p}`, ok: true, detached: [], nothingAttached: true })));
  });

  it('12 pods failing: each named once on stderr (its line) and in a summary of 5 names on stdout; the error line counts', async () => {
    const w = many(12);
    for (let i = 1; i <= 12; i++) w.runtime.sandboxes.delete(`shop/web-${i}`);
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(3);
    expect(w.stdout()).toMatch(/^eth1 attached to 0 of 12 pods; 12 failed \((shop\/web-\d+, ){5}… and 7 more: each one's line on stderr names it, -o json lists every pod\)\n$/);
    const err = w.stderr().trim().split('\n');
    expect(err).toHaveLength(13);
    expect(err.at(-1)).toBe('error: attach failed for 12 of 12 pods');
    for (let i = 1; i <= 12; i++) expect(err.filter((l) => l.includes(`shop/web-${i}:`))).toHaveLength(1);
    // -o json names every pod
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '-o', 'json'])).toBe(3);
    expect((JSON.parse(w.stdout()) as { pod: string }[]).map((r) => r.pod).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `shop/web-${i + 1}`).sort());
  });

  it('-o json gives one record per pod', async () => {
    const w = many(2);
    expect(await w.cli(attachCommand, ['--all', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '-o', 'json'])).toBe(3);
    const out = JSON.parse(w.stdout());
    expect(out.map((o: { pod: string; ok: boolean }) => [o.pod, o.ok])).toEqual([['shop/web-1', true], ['shop/web-2', true], ['shop/db-1', false]]);
  });

  it('detaches every matching pod and cleans their annotations', async () => {
    const w = many(3);
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    expect(await w.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stdout()).toBe('eth1 detached from 3 of 3 pods\n');
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toHaveLength(3);
    expect(w.kube.annotation('shop', 'web-1', NETWORK_STATUS)).toBeUndefined();
    expect([...w.exec.files.keys()].filter((k) => k.includes('/results/'))).toEqual([]);
  });

  it('a pod that matched once and is gone now (its eth1 still recorded) is named in one note after the batch, with the cni-gc that frees it (per ifname)', async () => {
    const w = many(3);
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    expect(await w.cli(attachCommand, ['web-3', '-n', 'shop', '--ifname', 'eth2', '--conf', '-'])).toBe(0);
    w.kube.pods.delete('shop/web-2');
    w.kube.pods.delete('shop/web-3');
    expect(await w.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stdout()).toBe('eth1 detached from 1 of 1 pods\n');
    // before: nothing said of them, while cni-list still showed them as "pod gone"
    expect(w.stderr().split('\n').filter((l) => l.startsWith('note:'))).toEqual([
      'note: 2 pods of namespace shop that no longer exist still have eth1 recorded (web-2, web-3): no selector matches a gone pod, so this batch did not look at them; `kubectl cni-gc` frees them (`kubectl cni-list -n shop` shows them)',
    ]);
    expect(await w.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth2'])).toBe(0);
    expect(w.stderr()).toMatch(/^note: a pod of namespace shop that no longer exists still has eth2 recorded \(web-3\): .* frees it/m);
    // a gone pod's record of another cache dir: its own note, whose cni-gc (and cni-list) read that dir (before: a plain
    // cni-gc, which keeps such a record)
    const { addRecord } = await import('../../src/resolve/records.js');
    await addRecord(w.kube, 'kube-system', { namespace: 'shop', pod: 'web-9', uid: 'uid-9', node: 'node-1', ifname: 'eth1', network: 'net', containerId: '9'.repeat(64), since: '2026-12-01T00:00:00Z', addresses: [], cacheDir: '/srv/x' });
    expect(await w.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stderr().split('\n').filter((l) => l.startsWith('note:'))).toEqual([
      'note: 2 pods of namespace shop that no longer exist still have eth1 recorded (web-2, web-3): no selector matches a gone pod, so this batch did not look at them; `kubectl cni-gc` frees them (`kubectl cni-list -n shop` shows them)',
      'note: a pod of namespace shop that no longer exists still has eth1 recorded (web-9): no selector matches a gone pod, so this batch did not look at it; `kubectl cni-gc --cache-dir /srv/x` frees it (`kubectl cni-list -n shop --cache-dir /srv/x` shows it)',
    ]);
  });

  it('a pod of the batch deleted while the batch detaches it: detached, and not named as a gone pod still recorded (the records are read after the batch)', async () => {
    const w = many(3);
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    const bridge = w.exec.plugins.get('/opt/cni/bin/bridge')!;
    w.exec.plugins.set('/opt/cni/bin/bridge', (c) => {
      // web-2's Pod object deleted while its DEL runs (its sandbox still there)
      if (c.command === 'DEL' && c.env.CNI_ARGS?.includes('K8S_POD_NAME=web-2;')) w.kube.pods.delete('shop/web-2');
      return bridge(c);
    });
    expect(await w.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stdout()).toBe('eth1 detached from 3 of 3 pods\n');
    // before: "note: a pod of namespace shop that no longer exists still has eth1 recorded (web-2) …", from the records
    // read before the batch detached it
    expect(w.stderr()).not.toMatch(/no longer exists still ha/);
  });

  it('a pod on hostNetwork among the selected is skipped with one note (attach, detach, -l and --all); named alone it is refused (exit 2)', async () => {
    const w = many(2);
    w.kube.add(makePod({ name: 'node-agent', namespace: 'shop', uid: 'uid-h', labels: { app: 'web' }, hostNetwork: true }));
    expect(await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-']), w.stderr()).toBe(0);
    expect(w.stderr()).toMatch(/^note: skipped 1 pod on hostNetwork \(shop\/node-agent\): its network namespace is the node's own$/m);
    expect(w.stdout()).toBe('eth1 attached to 2 of 2 pods\n');
    expect(await w.cli(detachCommand, ['--all', '-n', 'shop', '--ifname', 'eth1']), w.stderr()).toBe(0);
    expect(w.stderr()).toMatch(/note: skipped 1 pod on hostNetwork \(shop\/node-agent\)/);
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toHaveLength(2);
    expect(await w.cli(detachCommand, ['node-agent', '-n', 'shop', '--ifname', 'eth1'])).toBe(2);
    expect(w.stderr()).toMatch(/uses hostNetwork: its network namespace is the node's own/);
    // only hostNetwork pods selected: nothing to do
    const h = many(0);
    h.kube.add(makePod({ name: 'node-agent', namespace: 'shop', uid: 'uid-h', labels: { app: 'web' }, hostNetwork: true }));
    expect(await h.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    expect(h.stderr()).toMatch(/no pods in namespace shop match app=web but those on hostNetwork; nothing to do/);
  });

  it('detach of a pod that was never scheduled and holds nothing: "nothing is attached", no claim of a sandbox (none was recorded)', async () => {
    const w = many(0);
    w.kube.add(makePod({ name: 'pending', namespace: 'shop', uid: 'uid-p', node: null, phase: 'Pending' }));
    expect(await w.cli(detachCommand, ['pending', '-n', 'shop', '--ifname', 'eth1']), w.stderr()).toBe(0);
    expect(w.stderr()).toBe('note: nothing is attached as eth1 in pod shop/pending (no cache entry under /var/lib/cni/results); nothing to do\n');
  });

  it('no matching pods is a note, not an error', async () => {
    const w = many(1);
    expect(await w.cli(attachCommand, ['-l', 'app=none', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    expect(w.stderr()).toMatch(/no pods in namespace shop match app=none/);
  });

  it.each([
    [['-l', 'app=web', 'web-1'], /give one of a pod, --netns or -l\/--all/],
    [['-l', 'app=web', '--all'], /either -l or --all/],
    [['-l', 'app=web', '--parallel', '0'], /^error: --parallel 0: pods at a time is from 1 to 64\n$/],
    [['-l', 'app=web', '--parallel', 'abc'], /^error: invalid argument "abc" for "--parallel" flag: strconv\.ParseInt: parsing "abc": invalid syntax\nSee 'kubectl cni-attach --help' for usage\.\n$/],
    [['-l', 'app=web', '--dry-run'], /--dry-run works on one pod at a time/],
  ])('refuses %j', async (extra, msg) => {
    const w = many(1);
    expect(await w.cli(attachCommand, [...extra, '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(2);
    expect(w.stderr()).toMatch(msg);
    expect(w.exec.calls).toHaveLength(0);
  });
});

describe('kubectl\'s forms of a pod argument and of --dry-run', () => {
  it('pod/NAME, pods/NAME and po/NAME name the pod, as kubectl exec/logs take them (before: exit 3, "the server could not find the requested resource"); another TYPE/ or a malformed one is exit 2, nothing asked', async () => {
    const w = world();
    for (const arg of ['pod/web-1', 'pods/web-1', 'po/web-1']) {
      expect(await w.cli(attachCommand, [arg, '-n', 'shop', '--ifname', 'eth1', '--conf', '-']), `${arg}: ${w.stderr()}`).toBe(0);
      expect(w.stdout()).toMatch(/^eth1 attached to pod shop\/web-1 /);
      expect(await w.cli(checkCommand, [arg, '-n', 'shop', '--ifname', 'eth1']), w.stderr()).toBe(0);
      expect(await w.cli(detachCommand, [arg, '-n', 'shop', '--ifname', 'eth1']), w.stderr()).toBe(0);
      expect(w.stdout()).toBe('eth1 detached from pod shop/web-1 (network net)\n');
    }
    const asked = w.kube.patches.length;
    for (const [arg, said] of [
      ['deploy/web', 'error: "deploy/web": "deploy" is not a pod: these commands work on pods (POD, or pod/POD); the pods of a workload are chosen with -l SELECTOR\n'],
      ['pod/', 'error: "pod/": arguments in resource/name form must have a single resource and name\n'],
      ['pod/a/b', 'error: "pod/a/b": arguments in resource/name form must have a single resource and name\n'],
    ] as const) {
      for (const [make, extra] of [[attachCommand, ['--conf', '-']], [detachCommand, []], [checkCommand, []]] as const) {
        expect(await w.cli(make, [arg, '-n', 'shop', '--ifname', 'eth1', ...extra])).toBe(2);
        expect(w.stderr()).toBe(said);
      }
    }
    expect(w.kube.patches.length).toBe(asked);
  });
  it('a pod the API does not have: one wording, kubectl\'s (attach said `pod shop/nope: pods "nope" not found`, detach and check `pod "nope" not found in namespace "shop"`)', async () => {
    const w = world();
    for (const [make, extra] of [[attachCommand, ['--conf', '-']], [detachCommand, []], [checkCommand, []]] as const) {
      expect(await w.cli(make, ['nope', '-n', 'shop', '--ifname', 'eth1', ...extra])).toBe(3);
      expect(w.stderr()).toBe('error: pods "nope" not found in namespace "shop"\n');
    }
  });
  it('--dry-run=client is --dry-run, --dry-run=none none (kubectl\'s values; it was "unknown option \'--dry-run=client\'", as if there were no --dry-run); --dry-run=server is refused saying why, exit 2', async () => {
    const w = world();
    expect(await w.cli(attachCommand, [...attachArgs, '--dry-run=client'])).toBe(0);
    expect(w.stdout()).toMatch(/^# target: pod=shop\/web-1 /);
    expect(w.exec.calls.filter((c) => c.command === 'ADD')).toEqual([]);
    expect(await w.cli(attachCommand, [...attachArgs, '--dry-run=none'])).toBe(0);
    expect(w.exec.calls.filter((c) => c.command === 'ADD')).toHaveLength(1);
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--dry-run=server'])).toBe(2);
    expect(w.stderr()).toBe("error: --dry-run=server: no server-side dry run here: the change is made on a node by CNI plugins, which have none; give --dry-run (or kubectl's --dry-run=client, the same: runs nothing, prints each plugin run), or --dry-run=none\nSee 'kubectl cni-detach --help' for usage.\n");
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toEqual([]);
  });
});

describe('-o name: pod/NAME of each pod acted on (kubectl label/annotate -o name)', () => {
  it('one pod: attach, check, detach (also with nothing left to detach), and their dry runs, print pod/NAME and nothing else', async () => {
    const w = world();
    const args = ['web-1', '-n', 'shop', '--ifname', 'eth1'];
    expect(await w.cli(attachCommand, [...args, '--conf', '-', '--dry-run=client', '-o', 'name']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('pod/web-1\n');
    expect(w.exec.calls.filter((c) => c.command === 'ADD')).toHaveLength(0);
    expect(await w.cli(attachCommand, [...args, '--conf', '-', '-o', 'name']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('pod/web-1\n');
    expect(w.exec.calls.filter((c) => c.command === 'ADD')).toHaveLength(1);
    expect(await w.cli(checkCommand, [...args, '-o', 'name']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('pod/web-1\n');
    expect(await w.cli(checkCommand, [...args, '--dry-run', '-o', 'name']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('pod/web-1\n');
    expect(await w.cli(detachCommand, [...args, '--dry-run', '-o', 'name']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('pod/web-1\n');
    expect(await w.cli(detachCommand, [...args, '-o', 'name']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('pod/web-1\n');
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toHaveLength(1);
    // nothing attached any more: still the pod (kubectl prints pod/NAME for a label already there), the note on stderr
    expect(await w.cli(detachCommand, [...args, '-o', 'name']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('pod/web-1\n');
    expect(w.stderr()).toMatch(/^note: nothing is attached as eth1/);
  });
  it('a batch: one line per pod done, the failed ones only on stderr, exit as the batch exits', async () => {
    const w = manyPods(3);
    w.runtime.sandboxes.delete('shop/web-2');
    for (const k of [...w.runtime.sandboxes.keys()]) if (k.includes('web-2')) w.runtime.sandboxes.delete(k);
    const code = await w.cli(attachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '-o', 'name']);
    expect(w.stdout()).toBe('pod/web-1\npod/web-3\n');
    expect(code, w.stderr()).toBe(3);
    expect(await w.cli(detachCommand, ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '-o', 'name'])).toBe(0);
    expect(w.stdout()).toBe('pod/web-1\npod/web-2\npod/web-3\n');
  });
  it('--netns: refused (a network namespace is no pod), nothing run', async () => {
    const w = world();
    for (const make of [attachCommand, detachCommand, checkCommand]) {
      expect(await w.cli(make, ['--netns', NETNS, '--ifname', 'eth1', '--conf', '-', '-o', 'name'])).toBe(2);
      expect(w.stderr()).toBe('error: -o name cannot be used with --netns: it prints pod/NAME of each pod acted on, and a bare network namespace is no pod (give -o json or yaml)\n');
    }
    expect(w.exec.calls).toHaveLength(0);
  });
});

describe('-A/--all-namespaces (kubectl label -A -l)', () => {
  const twoNamespaces = () => {
    const w = manyPods(2);
    w.kube.add(makePod({ name: 'web-9', namespace: 'other', uid: 'uid-9', labels: { app: 'web' } }));
    w.runtime.add('other', 'web-9', 'uid-9', { id: '9'.padStart(64, 'a'), pid: 5009, netnsPath: '/proc/5009/ns/net' });
    w.exec.netns.add('/proc/5009/ns/net');
    return w;
  };
  it('attach and detach -A -l: the matching pods of every namespace (one list of every namespace), not those of -n alone', async () => {
    const w = twoNamespaces();
    expect(await w.cli(attachCommand, ['-A', '-l', 'app=web', '--ifname', 'eth1', '--conf', '-', '-o', 'name']), w.stderr()).toBe(0);
    expect(w.stdout()).toBe('pod/web-1\npod/web-2\npod/web-9\n');
    expect(w.exec.calls.filter((c) => c.command === 'ADD').map((c) => c.env.CNI_NETNS).sort()).toEqual(['/proc/5001/ns/net', '/proc/5002/ns/net', '/proc/5009/ns/net']);
    expect(JSON.parse(w.kube.pods.get('other/web-9')!.metadata!.annotations![NETWORK_STATUS]!)).toEqual([expect.objectContaining({ interface: 'eth1' })]);
    // -n with -A: every namespace still (kubectl's -A wins over -n)
    expect(await w.cli(detachCommand, ['--all-namespaces', '-n', 'shop', '-l', 'app=web', '--ifname', 'eth1']), w.stderr()).toBe(0);
    expect(w.stdout()).toMatch(/^eth1 detached from 3 of 3 pods/);
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toHaveLength(3);
  });
  it('-A with a pod name: kubectl\'s refusal (attach, detach, check); -A without -l/--all: refused; -A --net NAME: refused; nothing run', async () => {
    const w = twoNamespaces();
    for (const make of [attachCommand, detachCommand, checkCommand]) {
      expect(await w.cli(make, ['web-1', '-A', '--ifname', 'eth1', '--conf', '-'])).toBe(2);
      expect(w.stderr()).toBe('error: a resource cannot be retrieved by name across all namespaces: give -n NAMESPACE with the pod, or -A without it\n');
    }
    for (const make of [attachCommand, detachCommand]) {
      expect(await w.cli(make, ['-A', '--ifname', 'eth1', '--conf', '-'])).toBe(2);
      expect(w.stderr()).toBe('error: -A needs -l SELECTOR or --all: which pods of every namespace? (kubectl label -A needs one too)\n');
    }
    expect(await w.cli(checkCommand, ['-A', '--ifname', 'eth1'])).toBe(2);
    expect(w.stderr()).toMatch(/^error: cni-check takes one pod \(or --netns PATH\) at a time, in one namespace \(-n\), not -A: `kubectl cni-list -A` lists/);
    expect(await w.cli(attachCommand, ['-A', '--all', '--ifname', 'eth1', '--net', 'mv'])).toBe(2);
    expect(w.stderr()).toMatch(/^error: --net mv with -A: give NAMESPACE\/NAME/);
    expect(await w.cli(attachCommand, ['--netns', NETNS, '-A', '--ifname', 'eth1', '--conf', '-'])).toBe(2);
    expect(w.stderr()).toMatch(/^error: -A\/--all-namespaces cannot be used with --netns/);
    expect(w.exec.calls).toHaveLength(0);
  });
});

describe('cni-check of a pod whose node holds nothing while the cluster still records it', () => {
  it('says the record (a cni-detach stopped after its DEL leaves it) with the cni-detach that removes it, exit 3 (tryout: only "nothing is attached")', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    // the DEL ran and the cache entry went; the detach was killed before it updated the cluster
    for (const k of [...w.exec.files.keys()]) if (k.includes('/results/')) w.exec.files.delete(k);
    expect(await w.cli(checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(3);
    expect(w.stderr()).toMatch(/^error: nothing is attached as eth1 in pod shop\/web-1 .*; the cluster still records eth1 of this pod attached since \S+Z on node node-1 \(a cni-detach stopped after its DEL ran leaves that\): `kubectl cni-detach web-1 -n shop --ifname eth1` removes that record and the pod's network-status entry$/m);
    // which it does
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.stderr()).toMatch(/removed its network-status entry and its record in the cluster, which an earlier detach left/);
    expect(await w.cli(checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(3);
    expect(w.stderr()).not.toMatch(/still records/);
  });
});

describe('cni-check of an interface gone from its sandbox, and its -o json when CHECK fails (tryout: the bridge\'s "Mac doesn\'t match" was said first; -o json printed nothing)', () => {
  const checkArgs = ['web-1', '-n', 'shop', '--ifname', 'eth1'];
  const gone = `error: eth1 in pod shop/web-1 is gone (\`kubectl cni-list web-1 -n shop\` shows it as interface gone): eth1 is not in the network namespace of sandbox ffffffffffff any more: deleted outside cni-attach (no DEL of ours was under way); its IPAM lease is still held: \`kubectl cni-detach web-1 -n shop --ifname eth1\` frees it; nothing to CHECK\n`;

  it('the cni-list it names works as pasted: the pod, its namespace and the flags the check was given that reach the cluster and the cache (it said `cni-list --node NODE`, which pasted lists the context\'s namespace: "No resources found in default namespace.")', async () => {
    const w = world();
    const flags = ['--cache-dir', '/tmp/my cache', '--context', 'kind-x', '--kubeconfig', '/k'];
    expect(await w.cli(attachCommand, [...attachArgs, ...flags])).toBe(0);
    w.exec.links.get(NETNS)!.delete('eth1');
    expect(await w.cli(checkCommand, [...checkArgs, ...flags])).toBe(3);
    expect(w.stderr()).toContain("eth1 in pod shop/web-1 is gone (`kubectl cni-list web-1 -n shop --kubeconfig /k --context kind-x --cache-dir '/tmp/my cache'` shows it as interface gone)");
    // pasted, it lists that row so
    expect(await w.cli(listCommand, ['web-1', '-n', 'shop', '--kubeconfig', '/k', '--context', 'kind-x', '--cache-dir', '/tmp/my cache', '-o', 'json']), w.stderr()).toBe(0);
    expect((JSON.parse(w.stdout()) as { items: { ifname: string; state: string }[] }).items).toEqual([expect.objectContaining({ ifname: 'eth1', state: 'interface gone' })]);
  });
  it('the link deleted in the sandbox: exit 3 in cni-list\'s words, no plugin CHECK run (also --dry-run); -o json/yaml print the failure', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    expect(await w.cli(checkCommand, checkArgs)).toBe(0);
    w.exec.links.get(NETNS)!.delete('eth1');
    w.exec.calls.length = 0;
    expect(await w.cli(checkCommand, checkArgs)).toBe(3);
    expect(w.stderr()).toBe(gone);
    expect(w.stdout()).toBe('');
    expect(await w.cli(checkCommand, [...checkArgs, '--dry-run'])).toBe(3);
    expect(w.stderr()).toBe(gone);
    expect(await w.cli(checkCommand, [...checkArgs, '-o', 'json'])).toBe(3);
    expect(JSON.parse(w.stdout())).toEqual({ ok: false, ifname: 'eth1', target: 'pod shop/web-1', error: gone.slice('error: '.length, -1), exitCode: 3, checked: [] });
    expect(await w.cli(checkCommand, [...checkArgs, '-o', 'yaml'])).toBe(3);
    expect(w.stdout()).toMatch(/^ok: false\nifname: eth1\ntarget: pod shop\/web-1\nerror: .*interface gone.*\nexitCode: 3\nchecked: \[\]\n$/s);
    expect(w.exec.calls.filter((c) => c.command === 'CHECK')).toEqual([]);
    // what cni-list says of it: the same words
    const { listCommand } = await import('../../src/cli/list.js');
    expect(await w.cli(listCommand, ['-n', 'shop', '-o', 'json'])).toBe(0);
    expect((JSON.parse(w.stdout()) as { items: { state: string; reason: string }[] }).items[0]).toMatchObject({ state: 'interface gone', reason: expect.stringContaining('eth1 is not in /proc/4242/ns/net any more: deleted outside cni-attach (no DEL of ours was under way)') });
  });

  it('the links the sandbox look-up read (a node\'s CRI look-up) decide without another command', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    w.runtime.add('shop', 'web-1', 'uid-1', { id: SANDBOX, pid: 4242, netnsPath: NETNS, links: ['lo', 'eth0'] });
    // (eth1 is still in the fake's namespace: only the look-up's links say it is gone)
    expect(await w.cli(checkCommand, checkArgs)).toBe(3);
    expect(w.stderr()).toBe(gone);
    // the look-up read it there: CHECK runs
    w.runtime.add('shop', 'web-1', 'uid-1', { id: SANDBOX, pid: 4242, netnsPath: NETNS, links: ['lo', 'eth0', 'eth1'] });
    expect(await w.cli(checkCommand, checkArgs)).toBe(0);
    expect(w.exec.calls.filter((c) => c.command === 'CHECK')).toHaveLength(1);
  });

  it('a plugin failing CHECK: -o json prints ok: false with the plugin\'s error and exit 1 (was: nothing on stdout)', async () => {
    const w = world();
    expect(await w.cli(attachCommand, attachArgs)).toBe(0);
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'CHECK' ? { code: 1, stdout: JSON.stringify({ cniVersion: '1.0.0', code: 999, msg: 'eth1 has no address 198.18.0.2' }) } : {}));
    for (const o of ['json', 'yaml']) {
      expect(await w.cli(checkCommand, [...checkArgs, '-o', o])).toBe(1);
      const printed = (o === 'json' ? JSON.parse(w.stdout()) : (await import('js-yaml')).load(w.stdout())) as Record<string, unknown>;
      expect(printed).toMatchObject({ ok: false, ifname: 'eth1', target: 'pod shop/web-1', exitCode: 1, checked: [] });
      expect(printed.error).toMatch(/^plugin bridge failed on CHECK \(CNI error 999\): eth1 has no address 198\.18\.0\.2/);
      expect(w.stderr()).toBe(`error: ${printed.error as string}\n`);
    }
    // ok: as before
    w.exec.addPlugin('/opt/cni/bin/bridge', () => ({}));
    expect(await w.cli(checkCommand, [...checkArgs, '-o', 'json'])).toBe(0);
    // the shape of a failure's too (tryout: only `checked` on success)
    expect(JSON.parse(w.stdout())).toEqual({ ok: true, ifname: 'eth1', target: 'pod shop/web-1', exitCode: 0, checked: [{ network: 'net', ifname: 'eth1', ok: true }] });
  });
});

describe('a 0.2.0 result without ip4 (tryout 7): taken as libcni takes it (types020.NewResult requires no field), printed as the plugin gave it', () => {
  it.each([
    ['ip6 alone', { cniVersion: '0.2.0', ip6: { ip: 'fd00::5/64' } }, '  eth1  fd00::5/64\n', 'fd00::5/64'],
    ['no address at all', { cniVersion: '0.2.0', dns: { nameservers: ['198.18.0.53'] } }, '  eth1  (no address)\n  dns 198.18.0.53\n', '<none>'],
  ])('%s: attach exit 0, -o json exactly the result, cni-list shows it attached, detach frees it', async (_what, result, lines, addresses) => {
    const w = world({ stdin: JSON.stringify({ cniVersion: '0.2.0', name: 'old', type: 'old' }) });
    w.exec.addPlugin('/opt/cni/bin/old', (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(result) } : {}), ['0.1.0', '0.2.0']);
    expect(await w.cli(attachCommand, attachArgs), w.stderr()).toBe(0);
    expect(w.stdout()).toBe(`eth1 attached to pod shop/web-1 (network old, node node-1, sandbox ffffffffffff)\n${lines}  network-status: old on eth1 recorded on the pod\n`);
    expect(await w.cli(listCommand, ['-n', 'shop', '--no-headers'])).toBe(0);
    expect(w.stdout()).toMatch(new RegExp(`^web-1\\s+eth1\\s+old\\s+${addresses.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+attached\\s`));
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(await w.cli(attachCommand, [...attachArgs, '-o', 'json'])).toBe(0);
    expect(JSON.parse(w.stdout())).toEqual(result);
  });
});
