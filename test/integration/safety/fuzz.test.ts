// Fuzzed input: fast-check generates AgentIdentities, IdentityPolicies and ClusterCredentialProviders
// (10,000 in all by default, 4,000 of them also through the apiserver; NHI_FUZZ_COUNT and
// NHI_FUZZ_ADMISSION_COUNT for the soak, NHI_FUZZ_SEED to replay a run), mostly well
// formed, with the mistakes of people and tools mixed in (test/support/fuzz-arbitraries.ts). Each goes
//  1. through `nhictl lint` (lintSources, the offline evaluator): no crash, every violation names a field;
//  2. through the real admission chain: a server-side dry-run create against the apiserver with the
//     CRDs, the ValidatingAdmissionPolicies and the default IdentityPolicy installed: every refusal
//     names a field, and lint and the apiserver agree on every object;
//  3. a sample of the admitted AgentIdentities is created for the real operator, with OpenBao and moto
//     behind the providers: the operator reconciles every one (a Ready condition written) without
//     crashing, and no Vault policy or IAM inline policy it provisioned grants more than the spec's
//     scopes (plus the read of the identity's own managed secrets).

import { writeFileSync } from 'node:fs';
import { GetRolePolicyCommand, IAMClient, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import * as k8s from '@kubernetes/client-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { AgentIdentity, Environment, Scope } from '../../../src/api/v1alpha1/types.ts';
import { lintSources } from '../../../src/cli/lint.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import {
  bao,
  conditionOf,
  getIdentity,
  installAwsProvider,
  installVaultProvider,
  removeProvider,
} from '../../support/cluster.ts';
import { awsClientConfig, kubeConfig, testEnv } from '../../support/env.ts';
import {
  agentIdentityArbitrary,
  clusterCredentialProviderArbitrary,
  identityPolicyArbitrary,
  withNamespace,
} from '../../support/fuzz-arbitraries.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually, uniqueName } from '../../support/wait.ts';

const COUNT = Number(process.env.NHI_FUZZ_COUNT ?? 10_000);
/**
 * How many of them also go through the apiserver (every n-th, so each kind is in): 4,000 keeps the
 * CI run near 1 minute on 2 cores (about 15 ms per dry-run create); the soak sends them all.
 */
const ADMISSION_COUNT = Math.min(COUNT, Number(process.env.NHI_FUZZ_ADMISSION_COUNT ?? 4_000));
const SEED = Number(process.env.NHI_FUZZ_SEED ?? Date.now() % 2 ** 31);
/** Admitted AgentIdentities handed to the operator. */
const OPERATOR_SAMPLE = Number(process.env.NHI_FUZZ_OPERATOR_SAMPLE ?? 60);
const CONCURRENCY = 12;
const ENVIRONMENTS: Environment[] = ['development', 'staging', 'production'];

const env = testEnv();
const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const iam = new IAMClient(awsClientConfig());
const PLURALS = {
  AgentIdentity: 'agentidentities',
  IdentityPolicy: 'identitypolicies',
  ClusterCredentialProvider: 'clustercredentialproviders',
} as const;

type Kind = keyof typeof PLURALS;
interface Case {
  index: number;
  kind: Kind;
  object: { apiVersion: string; kind: Kind; metadata: { name: string; namespace?: string }; spec: unknown };
  offline?: string[];
  online?: string | null;
}

const namespaces = {} as Record<Environment, string>;
let cases: Case[] = [];
let operator: OperatorProcess | undefined;
/** The dry-run creates, started with lint so that both run at once. */
let admission: Promise<void> | undefined;

function namespaceFor(object: { spec: unknown }): string {
  const environment = (object.spec as { environment?: unknown })?.environment;
  return ENVIRONMENTS.includes(environment as Environment)
    ? namespaces[environment as Environment]
    : namespaces.production;
}

function generate(): Case[] {
  const identities = fc.sample(agentIdentityArbitrary, { numRuns: Math.round(COUNT * 0.7), seed: SEED });
  const policies = fc.sample(identityPolicyArbitrary, { numRuns: Math.round(COUNT * 0.15), seed: SEED + 1 });
  const providers = fc.sample(clusterCredentialProviderArbitrary, {
    numRuns: COUNT - identities.length - policies.length,
    seed: SEED + 2,
  });
  const all = [
    ...identities.map((o) => withNamespace(o, namespaceFor(o))),
    ...policies,
    ...providers,
  ] as Case['object'][];
  // Unique names per kind and namespace, so that dry-run creates never collide.
  return all.map((object, index) => {
    // Kept as generated when empty or too long: those are cases of their own.
    const name = object.metadata.name;
    if (typeof name === 'string' && name.length > 0 && name.length <= 40)
      object.metadata.name = `${name}-${index.toString(36)}`;
    return { index, kind: object.kind, object };
  });
}

/** The lint verdict: `field: message` lines, empty when admitted. Yields between batches. */
async function lintAll(): Promise<void> {
  const byEnvironment = new Map<string, Case[]>();
  for (const c of cases) {
    const key = c.kind === 'AgentIdentity' ? (c.object.metadata.namespace ?? '') : c.kind;
    byEnvironment.set(key, [...(byEnvironment.get(key) ?? []), c]);
  }
  for (const [key, group] of byEnvironment) {
    const environment = ENVIRONMENTS.find((e) => namespaces[e] === key);
    for (let at = 0; at < group.length; at += 100) {
      const batch = group.slice(at, at + 100);
      const report = lintSources(
        batch.map((c) => ({ name: `case-${c.index}.yaml`, text: stringify(c.object) })),
        undefined,
        environment ? { namespaceEnvironment: environment } : {},
      );
      const byFile = new Map(batch.map((c) => [`case-${c.index}.yaml`, c]));
      for (const document of report.documents) {
        const c = byFile.get(document.file);
        if (c) c.offline = document.violations.map((v) => `${v.field}: ${v.message}`);
      }
      // Let the dry-run creates in flight proceed: the apiserver works while lint does.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

/** The apiserver's verdict on a dry-run create: null when admitted, else its message. */
async function admit(c: Case): Promise<string | null> {
  const plural = PLURALS[c.kind];
  const namespace = c.object.metadata.namespace;
  for (let attempt = 0; ; attempt++) {
    try {
      if (namespace)
        await custom.createNamespacedCustomObject({
          group: 'nhi.dev',
          version: 'v1alpha1',
          namespace,
          plural,
          body: c.object,
          dryRun: 'All',
          fieldValidation: 'Strict',
        });
      else
        await custom.createClusterCustomObject({
          group: 'nhi.dev',
          version: 'v1alpha1',
          plural,
          body: c.object,
          dryRun: 'All',
          fieldValidation: 'Strict',
        });
      return null;
    } catch (error) {
      const code = error instanceof k8s.ApiException ? error.code : 0;
      if ((code === 400 || code === 422 || code === 403) && error instanceof k8s.ApiException) {
        const status = JSON.parse(String(error.body)) as { message?: string };
        return status.message ?? String(error.body);
      }
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
    }
  }
}

/** The cases sent to the apiserver: ADMISSION_COUNT of them, spread evenly over every kind. */
function admissionCases(): Case[] {
  const picked = new Set(
    Array.from({ length: ADMISSION_COUNT }, (_, i) => Math.floor((i * cases.length) / ADMISSION_COUNT)),
  );
  return cases.filter((_, i) => picked.has(i));
}

async function admitAll(): Promise<void> {
  const todo = admissionCases();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < todo.length) {
        const c = todo[next++] as Case;
        c.online = await admit(c);
      }
    }),
  );
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  for (const environment of ENVIRONMENTS) {
    namespaces[environment] = uniqueName(`fuzz-${environment.slice(0, 4)}`);
    await core.createNamespace({ body: namespaceBody(namespaces[environment], environment) });
  }
  cases = generate();
  console.log(`[fuzz] ${cases.length} objects, seed ${SEED} (NHI_FUZZ_SEED=${SEED} replays this run)`);
});

afterAll(async () => {
  await operator?.stop();
  for (const name of Object.values(namespaces)) {
    const left = (await custom.listNamespacedCustomObject({
      group: 'nhi.dev',
      version: 'v1alpha1',
      namespace: name,
      plural: 'agentidentities',
    })) as { items: AgentIdentity[] };
    for (const identity of left.items)
      await custom
        .patchNamespacedCustomObject(
          {
            group: 'nhi.dev',
            version: 'v1alpha1',
            namespace: name,
            plural: 'agentidentities',
            name: identity.metadata.name,
            body: { metadata: { finalizers: null } },
          },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        )
        .catch(() => undefined);
    await core.deleteNamespace({ name }).catch(() => undefined);
  }
  await removeProvider('vault');
  await removeProvider('aws');
});

describe(`fuzzed input (${COUNT} objects)`, () => {
  it('nhictl lint judges every object without crashing, naming a field in every violation', {
    timeout: 900_000,
  }, async () => {
    const started = performance.now();
    admission = admitAll();
    admission.catch(() => undefined);
    await lintAll();
    console.log(`[fuzz] lint: ${cases.length} objects in ${(performance.now() - started).toFixed(0)} ms`);
    expect(cases.filter((c) => c.offline === undefined).map((c) => c.index)).toEqual([]);
    // The one line without a field is the apiserver's own note that follows other errors.
    const NOTE = 'some validation rules were not checked because the object was invalid';
    const unnamed = cases.flatMap((c) =>
      (c.offline ?? []).filter(
        // A violation without a field names it at the start of its message (metadata.name), as the
        // apiserver does where no fieldPath is allowed.
        (v) =>
          /^(undefined)?: (?!(metadata|spec)\.)/.test(v) &&
          !(v.includes(NOTE) && (c.offline?.length ?? 0) > 1),
      ),
    );
    expect(unnamed).toEqual([]);
  });

  it('the apiserver refuses with a field-named message exactly what lint refuses', {
    timeout: 900_000,
  }, async () => {
    const started = performance.now();
    await (admission ?? admitAll());
    const judged = cases.filter((c) => c.online !== undefined);
    const admitted = judged.filter((c) => c.online === null);
    console.log(
      `[fuzz] admission: ${judged.length} dry-run creates (${['AgentIdentity', 'IdentityPolicy', 'ClusterCredentialProvider'].map((k) => judged.filter((c) => c.kind === k).length).join('/')}) in ${(performance.now() - started).toFixed(0)} ms; ` +
        `${admitted.length} admitted (${['AgentIdentity', 'IdentityPolicy', 'ClusterCredentialProvider']
          .map((k) => `${k} ${admitted.filter((c) => c.kind === k).length}`)
          .join(', ')})`,
    );
    if (process.env.NHI_FUZZ_DUMP) writeFileSync(process.env.NHI_FUZZ_DUMP, JSON.stringify(cases, null, 1));
    // An apiserver refusal for its CEL cost limit names no field and lint cannot foresee it: none may
    // remain (each requester check has its own variable: admission-policy.ts MAX_REQUESTER_CHECKS).
    const overBudget = judged.filter((c) => c.online?.includes('cost limit exceeded'));
    expect(overBudget.map((c) => `${c.index}: ${c.online}`).slice(0, 3)).toEqual([]);
    const unnamed = judged.filter((c) => c.online && !/(spec|metadata)(\.|\[|:|\b)/.test(c.online));
    expect(unnamed.map((c) => `${c.index} ${c.kind}: ${c.online}`).slice(0, 10)).toEqual([]);
    const disagreements = judged
      .filter((c) => (c.online === null) !== ((c.offline ?? []).length === 0))
      .map((c) => ({
        case: c.index,
        kind: c.kind,
        apiserver: c.online ?? 'admitted',
        lint: (c.offline ?? []).join('; ') || 'admitted',
        object: JSON.stringify(c.object).slice(0, 1500),
      }));
    expect(disagreements.slice(0, 5), `seed ${SEED}: ${disagreements.length} disagreements`).toEqual([]);
    // Enough of both verdicts for the comparison to mean something.
    expect(admitted.length).toBeGreaterThan(judged.length * 0.05);
    expect(judged.length - admitted.length).toBeGreaterThan(judged.length * 0.05);
  });

  it('the operator reconciles a sample of the admitted identities without crashing, granting nothing beyond the scopes', {
    timeout: 600_000,
  }, async () => {
    await installVaultProvider();
    await installAwsProvider();
    operator = startOperatorProcess();
    const sample = cases
      .filter((c) => c.kind === 'AgentIdentity' && c.online === null)
      .slice(0, OPERATOR_SAMPLE)
      .map((c) => c.object as unknown as AgentIdentity);
    for (const identity of sample)
      await custom.createNamespacedCustomObject({
        group: 'nhi.dev',
        version: 'v1alpha1',
        namespace: identity.metadata.namespace ?? '',
        plural: 'agentidentities',
        body: identity,
      });
    const reconciled: AgentIdentity[] = [];
    for (const identity of sample) {
      const ns = identity.metadata.namespace ?? '';
      reconciled.push(
        await eventually(
          `${identity.metadata.name} reconciled (a Ready condition written)`,
          async () => {
            const live = await getIdentity(ns, identity.metadata.name);
            return conditionOf(live, 'Ready') ? live : undefined;
          },
          { timeoutMs: 120_000, intervalMs: 500 },
        ),
      );
    }
    expect(operator.child.exitCode).toBeNull();
    expect(operator.logs()).not.toMatch(/unhandled rejection|TypeError|RangeError/);

    const broader: string[] = [];
    for (const identity of reconciled) {
      if (conditionOf(identity, 'Provisioned')?.status !== 'True') continue;
      broader.push(...(await vaultGrantsBeyondScopes(identity)), ...(await awsGrantsBeyondScopes(identity)));
    }
    const provisioned = reconciled.filter((i) => conditionOf(i, 'Provisioned')?.status === 'True');
    console.log(
      `[fuzz] operator: ${reconciled.length} reconciled, ${provisioned.length} provisioned ` +
        `(${provisioned.filter((i) => i.status?.vault?.policy).length} with a Vault policy, ` +
        `${provisioned.filter((i) => i.status?.aws?.roleName).length} with an IAM role)`,
    );
    expect(broader).toEqual([]);
  });
});

interface AnyScope {
  provider: Scope['provider'];
  paths?: Array<{ path: string; capabilities: string[] }>;
  actions?: string[];
  resources?: string[];
}
const scopesOf = (identity: AgentIdentity, provider: Scope['provider']) =>
  ((identity.spec.scopes ?? []) as AnyScope[]).filter((s) => s.provider === provider);

/** Every path block of the identity's Vault policy that its scopes do not grant. */
async function vaultGrantsBeyondScopes(identity: AgentIdentity): Promise<string[]> {
  const policy = identity.status?.vault?.policy;
  if (!policy) return [];
  const answer = await bao('GET', `sys/policies/acl/${policy}`, env.bao.token);
  const text = String((answer.json as { data?: { policy?: string } }).data?.policy ?? '');
  const granted = new Map<string, Set<string>>();
  for (const scope of scopesOf(identity, 'vault'))
    for (const p of scope.paths ?? [])
      granted.set(p.path, new Set([...(granted.get(p.path) ?? []), ...p.capabilities]));
  const own = `/nhi/${identity.metadata.namespace}/${identity.metadata.name}/*`;
  const out: string[] = [];
  for (const [, path, body] of text.matchAll(/path "([^"]+)" \{([^}]*)\}/g)) {
    const capabilities = [...(body ?? '').matchAll(/"(\w+)"/g)].map((m) => m[1] ?? '');
    if (path?.endsWith(own) && capabilities.every((c) => c === 'read' || c === 'list')) continue;
    const allowed = granted.get(path ?? '');
    const extra = capabilities.filter((c) => !allowed?.has(c));
    if (extra.length > 0) out.push(`vault ${identity.metadata.name}: ${path} ${extra.join(',')}`);
  }
  return out;
}

/** Every action or resource of the identity's IAM inline policies (Allow) that its scopes do not name. */
async function awsGrantsBeyondScopes(identity: AgentIdentity): Promise<string[]> {
  const roleName = identity.status?.aws?.roleName;
  if (!roleName) return [];
  const actions = new Set(scopesOf(identity, 'aws').flatMap((s) => s.actions ?? []));
  const resources = new Set(scopesOf(identity, 'aws').flatMap((s) => s.resources ?? []));
  const ownSecrets = `secret:nhi/${identity.metadata.namespace}/${identity.metadata.name}/`;
  const out: string[] = [];
  const { PolicyNames = [] } = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }));
  for (const PolicyName of PolicyNames) {
    const { PolicyDocument = '{}' } = await iam.send(
      new GetRolePolicyCommand({ RoleName: roleName, PolicyName }),
    );
    const document = JSON.parse(decodeURIComponent(PolicyDocument)) as {
      Statement: Array<{ Effect: string; Action: string | string[]; Resource: string | string[] }>;
    };
    for (const statement of document.Statement) {
      if (statement.Effect !== 'Allow') continue;
      const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
      const own = list(statement.Resource).every((r) => r.includes(ownSecrets));
      for (const action of list(statement.Action))
        if (!actions.has(action) && !(own && action.startsWith('secretsmanager:')))
          out.push(`aws ${identity.metadata.name}: action ${action}`);
      for (const resource of list(statement.Resource))
        if (!resources.has(resource) && !resource.includes(ownSecrets))
          out.push(`aws ${identity.metadata.name}: resource ${resource}`);
    }
  }
  return out;
}
