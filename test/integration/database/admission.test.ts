// Database scopes at admission, against the real apiserver with the generated CRDs, the
// ValidatingAdmissionPolicy and the default IdentityPolicy: the tenant's own schema is admitted;
// invalid identifiers, SQL in names, catalogs and another tenant's schema are refused with the field
// named, so they never reach OpenBao or PostgreSQL. (The shared table of bad identities,
// test/fixtures/bad-agentidentities.ts, holds more of them for the api and lint tests.)

import * as k8s from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AgentIdentity, DatabaseAccess } from '../../../src/api/v1alpha1/types.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import {
  agentIdentity,
  inEnvironment,
  inNamespace,
  withScopes,
} from '../../../src/testing/agent-identity.ts';
import { kubeConfig } from '../../support/env.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { eventually, uniqueName } from '../../support/wait.ts';
import { schemaOf } from './support.ts';

const kc = kubeConfig();
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const namespace = uniqueName('db-admission');
const own = schemaOf(namespace);

function identity(database: DatabaseAccess): AgentIdentity {
  return agentIdentity(
    uniqueName('rag'),
    inNamespace(namespace),
    inEnvironment('development'),
    withScopes({ provider: 'vault', database }),
  );
}

/** The apiserver's rejection of a dry-run create, or undefined when admitted. */
async function admit(body: AgentIdentity): Promise<string | undefined> {
  try {
    await custom.createNamespacedCustomObject({
      group: 'nhi.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'agentidentities',
      body,
      dryRun: 'All',
      fieldValidation: 'Strict',
    });
    return undefined;
  } catch (error) {
    if (!(error instanceof k8s.ApiException)) throw error;
    return (JSON.parse(String(error.body)) as { message?: string }).message ?? String(error.body);
  }
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: namespaceBody(namespace, 'development') });
  await eventually(
    'the admission policy to refuse another tenant’s schema',
    async () =>
      (
        await admit(identity({ grants: [{ schema: 'billing', allTables: true, privileges: ['SELECT'] }] }))
      )?.includes('ValidatingAdmissionPolicy'),
    { timeoutMs: 60_000, intervalMs: 250 },
  );
});

describe('database scopes at admission', () => {
  it("admits grants on the namespace's own schema (its name, - written _)", async () => {
    expect(own).not.toContain('-');
    expect(
      await admit(
        identity({
          grants: [
            { schema: own, tables: ['documents', 'chunks'], privileges: ['SELECT'] },
            { schema: own, allTables: true, privileges: ['SELECT'] },
          ],
          readOnly: true,
        }),
      ),
    ).toBeUndefined();
  });

  it.each([
    [
      'SQL in a schema name',
      { schema: `${own}"; DROP ROLE postgres; --` },
      'spec.scopes[0].database.grants[0].schema',
    ],
    [
      'a quoted table name',
      { tables: ['documents" TO PUBLIC; --'] },
      'spec.scopes[0].database.grants[0].tables[0]',
    ],
    ['an uppercase identifier', { tables: ['Documents'] }, 'spec.scopes[0].database.grants[0].tables[0]'],
    [
      'a privilege outside the four',
      { privileges: ['ALL'] },
      'spec.scopes[0].database.grants[0].privileges[0]',
    ],
    ['a catalog schema', { schema: 'pg_catalog' }, 'spec.scopes[0].database.grants[0].schema'],
    ["another tenant's schema", { schema: 'billing' }, 'spec.scopes[].database.grants[].schema'],
    [
      'a schema only prefixed by the namespace',
      { schema: `${own}_x` },
      'spec.scopes[].database.grants[].schema',
    ],
  ])('refuses %s, naming the field', async (_case, change, field) => {
    const grant = { schema: own, tables: ['documents'], privileges: ['SELECT'], ...change };
    const message = await admit(identity({ grants: [grant] } as DatabaseAccess));
    expect(message, 'admitted').toBeDefined();
    expect(message).toContain(field);
  });
});

describe('database limits and the target Secret at admission', () => {
  const grants: DatabaseAccess['grants'] = [{ schema: own, tables: ['documents'], privileges: ['SELECT'] }];

  it('admits a connection limit, a lease cap and a target Secret', async () => {
    expect(
      await admit(identity({ grants, connectionLimit: 5, maxLeases: 3, target: { secretName: 'rag-db' } })),
    ).toBeUndefined();
  });

  it.each([
    ['no connections', { connectionLimit: 0 }, 'spec.scopes[0].database.connectionLimit'],
    ['more connections than the bound', { connectionLimit: 1000 }, 'spec.scopes[0].database.connectionLimit'],
    ['no logins', { maxLeases: 0 }, 'spec.scopes[0].database.maxLeases'],
    [
      'a target that is no Secret name',
      { target: { secretName: 'Bad_Name' } },
      'spec.scopes[0].database.target.secretName',
    ],
  ])('refuses %s, naming the field', async (_case, change, field) => {
    const message = await admit(identity({ grants, ...change } as DatabaseAccess));
    expect(message, 'admitted').toBeDefined();
    expect(message).toContain(field);
  });

  it('refuses two target Secrets, and a target another secret already writes', async () => {
    const twice = identity({ grants, target: { secretName: 'a-db' } });
    twice.spec.scopes?.push({ provider: 'vault', database: { grants, target: { secretName: 'b-db' } } });
    expect(await admit(twice)).toContain('spec.scopes: Invalid value');
    const shared = identity({ grants, target: { secretName: 'rag-db' } });
    shared.spec.secrets = [
      { name: 'key', backend: 'kubernetes', generator: { type: 'random' }, target: { secretName: 'rag-db' } },
    ];
    expect(await admit(shared)).toContain('database.target.secretName: already the target');
  });
});
