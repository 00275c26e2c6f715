// Vault takeover and cross-tenant reads against the real apiserver, the real OpenBao and the real
// operator process. With the admission binding in place every attempt is refused by the apiserver,
// naming the field. With the binding deleted (admission bypassed, as for objects restored from a
// backup), the same identities are stored, and the operator's own re-check refuses each of them
// before provisioning: PolicyCompliant=False naming the field, Ready=False, and no policy, no
// kubernetes-auth role, no owner record in OpenBao and no ServiceAccount. A benign identity next to
// them, reaching only its own namespace's folder, is provisioned; and a later edit of it, written
// around admission, that adds a takeover path is held: the policy in OpenBao stays as it was.

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMISSION_BINDING_NAME } from '../../../src/api/v1alpha1/admission-policy.ts';
import type { AgentIdentity, Environment, VaultScope } from '../../../src/api/v1alpha1/types.ts';
import { applyObjects, installOperatorManifests, readManifests } from '../../../src/dev/install.ts';
import { identityNames } from '../../../src/providers/vault/names.ts';
import { agentIdentity, inEnvironment, withScopes, withSpec } from '../../../src/testing/agent-identity.ts';
import {
  AGENT_IDENTITIES,
  bao,
  conditionOf,
  getIdentity,
  installVaultProvider,
  removeProvider,
  untilCondition,
} from '../../support/cluster.ts';
import { kubeConfig, testEnv } from '../../support/env.ts';
import { onTestCluster } from '../../support/fixtures.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually, uniqueName } from '../../support/wait.ts';

const rootToken = testEnv().bao.token;
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const admissionApi = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
const binding = readManifests('config/admission').find(
  (o) => o.kind === 'ValidatingAdmissionPolicyBinding' && o.metadata?.name === ADMISSION_BINDING_NAME,
);

const environments: Environment[] = ['development', 'staging', 'production'];
const ns: Record<Environment, string> = { development: '', staging: '', production: '' };
/** Another tenant's namespace: the next environment's. */
const otherTenant = (env: Environment) =>
  ns[environments[(environments.indexOf(env) + 1) % environments.length] as Environment];

const vault = (path: string, capabilities = ['read']): VaultScope => ({
  provider: 'vault',
  paths: [{ path, capabilities }],
});

interface Attempt {
  name: string;
  scope: (env: Environment) => VaultScope;
  field: string;
}

const PATH = 'spec.scopes[].paths[].path';
const attempts: Array<[string, Attempt]> = [
  [
    'write ACL policies (sys/policies/acl/*)',
    { name: 'sys-acl', scope: () => vault('sys/policies/acl/*', ['create', 'update']), field: PATH },
  ],
  [
    'write kubernetes auth roles (auth/kubernetes/role/*)',
    { name: 'auth-role', scope: () => vault('auth/kubernetes/role/*', ['update']), field: PATH },
  ],
  [
    'write identity entities (identity/entity/*)',
    { name: 'identity-store', scope: () => vault('identity/entity/*', ['update']), field: PATH },
  ],
  [
    "read another tenant's secrets (secret/data/<other namespace>/*)",
    { name: 'other-tenant', scope: (env) => vault(`secret/data/${otherTenant(env)}/*`), field: PATH },
  ],
  [
    'update the KV mount config (secret/config)',
    { name: 'kv-config', scope: () => vault('secret/config', ['update']), field: PATH },
  ],
  [
    "read every identity's managed secrets (secret/data/nhi/*)",
    { name: 'managed-kv', scope: () => vault('secret/data/nhi/*'), field: PATH },
  ],
  [
    'a + segment over every namespace (secret/data/+/db)',
    { name: 'plus-segment', scope: () => vault('secret/data/+/db'), field: PATH },
  ],
  [
    'sudo on its own path',
    {
      name: 'sudo',
      scope: (env) => vault(`secret/data/${ns[env]}/app/*`, ['read', 'sudo']),
      field: 'spec.scopes[].paths[].capabilities',
    },
  ],
];
const cases = environments.flatMap((env) =>
  attempts.map(([what, attempt]) => [`${what} (${env})`, env, attempt] as const),
);
const BENIGN = 'own-folder';

/** The field as a pattern: `[]` matches `[]` (admission policy) or `[0]` (an indexed path). */
const fieldPattern = (field: string) =>
  new RegExp(field.replace(/[.*+?^${}()|\\]/g, '\\$&').replace(/\[\]/g, '\\[\\d*\\]'));

/** Without a workload, so no orphan handling runs while we watch; in the namespace of its environment. */
function identity(name: string, env: Environment, scope: VaultScope): AgentIdentity {
  return agentIdentity(
    name,
    onTestCluster(ns[env]),
    inEnvironment(env),
    withSpec({ workloadRef: undefined }),
    withScopes(scope),
  );
}

const benign = (env: Environment) => identity(BENIGN, env, vault(`secret/data/${ns[env]}/app/*`));

/** Creates the identity as the admin; `dryRun` asks admission only. The apiserver's refusal, or undefined. */
async function submit(body: AgentIdentity, dryRun: boolean): Promise<string | undefined> {
  try {
    await custom.createNamespacedCustomObject({
      ...AGENT_IDENTITIES,
      namespace: body.metadata.namespace ?? '',
      body,
      ...(dryRun && { dryRun: 'All' }),
    });
    return undefined;
  } catch (error) {
    if (!(error instanceof k8s.ApiException)) throw error;
    return (JSON.parse(String(error.body)) as { message?: string }).message ?? String(error.body);
  }
}

const probe = () => identity(uniqueName('probe'), 'development', vault('sys/policies/acl/*', ['update']));
const bindingEnforced = () =>
  eventually(
    'the admission binding to take effect',
    async () => (await submit(probe(), true))?.includes('ValidatingAdmissionPolicy'),
    { timeoutMs: 60_000, intervalMs: 250 },
  );

/** The identity once the operator judged its current generation (PolicyCompliant True or False). */
function untilJudged(namespace: string, name: string): Promise<AgentIdentity> {
  return eventually(`${name} judged at its generation`, async () => {
    const now = await getIdentity(namespace, name);
    const compliant = conditionOf(now, 'PolicyCompliant');
    return compliant?.status !== 'Unknown' && compliant?.observedGeneration === now?.metadata.generation
      ? now
      : undefined;
  });
}

/** What OpenBao holds under the identity's names: its ACL policy, its kubernetes-auth role, its owner record. */
async function vaultHolds(stored: AgentIdentity) {
  const names = identityNames({
    identity: stored,
    subject: { namespace: stored.metadata.namespace ?? '', serviceAccountName: stored.metadata.name },
  });
  const status = async (path: string) => (await bao('GET', path, rootToken)).status;
  return {
    policy: await status(`sys/policies/acl/${names.base}`),
    role: await status(`auth/kubernetes/role/${names.base}`),
    owner: await status(`secret/metadata/${names.ownerRecord}`),
  };
}

/** The names OpenBao lists under `path` (LIST answers 404 when there are none). */
async function listed(path: string): Promise<string[]> {
  const answer = await bao('LIST', path, rootToken);
  if (answer.status === 404) return [];
  expect(answer.status).toBe(200);
  return answer.json.data?.keys ?? [];
}

let operator: OperatorProcess;

beforeAll(async () => {
  await installOperatorManifests(kc);
  await installVaultProvider();
  for (const env of environments) {
    ns[env] = uniqueName(`bypass-${env.slice(0, 4)}`);
    await core.createNamespace({ body: namespaceBody(ns[env], env) });
  }
  // Started now so it is watching by the time admission is bypassed.
  operator = startOperatorProcess();
});

afterAll(async () => {
  if (binding) await applyObjects(kc, [binding]);
  for (const env of environments) {
    for (const name of [BENIGN, ...attempts.map(([, a]) => a.name)]) {
      await custom
        .deleteNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace: ns[env], name })
        .catch(() => undefined);
    }
  }
  // Leave admission as the next suite expects it (the probe needs a namespace that is not terminating).
  await bindingEnforced();
  for (const env of environments) {
    await eventually(
      `the identities of ${ns[env]} offboarded`,
      async () => {
        const list = await custom.listNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace: ns[env] });
        return (list as { items: unknown[] }).items.length === 0;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  }
  await operator?.stop();
  await removeProvider('vault');
  for (const env of environments) {
    if (ns[env]) await core.deleteNamespace({ name: ns[env] }).catch(() => undefined);
  }
});

describe('Vault takeover and cross-tenant reads at admission', () => {
  beforeAll(bindingEnforced);

  it.each(cases)('%s: refused, naming the field', async (_case, env, attempt) => {
    const refusal = await submit(identity(uniqueName(attempt.name), env, attempt.scope(env)), true);
    expect(refusal, 'the apiserver admitted it').toBeDefined();
    expect(refusal).toContain('ValidatingAdmissionPolicy');
    expect(refusal).toMatch(fieldPattern(attempt.field));
  });

  it.each(environments)("the tenant's own folder (%s): admitted", async (env) => {
    expect(await submit(benign(env), true)).toBeUndefined();
  });
});

describe('Vault takeover and cross-tenant reads written around admission (binding deleted)', () => {
  const refused = new Map<string, AgentIdentity>();
  const provisioned = new Map<Environment, AgentIdentity>();

  beforeAll(async () => {
    await admissionApi.deleteValidatingAdmissionPolicyBinding({ name: ADMISSION_BINDING_NAME });
    await eventually('admission to be bypassed', async () => (await submit(probe(), true)) === undefined, {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    // Everything is created first, then the conditions are awaited, so the operator works on all at once.
    for (const [what, env, attempt] of cases) {
      const refusal = await submit(identity(attempt.name, env, attempt.scope(env)), false);
      expect(refusal, `${what} was not stored`).toBeUndefined();
    }
    for (const env of environments) expect(await submit(benign(env), false)).toBeUndefined();
    for (const env of environments) provisioned.set(env, await untilCondition(ns[env], BENIGN, 'Ready'));
    await Promise.all(
      cases.map(async ([what, env, attempt]) => refused.set(what, await untilJudged(ns[env], attempt.name))),
    );
  });

  it.each(cases)(
    '%s: PolicyCompliant=False naming the field, Ready=False, nothing in OpenBao, no ServiceAccount',
    async (what, env, attempt) => {
      const held = refused.get(what);
      expect(held).toBeDefined();
      const compliant = conditionOf(held, 'PolicyCompliant');
      expect(compliant?.status, 'the operator passed it').toBe('False');
      expect(compliant?.message).toMatch(fieldPattern(attempt.field));
      expect(conditionOf(held, 'Provisioned')).toMatchObject({ status: 'False', reason: 'PolicyViolation' });
      // Read again now that the benign identities went through: still held, still nothing created.
      const now = await getIdentity(ns[env], attempt.name);
      expect(conditionOf(now, 'PolicyCompliant')?.status).toBe('False');
      expect(conditionOf(now, 'Ready')?.status).toBe('False');
      expect(now?.status?.vault).toBeUndefined();
      expect(await vaultHolds(now as AgentIdentity)).toEqual({ policy: 404, role: 404, owner: 404 });
      await expect(
        core.readNamespacedServiceAccount({ namespace: ns[env], name: attempt.name }),
      ).rejects.toThrow();
    },
  );

  it.each(environments)(
    "the tenant's own folder (%s): provisioned, and the only policy and role of its namespace",
    async (env) => {
      const ready = provisioned.get(env) as AgentIdentity;
      expect(conditionOf(ready, 'PolicyCompliant')?.status).toBe('True');
      const base = identityNames({
        identity: ready,
        subject: { namespace: ns[env], serviceAccountName: BENIGN },
      }).base;
      expect(ready.status?.vault?.role).toBe(base);
      expect(await vaultHolds(ready)).toEqual({ policy: 200, role: 200, owner: 200 });
      const policy = await bao('GET', `sys/policies/acl/${base}`, rootToken);
      expect(policy.json.data?.policy).toContain(`path "secret/data/${ns[env]}/app/*"`);
      const ours = (names: string[]) => names.filter((n) => n.startsWith(`nhi-${ns[env]}-`));
      expect(ours(await listed('sys/policies/acl'))).toEqual([base]);
      expect(ours(await listed('auth/kubernetes/role'))).toEqual([base]);
      await core.readNamespacedServiceAccount({ namespace: ns[env], name: BENIGN });
    },
  );

  it('an edit written around admission that adds sys/policies/acl/* to a provisioned identity: held, its OpenBao policy unchanged', async () => {
    const before = provisioned.get('development') as AgentIdentity;
    const base = before.status?.vault?.role ?? '';
    const policyBefore = (await bao('GET', `sys/policies/acl/${base}`, rootToken)).json.data?.policy;
    expect(policyBefore).toContain(`secret/data/${ns.development}/app/*`);
    const own = vault(`secret/data/${ns.development}/app/*`);
    const takeover = vault('sys/policies/acl/*', ['create', 'update']);
    const patched = (await custom.patchNamespacedCustomObject(
      {
        ...AGENT_IDENTITIES,
        namespace: ns.development,
        name: BENIGN,
        body: { spec: { scopes: [own, takeover] } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    )) as AgentIdentity;
    const held = await eventually('the edit to be judged', async () => {
      const now = await getIdentity(ns.development, BENIGN);
      const compliant = conditionOf(now, 'PolicyCompliant');
      return compliant?.observedGeneration === patched.metadata.generation && compliant?.status === 'False'
        ? now
        : undefined;
    });
    expect(conditionOf(held, 'PolicyCompliant')?.message).toMatch(fieldPattern(PATH));
    expect(conditionOf(held, 'Ready')?.status).toBe('False');
    const policyAfter = (await bao('GET', `sys/policies/acl/${base}`, rootToken)).json.data?.policy;
    expect(policyAfter).toBe(policyBefore);
    expect(policyAfter).not.toContain('sys/');
  });
});
