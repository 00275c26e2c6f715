// The scenario the reliability suites run against the real operator: identities with grants and a
// secret on each of the three backends (Kubernetes, OpenBao, AWS on moto), each given a fate — stay
// active with rotation requests one after another, be locked (quarantine), lose its workload (orphaned,
// then revoked) or be deleted (offboarded) — applied once the operator reported it Ready, and the test
// of whether it has reached the state its fate says.

import * as k8s from '@kubernetes/client-node';
import { Controls, lockValue } from '../../../src/api/v1alpha1/annotations.ts';
import type { AgentIdentity } from '../../../src/api/v1alpha1/types.ts';
import { agentIdentity, withScopes, withSpec } from '../../../src/testing/agent-identity.ts';
import { AGENT_IDENTITIES, conditionOf, createIdentity, getIdentity } from '../../support/cluster.ts';
import { kubeConfig } from '../../support/env.ts';
import { deployment, onTestCluster, readConfigMaps, withSecret } from '../../support/fixtures.ts';

export type Fate = 'active' | 'locked' | 'orphaned' | 'deleted';
export const FATES: readonly Fate[] = ['active', 'locked', 'orphaned', 'deleted'];

export interface Planned {
  namespace: string;
  name: string;
  fate: Fate;
  wave: number;
  uid?: string;
  /** The operator reported it Ready once: only then is its fate applied, so it acts on real credentials. */
  seenReady?: boolean;
  fateApplied?: boolean;
  /** ClusterCredentialProviders other than the default `aws` and `vault` (the storm's go through Toxiproxy). */
  providers?: { aws: string; vault: string };
  /** Rotation requests issued (each after the previous one was handled). */
  rotations: number;
  lastRequest?: string;
}

const kc = kubeConfig();
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const ADMIN = 'nhi-admin';

export function randomInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

export function identityFor(p: Planned): AgentIdentity {
  const aws = p.providers?.aws ? { providerRef: p.providers.aws } : {};
  const vault = p.providers?.vault ? { providerRef: p.providers.vault } : {};
  return agentIdentity(
    p.name,
    onTestCluster(p.namespace),
    withSpec({ orphanGracePeriod: '2s', quarantinePeriod: '3s' }),
    withScopes(
      readConfigMaps,
      {
        provider: 'aws',
        actions: ['secretsmanager:GetSecretValue'],
        resources: ['arn:aws:secretsmanager:us-east-1:123456789012:secret:crm/*'],
        ...aws,
      },
      {
        provider: 'vault',
        paths: [{ path: `secret/data/${p.namespace}/docs/*`, capabilities: ['read'] }],
        ...vault,
      },
    ),
    withSecret('k'),
    withSecret('a', { backend: 'aws-secrets-manager', ...aws }),
    withSecret('v', { backend: 'vault-kv', ...vault }),
  );
}

export async function patchMetadata(p: Planned, annotations: Record<string, string>): Promise<void> {
  await custom.patchNamespacedCustomObject(
    { ...AGENT_IDENTITIES, namespace: p.namespace, name: p.name, body: { metadata: { annotations } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}

export async function applyFate(p: Planned): Promise<void> {
  if (p.fate === 'locked')
    await patchMetadata(p, { [Controls.lock]: lockValue(ADMIN, new Date(), 'crash test') });
  if (p.fate === 'orphaned') await apps.deleteNamespacedDeployment({ namespace: p.namespace, name: p.name });
  if (p.fate === 'deleted')
    await custom.deleteNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace: p.namespace, name: p.name });
}

/**
 * Moves the scenario on between kills: the fate of every identity of waves up to `fatesUpTo` once it
 * was seen Ready, and for active identities a new rotation request as soon as every secret handled
 * the previous one (so each request must give exactly one new version of each secret), unless
 * `rotate` is false (while waiting for convergence).
 */
export async function driveIdentities(planned: Planned[], fatesUpTo: number, rotate = true): Promise<void> {
  const live = await listIdentities(planned);
  for (const p of planned) {
    if (p.fateApplied) continue;
    const identity = live.get(p.name);
    const secrets = identity?.status?.secrets ?? [];
    if (conditionOf(identity, 'Ready')?.status === 'True' && secrets.length === 3) p.seenReady = true;
    if (!p.seenReady) continue;
    if (p.fate !== 'active') {
      if (p.wave <= fatesUpTo) {
        await applyFate(p);
        p.fateApplied = true;
      }
      continue;
    }
    if (!rotate || (p.lastRequest && !secrets.every((s) => s.rotationRequest === p.lastRequest))) continue;
    p.lastRequest = new Date().toISOString();
    await patchMetadata(p, { [Controls.rotateRequestedAt]: p.lastRequest });
    p.rotations++;
  }
}

/** The run's identities by name, in one list call (namespaces of the run). */
export async function listIdentities(planned: Planned[]): Promise<Map<string, AgentIdentity>> {
  const out = new Map<string, AgentIdentity>();
  for (const namespace of new Set(planned.map((p) => p.namespace))) {
    const list = (await custom.listNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace })) as {
      items: AgentIdentity[];
    };
    for (const item of list.items) out.set(item.metadata.name, item);
  }
  return out;
}

export function reachedFate(p: Planned, identity: AgentIdentity | undefined): boolean {
  if (p.fate === 'deleted') return identity === undefined;
  const is = (type: string) => conditionOf(identity, type)?.status === 'True';
  if (p.fate === 'locked') return is('Quarantined');
  if (p.fate === 'orphaned') return is('Revoked');
  const secrets = identity?.status?.secrets ?? [];
  return (
    is('Ready') &&
    secrets.length === 3 &&
    (!p.lastRequest || secrets.every((s) => s.rotationRequest === p.lastRequest))
  );
}

/** Creates the Deployment and the identity, and records the uid the apiserver gave it. */
export async function createPlanned(p: Planned): Promise<void> {
  await apps.createNamespacedDeployment({ namespace: p.namespace, body: deployment(p.name, p.name) });
  await createIdentity(identityFor(p));
  const uid = (await getIdentity(p.namespace, p.name))?.metadata.uid;
  if (uid) p.uid = uid;
}
