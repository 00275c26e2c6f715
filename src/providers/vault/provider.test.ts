import { beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../runtime/testing/fake-clock.ts';
import { inNamespace, withUid, withVaultPaths } from '../../testing/agent-identity.ts';
import { NotOwnedError, UnavailableError } from '../types.ts';
import type { VaultProviderOptions } from './factory.ts';
import { identityNames } from './names.ts';
import { parsePolicyHeader } from './policy.ts';
import { VaultProvider } from './provider.ts';
import { QUARANTINE_SENTINEL } from './role.ts';
import { FakeVaultPort } from './testing/fake-port.ts';
import { crashingPort, identityRef, kvSecret, SimulatedCrash } from './testing/fixtures.ts';

const options: VaultProviderOptions = {
  kvMount: 'secret',
  kubernetesAuthMount: 'kubernetes',
  audience: 'vault',
  tokenMaxTtlSeconds: 3600,
};
const bot = identityRef(
  'bot',
  inNamespace('agents'),
  withVaultPaths({ path: 'secret/data/crm/*', capabilities: ['read'] }),
);
const names = identityNames(bot);
const clock = new FakeClock();

let port: FakeVaultPort;
let provider: VaultProvider;

beforeEach(() => {
  port = new FakeVaultPort(clock);
  provider = new VaultProvider(options, port, clock);
});

describe('provision', () => {
  it('creates the ownership record, then the policy, then a role bound to exactly the ServiceAccount', async () => {
    const result = await provider.provision(bot);
    expect(result.status).toEqual({ role: names.base, policy: names.base });
    expect(result.changes.map((c) => c.action)).toEqual(['create', 'create', 'create']);
    expect(port.writes()).toEqual(['writeKvMetadata', 'writePolicy', 'writeRole']);
    expect(port.roles.get(`kubernetes/${names.base}`)).toEqual({
      boundServiceAccountNames: ['bot'],
      boundServiceAccountNamespaces: ['agents'],
      boundServiceAccountNamespaceSelector: '',
      tokenPolicies: [names.base],
      tokenTtlSeconds: 900,
      tokenMaxTtlSeconds: 3600,
      tokenPeriodSeconds: 0,
      tokenType: 'service',
      audience: 'vault',
    });
    expect(port.policies.get(names.base)).toContain('path "secret/data/crm/*"');
  });

  it('changes nothing the second time', async () => {
    await provider.provision(bot);
    port.calls.length = 0;
    const again = await provider.provision(bot);
    expect(again.changes).toEqual([]);
    expect(port.writes()).toEqual([]);
  });

  it('rewrites only the policy when the scopes change', async () => {
    await provider.provision(bot);
    port.calls.length = 0;
    const wider = identityRef(
      'bot',
      inNamespace('agents'),
      withVaultPaths({ path: 'secret/data/crm/*', capabilities: ['read', 'list'] }),
    );
    const result = await provider.provision(wider);
    expect(result.changes).toEqual([
      expect.objectContaining({ action: 'update', resource: `vault:policy/${names.base}` }),
    ]);
    expect(port.writes()).toEqual(['writePolicy']);
  });

  it('plans without writing', async () => {
    const plan = await provider.plan(bot);
    expect(plan).toHaveLength(3);
    expect(port.writes()).toEqual([]);
  });

  it('adopts a policy that carries its header even when the record is missing', async () => {
    await provider.provision(bot);
    port.kv.delete(`secret/${names.ownerRecord}`);
    port.roles.clear();
    port.calls.length = 0;
    await provider.provision(bot);
    expect(port.writes()).toEqual(['writeKvMetadata', 'writeRole']);
  });

  it.each([
    [
      'a policy without our header',
      () => port.policies.set(names.base, 'path "x" { capabilities = ["read"] }'),
    ],
    [
      'a policy of another identity',
      () =>
        port.policies.set(
          names.base,
          `# managed-by nhi-operator identity-uid other\n# identity a/b\n# state active\n`,
        ),
    ],
    ['a role without an ownership record', () => port.roles.set(`kubernetes/${names.base}`, {} as never)],
    [
      'an ownership record of another uid',
      () =>
        port.kv.set(`secret/${names.ownerRecord}`, {
          metadataVersion: 1,
          maxVersions: 1,
          casRequired: true,
          currentVersion: 0,
          versions: new Map(),
          customMetadata: { 'app.kubernetes.io/managed-by': 'nhi-operator', 'nhi.dev/identity-uid': 'other' },
        }),
    ],
  ])('refuses %s with NotOwnedError and writes nothing', async (_, arrange) => {
    arrange();
    await expect(provider.provision(bot)).rejects.toBeInstanceOf(NotOwnedError);
    expect(port.writes()).toEqual([]);
  });
});

describe('quarantine and restore', () => {
  it('denies everything, makes logins impossible and revokes the role’s tokens', async () => {
    await provider.provision(bot);
    port.addLoginToken('kubernetes', names.base, '2025-01-01T00:00:00Z');
    const other = port.addLoginToken('kubernetes', 'nhi-other-role', '2025-01-01T00:00:00Z');
    await provider.quarantine(bot);
    expect(parsePolicyHeader(port.policies.get(names.base)!)?.state).toBe('quarantined');
    expect(port.policies.get(names.base)).toContain('path "*" {\n  capabilities = ["deny"]');
    expect(port.roles.get(`kubernetes/${names.base}`)?.boundServiceAccountNames).toEqual([
      QUARANTINE_SENTINEL,
    ]);
    expect([...port.tokens.keys()]).toEqual([other]);
  });

  it('is kept by provision and observe(correctDrift); only restore lifts it', async () => {
    await provider.provision(bot);
    await provider.quarantine(bot);
    await provider.provision(bot);
    await provider.observe(bot, { correctDrift: true });
    expect(parsePolicyHeader(port.policies.get(names.base)!)?.state).toBe('quarantined');
    await provider.restore(bot);
    expect(parsePolicyHeader(port.policies.get(names.base)!)?.state).toBe('active');
    expect(port.roles.get(`kubernetes/${names.base}`)?.boundServiceAccountNames).toEqual(['bot']);
  });

  it('does nothing for an identity never provisioned', async () => {
    await provider.quarantine(bot);
    expect(port.writes()).toEqual([]);
  });
});

describe('revoke', () => {
  it('deletes role, policy, tokens and the identity’s secrets, the ownership record last; leaves others alone', async () => {
    const other = identityRef('other', inNamespace('agents'), withUid('uid-other'));
    await provider.provision(bot);
    await provider.provision(other);
    await provider.rotate(bot, kvSecret('api-key'));
    port.kv.set('secret/nhi/agents/bot/hand-made', {
      ...port.kv.get('secret/nhi/agents/bot/api-key')!,
      customMetadata: {},
    });
    port.addLoginToken('kubernetes', names.base, '2025-01-01T00:00:00Z');
    port.calls.length = 0;
    await provider.revoke(bot);
    expect(port.writes().at(-1)).toBe('deleteKvMetadata');
    expect(port.policies.has(names.base)).toBe(false);
    expect(port.roles.has(`kubernetes/${names.base}`)).toBe(false);
    expect(port.kv.has(`secret/${names.ownerRecord}`)).toBe(false);
    expect(port.kv.has('secret/nhi/agents/bot/api-key')).toBe(false);
    expect(port.kv.has('secret/nhi/agents/bot/hand-made')).toBe(true);
    expect(port.tokens.size).toBe(0);
    expect(port.policies.has(identityNames(other).base)).toBe(true);
  });

  it('treats already gone as success and never touches a foreign policy', async () => {
    port.policies.set(names.base, 'path "x" { capabilities = ["read"] }');
    await provider.revoke(bot);
    await provider.revoke(bot);
    expect(port.policies.has(names.base)).toBe(true);
  });
});

describe('observe', () => {
  it('reports the latest login or renewal of the role’s tokens as last use', async () => {
    await provider.provision(bot);
    port.addLoginToken('kubernetes', names.base, '2025-01-01T10:00:00Z');
    port.addLoginToken('kubernetes', names.base, '2025-01-01T09:00:00Z');
    port.tokens.set('renewed', {
      accessor: 'renewed',
      path: 'auth/kubernetes/login',
      meta: { role: names.base },
      issueTime: '2025-01-01T08:00:00Z',
      lastRenewalTime: '2025-01-01T11:00:00Z',
    });
    port.addLoginToken('kubernetes', 'someone-else', '2025-01-02T00:00:00Z');
    port.tokens.set('other-mount', {
      accessor: 'other-mount',
      path: 'auth/userpass/login/x',
      meta: { role: names.base },
      issueTime: '2025-01-03T00:00:00Z',
    });
    const observation = await provider.observe(bot, { correctDrift: false });
    expect(observation.lastUsed?.toISOString()).toBe('2025-01-01T11:00:00.000Z');
    expect(observation.drift).toEqual([]);
  });

  it('reports each change made behind its back, and restores the desired state when asked', async () => {
    await provider.provision(bot);
    const role = port.roles.get(`kubernetes/${names.base}`)!;
    port.roles.set(`kubernetes/${names.base}`, {
      ...role,
      boundServiceAccountNames: ['*'],
      tokenPolicies: [names.base, 'admin'],
    });
    port.policies.set(
      names.base,
      `${port.policies.get(names.base)}\npath "sys/*" { capabilities = ["sudo"] }\n`,
    );

    const seen = await provider.observe(bot, { correctDrift: false });
    expect(seen.corrected).toBe(false);
    expect(seen.drift.map((d) => d.field)).toEqual([
      'policy',
      'bound_service_account_names',
      'token_policies',
    ]);
    expect(seen.drift[1]?.detail).toBe('expected [bot], found [*]');

    const fixed = await provider.observe(bot, { correctDrift: true });
    expect(fixed.corrected).toBe(true);
    expect((await provider.observe(bot, { correctDrift: false })).drift).toEqual([]);
    expect(port.roles.get(`kubernetes/${names.base}`)?.boundServiceAccountNames).toEqual(['bot']);
  });

  it('recreates a deleted role of a provisioned identity', async () => {
    await provider.provision(bot);
    port.roles.clear();
    const observation = await provider.observe(bot, { correctDrift: true });
    expect(observation.drift).toEqual([
      { resource: `vault:auth/kubernetes/role/${names.base}`, field: 'role', detail: 'missing' },
    ]);
    expect(port.roles.size).toBe(1);
  });
});

describe('a crash between any two calls', () => {
  const provisionCalls = 6; // 3 reads, 3 writes
  it.each(
    Array.from({ length: provisionCalls * 2 }, (_, i) => [i >> 1, i % 2 ? 'after' : 'before'] as const),
  )(
    'at provision call %i (%s the server acts) leaves nothing duplicated; the next provision converges',
    async (at, when) => {
      const crashing = crashingPort<FakeVaultPort>(port, at, when);
      await expect(new VaultProvider(options, crashing.port, clock).provision(bot)).rejects.toBeInstanceOf(
        SimulatedCrash,
      );
      expect(port.writes().filter((w) => w.startsWith('delete'))).toEqual([]);
      await provider.provision(bot);
      expect([...port.policies.keys()]).toEqual([names.base]);
      expect([...port.roles.keys()]).toEqual([`kubernetes/${names.base}`]);
      expect(await provider.plan(bot)).toEqual([]);
    },
  );

  it.each(Array.from({ length: 11 }, (_, i) => [i]))(
    'at revoke call %i: the next revoke finishes the job',
    async (at) => {
      await provider.provision(bot);
      await provider.rotate(bot, kvSecret('api-key'));
      port.addLoginToken('kubernetes', names.base, '2025-01-01T00:00:00Z');
      const crashing = crashingPort<FakeVaultPort>(port, at, 'after');
      await new VaultProvider(options, crashing.port, clock)
        .revoke(bot)
        .catch((e) => expect(e).toBeInstanceOf(SimulatedCrash));
      await provider.revoke(bot);
      expect(port.policies.size + port.roles.size + port.kv.size + port.tokens.size).toBe(0);
    },
  );

  it('a sealed server fails every call as unavailable and nothing is deleted', async () => {
    await provider.provision(bot);
    port.sealed = true;
    await expect(provider.revoke(bot)).rejects.toBeInstanceOf(UnavailableError);
    port.sealed = false;
    expect(port.policies.size).toBe(1);
  });
});
