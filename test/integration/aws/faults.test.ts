// Through a proxy that throttles, answers 503 and resets connections (before moto sees a request, or
// after moto applied it and the answer is lost): with the SDK's retries the provider's calls succeed;
// without them every failure is a typed, retryable error, and once the faults stop one more call
// converges — exactly one role, one secret, no duplicate versions, and nothing deleted on the way.
// After throttling, the SDK's adaptive retry mode rate-limits the client for a while: these tests
// spend most of their time in that (intended) client-side back-off.

import { CreateRoleCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  ListSecretVersionIdsCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roleName, secretName } from '../../../src/providers/aws/names.ts';
import { scopesPolicy } from '../../../src/providers/aws/policies.ts';
import { refFor } from '../../../src/providers/aws/testing/fixtures.ts';
import { ThrottledError, UnavailableError } from '../../../src/providers/types.ts';
import {
  agentIdentity,
  inNamespace,
  withAwsScopes,
  withSmSecrets,
} from '../../../src/testing/agent-identity.ts';
import { testEnv } from '../../support/env.ts';
import { uniqueName } from '../../support/wait.ts';
import { type Fault, type FaultProxy, startFaultProxy } from './fault-proxy.ts';
import { type AwsFixture, awsFixture, describeRole, iamClient, realProvider, smClient } from './support.ts';

const namespace = uniqueName('aws-faults');
const iam = iamClient();
const sm = smClient();
const scope = { actions: ['s3:GetObject'], resources: ['arn:aws:s3:::reports/*'] };
const kinds: Fault[] = ['throttle', 'unavailable', 'reset-before', 'reset-after'];
let fixture: AwsFixture;
let proxy: FaultProxy;

const newIdentity = () =>
  refFor(
    agentIdentity(uniqueName('bot'), inNamespace(namespace), withAwsScopes(scope), withSmSecrets('api-key')),
  );
const every = (k: number) => (n: number) => (n % k === 0 ? kinds[(n / k) % kinds.length] : undefined);
const deletes = () => proxy.forwarded.filter((c) => /^(Delete|Detach|Remove)/.test(c.action));

async function expectConverged(ref: ReturnType<typeof newIdentity>) {
  const name = roleName('nhi-', ref.identity);
  const roles = (await iam.send(new ListRolesCommand({ PathPrefix: fixture.rolePath }))).Roles ?? [];
  expect(roles.filter((r) => r.RoleName === name)).toHaveLength(1);
  const role = await describeRole(iam, name);
  expect(role.inline).toEqual({ 'nhi-scopes': scopesPolicy([{ provider: 'aws', ...scope }]) });
  expect(role.boundary).toBe(fixture.boundaryArn);
  const secret = await sm.send(
    new DescribeSecretCommand({ SecretId: secretName(ref.identity, ref.identity.spec.secrets![0]!) }),
  );
  expect(secret.DeletedDate).toBeUndefined();
}

beforeAll(async () => {
  fixture = await awsFixture();
  proxy = await startFaultProxy(testEnv().aws.endpoint, () => undefined);
});

afterAll(async () => {
  await proxy?.close();
});

describe('faults between the provider and AWS', () => {
  it("with the SDK's adaptive retries, provision, rotations, drift checks and revoke succeed through the faults", async () => {
    const provider = realProvider({ ...fixture.spec, endpoint: proxy.endpoint }, testEnv().aws, {
      maxAttempts: 4,
    });
    const ref = newIdentity();
    const spec = ref.identity.spec.secrets![0]!;
    proxy.schedule = every(4);
    await provider.provision(ref);
    for (let version = 1; version <= 3; version++)
      await provider.rotate(ref, spec, { expectedCurrentVersion: version });
    expect((await provider.observe(ref, { correctDrift: true })).drift).toEqual([]);
    proxy.schedule = () => undefined;
    await expectConverged(ref);
    const versions = await sm.send(
      new ListSecretVersionIdsCommand({ SecretId: secretName(ref.identity, spec), IncludeDeprecated: true }),
    );
    expect(versions.Versions).toHaveLength(4);
    expect(new Set(proxy.faults.map((f) => f.fault))).toEqual(new Set(kinds));
    expect(deletes()).toEqual([]);
    await provider.revoke(ref);
  });

  it('without SDK retries, failures are typed and retryable; once the faults stop the next call converges and nothing was deleted', async () => {
    const provider = realProvider({ ...fixture.spec, endpoint: proxy.endpoint }, testEnv().aws, {
      maxAttempts: 1,
    });
    const ref = newIdentity();
    const unmanagedRole = `nhi-${namespace}-unmanaged`;
    await iam.send(
      new CreateRoleCommand({
        RoleName: unmanagedRole,
        Path: fixture.rolePath,
        AssumeRolePolicyDocument: '{"Version":"2012-10-17","Statement":[]}',
      }),
    );
    await sm.send(
      new CreateSecretCommand({ Name: `nhi/${namespace}/unmanaged/api-key`, SecretString: 'unmanaged' }),
    );
    proxy.forwarded.length = 0;
    proxy.faults.length = 0;
    proxy.schedule = every(2);
    const errors: unknown[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      await provider.provision(ref).catch((err: unknown) => errors.push(err));
    }
    expect(errors.length).toBeGreaterThan(0);
    for (const err of errors)
      expect(err instanceof ThrottledError || err instanceof UnavailableError, String(err)).toBe(true);

    proxy.schedule = () => undefined;
    await provider.provision(ref);
    await expectConverged(ref);
    expect(deletes()).toEqual([]);
    expect((await describeRole(iam, unmanagedRole)).arn).toContain(unmanagedRole);
    expect(
      (await sm.send(new DescribeSecretCommand({ SecretId: `nhi/${namespace}/unmanaged/api-key` })))
        .DeletedDate,
    ).toBeUndefined();
    await provider.revoke(ref);
  });
});
