/** kubectl cni-check: CNI CHECK of an attachment through its cached chain. */
import { Command } from 'commander';
import { addTargetOptions, type CommonFlags } from './options.js';
import { defaultDeps, loadConf, prepare, type Deps } from './context.js';
import { formatData } from './output.js';
import { main, stdio } from './main.js';

interface CheckFlags extends CommonFlags {
  conf?: string;
}

export function checkCommand(deps: Deps = defaultDeps(stdio)): Command {
  const cmd = new Command('kubectl cni-check')
    .description('Ask the plugins whether an attachment is still as they made it (CNI CHECK, config version 0.4.0 and later).')
    .showHelpAfterError('(run with --help for usage)');
  addTargetOptions(cmd, false);
  cmd.action(async (flags: CheckFlags) => {
    const { netnsTarget } = await import('../target/netns.js');
    const exec = await deps.localExecutor();
    const p = prepare(flags, exec, deps);
    const list = flags.conf !== undefined ? await loadConf(flags.conf, deps) : undefined;
    const target = await netnsTarget(exec, flags.netns!, true);
    const engine = await import('../cni/attach.js');
    const checked = await engine.check(p.ctx, p.cache, {
      containerId: target.containerId,
      ifname: p.ifname,
      netns: target.netnsPath,
      describe: target.describe,
      ...(list ? { list } : {}),
    });
    if (flags.output !== 'summary') {
      deps.io.out(await formatData({ checked: checked.map((network) => ({ network, ifname: p.ifname, ok: true })) }, flags.output));
      return;
    }
    for (const n of checked) deps.io.out(`${p.ifname} in ${target.describe} (network ${n}): CHECK ok\n`);
  });
  return cmd;
}

export const run = (): Promise<never> => main(checkCommand());
