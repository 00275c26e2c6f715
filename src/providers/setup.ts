// Builds the provider registry the operator runs with: the Kubernetes provider always, AWS and
// Vault/OpenBao when enabled, each registered explicitly (no import side effects).

import type * as k8s from '@kubernetes/client-node';
import type { ClusterCredentialProvider, SecretSpec } from '../api/v1alpha1/types.ts';
import type { Logger } from '../runtime/logger.ts';
import { awsProviderFactory } from './aws/index.ts';
import { KubernetesProvider, kubernetesPort, writeTargetSecret } from './kubernetes/index.ts';
import { ProviderRegistry } from './registry.ts';
import type { IdentityRef, SecretMaterial } from './types.ts';

export interface OperatorProviders extends ProviderRegistry {
  /** Writes an external secret's values into its Kubernetes target Secret; true when it wrote. */
  syncTarget(ref: IdentityRef, secret: SecretSpec, material: SecretMaterial): Promise<boolean>;
}

export function buildProviderRegistry(
  kc: k8s.KubeConfig,
  listConfigs: () => readonly ClusterCredentialProvider[],
  _logger: Logger,
  enabled: readonly ('aws' | 'vault')[],
): OperatorProviders {
  const port = kubernetesPort(kc);
  const clock = { now: () => Date.now() };
  const registry = new ProviderRegistry(
    new KubernetesProvider({ port, clock }),
    listConfigs,
  ) as OperatorProviders;
  if (enabled.includes('aws')) registry.register('aws', awsProviderFactory());
  registry.syncTarget = async (ref, secret, material) =>
    (await writeTargetSecret(port, ref, secret, material, clock)).written;
  return registry;
}
