// Shared pieces of the database tests: the dev environment's PostgreSQL (seeded by its superuser, as
// a platform's migration would), connections as a workload with the login OpenBao issued, and what
// PostgreSQL holds for one identity (its users carry the role's COMMENT mark).

import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { databaseSchemaOfNamespace } from '../../../src/api/v1alpha1/defaults.ts';
import type { DatabaseAccess, Environment } from '../../../src/api/v1alpha1/types.ts';
import type { IdentityRef } from '../../../src/providers/types.ts';
import {
  agentIdentity,
  inEnvironment,
  inNamespace,
  withCredentialTTL,
  withScopes,
  withServiceAccount,
  withUid,
} from '../../../src/testing/agent-identity.ts';
import { testEnv } from '../../support/env.ts';

export function devPostgres() {
  const env = testEnv();
  if (!env.postgres || !env.database) {
    throw new Error(
      'the test environment has no PostgreSQL: install Debian postgresql (scripts/build-components.sh does)',
    );
  }
  return { postgres: env.postgres, database: env.database };
}

/** A client as the bootstrap superuser. */
export async function superuser(): Promise<pg.Client> {
  const { postgres } = devPostgres();
  const client = new pg.Client({
    host: postgres.host,
    port: postgres.port,
    user: postgres.superuser,
    password: postgres.password,
    database: postgres.database,
  });
  await client.connect();
  return client;
}

/** A client as a workload, with the username and password it read from <mount>/creds/<role>. */
export async function connectAs(login: { username: string; password: string }): Promise<pg.Client> {
  const { postgres } = devPostgres();
  const client = new pg.Client({
    host: postgres.host,
    port: postgres.port,
    user: login.username,
    password: login.password,
    database: postgres.database,
    connectionTimeoutMillis: 5000,
  });
  // A terminated session emits 'error' on the client; the tests observe it through the next query.
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** The schema a namespace's identities reach by default. */
export const schemaOf = databaseSchemaOfNamespace;

/** The tenant's schema with two tables, and rows to read. */
export async function seedSchema(admin: pg.Client, schema: string): Promise<void> {
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await admin.query(`CREATE TABLE "${schema}".documents (id int primary key, body text)`);
  await admin.query(`CREATE TABLE "${schema}".chunks (id int primary key, document int, text text)`);
  await admin.query(`INSERT INTO "${schema}".documents VALUES (1, 'refund policy'), (2, 'shipping times')`);
  await admin.query(`INSERT INTO "${schema}".chunks VALUES (1, 1, 'refunds within 30 days')`);
}

/** PostgreSQL users made from the identity's role (their COMMENT carries its uid). */
export async function usersOf(admin: pg.Client, uid: string): Promise<number> {
  const result = await admin.query(
    "SELECT count(*)::int AS n FROM pg_roles WHERE shobj_description(oid, 'pg_authid') LIKE $1",
    [`%identity-uid ${uid} %`],
  );
  return result.rows[0].n as number;
}

/** An identity in `namespace` with a fresh uid and a database scope. */
export function databaseIdentity(
  namespace: string,
  name: string,
  database: DatabaseAccess,
  environment: Environment = 'development',
): IdentityRef {
  const identity = agentIdentity(
    name,
    inNamespace(namespace),
    withUid(randomUUID()),
    inEnvironment(environment),
    withServiceAccount(name),
    withCredentialTTL('5m'),
    withScopes({ provider: 'vault', database }),
  );
  return { identity, subject: { namespace, serviceAccountName: name } };
}

/** The error code PostgreSQL answered a query with ('42501': insufficient privilege), or 'ok'. */
export async function queryOutcome(client: pg.Client, sql: string): Promise<string> {
  try {
    await client.query(sql);
    return 'ok';
  } catch (error) {
    return String((error as { code?: string }).code ?? (error as Error).message);
  }
}
