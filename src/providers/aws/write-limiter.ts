// A ceiling on the rate of cloud write calls: a token bucket shared by every write the provider
// makes, so a burst of reconciles (say, after an outage) cannot trip IAM's account-wide throttling.
// The SDK's adaptive retry mode handles throttling that happens anyway.

/** The part of the runtime Clock the provider needs (src/runtime/clock.ts satisfies it). */
export interface ProviderClock {
  now(): number;
  setTimer(fn: () => void, ms: number): () => void;
}

export class WriteLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly clock: ProviderClock,
    private readonly burst = Math.max(1, Math.ceil(perSecond)),
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Waits for a token, then runs `write`. Tokens are reserved in call order (waiting goes into debt). */
  async run<T>(write: () => Promise<T>): Promise<T> {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    this.tokens -= 1;
    const waitMs = this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.perSecond);
    if (waitMs > 0) await new Promise<void>((resolve) => this.clock.setTimer(resolve, waitMs));
    return write();
  }
}

/** `port` with each method named in `writes` going through `limiter`; reads pass straight through. */
export function limitWrites<T extends object>(
  port: T,
  writes: ReadonlyArray<keyof T>,
  limiter: WriteLimiter,
): T {
  const limited = new Set<PropertyKey>(writes);
  return new Proxy(port, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      if (!limited.has(property)) return method.bind(target);
      return (...args: unknown[]) => limiter.run(() => method.apply(target, args));
    },
  });
}
