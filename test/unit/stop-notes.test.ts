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
});
