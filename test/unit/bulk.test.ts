/**
 * The rules of a batch's end (cli/bulk.ts): what the user's signal left of each pod, the summary line and the exit
 * code. The signal's effect on a running batch is tested through the binary (test/reliability/batch-signals.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { batchExit, batchRecord, batchSummary, leftByStop, unknownHint, unknownWords, type PodOutcome } from '../../src/cli/bulk.js';
import type { CommonFlags } from '../../src/cli/options.js';
import { exitCodeOf } from '../../src/cli/main.js';
import { AddFailed } from '../../src/cni/chain.js';
import { NotFoundError, PluginError, SomeFailedError, StoppedError } from '../../src/errors.js';

const WORDS = { undone: 'rolled back', recorded: 'left recorded' };
const stopped = (cmd: string, sig = 'SIGTERM') => new PluginError('slow', cmd, undefined, `by ${sig} (it was killed)`, undefined, undefined, sig);

const done = (pod: string): PodOutcome<string> => ({ pod, ok: true, state: 'done', value: 'x', exitCode: 0 });
const notStarted = (pod: string, signal = 'SIGTERM'): PodOutcome<string> => ({ pod, ok: false, state: 'not started', exitCode: 143, error: 'not started', stop: { signal, left: 'nothing' } });
const rolledBack = (pod: string): PodOutcome<string> => ({ pod, ok: false, state: 'stopped', exitCode: 143, error: 'rolled back', stop: { signal: 'SIGTERM', left: 'undone' } });
const failed = (pod: string, e: unknown): PodOutcome<string> => ({ pod, ok: false, state: 'failed', exitCode: exitCodeOf(e), error: (e as Error).message, failure: e });

function thrown(fn: () => void): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('what the signal left of a pod', () => {
  it('an ADD stopped and rolled back is undone; one whose rollback failed stays recorded', () => {
    expect(leftByStop(new AddFailed(stopped('ADD'), undefined))).toBe('undone');
    expect(leftByStop(new AddFailed(stopped('ADD'), new Error('DEL failed')))).toBe('recorded');
  });
  it('a DEL stopped keeps its record; VERSION or STATUS stopped changed nothing', () => {
    expect(leftByStop(stopped('DEL'))).toBe('recorded');
    expect(leftByStop(stopped('VERSION'))).toBe('nothing');
    expect(leftByStop(stopped('STATUS'))).toBe('nothing');
  });
  it('a StoppedError says it (nothing by default); a failure of its own is not the signal\'s', () => {
    expect(leftByStop(new StoppedError('SIGINT', 'stopped before anything was changed'))).toBe('nothing');
    expect(leftByStop(new StoppedError('SIGINT', 'stopped before the result was recorded (rolled back)', 'undone'))).toBe('undone');
    expect(leftByStop(new AddFailed(new PluginError('bridge', 'ADD', 7, 'bad config'), undefined))).toBeUndefined();
    expect(leftByStop(new NotFoundError('no sandbox'))).toBeUndefined();
  });
});

describe('the end of a batch', () => {
  it('all done: the count alone, exit 0', () => {
    const o = [done('ns/a'), done('ns/b')];
    expect(batchSummary(o, 'eth1 attached to 2 of 2 pods', WORDS)).toBe('eth1 attached to 2 of 2 pods');
    expect(thrown(() => batchExit(o, 'attach', WORDS))).toBeUndefined();
  });

  it('stopped by the signal: done, rolled back and not started named; exit 128 + n, also when a pod failed by itself', () => {
    const e = new NotFoundError('no sandbox');
    const o = [done('ns/a'), rolledBack('ns/b'), failed('ns/c', e), notStarted('ns/d'), notStarted('ns/e')];
    expect(batchSummary(o, 'eth1 attached to 1 of 5 pods', WORDS)).toBe(
      'eth1 attached to 1 of 5 pods; stopped by SIGTERM: 1 rolled back (ns/b), 2 not started (ns/d, ns/e); 1 failed (ns/c)',
    );
    const err = thrown(() => batchExit(o, 'attach', WORDS));
    expect(err).toBeInstanceOf(SomeFailedError);
    // the error line (stderr) counts; the summary (stdout) names: each pod once per stream
    expect((err as Error).message).toBe('attach stopped by SIGTERM: 1 rolled back, 2 not started; 1 of 5 pods done; 1 failed');
    expect(exitCodeOf(err)).toBe(143);
    expect(exitCodeOf(thrown(() => batchExit([notStarted('ns/a', 'SIGINT')], 'detach', WORDS)))).toBe(130);
  });

  it('failures only: the first failure in pod order decides the exit code', () => {
    const o = [done('ns/a'), failed('ns/b', new NotFoundError('no sandbox')), failed('ns/c', new PluginError('bridge', 'ADD', 7, 'bad config'))];
    expect(batchSummary(o, 'eth1 attached to 1 of 3 pods', WORDS)).toBe('eth1 attached to 1 of 3 pods; 2 failed (ns/b, ns/c)');
    const err = thrown(() => batchExit(o, 'attach', WORDS));
    expect((err as Error).message).toBe('attach failed for 2 of 3 pods');
    expect(exitCodeOf(err)).toBe(3);
  });

  it('1 000 pods: the summary names the first 5 of each group and counts the rest; the error line names none', () => {
    const pods = Array.from({ length: 1000 }, (_, i) => `shop/web-${i + 1}`);
    const e = new NotFoundError('no sandbox');
    const o = pods.map((p, i) => (i < 400 ? failed(p, e) : i < 402 ? rolledBack(p) : notStarted(p)));
    const summary = batchSummary(o, 'eth1 attached to 0 of 1000 pods', WORDS);
    expect(summary).toBe(
      'eth1 attached to 0 of 1000 pods; stopped by SIGTERM: 2 rolled back (shop/web-401, shop/web-402), ' +
        '598 not started (shop/web-403, shop/web-404, shop/web-405, shop/web-406, shop/web-407, … and 593 more: a run with -o json lists every pod); ' +
        "400 failed (shop/web-1, shop/web-2, shop/web-3, shop/web-4, shop/web-5, … and 395 more: each one's line on stderr names it, -o json lists every pod)",
    );
    const err = thrown(() => batchExit(o, 'attach', WORDS)) as Error;
    expect(err.message).toBe('attach stopped by SIGTERM: 2 rolled back, 598 not started; 0 of 1000 pods done; 400 failed');
    expect(exitCodeOf(err)).toBe(143);
    const only = pods.slice(0, 100).map((p) => failed(p, e));
    expect(batchSummary(only, 'eth1 detached from 0 of 100 pods', WORDS)).toBe(
      "eth1 detached from 0 of 100 pods; 100 failed (shop/web-1, shop/web-2, shop/web-3, shop/web-4, shop/web-5, … and 95 more: each one's line on stderr names it, -o json lists every pod)",
    );
    expect((thrown(() => batchExit(only, 'detach', WORDS)) as Error).message).toBe('detach failed for 100 of 100 pods');
    // -o json stays complete: a record for every pod
    expect(only.map((x) => batchRecord(x, (v) => ({ result: v }))).map((r) => r.pod)).toEqual(pods.slice(0, 100));
  });

  it('a group of one more than it names is named whole (tryout: 6 pods not rolled back, the summary named 5, the 6th only on stderr)', () => {
    const kept = (pod: string): PodOutcome<string> => ({ ...failed(pod, new AddFailed(new PluginError('bridge', 'ADD', 7, 'bad'), new Error('DEL failed'))), left: 'recorded' });
    const words = { ...WORDS, failedRecorded: { what: 'not rolled back', undo: () => 'undo' } };
    const six = Array.from({ length: 6 }, (_, i) => `ns/p${i + 1}`);
    expect(batchSummary(six.map(kept), 'x', words)).toBe('x; 6 failed (ns/p1, ns/p2, ns/p3, ns/p4, ns/p5, ns/p6), 6 not rolled back; undo');
    // the pods not rolled back among more failed: every one named, or where they are
    const mixed = [...six.map(kept), ...Array.from({ length: 4 }, (_, i) => failed(`ns/q${i}`, new NotFoundError('no sandbox')))];
    expect(batchSummary(mixed, 'x', words)).toBe("x; 10 failed (ns/p1, ns/p2, ns/p3, ns/p4, ns/p5, … and 5 more: each one's line on stderr names it, -o json lists every pod), 6 not rolled back (ns/p1, ns/p2, ns/p3, ns/p4, ns/p5, ns/p6); undo");
  });

  it('failed pods that left their change recorded (an ADD whose rollback failed): counted among the failed, named when not all, with the words that undo them and those the signal left recorded; the error line counts them; words without it say only "failed"', () => {
    const kept = (pod: string): PodOutcome<string> => ({ ...failed(pod, new AddFailed(new PluginError('bridge', 'ADD', 7, 'bad'), new Error('DEL failed'))), left: 'recorded' });
    const leftRecorded = (pod: string): PodOutcome<string> => ({ ...rolledBack(pod), stop: { signal: 'SIGTERM', left: 'recorded' } });
    const words = { ...WORDS, failedRecorded: { what: 'not rolled back', undo: (pods: string[]) => `undo ${pods.join(' ')}` } };
    const o = [kept('ns/a'), failed('ns/b', new NotFoundError('no sandbox')), kept('ns/c')];
    expect(batchSummary(o, 'eth1 attached to 0 of 3 pods', words)).toBe('eth1 attached to 0 of 3 pods; 3 failed (ns/a, ns/b, ns/c), 2 not rolled back (ns/a, ns/c); undo ns/a ns/c');
    expect((thrown(() => batchExit(o, 'attach', words)) as Error).message).toBe('attach failed for 3 of 3 pods, 2 not rolled back');
    expect(batchSummary([kept('ns/a')], 'x', words)).toBe('x; 1 failed (ns/a), 1 not rolled back; undo ns/a');
    expect(batchSummary([leftRecorded('ns/s'), kept('ns/a')], 'x', words)).toBe('x; stopped by SIGTERM: 1 left recorded (ns/s); 1 failed (ns/a), 1 not rolled back; undo ns/s ns/a');
    expect(batchSummary(o, 'x', WORDS)).toBe('x; 3 failed (ns/a, ns/b, ns/c)');
    expect(batchRecord(o[0]!, (v) => ({ result: v }))).toMatchObject({ pod: 'ns/a', ok: false, state: 'failed', left: 'recorded' });
  });

  it('-o json: a record per pod, with the state and the signal of a pod it stopped', () => {
    expect(batchRecord(done('ns/a'), (v) => ({ result: v }))).toEqual({ pod: 'ns/a', ok: true, result: 'x' });
    expect(batchRecord(notStarted('ns/d'), (v) => ({ result: v }))).toEqual({ pod: 'ns/d', ok: false, state: 'not started', error: 'not started', exitCode: 143, stoppedBy: 'SIGTERM' });
  });
});

describe('unknownHint: what tells the state of the pods a second signal left unknown', () => {
  it('pods still on other nodes: until when the locks this process held there when the quit began stay held (the latest of those nodes\', rounded up), said with those nodes (tryout 11, finding 2); pods on this host, or on nodes where it held none: nothing more; -o json: the same per pod (tryout 12, finding 3)', () => {
    const pod = (name: string, node: string) => ({ metadata: { name, namespace: 'shop' }, spec: { nodeName: node } });
    const held = new Map<string, number>([['node-a', Date.parse('2026-12-03T10:31:09.200Z')], ['node-b', Date.parse('2026-12-03T10:30:01Z')], ['here', Date.parse('2026-12-03T10:35:00Z')]]);
    const pods = [pod('web-1', 'node-b'), pod('web-2', 'here'), pod('web-3', 'node-a'), pod('web-4', 'node-b'), pod('web-5', 'node-c')];
    const { hint, fields } = unknownWords({ selector: 'app=web' } as CommonFlags, 'shop', pods, { here: 'here', heldUntil: (n) => held.get(n) });
    expect(hint(['shop/web-1', 'shop/web-3'])).toBe('`kubectl cni-list -n shop -l app=web --node node-a,node-b` tells; on nodes node-a, node-b what the quit left running may hold their locks until 2026-12-03T10:31:10Z (its time limit): a cni-attach or cni-detach of them from this host may answer busy until then; from another host, which cannot see that this command is gone, `cni-detach --force` from then on');
    expect(hint(['shop/web-2', 'shop/web-4'])).toBe('`kubectl cni-list -n shop -l app=web --node here,node-b` tells; on node node-b what the quit left running may hold its lock until 2026-12-03T10:30:01Z (its time limit): a cni-attach or cni-detach of it from this host may answer busy until then; from another host, which cannot see that this command is gone, `cni-detach --force` from then on');
    expect(hint(['shop/web-2'])).toBe('`kubectl cni-list -n shop -l app=web --node here` tells');
    // web-1 handed its node off (its lock released there): only web-3's may be held
    expect(hint(['shop/web-1', 'shop/web-3'], ['shop/web-3'])).toBe('`kubectl cni-list -n shop -l app=web --node node-a,node-b` tells; on node node-a what the quit left running may hold its lock until 2026-12-03T10:31:10Z (its time limit): a cni-attach or cni-detach of it from this host may answer busy until then; from another host, which cannot see that this command is gone, `cni-detach --force` from then on');
    expect(hint(['shop/web-1'], [])).toBe('`kubectl cni-list -n shop -l app=web --node node-b` tells');
    // node-c: no lock held there (its pod still in its look-up): nothing said of it (tryout 12, finding 6)
    expect(hint(['shop/web-5', 'shop/web-3'])).toBe('`kubectl cni-list -n shop -l app=web --node node-a,node-c` tells; on node node-a what the quit left running may hold its lock until 2026-12-03T10:31:10Z (its time limit): a cni-attach or cni-detach of it from this host may answer busy until then; from another host, which cannot see that this command is gone, `cni-detach --force` from then on');
    expect(fields('shop/web-3', true)).toEqual({ listCommand: 'kubectl cni-list -n shop -l app=web --node node-a', lockHeldUntil: '2026-12-03T10:31:10Z' });
    expect(fields('shop/web-3', false)).toEqual({ listCommand: 'kubectl cni-list -n shop -l app=web --node node-a' });
    expect(fields('shop/web-5', true)).toEqual({ listCommand: 'kubectl cni-list -n shop -l app=web --node node-c' });
    expect(fields('shop/web-2', true)).toEqual({ listCommand: 'kubectl cni-list -n shop -l app=web --node here' });
  });

  it('more unknown pods than the summary names: the rest are in -o json, not on stderr (an unknown pod gets no progress line: tryout 12, finding 1)', () => {
    const outcomes: PodOutcome<unknown>[] = Array.from({ length: 7 }, (_, i) => ({ pod: `shop/web-${i + 1}`, ok: false, state: 'unknown' as const, exitCode: 130, stop: { signal: 'SIGINT', left: 'recorded' as const } }));
    const line = batchSummary(outcomes, 'eth1 attached to 0 of 7 pods', { undone: 'rolled back', recorded: 'left recorded', unknown: 'X tells' });
    expect(line).toBe('eth1 attached to 0 of 7 pods; stopped by SIGINT (Ctrl-C), quit by a second SIGINT: 7 unknown (shop/web-1, shop/web-2, shop/web-3, shop/web-4, shop/web-5, … and 2 more: a run with -o json lists every pod; X tells)');
  });

  it('the batch\'s cni-list with --node and the nodes of those pods (tryout: without it, the rows came from the records alone and said attached for pods whose DEL had run)', () => {
    const pod = (name: string, node: string) => ({ metadata: { name, namespace: 'shop' }, spec: { nodeName: node } });
    const hint = unknownHint({ selector: 'app=web' } as CommonFlags, 'shop', [pod('web-1', 'node-b'), pod('web-2', 'node-a'), pod('web-3', 'node-b'), pod('web-4', 'node-c')]);
    expect(hint(['shop/web-1', 'shop/web-3', 'shop/web-2'])).toBe('`kubectl cni-list -n shop -l app=web --node node-a,node-b` tells');
    expect(hint([])).toBe('`kubectl cni-list -n shop -l app=web` tells');
    // -A: every namespace
    expect(unknownHint({ selector: 'app=web' } as CommonFlags, undefined, [pod('web-4', 'node-c')])(['shop/web-4'])).toBe('`kubectl cni-list -A -l app=web --node node-c` tells');
    // in the summary line
    const outcomes: PodOutcome<unknown>[] = [
      { pod: 'shop/web-1', ok: false, state: 'unknown', stop: { signal: 'SIGINT', left: 'recorded' } },
      { pod: 'shop/web-4', ok: false, state: 'not started', stop: { signal: 'SIGINT', left: 'nothing' } },
    ];
    expect(batchSummary(outcomes, 'eth1 attached to 0 of 2 pods', { undone: 'rolled back', recorded: 'left recorded', unknown: hint })).toContain('1 unknown (shop/web-1; `kubectl cni-list -n shop -l app=web --node node-b` tells)');
  });
});
