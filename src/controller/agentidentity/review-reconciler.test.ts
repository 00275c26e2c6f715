// Review findings on the AgentIdentity reconciler, each a failing specification of the safe behaviour.
// The reconciler runs against the real KubernetesProvider over the in-memory FakeKubernetesPort, plus
// a scripted `vault` provider whose calls can be made to fail.

import type * as k8s from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AgentIdentity, ClusterCredentialProvider, PolicyRule } from '../../api/v1alpha1/types.ts';
import { Marks } from '../../api/v1alpha1/types.ts';
import { ProviderRegistry } from '../../providers/registry.ts';
import type { CredentialProvider, IdentityRef } from '../../providers/types.ts';
import { UnavailableError } from '../../providers/types.ts';
import { LOCK_ANNOTATION } from './lifecycle.ts';
import { HARNESS_DRIFT_MS, HARNESS_NAMESPACE, ReconcilerHarness } from './testing.ts';

const NS = HARNESS_NAMESPACE;
const DRIFT_MS = HARNESS_DRIFT_MS;
const readConfigMaps: PolicyRule = { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] };
const readSecrets: PolicyRule = { apiGroups: [''], resources: ['secrets'], verbs: ['get'] };

/** A vault provider that does nothing but can be told to fail a phase. */
class ScriptedVault implements CredentialProvider {
  readonly kind = 'vault' as const;
  failProvision = false;
  failQuarantine = false;
  readonly calls: string[] = [];
  async plan() {
    return [];
  }
  async provision(_ref: IdentityRef) {
    this.calls.push('provision');
    if (this.failProvision) throw new UnavailableError('vault: connection refused');
    return { status: { role: 'r', policy: 'p' }, changes: [] };
  }
  async rotate(): Promise<never> {
    throw new Error('not used');
  }
  async readSecret() {
    return undefined;
  }
  async retirePrevious() {}
  async quarantine() {
    this.calls.push('quarantine');
    if (this.failQuarantine) throw new UnavailableError('vault: connection refused');
  }
  async restore() {
    this.calls.push('restore');
  }
  async revoke() {
    this.calls.push('revoke');
  }
  async observe() {
    this.calls.push('observe');
    return { drift: [], corrected: false };
  }
  async listOwned() {
    return [];
  }
}

const vaultConfig: ClusterCredentialProvider = {
  apiVersion: 'nhi.dev/v1alpha1',
  kind: 'ClusterCredentialProvider',
  metadata: { name: 'vault', generation: 1 },
  spec: { vault: { address: 'http://127.0.0.1:1', auth: { tokenFile: { path: '/dev/null' } } } },
};

class Harness extends ReconcilerHarness {
  readonly vault = new ScriptedVault();
  pods: k8s.V1Pod[] = [];
  violation: (identity: AgentIdentity) => string[] = () => [];

  constructor(withVault: boolean) {
    super({
      workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'bot' },
      scopes: [
        { provider: 'kubernetes', rules: [readConfigMaps] },
        ...(withVault
          ? [{ provider: 'vault' as const, paths: [{ path: 'secret/data/crm/*', capabilities: ['read'] }] }]
          : []),
      ],
    });
    this.start({
      providers: new ProviderRegistry(this.kubernetes, () => [vaultConfig]).register(
        'vault',
        () => this.vault,
      ),
      workloads: {
        resolveKind: async () => ({ namespaced: true }),
        get: async (apiVersion, kind, namespace, name) => ({
          apiVersion,
          kind,
          metadata: { name, namespace },
          spec: { template: { spec: { serviceAccountName: 'bot' } } },
        }),
        podsUsingServiceAccount: async () => this.pods,
      },
      checkPolicy: (identity) => this.violation(identity),
    });
  }

  override settle() {
    return super.settle(3);
  }

  lock() {
    this.identity.metadata.annotations = { [LOCK_ANNOTATION]: 'alice at 10:00' };
  }

  roleBinding() {
    return this.port.peek('RoleBinding', NS, 'nhi-bot');
  }
}

describe('review: the kill switch and quarantine', () => {
  let h: Harness;
  beforeEach(async () => {
    h = new Harness(true);
    await h.settle();
    expect(h.condition('Ready')?.status).toBe('True');
    expect(h.roleBinding()).toBeDefined();
  });

  it('a locked identity whose quarantine failed is not reported Ready=True', async () => {
    h.vault.failQuarantine = true;
    h.lock();
    h.later(1000);
    await h.reconcile();
    // The lock was not carried out (vault refused), yet the identity reads as healthy and Active.
    expect(h.condition('Ready')?.status).not.toBe('True');
  });

  it('one unreachable backend does not stop the other backends from being quarantined', async () => {
    h.vault.failQuarantine = true;
    h.lock();
    h.later(1000);
    await h.reconcile();
    // The kubernetes provider was never asked: its RoleBinding still grants the ServiceAccount.
    expect(h.roleBinding()).toBeUndefined();
  });

  it('the kill switch is not delayed by the backoff of an earlier, unrelated provisioning failure', async () => {
    h.vault.failProvision = true;
    for (let i = 0; i < 7; i++) {
      h.later(10 * 60_000);
      await h.reconcile();
    }
    expect(h.identity.status?.failedAttempts).toBe(7);
    h.vault.failProvision = false;
    h.lock();
    h.later(1000);
    h.vault.calls.length = 0;
    await h.reconcile();
    // Today the reconcile returns early ({ requeueAfterMs: 127000 }): quarantine waits out the
    // provisioning backoff (up to 5 minutes), and not even the Locked condition is written.
    expect(h.vault.calls).toContain('quarantine');
    expect(h.condition('Quarantined')?.status).toBe('True');
    expect(h.roleBinding()).toBeUndefined();
  });
});

describe('review: drift correction and the policy guard', () => {
  it('drift correction never applies a spec the operator itself judged non-compliant', async () => {
    const h = new Harness(false);
    h.violation = (identity) =>
      JSON.stringify(identity.spec.scopes).includes('"secrets"')
        ? ['spec.scopes[0].rules[0].resources: secrets are forbidden in production']
        : [];
    await h.settle();
    expect(h.port.peek('Role', NS, 'nhi-bot')?.rules?.[0]?.resources).toEqual(['configmaps']);

    // Admission was bypassed: the spec now asks for a forbidden grant.
    h.identity.spec.scopes = [{ provider: 'kubernetes', rules: [readSecrets] }];
    h.identity.metadata.generation = 2;
    h.later(DRIFT_MS + 1000);
    await h.reconcile();
    expect(h.condition('PolicyCompliant')?.status).toBe('False');
    // "nothing is provisioned while the policy is violated" - but the drift check just did.
    expect(h.port.peek('Role', NS, 'nhi-bot')?.rules?.[0]?.resources).toEqual(['configmaps']);
  });

  it('a quarantined identity is still drift-checked: a RoleBinding put back is removed again', async () => {
    const h = new Harness(false);
    await h.settle();
    const binding = h.roleBinding();
    h.lock();
    h.later(1000);
    await h.reconcile();
    expect(h.condition('Quarantined')?.status).toBe('True');
    expect(h.roleBinding()).toBeUndefined();

    // Someone restores the binding (a backup restore, a GitOps re-sync of exported manifests).
    const { uid: _u, resourceVersion: _rv, ...metadata } = binding?.metadata ?? {};
    h.port.seed('RoleBinding', { ...(binding as k8s.V1RoleBinding), metadata });
    expect(h.roleBinding()?.metadata?.labels?.[Marks.identityUid]).toBe('uid-bot');
    for (let i = 0; i < 3; i++) {
      h.later(DRIFT_MS + 1000);
      await h.reconcile();
    }
    expect(h.roleBinding()).toBeUndefined();
  });
});

describe('review: status writes', () => {
  it('a steady-state reconcile of an identity with running pods writes no status', async () => {
    const h = new Harness(false);
    h.pods = [
      { metadata: { name: 'bot-1', namespace: NS }, spec: { serviceAccountName: 'bot', containers: [] } },
    ];
    await h.settle();
    h.later(1000);
    await h.reconcile();
    const writes = h.store.statusWrites;
    h.later(1000);
    await h.reconcile();
    // Every write is a watch event that enqueues the key again: a write per reconcile is a hot loop.
    expect(h.store.statusWrites).toBe(writes);
  });
});
