/**
 * Shell completion scripts for the five commands: bash (and zsh through bashcompinit) ask the commands themselves
 * (`__completeNoDesc`, complete.ts) at each TAB; fish gets the flags from the commander definitions and the rest from
 * the kubectl_complete-cni_* executables.
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

/**
 * bash: as cobra's bash completion (v2) does, each TAB asks the command itself — `kubectl-cni_<tool> __completeNoDesc
 * WORDS… CUR` (complete.ts, the one source of candidates) — and follows the directive it answers: no candidates and
 * the Default directive complete file names, FilterDirs directories, NoSpace leaves no space, Error nothing. So
 * everything typed so far counts: `--kubeconfig`, `--context`, `-n`, `--cluster`, `--user`, `--server`, `--token`, `--as`…
 * reach the pod and namespace look-ups as they reach the command (the script used to run `kubectl get pods` with
 * `-n` alone). The words are those of the line up to the cursor, split at blanks (a `--flag=value` stays one word,
 * whatever COMP_WORDBREAKS says), `~/` expanded as the shell will; candidates after `--flag=` are given back without
 * that prefix, which readline keeps.
 */
export function bashCompletion(specs: CommandSpec[]): string {
  const fns = specs.map(({ bin }) => {
    const fn = `_${bin.replace(/[^a-zA-Z0-9]/g, '_')}`;
    return `${fn}() { __cni_attach_complete; }
complete -F ${fn} ${bin}`;
  });
  return `# bash completion for cni-attach (kubectl-cni_attach, kubectl-cni_detach, …)
# install: kubectl-cni_attach completion bash > /etc/bash_completion.d/cni-attach
__cni_attach_complete() {
  local line="\${COMP_LINE:0:COMP_POINT}" words cur out directive keep c
  read -ra words <<< "$line"
  [[ -z "$line" || "$line" =~ [[:space:]]$ ]] && words+=("")
  # ~/ as the shell will expand it when the command runs (--kubeconfig ~/x, --kubeconfig=~/x)
  for c in "\${!words[@]}"; do words[c]="\${words[c]/#\\~\\//$HOME/}"; [[ "\${words[c]}" == --*=\\~/* ]] && words[c]="\${words[c]/=\\~\\//=$HOME/}"; done
  cur="\${words[\${#words[@]}-1]}"
  out=$("\${words[0]}" __completeNoDesc "\${words[@]:1}" 2>/dev/null) || return
  directive="\${out##*:}"
  [[ "$directive" =~ ^[0-9]+$ ]] || return
  out="\${out%:*}"
  COMPREPLY=()
  (( directive & 1 )) && return
  # readline replaces the word after the last = or : (COMP_WORDBREAKS): give the candidates without what precedes it
  keep=""
  [[ "$cur" == *[=:]* ]] && keep="\${cur%"\${cur##*[=:]}"}"
  while IFS= read -r c; do
    [[ -n "$c" ]] && COMPREPLY+=("\${c#"$keep"}")
  done <<< "$out"
  if (( \${#COMPREPLY[@]} == 0 )); then
    if (( directive & 16 )); then COMPREPLY=($(compgen -d -- "\${cur#"$keep"}"))
    elif (( ! (directive & 4) )); then COMPREPLY=($(compgen -f -- "\${cur#"$keep"}"))
    fi
  fi
  (( directive & 2 )) && type compopt >/dev/null 2>&1 && compopt -o nospace
  return 0
}

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
      if (o.required || o.optional) parts.push(valueChoices(o) ? `-x -a ${q(valueChoices(o)!.join(' '))}` : /conf|kubeconfig|cache-dir|cni-path|netns|certificate|client-key/.test(o.long ?? '') ? '-r -F' : '-x');
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
