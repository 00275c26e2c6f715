// Shared setup of the AWS integration tests: SDK clients on the harness's moto_server for
// assertions, a unique role path per test file (so listings only see this file's roles), the
// cluster's OIDC provider and a permissions boundary created in moto, and AwsProvider factories.

import {
  CreateOpenIDConnectProviderCommand,
  CreatePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRoleTagsCommand,
} from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import * as k8s from '@kubernetes/client-node';
import type { AwsProviderSpec, ClusterCredentialProvider } from '../../../src/api/v1alpha1/types.ts';
import { API_VERSION } from '../../../src/api/v1alpha1/types.ts';
import { parsePolicyDocument } from '../../../src/providers/aws/adapter-iam.ts';
import { awsConfigFromSpec } from '../../../src/providers/aws/config.ts';
import {
  type AwsClientOptions,
  createAwsPorts,
  createAwsProvider,
} from '../../../src/providers/aws/factory.ts';
import { issuerHost } from '../../../src/providers/aws/policies.ts';
import { AwsProvider, type AwsProviderDeps } from '../../../src/providers/aws/provider.ts';
import { type AwsEndpoint, awsClientConfig, kubeConfig, testEnv } from '../../support/env.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { uniqueName } from '../../support/wait.ts';

export type { AwsEndpoint } from '../../support/env.ts';

export const clientConfig = awsClientConfig;

export const iamClient = (aws?: AwsEndpoint) => new IAMClient(clientConfig(aws));
export const smClient = (aws?: AwsEndpoint) => new SecretsManagerClient(clientConfig(aws));
export const stsClient = (aws?: AwsEndpoint) => new STSClient(clientConfig(aws));

export interface AwsFixture {
  spec: AwsProviderSpec;
  rolePath: string;
  oidcProviderArn: string;
  boundaryArn: string;
}

/** Creates the OIDC provider for the test cluster's issuer and a boundary policy; returns a provider spec. */
export async function awsFixture(
  aws: AwsEndpoint = testEnv().aws,
  issuer = testEnv().serviceAccountIssuer,
): Promise<AwsFixture> {
  const iam = iamClient(aws);
  const suffix = uniqueName('t');
  const oidc = await iam
    .send(
      new CreateOpenIDConnectProviderCommand({
        Url: issuer,
        ClientIDList: ['sts.amazonaws.com'],
        ThumbprintList: ['0'.repeat(40)],
      }),
    )
    .catch(async (err: Error) => {
      if (err.name !== 'EntityAlreadyExistsException') throw err;
      return { OpenIDConnectProviderArn: `arn:aws:iam::123456789012:oidc-provider/${issuerHost(issuer)}` };
    });
  const boundary = await iam.send(
    new CreatePolicyCommand({
      PolicyName: `nhi-boundary-${suffix}`,
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['secretsmanager:*', 'sts:GetCallerIdentity'], Resource: '*' },
        ],
      }),
    }),
  );
  const rolePath = `/nhi-${suffix}/`;
  const spec: AwsProviderSpec = {
    region: aws.region,
    accountId: '123456789012',
    endpoint: aws.endpoint,
    rolePath,
    roleNamePrefix: 'nhi-',
    permissionsBoundaryArn: boundary.Policy!.Arn!,
    mode: 'irsa',
    irsa: { oidcProviderArn: oidc.OpenIDConnectProviderArn!, issuer },
    secretsManager: { forceDelete: true },
    maxWritesPerSecond: 50,
  };
  return {
    spec,
    rolePath,
    oidcProviderArn: spec.irsa!.oidcProviderArn,
    boundaryArn: spec.permissionsBoundaryArn!,
  };
}

export function clusterCredentialProvider(spec: AwsProviderSpec, name = 'aws'): ClusterCredentialProvider {
  return {
    apiVersion: API_VERSION,
    kind: 'ClusterCredentialProvider',
    metadata: { name },
    spec: { aws: spec },
  };
}

/** The provider as main.ts builds it: real SDK clients (adaptive retries) from a ClusterCredentialProvider. */
export function realProvider(
  spec: AwsProviderSpec,
  aws: AwsEndpoint = testEnv().aws,
  options: AwsClientOptions = {},
): AwsProvider {
  return createAwsProvider(clusterCredentialProvider(spec), {
    credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
    maxAttempts: 3,
    ...options,
  });
}

/** Real SDK-backed ports, for wrapping in crash injectors before building a provider. */
export function realPorts(spec: AwsProviderSpec, aws: AwsEndpoint = testEnv().aws) {
  return createAwsPorts(awsConfigFromSpec(spec), {
    credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
    maxAttempts: 3,
  });
}

export function providerOver(spec: AwsProviderSpec, deps: AwsProviderDeps): AwsProvider {
  return AwsProvider.fromSpec({ aws: spec }, deps);
}

/** Everything about a role as IAM reports it, policies decoded. */
export async function describeRole(iam: IAMClient, name: string) {
  const { Role } = await iam.send(new GetRoleCommand({ RoleName: name }));
  const { Tags } = await iam.send(new ListRoleTagsCommand({ RoleName: name }));
  const { PolicyNames } = await iam.send(new ListRolePoliciesCommand({ RoleName: name }));
  const inline: Record<string, unknown> = {};
  for (const policy of PolicyNames ?? []) {
    const out = await iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: policy }));
    inline[policy] = parsePolicyDocument(out.PolicyDocument);
  }
  const { AttachedPolicies } = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name }));
  return {
    arn: Role?.Arn,
    path: Role?.Path,
    trust: parsePolicyDocument(Role?.AssumeRolePolicyDocument),
    boundary: Role?.PermissionsBoundary?.PermissionsBoundaryArn,
    maxSessionDuration: Role?.MaxSessionDuration,
    tags: Object.fromEntries((Tags ?? []).map((t) => [t.Key, t.Value])),
    inline,
    attached: (AttachedPolicies ?? []).map((p) => p.PolicyArn),
  };
}

/** A real bound ServiceAccount token from the test apiserver, for STS web identity. */
export async function serviceAccountToken(
  namespace: string,
  name: string,
  audience = 'sts.amazonaws.com',
): Promise<string> {
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: namespaceBody(namespace) }).catch(() => undefined);
  await core
    .createNamespacedServiceAccount({ namespace, body: { metadata: { name } } })
    .catch(() => undefined);
  const request = await core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [audience], expirationSeconds: 600 } },
  });
  const token = request.status?.token;
  if (!token) throw new Error('TokenRequest returned no token');
  return token;
}

export function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<
    string,
    unknown
  >;
}

export async function deleteNamespace(namespace: string): Promise<void> {
  await kubeConfig()
    .makeApiClient(k8s.CoreV1Api)
    .deleteNamespace({ name: namespace })
    .catch(() => undefined);
}
