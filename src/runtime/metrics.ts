// Prometheus metrics of the runtime. Names follow controller-runtime and client-go
// (controller_runtime_reconcile_total, workqueue_depth, leader_election_master_status ...) so the
// dashboards and alerts people already have for Go operators work unchanged.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueMetrics } from './queue.ts';

export type ReconcileResult = 'success' | 'requeue_after' | 'error' | 'conflict';

export interface RuntimeMetricsOptions {
  /** Defaults to a fresh registry, so several instances (tests) never collide. */
  registry?: Registry;
  /** Also export Node process metrics (CPU, memory, event loop lag). */
  processMetrics?: boolean;
}

const queueBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300];
const reconcileBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class RuntimeMetrics {
  readonly registry: Registry;
  private readonly reconciles: Counter<'controller' | 'result'>;
  private readonly reconcileErrors: Counter<'controller'>;
  private readonly reconcileTime: Histogram<'controller'>;
  private readonly depth: Gauge<'name'>;
  private readonly adds: Counter<'name'>;
  private readonly latency: Histogram<'name'>;
  private readonly workTime: Histogram<'name'>;
  private readonly retries: Counter<'name'>;
  private readonly leader: Gauge<'name'>;
  private readonly watchRestarts: Counter<'source' | 'reason'>;
  private readonly statusWrites: Counter<'resource' | 'result'>;

  constructor(options: RuntimeMetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    const registers = [this.registry];
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
    this.reconciles = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Reconciles per controller and result (success, requeue_after, error, conflict).',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Reconciles that threw, per controller.',
      labelNames: ['controller'],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Duration of one reconcile, per controller.',
      labelNames: ['controller'],
      buckets: reconcileBuckets,
      registers,
    });
    this.depth = new Gauge({
      name: 'workqueue_depth',
      help: 'Keys waiting for a worker.',
      labelNames: ['name'],
      registers,
    });
    this.adds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Keys added to the queue (adds of a key already queued coalesce and are not counted).',
      labelNames: ['name'],
      registers,
    });
    this.latency = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'Time a key waited in the queue before a worker took it.',
      labelNames: ['name'],
      buckets: queueBuckets,
      registers,
    });
    this.workTime = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'Time from a worker taking a key to finishing it.',
      labelNames: ['name'],
      buckets: queueBuckets,
      registers,
    });
    this.retries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Rate-limited re-adds of failed keys.',
      labelNames: ['name'],
      registers,
    });
    this.leader = new Gauge({
      name: 'leader_election_master_status',
      help: '1 while this process holds the lease, else 0.',
      labelNames: ['name'],
      registers,
    });
    this.watchRestarts = new Counter({
      name: 'nhi_watch_restarts_total',
      help: 'Informer restarts per source and reason (error, stalled).',
      labelNames: ['source', 'reason'],
      registers,
    });
    this.statusWrites = new Counter({
      name: 'nhi_status_writes_total',
      help: 'Status subresource writes per resource and result (written, unchanged, conflict).',
      labelNames: ['resource', 'result'],
      registers,
    });
  }

  /** The hooks a WorkQueue named `name` reports through. */
  queue(name: string): QueueMetrics {
    return {
      depth: (n) => this.depth.set({ name }, n),
      added: () => this.adds.inc({ name }),
      latency: (s) => this.latency.observe({ name }, s),
      workDuration: (s) => this.workTime.observe({ name }, s),
      retried: () => this.retries.inc({ name }),
    };
  }

  reconciled(controller: string, result: ReconcileResult, seconds: number): void {
    this.reconciles.inc({ controller, result });
    if (result === 'error') this.reconcileErrors.inc({ controller });
    this.reconcileTime.observe({ controller }, seconds);
  }

  setLeader(name: string, leading: boolean): void {
    this.leader.set({ name }, leading ? 1 : 0);
  }

  watchRestarted(source: string, reason: 'error' | 'stalled'): void {
    this.watchRestarts.inc({ source, reason });
  }

  statusWrite(resource: string, result: 'written' | 'unchanged' | 'conflict'): void {
    this.statusWrites.inc({ resource, result });
  }

  /** The current value of one series, for tests and health checks. */
  async value(name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = this.registry.getSingleMetric(name);
    if (!metric) return 0;
    const { values } = await metric.get();
    const wanted = Object.entries(labels);
    return values
      .filter((v) => !('metricName' in v) || v.metricName === name || v.metricName === `${name}_count`)
      .filter((v) => wanted.every(([k, want]) => String(v.labels[k]) === want))
      .reduce((sum, v) => sum + v.value, 0);
  }
}
