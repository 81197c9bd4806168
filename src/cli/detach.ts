/** kubectl cni-detach: remove an interface that cni-attach (or cnitool) added, using the cached config and result. */
import { Command } from 'commander';
import { addTargetOptions, type CommonFlags } from './options.js';
import { defaultDeps, prepare, type Deps } from './context.js';
import { formatData } from './output.js';
import { connect, lookupPod, resolveConf, resolveNetns, targetKind } from './targets.js';
import { main, stdio } from './main.js';
import { UnreachableError } from '../cni/errors.js';

export function detachCommand(deps: Deps = defaultDeps(stdio)): Command {
  const cmd = new Command('kubectl cni-detach')
    .description('Unplug an interface added by cni-attach: CNI DEL through the cached chain, then forget it.');
  addTargetOptions(cmd, { confRequired: false, annotate: true });
  cmd.addHelpText(
    'after',
    `
Examples:
  kubectl cni-detach web-1 -n shop --ifname eth1
  kubectl cni-detach --netns /var/run/netns/pod-a --ifname eth1
  kubectl cni-detach --netns /var/run/netns/gone --ifname eth1 --conf net.json   # DEL even without a cache entry

The config and the result of the ADD come from the cache, so no --conf is needed. A pod whose sandbox (or the pod
itself) is gone can still be detached: DEL runs without a network namespace and frees the IPAM lease.
Detaching something that is not attached is not an error (exit 0 with a note), like rm -f.`,
  );
  cmd.action(async (podName: string | undefined, flags: CommonFlags) => {
    const kind = targetKind(podName, flags);
    const exec = await deps.localExecutor();
    const p = prepare(flags, exec, deps);
    const api = kind === 'pod' ? await connect(flags, deps) : undefined;
    const conf = await resolveConf(flags, deps, async () => api!, api ? flags.namespace ?? api.defaultNamespace : undefined, false);
    const engine = await import('../cni/attach.js');

    let describe: string;
    let podLookup;
    let done;
    if (api) {
      podLookup = await lookupPod(flags, deps, api, podName!);
      describe = podLookup.describe;
      done = await engine.detach(p.ctx, p.cache, {
        ifname: p.ifname,
        describe,
        ...(podLookup.containerId !== undefined ? { containerId: podLookup.containerId } : {}),
        match: podLookup.match,
        netns: podLookup.netns,
        ...(conf ? { list: conf.list } : {}),
        cniArgs: p.extraArgs,
      });
    } else {
      const target = await resolveNetns(exec, flags.netns!, false);
      describe = target.describe;
      done = await engine.detach(p.ctx, p.cache, {
        containerId: target.containerId,
        ifname: p.ifname,
        netns: target.netnsPath,
        describe,
        cniArgs: p.extraArgs,
        ...(conf ? { list: conf.list } : {}),
      });
    }

    let annotateError: Error | undefined;
    if (api && podLookup?.podExists && flags.annotate !== false) {
      const ns = await import('../target/network-status.js');
      try {
        await api.updatePodAnnotation(podLookup.namespace, podLookup.name, ns.NETWORK_STATUS, (cur) => ns.removeEntry(cur, p.ifname));
      } catch (e) {
        annotateError = e as Error;
      }
    } else if (api && podLookup && !podLookup.podExists && flags.annotate !== false) {
      deps.io.err('note: the pod is gone, so there is no network-status annotation to update\n');
    }

    if (flags.output !== 'summary') {
      deps.io.out(await formatData({ detached: done.map((d) => ({ network: d.network, ifname: p.ifname, containerId: d.containerId, interrupted: d.fromIntent, recorded: !d.uncached })) }, flags.output));
    } else if (done.length === 0) {
      deps.io.err(`note: nothing is attached as ${p.ifname} in ${describe} (no cache entry under ${p.cache.dir}/results); nothing to do\n`);
    } else {
      for (const d of done) {
        if (d.uncached) {
          deps.io.out(`nothing was recorded for ${p.ifname} in ${describe}; ran DEL of network ${d.network} anyway (DEL is idempotent)\n`);
        } else {
          deps.io.out(`${p.ifname} detached from ${describe} (network ${d.network}${d.fromIntent ? ', an interrupted attach' : ''})\n`);
        }
      }
    }
    if (annotateError) {
      throw new UnreachableError(`${p.ifname} is detached, but the pod's network-status annotation could not be updated (${annotateError.message}); run the same command again to retry`, { cause: annotateError });
    }
  });
  return cmd;
}

export const run = (): Promise<never> => main(detachCommand());
