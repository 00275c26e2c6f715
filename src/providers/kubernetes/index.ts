// The Kubernetes provider: the embedded default backend of the CredentialProvider port.

export { kubernetesPort } from './adapter.ts';
export { LOGIN_BACKEND, LoginKeys, syncLoginSecret } from './login-secret.ts';
export {
  currentKeyOf,
  previousKeyOf,
  rbacNameOf,
  serviceAccountNameOf,
  targetSecretNameOf,
} from './names.ts';
export type { KubernetesPort, ManagedKind } from './port.ts';
export {
  KubernetesProvider,
  type KubernetesProviderDeps,
  type KubernetesProvisionOptions,
} from './provider.ts';
export { type NowSource, QuarantinedError, writeTargetSecret } from './secrets.ts';
