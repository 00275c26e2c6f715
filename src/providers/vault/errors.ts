// Errors of the Vault/OpenBao provider and the one place that turns node-vault/axios failures into
// them. Messages name the operation and the HTTP status only: never a token, a request body or a
// secret value, and no `cause` is attached (an axios error carries the request headers, token
// included).

import { ProviderError, ThrottledError, UnavailableError } from '../types.ts';

/** HTTP 403: the operator's own policy does not allow the call (or its token is no longer valid). */
export class VaultPermissionError extends ProviderError {
  override readonly reason = 'VaultPermissionDenied';
}

/** A check-and-set write lost a race: someone wrote in between. Retry after re-reading. */
export class CasMismatchError extends ProviderError {
  override readonly reason = 'Conflict';
}

/** The server refused the request as invalid (HTTP 400): retrying the same request will not help. */
export class VaultRequestError extends ProviderError {
  override readonly reason = 'VaultRequestRejected';
}

/** A `vault` scope or secret name cannot be rendered safely (bad path, capability or name). */
export class InvalidScopeError extends ProviderError {
  override readonly reason = 'InvalidVaultScope';
}

/** The status code of a failed call, when the server answered at all. */
export function vaultStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const response = (error as { response?: { statusCode?: unknown; status?: unknown } }).response;
  const status = response?.statusCode ?? response?.status;
  return typeof status === 'number' ? status : undefined;
}

/** The server's first error string, shortened and with anything token-like masked. */
export function vaultMessage(error: unknown): string {
  const body = (error as { response?: { body?: { errors?: unknown } } } | null)?.response?.body;
  const first = Array.isArray(body?.errors) ? body.errors.find((e) => typeof e === 'string') : undefined;
  if (typeof first !== 'string') return '';
  return first
    .replace(/\s+/g, ' ')
    .replace(/[A-Za-z0-9._~+/=-]{24,}/g, '[masked]')
    .replace(/^1 error occurred: \* /, '')
    .trim()
    .slice(0, 160);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_NETWORK',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
]);

function networkCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || code.startsWith('ECONN'))) return code;
  return undefined;
}

/** Maps any failure of a call named `what` (e.g. "write policy nhi-a-b-1234") to a ProviderError. */
export function toProviderError(error: unknown, what: string): ProviderError {
  if (error instanceof ProviderError) return error;
  const status = vaultStatus(error);
  const detail = vaultMessage(error);
  const suffix = detail ? `: ${detail}` : '';
  if (status === undefined) {
    const code = networkCode(error);
    if (code) return new UnavailableError(`OpenBao ${what}: server unreachable (${code})`);
    const name = error instanceof Error ? error.name : typeof error;
    return new ProviderError(`OpenBao ${what}: ${name}`);
  }
  if (status === 429) return new ThrottledError(`OpenBao ${what}: HTTP 429 (rate limited)${suffix}`);
  if (status === 503) return new UnavailableError(`OpenBao ${what}: HTTP 503 (sealed or standby)${suffix}`);
  if (status >= 500) return new UnavailableError(`OpenBao ${what}: HTTP ${status}${suffix}`);
  if (status === 403) return new VaultPermissionError(`OpenBao ${what}: HTTP 403 (permission denied)`);
  if (status === 400 && /check-and-set/i.test(detail)) {
    return new CasMismatchError(`OpenBao ${what}: check-and-set lost a race${suffix}`);
  }
  if (status === 400) return new VaultRequestError(`OpenBao ${what}: HTTP 400${suffix}`);
  return new ProviderError(`OpenBao ${what}: HTTP ${status}${suffix}`);
}
