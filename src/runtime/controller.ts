// A Controller: sources feed keys into a WorkQueue, N workers call the reconcile function.
//  - handlers only enqueue keys; reconcile re-reads the object from the cache (STYLE habit 1);
//  - a throw goes back through the rate-limited queue (its backoff grows); a ConflictError is a
//    quiet requeue; success forgets the backoff and honours `requeueAfterMs` (deadlines);
//  - secondary kinds map their objects to the keys of the primaries they concern;
//  - every `resyncPeriodMs` all cached objects are replayed through their mappings, spread over the
//    period (each key in its own slice of it, by a hash of the key) rather than all at once;
//  - events go into the queue at high priority; the initial list, relists after a restarted watch and
//    resyncs at low (queue.ts), so a change is never behind a sweep of every object;
//  - workers start only once every source has synced; stop() stops taking work and waits for
//    in-flight reconciles up to a deadline, then aborts their signal.
import type { KubernetesObject } from '@kubernetes/client-node';
import { type CancelTimer, type Clock, sleep, systemClock } from './clock.ts';
import { isConflict } from './errors.ts';
import type { Source } from './informer.ts';
import { objectKey, parseKey } from './keys.ts';
import { type Logger, silentLogger } from './logger.ts';
import type { ReconcileResult as ResultLabel, RuntimeMetrics } from './metrics.ts';
import { type Priority, type QueueOptions, WorkQueue } from './queue.ts';

// biome-ignore lint/suspicious/noConfusingVoidType: a reconcile with nothing to schedule returns nothing
export type ReconcileOutcome = { requeueAfterMs?: number } | void;

export interface ReconcileContext {
  /** Aborted when the controller must stop at once (lost leadership, shutdown deadline). */
  signal: AbortSignal;
}

export type Reconcile = (key: string, context: ReconcileContext) => Promise<ReconcileOutcome>;

/** A source and the keys its objects map to; build it with `watch()`. */
export interface Trigger {
  readonly source: Pick<Source<KubernetesObject>, 'name' | 'start' | 'stop' | 'hasSynced'>;
  subscribe(enqueue: (key: string, priority: Priority) => void): void;
  replay(enqueue: (key: string) => void): void;
}

export interface WatchOptions<T> {
  /**
   * False for a change that needs no reconcile (e.g. the operator's own status write). Relists and
   * resyncs are not filtered; the filter still sees relisted objects, to know them when they change.
   */
  filter?: (obj: T) => boolean;
}

/**
 * Watches `source`; each changed object enqueues the keys `map` returns (default: its own key).
 * A Deployment source would map to the AgentIdentities that refer to it. `map` reads the object's
 * name and namespace only: the resync hands it those alone.
 */
export function watch<T extends KubernetesObject>(
  source: Source<T>,
  map: (obj: KubernetesObject) => readonly string[] = (obj) => [objectKey(obj)],
  options: WatchOptions<T> = {},
): Trigger {
  return {
    source,
    subscribe: (enqueue) =>
      source.onChange((obj, change) => {
        if (change?.relist) {
          options.filter?.(obj);
          for (const key of map(obj)) enqueue(key, 'low');
          return;
        }
        if (options.filter && !options.filter(obj)) return;
        for (const key of map(obj)) enqueue(key, 'high');
      }),
    // The resync replays every cached object by its name alone (`map` reads metadata only): it runs
    // every second, and reading each object would parse the whole cache each time (runtime/packed.ts).
    replay: (enqueue) => {
      for (const key of source.keys()) {
        const { namespace, name } = parseKey(key);
        map({ metadata: namespace === undefined ? { name } : { name, namespace } }).forEach(enqueue);
      }
    },
  };
}

/** Which of `slices` equal parts of a resync period `key` is replayed in (a stable string hash). */
export function resyncSlice(key: string, slices: number): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) % slices;
}

export interface ControllerOptions {
  name: string;
  reconcile: Reconcile;
  watches: readonly Trigger[];
  /** Parallel reconciles (different keys only); default 2. */
  workers?: number;
  /** Re-enqueue everything this often (default 10 minutes; 0 disables), spread over the period. */
  resyncPeriodMs?: number;
  /** Parts of the resync period the keys are spread over (default: one per second, at most 60). */
  resyncSlices?: number;
  queue?: Omit<QueueOptions, 'clock' | 'metrics'>;
  clock?: Clock;
  logger?: Logger;
  metrics?: RuntimeMetrics;
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private workers: Promise<void>[] = [];
  private cancelResync: CancelTimer | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';

  constructor(private readonly options: ControllerOptions) {
    this.name = options.name;
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger()).child({ controller: options.name });
    options.metrics?.registerController(options.name);
    this.queue = new WorkQueue({
      ...options.queue,
      clock: this.clock,
      ...(options.metrics && { metrics: options.metrics.queue(options.name) }),
    });
    // Until the workers run, everything arriving is the initial list: low, behind later events.
    for (const trigger of options.watches)
      trigger.subscribe((key, priority) => this.queue.add(key, this.state === 'running' ? priority : 'low'));
  }

  /** Starts the sources, waits until all have synced, then starts the workers and the resync. */
  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'starting';
    await Promise.all(this.options.watches.map((w) => w.source.start()));
    if (this.state !== 'starting') return;
    this.state = 'running';
    this.scheduleResync();
    const n = Math.max(1, this.options.workers ?? 2);
    this.workers = Array.from({ length: n }, () => this.work());
    this.log.info('controller started', { workers: n });
  }

  hasSynced(): boolean {
    return this.options.watches.every((w) => w.source.hasSynced());
  }

  /** Enqueues `key` now (e.g. from a webhook or a test). */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  /**
   * Stops taking work, waits up to `deadlineMs` for in-flight reconciles, then aborts their signal.
   * Resolves true when everything in flight finished in time. `stop(0)` aborts at once.
   */
  async stop(deadlineMs = 30_000): Promise<boolean> {
    if (this.state === 'stopped') return true;
    this.state = 'stopped';
    this.cancelResync?.();
    this.queue.shutDown();
    const finished = Promise.all(this.workers).then(() => true);
    const expired = new AbortController();
    const inTime = await Promise.race([
      finished,
      sleep(this.clock, deadlineMs, expired.signal).then(() => false),
    ]);
    expired.abort();
    if (!inTime) {
      this.abort.abort();
      this.log.warn('stopped with reconciles still in flight', { inFlight: this.queue.inFlight() });
    }
    await Promise.all(this.options.watches.map((w) => w.source.stop()));
    return inTime;
  }

  private async work(): Promise<void> {
    for (let key = await this.queue.get(); key !== undefined; key = await this.queue.get()) {
      try {
        await this.reconcileOne(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async reconcileOne(key: string): Promise<void> {
    const started = this.clock.now();
    let result: ResultLabel = 'success';
    try {
      const outcome = await this.options.reconcile(key, { signal: this.abort.signal });
      this.queue.forget(key);
      if (outcome?.requeueAfterMs !== undefined) {
        result = 'requeue_after';
        this.queue.addAfter(key, outcome.requeueAfterMs);
      }
    } catch (err) {
      this.queue.addRateLimited(key);
      result = isConflict(err) ? 'conflict' : 'error';
      const fields = { key, failures: this.queue.failures(key), err };
      if (result === 'conflict') this.log.debug('conflict; requeued', fields);
      else this.log.error('reconcile failed; requeued with backoff', fields);
    } finally {
      this.options.metrics?.reconciled(this.name, result, (this.clock.now() - started) / 1000);
    }
  }

  /**
   * Every period each key is replayed once, at low priority, in its own slice of the period (a hash
   * of the key): the sweep is spread evenly instead of landing all at once.
   */
  private scheduleResync(slice = 0): void {
    const period = this.options.resyncPeriodMs ?? 600_000;
    if (period <= 0 || this.state !== 'running') return;
    const slices = Math.max(1, this.options.resyncSlices ?? Math.min(60, Math.floor(period / 1000)));
    this.cancelResync = this.clock.setTimer(() => {
      const seen = new Set<string>();
      for (const w of this.options.watches)
        w.replay((key) => {
          if (seen.has(key)) return;
          seen.add(key);
          if (slices === 1 || resyncSlice(key, slices) === slice) this.queue.add(key, 'low');
        });
      this.scheduleResync((slice + 1) % slices);
    }, period / slices);
  }
}
