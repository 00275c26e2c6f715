// The one `--output` of every listing command (`-o table|json|yaml`, or `text|json|yaml` where the
// human form is a report rather than a table) and the one formatter behind it: a command hands over
// its data and how to show it to a person; json and yaml are the same data, printed two ways.

import { Option } from 'commander';
import { stringify } from 'yaml';

export type HumanFormat = 'table' | 'text';
export type OutputFormat = HumanFormat | 'json' | 'yaml';

/** `-o, --output <format>` with its choices checked by commander (an unknown format is an error). */
export function outputOption(human: HumanFormat = 'table'): Option {
  return new Option('-o, --output <format>', 'output format').choices([human, 'json', 'yaml']).default(human);
}

export interface Listing {
  /** What json and yaml print: plain data (undefined fields are left out of both). */
  data: unknown;
  /** What a person sees: the table or report. */
  human: () => string;
}

/** The text to print for `format`, always ending in one newline. */
export function formatListing(format: OutputFormat, listing: Listing): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(listing.data, null, 2)}\n`;
    case 'yaml':
      // Through JSON first, so yaml carries exactly what json does (no undefined, dates as strings).
      return stringify(JSON.parse(JSON.stringify(listing.data ?? null)), { lineWidth: 0 });
    default: {
      const text = listing.human();
      return text.endsWith('\n') ? text : `${text}\n`;
    }
  }
}

export function printListing(
  format: OutputFormat,
  listing: Listing,
  out: Pick<NodeJS.WriteStream, 'write'> = process.stdout,
): void {
  out.write(formatListing(format, listing));
}

/** A plain aligned table; cells are cut at `max` characters so one long value cannot wreck it. */
export function renderTable(headers: string[], rows: string[][], max = 48): string {
  const cut = (text: string) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
  const cells = [headers, ...rows.map((row) => row.map((cell) => cut(cell.replace(/\s+/g, ' '))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
