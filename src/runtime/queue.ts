// A de-duplicating work queue of object keys, after client-go's workqueue semantics:
//  - a key is queued at most once however often it is added (adds coalesce);
//  - a key being processed is never handed to a second worker; re-added meanwhile, it is marked
//    dirty and queued again when the worker calls done();
//  - failures come back through addRateLimited (per-key exponential backoff, max'ed with a global
//    token bucket); success calls forget() to reset the backoff;
//  - deadlines come back through addAfter, which keeps only the earliest pending one per key;
//  - shutDown() stops handing out work and drops what is queued; drain() waits for in-flight work.
import { type CancelTimer, type Clock, systemClock } from './clock.ts';
import { ItemBackoff, TokenBucket } from './ratelimit.ts';

/** Hooks for metrics; every one is optional so tests and tools can leave them out. */
export interface QueueMetrics {
  depth?(n: number): void;
  added?(): void;
  /** Seconds a key waited in the queue before a worker took it. */
  latency?(seconds: number): void;
  /** Seconds between get() and done() for one key. */
  workDuration?(seconds: number): void;
  retried?(): void;
}

export interface QueueOptions {
  clock?: Clock;
  /** First retry delay of a failing key (default 5ms); doubles per failure. */
  baseDelayMs?: number;
  /** Longest retry delay of a failing key (default 5 minutes). */
  maxDelayMs?: number;
  /** Global retry rate shared by all keys (default 10/s with a burst of 100). */
  qps?: number;
  burst?: number;
  metrics?: QueueMetrics;
}

interface Deadline {
  at: number;
  cancel: CancelTimer;
}

export class WorkQueue {
  private readonly clock: Clock;
  private readonly metrics: QueueMetrics;
  private readonly backoff: ItemBackoff;
  private readonly bucket: TokenBucket;
  /** Ready keys in FIFO order, each with the time it was queued. */
  private readonly ready = new Map<string, number>();
  /** Keys that need processing: queued, or re-added while being processed. */
  private readonly dirty = new Set<string>();
  /** Keys handed to a worker, with the time they were handed out. */
  private readonly processing = new Map<string, number>();
  private readonly deadlines = new Map<string, Deadline>();
  private waiters: Array<(key: string | undefined) => void> = [];
  private idle: Array<() => void> = [];
  private shuttingDown = false;

  constructor(options: QueueOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics ?? {};
    this.backoff = new ItemBackoff(options.baseDelayMs ?? 5, options.maxDelayMs ?? 300_000);
    this.bucket = new TokenBucket(options.qps ?? 10, options.burst ?? 100, this.clock);
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.dirty.has(key)) return;
    this.metrics.added?.();
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.enqueue(key);
  }

  /** Adds `key` after `delayMs`, unless an earlier re-add of it is already scheduled. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + delayMs;
    const existing = this.deadlines.get(key);
    if (existing && existing.at <= at) return;
    existing?.cancel();
    const cancel = this.clock.setTimer(() => {
      this.deadlines.delete(key);
      this.add(key);
    }, delayMs);
    this.deadlines.set(key, { at, cancel });
  }

  /** Re-adds a failed key after its backoff (or the global bucket's wait, whichever is longer). */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    this.metrics.retried?.();
    this.addAfter(key, Math.max(this.backoff.next(key), this.bucket.reserve()));
  }

  /** Resets the backoff of `key` (call after it was processed successfully). */
  forget(key: string): void {
    this.backoff.forget(key);
  }

  /** How many times `key` has failed since it was last forgotten. */
  failures(key: string): number {
    return this.backoff.count(key);
  }

  /** When the earliest scheduled re-add of `key` is due (epoch ms), if any. */
  scheduledAt(key: string): number | undefined {
    return this.deadlines.get(key)?.at;
  }

  /** The next key to process, or undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` finished; if it was re-added meanwhile it goes back into the queue. */
  done(key: string): void {
    const started = this.processing.get(key);
    if (started === undefined) return;
    this.processing.delete(key);
    this.metrics.workDuration?.((this.clock.now() - started) / 1000);
    if (this.dirty.has(key) && !this.shuttingDown) this.enqueue(key);
    if (this.processing.size === 0) this.notifyIdle();
  }

  /** Stops handing out keys; queued keys and scheduled re-adds are dropped. */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const d of this.deadlines.values()) d.cancel();
    this.deadlines.clear();
    this.ready.clear();
    this.dirty.clear();
    this.metrics.depth?.(0);
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  /** Resolves once no key is being processed. */
  drain(): Promise<void> {
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Keys waiting for a worker. */
  len(): number {
    return this.ready.size;
  }

  inFlight(): number {
    return this.processing.size;
  }

  private enqueue(key: string): void {
    this.ready.set(key, this.clock.now());
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(this.take());
      return;
    }
    this.metrics.depth?.(this.ready.size);
  }

  private take(): string | undefined {
    const first = this.ready.entries().next();
    if (first.done) return undefined;
    const [key, queuedAt] = first.value;
    this.ready.delete(key);
    this.dirty.delete(key);
    const now = this.clock.now();
    this.processing.set(key, now);
    this.metrics.depth?.(this.ready.size);
    this.metrics.latency?.((now - queuedAt) / 1000);
    return key;
  }

  private notifyIdle(): void {
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
