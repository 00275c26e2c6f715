// The inventory's read-only Kubernetes port over @kubernetes/client-node: lists across all
// namespaces (paged), reduced at once to names, marks and bindings. Token Secrets are listed by
// type and their data is dropped before anything else sees the object.

import * as k8s from '@kubernetes/client-node';
import type { AgentIdentity, ClusterCredentialProvider } from '../../api/v1alpha1/types.ts';
import { GROUP, VERSION } from '../../api/v1alpha1/types.ts';
import {
  InventorySourceError,
  type KubernetesInventoryPort,
  type RawPod,
  type RawServiceAccount,
  type RawTokenSecret,
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

export function kubernetesInventoryPort(kc: k8s.KubeConfig): KubernetesInventoryPort {
  const core = kc.makeApiClient(k8s.CoreV1Api);
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
