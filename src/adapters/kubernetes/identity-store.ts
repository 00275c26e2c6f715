// The IdentityStore the AgentIdentity reconciler reads and writes through: reads come from the
// informer's cache (habit 1: the cache is the truth), writes go to the apiserver through the custom
// objects API: status through the subresource only when it changed, finalizers and annotations as
// merge patches that carry the resourceVersion (a 409 is a ConflictError, i.e. a quiet requeue).

import type * as k8s from '@kubernetes/client-node';
import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import { GROUP, VERSION } from '../../api/v1alpha1/types.ts';
import type { IdentityStore } from '../../controller/agentidentity/ports.ts';
import { addFinalizer, customObjectMergePatcher, removeFinalizer } from '../../runtime/finalizers.ts';
import type { Source } from '../../runtime/informer.ts';
import type { RuntimeMetrics } from '../../runtime/metrics.ts';
import { customObjectStatusWriter, writeStatusIfChanged } from '../../runtime/status.ts';

export const agentIdentityResource = { group: GROUP, version: VERSION, plural: 'agentidentities' };

export interface IdentityStoreOptions {
  /** The informer over agentidentities. */
  cache: Source<k8s.KubernetesObject>;
  custom: k8s.CustomObjectsApi;
  metrics: RuntimeMetrics;
}

export function agentIdentityStore({ cache, custom, metrics }: IdentityStoreOptions): IdentityStore {
  const writeStatus = customObjectStatusWriter(custom, agentIdentityResource);
  const patch = customObjectMergePatcher(custom, agentIdentityResource);
  return {
    get: (namespace, name) => fromKube<AgentIdentity>(cache.get(name, namespace)),
    writeStatus: async (identity, status) =>
      fromKube<AgentIdentity>(
        await writeStatusIfChanged(writeStatus, toKube(identity), status, {
          metrics,
          resource: agentIdentityResource.plural,
        }),
      ),
    addFinalizer: async (identity, finalizer) =>
      fromKube<AgentIdentity>(await addFinalizer(patch, toKube(identity), finalizer)) ?? identity,
    removeFinalizer: async (identity, finalizer) => {
      await removeFinalizer(patch, toKube(identity), finalizer);
    },
    annotate: async (identity, annotations) => {
      await patch(toKube(identity), {
        metadata: { annotations, resourceVersion: identity.metadata.resourceVersion },
      });
    },
  };
}

// Custom objects arrive as plain JSON (timestamps are strings), while client-node types metadata with
// Dates: convert at this one boundary instead of pretending either way elsewhere.
export function fromKube<T>(obj: k8s.KubernetesObject | undefined): T | undefined {
  return obj as unknown as T | undefined;
}

export function toKube(obj: AgentIdentity): k8s.KubernetesObject {
  return obj as unknown as k8s.KubernetesObject;
}
