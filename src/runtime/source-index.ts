// An index over a Source's cache: objects by a key computed from each (an identity-uid label, a
// namespace/ServiceAccount pair, a workloadRef), kept current from the source's change stream, so a
// lookup costs the size of its answer instead of a scan of every cached object.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Source } from './informer.ts';
import { objectKey, parseKey } from './keys.ts';

/**
 * Object keys under one index key, or that object's index keys: a string while there is one (nearly
 * always: one ServiceAccount per identity uid, one identity per workload), a set or list past that.
 * A Set holding one string costs about 300 bytes of heap; at 10,000 identities the indexes held five
 * such sets each (BENCHMARKS.md (f)).
 */
type Members = string | Set<string>;

const members = (entry: Members | undefined): Iterable<string> =>
  entry === undefined ? [] : typeof entry === 'string' ? [entry] : entry;

export class SourceIndex<T extends KubernetesObject> {
  /** index key -> object keys */
  private readonly byIndex = new Map<string, Members>();
  /** object key -> its index keys, to move or drop it when it changes or goes */
  private readonly indexed = new Map<string, string | readonly string[]>();

  constructor(
    private readonly source: Pick<Source<T>, 'get' | 'onChange'>,
    private readonly indexKeys: (obj: T) => readonly string[],
  ) {
    source.onChange((obj) => this.update(obj));
  }

  /** The cached objects indexed under `key` (as the cache holds them now). */
  lookup(key: string): T[] {
    const out: T[] = [];
    for (const objKey of members(this.byIndex.get(key))) {
      const obj = this.current(objKey);
      if (obj) out.push(obj);
    }
    return out;
  }

  /** The object keys indexed under `key`. */
  keys(key: string): string[] {
    return [...members(this.byIndex.get(key))];
  }

  private current(objKey: string): T | undefined {
    const { namespace, name } = parseKey(objKey);
    return this.source.get(name, namespace);
  }

  private update(changed: T): void {
    const objKey = objectKey(changed);
    const live = this.current(objKey);
    const next = live ? this.indexKeys(live) : [];
    const previous = this.indexed.get(objKey);
    for (const key of typeof previous === 'string' ? [previous] : (previous ?? [])) {
      if (!next.includes(key)) this.remove(key, objKey);
    }
    for (const key of next) this.add(key, objKey);
    if (next.length === 0) this.indexed.delete(objKey);
    else this.indexed.set(objKey, next.length === 1 ? (next[0] as string) : next);
  }

  private add(key: string, objKey: string): void {
    const entry = this.byIndex.get(key);
    if (entry === undefined || entry === objKey) this.byIndex.set(key, objKey);
    else if (typeof entry === 'string') this.byIndex.set(key, new Set([entry, objKey]));
    else entry.add(objKey);
  }

  private remove(key: string, objKey: string): void {
    const entry = this.byIndex.get(key);
    if (entry === objKey) this.byIndex.delete(key);
    else if (typeof entry !== 'string' && entry?.delete(objKey)) {
      if (entry.size === 1) this.byIndex.set(key, entry.values().next().value as string);
    }
  }
}
