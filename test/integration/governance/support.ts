// A small world of non-human identities on the real apiserver, moto and OpenBao, with one of each
// thing the inventory must recognise: managed and unmanaged ServiceAccounts, a legacy token Secret,
// IAM roles trusting the cluster's issuer (one for a missing ServiceAccount, one for an existing
// ServiceAccount without an AgentIdentity, one managed), an IAM user with an access key, and Vault
// kubernetes-auth roles (one bound to a missing ServiceAccount, one by wildcard). Names carry a
// unique suffix: the environment is shared with other test files.

import {
  CreateAccessKeyCommand,
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteRoleCommand,
  DeleteUserCommand,
  IAMClient,
  ListAccessKeysCommand,
} from '@aws-sdk/client-iam';
import * as k8s from '@kubernetes/client-node';
import { Marks } from '../../../src/api/v1alpha1/annotations.ts';
import type { AgentIdentity } from '../../../src/api/v1alpha1/types.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import {
  type InventorySources,
  iamInventoryClient,
  iamInventoryPort,
  issuerHostOf,
  kubernetesInventoryPort,
  vaultInventoryPort,
} from '../../../src/governance/inventory/index.ts';
import { agentIdentity, withScopes, withSpec } from '../../../src/testing/agent-identity.ts';
import { baoCall } from '../../support/bao.ts';
import { awsClientConfig, kubeConfig, testEnv } from '../../support/env.ts';
import { onTestCluster, readConfigMaps } from '../../support/fixtures.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { uniqueName } from '../../support/wait.ts';

export interface World {
  namespace: string;
  suffix: string;
  identities: { calm: AgentIdentity; risky: AgentIdentity };
  roles: { managed: string; shadow: string; dangling: string };
  user: string;
  vaultRoles: { dangling: string; wildcard: string };
  tokenSecret: string;
}

const ref = { group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' };

export function iamClient(): IAMClient {
  return new IAMClient(awsClientConfig());
}

async function bao(method: string, path: string, body?: unknown): Promise<number> {
  const { bao: env } = testEnv();
  return (await baoCall(env.addr, env.token, method, path, body)).status;
}

function irsaTrust(subject: string): string {
  const host = issuerHostOf(testEnv().serviceAccountIssuer);
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::123456789012:oidc-provider/${host}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { [`${host}:aud`]: 'sts.amazonaws.com', [`${host}:sub`]: subject } },
      },
    ],
  });
}

async function createIdentity(custom: k8s.CustomObjectsApi, identity: AgentIdentity): Promise<AgentIdentity> {
  return (await custom.createNamespacedCustomObject({
    ...ref,
    namespace: identity.metadata.namespace ?? '',
    body: identity,
  })) as AgentIdentity;
}

export async function createWorld(): Promise<World> {
  const kc = kubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  await installOperatorManifests(kc);
  const namespace = uniqueName('gov');
  const suffix = namespace.slice(4);
  await core.createNamespace({ body: namespaceBody(namespace) });

  const calm = await createIdentity(
    custom,
    agentIdentity(
      'support-bot',
      onTestCluster(namespace),
      withScopes(readConfigMaps),
      withSpec({ impact: { dataClassification: 'internal' } }),
    ),
  );
  const risky = await createIdentity(
    custom,
    agentIdentity(
      'risky-bot',
      onTestCluster(namespace),
      withSpec({ credentialTTL: '12h', impact: { dataClassification: 'restricted', internetExposed: true } }),
      withScopes({
        provider: 'aws',
        actions: ['iam:PassRole'],
        resources: ['arn:aws:iam::123456789012:role/*'],
      }),
    ),
  );
  const sa = (name: string, metadata: Partial<k8s.V1ObjectMeta> = {}) =>
    core.createNamespacedServiceAccount({ namespace, body: { metadata: { name, ...metadata } } });
  // What the operator would create for support-bot: the managed ServiceAccount with our marks.
  await sa('support-bot', {
    labels: { [Marks.managedBy]: Marks.managedByValue, [Marks.identityUid]: calm.metadata.uid ?? '' },
  });
  await sa('legacy-batch');
  await sa('reporting', { annotations: { [Marks.owner]: 'data-team', [Marks.purpose]: 'nightly reports' } });
  const tokenSecret = 'legacy-batch-token';
  await core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: tokenSecret, annotations: { 'kubernetes.io/service-account.name': 'legacy-batch' } },
      type: 'kubernetes.io/service-account-token',
    },
  });

  const iam = iamClient();
  await iam
    .send(
      new CreateOpenIDConnectProviderCommand({
        Url: testEnv().serviceAccountIssuer,
        ClientIDList: ['sts.amazonaws.com'],
        ThumbprintList: ['0'.repeat(40)],
      }),
    )
    .catch((error: Error) => {
      if (error.name !== 'EntityAlreadyExistsException') throw error;
    });
  const roles = {
    managed: `gov-managed-${suffix}`,
    shadow: `gov-shadow-${suffix}`,
    dangling: `gov-dangling-${suffix}`,
  };
  const role = (name: string, subject: string, tags: Record<string, string> = {}) =>
    iam.send(
      new CreateRoleCommand({
        RoleName: name,
        AssumeRolePolicyDocument: irsaTrust(`system:serviceaccount:${namespace}:${subject}`),
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
  await role(roles.managed, 'support-bot', {
    [Marks.identityUid]: calm.metadata.uid ?? '',
    [Marks.owner]: 'support-eng',
  });
  await role(roles.shadow, 'legacy-batch');
  await role(roles.dangling, 'removed-sa');
  const user = `gov-ci-${suffix}`;
  await iam.send(new CreateUserCommand({ UserName: user }));
  await iam.send(new CreateAccessKeyCommand({ UserName: user })); // the key itself is never kept

  const vaultRoles = { dangling: `${namespace}-dangling`, wildcard: `${namespace}-wildcard` };
  const vaultRole = (name: string, names: string[]) =>
    bao('POST', `auth/kubernetes/role/${name}`, {
      bound_service_account_names: names,
      bound_service_account_namespaces: [namespace],
      token_policies: ['default'],
      token_ttl: '5m',
    });
  if ((await vaultRole(vaultRoles.dangling, ['missing-sa'])) !== 204)
    throw new Error('could not write the Vault role');
  if ((await vaultRole(vaultRoles.wildcard, ['*'])) !== 204)
    throw new Error('could not write the Vault role');
  return { namespace, suffix, identities: { calm, risky }, roles, user, vaultRoles, tokenSecret };
}

export async function removeWorld(world: World | undefined): Promise<void> {
  if (!world) return;
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  const iam = iamClient();
  const quietly = (p: Promise<unknown>) => p.catch(() => undefined);
  await quietly(core.deleteNamespace({ name: world.namespace }));
  for (const name of Object.values(world.roles))
    await quietly(iam.send(new DeleteRoleCommand({ RoleName: name })));
  const keys = await iam.send(new ListAccessKeysCommand({ UserName: world.user })).catch(() => undefined);
  for (const key of keys?.AccessKeyMetadata ?? []) {
    await quietly(
      iam.send(new DeleteAccessKeyCommand({ UserName: world.user, AccessKeyId: key.AccessKeyId })),
    );
  }
  await quietly(iam.send(new DeleteUserCommand({ UserName: world.user })));
  for (const name of Object.values(world.vaultRoles))
    await quietly(bao('DELETE', `auth/kubernetes/role/${name}`));
}

/** The inventory sources as nhictl builds them, on the test environment. */
export function testSources(): InventorySources {
  const env = testEnv();
  return {
    kubernetes: kubernetesInventoryPort(kubeConfig()),
    aws: {
      iam: iamInventoryPort(iamInventoryClient(awsClientConfig())),
    },
    vault: {
      port: vaultInventoryPort({ address: env.bao.addr, token: env.bao.token }),
      authMount: 'kubernetes',
      kvMount: 'secret',
    },
  };
}
