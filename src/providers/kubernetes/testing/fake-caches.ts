// Informer caches for the cached port's unit tests, filled from a FakeKubernetesPort on demand
// (`sync()`), as a watch would bring them up to date: only objects carrying the identity-uid label,
// Secrets without their values (the transform the operator's caches apply).

import { secretWithoutValues } from '../../../adapters/kubernetes/slim.ts';
import { Marks } from '../../../api/v1alpha1/annotations.ts';
import type { KindCache, OwnedCaches } from '../cached-port.ts';
import type { ManagedKind, ManagedObjects } from '../port.ts';
import { MANAGED_KINDS } from '../port.ts';
import type { FakeKubernetesPort } from './fake-port.ts';

class SnapshotCache<
  T extends { metadata?: { name?: string; namespace?: string; labels?: Record<string, string> } },
> implements KindCache<T>
{
  objects = new Map<string, T>();
  synced = true;
  hasSynced = () => this.synced;
  get = (name: string, namespace: string) => this.objects.get(`${namespace}/${name}`);
  labelled = (namespace: string, uid: string) =>
    [...this.objects.values()].filter(
      (o) => o.metadata?.namespace === namespace && o.metadata?.labels?.[Marks.identityUid] === uid,
    );
}

export class FakeCaches {
  readonly caches = Object.fromEntries(MANAGED_KINDS.map((k) => [k, new SnapshotCache()])) as unknown as {
    [K in ManagedKind]: SnapshotCache<ManagedObjects[K]>;
  };

  constructor(private readonly store: FakeKubernetesPort) {}

  get owned(): OwnedCaches {
    return this.caches;
  }

  /** Brings every cache up to date with the store: the labelled objects of `namespace`. */
  async sync(namespace: string): Promise<void> {
    for (const kind of MANAGED_KINDS) {
      const cache = this.caches[kind] as SnapshotCache<ManagedObjects[ManagedKind]>;
      cache.objects.clear();
      const all = await this.store.list(kind, { namespace, fresh: true });
      for (const o of all) {
        if (!o.metadata?.labels?.[Marks.identityUid]) continue;
        const kept = kind === 'Secret' ? secretWithoutValues(o) : o;
        cache.objects.set(`${namespace}/${o.metadata.name}`, kept);
      }
    }
  }
}
