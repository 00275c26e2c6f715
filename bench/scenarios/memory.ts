// (f) The operator's resident memory with a population Ready: its identities, their Deployments,
// ServiceAccounts, Roles, RoleBindings and Secrets all in the cluster. Read from /proc (VmRSS, and
// VmHWM: the peak since the process started, reached while provisioning).

import { setTimeout as sleep } from 'node:timers/promises';
import { OPERATOR_NODE_FLAGS } from '../../src/dev/node/images.ts';
import { metricSum } from '../operator-process.ts';
import type { Context, Population } from './context.ts';

export async function measureMemory(ctx: Context, population: Population): Promise<void> {
  // Let the provisioning garbage settle into one steady reading.
  await sleep(ctx.options.quick ? 2_000 : 15_000);
  const { rssMiB, peakMiB, anonMiB, fileMiB } = population.operator.memory();
  const metrics = await population.operator.metrics();
  const mib = (name: string) => (metricSum(metrics, name) / 2 ** 20).toFixed(0);
  const heapMiB = mib('nodejs_heap_size_used_bytes');
  ctx.progress(
    `(f) ${population.size} identities: RSS ${rssMiB.toFixed(0)} MiB (peak ${peakMiB.toFixed(0)} MiB)`,
  );
  ctx.results.add(`f.rss.${population.size}`, rssMiB);
  ctx.results.add(`f.peak.${population.size}`, peakMiB);
  ctx.results.note(
    '(f) memory',
    `- run ${ctx.run}, ${population.size} identities Ready: RSS ${rssMiB.toFixed(0)} MiB (anonymous ${anonMiB.toFixed(0)}, file-backed ${fileMiB.toFixed(0)}), peak ${peakMiB.toFixed(0)} MiB; V8 heap used ${heapMiB} of ${mib('nodejs_heap_size_total_bytes')} MiB, external ${mib('nodejs_external_memory_bytes')} MiB; run under ${population.operator.limit}, ${ctx.options.operatorBuild === 'tsc' ? "tsc's dist/main.js" : 'the image bundle'} with ${ctx.options.nodeOptions !== undefined ? `NODE_OPTIONS ${ctx.options.nodeOptions}` : `the image's ${OPERATOR_NODE_FLAGS.join(' ')}`}.`,
  );
  if (ctx.options.heapSnapshot !== undefined) {
    const file = await population.operator.heapSnapshot();
    ctx.progress(
      `(f) ${population.size} identities: heap snapshot ${file} (npx tsx bench/heap-summary.ts ${file})`,
    );
  }
}

/**
 * RSS at `target` identities from measured populations (the synced, empty operator counts as size 0),
 * by a straight line through the smallest and the largest; undefined with fewer than two sizes.
 */
export function extrapolate(points: ReadonlyArray<[number, number]>, target: number): number | undefined {
  if (points.length < 2) return undefined;
  const sorted = [...points].sort((a, b) => a[0] - b[0]);
  const [x0, y0] = sorted[0] as [number, number];
  const [x1, y1] = sorted.at(-1) as [number, number];
  if (x1 === x0) return undefined;
  return y0 + ((y1 - y0) / (x1 - x0)) * (target - x0);
}
