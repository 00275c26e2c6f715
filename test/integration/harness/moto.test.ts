// The AWS emulator is moto_server over HTTP, reached with the real AWS SDK v3 clients.

import { randomBytes } from 'node:crypto';
import { CreateRoleCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { awsClientConfig } from '../../support/env.ts';
import { uniqueName } from '../../support/wait.ts';

const clientConfig = awsClientConfig();

describe('moto_server', () => {
  it('creates an IAM role and reads it back', async () => {
    const iam = new IAMClient(clientConfig);
    const roleName = uniqueName('harness-role');
    const trust = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    };
    await iam.send(
      new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: JSON.stringify(trust) }),
    );
    const { Role } = await iam.send(new GetRoleCommand({ RoleName: roleName }));
    expect(Role?.Arn).toContain(`:role/${roleName}`);
  });

  it('stores a secret and returns it through GetSecretValue', async () => {
    const sm = new SecretsManagerClient(clientConfig);
    const value = randomBytes(16).toString('hex');
    const name = uniqueName('harness/secret');
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    const read = await sm.send(new GetSecretValueCommand({ SecretId: name }));
    expect(read.SecretString).toBe(value);
    expect(read.VersionStages).toContain('AWSCURRENT');
  });

  it('answers STS GetCallerIdentity', async () => {
    const sts = new STSClient(clientConfig);
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    expect(identity.Account).toMatch(/^\d{12}$/);
  });
});
