// (e) The population idle: nothing changes for the window (10 minutes; shorter in quick mode, scaled
// to an hour). Every request the operator makes in it is counted by the proxy in front of the
// apiserver: writes, all requests, and provider calls (ServiceAccounts, Roles, RoleBindings, Secrets),
// each per identity per hour. The window opens once the population is Ready, the apply is over and
// the operator has written nothing for 30 s (the Pods of the Deployments arrive after it).

import { setTimeout as sleep } from 'node:timers/promises';
import { httpsGet } from '../../src/dev/processes.ts';
import type { BenchEnv } from '../cluster.ts';
import { metricSum } from '../operator-process.ts';
import { tally } from '../traffic.ts';
import type { Context, Population } from './context.ts';

/** The window opens once the operator has written nothing for this long after the apply (at most the limit). */
const QUIET_MS = 30_000;
const SETTLE_LIMIT_MS = 5 * 60_000;

export async function idleWindow(ctx: Context, population: Population): Promise<void> {
  const { env, options, progress, results } = ctx;
  const windowMs = options.idleMs;
  // The apply's tail first: kube-controller-manager creates each Deployment's Pod only once its
  // ServiceAccount exists, with a backoff, and each Pod that arrives is a status change (boundPods).
  const settleFrom = Date.now();
  const lastWrite = () =>
    env.kubeProxy
      .between(settleFrom)
      .filter((c) => c.write)
      .at(-1)?.at ?? settleFrom;
  while (Date.now() - lastWrite() < QUIET_MS && Date.now() - settleFrom < SETTLE_LIMIT_MS) await sleep(2_000);
  const settledS = (Date.now() - settleFrom) / 1000;
  progress(`(e) settled after ${settledS.toFixed(0)} s (no write for ${QUIET_MS / 1000} s)`);
  progress(`(e) idling ${population.size} identities for ${(windowMs / 60_000).toFixed(1)} minutes`);
  const apiserverBefore = await apiserverRequests(env);
  const from = Date.now();
  const tick = Math.min(60_000, windowMs);
  while (Date.now() - from < windowMs) {
    await sleep(Math.min(tick, windowMs - (Date.now() - from)));
    const seen = env.kubeProxy.between(from).length;
    progress(`(e) ${((Date.now() - from) / 60_000).toFixed(1)} min: ${seen} requests so far`);
  }
  const to = Date.now();
  const apiserverAll = (await apiserverRequests(env)) - apiserverBefore;
  const calls = env.kubeProxy.between(from, to);
  const perHour = (count: number) => count / population.size / ((to - from) / 3_600_000);
  const writes = calls.filter((c) => c.write);
  const provider = calls.filter((c) => c.area === 'provider');
  results.add(`e.writes.${population.size}`, writes.length);
  results.add(`e.minutes.${population.size}`, (to - from) / 60_000);
  results.add(`e.requests.${population.size}`, perHour(calls.length));
  results.add(`e.provider.${population.size}`, perHour(provider.length));
  results.note(
    '(e) idle',
    `- run ${ctx.run}, ${population.size} identities for ${((to - from) / 60_000).toFixed(1)} min (opened ${settledS.toFixed(0)} s after the apply, once the operator had written nothing for ${QUIET_MS / 1000} s): ${calls.length} requests (${writes.length} writes): ${
      tally(calls, (c) => `${c.verb} ${c.what}`)
        .slice(0, 10)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }${
      writes.length > 0
        ? `; writes: ${tally(writes, (c) => `${c.verb} ${c.what}`)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`
        : ''
    }. The apiserver's own apiserver_request_total rose by ${apiserverAll.toFixed(0)} over the window (every client: kube-controller-manager, the benchmark's watch, the operator).`,
  );
}

/** The apiserver's apiserver_request_total, summed over every label (a cross-check of the proxy's count). */
async function apiserverRequests(env: BenchEnv): Promise<number> {
  const answer = await httpsGet(`${env.dev.apiserverUrl}/metrics`, {
    ca: env.dev.caPem,
    token: env.dev.adminToken,
  });
  return metricSum(answer.body, 'apiserver_request_total');
}
