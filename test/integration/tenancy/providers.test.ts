// ClusterCredentialProvider tenancy through the real operator process, against the real apiserver,
// OpenBao and moto: a provider's allowedNamespaces (by name and by label selector) holds back every
// identity elsewhere with PolicyCompliant=False naming the provider, and nothing is created for it;
// the apiserver refuses to change where a provider in use keeps credentials; and adding a second
// provider of a kind moves no identity, deletes nothing, and leaves nothing behind after offboarding.

import { readFileSync } from 'node:fs';
import { GetRoleCommand, IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentIdentity, Scope } from '../../../src/api/v1alpha1/types.ts';
import { configureBaoKubernetesAuth } from '../../../src/dev/bao-setup.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { identityNames } from '../../../src/providers/vault/names.ts';
import { agentIdentity, type Modifier, withScopes, withSpec } from '../../../src/testing/agent-identity.ts';
import {
  AGENT_IDENTITIES,
  bao,
  conditionOf,
  createIdentity,
  getIdentity,
  installAwsProvider,
  installVaultProvider,
  removeProvider,
  untilCondition,
} from '../../support/cluster.ts';
import { awsClientConfig, kubeConfig, testEnv } from '../../support/env.ts';
import { onTestCluster, withSecret } from '../../support/fixtures.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually, uniqueName } from '../../support/wait.ts';

const env = testEnv();
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const iam = new IAMClient(awsClientConfig());
const PROVIDERS = { group: 'nhi.dev', version: 'v1alpha1', plural: 'clustercredentialproviders' };
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const TENANT_LABEL = 'tenancy.example.com/team';
const ROLE_PATH = `/${uniqueName('tenancy')}/`;
const providerNames = ['tenancy-vault', 'tenancy-aws', 'vault-b', 'vault'];
const identities: Array<[string, string]> = [];
let operator: OperatorProcess;

async function namespaceWith(prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const name = uniqueName(prefix);
  const body = namespaceBody(name);
  body.metadata = { ...body.metadata, labels: { ...body.metadata?.labels, ...labels } };
  await core.createNamespace({ body });
  return name;
}

/** An identity of the test cluster without a workload (nothing to orphan it while we watch). */
async function create(name: string, namespace: string, ...modifiers: Modifier[]): Promise<void> {
  await createIdentity(
    agentIdentity(name, onTestCluster(namespace), withSpec({ workloadRef: undefined }), ...modifiers),
  );
  identities.push([namespace, name]);
}

const vaultScope = (namespace: string, providerRef?: string): Scope => ({
  provider: 'vault',
  ...(providerRef && { providerRef }),
  paths: [{ path: `secret/data/${namespace}/docs/*`, capabilities: ['read'] }],
});
const kvSecret = (providerRef?: string): Modifier =>
  withSecret('db-password', { backend: 'vault-kv', ...(providerRef && { providerRef }) });

/** What OpenBao holds for the identity under one pair of mounts: role, KV secret, role owner record. */
async function vaultHolds(identity: AgentIdentity, authMount: string, kvMount: string) {
  const names = identityNames({
    identity,
    subject: { namespace: identity.metadata.namespace ?? '', serviceAccountName: identity.metadata.name },
  });
  const found = async (path: string) => (await bao('GET', path, env.bao.token)).status === 200;
  return {
    role: await found(`auth/${authMount}/role/${names.base}`),
    secret: await found(`${kvMount}/metadata/${names.kvFolder}/db-password`),
    owner: await found(`${kvMount}/metadata/${names.ownerRecord}`),
  };
}
const nothing = { role: false, secret: false, owner: false };

/** The identity after the operator handled its current generation. */
async function untilObserved(namespace: string, name: string): Promise<AgentIdentity> {
  return eventually(`${name} observed at its generation`, async () => {
    const identity = await getIdentity(namespace, name);
    const ready = conditionOf(identity, 'Ready');
    return identity && ready?.observedGeneration === identity.metadata.generation ? identity : undefined;
  });
}

async function patchIdentity(namespace: string, name: string, spec: object): Promise<void> {
  await custom.patchNamespacedCustomObject(
    { ...AGENT_IDENTITIES, namespace, name, body: { spec } },
    mergePatch,
  );
}

async function offboard(namespace: string, name: string): Promise<void> {
  await custom.deleteNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace, name }).catch(() => {});
  await eventually(`${name} offboarded`, async () => (await getIdentity(namespace, name)) === undefined, {
    timeoutMs: 60_000,
  });
}

async function rolesUnder(path: string): Promise<string[]> {
  const { Roles } = await iam.send(new ListRolesCommand({ PathPrefix: path }));
  return (Roles ?? []).map((r) => r.RoleName ?? '');
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  operator = startOperatorProcess();
});

afterAll(async () => {
  for (const [namespace, name] of identities) await offboard(namespace, name).catch(() => {});
  await operator?.stop();
  for (const name of providerNames) await removeProvider(name);
});

describe('allowedNamespaces', () => {
  it('by name: an identity elsewhere is held with PolicyCompliant=False naming the provider and gets no Vault role; a listed namespace is provisioned', async () => {
    const allowed = await namespaceWith('tenant-a');
    const denied = await namespaceWith('tenant-b');
    await installVaultProvider({ name: 'tenancy-vault', allowedNamespaces: { names: [allowed] } });
    await create('bot', denied, withScopes(vaultScope(denied, 'tenancy-vault')), kvSecret('tenancy-vault'));
    await create('bot', allowed, withScopes(vaultScope(allowed, 'tenancy-vault')), kvSecret('tenancy-vault'));

    const held = await untilCondition(denied, 'bot', 'PolicyCompliant', 'False');
    expect(conditionOf(held, 'PolicyCompliant')?.message).toContain(
      `spec.scopes[0].providerRef: ClusterCredentialProvider tenancy-vault (named in providerRef) does not allow namespace ${denied}`,
    );
    expect(conditionOf(held, 'Provisioned')).toMatchObject({ status: 'False', reason: 'PolicyViolation' });
    expect(held.status?.providers).toBeUndefined();

    const provisioned = await untilCondition(allowed, 'bot', 'Ready');
    expect(await vaultHolds(provisioned, 'kubernetes', 'secret')).toEqual({
      role: true,
      secret: true,
      owner: true,
    });
    // Still held after the provisioned one went through: nothing at all exists for it.
    expect(conditionOf(await getIdentity(denied, 'bot'), 'PolicyCompliant')?.status).toBe('False');
    expect(await vaultHolds(held, 'kubernetes', 'secret')).toEqual(nothing);
    await expect(core.readNamespacedServiceAccount({ namespace: denied, name: 'bot' })).rejects.toThrow();
  });

  describe('by label selector, on AWS', () => {
    let namespace: string;

    it('an unlabelled tenant gets no IAM role until the platform labels its namespace', async () => {
      namespace = await namespaceWith('team-x', { [TENANT_LABEL]: 'b' });
      await installAwsProvider({
        name: 'tenancy-aws',
        spec: { rolePath: ROLE_PATH },
        allowedNamespaces: { selector: { matchLabels: { [TENANT_LABEL]: 'a' } } },
      });
      await create(
        'crm',
        namespace,
        withScopes({
          provider: 'aws',
          providerRef: 'tenancy-aws',
          actions: ['s3:GetObject'],
          resources: ['arn:aws:s3:::tenancy-reports/*'],
        }),
      );
      const held = await untilCondition(namespace, 'crm', 'PolicyCompliant', 'False');
      expect(conditionOf(held, 'PolicyCompliant')?.message).toContain(
        `ClusterCredentialProvider tenancy-aws (named in providerRef) does not allow namespace ${namespace}`,
      );
      expect(await rolesUnder(ROLE_PATH)).toEqual([]);

      // The namespace's labels are watched: relabelling it lets the identity through.
      await core.patchNamespace(
        { name: namespace, body: { metadata: { labels: { [TENANT_LABEL]: 'a' } } } },
        mergePatch,
      );
      const ready = await untilCondition(namespace, 'crm', 'Ready');
      expect(conditionOf(ready, 'PolicyCompliant')?.status).toBe('True');
      expect(await rolesUnder(ROLE_PATH)).toEqual([ready.status?.aws?.roleName]);
    });

    it('the apiserver refuses to move a provider in use; the role stays where it is, other fields stay editable', async () => {
      for (const [field, value] of [
        ['roleNamePrefix', 'moved-'],
        ['rolePath', '/moved/'],
        ['accountId', '444455556666'],
      ] as const) {
        const refusal = await custom
          .patchClusterCustomObject(
            { ...PROVIDERS, name: 'tenancy-aws', body: { spec: { aws: { [field]: value } } } },
            mergePatch,
          )
          .then(
            () => undefined,
            (error: k8s.ApiException<unknown>) => error,
          );
        expect(refusal?.code, field).toBe(422);
        expect(String(refusal?.body)).toContain(`spec.aws.${field}: Invalid value`);
        expect(String(refusal?.body)).toContain(`${field} is immutable`);
      }
      await custom.patchClusterCustomObject(
        {
          ...PROVIDERS,
          name: 'tenancy-aws',
          body: { spec: { allowedNamespaces: { names: [namespace] }, aws: { maxWritesPerSecond: 20 } } },
        },
        mergePatch,
      );
      const identity = await untilCondition(namespace, 'crm', 'Ready');
      const role = await iam.send(new GetRoleCommand({ RoleName: identity.status?.aws?.roleName }));
      expect(role.Role?.Path).toBe(ROLE_PATH);
    });
  });
});

describe('a second provider of a kind', () => {
  it('moves no identity and deletes nothing; each identity stays where it is until its spec names another, and offboarding leaves nothing in either', async () => {
    await configureBaoKubernetesAuth({
      baoAddr: env.bao.addr,
      baoToken: env.bao.token,
      kubeconfigPath: env.kubeconfigPath,
      apiserverUrl: env.apiserverUrl,
      caPem: env.caPem,
      mount: 'kubernetes-b',
    });
    const mounted = await bao('POST', 'sys/mounts/secret-b', env.bao.token, {
      type: 'kv',
      options: { version: '2' },
    });
    expect([204, 400]).toContain(mounted.status);
    await installVaultProvider();
    const ns = await namespaceWith('tenancy-c');

    // x uses the default Vault provider, the only one so far.
    await create('x', ns, withScopes(vaultScope(ns)), kvSecret());
    const x = await untilCondition(ns, 'x', 'Ready');
    expect(x.status?.providers).toEqual(['kubernetes', 'vault/vault']);
    expect(await vaultHolds(x, 'kubernetes', 'secret')).toEqual({ role: true, secret: true, owner: true });

    // A second Vault provider, other mounts; y names it.
    await installVaultProvider({
      name: 'vault-b',
      spec: { kubernetesAuthMount: 'kubernetes-b', kvMount: 'secret-b' },
    });
    await create('y', ns, withScopes(vaultScope(ns, 'vault-b')), kvSecret('vault-b'));
    const y = await untilCondition(ns, 'y', 'Ready');
    expect(y.status?.providers).toEqual(['kubernetes', 'vault/vault-b']);

    // The operator knows vault-b now (y is Ready through it); a spec change makes x converge again.
    await patchIdentity(ns, 'x', { purpose: 'answer support tickets, reconverged' });
    const xAgain = await untilObserved(ns, 'x');
    expect(xAgain.status?.providers).toEqual(['kubernetes', 'vault/vault']);
    expect(await vaultHolds(x, 'kubernetes', 'secret')).toEqual({ role: true, secret: true, owner: true });
    expect(await vaultHolds(x, 'kubernetes-b', 'secret-b')).toEqual(nothing);
    expect(await vaultHolds(y, 'kubernetes-b', 'secret-b')).toEqual({
      role: true,
      secret: true,
      owner: true,
    });
    expect(await vaultHolds(y, 'kubernetes', 'secret')).toEqual(nothing);

    // y's spec stops naming vault-b: its credentials are recorded there, so it stays there.
    await patchIdentity(ns, 'y', {
      scopes: [vaultScope(ns)],
      secrets: y.spec.secrets?.map(({ providerRef: _ref, ...secret }) => secret),
    });
    const yAgain = await untilObserved(ns, 'y');
    expect(yAgain.status?.providers).toEqual(['kubernetes', 'vault/vault-b']);
    expect(await vaultHolds(y, 'kubernetes-b', 'secret-b')).toEqual({
      role: true,
      secret: true,
      owner: true,
    });
    expect(await vaultHolds(y, 'kubernetes', 'secret')).toEqual(nothing);

    const revokedBeforeOffboarding = readFileSync(operator.auditLog, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"revoked"') && line.includes(ns));
    expect(revokedBeforeOffboarding).toEqual([]);

    await offboard(ns, 'x');
    await offboard(ns, 'y');
    for (const identity of [x, y]) {
      expect(await vaultHolds(identity, 'kubernetes', 'secret')).toEqual(nothing);
      expect(await vaultHolds(identity, 'kubernetes-b', 'secret-b')).toEqual(nothing);
      const { base } = identityNames({
        identity,
        subject: { namespace: ns, serviceAccountName: identity.metadata.name },
      });
      expect((await bao('GET', `sys/policies/acl/${base}`, env.bao.token)).status).toBe(404);
    }
  });
});
