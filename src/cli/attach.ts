/** kubectl cni-attach: add an interface to a network namespace by running a CNI config's plugins. */
import { Command } from 'commander';
import { addCapabilityOptions, addTargetOptions, validateCidr, validateMac, type CommonFlags } from './options.js';
import { defaultDeps, loadConf, prepare, type Deps } from './context.js';
import { formatData, planData, runAsShell, summaryLines } from './output.js';
import { main, stdio } from './main.js';

interface AttachFlags extends CommonFlags {
  conf: string;
  ip?: string[];
  mac?: string;
  dryRun?: boolean;
}

export function attachCommand(deps: Deps = defaultDeps(stdio)): Command {
  const cmd = new Command('kubectl cni-attach')
    .description('Hot-plug a network interface into a network namespace by running CNI plugins (ADD).')
    .showHelpAfterError('(run with --help for usage)');
  addCapabilityOptions(addTargetOptions(cmd, true));
  cmd.addHelpText(
    'after',
    `
Examples:
  kubectl cni-attach --netns /var/run/netns/pod-a --ifname eth1 --conf net.json
  kubectl cni-attach --netns /proc/4242/ns/net --ifname net1 --conf - < bridge.conflist -o json

Exit codes: 0 ok, 1 a plugin failed (rolled back), 2 bad usage or input, 3 target not found, 4 unreachable.`,
  );
  cmd.action(async (flags: AttachFlags) => {
    const { netnsTarget, interfaceExists } = await import('../target/netns.js');
    const exec = await deps.localExecutor();
    const p = prepare(flags, exec, deps);
    const capabilityArgs: Record<string, unknown> = {};
    if (flags.ip?.length) capabilityArgs.ips = flags.ip.map(validateCidr);
    if (flags.mac !== undefined) capabilityArgs.mac = validateMac(flags.mac);
    const list = await loadConf(flags.conf, deps);
    const target = await netnsTarget(exec, flags.netns!, !flags.dryRun);
    const rt = { containerId: target.containerId, netns: target.netnsPath, ifname: p.ifname, cniArgs: p.extraArgs, capabilityArgs };
    const engine = await import('../cni/attach.js');
    const req = { list, rt, describe: target.describe, interfaceExists: () => interfaceExists(exec, target.netnsPath, p.ifname) };

    if (flags.dryRun) {
      const runs = await engine.planAttach(p.ctx, req);
      if (flags.output === 'summary') deps.io.out(runs.map((r, i) => runAsShell(r, i, runs.length)).join('\n'));
      else deps.io.out(await formatData(planData(runs), flags.output));
      return;
    }
    const done = await engine.attach(p.ctx, p.cache, req);
    if (flags.output !== 'summary') {
      deps.io.out(await formatData(done.result, flags.output));
      return;
    }
    deps.io.out(`${p.ifname} attached to ${target.describe} (network ${list.name}, container id ${target.containerId})\n`);
    deps.io.out(`${summaryLines(done.result, p.ifname).join('\n')}\n`);
  });
  return cmd;
}

export const run = (): Promise<never> => main(attachCommand());
