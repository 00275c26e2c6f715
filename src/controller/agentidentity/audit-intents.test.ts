// Nothing unrecorded: each backend call of a quarantine, restore or revocation has an intent record
// before it and its outcome after it, carrying the request IDs the backend's adapter noted; a process
// that dies between the two leaves an intent that `interruptedIntents` names, and the next process
// finishes the attempt with its own intent and outcome.

import { describe, expect, it } from 'vitest';
import { Controls } from '../../api/v1alpha1/annotations.ts';
import type { AuditEntry } from '../../governance/audit/audit.ts';
import { interruptedIntents } from '../../governance/audit/intents.ts';
import { noteRequestId } from '../../providers/request-ids.ts';
import { FakeVaultPort } from '../../providers/vault/testing/fake-port.ts';
import { SimulatedCrash } from '../../providers/vault/testing/fixtures.ts';
import { VaultServersHarness, vaultScope } from './testing/harness.ts';

/** A FakeVaultPort that notes a request ID per call, as the OpenBao port does, and can die. */
function notingPort() {
  const state = { calls: 0, dead: false };
  const port = new Proxy(new FakeVaultPort(), {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || key === 'constructor') return value;
      return async (...args: unknown[]) => {
        if (state.dead) throw new SimulatedCrash(state.calls);
        noteRequestId(`bao-${++state.calls}`);
        return value.apply(target, args);
      };
    },
  });
  return { port, state };
}

const lock = (h: VaultServersHarness) => {
  h.identity.metadata.annotations = { [Controls.lock]: 'oncall at 10:00' };
};

const phaseRecords = (h: VaultServersHarness, action: AuditEntry['action']) =>
  h.audit.records
    .filter((r) => r.action === action)
    .map((r) => ({ resource: r.resource.split(':')[0], outcome: r.outcome, requestId: r.requestId }));

describe('the audit records of a lifecycle phase', () => {
  it('a lock writes an intent before each backend quarantine and its outcome after, with the backend request IDs', async () => {
    const { port } = notingPort();
    const h = new VaultServersHarness({ 'vault-a': port }, { scopes: [vaultScope('vault-a')] });
    await h.settle();
    lock(h);
    await h.settle();
    expect(h.condition('Quarantined')?.status).toBe('True');
    expect(phaseRecords(h, 'quarantined')).toEqual([
      { resource: 'vault/vault-a', outcome: 'intent', requestId: undefined },
      { resource: 'vault/vault-a', outcome: 'success', requestId: expect.stringMatching(/^bao-\d+$/) },
      { resource: 'kubernetes', outcome: 'intent', requestId: undefined },
      { resource: 'kubernetes', outcome: 'success', requestId: undefined },
    ]);
    const success = h.audit.records.find((r) => r.action === 'quarantined' && r.outcome === 'success');
    // Every call the quarantine made is named, the last one as requestId.
    expect(success?.requestIds?.at(-1)).toBe(success?.requestId);
    expect(new Set(success?.requestIds).size).toBe(success?.requestIds?.length);
    // Provisions have their intents answered too (the outcome says what changed, or nothing).
    expect(interruptedIntents(h.audit.records)).toEqual([]);
  });

  it('a process that dies between the intent and the backend call leaves an interrupted intent, which the next one finishes', async () => {
    const { port, state } = notingPort();
    const h = new VaultServersHarness({ 'vault-a': port }, { scopes: [vaultScope('vault-a')] });
    await h.settle();
    // The process dies right after the quarantine's intent reached the trail: no later call or
    // record happens.
    const record = h.audit.record.bind(h.audit);
    let died = false;
    h.audit.record = async (entry) => {
      if (state.dead) throw new SimulatedCrash(state.calls);
      const written = await record(entry);
      if (!died && entry.action === 'quarantined' && entry.outcome === 'intent') state.dead = died = true;
      return written;
    };
    lock(h);
    await h.reconcile().catch(() => {});
    const cut = h.audit.records.at(-1);
    expect(cut).toMatchObject({ action: 'quarantined', outcome: 'intent' });
    expect(interruptedIntents(h.audit.records)).toEqual([cut?.seq]);

    state.dead = false;
    h.restart();
    for (let i = 0; i < 4; i++) {
      h.later(60_000); // past the backoff the failed reconcile recorded
      await h.reconcile().catch(() => {});
    }
    expect(h.condition('Quarantined')?.status).toBe('True');
    expect(interruptedIntents(h.audit.records)).toEqual([cut?.seq]);
    expect(phaseRecords(h, 'quarantined').map((r) => `${r.resource} ${r.outcome}`)).toEqual([
      'vault/vault-a intent',
      'vault/vault-a intent',
      'vault/vault-a success',
      'kubernetes intent',
      'kubernetes success',
    ]);
  });
});
