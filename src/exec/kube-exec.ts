/**
 * The executor on a remote node, through a privileged agent pod on it (hostPID): every command goes through the
 * pods/exec API and `nsenter -t 1 -m -u -i -n -p` into the node's own namespaces, so the node's /opt/cni/bin, its IPAM
 * state, its /var/lib/cni and its network namespaces are used, as kubelet would use them.
 */
import { ApiStatusError, UnreachableError } from '../errors.js';
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
  where: string;
  readonly elsewhere: string;
  /** Long-lived execs carrying the commands (exec/node-session.ts), when the API client can keep stdin open. */
  sessions: SessionPool | undefined;
  /**
   * Makes a new agent pod on the node in place of `gone` and answers its name (resolve/agent.ts), for a pod deleted
   * while the command runs (a pods/exec answered 404): used once per executor, then the 404 is the command's error.
   */
  renew?: (gone: string) => Promise<string>;
  private renewing: Promise<void> | undefined;
  /** Commands sent and not answered yet. */
  private inFlight = 0;
  /**
   * Set once a command was lost after it was sent (it may have run, or still run on the node): then no new agent is
   * made, and nothing is sent through one — the engine's steps after such a loss (its lock's release) must not reach
   * the node while what the lost command started may still run there (they wait for the lock's time limit).
   */
  private doubtful = false;

  constructor(
    private readonly api: PodExec,
    readonly namespace: string,
    public pod: string,
    readonly container: string,
    readonly node: string,
  ) {
    super();
    this.where = '';
    this.elsewhere = `node ${node}`;
    this.usePod(pod);
  }

  private usePod(pod: string): void {
    this.pod = pod;
    this.where = `node ${this.node} (through agent pod ${this.namespace}/${pod})`;
    const open = this.api.openExec?.bind(this.api);
    this.sessions = open ? new SessionPool((argv) => open(this.namespace, pod, this.container, [...NSENTER, 'env', '-i', `PATH=${NODE_PATH}`, ...argv])) : undefined;
  }

  /**
   * One command: on a session when there is one (a request on an open stream), else as a pods/exec of its own — also
   * when a session cannot be opened or never came up (nothing of the command ran then). An agent pod deleted under
   * the command (its pods/exec answered 404: nothing of the command reached the node) is made anew once (renew), and
   * the command sent to the new one: safe, as nothing of it ran.
   */
  private async send(cmd: SessionCommand, timeoutMs: number | undefined, what: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const once = () => {
      const pod = this.pod;
      const exec = (argv: string[]) => this.api.exec(this.namespace, pod, this.container, [...NSENTER, 'env', '-i', ...cmd.env, ...argv], cmd.stdin);
      return viaSession(this.sessions, this.where, cmd, exec, (timeoutMs ?? 0) + SESSION_GRACE_MS, what);
    };
    const pod = this.pod;
    this.inFlight++;
    try {
      return await once();
    } catch (e) {
      if (e instanceof UnreachableError && !e.notSent) this.doubtful = true;
      if (!(e instanceof ApiStatusError && e.status === 404 && e.notSent) || !this.renew) throw e;
      // the first command to meet the deleted pod makes the new one, once the others sent to it have ended (one of
      // them lost after it was sent: none); those meeting it meanwhile wait for it
      this.inFlight--;
      while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 20));
      this.inFlight++;
      if (this.doubtful) throw e;
      if (this.pod === pod) {
        if (this.renewing) throw e; // renewed once already, and that one is gone too
        const renew = this.renew;
        this.renewing = renew(pod).then((name) => this.usePod(name));
      }
      try {
        await this.renewing;
      } catch (r) {
        e.message += `; a new agent pod could not be made: ${(r as Error).message}`;
        throw e;
      }
      return await once();
    } finally {
      this.inFlight--;
    }
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
