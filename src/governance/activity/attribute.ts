// Attribution: which AgentIdentity made an activity event. An identity is known to each backend by
// one principal: its ServiceAccount (kubernetes; also the ServiceAccount in Vault's kubernetes auth
// metadata), its Vault kubernetes auth role, its IAM role. Names come from the modules that create
// them (providers/kubernetes/names.ts, providers/vault/names.ts), preferring what status recorded.

import { managementOf } from '../../api/v1alpha1/defaults.ts';
import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import { serviceAccountNameOf } from '../../providers/kubernetes/names.ts';
import { identityNames } from '../../providers/vault/names.ts';
import { roleNameOfArn } from './cloudtrail.ts';
import type {
  ActivityBackend,
  ActivityEvent,
  ActivityRecord,
  BackendSummary,
  IdentityRefLite,
  PrincipalMatch,
} from './types.ts';

export interface IdentityPrincipals {
  identity: IdentityRefLite;
  serviceAccount: { namespace: string; name: string };
  vaultRole?: string;
  awsRoleName?: string;
}

export function principalsOf(identity: AgentIdentity): IdentityPrincipals {
  const namespace = identity.metadata.namespace ?? 'default';
  if (managementOf(identity.spec) === 'Observe' && identity.spec.observe) return observedPrincipals(identity);
  const serviceAccount = {
    namespace,
    name: identity.status?.serviceAccount ?? serviceAccountNameOf(identity),
  };
  let vaultRole = identity.status?.vault?.role;
  if (!vaultRole && identity.metadata.uid) {
    try {
      vaultRole = identityNames({
        identity,
        subject: { namespace, serviceAccountName: serviceAccount.name },
      }).base;
    } catch {
      // A name the Vault provider refuses has no role to match.
    }
  }
  const awsRoleName = identity.status?.aws?.roleName ?? roleNameOfArn(identity.status?.aws?.roleArn);
  return {
    identity: {
      namespace,
      name: identity.metadata.name,
      owner: identity.spec.owner?.team ?? '',
      purpose: identity.spec.purpose ?? '',
    },
    serviceAccount,
    ...(vaultRole ? { vaultRole } : {}),
    ...(awsRoleName ? { awsRoleName } : {}),
  };
}

/**
 * Observe mode: the observed ServiceAccount, and the roles status reports (a role is reported only
 * when its trust binds this namespace alone, so no other tenant's activity is attributed here).
 */
function observedPrincipals(identity: AgentIdentity): IdentityPrincipals {
  const namespace = identity.metadata.namespace ?? 'default';
  const reported = (kind: 'IAMRole' | 'VaultRole') =>
    identity.status?.observed?.objects.find((o) => o.kind === kind && o.reported)?.name;
  const vaultRole = reported('VaultRole');
  const awsRoleName = reported('IAMRole');
  return {
    identity: {
      namespace,
      name: identity.metadata.name,
      owner: identity.spec.owner?.team ?? '',
      purpose: identity.spec.purpose ?? '',
    },
    serviceAccount: { namespace, name: serviceAccountNameOf(identity) },
    ...(vaultRole ? { vaultRole } : {}),
    ...(awsRoleName ? { awsRoleName } : {}),
  };
}

function sameServiceAccount(a: PrincipalMatch['serviceAccount'], b: IdentityPrincipals['serviceAccount']) {
  return a !== undefined && a.namespace === b.namespace && a.name === b.name;
}

export function matches(event: ActivityEvent, p: IdentityPrincipals): boolean {
  const m = event.match;
  switch (event.backend) {
    case 'kubernetes':
      return sameServiceAccount(m.serviceAccount, p.serviceAccount);
    case 'vault':
      return (
        (m.vaultRole !== undefined && m.vaultRole === p.vaultRole) ||
        (m.vaultRole === undefined && sameServiceAccount(m.serviceAccount, p.serviceAccount))
      );
    case 'aws':
      return m.awsRoleName !== undefined && m.awsRoleName === p.awsRoleName;
  }
}

export interface AttributeOptions {
  /** Events before this time are left out. */
  since?: Date;
}

/**
 * Each event attributed to the identity that made it; events of no listed identity are dropped.
 * Sorted by time. An event matching two identities (two identities sharing a ServiceAccount) is
 * attributed to both: the log cannot tell them apart, and hiding it from either would be worse.
 */
export function attribute(
  events: Iterable<ActivityEvent>,
  identities: readonly AgentIdentity[],
  options: AttributeOptions = {},
): ActivityRecord[] {
  const principals = identities.map(principalsOf);
  const since = options.since?.getTime();
  const out: ActivityRecord[] = [];
  for (const event of events) {
    if (since !== undefined && Date.parse(event.time) < since) continue;
    for (const p of principals) {
      if (!matches(event, p)) continue;
      const { match: _match, target: _target, ...rest } = event;
      out.push({ ...rest, identity: p.identity });
    }
  }
  return out.sort((a, b) => a.time.localeCompare(b.time));
}

const BACKENDS: readonly ActivityBackend[] = ['kubernetes', 'vault', 'aws'];

/** Requests, denials, errors and the last allowed use, per backend that has any record. */
export function summarize(records: readonly ActivityRecord[]): BackendSummary[] {
  return BACKENDS.flatMap((backend) => {
    const mine = records.filter((r) => r.backend === backend);
    if (mine.length === 0) return [];
    const lastUsed = mine
      .filter((r) => r.outcome === 'allowed')
      .map((r) => r.time)
      .sort()
      .at(-1);
    return [
      {
        backend,
        requests: mine.length,
        denials: mine.filter((r) => r.outcome === 'denied').length,
        errors: mine.filter((r) => r.outcome === 'error').length,
        ...(lastUsed ? { lastUsed } : {}),
      },
    ];
  });
}
