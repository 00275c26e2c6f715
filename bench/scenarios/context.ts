// What every scenario is given: the environment, the options, where results go, a progress line, and
// which repetition this is (namespaces are named per run so leftovers never collide).

import type { BenchEnv, ConditionClock, Progress } from '../cluster.ts';
import type { BenchOperator } from '../operator-process.ts';
import type { BenchOptions } from '../options.ts';
import type { Results } from '../results.ts';

export interface Context {
  env: BenchEnv;
  options: BenchOptions;
  results: Results;
  progress: Progress;
  run: number;
}

/** N Ready identities, each bound to its Deployment, and the operator process that made them. */
export interface Population {
  size: number;
  namespace: string;
  names: string[];
  operator: BenchOperator;
  clock: ConditionClock;
}

/** The operator's flags in every scenario: the defaults a user gets, with the 4 workers. */
export function operatorFlags(ctx: Context): { workers: number; server: string } {
  return { workers: ctx.options.workers, server: ctx.env.kubeProxy.url };
}

export const DEFAULT_RESYNC_MS = 60_000;

export function seconds(ms: number): number {
  return ms / 1000;
}

/**
 * How long (c) and (d) wait for their identities. One still waiting then is counted at this bound, and
 * the figure is reported as a lower bound ("at least"): a scenario never fails the whole run.
 */
export const LATENCY_WAIT_MS = 300_000;
