/** kubectl's kubeconfig loading rules (src/resolve/kubeconfig.ts), with the files in memory; then the files read for real (kubeconfig-files.ts). */
import { describe, expect, it } from 'vitest';
import { load } from 'js-yaml';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../src/errors.js';
import { kubeconfigPaths, mergeKubeconfigs, resolveKubeconfig, type KubeOverrides, type LoadingRules } from '../../src/resolve/kubeconfig.js';
import { inlineCertificateFiles, readKubeconfigFiles } from '../../src/resolve/kubeconfig-files.js';

const cfg = (o: { current?: string; clusters?: [string, string][]; users?: [string, Record<string, unknown>][]; contexts?: [string, string, string, string?][] }) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    ...(o.current !== undefined ? { 'current-context': o.current } : {}),
    clusters: (o.clusters ?? []).map(([name, server]) => ({ name, cluster: { server } })),
    users: (o.users ?? []).map(([name, user]) => ({ name, user })),
    contexts: (o.contexts ?? []).map(([name, cluster, user, namespace]) => ({ name, context: { cluster, user, ...(namespace ? { namespace } : {}) } })),
  });

function files(map: Record<string, string>) {
  return { read: (p: string) => map[p], parse: (t: string) => load(t) };
}
const rules = (env: LoadingRules['env'], explicitPath?: string): LoadingRules => ({ env, delimiter: ':', ...(explicitPath ? { explicitPath } : {}) });
const resolve = (map: Record<string, string>, env: LoadingRules['env'], o: KubeOverrides = {}, explicit?: string) => resolveKubeconfig(rules(env, explicit), o, files(map));

const D = cfg({ current: 'd-ctx', clusters: [['kubernetes', 'https://198.18.1.1:6443']], users: [['kubernetes-admin', { token: 'd-token' }]], contexts: [['d-ctx', 'kubernetes', 'kubernetes-admin', 'shop']] });
const B = cfg({ current: 'b-ctx', clusters: [['kubernetes', 'https://198.18.2.2:6443']], users: [['kubernetes-admin', { token: 'b-token' }]], contexts: [['b-ctx', 'kubernetes', 'kubernetes-admin', 'other'], ['d-ctx', 'kubernetes', 'kubernetes-admin', 'b-ns']] });
const A = cfg({ clusters: [['a', 'https://198.18.3.3:6443']], users: [['a', { token: 'a' }]], contexts: [['a-ctx', 'a', 'a']] });

describe('kubeconfig paths (client-go loading rules)', () => {
  it('--kubeconfig alone, else $KUBECONFIG split on the path separator (empty entries and repeats dropped), else ~/.kube/config', () => {
    expect(kubeconfigPaths(rules({ KUBECONFIG: '/a:/b', HOME: '/h' }, '/x'))).toEqual({ paths: ['/x'], explicit: true });
    expect(kubeconfigPaths(rules({ KUBECONFIG: '/d::/a:/d:/b', HOME: '/h' })).paths).toEqual(['/d', '/a', '/b']);
    expect(kubeconfigPaths(rules({ KUBECONFIG: '', HOME: '/h' })).paths).toEqual(['/h/.kube/config']);
    expect(kubeconfigPaths({ env: { KUBECONFIG: '/a;/b' }, delimiter: ';' }).paths).toEqual(['/a', '/b']);
  });
});

describe('a plain-http server (client-go: the user\'s credentials only over TLS; impersonation on every transport, as kubectl 1.32 sends it)', () => {
  it('gets no token, tokenFile read, certificate or exec plugin, but the impersonation (flags over the user\'s as/as-groups); an https one gets them all', () => {
    // a user kubectl takes (a key with the certificate, an exec plugin's apiVersion): client-go refuses it otherwise
    const user = { token: 't', tokenFile: '/nowhere', 'client-certificate-data': 'Y2VydA==', 'client-key-data': 'a2V5', exec: { command: 'login', apiVersion: 'client.authentication.k8s.io/v1beta1' }, as: 'jane' };
    for (const [server, secure] of [['http://127.0.0.1:8001', false], ['HTTP://proxy:8001', false], ['https://198.18.1.1:6443', true]] as const) {
      const map = { '/k': cfg({ current: 'x', clusters: [['c', server]], users: [['u', user]], contexts: [['x', 'c', 'u']] }) };
      const r = resolve(map, {}, { as: 'bob', asGroups: ['g'] }, '/k');
      if (r.kind !== 'kubeconfig') throw new Error('kind');
      if (secure) {
        expect(r.options.users[0]).toMatchObject({ token: 't', certData: 'Y2VydA==', exec: { command: 'login' } });
        expect(r.impersonate).toEqual({ user: 'bob', groups: ['g'] });
      } else {
        expect(r.options.users, server).toEqual([{ name: 'u' }]);
        expect(r.impersonate, server).toEqual({ user: 'bob', groups: ['g'] });
        // the user's own as/as-groups/as-uid, without flags
        const own = resolve({ '/k': cfg({ current: 'x', clusters: [['c', server]], users: [['u', { token: 't', as: 'jane', 'as-groups': ['gk'], 'as-uid': '7' }]], contexts: [['x', 'c', 'u']] }) }, {}, {}, '/k');
        expect(own.impersonate, server).toEqual({ user: 'jane', groups: ['gk'], uid: '7' });
      }
    }
  });
});

describe('merging (first file wins)', () => {
  it("KUBECONFIG=d:a:b with current-context in d and b: d's context, d's cluster and user of the shared names", () => {
    const r = resolve({ '/d': D, '/a': A, '/b': B }, { KUBECONFIG: '/d:/a:/b' });
    expect(r.kind).toBe('kubeconfig');
    if (r.kind !== 'kubeconfig') return;
    expect(r.context).toBe('d-ctx');
    expect(r.namespace).toBe('shop'); // d's definition of d-ctx, not b's
    expect(r.server).toBe('https://198.18.1.1:6443');
    expect(r.options.users[0]).toMatchObject({ name: 'kubernetes-admin', token: 'd-token' });
    expect(r.files).toEqual(['/d', '/a', '/b']);
  });
  it('a cluster and user named the same in two files is no error: the first definition wins', () => {
    const m = mergeKubeconfigs([{ file: '/b', doc: load(B) }, { file: '/d', doc: load(D) }]);
    expect(m.clusters.get('kubernetes')!.file).toBe('/b');
    expect(m.currentContext).toBe('b-ctx');
    expect([...m.contexts.keys()].sort()).toEqual(['b-ctx', 'd-ctx']);
  });
  it('a missing file in $KUBECONFIG is skipped; a missing --kubeconfig is an error', () => {
    expect(resolve({ '/a': A }, { KUBECONFIG: '/nope:/a' }, { context: 'a-ctx' })).toMatchObject({ kind: 'kubeconfig', server: 'https://198.18.3.3:6443' });
    expect(() => resolve({ '/a': A }, {}, {}, '/nope')).toThrow(/kubeconfig \/nope: no such file/);
  });
  it('two entries of one name in one file are an error (as client-go says), naming the file', () => {
    const dup = JSON.stringify({ clusters: [{ name: 'x', cluster: { server: 'https://a' } }, { name: 'x', cluster: { server: 'https://b' } }] });
    expect(() => resolve({ '/x': dup }, { KUBECONFIG: '/x' })).toThrow(/kubeconfig \/x: duplicate name "x" in clusters/);
  });
  it('a file that is not YAML is bad input naming it', () => {
    expect(() => resolve({ '/x': 'a: [' }, { KUBECONFIG: '/x' })).toThrow(/kubeconfig \/x: cannot parse it/);
  });
});

describe('what is used', () => {
  it('tokenFile is read (relative to the kubeconfig) and trimmed; token wins over tokenFile', () => {
    const k = cfg({ current: 'c', clusters: [['c', 'https://198.18.0.1']], users: [['u', { tokenFile: 'tok' }]], contexts: [['c', 'c', 'u']] });
    const r = resolve({ '/etc/kube/config': k, '/etc/kube/tok': 's3cret\n' }, { KUBECONFIG: '/etc/kube/config' });
    expect(r.kind === 'kubeconfig' && r.options.users[0]!.token).toBe('s3cret');
    const both = cfg({ current: 'c', clusters: [['c', 'https://198.18.0.1']], users: [['u', { token: 'inline', tokenFile: '/none' }]], contexts: [['c', 'c', 'u']] });
    expect(resolve({ '/k': both }, { KUBECONFIG: '/k' }).kind === 'kubeconfig' && (resolve({ '/k': both }, { KUBECONFIG: '/k' }) as { options: { users: { token?: string }[] } }).options.users[0]!.token).toBe('inline');
    const gone = cfg({ current: 'c', clusters: [['c', 'https://198.18.0.1']], users: [['u', { tokenFile: '/gone' }]], contexts: [['c', 'c', 'u']] });
    expect(() => resolve({ '/k': gone }, { KUBECONFIG: '/k' })).toThrow(/tokenFile \/gone does not exist/);
  });
  it('relative certificate paths and exec commands with a slash are relative to their file; exec is kept', () => {
    const k = JSON.stringify({
      'current-context': 'c',
      clusters: [{ name: 'c', cluster: { server: 'https://198.18.0.1', 'certificate-authority': 'ca.crt' } }],
      users: [{ name: 'u', user: { 'client-certificate': 'u.crt', 'client-key': '/abs/u.key', exec: { apiVersion: 'client.authentication.k8s.io/v1', command: './bin/cred', args: ['x'], interactiveMode: 'Never' } } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    });
    const r = resolve({ '/home/me/.kube/config': k }, { HOME: '/home/me' });
    if (r.kind !== 'kubeconfig') throw new Error(r.kind);
    expect(r.options.clusters[0]).toMatchObject({ caFile: '/home/me/.kube/ca.crt', skipTLSVerify: false });
    expect(r.options.users[0]).toMatchObject({ certFile: '/home/me/.kube/u.crt', keyFile: '/abs/u.key', exec: { command: '/home/me/.kube/bin/cred', args: ['x'] } });
  });
  it('overrides: --context, --cluster, --user, --server, --token, CA and TLS flags, -n, impersonation', () => {
    const map = { '/d': D, '/a': A, '/b': B };
    const env = { KUBECONFIG: '/d:/a:/b' };
    const r = resolve(map, env, { context: 'b-ctx', cluster: 'a', user: 'a', namespace: 'x', tlsServerName: 'api.x', as: 'jane', asGroups: ['g1', 'g2'], asUid: '42' });
    if (r.kind !== 'kubeconfig') throw new Error(r.kind);
    expect(r).toMatchObject({ context: 'b-ctx', namespace: 'x', server: 'https://198.18.3.3:6443', impersonate: { user: 'jane', groups: ['g1', 'g2'], uid: '42' } });
    expect(r.options.users[0]).toMatchObject({ name: 'a', token: 'a' });
    expect(r.options.clusters[0]).toMatchObject({ tlsServerName: 'api.x' });
    const t = resolve(map, env, { server: 'https://198.18.9.9', token: 'flag-token', insecureSkipTlsVerify: true }) as { options: { clusters: { caData?: string; skipTLSVerify: boolean; server: string }[]; users: { token?: string }[] } };
    expect(t.options.clusters[0]).toMatchObject({ server: 'https://198.18.9.9', skipTLSVerify: true });
    expect(t.options.users[0]!.token).toBe('flag-token');
    expect(() => resolve(map, env, { context: 'nope' })).toThrow(/^context "nope" does not exist \(kubeconfig \/d, \/a, \/b\)$/);
    expect(() => resolve(map, env, { user: 'nope' })).toThrow(/^auth info "nope" does not exist \(kubeconfig \/d, \/a, \/b\)$/);
  });
  it("a --context/--cluster/--user naming nothing, a current-context naming nothing: client-go's words (getContext/getCluster/getAuthInfo, errContextNotFound), also with --server and in a pod", () => {
    const k = cfg({ current: 'c', clusters: [['c', 'https://198.18.0.1']], users: [['u', { token: 't' }]], contexts: [['c', 'c', 'u']] });
    const gone = cfg({ current: 'gone', clusters: [['c', 'https://198.18.0.1']], users: [['u', { token: 't' }]], contexts: [['c', 'c', 'u']] });
    const pod = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const refusal = (map: Record<string, string>, o: KubeOverrides, e: LoadingRules['env'] = { KUBECONFIG: '/k' }) => {
      try {
        resolve(map, e, o);
      } catch (err) {
        return [(err as UsageError).constructor.name, (err as UsageError).message, (err as UsageError).fix?.setting];
      }
      return ['not refused'];
    };
    for (const extra of [{}, { server: 'https://198.18.9.9' }] as KubeOverrides[]) {
      for (const e of [{ KUBECONFIG: '/k' }, { KUBECONFIG: '/k', ...pod }]) {
        expect(refusal({ '/k': k }, { context: 'nosuch', ...extra }, e)).toEqual(['UsageError', 'context "nosuch" does not exist (kubeconfig /k)', 'context']);
        expect(refusal({ '/k': k }, { cluster: 'nosuch', ...extra }, e)).toEqual(['UsageError', 'cluster "nosuch" does not exist (kubeconfig /k)', 'cluster']);
        expect(refusal({ '/k': k }, { user: 'nosuch', ...extra }, e)).toEqual(['UsageError', 'auth info "nosuch" does not exist (kubeconfig /k)', 'user']);
        expect(refusal({ '/k': gone }, extra, e)).toEqual(['UsageError', 'context was not found for specified context: gone (the current-context of kubeconfig /k)', 'context']);
        // client-go's order: the context first, then the cluster, then the user
        expect(refusal({ '/k': gone }, { cluster: 'nosuch', user: 'nosuch', ...extra }, e)[1]).toMatch(/^context was not found/);
        expect(refusal({ '/k': k }, { context: 'nosuch', cluster: 'nosuch', user: 'nosuch', ...extra }, e)[1]).toMatch(/^context "nosuch"/);
        expect(refusal({ '/k': k }, { cluster: 'nosuch', user: 'nosuch', ...extra }, e)[1]).toMatch(/^cluster "nosuch"/);
      }
    }
    // no kubeconfig file at all, a context named: said so
    expect(refusal({}, { context: 'nosuch' }, { HOME: '/home/me' })).toEqual(['UsageError', 'context "nosuch" does not exist (no kubeconfig file)', 'context']);
  });
  it('--certificate-authority replaces certificate-authority-data and insecure-skip-tls-verify (client-go getCluster)', () => {
    const k = JSON.stringify({ 'current-context': 'c', clusters: [{ name: 'c', cluster: { server: 'https://198.18.0.1', 'certificate-authority-data': 'QUJD', 'insecure-skip-tls-verify': true } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }] });
    const r = resolve({ '/k': k }, { KUBECONFIG: '/k' }, { certificateAuthority: '/ca.pem' }) as { options: { clusters: Record<string, unknown>[] } };
    expect(r.options.clusters[0]).toEqual({ name: 'c', server: 'https://198.18.0.1', skipTLSVerify: false, caFile: '/ca.pem' });
  });
  it('the kubeconfig user\'s as / as-groups / as-uid are used unless flags replace them', () => {
    const k = cfg({ current: 'c', clusters: [['c', 'https://198.18.0.1']], users: [['u', { token: 't', as: 'bob', 'as-groups': ['dev'], 'as-uid': '7' }]], contexts: [['c', 'c', 'u']] });
    expect(resolve({ '/k': k }, { KUBECONFIG: '/k' })).toMatchObject({ impersonate: { user: 'bob', groups: ['dev'], uid: '7' } });
    expect(resolve({ '/k': k }, { KUBECONFIG: '/k' }, { as: 'al', asGroups: ['ops'] })).toMatchObject({ impersonate: { user: 'al', groups: ['ops'], uid: '7' } });
  });
  it('groups or a uid to impersonate without a user are refused (exit 2) as clientcmd refuses them; an empty group with a user is sent, as kubectl sends it', () => {
    const k = cfg({ current: 'c', clusters: [['c', 'https://198.18.0.1']], users: [['u', { token: 't' }]], contexts: [['c', 'c', 'u']] });
    const env = { KUBECONFIG: '/k' };
    const refused = (o: KubeOverrides, map: Record<string, string> = { '/k': k }, e: LoadingRules['env'] = env) => {
      try {
        resolve(map, e, o);
      } catch (err) {
        return err as UsageError;
      }
      throw new Error(`not refused: ${JSON.stringify(o)}`);
    };
    // `--as-group ""` (a script's "$G" unset), a group, a uid, each without --as (an empty --as is none): kubectl's
    // "requesting uid, groups or user-extra for  without impersonating a user"
    for (const o of [{ asGroups: [''] }, { asGroups: ['g'] }, { asUid: '42' }, { as: '', asGroups: ['g'] }] as KubeOverrides[]) {
      const e = refused(o);
      expect(e, JSON.stringify(o)).toBeInstanceOf(UsageError);
      expect(e.message).toMatch(/^requesting uid, groups or user-extra for "u" without impersonating a user \((groups? "[^"]*"|uid "42") to impersonate, and no user\)$/);
      expect(e.fix?.setting).toBe('impersonateUser');
    }
    // the kubeconfig user's own as-groups without as, also over plain http (clientcmd validates before the transport),
    // and in a pod
    const http = cfg({ current: 'c', clusters: [['c', 'http://127.0.0.1:8001']], users: [['u', { 'as-groups': ['dev'] }]], contexts: [['c', 'c', 'u']] });
    expect(refused({}, { '/k': http }).message).toMatch(/groups? "dev"/);
    expect(refused({ asGroups: [''] }, {}, { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443', HOME: '/root' })).toBeInstanceOf(UsageError);
    // with a user: each group as given, an empty one too (one Impersonate-Group header each, as client-go's transport)
    expect(resolve({ '/k': k }, env, { as: 'u1', asGroups: ['', 'g'] })).toMatchObject({ impersonate: { user: 'u1', groups: ['', 'g'] } });
    expect(resolve({ '/k': k }, env, { as: 'u1', asUid: '' })).toMatchObject({ impersonate: { user: 'u1', groups: [] } });
    expect((resolve({ '/k': k }, env, { as: 'u1', asUid: '' }) as { impersonate: object }).impersonate).not.toHaveProperty('uid');
  });
});

describe("client-go's refusals of the cluster and user used (clientcmd ConfirmUsable, transport TLSConfigFor)", () => {
  /** A kubeconfig at /k whose context c uses cluster `cluster` and user `user`. */
  const one = (cluster: Record<string, unknown>, user: Record<string, unknown>) =>
    JSON.stringify({ 'current-context': 'c', clusters: [{ name: 'stand-in', cluster: { server: 'https://198.18.0.1', ...cluster } }], users: [{ name: 'u', user }], contexts: [{ name: 'c', context: { cluster: 'stand-in', user: 'u' } }] });
  const refusal = (cluster: Record<string, unknown>, user: Record<string, unknown>, o: KubeOverrides = {}) => {
    try {
      resolve({ '/k': one(cluster, user) }, { KUBECONFIG: '/k' }, o);
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      return (e as Error).message;
    }
    return undefined;
  };
  const exec = (x: Record<string, unknown>) => ({ exec: { command: 'cred', apiVersion: 'client.authentication.k8s.io/v1', interactiveMode: 'Never', ...x } });

  it('a CA (file or data) with insecure-skip-tls-verify: in the kubeconfig, or as both flags; a flag replaces the kubeconfig\'s (no clash)', () => {
    for (const ca of [{ 'certificate-authority': '/ca.crt' }, { 'certificate-authority-data': 'QUJD' }]) {
      expect(refusal({ ...ca, 'insecure-skip-tls-verify': true }, { token: 't' })).toBe('specifying a root certificates file with the insecure flag is not allowed (kubeconfig /k)');
      // the flag of one replaces both kubeconfig settings (client-go getCluster)
      expect(refusal({ ...ca, 'insecure-skip-tls-verify': true }, { token: 't' }, { insecureSkipTlsVerify: true })).toBeUndefined();
      expect(refusal({ ...ca, 'insecure-skip-tls-verify': true }, { token: 't' }, { certificateAuthority: '/other.crt' })).toBeUndefined();
    }
    expect(refusal({}, { token: 't' }, { certificateAuthority: '/ca.crt', insecureSkipTlsVerify: true })).toBe('specifying a root certificates file with the insecure flag is not allowed (--certificate-authority with --insecure-skip-tls-verify)');
    try {
      resolve({}, {}, { server: 'https://198.18.0.1', certificateAuthority: '/ca.crt', insecureSkipTlsVerify: true });
      expect.unreachable();
    } catch (e) {
      expect((e as UsageError).fix?.setting).toBe('insecureSkipTlsVerify');
    }
  });
  it('the rest of validateClusterInfo and validateAuthInfo, in client-go\'s words (all that apply, one line), naming the file', () => {
    const rows: [Record<string, unknown>, Record<string, unknown>, string][] = [
      [{ 'certificate-authority': '/ca', 'certificate-authority-data': 'QUJD' }, { token: 't' }, 'certificate-authority-data and certificate-authority are both specified for stand-in. certificate-authority-data will override.'],
      [{ 'proxy-url': 'ftp://x' }, {}, `invalid 'proxy-url' "ftp://x" for cluster "stand-in": unsupported scheme "ftp", must be http, https, or socks5`],
      [{}, { token: 't', username: 'a' }, 'more than one authentication method found for u; found [token basicAuth], only one is allowed'],
      [{}, { token: 't', password: 'b' }, 'more than one authentication method found for u; found [token basicAuth], only one is allowed'],
      [{}, { 'client-certificate': '/c' }, 'client-key-data or client-key must be specified for u to use the clientCert authentication method.'],
      [{}, { 'client-certificate-data': 'Qw==', 'client-certificate': '/c', 'client-key': '/k' }, 'client-cert-data and client-cert are both specified for u. client-cert-data will override.'],
      [{}, { 'client-certificate': '/c', 'client-key': '/k', 'client-key-data': 'Sw==' }, 'client-key-data and client-key are both specified for u; client-key-data will override'],
      [{}, { ...exec({}), 'auth-provider': { name: 'oidc' } }, 'authProvider cannot be provided in combination with an exec plugin for u'],
      [{}, exec({ command: undefined }), 'command must be specified for u to use exec authentication plugin'],
      [{}, exec({ apiVersion: undefined, interactiveMode: 'IfAvailable' }), 'apiVersion must be specified for u to use exec authentication plugin'],
      [{}, exec({ env: [{ value: 'x' }] }), 'env variable name must be specified for u to use exec authentication plugin'],
      [{}, exec({ interactiveMode: undefined }), 'interactiveMode must be specified for u to use exec authentication plugin'],
      [{}, exec({ interactiveMode: 'Sometimes' }), 'invalid interactiveMode for u: "Sometimes"'],
    ];
    for (const [cluster, user, words] of rows) expect(refusal(cluster, user), words).toBe(`invalid configuration: ${words} (kubeconfig /k)`);
    // every one that applies, on one line
    expect(refusal({}, { token: 't', username: 'a', 'client-certificate': '/c' })).toBe(
      'invalid configuration: client-key-data or client-key must be specified for u to use the clientCert authentication method.; more than one authentication method found for u; found [token basicAuth], only one is allowed (kubeconfig /k)',
    );
    // --token with the user's basic auth: still two methods (the override merges into the user)
    expect(refusal({}, { username: 'a', password: 'b' }, { token: 'x' })).toMatch(/found \[token basicAuth\]/);
  });
  it('what client-go takes stays taken: a key without a certificate (not sent), tokenFile with a token, v1beta1 exec without interactiveMode, token with a certificate', () => {
    expect(refusal({}, { token: 't', 'client-key': '/k' })).toBeUndefined();
    const r = resolve({ '/k': one({}, { token: 't', 'client-key': '/k.key', 'client-key-data': 'Sw==' }) }, { KUBECONFIG: '/k' });
    if (r.kind !== 'kubeconfig') throw new Error(r.kind);
    expect(r.options.users[0]).toEqual({ name: 'u', token: 't' });
    expect(refusal({}, { token: 't', tokenFile: '/t' })).toBeUndefined();
    expect(refusal({}, exec({ apiVersion: 'client.authentication.k8s.io/v1beta1', interactiveMode: undefined }))).toBeUndefined();
    expect(refusal({}, { token: 't', 'client-certificate': '/c', 'client-key': '/k' })).toBeUndefined();
    expect(refusal({ 'proxy-url': 'socks5://198.18.0.9:1080' }, {})).toBeUndefined();
  });
  it('--client-certificate, --client-key, --username, --password override the user as client-go merges ConfigOverrides.AuthInfo (getAuthInfo), then are checked as the merged user (validateAuthInfo)', () => {
    const used = (user: Record<string, unknown>, o: KubeOverrides, server = 'https://198.18.0.1') => {
      const r = resolve({ '/k': one({ server }, user) }, { KUBECONFIG: '/k' }, o);
      if (r.kind !== 'kubeconfig') throw new Error(r.kind);
      return { user: r.options.users[0], origins: r.origins };
    };
    // a file flag over the kubeconfig's inline data replaces it (client-go >= 1.35: "if override sets
    // ClientCertificate, also use override's ClientCertificateData"): no "both specified", the flag's file is used
    expect(used({ 'client-certificate-data': 'Qw==', 'client-key-data': 'Sw==' }, { clientCertificate: '/f.crt' })).toEqual({
      user: { name: 'u', certFile: '/f.crt', keyData: 'Sw==' },
      origins: { certFile: { flag: true } },
    });
    expect(used({ 'client-certificate-data': 'Qw==', 'client-key-data': 'Sw==' }, { clientCertificate: '/f.crt', clientKey: '/f.key' })).toEqual({
      user: { name: 'u', certFile: '/f.crt', keyFile: '/f.key' },
      origins: { certFile: { flag: true }, keyFile: { flag: true } },
    });
    // a relative flag path is the working directory's, not the kubeconfig's
    expect(used({}, { clientCertificate: 'c.crt', clientKey: 'sub/c.key' }).user).toEqual({ name: 'u', certFile: `${process.cwd()}/c.crt`, keyFile: `${process.cwd()}/sub/c.key` });
    // --client-key alone pairs with the kubeconfig's certificate; without any certificate it is not sent (client-go sends none)
    expect(used({ 'client-certificate': '/k.crt', 'client-key-data': 'Sw==' }, { clientKey: '/f.key' })).toEqual({
      user: { name: 'u', certFile: '/k.crt', keyFile: '/f.key' },
      origins: { certFile: { file: '/k' }, keyFile: { flag: true } },
    });
    expect(used({ token: 't' }, { clientKey: '/f.key' }).user).toEqual({ name: 'u', token: 't' });
    // a certificate beside a token: both sent (validateAuthInfo counts token and basicAuth only)
    expect(used({ token: 't' }, { clientCertificate: '/f.crt', clientKey: '/f.key' }).user).toEqual({ name: 'u', token: 't', certFile: '/f.crt', keyFile: '/f.key' });
    // basic auth: the flags replace the user's, each on its own
    expect(used({ username: 'a', password: 'b' }, { username: 'bob' }).user).toEqual({ name: 'u', username: 'bob', password: 'b' });
    expect(used({}, { username: 'bob', password: 'pw' }).user).toEqual({ name: 'u', username: 'bob', password: 'pw' });
    // plain http: no credential of any kind is sent (client-go: only over TLS)
    expect(used({}, { username: 'bob', password: 'pw', clientCertificate: '/f.crt', clientKey: '/f.key' }, 'http://127.0.0.1:8001').user).toEqual({ name: 'u' });
    // the merged user refused in client-go's words, naming the file and the flags
    expect(refusal({ }, { token: 't' }, { username: 'bob' })).toBe('invalid configuration: more than one authentication method found for u; found [token basicAuth], only one is allowed (kubeconfig /k and --username)');
    expect(refusal({ }, { token: 't' }, { password: 'pw' })).toBe('invalid configuration: more than one authentication method found for u; found [token basicAuth], only one is allowed (kubeconfig /k and --password)');
    expect(refusal({ }, { username: 'a' }, { token: 'x', password: 'pw' })).toMatch(/found \[token basicAuth\], only one is allowed \(kubeconfig \/k and --password\)$/);
    expect(refusal({}, {}, { clientCertificate: '/f.crt' })).toBe('invalid configuration: client-key-data or client-key must be specified for u to use the clientCert authentication method. (kubeconfig /k and --client-certificate)');
    // the kubeconfig's own both-specified stays refused when no flag replaces it
    expect(refusal({}, { 'client-certificate': '/c', 'client-certificate-data': 'Qw==', 'client-key': '/k' }, { clientKey: '/f.key' })).toMatch(/^invalid configuration: client-cert-data and client-cert are both specified for u\. /);
    // and over plain http too, as ConfirmUsable runs whatever the scheme
    expect(() => resolve({ '/k': one({ server: 'http://127.0.0.1:8001' }, { token: 't' }) }, { KUBECONFIG: '/k' }, { username: 'bob' })).toThrow(/found \[token basicAuth\]/);
    // the refusal carries the kubeconfig fix
    const thrown = (() => {
      try {
        resolve({ '/k': one({}, { token: 't' }) }, { KUBECONFIG: '/k' }, { username: 'bob' });
      } catch (e) {
        return e as UsageError;
      }
      return undefined;
    })();
    expect(thrown?.fix).toEqual({ setting: 'kubeconfig', advice: 'correct the kubeconfig or --username, or choose another context, cluster or user' });
    // --server alone (no kubeconfig user at all) with a client certificate
    const bare = resolveKubeconfig(rules({}), { server: 'https://198.18.0.1', clientCertificate: '/f.crt', clientKey: '/f.key' }, files({}));
    if (bare.kind !== 'kubeconfig') throw new Error(bare.kind);
    expect(bare.options.users[0]).toEqual({ name: 'user', certFile: '/f.crt', keyFile: '/f.key' });
  });
  it('a context whose cluster or user is not defined, a cluster without a server: client-go\'s words, naming the files', () => {
    const ctx = (cluster: string, user: string) =>
      JSON.stringify({ 'current-context': 'c', clusters: [{ name: 'stand-in', cluster: {} }], users: [{ name: 'u', user: { token: 't' } }], contexts: [{ name: 'c', context: { cluster, user } }] });
    expect(() => resolve({ '/k': ctx('stand-in', 'u') }, { KUBECONFIG: '/k' })).toThrow(/^no server found for cluster "stand-in" \(context "c" of kubeconfig \/k\)$/);
    expect(() => resolve({ '/k': ctx('nosuch', 'u') }, { KUBECONFIG: '/k' })).toThrow(/^cluster "nosuch" was not found for context "c" \(kubeconfig \/k\)$/);
    expect(() => resolve({ '/k': ctx('stand-in', 'nosuch') }, { KUBECONFIG: '/k' }, { server: 'https://198.18.0.1' })).toThrow(/^user "nosuch" was not found for context "c" \(kubeconfig \/k\)$/);
  });
  it('the origin of each certificate path: the flag, or the kubeconfig file that names it', () => {
    const r = resolve({ '/k': one({ 'certificate-authority': '/ca' }, { 'client-certificate': '/c', 'client-key': '/k.key' }) }, { KUBECONFIG: '/k' });
    if (r.kind !== 'kubeconfig') throw new Error(r.kind);
    expect(r.origins).toEqual({ caFile: { file: '/k' }, certFile: { file: '/k' }, keyFile: { file: '/k' } });
    const f = resolve({ '/k': one({ 'certificate-authority': '/ca' }, { token: 't' }) }, { KUBECONFIG: '/k' }, { certificateAuthority: '/flag.crt' });
    if (f.kind !== 'kubeconfig') throw new Error(f.kind);
    expect(f.origins).toEqual({ caFile: { flag: true } });
  });
  it('--server clears the kubeconfig\'s tls-server-name unless --tls-server-name is given (client-go getCluster)', () => {
    const k = { '/k': one({ 'tls-server-name': 'old.example' }, { token: 't' }) };
    expect((resolve(k, { KUBECONFIG: '/k' }) as { options: { clusters: { tlsServerName?: string }[] } }).options.clusters[0]!.tlsServerName).toBe('old.example');
    expect((resolve(k, { KUBECONFIG: '/k' }, { server: 'https://198.18.0.2' }) as { options: { clusters: { tlsServerName?: string }[] } }).options.clusters[0]!.tlsServerName).toBeUndefined();
    expect((resolve(k, { KUBECONFIG: '/k' }, { server: 'https://198.18.0.2', tlsServerName: 'new.example' }) as { options: { clusters: { tlsServerName?: string }[] } }).options.clusters[0]!.tlsServerName).toBe('new.example');
  });
});

describe('in-cluster and nothing at all', () => {
  const inPod = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443', HOME: '/root' };
  it('~/.kube/config wins over the in-cluster config', () => {
    expect(resolve({ '/root/.kube/config': D }, inPod)).toMatchObject({ kind: 'kubeconfig', context: 'd-ctx' });
  });
  it('in-cluster only when no file names a server', () => {
    expect(resolve({}, inPod, { namespace: 'x' })).toEqual({ kind: 'in-cluster', namespace: 'x', impersonate: { groups: [] } });
  });
  it('no kubeconfig anywhere: exit 4, saying where it looked', () => {
    let err: unknown;
    try {
      resolve({}, { HOME: '/root' });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ kind: 'unreachable', fix: { setting: 'kubeconfig' } });
    expect((err as Error).message).toBe('no kubeconfig found (looked in /root/.kube/config; not in a pod either)');
  });
  it('$KUBECONFIG naming only files that do not exist is not "no kubeconfig": exit 4 naming them, in a pod too; --kubeconfig missing: exit 2', () => {
    const thrown = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as Error & { kind: string };
      }
      throw new Error('nothing thrown');
    };
    for (const env of [{ KUBECONFIG: '/x:/y', HOME: '/root' }, { KUBECONFIG: '/x:/y', ...inPod }]) {
      const e = thrown(() => resolve({ '/root/.kube/config': D }, env));
      expect(e).toMatchObject({ kind: 'unreachable', fix: { setting: 'kubeconfig' } });
      expect(e.message).toBe('none of the kubeconfig files $KUBECONFIG names exists (/x, /y)');
    }
    expect(thrown(() => resolve({}, { HOME: '/root' }, {}, '/typo'))).toMatchObject({ kind: 'usage', message: 'kubeconfig /typo: no such file' });
    // one of them there: the missing one is skipped (client-go); --server given: nothing else is needed, as kubectl
    expect(resolve({ '/y': D }, { KUBECONFIG: '/x:/y' })).toMatchObject({ kind: 'kubeconfig', context: 'd-ctx' });
    expect(resolve({}, { KUBECONFIG: '/x' }, { server: 'https://198.18.0.1' })).toMatchObject({ kind: 'kubeconfig', server: 'https://198.18.0.1' });
    // $KUBECONFIG set but naming no file (":"): nothing named, as client-go's SplitList gives only empty entries
    expect(thrown(() => resolve({}, { KUBECONFIG: ':' }))).toMatchObject({ kind: 'unreachable', message: expect.stringMatching(/^no kubeconfig found/) });
  });
  it('--server alone (no file) is enough, as with kubectl', () => {
    expect(resolve({}, { HOME: '/root' }, { server: 'https://198.18.0.1', token: 't' })).toMatchObject({ kind: 'kubeconfig', server: 'https://198.18.0.1', namespace: 'default' });
  });
  it('files without a current-context: a usage error saying so', () => {
    expect(() => resolve({ '/a': A }, { KUBECONFIG: '/a' })).toThrow(/has no current-context/);
  });
});

/** A self-signed certificate made with openssl into dir/ca.pem (its PEM bytes). */
function realCertificate(dir: string): Buffer {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'), '-subj', '/CN=test-ca', '-days', '1'], { stdio: 'ignore' });
  return readFileSync(join(dir, 'ca.pem'));
}

describe('the files a kubeconfig brings, read through the event loop (resolve/kubeconfig-files.ts)', () => {
  const withDir = async (f: (dir: string) => Promise<void>) => {
    const dir = await mkdtemp(join(tmpdir(), 'kcf-'));
    try {
      await f(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  it('certificate files become the *Data client-node takes (base64 of the bytes); the data wins over a file, unread', () =>
    withDir(async (dir) => {
      const ca = realCertificate(dir);
      await writeFile(join(dir, 'key.pem'), 'KEY PEM\n');
      const got = await inlineCertificateFiles({
        clusters: [{ name: 'c', server: 'https://198.18.0.1', skipTLSVerify: false, caFile: join(dir, 'ca.pem') }, { name: 'd', server: 'https://198.18.0.2', skipTLSVerify: false, caFile: join(dir, 'nosuch'), caData: ca.toString('base64') }],
        users: [{ name: 'u', certData: 'Qg==', certFile: join(dir, 'nosuch'), keyFile: join(dir, 'key.pem') }],
      });
      expect(got).toEqual({
        clusters: [{ name: 'c', server: 'https://198.18.0.1', skipTLSVerify: false, caData: ca.toString('base64') }, { name: 'd', server: 'https://198.18.0.2', skipTLSVerify: false, caData: ca.toString('base64') }],
        users: [{ name: 'u', certData: 'Qg==', keyData: Buffer.from('KEY PEM\n').toString('base64') }],
      });
    }));
  it('a certificate authority that holds no PEM certificate (file or data) is refused as client-go refuses it, naming where it came from (before: Node ignored it, and the request failed as "signed by an authority not trusted here", exit 4: a tryout)', () =>
    withDir(async (dir) => {
      await writeFile(join(dir, 'bad.crt'), 'garbage\n');
      const fromFlag = await inlineCertificateFiles({ clusters: [{ name: 'c', server: 'https://198.18.0.1', skipTLSVerify: false, caFile: join(dir, 'bad.crt') }], users: [] }, undefined, { caFile: { flag: true } }).catch((e: UsageError) => e);
      expect(fromFlag).toBeInstanceOf(UsageError);
      expect([fromFlag.message, fromFlag.fix]).toEqual([`unable to load root certificates: unable to parse bytes as PEM block in certificate-authority ${dir}/bad.crt for cluster c: no certificate there`, { setting: 'certificateAuthority' }]);
      const inline = await inlineCertificateFiles({ clusters: [{ name: 'c', server: 'https://198.18.0.1', skipTLSVerify: false, caData: Buffer.from('-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n').toString('base64') }], users: [] }).catch((e: UsageError) => e);
      expect([inline.message, inline.fix]).toEqual(['unable to load root certificates: unable to parse bytes as PEM block in the certificate-authority-data of cluster c: no certificate there', { setting: 'kubeconfig' }]);
    }));
  it('a client certificate or key given as a flag that cannot be read names that flag as the fix; one the kubeconfig names, the kubeconfig', () =>
    withDir(async (dir) => {
      const user = (certFile: string, keyFile: string) => ({ clusters: [], users: [{ name: 'u', certFile, keyFile }] });
      const key = join(dir, 'k.pem');
      await writeFile(key, 'KEY\n');
      const cert = await inlineCertificateFiles(user(join(dir, 'nosuch.crt'), key), undefined, { certFile: { flag: true }, keyFile: { file: '/k' } }).catch((e: UsageError) => e);
      expect([cert.message, cert.fix]).toEqual([`unable to read client-certificate ${dir}/nosuch.crt for user u: it does not exist`, { setting: 'clientCertificate' }]);
      const k = await inlineCertificateFiles(user(key, join(dir, 'nosuch.key')), undefined, { certFile: { file: '/k' }, keyFile: { flag: true } }).catch((e: UsageError) => e);
      expect([k.message, k.fix]).toEqual([`unable to read client-key ${dir}/nosuch.key for user u: it does not exist`, { setting: 'clientKey' }]);
      const fromFile = await inlineCertificateFiles(user(key, join(dir, 'nosuch.key')), undefined, { certFile: { file: '/k' }, keyFile: { file: '/k' } }).catch((e: UsageError) => e);
      expect([fromFile.message, fromFile.fix]).toEqual([`unable to read client-key ${dir}/nosuch.key for user u: it does not exist (named by kubeconfig /k)`, { setting: 'kubeconfig' }]);
    }));
  it('a certificate file that is missing or a directory: a usage error worded as client-go', () =>
    withDir(async (dir) => {
      const cluster = (caFile: string) => ({ clusters: [{ name: 'c', server: 'https://198.18.0.1', skipTLSVerify: false, caFile }], users: [] });
      await expect(inlineCertificateFiles(cluster(join(dir, 'nosuch')))).rejects.toThrow(new RegExp(`^unable to read certificate-authority ${dir}/nosuch for cluster c: it does not exist$`));
      await expect(inlineCertificateFiles(cluster(dir))).rejects.toThrow(/^unable to read certificate-authority .* for cluster c: is a directory$/);
      // where the path came from: the flag is named as the fix; a kubeconfig file in the message
      const fromFlag = await inlineCertificateFiles(cluster('/nonexist.crt'), undefined, { caFile: { flag: true } }).catch((e: UsageError) => e);
      expect([fromFlag.message, fromFlag.fix]).toEqual(['unable to read certificate-authority /nonexist.crt for cluster c: it does not exist', { setting: 'certificateAuthority' }]);
      const users = { clusters: [], users: [{ name: 'u', certFile: join(dir, 'nosuch'), keyFile: join(dir, 'nokey') }] };
      const fromFile = await inlineCertificateFiles(users, undefined, { certFile: { file: '/home/me/.kube/config' }, keyFile: { file: '/home/me/.kube/config' } }).catch((e: UsageError) => e);
      expect([fromFile.message, fromFile.fix]).toEqual([`unable to read client-certificate ${dir}/nosuch for user u: it does not exist (named by kubeconfig /home/me/.kube/config)`, { setting: 'kubeconfig' }]);
      const dirFlag = await inlineCertificateFiles(cluster(dir), undefined, { caFile: { flag: true } }).catch((e: UsageError) => e);
      expect([dirFlag.message, dirFlag.fix]).toEqual([`unable to read certificate-authority ${dir} for cluster c: is a directory`, { setting: 'certificateAuthority' }]);
    }));
  it('a FIFO nobody writes (kubeconfig or certificate): waits for its writer, and stops when the signal aborts', { timeout: 10_000 }, () =>
    withDir(async (dir) => {
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const t0 = Date.now();
      await expect(readKubeconfigFiles([fifo], AbortSignal.timeout(200))).rejects.toThrow(/^kubeconfig .*fifo: .*not read: .*timeout/);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
      await expect(inlineCertificateFiles({ clusters: [{ name: 'c', server: 's', skipTLSVerify: false, caFile: fifo }], users: [] }, AbortSignal.timeout(100))).rejects.toThrow(/^unable to read certificate-authority/);
      // with a writer, the text arrives (as through `--kubeconfig <(cat file)`)
      const writer = spawn('sh', ['-c', `printf 'kind: Config\\n' > ${fifo}`]);
      const written = new Promise((r) => writer.on('close', r));
      expect([...(await readKubeconfigFiles([fifo, join(dir, 'absent')], AbortSignal.timeout(5000)))]).toEqual([[fifo, 'kind: Config\n'], [join(dir, 'absent'), undefined]]);
      await written;
    }));
});
