// Periodic attestation through the reconciler (condition AttestationDue) with the real Kubernetes
// provider over its in-memory port: due, then overdue and quarantined (never revoked for it), restored
// by an attestation that names its user; and the webhook notifications each occurrence sends once.

import { beforeEach, describe, expect, it } from 'vitest';
import { attestValue, Controls } from '../../api/v1alpha1/annotations.ts';
import { attestationRules } from '../../api/v1alpha1/defaults.ts';
import type { EnvironmentRules, IdentityPolicy } from '../../api/v1alpha1/types.ts';
import { NotificationTypes } from './notifications.ts';
import { HARNESS_DRIFT_MS, ScriptedVaultHarness } from './testing/harness.ts';

const MINUTE = 60_000;

function policy(rules: EnvironmentRules, webhook = true): IdentityPolicy {
  return {
    apiVersion: 'nhi.dev/v1alpha1',
    kind: 'IdentityPolicy',
    metadata: { name: 'default' },
    spec: {
      environments: { production: rules },
      ...(webhook && {
        notifications: {
          webhook: {
            url: 'https://receiver.example/nhi',
            secretRef: { name: 'hook', namespace: 'nhi-system', key: 'key' },
          },
        },
      }),
    },
  };
}

/** The harness identity is created at T0 and first reconciled an hour later. */
function harness(rules: EnvironmentRules, webhook = true) {
  const h = new ScriptedVaultHarness(false);
  h.policy = policy(rules, webhook);
  return h;
}

const types = (h: ScriptedVaultHarness) => h.webhook.delivered.map((e) => e.type);

describe('attestation rules', () => {
  it('default to 90 days with 14 days of grace and notify in production, and to none elsewhere', () => {
    expect(attestationRules('production', undefined)).toEqual({
      intervalMs: 90 * 24 * 60 * MINUTE,
      graceMs: 14 * 24 * 60 * MINUTE,
      action: 'notify',
    });
    expect(attestationRules('development', undefined)).toBeUndefined();
    expect(
      attestationRules('staging', { attestationInterval: '1h', attestationAction: 'quarantine' }),
    ).toEqual({
      intervalMs: 60 * MINUTE,
      graceMs: 0,
      action: 'quarantine',
    });
  });
});

describe('periodic attestation', () => {
  let h: ScriptedVaultHarness;
  beforeEach(async () => {
    h = harness({
      attestationInterval: '2h',
      attestationGracePeriod: '30m',
      attestationAction: 'quarantine',
    });
    await h.settle();
  });

  it('is not yet due within the interval after creation', () => {
    expect(h.condition('AttestationDue')).toMatchObject({ status: 'False', reason: 'NotYetDue' });
    expect(h.condition('Ready')?.status).toBe('True');
    expect(h.webhook.delivered).toEqual([]);
  });

  it('is due past the interval: notified once, counted by the risk score, still provisioned', async () => {
    h.later(61 * MINUTE);
    await h.reconcile();
    await h.reconcile();
    expect(h.condition('AttestationDue')).toMatchObject({ status: 'True', reason: 'Due' });
    expect(h.condition('Quarantined')?.status).toBe('False');
    expect(types(h)).toEqual([NotificationTypes.attestationDue]);
    expect(h.identity.status?.risk?.factors.map((f) => f.id)).toContain('likelihood.attestation-due');
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'AttestationDue' }));
  });

  it('past the grace quarantines until attested, never revokes for it, and an attestation restores it', async () => {
    h.later(91 * MINUTE);
    await h.reconcile();
    expect(h.condition('Quarantined')).toMatchObject({ status: 'True', reason: 'AttestationOverdue' });
    expect(h.condition('AttestationDue')?.reason).toBe('Overdue');
    expect(h.roleBinding()).toBeUndefined();
    expect(h.identity.status?.quarantineUntil).toBeUndefined();
    // Long past any quarantine period: still quarantined, not revoked.
    h.later(7 * 24 * 60 * MINUTE);
    await h.reconcile();
    expect(h.condition('Revoked')?.status).not.toBe('True');
    expect(h.condition('Quarantined')?.status).toBe('True');

    h.identity.metadata.annotations = {
      [Controls.attestRequest]: attestValue('alice', h.now, 'still needed'),
    };
    await h.reconcile();
    expect(h.condition('Quarantined')).toMatchObject({ status: 'False', reason: 'Restored' });
    expect(h.condition('AttestationDue')).toMatchObject({ status: 'False', reason: 'Attested' });
    expect(h.roleBinding()).toBeDefined();
    expect(h.identity.status).toMatchObject({ attestedBy: 'alice', attestedAt: h.now.toISOString() });
    expect(h.audit.records.filter((r) => r.action === 'attested')).toEqual([
      expect.objectContaining({ actor: 'alice', origin: expect.stringContaining('still needed') }),
    ]);
    // The next reconcile removes the recorded request; nothing is recorded twice.
    await h.reconcile();
    await h.reconcile();
    expect(h.identity.metadata.annotations?.[Controls.attestRequest]).toBeUndefined();
    expect(h.audit.records.filter((r) => r.action === 'attested')).toHaveLength(1);
    expect(types(h)).toEqual([NotificationTypes.quarantined, NotificationTypes.attestationOverdue]);
  });

  it('only notifies past the grace when the action is notify', async () => {
    const n = harness({ attestationInterval: '2h', attestationGracePeriod: '30m' });
    await n.settle();
    n.later(91 * MINUTE);
    await n.reconcile();
    expect(n.condition('AttestationDue')?.reason).toBe('Overdue');
    expect(n.condition('Quarantined')?.status).toBe('False');
    expect(types(n)).toEqual([NotificationTypes.attestationOverdue]);
  });

  it('records an attestation even where none is required, and the interval counts from it', async () => {
    h.later(50 * MINUTE);
    h.identity.metadata.annotations = { [Controls.attestRequest]: attestValue('bob', h.now) };
    await h.reconcile();
    h.later(70 * MINUTE);
    await h.reconcile();
    // Created at T0, now T0 + 3 h: due from creation, but attested an hour and ten minutes ago.
    expect(h.condition('AttestationDue')).toMatchObject({ status: 'False', reason: 'Attested' });
    const d = new ScriptedVaultHarness(false);
    d.policy = policy({}, false);
    d.identity.spec.environment = 'development';
    d.policy.spec.environments = { development: {} };
    d.identity.metadata.annotations = { [Controls.attestRequest]: attestValue('bob', d.now) };
    await d.settle();
    expect(d.condition('AttestationDue')?.reason).toBe('NotRequired');
    expect(d.identity.status?.attestedBy).toBe('bob');
    expect(d.identity.metadata.annotations?.[Controls.attestRequest]).toBeUndefined();
  });

  it('ignores an attestation time status claims in the future (status may be forged)', async () => {
    h.identity.status = { ...h.identity.status, attestedAt: '2999-01-01T00:00:00Z', attestedBy: 'mallory' };
    h.later(91 * MINUTE);
    await h.reconcile();
    expect(h.condition('Quarantined')?.reason).toBe('AttestationOverdue');
  });
});

describe('webhook notifications', () => {
  it('retries an undelivered notification on the next reconcile and records it once delivered', async () => {
    const h = harness({ attestationInterval: '2h', attestationGracePeriod: '30m' });
    await h.settle();
    h.webhook.failures = 1;
    h.later(61 * MINUTE);
    await h.reconcile();
    expect(h.webhook.delivered).toEqual([]);
    expect(h.identity.status?.notified ?? []).toEqual([]);
    await h.reconcile();
    expect(types(h)).toEqual([NotificationTypes.attestationDue]);
    expect(h.identity.status?.notified).toEqual([expect.stringMatching(/^attestation-due\//)]);
    expect(h.audit.records.filter((r) => r.action === 'notified')).toHaveLength(1);
  });

  it('does not send an occurrence again after a restart, nor when the cache still shows the old status', async () => {
    const h = harness({ attestationInterval: '2h', attestationGracePeriod: '30m' });
    await h.settle();
    h.later(61 * MINUTE);
    const before = structuredClone(h.identity.status ?? {});
    await h.reconcile();
    // A reconcile reading the status as it was before the write (a lagging cache).
    const after = h.identity.status;
    h.identity.status = before;
    await h.reconcile();
    expect(h.identity.status?.notified).toEqual(after?.notified);
    h.restart();
    await h.reconcile();
    expect(types(h)).toEqual([NotificationTypes.attestationDue]);
  });

  it('does not send a quarantine again when a stale copy quarantines it anew, a second later', async () => {
    const h = harness({
      attestationInterval: '2h',
      attestationGracePeriod: '30m',
      attestationAction: 'quarantine',
    });
    await h.settle();
    h.later(91 * MINUTE);
    const before = structuredClone(h.identity.status ?? {});
    await h.reconcile();
    h.identity.status = before;
    h.later(1000);
    await h.reconcile();
    expect(types(h).filter((t) => t === NotificationTypes.quarantined)).toHaveLength(1);
  });

  it('sends CloudEvents naming the identity, owner and sponsor, with a stable id, and no secret', async () => {
    const h = harness({ attestationInterval: '2h', attestationGracePeriod: '30m' });
    h.identity.spec.sponsor = { name: 'support-lead', contact: 'lead@example.com' };
    await h.settle();
    h.later(61 * MINUTE);
    await h.reconcile();
    const [event] = h.webhook.delivered;
    expect(event).toMatchObject({
      specversion: '1.0',
      source: 'nhi.dev/nhi-operator',
      type: NotificationTypes.attestationDue,
      subject: 'agentidentities/agents/bot',
      datacontenttype: 'application/json',
      data: {
        identity: { uid: 'uid-bot', namespace: 'agents', name: 'bot' },
        owner: { team: 'support-eng' },
        sponsor: { name: 'support-lead', contact: 'lead@example.com' },
        reason: 'Due',
      },
    });
    expect(event?.id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('sends nothing when the IdentityPolicy sets no webhook', async () => {
    const h = harness({ attestationInterval: '2h', attestationGracePeriod: '30m' }, false);
    await h.settle();
    h.later(91 * MINUTE);
    await h.reconcile();
    expect(h.webhook.attempts).toBe(0);
    expect(h.identity.status?.notified).toBeUndefined();
  });

  it('notifies quarantine and then revocation of an orphaned identity, once each', async () => {
    const h = harness({}, true);
    await h.settle();
    h.workloadGone = true;
    await h.reconcile();
    h.later(6 * MINUTE);
    await h.reconcile();
    await h.reconcile();
    h.later(25 * 60 * MINUTE);
    for (let i = 0; i < 4; i++) await h.reconcile();
    expect(h.condition('Revoked')?.status).toBe('True');
    expect(types(h)).toEqual([NotificationTypes.quarantined, NotificationTypes.revoked]);
  });

  it('notifies drift found by the periodic check, naming the backend', async () => {
    const h = new ScriptedVaultHarness(true);
    h.policy = policy({}, true);
    await h.settle();
    h.vault.drift = [{ resource: 'role', field: 'token_ttl', detail: 'widened' }];
    h.later(HARNESS_DRIFT_MS + 1000);
    await h.reconcile();
    h.later(1000);
    await h.reconcile();
    expect(types(h)).toEqual([NotificationTypes.drift]);
    expect(h.webhook.delivered[0]?.data.message).toContain('vault/vault');
  });

  it('notifies a coming expiry and a coming inactivity once each', async () => {
    const h = harness({}, true);
    h.identity.spec.ttl = '10h';
    h.identity.spec.inactivityTimeout = '10h';
    await h.settle();
    // ExpiringSoon from 9 h (a tenth of the ttl ahead); inactivity likewise, as nothing was used.
    h.later(8 * 60 * MINUTE + 30 * MINUTE);
    await h.reconcile();
    await h.reconcile();
    expect(types(h).sort()).toEqual([NotificationTypes.expiring, NotificationTypes.inactive].sort());
  });
});
