// The narrow port the Kubernetes provider talks through (STYLE habit 7); adapter.ts implements it
// over @kubernetes/client-node. The provider only ever gets, creates, replaces (with the
// resourceVersion precondition), deletes (with a uid precondition) and lists four kinds of objects,
// and lists Pods. Errors come out typed: 404 on get/delete is not an error, 409 is the runtime's
// ConflictError (../../runtime/errors.ts), the rest map to the provider errors of ../types.ts.

import type * as k8s from '@kubernetes/client-node';

/** The objects the provider writes, by kind. */
export interface ManagedObjects {
  ServiceAccount: k8s.V1ServiceAccount;
  Role: k8s.V1Role;
  RoleBinding: k8s.V1RoleBinding;
  Secret: k8s.V1Secret;
}
export type ManagedKind = keyof ManagedObjects;
export const MANAGED_KINDS: readonly ManagedKind[] = ['RoleBinding', 'Role', 'Secret', 'ServiceAccount'];

/** Kinds the provider lists: what it manages, plus Pods (read-only, for last use and bound pods). */
export interface ListedObjects extends ManagedObjects {
  Pod: k8s.V1Pod;
}
export type ListedKind = keyof ListedObjects;

/**
 * Every list is in one namespace, the identity's: the operator never reads Secrets, Roles or Pods
 * across the cluster (RBAC may allow it; the code does not ask). Lists of managed kinds also carry
 * the nhi.dev/identity-uid label selector, Pod and token lists a field selector.
 */
export interface ListOptions {
  namespace: string;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * Read from the apiserver even where a cache could answer (cached-port.ts): quarantine, restore,
   * revocation and retention must see every object, including one created a moment ago.
   */
  fresh?: boolean;
}

export interface KubernetesPort {
  /** The object, or undefined when it does not exist. */
  get<K extends ManagedKind>(
    kind: K,
    namespace: string,
    name: string,
  ): Promise<ManagedObjects[K] | undefined>;
  /**
   * Throws ConflictError when an object of that name already exists. A Secret must be Opaque
   * (names.ts SECRET_TYPE): the adapter refuses to write any other type.
   */
  create<K extends ManagedKind>(kind: K, object: ManagedObjects[K]): Promise<ManagedObjects[K]>;
  /** Full update; `object.metadata.resourceVersion` is the precondition. Throws ConflictError when it is stale. */
  replace<K extends ManagedKind>(kind: K, object: ManagedObjects[K]): Promise<ManagedObjects[K]>;
  /** Deletes only the object with this uid. False when it was already gone; ConflictError when the uid differs. */
  delete(kind: ManagedKind, namespace: string, name: string, uid: string): Promise<boolean>;
  list<K extends ListedKind>(kind: K, options: ListOptions): Promise<Array<ListedObjects[K]>>;
}
