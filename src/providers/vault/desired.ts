// The desired state of one identity in Vault/OpenBao: the ownership record of its role, its ACL
// policy (the identity's `vault` scopes, or the quarantine deny) and its kubernetes auth role. Pure:
// the provider reads the live state, compares it with this and writes only the difference.

import { credentialTtlMs, validCredentialTtlMs } from '../../api/v1alpha1/defaults.ts';
import type { VaultScope } from '../../api/v1alpha1/types.ts';
import type { IdentityRef } from '../types.ts';
import { credsPath, databaseAccessOf, desiredDatabaseRole } from './database.ts';
import { InvalidScopeError } from './errors.ts';
import type { VaultProviderOptions } from './factory.ts';
import { type IdentityNames, roleRecordMarks } from './names.ts';
import { renderPolicy, renderQuarantinePolicy } from './policy.ts';
import type { DatabaseRole, KubernetesAuthRole } from './port.ts';
import { desiredRole } from './role.ts';

export interface DesiredState {
  record: Record<string, string>;
  policy: string;
  role: KubernetesAuthRole;
  /** The identity's database role; absent when it has no database scope (an existing one is deleted). */
  databaseRole?: DatabaseRole;
}

/** A scope or secret naming no provider, or this one (by ClusterCredentialProvider name), is ours. */
export function namesThisProvider(options: VaultProviderOptions, providerRef: string | undefined): boolean {
  return providerRef === undefined || providerRef === options.name;
}

/** The identity's `vault` scopes that name this provider (or no provider). */
export function vaultScopesOf(options: VaultProviderOptions, ref: IdentityRef): VaultScope[] {
  return (ref.identity.spec.scopes ?? []).filter(
    (s): s is VaultScope => s.provider === 'vault' && namesThisProvider(options, s.providerRef),
  );
}

/** Record, policy and role as they should be; `quarantined` renders the deny policy and the login sentinel. */
export function desiredState(
  options: VaultProviderOptions,
  ref: IdentityRef,
  names: IdentityNames,
  quarantined: boolean,
): DesiredState {
  let ttlMs = validCredentialTtlMs(ref.identity.spec);
  if (ttlMs === undefined) {
    // A bad spec must never block a quarantine: fall back to the default there.
    if (!quarantined) throw new InvalidScopeError('credentialTTL is not a positive duration');
    ttlMs = credentialTtlMs({});
  }
  const scopes = vaultScopesOf(options, ref);
  const access = databaseAccessOf(scopes);
  if (access && !options.database && !quarantined) {
    throw new InvalidScopeError(
      `a database scope needs vault.database (mount and connection) on ClusterCredentialProvider ${options.name ?? 'vault'}`,
    );
  }
  const databaseRole =
    access && options.database
      ? desiredDatabaseRole({
          names,
          settings: options.database,
          access,
          ttlSeconds: Math.ceil(ttlMs / 1000),
          quarantined,
        })
      : undefined;
  const context = {
    environment: ref.identity.spec.environment,
    kvMount: options.kvMount,
    ...(options.database ? { databaseMount: options.database.mount } : {}),
    ...(databaseRole && options.database ? { databaseCredsPath: credsPath(options.database, names) } : {}),
  };
  return {
    ...(databaseRole ? { databaseRole } : {}),
    record: roleRecordMarks(ref, names, options.kubernetesAuthMount),
    policy: quarantined ? renderQuarantinePolicy(names) : renderPolicy(names, scopes, context),
    role: desiredRole(
      ref.subject,
      names.base,
      {
        tokenTtlSeconds: Math.ceil(ttlMs / 1000),
        tokenMaxTtlSeconds: options.tokenMaxTtlSeconds,
        audience: options.audience,
      },
      quarantined,
    ),
  };
}
