/**
 * Runs that must change nothing: bad configs, bad names, bad targets, plugins that cannot be found or misbehave
 * (each gives its exit code and one "error: …" line, no stack trace), and --dry-run. After each, the host has no
 * new link or namespace of ours, the target namespace still holds only lo, and the cache and IPAM dirs hold no file.
 * Addresses: 198.18.7.0/24.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectCleanError, expectFlagTypeError, expectOk, runCli, show, type CliResult } from '../helpers/cli.js';
import { bridgeConf, bridgePlugin, conflist, writeConf, type Json } from '../helpers/confs.js';
import { BIN, CNI_DIR } from '../helpers/env.js';
import { execa } from 'execa';
import { fakePlugin } from '../helpers/fake-plugin.js';
import { leases } from '../helpers/ipam.js';
import { filesUnder, useLab, type Workspace } from '../helpers/lab.js';
import { containerIdOf, linkNames, netnsPath } from '../helpers/net.js';

const lab = useLab('bi');
const SUBNET = '198.18.7.0/24';

interface Ctx {
  ws: Workspace;
  ns: string;
  /** A valid single-plugin bridge config (not written anywhere). */
  good: Json;
}

async function context(): Promise<Ctx> {
  const ws = await lab.workspace();
  const ns = await lab.netns();
  return { ws, ns, good: bridgeConf({ name: lab.name('k'), bridge: lab.bridge(), subnet: SUBNET, dataDir: ws.dataDir }) };
}

/** Run attach as `make` says, and check that the host is as it was. */
async function attachChangingNothing(make: (c: Ctx) => Promise<{ args: string[]; input?: string }>): Promise<CliResult> {
  const c = await context();
  const { args, input } = await make(c);
  const before = await lab.snapshot();
  const r = await runCli('attach', args, input !== undefined ? { input } : {});
  expect(await lab.newHostThings(before), show(r)).toEqual([]);
  expect(await linkNames(c.ns), show(r)).toEqual(['lo']);
  expect(await filesUnder(c.ws.cacheDir), show(r)).toEqual([]);
  expect(await leases(c.ws.dataDir), show(r)).toEqual([]);
  return r;
}

/** attach with conf (object or raw text) written to a file, into the context's namespace as eth1. */
const withConf = (conf: (c: Ctx) => Json | string, ifname = 'eth1') => async (c: Ctx) => ({
  args: lab.args(c.ws, c.ns, ifname, await writeConf(c.ws.dir, 'net.json', conf(c))),
});

function without(o: Json, key: string): Json {
  const copy = { ...o };
  delete copy[key];
  return copy;
}

describe('bad configs (exit 2)', () => {
  const cases: [string, (c: Ctx) => Json | string, RegExp][] = [
    ['invalid JSON', () => '{"cniVersion": "1.0.0", "name": ', /invalid JSON/],
    ['a JSON array', () => '[]', /must be a JSON object/],
    ['missing type', (c) => without(c.good, 'type'), /missing "type"/],
    ['missing name', (c) => without(c.good, 'name'), /missing "name"/],
    ['missing cniVersion', (c) => without(c.good, 'cniVersion'), /missing "cniVersion"/],
    ['type "../bridge"', (c) => ({ ...c.good, type: '../bridge' }), /plugin type "\.\.\/bridge" must be a bare executable name/],
    ['type "/usr/lib/cni/bridge"', (c) => ({ ...c.good, type: '/usr/lib/cni/bridge' }), /plugin type "\/usr\/lib\/cni\/bridge" must be a bare executable name/],
    ['unknown cniVersion 9.9.9', (c) => ({ ...c.good, cniVersion: '9.9.9' }), /unknown cniVersion "9\.9\.9"/],
    ['empty plugins', (c) => ({ cniVersion: '1.0.0', name: c.good.name, plugins: [] }), /"plugins" is empty/],
    ['a conflist entry without type', (c) => conflist(c.good.name as string, [{ bridge: 'x' }]), /plugins\[0\]: missing "type"/],
    // libcni (Go's encoding/json) refuses it too; the message names it rather than print it
    ['a leading UTF-8 byte order mark', (c) => `\ufeff${JSON.stringify(c.good)}`, /net\.json: starts with a UTF-8 byte order mark \(EF BB BF\): save it without one$/],
  ];
  it.each(cases)('%s', async (_what, conf, message) => {
    const r = await attachChangingNothing(withConf(conf));
    expectCleanError(r, 2, message);
  });

  it('invalid JSON on stdin (--conf -)', async () => {
    const r = await attachChangingNothing(async (c) => ({ args: lab.args(c.ws, c.ns, 'eth1', '-'), input: '{not json' }));
    expectCleanError(r, 2, /^error: --conf - \(stdin\): invalid JSON/);
  });

  it('a --conf file that does not exist', async () => {
    const r = await attachChangingNothing(async (c) => ({ args: lab.args(c.ws, c.ns, 'eth1', join(c.ws.dir, 'nope.json')) }));
    expectCleanError(r, 2, /no such file/);
  });
});

describe('bad flags (exit 2)', () => {
  const flags: [string, string[], RegExp][] = [
    ['--ip without a plugin declaring the "ips" capability', ['--ip', '198.18.7.9/24'], /declares the "ips" capability/],
    ['--timeout 0', ['--timeout', '0'], /^error: --timeout 0: must be more than zero$/],
    // below the least limit a plugin could run in: refused, the value said as given (it read "timed out after 0m")
    ['--timeout 0.4ms', ['--timeout', '0.4ms'], /^error: --timeout 0\.4ms: less than 1ms, the least plugin time limit: no plugin can even start within 400µs, so every run would be killed/],
    ['--timeout 900us', ['--timeout', '900us'], /^error: --timeout 900us: less than 1ms, the least plugin time limit: no plugin can even start within 900µs/],
    ['a relative --cache-dir', ['--cache-dir', 'cache'], /--cache-dir: "cache" is not an absolute directory/],
    ['a relative --cni-path entry', ['--cni-path', `${CNI_DIR}:bin`], /CNI path entry "bin" is not an absolute directory/],
    ['--args that is not K=V', ['--args', 'IgnoreUnknown'], /CNI_ARGS entry "IgnoreUnknown" is not KEY=VALUE/],
    // CNI_ARGS has no quoting: the plugins (types.LoadArgs) split on ';' then '=', so neither can be in a value
    ['--args with a \';\' in a value', ['--args', 'A=b;c'], /^error: CNI_ARGS entry "c" is not KEY=VALUE: --args is split on ';' and each pair on '=', as the plugins split CNI_ARGS \(types\.LoadArgs; it has no quoting\), so a value cannot hold ';' or '=' \(nothing was changed\)$/],
    ['--args with a \'=\' in a value', ['--args', 'A=b=c'], /^error: CNI_ARGS entry "A=b=c" is not KEY=VALUE: .*so a value cannot hold ';' or '='/],
  ];
  it.each(flags)('%s', async (_what, extra, message) => {
    const r = await attachChangingNothing(async (c) => ({
      args: [...lab.args(c.ws, c.ns, 'eth1', await writeConf(c.ws.dir, 'net.json', c.good)), ...extra],
    }));
    expectCleanError(r, 2, message);
  });

  // a value not of its flag's type, which kubectl's parser would refuse: pflag's words and cobra's See line (before:
  // the one line alone, "not a duration (e.g. …)", "not a whole number from 1 to 64")
  const typed: [string, string[], RegExp][] = [
    ['--ip that is not a CIDR', ['--ip', '198.18.7.9'], /^error: invalid argument "198\.18\.7\.9" for "--ip" flag: invalid CIDR address: 198\.18\.7\.9$/],
    ['--ip beyond its prefix length', ['--ip', '198.18.7.9/33'], /^error: invalid argument "198\.18\.7\.9\/33" for "--ip" flag: invalid CIDR address: 198\.18\.7\.9\/33$/],
    ['--mac that is not a MAC', ['--mac', '02:00:00:00:00'], /invalid argument .* for "--mac" flag: not a MAC address/],
    ['--timeout soon', ['--timeout', 'soon'], /^error: invalid argument "soon" for "--timeout" flag: time: invalid duration "soon"$/],
    ['--timeout 5x', ['--timeout', '5x'], /^error: invalid argument "5x" for "--timeout" flag: time: unknown unit "x" in duration "5x"$/],
  ];
  it.each(typed)('%s', async (_what, extra, message) => {
    const r = await attachChangingNothing(async (c) => ({
      args: [...lab.args(c.ws, c.ns, 'eth1', await writeConf(c.ws.dir, 'net.json', c.good)), ...extra],
    }));
    expectFlagTypeError(r, 'attach', message);
  });

  // kubectl's (pflag's) words, then cobra's "See 'kubectl cni-attach --help' for usage." line
  const usage: [string, (c: Ctx, conf: string) => string[], RegExp][] = [
    ['no --ifname', (c, conf) => ['--netns', netnsPath(c.ns), '--conf', conf, '--cache-dir', c.ws.cacheDir], /^error: required flag\(s\) "ifname" not set$/],
    ['no --conf', (c) => ['--netns', netnsPath(c.ns), '--ifname', 'eth1', '--cache-dir', c.ws.cacheDir], /--conf/],
    ['-o xml', (c, conf) => [...lab.args(c.ws, c.ns, 'eth1', conf), '-o', 'xml'], /^error: invalid argument "xml" for "-o, --output" flag: allowed choices are summary, json, yaml, name$/],
    ['an unknown flag', (c, conf) => [...lab.args(c.ws, c.ns, 'eth1', conf), '--bogus'], /^error: unknown flag: --bogus$/],
  ];
  it.each(usage)('%s', async (_what, make, message) => {
    const r = await attachChangingNothing(async (c) => ({ args: make(c, await writeConf(c.ws.dir, 'net.json', c.good)) }));
    expect(r.exitCode, show(r)).toBe(2);
    expect(r.stderr.split('\n')[0], show(r)).toMatch(/^error: /);
    expect(r.stderr.split('\n')[0], show(r)).toMatch(message);
    expect(r.stderr, show(r)).not.toMatch(/^\s{4}at /m);
    // flags commander refused (not given, or not of their kind: the first two are the command's own refusals)
    if (_what === '-o xml' || _what === 'an unknown flag') expect(r.stderr.split('\n')[1], show(r)).toBe("See 'kubectl cni-attach --help' for usage.");
  });
});

describe('bad interface names (exit 2)', () => {
  const names: [string, string][] = [
    ['empty', ''],
    ['16 bytes', 'abcdefghijklmnop'],
    ['16 bytes in 8 characters', 'ü'.repeat(8)],
    ['with a slash', 'a/b'],
    ['with a space', 'a b'],
    ['"."', '.'],
    ['".."', '..'],
  ];
  it.each(names)('%s', async (_what, ifname) => {
    const r = await attachChangingNothing(withConf((c) => c.good, ifname));
    expectCleanError(r, 2, /interface name/);
  });
});

describe('bad targets', () => {
  it('a namespace that does not exist: exit 3', async () => {
    const missing = lab.name('n');
    const r = await attachChangingNothing(async (c) => {
      const conf = await writeConf(c.ws.dir, 'net.json', c.good);
      return { args: [...lab.args(c.ws, c.ns, 'eth1', conf).slice(2), '--netns', netnsPath(missing)] };
    });
    expectCleanError(r, 3, new RegExp(`network namespace ${netnsPath(missing)} does not exist`));
  });

  it('a regular file as namespace: exit 2', async () => {
    let file = '';
    const r = await attachChangingNothing(async (c) => {
      file = join(c.ws.dir, 'not-a-netns');
      await writeFile(file, 'just a file\n');
      const conf = await writeConf(c.ws.dir, 'net.json', c.good);
      return { args: [...lab.args(c.ws, c.ns, 'eth1', conf).slice(2), '--netns', file] };
    });
    expectCleanError(r, 2, /is not a network namespace/);
    expect(r.stderr).toContain(`error: ${file} is not a network namespace (expected NAME, meaning /var/run/netns/NAME, or a path such as /var/run/netns/NAME or /proc/PID/ns/net)`);
  });
});

describe('plugins that cannot be used', () => {
  it('a plugin type that is not installed: exit 2, naming the directories searched', async () => {
    let dirs = '';
    const r = await attachChangingNothing(async (c) => {
      dirs = `${c.ws.pluginDir}:${CNI_DIR}`;
      const conf = await writeConf(c.ws.dir, 'net.json', { ...c.good, type: 'cntnosuchplugin' });
      return { args: lab.args(c.ws, c.ns, 'eth1', conf, dirs) };
    });
    const line = expectCleanError(r, 2, /CNI plugin "cntnosuchplugin" not found/);
    for (const d of dirs.split(':')) expect(line).toContain(d);
  });

  it('cniVersion 1.1.0 against bridge, which speaks up to 1.0.0: exit 2, naming the supported versions', async () => {
    const r = await attachChangingNothing(withConf((c) => ({ ...c.good, cniVersion: '1.1.0' })));
    const line = expectCleanError(r, 2, /plugin "bridge" .* supports CNI /);
    expect(line).toMatch(/\b0\.4\.0\b.*\b1\.0\.0\b/);
    expect(line).toMatch(/the config asks for 1\.1\.0/);
  });

  it('a plugin that prints garbage for ADD: exit 1, rolled back', async () => {
    const r = await attachChangingNothing(async (c) => {
      await fakePlugin(c.ws.pluginDir, 'junk', { add: 'echo "this is <not> json"' });
      const conf = await writeConf(c.ws.dir, 'junk.json', { cniVersion: '1.0.0', name: lab.name('k'), type: 'junk' });
      return { args: lab.args(c.ws, c.ns, 'eth1', conf, c.ws.pluginDir) };
    });
    const line = expectCleanError(r, 1, /plugin junk failed on ADD/);
    expect(line).toMatch(/this is <not> json/);
    expect(line).toMatch(/rolled back/);
  });

  it('a plugin that prints garbage for VERSION: exit 1', async () => {
    const r = await attachChangingNothing(async (c) => {
      await fakePlugin(c.ws.pluginDir, 'junk', { version: 'echo "garbage"', add: 'echo "{}"' });
      const conf = await writeConf(c.ws.dir, 'junk.json', { cniVersion: '1.0.0', name: lab.name('k'), type: 'junk' });
      return { args: lab.args(c.ws, c.ns, 'eth1', conf, c.ws.pluginDir) };
    });
    expectCleanError(r, 1, /plugin junk failed on VERSION/);
  });
});

describe('--dry-run', () => {
  it('prints every plugin run as CNI_COMMAND=ADD … <<EOF with its stdin JSON, and changes nothing', async () => {
    let ctx: Ctx | undefined;
    let net = '';
    const r = await attachChangingNothing(async (c) => {
      ctx = c;
      net = lab.name('k');
      const conf = await writeConf(
        c.ws.dir,
        'chain.conflist',
        conflist(net, [bridgePlugin(lab.bridge(), SUBNET, c.ws.dataDir), { type: 'tuning', mtu: 1400 }]),
      );
      return { args: [...lab.args(c.ws, c.ns, 'eth1', conf), '--dry-run'] };
    });
    expectOk(r);
    const cid = containerIdOf(netnsPath(ctx!.ns));
    expect(r.stdout.split('\n')[0]).toBe(`# target: netns=${netnsPath(ctx!.ns)} containerId=${cid}`);
    const runs = r.stdout.split(/^# plugin /m).slice(1);
    expect(runs, show(r)).toHaveLength(2);
    for (const [i, type] of ['bridge', 'tuning'].entries()) {
      const m = /^(\d)\/2: (\S+)\n(.*) <<'EOF'\n([\s\S]*?)\nEOF(?:\n|$)/.exec(runs[i]!); // execa strips the final newline
      expect(m, runs[i]).not.toBeNull();
      expect(m![1]).toBe(String(i + 1));
      expect(m![2]).toBe(type);
      const cmdline = m![3]!;
      expect(cmdline).toMatch(/^CNI_COMMAND=ADD /);
      expect(cmdline).toContain(`CNI_CONTAINERID=${cid}`);
      expect(cmdline).toContain(`CNI_NETNS=${netnsPath(ctx!.ns)}`);
      expect(cmdline).toContain('CNI_IFNAME=eth1');
      expect(cmdline).toContain(`CNI_PATH=${CNI_DIR}`);
      expect(cmdline).toMatch(new RegExp(` ${CNI_DIR}/${type}$`));
      const stdin = JSON.parse(m![4]!) as Json;
      expect(stdin).toMatchObject({ type, name: net, cniVersion: '1.0.0' });
      if (i === 1) expect(stdin).toHaveProperty('prevResult');
    }
  });

  it('-o json gives the target and the same runs as data', async () => {
    let ns = '';
    const r = await attachChangingNothing(async (c) => {
      ns = c.ns;
      const conf = await writeConf(c.ws.dir, 'net.json', c.good);
      return { args: [...lab.args(c.ws, c.ns, 'eth1', conf), '--dry-run', '-o', 'json'] };
    });
    expectOk(r);
    const plan = JSON.parse(r.stdout) as { target: Json; runs: { plugin: string; path: string; env: Record<string, string>; stdin: Json }[] };
    expect(plan.target).toEqual({ netns: netnsPath(ns), containerId: containerIdOf(netnsPath(ns)) });
    expect(plan.runs).toHaveLength(1);
    expect(plan.runs[0]).toMatchObject({ plugin: 'bridge', path: `${CNI_DIR}/bridge`, env: { CNI_COMMAND: 'ADD', CNI_IFNAME: 'eth1' } });
    expect(plan.runs[0]!.stdin).toMatchObject({ type: 'bridge', cniVersion: '1.0.0' });
  });
});

describe('output to a reader that goes away', () => {
  it('`--help | head -1` and `-o json | head -c1` end quietly with exit 0, however often', async () => {
    for (let i = 0; i < 5; i++) {
      for (const cmd of [`${BIN.attach} --help | head -1`, `${BIN.attach} --help | true`, `${BIN.list} -o json --no-cluster --cache-dir /nonexistent-cni-cache | head -c1`]) {
        const r = await execa('bash', ['-c', `set -o pipefail; ${cmd}`], { reject: false });
        expect(r.exitCode, `${cmd}: ${r.stderr}`).toBe(0);
        expect(r.stderr).toBe('');
      }
    }
  });
});
