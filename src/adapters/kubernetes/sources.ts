// The informer sources the operator watches: its own custom resources, the workloads that
// AgentIdentities refer to, and the Namespaces they live in. Each is a supervised InformerSource
// (runtime/informer.ts) over client-node's makeInformer; a namespace narrows the list and the watch
// to that namespace.

import * as k8s from '@kubernetes/client-node';
import { Marks } from '../../api/v1alpha1/annotations.ts';
import { GROUP, VERSION } from '../../api/v1alpha1/types.ts';
import { DEFAULT_MAX_SILENCE_MS, InformerSource, type ManagedInformer } from '../../runtime/informer.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { RuntimeMetrics } from '../../runtime/metrics.ts';
import { packer } from '../../runtime/packed.ts';
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
  /** config.ts watchTimeoutMs: a watch that heard nothing, not even a bookmark, for this long is resumed. */
  watchTimeoutMs: number;
  /** Omit to watch every namespace (and for cluster-scoped kinds). */
  namespace?: string | undefined;
}

/**
 * The watchdog's bound (runtime/informer.ts): past the inactivity timeout by a margin, so a watch that
 * resumes on time is never taken for a stalled one (a restart relists everything).
 */
function maxSilenceMs(watchTimeoutMs: number): number {
  return Math.max(DEFAULT_MAX_SILENCE_MS, 2 * watchTimeoutMs);
}

/** What every source passes to its informer and its watchdog. */
type WatchOptions = Pick<SourceOptions, 'logger' | 'metrics' | 'watchTimeoutMs'>;

function supervised<T extends k8s.KubernetesObject>(
  name: string,
  create: (activity: () => void) => ManagedInformer<T>,
  { logger, metrics, watchTimeoutMs }: WatchOptions,
): InformerSource<T> {
  return new InformerSource<T>({ name, create, logger, metrics, maxSilenceMs: maxSilenceMs(watchTimeoutMs) });
}

/** An nhi.dev/v1alpha1 kind by its plural, e.g. `agentidentities`. */
export function customObjectSource(
  kc: k8s.KubeConfig,
  plural: string,
  options: SourceOptions,
): InformerSource<k8s.KubernetesObject> {
  const { namespace } = options;
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
  return supervised(
    plural,
    (activity) => slimInformer(kc, path, list, withoutManagedFields(), { ...options, activity }),
    options,
  );
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
  options: SourceOptions,
): InformerSource<k8s.KubernetesObject> {
  const { namespace } = options;
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
  return supervised(
    kind,
    (activity) =>
      slimInformer(
        kc,
        path,
        list as () => Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>,
        workloadSlim(kindName),
        { ...options, activity },
      ),
    options,
  );
}

/**
 * client-node's Watch with its inactivity timeout set: a private field with no option to set it
 * (sources.test.ts fails if an upgrade renames it).
 */
export function withInactivityTimeout(watch: k8s.Watch, ms: number): k8s.Watch {
  (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = ms;
  return watch;
}

interface InformerOptions {
  watchTimeoutMs: number;
  /** Called on every line a watch hears, bookmarks included (InformerSource's watchdog). */
  activity: () => void;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
}

/**
 * client-node's ListWatch with `slim` applied to every object as it arrives, listed or watched, so the
 * cache never holds what slim drops (adapters/kubernetes/slim.ts), and what it keeps stored as JSON
 * text, compressed against what this cache stored before (runtime/packed.ts; InformerSource unpacks on
 * every read). Its watches ask for bookmarks: the apiserver sends one about every minute, which keeps
 * a quiet watch open past `watchTimeoutMs` (client-node's inactivity timeout, 30 s unless set) and
 * moves the resourceVersion it resumes from.
 * `labelSelector` narrows the watch; `list` must apply the same selector.
 */
export function slimInformer<T extends k8s.KubernetesObject>(
  kc: k8s.KubeConfig,
  path: string,
  list: () => Promise<k8s.KubernetesListObject<T>>,
  slim: (obj: T) => T,
  { watchTimeoutMs, activity, labelSelector, fieldSelector }: InformerOptions,
): ManagedInformer<T> {
  const watch = withInactivityTimeout(new k8s.Watch(kc), watchTimeoutMs);
  const pack = packer();
  const store = (obj: T): T => pack(slim(obj));
  const slimming = {
    watch: (
      watchPath: string,
      query: Record<string, string | number | boolean | undefined>,
      callback: (phase: string, obj: unknown, raw?: unknown) => void,
      done: (err: unknown) => void,
    ) =>
      watch.watch(
        watchPath,
        { ...query, allowWatchBookmarks: true },
        (phase, obj, raw) => {
          activity();
          callback(phase, phase === 'ERROR' || phase === 'BOOKMARK' ? obj : store(obj as T), raw);
        },
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
export function ownedObjectSources(kc: k8s.KubeConfig, options: SourceOptions): OwnedObjectSources {
  const { namespace } = options;
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
    supervised<T>(
      name,
      (activity) =>
        slimInformer(kc, path, () => list(selectors), slim, { ...options, ...selectors, activity }),
      options,
    );
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
  options: Omit<SourceOptions, 'namespace'>,
): InformerSource<k8s.KubernetesObject> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return supervised(
    'namespaces',
    (activity) =>
      slimInformer(
        kc,
        '/api/v1/namespaces',
        () => core.listNamespace() as Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>,
        withoutManagedFields('Namespace', 'v1'),
        { ...options, activity },
      ),
    options,
  );
}
