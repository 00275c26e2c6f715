// The documentation as a specification of itself: every relative link in README.md, docs/**/*.md and
// the chart's README resolves to a file (and an `#anchor` to a heading of the Markdown file it points
// at), every command that names an nhictl verb names one the real command tree has (with its flags),
// every `npm run <script>` names a script of package.json, and every runbook link of the alert rules
// lands on a section of docs/runbooks.md.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/program.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function walk(dir: string, keep: (path: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : walk(path, keep);
    return keep(path) ? [path] : [];
  });
}

const markdown = (path: string) => path.endsWith('.md');
const docsPages = walk(join(root, 'docs'), markdown);
const pages = [join(root, 'README.md'), join(root, 'charts/nhi-operator/README.md'), ...docsPages];
const rel = (path: string) => relative(root, path);
const read = (path: string) => readFileSync(path, 'utf8');

// ---------------------------------------------------------------------------------------------
// Markdown structure: code, links, headings.

interface Fence {
  lang: string;
  lines: string[];
}

/** The page split into prose lines (fences blanked) and its fenced code blocks. */
function split(text: string): { prose: string[]; fences: Fence[] } {
  const prose: string[] = [];
  const fences: Fence[] = [];
  let open: { marker: string; fence: Fence } | undefined;
  for (const line of text.split('\n')) {
    const fence = /^\s*(```+|~~~+)\s*([\w-]*)/.exec(line);
    if (open) {
      if (fence?.[1]?.startsWith(open.marker)) open = undefined;
      else open.fence.lines.push(line);
      prose.push('');
    } else if (fence) {
      open = { marker: fence[1] ?? '```', fence: { lang: fence[2] ?? '', lines: [] } };
      fences.push(open.fence);
      prose.push('');
    } else prose.push(line);
  }
  return { prose, fences };
}

/** Inline code spans of a prose line (single or multiple backticks). */
function inlineCode(line: string): string[] {
  return [...line.matchAll(/(`+)(.+?)\1/g)].map((m) => (m[2] ?? '').trim());
}

const withoutInlineCode = (line: string) => line.replace(/(`+)(.+?)\1/g, '');

/** Link targets in prose: inline links and images, and reference definitions. */
function linkTargets(prose: string[]): string[] {
  const targets: string[] = [];
  for (const raw of prose) {
    const line = withoutInlineCode(raw);
    for (const m of line.matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g))
      targets.push(m[1] ?? '');
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(line);
    if (definition) targets.push(definition[1] ?? '');
  }
  return targets;
}

/**
 * GitHub's heading anchor: the heading's text (markup removed), lower-cased, every character that
 * is not a letter, digit, space, `-` or `_` dropped, each space turned into `-`; a repeated heading
 * gets `-1`, `-2`, ... appended.
 */
function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/`/g, '')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** Every anchor a page offers: its headings' slugs and explicit `<a id|name="...">` targets. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of split(text).prose) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const slug = githubSlug(heading[1] ?? '');
      const count = seen.get(slug) ?? 0;
      seen.set(slug, count + 1);
      anchors.add(count === 0 ? slug : `${slug}-${count}`);
    }
    for (const m of withoutInlineCode(line).matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1] ?? '');
  }
  return anchors;
}

const anchorCache = new Map<string, Set<string>>();
function anchorsOfFile(path: string): Set<string> {
  let anchors = anchorCache.get(path);
  if (!anchors) {
    anchors = anchorsOf(read(path));
    anchorCache.set(path, anchors);
  }
  return anchors;
}

/** What is wrong with one link target of `page`, or undefined when it resolves. */
function brokenLink(page: string, target: string): string | undefined {
  if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return undefined;
  const hash = target.indexOf('#');
  const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const file = pathPart === '' ? page : resolve(dirname(page), pathPart);
  if (!existsSync(file)) return `${target}: no such file ${rel(file)}`;
  if (anchor === undefined || !file.endsWith('.md')) return undefined;
  return anchorsOfFile(file).has(anchor) ? undefined : `${target}: no heading #${anchor} in ${rel(file)}`;
}

describe('GitHub heading anchors', () => {
  it.each([
    ['Lock and unlock', 'lock-and-unlock'],
    ["4. The operator's policy", '4-the-operators-policy'],
    ['Bind the `nhi-security` ClusterRole', 'bind-the-nhi-security-clusterrole'],
    ['The `aws` fields', 'the-aws-fields'],
    ['Identity not Ready', 'identity-not-ready'],
    ['With [Helm](https://helm.sh)', 'with-helm'],
  ])('%s -> #%s', (heading, slug) => {
    expect(githubSlug(heading)).toBe(slug);
  });

  it('numbers repeated headings as GitHub does', () => {
    expect([...anchorsOf('# Setup\n## Setup\n## Setup\n')]).toEqual(['setup', 'setup-1', 'setup-2']);
  });
});

describe('relative links', () => {
  it('cover the README, the chart README and every page under docs/', () => {
    expect(docsPages.map(rel)).toContain('docs/README.md');
  });

  it.each(pages.map((p) => [rel(p), p]))('every relative link in %s resolves', (_name, page) => {
    const broken = linkTargets(split(read(page)).prose)
      .map((target) => brokenLink(page, target))
      .filter((problem): problem is string => problem !== undefined);
    expect(broken).toEqual([]);
  });

  it('docs/README.md links every page under docs/', () => {
    const index = join(root, 'docs/README.md');
    const linked = new Set(
      linkTargets(split(read(index)).prose).map((t) => resolve(dirname(index), t.split('#')[0] ?? '')),
    );
    const missing = docsPages.filter((p) => p !== index && !linked.has(p)).map(rel);
    expect(missing).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Commands in code: nhictl verbs and flags, npm scripts.

/** Fences whose lines are commands; listings (layout trees, diagrams) go in `text` fences. */
const SHELL_FENCES = new Set(['', 'sh', 'bash', 'shell', 'console', 'zsh']);

/** The lines of code on a page that may hold commands: shell fences and inline code spans. */
function codeLines(text: string): string[] {
  const { prose, fences } = split(text);
  return [
    ...fences.filter((f) => SHELL_FENCES.has(f.lang)).flatMap((f) => f.lines),
    ...prose.flatMap(inlineCode),
  ];
}

const SEPARATORS = new Set(['|', '||', '&&', ';', '>', '>>', '2>&1', ')', '&']);

/** Tokens of one command after its program name, up to a separator, a comment or a `--`. */
function argumentsAfter(tokens: string[], start: number): string[] {
  const args: string[] = [];
  for (const token of tokens.slice(start)) {
    if (SEPARATORS.has(token) || token.startsWith('#') || token === '--' || token === '\\') break;
    args.push(token.replace(/^[[(]+|[\])]+$/g, ''));
  }
  return args;
}

interface CommandUse {
  line: string;
  words: string[];
}

/** Every `nhictl ...`, `npx nhictl ...` and `kubectl nhi ...` in code lines, with the words after it. */
function nhictlUses(lines: string[]): CommandUse[] {
  const uses: CommandUse[] = [];
  for (const line of lines) {
    const tokens = line.trim().split(/\s+/);
    tokens.forEach((token, i) => {
      if (token === 'nhictl') uses.push({ line, words: argumentsAfter(tokens, i + 1) });
      if (token === 'kubectl' && tokens[i + 1] === 'nhi')
        uses.push({ line, words: argumentsAfter(tokens, i + 2) });
    });
  }
  return uses;
}

function findCommand(parent: Command, name: string): Command | undefined {
  return parent.commands.find((c) => c.name() === name || c.aliases().includes(name));
}

function acceptsFlag(command: Command, flag: string): boolean {
  const name = flag.split('=')[0] ?? flag;
  if (name === '--help' || name === '-h') return true;
  return command.options.some((o) => o.long === name || o.short === name);
}

/** What is wrong with one use of the CLI, or undefined when the tree has its verb and flags. */
function unknownCommand(program: Command, use: CommandUse): string | undefined {
  const [verb, ...rest] = use.words;
  if (verb === undefined || verb === '' || verb.startsWith('-') || !/^[a-z][a-z-]*$/.test(verb))
    return undefined;
  let command = findCommand(program, verb);
  if (!command) return `${use.line.trim()}: nhictl has no command "${verb}"`;
  let args = rest;
  if (command.commands.length > 0 && args[0] !== undefined && !args[0].startsWith('-')) {
    const sub = findCommand(command, args[0]);
    if (!sub) return `${use.line.trim()}: nhictl ${verb} has no command "${args[0]}"`;
    command = sub;
    args = args.slice(1);
  }
  const unknown = args.filter((a) => /^--?[a-z]/i.test(a) && !acceptsFlag(command, a));
  return unknown.length > 0
    ? `${use.line.trim()}: nhictl ${command.name()} has no option ${unknown.join(', ')}`
    : undefined;
}

/** Every `npm run <script>` in code lines. */
function npmScripts(lines: string[]): string[] {
  return lines.flatMap((line) => [...line.matchAll(/\bnpm\s+run\s+([\w:.-]+)/g)].map((m) => m[1] ?? ''));
}

describe('commands in the documentation', () => {
  const program = buildProgram();
  const scripts = Object.keys(
    (JSON.parse(read(join(root, 'package.json'))) as { scripts: Record<string, string> }).scripts,
  );

  it('finds the commands it checks (a parser that finds nothing would pass everything)', () => {
    const uses = pages.flatMap((p) => nhictlUses(codeLines(read(p))));
    expect(uses.length).toBeGreaterThan(10);
    expect(unknownCommand(program, { line: 'nhictl lokc x', words: ['lokc', 'x'] })).toMatch(
      /no command "lokc"/,
    );
    expect(
      unknownCommand(program, { line: 'nhictl lock x --force', words: ['lock', 'x', '--force'] }),
    ).toMatch(/no option --force/);
    expect(unknownCommand(program, { line: 'nhictl dev upp', words: ['dev', 'upp'] })).toMatch(
      /no command "upp"/,
    );
  });

  it.each(pages.map((p) => [rel(p), p]))(
    'every nhictl command in %s exists, with its flags',
    (_name, page) => {
      const problems = nhictlUses(codeLines(read(page)))
        .map((use) => unknownCommand(program, use))
        .filter((problem): problem is string => problem !== undefined);
      expect(problems).toEqual([]);
    },
  );

  it.each(pages.map((p) => [rel(p), p]))(
    'every npm run in %s names a script of package.json',
    (_name, page) => {
      const unknown = npmScripts(codeLines(read(page))).filter((s) => !scripts.includes(s));
      expect(unknown).toEqual([]);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Alert rules link into the runbooks.

describe('runbook links of the alert rules', () => {
  const runbooks = join(root, 'docs/runbooks.md');
  const rules = [
    ...walk(join(root, 'config'), (p) => /\.(ya?ml|json)$/.test(p)),
    ...walk(join(root, 'charts'), (p) => /\.(ya?ml|tpl|json)$/.test(p)),
  ];
  const links = rules.flatMap((file) =>
    [...read(file).matchAll(/docs\/runbooks\.md#([\w-]+)/g)].map((m) => ({
      file: rel(file),
      anchor: m[1] ?? '',
    })),
  );

  it('land on a section of docs/runbooks.md', () => {
    const anchors = anchorsOfFile(runbooks);
    expect(links.filter((l) => !anchors.has(l.anchor))).toEqual([]);
  });
});
