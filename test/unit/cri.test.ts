import { describe, expect, it } from 'vitest';
import { CriSandboxes } from '../../src/resolve/cri.js';
import { NotFoundError, UnreachableError } from '../../src/errors.js';
import { FakeExecutor } from '../fakes/executor.js';

const pod = { namespace: 'shop', name: 'web-1', uid: 'uid-1', node: 'kind-worker' };

function node(tool: 'crictl' | 'ctr' | '') {
  return new FakeExecutor().emulateShell(tool);
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
    expect(exec.ran[1]).toEqual(['crictl', 'pods', '--namespace', 'shop', '--name', '^web-1$', '-o', 'json']);
    expect(exec.ran[2]).toEqual(['crictl', 'inspectp', 'new']);
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
      return { stdout: JSON.stringify({ Labels: { 'io.kubernetes.pod.uid': id === 'sb-1' ? 'uid-1' : 'uid-0' }, Spec: { linux: { namespaces: [{ type: 'network' }] } } }) };
    });
    expect(await new CriSandboxes(exec).find(pod)).toEqual({ id: 'sb-1', pid: 42, netnsPath: '/proc/42/ns/net' });
    expect(exec.ran[1]).toEqual([
      'ctr', '-n', 'k8s.io', 'containers', 'list', '-q',
      'labels."io.cri-containerd.kind"==sandbox,labels."io.kubernetes.pod.name"==web-1,labels."io.kubernetes.pod.namespace"==shop',
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
