// The reconcile checklist as a whole: status written once and only when it changed, and every
// condition set by the one step module that owns it.

import { describe, expect, it, vi } from 'vitest';
import { ConditionOwners, type ConditionType, StatusDraft, type Step } from './status-draft.ts';
import { HARNESS_NAMESPACE, ScriptedVaultHarness } from './testing/harness.ts';

const NS = HARNESS_NAMESPACE;

describe('status writes', () => {
  it('a steady-state reconcile of an identity with running pods writes no status', async () => {
    const h = new ScriptedVaultHarness(false);
    h.pods = [
      { metadata: { name: 'bot-1', namespace: NS }, spec: { serviceAccountName: 'bot', containers: [] } },
    ];
    await h.settle();
    h.later(1000);
    await h.reconcile();
    const writes = h.store.statusWrites;
    h.later(1000);
    await h.reconcile();
    // Every write is a watch event that enqueues the key again: a write per reconcile is a hot loop.
    expect(h.store.statusWrites).toBe(writes);
  });
});

describe('events', () => {
  it("announces a new identity's provisioning with one Ready Event, not one per condition", async () => {
    const h = new ScriptedVaultHarness(false);
    await h.settle();
    expect(h.condition('Ready')?.status).toBe('True');
    expect(h.events.map((e) => `${e.type} ${e.reason}`)).toEqual(['Normal Ready']);
  });

  it('still reports a condition that goes bad on a new identity', async () => {
    const h = new ScriptedVaultHarness(false);
    h.violation = () => ['spec.scopes[0].rules[0].resources: secrets are forbidden in production'];
    await h.settle();
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'Warning' }));
    expect(h.events.filter((e) => e.reason === 'Ready')).toEqual([]);
  });
});

describe('observe mode', () => {
  it('records the observed ServiceAccount and writes nothing anywhere: no finalizer, no RBAC', async () => {
    const h = new ScriptedVaultHarness(false);
    h.identity.spec = {
      ...h.identity.spec,
      management: 'Observe',
      observe: { serviceAccountName: 'legacy-bot' },
    };
    await h.settle();
    expect(h.identity.metadata.finalizers ?? []).toEqual([]);
    expect(h.roleBinding()).toBeUndefined();
    expect(h.condition('Observed')).toMatchObject({ status: 'True', reason: 'ObserveOnly' });
    expect(h.condition('Ready')).toMatchObject({ status: 'True', reason: 'ObserveOnly' });
    expect(h.identity.status?.phase).toBe('Observing');
    expect(h.identity.status?.observed?.objects).toEqual([
      { kind: 'ServiceAccount', name: 'legacy-bot', reported: true },
    ]);
  });
});

describe('condition ownership', () => {
  /** Every condition write during `run`: which condition, and which module's code asked for the writer. */
  async function writesDuring(run: () => Promise<void>) {
    const writes: Array<{ type: ConditionType; step: Step; file: string }> = [];
    const original = StatusDraft.prototype.conditionsOf;
    const spy = vi.spyOn(StatusDraft.prototype, 'conditionsOf').mockImplementation(function (
      this: StatusDraft,
      step: Step,
    ) {
      const frames = (new Error().stack ?? '').split('\n');
      const caller = frames
        .map((f) => /controller\/agentidentity\/([a-z-]+)\.ts/.exec(f)?.[1])
        .find((f) => f !== undefined && f !== 'status-draft' && f !== 'reconciler.test');
      const writer = original.call(this, step);
      return {
        set: (type: never, ...rest: [never, string, string]) => {
          writes.push({ type, step, file: caller ?? '?' });
          writer.set(type, ...rest);
        },
      };
    });
    try {
      await run();
    } finally {
      spy.mockRestore();
    }
    return writes;
  }

  const scenarios: Array<[string, (h: ScriptedVaultHarness) => Promise<void>]> = [
    ['provisioning', (h) => h.settle()],
    [
      'a policy violation',
      async (h) => {
        h.violation = () => ['spec.scopes[0]: forbidden'];
        await h.settle();
      },
    ],
    [
      'the kill switch, then unlocking',
      async (h) => {
        await h.settle();
        h.lock();
        h.later(1000);
        await h.reconcile();
        h.identity.metadata.annotations = {};
        h.later(1000);
        await h.settle();
      },
    ],
    [
      'a quarantine that fails',
      async (h) => {
        await h.settle();
        h.vault.failQuarantine = true;
        h.lock();
        h.later(1000);
        await h.reconcile();
      },
    ],
    [
      'an orphan quarantined, then revoked',
      async (h) => {
        await h.settle();
        h.workloadGone = true;
        for (const step of [1000, 6 * 60_000, 1000, 25 * 3_600_000, 1000, 1000]) {
          h.later(step);
          await h.reconcile();
        }
        expect(h.condition('Revoked')?.status).toBe('True');
      },
    ],
    [
      'offboarding blocked, then done',
      async (h) => {
        await h.settle();
        h.vault.failRevoke = true;
        h.identity.metadata.deletionTimestamp = h.now.toISOString();
        await h.reconcile().catch(() => undefined);
        h.vault.failRevoke = false;
        h.later(60_000);
        await h.reconcile();
      },
    ],
    [
      'observe-only',
      async (h) => {
        h.identity.spec = {
          ...h.identity.spec,
          scopes: [],
          management: 'Observe',
          observe: { serviceAccountName: 'bot', vaultRoleName: 'legacy' },
        };
        await h.settle();
        expect(h.condition('Observed')?.status).toBe('False');
      },
    ],
  ];

  it.each(scenarios)('%s: each condition is written only by the module that owns it', async (_name, run) => {
    const h = new ScriptedVaultHarness(true);
    const writes = await writesDuring(() => run(h));
    expect(writes.length).toBeGreaterThan(0);
    for (const w of writes) {
      expect({ type: w.type, writtenBy: `${w.file}.ts` }).toEqual({
        type: w.type,
        writtenBy: `${ConditionOwners[w.type]}.ts`,
      });
    }
  });

  it('every condition is exercised by the scenarios above', async () => {
    const seen = new Set<string>();
    for (const [, run] of scenarios) {
      const h = new ScriptedVaultHarness(true);
      for (const w of await writesDuring(() => run(h))) seen.add(w.type);
    }
    expect([...seen].sort()).toEqual(Object.keys(ConditionOwners).sort());
  });

  it('refuses a write by a step that does not own the condition', () => {
    const h = new ScriptedVaultHarness(false);
    const draft = new StatusDraft(h.identity, h.now);
    expect(() =>
      (draft.conditionsOf('provision') as { set: (...a: unknown[]) => void }).set('Ready', 'True', 'x', 'y'),
    ).toThrow(/owned by ready\.ts/);
  });
});
