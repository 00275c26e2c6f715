// (c) New identities while the population exists: created one after another, spread over one and a
// quarter resync periods so that some arrive while the periodic resync of every identity is being
// worked through (the operator's default 60 s). Each is timed from its create to Ready.

import { setTimeout as sleep } from 'node:timers/promises';
import { benchIdentity, createDeployments, createIdentity, names } from '../cluster.ts';
import { percentile } from '../stats.ts';
import { type Context, DEFAULT_RESYNC_MS, LATENCY_WAIT_MS, type Population, seconds } from './context.ts';

export async function newUnderLoad(ctx: Context, population: Population): Promise<void> {
  const { env, options, progress, results } = ctx;
  const count = options.newIdentities;
  const ids = names('late', count);
  await createDeployments(env, population.namespace, ids, 8);
  const gapMs = (1.25 * DEFAULT_RESYNC_MS) / count;
  progress(`(c) ${count} new identities among ${population.size}, one every ${(gapMs / 1000).toFixed(1)} s`);
  const createdAt = new Map<string, number>();
  for (const name of ids) {
    const next = Date.now() + gapMs;
    createdAt.set(name, Date.now());
    await createIdentity(env, benchIdentity(name, population.namespace));
    await sleep(Math.max(0, next - Date.now()));
  }
  const missing = await population.clock.untilOrTimeout('Ready', ids, LATENCY_WAIT_MS, (m) =>
    progress(`(c) ${m}`),
  );
  const gaveUp = Date.now();
  const latencies = ids.map((n) => (population.clock.at('Ready', n) ?? gaveUp) - (createdAt.get(n) ?? 0));
  const bound =
    missing > 0
      ? ` (at least: ${missing} of ${count} still not Ready when the benchmark stopped waiting)`
      : '';
  if (missing > 0) results.add(`c.missing.${population.size}`, missing);
  const p99 = percentile(latencies, 99);
  progress(
    `(c) new identity → Ready: p50 ${seconds(percentile(latencies, 50)).toFixed(1)} s, p99 ${seconds(p99).toFixed(1)} s`,
  );
  results.add(`c.p99.${population.size}`, seconds(p99));
  results.add(`c.count.${population.size}`, count);
  results.note(
    '(c) a new identity under load',
    `- run ${ctx.run}, ${count} new among ${population.size}: create → Ready p50 ${seconds(percentile(latencies, 50)).toFixed(1)} s, p99 ${seconds(p99).toFixed(1)} s, max ${seconds(Math.max(...latencies)).toFixed(1)} s${bound}.`,
  );
  population.names.push(...ids);
}
