/**
 * The demo (`bash scripts/demo.sh`, the README's first command): the seed's scenario end to end on two network
 * namespaces of this host — attach, show, ping, detach — and nothing of it left afterwards. Its names (cni-demo-*)
 * and subnet (198.18.100.0/24) are its own.
 */
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/env.js';
import { ipForward, linkNames } from '../helpers/net.js';
import { sh } from '../helpers/sh.js';

describe('the demo', () => {
  it('runs the walkthrough (attach, result, ping, detach) and leaves the host as it was', { timeout: 300_000 }, async () => {
    const forward = await ipForward();
    const r = await execa('bash', [join(ROOT, 'scripts/demo.sh')], { reject: false, all: true, timeout: 240_000 });
    expect(r.exitCode, r.all).toBe(0);
    const out = r.all ?? '';
    expect(out).toMatch(/eth1 attached to netns \/var\/run\/netns\/cni-demo-pod-a \(network cni-demo/);
    expect(out).toMatch(/eth1 {2}198\.18\.100\.\d+\/24/);
    expect(out).toMatch(/3 packets transmitted, 3 received/);
    expect(out).toMatch(/eth1 detached from netns \/var\/run\/netns\/cni-demo-pod-b \(network cni-demo\)/);
    expect(out).toMatch(/demo: OK/);

    expect((await sh(['ip', 'netns', 'list'])).stdout).not.toMatch(/cni-demo/);
    expect((await linkNames()).filter((l) => l.startsWith('cni-demo'))).toEqual([]);
    expect(await ipForward()).toBe(forward);
    // its cache was in its own temp directory, gone with it: this node's /var/lib/cni was not touched
    expect(out).not.toMatch(/\/var\/lib\/cni/);
  });
});
