// The inventory's read-only Vault/OpenBao port over fetch: kubernetes-auth roles (list + read) and
// the operator's owner records (KV v2 custom metadata under nhi/_owners/). Only LIST and GET; the
// token goes in a header and never into an error message.

import { databaseRoleOwner, isQuarantinedDatabaseRole } from '../../providers/vault/database.ts';
import { OWNERS_FOLDER } from '../../providers/vault/names.ts';
import {
  InventorySourceError,
  type RawDatabaseRole,
  type RawVaultRole,
  type VaultInventoryPort,
} from './types.ts';

const WRITE_PRIVILEGES = ['INSERT', 'UPDATE', 'DELETE'];

/** The database role's connection, owner mark, write privileges and state; no statement leaves here. */
export function rawDatabaseRole(mount: string, name: string, data: Record<string, unknown>): RawDatabaseRole {
  const creationStatements = strings(data.creation_statements);
  const role = {
    dbName: String(data.db_name ?? ''),
    creationStatements,
    revocationStatements: [],
    rollbackStatements: [],
    defaultTtlSeconds: 0,
    maxTtlSeconds: 0,
  };
  // The privilege lists of the GRANT statements (several may share one string): between GRANT and ON.
  const grants = creationStatements
    .flatMap((s) => s.split(';'))
    .map((s) => /^\s*GRANT\s+(.*?)\s+ON\s/i.exec(s)?.[1]?.toUpperCase() ?? '')
    .join(', ');
  const raw: RawDatabaseRole = {
    mount,
    name,
    connection: role.dbName,
    writes: WRITE_PRIVILEGES.filter((p) => new RegExp(`\\b(${p}|ALL)\\b`).test(grants)),
    quarantined: isQuarantinedDatabaseRole(role),
  };
  const owner = databaseRoleOwner(role);
  if (owner) raw.ownerUid = owner;
  return raw;
}

export interface VaultSourceOptions {
  address: string;
  token: string;
  /** Vault Enterprise / OpenBao namespace, sent as X-Vault-Namespace. */
  namespace?: string | undefined;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

type Body = { data?: Record<string, unknown> } | undefined;

const strings = (value: unknown): string[] =>
  Array.isArray(value)
    ? value.filter((v): v is string => typeof v === 'string')
    : typeof value === 'string' && value
      ? value.split(',')
      : [];

export function vaultInventoryPort(options: VaultSourceOptions): VaultInventoryPort {
  const base = options.address.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;

  /** GET (or LIST) a path; undefined on 404. */
  async function get(path: string, list = false): Promise<Body> {
    const url = `${base}/v1/${path}${list ? '?list=true' : ''}`;
    const headers: Record<string, string> = { 'X-Vault-Token': options.token };
    if (options.namespace) headers['X-Vault-Namespace'] = options.namespace;
    let response: Response;
    try {
      response = await doFetch(url, { headers, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
    } catch (error) {
      throw new InventorySourceError(`vault: ${list ? 'LIST' : 'GET'} ${path} failed (unreachable)`, {
        cause: error,
      });
    }
    if (response.status === 404) return undefined;
    if (!response.ok) {
      throw new InventorySourceError(
        `vault: ${list ? 'LIST' : 'GET'} ${path} failed (HTTP ${response.status})`,
      );
    }
    return (await response.json()) as Body;
  }

  const keys = (body: Body) => strings(body?.data?.keys);

  return {
    listRoles: async (mount) => keys(await get(`auth/${mount}/role`, true)),

    readRole: async (mount, name) => {
      const data = (await get(`auth/${mount}/role/${encodeURIComponent(name)}`))?.data;
      if (!data) return undefined;
      const role: Omit<RawVaultRole, 'ownerRecord'> = {
        mount,
        name,
        boundServiceAccountNames: strings(data.bound_service_account_names),
        boundServiceAccountNamespaces: strings(data.bound_service_account_namespaces),
        policies: strings(data.token_policies ?? data.policies),
      };
      const selector = data.bound_service_account_namespace_selector;
      if (typeof selector === 'string' && selector.trim()) role.namespaceSelector = selector;
      return role;
    },

    listDatabaseRoles: async (mount) => keys(await get(`${mount}/roles`, true)),

    readDatabaseRole: async (mount, name) => {
      const data = (await get(`${mount}/roles/${encodeURIComponent(name)}`))?.data;
      return data ? rawDatabaseRole(mount, name, data) : undefined;
    },

    listOwnerRecords: async (kvMount) => {
      const records: Record<string, Record<string, string>> = {};
      for (const key of keys(await get(`${kvMount}/metadata/${OWNERS_FOLDER}/`, true))) {
        if (key.endsWith('/')) continue;
        const custom = (await get(`${kvMount}/metadata/${OWNERS_FOLDER}/${encodeURIComponent(key)}`))?.data
          ?.custom_metadata;
        if (custom && typeof custom === 'object') records[key] = custom as Record<string, string>;
      }
      return records;
    },
  };
}
