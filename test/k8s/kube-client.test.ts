/** src/resolve/kube.ts against the stand-in API server: one keep-alive TLS connection for the requests of a process. */
import { Agent as HttpAgent } from 'node:http';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent as HttpsAgent } from 'node:https';
import type { RequestContext } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectKube, execStdin, sharedAgentAuth, type KubeApi } from '../../src/resolve/kube.js';
import { ApiStatusError, UnreachableError } from '../../src/errors.js';
import { type ExecProtocol, makeNad, makePod, StandInApiServer } from './stand-in-api.js';

let api: StandInApiServer;
let kube: KubeApi;

beforeEach(async () => {
  api = await StandInApiServer.start();
  for (let i = 0; i < 6; i++) api.addPod(makePod({ name: `web-${i}`, labels: { app: 'web' } }));
  api.addNad(makeNad({ name: 'br', config: { cniVersion: '1.0.0', name: 'br', type: 'bridge' } }));
  kube = await connectKube({ kubeconfig: api.kubeconfigPath, requestTimeoutMs: 10_000 }, {});
});

afterEach(async () => {
  await api.stop();
});

describe('connectKube', () => {
  it('makes one TLS connection for a sequence of requests (client-node alone makes one per request)', async () => {
    const before = api.connectionsAccepted;
    const pod = await kube.getPod('default', 'web-0');
    await kube.listPods('default', 'app=web');
    await kube.getNad('default', 'br');
    await kube.updatePodAnnotation('default', 'web-0', 'example.com/x', () => 'y', pod);
    expect((await kube.getPod('default', 'web-0')).metadata?.annotations?.['example.com/x']).toBe('y');
    expect(api.requests.filter((r) => r.path.startsWith('/api')).length).toBeGreaterThanOrEqual(5);
    expect(api.connectionsAccepted - before).toBe(1);
  });

  it('opens at most one connection per request in flight, and reuses them afterwards', async () => {
    const before = api.connectionsAccepted;
    await Promise.all([0, 1, 2, 3].map((i) => kube.getPod('default', `web-${i}`)));
    const opened = api.connectionsAccepted - before;
    expect(opened).toBeGreaterThanOrEqual(1);
    expect(opened).toBeLessThanOrEqual(4);
    for (let i = 0; i < 4; i++) await kube.getPod('default', `web-${i}`);
    expect(api.connectionsAccepted - before).toBe(opened);
  });
});

describe('pods/exec connections', () => {
  it('share one TLS context and resume the TLS session: one full handshake for a sequence of execs', async () => {
    const before = { ...api.tlsHandshakes };
    for (let i = 0; i < 4; i++) expect((await kube.exec('default', 'web-0', 'app', ['true'], '')).code).toBe(0);
    // a WebSocket takes its connection over: four connections, but only the first one checks certificates
    expect(api.tlsHandshakes.full - before.full).toBe(1);
    expect(api.tlsHandshakes.resumed - before.resumed).toBe(3);
  });
});

describe('sharedAgentAuth', () => {
  /** A RequestContext as far as the authentication method uses it. */
  const context = () => {
    let agent: HttpAgent | HttpsAgent | undefined;
    return { getAgent: () => agent, setAgent: (a: HttpAgent | HttpsAgent) => void (agent = a) } as unknown as RequestContext;
  };
  /** What KubeConfig.applySecurityAuthentication does: a new agent per request. */
  const kcMaking = (make: () => HttpAgent | HttpsAgent) => ({ applySecurityAuthentication: async (c: RequestContext) => c.setAgent(make()) });

  it('hands every request the same keep-alive agent while the TLS options stay the same', async () => {
    const auth = sharedAgentAuth(kcMaking(() => new HttpsAgent({ ca: 'CA', cert: 'C', key: 'K' })));
    const [a, b] = [context(), context()];
    await auth.applySecurityAuthentication(a);
    await auth.applySecurityAuthentication(b);
    const agent = a.getAgent() as HttpsAgent;
    expect(b.getAgent()).toBe(agent);
    expect(agent.options).toMatchObject({ ca: 'CA', cert: 'C', key: 'K', keepAlive: true });
  });

  it('makes a new agent when the TLS options change (a client certificate renewed by an exec plugin)', async () => {
    let cert = 'C1';
    const auth = sharedAgentAuth(kcMaking(() => new HttpsAgent({ ca: 'CA', cert })));
    const [a, b] = [context(), context()];
    await auth.applySecurityAuthentication(a);
    cert = 'C2';
    await auth.applySecurityAuthentication(b);
    expect(b.getAgent()).not.toBe(a.getAgent());
    expect((b.getAgent() as HttpsAgent).options.cert).toBe('C2');
  });

  it('leaves other agents as client-node made them (proxies)', async () => {
    class ProxyAgent extends HttpsAgent {}
    const made: unknown[] = [];
    const auth = sharedAgentAuth(kcMaking(() => {
      const a = new ProxyAgent({ ca: 'CA' });
      made.push(a);
      return a;
    }));
    const c = context();
    await auth.applySecurityAuthentication(c);
    expect(c.getAgent()).toBe(made[0]);
  });

  it('hands every request to a plain-http server one keep-alive http.Agent (client-node makes one per request)', async () => {
    const auth = sharedAgentAuth(kcMaking(() => new HttpAgent()));
    const agents = [];
    for (let i = 0; i < 3; i++) {
      const c = context();
      await auth.applySecurityAuthentication(c);
      agents.push(c.getAgent());
    }
    expect(agents[0]).toBeInstanceOf(HttpAgent);
    expect((agents[0] as HttpAgent & { keepAlive?: boolean }).keepAlive).toBe(true);
    expect(new Set(agents).size).toBe(1);
  });
});

describe('kubectl conventions of the client', () => {
  it('User-Agent and impersonation headers on REST requests and on the pods/exec upgrade', async () => {
    const k = await connectKube({ kubeconfig: api.kubeconfigPath, userAgent: 'cni-attach/v9.9.9 (linux/amd64)', as: 'jane', asGroups: ['g1', 'g2'], asUid: '42' }, {});
    await k.getPod('default', 'web-0');
    const r = await k.exec('default', 'web-0', 'app', ['true'], '');
    expect(r.code).toBe(0);
    const rest = api.requests.find((q) => q.path === '/api/v1/namespaces/default/pods/web-0')!;
    const upgrade = api.requests.find((q) => q.path.endsWith('/exec'))!;
    for (const q of [rest, upgrade]) {
      expect(q.headers['user-agent']).toBe('cni-attach/v9.9.9 (linux/amd64)');
      expect(q.headerLines.filter(([h]) => h.startsWith('impersonate-')).sort()).toEqual([['impersonate-group', 'g1'], ['impersonate-group', 'g2'], ['impersonate-uid', '42'], ['impersonate-user', 'jane']]);
    }
  });

  it('--client-certificate/--client-key (over a user with a wrong token): REST requests and the pods/exec upgrade present the certificate (mTLS), and are authorized by it', async () => {
    const kc = await api.writeKubeconfig({ token: 'wrong' });
    const k = await connectKube({ kubeconfig: kc, clientCertificate: api.clientCertPath!, clientKey: api.clientKeyPath!, requestTimeoutMs: 10_000 }, {});
    await k.getPod('default', 'web-0');
    expect((await k.exec('default', 'web-0', 'app', ['true'], '')).code).toBe(0);
    const rest = api.requests.find((q) => q.path === '/api/v1/namespaces/default/pods/web-0')!;
    const upgrade = api.requests.find((q) => q.path.endsWith('/exec'))!;
    for (const q of [rest, upgrade]) expect([q.clientCertificate, q.authorized]).toEqual(['stand-in-client', true]);
    // without the flags: the wrong token alone, 401
    const bare = await connectKube({ kubeconfig: kc, requestTimeoutMs: 10_000 }, {});
    await expect(bare.getPod('default', 'web-0')).rejects.toThrow(/401/);
  });

  it('a pods/exec whose WebSocket upgrade the API server refuses: 403 says forbidden and the right it needs, 401 that the credentials were refused; never "cannot reach"', async () => {
    for (const [code, said] of [
      [403, 'exec in pod default/web-0: the API server answered 403 (Forbidden) to its WebSocket upgrade: this user may not create pods/exec in namespace default, which the agent runtime needs (deploy/rbac.yaml grants it)'],
      [401, "exec in pod default/web-0: the API server answered 401 (Unauthorized) to its WebSocket upgrade: it refused the credentials of the kubeconfig's user (expired or wrong: log in again, or see --context, --user, --token)"],
    ] as const) {
      for (const how of ['exec', 'openExec'] as const) {
        api.failNext({ pathIncludes: '/exec' }, { code });
        const e = await (how === 'exec' ? kube.exec('default', 'web-0', 'app', ['true'], '') : kube.openExec!('default', 'web-0', 'app', ['cat'])).catch((x: unknown) => x);
        expect(e, how).toBeInstanceOf(ApiStatusError);
        expect(e, how).toBeInstanceOf(UnreachableError); // exit 4
        expect((e as ApiStatusError).status).toBe(code);
        expect((e as Error).message, how).toBe(said);
        expect((e as UnreachableError).notSent, how).toBe(true); // nothing of the command reached the node
      }
    }
  });

  it('a pods/exec answered 404 (the agent pod deleted mid-batch) says the pod is gone and that the same command starts a new one (it read as a node that cannot be reached), and that nothing ran', async () => {
    for (const how of ['exec', 'openExec'] as const) {
      api.failNext({ pathIncludes: '/exec' }, { code: 404 });
      const e = await (how === 'exec' ? kube.exec('default', 'web-0', 'app', ['true'], '') : kube.openExec!('default', 'web-0', 'app', ['cat'])).catch((x: unknown) => x);
      expect(e, how).toBeInstanceOf(UnreachableError);
      expect((e as Error).message, how).toBe('exec in pod default/web-0: the API server answered 404 (NotFound) to its WebSocket upgrade: pod default/web-0 no longer exists (the agent pod was deleted): nothing was run in it; running the same command again starts a new agent pod');
      expect((e as UnreachableError).notSent, how).toBe(true);
    }
  });

  it('a pods/exec whose request never left this host (connection refused, the server\'s certificate not trusted) is marked not sent: nothing of the command reached the node', async () => {
    const closed = (await readFile(await api.writeKubeconfig(), 'utf8')).replace(api.url, 'https://127.0.0.1:1');
    const dir = await mkdtemp(join(tmpdir(), 'cni-attach-notsent-'));
    try {
      await writeFile(join(dir, 'closed.yaml'), closed, { mode: 0o600 });
      const refused = await connectKube({ kubeconfig: join(dir, 'closed.yaml'), requestTimeoutMs: 10_000 }, {});
      const untrusted = await connectKube({ kubeconfig: await api.writeKubeconfig({ withCa: false }), requestTimeoutMs: 10_000 }, {});
      for (const [k, said] of [[refused, /cannot reach the API server at https:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/], [untrusted, /cannot reach the API server at .*(certificate|CERT)/i]] as const) {
        for (const how of ['exec', 'openExec'] as const) {
          const before = api.requests.length;
          const e = await (how === 'exec' ? k.exec('default', 'web-0', 'app', ['true'], '') : k.openExec!('default', 'web-0', 'app', ['cat'])).catch((x: unknown) => x);
          expect(e, how).toBeInstanceOf(UnreachableError);
          expect((e as Error).message, how).toMatch(said);
          expect((e as UnreachableError).notSent, `${how}: ${(e as Error).message}`).toBe(true);
          expect(api.requests.length, how).toBe(before); // the stand-in saw no request
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a pods/exec upgrade refused with plain text (a proxy: kubectl proxy\'s reject filter answers 403 "Forbidden") is said as that, not blamed on RBAC; exit 4', async () => {
    for (const how of ['exec', 'openExec'] as const) {
      api.failNext({ pathIncludes: '/exec' }, { code: 403, plain: 'Forbidden\n' });
      const e = await (how === 'exec' ? kube.exec('default', 'web-0', 'app', ['true'], '') : kube.openExec!('default', 'web-0', 'app', ['cat'])).catch((x: unknown) => x);
      expect(e, how).toBeInstanceOf(UnreachableError);
      expect(e, how).not.toBeInstanceOf(ApiStatusError);
      expect((e as Error).message, how).toBe(
        `exec in pod default/web-0: the server at ${api.url} refused the pods/exec upgrade with a plain 403 Forbidden (text/plain), not a Kubernetes answer: a proxy in the way? \`kubectl proxy\` refuses pods/exec unless started with --reject-paths='^$' (its default rejects ^/api/.*/pods/.*/exec)`,
      );
      expect((e as Error).message).not.toMatch(/rbac|may not create/);
    }
  });

  it('a plain refusal is blamed only on what can answer its code: 431 on headers too large (the API server or a proxy), never on kubectl proxy\'s --reject-paths (which answers 403)', async () => {
    for (const [code, plain, tail] of [
      [431, '431 Request Header Fields Too Large', ": the request's headers were too large for the API server or for a proxy in front of it (a long bearer token or client certificate header, many --as-group impersonation headers); nothing was run"],
      [407, 'Proxy Authentication Required', ', not a Kubernetes answer: a proxy in the way asks for credentials of its own (Proxy Authentication Required)'],
      [502, 'Bad Gateway', ', not a Kubernetes answer: something in front of the API server (a proxy, a load balancer) answered in its place'],
      [404, 'not found', ', not a Kubernetes answer: something in front of the API server (a proxy, a load balancer) answered in its place'],
    ] as const) {
      for (const how of ['exec', 'openExec'] as const) {
        api.failNext({ pathIncludes: '/exec' }, { code, plain: `${plain}\n` });
        const e = await (how === 'exec' ? kube.exec('default', 'web-0', 'app', ['true'], '') : kube.openExec!('default', 'web-0', 'app', ['cat'])).catch((x: unknown) => x);
        expect(e, how).toBeInstanceOf(UnreachableError);
        expect((e as Error).message, `${how} ${code}`).toMatch(new RegExp(`refused the pods/exec upgrade with a plain ${code} `));
        expect((e as Error).message.endsWith(tail), `${how} ${code}: ${(e as Error).message}`).toBe(true);
        expect((e as Error).message).not.toMatch(/kubectl proxy|reject-paths|rbac/);
      }
    }
  });

  it('createPodEvent writes a core/v1 Event on the pod that kubectl describe shows', async () => {
    const pod = await kube.getPod('default', 'web-0');
    await kube.createPodEvent(pod, { type: 'Normal', reason: 'AddedInterface', message: 'Add eth1 [198.18.0.5/24] from default/br' }, 'node-1');
    const [ev] = api.listEvents('default');
    expect(ev).toMatchObject({
      metadata: { namespace: 'default', name: expect.stringMatching(/^web-0\.[0-9a-f]+$/) },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'web-0', uid: pod.metadata!.uid, resourceVersion: pod.metadata!.resourceVersion },
      type: 'Normal',
      reason: 'AddedInterface',
      message: 'Add eth1 [198.18.0.5/24] from default/br',
      source: { component: 'cni-attach', host: 'node-1' },
      reportingComponent: 'cni-attach',
      reportingInstance: 'node-1',
      count: 1,
    });
    const { existsSync } = await import('node:fs');
    if (!existsSync('/usr/bin/kubectl')) {
      console.log('kube-client: /usr/bin/kubectl is not here: `kubectl describe pod` is not run against the event');
      return;
    }
    const { execa } = await import('execa');
    // HOME in the stand-in's temp dir: kubectl's discovery cache (~/.kube/cache) goes away with it
    const d = await execa('/usr/bin/kubectl', ['describe', 'pod', 'web-0', '-n', 'default', '--kubeconfig', api.kubeconfigPath], { reject: false, env: { HOME: api.dir } });
    expect(d.exitCode, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/^Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n\s+----.*\n\s+Normal\s+AddedInterface\s+\S+\s+cni-attach\s+Add eth1 \[198\.18\.0\.5\/24\] from default\/br$/m);
  });

  it('the stand-in refuses an event the API server would refuse (namespace mismatch, unknown type) with a 422', async () => {
    const { request } = await import('node:https');
    const body = JSON.stringify({ metadata: { name: 'e1' }, involvedObject: { kind: 'Pod', name: 'web-0', namespace: 'other' }, reason: 'X', type: 'Loud' });
    const answer = await new Promise<{ code: number; text: string }>((resolve, reject) => {
      const req = request(`${api.url}/api/v1/namespaces/default/events`, { method: 'POST', ca: api.caPem, headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(answer.code).toBe(422);
    expect(JSON.parse(answer.text).details.causes.map((c: { field: string }) => c.field).sort()).toEqual(['involvedObject.namespace', 'type']);
    expect(api.listEvents('default')).toEqual([]);
  });
});

describe('exec through pods/exec on API servers with only v4, only v5, or both', () => {
  // every byte value a UTF-8 string can carry in one char: NUL, controls, DEL, Latin-1, a surrogate pair, U+FFFD
  const binaryish = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('') + '\u00e9\u{1F600}\uFFFD\r\n';
  const big = 'x'.repeat(300 * 1024 - 1) + '\n';

  for (const offered of [['v4.channel.k8s.io'], ['v5.channel.k8s.io'], ['v5.channel.k8s.io', 'v4.channel.k8s.io']] as ExecProtocol[][]) {
    it(`${offered.join(' + ')}: stdout, stderr, exit status, stdin read to its end (300 KiB, binary-ish), no early close`, async () => {
      api.execProtocols = offered;
      const lines: string[] = [];
      const k = await connectKube({ kubeconfig: api.kubeconfigPath, requestTimeoutMs: 10_000, debug: (l) => lines.push(l) }, {});
      // the first exec has no stdin: it works on any protocol and tells which one the server speaks
      expect(await k.exec('default', 'web-0', 'app', ['sh', '-c', 'echo out; echo err >&2; exit 3'], '')).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
      expect(lines).toEqual([expect.stringContaining(`pods/exec: the API server speaks ${offered[0]}`)]);

      const cat = await k.exec('default', 'web-0', 'app', ['sh', '-c', 'cat; echo " end"; exit 0'], binaryish);
      expect(cat).toEqual({ code: 0, stdout: `${binaryish} end\n`, stderr: '' });
      const sized = await k.exec('default', 'web-0', 'app', ['sh', '-c', 'wc -c; exit 7'], big);
      expect(sized).toEqual({ code: 7, stdout: `${300 * 1024}\n`, stderr: '' });
      // a command that does not read its stdin still ends, with its status
      expect(await k.exec('default', 'web-0', 'app', ['sh', '-c', 'echo quick'], big)).toEqual({ code: 0, stdout: 'quick\n', stderr: '' });

      const withStdin = api.execs.slice(1);
      expect(withStdin.every((e) => e.stdin && !e.closedEarly && e.protocol === offered[0])).toBe(true);
      expect(api.execs[0]).toMatchObject({ stdin: false, exitCode: 3 });
      expect(api.execs[0]?.closedEarly).toBeUndefined();
      if (offered[0] === 'v5.channel.k8s.io') expect(withStdin.map((e) => e.command[0])).toEqual(['sh', 'sh', 'sh']); // as given
      else expect(withStdin.map((e) => e.command.slice(0, 4))).toEqual([
        ['sh', '-c', 'head -c "$0" | "$@"', String(Buffer.byteLength(binaryish))],
        ['sh', '-c', 'head -c "$0" | "$@"', String(300 * 1024)],
        ['sh', '-c', 'head -c "$0" | "$@"', String(300 * 1024)],
      ]);
      await expect.poll(() => api.activeExecs).toBe(0);
    });
  }

  it('execStdin: nothing attached without stdin; v5 sends and closes; v4 or unknown delimits by length', () => {
    expect(execStdin(['cat'], '', undefined)).toEqual({ command: ['cat'], end: false });
    expect(execStdin(['cat'], '', 'v4.channel.k8s.io')).toEqual({ command: ['cat'], end: false });
    const v5 = execStdin(['cat'], 'é'.repeat(40_000), 'v5.channel.k8s.io');
    expect(v5).toMatchObject({ command: ['cat'], end: true });
    expect(v5.chunks?.map((c) => c.length)).toEqual([32 * 1024, 32 * 1024, 80_000 - 64 * 1024]);
    for (const p of ['v4.channel.k8s.io', undefined]) {
      expect(execStdin(['cat', '-'], 'é', p)).toEqual({ command: ['sh', '-c', 'head -c "$0" | "$@"', '2', 'cat', '-'], chunks: [Buffer.from('é')], end: false });
    }
  });
});

describe('watchPod', () => {
  const body = { metadata: { generateName: 'agent-' }, spec: { containers: [{ name: 'agent', image: 'busybox' }] } };
  const running = (p: { status?: { phase?: string } }) => p.status?.phase === 'Running';

  it('follows a created pod to Running through one watch from its resourceVersion (no polling)', async () => {
    api.podStartDelayMs = 300;
    const created = await kube.createPod('default', body);
    api.clearRequests();
    const seen = await kube.watchPod('default', created.metadata!.name!, running, 5_000, created);
    expect(seen.settled).toBe(true);
    expect(seen.pod?.status?.phase).toBe('Running');
    expect(api.requests.map((r) => `${r.method} ${r.path} ${r.query.watch ?? ''} ${r.query.fieldSelector ?? ''} ${r.query.resourceVersion ?? ''}`)).toEqual([
      `GET /api/v1/namespaces/default/pods true metadata.name=${created.metadata!.name} ${created.metadata!.resourceVersion}`,
    ]);
    await expect.poll(() => api.activeWatches).toBe(0);
  });

  it('reports a deleted pod, gives up after the timeout with the last state, and starts again from a read after 410', async () => {
    api.podStartBehaviour = 'pending';
    const a = await kube.createPod('default', body);
    setTimeout(() => api.deletePod('default', a.metadata!.name!), 200);
    expect(await kube.watchPod('default', a.metadata!.name!, running, 5_000, a)).toEqual({ pod: undefined, settled: false });

    const b = await kube.createPod('default', body);
    const t0 = Date.now();
    const late = await kube.watchPod('default', b.metadata!.name!, running, 700, b);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(650);
    expect(late).toMatchObject({ settled: false, pod: { status: { phase: 'Pending' } } });

    // a resourceVersion older than the server keeps: ERROR 410, then a fresh read, then the watch from there
    for (let i = 0; i < 10_001; i++) api.updatePod('default', 'web-0', (p) => void (p.metadata.annotations = { n: String(i) }));
    setTimeout(() => api.runPod('default', b.metadata!.name!), 300);
    api.clearRequests();
    const again = await kube.watchPod('default', b.metadata!.name!, running, 5_000, b);
    expect(again.settled).toBe(true);
    expect(api.requests.map((r) => `${r.method} ${r.query.watch ?? 'list'}`)).toEqual(['GET true', 'GET list', 'GET true']);
  });
});

describe('watchPods (an attach batch\'s watch of its pods)', () => {
  it('one watch of the list\'s selection from its resourceVersion: the changes after the list, each pod with its namespace; stop() ends it (undefined), the server\'s stream closed', async () => {
    const list = await kube.listPods('default', 'app=web');
    expect(list).toHaveLength(6);
    expect(list.resourceVersion).toBe(api.resourceVersion);
    api.clearRequests();
    const seen: string[] = [];
    const w = kube.watchPods('default', 'app=web', list.resourceVersion!, (c) => seen.push(`${c.type} ${c.pod.metadata?.namespace}/${c.pod.metadata?.name} ${c.pod.metadata?.deletionTimestamp ? 'T' : '-'} ${c.resourceVersion}`));
    api.deletePod('default', 'web-1');
    api.updatePod('default', 'web-2', (p) => void (p.metadata.deletionTimestamp = '2026-12-02T13:00:30Z'));
    api.addPod(makePod({ name: 'db-0', labels: { app: 'db' } })); // not selected
    await expect.poll(() => seen.length).toBe(2);
    expect(seen[0]).toMatch(/^DELETED default\/web-1 - \d+$/);
    expect(seen[1]).toMatch(/^MODIFIED default\/web-2 T \d+$/);
    expect(api.requests.map((r) => `${r.method} ${r.path} ${r.query.watch} ${r.query.labelSelector} ${r.query.resourceVersion}`)).toEqual([`GET /api/v1/namespaces/default/pods true app=web ${list.resourceVersion}`]);
    w.stop();
    expect(await w.ended).toBeUndefined();
    await expect.poll(() => api.activeWatches).toBe(0);
  });

  it('stop() before any event closes the request (the stand-in flushes the head at once, as the API server does)', async () => {
    const list = await kube.listPods('default', 'app=web');
    const w = kube.watchPods('default', 'app=web', list.resourceVersion!, () => undefined);
    await expect.poll(() => api.activeWatches).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    w.stop();
    expect(await w.ended).toBeUndefined();
    await expect.poll(() => api.activeWatches, { timeout: 1_000 }).toBe(0);
  });

  it('refused: 403 (no watch on pods) and 410 Expired (an ERROR event) end it with an ApiStatusError; a connection lost (closed unanswered), with an UnreachableError', async () => {
    const list = await kube.listPods(undefined, 'app=web');
    api.failNext({ method: 'GET', pathIncludes: 'watch=true' }, { code: 403, message: 'pods is forbidden: User "u" cannot watch resource "pods"' });
    const refused = await kube.watchPods(undefined, 'app=web', list.resourceVersion!, () => undefined).ended;
    expect(refused).toBeInstanceOf(ApiStatusError);
    expect(refused?.message).toMatch(/^watching pods matching app=web: the API server answered 403: /);
    for (let i = 0; i < 10_001; i++) api.updatePod('default', 'web-0', (p) => void (p.metadata.annotations = { n: String(i) }));
    const expired = await kube.watchPods('default', undefined, list.resourceVersion!, () => undefined).ended;
    expect(expired).toBeInstanceOf(ApiStatusError);
    expect((expired as ApiStatusError).status).toBe(410);
    api.failNext({ method: 'GET', pathIncludes: 'watch=true' }, { reset: true });
    const lost = await kube.watchPods('default', undefined, api.resourceVersion, () => undefined).ended;
    expect(lost).toBeInstanceOf(UnreachableError);
    expect(lost).not.toBeInstanceOf(ApiStatusError);
  });
});

describe('updatePodAnnotation given a pod read earlier (known)', () => {
  it('a change goes on known\'s resourceVersion (no GET); no change in known is checked against the pod as it is now: an entry written since is removed (a detach read the pod before an attach\'s network-status PATCH landed)', async () => {
    const known = await kube.getPod('default', 'web-0');
    // another command writes the annotation after `known` was read
    api.updatePod('default', 'web-0', (p) => void (p.metadata.annotations = { ...p.metadata.annotations, 'example.com/s': '[{"interface":"net6"}]' }));
    api.clearRequests();
    const drop = (cur: string | undefined) => (cur === undefined ? undefined : JSON.stringify((JSON.parse(cur) as { interface: string }[]).filter((e) => e.interface !== 'net6')));
    await kube.updatePodAnnotation('default', 'web-0', 'example.com/s', drop, known);
    // before: known had no entry, so nothing was sent, and the entry stayed
    expect(api.getPod('default', 'web-0')?.metadata.annotations?.['example.com/s']).toBe('[]');
    expect(api.requests.map((r) => r.method)).toEqual(['GET', 'PATCH']);
    // a change in known: one PATCH on its resourceVersion, no GET
    const fresh = await kube.getPod('default', 'web-0');
    api.clearRequests();
    await kube.updatePodAnnotation('default', 'web-0', 'example.com/s', () => '[{"interface":"net7"}]', fresh);
    expect(api.requests.map((r) => r.method)).toEqual(['PATCH']);
    // no change, also now: one GET, nothing written
    api.clearRequests();
    await kube.updatePodAnnotation('default', 'web-0', 'example.com/s', (cur) => cur, fresh);
    expect(api.requests.map((r) => r.method)).toEqual(['GET']);
  });
});

describe('a kept-alive connection closed under a request (an idle timeout of the server or a proxy)', () => {
  it('sends a read or a patch once more on a new connection, never a create', async () => {
    const pod = await kube.getPod('default', 'web-0');
    api.failNext({ method: 'GET', pathIncludes: '/pods/web-1' }, { reset: true });
    expect((await kube.getPod('default', 'web-1')).metadata?.name).toBe('web-1');
    api.failNext({ method: 'PATCH', pathIncludes: '/pods/web-0' }, { reset: true });
    await kube.updatePodAnnotation('default', 'web-0', 'example.com/x', () => 'y', pod);
    expect(api.getPod('default', 'web-0')?.metadata.annotations?.['example.com/x']).toBe('y');
    expect(api.requests.filter((r) => r.method === 'PATCH')).toHaveLength(2);

    api.failNext({ method: 'POST', pathIncludes: '/pods' }, { reset: true });
    await expect(kube.createPod('default', { metadata: { generateName: 'agent-' }, spec: { containers: [{ name: 'a', image: 'busybox' }] } })).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(api.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(api.listPods('default').filter((p) => p.metadata.name.startsWith('agent-'))).toEqual([]);
  });
});

describe('a plain-http server (kubectl proxy, -s http://…), which kubectl takes as it is', () => {
  it('works without insecure-skip-tls-verify (client-node refused it: "HTTP protocol is not allowed when skipTLSVerify is not set or false"), REST on one kept-alive connection and pods/exec alike, with no credentials sent but the impersonation headers (as kubectl 1.32)', async () => {
    const plain = await StandInApiServer.start({ tls: false, anonymous: true });
    try {
      plain.addPod(makePod({ name: 'web-0', labels: { app: 'web' } }));
      const path = await plain.writeKubeconfig({ insecureSkipTlsVerify: false });
      expect(await readFile(path, 'utf8')).not.toMatch(/insecure-skip-tls-verify/);
      const k = await connectKube({ kubeconfig: path, requestTimeoutMs: 10_000, as: 'jane', asGroups: ['g1', 'g2'], asUid: '42' }, {});
      const before = plain.connectionsAccepted;
      expect((await k.getPod('default', 'web-0')).metadata?.name).toBe('web-0');
      expect(await k.listPods('default', 'app=web')).toHaveLength(1);
      expect(plain.connectionsAccepted - before).toBe(1);
      const r = await k.exec('default', 'web-0', 'app', ['echo', 'hi'], '');
      expect([r.code, r.stdout]).toEqual([0, 'hi\n']);
      // --as, --as-group, --as-uid on every transport: REST over http and the pods/exec WebSocket upgrade
      const mine = plain.requests.slice();
      expect(mine.map((q) => q.path)).toEqual(expect.arrayContaining(['/api/v1/namespaces/default/pods/web-0', '/api/v1/namespaces/default/pods/web-0/exec']));
      for (const q of mine) expect([q.path, ...q.headerLines.filter(([h]) => h.startsWith('impersonate-')).sort()]).toEqual([q.path, ['impersonate-group', 'g1'], ['impersonate-group', 'g2'], ['impersonate-uid', '42'], ['impersonate-user', 'jane']]);
      // --server http://… with a TLS kubeconfig's CA: no TLS to verify, as kubectl
      const over = await connectKube({ kubeconfig: api.kubeconfigPath, server: plain.url, token: plain.token }, {});
      expect((await over.getPod('default', 'web-0')).metadata?.name).toBe('web-0');
      // the kubeconfig's token, --token: none of them over plain http (client-go sends no credentials without TLS)
      expect(plain.requests.length).toBeGreaterThanOrEqual(4);
      for (const q of plain.requests) expect([q.path, q.headers.authorization]).toEqual([q.path, undefined]);
      expect(plain.requests.slice(mine.length).map((q) => q.headers['impersonate-user'])).toEqual([undefined]);
    } finally {
      await plain.stop();
    }
  });
});

describe('a kubeconfig user\'s credential plugin (users[].user.exec), run as kubectl runs it', () => {
  let dir: string;
  let plugins = 0;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cni-attach-exec-plugin-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A kubeconfig of the stand-in whose user runs `script` (written as an executable file, unless null: missing). */
  async function withPlugin(script: string | null, exec: Record<string, unknown> = {}, cluster: Record<string, unknown> = {}): Promise<{ path: string; plugin: string }> {
    const plugin = join(dir, `plugin-${++plugins}.sh`);
    if (script !== null) {
      await writeFile(plugin, `#!/bin/sh\n${script}\n`);
      await chmod(plugin, script === 'exit 0' ? 0o644 : 0o755);
    }
    const kc = api.kubeconfig() as { users: { user: Record<string, unknown> }[]; clusters: { cluster: Record<string, unknown> }[] };
    kc.users[0]!.user = { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'IfAvailable', ...exec } };
    Object.assign(kc.clusters[0]!.cluster, cluster);
    const path = join(dir, 'kubeconfig');
    await writeFile(path, JSON.stringify(kc));
    return { path, plugin };
  }

  const credential = (token: string) => JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token } });

  it('gets its token with KUBERNETES_EXEC_INFO set as client-go sets it (spec.cluster with provideClusterInfo), and runs it once for the requests of a process', async () => {
    const { path } = await withPlugin(
      `echo run >> ${dir}/runs\nprintf '%s' "$KUBERNETES_EXEC_INFO" > ${dir}/info\n[ -t 0 ] && echo tty >> ${dir}/runs\necho '${credential(api.token)}'`,
      { provideClusterInfo: true },
      { extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { audience: 'cni' } }] },
    );
    const k = await connectKube({ kubeconfig: path }, {});
    await Promise.all([k.getPod('default', 'web-0'), k.listPods('default'), k.getPod('default', 'web-1')]);
    expect((await k.exec('default', 'web-0', 'app', ['true'], '')).code).toBe(0);
    expect(api.requests.filter((q) => q.path.startsWith('/api')).every((q) => q.headers.authorization === `Bearer ${api.token}`)).toBe(true);
    // no expirationTimestamp: kept for the process, as client-go (client-node ran it per request)
    expect(await readFile(join(dir, 'runs'), 'utf8')).toBe('run\n');
    expect(JSON.parse(await readFile(join(dir, 'info'), 'utf8'))).toEqual({
      kind: 'ExecCredential',
      apiVersion: 'client.authentication.k8s.io/v1',
      spec: {
        interactive: false,
        cluster: { server: api.url, 'certificate-authority-data': Buffer.from(api.caPem!).toString('base64'), config: { audience: 'cni' } },
      },
    });
  });

  it('without provideClusterInfo: spec.interactive alone', async () => {
    const { path } = await withPlugin(`printf '%s' "$KUBERNETES_EXEC_INFO" > ${dir}/info\necho '${credential(api.token)}'`, { apiVersion: 'client.authentication.k8s.io/v1beta1' });
    await (await connectKube({ kubeconfig: path }, {})).getPod('default', 'web-0');
    expect(JSON.parse(await readFile(join(dir, 'info'), 'utf8'))).toEqual({ kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1beta1', spec: { interactive: false } });
  });

  it('a plugin that fails, is missing, prints no credential or needs a terminal: kubectl\'s words (getting credentials: exec: …) with its stderr on one line, exit 4 — never "cannot reach the API server"', async () => {
    const cases: [string, string | null, Record<string, unknown>, (plugin: string) => string][] = [
      ['exits 1', "echo 'token expired, run login' >&2\nexit 1", {}, (p) => `pod default/web-0: getting credentials: exec: executable ${p} failed with exit code 1; its stderr: token expired, run login`],
      ['writes control characters', "printf 'bad\\033[31m\\nline two\\n' >&2\nexit 3", {}, (p) => `pod default/web-0: getting credentials: exec: executable ${p} failed with exit code 3; its stderr: bad\\x1b[31m\\nline two`],
      ['missing (a path)', null, { installHint: 'install it with: brew install kubelogin' }, (p) => `pod default/web-0: getting credentials: exec: fork/exec ${p}: no such file or directory (install it with: brew install kubelogin)`],
      ['missing (a name not on $PATH)', null, { command: 'no-such-login-plugin' }, () => 'pod default/web-0: getting credentials: exec: executable no-such-login-plugin not found'],
      ['not executable', 'exit 0', { }, (p) => `pod default/web-0: getting credentials: exec: fork/exec ${p}: permission denied`],
      ['prints no ExecCredential', 'echo not-json', {}, () => 'pod default/web-0: getting credentials: decoding stdout: '],
      ['needs a terminal (interactiveMode Always)', `echo '${credential(api.token)}'`, { interactiveMode: 'Always' }, () => 'getting credentials: exec plugin cannot support interactive mode: standard input is not a terminal'],
    ];
    for (const [what, script, exec, said] of cases) {
      const { path, plugin } = await withPlugin(script, exec);
      const e = await connectKube({ kubeconfig: path }, {}).then((k) => k.getPod('default', 'web-0')).catch((x: unknown) => x);
      expect(e, what).toBeInstanceOf(UnreachableError); // exit 4, as a 401
      expect((e as Error).message.startsWith(said(plugin)), `${what}: ${(e as Error).message}`).toBe(true);
      expect((e as Error).message, what).not.toMatch(/cannot reach|\n/);
    }
  });
});

describe('-v=6: every API request a line, as kubectl 1.32 -v=6 logs them (client-go round_trippers)', () => {
  // before: the REST requests alone ("… 200 in 5 milliseconds"); pods/exec upgrades and the agent pod's watch were
  // not said at all (an outside tester's -v=6 showed the plugin runs but not how they reached the node)
  const traced = async () => {
    const lines: string[] = [];
    const k = await connectKube({ kubeconfig: api.kubeconfigPath, requestTimeoutMs: 10_000, trace: (l) => void lines.push(l) }, {});
    return { k, lines };
  };
  const ms = 'in \\d+ milliseconds$';
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it('a REST request: its method, URL, status with its reason phrase, time (kubectl: "GET https://… 200 OK in 5 milliseconds")', async () => {
    const { k, lines } = await traced();
    await k.getPod('default', 'web-0');
    await k.getPod('default', 'nope').catch(() => undefined);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^GET ${esc(api.url)}/api/v1/namespaces/default/pods/web-0 200 OK ${ms}`));
    expect(lines[1]).toMatch(new RegExp(`^GET ${esc(api.url)}/api/v1/namespaces/default/pods/nope 404 Not Found ${ms}`));
  });

  it('a pods/exec, one-shot or a node session: its upgrade, "101 Switching Protocols"; refused: its status', async () => {
    const { k, lines } = await traced();
    expect((await k.exec('default', 'web-0', 'app', ['true'], '')).code).toBe(0);
    const s = await k.openExec!('default', 'web-0', 'app', ['cat']);
    s.destroy();
    expect(lines).toHaveLength(2);
    const exec = `${esc(api.url)}/api/v1/namespaces/default/pods/web-0/exec\\?`;
    expect(lines[0]).toMatch(new RegExp(`^GET ${exec}stdout=true&stderr=true&stdin=false&tty=false&command=true&container=app 101 Switching Protocols ${ms}`));
    expect(lines[1]).toMatch(new RegExp(`^GET ${exec}.*&command=cat&container=app 101 Switching Protocols ${ms}`));
    api.failNext({ pathIncludes: '/exec' }, { code: 403 });
    await k.exec('default', 'web-0', 'app', ['true'], '').catch(() => undefined);
    expect(lines[2]).toMatch(new RegExp(`^GET ${exec}.*&command=true&container=app 403 Forbidden ${ms}`));
  });

  it('the watch of a pod (the agent\'s start): its URL with watch=true, its status once answered', async () => {
    const { k, lines } = await traced();
    api.podStartDelayMs = 200;
    const created = await k.createPod('default', { metadata: { generateName: 'agent-' }, spec: { containers: [{ name: 'agent', image: 'busybox' }] } });
    const name = created.metadata!.name!;
    const seen = await k.watchPod('default', name, (p) => p.status?.phase === 'Running', 5_000, created);
    expect(seen.settled).toBe(true);
    expect(lines[0]).toMatch(new RegExp(`^POST ${esc(api.url)}/api/v1/namespaces/default/pods 201 Created ${ms}`));
    expect(lines.slice(1)).toEqual([expect.stringMatching(new RegExp(`^GET ${esc(api.url)}/api/v1/namespaces/default/pods\\?watch=true&fieldSelector=metadata\\.name%3D${name}&resourceVersion=${created.metadata!.resourceVersion}&timeoutSeconds=5 200 OK ${ms}`))]);
    // a watch the API server refuses: its status
    api.failNext({ method: 'GET', pathIncludes: 'watch=true' }, { code: 403 });
    await k.watchPod('default', name, () => false, 2_000, { ...created, metadata: { ...created.metadata, resourceVersion: '1' } }).catch(() => undefined);
    expect(lines.at(-1)).toMatch(new RegExp(`\\?watch=true&.* 403 Forbidden ${ms}`));
    await expect.poll(() => api.activeWatches).toBe(0);
  });
});

describe("a -l batch's watch of its pods (cli/batch-watch.ts) through client-node, against the watch cache's DELETED", () => {
  it('a pod relabelled out of the selection (DELETED with its old labels) is no longer selected; one deleted at once (no deletionTimestamp) is deleted; one relabelled back is not skipped', async () => {
    const { watchBatch } = await import('../../src/cli/batch-watch.js');
    const { beingDeleted } = await import('../../src/resolve/pod.js');
    const listed = await kube.listPods('default', 'app=web');
    const w = watchBatch(kube, 'default', 'app=web', listed, beingDeleted);
    try {
      const pod = (name: string) => listed.find((p) => p.metadata?.name === name)!;
      await expect.poll(() => api.activeWatches).toBe(1);
      api.updatePod('default', 'web-1', (p) => void (p.metadata.labels = { app: 'db' }));
      api.deletePod('default', 'web-2');
      api.updatePod('default', 'web-3', (p) => void (p.metadata.labels = { app: 'db' }));
      api.updatePod('default', 'web-3', (p) => void (p.metadata.labels = { app: 'web' }));
      api.deletePod('default', 'web-5'); // the last change: once seen, the ones before it were
      await expect.poll(() => w.gone(pod('web-5'))).toMatchObject({ kind: 'deleted' });
      await expect.poll(() => w.gone(pod('web-1'))).toEqual({ why: 'no longer selected by -l app=web: its labels changed after the pods were listed', kind: 'unselected' });
      await expect.poll(() => w.gone(pod('web-2'))).toEqual({ why: 'deleted after the pods were listed: its network went with it', kind: 'deleted' });
      expect(await w.gone(pod('web-3'))).toBeUndefined();
      expect(await w.gone(pod('web-4'))).toBeUndefined();
    } finally {
      w.stop();
    }
  });
});
