// Time as a port: the runtime never calls Date.now() or setTimeout directly, so unit tests drive
// queues, leader election and health checks with a FakeClock (testing/fake-clock.ts) instead of sleeping.

/** Cancels a scheduled callback; calling it after the callback ran is a no-op. */
export type CancelTimer = () => void;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimer(fn: () => void, ms: number): CancelTimer;
}

/** setTimeout's limit (2^31 - 1 ms, about 24.8 days): a longer delay fires after 1 ms instead. */
export const MAX_TIMER_MS = 2_147_483_647;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    // Deadlines such as a 90-day ttl exceed setTimeout's range: wait in steps until the real time.
    const due = Date.now() + Math.max(0, ms);
    let handle: ReturnType<typeof setTimeout>;
    const arm = () => {
      const left = due - Date.now();
      handle = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(fn, Math.max(0, left));
    };
    arm();
    return () => clearTimeout(handle);
  },
};

/** Resolves after `ms` on `clock`, or at once when `signal` aborts. Never rejects. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      cancel();
      resolve();
    };
    const cancel = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
