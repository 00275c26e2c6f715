// The Helm chart as a platform team meets it before installing: `helm lint`, every rendered object
// accepted by the real apiserver (server-side dry run), the chart's copies of the generated manifests
// up to date, and bad values refused with the value named.

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultWorkloadKinds, driftedOutputs } from '../../../scripts/sync-chart.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { kubeConfig } from '../../support/env.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { uniqueName } from '../../support/wait.ts';
import { CHART, find, helm, kubectl, type Manifest, parseManifests, runTool, valuesFile } from './support.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);

let namespace: string;
let watched: string;

/** Every optional part switched on, and most settings changed from their defaults. */
function everyOption(): Record<string, unknown> {
  return {
    replicas: 3,
    image: { digest: `sha256:${'a'.repeat(64)}`, pullPolicy: 'Always' },
    imagePullSecrets: [{ name: 'registry' }],
    operator: {
      logLevel: 'debug',
      workers: 4,
      providers: ['aws'],
      dryRun: true,
      resyncPeriod: '30s',
      driftInterval: '5m',
      extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=384' }],
    },
    watchNamespaces: [watched],
    leaderElection: { leaseName: 'nhi-operator-blue', leaseDuration: '30s' },
    serviceAccount: {
      annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/nhi-operator' },
    },
    rbac: {
      workloadKinds: [...defaultWorkloadKinds, { apiGroup: 'argoproj.io', resources: ['rollouts'] }],
      tokenReview: true,
    },
    auditLog: { persistence: { enabled: true, storageClassName: 'standard', size: '2Gi' } },
    vaultToken: { enabled: true, audience: 'https://vault.example.com' },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
    podAnnotations: { 'example.com/team': 'platform' },
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'platform', effect: 'NoSchedule' }],
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'nhi-operator' } },
      },
    ],
    serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
    // The PrometheusRule renders only where its API is served (test/integration/chart/monitoring.test.ts).
    prometheus: { rules: { enabled: true, labels: { release: 'prometheus' } } },
    grafana: { dashboard: { enabled: true, annotations: { grafana_folder: 'Security' } } },
    argocd: { healthCheck: { enabled: true, degradedOnHighRisk: true } },
    podDisruptionBudget: { enabled: true },
    networkPolicy: {
      enabled: true,
      metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
    },
    defaultPolicy: {
      spec: { environments: { development: { maxTTL: '720h', forbiddenActions: ['*'] } } },
    },
    controls: { securityRole: { groups: ['security-oncall'] } },
    clusterCredentialProviders: [
      {
        name: 'vault-chart-test',
        spec: {
          vault: {
            address: 'https://vault.example.com:8200',
            auth: {
              kubernetes: { role: 'nhi-operator', tokenPath: '/var/run/secrets/nhi-operator/vault/token' },
            },
          },
        },
      },
    ],
  };
}

async function render(values?: Record<string, unknown>): Promise<Manifest[]> {
  const args = ['template', 'nhi-render', CHART, '--namespace', namespace];
  if (values) args.push('-f', valuesFile(values));
  return parseManifests(await helm(args));
}

function containerOf(objects: Manifest[]) {
  const deployment = find(objects, 'Deployment') as unknown as k8s.V1Deployment;
  return { deployment, container: deployment.spec?.template.spec?.containers[0] };
}

function envOf(container: k8s.V1Container | undefined): Record<string, string | undefined> {
  return Object.fromEntries(
    (container?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]),
  );
}

beforeAll(async () => {
  namespace = uniqueName('nhi-render');
  watched = uniqueName('nhi-watched');
  for (const name of [namespace, watched]) await core.createNamespace({ body: namespaceBody(name) });
  // Objects of the chart's own kinds need the CRDs: install them as the other suites do.
  await installOperatorManifests(kc);
});

afterAll(async () => {
  for (const name of [namespace, watched])
    if (name) await core.deleteNamespace({ name }).catch(() => undefined);
});

describe('the nhi-operator Helm chart', () => {
  it('keeps its copies of the generated manifests and its RBAC in step (scripts/sync-chart.ts)', () => {
    expect(driftedOutputs(), 'run `npx tsx scripts/sync-chart.ts`').toEqual([]);
  });

  it.each([
    ['the default values', undefined],
    ['every option on', 'everyOption'],
  ])('passes helm lint --strict with %s', async (_label, which) => {
    const args = ['lint', '--strict', CHART, '--namespace', 'nhi-system'];
    if (which) args.push('-f', valuesFile(everyOption()));
    expect(await helm(args)).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it.each([
    ['the default values', undefined],
    ['every option on', 'everyOption'],
  ])('renders only objects the apiserver accepts (server-side dry run) with %s', async (_label, which) => {
    const objects = await render(which ? everyOption() : undefined);
    // The ServiceMonitor kind needs the Prometheus Operator's CRD, which this cluster does not have.
    const checkable = objects.filter((o) => o.kind !== 'ServiceMonitor');
    const output = await kubectl(['apply', '--dry-run=server', '-f', '-'], {
      input: checkable.map((o) => JSON.stringify(o)).join('\n---\n'),
    });
    expect(output.trim().split('\n')).toHaveLength(checkable.length);
    expect(output).toMatch(/server dry run/);
  });

  it('ships the CRDs in crds/, where Helm installs them first and never deletes them', async () => {
    const crds = parseManifests(await helm(['show', 'crds', CHART]));
    expect(crds.map((c) => c.metadata?.name).sort()).toEqual([
      'agentidentities.nhi.dev',
      'clustercredentialproviders.nhi.dev',
      'identitypolicies.nhi.dev',
    ]);
    const templates = await render();
    expect(templates.filter((o) => o.kind === 'CustomResourceDefinition')).toEqual([]);
  });

  it('runs the operator as the brief asks: two replicas, leader election, downward API, locked down', async () => {
    const objects = await render();
    const { deployment, container } = containerOf(objects);
    const pod = deployment.spec?.template.spec;
    expect(deployment.spec?.replicas).toBe(2);
    expect(envOf(container)).toMatchObject({
      POD_NAME: 'metadata.name',
      POD_NAMESPACE: 'metadata.namespace',
      NHI_LEADER_ELECT: 'true',
      NHI_AUDIT_LOG: '/var/lib/nhi-operator/audit.jsonl',
      NHI_AUDIT_ANCHOR: 'true',
    });
    expect(pod?.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container?.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
    expect(container?.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'http' });
    expect(container?.volumeMounts?.find((m) => m.mountPath === '/var/lib/nhi-operator')).toBeDefined();
    expect(container?.resources?.limits?.memory).toBeDefined();
  });

  it('scopes the per-identity permissions to watchNamespaces with a RoleBinding', async () => {
    const objects = await render(everyOption());
    const { container } = containerOf(objects);
    expect(envOf(container).NHI_WATCH_NAMESPACE).toBe(watched);
    const roleBinding = find(objects, 'RoleBinding', 'nhi-render-nhi-operator-identities');
    expect(roleBinding?.metadata?.namespace).toBe(watched);
    expect(find(objects, 'ClusterRoleBinding', 'nhi-render-nhi-operator-identities')).toBeUndefined();
    // The cluster-scoped kinds and the workload informers still need the cluster-wide ClusterRole.
    expect(find(objects, 'ClusterRoleBinding', 'nhi-render-nhi-operator')).toBeDefined();
  });

  it('ships the controls policy and the nhi-security ClusterRole, bound only to the groups asked for', async () => {
    const defaults = await render();
    expect(find(defaults, 'ValidatingAdmissionPolicy', 'nhi-identity-controls')).toBeDefined();
    expect(find(defaults, 'ValidatingAdmissionPolicyBinding', 'nhi-identity-controls')).toBeDefined();
    const security = find(defaults, 'ClusterRole', 'nhi-security') as unknown as k8s.V1ClusterRole;
    expect(security.rules?.[0]?.verbs).toEqual(expect.arrayContaining(['lock', 'abandon', 'rotate']));
    expect(security.aggregationRule).toBeUndefined();
    expect(security.metadata?.labels ?? {}).not.toHaveProperty('rbac.authorization.k8s.io/aggregate-to-edit');
    expect(find(defaults, 'ClusterRoleBinding', 'nhi-security')).toBeUndefined();
    const bound = find(await render(everyOption()), 'ClusterRoleBinding', 'nhi-security') as unknown as
      | k8s.V1ClusterRoleBinding
      | undefined;
    expect(bound?.subjects).toEqual([
      { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'security-oncall' },
    ]);
    const off = await render({ controls: { admissionPolicy: false, securityRole: { create: false } } });
    expect(find(off, 'ValidatingAdmissionPolicy', 'nhi-identity-controls')).toBeUndefined();
    expect(find(off, 'ClusterRole', 'nhi-security')).toBeUndefined();
  });

  it('marks the IRSA annotation, the extra workload kinds and the audit claim as asked', async () => {
    const objects = await render(everyOption());
    expect(find(objects, 'ServiceAccount')?.metadata?.annotations).toEqual({
      'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/nhi-operator',
      'nhi.dev/owner': 'platform',
      'nhi.dev/purpose': 'nhi-operator: provisions, rotates and revokes workload identities',
    });
    const identities = find(
      objects,
      'ClusterRole',
      'nhi-render-nhi-operator-identities',
    ) as unknown as k8s.V1ClusterRole;
    expect(identities.rules).toContainEqual({
      apiGroups: ['argoproj.io'],
      resources: ['rollouts'],
      verbs: ['get'],
    });
    const claim = find(objects, 'PersistentVolumeClaim');
    expect(claim?.metadata?.annotations?.['helm.sh/resource-policy']).toBe('keep');
  });

  it('fails helm install on a value of the wrong type, naming the value, and installs nothing', async () => {
    const release = uniqueName('nhi-bad');
    const result = await runTool('helm', [
      'install',
      release,
      CHART,
      '--namespace',
      namespace,
      '-f',
      valuesFile({ replicas: 'two' }),
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(result.stderr).toMatch(/at '\/replicas': got string, want integer/);
    const status = await runTool('helm', ['status', release, '--namespace', namespace]);
    expect(status.stderr).toMatch(/release: not found/);
  });

  it.each([
    ['an unknown key', { replica: 3 }, /additional properties 'replica' not allowed/],
    [
      'an unknown log level',
      { operator: { logLevel: 'loud' } },
      /\/operator\/logLevel': value must be one of/,
    ],
    ['an unknown provider', { operator: { providers: ['gcp'] } }, /\/operator\/providers\/0'/],
    ['a duration Go cannot parse', { operator: { resyncPeriod: 'soon' } }, /\/operator\/resyncPeriod'/],
    ['two watch namespaces', { watchNamespaces: ['a', 'b'] }, /\/watchNamespaces': maxItems: got 2, want 1/],
    ['a malformed digest', { image: { digest: 'latest' } }, /\/image\/digest'/],
    ['zero replicas', { replicas: 0 }, /\/replicas': minimum: got 0, want 1/],
    [
      'two replicas without leader election',
      { leaderElection: { enabled: false } },
      /replicas > 1 needs leaderElection.enabled=true/,
    ],
    [
      'a ReadWriteOnce audit claim shared by two replicas',
      { auditLog: { persistence: { enabled: true, accessModes: ['ReadWriteOnce'] } } },
      /auditLog.persistence with replicas > 1 needs accessModes \[ReadWriteMany\]/,
    ],
    [
      'a provider without a spec',
      { clusterCredentialProviders: [{ name: 'aws' }] },
      /\/clusterCredentialProviders\/0': missing property 'spec'/,
    ],
  ])('refuses %s with a message naming it', async (_label, values, message) => {
    const result = await runTool('helm', ['template', 'nhi-bad', CHART, '-f', valuesFile(values)]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });
});
