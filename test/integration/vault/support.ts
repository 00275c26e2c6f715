// Shared pieces of the Vault/OpenBao provider's integration tests: raw OpenBao calls (as an admin
// or as a workload), ServiceAccount tokens from TokenRequest, and an operator identity that logs in
// through kubernetes auth with exactly the minimal policy the README documents.

import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { Environment, VaultPathGrant, VaultProviderSpec } from '../../../src/api/v1alpha1/types.ts';
import type { IdentityRef } from '../../../src/providers/types.ts';
import { operatorPolicy } from '../../../src/providers/vault/operator-policy.ts';
import {
  agentIdentity,
  inEnvironment,
  inNamespace,
  withCredentialTTL,
  withServiceAccount,
  withUid,
  withVaultPaths,
} from '../../../src/testing/agent-identity.ts';
import { kubeConfig } from '../../support/env.ts';
import { namespaceBody } from '../../support/namespaces.ts';

export const KV_MOUNT = 'secret';
export const AUDIENCE = 'nhi-vault-test';

export function core(): k8s.CoreV1Api {
  return kubeConfig().makeApiClient(k8s.CoreV1Api);
}

import { type BaoAnswer, baoCall as bao } from '../../support/bao.ts';

export { type BaoAnswer, bao };

export async function createNamespace(name: string, serviceAccounts: string[]): Promise<void> {
  const api = core();
  await api.createNamespace({ body: namespaceBody(name) });
  for (const sa of serviceAccounts) {
    await api.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: sa } } });
  }
}

export async function deleteNamespace(name: string): Promise<void> {
  await core()
    .deleteNamespace({ name })
    .catch(() => {});
}

/** A bound ServiceAccount token, as a pod's projected volume would hold it ('' : the apiserver's audience). */
export async function serviceAccountToken(
  namespace: string,
  name: string,
  audience = AUDIENCE,
): Promise<string> {
  const request = await core().createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: audience ? [audience] : [], expirationSeconds: 3600 } },
  });
  const token = request.status?.token;
  if (!token) throw new Error('TokenRequest returned no token');
  return token;
}

/** Log in as a workload; the OpenBao token on success. */
export async function workloadLogin(
  addr: string,
  mount: string,
  role: string,
  jwt: string,
): Promise<BaoAnswer & { token?: string }> {
  const answer = await bao(addr, '', 'POST', `auth/${mount}/login`, { role, jwt });
  const token = answer.json.auth?.client_token as string | undefined;
  return token ? { ...answer, token } : answer;
}

/** An identity in `namespace` with a fresh uid, bound to the ServiceAccount named like it. */
export function identityRef(
  namespace: string,
  name: string,
  paths: VaultPathGrant[] = [],
  environment: Environment = 'development',
): IdentityRef {
  const identity = agentIdentity(
    name,
    inNamespace(namespace),
    withUid(randomUUID()),
    inEnvironment(environment),
    withServiceAccount(name),
    withCredentialTTL('5m'),
    ...(paths.length > 0 ? [withVaultPaths(...paths)] : []),
  );
  return { identity, subject: { namespace, serviceAccountName: name } };
}

export interface OperatorLogin {
  spec: VaultProviderSpec;
  tokenPath: string;
  cleanup: () => Promise<void>;
}

/**
 * An operator ServiceAccount in its own namespace, a policy with exactly `operatorPolicy()`, a login
 * role bound to that ServiceAccount, and its token in a file: the provider then authenticates the
 * way it does in production.
 */
export async function operatorLogin(
  addr: string,
  rootToken: string,
  authMount: string,
  database?: NonNullable<VaultProviderSpec['database']>,
  policyOptions: { databaseTargets?: boolean; databaseActivityRole?: string } = {},
): Promise<OperatorLogin> {
  const namespace = `nhi-system-${randomUUID().slice(0, 6)}`;
  const name = `nhi_operator_${namespace.slice(-6)}`;
  await createNamespace(namespace, ['nhi-operator']);
  const policy = operatorPolicy({
    kvMount: KV_MOUNT,
    kubernetesAuthMount: authMount,
    ...(database ? { databaseMount: database.mount ?? 'database' } : {}),
    ...policyOptions,
  });
  const written = await bao(addr, rootToken, 'PUT', `sys/policies/acl/${name}`, { policy });
  if (written.status !== 204) throw new Error(`operator policy: HTTP ${written.status}`);
  const role = await bao(addr, rootToken, 'POST', `auth/${authMount}/role/${name}`, {
    bound_service_account_names: ['nhi-operator'],
    bound_service_account_namespaces: [namespace],
    token_policies: [name],
    token_ttl: '10m',
  });
  if (role.status !== 204) throw new Error(`operator role: HTTP ${role.status}`);
  const dir = mkdtempSync(join(tmpdir(), 'nhi-vault-operator-'));
  const tokenPath = join(dir, 'token');
  writeFileSync(tokenPath, await serviceAccountToken(namespace, 'nhi-operator', ''), {
    mode: 0o600,
  });
  return {
    tokenPath,
    spec: {
      address: addr,
      kubernetesAuthMount: authMount,
      kvMount: KV_MOUNT,
      audience: AUDIENCE,
      tokenMaxTTL: '30m',
      ...(database ? { database } : {}),
      auth: { kubernetes: { role: name, mount: authMount, tokenPath } },
    },
    cleanup: async () => {
      await bao(addr, rootToken, 'DELETE', `auth/${authMount}/role/${name}`);
      await bao(addr, rootToken, 'DELETE', `sys/policies/acl/${name}`);
      await deleteNamespace(namespace);
    },
  };
}
