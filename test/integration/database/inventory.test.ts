// The inventory's read of the database secrets engine against the real OpenBao: the operator's role
// of an identity is owned (its mark), a hand-made role is shadow, a role whose identity is gone is a
// ghost; write privileges are named, no statement is shown.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../../src/governance/inventory/classify.ts';
import { vaultInventoryPort } from '../../../src/governance/inventory/vault-source.ts';
import { identityNames } from '../../../src/providers/vault/names.ts';
import { VaultProvider } from '../../../src/providers/vault/provider.ts';
import { testEnv } from '../../support/env.ts';
import { uniqueName } from '../../support/wait.ts';
import {
  bao,
  createNamespace,
  deleteNamespace,
  type OperatorLogin,
  operatorLogin,
} from '../vault/support.ts';
import { databaseIdentity, devPostgres, schemaOf } from './support.ts';

const env = testEnv();
const { addr, token: root, kubernetesAuthMount: mount } = env.bao;
const { database } = devPostgres();
const namespace = uniqueName('db-inventory');
const schema = schemaOf(namespace);
const reader = databaseIdentity(namespace, 'reader', {
  grants: [{ schema, allTables: true, privileges: ['SELECT'] }],
});
const writer = databaseIdentity(namespace, 'writer', {
  grants: [{ schema, tables: ['documents'], privileges: ['SELECT', 'UPDATE'] }],
});
const handMade = `nhi-handmade-${randomUUID().slice(0, 8)}`;
let operator: OperatorLogin;
let provider: VaultProvider;

beforeAll(async () => {
  await createNamespace(namespace, ['reader', 'writer']);
  operator = await operatorLogin(addr, root, mount, {
    mount: database.mount,
    connection: database.connection,
  });
  provider = VaultProvider.fromSpec(operator.spec, { tokenScanCacheMs: 0 });
  await provider.provision(reader);
  await provider.provision(writer);
  const made = await bao(addr, root, 'POST', `${database.mount}/roles/${handMade}`, {
    db_name: database.connection,
    creation_statements: [
      `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}'; GRANT DELETE ON ALL TABLES IN SCHEMA public TO "{{name}}";`,
    ],
  });
  expect(made.status).toBe(204);
});

afterAll(async () => {
  await provider?.revoke(reader).catch(() => {});
  await provider?.revoke(writer).catch(() => {});
  await bao(addr, root, 'DELETE', `${database.mount}/roles/${handMade}`);
  await operator?.cleanup();
  await deleteNamespace(namespace);
});

describe('inventory of the database engine', () => {
  it('owned, shadow and ghost roles, with their write privileges', async () => {
    const port = vaultInventoryPort({ address: addr, token: root });
    const names = (await port.listDatabaseRoles!(database.mount)).filter((n) =>
      [identityNames(reader).base, identityNames(writer).base, handMade].includes(n),
    );
    const roles = await Promise.all(names.map((n) => port.readDatabaseRole!(database.mount, n)));
    const items = classify({
      now: new Date(),
      // the writer's AgentIdentity is gone: its role is a ghost
      identities: [reader.identity],
      serviceAccounts: [],
      tokenSecrets: [],
      pods: [],
      vault: { roles: [], databaseRoles: roles.filter((r) => r !== undefined) },
    });
    const byName = Object.fromEntries(items.map((i) => [i.name, i]));
    expect(byName[identityNames(reader).base]).toMatchObject({
      type: 'DatabaseRole',
      managed: true,
      findings: [],
    });
    expect(byName[identityNames(reader).base]?.state).toBe(
      `issuing logins on ${database.connection}, read only`,
    );
    expect(byName[identityNames(writer).base]?.findings.map((f) => f.kind)).toEqual(['orphaned-marks']);
    expect(byName[identityNames(writer).base]?.state).toContain('writes UPDATE');
    expect(byName[handMade]?.findings.map((f) => f.kind)).toEqual(['shadow']);
    expect(byName[handMade]?.state).toContain('writes DELETE');
    expect(JSON.stringify(items)).not.toContain('CREATE ROLE');
  });
});
