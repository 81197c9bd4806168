/**
 * A dry run refuses what the real command refuses, with the same message and exit code, and runs nothing but VERSION
 * (cni-detach --dry-run and cni-check --dry-run; cni-attach's is test/unit/cli.test.ts). One table over the refusals
 * the real detach and check make before they run a plugin (cni/attach.ts recordedFor, beforeCheck): each case is set
 * up twice, once for the dry run and once for the real command.
 */
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { attachCommand } from '../../src/cli/attach.js';
import { checkCommand } from '../../src/cli/check.js';
import { detachCommand } from '../../src/cli/detach.js';
import type { Deps } from '../../src/cli/context.js';
import { intentPath, lockPath, resultPath } from '../../src/cni/cache.js';
import { SANDBOX, world } from '../fakes/world.js';

const target = ['web-1', '-n', 'shop', '--ifname', 'eth1'];
const key = { network: 'net', containerId: SANDBOX, ifname: 'eth1' };
const entry = resultPath('/var/lib/cni', key);
const other = JSON.stringify({ cniVersion: '1.0.0', name: 'other', type: 'bridge' });
type World = ReturnType<typeof world>;

/** Rewrite the cached entry of eth1 (a JSON object) with change. */
function editEntry(w: World, change: (e: Record<string, unknown>) => void): void {
  const e = JSON.parse(w.exec.files.get(entry)!) as Record<string, unknown>;
  change(e);
  w.exec.files.set(entry, JSON.stringify(e));
}

interface Case {
  what: string;
  /** The config eth1 is attached with (default: net, CNI 1.0.0, bridge); null: nothing is attached. */
  attachedWith?: string | null;
  arrange?: (w: World) => void;
  /** More arguments of the command (e.g. a --conf). */
  args?: string[];
  detach?: [number, RegExp];
  check?: [number, RegExp];
}

const cases: Case[] = [
  {
    what: 'a --conf of another network than the one attached',
    arrange: (w) => (w.deps.readStdin = async () => other),
    args: ['--conf', '-'],
    detach: [2, /^error: eth1 in pod shop\/web-1 was attached through network net, not other; detach it without a config/],
    // before: "nothing is attached as eth1" (exit 3), and its dry run printed a CHECK of "other"
    check: [2, /^error: eth1 in pod shop\/web-1 was attached through network net, not other; check it without a config/],
  },
  {
    what: 'an unreadable record',
    arrange: (w) => w.exec.files.set(entry, '{"kind":"cniCacheV1","contai'),
    detach: [2, /^error: the record of eth1 in pod shop\/web-1, .*, cannot be used \(.*\); nothing was run\./],
    check: [2, /^error: the record of eth1 in pod shop\/web-1, .*, cannot be used \(.*\): nothing to CHECK against/],
  },
  {
    what: 'a record whose cached config cannot be parsed',
    arrange: (w) => editEntry(w, (e) => (e.config = Buffer.from('{"name":').toString('base64'))),
    detach: [2, /cached config of net/],
    check: [2, /cached config of net/],
  },
  {
    what: 'the lock held by a live command',
    arrange: (w) => w.exec.files.set(lockPath('/var/lib/cni', SANDBOX, 'eth1'), 'fake-host 4242 100\n'),
    detach: [1, /another cni-attach\/cni-detach \(pid 4242/],
    check: [1, /another cni-attach\/cni-detach \(pid 4242/],
  },
  {
    what: 'the plugin gone',
    arrange: (w) => void w.exec.plugins.delete('/opt/cni/bin/bridge'),
    detach: [2, /CNI plugin "bridge" not found/],
    check: [2, /CNI plugin "bridge" not found/],
  },
  {
    what: 'nothing attached',
    attachedWith: null,
    // before: the check's dry run printed "nothing is recorded" and exited 0
    check: [3, /^error: nothing is attached as eth1 in pod shop\/web-1/],
  },
  {
    what: 'an attach that was interrupted (its intent alone)',
    arrange: (w) => {
      editEntry(w, (e) => delete e.result);
      w.exec.files.set(intentPath('/var/lib/cni', key), w.exec.files.get(entry)!);
      w.exec.files.delete(entry);
    },
    check: [3, /^error: eth1 in pod shop\/web-1 is not attached: an attach of it was interrupted/],
  },
  {
    what: 'a record without a result to check against',
    arrange: (w) => editEntry(w, (e) => delete e.result),
    // before: the dry run printed a CHECK without prevResult
    check: [1, /no cached result to check against/],
  },
  {
    what: 'a config before CNI 0.4.0 (no CHECK)',
    attachedWith: JSON.stringify({ cniVersion: '0.3.1', name: 'net', type: 'bridge' }),
    // before: the dry run printed a CHECK of a 0.3.1 config
    check: [2, /^error: config version 0\.3\.1 has no CHECK/],
  },
];

/** A world with eth1 attached (or not) as the case says, then arranged. */
async function arranged(c: Case): Promise<World> {
  const w = world(c.attachedWith ? { stdin: c.attachedWith } : {});
  if (c.attachedWith !== null) expect(await w.cli(attachCommand, [...target, '--conf', '-']), c.what).toBe(0);
  c.arrange?.(w);
  w.exec.calls.length = 0;
  return w;
}

describe('a dry run refuses what the real command refuses', () => {
  for (const [name, make] of [['detach', detachCommand], ['check', checkCommand]] as [('detach' | 'check'), (d: Deps) => Command][]) {
    it(`cni-${name} --dry-run: the same exit code and message as cni-${name}, nothing but VERSION run and nothing changed`, async () => {
      for (const c of cases) {
        const expected = c[name];
        if (!expected) continue;
        const args = [...target, ...(c.args ?? [])];
        const dry = await arranged(c);
        const files = new Map(dry.exec.files);
        expect(await dry.cli(make, [...args, '--dry-run']), c.what).toBe(expected[0]);
        expect(dry.stderr(), c.what).toMatch(expected[1]);
        expect(dry.stdout(), c.what).toBe('');
        expect(dry.exec.calls.filter((x) => x.command !== 'VERSION'), c.what).toEqual([]);
        expect(new Map(dry.exec.files), c.what).toEqual(files);
        const real = await arranged(c);
        expect(await real.cli(make, args), c.what).toBe(expected[0]);
        expect(real.stderr(), c.what).toBe(dry.stderr());
      }
    });
  }

  it('a forced detach plans the DEL it would run, and none for a record it would only forget', async () => {
    const unreadable = cases.find((c) => c.what === 'an unreadable record')!;
    const dry = await arranged(unreadable);
    expect(await dry.cli(detachCommand, [...target, '--force', '--dry-run'])).toBe(0);
    expect(dry.stdout()).toMatch(/# nothing is recorded: no plugin would run|^# target:/);
    expect(dry.stdout()).not.toMatch(/CNI_COMMAND=DEL/);
    const withConf = await arranged(unreadable);
    expect(await withConf.cli(detachCommand, [...target, '--force', '--conf', '-', '--dry-run'])).toBe(0);
    expect(withConf.stdout()).toMatch(/CNI_COMMAND=DEL .*CNI_IFNAME=eth1 \/opt\/cni\/bin\/bridge/);
    expect(withConf.exec.calls).toEqual([]);
  });
});
