/** A node with one pod (shop/web-1, sandbox SANDBOX at NETNS) behind fakes at every port, and a way to run the CLIs on it. */
import type { Command } from 'commander';
import { runProgram } from '../../src/cli/main.js';
import type { Deps } from '../../src/cli/context.js';
import { NETWORK_STATUS } from '../../src/resolve/network-status.js';
import { bridgeResult, FakeExecutor } from './executor.js';
import { FakeKube, FakeRuntime, makePod } from './kube.js';

export const SANDBOX = 'f'.repeat(64);
export const NETNS = '/proc/4242/ns/net';
const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' });

export function world(opts: { stdin?: string } = {}) {
  const exec = new FakeExecutor();
  exec.netns.add(NETNS);
  exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult(c.env.CNI_IFNAME!, NETNS)) } : {}));
  const kube = new FakeKube('shop');
  const pod = kube.add(makePod({ name: 'web-1', namespace: 'shop', uid: 'uid-1', node: 'node-1', annotations: { [NETWORK_STATUS]: JSON.stringify([{ name: 'kindnet', interface: 'eth0', default: true }]) } }));
  const runtime = new FakeRuntime();
  runtime.add('shop', 'web-1', 'uid-1', { id: SANDBOX, pid: 4242, netnsPath: NETNS });
  const out: string[] = [];
  const err: string[] = [];
  const kubeCalls: unknown[] = [];
  const deps: Deps = {
    io: { out: (s) => void out.push(s), err: (s) => void err.push(s) },
    localExecutor: async () => exec,
    kube: async (o) => (kubeCalls.push(o), kube),
    runtimes: async () => [runtime],
    hostname: () => 'node-1',
    readStdin: async () => opts.stdin ?? conf,
    env: {},
  };
  const cli = async (make: (d: Deps) => Command, args: string[]) => {
    out.length = 0;
    err.length = 0;
    return runProgram(make(deps), args, deps.io);
  };
  return { exec, kube, pod, runtime, deps, cli, kubeCalls, stdout: () => out.join(''), stderr: () => err.join('') };
}

