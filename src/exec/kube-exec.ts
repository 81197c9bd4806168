/**
 * The executor on a remote node, through a privileged agent pod on it (hostPID): every command goes through the
 * pods/exec API and `nsenter -t 1 -m -u -i -n -p` into the node's own namespaces, so the node's /opt/cni/bin, its IPAM
 * state, its /var/lib/cni and its network namespaces are used, as kubelet would use them.
 */
import type { RunOptions, RunResult } from './types.js';
import { ShellExecutor, StoppableRun } from './shell.js';

/** Into the node's own namespaces from the agent pod (hostPID): mount, UTS, IPC, network, pid. */
const NSENTER = ['nsenter', '-t', '1', '-m', '-u', '-i', '-n', '-p', '--'];

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

  /**
   * nsenter into the node, a clean environment with exactly env, and GNU timeout on the node for the limit. On the
   * user's signal while it runs, every process of the run is killed on the node (StoppableRun: pods/exec cannot signal
   * what it started; its mark is in the environment) and its end is waited for, at most about 5 s: the engine then
   * rolls back or keeps the record (RunResult.interrupted), with nothing of the run left running.
   */
  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    const stop = new StoppableRun((kill) => this.api.exec(this.namespace, this.pod, this.container, [...NSENTER, ...kill], ''));
    const env = [...Object.entries(opts.env ?? this.baseEnv()).map(([k, v]) => `${k}=${v}`), stop.mark];
    const secs = opts.timeoutMs !== undefined ? Math.max(1, Math.ceil(opts.timeoutMs / 1000)) : undefined;
    const limited = secs !== undefined ? ['timeout', '-s', 'KILL', `${secs}s`, ...argv] : argv;
    const command = [...NSENTER, 'env', '-i', ...env, ...limited];
    try {
      const ran = stop.track(this.api.exec(this.namespace, this.pod, this.container, command, opts.stdin ?? ''));
      const got = await Promise.race([ran.then((x) => ({ x })), stop.gaveUp]);
      if (!got) return { code: null, stdout: '', stderr: stop.mayStillRun(this.where), timedOut: false, interrupted: stop.stoppedBy! };
      const r = got.x;
      // 137 is 128 + SIGKILL: the kill (or timeout(1)) ended it
      if (stop.stoppedBy) return r.code === 137 ? { code: null, signal: 'SIGKILL', stdout: r.stdout, stderr: r.stderr, timedOut: false, interrupted: stop.stoppedBy } : { ...r, timedOut: false, interrupted: stop.stoppedBy };
      if (secs !== undefined && r.code === 137) return { code: null, signal: 'SIGKILL', stdout: r.stdout, stderr: r.stderr, timedOut: true };
      return { code: r.code, stdout: r.stdout, stderr: r.stderr, timedOut: false };
    } finally {
      stop.release();
    }
  }
}
