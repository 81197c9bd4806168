/** kubectl cni-attach: add an interface to a pod (or a bare network namespace) by running a CNI config's plugins. */
import { Command } from 'commander';
import { UnreachableError } from '../cni/errors.js';
import type { JsonObject } from '../cni/conf.js';
import { addCapabilityOptions, addTargetOptions, validateCidr, validateMac, type CommonFlags } from './options.js';
import { defaultDeps, prepare, type Deps } from './context.js';
import { formatData, planData, runAsShell, summaryLines } from './output.js';
import { connect, resolveConf, resolveNetns, resolvePod, targetKind } from './targets.js';
import { main, stdio } from './main.js';
import type { KubeApi } from '../target/kube.js';

interface AttachFlags extends CommonFlags {
  ip?: string[];
  mac?: string;
  dryRun?: boolean;
}

export function attachCommand(deps: Deps = defaultDeps(stdio)): Command {
  const cmd = new Command('kubectl cni-attach')
    .description('Hot-plug a network interface into a running pod (or a network namespace) by running CNI plugins (ADD).');
  addCapabilityOptions(addTargetOptions(cmd, { confRequired: true, annotate: true }));
  cmd.addHelpText(
    'after',
    `
Examples:
  kubectl cni-attach web-1 -n shop --ifname eth1 --conf net.json
  kubectl cni-attach web-1 -n shop --ifname net1 --net shop/macvlan-net
  kubectl cni-attach --netns /var/run/netns/pod-a --ifname eth1 --conf - < bridge.conflist -o json

The pod is read from the API; its sandbox (pause) container is found on this node through the runtime, and the
plugins run here against the sandbox's network namespace. kubectl passes only the flags after the plugin name.

Exit codes: 0 ok, 1 a plugin failed (rolled back), 2 bad usage or input, 3 target not found, 4 cluster/runtime unreachable.`,
  );
  cmd.action(async (podName: string | undefined, flags: AttachFlags) => {
    const kind = targetKind(podName, flags);
    const exec = await deps.localExecutor();
    const p = prepare(flags, exec, deps);
    const capabilityArgs: JsonObject = {};
    if (flags.ip?.length) capabilityArgs.ips = flags.ip.map(validateCidr);
    if (flags.mac !== undefined) capabilityArgs.mac = validateMac(flags.mac);

    let api: KubeApi | undefined;
    const getApi = async () => (api ??= await connect(flags, deps));
    const podNamespace = kind === 'pod' ? flags.namespace ?? (await getApi()).defaultNamespace : undefined;
    const conf = (await resolveConf(flags, deps, getApi, podNamespace, true))!;
    const pod = kind === 'pod' ? await resolvePod(flags, deps, await getApi(), exec, podName!) : undefined;
    const target = pod ?? (await resolveNetns(exec, flags.netns!, !flags.dryRun));

    const { podCniArgs } = await import('../target/pod.js');
    const { interfaceExists } = await import('../target/netns.js');
    const cniArgs: [string, string][] = [...(pod ? podCniArgs(pod.ref, pod.sandbox.id) : []), ...p.extraArgs];
    const rt = { containerId: target.containerId, netns: target.netnsPath, ifname: p.ifname, cniArgs, capabilityArgs };
    const engine = await import('../cni/attach.js');
    const req = {
      list: conf.list,
      rt,
      describe: target.describe,
      interfaceExists: () => interfaceExists(exec, target.netnsPath, p.ifname),
      reattachSame: !!pod,
    };

    if (flags.dryRun) {
      const runs = await engine.planAttach(p.ctx, req);
      const where = pod
        ? { pod: `${pod.ref.namespace}/${pod.ref.name}`, uid: pod.ref.uid, node: pod.node, runtime: pod.runtime, sandbox: pod.sandbox.id, pid: pod.sandbox.pid, netns: pod.netnsPath }
        : { netns: target.netnsPath, containerId: target.containerId };
      if (flags.output === 'summary') {
        deps.io.out(`# target: ${Object.entries(where).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
        deps.io.out(runs.map((r, i) => runAsShell(r, i, runs.length)).join('\n'));
      } else deps.io.out(await formatData({ target: where, runs: planData(runs) }, flags.output));
      return;
    }

    const done = await engine.attach(p.ctx, p.cache, req);
    let annotateError: Error | undefined;
    let annotated = false;
    if (pod && flags.annotate !== false) {
      const ns = await import('../target/network-status.js');
      const entry = ns.entryFromResult(conf.statusName, p.ifname, done.result);
      try {
        await (await getApi()).updatePodAnnotation(pod.ref.namespace, pod.ref.name, ns.NETWORK_STATUS, (cur) => ns.addEntry(cur, entry));
        annotated = true;
      } catch (e) {
        annotateError = e as Error;
      }
    }
    if (flags.output !== 'summary') deps.io.out(await formatData(done.result, flags.output));
    else {
      const how = done.already ? 'was already attached to' : 'attached to';
      const extra = pod ? `node ${pod.node}, sandbox ${pod.sandbox.id.slice(0, 12)}` : `container id ${target.containerId}`;
      deps.io.out(`${p.ifname} ${how} ${target.describe} (network ${conf.list.name}, ${extra})\n`);
      deps.io.out(`${summaryLines(done.result, p.ifname).join('\n')}\n`);
      if (annotated) deps.io.out(`  network-status: ${conf.statusName} on ${p.ifname} recorded on the pod\n`);
    }
    if (annotateError) {
      throw new UnreachableError(
        `${p.ifname} is attached, but the pod's network-status annotation could not be written (${annotateError.message}); run the same command again to retry, or cni-detach to undo`,
        { cause: annotateError },
      );
    }
  });
  return cmd;
}

export const run = (): Promise<never> => main(attachCommand());
