import { describe, expect, it } from 'vitest';
import { Marks } from '../../api/v1alpha1/annotations.ts';
import {
  agentIdentity,
  withAwsScopes,
  withCredentialTTL,
  withSmSecrets,
} from '../../testing/agent-identity.ts';
import { completedChanges, InvalidConfigError, NotOwnedError } from '../types.ts';
import { roleName, SCOPES_POLICY } from './names.ts';
import { irsaTrustPolicy, policyHash, renderPolicy, scopesPolicy } from './policies.ts';
import { iamWrites, secretsManagerWrites } from './port.ts';
import { AwsProvider } from './provider.ts';
import {
  crashAfterWrites,
  FakeIam,
  FakeSecretsManager,
  fakeAwsProvider,
  SimulatedCrash,
} from './testing/fakes.ts';
import { irsaSpec, refFor, TEST_BOUNDARY, TEST_ISSUER, TEST_OIDC_ARN } from './testing/fixtures.ts';

const crm = {
  actions: ['secretsmanager:GetSecretValue'],
  resources: ['arn:aws:secretsmanager:us-east-1:1:secret:crm/*'],
};

const setup = fakeAwsProvider;

const bot = () => refFor(agentIdentity('support-bot', withAwsScopes(crm), withSmSecrets('crm-api-key')));

describe('provision', () => {
  it('creates the role with trust policy, boundary, session duration and tags, then the inline policy', async () => {
    const { iam, provider } = setup();
    const ref = bot();
    await provider.provision(ref);
    const name = roleName('nhi-', ref.identity);
    expect(iam.calls[0]).toEqual({
      method: 'createRole',
      args: [
        {
          name,
          path: '/nhi/',
          trustPolicy: renderPolicy(irsaTrustPolicy(TEST_OIDC_ARN, TEST_ISSUER, ref.subject)),
          description: 'nhi-operator: AgentIdentity agents/support-bot',
          maxSessionDuration: 3600,
          boundaryArn: TEST_BOUNDARY,
          tags: expect.objectContaining({
            [Marks.identityUid]: ref.identity.metadata.uid,
            [Marks.managedBy]: 'nhi-operator',
          }),
        },
      ],
    });
    expect(iam.calls[1]).toEqual({
      method: 'putRolePolicy',
      args: [name, SCOPES_POLICY, renderPolicy(scopesPolicy([{ provider: 'aws', ...crm }])!)],
    });
  });

  it('returns the status fragment and the IRSA ServiceAccount annotations', async () => {
    const { provider } = setup();
    const ref = refFor(agentIdentity('bot', withAwsScopes(crm), withCredentialTTL('20m')));
    const result = await provider.provision(ref);
    const name = roleName('nhi-', ref.identity);
    expect(result.status).toEqual({
      roleArn: `arn:aws:iam::123456789012:role/nhi/${name}`,
      roleName: name,
      policyHash: policyHash(scopesPolicy([{ provider: 'aws', ...crm }])),
    });
    expect(result.serviceAccountAnnotations).toEqual({
      'eks.amazonaws.com/role-arn': `arn:aws:iam::123456789012:role/nhi/${name}`,
      'eks.amazonaws.com/token-expiration': '1200',
    });
  });

  it('creates each aws-secrets-manager secret once, tagged', async () => {
    const { sm, provider } = setup();
    const ref = bot();
    const result = await provider.provision(ref);
    expect([...sm.secrets.keys()]).toEqual(['nhi/agents/support-bot/crm-api-key']);
    expect(sm.secrets.get('nhi/agents/support-bot/crm-api-key')?.tags[Marks.identityUid]).toBe(
      ref.identity.metadata.uid,
    );
    expect(result.changes.map((c) => c.action)).toEqual(['create-role', 'put-scopes', 'create-secret']);
  });

  it('changes nothing the second time', async () => {
    const { iam, sm, provider } = setup();
    const ref = bot();
    await provider.provision(ref);
    const before = iam.calls.length + sm.calls.length;
    const again = await provider.provision(ref);
    expect(again.changes).toEqual([]);
    expect(iam.calls.length + sm.calls.length).toBe(before);
  });

  it('plans without writing', async () => {
    const { iam, sm, provider } = setup();
    const plan = await provider.plan(bot());
    expect(plan.map((c) => c.action)).toEqual(['create-role', 'put-scopes', 'create-secret']);
    expect(iam.calls).toEqual([]);
    expect(sm.calls).toEqual([]);
  });

  it('ignores scopes and secrets that name another provider', async () => {
    const { iam, sm, provider } = AwsProviderWithName('aws-main');
    const ref = refFor(agentIdentity('bot', withAwsScopes({ ...crm, providerRef: 'aws-other' })));
    await provider.provision(ref);
    expect(iam.writes()).toEqual(['createRole']);
    expect(sm.calls).toEqual([]);
  });

  it('refuses a pod-identity configuration without an EKS client', () => {
    expect(() =>
      AwsProvider.fromSpec(
        { aws: { region: 'us-east-1', mode: 'pod-identity', podIdentity: { clusterName: 'c' } } },
        { iam: new FakeIam(), secretsManager: new FakeSecretsManager() },
      ),
    ).toThrow(InvalidConfigError);
  });
});

function AwsProviderWithName(name: string) {
  const iam = new FakeIam();
  const sm = new FakeSecretsManager();
  const provider = AwsProvider.fromSpec({ aws: irsaSpec() }, { iam, secretsManager: sm, name });
  return { iam, sm, provider };
}

describe('adoption and refusal', () => {
  it('adopts a role carrying our uid tag and converges it', async () => {
    const { iam, provider } = setup();
    const ref = bot();
    await provider.provision(ref);
    iam.roles.get(roleName('nhi-', ref.identity))!.inline.clear();
    const result = await provider.provision(ref);
    expect(result.changes.map((c) => c.action)).toEqual(['put-scopes']);
  });

  it.each([
    ['without our tag', {}],
    ['tagged for another identity', { [Marks.identityUid]: 'someone-else' }],
  ])('refuses a role with our name %s and leaves it untouched', async (_, tags) => {
    const { iam, provider } = setup();
    const ref = bot();
    const name = roleName('nhi-', ref.identity);
    await iam.createRole({
      name,
      path: '/nhi/',
      trustPolicy: '{}',
      description: 'x',
      maxSessionDuration: 3600,
      tags,
    });
    iam.calls.length = 0;
    await expect(provider.provision(ref)).rejects.toBeInstanceOf(NotOwnedError);
    await expect(provider.quarantine(ref)).rejects.toBeInstanceOf(NotOwnedError);
    await provider.revoke(ref);
    expect(iam.calls).toEqual([]);
    expect(iam.roles.get(name)?.trust).toBe('{}');
  });

  it('refuses a secret with our name but not our tag', async () => {
    const { sm, provider } = setup();
    const ref = bot();
    await sm.createSecret({
      name: 'nhi/agents/support-bot/crm-api-key',
      value: 'theirs',
      versionId: 'x'.repeat(32),
      description: '',
      tags: {},
    });
    await expect(provider.provision(ref)).rejects.toBeInstanceOf(NotOwnedError);
    await provider.revoke(ref);
    expect(sm.secrets.get('nhi/agents/support-bot/crm-api-key')?.deletedDate).toBeUndefined();
  });

  it.each([
    ['ours', true],
    ['not ours', false],
  ])('on EntityAlreadyExists re-reads and adopts or refuses (%s)', async (_, ours) => {
    const iam = new FakeIam();
    const ref = bot();
    const name = roleName('nhi-', ref.identity);
    // Another writer creates the role between our read and our create.
    let hidden = true;
    const racing = Object.assign(Object.create(iam) as FakeIam, {
      getRole: async (n: string) => (hidden ? undefined : iam.getRole(n)),
      createRole: async (input: Parameters<FakeIam['createRole']>[0]) => {
        hidden = false;
        await iam.createRole({ ...input, tags: ours ? input.tags : {} });
        return iam.createRole(input);
      },
    });
    const provider = AwsProvider.fromSpec(
      { aws: irsaSpec() },
      { iam: racing, secretsManager: new FakeSecretsManager() },
    );
    if (ours) {
      const result = await provider.provision(ref);
      expect(result.status.roleName).toBe(name);
      expect(iam.roles.get(name)?.inline.has(SCOPES_POLICY)).toBe(true);
    } else {
      await expect(provider.provision(ref)).rejects.toBeInstanceOf(NotOwnedError);
    }
  });
});

describe('crash between any two calls', () => {
  // A clean provision writes: IAM createRole, IAM putRolePolicy, then SM createSecret.
  const crashPoints = [
    ['after nothing (before CreateRole)', 1, Number.POSITIVE_INFINITY],
    ['after CreateRole', 2, Number.POSITIVE_INFINITY],
    ['after PutRolePolicy', Number.POSITIVE_INFINITY, 1],
  ] as const;

  it.each(
    crashPoints.flatMap(([what, iamAt, smAt]) => [
      [what, iamAt, smAt, false],
      [`${what}, the crashing call landed`, iamAt, smAt, true],
    ]),
  )(
    'crash %s: the next provision finishes with exactly one role and one secret',
    async (_, iamAt, smAt, lostResponse) => {
      const iam = new FakeIam();
      const sm = new FakeSecretsManager();
      const ref = bot();
      const crashing = AwsProvider.fromSpec(
        { aws: irsaSpec() },
        {
          iam: crashAfterWrites(iam, iamWrites, iamAt, { lostResponse }),
          secretsManager: crashAfterWrites(sm, secretsManagerWrites, smAt, { lostResponse }),
        },
      );
      await expect(crashing.provision(ref)).rejects.toBeInstanceOf(SimulatedCrash);
      const healthy = AwsProvider.fromSpec({ aws: irsaSpec() }, { iam, secretsManager: sm });
      await healthy.provision(ref);
      expect(await healthy.provision(ref)).toMatchObject({ changes: [] });
      expect([...iam.roles.keys()]).toEqual([roleName('nhi-', ref.identity)]);
      expect([...iam.roles.values()][0]?.inline.has(SCOPES_POLICY)).toBe(true);
      expect([...sm.secrets.keys()]).toEqual(['nhi/agents/support-bot/crm-api-key']);
      expect(Object.keys(sm.stageMap('nhi/agents/support-bot/crm-api-key'))).toHaveLength(1);
    },
  );
});

describe('writes completed before a failure', () => {
  it('a role created before its policy write failed travels on the error, so the caller can audit it', async () => {
    const iam = new FakeIam();
    const sm = new FakeSecretsManager();
    const ref = bot();
    // The first IAM write (CreateRole) lands; the second (the inline policy) fails.
    const crashing = AwsProvider.fromSpec(
      { aws: irsaSpec() },
      { iam: crashAfterWrites(iam, iamWrites, 2), secretsManager: sm },
    );
    const error = await crashing.provision(ref).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SimulatedCrash);
    expect(completedChanges(error).map((c) => c.action)).toEqual(['create-role']);
  });
});
