// (b) The operator starting with identities pending: P identities (and their Deployments) applied
// while no operator runs, then the process started; timed from its spawn to the first identity Ready,
// and on to the last.

import {
  benchIdentity,
  ConditionClock,
  createDeployments,
  createIdentity,
  createNamespace,
  deleteNamespace,
  names,
  pool,
} from '../cluster.ts';
import { startBenchOperator } from '../operator-process.ts';
import { type Context, operatorFlags, seconds } from './context.ts';

export async function firstReady(ctx: Context): Promise<void> {
  const { env, options, progress, results } = ctx;
  const pending = options.pending;
  const namespace = `bench-pending-${pending}-r${ctx.run}`;
  await createNamespace(env, namespace);
  const ids = names('agent', pending);
  progress(`(b) applying ${pending} identities and Deployments with no operator running`);
  await createDeployments(env, namespace, ids, 8);
  await pool(ids, 8, (name) => createIdentity(env, benchIdentity(name, namespace)));
  const clock = new ConditionClock(env, namespace);
  await clock.start();
  const operator = startBenchOperator(env, operatorFlags(ctx));
  try {
    progress('(b) operator started');
    while (clock.count('Ready', ids) === 0) {
      if (Date.now() - operator.startedAt > 600_000)
        throw new Error('(b) no identity Ready after 10 minutes');
      await new Promise((r) => setTimeout(r, 50));
    }
    const first = Math.min(...[...(clock.seen.get('Ready')?.values() ?? [])]) - operator.startedAt;
    progress(`(b) first Ready ${seconds(first).toFixed(1)} s after the start; waiting for all ${pending}`);
    await clock.until('Ready', ids, Math.max(600_000, pending * 2_000), (m) => progress(`(b) ${m}`));
    const last = Math.max(...ids.map((n) => clock.at('Ready', n) ?? 0)) - operator.startedAt;
    results.add(`b.first.${pending}`, seconds(first));
    results.add(`b.all.${pending}`, seconds(last));
    results.note(
      '(b) starting with identities pending',
      `- run ${ctx.run}, ${pending} pending: first Ready ${seconds(first).toFixed(1)} s after the process was spawned (it lists and watches before working), all Ready after ${seconds(last).toFixed(1)} s.`,
    );
  } finally {
    clock.stop();
    await operator.stop();
    await deleteNamespace(env, namespace, progress);
  }
}
