// With moto's IAM enforcement on, the identity's own credentials can do what its scopes allow and are
// denied the rest; quarantine cuts them off and restore gives them back.
//
// Enforcement is a process-wide setting of moto_server (env INITIAL_NO_AUTH_ACTION_COUNT), so this
// file starts a second, private moto_server. Setup runs in moto's free phase (an operator IAM user
// with keys, the OIDC provider, provisioning, and the pod's AssumeRoleWithWebIdentity, which is an
// unsigned call that moto refuses once enforcement is on); then /moto-api/reset-auth switches
// enforcement on for every later call.
//
// moto's limits shape the test: it matches only statements with `Resource: "*"` and no conditions,
// so the scopes here use `Resource: "*"`, the quarantine's conditional TokenIssueTime deny is not
// evaluated (its unconditional deny-all is), permissions boundaries are not enforced, and the
// operator user gets `*` (a least-privilege operator policy with role ARNs would never match).
// moto answers denied JSON-protocol calls (Secrets Manager) with an XML body the SDK cannot parse,
// so those denials are recognised by their HTTP 403.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  GetRoleCommand,
  IAMClient,
  ListRolesCommand,
  ListUsersCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import {
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { componentPaths } from '../../../src/dev/components.ts';
import {
  freePort,
  httpOk,
  type StartedProcess,
  startProcess,
  stopProcesses,
  waitUntil,
} from '../../../src/dev/processes.ts';
import { roleName, secretName } from '../../../src/providers/aws/names.ts';
import type { AwsProvider } from '../../../src/providers/aws/provider.ts';
import { refFor } from '../../../src/providers/aws/testing/fixtures.ts';
import {
  agentIdentity,
  inNamespace,
  withAwsScopes,
  withSmSecrets,
} from '../../../src/testing/agent-identity.ts';
import { testEnv } from '../../support/env.ts';
import { fakeAccessKeyId, fakeSecretAccessKey } from '../../support/fake-credentials.ts';
import { uniqueName } from '../../support/wait.ts';
import {
  type AwsEndpoint,
  awsFixture,
  clientConfig,
  deleteNamespace,
  realProvider,
  serviceAccountToken,
} from './support.ts';

const namespace = uniqueName('aws-auth');
const dir = mkdtempSync(join(tmpdir(), 'nhi-moto-auth-'));
let moto: StartedProcess;
let endpoint: string;
let operator: AwsEndpoint;
let provider: AwsProvider;
let pod: { iam: IAMClient; sm: SecretsManagerClient };
const ref = refFor(
  agentIdentity(
    'reader',
    inNamespace(namespace),
    withAwsScopes({
      actions: ['secretsmanager:ListSecrets', 'secretsmanager:GetSecretValue', 'iam:ListRoles'],
      resources: ['*'],
    }),
    withSmSecrets('api-key'),
  ),
);

/** 'allowed', or how the call was refused (AWS error name, or HTTP status when moto's body is unparsable). */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'allowed';
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'AccessDenied' || e.name === 'AccessDeniedException') return 'denied';
    return e.$metadata?.httpStatusCode === 403 ? 'denied' : `failed: ${e.name}`;
  }
}

beforeAll(async () => {
  mkdirSync(join(dir, 'logs'));
  const port = await freePort();
  endpoint = `http://127.0.0.1:${port}`;
  moto = startProcess('moto-enforced', componentPaths().motoServer, ['-H', '127.0.0.1', '-p', String(port)], {
    dir,
    env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: '1000000' },
  });
  await waitUntil('private moto_server', () => httpOk(`${endpoint}/moto-api/`), {
    timeoutMs: 30_000,
    process: moto,
  });

  // Free phase: the operator's own IAM user (moto needs a real key once enforcement is on).
  const bootstrap: AwsEndpoint = { ...testEnv().aws, endpoint };
  const iam = new IAMClient(clientConfig(bootstrap));
  await iam.send(new CreateUserCommand({ UserName: 'nhi-operator' }));
  const everything = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
  await iam.send(
    new PutUserPolicyCommand({
      UserName: 'nhi-operator',
      PolicyName: 'operator',
      PolicyDocument: JSON.stringify(everything),
    }),
  );
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'nhi-operator' }));
  operator = {
    ...bootstrap,
    accessKeyId: AccessKey!.AccessKeyId!,
    secretAccessKey: AccessKey!.SecretAccessKey!,
  };

  const fixture = await awsFixture(operator);
  provider = realProvider(fixture.spec, operator, { maxAttempts: 1 });
  const { status } = await provider.provision(ref);

  const token = await serviceAccountToken(namespace, ref.subject.serviceAccountName);
  const sts = new STSClient({ region: operator.region, endpoint });
  const session = await sts.send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: status.roleArn,
      RoleSessionName: 'pod',
      WebIdentityToken: token,
    }),
  );
  const credentials = {
    accessKeyId: session.Credentials!.AccessKeyId!,
    secretAccessKey: session.Credentials!.SecretAccessKey!,
    sessionToken: session.Credentials!.SessionToken!,
  };
  pod = {
    iam: new IAMClient({ ...clientConfig(operator, credentials), maxAttempts: 1 }),
    sm: new SecretsManagerClient({ ...clientConfig(operator, credentials), maxAttempts: 1 }),
  };

  const reset = await fetch(`${endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
  expect(reset.ok).toBe(true);
});

afterAll(async () => {
  if (moto) await stopProcesses([moto]);
  await deleteNamespace(namespace);
  rmSync(dir, { recursive: true, force: true });
});

describe('IAM enforcement (private moto_server)', () => {
  it('refuses unknown credentials once enforcement is on', async () => {
    const stranger = new SecretsManagerClient({
      ...clientConfig({
        ...operator,
        accessKeyId: fakeAccessKeyId(),
        secretAccessKey: fakeSecretAccessKey(),
      }),
      maxAttempts: 1,
    });
    expect(await outcome(stranger.send(new ListSecretsCommand({})))).toBe('denied');
  });

  it("lets the identity's session do what its scopes allow and denies the rest", async () => {
    const secretId = secretName(ref.identity, ref.identity.spec.secrets![0]!);
    expect(await outcome(pod.sm.send(new ListSecretsCommand({})))).toBe('allowed');
    expect(
      await outcome(
        pod.sm.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' })),
      ),
    ).toBe('allowed');
    expect(await outcome(pod.iam.send(new ListRolesCommand({})))).toBe('allowed');
    expect(await outcome(pod.iam.send(new ListUsersCommand({})))).toBe('denied');
    expect(
      await outcome(
        pod.sm.send(new DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true })),
      ),
    ).toBe('denied');
  });

  it('quarantine cuts the running session off; restore gives the access back', async () => {
    await provider.quarantine(ref);
    expect(await outcome(pod.iam.send(new ListRolesCommand({})))).toBe('denied');
    expect(await outcome(pod.sm.send(new ListSecretsCommand({})))).toBe('denied');
    await provider.restore(ref);
    expect(await outcome(pod.iam.send(new ListRolesCommand({})))).toBe('allowed');
    expect(await outcome(pod.sm.send(new ListSecretsCommand({})))).toBe('allowed');
  });

  it('the operator works under enforcement with its own keys: drift check, then revoke', async () => {
    expect((await provider.observe(ref, { correctDrift: true })).drift).toEqual([]);
    await provider.revoke(ref);
    const iam = new IAMClient({ ...clientConfig(operator), maxAttempts: 1 });
    const sm = new SecretsManagerClient({ ...clientConfig(operator), maxAttempts: 1 });
    await expect(
      iam.send(new GetRoleCommand({ RoleName: roleName(provider.config.roleNamePrefix, ref.identity) })),
    ).rejects.toMatchObject({ name: 'NoSuchEntityException' });
    await expect(
      sm.send(
        new DescribeSecretCommand({ SecretId: secretName(ref.identity, ref.identity.spec.secrets![0]!) }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
