/**
 * What a stop prints around the user's signals, where the words depend on the process's state (exec/interrupt.ts: a
 * change under way, one ever begun, a quit begun): each test loads the modules afresh (vi.resetModules), since a
 * signal, once received, is the process's for good.
 */
import { describe, expect, it, vi } from 'vitest';

describe('the note on the second signal (quitNote)', () => {
  it('says "what was being changed stays as it is" only while a change is under way; else that nothing was being changed (before: the same words whatever ran)', async () => {
    vi.resetModules();
    const m = await import('../../src/cli/main.js');
    const i = await import('../../src/exec/interrupt.js');
    // nothing ever began: nothing was changed
    expect(m.quitNote('SIGINT')).toBe('SIGINT again: quitting now; nothing was being changed: nothing was changed');
    const release = i.hold();
    expect(m.quitNote('SIGINT')).toBe('SIGINT again: quitting now; what was being changed stays as it is, recorded where it was (cni-list shows it with the command that clears it)');
    release();
    // a change was made and ended: it stands
    expect(m.quitNote('SIGTERM')).toBe('SIGTERM again: quitting now; nothing was being changed (what was changed before stands, as printed)');
  });
  it('a batch\'s frame (holdBatch) is no change by itself: its pods in flight are named, none in flight is "nothing was being changed" (before: the frame was a hold, "what was being changed stays as it is" whatever ran)', async () => {
    vi.resetModules();
    const m = await import('../../src/cli/main.js');
    const i = await import('../../src/exec/interrupt.js');
    let inFlight: string[] = [];
    const frame = i.holdBatch();
    const pods = i.holdBatch(() => inFlight);
    expect(m.quitNote('SIGINT')).toBe('SIGINT again: quitting now; nothing was being changed: nothing was changed');
    inFlight = ['shop/web-1', 'shop/web-2', 'shop/web-3', 'shop/web-4', 'shop/web-5', 'shop/web-6', 'shop/web-7'];
    expect(m.quitNote('SIGINT')).toBe('SIGINT again: quitting now; 7 pods were being changed (shop/web-1, shop/web-2, shop/web-3, shop/web-4, shop/web-5, … and 2 more): each stays as the quit leaves them, recorded where they were (the summary counts them unknown, with the cni-list that tells)');
    // a pod's change under its own hold (the engine's, under its lock) ended; none in flight
    i.hold()();
    inFlight = [];
    expect(m.quitNote('SIGTERM')).toBe('SIGTERM again: quitting now; nothing was being changed (what was changed before stands, as printed)');
    pods();
    frame();
    // the frames still count for the first signal: something winds down by itself (the batch's own end)
    expect(i.heldOnce()).toBe(true);
  });
  it('the last line of a command the signal reached after its work: exit 0, and why', async () => {
    const m = await import('../../src/cli/main.js');
    expect(m.cameAfterNote('SIGINT')).toBe('note: SIGINT came after the work was done: it stands, as printed (nothing was left to stop, so the exit code is 0)');
  });
});

describe('a batch quit by a second signal: what the quit cut is unknown (cli/bulk.ts forEachPod)', () => {
  it('a pod whose run fails after the quit began (its session torn down) is unknown, with no "failed" line; a pod done before stays done', async () => {
    vi.resetModules();
    const { forEachPod } = await import('../../src/cli/bulk.js');
    const i = await import('../../src/exec/interrupt.js');
    const { UnreachableError } = await import('../../src/errors.js');
    const { makePod } = await import('../fakes/kube.js');
    const pods = ['web-1', 'web-2', 'web-3'].map((name, n) => makePod({ name, namespace: 'shop', uid: `uid-${n}`, node: 'node-a' }));
    let err = '';
    const io = { out: () => undefined, err: (s: string) => void (err += s) };
    let tearDown: () => void = () => undefined;
    const torn = new Promise<void>((r) => (tearDown = r));
    const run = forEachPod(pods, 2, io, async (pod) => {
      if (pod.metadata?.name === 'web-1') return 'attached';
      await torn;
      throw new UnreachableError(`cannot reach node node-a (through agent pod kube-system/cni-attach-agent-x): the session was torn down`);
    }, (v) => v);
    // web-1 done; web-2 and web-3 in flight (web-3 began when web-1 ended); then the first signal, the second (the quit begins), and its teardown
    await new Promise((r) => setTimeout(r, 10));
    i.interrupt('SIGINT');
    i.beginQuit();
    tearDown();
    const outcomes = await run;
    expect(outcomes.map((o) => [o.pod, o.state])).toEqual([['shop/web-1', 'done'], ['shop/web-2', 'unknown'], ['shop/web-3', 'unknown']]);
    expect(outcomes[1]!.error).toBe('quit by a second SIGINT (Ctrl-C) while it ran: its state is not known');
    // before: "[2/2] shop/web-2: failed: cannot reach node node-a …: the session was torn down", the summary "1 failed"
    expect(err).toBe('[1/3] shop/web-1: attached\n');
  });

  it('a pod in flight that had handed its node off is unknown with onNode false (its lock released there); one still on its node, onNode true (tryout 11, finding 2)', async () => {
    vi.resetModules();
    const { forEachPod } = await import('../../src/cli/bulk.js');
    const i = await import('../../src/exec/interrupt.js');
    const { makePod } = await import('../fakes/kube.js');
    const pods = ['web-1', 'web-2'].map((name, n) => makePod({ name, namespace: 'shop', uid: `uid-${n}`, node: `node-${n}` }));
    const io = { out: () => undefined, err: () => undefined };
    let release: () => void = () => undefined;
    const hang = new Promise<void>((r) => (release = r));
    const run = forEachPod(pods, 2, io, async (pod, handoff) => {
      // web-1: its node done with, its bookkeeping hangs; web-2: still on its node
      if (pod.metadata?.name === 'web-1') handoff();
      await hang;
      return 'attached';
    }, (v) => v);
    await new Promise((r) => setTimeout(r, 10));
    i.interrupt('SIGINT');
    i.beginQuit();
    release();
    const outcomes = await run;
    expect(outcomes.map((o) => [o.pod, o.state, o.onNode])).toEqual([['shop/web-1', 'unknown', false], ['shop/web-2', 'unknown', true]]);
  });
});

describe('the closing line of one pod\'s stop: one form, "<command> stopped by <signal> <where>: <what was changed>"', () => {
  it('through the commands (fakes): a plugin killed on ADD (rolled back), on DEL (its record stays), the look-up cut, the network-status wait cut', async () => {
    vi.resetModules();
    const { world, NETNS } = await import('../fakes/world.js');
    const { attachCommand } = await import('../../src/cli/attach.js');
    const i = await import('../../src/exec/interrupt.js');
    const POD = ['web-1', '-n', 'shop', '--ifname', 'eth1'];
    // ADD killed by the signal (as an executor reports a run it killed): before, "error: plugin bridge stopped on ADD: by …"
    let w = world();
    const bridge = w.exec.plugins.get('/opt/cni/bin/bridge')!;
    w.exec.plugins.set('/opt/cni/bin/bridge', async (c) => (c.command === 'ADD' ? (i.interrupt('SIGINT'), { code: null, interrupted: 'SIGINT' }) : bridge(c)));
    expect(await w.cli(attachCommand, [...POD, '--conf', '-']), w.stderr()).toBe(130);
    expect(w.stderr().trim().split('\n').at(-1)).toBe("error: attach stopped by SIGINT (Ctrl-C) during plugin bridge's ADD (it was killed): rolled back: nothing was left behind");
    expect(w.exec.links.get(NETNS)?.has('eth1') ?? false).toBe(false);
    // the one pod's DEL killed: its record stays (before: "error: plugin bridge stopped on DEL: by …; the record stays …")
    vi.resetModules();
    const again = await import('../fakes/world.js');
    const a2 = await import('../../src/cli/attach.js');
    const d2 = await import('../../src/cli/detach.js');
    const i2 = await import('../../src/exec/interrupt.js');
    w = again.world();
    expect(await w.cli(a2.attachCommand, [...POD, '--conf', '-']), w.stderr()).toBe(0);
    const b2 = w.exec.plugins.get('/opt/cni/bin/bridge')!;
    w.exec.plugins.set('/opt/cni/bin/bridge', async (c) => (c.command === 'DEL' ? (i2.interrupt('SIGTERM'), { code: null, interrupted: 'SIGTERM' }) : b2(c)));
    expect(await w.cli(d2.detachCommand, POD), w.stderr()).toBe(143);
    expect(w.stderr().trim().split('\n').at(-1)).toBe("error: detach stopped by SIGTERM during plugin bridge's DEL (it was killed): the record stays: run the command again");
  });

  it('the steps\' own words, each put in the one form (pure: singleStopLine)', async () => {
    const { singleStopLine, describeError } = await import('../../src/cli/main.js');
    const e = await import('../../src/errors.js');
    const { AddFailed } = await import('../../src/cni/chain.js');
    const line = (verb: string, err: InstanceType<typeof e.CniAttachError>) => singleStopLine(verb, e.stoppedBy(err)!, err, describeError(err));
    // a look-up through an agent (resolve/cri.ts): before, "stopped by SIGINT (Ctrl-C) during the sandbox look-up …", no command
    expect(line('attach', new e.StoppedError('SIGINT', 'stopped by SIGINT (Ctrl-C) during the sandbox look-up on node node-a (through agent pod kube-system/cni-attach-agent-4cxjg): nothing was changed'))).toBe(
      'attach stopped by SIGINT (Ctrl-C) during the sandbox look-up on node node-a (through agent pod kube-system/cni-attach-agent-4cxjg): nothing was changed',
    );
    // the handler's words are that form already
    expect(line('detach', new e.StoppedError('SIGINT', 'detach stopped by SIGINT (Ctrl-C) before it changed anything: nothing was changed'))).toBe('detach stopped by SIGINT (Ctrl-C) before it changed anything: nothing was changed');
    // a plugin that had finished when the signal came; one not yet run; a rollback that failed
    const finished = new e.PluginError('tuning', 'ADD', undefined, 'by SIGTERM (it had finished; its result is not used)', undefined, undefined, 'SIGTERM');
    expect(line('attach', new AddFailed(finished, undefined))).toBe("attach stopped by SIGTERM during plugin tuning's ADD (it had finished; its result is not used): rolled back: nothing was left behind");
    const notRun = new e.PluginError('tuning', 'DEL', undefined, 'by SIGINT (Ctrl-C) before it ran (the DEL of bandwidth had finished)', undefined, undefined, 'SIGINT');
    expect(line('detach', notRun)).toBe("detach stopped by SIGINT (Ctrl-C) before plugin tuning's DEL (the DEL of bandwidth had finished): the record stays: run the command again");
    const killed = new e.PluginError('slow', 'ADD', undefined, 'by SIGINT (Ctrl-C) (it was killed)', undefined, undefined, 'SIGINT');
    expect(line('attach', new AddFailed(killed, new Error('plugin slow failed on DEL: exited with code 1')))).toBe(
      "attach stopped by SIGINT (Ctrl-C) during plugin slow's ADD (it was killed): rolling back also failed: plugin slow failed on DEL: exited with code 1",
    );
    // a check's plugin stopped changes nothing
    expect(line('check', new e.PluginError('bridge', 'CHECK', undefined, 'by SIGINT (Ctrl-C) (it was killed)', undefined, undefined, 'SIGINT'))).toBe("check stopped by SIGINT (Ctrl-C) during plugin bridge's CHECK (it was killed): nothing was changed");
  });
});

describe('a detach stopped (or failed) at its network-status update: the closing line says what is certain and that the record is kept', () => {
  it.each([
    ['the signal during the update (it does not land)', 'signal', false],
    ['the signal during the update (it lands after the wait stopped)', 'signal', true],
    ['the update refused', 'failure', false],
  ] as const)('%s: the interface and lease are gone, the record is kept; the same command again removes it and says so (before: nothing of the record)', async (_, how, lands) => {
    vi.resetModules();
    const { world } = await import('../fakes/world.js');
    const { attachCommand } = await import('../../src/cli/attach.js');
    const { detachCommand } = await import('../../src/cli/detach.js');
    const i = await import('../../src/exec/interrupt.js');
    const w = world();
    const POD = ['web-1', '-n', 'shop', '--ifname', 'eth1'];
    expect(await w.cli(attachCommand, [...POD, '--conf', '-']), w.stderr()).toBe(0);
    const keys = () => [...w.kube.configMaps.values()].flatMap((c) => Object.keys(c.data));
    expect(keys()).toHaveLength(1);
    const update = w.kube.updatePodAnnotation.bind(w.kube);
    if (how === 'failure') w.kube.failAnnotate = 1;
    else {
      w.kube.updatePodAnnotation = async (...args: Parameters<typeof update>) => {
        i.interrupt('SIGTERM');
        if (lands) await update(...args);
        return new Promise<void>(() => undefined);
      };
    }
    expect(await w.cli(detachCommand, POD)).toBe(how === 'signal' ? 143 : 4);
    const last = w.stderr().trim().split('\n').at(-1);
    if (how === 'signal') {
      expect(last).toBe("error: detach stopped by SIGTERM while the pod's network-status update was being sent: eth1 is detached (its interface and IPAM lease are gone); the update may or may not have landed, so the cluster's record of the attachment is kept; run the same command again to make sure (it removes that record)");
    } else {
      expect(last).toMatch(/^error: eth1 is detached \(its interface and IPAM lease are gone\), but the pod's network-status annotation could not be updated \(.*\), so the cluster's record of the attachment is kept; run the same command again to retry \(it removes that record\)$/);
    }
    // what the line says: the node holds nothing, the record is there
    expect([...w.exec.files.keys()].filter((k) => k.includes('/results/'))).toEqual([]);
    expect(keys()).toHaveLength(1);
    // the same command again (its own process: modules afresh, the world kept) removes it, and says so
    w.kube.updatePodAnnotation = update;
    vi.resetModules();
    const again = await import('../../src/cli/detach.js');
    expect(await w.cli(again.detachCommand, POD)).toBe(0);
    expect(w.stderr()).toMatch(new RegExp(`^note: nothing is attached as eth1 in pod shop/web-1 \\(no cache entry under /var/lib/cni/results\\); removed ${lands ? 'its record in the cluster, which an earlier detach left \\(its network-status entry was gone already\\)' : 'its network-status entry and its record in the cluster, which an earlier detach left'}\n$`));
    expect(keys()).toEqual([]);
  });
});

describe('a detach -l whose pod\'s network-status update fails: its line says the record is kept; the next batch removes it and says so on that pod\'s line (before: nothing)', () => {
  it('exit 4, then 0', async () => {
    vi.resetModules();
    const { manyPods } = await import('../fakes/world.js');
    const { attachCommand } = await import('../../src/cli/attach.js');
    const { detachCommand } = await import('../../src/cli/detach.js');
    const w = manyPods(2);
    const BATCH = ['-l', 'app=web', '-n', 'shop', '--ifname', 'eth1', '--parallel', '1'];
    expect(await w.cli(attachCommand, [...BATCH, '--conf', '-']), w.stderr()).toBe(0);
    w.kube.failAnnotate = 1;
    expect(await w.cli(detachCommand, BATCH)).toBe(4);
    expect(w.stderr()).toMatch(/^\[1\/2\] shop\/web-1: failed: eth1 is detached \(its interface and IPAM lease are gone\), but the pod's network-status annotation could not be updated \(.*\), so the cluster's record of the attachment is kept; run the same command again to retry \(it removes that record\)$/m);
    expect(await w.cli(detachCommand, BATCH)).toBe(0);
    expect(w.stderr()).toMatch(/^\[1\/2\] shop\/web-1: nothing attached as eth1; removed its network-status entry and its record in the cluster, which an earlier detach left$/m);
    expect(w.stderr()).toMatch(/^\[2\/2\] shop\/web-2: nothing attached as eth1$/m);
  });
});
