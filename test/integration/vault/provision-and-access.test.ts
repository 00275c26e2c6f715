// The Vault/OpenBao provider against the real OpenBao dev server and the real apiserver, authenticated
// as the operator would be in production: kubernetes auth with its own ServiceAccount token and
// only the minimal policy from operatorPolicy(). Workloads log in with TokenRequest tokens.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotOwnedError } from '../../../src/providers/types.ts';
import { identityNames } from '../../../src/providers/vault/names.ts';
import { VaultProvider } from '../../../src/providers/vault/provider.ts';
import { testEnv } from '../../support/env.ts';
import { eventually, uniqueName } from '../../support/wait.ts';
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
const namespace = uniqueName('vault-access');
const secret = {
  name: 'api-key',
  backend: 'vault-kv' as const,
  generator: { type: 'random' as const, length: 32 },
};
const bot = identityRef(namespace, 'bot', [{ path: 'shared/data/crm/*', capabilities: ['read'] }]);
const other = identityRef(namespace, 'other');
const botNames = identityNames(bot);
const otherNames = identityNames(other);

let operator: OperatorLogin;
let provider: VaultProvider;

async function loginAs(ref: typeof bot) {
  const names = identityNames(ref);
  return workloadLogin(
    addr,
    mount,
    names.base,
    await serviceAccountToken(namespace, ref.subject.serviceAccountName),
  );
}

async function readAs(token: string, path: string) {
  return (await bao(addr, token, 'GET', path)).status;
}

beforeAll(async () => {
  await createNamespace(namespace, ['bot', 'other']);
  // `shared/` is a KV v2 mount outside the operator's reach, granted to bot through its scope.
  await bao(addr, root, 'POST', 'sys/mounts/shared', { type: 'kv', options: { version: '2' } });
  await bao(addr, root, 'POST', 'shared/data/crm/contacts', { data: { rows: '3' } });
  operator = await operatorLogin(addr, root, mount);
  provider = VaultProvider.fromSpec(operator.spec, { tokenScanCacheMs: 0 });
  await provider.provision(bot);
  await provider.provision(other);
  await provider.rotate(bot, secret);
  await provider.rotate(other, secret);
});

afterAll(async () => {
  await provider?.revoke(bot).catch(() => {});
  await provider?.revoke(other).catch(() => {});
  await operator?.cleanup();
  await deleteNamespace(namespace);
});

describe('provisioning', () => {
  it('creates a role bound to exactly the ServiceAccount, with the TTLs, audience and policy', async () => {
    const role = await bao(addr, root, 'GET', `auth/${mount}/role/${botNames.base}`);
    expect(role.json.data).toMatchObject({
      bound_service_account_names: ['bot'],
      bound_service_account_namespaces: [namespace],
      token_policies: [botNames.base],
      token_ttl: 300,
      token_max_ttl: 1800,
      token_type: 'service',
      audience: 'nhi-vault-test',
    });
    const again = await provider.provision(bot);
    expect(again.changes).toEqual([]);
  });

  it('lets the ServiceAccount log in, read its scope and its own secrets, and nothing else', async () => {
    const login = await loginAs(bot);
    expect(login.status).toBe(200);
    const token = login.token!;
    expect(await readAs(token, 'shared/data/crm/contacts')).toBe(200);
    expect(await readAs(token, `${KV_MOUNT}/data/${botNames.kvFolder}/api-key`)).toBe(200);
    expect(await readAs(token, `${KV_MOUNT}/data/${otherNames.kvFolder}/api-key`)).toBe(403);
    expect(await readAs(token, 'sys/policies/acl')).toBe(403);
    expect(await readAs(token, 'sys/mounts')).toBe(403);
  });

  it('refuses another ServiceAccount and a token for another audience', async () => {
    const wrongAccount = await workloadLogin(
      addr,
      mount,
      botNames.base,
      await serviceAccountToken(namespace, 'other'),
    );
    expect(wrongAccount.status).toBe(403);
    const wrongAudience = await workloadLogin(
      addr,
      mount,
      botNames.base,
      await serviceAccountToken(namespace, 'bot', 'some-other-audience'),
    );
    expect(wrongAudience.status).not.toBe(200);
  });

  it('refuses a same-named policy it does not own and leaves it untouched', async () => {
    const intruder = identityRef(namespace, 'intruder');
    const name = identityNames(intruder).base;
    const policy = 'path "shared/*" {\n  capabilities = ["read"]\n}\n';
    await bao(addr, root, 'PUT', `sys/policies/acl/${name}`, { policy });
    await expect(provider.provision(intruder)).rejects.toBeInstanceOf(NotOwnedError);
    await provider.revoke(intruder);
    expect((await bao(addr, root, 'GET', `sys/policies/acl/${name}`)).json.data.policy).toBe(policy);
    await bao(addr, root, 'DELETE', `sys/policies/acl/${name}`);
  });
});

describe('observation', () => {
  it('reports the last login as last use', async () => {
    const before = Date.now() - 1000;
    await loginAs(other);
    const observation = await provider.observe(other, { correctDrift: false });
    expect(observation.lastUsed?.getTime()).toBeGreaterThanOrEqual(before);
  });

  it('reports a widened role and an edited policy, and restores both when asked', async () => {
    await bao(addr, root, 'POST', `auth/${mount}/role/${otherNames.base}`, {
      bound_service_account_names: ['*'],
    });
    const policy = (await bao(addr, root, 'GET', `sys/policies/acl/${otherNames.base}`)).json.data.policy;
    await bao(addr, root, 'PUT', `sys/policies/acl/${otherNames.base}`, {
      policy: `${policy}path "shared/*" { capabilities = ["read"] }\n`,
    });

    const seen = await provider.observe(other, { correctDrift: false });
    expect(seen.drift.map((d) => d.field).sort()).toEqual(['bound_service_account_names', 'policy']);
    const fixed = await provider.observe(other, { correctDrift: true });
    expect(fixed.corrected).toBe(true);
    expect((await provider.observe(other, { correctDrift: false })).drift).toEqual([]);
    const role = await bao(addr, root, 'GET', `auth/${mount}/role/${otherNames.base}`);
    expect(role.json.data.bound_service_account_names).toEqual(['other']);
  });
});

describe('quarantine, restore and revocation', () => {
  it('quarantine disarms a token obtained before and makes new logins fail; restore brings both back', async () => {
    const before = await loginAs(bot);
    const token = before.token!;
    expect(await readAs(token, `${KV_MOUNT}/data/${botNames.kvFolder}/api-key`)).toBe(200);

    await provider.quarantine(bot);
    expect((await bao(addr, root, 'POST', 'auth/token/lookup', { token })).status).not.toBe(200); // revoked
    expect(await readAs(token, `${KV_MOUNT}/data/${botNames.kvFolder}/api-key`)).toBe(403);
    expect(await readAs(token, 'shared/data/crm/contacts')).toBe(403);
    expect((await loginAs(bot)).status).toBe(403);
    // Routine reconciles keep the quarantine.
    await provider.provision(bot);
    expect((await loginAs(bot)).status).toBe(403);

    await provider.restore(bot);
    const after = await loginAs(bot);
    expect(after.status).toBe(200);
    expect(await readAs(after.token!, `${KV_MOUNT}/data/${botNames.kvFolder}/api-key`)).toBe(200);
  });

  it('the deny policy alone disarms issued tokens at once, even without token revocation', async () => {
    const policyOnly = VaultProvider.fromSpec(operator.spec, { tokenAccessors: false });
    const token = (await loginAs(other)).token!;
    await policyOnly.quarantine(other);
    expect((await bao(addr, root, 'POST', 'auth/token/lookup', { token })).status).toBe(200); // still exists
    expect(await readAs(token, `${KV_MOUNT}/data/${otherNames.kvFolder}/api-key`)).toBe(403);
    await policyOnly.restore(other);
    expect(await readAs(token, `${KV_MOUNT}/data/${otherNames.kvFolder}/api-key`)).toBe(200);
  });

  it('revocation deletes role, policy, KV data and metadata; the other identity still works', async () => {
    const issued = (await loginAs(bot)).token!;

    await provider.revoke(bot);
    expect((await bao(addr, root, 'GET', `auth/${mount}/role/${botNames.base}`)).status).toBe(404);
    expect((await bao(addr, root, 'GET', `sys/policies/acl/${botNames.base}`)).status).toBe(404);
    expect((await bao(addr, root, 'GET', `${KV_MOUNT}/metadata/${botNames.kvFolder}/api-key`)).status).toBe(
      404,
    );
    expect((await bao(addr, root, 'GET', `${KV_MOUNT}/metadata/${botNames.ownerRecord}`)).status).toBe(404);
    expect((await bao(addr, root, 'POST', 'auth/token/lookup', { token: issued })).status).not.toBe(200);
    expect((await loginAs(bot)).status).not.toBe(200);

    const survivor = await eventually(
      'the other identity to log in',
      async () => (await loginAs(other)).token,
    );
    expect(await readAs(survivor, `${KV_MOUNT}/data/${otherNames.kvFolder}/api-key`)).toBe(200);
  });
});
