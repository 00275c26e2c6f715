// What every scenario is given: the environment, the options, where results go, a progress line, and
// which repetition this is (namespaces are named per run so leftovers never collide).

import type { BenchEnv, ConditionClock, Progress } from '../cluster.ts';
import { chartMemoryLimit, quantityBytes } from '../memory-limit.ts';
import type { BenchOperator, OperatorOptions } from '../operator-process.ts';
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

/**
 * The operator's flags in every scenario: the defaults a user gets, with the 4 workers, under
 * the chart's memory limit (or --memory-limit's).
 */
export function operatorFlags(ctx: Context): OperatorOptions {
  return {
    workers: ctx.options.workers,
    server: ctx.env.kubeProxy.url,
    ...(ctx.options.nodeOptions !== undefined && { nodeOptions: ctx.options.nodeOptions }),
    build: ctx.options.operatorBuild,
    ...(ctx.options.heapSnapshot !== undefined && { heapSnapshotDir: ctx.options.heapSnapshot }),
    ...memoryLimitOf(ctx.options.memoryLimit),
  };
}

function memoryLimitOf(option: string | undefined): Pick<OperatorOptions, 'memoryLimit'> {
  if (option === 'none') return {};
  if (option === undefined) return { memoryLimit: chartMemoryLimit() };
  const bytes = quantityBytes(option);
  if (bytes === undefined) throw new Error(`--memory-limit: not a memory quantity: "${option}"`);
  return { memoryLimit: { quantity: option, bytes } };
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
