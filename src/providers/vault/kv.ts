// KV v2 secrets with staged rotation. KV versions hold the values; the key's custom metadata holds
// which version is current and which is previous, so readers can keep using the previous value for
// the overlap window. A rotation is three steps, each safe to crash after:
//
//   1. metadata: record the intent: pending version = latest + 1 and a random rotation id
//                                                                       (metadata check-and-set)
//   2. data:     write { value, rotation-id } with `cas = latest`        (the only data write)
//   3. metadata: promote — current = new, previous = old current, rotatedAt
//
// A retry after step 2 finds latest == pending with our rotation id and promotes without writing
// again; a retry after step 1 writes with the same cas. A version written behind our back (even one
// that lands exactly on the pending number) lacks the id and is never promoted. `cas_required` is
// set on every key, so no writer can overwrite a version blindly either.

import { randomUUID } from 'node:crypto';
import type { SecretSpec } from '../../api/v1alpha1/types.ts';
import type { Clock } from '../../runtime/clock.ts';
import { generateSecretValue } from '../generators.ts';
import {
  type IdentityRef,
  NotFoundError,
  NotOwnedError,
  type RotationResult,
  type SecretMaterial,
} from '../types.ts';
import { type IdentityNames, isOwnedBy, ownershipMarks, secretPath } from './names.ts';
import type { KvMetadata, VaultPort } from './port.ts';

export const CURRENT_VERSION = 'nhi-current-version';
export const PREVIOUS_VERSION = 'nhi-previous-version';
export const PENDING_VERSION = 'nhi-pending-version';
export const PENDING_ROTATION = 'nhi-pending-rotation-id';
export const ROTATED_AT = 'nhi-rotated-at';
export const DEFAULT_MAX_VERSIONS = 5;
/** The key under which the value is stored in each KV version's data. */
export const VALUE_KEY = 'value';
/** Written next to the value so an interrupted rotation recognises its own version. Not secret. */
export const ROTATION_ID_KEY = 'rotation-id';

export interface RotationState {
  current?: number;
  previous?: number;
  pending?: number;
  pendingId?: string;
  rotatedAt?: string;
}

function positive(text: string | undefined): number | undefined {
  const n = Number(text);
  return text && Number.isInteger(n) && n > 0 ? n : undefined;
}

export function rotationState(custom: Record<string, string> | undefined): RotationState {
  const state: RotationState = {};
  const current = positive(custom?.[CURRENT_VERSION]);
  const previous = positive(custom?.[PREVIOUS_VERSION]);
  const pending = positive(custom?.[PENDING_VERSION]);
  if (current !== undefined) state.current = current;
  if (previous !== undefined) state.previous = previous;
  if (pending !== undefined) state.pending = pending;
  if (custom?.[PENDING_ROTATION]) state.pendingId = custom[PENDING_ROTATION];
  if (custom?.[ROTATED_AT]) state.rotatedAt = custom[ROTATED_AT];
  return state;
}

function stateFields(state: RotationState): Record<string, string> {
  const fields: Record<string, string> = {};
  if (state.current !== undefined) fields[CURRENT_VERSION] = String(state.current);
  if (state.previous !== undefined) fields[PREVIOUS_VERSION] = String(state.previous);
  if (state.pending !== undefined) fields[PENDING_VERSION] = String(state.pending);
  if (state.pendingId !== undefined) fields[PENDING_ROTATION] = state.pendingId;
  if (state.rotatedAt !== undefined) fields[ROTATED_AT] = state.rotatedAt;
  return fields;
}

function withoutState(custom: Record<string, string>): Record<string, string> {
  const rest = { ...custom };
  for (const key of [CURRENT_VERSION, PREVIOUS_VERSION, PENDING_VERSION, PENDING_ROTATION, ROTATED_AT]) {
    delete rest[key];
  }
  return rest;
}

export class KvSecrets {
  constructor(
    private readonly port: VaultPort,
    private readonly mount: string,
    private readonly clock: Clock,
    private readonly maxVersions = DEFAULT_MAX_VERSIONS,
  ) {}

  private async ownedMetadata(names: IdentityNames, path: string): Promise<KvMetadata | undefined> {
    const metadata = await this.port.readKvMetadata(this.mount, path);
    if (metadata && !isOwnedBy(metadata.customMetadata, names.uid)) {
      throw new NotOwnedError(`KV secret ${this.mount}/${path} exists but is not managed for this identity`);
    }
    return metadata;
  }

  private async writeState(
    path: string,
    marks: Record<string, string>,
    state: RotationState,
    metadataCas?: number,
  ): Promise<void> {
    await this.port.writeKvMetadata(this.mount, path, {
      maxVersions: this.maxVersions,
      casRequired: true,
      customMetadata: { ...marks, ...stateFields(state) },
      ...(metadataCas === undefined ? {} : { metadataCas }),
    });
  }

  private async material(path: string, state: RotationState): Promise<SecretMaterial | undefined> {
    if (state.current === undefined) return undefined;
    const current = await this.port.readKvData(this.mount, path, state.current);
    if (!current)
      throw new NotFoundError(`KV secret ${this.mount}/${path}: current version ${state.current} is gone`);
    const material: SecretMaterial = {
      current: {
        version: current.version,
        id: String(current.version),
        createdAt: current.createdTime,
        value: current.data[VALUE_KEY] ?? '',
      },
    };
    if (state.previous !== undefined && state.previous !== state.current) {
      const previous = await this.port.readKvData(this.mount, path, state.previous);
      if (previous) {
        material.previous = {
          version: previous.version,
          id: String(previous.version),
          createdAt: previous.createdTime,
          value: previous.data[VALUE_KEY] ?? '',
        };
      }
    }
    return material;
  }

  private async interruptedRotationWrote(
    path: string,
    state: RotationState,
    latest: number,
  ): Promise<boolean> {
    if (state.pending !== latest || !state.pendingId || latest <= (state.current ?? 0)) return false;
    const written = await this.port.readKvData(this.mount, path, latest);
    return written?.data[ROTATION_ID_KEY] === state.pendingId;
  }

  /** Current and previous values; undefined before the first rotation completed. */
  async read(names: IdentityNames, secret: SecretSpec): Promise<SecretMaterial | undefined> {
    const path = secretPath(names, secret.name);
    const metadata = await this.ownedMetadata(names, path);
    return metadata ? this.material(path, rotationState(metadata.customMetadata)) : undefined;
  }

  /** One staged rotation (the first one creates the secret). At most one data write. */
  async rotate(ref: IdentityRef, names: IdentityNames, secret: SecretSpec): Promise<RotationResult> {
    const path = secretPath(names, secret.name);
    const metadata = await this.ownedMetadata(names, path);
    const state = rotationState(metadata?.customMetadata);
    const latest = metadata?.currentVersion ?? 0;
    const marks = { ...withoutState(metadata?.customMetadata ?? {}), ...ownershipMarks(ref, names) };

    let version: number;
    let writes = 0;
    if (await this.interruptedRotationWrote(path, state, latest)) {
      version = latest; // an interrupted rotation already wrote this version: promote it, write nothing
    } else {
      const pendingId = randomUUID();
      await this.writeState(
        path,
        marks,
        { ...state, pending: latest + 1, pendingId },
        metadata?.metadataVersion,
      );
      const value = generateSecretValue(secret.generator);
      version = await this.port.writeKvData(
        this.mount,
        path,
        { [VALUE_KEY]: value, [ROTATION_ID_KEY]: pendingId },
        latest,
      );
      writes = 1;
    }
    const promoted: RotationState = { current: version, rotatedAt: new Date(this.clock.now()).toISOString() };
    if (state.current !== undefined && state.current !== version) promoted.previous = state.current;
    await this.writeState(path, marks, promoted);
    const material = await this.material(path, promoted);
    if (!material)
      throw new NotFoundError(`KV secret ${this.mount}/${path}: no current version after rotation`);
    return { material, writes };
  }

  /** Forget the previous value: metadata first (stop offering it), then destroy every older version. */
  async retirePrevious(names: IdentityNames, secret: SecretSpec): Promise<number[]> {
    const path = secretPath(names, secret.name);
    const metadata = await this.ownedMetadata(names, path);
    if (!metadata) return [];
    const state = rotationState(metadata.customMetadata);
    if (state.current === undefined) return [];
    const current = state.current;
    if (state.previous !== undefined) {
      const { previous: _dropped, ...rest } = state;
      await this.writeState(path, withoutState(metadata.customMetadata), rest, metadata.metadataVersion);
    }
    const stale = Object.entries(metadata.versions)
      .filter(([version, info]) => Number(version) < current && !info.destroyed)
      .map(([version]) => Number(version))
      .sort((a, b) => a - b);
    if (stale.length > 0) await this.port.destroyKvVersions(this.mount, path, stale);
    return stale;
  }

  /** Delete (all versions and metadata) every secret in the identity's folder that carries its UID. */
  async deleteAll(names: IdentityNames): Promise<string[]> {
    const deleted: string[] = [];
    for (const key of await this.port.listKv(this.mount, `${names.kvFolder}/`)) {
      if (key.endsWith('/')) continue;
      const path = `${names.kvFolder}/${key}`;
      const metadata = await this.port.readKvMetadata(this.mount, path);
      if (!metadata || !isOwnedBy(metadata.customMetadata, names.uid)) continue;
      await this.port.deleteKvMetadata(this.mount, path);
      deleted.push(`${this.mount}/${path}`);
    }
    return deleted;
  }
}
