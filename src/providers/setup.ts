// Builds the provider registry the operator runs with: the Kubernetes provider always, AWS and
// Vault/OpenBao when enabled, each registered explicitly (no import side effects).

import * as k8s from '@kubernetes/client-node';
import type { ClusterCredentialProvider, SecretSpec } from '../api/v1alpha1/types.ts';
import type { Logger } from '../runtime/logger.ts';
import { awsProviderFactory } from './aws/index.ts';
import { KubernetesProvider, kubernetesPort, writeTargetSecret } from './kubernetes/index.ts';
import { ProviderRegistry } from './registry.ts';
import type { IdentityRef, SecretMaterial } from './types.ts';
import { createVaultProvider } from './vault/index.ts';

export interface OperatorProviders extends ProviderRegistry {
  /** Writes an external secret's values into its Kubernetes target Secret; true when it wrote. */
  syncTarget(ref: IdentityRef, secret: SecretSpec, material: SecretMaterial): Promise<boolean>;
}

export interface ProviderSetupOptions {
  enabled: readonly ('aws' | 'vault')[];
  /** Accept a Vault token from a Secret (auth.tokenSecretRef): the dev environment only. */
  allowStaticVaultToken: boolean;
}

export function buildProviderRegistry(
  kc: k8s.KubeConfig,
  listConfigs: () => readonly ClusterCredentialProvider[],
  _logger: Logger,
  options: ProviderSetupOptions,
): OperatorProviders {
  const port = kubernetesPort(kc);
  const clock = { now: () => Date.now() };
  const registry = new ProviderRegistry(
    new KubernetesProvider({ port, clock }),
    listConfigs,
  ) as OperatorProviders;
  if (options.enabled.includes('aws')) registry.register('aws', awsProviderFactory());
  if (options.enabled.includes('vault')) {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    registry.register('vault', (config) =>
      createVaultProvider(config, {
        allowStaticToken: options.allowStaticVaultToken,
        resolveSecretRef: async ({ name, namespace, key }) => {
          const secret = await core.readNamespacedSecret({ name, namespace });
          const value = secret.data?.[key];
          if (!value) throw new Error(`Secret ${namespace}/${name} has no key ${key}`);
          return Buffer.from(value, 'base64').toString('utf8').trim();
        },
      }),
    );
  }
  registry.syncTarget = async (ref, secret, material) =>
    (await writeTargetSecret(port, ref, secret, material, clock)).written;
  return registry;
}
