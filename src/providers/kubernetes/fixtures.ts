// Fixture builders for tests of the Kubernetes provider: agentIdentity('bot', inNamespace('a'), withScopes(...)).

import type { AgentIdentity, PolicyRule, SecretSpec } from '../../api/v1alpha1/types.ts';
import type { IdentityRef } from '../types.ts';
import { serviceAccountNameOf } from './names.ts';

type Modifier = (identity: AgentIdentity) => void;

export function agentIdentity(name: string, ...modifiers: Modifier[]): AgentIdentity {
  const identity: AgentIdentity = {
    apiVersion: 'nhi.dev/v1alpha1',
    kind: 'AgentIdentity',
    metadata: { name, namespace: 'agents', uid: `uid-of-${name}` },
    spec: {
      owner: { team: 'support-eng', contact: 'support-eng@example.com' },
      purpose: 'Answer support tickets with read access to the CRM',
      environment: 'production',
    },
  };
  for (const modify of modifiers) modify(identity);
  return identity;
}

export const inNamespace =
  (namespace: string): Modifier =>
  (identity) => {
    identity.metadata.namespace = namespace;
  };

export const withUid =
  (uid: string): Modifier =>
  (identity) => {
    identity.metadata.uid = uid;
  };

export const withServiceAccount =
  (serviceAccountName: string): Modifier =>
  (identity) => {
    identity.spec.serviceAccountName = serviceAccountName;
  };

export const withRules =
  (...rules: PolicyRule[]): Modifier =>
  (identity) => {
    identity.spec.scopes = [...(identity.spec.scopes ?? []), { provider: 'kubernetes', rules }];
  };

export const withSecrets =
  (...secrets: SecretSpec[]): Modifier =>
  (identity) => {
    identity.spec.secrets = [...(identity.spec.secrets ?? []), ...secrets];
  };

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
