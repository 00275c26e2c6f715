// Status writes and conditions (STYLE habits 4 and 11):
//  - status goes through the status subresource, and only when it changed — compared deeply,
//    ignoring lastTransitionTime churn — so a steady-state reconcile writes nothing;
//  - the write carries the resourceVersion that was read; a 409 becomes ConflictError, which the
//    Controller turns into a quiet requeue;
//  - conditions keep their lastTransitionTime while their status stays the same and always carry
//    the observedGeneration they were computed for.
import type { CustomObjectsApi, KubernetesObject } from '@kubernetes/client-node';
import type { Condition, ConditionStatus } from '../api/v1alpha1/types.ts';
import { asConflict, ConflictError } from './errors.ts';
import type { ResourceRef } from './keys.ts';
import type { RuntimeMetrics } from './metrics.ts';

export interface WithStatus<S> extends KubernetesObject {
  status?: S;
}

/** Replaces the status subresource of `obj` (its metadata.resourceVersion guards the write). */
export type StatusWriter = <T extends KubernetesObject>(obj: T) => Promise<T>;

export function customObjectStatusWriter(api: CustomObjectsApi, ref: ResourceRef): StatusWriter {
  return async <T extends KubernetesObject>(obj: T): Promise<T> => {
    const name = obj.metadata?.name ?? '';
    const namespace = obj.metadata?.namespace;
    try {
      return namespace
        ? await api.replaceNamespacedCustomObjectStatus({ ...ref, namespace, name, body: obj })
        : await api.replaceClusterCustomObjectStatus({ ...ref, name, body: obj });
    } catch (err) {
      throw asConflict(err, `status of ${ref.plural} ${namespace ? `${namespace}/` : ''}${name}`);
    }
  };
}

export interface StatusWriteOptions {
  metrics?: RuntimeMetrics;
  /** Label for the status-writes metric, e.g. 'agentidentities'. */
  resource?: string;
}

/**
 * Writes `status` onto `obj` unless it equals the current status. Returns the object the
 * apiserver returned, or undefined when nothing needed writing. Throws ConflictError on 409.
 */
export async function writeStatusIfChanged<T extends WithStatus<unknown>>(
  write: StatusWriter,
  obj: T,
  status: NonNullable<T['status']>,
  options: StatusWriteOptions = {},
): Promise<T | undefined> {
  const resource = options.resource ?? obj.kind ?? 'unknown';
  if (statusEqual(obj.status, status)) {
    options.metrics?.statusWrite(resource, 'unchanged');
    return undefined;
  }
  try {
    const written = await write({ ...obj, status });
    options.metrics?.statusWrite(resource, 'written');
    return written;
  } catch (err) {
    if (err instanceof ConflictError) options.metrics?.statusWrite(resource, 'conflict');
    throw err;
  }
}

/** Deep equality as JSON sees it (undefined fields absent), ignoring every lastTransitionTime. */
export function statusEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => statusEqual(v, b[i]));
  }
  const fields = (o: object) =>
    Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'lastTransitionTime');
  const left = fields(a);
  const right = new Map(fields(b));
  return left.length === right.size && left.every(([k, v]) => right.has(k) && statusEqual(v, right.get(k)));
}

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/**
 * Returns `conditions` with `input` set: lastTransitionTime moves only when the status changes,
 * observedGeneration is always `generation`. Other conditions and the order are kept.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === input.type);
  const previous = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    ...input,
    lastTransitionTime:
      previous && previous.status === input.status ? previous.lastTransitionTime : rfc3339Seconds(now),
    ...(generation !== undefined && { observedGeneration: generation }),
  };
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/** Kubernetes serialises metav1.Time with second precision. */
export function rfc3339Seconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
