// `npx tsx bench/heap-summary.ts FILE [--top=25] [--per=N]`: what a V8 heap snapshot holds, by kind
// of object (the snapshot's node type and constructor or string class), largest first; and the
// strings held most often, which is where copies that could be one shared string show. `--per=N`
// adds each row divided by N (the identities of a bench population: `--heap-snapshot` in (f)).
// Strings held fewer than 50 times are never printed, so a credential in the heap never is.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapRow {
  kind: string;
  count: number;
  bytes: number;
}

const STRING_TYPES = new Set(['string', 'concatenated string', 'sliced string']);
const MIN_REPEATS = 50;

/** Self sizes summed by kind, and by value for strings held at least MIN_REPEATS times. */
export function summarizeHeap(snapshot: Snapshot): { total: HeapRow; kinds: HeapRow[]; strings: HeapRow[] } {
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const kinds = new Map<string, HeapRow>();
  const strings = new Map<string, HeapRow>();
  const add = (map: Map<string, HeapRow>, kind: string, bytes: number) => {
    const row = map.get(kind) ?? { kind, count: 0, bytes: 0 };
    row.count += 1;
    row.bytes += bytes;
    map.set(kind, row);
  };
  const total: HeapRow = { kind: 'total', count: 0, bytes: 0 };
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt] as number] ?? 'unknown';
    const name = snapshot.strings[snapshot.nodes[i + nameAt] as number] ?? '';
    const bytes = snapshot.nodes[i + sizeAt] as number;
    total.count += 1;
    total.bytes += bytes;
    if (STRING_TYPES.has(type)) {
      add(kinds, `(${type})`, bytes);
      add(strings, name, bytes);
    } else
      add(kinds, type === 'object' || type === 'closure' ? `${type} ${name}` : `(${type}) ${name}`, bytes);
  }
  const largest = (rows: Iterable<HeapRow>) => [...rows].sort((a, b) => b.bytes - a.bytes);
  return {
    total,
    kinds: largest(kinds.values()),
    strings: largest([...strings.values()].filter((row) => row.count >= MIN_REPEATS)),
  };
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, per: { type: 'string' } },
  });
  const file = positionals[0];
  if (file === undefined) {
    console.error('usage: npx tsx bench/heap-summary.ts FILE.heapsnapshot [--top=25] [--per=N]');
    process.exit(2);
  }
  const top = Number(values.top);
  const per = values.per === undefined ? undefined : Number(values.per);
  const { total, kinds, strings } = summarizeHeap(JSON.parse(readFileSync(file, 'utf8')) as Snapshot);
  const line = (row: HeapRow, label: string) => {
    const share =
      per === undefined
        ? ''
        : `  ${(row.count / per).toFixed(1).padStart(7)} ${(row.bytes / per).toFixed(0).padStart(7)} B`;
    return `${(row.bytes / 2 ** 20).toFixed(2).padStart(8)} MiB ${String(row.count).padStart(9)}${share}  ${label}`;
  };
  const header = `     self     count${per === undefined ? '' : `  per ${per}: count, bytes`}`;
  console.log(`${header}\n${line(total, 'everything')}\n`);
  console.log('by kind');
  for (const row of kinds.slice(0, top)) console.log(line(row, row.kind));
  console.log(`\nstrings held ${MIN_REPEATS} times or more`);
  for (const row of strings.slice(0, top)) console.log(line(row, JSON.stringify(row.kind.slice(0, 60))));
}

if (import.meta.url === `file://${process.argv[1]}`) main();
