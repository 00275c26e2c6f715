import { describe, expect, it } from 'vitest';
import { type AuditEntry, MemoryAuditSink } from './audit.ts';
import { interruptedIntents } from './intents.ts';

const who = { uid: 'u1', namespace: 'agents', name: 'bot' };

async function trail(...entries: Array<[AuditEntry['action'], AuditEntry['outcome'], string]>) {
  const sink = new MemoryAuditSink();
  for (const [action, outcome, resource] of entries)
    await sink.record({ action, identity: who, actor: 'op', resource, origin: 'reconcile', outcome });
  return sink.records;
}

describe('intents without an outcome', () => {
  it('an intent followed by its outcome on the same resource is not interrupted', async () => {
    const records = await trail(
      ['quarantined', 'intent', 'aws/prod:identity/agents/bot'],
      ['quarantined', 'success', 'aws/prod:identity/agents/bot'],
      ['quarantined', 'intent', 'kubernetes:identity/agents/bot'],
      ['quarantined', 'failure', 'kubernetes:identity/agents/bot'],
    );
    expect(interruptedIntents(records)).toEqual([]);
  });

  it('a provision intent is answered by the first record of what it created on that backend', async () => {
    const records = await trail(
      ['provisioned', 'intent', 'aws/prod:identity/agents/bot'],
      ['provisioned', 'success', 'aws/prod:role/nhi-agents-bot'],
      ['provisioned', 'success', 'aws/prod:identity/agents/bot'],
    );
    expect(interruptedIntents(records)).toEqual([]);
  });

  it('an intent repeated before any outcome names the first attempt as cut short, and its retry as finished', async () => {
    const records = await trail(
      ['revoked', 'intent', 'vault/main:identity/agents/bot'],
      ['revoked', 'intent', 'vault/main:identity/agents/bot'],
      ['revoked', 'success', 'vault/main:identity/agents/bot'],
    );
    expect(interruptedIntents(records)).toEqual([1]);
  });

  it('an intent at the end of the trail, or answered only by another action or identity, is interrupted', async () => {
    const records = await trail(
      ['rotated', 'intent', 'vault:secret/api-key'],
      ['revoked', 'success', 'vault:secret/api-key'],
      ['restored', 'intent', 'kubernetes:identity/agents/bot'],
    );
    expect(interruptedIntents(records)).toEqual([1, 3]);
  });

  it('an outcome without an intent before it (a trail that starts later) is ignored', async () => {
    const records = await trail(
      ['rotated', 'success', 'vault:secret/api-key'],
      ['rotated', 'intent', 'vault:secret/api-key'],
      ['rotated', 'success', 'vault:secret/api-key'],
    );
    expect(interruptedIntents(records)).toEqual([]);
  });
});
