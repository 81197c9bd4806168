/**
 * Node round trips of the engine on a node reached by commands (exec/batch.ts over a ShellExecutor): a counting node
 * whose commands run here through the real sh (as docker exec or pods/exec would run them on the node), with fake
 * plugins in a temp CNI path and the cache in a temp dir. The bound of issue 12: after the node is reached, an attach
 * costs at most 2 + (number of plugins) round trips and so does a detach, the sandbox look-up included (here one
 * command standing for it, which the read-ahead rides on). Also: what is left on the node, and that the optimistic
 * steps fall back to the step-by-step answers (busy, already taken) when someone was first.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { SessionPool, viaSession, withPrelude } from '../../src/exec/node-session.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attach, check, detach, KEYED_BY_NETWORK_AND_CONTAINER, planAttach, planRecorded, portmapChainName, readAhead, sharedStateNote } from '../../src/cni/attach.js';
import { ResultCache, deletingPath, intentPath, lockPath, networkLockPath } from '../../src/cni/cache.js';
import type { ChainContext } from '../../src/cni/chain.js';
import { parseNetworkConfig } from '../../src/cni/conf.js';
import { BatchingExecutor, buildScript, parseFramed, type Step } from '../../src/exec/batch.js';
import { runStoppable, ShellExecutor } from '../../src/exec/shell.js';
import type { RunOptions, RunResult } from '../../src/exec/types.js';
import { tracedExecutor } from '../../src/exec/traced.js';
import { takeLock } from '../../src/exec/lock.js';
import { limitedLocksHeldUntil } from '../../src/exec/interrupt.js';
import { BusyError, NotFoundError, UnreachableError, UsageError } from '../../src/errors.js';
import { fakePlugin } from '../helpers/fake-plugin.js';
import { fakeOwner } from '../fakes/executor.js';

/** A node whose commands run on this host through execa; every run() is one round trip, counted. */
class CountingNode extends ShellExecutor {
  readonly where = 'counting node';
  readonly commands: string[][] = [];
  /** The node's PATH when it is not NODE_PATH (a node whose iptables is a fake: never this host's own). */
  path?: string;
  override baseEnv(): Record<string, string> {
    return this.path ? { PATH: this.path } : super.baseEnv();
  }
  /** When it answers true after a command ran, the node is lost before its answer came back (UnreachableError). */
  lostAfter?: () => boolean;
  /** When it answers true, the command's request never reaches the node (UnreachableError.notSent): nothing runs. */
  unsent?: () => boolean;
  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    this.commands.push(argv);
    if (this.unsent?.()) throw Object.assign(new UnreachableError('exec in pod kube-system/agent: cannot reach the API server at https://10.0.0.1:6443: connect ECONNREFUSED 10.0.0.1:6443'), { notSent: true });
    argv = opts.prelude ? withPrelude(argv, opts.prelude) : argv;
    const r = await execa(argv[0]!, argv.slice(1), { env: opts.env ?? this.baseEnv(), extendEnv: false, input: opts.stdin ?? '', reject: false, stripFinalNewline: false });
    if (this.lostAfter?.()) throw new UnreachableError('the session was lost before it told how the command ended');
    return { code: r.exitCode ?? null, stdout: String(r.stdout), stderr: String(r.stderr), timedOut: false };
  }
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cni-attach-rt-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const CID = 'sandbox0123456789';
/** The round trips of a detach of a 2-plugin chain on a node, as measured before DEL marks (the look-up, then the lock and first DEL, the second DEL, the removals and unlock). */
const TRIPS_DETACH_2 = 4;

/** A portmap plugin object's port mappings in its own config (runtimeConfig: the tool has no flag for them). */
const MAPPED = { capabilities: { portMappings: true }, runtimeConfig: { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] } };

/** portmap's DNAT chain of network net in sandbox CID (plugins/meta/portmap genDnatChain), computed here on its own. */
const PM_CHAIN = `CNI-DN-${createHash('sha512').update(`net${CID}`).digest('hex')}`.slice(0, 28);

/**
 * The node's iptables and ip6tables as fakes (the node's PATH: a directory of them, then /usr/bin:/bin, where this
 * host has no iptables: this host's own nat table is never read): each logs its arguments and answers `-t nat -S` as
 * `mode` says, as iptables 1.8.9 lists a table — 'v4' / 'v6': table nat has PM_CHAIN with the jump of
 * CNI-HOSTPORT-DNAT to it in iptables / ip6tables only (the other: a table of another container's chain only);
 * 'unjumped': iptables' table has PM_CHAIN and nothing jumps to it (a portmap ADD stopped part-way left it); 'absent':
 * another container's chain only; 'missing': no iptables at all; 'error': both fail (exit 4, not root).
 */
async function fakeIptables(w: { node: CountingNode }, mode: 'v4' | 'v6' | 'unjumped' | 'absent' | 'missing' | 'error', chain = PM_CHAIN): Promise<string> {
  const fakes = join(dir, 'node-sbin');
  await mkdir(fakes, { recursive: true });
  for (const d of ['/usr/bin', '/bin']) for (const t of ['iptables', 'ip6tables']) expect(existsSync(join(d, t)), `${d}/${t} on this host`).toBe(false);
  const log = join(dir, 'iptables.log');
  const policies = '-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n';
  const jump = (chain: string) => ({ code: 0, out: `${policies}-N CNI-HOSTPORT-DNAT\n-N ${chain}\n-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"net\\" id: \\"x\\"" -m multiport --dports 18080 -j ${chain}\n-A ${chain} -p tcp -m tcp --dport 18080 -j DNAT --to-destination 198.18.0.9:80\n`, err: '' });
  const answer = (tool: string) => {
    if (mode === 'error') return { code: 4, out: '', err: `${tool} v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)\n` };
    if (mode === 'unjumped' && tool === 'iptables') return { code: 0, out: `${policies}-N CNI-HOSTPORT-DNAT\n-N ${chain}\n-A ${chain} -p tcp -m tcp --dport 18080 -j DNAT --to-destination 198.18.0.9:80\n`, err: '' };
    if (mode === 'absent' || mode === 'unjumped') return jump('CNI-DN-0123456789abcdef01234');
    if ((mode === 'v4') === (tool === 'iptables')) return jump(chain);
    return jump('CNI-DN-0123456789abcdef01234');
  };
  if (mode !== 'missing') {
    for (const tool of ['iptables', 'ip6tables']) {
      const a = answer(tool);
      await writeFile(join(fakes, `${tool}.out`), a.out);
      await writeFile(join(fakes, `${tool}.err`), a.err);
      await writeFile(join(fakes, tool), `#!/bin/sh\necho "${tool} $*" >> '${log}'\ncat '${join(fakes, `${tool}.out`)}'; cat '${join(fakes, `${tool}.err`)}' >&2; exit ${a.code}\n`, { mode: 0o755 });
    }
  }
  w.node.path = `${fakes}:/usr/bin:/bin`;
  return log;
}

/**
 * The node's nft as a fake beside fakeIptables's (the same directory on the node's PATH; this host's /usr/bin and /bin
 * have no nft): it logs its arguments and answers `nft list table <family> cni_hostport` as `mode` says — 'v4' / 'v6':
 * the table of that family holds a hostports rule commented with container id `cid` (as portmap's nftables backend
 * writes it, portmap_nftables.go forwardPorts; the text as nft 1.0.6 lists it), the other family has no table (nft's
 * exit 1 "No such file or directory"); 'other': rules of another container only; 'error': both fail. `rules`: the
 * hostports chain's rules of that table instead (as nft lists them).
 */
async function fakeNft(w: { node: CountingNode }, mode: 'v4' | 'v6' | 'other' | 'error', cid = CID, rules?: string[]): Promise<string> {
  const fakes = join(dir, 'node-sbin');
  await mkdir(fakes, { recursive: true });
  for (const d of ['/usr/bin', '/bin']) expect(existsSync(join(d, 'nft')), `${d}/nft on this host`).toBe(false);
  const log = join(dir, 'nft.log');
  const table = (family: string, comment: string) => `table ${family} cni_hostport {\n\tcomment "CNI portmap plugin"\n\tchain hostports {\n${(rules ?? [`tcp dport 8080 dnat to 198.18.0.9:80 comment "${comment}"`]).map((r) => `\t\t${r}\n`).join('')}\t}\n}\n`;
  const answer = (family: string) => {
    if (mode === 'error') return { code: 1, out: '', err: 'Error: Could not process rule: Operation not permitted\n' };
    if (mode === 'other') return { code: 0, out: table(family, 'a-container-of-another-pod'), err: '' };
    if ((mode === 'v4') === (family === 'ip')) return { code: 0, out: table(family, cid), err: '' };
    return { code: 1, out: '', err: `Error: No such file or directory\nlist table ${family} cni_hostport\n               ^^^^^^^^^^^^\n` };
  };
  for (const family of ['ip', 'ip6']) {
    const a = answer(family);
    await writeFile(join(fakes, `nft-${family}.out`), a.out);
    await writeFile(join(fakes, `nft-${family}.err`), a.err);
  }
  await writeFile(join(fakes, 'nft'), `#!/bin/sh\necho "nft $*" >> '${log}'\ncase "$3" in ip) f=ip; c=${answer('ip').code};; *) f=ip6; c=${answer('ip6').code};; esac\ncat "${fakes}/nft-$f.out"; cat "${fakes}/nft-$f.err" >&2; exit $c\n`, { mode: 0o755 });
  w.node.path = `${fakes}:/usr/bin:/bin`;
  return log;
}

/**
 * The dry run, then the attach, of w's request on its node: each refused (UsageError with message and next) after the
 * look-up alone — one round trip, what it read rode on it.
 */
async function refusedAfterLookUp(w: Awaited<ReturnType<typeof world>>, message: string, next: string): Promise<void> {
  for (const dry of [true, false]) {
    const s = w.session();
    const before = w.node.commands.length;
    readAhead(s.ctx, s.cache, 'net1', w.list, false, w.req.rt.capabilityArgs);
    await s.exec.run(['true']); // the sandbox look-up
    const e = await (dry ? planAttach(s.ctx, s.cache, w.req) : attach(s.ctx, s.cache, w.req)).catch((x: unknown) => x);
    expect(e, String(e)).toBeInstanceOf(UsageError);
    expect((e as Error).message).toBe(message);
    expect((e as UsageError).next).toBe(next);
    expect(w.node.commands.length - before, dry ? 'dry run' : 'attach').toBe(1);
  }
}

/** Plugins that print a result on ADD; "first" checks that the intent was written before it ran. */
async function world(plugins: string[], o: { cniVersion?: string; status?: string; del?: string; extra?: Record<string, Record<string, unknown>> } = {}) {
  const bin = join(dir, 'bin');
  const cacheDir = join(dir, 'cache');
  await mkdir(bin, { recursive: true });
  const intent = intentPath(cacheDir, { network: 'net', containerId: CID, ifname: 'net1' });
  for (const [i, name] of plugins.entries()) {
    const result = `{"cniVersion":"1.0.0","interfaces":[{"name":"net1","sandbox":"/proc/1/ns/net"}],"ips":[{"address":"198.18.0.${i + 2}/24","interface":0}]}`;
    const mustHaveIntent = i === 0 ? `[ -e '${intent}' ] || { echo '{"code":999,"msg":"no intent before ADD"}'; exit 1; }\n` : '';
    const v11 = o.cniVersion === '1.1.0' ? { version: `echo '{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}'`, status: `echo "STATUS ${name}" >> '${join(dir, 'calls')}'; ${o.status ?? 'exit 0'}` } : {};
    await fakePlugin(bin, name, { add: `${mustHaveIntent}echo "ADD ${name}" >> '${join(dir, 'calls')}'; echo '${result}'`, del: `echo "DEL ${name}" >> '${join(dir, 'calls')}'${o.del ? `; ${o.del.replaceAll('NAME', name)}` : ''}`, ...v11 });
  }
  const cniVersion = o.cniVersion ?? '1.0.0';
  const conf = plugins.length === 1
    ? { cniVersion, name: 'net', type: plugins[0] }
    : { cniVersion, name: 'net', plugins: plugins.map((type) => ({ type, ...o.extra?.[type] })) };
  const list = parseNetworkConfig(JSON.stringify(conf), 'test');
  const node = new CountingNode();
  /** What the engine noted (ChainContext.note), in order; and its -v lines (ChainContext.debug). */
  const notes: string[] = [];
  const debugs: string[] = [];
  /** -v=6's lines (prepareEngine wraps the node's executor in tracedExecutor then), when `traced` is set. */
  const traces: string[] = [];
  const session = (traced = false) => {
    const batching = new BatchingExecutor(node);
    const exec = traced ? tracedExecutor(batching, (l) => void traces.push(l)) : batching;
    const ctx: ChainContext = { exec, cniPath: ['/nonexistent/cni', bin], timeoutMs: 10_000, note: (line) => void notes.push(line), debug: (line) => void debugs.push(line) };
    return { exec, ctx, cache: new ResultCache(exec, cacheDir, fakeOwner()) };
  };
  const rt = { containerId: CID, netns: '/proc/1/ns/net', ifname: 'net1', cniArgs: [] as [string, string][], capabilityArgs: {} };
  const req = { list, rt, describe: 'pod shop/web-1', interfaceExists: async () => false };
  const left = async (sub: string) => (await readdir(join(cacheDir, sub)).catch(() => [] as string[])).sort();
  /** An attach as the CLI makes it on a node: declare the reads, the sandbox look-up (one command), the engine. */
  const attachOnNode = async (traced = false) => {
    const s = session(traced);
    const before = node.commands.length;
    readAhead(s.ctx, s.cache, 'net1', list, false, req.rt.capabilityArgs);
    await s.exec.run(['true']); // the sandbox look-up
    const done = await attach(s.ctx, s.cache, req);
    return { done, trips: node.commands.length - before };
  };
  const detachOnNode = async () => {
    const s = session();
    const before = node.commands.length;
    readAhead(s.ctx, s.cache, 'net1', undefined, true);
    await s.exec.run(['true']);
    const done = await detach(s.ctx, s.cache, { containerId: CID, ifname: 'net1', describe: 'pod shop/web-1' });
    return { done, trips: node.commands.length - before };
  };
  const ways = { detach: 'kubectl cni-detach web-1 -n shop --ifname net1', force: 'kubectl cni-detach web-1 -n shop --ifname net1 --force', forceWithConfig: '' };
  /** A check as the CLI makes it on a node: the reads declared, the sandbox look-up (one command), the engine. */
  const checkOnNode = async () => {
    const s = session();
    const before = node.commands.length;
    readAhead(s.ctx, s.cache, 'net1');
    await s.exec.run(['true']);
    const done = await check(s.ctx, s.cache, { containerId: CID, ifname: 'net1', describe: 'pod shop/web-1', ways });
    return { done, trips: node.commands.length - before };
  };
  const planCheckOnNode = async () => {
    const s = session();
    return planRecorded(s.ctx, s.cache, { containerId: CID, ifname: 'net1', describe: 'pod shop/web-1', ways }, 'CHECK');
  };
  /** What an attach still in its ADD leaves on the node: its intent, and its lock (of another host: respected). */
  const attachRunning = async () => {
    await mkdir(join(cacheDir, 'cni-attach/intents'), { recursive: true });
    await mkdir(join(cacheDir, 'cni-attach/locks'), { recursive: true });
    await writeFile(intent, JSON.stringify({ kind: 'cniCacheV1', containerId: CID, config: Buffer.from(list.bytes).toString('base64'), ifName: 'net1', networkName: 'net', netns: '/proc/1/ns/net' }));
    await writeFile(lockPath(cacheDir, CID, 'net1'), 'other-host 77 1\n');
  };
  return { node, bin, cacheDir, list, session, req, left, notes, debugs, traces, attachOnNode, detachOnNode, checkOnNode, planCheckOnNode, attachRunning };
}

describe('a lock released on a batching executor (tryout 16: a quit named fewer nodes than held its locks)', () => {
  it('stays counted as held on its node (what a quit says) until the round trip that carries its removal ran; a lock whose create never ran is not', async () => {
    const node = new CountingNode();
    const exec = new BatchingExecutor(node);
    const path = join(dir, 'locks', 'a.lock');
    const on = (w: string | undefined) => w === 'node t16';
    // taken in the next round trip's steps (the snapshot fresh: the engine's order, look-up then lock)
    exec.readAhead({});
    const r = await takeLock(exec, path, fakeOwner(), { workLimitMs: 60_000, where: 'node t16' });
    expect('lock' in r).toBe(true);
    await exec.flush();
    expect(existsSync(path)).toBe(true);
    expect(limitedLocksHeldUntil(on)).toBeDefined();
    // released: only queued, the lock still on the node and still counted
    await (r as { lock: { release(): Promise<void> } }).lock.release();
    expect(existsSync(path)).toBe(true);
    expect(limitedLocksHeldUntil(on)).toBeDefined();
    await exec.flush();
    expect(existsSync(path)).toBe(false);
    expect(limitedLocksHeldUntil(on)).toBeUndefined();
    // a lock released before its create was even sent (someone else's file is there): neither is sent, the file stays,
    // and nothing is counted
    await writeFile(path, 'other-host 77 1\n');
    exec.readAhead({});
    const other = await takeLock(exec, path, fakeOwner(), { workLimitMs: 60_000, where: 'node t16' });
    await (other as { lock: { release(): Promise<void> } }).lock.release();
    await exec.flush().catch(() => undefined);
    expect(await readFile(path, 'utf8')).toBe('other-host 77 1\n');
    expect(limitedLocksHeldUntil(on)).toBeUndefined();
  });
});

describe('node round trips (exec/batch.ts)', () => {
  it('-v=6 (the executor traced): the same round trips, the intent before the ADD, and a line for each round trip, none for an answer read ahead', async () => {
    const w = await world(['first', 'second']);
    const a = await w.attachOnNode(true);
    expect(a.done.already).toBe(false);
    expect(a.trips).toBeLessThanOrEqual(2 + 2);
    expect(await w.left('results')).toEqual([`net-${CID}-net1`]);
    expect(await w.left('cni-attach/intents')).toEqual([]);
    expect(await w.left('cni-attach/locks')).toEqual([]);
    // one line per round trip (the look-up, the test's `true`, counted among them): every line not answered ahead is one
    const own = w.traces.filter((l) => !l.includes('answered by the read-ahead'));
    expect(own, w.traces.join('\n')).toHaveLength(a.trips);
    expect(w.traces.filter((l) => l.includes('answered by the read-ahead of an earlier round trip: no request of its own')).length, w.traces.join('\n')).toBeGreaterThan(0);
    expect(own.some((l) => /\/first \(ADD\) \(after \d+ steps in the same round trip\) → exit 0 in \d+ milliseconds$/.test(l)), w.traces.join('\n')).toBe(true);
    expect(own.at(-1), w.traces.join('\n')).toMatch(/^counting node: \d+ steps? alone → done in \d+ milliseconds$/);
    // the same round trips as untraced (detached first: the same attach again)
    await w.detachOnNode();
    const plain = await w.attachOnNode();
    expect(plain.done.already).toBe(false);
    expect(plain.trips).toBe(a.trips);
  });
  for (const plugins of [['first'], ['first', 'second'], ['first', 'second', 'third']]) {
    it(`${plugins.length} plugin(s): attach and detach each in at most 2 + ${plugins.length}, leaving only the result`, async () => {
      const w = await world(plugins);
      const a = await w.attachOnNode();
      expect(a.done.already).toBe(false);
      expect(a.trips).toBeLessThanOrEqual(2 + plugins.length);
      expect(await w.left('results')).toEqual([`net-${CID}-net1`]);
      expect(await w.left('cni-attach/intents')).toEqual([]);
      expect(await w.left('cni-attach/locks')).toEqual([]);
      const d = await w.detachOnNode();
      expect(d.done.map((x) => x.network)).toEqual(['net']);
      expect(d.trips).toBeLessThanOrEqual(2 + plugins.length);
      expect(await w.left('results')).toEqual([]);
      expect(await w.left('cni-attach/locks')).toEqual([]);
    });
  }

  it.each([
    ['bandwidth', 'its ifb device on the node, bwp…'],
    ['portmap', 'its iptables chain on the node, CNI-DN-…'],
  ])('a chain with a plugin that keys its node state by network and container (%s; portmap with port mappings): the names of the network\'s other records ride on the look-up (attach still 2 + plugins), and a second attach of the network in the sandbox is refused before any ADD', async (keyed, what) => {
    const w = await world(['first', keyed], keyed === 'portmap' ? { extra: { portmap: MAPPED } } : {});
    const a = await w.attachOnNode();
    expect(a.trips).toBeLessThanOrEqual(2 + 2);
    const s = w.session();
    const before = w.node.commands.length;
    readAhead(s.ctx, s.cache, 'net2', w.list);
    await s.exec.run(['true']); // the sandbox look-up
    const calls = await readFile(join(dir, 'calls'), 'utf8');
    const e = await attach(s.ctx, s.cache, { ...w.req, rt: { ...w.req.rt, ifname: 'net2' } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toBe(`network net is already recorded in pod shop/web-1 as net1, and its plugin ${keyed} (${what}) names that state by network and container only: attaching it again as net2 would collide with it, and a DEL of either would remove the other's (nothing was changed)`);
    expect((e as UsageError).next).toBe('attach a config whose "name" is another network\'s, or detach net1 first');
    expect(w.node.commands.length - before).toBe(1); // the look-up only: the names came with it
    expect(await readFile(join(dir, 'calls'), 'utf8')).toBe(calls); // no plugin ran
    expect(await w.left('results')).toEqual([`net-${CID}-net1`]);
    expect(await w.left('cni-attach/intents')).toEqual([]);
    expect(await w.left('cni-attach/locks')).toEqual([]);
  });

  it.each([
    ['bandwidth', 'its ifb device on the node, bwp…'],
    ['portmap', 'its iptables chain on the node, CNI-DN-…'],
  ])('a detach of one of two attachments of a network in a sandbox, whose chain holds %s (a pair an earlier version or another tool made): its DEL runs, a note names what it removed of the other, whose record stays; the names rode on the look-up (still 2 + plugins)', async (keyed, what) => {
    // (portmap with port mappings: without them its DEL removes nothing — the next test)
    const w = await world(['first', keyed], keyed === 'portmap' ? { extra: { portmap: MAPPED } } : {});
    if (keyed === 'portmap') await fakeIptables(w, 'absent');
    await w.attachOnNode();
    // the pair as another tool leaves it in the same cache: the same network's record under net2 (libcni's file name)
    const results = join(w.cacheDir, 'results');
    const net1 = JSON.parse(await readFile(join(results, `net-${CID}-net1`), 'utf8')) as { ifName: string };
    await writeFile(join(results, `net-${CID}-net2`), JSON.stringify({ ...net1, ifName: 'net2' }));
    const d = await w.detachOnNode();
    expect(d.trips).toBeLessThanOrEqual(2 + 2);
    expect(d.done).toEqual([expect.objectContaining({ network: 'net', sharedWith: { ifnames: ['net2'], plugins: [keyed] } })]);
    expect(w.notes).toEqual([`network net is also recorded in pod shop/web-1 as net2, and its plugin ${keyed} (${what}) names that state by network and container only: the DEL of net1 removed what there was of it under that name, so net2's share is gone too if its chain made one; to have it again, detach net2 and attach it again`]);
    expect((await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n').filter((l) => l.startsWith('DEL'))).toEqual([`DEL ${keyed}`, 'DEL first']);
    expect(await w.left('results')).toEqual([`net-${CID}-net2`]);
    expect(await w.left('cni-attach/locks')).toEqual([]);
  });

  it('a second attach of a network in a sandbox whose chain holds portmap WITHOUT port mappings (and nothing else keyed): not refused — portmap\'s ADD and DEL touch no iptables without them, so the two share nothing; with mappings given by capabilityArgs it is refused', async () => {
    const w = await world(['first', 'portmap'], { extra: { portmap: { capabilities: { portMappings: true } } } });
    const log = await fakeIptables(w, 'absent');
    await w.attachOnNode();
    // the network recorded in the sandbox under net2 (the record of net1 moved: the fake plugin wants net1's intent)
    const results = join(w.cacheDir, 'results');
    const net1 = JSON.parse(await readFile(join(results, `net-${CID}-net1`), 'utf8')) as { ifName: string };
    await writeFile(join(results, `net-${CID}-net2`), JSON.stringify({ ...net1, ifName: 'net2' }));
    await rm(join(results, `net-${CID}-net1`));
    await rm(join(dir, 'calls'));
    const again = await w.attachOnNode();
    expect(again.trips).toBeLessThanOrEqual(2 + 2);
    expect((await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n')).toEqual(['ADD first', 'ADD portmap']);
    expect(await w.left('results')).toEqual([`net-${CID}-net1`, `net-${CID}-net2`]);
    expect(await readFile(log, 'utf8').catch(() => '')).toBe(''); // iptables not asked either
    const mapped = { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] };
    const s2 = w.session();
    readAhead(s2.ctx, s2.cache, 'net3', w.list, false, mapped);
    await s2.exec.run(['true']);
    const e = await attach(s2.ctx, s2.cache, { ...w.req, rt: { ...w.req.rt, ifname: 'net3', capabilityArgs: mapped } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(/^network net is already recorded in pod shop\/web-1 as net1, net2, and its plugin portmap \(its iptables chain on the node, CNI-DN-…\) names that state by network and container only: attaching it again as net3 would collide/);
    expect(await w.left('results')).toEqual([`net-${CID}-net1`, `net-${CID}-net2`]);
  });

  it('a detach of one of two attachments of a network whose chain holds portmap WITHOUT port mappings: no note, in the dry run either (portmap\'s DEL returns before any iptables when its runtimeConfig has no portMappings: it removed nothing of the other\'s); with mappings given by capabilityArgs the note is made', async () => {
    const w = await world(['first', 'portmap'], { extra: { portmap: { capabilities: { portMappings: true } } } });
    await w.attachOnNode();
    const results = join(w.cacheDir, 'results');
    const net1 = JSON.parse(await readFile(join(results, `net-${CID}-net1`), 'utf8')) as { ifName: string };
    await writeFile(join(results, `net-${CID}-net2`), JSON.stringify({ ...net1, ifName: 'net2' }));
    const s = w.session();
    await planRecorded(s.ctx, s.cache, { containerId: CID, ifname: 'net1', describe: 'pod shop/web-1' }, 'DEL');
    expect(w.notes).toEqual([]);
    // the same record had its mappings from capabilityArgs (as libcni records them): its DEL would remove the chain
    await writeFile(join(results, `net-${CID}-net1`), JSON.stringify({ ...net1, capabilityArgs: { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] } }));
    const s2 = w.session();
    await planRecorded(s2.ctx, s2.cache, { containerId: CID, ifname: 'net1', describe: 'pod shop/web-1' }, 'DEL');
    expect(w.notes).toEqual([expect.stringMatching(/^network net is also recorded in pod shop\/web-1 as net2, and its plugin portmap .* the DEL of net1 would remove what there was of it/)]);
    w.notes.length = 0;
    await writeFile(join(results, `net-${CID}-net1`), JSON.stringify(net1));
    const d = await w.detachOnNode();
    expect(d.trips).toBeLessThanOrEqual(2 + 2);
    expect(d.done).toEqual([expect.objectContaining({ network: 'net' })]);
    expect(d.done[0]!.sharedWith).toBeUndefined();
    expect(w.notes).toEqual([]);
    expect(await w.left('results')).toEqual([`net-${CID}-net2`]);
  });

  it('the note names every other ifname and every keyed plugin of the chain (sharedStateNote), in a dry run\'s words too', () => {
    expect(sharedStateNote('net', 'net1', 'pod shop/web-1', { ifnames: ['net2', 'net3'], plugins: ['portmap', 'bandwidth'] }, true)).toBe(
      'network net is also recorded in pod shop/web-1 as net2, net3, and its plugins portmap (its iptables chain on the node, CNI-DN-…) and bandwidth (its ifb device on the node, bwp…) name that state by network and container only: the DEL of net1 would remove what there was of it under that name, so their share would be gone too if their chains made one; to have it again, detach net2, net3 and attach them again',
    );
  });

  it('a detach of one of two attachments of a network whose plugins keep no such state: no note (the names are read, nothing is said)', async () => {
    const w = await world(['first', 'second']);
    await w.attachOnNode();
    const results = join(w.cacheDir, 'results');
    const net1 = JSON.parse(await readFile(join(results, `net-${CID}-net1`), 'utf8')) as { ifName: string };
    await writeFile(join(results, `net-${CID}-net2`), JSON.stringify({ ...net1, ifName: 'net2' }));
    const d = await w.detachOnNode();
    expect(d.trips).toBe(TRIPS_DETACH_2);
    expect(d.done[0]!.sharedWith).toBeUndefined();
    expect(w.notes).toEqual([]);
  });

  it('a detach\'s DEL mark rides on its first DEL and goes with its result: the same round trips as without it (1 + 2 look-up and unlock + 1 per plugin)', async () => {
    const mark = deletingPath(join(dir, 'cache'), { network: 'net', containerId: CID, ifname: 'net1' });
    const w = await world(['first', 'second'], { del: `[ -e '${mark}' ] && echo "mark seen by NAME" >> '${join(dir, 'calls')}'; exit 0` });
    await w.attachOnNode();
    const d = await w.detachOnNode();
    expect(d.trips).toBe(TRIPS_DETACH_2);
    expect((await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n').filter((l) => !l.startsWith('ADD'))).toEqual(['DEL second', 'mark seen by second', 'DEL first', 'mark seen by first']);
    expect(await w.left('cni-attach/deleting')).toEqual([]);
    expect(await w.left('results')).toEqual([]);
  });

  it('a detach whose node is lost during its DEL (a plugin\'s process killed there) leaves its mark with its result, and the next detach finishes both', async () => {
    const [arm, lost] = [join(dir, 'arm'), join(dir, 'lost')];
    const w = await world(['first', 'second'], { del: `[ -e '${arm}' ] && [ NAME = first ] && touch '${lost}'; exit 0` });
    await w.attachOnNode();
    w.node.lostAfter = () => existsSync(lost);
    await writeFile(arm, '');
    await expect(w.detachOnNode()).rejects.toThrow(UnreachableError);
    expect(await w.left('results')).toEqual([`net-${CID}-net1`]);
    expect(await w.left('cni-attach/deleting')).toEqual([`net-${CID}-net1`]);
    await rm(arm);
    await rm(lost);
    await rm(join(w.cacheDir, 'cni-attach/locks'), { recursive: true, force: true });
    await w.detachOnNode();
    expect(await w.left('results')).toEqual([]);
    expect(await w.left('cni-attach/deleting')).toEqual([]);
  });

  it('an ADD whose round trip never reached the node (not sent): no lock was taken, so none stays and none is removed — another command\'s lock taken since is left alone (before, the release was sent later and removed it)', async () => {
    const w = await world(['first']);
    const s = w.session();
    readAhead(s.ctx, s.cache, 'net1', w.list, false, w.req.rt.capabilityArgs);
    await s.exec.run(['true']); // the sandbox look-up
    // the lock, the intent and the ADD ride on the next round trip: it is refused before it leaves this host, and
    // another command takes the lock meanwhile
    const lock = lockPath(w.cacheDir, CID, 'net1');
    const other = `${hostname()} 1 1 limit=70s`;
    let once = true;
    w.node.unsent = () => {
      if (!once) return false;
      once = false;
      mkdirSync(dirname(lock), { recursive: true });
      writeFileSync(lock, other);
      return true;
    };
    await expect(attach(s.ctx, s.cache, w.req)).rejects.toThrow(/the ADD did not run \(the request never reached the node\): nothing was changed/);
    await s.exec.flush();
    expect(await readFile(lock, 'utf8')).toBe(other);
    expect(await w.left('results')).toEqual([]);
  });

  for (const plugins of [['first'], ['first', 'second']]) {
    it(`a CNI 1.1 list, ${plugins.length} plugin(s): STATUS is read ahead with VERSION, so the attach still takes at most 2 + ${plugins.length}`, async () => {
      const w = await world(plugins, { cniVersion: '1.1.0' });
      const a = await w.attachOnNode();
      expect(a.done.already).toBe(false);
      expect(a.trips).toBeLessThanOrEqual(2 + plugins.length);
      const calls = (await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n');
      expect(calls).toEqual([...plugins.map((p) => `STATUS ${p}`), ...plugins.map((p) => `ADD ${p}`)]);
      expect(await w.left('results')).toEqual([`net-${CID}-net1`]);
    });
  }

  it('a CNI 1.1 plugin that is not ready (STATUS fails): no ADD, nothing left, the plugin\'s error', async () => {
    const w = await world(['first'], { cniVersion: '1.1.0', status: `echo '{"cniVersion":"1.1.0","code":50,"msg":"the network is not available"}'; exit 1` });
    await expect(w.attachOnNode()).rejects.toThrow(/the network is not available/);
    expect((await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n')).toEqual(['STATUS first']);
    expect(await w.left('results')).toEqual([]);
    expect(await w.left('cni-attach/intents')).toEqual([]);
    expect(await w.left('cni-attach/locks')).toEqual([]);
  });

  it('the same attach step by step (no batching) takes many more', async () => {
    const w = await world(['first']);
    const exec = w.node;
    const ctx: ChainContext = { exec, cniPath: ['/nonexistent/cni', join(dir, 'bin')], timeoutMs: 10_000, note: () => undefined };
    await attach(ctx, new ResultCache(exec, w.cacheDir, fakeOwner()), w.req);
    expect(exec.commands.length).toBeGreaterThan(8);
  });

  it('a lock held by another host: the steps do not hold, and the step-by-step answer is busy; nothing ran', async () => {
    const w = await world(['first']);
    const lock = lockPath(w.cacheDir, CID, 'net1');
    await mkdir(join(w.cacheDir, 'cni-attach/locks'), { recursive: true });
    await writeFile(lock, 'other-host 77 1\n');
    await expect(w.attachOnNode()).rejects.toThrow(BusyError);
    expect(await w.left('results')).toEqual([]);
    expect(await w.left('cni-attach/intents')).toEqual([]);
    expect(await w.left('cni-attach/locks')).toEqual([`${CID}-net1.lock`]);
  });

  it('an attach still running (its intent there, its lock held): a second attach or a detach whose look-up saw the intent answers busy, not "interrupted"', async () => {
    const w = await world(['first']);
    await w.attachRunning();
    await expect(w.attachOnNode()).rejects.toThrow(/another cni-attach\/cni-detach \(pid 77 on host other-host\) is working on net1 in pod shop\/web-1 right now/);
    await expect(w.detachOnNode()).rejects.toThrow(BusyError);
    expect(await w.left('cni-attach/intents')).toEqual([`net-${CID}-net1`]);
    expect(await w.left('cni-attach/locks')).toEqual([`${CID}-net1.lock`]);
    expect(existsSync(join(dir, 'calls'))).toBe(false);
    // once it is done (lock gone): the record is judged as it is, in one round trip after the look-up
    await rm(lockPath(w.cacheDir, CID, 'net1'));
    const s = w.session();
    readAhead(s.ctx, s.cache, 'net1', w.list);
    await s.exec.run(['true']);
    const before = w.node.commands.length;
    await expect(attach(s.ctx, s.cache, w.req)).rejects.toThrow(/net1 is already taken in pod shop\/web-1: an attach of it was interrupted \(network net\)/);
    expect(w.node.commands.length - before).toBe(1);
    expect(await w.left('cni-attach/locks')).toEqual([]);
  });

  it('a check of an attach still running (its intent there, its lock held): busy, not "nothing is attached", and no plugin runs; once its lock is gone, "interrupted" with the cni-detach that undoes it', async () => {
    const w = await world(['first']);
    await w.attachRunning();
    // before: NotFoundError "nothing is attached as net1 …" for both
    await expect(w.checkOnNode()).rejects.toThrow(/^another cni-attach\/cni-detach \(pid 77 on host other-host\) is working on net1 in pod shop\/web-1 right now; try again when it is done$/);
    await expect(w.planCheckOnNode()).rejects.toThrow(BusyError);
    expect(existsSync(join(dir, 'calls'))).toBe(false);
    expect(await w.left('cni-attach/locks')).toEqual([`${CID}-net1.lock`]);
    await rm(lockPath(w.cacheDir, CID, 'net1'));
    for (const e of [await w.checkOnNode().catch((x: unknown) => x), await w.planCheckOnNode().catch((x: unknown) => x)]) {
      expect(e).toBeInstanceOf(NotFoundError);
      expect((e as NotFoundError).message).toBe('net1 in pod shop/web-1 is not attached: an attach of it was interrupted (network net); the link net1 in pod shop/web-1 and its IPAM lease may remain if no DEL freed them; nothing to CHECK');
      expect((e as NotFoundError).next).toBe('run `kubectl cni-detach web-1 -n shop --ifname net1` to undo it (`kubectl cni-detach web-1 -n shop --ifname net1 --force` if its DEL keeps failing)');
    }
    expect(await w.left('cni-attach/locks')).toEqual([]);
    expect(await w.left('cni-attach/intents')).toEqual([`net-${CID}-net1`]);
  });

  it('a check of an attachment being detached (its lock held): busy, no plugin runs; once free, CHECK runs under the lock in at most 2 + 2 × plugins round trips (VERSION and CHECK each), leaving no lock', async () => {
    const w = await world(['first', 'second']);
    await w.attachOnNode();
    await rm(join(dir, 'calls'));
    await writeFile(lockPath(w.cacheDir, CID, 'net1'), 'other-host 77 1\n');
    await expect(w.checkOnNode()).rejects.toThrow(BusyError);
    await expect(w.planCheckOnNode()).rejects.toThrow(BusyError);
    expect(existsSync(join(dir, 'calls'))).toBe(false);
    await rm(lockPath(w.cacheDir, CID, 'net1'));
    const c = await w.checkOnNode();
    expect(c.done).toEqual([{ network: 'net' }]);
    expect(c.trips).toBeLessThanOrEqual(2 + 2 * 2);
    expect(await w.left('cni-attach/locks')).toEqual([]);
  });

  it('an attachment there being detached (its lock held): a retried attach of it answers busy, not "already attached"', async () => {
    const w = await world(['first']);
    await w.attachOnNode();
    await writeFile(lockPath(w.cacheDir, CID, 'net1'), 'other-host 77 1\n');
    const s = w.session();
    readAhead(s.ctx, s.cache, 'net1', w.list);
    await s.exec.run(['true']);
    await expect(attach(s.ctx, s.cache, { ...w.req, reattachSame: true })).rejects.toThrow(BusyError);
    await rm(lockPath(w.cacheDir, CID, 'net1'));
    const again = await w.session();
    readAhead(again.ctx, again.cache, 'net1', w.list);
    await again.exec.run(['true']);
    expect((await attach(again.ctx, again.cache, { ...w.req, reattachSame: true })).already).toBe(true);
    expect(await w.left('cni-attach/locks')).toEqual([]);
  });

  it('an attachment recorded between the look-up and the lock: already taken, as step by step', async () => {
    const w = await world(['first']);
    await w.attachOnNode();
    const result = join(w.cacheDir, 'results', `net-${CID}-net1`);
    const saved = await readFile(result, 'utf8');
    // a second attach whose look-up comes before the first one's result is written
    await rm(result);
    const s = w.session();
    readAhead(s.ctx, s.cache, 'net1', w.list);
    await s.exec.run(['true']);
    await writeFile(result, saved);
    await expect(attach(s.ctx, s.cache, w.req)).rejects.toThrow(/net1 is already taken in pod shop\/web-1: it is attached \(network net\)/);
    expect(await w.left('cni-attach/locks')).toEqual([]);
    expect(await w.left('cni-attach/intents')).toEqual([]);
  });

  it('a result that cannot be written (sent with the unlock) is rolled back: DEL ran, no intent, no lock', async () => {
    const w = await world(['first']);
    await mkdir(w.cacheDir, { recursive: true });
    await writeFile(join(w.cacheDir, 'results'), 'a file where the results directory should be');
    await expect(w.attachOnNode()).rejects.toThrow(/could not write the result cache .* \(rolled back\)/);
    expect((await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n')).toEqual(['ADD first', 'DEL first']);
    expect(await w.left('cni-attach/intents')).toEqual([]);
    expect(await w.left('cni-attach/locks')).toEqual([]);
  });

  it('a failing ADD is rolled back: no intent, no lock, no result', async () => {
    const w = await world(['first', 'second']);
    await fakePlugin(join(dir, 'bin'), 'second', { add: `echo '{"code":7,"msg":"bad config"}'; exit 1` });
    await expect(w.attachOnNode()).rejects.toThrow(/plugin second failed on ADD \(CNI error 7\): bad config/);
    expect(await w.left('results')).toEqual([]);
    expect(await w.left('cni-attach/intents')).toEqual([]);
    expect(await w.left('cni-attach/locks')).toEqual([]);
  });
});

describe('portmap\'s chain of the network on the node while this cache records nothing of it (another --cache-dir, another tool): asked of iptables on the node with the look-up', () => {
  const LISTINGS = ['iptables -w -t nat -S', 'ip6tables -w -t nat -S'];
  const refusal = (family: string) =>
    `network net's plugin portmap names its iptables chain on the node by network and container only, and that chain, ${PM_CHAIN} (table nat of ${family}, jumped to from CNI-HOSTPORT-DNAT), exists already: another attachment of network net in pod shop/web-1 made it, recorded in another cache dir than ${join(dir, 'cache')} or made by another tool; attaching it as net1 would collide with it, and a DEL of either would remove the other's (nothing was changed)`;

  it('the chain name is portmap\'s (CNI-DN- + sha512 of network name and container id, 28 bytes)', () => {
    expect(portmapChainName('net', CID)).toBe(PM_CHAIN);
    // containernetworking/plugins 1.1.1 made this one for network pmnet in the netns /var/run/netns/h28aman4184p (run here)
    expect(portmapChainName('pmnet', 'cnitool-e0b12b7a4a85e22539a0')).toBe('CNI-DN-130585e3249fdac1b556f');
  });

  it.each([['v4', 'iptables'], ['v6', 'ip6tables']] as const)('its chain there (%s): the attach and its dry run are refused after the look-up alone (both listings rode on it), before any ADD; nothing is left', async (mode, family) => {
    const w = await world(['first', 'portmap'], { extra: { portmap: MAPPED } });
    const log = await fakeIptables(w, mode);
    await refusedAfterLookUp(w, refusal(family), `find that attachment (\`kubectl cni-list -A -o wide\` shows each one's cache dir; \`${family} -t nat -S CNI-HOSTPORT-DNAT\` shows the rule's "dnat name" and "id") and detach it first, or attach a config whose "name" is another network's`);
    expect(existsSync(join(dir, 'calls'))).toBe(false); // no plugin's ADD ran
    expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual([...LISTINGS, ...LISTINGS]);
    expect(await w.left('results')).toEqual([]);
    expect(await w.left('cni-attach/intents')).toEqual([]);
    expect(await w.left('cni-attach/locks')).toEqual([]);
  });

  it("its chain there with no jump to it (a portmap ADD that stopped part-way left it): refused as well, said as such, with the listing of its rules and the commands that remove it — after the look-up alone, the same listings; before, the jumps alone were read and the attach took that chain with the rules left in it", async () => {
    const w = await world(['first', 'portmap'], { extra: { portmap: MAPPED } });
    const log = await fakeIptables(w, 'unjumped');
    await refusedAfterLookUp(
      w,
      `network net's plugin portmap names its iptables chain on the node by network and container only, and that chain, ${PM_CHAIN} (table nat of iptables), exists already with no rule of CNI-HOSTPORT-DNAT jumping to it: a portmap ADD or DEL of network net in pod shop/web-1 stopped part-way left it (a failed ADD whose rollback failed too), of an attachment recorded in another cache dir than ${join(dir, 'cache')} or made by another tool; attaching it as net1 would take that chain with the rules left in it, and a DEL of either would remove it (nothing was changed)`,
      `\`iptables -w -t nat -S ${PM_CHAIN}\` shows its rules; find what left it (\`kubectl cni-list -A -o wide\` shows each attachment's cache dir) and detach it (its DEL removes the chain), or, once you know nothing records it, remove it: \`iptables -w -t nat -F ${PM_CHAIN} && iptables -w -t nat -X ${PM_CHAIN}\``,
    );
    expect(existsSync(join(dir, 'calls'))).toBe(false); // no plugin's ADD ran
    expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual([...LISTINGS, ...LISTINGS]);
    expect(await w.left('results')).toEqual([]);
    expect(await w.left('cni-attach/locks')).toEqual([]);
  });

  it.each([
    ['absent', `portmap's chain ${PM_CHAIN} of network net is not on the node`],
    ['missing', `could not tell whether portmap's chain ${PM_CHAIN} of network net is on the node (\`iptables -w -t nat -S\`: not found on the PATH of the plugins; \`ip6tables -w -t nat -S\`: not found on the PATH of the plugins): not refused for it`],
    ['error', `could not tell whether portmap's chain ${PM_CHAIN} of network net is on the node (\`iptables -w -t nat -S\`: exit 4: iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root); \`ip6tables -w -t nat -S\`: exit 4: ip6tables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)): not refused for it`],
  ] as const)('its chain not there, or iptables not there or failing (%s): attached in at most 2 + 2 round trips, and -v says what was found', async (mode, said) => {
    const w = await world(['first', 'portmap'], { extra: { portmap: MAPPED } });
    await fakeIptables(w, mode);
    const a = await w.attachOnNode();
    expect(a.done.already).toBe(false);
    expect(a.trips).toBeLessThanOrEqual(2 + 2);
    // without iptables, a portmap given no backend would use nftables: nft is asked too (not on this node either)
    const nft = `could not tell whether rules of container ${CID} are in portmap's nftables table cni_hostport on the node (\`nft list table ip cni_hostport\`: not found on the PATH of the plugins; \`nft list table ip6 cni_hostport\`: not found on the PATH of the plugins): not refused for it`;
    expect(w.debugs.filter((l) => l.includes('portmap'))).toEqual(mode === 'missing' ? [said, nft] : [said]);
    expect(await w.left('results')).toEqual([`net-${CID}-net1`]);
    expect(await w.left('cni-attach/locks')).toEqual([]);
  });

  it('a portmap that gets no port mappings (none in its config, none given) is not asked about: no iptables runs, even with the chain there (its ADD and DEL touch no iptables then); given by capabilityArgs to a plugin that declares them, it is asked and refused', async () => {
    const w = await world(['first', 'portmap'], { extra: { portmap: { capabilities: { portMappings: true } } } });
    const log = await fakeIptables(w, 'v4');
    const a = await w.attachOnNode();
    expect(a.done.already).toBe(false);
    expect(a.trips).toBeLessThanOrEqual(2 + 2);
    expect(existsSync(log)).toBe(false);
    await w.detachOnNode();
    const req = { ...w.req, rt: { ...w.req.rt, capabilityArgs: { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] } } };
    const s = w.session();
    const before = w.node.commands.length;
    readAhead(s.ctx, s.cache, 'net1', w.list, false, req.rt.capabilityArgs);
    await s.exec.run(['true']);
    const e = await attach(s.ctx, s.cache, req).catch((x: unknown) => x);
    expect((e as Error).message).toBe(refusal('iptables'));
    expect(w.node.commands.length - before).toBe(1);
    expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual(LISTINGS);
  });
});

describe('portmap\'s nftables backend (plugins ≥ 1.6): its rules are marked by container id alone, so rules of the sandbox already on the node (the pod\'s own host ports, another network\'s) are asked of nft with the look-up', () => {
  const NFT = { ...MAPPED, backend: 'nftables' };
  const refusal = (family: string, backend = '') =>
    `network net's plugin portmap uses its nftables backend${backend}, which marks each rule it makes with the container id alone, and rules of container ${CID} are in table ${family} cni_hostport already: another attachment in pod shop/web-1 made them — the pod's own network's host ports, or another network's —, and portmap's DEL removes every rule of its container id, so a DEL of net1 (or the rollback of a failed ADD) would remove those too (nothing was changed)`;

  it.each([['v4', 'ip'], ['v6', 'ip6']] as const)('"backend": "nftables", rules of the sandbox in table %s cni_hostport: the attach and its dry run are refused after the look-up alone, before any ADD, iptables not asked; nothing is left', async (mode, family) => {
    const w = await world(['first', 'portmap'], { extra: { portmap: NFT } });
    const ipt = await fakeIptables(w, 'v4'); // iptables holds the chain too: not asked for a portmap that uses nftables
    const log = await fakeNft(w, mode);
    await refusedAfterLookUp(w, refusal(family), `attach it with portmap's "backend": "iptables" where the node has iptables (its chain is named by network and container), or without port mappings; \`nft list table ${family} cni_hostport\` shows those rules`);
    expect(existsSync(join(dir, 'calls'))).toBe(false); // no plugin's ADD ran
    const LISTED = ['nft list table ip cni_hostport', 'nft list table ip6 cni_hostport'];
    expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual([...LISTED, ...LISTED]);
    expect(existsSync(ipt)).toBe(false);
    expect(await w.left('results')).toEqual([]);
    expect(await w.left('cni-attach/locks')).toEqual([]);
  });

  it('no "backend" given, no iptables on the node (portmap then chooses nftables): refused the same way; with iptables there, nft\'s rules do not count (portmap uses iptables) and the attach goes on', async () => {
    const w = await world(['first', 'portmap'], { extra: { portmap: MAPPED } });
    await fakeIptables(w, 'missing');
    await fakeNft(w, 'v4');
    const s = w.session();
    readAhead(s.ctx, s.cache, 'net1', w.list, false, w.req.rt.capabilityArgs);
    await s.exec.run(['true']);
    const e = await attach(s.ctx, s.cache, w.req).catch((x: unknown) => x);
    expect((e as Error).message).toBe(refusal('ip', ' (given no "backend", it chooses nftables on a node without iptables)'));
    expect(existsSync(join(dir, 'calls'))).toBe(false);
    // (a request's answer is asked once: a new world, its request new)
    const w2 = await world(['first', 'portmap'], { extra: { portmap: MAPPED } });
    await fakeIptables(w2, 'absent');
    await fakeNft(w2, 'v4');
    const a = await w2.attachOnNode();
    expect(a.done.already).toBe(false);
    expect(a.trips).toBeLessThanOrEqual(2 + 2);
    expect(await w2.left('results')).toEqual([`net-${CID}-net1`]);
  });

  it.each([
    ['other', `no rules of container ${CID} in portmap's nftables table cni_hostport on the node`],
    ['error', `could not tell whether rules of container ${CID} are in portmap's nftables table cni_hostport on the node (\`nft list table ip cni_hostport\`: exit 1: Error: Could not process rule: Operation not permitted; \`nft list table ip6 cni_hostport\`: exit 1: Error: Could not process rule: Operation not permitted): not refused for it`],
  ] as const)('"backend": "nftables", rules of other containers only, or nft failing (%s): attached in at most 2 + 2 round trips, and -v says what was found', async (mode, said) => {
    const w = await world(['first', 'portmap'], { extra: { portmap: NFT } });
    await fakeNft(w, mode);
    const a = await w.attachOnNode();
    expect(a.done.already).toBe(false);
    expect(a.trips).toBeLessThanOrEqual(2 + 2);
    expect(w.debugs.filter((l) => l.includes('portmap'))).toEqual([said]);
    expect(await w.left('results')).toEqual([`net-${CID}-net1`]);
  });
});

describe('portmap\'s nftables backend and a detach: rules of the sandbox made after the attach (by another tool, the pod\'s own host ports), which its DEL would remove too, asked of nft with the look-up', () => {
  const NFT = { ...MAPPED, backend: 'nftables' };
  /** The rules portmap's nftables backend made for this attachment (its address: the chain's result, 198.18.0.3), and another's. */
  const OURS = [`tcp dport 18080 dnat to 198.18.0.3:80 comment "${CID}"`, `ip saddr 198.18.0.3 ip daddr 198.18.0.3 masquerade comment "${CID}"`];
  const OTHERS = [`tcp dport 8080 dnat to 198.18.0.30:80 comment "${CID}"`, `ip saddr 127.0.0.1 ip daddr 198.18.0.30 masquerade comment "${CID}"`];
  const WAYS = { detach: 'kubectl cni-detach web-1 -n shop --ifname net1', force: 'kubectl cni-detach web-1 -n shop --ifname net1 --force', forceWithConfig: '' };
  const refusal = (chosen = '') =>
    `net1 in pod shop/web-1 is not detached: network net's plugin portmap uses its nftables backend${chosen}, whose DEL removes every rule of its container id, and there are 2 rules of container ${CID} in portmap's nftables table that this attachment did not make (they name none of its addresses, 198.18.0.3): table ip cni_hostport: «${OTHERS[0]}», «${OTHERS[1]}» — another attachment's in the sandbox, the pod's own network's host ports, or another tool's, made after this attach —; its DEL would remove them too (nothing was changed)`;
  const NEXT = '`kubectl cni-detach web-1 -n shop --ifname net1 --force` detaches it all the same, and its DEL removes those rules too; `nft list table ip cni_hostport` shows them';

  /** A detach (or its dry run) as the CLI makes it on a node: the reads declared, the look-up, the engine; its answer and round trips. */
  async function detachWith(w: Awaited<ReturnType<typeof world>>, o: { force?: boolean; dry?: boolean } = {}) {
    const s = w.session();
    const before = w.node.commands.length;
    readAhead(s.ctx, s.cache, 'net1', undefined, true);
    await s.exec.run(['true']); // the sandbox look-up
    const req = { containerId: CID, ifname: 'net1', describe: 'pod shop/web-1', ways: WAYS, ...(o.force ? { force: true } : {}) };
    const done = await (o.dry ? planRecorded(s.ctx, s.cache, req, 'DEL') : detach(s.ctx, s.cache, req)).catch((e: unknown) => e);
    return { done, trips: w.node.commands.length - before };
  }
  const dels = async () => (await readFile(join(dir, 'calls'), 'utf8').catch(() => '')).split('\n').filter((l) => l.startsWith('DEL'));

  it('only the rules this attachment made (they name its address): detached as before, in at most TRIPS_DETACH_2 round trips, nothing said', async () => {
    const w = await world(['first', 'portmap'], { extra: { portmap: NFT } });
    await fakeNft(w, 'other');
    await w.attachOnNode();
    const log = await fakeNft(w, 'v4', CID, OURS);
    const asked = (await readFile(log, 'utf8')).trim().split('\n').length;
    const d = await detachWith(w);
    expect(d.done, String(d.done)).toEqual([expect.objectContaining({ network: 'net' })]);
    expect(d.trips).toBeLessThanOrEqual(TRIPS_DETACH_2);
    expect(w.notes).toEqual([]);
    expect(await dels()).toEqual(['DEL portmap', 'DEL first']);
    expect((await readFile(log, 'utf8')).trim().split('\n').slice(asked)).toEqual(['nft list table ip cni_hostport', 'nft list table ip6 cni_hostport']);
  });

  it('rules of its container id naming another address (198.18.0.30, not 198.18.0.3): the detach and its dry run are refused after the look-up alone, naming them and the cni-detach --force; nothing ran, the record stays (before: its DEL removed them unsaid)', async () => {
    const w = await world(['first', 'portmap'], { extra: { portmap: NFT } });
    await fakeNft(w, 'other');
    await w.attachOnNode();
    await fakeNft(w, 'v4', CID, [...OURS, ...OTHERS]);
    for (const dry of [true, false]) {
      const d = await detachWith(w, { dry });
      expect(d.done, String(d.done)).toBeInstanceOf(UsageError);
      expect((d.done as Error).message).toBe(refusal());
      expect((d.done as UsageError).next).toBe(NEXT);
      // (the dry run reads the lock as any dry run of a detach does: a command of its own)
      expect(d.trips, dry ? 'dry run' : 'detach').toBe(dry ? 2 : 1);
    }
    expect(await dels()).toEqual([]);
    expect(await w.left('results')).toEqual([`net-${CID}-net1`]);
    expect(await w.left('cni-attach/deleting')).toEqual([]);
    expect(await w.left('cni-attach/locks')).toEqual([]);
  });

  it('with --force: detached, in at most TRIPS_DETACH_2 round trips, a note saying its DEL removes those rules too (the dry run: would)', async () => {
    const w = await world(['first', 'portmap'], { extra: { portmap: NFT } });
    await fakeNft(w, 'other');
    await w.attachOnNode();
    await fakeNft(w, 'v4', CID, [...OURS, ...OTHERS]);
    const said = (verb: string) => `--force: network net's plugin portmap uses its nftables backend, whose DEL removes every rule of its container id: the DEL of net1 ${verb} 2 rules of container ${CID} in portmap's nftables table that this attachment did not make (they name none of its addresses, 198.18.0.3): table ip cni_hostport: «${OTHERS[0]}», «${OTHERS[1]}»`;
    const plan = await detachWith(w, { force: true, dry: true });
    expect(plan.done).toHaveLength(2);
    expect(w.notes).toEqual([said('would remove')]);
    w.notes.length = 0;
    const d = await detachWith(w, { force: true });
    expect(d.done, String(d.done)).toEqual([expect.objectContaining({ network: 'net' })]);
    expect(d.trips).toBeLessThanOrEqual(TRIPS_DETACH_2);
    expect(w.notes).toEqual([said('removes')]);
    expect(await dels()).toEqual(['DEL portmap', 'DEL first']);
    expect(await w.left('results')).toEqual([]);
  });

  it('a portmap given no "backend" (it chooses nftables only on a node without iptables): refused when rules of its own are in the table (they say it chose nftables), said so; with none of its own there (it used iptables, and its DEL leaves the table alone) detached — no run of iptables, no round trip more', async () => {
    const w = await world(['first', 'portmap'], { extra: { portmap: MAPPED } });
    const ipt = await fakeIptables(w, 'absent');
    await fakeNft(w, 'other');
    await w.attachOnNode();
    await fakeNft(w, 'v4', CID, [...OURS, ...OTHERS]);
    const d = await detachWith(w);
    expect((d.done as Error).message).toBe(refusal(' (given no "backend", it chose nftables, as its own rules there say: a node without iptables)'));
    expect(d.trips).toBe(1);
    expect(await dels()).toEqual([]);
    await fakeNft(w, 'v4', CID, OTHERS);
    const ok = await detachWith(w);
    expect(ok.done, String(ok.done)).toEqual([expect.objectContaining({ network: 'net' })]);
    expect(ok.trips).toBeLessThanOrEqual(TRIPS_DETACH_2);
    expect(w.notes).toEqual([]);
    expect(await dels()).toEqual(['DEL portmap', 'DEL first']);
    // iptables ran for the attach's check alone
    expect((await readFile(ipt, 'utf8')).trim().split('\n')).toEqual(['iptables -w -t nat -S', 'ip6tables -w -t nat -S']);
  });
});

describe('a batch on one node: one look-up, then each pod a fork of its snapshot (exec/batch.ts fork)', () => {
  /** Plugins that record their ADD per container id and print a result. */
  async function batchWorld(plugins: string[], o: Parameters<typeof world>[1] = {}) {
    const w = await world(plugins, o);
    const bin = join(dir, 'bin');
    for (const name of plugins) {
      await fakePlugin(bin, name, {
        add: `echo "ADD ${name} $CNI_CONTAINERID" >> '${join(dir, 'calls')}'; echo '{"cniVersion":"1.0.0","interfaces":[{"name":"net1"}],"ips":[{"address":"198.18.0.9/24","interface":0}]}'`,
        del: `echo "DEL ${name} $CNI_CONTAINERID" >> '${join(dir, 'calls')}'`,
      });
    }
    const engineOn = (exec: BatchingExecutor) => {
      const ctx: ChainContext = { exec, cniPath: ['/nonexistent/cni', bin], timeoutMs: 10_000, note: () => undefined };
      return { ctx, cache: new ResultCache(exec, w.cacheDir, fakeOwner()) };
    };
    /** The node's look-up: what the engine reads declared on the node's session, then one command (the look-up). */
    const lookUp = async () => {
      const snapshot = new BatchingExecutor(w.node);
      const e = engineOn(snapshot);
      readAhead(e.ctx, e.cache, 'net1', w.list);
      await snapshot.run(['true']);
      return snapshot;
    };
    const attachPod = (snapshot: BatchingExecutor, containerId: string, ifname = 'net1') => {
      const e = engineOn(snapshot.fork());
      readAhead(e.ctx, e.cache, ifname, w.list); // each pod declares it again, as the CLI does: nothing new to send
      return attach(e.ctx, e.cache, { ...w.req, rt: { ...w.req.rt, containerId, ifname } });
    };
    return { ...w, lookUp, attachPod };
  }
  const cids = ['sb-a', 'sb-b', 'sb-c', 'sb-d'];

  // (with bandwidth: each pod's names, checked again under its network's lock, are only its own sandbox's, so the
  // others' records written meanwhile make no pod's steps fail)
  for (const plugins of [['first'], ['first', 'second'], ['first', 'bandwidth']]) {
    it(`${plugins.join(' + ')}, 4 pods at once: 1 + 4 × (1 + ${plugins.length}) round trips, everything attached and left clean`, async () => {
      const w = await batchWorld(plugins);
      const snapshot = await w.lookUp();
      expect(w.node.commands).toHaveLength(1);
      const done = await Promise.all(cids.map((c) => w.attachPod(snapshot, c)));
      expect(done.every((d) => !d.already)).toBe(true);
      expect(w.node.commands).toHaveLength(1 + cids.length * (1 + plugins.length));
      expect(await w.left('results')).toEqual(cids.map((c) => `net-${c}-net1`));
      expect(await w.left('cni-attach/intents')).toEqual([]);
      expect(await w.left('cni-attach/locks')).toEqual([]);
    });
  }

  it('first + portmap with port mappings, 4 pods at once, portmap\'s chain of the network in one of them on the node (another cache dir\'s): the listings of iptables and ip6tables ran once, with the node\'s look-up, for all four; that pod is refused with no round trip, the others attach in 1 + 2 each', async () => {
    const w = await batchWorld(['first', 'portmap'], { extra: { portmap: MAPPED } });
    const log = await fakeIptables(w, 'v4', portmapChainName('net', 'sb-c'));
    const snapshot = await w.lookUp();
    expect(w.node.commands).toHaveLength(1);
    const done = await Promise.all(cids.map((c) => w.attachPod(snapshot, c).catch((e: unknown) => e)));
    expect(done.map((d) => (d instanceof Error ? d.constructor.name : 'attached'))).toEqual(['attached', 'attached', 'UsageError', 'attached']);
    expect((done[2] as Error).message).toMatch(/^network net's plugin portmap names its iptables chain on the node by network and container only, and that chain, CNI-DN-[0-9a-f]{21} \(table nat of iptables, jumped to from CNI-HOSTPORT-DNAT\), exists already/);
    expect(w.node.commands).toHaveLength(1 + 3 * (1 + 2));
    expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual(['iptables -w -t nat -S', 'ip6tables -w -t nat -S']);
    expect(await w.left('results')).toEqual(['sb-a', 'sb-b', 'sb-d'].map((c) => `net-${c}-net1`));
    expect(await w.left('cni-attach/locks')).toEqual([]);
  });

  it.each(['bandwidth', 'portmap'])('two attaches of one network under two ifnames in one sandbox at one moment, its chain holding %s, both judged from one look-up that saw neither: one attaches, the other is busy or refused — never both ADDs (the network\'s lock in the sandbox, and the names checked again under it)', async (keyed) => {
    const w = await batchWorld(['first', keyed], keyed === 'portmap' ? { extra: { portmap: MAPPED } } : {});
    for (let round = 0; round < 3; round++) {
      await rm(join(dir, 'calls'), { force: true });
      const snapshot = await w.lookUp();
      const out = await Promise.allSettled([w.attachPod(snapshot, 'sb-a', 'net1'), w.attachPod(snapshot, 'sb-a', 'net2')]);
      const won = out.findIndex((o) => o.status === 'fulfilled');
      expect(out.filter((o) => o.status === 'fulfilled'), String(out.map((o) => (o.status === 'rejected' ? o.reason : 'ok')))).toHaveLength(1);
      const lost = (out[1 - won] as PromiseRejectedResult).reason as Error;
      const [winner, loser] = won === 0 ? ['net1', 'net2'] : ['net2', 'net1'];
      // busy while the other's attach holds the network's lock; refused once it is recorded
      if (lost instanceof BusyError) expect(lost.message).toMatch(/^another cni-attach \(pid \d+.*\) is attaching network net under another ifname in pod shop\/web-1 right now; try again when it is done$/);
      else expect(lost.message).toBe(`network net is already recorded in pod shop/web-1 as ${winner}, and its plugin ${keyed} (${KEYED_BY_NETWORK_AND_CONTAINER.get(keyed)}) names that state by network and container only: attaching it again as ${loser} would collide with it, and a DEL of either would remove the other's (nothing was changed)`);
      expect((await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n').filter((l) => l.startsWith('ADD')).sort()).toEqual(['ADD first sb-a', `ADD ${keyed} sb-a`].sort());
      expect(await w.left('results')).toEqual([`net-sb-a-${winner}`]);
      expect(await w.left('cni-attach/intents')).toEqual([]);
      expect(await w.left('cni-attach/locks')).toEqual([]);
      await rm(join(w.cacheDir, 'results', `net-sb-a-${winner}`));
    }
  });

  it('an attach of a keyed network whose lock in the sandbox another host holds (an attach of it under another ifname running there): busy in those words, nothing ran, its own locks let go', async () => {
    const w = await batchWorld(['first', 'bandwidth']);
    await mkdir(join(w.cacheDir, 'cni-attach/locks'), { recursive: true });
    await writeFile(networkLockPath(w.cacheDir, 'net', 'sb-a'), 'other-host 77 1\n');
    const snapshot = await w.lookUp();
    const e = await w.attachPod(snapshot, 'sb-a', 'net2').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BusyError);
    expect((e as Error).message).toBe('another cni-attach (pid 77 on host other-host) is attaching network net under another ifname in pod shop/web-1 right now; try again when it is done');
    expect(existsSync(join(dir, 'calls'))).toBe(false);
    expect(await w.left('cni-attach/locks')).toEqual(['net:net:sb-a.lock']);
    expect(await w.left('cni-attach/intents')).toEqual([]);
  });

  it('a pod whose cache changed after the node\'s look-up: its steps do not hold, it answers as step by step (already taken); the others attach', async () => {
    const w = await batchWorld(['first']);
    const snapshot = await w.lookUp();
    // another cni-attach attached sb-b after the look-up
    await mkdir(join(w.cacheDir, 'results'), { recursive: true });
    await writeFile(join(w.cacheDir, 'results', 'net-sb-b-net1'), JSON.stringify({ kind: 'cniCacheV1', containerId: 'sb-b', config: 'e30=', ifName: 'net1', networkName: 'net', cniArgs: [], result: {} }));
    const out = await Promise.allSettled(cids.map((c) => w.attachPod(snapshot, c)));
    expect(out.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(String((out[1] as PromiseRejectedResult).reason)).toMatch(/net1 is already taken in pod shop\/web-1: it is attached \(network net\)/);
    expect((await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n').sort()).toEqual(['ADD first sb-a', 'ADD first sb-c', 'ADD first sb-d']);
    expect(await w.left('cni-attach/locks')).toEqual([]);
    expect(await w.left('cni-attach/intents')).toEqual([]);
  });
});

describe('a node whose way in fails before its sh runs (an agent whose nsenter is refused)', () => {
  /** Every command fails as nsenter does there: nothing on stdout, why on stderr, exit 1. */
  class RefusingNode extends ShellExecutor {
    readonly where = 'node node-far (through agent pod kube-system/cni-attach-agent-x)';
    async run(): Promise<RunResult> {
      return { code: 1, stdout: '', stderr: 'nsenter: cannot open /proc/1/ns/ipc: Permission denied\n', timedOut: false };
    }
  }
  it('the steps that never started are an UnreachableError (exit 4) saying why, not an internal error (exit 1) saying "no output"; stopped by the user\'s signal, as any run it stopped', async () => {
    const { UnreachableError } = await import('../../src/errors.js');
    const s = new BatchingExecutor(new RefusingNode());
    s.readAhead({ dirs: [{ path: join(dir, 'results'), suffix: '' }] });
    // the look-up a read-ahead rides on, and a flush of writes
    const looked = await s.run(['true']).catch((e: unknown) => e);
    expect(looked).toBeInstanceOf(UnreachableError);
    expect((looked as Error).message).toBe('the steps on node node-far (through agent pod kube-system/cni-attach-agent-x) did not start: nsenter: cannot open /proc/1/ns/ipc: Permission denied');
    await s.writeFileAtomic(join(dir, 'x'), 'x');
    await expect(s.flush()).rejects.toBeInstanceOf(UnreachableError);
    // a run the user's signal stopped is the signal's (cli/main.ts: exit 128 + n), not the node's
    class Stopped extends RefusingNode {
      override async run(): Promise<RunResult> {
        return { code: null, signal: 'SIGTERM', stdout: '', stderr: '', timedOut: false, interrupted: 'SIGINT' };
      }
    }
    const t = new BatchingExecutor(new Stopped());
    t.readAhead({ dirs: [{ path: join(dir, 'results'), suffix: '' }] });
    const stopped = await t.run(['true']).catch((e: unknown) => e);
    expect(stopped).not.toBeInstanceOf(UnreachableError);
    expect((stopped as Error).message).toBe('the steps on node node-far (through agent pod kube-system/cni-attach-agent-x) did not start: killed by SIGTERM');
  });
});

describe('the write-behind steps through the real sh (writes, exclusive creates, removals)', () => {
  it('make missing parents 0700, give 0600 (umask) or the asked mode, replace atomically, and refuse an existing create', async () => {
    const node = new CountingNode();
    const s = new BatchingExecutor(node);
    const deep = join(dir, 'a', 'b', 'c.json');
    const wide = join(dir, 'a', 'wide.json');
    const lock = join(dir, 'locks', 'x.lock');
    await writeFile(join(dir, 'old.json'), 'old');
    await s.writeFileAtomic(deep, 'one\nline "two" $HOME `x`');
    await s.writeFileAtomic(wide, 'w', 0o644);
    await s.writeFileAtomic(join(dir, 'old.json'), 'new');
    await s.flush();
    expect(node.commands).toHaveLength(1);
    const { stat } = await import('node:fs/promises');
    expect(await readFile(deep, 'utf8')).toBe('one\nline "two" $HOME `x`');
    expect((await stat(deep)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'a'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'a', 'b'))).mode & 0o777).toBe(0o700);
    expect((await stat(wide)).mode & 0o777).toBe(0o644);
    expect(await readFile(join(dir, 'old.json'), 'utf8')).toBe('new');
    // no temp file is left beside what was written
    expect((await readdir(join(dir, 'a'))).sort()).toEqual(['b', 'wide.json']);
    expect((await readdir(dir)).filter((n) => n.startsWith('.'))).toEqual([]);

    // an exclusive create straight after a look-up rides on the next command; a second one finds it there
    s.readAhead({ dirs: [{ path: join(dir, 'locks'), suffix: '.lock' }] });
    await s.run(['true']);
    expect(await s.createExclusive(lock, 'me', 0o640)).toBe(true);
    await s.run(['true']);
    expect(await readFile(lock, 'utf8')).toBe('me');
    expect((await stat(lock)).mode & 0o777).toBe(0o640);
    expect((await stat(join(dir, 'locks'))).mode & 0o777).toBe(0o700);
    const other = new BatchingExecutor(node);
    other.readAhead({ dirs: [{ path: join(dir, 'locks'), suffix: '.lock' }] });
    await other.run(['true']);
    expect(await other.createExclusive(lock, 'them')).toBe(true); // answered optimistically …
    await expect(other.run(['true'])).rejects.toThrow(/exists/); // … and refused by the node
    expect(await readFile(lock, 'utf8')).toBe('me');
    await s.removeFile(lock);
    await s.flush();
    expect(await readdir(join(dir, 'locks'))).toEqual([]);
  });
});

/**
 * A node whose commands run through `shell` (`sh` here: dash on Debian, as on a kind node; or busybox's sh and applets
 * only, as in the agent's image) with a PATH of logging wrappers: every process a command starts is counted by name
 * (with dash: busybox's sh runs its own applets without looking at PATH, so there the log stays empty).
 */
class ToolCountingNode extends ShellExecutor {
  readonly where = 'tool-counting node';
  constructor(
    private readonly bin: string,
    private readonly shell: string[],
  ) {
    super();
  }
  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    argv = opts.prelude ? withPrelude(argv, opts.prelude) : argv;
    const cmd = argv[0] === 'sh' ? [...this.shell, ...argv.slice(1)] : argv;
    const r = await execa(cmd[0]!, cmd.slice(1), { env: { ...(opts.env ?? this.baseEnv()), PATH: this.bin }, extendEnv: false, input: opts.stdin ?? '', reject: false, stripFinalNewline: false });
    return { code: r.exitCode ?? null, stdout: String(r.stdout), stderr: String(r.stderr), timedOut: false };
  }
  static async make(dir: string, busybox: boolean): Promise<{ node: ToolCountingNode; ran: () => Promise<string[]> }> {
    const bin = join(dir, 'bin');
    await mkdir(bin);
    const log = join(dir, 'ran.log');
    await writeFile(log, '');
    for (const tool of ['stat', 'cat', 'base64', 'mktemp', 'rm', 'mv', 'mkdir', 'chmod', 'timeout', 'env', 'head', 'tr', 'sort', 'true']) {
      const real = busybox ? `/usr/bin/busybox ${tool}` : ['/usr/bin', '/bin'].map((d) => `${d}/${tool}`).find((f) => existsSync(f));
      await writeFile(join(bin, tool), `#!/bin/sh\necho ${tool} >> '${log}'\nexec ${real} "$@"\n`, { mode: 0o755 });
    }
    const node = new ToolCountingNode(bin, busybox ? ['/usr/bin/busybox', 'sh'] : ['/bin/sh']);
    return { node, ran: async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean) };
  }
}

describe.each([
  ['dash and coreutils', false],
  ['busybox sh and applets', true],
])('a listing read ahead through the real shell (%s)', (_, busybox) => {
  const odd = ['plain-eth1', 'with space-eth1', '-leading-dash-eth1', "quote'd\"-eth1", 'multibyte-é-✓-eth1', 'B-upper-eth1', 'a-lower-eth1'];

  it('every file exactly, whatever its name; not dotfiles, directories, other suffixes or names with a newline; none for a missing directory', async () => {
    const { node } = await ToolCountingNode.make(dir, busybox);
    const cache = join(dir, 'results');
    await mkdir(cache);
    const files = new Map(odd.map((n, i) => [n, i === 0 ? '' : `{"n":${i},"s":"line\\nbreak é"}\n${'x'.repeat(i * 1000)}`]));
    for (const [n, c] of files) await writeFile(join(cache, n), c);
    await writeFile(join(cache, '.hidden-eth1'), 'no');
    await writeFile(join(cache, 'other-eth2'), 'no');
    await writeFile(join(cache, 'new\nline-eth1'), 'no');
    await mkdir(join(cache, 'adir-eth1'));
    const s = new BatchingExecutor(node);
    s.readAhead({ dirs: [{ path: cache, suffix: '-eth1' }, { path: join(dir, 'missing'), suffix: '-eth1' }] });
    await s.run(['true']);
    const before = (node as unknown as { runs?: number }).runs;
    expect(await s.listDir(cache, '-eth1')).toEqual([...files.keys()].sort());
    for (const [n, c] of files) expect(await s.readFile(join(cache, n))).toBe(c);
    expect(await s.listDir(join(dir, 'missing'), '-eth1')).toEqual([]);
    expect((node as unknown as { runs?: number }).runs).toBe(before); // all of it from the one round trip
  });

  it('entry names alone (nameDirs): every name, whatever it is; not dotfiles or names with a newline; none for a missing directory; no process', async () => {
    const { node, ran } = await ToolCountingNode.make(dir, busybox);
    const cache = join(dir, 'results');
    await mkdir(cache);
    for (const n of odd) await writeFile(join(cache, n), '{}');
    await writeFile(join(cache, '.hidden-eth1'), 'no');
    await writeFile(join(cache, 'new\nline-eth1'), 'no');
    const s = new BatchingExecutor(node);
    s.readAhead({ nameDirs: [cache, join(dir, 'missing')] });
    await s.run(['true']);
    const before = await ran();
    expect(await s.listDir(cache)).toEqual([...odd].sort());
    expect(await s.listDir(cache, '-eth1')).toEqual([...odd].sort());
    expect(await s.listDir(join(dir, 'missing'))).toEqual([]);
    expect(await ran()).toEqual(before); // all of it from the one round trip
    // and that round trip ran no process for it (mktemp and rm: the steps' own directory, withPrelude's, in any round trip)
    expect(before.filter((t) => !['true', 'mktemp', 'rm'].includes(t))).toEqual([]);
  });

  it('a name added after the snapshot makes the check under the lock fail (PreconditionFailed), as the sorted names differ', async () => {
    const { node } = await ToolCountingNode.make(dir, busybox);
    const cache = join(dir, 'results');
    await mkdir(cache);
    for (const n of odd) await writeFile(join(cache, n), '{}');
    const s = new BatchingExecutor(node);
    s.readAhead({ dirs: [{ path: cache, suffix: '-eth1' }] });
    await s.run(['true']);
    expect(await s.createExclusive(join(dir, 'x.lock'), 'me')).toBe(true);
    await s.listDir(cache, '-eth1');
    await writeFile(join(cache, 'late-eth1'), '{}');
    await expect(s.run(['true'])).rejects.toThrow(/changed since it was read/);
    // and without the late one it holds
    await rm(join(cache, 'late-eth1'));
    const t = new BatchingExecutor(node);
    t.readAhead({ dirs: [{ path: cache, suffix: '-eth1' }] });
    await t.run(['true']);
    expect(await t.createExclusive(join(dir, 'y.lock'), 'me')).toBe(true);
    await t.listDir(cache, '-eth1');
    await t.run(['true']);
    await t.removeFile(join(dir, 'y.lock'));
    await t.flush();
  });
});

describe('the processes of a listing on the node (dash and coreutils, counted through PATH)', () => {
  it('costs the same processes for 1 file as for 30 (one stat, one cat), and the check of the names none', async () => {
    const counts: number[] = [];
    for (const n of [1, 30]) {
      const sub = join(dir, `n${n}`);
      await mkdir(join(sub, 'results'), { recursive: true });
      const { node, ran } = await ToolCountingNode.make(sub, false);
      for (let i = 0; i < n; i++) await writeFile(join(sub, 'results', `net-sandbox${i}-eth1`), `{"i":${i}}`);
      const s = new BatchingExecutor(node);
      s.readAhead({ dirs: [{ path: join(sub, 'results'), suffix: '-eth1' }] });
      await s.run(['true']);
      expect(await s.listDir(join(sub, 'results'), '-eth1')).toHaveLength(n);
      // a lock taken after reading the snapshot: the names read are checked under it, in the same round trip
      expect(await s.createExclusive(join(sub, 'x.lock'), 'me')).toBe(true);
      expect(await s.listDir(join(sub, 'results'), '-eth1')).toHaveLength(n);
      await s.run(['true']);
      await s.removeFile(join(sub, 'x.lock'));
      await s.flush();
      const tools = await ran();
      expect(tools.filter((t) => t === 'base64' || t === 'tr' || t === 'sort' || t === 'head')).toEqual([]); // the frames need no process
      counts.push(tools.length);
    }
    expect(counts[1]).toBe(counts[0]);
  });
});

describe.each([
  ['dash', ['sh']],
  ['busybox sh', ['/usr/bin/busybox', 'sh']],
  ['bash', ['bash']],
])('the processes of the steps under a lock (%s, counted in a PID namespace of its own)', (_, shell) => {
  /**
   * Run the steps as a node does (buildScript's prelude in sh) and count the processes they created; `pre`: shell run
   * before them (a umask, an option of that shell). Also what the shell is like after them: what the command after
   * them gets (its working directory, LC_ALL, umask, noclobber), and the steps' stderr.
   */
  async function runSteps(steps: Step[], env: Record<string, string> = {}, pre = ':'): Promise<{ codes: number[]; processes: number; after: { cwd?: string; lc?: string; umask?: string; noclobber?: boolean }; stderr: string[] }> {
    const { script, args, mark } = buildScript(steps);
    // PID 1 is the namespace's sh; every process the steps make takes the next pid, and the sh its EXIT trap starts
    // (also after a failed step's return 99) one more (`; :`: not the last command, which sh may exec in place)
    // (the working directory, LC_ALL, the umask and the options after the steps are printed there too: what the
    // command after them gets); the steps are a function's body in that shell, as in a node session's (Prelude)
    const trap = `sh -c "echo pid \\$\\$"; :; echo "cwd $(pwd)"; echo "lc \${LC_ALL-unset}"; echo "umask $(umask)"; echo "opts $-"`;
    const r = await execa('unshare', ['--pid', '--fork', ...shell, '-c', `t=$T\ncd "$T"\n${pre}\ntrap '${trap}' EXIT\nsteps() {\n${script}\n}\nsteps "$@"`, 'sh', ...args], { env: { T: dir, ...env }, reject: false, stripFinalNewline: false });
    const pid = Number(/^pid (\d+)$/m.exec(r.stdout)?.[1]);
    const after = { cwd: /^cwd (.*)$/m.exec(r.stdout)?.[1], lc: /^lc (.*)$/m.exec(r.stdout)?.[1], umask: /^umask (.*)$/m.exec(r.stdout)?.[1], noclobber: /^opts (.*)$/m.exec(r.stdout)?.[1]?.includes('C') };
    const framed = parseFramed(r.stdout, mark).steps;
    return { codes: framed.map((s) => s.code), processes: pid - 2, after, stderr: framed.map((s) => s.stderr) };
  }

  it('a record read from the snapshot is checked with one process, the command substitution that execs cat (two before: a shell that forked cat, then printf x), and nothing else; an absent one with no process; the bytes decide', async () => {
    const file = join(dir, 'record');
    const content = '{"é":"line\nbreak"}\n\n';
    await writeFile(file, content);
    expect(await runSteps([{ kind: 'expectFile', path: file, content }])).toMatchObject({ codes: [0], processes: 1 });
    // twice in one shell: its x written once
    expect(await runSteps([{ kind: 'expectFile', path: file, content }, { kind: 'expectFile', path: file, content }])).toMatchObject({ codes: [0, 0], processes: 2 });
    // trailing newlines count (the x after them), and so does every other byte
    expect((await runSteps([{ kind: 'expectFile', path: file, content: content.slice(0, -1) }])).codes).toEqual([1]);
    expect((await runSteps([{ kind: 'expectFile', path: file, content: `${content}\n` }])).codes).toEqual([1]);
    expect((await runSteps([{ kind: 'expectFile', path: file, content: content.replace('é', 'e') }])).codes).toEqual([1]);
    expect((await runSteps([{ kind: 'expectFile', path: join(dir, 'gone'), content }])).codes).toEqual([1]);
    expect(await runSteps([{ kind: 'expectFile', path: join(dir, 'gone'), content: undefined }])).toMatchObject({ codes: [0], processes: 0 });
    expect(await runSteps([{ kind: 'expectFile', path: file, content: undefined }])).toMatchObject({ codes: [1], processes: 0 });
  });

  it('the names of a directory are checked with no process, in the C locale\'s order, and leave the working directory and LC_ALL as they were', async () => {
    const cache = join(dir, 'results');
    await mkdir(cache);
    const names = ['-lead-eth1', 'B-upper-eth1', 'a-lower-eth1', "quote'd\"-eth1", 'with space-eth1', 'é-eth1'];
    for (const n of [...names, 'other-eth2', '.hidden-eth1']) await writeFile(join(cache, n), '{}');
    const check = (dirName: string, expected: string[], prefix?: string): Step => ({ kind: 'expectNames', dir: dirName, suffix: '-eth1', names: expected, ...(prefix ? { prefix } : {}) });
    for (const env of [{}, { LC_ALL: 'C.UTF-8' }, { LC_ALL: '' }]) {
      const lc = 'LC_ALL' in env ? env.LC_ALL : 'unset';
      expect(await runSteps([check(cache, names)], env)).toMatchObject({ codes: [0], processes: 0, after: { cwd: dir, lc } });
      expect(await runSteps([check(cache, names.slice(1))], env)).toMatchObject({ codes: [1], processes: 0, after: { cwd: dir, lc } });
      expect(await runSteps([check(cache, ['B-upper-eth1'], 'B')], env)).toMatchObject({ codes: [0], processes: 0, after: { cwd: dir, lc } });
    }
    // another order, a name more, none for a missing directory
    expect((await runSteps([check(cache, [...names].reverse())])).codes).toEqual([1]);
    await writeFile(join(cache, 'late-eth1'), '{}');
    expect((await runSteps([check(cache, names)])).codes).toEqual([1]);
    expect((await runSteps([check(join(dir, 'missing'), [])])).codes).toEqual([0]);
    expect((await runSteps([check(join(dir, 'missing'), ['a-eth1'])])).codes).toEqual([1]);
  });
  it('a lock is created with no process but its directory\'s chmod 700, once per shell (and the umask read once): a directory there with a wider mode is made 0700 first; the umask and noclobber are put back as they were, also when the lock was there already', async () => {
    const locks = join(dir, 'locks');
    await mkdir(locks, { mode: 0o777 });
    await execa('chmod', ['777', locks]); // someone else's, wider
    const lock = (name: string): Step => ({ kind: 'create', path: join(locks, name), data: `me ${name}\n`, mode: 0o600 });
    // the umask's command substitution and the chmod, for the first lock; nothing for the second
    expect(await runSteps([lock('a.lock'), lock('b.lock')], {}, 'umask 0027')).toMatchObject({ codes: [0, 0], processes: 2, after: { cwd: dir, umask: '0027', noclobber: false } });
    expect((await stat(locks)).mode & 0o777).toBe(0o700);
    for (const n of ['a.lock', 'b.lock']) {
      expect(await readFile(join(locks, n), 'utf8')).toBe(`me ${n}\n`);
      expect((await stat(join(locks, n))).mode & 0o777).toBe(0o600); // umask 077, whatever the shell's
    }
    // taken already: the step fails (a precondition), the file is as it was, and the shell as it was
    const taken = await runSteps([lock('a.lock')], {}, 'umask 0027');
    expect(taken).toMatchObject({ processes: 2, after: { umask: '0027', noclobber: false } });
    expect(taken.codes).toEqual([expect.any(Number)]);
    expect(taken.codes[0]).not.toBe(0);
    expect(await readFile(join(locks, 'a.lock'), 'utf8')).toBe('me a.lock\n');
    // a shell with noclobber on keeps it (a step's stderr file is then one not there yet: the frames' own redirection)
    await rm(join(dir, 'se'), { force: true });
    expect(await runSteps([lock('c.lock')], {}, 'set -C')).toMatchObject({ codes: [0], after: { noclobber: true } });
    // a directory not there yet is made, 0700
    expect(await runSteps([{ kind: 'create', path: join(dir, 'new', 'locks', 'x.lock'), data: 'me', mode: 0o600 }])).toMatchObject({ codes: [0] });
    expect((await stat(join(dir, 'new', 'locks'))).mode & 0o777).toBe(0o700);
  });

  it('a write is one process, its mv (atomic rename), whatever the shell: mode 0600 (or the one asked, by chmod) under the shell\'s own umask, which is put back', async () => {
    const f = join(dir, 'results', 'net-x-eth1');
    const data = '{"a":"line\nbreak é"}\n';
    // (the umask read, the directory's mkdir, the mv)
    expect(await runSteps([{ kind: 'write', path: f, data, mode: 0o600 }], {}, 'umask 0002')).toMatchObject({ codes: [0], processes: 3, after: { umask: '0002', noclobber: false } });
    expect(await readFile(f, 'utf8')).toBe(data);
    expect((await stat(f)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'results'))).mode & 0o777).toBe(0o700);
    // the umask read and the mv; the same shell's second write costs its mv alone (and the chmod of a mode asked)
    expect(await runSteps([{ kind: 'write', path: f, data: 'a', mode: 0o600 }, { kind: 'write', path: f, data: 'b', mode: 0o644 }])).toMatchObject({ codes: [0, 0], processes: 4 });
    expect(await readFile(f, 'utf8')).toBe('b');
    expect((await stat(f)).mode & 0o777).toBe(0o644);
    expect((await readdir(join(dir, 'results'))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('a removal costs no process when none of its paths is there, and one rm for a run of them when one is (a dangling link too); a path rm cannot remove fails the step with rm\'s message', async () => {
    await mkdir(join(dir, 'node'));
    const [a, b, c] = ['intent', 'lock', 'link'].map((n) => join(dir, 'node', n));
    const rmStep = (path: string): Step => ({ kind: 'remove', path });
    expect(await runSteps([rmStep(a!)])).toMatchObject({ codes: [0], processes: 0 });
    expect(await runSteps([rmStep(a!), rmStep(b!)])).toMatchObject({ codes: [0, 0], processes: 0 });
    await writeFile(b!, 'x');
    await symlink(join(dir, 'nowhere'), c!);
    expect(await runSteps([rmStep(a!), rmStep(b!), rmStep(c!)])).toMatchObject({ codes: [0, 0, 0], processes: 1 });
    expect(await readdir(join(dir, 'node'))).toEqual([]);
    await mkdir(a!);
    const r = await runSteps([rmStep(a!), rmStep(b!)]);
    expect(r).toMatchObject({ codes: [1], processes: 2 }); // rm, and the cat of its stderr into the frame
    expect(r.stderr[0]).toContain(a);
  });
});

/**
 * A node session (exec/node-session.ts) whose shell is `shell` in a PID namespace of its own, run here as docker exec or
 * pods/exec would run it on a node: every process it creates takes the next pid there. The node's tools are logging
 * wrappers first on its PATH (a wrapper execs the tool: one process each, named in `ran()`). `pid()` asks the pid the
 * next process gets (a request whose command prints its own pid: its subshell execs it, then the answer's `head`).
 */
async function countedSession(base: string, shell: string[]) {
  const bin = join(base, 'node-bin');
  await mkdir(bin);
  const log = join(base, 'ran.log');
  await writeFile(log, '');
  for (const tool of ['rm', 'mv', 'mkdir', 'chmod', 'cat', 'head', 'timeout', 'env', 'mktemp', 'stat', 'id']) {
    const real = ['/usr/bin', '/bin'].map((d) => `${d}/${tool}`).find((f) => existsSync(f));
    await writeFile(join(bin, tool), `#!/bin/sh\necho ${tool} >> '${log}'\nexec ${real} "$@"\n`, { mode: 0o755 });
  }
  const path = `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`;
  const procs: ChildProcess[] = [];
  const pool = new SessionPool(async (argv) => {
    const proc = spawn('unshare', ['--pid', '--fork', ...shell, ...argv.slice(1)], { env: { PATH: path, TMPDIR: base }, stdio: ['pipe', 'pipe', 'inherit'] });
    procs.push(proc);
    proc.stdin!.on('error', () => undefined);
    return {
      write: (d: Buffer) => void proc.stdin!.write(d),
      onData: (cb: (c: Buffer) => void) => void proc.stdout!.on('data', cb),
      ended: new Promise<void>((r) => proc.on('close', () => r())),
      destroy: () => void proc.kill('SIGKILL'),
    };
  });
  const never = async (): Promise<{ code: number; stdout: string; stderr: string }> => {
    throw new Error('must not run as an exec of its own');
  };
  class SessionNode extends ShellExecutor {
    readonly where = 'counted node';
    override baseEnv(): Record<string, string> {
      return { PATH: path };
    }
    run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
      return runStoppable(this.where, async () => undefined, (c, lim, what) => viaSession(pool, this.where, c, never, (lim ?? 0) + 10_000, what), argv, opts, this.baseEnv());
    }
  }
  const node = new SessionNode();
  return {
    node,
    ran: async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean),
    pid: async () => Number((await node.run(['sh', '-c', 'echo $$'])).stdout.trim()),
    close: async () => {
      await pool.close();
      for (const p of procs) p.kill('SIGKILL');
    },
  };
}

describe.each([
  // busybox's own timeout (its applet, which busybox sh runs without looking at PATH) is three processes: it execs the
  // plugin itself, after a child that forks the watcher and exits; GNU's is two, itself and the plugin it forks
  ['dash', ['sh'], 0],
  ['busybox sh', ['/usr/bin/busybox', 'sh'], 1],
  ['bash', ['bash'], 0],
])('the processes of a pod\'s attach and detach on a node session (%s, counted in a PID namespace of its own)', (_, shell, timeoutMore) => {
  it('per pod of a batch, 6 for an attach and 6 for a detach, 7 with busybox\'s timeout (before: 7 and 7, 8 with busybox\'s; earlier 11 and 11 in dash, 12 and 12 in busybox, 14 and 13 in bash): the atomic renames (mv), one rm, timeout and the plugin, the plugin\'s answer\'s head (a flush\'s frames come back without one), and for a detach the record\'s check (one cat); no subshell of a step or of a flush; the locks directory\'s chmod and the umask read once per session', async () => {
    const s = await countedSession(dir, shell);
    try {
      const bin = join(dir, 'cni-bin');
      await mkdir(bin);
      // a plugin that starts no process of its own: the one it is, started by timeout
      const result = '{"cniVersion":"1.0.0","interfaces":[{"name":"net1"}],"ips":[{"address":"198.18.0.2/24","interface":0}]}';
      await writeFile(join(bin, 'first'), `#!/bin/sh\ncase "$CNI_COMMAND" in\nADD) echo '${result}' ;;\nVERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}' ;;\nesac\nexit 0\n`, { mode: 0o755 });
      const list = parseNetworkConfig(JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'first' }), 'test');
      const cacheDir = join(dir, 'cache');
      const engine = (exec: BatchingExecutor) => ({ ctx: { exec, cniPath: [bin], timeoutMs: 10_000, note: () => undefined, debug: () => undefined } as ChainContext, cache: new ResultCache(exec, cacheDir, fakeOwner()) });
      const pods = ['sandbox-a', 'sandbox-b', 'sandbox-c'];
      /** One operation per pod, each from the node's look-up snapshot (as a batch does: resolve/node-lookups.ts); the processes and tools of each. */
      const batch = async (op: (e: ReturnType<typeof engine>, cid: string) => Promise<unknown>, forDetach: boolean) => {
        const node = new BatchingExecutor(s.node);
        const n = engine(node);
        readAhead(n.ctx, n.cache, 'net1', forDetach ? undefined : list, forDetach);
        await node.run(['true']); // the node's sandbox look-up, which the read-ahead rides on
        const counts: { processes: number; tools: string[] }[] = [];
        for (const cid of pods) {
          const before = await s.pid();
          const from = (await s.ran()).length;
          await op(engine(node.fork()), cid);
          const to = (await s.ran()).length;
          const after = await s.pid();
          // less the first pid request's answer (its head): the pid requests' own processes and tools are not the pod's
          counts.push({ processes: after - before - 2, tools: (await s.ran()).slice(from, to).sort() });
        }
        return counts;
      };
      const rt = (cid: string) => ({ containerId: cid, netns: '/proc/1/ns/net', ifname: 'net1', cniArgs: [] as [string, string][], capabilityArgs: {} });
      const attached = await batch(({ ctx, cache }, cid) => attach(ctx, cache, { list, rt: rt(cid), describe: `pod shop/${cid}`, interfaceExists: async () => false }), false);
      const detached = await batch(({ ctx, cache }, cid) => detach(ctx, cache, { containerId: cid, ifname: 'net1', describe: `pod shop/${cid}` }), true);
      expect(await readdir(join(cacheDir, 'results'))).toEqual([]);
      expect(await readdir(join(cacheDir, 'cni-attach/locks'))).toEqual([]);
      // attach: the ADD's round trip (the lock, the checks of the names read, the intent's write: its mv; no rm for
      // the DEL mark that is not there; the plugin under timeout; the answer's head), then the flush (the result's
      // write: its mv; one rm of the intent and the lock; its frames straight back, no head: node-session.ts P)
      // detach: the DEL's round trip (the lock, the record's check: a command substitution that execs cat; the DEL
      // mark's write: its mv; the plugin under timeout; head), then the flush (one rm of the four; no head)
      const steady = 6 + timeoutMore;
      expect(attached.map((c) => c.processes)).toEqual([steady + 5, steady, steady]); // the first: 3 mkdir, the umask read, the chmod
      expect(detached.map((c) => c.processes)).toEqual([steady + 1, steady, steady]); // the first: the DEL marks' mkdir
      if (shell[0] !== '/usr/bin/busybox') {
        // (bash's `env -i` of the command's exec is that same process)
        const named = (c: { tools: string[] }) => c.tools.filter((t) => t !== 'env');
        expect(attached.map(named)).toEqual([
          ['chmod', 'head', 'mkdir', 'mkdir', 'mkdir', 'mv', 'mv', 'rm', 'timeout'],
          ['head', 'mv', 'mv', 'rm', 'timeout'],
          ['head', 'mv', 'mv', 'rm', 'timeout'],
        ]);
        expect(detached.map(named)).toEqual([
          ['cat', 'head', 'mkdir', 'mv', 'rm', 'timeout'],
          ['cat', 'head', 'mv', 'rm', 'timeout'],
          ['cat', 'head', 'mv', 'rm', 'timeout'],
        ]);
      }
      expect((await stat(join(cacheDir, 'cni-attach/locks'))).mode & 0o777).toBe(0o700);
    } finally {
      await s.close();
    }
  });
});

describe('parseListing', () => {
  it('refuses a listing whose sizes do not add up (a file changed between stat and cat) and one cut short', async () => {
    const { parseListing, listingOutput } = await import('../../src/exec/batch.js');
    const good = listingOutput([['a', 'é1'], ['b c', '']]);
    expect(parseListing(Buffer.from(good))).toEqual(new Map([['a', 'é1'], ['b c', '']]));
    expect(parseListing(Buffer.from(`${good}x`))).toBeUndefined();
    expect(parseListing(Buffer.from(good.slice(0, -1)))).toBeUndefined();
    expect(parseListing(Buffer.from('2\n1 a\n'))).toBeUndefined();
    expect(parseListing(Buffer.from(''))).toBeUndefined();
    expect(parseListing(Buffer.from('0\n'))).toEqual(new Map());
  });
});
