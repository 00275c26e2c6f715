// The two limits a failing key meets before it is retried: its own exponential backoff and a
// bucket shared by all keys, so a burst of failures cannot hammer the apiserver or a cloud API.
import type { Clock } from './clock.ts';

/** Per-key exponential backoff: base, 2×base, 4×base ... capped at max. */
export class ItemBackoff {
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  /** Records one more failure of `key` and returns how long it should wait. */
  next(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    if (n >= 52) return this.maxMs;
    return Math.min(this.baseMs * 2 ** n, this.maxMs);
  }

  count(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }
}

/**
 * A token bucket refilled at `qps` up to `burst`. `reserve()` always takes a token, going into
 * debt when empty, and returns how long the caller must wait for that token to exist.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly qps: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  reserve(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.qps) / 1000);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.qps);
  }
}
