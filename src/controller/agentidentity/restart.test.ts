// Restarting the identity's workload after a rotation (spec.secrets[].restartWorkload), through the
// reconciler with the real KubernetesProvider over the in-memory port and an in-memory Deployment
// whose pod template annotations the step patches.

import { describe, expect, it } from 'vitest';
import { Controls, RestartAnnotations } from '../../api/v1alpha1/annotations.ts';
import type { SecretSpec } from '../../api/v1alpha1/types.ts';
import { ProviderRegistry } from '../../providers/registry.ts';
import { restartKey, restartsDue } from './restart.ts';
import { HARNESS_NAMESPACE, ReconcilerHarness } from './testing/harness.ts';

const HOUR = 3_600_000;

function secret(name: string, restartWorkload: boolean | undefined): SecretSpec {
  return {
    name,
    generator: { type: 'random', length: 24 },
    rotationInterval: '2h',
    target: { secretName: `bot-${name}` },
    ...(restartWorkload !== undefined && { restartWorkload }),
  };
}

class DeploymentHarness extends ReconcilerHarness {
  annotations: Record<string, string> = {};
  patches: Array<Record<string, string>> = [];
  failPatch = false;

  constructor(secrets: SecretSpec[]) {
    super({ workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'bot' }, secrets });
    this.start({
      providers: new ProviderRegistry(this.kubernetes, () => []),
      workloads: {
        resolveKind: async () => ({ namespaced: true }),
        get: async (apiVersion, kind, namespace, name) => ({
          apiVersion,
          kind,
          metadata: { name, namespace },
          spec: {
            template: {
              metadata: { annotations: structuredClone(this.annotations) },
              spec: { serviceAccountName: 'bot' },
            },
          },
        }),
        podsUsingServiceAccount: async () => [],
        annotatePodTemplate: async (_apiVersion, _kind, namespace, _name, annotations) => {
          expect(namespace).toBe(HARNESS_NAMESPACE);
          if (this.failPatch) throw new Error('apiserver: connection refused');
          this.patches.push(annotations);
          Object.assign(this.annotations, annotations);
          return true;
        },
      },
    });
  }

  versions() {
    return this.identity.status?.secrets?.map((s) => [s.name, s.currentVersion, s.restartedVersion]);
  }
}

describe('restarting the workload after a rotation', () => {
  it('rolls the Deployment once per rotation, not for the first value nor on later reconciles', async () => {
    const h = new DeploymentHarness([secret('api-key', true)]);
    await h.settle();
    expect(h.versions()).toEqual([['api-key', 1, 1]]);
    expect(h.patches).toHaveLength(0);

    h.later(3 * HOUR);
    await h.reconcile();
    await h.reconcile();
    expect(h.versions()).toEqual([['api-key', 2, 2]]);
    expect(h.patches).toEqual([
      {
        [RestartAnnotations.restartedAt]: h.now.toISOString(),
        [RestartAnnotations.restartedFor]: 'api-key=v2',
      },
    ]);
    expect(h.events.filter((e) => e.reason === 'WorkloadRestarted')).toEqual([
      {
        type: 'Normal',
        reason: 'WorkloadRestarted',
        message: 'rolled Deployment/bot after rotating api-key (v2)',
      },
    ]);
    expect(h.audit.records.filter((r) => r.action === 'workload-restarted')).toMatchObject([
      {
        outcome: 'success',
        resource: `kubernetes:Deployment/${HARNESS_NAMESPACE}/bot`,
        detail: 'api-key=v2',
      },
    ]);

    h.later(3 * HOUR);
    await h.reconcile();
    expect(h.patches.map((p) => p[RestartAnnotations.restartedFor])).toEqual(['api-key=v2', 'api-key=v3']);
  });

  it('rolls once when several secrets rotate in the same reconcile', async () => {
    const h = new DeploymentHarness([secret('api-key', true), secret('db', true), secret('other', false)]);
    await h.settle();
    h.later(3 * HOUR);
    await h.reconcile();
    expect(h.patches.map((p) => p[RestartAnnotations.restartedFor])).toEqual(['api-key=v2,db=v2']);
    expect(h.versions()).toEqual([
      ['api-key', 2, 2],
      ['db', 2, 2],
      ['other', 2, undefined],
    ]);
  });

  it('never rolls a workload for secrets without the option (the default)', async () => {
    const h = new DeploymentHarness([secret('api-key', undefined), secret('db', false)]);
    await h.settle();
    h.later(3 * HOUR);
    await h.reconcile();
    h.later(3 * HOUR);
    await h.reconcile();
    expect(h.identity.status?.secrets?.map((s) => s.currentVersion)).toEqual([3, 3]);
    expect(h.patches).toHaveLength(0);
  });

  it('does not roll a second time when the status write after the rollout was lost (a crash)', async () => {
    const h = new DeploymentHarness([secret('api-key', true)]);
    await h.settle();
    const before = structuredClone(h.identity.status);
    h.later(3 * HOUR);
    await h.reconcile();
    expect(h.patches).toHaveLength(1);
    h.identity.status = before ?? {}; // the rotation and the rollout happened; status never recorded them
    h.restart();
    await h.reconcile();
    expect(h.versions()).toEqual([['api-key', 2, 2]]);
    expect(h.patches).toHaveLength(1);
  });

  it('retries a failed rollout on the next reconcile, for the same rotation', async () => {
    const h = new DeploymentHarness([secret('api-key', true)]);
    await h.settle();
    h.later(3 * HOUR);
    h.failPatch = true;
    await h.reconcile();
    expect(h.versions()).toEqual([['api-key', 2, 1]]);
    h.failPatch = false;
    h.later(HOUR);
    await h.reconcile();
    expect(h.patches.map((p) => p[RestartAnnotations.restartedFor])).toEqual(['api-key=v2']);
    expect(h.versions()).toEqual([['api-key', 2, 2]]);
  });

  it('rolls nothing while the identity is quarantined', async () => {
    const h = new DeploymentHarness([secret('api-key', true)]);
    await h.settle();
    h.identity.metadata.annotations = { [Controls.lock]: 'alice at 10:00' };
    h.identity.spec.locked = true;
    for (let i = 0; i < 4; i++) {
      h.later(3 * HOUR);
      await h.reconcile();
    }
    expect(h.condition('Quarantined')?.status).toBe('True');
    expect(h.patches).toHaveLength(0);
  });

  it('rolls nothing on the revocation path: a deleting identity whose rotation is due', async () => {
    const h = new DeploymentHarness([secret('api-key', true), secret('db', true)]);
    await h.settle();
    expect(h.condition('Ready')?.status).toBe('True');
    h.later(3 * HOUR); // both rotations are due
    h.identity.metadata.deletionTimestamp = h.now.toISOString();
    for (let i = 0; i < 4; i++) {
      await h.reconcile().catch(() => undefined);
      h.later(HOUR);
    }
    expect(h.identity.metadata.finalizers ?? []).toEqual([]);
    expect(h.audit.records.map((r) => r.action)).toContain('offboarded');
    expect(h.patches).toEqual([]);
    expect(h.events.map((e) => e.reason)).not.toContain('WorkloadRestarted');
    expect(h.audit.records.map((r) => r.action)).not.toContain('workload-restarted');
  });

  it('rolls once when a restore gives the Secret a fresh value after quarantine', async () => {
    const h = new DeploymentHarness([secret('api-key', true)]);
    await h.settle();
    h.identity.spec.locked = true;
    await h.reconcile();
    expect(h.condition('Quarantined')?.status).toBe('True');
    h.identity.spec.locked = false;
    await h.settle(3);
    expect(h.condition('Quarantined')?.status).toBe('False');
    const version = h.identity.status?.secrets?.[0]?.currentVersion;
    expect(version).toBeGreaterThan(1);
    expect(h.patches.map((p) => p[RestartAnnotations.restartedFor])).toEqual([`api-key=v${version}`]);
  });
});

describe('which secrets are due a restart', () => {
  const specs = [secret('a', true), secret('b', true)];

  it('counts a secret first seen, or just opted in, as restarted for the version it had', () => {
    expect(restartsDue(specs, undefined, [{ name: 'a', currentVersion: 1 }]).due).toEqual([]);
    const optedIn = restartsDue(
      specs,
      [{ name: 'a', currentVersion: 4 }],
      [{ name: 'a', currentVersion: 5 }],
    );
    expect(optedIn.due.map((s) => s.name)).toEqual(['a']);
    expect(optedIn.secrets).toEqual([{ name: 'a', currentVersion: 5, restartedVersion: 4 }]);
  });

  it('names the rotation by secret and version, in a stable order', () => {
    expect(
      restartKey([
        { name: 'b', currentVersion: 3 },
        { name: 'a', currentVersion: 7 },
      ]),
    ).toBe('a=v7,b=v3');
  });
});
