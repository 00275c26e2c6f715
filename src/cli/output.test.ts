import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { formatListing, type Listing, outputOption, renderTable } from './output.ts';

const listing: Listing = {
  data: {
    generatedAt: new Date('2025-06-01T12:00:00Z'),
    identities: [
      { name: 'support-bot', ready: 'True', risk: undefined, purpose: 'a: colon, "quotes" and # hash' },
      { name: 'yes', count: 3, tags: [] },
    ],
  },
  human: () => 'NAME\nsupport-bot',
};

function parseOutput(args: string[], human?: 'table' | 'text'): string {
  const command = new Command('list').exitOverride().configureOutput({ writeErr: () => {} });
  command.addOption(outputOption(human)).action(() => {});
  command.parse(args, { from: 'user' });
  return command.opts().output as string;
}

describe('formatListing', () => {
  it('prints json and yaml from the same data: yaml parses back to exactly the json', () => {
    const json = JSON.parse(formatListing('json', listing));
    expect(parse(formatListing('yaml', listing))).toEqual(json);
    expect(json.generatedAt).toBe('2025-06-01T12:00:00.000Z');
    expect(json.identities[0]).not.toHaveProperty('risk');
  });

  it('keeps strings that look like other YAML types as strings', () => {
    const yaml = formatListing('yaml', {
      data: { a: 'yes', b: '0123', c: 'null', d: '2025-06-01' },
      human: () => '',
    });
    expect(parse(yaml)).toEqual({ a: 'yes', b: '0123', c: 'null', d: '2025-06-01' });
  });

  it.each(['table', 'text'] as const)('prints the human form for %s, ending in one newline', (format) => {
    expect(formatListing(format, listing)).toBe('NAME\nsupport-bot\n');
    expect(formatListing(format, { data: {}, human: () => 'done\n' })).toBe('done\n');
  });

  it.each(['json', 'yaml'] as const)('ends %s in one newline', (format) => {
    expect(formatListing(format, listing)).toMatch(/[^\n]\n$/);
  });
});

describe('outputOption', () => {
  it.each([
    [[], 'table'],
    [['-o', 'json'], 'json'],
    [['--output', 'yaml'], 'yaml'],
    [['-o', 'table'], 'table'],
  ])('%j selects %s', (args, format) => {
    expect(parseOutput(args)).toBe(format);
  });

  it('defaults to the command’s human form and refuses other formats', () => {
    expect(parseOutput([], 'text')).toBe('text');
    expect(() => parseOutput(['-o', 'table'], 'text')).toThrow(/Allowed choices are text, json, yaml/);
    expect(() => parseOutput(['-o', 'xml'])).toThrow(/argument 'xml' is invalid/);
  });
});

describe('renderTable', () => {
  it('aligns columns and trims trailing space', () => {
    expect(
      renderTable(
        ['A', 'LONGER'],
        [
          ['wide value', 'x'],
          ['y', ''],
        ],
      ),
    ).toBe('A           LONGER\nwide value  x\ny');
  });

  it('cuts a long cell and folds whitespace so one value cannot wreck the table', () => {
    const [, row] = renderTable(['NAME'], [[`a\nb ${'c'.repeat(60)}`]], 10).split('\n');
    expect(row).toBe('a b ccccc…');
  });
});
