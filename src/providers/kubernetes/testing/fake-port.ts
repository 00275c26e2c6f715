// An in-memory KubernetesPort for unit tests (also usable by the controller's tests): objects get
// uids and resourceVersions, replace checks the resourceVersion, delete checks the uid, list filters
// by namespace, equality label selectors and the two field selectors the provider uses. Every write
// is logged, and a hook can run before a write to simulate a concurrent writer.

import type * as k8s from '@kubernetes/client-node';
import { ConflictError } from '../../../runtime/errors.ts';
import { ProviderError } from '../../types.ts';
import type {
  KubernetesPort,
  ListedKind,
  ListedObjects,
  ListOptions,
  ManagedKind,
  ManagedObjects,
} from '../port.ts';

export type WriteVerb = 'create' | 'replace' | 'delete';
export interface WriteRecord {
  verb: WriteVerb;
  kind: ListedKind;
  namespace: string;
  name: string;
}
type Stored = { metadata?: k8s.V1ObjectMeta; spec?: { serviceAccountName?: string }; type?: string };

const clone = <T>(value: T): T => structuredClone(value);

export class FakeKubernetesPort implements KubernetesPort {
  private readonly objects = new Map<string, Stored>();
  private version = 0;
  private uids = 0;
  readonly writes: WriteRecord[] = [];
  /** Runs before each write; may change the store (a concurrent writer) or throw (a failing apiserver). */
  beforeWrite: ((write: WriteRecord) => void) | undefined;

  private key(kind: string, namespace: string, name: string): string {
    return `${kind}/${namespace}/${name}`;
  }

  /** Puts an object in the store as someone else would (not logged as our write). */
  seed<K extends ListedKind>(kind: K, object: ListedObjects[K]): ListedObjects[K] {
    const stored = clone(object) as Stored;
    stored.metadata = {
      ...stored.metadata,
      uid: stored.metadata?.uid ?? `uid-${++this.uids}`,
      resourceVersion: String(++this.version),
      creationTimestamp: stored.metadata?.creationTimestamp ?? new Date('2025-01-01T00:00:00Z'),
    };
    const { namespace = '', name = '' } = stored.metadata;
    this.objects.set(this.key(kind, namespace, name), stored);
    return clone(stored) as unknown as ListedObjects[K];
  }

  /** The stored object (a copy), bypassing the port. */
  peek<K extends ListedKind>(kind: K, namespace: string, name: string): ListedObjects[K] | undefined {
    const found = this.objects.get(this.key(kind, namespace, name));
    return found ? (clone(found) as unknown as ListedObjects[K]) : undefined;
  }

  /** Changes a stored object as someone else would, bumping its resourceVersion. */
  mutate<K extends ListedKind>(
    kind: K,
    namespace: string,
    name: string,
    change: (o: ListedObjects[K]) => void,
  ): void {
    const found = this.objects.get(this.key(kind, namespace, name));
    if (!found) throw new Error(`fake: no ${kind} ${namespace}/${name}`);
    change(found as unknown as ListedObjects[K]);
    found.metadata = { ...found.metadata, resourceVersion: String(++this.version) };
  }

  remove(kind: ListedKind, namespace: string, name: string): void {
    this.objects.delete(this.key(kind, namespace, name));
  }

  writesOf(kind: ListedKind, name?: string): WriteRecord[] {
    return this.writes.filter((w) => w.kind === kind && (name === undefined || w.name === name));
  }

  private record(verb: WriteVerb, kind: ListedKind, namespace: string, name: string): void {
    const write = { verb, kind, namespace, name };
    this.beforeWrite?.(write);
    this.writes.push(write);
  }

  async get<K extends ManagedKind>(kind: K, namespace: string, name: string) {
    return this.peek(kind, namespace, name) as ManagedObjects[K] | undefined;
  }

  async create<K extends ManagedKind>(kind: K, object: ManagedObjects[K]) {
    const { namespace = '', name = '' } = object.metadata ?? {};
    this.record('create', kind, namespace, name);
    if (this.objects.has(this.key(kind, namespace, name))) {
      throw new ConflictError(`fake: ${kind} ${name} exists`);
    }
    const { uid: _ignored, ...metadata } = object.metadata ?? {};
    return this.seed(kind, { ...object, metadata } as ListedObjects[K]) as ManagedObjects[K];
  }

  async replace<K extends ManagedKind>(kind: K, object: ManagedObjects[K]) {
    const { namespace = '', name = '', resourceVersion } = object.metadata ?? {};
    this.record('replace', kind, namespace, name);
    const live = this.objects.get(this.key(kind, namespace, name));
    if (!live) throw new ProviderError(`fake: update ${kind} ${namespace}/${name}: HTTP 404`);
    if (resourceVersion !== live.metadata?.resourceVersion) {
      throw new ConflictError(`fake: ${kind} ${name} changed`);
    }
    // As the apiserver: a Secret's type is immutable (HTTP 422).
    if (kind === 'Secret' && ((object as Stored).type ?? 'Opaque') !== (live.type ?? 'Opaque')) {
      throw new ProviderError(`fake: update ${kind} ${namespace}/${name}: HTTP 422 (type is immutable)`);
    }
    const stored = clone(object) as Stored;
    stored.metadata = { ...stored.metadata, resourceVersion: String(++this.version) };
    if (live.metadata?.uid) stored.metadata.uid = live.metadata.uid;
    this.objects.set(this.key(kind, namespace, name), stored);
    return clone(stored) as unknown as ManagedObjects[K];
  }

  async delete(kind: ManagedKind, namespace: string, name: string, uid: string) {
    const live = this.objects.get(this.key(kind, namespace, name));
    this.record('delete', kind, namespace, name);
    if (!live) return false;
    if (live.metadata?.uid !== uid) throw new ConflictError(`fake: ${kind} ${name} has another uid`);
    this.objects.delete(this.key(kind, namespace, name));
    return true;
  }

  async list<K extends ListedKind>(kind: K, options: ListOptions): Promise<Array<ListedObjects[K]>> {
    const out: Array<ListedObjects[K]> = [];
    for (const [key, object] of this.objects) {
      if (!key.startsWith(`${kind}/`)) continue;
      if (options.namespace !== undefined && object.metadata?.namespace !== options.namespace) continue;
      if (!matches(options.labelSelector, (k) => object.metadata?.labels?.[k])) continue;
      if (!matches(options.fieldSelector, (k) => field(object, k))) continue;
      out.push(clone(object) as unknown as ListedObjects[K]);
    }
    return out;
  }
}

function field(object: Stored, path: string): string | undefined {
  if (path === 'spec.serviceAccountName') return object.spec?.serviceAccountName;
  if (path === 'type') return object.type;
  throw new Error(`fake: field selector ${path} is not supported`);
}

function matches(selector: string | undefined, value: (key: string) => string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [key = '', expected] = term.split('=');
    return value(key) === expected;
  });
}
