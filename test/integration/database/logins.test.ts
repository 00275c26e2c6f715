// Per-identity PostgreSQL logins through OpenBao's database secrets engine, against the real
// PostgreSQL, OpenBao and apiserver of the test environment: the provider runs as the operator would
// (kubernetes auth, only operatorPolicy() with the database mount), workloads log in with
// TokenRequest tokens, read <mount>/creds/<their role> and connect with what they got.

import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityNames } from '../../../src/providers/vault/names.ts';
import { VaultProvider } from '../../../src/providers/vault/provider.ts';
import { testEnv } from '../../support/env.ts';
import { eventually, uniqueName } from '../../support/wait.ts';
import {
  bao,
  createNamespace,
  deleteNamespace,
  type OperatorLogin,
  operatorLogin,
  serviceAccountToken,
  workloadLogin,
} from '../vault/support.ts';
import {
  connectAs,
  databaseIdentity,
  devPostgres,
  queryOutcome,
  schemaOf,
  seedSchema,
  superuser,
  usersOf,
} from './support.ts';

const env = testEnv();
const { addr, token: root, kubernetesAuthMount: mount } = env.bao;
const { database } = devPostgres();
const namespace = uniqueName('db-logins');
const otherTenant = uniqueName('db-other');
const schema = schemaOf(namespace);

// rag: SELECT on documents only, read-only sessions. writer: SELECT, INSERT on every table.
const rag = databaseIdentity(namespace, 'rag', {
  grants: [{ schema, tables: ['documents'], privileges: ['SELECT'] }],
  readOnly: true,
});
const writer = databaseIdentity(namespace, 'writer', {
  grants: [{ schema, allTables: true, privileges: ['SELECT', 'INSERT'] }],
});

let admin: pg.Client;
let operator: OperatorLogin;
let provider: VaultProvider;
const open: pg.Client[] = [];

/** What the workload does: TokenRequest, kubernetes login, read its creds path. */
async function readCreds(ref: typeof rag) {
  const names = identityNames(ref);
  const jwt = await serviceAccountToken(namespace, ref.subject.serviceAccountName);
  const login = await workloadLogin(addr, mount, names.base, jwt);
  if (!login.token) return { login: login.status, creds: 0 };
  const creds = await bao(addr, login.token, 'GET', `${database.mount}/creds/${names.base}`);
  return {
    login: login.status,
    token: login.token,
    creds: creds.status,
    username: creds.json.data?.username as string,
    password: creds.json.data?.password as string,
    leaseSeconds: creds.json.lease_duration as number,
  };
}

async function connect(ref: typeof rag): Promise<pg.Client> {
  const got = await readCreds(ref);
  expect(got.creds, 'creds read').toBe(200);
  const client = await connectAs({ username: got.username!, password: got.password! });
  open.push(client);
  return client;
}

beforeAll(async () => {
  admin = await superuser();
  await seedSchema(admin, schema);
  await seedSchema(admin, schemaOf(otherTenant));
  await createNamespace(namespace, ['rag', 'writer']);
  operator = await operatorLogin(addr, root, mount, {
    mount: database.mount,
    connection: database.connection,
    maxTTL: '30m',
  });
  provider = VaultProvider.fromSpec(operator.spec, { tokenScanCacheMs: 0 });
  await provider.provision(rag);
  await provider.provision(writer);
});

afterAll(async () => {
  for (const client of open) await client.end().catch(() => {});
  await provider?.revoke(rag).catch(() => {});
  await provider?.revoke(writer).catch(() => {});
  await operator?.cleanup();
  await deleteNamespace(namespace);
  await admin?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin?.query(`DROP SCHEMA IF EXISTS "${schemaOf(otherTenant)}" CASCADE`);
  await admin?.end();
});

describe('a workload reads its own database login', () => {
  it('a TokenRequest token logs in, reads its creds, and can SELECT what was granted and nothing else', async () => {
    const got = await readCreds(rag);
    expect(got.creds).toBe(200);
    expect(got.leaseSeconds).toBe(300); // default_ttl = credentialTTL
    const client = await connectAs({ username: got.username!, password: got.password! });
    open.push(client);
    const rows = await client.query(`SELECT body FROM "${schema}".documents ORDER BY id`);
    expect(rows.rows.map((r) => r.body)).toEqual(['refund policy', 'shipping times']);
    // the other table of its own schema, another tenant's schema, and any write: denied
    expect(await queryOutcome(client, `SELECT * FROM "${schema}".chunks`)).toBe('42501');
    expect(await queryOutcome(client, `SELECT * FROM "${schemaOf(otherTenant)}".documents`)).toBe('42501');
    // read-only session: the transaction refuses the write before privileges are even checked
    expect(await queryOutcome(client, `INSERT INTO "${schema}".documents VALUES (9, 'x')`)).toBe('25006');
  });

  it('the user carries the identity mark and the lifetime of its lease', async () => {
    expect(await usersOf(admin, rag.identity.metadata.uid!)).toBeGreaterThan(0);
    const { rows } = await admin.query(
      "SELECT rolvaliduntil, rolsuper, rolcreaterole FROM pg_roles WHERE shobj_description(oid, 'pg_authid') LIKE $1",
      [`%identity-uid ${rag.identity.metadata.uid} %`],
    );
    for (const row of rows) {
      expect(row.rolsuper).toBe(false);
      expect(row.rolcreaterole).toBe(false);
      expect(new Date(row.rolvaliduntil).getTime()).toBeLessThanOrEqual(Date.now() + 310_000);
    }
  });

  it("all tables in schema, with INSERT, for the writer; and its token cannot read rag's creds", async () => {
    const client = await connect(writer);
    expect(await queryOutcome(client, `SELECT * FROM "${schema}".chunks`)).toBe('ok');
    expect(await queryOutcome(client, `INSERT INTO "${schema}".chunks VALUES (7, 1, 'new')`)).toBe('ok');
    expect(await queryOutcome(client, `DELETE FROM "${schema}".chunks WHERE id = 7`)).toBe('42501');
    expect(await queryOutcome(client, `CREATE TABLE "${schema}".mine (id int)`)).toBe('42501');
    const token = (await readCreds(writer)).token!;
    const other = await bao(addr, token, 'GET', `${database.mount}/creds/${identityNames(rag).base}`);
    expect(other.status).toBe(403);
  });

  it("last use follows the identity's database logins (lease issue times), never naming a lease", async () => {
    const before = Date.now() - 1000;
    await readCreds(writer);
    // Token activity left out: only the lease lookups can say it.
    const leasesOnly = VaultProvider.fromSpec(operator.spec, { tokenAccessors: false });
    const observed = await leasesOnly.observe(writer, { correctDrift: false });
    expect(observed.lastUsed?.getTime()).toBeGreaterThanOrEqual(before);
    expect(observed.drift).toEqual([]);
  });

  it('status names the database role, never a lease', async () => {
    const result = await provider.provision(rag);
    expect(result.changes).toEqual([]);
    expect(result.status).toEqual({
      role: identityNames(rag).base,
      policy: identityNames(rag).base,
      databaseRole: identityNames(rag).base,
    });
    expect(JSON.stringify(result)).not.toMatch(/creds\/.+\//);
  });
});

describe('quarantine, restore and revoke', () => {
  it('quarantine terminates an open session, drops the user, and refuses fresh logins', async () => {
    const before = await readCreds(rag);
    const session = await connectAs({ username: before.username!, password: before.password! });
    open.push(session);
    expect(await queryOutcome(session, `SELECT 1 FROM "${schema}".documents`)).toBe('ok');

    await provider.quarantine(rag);

    // the session was terminated by the revocation statements (57P01 admin_shutdown, or a closed socket)
    expect(await queryOutcome(session, 'SELECT 1')).not.toBe('ok');
    // the user is gone: its password no longer logs in
    await expect(connectAs({ username: before.username!, password: before.password! })).rejects.toThrow();
    expect(await usersOf(admin, rag.identity.metadata.uid!)).toBe(0);
    // the workload can no longer log in, and its earlier token can no longer read creds
    expect((await readCreds(rag)).login).not.toBe(200);
    const stale = await bao(addr, before.token!, 'GET', `${database.mount}/creds/${identityNames(rag).base}`);
    expect(stale.status).toBe(403);
    // not even the root token can make a login of the quarantined role
    const rootRead = await bao(addr, root, 'GET', `${database.mount}/creds/${identityNames(rag).base}`);
    expect(rootRead.status).toBeGreaterThanOrEqual(400);
    expect(await usersOf(admin, rag.identity.metadata.uid!)).toBe(0);
  });

  it('the other identity keeps working while one is quarantined', async () => {
    const client = await connect(writer);
    expect(await queryOutcome(client, `SELECT * FROM "${schema}".documents`)).toBe('ok');
  });

  it('restore brings access back', async () => {
    await provider.restore(rag);
    const client = await connect(rag);
    expect(await queryOutcome(client, `SELECT * FROM "${schema}".documents`)).toBe('ok');
  });

  it('revoke removes the role and every user made from it; the other identity still works', async () => {
    const session = await connect(rag);
    await provider.revoke(rag);
    expect(await queryOutcome(session, 'SELECT 1')).not.toBe('ok');
    const role = await bao(addr, root, 'GET', `${database.mount}/roles/${identityNames(rag).base}`);
    expect(role.status).toBe(404);
    expect(await usersOf(admin, rag.identity.metadata.uid!)).toBe(0);

    const client = await connect(writer);
    expect(await queryOutcome(client, `SELECT * FROM "${schema}".documents`)).toBe('ok');
  });

  it('removing the database scope deletes the role and its logins, keeping the rest of the identity', async () => {
    const client = await connect(writer);
    const withoutDatabase = structuredClone(writer);
    withoutDatabase.identity.spec.scopes = [];
    const result = await provider.provision(withoutDatabase);
    expect(result.changes.map((c) => `${c.action} ${c.resource}`)).toContain(
      `delete vault:${database.mount}/roles/${identityNames(writer).base}`,
    );
    expect(await queryOutcome(client, 'SELECT 1')).not.toBe('ok');
    await eventually(
      'the users of the writer to be dropped',
      async () => (await usersOf(admin, writer.identity.metadata.uid!)) === 0,
    );
    const login = await readCreds(writer);
    expect(login.login).toBe(200);
    expect(login.creds).toBe(403);
  });
});
