// The informer sources the operator watches: its own custom resources, the workloads that
// AgentIdentities refer to, and the Namespaces they live in. Each is a supervised InformerSource
// (runtime/informer.ts) over client-node's makeInformer; a namespace narrows the list and the watch
// to that namespace.

import * as k8s from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../api/v1alpha1/types.ts';
import { InformerSource } from '../../runtime/informer.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { RuntimeMetrics } from '../../runtime/metrics.ts';

export interface SourceOptions {
  logger: Logger;
  metrics: RuntimeMetrics;
  /** Omit to watch every namespace (and for cluster-scoped kinds). */
  namespace?: string | undefined;
}

/** An nhi.dev/v1alpha1 kind by its plural, e.g. `agentidentities`. */
export function customObjectSource(
  kc: k8s.KubeConfig,
  plural: string,
  { logger, metrics, namespace }: SourceOptions,
): InformerSource<k8s.KubernetesObject> {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const path = namespace
    ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}`
    : `/apis/${GROUP}/${VERSION}/${plural}`;
  const list = () =>
    (namespace
      ? api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })
      : api.listClusterCustomObject({ group: GROUP, version: VERSION, plural })) as Promise<
      k8s.KubernetesListObject<k8s.KubernetesObject>
    >;
  return new InformerSource<k8s.KubernetesObject>({
    name: plural,
    create: () => k8s.makeInformer(kc, path, list),
    logger,
    metrics,
  });
}

export type WorkloadKind = 'deployments' | 'statefulsets' | 'daemonsets';

/**
 * An apps/v1 workload kind by its plural. Without a namespace this lists every namespace with no
 * selector (workloads carry no label of ours): the one such list the operator makes, recorded with
 * its reason in list-scope.test.ts. It reads workloads only, never Secrets.
 */
export function workloadSource(
  kc: k8s.KubeConfig,
  kind: WorkloadKind,
  { logger, metrics, namespace }: SourceOptions,
): InformerSource<k8s.KubernetesObject> {
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

/**
 * Every Namespace, for their labels: a ClusterCredentialProvider's allowedNamespaces.selector is
 * matched against them (policies/provider-namespaces.ts), and a label change wakes the identities there.
 */
export function namespaceSource(
  kc: k8s.KubeConfig,
  { logger, metrics }: Omit<SourceOptions, 'namespace'>,
): InformerSource<k8s.KubernetesObject> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return new InformerSource<k8s.KubernetesObject>({
    name: 'namespaces',
    create: () =>
      k8s.makeInformer(
        kc,
        '/api/v1/namespaces',
        () => core.listNamespace() as Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>,
      ),
    logger,
    metrics,
  });
}
