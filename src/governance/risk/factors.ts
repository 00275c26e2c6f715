// The measurable factors behind a risk score, each with a weight and a sentence a security reviewer
// can check against the AgentIdentity. Likelihood factors add points (likelihood = 1 + ceil(points/2),
// at most 5); impact factors add up to the impact directly (clamped to 1..5). Pure: spec + status + now.

import { credentialTtlMs, rotationIntervalMs, ttlMs } from '../../api/v1alpha1/defaults.ts';
import type {
  AgentIdentitySpec,
  AgentIdentityStatus,
  Condition,
  RiskFactor,
} from '../../api/v1alpha1/types.ts';
import { analyzeGrants, type GrantAnalysis } from './grants.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Thresholds the likelihood factors use; exported so tests and docs quote the same numbers. */
export const THRESHOLDS = {
  /** Identities should not outlive the quarterly access review. */
  longLivedIdentityMs: 90 * DAY,
  /** Minted credentials count as short-lived up to an hour. */
  longLivedCredentialMs: HOUR,
  /** Rotation at least weekly; monthly or rarer weighs double. */
  slowRotationMs: 7 * DAY,
  verySlowRotationMs: 30 * DAY,
  /** A rotation this late past its nextRotation is overdue, not just queued. */
  rotationGraceMs: HOUR,
  /** Blast radius: this many grants, or this many providers, widen the impact. */
  manyGrants: 8,
  manyProviders: 3,
} as const;

/** A literal credential in the identity's workload: which rule, where (never the value). */
export interface HardCodedSecret {
  rule: string;
  /** `container app env[DB_PASSWORD]`. */
  where: string;
}

export interface FactorSubject {
  spec: AgentIdentitySpec;
  status?: AgentIdentityStatus | undefined;
  creationTimestamp?: string | undefined;
  /** From the secret scan of the workload's pod template (the inventory's, or the operator's per reconcile); absent when not scanned. */
  hardCodedSecrets?: readonly HardCodedSecret[] | undefined;
}

/**
 * Weight 3, as much as being able to escalate: a literal credential in a pod template is readable by
 * anyone who can `get` the workload (and by every GitOps clone of its manifest), is stored in etcd
 * unencrypted, bypasses this identity's rotation and TTL, and survives revocation.
 */
export const HARD_CODED_SECRET_WEIGHT = 3;

const f = (id: string, weight: number, description: string): RiskFactor => ({ id, weight, description });

function human(msValue: number): string {
  if (msValue >= DAY && msValue % DAY === 0) return `${msValue / DAY}d`;
  if (msValue >= HOUR && msValue % HOUR === 0) return `${msValue / HOUR}h`;
  if (msValue >= 60_000) return `${Math.round(msValue / 60_000)}m`;
  return `${Math.round(msValue / 1000)}s`;
}

function condition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

function list(items: string[], max = 4): string {
  const unique = [...new Set(items)];
  return unique.length > max
    ? `${unique.slice(0, max).join('; ')}; and ${unique.length - max} more`
    : unique.join('; ');
}

function lifetimeFactors(spec: AgentIdentitySpec): RiskFactor[] {
  const out: RiskFactor[] = [];
  const ttl = ttlMs(spec);
  if (ttl > THRESHOLDS.longLivedIdentityMs) {
    out.push(
      f(
        'likelihood.long-lived-identity',
        1,
        `the identity lives ${human(ttl)} (ttl), longer than the 90-day review cycle`,
      ),
    );
  }
  const credential = credentialTtlMs(spec);
  if (credential > THRESHOLDS.longLivedCredentialMs) {
    out.push(
      f(
        'likelihood.long-lived-credentials',
        2,
        `minted credentials stay valid for ${human(credential)} (credentialTTL); a stolen one is usable that long (short-lived: 1h or less)`,
      ),
    );
  }
  return out;
}

function rotationFactors(subject: FactorSubject, now: Date): RiskFactor[] {
  const secrets = subject.spec.secrets ?? [];
  if (secrets.length === 0) return [];
  const out: RiskFactor[] = [
    f(
      'likelihood.static-secrets',
      1,
      `holds ${secrets.length} static secret${secrets.length > 1 ? 's' : ''} (${list(secrets.map((s) => s.name))}) that can be copied and replayed, unlike federated tokens`,
    ),
  ];
  const intervals = secrets.map((s) => ({
    name: s.name,
    ms: rotationIntervalMs(s),
  }));
  const slowest = intervals.reduce((a, b) => (b.ms > a.ms ? b : a));
  if (slowest.ms > THRESHOLDS.slowRotationMs) {
    const verySlow = slowest.ms > THRESHOLDS.verySlowRotationMs;
    out.push(
      f(
        'likelihood.long-rotation-interval',
        verySlow ? 2 : 1,
        `secret ${slowest.name} is rotated only every ${human(slowest.ms)} (${verySlow ? 'less than monthly' : 'less than weekly'})`,
      ),
    );
  }
  const created = subject.creationTimestamp ? Date.parse(subject.creationTimestamp) : Number.NaN;
  const paused = ['Quarantined', 'Revoked'].some(
    (t) => condition(subject.status?.conditions, t)?.status === 'True',
  );
  const overdue = intervals.filter((secret) => {
    if (paused) return false;
    const state = subject.status?.secrets?.find((s) => s.name === secret.name);
    const due = state?.nextRotation
      ? Date.parse(state.nextRotation)
      : state?.lastRotated
        ? Date.parse(state.lastRotated) + secret.ms
        : created + secret.ms;
    return Number.isFinite(due) && now.getTime() - due > THRESHOLDS.rotationGraceMs;
  });
  if (overdue.length > 0) {
    out.push(
      f(
        'likelihood.rotation-overdue',
        2,
        `rotation is overdue for ${list(overdue.map((s) => s.name))}: the value has not been rotated when it was due`,
      ),
    );
  }
  return out;
}

function scopeFactors(grants: GrantAnalysis): RiskFactor[] {
  const out: RiskFactor[] = [];
  if (grants.wildcardActions.length > 0) {
    out.push(
      f('likelihood.wildcard-actions', 2, `AWS actions with wildcards: ${list(grants.wildcardActions)}`),
    );
  }
  if (grants.wildcardResources.length > 0) {
    out.push(
      f(
        'likelihood.wildcard-resources',
        2,
        `AWS resources that match a whole account or service: ${list(grants.wildcardResources)}`,
      ),
    );
  }
  if (grants.wildcardVaultPaths.length > 0) {
    out.push(
      f('likelihood.wildcard-vault-paths', 2, `broad Vault path globs: ${list(grants.wildcardVaultPaths)}`),
    );
  }
  if (grants.wildcardKubernetesRules.length > 0) {
    out.push(
      f(
        'likelihood.wildcard-kubernetes-rules',
        2,
        `Kubernetes rules with * verbs, resources or groups: ${list(grants.wildcardKubernetesRules)}`,
      ),
    );
  }
  if (grants.escalation.length > 0) {
    out.push(
      f('likelihood.can-escalate', 3, `can create or widen identities: ${list(grants.escalation, 3)}`),
    );
  }
  return out;
}

function observedFactors(subject: FactorSubject): RiskFactor[] {
  const { spec, status } = subject;
  const out: RiskFactor[] = [];
  const secrets = subject.hardCodedSecrets ?? [];
  if (secrets.length > 0) {
    out.push(
      f(
        'likelihood.hard-coded-credentials',
        HARD_CODED_SECRET_WEIGHT,
        `hard-coded credentials in the workload: ${list(
          secrets.map((s) => `${s.rule} in ${s.where}`),
          3,
        )}; readable by anyone who can read the workload, never rotated`,
      ),
    );
  }
  if (spec.impact?.internetExposed) {
    out.push(
      f(
        'likelihood.internet-exposed',
        2,
        'the workload is exposed to the internet (spec.impact.internetExposed)',
      ),
    );
  }
  if (!status?.lastUsed) {
    out.push(
      f(
        'likelihood.no-activity-data',
        1,
        'no record of real use (status.lastUsed): misuse or disuse would go unnoticed',
      ),
    );
  }
  const rightSizing = status?.activity?.rightSizing;
  if (rightSizing?.complete && rightSizing.unused.length > 0) {
    const n = rightSizing.unused.length;
    out.push(
      f(
        'likelihood.unused-privilege',
        1,
        `${n} grant${n > 1 ? 's' : ''} not (fully) used in the audit logs since ${rightSizing.since}: ${list(
          rightSizing.unused.map((u) => `${u.field} ${u.unused}`),
          3,
        )}; status.activity.rightSizing suggests narrower scopes`,
      ),
    );
  }
  const bound = condition(status?.conditions, 'WorkloadBound');
  if (!spec.workloadRef) {
    out.push(
      f('likelihood.not-workload-bound', 1, 'no workloadRef: the credentials are not tied to a workload'),
    );
  } else if (bound?.status === 'False') {
    out.push(
      f('likelihood.not-workload-bound', 1, `not bound to its workload: ${bound.message || bound.reason}`),
    );
  }
  if (spec.automountServiceAccountToken) {
    out.push(
      f(
        'likelihood.automount-token',
        1,
        'every pod of the ServiceAccount gets its token mounted (automountServiceAccountToken)',
      ),
    );
  }
  const orphaned = condition(status?.conditions, 'Orphaned');
  if (orphaned?.status === 'True') {
    out.push(
      f(
        'likelihood.orphaned',
        2,
        `orphaned: ${orphaned.message || 'the workload is gone'}; a ghost identity until revoked`,
      ),
    );
  }
  const attestation = condition(status?.conditions, 'AttestationDue');
  if (attestation?.status === 'True') {
    const overdue = attestation.reason === 'Overdue';
    out.push(
      f(
        overdue ? 'likelihood.attestation-overdue' : 'likelihood.attestation-due',
        overdue ? 2 : 1,
        `no one has confirmed it is still needed: ${attestation.message || 'the periodic attestation is due'}`,
      ),
    );
  }
  const quarantined = condition(status?.conditions, 'Quarantined');
  const revoked = condition(status?.conditions, 'Revoked');
  if (quarantined?.status === 'True' && revoked?.status !== 'True') {
    out.push(
      f(
        'likelihood.quarantined',
        1,
        `quarantined (${quarantined.reason}): disabled, but its credentials still exist until revocation`,
      ),
    );
  }
  return out;
}

/** Likelihood factors, in a stable order: lifetimes, rotation, scopes, then observed state. */
export function likelihoodFactors(
  subject: FactorSubject,
  now: Date,
  grants = analyzeGrants(subject.spec.scopes),
): RiskFactor[] {
  return [
    ...lifetimeFactors(subject.spec),
    ...rotationFactors(subject, now),
    ...scopeFactors(grants),
    ...observedFactors(subject),
  ];
}

const ENVIRONMENT_IMPACT: Record<string, number> = { development: 1, staging: 2, production: 3 };
const CLASSIFICATION_IMPACT: Record<string, number> = {
  public: -1,
  internal: 0,
  confidential: 1,
  restricted: 2,
};

/** Impact factors: environment and data classification always (they are the base), then blast radius. */
export function impactFactors(
  subject: FactorSubject,
  grants = analyzeGrants(subject.spec.scopes),
): RiskFactor[] {
  const { spec } = subject;
  const env = spec.environment;
  const envWeight = ENVIRONMENT_IMPACT[env] ?? 3;
  const out: RiskFactor[] = [
    f(
      'impact.environment',
      envWeight,
      env in ENVIRONMENT_IMPACT
        ? `runs in ${env}`
        : `environment "${env ?? ''}" is not one we know: scored as production`,
    ),
  ];
  const classification = spec.impact?.dataClassification;
  out.push(
    classification
      ? f(
          'impact.data-classification',
          CLASSIFICATION_IMPACT[classification] ?? 1,
          `handles ${classification} data`,
        )
      : f(
          'impact.data-classification',
          1,
          'no data classification declared: scored as confidential until declared',
        ),
  );
  const providers = new Set([
    ...grants.providers,
    ...(spec.secrets ?? []).map((s) => providerOfBackend(s.backend)),
  ]);
  if (grants.grantCount >= THRESHOLDS.manyGrants || providers.size >= THRESHOLDS.manyProviders) {
    out.push(
      f(
        'impact.blast-radius',
        1,
        `reaches ${grants.grantCount} grants across ${providers.size} providers (${[...providers].sort().join(', ')})`,
      ),
    );
  }
  const wide = [...grants.wildcardResources, ...grants.wildcardVaultPaths, ...grants.wildcardKubernetesRules];
  if (wide.length > 0) {
    out.push(
      f('impact.wide-reach', 1, `grants reach whole accounts, mounts or API groups: ${list(wide, 3)}`),
    );
  }
  if (grants.databaseWrites.length > 0) {
    out.push(
      f(
        'impact.database-writes',
        1,
        `can change database rows: ${grants.databaseWrites.length} write grant${grants.databaseWrites.length > 1 ? 's' : ''} (${list(grants.databaseWrites, 3)})`,
      ),
    );
  }
  if (grants.escalation.length > 0) {
    out.push(
      f(
        'impact.can-create-identities',
        1,
        'a compromise reaches beyond its own grants: it can create or widen identities',
      ),
    );
  }
  return out;
}

function providerOfBackend(backend: string | undefined): string {
  if (backend === 'aws-secrets-manager') return 'aws';
  if (backend === 'vault-kv') return 'vault';
  return 'kubernetes';
}
