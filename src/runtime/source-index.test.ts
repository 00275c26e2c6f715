import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { InformerSource } from './informer.ts';
import { SourceIndex } from './source-index.ts';
import { FakeClock, settle } from './testing/fake-clock.ts';
import { FakeCluster } from './testing/fakes.ts';

interface Ref extends KubernetesObject {
  spec?: { workload?: string };
}
const identity = (name: string, workload?: string): Ref => ({
  metadata: { name, namespace: 'ns' },
  spec: workload ? { workload } : {},
});

async function indexed(
  keysOf: (o: Ref) => string[] = (o) => (o.spec?.workload ? [`ns/${o.spec.workload}`] : []),
) {
  const cluster = new FakeCluster<Ref>();
  const source = new InformerSource({
    name: 'refs',
    create: cluster.informer,
    clock: new FakeClock(),
    maxSilenceMs: 0,
  });
  const index = new SourceIndex(source, keysOf);
  return { cluster, source, index };
}

describe('SourceIndex', () => {
  it('finds the objects that refer to a key, from the initial list and later changes', async () => {
    const { cluster, source, index } = await indexed();
    cluster.put(identity('a', 'web'));
    cluster.put(identity('b', 'web'));
    cluster.put(identity('c', 'db'));
    await source.start();
    cluster.put(identity('d', 'web'));
    await settle();
    expect(index.keys('ns/web').sort()).toEqual(['ns/a', 'ns/b', 'ns/d']);
    expect(index.lookup('ns/db').map((o) => o.metadata?.name)).toEqual(['c']);
  });

  it('moves an object whose key changed and drops one that was deleted', async () => {
    const { cluster, source, index } = await indexed();
    cluster.put(identity('a', 'web'));
    cluster.put(identity('b', 'web'));
    await source.start();
    cluster.put(identity('a', 'db'));
    cluster.remove('ns/b');
    cluster.put(identity('c'));
    await settle();
    expect(index.keys('ns/web')).toEqual([]);
    expect(index.keys('ns/db')).toEqual(['ns/a']);
  });

  it('keeps an object under several keys, and a key through one, many and one member again', async () => {
    const { cluster, source, index } = await indexed((o) =>
      (o.spec?.workload ?? '').split(',').filter(Boolean),
    );
    await source.start();
    cluster.put(identity('a', 'web,db'));
    cluster.put(identity('a', 'web,db'));
    cluster.put(identity('b', 'web'));
    await settle();
    expect(index.keys('web').sort()).toEqual(['ns/a', 'ns/b']);
    expect(index.keys('db')).toEqual(['ns/a']);
    cluster.put(identity('a', 'db'));
    await settle();
    expect(index.keys('web')).toEqual(['ns/b']);
    cluster.put(identity('c', 'web'));
    cluster.remove('ns/b');
    await settle();
    expect(index.lookup('web').map((o) => o.metadata?.name)).toEqual(['c']);
    cluster.remove('ns/a');
    cluster.remove('ns/c');
    await settle();
    expect([index.keys('web'), index.keys('db')]).toEqual([[], []]);
  });
});
