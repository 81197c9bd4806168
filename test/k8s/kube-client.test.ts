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
