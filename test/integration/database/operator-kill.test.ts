// The real operator process with a database-enabled Vault provider: killed (SIGKILL) while it
// provisions an identity with a database scope, then started again. The restarted operator converges
// to exactly one database role, the workload's login works, and deleting the identity leaves no role
// and no PostgreSQL user behind.
//
// To land the kill between two calls, the provider reaches the real OpenBao through a loopback relay
// that holds each request chunk for a moment (a delay, not a fake: every answer is OpenBao's); the
// kill comes once the identity's policy exists in OpenBao and its database role does not yet.

import { createConnection, createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { agentIdentity, withScopes } from '../../../src/testing/agent-identity.ts';
import {
  AGENT_IDENTITIES,
  bao,
  createIdentity,
  getIdentity,
  installVaultProvider,
  newNamespace,
  removeProvider,
  untilCondition,
} from '../../support/cluster.ts';
import { kubeConfig, testEnv } from '../../support/env.ts';
import { deployment, onTestCluster } from '../../support/fixtures.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually } from '../../support/wait.ts';
import { connectAs, devPostgres, queryOutcome, schemaOf, seedSchema, superuser, usersOf } from './support.ts';

const PROVIDER = 'vault-db';
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const { database } = devPostgres();
const rootToken = testEnv().bao.token;
let admin: pg.Client;
let operator: OperatorProcess | undefined;
let namespace: string;
let relay: Server;
/** How long the relay holds each request chunk on its way to OpenBao. */
let delayMs = 250;

/** A loopback TCP relay to OpenBao; its address. */
async function startRelay(): Promise<string> {
  const upstream = new URL(testEnv().bao.addr);
  relay = createServer((client) => {
    const server = createConnection({ host: upstream.hostname, port: Number(upstream.port) });
    let queue = Promise.resolve();
    client.on('data', (chunk) => {
      queue = queue.then(async () => {
        if (delayMs > 0) await sleep(delayMs);
        server.write(chunk);
      });
    });
    server.pipe(client);
    const close = () => {
      client.destroy();
      server.destroy();
    };
    client.on('error', close).on('close', close);
    server.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const address = relay.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

beforeAll(async () => {
  admin = await superuser();
  await installOperatorManifests(kc);
  // A provider of its own name: the other suites' `vault` provider has no database engine.
  const address = await startRelay();
  await installVaultProvider({ name: PROVIDER, spec: { address, database: { ...database, maxTTL: '30m' } } });
  namespace = await newNamespace('db-kill');
  await seedSchema(admin, schemaOf(namespace));
});

afterAll(async () => {
  await operator?.stop('SIGKILL');
  await removeProvider(PROVIDER);
  relay?.close();
  await admin?.query(`DROP SCHEMA IF EXISTS "${schemaOf(namespace)}" CASCADE`);
  await admin?.end();
});

/** The engine's roles of the identity (its name starts nhi-<namespace>-). */
async function databaseRoles(): Promise<string[]> {
  const listed = await bao('LIST', `${database.mount}/roles`, rootToken);
  return ((listed.json.data?.keys ?? []) as string[]).filter((r) => r.startsWith(`nhi-${namespace}-`));
}

describe('the operator killed mid-provision', () => {
  it('converges after a restart to one database role, a working login, and nothing left after deletion', async () => {
    await apps.createNamespacedDeployment({ namespace, body: deployment('rag', 'rag') });
    operator = startOperatorProcess();
    await createIdentity(
      agentIdentity(
        'rag',
        onTestCluster(namespace),
        withScopes({
          provider: 'vault',
          providerRef: PROVIDER,
          database: { grants: [{ schema: schemaOf(namespace), allTables: true, privileges: ['SELECT'] }] },
        }),
      ),
    );
    // Kill once the identity's policy is in OpenBao and its database role is not yet.
    await eventually(
      'the operator to be between its policy and its database role',
      async () => {
        const policies = ((await bao('LIST', 'sys/policies/acl', rootToken)).json.data?.keys ??
          []) as string[];
        return (
          policies.some((p) => p.startsWith(`nhi-${namespace}-rag-`)) && (await databaseRoles()).length === 0
        );
      },
      { timeoutMs: 60_000, intervalMs: 20 },
    );
    await operator.stop('SIGKILL');
    expect(await databaseRoles(), 'killed before the database role was written').toEqual([]);
    delayMs = 0;

    operator = startOperatorProcess();
    const ready = await untilCondition(namespace, 'rag', 'Ready', 'True', 60_000);
    const role = ready.status?.vault?.databaseRole ?? '';
    expect(await databaseRoles()).toEqual([role]);
    expect(await usersOf(admin, ready.metadata.uid!)).toBe(0);

    const jwt =
      (
        await core.createNamespacedServiceAccountToken({
          namespace,
          name: 'rag',
          body: { spec: { audiences: [] } },
        })
      ).status?.token ?? '';
    const login = await bao('POST', 'auth/kubernetes/login', '', { role: ready.status?.vault?.role, jwt });
    expect(login.status).toBe(200);
    const creds = await bao('GET', `${database.mount}/creds/${role}`, login.json.auth?.client_token ?? '');
    expect(creds.status).toBe(200);
    const client = await connectAs(creds.json.data as { username: string; password: string });
    expect(await queryOutcome(client, `SELECT * FROM "${schemaOf(namespace)}".documents`)).toBe('ok');
    expect(await usersOf(admin, ready.metadata.uid!)).toBe(1);

    // Offboarding: deleting the identity revokes through the finalizer.
    await custom.deleteNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace, name: 'rag' });
    await eventually(
      'the identity to be gone',
      async () => (await getIdentity(namespace, 'rag')) === undefined,
      {
        timeoutMs: 60_000,
      },
    );
    expect(await queryOutcome(client, 'SELECT 1')).not.toBe('ok');
    await client.end().catch(() => {});
    expect(await databaseRoles()).toEqual([]);
    expect(await usersOf(admin, ready.metadata.uid!)).toBe(0);
  });
});
