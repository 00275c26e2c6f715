import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { packed, unpacked } from './packed.ts';

const MARK = Symbol.for('nhi.dev/test-mark');

describe('packed cache objects', () => {
  it('keep the metadata ListWatch keys by outside the text, and give back an equal object', () => {
    const obj = {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'a', namespace: 'ns', resourceVersion: '7', labels: { app: 'x' } },
      secrets: [{ name: 's' }],
    };
    const stored = packed<KubernetesObject>(obj);
    expect(stored.metadata).toEqual({ name: 'a', namespace: 'ns', resourceVersion: '7' });
    expect(unpacked(stored)).toEqual(obj);
  });

  it('give every reader its own copy: changing one leaves the cache as it was', () => {
    const stored = packed<KubernetesObject>({ metadata: { name: 'a', labels: { app: 'x' } } });
    const first = unpacked(stored);
    (first.metadata?.labels as Record<string, string>).app = 'changed';
    expect(unpacked(stored).metadata?.labels).toEqual({ app: 'x' });
  });

  it('keep symbol-keyed marks, which JSON drops', () => {
    const obj = { metadata: { name: 'a' }, [MARK]: true } as KubernetesObject;
    expect((unpacked(packed(obj)) as unknown as Record<symbol, unknown>)[MARK]).toBe(true);
  });

  it('store timestamps as the RFC 3339 text the watch delivers', () => {
    const created = new Date('2026-01-02T03:04:05.000Z');
    const obj = { metadata: { name: 'a', creationTimestamp: created } } as KubernetesObject;
    expect(unpacked(packed(obj)).metadata?.creationTimestamp).toBe('2026-01-02T03:04:05.000Z');
  });

  it('pass an object that was never packed through unchanged', () => {
    const obj: KubernetesObject = { metadata: { name: 'a' } };
    expect(unpacked(obj)).toBe(obj);
    expect(unpacked(undefined)).toBeUndefined();
  });
});
