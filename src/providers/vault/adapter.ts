// The VaultPort over node-vault. node-vault's named commands cover only part of what we need, so
// every call goes through its generic read/write/list/delete with explicit paths; the token is sent
// per call from a TokenSource (a 403 triggers one re-authentication and one retry).
//
// node-vault reads VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_PREFIX and VAULT_SKIP_VERIFY
// from the environment as fallbacks; createNodeVaultClient overrides every one of them, so the
// provider's configuration is the only input.

import { randomUUID } from 'node:crypto';
import NodeVault from 'node-vault';
import { registerSecretValue } from '../../runtime/redact.ts';
import { noteRequestId } from '../request-ids.ts';
import { UnavailableError } from '../types.ts';
import type { TokenSource } from './auth.ts';
import { toProviderError, vaultMessage, vaultStatus } from './errors.ts';
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
} from './port.ts';

/**
 * Sent with every call: an ID the operator makes, which OpenBao's audit log records under
 * `request.headers` once an administrator lists the header in `sys/config/auditing/request-headers`.
 * It names calls OpenBao answers without a body (204: policy and role writes, deletes) or with an
 * error, which carry no `request_id` of OpenBao's own.
 */
export const REQUEST_ID_HEADER = 'X-Nhi-Request-Id';

export type NodeVaultClient = NodeVault.client;
type Headers = Record<string, string>;
// biome-ignore lint/suspicious/noExplicitAny: node-vault answers untyped JSON bodies
type Body = any;

export interface NodeVaultClientOptions {
  address: string;
  caPem?: string;
  namespace?: string;
  timeoutMs?: number;
}

export function createNodeVaultClient(options: NodeVaultClientOptions): NodeVaultClient {
  const timeout = options.timeoutMs ?? 10_000;
  const config = {
    endpoint: options.address,
    apiVersion: 'v1',
    pathPrefix: '',
    noCustomHTTPVerbs: true,
    requestOptions: { timeout, ...(options.caPem ? { ca: options.caPem } : {}) },
    rpDefaults: { strictSSL: true, timeout },
  };
  const client = NodeVault(config as NodeVault.VaultOptions);
  const mutable = client as unknown as { token: string; namespace: string; pathPrefix: string };
  mutable.token = '';
  mutable.namespace = options.namespace ?? '';
  mutable.pathPrefix = '';
  return client;
}

/** POST auth/<mount>/login with a ServiceAccount JWT; the operator's own login. */
export async function kubernetesLogin(
  client: NodeVaultClient,
  mount: string,
  role: string,
  jwt: string,
): Promise<{ token: string; leaseSeconds: number }> {
  try {
    const body: Body = await client.write(`auth/${mount}/login`, { role, jwt }, { headers: {} });
    const token = body?.auth?.client_token;
    if (typeof token !== 'string' || !token) throw new Error('login answered without a token');
    return { token, leaseSeconds: Number(body.auth.lease_duration) || 300 };
  } catch (error) {
    throw toProviderError(error, `kubernetes login (mount ${mount}, role ${role})`);
  }
}

/** Token times come as RFC 3339 text or as Unix seconds, depending on the field and version. */
function isoTime(value: unknown): string {
  return typeof value === 'number' ? new Date(value * 1000).toISOString() : String(value);
}

function roleFromWire(data: Body): KubernetesAuthRole {
  return {
    boundServiceAccountNames: data.bound_service_account_names ?? [],
    boundServiceAccountNamespaces: data.bound_service_account_namespaces ?? [],
    boundServiceAccountNamespaceSelector: data.bound_service_account_namespace_selector ?? '',
    tokenPolicies: data.token_policies ?? data.policies ?? [],
    tokenTtlSeconds: Number(data.token_ttl ?? 0),
    tokenMaxTtlSeconds: Number(data.token_max_ttl ?? 0),
    tokenPeriodSeconds: Number(data.token_period ?? 0),
    tokenType: data.token_type ?? 'default',
    audience: data.audience ?? '',
  };
}

function roleToWire(role: KubernetesAuthRole): Record<string, unknown> {
  return {
    bound_service_account_names: role.boundServiceAccountNames,
    bound_service_account_namespaces: role.boundServiceAccountNamespaces,
    bound_service_account_namespace_selector: role.boundServiceAccountNamespaceSelector,
    token_policies: role.tokenPolicies,
    token_ttl: role.tokenTtlSeconds,
    token_max_ttl: role.tokenMaxTtlSeconds,
    token_period: role.tokenPeriodSeconds,
    token_type: role.tokenType,
    audience: role.audience,
  };
}

export class NodeVaultPort implements VaultPort {
  constructor(
    private readonly client: NodeVaultClient,
    private readonly tokens: TokenSource,
  ) {}

  private async headers(what: string): Promise<Headers> {
    try {
      return { 'X-Vault-Token': await this.tokens.token() };
    } catch (error) {
      throw toProviderError(error, `${what} (authenticating)`);
    }
  }

  private async call<T>(what: string, fn: (options: { headers: Headers }) => Promise<T>): Promise<T> {
    try {
      return await this.noted(what, fn);
    } catch (error) {
      if (vaultStatus(error) !== 403 || !this.tokens.invalidate()) throw toProviderError(error, what);
    }
    try {
      return await this.noted(what, fn);
    } catch (error) {
      throw toProviderError(error, what);
    }
  }

  /**
   * One call, its request ID noted for the audit record (../request-ids.ts): OpenBao's `request_id`
   * when the answer has a body, else the REQUEST_ID_HEADER sent with it.
   */
  private async noted<T>(what: string, fn: (options: { headers: Headers }) => Promise<T>): Promise<T> {
    const headers = await this.headers(what);
    const sent = randomUUID();
    try {
      const body = await fn({ headers: { ...headers, [REQUEST_ID_HEADER]: sent } });
      const own = (body as { request_id?: unknown } | undefined)?.request_id;
      noteRequestId(typeof own === 'string' && own ? own : sent);
      return body;
    } catch (error) {
      noteRequestId(sent);
      throw error;
    }
  }

  /** Like call, but "absent" (404, or `absent(error)`) is undefined instead of an error. */
  private async optional<T>(
    what: string,
    fn: (options: { headers: Headers }) => Promise<T>,
    absent: (error: unknown) => boolean = () => false,
  ): Promise<T | undefined> {
    return this.call(what, async (options) => {
      try {
        return await fn(options);
      } catch (error) {
        if (vaultStatus(error) === 404 || absent(error)) return undefined;
        throw error;
      }
    });
  }

  private async keys(what: string, path: string): Promise<string[]> {
    const body: Body = await this.optional(what, (o) => this.client.list(path, o));
    return Array.isArray(body?.data?.keys) ? body.data.keys : [];
  }

  async health(): Promise<VaultHealth> {
    try {
      const body: Body = await this.client.request({ path: '/sys/health', method: 'GET' });
      return {
        initialized: Boolean(body?.initialized),
        sealed: Boolean(body?.sealed),
        standby: Boolean(body?.standby),
        version: String(body?.version ?? ''),
      };
    } catch (error) {
      throw toProviderError(error, 'health');
    }
  }

  async readPolicy(name: string): Promise<string | undefined> {
    const body: Body = await this.optional(`read policy ${name}`, (o) =>
      this.client.read(`sys/policies/acl/${name}`, o),
    );
    return typeof body?.data?.policy === 'string' ? body.data.policy : undefined;
  }

  async writePolicy(name: string, hcl: string): Promise<void> {
    await this.call(`write policy ${name}`, (o) =>
      this.client.write(`sys/policies/acl/${name}`, { policy: hcl }, o),
    );
  }

  async deletePolicy(name: string): Promise<void> {
    await this.optional(`delete policy ${name}`, (o) => this.client.delete(`sys/policies/acl/${name}`, o));
  }

  async readRole(mount: string, name: string): Promise<KubernetesAuthRole | undefined> {
    const body: Body = await this.optional(`read role ${mount}/${name}`, (o) =>
      this.client.read(`auth/${mount}/role/${name}`, o),
    );
    return body?.data ? roleFromWire(body.data) : undefined;
  }

  async writeRole(mount: string, name: string, role: KubernetesAuthRole): Promise<void> {
    await this.call(`write role ${mount}/${name}`, (o) =>
      this.client.write(`auth/${mount}/role/${name}`, roleToWire(role), o),
    );
  }

  async deleteRole(mount: string, name: string): Promise<void> {
    await this.optional(`delete role ${mount}/${name}`, (o) =>
      this.client.delete(`auth/${mount}/role/${name}`, o),
    );
  }

  async readKvMetadata(mount: string, path: string): Promise<KvMetadata | undefined> {
    const body: Body = await this.optional(`read metadata ${mount}/${path}`, (o) =>
      this.client.read(`${mount}/metadata/${path}`, o),
    );
    const data = body?.data;
    if (!data) return undefined;
    const versions: KvMetadata['versions'] = {};
    for (const [version, info] of Object.entries<Body>(data.versions ?? {})) {
      versions[version] = {
        createdTime: String(info?.created_time ?? ''),
        deletionTime: String(info?.deletion_time ?? ''),
        destroyed: Boolean(info?.destroyed),
      };
    }
    return {
      currentVersion: Number(data.current_version ?? 0),
      ...(typeof data.current_metadata_version === 'number'
        ? { metadataVersion: data.current_metadata_version }
        : {}),
      maxVersions: Number(data.max_versions ?? 0),
      casRequired: Boolean(data.cas_required),
      customMetadata: data.custom_metadata ?? {},
      versions,
    };
  }

  async writeKvMetadata(mount: string, path: string, metadata: KvMetadataWrite): Promise<void> {
    const body = {
      max_versions: metadata.maxVersions,
      cas_required: metadata.casRequired,
      custom_metadata: metadata.customMetadata,
      ...(metadata.metadataCas === undefined ? {} : { metadata_cas: metadata.metadataCas }),
    };
    await this.call(`write metadata ${mount}/${path}`, (o) =>
      this.client.write(`${mount}/metadata/${path}`, body, o),
    );
  }

  async deleteKvMetadata(mount: string, path: string): Promise<void> {
    await this.optional(`delete metadata ${mount}/${path}`, (o) =>
      this.client.delete(`${mount}/metadata/${path}`, o),
    );
  }

  listKv(mount: string, folder: string): Promise<string[]> {
    return this.keys(`list ${mount}/${folder}`, `${mount}/metadata/${folder}`);
  }

  async readKvData(mount: string, path: string, version?: number): Promise<KvVersion | undefined> {
    const query = version === undefined ? '' : `?version=${version}`;
    const body: Body = await this.optional(`read ${mount}/${path}${query}`, (o) =>
      this.client.read(`${mount}/data/${path}${query}`, o),
    );
    const data = body?.data;
    if (!data?.data || !data.metadata) return undefined;
    return {
      version: Number(data.metadata.version),
      createdTime: String(data.metadata.created_time ?? ''),
      data: data.data,
    };
  }

  async writeKvData(mount: string, path: string, data: Record<string, string>, cas: number): Promise<number> {
    const body: Body = await this.call(`write ${mount}/${path} (cas ${cas})`, (o) =>
      this.client.write(`${mount}/data/${path}`, { data, options: { cas } }, o),
    );
    return Number(body?.data?.version);
  }

  async destroyKvVersions(mount: string, path: string, versions: number[]): Promise<void> {
    await this.call(`destroy ${mount}/${path} versions ${versions.join(',')}`, (o) =>
      this.client.write(`${mount}/destroy/${path}`, { versions }, o),
    );
  }

  async readDatabaseRole(mount: string, name: string): Promise<DatabaseRole | undefined> {
    const body: Body = await this.optional(`read database role ${mount}/${name}`, (o) =>
      this.client.read(`${mount}/roles/${name}`, o),
    );
    const data = body?.data;
    if (!data) return undefined;
    const statements = (value: unknown) => (Array.isArray(value) ? value.map(String) : []);
    return {
      dbName: String(data.db_name ?? ''),
      creationStatements: statements(data.creation_statements),
      revocationStatements: statements(data.revocation_statements),
      rollbackStatements: statements(data.rollback_statements),
      defaultTtlSeconds: Number(data.default_ttl ?? 0),
      maxTtlSeconds: Number(data.max_ttl ?? 0),
    };
  }

  async writeDatabaseRole(mount: string, name: string, role: DatabaseRole): Promise<void> {
    const body = {
      db_name: role.dbName,
      creation_statements: role.creationStatements,
      revocation_statements: role.revocationStatements,
      rollback_statements: role.rollbackStatements,
      default_ttl: role.defaultTtlSeconds,
      max_ttl: role.maxTtlSeconds,
    };
    await this.call(`write database role ${mount}/${name}`, (o) =>
      this.client.write(`${mount}/roles/${name}`, body, o),
    );
  }

  async deleteDatabaseRole(mount: string, name: string): Promise<void> {
    await this.optional(`delete database role ${mount}/${name}`, (o) =>
      this.client.delete(`${mount}/roles/${name}`, o),
    );
  }

  async issueDatabaseLogin(mount: string, name: string): Promise<DatabaseLogin> {
    const body: Body = await this.call(`read a login of ${mount}/creds/${name}`, (o) =>
      this.client.read(`${mount}/creds/${name}`, o),
    );
    const username = body?.data?.username;
    const password = body?.data?.password;
    if (typeof username !== 'string' || typeof password !== 'string' || typeof body?.lease_id !== 'string') {
      throw new UnavailableError(`${mount}/creds/${name} answered without a login`);
    }
    registerSecretValue(password);
    return { username, password, leaseId: body.lease_id, leaseSeconds: Number(body.lease_duration) || 0 };
  }

  listDatabaseRoles(mount: string): Promise<string[]> {
    return this.keys(`list database roles ${mount}`, `${mount}/roles`);
  }

  async listLeases(folder: string): Promise<string[]> {
    const keys = await this.keys(`list leases ${folder}`, `sys/leases/lookup/${folder}`);
    return keys.filter((k) => !k.endsWith('/')).map((k) => `${folder}${k}`);
  }

  async revokeLease(leaseId: string): Promise<void> {
    // The message names the role's folder, never the lease id.
    const folder = leaseId.slice(0, leaseId.lastIndexOf('/') + 1);
    await this.call(`revoke a lease of ${folder}`, (o) =>
      this.client.write(`sys/leases/revoke/${leaseId}`, {}, o),
    );
  }

  async lookupLease(leaseId: string): Promise<{ issueTime?: string; lastRenewal?: string } | undefined> {
    const folder = leaseId.slice(0, leaseId.lastIndexOf('/') + 1);
    const invalid = (e: unknown) => vaultStatus(e) === 400 && /invalid lease/i.test(vaultMessage(e));
    const body: Body = await this.optional(
      `look up a lease of ${folder}`,
      (o) => this.client.write('sys/leases/lookup', { lease_id: leaseId }, o),
      invalid,
    );
    const data = body?.data;
    if (!data) return undefined;
    return {
      ...(data.issue_time ? { issueTime: String(data.issue_time) } : {}),
      ...(data.last_renewal ? { lastRenewal: String(data.last_renewal) } : {}),
    };
  }

  listTokenAccessors(): Promise<string[]> {
    return this.keys('list token accessors', 'auth/token/accessors');
  }

  async lookupTokenAccessor(accessor: string): Promise<TokenInfo | undefined> {
    const invalid = (e: unknown) => vaultStatus(e) === 400 && /invalid accessor/i.test(vaultMessage(e));
    const body: Body = await this.optional(
      'lookup token accessor',
      (o) => this.client.write('auth/token/lookup-accessor', { accessor }, o),
      invalid,
    );
    const data = body?.data;
    if (!data) return undefined;
    return {
      accessor,
      path: String(data.path ?? ''),
      meta: data.meta ?? {},
      ...(data.issue_time ? { issueTime: isoTime(data.issue_time) } : {}),
      // last_renewal is RFC 3339; last_renewal_time the same instant in Unix seconds
      ...(data.last_renewal || data.last_renewal_time
        ? { lastRenewalTime: isoTime(data.last_renewal ?? data.last_renewal_time) }
        : {}),
      ...(data.expire_time ? { expireTime: String(data.expire_time) } : {}),
    };
  }

  async revokeTokenAccessor(accessor: string): Promise<void> {
    const invalid = (e: unknown) => vaultStatus(e) === 400 && /invalid accessor/i.test(vaultMessage(e));
    await this.optional(
      'revoke token accessor',
      (o) => this.client.write('auth/token/revoke-accessor', { accessor }, o),
      invalid,
    );
  }
}
