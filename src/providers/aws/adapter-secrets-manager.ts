// SecretsManagerPort over the SDK v3 SecretsManagerClient. Secret values pass through untouched and
// are never part of an error message (sdk-errors.ts only reports the operation and AWS's error).

import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  paginateListSecrets,
  RestoreSecretCommand,
  type SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { SecretDescription, SecretsManagerPort, Tags } from './port.ts';
import { orAbsent, typed } from './sdk-errors.ts';

type TagList = Array<{ Key?: string | undefined; Value?: string | undefined }> | undefined;

const tagMap = (tags: TagList): Tags =>
  Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
const tagList = (tags: Tags) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

export function secretsManagerAdapter(client: SecretsManagerClient): SecretsManagerPort {
  return {
    describeSecret: (id) =>
      orAbsent('DescribeSecret', undefined, async () => {
        const out = await client.send(new DescribeSecretCommand({ SecretId: id }));
        const description: SecretDescription = {
          name: out.Name ?? id,
          arn: out.ARN ?? '',
          tags: tagMap(out.Tags),
          versions: out.VersionIdsToStages ?? {},
        };
        if (out.DeletedDate) description.deletedDate = out.DeletedDate;
        if (out.LastAccessedDate) description.lastAccessed = out.LastAccessedDate;
        if (out.KmsKeyId) description.kmsKeyId = out.KmsKeyId;
        return description;
      }),
    listSecretsByTagKey: (tagKey) =>
      typed('ListSecrets', async () => {
        const out: Array<{ name: string; tags: Tags }> = [];
        const pages = paginateListSecrets({ client }, { Filters: [{ Key: 'tag-key', Values: [tagKey] }] });
        for await (const page of pages) {
          for (const s of page.SecretList ?? []) out.push({ name: s.Name ?? '', tags: tagMap(s.Tags) });
        }
        return out;
      }),
    createSecret: (input) =>
      typed('CreateSecret', async () => {
        const out = await client.send(
          new CreateSecretCommand({
            Name: input.name,
            SecretString: input.value,
            ClientRequestToken: input.versionId,
            Description: input.description,
            Tags: tagList(input.tags),
            KmsKeyId: input.kmsKeyId,
          }),
        );
        return { arn: out.ARN ?? '', versionId: out.VersionId ?? input.versionId };
      }),
    putSecretValue: (input) =>
      typed('PutSecretValue', async () => {
        await client.send(
          new PutSecretValueCommand({
            SecretId: input.id,
            SecretString: input.value,
            ClientRequestToken: input.versionId,
            VersionStages: input.stages,
          }),
        );
      }),
    updateSecretVersionStage: (input) =>
      typed('UpdateSecretVersionStage', async () => {
        await client.send(
          new UpdateSecretVersionStageCommand({
            SecretId: input.id,
            VersionStage: input.stage,
            MoveToVersionId: input.moveTo,
            RemoveFromVersionId: input.removeFrom,
          }),
        );
      }),
    getSecretValue: (id, versionId) =>
      orAbsent('GetSecretValue', undefined, async () => {
        const out = await client.send(new GetSecretValueCommand({ SecretId: id, VersionId: versionId }));
        if (out.SecretString === undefined) return undefined;
        return out.CreatedDate
          ? { versionId: out.VersionId ?? versionId, value: out.SecretString, createdAt: out.CreatedDate }
          : { versionId: out.VersionId ?? versionId, value: out.SecretString };
      }),
    tagResource: (id, tags) =>
      typed('TagResource', async () => {
        await client.send(new TagResourceCommand({ SecretId: id, Tags: tagList(tags) }));
      }),
    restoreSecret: (id) =>
      typed('RestoreSecret', async () => {
        await client.send(new RestoreSecretCommand({ SecretId: id }));
      }),
    deleteSecret: (id, options) =>
      orAbsent('DeleteSecret', false, async () => {
        await client.send(
          new DeleteSecretCommand(
            'force' in options
              ? { SecretId: id, ForceDeleteWithoutRecovery: true }
              : { SecretId: id, RecoveryWindowInDays: options.recoveryWindowDays },
          ),
        );
        return true;
      }),
  };
}
