import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { detachCommand } from '../../src/cli/detach.js';
import { checkCommand } from '../../src/cli/check.js';
import { lineTo, runProgram, stoppingNote } from '../../src/cli/main.js';
import { duringStep, hold, unlessInterrupted } from '../../src/exec/interrupt.js';
import { parseDuration, parseRequestTimeout, validateCidr } from '../../src/cli/options.js';
import { StoppedError, UsageError, shown, shownLines } from '../../src/errors.js';
import type { Deps } from '../../src/cli/context.js';
import { bridgeResult, FakeExecutor } from '../fakes/executor.js';
import type { Command } from 'commander';

const NS = '/var/run/netns/a';
const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge', capabilities: { ips: true } });

function world(stdin = conf) {
  const exec = new FakeExecutor();
  exec.netns.add(NS);
  // its ADD makes the link in the namespace and its DEL removes it, as a real plugin does (cni-check looks for it first)
  exec.addPlugin('/opt/cni/bin/bridge', (c) => {
    if (c.command === 'ADD') exec.links.set(NS, new Set([...(exec.links.get(NS) ?? []), c.env.CNI_IFNAME!]));
    if (c.command === 'DEL') exec.links.get(NS)?.delete(c.env.CNI_IFNAME!);
    return c.command === 'ADD' ? { stdout: JSON.stringify(bridgeResult('eth1', NS)) } : {};
  });
  const out: string[] = [];
  const err: string[] = [];
  const deps: Deps = {
    io: { out: (s) => void out.push(s), err: (s) => void err.push(s) },
    localExecutor: async () => exec,
    readStdin: async () => stdin,
    env: {},
  };
  return { exec, deps, out, err, stdout: () => out.join(''), stderr: () => err.join('') };
}

async function cli(make: (d: Deps) => Command, w: ReturnType<typeof world>, args: string[]) {
  return runProgram(make(w.deps), args, w.deps.io);
}

const base = ['--netns', NS, '--ifname', 'eth1', '--cache-dir', '/var/lib/cni'];

describe('kubectl cni-attach', () => {
  it('attaches and prints a short summary', async () => {
    const w = world();
    expect(await cli(attachCommand, w, [...base, '--conf', '-'])).toBe(0);
    expect(w.stdout()).toMatch(/^eth1 attached to netns \/var\/run\/netns\/a \(network net, container id cnitool-[0-9a-f]{20}\)\n  eth1  198\.18\.0\.2\/24  gateway 198\.18\.0\.1  mac 02:00:00:00:00:03\n$/);
    expect(w.stderr()).toBe('');
  });
  it('-o json prints the result exactly as the chain returned it', async () => {
    const w = world();
    expect(await cli(attachCommand, w, [...base, '--conf', '-', '-o', 'json'])).toBe(0);
    expect(JSON.parse(w.stdout())).toEqual(bridgeResult('eth1', NS));
  });
  it('-o yaml prints YAML', async () => {
    const w = world();
    expect(await cli(attachCommand, w, [...base, '--conf', '-', '-o', 'yaml'])).toBe(0);
    expect(w.stdout()).toMatch(/^cniVersion: 1\.0\.0\ninterfaces:\n/);
  });
  it('passes --ip and --mac as capability args', async () => {
    const w = world(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge', capabilities: { ips: true, mac: true } }));
    expect(await cli(attachCommand, w, [...base, '--conf', '-', '--ip', '198.18.0.9/24', '--ip', '198.18.1.9/24', '--mac', '02:00:00:00:00:09'])).toBe(0);
    const add = w.exec.calls.find((c) => c.command === 'ADD')!;
    expect(add.stdin.runtimeConfig).toEqual({ ips: ['198.18.0.9/24', '198.18.1.9/24'], mac: '02:00:00:00:00:09' });
  });
  it('--dry-run prints each plugin run as a shell command and runs nothing', async () => {
    const w = world();
    expect(await cli(attachCommand, w, [...base, '--conf', '-', '--dry-run'])).toBe(0);
    expect(w.stdout()).toMatch(/^# target: netns=\/var\/run\/netns\/a containerId=cnitool-\w+\n# plugin 1\/1: bridge\nCNI_COMMAND=ADD CNI_PATH=\/opt\/cni\/bin:\/usr\/lib\/cni CNI_CONTAINERID=cnitool-\w+ CNI_NETNS=\/var\/run\/netns\/a CNI_IFNAME=eth1 \/opt\/cni\/bin\/bridge <<'EOF'\n\{\n/);
    // only what the attach reads before changing anything: VERSION (side-effect free)
    expect(w.exec.commands()).toEqual(['VERSION bridge']);
    expect(w.exec.files.size).toBe(0);
  });
  it('--dry-run fails as the attach would before changing anything: same message, same exit code', async () => {
    const cases: [string, string, (w: ReturnType<typeof world>) => void, number, RegExp][] = [
      ['a version the plugin does not speak', JSON.stringify({ cniVersion: '1.1.0', name: 'net', type: 'bridge' }), () => undefined, 2,
        /^error: plugin "bridge" \(\/opt\/cni\/bin\/bridge\) supports CNI 0\.3\.1, 0\.4\.0, 1\.0\.0; the config asks for 1\.1\.0: set "cniVersion" to one of those$/m],
      ['a missing plugin', JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'nothing' }), () => undefined, 2,
        /^error: CNI plugin "nothing" not found in \/opt\/cni\/bin, \/usr\/lib\/cni on fake node; install it or point the CNI path at its directory \(--cni-path\)$/m],
      ['a capability no plugin declares', JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' }), () => undefined, 2, /declares the "ips" capability/],
      ['an existing link', JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' }), (w) => w.exec.links.set(NS, new Set(['eth1'])), 2, /an interface named eth1 already exists/],
    ];
    for (const [what, conf, arrange, code, msg] of cases) {
      const args = [...base, '--conf', '-', ...(what.startsWith('a capability') ? ['--ip', '198.18.0.9/24'] : [])];
      const dry = world(conf);
      arrange(dry);
      expect(await cli(attachCommand, dry, [...args, '--dry-run']), what).toBe(code);
      expect(dry.stderr(), what).toMatch(msg);
      expect(dry.stdout(), what).toBe('');
      expect(dry.exec.calls.filter((c) => c.command !== 'VERSION'), what).toEqual([]);
      const real = world(conf);
      arrange(real);
      expect(await cli(attachCommand, real, args), what).toBe(code);
      expect(real.stderr(), what).toBe(dry.stderr());
    }
  });
  it('--dry-run -o json gives the plan as data', async () => {
    const w = world();
    expect(await cli(attachCommand, w, [...base, '--conf', '-', '--dry-run', '-o', 'json'])).toBe(0);
    const plan = JSON.parse(w.stdout());
    expect(plan.target).toEqual({ netns: NS, containerId: expect.stringMatching(/^cnitool-/) });
    expect(plan.runs[0]).toMatchObject({ plugin: 'bridge', path: '/opt/cni/bin/bridge', env: { CNI_COMMAND: 'ADD', CNI_IFNAME: 'eth1' }, stdin: { name: 'net', type: 'bridge' } });
  });
  it('a plugin failure exits 1 with its message', async () => {
    const w = world();
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' ? { code: 1, stdout: '{"code":7,"msg":"no ipam"}' } : {}));
    expect(await cli(attachCommand, w, [...base, '--conf', '-'])).toBe(1);
    expect(w.stderr()).toBe('error: plugin bridge failed on ADD (CNI error 7): no ipam (rolled back: nothing was left behind)\n');
  });
  it.each([
    [['--conf', '-', '--bogus'], /^error: unknown flag: --bogus$/m],
    [['--conf', '-', 'a-pod'], /give one of a pod, --netns or -l\/--all, not a pod name and --netns/],
    [['--conf', '-', 'a-pod', 'another'], /too many arguments/],
    [['--conf', '-', '--net', 'x'], /^error: --net cannot be used with --netns: a bare network namespace is reached on this host, without the cluster or a runtime \(those flags are for pods\)\n$/],
    [['--conf', '-', '--context', 'c', '--as', 'u', '--no-annotate'], /^error: --context, --as, --no-annotate cannot be used with --netns: /],
    [['--conf', '-', '--client-certificate', 'c.crt', '--client-key', 'c.key', '--username', 'u', '--password', 'p'], /^error: --client-certificate, --client-key, --username, --password cannot be used with --netns: /],
    [['--conf', '-', '--runtime', 'rkt'], /^error: invalid argument "rkt" for "--runtime" flag: allowed choices are auto, docker/m],
    [['--conf', '-', '-o', 'xml'], /^error: invalid argument "xml" for "-o, --output" flag: allowed choices are summary, json, yaml/m],
    [['--conf', '-', '--timeout', 'soon'], /^error: invalid argument "soon" for "--timeout" flag: time: invalid duration "soon"\nSee 'kubectl cni-attach --help' for usage\.\n$/],
    [['--conf', '-', '--ip', '198.18.0.1'], /^error: invalid argument "198\.18\.0\.1" for "--ip" flag: invalid CIDR address: 198\.18\.0\.1\nSee 'kubectl cni-attach --help' for usage\.\n$/],
    [['--conf', '-', '--mac', 'zz'], /invalid argument "zz" for "--mac" flag: not a MAC address/],
    [['--conf', '-', '--cni-path', 'relative/dir'], /not an absolute directory/],
    [['--conf', '-', '--args', 'nokey'], /is not KEY=VALUE/],
    [['--conf', '/nonexistent/net.json'], /--conf \/nonexistent\/net.json: no such file/],
    // every refusal of the config names it as `--conf PATH`, whether it could not be read or what it holds is refused
    // (before: `--conf adir: is a directory` but `notjson.json: invalid JSON (…)`)
    [['--conf', '/'], /^error: --conf \/: is a directory\n$/],
    [[], /which network\? give --conf FILE/],
  ])('bad usage %j exits 2 with one line', async (extra, msg) => {
    const w = world();
    expect(await cli(attachCommand, w, [...base, ...extra])).toBe(2);
    expect(w.stderr()).toMatch(msg);
    expect(w.stderr()).not.toMatch(/\n\s+at /);
    expect(w.exec.calls).toHaveLength(0);
    expect(w.exec.files.size).toBe(0);
  });
  it.each([
    // an IPNet flag as pflag reads it (net.ParseCIDR of the trimmed value): before, our own words "not an address with prefix length"
    ['1.2.3', '1.2.3'], ['300.1.1.1/24', '300.1.1.1/24'], ['1.2.3.4/33', '1.2.3.4/33'], ['::1/129', '::1/129'], ['abc', 'abc'],
    ['198.18.0.1', '198.18.0.1'], ['01.2.3.4/24', '01.2.3.4/24'], ['fe80::1%eth0/64', 'fe80::1%eth0/64'], ['198.18.0.1/', '198.18.0.1/'],
    ['198.18.0.1/24/1', '198.18.0.1/24/1'], ['198.18.0.1/+24', '198.18.0.1/+24'], ['', ''], [' 1.2.3 ', '1.2.3'],
  ])('--ip %j is refused in pflag\'s words for an IPNet flag, with the See line, exit 2', async (value, parsed) => {
    const w = world();
    expect(await cli(attachCommand, w, [...base, '--conf', '-', '--ip', '198.18.0.9/24', '--ip', value])).toBe(2);
    expect(w.stderr()).toBe(`error: invalid argument ${JSON.stringify(value)} for "--ip" flag: invalid CIDR address: ${parsed}\nSee 'kubectl cni-attach --help' for usage.\n`);
    expect(w.exec.calls).toHaveLength(0);
  });
  it('--ip takes what pflag\'s IPNet flag takes: outer whitespace trimmed, a prefix length with leading zeros, IPv6 and IPv4-in-IPv6', async () => {
    const w = world(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge', capabilities: { ips: true } }));
    expect(await cli(attachCommand, w, [...base, '--conf', '-', '--ip', ' 198.18.0.9/24 ', '--ip', '2001:db8::9/064', '--ip', '::ffff:198.18.0.9/120'])).toBe(0);
    expect(w.exec.calls.find((c) => c.command === 'ADD')!.stdin.runtimeConfig).toEqual({ ips: ['198.18.0.9/24', '2001:db8::9/064', '::ffff:198.18.0.9/120'] });
  });
  it('a missing namespace exits 3', async () => {
    const w = world();
    expect(await cli(attachCommand, w, ['--netns', '/var/run/netns/nope', '--ifname', 'eth1', '--conf', '-'])).toBe(3);
    expect(w.stderr()).toBe('error: network namespace /var/run/netns/nope does not exist\n');
  });
  it('a --conf file that is not JSON is named as --conf PATH, as one that cannot be read is, with the line and column of what is wrong', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'cni-attach-conf-'));
    try {
      const file = join(dir, 'notjson.json');
      await writeFile(file, 'not json\n');
      const w = world();
      expect(await cli(attachCommand, w, [...base, '--conf', file])).toBe(2);
      expect(w.stderr()).toBe(`error: --conf ${file}: invalid JSON (line 1, column 2: unexpected character "o")\n`);
      const d = world();
      expect(await cli(attachCommand, d, [...base, '--conf', dir])).toBe(2);
      expect(d.stderr()).toBe(`error: --conf ${dir}: is a directory\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('-v adds the stack trace', async () => {
    const w = world('{bad');
    expect(await cli(attachCommand, w, [...base, '--conf', '-', '-v'])).toBe(2);
    expect(w.stderr()).toMatch(/^error: --conf - \(stdin\): invalid JSON.*\n.*UsageError/s);
  });
  it('--help exits 0 and lists the flags', async () => {
    const w = world();
    expect(await cli(attachCommand, w, ['--help'])).toBe(0);
    expect(w.stdout()).toMatch(/--netns <path>[\s\S]*--ifname <name>[\s\S]*--conf <file>[\s\S]*--timeout <duration>[\s\S]*Exit codes/);
  });
  it('cni-detach and cni-check --help have an exit-code section too (they had none: attach and gc had)', async () => {
    for (const [make, code3] of [[detachCommand, /3 target\s+not\s+found,\s+or\s+nothing\s+in\s+this\s+--cache-dir\s+while\s+the\s+cluster\s+records\s+it\s+with\s+another/], [checkCommand, /3 target\s+not found, or nothing attached as --ifname/]] as const) {
      const w = world();
      expect(await cli(make, w, ['--help'])).toBe(0);
      expect(w.stdout()).toMatch(/\nExit codes: 0 /);
      expect(w.stdout()).toMatch(code3);
      expect(w.stdout()).toMatch(/130 SIGINT/);
    }
  });
});

const GENERIC = 'stopping what runs now; the last line says what was changed and what was not (send it again to quit at once)';

describe('the note on the first signal: only what is certain then, never the outcome (the last line says that)', () => {
  it('attach, detach, gc: the same words before, during and after a change (before: "nothing was changed yet" for an attach signalled between its last steps, which then said "SIGINT came after the work was done: it stands", exit 0; "rolling back"/"keeping what is recorded" while the step under way could still finish the change)', () => {
    const names = [attachCommand().name(), detachCommand().name(), 'kubectl cni-gc'];
    // before any change, during one (a hold), and after one (the hold released: the tryout's moment)
    for (const name of names) expect(stoppingNote('SIGINT', name)).toBe(`note: SIGINT: ${GENERIC}`);
    const release = hold();
    try {
      for (const name of names) expect(stoppingNote('SIGTERM', name)).toBe(`note: SIGTERM: ${GENERIC}`);
    } finally {
      release();
    }
    for (const name of names) {
      const note = stoppingNote('SIGINT', name);
      expect(note).toBe(`note: SIGINT: ${GENERIC}`);
      expect(note).not.toMatch(/nothing was changed yet|rolling back|keeping what is recorded/);
    }
  });
  it('cni-list and cni-check change nothing; a step under way says what is certain of it', async () => {
    expect(stoppingNote('SIGINT', 'kubectl cni-list')).toBe('note: SIGINT: stopping: listing changes nothing (send it again to quit at once)');
    expect(stoppingNote('SIGINT', checkCommand().name())).toBe('note: SIGINT: stopping what runs now: CHECK changes nothing (send it again to quit at once)');
    // the step under way speaks: an attach whose interface stands, waiting for its network-status update
    const release = hold();
    let answer: (v: undefined) => void = () => undefined;
    const wait = unlessInterrupted(new Promise<undefined>((r) => (answer = r)), "the pod's network-status update");
    try {
      expect(stoppingNote('SIGINT', attachCommand().name())).toBe("note: SIGINT: stopping the wait for the pod's network-status update: what was changed before it stands (the same command again makes sure) (send it again to quit at once)");
      const end = duringStep('stopping before any pod was started: nothing was changed');
      expect(stoppingNote('SIGINT', attachCommand().name())).toBe('note: SIGINT: stopping before any pod was started: nothing was changed (send it again to quit at once)');
      end();
      answer(undefined);
      await wait;
      // the update answered: its step no longer speaks
      expect(stoppingNote('SIGINT', attachCommand().name())).toBe(`note: SIGINT: ${GENERIC}`);
    } finally {
      release();
    }
  });
});

describe('kubectl cni-detach and cni-check', () => {
  it('detaches what attach cached, and a second detach is a no-op with a note', async () => {
    const w = world();
    expect(await cli(attachCommand, w, [...base, '--conf', '-'])).toBe(0);
    const d = world(); // fresh output buffers, same node
    d.deps.localExecutor = async () => w.exec;
    expect(await cli(detachCommand, d, base)).toBe(0);
    expect(d.stdout()).toBe('eth1 detached from netns /var/run/netns/a (network net)\n');
    expect(await cli(detachCommand, d, base)).toBe(0);
    expect(d.stderr()).toMatch(/note: nothing is attached as eth1 in netns \/var\/run\/netns\/a/);
    expect(w.exec.files.size).toBe(0);
  });
  it('check runs CHECK on a cached attachment and exits 3 when there is none', async () => {
    const w = world();
    expect(await cli(checkCommand, w, base)).toBe(3);
    expect(await cli(attachCommand, w, [...base, '--conf', '-'])).toBe(0);
    expect(await cli(checkCommand, w, base)).toBe(0);
    expect(w.stdout()).toMatch(/eth1 in netns \/var\/run\/netns\/a \(network net\): CHECK ok/);
  });
  it.each([
    [['-l', 'app=x'], "cni-check takes one pod (or --netns PATH) at a time, not -l: `kubectl cni-list -l app=x` lists the attachments of those pods, then cni-check each by name"],
    // the flags given go along, so that the printed cni-list lists those pods (a verification tryout: it dropped -n
    // and the rest, and listed the default namespace)
    [['--selector=app=x', '-n', 'shop'], 'not -l: `kubectl cni-list -n shop -l app=x`'],
    [['--all', '-n', 'shop'], 'not --all: `kubectl cni-list -n shop` lists'],
    [['-l', 'app in (a,b)', '-n', 'shop', '--kubeconfig', '/k/config', '--runtime', 'agent', '--cache-dir', '/srv/cni'], "`kubectl cni-list -n shop -l 'app in (a,b)' --kubeconfig /k/config --runtime agent --cache-dir /srv/cni` lists"],
  ])('check %j: one pod at a time, said as that (exit 2), not "unknown option"; nothing run', async (args, msg) => {
    const w = world();
    w.deps.kube = async () => {
      throw new Error('the cluster must not be asked');
    };
    expect(await cli(checkCommand, w, [...args, '--ifname', 'eth1'])).toBe(2);
    expect(w.stderr()).toContain(msg);
    expect(w.stderr()).not.toMatch(/unknown option/);
    expect(w.exec.calls).toHaveLength(0);
  });
  it('check and detach --dry-run print the same "# target:" header (netns=… containerId=…)', async () => {
    const w = world();
    expect(await cli(attachCommand, w, [...base, '--conf', '-'])).toBe(0);
    const header = /^# target: netns=\/var\/run\/netns\/a containerId=cnitool-[0-9a-f]{20}\n/;
    const c = world();
    c.deps.localExecutor = async () => w.exec;
    expect(await cli(checkCommand, c, [...base, '--dry-run'])).toBe(0);
    expect(c.stdout()).toMatch(header);
    const d = world();
    d.deps.localExecutor = async () => w.exec;
    expect(await cli(detachCommand, d, [...base, '--dry-run'])).toBe(0);
    expect(d.stdout()).toMatch(header);
    expect(c.stdout().split('\n')[0]).toBe(d.stdout().split('\n')[0]);
  });
});

describe('text from outside is shown, never obeyed', () => {
  const forged = '{"code":11,"msg":"bad \\u001b[31mRED\\u001b[0m\\r\\nerror: injected line","details":"d\\u0000\\u0007"}';
  const failing = (w: ReturnType<typeof world>) =>
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' ? { code: 1, stdout: forged, stderr: 'warn\u001b]0;owned\u0007\r\nnext\tline\n' } : {}));
  it('a plugin\'s error is one line: ANSI, CR, LF, NUL, BEL shown escaped', async () => {
    const w = world();
    failing(w);
    expect(await cli(attachCommand, w, [...base, '--conf', '-'])).toBe(1);
    const lines = w.stderr().split('\n');
    expect(lines[0]).toBe('error: plugin bridge failed on ADD (CNI error 11): bad \\x1b[31mRED\\x1b[0m\\r\\nerror: injected line: d\\x00\\x07 (rolled back: nothing was left behind)');
    expect(w.stderr()).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(lines.filter((l) => l.startsWith('error:'))).toHaveLength(1);
  });
  it('-v: the plugin\'s stderr keeps its line breaks, nothing else of control characters', async () => {
    const w = world();
    failing(w);
    expect(await cli(attachCommand, w, [...base, '--conf', '-', '-v'])).toBe(1);
    expect(w.stderr()).toContain('plugin stderr:\nwarn\\x1b]0;owned\\x07\nnext\\tline\n');
    expect(w.stderr()).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });
  it('notes (and debug, I lines) are one line each, whatever the text they quote', () => {
    const got: string[] = [];
    lineTo({ out: () => undefined, err: (s) => void got.push(s) }, 'note:')('could not delete: Forbidden\nerror: forged\u001b[2J');
    expect(got).toEqual(['note: could not delete: Forbidden\\nerror: forged\\x1b[2J\n']);
  });
  it('shown escapes C0, DEL and C1 and nothing else; twice is once; shownLines keeps LF (and CRLF as LF)', () => {
    expect(shown('a\u001b[1mb\tc\rd\ne\u0000\u007f\u0085\u009b é ✓ \\x1b')).toBe('a\\x1b[1mb\\tc\\rd\\ne\\x00\\x7f\\x85\\x9b é ✓ \\x1b');
    expect(shown(shown('a\u001bb\n'))).toBe(shown('a\u001bb\n'));
    expect(shownLines('one\u001b]0;t\u0007\r\ntwo\rthree\n')).toBe('one\\x1b]0;t\\x07\ntwo\\rthree\n');
    expect(shown('error: pod shop/web-1 not found; see -n')).toBe('error: pod shop/web-1 not found; see -n');
  });
});

describe('flag parsing', () => {
  // pflag takes the word after a flag that needs a value as that value: `--ifname -v` names the interface "-v"
  // cni-attach refuses to make such a name (options.ts validateNewIfName: exit 2, naming it, nothing run); cni-check
  // and cni-detach take it, so that one made before can be undone
  it.each(['-v', '-v5', '--version', '--'])('--ifname %s names the interface so, and is no other flag', async (ifname) => {
    const w = world();
    expect(await cli(attachCommand, w, ['--netns', NS, '--ifname', ifname, '--cache-dir', '/var/lib/cni', '--conf', '-'])).toBe(2);
    expect(w.stderr()).toMatch(new RegExp(`^error: interface name "${ifname.replace(/-/g, '\\-')}" begins with '-': the kernel and CNI would take it, but tools that take an interface name on their command line read it as an option`));
    expect(w.exec.calls).toEqual([]);
    // nothing is attached under that name here: cni-check looked for it by that name (exit 3), no other flag was set
    const c = world();
    expect(await cli(checkCommand, c, ['--netns', NS, '--ifname', ifname, '--cache-dir', '/var/lib/cni'])).toBe(3);
    expect(c.stderr()).toMatch(new RegExp(`^error: nothing is attached as ${ifname.replace(/-/g, '\\-')} in netns`));
    expect(c.stderr()).not.toMatch(/begins with '-'|\n\s+at /);
  });
  it('a flag whose value is -v does not turn on -v: a failure prints no stack trace', async () => {
    const w = world();
    expect(await cli(checkCommand, w, ['--netns', NS, '--ifname', '-v', '--cache-dir', '/var/lib/cni'])).toBe(3);
    expect(w.stderr().trim().split('\n')).toHaveLength(1);
    expect(w.stderr()).not.toMatch(/\n\s+at /);
  });
  it.each([['30s', 30000], ['2m', 120000], ['500ms', 500], ['1m30s', 90000], ['1h', 3600000], ['5', 5000], ['0.5s', 500], ['1.5ms', 1.5], ['1.1s', 1100], ['2500us', 2.5], ['1000µs', 1], ['1ms', 1]])('duration %s', (t, ms) => {
    expect(parseDuration(t)).toBe(ms);
  });
  it.each(['', '0', '0s', '-1s', '10x', 's', '1s junk'])('refuses duration %j', (t) => {
    expect(() => parseDuration(t)).toThrow(/--timeout/);
  });
  it.each([['0.4ms', '400µs'], ['999us', '999µs'], ['10ns', '10ns'], ['0.0001s', '100µs']])('refuses %s, below the least plugin time limit (1ms), saying it exactly (exit 2)', (t, said) => {
    let err: unknown;
    try {
      parseDuration(t);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(`--timeout ${t}: less than 1ms, the least plugin time limit: no plugin can even start within ${said}, so every run would be killed (give e.g. 500ms or 10s)`);
  });
  it('--request-timeout: 0 (in any unit) is no limit; a fraction of a millisecond is kept, not rounded to 0 (kubectl takes it: every request then times out)', () => {
    expect([parseRequestTimeout('0'), parseRequestTimeout('0ms'), parseRequestTimeout('0.0s'), parseRequestTimeout('1ms'), parseRequestTimeout('1.5s'), parseRequestTimeout('0.5ms')]).toEqual([0, 0, 0, 1, 1500, 0.5]);
  });
  it.each(['198.18.0.1/24', 'fd00::1/64', '198.18.0.1/32'])('accepts CIDR %s', (c) => expect(validateCidr(c)).toBe(c));
  it.each(['198.18.0.1', '198.18.0.1/33', 'x/24', '198.18.0.1/24/1', 'fd00::1/129'])('refuses CIDR %s', (c) => {
    expect(() => validateCidr(c)).toThrow(/--ip/);
  });
});

describe('completion', () => {
  it('prints a bash script for all five commands that asks the command itself (__completeNoDesc) at each TAB', async () => {
    const w = world();
    expect(await cli(attachCommand, w, ['completion', 'bash'])).toBe(0);
    const s = w.stdout();
    for (const b of ['attach', 'detach', 'check', 'list', 'gc']) expect(s).toContain(`complete -F _kubectl_cni_${b} kubectl-cni_${b}`);
    expect(s).toContain('out=$("${words[0]}" __completeNoDesc "${words[@]:1}" 2>/dev/null) || return');
    // no candidates of its own, no kubectl: one source (complete.ts)
    expect(s).not.toMatch(/kubectl get|compgen -W/);
  });
  it('zsh wraps it with bashcompinit; other shells are refused', async () => {
    const w = world();
    expect(await cli(attachCommand, w, ['completion', 'zsh'])).toBe(0);
    expect(w.stdout()).toMatch(/^#compdef kubectl-cni_attach /);
    expect(w.stdout()).toContain('bashcompinit');
    expect(await cli(attachCommand, w, ['completion', 'powershell'])).toBe(2);
  });
  it('fish: flags, choices, files, and the POD argument through kubectl_complete-cni_*', async () => {
    const w = world();
    expect(await cli(attachCommand, w, ['completion', 'fish'])).toBe(0);
    const s = w.stdout();
    for (const b of ['attach', 'detach', 'check', 'list', 'gc']) {
      expect(s).toContain(`complete -c kubectl-cni_${b} -f -a '(kubectl_complete-cni_${b} (commandline -opc)[2..] (commandline -ct) 2>/dev/null | string match -v -r "^:")'`);
    }
    expect(s).toMatch(/^complete -c kubectl-cni_attach -l runtime -x -a 'auto docker kind cri agent' -d /m);
    expect(s).toMatch(/^complete -c kubectl-cni_attach -l conf -r -F -d /m);
    expect(s).toMatch(/^complete -c kubectl-cni_list -s o -l output -x -a 'table wide name json yaml jsonpath=' -d /m);
  });
});

describe('-v and the stack of an error', () => {
  it('a stop the user asked for (their signal) prints no stack, even at -v=6; an error of the tool\'s does', async () => {
    const w = world();
    w.deps.readStdin = async () => {
      throw new StoppedError('SIGINT', 'stopped by SIGINT (Ctrl-C) before anything was changed');
    };
    expect(await cli(attachCommand, w, [...base, '--conf', '-', '-v=6'])).toBe(130);
    expect(w.stderr()).toMatch(/^error: attach stopped by SIGINT \(Ctrl-C\) before anything was changed/m);
    // before: the StoppedError's stack followed, noise for a stop the user asked for
    expect(w.stderr()).not.toMatch(/\n\s+at /);
    const u = world();
    u.deps.readStdin = async () => {
      throw new UsageError('a conf that cannot be read');
    };
    expect(await cli(attachCommand, u, [...base, '--conf', '-', '-v=6'])).toBe(2);
    expect(u.stderr()).toMatch(/\n\s+at /);
  });
});
