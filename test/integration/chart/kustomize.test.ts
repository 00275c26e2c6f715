// The kustomize tree (config/default = crd + rbac + manager + admission + the default policy) with
// the real kubectl: it renders, it applies server-side to the real apiserver, it grants exactly the
// chart's RBAC rules and runs the same operator container; and the Argo CD example points at it.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SECURITY_ROLE_NAME } from '../../../scripts/sync-chart.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { kubeConfig } from '../../support/env.ts';
import { eventually } from '../../support/wait.ts';
import {
  assertChartInStep,
  CHART,
  exists,
  find,
  helm,
  kubectl,
  type Manifest,
  parseManifests,
  removeSharedAdmissionObjects,
  restoreSharedAdmissionObjects,
} from './support.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
const NAMESPACE = 'nhi-system';
const CLUSTER_RBAC = ['nhi-operator', 'nhi-operator-identities', SECURITY_ROLE_NAME];
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'IdentityPolicy',
]);

let kustomized: Manifest[];
let charted: Manifest[];
let applied = false;

/** The chart rendered as the kustomize tree is laid out: release nhi-operator in nhi-system. */
async function renderChart(): Promise<Manifest[]> {
  return parseManifests(await helm(['template', 'nhi-operator', CHART, '--namespace', NAMESPACE]));
}

const rulesOf = (objects: Manifest[], kind: string, name: string) =>
  (find(objects, kind, name) as unknown as k8s.V1ClusterRole | undefined)?.rules;

/** The pod spec without the labels Helm adds for release tracking. */
function podSpecOf(objects: Manifest[]): k8s.V1PodSpec | undefined {
  return (find(objects, 'Deployment') as unknown as k8s.V1Deployment | undefined)?.spec?.template.spec;
}

async function deleteClusterRbac(): Promise<void> {
  for (const name of CLUSTER_RBAC) {
    await rbac.deleteClusterRoleBinding({ name }).catch(() => undefined);
    await rbac.deleteClusterRole({ name }).catch(() => undefined);
  }
}

beforeAll(async () => {
  kustomized = parseManifests(await kubectl(['kustomize', 'config/default']));
  charted = await renderChart();
});

afterAll(async () => {
  if (!applied) return;
  await core.deleteNamespace({ name: NAMESPACE }).catch(() => undefined);
  await deleteClusterRbac();
  await eventually(
    'namespace nhi-system gone',
    async () => !(await exists(() => core.readNamespace({ name: NAMESPACE }))),
    {
      timeoutMs: 60_000,
      intervalMs: 250,
    },
  );
  await removeSharedAdmissionObjects(kc);
  await restoreSharedAdmissionObjects(kc);
});

describe('kustomize config/default', () => {
  it('renders every part, the namespaced ones in nhi-system and the cluster-scoped ones without a namespace', () => {
    const kinds = kustomized.map((o) => o.kind);
    for (const kind of [
      'Namespace',
      'CustomResourceDefinition',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'Service',
      'Deployment',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
      'IdentityPolicy',
    ])
      expect(kinds, kind).toContain(kind);
    for (const object of kustomized) {
      const where = `${object.kind}/${object.metadata?.name}`;
      expect(object.metadata?.namespace, where).toBe(
        CLUSTER_SCOPED.has(object.kind ?? '') ? undefined : NAMESPACE,
      );
    }
    const bindings = kustomized.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding');
    for (const binding of bindings as unknown as k8s.V1ClusterRoleBinding[])
      expect(binding.subjects).toEqual([
        { kind: 'ServiceAccount', name: 'nhi-operator', namespace: NAMESPACE },
      ]);
  });

  it.each([
    ['ClusterRole', 'nhi-operator'],
    ['ClusterRole', 'nhi-operator-identities'],
    ['Role', 'nhi-operator-leader-election'],
    ['ClusterRole', SECURITY_ROLE_NAME],
  ])("grants exactly the Helm chart's rules: %s %s", (kind, name) => {
    const rules = rulesOf(kustomized, kind, name);
    expect(rules?.length).toBeGreaterThan(0);
    expect(rules).toEqual(rulesOf(charted, kind, name));
  });

  it("runs the same operator container and pod settings as the Helm chart's defaults", () => {
    expect(podSpecOf(kustomized)).toEqual(podSpecOf(charted));
    const deployment = (o: Manifest[]) => (find(o, 'Deployment') as unknown as k8s.V1Deployment).spec;
    expect(deployment(kustomized)?.replicas).toBe(deployment(charted)?.replicas);
    expect(deployment(kustomized)?.strategy).toEqual(deployment(charted)?.strategy);
    expect(deployment(kustomized)?.selector).toEqual(deployment(charted)?.selector);
  });

  it('ships the same CRDs, admission policy and default IdentityPolicy as the chart and crds/', async () => {
    const crds = parseManifests(await helm(['show', 'crds', CHART]));
    const byName = (objects: Manifest[]) =>
      Object.fromEntries(
        objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => [o.metadata?.name, o]),
      );
    expect(byName(kustomized)).toEqual(byName(crds));
    const policyFile = parse(
      readFileSync(join(repoRoot, 'config/policies/default-identitypolicy.yaml'), 'utf8'),
    );
    expect(find(kustomized, 'IdentityPolicy', 'default')?.spec).toEqual(policyFile.spec);
  });

  it('applies with kubectl apply --server-side once the CRDs are established', async () => {
    assertChartInStep();
    // Objects with fixed names that other suites apply directly are replaced by the kustomize ones.
    await removeSharedAdmissionObjects(kc);
    await deleteClusterRbac();
    applied = true;
    await kubectl(['apply', '--server-side', '-k', 'config/crd']);
    await kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd',
      '-l',
      'app.kubernetes.io/part-of=nhi-operator',
    ]);
    const output = await kubectl(['apply', '--server-side', '-k', 'config/default']);
    expect(output.trim().split('\n')).toHaveLength(kustomized.length);

    const pods = await eventually(
      'two operator pods admitted by the restricted Pod Security level',
      async () => {
        const list = await core.listNamespacedPod({
          namespace: NAMESPACE,
          labelSelector: 'app.kubernetes.io/name=nhi-operator',
        });
        return list.items.length === 2 ? list.items : undefined;
      },
    );
    expect(pods.map((p) => p.spec?.serviceAccountName)).toEqual(['nhi-operator', 'nhi-operator']);
    const namespace = await core.readNamespace({ name: NAMESPACE });
    expect(namespace.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });
});

describe('kustomize config/samples', () => {
  it('renders the samples, each of them admitted by the CRD schemas (server-side dry run)', async () => {
    const samples = parseManifests(await kubectl(['kustomize', 'config/samples']));
    expect(samples.map((o) => o.kind)).toEqual(
      expect.arrayContaining(['Namespace', 'Deployment', 'AgentIdentity', 'ClusterCredentialProvider']),
    );
    assertChartInStep();
    await kubectl(['apply', '--server-side', '-k', 'config/crd']);
    await kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd',
      '-l',
      'app.kubernetes.io/part-of=nhi-operator',
    ]);
    // Cluster-scoped samples only: the namespaced ones need their namespace to exist first.
    const clusterScoped = samples.filter((o) => o.kind === 'ClusterCredentialProvider');
    const output = await kubectl(['apply', '--dry-run=server', '-f', '-'], {
      input: clusterScoped.map((o) => JSON.stringify(o)).join('\n---\n'),
    });
    expect(output.trim().split('\n')).toHaveLength(clusterScoped.length);
  });
});

describe('the Argo CD Application example', () => {
  const application = parse(readFileSync(join(repoRoot, 'config/argocd/application.yaml'), 'utf8'));

  it('syncs config/default server-side into nhi-system', () => {
    expect(application.kind).toBe('Application');
    expect(application.spec.source.path).toBe('config/default');
    expect(application.spec.syncPolicy.syncOptions).toContain('ServerSideApply=true');
  });

  it('never prunes what it would take credentials down with', () => {
    expect(application.spec.syncPolicy.automated?.prune ?? false).toBe(false);
  });
});
