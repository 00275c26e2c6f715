// Makes OpenBao's kubernetes auth method usable against the local apiserver: a ServiceAccount
// allowed to call TokenReview (system:auth-delegator), a bound token for it, and the auth mount's
// config pointing at the apiserver with its CA.

import * as k8s from '@kubernetes/client-node';

export interface BaoKubernetesAuthOptions {
  baoAddr: string;
  baoToken: string;
  kubeconfigPath: string;
  apiserverUrl: string;
  caPem: string;
  mount: string;
}

const REVIEWER = { namespace: 'kube-system', name: 'openbao-token-reviewer' };

async function bao(
  options: BaoKubernetesAuthOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<void> {
  const response = await fetch(`${options.baoAddr}/v1/${path}`, {
    method,
    headers: { 'x-vault-token': options.baoToken, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok && response.status !== 204) {
    const text = await response.text();
    // OpenBao answers 400 "path is already in use" when the mount exists: that is fine.
    if (!(response.status === 400 && text.includes('already in use'))) {
      throw new Error(`OpenBao ${method} ${path}: HTTP ${response.status}`);
    }
  }
}

export async function configureBaoKubernetesAuth(options: BaoKubernetesAuthOptions): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(options.kubeconfigPath);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);

  await ignoreConflict(() =>
    core.createNamespacedServiceAccount({
      namespace: REVIEWER.namespace,
      body: { metadata: { name: REVIEWER.name } },
    }),
  );
  await ignoreConflict(() =>
    rbac.createClusterRoleBinding({
      body: {
        metadata: { name: REVIEWER.name },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'system:auth-delegator',
        },
        subjects: [{ kind: 'ServiceAccount', name: REVIEWER.name, namespace: REVIEWER.namespace }],
      },
    }),
  );
  const tokenRequest = await core.createNamespacedServiceAccountToken({
    namespace: REVIEWER.namespace,
    name: REVIEWER.name,
    body: { spec: { audiences: [], expirationSeconds: 7 * 24 * 3600 } },
  });
  const reviewerJwt = tokenRequest.status?.token;
  if (!reviewerJwt) throw new Error('TokenRequest for the OpenBao token reviewer returned no token');

  await bao(options, 'POST', `sys/auth/${options.mount}`, { type: 'kubernetes' });
  await bao(options, 'POST', `auth/${options.mount}/config`, {
    kubernetes_host: options.apiserverUrl,
    kubernetes_ca_cert: options.caPem,
    token_reviewer_jwt: reviewerJwt,
    disable_local_ca_jwt: true,
  });
  // The requested role of a login stays plain in the audit log, so a refused login is attributed.
  await bao(options, 'POST', `sys/auth/${options.mount}/tune`, { audit_non_hmac_request_keys: ['role'] });
}

async function ignoreConflict(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (error) {
    if (error instanceof k8s.ApiException && error.code === 409) return;
    throw error;
  }
}
