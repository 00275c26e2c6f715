// Staged KV v2 rotation against the real OpenBao: several rotations while a workload keeps reading,
// an overlap window before the previous value is retired, and a crash at every step of a rotation.

import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vaultPortFromSpec, vaultProviderOptions } from '../../../src/providers/vault/factory.ts';
import { identityNames } from '../../../src/providers/vault/names.ts';
import type { VaultPort } from '../../../src/providers/vault/port.ts';
import { VaultProvider } from '../../../src/providers/vault/provider.ts';
import { crashingPort, SimulatedCrash } from '../../../src/providers/vault/testing/fixtures.ts';
import { systemClock } from '../../../src/runtime/clock.ts';
import { testEnv } from '../../support/env.ts';
import { uniqueName } from '../../support/wait.ts';
import {
  bao,
  createNamespace,
  deleteNamespace,
  identityRef,
  KV_MOUNT,
  type OperatorLogin,
  operatorLogin,
  serviceAccountToken,
  workloadLogin,
} from './support.ts';

const env = testEnv();
const { addr, token: root, kubernetesAuthMount: mount } = env.bao;
const namespace = uniqueName('vault-rotation');
const secret = {
  name: 'db-password',
  backend: 'vault-kv' as const,
  generator: { type: 'random' as const, length: 24 },
};
const ref = identityRef(namespace, 'rag');
const names = identityNames(ref);
const path = `${names.kvFolder}/${secret.name}`;

let operator: OperatorLogin;
let provider: VaultProvider;
let port: VaultPort;

async function metadata() {
  return (await bao(addr, root, 'GET', `${KV_MOUNT}/metadata/${path}`)).json.data;
}

beforeAll(async () => {
  await createNamespace(namespace, ['rag']);
  operator = await operatorLogin(addr, root, mount);
  port = vaultPortFromSpec(operator.spec);
  provider = new VaultProvider(vaultProviderOptions(operator.spec), port, systemClock);
  await provider.provision(ref);
});

afterAll(async () => {
  await provider?.revoke(ref).catch(() => {});
  await operator?.cleanup();
  await deleteNamespace(namespace);
});

describe('staged rotation with a continuous reader', () => {
  it('always serves the current or the previous value, with one data write per rotation', async () => {
    const values: string[] = [(await provider.rotate(ref, secret)).material.current.value];
    let completed = 1; // rotations whose promotion finished
    const login = await workloadLogin(addr, mount, names.base, await serviceAccountToken(namespace, 'rag'));
    const workload = login.token!;

    // Checked once every value is known: the latest version is visible a moment before rotate() returns.
    const seen: Array<{ how: string; value: string | undefined; completedAtStart: number }> = [];
    let reads = 0;
    let stop = false;
    const check = (how: string, value: string | undefined, completedAtStart: number) => {
      seen.push({ how, value, completedAtStart });
    };
    const reader = (async () => {
      while (!stop) {
        const start = completed;
        // 1. As a workload that follows the metadata: read the version named current.
        const meta = await bao(addr, workload, 'GET', `${KV_MOUNT}/metadata/${path}`);
        const current = meta.json.data?.custom_metadata?.['nhi-current-version'];
        const byVersion = await bao(addr, workload, 'GET', `${KV_MOUNT}/data/${path}?version=${current}`);
        check('current version', byVersion.json.data?.data?.value, start);
        // 2. As a naive workload: read the latest version.
        const latest = await bao(addr, workload, 'GET', `${KV_MOUNT}/data/${path}`);
        check('latest version', latest.json.data?.data?.value, start);
        // 3. As the controller syncing a Kubernetes Secret.
        const material = await provider.readSecret(ref, secret);
        check('readSecret', material?.current.value, start);
        reads++;
      }
    })();

    for (let i = 0; i < 5; i++) {
      const result = await provider.rotate(ref, secret);
      expect(result.writes).toBe(1);
      values.push(result.material.current.value);
      completed++;
      expect(result.material.previous?.value).toBe(values.at(-2));
      await sleep(150); // the overlap window
      await provider.retirePrevious(ref, secret);
      await sleep(50);
    }
    stop = true;
    await reader;

    const problems = seen.flatMap(({ how, value, completedAtStart }) => {
      const index = value === undefined ? -1 : values.indexOf(value);
      if (index < 0) return [`${how}: a value that no rotation produced (or none)`];
      // current (completed - 1), previous (completed - 2), or a newer one already written
      if (index < completedAtStart - 2)
        return [`${how}: value ${index} read after rotation ${completedAtStart}`];
      return [];
    });
    expect(problems).toEqual([]);
    expect(reads).toBeGreaterThan(10);
    const meta = await metadata();
    expect(meta.current_version).toBe(6);
    expect(meta.max_versions).toBe(5);
    expect(meta.cas_required).toBe(true);
    expect(meta.custom_metadata['nhi-current-version']).toBe('6');
    expect(meta.custom_metadata['nhi-previous-version']).toBeUndefined();
    const destroyed = Object.entries(meta.versions as Record<string, { destroyed: boolean }>)
      .filter(([, v]) => v.destroyed)
      .map(([k]) => Number(k));
    expect(destroyed).toEqual(expect.arrayContaining([2, 3, 4, 5]));
    const material = await provider.readSecret(ref, secret);
    expect(material?.current).toMatchObject({ version: 6, value: values[5] });
    expect(material?.previous).toBeUndefined();
  });
});

describe('a crash at each step of a rotation', () => {
  it('leaves exactly one new version, promoted, after the next rotate', async () => {
    for (let at = 0; at < 6; at++) {
      for (const when of ['before', 'after'] as const) {
        const before = await metadata();
        const previousValue = (await provider.readSecret(ref, secret))!.current.value;
        const crashing = crashingPort(port, at, when);
        const crashed = new VaultProvider(vaultProviderOptions(operator.spec), crashing.port, systemClock);
        await expect(crashed.rotate(ref, secret), `crash at ${at} ${when}`).rejects.toBeInstanceOf(
          SimulatedCrash,
        );

        const promoted = (await metadata()).custom_metadata['nhi-current-version'];
        if (Number(promoted) === before.current_version) await provider.rotate(ref, secret);
        const after = await metadata();
        expect(after.current_version, `crash at ${at} ${when}`).toBe(before.current_version + 1);
        expect(after.custom_metadata['nhi-current-version']).toBe(String(before.current_version + 1));
        expect(after.custom_metadata['nhi-pending-version']).toBeUndefined();
        expect((await provider.readSecret(ref, secret))?.previous?.value).toBe(previousValue);
      }
    }
  });
});
