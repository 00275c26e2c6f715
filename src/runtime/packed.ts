// Cached objects kept as compressed JSON text: one short string each instead of an object tree (a map
// and a property array per nested object, a separate copy of every repeated string).
//
// Objects of one kind are mostly the same text (the same keys, condition types and messages, label
// names; names and times differ), so each cache compresses its objects with raw deflate against a
// preset dictionary: the text of an object of that cache it packed before (`packer`). Measured on the
// benchmark's objects (BENCHMARKS.md (f)): an AgentIdentity's 3.7 KiB of text is 230 bytes packed
// (1.4 KiB by deflate alone), a ServiceAccount, Role, RoleBinding, Secret or Deployment 100–120
// bytes; packing a 3 KiB AgentIdentity costs about 35 µs, a read about 15 µs more than parsing
// alone. The dictionary is the largest object of up to 8 KiB the cache has seen (a fuller object
// shares more text with the rest), replaced only by one at least a quarter larger, so a cache keeps a
// few dictionaries at most; each packed object points at the one it was packed with, and an old
// dictionary goes when its last object does.
//
// What client-node's ListWatch reads of a stored object (name, namespace, resourceVersion) stays
// outside the text. Each read inflates and parses a fresh copy, so nothing a reader does can change
// the cache. Symbol-keyed marks (slim.ts CACHED_VIEW) are not JSON: they are kept beside the text and
// put back. What is packed is what the cache keeps (slim.ts decides that: never a Secret's values),
// and so is every dictionary.

import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { KubernetesObject } from '@kubernetes/client-node';

const TEXT: unique symbol = Symbol('nhi.dev/packed-text');
const DICTIONARY: unique symbol = Symbol('nhi.dev/packed-dictionary');
const MARKS: unique symbol = Symbol('nhi.dev/packed-marks');

interface Packed {
  metadata: { name?: string; namespace?: string; resourceVersion?: string };
  /** The JSON text; deflated (each byte one latin1 character) when DICTIONARY is set. */
  [TEXT]: string;
  [DICTIONARY]?: Buffer;
  [MARKS]?: Array<[symbol, unknown]>;
}

/**
 * zlib sized for objects of a few KiB: a 16 KiB window (matches reach back that far, into the
 * dictionary) and a small hash table. The same compression as zlib's defaults on these objects, twice
 * as fast, and each call's state is 86 KiB instead of 262: under glibc's mmap threshold, so it is
 * reused from the heap rather than mapped, zeroed and unmapped on every call.
 */
const ZLIB = { windowBits: 14, memLevel: 5 } as const;
/** Half the window: an object as large as the dictionary still reaches all of it. */
const MAX_DICTIONARY_BYTES = 8 * 1024;
/** A new dictionary must be this much larger than the one in use. */
const DICTIONARY_GROWTH = 1.25;

/** Packs objects as one cache does: typed as T so they can be stored where T is; only `unpacked` reads them. */
export type Pack = <T extends KubernetesObject>(obj: T) => T;

/**
 * A packer for one cache: every object it packs after the first is deflated against a dictionary
 * learned from the objects it packed before.
 */
export function packer(): Pack {
  let dictionary: Buffer | undefined;
  // Every object of a namespace holds the one string for its name (a cache has few namespaces and
  // thousands of objects; each parsed event brings its own copy).
  const namespaces = new Map<string, string>();
  const shared = (namespace: string) => {
    const known = namespaces.get(namespace);
    if (known !== undefined) return known;
    namespaces.set(namespace, namespace);
    return namespace;
  };
  return <T extends KubernetesObject>(obj: T): T => {
    const { name, namespace, resourceVersion } = obj.metadata ?? {};
    const metadata: Packed['metadata'] = {};
    if (name !== undefined) metadata.name = name;
    if (namespace !== undefined) metadata.namespace = shared(namespace);
    if (resourceVersion !== undefined) metadata.resourceVersion = resourceVersion;
    const json = JSON.stringify(obj);
    const bytes = Buffer.from(json);
    const holder: Packed = dictionary
      ? {
          metadata,
          [TEXT]: deflateRawSync(bytes, { ...ZLIB, dictionary }).toString('latin1'),
          [DICTIONARY]: dictionary,
        }
      : { metadata, [TEXT]: json };
    const marks = Object.getOwnPropertySymbols(obj).map((s): [symbol, unknown] => [s, (obj as never)[s]]);
    if (marks.length > 0) holder[MARKS] = marks;
    if (bytes.length <= MAX_DICTIONARY_BYTES && bytes.length >= (dictionary?.length ?? 0) * DICTIONARY_GROWTH)
      dictionary = bytes;
    return holder as unknown as T;
  };
}

/** The object a packer stored (a fresh copy), or `obj` itself if it was never packed. */
export function unpacked<T extends KubernetesObject>(obj: T): T;
export function unpacked<T extends KubernetesObject>(obj: T | undefined): T | undefined;
export function unpacked<T extends KubernetesObject>(obj: T | undefined): T | undefined {
  const holder = obj as unknown as Partial<Packed> | undefined;
  const text = holder?.[TEXT];
  if (text === undefined) return obj;
  const dictionary = holder?.[DICTIONARY];
  const json = dictionary
    ? inflateRawSync(Buffer.from(text, 'latin1'), { windowBits: ZLIB.windowBits, dictionary }).toString()
    : text;
  const out = JSON.parse(json) as T;
  for (const [symbol, value] of holder?.[MARKS] ?? []) (out as Record<symbol, unknown>)[symbol] = value;
  return out;
}
