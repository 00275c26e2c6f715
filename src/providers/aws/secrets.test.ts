import { describe, expect, it } from 'vitest';
import { agentIdentity, withSmSecrets } from '../../testing/agent-identity.ts';
import { NotOwnedError } from '../types.ts';
import { versionIdFor } from './names.ts';
import { secretsManagerWrites } from './port.ts';
import { AwsProvider } from './provider.ts';
import {
  crashAfterWrites,
  type FakeSecretsManager,
  fakeAwsProvider,
  SimulatedCrash,
} from './testing/fakes.ts';
import { irsaSpec, refFor } from './testing/fixtures.ts';

const SECRET = 'nhi/agents/bot/api-key';
const spec = {
  name: 'api-key',
  backend: 'aws-secrets-manager' as const,
  generator: { type: 'random' as const },
};
const bot = () => refFor(agentIdentity('bot', withSmSecrets('api-key')));

async function created() {
  const env = fakeAwsProvider();
  const ref = bot();
  await env.provider.provision(ref);
  env.sm.calls.length = 0;
  return { ...env, ref };
}

const stagesByValue = (sm: FakeSecretsManager) =>
  Object.fromEntries(
    [...sm.secrets.get(SECRET)!.versions.values()].map((v) => [v.value, [...v.stages].sort()]),
  );

describe('staged rotation', () => {
  it('writes the new value once as AWSPENDING, promotes it, and keeps the old one as AWSPREVIOUS', async () => {
    const { provider, sm, ref } = await created();
    const result = await provider.rotate(ref, spec);
    expect(result.writes).toBe(1);
    expect(sm.calls.map((c) => c.method)).toEqual([
      'putSecretValue',
      'updateSecretVersionStage',
      'updateSecretVersionStage',
    ]);
    expect(sm.calls[0]?.args[0]).toMatchObject({ id: SECRET, stages: ['AWSPENDING'] });
    expect(sm.calls[1]?.args[0]).toMatchObject({ id: SECRET, stage: 'AWSCURRENT' });
    expect(sm.calls[2]?.args[0]).toMatchObject({ id: SECRET, stage: 'AWSPENDING' });
    expect(stagesByValue(sm)).toEqual({ 'value-1': ['AWSPREVIOUS'], 'value-2': ['AWSCURRENT'] });
    expect(result.material).toMatchObject({
      current: { value: 'value-2', version: 2 },
      previous: { value: 'value-1', version: 1 },
    });
  });

  it('keeps stages right over three rotations', async () => {
    const { provider, sm, ref } = await created();
    for (const n of [2, 3, 4]) {
      const { material } = await provider.rotate(ref, spec);
      expect(material.current).toMatchObject({ value: `value-${n}`, version: n });
      expect(material.previous).toMatchObject({ value: `value-${n - 1}`, version: n - 1 });
      const stages = stagesByValue(sm);
      expect(stages[`value-${n}`]).toEqual(['AWSCURRENT']);
      expect(stages[`value-${n - 1}`]).toEqual(['AWSPREVIOUS']);
      expect(
        Object.values(stages)
          .flat()
          .filter((s) => s === 'AWSPENDING'),
      ).toEqual([]);
    }
  });

  it('reuses a leftover AWSPENDING value instead of writing another', async () => {
    const { provider, sm, ref } = await created();
    await sm.putSecretValue({
      id: SECRET,
      value: 'left-over',
      versionId: versionIdFor(2, 'a'.repeat(36)),
      stages: ['AWSPENDING'],
    });
    sm.calls.length = 0;
    const result = await provider.rotate(ref, spec);
    expect(result.writes).toBe(0);
    expect(result.material.current.value).toBe('left-over');
    expect(sm.calls.map((c) => c.method)).not.toContain('putSecretValue');
  });

  it('drops the AWSPENDING a promoted rotation left behind, then rotates as asked (a new value, not the one already current)', async () => {
    const { provider, sm, ref } = await created();
    await provider.rotate(ref, spec);
    const current = Object.entries(sm.stageMap(SECRET)).find(([, s]) => s.includes('AWSCURRENT'))![0];
    sm.secrets.get(SECRET)!.versions.get(current)!.stages.push('AWSPENDING');
    const result = await provider.rotate(ref, spec, { expectedCurrentVersion: 2 });
    expect(result.writes).toBe(1);
    expect(result.material.current.value).toBe('value-3');
    expect(stagesByValue(sm)['value-2']).toEqual(['AWSPREVIOUS']);
    expect(stagesByValue(sm)['value-3']).toEqual(['AWSCURRENT']);
  });

  it.each(
    [1, 2, 3].flatMap((n) => [
      [n, false],
      [n, true],
    ]),
  )(
    'after a crash at write %i (landed: %s), the retry ends with one new current value and no duplicate',
    async (n, lostResponse) => {
      const { sm, ref } = await created();
      const iam = fakeAwsProvider().iam;
      const crashing = AwsProvider.fromSpec(
        { aws: irsaSpec() },
        {
          iam,
          secretsManager: crashAfterWrites(sm, secretsManagerWrites, n, { lostResponse }),
          generate: () => 'new',
        },
      );
      // A landed-but-unanswered stage move is recognised by re-reading the labels, so that case completes.
      await crashing.rotate(ref, spec).catch((err: unknown) => expect(err).toBeInstanceOf(SimulatedCrash));
      const healthy = AwsProvider.fromSpec(
        { aws: irsaSpec() },
        { iam, secretsManager: sm, generate: () => 'newer' },
      );
      const retry = await healthy.rotate(ref, spec, { expectedCurrentVersion: 1 });
      const putLanded = n > 1 || lostResponse;
      expect(retry.writes).toBe(putLanded ? 0 : 1);
      expect(retry.material.current.value).toBe(putLanded ? 'new' : 'newer');
      expect(retry.material.previous?.value).toBe('value-1');
      expect(sm.secrets.get(SECRET)!.versions.size).toBe(2);
      expect(Object.values(stagesByValue(sm)).flat().sort()).toEqual(['AWSCURRENT', 'AWSPREVIOUS']);
    },
  );

  it('accepts a stage move whose first attempt landed but whose answer was lost', async () => {
    const { provider, sm, ref } = await created();
    const update = sm.updateSecretVersionStage.bind(sm);
    let first = true;
    sm.updateSecretVersionStage = async (input) => {
      await update(input);
      if (first) {
        first = false;
        await update(input); // the SDK's retry of a call that already landed fails like this
      }
    };
    const result = await provider.rotate(ref, spec);
    expect(result.material.current.value).toBe('value-2');
    expect(Object.values(stagesByValue(sm)).flat().sort()).toEqual(['AWSCURRENT', 'AWSPREVIOUS']);
  });

  it('writes nothing when the current version already moved past the expected one', async () => {
    const { provider, sm, ref } = await created();
    await provider.rotate(ref, spec);
    sm.calls.length = 0;
    const result = await provider.rotate(ref, spec, { expectedCurrentVersion: 1 });
    expect(result.writes).toBe(0);
    expect(sm.calls).toEqual([]);
  });

  it('creates a missing secret as its first rotation', async () => {
    const { provider, sm } = fakeAwsProvider();
    const result = await provider.rotate(bot(), spec);
    expect(result).toMatchObject({ writes: 1, material: { current: { value: 'value-1', version: 1 } } });
    expect(result.material.previous).toBeUndefined();
    expect(sm.calls.map((c) => c.method)).toEqual(['createSecret']);
  });

  it('refuses to rotate a secret that is not ours', async () => {
    const { provider, sm } = fakeAwsProvider();
    await sm.createSecret({
      name: SECRET,
      value: 'theirs',
      versionId: 'x'.repeat(32),
      description: '',
      tags: {},
    });
    await expect(provider.rotate(bot(), spec)).rejects.toBeInstanceOf(NotOwnedError);
    expect(sm.current(SECRET)).toBe('theirs');
  });

  it('never puts a value in a recorded request or error', async () => {
    const { provider, sm, ref } = await created();
    await provider.rotate(ref, spec);
    expect(JSON.stringify(sm.calls)).not.toMatch(/value-\d/);
  });
});

describe('creation races', () => {
  it.each([
    ['ours (our own create landed, its answer was lost)', true],
    ['not ours', false],
  ])('adopts or refuses a secret that appeared between our read and our create: %s', async (_, ours) => {
    const { provider, sm } = fakeAwsProvider();
    const ref = bot();
    const describe = sm.describeSecret.bind(sm);
    let hidden = true;
    sm.describeSecret = async (id) => (hidden ? undefined : describe(id));
    const create = sm.createSecret.bind(sm);
    sm.createSecret = async (input) => {
      hidden = false;
      await create(ours ? input : { ...input, tags: {} });
      return create(input);
    };
    if (ours) await expect(provider.provision(ref)).resolves.toMatchObject({ status: expect.any(Object) });
    else await expect(provider.provision(ref)).rejects.toBeInstanceOf(NotOwnedError);
    expect(sm.secrets.size).toBe(1);
  });

  it('treats a DeleteSecret whose retry fails after the first attempt landed as done', async () => {
    const { provider, sm, ref } = await created();
    const remove = sm.deleteSecret.bind(sm);
    sm.deleteSecret = async (id, how) => {
      await remove(id, how);
      throw new Error('InvalidRequestException: already scheduled for deletion');
    };
    await provider.revoke(ref);
    expect(sm.secrets.get(SECRET)?.deletedDate).toBeInstanceOf(Date);
  });
});

describe('readSecret and retirePrevious', () => {
  it('reads current and previous; after retirement only current', async () => {
    const { provider, sm, ref } = await created();
    await provider.rotate(ref, spec);
    expect(await provider.readSecret(ref, spec)).toMatchObject({
      current: { value: 'value-2' },
      previous: { value: 'value-1' },
    });
    await provider.retirePrevious(ref, spec);
    const material = await provider.readSecret(ref, spec);
    expect(material?.current.value).toBe('value-2');
    expect(material?.previous).toBeUndefined();
    expect(stagesByValue(sm)['value-1']).toEqual([]);
    await provider.retirePrevious(ref, spec);
  });

  it('reads nothing for an absent secret', async () => {
    const { provider } = fakeAwsProvider();
    expect(await provider.readSecret(bot(), spec)).toBeUndefined();
  });

  it('refuses secrets of another backend', async () => {
    const { provider } = fakeAwsProvider();
    await expect(provider.readSecret(bot(), { ...spec, backend: 'kubernetes' })).rejects.toThrow(
      /backend kubernetes/,
    );
  });
});
