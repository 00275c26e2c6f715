// Argo CD health for AgentIdentities, on objects from real reconciles: the real operator process
// takes identities through their lifecycle against the real apiserver (provisioning, the kill switch,
// orphan -> quarantine -> revocation, a policy violation, an unknown workload kind) while a watch
// records every version of each object the apiserver held. The real lua5.1 then runs the committed
// health check (config/argocd/health-agentidentity.lua) on the version of each state, in the sandbox
// Argo CD gives it, and the verdict must be the one test/fixtures/argocd/health-cases.ts names.
//
// NHI_WRITE_ARGOCD_FIXTURES=1 also writes the captured objects to test/fixtures/argocd/<state>.json,
// the fixtures of the unit suite (then run `npx biome format --write test/fixtures/argocd`).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Marks } from '../../../src/api/v1alpha1/annotations.ts';
import type { AgentIdentity, Condition } from '../../../src/api/v1alpha1/types.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { agentIdentity, withScopes, withSpec } from '../../../src/testing/agent-identity.ts';
import { type HealthCase, HealthCases } from '../../fixtures/argocd/health-cases.ts';
import { argoHealth } from '../../support/argocd-health.ts';
import {
  AGENT_IDENTITIES,
  conditionOf,
  createIdentity,
  installVaultProvider,
  newNamespace,
  removeProvider,
} from '../../support/cluster.ts';
import { kubeConfig } from '../../support/env.ts';
import { deployment, onTestCluster, readConfigMaps } from '../../support/fixtures.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually } from '../../support/wait.ts';

const kc = kubeConfig();
const apps = kc.makeApiClient(k8s.AppsV1Api);
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);

/** Every version of every AgentIdentity in one namespace, from the moment it starts. */
class Recorder {
  private readonly versions = new Map<string, AgentIdentity[]>();
  private controller: AbortController | undefined;

  constructor(readonly namespace: string) {}

  async start(): Promise<void> {
    // Watching from the list's resourceVersion delivers every change after it, none coalesced. Right
    // after the CRDs are (re)applied the apiserver answers 429 until its watch cache is ready.
    const list = await eventually(
      'a list of AgentIdentities',
      async () =>
        (await custom.listNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace: this.namespace })) as {
          metadata: { resourceVersion: string };
        },
    );
    this.controller = await new k8s.Watch(kc).watch(
      `/apis/${AGENT_IDENTITIES.group}/${AGENT_IDENTITIES.version}/namespaces/${this.namespace}/${AGENT_IDENTITIES.plural}`,
      { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: false },
      (type: string, object: AgentIdentity) => {
        if (type !== 'ADDED' && type !== 'MODIFIED') return;
        const name = object.metadata.name;
        this.versions.set(name, [...(this.versions.get(name) ?? []), structuredClone(object)]);
      },
      () => undefined,
    );
  }

  /** The first version of `name` for which `test` holds, waiting for it to appear. */
  first(
    name: string,
    what: string,
    test: (identity: AgentIdentity) => boolean,
    timeoutMs = 30_000,
  ): Promise<AgentIdentity> {
    return eventually(`${name}: ${what}`, async () => this.versions.get(name)?.find(test), {
      timeoutMs,
      intervalMs: 100,
    });
  }

  /** The versions of `name` recorded so far, oldest first. */
  history(name: string): readonly AgentIdentity[] {
    return this.versions.get(name) ?? [];
  }

  stop(): void {
    this.controller?.abort();
  }
}

const has =
  (type: string, status: Condition['status'], reason?: string) =>
  (identity: AgentIdentity): boolean => {
    const c = conditionOf(identity, type);
    return c?.status === status && (reason === undefined || c.reason === reason);
  };

let operator: OperatorProcess;
const recorders: Recorder[] = [];
const captured = new Map<string, AgentIdentity>();

/** A namespace of its own for a scenario, recorded from before its first object. */
async function scenario(): Promise<Recorder> {
  const recorder = new Recorder(await newNamespace('argocd-health'));
  await recorder.start();
  recorders.push(recorder);
  return recorder;
}

/**
 * The identity `name` next to a Deployment that runs as its ServiceAccount; with `vault`, it also
 * holds a Vault role, so its first visit records the backends before provisioning them (an identity
 * with Kubernetes credentials only is provisioned by its first visit).
 */
async function boundIdentity(ns: string, name: string, vault = false): Promise<void> {
  await apps.createNamespacedDeployment({ namespace: ns, body: deployment(name, name) });
  const scopes = vault
    ? [
        readConfigMaps,
        { provider: 'vault' as const, paths: [{ path: `secret/data/${ns}/*`, capabilities: ['read'] }] },
      ]
    : [readConfigMaps];
  await createIdentity(agentIdentity(name, onTestCluster(ns), withScopes(...scopes)));
}

function patchSpec(ns: string, name: string, spec: Record<string, unknown>): Promise<unknown> {
  return custom.patchNamespacedCustomObject(
    { ...AGENT_IDENTITIES, namespace: ns, name, body: { spec } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}

const healthCase = (state: string): HealthCase => {
  const found = HealthCases.find((c) => c.state === state);
  if (!found) throw new Error(`no health case ${state} in test/fixtures/argocd/health-cases.ts`);
  return found;
};

/** Argo CD's verdict on the captured object must be the one its state names. */
async function expectHealth(state: string, identity: AgentIdentity): Promise<void> {
  captured.set(state, identity);
  const expected = healthCase(state);
  const health = await argoHealth(identity);
  expect(health.status, `${state}: ${health.message}`).toBe(expected.status);
  expect(health.message).toMatch(expected.message);
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  await installVaultProvider();
  operator = startOperatorProcess();
});

afterAll(async () => {
  for (const recorder of recorders) recorder.stop();
  await operator?.stop();
  await removeProvider('vault');
  if (process.env.NHI_WRITE_ARGOCD_FIXTURES) {
    for (const [state, identity] of captured) {
      const { managedFields: _noise, ...metadata } = identity.metadata as AgentIdentity['metadata'] & {
        managedFields?: unknown;
      };
      writeFileSync(
        join(repoRoot, 'test', 'fixtures', 'argocd', `${state}.json`),
        `${JSON.stringify({ ...identity, metadata }, null, 2)}\n`,
      );
    }
  }
});

describe('Argo CD health of AgentIdentities from real reconciles', () => {
  it('is Progressing from creation through the first visit, then Healthy, never Degraded on the way', async () => {
    const recorder = await scenario();
    await boundIdentity(recorder.namespace, 'support-bot', true);
    await expectHealth('created', await recorder.first('support-bot', 'created', (i) => !i.status));
    await expectHealth(
      'first-visit',
      await recorder.first(
        'support-bot',
        'status without conditions',
        (i) => i.status !== undefined && (i.status.conditions ?? []).length === 0,
      ),
    );
    const ready = await recorder.first('support-bot', 'Ready', has('Ready', 'True'));
    await expectHealth('ready', ready);

    const history = recorder.history('support-bot');
    const upToReady = history.slice(0, history.indexOf(ready) + 1);
    const verdicts = await Promise.all(upToReady.map((version) => argoHealth(version)));
    expect(verdicts.map((h) => h.status)).toEqual([
      ...upToReady.slice(1).map(() => 'Progressing'),
      'Healthy',
    ]);
  });

  it('is Suspended while locked by the kill switch, and Healthy again once unlocked', async () => {
    const recorder = await scenario();
    const ns = recorder.namespace;
    await boundIdentity(ns, 'locked-bot');
    await recorder.first('locked-bot', 'Ready', has('Ready', 'True'));

    await patchSpec(ns, 'locked-bot', { locked: true });
    await expectHealth(
      'generation-behind',
      await recorder.first(
        'locked-bot',
        'generation 2 not reconciled yet',
        (i) => i.metadata.generation === 2 && i.status?.observedGeneration === 1,
      ),
    );
    await expectHealth(
      'locked',
      await recorder.first('locked-bot', 'locked', has('Quarantined', 'True', 'Locked')),
    );

    await patchSpec(ns, 'locked-bot', { locked: false });
    const unlocked = await recorder.first(
      'locked-bot',
      'restored',
      (i) => i.status?.observedGeneration === 3 && has('Ready', 'True')(i),
    );
    expect(conditionOf(unlocked, 'Quarantined')?.reason).toBe('Restored');
    await expectHealth('unlocked', unlocked);
  });

  it('is Progressing while the workload is missing within its grace, then Degraded in quarantine and after revocation', async () => {
    const recorder = await scenario();
    const ns = recorder.namespace;
    await boundIdentity(ns, 'orphan-bot');
    await recorder.first('orphan-bot', 'Ready', has('Ready', 'True'));

    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'orphan-bot' });
    await expectHealth(
      'workload-missing',
      await recorder.first(
        'orphan-bot',
        'in the orphan grace period',
        (i) =>
          has('WorkloadBound', 'False', 'WorkloadMissing')(i) && has('Orphaned', 'False', 'GracePeriod')(i),
      ),
    );
    await expectHealth(
      'orphaned',
      await recorder.first('orphan-bot', 'quarantined', has('Quarantined', 'True', 'Orphaned')),
    );
    await expectHealth(
      'revoked',
      await recorder.first('orphan-bot', 'revoked', has('Revoked', 'True'), 40_000),
    );
  });

  it('is Degraded once the identity breaks the IdentityPolicy (its namespace became staging)', async () => {
    const recorder = await scenario();
    const ns = recorder.namespace;
    await boundIdentity(ns, 'denied-bot');
    await recorder.first('denied-bot', 'Ready', has('Ready', 'True'));

    await core.patchNamespace(
      { name: ns, body: { metadata: { labels: { [Marks.environment]: 'staging' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await expectHealth(
      'policy-denied',
      await recorder.first('denied-bot', 'out of policy', has('PolicyCompliant', 'False')),
    );
  });

  it('is Degraded when the workloadRef names a kind the cluster does not serve', async () => {
    const recorder = await scenario();
    await createIdentity(
      agentIdentity(
        'mystery',
        onTestCluster(recorder.namespace),
        withSpec({ workloadRef: { apiVersion: 'example.com/v1', kind: 'Frobnicator', name: 'x' } }),
      ),
    );
    await expectHealth(
      'unknown-kind',
      await recorder.first('mystery', 'unresolvable', has('Provisioned', 'False', 'WorkloadUnresolvable')),
    );
  });

  it('has checked every state of test/fixtures/argocd/health-cases.ts', () => {
    expect([...captured.keys()].sort()).toEqual(HealthCases.map((c) => c.state).sort());
  });
});
