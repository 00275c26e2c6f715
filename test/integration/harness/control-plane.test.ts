// The local control plane is a real one: CRDs are served and validated (OpenAPI schema and CEL),
// controllers reconcile Deployments, and the garbage collector follows ownerReferences.

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeConfig } from '../../support/env.ts';
import { NEVER_SCHEDULED } from '../../support/fixtures.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { eventually, uniqueName } from '../../support/wait.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const namespace = uniqueName('harness');

const widgetCrd: k8s.V1CustomResourceDefinition = {
  metadata: { name: 'widgets.harness.nhi.dev' },
  spec: {
    group: 'harness.nhi.dev',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                required: ['size'],
                properties: { size: { type: 'integer', minimum: 1 }, max: { type: 'integer' } },
                x_kubernetes_validations: [
                  { rule: 'self.size <= self.max', message: 'size must not exceed max' },
                ],
              },
            },
          },
        },
      },
    ],
  },
};

function widget(name: string, spec: Record<string, unknown>) {
  return { apiVersion: 'harness.nhi.dev/v1', kind: 'Widget', metadata: { name }, spec };
}

async function rejection(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
  } catch (error) {
    if (error instanceof k8s.ApiException) return `${error.code} ${String(error.body)}`;
    throw error;
  }
  throw new Error('expected the apiserver to reject the request');
}

beforeAll(async () => {
  await core.createNamespace({ body: namespaceBody(namespace) });
  await ext.createCustomResourceDefinition({ body: widgetCrd });
});

afterAll(async () => {
  await ext.deleteCustomResourceDefinition({ name: 'widgets.harness.nhi.dev' });
  await core.deleteNamespace({ name: namespace });
});

describe('the local control plane', () => {
  it('serves an applied CRD', async () => {
    const created = await eventually('the Widget CRD to be served', async () => {
      try {
        return await custom.createNamespacedCustomObject({
          group: 'harness.nhi.dev',
          version: 'v1',
          namespace,
          plural: 'widgets',
          body: widget('ok', { size: 1, max: 3 }),
        });
      } catch (error) {
        if (error instanceof k8s.ApiException && error.code === 404) return undefined;
        throw error;
      }
    });
    expect(created.metadata.uid).toBeTruthy();
  });

  it('rejects an object that violates the OpenAPI schema', async () => {
    const message = await rejection(() =>
      custom.createNamespacedCustomObject({
        group: 'harness.nhi.dev',
        version: 'v1',
        namespace,
        plural: 'widgets',
        body: widget('bad-schema', { size: 0, max: 3 }),
      }),
    );
    expect(message).toContain('422');
    expect(message).toContain('spec.size');
  });

  it('rejects an object that violates a CEL rule', async () => {
    const message = await rejection(() =>
      custom.createNamespacedCustomObject({
        group: 'harness.nhi.dev',
        version: 'v1',
        namespace,
        plural: 'widgets',
        body: widget('bad-cel', { size: 5, max: 3 }),
      }),
    );
    expect(message).toContain('size must not exceed max');
  });

  it('runs Deployments into ReplicaSets and Pods, and garbage-collects them through ownerReferences', async () => {
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: {
              nodeSelector: NEVER_SCHEDULED,
              containers: [{ name: 'web', image: 'registry.invalid/web:1' }],
            },
          },
        },
      },
    });
    const pods = await eventually('two pods', async () => {
      const list = await core.listNamespacedPod({ namespace, labelSelector: 'app=web' });
      return list.items.length === 2 ? list.items : undefined;
    });
    expect(pods[0]?.metadata?.ownerReferences?.[0]?.kind).toBe('ReplicaSet');

    await apps.deleteNamespacedDeployment({ name: 'web', namespace, propagationPolicy: 'Background' });
    await eventually('pods and replicasets to be garbage-collected', async () => {
      const [rs, remaining] = await Promise.all([
        apps.listNamespacedReplicaSet({ namespace }),
        core.listNamespacedPod({ namespace, labelSelector: 'app=web' }),
      ]);
      return rs.items.length === 0 && remaining.items.length === 0;
    });
  });
});
