// Fixtures for the suites that apply identities to a real cluster (e2e, chart, governance). The
// identity comes from the shared builder, placed on the test cluster by `onTestCluster`:
//   agentIdentity('bot', onTestCluster(ns), withScopes(readConfigMaps), withSecret('api-key'))

import type * as k8s from '@kubernetes/client-node';
import type { Scope, SecretSpec } from '../../src/api/v1alpha1/types.ts';
import {
  inEnvironment,
  inNamespace,
  type Modifier,
  withServiceAccount,
  withSpec,
  withUid,
  withWorkload,
} from '../../src/testing/agent-identity.ts';

/**
 * An identity as these suites apply it: in `namespace`, without a uid (the apiserver assigns one),
 * in development, bound to the Deployment and the ServiceAccount named like it, with a 720h ttl and
 * orphan grace and quarantine periods short enough to watch (3 s, 8 s). Put it first: later
 * modifiers override it.
 */
export const onTestCluster =
  (namespace: string): Modifier =>
  (identity) => {
    const modifiers = [
      inNamespace(namespace),
      withUid(undefined),
      inEnvironment('development'),
      withWorkload(),
      withServiceAccount(identity.metadata.name),
      withSpec({ ttl: '720h', credentialTTL: '15m', orphanGracePeriod: '3s', quarantinePeriod: '8s' }),
    ];
    for (const modify of modifiers) modify(identity);
  };

export const withSecret =
  (name: string, extra: Partial<SecretSpec> = {}): Modifier =>
  (identity) => {
    identity.spec.secrets = [
      ...(identity.spec.secrets ?? []),
      {
        name,
        generator: { type: 'random', length: 32 },
        rotationInterval: '24h',
        target: { secretName: `${identity.metadata.name}-${name}` },
        ...extra,
      },
    ];
  };

export const readConfigMaps: Scope = {
  provider: 'kubernetes',
  rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
};

/**
 * The node selector of test workloads that are never meant to run (their images do not exist): no
 * node carries the label, so their pods stay Pending while the dev node runs, as they do without it,
 * instead of filling the node's pod slots (maxPods) before the node suites' own pods come.
 */
export const NEVER_SCHEDULED: Record<string, string> = { 'nhi.dev/test-never-scheduled': 'true' };

export function deployment(name: string, serviceAccountName: string, replicas = 1): k8s.V1Deployment {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          serviceAccountName,
          nodeSelector: NEVER_SCHEDULED,
          containers: [{ name: 'agent', image: 'registry.example/agents/support-bot:1.4.2' }],
        },
      },
    },
  };
}
