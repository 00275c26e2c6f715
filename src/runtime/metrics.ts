// Prometheus metrics of the runtime. Names follow controller-runtime and client-go
// (controller_runtime_reconcile_total, workqueue_depth, leader_election_master_status ...) so the
// dashboards and alerts people already have for Go operators work unchanged. The nhi_* metrics are
// the operator's own: identities by phase and condition (read from the informer's cache at scrape
// time), and what the reconciler reports through its IdentityMetrics port (drift corrected,
// credentials stranded, revocation blocked).
//
// Every counter series with a known label set exists from the start at 0, as controller-runtime
// does: rate() and increase() miss the first increment of a series that appears at 1, and an alert
// on a metric that was never incremented would otherwise name an unknown metric.
// config/prometheus (alerts) and config/grafana (the dashboard) query these names;
// test/integration/observability proves it against a real Prometheus scraping the real operator.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type ProviderKind, ProviderKinds } from '../api/v1alpha1/types.ts';
import type { QueueMetrics } from './queue.ts';

export type ReconcileResult = 'success' | 'requeue_after' | 'error' | 'conflict';
const reconcileResults: readonly ReconcileResult[] = ['success', 'requeue_after', 'error', 'conflict'];
const restartReasons = ['error', 'stalled'] as const;
export type DriftResult = 'restored' | 'failed';
const driftResults: readonly DriftResult[] = ['restored', 'failed'];

/** The parts of a cached AgentIdentity the identity gauges read (structural: no controller types). */
export interface IdentitySnapshot {
  metadata?: { namespace?: string; name?: string; creationTimestamp?: string | Date };
  status?: {
    phase?: string;
    conditions?: ReadonlyArray<{
      type: string;
      status: string;
      reason?: string;
      lastTransitionTime?: string;
    }>;
    risk?: { level: string; factors?: ReadonlyArray<{ id: string }> };
  };
}

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
  private readonly driftCorrections: Counter<'provider' | 'result'>;
  private readonly stranded: Counter<'provider'>;
  private readonly revocationsBlocked: Counter<'provider'>;
  private readonly auditCheckpointFailures: Counter;
  private readonly offboardingsReleased: Counter<'provider'>;
  private identities: () => readonly IdentitySnapshot[] = () => [];

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
    this.defineIdentityGauges(registers);
    this.driftCorrections = new Counter({
      name: 'nhi_drift_corrections_total',
      help: 'Backends found changed behind the operator (drift) per provider kind, by result: restored, or failed (still differs).',
      labelNames: ['provider', 'result'],
      registers,
    });
    this.stranded = new Counter({
      name: 'nhi_credentials_stranded_total',
      help: 'Provisioning passes that found credentials in a backend whose ClusterCredentialProvider is gone (nothing can revoke them), per provider kind.',
      labelNames: ['provider'],
      registers,
    });
    this.revocationsBlocked = new Counter({
      name: 'nhi_revocation_blocked_total',
      help: 'Failed attempts to revoke credentials in a backend (after the quarantine period, offboarding a deleted AgentIdentity, a scope removed from the spec), per provider kind.',
      labelNames: ['provider'],
      registers,
    });
    this.offboardingsReleased = new Counter({
      name: 'nhi_offboarding_released_total',
      help: 'Backends whose credentials were left unrevoked because offboarding in a namespace being deleted kept failing past its bound (the namespace was released), per provider kind.',
      labelNames: ['provider'],
      registers,
    });
    this.auditCheckpointFailures = new Counter({
      name: 'nhi_audit_checkpoint_failures_total',
      help: 'Audit checkpoints (seal to the sinks, sign, move the anchored head) that failed and will be retried: records since the last checkpoint are not anchored meanwhile.',
      registers,
    });
    for (const provider of ProviderKinds) {
      for (const result of driftResults) this.driftCorrections.inc({ provider, result }, 0);
      this.stranded.inc({ provider }, 0);
      this.revocationsBlocked.inc({ provider }, 0);
      this.offboardingsReleased.inc({ provider }, 0);
    }
  }

  /**
   * Gauges computed at scrape time from the AgentIdentities `identities` returns (the informer's
   * cache): the status there is the last one written, by this process or a previous leader, and a
   * deleted identity is simply gone. A standby, whose informers do not run, reports none.
   */
  private defineIdentityGauges(registers: Registry[]): void {
    const read = () => this.identities();
    new Gauge({
      name: 'nhi_agent_identities',
      help: 'AgentIdentities per status.phase (Pending until first reconciled).',
      labelNames: ['phase'],
      registers,
      collect() {
        this.reset();
        for (const identity of read()) this.inc({ phase: identity.status?.phase || 'Pending' });
      },
    });
    new Gauge({
      name: 'nhi_agent_identity_conditions',
      help: 'AgentIdentities per condition type and status (True, False, Unknown).',
      labelNames: ['condition', 'status'],
      registers,
      collect() {
        this.reset();
        for (const identity of read())
          for (const c of identity.status?.conditions ?? [])
            this.inc({ condition: c.type, status: c.status });
      },
    });
    new Gauge({
      name: 'nhi_agent_identity_not_ready_since_timestamp_seconds',
      help: 'For each AgentIdentity whose Ready condition is not True: when Ready last changed (its creation when never reconciled), with its phase and the Ready status and reason.',
      labelNames: ['identity_namespace', 'identity_name', 'phase', 'status', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const identity of read()) {
          const ready = identity.status?.conditions?.find((c) => c.type === 'Ready');
          if (ready?.status === 'True') continue;
          const since = Date.parse(String(ready?.lastTransitionTime ?? identity.metadata?.creationTimestamp));
          if (Number.isNaN(since)) continue;
          this.set(
            {
              identity_namespace: identity.metadata?.namespace ?? '',
              identity_name: identity.metadata?.name ?? '',
              phase: identity.status?.phase || 'Pending',
              status: ready?.status ?? 'Unknown',
              reason: ready?.reason ?? 'NotReconciled',
            },
            since / 1000,
          );
        }
      },
    });
    new Gauge({
      name: 'nhi_agent_identities_by_risk_level',
      help: 'AgentIdentities per status.risk.level (Low, Moderate, High, Critical); unassessed ones are not counted.',
      labelNames: ['level'],
      registers,
      collect() {
        this.reset();
        for (const identity of read())
          if (identity.status?.risk) this.inc({ level: identity.status.risk.level });
      },
    });
    new Gauge({
      name: 'nhi_agent_identities_by_risk_factor',
      help: 'AgentIdentities per risk factor in status.risk.factors (e.g. likelihood.hard-coded-credentials); one per identity and factor.',
      labelNames: ['factor'],
      registers,
      collect() {
        this.reset();
        for (const identity of read())
          for (const id of new Set((identity.status?.risk?.factors ?? []).map((f) => f.id)))
            this.inc({ factor: id });
      },
    });
  }

  /** Where the identity gauges read AgentIdentities from at each scrape (the informer's cache). */
  observeIdentities(list: () => readonly IdentitySnapshot[]): void {
    this.identities = list;
  }

  /** The hooks a WorkQueue named `name` reports through; its series exist from now on. */
  queue(name: string): QueueMetrics {
    this.depth.set({ name }, 0);
    this.adds.inc({ name }, 0);
    this.retries.inc({ name }, 0);
    this.latency.zero({ name });
    this.workTime.zero({ name });
    return {
      depth: (n) => this.depth.set({ name }, n),
      added: () => this.adds.inc({ name }),
      latency: (s) => this.latency.observe({ name }, s),
      workDuration: (s) => this.workTime.observe({ name }, s),
      retried: () => this.retries.inc({ name }),
    };
  }

  /** A controller named `controller` exists: its reconcile series start at 0. */
  registerController(controller: string): void {
    for (const result of reconcileResults) this.reconciles.inc({ controller, result }, 0);
    this.reconcileErrors.inc({ controller }, 0);
    this.reconcileTime.zero({ controller });
  }

  reconciled(controller: string, result: ReconcileResult, seconds: number): void {
    this.reconciles.inc({ controller, result });
    if (result === 'error') this.reconcileErrors.inc({ controller });
    this.reconcileTime.observe({ controller }, seconds);
  }

  setLeader(name: string, leading: boolean): void {
    this.leader.set({ name }, leading ? 1 : 0);
  }

  /** An informer named `source` exists: its restart series start at 0. */
  registerSource(source: string): void {
    for (const reason of restartReasons) this.watchRestarts.inc({ source, reason }, 0);
  }

  watchRestarted(source: string, reason: 'error' | 'stalled'): void {
    this.watchRestarts.inc({ source, reason });
  }

  statusWrite(resource: string, result: 'written' | 'unchanged' | 'conflict'): void {
    this.statusWrites.inc({ resource, result });
  }

  // The reconciler's IdentityMetrics port (controller/agentidentity/ports.ts). `key` is a
  // status.providers entry (`kubernetes`, `aws/<provider>`, `vault/<provider>`); the label is its
  // kind only, so that every series exists from the start and ClusterCredentialProvider names never
  // become labels. Which provider it was is in the Event and the audit record of the same moment.

  driftCorrected(key: string, result: DriftResult): void {
    this.driftCorrections.inc({ provider: providerKindOf(key), result });
  }

  credentialsStranded(key: string): void {
    this.stranded.inc({ provider: providerKindOf(key) });
  }

  revocationBlocked(key: string): void {
    this.revocationsBlocked.inc({ provider: providerKindOf(key) });
  }

  auditCheckpointFailed(): void {
    this.auditCheckpointFailures.inc();
  }

  offboardingReleased(key: string): void {
    this.offboardingsReleased.inc({ provider: providerKindOf(key) });
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

/** The kind of a status.providers key, or `unknown` for a malformed one. */
function providerKindOf(key: string): ProviderKind | 'unknown' {
  const kind = key.split('/', 1)[0];
  return ProviderKinds.find((k) => k === kind) ?? 'unknown';
}
