// (d) Workloads deleted at once: the Deployments of D identities (orphanGracePeriod 0s) deleted in
// parallel; each identity timed from its Deployment's delete to Quarantined=True. The floor, measured
// in the same run, before the operator starts (apply.ts): a plain client making the writes a quarantine
// cannot do without (the ServiceAccount marked, the RoleBinding deleted, the Secret emptied, the status
// written) on what (a)'s plain client made, one after another per identity, as many identities at a
// time as the operator has workers.

import * as k8s from '@kubernetes/client-node';
import { patchPlainStatus, pool, withRetry } from '../cluster.ts';
import { percentile } from '../stats.ts';
import { tally } from '../traffic.ts';
import { type Context, LATENCY_WAIT_MS, type Population, seconds } from './context.ts';

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/**
 * The plain client's quarantine of `ids` in `namespace` (what (a)'s plain client made there, before the
 * operator runs): 4 writes each, one after another, `workers` identities at a time.
 */
export async function plainQuarantineMs(
  ctx: Context,
  namespace: string,
  ids: readonly string[],
): Promise<number> {
  const { env } = ctx;
  const started = performance.now();
  await pool(ids, ctx.options.workers, async (name) => {
    const marked = { metadata: { annotations: { 'bench/quarantined': 'true' } } };
    await withRetry(() => env.core.patchNamespacedServiceAccount({ namespace, name, body: marked }, MERGE));
    await withRetry(() => env.rbac.deleteNamespacedRoleBinding({ namespace, name: `nhi-${name}` }));
    await withRetry(() =>
      env.core.patchNamespacedSecret(
        { namespace, name: `${name}-key`, body: { data: null, ...marked } },
        MERGE,
      ),
    );
    await withRetry(() =>
      patchPlainStatus(env, namespace, name, { type: 'Quarantined', reason: 'Orphaned' }),
    );
  });
  return performance.now() - started;
}

export async function quarantineAtOnce(ctx: Context, population: Population): Promise<void> {
  const { env, options, progress, results } = ctx;
  const victims = population.names.slice(0, Math.min(options.deletions, population.names.length));
  progress(`(d) deleting ${victims.length} Deployments at once among ${population.size} identities`);
  const deletedAt = new Map<string, number>();
  const from = Date.now();
  await pool(victims, 50, async (name) => {
    deletedAt.set(name, Date.now());
    await withRetry(() => env.apps.deleteNamespacedDeployment({ namespace: population.namespace, name }));
  });
  const missing = await population.clock.untilOrTimeout('Quarantined', victims, LATENCY_WAIT_MS, (m) =>
    progress(`(d) ${m}`),
  );
  const gaveUp = Date.now();
  const calls = env.kubeProxy.between(from, gaveUp + 1);
  const per = (n: number) => (n / victims.length).toFixed(1);
  const top = tally(calls, (c) => `${c.verb} ${c.what}`)
    .slice(0, 8)
    .map(([what, n]) => `${what} ${per(n)}`)
    .join(', ');
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
    `- run ${ctx.run}, ${victims.length} Deployments deleted among ${population.size} identities: delete → Quarantined p50 ${seconds(percentile(latencies, 50)).toFixed(1)} s, p99 ${seconds(p99).toFixed(1)} s, max ${seconds(Math.max(...latencies)).toFixed(1)} s${bound}; the operator made ${per(calls.length)} apiserver requests per quarantined identity (${per(calls.filter((c) => c.write).length)} writes) meanwhile: ${top}.`,
  );
}
