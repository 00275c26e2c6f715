// Last use from pg_stat_activity (spec.vault.database.activity) against the real PostgreSQL and
// OpenBao, with the provider authenticated as the operator (operatorPolicy() with the monitoring
// role): while a workload's session is open its latest activity is the identity's last use; once it
// is closed only the lease times count again. The monitoring login reads sessions, not tables.

import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAO_DATABASE_ACTIVITY_ROLE } from '../../../src/dev/bao-setup.ts';
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
} from './support.ts';

const env = testEnv();
const { addr, token: root, kubernetesAuthMount: mount } = env.bao;
const { postgres, database } = devPostgres();
const namespace = uniqueName('db-activity');
const schema = schemaOf(namespace);
const agent = databaseIdentity(namespace, 'agent', {
  grants: [{ schema, allTables: true, privileges: ['SELECT'] }],
});

let admin: pg.Client;
let operator: OperatorLogin;
let provider: VaultProvider;

async function readCreds(role: string, token: string) {
  const creds = await bao(addr, token, 'GET', `${database.mount}/creds/${role}`);
  expect(creds.status).toBe(200);
  return creds.json.data as { username: string; password: string };
}

beforeAll(async () => {
  admin = await superuser();
  await seedSchema(admin, schema);
  await createNamespace(namespace, ['agent']);
  operator = await operatorLogin(
    addr,
    root,
    mount,
    {
      mount: database.mount,
      connection: database.connection,
      activity: {
        role: BAO_DATABASE_ACTIVITY_ROLE,
        url: `postgresql://${postgres.host}:${postgres.port}/${postgres.database}?sslmode=disable`,
      },
    },
    { databaseActivityRole: BAO_DATABASE_ACTIVITY_ROLE },
  );
  provider = VaultProvider.fromSpec(operator.spec, { tokenScanCacheMs: 0, tokenAccessors: false });
  await provider.provision(agent);
});

afterAll(async () => {
  await provider?.revoke(agent).catch(() => {});
  await operator?.cleanup();
  await deleteNamespace(namespace);
  await admin?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin?.end();
});

describe('last use from pg_stat_activity', () => {
  it('an open session counts as use up to its latest query; a closed one no longer does', async () => {
    const base = identityNames(agent).base;
    const login = await workloadLogin(addr, mount, base, await serviceAccountToken(namespace, 'agent'));
    const client = await connectAs(await readCreds(base, login.token!));
    const { rows } = await client.query<{ at: Date }>('SELECT now() AS at');
    const sessionAt = rows[0]!.at;
    const open = await provider.observe(agent, { correctDrift: false });
    expect(open.lastUsed!.getTime()).toBeGreaterThanOrEqual(sessionAt.getTime());

    await client.end();
    // The backend leaves pg_stat_activity a moment after the socket closes; then only the lease's
    // issue time counts, which is before the session began.
    await eventually('the closed session to stop counting', async () => {
      const closed = await provider.observe(agent, { correctDrift: false });
      return closed.lastUsed!.getTime() < sessionAt.getTime();
    });
  });

  it("the operator's monitoring login reads sessions but no tenant's table", async () => {
    const monitor = await readCreds(BAO_DATABASE_ACTIVITY_ROLE, root);
    const client = await connectAs(monitor);
    expect(await queryOutcome(client, 'SELECT count(*) FROM pg_stat_activity')).toBe('ok');
    expect(await queryOutcome(client, `SELECT * FROM "${schema}".documents`)).toBe('42501');
    await client.end();
  });
});
