// VaultPort: the only calls the Vault/OpenBao provider makes, in the provider's own vocabulary.
// The node-vault adapter (adapter.ts) implements it against a real server; FakeVaultPort
// (testing/fake-port.ts) implements it in memory for unit tests. Mount names are explicit parameters so the
// port holds no configuration of its own.
//
// Error contract (every method): failures are thrown as ProviderError subclasses from
// ../types.ts and ./errors.ts — UnavailableError (unreachable, 5xx, sealed), ThrottledError (429),
// VaultPermissionError (403), CasMismatchError (check-and-set lost). Reads return `undefined` for
// "absent" (404); deletes treat "already gone" as success.

/** A kubernetes auth role, as far as the provider manages it. TTLs in seconds. */
export interface KubernetesAuthRole {
  boundServiceAccountNames: string[];
  boundServiceAccountNamespaces: string[];
  /** A label selector that would widen the binding; the provider always keeps it empty. */
  boundServiceAccountNamespaceSelector: string;
  tokenPolicies: string[];
  tokenTtlSeconds: number;
  tokenMaxTtlSeconds: number;
  /** Periodic tokens renew forever; the provider always keeps this 0. */
  tokenPeriodSeconds: number;
  /** 'service' tokens have accessors (lookup, revocation); 'batch' tokens do not. */
  tokenType: string;
  /** Required `aud` of the ServiceAccount token; '' for none. */
  audience: string;
}

/** A role of the database secrets engine, as far as the provider manages it. TTLs in seconds. */
export interface DatabaseRole {
  /** The connection (under <mount>/config/) the role's logins are made on. */
  dbName: string;
  creationStatements: string[];
  revocationStatements: string[];
  rollbackStatements: string[];
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
}

/**
 * A login read from <mount>/creds/<role> for a target Secret. The lease id stays with the caller that
 * read it (to revoke a login it could not store); never logged, never in status.
 */
export interface DatabaseLogin {
  username: string;
  password: string;
  leaseId: string;
  leaseSeconds: number;
}

export interface KvVersionInfo {
  createdTime: string;
  deletionTime: string;
  destroyed: boolean;
}

export interface KvMetadata {
  /** Highest version written so far (0 when only metadata exists). */
  currentVersion: number;
  /** OpenBao's metadata version, for metadata check-and-set; undefined on servers without it. */
  metadataVersion?: number;
  maxVersions: number;
  casRequired: boolean;
  customMetadata: Record<string, string>;
  versions: Record<string, KvVersionInfo>;
}

export interface KvMetadataWrite {
  maxVersions: number;
  casRequired: boolean;
  /** Replaces the whole custom metadata map. */
  customMetadata: Record<string, string>;
  /** Metadata check-and-set (OpenBao): the metadataVersion read before this write. */
  metadataCas?: number;
}

export interface KvVersion {
  version: number;
  createdTime: string;
  data: Record<string, string>;
}

export interface TokenInfo {
  accessor: string;
  /** The login path that created the token, e.g. auth/kubernetes/login. */
  path: string;
  /** The token's metadata (kubernetes auth sets role, service_account_name, ...). */
  meta: Record<string, string>;
  issueTime?: string;
  lastRenewalTime?: string;
  expireTime?: string;
}

export interface VaultHealth {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  version: string;
}

export interface VaultPort {
  health(): Promise<VaultHealth>;

  /** The raw HCL text of an ACL policy, or undefined when absent. */
  readPolicy(name: string): Promise<string | undefined>;
  writePolicy(name: string, hcl: string): Promise<void>;
  deletePolicy(name: string): Promise<void>;

  readRole(mount: string, name: string): Promise<KubernetesAuthRole | undefined>;
  writeRole(mount: string, name: string, role: KubernetesAuthRole): Promise<void>;
  deleteRole(mount: string, name: string): Promise<void>;

  readKvMetadata(mount: string, path: string): Promise<KvMetadata | undefined>;
  writeKvMetadata(mount: string, path: string, metadata: KvMetadataWrite): Promise<void>;
  /** Deletes every version and the metadata of a key. */
  deleteKvMetadata(mount: string, path: string): Promise<void>;
  /** Keys directly under a folder (folders end with '/'); [] when the folder is empty or absent. */
  listKv(mount: string, folder: string): Promise<string[]>;
  /** One version (the latest when omitted); undefined when absent, deleted or destroyed. */
  readKvData(mount: string, path: string, version?: number): Promise<KvVersion | undefined>;
  /** Writes a new version only if the latest version is still `cas` (0: the key has no version). */
  writeKvData(mount: string, path: string, data: Record<string, string>, cas: number): Promise<number>;
  destroyKvVersions(mount: string, path: string, versions: number[]): Promise<void>;

  readDatabaseRole(mount: string, name: string): Promise<DatabaseRole | undefined>;
  writeDatabaseRole(mount: string, name: string, role: DatabaseRole): Promise<void>;
  deleteDatabaseRole(mount: string, name: string): Promise<void>;
  /** A fresh login of the role (<mount>/creds/<name>): needs read on that path. */
  issueDatabaseLogin(mount: string, name: string): Promise<DatabaseLogin>;
  /** Names of the engine's roles; [] when there are none. */
  listDatabaseRoles(mount: string): Promise<string[]>;
  /**
   * Ids of the leases directly under `folder` (e.g. database/creds/<role>/; sys/leases/lookup needs
   * sudo). Lease ids are credentials' handles: never log them, never put them in status.
   */
  listLeases(folder: string): Promise<string[]>;
  /** Revokes one lease; an unknown or already revoked lease is success. */
  revokeLease(leaseId: string): Promise<void>;
  /** When a lease was issued and last renewed (RFC 3339); undefined when it is gone. */
  lookupLease(leaseId: string): Promise<{ issueTime?: string; lastRenewal?: string } | undefined>;

  listTokenAccessors(): Promise<string[]>;
  /** undefined when the token behind the accessor is gone. */
  lookupTokenAccessor(accessor: string): Promise<TokenInfo | undefined>;
  revokeTokenAccessor(accessor: string): Promise<void>;
}
