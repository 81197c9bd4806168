/** src/resolve/kube.ts against the stand-in API server: one keep-alive TLS connection for the requests of a process. */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { RequestContext } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectKube, sharedAgentAuth, type KubeApi } from '../../src/resolve/kube.js';
import { makeNad, makePod, StandInApiServer } from './stand-in-api.js';

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

  it('leaves other agents as client-node made them (plain http, proxies)', async () => {
    class ProxyAgent extends HttpsAgent {}
    for (const make of [() => new HttpAgent(), () => new ProxyAgent({ ca: 'CA' })]) {
      const made: unknown[] = [];
      const auth = sharedAgentAuth(kcMaking(() => {
        const a = make();
        made.push(a);
        return a;
      }));
      const c = context();
      await auth.applySecurityAuthentication(c);
      expect(c.getAgent()).toBe(made[0]);
    }
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
