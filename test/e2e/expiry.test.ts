// Expiry through the real operator process: a warning Event ahead of the ttl, then Expired and
// quarantine; and inactivity judged from a real signal (no pod runs as the identity) while an
// identity whose workload has pods stays alive.

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentIdentity } from '../../src/api/v1alpha1/types.ts';
import { installOperatorManifests } from '../../src/dev/install.ts';
import { agentIdentity, type Modifier, withSpec } from '../../src/testing/agent-identity.ts';
import { kubeConfig } from '../support/env.ts';
import { deployment, onTestCluster, withSecret } from '../support/fixtures.ts';
import { namespaceBody } from '../support/namespaces.ts';
import { type OperatorProcess, startOperatorProcess } from '../support/operator.ts';
import { eventually, uniqueName } from '../support/wait.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const events = kc.makeApiClient(k8s.EventsV1Api);
const ref = { group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' };
let operator: OperatorProcess;

async function setup(name: string, withWorkload: boolean, ...mods: Modifier[]) {
  const ns = uniqueName('expiry');
  await core.createNamespace({ body: namespaceBody(ns) });
  if (withWorkload) await apps.createNamespacedDeployment({ namespace: ns, body: deployment(name, name) });
  const body = agentIdentity(name, onTestCluster(ns), ...mods);
  if (!withWorkload) delete body.spec.workloadRef;
  await custom.createNamespacedCustomObject({ ...ref, namespace: ns, body });
  return ns;
}

async function conditionOf(ns: string, name: string, type: string) {
  const identity = (await custom.getNamespacedCustomObject({ ...ref, namespace: ns, name })) as AgentIdentity;
  return identity.status?.conditions?.find((c) => c.type === type);
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  operator = startOperatorProcess();
});

afterAll(async () => {
  await operator.stop();
});

describe('expiry', () => {
  it('warns ahead of the ttl, then expires and quarantines the identity', async () => {
    const ns = await setup(
      'short-lived',
      true,
      // The warning comes a tenth of the ttl ahead: 2 s, wide enough for a busy machine.
      withSpec({ ttl: '20s', credentialTTL: '1s' }),
      withSecret('key'),
    );
    const warning = await eventually(
      'an ExpiringSoon warning Event',
      async () => {
        const list = await events.listNamespacedEvent({ namespace: ns });
        return list.items.find((e) => e.reason === 'ExpiringSoon' && e.type === 'Warning');
      },
      { timeoutMs: 30_000 },
    );
    expect(warning.note).toContain('expires at');
    const expired = await eventually(
      'Expired=True',
      async () => {
        const c = await conditionOf(ns, 'short-lived', 'Expired');
        return c?.status === 'True' ? c : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(expired.reason).toBe('TTLElapsed');
    expect((await conditionOf(ns, 'short-lived', 'Quarantined'))?.status).toBe('True');
  });

  it('expires an identity that nothing uses, and keeps one whose workload runs', async () => {
    const busy = await setup('busy-agent', true, withSpec({ inactivityTimeout: '5s' }), withSecret('key'));
    // The busy workload's pods wait for the ServiceAccount the operator makes (the ReplicaSet retries
    // with backoff): count from when the operator first saw them in use.
    await eventually(
      'the busy identity seen in use',
      async () =>
        (
          (await custom.getNamespacedCustomObject({
            ...ref,
            namespace: busy,
            name: 'busy-agent',
          })) as AgentIdentity
        ).status?.lastUsed,
      { timeoutMs: 60_000 },
    );
    const idle = await setup('idle-agent', false, withSpec({ inactivityTimeout: '5s' }), withSecret('key'));
    const expired = await eventually(
      'the idle identity to expire',
      async () => {
        const c = await conditionOf(idle, 'idle-agent', 'Expired');
        return c?.status === 'True' ? c : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(expired.reason).toBe('Inactive');
    expect((await conditionOf(busy, 'busy-agent', 'Expired'))?.status).toBe('False');
    expect((await conditionOf(busy, 'busy-agent', 'Ready'))?.status).toBe('True');
  });
});
