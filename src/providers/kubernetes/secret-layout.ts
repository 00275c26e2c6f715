// The layout of a target Secret and its state machine, as pure functions over V1Secret objects.
//
//   data[<key>]            the CURRENT value (what pods mount; <key> defaults to the secret name)
//   data[<key>.previous]   the PREVIOUS value, still valid until nhi.dev/previous-retire-at
//   nhi.dev/current-version, nhi.dev/previous-version, nhi.dev/rotated-at, nhi.dev/previous-retire-at
//
// Every transition (rotate, retire, quarantine, sync) produces the complete next object, so the
// caller makes it true with exactly one write guarded by the resourceVersion it read.

import type * as k8s from '@kubernetes/client-node';
import { ObjectMarks } from '../../api/v1alpha1/annotations.ts';
import { overlapMs } from '../../api/v1alpha1/defaults.ts';
import type { SecretSpec } from '../../api/v1alpha1/types.ts';
import type { IdentityRef, SecretMaterial } from '../types.ts';
import {
  currentKeyOf,
  isQuarantined,
  markedMetadata,
  previousKeyOf,
  SECRET_TYPE,
  withMarks,
} from './names.ts';

export interface SecretState {
  currentVersion?: number;
  previousVersion?: number;
  rotatedAt?: string;
  previousRetireAt?: string;
  hasCurrent: boolean;
  hasPrevious: boolean;
  quarantined: boolean;
}

function version(text: string | undefined): number | undefined {
  const n = text === undefined ? Number.NaN : Number(text);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function setIf(record: Record<string, string>, key: string, value: string | undefined): void {
  if (value !== undefined) record[key] = value;
}

export function secretState(secret: k8s.V1Secret, spec: SecretSpec): SecretState {
  const annotations = secret.metadata?.annotations ?? {};
  const state: SecretState = {
    hasCurrent: Boolean(secret.data?.[currentKeyOf(spec)]),
    hasPrevious: Boolean(secret.data?.[previousKeyOf(spec)]),
    quarantined: isQuarantined(secret.metadata),
  };
  const current = version(annotations[ObjectMarks.currentVersion]);
  const previous = version(annotations[ObjectMarks.previousVersion]);
  if (current !== undefined) state.currentVersion = current;
  if (previous !== undefined) state.previousVersion = previous;
  const rotatedAt = annotations[ObjectMarks.rotatedAt];
  const previousRetireAt = annotations[ObjectMarks.previousRetireAt];
  if (rotatedAt) state.rotatedAt = rotatedAt;
  if (previousRetireAt) state.previousRetireAt = previousRetireAt;
  return state;
}

const encode = (value: string) => Buffer.from(value, 'utf8').toString('base64');
const decode = (data: string) => Buffer.from(data, 'base64').toString('utf8');

/** Current and previous material held by the Secret; undefined when it holds no current value. */
export function materialOf(secret: k8s.V1Secret, spec: SecretSpec): SecretMaterial | undefined {
  const state = secretState(secret, spec);
  const current = secret.data?.[currentKeyOf(spec)];
  if (!current) return undefined;
  const material: SecretMaterial = {
    current: { version: state.currentVersion ?? 0, value: decode(current) },
  };
  if (state.rotatedAt) material.current.createdAt = state.rotatedAt;
  const adoptedFrom = secret.metadata?.annotations?.[ObjectMarks.adoptedFrom];
  if (
    adoptedFrom &&
    state.currentVersion !== undefined &&
    secret.metadata?.annotations?.[ObjectMarks.adoptedVersion] === String(state.currentVersion)
  )
    material.current.adoptedFrom = adoptedFrom;
  const previous = secret.data?.[previousKeyOf(spec)];
  if (previous) material.previous = { version: state.previousVersion ?? 0, value: decode(previous) };
  return material;
}

/** Our labels/annotations on a target Secret, for a new object or merged into a live one. */
function secretMarks(
  spec: SecretSpec,
  annotations: Record<string, string>,
  removeAnnotations: string[] = [],
) {
  return {
    labels: { [ObjectMarks.secret]: spec.name },
    annotations: { [ObjectMarks.backend]: spec.backend ?? 'kubernetes', ...annotations },
    removeAnnotations,
  };
}

function nextSecret(
  live: k8s.V1Secret | undefined,
  ref: IdentityRef,
  name: string,
  data: Record<string, string>,
  marks: ReturnType<typeof secretMarks>,
): k8s.V1Secret {
  if (!live)
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      type: SECRET_TYPE,
      metadata: markedMetadata(ref, name, marks),
      data,
    };
  return { ...live, metadata: withMarks(live.metadata ?? {}, ref, marks).metadata, data };
}

export interface RotationInput {
  ref: IdentityRef;
  spec: SecretSpec;
  name: string;
  value: string;
  now: number;
  /** Restore: lift the quarantine in the same write. */
  clearQuarantine?: boolean;
  /** `nhictl adopt`: where the value came from (ObjectMarks.adoptedFrom); any other rotation clears it. */
  adoptedFrom?: string;
}

/**
 * The Secret after one staged rotation: `value` becomes current (version + 1); the old current value,
 * if there is one, becomes previous until now + overlap. A quarantined (emptied) Secret has no value
 * to keep, so it comes back with a current value only.
 */
export function rotatedSecret(live: k8s.V1Secret | undefined, input: RotationInput): k8s.V1Secret {
  const { spec, now } = input;
  const state = live ? secretState(live, spec) : undefined;
  const currentKey = currentKeyOf(spec);
  const previousKey = previousKeyOf(spec);
  const data: Record<string, string> = { ...live?.data, [currentKey]: encode(input.value) };
  delete data[previousKey];
  const nextVersion = (state?.currentVersion ?? 0) + 1;
  const annotations: Record<string, string> = {
    [ObjectMarks.currentVersion]: String(nextVersion),
    [ObjectMarks.rotatedAt]: new Date(now).toISOString(),
  };
  const remove: string[] = input.clearQuarantine ? [ObjectMarks.quarantined, ObjectMarks.quarantinedAt] : [];
  if (input.adoptedFrom) {
    annotations[ObjectMarks.adoptedFrom] = input.adoptedFrom;
    annotations[ObjectMarks.adoptedVersion] = String(nextVersion);
  } else {
    remove.push(ObjectMarks.adoptedFrom, ObjectMarks.adoptedVersion);
  }
  const oldCurrent = live?.data?.[currentKey];
  if (oldCurrent && state?.currentVersion !== undefined) {
    data[previousKey] = oldCurrent;
    annotations[ObjectMarks.previousVersion] = String(state.currentVersion);
    annotations[ObjectMarks.previousRetireAt] = new Date(now + overlapMs(spec)).toISOString();
  } else {
    remove.push(ObjectMarks.previousVersion, ObjectMarks.previousRetireAt);
  }
  return nextSecret(live, input.ref, input.name, data, secretMarks(spec, annotations, remove));
}

/** Whether the previous value's overlap window has ended at `now` (true when there is no end recorded). */
export function previousDue(secret: k8s.V1Secret, spec: SecretSpec, now: number): boolean {
  const state = secretState(secret, spec);
  if (!state.hasPrevious) return false;
  const retireAt = state.previousRetireAt ? Date.parse(state.previousRetireAt) : Number.NaN;
  return Number.isNaN(retireAt) || retireAt <= now;
}

/** The Secret without its previous value. */
export function retiredSecret(live: k8s.V1Secret, spec: SecretSpec): k8s.V1Secret {
  const data = { ...live.data };
  delete data[previousKeyOf(spec)];
  const annotations = { ...live.metadata?.annotations };
  delete annotations[ObjectMarks.previousVersion];
  delete annotations[ObjectMarks.previousRetireAt];
  return { ...live, metadata: { ...live.metadata, annotations }, data };
}

/** The Secret with every value removed and the quarantine recorded; version annotations are kept. */
export function quarantinedSecret(live: k8s.V1Secret, now: number): k8s.V1Secret {
  const annotations = {
    ...live.metadata?.annotations,
    [ObjectMarks.quarantined]: 'true',
    [ObjectMarks.quarantinedAt]:
      live.metadata?.annotations?.[ObjectMarks.quarantinedAt] ?? new Date(now).toISOString(),
  };
  return { ...live, metadata: { ...live.metadata, annotations }, data: {} };
}

/** True when quarantinedSecret would change nothing. */
export function fullyQuarantined(live: k8s.V1Secret): boolean {
  return isQuarantined(live.metadata) && Object.keys(live.data ?? {}).length === 0;
}

/** The Secret without the quarantine annotations (values come back through a rotation or a sync). */
export function unquarantinedSecret(live: k8s.V1Secret): k8s.V1Secret {
  const annotations = { ...live.metadata?.annotations };
  delete annotations[ObjectMarks.quarantined];
  delete annotations[ObjectMarks.quarantinedAt];
  return { ...live, metadata: { ...live.metadata, annotations } };
}

/**
 * The target Secret holding `material` (synced from another backend), or undefined when `live`
 * already holds exactly these values and versions with our marks.
 */
export function syncedSecret(
  live: k8s.V1Secret | undefined,
  input: { ref: IdentityRef; spec: SecretSpec; name: string; material: SecretMaterial; now: number },
): k8s.V1Secret | undefined {
  const { spec, material } = input;
  const data: Record<string, string> = {
    ...live?.data,
    [currentKeyOf(spec)]: encode(material.current.value),
  };
  delete data[previousKeyOf(spec)];
  if (material.previous) data[previousKeyOf(spec)] = encode(material.previous.value);
  const state = live ? secretState(live, spec) : undefined;
  const sameValues =
    live !== undefined &&
    live.data?.[currentKeyOf(spec)] === data[currentKeyOf(spec)] &&
    live.data?.[previousKeyOf(spec)] === data[previousKeyOf(spec)];
  const sameVersions =
    state?.currentVersion === material.current.version &&
    state.previousVersion === material.previous?.version;
  const annotations: Record<string, string> = {
    [ObjectMarks.currentVersion]: String(material.current.version),
  };
  const remove: string[] = [];
  const rotatedAt =
    material.current.createdAt ??
    (sameVersions ? state?.rotatedAt : undefined) ??
    new Date(input.now).toISOString();
  annotations[ObjectMarks.rotatedAt] = rotatedAt;
  if (material.previous) {
    annotations[ObjectMarks.previousVersion] = String(material.previous.version);
    setIf(annotations, ObjectMarks.previousRetireAt, state?.previousRetireAt);
    if (!sameVersions) {
      annotations[ObjectMarks.previousRetireAt] = new Date(
        Date.parse(rotatedAt) + overlapMs(spec),
      ).toISOString();
    }
  } else {
    remove.push(ObjectMarks.previousVersion, ObjectMarks.previousRetireAt);
  }
  const next = nextSecret(live, input.ref, input.name, data, secretMarks(spec, annotations, remove));
  const marksChanged =
    live !== undefined && withMarks(live.metadata ?? {}, input.ref, secretMarks(spec, {})).reasons;
  if (sameValues && sameVersions && marksChanged && marksChanged.length === 0) return undefined;
  return next;
}
