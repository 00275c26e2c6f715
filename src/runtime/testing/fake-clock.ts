// A manual Clock for unit tests, and `settle` to let promise chains run between steps. Test code:
// lives under testing/, which the build excludes.

import type { CancelTimer, Clock } from '../clock.ts';

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A manual clock for tests. `advance(ms)` moves time forward and runs every timer that falls due,
 * in order, letting promise chains settle between timers so async code behaves as it would live.
 */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  constructor(start = Date.parse('2025-01-01T00:00:00Z')) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): CancelTimer {
    const timer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Number of timers still scheduled. */
  pending(): number {
    return this.timers.length;
  }

  /** Moves time forward WITHOUT running timers, as a blocked event loop would; they fire late later. */
  block(ms: number): void {
    this.current += ms;
  }

  async advance(ms: number): Promise<void> {
    const end = this.current + ms;
    await settle();
    for (let next = this.nextDue(end); next; next = this.nextDue(end)) {
      this.timers = this.timers.filter((t) => t !== next);
      this.current = Math.max(this.current, next.at);
      next.fn();
      await settle();
    }
    this.current = end;
    await settle();
  }

  private nextDue(end: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.timers) {
      if (t.at > end) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

/** Lets every pending promise continuation run (one macrotask turn, a few times over). */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
