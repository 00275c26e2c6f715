// The operator's caches as the ports read them: the provider's owned objects indexed by the
// nhi.dev/identity-uid label (providers/kubernetes/cached-port.ts), workloads and Pods for the
// workload port (controller/agentidentity/workload.ts), and the predicate that keeps the operator's
// own status writes from waking the identity they were written for.

import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { Marks } from '../../api/v1alpha1/annotations.ts';
import type { WorkloadCaches } from '../../controller/agentidentity/workload.ts';
import type { KindCache, OwnedCaches } from '../../providers/kubernetes/cached-port.ts';
import type { Source } from '../../runtime/informer.ts';
import { objectKey } from '../../runtime/keys.ts';
import { SourceIndex } from '../../runtime/source-index.ts';
import type { OwnedObjectSources } from './sources.ts';

function byIdentityUid<T extends k8s.KubernetesObject>(source: Source<T>): KindCache<T> {
  const index = new SourceIndex(source, (o) => {
    const uid = o.metadata?.labels?.[Marks.identityUid];
    return uid ? [`${o.metadata?.namespace ?? ''}/${uid}`] : [];
  });
  return {
    hasSynced: () => source.hasSynced(),
    get: (name, namespace) => source.get(name, namespace),
    labelled: (namespace, uid) => index.lookup(`${namespace}/${uid}`),
  };
}

export function ownedObjectCaches(sources: OwnedObjectSources): OwnedCaches {
  const pods = new SourceIndex(sources.pods, (p) =>
    p.spec?.serviceAccountName ? [`${p.metadata?.namespace ?? ''}/${p.spec.serviceAccountName}`] : [],
  );
  return {
    ServiceAccount: byIdentityUid(sources.serviceAccounts),
    Role: byIdentityUid(sources.roles),
    RoleBinding: byIdentityUid(sources.roleBindings),
    Secret: byIdentityUid(sources.secrets),
    Pod: {
      hasSynced: () => sources.pods.hasSynced(),
      usingServiceAccount: (namespace, sa) => pods.lookup(`${namespace}/${sa}`),
    },
    tokenSecrets: {
      hasSynced: () => sources.tokenSecrets.hasSynced(),
      inNamespace: (namespace) => [...sources.tokenSecrets.list(namespace)],
    },
  };
}

/** The apps/v1 workload caches by kind, and Pods by ServiceAccount, for workloadPort(). */
export function workloadCachesOf(
  workloads: Record<'Deployment' | 'StatefulSet' | 'DaemonSet', Source<k8s.KubernetesObject>>,
  owned: OwnedCaches,
): WorkloadCaches {
  return {
    workloads: (apiVersion, kind) => {
      const source = apiVersion === 'apps/v1' ? workloads[kind as keyof typeof workloads] : undefined;
      return source?.hasSynced() ? source : undefined;
    },
    podsUsing: (namespace, sa) =>
      owned.Pod?.hasSynced() ? owned.Pod.usingServiceAccount(namespace, sa) : undefined,
  };
}

/**
 * A watch filter for the AgentIdentity source: true when a change may need a reconcile — a new or
 * deleted identity, or a change of its spec (generation), labels, annotations (the controls),
 * finalizers or deletion. An update of status alone (what every reconcile writes) is false: the
 * reconcile that wrote it already scheduled what follows, and the resync sweeps the rest.
 */
export function changedBeyondStatus(source: Pick<Source<k8s.KubernetesObject>, 'get'>) {
  const seen = new Map<string, string>();
  return (obj: k8s.KubernetesObject): boolean => {
    const key = objectKey(obj);
    const m = obj.metadata ?? {};
    if (!source.get(m.name ?? '', m.namespace)) {
      seen.delete(key);
      return true;
    }
    const print = createHash('sha256')
      .update(
        JSON.stringify([
          m.uid,
          m.generation,
          m.deletionTimestamp ?? null,
          m.finalizers ?? [],
          m.labels ?? {},
          m.annotations ?? {},
        ]),
      )
      .digest('base64');
    const before = seen.get(key);
    seen.set(key, print);
    return before !== print;
  };
}
