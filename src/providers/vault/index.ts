// The Vault/OpenBao provider's public surface: main.ts registers `createVaultProvider`, the
// controller may call `vaultScopeViolations` (pure) before provisioning. Tests import FakeVaultPort
// from testing/fake-port.ts: test code is not part of this surface.

export { createNodeVaultClient, NodeVaultPort } from './adapter.ts';
export { KubernetesLoginSource, RereadingTokenSource, StaticTokenSource, type TokenSource } from './auth.ts';
export { CasMismatchError, InvalidScopeError, VaultPermissionError, VaultRequestError } from './errors.ts';
export {
  DEFAULT_SERVICE_ACCOUNT_TOKEN,
  DEFAULT_TOKEN_MAX_TTL,
  type VaultProviderDeps,
  type VaultProviderOptions,
  vaultPortFromSpec,
  vaultProviderOptions,
} from './factory.ts';
export {
  CURRENT_VERSION,
  DEFAULT_MAX_VERSIONS,
  PENDING_VERSION,
  PREVIOUS_VERSION,
  ROTATED_AT,
  rotationState,
  VALUE_KEY,
} from './kv.ts';
export { type IdentityNames, identityNames, secretPath } from './names.ts';
export { type OperatorPolicyOptions, operatorPolicy } from './operator-policy.ts';
export {
  parsePolicyHeader,
  renderPolicy,
  renderQuarantinePolicy,
  type ScopeCheckContext,
  vaultScopeViolations,
} from './policy.ts';
export type { KubernetesAuthRole, KvMetadata, TokenInfo, VaultHealth, VaultPort } from './port.ts';
export { createVaultProvider, VaultProvider } from './provider.ts';
export { QUARANTINE_SENTINEL } from './role.ts';
