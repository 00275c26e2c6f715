// The identity lifecycle on the Kubernetes provider, driven through the real operator process and
// nhictl against the real control plane: provision, bind, rotate, orphan → quarantine → revoke,
// restore when the workload returns, the sweep after a restart, and nothing revoked by a stop.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/dev/components.ts';
import { installOperatorManifests } from '../../src/dev/install.ts';
import { readAuditFile, verifyChain } from '../../src/governance/audit/audit.ts';
import { agentIdentity, withScopes, withSpec } from '../../src/testing/agent-identity.ts';
import {
  conditionOf,
  createIdentity,
  exists,
  getIdentity,
  newNamespace,
  untilCondition,
} from '../support/cluster.ts';
import { childProcessEnv, kubeConfig } from '../support/env.ts';
import { deployment, onTestCluster, readConfigMaps, withSecret } from '../support/fixtures.ts';
import { type OperatorProcess, startOperatorProcess } from '../support/operator.ts';
import { eventually } from '../support/wait.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
const run = promisify(execFile);
const timings: Record<string, number> = {};

let operator: OperatorProcess;

const createNamespace = () => newNamespace('e2e');
const apply = createIdentity;
const get = getIdentity;
const condition = conditionOf;
const until = untilCondition;

async function reconcileCount(op: OperatorProcess): Promise<number> {
  const port = /"port":(\d+)/.exec(op.logs())?.[1];
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('controller_runtime_reconcile_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await work();
  timings[label] = Date.now() - started;
  return result;
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  operator = startOperatorProcess();
});

afterAll(async () => {
  await operator?.stop();
  console.log('[e2e lifecycle timings ms]', JSON.stringify(timings));
});

describe('identity lifecycle on the kubernetes provider', () => {
  it('provisions a bound identity, rotates on demand, and revokes in two phases when the workload goes', async () => {
    const ns = await createNamespace();
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('support-bot', 'support-bot') });
    await core.createNamespacedServiceAccount({
      namespace: ns,
      body: { metadata: { name: 'support-bot-legacy' } },
    });
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'support-bot-unmanaged' }, stringData: { k: 'v' } },
    });
    await apply(
      agentIdentity('support-bot', onTestCluster(ns), withScopes(readConfigMaps), withSecret('crm-api-key')),
    );

    const ready = await timed('provision', () => until(ns, 'support-bot', 'Ready'));
    expect(condition(ready, 'WorkloadBound')?.reason).toBe('Bound');
    expect(ready.status?.serviceAccount).toBe('support-bot');
    expect(ready.status?.secrets?.[0]?.currentVersion).toBe(1);
    expect(ready.status?.risk?.level).toMatch(/^(Low|Moderate|High|Critical)$/);
    expect(ready.status?.risk?.factors.length).toBeGreaterThan(0);
    const sa = await core.readNamespacedServiceAccount({ namespace: ns, name: 'support-bot' });
    // Marked as ours, but no ownerReference: nothing can cascade-delete it (docs/reliability-safety.md).
    expect(sa.metadata?.labels?.['nhi.dev/identity-uid']).toBe(ready.metadata.uid);
    expect(sa.metadata?.ownerReferences).toBeUndefined();
    const secret = await core.readNamespacedSecret({ namespace: ns, name: 'support-bot-crm-api-key' });
    expect(Object.keys(secret.data ?? {})).toContain('crm-api-key');
    expect(JSON.stringify(ready.status)).not.toContain(
      Buffer.from(secret.data?.['crm-api-key'] ?? 'x', 'base64').toString(),
    );

    await timed('rotate', async () => {
      await run(process.execPath, [join(repoRoot, 'bin', 'nhictl.js'), 'rotate', 'support-bot', '-n', ns], {
        env: childProcessEnv(),
      });
      await eventually(
        'version 2',
        async () => (await get(ns, 'support-bot'))?.status?.secrets?.[0]?.currentVersion === 2,
      );
    });
    const rotated = await core.readNamespacedSecret({ namespace: ns, name: 'support-bot-crm-api-key' });
    const values = Object.values(rotated.data ?? {}).map((v) => Buffer.from(v, 'base64').toString());
    expect(values.length).toBe(2); // current and previous, both valid during the overlap

    await apps.deleteNamespacedDeployment({
      namespace: ns,
      name: 'support-bot',
      propagationPolicy: 'Background',
    });
    const quarantined = await timed('orphan→quarantine', () => until(ns, 'support-bot', 'Quarantined'));
    expect(condition(quarantined, 'Orphaned')?.status).toBe('True');
    expect(
      await exists(() => rbac.readNamespacedRoleBinding({ namespace: ns, name: 'nhi-support-bot' })),
    ).toBe(false);

    await timed('quarantine→revoke', () => until(ns, 'support-bot', 'Revoked', 'True', 40_000));
    expect(
      await exists(() => core.readNamespacedServiceAccount({ namespace: ns, name: 'support-bot' })),
    ).toBe(false);
    expect(
      await exists(() => core.readNamespacedSecret({ namespace: ns, name: 'support-bot-crm-api-key' })),
    ).toBe(false);
    expect(await exists(() => rbac.readNamespacedRole({ namespace: ns, name: 'nhi-support-bot' }))).toBe(
      false,
    );
    expect(
      await exists(() => core.readNamespacedServiceAccount({ namespace: ns, name: 'support-bot-legacy' })),
    ).toBe(true);
    expect(
      await exists(() => core.readNamespacedSecret({ namespace: ns, name: 'support-bot-unmanaged' })),
    ).toBe(true);

    const audit = readAuditFile(operator.auditLog);
    expect(verifyChain(audit)).toBeUndefined();
    // No secret value in the operator's logs, its audit trail or the Events it wrote.
    const eventNotes = (await kc.makeApiClient(k8s.EventsV1Api).listNamespacedEvent({ namespace: ns })).items
      .map((e) => e.note ?? '')
      .join('\n');
    for (const value of values) {
      expect(operator.logs()).not.toContain(value);
      expect(JSON.stringify(audit)).not.toContain(value);
      expect(eventNotes).not.toContain(value);
    }
    expect(audit.map((r) => r.action)).toEqual(
      expect.arrayContaining(['provisioned', 'rotated', 'quarantined', 'revoked']),
    );
  });

  it('restores the same identity when the workload comes back during quarantine', async () => {
    const ns = await createNamespace();
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('rag-agent', 'rag-agent') });
    await apply(
      agentIdentity(
        'rag-agent',
        onTestCluster(ns),
        withScopes(readConfigMaps),
        withSecret('token'),
        withSpec({ quarantinePeriod: '1h' }),
      ),
    );
    await until(ns, 'rag-agent', 'Ready');
    const uid = (await core.readNamespacedServiceAccount({ namespace: ns, name: 'rag-agent' })).metadata?.uid;

    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'rag-agent' });
    await until(ns, 'rag-agent', 'Quarantined');
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('rag-agent', 'rag-agent') });
    const restored = await timed('restore', () => until(ns, 'rag-agent', 'Ready'));
    expect(condition(restored, 'Quarantined')?.reason).toBe('Restored');
    expect(
      (await core.readNamespacedServiceAccount({ namespace: ns, name: 'rag-agent' })).metadata?.uid,
    ).toBe(uid);
    expect(await exists(() => rbac.readNamespacedRoleBinding({ namespace: ns, name: 'nhi-rag-agent' }))).toBe(
      true,
    );
  });

  it('finds an orphan whose delete it missed while stopped, and a stop revokes nothing', async () => {
    const ns = await createNamespace();
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('batch-agent', 'batch-agent') });
    await apply(agentIdentity('batch-agent', onTestCluster(ns), withSecret('key')));
    await until(ns, 'batch-agent', 'Ready');

    await operator.stop();
    expect(
      await exists(() => core.readNamespacedServiceAccount({ namespace: ns, name: 'batch-agent' })),
    ).toBe(true);
    expect(await exists(() => core.readNamespacedSecret({ namespace: ns, name: 'batch-agent-key' }))).toBe(
      true,
    );
    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'batch-agent' });

    operator = startOperatorProcess();
    await timed('sweep after restart→quarantine', () =>
      until(ns, 'batch-agent', 'Quarantined', 'True', 30_000),
    );
  });

  it('lets an idle identity with distant deadlines rest (no reconcile loop)', async () => {
    const ns = await createNamespace();
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('idle-bot', 'idle-bot') });
    await apply(
      agentIdentity('idle-bot', onTestCluster(ns), withSpec({ ttl: '2160h', inactivityTimeout: '720h' })),
    );
    await until(ns, 'idle-bot', 'Ready');
    const before = await reconcileCount(operator);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    // The resync period here is 2 s: a few reconciles per identity in the cluster (earlier suites
    // leave some behind), not hundreds.
    const identities = (
      (await kc
        .makeApiClient(k8s.CustomObjectsApi)
        .listClusterCustomObject({ group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' })) as {
        items: unknown[];
      }
    ).items.length;
    expect((await reconcileCount(operator)) - before).toBeLessThan(20 + 4 * identities);
    expect(operator.logs()).not.toContain('TimeoutOverflowWarning');
  });

  it('gives a clear condition and provisions nothing for a workloadRef of an unknown kind', async () => {
    const ns = await createNamespace();
    await apply(
      agentIdentity(
        'mystery',
        onTestCluster(ns),
        withSpec({ workloadRef: { apiVersion: 'example.com/v1', kind: 'Frobnicator', name: 'x' } }),
      ),
    );
    const held = await until(ns, 'mystery', 'WorkloadBound', 'False');
    expect(condition(held, 'WorkloadBound')?.message).toContain('Frobnicator');
    expect(condition(held, 'Ready')?.status).toBe('False');
    expect(await exists(() => core.readNamespacedServiceAccount({ namespace: ns, name: 'mystery' }))).toBe(
      false,
    );
  });

  it('offboards through nhictl: quarantine, delete, revocation by the finalizer', async () => {
    const ns = await createNamespace();
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('retired-bot', 'retired-bot') });
    await apply(
      agentIdentity('retired-bot', onTestCluster(ns), withScopes(readConfigMaps), withSecret('key')),
    );
    await until(ns, 'retired-bot', 'Ready');
    const { stdout } = await timed('offboard', () =>
      run(process.execPath, [join(repoRoot, 'bin', 'nhictl.js'), 'offboard', 'retired-bot', '-n', ns], {
        env: childProcessEnv(),
      }),
    );
    expect(stdout).toContain('offboarded');
    expect(await get(ns, 'retired-bot')).toBeUndefined();
    expect(
      await exists(() => core.readNamespacedServiceAccount({ namespace: ns, name: 'retired-bot' })),
    ).toBe(false);
  });
});
