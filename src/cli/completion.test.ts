import { spawnSync } from 'node:child_process';
import { Argument, Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  bashCompletionScript,
  type CompletionNode,
  cobraCompletion,
  completeWords,
  completionTree,
  zshCompletionScript,
} from './completion.ts';
import { buildProgram } from './program.ts';

/** A small command tree shaped like nhictl's: groups, value options with and without choices, arguments. */
function program(): Command {
  const root = new Command('tool').description('the tool');
  const dev = root.command('dev').description('local environment');
  dev.command('up').description('start it: all of it');
  dev.command('down').description("stop it, don't ask");
  root
    .command('inventory')
    .description('list every identity')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml']))
    .option('-n, --namespace <namespace>', 'only this namespace')
    .option('--no-aws', 'skip IAM');
  root.command('lint <files...>').description('validate files');
  root.command('completion').addArgument(new Argument('<shell>').choices(['bash', 'zsh']));
  root.command('secret', { hidden: true });
  return root;
}

const tree = completionTree(program());
const values = (words: string[]) => completeWords(tree, words).candidates.map((c) => c.value);

describe('completionTree', () => {
  it('holds the visible commands, their options with value and choices, and argument choices', () => {
    expect(tree.commands.map((c) => c.name)).toEqual(['dev', 'inventory', 'lint', 'completion']);
    const inventory = tree.commands[1] as CompletionNode;
    expect(inventory.options).toEqual(
      expect.arrayContaining([
        {
          flags: ['-o', '--output'],
          description: 'output format',
          takesValue: true,
          choices: ['table', 'json', 'yaml'],
        },
        { flags: ['--no-aws'], description: 'skip IAM', takesValue: false, choices: [] },
        { flags: ['-h', '--help'], description: 'display help for command', takesValue: false, choices: [] },
      ]),
    );
    expect(tree.commands[3]?.argumentChoices).toEqual(['bash', 'zsh']);
  });
});

describe('completeWords', () => {
  it.each([
    [[''], ['dev', 'inventory', 'lint', 'completion']],
    [['in'], ['inventory']],
    [
      ['dev', ''],
      ['up', 'down'],
    ],
    [
      ['inventory', '--'],
      ['--output', '--namespace', '--no-aws', '--help'],
    ],
    [
      ['inventory', '-o', ''],
      ['table', 'json', 'yaml'],
    ],
    [['inventory', '--output', 'y'], ['yaml']],
    [['inventory', '-n', 'dev', '-o', 'j'], ['json']],
    [
      ['completion', ''],
      ['bash', 'zsh'],
    ],
    [['lint', ''], []],
  ])('after %j offers %j', (words, expected) => {
    expect(values(words)).toEqual(expected);
  });

  it('leaves file names to the shell for an argument or a value without choices', () => {
    expect(completeWords(tree, ['lint', 'conf']).files).toBe(true);
    expect(completeWords(tree, ['inventory', '-n', '']).files).toBe(true);
    expect(completeWords(tree, ['inventory', '-o', '']).files).toBe(false);
  });

  it('does not mistake an option value for a subcommand', () => {
    expect(values(['inventory', '-n', 'dev', ''])).toEqual([]);
  });
});

describe('cobraCompletion', () => {
  it('prints candidates with descriptions and the directive kubectl reads', () => {
    expect(cobraCompletion(completeWords(tree, ['dev', '']))).toBe(
      "up\tstart it: all of it\ndown\tstop it, don't ask\n:4\n",
    );
    expect(cobraCompletion(completeWords(tree, ['lint', '']))).toBe(':0\n');
  });
});

/** Runs the generated bash function as bash completion would, for the words typed so far. */
function bashComplete(script: string, words: string[]): string[] {
  const result = spawnSync(
    'bash',
    [
      '-c',
      `${script}\nCOMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _tool_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
      'bash',
      'tool',
      ...words,
    ],
    { encoding: 'utf8' },
  );
  expect(result.stderr).toBe('');
  return result.stdout.split('\n').filter(Boolean);
}

describe('bashCompletionScript', () => {
  const script = bashCompletionScript(tree);

  it('registers a completion function for the program', () => {
    expect(script).toContain('complete -o default -F _tool_complete tool');
  });

  it.each([
    [[''], ['dev', 'inventory', 'lint', 'completion']],
    [['dev', 'd'], ['down']],
    [
      ['inventory', '-o', ''],
      ['table', 'json', 'yaml'],
    ],
    [['inventory', '-n', 'dev', '--no'], ['--no-aws']],
    [['completion', 'z'], ['zsh']],
    [['lint', ''], []],
  ])('in bash, after %j offers %j', (words, expected) => {
    expect(bashComplete(script, words)).toEqual(expected);
  });
});

describe('zshCompletionScript', () => {
  const script = zshCompletionScript(tree);

  it('is a #compdef function that works autoloaded from fpath or sourced', () => {
    expect(script.startsWith('#compdef tool\n')).toBe(true);
    expect(script).toContain('compdef _tool_complete tool');
    expect(script).toContain('_tool_complete "$@"');
  });

  it('describes each subcommand, escaping what the shell or _describe would misread', () => {
    expect(script).toContain(`"dev") subcommands=('up:start it: all of it' 'down:stop it, don'\\''t ask')`);
    expect(script).toContain(
      `"inventory|-o"|"inventory|--output") compadd -- 'table' 'json' 'yaml'; return ;;`,
    );
  });

  it('never assigns `path`, the zsh array tied to $PATH', () => {
    expect(script).not.toMatch(/\bpath=/);
  });
});

describe('nhictl completion', () => {
  const nhictl = completionTree(buildProgram());
  const flat = (node: CompletionNode): CompletionNode[] => [node, ...node.commands.flatMap(flat)];

  it('offers every listing command’s --output as table (or text), json and yaml (scan adds sarif)', () => {
    const withOutput = flat(nhictl).filter((c) => c.options.some((o) => o.flags.includes('--output')));
    expect(withOutput.map((c) => c.name).sort()).toEqual([
      'activity',
      'adopt',
      'inventory',
      'lint',
      'list',
      'risk',
      'scan',
      'show',
      'status',
      'verify',
    ]);
    for (const command of withOutput) {
      const output = command.options.find((o) => o.flags.includes('--output'));
      expect(output?.flags).toEqual(['-o', '--output']);
      expect(output?.choices.slice(1)).toEqual(
        command.name === 'scan' ? ['json', 'yaml', 'sarif'] : ['json', 'yaml'],
      );
    }
  });

  it('completes the same commands under both names', () => {
    expect(completionTree(buildProgram('kubectl nhi')).commands).toEqual(nhictl.commands);
    expect(values(['']).length).toBeGreaterThan(0);
    expect(completeWords(nhictl, ['dev', 'st']).candidates.map((c) => c.value)).toEqual(['status']);
  });
});
