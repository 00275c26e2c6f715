// (d) Workloads deleted at once: the Deployments of D identities (orphanGracePeriod 0s) deleted in
// parallel; each identity timed from its Deployment's delete to Quarantined=True.

import { pool, withRetry } from '../cluster.ts';
import { percentile } from '../stats.ts';
import { type Context, LATENCY_WAIT_MS, type Population, seconds } from './context.ts';

export async function quarantineAtOnce(ctx: Context, population: Population): Promise<void> {
  const { env, options, progress, results } = ctx;
  const victims = population.names.slice(0, Math.min(options.deletions, population.names.length));
  progress(`(d) deleting ${victims.length} Deployments at once among ${population.size} identities`);
  const deletedAt = new Map<string, number>();
  await pool(victims, 50, async (name) => {
    deletedAt.set(name, Date.now());
    await withRetry(() => env.apps.deleteNamespacedDeployment({ namespace: population.namespace, name }));
  });
  const missing = await population.clock.untilOrTimeout('Quarantined', victims, LATENCY_WAIT_MS, (m) =>
    progress(`(d) ${m}`),
  );
  const gaveUp = Date.now();
  const latencies = victims.map(
    (n) => (population.clock.at('Quarantined', n) ?? gaveUp) - (deletedAt.get(n) ?? 0),
  );
  const bound =
    missing > 0
      ? ` (at least: ${missing} of ${victims.length} not yet Quarantined when the benchmark stopped waiting)`
      : '';
  if (missing > 0) results.add(`d.missing.${victims.length}`, missing);
  const p99 = percentile(latencies, 99);
  progress(
    `(d) Quarantined: p50 ${seconds(percentile(latencies, 50)).toFixed(1)} s, p99 ${seconds(p99).toFixed(1)} s`,
  );
  results.add(`d.p99.${victims.length}`, seconds(p99));
  results.note(
    '(d) workloads deleted at once',
    `- run ${ctx.run}, ${victims.length} Deployments deleted among ${population.size} identities: delete → Quarantined p50 ${seconds(percentile(latencies, 50)).toFixed(1)} s, p99 ${seconds(p99).toFixed(1)} s, max ${seconds(Math.max(...latencies)).toFixed(1)} s${bound}.`,
  );
}
