// The database target Secret (spec.scopes[].database.target) with the real operator process, OpenBao
// and PostgreSQL: the operator keeps a login in a Secret of the identity's namespace; a workload-side
// client connects with it; at two thirds of the lease a new login is staged while the old one keeps
// working until its lease ends, and then fails; PostgreSQL enforces the login's CONNECTION LIMIT; a
// lock empties the Secret and cuts the login; deleting the identity deletes the Secret and every
// user. No password ever reaches status, Events, the operator's logs or its audit trail.

import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectMarks } from '../../../src/api/v1alpha1/annotations.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { agentIdentity, withCredentialTTL, withScopes } from '../../../src/testing/agent-identity.ts';
import {
  AGENT_IDENTITIES,
  createIdentity,
  getIdentity,
  installVaultProvider,
  newNamespace,
  removeProvider,
  untilCondition,
} from '../../support/cluster.ts';
import { kubeConfig } from '../../support/env.ts';
import { deployment, onTestCluster } from '../../support/fixtures.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually } from '../../support/wait.ts';
import { connectAs, devPostgres, queryOutcome, schemaOf, seedSchema, superuser, usersOf } from './support.ts';

const PROVIDER = 'vault-db-target';
const SECRET = 'rag-db';
/** Short enough to watch a renewal (at 20 s) and the old login's end (at 30 s) within the test. */
const LEASE = '30s';
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const { database } = devPostgres();
let admin: pg.Client;
let operator: OperatorProcess | undefined;
let namespace: string;
let uid = '';
const open: pg.Client[] = [];
/** Every password the Secret held: none may appear anywhere else. */
const passwords = new Set<string>();

interface Login {
  username: string;
  password: string;
}

const decode = (value: string | undefined) => (value ? Buffer.from(value, 'base64').toString('utf8') : '');

async function readTarget(): Promise<k8s.V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ namespace, name: SECRET });
  } catch (error) {
    if (error instanceof k8s.ApiException && error.code === 404) return undefined;
    throw error;
  }
}

function loginsOf(secret: k8s.V1Secret | undefined): { current?: Login; previous?: Login; version: number } {
  const data = secret?.data ?? {};
  const pick = (user: string, password: string): Login | undefined =>
    data[user] && data[password]
      ? { username: decode(data[user]), password: decode(data[password]) }
      : undefined;
  const current = pick('username', 'password');
  const previous = pick('username.previous', 'password.previous');
  for (const login of [current, previous]) if (login) passwords.add(login.password);
  return {
    ...(current ? { current } : {}),
    ...(previous ? { previous } : {}),
    version: Number(secret?.metadata?.annotations?.[ObjectMarks.currentVersion] ?? 0),
  };
}

/** Connects as a workload would with what it mounted; the PostgreSQL error code when refused. */
async function connectOutcome(login: Login): Promise<string> {
  try {
    const client = await connectAs(login);
    open.push(client);
    return await queryOutcome(client, `SELECT count(*) FROM "${schemaOf(namespace)}".documents`);
  } catch (error) {
    return String((error as { code?: string }).code ?? (error as Error).message);
  }
}

beforeAll(async () => {
  admin = await superuser();
  await installOperatorManifests(kc);
  await installVaultProvider({ name: PROVIDER, spec: { database: { ...database, maxTTL: '30m' } } });
  namespace = await newNamespace('db-target');
  await seedSchema(admin, schemaOf(namespace));
  await apps.createNamespacedDeployment({ namespace, body: deployment('rag', 'rag') });
  operator = startOperatorProcess();
  await createIdentity(
    agentIdentity(
      'rag',
      onTestCluster(namespace),
      withCredentialTTL(LEASE),
      withScopes({
        provider: 'vault',
        providerRef: PROVIDER,
        database: {
          grants: [{ schema: schemaOf(namespace), tables: ['documents'], privileges: ['SELECT'] }],
          readOnly: true,
          connectionLimit: 2,
          target: { secretName: SECRET },
        },
      }),
    ),
  );
  const ready = await untilCondition(namespace, 'rag', 'Ready', 'True', 60_000);
  uid = ready.metadata.uid ?? '';
}, 120_000);

afterAll(async () => {
  for (const client of open) await client.end().catch(() => {});
  await custom.deleteNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace, name: 'rag' }).catch(() => {});
  await eventually(
    'the identity to be gone',
    async () => (await getIdentity(namespace, 'rag')) === undefined,
    {
      timeoutMs: 60_000,
    },
  ).catch(() => {});
  await operator?.stop('SIGKILL');
  await removeProvider(PROVIDER);
  await admin?.query(`DROP SCHEMA IF EXISTS "${schemaOf(namespace)}" CASCADE`);
  await admin?.end();
});

describe('a database login kept in a target Secret', () => {
  let first: Login;

  it('holds a login the workload connects with, marked as the operator’s, and status counts its lease', async () => {
    const secret = await eventually('the target Secret to hold a login', async () => {
      const found = await readTarget();
      return loginsOf(found).current ? found : undefined;
    });
    expect(secret.metadata?.labels?.['nhi.dev/identity-uid']).toBe(uid);
    expect(secret.type).toBe('Opaque');
    first = loginsOf(secret).current!;
    expect(await connectOutcome(first)).toBe('ok');
    expect(await usersOf(admin, uid)).toBe(1);
    const counted = await eventually('status to count the lease', async () => {
      const identity = await getIdentity(namespace, 'rag');
      return (identity?.status?.vault?.databaseLeases ?? 0) >= 1 ? identity : undefined;
    });
    expect(counted.status?.vault?.databaseLeases).toBe(1);
  });

  it('PostgreSQL refuses a session beyond the login’s connection limit', async () => {
    for (const client of open.splice(0)) await client.end().catch(() => {});
    const login = loginsOf(await readTarget()).current!;
    open.push(await connectAs(login), await connectAs(login)); // connectionLimit 2
    expect(await connectOutcome(login)).toBe('53300'); // too_many_connections
    for (const client of open.splice(0)) await client.end().catch(() => {});
    expect(await connectOutcome(login)).toBe('ok');
    for (const client of open.splice(0)) await client.end().catch(() => {});
  });

  it('at two thirds of the lease stages a new login; the old one works until its lease ends, then fails', async () => {
    const renewed = await eventually(
      'the renewal at two thirds of the lease',
      async () => {
        const logins = loginsOf(await readTarget());
        return logins.version >= 2 ? { logins, at: Date.now() } : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 100 },
    );
    expect(renewed.logins.previous).toEqual(first);
    expect(renewed.logins.current?.username).not.toBe(first.username);
    expect(await connectOutcome(renewed.logins.current!)).toBe('ok');
    // Renewed at 20 s of 30: the old login still has about ten seconds.
    expect(await connectOutcome(first)).toBe('ok');
    for (const client of open.splice(0)) await client.end().catch(() => {});

    await eventually(
      'the old login to stop working after its lease',
      async () => (await connectOutcome(first)) !== 'ok',
      {
        timeoutMs: 30_000,
        intervalMs: 500,
      },
    );
    expect(await connectOutcome(renewed.logins.current!)).toBe('ok');
    const retired = await eventually('the previous login to leave the Secret', async () => {
      const logins = loginsOf(await readTarget());
      return logins.previous ? undefined : logins;
    });
    expect(retired.current).toEqual(renewed.logins.current);
  }, 90_000);

  it('a lock empties the Secret, terminates the open session and the login fails', async () => {
    const login = loginsOf(await readTarget()).current!;
    const session = await connectAs(login);
    expect(await queryOutcome(session, 'SELECT 1')).toBe('ok');
    await custom.patchNamespacedCustomObject(
      { ...AGENT_IDENTITIES, namespace, name: 'rag', body: { spec: { locked: true } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await untilCondition(namespace, 'rag', 'Quarantined', 'True', 60_000);
    const emptied = await eventually('the Secret to be emptied', async () => {
      const secret = await readTarget();
      return secret && Object.keys(secret.data ?? {}).length === 0 ? secret : undefined;
    });
    expect(emptied.metadata?.annotations?.[ObjectMarks.quarantined]).toBe('true');
    expect(await queryOutcome(session, 'SELECT 1')).not.toBe('ok');
    await session.end().catch(() => {});
    expect(await connectOutcome(login)).not.toBe('ok');
    expect(await usersOf(admin, uid)).toBe(0);
  });

  it('no password reaches status, Events, the operator logs or the audit trail', async () => {
    expect(passwords.size).toBeGreaterThanOrEqual(2);
    const identity = await getIdentity(namespace, 'rag');
    const events = await core.listNamespacedEvent({ namespace });
    const places = {
      status: JSON.stringify(identity?.status ?? {}),
      events: JSON.stringify(events.items),
      logs: operator?.logs() ?? '',
      audit: readFileSync(operator!.auditLog, 'utf8'),
    };
    const renewals = places.audit
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { action?: string; resource?: string; outcome?: string })
      .filter((r) => r.action === 'rotated' && r.resource?.endsWith(`:Secret/${namespace}/${SECRET}`));
    // each login: its intent before it was made, its success once it was in the Secret
    expect(renewals.filter((r) => r.outcome === 'intent').length).toBeGreaterThanOrEqual(2);
    expect(renewals.filter((r) => r.outcome === 'success').length).toBeGreaterThanOrEqual(2);
    for (const [place, text] of Object.entries(places)) {
      for (const password of passwords) expect(text.includes(password), `a password in ${place}`).toBe(false);
    }
  });

  it('deleting the identity deletes the Secret and leaves no PostgreSQL user', async () => {
    await custom.deleteNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace, name: 'rag' });
    await eventually(
      'the identity to be gone',
      async () => (await getIdentity(namespace, 'rag')) === undefined,
      {
        timeoutMs: 60_000,
      },
    );
    expect(await readTarget()).toBeUndefined();
    expect(await usersOf(admin, uid)).toBe(0);
  });
});
