// The vocabulary of the lifecycle decision: what gather() found about the workload, what the reconcile
// must do, and the deadlines behind it. Types only; lifecycle.ts decides.

import type { AgentIdentity, AttestationAction } from '../../api/v1alpha1/types.ts';
import type { HardCodedSecret } from '../../governance/risk/factors.ts';

export type WorkloadState =
  | { kind: 'none' }
  | {
      kind: 'present';
      usesServiceAccount: boolean;
      boundPods: number;
      /** Literal credentials in the workload's pod template (rule and place, never the value); absent when not scanned. */
      hardCodedSecrets?: readonly HardCodedSecret[];
    }
  | { kind: 'missing' }
  | { kind: 'unresolvable'; message: string };

export type QuarantineReason = 'Orphaned' | 'Expired' | 'Inactive' | 'Locked' | 'AttestationOverdue';

export type Decision =
  | { action: 'offboard' }
  | { action: 'hold'; reason: 'Revoked' | 'PolicyViolation' | 'WorkloadUnresolvable'; message: string }
  | { action: 'quarantine'; reason: QuarantineReason; message: string }
  | { action: 'revoke'; reason: string; message: string }
  | { action: 'provision'; restore: boolean };

export interface LifecycleInput {
  identity: AgentIdentity;
  now: Date;
  workload: WorkloadState;
  lastUsed?: Date | undefined;
  policyViolations: string[];
  /** The attestation deadlines of the identity's environment (attestation.ts); none when not required. */
  attestation?: { dueAt: Date; overdueAt: Date; rules: { action: AttestationAction } } | undefined;
}

export interface Deadlines {
  expiresAt?: Date | undefined;
  expiryWarningAt?: Date | undefined;
  inactiveAt?: Date | undefined;
  orphanedAt?: Date | undefined;
  quarantineEndsAt?: Date | undefined;
  inactivityWarningAt?: Date | undefined;
  attestationDueAt?: Date | undefined;
  attestationOverdueAt?: Date | undefined;
}

export interface LifecycleResult {
  decision: Decision;
  deadlines: Deadlines;
  /** New value of status.orphanedSince (undefined clears it). */
  orphanedSince?: string;
}
