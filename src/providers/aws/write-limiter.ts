// A ceiling on the rate of cloud write calls: the runtime's token bucket, shared by every write the
// provider makes, so a burst of reconciles (say, after an outage) cannot trip IAM's account-wide
// throttling. The SDK's adaptive retry mode handles throttling that happens anyway.

import { type Clock, sleep } from '../../runtime/clock.ts';
import { TokenBucket } from '../../runtime/ratelimit.ts';

export class WriteLimiter {
  private readonly bucket: TokenBucket;

  constructor(
    perSecond: number,
    private readonly clock: Clock,
    burst = Math.max(1, Math.ceil(perSecond)),
  ) {
    this.bucket = new TokenBucket(perSecond, burst, clock);
  }

  /** Waits for a token, then runs `write`. Tokens are reserved in call order. */
  async run<T>(write: () => Promise<T>): Promise<T> {
    const waitMs = this.bucket.reserve();
    if (waitMs > 0) await sleep(this.clock, waitMs);
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
