/**
 * TLS failures of API requests (resolve/kube.ts apiError, tlsFailure), said as kubectl says its x509 errors, in this
 * tool's words, with the flag that fixes each, never Node's advice (`try running Node.js with --use-system-ca`, which
 * the single executable cannot follow). The errors are shaped as Node and node-fetch give them: a FetchError whose
 * `code` is OpenSSL's, or an Error whose `cause` carries it (a WebSocket's).
 */
import { describe, expect, it } from 'vitest';
import { UnreachableError, UsageError } from '../../src/errors.js';
import { describeError, exitCodeOf } from '../../src/cli/main.js';
import { apiError, tlsFailure, withoutNodeAdvice } from '../../src/resolve/kube.js';

const SERVER = 'https://198.18.0.1:6443';
/** node-fetch's FetchError for a request that failed on the socket: Node's message after "reason:", its code kept. */
const fetchError = (code: string, message: string) =>
  Object.assign(new Error(`request to ${SERVER}/api/v1/namespaces/shop/pods failed, reason: ${message}`), { name: 'FetchError', type: 'system', code, errno: code });
const said = (e: unknown) => `error: ${describeError(apiError(e, 'listing pods in shop', SERVER))}`;

describe('TLS failures of a request', () => {
  it("an unknown authority (every code of it): kubectl's x509 meaning, the CA flag or kubeconfig field, or --insecure-skip-tls-verify; no Node.js advice; exit 4", () => {
    const e = fetchError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate; if the root CA is installed locally, try running Node.js with --use-system-ca');
    expect(said(e)).toBe(
      `error: listing pods in shop: cannot reach the API server at ${SERVER}: x509: the server's certificate is signed by an authority not trusted here (its issuer is not among the CAs given) (UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate); give the CA that signed it, as the kubeconfig cluster's certificate-authority(-data) or as a flag (--certificate-authority), or do not verify the server (insecure) (--insecure-skip-tls-verify)`,
    );
    expect(exitCodeOf(apiError(e, 'x', SERVER))).toBe(4);
    for (const [code, words] of [
      ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self signed certificate'],
      ['SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'],
      ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unable to get local issuer certificate; if the root CA is installed locally, try running Node.js with --use-system-ca'],
      ['UNABLE_TO_GET_ISSUER_CERT', 'unable to get issuer certificate'],
    ]) {
      const line = said(fetchError(code!, words!));
      expect(line, code).toMatch(/: x509: the server's certificate is (signed by an authority not trusted here|self-signed, and not among the CAs given)/);
      expect(line, code).toContain(`(${code}: ${words!.replace(/; if the root CA.*$/, '')})`);
      expect(line, code).toMatch(/\(--certificate-authority\), or do not verify the server \(insecure\) \(--insecure-skip-tls-verify\)$/);
      expect(line, code).not.toMatch(/Node\.js|use-system-ca/);
    }
  });
  it('expired, not yet valid, another name: each its own line and fix (--tls-server-name for the name)', () => {
    expect(said(fetchError('CERT_HAS_EXPIRED', 'certificate has expired'))).toMatch(/: x509: the server's certificate has expired .*\(CERT_HAS_EXPIRED: certificate has expired\); until they are, its identity cannot be verified; skipping that is insecure \(--insecure-skip-tls-verify\)$/);
    expect(said(fetchError('CERT_NOT_YET_VALID', 'certificate is not yet valid'))).toMatch(/: x509: the server's certificate is not valid yet .*is this host's clock right\? \(CERT_NOT_YET_VALID: certificate is not yet valid\)$/);
    const name = fetchError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames: Host: api.x. is not in the cert's altnames: DNS:localhost");
    expect(said(name)).toBe(
      `error: listing pods in shop: cannot reach the API server at ${SERVER}: x509: the server's certificate is not for the name connected to (ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames: Host: api.x. is not in the cert's altnames: DNS:localhost); connect by a name the certificate is for (the server address), or give that name (--tls-server-name)`,
    );
  });
  it('a code in a cause (a WebSocket upgrade), another ERR_SSL_ code, a certificate or key Node cannot read (exit 2)', () => {
    const ws = Object.assign(new Error('upgrade failed'), { cause: Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }) });
    expect(tlsFailure(ws)?.text).toMatch(/^x509: the server's certificate is signed by an authority not trusted here .*\(UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate\)$/);
    expect(said(fetchError('ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number'))).toMatch(/the server does not answer TLS \(a plain-http server\? then its address begins http:\/\/\) \(ERR_SSL_WRONG_VERSION_NUMBER: wrong version number\); see --server$/);
    expect(said(fetchError('ERR_SSL_SOMETHING_NEW', 'something new'))).toMatch(/: TLS failed: something new \(ERR_SSL_SOMETHING_NEW\)$/);
    const key = apiError(fetchError('ERR_OSSL_UNSUPPORTED', 'error:1E08010C:DECODER routines::unsupported'), 'listing pods in shop', SERVER);
    expect(key).toBeInstanceOf(UsageError);
    expect(exitCodeOf(key)).toBe(2);
    expect(describeError(key)).toMatch(/a certificate or key of the kubeconfig \(or its CA\) cannot be used: error:1E08010C:DECODER routines::unsupported \(ERR_OSSL_UNSUPPORTED\); give PEM certificates, and the key that belongs to the client certificate \(--kubeconfig\)$/);
  });
  it('no TLS code: as before, minus any Node.js advice', () => {
    const refused = apiError(Object.assign(new Error('connect ECONNREFUSED 198.18.0.1:6443'), { cause: { code: 'ECONNREFUSED' } }), 'listing pods in shop', SERVER);
    expect(refused).toBeInstanceOf(UnreachableError);
    expect(refused.message).toBe(`listing pods in shop: cannot reach the API server at ${SERVER}: ECONNREFUSED`);
    expect(withoutNodeAdvice('unable to get local issuer certificate; if the root CA is installed locally, try running Node.js with --use-system-ca')).toBe('unable to get local issuer certificate');
  });
});
