import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { packer, unpacked } from './packed.ts';

const MARK = Symbol.for('nhi.dev/test-mark');

/** An object of one kind, as a cache holds many: the same text but its name and a condition. */
const identity = (name: string, reason = 'Provisioned') => ({
  apiVersion: 'nhi.dev/v1alpha1',
  kind: 'AgentIdentity',
  metadata: { name, namespace: 'team-a', resourceVersion: '7', labels: { app: name } },
  status: {
    conditions: [
      { type: 'Ready', status: 'True', reason, message: 'credentials provisioned and bound to the workload' },
      { type: 'Expired', status: 'False', reason: 'Valid', message: 'valid until 2027-03-02T21:51:41.000Z' },
    ],
  },
});

/** The bytes a packed object holds beyond its metadata. */
const packedLength = (stored: object) =>
  Object.getOwnPropertySymbols(stored)
    .map((s) => (stored as Record<symbol, unknown>)[s])
    .find((v): v is string => typeof v === 'string')?.length ?? 0;

describe('packed cache objects', () => {
  it('keep the metadata ListWatch keys by outside the text, and give back an equal object', () => {
    const pack = packer();
    const obj = {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'a', namespace: 'ns', resourceVersion: '7', labels: { app: 'x' } },
      secrets: [{ name: 's' }],
    };
    const stored = pack<KubernetesObject>(obj);
    expect(stored.metadata).toEqual({ name: 'a', namespace: 'ns', resourceVersion: '7' });
    expect(unpacked(stored)).toEqual(obj);
  });

  it('compress each object against the ones its cache packed before, and give each back equal', () => {
    const pack = packer();
    const objects = ['agent-1', 'agent-2', 'agent-3'].map((name) => identity(name));
    objects.push(identity('agent-4', 'Quarantined'));
    const stored = objects.map((obj) => pack<KubernetesObject>(obj));
    expect(stored.map((s) => unpacked(s))).toEqual(objects);
    const text = JSON.stringify(objects[1]).length;
    // A later object shares nearly all its text with the dictionary: a small fraction of its length.
    expect(packedLength(stored[1] as object)).toBeLessThan(text / 4);
  });

  it('read an object packed against a dictionary the cache has since replaced', () => {
    const pack = packer();
    const small = pack<KubernetesObject>(identity('a'));
    const early = pack<KubernetesObject>(identity('b'));
    // Much larger: it becomes the dictionary from here on.
    const large = { ...identity('c'), spec: { purpose: 'x'.repeat(2_000) } };
    pack<KubernetesObject>(large);
    const later = pack<KubernetesObject>(identity('d'));
    expect(unpacked(small)).toEqual(identity('a'));
    expect(unpacked(early)).toEqual(identity('b'));
    expect(unpacked(later)).toEqual(identity('d'));
  });

  it('give back objects larger than the compression window, which never become the dictionary', () => {
    const pack = packer();
    pack<KubernetesObject>(identity('a'));
    const huge = {
      ...identity('b'),
      spec: { purpose: Array.from({ length: 4_000 }, (_, i) => `p${i}`).join(' ') },
    };
    const stored = pack<KubernetesObject>(huge);
    const later = pack<KubernetesObject>(identity('c'));
    expect(unpacked(stored)).toEqual(huge);
    expect(unpacked(later)).toEqual(identity('c'));
    expect(packedLength(later as object)).toBeLessThan(JSON.stringify(identity('c')).length / 4);
  });

  it('keep text outside latin1 through compression', () => {
    const pack = packer();
    pack<KubernetesObject>(identity('a'));
    const obj = { ...identity('b'), spec: { purpose: 'résumé → 監査 🔑' } };
    expect(unpacked(pack<KubernetesObject>(obj))).toEqual(obj);
  });

  it('give every reader its own copy: changing one leaves the cache as it was', () => {
    const pack = packer();
    pack<KubernetesObject>({ metadata: { name: 'first', labels: { app: 'x' } } });
    const stored = pack<KubernetesObject>({ metadata: { name: 'a', labels: { app: 'x' } } });
    const first = unpacked(stored);
    (first.metadata?.labels as Record<string, string>).app = 'changed';
    expect(unpacked(stored).metadata?.labels).toEqual({ app: 'x' });
  });

  it('keep symbol-keyed marks, which JSON drops', () => {
    const pack = packer();
    const obj = { metadata: { name: 'a' }, [MARK]: true } as KubernetesObject;
    expect((unpacked(pack(obj)) as unknown as Record<symbol, unknown>)[MARK]).toBe(true);
    expect((unpacked(pack(obj)) as unknown as Record<symbol, unknown>)[MARK]).toBe(true);
  });

  it('store timestamps as the RFC 3339 text the watch delivers', () => {
    const created = new Date('2026-01-02T03:04:05.000Z');
    const obj = { metadata: { name: 'a', creationTimestamp: created } } as KubernetesObject;
    expect(unpacked(packer()(obj)).metadata?.creationTimestamp).toBe('2026-01-02T03:04:05.000Z');
  });

  it('pass an object that was never packed through unchanged', () => {
    const obj: KubernetesObject = { metadata: { name: 'a' } };
    expect(unpacked(obj)).toBe(obj);
    expect(unpacked(undefined)).toBeUndefined();
  });
});
