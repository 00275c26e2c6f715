// `helm install` into a namespace of the real apiserver: what it creates, that the operator's
// ServiceAccount may do exactly what the operator does (SubjectAccessReviews built from the code,
// then the real operator process running with that ServiceAccount's token), and that
// `helm uninstall` leaves the CRDs and every credential in place. No kubelet runs: the chart's pods
// are created and stay Pending, which is expected.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SECURITY_ROLE_NAME } from '../../../scripts/sync-chart.ts';
import { CONTROLS_BINDING_NAME, CONTROLS_POLICY_NAME } from '../../../src/api/v1alpha1/controls-policy.ts';
import type { AgentIdentity } from '../../../src/api/v1alpha1/types.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { agentIdentity, withScopes } from '../../../src/testing/agent-identity.ts';
import { kubeConfig } from '../../support/env.ts';
import { deployment, onTestCluster, readConfigMaps, withSecret } from '../../support/fixtures.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually, uniqueName } from '../../support/wait.ts';
import {
  assertChartInStep,
  CHART,
  exists,
  helm,
  kubeconfigAs,
  removeSharedAdmissionObjects,
  restoreSharedAdmissionObjects,
  type ServiceAccountRef,
  serviceAccountCan,
} from './support.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
const extensions = kc.makeApiClient(k8s.ApiextensionsV1Api);
const identities = { group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' };
const CRDS = ['agentidentities.nhi.dev', 'clustercredentialproviders.nhi.dev', 'identitypolicies.nhi.dev'];

const release = uniqueName('nhi');
const fullname = `${release}-nhi-operator`;
let releaseNs: string;
let workloadNs: string;
let sa: ServiceAccountRef;
let operator: OperatorProcess | undefined;
let installed = false;

type Attributes = k8s.V1ResourceAttributes;
const nhi = (resource: string, verb: string, extra: Attributes = {}): Attributes => ({
  group: 'nhi.dev',
  resource,
  verb,
  ...extra,
});

/**
 * Every call the operator makes, read from the code. `all namespaces` entries are informers and
 * cross-namespace lists; the rest are checked in an identity namespace or the release namespace.
 */
function operatorCalls(): Array<[string, Attributes]> {
  const ns = workloadNs;
  const calls: Array<[string, Attributes]> = [];
  // src/operator.ts customSource: informers on the three kinds (list + watch).
  for (const verb of ['list', 'watch']) {
    calls.push([`${verb} agentidentities in all namespaces`, nhi('agentidentities', verb)]);
    calls.push([`${verb} clustercredentialproviders`, nhi('clustercredentialproviders', verb)]);
    calls.push([`${verb} identitypolicies`, nhi('identitypolicies', verb)]);
    // src/operator.ts workloadSource: Deployments, StatefulSets, DaemonSets in all namespaces.
    for (const resource of ['deployments', 'statefulsets', 'daemonsets'])
      calls.push([`${verb} ${resource} in all namespaces`, { group: 'apps', resource, verb }]);
    // src/operator.ts namespaceSource: Namespace labels for providers' allowedNamespaces.selector.
    calls.push([`${verb} namespaces`, { resource: 'namespaces', verb }]);
  }
  // adapters/kubernetes/api-removal.ts: whether the AgentIdentity CRD is being deleted (steps aside).
  calls.push([
    'get the AgentIdentity CRD',
    {
      group: 'apiextensions.k8s.io',
      resource: 'customresourcedefinitions',
      verb: 'get',
      name: 'agentidentities.nhi.dev',
    },
  ]);
  // runtime/leader.ts requireLeaseNamespace: the Lease's namespace exists.
  calls.push(['get the release namespace', { resource: 'namespaces', verb: 'get', name: releaseNs }]);
  // runtime/finalizers.ts customObjectMergePatcher: the finalizer.
  calls.push(['patch agentidentities (finalizer)', nhi('agentidentities', 'patch', { namespace: ns })]);
  // controller/agentidentity/revoke.ts: the nhi.dev/revocation-started mark, which the admission
  // policy nhi-identity-controls admits only from a requester allowed the revoke verb.
  calls.push([
    'revoke agentidentities (revocation-started)',
    nhi('agentidentities', 'revoke', { namespace: ns, name: 'bot' }),
  ]);
  // runtime/status.ts customObjectStatusWriter.
  calls.push([
    'update agentidentities/status',
    nhi('agentidentities', 'update', { namespace: ns, subresource: 'status' }),
  ]);
  // controller/agentidentity/workload.ts: the workloadRef, read through discovery.
  for (const [group, resource] of [
    ['apps', 'deployments'],
    ['apps', 'statefulsets'],
    ['apps', 'daemonsets'],
    ['batch', 'cronjobs'],
    ['batch', 'jobs'],
    ['', 'pods'],
  ] as const)
    calls.push([`get ${resource} (workloadRef)`, { group, resource, verb: 'get', namespace: ns }]);
  // controller/agentidentity/restart.ts: rolling the workloadRef after a rotation (restartWorkload).
  for (const resource of ['deployments', 'statefulsets', 'daemonsets'])
    calls.push([
      `patch ${resource} (restartWorkload)`,
      { group: 'apps', resource, verb: 'patch', namespace: ns },
    ]);
  // workload.ts podsUsingServiceAccount, providers/kubernetes/observe.ts observeUse; the Pod informer
  // (adapters/kubernetes/sources.ts ownedObjectSources) that serves them.
  for (const verb of ['list', 'watch']) {
    calls.push([`${verb} pods`, { resource: 'pods', verb, namespace: ns }]);
    calls.push([`${verb} pods in all namespaces`, { resource: 'pods', verb }]);
  }
  // providers/kubernetes/port.ts: get, create, replace, delete, list of the four managed kinds;
  // list and watch also across namespaces: the informers selected by the nhi.dev/identity-uid label
  // that serve the provider's reads (adapters/kubernetes/sources.ts ownedObjectSources).
  for (const [group, resource] of [
    ['', 'serviceaccounts'],
    ['', 'secrets'],
    ['rbac.authorization.k8s.io', 'roles'],
    ['rbac.authorization.k8s.io', 'rolebindings'],
  ] as const) {
    for (const verb of ['get', 'list', 'watch', 'create', 'update', 'delete'])
      calls.push([`${verb} ${resource}`, { group, resource, verb, namespace: ns }]);
    for (const verb of ['list', 'watch'])
      calls.push([`${verb} ${resource} in all namespaces`, { group, resource, verb }]);
  }
  // Roles with the rules an identity asks for, which the operator does not hold itself.
  for (const verb of ['escalate', 'bind'])
    calls.push([
      `${verb} roles`,
      { group: 'rbac.authorization.k8s.io', resource: 'roles', verb, namespace: ns, name: 'nhi-bot' },
    ]);
  // runtime/events.ts eventSink.
  for (const verb of ['create', 'patch'])
    calls.push([`${verb} events`, { group: 'events.k8s.io', resource: 'events', verb, namespace: ns }]);
  // runtime/leader.ts leaseStore, in the release namespace.
  const lease = { group: 'coordination.k8s.io', resource: 'leases', namespace: releaseNs };
  calls.push(['create the lease', { ...lease, verb: 'create' }]);
  for (const verb of ['get', 'update'])
    calls.push([`${verb} the lease`, { ...lease, verb, name: 'nhi-operator' }]);
  return calls;
}

/** What the operator never needs; granting any of these would be a finding. */
function forbiddenCalls(): Array<[string, Attributes]> {
  const ns = workloadNs;
  const rbacGroup = 'rbac.authorization.k8s.io';
  return [
    ['delete namespaces', { resource: 'namespaces', verb: 'delete', name: ns }],
    ['label namespaces (patch)', { resource: 'namespaces', verb: 'patch', name: ns }],
    ['update namespaces', { resource: 'namespaces', verb: 'update', name: ns }],
    ['create namespaces', { resource: 'namespaces', verb: 'create' }],
    ['get nodes', { resource: 'nodes', verb: 'get' }],
    ['list nodes', { resource: 'nodes', verb: 'list' }],
    ['create clusterroles', { group: rbacGroup, resource: 'clusterroles', verb: 'create' }],
    ['escalate clusterroles', { group: rbacGroup, resource: 'clusterroles', verb: 'escalate' }],
    [
      'bind clusterroles',
      { group: rbacGroup, resource: 'clusterroles', verb: 'bind', name: 'cluster-admin' },
    ],
    ['create clusterrolebindings', { group: rbacGroup, resource: 'clusterrolebindings', verb: 'create' }],
    [
      'mint tokens (serviceaccounts/token)',
      { resource: 'serviceaccounts', subresource: 'token', verb: 'create', namespace: ns },
    ],
    ['create tokenreviews', { group: 'authentication.k8s.io', resource: 'tokenreviews', verb: 'create' }],
    ['exec into pods', { resource: 'pods', subresource: 'exec', verb: 'create', namespace: ns }],
    ['delete pods', { resource: 'pods', verb: 'delete', namespace: ns }],
    ['patch secrets', { resource: 'secrets', verb: 'patch', namespace: ns }],
    ['deletecollection secrets', { resource: 'secrets', verb: 'deletecollection', namespace: ns }],
    ['create agentidentities', nhi('agentidentities', 'create', { namespace: ns })],
    // The protected controls belong to nhi-security: the operator never locks, abandons or rotates on request.
    ['lock agentidentities', nhi('agentidentities', 'lock', { namespace: ns, name: 'bot' })],
    ['abandon agentidentities', nhi('agentidentities', 'abandon', { namespace: ns, name: 'bot' })],
    ['rotate agentidentities', nhi('agentidentities', 'rotate', { namespace: ns, name: 'bot' })],
    ['update agentidentities', nhi('agentidentities', 'update', { namespace: ns })],
    ['delete agentidentities', nhi('agentidentities', 'delete', { namespace: ns })],
    ['update identitypolicies', nhi('identitypolicies', 'update', { name: 'default' })],
    ['delete clustercredentialproviders', nhi('clustercredentialproviders', 'delete')],
    ['update deployments', { group: 'apps', resource: 'deployments', verb: 'update', namespace: ns }],
    [
      'update another lease',
      {
        group: 'coordination.k8s.io',
        resource: 'leases',
        verb: 'update',
        namespace: releaseNs,
        name: 'other',
      },
    ],
    [
      'create leases elsewhere',
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'create', namespace: ns },
    ],
    [
      'read another CRD',
      {
        group: 'apiextensions.k8s.io',
        resource: 'customresourcedefinitions',
        verb: 'get',
        name: 'identitypolicies.nhi.dev',
      },
    ],
    [
      'delete customresourcedefinitions',
      { group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', verb: 'delete' },
    ],
    [
      'create customresourcedefinitions',
      { group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', verb: 'create' },
    ],
    [
      'delete the admission policy',
      { group: 'admissionregistration.k8s.io', resource: 'validatingadmissionpolicies', verb: 'delete' },
    ],
    ['impersonate users', { resource: 'users', verb: 'impersonate', name: 'admin' }],
  ];
}

async function getIdentity(namespace: string, name: string): Promise<AgentIdentity> {
  return (await custom.getNamespacedCustomObject({ ...identities, namespace, name })) as AgentIdentity;
}

const ready = (identity: AgentIdentity) =>
  identity.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

beforeAll(async () => {
  releaseNs = uniqueName('nhi-chart');
  workloadNs = uniqueName('nhi-agents');
  sa = { namespace: releaseNs, name: 'nhi-operator' };
  // The chart's pods must pass the restricted Pod Security Standard to be created at all.
  await core.createNamespace({
    body: { metadata: { name: releaseNs, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
  });
  await core.createNamespace({ body: namespaceBody(workloadNs) });
  assertChartInStep();
  await removeSharedAdmissionObjects(kc);
  await helm(['install', release, CHART, '--namespace', releaseNs]);
  installed = true;
});

afterAll(async () => {
  await operator?.stop();
  if (installed)
    await helm(['uninstall', release, '--namespace', releaseNs, '--wait']).catch(() => undefined);
  // Nobody runs the operator any more: drop the finalizers so the namespaces can go. Retried: the
  // apiserver may apply the deleted admission binding for a moment longer than its IdentityPolicy.
  const left = (await custom.listNamespacedCustomObject({ ...identities, namespace: workloadNs })) as {
    items: AgentIdentity[];
  };
  for (const identity of left.items) {
    await eventually(`finalizers of ${identity.metadata.name} removed`, () =>
      custom.patchNamespacedCustomObject(
        {
          ...identities,
          namespace: workloadNs,
          name: identity.metadata.name,
          body: { metadata: { finalizers: null } },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      ),
    );
  }
  for (const name of [workloadNs, releaseNs]) await core.deleteNamespace({ name }).catch(() => undefined);
  await restoreSharedAdmissionObjects(kc);
});

describe('helm install', () => {
  it('creates the CRDs, the RBAC, the Deployment, the admission policy and the default IdentityPolicy', async () => {
    for (const name of CRDS) {
      const crd = await extensions.readCustomResourceDefinition({ name });
      expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status, name).toBe('True');
    }
    // Helm does not track crds/ in the release, so no uninstall can delete them.
    const manifest = await helm(['get', 'manifest', release, '--namespace', releaseNs]);
    expect(manifest).not.toMatch(/kind: CustomResourceDefinition/);

    await core.readNamespacedServiceAccount({ namespace: releaseNs, name: 'nhi-operator' });
    for (const name of [fullname, `${fullname}-identities`]) {
      await rbac.readClusterRole({ name });
      const binding = await rbac.readClusterRoleBinding({ name });
      expect(binding.subjects).toEqual([
        { kind: 'ServiceAccount', name: 'nhi-operator', namespace: releaseNs },
      ]);
    }
    await rbac.readNamespacedRole({ namespace: releaseNs, name: `${fullname}-leader-election` });
    await core.readNamespacedService({ namespace: releaseNs, name: `${fullname}-metrics` });
    const operatorDeployment = await apps.readNamespacedDeployment({ namespace: releaseNs, name: fullname });
    expect(operatorDeployment.spec?.replicas).toBe(2);

    const selector = `app.kubernetes.io/instance=${release}`;
    const pods = await eventually(
      'two operator pods admitted by the restricted Pod Security level',
      async () => {
        const list = await core.listNamespacedPod({ namespace: releaseNs, labelSelector: selector });
        return list.items.length === 2 ? list.items : undefined;
      },
    );
    expect(pods.every((p) => p.status?.phase === 'Pending')).toBe(true);

    const policy = await admission.readValidatingAdmissionPolicy({ name: 'nhi-identity-policy' });
    const source = parse(
      readFileSync(join(repoRoot, 'config/admission/validating-admission-policy.yaml'), 'utf8'),
    );
    expect(policy.spec?.validations).toEqual(source.spec.validations);
    expect(policy.spec?.variables).toEqual(source.spec.variables);
    await admission.readValidatingAdmissionPolicyBinding({ name: 'nhi-identity-policy-default' });
    const controls = await admission.readValidatingAdmissionPolicy({ name: CONTROLS_POLICY_NAME });
    const controlsSource = parse(
      readFileSync(join(repoRoot, 'config/admission/controls-policy.yaml'), 'utf8'),
    );
    expect(controls.spec?.validations).toEqual(controlsSource.spec.validations);
    await admission.readValidatingAdmissionPolicyBinding({ name: CONTROLS_BINDING_NAME });
    // nhi-security ships bound to nobody (controls.securityRole.groups is empty by default).
    const security = await rbac.readClusterRole({ name: SECURITY_ROLE_NAME });
    expect(security.rules?.[0]?.verbs).toEqual(expect.arrayContaining(['lock', 'abandon', 'rotate']));
    expect(security.aggregationRule).toBeUndefined();
    expect(await exists(() => rbac.readClusterRoleBinding({ name: SECURITY_ROLE_NAME }))).toBe(false);
    await custom.getClusterCustomObject({
      group: 'nhi.dev',
      version: 'v1alpha1',
      plural: 'identitypolicies',
      name: 'default',
    });
  });

  it('rejects at admission an identity that breaks the default IdentityPolicy', async () => {
    // Valid for the CRD, but no environment (here development, the namespace's label) grants `*`.
    const reckless = agentIdentity(
      'reckless',
      onTestCluster(workloadNs),
      withScopes({ provider: 'aws', actions: ['*'], resources: ['arn:aws:s3:::reports/*'] }),
    );
    // The binding and its params reach the admission plugin through informers: wait for them.
    const rejection = await eventually(
      'the admission policy to take effect',
      () =>
        custom
          .createNamespacedCustomObject({
            ...identities,
            namespace: workloadNs,
            body: reckless,
            dryRun: 'All',
          })
          .then(
            () => undefined,
            (error: unknown) => error as k8s.ApiException<unknown>,
          ),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(rejection).toBeInstanceOf(k8s.ApiException);
    const { code, body } = rejection;
    expect(code).toBe(422);
    expect(String(body)).toMatch(/ValidatingAdmissionPolicy 'nhi-identity-policy'/);
    expect(String(body)).toMatch(
      /spec\.scopes\[\]\.actions \* forbidden for development \(IdentityPolicy default\)/,
    );
  });

  it('grants the operator ServiceAccount every call the operator makes', async () => {
    const denied: string[] = [];
    for (const [what, attributes] of operatorCalls()) {
      if (!(await serviceAccountCan(kc, sa, attributes))) denied.push(what);
    }
    expect(denied).toEqual([]);
  });

  it('denies the operator ServiceAccount what the operator never needs', async () => {
    const allowed: string[] = [];
    for (const [what, attributes] of forbiddenCalls()) {
      if (await serviceAccountCan(kc, sa, attributes)) allowed.push(what);
    }
    expect(allowed).toEqual([]);
  });

  it("lets the real operator, with the chart's ServiceAccount token, provision an identity", async () => {
    await apps.createNamespacedDeployment({ namespace: workloadNs, body: deployment('bot', 'bot') });
    await custom.createNamespacedCustomObject({
      ...identities,
      namespace: workloadNs,
      body: agentIdentity(
        'bot',
        onTestCluster(workloadNs),
        withScopes(readConfigMaps),
        withSecret('api-key'),
      ),
    });
    operator = startOperatorProcess(['--leader-elect=true', '--providers='], {
      KUBECONFIG: await kubeconfigAs(kc, sa),
      POD_NAMESPACE: releaseNs,
      POD_NAME: 'chart-test',
    });
    const provisioned = await eventually(
      'the identity Ready',
      async () => {
        const identity = await getIdentity(workloadNs, 'bot');
        return ready(identity) ? identity : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(provisioned.status?.serviceAccount).toBe('bot');
    // The Role carries rules the operator does not hold: escalate and bind at work.
    const role = await rbac.readNamespacedRole({ namespace: workloadNs, name: 'nhi-bot' });
    expect(role.rules?.[0]?.resources).toEqual(['configmaps']);
    await rbac.readNamespacedRoleBinding({ namespace: workloadNs, name: 'nhi-bot' });
    await core.readNamespacedSecret({ namespace: workloadNs, name: 'bot-api-key' });
    const lease = await kc
      .makeApiClient(k8s.CoordinationV1Api)
      .readNamespacedLease({ namespace: releaseNs, name: 'nhi-operator' });
    expect(lease.spec?.holderIdentity).toMatch(/^chart-test_/);
    // No RBAC denial of the operator's own calls. (Other 403s are not about the chart: an Event for an
    // identity left by an earlier suite in a namespace being deleted is refused as NamespaceTerminating.)
    expect(operator.logs()).not.toMatch(/is forbidden: User .{0,120}? cannot/i);
  });

  it('leaves the CRDs, the identities and every credential in place on helm uninstall', async () => {
    const identity = await getIdentity(workloadNs, 'bot');
    const reads = {
      serviceAccount: () => core.readNamespacedServiceAccount({ namespace: workloadNs, name: 'bot' }),
      role: () => rbac.readNamespacedRole({ namespace: workloadNs, name: 'nhi-bot' }),
      roleBinding: () => rbac.readNamespacedRoleBinding({ namespace: workloadNs, name: 'nhi-bot' }),
      secret: () => core.readNamespacedSecret({ namespace: workloadNs, name: 'bot-api-key' }),
      handMadeServiceAccount: () =>
        core.readNamespacedServiceAccount({ namespace: workloadNs, name: 'bot-by-hand' }),
      handMadeSecret: () => core.readNamespacedSecret({ namespace: workloadNs, name: 'bot-by-hand' }),
    };
    // The operator goes with its Deployment; stop the one this test runs, then uninstall. (A running
    // operator would delete the hand-made objects below: marked as its own, but not desired.)
    await operator?.stop();
    operator = undefined;
    // A managed ServiceAccount and Secret made by hand, marked like the operator's (which carry no
    // ownerReference: docs/reliability-safety.md).
    const marks = {
      labels: {
        'app.kubernetes.io/managed-by': 'nhi-operator',
        'nhi.dev/identity-uid': identity.metadata.uid ?? '',
      },
    };
    await core.createNamespacedServiceAccount({
      namespace: workloadNs,
      body: { metadata: { name: 'bot-by-hand', ...marks } },
    });
    await core.createNamespacedSecret({
      namespace: workloadNs,
      body: { metadata: { name: 'bot-by-hand', ...marks }, stringData: { token: 'kept' } },
    });
    const uidsBefore = await uids(reads);
    await helm(['uninstall', release, '--namespace', releaseNs, '--wait']);
    installed = false;
    expect(await exists(() => rbac.readClusterRole({ name: `${fullname}-identities` }))).toBe(false);
    expect(await exists(() => admission.readValidatingAdmissionPolicy({ name: 'nhi-identity-policy' }))).toBe(
      false,
    );
    expect(await exists(() => apps.readNamespacedDeployment({ namespace: releaseNs, name: fullname }))).toBe(
      false,
    );

    for (const name of CRDS) await extensions.readCustomResourceDefinition({ name });
    expect((await getIdentity(workloadNs, 'bot')).metadata.uid).toBe(identity.metadata.uid);
    // Same objects, same uids; and nothing owns any of them through an ownerReference (not the
    // release, not the AgentIdentity), so the garbage collector has nothing to cascade from.
    expect(await uids(reads)).toEqual(uidsBefore);
    for (const read of Object.values(reads)) expect((await read()).metadata?.ownerReferences).toBeUndefined();
    const secret = await core.readNamespacedSecret({ namespace: workloadNs, name: 'bot-api-key' });
    expect(Object.keys(secret.data ?? {})).toContain('api-key');
  });
});

async function uids(
  reads: Record<string, () => Promise<{ metadata?: k8s.V1ObjectMeta }>>,
): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const [name, read] of Object.entries(reads)) out[name] = (await read()).metadata?.uid;
  return out;
}
