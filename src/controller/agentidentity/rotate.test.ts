// Secret rotation through the reconciler (condition SecretsRotated), against the real
// KubernetesProvider over the in-memory port: what status says about a secret's values must be what
// its target Secret holds.

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Controls, ObjectMarks } from '../../api/v1alpha1/annotations.ts';
import type { SecretSpec } from '../../api/v1alpha1/types.ts';
import { rotatedSecret } from '../../providers/kubernetes/secret-layout.ts';
import { ProviderRegistry } from '../../providers/registry.ts';
import { FakeVaultPort } from '../../providers/vault/testing/fake-port.ts';
import { identityRef } from './identity.ts';
import { HARNESS_NAMESPACE, ReconcilerHarness, VaultServersHarness, vaultScope } from './testing/harness.ts';

const MIN = 60_000;

class KubernetesOnly extends ReconcilerHarness {
  constructor(secret: SecretSpec) {
    super({
      scopes: [
        { provider: 'kubernetes', rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }] },
      ],
      secrets: [secret],
    });
    this.start({
      providers: new ProviderRegistry(this.kubernetes, () => []),
      workloads: {
        resolveKind: async () => ({ namespaced: true }),
        get: async () => undefined,
        podsUsingServiceAccount: async () => [],
        annotatePodTemplate: async () => false,
      },
    });
  }

  secretStatus() {
    return this.identity.status?.secrets?.[0];
  }

  targetHoldsPrevious(): boolean {
    const secret = this.port.peek('Secret', HARNESS_NAMESPACE, 'bot-api-key') as {
      data?: Record<string, string>;
    };
    return Boolean(secret?.data?.['api-key.previous']);
  }
}

describe('the previous value after a rotation', () => {
  it.each([
    ['2h', undefined],
    ['5h', undefined],
    ['30m', undefined],
    ['2h', '20m'],
  ])(
    'rotationInterval %s, overlap %s: status reports a previous value exactly while the Secret holds one',
    async (rotationInterval, overlap) => {
      const h = new KubernetesOnly({
        name: 'api-key',
        generator: { type: 'random', length: 24 },
        rotationInterval,
        ...(overlap && { overlap }),
      });
      await h.settle();
      expect(h.secretStatus()?.currentVersion).toBe(1);
      h.later(5 * 3_600_000);
      await h.reconcile();
      expect(h.secretStatus()?.currentVersion).toBe(2);
      let retired = false;
      for (let minute = 1; minute <= 70; minute++) {
        h.later(MIN);
        await h.reconcile();
        retired ||= !h.targetHoldsPrevious();
        expect({ minute, previous: h.secretStatus()?.previousVersion !== undefined }).toEqual({
          minute,
          previous: h.targetHoldsPrevious(),
        });
      }
      expect(retired).toBe(true);
    },
  );
});

describe('rotation across quarantine and restore', () => {
  it('quarantine/restore cycles do not postpone the rotation of a vault-kv secret forever', async () => {
    const vault = new FakeVaultPort();
    const h = new VaultServersHarness(
      { vault },
      {
        scopes: [vaultScope()],
        secrets: [
          {
            name: 'api-key',
            backend: 'vault-kv',
            generator: { type: 'random', length: 32 },
            rotationInterval: '1h',
          },
        ],
      },
    );
    await h.settle();
    const first = h.identity.status?.secrets?.[0];
    expect(first?.currentVersion).toBeDefined();

    // A flapping workload, or an on-call engineer locking and unlocking: each restore happens just
    // before the rotation is due. Four intervals pass.
    for (let i = 0; i < 4; i++) {
      h.later(50 * 60_000);
      h.identity.metadata.annotations = { [Controls.lock]: 'oncall' };
      await h.settle();
      expect(h.condition('Quarantined')?.status).toBe('True');
      h.later(5 * 60_000);
      h.identity.metadata.annotations = {};
      await h.settle();
      expect(h.condition('Quarantined')?.status).toBe('False');
    }
    // Quarantine and restore do not change the value in Vault, so they must not restart its interval.
    expect(h.identity.status?.secrets?.[0]?.currentVersion).not.toBe(first?.currentVersion);
  });
});

describe('on-demand rotation (nhi.dev/rotate-requested-at)', () => {
  const YEAR = 365 * 24 * 3_600_000;
  const rotating = async () => {
    const h = new KubernetesOnly({
      name: 'api-key',
      generator: { type: 'random', length: 24 },
      rotationInterval: '720h',
    });
    await h.settle();
    expect(h.secretStatus()?.currentVersion).toBe(1);
    h.later(MIN);
    return h;
  };
  const request = (h: KubernetesOnly, value: string) => {
    h.identity.metadata.annotations = { [Controls.rotateRequestedAt]: value };
  };
  const reconcileFor = async (h: KubernetesOnly, minutes: number) => {
    for (let i = 0; i < minutes; i++) {
      await h.reconcile();
      h.later(MIN);
    }
  };

  it('rotates each secret once per request, however many reconciles follow', async () => {
    const h = await rotating();
    const stamp = h.now.toISOString();
    request(h, stamp);
    await reconcileFor(h, 10);
    expect(h.secretStatus()?.currentVersion).toBe(2);
    expect(h.secretStatus()?.rotationRequest).toBe(stamp);
  });

  it('counts a stamp in the future as now: one rotation, not one per reconcile', async () => {
    const h = await rotating();
    request(h, new Date(h.now.getTime() + YEAR).toISOString());
    await reconcileFor(h, 90);
    expect(h.secretStatus()?.currentVersion).toBe(2);
    // The overlap is not cut short by further rotations: the previous value retires on schedule.
    expect(h.secretStatus()?.previousVersion).toBeUndefined();
    expect(h.targetHoldsPrevious()).toBe(false);
  });

  it('rotates again for a new request value', async () => {
    const h = await rotating();
    request(h, h.now.toISOString());
    await reconcileFor(h, 3);
    request(h, h.now.toISOString());
    await reconcileFor(h, 3);
    expect(h.secretStatus()?.currentVersion).toBe(3);
  });

  it('rotates nothing for a request older than the last rotation, and records it as handled', async () => {
    const h = await rotating();
    const old = new Date(h.now.getTime() - 3_600_000).toISOString();
    request(h, old);
    await reconcileFor(h, 3);
    expect(h.secretStatus()?.currentVersion).toBe(1);
    expect(h.secretStatus()?.rotationRequest).toBe(old);
  });

  it('treats a value that is not a time as a request made now, handled once', async () => {
    const h = await rotating();
    request(h, 'please');
    await reconcileFor(h, 5);
    expect(h.secretStatus()?.currentVersion).toBe(2);
  });
});

describe('a rotation is never unrecorded', () => {
  it('a rotation whose target sync fails is recorded when it lands, and its later adoption too', async () => {
    const vault = new FakeVaultPort();
    const h = new VaultServersHarness(
      { vault },
      {
        scopes: [vaultScope()],
        secrets: [
          {
            name: 'api-key',
            backend: 'vault-kv',
            generator: { type: 'random', length: 32 },
            rotationInterval: '1h',
          },
        ],
      },
    );
    await h.settle();
    const before = h.identity.status?.secrets?.[0]?.currentVersion ?? 0;
    const mark = h.audit.records.length;
    const rotated = () => h.audit.records.slice(mark).filter((r) => r.action === 'rotated');

    h.later(61 * MIN);
    h.failTargetSync = true;
    await h.reconcile();
    expect(h.identity.status?.secrets?.[0]?.currentVersion).toBe(before);
    // Intent before the write, outcome right after it: the sync failure came later.
    expect(rotated().map((r) => [r.outcome, r.detail])).toEqual([
      ['intent', undefined],
      ['success', `version ${before + 1}`],
    ]);

    h.failTargetSync = false;
    h.later(10 * MIN);
    await h.settle();
    expect(h.identity.status?.secrets?.[0]?.currentVersion).toBe(before + 1);
    expect(rotated().at(-1)).toMatchObject({
      outcome: 'success',
      origin: 'reconcile: adopted',
      detail: `version ${before + 1} found in the backend (status had ${before})`,
    });
  });
});

describe('a rotation cut short by a crash', () => {
  it('is recorded once the next reconcile finds the version it wrote, and never written twice', async () => {
    const h = new KubernetesOnly({ name: 'api-key', generator: { type: 'random', length: 24 } });
    await h.settle();
    h.later(MIN);
    h.identity.metadata.annotations = { [Controls.rotateRequestedAt]: h.now.toISOString() };
    // The process dies right after the new version was written, before its 'rotated' record.
    const record = h.audit.record.bind(h.audit);
    let killed = false;
    h.audit.record = async (entry) => {
      if (!killed && entry.action === 'rotated') {
        killed = true;
        throw new Error('SIGKILL');
      }
      return record(entry);
    };
    await h.reconcile().catch(() => undefined);
    h.later(600_000);
    await h.settle();
    expect(h.secretStatus()?.currentVersion).toBe(2);
    const rotated = h.audit.records.filter((r) => r.action === 'rotated' && r.outcome !== 'intent');
    expect(rotated.map((r) => r.detail)).toEqual([expect.stringContaining('version 2')]);
  });
});

describe('a value nhictl adopt wrote into the target Secret', () => {
  const spec: SecretSpec = {
    name: 'api-key',
    generator: { type: 'random', length: 24 },
    rotationInterval: '168h',
  };
  const FROM = 'Deployment/agents/bot container agent env[API_KEY] by alice';
  const literal = randomBytes(24).toString('base64url');
  /** What nhictl adopt writes: the literal as the next version, with the adoption mark. */
  const adoptInto = (h: KubernetesOnly) => {
    const live = h.port.peek('Secret', HARNESS_NAMESPACE, 'bot-api-key');
    const next = rotatedSecret(live, {
      ref: identityRef(h.identity),
      spec,
      name: 'bot-api-key',
      value: literal,
      now: h.now.getTime(),
      adoptedFrom: FROM,
    });
    if (live) h.port.mutate('Secret', HARNESS_NAMESPACE, 'bot-api-key', (s) => Object.assign(s, next));
    else h.port.seed('Secret', next);
  };
  const adopted = (h: KubernetesOnly) => h.audit.records.filter((r) => r.action === 'adopted');

  it("is recorded once as 'adopted' in the operator's audit chain when the operator takes it over, never the value", async () => {
    const h = new KubernetesOnly(spec);
    adoptInto(h);
    await h.settle();
    expect(h.secretStatus()?.currentVersion).toBe(1);
    expect(adopted(h)).toEqual([
      expect.objectContaining({
        action: 'adopted',
        outcome: 'success',
        severity: 'high',
        resource: 'kubernetes:secret/api-key',
        origin: `nhictl adopt ${FROM}`,
        detail: `version 1 of Secret ${HARNESS_NAMESPACE}/bot-api-key taken over as the current value (status had none)`,
      }),
    ]);
    expect(JSON.stringify(h.audit.records)).not.toContain(literal);
    h.later(MIN);
    await h.settle();
    expect(adopted(h)).toHaveLength(1);
  });

  it('is recorded when it lands after the operator generated a first value, and the next rotation clears the mark', async () => {
    const h = new KubernetesOnly(spec);
    await h.settle();
    expect(adopted(h)).toEqual([]);
    adoptInto(h);
    h.later(MIN);
    h.identity.metadata.annotations = { [Controls.rotateRequestedAt]: h.now.toISOString() };
    await h.settle();
    expect(h.secretStatus()?.currentVersion).toBe(2);
    expect(adopted(h).map((r) => r.detail)).toEqual([
      expect.stringMatching(/^version 2 .*\(status had 1\)$/),
    ]);
    // A rotation after the adoption writes a version nhictl did not adopt: not recorded as adopted.
    h.later(MIN);
    h.identity.metadata.annotations = { [Controls.rotateRequestedAt]: h.now.toISOString() };
    await h.settle();
    expect(h.secretStatus()?.currentVersion).toBe(3);
    expect(adopted(h)).toHaveLength(1);
    const annotations = h.port.peek('Secret', HARNESS_NAMESPACE, 'bot-api-key')?.metadata?.annotations ?? {};
    expect(annotations[ObjectMarks.adoptedFrom]).toBeUndefined();
    expect(annotations[ObjectMarks.adoptedVersion]).toBeUndefined();
  });
});
