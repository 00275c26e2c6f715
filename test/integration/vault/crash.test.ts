// A crash between any two provider calls, against the real OpenBao: the port stops after call N
// (before the server acts, or after it acted but before the provider learns the result), then a
// fresh provider call runs against the real server. Nothing may be leaked or duplicated.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdentityRef } from '../../../src/providers/types.ts';
import {
  type VaultProviderOptions,
  vaultPortFromSpec,
  vaultProviderOptions,
} from '../../../src/providers/vault/factory.ts';
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
const namespace = uniqueName('vault-crash');
const secret = { name: 'token', backend: 'vault-kv' as const, generator: { type: 'hmac' as const } };

let operator: OperatorLogin;
let options: VaultProviderOptions;
let port: VaultPort;
let provider: VaultProvider;

function crashed(at: number, when: 'before' | 'after'): { provider: VaultProvider; crashed: () => boolean } {
  const crashing = crashingPort(port, at, when);
  return { provider: new VaultProvider(options, crashing.port, systemClock), crashed: crashing.crashed };
}

/** Runs `call` with a crash at port call `at`; false once the call finished before reaching it. */
async function crashesAt(at: number, when: 'before' | 'after', call: (p: VaultProvider) => Promise<unknown>) {
  const run = crashed(at, when);
  try {
    await call(run.provider);
  } catch (error) {
    if (!(error instanceof SimulatedCrash)) throw error;
  }
  return run.crashed();
}

/** Everything OpenBao holds under this identity's deterministic names, as the admin sees it. */
async function footprint(ref: IdentityRef) {
  const names = identityNames(ref);
  const policies = (await bao(addr, root, 'LIST', 'sys/policies/acl')).json.data.keys as string[];
  const roles = ((await bao(addr, root, 'LIST', `auth/${mount}/role`)).json.data?.keys ?? []) as string[];
  const secrets = ((await bao(addr, root, 'LIST', `${KV_MOUNT}/metadata/${names.kvFolder}/`)).json.data
    ?.keys ?? []) as string[];
  const record = (await bao(addr, root, 'GET', `${KV_MOUNT}/metadata/${names.ownerRecord}`)).status === 200;
  return {
    policies: policies.filter((p) => p.startsWith(names.base)),
    roles: roles.filter((r) => r.startsWith(names.base)),
    secrets,
    record,
  };
}

beforeAll(async () => {
  await createNamespace(namespace, ['agent']);
  operator = await operatorLogin(addr, root, mount);
  options = vaultProviderOptions(operator.spec, { tokenScanCacheMs: 0 });
  port = vaultPortFromSpec(operator.spec);
  provider = new VaultProvider(options, port, systemClock);
});

afterAll(async () => {
  await operator?.cleanup();
  await deleteNamespace(namespace);
});

describe('a crash during provision', () => {
  it('at any call, before or after the server acts: the next provision converges to one of each', async () => {
    let steps = 0;
    for (let at = 0; ; at++) {
      let reached = false;
      for (const when of ['before', 'after'] as const) {
        const ref = identityRef(namespace, 'agent', [{ path: 'shared/data/app/*', capabilities: ['read'] }]);
        const label = `crash at ${at} ${when}`;
        reached = await crashesAt(at, when, (p) => p.provision(ref));
        if (!reached) break;
        await provider.provision(ref);
        expect(await footprint(ref), label).toEqual({
          policies: [identityNames(ref).base],
          roles: [identityNames(ref).base],
          secrets: [],
          record: true,
        });
        expect(await provider.plan(ref), label).toEqual([]);
        await provider.revoke(ref);
      }
      if (!reached) break;
      steps++;
    }
    expect(steps).toBe(6); // read record, policy, role; write record, policy, role
  });

  it('the identity works after the recovered provision', async () => {
    const ref = identityRef(namespace, 'agent');
    expect(await crashesAt(4, 'after', (p) => p.provision(ref))).toBe(true);
    await provider.provision(ref);
    const login = await workloadLogin(
      addr,
      mount,
      identityNames(ref).base,
      await serviceAccountToken(namespace, 'agent'),
    );
    expect(login.status).toBe(200);
    await provider.revoke(ref);
  });
});

describe('a crash during revocation', () => {
  it('at any call: the next revoke removes everything, and never something foreign', async () => {
    const foreign = 'hand-made';
    let steps = 0;
    for (let at = 0; ; at++) {
      let reached = false;
      for (const when of ['before', 'after'] as const) {
        const ref = identityRef(namespace, 'agent');
        const names = identityNames(ref);
        const label = `crash at ${at} ${when}`;
        await provider.provision(ref);
        await provider.rotate(ref, secret);
        await bao(addr, root, 'POST', `${KV_MOUNT}/data/${names.kvFolder}/${foreign}`, {
          data: { value: 'x' },
          options: { cas: 0 },
        });
        await workloadLogin(addr, mount, names.base, await serviceAccountToken(namespace, 'agent'));

        reached = await crashesAt(at, when, (p) => p.revoke(ref));
        await provider.revoke(ref);
        expect(await footprint(ref), label).toEqual({
          policies: [],
          roles: [],
          secrets: [foreign],
          record: false,
        });
        await bao(addr, root, 'DELETE', `${KV_MOUNT}/metadata/${names.kvFolder}/${foreign}`);
        if (!reached) break;
      }
      if (!reached) break;
      steps++;
    }
    // reads and deletes of record, role, policy; the token scan (one lookup per live token on the
    // server) and revocation; list, read and delete of the secret; the record last
    expect(steps).toBeGreaterThanOrEqual(11);
  });
});
