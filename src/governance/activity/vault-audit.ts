// OpenBao (and Vault) audit device entries (file or socket device: one JSON object a line) reduced
// to activity events. Only `response` entries are used: each request has one, and it carries the
// outcome. OpenBao HMACs tokens, accessors and response data by default; none of those fields is
// read, so not even their HMACs are kept. What is kept is plain in the entry already: the path,
// the operation, the kubernetes auth metadata (role, ServiceAccount), the remote address and time.

import { maskSecrets } from '../../runtime/redact.ts';
import type { ActivityEvent, ActivityOutcome, PrincipalMatch } from './types.ts';

interface VaultAuth {
  display_name?: string;
  metadata?: Record<string, string> | null;
  policy_results?: { allowed?: boolean };
}

interface VaultAuditEntry {
  time?: string;
  type?: string;
  auth?: VaultAuth | null;
  request?: {
    operation?: string;
    path?: string;
    remote_address?: string;
    data?: Record<string, unknown> | null;
  } | null;
  response?: { auth?: VaultAuth | null } | null;
  error?: string;
}

function outcomeOf(entry: VaultAuditEntry): ActivityOutcome {
  if (!entry.error) return 'allowed';
  return /permission denied|invalid (token|role)|unauthorized|not authorized/i.test(entry.error)
    ? 'denied'
    : 'error';
}

function matchOf(auth: VaultAuth | null | undefined, loginRole: string | undefined): PrincipalMatch {
  const metadata = auth?.metadata ?? {};
  const match: PrincipalMatch = {};
  const namespace = metadata.service_account_namespace;
  const name = metadata.service_account_name;
  if (namespace && name) match.serviceAccount = { namespace, name };
  const role = metadata.role ?? loginRole;
  if (role) match.vaultRole = role;
  return match;
}

function principalOf(match: PrincipalMatch, auth: VaultAuth | null | undefined): string {
  const parts: string[] = [];
  if (match.vaultRole) parts.push(`role=${match.vaultRole}`);
  if (match.serviceAccount) parts.push(`sa=${match.serviceAccount.namespace}/${match.serviceAccount.name}`);
  return parts.length > 0 ? parts.join(' ') : (auth?.display_name ?? 'anonymous');
}

/**
 * The role a login asked for, when the auth mount lists `role` in `audit_non_hmac_request_keys`
 * (the dev environment does): so a refused login is attributed too. An HMAC'd value is not a name.
 */
function loginRoleOf(entry: VaultAuditEntry): string | undefined {
  if (!/^auth\/[^/]+\/login$/.test(entry.request?.path ?? '')) return undefined;
  const role = entry.request?.data?.role;
  return typeof role === 'string' && !role.startsWith('hmac-') ? role : undefined;
}

/** The activity event of one parsed audit entry; request entries and other shapes give nothing. */
export function parseVaultAudit(value: unknown): ActivityEvent[] {
  const entry = value as VaultAuditEntry;
  if (typeof entry !== 'object' || entry === null || entry.type !== 'response') return [];
  const path = entry.request?.path;
  const operation = entry.request?.operation;
  if (!path || !operation || !entry.time) return [];
  // A login has no token yet: who logged in is in the response's auth (present when it succeeded).
  const auth = entry.auth?.metadata ? entry.auth : (entry.response?.auth ?? entry.auth);
  const match = matchOf(auth, loginRoleOf(entry));
  const remote = entry.request?.remote_address;
  return [
    {
      time: new Date(entry.time).toISOString(),
      backend: 'vault',
      principal: maskSecrets(principalOf(match, auth)),
      verb: operation,
      resource: maskSecrets(path),
      outcome: outcomeOf(entry),
      ...(remote ? { sourceAddress: remote } : {}),
      match,
    },
  ];
}
