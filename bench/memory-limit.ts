// The memory limit the operator runs under in the benchmark: the chart's own
// (`resources.limits.memory` in charts/nhi-operator/values.yaml), applied to the process as the
// kubelet applies it to the pod, with a memory cgroup. Node sizes its heap from that limit
// (process.constrainedMemory()); without one it sizes it from the machine's memory (4 GiB of heap on
// a 24 GiB machine) and keeps the garbage of a burst resident, which is not what a pod shows.

import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../src/dev/components.ts';

const CHART_VALUES = join(repoRoot, 'charts', 'nhi-operator', 'values.yaml');

const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
};

/** A Kubernetes memory quantity (`512Mi`, `1G`, `268435456`) in bytes; undefined if not one. */
export function quantityBytes(quantity: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(quantity.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (UNITS[match[2] ?? ''] as number));
}

/** The chart's memory limit for the operator container, in bytes. */
export function chartMemoryLimit(): { quantity: string; bytes: number } {
  const values = parse(readFileSync(CHART_VALUES, 'utf8')) as {
    resources?: { limits?: { memory?: string } };
  };
  const quantity = String(values.resources?.limits?.memory ?? '');
  const bytes = quantityBytes(quantity);
  if (bytes === undefined)
    throw new Error(`${CHART_VALUES}: resources.limits.memory is not a quantity: "${quantity}"`);
  return { quantity, bytes };
}

export interface MemoryCgroup {
  /** The file a process writes its pid to, to join. */
  procs: string;
  remove(): void;
}

/**
 * A child memory cgroup of this process's own with `bytes` as its limit (cgroup v1's memory
 * controller or cgroup v2), or the reason there cannot be one here (no root, no writable hierarchy).
 */
export function memoryCgroup(name: string, bytes: number): MemoryCgroup | { unavailable: string } {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  const v1 = lines.find((l) => /^\d+:memory:/.test(l));
  const v2 = lines.find((l) => l.startsWith('0::'));
  const attempt = (dir: string, limitFile: string): MemoryCgroup => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, limitFile), String(bytes));
    return {
      procs: join(dir, 'cgroup.procs'),
      remove: () => {
        try {
          rmdirSync(dir);
        } catch {
          // still has a process (it is being killed): the kernel keeps it until it is empty
        }
      },
    };
  };
  try {
    if (v1)
      return attempt(join('/sys/fs/cgroup/memory', v1.split(':')[2] ?? '/', name), 'memory.limit_in_bytes');
    if (v2) return attempt(join('/sys/fs/cgroup', v2.slice(3), name), 'memory.max');
    return { unavailable: 'no memory cgroup in /proc/self/cgroup' };
  } catch (error) {
    return { unavailable: error instanceof Error ? error.message : String(error) };
  }
}
