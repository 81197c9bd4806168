/**
 * The executor on a remote node, through a privileged agent pod on it (hostPID): every command goes through the
 * pods/exec API and `nsenter -t 1 -m -u -i -n -p` into the node's own namespaces, so the node's /opt/cni/bin, its IPAM
 * state, its /var/lib/cni and its network namespaces are used, as kubelet would use them.
 */
import type { RunOptions, RunResult } from './types.js';
import { NODE_PATH, runStoppable, ShellExecutor } from './shell.js';
import { SESSION_GRACE_MS, type SessionCommand, SessionPool, type SessionTransport, viaSession } from './node-session.js';

/** Into the node's own namespaces from the agent pod (hostPID): mount, UTS, IPC, network, pid. */
const NSENTER = ['nsenter', '-t', '1', '-m', '-u', '-i', '-n', '-p', '--'];

/**
 * The one thing this executor needs of the cluster: run a command in a pod's container through pods/exec, with stdin,
 * and get its exit code and output (resolve/kube.ts's KubeApi implements it with client-node's Exec, on API servers
 * with v5.channel.k8s.io and on those with only v4: see execStdin there; the container needs sh and head for v4).
 */
export interface PodExec {
  exec(namespace: string, pod: string, container: string, command: string[], stdin: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /**
   * A pods/exec whose stdin stays open for as long as it runs (a node session, exec/node-session.ts): bytes written go
   * on channel 0 as they come, stdout comes back as it arrives. Optional: without it every command is an exec.
   */
  openExec?(namespace: string, pod: string, container: string, command: string[]): Promise<SessionTransport>;
}

export class KubeExecExecutor extends ShellExecutor {
  readonly where: string;
  readonly elsewhere: string;
  /** Long-lived execs carrying the commands (exec/node-session.ts), when the API client can keep stdin open. */
  readonly sessions: SessionPool | undefined;

  constructor(
    private readonly api: PodExec,
    readonly namespace: string,
    readonly pod: string,
    readonly container: string,
    readonly node: string,
  ) {
    super();
    this.where = `node ${node} (through agent pod ${namespace}/${pod})`;
    this.elsewhere = `node ${node}`;
    const open = api.openExec?.bind(api);
    this.sessions = open ? new SessionPool((argv) => open(namespace, pod, container, [...NSENTER, 'env', '-i', `PATH=${NODE_PATH}`, ...argv])) : undefined;
  }

  /**
   * One command: on a session when there is one (a request on an open stream), else as a pods/exec of its own — also
   * when a session cannot be opened or never came up (nothing of the command ran then).
   */
  private send(cmd: SessionCommand, timeoutMs: number | undefined, what: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const exec = (argv: string[]) => this.api.exec(this.namespace, this.pod, this.container, [...NSENTER, 'env', '-i', ...cmd.env, ...argv], cmd.stdin);
    return viaSession(this.sessions, this.where, cmd, exec, (timeoutMs ?? 0) + SESSION_GRACE_MS, what);
  }

  /**
   * nsenter into the node, a clean environment with exactly env, and GNU timeout on the node for the limit; stopped on
   * the node on the user's signal (see runStoppable: pods/exec cannot signal what it started).
   */
  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    const kill = (k: string[]) => this.api.exec(this.namespace, this.pod, this.container, [...NSENTER, ...k], '');
    return runStoppable(this.where, kill, (c, t, w) => this.send(c, t, w), argv, opts, this.baseEnv());
  }
}
