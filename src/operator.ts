// Assembling the operator: config -> clients -> providers -> controllers, with leader election,
// metrics and health. main.ts runs it as a process; tests may run it in-process.

import * as k8s from '@kubernetes/client-node';
import type { AgentIdentity, ClusterCredentialProvider, IdentityPolicy } from './api/v1alpha1/types.ts';
import { GROUP, VERSION } from './api/v1alpha1/types.ts';
import type { OperatorConfig } from './config.ts';
import { AgentIdentityReconciler } from './controller/agentidentity/reconciler.ts';
import { workloadPort } from './controller/agentidentity/workload.ts';
import { FileAuditSink } from './governance/audit/audit.ts';
import { complianceViolations } from './policies/compliance.ts';
import { describe as describeViolation } from './policies/violation.ts';
import { buildProviderRegistry } from './providers/setup.ts';
import { Controller, watch } from './runtime/controller.ts';
import { EventRecorder, eventSink } from './runtime/events.ts';
import { addFinalizer, customObjectMergePatcher, removeFinalizer } from './runtime/finalizers.ts';
import { HealthServer, operatorReadiness } from './runtime/health.ts';
import { InformerSource } from './runtime/informer.ts';
import { objectKey } from './runtime/keys.ts';
import { LeaderElector, leaderIdentity, leaseStore } from './runtime/leader.ts';
import type { Logger } from './runtime/logger.ts';
import { RuntimeMetrics } from './runtime/metrics.ts';
import { customObjectStatusWriter, writeStatusIfChanged } from './runtime/status.ts';

const agentIdentities = { group: GROUP, version: VERSION, plural: 'agentidentities' };

export interface RunningOperator {
  port: number;
  leader: LeaderElector | undefined;
  controller: Controller;
  stop(): Promise<void>;
}

function customSource<T extends k8s.KubernetesObject>(
  kc: k8s.KubeConfig,
  plural: string,
  logger: Logger,
  metrics: RuntimeMetrics,
  namespace?: string,
): InformerSource<T> {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const path = namespace
    ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}`
    : `/apis/${GROUP}/${VERSION}/${plural}`;
  const list = () =>
    (namespace
      ? api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })
      : api.listClusterCustomObject({ group: GROUP, version: VERSION, plural })) as Promise<
      k8s.KubernetesListObject<T>
    >;
  return new InformerSource<T>({
    name: plural,
    create: () => k8s.makeInformer(kc, path, list),
    logger,
    metrics,
  });
}

function workloadSource(
  kc: k8s.KubeConfig,
  kind: 'deployments' | 'statefulsets' | 'daemonsets',
  logger: Logger,
  metrics: RuntimeMetrics,
  namespace: string | undefined,
) {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const all = {
    deployments: () => apps.listDeploymentForAllNamespaces(),
    statefulsets: () => apps.listStatefulSetForAllNamespaces(),
    daemonsets: () => apps.listDaemonSetForAllNamespaces(),
  };
  const inNamespace = (ns: string) => ({
    deployments: () => apps.listNamespacedDeployment({ namespace: ns }),
    statefulsets: () => apps.listNamespacedStatefulSet({ namespace: ns }),
    daemonsets: () => apps.listNamespacedDaemonSet({ namespace: ns }),
  });
  const list = (namespace ? inNamespace(namespace) : all)[kind];
  const path = namespace ? `/apis/apps/v1/namespaces/${namespace}/${kind}` : `/apis/apps/v1/${kind}`;
  return new InformerSource<k8s.KubernetesObject>({
    name: kind,
    create: () =>
      k8s.makeInformer(kc, path, list as () => Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>),
    logger,
    metrics,
  });
}

export async function startOperator(
  config: OperatorConfig,
  kc: k8s.KubeConfig,
  logger: Logger,
): Promise<RunningOperator> {
  const metrics = new RuntimeMetrics({ processMetrics: true });
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const identities = customSource<k8s.KubernetesObject>(
    kc,
    'agentidentities',
    logger,
    metrics,
    config.watchNamespace,
  );
  const credentialProviders = customSource<k8s.KubernetesObject>(
    kc,
    'clustercredentialproviders',
    logger,
    metrics,
  );
  const policies = customSource<k8s.KubernetesObject>(kc, 'identitypolicies', logger, metrics);
  const workloads = (['deployments', 'statefulsets', 'daemonsets'] as const).map((k) =>
    workloadSource(kc, k, logger, metrics, config.watchNamespace),
  );

  const writeStatus = customObjectStatusWriter(custom, agentIdentities);
  const patch = customObjectMergePatcher(custom, agentIdentities);
  const recorder = new EventRecorder({
    sink: eventSink(kc.makeApiClient(k8s.EventsV1Api)),
    controller: 'nhi.dev/nhi-operator',
    instance: config.leaderElection.identity,
    logger,
  });
  const providerConfigsByName = () =>
    new Map(
      credentialProviders
        .list()
        .map((o) => fromKube<ClusterCredentialProvider>(o) as ClusterCredentialProvider)
        .map((c) => [c.metadata.name, c] as const),
    );
  const providers = buildProviderRegistry(
    kc,
    () =>
      credentialProviders
        .list()
        .map((o) => fromKube<ClusterCredentialProvider>(o) as ClusterCredentialProvider),
    logger,
    { enabled: config.providers, allowStaticVaultToken: config.allowStaticVaultToken },
  );
  const reconciler = new AgentIdentityReconciler({
    store: {
      get: (namespace, name) => fromKube<AgentIdentity>(identities.get(name, namespace)),
      writeStatus: async (identity, status) => {
        await writeStatusIfChanged(writeStatus, toKube(identity), status, {
          metrics,
          resource: 'agentidentities',
        });
      },
      addFinalizer: async (identity, finalizer) => {
        return fromKube<AgentIdentity>(await addFinalizer(patch, toKube(identity), finalizer)) ?? identity;
      },
      removeFinalizer: async (identity, finalizer) => {
        await removeFinalizer(patch, toKube(identity), finalizer);
      },
      annotate: async (identity, annotations) => {
        await patch(toKube(identity), {
          metadata: { annotations, resourceVersion: identity.metadata.resourceVersion },
        });
      },
    },
    workloads: workloadPort(kc),
    providers,
    policy: () => fromKube<IdentityPolicy>(policies.get('default')),
    checkPolicy: (identity, policy) =>
      complianceViolations(withoutServerFields(identity), policy, providerConfigsByName()).map(
        describeViolation,
      ),
    syncTarget: (ref, secret, material) => providers.syncTarget(ref, secret, material),
    audit: new FileAuditSink(config.auditLogPath),
    notifier: {
      event: (identity, type, reason, message) =>
        recorder.record(toKube(identity), type, reason, message).then(() => undefined),
    },
    logger,
    now: () => new Date(),
    actor: config.actor,
    dryRun: config.dryRun,
    driftIntervalMs: config.driftIntervalMs,
  });

  // Workload changes wake the identities that refer to them; the resync is the orphan sweep.
  const byWorkload = (kind: string) => (obj: k8s.KubernetesObject) =>
    identities
      .list(obj.metadata?.namespace)
      .map((o) => fromKube<AgentIdentity>(o) as AgentIdentity)
      .filter((i) => i.spec.workloadRef?.kind === kind && i.spec.workloadRef.name === obj.metadata?.name)
      .map((i) => objectKey(toKube(i)));
  const everyIdentity = () => identities.list().map((i) => objectKey(i));
  const controller = new Controller({
    name: 'agentidentity',
    reconcile: reconciler.reconcile,
    watches: [
      watch(identities),
      watch(workloads[0]!, byWorkload('Deployment')),
      watch(workloads[1]!, byWorkload('StatefulSet')),
      watch(workloads[2]!, byWorkload('DaemonSet')),
      watch(credentialProviders, everyIdentity),
      watch(policies, everyIdentity),
    ],
    workers: config.workers,
    resyncPeriodMs: config.resyncPeriodMs,
    logger,
    metrics,
  });

  const health = new HealthServer({ port: config.httpPort, host: config.httpHost, metrics });
  let leader: LeaderElector | undefined;
  if (config.leaderElection.enabled) await requireNamespace(kc, config.leaderElection.leaseNamespace);
  if (config.leaderElection.enabled) {
    const le = config.leaderElection;
    leader = new LeaderElector({
      store: leaseStore(kc.makeApiClient(k8s.CoordinationV1Api), le.leaseNamespace, le.leaseName),
      identity: leaderIdentity(le.identity),
      leaseDurationMs: le.leaseDurationMs,
      renewDeadlineMs: le.renewDeadlineMs,
      retryPeriodMs: le.retryPeriodMs,
      onStartedLeading: () => void controller.start(),
      onStoppedLeading: (reason) => {
        if (reason === 'lost') {
          logger.error('lost the lease: stopping at once so no key is reconciled twice');
          void controller.stop(0).finally(() => process.exit(1));
        }
      },
      logger,
      metrics,
    });
  }
  health.addReadinessCheck('operator', operatorReadiness([controller], leader));
  const port = await health.start();
  if (leader) void leader.run();
  else void controller.start();
  logger.info('nhi-operator started', {
    port,
    dryRun: config.dryRun,
    leaderElection: config.leaderElection.enabled,
  });

  return {
    port,
    leader,
    controller,
    async stop() {
      await controller.stop();
      await leader?.stop();
      for (const source of [identities, credentialProviders, policies, ...workloads]) await source.stop();
      await health.stop();
    },
  };
}

/** The fields the apiserver adds, which a manifest never carries: validate what the user wrote. */
function withoutServerFields(identity: AgentIdentity): AgentIdentity {
  const { name, namespace, labels, annotations } = identity.metadata;
  return {
    apiVersion: identity.apiVersion,
    kind: identity.kind,
    metadata: {
      name,
      ...(namespace && { namespace }),
      ...(labels && { labels }),
      ...(annotations && { annotations }),
    },
    spec: identity.spec,
  };
}

// Custom objects arrive as plain JSON (timestamps are strings), while client-node types metadata with
// Dates: convert at this one boundary instead of pretending either way elsewhere.
function fromKube<T>(obj: k8s.KubernetesObject | undefined): T | undefined {
  return obj as unknown as T | undefined;
}

function toKube(obj: AgentIdentity): k8s.KubernetesObject {
  return obj as unknown as k8s.KubernetesObject;
}

/** The Lease lives in this namespace: when it surely does not exist, fail at start with what to do. */
async function requireNamespace(kc: k8s.KubeConfig, name: string): Promise<void> {
  try {
    await kc.makeApiClient(k8s.CoreV1Api).readNamespace({ name });
  } catch (error) {
    if (error instanceof k8s.ApiException && error.code === 404) {
      throw new Error(
        `leader election: namespace ${name} for the Lease does not exist; create it, set POD_NAMESPACE or --lease-namespace, or run with --leader-elect=false`,
      );
    }
    // Least privilege: the operator may not read namespaces (the chart does not grant it). Only a
    // definite "not found" stops the start; anything else is left to the Lease calls themselves.
  }
}
