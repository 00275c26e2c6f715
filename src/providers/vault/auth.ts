// How the operator itself authenticates to Vault/OpenBao. Production: kubernetes auth with the
// operator's own projected ServiceAccount token (re-read on every login, since the kubelet rotates
// it), or a token file maintained by an agent. A static token is for the dev environment only.
// The token is held in memory and sent as a header; it never appears in an error or a log line.

import type { Clock } from '../../runtime/clock.ts';

export interface TokenSource {
  token(): Promise<string>;
  /** Forget the current token after a 403. True when asking again may yield a different token. */
  invalidate(): boolean;
}

export class StaticTokenSource implements TokenSource {
  constructor(private readonly value: string) {}
  async token(): Promise<string> {
    return this.value;
  }
  invalidate(): boolean {
    return false;
  }
}

/**
 * A token kept elsewhere (a file an agent sidecar maintains, or a dev Secret): re-read after a 403
 * or once it is a minute old.
 */
export class RereadingTokenSource implements TokenSource {
  private cached: { value: string; at: number } | undefined;

  constructor(
    private readonly read: () => Promise<string>,
    private readonly clock: Clock,
    private readonly maxAgeMs = 60_000,
  ) {}

  async token(): Promise<string> {
    if (this.cached && this.clock.now() - this.cached.at < this.maxAgeMs) return this.cached.value;
    const value = (await this.read()).trim();
    this.cached = { value, at: this.clock.now() };
    return value;
  }

  invalidate(): boolean {
    this.cached = undefined;
    return true;
  }
}

export interface LoginResult {
  token: string;
  leaseSeconds: number;
}

/** Logs in through kubernetes auth; logs in again at 80 % of the lease or after a 403. */
export class KubernetesLoginSource implements TokenSource {
  private cached: { value: string; renewAt: number } | undefined;
  private inflight: Promise<string> | undefined;

  constructor(
    private readonly login: (jwt: string) => Promise<LoginResult>,
    private readonly readJwt: () => Promise<string>,
    private readonly clock: Clock,
  ) {}

  async token(): Promise<string> {
    if (this.cached && this.clock.now() < this.cached.renewAt) return this.cached.value;
    if (this.inflight) return this.inflight;
    const run = (async () => {
      const result = await this.login((await this.readJwt()).trim());
      const leaseMs = Math.max(result.leaseSeconds, 1) * 1000;
      this.cached = { value: result.token, renewAt: this.clock.now() + leaseMs * 0.8 };
      return result.token;
    })();
    this.inflight = run;
    try {
      return await run;
    } finally {
      this.inflight = undefined;
    }
  }

  invalidate(): boolean {
    this.cached = undefined;
    return true;
  }
}
