// Counts and the lists a reviewer reads first: shadow identities, dangling and wildcard trust,
// ghosts left with our marks. Pure, over classified items.

import {
  type FindingKind,
  type InventoryItem,
  type InventoryType,
  InventoryTypes,
  type Severity,
} from './types.ts';

export interface InventorySummary {
  total: number;
  managed: number;
  byType: Record<InventoryType, number>;
  bySeverity: Record<Severity, number>;
  shadow: InventoryItem[];
  danglingTrust: InventoryItem[];
  wildcardTrust: InventoryItem[];
  orphanedMarks: InventoryItem[];
  /** Literal credentials in workloads, ConfigMaps and annotations. */
  hardCodedSecrets: InventoryItem[];
  /** AgentIdentities with activity anomalies or unused grants from the audit logs. */
  activity: InventoryItem[];
}

export const hasFinding = (item: InventoryItem, kind: FindingKind) =>
  item.findings.some((f) => f.kind === kind);

export function summarize(items: readonly InventoryItem[]): InventorySummary {
  const byType = Object.fromEntries(InventoryTypes.map((t) => [t, 0])) as Record<InventoryType, number>;
  const bySeverity: Record<Severity, number> = { info: 0, warning: 0, high: 0, critical: 0 };
  for (const item of items) {
    byType[item.type] += 1;
    for (const finding of item.findings) bySeverity[finding.severity] += 1;
  }
  return {
    total: items.length,
    managed: items.filter((i) => i.managed).length,
    byType,
    bySeverity,
    shadow: items.filter((i) => hasFinding(i, 'shadow')),
    danglingTrust: items.filter((i) => hasFinding(i, 'dangling-trust')),
    wildcardTrust: items.filter((i) => hasFinding(i, 'wildcard-trust')),
    orphanedMarks: items.filter((i) => hasFinding(i, 'orphaned-marks')),
    hardCodedSecrets: items.filter((i) => hasFinding(i, 'hard-coded-secret')),
    activity: items.filter((i) => hasFinding(i, 'anomaly') || hasFinding(i, 'unused-grants')),
  };
}
