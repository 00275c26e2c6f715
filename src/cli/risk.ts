// `nhictl risk [NAME]`: the 5x5 risk matrix of the AgentIdentities (counts per cell) and, for each
// identity, its score, level, remediation deadline and the factors behind it. Computed now with
// assessRisk from the live objects, so it works whether or not the operator has written status.risk.

import type { Command } from 'commander';
import type { AgentIdentity, RightSizingStatus, RiskStatus } from '../api/v1alpha1/types.ts';
import { kubernetesInventoryPort } from '../governance/inventory/index.ts';
import {
  assessRisk,
  IMPACT_LABELS,
  LIKELIHOOD_LABELS,
  type RiskCell,
  type RiskLevel,
  riskMatrix,
} from '../governance/risk/index.ts';
import { renderRightSizing } from './activity.ts';
import { loadKubeConfig } from './kube.ts';
import { type OutputFormat, outputOption, printListing, renderTable } from './output.ts';

export interface AssessedIdentity {
  namespace: string;
  name: string;
  owner: string;
  environment: string;
  risk: RiskStatus;
  /** Grants against real use, from status.activity.rightSizing (the operator's audit logs). */
  rightSizing?: RightSizingStatus;
}

export interface MatrixCell extends RiskCell {
  count: number;
  identities: string[];
}

export function assessAll(identities: readonly AgentIdentity[], now: Date): AssessedIdentity[] {
  return identities
    .map((identity) => ({
      namespace: identity.metadata.namespace ?? '',
      name: identity.metadata.name,
      owner: identity.spec.owner.team,
      environment: identity.spec.environment,
      risk: assessRisk({ identity, now }),
      ...(identity.status?.activity?.rightSizing
        ? { rightSizing: identity.status.activity.rightSizing }
        : {}),
    }))
    .sort(
      (a, b) =>
        b.risk.score - a.risk.score || `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`),
    );
}

/** The matrix rows (likelihood 5 at the top) with the identities that fall in each cell. */
export function countedMatrix(assessed: readonly AssessedIdentity[]): MatrixCell[][] {
  return riskMatrix().map((row) =>
    row.map((cell) => {
      const identities = assessed
        .filter((a) => a.risk.likelihood === cell.likelihood && a.risk.impact === cell.impact)
        .map((a) => `${a.namespace}/${a.name}`);
      return { ...cell, count: identities.length, identities };
    }),
  );
}

const SHORT: Record<RiskLevel, string> = { Low: 'Low', Moderate: 'Mod', High: 'High', Critical: 'CRIT' };

export function renderMatrix(matrix: MatrixCell[][]): string {
  const label = (i: number) => `${i + 1} ${LIKELIHOOD_LABELS[i]}`;
  const rowHead = Math.max(...LIKELIHOOD_LABELS.map((_, i) => label(i).length));
  const width = 14;
  const header = `${'LIKELIHOOD'.padEnd(rowHead)} | ${IMPACT_LABELS.map((l, i) => `${i + 1} ${l}`.slice(0, width).padEnd(width)).join(' ')}`;
  const lines = [`${' '.repeat(rowHead)} | IMPACT`, header, '-'.repeat(header.length)];
  for (const row of matrix) {
    const likelihood = row[0]?.likelihood ?? 1;
    const cells = row.map((cell) =>
      `${SHORT[cell.level]} ${cell.count > 0 ? cell.count : '.'}`.padEnd(width),
    );
    lines.push(`${label(likelihood - 1).padEnd(rowHead)} | ${cells.join(' ')}`);
  }
  return lines.join('\n');
}

export function renderRiskReport(assessed: readonly AssessedIdentity[]): string {
  const lines = [renderMatrix(countedMatrix(assessed)), ''];
  if (assessed.length === 0) return [...lines, 'no AgentIdentities found'].join('\n');
  lines.push(
    renderTable(
      ['NAMESPACE', 'NAME', 'OWNER', 'ENV', 'L', 'I', 'SCORE', 'LEVEL', 'REMEDIATE BY'],
      assessed.map((a) => [
        a.namespace,
        a.name,
        a.owner,
        a.environment,
        String(a.risk.likelihood),
        String(a.risk.impact),
        String(a.risk.score),
        a.risk.level,
        a.risk.remediateBy?.slice(0, 10) ?? '-',
      ]),
    ),
  );
  for (const a of assessed) {
    lines.push(
      '',
      `${a.namespace}/${a.name}: ${a.risk.level} (likelihood ${a.risk.likelihood} x impact ${a.risk.impact} = ${a.risk.score})`,
    );
    for (const f of a.risk.factors) {
      lines.push(
        `  ${(f.weight >= 0 ? `+${f.weight}` : String(f.weight)).padStart(3)}  ${f.id.padEnd(36)} ${f.description}`,
      );
    }
    if (a.rightSizing?.unused.length)
      lines.push(...renderRightSizing(a.rightSizing).flatMap((l) => l.split('\n').map((x) => `  ${x}`)));
  }
  return lines.join('\n');
}

export function riskJson(assessed: readonly AssessedIdentity[], now: Date): unknown {
  return {
    generatedAt: now.toISOString(),
    matrix: countedMatrix(assessed).flat(),
    identities: assessed,
  };
}

export async function readIdentities(
  name: string | undefined,
  namespace: string | undefined,
): Promise<AgentIdentity[]> {
  const all = await kubernetesInventoryPort(loadKubeConfig()).listAgentIdentities();
  const inNamespace = namespace ? all.filter((i) => i.metadata.namespace === namespace) : all;
  if (!name) return inNamespace;
  const match = inNamespace.filter((i) => i.metadata.name === name);
  if (match.length === 0)
    throw new Error(`AgentIdentity ${namespace ? `${namespace}/` : ''}${name} not found`);
  if (match.length > 1) {
    throw new Error(
      `AgentIdentity ${name} exists in ${match.map((i) => i.metadata.namespace).join(', ')}: pass -n`,
    );
  }
  return match;
}

export function registerRiskCommand(program: Command): void {
  program
    .command('risk [name]')
    .description(
      'the 5x5 risk matrix of AgentIdentities (all namespaces unless -n) with each score explained',
    )
    .option('-n, --namespace <namespace>', 'only AgentIdentities in this namespace')
    .addOption(outputOption())
    .action(async (name: string | undefined, options: { namespace?: string; output: OutputFormat }) => {
      const now = new Date();
      const assessed = assessAll(await readIdentities(name, options.namespace), now);
      printListing(options.output, {
        data: riskJson(assessed, now),
        human: () => renderRiskReport(assessed),
      });
    });
}
