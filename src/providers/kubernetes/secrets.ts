// Target Secret operations: staged rotation, retirement of the previous value, sync from another
// backend, quarantine and restore. Each operation is one read and at most one successful write per
// Secret, guarded by the resourceVersion it read; on a conflict it re-reads and decides again.

import type * as k8s from '@kubernetes/client-node';
import type { PlannedChange, SecretSpec } from '../../api/v1alpha1/types.ts';
import { ConflictError } from '../../runtime/errors.ts';
import { settleAll } from '../../runtime/settle.ts';
import {
  type IdentityRef,
  NotOwnedError,
  ProviderError,
  type RotateOptions,
  type RotationResult,
  type SecretMaterial,
} from '../types.ts';
import {
  identityUidOf,
  isOpaque,
  isOurs,
  isQuarantined,
  ownsObject,
  resourceName,
  SECRET_TYPE,
  targetSecretNameOf,
} from './names.ts';
import type { KubernetesPort } from './port.ts';
import {
  fullyQuarantined,
  materialOf,
  previousDue,
  quarantinedSecret,
  retiredSecret,
  rotatedSecret,
  secretState,
  syncedSecret,
  unquarantinedSecret,
} from './secret-layout.ts';

/** Re-reads after a 409 this many times before giving up with a ConflictError (a quiet requeue). */
const ATTEMPTS = 5;

/** Anything that tells the time; the runtime's Clock fits. */
export interface NowSource {
  now(): number;
}

/** The Secret is quarantined: its values were removed on purpose and only restore() brings them back. */
export class QuarantinedError extends ProviderError {
  override readonly reason = 'Quarantined';
}

/** The live target Secret, or undefined; NotOwnedError when the name is taken by an object without our marks. */
export async function readOwnedSecret(
  port: KubernetesPort,
  ref: IdentityRef,
  name: string,
): Promise<k8s.V1Secret | undefined> {
  const live = await port.get('Secret', ref.subject.namespace, name);
  if (live && !isOurs(live.metadata, identityUidOf(ref))) {
    throw new NotOwnedError(
      `${resourceName('Secret', ref.subject.namespace, name)} exists without nhi.dev marks`,
    );
  }
  if (live && !isOpaque(live)) {
    throw new NotOwnedError(
      `${resourceName('Secret', ref.subject.namespace, name)} is of type ${live.type}: the operator writes only ${SECRET_TYPE} Secrets`,
    );
  }
  return live;
}

/** Writes `next` over `live` (replace with its resourceVersion) or creates it. */
async function write(
  port: KubernetesPort,
  live: k8s.V1Secret | undefined,
  next: k8s.V1Secret,
): Promise<void> {
  if (live) await port.replace('Secret', next);
  else await port.create('Secret', next);
}

export interface RotateInput {
  spec: SecretSpec;
  generate: () => string;
  clock: NowSource;
  options?: RotateOptions;
  /** restore(): rotate a quarantined Secret and lift its quarantine in the same write. */
  restoring?: boolean;
}

/**
 * Staged rotation in exactly one write. When `expectedCurrentVersion` is given and the live version
 * differs, an earlier attempt (or someone else) already rotated: nothing is written. After a 409 the
 * version that was read becomes the expectation, so a concurrent rotation is never doubled.
 */
export async function rotateTargetSecret(
  port: KubernetesPort,
  ref: IdentityRef,
  input: RotateInput,
): Promise<RotationResult> {
  const name = targetSecretNameOf(ref.identity, input.spec);
  let expected = input.options?.expectedCurrentVersion;
  const value = input.generate();
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const live = await readOwnedSecret(port, ref, name);
    const state = live ? secretState(live, input.spec) : undefined;
    if (state?.quarantined && !input.restoring) {
      throw new QuarantinedError(`${resourceName('Secret', ref.subject.namespace, name)} is quarantined`);
    }
    const liveVersion = state?.currentVersion ?? 0;
    if (expected !== undefined && liveVersion !== expected && live) {
      const material = materialOf(live, input.spec);
      if (material) return { material, writes: 0 };
    }
    const next = rotatedSecret(live, {
      ref,
      spec: input.spec,
      name,
      value,
      now: input.clock.now(),
      clearQuarantine: input.restoring ?? false,
    });
    try {
      await write(port, live, next);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      expected = liveVersion;
      continue;
    }
    const material = materialOf(next, input.spec);
    if (!material) throw new ProviderError(`rotation of ${name} produced no current value`);
    return { material, writes: 1 };
  }
  throw new ConflictError(`rotate ${resourceName('Secret', ref.subject.namespace, name)}: kept conflicting`);
}

export async function readTargetSecret(
  port: KubernetesPort,
  ref: IdentityRef,
  spec: SecretSpec,
): Promise<SecretMaterial | undefined> {
  const live = await readOwnedSecret(port, ref, targetSecretNameOf(ref.identity, spec));
  return live ? materialOf(live, spec) : undefined;
}

/** Removes the previous value once its overlap window has ended. True when it wrote. */
export async function retireTargetPrevious(
  port: KubernetesPort,
  ref: IdentityRef,
  spec: SecretSpec,
  clock: NowSource,
): Promise<boolean> {
  const name = targetSecretNameOf(ref.identity, spec);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const live = await readOwnedSecret(port, ref, name);
    if (!live || !previousDue(live, spec, clock.now())) return false;
    try {
      await port.replace('Secret', retiredSecret(live, spec));
      return true;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  throw new ConflictError(`retire ${resourceName('Secret', ref.subject.namespace, name)}: kept conflicting`);
}

/**
 * Syncs a secret kept in another backend (AWS Secrets Manager, Vault KV) into its Kubernetes target
 * Secret, in the same layout, writing only when the values, versions or our marks differ. A
 * quarantined target is left empty (restore() lifts the quarantine first). Returns whether it wrote.
 */
export async function writeTargetSecret(
  port: KubernetesPort,
  ref: IdentityRef,
  secretSpec: SecretSpec,
  material: SecretMaterial,
  clock: NowSource = { now: () => Date.now() },
): Promise<{ written: boolean; secretName: string }> {
  const secretName = targetSecretNameOf(ref.identity, secretSpec);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const live = await readOwnedSecret(port, ref, secretName);
    if (live && isQuarantined(live.metadata)) return { written: false, secretName };
    const next = syncedSecret(live, { ref, spec: secretSpec, name: secretName, material, now: clock.now() });
    if (!next) return { written: false, secretName };
    try {
      await write(port, live, next);
      return { written: true, secretName };
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  throw new ConflictError(
    `sync ${resourceName('Secret', ref.subject.namespace, secretName)}: kept conflicting`,
  );
}

/** Re-reads `name` and applies `transform` until one write lands or nothing is left to do. */
async function updateOwned(
  port: KubernetesPort,
  ref: IdentityRef,
  name: string,
  transform: (live: k8s.V1Secret) => k8s.V1Secret | undefined,
  listed?: k8s.V1Secret,
): Promise<boolean> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    // A Secret just listed from the apiserver (with its values) is the first attempt's read; the
    // write carries its resourceVersion, so a change since the list is a conflict and a fresh read.
    const live = attempt === 0 && listed ? listed : await port.get('Secret', ref.subject.namespace, name);
    if (!live || !ownsObject('Secret', live, identityUidOf(ref))) return false;
    const next = transform(live);
    if (!next) return false;
    try {
      await port.replace('Secret', next);
      return true;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  throw new ConflictError(`update ${resourceName('Secret', ref.subject.namespace, name)}: kept conflicting`);
}

/**
 * Empties every Secret carrying this identity's marks (values gone, objects and versions kept), all at
 * once. `listed` are those Secrets as just listed live, values included; each write is guarded by the
 * resourceVersion listed.
 */
export async function quarantineSecrets(
  port: KubernetesPort,
  ref: IdentityRef,
  listed: k8s.V1Secret[],
  clock: NowSource,
): Promise<PlannedChange[]> {
  const wrote = await settleAll(
    listed.map(async (secret) => {
      const name = secret.metadata?.name ?? '';
      const changed = await updateOwned(
        port,
        ref,
        name,
        (live) => (fullyQuarantined(live) ? undefined : quarantinedSecret(live, clock.now())),
        secret,
      );
      return changed ? name : undefined;
    }),
  );
  return wrote.flatMap((name) =>
    name
      ? [
          {
            action: 'quarantine',
            resource: resourceName('Secret', ref.subject.namespace, name),
            reason: 'values removed',
          },
        ]
      : [],
  );
}

/**
 * Lifts the quarantine of this identity's Secrets: those of the kubernetes backend get a fresh value
 * (one rotation each); targets synced from another backend only lose the annotation, so the next
 * writeTargetSecret fills them again.
 */
export async function restoreSecrets(
  port: KubernetesPort,
  ref: IdentityRef,
  input: { names: string[]; generate: (spec: SecretSpec) => string; clock: NowSource },
): Promise<PlannedChange[]> {
  const changes: PlannedChange[] = [];
  const specs = ref.identity.spec.secrets ?? [];
  for (const name of input.names) {
    const spec = specs.find((s) => targetSecretNameOf(ref.identity, s) === name);
    const resource = resourceName('Secret', ref.subject.namespace, name);
    if (spec && (spec.backend ?? 'kubernetes') === 'kubernetes') {
      const live = await readOwnedSecret(port, ref, name);
      if (live && !isQuarantined(live.metadata)) continue;
      const generate = () => input.generate(spec);
      await rotateTargetSecret(port, ref, { spec, generate, clock: input.clock, restoring: true });
      changes.push({ action: 'restore', resource, reason: 'fresh value (rotated)' });
    } else if (
      await updateOwned(port, ref, name, (l) =>
        isQuarantined(l.metadata) ? unquarantinedSecret(l) : undefined,
      )
    ) {
      changes.push({
        action: 'restore',
        resource,
        reason: 'quarantine lifted; values return with the next sync',
      });
    }
  }
  return changes;
}
