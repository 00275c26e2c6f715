// Test doubles for the AgentIdentity reconciler's unit tests: an IdentityStore over one in-memory
// object, and a harness that runs the real reconciler against the real KubernetesProvider over the
// in-memory FakeKubernetesPort, with a controllable clock. Not used by the operator itself.

import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import { MemoryAuditSink } from '../../governance/audit/audit.ts';
import { FakeKubernetesPort } from '../../providers/kubernetes/fake-port.ts';
import { KubernetesProvider } from '../../providers/kubernetes/provider.ts';
import { silentLogger } from '../../runtime/logger.ts';
import { statusEqual } from '../../runtime/status.ts';
import type { IdentityStore, ReconcilerDeps } from './ports.ts';
import { AgentIdentityReconciler } from './reconciler.ts';

export class MemoryIdentityStore implements IdentityStore {
  statusWrites = 0;

  constructor(public identity: AgentIdentity) {}

  get(): AgentIdentity {
    return structuredClone(this.identity);
  }

  async writeStatus(_identity: AgentIdentity, status: AgentIdentity['status'] & object): Promise<void> {
    if (statusEqual(this.identity.status, status)) return;
    this.statusWrites++;
    this.identity.status = structuredClone(status);
  }

  async addFinalizer(_identity: AgentIdentity, finalizer: string): Promise<AgentIdentity> {
    this.identity.metadata.finalizers = [...(this.identity.metadata.finalizers ?? []), finalizer];
    return this.get();
  }

  async removeFinalizer(_identity: AgentIdentity, finalizer: string): Promise<void> {
    this.identity.metadata.finalizers = (this.identity.metadata.finalizers ?? []).filter(
      (f) => f !== finalizer,
    );
  }

  async annotate(_identity: AgentIdentity, annotations: Record<string, string | null>): Promise<void> {
    const next = { ...(this.identity.metadata.annotations ?? {}) };
    for (const [key, value] of Object.entries(annotations)) {
      if (value === null) delete next[key];
      else next[key] = value;
    }
    this.identity.metadata.annotations = next;
  }
}

export const HARNESS_NAMESPACE = 'agents';
export const HARNESS_DRIFT_MS = 60_000;
const T0 = new Date('2026-01-01T00:00:00Z');

/**
 * The AgentIdentity `agents/bot` (production, created at T0) and a reconciler for it. Subclasses pass
 * the providers and workloads they need to `start()`; everything else has a quiet default.
 */
export class ReconcilerHarness {
  now = new Date(T0.getTime() + 3_600_000);
  readonly identity: AgentIdentity;
  readonly store: MemoryIdentityStore;
  readonly port = new FakeKubernetesPort();
  readonly kubernetes: KubernetesProvider;
  readonly audit = new MemoryAuditSink();
  readonly events: Array<{ type: string; reason: string; message: string }> = [];
  private reconciler: AgentIdentityReconciler | undefined;

  constructor(spec: Partial<AgentIdentity['spec']>) {
    this.identity = {
      apiVersion: 'nhi.dev/v1alpha1',
      kind: 'AgentIdentity',
      metadata: {
        name: 'bot',
        namespace: HARNESS_NAMESPACE,
        uid: 'uid-bot',
        generation: 1,
        resourceVersion: '1',
        creationTimestamp: T0.toISOString(),
      },
      spec: {
        owner: { team: 'support-eng' },
        purpose: 'answer support tickets',
        environment: 'production',
        serviceAccountName: 'bot',
        ttl: '2160h',
        inactivityTimeout: '720h',
        ...spec,
      },
    };
    this.store = new MemoryIdentityStore(this.identity);
    this.kubernetes = new KubernetesProvider({ port: this.port, clock: { now: () => this.now.getTime() } });
  }

  protected start(deps: Pick<ReconcilerDeps, 'providers' | 'workloads'> & Partial<ReconcilerDeps>): void {
    this.reconciler = new AgentIdentityReconciler({
      store: this.store,
      policy: () => undefined,
      checkPolicy: () => [],
      syncTarget: async () => false,
      audit: this.audit,
      notifier: {
        event: async (_identity, type, reason, message) => {
          this.events.push({ type, reason, message });
        },
      },
      logger: silentLogger(),
      now: () => this.now,
      actor: 'test',
      dryRun: false,
      driftIntervalMs: HARNESS_DRIFT_MS,
      ...deps,
    });
  }

  async reconcile() {
    if (!this.reconciler) throw new Error('call start() in the subclass constructor');
    return this.reconciler.reconcile(`${HARNESS_NAMESPACE}/bot`);
  }

  /** The first reconcile of a new identity only records which backends it will use; run until settled. */
  async settle(times = 4) {
    for (let i = 0; i < times; i++) await this.reconcile();
  }

  later(ms: number) {
    this.now = new Date(this.now.getTime() + ms);
  }

  condition(type: string) {
    return this.identity.status?.conditions?.find((c) => c.type === type);
  }
}
