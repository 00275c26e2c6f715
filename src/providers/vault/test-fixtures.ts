// Fixture builders for the provider's unit tests (and anyone testing against FakeVaultPort):
//   identityRef('bot', inNamespace('agents'), withVaultPaths({ path: 'secret/data/crm/*', capabilities: ['read'] }))

import type { AgentIdentity, SecretSpec, VaultPathGrant } from '../../api/v1alpha1/types.ts';
import { API_VERSION } from '../../api/v1alpha1/types.ts';
import type { IdentityRef } from '../types.ts';

export type IdentityOption = (identity: AgentIdentity) => void;

export function inNamespace(namespace: string): IdentityOption {
  return (identity) => {
    identity.metadata.namespace = namespace;
  };
}

export function withUid(uid: string): IdentityOption {
  return (identity) => {
    identity.metadata.uid = uid;
  };
}

export function withVaultPaths(...paths: VaultPathGrant[]): IdentityOption {
  return (identity) => {
    identity.spec.scopes = [...(identity.spec.scopes ?? []), { provider: 'vault', paths }];
  };
}

export function inEnvironment(environment: AgentIdentity['spec']['environment']): IdentityOption {
  return (identity) => {
    identity.spec.environment = environment;
  };
}

export function withCredentialTTL(ttl: string): IdentityOption {
  return (identity) => {
    identity.spec.credentialTTL = ttl;
  };
}

export function agentIdentity(name: string, ...options: IdentityOption[]): AgentIdentity {
  const identity: AgentIdentity = {
    apiVersion: API_VERSION,
    kind: 'AgentIdentity',
    metadata: { name, namespace: 'default', uid: `uid-${name}-0001` },
    spec: {
      owner: { team: 'support-eng' },
      purpose: 'Answer support tickets',
      environment: 'development',
      serviceAccountName: name,
      credentialTTL: '15m',
    },
  };
  for (const option of options) option(identity);
  return identity;
}

export function identityRef(name: string, ...options: IdentityOption[]): IdentityRef {
  const identity = agentIdentity(name, ...options);
  return {
    identity,
    subject: {
      namespace: identity.metadata.namespace ?? 'default',
      serviceAccountName: identity.spec.serviceAccountName ?? name,
    },
  };
}

export function kvSecret(name: string, overrides: Partial<SecretSpec> = {}): SecretSpec {
  return { name, backend: 'vault-kv', generator: { type: 'random', length: 32 }, ...overrides };
}

export class SimulatedCrash extends Error {
  constructor(readonly call: number) {
    super(`simulated crash at port call ${call}`);
    this.name = 'SimulatedCrash';
  }
}

/**
 * Wraps a VaultPort so that call number `at` (0-based, health excluded) crashes: `before` it reaches
 * the server, or `after` the server did it but before the caller learns the result. Every later
 * call crashes too, as a dead process makes no more calls. `calls()` counts what went through.
 */
export function crashingPort<P extends object>(
  port: P,
  at: number,
  when: 'before' | 'after' = 'before',
): { port: P; calls: () => number; crashed: () => boolean } {
  let count = 0;
  let crashed = false;
  const proxy = new Proxy(port, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || key === 'health' || key === 'constructor') return value;
      return async (...args: unknown[]) => {
        const index = count++;
        if (crashed || (index === at && when === 'before')) {
          crashed = true;
          throw new SimulatedCrash(index);
        }
        const result = await value.apply(target, args);
        if (index === at) {
          crashed = true;
          throw new SimulatedCrash(index);
        }
        return result;
      };
    },
  });
  return { port: proxy, calls: () => count, crashed: () => crashed };
}
