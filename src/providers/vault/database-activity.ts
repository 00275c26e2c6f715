// Last use of database logins from pg_stat_activity (spec.vault.database.activity), where the platform
// enables it: the operator reads a login of the platform's monitoring role (an OpenBao database role
// outside nhi-*, whose users are members of pg_monitor), connects, and asks PostgreSQL when each
// identity's users were last active. Users are attributed by the COMMENT mark every login of an
// identity's role carries; sessions of other users are never read one by one.
//
// The monitoring login is kept until two thirds of its lease (databaseLoginRenewAt, the same rule
// as target Secrets) and then replaced; its lease ends on its own. One query answers for every
// identity, and its answer is kept for a few seconds, so observing many identities costs one session.

import pg from 'pg';
import { databaseLoginRenewAt } from '../../api/v1alpha1/defaults.ts';
import type { Clock } from '../../runtime/clock.ts';
import { UnavailableError } from '../types.ts';
import type { DatabaseLogin } from './port.ts';

/** The latest activity of each identity's PostgreSQL users, by identity uid. */
export const SESSIONS_BY_IDENTITY = `SELECT substring(d.description from 'identity-uid ([A-Za-z0-9-]+) ') AS uid,
  max(greatest(a.backend_start, a.xact_start, a.query_start, a.state_change)) AS at
  FROM pg_stat_activity a
  JOIN pg_shdescription d ON d.objoid = a.usesysid AND d.classoid = 'pg_authid'::regclass
  WHERE d.description LIKE 'managed-by nhi-operator identity-uid %'
  GROUP BY 1`;

/** What the provider needs: when each identity's users were last active in an open session. */
export interface SessionActivityPort {
  latestByIdentity(): Promise<Map<string, Date>>;
}

/** How long one pg_stat_activity answer serves every identity's observe. */
export const SESSION_SCAN_CACHE_MS = 10_000;

function connectionOptions(url: string, caBundle: string | undefined): pg.ClientConfig {
  const parsed = new URL(url);
  const sslmode = parsed.searchParams.get('sslmode') ?? (caBundle ? 'verify-full' : 'prefer');
  const config: pg.ClientConfig = {
    host: decodeURIComponent(parsed.hostname),
    port: Number(parsed.port || 5432),
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres',
    connectionTimeoutMillis: 5000,
    query_timeout: 10_000,
  };
  if (['require', 'verify-ca', 'verify-full'].includes(sslmode)) {
    config.ssl = {
      ...(caBundle ? { ca: caBundle } : {}),
      rejectUnauthorized: sslmode !== 'require',
      ...(sslmode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
    };
  }
  return config;
}

export class PgSessionActivity implements SessionActivityPort {
  private login: { username: string; password: string; renewAt: number } | undefined;
  private cached: { at: number; latest: Map<string, Date> } | undefined;

  constructor(
    private readonly issue: () => Promise<DatabaseLogin>,
    private readonly target: { url: string; caBundle?: string },
    private readonly clock: Clock,
    private readonly cacheMs = SESSION_SCAN_CACHE_MS,
  ) {}

  private async currentLogin(): Promise<{ username: string; password: string }> {
    const now = this.clock.now();
    if (this.login && now < this.login.renewAt) return this.login;
    const issued = await this.issue();
    const renewAt = databaseLoginRenewAt(new Date(now), new Date(now + issued.leaseSeconds * 1000));
    this.login = { username: issued.username, password: issued.password, renewAt: renewAt.getTime() };
    return this.login;
  }

  async latestByIdentity(): Promise<Map<string, Date>> {
    const now = this.clock.now();
    if (this.cached && now - this.cached.at < this.cacheMs) return this.cached.latest;
    const login = await this.currentLogin();
    const client = new pg.Client({
      ...connectionOptions(this.target.url, this.target.caBundle),
      user: login.username,
      password: login.password,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      const result = await client.query<{ uid: string | null; at: Date | null }>(SESSIONS_BY_IDENTITY);
      const latest = new Map<string, Date>();
      for (const row of result.rows) if (row.uid && row.at) latest.set(row.uid, new Date(row.at));
      this.cached = { at: now, latest };
      return latest;
    } catch (error) {
      // A refused login (its lease was revoked) is replaced on the next try.
      this.login = undefined;
      const code = (error as { code?: string }).code;
      throw new UnavailableError(
        `pg_stat_activity at ${new URL(this.target.url).host}: ${code ?? (error as Error).message}`.slice(
          0,
          300,
        ),
      );
    } finally {
      await client.end().catch(() => {});
    }
  }
}
