// BENCHMARKS.md: machine facts, then one row per figure of issue 11's table (min/median/max over the
// repeated runs, the baseline measured in the same run, the target, met or not), then the details each
// scenario recorded. Pure: the runner gathers, this writes.

import { formatSummary, type Summary } from './stats.ts';

export interface Target {
  /** How the target reads in the table (`≤ 1.5×`). */
  text: string;
  /** Whether a measured value meets it; undefined when the figure has no numeric target. */
  met?: (value: number) => boolean;
}

export interface FigureRow {
  scenario: string;
  figure: string;
  unit: string;
  /** One value per repeated run. */
  measured: Summary;
  /** The baseline measured in the same run (same units), when there is one. */
  baseline?: Summary;
  baselineText?: string;
  target: Target;
}

export interface MachineFacts {
  date: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  components: string[];
  load: string;
}

export interface ReportInput {
  facts: MachineFacts;
  command: string;
  durationMin: number;
  rows: FigureRow[];
  /** Free text sections: a heading and its lines (details per scenario, causes, notes). */
  sections: Array<{ heading: string; lines: string[] }>;
  shortened?: string;
}

/** Judged on the median of the repeated runs; "not met" names the worst run too. */
export function verdict(row: FigureRow): string {
  const met = row.target.met;
  if (!met || row.measured.n === 0 || !Number.isFinite(row.measured.median)) return '—';
  if (met(row.measured.median))
    return met(row.measured.min) && met(row.measured.max) ? 'met' : 'met (median; not in every run)';
  return 'not met';
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

export function table(header: string[], rows: string[][]): string[] {
  return [
    `| ${header.map(cell).join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
}

export function renderReport(input: ReportInput): string {
  const { facts } = input;
  const lines = [
    '# Benchmarks',
    '',
    `Written by \`${input.command}\` (bench/run.ts) on ${facts.date}, in ${input.durationMin.toFixed(0)} minutes.`,
    'Every figure is measured against the real local control plane (etcd, kube-apiserver, kube-controller-manager),',
    'moto and the operator as a separate process (the compiled main.js), read from outside: its /metrics, /proc, and',
    'a counting proxy in front of the apiserver and moto that records every request the operator makes.',
    'Nothing here is a test: no figure gates a build. Figures are min / median / max over the repeated runs',
    '(one value when there was one run); "met" is judged on the median.',
    '',
    '## Machine',
    '',
    ...table(
      ['fact', 'value'],
      [
        ['CPU', `${facts.cores} × ${facts.cpu}`],
        ['memory', `${facts.memoryGiB} GiB`],
        ['Node', facts.node],
        ['components', facts.components.join(', ')],
        ['load when the run started', facts.load],
      ],
    ),
    '',
    ...(input.shortened ? [`**Shortened run:** ${input.shortened}`, ''] : []),
    '## Figures (issue 11)',
    '',
    ...table(
      ['', 'figure', 'baseline (same run)', 'measured', 'target', 'verdict'],
      input.rows.map((row) => [
        row.scenario,
        row.figure,
        row.baselineText ?? (row.baseline ? formatSummary(row.baseline, row.unit) : '—'),
        formatSummary(row.measured, row.unit),
        row.target.text,
        verdict(row),
      ]),
    ),
    '',
  ];
  for (const section of input.sections) lines.push(`## ${section.heading}`, '', ...section.lines, '');
  return `${lines.join('\n').trimEnd()}\n`;
}
