// Risk of one AgentIdentity on a NIST-style 5x5 matrix (reference: nhi-risk-practices.txt).
// Likelihood (1 Rare .. 5 Almost certain) comes from measurable likelihood factors, impact
// (1 Negligible .. 5 Catastrophic) from environment, data classification and blast radius. The
// level follows the matrix; the remediation deadline follows the level (Critical 7 days, High 30,
// Moderate at the next quarterly review, Low none). Pure: the caller gathers the input.

import type { AgentIdentity, AgentIdentityStatus, RiskFactor, RiskStatus } from '../../api/v1alpha1/types.ts';
import { type HardCodedSecret, impactFactors, likelihoodFactors } from './factors.ts';
import { analyzeGrants } from './grants.ts';

export type RiskLevel = RiskStatus['level'];
export const RiskLevels: readonly RiskLevel[] = ['Low', 'Moderate', 'High', 'Critical'];

export const LIKELIHOOD_LABELS = ['Rare', 'Unlikely', 'Possible', 'Likely', 'Almost certain'] as const;
export const IMPACT_LABELS = ['Negligible', 'Minor', 'Moderate', 'Major', 'Catastrophic'] as const;

/** Days to remediate from detection; Low risks wait for routine hardening (no deadline). */
export const REMEDIATION_DAYS: Readonly<Record<RiskLevel, number | undefined>> = {
  Critical: 7,
  High: 30,
  Moderate: 90,
  Low: undefined,
};

const DAY_MS = 86_400_000;

/**
 * The matrix: Critical when both likelihood and impact are high (4 or 5, i.e. score >= 16);
 * otherwise High from score 10, Moderate from 5, Low below.
 */
export function levelOf(likelihood: number, impact: number): RiskLevel {
  const score = likelihood * impact;
  if (likelihood >= 4 && impact >= 4) return 'Critical';
  if (score >= 10) return 'High';
  if (score >= 5) return 'Moderate';
  return 'Low';
}

export interface RiskCell {
  likelihood: number;
  impact: number;
  score: number;
  level: RiskLevel;
}

/** The 5x5 grid for rendering: rows from likelihood 5 (top) down to 1, columns impact 1..5. */
export function riskMatrix(): RiskCell[][] {
  return [5, 4, 3, 2, 1].map((likelihood) =>
    [1, 2, 3, 4, 5].map((impact) => ({
      likelihood,
      impact,
      score: likelihood * impact,
      level: levelOf(likelihood, impact),
    })),
  );
}

export function compareLevels(a: RiskLevel, b: RiskLevel): number {
  return RiskLevels.indexOf(a) - RiskLevels.indexOf(b);
}

/** True when the risk is above the admitted maximum; no maximum (or no risk yet) admits anything. */
export function exceedsMaxRiskLevel(
  risk: Pick<RiskStatus, 'level'> | undefined,
  maxRiskLevel: RiskLevel | undefined,
): boolean {
  if (!risk || !maxRiskLevel) return false;
  return compareLevels(risk.level, maxRiskLevel) > 0;
}

export interface RiskInput {
  /**
   * The identity as the reconciler sees it: spec (CRD defaults applied or not), metadata
   * (creationTimestamp) and the status it is about to write (conditions, lastUsed, secrets). The
   * previous `status.risk` keeps the remediation deadline stable while the level stays the same.
   */
  identity: Pick<AgentIdentity, 'metadata' | 'spec'> & { status?: AgentIdentityStatus | undefined };
  /** The reconcile's clock. */
  now: Date;
  /** When this risk was first detected, if the caller tracks it; see remediationStart. */
  firstDetected?: Date | undefined;
  /** Literal credentials found in the identity's workload (by the inventory's scan), if scanned. */
  hardCodedSecrets?: readonly HardCodedSecret[] | undefined;
}

/** 1 + ceil(points / 2), at most 5: no factor is Rare, one or two points Unlikely, ... seven Almost certain. */
export function likelihoodFromPoints(points: number): number {
  return Math.min(5, Math.max(1, 1 + Math.ceil(points / 2)));
}

export function impactFromPoints(points: number): number {
  return Math.min(5, Math.max(1, points));
}

const sum = (factors: RiskFactor[]) => factors.reduce((total, factor) => total + factor.weight, 0);

/**
 * When the clock for the remediation deadline starts: the caller's `firstDetected`; else, on the
 * first assessment, the identity's creation (its spec carried the risk since then); else, when the
 * level changed since the last assessment, now (the new level was first detected now).
 */
function remediationStart(input: RiskInput): Date {
  if (input.firstDetected) return input.firstDetected;
  const previous = input.identity.status?.risk;
  const created = input.identity.metadata.creationTimestamp;
  if (!previous && created && Number.isFinite(Date.parse(created))) return new Date(created);
  return input.now;
}

export function assessRisk(input: RiskInput): RiskStatus {
  const { identity, now } = input;
  const subject = {
    spec: identity.spec,
    status: identity.status,
    creationTimestamp: identity.metadata.creationTimestamp,
    hardCodedSecrets: input.hardCodedSecrets,
  };
  const grants = analyzeGrants(identity.spec.scopes);
  const likelihoodList = likelihoodFactors(subject, now, grants);
  const impactList = impactFactors(subject, grants);
  const likelihood = likelihoodFromPoints(sum(likelihoodList));
  const impact = impactFromPoints(sum(impactList));
  const level = levelOf(likelihood, impact);
  const risk: RiskStatus = {
    likelihood,
    impact,
    score: likelihood * impact,
    level,
    factors: [...likelihoodList, ...impactList],
  };
  const days = REMEDIATION_DAYS[level];
  if (days === undefined) return risk;
  const previous = identity.status?.risk;
  if (previous?.level === level && previous.remediateBy && !input.firstDetected) {
    risk.remediateBy = previous.remediateBy;
  } else {
    risk.remediateBy = new Date(remediationStart(input).getTime() + days * DAY_MS).toISOString();
  }
  return risk;
}

/** "Likely (4) x Major (4) = 16 Critical": one line for logs, Events and tables. */
export function summarizeRisk(risk: Pick<RiskStatus, 'likelihood' | 'impact' | 'score' | 'level'>): string {
  const l = LIKELIHOOD_LABELS[risk.likelihood - 1] ?? '?';
  const i = IMPACT_LABELS[risk.impact - 1] ?? '?';
  return `${l} (${risk.likelihood}) x ${i} (${risk.impact}) = ${risk.score} ${risk.level}`;
}
