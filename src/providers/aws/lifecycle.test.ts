import { describe, expect, it } from 'vitest';
import { Marks } from '../../api/v1alpha1/annotations.ts';
import { agentIdentity, withAwsScopes, withSmSecrets } from '../../testing/agent-identity.ts';
import { NotOwnedError } from '../types.ts';
import { QUARANTINE_POLICY, roleName, SCOPES_POLICY } from './names.ts';
import { isQuarantinePolicy, podIdentityTrustPolicy, renderPolicy } from './policies.ts';
import { iamWrites } from './port.ts';
import { AwsProvider } from './provider.ts';
import { crashAfterWrites, type FakeIam, fakeAwsProvider, SimulatedCrash } from './testing/fakes.ts';
import { irsaSpec, refFor } from './testing/fixtures.ts';

const crm = {
  actions: ['secretsmanager:GetSecretValue'],
  resources: ['arn:aws:secretsmanager:us-east-1:1:secret:crm/*'],
};
const bot = () => refFor(agentIdentity('support-bot', withAwsScopes(crm), withSmSecrets('crm-api-key')));
const SECRET = 'nhi/agents/support-bot/crm-api-key';

type FakeRole = NonNullable<ReturnType<FakeIam['roles']['get']>>;

async function provisioned(spec = {}) {
  const env = fakeAwsProvider(spec);
  const ref = bot();
  await env.provider.provision(ref);
  const name = roleName('nhi-', ref.identity);
  const role = () => env.iam.roles.get(name)!;
  env.iam.calls.length = 0;
  env.sm.calls.length = 0;
  return { ...env, ref, name, role };
}

describe('observe: last use', () => {
  it.each([
    ['the role was used last', '2025-05-03T00:00:00Z', '2025-05-01T00:00:00Z', '2025-05-03T00:00:00Z'],
    ['the secret was read last', '2025-05-01T00:00:00Z', '2025-05-02T00:00:00Z', '2025-05-02T00:00:00Z'],
  ])('takes the latest signal when %s', async (_, roleUse, secretRead, expected) => {
    const { provider, ref, role, sm } = await provisioned();
    role().lastUsed = new Date(roleUse);
    sm.secrets.get(SECRET)!.lastAccessed = new Date(secretRead);
    expect((await provider.observe(ref, { correctDrift: false })).lastUsed).toEqual(new Date(expected));
  });

  it('reports no last use when neither signal exists', async () => {
    const { provider, ref } = await provisioned();
    const observation = await provider.observe(ref, { correctDrift: false });
    expect(observation).toEqual({ drift: [], corrected: false });
  });
});

describe('observe: drift', () => {
  const tamper = {
    'an attached managed policy': (r: FakeRole) =>
      r.attached.add('arn:aws:iam::aws:policy/AdministratorAccess'),
    'a foreign inline policy': (r: FakeRole) =>
      r.inline.set(
        'backdoor',
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
      ),
    'a widened inline policy': (r: FakeRole) =>
      r.inline.set(
        SCOPES_POLICY,
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
      ),
    'a wildcard trust policy': (r: FakeRole) => {
      r.trust =
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}';
    },
    'a removed boundary': (r: FakeRole) => {
      const { boundaryArn: _, ...rest } = r.input;
      r.input = rest;
    },
  };

  it.each(Object.entries(tamper))('detects %s without changing anything', async (_, change) => {
    const { provider, ref, role, iam } = await provisioned();
    change(role());
    const observation = await provider.observe(ref, { correctDrift: false });
    expect(observation.drift).toHaveLength(1);
    expect(observation.corrected).toBe(false);
    expect(iam.calls).toEqual([]);
  });

  it.each(Object.entries(tamper))('corrects %s and reports it', async (_, change) => {
    const { provider, ref, role } = await provisioned();
    const pristine = JSON.stringify([role().trust, [...role().inline], [...role().attached], role().input]);
    change(role());
    const observation = await provider.observe(ref, { correctDrift: true });
    expect(observation.corrected).toBe(true);
    expect(observation.drift).toHaveLength(1);
    expect(JSON.stringify([role().trust, [...role().inline], [...role().attached], role().input])).toBe(
      pristine,
    );
    expect((await provider.observe(ref, { correctDrift: false })).drift).toEqual([]);
  });

  it('names the attached policy it detached', async () => {
    const { provider, ref, role } = await provisioned();
    role().attached.add('arn:aws:iam::123456789012:policy/Admin');
    const { drift } = await provider.observe(ref, { correctDrift: true });
    expect(drift[0]).toMatchObject({
      field: 'attachedPolicies',
      detail: expect.stringContaining('policy/Admin'),
    });
  });

  it('reports and recreates a deleted role', async () => {
    const { provider, ref, iam, name } = await provisioned();
    iam.roles.delete(name);
    const { drift } = await provider.observe(ref, { correctDrift: true });
    expect(drift).toEqual([expect.objectContaining({ field: 'role', detail: 'role is missing' })]);
    expect(iam.roles.get(name)?.inline.has(SCOPES_POLICY)).toBe(true);
  });
});

describe('quarantine and restore', () => {
  it('adds the deny policy, cutting off sessions issued before now, and keeps the rest', async () => {
    const { provider, ref, role, clock } = await provisioned();
    await provider.quarantine(ref);
    const policy = JSON.parse(role().inline.get(QUARANTINE_POLICY)!);
    expect(isQuarantinePolicy(policy)).toBe(true);
    expect(policy.Statement[1].Condition.DateLessThan['aws:TokenIssueTime']).toBe(
      new Date(clock.now()).toISOString().replace('.000Z', 'Z'),
    );
    expect(role().inline.has(SCOPES_POLICY)).toBe(true);
  });

  it('is idempotent and not drift', async () => {
    const { provider, ref, iam } = await provisioned();
    await provider.quarantine(ref);
    await provider.quarantine(ref);
    expect(iam.writes()).toEqual(['putRolePolicy']);
    expect((await provider.observe(ref, { correctDrift: true })).drift).toEqual([]);
  });

  it('rewrites an altered quarantine policy when correcting drift', async () => {
    const { provider, ref, role } = await provisioned();
    await provider.quarantine(ref);
    role().inline.set(QUARANTINE_POLICY, '{"Version":"2012-10-17","Statement":[]}');
    const { drift } = await provider.observe(ref, { correctDrift: true });
    expect(drift.map((d) => d.field)).toEqual(['quarantinePolicy']);
    expect(isQuarantinePolicy(JSON.parse(role().inline.get(QUARANTINE_POLICY)!))).toBe(true);
  });

  it('restore removes only the quarantine policy', async () => {
    const { provider, ref, role } = await provisioned();
    await provider.quarantine(ref);
    await provider.restore(ref);
    expect([...role().inline.keys()]).toEqual([SCOPES_POLICY]);
    await provider.restore(ref);
  });
});

describe('revoke', () => {
  it('deletes policies, the role and the secret with a recovery window', async () => {
    const { provider, ref, iam, sm, name } = await provisioned({ secretsManager: { recoveryWindowDays: 7 } });
    iam.roles.get(name)!.attached.add('arn:aws:iam::aws:policy/ReadOnlyAccess');
    await provider.quarantine(ref);
    await provider.revoke(ref);
    expect(iam.roles.has(name)).toBe(false);
    expect(iam.writes().slice(1)).toEqual([
      'deleteRolePolicy',
      'detachRolePolicy',
      'deleteRolePolicy',
      'deleteRole',
    ]);
    expect(iam.calls.at(-2)?.args).toEqual([name, QUARANTINE_POLICY]);
    expect(sm.calls.at(-1)).toEqual({ method: 'deleteSecret', args: [SECRET, { recoveryWindowDays: 7 }] });
    expect(sm.secrets.get(SECRET)?.deletedDate).toBeInstanceOf(Date);
  });

  it('force-deletes secrets when configured', async () => {
    const { provider, ref, sm } = await provisioned({ secretsManager: { forceDelete: true } });
    await provider.revoke(ref);
    expect(sm.secrets.has(SECRET)).toBe(false);
  });

  it('finds tagged secrets no longer in the spec', async () => {
    const { provider, ref, sm } = await provisioned({ secretsManager: { forceDelete: true } });
    ref.identity.spec.secrets = [];
    await provider.revoke(ref);
    expect(sm.secrets.has(SECRET)).toBe(false);
  });

  it('treats already gone as success', async () => {
    const { provider, ref } = await provisioned();
    await provider.revoke(ref);
    await provider.revoke(ref);
  });

  it.each([1, 2, 3, 4])('finishes after a crash at write %i of the revocation', async (n) => {
    const {
      iam,
      sm,
      ref,
      name,
      provider: original,
    } = await provisioned({ secretsManager: { forceDelete: true } });
    iam.roles.get(name)!.attached.add('arn:aws:iam::aws:policy/ReadOnlyAccess');
    await original.quarantine(ref);
    const spec = { aws: irsaSpec({ secretsManager: { forceDelete: true } }) };
    const crashing = AwsProvider.fromSpec(spec, {
      iam: crashAfterWrites(iam, iamWrites, n),
      secretsManager: sm,
    });
    await expect(crashing.revoke(ref)).rejects.toBeInstanceOf(SimulatedCrash);
    // What is left still carries the quarantine deny (deleted last), or has no policies at all.
    const left = iam.roles.get(name);
    if (left)
      expect(left.inline.has(QUARANTINE_POLICY) || (left.inline.size === 0 && left.attached.size === 0)).toBe(
        true,
      );
    const provider = AwsProvider.fromSpec(spec, { iam, secretsManager: sm });
    await provider.revoke(ref);
    expect(iam.roles.size).toBe(0);
    expect(sm.secrets.size).toBe(0);
  });

  it('leaves roles and secrets of other identities alone', async () => {
    const { provider, iam, sm, ref } = await provisioned({ secretsManager: { forceDelete: true } });
    const other = refFor(agentIdentity('support-bot-2', withAwsScopes(crm), withSmSecrets('crm-api-key')));
    await provider.provision(other);
    await provider.revoke(ref);
    expect(iam.roles.has(roleName('nhi-', other.identity))).toBe(true);
    expect(sm.secrets.has('nhi/agents/support-bot-2/crm-api-key')).toBe(true);
    expect(sm.secrets.has(SECRET)).toBe(false);
  });
});

describe('pod identity mode', () => {
  const spec = { mode: 'pod-identity' as const, podIdentity: { clusterName: 'prod' } };

  it('trusts pods.eks.amazonaws.com and creates the association, without IRSA annotations', async () => {
    const { provider, iam, eks } = fakeAwsProvider(spec);
    const ref = bot();
    const result = await provider.provision(ref);
    expect(iam.calls[0]?.args[0]).toHaveProperty(
      'trustPolicy',
      renderPolicy(podIdentityTrustPolicy('prod', ref.subject, '123456789012')),
    );
    expect(eks.calls).toEqual([
      {
        method: 'createPodIdentityAssociation',
        args: [
          {
            clusterName: 'prod',
            namespace: 'agents',
            serviceAccount: 'support-bot',
            roleArn: result.status.roleArn,
            tags: expect.objectContaining({ [Marks.identityUid]: ref.identity.metadata.uid }),
          },
        ],
      },
    ]);
    expect(result.serviceAccountAnnotations).toBeUndefined();
    expect((await provider.provision(ref)).changes).toEqual([]);
  });

  it('refuses an association for the ServiceAccount made by someone else', async () => {
    const { provider, eks } = fakeAwsProvider(spec);
    const ref = bot();
    await eks.createPodIdentityAssociation({
      clusterName: 'prod',
      namespace: 'agents',
      serviceAccount: 'support-bot',
      roleArn: 'arn:x',
      tags: {},
    });
    await expect(provider.provision(ref)).rejects.toBeInstanceOf(NotOwnedError);
  });

  it('revoke deletes our association', async () => {
    const { provider, eks } = fakeAwsProvider(spec);
    const ref = bot();
    await provider.provision(ref);
    await provider.revoke(ref);
    expect(eks.associations.size).toBe(0);
  });
});

describe('write ceiling', () => {
  it('spaces writes to maxWritesPerSecond; reads are not limited', async () => {
    const { provider, clock } = fakeAwsProvider({ maxWritesPerSecond: 2 });
    const ref = refFor(agentIdentity('bot', withAwsScopes(crm), withSmSecrets('a', 'b', 'c')));
    await provider.provision(ref); // 5 writes: role, policy, three secrets
    await provider.plan(ref);
    expect(clock.waits.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1500);
  });
});
