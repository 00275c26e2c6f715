import { describe, expect, it } from 'vitest';
import { LeaderElector, leaderIdentity, type StopReason } from './leader.ts';
import { RuntimeMetrics } from './metrics.ts';
import { FakeClock, settle } from './testing/fake-clock.ts';
import { FakeLeaseServer } from './testing/fakes.ts';

const timing = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

function cluster() {
  const clock = new FakeClock();
  const server = new FakeLeaseServer();
  const metrics = new RuntimeMetrics();
  const log: string[] = [];
  const candidate = (name: string) => {
    const client = server.client('nhi-system/nhi-operator');
    const elector = new LeaderElector({
      store: client,
      identity: name,
      clock,
      metrics,
      ...timing,
      onStartedLeading: () => log.push(`${clock.now()} ${name} started`),
      onStoppedLeading: (why: StopReason) => log.push(`${clock.now()} ${name} stopped ${why}`),
    });
    const done = elector.run();
    return { elector, client, done };
  };
  const t = (line: string) => Number(line.split(' ')[0]);
  return { clock, server, metrics, log, candidate, t };
}

describe('LeaderElector', () => {
  it('reports 0 before it leads, so a Prometheus sees standbys and "no replica leads"', async () => {
    const { server, metrics, clock } = cluster();
    new LeaderElector({
      store: server.client('nhi-system/nhi-operator'),
      identity: 'standby',
      clock,
      metrics,
      ...timing,
      onStartedLeading: () => {},
      onStoppedLeading: () => {},
    }); // never run: it has not campaigned yet
    expect(await metrics.registry.metrics()).toContain(
      'leader_election_master_status{name="nhi-system/nhi-operator"} 0',
    );
  });

  it('lets exactly one of two candidates lead, and keeps it leading while it renews', async () => {
    const { clock, server, candidate, metrics } = cluster();
    const a = candidate('a');
    const b = candidate('b');
    await clock.advance(60_000);
    expect([a.elector.isLeader(), b.elector.isLeader()].filter(Boolean)).toHaveLength(1);
    expect(server.lease?.spec?.leaseTransitions).toBe(0);
    expect(b.elector.leader()).toBe(a.elector.isLeader() ? 'a' : 'b');
    expect(await metrics.value('leader_election_master_status')).toBe(1);
    expect(b.elector.isReady() && a.elector.isReady()).toBe(true);
  });

  it('writes renewTime and acquireTime with microsecond precision', async () => {
    const { clock, server, candidate } = cluster();
    candidate('a');
    await clock.advance(1);
    expect(server.lease?.spec?.renewTime).toMatch(/T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    expect(server.lease?.spec?.acquireTime).toMatch(/\.\d{6}Z$/);
    expect(server.lease?.spec?.leaseDurationSeconds).toBe(15);
  });

  it('when the leader cannot renew, it stops before the standby takes over within lease duration + retry period', async () => {
    const { clock, log, candidate, t } = cluster();
    const a = candidate('a');
    await clock.advance(100);
    const b = candidate('b');
    await clock.advance(10_000);
    const lastRenew = clock.now() - (clock.now() % 2000);
    a.client.mode = 'fail';
    await clock.advance(30_000);
    const stopped = log.find((l) => l.includes('a stopped lost'))!;
    const started = log.find((l) => l.includes('b started'))!;
    expect(t(stopped)).toBeLessThanOrEqual(lastRenew + timing.renewDeadlineMs + 2100);
    expect(t(started)).toBeGreaterThan(t(stopped));
    expect(t(started) - lastRenew).toBeLessThanOrEqual(
      timing.leaseDurationMs + timing.retryPeriodMs * 1.2 + 2100,
    );
    expect(b.elector.isLeader()).toBe(true);
    await a.done;
  });

  it('stops leading at the renew deadline even while a lease call hangs', async () => {
    const { clock, log, candidate, t } = cluster();
    const a = candidate('a');
    await clock.advance(1);
    const leadingSince = clock.now();
    a.client.mode = 'hang';
    await clock.advance(20_000);
    expect(a.elector.isLeader()).toBe(false);
    const stopped = log.find((l) => l.includes('a stopped lost'))!;
    expect(t(stopped) - leadingSince).toBeLessThanOrEqual(timing.renewDeadlineMs + timing.retryPeriodMs);
  });

  it('hands over at once when the leader releases the lease on graceful stop', async () => {
    const { clock, server, log, candidate, t } = cluster();
    const a = candidate('a');
    await clock.advance(100);
    const b = candidate('b');
    await clock.advance(5_000);
    const stop = a.elector.stop();
    await settle();
    await stop;
    const releasedAt = clock.now();
    expect(server.lease?.spec?.holderIdentity).toBe('');
    expect(log).toContain(`${releasedAt} a stopped released`);
    await clock.advance(3_000);
    const started = log.find((l) => l.includes('b started'))!;
    expect(t(started) - releasedAt).toBeLessThanOrEqual(timing.retryPeriodMs * 1.2);
    expect(server.lease?.spec?.leaseTransitions).toBe(1);
    expect(b.elector.isLeader()).toBe(true);
  });

  it('stops leading as soon as it sees another holder on the lease', async () => {
    const { clock, server, log, candidate } = cluster();
    candidate('a');
    await clock.advance(1);
    const lease = server.read()!;
    server.write({ ...lease, spec: { ...lease.spec, holderIdentity: 'intruder' } }, false);
    await clock.advance(2_500);
    expect(log.at(-1)).toMatch(/a stopped lost$/);
  });

  it('is ready as a standby only while it can reach the apiserver', async () => {
    const { clock, candidate } = cluster();
    candidate('a');
    await clock.advance(1);
    const b = candidate('b');
    await clock.advance(1);
    expect(b.elector.isReady()).toBe(true);
    b.client.mode = 'fail';
    await clock.advance(20_000);
    expect(b.elector.isReady()).toBe(false);
  });

  it('rejects timings that could let two leaders overlap', () => {
    const server = new FakeLeaseServer();
    const options = { store: server.client(), identity: 'x', onStartedLeading() {}, onStoppedLeading() {} };
    expect(
      () => new LeaderElector({ ...options, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }),
    ).toThrow();
    expect(() => new LeaderElector({ ...options, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).toThrow();
  });

  it('makes identities unique per process', () => {
    expect(leaderIdentity('pod-1')).toMatch(/^pod-1_[0-9a-f]{10}$/);
    expect(leaderIdentity('pod-1')).not.toBe(leaderIdentity('pod-1'));
  });
});
