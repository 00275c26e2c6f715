// Tokens issued by the identities' kubernetes auth logins. OpenBao records no "last used" time for a
// role or a policy and keeps no per-request activity an API can read; the real signal it exposes is
// the live service tokens themselves: each login creates one (issue_time), each renewal updates
// last_renewal_time, and lookup-accessor shows the role that minted it (meta.role) and the login
// path. Listing accessors needs `sudo` on auth/token/accessors and one lookup per token, so a scan is
// cached for a short while and shared by every identity observed in that window.
//
// The same scan finds the tokens to revoke when an identity is quarantined or revoked.

import type { Clock } from '../../runtime/clock.ts';
import type { TokenInfo, VaultPort } from './port.ts';

export const DEFAULT_SCAN_CACHE_MS = 60_000;
const LOOKUP_CONCURRENCY = 8;

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function time(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

export class TokenActivity {
  private cached: { at: number; tokens: TokenInfo[] } | undefined;
  private inflight: Promise<TokenInfo[]> | undefined;

  constructor(
    private readonly port: VaultPort,
    private readonly clock: Clock,
    private readonly cacheMs = DEFAULT_SCAN_CACHE_MS,
  ) {}

  /** Every live token with its metadata; `fresh` bypasses the cache (before revoking). */
  async scan(fresh = false): Promise<TokenInfo[]> {
    if (!fresh && this.cached && this.clock.now() - this.cached.at < this.cacheMs) return this.cached.tokens;
    if (!fresh && this.inflight) return this.inflight;
    const run = (async () => {
      const accessors = await this.port.listTokenAccessors();
      const found = await mapLimit(accessors, LOOKUP_CONCURRENCY, (a) => this.port.lookupTokenAccessor(a));
      const tokens = found.filter((t): t is TokenInfo => t !== undefined);
      this.cached = { at: this.clock.now(), tokens };
      return tokens;
    })();
    this.inflight = run;
    try {
      return await run;
    } finally {
      if (this.inflight === run) this.inflight = undefined;
    }
  }

  /** Tokens minted by logins to `role` on the kubernetes auth mount `mount`. */
  static ofRole(tokens: TokenInfo[], mount: string, role: string): TokenInfo[] {
    const loginPath = `auth/${mount}/login`;
    return tokens.filter(
      (t) => t.meta.role === role && (t.path === loginPath || t.path.startsWith(`${loginPath}/`)),
    );
  }

  /** The latest login or renewal among the role's live tokens. */
  async lastUsed(mount: string, role: string): Promise<Date | undefined> {
    let latest: number | undefined;
    for (const token of TokenActivity.ofRole(await this.scan(), mount, role)) {
      for (const t of [time(token.issueTime), time(token.lastRenewalTime)]) {
        if (t !== undefined && (latest === undefined || t > latest)) latest = t;
      }
    }
    return latest === undefined ? undefined : new Date(latest);
  }

  /** Revoke every live token the role minted; returns how many. */
  async revokeRole(mount: string, role: string): Promise<number> {
    const tokens = TokenActivity.ofRole(await this.scan(true), mount, role);
    for (const token of tokens) await this.port.revokeTokenAccessor(token.accessor);
    if (tokens.length > 0) this.cached = undefined;
    return tokens.length;
  }
}
