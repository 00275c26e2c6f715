import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, systemClock } from './clock.ts';

describe('systemClock.setTimer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits out a delay longer than setTimeout can hold instead of firing at once', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    const warnings = vi.spyOn(process, 'emitWarning');
    systemClock.setTimer(fired, 30 * 24 * 3_600_000); // 30 days, past 2^31 - 1 ms
    vi.advanceTimersByTime(1000);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(30 * 24 * 3_600_000 - MAX_TIMER_MS);
    expect(fired).toHaveBeenCalledTimes(1);
    expect(warnings).not.toHaveBeenCalled();
  });

  it('can be cancelled while waiting in steps', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    const cancel = systemClock.setTimer(fired, 2 * MAX_TIMER_MS);
    vi.advanceTimersByTime(MAX_TIMER_MS + 10);
    cancel();
    vi.advanceTimersByTime(2 * MAX_TIMER_MS);
    expect(fired).not.toHaveBeenCalled();
  });
});
