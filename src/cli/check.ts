/** kubectl cni-check: CNI CHECK of an attachment through its cached chain. */
import { Command } from 'commander';
import { addDryRunOption, addTargetOptions, refuseBulk, type CommonFlags } from './options.js';
import { defaultDeps, prepare, type Deps } from './context.js';
import { formatData, listCommandLine, printPlan, waysOut } from './output.js';
import type { DetachRequest } from '../cni/attach.js';
import { connect, lookupPodFor, podOf, recordedCacheDirHint, recordedCniPath, refuseIfAttaching, resolveConf, resolveNetns, sameNetnsAs, targetKind } from './targets.js';
import type { PodLookup } from '../resolve/pod.js';
import { main, stdio } from './main.js';
import { NotFoundError } from '../errors.js';
import { load } from './load.js';
import type { Executor } from '../exec/types.js';

export function checkCommand(deps: Deps = defaultDeps(stdio)): Command {
  const cmd = new Command('kubectl cni-check')
    .description('Ask the plugins whether an attachment is still as they made it (CNI CHECK, config version 0.4.0 and later).');
  addTargetOptions(cmd, { confRequired: false, annotate: false });
  addDryRunOption(cmd, 'CHECK');
  cmd.action(async (podName: string | undefined, given: CommonFlags) => {
    refuseBulk('cni-check', given, () => listCommandLine(given));
    const kind = targetKind(podName, given);
    const exec = await deps.localExecutor();
    prepare(given, exec, deps); // the flags' own checks, before the cluster is asked
    const api = kind === 'pod' ? await connect(given, deps) : undefined;
    // no --cni-path: where its attach found the plugins (its record)
    const flags: CommonFlags = api ? { ...given, ...(await recordedCniPath(given, deps, api, podName!, 'cni-check')) } : given;
    const p = prepare(flags, exec, deps);
    const conf = await resolveConf(flags, deps, async () => api!, api ? flags.namespace ?? api.defaultNamespace : undefined, false);
    const engine = await load.engine();
    const common = { ifname: p.ifname, cniArgs: p.extraArgs, argsGiven: flags.args !== undefined, ...(conf ? { list: conf.list } : {}) };
    let describe: string;
    let where: Record<string, string>; // the dry-run's "# target:" fields, the same as cni-detach prints
    let req: DetachRequest;
    let on = p;
    let lookedUp: PodLookup | undefined;
    if (api) {
      // the cache entries of ifname and the plugins ride on the sandbox look-up, as detach's (cni/attach.ts readAhead)
      const ahead = (e: Executor) => {
        const on = p.on(e);
        engine.readAhead(on.ctx, on.cache, p.ifname);
      };
      const pod = await lookupPodFor(flags, deps, api, podName!, p.cache, flags.dryRun ? undefined : ahead);
      lookedUp = pod;
      describe = pod.describe;
      where = { pod: `${pod.namespace}/${pod.name}`, ...(pod.executor?.elsewhere ? { node: pod.executor.elsewhere.replace(/^node /, '') } : {}), netns: pod.netns || '(none)' };
      if (pod.containerId === undefined) throw new NotFoundError(`${describe} has no running sandbox on this node: nothing to CHECK`);
      if (pod.executor) on = { ...p, ...p.on(pod.executor) };
      req = { ...common, containerId: pod.containerId, netns: pod.netns, describe, match: pod.match, ways: waysOut({ namespace: pod.namespace, name: pod.name }, p.ifname, flags) };
    } else {
      const target = await resolveNetns(exec, flags.netns!, !flags.dryRun);
      describe = target.describe;
      where = { netns: target.netnsPath, containerId: target.containerId };
      req = {
        ...common, containerId: target.containerId, netns: target.netnsPath, describe,
        ways: waysOut({ netns: target.netnsPath }, p.ifname, flags),
    ...(sameNetnsAs(target) ? { sameNetns: sameNetnsAs(target)! } : {}),
      };
    }
    // the check and its dry run answer "nothing to CHECK" alike (the engine's refusals are shared: cni/attach.ts recordedFor)
    const nothing = async (e: unknown): Promise<never> => {
      // nothing to CHECK on the node, while an attach of it is known to run (it has not reached the node yet): busy
      if (e instanceof NotFoundError && lookedUp) await refuseIfAttaching(api!, flags, podOf(lookedUp), describe);
      // nothing (to CHECK) in the cache dir given, while the pod's newest record names another: said, not used
      const hint = e instanceof NotFoundError && lookedUp ? await recordedCacheDirHint(api!, flags, lookedUp.namespace, lookedUp.name, lookedUp.pod?.metadata?.uid, p.cache.dir, on.ctx.exec) : undefined;
      if (hint) (e as Error).message += `; ${hint}`;
      throw e;
    };
    if (flags.dryRun) {
      const runs = await engine.planRecorded(on.ctx, on.cache, req, 'CHECK').catch(nothing);
      return printPlan(deps.io.out, flags.output, where, runs, on.ctx.exec);
    }
    const checked = await engine.check(on.ctx, on.cache, req).catch(nothing);
    if (flags.output !== 'summary') {
      deps.io.out(await formatData({ checked: checked.map((network) => ({ network, ifname: p.ifname, ok: true })) }, flags.output));
      return;
    }
    for (const n of checked) deps.io.out(`${p.ifname} in ${describe} (network ${n}): CHECK ok\n`);
  });
  return cmd;
}

export const run = (): Promise<never> => main(checkCommand());
