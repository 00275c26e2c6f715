// The IdentityPolicy's maxRiskLevel, judged on what the spec asks for (not on transient state such as
// "no activity yet", which would make a new identity flap): the risk module's explainable factors name
// why. Pure: (identity, policy, now) => field-named violations.

import type { AgentIdentity, IdentityPolicy } from '../api/v1alpha1/types.ts';
import { assessRisk, exceedsMaxRiskLevel } from '../governance/risk/index.ts';

export function riskGate(identity: AgentIdentity, policy: IdentityPolicy | undefined, now: Date): string[] {
  const max = policy?.spec.environments[identity.spec.environment]?.maxRiskLevel;
  if (!max) return [];
  const { status: _status, ...intrinsic } = identity;
  const risk = assessRisk({ identity: intrinsic, now });
  if (!exceedsMaxRiskLevel(risk, max)) return [];
  const why = risk.factors
    .filter((f) => f.id.startsWith('likelihood.'))
    .map((f) => f.id.replace('likelihood.', ''))
    .join(', ');
  return [
    `spec: risk ${risk.level} (likelihood ${risk.likelihood} x impact ${risk.impact}) exceeds maxRiskLevel ${max} for ${identity.spec.environment}${why ? `: ${why}` : ''}`,
  ];
}
