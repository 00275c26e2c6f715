// Risk scoring of AgentIdentities: pure functions, called by the reconciler (status.risk), nhictl
// risk and the HTML report.

export { THRESHOLDS } from './factors.ts';
export { analyzeGrants, type GrantAnalysis, isBroadAwsResource, isBroadVaultPath } from './grants.ts';
export {
  assessRisk,
  compareLevels,
  exceedsMaxRiskLevel,
  IMPACT_LABELS,
  LIKELIHOOD_LABELS,
  levelOf,
  REMEDIATION_DAYS,
  type RiskCell,
  type RiskInput,
  type RiskLevel,
  RiskLevels,
  riskMatrix,
  summarizeRisk,
} from './risk.ts';
