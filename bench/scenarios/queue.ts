// The work queue's coalescing, in process: 200,000 adds over 50 hot keys, each processed item costing
// ~2k square roots, against a plain FIFO that processes every add. Kept from the first benchmark.

import { WorkQueue } from '../../src/runtime/queue.ts';
import type { Context } from './context.ts';

export async function queueBurst(ctx: Context): Promise<void> {
  const adds = 200_000;
  const keys = 50;
  const work = () => {
    let x = 0;
    for (let i = 0; i < 2_000; i++) x += Math.sqrt(i);
    return x;
  };
  let started = performance.now();
  const fifo: string[] = [];
  for (let i = 0; i < adds; i++) fifo.push(`ns/key-${i % keys}`);
  let plainProcessed = 0;
  // A read index, not shift(): shift() on a 200,000-element array is itself quadratic.
  for (let head = 0; head < fifo.length; head++) {
    void fifo[head];
    work();
    plainProcessed++;
  }
  const plainMs = performance.now() - started;
  const queue = new WorkQueue();
  let processed = 0;
  started = performance.now();
  for (let i = 0; i < adds; i++) queue.add(`ns/key-${i % keys}`);
  while (queue.len() > 0) {
    const key = await queue.get();
    if (key === undefined) break;
    work();
    processed++;
    queue.done(key);
  }
  const queueMs = performance.now() - started;
  queue.shutDown();
  ctx.results.add('queue.plain', plainMs);
  ctx.results.add('queue.queue', queueMs);
  ctx.results.note(
    'work queue',
    `- run ${ctx.run}: ${adds} adds over ${keys} keys: the FIFO processed ${plainProcessed} in ${plainMs.toFixed(0)} ms, the WorkQueue ${processed} in ${queueMs.toFixed(0)} ms.`,
  );
}
