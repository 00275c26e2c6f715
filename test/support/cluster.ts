// What e2e tests do against the cluster again and again: AgentIdentities and their conditions,
// namespaces, existence checks, OpenBao calls, and the ClusterCredentialProviders for the test
// environment's OpenBao and moto.

import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type {
  AgentIdentity,
  AllowedNamespaces,
  AwsProviderSpec,
  Condition,
  VaultProviderSpec,
} from '../../src/api/v1alpha1/types.ts';
import { applyObjects } from '../../src/dev/install.ts';
import { type BaoAnswer, baoCall } from './bao.ts';
import { kubeConfig, testEnv } from './env.ts';
import { namespaceBody } from './namespaces.ts';
import { eventually, uniqueName } from './wait.ts';

const group = 'nhi.dev';
const version = 'v1alpha1';
export const AGENT_IDENTITIES = { group, version, plural: 'agentidentities' };
const CREDENTIAL_PROVIDERS = { group, version, plural: 'clustercredentialproviders' };

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);

export function conditionOf(identity: AgentIdentity | undefined, type: string): Condition | undefined {
  return identity?.status?.conditions?.find((c) => c.type === type);
}

export async function createIdentity(identity: AgentIdentity): Promise<void> {
  await custom.createNamespacedCustomObject({
    ...AGENT_IDENTITIES,
    namespace: identity.metadata.namespace ?? 'default',
    body: identity,
  });
}

export async function getIdentity(namespace: string, name: string): Promise<AgentIdentity | undefined> {
  try {
    return (await custom.getNamespacedCustomObject({
      ...AGENT_IDENTITIES,
      namespace,
      name,
    })) as AgentIdentity;
  } catch (error) {
    if (error instanceof k8s.ApiException && error.code === 404) return undefined;
    throw error;
  }
}

/** Waits until the identity's condition `type` has `status`; returns the identity at that moment. */
export async function untilCondition(
  namespace: string,
  name: string,
  type: string,
  status: Condition['status'] = 'True',
  timeoutMs = 30_000,
): Promise<AgentIdentity> {
  return eventually(
    `${name} ${type}=${status}`,
    async () => {
      const identity = await getIdentity(namespace, name);
      return conditionOf(identity, type)?.status === status ? identity : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

export async function newNamespace(prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  await core.createNamespace({ body: namespaceBody(name) });
  return name;
}

/** False on 404, true when the read succeeds; any other error propagates. */
export async function exists(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return true;
  } catch (error) {
    if (error instanceof k8s.ApiException && error.code === 404) return false;
    throw error;
  }
}

/** One call to the test environment's OpenBao. */
export function bao(method: string, path: string, token: string, body?: unknown): Promise<BaoAnswer> {
  return baoCall(testEnv().bao.addr, token, method, path, body);
}

export interface ProviderOptions<Spec> {
  /** Default: named like the kind (`vault`, `aws`), the provider of scopes without providerRef. */
  name?: string;
  /** Fields to set or override in the backend's spec. */
  spec?: Partial<Spec>;
  allowedNamespaces?: AllowedNamespaces;
}

/** A ClusterCredentialProvider (default `vault`) for the test OpenBao; the operator reads its token from a file. */
export async function installVaultProvider(options: ProviderOptions<VaultProviderSpec> = {}): Promise<void> {
  const env = testEnv();
  const tokenFile = join(tmpdir(), `nhi-e2e-bao-token-${process.pid}`);
  writeFileSync(tokenFile, env.bao.token, { mode: 0o600 });
  await applyObjects(kc, [
    {
      apiVersion: `${group}/${version}`,
      kind: 'ClusterCredentialProvider',
      metadata: { name: options.name ?? 'vault' },
      spec: {
        vault: {
          address: env.bao.addr,
          kubernetesAuthMount: 'kubernetes',
          kvMount: 'secret',
          tokenMaxTTL: '1h',
          auth: { tokenFile: { path: tokenFile } },
          ...options.spec,
        },
        ...(options.allowedNamespaces && { allowedNamespaces: options.allowedNamespaces }),
      },
    } as k8s.KubernetesObject,
  ]);
}

/** A ClusterCredentialProvider (default `aws`) for moto, in IRSA mode against the test cluster's issuer. */
export async function installAwsProvider(
  options: ProviderOptions<AwsProviderSpec> & { accountId?: string } = {},
): Promise<void> {
  const env = testEnv();
  const issuerHost = new URL(env.serviceAccountIssuer).host;
  const accountId = options.accountId ?? '123456789012';
  await applyObjects(kc, [
    {
      apiVersion: `${group}/${version}`,
      kind: 'ClusterCredentialProvider',
      metadata: { name: options.name ?? 'aws' },
      spec: {
        aws: {
          region: env.aws.region,
          accountId,
          endpoint: env.aws.endpoint,
          rolePath: '/nhi/',
          roleNamePrefix: 'nhi-',
          mode: 'irsa',
          irsa: {
            oidcProviderArn: `arn:aws:iam::${accountId}:oidc-provider/${issuerHost}`,
            issuer: env.serviceAccountIssuer,
          },
          secretsManager: { recoveryWindowDays: 7, forceDelete: true },
          ...options.spec,
        },
        ...(options.allowedNamespaces && { allowedNamespaces: options.allowedNamespaces }),
      },
    } as k8s.KubernetesObject,
  ]);
}

export async function removeProvider(name: string): Promise<void> {
  await custom.deleteClusterCustomObject({ ...CREDENTIAL_PROVIDERS, name }).catch(() => undefined);
}
