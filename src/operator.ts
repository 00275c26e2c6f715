// Assembling the operator: config -> clients -> providers -> controllers, with leader election,
// metrics and health. The adapters live with what they adapt (src/adapters/kubernetes/, runtime/);
// this module only wires them. main.ts runs it as a process and owns the exit code; tests and
// benchmarks may run it in-process.

import * as k8s from '@kubernetes/client-node';
import { apiserverDeletionFacts } from './adapters/kubernetes/api-removal.ts';
import { buildAuditTrail } from './adapters/kubernetes/audit-trail.ts';
import { agentIdentityStore, fromKube } from './adapters/kubernetes/identity-store.ts';
import { eventNotifier } from './adapters/kubernetes/notifier.ts';
import {
  changedBeyondStatus,
  ownedObjectCaches,
  workloadCachesOf,
} from './adapters/kubernetes/owned-caches.ts';
import { compliancePolicyCheck } from './adapters/kubernetes/policy-check.ts';
import {
  customObjectSource,
  namespaceSource,
  ownedObjectSources,
  workloadSource,
} from './adapters/kubernetes/sources.ts';
import { HttpsWebhook, secretKeyReader } from './adapters/webhook/sender.ts';
import type { AgentIdentity, ClusterCredentialProvider, IdentityPolicy } from './api/v1alpha1/types.ts';
import type { OperatorConfig } from './config.ts';
import { AgentIdentityReconciler } from './controller/agentidentity/reconciler.ts';
import { workloadPort } from './controller/agentidentity/workload.ts';
import { AuditActivitySource } from './governance/activity/source.ts';
import { cachedKubernetesPort } from './providers/kubernetes/cached-port.ts';
import { buildProviders } from './providers/setup.ts';
import { Controller, watch } from './runtime/controller.ts';
import { EventRecorder, eventSink } from './runtime/events.ts';
import { HealthServer, operatorReadiness } from './runtime/health.ts';
import { LeaderElector, leaderIdentity, leaseStore, requireLeaseNamespace } from './runtime/leader.ts';
import type { Logger } from './runtime/logger.ts';
import { RuntimeMetrics } from './runtime/metrics.ts';
import { SourceIndex } from './runtime/source-index.ts';

/**
 * Why a running operator ended: `stopped` when stop() was called, `lease-lost` when it stopped
 * reconciling on its own because it lost the lease (another replica may already lead). The process
 * owner decides the exit code: a lost lease must end the process non-zero so Kubernetes restarts it.
 */
export type OperatorOutcome = 'stopped' | 'lease-lost';

export interface RunningOperator {
  port: number;
  leader: LeaderElector | undefined;
  controller: Controller;
  /** Settles with why the operator ended (the first reason wins); never rejects. */
  done: Promise<OperatorOutcome>;
  stop(): Promise<void>;
}

export async function startOperator(
  config: OperatorConfig,
  kc: k8s.KubeConfig,
  logger: Logger,
): Promise<RunningOperator> {
  const metrics = new RuntimeMetrics({ processMetrics: true });
  const watched = { logger, metrics, watchTimeoutMs: config.watchTimeoutMs };
  const identities = customObjectSource(kc, 'agentidentities', {
    ...watched,
    namespace: config.watchNamespace,
  });
  const credentialProviders = customObjectSource(kc, 'clustercredentialproviders', watched);
  const policies = customObjectSource(kc, 'identitypolicies', watched);
  const workloads = (['deployments', 'statefulsets', 'daemonsets'] as const).map((kind) =>
    workloadSource(kc, kind, { ...watched, namespace: config.watchNamespace }),
  );
  const namespaces = namespaceSource(kc, watched);
  // What the Kubernetes provider manages (and Pods), cached, so a steady reconcile reads no object of its own.
  const owned = ownedObjectSources(kc, { ...watched, namespace: config.watchNamespace });
  const ownedCaches = ownedObjectCaches(owned);
  const workloadCaches = workloadCachesOf(
    { Deployment: workloads[0]!, StatefulSet: workloads[1]!, DaemonSet: workloads[2]! },
    ownedCaches,
  );
  // Workload -> the identities that refer to it, kept from the identity cache's changes.
  const byWorkloadRef = new SourceIndex(identities, (o) => {
    const ref = (fromKube<AgentIdentity>(o) as AgentIdentity).spec?.workloadRef;
    return ref ? [`${ref.kind}/${o.metadata?.namespace ?? ''}/${ref.name}`] : [];
  });
  metrics.observeIdentities(() => identities.list().map((o) => fromKube<AgentIdentity>(o) as AgentIdentity));

  const providerConfigs = () =>
    credentialProviders
      .list()
      .map((o) => fromKube<ClusterCredentialProvider>(o) as ClusterCredentialProvider);
  const { registry, syncTarget } = buildProviders(kc, providerConfigs, {
    cache: (live) => cachedKubernetesPort(live, ownedCaches),
    enabled: config.providers,
    allowStaticVaultToken: config.allowStaticVaultToken,
  });
  // Set once the controller exists: a fenced trail (another writer moved the head) stops leading.
  let fenced: (reason: string) => void = () => undefined;
  const audit = buildAuditTrail(kc, config.audit, config.leaderElection.identity, {
    onFenced: (error) => fenced(error.message),
    onCheckpointError: (error) => {
      metrics.auditCheckpointFailed();
      logger.error('audit checkpoint failed; retrying', { err: error });
    },
  });
  const recorder = new EventRecorder({
    sink: eventSink(kc.makeApiClient(k8s.EventsV1Api)),
    controller: 'nhi.dev/nhi-operator',
    instance: config.leaderElection.identity,
    logger,
  });
  const webhook = new HttpsWebhook({ readKey: secretKeyReader(kc) });
  const reconciler = new AgentIdentityReconciler({
    store: agentIdentityStore({ cache: identities, custom: kc.makeApiClient(k8s.CustomObjectsApi), metrics }),
    workloads: workloadPort(kc, workloadCaches),
    providers: registry,
    policy: () => fromKube<IdentityPolicy>(policies.get('default')),
    checkPolicy: compliancePolicyCheck(providerConfigs, (name) => {
      const namespace = namespaces.get(name);
      return namespace ? { ...namespace.metadata?.labels } : undefined;
    }),
    syncTarget,
    audit,
    notifier: eventNotifier(recorder),
    webhook,
    metrics,
    deletion: apiserverDeletionFacts(kc, {
      namespaceDeletionTimestamp: (name) => {
        const at = namespaces.get(name)?.metadata?.deletionTimestamp;
        return at === undefined ? undefined : String(at instanceof Date ? at.toISOString() : at);
      },
      releaseAfterMs: config.offboardingReleaseAfterMs,
    }),
    logger,
    now: () => new Date(),
    actor: config.actor,
    dryRun: config.dryRun,
    driftIntervalMs: config.driftIntervalMs,
    activity: AuditActivitySource.fromConfig({
      ...config.activity,
      onError: (file, error) => logger.warn('activity: audit log unreadable', { file, error: String(error) }),
    }),
  });

  // Workload changes wake the identities that refer to them (an index, not a scan); the resync is the orphan sweep.
  const byWorkload = (kind: string) => (obj: k8s.KubernetesObject) =>
    byWorkloadRef.keys(`${kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`);
  const everyIdentity = () => identities.keys();
  const controller = new Controller({
    name: 'agentidentity',
    reconcile: reconciler.reconcile,
    watches: [
      // The operator's own status writes come back as updates: they need no reconcile.
      watch(identities, undefined, { filter: changedBeyondStatus(identities) }),
      watch(workloads[0]!, byWorkload('Deployment')),
      watch(workloads[1]!, byWorkload('StatefulSet')),
      watch(workloads[2]!, byWorkload('DaemonSet')),
      watch(credentialProviders, everyIdentity),
      // A namespace's labels decide which providers its identities may use.
      watch(namespaces, (ns) => identities.keys(ns.metadata?.name)),
      watch(policies, everyIdentity),
    ],
    workers: config.workers,
    resyncPeriodMs: config.resyncPeriodMs,
    logger,
    metrics,
  });

  let ended!: (outcome: OperatorOutcome) => void;
  const done = new Promise<OperatorOutcome>((resolve) => {
    ended = resolve;
  });
  fenced = (reason) => {
    logger.error('audit trail fenced: another writer moved its anchored head; stopping', { reason });
    void controller.stop(0).finally(() => ended('lease-lost'));
  };
  let stopping = false;
  /** Only the leader appends: open the trail (continuing the anchored chain) before reconciling. */
  const lead = async () => {
    for (let delay = 1000; !stopping; delay = Math.min(delay * 2, 30_000)) {
      try {
        await audit.open();
        break;
      } catch (error) {
        logger.error('cannot open the audit trail; retrying', { err: error, retryInMs: delay });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    if (!stopping) {
      startOwnedCaches();
      await controller.start();
    }
  };
  /** Not awaited: until a cache has listed, the ports read live. */
  const startOwnedCaches = () => {
    for (const source of Object.values(owned)) void source.start();
  };
  const checkpoints = setInterval(() => {
    audit.flush().catch((error: unknown) => {
      metrics.auditCheckpointFailed();
      logger.error('audit checkpoint failed', { err: error });
    });
  }, config.audit.checkpointIntervalMs);
  checkpoints.unref();
  const health = new HealthServer({ port: config.httpPort, host: config.httpHost, metrics });
  let leader: LeaderElector | undefined;
  if (config.leaderElection.enabled) {
    const le = config.leaderElection;
    await requireLeaseNamespace(kc.makeApiClient(k8s.CoreV1Api), le.leaseNamespace);
    leader = new LeaderElector({
      store: leaseStore(kc.makeApiClient(k8s.CoordinationV1Api), le.leaseNamespace, le.leaseName),
      identity: leaderIdentity(le.identity),
      leaseDurationMs: le.leaseDurationMs,
      renewDeadlineMs: le.renewDeadlineMs,
      retryPeriodMs: le.retryPeriodMs,
      onStartedLeading: () => void lead(),
      onStoppedLeading: (reason) => {
        if (reason === 'lost') {
          logger.error('lost the lease: stopping at once so no key is reconciled twice');
          // The next leader continues from the anchored head: append and anchor nothing more.
          clearInterval(checkpoints);
          audit.abandon();
          void controller.stop(0).finally(() => ended('lease-lost'));
        }
      },
      logger,
      metrics,
    });
  }
  health.addReadinessCheck('operator', operatorReadiness([controller], leader));
  const port = await health.start();
  if (leader) void leader.run();
  else {
    await audit.open();
    startOwnedCaches();
    void controller.start();
  }
  logger.info('nhi-operator started', {
    port,
    dryRun: config.dryRun,
    leaderElection: config.leaderElection.enabled,
  });

  return {
    port,
    leader,
    controller,
    done,
    async stop() {
      try {
        stopping = true;
        clearInterval(checkpoints);
        await controller.stop();
        // Still holding the lease: seal and anchor what was appended, then release it.
        await audit.close().catch((error: unknown) => logger.error('audit close failed', { err: error }));
        await leader?.stop();
        for (const source of [identities, credentialProviders, policies, namespaces, ...workloads])
          await source.stop();
        for (const source of Object.values(owned)) await source.stop();
        await health.stop();
        await webhook.close();
      } finally {
        ended('stopped');
      }
    },
  };
}
