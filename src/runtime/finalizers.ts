// Finalizers, added and removed with a JSON merge patch. A merge patch replaces a list whole, so
// the patch also carries the resourceVersion that was read: if someone else changed the
// finalizers meanwhile the apiserver answers 409 (ConflictError → quiet requeue) instead of our
// patch silently dropping theirs.
//
// client-node 2.x's generated patch methods send `application/json-patch+json` unless told
// otherwise; the Content-Type is overridden per call with setHeaderOptions(PatchStrategy...).
import {
  type CustomObjectsApi,
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { asConflict, isNotFound } from './errors.ts';
import type { ResourceRef } from './keys.ts';

/** Applies a JSON merge patch to `obj` and returns the patched object. */
export type MergePatcher = <T extends KubernetesObject>(obj: T, patch: object) => Promise<T>;

export const mergePatchOptions = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function customObjectMergePatcher(api: CustomObjectsApi, ref: ResourceRef): MergePatcher {
  return async <T extends KubernetesObject>(obj: T, body: object): Promise<T> => {
    const name = obj.metadata?.name ?? '';
    const namespace = obj.metadata?.namespace;
    try {
      return namespace
        ? await api.patchNamespacedCustomObject({ ...ref, namespace, name, body }, mergePatchOptions())
        : await api.patchClusterCustomObject({ ...ref, name, body }, mergePatchOptions());
    } catch (err) {
      throw asConflict(err, `${ref.plural} ${namespace ? `${namespace}/` : ''}${name}`);
    }
  };
}

export function hasFinalizer(obj: KubernetesObject, finalizer: string): boolean {
  return obj.metadata?.finalizers?.includes(finalizer) ?? false;
}

/** Adds `finalizer` unless present; returns the (possibly) updated object. */
export async function addFinalizer<T extends KubernetesObject>(
  patch: MergePatcher,
  obj: T,
  finalizer: string,
): Promise<T> {
  if (hasFinalizer(obj, finalizer)) return obj;
  return patch(obj, finalizersPatch(obj, [...(obj.metadata?.finalizers ?? []), finalizer]));
}

/** Removes `finalizer` if present; returns the updated object, or undefined if it is gone. */
export async function removeFinalizer<T extends KubernetesObject>(
  patch: MergePatcher,
  obj: T,
  finalizer: string,
): Promise<T | undefined> {
  if (!hasFinalizer(obj, finalizer)) return obj;
  const rest = (obj.metadata?.finalizers ?? []).filter((f) => f !== finalizer);
  try {
    return await patch(obj, finalizersPatch(obj, rest));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function finalizersPatch(obj: KubernetesObject, finalizers: string[]): object {
  return { metadata: { finalizers, resourceVersion: obj.metadata?.resourceVersion } };
}
