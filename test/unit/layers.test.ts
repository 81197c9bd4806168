/**
 * The layers of src/ (.dependency-cruiser.cjs, README "Layout"): src/ keeps every rule, and the rules catch what they
 * are for — a type-only import from exec into resolve, an import from errors.ts into a layer — in a tree made here.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules/.bin/depcruise');

/** depcruise as `npm run lint:deps` and scripts/test.sh run it: its exit code and the "error RULE: FROM → TO" lines. */
async function cruise(cwd: string): Promise<{ exitCode: number | undefined; violations: string[]; output: string }> {
  const r = await execa(DEPCRUISE, ['src', '--config', CONFIG, '--output-type', 'err'], { cwd, reject: false, all: true });
  const violations = r.all.split('\n').map((l) => /^\s*error (.+)$/.exec(l)?.[1]).filter((v): v is string => !!v);
  return { exitCode: r.exitCode, violations, output: r.all };
}

describe('the layers of src/', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('src/ breaks none of the rules', async () => {
    const r = await cruise(ROOT);
    expect(r.violations, r.output).toEqual([]);
    expect(r.exitCode, r.output).toBe(0);
    const modules = Number(/\((\d+) modules/.exec(r.output)?.[1]);
    expect(modules, r.output).toBeGreaterThan(40);
  });

  it('catches a type-only import from exec into resolve, and errors.ts importing a layer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cni-attach-layers-'));
    dirs.push(dir);
    const files: Record<string, string> = {
      'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['src/**/*.ts'] }),
      'src/resolve/kube.ts': 'export interface KubeApi { exec(): Promise<void> }\n',
      'src/exec/kube-exec.ts': "import type { KubeApi } from '../resolve/kube.js';\nexport const use = (a: KubeApi) => a.exec();\n",
      'src/cni/conf.ts': 'export const x = 1;\n',
      'src/errors.ts': "import { x } from './cni/conf.js';\nexport class UsageError extends Error { n = x; }\n",
    };
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    const r = await cruise(dir);
    expect(r.violations.sort(), r.output).toEqual([
      'errors-is-a-leaf: src/errors.ts → src/cni/conf.ts',
      'exec-not-to-resolve: src/exec/kube-exec.ts → src/resolve/kube.ts',
    ]);
    expect(r.exitCode, r.output).not.toBe(0);
  });
});
