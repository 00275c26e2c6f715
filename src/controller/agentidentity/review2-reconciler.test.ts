// Second review of the AgentIdentity reconciler: each test is a failing specification of the safe
// behaviour. The reconciler runs against the real KubernetesProvider over FakeKubernetesPort and real
// VaultProviders over FakeVaultPorts, one per ClusterCredentialProvider (two CCPs may share a port:
// the same Vault server under two names).

import { describe, expect, it } from 'vitest';
import type { AgentIdentity, ClusterCredentialProvider, PolicyRule } from '../../api/v1alpha1/types.ts';
import { ProviderRegistry } from '../../providers/registry.ts';
import { FakeVaultPort } from '../../providers/vault/fake-port.ts';
import { identityNames } from '../../providers/vault/naming.ts';
import { VaultProvider } from '../../providers/vault/provider.ts';
import { LOCK_ANNOTATION } from './lifecycle.ts';
import { identityRef } from './reconciler.ts';
import { HARNESS_DRIFT_MS, HARNESS_NAMESPACE, ReconcilerHarness } from './testing.ts';

const _NS = HARNESS_NAMESPACE;
const DRIFT_MS = HARNESS_DRIFT_MS;
const readConfigMaps: PolicyRule = { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] };

function ccp(name: string): ClusterCredentialProvider {
  return {
    apiVersion: 'nhi.dev/v1alpha1',
    kind: 'ClusterCredentialProvider',
    metadata: { name, uid: `uid-${name}`, generation: 1 },
    spec: { vault: { address: 'http://127.0.0.1:1', auth: { tokenFile: { path: '/dev/null' } } } },
  };
}

class Harness extends ReconcilerHarness {
  configs: ClusterCredentialProvider[];

  /** `vaultPorts`: CCP name -> the Vault server it points at. */
  constructor(
    readonly vaultPorts: Record<string, FakeVaultPort>,
    spec: Partial<AgentIdentity['spec']>,
  ) {
    super(spec);
    this.configs = Object.keys(vaultPorts).map(ccp);
    const vaultClock = { now: () => this.now.getTime(), setTimer: () => () => {} };
    const providers = new ProviderRegistry(this.kubernetes, () => this.configs).register(
      'vault',
      (config) => {
        const port = vaultPorts[config.metadata.name];
        if (!port) throw new Error(`no port for ${config.metadata.name}`);
        return new VaultProvider(
          {
            name: config.metadata.name,
            kvMount: 'secret',
            kubernetesAuthMount: 'kubernetes',
            audience: 'vault',
            tokenMaxTtlSeconds: 3600,
            tokenAccessors: false,
          },
          port,
          vaultClock as never,
        );
      },
    );
    this.start({
      providers,
      workloads: {
        resolveKind: async () => ({ namespaced: true }),
        get: async () => undefined,
        podsUsingServiceAccount: async () => [],
      },
    });
  }

  names() {
    return identityNames(identityRef(this.identity));
  }

  changeSpec(change: (spec: AgentIdentity['spec']) => void) {
    change(this.identity.spec);
    this.identity.metadata.generation = (this.identity.metadata.generation ?? 1) + 1;
  }
}

const vaultScope = (providerRef?: string) => ({
  provider: 'vault' as const,
  ...(providerRef && { providerRef }),
  paths: [{ path: 'secret/data/crm/*', capabilities: ['read'] }],
});

describe('review 2: status.providers and stale revocation', () => {
  it('renaming the ClusterCredentialProvider of a Vault (same server, new name) deletes nothing still in use', async () => {
    const vault = new FakeVaultPort();
    const h = new Harness(
      { 'vault-old': vault, 'vault-new': vault },
      {
        scopes: [{ provider: 'kubernetes', rules: [readConfigMaps] }, vaultScope('vault-old')],
        secrets: [
          {
            name: 'api-key',
            backend: 'vault-kv',
            providerRef: 'vault-old',
            generator: { type: 'random', length: 32 },
            rotationInterval: '168h',
          },
        ],
      },
    );
    await h.settle();
    const { base, kvFolder } = h.names();
    const kvSecret = `secret/${kvFolder}/api-key`;
    expect(vault.kv.has(kvSecret)).toBe(true);
    expect(vault.roles.has(`kubernetes/${base}`)).toBe(true);

    // The platform team copies the CCP under a new name and the owner points the identity at it.
    h.changeSpec((spec) => {
      spec.scopes = [{ provider: 'kubernetes', rules: [readConfigMaps] }, vaultScope('vault-new')];
      for (const s of spec.secrets ?? []) s.providerRef = 'vault-new';
    });
    await h.settle();
    expect(h.condition('Provisioned')?.status).toBe('True');
    expect(h.identity.status?.providers).not.toContain('vault/vault-old');
    // vault-new adopted everything, then the "stale" vault-old revoke deleted it on the same server:
    // role, policy and the live KV secret (the next steady provision re-creates the role and calls it
    // drift; the secret value stays gone until the next rotation, a week away).
    expect(vault.kv.has(kvSecret)).toBe(true);
    expect(vault.roles.has(`kubernetes/${base}`)).toBe(true);
  });

  it('a vault-kv secret on another ClusterCredentialProvider than the vault scope is recorded and revoked at offboarding', async () => {
    const a = new FakeVaultPort();
    const b = new FakeVaultPort();
    const h = new Harness(
      { 'vault-a': a, 'vault-b': b },
      {
        scopes: [vaultScope('vault-a')],
        secrets: [
          {
            name: 'api-key',
            backend: 'vault-kv',
            providerRef: 'vault-b',
            generator: { type: 'random', length: 32 },
            rotationInterval: '168h',
          },
        ],
      },
    );
    await h.settle();
    const secretsInB = () => [...b.kv.keys()].filter((k) => k.includes(h.names().kvFolder));
    expect(secretsInB().length).toBeGreaterThan(0); // rotation wrote the value through vault-b

    h.identity.metadata.deletionTimestamp = h.now.toISOString();
    await h.settle();
    expect(h.identity.metadata.finalizers ?? []).toEqual([]);
    // status.providers only ever held vault/vault-a (one CCP per kind), so vault-b was never revoked.
    expect(secretsInB()).toEqual([]);
  });

  it('offboarding blocked by a deleted ClusterCredentialProvider says so in status or an Event', async () => {
    const a = new FakeVaultPort();
    const h = new Harness({ 'vault-a': a }, { scopes: [vaultScope('vault-a')] });
    await h.settle();
    expect(h.identity.status?.providers).toContain('vault/vault-a');

    h.configs = []; // the CCP is deleted (or renamed)
    h.identity.metadata.deletionTimestamp = h.now.toISOString();
    for (let i = 0; i < 3; i++) {
      await h.reconcile().catch(() => {});
      h.later(60_000);
    }
    // The identity hangs in Terminating forever; only the operator log says why.
    const told =
      h.events.some((e) => e.type === 'Warning' && e.message.includes('vault/vault-a')) ||
      (h.identity.status?.conditions ?? []).some((c) => c.message.includes('vault/vault-a'));
    expect(told).toBe(true);
  });
});

describe('review 2: rotation across quarantine and restore', () => {
  it('quarantine/restore cycles do not postpone the rotation of a vault-kv secret forever', async () => {
    const vault = new FakeVaultPort();
    const h = new Harness(
      { vault },
      {
        scopes: [vaultScope()],
        secrets: [
          {
            name: 'api-key',
            backend: 'vault-kv',
            generator: { type: 'random', length: 32 },
            rotationInterval: '1h',
          },
        ],
      },
    );
    await h.settle();
    const first = h.identity.status?.secrets?.[0];
    expect(first?.currentVersion).toBeDefined();

    // A flapping workload, or an on-call engineer locking and unlocking: each restore happens just
    // before the rotation is due. Four intervals pass.
    for (let i = 0; i < 4; i++) {
      h.later(50 * 60_000);
      h.identity.metadata.annotations = { [LOCK_ANNOTATION]: 'oncall' };
      await h.settle();
      expect(h.condition('Quarantined')?.status).toBe('True');
      h.later(5 * 60_000);
      h.identity.metadata.annotations = {};
      await h.settle();
      expect(h.condition('Quarantined')?.status).toBe('False');
    }
    // The value in Vault was never changed by quarantine or restore, yet each restore stamped
    // lastRotated=now: the 1h secret is now 3h40m old and still not due.
    expect(h.identity.status?.secrets?.[0]?.currentVersion).not.toBe(first?.currentVersion);
  });
});

describe('review 2: drift records', () => {
  it('one drift found by the drift check is recorded once, not twice', async () => {
    const vault = new FakeVaultPort();
    const h = new Harness({ vault }, { scopes: [vaultScope()] });
    await h.settle();
    const key = `kubernetes/${h.names().base}`;
    const role = vault.roles.get(key);
    expect(role).toBeDefined();
    // Someone widens the role's token TTL behind the operator's back.
    vault.roles.set(key, { ...(role as object), tokenTtlSeconds: 86_400 } as never);
    h.later(DRIFT_MS + 1000);
    const before = h.audit.records.length;
    await h.reconcile();
    const drift = h.audit.records.slice(before).filter((r) => r.action === 'drift-corrected');
    expect(drift.length).toBeGreaterThan(0);
    // provisionAll (steady) records the restore, then correctDrift records the same drift again.
    expect(drift).toHaveLength(1);
    expect(h.events.filter((e) => e.reason === 'DriftCorrected')).toHaveLength(1);
  });
});
