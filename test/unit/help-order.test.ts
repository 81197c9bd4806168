import { describe, expect, it } from 'vitest';
import { attachCommand } from '../../src/cli/attach.js';
import { checkCommand } from '../../src/cli/check.js';
import { detachCommand } from '../../src/cli/detach.js';
import { gcCommand } from '../../src/cli/gc.js';
import { listCommand } from '../../src/cli/list.js';

// kubectl's --help lists a command's own flags, then the global ones (`kubectl options`): each of the five commands
// does the same (a tryout found cni-gc --help listing "Global options" first)
describe('--help: the command\'s own options, then the global ones', () => {
  for (const [name, make] of [['cni-attach', attachCommand], ['cni-detach', detachCommand], ['cni-check', checkCommand], ['cni-list', listCommand], ['cni-gc', gcCommand]] as const) {
    it(`${name}: "Options:" before "Global options", each heading once`, () => {
      const help = make().helpInformation();
      const own = help.indexOf('\nOptions:\n');
      const global = help.indexOf("\nGlobal options (kubectl's");
      expect(own).toBeGreaterThan(0);
      expect(global).toBeGreaterThan(own);
      expect(help.split('\nOptions:\n')).toHaveLength(2);
      expect(help.split('\nGlobal options')).toHaveLength(2);
    });
  }
});
