/** kubectl cni-detach: remove an interface that cni-attach (or cnitool) added, using the cached config and result. */
import { Command } from 'commander';
import { addTargetOptions, type CommonFlags } from './options.js';
import { defaultDeps, loadConf, prepare, type Deps } from './context.js';
import { formatData } from './output.js';
import { main, stdio } from './main.js';

interface DetachFlags extends CommonFlags {
  conf?: string;
}

export function detachCommand(deps: Deps = defaultDeps(stdio)): Command {
  const cmd = new Command('kubectl cni-detach')
    .description('Unplug an interface added by cni-attach: CNI DEL through the cached chain, then forget it.')
    .showHelpAfterError('(run with --help for usage)');
  addTargetOptions(cmd, false);
  cmd.addHelpText(
    'after',
    `
Examples:
  kubectl cni-detach --netns /var/run/netns/pod-a --ifname eth1
  kubectl cni-detach --netns /var/run/netns/gone --ifname eth1 --conf net.json   # DEL even without a cache entry

Detaching something that is not attached is not an error (exit 0 with a note), like rm -f.`,
  );
  cmd.action(async (flags: DetachFlags) => {
    const { netnsTarget } = await import('../target/netns.js');
    const exec = await deps.localExecutor();
    const p = prepare(flags, exec, deps);
    const list = flags.conf !== undefined ? await loadConf(flags.conf, deps) : undefined;
    const target = await netnsTarget(exec, flags.netns!, false);
    const engine = await import('../cni/attach.js');
    const done = await engine.detach(p.ctx, p.cache, {
      containerId: target.containerId,
      ifname: p.ifname,
      netns: target.netnsPath,
      describe: target.describe,
      cniArgs: p.extraArgs,
      ...(list ? { list } : {}),
    });
    if (flags.output !== 'summary') {
      deps.io.out(await formatData({ detached: done.map((d) => ({ network: d.network, ifname: p.ifname, containerId: target.containerId, interrupted: d.fromIntent })) }, flags.output));
      return;
    }
    if (done.length === 0) {
      deps.io.err(`note: nothing is attached as ${p.ifname} in ${target.describe} (no cache entry under ${p.cache.dir}/results); nothing to do\n`);
      return;
    }
    for (const d of done) {
      deps.io.out(`${p.ifname} detached from ${target.describe} (network ${d.network}${d.fromIntent ? ', an interrupted attach' : ''})\n`);
    }
  });
  return cmd;
}

export const run = (): Promise<never> => main(detachCommand());
