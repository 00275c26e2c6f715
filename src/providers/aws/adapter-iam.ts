// IamPort over the SDK v3 IAMClient. Policy documents come back URL-encoded from IAM; they are
// decoded and parsed here so the provider compares structures, not strings.

import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  type IAMClient,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  paginateListAttachedRolePolicies,
  paginateListRolePolicies,
  paginateListRoleTags,
  type Role,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
} from '@aws-sdk/client-iam';
import type { IamPort, LiveRole, Tags } from './port.ts';
import { orAbsent, typed } from './sdk-errors.ts';

export function parsePolicyDocument(document: string | undefined): unknown {
  if (document === undefined) return undefined;
  let text = document;
  try {
    text = decodeURIComponent(document);
  } catch {
    // not URL-encoded
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function liveRole(role: Role): LiveRole {
  const live: LiveRole = {
    name: role.RoleName ?? '',
    arn: role.Arn ?? '',
    path: role.Path ?? '/',
    trustPolicy: parsePolicyDocument(role.AssumeRolePolicyDocument),
    maxSessionDuration: role.MaxSessionDuration ?? 3600,
  };
  if (role.PermissionsBoundary?.PermissionsBoundaryArn) {
    live.boundaryArn = role.PermissionsBoundary.PermissionsBoundaryArn;
  }
  if (role.RoleLastUsed?.LastUsedDate) live.lastUsed = role.RoleLastUsed.LastUsedDate;
  return live;
}

const tagList = (tags: Tags) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

async function collect<P, T>(pages: AsyncIterable<P>, pick: (page: P) => T[] | undefined): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) out.push(...(pick(page) ?? []));
  return out;
}

export function iamAdapter(client: IAMClient): IamPort {
  return {
    getRole: (name) =>
      orAbsent('GetRole', undefined, async () => {
        const { Role } = await client.send(new GetRoleCommand({ RoleName: name }));
        return Role ? liveRole(Role) : undefined;
      }),
    listRoleTags: (name) =>
      orAbsent('ListRoleTags', undefined, async () => {
        const tags = await collect(paginateListRoleTags({ client }, { RoleName: name }), (p) => p.Tags);
        return Object.fromEntries(tags.map((t) => [t.Key ?? '', t.Value ?? '']));
      }),
    createRole: (input) =>
      typed('CreateRole', async () => {
        const { Role } = await client.send(
          new CreateRoleCommand({
            RoleName: input.name,
            Path: input.path,
            AssumeRolePolicyDocument: input.trustPolicy,
            Description: input.description,
            MaxSessionDuration: input.maxSessionDuration,
            PermissionsBoundary: input.boundaryArn,
            Tags: tagList(input.tags),
          }),
        );
        if (!Role) throw new Error('CreateRole returned no role');
        return liveRole(Role);
      }),
    updateRole: (name, u) =>
      typed('UpdateRole', async () => {
        await client.send(
          new UpdateRoleCommand({
            RoleName: name,
            MaxSessionDuration: u.maxSessionDuration,
            Description: u.description,
          }),
        );
      }),
    updateAssumeRolePolicy: (name, document) =>
      typed('UpdateAssumeRolePolicy', async () => {
        await client.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: document }));
      }),
    tagRole: (name, tags) =>
      typed('TagRole', async () => {
        await client.send(new TagRoleCommand({ RoleName: name, Tags: tagList(tags) }));
      }),
    putRolePermissionsBoundary: (name, arn) =>
      typed('PutRolePermissionsBoundary', async () => {
        await client.send(
          new PutRolePermissionsBoundaryCommand({ RoleName: name, PermissionsBoundary: arn }),
        );
      }),
    deleteRolePermissionsBoundary: (name) =>
      orAbsent('DeleteRolePermissionsBoundary', false, async () => {
        await client.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: name }));
        return true;
      }),
    listRolePolicies: (name) =>
      orAbsent('ListRolePolicies', [], () =>
        collect(paginateListRolePolicies({ client }, { RoleName: name }), (p) => p.PolicyNames),
      ),
    getRolePolicy: (name, policyName) =>
      orAbsent('GetRolePolicy', undefined, async () => {
        const out = await client.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: policyName }));
        return parsePolicyDocument(out.PolicyDocument);
      }),
    putRolePolicy: (name, policyName, document) =>
      typed('PutRolePolicy', async () => {
        await client.send(
          new PutRolePolicyCommand({ RoleName: name, PolicyName: policyName, PolicyDocument: document }),
        );
      }),
    deleteRolePolicy: (name, policyName) =>
      orAbsent('DeleteRolePolicy', false, async () => {
        await client.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: policyName }));
        return true;
      }),
    listAttachedRolePolicies: (name) =>
      orAbsent('ListAttachedRolePolicies', [], async () => {
        const attached = await collect(
          paginateListAttachedRolePolicies({ client }, { RoleName: name }),
          (p) => p.AttachedPolicies,
        );
        return attached.map((a) => a.PolicyArn ?? '');
      }),
    detachRolePolicy: (name, arn) =>
      orAbsent('DetachRolePolicy', false, async () => {
        await client.send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: arn }));
        return true;
      }),
    deleteRole: (name) =>
      orAbsent('DeleteRole', false, async () => {
        await client.send(new DeleteRoleCommand({ RoleName: name }));
        return true;
      }),
  };
}
