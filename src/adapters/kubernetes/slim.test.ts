import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { isCachedObject } from '../../providers/kubernetes/cached-port.ts';
import {
  podSlim,
  secretWithoutValues,
  tokenSecretMetadata,
  withoutManagedFields,
  workloadSlim,
} from './slim.ts';

const managedFields = [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': {} } }];
const lastApplied = { 'kubectl.kubernetes.io/last-applied-configuration': '{"huge":"copy"}', keep: 'me' };

describe('what the informer caches keep', () => {
  it('keeps a Secret without any value: only which keys hold one, marked as a view that is never written', () => {
    const secret: k8s.V1Secret = {
      metadata: { name: 's', namespace: 'a', managedFields, labels: { 'nhi.dev/identity-uid': 'u' } },
      type: 'Opaque',
      data: { current: Buffer.from('s3cr3t-value').toString('base64'), empty: '' },
    };
    const slim = secretWithoutValues(secret);
    expect(JSON.stringify(slim)).not.toContain(Buffer.from('s3cr3t-value').toString('base64'));
    expect(Object.keys(slim.data ?? {})).toEqual(['current', 'empty']);
    expect(Boolean(slim.data?.current)).toBe(true);
    expect(Boolean(slim.data?.empty)).toBe(false);
    expect(slim.metadata?.managedFields).toBeUndefined();
    expect(isCachedObject(slim)).toBe(true);
    expect(isCachedObject({ ...slim, metadata: { ...slim.metadata } })).toBe(true);
    expect(tokenSecretMetadata(secret).data).toBeUndefined();
  });

  it('keeps owned objects whole but for managedFields, filling in kind and apiVersion', () => {
    const sa = withoutManagedFields<k8s.V1ServiceAccount>(
      'ServiceAccount',
      'v1',
    )({
      metadata: { name: 'bot', managedFields, annotations: lastApplied },
      automountServiceAccountToken: false,
    });
    expect(sa).toEqual({
      kind: 'ServiceAccount',
      apiVersion: 'v1',
      metadata: { name: 'bot', annotations: lastApplied },
      automountServiceAccountToken: false,
    });
  });

  it('keeps of a workload its metadata and pod template, and of a Pod what bound pods and last use read', () => {
    const deployment = workloadSlim('Deployment')({
      metadata: { name: 'web', managedFields, annotations: lastApplied },
      spec: { replicas: 3, template: { spec: { serviceAccountName: 'bot' } } },
      status: { replicas: 3 },
    } as k8s.KubernetesObject);
    expect(deployment).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', annotations: { keep: 'me' } },
      spec: { template: { spec: { serviceAccountName: 'bot' } } },
    });
    const pod = podSlim({
      metadata: { name: 'p', namespace: 'a', managedFields, labels: { app: 'x' } },
      spec: {
        serviceAccountName: 'bot',
        containers: [{ name: 'c', image: 'busybox', env: [{ name: 'K', value: 'v' }] }],
      },
      status: {
        phase: 'Succeeded',
        startTime: new Date('2025-01-01T00:00:00Z'),
        containerStatuses: [
          {
            name: 'c',
            image: 'busybox',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode: 0, finishedAt: new Date('2025-01-01T01:00:00Z') } },
          },
        ],
      },
    });
    expect(pod.metadata).toEqual({ name: 'p', namespace: 'a' });
    expect(pod.spec).toEqual({ serviceAccountName: 'bot', containers: [] });
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.finishedAt).toEqual(
      new Date('2025-01-01T01:00:00Z'),
    );
  });
});
