import { describe, expect, it } from 'vitest';
import { WorkQueue } from './queue.ts';
import { FakeClock, settle } from './testing/fake-clock.ts';

function queueWithClock(options: ConstructorParameters<typeof WorkQueue>[0] = {}) {
  const clock = new FakeClock();
  return { clock, queue: new WorkQueue({ clock, ...options }) };
}

/** Runs `workers` loops that process keys with `work` until the queue shuts down. */
function runWorkers(queue: WorkQueue, workers: number, work: (key: string) => Promise<void>) {
  return Promise.all(
    Array.from({ length: workers }, async () => {
      for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
        try {
          await work(key);
        } finally {
          queue.done(key);
        }
      }
    }),
  );
}

describe('WorkQueue', () => {
  it('holds a key once however often it is added', async () => {
    const { queue } = queueWithClock();
    for (let i = 0; i < 3; i++) queue.add('ns/a');
    queue.add('ns/b');
    expect(queue.len()).toBe(2);
    expect(await queue.get()).toBe('ns/a');
    expect(await queue.get()).toBe('ns/b');
  });

  it('coalesces 500 adds made while the key is processing and ends with the latest state', async () => {
    const { queue } = queueWithClock();
    let version = 0;
    const seen: number[] = [];
    const workers = runWorkers(queue, 2, async () => {
      seen.push(version);
      await settle(1);
    });
    for (let i = 0; i < 500; i++) {
      version++;
      queue.add('ns/busy');
      if (i % 50 === 0) await settle(1);
    }
    await settle(10);
    queue.shutDown();
    await workers;
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.length).toBeLessThanOrEqual(25);
    expect(seen.at(-1)).toBe(500);
  });

  it('never hands a key to two workers at once, and processes every key after its last add', async () => {
    const { queue } = queueWithClock();
    const active = new Set<string>();
    const latest = new Map<string, number>();
    const processedAt = new Map<string, number>();
    let overlaps = 0;
    const workers = runWorkers(queue, 8, async (key) => {
      if (active.has(key)) overlaps++;
      active.add(key);
      processedAt.set(key, latest.get(key) ?? 0);
      await settle(1);
      active.delete(key);
    });
    for (let i = 0; i < 1000; i++) {
      const key = `ns/k${(i * 7) % 13}`;
      latest.set(key, i);
      queue.add(key);
      if (i % 17 === 0) await settle(1);
    }
    await settle(20);
    queue.shutDown();
    await workers;
    expect(overlaps).toBe(0);
    expect(processedAt).toEqual(latest);
  });

  it('requeues a key re-added during processing only after done()', async () => {
    const { queue } = queueWithClock();
    queue.add('ns/a');
    const key = await queue.get();
    queue.add('ns/a');
    expect(queue.len()).toBe(0);
    queue.done(key!);
    expect(queue.len()).toBe(1);
  });

  it('grows the backoff of a failing key exponentially up to the cap, and forget() resets it', async () => {
    const { clock, queue } = queueWithClock({ baseDelayMs: 5, maxDelayMs: 1000 });
    const delays: number[] = [];
    queue.add('ns/bad');
    for (let i = 0; i < 10; i++) {
      const key = (await queue.get())!;
      queue.addRateLimited(key);
      queue.done(key);
      delays.push(queue.scheduledAt(key)! - clock.now());
      await clock.advance(delays.at(-1)!);
    }
    expect(delays).toEqual([5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    expect(queue.failures('ns/bad')).toBe(10);
    queue.forget('ns/bad');
    await queue.get();
    queue.addRateLimited('ns/bad');
    expect(queue.scheduledAt('ns/bad')! - clock.now()).toBe(5);
  });

  it('delays retries by the global bucket once its burst is spent', () => {
    const { clock, queue } = queueWithClock({ baseDelayMs: 1, qps: 2, burst: 2 });
    for (const key of ['a', 'b', 'c', 'd']) queue.addRateLimited(key);
    const delays = ['a', 'b', 'c', 'd'].map((k) => queue.scheduledAt(k)! - clock.now());
    expect(delays).toEqual([1, 1, 500, 1000]);
  });

  it('re-adds a key when its deadline is due, keeping only the earliest deadline', async () => {
    const { clock, queue } = queueWithClock();
    queue.addAfter('ns/a', 1000);
    queue.addAfter('ns/a', 500);
    queue.addAfter('ns/a', 2000);
    expect(queue.scheduledAt('ns/a')).toBe(clock.now() + 500);
    await clock.advance(499);
    expect(queue.len()).toBe(0);
    await clock.advance(1);
    expect(queue.len()).toBe(1);
    await clock.advance(5000);
    expect(queue.len()).toBe(1);
    expect(clock.pending()).toBe(0);
  });

  it('keeps one timer however many keys wait, and adds each when its own deadline comes', async () => {
    const { clock, queue } = queueWithClock();
    for (let i = 1; i <= 100; i++) queue.addAfter(`ns/k${i}`, i * 10);
    queue.addAfter('ns/k100', 5);
    expect(clock.pending()).toBe(1);
    await clock.advance(5);
    expect(queue.len()).toBe(1);
    expect(await queue.get()).toBe('ns/k100');
    await clock.advance(495);
    expect(queue.len()).toBe(50);
    expect(queue.scheduledAt('ns/k51')).toBe(clock.now() + 10);
    await clock.advance(1000);
    expect(queue.len()).toBe(99);
    expect(clock.pending()).toBe(0);
  });

  it('holds back a deadline that fires while the key is processing until done()', async () => {
    const { clock, queue } = queueWithClock();
    queue.add('ns/a');
    await queue.get();
    queue.addAfter('ns/a', 10);
    await clock.advance(10);
    expect(queue.len()).toBe(0);
    queue.done('ns/a');
    expect(await queue.get()).toBe('ns/a');
  });

  it('on shutdown wakes idle workers, ignores adds, and drains only when in-flight work is done', async () => {
    const { clock, queue } = queueWithClock();
    queue.add('ns/a');
    queue.add('ns/b');
    queue.addAfter('ns/c', 100);
    const taken = await queue.get();
    const idleWorker = (async () => {
      await queue.get(); // ns/b
      return queue.get();
    })();
    await settle();
    queue.shutDown();
    queue.add('ns/d');
    expect(await idleWorker).toBeUndefined();
    expect(clock.pending()).toBe(0);
    let drained = false;
    const drain = queue.drain().then(() => {
      drained = true;
    });
    queue.done('ns/b');
    await settle();
    expect(drained).toBe(false);
    queue.done(taken!);
    await drain;
    expect(drained).toBe(true);
    expect(await queue.get()).toBeUndefined();
  });

  it('reports depth, adds, latency, work duration and retries', async () => {
    const seen = {
      depth: [] as number[],
      adds: 0,
      latency: [] as number[],
      work: [] as number[],
      retries: 0,
    };
    const { clock, queue } = queueWithClock({
      metrics: {
        depth: (n) => seen.depth.push(n),
        added: () => seen.adds++,
        latency: (s) => seen.latency.push(s),
        workDuration: (s) => seen.work.push(s),
        retried: () => seen.retries++,
      },
    });
    queue.add('ns/a');
    queue.add('ns/a');
    await clock.advance(250);
    const key = await queue.get();
    await clock.advance(1500);
    queue.addRateLimited(key!);
    queue.done(key!);
    expect(seen).toEqual({ depth: [1, 0], adds: 1, latency: [0.25], work: [1.5], retries: 1 });
  });
});
