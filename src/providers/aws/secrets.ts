// The Secrets Manager backend: one secret per SecretSpec, rotated with Secrets Manager's own staging
// labels. A rotation writes the new value once, as AWSPENDING, then moves AWSCURRENT to it (Secrets
// Manager moves AWSPREVIOUS to the old value) and finally drops AWSPENDING. Each step is idempotent:
//  - crash after the write: the leftover AWSPENDING version is promoted, not written again;
//  - crash after the promotion: AWSPENDING sits on the current version; it is dropped, no new write.
// Reads name the version explicitly (moto's GetSecretValue without a stage may return a stale default).

import { randomUUID } from 'node:crypto';
import type { SecretMaterial, SecretVersionRef } from '../types.ts';
import { NotOwnedError } from '../types.ts';
import { isOurs, missingTags, versionIdFor, versionOf } from './names.ts';
import { AlreadyExistsError, type SecretDescription, type SecretsManagerPort, type Tags } from './port.ts';

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPENDING = 'AWSPENDING';
export const AWSPREVIOUS = 'AWSPREVIOUS';

/** Everything needed to act on one secret of one identity. */
export interface SecretTarget {
  name: string;
  uid: string;
  tags: Tags;
  description: string;
  kmsKeyId?: string;
  /** Produces a fresh value; called at most once per rotation, only when a write is due. */
  generate: () => string;
}

export interface Stages {
  current?: string;
  pending?: string;
  previous?: string;
}

export function stagesOf(description: SecretDescription): Stages {
  const stages: Stages = {};
  for (const [id, labels] of Object.entries(description.versions)) {
    if (labels.includes(AWSCURRENT)) stages.current = id;
    if (labels.includes(AWSPENDING)) stages.pending = id;
    if (labels.includes(AWSPREVIOUS)) stages.previous = id;
  }
  return stages;
}

/** The secret under `name` if it is ours; NotOwnedError if someone else's; undefined if absent. */
export async function describeOwned(
  sm: SecretsManagerPort,
  name: string,
  uid: string,
): Promise<SecretDescription | undefined> {
  const description = await sm.describeSecret(name);
  if (description && !isOurs(description.tags, uid)) {
    throw new NotOwnedError(
      `Secrets Manager secret ${name} exists but is not tagged for this identity; refusing to adopt it`,
    );
  }
  return description;
}

/** Creates the secret with its first value (version 1). */
async function create(sm: SecretsManagerPort, target: SecretTarget): Promise<void> {
  const input = {
    name: target.name,
    value: target.generate(),
    versionId: versionIdFor(1, randomUUID()),
    description: target.description,
    tags: target.tags,
  };
  try {
    await sm.createSecret(target.kmsKeyId ? { ...input, kmsKeyId: target.kmsKeyId } : input);
  } catch (err) {
    // Created meanwhile (or our own create landed and its answer was lost): adopt it if it is ours.
    if (!(err instanceof AlreadyExistsError) || !(await describeOwned(sm, target.name, target.uid))) {
      throw err;
    }
  }
}

export type EnsureOutcome = 'created' | 'restored' | 'retagged' | 'unchanged';

/** Creates the secret if absent, restores it if ours and scheduled for deletion, re-applies our tags. */
export async function ensureSecret(sm: SecretsManagerPort, target: SecretTarget): Promise<EnsureOutcome> {
  const description = await describeOwned(sm, target.name, target.uid);
  if (!description) {
    await create(sm, target);
    return 'created';
  }
  if (description.deletedDate) {
    await sm.restoreSecret(target.name);
    return 'restored';
  }
  const tags = missingTags(target.tags, description.tags);
  if (Object.keys(tags).length === 0) return 'unchanged';
  await sm.tagResource(target.name, tags);
  return 'retagged';
}

/**
 * UpdateSecretVersionStage is not idempotent: when a first attempt landed but its answer was lost,
 * the SDK's retry fails (the label is no longer where RemoveFromVersionId says). So on failure,
 * re-read the labels and accept the call as done when they are already as intended.
 */
async function moveStage(
  sm: SecretsManagerPort,
  input: Parameters<SecretsManagerPort['updateSecretVersionStage']>[0],
): Promise<void> {
  try {
    await sm.updateSecretVersionStage(input);
  } catch (err) {
    const versions = (await sm.describeSecret(input.id))?.versions ?? {};
    const movedTo = input.moveTo === undefined || versions[input.moveTo]?.includes(input.stage) === true;
    const removed =
      input.removeFrom === undefined || versions[input.removeFrom]?.includes(input.stage) !== true;
    if (!(movedTo && removed)) throw err;
  }
}

/** Moves AWSCURRENT to `to` (SM moves AWSPREVIOUS along), then drops AWSPENDING. */
async function promote(
  sm: SecretsManagerPort,
  name: string,
  to: string,
  from: string | undefined,
): Promise<void> {
  if (from !== to) {
    await moveStage(
      sm,
      from
        ? { id: name, stage: AWSCURRENT, moveTo: to, removeFrom: from }
        : { id: name, stage: AWSCURRENT, moveTo: to },
    );
  }
  await moveStage(sm, { id: name, stage: AWSPENDING, removeFrom: to });
}

/**
 * One staged rotation. Returns the number of value writes (0 or 1). With `expectedCurrentVersion`,
 * a secret whose current version already moved on is left alone (a retried rotation already landed).
 */
export async function rotateSecret(
  sm: SecretsManagerPort,
  target: SecretTarget,
  expectedCurrentVersion?: number,
): Promise<number> {
  const description = await describeOwned(sm, target.name, target.uid);
  if (!description) {
    await create(sm, target);
    return 1;
  }
  if (description.deletedDate) await sm.restoreSecret(target.name);
  const stages = stagesOf(description);
  const { current } = stages;
  let { pending } = stages;
  if (pending && pending === current) {
    // A previous rotation promoted its value and stopped before dropping AWSPENDING: drop it, then
    // rotate as asked. That value is already current, and the caller has seen it (rotate.ts adopts a
    // current value status does not know before it asks for a rotation), so it is not this one's.
    await moveStage(sm, { id: target.name, stage: AWSPENDING, removeFrom: pending });
    pending = undefined;
  }
  const currentVersion = current ? versionOf(current) : 0;
  if (expectedCurrentVersion !== undefined && currentVersion !== expectedCurrentVersion) return 0;
  if (pending) {
    await promote(sm, target.name, pending, current);
    return 0;
  }
  const next = Math.max(0, ...Object.keys(description.versions).map(versionOf)) + 1;
  const versionId = versionIdFor(next, randomUUID());
  await sm.putSecretValue({ id: target.name, value: target.generate(), versionId, stages: [AWSPENDING] });
  await promote(sm, target.name, versionId, current);
  return 1;
}

function ref(versionId: string, createdAt: Date | undefined): SecretVersionRef {
  const out: SecretVersionRef = { version: versionOf(versionId), id: versionId };
  if (createdAt) out.createdAt = createdAt.toISOString();
  return out;
}

/** Current and previous values, each read by its VersionId. Undefined when the secret is absent. */
export async function readMaterial(
  sm: SecretsManagerPort,
  name: string,
  uid: string,
): Promise<SecretMaterial | undefined> {
  const description = await describeOwned(sm, name, uid);
  if (!description || description.deletedDate) return undefined;
  const { current, previous } = stagesOf(description);
  if (!current) return undefined;
  const currentValue = await sm.getSecretValue(name, current);
  if (!currentValue) return undefined;
  const material: SecretMaterial = {
    current: { ...ref(current, currentValue.createdAt), value: currentValue.value },
  };
  const previousValue = previous ? await sm.getSecretValue(name, previous) : undefined;
  if (previous && previousValue) {
    material.previous = { ...ref(previous, previousValue.createdAt), value: previousValue.value };
  }
  return material;
}

/** Drops AWSPREVIOUS after the overlap window; nothing to do when there is none. */
export async function retirePrevious(sm: SecretsManagerPort, name: string, uid: string): Promise<boolean> {
  const description = await describeOwned(sm, name, uid);
  const previous = description ? stagesOf(description).previous : undefined;
  if (!previous) return false;
  await moveStage(sm, { id: name, stage: AWSPREVIOUS, removeFrom: previous });
  return true;
}

/**
 * Deletes the secret if it carries `uid` (else leaves it alone). Already deleted or scheduled for
 * deletion is success, also when a retried DeleteSecret fails because its first attempt landed.
 */
export async function deleteOwnedSecret(
  sm: SecretsManagerPort,
  name: string,
  uid: string,
  how: { recoveryWindowDays: number } | { force: true },
): Promise<void> {
  const live = await sm.describeSecret(name);
  if (!live || live.deletedDate || !isOurs(live.tags, uid)) return;
  try {
    await sm.deleteSecret(name, how);
  } catch (err) {
    const after = await sm.describeSecret(name);
    if (after && !after.deletedDate) throw err;
  }
}
