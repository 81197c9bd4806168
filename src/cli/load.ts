/**
 * The one place the CLI loads code lazily (import()): each entry names the module it loads, so a reader — and
 * dependency-cruiser — sees which layer the CLI calls, and nothing below the CLI is evaluated before a command line
 * needs it. Start-up is why: `--help`, completion and a --netns attach never load the cluster and runtime clients
 * (@kubernetes/client-node alone costs ~350 ms to import), and the bundle (scripts/bundle.mjs) keeps each of these
 * an init function run on first use.
 *
 * It loads no module of cli/ (they import it: that would be a cycle); the one lazy import within cli/ is cni-attach's
 * `completion` subcommand loading completion.ts, which holds the other four programs.
 *
 * Vendor libraries below the CLI stay lazy where they are used: resolve/kube.ts imports client-node (./k8s-client.js)
 * and resolve/docker.ts imports dockerode when a pod path first needs them.
 */
export const load = {
  // cni/: the engine
  /** attach, detach, check and planAttach: the life of an attachment. */
  engine: () => import('../cni/attach.js'),
  /** collectGarbage: cni-gc's DELs and CNI GC. */
  gc: () => import('../cni/gc.js'),

  // resolve/: from a pod or netns to a sandbox and where to run
  netns: () => import('../resolve/netns.js'),
  pods: () => import('../resolve/pod.js'),
  networkStatus: () => import('../resolve/network-status.js'),
  /** the pod's Events (AddedInterface, RemovedInterface, FailedAddInterface) */
  events: () => import('../resolve/events.js'),
  attachmentState: () => import('../resolve/attachment-state.js'),
  kube: () => import('../resolve/kube.js'),
  docker: () => import('../resolve/docker.js'),
  kind: () => import('../resolve/kind.js'),
  agent: () => import('../resolve/agent.js'),

  // exec/: the executor of this host (execa)
  local: () => import('../exec/local.js'),

  // libraries
  yaml: () => import('js-yaml'),
  fs: () => import('node:fs/promises'),
};
