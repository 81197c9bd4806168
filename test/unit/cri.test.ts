import { describe, expect, it } from 'vitest';
import { CriSandboxes, jsonValues, namesPattern } from '../../src/resolve/cri.js';
import { NotFoundError, StoppedError, UnreachableError } from '../../src/errors.js';
import { FakeExecutor } from '../fakes/executor.js';

const pod = { namespace: 'shop', name: 'web-1', uid: 'uid-1', node: 'kind-worker' };

/** The labels the CRI plugin puts on a sandbox container (the look-up's listing filters on them). */
const criLabels = (name: string, namespace: string) => ({ 'io.cri-containerd.kind': 'sandbox', 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': namespace });

function node(tool: 'crictl' | 'ctr' | '') {
  return new FakeExecutor().emulateShell(tool);
}


/** A node's ctr for the sandboxes given (id → pod name, pod uid, task pid): all listed, all running, `containers info` of each. */
function fakeCtr(exec: ReturnType<typeof node>, sandboxes: Record<string, [string, string, number]>): void {
  exec.tools.set('ctr', (argv) => {
    if (argv[3] === 'containers' && argv[4] === 'list') return { stdout: Object.keys(sandboxes).map((id) => `${id}\n`).join('') };
    if (argv[3] === 'tasks') return { stdout: `TASK PID STATUS\n${Object.entries(sandboxes).map(([id, [, , pid]]) => `${id} ${pid} RUNNING\n`).join('')}` };
    const [name, uid] = sandboxes[argv[5]!]!;
    return { stdout: JSON.stringify({ Labels: { ...criLabels(name, 'shop'), 'io.kubernetes.pod.uid': uid }, Spec: {} }) };
  });
}
describe('CRI sandboxes through crictl', () => {
  const pods = (items: unknown[]) => ({ stdout: JSON.stringify({ items }) });
  const item = (id: string, uid: string, state = 'SANDBOX_READY', createdAt = '1') => ({ id, state, createdAt, metadata: { name: 'web-1', namespace: 'shop', uid } });

  it('takes the ready sandbox of this uid and the netns path from inspectp', async () => {
    const exec = node('crictl');
    exec.tools.set('crictl', (argv) =>
      argv[1] === 'pods'
        ? pods([item('old', 'uid-1', 'SANDBOX_NOTREADY', '1'), item('new', 'uid-1', 'SANDBOX_READY', '2')])
        : { stdout: JSON.stringify({ info: { pid: 77, runtimeSpec: { linux: { namespaces: [{ type: 'pid' }, { type: 'network', path: '/var/run/netns/cni-1234' }] } } } }) },
    );
    expect(await new CriSandboxes(exec).find(pod)).toEqual({ id: 'new', pid: 77, netnsPath: '/var/run/netns/cni-1234' });
    expect(exec.ran[1]).toEqual(['crictl', 'pods', '--namespace', 'shop', '--name', '^(web-1)$', '-o', 'json']);
    expect(exec.ran[2]).toEqual(['crictl', 'inspectp', '-o', 'json', 'new']);
  });
  it('falls back to /proc/PID/ns/net when the spec has no netns path', async () => {
    const exec = node('crictl');
    exec.tools.set('crictl', (argv) => (argv[1] === 'pods' ? pods([item('a', 'uid-1')]) : { stdout: JSON.stringify({ info: { pid: 91 } }) }));
    expect((await new CriSandboxes(exec).find(pod))!.netnsPath).toBe('/proc/91/ns/net');
  });
  it('refuses a sandbox of an earlier pod of that name', async () => {
    const exec = node('crictl');
    exec.tools.set('crictl', () => pods([item('a', 'uid-OLD')]));
    await expect(new CriSandboxes(exec).find(pod)).rejects.toThrow(/earlier pod of that name \(uid uid-OLD\)/);
  });
  it('says the sandbox is not ready', async () => {
    const exec = node('crictl');
    exec.tools.set('crictl', () => pods([item('a', 'uid-1', 'SANDBOX_NOTREADY')]));
    await expect(new CriSandboxes(exec).find(pod)).rejects.toThrow(NotFoundError);
  });
  it('no sandbox at all is undefined (not this runtime)', async () => {
    const exec = node('crictl');
    exec.tools.set('crictl', () => pods([]));
    expect(await new CriSandboxes(exec).find(pod)).toBeUndefined();
  });
  it('a failing crictl is an unreachable runtime (exit 4)', async () => {
    const exec = node('crictl');
    exec.tools.set('crictl', () => ({ code: 1, stderr: 'connect: connection refused' }));
    await expect(new CriSandboxes(exec).find(pod)).rejects.toThrow(UnreachableError);
  });
  it('a look-up the user\'s signal stopped is a stop (exit 130: nothing was changed), not an unreachable runtime (it was "cannot reach the CRI runtime … (sandbox look-up) failed: @cni-attach-lookup-… tasks", exit 4)', async () => {
    const exec = node('crictl');
    exec.run = async () => ({ code: 1, stdout: '', stderr: '@cni-attach-lookup-0a1b2c tasks\n', timedOut: false, interrupted: 'SIGINT' });
    const e = await new CriSandboxes(exec).find(pod).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StoppedError);
    expect((e as StoppedError).message).toBe(`stopped by SIGINT (Ctrl-C) during the sandbox look-up on ${exec.where}: nothing was changed`);
    expect((e as StoppedError).left).toBe('nothing');
  });
  it('lists sandboxes for gc', async () => {
    const exec = node('crictl');
    exec.tools.set('crictl', () => pods([item('a', 'uid-1'), item('b', 'uid-2', 'SANDBOX_NOTREADY')]));
    expect(await new CriSandboxes(exec).list()).toEqual([
      { id: 'a', running: true, namespace: 'shop', name: 'web-1', uid: 'uid-1' },
      { id: 'b', running: false, namespace: 'shop', name: 'web-1', uid: 'uid-2' },
    ]);
  });
});

describe('CRI sandboxes through ctr (no crictl)', () => {
  it('matches the labels, takes the running task pid', async () => {
    const exec = node('ctr');
    exec.tools.set('ctr', (argv) => {
      if (argv[3] === 'containers' && argv[4] === 'list') return { stdout: 'sb-old\nsb-1\n' };
      if (argv[3] === 'tasks') return { stdout: 'TASK     PID    STATUS\nsb-old   10     STOPPED\nsb-1     42     RUNNING\n' };
      const id = argv[5];
      return { stdout: JSON.stringify({ Labels: { ...criLabels('web-1', 'shop'), 'io.kubernetes.pod.uid': id === 'sb-1' ? 'uid-1' : 'uid-0' }, Spec: { linux: { namespaces: [{ type: 'network' }] } } }) };
    });
    expect(await new CriSandboxes(exec).find(pod)).toEqual({ id: 'sb-1', pid: 42, netnsPath: '/proc/42/ns/net' });
    expect(exec.ran[1]).toEqual([
      'ctr', '-n', 'k8s.io', 'containers', 'list', '-q',
      'labels."io.cri-containerd.kind"==sandbox,labels."io.kubernetes.pod.namespace"==shop,labels."io.kubernetes.pod.name"~="^(web-1)$"',
    ]);
  });
  it('neither crictl nor containerd here: a runtime that cannot be asked (exit 4)', async () => {
    const exec = node('');
    const cri = new CriSandboxes(exec);
    expect(await cri.available()).toBe(false);
    await expect(cri.find(pod)).rejects.toThrow(/no CRI runtime on fake node/);
    expect(await cri.list()).toEqual([]);
  });
});

describe('several pods in one look-up (a batch\'s pods on one node)', () => {
  const refs = ['web-1', 'web-2', 'web-3', 'web-4'].map((name, i) => ({ namespace: 'shop', name, uid: `uid-${i + 1}`, node: 'kind-worker' }));
  const inspect = (pid: number) => JSON.stringify({ status: {}, info: { pid, runtimeSpec: { linux: { namespaces: [{ type: 'network', path: `/var/run/netns/cni-${pid}` }] } } } }, null, 2);
  /** crictl with web-1, web-2 ready, web-3's sandbox not ready, web-4 none; `inspectp` of one id as crictl prints it. */
  function crictlNode(inspectFails = false) {
    const exec = node('crictl');
    const items = [
      { id: 'a', state: 'SANDBOX_READY', createdAt: '1', metadata: { name: 'web-1', namespace: 'shop', uid: 'uid-1' } },
      { id: 'b', state: 'SANDBOX_READY', createdAt: '1', metadata: { name: 'web-2', namespace: 'shop', uid: 'uid-2' } },
      { id: 'c', state: 'SANDBOX_NOTREADY', createdAt: '1', metadata: { name: 'web-3', namespace: 'shop', uid: 'uid-3' } },
      { id: 'z', state: 'SANDBOX_READY', createdAt: '1', metadata: { name: 'other', namespace: 'shop', uid: 'uid-z' } },
    ];
    exec.tools.set('crictl', (argv) => {
      if (argv[1] === 'pods') return { stdout: JSON.stringify({ items }) };
      const id = argv.at(-1)!;
      // the run of several ids at once fails (one of them went away meanwhile); a run of one id does not
      if (inspectFails && exec.ran.at(-1)!.length > 5) return { code: 1, stderr: 'sandbox went away' };
      const pid = { a: 101, b: 102 }[id]!;
      return { stdout: JSON.stringify({ ...JSON.parse(inspect(pid)), status: { id } }, null, 2) };
    });
    exec.files.set('/proc/101/net/dev', 'Inter-|\n face |\n    lo: 0\n  eth0: 0\n');
    exec.files.set('/proc/102/net/dev', 'Inter-|\n face |\n    lo: 0\n  eth0: 0\n  net1: 0\n');
    return exec;
  }

  it('crictl: one listing, one inspectp of the ready ones; each pod answered as when alone', async () => {
    const exec = crictlNode();
    const looked = await new CriSandboxes(exec).lookUp(refs);
    expect(await looked.answer(refs[0]!)).toEqual({ id: 'a', pid: 101, netnsPath: '/var/run/netns/cni-101', links: ['lo', 'eth0'] });
    expect(await looked.answer(refs[1]!)).toEqual({ id: 'b', pid: 102, netnsPath: '/var/run/netns/cni-102', links: ['lo', 'eth0', 'net1'] });
    await expect(looked.answer(refs[2]!)).rejects.toThrow('the sandbox of shop/web-3 on fake node is not ready');
    expect(await looked.answer(refs[3]!)).toBeUndefined();
    // the probe, then exactly two crictl runs for the four pods
    expect(exec.ran.slice(1)).toEqual([
      ['crictl', 'pods', '--namespace', 'shop', '--name', '^(web-1|web-2|web-3|web-4)$', '-o', 'json'],
      ['crictl', 'inspectp', '-o', 'json', 'a', 'b'],
    ]);
  });
  it('crictl: when inspecting several ids at once fails, each is inspected on its own', async () => {
    const exec = crictlNode(true);
    const looked = await new CriSandboxes(exec).lookUp(refs);
    expect((await looked.answer(refs[1]!))?.id).toBe('b');
    expect(exec.ran.filter((a) => a[1] === 'inspectp')).toEqual([['crictl', 'inspectp', '-o', 'json', 'a', 'b'], ['crictl', 'inspectp', '-o', 'json', 'b']]);
  });
  it('ctr: one listing of all the names, the task list, each sandbox\'s info; an earlier pod\'s sandbox refused for that pod only', async () => {
    const exec = node('ctr');
    fakeCtr(exec, { 'sb-1': ['web-1', 'uid-1', 41], 'sb-2': ['web-2', 'uid-OLD', 42] });
    const looked = await new CriSandboxes(exec).lookUp(refs.slice(0, 3));
    expect(await looked.answer(refs[0]!)).toEqual({ id: 'sb-1', pid: 41, netnsPath: '/proc/41/ns/net' });
    await expect(looked.answer(refs[1]!)).rejects.toThrow(/belong to an earlier pod of that name \(uid uid-OLD\), not to this one \(uid uid-2\)/);
    expect(await looked.answer(refs[2]!)).toBeUndefined();
    expect(exec.ran.slice(1).map((a) => a.slice(3, 6).join(' '))).toEqual(['containers list -q', 'tasks list', 'containers info sb-1', 'containers info sb-2']);
    expect(exec.ran[1]!.at(-1)).toBe('labels."io.cri-containerd.kind"==sandbox,labels."io.kubernetes.pod.namespace"==shop,labels."io.kubernetes.pod.name"~="^(web-1|web-2|web-3)$"');
  });
  it('ctr: a running sandbox\'s runtime spec from its bundle (the cwd of its task\'s parent, the shim) stands for its `containers info` when CRI\'s annotations name it and its pod', async () => {
    const exec = node('ctr');
    // sb-1: a spec of its own; sb-2: the spec its shim holds is another sandbox's (ctr asked); sb-3: a spec without the
    // pod's name (containerd before its annotations: the look-up's info is missing, so ctr is asked on its own)
    const annotated = (id: string, pod: string, uid: string, omit?: string) => JSON.stringify({
      annotations: Object.fromEntries(Object.entries({
        'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': id, 'io.kubernetes.cri.sandbox-name': pod,
        'io.kubernetes.cri.sandbox-namespace': 'shop', 'io.kubernetes.cri.sandbox-uid': uid,
      }).filter(([k]) => k !== omit)),
      linux: { namespaces: [{ type: 'network', path: `/var/run/netns/cni-${id}` }] },
    });
    exec.files.set('/proc/41/stat', '41 (pause) S 9041 41 41 0 -1');
    exec.files.set('/proc/9041/cwd/config.json', annotated('sb-1', 'web-1', 'uid-1'));
    exec.files.set('/proc/42/stat', '42 (a (b) c) S 9042 42 42 0 -1');
    exec.files.set('/proc/9042/cwd/config.json', annotated('sb-9', 'web-2', 'uid-2'));
    exec.files.set('/proc/43/stat', '43 (pause) S 9043 43 43 0 -1');
    exec.files.set('/proc/9043/cwd/config.json', annotated('sb-3', 'web-3', 'uid-3', 'io.kubernetes.cri.sandbox-name'));
    fakeCtr(exec, { 'sb-1': ['web-1', 'uid-1', 41], 'sb-2': ['web-2', 'uid-2', 42], 'sb-3': ['web-3', 'uid-3', 43] });
    const looked = await new CriSandboxes(exec).lookUp(refs.slice(0, 3));
    expect(await looked.answer(refs[0]!)).toEqual({ id: 'sb-1', pid: 41, netnsPath: '/var/run/netns/cni-sb-1' });
    expect(await looked.answer(refs[1]!)).toEqual({ id: 'sb-2', pid: 42, netnsPath: '/proc/42/ns/net' });
    expect(await looked.answer(refs[2]!)).toEqual({ id: 'sb-3', pid: 43, netnsPath: '/proc/43/ns/net' });
    expect(exec.ran.slice(1).map((a) => a.slice(3, 6).join(' '))).toEqual(['containers list -q', 'tasks list', 'containers info sb-2', 'containers info sb-3']);
    // sb-3's info came from a run of its own (the look-up held its spec, which lacks the pod's name)
    expect(exec.ran.filter((a) => a[5] === 'sb-3')).toHaveLength(1);
  });
});

describe('the look-up\'s runtime specs, read by one cat for the whole node (ctr)', () => {
  const refs = ['web-1', 'web-2'].map((name, i) => ({ namespace: 'shop', name, uid: `uid-${i + 1}`, node: 'n' }));
  const annotated = (id: string, pod: string, uid: string, extra: Record<string, string> = {}) => JSON.stringify({
    annotations: { 'io.kubernetes.cri.sandbox-id': id, 'io.kubernetes.cri.sandbox-name': pod, 'io.kubernetes.cri.sandbox-namespace': 'shop', 'io.kubernetes.cri.sandbox-uid': uid, ...extra },
    linux: { namespaces: [{ type: 'network', path: `/var/run/netns/cni-${id}` }] },
  });
  function ctrNode(specs: Record<number, string>) {
    const exec = node('ctr');
    for (const [pid, spec] of Object.entries(specs)) {
      exec.files.set(`/proc/${pid}/stat`, `${pid} (pause) S ${9000 + Number(pid)} ${pid} ${pid} 0 -1`);
      exec.files.set(`/proc/${9000 + Number(pid)}/cwd/config.json`, spec);
    }
    fakeCtr(exec, { 'sb-1': ['web-1', 'uid-1', 41], 'sb-2': ['web-2', 'uid-2', 42] });
    return exec;
  }
  it('each spec is taken for the sandbox its annotation names, whatever the order the files came in', async () => {
    // sb-1's shim holds sb-2's spec and the other way round: each still goes to the sandbox it names
    const exec = ctrNode({ 41: annotated('sb-2', 'web-2', 'uid-2'), 42: annotated('sb-1', 'web-1', 'uid-1') });
    const looked = await new CriSandboxes(exec).lookUp(refs.slice(0, 2));
    expect(await looked.answer(refs[0]!)).toEqual({ id: 'sb-1', pid: 41, netnsPath: '/var/run/netns/cni-sb-1' });
    expect(await looked.answer(refs[1]!)).toEqual({ id: 'sb-2', pid: 42, netnsPath: '/var/run/netns/cni-sb-2' });
    expect(exec.ran.filter((a) => a[3] === 'containers' && a[4] === 'info')).toEqual([]);
  });
  it('two different specs naming the same sandbox: neither is taken, ctr is asked for that one', async () => {
    const exec = ctrNode({ 41: annotated('sb-1', 'web-1', 'uid-1'), 42: annotated('sb-1', 'web-1', 'uid-1', { other: 'x' }) });
    const looked = await new CriSandboxes(exec).lookUp(refs.slice(0, 2));
    expect(await looked.answer(refs[0]!)).toEqual({ id: 'sb-1', pid: 41, netnsPath: '/proc/41/ns/net' });
    expect(await looked.answer(refs[1]!)).toEqual({ id: 'sb-2', pid: 42, netnsPath: '/proc/42/ns/net' });
    expect(exec.ran.filter((a) => a[4] === 'info').map((a) => a[5])).toEqual(['sb-1', 'sb-2']);
  });
  it('specs that are not JSON one after another (a file cut short): none is taken, each sandbox\'s info is asked on its own', async () => {
    const exec = ctrNode({ 41: annotated('sb-1', 'web-1', 'uid-1').slice(0, 40), 42: annotated('sb-2', 'web-2', 'uid-2') });
    const looked = await new CriSandboxes(exec).lookUp(refs.slice(0, 2));
    expect(await looked.answer(refs[0]!)).toEqual({ id: 'sb-1', pid: 41, netnsPath: '/proc/41/ns/net' });
    expect(await looked.answer(refs[1]!)).toEqual({ id: 'sb-2', pid: 42, netnsPath: '/proc/42/ns/net' });
    expect(exec.ran.filter((a) => a[4] === 'info').map((a) => a[5])).toEqual(['sb-1', 'sb-2']);
  });
});

describe('the look-up\'s helpers', () => {
  it('namesPattern: exactly these names, sorted and once each, the dots of DNS subdomains escaped without a backslash', () => {
    expect(namesPattern(['web-2', 'a.b.c', 'web-2'])).toBe('^(a[.]b[.]c|web-2)$');
    const re = new RegExp(namesPattern(['a.b', 'web-1']));
    expect(['a.b', 'web-1'].every((n) => re.test(n))).toBe(true);
    expect(['axb', 'web-10', 'xweb-1', 'a.b.c'].some((n) => re.test(n))).toBe(false);
  });
  it('jsonValues: one object, an array (crictl with several ids), or objects one after another (older crictl)', () => {
    expect(jsonValues('{"a":1}\n')).toEqual([{ a: 1 }]);
    expect(jsonValues('[\n  {"a": 1},\n  {"b": "}]{"}\n]\n')).toEqual([{ a: 1 }, { b: '}]{' }]);
    expect(jsonValues('{\n  "a": "x\\"}"\n}\n{\n  "b": 2\n}\n')).toEqual([{ a: 'x"}' }, { b: 2 }]);
    expect(() => jsonValues('{"a":1} oops')).toThrow(SyntaxError);
    expect(() => jsonValues('{"a":')).toThrow(SyntaxError);
  });
});
