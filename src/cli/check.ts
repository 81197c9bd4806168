/** kubectl cni-check: CNI CHECK of an attachment through its cached chain. */
import { Command } from 'commander';
import { addTargetOptions, type CommonFlags } from './options.js';
import { defaultDeps, prepare, type Deps } from './context.js';
import { formatData } from './output.js';
import { connect, lookupPodFor, resolveConf, resolveNetns, targetKind } from './targets.js';
import { main, stdio } from './main.js';
import { NotFoundError } from '../errors.js';
import { load } from './load.js';

export function checkCommand(deps: Deps = defaultDeps(stdio)): Command {
  const cmd = new Command('kubectl cni-check')
    .description('Ask the plugins whether an attachment is still as they made it (CNI CHECK, config version 0.4.0 and later).');
  addTargetOptions(cmd, { confRequired: false, annotate: false });
  cmd.action(async (podName: string | undefined, flags: CommonFlags) => {
    const kind = targetKind(podName, flags);
    const exec = await deps.localExecutor();
    const p = prepare(flags, exec, deps);
    const api = kind === 'pod' ? await connect(flags, deps) : undefined;
    const conf = await resolveConf(flags, deps, async () => api!, api ? flags.namespace ?? api.defaultNamespace : undefined, false);
    const engine = await load.engine();
    let describe: string;
    let checked: string[];
    if (api) {
      const pod = await lookupPodFor(flags, deps, api, podName!);
      describe = pod.describe;
      if (pod.containerId === undefined) throw new NotFoundError(`${describe} has no running sandbox on this node: nothing to CHECK`);
      const { ctx, cache } = pod.executor ? p.on(pod.executor) : p;
      checked = await engine.check(ctx, cache, { containerId: pod.containerId, ifname: p.ifname, netns: pod.netns, describe, match: pod.match, ...(conf ? { list: conf.list } : {}) });
    } else {
      const target = await resolveNetns(exec, flags.netns!, true);
      describe = target.describe;
      checked = await engine.check(p.ctx, p.cache, { containerId: target.containerId, ifname: p.ifname, netns: target.netnsPath, describe, ...(conf ? { list: conf.list } : {}) });
    }
    if (flags.output !== 'summary') {
      deps.io.out(await formatData({ checked: checked.map((network) => ({ network, ifname: p.ifname, ok: true })) }, flags.output));
      return;
    }
    for (const n of checked) deps.io.out(`${p.ifname} in ${describe} (network ${n}): CHECK ok\n`);
  });
  return cmd;
}

export const run = (): Promise<never> => main(checkCommand());
