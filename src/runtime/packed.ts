// Cached objects kept as JSON text: one string each instead of an object tree (a map and a property
// array per nested object, a separate copy of every repeated string). Measured at 1,000 identities
// (BENCHMARKS.md (f)): the live heap went from 87 to 83 MiB, half the objects gone; the cache was a
// small part of the heap, so the gain is small, about 4 KiB per identity, and each read costs a parse.
// What client-node's ListWatch reads of a stored object (name, namespace, resourceVersion) stays
// outside the text. Each read parses a fresh copy, so nothing a reader does can change the cache.
// Symbol-keyed marks (slim.ts CACHED_VIEW) are not JSON: they are kept beside the text and put back.

import type { KubernetesObject } from '@kubernetes/client-node';

const TEXT: unique symbol = Symbol('nhi.dev/packed-text');
const MARKS: unique symbol = Symbol('nhi.dev/packed-marks');

interface Packed {
  metadata: { name?: string; namespace?: string; resourceVersion?: string };
  [TEXT]: string;
  [MARKS]?: Array<[symbol, unknown]>;
}

/**
 * `obj` as JSON text behind the metadata ListWatch keys by. Typed as T so it can be stored where T
 * is; only `unpacked` may read it.
 */
export function packed<T extends KubernetesObject>(obj: T): T {
  const { name, namespace, resourceVersion } = obj.metadata ?? {};
  const metadata: Packed['metadata'] = {};
  if (name !== undefined) metadata.name = name;
  if (namespace !== undefined) metadata.namespace = namespace;
  if (resourceVersion !== undefined) metadata.resourceVersion = resourceVersion;
  const holder: Packed = { metadata, [TEXT]: JSON.stringify(obj) };
  const marks = Object.getOwnPropertySymbols(obj).map((s): [symbol, unknown] => [s, (obj as never)[s]]);
  if (marks.length > 0) holder[MARKS] = marks;
  return holder as unknown as T;
}

/** The object `packed` stored (a fresh copy), or `obj` itself if it was never packed. */
export function unpacked<T extends KubernetesObject>(obj: T): T;
export function unpacked<T extends KubernetesObject>(obj: T | undefined): T | undefined;
export function unpacked<T extends KubernetesObject>(obj: T | undefined): T | undefined {
  const holder = obj as unknown as Partial<Packed> | undefined;
  const text = holder?.[TEXT];
  if (text === undefined) return obj;
  const out = JSON.parse(text) as T;
  for (const [symbol, value] of holder?.[MARKS] ?? []) (out as Record<symbol, unknown>)[symbol] = value;
  return out;
}
