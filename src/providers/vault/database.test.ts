import { beforeEach, describe, expect, it } from 'vitest';
import type { DatabaseAccess } from '../../api/v1alpha1/types.ts';
import { FakeClock } from '../../runtime/testing/fake-clock.ts';
import { inNamespace, withScopes, withUid } from '../../testing/agent-identity.ts';
import { InvalidConfigError, type LoginTargetSync, NotOwnedError } from '../types.ts';
import {
  credsPath,
  databaseAccessOf,
  databaseGrantViolations,
  databaseRoleOwner,
  databaseSettings,
  desiredDatabaseRole,
  isQuarantinedDatabaseRole,
} from './database.ts';
import { InvalidScopeError } from './errors.ts';
import type { VaultProviderOptions } from './factory.ts';
import { identityNames } from './names.ts';
import { VaultProvider } from './provider.ts';
import { FakeVaultPort } from './testing/fake-port.ts';
import { identityRef } from './testing/fixtures.ts';

const settings = databaseSettings({ connection: 'rag-postgres', maxTTL: '1h' });
const access: DatabaseAccess = {
  grants: [
    { schema: 'agents', tables: ['documents', 'chunks'], privileges: ['SELECT'] },
    { schema: 'agents_shared', allTables: true, privileges: ['INSERT', 'SELECT'] },
  ],
};
const rag = identityRef(
  'rag',
  inNamespace('agents'),
  withUid('5a1f-77'),
  withScopes({ provider: 'vault', database: access }),
);
const names = identityNames(rag);

describe('desiredDatabaseRole', () => {
  it('renders the grants as quoted statements, with the mark and session termination on revocation', () => {
    const role = desiredDatabaseRole({ names, settings, access, ttlSeconds: 900, quarantined: false });
    expect(role.dbName).toBe('rag-postgres');
    expect(role.defaultTtlSeconds).toBe(900);
    expect(role.maxTtlSeconds).toBe(3600);
    expect(role.creationStatements).toEqual([
      `SELECT pg_advisory_xact_lock(hashtext('nhi-operator identity-uid 5a1f-77'));`,
      `DO $$ BEGIN IF (SELECT count(*) FROM pg_shdescription WHERE classoid = 'pg_authid'::regclass AND description LIKE 'managed-by nhi-operator identity-uid 5a1f-77 %') >= 20 THEN RAISE EXCEPTION 'nhi-operator: lease cap reached: identity agents/rag holds its maxLeases (20) logins'; END IF; END $$;`,
      `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' CONNECTION LIMIT 10 NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;`,
      `COMMENT ON ROLE "{{name}}" IS 'managed-by nhi-operator identity-uid 5a1f-77 identity agents/rag';`,
      'GRANT USAGE ON SCHEMA "agents" TO "{{name}}";',
      'GRANT USAGE ON SCHEMA "agents_shared" TO "{{name}}";',
      'GRANT SELECT ON TABLE "agents"."documents", "agents"."chunks" TO "{{name}}";',
      'GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA "agents_shared" TO "{{name}}";',
    ]);
    expect(role.revocationStatements[0]).toContain('pg_terminate_backend');
    expect(role.revocationStatements[1]).toContain('DROP OWNED BY');
    expect(databaseRoleOwner(role)).toBe('5a1f-77');
    expect(isQuarantinedDatabaseRole(role)).toBe(false);
  });

  it('caps each login at connectionLimit sessions and the identity at maxLeases logins, the tightest scope winning', () => {
    const scoped = databaseAccessOf([
      { provider: 'vault', database: { ...access, connectionLimit: 3, maxLeases: 4 } },
      { provider: 'vault', database: { grants: access.grants, connectionLimit: 7, maxLeases: 2 } },
    ]);
    expect(scoped).toMatchObject({ connectionLimit: 3, maxLeases: 2 });
    const role = desiredDatabaseRole({
      names,
      settings,
      access: scoped!,
      ttlSeconds: 900,
      quarantined: false,
    });
    expect(role.creationStatements.find((s) => s.startsWith('CREATE ROLE'))).toContain('CONNECTION LIMIT 3 ');
    expect(role.creationStatements[1]).toContain(') >= 2 THEN RAISE EXCEPTION');
  });

  it.each([
    [{ connectionLimit: 0 }, 'database.connectionLimit'],
    [{ connectionLimit: 1.5 }, 'database.connectionLimit'],
    [{ maxLeases: 101 }, 'database.maxLeases'],
  ])('refuses caps outside their range (%o)', (caps, field) => {
    const violations = databaseGrantViolations({ ...access, ...caps }, { namespace: 'agents' });
    expect(violations.join('; ')).toContain(field);
  });

  it("makes read-only sessions for readOnly; the provider's maxTTL bounds a longer credentialTTL", () => {
    const role = desiredDatabaseRole({
      names,
      settings,
      access: { grants: [{ schema: 'agents', allTables: true, privileges: ['SELECT'] }], readOnly: true },
      ttlSeconds: 7200,
      quarantined: false,
    });
    expect(role.creationStatements).toContain(
      'ALTER ROLE "{{name}}" SET default_transaction_read_only = on;',
    );
    expect(role.maxTtlSeconds).toBe(3600);
    expect(role.defaultTtlSeconds).toBe(3600);
  });

  it('quarantined: creation raises an error, the mark stays, revocation is unchanged, bad grants do not matter', () => {
    const role = desiredDatabaseRole({
      names,
      settings,
      access: { grants: [{ schema: 'x"; DROP', allTables: true, privileges: ['SELECT'] }] },
      ttlSeconds: 900,
      quarantined: true,
    });
    expect(isQuarantinedDatabaseRole(role)).toBe(true);
    expect(role.creationStatements[0]).toMatch(/^DO \$\$ BEGIN RAISE EXCEPTION/);
    expect(role.creationStatements.join('\n')).not.toContain('DROP');
    expect(databaseRoleOwner(role)).toBe('5a1f-77');
  });

  it.each([
    ['SQL in a schema', { schema: 'agents"; DROP TABLE users; --' }, 'schema: not a plain identifier'],
    ['an uppercase table', { tables: ['Documents'] }, 'tables: "Documents" is not a plain identifier'],
    ['a quote in a table', { tables: ["docs'"] }, 'is not a plain identifier'],
    ['a catalog', { schema: 'pg_catalog' }, 'is refused in every environment'],
    ['an unknown privilege', { privileges: ['TRUNCATE'] }, 'unknown privilege "TRUNCATE"'],
    ['both tables and allTables', { allTables: true }, 'name the tables, or set allTables'],
  ])('refuses %s before rendering anything', (_case, change, message) => {
    const bad = { grants: [{ schema: 'agents', tables: ['documents'], privileges: ['SELECT'], ...change }] };
    expect(databaseGrantViolations(bad as DatabaseAccess, { namespace: 'agents' }).join('; ')).toContain(
      message,
    );
    expect(() =>
      desiredDatabaseRole({
        names,
        settings,
        access: bad as DatabaseAccess,
        ttlSeconds: 900,
        quarantined: false,
      }),
    ).toThrow(InvalidScopeError);
  });

  it('checks schemas against the tenant rule when given one ({namespace}: - written _)', () => {
    const grants = (schema: string): DatabaseAccess => ({
      grants: [{ schema, allTables: true, privileges: ['SELECT'] }],
    });
    const context = { namespace: 'team-a', allowedSchemas: ['{namespace}', 'shared_*'] };
    expect(databaseGrantViolations(grants('team_a'), context)).toEqual([]);
    expect(databaseGrantViolations(grants('shared_docs'), context)).toEqual([]);
    expect(databaseGrantViolations(grants('team_ab'), context)).toHaveLength(1);
    expect(databaseGrantViolations(grants('team_b'), context)).toHaveLength(1);
  });

  it('readOnly takes only SELECT', () => {
    const bad: DatabaseAccess = {
      grants: [{ schema: 'agents', allTables: true, privileges: ['SELECT', 'DELETE'] }],
      readOnly: true,
    };
    expect(databaseGrantViolations(bad, { namespace: 'agents' })).toEqual([
      'database.grants[0].privileges: readOnly sessions take only SELECT',
    ]);
  });
});

describe('databaseAccessOf and databaseSettings', () => {
  it('merges the grants of several scopes; read-only only when every scope is', () => {
    const merged = databaseAccessOf([
      { provider: 'vault', database: { grants: [access.grants[0]!], readOnly: true } },
      { provider: 'vault', paths: [{ path: 'secret/data/x', capabilities: ['read'] }] },
      { provider: 'vault', database: { grants: [access.grants[1]!] } },
    ]);
    expect(merged).toEqual({ grants: access.grants, readOnly: false });
    expect(databaseAccessOf([{ provider: 'vault', paths: [] }])).toBeUndefined();
  });

  it('defaults the mount and refuses bad names', () => {
    expect(databaseSettings({ connection: 'pg' })).toEqual({
      mount: 'database',
      connection: 'pg',
      maxTtlSeconds: 3600,
    });
    expect(() => databaseSettings({ connection: 'a b' })).toThrow(InvalidConfigError);
    expect(() => databaseSettings({ connection: 'pg', mount: '../sys' })).toThrow(InvalidConfigError);
    expect(() => databaseSettings({ connection: 'pg', maxTTL: 'soon' })).toThrow(InvalidConfigError);
  });
});

describe('VaultProvider with a database engine', () => {
  const options: VaultProviderOptions = {
    kvMount: 'secret',
    kubernetesAuthMount: 'kubernetes',
    audience: '',
    tokenMaxTtlSeconds: 3600,
    database: settings,
  };
  const clock = new FakeClock();
  let port: FakeVaultPort;
  let provider: VaultProvider;
  beforeEach(() => {
    port = new FakeVaultPort(clock);
    provider = new VaultProvider(options, port, clock);
  });

  it('writes the database role last, and grants the identity read on its creds path only', async () => {
    const result = await provider.provision(rag);
    expect(port.writes()).toEqual(['writeKvMetadata', 'writePolicy', 'writeRole', 'writeDatabaseRole']);
    expect(result.status.databaseRole).toBe(names.base);
    expect(port.databaseRoles.get(`database/${names.base}`)?.defaultTtlSeconds).toBe(900);
    const policy = port.policies.get(names.base) ?? '';
    expect(policy).toContain(`path "${credsPath(settings, names)}" {\n  capabilities = ["read"]\n}`);
    expect(policy).not.toMatch(/database\/creds\/[^"]*\*/);
  });

  it('counts the live leases of the role in its status, never naming one', async () => {
    expect((await provider.provision(rag)).counts).toEqual({ databaseLeases: 0 });
    port.addLease('database', names.base);
    port.addLease('database', names.base);
    const result = await provider.provision(rag);
    expect(result.counts).toEqual({ databaseLeases: 2 });
    expect(JSON.stringify(result)).not.toContain('lease-');
  });

  describe('a database target Secret', () => {
    const withTarget = identityRef(
      'rag-t',
      inNamespace('agents'),
      withScopes({ provider: 'vault', database: { ...access, target: { secretName: 'rag-db' } } }),
    );
    const targetNames = identityNames(withTarget);
    let written: Array<{ secretName: string; username: string }>;
    const targets: LoginTargetSync = async (_ref, secretName, issue) => {
      const login = await issue('first login');
      written.push({ secretName, username: login.username });
      return { renewed: 'first login', nextAt: new Date(login.expiresAt.getTime() - 300_000) };
    };
    beforeEach(() => {
      written = [];
      provider = new VaultProvider(options, port, clock, { loginTargets: targets });
    });

    it("is filled with a login of the identity's own role, for its lease's life", async () => {
      await provider.provision(withTarget);
      const heard: string[] = [];
      const renewal = await provider.renewLogins(withTarget, {
        beforeIssue: async (resource, reason) => {
          heard.push(`${resource}: ${reason}`);
          expect(port.calls).not.toContain('issueDatabaseLogin');
        },
      });
      expect(heard).toEqual(['Secret/agents/rag-db: database login: first login']);
      expect(written).toEqual([{ secretName: 'rag-db', username: expect.stringMatching(/^v-/) }]);
      expect(renewal.renewed).toEqual([
        { action: 'rotate', resource: 'Secret/agents/rag-db', reason: 'database login: first login' },
      ]);
      expect(renewal.nextAt?.getTime()).toBe(clock.now() + 600_000);
      expect(port.leases.size).toBe(1);
      expect([...port.leases][0]).toContain(`database/creds/${targetNames.base}/`);
    });

    it('gets no login while the role is quarantined or not made yet', async () => {
      expect((await provider.renewLogins(withTarget)).renewed).toEqual([]);
      await provider.provision(withTarget);
      await provider.quarantine(withTarget);
      expect((await provider.renewLogins(withTarget)).renewed).toEqual([]);
      expect(written).toEqual([]);
      expect(port.calls).not.toContain('issueDatabaseLogin');
    });

    it('fails, naming the field, when the provider cannot write Secrets', async () => {
      await provider.provision(withTarget);
      const blind = new VaultProvider(options, port, clock);
      await expect(blind.renewLogins(withTarget)).rejects.toThrow(/database\.target/);
    });
  });

  it('refuses a database scope when the provider has no database engine', async () => {
    const { database: _, ...withoutDatabase } = options;
    const plain = new VaultProvider(withoutDatabase, port, clock);
    await expect(plain.provision(rag)).rejects.toThrow(/needs vault.database/);
    expect(port.writes()).toEqual([]);
  });

  it('quarantine: deny policy, blocked role, then every lease revoked; restore re-enables', async () => {
    await provider.provision(rag);
    const other = identityRef(
      'rag-x',
      inNamespace('agents'),
      withScopes({ provider: 'vault', database: access }),
    );
    await provider.provision(other);
    port.addLease('database', names.base);
    port.addLease('database', names.base);
    const foreign = port.addLease('database', identityNames(other).base);
    port.calls.length = 0;
    await provider.quarantine(rag);
    expect(port.writes()).toEqual([
      'writePolicy',
      'writeRole',
      'writeDatabaseRole',
      'revokeLease',
      'revokeLease',
    ]);
    expect([...port.leases]).toEqual([foreign]);
    expect(isQuarantinedDatabaseRole(port.databaseRoles.get(`database/${names.base}`)!)).toBe(true);
    // provision keeps the quarantine; restore lifts it
    expect((await provider.provision(rag)).changes).toEqual([]);
    await provider.restore(rag);
    expect(isQuarantinedDatabaseRole(port.databaseRoles.get(`database/${names.base}`)!)).toBe(false);
  });

  it("revoke deletes the role after its leases, and leaves another identity's role alone", async () => {
    await provider.provision(rag);
    port.addLease('database', names.base);
    await provider.revoke(rag);
    expect(port.databaseRoles.has(`database/${names.base}`)).toBe(false);
    expect(port.leases.size).toBe(0);

    const hijacked = desiredDatabaseRole({
      names: { ...names, uid: 'someone-else' },
      settings,
      access,
      ttlSeconds: 900,
      quarantined: false,
    });
    port.databaseRoles.set(`database/${names.base}`, hijacked);
    await provider.revoke(rag);
    expect(port.databaseRoles.get(`database/${names.base}`)).toEqual(hijacked);
    await expect(provider.provision(rag)).rejects.toThrow(NotOwnedError);
  });

  it('reports and corrects drift of the role', async () => {
    await provider.provision(rag);
    const live = port.databaseRoles.get(`database/${names.base}`)!;
    port.databaseRoles.set(`database/${names.base}`, {
      ...live,
      creationStatements: [...live.creationStatements, 'GRANT pg_read_all_data TO "{{name}}";'],
      maxTtlSeconds: 86_400,
    });
    const observed = await provider.observe(rag, { correctDrift: true });
    expect(observed.drift.map((d) => d.field)).toEqual(['creation_statements', 'max_ttl']);
    expect(JSON.stringify(observed.drift)).not.toContain('pg_read_all_data');
    expect(port.databaseRoles.get(`database/${names.base}`)).toEqual(live);
  });
});

describe('vault path scopes next to a database engine', () => {
  it("refuse the engine's configuration, its roles and every identity's logins, not a tenant's own creds", async () => {
    const { vaultScopeViolations } = await import('./policy.ts');
    const check = (path: string) =>
      vaultScopeViolations([{ provider: 'vault', paths: [{ path, capabilities: ['read'] }] }], {
        environment: 'development',
        kvMount: 'secret',
        databaseMount: 'database',
      });
    for (const path of [
      'database/*',
      'database/config/rag-postgres',
      'database/roles/nhi-agents-rag-1',
      'database/rotate-root/rag-postgres',
      'database/static-roles/app-admin',
      'database/static-creds/app-admin',
      'database/reset/rag-postgres',
      'database/reload/postgresql-database-plugin',
      'database/creds/*',
      'database/creds/+',
      'database/creds/nhi-other-team-bot-12345678',
      'database/creds/nh*',
    ]) {
      expect(check(path), path).not.toEqual([]);
    }
    for (const path of ['database/creds/legacy-reporting', 'secret/data/agents/x']) {
      expect(check(path), path).toEqual([]);
    }
  });
});

describe('docs/database.md', () => {
  it("quotes the database part of the operator's policy as operatorPolicy() renders it", async () => {
    const { readFileSync } = await import('node:fs');
    const { operatorPolicy } = await import('./operator-policy.ts');
    const page = readFileSync(new URL('../../../docs/database.md', import.meta.url), 'utf8');
    const without = operatorPolicy({
      kvMount: 'secret',
      kubernetesAuthMount: 'kubernetes',
      tokenAccessors: false,
    });
    const withDatabase = operatorPolicy({
      kvMount: 'secret',
      kubernetesAuthMount: 'kubernetes',
      tokenAccessors: false,
      databaseMount: 'database',
    });
    expect(page).toContain(withDatabase.slice(without.length));
  });
});

describe('last use from database logins', () => {
  it("is the latest issue of the role's live leases, or the token's use when later", async () => {
    const clock = new FakeClock();
    const port = new FakeVaultPort(clock);
    const provider = new VaultProvider(
      {
        kvMount: 'secret',
        kubernetesAuthMount: 'kubernetes',
        audience: '',
        tokenMaxTtlSeconds: 3600,
        database: settings,
        tokenAccessors: false,
      },
      port,
      clock,
    );
    await provider.provision(rag);
    expect((await provider.observe(rag, { correctDrift: false })).lastUsed).toBeUndefined();
    port.addLease('database', names.base, '2026-01-01T10:00:00.000Z');
    port.addLease('database', names.base, '2026-01-01T11:30:00.000Z');
    port.addLease('database', 'nhi-someone-else-1', '2026-01-01T12:00:00.000Z');
    const observed = await provider.observe(rag, { correctDrift: false });
    expect(observed.lastUsed?.toISOString()).toBe('2026-01-01T11:30:00.000Z');
  });

  it("counts the latest pg_stat_activity of the identity's users, where the platform enables it", async () => {
    const clock = new FakeClock();
    const port = new FakeVaultPort(clock);
    const latest = new Map([
      [names.uid, new Date('2026-01-01T13:15:00.000Z')],
      ['someone-else', new Date('2026-01-01T14:00:00.000Z')],
    ]);
    const provider = new VaultProvider(
      {
        kvMount: 'secret',
        kubernetesAuthMount: 'kubernetes',
        audience: '',
        tokenMaxTtlSeconds: 3600,
        database: settings,
        tokenAccessors: false,
      },
      port,
      clock,
      { sessions: { latestByIdentity: async () => latest } },
    );
    await provider.provision(rag);
    port.addLease('database', names.base, '2026-01-01T10:00:00.000Z');
    const observed = await provider.observe(rag, { correctDrift: false });
    expect(observed.lastUsed?.toISOString()).toBe('2026-01-01T13:15:00.000Z');
  });

  it.each([
    [{ role: 'nhi-monitor', url: 'postgresql://db:5432/kb' }, /activity\.role/],
    [{ role: 'monitor', url: 'postgresql://user:pw@db:5432/kb' }, /without credentials/],
    [{ role: 'monitor', url: 'mysql://db/kb' }, /without credentials/],
  ])('refuses a monitoring setting the operator could abuse or misread (%o)', (activity, message) => {
    expect(() => databaseSettings({ connection: 'rag-postgres', activity })).toThrow(message);
  });
});
