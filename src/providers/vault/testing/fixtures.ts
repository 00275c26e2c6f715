// Vault-specific fixtures for the provider's tests (and anyone testing against FakeVaultPort); the
// identity comes from the shared builder:
//   identityRef('bot', inNamespace('agents'), withVaultPaths({ path: 'secret/data/crm/*', capabilities: ['read'] }))

import type { SecretSpec } from '../../../api/v1alpha1/types.ts';
import { agentIdentity, type Modifier } from '../../../testing/agent-identity.ts';
import type { IdentityRef } from '../../types.ts';

/** The ref of `agentIdentity(name, ...modifiers)`, bound to its ServiceAccount. */
export function identityRef(name: string, ...modifiers: Modifier[]): IdentityRef {
  const identity = agentIdentity(name, ...modifiers);
  return {
    identity,
    subject: {
      namespace: identity.metadata.namespace ?? 'default',
      serviceAccountName: identity.spec.serviceAccountName ?? identity.metadata.name,
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
