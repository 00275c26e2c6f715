import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { changedBeyondStatus } from './owned-caches.ts';

type Obj = k8s.KubernetesObject & { status?: unknown; spec?: unknown };

function cacheOf(...objects: Obj[]) {
  const byKey = new Map(objects.map((o) => [`${o.metadata?.namespace}/${o.metadata?.name}`, o]));
  return {
    get: (name: string, namespace?: string) => byKey.get(`${namespace}/${name}`),
    put: (o: Obj) => byKey.set(`${o.metadata?.namespace}/${o.metadata?.name}`, o),
    drop: (o: Obj) => byKey.delete(`${o.metadata?.namespace}/${o.metadata?.name}`),
  };
}

const bot = (generation: number, extra: Partial<k8s.V1ObjectMeta> = {}, status: unknown = {}): Obj => ({
  metadata: {
    name: 'bot',
    namespace: 'a',
    uid: 'u1',
    generation,
    resourceVersion: String(Math.random()),
    ...extra,
  },
  status,
});

describe('changedBeyondStatus', () => {
  it('wakes nothing for a status write, and wakes for spec, annotation, finalizer, deletion and removal', () => {
    const cache = cacheOf(bot(1));
    const needs = changedBeyondStatus(cache);
    expect(needs(bot(1))).toBe(true); // first sight
    cache.put(bot(1, {}, { phase: 'Active' }));
    expect(needs(bot(1, {}, { phase: 'Active' }))).toBe(false);
    expect(needs(bot(2))).toBe(true);
    expect(needs(bot(2, { annotations: { 'nhi.dev/locked': 'x' } }))).toBe(true);
    expect(needs(bot(2, { annotations: { 'nhi.dev/locked': 'x' }, finalizers: ['f'] }))).toBe(true);
    const deleting = bot(2, {
      annotations: { 'nhi.dev/locked': 'x' },
      finalizers: ['f'],
      deletionTimestamp: new Date('2025-01-01T00:00:00Z'),
    });
    expect(needs(deleting)).toBe(true);
    cache.drop(deleting);
    expect(needs(deleting)).toBe(true);
  });
});
