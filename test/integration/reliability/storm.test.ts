// Fault storms, CI variant: a minute of Toxiproxy faults (latency, reset_peer, timeout, bandwidth,
// limit_data, slicer) in front of moto, OpenBao and the apiserver, with real 429s from OpenBao's
// rate-limit quota and ThrottlingException/503/lost answers in front of moto, while identities rotate,
// one is locked and one loses its workload. Nothing that should exist is deleted or emptied at any
// point, everything converges after the storm, and no identity drives a hot loop of requests. The
// soak (test/soak) runs minutes of it.

import { beforeAll, describe, expect, it } from 'vitest';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { newNamespace } from '../../support/cluster.ts';
import { kubeConfig } from '../../support/env.ts';
import { auditProblems, holdingProblems } from './crash-checks.ts';
import { RETRY_BOUNDS, stormRun } from './storm-run.ts';

beforeAll(async () => {
  await installOperatorManifests(kubeConfig());
});

describe('a storm of network and HTTP faults', () => {
  it('deletes nothing that should exist, converges after, and keeps retry rates bounded', async () => {
    const namespace = await newNamespace('storm');
    const run = await stormRun({ stormMs: 60_000, phaseMs: 4_000, namespace, active: 4, log: console.log });
    console.log(
      `[storm] ${run.phases} phases in ${(run.stormMs / 1000).toFixed(0)} s (${JSON.stringify(run.faults)}); ` +
        `converged ${(run.convergeMs / 1000).toFixed(1)} s after; rates ${JSON.stringify(run.rates)}; operator ${JSON.stringify(run.operator)}`,
    );
    expect(run.lostDuringStorm).toEqual([]);
    expect(run.operatorExited).toBe(false);
    const problems = run.identities.flatMap((p) => [
      ...holdingProblems(p, p.uid ? run.held.get(p.uid) : undefined),
      ...auditProblems(p, run.audit),
    ]);
    expect(problems).toEqual([]);
    for (const rate of Object.values(run.rates)) {
      expect(rate.requests).toBeGreaterThan(0);
      expect(rate.meanPerIdentityPerSecond).toBeLessThan(RETRY_BOUNDS.meanPerIdentityPerSecond);
      expect(rate.maxPerIdentityInOneSecond).toBeLessThan(RETRY_BOUNDS.maxPerIdentityInOneSecond);
    }
  }, 600_000);
});
