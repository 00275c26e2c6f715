// A KubernetesPort (port.ts) that serves reads from the operator's informer caches, so a steady
// reconcile makes no request for the objects the provider manages. What it serves from a cache:
//  - get of a ServiceAccount, Role or RoleBinding the cache holds (objects carrying our identity-uid
//    label); a miss is a live GET, so an object without our label (refused, never adopted blindly)
//    or not seen yet is read from the apiserver before anything is written over it, and writes carry
//    the resourceVersion precondition of what was read;
//  - knownAbsent(): a name the synced cache does not hold may be created without a read (a new
//    identity's Role, RoleBinding and Secrets: no GET each; the plan always reads the ServiceAccount,
//    whose refusal must come before any other backend binds to it). Create never overwrites: an object the cache did not show
//    answers AlreadyExists, and that name is read live from then on (every name of that namespace
//    for `freshForMs`: the cache lags there), so it is refused or adopted as after a read; nothing is
//    duplicated;
//  - lists by our identity-uid label (adoption, stale objects, revocation) and Pods by
//    ServiceAccount (bound pods, last use);
//  - cachedView(): a Secret as the cache keeps it, without values (for the plan to see that nothing is to
//    do); a Secret's get is always live, as every use of one reads or writes its values.
// Every write goes to the apiserver. What this process wrote or deleted is remembered for a short
// while (`freshForMs`), so a read right after a write does not see the cache's older copy; after
// that the cache, which the watch has brought up to date meanwhile, is the truth again.

import { ConflictError } from '../../runtime/errors.ts';
import { InvalidConfigError } from '../types.ts';
import { identitySelector } from './names.ts';
import type { KubernetesPort, ListedObjects, ManagedKind, ManagedObjects } from './port.ts';

/** One kind's informer cache, with an index by the nhi.dev/identity-uid label. */
export interface KindCache<T> {
  hasSynced(): boolean;
  get(name: string, namespace: string): T | undefined;
  /** Cached objects in `namespace` labelled with this identity uid. */
  labelled(namespace: string, uid: string): T[];
}

export interface PodCache {
  hasSynced(): boolean;
  usingServiceAccount(namespace: string, serviceAccountName: string): ListedObjects['Pod'][];
}

export interface TokenSecretCache {
  hasSynced(): boolean;
  /** ServiceAccount token Secrets in `namespace`, metadata only. */
  inNamespace(namespace: string): ListedObjects['Secret'][];
}

export type OwnedCaches = { [K in ManagedKind]: KindCache<ManagedObjects[K]> } & {
  Pod?: PodCache;
  tokenSecrets?: TokenSecretCache;
};

/** The field selector observe.ts lists legacy token Secrets with. */
const TOKEN_FIELD = 'type=kubernetes.io/service-account-token';

/** A port that can also show what a cache holds without a request (cached-port.ts). */
export interface PeekingPort extends KubernetesPort {
  /** The cached view of an object (a Secret without values, never to be written), or undefined: ask get(). */
  cachedView?<K extends ManagedKind>(kind: K, namespace: string, name: string): ManagedObjects[K] | undefined;
  /**
   * True when the synced cache holds no such object, this process neither wrote nor deleted it lately,
   * and no create of that name has met an object the cache does not show: the plan may create it
   * without reading it first. The create itself is the check: if anything holds the name, the
   * apiserver answers AlreadyExists (a ConflictError), and from then on the name is always read live.
   */
  knownAbsent?(kind: ManagedKind, namespace: string, name: string): boolean;
}

export interface CachedPortOptions {
  /** How long an object this process wrote or deleted is served as written (default 5 s). */
  freshForMs?: number;
  now?: () => number;
}

const UID_SELECTOR = identitySelector('');
const SA_FIELD = 'spec.serviceAccountName=';

export function cachedKubernetesPort(
  live: KubernetesPort,
  caches: OwnedCaches,
  options: CachedPortOptions = {},
): PeekingPort {
  const freshForMs = options.freshForMs ?? 5_000;
  const now = options.now ?? Date.now;
  /** kind/namespace/name -> what this process last wrote (null: deleted; 'live': read it live), and when. */
  const recent = new Map<string, { object: unknown; at: number }>();
  const keyOf = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;
  const fresh = (key: string) => {
    const entry = recent.get(key);
    if (!entry) return undefined;
    if (now() - entry.at <= freshForMs) return entry;
    recent.delete(key);
    return undefined;
  };
  const remember = (
    kind: string,
    object: { metadata?: { namespace?: string; name?: string } },
    value: unknown,
  ) => {
    const { namespace = '', name = '' } = object.metadata ?? {};
    const key = keyOf(kind, namespace, name);
    // Re-inserted at the end, so the map stays in write order and what has expired is at its front:
    // dropped as new writes come, so no written object outlives its few seconds in memory.
    recent.delete(key);
    recent.set(key, { object: value, at: now() });
    for (const [k, e] of recent) {
      if (now() - e.at <= freshForMs) break;
      recent.delete(k);
    }
  };
  /** kind/namespace/name a create found held by an object the caches do not show: read live from then on. */
  const heldUnseen = new Set<string>();
  /** Namespace -> when a create there last met an object the caches did not show (they lag: read live a while). */
  const lagging = new Map<string, number>();
  const noteHeldUnseen = (kind: string, object: { metadata?: { namespace?: string; name?: string } }) => {
    const { namespace = '', name = '' } = object.metadata ?? {};
    if (heldUnseen.size >= 10_000) heldUnseen.delete(heldUnseen.values().next().value ?? '');
    heldUnseen.add(keyOf(kind, namespace, name));
    if (lagging.size >= 10_000) lagging.clear();
    lagging.set(namespace, now());
  };
  const refuseCachedView = (kind: ManagedKind, object: object) => {
    if (isCachedObject(object))
      throw new InvalidConfigError(`refusing to write a ${kind} built from a cache without its values`);
  };

  return {
    async get<K extends ManagedKind>(kind: K, namespace: string, name: string) {
      const written = fresh(keyOf(kind, namespace, name));
      if (written && written.object !== 'live')
        return written.object === null ? undefined : (written.object as ManagedObjects[K]);
      const cache = caches[kind] as KindCache<ManagedObjects[K]>;
      if (!written && kind !== 'Secret' && cache.hasSynced()) {
        const cached = cache.get(name, namespace);
        if (cached) return cached;
      }
      return live.get(kind, namespace, name);
    },
    knownAbsent(kind, namespace, name) {
      const key = keyOf(kind, namespace, name);
      if (fresh(key) || heldUnseen.has(key)) return false;
      const lagged = lagging.get(namespace);
      if (lagged !== undefined && now() - lagged <= freshForMs) return false;
      const cache = caches[kind];
      return cache.hasSynced() && cache.get(name, namespace) === undefined;
    },
    cachedView<K extends ManagedKind>(kind: K, namespace: string, name: string) {
      if (fresh(keyOf(kind, namespace, name))) return undefined;
      const cache = caches[kind] as KindCache<ManagedObjects[K]>;
      return cache.hasSynced() ? cache.get(name, namespace) : undefined;
    },
    async create(kind, object) {
      refuseCachedView(kind, object);
      try {
        const created = await live.create(kind, object);
        remember(kind, object, kind === 'Secret' ? 'live' : created);
        return created;
      } catch (err) {
        // Something holds the name that the cache (or a remembered deletion) did not show: read it live.
        if (err instanceof ConflictError) {
          remember(kind, object, 'live');
          noteHeldUnseen(kind, object);
        }
        throw err;
      }
    },
    async replace(kind, object) {
      refuseCachedView(kind, object);
      try {
        const replaced = await live.replace(kind, object);
        remember(kind, object, kind === 'Secret' ? 'live' : replaced);
        return replaced;
      } catch (err) {
        // The cache (or what we remembered) is older than what the apiserver holds: read it live for a while.
        if (err instanceof ConflictError) remember(kind, object, 'live');
        throw err;
      }
    },
    async delete(kind, namespace, name, uid) {
      const deleted = await live.delete(kind, namespace, name, uid);
      remember(kind, { metadata: { namespace, name } }, null);
      return deleted;
    },
    async list(kind, options) {
      const { namespace, labelSelector, fieldSelector } = options;
      if (options.fresh) return live.list(kind, options);
      if (kind === 'Pod') {
        const pods = caches.Pod;
        if (
          pods?.hasSynced() &&
          !labelSelector &&
          fieldSelector?.startsWith(SA_FIELD) &&
          !fieldSelector.includes(',')
        )
          return pods.usingServiceAccount(namespace, fieldSelector.slice(SA_FIELD.length)) as never;
        return live.list(kind, options);
      }
      const tokens = caches.tokenSecrets;
      if (kind === 'Secret' && fieldSelector === TOKEN_FIELD && !labelSelector && tokens?.hasSynced())
        return tokens.inNamespace(namespace) as never;
      const cache = caches[kind as ManagedKind];
      if (!fieldSelector && labelSelector?.startsWith(UID_SELECTOR) && cache.hasSynced()) {
        const uid = labelSelector.slice(UID_SELECTOR.length);
        if (uid && !/[,!=()\s]/.test(uid)) {
          return cache.labelled(namespace, uid).filter((o) => {
            const meta = (o as { metadata?: { name?: string } }).metadata;
            return fresh(keyOf(kind, namespace, meta?.name ?? ''))?.object !== null;
          }) as never;
        }
      }
      return live.list(kind, options);
    },
  };
}

/** Objects built from a cache view (slim.ts marks them); this module refuses to write them. */
const CACHED = Symbol.for('nhi.dev/cached-view');
export function isCachedObject(object: object): boolean {
  return (object as Record<symbol, unknown>)[CACHED] === true;
}
