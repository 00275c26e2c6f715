// Resolving `spec.workloadRef` to any kind through discovery, and judging whether the workload's pod
// template runs as the managed ServiceAccount (condition WorkloadBound).

import * as k8s from '@kubernetes/client-node';
import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import type { HardCodedSecret } from '../../governance/risk/factors.ts';
import type { PodSpecLike } from '../../governance/secrets/detect.ts';
import { serviceAccountNameOf } from '../../providers/kubernetes/names.ts';
import { httpStatus } from '../../runtime/errors.ts';
import type { WorkloadState } from './decision.ts';

export interface WorkloadPort {
  /** The resource for apiVersion+kind, or undefined when the cluster serves no such kind. */
  resolveKind(apiVersion: string, kind: string): Promise<{ namespaced: boolean } | undefined>;
  get(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
  ): Promise<k8s.KubernetesObject | undefined>;
  podsUsingServiceAccount(namespace: string, serviceAccountName: string): Promise<k8s.V1Pod[]>;
  /**
   * Sets annotations on the workload's pod template (a JSON merge patch of spec.template.metadata),
   * which rolls its pods as `kubectl rollout restart` does. False when the workload is gone.
   */
  annotatePodTemplate(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
    annotations: Record<string, string>,
  ): Promise<boolean>;
}

export function managedServiceAccountName(identity: AgentIdentity): string {
  return serviceAccountNameOf(identity);
}

/** The pod spec inside a workload of any common shape (Pod, Deployment-like, CronJob). */
export function podSpecOf(obj: unknown): WorkloadPodSpec | undefined {
  const o = obj as {
    kind?: string;
    spec?: WorkloadPodSpec & {
      template?: { spec?: WorkloadPodSpec };
      jobTemplate?: { spec?: { template?: { spec?: WorkloadPodSpec } } };
    };
  };
  if (o.kind === 'Pod') return o.spec ?? {};
  return o.spec?.template?.spec ?? o.spec?.jobTemplate?.spec?.template?.spec;
}

export type WorkloadPodSpec = PodSpecLike & { serviceAccountName?: string };

/** Finds literal credentials in the workload's pod template; gather.ts caches it per workload version. */
export type WorkloadScanner = (
  workload: k8s.KubernetesObject,
  podSpec: WorkloadPodSpec,
) => Promise<readonly HardCodedSecret[] | undefined>;

export async function observeWorkload(
  port: WorkloadPort,
  identity: AgentIdentity,
  scan?: WorkloadScanner,
): Promise<WorkloadState> {
  const ref = identity.spec.workloadRef;
  const namespace = identity.metadata.namespace ?? 'default';
  if (!ref) return { kind: 'none' };
  let resource: { namespaced: boolean } | undefined;
  try {
    resource = await port.resolveKind(ref.apiVersion, ref.kind);
  } catch (error) {
    if (httpStatus(error) !== 404) throw error;
  }
  if (!resource) {
    return {
      kind: 'unresolvable',
      message: `spec.workloadRef: the cluster serves no kind ${ref.kind} in ${ref.apiVersion}`,
    };
  }
  if (!resource.namespaced) {
    return {
      kind: 'unresolvable',
      message: `spec.workloadRef: ${ref.kind} is cluster-scoped; name a namespaced workload`,
    };
  }
  const workload = await port.get(ref.apiVersion, ref.kind, namespace, ref.name);
  if (!workload || workload.metadata?.deletionTimestamp) return { kind: 'missing' };
  const serviceAccount = managedServiceAccountName(identity);
  const podSpec = podSpecOf(workload);
  const pods = await port.podsUsingServiceAccount(namespace, serviceAccount);
  const hardCodedSecrets = podSpec && scan ? await scan(workload, podSpec) : undefined;
  return {
    kind: 'present',
    usesServiceAccount: podSpec?.serviceAccountName === serviceAccount,
    boundPods: pods.filter((p) => !p.metadata?.deletionTimestamp).length,
    ...(hardCodedSecrets ? { hardCodedSecrets } : {}),
  };
}

/** client-node's KubernetesObjectApi already caches discovery per apiVersion; expose its lookup. */
class DiscoveryObjectApi extends k8s.KubernetesObjectApi {
  lookup(apiVersion: string, kind: string): Promise<k8s.V1APIResource | undefined> {
    return this.resource(apiVersion, kind);
  }
}

/**
 * The operator's informer caches the workload port reads before asking the apiserver: workloads of
 * the kinds it watches, and Pods by ServiceAccount.
 */
export interface WorkloadCaches {
  /** The synced cache of `kind` in `apiVersion`, if the operator watches that kind. */
  workloads(
    apiVersion: string,
    kind: string,
  ): { get(name: string, namespace: string): k8s.KubernetesObject | undefined } | undefined;
  /** Pods in `namespace` running as `serviceAccountName`, or undefined when the cache has not synced. */
  podsUsing(namespace: string, serviceAccountName: string): k8s.V1Pod[] | undefined;
}

/**
 * With `caches`, a workload the cache holds and the Pods of a ServiceAccount are read from it; a
 * workload missing from the cache is read live before it is reported missing (a workload created a
 * moment ago must not look orphaned).
 */
export function workloadPort(kc: k8s.KubeConfig, caches?: WorkloadCaches): WorkloadPort {
  const objects = kc.makeApiClient(DiscoveryObjectApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return {
    async resolveKind(apiVersion, kind) {
      const resource = await objects.lookup(apiVersion, kind);
      return resource && { namespaced: resource.namespaced };
    },
    async get(apiVersion, kind, namespace, name) {
      const cached = caches?.workloads(apiVersion, kind)?.get(name, namespace);
      if (cached) return cached;
      try {
        return await objects.read({ apiVersion, kind, metadata: { name, namespace } });
      } catch (error) {
        if (httpStatus(error) === 404) return undefined;
        throw error;
      }
    },
    async podsUsingServiceAccount(namespace, serviceAccountName) {
      const cached = caches?.podsUsing(namespace, serviceAccountName);
      if (cached) return cached;
      const pods = await core.listNamespacedPod({
        namespace,
        fieldSelector: `spec.serviceAccountName=${serviceAccountName}`,
      });
      return pods.items;
    },
    async annotatePodTemplate(apiVersion, kind, namespace, name, annotations) {
      try {
        await objects.patch(
          {
            apiVersion,
            kind,
            metadata: { name, namespace },
            spec: { template: { metadata: { annotations } } },
          },
          undefined,
          undefined,
          'nhi-operator',
          undefined,
          k8s.PatchStrategy.MergePatch,
        );
        return true;
      } catch (error) {
        if (httpStatus(error) === 404) return false;
        throw error;
      }
    },
  };
}
