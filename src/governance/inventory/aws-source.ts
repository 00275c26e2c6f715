// The inventory's read-only IAM port over @aws-sdk/client-iam (endpoint override for emulators).
// Access key ids are used only to ask for their last use and never leave this adapter.

import {
  GetAccessKeyLastUsedCommand,
  GetRoleCommand,
  IAMClient,
  paginateListAccessKeys,
  paginateListRoles,
  paginateListUsers,
  paginateListUserTags,
} from '@aws-sdk/client-iam';
import { parsePolicyDocument } from '../../providers/aws/adapter-iam.ts';
import { sdkClientConfig } from '../../providers/aws/factory.ts';
import { type IamInventoryPort, InventorySourceError, type RawAccessKey } from './types.ts';

export interface IamSourceOptions {
  region: string;
  endpoint?: string | undefined;
  /** Explicit credentials; by default the SDK's default chain (env, profile, IRSA). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

export function iamInventoryClient(options: IamSourceOptions): IAMClient {
  const config = sdkClientConfig(
    options.endpoint ? { region: options.region, endpoint: options.endpoint } : { region: options.region },
    options.credentials ? { credentials: options.credentials, maxAttempts: 3 } : { maxAttempts: 3 },
  );
  return new IAMClient(config);
}

async function call<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const name = error instanceof Error ? error.name : 'Error';
    throw new InventorySourceError(`aws: ${what} failed (${name})`, { cause: error });
  }
}

async function collect<P, T>(pages: AsyncIterable<P>, pick: (page: P) => T[] | undefined): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) out.push(...(pick(page) ?? []));
  return out;
}

const iso = (date: Date | undefined) => (date ? date.toISOString() : undefined);
const isNoSuchEntity = (error: unknown) => error instanceof Error && error.name === 'NoSuchEntityException';

export function iamInventoryPort(client: IAMClient): IamInventoryPort {
  return {
    listRoles: () =>
      call('ListRoles', async () =>
        (await collect(paginateListRoles({ client }, {}), (p) => p.Roles)).map((role) => {
          const createDate = iso(role.CreateDate);
          return {
            name: role.RoleName ?? '',
            arn: role.Arn ?? '',
            path: role.Path ?? '/',
            trustPolicy: parsePolicyDocument(role.AssumeRolePolicyDocument),
            ...(createDate ? { createDate } : {}),
          };
        }),
      ),

    getRole: (name) =>
      call(`GetRole ${name}`, async () => {
        try {
          const { Role } = await client.send(new GetRoleCommand({ RoleName: name }));
          if (!Role) return undefined;
          const tags = Object.fromEntries((Role.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
          const lastUsed = iso(Role.RoleLastUsed?.LastUsedDate);
          return lastUsed ? { tags, lastUsed } : { tags };
        } catch (error) {
          if (isNoSuchEntity(error)) return undefined;
          throw error;
        }
      }),

    listUsers: () =>
      call('ListUsers', async () =>
        (await collect(paginateListUsers({ client }, {}), (p) => p.Users)).map((u) => ({
          name: u.UserName ?? '',
          arn: u.Arn ?? '',
        })),
      ),

    listAccessKeys: (user) =>
      call(`ListAccessKeys ${user}`, async () => {
        const keys = await collect(
          paginateListAccessKeys({ client }, { UserName: user }),
          (p) => p.AccessKeyMetadata,
        );
        const out: RawAccessKey[] = [];
        for (const key of keys) {
          const entry: RawAccessKey = { status: key.Status ?? 'Unknown' };
          const created = iso(key.CreateDate);
          if (created) entry.createDate = created;
          if (key.AccessKeyId) {
            const used = await client.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: key.AccessKeyId }));
            const lastUsed = iso(used.AccessKeyLastUsed?.LastUsedDate);
            if (lastUsed) entry.lastUsed = lastUsed;
          }
          out.push(entry);
        }
        return out;
      }),

    listUserTags: (user) =>
      call(`ListUserTags ${user}`, async () =>
        Object.fromEntries(
          (await collect(paginateListUserTags({ client }, { UserName: user }), (p) => p.Tags)).map((t) => [
            t.Key ?? '',
            t.Value ?? '',
          ]),
        ),
      ),
  };
}
