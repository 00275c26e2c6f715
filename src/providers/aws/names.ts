// Deterministic names and ownership tags for everything the AWS provider creates. Pure functions:
// the same identity always maps to the same role and secret names, so a restarted operator finds
// what it made before instead of creating a second copy.

import { createHash } from 'node:crypto';
import { Marks } from '../../api/v1alpha1/annotations.ts';
import { awsMaxSessionSeconds, awsTokenExpirationSeconds } from '../../api/v1alpha1/defaults.ts';
import { MANAGED_PREFIX } from '../../api/v1alpha1/managed-secrets.ts';
import type { AgentIdentity, SecretSpec } from '../../api/v1alpha1/types.ts';
import { ProviderError } from '../types.ts';
import type { Tags } from './port.ts';

export const ROLE_NAME_MAX = 64;
export const TAG_KEY_MAX = 128;
export const TAG_VALUE_MAX = 256;

export const SCOPES_POLICY = 'nhi-scopes';
export const QUARANTINE_POLICY = 'nhi-quarantine';
/** Inline policy names the operator writes; any other inline policy on our role is drift. */
export const OUR_INLINE_POLICIES: readonly string[] = [SCOPES_POLICY, QUARANTINE_POLICY];

/** First `length` hex characters of SHA-256 over `text`. */
export function shortHash(text: string, length = 8): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

export function uidOf(identity: AgentIdentity): string {
  const uid = identity.metadata.uid;
  if (!uid) throw new ProviderError(`AgentIdentity ${identity.metadata.name} has no uid yet`);
  return uid;
}

/**
 * `<prefix><namespace>-<name>-<hash8 of uid>`, within IAM's 64 characters: the namespace/name part
 * is cut (never the prefix or the hash) so two identities never share a role name.
 */
export function roleName(prefix: string, identity: AgentIdentity): string {
  const hash = shortHash(uidOf(identity));
  const readable = `${identity.metadata.namespace ?? 'default'}-${identity.metadata.name}`;
  const room = ROLE_NAME_MAX - prefix.length - hash.length - 1;
  const cut = readable.slice(0, Math.max(0, room)).replace(/[-.]+$/, '');
  return `${prefix}${cut}-${hash}`;
}

/** `nhi/<namespace>/<identity>/<secret>`: readable and stable, so IAM resource ARNs can target it. */
export function secretName(identity: AgentIdentity, secret: SecretSpec): string {
  return `${MANAGED_PREFIX}${identity.metadata.namespace ?? 'default'}/${identity.metadata.name}/${secret.name}`;
}

/** IAM and Secrets Manager tag values allow letters, digits, spaces and `_.:/=+-@`. */
export function tagValue(text: string): string {
  return text
    .replace(/[^\p{L}\p{N}\p{Z}_.:/=+\-@]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, TAG_VALUE_MAX)
    .trim();
}

/** The ownership and governance tags every role and secret carries. */
export function ownershipTags(identity: AgentIdentity): Tags {
  const { spec, metadata } = identity;
  const tags: Tags = {
    [Marks.identityUid]: uidOf(identity),
    [Marks.identityName]: tagValue(`${metadata.namespace ?? 'default'}/${metadata.name}`),
    [Marks.owner]: tagValue(spec.owner.team),
    [Marks.purpose]: tagValue(spec.purpose),
    [Marks.environment]: spec.environment,
    [Marks.managedBy]: Marks.managedByValue,
  };
  if (spec.owner.contact) tags['nhi.dev/contact'] = tagValue(spec.owner.contact);
  return tags;
}

/** True when `tags` carry the ownership mark of the identity with `uid` (other tags are re-applied). */
export function isOurs(tags: Tags | undefined, uid: string): boolean {
  return tags?.[Marks.identityUid] === uid;
}

/** The tags that must be (re)applied: ours that are missing or differ. Never changes the uid tag. */
export function missingTags(desired: Tags, live: Tags): Tags {
  return Object.fromEntries(
    Object.entries(desired).filter(([k, v]) => k !== Marks.identityUid && live[k] !== v),
  );
}

/** The role's MaxSessionDuration (the clamping rule lives in the API defaults). */
export function maxSessionDuration(identity: AgentIdentity): number {
  return awsMaxSessionSeconds(identity.spec);
}

/** `eks.amazonaws.com/token-expiration` for the identity's ServiceAccount. */
export function tokenExpirationSeconds(identity: AgentIdentity): number {
  return awsTokenExpirationSeconds(identity.spec);
}

/** Secrets Manager VersionIds made by the operator encode a version counter: `nhi-v00000003-<uuid>`. */
export function versionIdFor(version: number, unique: string): string {
  return `nhi-v${String(version).padStart(8, '0')}-${unique}`;
}

/** The version counter inside one of our VersionIds, 0 for a version made by someone else. */
export function versionOf(versionId: string): number {
  const match = /^nhi-v(\d{8})-/.exec(versionId);
  return match ? Number(match[1]) : 0;
}
