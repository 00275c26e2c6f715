// VaultProvider: one identity's footprint in Vault/OpenBao, behind the CredentialProvider port.
//
//   policy  nhi-<ns>-<name>-<hash>          ACL from the `vault` scopes + read on <kv>/data/nhi/<ns>/<name>/*
//   role    auth/<mount>/role/<same name>   bound to exactly the managed ServiceAccount and namespace
//   record  <kv>/metadata/nhi/_owners/<name> ownership of the role (roles carry no metadata)
//   secrets <kv>/data/nhi/<ns>/<name>/<secret>  KV v2, staged rotation (kv.ts)
//   db role <database mount>/roles/<same name>  PostgreSQL logins from the `database` scopes (database.ts)
//
// Every write is preceded by a read, so each call converges from any state a crash left behind:
// the record is written before the role and deleted after it; the policy's header comment marks it.
// Quarantine is preserved by provision() and observe(): only restore() lifts it.

import { createHash } from 'node:crypto';
import { credentialTtlMs } from '../../api/v1alpha1/defaults.ts';
import type {
  ClusterCredentialProvider,
  PlannedChange,
  SecretSpec,
  VaultProviderSpec,
  VaultScope,
} from '../../api/v1alpha1/types.ts';
import type { Clock } from '../../runtime/clock.ts';
import {
  type CredentialProvider,
  type ForeignRole,
  type IdentityRef,
  InvalidConfigError,
  type LoginHooks,
  type LoginRenewal,
  type LoginTargetSync,
  NotOwnedError,
  type Observation,
  type ProvisionResult,
  type RotationResult,
  type SecretMaterial,
} from '../types.ts';
import {
  databaseAccessOf,
  databaseRoleDifferences,
  databaseRoleOwner,
  desiredDatabaseRole,
  isQuarantinedDatabaseRole,
  leaseFolder,
} from './database.ts';
import { PgSessionActivity, type SessionActivityPort } from './database-activity.ts';
import { type DesiredState, desiredState, namesThisProvider, vaultScopesOf } from './desired.ts';
import { type VaultProviderDeps, type VaultProviderOptions, vaultProviderParts } from './factory.ts';
import { KvSecrets } from './kv.ts';
import { type IdentityNames, identityNames, isOwnedBy } from './names.ts';
import { parsePolicyHeader } from './policy.ts';
import type { DatabaseRole, KubernetesAuthRole, KvMetadata, VaultHealth, VaultPort } from './port.ts';
import { isQuarantinedRole, roleDifferences } from './role.ts';
import { TokenActivity } from './tokens.ts';

interface Live {
  names: IdentityNames;
  record?: KvMetadata;
  policy?: string;
  role?: KubernetesAuthRole;
  /** The identity's database role (read only when the provider has a database engine). */
  databaseRole?: DatabaseRole;
  quarantined: boolean;
}

type Drift = Observation['drift'];

/** What the operator adds to a provider besides its port: Kubernetes Secrets, a session reader. */
export interface VaultProviderExtras {
  loginTargets?: LoginTargetSync;
  /** Replaces the pg_stat_activity reader (unit tests). */
  sessions?: SessionActivityPort;
}

/** Leases looked up per observe for the last use of an identity's database logins. */
const MAX_LEASE_LOOKUPS = 20;

export class VaultProvider implements CredentialProvider {
  readonly kind = 'vault' as const;
  private readonly kv: KvSecrets;
  private readonly tokens: TokenActivity;
  /** Writes database logins into target Secrets (database.target); without it such a target fails. */
  private readonly loginTargets: LoginTargetSync | undefined;
  /** Last use from pg_stat_activity (database.activity), when the platform enabled it. */
  private readonly sessions: SessionActivityPort | undefined;

  constructor(
    readonly options: VaultProviderOptions,
    private readonly port: VaultPort,
    private readonly clock: Clock,
    extras: VaultProviderExtras = {},
  ) {
    this.kv = new KvSecrets(port, options.kvMount, clock, options.maxVersions);
    this.tokens = new TokenActivity(port, clock, options.tokenScanCacheMs);
    this.loginTargets = extras.loginTargets;
    const database = options.database;
    this.sessions =
      extras.sessions ??
      (database?.activity
        ? new PgSessionActivity(
            () => port.issueDatabaseLogin(database.mount, database.activity!.role),
            database.activity,
            clock,
            options.tokenScanCacheMs,
          )
        : undefined);
  }

  /** A provider for a ClusterCredentialProvider's `vault` spec, authenticated as the spec says. */
  static fromSpec(spec: VaultProviderSpec, deps: VaultProviderDeps = {}): VaultProvider {
    const { options, port, clock, loginTargets } = vaultProviderParts(spec, deps);
    return new VaultProvider(options, port, clock, loginTargets ? { loginTargets } : {});
  }

  /** Observe mode: reads a kubernetes-auth role it does not own; writes nothing. */
  async inspectForeignRole(name: string): Promise<ForeignRole | undefined> {
    const role = await this.port.readRole(this.mount, name);
    if (!role) return undefined;
    return {
      kind: 'vault-role',
      name,
      boundServiceAccountNames: role.boundServiceAccountNames,
      boundServiceAccountNamespaces: role.boundServiceAccountNamespaces,
      namespaceSelector: role.boundServiceAccountNamespaceSelector,
      digest: createHash('sha256').update(JSON.stringify(role)).digest('hex'),
    };
  }

  private get mount(): string {
    return this.options.kubernetesAuthMount;
  }

  private resource(kind: 'policy' | 'role' | 'record' | 'database', names: IdentityNames): string {
    if (kind === 'policy') return `vault:policy/${names.base}`;
    if (kind === 'database') return `vault:${this.options.database?.mount ?? 'database'}/roles/${names.base}`;
    if (kind === 'role') return `vault:auth/${this.mount}/role/${names.base}`;
    return `vault:${this.options.kvMount}/metadata/${names.ownerRecord}`;
  }

  /** The identity's `vault` scopes that name this provider (or no provider). */
  scopesOf(ref: IdentityRef): VaultScope[] {
    return vaultScopesOf(this.options, ref);
  }

  private async inspect(ref: IdentityRef): Promise<Live> {
    const names = identityNames(ref);
    const record = await this.port.readKvMetadata(this.options.kvMount, names.ownerRecord);
    if (record && !isOwnedBy(record.customMetadata, names.uid)) {
      throw new NotOwnedError(`${this.resource('record', names)} belongs to another identity`);
    }
    const policy = await this.port.readPolicy(names.base);
    const header = policy === undefined ? undefined : parsePolicyHeader(policy);
    if (policy !== undefined && header?.uid !== names.uid) {
      throw new NotOwnedError(
        `${this.resource('policy', names)} exists but is not managed for this identity`,
      );
    }
    const role = await this.port.readRole(this.mount, names.base);
    if (role && !record) {
      throw new NotOwnedError(`${this.resource('role', names)} exists without an ownership record`);
    }
    const databaseRole = await this.readDatabaseRole(names);
    const quarantined =
      header?.state === 'quarantined' ||
      (role !== undefined && isQuarantinedRole(role)) ||
      (databaseRole !== undefined && isQuarantinedDatabaseRole(databaseRole));
    const live: Live = { names, quarantined };
    if (record) live.record = record;
    if (policy !== undefined) live.policy = policy;
    if (role) live.role = role;
    if (databaseRole) live.databaseRole = databaseRole;
    return live;
  }

  /** The identity's database role; NotOwnedError when a role at its name lacks this identity's mark. */
  private async readDatabaseRole(names: IdentityNames): Promise<DatabaseRole | undefined> {
    const database = this.options.database;
    if (!database) return undefined;
    const role = await this.port.readDatabaseRole(database.mount, names.base);
    if (role && databaseRoleOwner(role) !== names.uid) {
      throw new NotOwnedError(
        `${this.resource('database', names)} exists but is not managed for this identity`,
      );
    }
    return role;
  }

  /** Blocks new logins (the quarantined creation statements), then revokes every lease of the role. */
  private async cutDatabaseLogins(
    ref: IdentityRef,
    names: IdentityNames,
    live?: DatabaseRole,
  ): Promise<number> {
    const database = this.options.database;
    if (!database || !live) return 0;
    const blocked = desiredDatabaseRole({
      names,
      settings: database,
      access: { grants: [] },
      ttlSeconds: live.defaultTtlSeconds || Math.ceil(credentialTtlMs(ref.identity.spec) / 1000),
      quarantined: true,
    });
    if (databaseRoleDifferences(live, blocked).length > 0) {
      await this.port.writeDatabaseRole(database.mount, names.base, blocked);
    }
    return this.revokeDatabaseLeases(names);
  }

  /**
   * The latest issue or renewal of the role's database logins: each is a use of the identity. At most
   * MAX_LEASE_LOOKUPS leases are looked up (the newest ids are not knowable, so the first listed).
   */
  private async lastDatabaseLogin(names: IdentityNames): Promise<Date | undefined> {
    const database = this.options.database;
    if (!database) return undefined;
    const leases = (await this.port.listLeases(leaseFolder(database, names))).slice(0, MAX_LEASE_LOOKUPS);
    let latest: number | undefined;
    for (const lease of leases) {
      const info = await this.port.lookupLease(lease);
      for (const time of [info?.issueTime, info?.lastRenewal]) {
        const at = time ? Date.parse(time) : Number.NaN;
        if (!Number.isNaN(at) && (latest === undefined || at > latest)) latest = at;
      }
    }
    return latest === undefined ? undefined : new Date(latest);
  }

  /** Revokes every lease of the role; the number revoked (lease ids never leave this function). */
  private async revokeDatabaseLeases(names: IdentityNames): Promise<number> {
    const database = this.options.database;
    if (!database) return 0;
    const leases = await this.port.listLeases(leaseFolder(database, names));
    for (const lease of leases) await this.port.revokeLease(lease);
    return leases.length;
  }

  private desired(ref: IdentityRef, names: IdentityNames, quarantined: boolean): DesiredState {
    return desiredState(this.options, ref, names, quarantined);
  }

  private recordDiffers(live: Live, desired: DesiredState): boolean {
    const custom = live.record?.customMetadata ?? {};
    return Object.entries(desired.record).some(([key, value]) => custom[key] !== value);
  }

  private changes(live: Live, desired: DesiredState): PlannedChange[] {
    const { names } = live;
    const changes: PlannedChange[] = [];
    if (!live.record) {
      changes.push({
        action: 'create',
        resource: this.resource('record', names),
        reason: 'ownership record of the role',
      });
    } else if (this.recordDiffers(live, desired)) {
      changes.push({
        action: 'update',
        resource: this.resource('record', names),
        reason: 'ownership marks changed',
      });
    }
    if (live.policy === undefined) {
      changes.push({
        action: 'create',
        resource: this.resource('policy', names),
        reason: 'policy of the identity',
      });
    } else if (live.policy !== desired.policy) {
      changes.push({
        action: 'update',
        resource: this.resource('policy', names),
        reason: 'rules differ from the scopes',
      });
    }
    if (!live.role) {
      changes.push({
        action: 'create',
        resource: this.resource('role', names),
        reason: 'kubernetes auth role',
      });
    } else {
      const fields = roleDifferences(live.role, desired.role).map((d) => d.field);
      if (fields.length > 0) {
        changes.push({
          action: 'update',
          resource: this.resource('role', names),
          reason: `${fields.join(', ')} differ`,
        });
      }
    }
    if (desired.databaseRole && !live.databaseRole) {
      changes.push({
        action: 'create',
        resource: this.resource('database', names),
        reason: 'database role of the database scopes',
      });
    } else if (desired.databaseRole && live.databaseRole) {
      const fields = databaseRoleDifferences(live.databaseRole, desired.databaseRole).map((d) => d.field);
      if (fields.length > 0) {
        changes.push({
          action: 'update',
          resource: this.resource('database', names),
          reason: `${fields.join(', ')} differ`,
        });
      }
    } else if (live.databaseRole) {
      changes.push({
        action: 'delete',
        resource: this.resource('database', names),
        reason: 'no database scope any more',
      });
    }
    return changes;
  }

  /** Record first (it makes the role ours), then the policy, then the role that references it. */
  private async apply(live: Live, desired: DesiredState): Promise<void> {
    const { names } = live;
    if (!live.record || this.recordDiffers(live, desired)) {
      await this.port.writeKvMetadata(this.options.kvMount, names.ownerRecord, {
        maxVersions: 1,
        casRequired: true,
        customMetadata: desired.record,
        ...(live.record?.metadataVersion === undefined ? {} : { metadataCas: live.record.metadataVersion }),
      });
    }
    if (live.policy !== desired.policy) await this.port.writePolicy(names.base, desired.policy);
    if (!live.role || roleDifferences(live.role, desired.role).length > 0) {
      await this.port.writeRole(this.mount, names.base, desired.role);
    }
    const database = this.options.database;
    if (database && desired.databaseRole) {
      if (!live.databaseRole || databaseRoleDifferences(live.databaseRole, desired.databaseRole).length > 0) {
        await this.port.writeDatabaseRole(database.mount, names.base, desired.databaseRole);
      }
    } else if (database && live.databaseRole) {
      // The scope was removed: its logins go with it, through the role's own revocation statements.
      await this.revokeDatabaseLeases(names);
      await this.port.deleteDatabaseRole(database.mount, names.base);
    }
  }

  async plan(ref: IdentityRef): Promise<PlannedChange[]> {
    const live = await this.inspect(ref);
    return this.changes(live, this.desired(ref, live.names, live.quarantined));
  }

  async provision(ref: IdentityRef): Promise<ProvisionResult> {
    const live = await this.inspect(ref);
    const desired = this.desired(ref, live.names, live.quarantined);
    const changes = this.changes(live, desired);
    if (changes.length > 0) await this.apply(live, desired);
    const status: Record<string, string> = { role: live.names.base, policy: live.names.base };
    if (!desired.databaseRole || !this.options.database) return { status, changes };
    status.databaseRole = live.names.base;
    const leases = await this.port.listLeases(leaseFolder(this.options.database, live.names));
    return { status, counts: { databaseLeases: leases.length }, changes };
  }

  /**
   * Keeps the database target Secret (database.target) filled: a new login at two thirds of the
   * current one's lease, the old one kept as previous until its lease ends. Nothing while the role
   * is quarantined (no login could be made) or absent (provision makes it first).
   */
  async renewLogins(ref: IdentityRef, hooks: LoginHooks = {}): Promise<LoginRenewal> {
    const database = this.options.database;
    const target = databaseAccessOf(this.scopesOf(ref))?.target;
    if (!database || !target) return { renewed: [] };
    if (!this.loginTargets) {
      throw new InvalidConfigError(
        'database.target: this Vault provider was built without access to Kubernetes Secrets',
      );
    }
    const names = identityNames(ref);
    const role = await this.readDatabaseRole(names);
    if (!role || isQuarantinedDatabaseRole(role)) return { renewed: [] };
    const resource = `Secret/${ref.subject.namespace}/${target.secretName}`;
    const result = await this.loginTargets(ref, target.secretName, async (reason) => {
      await hooks.beforeIssue?.(resource, `database login: ${reason}`);
      const login = await this.port.issueDatabaseLogin(database.mount, names.base);
      return {
        username: login.username,
        password: login.password,
        expiresAt: new Date(this.clock.now() + login.leaseSeconds * 1000),
        discard: () => this.port.revokeLease(login.leaseId),
      };
    });
    const renewed: PlannedChange[] = result.renewed
      ? [{ action: 'rotate', resource, reason: `database login: ${result.renewed}` }]
      : [];
    return { renewed, ...(result.nextAt ? { nextAt: result.nextAt } : {}) };
  }

  async restore(ref: IdentityRef): Promise<void> {
    const live = await this.inspect(ref);
    await this.apply(live, this.desired(ref, live.names, false));
  }

  /** Deny policy first (disarms issued tokens at once), then the login sentinel, then revoke tokens. */
  async quarantine(ref: IdentityRef): Promise<void> {
    const live = await this.inspect(ref);
    if (!live.record && live.policy === undefined) return; // never provisioned: nothing can log in
    const desired = this.desired(ref, live.names, true);
    if (live.policy !== desired.policy) await this.port.writePolicy(live.names.base, desired.policy);
    if (live.role && roleDifferences(live.role, desired.role).length > 0) {
      await this.port.writeRole(this.mount, live.names.base, desired.role);
    }
    await this.cutDatabaseLogins(ref, live.names, live.databaseRole);
    if (live.record && this.options.tokenAccessors !== false)
      await this.tokens.revokeRole(this.mount, live.names.base);
  }

  /** Role, policy, issued tokens, KV secrets, and the ownership record last. Foreign objects are left alone. */
  async revoke(ref: IdentityRef): Promise<void> {
    const names = identityNames(ref);
    const record = await this.port.readKvMetadata(this.options.kvMount, names.ownerRecord);
    const recordIsOurs = record !== undefined && isOwnedBy(record.customMetadata, names.uid);
    const database = this.options.database;
    if (database) {
      // Only a role with this identity's mark: another's is left alone (and revoke goes on without it).
      const role = await this.port.readDatabaseRole(database.mount, names.base);
      if (role && databaseRoleOwner(role) === names.uid) {
        await this.cutDatabaseLogins(ref, names, role);
        await this.port.deleteDatabaseRole(database.mount, names.base);
      }
    }
    if (recordIsOurs) await this.port.deleteRole(this.mount, names.base);
    const policy = await this.port.readPolicy(names.base);
    if (policy !== undefined && parsePolicyHeader(policy)?.uid === names.uid)
      await this.port.deletePolicy(names.base);
    if (recordIsOurs && this.options.tokenAccessors !== false)
      await this.tokens.revokeRole(this.mount, names.base);
    await this.kv.deleteAll(names);
    if (recordIsOurs) await this.port.deleteKvMetadata(this.options.kvMount, names.ownerRecord);
  }

  async observe(ref: IdentityRef, options: { correctDrift: boolean }): Promise<Observation> {
    const live = await this.inspect(ref);
    const tokenUse =
      this.options.tokenAccessors === false
        ? undefined
        : await this.tokens.lastUsed(this.mount, live.names.base);
    const loginUse = live.databaseRole ? await this.lastDatabaseLogin(live.names) : undefined;
    const sessionUse =
      live.databaseRole && this.sessions
        ? (await this.sessions.latestByIdentity()).get(live.names.uid)
        : undefined;
    const uses = [tokenUse, loginUse, sessionUse].filter((d): d is Date => d !== undefined);
    const lastUsed = uses.length > 0 ? new Date(Math.max(...uses.map((d) => d.getTime()))) : undefined;
    const base: Observation = { drift: [], corrected: false, ...(lastUsed ? { lastUsed } : {}) };
    if (!live.record && live.policy === undefined) return base; // not provisioned (or fully revoked)
    const desired = this.desired(ref, live.names, live.quarantined);
    const drift = this.drift(live, desired);
    if (drift.length === 0 || !options.correctDrift) return { ...base, drift };
    await this.apply(live, desired);
    return { ...base, drift, corrected: true };
  }

  private drift(live: Live, desired: DesiredState): Drift {
    const { names } = live;
    const drift: Drift = [];
    if (!live.record)
      drift.push({ resource: this.resource('record', names), field: 'record', detail: 'missing' });
    else if (this.recordDiffers(live, desired)) {
      drift.push({
        resource: this.resource('record', names),
        field: 'custom_metadata',
        detail: 'ownership marks differ',
      });
    }
    if (live.policy === undefined)
      drift.push({ resource: this.resource('policy', names), field: 'policy', detail: 'missing' });
    else if (live.policy !== desired.policy) {
      const state = live.quarantined ? 'the quarantine deny' : 'the rendered scopes';
      drift.push({
        resource: this.resource('policy', names),
        field: 'policy',
        detail: `rules differ from ${state}`,
      });
    }
    if (!live.role) drift.push({ resource: this.resource('role', names), field: 'role', detail: 'missing' });
    else {
      for (const d of roleDifferences(live.role, desired.role))
        drift.push({ resource: this.resource('role', names), ...d });
    }
    const database = this.resource('database', names);
    if (desired.databaseRole && !live.databaseRole)
      drift.push({ resource: database, field: 'role', detail: 'missing' });
    else if (desired.databaseRole && live.databaseRole) {
      for (const d of databaseRoleDifferences(live.databaseRole, desired.databaseRole))
        drift.push({ resource: database, ...d });
    } else if (live.databaseRole)
      drift.push({ resource: database, field: 'role', detail: 'no database scope' });
    return drift;
  }

  private vaultKv(secret: SecretSpec): void {
    if (secret.backend !== 'vault-kv' || !namesThisProvider(this.options, secret.providerRef)) {
      throw new InvalidConfigError(`secret ${secret.name} is not a vault-kv secret of this provider`);
    }
  }

  async rotate(ref: IdentityRef, secret: SecretSpec): Promise<RotationResult> {
    this.vaultKv(secret);
    return this.kv.rotate(ref, identityNames(ref), secret);
  }

  async readSecret(ref: IdentityRef, secret: SecretSpec): Promise<SecretMaterial | undefined> {
    this.vaultKv(secret);
    return this.kv.read(identityNames(ref), secret);
  }

  async retirePrevious(ref: IdentityRef, secret: SecretSpec): Promise<void> {
    this.vaultKv(secret);
    await this.kv.retirePrevious(identityNames(ref), secret);
  }

  health(): Promise<VaultHealth> {
    return this.port.health();
  }
}

/** The factory main.ts registers: a ClusterCredentialProvider with a `vault` section → a provider. */
export function createVaultProvider(
  resource: Pick<ClusterCredentialProvider, 'metadata' | 'spec'>,
  deps: Omit<VaultProviderDeps, 'name'> = {},
): VaultProvider {
  if (!resource.spec.vault) {
    throw new InvalidConfigError(`ClusterCredentialProvider ${resource.metadata.name} has no vault section`);
  }
  return VaultProvider.fromSpec(resource.spec.vault, { ...deps, name: resource.metadata.name });
}
