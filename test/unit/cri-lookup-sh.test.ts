/**
 * The sandbox look-up script of resolve/cri.ts run for real (sh, sed, awk, base64 of this host) against a stand-in
 * `crictl` on PATH: Debian has no crictl, and the fake executor of the other unit tests answers the script in
 * TypeScript, so this is where the script's crictl branch itself runs. The stand-in answers as crictl does: `pods`
 * filtered by the --name / --namespace regexps and --state, `-q` the ids, `inspectp -o json` of several ids an array
 * (cri-tools outputStatusData) or, with FAKE_CRICTL_OLD, one object after another (older releases). Each run
 * is logged, so the number of runtime CLI runs of a batch's look-up is counted.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalExecutor } from '../../src/exec/local.js';
import { CriSandboxes, LOOKUP } from '../../src/resolve/cri.js';
import { spawn } from 'node:child_process';
import { mkdir, readdir, stat } from 'node:fs/promises';

const CRICTL = `#!/usr/bin/env node
const fs = require('fs');
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_CRICTL_LOG, JSON.stringify(args) + '\\n');
const sandboxes = JSON.parse(fs.readFileSync(process.env.FAKE_CRICTL_STATE, 'utf8'));
const flag = (f) => { const i = args.indexOf(f); return i < 0 ? undefined : args[i + 1]; };
if (args[0] === 'pods') {
  const name = flag('--name'), ns = flag('--namespace'), state = flag('--state');
  const items = sandboxes.filter((s) => (!name || new RegExp(name).test(s.metadata.name)) && (!ns || new RegExp(ns).test(s.metadata.namespace))
    && (!state || (state === 'ready') === (s.state === 'SANDBOX_READY')));
  if (args.includes('-q')) for (const s of items) console.log(s.id);
  else console.log(JSON.stringify({ items: items.map(({ pid, ...s }) => s) }, null, 2));
} else if (args[0] === 'inspectp') {
  if (process.env.FAKE_CRICTL_HANG) { fs.writeFileSync(process.env.FAKE_CRICTL_HANG, String(process.pid)); setTimeout(() => undefined, 60000); return; }
  const ids = [];
  for (let i = 1; i < args.length; i++) if (args[i] === '-o' || args[i] === '--output') i++; else ids.push(args[i]);
  const out = ids.map((id) => {
    const s = sandboxes.find((x) => x.id === id);
    if (!s) { console.error('getting the pod sandbox status of ' + id + ': not found'); process.exit(1); }
    return { status: { id, metadata: s.metadata, state: s.state }, info: { pid: s.pid, runtimeSpec: { linux: { namespaces: [{ type: 'pid' }, { type: 'network', path: '/var/run/netns/cni-' + id }] } } } };
  });
  if (process.env.FAKE_CRICTL_OLD) for (const o of out) console.log(JSON.stringify(o, null, 2));
  else console.log(JSON.stringify(out.length === 1 ? out[0] : out, null, 2));
} else process.exit(2);
`;

let dir: string;
let server: Server;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cni-attach-crictl-'));
  await writeFile(join(dir, 'crictl'), CRICTL);
  await chmod(join(dir, 'crictl'), 0o755);
  // the probe wants a runtime socket: a listening one, as CRI-O's would be
  server = createServer();
  await new Promise<void>((r) => server.listen(join(dir, 'crio.sock'), r));
});
afterEach(async () => {
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

/** This host, with the stand-in crictl first on PATH and the runtime endpoint pointing at the socket. */
class CrictlHost extends LocalExecutor {
  constructor(private readonly extra: Record<string, string>) {
    super();
  }
  override baseEnv(): Record<string, string> {
    const env = super.baseEnv();
    return { ...env, ...this.extra, PATH: `${dir}:${env.PATH ?? '/usr/bin:/bin'}` };
  }
}

const meta = (name: string, uid: string) => ({ name, namespace: 'shop', uid, attempt: 0 });
const refs = ['web-1', 'web-2', 'web-3', 'web-4', 'web.5'].map((name, i) => ({ namespace: 'shop', name, uid: `uid-${i + 1}`, node: 'n' }));

for (const old of [false, true]) {
  describe(`the look-up script with crictl${old ? ' (older releases: one object per id)' : ''}`, () => {
    it('a batch\'s pods in 3 crictl runs: the listing, the ready ids, one inspectp of them all; each pod answered as alone', async () => {
      const sandboxes = [
        { id: 'aaa', state: 'SANDBOX_READY', createdAt: '2', pid: process.pid, metadata: meta('web-1', 'uid-1') },
        { id: 'bbb', state: 'SANDBOX_READY', createdAt: '2', pid: process.ppid, metadata: meta('web-2', 'uid-2') },
        { id: 'ccc', state: 'SANDBOX_NOTREADY', createdAt: '2', pid: 0, metadata: meta('web-3', 'uid-3') },
        { id: 'ddd', state: 'SANDBOX_READY', createdAt: '1', pid: process.pid, metadata: meta('web-4', 'uid-OLD') },
        { id: 'eee', state: 'SANDBOX_READY', createdAt: '1', pid: process.pid, metadata: meta('web-5x', 'uid-x') },
        { id: 'fff', state: 'SANDBOX_READY', createdAt: '1', pid: process.pid, metadata: meta('web.5', 'uid-5') },
      ];
      await writeFile(join(dir, 'state.json'), JSON.stringify(sandboxes));
      const exec = new CrictlHost({
        CONTAINER_RUNTIME_ENDPOINT: `unix://${join(dir, 'crio.sock')}`, FAKE_CRICTL_STATE: join(dir, 'state.json'), FAKE_CRICTL_LOG: join(dir, 'log'),
        ...(old ? { FAKE_CRICTL_OLD: '1' } : {}),
      });
      const looked = await new CriSandboxes(exec).lookUp(refs);
      expect(looked.tool).toBe('crictl');
      const one = await looked.answer(refs[0]!);
      expect(one).toMatchObject({ id: 'aaa', pid: process.pid, netnsPath: '/var/run/netns/cni-aaa' });
      // the links of the sandbox's namespace, read from /proc/PID/net/dev in the same command
      expect(one!.links).toContain('lo');
      expect(await looked.answer(refs[1]!)).toMatchObject({ id: 'bbb', pid: process.ppid });
      await expect(looked.answer(refs[2]!)).rejects.toThrow('the sandbox of shop/web-3 on this host is not ready');
      await expect(looked.answer(refs[3]!)).rejects.toThrow(/belong to an earlier pod of that name \(uid uid-OLD\), not to this one \(uid uid-4\)/);
      // a name with a dot matches itself only (web.5, not web-5x)
      expect(await looked.answer(refs[4]!)).toMatchObject({ id: 'fff' });
      const runs = (await readFile(join(dir, 'log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as string[]);
      expect(runs).toEqual([
        ['pods', '--namespace', 'shop', '--name', '^(web-1|web-2|web-3|web-4|web[.]5)$', '-o', 'json'],
        ['pods', '--namespace', 'shop', '--name', '^(web-1|web-2|web-3|web-4|web[.]5)$', '--state', 'ready', '-q'],
        ['inspectp', '-o', 'json', 'aaa', 'bbb', 'ddd', 'fff'],
      ]);
    });
  });
}

describe('the look-up\'s own directory (tryout: a look-up killed by the user\'s signal left its mktemp -d directory, files o and e, in the node\'s /tmp)', () => {
  const sandboxes = [{ id: 'aaa', state: 'SANDBOX_READY', createdAt: '2', pid: process.pid, metadata: meta('web-1', 'uid-1') }];
  /** The look-up script as a node runs it (sh -c, its own process group as a run's), hung in its inspectp; its pid. */
  const hung = async (tmp: string) => {
    await writeFile(join(dir, 'state.json'), JSON.stringify(sandboxes));
    const env = { ...new CrictlHost({}).baseEnv(), TMPDIR: tmp, CONTAINER_RUNTIME_ENDPOINT: `unix://${join(dir, 'crio.sock')}`, FAKE_CRICTL_STATE: join(dir, 'state.json'), FAKE_CRICTL_LOG: join(dir, 'log'), FAKE_CRICTL_HANG: join(dir, 'hung') };
    const child = spawn('sh', ['-c', LOOKUP, 'sh', '@m', 'shop', '^(web-1)$', ''], { env, detached: true, stdio: 'ignore' });
    const ended = new Promise<void>((r) => child.on('exit', () => r()));
    for (let i = 0; i < 200 && !(await readFile(join(dir, 'hung'), 'utf8').catch(() => '')); i++) await new Promise((r) => setTimeout(r, 25));
    return { pid: child.pid!, ended };
  };
  const left = async (tmp: string) => (await readdir(tmp)).filter((n) => n.startsWith('cni-attach-lookup.'));

  it('its directory is in $TMPDIR while it runs; a signal that ends it (TERM, INT, HUP to its group) leaves none', async () => {
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      const tmp = join(dir, `tmp-${sig}`);
      await mkdir(tmp);
      await rm(join(dir, 'hung'), { force: true });
      const run = await hung(tmp);
      const made = await left(tmp);
      expect(made, sig).toEqual([expect.stringMatching(new RegExp(`^cni-attach-lookup\\.${run.pid}\\.`))]);
      expect((await readdir(join(tmp, made[0]!))).sort()).toContain('o');
      // to its process group, as a run's time limit (timeout) or a terminal sends it: the shell's trap runs once its
      // running command ended
      process.kill(-run.pid, sig);
      await run.ended;
      expect(await left(tmp), sig).toEqual([]);
    }
  });

  it('killed outright (SIGKILL of every process of the run, as KILL_MARKED does on a node): the next look-up there removes what it left, never another\'s', async () => {
    const tmp = join(dir, 'tmp');
    await mkdir(tmp);
    const run = await hung(tmp);
    process.kill(-run.pid, 'SIGKILL');
    await run.ended;
    const stale = await left(tmp);
    expect(stale).toHaveLength(1);
    // one of a look-up still running (this process's pid), and one that is a link: left alone
    await mkdir(join(tmp, `cni-attach-lookup.${process.pid}.running`));
    await mkdir(join(dir, 'elsewhere'));
    const { symlink } = await import('node:fs/promises');
    await symlink(join(dir, 'elsewhere'), join(tmp, 'cni-attach-lookup.999999999.link'));
    await writeFile(join(dir, 'state.json'), JSON.stringify(sandboxes));
    const exec = new CrictlHost({ TMPDIR: tmp, CONTAINER_RUNTIME_ENDPOINT: `unix://${join(dir, 'crio.sock')}`, FAKE_CRICTL_STATE: join(dir, 'state.json'), FAKE_CRICTL_LOG: join(dir, 'log') });
    const looked = await new CriSandboxes(exec).lookUp([refs[0]!]);
    expect(await looked.answer(refs[0]!)).toMatchObject({ id: 'aaa' });
    expect((await left(tmp)).sort()).toEqual([`cni-attach-lookup.${process.pid}.running`, 'cni-attach-lookup.999999999.link']);
    expect((await stat(join(dir, 'elsewhere'))).isDirectory()).toBe(true);
  });
});
