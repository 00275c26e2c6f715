// Queue keys: `namespace/name` for namespaced objects, `name` for cluster-scoped ones.
import type { KubernetesObject } from '@kubernetes/client-node';

export interface ObjectName {
  namespace?: string;
  name: string;
}

export function objectKey(obj: KubernetesObject): string {
  const name = obj.metadata?.name ?? '';
  const namespace = obj.metadata?.namespace;
  return namespace ? `${namespace}/${name}` : name;
}

export function parseKey(key: string): ObjectName {
  const slash = key.indexOf('/');
  if (slash < 0) return { name: key };
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Where a custom resource lives in the API: /apis/{group}/{version}/.../{plural}. */
export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
}
