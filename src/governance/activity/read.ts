// The thin edge: reads audit files (JSON lines, or one JSON document such as a CloudTrail log
// file) and hands each parsed value to a source's parser. A line that is not JSON is counted and
// skipped; a missing file is an error naming it.

import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { parseCloudTrail } from './cloudtrail.ts';
import { parseKubernetesAudit } from './kubernetes-audit.ts';
import type { ActivityEvent, ParseStats } from './types.ts';
import { parseVaultAudit } from './vault-audit.ts';

export type ActivitySource = 'kubernetes' | 'vault' | 'cloudtrail';

export const PARSERS: Record<ActivitySource, (value: unknown) => ActivityEvent[]> = {
  kubernetes: parseKubernetesAudit,
  vault: parseVaultAudit,
  cloudtrail: parseCloudTrail,
};

/** Parses text that is either JSON lines or one JSON document. */
export function parseText(source: ActivitySource, text: string, stats?: ParseStats): ActivityEvent[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const parse = PARSERS[source];
  if (!trimmed.includes('\n')) return parseLine(parse, trimmed, stats);
  try {
    // A pretty-printed document (a CloudTrail file) is one value over many lines.
    const whole = JSON.parse(trimmed);
    if (stats) stats.lines += 1;
    return parse(whole);
  } catch {
    return trimmed.split('\n').flatMap((line) => parseLine(parse, line, stats));
  }
}

function parseLine(parse: (value: unknown) => ActivityEvent[], line: string, stats?: ParseStats) {
  if (line.trim() === '') return [];
  if (stats) stats.lines += 1;
  try {
    const events = parse(JSON.parse(line));
    if (stats && events.length === 0) stats.skipped += 1;
    return events;
  } catch {
    if (stats) stats.skipped += 1;
    return [];
  }
}

/** Records the time of the first event of a log (appended in time order), whoever made it. */
function firstEventOf(parse: (value: unknown) => ActivityEvent[], line: string, stats: ParseStats): void {
  try {
    const [event] = parse(JSON.parse(line));
    if (event) stats.firstEvent = event.time;
  } catch {
    // not JSON: the next line may tell
  }
}

export interface ReadFilter {
  /** A line is parsed only if it contains one of these (the principals' names): a cheap pre-filter. */
  needles?: readonly string[];
  /** Only events this accepts are kept, so memory holds what is wanted, not the whole file. */
  keep?: (event: ActivityEvent) => boolean;
}

/** Every event in `file` (JSON lines, streamed; `.gz` is decompressed; CloudTrail files whole). */
export async function readActivityFile(
  source: ActivitySource,
  file: string,
  stats: ParseStats = { lines: 0, skipped: 0 },
  filter: ReadFilter = {},
): Promise<ActivityEvent[]> {
  if (!existsSync(file)) throw new Error(`${source} audit log ${file}: no such file`);
  const raw = createReadStream(file);
  const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  if (source === 'cloudtrail') {
    let text = '';
    for await (const chunk of input) text += chunk.toString();
    const events = parseText(source, text, stats);
    const first = events.map((e) => e.time).sort()[0];
    if (first && (stats.firstEvent === undefined || first < stats.firstEvent)) stats.firstEvent = first;
    return events.filter(filter.keep ?? (() => true));
  }
  const parse = PARSERS[source];
  const needles = filter.needles?.filter((n) => n.length > 0);
  const keep = filter.keep ?? (() => true);
  const out: ActivityEvent[] = [];
  for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (stats.firstEvent === undefined && line.trim() !== '') firstEventOf(parse, line, stats);
    if (needles && line.trim() !== '' && !needles.some((n) => line.includes(n))) {
      stats.lines += 1;
      continue;
    }
    for (const event of parseLine(parse, line, stats)) if (keep(event)) out.push(event);
  }
  return out;
}
