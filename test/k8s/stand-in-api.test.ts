/**
 * The stand-in Kubernetes API server, driven by the real @kubernetes/client-node: if these pass, code that talks to
 * a cluster through client-node can be tested against the stand-in.
 */
import { spawn } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  applyJsonPatch,
  applyMergePatch,
  type ExecRequest,
  hostExecHandler,
  labelSelectorMatcher,
  makeNad,
  makePod,
  parseLabelSelector,
  StandInApiServer,
  type StatusJson,
} from './stand-in-api.js';

const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const NAD = { group: 'k8s.cni.cncf.io', version: 'v1', plural: 'network-attachment-definitions' } as const;

function clients(kubeconfigPath: string) {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return { kc, core: kc.makeApiClient(k8s.CoreV1Api), custom: kc.makeApiClient(k8s.CustomObjectsApi) };
}

/** The rejection of p, which must be client-node's ApiException. */
async function apiException(p: Promise<unknown>): Promise<k8s.ApiException<unknown>> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(k8s.ApiException);
  return e as k8s.ApiException<unknown>;
}

/** client-node puts the raw response text of an unexpected status into ApiException.body. */
function statusOf(e: k8s.ApiException<unknown>): StatusJson {
  expect(typeof e.body).toBe('string');
  return JSON.parse(e.body as string) as StatusJson;
}

const names = (list: { items: Array<{ metadata?: { name?: string } }> }) => list.items.map((p) => p.metadata?.name);

let api: StandInApiServer;
let core: k8s.CoreV1Api;
let custom: k8s.CustomObjectsApi;

beforeEach(async () => {
  api = await StandInApiServer.start();
  api.addPod(makePod({ name: 'web-1', labels: { app: 'web', tier: 'frontend' }, annotations: { keep: 'me', drop: 'me' } }));
  api.addPod(makePod({ name: 'web-2', nodeName: 'node-2', labels: { app: 'web', tier: 'backend', rank: '7' } }));
  api.addPod(makePod({ name: 'db-0', namespace: 'data', nodeName: 'node-2', labels: { app: 'db' } }));
  api.addPod(makePod({ name: 'pending', nodeName: null }));
  api.addPod(makePod({ name: 'host', hostNetwork: true, labels: { app: 'agent' } }));
  api.addNad(makeNad({ name: 'macvlan-conf', config: { cniVersion: '1.0.0', name: 'macvlan-conf', type: 'macvlan', master: 'eth0' } }));
  api.addNad(makeNad({ name: 'br', namespace: 'data', config: '{"cniVersion":"1.0.0","name":"br","type":"bridge"}' }));
  ({ core, custom } = clients(api.kubeconfigPath));
});

afterEach(async () => {
  await api.stop();
});

describe('client certificates (mTLS)', () => {
  /** GET /api/v1/pods with this client certificate and key (PEM), no token: the status code and the request's record. */
  const get = (cert?: string, key?: string) =>
    new Promise<number>((resolve, reject) => {
      const req = httpsRequest(`${api.url}/api/v1/pods`, { ca: api.caPem, ...(cert ? { cert, key } : {}) }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
  it('a client certificate the stand-in CA signed is authorized (its CN recorded); none, or one of another issuer, is not (401)', async () => {
    const [cert, key] = await Promise.all([readFile(api.clientCertPath!, 'utf8'), readFile(api.clientKeyPath!, 'utf8')]);
    expect(await get(cert, key)).toBe(200);
    expect(api.requests.at(-1)).toMatchObject({ clientCertificate: 'stand-in-client', authorized: true });
    expect(await get()).toBe(401);
    expect(api.requests.at(-1)).toMatchObject({ authorized: false });
    expect(api.requests.at(-1)).not.toHaveProperty('clientCertificate');
    // a certificate of the same subject from another stand-in (another CA): not this one's
    const other = await StandInApiServer.start();
    try {
      const [c2, k2] = await Promise.all([readFile(other.clientCertPath!, 'utf8'), readFile(other.clientKeyPath!, 'utf8')]);
      expect(await get(c2, k2)).toBe(401);
      expect(api.requests.at(-1)).not.toHaveProperty('clientCertificate');
    } finally {
      await other.stop();
    }
  });
});

describe('reading pods', () => {
  it('serves a realistic pod to readNamespacedPod', async () => {
    const pod = await core.readNamespacedPod({ name: 'web-1', namespace: 'default' });
    expect(pod.apiVersion).toBe('v1');
    expect(pod.kind).toBe('Pod');
    expect(pod.metadata?.name).toBe('web-1');
    expect(pod.metadata?.namespace).toBe('default');
    expect(pod.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(pod.metadata?.resourceVersion).toBe(api.getPod('default', 'web-1')?.metadata.resourceVersion);
    expect(pod.metadata?.creationTimestamp).toBeInstanceOf(Date); // client-node parsed the RFC 3339 string
    expect(pod.metadata?.annotations).toEqual({ keep: 'me', drop: 'me' });
    expect(pod.spec?.nodeName).toBe('node-1');
    expect(pod.spec?.containers[0]?.name).toBe('app');
    expect(pod.status?.phase).toBe('Running');
    expect(pod.status?.podIP).toMatch(/^10\.244\.\d+\.\d+$/);
    expect(pod.status?.containerStatuses?.[0]?.containerID).toMatch(/^docker:\/\/[0-9a-f]{64}$/);
    expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');

    const req = api.requests.at(-1);
    expect(req).toMatchObject({ method: 'GET', path: '/api/v1/namespaces/default/pods/web-1', authorized: true });
  });

  it('makes pending and host-network pods look like the real ones', async () => {
    const pending = await core.readNamespacedPod({ name: 'pending', namespace: 'default' });
    expect(pending.status?.phase).toBe('Pending');
    expect(pending.spec?.nodeName).toBeUndefined();
    expect(pending.status?.podIP).toBeUndefined();
    expect(pending.status?.containerStatuses).toBeUndefined();

    const host = await core.readNamespacedPod({ name: 'host', namespace: 'default' });
    expect(host.spec?.hostNetwork).toBe(true);
    expect(host.status?.podIP).toBe(host.status?.hostIP);
  });

  it('surfaces NotFound as an ApiException 404 carrying the Status', async () => {
    const e = await apiException(core.readNamespacedPod({ name: 'x', namespace: 'default' }));
    expect(e.code).toBe(404);
    expect(statusOf(e)).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods "x" not found',
      reason: 'NotFound',
      details: { name: 'x', kind: 'pods' },
      code: 404,
    });
    // namespaces are separate
    expect((await apiException(core.readNamespacedPod({ name: 'db-0', namespace: 'default' }))).code).toBe(404);
  });

  it('sees changes made through the store helpers, with a new resourceVersion', async () => {
    const before = await core.readNamespacedPod({ name: 'web-2', namespace: 'default' });
    api.updatePod('default', 'web-2', (p) => {
      p.status.phase = 'Failed';
    });
    const after = await core.readNamespacedPod({ name: 'web-2', namespace: 'default' });
    expect(after.status?.phase).toBe('Failed');
    expect(Number(after.metadata?.resourceVersion)).toBeGreaterThan(Number(before.metadata?.resourceVersion));
    expect(api.deletePod('default', 'web-2')).toBe(true);
    expect((await apiException(core.readNamespacedPod({ name: 'web-2', namespace: 'default' }))).code).toBe(404);
  });
});

describe('listing pods', () => {
  it('filters by label selector the way the API server does', async () => {
    const cases: Array<[string, string[]]> = [
      ['app=web', ['web-1', 'web-2']],
      ['app==web,tier=frontend', ['web-1']],
      ['app!=web', ['host', 'pending']], // != also matches pods without the label
      ['tier', ['web-1', 'web-2']],
      ['!tier', ['host', 'pending']],
      ['app in (web, agent)', ['host', 'web-1', 'web-2']],
      ['app notin (web),app', ['host']],
      ['rank>5', ['web-2']],
      ['', ['host', 'pending', 'web-1', 'web-2']],
    ];
    for (const [labelSelector, want] of cases) {
      const list = await core.listNamespacedPod({ namespace: 'default', labelSelector });
      expect(names(list), labelSelector).toEqual(want);
    }
    expect(api.requests.at(-1)?.query).toEqual({ labelSelector: '' });
  });

  it('lists across namespaces, with field selectors', async () => {
    const all = await core.listPodForAllNamespaces({ labelSelector: 'app in (web,db)' });
    expect(all.kind).toBe('PodList');
    expect(all.metadata?.resourceVersion).toBe(api.resourceVersion);
    expect(all.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`)).toEqual(['data/db-0', 'default/web-1', 'default/web-2']);

    const onNode2 = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node-2' });
    expect(names(onNode2)).toEqual(['db-0', 'web-2']);
    const running = await core.listNamespacedPod({ namespace: 'default', fieldSelector: 'status.phase=Running,metadata.name!=host' });
    expect(names(running)).toEqual(['web-1', 'web-2']);
  });

  it('pages with limit and continue', async () => {
    const first = await core.listPodForAllNamespaces({ limit: 2 });
    expect(names(first)).toEqual(['db-0', 'host']);
    expect(first.metadata?.remainingItemCount).toBe(3);
    const second = await core.listPodForAllNamespaces({ limit: 2, _continue: first.metadata?._continue });
    expect(names(second)).toEqual(['pending', 'web-1']);
    const third = await core.listPodForAllNamespaces({ limit: 2, _continue: second.metadata?._continue });
    expect(names(third)).toEqual(['web-2']);
    expect(third.metadata?._continue).toBeUndefined();
  });

  it('rejects bad selectors with 400 BadRequest', async () => {
    const bad = await apiException(core.listNamespacedPod({ namespace: 'default', labelSelector: 'app in web' }));
    expect(bad.code).toBe(400);
    expect(statusOf(bad)).toMatchObject({ reason: 'BadRequest', message: expect.stringContaining('unable to parse requirement') });
    const field = await apiException(core.listNamespacedPod({ namespace: 'default', fieldSelector: 'spec.foo=bar' }));
    expect(statusOf(field).message).toBe('field label not supported: spec.foo');
  });

  it('parses the whole label selector grammar', () => {
    expect(parseLabelSelector(' a , !b,c=1, d == 2 ,e!=3,f in (x, y),g notin (z),h>1,i<2')).toEqual([
      { key: 'a', op: 'exists', values: [] },
      { key: 'b', op: '!', values: [] },
      { key: 'c', op: '=', values: ['1'] },
      { key: 'd', op: '=', values: ['2'] },
      { key: 'e', op: '!=', values: ['3'] },
      { key: 'f', op: 'in', values: ['x', 'y'] },
      { key: 'g', op: 'notin', values: ['z'] },
      { key: 'h', op: 'gt', values: ['1'] },
      { key: 'i', op: 'lt', values: ['2'] },
    ]);
    const m = labelSelectorMatcher('example.com/role=edge,env notin (prod)');
    expect(m({ 'example.com/role': 'edge' })).toBe(true);
    expect(m({ 'example.com/role': 'edge', env: 'prod' })).toBe(false);
    expect(m(undefined)).toBe(false);
    expect(labelSelectorMatcher('a=')({ a: '' })).toBe(true);
    expect(parseLabelSelector('a in ()')).toEqual([{ key: 'a', op: 'in', values: [''] }]);
    expect(parseLabelSelector('a notin (,x,)')).toEqual([{ key: 'a', op: 'notin', values: ['', 'x'] }]);
    expect(parseLabelSelector('a in (in, notin),b=in')).toEqual([{ key: 'a', op: 'in', values: ['in', 'notin'] }, { key: 'b', op: '=', values: ['in'] }]);
    // labels.Parse's own messages (k8s.io/apimachinery/pkg/labels/selector.go), what kube-apiserver sends in a 400
    const VALUE_HELP =
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    const cases: [string, string][] = [
      ['app=(', "unable to parse requirement: found '(', expected: identifier"],
      ['a in (x', "unable to parse requirement: found '', expected: ',' or ')'"],
      ['a in web', "unable to parse requirement: found 'web' expected: '('"],
      ['a in (=)', "unable to parse requirement: found '=', expected: ',', ')' or identifier"],
      ['=x', "found '=', expected: !, identifier, or 'end of string'"],
      ['a b', "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"],
      ['a>x', `unable to parse requirement: values[0]: Invalid value: "x": for 'Gt', 'Lt' operators, the value must be an integer`],
      ['a=b=c', "found '=', expected: ',' or 'end of string'"],
      ['a,', "found '', expected: identifier after ','"],
      ['a=-x-', `unable to parse requirement: values[0][a]: Invalid value: "-x-": ${VALUE_HELP}`],
      ['-a', `unable to parse requirement: <nil>: Invalid value: "-a": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`],
      ['a=>1', "unable to parse requirement: found '>', expected: identifier"],
      ['a=~1', `unable to parse requirement: values[0][a]: Invalid value: "~1": ${VALUE_HELP}`],
      ['a ~ 1', "unable to parse requirement: found '~', expected: in, notin, =, ==, !=, gt, lt"],
    ];
    for (const [bad, message] of cases) expect(() => parseLabelSelector(bad), bad).toThrow(message);
  });
});

describe('patching pods', () => {
  it('applies a merge patch to the annotations: adds one, removes one with null, keeps the others', async () => {
    const before = api.getPod('default', 'web-1');
    const body = { metadata: { annotations: { added: 'yes', drop: null } } };
    const pod = await core.patchNamespacedPod(
      { name: 'web-1', namespace: 'default', body },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    expect(pod.metadata?.annotations).toEqual({ keep: 'me', added: 'yes' });
    expect(Number(pod.metadata?.resourceVersion)).toBeGreaterThan(Number(before?.metadata.resourceVersion));
    expect(api.getPod('default', 'web-1')?.metadata.annotations).toEqual({ keep: 'me', added: 'yes' });
    expect(api.getPod('default', 'web-1')?.spec).toEqual(before?.spec);

    const patches = api.requests.filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(1);
    expect(patches[0]).toMatchObject({
      path: '/api/v1/namespaces/default/pods/web-1',
      contentType: 'application/merge-patch+json',
      body,
    });
  });

  it('treats a strategic merge patch like a merge patch for annotations', async () => {
    const pod = await core.patchNamespacedPod(
      { name: 'web-1', namespace: 'default', body: { metadata: { annotations: { [NETWORKS]: 'macvlan-conf', keep: null } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    expect(pod.metadata?.annotations).toEqual({ drop: 'me', [NETWORKS]: 'macvlan-conf' });
    expect(api.requests.at(-1)?.contentType).toBe('application/strategic-merge-patch+json');
  });

  it('uses metadata.resourceVersion in a patch as a precondition (409 Conflict when stale)', async () => {
    const rv = api.getPod('default', 'web-1')?.metadata.resourceVersion;
    const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    // Someone else changes the pod between our read and our patch.
    api.onNext({ method: 'PATCH' }, () => {
      api.updatePod('default', 'web-1', (p) => {
        p.metadata.labels = { ...p.metadata.labels, touched: 'yes' };
      });
    });
    const e = await apiException(
      core.patchNamespacedPod({ name: 'web-1', namespace: 'default', body: { metadata: { resourceVersion: rv, annotations: { a: '1' } } } }, merge),
    );
    expect(e.code).toBe(409);
    expect(statusOf(e)).toMatchObject({
      reason: 'Conflict',
      message: 'Operation cannot be fulfilled on pods "web-1": the object has been modified; please apply your changes to the latest version and try again',
      details: { name: 'web-1', kind: 'pods' },
    });
    expect(api.getPod('default', 'web-1')?.metadata.annotations).not.toHaveProperty('a');

    const fresh = api.getPod('default', 'web-1')?.metadata.resourceVersion;
    const ok = await core.patchNamespacedPod({ name: 'web-1', namespace: 'default', body: { metadata: { resourceVersion: fresh, annotations: { a: '1' } } } }, merge);
    expect(ok.metadata?.annotations?.a).toBe('1');
    expect(ok.metadata?.labels?.touched).toBe('yes');
  });

  it('does not bump the resourceVersion for a patch that changes nothing, and honours dryRun', async () => {
    const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    const rv = api.resourceVersion;
    const same = await core.patchNamespacedPod({ name: 'web-1', namespace: 'default', body: { metadata: { annotations: { keep: 'me' } } } }, merge);
    expect(same.metadata?.resourceVersion).toBe(api.getPod('default', 'web-1')?.metadata.resourceVersion);
    expect(api.resourceVersion).toBe(rv);
    const dry = await core.patchNamespacedPod({ name: 'web-1', namespace: 'default', body: { metadata: { annotations: { x: 'y' } } }, dryRun: 'All' }, merge);
    expect(dry.metadata?.annotations?.x).toBe('y');
    expect(api.getPod('default', 'web-1')?.metadata.annotations).not.toHaveProperty('x');
  });

  it('applies a JSON patch (add, replace, remove, test) on escaped annotation keys', async () => {
    const key = `/metadata/annotations/${NETWORKS.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    // client-node's default Content-Type for patch* is application/json-patch+json (the first one the API lists).
    const pod = await core.patchNamespacedPod({
      name: 'web-1',
      namespace: 'default',
      body: [
        { op: 'test', path: '/metadata/annotations/keep', value: 'me' },
        { op: 'add', path: key, value: 'a' },
        { op: 'replace', path: key, value: 'macvlan-conf' },
        { op: 'remove', path: '/metadata/annotations/drop' },
      ],
    });
    expect(pod.metadata?.annotations).toEqual({ keep: 'me', [NETWORKS]: 'macvlan-conf' });
    expect(api.requests.at(-1)).toMatchObject({ contentType: 'application/json-patch+json', body: [expect.objectContaining({ op: 'test' }), expect.anything(), expect.anything(), expect.anything()] });

    // A pod without annotations: add the whole map first, as clients do.
    const other = await core.patchNamespacedPod(
      { name: 'web-2', namespace: 'default', body: [{ op: 'add', path: '/metadata/annotations', value: { [NETWORKS]: 'br' } }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    expect(other.metadata?.annotations).toEqual({ [NETWORKS]: 'br' });
  });

  it('answers 422 when a JSON patch test fails or a path is missing, and changes nothing', async () => {
    const rv = api.resourceVersion;
    const failed = await apiException(
      core.patchNamespacedPod({
        name: 'web-1',
        namespace: 'default',
        body: [
          { op: 'remove', path: '/metadata/annotations/drop' },
          { op: 'test', path: '/metadata/annotations/keep', value: 'other' },
        ],
      }),
    );
    expect(failed.code).toBe(422);
    expect(statusOf(failed)).toMatchObject({ reason: 'Invalid', message: 'testing value /metadata/annotations/keep failed: test failed', code: 422 });
    const missing = await apiException(core.patchNamespacedPod({ name: 'web-1', namespace: 'default', body: [{ op: 'remove', path: '/metadata/annotations/nope' }] }));
    expect(missing.code).toBe(422);
    expect(api.getPod('default', 'web-1')?.metadata.annotations).toEqual({ keep: 'me', drop: 'me' });
    expect(api.resourceVersion).toBe(rv);
  });

  it('answers 415 for a patch type it does not support, 404 for a missing pod', async () => {
    const e = await apiException(
      core.patchNamespacedPod({ name: 'web-1', namespace: 'default', body: {}, fieldManager: 't' }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply)),
    );
    expect(e.code).toBe(415);
    expect(statusOf(e)).toMatchObject({ reason: 'UnsupportedMediaType' });
    const nf = await apiException(
      core.patchNamespacedPod({ name: 'gone', namespace: 'default', body: { metadata: { annotations: { a: 'b' } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)),
    );
    expect(nf.code).toBe(404);
    expect(statusOf(nf).message).toBe('pods "gone" not found');
  });

  it('validates like the API server: annotation keys, immutable spec, ignored status', async () => {
    const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    const badKey = await apiException(core.patchNamespacedPod({ name: 'web-1', namespace: 'default', body: { metadata: { annotations: { 'bad key': 'x' } } } }, merge));
    expect(badKey.code).toBe(422);
    expect(statusOf(badKey).message).toMatch(/^Pod "web-1" is invalid: metadata\.annotations: Invalid value: "bad key": name part must consist of/);

    const tooBig = await apiException(core.patchNamespacedPod({ name: 'web-1', namespace: 'default', body: { metadata: { annotations: { big: 'x'.repeat(300_000) } } } }, merge));
    expect(statusOf(tooBig).message).toBe('Pod "web-1" is invalid: metadata.annotations: Too long: must have at most 262144 bytes');

    const spec = await apiException(core.patchNamespacedPod({ name: 'web-1', namespace: 'default', body: { spec: { nodeName: 'elsewhere' } } }, merge));
    expect(spec.code).toBe(422);
    expect(statusOf(spec).message).toContain('pod updates may not change fields other than');

    const status = await core.patchNamespacedPod({ name: 'web-1', namespace: 'default', body: { status: { phase: 'Failed' }, metadata: { labels: { x: 'y' } } } }, merge);
    expect(status.status?.phase).toBe('Running');
    expect(status.metadata?.labels?.x).toBe('y');
  });

  it('implements RFC 7386 and RFC 6902 (unit)', () => {
    expect(applyMergePatch({ a: 'b', c: { d: 'e', f: 'g' } }, { a: 'z', c: { f: null } })).toEqual({ a: 'z', c: { d: 'e' } });
    expect(applyMergePatch({ a: [{ b: 'c' }] }, { a: [1] })).toEqual({ a: [1] });
    expect(applyMergePatch({ a: 'foo' }, 'bar')).toBe('bar');
    expect(applyMergePatch({ e: null }, { a: 1 })).toEqual({ e: null, a: 1 });
    const doc = { foo: ['bar', 'baz'], 'a/b': 1, 'm~n': 2 };
    expect(applyJsonPatch(doc, [{ op: 'add', path: '/foo/1', value: 'qux' }])).toEqual({ ...doc, foo: ['bar', 'qux', 'baz'] });
    expect(applyJsonPatch(doc, [{ op: 'add', path: '/foo/-', value: 'end' }])).toEqual({ ...doc, foo: ['bar', 'baz', 'end'] });
    expect(applyJsonPatch(doc, [{ op: 'remove', path: '/a~1b' }, { op: 'replace', path: '/m~0n', value: 3 }])).toEqual({ foo: ['bar', 'baz'], 'm~n': 3 });
    expect(applyJsonPatch(doc, [{ op: 'move', from: '/foo/0', path: '/first' }])).toEqual({ ...doc, foo: ['baz'], first: 'bar' });
    expect(applyJsonPatch(doc, [{ op: 'copy', from: '/foo', path: '/bar' }])).toEqual({ ...doc, bar: ['bar', 'baz'] });
    expect(() => applyJsonPatch(doc, [{ op: 'test', path: '/foo', value: ['bar'] }])).toThrow(/test failed/);
    expect(() => applyJsonPatch(doc, [{ op: 'add', path: '/x/y', value: 1 }])).toThrow(/missing path/);
    expect(doc).toEqual({ foo: ['bar', 'baz'], 'a/b': 1, 'm~n': 2 }); // the input is never mutated
  });
});

describe('NetworkAttachmentDefinitions', () => {
  it('serves a NAD to CustomObjectsApi.getNamespacedCustomObject', async () => {
    const nad = (await custom.getNamespacedCustomObject({ ...NAD, namespace: 'default', name: 'macvlan-conf' })) as {
      apiVersion: string;
      kind: string;
      metadata: { name: string; namespace: string };
      spec: { config: string };
    };
    expect(nad.apiVersion).toBe('k8s.cni.cncf.io/v1');
    expect(nad.kind).toBe('NetworkAttachmentDefinition');
    expect(nad.metadata).toMatchObject({ name: 'macvlan-conf', namespace: 'default' });
    expect(JSON.parse(nad.spec.config)).toMatchObject({ type: 'macvlan', master: 'eth0' });
    expect(api.requests.at(-1)?.path).toBe('/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/macvlan-conf');
  });

  it('lists NADs (items keep apiVersion/kind, as for custom resources) and reports NotFound with the group', async () => {
    const list = (await custom.listNamespacedCustomObject({ ...NAD, namespace: 'data' })) as { kind: string; items: Array<{ kind: string; metadata: { name: string } }> };
    expect(list.kind).toBe('NetworkAttachmentDefinitionList');
    expect(list.items.map((i) => [i.kind, i.metadata.name])).toEqual([['NetworkAttachmentDefinition', 'br']]);
    const all = (await custom.listClusterCustomObject({ ...NAD })) as { items: unknown[] };
    expect(all.items).toHaveLength(2);

    const e = await apiException(custom.getNamespacedCustomObject({ ...NAD, namespace: 'default', name: 'nope' }));
    expect(e.code).toBe(404);
    expect(statusOf(e)).toMatchObject({
      message: 'network-attachment-definitions.k8s.cni.cncf.io "nope" not found',
      details: { name: 'nope', group: 'k8s.cni.cncf.io', kind: 'network-attachment-definitions' },
    });
  });
});

describe('fault injection', () => {
  it('answers the next matching request with 500 InternalError, then serves normally', async () => {
    api.failNext({ method: 'GET', pathIncludes: '/pods/web-1' });
    expect(api.pendingInterceptors).toBe(1);
    await core.readNamespacedPod({ name: 'web-2', namespace: 'default' }); // does not match
    const e = await apiException(core.readNamespacedPod({ name: 'web-1', namespace: 'default' }));
    expect(e.code).toBe(500);
    expect(statusOf(e)).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'InternalError', code: 500 });
    expect(api.pendingInterceptors).toBe(0);
    expect((await core.readNamespacedPod({ name: 'web-1', namespace: 'default' })).metadata?.name).toBe('web-1');
  });

  it('injects a given code several times, and delays', async () => {
    api.failNext({ method: 'PATCH', times: 2 }, { code: 503 });
    const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    const patch = () => core.patchNamespacedPod({ name: 'web-1', namespace: 'default', body: { metadata: { annotations: { n: '1' } } } }, merge);
    expect(statusOf(await apiException(patch()))).toMatchObject({ reason: 'ServiceUnavailable', code: 503 });
    expect((await apiException(patch())).code).toBe(503);
    expect((await patch()).metadata?.annotations?.n).toBe('1');

    api.failNext({ pathIncludes: 'labelSelector' }, { delayMs: 300 });
    const t0 = Date.now();
    const list = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(names(list)).toEqual(['web-1', 'web-2']);
  });

  it('can hang a request until stop(), which closes it', async () => {
    api.failNext({ pathIncludes: '/pods/web-1' }, { hang: true });
    const pending = core.readNamespacedPod({ name: 'web-1', namespace: 'default' });
    const settled = pending.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await expect.poll(() => api.requests.length).toBe(1);
    const raced = await Promise.race([settled, new Promise((r) => setTimeout(() => r('still hanging'), 200))]);
    expect(raced).toBe('still hanging');
    await api.stop();
    const err = await settled;
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toMatch(/socket hang up|ECONNRESET|closed/i);
    await api.stop(); // idempotent (afterEach calls it again too)
  });
});

describe('authentication and TLS', () => {
  it('answers 401 Unauthorized to a wrong token', async () => {
    const { core: wrong } = clients(await api.writeKubeconfig({ token: 'not-the-token' }));
    const e = await apiException(wrong.readNamespacedPod({ name: 'web-1', namespace: 'default' }));
    expect(e.code).toBe(401);
    // client-node drops the body of a 401 (the spec declares it): the Status is only visible on the wire.
    expect(api.requests.at(-1)).toMatchObject({ authorized: false, path: '/api/v1/namespaces/default/pods/web-1' });

    const raw = await new Promise<{ code: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(`${api.url}/api/v1/namespaces/default/pods/web-1`, { ca: api.caPem }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(raw.code).toBe(401);
    expect(JSON.parse(raw.body)).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
  });

  it('is verified against its CA: a client without the CA refuses the certificate', async () => {
    // NODE_TLS_REJECT_UNAUTHORIZED=0 would make this test meaningless.
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).not.toBe('0');
    expect(api.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const { core: noCa } = clients(await api.writeKubeconfig({ withCa: false }));
    const err: unknown = await noCa.readNamespacedPod({ name: 'web-1', namespace: 'default' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(k8s.ApiException);
    expect(`${(err as { code?: string }).code} ${(err as Error).message}`).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify|self.signed|certificate/i);
    expect(api.requests).toHaveLength(0); // the TLS handshake failed before any HTTP

    // ...and the same kubeconfig with the CA works.
    const kubeconfig = await readFile(api.kubeconfigPath, 'utf8');
    expect(kubeconfig).toContain('certificate-authority-data:');
    expect(kubeconfig).toContain(`token: "${api.token}"`);
    expect((await core.readNamespacedPod({ name: 'web-1', namespace: 'default' })).metadata?.name).toBe('web-1');
  });

  it('writes kubeconfigs with other contexts and namespaces', async () => {
    const path = await api.writeKubeconfig({ namespace: 'data', contexts: [{ name: 'other', namespace: 'kube-system', token: 'x' }] });
    const { kc, core: c } = clients(path);
    expect(kc.getCurrentContext()).toBe('stand-in');
    expect(kc.getContextObject('stand-in')?.namespace).toBe('data');
    expect(kc.getContextObject('other')?.namespace).toBe('kube-system');
    expect(names(await c.listNamespacedPod({ namespace: 'data' }))).toEqual(['db-0']);
    kc.setCurrentContext('other');
    expect((await apiException(kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: 'data' }))).code).toBe(401);
  });

  it('also runs without TLS (client-node then needs insecure-skip-tls-verify, which the kubeconfig sets)', async () => {
    const plain = await StandInApiServer.start({ tls: false });
    try {
      expect(plain.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      plain.addPod(makePod({ name: 'p', namespace: 'ns' }));
      const { core: c } = clients(plain.kubeconfigPath);
      expect((await c.readNamespacedPod({ name: 'p', namespace: 'ns' })).metadata?.namespace).toBe('ns');
    } finally {
      await plain.stop();
    }
  });
});

describe('discovery and unknown routes', () => {
  it('serves /version, /api and /apis', async () => {
    const { kc } = clients(api.kubeconfigPath);
    expect(await kc.makeApiClient(k8s.VersionApi).getCode()).toMatchObject({ major: '1', gitVersion: expect.stringMatching(/^v1\./) });
    expect((await kc.makeApiClient(k8s.CoreApi).getAPIVersions()).versions).toEqual(['v1']);
    const groups = await kc.makeApiClient(k8s.ApisApi).getAPIVersions();
    expect(groups.groups.map((g) => g.name)).toContain('k8s.cni.cncf.io');
    const resources = await kc.makeApiClient(k8s.CoreV1Api).getAPIResources();
    expect(resources.resources.map((r) => r.name)).toContain('pods');
  });

  it('answers 404 for unknown resources and 405 for unsupported verbs', async () => {
    const svc = await apiException(core.readNamespacedService({ name: 'x', namespace: 'default' }));
    expect(svc.code).toBe(404);
    expect(statusOf(svc)).toMatchObject({ reason: 'NotFound', message: 'the server could not find the requested resource' });
    const put = await apiException(core.replaceNamespacedPod({ name: 'web-1', namespace: 'default', body: { metadata: { name: 'web-1' } } }));
    expect(put.code).toBe(405);
    expect(statusOf(put)).toMatchObject({ reason: 'MethodNotAllowed' });
    const del = await apiException(custom.deleteNamespacedCustomObject({ ...NAD, namespace: 'default', name: 'macvlan-conf' }));
    expect(del.code).toBe(405);
    expect(api.getPod('default', 'web-1')).toBeDefined();
    expect(api.getNad('default', 'macvlan-conf')).toBeDefined();
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The agent-pod lifecycle: create, start, exec, delete
// ---------------------------------------------------------------------------------------------------------------

const AGENT: k8s.V1Pod = {
  metadata: { generateName: 'agent-', labels: { app: 'cni-attach-agent' } },
  spec: {
    restartPolicy: 'Never',
    hostNetwork: true,
    containers: [{ name: 'agent', image: 'busybox:1.36', command: ['sleep', 'infinity'] }],
  },
};

async function createRunningAgent(): Promise<string> {
  const pod = await core.createNamespacedPod({ namespace: 'default', body: AGENT });
  const name = pod.metadata?.name ?? '';
  await expect.poll(async () => (await core.readNamespacedPod({ name, namespace: 'default' })).status?.phase).toBe('Running');
  return name;
}

interface ExecOutcome {
  stdout: string;
  stderr: string;
  status: k8s.V1Status | undefined;
  protocol: string;
  closeCode: number;
}

/** Run a command through client-node's Exec and wait until the WebSocket closes. */
async function clientExec(pod: string, container: string, command: string[], input?: string, kc?: k8s.KubeConfig): Promise<ExecOutcome> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  let status: k8s.V1Status | undefined;
  // A Readable that ends: under v5 client-node then sends the close-stdin frame (255, 0).
  const stdin = input === undefined ? null : Readable.from([Buffer.from(input)]);
  const ws = await new k8s.Exec(kc ?? clients(api.kubeconfigPath).kc).exec('default', pod, container, command, stdout, stderr, stdin, false, (s) => {
    status = s;
  });
  const closeCode = await new Promise<number>((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve(-1);
    else ws.once('close', (code: number) => resolve(code));
  });
  await new Promise((r) => setImmediate(r));
  return { stdout: out, stderr: err, status, protocol: ws.protocol, closeCode };
}

/** The rejection of client-node's exec(): ws's ErrorEvent ("Unexpected server response: 404"), not an Error. */
async function execRejection(p: Promise<unknown>): Promise<string> {
  const e: unknown = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeDefined();
  return String((e as { message?: unknown }).message);
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('creating pods', () => {
  it('creates a pod from generateName, Pending, then schedules and starts it', async () => {
    const seen: string[] = [];
    api.onPodCreated = (p) => {
      seen.push(`${p.metadata.name} ${p.status.phase}`);
    };
    const rv = Number(api.resourceVersion);
    const pod = await core.createNamespacedPod({ namespace: 'default', body: AGENT });
    const name = pod.metadata?.name ?? '';
    expect(name).toMatch(/^agent-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(pod.metadata?.generateName).toBe('agent-');
    expect(pod.metadata?.namespace).toBe('default');
    expect(pod.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(pod.metadata?.resourceVersion)).toBe(rv + 1);
    expect(pod.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(pod.metadata?.labels).toEqual({ app: 'cni-attach-agent' });
    expect(pod.status).toEqual({ phase: 'Pending', qosClass: 'BestEffort' });
    expect(pod.spec?.nodeName).toBeUndefined();
    // API server defaults
    expect(pod.spec?.restartPolicy).toBe('Never');
    expect(pod.spec?.terminationGracePeriodSeconds).toBe(30);
    expect(pod.spec?.containers[0]).toMatchObject({ imagePullPolicy: 'IfNotPresent', terminationMessagePolicy: 'File' });
    expect(seen).toEqual([`${name} Pending`]);
    expect(api.requests.at(-1)).toMatchObject({ method: 'POST', path: '/api/v1/namespaces/default/pods', body: AGENT });

    await expect.poll(async () => (await core.readNamespacedPod({ name, namespace: 'default' })).status?.phase).toBe('Running');
    const running = await core.readNamespacedPod({ name, namespace: 'default' });
    expect(running.spec?.nodeName).toBe('node-1');
    expect(running.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(running.status?.podIP).toBe(running.status?.hostIP); // hostNetwork
    expect(running.status?.startTime).toBeInstanceOf(Date);
    expect(running.status?.containerStatuses?.[0]).toMatchObject({
      name: 'agent',
      image: 'docker.io/library/busybox:1.36',
      ready: true,
      started: true,
      containerID: expect.stringMatching(/^containerd:\/\/[0-9a-f]{64}$/),
      state: { running: { startedAt: expect.any(Date) } },
    });
    expect(Number(running.metadata?.resourceVersion)).toBeGreaterThan(Number(pod.metadata?.resourceVersion));
    // and it is listed like any other pod
    const listed = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=cni-attach-agent', fieldSelector: 'status.phase=Running' });
    expect(names(listed)).toEqual([name]);
  });

  it('answers 409 AlreadyExists, 422 Invalid, 400 for a namespace mismatch, and honours dryRun', async () => {
    const taken = await apiException(core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'web-1' }, spec: AGENT.spec } }));
    expect(taken.code).toBe(409);
    expect(statusOf(taken)).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods "web-1" already exists',
      reason: 'AlreadyExists',
      details: { name: 'web-1', kind: 'pods' },
      code: 409,
    });
    const nameless = await apiException(core.createNamespacedPod({ namespace: 'default', body: { spec: AGENT.spec } }));
    expect(nameless.code).toBe(422);
    expect(statusOf(nameless)).toMatchObject({
      reason: 'Invalid',
      message: 'Pod "" is invalid: metadata.name: Required value: name or generateName is required',
      details: { causes: [{ reason: 'FieldValueRequired', field: 'metadata.name' }] },
    });
    const bad = await apiException(core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'x' }, spec: { containers: [{ name: 'c', image: '' }] } } }));
    expect(statusOf(bad).message).toBe('Pod "x" is invalid: spec.containers[0].image: Required value');
    const elsewhere = await apiException(core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'x', namespace: 'data' }, spec: AGENT.spec } }));
    expect(elsewhere.code).toBe(400);

    const rv = api.resourceVersion;
    const dry = await core.createNamespacedPod({ namespace: 'data', body: { metadata: { name: 'dry' }, spec: AGENT.spec }, dryRun: 'All' });
    expect(dry.metadata?.name).toBe('dry');
    expect(api.getPod('data', 'dry')).toBeUndefined();
    expect(api.resourceVersion).toBe(rv);
  });

  it('keeps a pod Pending or fails it when told to, and runPod starts it later', async () => {
    api.podStartBehaviour = (p) => (p.metadata.name === 'stuck' ? 'pending' : 'fail');
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'stuck' }, spec: AGENT.spec } });
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'broken' }, spec: AGENT.spec } });
    await expect.poll(async () => (await core.readNamespacedPod({ name: 'broken', namespace: 'default' })).status?.phase).toBe('Failed');
    const broken = await core.readNamespacedPod({ name: 'broken', namespace: 'default' });
    expect(broken.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    expect(broken.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'PodFailed' });

    await sleep(api.podStartDelayMs + 50);
    const stuck = await core.readNamespacedPod({ name: 'stuck', namespace: 'default' });
    expect(stuck.status?.phase).toBe('Pending');
    expect(stuck.spec?.nodeName).toBeUndefined();

    // exec into either: 400 before the upgrade (client-node only sees the status code)
    expect(await execRejection(clientExec('stuck', 'agent', ['true']))).toMatch(/400/);
    expect(await execRejection(clientExec('broken', 'agent', ['true']))).toMatch(/400/);
    expect(api.execs).toHaveLength(0);

    api.runPod('default', 'stuck');
    expect((await core.readNamespacedPod({ name: 'stuck', namespace: 'default' })).status?.phase).toBe('Running');
    expect((await clientExec('stuck', 'agent', ['true'])).status?.status).toBe('Success');
  });
});

describe('deleting pods', () => {
  it('deletes a pod, answers with the deleted pod, records it, then 404s', async () => {
    const name = await createRunningAgent();
    const uid = api.getPod('default', name)?.metadata.uid;
    const deleted = await core.deleteNamespacedPod({ name, namespace: 'default', gracePeriodSeconds: 0 });
    expect(deleted.kind).toBe('Pod');
    expect(deleted.metadata).toMatchObject({ name, uid, deletionGracePeriodSeconds: 0 });
    expect(deleted.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    expect(api.requests.at(-1)).toMatchObject({ method: 'DELETE', path: `/api/v1/namespaces/default/pods/${name}`, query: { gracePeriodSeconds: '0' } });
    expect(api.podDeletions).toEqual([{ namespace: 'default', name, uid, gracePeriodSeconds: 0, dryRun: false, immediate: true, at: expect.any(Date) }]);
    expect(api.getPod('default', name)).toBeUndefined();
    expect((await apiException(core.readNamespacedPod({ name, namespace: 'default' }))).code).toBe(404);

    const again = await apiException(core.deleteNamespacedPod({ name, namespace: 'default' }));
    expect(again.code).toBe(404);
    expect(statusOf(again)).toMatchObject({ reason: 'NotFound', message: `pods "${name}" not found` });
  });

  it('takes DeleteOptions in the body (grace period, preconditions) and can delete gracefully', async () => {
    const conflict = await apiException(core.deleteNamespacedPod({ name: 'web-1', namespace: 'default', body: { preconditions: { uid: 'not-the-uid' } } }));
    expect(conflict.code).toBe(409);
    expect(statusOf(conflict).message).toMatch(/^Operation cannot be fulfilled on pods "web-1": Precondition failed: UID in precondition: not-the-uid/);

    api.podTerminationDelayMs = 300;
    const uid = api.getPod('default', 'web-1')?.metadata.uid;
    const terminating = await core.deleteNamespacedPod({ name: 'web-1', namespace: 'default', body: { gracePeriodSeconds: 5, propagationPolicy: 'Background', preconditions: { uid } } });
    expect(terminating.metadata?.deletionGracePeriodSeconds).toBe(5);
    expect(api.podDeletions.at(-1)).toMatchObject({ name: 'web-1', gracePeriodSeconds: 5, propagationPolicy: 'Background', immediate: false });
    // still there, terminating, until the "kubelet" is done
    expect((await core.readNamespacedPod({ name: 'web-1', namespace: 'default' })).metadata?.deletionTimestamp).toBeInstanceOf(Date);
    await expect.poll(() => api.getPod('default', 'web-1')).toBeUndefined();

    // an unscheduled pod goes at once whatever the grace period
    await core.deleteNamespacedPod({ name: 'pending', namespace: 'default' });
    expect(api.getPod('default', 'pending')).toBeUndefined();
    expect(api.podDeletions.at(-1)).toMatchObject({ name: 'pending', gracePeriodSeconds: 0, immediate: true });
  });
});

describe('deleting configmaps', () => {
  it('honours DeleteOptions preconditions as the API server does: a stale resourceVersion or another uid is 409 Conflict and the ConfigMap stays; the current one deletes it', async () => {
    await core.createNamespacedConfigMap({ namespace: 'kube-system', body: { metadata: { name: 'cm-1' }, data: { a: '1' } } });
    const seen = api.getConfigMap('kube-system', 'cm-1')!;
    const seenRv = seen.metadata.resourceVersion!;
    // another writer changes it after it was read
    await core.patchNamespacedConfigMap({ name: 'cm-1', namespace: 'kube-system', body: { data: { b: '2' } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    const now = api.getConfigMap('kube-system', 'cm-1')!.metadata.resourceVersion!;
    expect(now).not.toBe(seenRv);

    const stale = await apiException(core.deleteNamespacedConfigMap({ name: 'cm-1', namespace: 'kube-system', body: { preconditions: { resourceVersion: seenRv } } }));
    expect(stale.code).toBe(409);
    expect(statusOf(stale)).toMatchObject({
      reason: 'Conflict',
      message: `Operation cannot be fulfilled on configmaps "cm-1": Precondition failed: ResourceVersion in precondition: ${seenRv}, ResourceVersion in object meta: ${now}`,
      details: { name: 'cm-1', kind: 'configmaps' },
    });
    const otherUid = await apiException(core.deleteNamespacedConfigMap({ name: 'cm-1', namespace: 'kube-system', body: { preconditions: { uid: 'not-the-uid', resourceVersion: now } } }));
    expect(otherUid.code).toBe(409);
    expect(statusOf(otherUid).message).toMatch(/^Operation cannot be fulfilled on configmaps "cm-1": Precondition failed: UID in precondition: not-the-uid/);
    expect(api.getConfigMap('kube-system', 'cm-1')?.data).toEqual({ a: '1', b: '2' });

    // a dry run checks and keeps it
    await core.deleteNamespacedConfigMap({ name: 'cm-1', namespace: 'kube-system', body: { dryRun: ['All'], preconditions: { resourceVersion: now } } });
    expect(api.getConfigMap('kube-system', 'cm-1')).toBeDefined();

    const status = await core.deleteNamespacedConfigMap({ name: 'cm-1', namespace: 'kube-system', body: { preconditions: { uid: seen.metadata.uid, resourceVersion: now } } });
    expect(status).toMatchObject({ status: 'Success', details: { name: 'cm-1', kind: 'configmaps', uid: seen.metadata.uid } });
    expect(api.getConfigMap('kube-system', 'cm-1')).toBeUndefined();
    const gone = await apiException(core.deleteNamespacedConfigMap({ name: 'cm-1', namespace: 'kube-system', body: { preconditions: { resourceVersion: now } } }));
    expect(gone.code).toBe(404);
    expect(statusOf(gone)).toMatchObject({ reason: 'NotFound', message: 'configmaps "cm-1" not found' });
  });
});

describe('exec', () => {
  it('runs a command with stdin through client-node (v5), streams stdout/stderr, and reports the exit code', async () => {
    const name = await createRunningAgent();
    const command = ['sh', '-c', 'cat; echo err >&2; exit 3'];
    const r = await clientExec(name, 'agent', command, 'hello\nworld\n');
    expect(r.protocol).toBe('v5.channel.k8s.io');
    expect(r.stdout).toBe('hello\nworld\n');
    expect(r.stderr).toBe('err\n');
    expect(r.status).toEqual({
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: error executing command [sh -c cat; echo err >&2; exit 3], exit code 3',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
    expect(api.execs).toEqual([
      expect.objectContaining({ namespace: 'default', pod: name, container: 'agent', command, stdin: true, stdout: true, stderr: true, tty: false, exitCode: 3 }),
    ]);
    expect(api.execs[0]?.closedEarly).toBeUndefined();
    const upgrade = api.requests.at(-1);
    expect(upgrade).toMatchObject({ method: 'GET', path: `/api/v1/namespaces/default/pods/${name}/exec`, authorized: true });
    expect(upgrade?.query).toMatchObject({ container: 'agent', stdin: 'true', stdout: 'true', stderr: 'true', tty: 'false' });
    await expect.poll(() => api.activeExecs).toBe(0);
  });

  it('reports Success for exit code 0, and picks the only container when none is named', async () => {
    const r = await clientExec('web-1', '', ['true']);
    expect(r.status).toEqual({ metadata: {}, status: 'Success' });
    expect(r.stdout).toBe('');
    expect(api.execs.at(-1)).toMatchObject({ pod: 'web-1', container: 'app', command: ['true'], stdin: false, exitCode: 0 });

    const big = await clientExec('web-1', 'app', ['sh', '-c', 'head -c 300000 /dev/zero | tr "\\0" x; echo']);
    expect(big.stdout).toHaveLength(300_001);
  });

  it('fails exec into a missing pod or with a bad token before the upgrade', async () => {
    expect(await execRejection(clientExec('nope', 'agent', ['true']))).toMatch(/404/);
    expect(api.requests.at(-1)).toMatchObject({ path: '/api/v1/namespaces/default/pods/nope/exec', authorized: true });

    const { kc: wrong } = clients(await api.writeKubeconfig({ token: 'not-the-token' }));
    expect(await execRejection(clientExec('web-1', 'app', ['true'], undefined, wrong))).toMatch(/401/);
    expect(api.requests.at(-1)).toMatchObject({ path: '/api/v1/namespaces/default/pods/web-1/exec', authorized: false });

    expect(await execRejection(clientExec('web-1', 'other', ['true']))).toMatch(/400/);
    api.failNext({ pathIncludes: '/exec' }, { code: 503 }); // fault injection applies to upgrades too
    expect(await execRejection(clientExec('web-1', 'app', ['true']))).toMatch(/503/);
    expect(api.execs).toHaveLength(0);
  });

  it('reports a command that cannot start as InternalError', async () => {
    const r = await clientExec('web-1', 'app', ['no-such-command-stand-in']);
    expect(r.status).toMatchObject({
      status: 'Failure',
      reason: 'InternalError',
      code: 500,
      message: expect.stringContaining('exec: "no-such-command-stand-in": executable file not found in $PATH'),
    });
  });

  it('runs commands through a replaceable handler', async () => {
    const seen: ExecRequest[] = [];
    api.execHandler = (req) => {
      seen.push(req);
      if (req.command[0] === 'explode') throw new Error('no runtime here');
      return spawn('sh', ['-c', 'echo "$POD/$CONTAINER: $*"', 'sh', ...req.command], { env: { ...process.env, POD: req.pod, CONTAINER: req.container } });
    };
    const r = await clientExec('web-2', 'app', ['echo', 'hi']);
    expect(r.stdout).toBe('web-2/app: echo hi\n');
    expect(r.status?.status).toBe('Success');
    expect(seen).toEqual([{ namespace: 'default', pod: 'web-2', container: 'app', command: ['echo', 'hi'], stdin: false, stdout: true, stderr: true, tty: false, protocol: 'v5.channel.k8s.io' }]);

    const boom = await clientExec('web-2', 'app', ['explode']);
    expect(boom.status).toMatchObject({ status: 'Failure', reason: 'InternalError', message: expect.stringContaining('no runtime here') });

    api.execHandler = hostExecHandler; // the default again
    expect((await clientExec('web-2', 'app', ['sh', '-c', 'echo $0'])).stdout).toBe('sh\n');
  });

  it('kills the command when the client closes the WebSocket early (also how a v4 client ends stdin)', async () => {
    // A raw v4 client: no close-stdin frame exists, so closing the socket is all it can do.
    const url = `${api.url.replace(/^https/, 'wss')}/api/v1/namespaces/default/pods/web-1/exec?command=cat&stdin=true&stdout=true&stderr=true`;
    const ws = new WebSocket(url, ['v4.channel.k8s.io'], { ca: api.caPem, headers: { Authorization: `Bearer ${api.token}` } });
    const frames: Buffer[] = [];
    ws.on('message', (d: Buffer) => frames.push(d));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    expect(ws.protocol).toBe('v4.channel.k8s.io');
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('ping\n')]));
    await expect.poll(() => Buffer.concat(frames.filter((f) => f[0] === 1).map((f) => f.subarray(1))).toString()).toBe('ping\n');
    expect(frames[0]).toEqual(Buffer.from([1])); // the kubelet's initial empty frame on stdout
    const pid = api.execs[0]?.pid;
    expect(alive(pid)).toBe(true);
    ws.close();
    await expect.poll(() => api.execs[0]?.exitCode).toBe(137);
    expect(api.execs[0]).toMatchObject({ closedEarly: true, protocol: 'v4.channel.k8s.io' });
    expect(alive(pid)).toBe(false);
    await expect.poll(() => api.activeExecs).toBe(0);
  });

  it('ends the commands in a pod that is deleted (exit code 137)', async () => {
    const name = await createRunningAgent();
    const pending = clientExec(name, 'agent', ['sleep', '30']);
    await expect.poll(() => api.execs[0]?.pid).toBeTypeOf('number');
    await core.deleteNamespacedPod({ name, namespace: 'default' });
    const r = await pending;
    expect(r.status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '137' }] } });
    expect(r.closeCode).toBe(1000);
  });

  it('stop() kills a running exec, closes its WebSocket, and does not hang', async () => {
    const stdout = new PassThrough();
    const ws = await new k8s.Exec(clients(api.kubeconfigPath).kc).exec('default', 'web-1', 'app', ['sh', '-c', 'sleep 30; echo late'], stdout, null, null, false);
    // client-node resolves exec() as soon as the WebSocket is open, long before the command ends.
    expect(ws.readyState).toBe(WebSocket.OPEN);
    await expect.poll(() => api.execs[0]?.pid).toBeTypeOf('number');
    const pid = api.execs[0]?.pid;
    expect(alive(pid)).toBe(true);
    const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
    const t0 = Date.now();
    await api.stop();
    expect(Date.now() - t0).toBeLessThan(5_000);
    // sh and its sleep (the whole process group); polled: under load the killed process may not be reaped yet
    await expect.poll(() => alive(pid), { timeout: 5_000 }).toBe(false);
    expect(await closed).toBe(1006); // terminated, no close frame, no status
    expect(api.execs[0]).toMatchObject({ closedEarly: true, exitCode: 137 });
    expect(api.activeExecs).toBe(0);
  });
});

describe('exec subprotocols, as API servers of different ages offer them', () => {
  it('negotiates v5 when both are served, the one served when only v4 or only v5 is, and refuses a client offering neither', async () => {
    expect((await clientExec('web-1', 'app', ['true'])).protocol).toBe('v5.channel.k8s.io');
    api.execProtocols = ['v4.channel.k8s.io'];
    expect((await clientExec('web-1', 'app', ['true'])).protocol).toBe('v4.channel.k8s.io');
    api.execProtocols = ['v5.channel.k8s.io'];
    expect((await clientExec('web-1', 'app', ['true'])).protocol).toBe('v5.channel.k8s.io');
    expect(api.execs.map((e) => e.protocol)).toEqual(['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v5.channel.k8s.io']);

    const url = `${api.url.replace(/^https/, 'wss')}/api/v1/namespaces/default/pods/web-1/exec?command=true&stdout=true`;
    const ws = new WebSocket(url, ['v4.channel.k8s.io', 'channel.k8s.io'], { ca: api.caPem, headers: { Authorization: `Bearer ${api.token}` } });
    const refused = await new Promise<string>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(String(res.statusCode))).once('open', () => resolve('open')));
    expect(refused).toBe('400');
    expect(api.execs).toHaveLength(3);
  });

  it('under v4 ignores the close-stdin frame (a v5-only signal): a command reading stdin to the end only ends when the socket closes', async () => {
    api.execProtocols = ['v4.channel.k8s.io'];
    const r = await clientExec('web-1', 'app', ['sh', '-c', 'cat; echo done'], 'hi\n');
    // client-node closes the WebSocket to end stdin under v4: the command is killed, its output after that and its status lost
    expect(r.protocol).toBe('v4.channel.k8s.io');
    expect(r.status).toBeUndefined();
    await expect.poll(() => api.execs[0]?.closedEarly).toBe(true);

    // a raw v4 client sending [255, 0]: ignored, the command keeps waiting for stdin
    const url = `${api.url.replace(/^https/, 'wss')}/api/v1/namespaces/default/pods/web-1/exec?command=cat&stdin=true&stdout=true`;
    const ws = new WebSocket(url, ['v4.channel.k8s.io'], { ca: api.caPem, headers: { Authorization: `Bearer ${api.token}` } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(Buffer.from([0, ...Buffer.from('x')]));
    ws.send(Buffer.from([255, 0]));
    await expect.poll(() => api.execs[1]?.pid).toBeTypeOf('number');
    await sleep(200);
    expect(api.execs[1]?.exitCode).toBeUndefined();
    ws.close();
    await expect.poll(() => api.execs[1]?.exitCode).toBe(137);

    // the same under v5: the frame closes stdin, cat ends, the status comes
    api.execProtocols = ['v5.channel.k8s.io'];
    const v5 = await clientExec('web-1', 'app', ['sh', '-c', 'cat; echo done'], 'hi\n');
    expect(v5).toMatchObject({ protocol: 'v5.channel.k8s.io', stdout: 'hi\ndone\n', status: { status: 'Success' } });
  });

  it('adds latencyMs to every request and every exec upgrade', async () => {
    api.latencyMs = 150;
    let t0 = Date.now();
    await core.readNamespacedPod({ name: 'web-1', namespace: 'default' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    t0 = Date.now();
    expect((await clientExec('web-1', 'app', ['true'])).status?.status).toBe('Success');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    api.latencyMs = 0;
  });
});

/** Open a watch with client-node's Watch and collect its events (type and the object's name and resourceVersion). */
async function watchPods(path: string, query: Record<string, string>) {
  const kc = clients(api.kubeconfigPath).kc;
  const events: { type: string; name?: string; rv?: string; phase?: string; object: Record<string, unknown> }[] = [];
  let ended: unknown = 'open';
  const ctl = await new k8s.Watch(kc).watch(
    path,
    query,
    (type, o: k8s.V1Pod & Record<string, unknown>) => events.push({ type, name: o.metadata?.name, rv: o.metadata?.resourceVersion, phase: o.status?.phase, object: o }),
    (err) => (ended = err),
  );
  return { events, ctl, ended: () => ended };
}

describe('watch', () => {
  it('streams a pod by name from a resourceVersion: MODIFIED as it starts, DELETED when it goes, nothing for other pods', async () => {
    const created = await core.createNamespacedPod({ namespace: 'default', body: AGENT });
    const name = created.metadata?.name ?? '';
    const w = await watchPods('/api/v1/namespaces/default/pods', { fieldSelector: `metadata.name=${name}`, resourceVersion: created.metadata?.resourceVersion ?? '' });
    await expect.poll(() => w.events.map((e) => `${e.type} ${e.phase}`)).toEqual(['MODIFIED Running']);
    expect(w.events[0]?.object).toMatchObject({ apiVersion: 'v1', kind: 'Pod', spec: { nodeName: 'node-1' } });
    expect(Number(w.events[0]?.rv)).toBeGreaterThan(Number(created.metadata?.resourceVersion));
    api.updatePod('default', 'web-1', (p) => void (p.metadata.labels = { other: 'change' })); // not this pod
    await core.deleteNamespacedPod({ name, namespace: 'default', gracePeriodSeconds: 0 });
    await expect.poll(() => w.events.map((e) => e.type)).toEqual(['MODIFIED', 'DELETED']);
    expect(w.events[1]?.name).toBe(name);
    expect(Number(w.events[1]?.rv)).toBe(Number(api.resourceVersion));
    expect(api.requests.at(-1)?.method).toBe('DELETE');
    expect(api.requests.find((q) => q.query.watch === 'true')).toMatchObject({ method: 'GET', path: '/api/v1/namespaces/default/pods' });
    expect(api.activeWatches).toBe(1);
    w.ctl.abort();
    await expect.poll(() => api.activeWatches).toBe(0);
  });

  it('starts with the current objects as ADDED without a resourceVersion, filters by labels, turns a pod that stops matching into DELETED', async () => {
    const w = await watchPods('/api/v1/pods', { labelSelector: 'app=web' });
    await expect.poll(() => w.events.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED web-1', 'ADDED web-2']);
    api.updatePod('default', 'web-2', (p) => void (p.metadata.labels = { app: 'db' }));
    api.addPod(makePod({ name: 'web-3', namespace: 'data', labels: { app: 'web' } }));
    await expect.poll(() => w.events.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED web-1', 'ADDED web-2', 'DELETED web-2', 'ADDED web-3']);
    // as the watch cache sends it (apiserver cacheWatcher.convertToWatchEvent): the object as it was while it matched
    // (its old labels), with the resourceVersion of the change that made it stop matching
    const left = w.events[2]!;
    expect((left.object.metadata as { labels?: Record<string, string> }).labels?.app).toBe('web');
    expect(left.rv).toBe(api.getPod('default', 'web-2')!.metadata.resourceVersion);
    // back into the selection: ADDED, as it is now
    api.updatePod('default', 'web-2', (p) => void (p.metadata.labels = { app: 'web', back: 'yes' }));
    await expect.poll(() => w.events.map((e) => `${e.type} ${e.name}`).slice(4)).toEqual(['ADDED web-2']);
    expect((w.events[4]!.object.metadata as { labels?: unknown }).labels).toEqual({ app: 'web', back: 'yes' });
    w.ctl.abort();
  });

  it('answers a resourceVersion older than the history kept with an ERROR event (410 Expired), and ends after timeoutSeconds', async () => {
    for (let i = 0; i < 10_001; i++) api.updatePod('default', 'web-1', (p) => void (p.metadata.annotations = { n: String(i) }));
    const old = await watchPods('/api/v1/namespaces/default/pods', { resourceVersion: '1001' });
    await expect.poll(() => old.events.map((e) => e.type)).toEqual(['ERROR']);
    expect(old.events[0]?.object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired', message: expect.stringMatching(/^too old resource version: 1001 \(\d+\)$/) });
    await expect.poll(() => old.ended()).toBeNull();

    const short = await watchPods('/api/v1/namespaces/default/pods', { resourceVersion: api.resourceVersion, timeoutSeconds: '1' });
    await expect.poll(() => short.ended(), { timeout: 3_000 }).toBeNull();
    expect(short.events).toEqual([]);
  });
});

describe('Pod Security admission', () => {
  const privilegedAgent: k8s.V1Pod = {
    metadata: { generateName: 'cni-attach-agent-' },
    spec: {
      hostNetwork: true,
      hostPID: true,
      containers: [{ name: 'agent', image: 'busybox:1.36.1', securityContext: { privileged: true } }],
    },
  };

  it('refuses a privileged pod with host namespaces in a baseline namespace with the real 403 Status, admits it elsewhere', async () => {
    api.podSecurity = { 'kube-system': 'baseline' };
    const e = await apiException(core.createNamespacedPod({ namespace: 'kube-system', body: privilegedAgent }));
    expect(e.code).toBe(403);
    const st = statusOf(e);
    expect(st).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', code: 403, details: { kind: 'pods' } });
    expect(st.message).toMatch(
      /^pods "cni-attach-agent-[a-z0-9]{5}" is forbidden: violates PodSecurity "baseline:latest": host namespaces \(hostNetwork=true, hostPID=true\), privileged \(container "agent" must not set securityContext\.privileged=true\)$/,
    );
    expect(st.details?.name).toBe(st.message.match(/pods "([^"]+)"/)?.[1]);
    expect(api.listPods('kube-system')).toEqual([]);
    // a plain pod is admitted there; the privileged one where nothing is enforced
    await core.createNamespacedPod({ namespace: 'kube-system', body: { ...AGENT, spec: { ...AGENT.spec, hostNetwork: false } } });
    await core.createNamespacedPod({ namespace: 'default', body: privilegedAgent });
  });

  it('names what restricted asks for, in the admission order', async () => {
    api.podSecurity = { default: 'restricted' };
    const e = await apiException(core.createNamespacedPod({ namespace: 'default', body: { ...AGENT, spec: { ...AGENT.spec, volumes: [{ name: 'h', hostPath: { path: '/' } }] } } }));
    expect(statusOf(e).message).toMatch(
      /violates PodSecurity "restricted:latest": host namespaces \(hostNetwork=true\), hostPath volumes \(volume "h"\), allowPrivilegeEscalation != false \(container "agent" must set securityContext\.allowPrivilegeEscalation=false\), unrestricted capabilities \(container "agent" must set securityContext\.capabilities\.drop=\["ALL"\]\), restricted volume types \(volume "h" uses restricted volume type "hostPath"\), runAsNonRoot != true \(pod or container "agent" must set securityContext\.runAsNonRoot=true\), seccompProfile \(pod or container "agent" must set securityContext\.seccompProfile\.type to "RuntimeDefault" or "Localhost"\)$/,
    );
  });
});
