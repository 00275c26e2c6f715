// EksPort over the SDK v3 EKSClient: the EKS Pod Identity association calls. Not verified against a
// server (moto has no Pod Identity API); adapters.test.ts checks the request shapes.

import {
  CreatePodIdentityAssociationCommand,
  DeletePodIdentityAssociationCommand,
  DescribePodIdentityAssociationCommand,
  type EKSClient,
  ListPodIdentityAssociationsCommand,
  UpdatePodIdentityAssociationCommand,
} from '@aws-sdk/client-eks';
import type { EksPort } from './port.ts';
import { orAbsent, typed } from './sdk-errors.ts';

export function eksAdapter(client: EKSClient): EksPort {
  return {
    findPodIdentityAssociation: (clusterName, namespace, serviceAccount) =>
      orAbsent('ListPodIdentityAssociations', undefined, async () => {
        const list = await client.send(
          new ListPodIdentityAssociationsCommand({ clusterName, namespace, serviceAccount }),
        );
        const associationId = list.associations?.[0]?.associationId;
        if (!associationId) return undefined;
        const { association } = await client.send(
          new DescribePodIdentityAssociationCommand({ clusterName, associationId }),
        );
        return { associationId, roleArn: association?.roleArn ?? '', tags: association?.tags ?? {} };
      }),
    createPodIdentityAssociation: (input) =>
      typed('CreatePodIdentityAssociation', async () => {
        const { association } = await client.send(
          new CreatePodIdentityAssociationCommand({
            clusterName: input.clusterName,
            namespace: input.namespace,
            serviceAccount: input.serviceAccount,
            roleArn: input.roleArn,
            tags: input.tags,
          }),
        );
        return {
          associationId: association?.associationId ?? '',
          roleArn: association?.roleArn ?? input.roleArn,
          tags: association?.tags ?? input.tags,
        };
      }),
    updatePodIdentityAssociation: (clusterName, associationId, roleArn) =>
      typed('UpdatePodIdentityAssociation', async () => {
        await client.send(new UpdatePodIdentityAssociationCommand({ clusterName, associationId, roleArn }));
      }),
    deletePodIdentityAssociation: (clusterName, associationId) =>
      orAbsent('DeletePodIdentityAssociation', false, async () => {
        await client.send(new DeletePodIdentityAssociationCommand({ clusterName, associationId }));
        return true;
      }),
  };
}
