// The operator's own minimal Vault/OpenBao policy, as HCL. The README quotes it and the integration
// tests run the provider authenticated with exactly this policy, so the two cannot drift apart.
//
// Name the operator's own policy and login role outside the `nhi-` prefix it manages (e.g.
// `nhi_operator`), so it cannot rewrite its own grants.

export interface OperatorPolicyOptions {
  kvMount: string;
  kubernetesAuthMount: string;
  /** Include the token-accessor grants used for last use and for revoking issued tokens (default true). */
  tokenAccessors?: boolean;
  /**
   * The database secrets engine's mount (spec.vault.database.mount), when identities get database
   * logins: the operator writes the engine's nhi-* roles and revokes their leases. Never its
   * connections (config/), its admin password (rotate-root), nor logins (creds/) unless databaseTargets.
   */
  databaseMount?: string;
  /**
   * Identities keep database logins in target Secrets (database.target): the operator reads logins of
   * the nhi-* roles (<mount>/creds/nhi-*) to write them there. Off by default: without target Secrets
   * the operator never makes a login.
   */
  databaseTargets?: boolean;
  /**
   * The platform's monitoring role (spec.vault.database.activity.role): the operator reads its logins
   * to ask pg_stat_activity when identities' users were last active.
   */
  databaseActivityRole?: string;
  /**
   * Read (never write) every kubernetes auth role, so that AgentIdentities in spec.management
   * Observe can report roles the operator does not own (spec.observe.vaultRoleName). Default false.
   */
  observeRoles?: boolean;
}

export function operatorPolicy(options: OperatorPolicyOptions): string {
  const kv = options.kvMount;
  const auth = options.kubernetesAuthMount;
  const lines = [
    '# nhi-operator: the per-identity policies, kubernetes auth roles and KV secrets it owns.',
    'path "sys/policies/acl" {',
    '  capabilities = ["list"]',
    '}',
    'path "sys/policies/acl/nhi-*" {',
    '  capabilities = ["create", "read", "update", "delete"]',
    '}',
    `path "auth/${auth}/role" {`,
    '  capabilities = ["list"]',
    '}',
    `path "auth/${auth}/role/nhi-*" {`,
    '  capabilities = ["create", "read", "update", "delete"]',
    '}',
    `path "${kv}/data/nhi/*" {`,
    '  capabilities = ["create", "read", "update"]',
    '}',
    `path "${kv}/metadata/nhi/*" {`,
    '  capabilities = ["create", "read", "update", "delete", "list"]',
    '}',
    `path "${kv}/destroy/nhi/*" {`,
    '  capabilities = ["update"]',
    '}',
  ];
  if (options.databaseMount) {
    const db = options.databaseMount;
    lines.push(
      '# Database roles of the identities, and revocation of every lease of one role (quarantine, revoke).',
      `path "${db}/roles" {`,
      '  capabilities = ["list"]',
      '}',
      `path "${db}/roles/nhi-*" {`,
      '  capabilities = ["create", "read", "update", "delete"]',
      '}',
      `path "sys/leases/lookup/${db}/creds/nhi-*" {`,
      '  capabilities = ["list", "sudo"]',
      '}',
      `path "sys/leases/revoke/${db}/creds/nhi-*" {`,
      '  capabilities = ["update"]',
      '}',
      ...(options.databaseTargets
        ? [
            '# Logins of the identities that keep one in a target Secret (database.target).',
            `path "${db}/creds/nhi-*" {`,
            '  capabilities = ["read"]',
            '}',
          ]
        : []),
      ...(options.databaseActivityRole
        ? [
            '# Last use from pg_stat_activity, with a login of the monitoring role (database.activity).',
            `path "${db}/creds/${options.databaseActivityRole}" {`,
            '  capabilities = ["read"]',
            '}',
          ]
        : []),
      '# Last use: when the listed leases were issued and renewed (a lookup needs the lease id).',
      'path "sys/leases/lookup" {',
      '  capabilities = ["update"]',
      '}',
    );
  }
  if (options.observeRoles) {
    lines.push(
      '# Observe mode: read-only access to the kubernetes auth roles it does not own.',
      `path "auth/${auth}/role/*" {`,
      '  capabilities = ["read"]',
      '}',
    );
  }
  if (options.tokenAccessors !== false) {
    lines.push(
      "# Last use (issue and renewal times of the roles' tokens) and revocation of issued tokens.",
      'path "auth/token/accessors" {',
      '  capabilities = ["list", "sudo"]',
      '}',
      'path "auth/token/lookup-accessor" {',
      '  capabilities = ["update"]',
      '}',
      'path "auth/token/revoke-accessor" {',
      '  capabilities = ["update"]',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}
