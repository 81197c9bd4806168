/**
 * How a batch's pods are scheduled (cli/bulk.ts forEachPod): at most `parallel` pods on their nodes at a time, the
 * next one begun once a pod hands its node off (its bookkeeping — event, network-status, record — still running,
 * at most one such per worker), and the next pod taken from a node with none on it where there is one.
 */
import { describe, expect, it, vi } from 'vitest';

interface Gate {
  open: () => void;
  opened: Promise<void>;
}
const gate = (): Gate => {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
};
const settle = () => new Promise((r) => setTimeout(r, 5));

async function load() {
  vi.resetModules();
  const { forEachPod } = await import('../../src/cli/bulk.js');
  const { makePod } = await import('../fakes/kube.js');
  return { forEachPod, makePod };
}

describe('a batch hands a pod\'s node off before its bookkeeping (forEachPod)', () => {
  it('the next pod begins once the first handed off, while the first\'s bookkeeping runs; the outcomes and lines are each pod\'s end', async () => {
    const { forEachPod, makePod } = await load();
    const pods = ['a', 'b', 'c'].map((name, n) => makePod({ name, namespace: 'shop', uid: `u${n}`, node: 'n1' }));
    const began: string[] = [];
    const books = new Map(pods.map((p) => [p.metadata!.name!, gate()]));
    let err = '';
    const run = forEachPod(pods, 1, { out: () => undefined, err: (s: string) => void (err += s) }, async (pod, handoff) => {
      const name = pod.metadata!.name!;
      began.push(name);
      handoff();
      await books.get(name)!.opened;
      return `attached ${name}`;
    }, (v) => v);
    await settle();
    // --parallel 1: a on its node, handed off; b began while a's bookkeeping runs; c waits for a's to end (one behind
    // each worker)
    expect(began).toEqual(['a', 'b']);
    expect(err).toBe('');
    books.get('a')!.open();
    await settle();
    expect(began).toEqual(['a', 'b', 'c']);
    expect(err).toBe('[1/3] shop/a: attached a\n');
    books.get('c')!.open();
    books.get('b')!.open();
    const outcomes = await run;
    expect(outcomes.map((o) => [o.pod, o.state, o.value])).toEqual([['shop/a', 'done', 'attached a'], ['shop/b', 'done', 'attached b'], ['shop/c', 'done', 'attached c']]);
    expect(err.split('\n').filter(Boolean).map((l) => l.replace(/^\[\d\/3\] /, ''))).toEqual(['shop/a: attached a', 'shop/c: attached c', 'shop/b: attached b']);
  });

  it('a pod that never hands off holds its worker until it ends, as before (a failure, a detach)', async () => {
    const { forEachPod, makePod } = await load();
    const pods = ['a', 'b'].map((name, n) => makePod({ name, namespace: 'shop', uid: `u${n}`, node: 'n1' }));
    const began: string[] = [];
    const end = gate();
    const run = forEachPod(pods, 1, { out: () => undefined, err: () => undefined }, async (pod) => {
      began.push(pod.metadata!.name!);
      if (pod.metadata!.name === 'a') {
        await end.opened;
        throw new Error('ADD failed');
      }
      return 'ok';
    }, (v) => v);
    await settle();
    expect(began).toEqual(['a']);
    end.open();
    const outcomes = await run;
    expect(began).toEqual(['a', 'b']);
    expect(outcomes.map((o) => o.state)).toEqual(['failed', 'done']);
  });

  it('at most `parallel` pods on their nodes at a time, and at most twice that in flight (each worker waits for its older pod\'s bookkeeping before it begins another)', async () => {
    const { forEachPod, makePod } = await load();
    const pods = Array.from({ length: 12 }, (_, n) => makePod({ name: `p${n}`, namespace: 'shop', uid: `u${n}`, node: `n${n % 4}` }));
    let onNodes = 0;
    let booking = 0;
    let mostOnNodes = 0;
    let mostBooking = 0;
    let inFlight = 0;
    let mostInFlight = 0;
    await forEachPod(pods, 3, { out: () => undefined, err: () => undefined }, async (_pod, handoff) => {
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      mostOnNodes = Math.max(mostOnNodes, ++onNodes);
      await settle();
      onNodes--;
      mostBooking = Math.max(mostBooking, ++booking);
      handoff();
      await new Promise((r) => setTimeout(r, 12));
      booking--;
      inFlight--;
      return 'ok';
    }, (v) => v);
    expect(mostOnNodes).toBe(3);
    expect(mostInFlight).toBeLessThanOrEqual(6);
    expect(mostBooking).toBeLessThanOrEqual(6);
    expect(mostBooking).toBeGreaterThan(1);
  });
});

describe('a batch takes its next pod from a node with none on it (forEachPod)', () => {
  it('pods listed node by node are worked on across the nodes, each node\'s in the list\'s order', async () => {
    const { forEachPod, makePod } = await load();
    // listed as a StatefulSet's pods often are: the first three on n1, then n2's, then n3's
    const pods = [['a1', 'n1'], ['a2', 'n1'], ['a3', 'n1'], ['b1', 'n2'], ['b2', 'n2'], ['c1', 'n3']].map(([name, node], n) => makePod({ name: name!, namespace: 'shop', uid: `u${n}`, node: node! }));
    const order: string[] = [];
    let most = 0;
    const on = new Map<string, number>();
    await forEachPod(pods, 3, { out: () => undefined, err: () => undefined }, async (pod) => {
      const node = pod.spec!.nodeName!;
      order.push(pod.metadata!.name!);
      on.set(node, (on.get(node) ?? 0) + 1);
      most = Math.max(most, on.get(node)!);
      await settle();
      on.set(node, on.get(node)! - 1);
      return 'ok';
    }, (v) => v);
    // before: a1, a2, a3 together on n1 (three sessions there) while n2 and n3 waited
    expect(order.slice(0, 3)).toEqual(['a1', 'b1', 'c1']);
    // a second pod on a node only once no other node has one left to begin (c1 ended, n3 has none)
    expect(most).toBe(2);
    expect(order.filter((n) => n.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
  });

  it('more workers than nodes: the node with the fewest pods on it gets the next one', async () => {
    const { forEachPod, makePod } = await load();
    const pods = [['a1', 'n1'], ['a2', 'n1'], ['a3', 'n1'], ['a4', 'n1'], ['b1', 'n2'], ['b2', 'n2']].map(([name, node], n) => makePod({ name: name!, namespace: 'shop', uid: `u${n}`, node: node! }));
    const first: string[] = [];
    const hold = gate();
    const run = forEachPod(pods, 4, { out: () => undefined, err: () => undefined }, async (pod) => {
      first.push(pod.metadata!.name!);
      await hold.opened;
      return 'ok';
    }, (v) => v);
    await settle();
    expect(first).toEqual(['a1', 'b1', 'a2', 'b2']);
    hold.open();
    await run;
  });
});

describe('a batch without --parallel: one pod at a time per node, 4 to 32 in all, at most 4 on one node (parallelismOf, forEachPod)', () => {
  it('the default from the nodes the pods are on; --parallel N is N in all and N on one node', async () => {
    vi.resetModules();
    const { parallelismOf } = await import('../../src/cli/bulk.js');
    const { makePod } = await import('../fakes/kube.js');
    const on = (nodes: number, pods = nodes) => Array.from({ length: pods }, (_, n) => makePod({ name: `p${n}`, namespace: 'shop', uid: `u${n}`, node: `n${n % nodes}` }));
    expect(parallelismOf(undefined, on(1, 6))).toEqual({ total: 4, perNode: 4 });
    expect(parallelismOf(undefined, on(2, 6))).toEqual({ total: 4, perNode: 4 });
    expect(parallelismOf(undefined, on(10, 100))).toEqual({ total: 10, perNode: 4 });
    expect(parallelismOf(undefined, on(200))).toEqual({ total: 32, perNode: 4 });
    expect(parallelismOf('8', on(10, 100))).toEqual({ total: 8, perNode: 8 });
    expect(parallelismOf('8', on(1, 10))).toEqual({ total: 8, perNode: 8 });
    expect(() => parallelismOf('0', on(1))).toThrow('--parallel 0: pods at a time is from 1 to 64');
  });

  it('a node with most of the pods gets at most perNode of them at a time, also once the other nodes are done (before: every slot)', async () => {
    const { forEachPod, makePod } = await load();
    // n1 holds 12 pods, n2..n6 one each: 6 nodes, so 6 in all by default, never more than 4 on n1
    const pods = [...Array.from({ length: 12 }, (_, n) => ['a' + n, 'n1']), ...[2, 3, 4, 5, 6].map((k) => ['b' + k, `n${k}`])].map(([name, node], n) => makePod({ name: name!, namespace: 'shop', uid: `u${n}`, node: node! }));
    const on = new Map<string, number>();
    const most = new Map<string, number>();
    let inAll = 0;
    let mostInAll = 0;
    const outcomes = await forEachPod(pods, { total: 6, perNode: 4 }, { out: () => undefined, err: () => undefined }, async (pod) => {
      const node = pod.spec!.nodeName!;
      on.set(node, (on.get(node) ?? 0) + 1);
      most.set(node, Math.max(most.get(node) ?? 0, on.get(node)!));
      mostInAll = Math.max(mostInAll, ++inAll);
      await new Promise((r) => setTimeout(r, node === 'n1' ? 3 : 1));
      on.set(node, on.get(node)! - 1);
      inAll--;
      return 'ok';
    }, (v) => v);
    expect(outcomes.every((o) => o.state === 'done')).toBe(true);
    expect(most.get('n1')).toBe(4);
    expect(mostInAll).toBe(6);
  });

  it('workers waiting for a node below its bound begin its pods as soon as one there hands its node off', async () => {
    const { forEachPod, makePod } = await load();
    const pods = ['a', 'b', 'c'].map((name, n) => makePod({ name, namespace: 'shop', uid: `u${n}`, node: 'n1' }));
    const began: string[] = [];
    const handoffs = new Map<string, () => void>();
    const books = new Map(pods.map((p) => [p.metadata!.name!, gate()]));
    const run = forEachPod(pods, { total: 3, perNode: 1 }, { out: () => undefined, err: () => undefined }, async (pod, handoff) => {
      const name = pod.metadata!.name!;
      began.push(name);
      handoffs.set(name, handoff);
      await books.get(name)!.opened;
      return 'ok';
    }, (v) => v);
    await settle();
    expect(began).toEqual(['a']);
    handoffs.get('a')!();
    await settle();
    expect(began).toEqual(['a', 'b']);
    books.get('b')!.open();
    await settle();
    expect(began).toEqual(['a', 'b', 'c']);
    books.get('a')!.open();
    books.get('c')!.open();
    expect((await run).map((o) => o.state)).toEqual(['done', 'done', 'done']);
  });
});

describe('an attach sends its event and its network-status PATCH together (cli/attach.ts annotate)', () => {
  it('each is sent before the other is answered; both land, then the record', async () => {
    vi.resetModules();
    const { world } = await import('../fakes/world.js');
    const { attachCommand } = await import('../../src/cli/attach.js');
    const w = world();
    const eventSent = gate();
    const patchSent = gate();
    const order: string[] = [];
    const createPodEvent = w.kube.createPodEvent.bind(w.kube);
    w.kube.createPodEvent = async (...a: Parameters<typeof createPodEvent>) => {
      eventSent.open();
      // answered only once the PATCH was sent too (before: the PATCH waited for this answer — the test timed out)
      await patchSent.opened;
      await createPodEvent(...a);
      order.push('event answered');
    };
    const update = w.kube.updatePodAnnotation.bind(w.kube);
    w.kube.updatePodAnnotation = async (...a: Parameters<typeof update>) => {
      patchSent.open();
      await eventSent.opened;
      order.push('network-status answered');
      return update(...a);
    };
    const addRecord = w.kube.patchConfigMapData.bind(w.kube);
    w.kube.patchConfigMapData = async (...a: Parameters<typeof addRecord>) => {
      order.push('record');
      return addRecord(...a);
    };
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-']), w.stderr()).toBe(0);
    expect(order.slice(-1)).toEqual(['record']);
    expect(order.filter((o) => o !== 'record').sort()).toEqual(['event answered', 'network-status answered']);
    expect(w.kube.events.map((e) => e.reason)).toEqual(['AddedInterface']);
    expect(w.kube.patches).toHaveLength(1);
  }, 5000);
});
