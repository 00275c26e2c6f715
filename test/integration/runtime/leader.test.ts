// Leader election against the real apiserver's coordination.k8s.io/v1 Lease: exactly one leader,
// takeover within leaseDuration + retryPeriod when the leader dies, immediate handover on release.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaderElector, type LeaseStore, leaseStore } from '../../../src/runtime/leader.ts';
import { childProcessEnv, kubeConfig } from '../../support/env.ts';
import { eventually, uniqueName } from '../../support/wait.ts';
import { createNamespace, deleteNamespace } from './support.ts';

const timing = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 1_000 };
/** Scheduling and API latency on a busy 2-core machine. */
const slackMs = 1_500;

const kc = kubeConfig();
const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
const namespace = uniqueName('rt-leader');

beforeAll(() => createNamespace(kc, namespace));
afterAll(() => deleteNamespace(kc, namespace));

/** A store whose calls hang forever after kill(), as if the process froze; records renewals. */
function killable(store: LeaseStore) {
  let killed = false;
  const hang = <T>() => new Promise<T>(() => {});
  const wrapped = {
    lastWrite: 0,
    kill: () => {
      killed = true;
    },
    store: {
      description: store.description,
      get: () => (killed ? hang<k8s.V1Lease | undefined>() : store.get()),
      create: async (lease: k8s.V1Lease) => (killed ? hang<k8s.V1Lease>() : store.create(lease)),
      replace: async (lease: k8s.V1Lease) => {
        if (killed) return hang<k8s.V1Lease>();
        const result = await store.replace(lease);
        wrapped.lastWrite = Date.now();
        return result;
      },
    } satisfies LeaseStore,
  };
  return wrapped;
}

function candidates(lease: string, names: string[]) {
  const events: Array<{ at: number; who: string; what: string }> = [];
  const all = names.map((name) => {
    const conn = killable(leaseStore(coordination, namespace, lease));
    const elector = new LeaderElector({
      store: conn.store,
      identity: `${name}_${lease}`,
      ...timing,
      onStartedLeading: () => events.push({ at: Date.now(), who: name, what: 'started' }),
      onStoppedLeading: (why) => events.push({ at: Date.now(), who: name, what: `stopped ${why}` }),
    });
    void elector.run();
    return { name, elector, conn };
  });
  // Sample continuously: two leaders at the same moment must never be observed.
  let overlaps = 0;
  const sampler = setInterval(() => {
    if (all.filter((c) => c.elector.isLeader()).length > 1) overlaps++;
  }, 20);
  const leader = () => eventually('a leader', async () => all.find((c) => c.elector.isLeader()));
  const stopAll = async () => {
    clearInterval(sampler);
    await Promise.all(all.map((c) => c.elector.stop()));
  };
  return { all, events, leader, stopAll, overlaps: () => overlaps };
}

describe('leader election on a real Lease', () => {
  it('elects exactly one of two candidates and keeps it while it renews', async () => {
    const { all, leader, stopAll, overlaps, events } = candidates('one', ['a', 'b']);
    const first = await leader();
    await eventually(
      'three lease durations of stable leadership',
      async () =>
        events.length === 1 && Date.now() - events[0]!.at > 3 * timing.leaseDurationMs ? true : undefined,
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    expect(all.filter((c) => c.elector.isLeader())).toEqual([first]);
    const lease = await coordination.readNamespacedLease({ namespace, name: 'one' });
    expect(lease.spec?.holderIdentity).toBe(first.elector.identity);
    expect(String(lease.spec?.renewTime)).toMatch(/\.\d{6}Z$/);
    expect(overlaps()).toBe(0);
    await stopAll();
  });

  it('lets the standby take over within leaseDuration + retryPeriod after the leader stops renewing', async () => {
    const { all, events, leader, stopAll, overlaps } = candidates('takeover', ['a', 'b']);
    const old = await leader();
    await eventually('a renewal', async () => old.conn.lastWrite > 0 || undefined);
    old.conn.kill();
    const next = await eventually('the standby to lead', async () =>
      all.find((c) => c !== old && c.elector.isLeader()),
    );
    const started = events.find((e) => e.who === next.name && e.what === 'started')!;
    const lost = events.find((e) => e.who === old.name && e.what === 'stopped lost')!;
    expect(started.at - old.conn.lastWrite).toBeLessThanOrEqual(
      timing.leaseDurationMs + timing.retryPeriodMs * 1.2 + slackMs,
    );
    console.log(`[runtime] takeover ${started.at - old.conn.lastWrite}ms after the last renewal`);
    expect(lost.at).toBeLessThan(started.at); // the old leader stopped before the new one started
    expect(overlaps()).toBe(0);
    await stopAll();
  });

  it('hands over at once when the leader releases the lease on graceful shutdown', async () => {
    const { all, events, leader, stopAll } = candidates('release', ['a', 'b']);
    const old = await leader();
    await eventually(
      'the standby to have seen the lease',
      async () => all.every((c) => c.elector.leader() === old.elector.identity) || undefined,
    );
    await old.elector.stop();
    const releasedAt = Date.now();
    const lease = await coordination.readNamespacedLease({ namespace, name: 'release' });
    expect(lease.spec?.holderIdentity).not.toBe(old.elector.identity);
    const next = await eventually('the standby to lead', async () =>
      all.find((c) => c !== old && c.elector.isLeader()),
    );
    const started = events.find((e) => e.who === next.name && e.what === 'started')!;
    console.log(`[runtime] handover ${started.at - releasedAt}ms after release`);
    expect(started.at - releasedAt).toBeLessThanOrEqual(timing.retryPeriodMs * 1.2 + slackMs);
    expect(events.filter((e) => e.who === old.name).map((e) => e.what)).toEqual([
      'started',
      'stopped released',
    ]);
    await stopAll();
  });

  it('survives SIGKILL of the leader process: the other process leads within leaseDuration + retryPeriod', async () => {
    const procs = ['p1', 'p2'].map((id) => electorProcess('sigkill', id));
    try {
      const leaderEvent = await eventually(
        'a process to lead',
        async () => procs.map((p) => p.lines.find((l) => l.event === 'started')).find(Boolean),
        { timeoutMs: 60_000 },
      );
      const victim = procs.find((p) => p.id === leaderEvent.identity)!;
      const survivor = procs.find((p) => p !== victim)!;
      await eventually('the survivor to campaign', async () => survivor.lines.length > 0 || undefined);
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      const took = await eventually(
        'the survivor to lead',
        async () => survivor.lines.find((l) => l.event === 'started'),
        { timeoutMs: 30_000 },
      );
      console.log(`[runtime] SIGKILL -> new leader in ${took.at - killedAt}ms`);
      expect(took.at - killedAt).toBeLessThanOrEqual(
        timing.leaseDurationMs + timing.retryPeriodMs * 1.2 + slackMs,
      );
    } finally {
      for (const p of procs) p.child.kill('SIGKILL');
    }
  });
});

function electorProcess(lease: string, id: string) {
  // node itself (not the tsx wrapper, which would not pass SIGKILL on to its child).
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/integration/runtime/elector-main.ts', namespace, lease, id],
    { env: childProcessEnv(), stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines: Array<{ event: string; identity: string; at: number }> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line));
    } catch {
      // not one of ours
    }
  });
  return { id, child, lines };
}
