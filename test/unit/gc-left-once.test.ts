/**
 * cni-gc says each attachment it leaves alone once (cli/gc.ts uniqueLeft): one gc beside a running `cni-attach -l`
 * named two pods twice — once from the node's lock (its command running for 12s), once from the records (their
 * write-ahead's command running) — and counted "4 busy" for 2 pods in flight (tryout 10, finding 5).
 */
import { describe, expect, it } from 'vitest';
import { uniqueLeft, type Left } from '../../src/cli/gc.js';

const left = (o: { uid?: string; containerId: string; ifname: string; network?: string; holder: Left['holder']; where?: string }): Left =>
  ({
    stale: { entry: { containerId: o.containerId, ifName: o.ifname, networkName: o.network ?? 'net' }, c: { ...(o.uid ? { pod: { uid: o.uid } } : {}) } },
    holder: o.holder,
    where: o.where ?? '',
  }) as unknown as Left;

describe('the attachments cni-gc leaves alone, each once', () => {
  it('the same pod and ifname found by the node\'s look and by the records: once, as first found; other pods, ifnames and sandboxes stay', () => {
    const fromNode = left({ uid: 'u-068', containerId: 'c68', ifname: 's8', holder: { pid: 7596, host: 'vm', runningForMs: 12_000 }, where: ' on node bench-node-8' });
    // the write-ahead record's: its sandbox not known to the record yet (''), its command as the record names it
    const fromRecord = left({ uid: 'u-068', containerId: '', ifname: 's8', holder: { pid: 7596, host: 'vm' } });
    const other = left({ uid: 'u-059', containerId: 'c59', ifname: 's8', holder: { pid: 7596, host: 'vm' } });
    const otherIf = left({ uid: 'u-068', containerId: 'c68', ifname: 's9', holder: { pid: 1, host: 'vm' } });
    const bare = left({ containerId: 'sb-1', ifname: 'eth1', holder: { pid: 2 } });
    const bareAgain = left({ containerId: 'sb-1', ifname: 'eth1', holder: { pid: 2 } });
    const bareOther = left({ containerId: 'sb-2', ifname: 'eth1', holder: { pid: 3 } });
    expect(uniqueLeft([fromNode, other, fromRecord, otherIf, bare, bareAgain, bareOther])).toEqual([fromNode, other, otherIf, bare, bareOther]);
    expect(uniqueLeft([])).toEqual([]);
  });
});
