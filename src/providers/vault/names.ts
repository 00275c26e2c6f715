// Deterministic names and paths for one identity, and the ownership marks that say they are ours.
// The same AgentIdentity (same UID) always maps to the same policy, role and KV paths, so every call
// can look up before it creates.
//
// The marks are kept as KV v2 custom metadata: on every secret the operator writes, and on the owner
// record of each kubernetes auth role (nhi/_owners/<role>), because OpenBao 2.7 roles have no
// metadata field of their own (verified: `alias_metadata` is silently dropped on write).

import { createHash } from 'node:crypto';
import { Marks, VaultMarks } from '../../api/v1alpha1/annotations.ts';
import { VAULT_KV_ROOT } from '../../api/v1alpha1/managed-secrets.ts';
import type { IdentityRef } from '../types.ts';
import { InvalidScopeError } from './errors.ts';

/** KV folder, under the KV mount, that holds every identity's secrets and the owner records. */
export const KV_ROOT = VAULT_KV_ROOT;
/** Owner records of kubernetes auth roles (roles carry no metadata in OpenBao 2.7). */
export const OWNERS_FOLDER = `${KV_ROOT}/_owners`;

const PART_MAX = 40;

function part(text: string): string {
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .slice(0, PART_MAX)
    .replace(/^[-.]+|[-.]+$/g, '');
  return cleaned || 'x';
}

export function shortUidHash(uid: string): string {
  return createHash('sha256').update(uid).digest('hex').slice(0, 8);
}

export interface IdentityNames {
  uid: string;
  namespace: string;
  name: string;
  /** The policy and the kubernetes auth role share this name: nhi-<ns>-<name>-<hash of uid>. */
  base: string;
  /** KV path (without mount) of the identity's folder: nhi/<ns>/<name>. */
  kvFolder: string;
  /** KV path (without mount) of the role's owner record. */
  ownerRecord: string;
}

export function identityNames(ref: IdentityRef): IdentityNames {
  const { metadata } = ref.identity;
  const uid = metadata.uid;
  if (!uid) throw new InvalidScopeError(`AgentIdentity ${metadata.name} has no uid yet`);
  if (!/^[A-Za-z0-9-]+$/.test(uid))
    throw new InvalidScopeError('AgentIdentity uid has unexpected characters');
  const namespace = metadata.namespace ?? ref.subject.namespace;
  if (
    !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(namespace) ||
    !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(metadata.name)
  ) {
    throw new InvalidScopeError(`AgentIdentity ${namespace}/${metadata.name}: name is not a DNS subdomain`);
  }
  const base = `nhi-${part(namespace)}-${part(metadata.name)}-${shortUidHash(uid)}`;
  return {
    uid,
    namespace,
    name: metadata.name,
    base,
    kvFolder: `${KV_ROOT}/${namespace}/${metadata.name}`,
    ownerRecord: `${OWNERS_FOLDER}/${base}`,
  };
}

/** KV path (without mount) of one secret of the identity. */
export function secretPath(names: IdentityNames, secretName: string): string {
  if (!/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(secretName) || secretName.length > 128) {
    throw new InvalidScopeError(`secret name "${secretName.slice(0, 64)}" is not a valid KV key name`);
  }
  return `${names.kvFolder}/${secretName}`;
}

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
    [VaultMarks.namespace]: names.namespace,
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
    [VaultMarks.role]: names.base,
    [VaultMarks.policy]: names.base,
    [VaultMarks.authMount]: authMount,
  };
}

export function isManaged(custom: Record<string, string> | undefined): boolean {
  return custom?.[Marks.managedBy] === Marks.managedByValue;
}

/** Carries our marks and this identity's UID. */
export function isOwnedBy(custom: Record<string, string> | undefined, uid: string): boolean {
  return isManaged(custom) && custom?.[Marks.identityUid] === uid;
}
