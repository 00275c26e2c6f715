// `nhictl report --html FILE`: one self-contained HTML page (inline CSS, no scripts, no external
// assets) for security and compliance reviewers: summary, the 5x5 risk matrix, identities by level
// with their factors and remediation deadlines, shadow identities, dangling and wildcard trust,
// ghosts left with our marks, the full inventory, and what was not judged. Names only, no secrets.

import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import {
  collectInventory,
  type FindingKind,
  type InventoryItem,
  SYSTEM_RULES,
  summarize,
} from '../governance/inventory/index.ts';
import { IMPACT_LABELS, LIKELIHOOD_LABELS, type RiskLevel, RiskLevels } from '../governance/risk/index.ts';
import {
  addSourceOptions,
  describeSources,
  inventorySources,
  type SourceOptions,
  sourceConfig,
} from './inventory.ts';
import { withProgressLine } from './progress.ts';
import { type AssessedIdentity, countedMatrix } from './risk.ts';

export interface ReportData {
  generatedAt: Date;
  sources: string[];
  items: InventoryItem[];
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
export const esc = (text: unknown): string => String(text ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

const LEVEL_CLASS: Record<RiskLevel, string> = {
  Low: 'low',
  Moderate: 'moderate',
  High: 'high',
  Critical: 'critical',
};

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#1d2330}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #e3e6ee;padding-bottom:.3rem}
.muted{color:#667085}table{border-collapse:collapse;width:100%;margin:.6rem 0}
th,td{border:1px solid #e3e6ee;padding:.35rem .5rem;text-align:left;vertical-align:top}th{background:#f5f7fb}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{border:1px solid #e3e6ee;border-radius:8px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.6rem}
.matrix td{text-align:center;width:15%;font-weight:600}.names{font-weight:400;font-size:.8em;word-break:break-all}.matrix th{text-align:center}
.low{background:#dff3e4}.moderate{background:#fff4c2}.high{background:#ffd8b0}.critical{background:#ffb3b3}
.sev-critical{color:#a40000;font-weight:700}.sev-high{color:#c24100;font-weight:600}.sev-warning{color:#8a6d00}.sev-info{color:#667085}
.pill{display:inline-block;border-radius:9px;padding:0 .5rem;font-size:.85em}
.factors td:first-child{width:3rem;text-align:right;font-variant-numeric:tabular-nums}
code{background:#f5f7fb;padding:0 .2rem;border-radius:3px}
`;

function table(headers: string[], rows: string[][]): string {
  if (rows.length === 0) return '<p class="muted">None.</p>';
  const head = headers.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function findingsOf(item: InventoryItem, kinds?: FindingKind[]): string {
  return item.findings
    .filter((f) => !kinds || kinds.includes(f.kind))
    .map((f) => `<div class="sev-${f.severity}">[${esc(f.severity)}] ${esc(f.message)}</div>`)
    .join('');
}

function assessedOf(items: readonly InventoryItem[]): AssessedIdentity[] {
  return items
    .filter((i) => i.type === 'AgentIdentity' && i.risk)
    .map((i) => ({
      namespace: i.namespace ?? '',
      name: i.name,
      owner: i.owner ?? '',
      environment: i.environment ?? '',
      risk: i.risk as NonNullable<InventoryItem['risk']>,
      ...(i.rightSizing ? { rightSizing: i.rightSizing } : {}),
    }))
    .sort((a, b) => b.risk.score - a.risk.score);
}

function summarySection(data: ReportData): string {
  const s = summarize(data.items);
  const card = (label: string, value: number, cls = '') =>
    `<div class="card ${cls}"><b>${value}</b>${esc(label)}</div>`;
  return `<section id="summary"><h2>Summary</h2><div class="cards">
${card('identities', s.total)}${card('managed by AgentIdentities', s.managed)}${card('shadow identities', s.shadow.length, s.shadow.length ? 'high' : '')}
${card('dangling trust', s.danglingTrust.length, s.danglingTrust.length ? 'high' : '')}${card('wildcard trust', s.wildcardTrust.length, s.wildcardTrust.length ? 'high' : '')}
${card('critical findings', s.bySeverity.critical, s.bySeverity.critical ? 'critical' : '')}${card('high findings', s.bySeverity.high)}</div>
${table(
  ['Type', 'Count'],
  Object.entries(s.byType).map(([t, n]) => [esc(t), String(n)]),
)}</section>`;
}

/** Up to three names under a cell's count; the title attribute holds them all. */
function cellNames(names: string[]): string {
  if (names.length === 0) return '';
  const shown = names.slice(0, 3).map(esc).join('<br>');
  return `<div class="names">${shown}${names.length > 3 ? `<br>and ${names.length - 3} more` : ''}</div>`;
}

function matrixSection(assessed: AssessedIdentity[]): string {
  const matrix = countedMatrix(assessed);
  const head = `<tr><th>Likelihood \\ Impact</th>${IMPACT_LABELS.map((l, i) => `<th>${i + 1} ${esc(l)}</th>`).join('')}</tr>`;
  const rows = matrix
    .map((row) => {
      const l = row[0]?.likelihood ?? 1;
      const cells = row
        .map(
          (c) =>
            `<td class="${LEVEL_CLASS[c.level]}" title="${esc(c.identities.join(', ') || c.level)}">${c.count || '·'}<br><span class="muted">${esc(c.level)} · ${c.score}</span>${cellNames(c.identities)}</td>`,
        )
        .join('');
      return `<tr><th>${l} ${esc(LIKELIHOOD_LABELS[l - 1])}</th>${cells}</tr>`;
    })
    .join('\n');
  return `<section id="risk-matrix"><h2>Risk matrix</h2>
<p class="muted">Likelihood x impact (NIST-style 5x5). Critical when both are 4 or more; High from score 10; Moderate from 5.
Remediation: Critical 7 days, High 30 days, Moderate 90 days (next quarterly review), Low with routine hardening.</p>
<table class="matrix"><thead>${head}</thead><tbody>${rows}</tbody></table></section>`;
}

/** Unused grants and the narrower scopes the operator suggests (status.activity.rightSizing). */
function rightSizingBlock(a: AssessedIdentity): string {
  const r = a.rightSizing;
  if (!r || r.unused.length === 0) return '';
  const partial = r.complete ? '' : ' (partial: the audit logs or the identity do not span the window)';
  return `<div class="unused-grants"><p>Unused grants since ${esc(r.since)}${esc(partial)}:</p>${table(
    ['Field', 'Grant', 'Unused'],
    r.unused.map((u) => [`<code>${esc(u.field)}</code>`, esc(u.grant), esc(u.unused)]),
  )}<p>Suggested scopes (still allow every request seen):</p><pre>${esc(
    stringify({ scopes: r.suggestedScopes ?? [] }),
  )}</pre></div>`;
}

function levelsSection(assessed: AssessedIdentity[], now: Date): string {
  const parts = [...RiskLevels].reverse().map((level) => {
    const inLevel = assessed.filter((a) => a.risk.level === level);
    const blocks = inLevel.map((a) => {
      const due = a.risk.remediateBy;
      const overdue = due && Date.parse(due) < now.getTime();
      const factors = a.risk.factors
        .map(
          (f) =>
            `<tr><td>${f.weight >= 0 ? '+' : ''}${f.weight}</td><td><code>${esc(f.id)}</code></td><td>${esc(f.description)}</td></tr>`,
        )
        .join('');
      return `<h4>${esc(a.namespace)}/${esc(a.name)} <span class="pill ${LEVEL_CLASS[level]}">${esc(level)} ${a.risk.score}</span></h4>
<p>Owner ${esc(a.owner)} · ${esc(a.environment)} · likelihood ${a.risk.likelihood} x impact ${a.risk.impact} · remediate by ${
        due
          ? `<b class="${overdue ? 'sev-critical' : ''}">${esc(due.slice(0, 10))}${overdue ? ' (overdue)' : ''}</b>`
          : 'routine hardening'
      }</p><table class="factors"><tbody>${factors}</tbody></table>${rightSizingBlock(a)}`;
    });
    return `<h3 id="level-${LEVEL_CLASS[level]}">${esc(level)} (${inLevel.length})</h3>${blocks.join('\n') || '<p class="muted">None.</p>'}`;
  });
  return `<section id="identities-by-level"><h2>Identities by risk level</h2>${parts.join('\n')}</section>`;
}

function listSection(
  id: string,
  title: string,
  intro: string,
  items: InventoryItem[],
  kinds: FindingKind[],
): string {
  const rows = items.map((i) => [
    esc(i.type),
    esc(i.namespace ?? '-'),
    esc(i.name),
    esc(i.provider),
    esc((i.boundTo ?? []).join(', ') || '-'),
    findingsOf(i, kinds),
  ]);
  return `<section id="${id}"><h2>${esc(title)} (${items.length})</h2><p class="muted">${esc(intro)}</p>${table(
    ['Type', 'Namespace', 'Name', 'Provider', 'Trusts / bound to', 'Why'],
    rows,
  )}</section>`;
}

function inventorySection(items: InventoryItem[]): string {
  const rows = items
    .filter((i) => i.type !== 'System')
    .map((i) => [
      esc(i.type),
      esc(i.namespace ?? '-'),
      esc(i.name),
      esc(i.provider),
      esc(i.owner ?? '-'),
      esc(i.purpose ?? '-'),
      esc(i.environment ?? '-'),
      esc(i.state),
      i.managed ? 'yes' : 'no',
      findingsOf(i) || '-',
    ]);
  return `<section id="inventory"><h2>Inventory</h2>${table(
    ['Type', 'Namespace', 'Name', 'Provider', 'Owner', 'Purpose', 'Env', 'State', 'Managed', 'Findings'],
    rows,
  )}</section>`;
}

function systemSection(items: InventoryItem[]): string {
  const system = items.filter((i) => i.type === 'System');
  return `<section id="system"><h2>Not judged: system accounts (${system.length})</h2><ul>${SYSTEM_RULES.map(
    (r) => `<li>${esc(r)}</li>`,
  ).join(
    '',
  )}</ul><p class="muted">${system.map((i) => esc(`${i.namespace}/${i.name}`)).join(', ')}</p></section>`;
}

export function renderHtmlReport(data: ReportData): string {
  const s = summarize(data.items);
  const assessed = assessedOf(data.items);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>NHI governance report</title><style>${CSS}</style></head>
<body><h1>Non-human identity governance report</h1>
<p class="muted">Generated ${esc(data.generatedAt.toISOString())} · sources: ${esc(data.sources.join(', '))}</p>
${summarySection(data)}
${matrixSection(assessed)}
${levelsSection(assessed, data.generatedAt)}
${listSection('shadow-identities', 'Shadow identities', 'Not owned by an AgentIdentity and without an nhi.dev/owner annotation or tag: find an owner, adopt them into an AgentIdentity, or remove them.', s.shadow, ['shadow', 'unused'])}
${listSection('dangling-trust', 'Dangling trust', 'Roles bound to ServiceAccounts that do not exist: whoever creates that ServiceAccount inherits the grant.', s.danglingTrust, ['dangling-trust'])}
${listSection('wildcard-trust', 'Wildcard trust', 'Roles that admit ServiceAccounts by wildcard or selector, or do not restrict them at all.', s.wildcardTrust, ['wildcard-trust'])}
${listSection('ghosts', 'Ghosts left with operator marks', 'Objects that carry nhi.dev/identity-uid of an AgentIdentity that no longer exists.', s.orphanedMarks, ['orphaned-marks'])}
${listSection('hard-coded-secrets', 'Hard-coded credentials', 'Literal credentials in pod templates, ConfigMaps and annotations (rule, location and a fingerprint; never the value): move each into a managed, rotated secret (see docs/secret-scanning.md).', s.hardCodedSecrets, ['hard-coded-secret'])}
${listSection('activity', 'Activity: anomalies and unused grants', 'From the audit logs the operator follows: first use of an action or source never seen in the baseline, bursts of denials, use after quarantine, and grants never used over a whole window (each identity above shows the suggested narrower scopes).', s.activity, ['anomaly', 'unused-grants'])}
${inventorySection(data.items)}
${systemSection(data.items)}
</body></html>
`;
}

export function registerReportCommand(program: Command): void {
  addSourceOptions(
    program
      .command('report')
      .description(
        'write a self-contained HTML report: inventory, shadow identities, dangling trust, risk matrix and factors',
      ),
  )
    .requiredOption('--html <file>', 'where to write the HTML report')
    .action(async (options: SourceOptions & { html: string }) => {
      const config = sourceConfig(options, process.env);
      const now = new Date();
      const items = await withProgressLine(inventorySources(config), (sources) =>
        collectInventory({ ...sources, now: () => now }),
      );
      const file = resolve(options.html);
      writeFileSync(file, renderHtmlReport({ generatedAt: now, sources: describeSources(config), items }));
      const s = summarize(items);
      console.log(
        `wrote ${file}: ${s.total} identities, ${s.shadow.length} shadow, ${s.danglingTrust.length} dangling trust, ${s.bySeverity.critical} critical findings`,
      );
    });
}
