// Drift correction through the real operator process: changes made behind its back — a Role widened
// in the cluster, an administrator policy attached to the identity's IAM role in moto — are restored
// within a drift interval, each with a high-severity audit record and a Warning Event.

import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installOperatorManifests } from '../../src/dev/install.ts';
import { readAuditFile } from '../../src/governance/audit/audit.ts';
import { agentIdentity, withScopes } from '../../src/testing/agent-identity.ts';
import {
  createIdentity,
  installAwsProvider,
  newNamespace,
  removeProvider,
  untilCondition,
} from '../support/cluster.ts';
import { awsClientConfig, kubeConfig } from '../support/env.ts';
import { deployment, onTestCluster, readConfigMaps } from '../support/fixtures.ts';
import { type OperatorProcess, startOperatorProcess } from '../support/operator.ts';
import { eventually, uniqueName } from '../support/wait.ts';

const kc = kubeConfig();
const apps = kc.makeApiClient(k8s.AppsV1Api);
const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
const events = kc.makeApiClient(k8s.EventsV1Api);
const iam = new IAMClient(awsClientConfig());
let operator: OperatorProcess;

function driftRecords(): string[] {
  return readAuditFile(operator.auditLog)
    .filter((r) => r.action === 'drift-corrected' && r.severity === 'high' && r.outcome !== 'intent')
    .map((r) => r.resource);
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  await installAwsProvider();
  operator = startOperatorProcess(['--drift-interval=2s']);
});

afterAll(async () => {
  await operator.stop();
  await removeProvider('aws');
});

describe('drift correction', () => {
  it('narrows a Role widened behind its back, with an audit record and an Event', async () => {
    const ns = await newNamespace('drift');
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('k8s-bot', 'k8s-bot') });
    await createIdentity(agentIdentity('k8s-bot', onTestCluster(ns), withScopes(readConfigMaps)));
    await untilCondition(ns, 'k8s-bot', 'Ready');

    const role = await rbac.readNamespacedRole({ namespace: ns, name: 'nhi-k8s-bot' });
    role.rules = [...(role.rules ?? []), { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }];
    await rbac.replaceNamespacedRole({ namespace: ns, name: 'nhi-k8s-bot', body: role });

    await eventually(
      'the Role to be narrowed again',
      async () => {
        const live = await rbac.readNamespacedRole({ namespace: ns, name: 'nhi-k8s-bot' });
        return !JSON.stringify(live.rules).includes('secrets');
      },
      { timeoutMs: 20_000 },
    );
    await eventually('a drift audit record', async () =>
      driftRecords().some((r) => r.startsWith('kubernetes')),
    );
    const warned = await eventually('a DriftCorrected Event', async () => {
      const list = await events.listNamespacedEvent({ namespace: ns });
      return list.items.find((e) => e.reason === 'DriftCorrected');
    });
    expect(warned.type).toBe('Warning');
  });

  it('detaches an administrator policy attached to the identity role', async () => {
    const ns = await newNamespace('drift');
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('aws-bot', 'aws-bot') });
    await createIdentity(
      agentIdentity(
        'aws-bot',
        onTestCluster(ns),
        withScopes({
          provider: 'aws',
          actions: ['secretsmanager:GetSecretValue'],
          resources: ['arn:aws:secretsmanager:us-east-1:123456789012:secret:crm/*'],
        }),
      ),
    );
    const ready = await untilCondition(ns, 'aws-bot', 'Ready');
    const roleName = ready.status?.aws?.roleName ?? '';
    const admin = await iam.send(
      new CreatePolicyCommand({
        PolicyName: uniqueName('AdministratorAccess'),
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
        }),
      }),
    );
    await iam.send(new AttachRolePolicyCommand({ RoleName: roleName, PolicyArn: admin.Policy?.Arn }));

    await eventually(
      'the administrator policy to be detached',
      async () => {
        const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }));
        return (attached.AttachedPolicies ?? []).length === 0;
      },
      { timeoutMs: 20_000 },
    );
    await eventually('a drift audit record for aws', async () =>
      driftRecords().some((r) => r.startsWith('aws')),
    );
  });
});
