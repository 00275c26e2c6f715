// The Kubernetes provider: the embedded default backend of the CredentialProvider port.

export {
  currentKeyOf,
  K8sMarks,
  previousKeyOf,
  rbacNameOf,
  serviceAccountNameOf,
  targetSecretNameOf,
} from './names.ts';
export { ConflictError, type KubernetesPort, kubernetesPort, type ManagedKind } from './port.ts';
export {
  KubernetesProvider,
  type KubernetesProviderDeps,
  type KubernetesProvisionOptions,
} from './provider.ts';
export { overlapMs } from './secret-layout.ts';
export { type NowSource, QuarantinedError, writeTargetSecret } from './secrets.ts';
