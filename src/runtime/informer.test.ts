import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { InformerSource } from './informer.ts';
import { objectKey } from './keys.ts';
import { RuntimeMetrics } from './metrics.ts';
import { packer } from './packed.ts';
import { FakeClock, settle } from './testing/fake-clock.ts';
import { FakeCluster } from './testing/fakes.ts';

const obj = (name: string, namespace = 'ns'): KubernetesObject => ({ metadata: { name, namespace } });

function setup(options: { maxSilenceMs?: number } = {}) {
  const clock = new FakeClock();
  const cluster = new FakeCluster<KubernetesObject>();
  const metrics = new RuntimeMetrics();
  const source = new InformerSource({
    name: 'things',
    create: cluster.informer,
    clock,
    metrics,
    restartBaseMs: 1000,
    restartMaxMs: 8000,
    maxSilenceMs: options.maxSilenceMs ?? 120_000,
  });
  const seen: string[] = [];
  source.onChange((o) => seen.push(objectKey(o)));
  const restarts = (reason: string) =>
    metrics.value('nhi_watch_restarts_total', { source: 'things', reason });
  return { clock, cluster, source, seen, restarts };
}

describe('InformerSource', () => {
  it('reads, lists and emits objects its informer stores packed as the objects themselves', async () => {
    const { cluster, source } = setup();
    const full = { metadata: { name: 'a', namespace: 'ns', labels: { app: 'x' } } };
    const emitted: KubernetesObject[] = [];
    source.onChange((o) => emitted.push(o));
    // The second is packed against the first (runtime/packed.ts).
    const pack = packer();
    const first = { metadata: { name: 'first', namespace: 'ns', labels: { app: 'x' } } };
    cluster.put(pack(first));
    cluster.put(pack(full));
    await source.start();
    expect(source.get('a', 'ns')).toEqual(full);
    expect(source.list()).toEqual([first, full]);
    expect(emitted).toEqual([first, full]);
    await source.stop();
  });

  it('emits every listed object once synced, then each change', async () => {
    const { cluster, source, seen } = setup();
    cluster.put(obj('a'));
    cluster.put(obj('b'));
    await source.start();
    expect(source.hasSynced()).toBe(true);
    expect(seen).toEqual(['ns/a', 'ns/b']);
    cluster.put(obj('a'));
    cluster.remove('ns/b');
    expect(seen).toEqual(['ns/a', 'ns/b', 'ns/a', 'ns/b']);
    expect(source.get('b', 'ns')).toBeUndefined();
    await source.stop();
  });

  it('restarts a failed watch with a fresh informer after a backoff and catches up on what changed', async () => {
    const { clock, cluster, source, seen, restarts } = setup();
    cluster.put(obj('a'));
    cluster.put(obj('gone'));
    await source.start();
    const first = cluster.latest();
    first.fail();
    cluster.put(obj('a'));
    cluster.put(obj('new'));
    cluster.remove('ns/gone');
    seen.length = 0;
    expect(source.get('gone', 'ns')).toBeDefined(); // the old cache keeps serving meanwhile
    await clock.advance(999);
    expect(cluster.informers).toHaveLength(1);
    await clock.advance(1);
    expect(cluster.informers).toHaveLength(2);
    expect(seen.sort()).toEqual(['ns/a', 'ns/gone', 'ns/new']);
    expect(source.get('gone', 'ns')).toBeUndefined();
    expect(source.get('new', 'ns')).toBeDefined();
    expect(await restarts('error')).toBe(1);
    await source.stop();
  });

  it('retries a failing list with growing backoff until it succeeds', async () => {
    const { clock, cluster, source } = setup();
    cluster.nextStarts.push('fail', 'fail', 'fail');
    let synced = false;
    const started = source.start().then(() => {
      synced = true;
    });
    await settle();
    const launches: number[] = [];
    for (let t = 0; t < 8000 && !synced; t += 100) {
      await clock.advance(100);
      if (cluster.informers.length > launches.length + 1) launches.push(t + 100);
    }
    await started;
    expect(launches).toEqual([1000, 3000, 7000]);
    expect(source.hasSynced()).toBe(true);
    await source.stop();
  });

  it('restarts an informer whose start hangs', async () => {
    const { clock, cluster, source, restarts } = setup({ maxSilenceMs: 60_000 });
    cluster.nextStarts.push('hang');
    const started = source.start();
    await clock.advance(60_000);
    expect(await restarts('stalled')).toBe(1);
    await clock.advance(1000);
    await started;
    expect(source.hasSynced()).toBe(true);
    await source.stop();
  });

  it('does not restart a quiet watch that keeps hearing bookmarks (activity its informer reports)', async () => {
    const clock = new FakeClock();
    const cluster = new FakeCluster<KubernetesObject>();
    const metrics = new RuntimeMetrics();
    let activity = () => {};
    const source = new InformerSource({
      name: 'things',
      create: (heard) => {
        activity = heard;
        return cluster.informer();
      },
      clock,
      metrics,
      maxSilenceMs: 60_000,
    });
    await source.start();
    for (let i = 0; i < 10; i++) {
      await clock.advance(50_000);
      activity();
    }
    expect(await metrics.value('nhi_watch_restarts_total', { source: 'things', reason: 'stalled' })).toBe(0);
    await clock.advance(75_000);
    expect(await metrics.value('nhi_watch_restarts_total', { source: 'things', reason: 'stalled' })).toBe(1);
    await source.stop();
  });

  it('restarts a watch that went silent, but not one that keeps reconnecting', async () => {
    const { clock, cluster, source, restarts } = setup({ maxSilenceMs: 60_000 });
    await source.start();
    for (let i = 0; i < 10; i++) {
      await clock.advance(30_000);
      cluster.latest().reconnect();
    }
    expect(await restarts('stalled')).toBe(0);
    cluster.latest().stall();
    await clock.advance(75_000);
    expect(await restarts('stalled')).toBe(1);
    await clock.advance(1000);
    expect(cluster.informers).toHaveLength(2);
    cluster.put(obj('after'));
    expect(source.get('after', 'ns')).toBeDefined();
    await source.stop();
  });

  it('ignores the errors of informers it stopped itself, and stops restarting once stopped', async () => {
    const { clock, cluster, source, restarts } = setup();
    await source.start();
    await source.stop();
    expect(cluster.latest().stops).toBe(1);
    await clock.advance(600_000);
    expect(cluster.informers).toHaveLength(1);
    expect(await restarts('error')).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('keeps delivering to other handlers when one throws', async () => {
    const { cluster, source, seen } = setup();
    source.onChange(() => {
      throw new Error('boom');
    });
    cluster.put(obj('a'));
    await source.start();
    cluster.put(obj('b'));
    expect(seen).toEqual(['ns/a', 'ns/b']);
    await source.stop();
  });
});
