/**
 * deploy/rbac.yaml read as rules, and the API requests the stand-in server recorded mapped to what RBAC checks
 * (verb, resource, subresource, namespace): so a test can prove the shipped RBAC lets every request through.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { ROOT } from './env.js';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
interface Grant {
  namespace?: string; // undefined: cluster-wide
  rules: Rule[];
}

export function shippedRbac(): Grant[] {
  const docs = yaml.loadAll(readFileSync(join(ROOT, 'deploy/rbac.yaml'), 'utf8')) as { kind: string; metadata: { namespace?: string }; rules?: Rule[] }[];
  return docs.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role').map((d) => ({ ...(d.kind === 'Role' ? { namespace: d.metadata.namespace } : {}), rules: d.rules ?? [] }));
}

export interface Access {
  verb: string;
  group: string;
  resource: string; // e.g. "pods" or "pods/exec"
  namespace?: string;
}

/** What RBAC checks for a request (core and named groups, namespaced paths, list vs get vs watch, websocket exec as create). */
export function accessOf(method: string, path: string, query: Record<string, string> = {}): Access | undefined {
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
  if (!m) return undefined;
  const [, group = '', namespace, resource, name, sub] = m;
  const res = sub ? `${resource}/${sub}` : resource!;
  const watch = query.watch === 'true' || query.watch === '1';
  const verb = sub === 'exec' ? 'create' : method === 'GET' ? (name ? 'get' : watch ? 'watch' : 'list') : method === 'POST' ? 'create' : method === 'PATCH' ? 'patch' : method === 'DELETE' ? 'delete' : method.toLowerCase();
  return { verb, group, resource: res, ...(namespace ? { namespace } : {}) };
}

export function allowed(grants: Grant[], a: Access): boolean {
  return grants.some(
    (g) => (g.namespace === undefined || g.namespace === a.namespace) &&
      g.rules.some((r) => r.apiGroups.includes(a.group) && r.resources.includes(a.resource) && r.verbs.includes(a.verb)),
  );
}
