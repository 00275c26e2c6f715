// What the operator's informer caches keep of each object, applied as objects arrive (list and watch):
// managedFields never (the largest part of most objects, read by nothing here); a Secret without its
// values; a workload with its metadata and pod template only; a Pod with the few fields bound pods and
// last use are judged by. Caches are read, never written back, except the ServiceAccounts, Roles and
// RoleBindings the provider replaces: those keep every field but managedFields (an update without
// managedFields leaves the apiserver's record of them as it was).

import type * as k8s from '@kubernetes/client-node';

type Meta = k8s.V1ObjectMeta;

/** Marks an object built from a cache without its values; the cached port refuses to write one. */
export const CACHED_VIEW: unique symbol = Symbol.for('nhi.dev/cached-view');

/** The value a cached Secret holds in place of each non-empty data value: no secret, never base64 of one. */
export const VALUE_ELIDED = 'nhi.dev/value-not-cached';

/** kubectl's copy of the whole applied object: as large as the object, read by nothing here. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function slimMeta(meta: Meta | undefined, dropLastApplied: boolean): Meta {
  const { managedFields: _managed, ...rest } = meta ?? {};
  if (dropLastApplied && rest.annotations?.[LAST_APPLIED] !== undefined) {
    const { [LAST_APPLIED]: _applied, ...annotations } = rest.annotations;
    rest.annotations = annotations;
  }
  return rest;
}

/**
 * Every field but metadata.managedFields (objects the provider may replace from the cache, the
 * operator's own custom resources). `kind` and `apiVersion` fill in what typed lists leave out.
 */
export function withoutManagedFields<T extends k8s.KubernetesObject>(kind?: string, apiVersion?: string) {
  return (obj: T): T => ({
    ...obj,
    kind: obj.kind ?? kind,
    apiVersion: obj.apiVersion ?? apiVersion,
    metadata: slimMeta(obj.metadata, false),
  });
}

/**
 * A Secret as the cache keeps it: metadata, type, and which data keys hold a value (each value
 * replaced by VALUE_ELIDED). Marked CACHED_VIEW, so it can never be written back.
 */
export function secretWithoutValues(obj: k8s.V1Secret): k8s.V1Secret {
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(obj.data ?? {})) data[key] = value ? VALUE_ELIDED : '';
  const slim: k8s.V1Secret & { [CACHED_VIEW]?: true } = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: slimMeta(obj.metadata, true),
    data,
    [CACHED_VIEW]: true,
  };
  if (obj.type !== undefined) slim.type = obj.type;
  return slim;
}

export function isCachedView(obj: object): boolean {
  return (obj as { [CACHED_VIEW]?: true })[CACHED_VIEW] === true;
}

/** A workload (Deployment, StatefulSet, DaemonSet): metadata and the pod template, what the steps read. */
export function workloadSlim(kind: string) {
  return (obj: k8s.KubernetesObject): k8s.KubernetesObject => {
    const spec = (obj as { spec?: { template?: unknown } }).spec;
    return {
      apiVersion: 'apps/v1',
      kind,
      metadata: slimMeta(obj.metadata, true),
      ...(spec ? { spec: { template: spec.template } } : {}),
    } as k8s.KubernetesObject;
  };
}

/** A Pod: its ServiceAccount, phase and the times last use is judged by (providers/kubernetes/observe.ts). */
export function podSlim(obj: k8s.V1Pod): k8s.V1Pod {
  const m = obj.metadata ?? {};
  const metadata: Meta = {};
  for (const key of [
    'name',
    'namespace',
    'uid',
    'resourceVersion',
    'creationTimestamp',
    'deletionTimestamp',
  ] as const)
    if (m[key] !== undefined) (metadata as Record<string, unknown>)[key] = m[key];
  const pod: k8s.V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata };
  if (obj.spec?.serviceAccountName !== undefined)
    pod.spec = { serviceAccountName: obj.spec.serviceAccountName, containers: [] };
  const status = obj.status;
  if (status) {
    pod.status = {};
    if (status.phase !== undefined) pod.status.phase = status.phase;
    if (status.startTime !== undefined) pod.status.startTime = status.startTime;
    const finished = (status.containerStatuses ?? [])
      .map((c) => c.state?.terminated?.finishedAt)
      .filter((t) => t !== undefined);
    if (finished.length > 0)
      pod.status.containerStatuses = finished.map((finishedAt, i) => ({
        name: String(i),
        image: '',
        imageID: '',
        ready: false,
        restartCount: 0,
        state: { terminated: { exitCode: 0, finishedAt } },
      }));
  }
  return pod;
}

/** A ServiceAccount token Secret: metadata and type only (no data at all; read for issuance and last use). */
export function tokenSecretMetadata(obj: k8s.V1Secret): k8s.V1Secret {
  const slim: k8s.V1Secret & { [CACHED_VIEW]?: true } = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: slimMeta(obj.metadata, true),
    [CACHED_VIEW]: true,
  };
  if (obj.type !== undefined) slim.type = obj.type;
  return slim;
}
