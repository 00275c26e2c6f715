// The inventory's read-only Kubernetes port over @kubernetes/client-node: lists across all
// namespaces (paged), reduced at once to names, marks and bindings. Token Secrets are listed by
// type and their data is dropped before anything else sees the object. Workloads and ConfigMaps are
// returned with their pod templates and data so the inventory can scan them for literal credentials;
// gatherInventory() keeps only the findings.

import * as k8s from '@kubernetes/client-node';
import type { AgentIdentity, ClusterCredentialProvider } from '../../api/v1alpha1/types.ts';
import { GROUP, VERSION } from '../../api/v1alpha1/types.ts';
import {
  InventorySourceError,
  type KubernetesInventoryPort,
  type RawConfigMap,
  type RawPod,
  type RawServiceAccount,
  type RawTokenSecret,
  type RawWorkload,
  type WorkloadKind,
} from './types.ts';

const PAGE = 500;
const TOKEN_TYPE = 'kubernetes.io/service-account-token';
const SA_NAME_ANNOTATION = 'kubernetes.io/service-account.name';

interface Page<T> {
  items: T[];
  metadata?: { _continue?: string };
}

async function paged<T>(what: string, list: (cont: string | undefined) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const page = await list(cont).catch((error: unknown) => {
      throw sourceError(error, what);
    });
    out.push(...page.items);
    cont = page.metadata?._continue || undefined;
  } while (cont);
  return out;
}

function sourceError(error: unknown, what: string): InventorySourceError {
  const code = error instanceof k8s.ApiException ? ` (HTTP ${error.code})` : '';
  return new InventorySourceError(`kubernetes: ${what} failed${code}`, { cause: error });
}

const isNotFound = (error: unknown) => error instanceof k8s.ApiException && error.code === 404;

function meta(m: k8s.V1ObjectMeta | undefined) {
  const out: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
  } = {};
  if (m?.labels) out.labels = m.labels;
  if (m?.annotations) out.annotations = m.annotations;
  if (m?.creationTimestamp) out.creationTimestamp = new Date(m.creationTimestamp).toISOString();
  return out;
}

type Listable = { metadata?: k8s.V1ObjectMeta };
const cont_ = (cont: string | undefined) => ({ limit: PAGE, ...(cont ? { _continue: cont } : {}) });

function workload(kind: WorkloadKind, o: Listable, template: k8s.V1PodTemplateSpec | undefined): RawWorkload {
  const out: RawWorkload = {
    kind,
    namespace: o.metadata?.namespace ?? '',
    name: o.metadata?.name ?? '',
    podSpec: template?.spec ?? {},
  };
  if (o.metadata?.labels) out.labels = o.metadata.labels;
  if (o.metadata?.annotations) out.annotations = o.metadata.annotations;
  if (template?.metadata?.annotations) out.templateAnnotations = template.metadata.annotations;
  return out;
}

export function kubernetesInventoryPort(kc: k8s.KubeConfig): KubernetesInventoryPort {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const batch = kc.makeApiClient(k8s.BatchV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const wellKnown = kc.makeApiClient(k8s.WellKnownApi);

  /** A cluster-wide list of one of our kinds; a 404 means the CRD is not installed: there are none. */
  async function listOurs<T>(plural: string): Promise<T[]> {
    try {
      return await paged(`list ${plural}`, async (cont) => {
        const page = (await custom.listClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural,
          limit: PAGE,
          ...(cont ? { _continue: cont } : {}),
        })) as Page<T>;
        return page;
      });
    } catch (error) {
      if (error instanceof InventorySourceError && isNotFound(error.cause)) return [];
      throw error;
    }
  }

  return {
    listAgentIdentities: () => listOurs<AgentIdentity>('agentidentities'),

    listServiceAccounts: async () =>
      (
        await paged('list ServiceAccounts', (cont) =>
          core.listServiceAccountForAllNamespaces({ limit: PAGE, ...(cont ? { _continue: cont } : {}) }),
        )
      ).map((sa): RawServiceAccount => {
        const out: RawServiceAccount = {
          namespace: sa.metadata?.namespace ?? '',
          name: sa.metadata?.name ?? '',
          ...meta(sa.metadata),
        };
        if (sa.metadata?.uid) out.uid = sa.metadata.uid;
        const owners = sa.metadata?.ownerReferences;
        if (owners?.length)
          out.ownerReferences = owners.map((o) => ({ kind: o.kind, name: o.name, uid: o.uid }));
        return out;
      }),

    listTokenSecrets: async () =>
      (
        await paged('list service-account-token Secrets', (cont) =>
          core.listSecretForAllNamespaces({
            fieldSelector: `type=${TOKEN_TYPE}`,
            limit: PAGE,
            ...(cont ? { _continue: cont } : {}),
          }),
        )
      ).map((secret): RawTokenSecret => {
        // Only metadata leaves this function: the token and CA in `data` are never copied.
        const out: RawTokenSecret = {
          namespace: secret.metadata?.namespace ?? '',
          name: secret.metadata?.name ?? '',
          ...meta(secret.metadata),
        };
        const sa = secret.metadata?.annotations?.[SA_NAME_ANNOTATION];
        if (sa) out.serviceAccountName = sa;
        return out;
      }),

    listPods: async () =>
      (
        await paged('list Pods', (cont) =>
          core.listPodForAllNamespaces({ limit: PAGE, ...(cont ? { _continue: cont } : {}) }),
        )
      )
        .filter((pod) => pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed')
        .map(
          (pod): RawPod => ({
            namespace: pod.metadata?.namespace ?? '',
            serviceAccountName: pod.spec?.serviceAccountName ?? 'default',
          }),
        ),

    listWorkloads: async () => {
      const [deployments, statefulSets, daemonSets, cronJobs, jobs, pods] = await Promise.all([
        paged('list Deployments', (c) => apps.listDeploymentForAllNamespaces(cont_(c))),
        paged('list StatefulSets', (c) => apps.listStatefulSetForAllNamespaces(cont_(c))),
        paged('list DaemonSets', (c) => apps.listDaemonSetForAllNamespaces(cont_(c))),
        paged('list CronJobs', (c) => batch.listCronJobForAllNamespaces(cont_(c))),
        paged('list Jobs', (c) => batch.listJobForAllNamespaces(cont_(c))),
        paged('list Pods', (c) => core.listPodForAllNamespaces(cont_(c))),
      ]);
      // A CronJob's Jobs and a controller's Pods repeat its template: scan the owner only.
      const owned = (o: Listable) => (o.metadata?.ownerReferences?.length ?? 0) > 0;
      return [
        ...deployments.map((d) => workload('Deployment', d, d.spec?.template)),
        ...statefulSets.map((s) => workload('StatefulSet', s, s.spec?.template)),
        ...daemonSets.map((d) => workload('DaemonSet', d, d.spec?.template)),
        ...cronJobs.map((c) => workload('CronJob', c, c.spec?.jobTemplate.spec?.template)),
        ...jobs.filter((j) => !owned(j)).map((j) => workload('Job', j, j.spec?.template)),
        ...pods
          .filter((p) => !owned(p))
          .map((p) => workload('Pod', p, { metadata: {}, ...(p.spec ? { spec: p.spec } : {}) })),
      ];
    },

    listConfigMaps: async () =>
      (await paged('list ConfigMaps', (c) => core.listConfigMapForAllNamespaces(cont_(c)))).map(
        (cm): RawConfigMap => {
          const out: RawConfigMap = {
            namespace: cm.metadata?.namespace ?? '',
            name: cm.metadata?.name ?? '',
          };
          if (cm.metadata?.labels) out.labels = cm.metadata.labels;
          if (cm.metadata?.annotations) out.annotations = cm.metadata.annotations;
          if (cm.data) out.data = cm.data;
          return out;
        },
      ),

    serviceAccountIssuer: async () => {
      try {
        const body = await wellKnown.getServiceAccountIssuerOpenIDConfiguration();
        const doc = (typeof body === 'string' ? JSON.parse(body) : body) as { issuer?: unknown };
        return typeof doc.issuer === 'string' ? doc.issuer : undefined;
      } catch (error) {
        if (error instanceof k8s.ApiException && (error.code === 404 || error.code === 403)) return undefined;
        throw sourceError(error, 'read the OIDC discovery document');
      }
    },

    providerIssuers: async () =>
      (await listOurs<ClusterCredentialProvider>('clustercredentialproviders'))
        .map((p) => p.spec.aws?.irsa?.issuer)
        .filter((issuer): issuer is string => Boolean(issuer)),
  };
}
