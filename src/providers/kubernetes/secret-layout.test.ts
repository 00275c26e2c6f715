import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ObjectMarks } from '../../api/v1alpha1/annotations.ts';
import { agentIdentity } from '../../testing/agent-identity.ts';
import type { SecretMaterial } from '../types.ts';
import {
  materialOf,
  previousDue,
  quarantinedSecret,
  retiredSecret,
  rotatedSecret,
  secretState,
  syncedSecret,
} from './secret-layout.ts';
import { randomSecret, refOf } from './testing/fixtures.ts';

const ref = refOf(agentIdentity('support-bot'));
const spec = randomSecret('api-key', { overlap: '10m' });
const T0 = Date.parse('2025-03-01T12:00:00Z');
const rotate = (live: k8s.V1Secret | undefined, value: string, now = T0) =>
  rotatedSecret(live, { ref, spec, name: 'support-bot-api-key', value, now });

describe('the staged rotation state machine', () => {
  it('starts at version 1 with a current value and no previous', () => {
    const first = rotate(undefined, 'one');
    expect(materialOf(first, spec)).toEqual({
      current: { version: 1, value: 'one', createdAt: '2025-03-01T12:00:00.000Z' },
    });
    expect(first.metadata?.labels?.[ObjectMarks.secret]).toBe('api-key');
  });

  it('moves current to previous, bumps versions and sets the retire time', () => {
    const second = rotate(rotate(undefined, 'one'), 'two', T0 + 60_000);
    expect(materialOf(second, spec)).toEqual({
      current: { version: 2, value: 'two', createdAt: '2025-03-01T12:01:00.000Z' },
      previous: { version: 1, value: 'one' },
    });
    expect(second.metadata?.annotations?.[ObjectMarks.previousRetireAt]).toBe('2025-03-01T12:11:00.000Z');
    expect(Object.keys(second.data ?? {}).sort()).toEqual(['api-key', 'api-key.previous']);
  });

  it.each([
    ['before the window ends', T0 + 9 * 60_000, false],
    ['when the window has ended', T0 + 10 * 60_000, true],
  ])('retiring is due %s: %s', (_, now, due) => {
    expect(previousDue(rotate(rotate(undefined, 'one'), 'two'), spec, now)).toBe(due);
  });

  it('retires the previous value, keeping the current one', () => {
    const retired = retiredSecret(rotate(rotate(undefined, 'one'), 'two'), spec);
    expect(materialOf(retired, spec)).toEqual({
      current: { version: 2, value: 'two', createdAt: '2025-03-01T12:00:00.000Z' },
    });
    expect(retired.metadata?.annotations?.[ObjectMarks.previousVersion]).toBeUndefined();
    expect(previousDue(retired, spec, T0 + 10 ** 9)).toBe(false);
  });

  it('quarantine removes every value but keeps the versions; a restore rotation starts fresh', () => {
    const quarantined = quarantinedSecret(rotate(rotate(undefined, 'one'), 'two'), T0);
    expect(quarantined.data).toEqual({});
    expect(secretState(quarantined, spec)).toMatchObject({
      currentVersion: 2,
      previousVersion: 1,
      quarantined: true,
    });
    expect(materialOf(quarantined, spec)).toBeUndefined();

    const restored = rotatedSecret(quarantined, {
      ref,
      spec,
      name: 'support-bot-api-key',
      value: 'three',
      now: T0,
      clearQuarantine: true,
    });
    expect(materialOf(restored, spec)).toEqual({
      current: { version: 3, value: 'three', createdAt: '2025-03-01T12:00:00.000Z' },
    });
    expect(secretState(restored, spec).quarantined).toBe(false);
  });
});

describe('syncing material from another backend', () => {
  const material: SecretMaterial = {
    current: { version: 4, value: 'four', createdAt: '2025-03-01T11:00:00Z' },
  };
  const input = (m: SecretMaterial = material) => ({
    ref,
    spec,
    name: 'support-bot-api-key',
    material: m,
    now: T0,
  });

  it('creates the layout, and then writes nothing while values and versions are the same', () => {
    const created = syncedSecret(undefined, input());
    expect(created).toBeDefined();
    expect(materialOf(created as k8s.V1Secret, spec)?.current).toEqual(material.current);
    expect(syncedSecret(created, input())).toBeUndefined();
  });

  it('writes when the version changes', () => {
    const created = syncedSecret(undefined, input()) as k8s.V1Secret;
    const next = { current: { version: 5, value: 'five' }, previous: { version: 4, value: 'four' } };
    const updated = syncedSecret(created, input(next)) as k8s.V1Secret;
    expect(materialOf(updated, spec)).toMatchObject(next);
  });
});
