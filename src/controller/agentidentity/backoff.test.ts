// The status-recorded backoff cannot be turned against the safety actions: whoever can write
// agentidentities/status can forge failedAttempts, lastFailureTime and lastFailedAction (and
// orphanedSince, lastUsed), so a lock, expiry, inactivity or orphan quarantine goes ahead promptly
// whatever they say, and any wait is bounded from now.

import { describe, expect, it } from 'vitest';
import type { AgentIdentityStatus } from '../../api/v1alpha1/types.ts';
import { backoffMs, failureBackoffUntil } from './backoff.ts';
import type { Decision } from './decision.ts';
import { ScriptedVaultHarness } from './testing/harness.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const YEAR = 365 * 24 * 60 * MINUTE;

/** Status fields written by someone other than the operator. */
function forge(h: ScriptedVaultHarness, fields: Partial<AgentIdentityStatus>) {
  h.identity.status = { ...h.identity.status, ...fields };
}

const forgedBackoff = (h: ScriptedVaultHarness, action: string) =>
  forge(h, {
    failedAttempts: 1_000_000,
    lastFailureTime: new Date(h.now.getTime() + YEAR).toISOString(),
    lastFailedAction: action,
  });

async function provisioned(): Promise<ScriptedVaultHarness> {
  const h = new ScriptedVaultHarness(true);
  await h.settle();
  expect(h.condition('Ready')?.status).toBe('True');
  expect(h.roleBinding()).toBeDefined();
  return h;
}

describe('forged backoff fields never hold back a safety action', () => {
  it.each(['quarantine', 'revoke', 'provision'])(
    'a lock quarantines at once with failedAttempts 10^6, lastFailureTime a year ahead, lastFailedAction %s',
    async (action) => {
      const h = await provisioned();
      forgedBackoff(h, action);
      h.lock();
      h.later(SECOND);
      h.vault.calls.length = 0;
      await h.reconcile();
      expect(h.vault.calls).toContain('quarantine');
      expect(h.condition('Quarantined')).toMatchObject({ status: 'True', reason: 'Locked' });
      expect(h.roleBinding()).toBeUndefined();
    },
  );

  it('expiry quarantines at once under forged backoff fields', async () => {
    const h = await provisioned();
    h.later(2160 * 60 * MINUTE); // the 90-day ttl runs out
    forgedBackoff(h, 'quarantine');
    await h.reconcile();
    expect(h.condition('Quarantined')).toMatchObject({ status: 'True', reason: 'Expired' });
    expect(h.roleBinding()).toBeUndefined();
  });

  it('an orphan is quarantined when its grace ends, under forged backoff fields', async () => {
    const h = await provisioned();
    h.workloadGone = true;
    await h.reconcile(); // the grace starts
    h.later(5 * MINUTE + SECOND);
    forgedBackoff(h, 'quarantine');
    await h.reconcile();
    expect(h.condition('Quarantined')).toMatchObject({ status: 'True', reason: 'Orphaned' });
  });

  it('a forged orphanedSince in the future does not postpone the orphan quarantine', async () => {
    const h = await provisioned();
    h.workloadGone = true;
    forge(h, { orphanedSince: new Date(h.now.getTime() + YEAR).toISOString() });
    await h.reconcile();
    expect(Date.parse(h.identity.status?.orphanedSince ?? '')).toBeLessThanOrEqual(h.now.getTime());
    h.later(5 * MINUTE + SECOND);
    await h.reconcile();
    expect(h.condition('Quarantined')).toMatchObject({ status: 'True', reason: 'Orphaned' });
  });

  it('a forged lastUsed in the future does not postpone the inactivity quarantine', async () => {
    const h = await provisioned();
    h.later(720 * 60 * MINUTE + SECOND); // the 30-day inactivity timeout runs out
    forge(h, { lastUsed: new Date(h.now.getTime() + YEAR).toISOString() });
    await h.reconcile();
    expect(h.condition('Quarantined')).toMatchObject({ status: 'True', reason: 'Inactive' });
  });

  it('a real quarantine failure still backs off, by the base backoff only', async () => {
    const h = await provisioned();
    h.vault.failQuarantine = true;
    h.lock();
    for (let i = 0; i < 8; i++) {
      h.later(10 * MINUTE);
      await h.reconcile();
    }
    expect(h.identity.status?.failedAttempts).toBe(8);
    // A reconcile right after a failure does not hammer the backend...
    h.vault.calls.length = 0;
    h.later(SECOND);
    const outcome = await h.reconcile();
    expect(h.vault.calls).not.toContain('quarantine');
    expect(outcome?.requeueAfterMs).toBeLessThanOrEqual(SECOND);
    // ...but the next one goes ahead, however many attempts failed before.
    h.later(SECOND);
    await h.reconcile();
    expect(h.vault.calls).toContain('quarantine');
  });

  it('forged provisioning backoff waits no longer than the maximum backoff from now', async () => {
    const h = new ScriptedVaultHarness(true);
    forge(h, {
      failedAttempts: 1_000_000,
      lastFailureTime: h.now.toISOString(),
      lastFailedAction: 'provision',
    });
    const outcome = await h.reconcile();
    expect(outcome?.requeueAfterMs).toBeLessThanOrEqual(5 * MINUTE);
    h.later(5 * MINUTE);
    await h.settle();
    expect(h.condition('Provisioned')?.status).toBe('True');
  });

  it('a failure recorded in the future holds nothing back: provisioning goes ahead now', async () => {
    const h = new ScriptedVaultHarness(true);
    forgedBackoff(h, 'provision');
    await h.settle();
    expect(h.condition('Provisioned')?.status).toBe('True');
  });
});

describe('failureBackoffUntil', () => {
  const now = new Date('2026-06-01T00:00:00Z');
  const at = (offsetMs: number) => new Date(now.getTime() + offsetMs).toISOString();
  const provision: Decision = { action: 'provision', restore: false };
  const quarantine: Decision = { action: 'quarantine', reason: 'Locked', message: 'locked' };
  const revoke: Decision = { action: 'revoke', reason: 'Expired', message: 'expired' };
  const until = (decision: Decision, status: AgentIdentityStatus) =>
    failureBackoffUntil(
      {
        apiVersion: 'nhi.dev/v1alpha1',
        kind: 'AgentIdentity',
        metadata: { name: 'bot' },
        spec: { owner: { team: 't' }, purpose: 'p', environment: 'production', serviceAccountName: 'bot' },
        status,
      },
      decision,
      now,
    )?.getTime();
  const failed = (action: string, attempts: number, lastFailureTime: string) => ({
    failedAttempts: attempts,
    lastFailureTime,
    lastFailedAction: action,
  });

  it.each([
    [
      'provision: 3 attempts, 1 s ago',
      provision,
      failed('provision', 3, at(-SECOND)),
      -SECOND + backoffMs(3),
    ],
    ['provision: 10^6 attempts, just now', provision, failed('provision', 1e6, at(0)), 5 * MINUTE],
    ['quarantine: 10^6 attempts, 1 s ago', quarantine, failed('quarantine', 1e6, at(-SECOND)), SECOND],
    ['revoke: 10^6 attempts, 1 s ago', revoke, failed('revoke', 1e6, at(-SECOND)), SECOND],
  ] as const)('%s: waits until now + %s ms', (_what, decision, status, offset) => {
    expect(until(decision, status)).toBe(now.getTime() + offset);
  });

  it.each([
    ['provision, failure a year ahead', provision, failed('provision', 1e6, at(YEAR))],
    ['provision, a time that does not parse', provision, failed('provision', 2, 'soon')],
    ['quarantine, failure a year ahead', quarantine, failed('quarantine', 1e6, at(YEAR))],
    ['revoke, failure a year ahead', revoke, failed('revoke', 5, at(YEAR))],
    ['quarantine, a time that does not parse', quarantine, failed('quarantine', 5, 'soon')],
    ['quarantine after a failed provision', quarantine, failed('provision', 1e6, at(-SECOND))],
    ['offboarding', { action: 'offboard' } as const, failed('offboard', 1e6, at(YEAR))],
  ] as const)('%s: no wait', (_what, decision, status) => {
    expect(until(decision, status)).toBeUndefined();
  });

  it.each([0, 1, 5, 30, 1e6, Number.NaN, Number.POSITIVE_INFINITY])(
    'never waits longer than 5 minutes from now (%s attempts)',
    (attempts) => {
      const waited = until(provision, failed('provision', attempts, at(0)));
      expect((waited ?? now.getTime()) - now.getTime()).toBeLessThanOrEqual(5 * MINUTE);
    },
  );
});
