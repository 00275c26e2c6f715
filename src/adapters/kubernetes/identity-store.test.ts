import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import type { Source } from '../../runtime/informer.ts';
import { RuntimeMetrics } from '../../runtime/metrics.ts';
import { agentIdentityStore } from './identity-store.ts';

const at = (resourceVersion: string, status?: object): AgentIdentity =>
  ({
    apiVersion: 'nhi.dev/v1alpha1',
    kind: 'AgentIdentity',
    metadata: { name: 'bot', namespace: 'agents', resourceVersion },
    spec: {},
    ...(status && { status }),
  }) as unknown as AgentIdentity;

function store() {
  let version = 10;
  const next = (body: { metadata?: object }) => ({
    ...body,
    metadata: { ...body.metadata, resourceVersion: String(++version) },
  });
  const custom = {
    replaceNamespacedCustomObjectStatus: async ({ body }: { body: { metadata?: object } }) => next(body),
    patchNamespacedCustomObject: async ({ body }: { body: { metadata?: object } }) =>
      next({ ...at('x'), ...body, metadata: { ...at('x').metadata, ...body.metadata } }),
  } as unknown as k8s.CustomObjectsApi;
  const cache = { get: () => undefined } as unknown as Source<k8s.KubernetesObject>;
  return agentIdentityStore({ cache, custom, metrics: new RuntimeMetrics() });
}

describe('the identity store and its own writes', () => {
  it('calls a cached version stale once this process wrote over it, and the written one fresh', async () => {
    const s = store();
    const read = at('5');
    expect(s.isStale?.(read)).toBe(false);
    const finalized = await s.addFinalizer(read, 'nhi.dev/revoke-credentials');
    const written = await s.writeStatus(finalized, { phase: 'Active' } as never);
    expect(s.isStale?.(read)).toBe(true);
    expect(s.isStale?.(finalized)).toBe(true);
    expect(written && s.isStale?.(written)).toBe(false);
  });

  it('an unchanged status is not a write: the version stays fresh', async () => {
    const s = store();
    const read = at('5', { phase: 'Active' });
    expect(await s.writeStatus(read, { phase: 'Active' } as never)).toBeUndefined();
    expect(s.isStale?.(read)).toBe(false);
  });
});
