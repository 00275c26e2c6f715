// Request shapes of the SDK adapters (clients replaced by a recorder of the commands sent) and the
// mapping of SDK errors to the provider's typed errors.

import type { EKSClient } from '@aws-sdk/client-eks';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { ProviderError, ThrottledError, UnavailableError } from '../types.ts';
import { eksAdapter } from './adapter-eks.ts';
import { iamAdapter, parsePolicyDocument } from './adapter-iam.ts';
import { secretsManagerAdapter } from './adapter-secrets-manager.ts';
import { sdkClientConfig } from './factory.ts';
import { AlreadyExistsError } from './port.ts';
import { awsError } from './sdk-errors.ts';

interface Sent {
  command: string;
  input: Record<string, unknown>;
}

/** A stand-in SDK client: records each command and answers from `reply` (or throws what it returns). */
function recorder<C>(reply: (command: string, input: Record<string, unknown>) => unknown = () => ({})) {
  const sent: Sent[] = [];
  const client = {
    async send(cmd: { constructor: { name: string }; input: Record<string, unknown> }) {
      const command = cmd.constructor.name.replace(/Command$/, '');
      sent.push({ command, input: cmd.input });
      const answer = reply(command, cmd.input);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  return { sent, client: client as unknown as C };
}

const sdkError = (name: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), { name, ...extra });

describe('EKS adapter (Pod Identity; not verifiable against moto)', () => {
  it('creates an association with cluster, namespace, ServiceAccount, role and tags', async () => {
    const { sent, client } = recorder<EKSClient>(() => ({
      association: { associationId: 'a-1', roleArn: 'arn:role' },
    }));
    const created = await eksAdapter(client).createPodIdentityAssociation({
      clusterName: 'prod',
      namespace: 'agents',
      serviceAccount: 'bot',
      roleArn: 'arn:role',
      tags: { 'nhi.dev/identity-uid': 'u1' },
    });
    expect(sent).toEqual([
      {
        command: 'CreatePodIdentityAssociation',
        input: {
          clusterName: 'prod',
          namespace: 'agents',
          serviceAccount: 'bot',
          roleArn: 'arn:role',
          tags: { 'nhi.dev/identity-uid': 'u1' },
        },
      },
    ]);
    expect(created.associationId).toBe('a-1');
  });

  it('finds an association by listing for the ServiceAccount, then describing it', async () => {
    const { sent, client } = recorder<EKSClient>((command) =>
      command === 'ListPodIdentityAssociations'
        ? { associations: [{ associationId: 'a-9' }] }
        : { association: { roleArn: 'arn:role', tags: { k: 'v' } } },
    );
    const found = await eksAdapter(client).findPodIdentityAssociation('prod', 'agents', 'bot');
    expect(found).toEqual({ associationId: 'a-9', roleArn: 'arn:role', tags: { k: 'v' } });
    expect(sent).toEqual([
      {
        command: 'ListPodIdentityAssociations',
        input: { clusterName: 'prod', namespace: 'agents', serviceAccount: 'bot' },
      },
      { command: 'DescribePodIdentityAssociation', input: { clusterName: 'prod', associationId: 'a-9' } },
    ]);
  });

  it('treats a missing association as already deleted', async () => {
    const { client } = recorder<EKSClient>(() => sdkError('ResourceNotFoundException'));
    expect(await eksAdapter(client).deletePodIdentityAssociation('prod', 'a-1')).toBe(false);
  });
});

describe('IAM adapter', () => {
  it('creates a role with path, trust, boundary, session duration and tags as a list', async () => {
    const { sent, client } = recorder<IAMClient>(() => ({
      Role: { RoleName: 'r', Arn: 'arn', Path: '/nhi/' },
    }));
    await iamAdapter(client).createRole({
      name: 'r',
      path: '/nhi/',
      trustPolicy: '{}',
      description: 'd',
      maxSessionDuration: 3600,
      boundaryArn: 'arn:b',
      tags: { a: '1' },
    });
    expect(sent[0]).toEqual({
      command: 'CreateRole',
      input: {
        RoleName: 'r',
        Path: '/nhi/',
        AssumeRolePolicyDocument: '{}',
        Description: 'd',
        MaxSessionDuration: 3600,
        PermissionsBoundary: 'arn:b',
        Tags: [{ Key: 'a', Value: '1' }],
      },
    });
  });

  it('returns undefined for a missing role and decodes policy documents', async () => {
    const { client } = recorder<IAMClient>(() => sdkError('NoSuchEntityException'));
    expect(await iamAdapter(client).getRole('nope')).toBeUndefined();
    expect(parsePolicyDocument(encodeURIComponent('{"a":[1]}'))).toEqual({ a: [1] });
    expect(parsePolicyDocument('{"b":"100%"}')).toEqual({ b: '100%' });
  });
});

describe('Secrets Manager adapter', () => {
  it('puts a value with its version id and stages, and reads by version id', async () => {
    const { sent, client } = recorder<SecretsManagerClient>((command) =>
      command === 'GetSecretValue' ? { VersionId: 'v2', SecretString: 's' } : {},
    );
    const sm = secretsManagerAdapter(client);
    await sm.putSecretValue({ id: 'n', value: 's', versionId: 'v2', stages: ['AWSPENDING'] });
    await sm.getSecretValue('n', 'v2');
    expect(sent).toEqual([
      {
        command: 'PutSecretValue',
        input: { SecretId: 'n', SecretString: 's', ClientRequestToken: 'v2', VersionStages: ['AWSPENDING'] },
      },
      { command: 'GetSecretValue', input: { SecretId: 'n', VersionId: 'v2' } },
    ]);
  });

  it.each([
    [{ recoveryWindowDays: 7 }, { SecretId: 'n', RecoveryWindowInDays: 7 }],
    [{ force: true as const }, { SecretId: 'n', ForceDeleteWithoutRecovery: true }],
  ])('deletes with %j', async (options, input) => {
    const { sent, client } = recorder<SecretsManagerClient>();
    await secretsManagerAdapter(client).deleteSecret('n', options);
    expect(sent).toEqual([{ command: 'DeleteSecret', input }]);
  });
});

describe('SDK error mapping', () => {
  it.each([
    ['Throttling', {}, ThrottledError],
    ['ThrottlingException', {}, ThrottledError],
    ['TooManyRequestsException', {}, ThrottledError],
    ['SomethingNew', { $retryable: { throttling: true } }, ThrottledError],
    ['ServiceFailureException', {}, UnavailableError],
    ['InternalServiceError', {}, UnavailableError],
    ['SomethingNew', { $fault: 'server' }, UnavailableError],
    ['SomethingNew', { $metadata: { httpStatusCode: 503 } }, UnavailableError],
    ['Error', { code: 'ECONNRESET' }, UnavailableError],
    ['TimeoutError', {}, UnavailableError],
    ['EntityAlreadyExistsException', {}, AlreadyExistsError],
    ['ResourceExistsException', {}, AlreadyExistsError],
    ['MalformedPolicyDocumentException', {}, ProviderError],
  ])('%s %j -> %s', (name, extra, type) => {
    const mapped = awsError(sdkError(name, extra), 'PutRolePolicy');
    expect(mapped).toBeInstanceOf(type);
    expect(mapped.message).toContain('PutRolePolicy');
  });
});

describe('client configuration', () => {
  it('uses adaptive retries, the endpoint override, and the default credential chain', () => {
    const config = sdkClientConfig({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:5000' });
    expect(config).toMatchObject({
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:5000',
      retryMode: 'adaptive',
      maxAttempts: 5,
    });
    expect(config).not.toHaveProperty('credentials');
  });
});
