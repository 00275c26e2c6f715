// The status a reconcile builds up: each module sets the conditions it owns; the draft remembers which
// conditions changed so the reconcile can emit an Event and an audit record for each transition.

import type { AgentIdentity, AgentIdentityStatus, ConditionStatus } from '../../api/v1alpha1/types.ts';
import { findCondition, setCondition } from '../../runtime/status.ts';
import type { Decision } from './lifecycle.ts';

export type ConditionType =
  | 'Ready'
  | 'Provisioned'
  | 'SecretsRotated'
  | 'WorkloadBound'
  | 'PolicyCompliant'
  | 'Expired'
  | 'Orphaned'
  | 'Quarantined'
  | 'Revoked';

export interface Transition {
  type: ConditionType;
  from: ConditionStatus | undefined;
  to: ConditionStatus;
  reason: string;
  message: string;
}

export class StatusDraft {
  status: AgentIdentityStatus;
  readonly transitions: Transition[] = [];

  constructor(
    private readonly identity: AgentIdentity,
    private readonly now: Date,
  ) {
    const { plan: _plan, ...rest } = structuredClone(identity.status ?? {});
    this.status = { ...rest, observedGeneration: identity.metadata.generation ?? 0 };
  }

  condition(type: ConditionType, status: ConditionStatus, reason: string, message: string): void {
    const previous = findCondition(this.status.conditions, type);
    this.status.conditions = setCondition(
      this.status.conditions,
      { type, status, reason, message },
      this.identity.metadata.generation,
      this.now,
    );
    if (previous?.status !== status || previous.reason !== reason) {
      this.transitions.push({ type, from: previous?.status, to: status, reason, message });
    }
  }

  is(type: ConditionType, status: ConditionStatus = 'True'): boolean {
    return findCondition(this.status.conditions, type)?.status === status;
  }

  set<K extends keyof AgentIdentityStatus>(field: K, value: AgentIdentityStatus[K] | undefined): void {
    if (value === undefined) delete this.status[field];
    else this.status[field] = value;
  }

  /**
   * Ready and the human-facing phase, derived from the other conditions and the lifecycle decision:
   * an identity on its way to quarantine or revocation is never Ready, even while that step fails.
   */
  finish(decision?: Decision): AgentIdentityStatus {
    const pendingStop =
      decision && (decision.action === 'quarantine' || decision.action === 'revoke') ? decision : undefined;
    const phase = this.is('Revoked')
      ? 'Revoked'
      : this.is('Quarantined')
        ? 'Quarantined'
        : pendingStop
          ? pendingStop.action === 'revoke'
            ? 'Revoking'
            : 'Quarantining'
          : this.is('PolicyCompliant', 'False')
            ? 'Denied'
            : this.is('Provisioned')
              ? 'Active'
              : 'Pending';
    const blocking = (['Revoked', 'Quarantined', 'Expired', 'Orphaned'] as const).find((t) => this.is(t));
    const notYet = (['PolicyCompliant', 'Provisioned', 'WorkloadBound'] as const).find((t) => !this.is(t));
    if (blocking) this.condition('Ready', 'False', blocking, `the identity is ${blocking.toLowerCase()}`);
    else if (pendingStop) {
      this.condition(
        'Ready',
        'False',
        pendingStop.reason,
        `${pendingStop.action} pending: ${pendingStop.message}`,
      );
    } else if (notYet) {
      const c = findCondition(this.status.conditions, notYet);
      this.condition(
        'Ready',
        c ? 'False' : 'Unknown',
        c?.reason ?? 'Reconciling',
        c?.message ?? `waiting for ${notYet}`,
      );
    } else this.condition('Ready', 'True', 'Active', 'credentials provisioned and bound to the workload');
    this.status.phase = phase;
    return this.status;
  }
}
