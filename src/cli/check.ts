/** kubectl cni-check: CNI CHECK of an attachment through its cached chain. */
import { Command } from 'commander';
import { addDryRunOption, addTargetOptions, refuseBulk, type CommonFlags } from './options.js';
import { defaultDeps, prepare, type Deps } from './context.js';
import { formatData, gcCommandLine, listCommandLine, nameLine, printPlan, reachArgs, shellQuote, waysOut } from './output.js';
import type { DetachRequest } from '../cni/attach.js';
import { connect, earlierPodsWords, lookupPodFor, podOf, podWhere, recordedCacheDirHint, recordLeftHint, recordedCniPath, recordsUnreadError, refuseIfAttaching, resolveConf, resolveNetns, sameNetnsAs, targetKind } from './targets.js';
import type { PodLookup } from '../resolve/pod.js';
import { cutBySignal, describeError, exitCodeOf, main, stdio } from './main.js';
import { NotFoundError, UsageError } from '../errors.js';
import { load } from './load.js';
import type { Executor } from '../exec/types.js';

/** The errors interfaceGoneCheck made (not "nothing to CHECK": no record or cache dir hint is added to them). */
const gone = new WeakSet<Error>();

/**
 * CHECK's look for an attached entry's interface in the namespace it went into (cni/attach.ts
 * DetachRequest.interfaceGone) — only for an interface the entry's cached result names in the sandbox
 * (resolve/attachment-state.ts namesSandboxInterface, as cni-list judges it; a 0.1.0/0.2.0 result, one without
 * `interfaces` or with none in the sandbox is never judged gone, and its CHECK runs): by `links`, the names the
 * sandbox look-up read there (no command), else one look in `netns` through `exec` (resolve/netns.ts
 * interfaceExists; one it cannot make says nothing: CHECK runs). Gone: a NotFoundError (exit 3, README "Exit codes")
 * in cni-list's words for `interface gone` (resolve/attachment-state.ts
 * interfaceGoneReason) and the cni-list that shows that state (`listing`: of a pod on another node, `cni-list --node
 * NODE`, which reads that node; plain cni-list judges other nodes by the cluster's records alone), naming `detach`,
 * the cni-detach that frees its lease — before, the plugin's CHECK answered
 * first with what it checks first (the bridge: "Mac doesn't match", its own MAC having changed with its ports).
 */
function interfaceGoneCheck(exec: Executor, links: string[] | undefined, netns: string, where: string, describe: string, detach: string, listing: string): NonNullable<DetachRequest['interfaceGone']> {
  return async (e) => {
    const { interfaceGoneReason, namesSandboxInterface } = await load.attachmentState();
    // only an interface the cached result names in the sandbox can be gone (as cni-list judges it)
    if (!namesSandboxInterface(e)) return undefined;
    const there = links ? links.includes(e.ifName) : await (await load.netns()).interfaceExists(exec, netns, e.ifName).catch((err: unknown) => {
      if (err instanceof UsageError) return undefined;
      throw err;
    });
    if (there !== false) return undefined;
    const err = new NotFoundError(`${e.ifName} in ${describe} is gone (\`${listing}\` shows it as interface gone): ${interfaceGoneReason(e.ifName, where, `\`${detach}\``)}; nothing to CHECK`);
    gone.add(err);
    return err;
  };
}

/**
 * PodLookup.netnsOf of a pod that is gone, whose CHECK finds the sandbox its entry went into gone too (resolve/pod.ts:
 * a NotFoundError, "what the cache holds of it is stale"): that error given its way out as the commands to paste —
 * `detach`, the cni-detach that frees its lease, or `gc`, the cni-gc that frees every such one (before, in words: "a
 * cni-detach of it, or cni-gc, frees its lease"), and none of the hints of a cache that holds nothing added (it holds
 * it: before, "the cluster still records … (a cni-detach stopped after its DEL ran leaves that)" came first). Other
 * errors as they are.
 */
function goneSandboxWayOut(netnsOf: NonNullable<PodLookup['netnsOf']>, detach: string, gc: string): NonNullable<PodLookup['netnsOf']> {
  return (e, command) =>
    netnsOf(e, command).catch((err: unknown) => {
      if (err instanceof NotFoundError && command === 'CHECK') {
        err.next = `\`${detach}\` frees its lease (or \`${gc}\`, which frees every such one)`;
        // the cache holds it: none of the hints of a cache that holds nothing (a record left by a stopped detach, …)
        gone.add(err);
      }
      throw err;
    });
}

/**
 * kubectl cni-check POD|--netns PATH --ifname NAME: what the record says, judged by cni-check itself, then the
 * plugins' CHECK. One rule for a network that sets `disableCheck` (CNI SPEC.md "Network Configuration Lists": the
 * runtime does not call CHECK; libcni CheckNetworkList returns nil without running a plugin): no plugin is asked (a
 * note on stderr; its line says `CHECK is not run for this network`, -o json `disableCheck: true`), but cni-check's own
 * look at the record is no plugin CHECK and counts as for any network — nothing attached, an attach interrupted, a
 * detach stopped, an interface gone (the states cni-list shows) are exit 3 alike; exit 0 says only that nothing
 * cni-check sees contradicts the record. Exit codes: the help text below (README "Exit codes").
 */
export function checkCommand(deps: Deps = defaultDeps(stdio)): Command {
  const cmd = new Command('kubectl cni-check')
    .description('Ask the plugins whether an attachment is still as they made it (CNI CHECK, config version 0.4.0 and later).');
  addTargetOptions(cmd, { confRequired: false, annotate: false });
  addDryRunOption(cmd, 'CHECK');
  cmd.addHelpText(
    'after',
    `
Examples:
  kubectl cni-check web-1 -n shop --ifname eth1
  kubectl cni-check --netns /var/run/netns/pod-a --ifname eth1

Exit codes: 0 every plugin answered CHECK ok (a network that sets disableCheck: no plugin asked, and nothing
cni-check itself sees contradicts its record); 1 a plugin failed CHECK (its error shown), or the interface is busy (an
attach or detach holds it: try again); 2 bad usage or input (also a config before 0.4.0, which has no CHECK); 3 target
not found, or nothing attached as --ifname (also an attach of it that was interrupted, or one the cluster records with
another --cache-dir: the message names it; an interface gone from its sandbox: cni-list's "interface gone"; and a
DEL of it a cni-detach or cni-gc began and did not finish: cni-list's "detach stopped", with the cni-detach that finishes it);
4 cluster/runtime unreachable; 128+signal (129 SIGHUP, 130 SIGINT, 143 SIGTERM): stopped by it (CHECK changes
nothing). -o json|yaml: a failure prints its result object too (ok: false, error, exitCode).`,
  );
  cmd.action(async (podName: string | undefined, given: CommonFlags) => {
    refuseBulk('cni-check', given, () => listCommandLine(given), podName);
    const kind = targetKind(podName, given, false); // one pod or --netns: refuseBulk above
    const exec = await deps.localExecutor();
    prepare(given, exec, deps, 'cni-check'); // the flags' own checks, before the cluster is asked
    const api = kind === 'pod' ? await connect(given, deps) : undefined;
    // no --cni-path: where its attach found the plugins (its record)
    const flags: CommonFlags = api ? { ...given, ...(await recordedCniPath(given, deps, api, podName!, 'cni-check')) } : given;
    const p = prepare(flags, exec, deps, 'cni-check');
    const conf = await resolveConf(flags, deps, async () => api!, api ? flags.namespace ?? api.defaultNamespace : undefined, false);
    const engine = await load.engine();
    const common = { ifname: p.ifname, cniArgs: p.extraArgs, argsGiven: flags.args !== undefined, ...(conf ? { list: conf.list } : {}) };
    let describe: string | undefined;
    // -o json|yaml: a check (or its dry run) that fails prints its result object too — ok: false, the error, the exit
    // code, as a batch's pod records do — and the command still exits with that code
    try {
      await checkIt();
    } catch (e) {
      // (-o name prints nothing for a pod not acted on, as kubectl's)
      if (flags.output !== 'summary' && flags.output !== 'name') {
        const as = cutBySignal(e) ?? e;
        deps.io.out(await formatData({ ok: false, ifname: p.ifname, ...(describe ? { target: describe } : {}), error: describeError(as), exitCode: exitCodeOf(as), checked: [] }, flags.output));
      }
      throw e;
    }
    async function checkIt(): Promise<void> {
      let where: Record<string, string> | undefined; // --netns: the dry-run's "# target:" fields, as cni-detach prints them (a pod's: podWhere)
      let req: DetachRequest;
      let on = p;
      let lookedUp: (PodLookup & { recordsUnread?: unknown }) | undefined;
      if (api) {
        // the cache entries of ifname and the plugins ride on the sandbox look-up, as detach's (cni/attach.ts readAhead)
        const ahead = (e: Executor) => {
          const on = p.on(e);
          engine.readAhead(on.ctx, on.cache, p.ifname);
        };
        const pod = await lookupPodFor(flags, deps, api, podName!, p.cache, flags.dryRun ? undefined : ahead);
        lookedUp = pod;
        describe = pod.describe;
        const ways = waysOut({ namespace: pod.namespace, name: pod.name }, p.ifname, flags);
        if (pod.podExists && pod.containerId === undefined) {
          // its sandbox died (a new one comes from its kubelet): what was attached to the old one is stale, not checkable
          const node = (await load.pods()).nodeWords(pod.node, deps.hostname());
          const { cache } = pod.executor ? p.on(pod.executor) : p;
          const held = (await cache.findWhere(p.ifname, pod.match)).length > 0;
          // nothing of its own, but an earlier pod's of that name (replaced since): which, whether its sandbox still
          // runs, and the cni-gc that frees it — not "nothing is attached" alone (a tryout's replaced pod)
          const earlier = held ? undefined : await earlierPodsWords(flags, deps, api, pod, cache, p.ifname);
          throw new NotFoundError(
            held
              ? `${describe} has no running sandbox on ${node}: nothing to CHECK; what the cache holds of ${p.ifname} for it was attached to a sandbox that is gone (its interface went with it, its IPAM lease is still held): \`${ways.detach}\` frees it`
              : earlier
                ? `${earlier}; nothing to CHECK`
                : `${describe} has no running sandbox on ${node}, and nothing is attached as ${p.ifname} in it (no cache entry under ${cache.named(`${cache.dir}/results`)}): nothing to CHECK`,
          );
        }
        if (pod.executor) on = { ...p, ...p.on(pod.executor) };
        // a pod that is gone: the sandbox of each entry is looked up on its node (PodLookup.netnsOf), CHECK runs in it
        // (a gone pod's sandbox gone too: its way out is the cni-detach that frees the lease, or cni-gc, as pasted)
        const netnsOf = pod.netnsOf && goneSandboxWayOut(pod.netnsOf, ways.detach, gcCommandLine(flags));
        req = { ...common, ...(pod.containerId !== undefined ? { containerId: pod.containerId } : {}), netns: pod.netns, describe, match: pod.match, ways, ...(netnsOf ? { netnsOf } : {}) };
        // its running sandbox: an interface gone from it is said as such, before its CHECK (the links its look-up read)
        if (pod.containerId !== undefined && pod.netns) {
          const sandbox = `the network namespace of sandbox ${pod.containerId.slice(0, 12)}${pod.node && pod.executor ? ` on node ${pod.node}` : ''}`;
          // the cni-list that shows it, as pasted: the pod in its namespace (a bare cni-list lists the context's
          // namespace: "No resources found"), the flags that reached the cluster and the cache (the user's own, not a
          // record's --cni-path), and --node for another node (a bare cni-list judges other nodes by the API alone)
          const listing = ['kubectl', 'cni-list', pod.name, '-n', pod.namespace, ...(pod.node && pod.executor ? ['--node', pod.node] : []), ...reachArgs(given, true)].map(shellQuote).join(' ');
          req.interfaceGone = interfaceGoneCheck(on.ctx.exec, pod.links, pod.netns, sandbox, describe, ways.detach, listing);
        }
      } else {
        const target = await resolveNetns(exec, flags.netns!, !flags.dryRun);
        describe = target.describe;
        where = { netns: target.netnsPath, containerId: target.containerId };
        req = {
          ...common, containerId: target.containerId, netns: target.netnsPath, describe,
          ways: waysOut({ netns: target.netnsPath }, p.ifname, flags),
          ...(sameNetnsAs(target) ? { sameNetns: sameNetnsAs(target)! } : {}),
          // (a bare namespace's attachment is listed by cni-list -A only, with this --cache-dir; --no-cluster: -A fails
          // where no cluster is configured, and the row needs none)
          ...(target.gone ? {} : { interfaceGone: interfaceGoneCheck(exec, undefined, target.netnsPath, `netns ${target.netnsPath}`, describe, waysOut({ netns: target.netnsPath }, p.ifname, flags).detach, ['kubectl', 'cni-list', '-A', '--no-cluster', ...reachArgs(given, false)].map(shellQuote).join(' ')) }),
        };
      }
      // the check and its dry run answer "nothing to CHECK" alike (the engine's refusals are shared: cni/attach.ts recordedFor)
      const nothing = async (e: unknown): Promise<never> => {
        // (a record the node holds — an interrupted attach, a detach stopped — is said as it is: no hint of another)
        if (engine.answersHeldRecord(e)) throw e;
        // a pod that is gone, nothing of it here, and the records that would name its node could not be read: not
        // known to be nothing (exit 4), as cni-detach answers it (before, exit 3 "nothing is attached")
        if (e instanceof NotFoundError && !gone.has(e) && lookedUp?.recordsUnread !== undefined) throw recordsUnreadError(p.ifname, describe!, on.cache, lookedUp.recordsUnread, flags);
        // nothing to CHECK on the node, while an attach of it is known to run (it has not reached the node yet): busy
        if (e instanceof NotFoundError && !gone.has(e) && lookedUp) await refuseIfAttaching(api!, flags, podOf(lookedUp), describe!);
        // nothing (to CHECK) in the cache dir given, while the pod's newest record names another: said, not used
        const hint = e instanceof NotFoundError && !gone.has(e) && lookedUp ? await recordedCacheDirHint(api!, flags, lookedUp.namespace, lookedUp.name, lookedUp.pod?.metadata?.uid, p.cache.dir, on.ctx.exec, 'cni-check') : undefined;
        if (hint) (e as Error).message += `; ${hint}`;
        // nothing in the cache dir read, while the cluster still records it there (a detach stopped after its DEL)
        const left = !hint && e instanceof NotFoundError && !gone.has(e) && lookedUp ? await recordLeftHint(api!, flags, lookedUp.namespace, lookedUp.name, lookedUp.pod?.metadata?.uid, p.cache.dir, req.ways?.detach ?? waysOut({ namespace: lookedUp.namespace, name: lookedUp.name }, p.ifname, flags).detach) : undefined;
        if (left) (e as Error).message += `; ${left}`;
        // nothing of this pod's, while an earlier pod of its name (replaced since) left one: said, with its cni-gc
        const earlier = !hint && !left && e instanceof NotFoundError && !gone.has(e) && lookedUp ? await earlierPodsWords(flags, deps, api!, lookedUp, on.cache, p.ifname, false) : undefined;
        if (earlier) (e as Error).message += `; ${earlier}`;
        throw e;
      };
      if (flags.dryRun) {
        const runs = await engine.planRecorded(on.ctx, on.cache, req, 'CHECK').catch(nothing);
        return printPlan(deps.io.out, flags.output, lookedUp ? podWhere(lookedUp) : where!, runs, on.ctx.exec);
      }
      const checked = await engine.check(on.ctx, on.cache, req).catch(nothing);
      if (flags.output === 'name' && lookedUp) {
        deps.io.out(nameLine(lookedUp.name));
        return;
      }
      if (flags.output !== 'summary') {
        // the same shape as a failure's (ok, ifname, target, exitCode): a script reads .ok either way (a tryout found
        // only `checked` on success)
        // (a network that sets disableCheck: `disableCheck: true`, no plugin asked)
        deps.io.out(await formatData({ ok: true, ifname: p.ifname, ...(describe ? { target: describe } : {}), exitCode: 0, checked: checked.map((c) => ({ network: c.network, ifname: p.ifname, ok: true, ...(c.disableCheck ? { disableCheck: true } : {}) })) }, flags.output));
        return;
      }
      for (const c of checked) deps.io.out(`${p.ifname} in ${describe} (network ${c.network}): ${c.disableCheck ? 'CHECK is not run for this network (it sets disableCheck); nothing cni-check sees contradicts its record' : 'CHECK ok'}\n`);
    }
  });
  return cmd;
}

export const run = (): Promise<never> => main(checkCommand());
