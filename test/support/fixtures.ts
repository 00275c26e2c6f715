// Fixture builders, so tests read like specifications: agentIdentity('bot', withSecret('api-key')).

import type * as k8s from '@kubernetes/client-node';
import type { AgentIdentity, AgentIdentitySpec, Scope, SecretSpec } from '../../src/api/v1alpha1/types.ts';

type Mod = (identity: AgentIdentity) => void;

export function agentIdentity(name: string, namespace: string, ...mods: Mod[]): AgentIdentity {
  const identity: AgentIdentity = {
    apiVersion: 'nhi.dev/v1alpha1',
    kind: 'AgentIdentity',
    metadata: { name, namespace },
    spec: {
      owner: { team: 'support-eng', contact: 'support-eng@example.com' },
      purpose: 'Answer support tickets with read access to the CRM',
      environment: 'development',
      workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      serviceAccountName: name,
      ttl: '720h',
      credentialTTL: '15m',
      orphanGracePeriod: '3s',
      quarantinePeriod: '8s',
    },
  };
  for (const mod of mods) mod(identity);
  return identity;
}

export const withSpec =
  (spec: Partial<AgentIdentitySpec>): Mod =>
  (identity) => {
    Object.assign(identity.spec, spec);
  };

export const withScopes =
  (...scopes: Scope[]): Mod =>
  (identity) => {
    identity.spec.scopes = [...(identity.spec.scopes ?? []), ...scopes];
  };

export const withSecret =
  (name: string, extra: Partial<SecretSpec> = {}): Mod =>
  (identity) => {
    identity.spec.secrets = [
      ...(identity.spec.secrets ?? []),
      {
        name,
        generator: { type: 'random', length: 32 },
        rotationInterval: '24h',
        target: { secretName: `${identity.metadata.name}-${name}` },
        ...extra,
      },
    ];
  };

export const readConfigMaps: Scope = {
  provider: 'kubernetes',
  rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
};

export function deployment(name: string, serviceAccountName: string, replicas = 1): k8s.V1Deployment {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          serviceAccountName,
          containers: [{ name: 'agent', image: 'registry.example/agents/support-bot:1.4.2' }],
        },
      },
    },
  };
}
