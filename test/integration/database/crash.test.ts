// A crash between any two provider calls, against the real OpenBao and PostgreSQL: the port stops at
// call N (before the server acts, or after it acted but before the provider learns the result), then
// a fresh call runs. Never an extra database role in OpenBao, never a PostgreSQL user left behind.

import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdentityRef } from '../../../src/providers/types.ts';
import {
  type VaultProviderOptions,
  vaultPortFromSpec,
  vaultProviderOptions,
} from '../../../src/providers/vault/factory.ts';
import { identityNames } from '../../../src/providers/vault/names.ts';
import type { VaultPort } from '../../../src/providers/vault/port.ts';
import { VaultProvider } from '../../../src/providers/vault/provider.ts';
import { crashingPort, SimulatedCrash } from '../../../src/providers/vault/testing/fixtures.ts';
import { systemClock } from '../../../src/runtime/clock.ts';
import { testEnv } from '../../support/env.ts';
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
const namespace = uniqueName('db-crash');
const schema = schemaOf(namespace);

let admin: pg.Client;
let operator: OperatorLogin;
let options: VaultProviderOptions;
let port: VaultPort;
let provider: VaultProvider;

const agent = () =>
  databaseIdentity(namespace, 'agent', { grants: [{ schema, allTables: true, privileges: ['SELECT'] }] });

/** Runs `call` with a crash at port call `at`; false once the call finished before reaching it. */
async function crashesAt(at: number, when: 'before' | 'after', call: (p: VaultProvider) => Promise<unknown>) {
  const crashing = crashingPort(port, at, when);
  try {
    await call(new VaultProvider(options, crashing.port, systemClock));
  } catch (error) {
    if (!(error instanceof SimulatedCrash)) throw error;
  }
  return crashing.crashed();
}

/** The engine's roles of this identity, and the PostgreSQL users made from them. */
async function footprint(ref: IdentityRef) {
  const base = identityNames(ref).base;
  const listed = await bao(addr, root, 'LIST', `${database.mount}/roles`);
  const roles = ((listed.json.data?.keys ?? []) as string[]).filter((r) => r.startsWith(base));
  return { roles, users: await usersOf(admin, ref.identity.metadata.uid!) };
}

/** A workload login made from the role: one lease, one PostgreSQL user. */
async function lease(ref: IdentityRef): Promise<void> {
  const base = identityNames(ref).base;
  const login = await workloadLogin(addr, mount, base, await serviceAccountToken(namespace, 'agent'));
  const creds = await bao(addr, login.token!, 'GET', `${database.mount}/creds/${base}`);
  expect(creds.status).toBe(200);
}

beforeAll(async () => {
  admin = await superuser();
  await seedSchema(admin, schema);
  await createNamespace(namespace, ['agent']);
  operator = await operatorLogin(addr, root, mount, {
    mount: database.mount,
    connection: database.connection,
  });
  options = vaultProviderOptions(operator.spec, { tokenScanCacheMs: 0 });
  port = vaultPortFromSpec(operator.spec);
  provider = new VaultProvider(options, port, systemClock);
});

afterAll(async () => {
  await operator?.cleanup();
  await deleteNamespace(namespace);
  await admin?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin?.end();
});

describe('a crash during provision', () => {
  it('at any call, before or after the server acts: the next provision converges to one role, no user', async () => {
    let steps = 0;
    for (let at = 0; ; at++) {
      let reached = false;
      for (const when of ['before', 'after'] as const) {
        const ref = agent();
        const label = `crash at ${at} ${when}`;
        reached = await crashesAt(at, when, (p) => p.provision(ref));
        if (!reached) break;
        await provider.provision(ref);
        expect(await footprint(ref), label).toEqual({ roles: [identityNames(ref).base], users: 0 });
        expect(await provider.plan(ref), label).toEqual([]);
        await lease(ref);
        expect((await footprint(ref)).users, label).toBe(1);
        await provider.revoke(ref);
        expect(await footprint(ref), label).toEqual({ roles: [], users: 0 });
      }
      if (!reached) break;
      steps++;
    }
    // reads of record, policy, role, database role; writes of record, policy, role, database role;
    // the lease count for status
    expect(steps).toBe(9);
  });
});

describe('a crash during quarantine and revocation', () => {
  it('at any call: the next quarantine leaves no user and no login; the next revoke no role', async () => {
    let steps = 0;
    for (let at = 0; ; at++) {
      let reached = false;
      for (const when of ['before', 'after'] as const) {
        const ref = agent();
        const label = `crash at ${at} ${when}`;
        await provider.provision(ref);
        await lease(ref);
        await lease(ref);
        reached = await crashesAt(at, when, (p) => p.quarantine(ref));
        await provider.quarantine(ref);
        expect(await footprint(ref), label).toEqual({ roles: [identityNames(ref).base], users: 0 });
        await provider.restore(ref);
        await lease(ref);
        const revoking = await crashesAt(at, when, (p) => p.revoke(ref));
        await provider.revoke(ref);
        expect(await footprint(ref), label).toEqual({ roles: [], users: 0 });
        reached ||= revoking;
        if (!reached) break;
      }
      if (!reached) break;
      steps++;
    }
    expect(steps).toBeGreaterThanOrEqual(10);
  });
});
