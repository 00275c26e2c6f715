// Test doubles for the runtime's ports (informers, the Lease), shared by the unit tests of the runtime and
// of the controllers built on it. They behave like client-node's ListWatch where it matters:
// start() lists then emits 'connect'; a failed start emits 'error' and resolves; stop() emits an
// AbortError through 'error'; objects are keyed by namespace and name.
import type { ErrorCallback, KubernetesObject, ObjectCallback, V1Lease } from '@kubernetes/client-node';
import type { ManagedInformer } from '../informer.ts';
import { objectKey } from '../keys.ts';
import type { LeaseStore } from '../leader.ts';

type ObjectVerb = 'add' | 'update' | 'delete' | 'change';
type StatusVerb = 'error' | 'connect';

/** What the next informer's start() does. */
export type StartBehaviour = 'list' | 'fail' | 'hang';

/** A fake apiserver for one kind: informers made by `informer()` list from it and watch it. */
export class FakeCluster<T extends KubernetesObject> {
  readonly objects = new Map<string, T>();
  readonly informers: FakeInformer<T>[] = [];
  /** Behaviours for the next informers' start(), consumed in order; 'list' once empty. */
  readonly nextStarts: StartBehaviour[] = [];
  private version = 0;

  informer = (): FakeInformer<T> => {
    const informer = new FakeInformer<T>(this, this.nextStarts.shift() ?? 'list');
    this.informers.push(informer);
    return informer;
  };

  /** Creates or updates `obj` (bumping its resourceVersion) and tells the live watches. */
  put(obj: T): T {
    const stored = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.version) } };
    const existed = this.objects.has(objectKey(stored));
    this.objects.set(objectKey(stored), stored);
    for (const i of this.live()) i.deliver(existed ? 'update' : 'add', stored);
    return stored;
  }

  remove(key: string): void {
    const obj = this.objects.get(key);
    if (!obj) return;
    this.objects.delete(key);
    for (const i of this.live()) i.deliver('delete', obj);
  }

  /** The informers whose watch is connected. */
  live(): FakeInformer<T>[] {
    return this.informers.filter((i) => i.watching);
  }

  latest(): FakeInformer<T> {
    return this.informers.at(-1)!;
  }
}

export class FakeInformer<T extends KubernetesObject> implements ManagedInformer<T> {
  watching = false;
  stops = 0;
  private readonly cache = new Map<string, T>();
  private readonly callbacks = new Map<string, Array<(arg: never) => void>>();

  constructor(
    private readonly cluster: FakeCluster<T>,
    private readonly behaviour: StartBehaviour,
  ) {}

  on(verb: ObjectVerb, cb: ObjectCallback<T>): void;
  on(verb: StatusVerb, cb: ErrorCallback): void;
  on(verb: ObjectVerb | StatusVerb, cb: ObjectCallback<T> | ErrorCallback): void {
    const verbs = verb === 'change' ? ['add', 'update', 'delete'] : [verb];
    for (const v of verbs) this.callbacks.set(v, [...(this.callbacks.get(v) ?? []), cb]);
  }

  off(verb: ObjectVerb, cb: ObjectCallback<T>): void;
  off(verb: StatusVerb, cb: ErrorCallback): void;
  off(verb: ObjectVerb | StatusVerb, cb: ObjectCallback<T> | ErrorCallback): void {
    this.callbacks.set(
      verb,
      (this.callbacks.get(verb) ?? []).filter((c) => c !== cb),
    );
  }

  async start(): Promise<void> {
    if (this.behaviour === 'hang') return new Promise<void>(() => {});
    this.fire('connect', undefined);
    if (this.behaviour === 'fail') {
      this.fire('error', Object.assign(new Error('Internal Server Error'), { statusCode: 500 }));
      return;
    }
    for (const obj of this.cluster.objects.values()) this.deliver('add', obj);
    this.watching = true;
  }

  async stop(): Promise<void> {
    this.stops++;
    const wasWatching = this.watching;
    this.watching = false;
    if (wasWatching) this.fire('error', new DOMException('This operation was aborted', 'AbortError'));
  }

  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  list(namespace?: string): readonly T[] {
    return [...this.cache.values()].filter((o) => !namespace || o.metadata?.namespace === namespace);
  }

  /** Breaks the watch as client-node does: emits 'error' and stops. */
  fail(err: unknown = Object.assign(new Error('connection reset'), { code: 'ECONNRESET' })): void {
    this.watching = false;
    this.fire('error', err);
  }

  /** Makes the watch go silent without an error (a half-open connection). */
  stall(): void {
    this.watching = false;
  }

  /** A reconnect after client-node's 30s inactivity timeout. */
  reconnect(): void {
    this.fire('connect', undefined);
  }

  deliver(verb: 'add' | 'update' | 'delete', obj: T): void {
    if (verb === 'delete') this.cache.delete(objectKey(obj));
    else this.cache.set(objectKey(obj), obj);
    this.fire(verb, obj);
  }

  private fire(verb: string, arg: unknown): void {
    for (const cb of this.callbacks.get(verb) ?? []) (cb as (a: unknown) => void)(arg);
  }
}

/** One Lease in a fake apiserver, with resourceVersion checks; `client()` gives each elector a view. */
export class FakeLeaseServer {
  lease: V1Lease | undefined;
  writes = 0;
  private version = 0;

  client(name = 'lease'): FakeLeaseClient {
    return new FakeLeaseClient(this, name);
  }

  read(): V1Lease | undefined {
    return this.lease && JSON.parse(JSON.stringify(this.lease));
  }

  write(lease: V1Lease, create: boolean): V1Lease {
    const conflict = create
      ? this.lease !== undefined
      : lease.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion;
    if (conflict) throw Object.assign(new Error('Conflict'), { code: 409 });
    this.writes++;
    const stored = JSON.parse(JSON.stringify(lease)) as V1Lease;
    stored.metadata = { ...stored.metadata, resourceVersion: String(++this.version) };
    this.lease = stored;
    return this.read()!;
  }
}

/** An elector's connection to the FakeLeaseServer; `mode` simulates a partition or a hang. */
export class FakeLeaseClient implements LeaseStore {
  mode: 'ok' | 'fail' | 'hang' = 'ok';

  constructor(
    private readonly server: FakeLeaseServer,
    readonly description: string,
  ) {}

  get = () => this.call(() => this.server.read());
  create = (lease: V1Lease) => this.call(() => this.server.write(lease, true));
  replace = (lease: V1Lease) => this.call(() => this.server.write(lease, false));

  private async call<R>(fn: () => R): Promise<R> {
    if (this.mode === 'hang') return new Promise<R>(() => {});
    if (this.mode === 'fail')
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    return fn();
  }
}
