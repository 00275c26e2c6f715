// Test doubles for the AgentIdentity reconciler's unit tests: an IdentityStore over one in-memory
// object, and harnesses that run the real reconciler against the real KubernetesProvider over the
// in-memory FakeKubernetesPort, with a controllable clock: plain, with a scripted vault provider whose
// phases can be made to fail, or with real VaultProviders over in-memory Vault ports. Test-only: this
// folder is excluded from the build.

import type * as k8s from '@kubernetes/client-node';
import { Controls } from '../../../api/v1alpha1/annotations.ts';
import { TerminatingNamespaceOffboarding } from '../../../api/v1alpha1/defaults.ts';
import type {
  AgentIdentity,
  ClusterCredentialProvider,
  IdentityPolicy,
  PolicyRule,
  WebhookSpec,
} from '../../../api/v1alpha1/types.ts';
import { MemoryAuditSink } from '../../../governance/audit/audit.ts';
import { KubernetesProvider } from '../../../providers/kubernetes/provider.ts';
import { FakeKubernetesPort } from '../../../providers/kubernetes/testing/fake-port.ts';
import { ProviderRegistry } from '../../../providers/registry.ts';
import type { CredentialProvider, IdentityRef, Observation } from '../../../providers/types.ts';
import { UnavailableError } from '../../../providers/types.ts';
import { identityNames } from '../../../providers/vault/names.ts';
import { VaultProvider } from '../../../providers/vault/provider.ts';
import type { FakeVaultPort } from '../../../providers/vault/testing/fake-port.ts';
import { silentLogger } from '../../../runtime/logger.ts';
import { statusEqual } from '../../../runtime/status.ts';
import { identityRef } from '../identity.ts';
import type { CloudEvent, IdentityMetrics, IdentityStore, ReconcilerDeps, WebhookPort } from '../ports.ts';
import { AgentIdentityReconciler } from '../reconciler.ts';

export class MemoryIdentityStore implements IdentityStore {
  statusWrites = 0;
  /** Whether the cached version counts as one this process wrote over (never, unless a test says so). */
  isStale: (identity: AgentIdentity) => boolean = () => false;

  constructor(public identity: AgentIdentity) {}

  get(): AgentIdentity {
    return structuredClone(this.identity);
  }

  async writeStatus(
    _identity: AgentIdentity,
    status: AgentIdentity['status'] & object,
  ): Promise<AgentIdentity | undefined> {
    if (statusEqual(this.identity.status, status)) return undefined;
    this.statusWrites++;
    this.identity.status = structuredClone(status);
    return this.get();
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

/** The webhook port, remembering what it delivered; `failures` deliveries fail first. */
export class RecordingWebhook implements WebhookPort {
  readonly delivered: CloudEvent[] = [];
  attempts = 0;
  failures = 0;
  async deliver(_webhook: WebhookSpec, event: CloudEvent): Promise<void> {
    this.attempts++;
    if (this.failures > 0) {
      this.failures--;
      throw new Error('webhook receiver.example: answered HTTP 503');
    }
    this.delivered.push(structuredClone(event));
  }
}

/** The reconciler's metrics port, remembering each fact reported (`driftCorrected vault/x restored`). */
export class RecordingMetrics implements IdentityMetrics {
  readonly reported: string[] = [];
  driftCorrected(key: string, result: 'restored' | 'failed'): void {
    this.reported.push(`driftCorrected ${key} ${result}`);
  }
  credentialsStranded(key: string): void {
    this.reported.push(`credentialsStranded ${key}`);
  }
  revocationBlocked(key: string): void {
    this.reported.push(`revocationBlocked ${key}`);
  }
  offboardingReleased(key: string): void {
    this.reported.push(`offboardingReleased ${key}`);
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
  readonly metrics = new RecordingMetrics();
  readonly webhook = new RecordingWebhook();
  /** The IdentityPolicy in force (none by default). */
  policy: IdentityPolicy | undefined;
  /** Makes every target-Secret sync of an external backend fail (a rotation whose sync fails). */
  failTargetSync = false;
  /** What DeletionFacts report: the AgentIdentity CRD being deleted, the namespace terminating since. */
  apiBeingRemoved: boolean | Error = false;
  namespaceDeletedAt: Date | undefined;
  private reconciler: AgentIdentityReconciler | undefined;
  private deps: ReconcilerDeps | undefined;

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
    this.deps = {
      store: this.store,
      policy: () => this.policy,
      webhook: this.webhook,
      checkPolicy: () => [],
      syncTarget: async () => {
        if (this.failTargetSync) throw new Error('target Secret sync failed');
        return false;
      },
      audit: this.audit,
      notifier: {
        event: async (_identity, type, reason, message) => {
          this.events.push({ type, reason, message });
        },
      },
      metrics: this.metrics,
      deletion: {
        apiBeingRemoved: async () => {
          if (this.apiBeingRemoved instanceof Error) throw this.apiBeingRemoved;
          return this.apiBeingRemoved;
        },
        namespaceDeletedAt: () => this.namespaceDeletedAt,
        releaseAfterMs: TerminatingNamespaceOffboarding.releaseAfterMs,
      },
      logger: silentLogger(),
      now: () => this.now,
      actor: 'test',
      dryRun: false,
      driftIntervalMs: HARNESS_DRIFT_MS,
      ...deps,
    };
    this.reconciler = new AgentIdentityReconciler(this.deps);
  }

  /** A new reconciler over the same store and backends, as after an operator restart. */
  restart(): void {
    if (!this.reconciler) throw new Error('call start() in the subclass constructor');
    this.reconciler = new AgentIdentityReconciler(this.deps as ReconcilerDeps);
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

export const readConfigMaps: PolicyRule = { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] };
export const readSecrets: PolicyRule = { apiGroups: [''], resources: ['secrets'], verbs: ['get'] };

/** A vault provider that does nothing but can be told to fail a phase. */
export class ScriptedVault implements CredentialProvider {
  readonly kind = 'vault' as const;
  failProvision = false;
  failQuarantine = false;
  failRevoke = false;
  /** Thrown by provision() when set (e.g. an error carrying the writes completed before it). */
  provisionError: unknown;
  /** What observe() reports as drifted; it never corrects anything. */
  drift: Observation['drift'] = [];
  readonly calls: string[] = [];
  async plan() {
    return [];
  }
  async provision(_ref: IdentityRef) {
    this.calls.push('provision');
    if (this.failProvision) throw new UnavailableError('vault: connection refused');
    if (this.provisionError) throw this.provisionError;
    return { status: { role: 'r', policy: 'p' }, changes: [] };
  }
  async rotate(): Promise<never> {
    throw new Error('not used');
  }
  async readSecret() {
    return undefined;
  }
  async retirePrevious() {}
  async quarantine() {
    this.calls.push('quarantine');
    if (this.failQuarantine) throw new UnavailableError('vault: connection refused');
  }
  async restore() {
    this.calls.push('restore');
  }
  async revoke() {
    this.calls.push('revoke');
    if (this.failRevoke) throw new UnavailableError('vault: connection refused');
  }
  async observe() {
    this.calls.push('observe');
    return { drift: this.drift, corrected: false };
  }
}

const vaultConfig: ClusterCredentialProvider = {
  apiVersion: 'nhi.dev/v1alpha1',
  kind: 'ClusterCredentialProvider',
  metadata: { name: 'vault', generation: 1 },
  spec: { vault: { address: 'http://127.0.0.1:1', auth: { tokenFile: { path: '/dev/null' } } } },
};

/** agents/bot bound to a Deployment, with a kubernetes scope and optionally a scripted vault one. */
export class ScriptedVaultHarness extends ReconcilerHarness {
  readonly vault = new ScriptedVault();
  pods: k8s.V1Pod[] = [];
  /** The Deployment is deleted. */
  workloadGone = false;
  violation: (identity: AgentIdentity) => string[] = () => [];

  constructor(withVault: boolean) {
    super({
      workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'bot' },
      scopes: [
        { provider: 'kubernetes', rules: [readConfigMaps] },
        ...(withVault
          ? [{ provider: 'vault' as const, paths: [{ path: 'secret/data/crm/*', capabilities: ['read'] }] }]
          : []),
      ],
    });
    this.start({
      providers: new ProviderRegistry(this.kubernetes, () => [vaultConfig]).register(
        'vault',
        () => this.vault,
      ),
      workloads: {
        resolveKind: async () => ({ namespaced: true }),
        get: async (apiVersion, kind, namespace, name) =>
          this.workloadGone
            ? undefined
            : {
                apiVersion,
                kind,
                metadata: { name, namespace },
                spec: { template: { spec: { serviceAccountName: 'bot' } } },
              },
        podsUsingServiceAccount: async () => this.pods,
        annotatePodTemplate: async () => !this.workloadGone,
      },
      checkPolicy: (identity) => this.violation(identity),
    });
  }

  override settle() {
    return super.settle(3);
  }

  lock() {
    this.identity.metadata.annotations = { [Controls.lock]: 'alice at 10:00' };
  }

  roleBinding() {
    return this.port.peek('RoleBinding', HARNESS_NAMESPACE, 'nhi-bot');
  }
}

function ccp(name: string): ClusterCredentialProvider {
  return {
    apiVersion: 'nhi.dev/v1alpha1',
    kind: 'ClusterCredentialProvider',
    metadata: { name, uid: `uid-${name}`, generation: 1 },
    spec: { vault: { address: 'http://127.0.0.1:1', auth: { tokenFile: { path: '/dev/null' } } } },
  };
}

/**
 * agents/bot with real VaultProviders over FakeVaultPorts, one per ClusterCredentialProvider (two CCPs
 * may share a port: the same Vault server under two names).
 */
export class VaultServersHarness extends ReconcilerHarness {
  configs: ClusterCredentialProvider[];

  /** `vaultPorts`: CCP name -> the Vault server it points at. */
  constructor(
    readonly vaultPorts: Record<string, FakeVaultPort>,
    spec: Partial<AgentIdentity['spec']>,
  ) {
    super(spec);
    this.configs = Object.keys(vaultPorts).map(ccp);
    const vaultClock = { now: () => this.now.getTime(), setTimer: () => () => {} };
    const providers = new ProviderRegistry(this.kubernetes, () => this.configs).register(
      'vault',
      (config) => {
        const port = vaultPorts[config.metadata.name];
        if (!port) throw new Error(`no port for ${config.metadata.name}`);
        return new VaultProvider(
          {
            name: config.metadata.name,
            kvMount: 'secret',
            kubernetesAuthMount: 'kubernetes',
            audience: 'vault',
            tokenMaxTtlSeconds: 3600,
            tokenAccessors: false,
          },
          port,
          vaultClock as never,
        );
      },
    );
    this.start({
      providers,
      workloads: {
        resolveKind: async () => ({ namespaced: true }),
        get: async () => undefined,
        podsUsingServiceAccount: async () => [],
        annotatePodTemplate: async () => false,
      },
    });
  }

  names() {
    return identityNames(identityRef(this.identity));
  }

  changeSpec(change: (spec: AgentIdentity['spec']) => void) {
    change(this.identity.spec);
    this.identity.metadata.generation = (this.identity.metadata.generation ?? 1) + 1;
  }
}

export const vaultScope = (providerRef?: string) => ({
  provider: 'vault' as const,
  ...(providerRef && { providerRef }),
  paths: [{ path: 'secret/data/crm/*', capabilities: ['read'] }],
});
