// Two real nhi-operator processes with leader election: exactly one reconciles; SIGKILL the leader
// and the standby takes over within lease duration + retry period and carries on the work. A leader
// that loses its lease exits non-zero at once, so Kubernetes restarts it and it campaigns again.

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentIdentity } from '../../src/api/v1alpha1/types.ts';
import { installOperatorManifests } from '../../src/dev/install.ts';
import { agentIdentity } from '../../src/testing/agent-identity.ts';
import { kubeConfig } from '../support/env.ts';
import { deployment, onTestCluster, withSecret } from '../support/fixtures.ts';
import { namespaceBody } from '../support/namespaces.ts';
import { type OperatorProcess, startOperatorProcess } from '../support/operator.ts';
import { eventually, uniqueName } from '../support/wait.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
const ref = { group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' };
const LEASE = { namespace: 'kube-system', name: uniqueName('nhi-operator-e2e') };
const LEASE_MS = 4000;
const RETRY_MS = 500;
const operators: OperatorProcess[] = [];

function start(name: string, lease = LEASE): OperatorProcess {
  return startOperatorProcess(
    [
      '--leader-elect=true',
      `--lease-name=${lease.name}`,
      '--lease-duration=4s',
      '--renew-deadline=3s',
      '--retry-period=500ms',
    ],
    { POD_NAMESPACE: lease.namespace, POD_NAME: name },
  );
}

async function reconcileCount(operator: OperatorProcess): Promise<number> {
  const port = /"port":(\d+)/.exec(operator.logs())?.[1];
  if (!port) return -1;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('controller_runtime_reconcile_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

async function holder(of = LEASE): Promise<string | undefined> {
  const lease = await coordination.readNamespacedLease(of).catch(() => undefined);
  return lease?.spec?.holderIdentity ?? undefined;
}

async function ready(ns: string, name: string): Promise<boolean> {
  const identity = (await custom.getNamespacedCustomObject({ ...ref, namespace: ns, name })) as AgentIdentity;
  return identity.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

beforeAll(async () => {
  await installOperatorManifests(kc);
});

afterAll(async () => {
  await Promise.all(operators.map((o) => o.stop()));
});

describe('leader election between two operator processes', () => {
  it('lets exactly one reconcile, and fails over after SIGKILL', async () => {
    operators.push(start('operator-a'), start('operator-b'));
    const first = await eventually('a leader', holder, { timeoutMs: 15_000 });
    const [leader, standby] = first.startsWith('operator-a') ? operators : [operators[1], operators[0]];

    const ns = uniqueName('leader');
    await core.createNamespace({ body: namespaceBody(ns) });
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('agent-one', 'agent-one') });
    await custom.createNamespacedCustomObject({
      ...ref,
      namespace: ns,
      body: agentIdentity('agent-one', onTestCluster(ns), withSecret('key')),
    });
    await eventually('agent-one ready', () => ready(ns, 'agent-one'), { timeoutMs: 20_000 });
    expect(await reconcileCount(leader!)).toBeGreaterThan(0);
    expect(await reconcileCount(standby!)).toBe(0);

    const killedAt = Date.now();
    leader!.child.kill('SIGKILL');
    const next = await eventually(
      'the standby to take the lease',
      async () => {
        const h = await holder();
        return h && h !== first ? h : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 50 },
    );
    const takeoverMs = Date.now() - killedAt;
    console.log(
      `[e2e leader] takeover ${takeoverMs} ms after SIGKILL (lease ${LEASE_MS} ms + retry ${RETRY_MS} ms)`,
    );
    expect(next).not.toBe(first);
    expect(takeoverMs).toBeLessThan(LEASE_MS + RETRY_MS + 2000);

    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('agent-two', 'agent-two') });
    await custom.createNamespacedCustomObject({
      ...ref,
      namespace: ns,
      body: agentIdentity('agent-two', onTestCluster(ns), withSecret('key')),
    });
    await eventually('agent-two ready under the new leader', () => ready(ns, 'agent-two'), {
      timeoutMs: 20_000,
    });
    expect(await reconcileCount(standby!)).toBeGreaterThan(0);
  });

  it('exits non-zero as soon as another holder takes its lease', async () => {
    const lease = { namespace: LEASE.namespace, name: uniqueName('nhi-operator-lost') };
    const victim = start('victim', lease);
    operators.push(victim);
    await eventually('the victim to lead', async () => (await holder(lease))?.startsWith('victim'), {
      timeoutMs: 15_000,
    });

    const current = await coordination.readNamespacedLease(lease);
    await coordination.replaceNamespacedLease({
      ...lease,
      body: {
        ...current,
        spec: {
          ...current.spec,
          holderIdentity: 'thief',
          leaseDurationSeconds: 60,
          renewTime: new k8s.V1MicroTime(Date.now()),
        },
      },
    });

    // The victim sees the other holder at its next renewal (one retry period) and exits at once.
    const code = await eventually('the victim to exit', async () => victim.child.exitCode ?? undefined, {
      timeoutMs: RETRY_MS + 5_000,
      intervalMs: 50,
    });
    expect(code).toBe(1);
    expect(victim.logs()).toContain('lost the lease: stopping at once');
  });
});
