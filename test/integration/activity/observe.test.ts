// Adopting shadow identities observe-only, against the real apiserver, moto and the real operator
// process: a shadow ServiceAccount and an untagged IAM role trusted by it are adopted with
// `nhictl adopt serviceaccount/NAME --iam-role R --apply`. After several reconciles the ServiceAccount
// (resourceVersion and all) and the role (trust, tags, policies) are byte-identical and status reports
// them; a role trusted by another namespace's ServiceAccount is refused in status with nothing about
// it recorded; switching to Managed provisions new, marked objects and still leaves the originals as
// they were.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  IAMClient,
  ListRolesCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Marks } from '../../../src/api/v1alpha1/annotations.ts';
import type { ObserveAdoptResult } from '../../../src/cli/adopt-observe.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import {
  AGENT_IDENTITIES,
  bao,
  conditionOf,
  getIdentity,
  installAwsProvider,
  installVaultProvider,
  newNamespace,
  removeProvider,
  untilCondition,
} from '../../support/cluster.ts';
import { awsClientConfig, childProcessEnv, kubeConfig, testEnv } from '../../support/env.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { tokenUser } from '../../support/token-users.ts';
import { eventually, uniqueName } from '../../support/wait.ts';
import { describeRole } from '../aws/support.ts';

const run = promisify(execFile);
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const iam = new IAMClient(awsClientConfig());
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const issuerHost = new URL(testEnv().serviceAccountIssuer).host;
const PROVIDER = uniqueName('observe-aws');
const VAULT_PROVIDER = uniqueName('observe-vault');
const VAULT_ROLE = uniqueName('legacy-vault');
const FOREIGN_VAULT_ROLE = uniqueName('foreign-vault');
const ROLE_PATH = `/${uniqueName('observe')}/`;
const LEGACY_ROLE = uniqueName('legacy-bot');
const FOREIGN_ROLE = uniqueName('foreign-bot');
const SA = 'legacy-bot';
let ns: string;
let other: string;
let operator: OperatorProcess;

async function nhictl(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [join(repoRoot, 'bin', 'nhictl.js'), ...args], {
    env: childProcessEnv(),
  });
  return stdout;
}

/** An untagged role trusted by `namespace/serviceAccount` through the cluster issuer, with an inline policy. */
async function shadowRole(name: string, namespace: string, serviceAccount: string): Promise<void> {
  await iam.send(
    new CreateRoleCommand({
      RoleName: name,
      Path: '/legacy/',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Federated: `arn:aws:iam::123456789012:oidc-provider/${issuerHost}` },
            Action: 'sts:AssumeRoleWithWebIdentity',
            Condition: {
              StringEquals: {
                [`${issuerHost}:sub`]: `system:serviceaccount:${namespace}:${serviceAccount}`,
                [`${issuerHost}:aud`]: 'sts.amazonaws.com',
              },
            },
          },
        ],
      }),
    }),
  );
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: name,
      PolicyName: 'reports',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::legacy-reports/*' }],
      }),
    }),
  );
}

/** A kubernetes-auth role bound to `names` in `namespaces`, written straight into OpenBao (not the operator's). */
async function shadowVaultRole(name: string, namespaces: string[], names: string[]): Promise<void> {
  const answer = await bao('POST', `auth/kubernetes/role/${name}`, testEnv().bao.token, {
    bound_service_account_names: names,
    bound_service_account_namespaces: namespaces,
    token_policies: ['default'],
    token_ttl: 600,
  });
  if (answer.status >= 300) throw new Error(`writing Vault role ${name}: ${answer.status}`);
}

const vaultRoleNow = async (name: string) =>
  JSON.stringify((await bao('GET', `auth/kubernetes/role/${name}`, testEnv().bao.token)).json.data);

const serviceAccountNow = async (namespace: string, name: string) =>
  JSON.stringify(await core.readNamespacedServiceAccount({ namespace, name }));

let saBefore: string;
let legacyBefore: string;
let foreignBefore: string;
let adopted: ObserveAdoptResult;

beforeAll(async () => {
  await installOperatorManifests(kc);
  ns = await newNamespace('observe');
  other = await newNamespace('observe-other');
  await installAwsProvider({ name: PROVIDER, spec: { rolePath: ROLE_PATH } });
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: SA } } });
  await core.createNamespacedServiceAccount({ namespace: other, body: { metadata: { name: 'bot' } } });
  await shadowRole(LEGACY_ROLE, ns, SA);
  await shadowRole(FOREIGN_ROLE, other, 'bot');
  saBefore = await serviceAccountNow(ns, SA);
  legacyBefore = JSON.stringify(await describeRole(iam, LEGACY_ROLE));
  foreignBefore = JSON.stringify(await describeRole(iam, FOREIGN_ROLE));
  operator = startOperatorProcess();
  const stdout = await nhictl(
    'adopt',
    `serviceaccount/${SA}`,
    '-n',
    ns,
    '--iam-role',
    LEGACY_ROLE,
    '--provider',
    PROVIDER,
    '--owner',
    'team-reports',
    '--purpose',
    'builds the nightly reports',
    '--apply',
    '-o',
    'json',
  );
  adopted = JSON.parse(stdout) as ObserveAdoptResult;
});

afterAll(async () => {
  await operator?.stop();
  for (const namespace of [ns, other]) await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  await removeProvider(PROVIDER);
  await removeProvider(VAULT_PROVIDER);
  for (const role of [VAULT_ROLE, FOREIGN_VAULT_ROLE])
    await bao('DELETE', `auth/kubernetes/role/${role}`, testEnv().bao.token).catch(() => undefined);
  for (const role of [LEGACY_ROLE, FOREIGN_ROLE]) {
    await iam
      .send(new DeleteRolePolicyCommand({ RoleName: role, PolicyName: 'reports' }))
      .catch(() => undefined);
    await iam.send(new DeleteRoleCommand({ RoleName: role })).catch(() => undefined);
  }
});

describe('a shadow ServiceAccount and an untagged IAM role adopted observe-only', () => {
  it('without --apply, nhictl adopt prints the AgentIdentity and the switch patch, and creates nothing', async () => {
    const printed = await nhictl(
      'adopt',
      `serviceaccount/${SA}`,
      '-n',
      ns,
      '--identity',
      'printed-only',
      '--owner',
      'team-reports',
      '--purpose',
      'builds the nightly reports',
    );
    expect(printed).toContain('management: Observe');
    expect(printed).toContain(`serviceAccountName: ${SA}`);
    expect(printed).toContain('"management":"Managed"');
    expect(await getIdentity(ns, 'printed-only')).toBeUndefined();
  });

  it('nhictl adopt --apply creates the AgentIdentity in Observe mode naming both', () => {
    expect(adopted.created).toBe(true);
    expect(adopted.identity.spec).toMatchObject({
      management: 'Observe',
      observe: { serviceAccountName: SA, iamRoleName: LEGACY_ROLE, providerRef: PROVIDER },
      owner: { team: 'team-reports' },
    });
  });

  it('status reports the ServiceAccount and the role; after several reconciles both are byte-identical', async () => {
    const identity = await untilCondition(ns, SA, 'Observed', 'True', 60_000);
    expect(identity.status?.phase).toBe('Observing');
    expect(conditionOf(identity, 'Ready')).toMatchObject({ status: 'True', reason: 'ObserveOnly' });
    expect(identity.metadata.finalizers ?? []).toEqual([]);
    const saLive = await core.readNamespacedServiceAccount({ namespace: ns, name: SA });
    expect(identity.status?.observed?.objects).toEqual([
      { kind: 'ServiceAccount', name: SA, reported: true, resourceVersion: saLive.metadata?.resourceVersion },
      expect.objectContaining({
        kind: 'IAMRole',
        name: LEGACY_ROLE,
        reported: true,
        arn: `arn:aws:iam::123456789012:role/legacy/${LEGACY_ROLE}`,
        boundTo: [`${ns}/${SA}`],
      }),
    ]);
    // The drift interval is 5 s: three more rounds of reads.
    await sleep(16_000);
    expect(await serviceAccountNow(ns, SA)).toBe(saBefore);
    expect(JSON.stringify(await describeRole(iam, LEGACY_ROLE))).toBe(legacyBefore);
    // Nothing of the operator's own: no marked ServiceAccount, Role or RoleBinding, no managed role.
    const marked = `${Marks.managedBy}=${Marks.managedByValue}`;
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    expect((await core.listNamespacedServiceAccount({ namespace: ns, labelSelector: marked })).items).toEqual(
      [],
    );
    expect((await rbac.listNamespacedRole({ namespace: ns, labelSelector: marked })).items).toEqual([]);
    expect((await iam.send(new ListRolesCommand({ PathPrefix: ROLE_PATH }))).Roles ?? []).toEqual([]);
  });

  it('an IAM role trusted by another namespace is refused in status, and nothing about it is recorded', async () => {
    await nhictl(
      'adopt',
      `serviceaccount/${SA}`,
      '-n',
      ns,
      '--identity',
      'foreign-watch',
      '--iam-role',
      FOREIGN_ROLE,
      '--provider',
      PROVIDER,
      '--owner',
      'team-reports',
      '--purpose',
      'tries to watch a role of another team',
      '--apply',
    );
    const identity = await untilCondition(ns, 'foreign-watch', 'Observed', 'False', 60_000);
    expect(conditionOf(identity, 'Observed')?.reason).toBe('NotBoundToNamespace');
    expect(conditionOf(identity, 'Ready')).toMatchObject({ status: 'False', reason: 'NotBoundToNamespace' });
    const entry = identity.status?.observed?.objects.find((o) => o.kind === 'IAMRole');
    expect(entry).toEqual({
      kind: 'IAMRole',
      name: FOREIGN_ROLE,
      reported: false,
      message: expect.stringMatching(/outside this namespace/),
    });
    expect(JSON.stringify(identity.status)).not.toContain(other);
    expect(JSON.stringify(await describeRole(iam, FOREIGN_ROLE))).toBe(foreignBefore);
  });

  it('switching to Managed provisions new, marked objects and leaves the originals untouched', async () => {
    await custom.patchNamespacedCustomObject(
      {
        ...AGENT_IDENTITIES,
        namespace: ns,
        name: SA,
        body: {
          ...adopted.switchPatch,
          spec: {
            ...(adopted.switchPatch as { spec: object }).spec,
            scopes: [
              {
                provider: 'aws',
                providerRef: PROVIDER,
                actions: ['s3:GetObject'],
                resources: ['arn:aws:s3:::legacy-reports/*'],
              },
            ],
          },
        },
      },
      mergePatch,
    );
    const identity = await untilCondition(ns, SA, 'Provisioned', 'True', 90_000);
    expect(identity.spec.management).toBe('Managed');
    expect(identity.status?.serviceAccount).toBe(`${SA}-nhi`);
    const managed = await core.readNamespacedServiceAccount({ namespace: ns, name: `${SA}-nhi` });
    expect(managed.metadata?.labels?.[Marks.identityUid]).toBe(identity.metadata.uid);
    const roles = await eventually('the managed role', async () => {
      const listed = (await iam.send(new ListRolesCommand({ PathPrefix: ROLE_PATH }))).Roles ?? [];
      return listed.length > 0 ? listed : undefined;
    });
    expect(roles.map((r) => r.RoleName)).not.toContain(LEGACY_ROLE);
    await sleep(6_000);
    expect(await serviceAccountNow(ns, SA)).toBe(saBefore);
    expect(JSON.stringify(await describeRole(iam, LEGACY_ROLE))).toBe(legacyBefore);
    expect((await getIdentity(ns, SA))?.status?.observed).toBeUndefined();
  });

  it('a Vault role bound to this namespace is reported, one bound to another too is refused; neither changes', async () => {
    await installVaultProvider({ name: VAULT_PROVIDER });
    await shadowVaultRole(VAULT_ROLE, [ns], [SA]);
    await shadowVaultRole(FOREIGN_VAULT_ROLE, [ns, other], [SA, 'bot']);
    const before = [await vaultRoleNow(VAULT_ROLE), await vaultRoleNow(FOREIGN_VAULT_ROLE)];
    const adoptVault = (identity: string, role: string) =>
      nhictl(
        'adopt',
        `serviceaccount/${SA}`,
        '-n',
        ns,
        '--identity',
        identity,
        '--vault-role',
        role,
        '--provider',
        VAULT_PROVIDER,
        '--owner',
        'team-reports',
        '--purpose',
        'reads the report settings from Vault',
        '--apply',
      );
    await adoptVault('vault-watch', VAULT_ROLE);
    await adoptVault('vault-foreign', FOREIGN_VAULT_ROLE);
    const watched = await untilCondition(ns, 'vault-watch', 'Observed', 'True', 60_000);
    expect(watched.status?.observed?.objects.find((o) => o.kind === 'VaultRole')).toMatchObject({
      name: VAULT_ROLE,
      reported: true,
      boundTo: [`${ns}/${SA}`],
    });
    const refused = await untilCondition(ns, 'vault-foreign', 'Observed', 'False', 60_000);
    expect(conditionOf(refused, 'Observed')?.reason).toBe('NotBoundToNamespace');
    expect(JSON.stringify(refused.status)).not.toContain(other);
    await sleep(6_000);
    expect([await vaultRoleNow(VAULT_ROLE), await vaultRoleNow(FOREIGN_VAULT_ROLE)]).toEqual(before);
  });

  it('admission refuses spec.observe without management Observe, and Observe without spec.observe, naming the field', async () => {
    const body = (spec: object) => ({
      apiVersion: 'nhi.dev/v1alpha1',
      kind: 'AgentIdentity',
      metadata: { name: uniqueName('bad'), namespace: ns },
      spec: {
        owner: { team: 'team-reports' },
        purpose: 'builds the nightly reports',
        environment: 'development',
        ...spec,
      },
    });
    const refusal = (spec: object) =>
      custom.createNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace: ns, body: body(spec) }).then(
        () => 'accepted',
        (error: unknown) => String((error as { body?: unknown }).body ?? error),
      );
    expect(await refusal({ observe: { serviceAccountName: SA } })).toContain('spec.observe');
    expect(await refusal({ management: 'Observe' })).toContain('spec.management');
  });

  it('admission refuses observing a ServiceAccount the requester may not read, and admits one who may', async () => {
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    const user = await tokenUser(kc, ns, uniqueName('tenant'));
    const userName = user.username.split(':').at(-1) ?? '';
    const bind = async (role: string, rules: k8s.V1PolicyRule[]) => {
      await rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: role }, rules } });
      await rbac.createNamespacedRoleBinding({
        namespace: ns,
        body: {
          metadata: { name: role },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role },
          subjects: [{ kind: 'ServiceAccount', name: userName, namespace: ns }],
        },
      });
    };
    await bind(uniqueName('identities'), [
      { apiGroups: ['nhi.dev'], resources: ['agentidentities'], verbs: ['create', 'get'] },
    ]);
    const asUser = user.kc.makeApiClient(k8s.CustomObjectsApi);
    const create = (name: string) =>
      asUser
        .createNamespacedCustomObject({
          ...AGENT_IDENTITIES,
          namespace: ns,
          body: {
            apiVersion: 'nhi.dev/v1alpha1',
            kind: 'AgentIdentity',
            metadata: { name, namespace: ns },
            spec: {
              owner: { team: 'team-reports' },
              purpose: 'builds the nightly reports',
              environment: 'development',
              management: 'Observe',
              observe: { serviceAccountName: SA },
            },
          },
        })
        .then(
          () => 'accepted',
          (error: unknown) => String((error as { body?: unknown }).body ?? error),
        );
    // RBAC reaches the authorizer's cache shortly after the binding: wait past the RBAC refusal.
    const refused = await eventually('an admission answer, not the RBAC refusal', async () => {
      const answer = await create(uniqueName('peek'));
      return answer.includes('cannot create resource') ? undefined : answer;
    });
    expect(refused).toContain('spec.observe.serviceAccountName');
    expect(refused).toContain('may not read');
    await bind(uniqueName('read-sa'), [
      { apiGroups: [''], resources: ['serviceaccounts'], resourceNames: [SA], verbs: ['get'] },
    ]);
    expect(
      await eventually('admitted once the requester may read it', async () => {
        const answer = await create(uniqueName('watch'));
        return answer === 'accepted' ? answer : undefined;
      }),
    ).toBe('accepted');
  });
});
