/**
 * The files a kubeconfig brings, read the way no wait can outlast a signal or a time limit (exec/read-file.ts,
 * issue 11 kind 2): the kubeconfig files themselves (`--kubeconfig <(…)`, a $KUBECONFIG entry that is a FIFO), and
 * the certificate files they or the flags name (`certificate-authority`, `client-certificate`, `client-key`,
 * `--certificate-authority <(…)`), which client-node would otherwise read with readFileSync on every request — a FIFO
 * there blocks the main thread, so neither SIGINT nor SIGTERM stops the command, and a second request finds the FIFO
 * drained. Used by the commands (resolve/kube.ts connectKube) and by completion (cli/complete.ts, under its limit).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { load as yamlLoad } from 'js-yaml';
import { UsageError } from '../errors.js';
import { readLocalBytes, readLocalText } from '../exec/read-file.js';
import type { ClusterOptions, KubeconfigFiles, PathOrigin, PathOrigins, UserOptions } from './kubeconfig.js';

/** The largest kubeconfig (or tokenFile, or certificate file) read: far above a real one (a few KiB to a few hundred KiB). */
export const MAX_KUBECONFIG_BYTES = 16 * 1024 * 1024;

function failure(what: string, e: unknown): UsageError {
  const code = (e as NodeJS.ErrnoException).code;
  return new UsageError(`${what}: ${code === 'EFBIG' ? `more than ${MAX_KUBECONFIG_BYTES / 1024 / 1024} MiB` : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`, { cause: e });
}

/**
 * The text of each kubeconfig file (undefined: it does not exist), read one after the other through the event loop.
 * Errors: UsageError naming the file (a directory, too big, unreadable, or not read before `signal` aborted).
 */
export async function readKubeconfigFiles(paths: string[], signal?: AbortSignal): Promise<Map<string, string | undefined>> {
  const ahead = new Map<string, string | undefined>();
  for (const p of paths) {
    try {
      ahead.set(p, await readLocalText(p, MAX_KUBECONFIG_BYTES, signal));
    } catch (e) {
      throw failure(`kubeconfig ${p}`, e);
    }
  }
  return ahead;
}

/**
 * The loader's files (resolve/kubeconfig.ts KubeconfigFiles): the kubeconfig files at `paths`, read ahead
 * (readKubeconfigFiles); other files it names (a tokenFile) are read when asked, and one that is not a regular file is
 * refused rather than read synchronously, since that read could wait past every signal.
 */
export async function kubeconfigFiles(paths: string[], signal?: AbortSignal): Promise<KubeconfigFiles> {
  const ahead = await readKubeconfigFiles(paths, signal);
  return {
    read(path) {
      if (ahead.has(path)) return ahead.get(path);
      try {
        if (!statSync(path).isFile()) throw new Error('not a regular file');
        return readFileSync(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new UsageError(`kubeconfig ${path}: ${(e as Error).message}`);
      }
    },
    parse(text) {
      return yamlLoad(text);
    },
  };
}

/** Whether base64 `data` holds a PEM certificate that parses (client-go's root pool needs one: certutil.NewPoolFromBytes). */
function hasCertificate(data: string): boolean {
  const blocks = Buffer.from(data, 'base64').toString('latin1').match(/-----BEGIN CERTIFICATE-----[^]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.some((b) => {
    try {
      return !!new X509Certificate(b);
    } catch {
      return false;
    }
  });
}

/** The setting of each certificate path given as a flag (--certificate-authority, --client-certificate, --client-key). */
const FLAG_SETTING = { 'certificate-authority': 'certificateAuthority', 'client-certificate': 'clientCertificate', 'client-key': 'clientKey' } as const;

/**
 * The clusters and users with their certificate files read (through the event loop) into the *Data fields client-node
 * takes as base64, so that client-node reads no file. Where a kubeconfig gives both, the data wins and the file is not
 * read (client-go: "certificate-authority-data will override"; resolveKubeconfig refuses both in one entry). Errors:
 * UsageError as client-go words it ("unable to read certificate-authority /x for cluster c: it does not exist"), then
 * where the path came from (`origins`, resolveKubeconfig's): a flag is named as the fix (`; see
 * --certificate-authority`, `--client-certificate`, `--client-key`), a kubeconfig file in the message (`(named by kubeconfig /k)`, `; see --kubeconfig`).
 */
export async function inlineCertificateFiles(
  options: { clusters: ClusterOptions[]; users: UserOptions[] },
  signal?: AbortSignal,
  origins: PathOrigins = {},
): Promise<{ clusters: ClusterOptions[]; users: UserOptions[] }> {
  const read = async (what: 'certificate-authority' | 'client-certificate' | 'client-key', path: string, owner: string, origin: PathOrigin | undefined) => {
    const flagged = !!origin && 'flag' in origin;
    const where = origin && 'file' in origin ? ` (named by kubeconfig ${origin.file})` : '';
    const fix = { setting: flagged ? FLAG_SETTING[what] : ('kubeconfig' as const) };
    let bytes: Buffer | undefined;
    try {
      bytes = await readLocalBytes(path, MAX_KUBECONFIG_BYTES, signal);
    } catch (e) {
      const f = failure(`unable to read ${what} ${path} for ${owner}`, e);
      throw new UsageError(`${f.message}${where}`, { cause: e, fix });
    }
    if (bytes === undefined) throw new UsageError(`unable to read ${what} ${path} for ${owner}: it does not exist${where}`, { fix });
    return bytes.toString('base64');
  };
  const clusters = await Promise.all(
    options.clusters.map(async ({ caFile, ...c }) => {
      const fromFile = caFile !== undefined && c.caData === undefined;
      const out = fromFile ? { ...c, caData: await read('certificate-authority', caFile, `cluster ${c.name}`, origins.caFile) } : c;
      // Node ignores what is no PEM certificate, and the request then failed as "signed by an authority not trusted
      // here" (exit 4, a tryout); client-go refuses the file first (certutil: rootCertPool)
      if (out.caData !== undefined && !hasCertificate(out.caData)) {
        const flagged = fromFile && !!origins.caFile && 'flag' in origins.caFile;
        const where = fromFile ? ` in certificate-authority ${caFile} for cluster ${c.name}${origins.caFile && 'file' in origins.caFile ? ` (named by kubeconfig ${origins.caFile.file})` : ''}` : ` in the certificate-authority-data of cluster ${c.name}`;
        throw new UsageError(`unable to load root certificates: unable to parse bytes as PEM block${where}: no certificate there`, { fix: { setting: flagged ? 'certificateAuthority' : 'kubeconfig' } });
      }
      return out;
    }),
  );
  const users = await Promise.all(
    options.users.map(async ({ certFile, keyFile, ...u }) => ({
      ...u,
      ...(certFile !== undefined && u.certData === undefined ? { certData: await read('client-certificate', certFile, `user ${u.name}`, origins.certFile) } : {}),
      ...(keyFile !== undefined && u.keyData === undefined ? { keyData: await read('client-key', keyFile, `user ${u.name}`, origins.keyFile) } : {}),
    })),
  );
  return { clusters, users };
}
