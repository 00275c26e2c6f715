// A namespace tenant tries to obtain through an AgentIdentity what they could not grant themselves,
// against the real apiserver with the shipped admission policy and default IdentityPolicy. The tenant
// is a real user: a ServiceAccount token holding only what a team gets in its namespaces (edit
// AgentIdentities and Deployments, read ConfigMaps), in three namespaces the platform labelled
// development, staging and production. Every attempt is refused at admission with its field named,
// and `nhictl lint` reaches the same verdict offline (asking the cluster for the requester's rights,
// `--check-requester`, as the tenant); the tenant's benign identities are admitted.

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { AgentIdentity, Environment, Scope } from '../../../src/api/v1alpha1/types.ts';
import { addRequesterViolations, lintSources } from '../../../src/cli/lint.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { describe as describeViolation } from '../../../src/policies/violation.ts';
import {
  agentIdentity,
  inEnvironment,
  inNamespace,
  withScopes,
  withSecrets,
  withWorkload,
} from '../../../src/testing/agent-identity.ts';
import { randomSecret } from '../../fixtures/scopes-and-secrets.ts';
import { kubeConfig } from '../../support/env.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { tokenUser } from '../../support/token-users.ts';
import { eventually, uniqueName } from '../../support/wait.ts';

const admin = kubeConfig();
const core = admin.makeApiClient(k8s.CoreV1Api);
const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
const AGENT_IDENTITIES = { group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' };

const environments: Environment[] = ['development', 'staging', 'production'];
const ns: Record<Environment, string> = { development: '', staging: '', production: '' };
let unlabelled = '';
let tenant: k8s.KubeConfig;

/** What a team gets in its own namespace: edit AgentIdentities and Deployments, read ConfigMaps. */
async function grantTenant(namespace: string, subjectNamespace: string): Promise<void> {
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name: 'tenant-editor' },
      rules: [
        {
          apiGroups: ['nhi.dev'],
          resources: ['agentidentities'],
          verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
        },
        {
          apiGroups: ['apps'],
          resources: ['deployments'],
          verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
        },
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'tenant-editor' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tenant-editor' },
      subjects: [{ kind: 'ServiceAccount', name: 'tenant', namespace: subjectNamespace }],
    },
  });
}

/** The tenant creates (dry run) the identity; returns the apiserver's refusal or undefined. */
async function asTenant(identity: AgentIdentity): Promise<string | undefined> {
  const custom = tenant.makeApiClient(k8s.CustomObjectsApi);
  try {
    await custom.createNamespacedCustomObject({
      ...AGENT_IDENTITIES,
      namespace: identity.metadata.namespace ?? '',
      body: identity,
      dryRun: 'All',
    });
    return undefined;
  } catch (error) {
    if (!(error instanceof k8s.ApiException)) throw error;
    return (JSON.parse(String(error.body)) as { message?: string }).message ?? String(error.body);
  }
}

/** `nhictl lint --namespace-environment <env> --check-requester`, as the tenant. */
async function lintAsTenant(identity: AgentIdentity, environment: Environment): Promise<string[]> {
  const sources = [{ name: `${identity.metadata.name}.yaml`, text: stringify(identity) }];
  const report = await addRequesterViolations(
    lintSources(sources, undefined, { namespaceEnvironment: environment }),
    sources,
    tenant,
  );
  return report.documents.flatMap((d) => d.violations.map(describeViolation));
}

/** The field as a pattern: `[]` in the table matches `[]` (admission policy) or `[0]` (CRD schema). */
const fieldPattern = (field: string) =>
  new RegExp(field.replace(/[.*+?^${}()|\\]/g, '\\$&').replace(/\[\]/g, '\\[\\d*\\]'));

const rules = (apiGroups: string[], resources: string[], verbs: string[]): Scope => ({
  provider: 'kubernetes',
  rules: [{ apiGroups, resources, verbs }],
});
const aws = (actions: string[], resources: string[]): Scope => ({ provider: 'aws', actions, resources });
const vault = (path: string, capabilities = ['read']): Scope => ({
  provider: 'vault',
  paths: [{ path, capabilities }],
});
const ARN = 'arn:aws:secretsmanager:us-east-1:111122223333:secret';

interface Attempt {
  /** The namespace's environment (its label). */
  in: Environment;
  /** spec.environment, when it differs from the namespace's. */
  claims?: Environment;
  scope?: Scope | ((namespace: string) => Scope);
  field: string;
}

const escalations: Array<[string, Attempt]> = [
  // The rulebook is the namespace's, not the requester's.
  [
    'development rules in a production namespace',
    { in: 'production', claims: 'development', field: 'spec.environment' },
  ],
  [
    'staging rules in a production namespace',
    { in: 'production', claims: 'staging', field: 'spec.environment' },
  ],
  [
    'development rules in a staging namespace',
    { in: 'staging', claims: 'development', field: 'spec.environment' },
  ],
  [
    'production claimed in a development namespace',
    { in: 'development', claims: 'production', field: 'spec.environment' },
  ],
  // Kubernetes: nothing the requester does not hold, and no privileged grant in any environment.
  ...environments.flatMap(
    (env): Array<[string, Attempt]> => [
      [
        `list secrets (${env})`,
        { in: env, scope: rules([''], ['secrets'], ['list']), field: 'spec.scopes[].rules' },
      ],
      [
        `create pods/exec (${env})`,
        { in: env, scope: rules([''], ['pods/exec'], ['create']), field: 'spec.scopes[].rules' },
      ],
      [
        `mint serviceaccounts/token (${env})`,
        {
          in: env,
          scope: rules([''], ['serviceaccounts/token'], ['create']),
          field: 'spec.scopes[].rules[].apiGroups',
        },
      ],
      [
        `update nhi.dev agentidentities/status (${env})`,
        {
          in: env,
          scope: rules(['nhi.dev'], ['agentidentities/status'], ['update']),
          field: 'spec.scopes[].rules[].apiGroups',
        },
      ],
      [
        `bind and escalate roles (${env})`,
        {
          in: env,
          scope: rules(['rbac.authorization.k8s.io'], ['roles'], ['bind', 'escalate']),
          field: 'spec.scopes[].rules[].apiGroups',
        },
      ],
    ],
  ),
  [
    'everything (*/*/*) in development',
    { in: 'development', scope: rules(['*'], ['*'], ['*']), field: 'spec.scopes[].rules[].apiGroups' },
  ],
  [
    'impersonate users in development',
    { in: 'development', scope: rules([''], ['users'], ['impersonate']), field: 'spec.scopes[].rules' },
  ],
  [
    'every verb on configmaps in production',
    { in: 'production', scope: rules([''], ['configmaps'], ['*']), field: 'spec.scopes' },
  ],
  [
    'delete configmaps it may only read (staging)',
    { in: 'staging', scope: rules([''], ['configmaps'], ['delete']), field: 'spec.scopes[].rules' },
  ],
  // AWS: forbidden actions in glob form, wildcard resources, the operator's managed secrets.
  [
    'sts:AssumeRol? in production',
    { in: 'production', scope: aws(['sts:AssumeRol?'], [`${ARN}:x/*`]), field: 'spec.scopes[].actions' },
  ],
  [
    'sts:*Role in production',
    { in: 'production', scope: aws(['sts:*Role'], [`${ARN}:x/*`]), field: 'spec.scopes[].actions' },
  ],
  [
    'sts:Assume* in staging',
    { in: 'staging', scope: aws(['sts:Assume*'], [`${ARN}:x/*`]), field: 'spec.scopes[].actions' },
  ],
  [
    'iam:PassRole in production',
    { in: 'production', scope: aws(['iam:PassRole'], [`${ARN}:x/*`]), field: 'spec.scopes[].actions' },
  ],
  [
    'I?m:Create* in production',
    { in: 'production', scope: aws(['I?m:Create*'], [`${ARN}:x/*`]), field: 'spec.scopes[].actions' },
  ],
  [
    'every action (*) in development',
    { in: 'development', scope: aws(['*'], [`${ARN}:x/*`]), field: 'spec.scopes[].actions' },
  ],
  ['*:* in staging', { in: 'staging', scope: aws(['*:*'], [`${ARN}:x/*`]), field: 'spec.scopes[].actions' }],
  [
    'every S3 bucket (arn:aws:s3:::*) in production',
    { in: 'production', scope: aws(['s3:GetObject'], ['arn:aws:s3:::*']), field: 'spec.scopes[].resources' },
  ],
  [
    'every DynamoDB table in production',
    {
      in: 'production',
      scope: aws(['dynamodb:GetItem'], ['arn:aws:dynamodb:us-east-1:111122223333:table/*']),
      field: 'spec.scopes[].resources',
    },
  ],
  [
    'every resource (*) in production',
    { in: 'production', scope: aws(['s3:GetObject'], ['*']), field: 'spec.scopes' },
  ],
  [
    'every resource (*) in staging',
    { in: 'staging', scope: aws(['s3:GetObject'], ['*']), field: 'spec.scopes[].resources' },
  ],
  [
    "another tenant's managed secrets through an IAM policy variable (production)",
    {
      in: 'production',
      scope: aws(['secretsmanager:GetSecretValue'], [`${ARN}:\${aws:PrincipalTag/nhi.dev/purpose}*`]),
      field: 'spec.scopes[].resources',
    },
  ],
  // Vault: Vault's own configuration in every environment, other tenants' paths, the KV mount config.
  ...environments.flatMap(
    (env): Array<[string, Attempt]> => [
      [
        `write ACL policies (sys/policies/acl/*, ${env})`,
        {
          in: env,
          scope: vault('sys/policies/acl/*', ['create', 'update']),
          field: 'spec.scopes[].paths[].path',
        },
      ],
      [
        `write kubernetes auth roles (auth/kubernetes/role/*, ${env})`,
        { in: env, scope: vault('auth/kubernetes/role/*', ['update']), field: 'spec.scopes[].paths[].path' },
      ],
      [
        `read another team's secrets (${env})`,
        { in: env, scope: vault('secret/data/other-team/*'), field: 'spec.scopes[].paths[].path' },
      ],
    ],
  ),
  [
    'update the KV mount config (secret/config) in development',
    { in: 'development', scope: vault('secret/config', ['update']), field: 'spec.scopes[].paths[].path' },
  ],
  [
    'the identity store (identity/*) in staging',
    { in: 'staging', scope: vault('identity/entity/*'), field: 'spec.scopes[].paths[].path' },
  ],
  [
    "every identity's managed Vault secrets (secret/data/nhi/*) in production",
    { in: 'production', scope: vault('secret/data/nhi/*'), field: 'spec.scopes[].paths[].path' },
  ],
  [
    'every path (*) in development',
    { in: 'development', scope: vault('*'), field: 'spec.scopes[].paths[].path' },
  ],
  [
    'a + segment over every namespace (secret/data/+/db) in production',
    { in: 'production', scope: vault('secret/data/+/db'), field: 'spec.scopes[].paths[].path' },
  ],
  [
    'sudo on its own path in development',
    {
      in: 'development',
      scope: (n) => vault(`secret/data/${n}/app/*`, ['read', 'sudo']),
      field: 'spec.scopes[].paths[].capabilities',
    },
  ],
];

const benign: Array<[string, Environment, Scope | ((namespace: string) => Scope)]> = [
  ['read configmaps (development)', 'development', rules([''], ['configmaps'], ['get', 'list'])],
  ['read configmaps (production)', 'production', rules([''], ['configmaps'], ['get'])],
  ['scale its deployments (staging)', 'staging', rules(['apps'], ['deployments'], ['get', 'patch'])],
  ['its own Vault folder (production)', 'production', (n) => vault(`secret/data/${n}/app/*`)],
  ['its own Vault metadata (staging)', 'staging', (n) => vault(`secret/metadata/${n}/app/*`, ['list'])],
  ['one S3 prefix (production)', 'production', aws(['s3:GetObject'], ['arn:aws:s3:::team-bucket/reports/*'])],
  [
    'sts:AssumeRole in development',
    'development',
    aws(['sts:AssumeRole'], ['arn:aws:iam::111122223333:role/dev-reader']),
  ],
];

function identityFor(
  name: string,
  env: Environment,
  claims: Environment,
  scope?: Attempt['scope'],
): AgentIdentity {
  const namespace = ns[env];
  const resolved = typeof scope === 'function' ? scope(namespace) : scope;
  return agentIdentity(
    name,
    inNamespace(namespace),
    inEnvironment(claims),
    ...(resolved ? [withScopes(resolved)] : []),
  );
}

beforeAll(async () => {
  await installOperatorManifests(admin);
  for (const env of environments) {
    ns[env] = uniqueName(`tenant-${env.slice(0, 4)}`);
    await core.createNamespace({ body: namespaceBody(ns[env], env) });
  }
  unlabelled = uniqueName('tenant-none');
  await core.createNamespace({ body: { metadata: { name: unlabelled } } });
  tenant = (await tokenUser(admin, ns.production, 'tenant')).kc;
  for (const namespace of [...Object.values(ns), unlabelled]) await grantTenant(namespace, ns.production);
  // The binding and the IdentityPolicy reach the admission plugin through informers.
  await eventually(
    'the admission policy to judge the tenant',
    async () =>
      (await asTenant(identityFor(uniqueName('probe'), 'production', 'development')))?.includes(
        'ValidatingAdmissionPolicy',
      ),
    { timeoutMs: 60_000, intervalMs: 250 },
  );
});

afterAll(async () => {
  for (const namespace of [...Object.values(ns), unlabelled]) {
    if (namespace) await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  }
});

describe('a namespace tenant asking for more than their tenancy', () => {
  it('is the case at least 40 times across Kubernetes, AWS and Vault', () => {
    expect(escalations.length).toBeGreaterThanOrEqual(40);
  });

  it.each(escalations)(
    '%s: refused at admission naming the field, and by nhictl lint',
    async (_case, attempt) => {
      const identity = identityFor(
        uniqueName('esc'),
        attempt.in,
        attempt.claims ?? attempt.in,
        attempt.scope,
      );
      const refusal = await asTenant(identity);
      expect(refusal, 'the apiserver admitted it').toBeDefined();
      // By the admission policy, or already by the CRD schema (a wildcard action in production).
      expect(refusal).toMatch(/ValidatingAdmissionPolicy|is invalid/);
      expect(refusal).toMatch(fieldPattern(attempt.field));
      const offline = await lintAsTenant(identity, attempt.in);
      expect(offline.join('\n'), 'nhictl lint passed it').toMatch(fieldPattern(attempt.field));
    },
  );

  it('cannot leave an unlabelled namespace for a laxer environment: it is production', async () => {
    const identity = agentIdentity(
      uniqueName('nolabel'),
      inNamespace(unlabelled),
      inEnvironment('development'),
    );
    const refusal = await asTenant(identity);
    expect(refusal).toContain(`differs from the environment of namespace ${unlabelled}, production`);
    expect(await asTenant(agentIdentity(uniqueName('nolabel'), inNamespace(unlabelled)))).toBeUndefined();
  });
});

describe('restartWorkload: rolling only what the tenant may patch', () => {
  const restarting = (kind: 'Deployment' | 'StatefulSet') =>
    agentIdentity(
      uniqueName('restart'),
      inNamespace(ns.staging),
      inEnvironment('staging'),
      withWorkload({ kind, name: 'api' }),
      withSecrets(randomSecret('api-key', { restartWorkload: true, target: { secretName: 'api-key' } })),
    );

  it('refuses it for a StatefulSet the tenant may not patch, at admission and by nhictl lint', async () => {
    const identity = restarting('StatefulSet');
    const refusal = await asTenant(identity);
    expect(refusal).toContain('ValidatingAdmissionPolicy');
    expect(refusal).toContain('spec.secrets[].restartWorkload rolls StatefulSet api');
    expect((await lintAsTenant(identity, 'staging')).join('\n')).toContain('spec.secrets[].restartWorkload');
  });

  it('admits it for a Deployment the tenant may patch themselves', async () => {
    const identity = restarting('Deployment');
    expect(await asTenant(identity)).toBeUndefined();
    expect(await lintAsTenant(identity, 'staging')).toEqual([]);
  });
});

describe("the same tenant's ordinary identities", () => {
  it.each(benign)('%s: admitted, and passed by nhictl lint', async (_case, env, scope) => {
    const identity = identityFor(uniqueName('ok'), env, env, scope);
    expect(await asTenant(identity)).toBeUndefined();
    expect(await lintAsTenant(identity, env)).toEqual([]);
  });
});
