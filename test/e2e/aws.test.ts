// The AWS provider through the real operator process, against moto_server: an identity with aws
// scopes and a Secrets Manager secret gets an IRSA role bound to its ServiceAccount, the annotation on
// the ServiceAccount, the secret synced into its Kubernetes target; the workload going away
// quarantines the role (deny policies) and then deletes it with the secret.

import {
  GetRoleCommand,
  IAMClient,
  ListRolePoliciesCommand,
  NoSuchEntityException,
} from '@aws-sdk/client-iam';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installOperatorManifests } from '../../src/dev/install.ts';
import { agentIdentity, withScopes, withSpec } from '../../src/testing/agent-identity.ts';
import {
  createIdentity,
  installAwsProvider,
  newNamespace,
  removeProvider,
  untilCondition,
} from '../support/cluster.ts';
import { awsClientConfig, kubeConfig, testEnv } from '../support/env.ts';
import { deployment, onTestCluster, withSecret } from '../support/fixtures.ts';
import { type OperatorProcess, startOperatorProcess } from '../support/operator.ts';

const env = testEnv();
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const aws = awsClientConfig();
const iam = new IAMClient(aws);
const sm = new SecretsManagerClient(aws);
const issuerHost = new URL(env.serviceAccountIssuer).host;
let operator: OperatorProcess;

async function roleExists(roleName: string): Promise<boolean> {
  try {
    await iam.send(new GetRoleCommand({ RoleName: roleName }));
    return true;
  } catch (error) {
    if (error instanceof NoSuchEntityException) return false;
    throw error;
  }
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  await installAwsProvider();
  operator = startOperatorProcess();
});

afterAll(async () => {
  await operator.stop();
  await removeProvider('aws');
});

describe('AWS through the operator', () => {
  it('provisions an IRSA role and a Secrets Manager secret, then quarantines and revokes them with the workload', async () => {
    const ns = await newNamespace('aws');
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('crm-sync', 'crm-sync') });
    await createIdentity(
      agentIdentity(
        'crm-sync',
        onTestCluster(ns),
        withSpec({ orphanGracePeriod: '3s', quarantinePeriod: '6s' }),
        withScopes({
          provider: 'aws',
          actions: ['secretsmanager:GetSecretValue'],
          resources: ['arn:aws:secretsmanager:us-east-1:123456789012:secret:crm/*'],
        }),
        withSecret('crm-client-secret', {
          backend: 'aws-secrets-manager',
          target: { secretName: 'crm-sync-crm' },
        }),
      ),
    );

    const ready = await untilCondition(ns, 'crm-sync', 'Ready');
    const roleName = ready.status?.aws?.roleName ?? '';
    expect(ready.status?.aws?.roleArn).toContain(`:role/nhi/${roleName}`);
    const sa = await core.readNamespacedServiceAccount({ namespace: ns, name: 'crm-sync' });
    expect(sa.metadata?.annotations?.['eks.amazonaws.com/role-arn']).toBe(ready.status?.aws?.roleArn);
    const { Role } = await iam.send(new GetRoleCommand({ RoleName: roleName }));
    const trust = JSON.parse(decodeURIComponent(Role?.AssumeRolePolicyDocument ?? '{}')) as {
      Statement: Array<{ Condition: Record<string, Record<string, string>> }>;
    };
    expect(trust.Statement[0]?.Condition.StringEquals?.[`${issuerHost}:sub`]).toBe(
      `system:serviceaccount:${ns}:crm-sync`,
    );

    const target = await core.readNamespacedSecret({ namespace: ns, name: 'crm-sync-crm' });
    const synced = Buffer.from(Object.values(target.data ?? {})[0] ?? '', 'base64').toString();
    const secretId = `nhi/${ns}/crm-sync/crm-client-secret`;
    const current = await sm.send(
      new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' }),
    );
    expect(synced).toBe(current.SecretString);

    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'crm-sync' });
    await untilCondition(ns, 'crm-sync', 'Quarantined');
    const policies = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }));
    expect(policies.PolicyNames).toContain('nhi-quarantine');

    await untilCondition(ns, 'crm-sync', 'Revoked');
    expect(await roleExists(roleName)).toBe(false);
    await expect(sm.send(new DescribeSecretCommand({ SecretId: secretId }))).rejects.toThrow();
  });
});
