// An in-memory VaultPort with the server semantics the provider relies on: KV v2 versions,
// check-and-set on data and on metadata, max_versions pruning, destroyed versions, LIST of a
// folder, token accessors. Every call is logged (`calls`); `sealed` makes every call fail as a sealed
// server does. To crash between two steps, wrap any port with `crashingPort` (fixtures.ts).

import { type Clock, systemClock } from '../../../runtime/clock.ts';
import { UnavailableError } from '../../types.ts';
import { isQuarantinedDatabaseRole } from '../database.ts';
import { CasMismatchError, VaultRequestError } from '../errors.ts';
import type {
  DatabaseLogin,
  DatabaseRole,
  KubernetesAuthRole,
  KvMetadata,
  KvMetadataWrite,
  KvVersion,
  TokenInfo,
  VaultHealth,
  VaultPort,
} from '../port.ts';

interface KvEntry {
  metadataVersion: number;
  maxVersions: number;
  casRequired: boolean;
  customMetadata: Record<string, string>;
  currentVersion: number;
  versions: Map<number, { data: Record<string, string>; createdTime: string; destroyed: boolean }>;
}

export class FakeVaultPort implements VaultPort {
  readonly policies = new Map<string, string>();
  readonly roles = new Map<string, KubernetesAuthRole>();
  readonly kv = new Map<string, KvEntry>();
  readonly tokens = new Map<string, TokenInfo>();
  readonly databaseRoles = new Map<string, DatabaseRole>();
  /** Lease ids of database logins (test helper `addLease`); revokeLeasePrefix removes them. */
  readonly leases = new Set<string>();
  readonly calls: string[] = [];
  sealed = false;

  constructor(private readonly clock: Clock = systemClock) {}

  private step(name: string): void {
    this.calls.push(name);
    if (this.sealed) throw new UnavailableError(`OpenBao ${name}: HTTP 503 (sealed or standby)`);
  }

  /** Names of the calls that wrote something. */
  writes(): string[] {
    return this.calls.filter((c) => /^(write|delete|destroy|revoke)/.test(c));
  }

  private now(): string {
    return new Date(this.clock.now()).toISOString();
  }

  async health(): Promise<VaultHealth> {
    return { initialized: true, sealed: this.sealed, standby: false, version: 'fake' };
  }

  async readPolicy(name: string): Promise<string | undefined> {
    this.step('readPolicy');
    return this.policies.get(name);
  }
  async writePolicy(name: string, hcl: string): Promise<void> {
    this.step('writePolicy');
    this.policies.set(name, hcl);
  }
  async deletePolicy(name: string): Promise<void> {
    this.step('deletePolicy');
    this.policies.delete(name);
  }

  async readRole(mount: string, name: string): Promise<KubernetesAuthRole | undefined> {
    this.step('readRole');
    const role = this.roles.get(`${mount}/${name}`);
    return role && structuredClone(role);
  }
  async writeRole(mount: string, name: string, role: KubernetesAuthRole): Promise<void> {
    this.step('writeRole');
    this.roles.set(`${mount}/${name}`, structuredClone(role));
  }
  async deleteRole(mount: string, name: string): Promise<void> {
    this.step('deleteRole');
    this.roles.delete(`${mount}/${name}`);
  }

  async readKvMetadata(mount: string, path: string): Promise<KvMetadata | undefined> {
    this.step('readKvMetadata');
    const entry = this.kv.get(`${mount}/${path}`);
    if (!entry) return undefined;
    const versions: KvMetadata['versions'] = {};
    for (const [v, info] of entry.versions) {
      versions[String(v)] = { createdTime: info.createdTime, deletionTime: '', destroyed: info.destroyed };
    }
    return {
      currentVersion: entry.currentVersion,
      metadataVersion: entry.metadataVersion,
      maxVersions: entry.maxVersions,
      casRequired: entry.casRequired,
      customMetadata: { ...entry.customMetadata },
      versions,
    };
  }

  private entry(key: string): KvEntry {
    let entry = this.kv.get(key);
    if (!entry) {
      entry = {
        metadataVersion: 0,
        maxVersions: 0,
        casRequired: false,
        customMetadata: {},
        currentVersion: 0,
        versions: new Map(),
      };
      this.kv.set(key, entry);
    }
    return entry;
  }

  async writeKvMetadata(mount: string, path: string, metadata: KvMetadataWrite): Promise<void> {
    this.step('writeKvMetadata');
    const existing = this.kv.get(`${mount}/${path}`);
    if (metadata.metadataCas !== undefined && metadata.metadataCas !== (existing?.metadataVersion ?? 0)) {
      throw new CasMismatchError(`OpenBao write metadata ${mount}/${path}: check-and-set lost a race`);
    }
    const entry = this.entry(`${mount}/${path}`);
    entry.metadataVersion += 1;
    entry.maxVersions = metadata.maxVersions;
    entry.casRequired = metadata.casRequired;
    entry.customMetadata = { ...metadata.customMetadata };
  }

  async deleteKvMetadata(mount: string, path: string): Promise<void> {
    this.step('deleteKvMetadata');
    this.kv.delete(`${mount}/${path}`);
  }

  async listKv(mount: string, folder: string): Promise<string[]> {
    this.step('listKv');
    const prefix = `${mount}/${folder.endsWith('/') ? folder : `${folder}/`}`;
    const keys = new Set<string>();
    for (const key of this.kv.keys()) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf('/');
      keys.add(slash < 0 ? rest : rest.slice(0, slash + 1));
    }
    return [...keys].sort();
  }

  async readKvData(mount: string, path: string, version?: number): Promise<KvVersion | undefined> {
    this.step('readKvData');
    const entry = this.kv.get(`${mount}/${path}`);
    if (!entry) return undefined;
    const v = version ?? entry.currentVersion;
    const info = entry.versions.get(v);
    if (!info || info.destroyed) return undefined;
    return { version: v, createdTime: info.createdTime, data: { ...info.data } };
  }

  async writeKvData(mount: string, path: string, data: Record<string, string>, cas: number): Promise<number> {
    this.step('writeKvData');
    const entry = this.entry(`${mount}/${path}`);
    if (cas !== entry.currentVersion) {
      throw new CasMismatchError(`OpenBao write ${mount}/${path} (cas ${cas}): check-and-set lost a race`);
    }
    entry.currentVersion += 1;
    entry.versions.set(entry.currentVersion, {
      data: { ...data },
      createdTime: this.now(),
      destroyed: false,
    });
    const keep = entry.maxVersions > 0 ? entry.maxVersions : 10;
    for (const v of [...entry.versions.keys()])
      if (v <= entry.currentVersion - keep) entry.versions.delete(v);
    return entry.currentVersion;
  }

  async destroyKvVersions(mount: string, path: string, versions: number[]): Promise<void> {
    this.step('destroyKvVersions');
    const entry = this.kv.get(`${mount}/${path}`);
    if (!entry) throw new VaultRequestError(`OpenBao destroy ${mount}/${path}: HTTP 400: no such key`);
    for (const v of versions) {
      const info = entry.versions.get(v);
      if (info) {
        info.destroyed = true;
        info.data = {};
      }
    }
  }

  async readDatabaseRole(mount: string, name: string): Promise<DatabaseRole | undefined> {
    this.step('readDatabaseRole');
    const role = this.databaseRoles.get(`${mount}/${name}`);
    return role && structuredClone(role);
  }
  async writeDatabaseRole(mount: string, name: string, role: DatabaseRole): Promise<void> {
    this.step('writeDatabaseRole');
    this.databaseRoles.set(`${mount}/${name}`, structuredClone(role));
  }
  async deleteDatabaseRole(mount: string, name: string): Promise<void> {
    this.step('deleteDatabaseRole');
    this.databaseRoles.delete(`${mount}/${name}`);
  }
  /** Logins issued by issueDatabaseLogin, by username. */
  readonly databaseLogins = new Map<string, { password: string; leaseId: string }>();
  /** The lease duration issueDatabaseLogin answers (the role's default_ttl when unset). */
  loginLeaseSeconds: number | undefined;

  async issueDatabaseLogin(mount: string, name: string): Promise<DatabaseLogin> {
    this.step('issueDatabaseLogin');
    const role = this.databaseRoles.get(`${mount}/${name}`);
    if (!role) throw new VaultRequestError(`OpenBao read ${mount}/creds/${name}: HTTP 400: unknown role`);
    if (isQuarantinedDatabaseRole(role)) {
      throw new VaultRequestError(`OpenBao read ${mount}/creds/${name}: HTTP 500: creation failed`);
    }
    const leaseId = this.addLease(mount, name);
    const username = `v-${name.slice(0, 10)}-${this.databaseLogins.size + 1}`;
    const password = `pw-${leaseId.length}-${Math.random().toString(36).slice(2)}`;
    this.databaseLogins.set(username, { password, leaseId });
    return { username, password, leaseId, leaseSeconds: this.loginLeaseSeconds ?? role.defaultTtlSeconds };
  }

  async listDatabaseRoles(mount: string): Promise<string[]> {
    this.step('listDatabaseRoles');
    return [...this.databaseRoles.keys()]
      .filter((k) => k.startsWith(`${mount}/`))
      .map((k) => k.slice(mount.length + 1));
  }
  async listLeases(folder: string): Promise<string[]> {
    this.step('listLeases');
    return [...this.leases].filter((l) => l.startsWith(folder) && !l.slice(folder.length).includes('/'));
  }
  async revokeLease(leaseId: string): Promise<void> {
    this.step('revokeLease');
    this.leases.delete(leaseId);
  }

  async lookupLease(leaseId: string): Promise<{ issueTime?: string } | undefined> {
    this.step('lookupLease');
    const issueTime = this.leaseIssued.get(leaseId);
    return this.leases.has(leaseId) ? (issueTime ? { issueTime } : {}) : undefined;
  }

  /** Issue times of the leases addLease made. */
  readonly leaseIssued = new Map<string, string>();

  /** Test helper: a login read from <mount>/creds/<role> (now, or at `issueTime`). */
  addLease(mount: string, role: string, issueTime = this.now()): string {
    const id = `${mount}/creds/${role}/lease-${this.leases.size + 1}`;
    this.leases.add(id);
    this.leaseIssued.set(id, issueTime);
    return id;
  }

  async listTokenAccessors(): Promise<string[]> {
    this.step('listTokenAccessors');
    return [...this.tokens.keys()];
  }
  async lookupTokenAccessor(accessor: string): Promise<TokenInfo | undefined> {
    this.step('lookupTokenAccessor');
    const token = this.tokens.get(accessor);
    return token && structuredClone(token);
  }
  async revokeTokenAccessor(accessor: string): Promise<void> {
    this.step('revokeTokenAccessor');
    this.tokens.delete(accessor);
  }

  /** Test helper: a token as a kubernetes auth login to `role` would create it. */
  addLoginToken(
    mount: string,
    role: string,
    issueTime: string,
    accessor = `acc-${this.tokens.size + 1}`,
  ): string {
    this.tokens.set(accessor, { accessor, path: `auth/${mount}/login`, meta: { role }, issueTime });
    return accessor;
  }
}
