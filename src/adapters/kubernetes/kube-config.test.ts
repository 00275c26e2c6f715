import * as k8s from '@kubernetes/client-node';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { BoundedKubeConfig } from './kube-config.ts';

function config(timeoutMs: number, caData?: string): BoundedKubeConfig {
  const kc = new BoundedKubeConfig(timeoutMs);
  kc.loadFromOptions({
    clusters: [
      { name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: false, ...(caData ? { caData } : {}) },
    ],
    users: [{ name: 'u', token: 'not-a-real-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

describe('BoundedKubeConfig', () => {
  it('gives every API request a signal that aborts after the timeout', async () => {
    const context = new k8s.RequestContext('https://127.0.0.1:1/api/v1/namespaces', k8s.HttpMethod.GET);
    await config(20).applySecurityAuthentication(context);
    const signal = context.getSignal();
    expect(signal?.aborted).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(DOMException);
  });

  it("leaves a request's own signal (a watch's inactivity timeout) alone", async () => {
    const context = new k8s.RequestContext('https://127.0.0.1:1/api/v1/pods?watch=1', k8s.HttpMethod.GET);
    const own = new AbortController().signal;
    context.setSignal(own);
    await config(20).applySecurityAuthentication(context);
    expect(context.getSignal()).toBe(own);
  });

  it('sends every request through one connection pool (keep-alive), not a new TLS connection each', async () => {
    const kc = config(1000, Buffer.from('a CA the test never connects with').toString('base64'));
    const contexts = [0, 1, 2].map(
      () => new k8s.RequestContext('https://127.0.0.1:1/api/v1/namespaces', k8s.HttpMethod.GET),
    );
    for (const context of contexts) await kc.applySecurityAuthentication(context);
    const dispatchers = new Set(contexts.map((c) => c.getDispatcher()));
    expect(dispatchers.size).toBe(1);
    expect([...dispatchers][0]).toBeDefined();
  });

  it('speaks HTTP/1.1 to the apiserver, so a silently dead connection holds one request, not all of them', async () => {
    const kc = config(1000, Buffer.from('a CA the test never connects with').toString('base64'));
    const context = new k8s.RequestContext('https://127.0.0.1:1/api/v1/namespaces', k8s.HttpMethod.GET);
    await kc.applySecurityAuthentication(context);
    const dispatcher = context.getDispatcher();
    expect(dispatcher).toBeInstanceOf(Agent);
    // undici keeps its options under symbols; the one that enables HTTP/2 is read by description.
    const options = Object.getOwnPropertySymbols(dispatcher)
      .filter((s) => s.description === 'options')
      .map((s) => (dispatcher as unknown as Record<symbol, { allowH2?: boolean }>)[s]);
    expect(options).toContainEqual(expect.objectContaining({ allowH2: false }));
  });
});
