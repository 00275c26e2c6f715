// Observe mode (spec.management: Observe): the existing objects named in spec.observe — a
// ServiceAccount of the identity's namespace, an IAM role, a Vault kubernetes-auth role — read and
// written down in status.observed and the `Observed` condition. Nothing is ever created, changed or
// deleted on any backend. Tenancy: a role is reported only when its trust admits ServiceAccounts of
// this namespace alone; otherwise the condition says so and nothing about the role is recorded (no
// detail of another tenant's object leaks into this namespace's status).

import type { AgentIdentity, ObservedObjectStatus } from '../../api/v1alpha1/types.ts';
import { iamTrustBinding, type TrustBinding, vaultRoleBinding } from '../../governance/inventory/trust.ts';
import { resolveProviderName } from '../../providers/resolution.ts';
import type { ForeignRole } from '../../providers/types.ts';
import { maskSecrets } from '../../runtime/redact.ts';
import type { ReconcilerDeps } from './ports.ts';
import type { StatusDraft } from './status-draft.ts';

/** What was read of one observed role: found, absent, or the read failed (reason only). */
export type RoleRead =
  | { state: 'found'; role: ForeignRole }
  | { state: 'absent' }
  | { state: 'unreadable'; reason: string };

export interface ObservedReads {
  serviceAccount: { name: string; resourceVersion?: string | undefined; exists: boolean };
  iamRole?: { name: string; read: RoleRead };
  vaultRole?: { name: string; read: RoleRead };
}

/**
 * Whether a role's trust binds this namespace alone: at least one ServiceAccount named, every one in
 * `namespace`, no wildcard, no unrestricted statement and no condition of another form.
 */
export function boundToNamespaceOnly(binding: TrustBinding, namespace: string): boolean {
  return (
    !binding.unrestricted &&
    binding.unrecognized.length === 0 &&
    binding.subjects.length > 0 &&
    binding.subjects.every((s) => !s.pattern && s.namespace === namespace)
  );
}

export function bindingOf(role: ForeignRole): TrustBinding {
  return role.kind === 'iam-role'
    ? iamTrustBinding(role.trustPolicy, role.issuers)
    : vaultRoleBinding({
        boundServiceAccountNames: role.boundServiceAccountNames,
        boundServiceAccountNamespaces: role.boundServiceAccountNamespaces,
        namespaceSelector: role.namespaceSelector,
      });
}

const REFUSED = 'its trust admits ServiceAccounts outside this namespace (or none by name): not reported';

/** Pure: the status entry of one observed role. */
export function roleStatus(
  kind: 'IAMRole' | 'VaultRole',
  name: string,
  read: RoleRead,
  namespace: string,
): ObservedObjectStatus {
  if (read.state === 'absent') return { kind, name, reported: false, message: 'not found' };
  if (read.state === 'unreadable') return { kind, name, reported: false, message: read.reason };
  const binding = bindingOf(read.role);
  if (!boundToNamespaceOnly(binding, namespace)) return { kind, name, reported: false, message: REFUSED };
  const out: ObservedObjectStatus = {
    kind,
    name,
    reported: true,
    resourceVersion: read.role.digest.slice(0, 64),
    boundTo: binding.subjects.map((s) => `${s.namespace}/${s.name}`).slice(0, 32),
  };
  if (read.role.kind === 'iam-role') {
    out.arn = read.role.arn;
    if (read.role.lastUsed) out.lastUsed = read.role.lastUsed.toISOString();
  }
  return out;
}

/** Pure: status.observed and the Observed condition from what was read. */
export function judgeObserved(
  reads: ObservedReads,
  namespace: string,
): { objects: ObservedObjectStatus[]; ok: boolean; reason: string; message: string } {
  const sa = reads.serviceAccount;
  const objects: ObservedObjectStatus[] = [
    sa.exists
      ? {
          kind: 'ServiceAccount',
          name: sa.name,
          reported: true,
          ...(sa.resourceVersion ? { resourceVersion: sa.resourceVersion } : {}),
        }
      : { kind: 'ServiceAccount', name: sa.name, reported: false, message: 'not found' },
  ];
  if (reads.iamRole) objects.push(roleStatus('IAMRole', reads.iamRole.name, reads.iamRole.read, namespace));
  if (reads.vaultRole)
    objects.push(roleStatus('VaultRole', reads.vaultRole.name, reads.vaultRole.read, namespace));
  const refused = objects.find((o) => o.message === REFUSED);
  const missing = objects.find((o) => !o.reported);
  if (refused)
    return {
      objects,
      ok: false,
      reason: 'NotBoundToNamespace',
      message: `${refused.kind} ${refused.name}: ${REFUSED}`,
    };
  if (missing)
    return {
      objects,
      ok: false,
      reason: missing.message === 'not found' ? 'NotFound' : 'Unreadable',
      message: `${missing.kind} ${missing.name}: ${missing.message}`,
    };
  return {
    objects,
    ok: true,
    reason: 'ObserveOnly',
    message: `observing ${objects.map((o) => `${o.kind} ${o.name}`).join(', ')}: recorded and reported, never changed`,
  };
}

async function readRole(
  deps: ReconcilerDeps,
  identity: AgentIdentity,
  kind: 'aws' | 'vault',
  name: string,
): Promise<RoleRead> {
  try {
    const provider = deps.providers.resolve(
      kind,
      resolveProviderName(identity, kind, identity.spec.observe?.providerRef),
    );
    if (!provider.inspectForeignRole)
      return { state: 'unreadable', reason: `the ${kind} provider cannot inspect roles` };
    const role = await provider.inspectForeignRole(name);
    return role ? { state: 'found', role } : { state: 'absent' };
  } catch (error) {
    const reason = maskSecrets(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    return { state: 'unreadable', reason: `read failed (${reason.slice(0, 300)})` };
  }
}

/** Reads the observed objects (never writes) and records them: status.observed and the Observed condition. */
export async function recordObserved(
  deps: ReconcilerDeps,
  identity: AgentIdentity,
  draft: StatusDraft,
  violations: readonly string[],
): Promise<void> {
  const refs = identity.spec.observe;
  if (!refs) return;
  const namespace = identity.metadata.namespace ?? 'default';
  const sa = await deps.workloads.get('v1', 'ServiceAccount', namespace, refs.serviceAccountName);
  const reads: ObservedReads = {
    serviceAccount: {
      name: refs.serviceAccountName,
      exists: Boolean(sa),
      resourceVersion: sa?.metadata?.resourceVersion,
    },
  };
  // A spec the IdentityPolicy refuses (a provider this namespace may not use, say) reads no role.
  const read = async (kind: 'aws' | 'vault', name: string): Promise<RoleRead> =>
    violations.length > 0
      ? {
          state: 'unreadable',
          reason: 'not read: the identity violates the IdentityPolicy (see PolicyCompliant)',
        }
      : readRole(deps, identity, kind, name);
  if (refs.iamRoleName) reads.iamRole = { name: refs.iamRoleName, read: await read('aws', refs.iamRoleName) };
  if (refs.vaultRoleName)
    reads.vaultRole = { name: refs.vaultRoleName, read: await read('vault', refs.vaultRoleName) };
  const judged = judgeObserved(reads, namespace);
  draft.set('observed', { objects: judged.objects });
  draft.conditionsOf('observed').set('Observed', judged.ok ? 'True' : 'False', judged.reason, judged.message);
}

/** A Managed identity (switched from Observe) keeps no observe-only record: status.observed and Observed go. */
export function forgetObserved(draft: StatusDraft): void {
  draft.set('observed', undefined);
  const conditions = draft.status.conditions?.filter((c) => c.type !== 'Observed');
  if (conditions && conditions.length !== draft.status.conditions?.length)
    draft.status.conditions = conditions;
}
