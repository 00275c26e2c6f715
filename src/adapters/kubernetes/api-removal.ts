// The reconciler's DeletionFacts over the apiserver: whether the AgentIdentity CRD is being deleted
// (one get of one object, made only while an AgentIdentity is being deleted), and when a namespace
// began terminating (from the Namespace informer the operator already runs).

import * as k8s from '@kubernetes/client-node';
import { TerminatingNamespaceOffboarding } from '../../api/v1alpha1/defaults.ts';
import { GROUP } from '../../api/v1alpha1/types.ts';
import type { DeletionFacts } from '../../controller/agentidentity/ports.ts';
import { isNotFound } from '../../runtime/errors.ts';

/** The CRD whose removal makes the operator step aside. */
export const AGENT_IDENTITY_CRD = `agentidentities.${GROUP}`;

export interface DeletionFactsOptions {
  /** The namespace's deletionTimestamp as the informer cache has it. */
  namespaceDeletionTimestamp: (name: string) => string | undefined;
  releaseAfterMs?: number | undefined;
}

export function apiserverDeletionFacts(kc: k8s.KubeConfig, options: DeletionFactsOptions): DeletionFacts {
  const extensions = kc.makeApiClient(k8s.ApiextensionsV1Api);
  return {
    async apiBeingRemoved() {
      try {
        const crd = await extensions.readCustomResourceDefinition({ name: AGENT_IDENTITY_CRD });
        return Boolean(crd.metadata?.deletionTimestamp);
      } catch (error) {
        // Gone already: the AgentIdentity in hand is one the CRD's removal is deleting.
        if (isNotFound(error)) return true;
        throw error;
      }
    },
    namespaceDeletedAt(name) {
      const at = options.namespaceDeletionTimestamp(name);
      return at ? new Date(at) : undefined;
    },
    releaseAfterMs: options.releaseAfterMs ?? TerminatingNamespaceOffboarding.releaseAfterMs,
  };
}
