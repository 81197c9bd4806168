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
  // its ADD makes the link in the sandbox's namespace and its DEL removes it, as a real plugin does (cni-list and
  // cni-gc look for it: a link missing is "interface gone")
  exec.addPlugin('/opt/cni/bin/bridge', (c) => {
    const ns = c.env.CNI_NETNS;
    if (ns && c.command === 'ADD') exec.links.set(ns, new Set([...(exec.links.get(ns) ?? []), c.env.CNI_IFNAME!]));
    if (ns && c.command === 'DEL') exec.links.get(ns)?.delete(c.env.CNI_IFNAME!);
    return c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult(c.env.CNI_IFNAME!, NETNS)) } : {};
  });
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


/**
 * A world whose pods are shop/web-1 … web-N (label app=web, sandbox id N padded with a, pid 5000 + N) and shop/db-1
 * (app=db, no sandbox): for -l / --all.
 */
export function manyPods(n: number) {
  const w = world();
  w.kube.pods.clear();
  w.runtime.sandboxes.clear();
  for (let i = 1; i <= n; i++) {
    const uid = `uid-${i}`;
    w.kube.add(makePod({ name: `web-${i}`, namespace: 'shop', uid, labels: { app: 'web' } }));
    w.runtime.add('shop', `web-${i}`, uid, { id: `${i}`.padStart(64, 'a'), pid: 5000 + i, netnsPath: `/proc/${5000 + i}/ns/net` });
    w.exec.netns.add(`/proc/${5000 + i}/ns/net`);
  }
  w.kube.add(makePod({ name: 'db-1', namespace: 'shop', uid: 'uid-db', labels: { app: 'db' } }));
  return w;
}
