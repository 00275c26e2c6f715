// Shell completion, generated from the command tree itself (commander has none built in), so a new
// command or option completes without anyone editing a script:
//   nhictl completion bash|zsh   a static script for the shell (no process started on Tab)
//   kubectl_complete-nhi         what kubectl (1.26+) runs to complete `kubectl nhi ...`: the words
//                                typed so far in, candidates and a Cobra directive out.

import { Argument, type Command } from 'commander';

export interface CompletionOption {
  /** `-o` and `--output`, as typed. */
  flags: string[];
  description: string;
  takesValue: boolean;
  /** The values commander accepts, when it checks them. */
  choices: string[];
}

export interface CompletionNode {
  name: string;
  description: string;
  commands: CompletionNode[];
  options: CompletionOption[];
  /** The values the command's first argument accepts, when commander checks them. */
  argumentChoices: string[];
}

/** The visible commands and options of `command` and everything under it. */
export function completionTree(command: Command): CompletionNode {
  const help = command.createHelp();
  return {
    name: command.name(),
    description: firstLine(command.description()),
    commands: help
      .visibleCommands(command)
      .filter((sub) => sub.name() !== 'help')
      .map((sub) => completionTree(sub)),
    options: help.visibleOptions(command).map((option) => ({
      flags: [option.short, option.long].filter((flag): flag is string => Boolean(flag)),
      description: firstLine(option.description),
      takesValue: option.required || option.optional,
      choices: option.argChoices ?? [],
    })),
    argumentChoices: command.registeredArguments[0]?.argChoices ?? [],
  };
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 100 ? `${line.slice(0, 99)}…` : line;
}

export interface Candidate {
  value: string;
  description: string;
}

export interface Completion {
  candidates: Candidate[];
  /** Nothing to offer from the tree: the shell should complete file names (an argument, a value). */
  files: boolean;
}

const findOption = (node: CompletionNode, word: string) =>
  node.options.find((o) => o.flags.includes(word.split('=')[0] ?? word));

/**
 * What may come next after `words` (the words after the program name; the last is the one being
 * completed, possibly empty): a subcommand, an option of the current command, or an option's value.
 */
export function completeWords(root: CompletionNode, words: readonly string[]): Completion {
  const current = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  let node = root;
  let pending: CompletionOption | undefined;
  for (let i = 0; i < before.length; i++) {
    const word = before[i] ?? '';
    if (word.startsWith('-')) {
      const option = findOption(node, word);
      if (option?.takesValue && !word.includes('=')) {
        if (i === before.length - 1) pending = option;
        else i++;
      }
      continue;
    }
    node = node.commands.find((c) => c.name === word) ?? node;
  }
  const matching = (candidates: Candidate[]) => candidates.filter((c) => c.value.startsWith(current));
  if (pending) {
    return {
      candidates: matching(pending.choices.map((value) => ({ value, description: '' }))),
      files: pending.choices.length === 0,
    };
  }
  if (current.startsWith('-')) {
    return {
      candidates: matching(
        node.options.flatMap((o) => o.flags.map((value) => ({ value, description: o.description }))),
      ),
      files: false,
    };
  }
  if (node.commands.length > 0) {
    return {
      candidates: matching(node.commands.map((c) => ({ value: c.name, description: c.description }))),
      files: false,
    };
  }
  if (node.argumentChoices.length > 0) {
    return {
      candidates: matching(node.argumentChoices.map((value) => ({ value, description: '' }))),
      files: false,
    };
  }
  return { candidates: [], files: true };
}

/** Cobra's ShellCompDirective values kubectl understands from a plugin's completion executable. */
const Directive = { default: 0, noFileComp: 4 } as const;

/** The answer kubectl_complete-nhi prints: one `value<TAB>description` per line, then `:<directive>`. */
export function cobraCompletion(completion: Completion): string {
  const lines = completion.candidates.map((c) => (c.description ? `${c.value}\t${c.description}` : c.value));
  lines.push(`:${completion.files ? Directive.default : Directive.noFileComp}`);
  return `${lines.join('\n')}\n`;
}

interface FlatCommand {
  /** Space-joined subcommand names from the root: '' for the root itself. */
  path: string;
  node: CompletionNode;
}

function flatten(node: CompletionNode, path = ''): FlatCommand[] {
  return [{ path, node }, ...node.commands.flatMap((c) => flatten(c, path ? `${path} ${c.name}` : c.name))];
}

/** A shell word in single quotes. */
const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
/** A `case` pattern: `"path|word"` alternatives, double-quoted (names hold no `"`, `$` or backquote). */
const patterns = (entries: Array<[string, string]>) => entries.map(([p, w]) => `"${p}|${w}"`).join('|');
const functionName = (program: string) => `_${program.replace(/[^A-Za-z0-9_]/g, '_')}_complete`;

/** The arms of the loop over the words typed: enter a subcommand, or step over an option's value. */
function walkCases(steps: Array<[string, string]>, optionValueSkip: Array<[string, string]>): string {
  return [
    ...(steps.length ? [`      ${patterns(steps)}) cmdpath="\${cmdpath:+$cmdpath }$word" ;;`] : []),
    ...(optionValueSkip.length ? [`      ${patterns(optionValueSkip)}) i=$((i + 1)) ;;`] : []),
  ].join('\n');
}

/** The parts both scripts share: which words enter a subcommand, which options take a value. */
function shellTables(root: CompletionNode) {
  const commands = flatten(root);
  const steps: Array<[string, string]> = commands.flatMap(({ path, node }) =>
    node.commands.map((c): [string, string] => [path, c.name]),
  );
  const valueOptions = commands.flatMap(({ path, node }) =>
    node.options.filter((o) => o.takesValue).map((option) => ({ path, option })),
  );
  const optionValueSkip: Array<[string, string]> = valueOptions.flatMap(({ path, option }) =>
    option.flags.map((flag): [string, string] => [path, flag]),
  );
  return { commands, steps, valueOptions, optionValueSkip };
}

export function bashCompletionScript(root: CompletionNode, program = root.name): string {
  const fn = functionName(program);
  const { commands, steps, valueOptions, optionValueSkip } = shellTables(root);
  const valueCases = valueOptions.map(({ path, option }) => {
    const pattern = patterns(option.flags.map((flag): [string, string] => [path, flag]));
    return option.choices.length > 0
      ? `    ${pattern}) COMPREPLY=($(compgen -W ${quote(option.choices.join(' '))} -- "$cur")); return ;;`
      : `    ${pattern}) return ;;`;
  });
  const commandCases = commands.map(({ path, node }) => {
    const subs = [...node.commands.map((c) => c.name), ...node.argumentChoices].join(' ');
    const options = node.options.flatMap((o) => o.flags).join(' ');
    return `    ${JSON.stringify(path)}) commands=${quote(subs)}; options=${quote(options)} ;;`;
  });
  return `# bash completion for ${program}, generated by \`${program} completion bash\` from its commands.
# Load it now:      source <(${program} completion bash)
# or for good:      ${program} completion bash > ~/.local/share/bash-completion/completions/${program}
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmdpath="" word i
  local commands="" options=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$cmdpath|$word" in
${walkCases(steps, optionValueSkip)}
    esac
  done
  case "$cmdpath|$prev" in
${valueCases.join('\n')}
  esac
  case "$cmdpath" in
${commandCases.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
  elif [[ -n "$commands" ]]; then
    COMPREPLY=($(compgen -W "$commands" -- "$cur"))
  fi
}
complete -o default -F ${fn} ${program}
`;
}

/** `name:description` for _describe: a colon in the name would split it. */
const describeEntry = (value: string, description: string) =>
  quote(`${value.replace(/:/g, '\\:')}:${description}`);

export function zshCompletionScript(root: CompletionNode, program = root.name): string {
  const fn = functionName(program);
  const { commands, steps, valueOptions, optionValueSkip } = shellTables(root);
  const valueCases = valueOptions.map(({ path, option }) => {
    const pattern = patterns(option.flags.map((flag): [string, string] => [path, flag]));
    return option.choices.length > 0
      ? `    ${pattern}) compadd -- ${option.choices.map(quote).join(' ')}; return ;;`
      : `    ${pattern}) _files; return ;;`;
  });
  const commandCases = commands.map(({ path, node }) => {
    const subs = [
      ...node.commands.map((c) => describeEntry(c.name, c.description)),
      ...node.argumentChoices.map((value) => describeEntry(value, value)),
    ].join(' ');
    const options = node.options
      .flatMap((o) => o.flags.map((flag) => describeEntry(flag, o.description)))
      .join(' ');
    return `    ${JSON.stringify(path)}) subcommands=(${subs}); flags=(${options}) ;;`;
  });
  // `path` is zsh's array tied to $PATH: the command path is kept in `cmdpath`.
  return `#compdef ${program}
# zsh completion for ${program}, generated by \`${program} completion zsh\` from its commands.
# Load it now:      source <(${program} completion zsh)
# or for good:      ${program} completion zsh > "\${fpath[1]}/_${program}"
${fn}() {
  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}" cmdpath="" word i
  local -a subcommands flags
  for ((i = 2; i < CURRENT; i++)); do
    word="\${words[i]}"
    case "$cmdpath|$word" in
${walkCases(steps, optionValueSkip)}
    esac
  done
  case "$cmdpath|$prev" in
${valueCases.join('\n')}
  esac
  case "$cmdpath" in
${commandCases.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    _describe -t options 'option' flags
  elif (( \${#subcommands} )); then
    _describe -t commands 'command' subcommands
  else
    _files
  fi
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${program}
fi
`;
}

export const Shells = ['bash', 'zsh'] as const;
export type Shell = (typeof Shells)[number];

export function completionScript(shell: Shell, root: CompletionNode, program = root.name): string {
  return shell === 'bash' ? bashCompletionScript(root, program) : zshCompletionScript(root, program);
}

export function registerCompletionCommand(program: Command): void {
  program
    .command('completion')
    .description(
      'print a bash or zsh completion script for nhictl (kubectl nhi completes through kubectl_complete-nhi, installed with it)',
    )
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(Shells))
    .action((shell: Shell) => {
      if (program.name() !== 'nhictl') {
        process.stderr.write(
          `this script completes nhictl; \`${program.name()} <Tab>\` is completed by kubectl's own completion, which runs kubectl_complete-nhi\n`,
        );
      }
      process.stdout.write(completionScript(shell, completionTree(program), 'nhictl'));
    });
}
