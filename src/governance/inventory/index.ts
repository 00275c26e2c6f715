// The NHI inventory: pure classification over raw objects, read-only ports for Kubernetes, IAM and
// Vault/OpenBao, and collectInventory() that joins them.

export { type IamSourceOptions, iamInventoryClient, iamInventoryPort } from './aws-source.ts';
export { ACCESS_KEY_MAX_AGE_DAYS, classify, identityState } from './classify.ts';
export { collectInventory, gatherInventory } from './collect.ts';
export { kubernetesInventoryPort } from './kubernetes-source.ts';
export { hasFinding, type InventorySummary, summarize } from './summary.ts';
export { isSystemServiceAccount, SYSTEM_NAMESPACES, SYSTEM_RULES } from './system.ts';
export {
  iamTrustBinding,
  issuerHostOf,
  parseServiceAccountSubject,
  trustsIssuer,
  vaultRoleBinding,
} from './trust.ts';
export * from './types.ts';
export { type VaultSourceOptions, vaultInventoryPort } from './vault-source.ts';
