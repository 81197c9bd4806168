/**
 * The executor on a remote node, through a privileged agent pod on it (hostPID): every command goes through the
 * pods/exec API and `nsenter -t 1 -m -u -i -n -p` into the node's own namespaces, so the node's /opt/cni/bin, its IPAM
 * state, its /var/lib/cni and its network namespaces are used, as kubelet would use them.
 */
import type { RunOptions, RunResult } from './types.js';
import { ShellExecutor } from './shell.js';
import { whenInterrupted } from './interrupt.js';

/**
 * The one thing this executor needs of the cluster: run a command in a pod's container through pods/exec, with stdin,
 * and get its exit code and output (resolve/kube.ts's KubeApi implements it with client-node's Exec, on API servers
 * with v5.channel.k8s.io and on those with only v4: see execStdin there; the container needs sh and head for v4).
 */
export interface PodExec {
  exec(namespace: string, pod: string, container: string, command: string[], stdin: string): Promise<{ code: number; stdout: string; stderr: string }>;
}

export class KubeExecExecutor extends ShellExecutor {
  readonly where: string;

  constructor(
    private readonly api: PodExec,
    readonly namespace: string,
    readonly pod: string,
    readonly container: string,
    readonly node: string,
  ) {
    super();
    this.where = `node ${node} (through agent pod ${namespace}/${pod})`;
  }

  /** nsenter into the node, a clean environment with exactly env, and GNU timeout on the node for the limit. */
  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    const env = Object.entries(opts.env ?? this.baseEnv()).map(([k, v]) => `${k}=${v}`);
    const secs = opts.timeoutMs !== undefined ? Math.max(1, Math.ceil(opts.timeoutMs / 1000)) : undefined;
    const limited = secs !== undefined ? ['timeout', '-s', 'KILL', `${secs}s`, ...argv] : argv;
    const command = ['nsenter', '-t', '1', '-m', '-u', '-i', '-n', '-p', '--', 'env', '-i', ...env, ...limited];
    // the user's signal stops the wait (pods/exec cannot be killed from here; the agent pod, deleted at the end of the
    // command, takes what still runs in it along): the engine then rolls back or keeps the record (RunResult.interrupted)
    const stopped = whenInterrupted().then((sig) => ({ sig }));
    const got = await Promise.race([this.api.exec(this.namespace, this.pod, this.container, command, opts.stdin ?? '').then((x) => ({ x })), stopped]);
    if ('sig' in got) return { code: null, stdout: '', stderr: '', timedOut: false, interrupted: got.sig };
    const r = got.x;
    if (secs !== undefined && r.code === 137) return { code: null, signal: 'SIGKILL', stdout: r.stdout, stderr: r.stderr, timedOut: true };
    return { code: r.code, stdout: r.stdout, stderr: r.stderr, timedOut: false };
  }
}
