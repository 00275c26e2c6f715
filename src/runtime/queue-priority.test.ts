import { describe, expect, it } from 'vitest';
import { WorkQueue } from './queue.ts';
import { FakeClock } from './testing/fake-clock.ts';

function queueWithClock(lowPriorityMaxWaitMs = 10_000) {
  const clock = new FakeClock();
  return { clock, queue: new WorkQueue({ clock, lowPriorityMaxWaitMs }) };
}

/** Takes `n` keys, marking each done at once. */
async function takeAll(queue: WorkQueue, n = queue.len()): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = (await queue.get()) ?? '';
    out.push(key);
    queue.done(key);
  }
  return out;
}

describe('WorkQueue priorities', () => {
  it('hands out a high-priority key before low ones queued earlier', async () => {
    const { queue } = queueWithClock();
    for (let i = 0; i < 1000; i++) queue.add(`ns/resync-${i}`, 'low');
    queue.add('ns/changed', 'high');
    expect(await queue.get()).toBe('ns/changed');
    expect(queue.lenAt('low')).toBe(1000);
  });

  it('queues a key added at both levels once, at the higher, joining the high line when promoted', async () => {
    const { queue } = queueWithClock();
    queue.add('ns/a', 'low');
    queue.add('ns/b', 'high');
    queue.add('ns/a', 'high');
    queue.add('ns/b', 'low');
    expect(queue.len()).toBe(2);
    expect(queue.lenAt('high')).toBe(2);
    expect(await takeAll(queue)).toEqual(['ns/b', 'ns/a']);
  });

  it('re-queues a key re-added while processing at the level it was re-added with', async () => {
    const { queue } = queueWithClock();
    queue.add('ns/a', 'low');
    queue.add('ns/busy', 'high');
    const busy = await queue.get();
    expect(busy).toBe('ns/busy');
    queue.add('ns/busy', 'low');
    queue.add('ns/busy', 'high');
    queue.done('ns/busy');
    expect(await takeAll(queue)).toEqual(['ns/busy', 'ns/a']);
  });

  it('lets a low key that waited its bound take every other turn, so a stream of events never starves it', async () => {
    const { clock, queue } = queueWithClock(5_000);
    queue.add('ns/low-1', 'low');
    queue.add('ns/low-2', 'low');
    for (let i = 0; i < 4; i++) queue.add(`ns/event-${i}`, 'high');
    expect(await takeAll(queue, 1)).toEqual(['ns/event-0']);
    await clock.advance(5_000);
    expect(await takeAll(queue, 5)).toEqual([
      'ns/low-1',
      'ns/event-1',
      'ns/low-2',
      'ns/event-2',
      'ns/event-3',
    ]);
  });

  it('serves low keys in order when nothing else waits', async () => {
    const { queue } = queueWithClock();
    for (const k of ['ns/c', 'ns/a', 'ns/b']) queue.add(k, 'low');
    expect(await takeAll(queue)).toEqual(['ns/c', 'ns/a', 'ns/b']);
  });
});
