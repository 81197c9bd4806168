/**
 * This tool's own string flags given empty are refused before anything is read or asked (exit 2, one clear line), as
 * other bad flag values are: an empty --agent-namespace reached the API as a namespace of no name (tryout 8: "creating
 * a pod in : the server could not find the requested resource", exit 3). kubectl's own overrides given empty stay
 * dropped, as kubectl drops them (cli-pod, kubectl-conventions).
 */
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import type { Deps } from '../../src/cli/context.js';
import { attachCommand } from '../../src/cli/attach.js';
import { detachCommand } from '../../src/cli/detach.js';
import { checkCommand } from '../../src/cli/check.js';
import { listCommand } from '../../src/cli/list.js';
import { gcCommand } from '../../src/cli/gc.js';
import { world } from '../fakes/world.js';

const commands: [string, (d: Deps) => Command, string[]][] = [
  ['cni-attach', attachCommand, ['web-1', '-n', 'shop', '--ifname', 'net1', '--conf', '-']],
  ['cni-detach', detachCommand, ['web-1', '-n', 'shop', '--ifname', 'net1']],
  ['cni-check', checkCommand, ['web-1', '-n', 'shop', '--ifname', 'net1']],
  ['cni-list', listCommand, ['-A']],
  ['cni-gc', gcCommand, []],
];

describe('a flag of this tool given empty', () => {
  for (const [name, make, args] of commands) {
    it(`${name} --agent-namespace '': exit 2, said, nothing asked or run`, async () => {
      const w = world();
      expect(await w.cli(make, [...args, '--agent-namespace', ''])).toBe(2);
      expect(w.stderr()).toBe("error: --agent-namespace: an empty value; it names the namespace of the agent pods and the records (default kube-system): give one, or leave the flag out\n");
      expect(w.stdout()).toBe('');
      expect(w.kubeCalls).toEqual([]);
      expect(w.exec.calls).toEqual([]);
    });
  }

  it("--agent-image, --net given empty: refused the same way", async () => {
    for (const [flag, names] of [
      ['--agent-image', 'the image of the agent pod'],
      ['--net', 'a NetworkAttachmentDefinition, [NAMESPACE/]NAME'],
    ]) {
      const w = world();
      const args = flag === '--net' ? ['web-1', '-n', 'shop', '--ifname', 'net1', '--net', ''] : [...commands[0]![2], flag!, ''];
      expect(await w.cli(attachCommand, args), flag).toBe(2);
      expect(w.stderr()).toBe(`error: ${flag}: an empty value; it names ${names}: give one, or leave the flag out\n`);
      expect(w.kubeCalls).toEqual([]);
    }
  });

  it("kubectl's own overrides given empty stay as not given (--context ''): the command runs", async () => {
    const w = world();
    expect(await w.cli(listCommand, ['-A', '--context', ''])).toBe(0);
  });
});
