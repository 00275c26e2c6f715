// Names and ownership marks of everything the Kubernetes provider writes. Pure: no I/O.
//
// Ownership rule: an object is ours for an identity when its `nhi.dev/identity-uid` label equals
// that identity's UID. We adopt such objects (restoring the rest of our marks) and never modify or
// delete an object without it, whatever its name.
//
// Lifetime rule: nothing we write carries an ownerReference to the AgentIdentity, so the garbage
// collector never deletes a credential because an AgentIdentity vanished (a CRD deleted by an
// uninstall or a GitOps prune would otherwise cascade to every ServiceAccount and Secret workloads
// use). Our objects go only when revocation deletes them explicitly, by these marks. Objects written
// by earlier versions lose that ownerReference on their next reconcile.

import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { Marks, ObjectMarks } from '../../api/v1alpha1/annotations.ts';
import { managementOf } from '../../api/v1alpha1/defaults.ts';
import { type AgentIdentity, API_VERSION, type SecretSpec } from '../../api/v1alpha1/types.ts';
import { type IdentityRef, InvalidConfigError } from '../types.ts';

const MAX_NAME = 253;

/** `name` when it fits an object name, else a stable shortened form ending in a hash of the whole. */
export function boundedName(name: string): string {
  if (name.length <= MAX_NAME) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  return `${name.slice(0, MAX_NAME - 11).replace(/[-.]+$/, '')}-${hash}`;
}

/** The identity's ServiceAccount: the managed one, or in Observe mode the observed one (never written). */
export function serviceAccountNameOf(identity: AgentIdentity): string {
  if (managementOf(identity.spec) === 'Observe' && identity.spec.observe)
    return identity.spec.observe.serviceAccountName;
  return identity.spec.serviceAccountName ?? identity.metadata.name;
}

/** The Role and the RoleBinding share this name. */
export function rbacNameOf(identity: AgentIdentity): string {
  return boundedName(`nhi-${identity.metadata.name}`);
}

export function targetSecretNameOf(identity: AgentIdentity, secret: SecretSpec): string {
  return secret.target?.secretName ?? boundedName(`${identity.metadata.name}-${secret.name}`);
}

/** Secrets a provider keeps logins in (spec.scopes[].database.target): the kubernetes provider keeps them. */
export function loginTargetNamesOf(identity: AgentIdentity): string[] {
  const names = (identity.spec.scopes ?? []).flatMap((scope) =>
    scope.provider === 'vault' && scope.database?.target ? [scope.database.target.secretName] : [],
  );
  return [...new Set(names)];
}

/** Data key of the current value in the target Secret (what pods mount); the previous one is `<key>.previous`. */
export function currentKeyOf(secret: SecretSpec): string {
  return secret.target?.key ?? secret.name;
}

export function previousKeyOf(secret: SecretSpec): string {
  return `${currentKeyOf(secret)}.previous`;
}

export function identityUidOf(ref: IdentityRef): string {
  const uid = ref.identity.metadata.uid;
  if (!uid)
    throw new InvalidConfigError(`AgentIdentity ${ref.identity.metadata.name} has no metadata.uid yet`);
  return uid;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function labelValue(value: string | undefined): string | undefined {
  return value !== undefined && value.length <= 63 && LABEL_VALUE.test(value) ? value : undefined;
}

function compact(record: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value;
  return out;
}

/** Labels every object we write carries. Values that are not valid label values stay annotations only. */
export function markLabels(ref: IdentityRef): Record<string, string> {
  const { identity } = ref;
  return compact({
    [Marks.managedBy]: Marks.managedByValue,
    [Marks.identityUid]: identityUidOf(ref),
    [Marks.identityName]: labelValue(identity.metadata.name),
    [Marks.owner]: labelValue(identity.spec.owner.team),
    [Marks.environment]: labelValue(identity.spec.environment),
  });
}

/** Annotations every object we write carries: the full, human-readable marks. */
export function markAnnotations(ref: IdentityRef): Record<string, string> {
  const { identity } = ref;
  return {
    [Marks.identityName]: identity.metadata.name,
    [Marks.owner]: identity.spec.owner.team,
    [Marks.purpose]: identity.spec.purpose,
    [Marks.environment]: identity.spec.environment,
  };
}

/**
 * Whether `owner` is an ownerReference to the AgentIdentity `identityUid` (what versions before the
 * lifetime rule above wrote): withMarks removes it.
 */
export function isIdentityOwnerReference(owner: k8s.V1OwnerReference, identityUid: string): boolean {
  return owner.kind === 'AgentIdentity' && owner.apiVersion === API_VERSION && owner.uid === identityUid;
}

export function isOurs(metadata: k8s.V1ObjectMeta | undefined, identityUid: string): boolean {
  return metadata?.labels?.[Marks.identityUid] === identityUid;
}

/**
 * The one Secret type the operator writes. A Secret of another type (a ServiceAccount token, a
 * registry credential, TLS) is never adopted, changed or deleted, even when it carries our marks:
 * its type gives its data a meaning the operator must not take over.
 */
export const SECRET_TYPE = 'Opaque';

/** Whether a Secret is of the type the operator writes (the apiserver defaults an unset type to it). */
export function isOpaque(secret: { type?: string | undefined }): boolean {
  return (secret.type ?? SECRET_TYPE) === SECRET_TYPE;
}

/** isOurs for an object of `kind`: a Secret must also be Opaque. */
export function ownsObject(
  kind: string,
  object: { metadata?: k8s.V1ObjectMeta | undefined; type?: string | undefined } | undefined,
  identityUid: string,
): boolean {
  return (
    object !== undefined && isOurs(object.metadata, identityUid) && (kind !== 'Secret' || isOpaque(object))
  );
}

export function isQuarantined(metadata: k8s.V1ObjectMeta | undefined): boolean {
  return metadata?.annotations?.[ObjectMarks.quarantined] === 'true';
}

export function identitySelector(identityUid: string): string {
  return `${Marks.identityUid}=${identityUid}`;
}

/** `Kind/namespace/name`, as used in PlannedChange.resource and drift reports. */
export function resourceName(kind: string, namespace: string | undefined, name: string | undefined): string {
  return `${kind}/${namespace ?? ''}/${name ?? ''}`;
}

export interface MarkOptions {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  removeAnnotations?: readonly string[];
}

/** Metadata of a new object: name, namespace, our labels and annotations (no owner reference: see the top). */
export function markedMetadata(ref: IdentityRef, name: string, options: MarkOptions = {}): k8s.V1ObjectMeta {
  const annotations: Record<string, string> = { ...markAnnotations(ref), ...options.annotations };
  for (const key of options.removeAnnotations ?? []) delete annotations[key];
  return {
    name,
    namespace: ref.subject.namespace,
    labels: { ...markLabels(ref), ...options.labels },
    annotations,
  };
}

/**
 * Our marks merged into `live` metadata (labels and annotations others added are kept), an
 * ownerReference to the identity removed (others' kept). Returns the merged metadata and what
 * differed from `live`: `managed-by` when the object was not marked managed yet (an adoption).
 */
export function withMarks(
  live: k8s.V1ObjectMeta,
  ref: IdentityRef,
  options: MarkOptions = {},
): { metadata: k8s.V1ObjectMeta; reasons: string[] } {
  const reasons: string[] = [];
  if (live.labels?.[Marks.managedBy] !== Marks.managedByValue) reasons.push('managed-by');
  const labels = { ...live.labels, ...markLabels(ref), ...options.labels };
  if (!sameRecord(labels, live.labels ?? {})) reasons.push('labels');
  const annotations: Record<string, string> = {
    ...live.annotations,
    ...markAnnotations(ref),
    ...options.annotations,
  };
  for (const key of options.removeAnnotations ?? []) delete annotations[key];
  if (!sameRecord(annotations, live.annotations ?? {})) reasons.push('annotations');
  const uid = identityUidOf(ref);
  const refs = live.ownerReferences ?? [];
  const ownerReferences = refs.filter((owner) => !isIdentityOwnerReference(owner, uid));
  if (ownerReferences.length !== refs.length) reasons.push('ownerReference');
  const metadata: k8s.V1ObjectMeta = { ...live, labels, annotations };
  if (ownerReferences.length > 0) metadata.ownerReferences = ownerReferences;
  else delete metadata.ownerReferences;
  return { metadata, reasons };
}

export function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}
