import type { CustomObjectsApi, KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ConflictError } from './errors.ts';
import {
  addFinalizer,
  customObjectMergePatcher,
  hasFinalizer,
  type MergePatcher,
  mergePatchOptions,
  removeFinalizer,
} from './finalizers.ts';

const F = 'nhi.dev/cleanup';
const obj = (finalizers?: string[]): KubernetesObject => ({
  metadata: { name: 'bot', namespace: 'team', resourceVersion: '42', ...(finalizers && { finalizers }) },
});

function recordingPatcher(fail?: unknown) {
  const patches: object[] = [];
  const patch: MergePatcher = async (o, body) => {
    patches.push(body);
    if (fail) throw fail;
    return { ...o, metadata: { ...o.metadata, ...(body as { metadata: object }).metadata } };
  };
  return { patches, patch };
}

describe('finalizers', () => {
  it('adds a finalizer with a merge patch that carries the resourceVersion read', async () => {
    const { patches, patch } = recordingPatcher();
    const updated = await addFinalizer(patch, obj(['other.io/x']), F);
    expect(patches).toEqual([{ metadata: { finalizers: ['other.io/x', F], resourceVersion: '42' } }]);
    expect(hasFinalizer(updated, F)).toBe(true);
  });

  it('does not patch when the finalizer is already there, or already gone', async () => {
    const { patches, patch } = recordingPatcher();
    await addFinalizer(patch, obj([F]), F);
    await removeFinalizer(patch, obj([]), F);
    expect(patches).toEqual([]);
  });

  it('removes only its own finalizer', async () => {
    const { patches, patch } = recordingPatcher();
    await removeFinalizer(patch, obj(['a.io/x', F, 'b.io/y']), F);
    expect(patches).toEqual([{ metadata: { finalizers: ['a.io/x', 'b.io/y'], resourceVersion: '42' } }]);
  });

  it('treats an object that is already gone as done', async () => {
    const { patch } = recordingPatcher(Object.assign(new Error('Not Found'), { code: 404 }));
    expect(await removeFinalizer(patch, obj([F]), F)).toBeUndefined();
  });

  it('sends application/merge-patch+json, maps 409 to ConflictError, and picks the cluster or namespaced call', async () => {
    const calls: Array<{ method: string; param: Record<string, unknown>; options: unknown }> = [];
    const api = {
      patchNamespacedCustomObject: async (param: Record<string, unknown>, options: unknown) => {
        calls.push({ method: 'namespaced', param, options });
        throw Object.assign(new Error('Conflict'), { code: 409 });
      },
      patchClusterCustomObject: async (param: Record<string, unknown>, options: unknown) => {
        calls.push({ method: 'cluster', param, options });
        return {};
      },
    } as unknown as CustomObjectsApi;
    const patch = customObjectMergePatcher(api, {
      group: 'nhi.dev',
      version: 'v1alpha1',
      plural: 'agentidentities',
    });
    await expect(patch(obj(), {})).rejects.toBeInstanceOf(ConflictError);
    await patch({ metadata: { name: 'global' } }, {});
    expect(calls.map((c) => c.method)).toEqual(['namespaced', 'cluster']);
    expect(calls[0]!.param).toMatchObject({ group: 'nhi.dev', namespace: 'team', name: 'bot' });
    const headers = await contentTypeOf(calls[0]!.options);
    expect(headers).toBe('application/merge-patch+json');
    expect(await contentTypeOf(mergePatchOptions())).toBe('application/merge-patch+json');
  });
});

/** Runs the middleware of a ConfigurationOptions over a request and reads its Content-Type. */
async function contentTypeOf(options: unknown): Promise<string | undefined> {
  const { RequestContext, HttpMethod } = await import('@kubernetes/client-node');
  const request = new RequestContext('https://example.invalid/x', HttpMethod.PATCH);
  request.setHeaderParam('Content-Type', 'application/json-patch+json');
  const { middleware } = options as {
    middleware: Array<{ pre(r: unknown): { toPromise(): Promise<unknown> } }>;
  };
  for (const m of middleware) await m.pre(request).toPromise();
  return request.getHeaders()['Content-Type'];
}
