// The operator's HTTP endpoints: /metrics (Prometheus), /healthz (the process is alive and its
// event loop is not stalled) and /readyz (informers synced; with leader election, leading or a
// standby that can reach the apiserver). Port 0 picks a free port (tests).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CancelTimer, type Clock, systemClock } from './clock.ts';
import type { RuntimeMetrics } from './metrics.ts';

/** A named check: true (or undefined) when fine, false or a reason string when not. */
export type Check = () => boolean | string | undefined;

/**
 * Measures how late a periodic timer fires. Node runs timers before I/O callbacks, so after the
 * loop was blocked the next tick records the lag before /healthz is answered.
 */
export class EventLoopMonitor {
  private expected = 0;
  private cancel: CancelTimer | undefined;
  private samples: Array<{ at: number; lagMs: number }> = [];

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly intervalMs = 500,
    private readonly windowMs = 30_000,
  ) {}

  start(): void {
    if (this.cancel) return;
    const tick = () => {
      const now = this.clock.now();
      this.samples.push({ at: now, lagMs: Math.max(0, now - this.expected) });
      this.samples = this.samples.filter((s) => now - s.at <= this.windowMs);
      this.schedule(tick);
    };
    this.schedule(tick);
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  /** The worst lag seen within the window. */
  maxLagMs(): number {
    return this.samples.reduce((max, s) => Math.max(max, s.lagMs), 0);
  }

  private schedule(tick: () => void): void {
    this.expected = this.clock.now() + this.intervalMs;
    this.cancel = this.clock.setTimer(tick, this.intervalMs);
  }
}

/**
 * The operator's readiness: without leader election, every controller's caches have synced; with
 * it, the leader needs synced caches, a standby only needs to reach the apiserver (it runs no
 * controllers, and must be ready to take over).
 */
export function operatorReadiness(
  controllers: ReadonlyArray<{ hasSynced(): boolean }>,
  elector?: { isLeader(): boolean; isReady(): boolean },
): Check {
  return () => {
    if (elector && !elector.isLeader()) return elector.isReady() || 'standby cannot reach the apiserver';
    return controllers.every((c) => c.hasSynced()) || 'informer caches not synced';
  };
}

export interface HealthServerOptions {
  port: number;
  host?: string;
  metrics?: RuntimeMetrics;
  /** /healthz fails when the event loop lagged more than this within the last 30s (default 5s). */
  maxEventLoopLagMs?: number;
  monitor?: EventLoopMonitor;
}

export class HealthServer {
  private readonly server: Server;
  private readonly monitor: EventLoopMonitor;
  private readonly liveness = new Map<string, Check>();
  private readonly readiness = new Map<string, Check>();

  constructor(private readonly options: HealthServerOptions) {
    this.monitor = options.monitor ?? new EventLoopMonitor();
    const maxLag = options.maxEventLoopLagMs ?? 5_000;
    this.liveness.set('event-loop', () => {
      const lag = this.monitor.maxLagMs();
      return lag <= maxLag || `event loop lagged ${lag}ms`;
    });
    this.server = createServer((req, res) => {
      void this.handle(req.url ?? '/').then(
        ({ status, type, body }) => res.writeHead(status, { 'Content-Type': type }).end(body),
        () => res.writeHead(500).end('internal error\n'),
      );
    });
  }

  addLivenessCheck(name: string, check: Check): void {
    this.liveness.set(name, check);
  }

  addReadinessCheck(name: string, check: Check): void {
    this.readiness.set(name, check);
  }

  /** Listens and resolves with the actual port. */
  async start(): Promise<number> {
    this.monitor.start();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host ?? '0.0.0.0', () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.monitor.stop();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(url: string): Promise<{ status: number; type: string; body: string }> {
    const path = url.split('?')[0];
    if (path === '/metrics' && this.options.metrics) {
      const { registry } = this.options.metrics;
      return { status: 200, type: registry.contentType, body: await registry.metrics() };
    }
    if (path === '/healthz' || path === '/livez') return report(this.liveness, 500);
    if (path === '/readyz') return report(new Map([...this.liveness, ...this.readiness]), 503);
    return { status: 404, type: 'text/plain', body: 'not found\n' };
  }
}

function report(checks: Map<string, Check>, failStatus: number) {
  const lines: string[] = [];
  let ok = true;
  for (const [name, check] of checks) {
    let verdict: ReturnType<Check>;
    try {
      verdict = check();
    } catch (err) {
      verdict = err instanceof Error ? err.message : 'check threw';
    }
    const passed = verdict === true || verdict === undefined;
    ok &&= passed;
    lines.push(passed ? `[+]${name} ok` : `[-]${name} failed: ${verdict === false ? 'not ready' : verdict}`);
  }
  lines.push(ok ? 'ok' : 'failed');
  return { status: ok ? 200 : failStatus, type: 'text/plain; charset=utf-8', body: `${lines.join('\n')}\n` };
}
