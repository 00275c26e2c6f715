// An index over a Source's cache: objects by a key computed from each (an identity-uid label, a
// namespace/ServiceAccount pair, a workloadRef), kept current from the source's change stream, so a
// lookup costs the size of its answer instead of a scan of every cached object.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Source } from './informer.ts';
import { objectKey, parseKey } from './keys.ts';

export class SourceIndex<T extends KubernetesObject> {
  /** index key -> object keys */
  private readonly byIndex = new Map<string, Set<string>>();
  /** object key -> its index keys, to move or drop it when it changes or goes */
  private readonly indexed = new Map<string, readonly string[]>();

  constructor(
    private readonly source: Pick<Source<T>, 'get' | 'onChange'>,
    private readonly indexKeys: (obj: T) => readonly string[],
  ) {
    source.onChange((obj) => this.update(obj));
  }

  /** The cached objects indexed under `key` (as the cache holds them now). */
  lookup(key: string): T[] {
    const out: T[] = [];
    for (const objKey of this.byIndex.get(key) ?? []) {
      const obj = this.current(objKey);
      if (obj) out.push(obj);
    }
    return out;
  }

  /** The object keys indexed under `key`. */
  keys(key: string): string[] {
    return [...(this.byIndex.get(key) ?? [])];
  }

  private current(objKey: string): T | undefined {
    const { namespace, name } = parseKey(objKey);
    return this.source.get(name, namespace);
  }

  private update(changed: T): void {
    const objKey = objectKey(changed);
    const live = this.current(objKey);
    const next = live ? this.indexKeys(live) : [];
    for (const key of this.indexed.get(objKey) ?? []) {
      if (next.includes(key)) continue;
      const set = this.byIndex.get(key);
      set?.delete(objKey);
      if (set?.size === 0) this.byIndex.delete(key);
    }
    for (const key of next) {
      const set = this.byIndex.get(key) ?? new Set<string>();
      set.add(objKey);
      this.byIndex.set(key, set);
    }
    if (next.length > 0) this.indexed.set(objKey, next);
    else this.indexed.delete(objKey);
  }
}
