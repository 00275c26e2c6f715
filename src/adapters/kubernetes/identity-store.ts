// The IdentityStore the AgentIdentity reconciler reads and writes through: reads come from the
// informer's cache (habit 1: the cache is the truth), writes go to the apiserver through the custom
// objects API: status through the subresource only when it changed, finalizers and annotations as
// merge patches that carry the resourceVersion (a 409 is a ConflictError, i.e. a quiet requeue).
// It remembers the versions this process wrote over for a while: a reconcile handed a cached object at
// one of them waits for the watch instead of acting on what it has already changed (a second
// adoption record, a second rotation attempt), as kube-controller-manager's expectations do.

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

/** How long a version this process wrote over is remembered as superseded (the watch delivers sooner). */
const SUPERSEDED_FOR_MS = 30_000;

export function agentIdentityStore({ cache, custom, metrics }: IdentityStoreOptions): IdentityStore {
  const writeStatus = customObjectStatusWriter(custom, agentIdentityResource);
  const patch = customObjectMergePatcher(custom, agentIdentityResource);
  /**
   * "namespace/name resourceVersion" of the versions this process wrote over, and when: a cached
   * object still at one of them is older than what the apiserver holds (the watch has not delivered
   * this process's own write yet). Kept in write order, so what has expired is at the front.
   */
  const superseded = new Map<string, number>();
  const versionKey = ({ metadata }: AgentIdentity) =>
    `${metadata.namespace ?? ''}/${metadata.name} ${metadata.resourceVersion ?? ''}`;
  const wroteOver = <T>(identity: AgentIdentity, written: T): T => {
    const now = Date.now();
    superseded.set(versionKey(identity), now);
    for (const [key, at] of superseded) {
      if (now - at <= SUPERSEDED_FOR_MS) break;
      superseded.delete(key);
    }
    return written;
  };
  return {
    get: (namespace, name) => fromKube<AgentIdentity>(cache.get(name, namespace)),
    isStale: (identity) => {
      const at = superseded.get(versionKey(identity));
      return at !== undefined && Date.now() - at <= SUPERSEDED_FOR_MS;
    },
    writeStatus: async (identity, status) => {
      const written = fromKube<AgentIdentity>(
        await writeStatusIfChanged(writeStatus, toKube(identity), status, {
          metrics,
          resource: agentIdentityResource.plural,
        }),
      );
      return written ? wroteOver(identity, written) : undefined;
    },
    addFinalizer: async (identity, finalizer) => {
      const written = fromKube<AgentIdentity>(await addFinalizer(patch, toKube(identity), finalizer));
      return written && written !== identity ? wroteOver(identity, written) : (written ?? identity);
    },
    removeFinalizer: async (identity, finalizer) => {
      await removeFinalizer(patch, toKube(identity), finalizer);
      wroteOver(identity, undefined);
    },
    annotate: async (identity, annotations) => {
      await patch(toKube(identity), {
        metadata: { annotations, resourceVersion: identity.metadata.resourceVersion },
      });
      wroteOver(identity, undefined);
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
