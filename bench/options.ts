// `npm run bench -- [options]`: what to run and at which sizes. Pure: parsed from argv, no I/O.

import { parseDuration } from '../src/api/v1alpha1/duration.ts';

/** The scenarios of issue 11's table, by the letter the issue gives them, plus the work-queue micro-benchmark. */
export const SCENARIOS = {
  apply: 'a: N identities applied at once → all Ready, vs a plain client doing the same writes',
  'first-ready': 'b: first identity Ready after the operator starts with pending identities',
  'new-under-load': 'c: a new identity while the population exists and a resync runs → Ready',
  quarantine: 'd: workloads deleted at once (orphanGracePeriod 0s) → Quarantined',
  idle: 'e: the population idle: writes, apiserver requests and provider calls per identity per hour',
  memory: 'f: operator RSS with the population, its workloads, ServiceAccounts, Roles and Secrets',
  aws: 'g: identities with AWS roles against moto: calls per identity, the write ceiling',
  queue: 'work queue: a burst of adds over a few hot keys, vs a plain FIFO',
} as const;

export type ScenarioId = keyof typeof SCENARIOS;

export interface BenchOptions {
  /** Sizes of scenario (a); the populations that (c)-(f) run on. */
  sizes: number[];
  repeat: number;
  only: ScenarioId[];
  quick: boolean;
  /** Operator workers, and the plain client's concurrency (the same, as the issue asks). */
  workers: number;
  /** Identities pending when the operator starts (b). */
  pending: number;
  /** Population size that (e) idles on (the nearest of `sizes`). */
  idleSize: number;
  idleMs: number;
  /** New identities created one after another while the largest population exists (c). */
  newIdentities: number;
  /** Workloads deleted at once (d). */
  deletions: number;
  /** AWS identities (g) and the provider's configured write ceiling. */
  awsIdentities: number;
  awsMaxWritesPerSecond: number;
  /** NODE_OPTIONS for the operator process (e.g. heap flags), in place of the image's Node.js flags. */
  nodeOptions: string | undefined;
  /** Which build of the operator runs: the image's bundle, or tsc's output (the npm package). */
  operatorBuild: 'bundle' | 'tsc';
  /** The memory limit the operator runs under: a quantity, 'none', or undefined for the chart's. */
  memoryLimit: string | undefined;
  /** Where (f) writes the operator's V8 heap snapshot at each size (read with bench/heap-summary.ts). */
  heapSnapshot: string | undefined;
  /** A running environment to use (`nhictl dev up` state folder); else one is started and stopped. */
  envDir: string | undefined;
  out: string;
  /** Write BENCHMARKS.md from a saved run (the JSON every run keeps) instead of measuring. */
  render: string | undefined;
  /** Where the measurements are kept as the run goes (for --render). */
  save: string;
}

export const FULL: Omit<
  BenchOptions,
  | 'only'
  | 'quick'
  | 'envDir'
  | 'nodeOptions'
  | 'operatorBuild'
  | 'memoryLimit'
  | 'heapSnapshot'
  | 'out'
  | 'render'
  | 'save'
> = {
  sizes: [1000, 5000],
  repeat: 1,
  workers: 4,
  pending: 1000,
  idleSize: 1000,
  idleMs: 10 * 60_000,
  newIdentities: 50,
  deletions: 200,
  awsIdentities: 500,
  awsMaxWritesPerSecond: 20,
};

/** A laptop run: every scenario at small sizes, a short idle window (figures scaled per hour). */
export const QUICK: typeof FULL = {
  sizes: [20],
  repeat: 1,
  workers: 4,
  pending: 20,
  idleSize: 20,
  idleMs: 2 * 60_000,
  newIdentities: 10,
  deletions: 10,
  awsIdentities: 10,
  awsMaxWritesPerSecond: 20,
};

export class OptionError extends Error {
  override name = 'OptionError';
}

export const USAGE = `npm run bench -- [options]
  --quick                 small sizes and a 2-minute idle window (a laptop)
  --sizes=1000,5000       identities applied at once (a); the populations (c)-(f) run on
  --repeat=N              run every scenario N times; figures are min/median/max over the runs
  --only=a,b,…            scenarios by name: ${Object.keys(SCENARIOS).join(', ')} (or their letters)
  --workers=4             operator workers and the plain client's concurrency
  --pending=1000          identities pending when the operator starts (b)
  --idle=10m              idle window (e); --idle-size=1000 the population it idles on
  --new=50                new identities while the largest population exists (c)
  --deletions=200         workloads deleted at once (d)
  --aws=500               AWS identities (g); --aws-max-writes=20 the write ceiling configured
  --node-options=FLAGS    NODE_OPTIONS for the operator process instead of the image's Node.js flags
  --operator=bundle       the build that runs: the image's bundle, or tsc (dist/main.js, the npm package)
  --memory-limit=512Mi    the operator's memory limit (a memory cgroup); default the chart's, none for no limit
  --heap-snapshot=DIR     (f) also writes the operator's heap snapshot there (bench/heap-summary.ts reads it)
  --env-dir=DIR           use the environment already running there (nhictl dev up)
  --out=BENCHMARKS.md     where to write the results
  --render=FILE[,FILE…]   write --out from saved runs without measuring (each scenario from the last run that has it)
  --save=FILE             where the run keeps its measurements (default .nhi/bench-results.json)`;

export const LETTERS: Record<string, ScenarioId> = {
  a: 'apply',
  b: 'first-ready',
  c: 'new-under-load',
  d: 'quarantine',
  e: 'idle',
  f: 'memory',
  g: 'aws',
};

function operatorBuild(value: string | undefined): 'bundle' | 'tsc' {
  if (value === undefined || value === 'bundle' || value === 'tsc') return value ?? 'bundle';
  throw new OptionError(`--operator: expected bundle or tsc, got "${value}"`);
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new OptionError(`--${flag}: expected a positive whole number, got "${value}"`);
  return n;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const values = new Map<string, string>();
  for (const arg of argv) {
    if (arg === '--') continue;
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new OptionError(`unexpected argument "${arg}"\n${USAGE}`);
    values.set(match[1] as string, match[2] ?? 'true');
  }
  const quick = values.get('quick') === 'true';
  const base = quick ? QUICK : FULL;
  const known = new Set([
    'quick',
    'sizes',
    'repeat',
    'only',
    'workers',
    'pending',
    'idle',
    'idle-size',
    'new',
    'deletions',
    'aws',
    'aws-max-writes',
    'env-dir',
    'node-options',
    'operator',
    'memory-limit',
    'heap-snapshot',
    'out',
    'render',
    'save',
    'help',
  ]);
  for (const key of values.keys())
    if (!known.has(key)) throw new OptionError(`unknown option --${key}\n${USAGE}`);
  if (values.has('help')) throw new OptionError(USAGE);
  const int = (flag: string, fallback: number) => {
    const v = values.get(flag);
    return v === undefined ? fallback : positiveInt(flag, v);
  };
  const sizes = values.has('sizes')
    ? (values.get('sizes') as string).split(',').map((s) => positiveInt('sizes', s.trim()))
    : base.sizes;
  const only = values.has('only')
    ? (values.get('only') as string).split(',').map((s): ScenarioId => {
        const name = s.trim();
        const id = LETTERS[name] ?? name;
        if (!(id in SCENARIOS))
          throw new OptionError(`--only: unknown scenario "${name}" (${Object.keys(SCENARIOS).join(', ')})`);
        return id as ScenarioId;
      })
    : (Object.keys(SCENARIOS) as ScenarioId[]);
  let idleMs = base.idleMs;
  if (values.has('idle')) {
    const parsed = parseDuration(values.get('idle') as string);
    if (parsed === undefined || parsed <= 0)
      throw new OptionError(`--idle: expected a duration such as 10m, got "${values.get('idle')}"`);
    idleMs = parsed;
  }
  return {
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    repeat: int('repeat', base.repeat),
    only: [...new Set(only)],
    quick,
    workers: int('workers', base.workers),
    pending: int('pending', base.pending),
    idleSize: int('idle-size', quick ? Math.min(...sizes) : base.idleSize),
    idleMs,
    newIdentities: int('new', base.newIdentities),
    deletions: int('deletions', base.deletions),
    awsIdentities: int('aws', base.awsIdentities),
    awsMaxWritesPerSecond: int('aws-max-writes', base.awsMaxWritesPerSecond),
    nodeOptions: values.get('node-options'),
    operatorBuild: operatorBuild(values.get('operator')),
    memoryLimit: values.get('memory-limit'),
    heapSnapshot: values.get('heap-snapshot'),
    envDir: values.get('env-dir'),
    out: values.get('out') ?? 'BENCHMARKS.md',
    render: values.get('render'),
    save: values.get('save') ?? '.nhi/bench-results.json',
  };
}

/** The size of `sizes` that (e) idles on: `idleSize` if listed, else the nearest. */
export function nearestSize(sizes: readonly number[], wanted: number): number {
  return [...sizes].sort((a, b) => Math.abs(a - wanted) - Math.abs(b - wanted) || a - b)[0] ?? wanted;
}
