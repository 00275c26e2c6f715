// The informer sources the operator watches: its own custom resources, the workloads that
// AgentIdentities refer to, and the Namespaces they live in. Each is a supervised InformerSource
// (runtime/informer.ts) over client-node's makeInformer; a namespace narrows the list and the watch
// to that namespace.

import * as k8s from '@kubernetes/client-node';
import { Marks } from '../../api/v1alpha1/annotations.ts';
import { GROUP, VERSION } from '../../api/v1alpha1/types.ts';
import { InformerSource, type ManagedInformer } from '../../runtime/informer.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { RuntimeMetrics } from '../../runtime/metrics.ts';
import { packed } from '../../runtime/packed.ts';
import {
  podSlim,
  secretWithoutValues,
  tokenSecretMetadata,
  withoutManagedFields,
  workloadSlim,
} from './slim.ts';

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
    create: () => slimInformer(kc, path, list, withoutManagedFields()),
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
  const kindName = { deployments: 'Deployment', statefulsets: 'StatefulSet', daemonsets: 'DaemonSet' }[kind];
  return new InformerSource<k8s.KubernetesObject>({
    name: kind,
    create: () =>
      slimInformer(
        kc,
        path,
        list as () => Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>,
        workloadSlim(kindName),
      ),
    logger,
    metrics,
  });
}

/**
 * client-node's ListWatch with `slim` applied to every object as it arrives, listed or watched, so the
 * cache never holds what slim drops (adapters/kubernetes/slim.ts), and what it keeps stored as JSON
 * text (runtime/packed.ts; InformerSource unpacks on every read). `labelSelector` narrows the watch;
 * `list` must apply the same selector.
 */
export function slimInformer<T extends k8s.KubernetesObject>(
  kc: k8s.KubeConfig,
  path: string,
  list: () => Promise<k8s.KubernetesListObject<T>>,
  slim: (obj: T) => T,
  labelSelector?: string,
  fieldSelector?: string,
): ManagedInformer<T> {
  const watch = new k8s.Watch(kc);
  const store = (obj: T): T => packed(slim(obj));
  const slimming = {
    watch: (
      watchPath: string,
      query: Record<string, string | number | boolean | undefined>,
      callback: (phase: string, obj: unknown, raw?: unknown) => void,
      done: (err: unknown) => void,
    ) =>
      watch.watch(
        watchPath,
        query,
        (phase, obj, raw) =>
          callback(phase, phase === 'ERROR' || phase === 'BOOKMARK' ? obj : store(obj as T), raw),
        done,
      ),
  } as unknown as k8s.Watch;
  const slimList = async () => {
    const listed = await list();
    return { ...listed, items: listed.items.map(store) };
  };
  return new k8s.ListWatch<T>(path, slimming, slimList, false, labelSelector, fieldSelector);
}

/** The caches of what the Kubernetes provider manages, plus Pods (providers/kubernetes/cached-port.ts). */
export interface OwnedObjectSources {
  serviceAccounts: InformerSource<k8s.V1ServiceAccount>;
  roles: InformerSource<k8s.V1Role>;
  roleBindings: InformerSource<k8s.V1RoleBinding>;
  /** Without their values (slim.ts secretWithoutValues). */
  secrets: InformerSource<k8s.V1Secret>;
  /** Legacy ServiceAccount token Secrets (by type), metadata only: their issuance and last use. */
  tokenSecrets: InformerSource<k8s.V1Secret>;
  pods: InformerSource<k8s.V1Pod>;
}

export const TOKEN_SECRET_SELECTOR = 'type=kubernetes.io/service-account-token';

/** What an owned-object source selects on; its list and its watch both use it. */
interface Selectors {
  labelSelector?: string;
  fieldSelector?: string;
}

/**
 * ServiceAccounts, Roles, RoleBindings and Secrets carrying the nhi.dev/identity-uid label (only what
 * the operator made or adopted: the label selector is applied by the apiserver), and Pods for bound
 * pods and last use. Without a namespace these list every namespace, each with its reason in
 * list-scope.test.ts.
 */
export function ownedObjectSources(
  kc: k8s.KubeConfig,
  { logger, metrics, namespace }: SourceOptions,
): OwnedObjectSources {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const owned: Selectors = { labelSelector: Marks.identityUid };
  const pathOf = (prefix: string, plural: string) =>
    namespace ? `${prefix}/namespaces/${namespace}/${plural}` : `${prefix}/${plural}`;
  // The list and the watch of each source get the same selectors, from one argument.
  const source = <T extends k8s.KubernetesObject>(
    name: string,
    path: string,
    selectors: Selectors,
    list: (selectors: Selectors) => Promise<k8s.KubernetesListObject<T>>,
    slim: (obj: T) => T,
  ) =>
    new InformerSource<T>({
      name,
      create: () =>
        slimInformer(kc, path, () => list(selectors), slim, selectors.labelSelector, selectors.fieldSelector),
      logger,
      metrics,
    });
  const ns = namespace;
  return {
    serviceAccounts: source(
      'serviceaccounts',
      pathOf('/api/v1', 'serviceaccounts'),
      owned,
      (sel) =>
        ns
          ? core.listNamespacedServiceAccount({ namespace: ns, ...sel })
          : core.listServiceAccountForAllNamespaces(sel),
      withoutManagedFields<k8s.V1ServiceAccount>('ServiceAccount', 'v1'),
    ),
    roles: source(
      'roles',
      pathOf('/apis/rbac.authorization.k8s.io/v1', 'roles'),
      owned,
      (sel) => (ns ? rbac.listNamespacedRole({ namespace: ns, ...sel }) : rbac.listRoleForAllNamespaces(sel)),
      withoutManagedFields<k8s.V1Role>('Role', 'rbac.authorization.k8s.io/v1'),
    ),
    roleBindings: source(
      'rolebindings',
      pathOf('/apis/rbac.authorization.k8s.io/v1', 'rolebindings'),
      owned,
      (sel) =>
        ns
          ? rbac.listNamespacedRoleBinding({ namespace: ns, ...sel })
          : rbac.listRoleBindingForAllNamespaces(sel),
      withoutManagedFields<k8s.V1RoleBinding>('RoleBinding', 'rbac.authorization.k8s.io/v1'),
    ),
    secrets: source(
      'secrets',
      pathOf('/api/v1', 'secrets'),
      owned,
      (sel) =>
        ns ? core.listNamespacedSecret({ namespace: ns, ...sel }) : core.listSecretForAllNamespaces(sel),
      secretWithoutValues,
    ),
    tokenSecrets: source(
      'token-secrets',
      pathOf('/api/v1', 'secrets'),
      { fieldSelector: TOKEN_SECRET_SELECTOR },
      (sel) =>
        ns ? core.listNamespacedSecret({ namespace: ns, ...sel }) : core.listSecretForAllNamespaces(sel),
      tokenSecretMetadata,
    ),
    // Every Pod (they carry no label of ours): bound pods are counted by ServiceAccount.
    pods: source(
      'pods',
      pathOf('/api/v1', 'pods'),
      {},
      (sel) => (ns ? core.listNamespacedPod({ namespace: ns, ...sel }) : core.listPodForAllNamespaces(sel)),
      podSlim,
    ),
  };
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
