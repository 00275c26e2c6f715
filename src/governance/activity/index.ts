export { attribute, type IdentityPrincipals, matches, principalsOf, summarize } from './attribute.ts';
export { parseCloudTrail, roleNameOfArn } from './cloudtrail.ts';
export { kubernetesUsername, parseKubernetesAudit, serviceAccountOfUser } from './kubernetes-audit.ts';
export { type ActivitySource, parseText, type ReadFilter, readActivityFile } from './read.ts';
export type * from './types.ts';
export { parseVaultAudit } from './vault-audit.ts';
