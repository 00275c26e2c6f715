// The limits of an identity's database logins against the real PostgreSQL and OpenBao, with the
// provider authenticated as the operator (only operatorPolicy()): the cap on concurrent logins is
// enforced by PostgreSQL in the role's creation transaction, so OpenBao refuses the login past it;
// the target Secret is filled with the policy's databaseTargets grant, and without it the operator
// cannot make a login at all; a crash at any call while filling it leaves one login in the Secret,
// at most one login nobody holds (until its lease ends), and no user after quarantine.

import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type KubernetesPort,
  kubernetesPort,
  syncLoginSecret,
} from '../../../src/providers/kubernetes/index.ts';
import type { IdentityRef } from '../../../src/providers/types.ts';
import { vaultPortFromSpec, vaultProviderOptions } from '../../../src/providers/vault/factory.ts';
import { identityNames } from '../../../src/providers/vault/names.ts';
import { VaultProvider } from '../../../src/providers/vault/provider.ts';
import { crashingPort, SimulatedCrash } from '../../../src/providers/vault/testing/fixtures.ts';
import { systemClock } from '../../../src/runtime/clock.ts';
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
const namespace = uniqueName('db-caps');
const schema = schemaOf(namespace);
const port = kubernetesPort(kubeConfig());
/** Login targets over a Kubernetes port (a crashing one in the crash test). */
const targetsOn =
  (on: KubernetesPort) => (ref: IdentityRef, name: string, issue: Parameters<typeof syncLoginSecret>[3]) =>
    syncLoginSecret(on, ref, name, issue, () => new Date());
const targets = targetsOn(port);

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
  await createNamespace(namespace, ['capped', 'filler']);
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

describe('a crash while filling the target Secret', () => {
  it('at any call, Vault or Kubernetes side: one login in the Secret, at most one orphan, none after quarantine', async () => {
    const options = vaultProviderOptions(operator.spec, { tokenScanCacheMs: 0 });
    const vaultPort = vaultPortFromSpec(operator.spec);
    const steps = { vault: 0, kubernetes: 0 };
    for (const side of ['vault', 'kubernetes'] as const) {
      for (let at = 0; ; at++) {
        let reached = false;
        for (const when of ['before', 'after'] as const) {
          const secretName = `filler-${randomUUID().slice(0, 8)}`;
          const ref = databaseIdentity(namespace, 'filler', {
            grants: [{ schema, allTables: true, privileges: ['SELECT'] }],
            target: { secretName },
          });
          const uid = ref.identity.metadata.uid!;
          const label = `${side} crash at ${at} ${when}`;
          const healthy = new VaultProvider(options, vaultPort, systemClock, { loginTargets: targets });
          await healthy.provision(ref);
          const crashingVault = crashingPort(vaultPort, at, when);
          const crashingKube = crashingPort(port, at, when);
          const crashing =
            side === 'vault'
              ? new VaultProvider(options, crashingVault.port, systemClock, { loginTargets: targets })
              : new VaultProvider(options, vaultPort, systemClock, {
                  loginTargets: targetsOn(crashingKube.port),
                });
          try {
            await crashing.renewLogins(ref);
          } catch (error) {
            if (!(error instanceof SimulatedCrash)) throw error;
          }
          reached = (side === 'vault' ? crashingVault : crashingKube).crashed();
          if (reached) {
            await healthy.renewLogins(ref);
            const users = await usersOf(admin, uid);
            expect(users, label).toBeGreaterThanOrEqual(1);
            expect(
              users,
              `${label}: at most the one login that was read and never stored`,
            ).toBeLessThanOrEqual(2);
            const secret = await port.get('Secret', namespace, secretName);
            const login = {
              username: Buffer.from(secret?.data?.username ?? '', 'base64').toString(),
              password: Buffer.from(secret?.data?.password ?? '', 'base64').toString(),
            };
            const client = await connectAs(login);
            expect(await queryOutcome(client, 'SELECT 1'), label).toBe('ok');
            await client.end();
            await healthy.renewLogins(ref); // nothing due: no further login
            expect(await usersOf(admin, uid), label).toBe(users);
          }
          await healthy.quarantine(ref);
          expect(await usersOf(admin, uid), label).toBe(0);
          await healthy.revoke(ref);
          const left = await port.get('Secret', namespace, secretName);
          if (left?.metadata?.uid) await port.delete('Secret', namespace, secretName, left.metadata.uid);
          if (!reached) break;
        }
        if (!reached) break;
        steps[side]++;
      }
    }
    // vault: read the role, read a login; kubernetes: read the Secret, create it
    expect(steps).toEqual({ vault: 2, kubernetes: 2 });
  }, 120_000);
});
