// What the operator asks of activity: for one identity, the counts of the window as status.activity.
// Follows the configured audit files (tail.ts) into a bounded rolling window (window.ts); a read
// error is logged by the caller's callback and the identity simply gets the counts so far. With the
// counts goes the right-sizing of the identity's grants against the uses of the window (rightsize.ts).

import type { AnomalyLimits } from '../../api/v1alpha1/defaults.ts';
import type { ActivityStatus, AgentIdentity, RightSizingStatus } from '../../api/v1alpha1/types.ts';
import { detectAnomalies } from './anomalies.ts';
import { rightSize } from './rightsize.ts';
import { AuditFileTail, type TailedFile } from './tail.ts';
import { ActivityWindow } from './window.ts';

export interface AuditActivityOptions {
  kubeAuditLog?: string | undefined;
  vaultAuditLog?: string | undefined;
  windowMs: number;
  onError?: (file: string, error: unknown) => void;
}

function durationText(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

export class AuditActivitySource {
  private readonly window: ActivityWindow;
  private readonly tail: AuditFileTail;

  constructor(private readonly options: AuditActivityOptions) {
    const files: TailedFile[] = [
      ...(options.kubeAuditLog ? [{ source: 'kubernetes' as const, path: options.kubeAuditLog }] : []),
      ...(options.vaultAuditLog ? [{ source: 'vault' as const, path: options.vaultAuditLog }] : []),
    ];
    this.window = new ActivityWindow(options.windowMs);
    this.tail = new AuditFileTail(files, this.window, options.onError);
  }

  /** undefined when no audit log is configured. */
  static fromConfig(options: AuditActivityOptions): AuditActivitySource | undefined {
    return options.kubeAuditLog || options.vaultAuditLog ? new AuditActivitySource(options) : undefined;
  }

  /** The identity's summary; with `limits`, also its baseline and anomalies (against status.activity's). */
  summaryFor(identity: AgentIdentity, now: Date, limits?: AnomalyLimits): ActivityStatus {
    this.tail.refresh(now);
    const rightSizing = this.rightSizingFor(identity, now);
    const anomalies = limits && this.tail.caughtUp ? this.anomaliesFor(identity, now, limits) : undefined;
    return {
      window: durationText(this.options.windowMs),
      observedAt: now.toISOString(),
      backends: this.window.summaryFor(identity, now),
      ...(rightSizing ? { rightSizing } : {}),
      ...(anomalies
        ? {
            baseline: anomalies.baseline,
            ...(anomalies.anomalies.length > 0 ? { anomalies: anomalies.anomalies } : {}),
          }
        : {}),
    };
  }

  private anomaliesFor(identity: AgentIdentity, now: Date, limits: AnomalyLimits) {
    const observed = this.window.observationsFor(identity, now);
    const quarantined = identity.status?.conditions?.find(
      (c) => c.type === 'Quarantined' && c.status === 'True',
    );
    return detectAnomalies({
      now,
      limits,
      recorded: identity.status?.activity ?? {},
      ...observed,
      quarantinedSince: quarantined?.lastTransitionTime,
    });
  }

  /**
   * Grants against uses in the window, judged only when the logs were read to their end and no
   * principal of the identity saw more distinct uses than are kept (else a use could be missing).
   */
  private rightSizingFor(identity: AgentIdentity, now: Date): RightSizingStatus | undefined {
    const since = this.window.evidenceSince(now);
    const uses = this.window.usesFor(identity, now);
    if (!since || !uses || !this.tail.caughtUp || !identity.spec.scopes?.length) return undefined;
    const windowStart = now.getTime() - this.options.windowMs;
    const created = Date.parse(identity.metadata.creationTimestamp ?? '');
    return rightSize({
      scopes: identity.spec.scopes,
      namespace: identity.metadata.namespace ?? 'default',
      uses,
      backends: [
        ...(this.options.kubeAuditLog ? (['kubernetes'] as const) : []),
        ...(this.options.vaultAuditLog ? (['vault'] as const) : []),
      ],
      since: since.toISOString(),
      complete: since.getTime() <= windowStart && Number.isFinite(created) && created <= windowStart,
    });
  }
}
