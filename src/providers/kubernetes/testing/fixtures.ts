// Kubernetes-specific fixtures for the provider's tests; identities come from the shared builder:
// `refOf(agentIdentity('bot', inNamespace('a'), withRules(readConfigMaps), withSecrets(randomSecret('k'))))`.

import type { AgentIdentity, PolicyRule, SecretSpec } from '../../../api/v1alpha1/types.ts';
import type { IdentityRef } from '../../types.ts';
import { serviceAccountNameOf } from '../names.ts';

export const readConfigMaps: PolicyRule = { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] };

export function randomSecret(name: string, extra: Partial<SecretSpec> = {}): SecretSpec {
  return { name, generator: { type: 'random', length: 24 }, ...extra };
}

export function refOf(identity: AgentIdentity): IdentityRef {
  return {
    identity,
    subject: {
      namespace: identity.metadata.namespace ?? 'default',
      serviceAccountName: serviceAccountNameOf(identity),
    },
  };
}

/** Deterministic secret values: value-1, value-2, ... */
export function counterGenerator(prefix = 'value'): () => string {
  let n = 0;
  return () => `${prefix}-${++n}`;
}
