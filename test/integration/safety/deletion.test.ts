// What deletion does to credentials, with the real operator process, the real apiserver and
// kube-controller-manager (garbage collector and namespace controller running), OpenBao and moto:
//  - deleting an application namespace revokes its identities' Vault and AWS credentials;
//  - when revocation there cannot authenticate, the namespace is released after the bound, with a
//    high-severity audit record and nhi_offboarding_released_total;
//  - spec.deletionPolicy Retain keeps every credential when the AgentIdentity is deleted;
//  - deleting the operator's namespace, and deleting the AgentIdentity CRD (an uninstall accident, a
//    GitOps prune), leave every ServiceAccount, Secret, Role, Vault role and IAM role in place and
//    usable: the operator steps aside (warning log, Event, audit record) and the garbage collector
//    finds no ownerReference to cascade through.
// (helm uninstall: test/integration/chart/install.test.ts.) The CRD test runs last and puts the CRDs back.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  IAMClient,
  ListRolePoliciesCommand,
  NoSuchEntityException,
} from '@aws-sdk/client-iam';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMISSION_BINDING_NAME } from '../../../src/api/v1alpha1/admission-policy.ts';
import { ObjectMarks } from '../../../src/api/v1alpha1/annotations.ts';
import type { AgentIdentity } from '../../../src/api/v1alpha1/types.ts';
import { applyObjects, installOperatorManifests } from '../../../src/dev/install.ts';
import { type AuditRecord, readAuditFile } from '../../../src/governance/audit/audit.ts';
import { agentIdentity, withScopes, withSpec } from '../../../src/testing/agent-identity.ts';
import {
  bao,
  createIdentity,
  exists,
  installAwsProvider,
  installVaultProvider,
  newNamespace,
  removeProvider,
  untilCondition,
} from '../../support/cluster.ts';
import { awsClientConfig, kubeConfig, testEnv } from '../../support/env.ts';
import { deployment, onTestCluster, readConfigMaps, withSecret } from '../../support/fixtures.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually, uniqueName } from '../../support/wait.ts';

const env = testEnv();
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const extensions = kc.makeApiClient(k8s.ApiextensionsV1Api);
const events = kc.makeApiClient(k8s.EventsV1Api);
const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
const iam = new IAMClient(awsClientConfig());
const identities = { group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' };
const CRDS = ['agentidentities.nhi.dev', 'clustercredentialproviders.nhi.dev', 'identitypolicies.nhi.dev'];

/** Offboarding in a deleted namespace gives up after this long here (default 5 minutes). */
const RELEASE_AFTER = '20s';
const BROKEN_VAULT = uniqueName('vault-broken');
let operator: OperatorProcess;

async function roleExists(roleName: string): Promise<boolean> {
  try {
    await iam.send(new GetRoleCommand({ RoleName: roleName }));
    return true;
  } catch (error) {
    if (error instanceof NoSuchEntityException) return false;
    throw error;
  }
}

/** Removes a retained IAM role by hand, as its owner would once no workload needs it. */
async function deleteRetainedRole(roleName: string): Promise<void> {
  const { PolicyNames = [] } = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }));
  for (const PolicyName of PolicyNames)
    await iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName }));
  await iam.send(new DeleteRoleCommand({ RoleName: roleName }));
}

/** Removes a retained Vault role and its policy by hand. */
async function deleteRetainedVaultRole(role: string): Promise<void> {
  await bao('DELETE', `auth/kubernetes/role/${role}`, env.bao.token);
  await bao('DELETE', `sys/policies/acl/${role}`, env.bao.token);
}

const vaultRoleStatus = async (role: string) =>
  (await bao('GET', `auth/kubernetes/role/${role}`, env.bao.token)).status;

/** An identity with credentials in every backend: Kubernetes RBAC and a Secret, a Vault role, an IAM role. */
function everywhere(name: string, ns: string, ...extra: Array<(i: AgentIdentity) => void>): AgentIdentity {
  return agentIdentity(
    name,
    onTestCluster(ns),
    withSpec({ orphanGracePeriod: '10m' }),
    withScopes(
      readConfigMaps,
      { provider: 'vault', paths: [{ path: `secret/data/${ns}/docs/*`, capabilities: ['read'] }] },
      {
        provider: 'aws',
        actions: ['secretsmanager:GetSecretValue'],
        resources: ['arn:aws:secretsmanager:us-east-1:123456789012:secret:crm/*'],
      },
    ),
    withSecret('api-key'),
    ...extra,
  );
}

async function provisioned(identity: AgentIdentity): Promise<AgentIdentity> {
  const ns = identity.metadata.namespace ?? '';
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: deployment(identity.metadata.name, identity.metadata.name),
  });
  await createIdentity(identity);
  return untilCondition(ns, identity.metadata.name, 'Ready', 'True', 90_000);
}

async function namespaceGone(name: string): Promise<void> {
  await eventually(
    `namespace ${name} deleted`,
    async () => !(await exists(() => core.readNamespace({ name }))),
    { timeoutMs: 120_000, intervalMs: 500 },
  );
}

const auditOf = (action: string, name: string): AuditRecord[] =>
  readAuditFile(operator.auditLog).filter((r) => r.action === action && r.identity.name === name);

/** Every Kubernetes object the identity uses, by what it is: its uid, data and ownerReferences. */
async function kubernetesObjects(ns: string, name: string) {
  const reads = {
    serviceAccount: () => core.readNamespacedServiceAccount({ namespace: ns, name }),
    role: () => rbac.readNamespacedRole({ namespace: ns, name: `nhi-${name}` }),
    roleBinding: () => rbac.readNamespacedRoleBinding({ namespace: ns, name: `nhi-${name}` }),
    secret: () => core.readNamespacedSecret({ namespace: ns, name: `${name}-api-key` }),
  };
  const out: Record<
    string,
    { uid?: string; owners: number; retained?: string; data?: unknown; roleArn?: string }
  > = {};
  for (const [what, read] of Object.entries(reads)) {
    const object = (await read()) as { metadata?: k8s.V1ObjectMeta; data?: unknown };
    out[what] = {
      owners: object.metadata?.ownerReferences?.length ?? 0,
      ...(object.metadata?.uid ? { uid: object.metadata.uid } : {}),
      ...(object.metadata?.annotations?.[ObjectMarks.retained]
        ? { retained: object.metadata.annotations[ObjectMarks.retained] }
        : {}),
      ...(what === 'secret' ? { data: object.data } : {}),
      // The IRSA annotation pods use to assume the IAM role.
      ...(what === 'serviceAccount'
        ? { roleArn: object.metadata?.annotations?.['eks.amazonaws.com/role-arn'] ?? 'missing' }
        : {}),
    };
  }
  return out;
}

const withoutRetainedMarks = (objects: Awaited<ReturnType<typeof kubernetesObjects>>) =>
  Object.fromEntries(Object.entries(objects).map(([k, { retained: _, ...rest }]) => [k, rest]));

/** A Vault login with the ServiceAccount's token through the identity's role: the credential works. */
async function vaultLogin(ns: string, serviceAccount: string, role: string): Promise<number> {
  const jwt =
    (
      await core.createNamespacedServiceAccountToken({
        namespace: ns,
        name: serviceAccount,
        body: { spec: { audiences: [] } },
      })
    ).status?.token ?? '';
  return (await bao('POST', 'auth/kubernetes/login', '', { role, jwt })).status;
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  await installVaultProvider();
  await installAwsProvider();
  operator = startOperatorProcess([`--offboarding-release-after=${RELEASE_AFTER}`]);
});

afterAll(async () => {
  await operator?.stop();
  await removeProvider('vault');
  await removeProvider('aws');
  await removeProvider(BROKEN_VAULT);
  // The CRD test deleted the CRDs (with every AgentIdentity); later suites need them back.
  await installOperatorManifests(kc);
});

describe('deleting an application namespace', () => {
  it("revokes its identities' Vault and AWS credentials, and the namespace goes", async () => {
    const ns = await newNamespace('nsdel');
    const ready = await provisioned(everywhere('crm-bot', ns));
    const role = ready.status?.vault?.role ?? '';
    const roleName = ready.status?.aws?.roleName ?? '';
    expect(await vaultRoleStatus(role)).toBe(200);
    expect(await roleExists(roleName)).toBe(true);

    await core.deleteNamespace({ name: ns });
    await namespaceGone(ns);
    expect(await vaultRoleStatus(role)).toBe(404);
    expect(await roleExists(roleName)).toBe(false);
    expect(auditOf('offboarded', 'crm-bot')).toHaveLength(1);
    expect(auditOf('released', 'crm-bot')).toEqual([]);
  });

  it('releases the namespace after the bound when revocation cannot authenticate, saying what was left', async () => {
    // A provider whose token the operator holds, revoked after provisioning: Vault answers 403 from then on.
    const token =
      (await bao('POST', 'auth/token/create', env.bao.token, { policies: ['root'], ttl: '1h' })).json.auth
        ?.client_token ?? '';
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'nhi-broken-')), 'token');
    writeFileSync(tokenFile, token, { mode: 0o600 });
    await applyObjects(kc, [
      {
        apiVersion: 'nhi.dev/v1alpha1',
        kind: 'ClusterCredentialProvider',
        metadata: { name: BROKEN_VAULT },
        spec: {
          vault: {
            address: env.bao.addr,
            kubernetesAuthMount: 'kubernetes',
            kvMount: 'secret',
            tokenMaxTTL: '1h',
            auth: { tokenFile: { path: tokenFile } },
          },
        },
      } as k8s.KubernetesObject,
    ]);
    const ns = await newNamespace('nsdel');
    const ready = await provisioned(
      agentIdentity(
        'stuck-bot',
        onTestCluster(ns),
        withSpec({ orphanGracePeriod: '10m' }),
        withScopes({
          provider: 'vault',
          providerRef: BROKEN_VAULT,
          paths: [{ path: `secret/data/${ns}/docs/*`, capabilities: ['read'] }],
        }),
      ),
    );
    const role = ready.status?.vault?.role ?? '';
    expect(await vaultRoleStatus(role)).toBe(200);
    expect((await bao('POST', 'auth/token/revoke-self', token)).status).toBe(204);

    await core.deleteNamespace({ name: ns });
    await namespaceGone(ns);
    const released = auditOf('released', 'stuck-bot');
    expect(released).toEqual([
      expect.objectContaining({
        severity: 'high',
        outcome: 'failure',
        resource: `vault/${BROKEN_VAULT}:identity/${ns}/stuck-bot`,
        origin: 'finalizer: namespace deleted',
      }),
    ]);
    expect(released[0]?.detail).toMatch(/NOT revoked/);
    expect(auditOf('offboarded', 'stuck-bot')).toEqual([]);
    const port = /"port":(\d+)/.exec(operator.logs())?.[1];
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^nhi_offboarding_released_total\{provider="vault"\} [1-9]/m);
    // What the operator could not revoke is still there, as the record says: a human removes it.
    expect(await vaultRoleStatus(role)).toBe(200);
    await deleteRetainedVaultRole(role);
  });
});

describe('spec.deletionPolicy Retain', () => {
  it('keeps every credential in place and usable when the AgentIdentity is deleted, marked retained', async () => {
    const ns = await newNamespace('retain');
    const ready = await provisioned(everywhere('keeper', ns, withSpec({ deletionPolicy: 'Retain' })));
    const role = ready.status?.vault?.role ?? '';
    const roleName = ready.status?.aws?.roleName ?? '';
    const before = await kubernetesObjects(ns, 'keeper');

    await custom.deleteNamespacedCustomObject({ ...identities, namespace: ns, name: 'keeper' });
    await eventually('the AgentIdentity gone', async () =>
      (await exists(() => custom.getNamespacedCustomObject({ ...identities, namespace: ns, name: 'keeper' })))
        ? undefined
        : true,
    );
    const after = await kubernetesObjects(ns, 'keeper');
    expect(withoutRetainedMarks(after)).toEqual(withoutRetainedMarks(before));
    for (const object of Object.values(after))
      expect(object.retained).toMatch(/^spec\.deletionPolicy Retain at /);
    expect(await vaultRoleStatus(role)).toBe(200);
    expect(await vaultLogin(ns, 'keeper', role)).toBe(200);
    expect(await roleExists(roleName)).toBe(true);
    expect(auditOf('retained', 'keeper')).toEqual([
      expect.objectContaining({ origin: 'finalizer: deletionPolicy Retain', outcome: 'success' }),
    ]);
    expect(auditOf('offboarded', 'keeper')).toEqual([]);
    await deleteRetainedVaultRole(role);
    await deleteRetainedRole(roleName);
    await core.deleteNamespace({ name: ns });
  });
});

describe("deleting the operator's namespace", () => {
  it('leaves every credential in place, and the identities untouched', async () => {
    const ns = await newNamespace('opns-apps');
    const ready = await provisioned(everywhere('steady', ns));
    const before = await kubernetesObjects(ns, 'steady');
    // A second operator, elected in its own namespace (as the chart runs it); that namespace is deleted.
    const operatorNs = await newNamespace('opns');
    const elected = startOperatorProcess(['--leader-elect=true', '--providers=aws,vault'], {
      POD_NAMESPACE: operatorNs,
      POD_NAME: 'doomed',
    });
    try {
      await eventually('the second operator holds its lease', async () =>
        exists(() =>
          kc
            .makeApiClient(k8s.CoordinationV1Api)
            .readNamespacedLease({ namespace: operatorNs, name: 'nhi-operator' }),
        ),
      );
      await core.deleteNamespace({ name: operatorNs });
      await namespaceGone(operatorNs);
    } finally {
      await elected.stop();
    }
    expect(await kubernetesObjects(ns, 'steady')).toEqual(before);
    const identity = (await custom.getNamespacedCustomObject({
      ...identities,
      namespace: ns,
      name: 'steady',
    })) as AgentIdentity;
    expect(identity.metadata.deletionTimestamp).toBeUndefined();
    expect(await vaultRoleStatus(ready.status?.vault?.role ?? '')).toBe(200);
    expect(await roleExists(ready.status?.aws?.roleName ?? '')).toBe(true);
  });
});

describe('deleting the CRDs (an uninstall accident, a GitOps prune)', () => {
  it('leaves every ServiceAccount, Secret, Vault and IAM role in place and usable; the operator steps aside', async () => {
    const ns = await newNamespace('crddel');
    const ready = await provisioned(everywhere('survivor', ns));
    const role = ready.status?.vault?.role ?? '';
    const roleName = ready.status?.aws?.roleName ?? '';
    const before = await kubernetesObjects(ns, 'survivor');
    for (const object of Object.values(before)) expect(object.owners).toBe(0);
    expect(before.serviceAccount?.roleArn).toBe(ready.status?.aws?.roleArn);

    // All three at once, as `kubectl delete -f crds/` would: the ClusterCredentialProviders go too.
    for (const name of CRDS) await extensions.deleteCustomResourceDefinition({ name });
    // The apiserver deletes every AgentIdentity; the operator steps aside for each.
    await eventually('the operator stepped aside', async () => auditOf('retained', 'survivor').length > 0, {
      timeoutMs: 60_000,
    });
    // The identity policy's binding denies every AgentIdentity update once its IdentityPolicy is gone
    // (parameterNotFoundAction Deny), the operator's finalizer release included; helm uninstall or
    // `kubectl delete -f config/admission` removes it (docs/reliability-safety.md).
    await admission.deleteValidatingAdmissionPolicyBinding({ name: ADMISSION_BINDING_NAME });
    for (const name of CRDS)
      await eventually(
        `the CRD ${name} deleted`,
        async () => !(await exists(() => extensions.readCustomResourceDefinition({ name }))),
        { timeoutMs: 60_000, intervalMs: 500 },
      );
    const after = await kubernetesObjects(ns, 'survivor');
    expect(withoutRetainedMarks(after)).toEqual(withoutRetainedMarks(before));
    for (const object of Object.values(after))
      expect(object.retained).toMatch(/^the AgentIdentity CRD is being deleted at /);
    expect(await vaultRoleStatus(role)).toBe(200);
    expect(await vaultLogin(ns, 'survivor', role)).toBe(200);
    expect(await roleExists(roleName)).toBe(true);

    expect(auditOf('retained', 'survivor')).toEqual([
      expect.objectContaining({ origin: 'finalizer: CustomResourceDefinition deleted', severity: 'warning' }),
    ]);
    expect(auditOf('offboarded', 'survivor')).toEqual([]);
    expect(auditOf('revoked', 'survivor')).toEqual([]);
    expect(operator.logs()).toMatch(/the AgentIdentity CRD is being deleted: stepping aside/);
    const stepped = (await events.listNamespacedEvent({ namespace: ns })).items.filter(
      (e) => e.reason === 'SteppedAside' && e.regarding?.name === 'survivor',
    );
    expect(stepped).toHaveLength(1);
    expect(stepped[0]?.type).toBe('Warning');
    // The operator outlives its API: still running, still serving health.
    expect(operator.child.exitCode).toBeNull();

    // Clean up what was retained (the operator no longer manages it): the Vault and IAM roles by hand.
    await deleteRetainedVaultRole(role);
    await deleteRetainedRole(roleName);
    await core.deleteNamespace({ name: ns });
  });
});
