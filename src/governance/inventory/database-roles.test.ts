import { describe, expect, it } from 'vitest';
import type { DatabaseAccess } from '../../api/v1alpha1/types.ts';
import { databaseSettings, desiredDatabaseRole } from '../../providers/vault/database.ts';
import { identityNames } from '../../providers/vault/names.ts';
import { identityRef } from '../../providers/vault/testing/fixtures.ts';
import { inNamespace, withUid } from '../../testing/agent-identity.ts';
import { classify } from './classify.ts';
import type { RawInventory } from './types.ts';
import { rawDatabaseRole } from './vault-source.ts';

const settings = databaseSettings({ connection: 'rag-postgres' });
const rag = identityRef('rag', inNamespace('agents'), withUid('uid-rag'));

/** The role as OpenBao answers a read of <mount>/roles/<name>. */
function wire(access: DatabaseAccess, quarantined = false): Record<string, unknown> {
  const role = desiredDatabaseRole({
    names: identityNames(rag),
    settings,
    access,
    ttlSeconds: 900,
    quarantined,
  });
  return { db_name: role.dbName, creation_statements: role.creationStatements, default_ttl: 900 };
}

const read: DatabaseAccess = { grants: [{ schema: 'agents', allTables: true, privileges: ['SELECT'] }] };
const write: DatabaseAccess = {
  grants: [{ schema: 'agents', tables: ['documents'], privileges: ['SELECT', 'INSERT', 'DELETE'] }],
};

describe('database roles in the inventory', () => {
  it('reads the owner mark, the write privileges and the state, and nothing of the SQL', () => {
    expect(rawDatabaseRole('database', 'nhi-agents-rag-1', wire(read))).toEqual({
      mount: 'database',
      name: 'nhi-agents-rag-1',
      connection: 'rag-postgres',
      ownerUid: 'uid-rag',
      writes: [],
      quarantined: false,
    });
    const writer = rawDatabaseRole('database', 'w', wire(write));
    expect(writer.writes).toEqual(['INSERT', 'DELETE']);
    expect(rawDatabaseRole('database', 'q', wire(read, true)).quarantined).toBe(true);
  });

  it('flags a role no identity owns as shadow, and one whose identity is gone as a ghost', () => {
    const raw: RawInventory = {
      now: new Date('2025-06-01T00:00:00Z'),
      identities: [rag.identity],
      serviceAccounts: [],
      tokenSecrets: [],
      pods: [],
      vault: {
        roles: [],
        databaseRoles: [
          rawDatabaseRole('database', 'nhi-agents-rag-1', wire(read)),
          rawDatabaseRole('database', 'legacy-readonly', {
            db_name: 'pg',
            creation_statements: ['CREATE ROLE x'],
          }),
          { ...rawDatabaseRole('database', 'nhi-gone', wire(write)), ownerUid: 'uid-deleted' },
        ],
      },
    };
    const items = classify(raw).filter((i) => i.type === 'DatabaseRole');
    const byName = Object.fromEntries(items.map((i) => [i.name, i]));
    expect(byName['nhi-agents-rag-1']).toMatchObject({ managed: true, findings: [] });
    expect(byName['nhi-agents-rag-1']?.state).toBe('issuing logins on rag-postgres, read only');
    expect(byName['legacy-readonly']?.findings.map((f) => f.kind)).toEqual(['shadow']);
    expect(byName['nhi-gone']?.findings.map((f) => f.kind)).toEqual(['orphaned-marks']);
    expect(byName['nhi-gone']?.state).toContain('writes INSERT, DELETE');
  });
});
