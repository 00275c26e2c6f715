// (a) N identities applied at once → all Ready, against the floor: a plain client making the writes
// the operator makes for each identity (the AgentIdentity itself, its ServiceAccount, Role,
// RoleBinding, Secret and one status write) with the same concurrency, in the same run. The operator
// is running (synced) before the first apply; the clock stops when the last identity is Ready.
// The population stays: the scenarios (c)-(f) run on it.

import {
  AGENT_IDENTITIES,
  BENCH_RULES,
  benchIdentity,
  ConditionClock,
  createDeployments,
  createIdentity,
  createNamespace,
  deleteNamespace,
  names,
  patchPlainStatus,
  pool,
  withRetry,
} from '../cluster.ts';
import { startBenchOperator } from '../operator-process.ts';
import { percentile } from '../stats.ts';
import { tally } from '../traffic.ts';
import { type Context, operatorFlags, type Population, seconds } from './context.ts';
import { plainQuarantineMs } from './quarantine.ts';

/**
 * The plain client: per identity the six writes, one after another; `concurrency` identities at a time.
 * Then, untimed by this figure, the floor of (d) on the first `quarantines` of what it made.
 */
export async function plainClientMs(ctx: Context, size: number, quarantines = 0): Promise<number> {
  const { env } = ctx;
  ctx.progress(`(a) plain client: ${size} identities × 6 writes, ${ctx.options.workers} at a time`);
  const namespace = `bench-plain-${size}-r${ctx.run}`;
  await createNamespace(env, namespace);
  const ids = names('agent', size);
  const started = performance.now();
  await pool(ids, ctx.options.workers, async (name) => {
    const created = (await withRetry(() =>
      env.custom.createNamespacedCustomObject({
        ...AGENT_IDENTITIES,
        namespace,
        body: benchIdentity(name, namespace),
      }),
    )) as { metadata: { resourceVersion: string } };
    await withRetry(() =>
      env.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }),
    );
    await withRetry(() =>
      env.rbac.createNamespacedRole({
        namespace,
        body: { metadata: { name: `nhi-${name}` }, rules: BENCH_RULES },
      }),
    );
    await withRetry(() =>
      env.rbac.createNamespacedRoleBinding({
        namespace,
        body: {
          metadata: { name: `nhi-${name}` },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `nhi-${name}` },
          subjects: [{ kind: 'ServiceAccount', name, namespace }],
        },
      }),
    );
    await withRetry(() =>
      env.core.createNamespacedSecret({
        namespace,
        body: { metadata: { name: `${name}-key` }, stringData: { key: 'x'.repeat(40) } },
      }),
    );
    await withRetry(() =>
      patchPlainStatus(
        env,
        namespace,
        name,
        { type: 'Ready', reason: 'Provisioned' },
        created.metadata.resourceVersion,
      ),
    );
  });
  const elapsed = performance.now() - started;
  if (quarantines > 0) {
    ctx.progress(`(d) plain client: ${quarantines} quarantines × 4 writes, ${ctx.options.workers} at a time`);
    const quarantineMs = await plainQuarantineMs(ctx, namespace, ids.slice(0, quarantines));
    ctx.progress(`(d) plain client took ${seconds(quarantineMs).toFixed(1)} s`);
    ctx.results.add(`d.plain.${quarantines}`, seconds(quarantineMs));
  }
  // Nothing of the plain client may be left for the operator to find.
  await deleteNamespace(env, namespace, ctx.progress);
  return elapsed;
}

export async function applyAtOnce(ctx: Context, size: number): Promise<Population> {
  const { env, progress, results } = ctx;
  const { only, sizes, deletions } = ctx.options;
  const quarantines =
    only.includes('quarantine') && size === Math.max(...sizes) ? Math.min(deletions, size) : 0;
  // The floor is measured only where a figure divides by it: (a) itself, and (d)'s.
  const plainMs =
    only.includes('apply') || quarantines > 0 ? await plainClientMs(ctx, size, quarantines) : undefined;
  if (plainMs !== undefined) progress(`(a) plain client took ${seconds(plainMs).toFixed(1)} s`);

  const namespace = `bench-pop-${size}-r${ctx.run}`;
  await createNamespace(env, namespace);
  const ids = names('agent', size);
  progress(`(a) creating ${size} Deployments (not timed)`);
  await createDeployments(env, namespace, ids, 8);
  const operator = startBenchOperator(env, operatorFlags(ctx));
  const port = await operator.port();
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // The fixed part of (f): the process synced, before any identity of this population exists.
  results.add('f.rss.start', operator.memory().rssMiB);
  const clock = new ConditionClock(env, namespace);
  await clock.start();
  progress(`(a) applying ${size} identities, ${ctx.options.workers} at a time, the operator running`);
  const from = Date.now();
  const createdAt = new Map<string, number>();
  await pool(ids, ctx.options.workers, async (name) => {
    createdAt.set(name, Date.now());
    await createIdentity(env, benchIdentity(name, namespace));
  });
  const appliedMs = Date.now() - from;
  await clock.until('Ready', ids, Math.max(600_000, size * 2_000), (m) => progress(`(a) ${m}`));
  const lastReady = Math.max(...ids.map((n) => clock.at('Ready', n) ?? 0));
  const operatorMs = lastReady - from;
  const perIdentity = ids.map((n) => (clock.at('Ready', n) ?? 0) - (createdAt.get(n) ?? from));
  progress(
    `(a) all ${size} Ready after ${seconds(operatorMs).toFixed(1)} s${plainMs === undefined ? '' : ` (plain client ${seconds(plainMs).toFixed(1)} s)`}`,
  );

  results.add(`a.operator.${size}`, seconds(operatorMs));
  if (plainMs !== undefined) {
    results.add(`a.plain.${size}`, seconds(plainMs));
    results.add(`a.ratio.${size}`, operatorMs / plainMs);
  }
  const calls = env.kubeProxy.between(from, lastReady + 1);
  const writes = calls.filter((c) => c.write).length;
  results.note(
    '(a) applied at once: where the time goes',
    `- run ${ctx.run}, ${size} identities: applying them took ${seconds(appliedMs).toFixed(1)} s; per identity, create → Ready p50 ${seconds(percentile(perIdentity, 50)).toFixed(1)} s, p99 ${seconds(percentile(perIdentity, 99)).toFixed(1)} s; the operator made ${(calls.length / size).toFixed(1)} apiserver requests per identity (${(writes / size).toFixed(1)} writes) against the plain client's 6 writes. Top requests: ${tally(
      calls,
      (c) => `${c.verb} ${c.what}`,
    )
      .slice(0, 8)
      .map(([k, v]) => `${k} ${(v / size).toFixed(1)}`)
      .join(', ')} (per identity).`,
  );
  return { size, namespace, names: ids, operator, clock };
}

export async function dropPopulation(ctx: Context, population: Population): Promise<void> {
  population.clock.stop();
  await population.operator.stop();
  ctx.progress(`removing the population of ${population.size} (namespace ${population.namespace})`);
  await deleteNamespace(ctx.env, population.namespace, ctx.progress);
}
