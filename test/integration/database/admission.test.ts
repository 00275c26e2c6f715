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
