/**
 * A pods/exec whose request never left this host (task h29b): the connection was never made (ECONNREFUSED, ENOTFOUND),
 * the TLS handshake failed, or the user's credentials could not be had. Nothing of its command reached the node, as
 * for an upgrade answered with a status (404, 403): marked not sent (resolve/kube.ts execError), so that an ADD sent so
 * is a plain failure — nothing ran, nothing to roll back, the write-ahead record removed — and not "whether the ADD ran
 * is not known" with an interrupted record. An error once the request may have been written (ECONNRESET, "socket hang
 * up", after the WebSocket opened) stays not known.
 */
import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { CniAttachError, UnreachableError } from '../../src/errors.js';
import { execError, neverSent } from '../../src/resolve/kube.js';
import { CredentialError } from '../../src/resolve/exec-credential.js';
import { listRecords } from '../../src/resolve/records.js';
import { SANDBOX, world } from '../fakes/world.js';

/** ws's ErrorEvent for a request that failed (client-node's Exec rejects with it): its Node error in `error`. */
const wsError = (message: string, error: Record<string, unknown>) => ({ type: 'error', message, error: Object.assign(new Error(message), error), target: {} });
const WHAT = 'exec in pod kube-system/cni-attach-agent-x';
const SERVER = 'https://10.0.0.1:6443';

describe('execError: a request that never left this host is not sent', () => {
  const before: [string, unknown][] = [
    ['connection refused', wsError('connect ECONNREFUSED 10.0.0.1:6443', { code: 'ECONNREFUSED', syscall: 'connect' })],
    ['name not resolved', wsError('getaddrinfo ENOTFOUND api.example', { code: 'ENOTFOUND', syscall: 'getaddrinfo' })],
    ['no route', wsError('connect EHOSTUNREACH 10.0.0.1:6443', { code: 'EHOSTUNREACH', syscall: 'connect' })],
    ['TLS: the server\'s certificate not trusted', wsError('unable to verify the first certificate', { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })],
    ['TLS: this client\'s certificate refused', wsError('tlsv13 alert certificate required', { code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' })],
    ['the credential plugin failed', new CredentialError('getting credentials: exec: executable kubelogin not found')],
  ];
  for (const [why, e] of before) {
    it(`${why}: not sent, before the WebSocket opened`, () => {
      const err = execError(e, 'kube-system', WHAT, SERVER, true);
      expect(err).toBeInstanceOf(UnreachableError);
      expect((err as UnreachableError).notSent).toBe(true);
      expect(neverSent(e)).toBe(true);
    });
  }

  it('once the request may have been written (reset, hang-up, no answer in time) or after the WebSocket opened: not known', () => {
    const after: unknown[] = [
      wsError('read ECONNRESET', { code: 'ECONNRESET', syscall: 'read' }),
      wsError('socket hang up', { code: 'ECONNRESET' }),
      new UnreachableError(`${WHAT}: no answer from the API server within 2m0s`),
    ];
    for (const e of after) {
      const err = execError(e, 'kube-system', WHAT, SERVER, true) as CniAttachError;
      expect((err as UnreachableError).notSent, (err as Error).message).toBeUndefined();
    }
    const refused = wsError('connect ECONNREFUSED 10.0.0.1:6443', { code: 'ECONNREFUSED', syscall: 'connect' });
    expect((execError(refused, 'kube-system', WHAT, SERVER, false) as UnreachableError).notSent).toBeUndefined();
  });
});

describe('an attach whose ADD request never left this host', () => {
  it('is a plain failure, exit 4: the ADD did not run, nothing to roll back, no interrupted record (it said "whether the ADD ran is not known")', async () => {
    const w = world();
    w.exec.plugins.set('/opt/cni/bin/bridge', (c) => {
      if (c.command === 'VERSION') return { code: 0, stdout: JSON.stringify({ cniVersion: '1.0.0', supportedVersions: ['1.0.0'] }) };
      if (c.command === 'ADD') throw execError(wsError('connect ECONNREFUSED 10.0.0.1:6443', { code: 'ECONNREFUSED', syscall: 'connect' }), 'kube-system', WHAT, SERVER, true);
      return {};
    });
    expect(await w.cli(attachCommand, ['web-1', '-n', 'shop', '--ifname', 'eth1', '--conf', '-'])).toBe(4);
    expect(w.stderr()).toMatch(/cannot reach the API server at https:\/\/10\.0\.0\.1:6443: .*ECONNREFUSED.*; the ADD did not run \(the request never reached the node\): nothing was changed\n$/);
    expect(w.stderr()).not.toMatch(/not known|may remain/);
    expect(w.exec.calls.filter((c) => c.command === 'DEL')).toEqual([]);
    expect([...w.exec.files.keys()].filter((k) => k.includes(SANDBOX))).toEqual([]);
    expect(await listRecords(w.kube, 'kube-system')).toEqual([]);
  });
});
