// The status a reconcile builds up. Each condition has exactly one owning step module (the table
// below); a step writes its conditions through `draft.conditionsOf('<step>')`, which refuses any
// condition it does not own. The draft remembers which conditions changed, so the reconcile can emit
// an Event and an audit record for each transition.

import type { AgentIdentity, AgentIdentityStatus, ConditionStatus } from '../../api/v1alpha1/types.ts';
import { findCondition, setCondition } from '../../runtime/status.ts';

/** Who sets each condition: the step module of that name, and nothing else. */
export const ConditionOwners = {
  PolicyCompliant: 'observe',
  WorkloadBound: 'observe',
  Orphaned: 'observe',
  Expired: 'observe',
  Provisioned: 'provision',
  SecretsRotated: 'rotate',
  Quarantined: 'quarantine',
  Revoked: 'revoke',
  AttestationDue: 'attestation',
  Ready: 'ready',
  Observed: 'observed',
} as const;

export type ConditionType = keyof typeof ConditionOwners;
export type Step = (typeof ConditionOwners)[ConditionType];
/** The conditions step S owns. */
export type OwnedBy<S extends Step> = {
  [K in ConditionType]: (typeof ConditionOwners)[K] extends S ? K : never;
}[ConditionType];

export interface Transition {
  type: ConditionType;
  from: ConditionStatus | undefined;
  to: ConditionStatus;
  reason: string;
  message: string;
  /** The step module that made the change. */
  by: Step;
}

export interface ConditionWriter<S extends Step> {
  set(type: OwnedBy<S>, status: ConditionStatus, reason: string, message: string): void;
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

  /** The writer for the conditions `step` owns (a compile-time and a run-time check). */
  conditionsOf<S extends Step>(step: S): ConditionWriter<S> {
    return { set: (type, status, reason, message) => this.write(step, type, status, reason, message) };
  }

  private write(step: Step, type: ConditionType, status: ConditionStatus, reason: string, message: string) {
    if (ConditionOwners[type] !== step) {
      throw new Error(`condition ${type} is owned by ${ConditionOwners[type]}.ts, not ${step}.ts`);
    }
    const previous = findCondition(this.status.conditions, type);
    this.status.conditions = setCondition(
      this.status.conditions,
      { type, status, reason, message },
      this.identity.metadata.generation,
      this.now,
    );
    if (previous?.status !== status || previous.reason !== reason) {
      this.transitions.push({ type, from: previous?.status, to: status, reason, message, by: step });
    }
  }

  is(type: ConditionType, status: ConditionStatus = 'True'): boolean {
    return findCondition(this.status.conditions, type)?.status === status;
  }

  set<K extends keyof AgentIdentityStatus>(field: K, value: AgentIdentityStatus[K] | undefined): void {
    if (value === undefined) delete this.status[field];
    else this.status[field] = value;
  }
}
