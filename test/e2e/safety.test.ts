// Safety properties of the operator process: --dry-run computes a plan and changes nothing; an
// identity that slipped past admission (policy binding removed) is refused by the operator's own
// policy check and gets nothing provisioned; every transition is visible as an Event.

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMISSION_BINDING_NAME } from '../../src/api/v1alpha1/admission-policy.ts';
import type { AgentIdentity, Environment } from '../../src/api/v1alpha1/types.ts';
import { applyObjects, installOperatorManifests, readManifests } from '../../src/dev/install.ts';
import { agentIdentity, withScopes, withSpec } from '../../src/testing/agent-identity.ts';
import { kubeConfig } from '../support/env.ts';
import { deployment, onTestCluster, readConfigMaps, withSecret } from '../support/fixtures.ts';
import { namespaceBody } from '../support/namespaces.ts';
import { type OperatorProcess, startOperatorProcess } from '../support/operator.ts';
import { eventually, uniqueName } from '../support/wait.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
const events = kc.makeApiClient(k8s.EventsV1Api);
const ref = { group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' };

async function namespace(environment: Environment = 'development'): Promise<string> {
  const name = uniqueName('safety');
  await core.createNamespace({ body: namespaceBody(name, environment) });
  return name;
}

async function get(ns: string, name: string): Promise<AgentIdentity> {
  return (await custom.getNamespacedCustomObject({ ...ref, namespace: ns, name })) as AgentIdentity;
}

async function serviceAccountExists(ns: string, name: string): Promise<boolean> {
  try {
    await core.readNamespacedServiceAccount({ namespace: ns, name });
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  await installOperatorManifests(kc);
});

describe('operator safety', () => {
  describe('in --dry-run mode', () => {
    let operator: OperatorProcess;
    beforeAll(() => {
      operator = startOperatorProcess(['--dry-run']);
    });
    afterAll(async () => {
      await operator.stop();
    });

    it('writes the plan to status and creates nothing', async () => {
      const ns = await namespace();
      await apps.createNamespacedDeployment({ namespace: ns, body: deployment('planner', 'planner') });
      await custom.createNamespacedCustomObject({
        ...ref,
        namespace: ns,
        body: agentIdentity('planner', onTestCluster(ns), withScopes(readConfigMaps), withSecret('key')),
      });
      const planned = await eventually('a plan in status', async () => {
        const identity = await get(ns, 'planner');
        return identity.status?.plan?.length ? identity : undefined;
      });
      const actions = planned.status?.plan?.map((p) => `${p.action} ${p.resource}`).join('\n') ?? '';
      expect(actions).toMatch(/ServiceAccount/);
      expect(actions).toMatch(/RoleBinding/);
      expect(await serviceAccountExists(ns, 'planner')).toBe(false);
      expect(planned.metadata.finalizers ?? []).toEqual([]);
    });
  });

  describe('when admission was bypassed', () => {
    let operator: OperatorProcess;
    const binding = readManifests('config/admission').find(
      (o) => o.kind === 'ValidatingAdmissionPolicyBinding' && o.metadata?.name === ADMISSION_BINDING_NAME,
    );

    beforeAll(async () => {
      operator = startOperatorProcess();
      await admission.deleteValidatingAdmissionPolicyBinding({ name: binding?.metadata?.name ?? '' });
    });
    afterAll(async () => {
      if (binding) await applyObjects(kc, [binding]);
      await operator.stop();
    });

    it('refuses an identity that breaks the IdentityPolicy, names the field, and provisions nothing', async () => {
      const ns = await namespace('production');
      await apps.createNamespacedDeployment({ namespace: ns, body: deployment('too-long', 'too-long') });
      const bypassed = await eventually('the identity to be admitted without the binding', async () => {
        try {
          return await custom.createNamespacedCustomObject({
            ...ref,
            namespace: ns,
            body: agentIdentity(
              'too-long',
              onTestCluster(ns),
              withSpec({ environment: 'production', ttl: '8000h' }),
              withSecret('key'),
            ),
          });
        } catch {
          return undefined;
        }
      });
      expect(bypassed).toBeTruthy();
      const denied = await eventually('PolicyCompliant=False', async () => {
        const identity = await get(ns, 'too-long');
        const c = identity.status?.conditions?.find((x) => x.type === 'PolicyCompliant');
        return c?.status === 'False' ? identity : undefined;
      });
      const compliant = denied.status?.conditions?.find((x) => x.type === 'PolicyCompliant');
      expect(compliant?.message).toContain('spec.ttl');
      expect(denied.status?.conditions?.find((x) => x.type === 'Ready')?.status).toBe('False');
      expect(await serviceAccountExists(ns, 'too-long')).toBe(false);

      // Two Warnings come (the violation, and Provisioned=False saying nothing is provisioned), in
      // no set order: the one about the policy names the field.
      const recorded = await eventually('a Warning Event on the identity naming the field', async () => {
        const list = await events.listNamespacedEvent({ namespace: ns });
        return list.items.find(
          (e) => e.regarding?.name === 'too-long' && e.type === 'Warning' && e.note?.includes('spec.ttl'),
        );
      });
      expect(recorded.reason).toBeTruthy();
    });
  });
});
