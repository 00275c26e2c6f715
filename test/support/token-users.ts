// Real users for tests that check what a requester may do: a ServiceAccount whose token (from the
// TokenRequest API) authenticates as `system:serviceaccount:<namespace>:<name>`, holding exactly the
// rights bound to it. As a KubeConfig for client-node, and as a kubeconfig file for nhictl.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';

export interface TokenUser {
  /** The name the apiserver authenticates the token as. */
  username: string;
  kc: k8s.KubeConfig;
  /** A kubeconfig file for child processes (KUBECONFIG). */
  kubeconfigPath: string;
}

/** Creates the ServiceAccount `namespace/name` and returns it as a user with a one-hour token. */
export async function tokenUser(admin: k8s.KubeConfig, namespace: string, name: string): Promise<TokenUser> {
  const core = admin.makeApiClient(k8s.CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  const request = await core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = admin.getCurrentCluster();
  if (!cluster || !request.status?.token) throw new Error('no cluster or token');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name, token: request.status.token }],
    contexts: [{ name, cluster: cluster.name, user: name, namespace }],
    currentContext: name,
  });
  const dir = mkdtempSync(join(tmpdir(), 'nhi-token-user-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kc.exportConfig(), { mode: 0o600 });
  return { username: `system:serviceaccount:${namespace}:${name}`, kc, kubeconfigPath };
}

/** Binds a ClusterRole to the user inside one namespace (a RoleBinding). */
export async function bindInNamespace(
  admin: k8s.KubeConfig,
  namespace: string,
  clusterRole: string,
  user: { namespace: string; name: string },
): Promise<void> {
  await admin.makeApiClient(k8s.RbacAuthorizationV1Api).createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: `${clusterRole}-${user.name}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
      subjects: [{ kind: 'ServiceAccount', name: user.name, namespace: user.namespace }],
    },
  });
}
