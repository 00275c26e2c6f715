// AwsProvider.provision against the real moto_server over HTTP with the SDK v3: the role IAM ends up
// with, adoption and refusal by tag, crash recovery at each write, and last use from RoleLastUsed.

import { CreateRoleCommand, GetRoleCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import { DescribeSecretCommand, ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Marks } from '../../../src/api/v1alpha1/annotations.ts';
import { roleName } from '../../../src/providers/aws/names.ts';
import { irsaTrustPolicy, issuerHost, scopesPolicy } from '../../../src/providers/aws/policies.ts';
import { iamWrites, secretsManagerWrites } from '../../../src/providers/aws/port.ts';
import { crashAfterWrites, SimulatedCrash } from '../../../src/providers/aws/testing/fakes.ts';
import { refFor } from '../../../src/providers/aws/testing/fixtures.ts';
import { NotOwnedError } from '../../../src/providers/types.ts';
import {
  agentIdentity,
  inNamespace,
  withAwsScopes,
  withSmSecrets,
} from '../../../src/testing/agent-identity.ts';
import { testEnv } from '../../support/env.ts';
import { uniqueName } from '../../support/wait.ts';
import {
  type AwsFixture,
  awsFixture,
  clientConfig,
  deleteNamespace,
  describeRole,
  iamClient,
  jwtClaims,
  providerOver,
  realPorts,
  realProvider,
  serviceAccountToken,
  smClient,
} from './support.ts';

const namespace = uniqueName('aws-prov');
const iam = iamClient();
const sm = smClient();
const crm = {
  actions: ['secretsmanager:GetSecretValue'],
  resources: ['arn:aws:secretsmanager:us-east-1:123456789012:secret:crm/*'],
};
let fixture: AwsFixture;

const newIdentity = (name = uniqueName('bot')) =>
  refFor(agentIdentity(name, inNamespace(namespace), withAwsScopes(crm), withSmSecrets('api-key')));

beforeAll(async () => {
  fixture = await awsFixture();
});

afterAll(async () => {
  await deleteNamespace(namespace);
});

describe('provision against moto', () => {
  it('creates the role with exactly the expected trust policy, inline policy, boundary, tags and session duration', async () => {
    const provider = realProvider(fixture.spec);
    const ref = newIdentity();
    const result = await provider.provision(ref);
    const name = roleName('nhi-', ref.identity);
    const role = await describeRole(iam, name);
    expect(role).toEqual({
      arn: `arn:aws:iam::123456789012:role${fixture.rolePath}${name}`,
      path: fixture.rolePath,
      trust: irsaTrustPolicy(fixture.oidcProviderArn, testEnv().serviceAccountIssuer, ref.subject),
      boundary: fixture.boundaryArn,
      maxSessionDuration: 3600,
      tags: {
        [Marks.identityUid]: ref.identity.metadata.uid,
        [Marks.identityName]: `${namespace}/${ref.identity.metadata.name}`,
        [Marks.owner]: 'support-eng',
        [Marks.purpose]: 'Answer support tickets with read access to the CRM',
        [Marks.environment]: 'production',
        [Marks.managedBy]: 'nhi-operator',
        'nhi.dev/contact': 'support-eng@example.com',
      },
      inline: { 'nhi-scopes': scopesPolicy([{ provider: 'aws', ...crm }]) },
      attached: [],
    });
    expect(result.status).toMatchObject({
      roleArn: role.arn,
      roleName: name,
      policyHash: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(result.serviceAccountAnnotations).toEqual({
      'eks.amazonaws.com/role-arn': role.arn,
      'eks.amazonaws.com/token-expiration': '900',
    });
    const secret = await sm.send(
      new DescribeSecretCommand({ SecretId: `nhi/${namespace}/${ref.identity.metadata.name}/api-key` }),
    );
    expect(Object.fromEntries((secret.Tags ?? []).map((t) => [t.Key, t.Value]))).toMatchObject({
      [Marks.identityUid]: ref.identity.metadata.uid,
      [Marks.managedBy]: 'nhi-operator',
    });
  });

  it('binds the trust policy to what a real token of this cluster carries (moto does not check it)', async () => {
    const ref = newIdentity();
    const token = await serviceAccountToken(namespace, ref.subject.serviceAccountName);
    const claims = jwtClaims(token);
    const trust = irsaTrustPolicy(fixture.oidcProviderArn, testEnv().serviceAccountIssuer, ref.subject);
    const host = issuerHost(String(claims.iss));
    expect(fixture.oidcProviderArn.endsWith(`oidc-provider/${host}`)).toBe(true);
    expect(trust.Statement[0]?.Condition?.StringEquals).toEqual({
      [`${host}:sub`]: claims.sub,
      [`${host}:aud`]: (claims.aud as string[])[0],
    });
  });

  it('changes nothing on a second provision', async () => {
    const provider = realProvider(fixture.spec);
    const ref = newIdentity();
    await provider.provision(ref);
    expect((await provider.provision(ref)).changes).toEqual([]);
    expect(await provider.plan(ref)).toEqual([]);
  });

  it('refuses a role with our deterministic name but not our tag, and leaves it untouched', async () => {
    const provider = realProvider(fixture.spec);
    const ref = newIdentity();
    const name = roleName('nhi-', ref.identity);
    const foreignTrust = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    };
    await iam.send(
      new CreateRoleCommand({
        RoleName: name,
        Path: fixture.rolePath,
        AssumeRolePolicyDocument: JSON.stringify(foreignTrust),
        Tags: [{ Key: 'team', Value: 'other' }],
      }),
    );
    const before = await describeRole(iam, name);
    await expect(provider.provision(ref)).rejects.toBeInstanceOf(NotOwnedError);
    await expect(provider.quarantine(ref)).rejects.toBeInstanceOf(NotOwnedError);
    await expect(provider.observe(ref, { correctDrift: true })).rejects.toBeInstanceOf(NotOwnedError);
    await provider.revoke(ref);
    expect(await describeRole(iam, name)).toEqual(before);
  });

  // A clean provision writes: CreateRole, PutRolePolicy (IAM), then CreateSecret (Secrets Manager).
  it.each([
    ['before CreateRole', 1, Number.POSITIVE_INFINITY],
    ['after CreateRole (no inline policy yet)', 2, Number.POSITIVE_INFINITY],
    ['after PutRolePolicy (no secret yet)', Number.POSITIVE_INFINITY, 1],
  ])('crash %s: the next provision finishes with exactly one role and one secret', async (_, iamAt, smAt) => {
    for (const lostResponse of [false, true]) {
      const ref = newIdentity();
      const ports = realPorts(fixture.spec);
      const crashing = providerOver(fixture.spec, {
        iam: crashAfterWrites(ports.iam, iamWrites, iamAt, { lostResponse }),
        secretsManager: crashAfterWrites(ports.secretsManager, secretsManagerWrites, smAt, { lostResponse }),
      });
      await expect(crashing.provision(ref)).rejects.toBeInstanceOf(SimulatedCrash);
      const provider = realProvider(fixture.spec);
      await provider.provision(ref);
      expect((await provider.provision(ref)).changes).toEqual([]);
      const prefix = roleName('nhi-', ref.identity);
      const roles = (await iam.send(new ListRolesCommand({ PathPrefix: fixture.rolePath }))).Roles ?? [];
      expect(roles.filter((r) => r.RoleName === prefix)).toHaveLength(1);
      expect(Object.keys((await describeRole(iam, prefix)).inline)).toEqual(['nhi-scopes']);
      const secrets = await sm.send(
        new ListSecretsCommand({ Filters: [{ Key: 'tag-value', Values: [ref.identity.metadata.uid!] }] }),
      );
      expect(secrets.SecretList?.map((s) => s.Name)).toEqual([
        `nhi/${namespace}/${ref.identity.metadata.name}/api-key`,
      ]);
      const described = await sm.send(new DescribeSecretCommand({ SecretId: secrets.SecretList![0]!.Name }));
      expect(Object.keys(described.VersionIdsToStages ?? {})).toHaveLength(1);
    }
  });

  it('reports last use from IAM RoleLastUsed after the workload used its web-identity session', async () => {
    const provider = realProvider(fixture.spec);
    const ref = newIdentity();
    const { status } = await provider.provision(ref);
    expect((await provider.observe(ref, { correctDrift: false })).lastUsed).toBeUndefined();
    const token = await serviceAccountToken(namespace, ref.subject.serviceAccountName);
    const sts = new STSClient({ region: testEnv().aws.region, endpoint: testEnv().aws.endpoint });
    const session = await sts.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: status.roleArn,
        RoleSessionName: 'pod',
        WebIdentityToken: token,
        DurationSeconds: 900,
      }),
    );
    const asPod = new STSClient(
      clientConfig(testEnv().aws, {
        accessKeyId: session.Credentials!.AccessKeyId!,
        secretAccessKey: session.Credentials!.SecretAccessKey!,
        sessionToken: session.Credentials!.SessionToken!,
      }),
    );
    await asPod.send(new GetCallerIdentityCommand({}));
    const observation = await provider.observe(ref, { correctDrift: false });
    const { Role } = await iam.send(new GetRoleCommand({ RoleName: status.roleName }));
    expect(observation.lastUsed).toEqual(Role?.RoleLastUsed?.LastUsedDate);
    expect(observation.lastUsed).toBeInstanceOf(Date);
  });
});
