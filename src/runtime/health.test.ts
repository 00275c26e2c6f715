import { afterEach, describe, expect, it } from 'vitest';
import { EventLoopMonitor, HealthServer, operatorReadiness } from './health.ts';
import { RuntimeMetrics } from './metrics.ts';
import { FakeClock } from './testing/fake-clock.ts';

let server: HealthServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function serve(options: { monitor?: EventLoopMonitor; metrics?: RuntimeMetrics } = {}) {
  server = new HealthServer({ port: 0, host: '127.0.0.1', ...options });
  const port = await server.start();
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
  };
  return { server, get };
}

describe('HealthServer', () => {
  it('serves Prometheus metrics', async () => {
    const metrics = new RuntimeMetrics();
    metrics.reconciled('agentidentity', 'success', 0.02);
    metrics.setLeader('nhi-system/nhi-operator', true);
    const { get } = await serve({ metrics });
    const res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toContain('text/plain');
    expect(res.body).toContain(
      'controller_runtime_reconcile_total{controller="agentidentity",result="success"} 1',
    );
    expect(res.body).toContain('leader_election_master_status{name="nhi-system/nhi-operator"} 1');
  });

  it('is ready only when every readiness check passes, and says which failed', async () => {
    let synced = false;
    const { server, get } = await serve();
    server.addReadinessCheck('informers', () => synced || 'caches not synced');
    server.addReadinessCheck('leader-election', () => true);
    const before = await get('/readyz');
    expect(before.status).toBe(503);
    expect(before.body).toContain('[-]informers failed: caches not synced');
    synced = true;
    const after = await get('/readyz');
    expect(after.status).toBe(200);
    expect(after.body).toContain('[+]leader-election ok');
    expect((await get('/healthz')).status).toBe(200);
  });

  it('is unhealthy while the event loop recently stalled', async () => {
    const clock = new FakeClock();
    const monitor = new EventLoopMonitor(clock, 500, 30_000);
    const { get } = await serve({ monitor });
    await clock.advance(2_000);
    expect((await get('/healthz')).status).toBe(200);
    clock.block(8_000);
    await clock.advance(0); // the pending tick fires 7.5s late
    const res = await get('/healthz');
    expect(res.status).toBe(500);
    expect(res.body).toContain('event loop lagged 7500ms');
    for (let i = 0; i < 70; i++) await clock.advance(500);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('answers 404 elsewhere and reports a throwing check as failed', async () => {
    const { server, get } = await serve();
    server.addLivenessCheck('broken', () => {
      throw new Error('boom');
    });
    expect((await get('/nope')).status).toBe(404);
    expect((await get('/healthz')).body).toContain('[-]broken failed: boom');
  });
});

describe('operatorReadiness', () => {
  const controller = (synced: boolean) => ({ hasSynced: () => synced });
  const elector = (leader: boolean, ready: boolean) => ({ isLeader: () => leader, isReady: () => ready });

  it.each([
    ['no election, caches synced', [true, true], undefined, true],
    ['no election, a cache syncing', [true, false], undefined, 'informer caches not synced'],
    ['leader with synced caches', [true], elector(true, true), true],
    ['leader still syncing', [false], elector(true, true), 'informer caches not synced'],
    ['standby that reaches the apiserver (no controllers running)', [false], elector(false, true), true],
    [
      'standby cut off from the apiserver',
      [false],
      elector(false, false),
      'standby cannot reach the apiserver',
    ],
  ] as const)('%s', (_name, synced, election, expected) => {
    expect(operatorReadiness(synced.map(controller), election)()).toBe(expected);
  });
});
