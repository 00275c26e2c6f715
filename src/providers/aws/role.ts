// The identity's IAM role: read the live state, compare it with the desired state (a pure diff that
// serves plan, provision and drift detection alike), and apply one action at a time. Every action is
// idempotent, so a crash between any two leaves a state the next diff simply finishes.

import { Marks } from '../../api/v1alpha1/annotations.ts';
import type { PlannedChange } from '../../api/v1alpha1/types.ts';
import { NotOwnedError } from '../types.ts';
import { isOurs, missingTags, OUR_INLINE_POLICIES, QUARANTINE_POLICY, SCOPES_POLICY } from './names.ts';
import { type PolicyDocument, renderPolicy, samePolicy } from './policies.ts';
import type { IamPort, LiveRole, Tags } from './port.ts';

export interface DesiredRole {
  name: string;
  path: string;
  description: string;
  trustPolicy: PolicyDocument;
  scopesPolicy?: PolicyDocument;
  boundaryArn?: string;
  maxSessionDuration: number;
  tags: Tags;
}

export interface RoleState {
  role: LiveRole;
  tags: Tags;
  /** Inline policy name -> parsed document. */
  inline: Map<string, unknown>;
  attached: string[];
}

type ActionBody =
  | { kind: 'create-role' }
  | { kind: 'delete-inline'; policyName: string }
  | { kind: 'detach-policy'; policyArn: string }
  | { kind: 'put-boundary'; boundaryArn: string }
  | { kind: 'delete-boundary' }
  | { kind: 'update-trust' }
  | { kind: 'put-scopes' }
  | { kind: 'update-role' }
  | { kind: 'tag-role'; tags: Tags };

/** One step towards the desired role. `drift` marks a difference from a state we had established. */
export type RoleAction = ActionBody & { drift: boolean; field: string; resource: string; detail: string };

/** The live role, its tags and policies; undefined when there is no role by that name. */
export async function readRole(iam: IamPort, name: string): Promise<RoleState | undefined> {
  const role = await iam.getRole(name);
  if (!role) return undefined;
  const [tags, policyNames, attached] = await Promise.all([
    iam.listRoleTags(name),
    iam.listRolePolicies(name),
    iam.listAttachedRolePolicies(name),
  ]);
  const inline = new Map<string, unknown>();
  for (const policyName of policyNames) inline.set(policyName, await iam.getRolePolicy(name, policyName));
  return { role, tags: tags ?? {}, inline, attached };
}

/** Refuses a role that has our deterministic name but not our ownership tag. */
export function assertOwned(state: RoleState, uid: string): void {
  if (isOurs(state.tags, uid)) return;
  const other = state.tags[Marks.identityUid];
  throw new NotOwnedError(
    `IAM role ${state.role.name} exists but ${other ? `belongs to identity ${other}` : `does not carry the ${Marks.identityUid} tag`}; refusing to adopt it`,
  );
}

/** Everything that must change for `state` to match `desired`, removals of privilege first. */
export function diffRole(desired: DesiredRole, state: RoleState | undefined): RoleAction[] {
  const role = `iam:role${desired.path}${desired.name}`;
  const policy = (name: string) => `${role}/policy/${name}`;
  if (!state) {
    const create: RoleAction = {
      kind: 'create-role',
      drift: false,
      field: 'role',
      resource: role,
      detail: 'create the role with its trust policy, boundary, session duration and tags',
    };
    return desired.scopesPolicy ? [create, putScopes(policy(SCOPES_POLICY), 'not present', false)] : [create];
  }
  const actions: RoleAction[] = [];
  for (const arn of state.attached) {
    const detail = `managed policy ${arn} is attached; this role only uses its inline policy`;
    actions.push({
      kind: 'detach-policy',
      policyArn: arn,
      drift: true,
      field: 'attachedPolicies',
      resource: role,
      detail,
    });
  }
  for (const name of state.inline.keys()) {
    if (OUR_INLINE_POLICIES.includes(name)) continue;
    const detail = `inline policy ${name} was not written by the operator`;
    actions.push({
      kind: 'delete-inline',
      policyName: name,
      drift: true,
      field: 'inlinePolicies',
      resource: policy(name),
      detail,
    });
  }
  const liveBoundary = state.role.boundaryArn;
  if (desired.boundaryArn && liveBoundary !== desired.boundaryArn) {
    const detail = `permissions boundary is ${liveBoundary ?? 'missing'}, want ${desired.boundaryArn}`;
    actions.push({
      kind: 'put-boundary',
      boundaryArn: desired.boundaryArn,
      drift: true,
      field: 'permissionsBoundary',
      resource: role,
      detail,
    });
  } else if (!desired.boundaryArn && liveBoundary) {
    const detail = `permissions boundary ${liveBoundary} is set but none is configured`;
    actions.push({
      kind: 'delete-boundary',
      drift: true,
      field: 'permissionsBoundary',
      resource: role,
      detail,
    });
  }
  if (!samePolicy(state.role.trustPolicy, desired.trustPolicy)) {
    const detail = 'trust policy differs from the one bound to the ServiceAccount';
    actions.push({ kind: 'update-trust', drift: true, field: 'trustPolicy', resource: role, detail });
  }
  const liveScopes = state.inline.get(SCOPES_POLICY);
  if (desired.scopesPolicy && !samePolicy(liveScopes, desired.scopesPolicy)) {
    actions.push(
      putScopes(
        policy(SCOPES_POLICY),
        liveScopes === undefined ? 'not present' : 'differs from the scopes',
        true,
      ),
    );
  } else if (!desired.scopesPolicy && state.inline.has(SCOPES_POLICY)) {
    const detail = 'the identity has no aws scopes any more';
    actions.push({
      kind: 'delete-inline',
      policyName: SCOPES_POLICY,
      drift: false,
      field: 'inlinePolicy',
      resource: policy(SCOPES_POLICY),
      detail,
    });
  }
  if (state.role.maxSessionDuration !== desired.maxSessionDuration) {
    const detail = `MaxSessionDuration ${state.role.maxSessionDuration} s, want ${desired.maxSessionDuration} s`;
    actions.push({ kind: 'update-role', drift: false, field: 'maxSessionDuration', resource: role, detail });
  }
  const tags = missingTags(desired.tags, state.tags);
  if (Object.keys(tags).length > 0) {
    const detail = `tags ${Object.keys(tags).sort().join(', ')} missing or outdated`;
    actions.push({ kind: 'tag-role', tags, drift: false, field: 'tags', resource: role, detail });
  }
  return actions;
}

function putScopes(resource: string, why: string, drift: boolean): RoleAction {
  const detail = `inline policy ${SCOPES_POLICY} ${why}`;
  return { kind: 'put-scopes', drift, field: 'inlinePolicy', resource, detail };
}

export function toPlannedChange(action: RoleAction): PlannedChange {
  return { action: action.kind, resource: action.resource, reason: action.detail };
}

/** Applies one action. Returns the created role for `create-role`. */
export async function applyRoleAction(
  iam: IamPort,
  desired: DesiredRole,
  action: RoleAction,
): Promise<LiveRole | undefined> {
  const name = desired.name;
  switch (action.kind) {
    case 'create-role': {
      const input = {
        name,
        path: desired.path,
        trustPolicy: renderPolicy(desired.trustPolicy),
        description: desired.description,
        maxSessionDuration: desired.maxSessionDuration,
        tags: desired.tags,
      };
      return iam.createRole(desired.boundaryArn ? { ...input, boundaryArn: desired.boundaryArn } : input);
    }
    case 'delete-inline':
      await iam.deleteRolePolicy(name, action.policyName);
      return undefined;
    case 'detach-policy':
      await iam.detachRolePolicy(name, action.policyArn);
      return undefined;
    case 'put-boundary':
      await iam.putRolePermissionsBoundary(name, action.boundaryArn);
      return undefined;
    case 'delete-boundary':
      await iam.deleteRolePermissionsBoundary(name);
      return undefined;
    case 'update-trust':
      await iam.updateAssumeRolePolicy(name, renderPolicy(desired.trustPolicy));
      return undefined;
    case 'put-scopes':
      if (desired.scopesPolicy) {
        await iam.putRolePolicy(name, SCOPES_POLICY, renderPolicy(desired.scopesPolicy));
      }
      return undefined;
    case 'update-role':
      await iam.updateRole(name, {
        maxSessionDuration: desired.maxSessionDuration,
        description: desired.description,
      });
      return undefined;
    case 'tag-role':
      await iam.tagRole(name, action.tags);
      return undefined;
  }
}

/**
 * Deletes the role and everything attached to it. The quarantine policy goes last, so a crash part
 * way through never leaves the role with its grants but without its deny. Already gone is success.
 */
export async function deleteRole(iam: IamPort, state: RoleState): Promise<void> {
  const name = state.role.name;
  for (const policyName of state.inline.keys()) {
    if (policyName !== QUARANTINE_POLICY) await iam.deleteRolePolicy(name, policyName);
  }
  for (const arn of state.attached) await iam.detachRolePolicy(name, arn);
  if (state.inline.has(QUARANTINE_POLICY)) await iam.deleteRolePolicy(name, QUARANTINE_POLICY);
  await iam.deleteRole(name);
}
