// The limits of an identity's database logins against the real PostgreSQL and OpenBao, with the
// provider authenticated as the operator (only operatorPolicy()): the cap on concurrent logins is
// enforced by PostgreSQL in the role's creation transaction, so OpenBao refuses the login past it;
// the target Secret is filled with the policy's databaseTargets grant, and without it the operator
// cannot make a login at all.

import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubernetesPort, syncLoginSecret } from '../../../src/providers/kubernetes/index.ts';
import { identityNames } from '../../../src/providers/vault/names.ts';
import { VaultProvider } from '../../../src/providers/vault/provider.ts';
import { kubeConfig, testEnv } from '../../support/env.ts';
import { uniqueName } from '../../support/wait.ts';
import {
  bao,
  createNamespace,
  deleteNamespace,
  type OperatorLogin,
  operatorLogin,
  serviceAccountToken,
  workloadLogin,
} from '../vault/support.ts';
import { databaseIdentity, devPostgres, schemaOf, seedSchema, superuser, usersOf } from './support.ts';

const env = testEnv();
const { addr, token: root, kubernetesAuthMount: mount } = env.bao;
const { database } = devPostgres();
const namespace = uniqueName('db-caps');
const schema = schemaOf(namespace);
const port = kubernetesPort(kubeConfig());
const targets = (
  ref: Parameters<typeof syncLoginSecret>[1],
  name: string,
  issue: Parameters<typeof syncLoginSecret>[3],
) => syncLoginSecret(port, ref, name, issue, () => new Date());

const capped = databaseIdentity(namespace, 'capped', {
  grants: [{ schema, allTables: true, privileges: ['SELECT'] }],
  maxLeases: 2,
  target: { secretName: 'capped-db' },
});

let admin: pg.Client;
let operator: OperatorLogin;
let narrow: OperatorLogin;

/** The workload: TokenRequest, kubernetes login, read its creds path; the HTTP status and errors. */
async function readCreds(): Promise<{ status: number; errors: string }> {
  const names = identityNames(capped);
  const login = await workloadLogin(addr, mount, names.base, await serviceAccountToken(namespace, 'capped'));
  const creds = await bao(addr, login.token ?? '', 'GET', `${database.mount}/creds/${names.base}`);
  return { status: creds.status, errors: JSON.stringify(creds.json.errors ?? []) };
}

beforeAll(async () => {
  admin = await superuser();
  await seedSchema(admin, schema);
  await createNamespace(namespace, ['capped']);
  const engine = { mount: database.mount, connection: database.connection, maxTTL: '30m' };
  operator = await operatorLogin(addr, root, mount, engine, { databaseTargets: true });
  narrow = await operatorLogin(addr, root, mount, engine);
});

afterAll(async () => {
  const provider = operator && VaultProvider.fromSpec(operator.spec, { tokenScanCacheMs: 0 });
  await provider?.revoke(capped).catch(() => {});
  await operator?.cleanup();
  await narrow?.cleanup();
  await deleteNamespace(namespace);
  await admin?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin?.end();
});

describe('the limits of database logins', () => {
  it('without the databaseTargets grant the operator makes no login, and writes no Secret', async () => {
    const provider = VaultProvider.fromSpec(narrow.spec, { tokenScanCacheMs: 0, loginTargets: targets });
    await provider.provision(capped);
    await expect(provider.renewLogins(capped)).rejects.toThrow(/403|permission/i);
    expect(await port.get('Secret', namespace, 'capped-db')).toBeUndefined();
    expect(await usersOf(admin, capped.identity.metadata.uid!)).toBe(0);
  });

  it('with it, the target Secret is filled with one login of the role', async () => {
    const provider = VaultProvider.fromSpec(operator.spec, { tokenScanCacheMs: 0, loginTargets: targets });
    await provider.provision(capped);
    const renewal = await provider.renewLogins(capped);
    expect(renewal.renewed.map((c) => c.resource)).toEqual([`Secret/${namespace}/capped-db`]);
    expect((await port.get('Secret', namespace, 'capped-db'))?.data?.username).toBeDefined();
    expect(await usersOf(admin, capped.identity.metadata.uid!)).toBe(1);
    expect((await provider.provision(capped)).counts).toEqual({ databaseLeases: 1 });
  });

  it('PostgreSQL refuses a login past maxLeases, and OpenBao hands out none', async () => {
    expect((await readCreds()).status).toBe(200); // the second of two
    const refused = await readCreds();
    expect(refused.status).not.toBe(200);
    expect(refused.errors).toContain('lease cap reached');
    expect(await usersOf(admin, capped.identity.metadata.uid!)).toBe(2);
  });
});
