// ServiceAccount tokens are real bound tokens, and OpenBao's kubernetes auth verifies them against
// this apiserver: a login works while the ServiceAccount exists and fails once it is deleted.

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baoCall } from '../../support/bao.ts';
import { kubeConfig, testEnv } from '../../support/env.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { eventually, uniqueName } from '../../support/wait.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const namespace = uniqueName('tokens');
const env = testEnv();

interface TokenClaims {
  sub: string;
  iss: string;
  'kubernetes.io': { serviceaccount: { uid: string } };
}

function bao(method: string, path: string, body?: unknown, token = env.bao.token) {
  return baoCall(env.bao.addr, token, method, path, body);
}

async function boundToken(name: string): Promise<string> {
  const request = await core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const token = request.status?.token;
  if (!token) throw new Error('TokenRequest returned no token');
  return token;
}

beforeAll(async () => {
  await core.createNamespace({ body: namespaceBody(namespace) });
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'agent' } } });
  const role = await bao('POST', `auth/kubernetes/role/${namespace}-agent`, {
    bound_service_account_names: ['agent'],
    bound_service_account_namespaces: [namespace],
    token_policies: ['default'],
    token_ttl: '5m',
  });
  expect(role.status).toBe(204);
});

afterAll(async () => {
  await bao('DELETE', `auth/kubernetes/role/${namespace}-agent`);
  await core.deleteNamespace({ name: namespace });
});

describe('ServiceAccount tokens and OpenBao kubernetes auth', () => {
  it('issues a bound token whose claims name the ServiceAccount', async () => {
    const jwt = await boundToken('agent');
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as TokenClaims;
    expect(claims.sub).toBe(`system:serviceaccount:${namespace}:agent`);
    expect(claims.iss).toBe(env.serviceAccountIssuer);
    expect(claims['kubernetes.io'].serviceaccount.uid).toBeTruthy();
  });

  it('logs in to OpenBao with the token, and is refused once the ServiceAccount is deleted', async () => {
    const jwt = await boundToken('agent');
    const login = await bao('POST', 'auth/kubernetes/login', { role: `${namespace}-agent`, jwt }, '');
    expect(login.status).toBe(200);
    expect(login.json.auth?.metadata?.service_account_name).toBe('agent');

    await core.deleteNamespacedServiceAccount({ namespace, name: 'agent' });
    await eventually('OpenBao to refuse the deleted ServiceAccount', async () => {
      const again = await bao('POST', 'auth/kubernetes/login', { role: `${namespace}-agent`, jwt }, '');
      return again.status === 403 ? again : undefined;
    });
  });
});
