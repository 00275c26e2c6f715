// A de-duplicating work queue of object keys, after client-go's workqueue semantics:
//  - a key is queued at most once however often it is added (adds coalesce);
//  - a key being processed is never handed to a second worker; re-added meanwhile, it is marked
//    dirty and queued again when the worker calls done();
//  - failures come back through addRateLimited (per-key exponential backoff, max'ed with a global
//    token bucket); success calls forget() to reset the backoff;
//  - deadlines come back through addAfter, which keeps only the earliest pending one per key;
//  - shutDown() stops handing out work and drops what is queued; drain() waits for in-flight work;
//  - two levels: 'high' (new and changed objects, deadlines, retries) goes before 'low' (resyncs,
//    the initial list, relists), so an event never waits behind a sweep of every object; a key added
//    at both levels is queued once, at the higher. Aging bounds the wait of a low key: once the oldest
//    has waited `lowPriorityMaxWaitMs`, low keys take every other turn, so nothing starves.
import FlatQueue from 'flatqueue';
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
  /** Once the oldest low-priority key has waited this long, low keys take every other turn (default 10 s). */
  lowPriorityMaxWaitMs?: number;
  metrics?: QueueMetrics;
}

/** 'high': events, deadlines and retries; 'low': resyncs and (re)lists of every object. */
export type Priority = 'high' | 'low';

export class WorkQueue {
  private readonly clock: Clock;
  private readonly metrics: QueueMetrics;
  private readonly backoff: ItemBackoff;
  private readonly bucket: TokenBucket;
  /** Ready keys in FIFO order per level, each with the time it was queued. */
  private readonly high = new Map<string, number>();
  private readonly low = new Map<string, number>();
  /** The level a key re-added while processing goes back to. */
  private readonly dirtyLevel = new Map<string, Priority>();
  private readonly lowMaxWaitMs: number;
  private tookAgedLow = false;
  /** Keys that need processing: queued, or re-added while being processed. */
  private readonly dirty = new Set<string>();
  /** Keys handed to a worker, with the time they were handed out. */
  private readonly processing = new Map<string, number>();
  /**
   * The earliest scheduled re-add of each key (epoch ms), in a map and a min-heap by time, with one
   * timer for the earliest of all: a timer per key was four objects per identity held for as long as
   * its next rotation or expiry check. A key moved earlier leaves its old heap entry behind, dropped
   * when it comes due.
   */
  private readonly deadlines = new Map<string, number>();
  private readonly due = new FlatQueue<string>();
  private timer: { at: number; cancel: CancelTimer } | undefined;
  private waiters: Array<(key: string | undefined) => void> = [];
  private idle: Array<() => void> = [];
  private shuttingDown = false;

  constructor(options: QueueOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics ?? {};
    this.backoff = new ItemBackoff(options.baseDelayMs ?? 5, options.maxDelayMs ?? 300_000);
    this.bucket = new TokenBucket(options.qps ?? 10, options.burst ?? 100, this.clock);
    this.lowMaxWaitMs = options.lowPriorityMaxWaitMs ?? 10_000;
  }

  add(key: string, priority: Priority = 'high'): void {
    if (this.shuttingDown) return;
    if (this.dirty.has(key)) {
      if (priority === 'high') this.promote(key);
      return;
    }
    this.metrics.added?.();
    this.dirty.add(key);
    if (this.processing.has(key)) {
      this.dirtyLevel.set(key, priority);
      return;
    }
    this.enqueue(key, priority);
  }

  /** A key queued low (or waiting dirty while processing) moves up to high, keeping its queue time. */
  private promote(key: string): void {
    const queuedAt = this.low.get(key);
    if (queuedAt !== undefined) {
      this.low.delete(key);
      this.high.set(key, queuedAt);
    } else if (this.dirtyLevel.has(key)) this.dirtyLevel.set(key, 'high');
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
    if (existing !== undefined && existing <= at) return;
    this.deadlines.set(key, at);
    this.due.push(key, at);
    this.armTimer();
  }

  /** Sets the one timer for the earliest deadline, unless it is already set for that time or sooner. */
  private armTimer(): void {
    const next = this.due.peekValue();
    if (next === undefined || (this.timer !== undefined && this.timer.at <= next)) return;
    this.timer?.cancel();
    this.timer = {
      at: next,
      cancel: this.clock.setTimer(() => this.fireDue(), Math.max(0, next - this.clock.now())),
    };
  }

  /** Adds every key whose deadline has come (skipping entries a moved deadline left), then re-arms. */
  private fireDue(): void {
    this.timer = undefined;
    const now = this.clock.now();
    for (let at = this.due.peekValue(); at !== undefined && at <= now; at = this.due.peekValue()) {
      const key = this.due.pop() as string;
      if (this.deadlines.get(key) !== at) continue;
      this.deadlines.delete(key);
      this.add(key);
    }
    if (!this.shuttingDown) this.armTimer();
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
    return this.deadlines.get(key);
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
    const level = this.dirtyLevel.get(key) ?? 'high';
    this.dirtyLevel.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.enqueue(key, level);
    if (this.processing.size === 0) this.notifyIdle();
  }

  /** Stops handing out keys; queued keys and scheduled re-adds are dropped. */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.deadlines.clear();
    this.due.clear();
    this.high.clear();
    this.low.clear();
    this.dirty.clear();
    this.dirtyLevel.clear();
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
    return this.high.size + this.low.size;
  }

  /** Keys waiting for a worker at `priority`. */
  lenAt(priority: Priority): number {
    return priority === 'high' ? this.high.size : this.low.size;
  }

  inFlight(): number {
    return this.processing.size;
  }

  private enqueue(key: string, priority: Priority): void {
    (priority === 'high' ? this.high : this.low).set(key, this.clock.now());
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(this.take());
      return;
    }
    this.metrics.depth?.(this.len());
  }

  /**
   * The oldest high key, else the oldest low. A low key that has waited its bound takes every other
   * turn while high keys wait: high work is at most halved in pace, and low work always advances.
   */
  private next(): { level: Map<string, number>; key: string; queuedAt: number } | undefined {
    const oldestLow = this.low.entries().next();
    const oldestHigh = this.high.entries().next();
    const aged = !oldestLow.done && this.clock.now() - oldestLow.value[1] >= this.lowMaxWaitMs;
    const agedTurn = aged && (oldestHigh.done || !this.tookAgedLow);
    this.tookAgedLow = agedTurn;
    if (agedTurn && !oldestLow.done)
      return { level: this.low, key: oldestLow.value[0], queuedAt: oldestLow.value[1] };
    if (!oldestHigh.done)
      return { level: this.high, key: oldestHigh.value[0], queuedAt: oldestHigh.value[1] };
    if (!oldestLow.done) return { level: this.low, key: oldestLow.value[0], queuedAt: oldestLow.value[1] };
    return undefined;
  }

  private take(): string | undefined {
    const next = this.next();
    if (!next) return undefined;
    const { level, key, queuedAt } = next;
    level.delete(key);
    this.dirty.delete(key);
    const now = this.clock.now();
    this.processing.set(key, now);
    this.metrics.depth?.(this.len());
    this.metrics.latency?.((now - queuedAt) / 1000);
    return key;
  }

  private notifyIdle(): void {
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
