/**
 * Shell completion for the five commands, generated from their commander definitions: flags, the choices of flags
 * that have them, and pod names (through kubectl, when it is there) for the POD argument.
 */
import type { Command, Option } from 'commander';
import type { Deps } from './context.js';
import { checkCommand } from './check.js';
import { detachCommand } from './detach.js';
import { gcCommand } from './gc.js';
import { listCommand } from './list.js';

/** The values a flag takes, for completion: its choices, or cni-list's -o formats (checked by a parser, not choices). */
export function valueChoices(o: Option): readonly string[] | undefined {
  return o.argChoices ?? (o.long === '--output' ? ['table', 'wide', 'name', 'json', 'yaml', 'jsonpath='] : undefined);
}

export interface CommandSpec {
  /** The executable: kubectl-cni_attach … */
  bin: string;
  command: Command;
}

function flags(c: Command): { names: string[]; takesValue: boolean; choices?: readonly string[] }[] {
  return (c.options as Option[]).map((o) => ({
    names: [o.short, o.long].filter((n): n is string => !!n),
    takesValue: o.required || o.optional,
    ...(valueChoices(o) ? { choices: valueChoices(o)! } : {}),
  }));
}

export function bashCompletion(specs: CommandSpec[]): string {
  const fns = specs.map(({ bin, command }) => {
    const fl = flags(command);
    const all = [...fl.flatMap((f) => f.names), '--help'].join(' ');
    const cases = fl
      .filter((f) => f.takesValue)
      .map((f) => {
        const pats = f.names.join('|');
        if (f.choices) return `    ${pats}) COMPREPLY=($(compgen -W "${f.choices.join(' ')}" -- "$cur")); return ;;`;
        if (f.names.some((n) => /conf|kubeconfig|cache-dir|cni-path|netns/.test(n))) return `    ${pats}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`;
        if (f.names.includes('--namespace') || f.names.includes('-n')) {
          return `    ${pats}) COMPREPLY=($(compgen -W "$(kubectl get namespaces -o name 2>/dev/null | sed 's|^namespace/||')" -- "$cur")); return ;;`;
        }
        return `    ${pats}) return ;;`;
      })
      .join('\n');
    const fn = `_${bin.replace(/[^a-zA-Z0-9]/g, '_')}`;
    const pods = command.registeredArguments.length
      ? `  COMPREPLY=($(compgen -W "$(kubectl get pods $ns -o name 2>/dev/null | sed 's|^pod/||')" -- "$cur"))`
      : '  COMPREPLY=()';
    return `${fn}() {
  local cur prev ns=""
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "${all}" -- "$cur")); return; fi
  local i; for ((i = 1; i < COMP_CWORD; i++)); do
    if [[ "\${COMP_WORDS[i]}" == "-n" || "\${COMP_WORDS[i]}" == "--namespace" ]]; then ns="-n \${COMP_WORDS[i+1]}"; fi
  done
${pods}
}
complete -F ${fn} ${bin}`;
  });
  return `# bash completion for cni-attach (kubectl-cni_attach, kubectl-cni_detach, …)
# install: kubectl-cni_attach completion bash > /etc/bash_completion.d/cni-attach
${fns.join('\n\n')}
`;
}

export function zshCompletion(specs: CommandSpec[]): string {
  return `#compdef ${specs.map((s) => s.bin).join(' ')}
# zsh completion for cni-attach: uses the bash completion through bashcompinit
# install: kubectl-cni_attach completion zsh > "\${fpath[1]}/_cni-attach"
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(specs)}`;
}

/** The completion script of all five commands; attach passes its own program (the one `completion` runs in). */
export function completionScript(shell: 'bash' | 'zsh' | 'fish', attach: Command, deps: Deps): string {
  const specs: CommandSpec[] = [
    { bin: 'kubectl-cni_attach', command: attach },
    { bin: 'kubectl-cni_detach', command: detachCommand(deps) },
    { bin: 'kubectl-cni_check', command: checkCommand(deps) },
    { bin: 'kubectl-cni_list', command: listCommand(deps) },
    { bin: 'kubectl-cni_gc', command: gcCommand(deps) },
  ];
  return shell === 'bash' ? bashCompletion(specs) : shell === 'zsh' ? zshCompletion(specs) : fishCompletion(specs);
}

/**
 * fish: the same flags and values, and the POD argument from the kubectl_complete-cni_* executables (which know the
 * namespace and context typed so far), as fish completes other cobra programs.
 */
export function fishCompletion(specs: CommandSpec[]): string {
  const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const blocks = specs.map(({ bin, command }) => {
    const lines = (command.options as Option[]).map((o) => {
      const parts = [`complete -c ${bin}`];
      if (o.short) parts.push(`-s ${o.short.slice(1)}`);
      if (o.long) parts.push(`-l ${o.long.slice(2)}`);
      if (o.required || o.optional) parts.push(valueChoices(o) ? `-x -a ${q(valueChoices(o)!.join(' '))}` : /conf|kubeconfig|cache-dir|cni-path|netns|certificate/.test(o.long ?? '') ? '-r -F' : '-x');
      parts.push(`-d ${q(o.description.split('(')[0]!.trim())}`);
      return parts.join(' ');
    });
    const complete = bin.replace(/^kubectl-/, 'kubectl_complete-');
    lines.push(`complete -c ${bin} -f -a '(${complete} (commandline -opc)[2..] (commandline -ct) 2>/dev/null | string match -v -r "^:")'`);
    return lines.join('\n');
  });
  return `# fish completion for cni-attach (kubectl-cni_attach, kubectl-cni_detach, …)
# install: kubectl-cni_attach completion fish > ~/.config/fish/completions/cni-attach.fish
${blocks.join('\n\n')}
`;
}
