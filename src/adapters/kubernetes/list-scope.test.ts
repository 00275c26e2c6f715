// Every list the operator makes carries a namespace or a selector. A list across all namespaces is
// allowed only where the table below says why; a new one fails here until someone writes its reason.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repositoryRoot } from '../../api/v1alpha1/generate.ts';

const SRC = join(repositoryRoot, 'src');

/** file -> the cluster-wide list calls it may make, and why. */
const EXCEPTIONS: Record<string, { calls: string[]; why: string }> = {
  'src/adapters/kubernetes/sources.ts': {
    calls: [
      'listClusterCustomObject',
      'listDeploymentForAllNamespaces',
      'listStatefulSetForAllNamespaces',
      'listDaemonSetForAllNamespaces',
      'listServiceAccountForAllNamespaces',
      'listRoleForAllNamespaces',
      'listRoleBindingForAllNamespaces',
      'listSecretForAllNamespaces',
      'listPodForAllNamespaces',
    ],
    why:
      'Informers: the nhi.dev kinds the operator serves (AgentIdentities in every namespace unless ' +
      '--watch-namespace; the cluster-scoped ClusterCredentialProviders and IdentityPolicies), and the ' +
      'workloads an identity may name, whose deletion starts the orphan grace. Workloads carry no ' +
      'label of ours to select on; the informer reads metadata and pod templates, never Secrets. ' +
      'The caches of what the Kubernetes provider manages (ownedObjectSources): ServiceAccounts, ' +
      'Roles, RoleBindings and Secrets selected by the nhi.dev/identity-uid label (the apiserver ' +
      'applies it: only objects the operator made or adopted), Secrets kept without their values; and ' +
      'Pods, kept as ServiceAccount, phase and times only, for bound pods and last use. Serving these ' +
      'reads from caches is what makes an idle identity cost no request per reconcile.',
  },
  'src/dev/install.ts': {
    calls: ['listClusterCustomObject'],
    why:
      'The local environment installer (nhictl dev, the demo, tests), run as the admin: one read of ' +
      'at most one object per freshly installed nhi.dev CRD, to wait until the apiserver serves it.',
  },
  'src/governance/inventory/kubernetes-source.ts': {
    calls: [
      'listClusterCustomObject',
      'listServiceAccountForAllNamespaces',
      'listSecretForAllNamespaces',
      'listPodForAllNamespaces',
      'listDeploymentForAllNamespaces',
      'listStatefulSetForAllNamespaces',
      'listDaemonSetForAllNamespaces',
      'listCronJobForAllNamespaces',
      'listJobForAllNamespaces',
      'listConfigMapForAllNamespaces',
    ],
    why:
      'nhictl inventory, run by a human with their own credentials (not the operator): finding ' +
      'shadow identities means looking everywhere. Token Secrets are listed by type field selector ' +
      'and only their metadata is kept. Workloads and ConfigMaps are read to find hard-coded ' +
      'credentials in pod templates, data and annotations; only the findings (rule, location, ' +
      'fingerprint) are kept.',
  },
};

const CLUSTER_WIDE = /\b(list\w*ForAllNamespaces|listClusterCustomObject)\s*\(/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'testing' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('lists across all namespaces', () => {
  it('happen only where a reason is written down', () => {
    const unexplained: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const name = relative(repositoryRoot, file);
      for (const [, call] of readFileSync(file, 'utf8').matchAll(CLUSTER_WIDE)) {
        if (!EXCEPTIONS[name]?.calls.includes(call ?? '')) unexplained.push(`${name}: ${call}`);
      }
    }
    expect(unexplained).toEqual([]);
  });

  it('never in the Kubernetes provider, which lists Secrets, Roles and Pods of one namespace only', () => {
    const provider = sourceFiles(join(SRC, 'providers', 'kubernetes'));
    expect(provider.length).toBeGreaterThan(0);
    for (const file of provider) expect(readFileSync(file, 'utf8')).not.toMatch(CLUSTER_WIDE);
  });
});
