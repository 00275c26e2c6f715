// Builds the providers the operator runs with: the registry (the Kubernetes provider always, AWS and
// Vault/OpenBao when enabled, each registered explicitly, no import side effects) and the sync of an
// externally kept secret into its Kubernetes target Secret, over the same Kubernetes port.

import * as k8s from '@kubernetes/client-node';
import type { ClusterCredentialProvider, SecretSpec } from '../api/v1alpha1/types.ts';
import { awsProviderFactory } from './aws/index.ts';
import {
  type KubernetesPort,
  KubernetesProvider,
  kubernetesPort,
  syncLoginSecret,
  writeTargetSecret,
} from './kubernetes/index.ts';
import { ProviderRegistry } from './registry.ts';
import type { IdentityRef, SecretMaterial } from './types.ts';
import { createVaultProvider } from './vault/index.ts';

export interface OperatorProviders {
  registry: ProviderRegistry;
  /** Writes an external secret's values into its Kubernetes target Secret; true when it wrote. */
  syncTarget: (ref: IdentityRef, secret: SecretSpec, material: SecretMaterial) => Promise<boolean>;
}

export interface ProviderSetupOptions {
  /** Serves the Kubernetes provider's reads from the operator's caches (kubernetes/cached-port.ts). */
  cache?: (live: KubernetesPort) => KubernetesPort;
  enabled: readonly ('aws' | 'vault')[];
  /** Accept a Vault token from a Secret (auth.tokenSecretRef): the dev environment only. */
  allowStaticVaultToken: boolean;
}

export function buildProviders(
  kc: k8s.KubeConfig,
  listConfigs: () => readonly ClusterCredentialProvider[],
  options: ProviderSetupOptions,
): OperatorProviders {
  const live = kubernetesPort(kc);
  const port = options.cache ? options.cache(live) : live;
  const clock = { now: () => Date.now() };
  const registry = new ProviderRegistry(new KubernetesProvider({ port, clock }), listConfigs);
  if (options.enabled.includes('aws')) registry.register('aws', awsProviderFactory());
  if (options.enabled.includes('vault')) {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    registry.register('vault', (config) =>
      createVaultProvider(config, {
        allowStaticToken: options.allowStaticVaultToken,
        loginTargets: (ref, secretName, issue) =>
          syncLoginSecret(port, ref, secretName, issue, () => new Date(clock.now())),
        resolveSecretRef: async ({ name, namespace, key }) => {
          const secret = await core.readNamespacedSecret({ name, namespace });
          const value = secret.data?.[key];
          if (!value) throw new Error(`Secret ${namespace}/${name} has no key ${key}`);
          return Buffer.from(value, 'base64').toString('utf8').trim();
        },
      }),
    );
  }
  const syncTarget: OperatorProviders['syncTarget'] = async (ref, secret, material) =>
    (await writeTargetSecret(port, ref, secret, material, clock)).written;
  return { registry, syncTarget };
}
