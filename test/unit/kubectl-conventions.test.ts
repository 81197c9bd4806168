/** kubectl's conventions in the CLI: pflag's argv forms, jsonpath templates, list printing, events, completion, --version. */
import { describe, expect, it } from 'vitest';
import { Command, Option } from 'commander';
import { flagSpecs, normalizeArgv, scanArgv } from '../../src/cli/argv.js';
import { parseTemplate, printJsonPath } from '../../src/cli/jsonpath.js';
import { asList, clearNotes, fit, MAX_NOTES, parseListFormat, printRows, REASON_WIDTH, type Row } from '../../src/cli/list-print.js';
import { addedInterfaceEvent, failedAddInterfaceEvent, hideCommands, removedInterfaceEvent } from '../../src/resolve/events.js';
import { lockPath } from '../../src/cni/cache.js';
import { complete, completionText, Directive, directiveLine, toolOf } from '../../src/cli/complete.js';
import { platform, userAgent, versionData } from '../../src/cli/version.js';
import { FlagTypeError, parseLevel, parseRequestTimeout, withoutEmptyOverrides } from '../../src/cli/options.js';
import { UsageError } from '../../src/errors.js';
import { attachCommand } from '../../src/cli/attach.js';
import { detachCommand } from '../../src/cli/detach.js';
import { listCommand } from '../../src/cli/list.js';
import { gcCommand } from '../../src/cli/gc.js';
import { checkCommand } from '../../src/cli/check.js';
import { SANDBOX, world } from '../fakes/world.js';

describe('argv in pflag forms (normalizeArgv)', () => {
  const cmd = new Command()
    .option('-n, --namespace <ns>')
    .option('-o, --output <f>')
    .option('--insecure-skip-tls-verify')
    .option('--as-group <g>')
    .option('--ifname <name>')
    .option('-A, --all-namespaces')
    .addOption(new Option('-v, --v <level>'))
    .option('--version');
  const n = (...a: string[]) => normalizeArgv(a, flagSpecs(cmd));
  it.each([
    [['-n=shop'], ['-n', 'shop']],
    [['-nshop'], ['-n', 'shop']],
    [['-n', 'shop'], ['-n', 'shop']],
    [['--namespace=shop'], ['--namespace=shop']],
    [['-ojson'], ['-o', 'json']],
    [['-o=jsonpath={.items[*].metadata.name}'], ['-o', 'jsonpath={.items[*].metadata.name}']],
    [['--insecure-skip-tls-verify=true'], ['--insecure-skip-tls-verify']],
    [['--insecure-skip-tls-verify=T'], ['--insecure-skip-tls-verify']],
    [['--insecure-skip-tls-verify=false'], []],
    [['--insecure-skip-tls-verify=0'], []],
    [['--insecure-skip-tls-verify=maybe'], ['--insecure-skip-tls-verify=maybe']],
    [['-v=6'], ['--v=6']],
    [['-v', '6'], ['--v=6']],
    [['-v6'], ['--v=6']],
    [['--v=6'], ['--v=6']],
    [['--v', '6'], ['--v=6']],
    [['-v'], ['--v=1']],
    // the next word is the level, as pflag takes it (`-v abc` was level 1 and a pod named abc), unless it is a flag
    [['-v', 'web-1'], ['--v=web-1']],
    [['-v', 'abc', 'web-1'], ['--v=abc', 'web-1']],
    [['-v', '--ifname', 'x'], ['--v=1', '--ifname', 'x']],
    [['--verbose'], ['--v=1']],
    [['--version'], ['--version']],
    [['pod', '--', '-n=x', '-v'], ['pod', '--', '-n=x', '-v']],
    // booleans and a flag taking a value in one word, as pflag reads them
    [['-An', 'shop'], ['-A', '-n', 'shop']],
    [['-An=shop'], ['-A', '-n', 'shop']],
    [['-Av6'], ['-A', '--v=6']],
    [['-A=false'], []],
    [['-A=true'], ['-A']],
  ])('%j → %j', (input, out) => expect(n(...input)).toEqual(out));
  // pflag takes the word after a flag that needs a value as that value, whatever it looks like: no rewrite touches it
  it.each([
    [['--ifname', '-v', '--conf', 'base.json']],
    [['--ifname', '-v5']],
    [['--ifname', '-v=6']],
    [['--ifname', '--v=2']],
    [['--ifname', '--verbose']],
    [['-n', '-v']],
    [['--namespace', '-nshop']],
    [['-n', '-n=x']],
    [['-o', '-ojson']],
    [['--as-group', '--insecure-skip-tls-verify=false']],
    [['--ifname', '-An=x']],
    [['--ifname', '--version']],
  ])('%j: the value stays as it is', (input) => expect(n(...input)).toEqual(input));
  it.each([
    [['--ifname', '--', '-v'], ['--ifname', '--', '--v=1']],
    [['-n', '--', 'pod', '-v6'], ['-n', '--', 'pod', '--v=6']],
    [['-n=-v', '-v'], ['-n', '-v', '--v=1']],
    [['-n-v'], ['-n', '-v']],
    [['-An', '-v'], ['-A', '-n', '-v']],
    [['-v', '3', '--ifname', '-v'], ['--v=3', '--ifname', '-v']],
  ])('%j → %j: a value that looks like a flag, or like the end of flags, is the value', (input, out) => expect(n(...input)).toEqual(out));
  it('says which word is a flag, a value, an argument, the end of the flags', () => {
    expect(scanArgv(['web', '--ifname', '--', '-nshop', '--', '-v'], flagSpecs(cmd)).map((w) => `${w.role}:${w.text}`))
      .toEqual(['arg:web', 'flag:--ifname', 'value:--', 'flag:-n', 'value:shop', 'end:--', 'arg:-v']);
  });
});

describe('-v: klog\'s Level (int32, strconv.ParseInt base 10), in pflag\'s words', () => {
  it.each([['0', 0], ['6', 6], ['-3', -3], ['+2', 2], ['2147483647', 2147483647], ['-2147483648', -2147483648]])('%s → %d', (t, n) => expect(parseLevel(t)).toBe(n));
  it.each([['abc', 'invalid syntax'], ['1.5', 'invalid syntax'], ['', 'invalid syntax'], [' 1', 'invalid syntax'], ['0x10', 'invalid syntax'], ['1_0', 'invalid syntax'], ['99999999999', 'value out of range'], ['-2147483649', 'value out of range']])('%j: %s', (t, why) =>
    expect(() => parseLevel(t)).toThrow(`invalid argument ${JSON.stringify(t)} for "-v, --v" flag: strconv.ParseInt: parsing ${JSON.stringify(t)}: ${why}`));
  it('-v -3 takes the signed number as its level, as pflag takes the next word', () => expect(normalizeArgv(['-v', '-3', 'web'], flagSpecs(attachCommand()))).toEqual(['--v=-3', 'web']));
  it('every command refuses a bad level before its action (exit 2), and takes a negative one', async () => {
    const runs: [typeof attachCommand, string[]][] = [
      [attachCommand, ['web-1', '--ifname', 'eth1', '--conf', '-']],
      [detachCommand, ['web-1', '--ifname', 'eth1']],
      [listCommand, ['web-1', '-n', 'shop']],
      [gcCommand, []],
    ];
    for (const [make, args] of runs) {
      const w = world();
      expect(await w.cli(make, [...args, '-v=abc']), make.name).toBe(2);
      // a typed flag's value pflag would refuse: its words, then cobra's See line (before: the one line alone)
      expect(w.stderr()).toBe(`error: invalid argument "abc" for "-v, --v" flag: strconv.ParseInt: parsing "abc": invalid syntax\nSee '${make(w.deps).name()} --help' for usage.\n`);
      expect(w.exec.calls, make.name).toEqual([]);
      expect(w.kubeCalls, make.name).toEqual([]);
    }
    const w = world();
    expect(await w.cli(attachCommand, ['web-1', '--ifname', 'eth1', '--conf', '-', '-v=-3'])).toBe(0);
    expect(w.stderr()).toBe('');
  });
});

describe('an empty override is no override (clientcmd: only a non-empty one is used)', () => {
  it('drops -n "", --context "", --kubeconfig "" and the like; keeps the rest', () =>
    expect(withoutEmptyOverrides({ namespace: '', context: '', kubeconfig: '', cluster: 'c', server: '', token: '', user: 'u', ifname: '' })).toEqual({ cluster: 'c', user: 'u', ifname: '' }));
  it('-n "" is the context\'s namespace for the commands and completion; --request-timeout "" its default', async () => {
    const w = world();
    expect(await w.cli(attachCommand, ['web-1', '-n', '', '--context', '', '--request-timeout', '', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    expect(w.kubeCalls.at(-1)).not.toHaveProperty('namespace');
    expect(w.kubeCalls.at(-1)).not.toHaveProperty('context');
    expect(w.kubeCalls.at(-1)).toMatchObject({ requestTimeoutMs: 30_000 });
    expect(w.stdout()).toMatch(/^eth1 attached to pod shop\/web-1 /);
    w.kube.add({ ...w.pod, metadata: { ...w.pod.metadata, name: 'db-1', namespace: 'other' } });
    expect(await complete('attach', attachCommand(w.deps), ['-n', '', ''], w.deps)).toEqual({ candidates: ['web-1'], directive: 4 });
    expect(w.kubeCalls.at(-1)).not.toHaveProperty('namespace');
  });
});

describe('--request-timeout, as client-go\'s clientcmd.ParseTimeout reads it (kubectl: 0 is no limit)', () => {
  // a non-negative integer (strconv.ParseInt, base 10) is seconds; else Go's time.ParseDuration; a negative duration
  // sets no deadline (http.Client), as 0; longer than a Node timer can hold: the longest one
  it.each([
    ['0', 0], ['0s', 0], ['5s', 5000], ['1m', 60_000], ['2', 2000], ['1m30s', 90_000], ['+5', 5000], ['05', 5000], ['-0', 0],
    ['1.5s', 1500], ['.5s', 500], ['1.s', 1000], ['+1s', 1000], ['1ns', 1e-6], ['-1s', 0], ['-0s', 0],
    ['99999999999', 2 ** 31 - 1], ['2562047h', 2 ** 31 - 1],
  ])('%j → %d ms', (t, ms) => expect(parseRequestTimeout(t)).toBe(ms));
  // what /usr/bin/kubectl (1.32.4) answers, e.g. `kubectl get pods --request-timeout 1.5 --server https://127.0.0.1:1`,
  // exit 1 (here 2, bad usage): the same line for each of these values
  const KUBECTL_SAYS = 'Invalid timeout value. Timeout must be a single integer in seconds, or an integer followed by a corresponding time unit (e.g. 1s | 2m | 3h)';
  it.each(['1.5', '-1', 'soon', 'x', ' 5', '5 ', '1_0', '0x10', '1e3', '5S', '2562048h', '9223372036854775808', '-', '.', '1.5.2s'])('refuses %j in kubectl\'s words (exit 2)', (t) => {
    expect(() => parseRequestTimeout(t)).toThrow(new UsageError(KUBECTL_SAYS));
    expect(() => parseRequestTimeout(t)).not.toThrow(FlagTypeError);
  });
  it('Go\'s time.ParseDuration to the letter (src/time/format.go), its overflow at ±2^63 ns included', async () => {
    const { goParseDuration } = await import('../../src/duration.js');
    expect(goParseDuration('1h2m3.5s')).toEqual({ ns: 3_723_500_000_000n });
    expect(goParseDuration('-1.5s')).toEqual({ ns: -1_500_000_000n });
    expect(goParseDuration('-9223372036854775808ns')).toEqual({ ns: -(2n ** 63n) });
    expect(goParseDuration('9223372036854775807ns')).toEqual({ ns: 2n ** 63n - 1n });
    expect(goParseDuration('9223372036854775808ns')).toEqual({ error: 'time: invalid duration "9223372036854775808ns"' });
    expect(goParseDuration('2562048h')).toEqual({ error: 'time: invalid duration "2562048h"' });
    expect(goParseDuration('1.5')).toEqual({ error: 'time: missing unit in duration "1.5"' });
    expect(goParseDuration('5x')).toEqual({ error: 'time: unknown unit "x" in duration "5x"' });
    expect(goParseDuration(' 5s')).toEqual({ error: 'time: invalid duration " 5s"' });
  });
  it('every command refuses it so, with no See line (kubectl prints none: the flag is a string to its parser)', async () => {
    for (const v of ['1.5', '-1']) {
      for (const [make, args] of [[attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-']], [detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']], [checkCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1']], [listCommand, ['-A']], [gcCommand, []], [attachCommand, ['--netns', '/var/run/netns/x', '--ifname', 'eth1', '--conf', '-']]] as const) {
        const w = world();
        expect(await w.cli(make, [...args, '--request-timeout', v]), `${args.join(' ')} ${v}`).toBe(2);
        expect(w.stderr()).toBe(`error: ${KUBECTL_SAYS}\n`);
        expect(w.exec.calls).toEqual([]);
      }
    }
  });
});

describe('kubectl jsonpath templates', () => {
  const list = { kind: 'List', items: [{ metadata: { name: 'a' }, ifname: 'eth1', n: 1 }, { metadata: { name: 'b' }, ifname: 'net1', n: 2 }] };
  it.each([
    ['{.items[*].metadata.name}', 'a b'],
    ['{.items[0].ifname}', 'eth1'],
    ['{range .items[*]}{.metadata.name}{"\\t"}{.ifname}{"\\n"}{end}', 'a\teth1\nb\tnet1\n'],
    ['{range .items}{@.metadata.name},{end}', 'a,b,'],
    ['names: {.items[*].metadata.name}!', 'names: a b!'],
    ['{.items[?(@.n==2)].metadata.name}', 'b'],
    ['{.kind}', 'List'],
    ['{.items[1].metadata}', '{"name":"b"}'],
    ['{$.items[*].n}', '1 2'],
    ['{.nothing}', ''],
  ])('%s', (t, out) => expect(printJsonPath(t, list)).toBe(out));
  // kubectl get's answers to these (client-go util/jsonpath evalArray; --allow-missing-template-keys=true, its default)
  const rows = { kind: 'List', items: [{ pod: 'a', addresses: ['198.18.0.2/24'] }, { pod: 'b', addresses: [] }, { pod: 'c', addresses: ['198.18.0.4/24'] }] };
  it.each([
    ['{.items[500].pod}', 'array index out of bounds: index 500, length 3'],
    ['{.items[-4].pod}', 'array index out of bounds: index -1, length 3'],
    ['{.items[0:600].pod}', 'array index out of bounds: index 599, length 3'],
    ['{.items[2:1].pod}', 'starting index 2 is greater than ending index 1'],
    ['{.items[0:3:0].pod}', 'step must be > 0'],
    ['{.items[0].pod[0]}', 'string is not array or slice'],
    ['{.items[*].addresses[0]}', 'array index out of bounds: index 0, length 0'],
    ['{range .items[*]}{.pod} {@.addresses[0]}{"\\n"}{end}', 'array index out of bounds: index 0, length 0'],
  ])('%s fails as kubectl: %s (exit 2; kubectl exits 1)', (t, why) => {
    let e: unknown;
    try {
      printJsonPath(t, rows);
    } catch (x) {
      e = x;
    }
    expect(e).toMatchObject({ kind: 'usage', message: `error executing jsonpath ${JSON.stringify(t)}: Error executing template: ${why}` });
  });
  it.each([
    ['{.items[2].pod}', 'c'],
    ['{.items[-1].pod}', 'c'],
    ['{.items[1:1].pod}', ''],
    ['{.items[1:].pod}', 'b c'],
    ["{.items[0]['pod']}", 'a'],
    ['{.items[0].nosuch}{.nosuch[3]}', ''],
    ['{..pod}', 'a b c'],
    ['{.items[?(@.pod=="a")].addresses[0]}', '198.18.0.2/24'],
  ])('%s is no error: %j', (t, out) => expect(printJsonPath(t, rows)).toBe(out));
  it('refuses an unclosed action, range without end, and end without range', () => {
    expect(() => parseTemplate('{.items')).toThrow(/unclosed/);
    expect(() => parseTemplate('{range .items}x')).toThrow(/range.*without \{end\}/);
    expect(() => parseTemplate('{end}')).toThrow(/without \{range\}/);
  });
});

describe('cni-list printing (kubectl get)', () => {
  const rows: Row[] = [
    { namespace: 'shop', target: 'web-1', node: 'node-1', ifname: 'eth1', network: 'blue', addresses: ['198.18.0.2/24'], containerId: 'a'.repeat(64), state: 'attached', annotated: true },
    { namespace: 'shop', target: 'web-2', node: 'node-2', ifname: 'eth1', network: 'blue', addresses: [], containerId: 'b'.repeat(64), state: 'pod gone' },
  ];
  const base = { format: 'table', allNamespaces: false, noHeaders: false, namespace: 'shop' };
  it('table: no NAMESPACE column without -A; columns padded as kubectl (at least 10, widest + 3)', async () => {
    const { out } = await printRows(rows, base);
    expect(out.split('\n')[0]).toBe('POD       IFNAME    NETWORK   ADDRESSES       STATE      ANNOTATED   CONTAINER      REASON');
    expect(out.split('\n')[2]).toBe('web-2     eth1      blue      <none>          pod gone   <unknown>   bbbbbbbbbbbb   <none>');
    expect((await printRows(rows, { ...base, allNamespaces: true })).out).toMatch(/^NAMESPACE\s+POD\s/);
    expect((await printRows(rows, { ...base, noHeaders: true })).out.split('\n')[0]).toMatch(/^web-1\s+eth1/);
    expect((await printRows(rows, { ...base, format: 'wide' })).out).toContain('a'.repeat(64));
    // -o wide adds NODE, as kubectl get pods -o wide does, and CACHE-DIR (<none>: a row of no cache)
    expect((await printRows(rows, { ...base, format: 'wide' })).out).toMatch(/CONTAINER\s+NODE\s+CACHE-DIR\s+REASON\n.*\s+node-1\s+<none>\s+<none>\n/);
    expect((await printRows([{ ...rows[0]!, cacheDir: '/srv/x' }], { ...base, format: 'wide' })).out).toMatch(/\s+node-1\s+\/srv\/x\s+<none>\n/);
  });
  it('-o name, json and yaml (a List), jsonpath', async () => {
    expect((await printRows(rows, { ...base, format: 'name' })).out).toBe('attachment/web-1.eth1\nattachment/web-2.eth1\n');
    expect(JSON.parse((await printRows(rows, { ...base, format: 'json' })).out)).toEqual(asList(rows));
    expect((await printRows(rows, { ...base, format: 'yaml' })).out).toMatch(/^apiVersion: v1\nkind: List\nmetadata:\n {2}resourceVersion: ''\nitems:\n/);
    expect((await printRows(rows, { ...base, format: 'jsonpath={range .items[*]}{.pod}/{.ifname}={.state}{"\\n"}{end}' })).out).toBe('web-1/eth1=attached\nweb-2/eth1=pod gone\n');
  });
  it('nothing found: kubectl\'s line on stderr for table/wide/name; an empty List for json', async () => {
    expect(await printRows([], base)).toEqual({ out: '', err: 'No resources found in shop namespace.\n', after: '' });
    expect(await printRows([], { ...base, allNamespaces: true })).toEqual({ out: '', err: 'No resources found\n', after: '' });
    expect(await printRows([], { ...base, format: 'name' })).toEqual({ out: '', err: 'No resources found in shop namespace.\n', after: '' });
    expect(JSON.parse((await printRows([], { ...base, format: 'json' })).out).items).toEqual([]);
  });
  describe('records that are not attached: their reason in REASON, the command that clears them in a note', () => {
    const cut = 'results/blue-cnitool-0123456789abcdef0123-eth1: not JSON (cut short, or overwritten); a forced cni-detach of eth1 forgets it';
    const odd: Row[] = [
      rows[0]!,
      {
        namespace: '-', target: 'netns:/var/run/netns/x', node: '<none>', ifname: 'eth1', network: 'blue', addresses: [], containerId: 'cnitool-0123456789abcdef0123',
        state: 'unreadable', reason: cut, brief: 'not JSON (cut short?)', remedy: 'cni-detach --force forgets it',
        clear: 'kubectl cni-detach --netns /var/run/netns/x --ifname eth1 --force', clearHint: 'with --conf FILE its DEL runs first',
      },
      { ...rows[1]!, reason: 'pod shop/web-2 no longer exists; the IPAM lease is still held: cni-gc frees it', brief: 'pod deleted', remedy: 'cni-gc frees it', clear: 'kubectl cni-gc' },
      { ...rows[1]!, target: 'web-3', state: 'sandbox gone', reason: 'its sandbox …', brief: 'sandbox not running', remedy: 'cni-gc frees it', clear: 'kubectl cni-gc' },
      // a state without a brief (none of ours): its reason, cut to fit
      { ...rows[1]!, target: 'web-4', state: 'recorded', reason: 'x'.repeat(100) },
    ];
    it('table: REASON is the last column, the brief reason or <none>, at most REASON_WIDTH.table wide; aligned as kubectl', async () => {
      const { out, err, after } = await printRows(odd, base);
      expect(err).toBe('');
      expect(out).toBe(
        [
          'POD                      IFNAME    NETWORK   ADDRESSES       STATE          ANNOTATED   CONTAINER      REASON',
          'web-1                    eth1      blue      198.18.0.2/24   attached       yes         aaaaaaaaaaaa   <none>',
          'netns:/var/run/netns/x   eth1      blue      <none>          unreadable     <unknown>   cnitool-0123   not JSON (cut short?)',
          'web-2                    eth1      blue      <none>          pod gone       <unknown>   bbbbbbbbbbbb   pod deleted',
          'web-3                    eth1      blue      <none>          sandbox gone   <unknown>   bbbbbbbbbbbb   sandbox not running',
          `web-4                    eth1      blue      <none>          recorded       <unknown>   bbbbbbbbbbbb   ${'x'.repeat(REASON_WIDTH.table - 3)}...`,
          '',
        ].join('\n'),
      );
      // every cell of a column starts at the same offset (tabwriter's alignment), header or not
      const lines = out.trimEnd().split('\n');
      for (const col of ['IFNAME', 'STATE', 'REASON']) {
        const at = lines[0]!.indexOf(col);
        for (const l of lines.slice(1)) expect(l[at - 1], `${col} in ${l}`).toBe(' ');
        for (const l of lines.slice(1)) expect(l[at], `${col} in ${l}`).not.toBe(' ');
      }
      expect(after).toBe(
        'note: to clear netns:/var/run/netns/x eth1 (unreadable): `kubectl cni-detach --netns /var/run/netns/x --ifname eth1 --force` (with --conf FILE its DEL runs first)\n' +
          'note: to clear the 2 records in state pod gone, sandbox gone: `kubectl cni-gc`\n',
      );
      const bare = await printRows(odd, { ...base, noHeaders: true });
      expect(bare.out.split('\n')[0]).toMatch(/^web-1\s+eth1\s.*\s<none>$/);
      expect(bare.out.split('\n')[1]).toMatch(/^netns:\/var\/run\/netns\/x\s+eth1\s.*\sunreadable\s.*\snot JSON \(cut short\?\)$/);
      expect(bare.after).toBe(after);
    });
    it('-o wide: REASON also says what clears it, at most REASON_WIDTH.wide; -o name keeps the notes; json/yaml carry reason and clearCommand', async () => {
      const wide = (await printRows(odd, { ...base, format: 'wide' })).out.split('\n');
      expect(wide[0]).toMatch(/\sNODE\s+CACHE-DIR\s+REASON$/);
      expect(wide[2]).toMatch(/\s<none>\s+not JSON \(cut short\?\); cni-detach --force forgets it$/);
      expect(wide[3]).toMatch(/\snode-2\s+<none>\s+pod deleted; cni-gc frees it$/);
      expect(wide[5]).toMatch(new RegExp(`\\s${'x'.repeat(REASON_WIDTH.wide - 3)}\\.\\.\\.$`));
      const name = await printRows(odd, { ...base, format: 'name' });
      expect(name.out).toBe('attachment/web-1.eth1\nattachment/netns:/var/run/netns/x.eth1\nattachment/web-2.eth1\nattachment/web-3.eth1\nattachment/web-4.eth1\n');
      expect(name.after).toMatch(/^note: to clear netns:/);
      const json = await printRows(odd, { ...base, format: 'json' });
      expect(json.after).toBe('');
      expect((JSON.parse(json.out) as { items: unknown[] }).items[1]).toMatchObject({ state: 'unreadable', reason: cut, clearCommand: 'kubectl cni-detach --netns /var/run/netns/x --ifname eth1 --force' });
      expect((JSON.parse(json.out) as { items: Record<string, unknown>[] }).items[0]).not.toHaveProperty('clearCommand');
    });
    it('notes: one line per record with a command of its own (at most MAX_NOTES, then a count); the cni-gc ones in one line', () => {
      const many: Row[] = Array.from({ length: MAX_NOTES + 2 }, (_, i) => ({ ...odd[1]!, target: `netns:/var/run/netns/n${i}`, clear: `kubectl cni-detach --netns /var/run/netns/n${i} --ifname eth1 --force` }));
      const lines = clearNotes(many).split('\n').filter(Boolean);
      expect(lines).toHaveLength(MAX_NOTES + 1);
      expect(lines.at(-1)).toBe("note: 2 more records need a command of their own: -o json gives each one's clearCommand");
      expect(clearNotes([odd[2]!])).toBe('note: to clear the record in state pod gone: `kubectl cni-gc`\n');
      expect(clearNotes([rows[0]!, odd[4]!])).toBe('');
    });
    it('fit: as is, else without a trailing parenthesis, else cut with "..."', () => {
      expect(fit('pod deleted', 40)).toBe('pod deleted');
      expect(fit('the lock file is empty (its holder died, or could not write its pid)', 40)).toBe('the lock file is empty');
      expect(fit('a'.repeat(50), 40)).toBe(`${'a'.repeat(37)}...`);
      expect(fit('a'.repeat(50), 40)).toHaveLength(40);
    });
  });
  it('-o values: the formats kubectl has for lists, else a usage error listing them', () => {
    for (const f of ['table', 'wide', 'name', 'json', 'yaml', 'jsonpath={.items}']) expect(parseListFormat(f)).toBe(f);
    expect(() => parseListFormat('csv')).toThrow(/allowed formats are: table, wide, name, json, yaml, jsonpath=TEMPLATE/);
    // tryout: `-o jsonpath` without a template said "unable to match a printer … jsonpath"; kubectl's own printers
    // that cni-list lacks said the same as a typo would
    for (const f of ['jsonpath', 'jsonpath=']) expect(() => parseListFormat(f)).toThrow(/^-o jsonpath: template format specified but no template given$/);
    for (const f of ['go-template={{.items}}', 'custom-columns=POD:.pod', 'jsonpath-as-json={.items}', 'jsonpath-file=x']) {
      expect(() => parseListFormat(f)).toThrow(new RegExp(`^-o ${f.split('=')[0]}: kubectl's printer, not one of cni-list's \\(table, wide, name, json, yaml, jsonpath=TEMPLATE\\): -o jsonpath=TEMPLATE, or -o json with jq$`));
    }
  });
});

describe('events (Multus words)', () => {
  const result = { cniVersion: '1.0.0', interfaces: [{ name: 'eth1', sandbox: '/x' }], ips: [{ address: '198.18.0.5/24', interface: 0 }] };
  it('messages', () => {
    expect(addedInterfaceEvent('eth1', 'shop/macvlan-net', result)).toEqual({ type: 'Normal', reason: 'AddedInterface', message: 'Add eth1 [198.18.0.5/24] from shop/macvlan-net' });
    expect(addedInterfaceEvent('eth1', 'blue', { cniVersion: '1.0.0' }).message).toBe('Add eth1 [] from blue');
    expect(removedInterfaceEvent('eth1', 'blue', undefined, [])).toEqual({ type: 'Normal', reason: 'RemovedInterface', message: 'Remove eth1 from blue' });
    const f = failedAddInterfaceEvent('eth1', 'blue', 'x'.repeat(2000), []);
    expect(f.type).toBe('Warning');
    expect(f.message.length).toBe(1024);
  });
  it('a client command named in a message (a lock holder, a write-ahead record\'s command) is <command> in the event, as a path of the cache dir is <cache dir>', async () => {
    // an outside tester's FailedAddInterface said "its command (pid 1648 on this host vm) is gone"
    for (const [said, shown] of [
      ['a cni-attach/cni-detach (pid 77 on host laptop-2) is working on it right now', 'a cni-attach/cni-detach (<command>) is working on it right now'],
      ['its command (pid 1648 on this host vm) is gone; pid 9, running for 3m12s, holds it', 'its command (<command>) is gone; <command>, holds it'],
      ['pid 77 on host node-a.example.com, running for 2h5m; the lock is free in 63s', '<command>; the lock is free in 63s'],
    ]) {
      expect(hideCommands(said!)).toBe(shown);
      expect(failedAddInterfaceEvent('eth1', 'blue', new Error(said), []).message).toBe(`Add eth1 from blue failed: ${shown}`);
      expect(removedInterfaceEvent('eth1', 'blue', { delError: said!, mayRemain: 'x' }, []).message).toBe(`Remove eth1 from blue failed (${shown}); its record was forgotten (forced): x`);
    }
    // through the CLI: an attach refused because another command holds the interface's lock on the node
    const w = world();
    w.exec.files.set(lockPath('/var/lib/cni', SANDBOX, 'eth1'), 'laptop-2 77 1\n');
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(1);
    expect(w.stderr()).toMatch(/pid 77 on host laptop-2/);
    const [e] = w.kube.events.filter((x) => x.reason === 'FailedAddInterface');
    expect(e!.message).toContain('(<command>)');
    expect(e!.message).not.toMatch(/pid 77|laptop-2/);
  });
  it('attach and detach record them on the pod; --no-annotate records none', async () => {
    const w = world();
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1'])).toBe(0);
    expect(w.kube.events.map((e) => [e.type, e.reason, e.message, e.uid, e.host])).toEqual([
      ['Normal', 'AddedInterface', expect.stringMatching(/^Add eth1 \[198\.18\.0\.2\/24\] from net$/), 'uid-1', 'node-1'],
      ['Normal', 'RemovedInterface', 'Remove eth1 from net', 'uid-1', 'node-1'],
    ]);
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth2', '--conf', '-', '--no-annotate'])).toBe(0);
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth2', '--no-annotate'])).toBe(0);
    expect(w.kube.events).toHaveLength(2);
  });
  it('a failed attach records a Warning; an event that cannot be written is a note, never a failure', async () => {
    const w = world();
    w.exec.addPlugin('/opt/cni/bin/bridge', (c) => (c.command === 'ADD' ? { code: 1, stdout: JSON.stringify({ cniVersion: '1.0.0', code: 11, msg: 'no bridge today' }) } : {}));
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(1);
    expect(w.kube.events).toEqual([expect.objectContaining({
      type: 'Warning', reason: 'FailedAddInterface',
      message: 'Add eth1 from net failed: plugin bridge failed on ADD (CNI error 11): no bridge today (rolled back: nothing was left behind)',
    })]);
    const ok = world();
    ok.kube.failEvents = 1;
    expect(await ok.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    expect(ok.stderr()).toMatch(/^note: the AddedInterface event could not be recorded on pod shop\/web-1: .*403/m);
    expect(ok.kube.patches).toHaveLength(1);
  });
});

describe('events say what the failed attach left, as the CLI does, without the user\'s command lines', () => {
  const failed = async (args: string[], arrange: (w: ReturnType<typeof world>) => void | Promise<void>, stdin?: string) => {
    const w = world(stdin ? { stdin } : {});
    await arrange(w);
    const code = await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--cache-dir', '/tmp/mine', ...args]);
    const events = w.kube.events.filter((e) => e.reason === 'FailedAddInterface');
    expect(events).toHaveLength(1);
    // the user's own command lines stay on their terminal (a path of the node's cache may be named: it is where it happened)
    expect(events[0]!.message).not.toMatch(/kubectl|--cache-dir/);
    return { code, message: events[0]!.message, stderr: w.stderr() };
  };
  it('refused before anything ran: already taken (exit 2), the CLI naming the way out, the event not', async () => {
    const r = await failed([], async (w) => {
      expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--cache-dir', '/tmp/mine', '--no-annotate'])).toBe(0);
      // another network on the same ifname: refused
      w.deps.readStdin = async () => JSON.stringify({ cniVersion: '1.0.0', name: 'other', type: 'bridge' });
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: eth1 is already taken in pod shop\/web-1: it is attached \(network net\); run cni-detach first \(`kubectl cni-detach web-1 -n shop --ifname eth1 --cache-dir \/tmp\/mine/m);
    expect(r.message).toBe('Add eth1 from other refused (no plugin ADD ran): eth1 is already taken in pod shop/web-1: it is attached (network net)');
    expect(r.message).not.toMatch(/\/tmp\/mine/);
  });
  it('refused before anything ran: a CNI version the plugin does not speak, a missing plugin (exit 2)', async () => {
    const v = await failed([], () => undefined, JSON.stringify({ cniVersion: '1.1.0', name: 'net', type: 'bridge' }));
    expect(v.code).toBe(2);
    expect(v.message).toBe('Add eth1 from net refused (no plugin ADD ran): plugin "bridge" (/opt/cni/bin/bridge) supports CNI 0.3.1, 0.4.0, 1.0.0; the config asks for 1.1.0: set "cniVersion" to one of those');
    const m = await failed(['--cni-path', '/opt/nothing'], () => undefined);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/not found in \/opt\/nothing on fake node; install it or point the CNI path at its directory \(--cni-path\)/);
    expect(m.message).toBe('Add eth1 from net refused (no plugin ADD ran): CNI plugin "bridge" not found in /opt/nothing on fake node');
  });
  it('a capability argument no plugin declares (--ip, --mac: the command line against the config alone) is refused before the pod is read: no event, no write-ahead record, exit 2', async () => {
    for (const args of [['--ip', '198.18.0.9/24'], ['--mac', '02:00:00:00:00:09']]) {
      const w = world();
      const patch = w.kube.patchConfigMapData.bind(w.kube);
      const writes: string[] = [];
      w.kube.patchConfigMapData = async (ns, name, data) => (writes.push(name), patch(ns, name, data));
      const create = w.kube.createConfigMap.bind(w.kube);
      w.kube.createConfigMap = async (cm) => (writes.push(cm.metadata?.name ?? ''), create(cm));
      expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', ...args])).toBe(2);
      expect(w.stderr()).toMatch(/^error: no plugin of network net declares the "(ips|mac)" capability, so it would be ignored/m);
      // before: the pod was read, its write-ahead record written and removed, and a FailedAddInterface event recorded
      expect(w.kube.events).toEqual([]);
      expect(writes).toEqual([]);
      expect(w.exec.calls.filter((c) => c.command === 'ADD')).toEqual([]);
    }
  });
  it('failed before any ADD ran: VERSION fails (exit 1)', async () => {
    const r = await failed([], (w) => void w.exec.plugins.set('/opt/cni/bin/bridge', () => ({ code: 1, stderr: 'broken' })));
    expect(r.code).toBe(1);
    expect(r.message).toBe('Add eth1 from net failed before any plugin ADD ran: plugin bridge failed on VERSION: exited with code 1: broken');
  });
  it('failed and the rollback failed too (exit 1): what is left, without the commands that clear it', async () => {
    const r = await failed([], (w) => w.exec.addPlugin('/opt/cni/bin/bridge', () => ({ code: 1, stderr: 'no' })));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/; the attempt stays recorded, and the link eth1 in pod shop\/web-1 and its IPAM lease may remain if no DEL freed them; `kubectl cni-detach web-1 -n shop --ifname eth1 --cache-dir \/tmp\/mine` runs its DEL again/);
    expect(r.message).toBe('Add eth1 from net failed, and so did its rollback: plugin bridge failed on ADD: exited with code 1: no; rolling back also failed: plugin bridge failed on DEL: exited with code 1: no; the attempt stays recorded, and the link eth1 in pod shop/web-1 and its IPAM lease may remain if no DEL freed them');
  });
  it('the result could not be cached: rolled back (exit 1); the event names no cache path of the user\'s (<cache dir>)', async () => {
    const r = await failed([], (w) => void (w.exec.failWrites = /\/results\//));
    expect(r.code).toBe(1);
    expect(r.message).toMatch(/^Add eth1 from net failed: could not write the result cache <cache dir>\/results\/net-\w+-eth1: .*EACCES.* \(rolled back\)$/);
    expect(r.message).not.toContain('/tmp/mine');
  });
  it('a forced detach whose DEL failed records a Warning saying what may remain, not RemovedInterface', async () => {
    const w = world();
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(0);
    w.exec.addPlugin('/opt/cni/bin/bridge', () => ({ code: 1, stderr: 'gone wrong' }));
    expect(await w.cli(detachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--force'])).toBe(0);
    expect(w.kube.events.slice(1).map((e) => [e.type, e.reason, e.message])).toEqual([
      ['Warning', 'FailedRemoveInterface', 'Remove eth1 from net failed (plugin bridge failed on DEL: exited with code 1: gone wrong); its record was forgotten (forced): its DEL (plugin bridge) failed: the link eth1 in pod shop/web-1 and its IPAM lease may remain if no DEL freed them'],
    ]);
  });
  it('a forced detach whose DEL error names a path in the cache dir: the event says <cache dir>, the terminal the path', async () => {
    // host-local keeps its leases under /var/lib/cni/networks, in the default cache dir: its errors name them
    const w = world();
    const args = ['web-1', '-n', 'shop', '--ifname', 'eth1', '--cache-dir', '/tmp/mine/'];
    expect(await w.cli(attachCommand, [...args, '--conf', '-'])).toBe(0);
    w.exec.addPlugin('/opt/cni/bin/bridge', () => ({ code: 1, stderr: 'failed to open /tmp/mine/networks/net/lock: EIO' }));
    expect(await w.cli(detachCommand, [...args, '--force'])).toBe(0);
    expect(w.stdout()).toContain('DEL did not succeed (plugin bridge failed on DEL: exited with code 1: failed to open /tmp/mine/networks/net/lock: EIO)');
    const removed = w.kube.events.filter((e) => e.reason === 'FailedRemoveInterface');
    expect(removed.map((e) => e.message)).toEqual([
      'Remove eth1 from net failed (plugin bridge failed on DEL: exited with code 1: failed to open <cache dir>/networks/net/lock: EIO); its record was forgotten (forced): its DEL (plugin bridge) failed: the link eth1 in pod shop/web-1 and its IPAM lease may remain if no DEL freed them',
    ]);
  });
});

describe('usage errors in kubectl\'s (pflag\'s) words, on every command; exit 2 (kubectl: 1)', () => {
  const commands = { 'cni-attach': attachCommand, 'cni-detach': detachCommand, 'cni-check': checkCommand, 'cni-list': listCommand, 'cni-gc': gcCommand };
  it.each(Object.keys(commands))('%s: unknown flag, unknown shorthand flag, flag needs an argument, invalid argument; nothing run', async (name) => {
    const make = commands[name as keyof typeof commands];
    const see = `See 'kubectl ${name} --help' for usage.\n`;
    for (const [args, said] of [
      [['--foo'], 'error: unknown flag: --foo\n'],
      [['--foo=bar'], 'error: unknown flag: --foo\n'],
      [['-Zq'], "error: unknown shorthand flag: 'Z' in -Zq\n"],
      ...(name === 'cni-gc' ? [] : ([[['-n'], "error: flag needs an argument: 'n' in -n\n"]] as [string[], string][])),
      [['--cache-dir'], 'error: flag needs an argument: --cache-dir\n'],
      [['--runtime=rkt'], 'error: invalid argument "rkt" for "--runtime" flag: allowed choices are auto, docker, kind, cri, agent\n'],
      [['--insecure-skip-tls-verify=maybe'], 'error: invalid argument "maybe" for "--insecure-skip-tls-verify" flag: strconv.ParseBool: parsing "maybe": invalid syntax\n'],
    ] as [string[], string][]) {
      const w = world();
      expect(await w.cli(make, ['web-1', ...args].slice(name === 'cni-gc' ? 1 : 0)), `${name} ${args.join(' ')}`).toBe(2);
      expect(w.stderr(), `${name} ${args.join(' ')}`).toBe(`${said}${see}`);
      expect(w.exec.calls, name).toHaveLength(0);
      expect(w.kubeCalls, name).toHaveLength(0);
    }
  });
  it('cni-attach completion: its own path in the See line; -o of cni-attach names "-o, --output"', async () => {
    const w = world();
    expect(await w.cli(attachCommand, ['completion'])).toBe(2);
    expect(w.stderr()).toBe("error: missing required argument 'shell'\nSee 'kubectl cni-attach completion --help' for usage.\n");
    expect(await w.cli(attachCommand, ['web-1', '--ifname', 'eth1', '--conf', '-', '-o', 'xml'])).toBe(2);
    expect(w.stderr()).toBe('error: invalid argument "xml" for "-o, --output" flag: allowed choices are summary, json, yaml, name\nSee \'kubectl cni-attach --help\' for usage.\n');
  });
});

describe('completion (cobra __complete protocol)', () => {
  const run = async (w: ReturnType<typeof world>, tool: 'attach' | 'detach' | 'list' | 'gc', words: string[]) => {
    const make = { attach: attachCommand, detach: detachCommand, list: listCommand, gc: gcCommand }[tool];
    return complete(tool, make(w.deps), words, w.deps);
  };
  it('flag names with descriptions; NoFileComp', async () => {
    const w = world();
    const c = await run(w, 'attach', ['--if']);
    expect(c).toEqual({ candidates: [expect.stringMatching(/^--ifname\tinterface name/)], directive: Directive.NoFileComp });
    expect(completionText(c)).toMatch(/^--ifname\t.*\n:4\n$/);
  });
  it('flag values: choices (also --flag=), files for --conf, directories for --cache-dir', async () => {
    const w = world();
    expect(await run(w, 'attach', ['--runtime', 'd'])).toEqual({ candidates: ['docker'], directive: 4 });
    expect(await run(w, 'attach', ['--runtime=k'])).toEqual({ candidates: ['--runtime=kind'], directive: 4 });
    expect(await run(w, 'list', ['-o', 'j'])).toEqual({ candidates: ['json', 'jsonpath='], directive: 4 });
    expect(await run(w, 'list', ['-o', 'jsonp'])).toEqual({ candidates: ['jsonpath='], directive: 4 | 2 });
    expect(await run(w, 'attach', ['--conf', ''])).toEqual({ candidates: [], directive: 0 });
    expect(await run(w, 'attach', ['--cache-dir', ''])).toEqual({ candidates: [], directive: 16 });
  });
  it("kubectl's user flags on every command: --client-certificate/--client-key complete files, and reach the pod look-up", async () => {
    const w = world();
    for (const tool of ['attach', 'detach', 'list', 'gc'] as const) {
      const names = (await run(w, tool, ['--'])).candidates.map((c) => c.split('\t')[0]);
      expect(names, tool).toEqual(expect.arrayContaining(['--client-certificate', '--client-key', '--username', '--password']));
    }
    expect(await run(w, 'list', ['--client-certificate', ''])).toEqual({ candidates: [], directive: 0 });
    expect(await run(w, 'list', ['--client-key=', ])).toEqual({ candidates: [], directive: 0 });
    expect(await run(w, 'attach', ['--client-certificate', 'me.crt', '--client-key', 'me.key', '--username', 'bob', '-n', 'shop', 'web-'])).toEqual({ candidates: ['web-1'], directive: 4 });
    expect(w.kubeCalls.at(-1)).toMatchObject({ clientCertificate: 'me.crt', clientKey: 'me.key', username: 'bob' });
  });
  it('pods of the namespace given so far (-n=, --namespace), none after the POD or for cni-gc', async () => {
    const w = world();
    w.kube.add({ ...w.pod, metadata: { ...w.pod.metadata, name: 'web-2' } });
    w.kube.add({ ...w.pod, metadata: { ...w.pod.metadata, name: 'db-1', namespace: 'other' } });
    expect(await run(w, 'attach', [''])).toEqual({ candidates: ['web-1', 'web-2'], directive: 4 });
    expect(await run(w, 'attach', ['-n=other', ''])).toEqual({ candidates: ['db-1'], directive: 4 });
    expect(await run(w, 'attach', ['--context', 'kind-x', '-n', 'shop', 'web-'])).toEqual({ candidates: ['web-1', 'web-2'], directive: 4 });
    expect(w.kubeCalls.at(-1)).toMatchObject({ context: 'kind-x', namespace: 'shop', requestTimeoutMs: 3000 });
    expect(await run(w, 'attach', ['web-1', ''])).toEqual({ candidates: [], directive: 4 });
    expect(await run(w, 'gc', [''])).toEqual({ candidates: [], directive: 4 });
  });
  it('cni-list takes several pods (kubectl get pods a b): after a name, the pods not yet on the line, as kubectl\'s completion removes those given; detach and check one', async () => {
    const w = world();
    for (const n of ['web-2', 'web-3']) w.kube.add({ ...w.pod, metadata: { ...w.pod.metadata, name: n } });
    expect(await run(w, 'list', ['-n', 'shop', ''])).toEqual({ candidates: ['web-1', 'web-2', 'web-3'], directive: 4 });
    expect(await run(w, 'list', ['-n', 'shop', 'web-1', ''])).toEqual({ candidates: ['web-2', 'web-3'], directive: 4 });
    expect(await run(w, 'list', ['web-1', '-n', 'shop', 'pod/web-3', 'web-'])).toEqual({ candidates: ['web-2'], directive: 4 });
    expect(await run(w, 'detach', ['-n', 'shop', 'web-1', ''])).toEqual({ candidates: [], directive: 4 });
  });
  it('a flag\'s value that looks like a flag is that value: `--ifname -n <TAB>` completes the POD, `--ifname -- <TAB>` too', async () => {
    const w = world();
    expect(await run(w, 'attach', ['--ifname', '-n', ''])).toEqual({ candidates: ['web-1'], directive: 4 });
    expect(await run(w, 'attach', ['--ifname', '--', ''])).toEqual({ candidates: ['web-1'], directive: 4 });
    expect(await run(w, 'list', ['--context', '-o', ''])).not.toMatchObject({ candidates: expect.arrayContaining(['json']) });
  });
  it('cobra\'s `__complete` / `__completeNoDesc` answers of every command: candidates (namespaces after -n, shells after `completion`), `:directive`, cobra\'s stderr line', async () => {
    const w = world();
    w.kube.add({ ...w.pod, metadata: { ...w.pod.metadata, name: 'db-1', namespace: 'other' } });
    const cases: ['attach' | 'detach' | 'list' | 'gc' | 'check', string[], boolean, string, string][] = [
      ['attach', ['-n', 'shop', ''], true, 'web-1\n:4\n', 'ShellCompDirectiveNoFileComp'],
      ['attach', ['-n', ''], true, 'other\nshop\n:4\n', 'ShellCompDirectiveNoFileComp'],
      ['attach', ['completion', ''], true, 'bash\nzsh\nfish\n:4\n', 'ShellCompDirectiveNoFileComp'],
      ['detach', ['web-1', '--ifn'], false, '--ifname\n:4\n', 'ShellCompDirectiveNoFileComp'],
      ['check', ['--namespace=o'], true, '--namespace=other\n:4\n', 'ShellCompDirectiveNoFileComp'],
      ['list', ['-o', 'jsonp'], true, 'jsonpath=\n:6\n', 'ShellCompDirectiveNoSpace, ShellCompDirectiveNoFileComp'],
      ['gc', ['--cache-dir', ''], true, ':16\n', 'ShellCompDirectiveFilterDirs'],
      ['attach', ['--conf', ''], true, ':0\n', 'ShellCompDirectiveDefault'],
    ];
    const make = { attach: attachCommand, detach: detachCommand, check: checkCommand, list: listCommand, gc: gcCommand };
    for (const [tool, words, desc, out, names] of cases) {
      const c = await complete(tool, make[tool](w.deps), words, w.deps);
      expect(completionText(c, desc), words.join(' ')).toBe(out);
      expect(directiveLine(c.directive), words.join(' ')).toBe(`Completion ended with directive: ${names}\n`);
    }
    const d = await complete('check', checkCommand(w.deps), ['web-1', '--ifn'], w.deps);
    expect(completionText(d)).toMatch(/^--ifname\t[^\n]+\n:4\n$/);
    expect(completionText(d, false)).toBe('--ifname\n:4\n');
  });
  it('an API that fails gives no candidates, not an error', async () => {
    const w = world();
    w.deps.kube = async () => {
      throw new Error('unreachable');
    };
    expect(await run(w, 'attach', [''])).toEqual({ candidates: [], directive: 4 });
  });
  it('--net: the NADs of the namespace; --ifname of cni-detach: the interfaces the cache has for that pod', async () => {
    const w = world();
    w.kube.nads.set('shop/mv', { namespace: 'shop', name: 'mv', config: '{}' });
    w.kube.nads.set('other/x', { namespace: 'other', name: 'x', config: '{}' });
    expect(await run(w, 'attach', ['web-1', '--net', ''])).toEqual({ candidates: ['mv'], directive: 4 });
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--cache-dir', '/c'])).toBe(0);
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'net7', '--conf', '-', '--cache-dir', '/c'])).toBe(0);
    expect(await run(w, 'detach', ['web-1', '-n', 'shop', '--cache-dir', '/c', '--ifname', ''])).toEqual({ candidates: ['eth1', 'net7'], directive: 4 });
    expect(await run(w, 'detach', ['web-2', '-n', 'shop', '--cache-dir', '/c', '--ifname', ''])).toEqual({ candidates: [], directive: 4 });
  });
  it('--ifname of cni-detach/cni-check from a laptop: the cluster\'s records of that pod (this host\'s cache has none), with those of the cache when both have some', async () => {
    const w = world();
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-', '--cache-dir', '/c'])).toBe(0);
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'net7', '--conf', '-', '--cache-dir', '/c'])).toBe(0);
    // before: only this host's cache was read, so from a laptop (another cache dir here) nothing was offered
    expect(await run(w, 'detach', ['web-1', '-n', 'shop', '--cache-dir', '/elsewhere', '--ifname', ''])).toEqual({ candidates: ['eth1', 'net7'], directive: 4 });
    expect(await run(w, 'detach', ['web-1', '--ifname', 'n'])).toEqual({ candidates: ['net7'], directive: 4 });
    expect(await run(w, 'detach', ['web-1', '-n', 'other', '--cache-dir', '/elsewhere', '--ifname', ''])).toEqual({ candidates: [], directive: 4 });
    // the API failing leaves the cache's names
    w.deps.kube = async () => {
      throw new Error('unreachable');
    };
    expect(await run(w, 'detach', ['web-1', '-n', 'shop', '--cache-dir', '/c', '--ifname', ''])).toEqual({ candidates: ['eth1', 'net7'], directive: 4 });
    expect(await run(w, 'detach', ['web-1', '-n', 'shop', '--cache-dir', '/elsewhere', '--ifname', ''])).toEqual({ candidates: [], directive: 4 });
  });
  it('--node of cni-gc: the nodes pods are scheduled on, the last of a comma-separated list completed', async () => {
    const w = world();
    w.kube.add({ ...w.pod, metadata: { ...w.pod.metadata, name: 'db-1', namespace: 'other' }, spec: { ...w.pod.spec!, nodeName: 'node-2' } });
    expect(await run(w, 'gc', ['--node', ''])).toEqual({ candidates: ['node-1', 'node-2'], directive: 4 });
    expect(await run(w, 'gc', ['--node', 'node-1,node-'])).toEqual({ candidates: ['node-1,node-1', 'node-1,node-2'], directive: 4 });
    expect(await run(w, 'gc', ['--node=node-2'])).toEqual({ candidates: ['--node=node-2'], directive: 4 });
  });
  it('the executable name says the command', () => {
    expect(toolOf('/usr/local/bin/kubectl_complete-cni_attach')).toBe('attach');
    expect(toolOf('kubectl_complete-cni_gc')).toBe('gc');
    expect(toolOf('kubectl-cni_attach')).toBeUndefined();
  });
});

describe('version and User-Agent', () => {
  it('kubectl-like shapes', () => {
    expect(platform('linux', 'x64')).toBe('linux/amd64');
    expect(platform('darwin', 'arm64')).toBe('darwin/arm64');
    expect(userAgent()).toMatch(/^cni-attach\/v\S+ \((linux|darwin)\/\w+\)$/);
    expect(versionData()).toEqual({ clientVersion: { gitVersion: expect.stringMatching(/^v/), platform: platform(), nodeVersion: process.version } });
  });
  it('--version on every command, plain and -o json, whatever else is on the line', async () => {
    const w = world();
    for (const make of [attachCommand, detachCommand, listCommand, gcCommand]) {
      expect(await w.cli(make, ['--version'])).toBe(0);
      expect(w.stdout()).toMatch(/^cni-attach v\S+ \(linux\/\w+, node v/);
    }
    expect(await w.cli(attachCommand, ['web-1', '--version', '-o', 'json'])).toBe(0);
    expect(JSON.parse(w.stdout()).clientVersion.gitVersion).toMatch(/^v/);
    expect(w.kubeCalls).toEqual([]);
  });
});

describe('a typed flag\'s value the tool checks itself reads as pflag would say it, with cobra\'s See line; a value of the right type that is wrong for the flag stays one line', () => {
  it('--parallel (an int), --timeout and --request-timeout (durations): pflag\'s strconv/time words (before: "not a whole number from 1 to 64", "not a duration (e.g. …)", no See line)', async () => {
    const { parseIntFlag, parseDuration, FlagTypeError } = await import('../../src/cli/options.js');
    const { parseParallel } = await import('../../src/cli/bulk.js');
    const { goDurationError } = await import('../../src/duration.js');
    const thrown = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as Error;
      }
      throw new Error('did not throw');
    };
    // Go's strconv.ParseInt(s, 0, 64), as pflag's int flags parse
    expect(parseIntFlag('--parallel', '0x10')).toBe(16);
    expect(parseIntFlag('--parallel', '1_0')).toBe(10);
    expect(parseIntFlag('--parallel', '010')).toBe(8);
    for (const [text, why] of [['abc', 'invalid syntax'], ['4.5', 'invalid syntax'], ['', 'invalid syntax'], ['9223372036854775808', 'value out of range']]) {
      const e = thrown(() => parseParallel(text!));
      expect(e).toBeInstanceOf(FlagTypeError);
      expect(e.message).toBe(`invalid argument ${JSON.stringify(text)} for "--parallel" flag: strconv.ParseInt: parsing ${JSON.stringify(text)}: ${why}`);
    }
    // of its type, wrong for the flag: one line, no See line
    for (const text of ['0', '65', '-1']) {
      const e = thrown(() => parseParallel(text));
      expect(e).not.toBeInstanceOf(FlagTypeError);
      expect(e.message).toBe(`--parallel ${text}: pods at a time is from 1 to 64`);
    }
    // Go's time.ParseDuration words (src/time/format.go)
    expect(goDurationError('5x')).toBe('time: unknown unit "x" in duration "5x"');
    expect(goDurationError('abc')).toBe('time: invalid duration "abc"');
    expect(goDurationError('1.5.2s')).toBe('time: missing unit in duration "1.5.2s"');
    expect(goDurationError('.')).toBe('time: invalid duration "."');
    for (const ok of ['1h2m3.5s', '-5s', '.5s', '0', '250µs']) expect(goDurationError(ok)).toBeUndefined();
    const d = thrown(() => parseDuration('5x'));
    expect(d).toBeInstanceOf(FlagTypeError);
    expect(d.message).toBe('invalid argument "5x" for "--timeout" flag: time: unknown unit "x" in duration "5x"');
    // every refusal of --timeout names the value as given (before: `--timeout: must be more than zero` for 0)
    for (const [text, msg] of [['-5s', '--timeout -5s: must be more than zero'], ['0', '--timeout 0: must be more than zero'], ['0s', '--timeout 0s: must be more than zero'], ['0.0h', '--timeout 0.0h: must be more than zero'], ['-0', '--timeout -0: must be more than zero'], ['0.4ms', '--timeout 0.4ms: less than 1ms, the least plugin time limit: no plugin can even start within 400µs, so every run would be killed (give e.g. 500ms or 10s)']]) {
      const e = thrown(() => parseDuration(text!));
      expect(e).not.toBeInstanceOf(FlagTypeError);
      expect(e.message).toBe(msg);
    }
    // pflag's Duration takes what Go takes (before: ".5s" and "+5s" were refused, " 5s" taken); a bare number is seconds
    expect(['.5s', '+5s', '5', '1.5', '.5', '1.'].map((t) => parseDuration(t))).toEqual([500, 5000, 5000, 1500, 500, 1000]);
    for (const [text, why] of [[' 5s', 'time: invalid duration " 5s"'], ['5s ', 'time: unknown unit "s " in duration "5s "'], ['', 'time: invalid duration ""'], ['2562048h', 'time: invalid duration "2562048h"']]) {
      const e = thrown(() => parseDuration(text!));
      expect(e).toBeInstanceOf(FlagTypeError);
      expect(e.message).toBe(`invalid argument ${JSON.stringify(text)} for "--timeout" flag: ${why}`);
    }
    // longer than a Node timer holds: the longest timer (before: one that fired at once, killing every plugin)
    expect(parseDuration('99999h')).toBe(2 ** 31 - 1);
  });

  it('through a command: the typed value\'s error and the See line; the semantic one alone (exit 2 both, nothing run)', async () => {
    const { world } = await import('../fakes/world.js');
    const { attachCommand } = await import('../../src/cli/attach.js');
    const cases: [string[], string][] = [
      [['-l', 'app=web', '--parallel', 'abc'], 'error: invalid argument "abc" for "--parallel" flag: strconv.ParseInt: parsing "abc": invalid syntax\nSee \'kubectl cni-attach --help\' for usage.\n'],
      [['web-1', '--timeout', '5x'], 'error: invalid argument "5x" for "--timeout" flag: time: unknown unit "x" in duration "5x"\nSee \'kubectl cni-attach --help\' for usage.\n'],
      [['web-1', '--mac', 'zz'], 'error: invalid argument "zz" for "--mac" flag: not a MAC address (e.g. 02:00:00:00:00:01)\nSee \'kubectl cni-attach --help\' for usage.\n'],
      [['-l', 'app=web', '--parallel', '0'], 'error: --parallel 0: pods at a time is from 1 to 64\n'],
      [['web-1', '--timeout', '0.4ms'], 'error: --timeout 0.4ms: less than 1ms, the least plugin time limit: no plugin can even start within 400µs, so every run would be killed (give e.g. 500ms or 10s)\n'],
    ];
    for (const [args, said] of cases) {
      const w = world();
      expect(await w.cli(attachCommand, [...args, '-n', 'shop', '--ifname', 'eth1', '--conf', '-']), args.join(' ')).toBe(2);
      expect(w.stderr(), args.join(' ')).toBe(said);
      expect(w.exec.calls, args.join(' ')).toEqual([]);
    }
    // a string flag's value (kubectl's parser takes any string) that is wrong for it: one line (before: pflag-worded)
    const w = world();
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--net', 'a/b/c'])).toBe(2);
    expect(w.stderr()).toBe('error: --net a/b/c: not NAME or NAMESPACE/NAME (a NetworkAttachmentDefinition)\n');
  });
});
