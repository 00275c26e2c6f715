// Staged rotation on moto's Secrets Manager: stages after each rotation, a consumer reading all the
// while, a crashed rotation's leftover AWSPENDING reused, and AWSPREVIOUS retired.
//
// moto quirk: after UpdateSecretVersionStage moves AWSCURRENT, GetSecretValue *without* a stage
// still returns moto's stale default version (real Secrets Manager returns AWSCURRENT). Consumers
// here ask for VersionStage AWSCURRENT explicitly, as the provider does.

import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import { beforeAll, describe, expect, it } from 'vitest';
import { secretName, versionIdFor } from '../../../src/providers/aws/names.ts';
import type { AwsProvider } from '../../../src/providers/aws/provider.ts';
import { refFor } from '../../../src/providers/aws/testing/fixtures.ts';
import type { IdentityRef } from '../../../src/providers/types.ts';
import { agentIdentity, inNamespace, withSmSecrets } from '../../../src/testing/agent-identity.ts';
import { uniqueName } from '../../support/wait.ts';
import { type AwsFixture, awsFixture, realProvider, smClient } from './support.ts';

const namespace = uniqueName('aws-rot');
const sm = smClient();
let fixture: AwsFixture;
let provider: AwsProvider;

const spec = {
  name: 'api-key',
  backend: 'aws-secrets-manager' as const,
  generator: { type: 'random' as const, length: 40 },
};

async function provisioned(): Promise<{ ref: IdentityRef; id: string }> {
  const ref = refFor(agentIdentity(uniqueName('bot'), inNamespace(namespace), withSmSecrets('api-key')));
  await provider.provision(ref);
  return { ref, id: secretName(ref.identity, spec) };
}

async function stages(id: string): Promise<Record<string, string[]>> {
  const out = await sm.send(new DescribeSecretCommand({ SecretId: id }));
  return Object.fromEntries(Object.entries(out.VersionIdsToStages ?? {}).filter(([, s]) => s.length > 0));
}

beforeAll(async () => {
  fixture = await awsFixture();
  provider = realProvider(fixture.spec);
});

describe('Secrets Manager rotation against moto', () => {
  it('three rotations: stages right each time, and a concurrent consumer only ever sees current or previous', async () => {
    const { ref, id } = await provisioned();
    const initial = await provider.readSecret(ref, spec);
    const history = [initial!.current.value]; // history[i] = the value rotation i made current
    let completed = 0;
    let stop = false;
    const reads: Array<{ value: string; startedAfter: number; endedAfter: number }> = [];
    let readErrors = 0;

    const consumer = (async () => {
      while (!stop) {
        const startedAfter = completed;
        try {
          const out = await sm.send(new GetSecretValueCommand({ SecretId: id, VersionStage: 'AWSCURRENT' }));
          reads.push({ value: out.SecretString ?? '', startedAfter, endedAfter: completed });
        } catch {
          readErrors++;
        }
      }
    })();

    for (let i = 1; i <= 3; i++) {
      const result = await provider.rotate(ref, spec, { expectedCurrentVersion: i });
      expect(result.writes).toBe(1);
      history.push(result.material.current.value);
      completed = i;
      expect(result.material.current.version).toBe(i + 1);
      expect(result.material.previous?.value).toBe(history[i - 1]);
      const live = await stages(id);
      expect(live).toEqual({
        [result.material.current.id!]: ['AWSCURRENT'],
        [result.material.previous!.id!]: ['AWSPREVIOUS'],
      });
    }
    stop = true;
    await consumer;
    // A read that began after rotation s and ended before rotation e+2 resolved may only see the
    // value that was previous at its start (s-1) up to one promoted by a rotation still in flight (e+1).
    const bad = reads.filter(({ value, startedAfter, endedAfter }) => {
      const index = history.indexOf(value);
      return index < 0 || index < startedAfter - 1 || index > endedAfter + 1;
    });
    expect(bad).toEqual([]);
    expect(new Set(reads.map((r) => r.value)).size).toBeGreaterThan(1);
    expect(reads.length).toBeGreaterThan(3);
    expect(readErrors).toBe(0);
  });

  it('a crashed rotation leaves AWSPENDING behind; the next rotation promotes it without a second write', async () => {
    const { ref, id } = await provisioned();
    const leftover = 'value-written-before-the-crash-0123456789';
    const versionId = versionIdFor(2, crypto.randomUUID());
    await sm.send(
      new PutSecretValueCommand({
        SecretId: id,
        SecretString: leftover,
        ClientRequestToken: versionId,
        VersionStages: ['AWSPENDING'],
      }),
    );
    const result = await provider.rotate(ref, spec, { expectedCurrentVersion: 1 });
    expect(result.writes).toBe(0);
    expect(result.material.current).toMatchObject({ value: leftover, version: 2, id: versionId });
    const versions = await sm.send(new ListSecretVersionIdsCommand({ SecretId: id }));
    expect(versions.Versions).toHaveLength(2);
    expect(await stages(id)).toEqual({
      [versionId]: ['AWSCURRENT'],
      [result.material.previous!.id!]: ['AWSPREVIOUS'],
    });
  });

  it('a retried rotation whose first attempt landed writes nothing', async () => {
    const { ref } = await provisioned();
    const first = await provider.rotate(ref, spec, { expectedCurrentVersion: 1 });
    const retry = await provider.rotate(ref, spec, { expectedCurrentVersion: 1 });
    expect(retry.writes).toBe(0);
    expect(retry.material.current.value).toBe(first.material.current.value);
  });

  it('readSecret returns current and previous; retirePrevious removes AWSPREVIOUS', async () => {
    const { ref, id } = await provisioned();
    const rotated = await provider.rotate(ref, spec);
    expect(await provider.readSecret(ref, spec)).toEqual(rotated.material);
    await provider.retirePrevious(ref, spec);
    expect(await stages(id)).toEqual({ [rotated.material.current.id!]: ['AWSCURRENT'] });
    const material = await provider.readSecret(ref, spec);
    expect(material?.previous).toBeUndefined();
    await expect(
      sm.send(new GetSecretValueCommand({ SecretId: id, VersionStage: 'AWSPREVIOUS' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
