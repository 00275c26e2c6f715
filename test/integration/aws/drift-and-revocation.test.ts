// Drift correction, quarantine/restore and revocation against moto: an administrator policy attached
// behind the operator's back is detached and reported; quarantine adds the deny policy and restore
// removes it; revoke deletes role and secrets (also after a crash half-way) and nothing unmanaged.

import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  GetPolicyCommand,
  GetRoleCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { CreateSecretCommand, DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { beforeAll, describe, expect, it } from 'vitest';
import { roleName, secretName } from '../../../src/providers/aws/names.ts';
import { isQuarantinePolicy } from '../../../src/providers/aws/policies.ts';
import { iamWrites, secretsManagerWrites } from '../../../src/providers/aws/port.ts';
import { crashAfterWrites, SimulatedCrash } from '../../../src/providers/aws/testing/fakes.ts';
import { refFor } from '../../../src/providers/aws/testing/fixtures.ts';
import type { IdentityRef } from '../../../src/providers/types.ts';
import {
  agentIdentity,
  inNamespace,
  withAwsScopes,
  withSmSecrets,
} from '../../../src/testing/agent-identity.ts';
import { uniqueName } from '../../support/wait.ts';
import {
  type AwsFixture,
  awsFixture,
  describeRole,
  iamClient,
  providerOver,
  realPorts,
  realProvider,
  smClient,
} from './support.ts';

const namespace = uniqueName('aws-drift');
const iam = iamClient();
const sm = smClient();
const admin = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
});
const scope = { actions: ['secretsmanager:ListSecrets'], resources: ['*'] };
let fixture: AwsFixture;

const newIdentity = (): IdentityRef =>
  refFor(
    agentIdentity(
      uniqueName('bot'),
      inNamespace(namespace),
      withAwsScopes(scope),
      withSmSecrets('api-key', 'signing-key'),
    ),
  );

async function roleGone(name: string): Promise<boolean> {
  return iam.send(new GetRoleCommand({ RoleName: name })).then(
    () => false,
    (err: Error) => err.name === 'NoSuchEntityException',
  );
}

/** The identity's Secrets Manager secrets no longer exist (the fixture deletes without recovery). */
async function secretsGone(ref: IdentityRef): Promise<boolean> {
  for (const secret of ref.identity.spec.secrets ?? []) {
    const gone = await sm
      .send(new DescribeSecretCommand({ SecretId: secretName(ref.identity, secret) }))
      .then(
        () => false,
        (err: Error) => err.name === 'ResourceNotFoundException',
      );
    if (!gone) return false;
  }
  return true;
}

beforeAll(async () => {
  fixture = await awsFixture();
});

describe('drift correction against moto', () => {
  it("detaches an administrator policy attached behind the operator's back and reports it", async () => {
    const provider = realProvider(fixture.spec);
    const ref = newIdentity();
    const { status } = await provider.provision(ref);
    // moto has no AWS-managed AdministratorAccess; an equivalent customer-managed policy stands in.
    const policy = await iam.send(
      new CreatePolicyCommand({ PolicyName: uniqueName('AdministratorAccess'), PolicyDocument: admin }),
    );
    await iam.send(
      new AttachRolePolicyCommand({ RoleName: status.roleName, PolicyArn: policy.Policy!.Arn! }),
    );

    const seen = await provider.observe(ref, { correctDrift: false });
    expect(seen.drift).toEqual([
      {
        resource: expect.stringContaining(status.roleName!),
        field: 'attachedPolicies',
        detail: expect.stringContaining(policy.Policy!.Arn!),
      },
    ]);
    expect((await describeRole(iam, status.roleName!)).attached).toEqual([policy.Policy!.Arn]);

    const fixed = await provider.observe(ref, { correctDrift: true });
    expect(fixed).toMatchObject({ corrected: true, drift: seen.drift });
    expect((await describeRole(iam, status.roleName!)).attached).toEqual([]);
    expect((await iam.send(new GetPolicyCommand({ PolicyArn: policy.Policy!.Arn! }))).Policy?.Arn).toBe(
      policy.Policy!.Arn,
    );
    expect((await provider.observe(ref, { correctDrift: false })).drift).toEqual([]);
  });

  it('restores a widened trust policy, a foreign inline policy and a rewritten scopes policy', async () => {
    const provider = realProvider(fixture.spec);
    const ref = newIdentity();
    const { status } = await provider.provision(ref);
    const before = await describeRole(iam, status.roleName!);
    const open = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }],
    };
    await iam.send(
      new UpdateAssumeRolePolicyCommand({ RoleName: status.roleName, PolicyDocument: JSON.stringify(open) }),
    );
    await iam.send(
      new PutRolePolicyCommand({ RoleName: status.roleName, PolicyName: 'backdoor', PolicyDocument: admin }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: status.roleName,
        PolicyName: 'nhi-scopes',
        PolicyDocument: admin,
      }),
    );

    const { drift, corrected } = await provider.observe(ref, { correctDrift: true });
    expect(corrected).toBe(true);
    expect(drift.map((d) => d.field).sort()).toEqual(['inlinePolicies', 'inlinePolicy', 'trustPolicy']);
    expect(await describeRole(iam, status.roleName!)).toEqual(before);
  });
});

describe('quarantine and restore against moto', () => {
  it('adds the deny-all and token-issue-time deny, keeps the rest; restore removes it', async () => {
    const provider = realProvider(fixture.spec);
    const ref = newIdentity();
    const { status } = await provider.provision(ref);
    await provider.quarantine(ref);
    const quarantined = await describeRole(iam, status.roleName!);
    expect(Object.keys(quarantined.inline).sort()).toEqual(['nhi-quarantine', 'nhi-scopes']);
    expect(isQuarantinePolicy(quarantined.inline['nhi-quarantine'])).toBe(true);
    expect(JSON.stringify(quarantined.inline['nhi-quarantine'])).toContain('aws:TokenIssueTime');
    expect((await provider.observe(ref, { correctDrift: true })).drift).toEqual([]);

    await provider.restore(ref);
    expect(Object.keys((await describeRole(iam, status.roleName!)).inline)).toEqual(['nhi-scopes']);
  });
});

describe('revocation against moto', () => {
  it('deletes role and secrets, and leaves unmanaged look-alikes untouched', async () => {
    const provider = realProvider(fixture.spec);
    const ref = newIdentity();
    const { status } = await provider.provision(ref);
    await provider.quarantine(ref);
    const name = ref.identity.metadata.name;
    const lookAlikeRole = `nhi-${namespace}-${name}-00000000`;
    await iam.send(
      new CreateRoleCommand({
        RoleName: lookAlikeRole,
        Path: fixture.rolePath,
        AssumeRolePolicyDocument: admin,
      }),
    );
    await iam.send(
      new PutRolePolicyCommand({ RoleName: lookAlikeRole, PolicyName: 'nhi-scopes', PolicyDocument: admin }),
    );
    const lookAlikeSecrets = [
      `nhi/${namespace}/${name}/api-key-backup`,
      `nhi/${namespace}/${name}-old/api-key`,
    ];
    for (const secret of lookAlikeSecrets)
      await sm.send(new CreateSecretCommand({ Name: secret, SecretString: 'unmanaged' }));

    await provider.revoke(ref);

    expect(await roleGone(status.roleName!)).toBe(true);
    for (const secret of ['api-key', 'signing-key']) {
      await expect(
        sm.send(new DescribeSecretCommand({ SecretId: `nhi/${namespace}/${name}/${secret}` })),
      ).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
      });
    }
    expect(Object.keys((await describeRole(iam, lookAlikeRole)).inline)).toEqual(['nhi-scopes']);
    for (const secret of lookAlikeSecrets) {
      expect((await sm.send(new DescribeSecretCommand({ SecretId: secret }))).DeletedDate).toBeUndefined();
    }
    await provider.revoke(ref);
  });

  it('schedules secrets for deletion with the configured recovery window', async () => {
    const provider = realProvider({ ...fixture.spec, secretsManager: { recoveryWindowDays: 7 } });
    const ref = newIdentity();
    await provider.provision(ref);
    await provider.revoke(ref);
    const secret = await sm.send(
      new DescribeSecretCommand({ SecretId: `nhi/${namespace}/${ref.identity.metadata.name}/api-key` }),
    );
    expect(secret.DeletedDate).toBeInstanceOf(Date);
    await provider.revoke(ref);
  });

  // Revoking a quarantined role with an attached policy writes: DeleteRolePolicy (scopes),
  // DetachRolePolicy, DeleteRolePolicy (quarantine), DeleteRole, then DeleteSecret twice.
  it.each([
    ['after deleting the scopes policy', 2, Number.POSITIVE_INFINITY],
    ['after detaching the managed policy', 3, Number.POSITIVE_INFINITY],
    ['after deleting the quarantine policy', 4, Number.POSITIVE_INFINITY],
    ['after deleting the role', Number.POSITIVE_INFINITY, 1],
    ['between the two secrets', Number.POSITIVE_INFINITY, 2],
  ])('crash %s: the next revoke removes the rest', async (_, iamAt, smAt) => {
    const provider = realProvider(fixture.spec);
    const ref = newIdentity();
    const { status } = await provider.provision(ref);
    const policy = await iam.send(
      new CreatePolicyCommand({ PolicyName: uniqueName('extra'), PolicyDocument: admin }),
    );
    await iam.send(
      new AttachRolePolicyCommand({ RoleName: status.roleName, PolicyArn: policy.Policy!.Arn! }),
    );
    await provider.quarantine(ref);
    const ports = realPorts(fixture.spec);
    const crashing = providerOver(fixture.spec, {
      iam: crashAfterWrites(ports.iam, iamWrites, iamAt),
      secretsManager: crashAfterWrites(ports.secretsManager, secretsManagerWrites, smAt),
    });
    await expect(crashing.revoke(ref)).rejects.toBeInstanceOf(SimulatedCrash);
    const left = await describeRole(iam, status.roleName!).catch(() => undefined);
    if (left && !('nhi-quarantine' in left.inline)) expect(left.inline).toEqual({});
    await provider.revoke(ref);
    expect(await roleGone(roleName('nhi-', ref.identity))).toBe(true);
    expect(await secretsGone(ref)).toBe(true);
  });
});
