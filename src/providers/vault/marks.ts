// Ownership marks kept as KV v2 custom metadata: on every secret the operator writes, and on the
// owner record of each kubernetes auth role (nhi/_owners/<role>), because OpenBao 2.7 roles have no
// metadata field of their own (verified: `alias_metadata` is silently dropped on write).

import { Marks } from '../../api/v1alpha1/types.ts';
import type { IdentityRef } from '../types.ts';
import type { IdentityNames } from './naming.ts';

export const NAMESPACE_MARK = 'nhi.dev/namespace';
export const ROLE_MARK = 'nhi.dev/vault-role';
export const POLICY_MARK = 'nhi.dev/vault-policy';
export const AUTH_MOUNT_MARK = 'nhi.dev/kubernetes-auth-mount';

// KV custom metadata values are limited to 512 bytes; keep free text well below.
function text(value: string | undefined, max = 200): string {
  return (value ?? '').replace(/\s+/g, ' ').trim().slice(0, max);
}

export function ownershipMarks(ref: IdentityRef, names: IdentityNames): Record<string, string> {
  const { spec } = ref.identity;
  return {
    [Marks.managedBy]: Marks.managedByValue,
    [Marks.identityUid]: names.uid,
    [Marks.identityName]: names.name,
    [NAMESPACE_MARK]: names.namespace,
    [Marks.owner]: text(spec.owner?.team, 120),
    [Marks.purpose]: text(spec.purpose),
    [Marks.environment]: text(spec.environment, 40),
  };
}

export function roleRecordMarks(
  ref: IdentityRef,
  names: IdentityNames,
  authMount: string,
): Record<string, string> {
  return {
    ...ownershipMarks(ref, names),
    [ROLE_MARK]: names.base,
    [POLICY_MARK]: names.base,
    [AUTH_MOUNT_MARK]: authMount,
  };
}

export function isManaged(custom: Record<string, string> | undefined): boolean {
  return custom?.[Marks.managedBy] === Marks.managedByValue;
}

/** Carries our marks and this identity's UID. */
export function isOwnedBy(custom: Record<string, string> | undefined, uid: string): boolean {
  return isManaged(custom) && custom?.[Marks.identityUid] === uid;
}
