/**
 * A per-file "lab": unique names, network namespaces, links and temp directories that are always removed again.
 *
 *   const lab = useLab('br');   // at the top of a test file
 *
 * registers the hooks: beforeAll records net.ipv4.ip_forward; beforeEach checks the environment (requireRoot), so
 * that without root or the plugins every test fails (rather than being skipped); afterEach removes everything the test made (also when it failed); afterAll sweeps anything left with this
 * file's prefix and restores ip_forward (and fails the file if something had changed it).
 *
 * Names are `cnt<tag><run><rand><kind>`: <tag> is the file's, <run> is random per file run, so two runs of the
 * suite on one machine, or files running in parallel, never touch each other's things. All names are ≤ 15 bytes.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { requireRoot, CNI_DIR } from './env.js';
import { ipForward, links, netnsList, netnsPath, setIpForward, type Link } from './net.js';
import { must, sh } from './sh.js';

export interface Workspace {
  /** The test's temp directory (removed after the test). */
  dir: string;
  /** --cache-dir for the CLI. */
  cacheDir: string;
  /** host-local dataDir. */
  dataDir: string;
  /** A directory for fake plugins (pass as --cni-path). */
  pluginDir: string;
}

export interface HostSnapshot {
  links: Link[];
  netns: string[];
}

const rand = (bytes: number) => randomBytes(bytes).toString('hex');

export class Lab {
  readonly prefix: string;
  private readonly used = new Set<string>();
  private cleanups: { what: string; fn: () => Promise<void> }[] = [];

  constructor(readonly tag: string) {
    if (!/^[a-z]{2}$/.test(tag)) throw new Error(`lab tag must be two lowercase letters, got ${JSON.stringify(tag)}`);
    this.prefix = `cnt${tag}${rand(2)}`;
  }

  /** A fresh unique name: prefix + random + kind letter (b bridge, n netns, v veth, …). */
  name(kind: string): string {
    for (;;) {
      const n = `${this.prefix}${rand(2).slice(0, 3)}${kind}`;
      if (Buffer.byteLength(n) > 15) throw new Error(`name ${n} is longer than 15 bytes`);
      if (!this.used.has(n)) {
        this.used.add(n);
        return n;
      }
    }
  }

  /** Run fn when the current test ends (last registered runs first). */
  defer(what: string, fn: () => Promise<void>): void {
    this.cleanups.push({ what, fn });
  }

  /** A new named network namespace with lo up; deleted after the test. Returns its name. */
  async netns(): Promise<string> {
    const name = this.name('n');
    await must(['ip', 'netns', 'add', name]);
    this.defer(`netns ${name}`, () => deleteNetns(name));
    await must(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** A bridge name for the bridge plugin to create; the bridge is deleted after the test (the plugin never does). */
  bridge(): string {
    const name = this.name('b');
    this.defer(`bridge ${name}`, () => deleteLink(name));
    return name;
  }

  /** A veth pair in the host namespace, both ends up; deleted after the test. */
  async veth(): Promise<[string, string]> {
    const a = this.name('v');
    const b = this.name('w');
    this.defer(`veth ${a}`, () => deleteLink(a));
    await must(['ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
    await must(['ip', 'link', 'set', a, 'up']);
    await must(['ip', 'link', 'set', b, 'up']);
    return [a, b];
  }

  /** Temp dirs for one test: cache dir, host-local dataDir, fake plugin dir. */
  async workspace(): Promise<Workspace> {
    const dir = await mkdtemp(join(tmpdir(), `${this.prefix}-`));
    this.defer(`dir ${dir}`, () => rm(dir, { recursive: true, force: true }));
    const ws = { dir, cacheDir: join(dir, 'cache'), dataDir: join(dir, 'ipam'), pluginDir: join(dir, 'plugins') };
    await mkdir(ws.pluginDir);
    return ws;
  }

  /** The usual CLI arguments for ns/ifname with this workspace (and --conf when given). */
  args(ws: Workspace, ns: string, ifname: string, conf?: string, cniPath = CNI_DIR): string[] {
    return [
      '--netns', netnsPath(ns),
      '--ifname', ifname,
      ...(conf !== undefined ? ['--conf', conf] : []),
      '--cache-dir', ws.cacheDir,
      '--cni-path', cniPath,
    ];
  }

  /** Undo everything registered since the last cleanup, newest first; every step runs even if one fails. */
  async cleanup(): Promise<void> {
    const todo = this.cleanups.reverse();
    this.cleanups = [];
    const errors: string[] = [];
    for (const c of todo) {
      try {
        await c.fn();
      } catch (e) {
        errors.push(`${c.what}: ${(e as Error).message}`);
      }
    }
    if (errors.length > 0) throw new Error(`cleanup failed:\n  ${errors.join('\n  ')}`);
  }

  /** Safety net: remove any namespace, link or temp dir with this file's prefix that is still there. */
  async sweep(): Promise<string[]> {
    const left: string[] = [];
    for (const ns of await netnsList()) {
      if (ns.startsWith(this.prefix)) {
        left.push(`netns ${ns}`);
        await deleteNetns(ns);
      }
    }
    for (const l of await links()) {
      if (l.name.startsWith(this.prefix)) {
        left.push(`link ${l.name}`);
        await deleteLink(l.name);
      }
    }
    for (const d of await readdir(tmpdir())) {
      if (d.startsWith(`${this.prefix}-`)) {
        left.push(`dir ${join(tmpdir(), d)}`);
        await rm(join(tmpdir(), d), { recursive: true, force: true });
      }
    }
    return left;
  }

  /** The host's links and namespaces now. */
  async snapshot(): Promise<HostSnapshot> {
    return { links: await links(), netns: await netnsList() };
  }

  /**
   * What appeared on the host since `before` that this lab's tests could have made: links named with our prefix,
   * enslaved to one of our bridges, or peered into one of our namespaces; links named cni0 (the bridge plugin's
   * default); namespaces with our prefix. Other test files running in parallel make their own, unrelated links.
   */
  async newHostThings(before: HostSnapshot): Promise<string[]> {
    const now = await this.snapshot();
    const had = new Set(before.links.map((l) => `${l.index}:${l.name}`));
    const p = this.prefix;
    const fresh = now.links.filter((l) => !had.has(`${l.index}:${l.name}`));
    const ours = fresh.filter(
      (l) => l.name.startsWith(p) || l.name === 'cni0' || l.line.includes(` master ${p}`) || l.line.includes(` link-netns ${p}`),
    );
    const nsHad = new Set(before.netns);
    return [
      ...ours.map((l) => `link ${l.line.slice(0, 160)}`),
      ...now.netns.filter((n) => !nsHad.has(n) && n.startsWith(p)).map((n) => `netns ${n}`),
    ];
  }
}

export async function deleteNetns(name: string): Promise<void> {
  const r = await sh(['ip', 'netns', 'del', name]);
  if (r.exitCode !== 0 && !/No such file|Cannot remove namespace file/.test(r.stderr)) {
    throw new Error(`ip netns del ${name}: ${r.stderr.trim()}`);
  }
}

export async function deleteLink(name: string): Promise<void> {
  const r = await sh(['ip', 'link', 'del', 'dev', name]);
  if (r.exitCode !== 0 && !/Cannot find device|does not exist/.test(r.stderr)) {
    throw new Error(`ip link del ${name}: ${r.stderr.trim()}`);
  }
}

/** Regular files under dir, as paths relative to it ([] when dir does not exist). */
/**
 * What a successful attach keeps in the cache directory besides attachments: the plugins' VERSION answers
 * (src/cni/cache.ts, versionStore). A cache of the plugins, not the state of any attachment, so it stays after detach.
 */
export const VERSIONS_FILE = 'cni-attach/plugin-versions.json';

/** filesUnder(cacheDir) without VERSIONS_FILE: what attachments (results, intents, locks, temp files) left there. */
export async function attachmentFiles(cacheDir: string): Promise<string[]> {
  return (await filesUnder(cacheDir)).filter((f) => f !== VERSIONS_FILE);
}

export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string, rel: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const n of names) {
      const s = await stat(join(d, n));
      if (s.isDirectory()) await walk(join(d, n), rel ? `${rel}/${n}` : n);
      else out.push(rel ? `${rel}/${n}` : n);
    }
  }
  await walk(dir, '');
  return out.sort();
}

/** Create the lab of a test file and register its hooks (see the module comment). */
export function useLab(tag: string): Lab {
  const lab = new Lab(tag);
  let forwardBefore: string | undefined;
  beforeAll(async () => {
    forwardBefore = await ipForward().catch(() => undefined);
  });
  // per test, not per file: a failing beforeAll would only mark the tests skipped; these must each FAIL
  beforeEach(() => {
    requireRoot();
  });
  afterEach(async () => {
    await lab.cleanup();
  });
  afterAll(async () => {
    const left = await lab.sweep();
    if (forwardBefore !== undefined) {
      const now = await ipForward();
      if (now !== forwardBefore) {
        await setIpForward(forwardBefore);
        throw new Error(`net.ipv4.ip_forward changed from ${forwardBefore} to ${now} during ${tag} tests (restored)`);
      }
    }
    if (left.length > 0) throw new Error(`tests left things behind (now removed):\n  ${left.join('\n  ')}`);
  });
  return lab;
}
