// Crash injection, CI variant: at least 200 SIGKILLs of the real operator process while identities on
// all three backends are provisioned, rotated, locked, orphaned into revocation and offboarded; then
// convergence leaves nothing leaked or duplicated in moto, OpenBao or the cluster, every identity in
// the state its fate says, one new version per rotation request, and an audit trail in which every
// action has a record (crash-checks.ts says exactly what is asserted). The soak (test/soak) runs the
// same with 1,000 kills.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import {
  installAwsProvider,
  installVaultProvider,
  newNamespace,
  removeProvider,
} from '../../support/cluster.ts';
import { kubeConfig } from '../../support/env.ts';
import { checkCrashRun } from './crash-checks.ts';
import { crashRun } from './crash-run.ts';

const KILLS = 200;

beforeAll(async () => {
  await installOperatorManifests(kubeConfig());
  await installAwsProvider();
  await installVaultProvider();
});

afterAll(async () => {
  await removeProvider('aws');
  await removeProvider('vault');
});

describe('SIGKILL at random points and right after writes', () => {
  it(`${KILLS} kills while provisioning, rotating, quarantining and revoking leak, duplicate and lose nothing`, async () => {
    const namespace = await newNamespace('crash');
    const run = await crashRun({ kills: KILLS, waves: 6, namespace, log: console.log });
    const report = checkCrashRun(run);
    console.log(
      `[crash] ${run.kills} kills (${run.killsAfterWrite} right after a write) in ${(run.stormMs / 1000).toFixed(0)} s, ` +
        `${run.identities.length} identities, ${run.identities.reduce((n, p) => n + p.rotations, 0)} rotation requests; ` +
        `converged in ${(run.convergeMs / 1000).toFixed(1)} s; ${report.records} audit records, ${report.repeated} repeated`,
    );
    expect(run.kills).toBeGreaterThanOrEqual(KILLS);
    expect(report.problems).toEqual([]);
  }, 900_000);
});
