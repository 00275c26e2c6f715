// EKS Pod Identity: one association per (cluster, namespace, ServiceAccount) pointing at the
// identity's role. An association for that ServiceAccount that we did not make is refused, never
// repointed. Request shapes are unit-tested only: moto has no Pod Identity API.

import type { PlannedChange } from '../../api/v1alpha1/types.ts';
import { type BoundSubject, NotOwnedError } from '../types.ts';
import { isOurs } from './names.ts';
import type { EksPort, Tags } from './port.ts';

export interface AssociationTarget {
  clusterName: string;
  subject: BoundSubject;
  roleArn: string;
  uid: string;
  tags: Tags;
}

const resourceOf = (t: AssociationTarget) =>
  `eks:${t.clusterName}/podidentityassociation/${t.subject.namespace}/${t.subject.serviceAccountName}`;

/** What ensureAssociation would do, without doing it. */
export async function planAssociation(eks: EksPort, target: AssociationTarget): Promise<PlannedChange[]> {
  const { subject, clusterName } = target;
  const live = await eks.findPodIdentityAssociation(
    clusterName,
    subject.namespace,
    subject.serviceAccountName,
  );
  const resource = resourceOf(target);
  if (!live) return [{ action: 'create-pod-identity-association', resource, reason: 'not present' }];
  if (!isOurs(live.tags, target.uid)) {
    throw new NotOwnedError(
      `pod identity association ${live.associationId} for this ServiceAccount was not made by the operator`,
    );
  }
  if (live.roleArn !== target.roleArn) {
    return [{ action: 'update-pod-identity-association', resource, reason: `points at ${live.roleArn}` }];
  }
  return [];
}

export async function ensureAssociation(eks: EksPort, target: AssociationTarget): Promise<PlannedChange[]> {
  const changes = await planAssociation(eks, target);
  const { subject, clusterName } = target;
  for (const change of changes) {
    if (change.action === 'create-pod-identity-association') {
      await eks.createPodIdentityAssociation({
        clusterName,
        namespace: subject.namespace,
        serviceAccount: subject.serviceAccountName,
        roleArn: target.roleArn,
        tags: target.tags,
      });
    } else {
      const live = await eks.findPodIdentityAssociation(
        clusterName,
        subject.namespace,
        subject.serviceAccountName,
      );
      if (live) await eks.updatePodIdentityAssociation(clusterName, live.associationId, target.roleArn);
    }
  }
  return changes;
}

/** Deletes our association for the ServiceAccount; someone else's is left alone. */
export async function deleteAssociation(
  eks: EksPort,
  clusterName: string,
  subject: BoundSubject,
  uid: string,
): Promise<void> {
  const live = await eks.findPodIdentityAssociation(
    clusterName,
    subject.namespace,
    subject.serviceAccountName,
  );
  if (live && isOurs(live.tags, uid)) await eks.deletePodIdentityAssociation(clusterName, live.associationId);
}
