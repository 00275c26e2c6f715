import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { Controller, type Reconcile, watch } from './controller.ts';
import { ConflictError } from './errors.ts';
import { InformerSource } from './informer.ts';
import { objectKey, parseKey } from './keys.ts';
import { RuntimeMetrics } from './metrics.ts';
import { FakeClock, settle } from './testing/fake-clock.ts';
import { FakeCluster } from './testing/fakes.ts';

interface Thing extends KubernetesObject {
  spec?: { value?: number; owner?: string };
}

const thing = (name: string, spec: Thing['spec'] = {}): Thing => ({
  metadata: { name, namespace: 'ns' },
  spec,
});

type TestReconcile = (
  obj: Thing | undefined,
  key: string,
  ctx: Parameters<Reconcile>[1],
) => ReturnType<Reconcile>;

function setup(reconcile: TestReconcile, { workers = 2, resyncPeriodMs = 0 } = {}) {
  const clock = new FakeClock();
  const metrics = new RuntimeMetrics();
  const things = new FakeCluster<Thing>();
  const deployments = new FakeCluster<Thing>();
  const source = new InformerSource({ name: 'things', create: things.informer, clock, maxSilenceMs: 0 });
  const deploymentSource = new InformerSource({
    name: 'deps',
    create: deployments.informer,
    clock,
    maxSilenceMs: 0,
  });
  const calls: string[] = [];
  const controller = new Controller({
    name: 'things',
    workers,
    clock,
    metrics,
    resyncPeriodMs,
    // A secondary maps by name (as the operator's workload index does): the resync hands a map
    // nothing but the name and namespace.
    watches: [
      watch(source),
      watch(deploymentSource, (d) => {
        const owner = deployments.objects.get(objectKey(d))?.spec?.owner;
        return owner ? [`ns/${owner}`] : [];
      }),
    ],
    reconcile: async (key, ctx) => {
      calls.push(key);
      const { name, namespace } = parseKey(key);
      return reconcile(source.get(name, namespace), key, ctx);
    },
  });
  const result = (r: string) =>
    metrics.value('controller_runtime_reconcile_total', { controller: 'things', result: r });
  return { clock, metrics, things, deployments, controller, calls, result };
}

describe('Controller', () => {
  it('starts workers only once its sources have synced, then reconciles every listed object', async () => {
    const env = setup(async () => {});
    env.things.put(thing('a'));
    env.things.nextStarts.push('fail');
    const started = env.controller.start();
    await settle();
    expect(env.controller.hasSynced()).toBe(false);
    expect(env.calls).toEqual([]);
    await env.clock.advance(1000);
    await started;
    await settle();
    expect(env.controller.hasSynced()).toBe(true);
    expect(env.calls).toEqual(['ns/a']);
    await env.controller.stop();
  });

  it('coalesces 500 updates made during a reconcile and ends with the latest state', async () => {
    const seen: number[] = [];
    const env = setup(async (obj) => {
      seen.push(obj?.spec?.value ?? -1);
      await settle(1);
    });
    env.things.put(thing('busy', { value: 0 }));
    await env.controller.start();
    for (let v = 1; v <= 500; v++) {
      env.things.put(thing('busy', { value: v }));
      if (v % 100 === 0) await settle(1);
    }
    await settle(10);
    expect(seen.length).toBeLessThan(20);
    expect(seen.at(-1)).toBe(500);
    await env.controller.stop();
  });

  it('retries a throwing key with growing backoff while other keys keep being served', async () => {
    const env = setup(async (obj, key) => {
      if (key === 'ns/bad') throw new TypeError('spec.value is not a number');
      void obj;
    });
    env.things.put(thing('bad'));
    await env.controller.start();
    await settle();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const due = env.controller.queue.scheduledAt('ns/bad')!;
      delays.push(due - env.clock.now());
      env.things.put(thing(`good-${i}`));
      await settle();
      await env.clock.advance(due - env.clock.now());
    }
    expect(delays).toEqual([5, 10, 20, 40, 80, 160]);
    expect(env.calls.filter((k) => k.startsWith('ns/good'))).toHaveLength(6);
    expect(await env.result('error')).toBe(7);
    expect(await env.metrics.value('workqueue_retries_total', { name: 'things' })).toBe(7);
    expect(await env.metrics.value('controller_runtime_reconcile_errors_total')).toBe(7);
    await env.controller.stop();
  });

  it('forgets the backoff after a success and schedules the requested re-add', async () => {
    let fail = true;
    const env = setup(async () => {
      if (fail) throw new Error('transient');
      return { requeueAfterMs: 3_600_000 };
    });
    env.things.put(thing('a'));
    await env.controller.start();
    await settle();
    fail = false;
    await env.clock.advance(5);
    expect(env.controller.queue.failures('ns/a')).toBe(0);
    expect(env.controller.queue.scheduledAt('ns/a')).toBe(env.clock.now() + 3_600_000);
    await env.clock.advance(3_600_000);
    expect(env.calls).toEqual(['ns/a', 'ns/a', 'ns/a']);
    expect(await env.result('requeue_after')).toBe(2);
    await env.controller.stop();
  });

  it('treats a conflict as a quiet requeue', async () => {
    let conflicts = 1;
    const env = setup(async () => {
      if (conflicts-- > 0) throw new ConflictError('stale');
    });
    env.things.put(thing('a'));
    await env.controller.start();
    await settle();
    await env.clock.advance(5);
    expect(await env.result('conflict')).toBe(1);
    expect(await env.result('error')).toBe(0);
    expect(await env.result('success')).toBe(1);
    await env.controller.stop();
  });

  it('maps a change of a secondary kind to the primary that refers to it', async () => {
    const env = setup(async () => {});
    await env.controller.start();
    env.deployments.put(thing('web', { owner: 'bot' }));
    env.deployments.put(thing('unowned'));
    await settle();
    expect(env.calls).toEqual(['ns/bot']);
    await env.controller.stop();
  });

  it('re-enqueues every cached object each resync period', async () => {
    const env = setup(async () => {}, { resyncPeriodMs: 60_000 });
    env.things.put(thing('a'));
    env.things.put(thing('b'));
    await env.controller.start();
    await settle();
    await env.clock.advance(60_000);
    expect(env.calls.sort()).toEqual(['ns/a', 'ns/a', 'ns/b', 'ns/b']);
    await env.controller.stop();
  });

  it('never reconciles one key on two workers at once', async () => {
    let active = 0;
    let overlaps = 0;
    const env = setup(
      async () => {
        if (++active > 1) overlaps++;
        await settle(1);
        active--;
      },
      { workers: 8 },
    );
    await env.controller.start();
    for (let i = 0; i < 200; i++) {
      env.things.put(thing('one', { value: i }));
      if (i % 7 === 0) await settle(1);
    }
    await settle(10);
    expect(overlaps).toBe(0);
    await env.controller.stop();
  });

  it('on stop finishes in-flight reconciles and takes no new work', async () => {
    let release: () => void = () => {};
    const env = setup(async () => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    env.things.put(thing('slow'));
    await env.controller.start();
    await settle();
    const stopped = env.controller.stop(10_000);
    env.things.put(thing('late'));
    await settle();
    release();
    expect(await stopped).toBe(true);
    expect(env.calls).toEqual(['ns/slow']);
  });

  it('aborts reconciles still in flight when the stop deadline passes', async () => {
    let aborted = false;
    const env = setup(async (_obj, _key, { signal }) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      aborted = true;
    });
    env.things.put(thing('stuck'));
    await env.controller.start();
    await settle();
    const stopped = env.controller.stop(5_000);
    await env.clock.advance(5_000);
    expect(await stopped).toBe(false);
    expect(aborted).toBe(true);
  });
});

describe('Controller priorities and resync spread', () => {
  it('spreads the resync over its period, each key once per period', async () => {
    const env = setup(async () => {}, { resyncPeriodMs: 60_000 });
    for (let i = 0; i < 60; i++) env.things.put(thing(`t${i}`));
    await env.controller.start();
    await settle();
    const initial = env.calls.length;
    const perTick: number[] = [];
    for (let s = 0; s < 60; s++) {
      const before = env.calls.length;
      await env.clock.advance(1_000);
      perTick.push(env.calls.length - before);
    }
    expect(initial).toBe(60);
    expect(env.calls.length - initial).toBe(60);
    expect(new Set(env.calls.slice(initial)).size).toBe(60);
    expect(Math.max(...perTick)).toBeLessThan(60);
    await env.controller.stop();
  });

  it('reconciles a change before a resync backlog', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const env = setup(
      async (_obj, key) => {
        if (key === 'ns/t0') await gate;
      },
      { workers: 1 },
    );
    for (let i = 0; i < 20; i++) env.things.put(thing(`t${i}`));
    await env.controller.start();
    await settle();
    env.things.put(thing('t15', { value: 2 }));
    await settle();
    release();
    await settle();
    expect(env.calls.slice(0, 2)).toEqual(['ns/t0', 'ns/t15']);
    await env.controller.stop();
  });
});
