import { describe, expect, it } from 'vitest';
import { type AuditEntry, MemoryAuditSink, verifyChain } from './audit.ts';

const entry = (
  action: AuditEntry['action'],
  resource = 'kubernetes:ServiceAccount/agents/bot',
): AuditEntry => ({
  action,
  identity: { uid: 'u1', namespace: 'agents', name: 'bot' },
  actor: 'nhi-operator',
  resource,
  origin: 'reconcile',
  outcome: 'success',
});

async function sampleChain() {
  const sink = new MemoryAuditSink(() => new Date('2026-01-01T00:00:00Z'));
  for (const action of ['provisioned', 'rotated', 'quarantined', 'revoked'] as const)
    await sink.record(entry(action));
  return sink.records.map((r) => ({ ...r }));
}

describe('audit chain', () => {
  it('verifies an untouched chain', async () => {
    expect(verifyChain(await sampleChain())).toBeUndefined();
  });

  it('pinpoints an edited record', async () => {
    const records = await sampleChain();
    records[2] = { ...records[2]!, outcome: 'failure' };
    expect(verifyChain(records)).toMatchObject({ index: 2, seq: 3 });
  });

  it('pinpoints a removed record', async () => {
    const records = await sampleChain();
    records.splice(1, 1);
    expect(verifyChain(records)).toMatchObject({ index: 1, problem: 'broken link to the previous record' });
  });
});
