// The ServiceAccount, Role and RoleBinding an identity should have, and how a live object differs
// from them. Pure: the plan module reads, these functions compare, actions write.

import type * as k8s from '@kubernetes/client-node';
import { ObjectMarks } from '../../api/v1alpha1/annotations.ts';
import type { KubernetesScope, PolicyRule } from '../../api/v1alpha1/types.ts';
import type { IdentityRef } from '../types.ts';
import { markedMetadata, rbacNameOf, withMarks } from './names.ts';

const RBAC_GROUP = 'rbac.authorization.k8s.io';

/** The rules of every `kubernetes` scope, in order. */
export function desiredRules(ref: IdentityRef): k8s.V1PolicyRule[] {
  const scopes = (ref.identity.spec.scopes ?? []).filter(
    (s): s is KubernetesScope => s.provider === 'kubernetes',
  );
  return scopes.flatMap((scope) => scope.rules.map(toPolicyRule));
}

function toPolicyRule(rule: PolicyRule): k8s.V1PolicyRule {
  const out: k8s.V1PolicyRule = { verbs: [...rule.verbs] };
  if (rule.apiGroups) out.apiGroups = [...rule.apiGroups];
  if (rule.resources) out.resources = [...rule.resources];
  if (rule.resourceNames?.length) out.resourceNames = [...rule.resourceNames];
  return out;
}

function canonicalRules(rules: k8s.V1PolicyRule[] | undefined): string {
  return JSON.stringify(
    (rules ?? []).map((r) => [
      r.apiGroups ?? [],
      r.resources ?? [],
      r.resourceNames ?? [],
      r.verbs,
      r.nonResourceURLs ?? [],
    ]),
  );
}

export function sameRules(a: k8s.V1PolicyRule[] | undefined, b: k8s.V1PolicyRule[] | undefined): boolean {
  return canonicalRules(a) === canonicalRules(b);
}

export function roleRefOf(ref: IdentityRef): k8s.V1RoleRef {
  return { apiGroup: RBAC_GROUP, kind: 'Role', name: rbacNameOf(ref.identity) };
}

export function subjectsOf(ref: IdentityRef): k8s.RbacV1Subject[] {
  const { namespace, serviceAccountName } = ref.subject;
  return [{ kind: 'ServiceAccount', name: serviceAccountName, namespace }];
}

function canonicalSubjects(subjects: k8s.RbacV1Subject[] | undefined): string {
  return JSON.stringify((subjects ?? []).map((s) => [s.kind, s.apiGroup ?? '', s.name, s.namespace ?? '']));
}

/** A change to one object: the object to write, and why. `spec` lists differences beyond metadata (drift). */
export interface Convergence<T> {
  object: T;
  metadata: string[];
  spec: string[];
}

/** Annotations other providers asked for: what to set and which earlier ones to remove. */
export function extraAnnotationChanges(
  live: k8s.V1ObjectMeta | undefined,
  extra: Record<string, string> | undefined,
): { annotations: Record<string, string>; removeAnnotations: string[] } {
  if (extra === undefined) return { annotations: {}, removeAnnotations: [] };
  const before = (live?.annotations?.[ObjectMarks.extraAnnotations] ?? '').split(',').filter(Boolean);
  const keys = Object.keys(extra).sort();
  const removeAnnotations = before.filter((key) => !keys.includes(key));
  if (keys.length === 0) removeAnnotations.push(ObjectMarks.extraAnnotations);
  const annotations = keys.length ? { ...extra, [ObjectMarks.extraAnnotations]: keys.join(',') } : {};
  return { annotations, removeAnnotations };
}

export function automountOf(ref: IdentityRef): boolean {
  return ref.identity.spec.automountServiceAccountToken ?? false;
}

export function newServiceAccount(
  ref: IdentityRef,
  extra: Record<string, string> | undefined,
): k8s.V1ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: markedMetadata(ref, ref.subject.serviceAccountName, extraAnnotationChanges(undefined, extra)),
    automountServiceAccountToken: automountOf(ref),
  };
}

export function convergeServiceAccount(
  live: k8s.V1ServiceAccount,
  ref: IdentityRef,
  extra: Record<string, string> | undefined,
): Convergence<k8s.V1ServiceAccount> {
  const { metadata, reasons } = withMarks(
    live.metadata ?? {},
    ref,
    extraAnnotationChanges(live.metadata, extra),
  );
  const spec = live.automountServiceAccountToken === automountOf(ref) ? [] : ['automountServiceAccountToken'];
  return {
    object: { ...live, metadata, automountServiceAccountToken: automountOf(ref) },
    metadata: reasons,
    spec,
  };
}

export function newRole(ref: IdentityRef): k8s.V1Role {
  const metadata = markedMetadata(ref, rbacNameOf(ref.identity));
  return { apiVersion: `${RBAC_GROUP}/v1`, kind: 'Role', metadata, rules: desiredRules(ref) };
}

export function convergeRole(live: k8s.V1Role, ref: IdentityRef): Convergence<k8s.V1Role> {
  const { metadata, reasons } = withMarks(live.metadata ?? {}, ref);
  const rules = desiredRules(ref);
  return {
    object: { ...live, metadata, rules },
    metadata: reasons,
    spec: sameRules(live.rules, rules) ? [] : ['rules'],
  };
}

export function newRoleBinding(ref: IdentityRef): k8s.V1RoleBinding {
  const metadata = markedMetadata(ref, rbacNameOf(ref.identity));
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'RoleBinding',
    metadata,
    roleRef: roleRefOf(ref),
    subjects: subjectsOf(ref),
  };
}

/** roleRef is immutable: when it differs the binding must be deleted and created again. */
export function roleRefDiffers(live: k8s.V1RoleBinding, ref: IdentityRef): boolean {
  const want = roleRefOf(ref);
  return (
    live.roleRef.apiGroup !== want.apiGroup ||
    live.roleRef.kind !== want.kind ||
    live.roleRef.name !== want.name
  );
}

export function convergeRoleBinding(
  live: k8s.V1RoleBinding,
  ref: IdentityRef,
): Convergence<k8s.V1RoleBinding> {
  const { metadata, reasons } = withMarks(live.metadata ?? {}, ref);
  const subjects = subjectsOf(ref);
  const spec = canonicalSubjects(live.subjects) === canonicalSubjects(subjects) ? [] : ['subjects'];
  return { object: { ...live, metadata, subjects }, metadata: reasons, spec };
}
