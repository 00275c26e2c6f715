// A real pod on the dev node uses its IRSA identity as on EKS: its projected token (audience
// sts.amazonaws.com) and role ARN are mounted the way the EKS pod identity webhook mounts them, and
// the AWS SDK's default credential chain inside the pod (the operator image's own @aws-sdk
// packages) calls AssumeRoleWithWebIdentity against moto, then reads the identity's Secrets Manager
// secret with that session. moto does not validate the web identity token nor evaluate IAM policies:
// this proves the wiring (token file, role ARN, session, secret), not AWS's checks
// (test/e2e/aws.test.ts compares the trust conditions with a real token's claims).

import { createHash } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { installOperatorManifests } from '../../src/dev/install.ts';
import { OPERATOR_IMAGE, operatorImageArchive } from '../../src/dev/node/images.ts';
import { type DevNode, importImage } from '../../src/dev/node/node.ts';
import { agentIdentity, withScopes } from '../../src/testing/agent-identity.ts';
import { createIdentity, installAwsProvider, removeProvider, untilCondition } from '../support/cluster.ts';
import { awsClientConfig, kubeConfig, testEnv } from '../support/env.ts';
import { onTestCluster, withSecret } from '../support/fixtures.ts';
import {
  describeOnNode,
  probe,
  probeDeployment,
  query,
  stopWorkloads,
  useNode,
  workloadNamespace,
} from '../support/node.ts';
import { type OperatorProcess, startOperatorProcess } from '../support/operator.ts';
import { eventually } from '../support/wait.ts';

const kc = kubeConfig();
const apps = kc.makeApiClient(k8s.AppsV1Api);
const sm = new SecretsManagerClient(awsClientConfig());
let operator: OperatorProcess;
let node: DevNode;

/** In the pod: the SDK's default chain (web identity from the env EKS sets), one call per request. */
const AWS_CLIENT = `
const http = require('node:http');
const { createHash } = require('node:crypto');
const { STSClient, GetCallerIdentityCommand } = require('@aws-sdk/client-sts');
const { SecretsManagerClient, GetSecretValueCommand } = require('@aws-sdk/client-secrets-manager');
http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://pod');
  if (url.pathname === '/healthz') return res.end('{}');
  try {
    const who = await new STSClient({}).send(new GetCallerIdentityCommand({}));
    const value = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: url.searchParams.get('secretId') }));
    res.end(JSON.stringify({ arn: who.Arn, sha256: createHash('sha256').update(value.SecretString).digest('hex') }));
  } catch (error) {
    res.statusCode = 500;
    res.end(JSON.stringify({ error: error.name + ': ' + error.message }));
  }
}).listen(8080);
process.on('SIGTERM', () => process.exit(0));
`;

beforeAll(async () => {
  node = await useNode();
  importImage(testEnv().dir, operatorImageArchive());
  await installOperatorManifests(kc);
  await installAwsProvider();
  operator = startOperatorProcess();
  await operator.ready();
});

afterAll(async () => {
  await stopWorkloads();
  await operator?.stop();
  await removeProvider('aws');
});

describeOnNode('a pod on the dev node with an IRSA role', () => {
  it('assumes its role with its projected web identity token and reads its Secrets Manager secret', async () => {
    const ns = await workloadNamespace('node-aws');
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: probeDeployment('crm', 'crm', {
        image: `${OPERATOR_IMAGE.repository}:${OPERATOR_IMAGE.tag}`,
        command: ['/usr/local/bin/node', '-e', AWS_CLIENT],
        volumes: [
          {
            name: 'aws-iam-token',
            projected: {
              sources: [
                {
                  serviceAccountToken: {
                    audience: 'sts.amazonaws.com',
                    expirationSeconds: 86400,
                    path: 'token',
                  },
                },
              ],
            },
          },
        ],
        mounts: [
          {
            name: 'aws-iam-token',
            mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount',
            readOnly: true,
          },
        ],
        env: [
          // What the EKS pod identity webhook injects, from the ServiceAccount's role-arn annotation.
          {
            name: 'AWS_WEB_IDENTITY_TOKEN_FILE',
            value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
          },
          { name: 'AWS_ROLE_SESSION_NAME', value: 'crm-pod' },
          { name: 'AWS_REGION', value: testEnv().aws.region },
          { name: 'AWS_ENDPOINT_URL', value: node.podAwsEndpoint },
          { name: 'HOME', value: '/tmp' },
        ],
      }),
    });
    await createIdentity(
      agentIdentity(
        'crm',
        onTestCluster(ns),
        withScopes({
          provider: 'aws',
          actions: ['secretsmanager:GetSecretValue'],
          resources: ['arn:aws:secretsmanager:us-east-1:123456789012:secret:crm/*'],
        }),
        withSecret('client-secret', { backend: 'aws-secrets-manager', target: { secretName: 'crm-client' } }),
      ),
    );
    const ready = await untilCondition(ns, 'crm', 'Ready');
    const roleArn = ready.status?.aws?.roleArn ?? '';
    // The webhook's other variable: the role ARN the operator annotated the ServiceAccount with.
    await apps.patchNamespacedDeployment(
      {
        namespace: ns,
        name: 'crm',
        body: [
          {
            op: 'add',
            path: '/spec/template/spec/containers/0/env/-',
            value: { name: 'AWS_ROLE_ARN', value: roleArn },
          },
        ],
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const pod = await eventually(
      'a Ready pod with AWS_ROLE_ARN',
      async () =>
        (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=crm' })).items.find(
          (p) =>
            !p.metadata?.deletionTimestamp &&
            p.spec?.containers[0]?.env?.some((e) => e.name === 'AWS_ROLE_ARN') &&
            p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        ),
      { timeoutMs: 90_000, intervalMs: 200 },
    );

    const secretId = `nhi/${ns}/crm/client-secret`;
    const answer = await probe<{ arn: string; sha256: string }>(pod, `/aws${query({ secretId })}`);
    const roleName = roleArn.split('/').pop() ?? '';
    expect(answer.arn).toMatch(new RegExp(`:assumed-role/${roleName}/crm-pod$`));
    const current = await sm.send(new GetSecretValueCommand({ SecretId: secretId }));
    expect(answer.sha256).toBe(
      createHash('sha256')
        .update(current.SecretString ?? '')
        .digest('hex'),
    );
  });
});
