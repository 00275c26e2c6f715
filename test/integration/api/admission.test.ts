// The API contract against the real apiserver: the generated CRDs, the ValidatingAdmissionPolicy,
// its binding and the default IdentityPolicy are applied, then every bad AgentIdentity of the
// shared table is rejected with its field named, `nhictl lint` reaches the same verdict offline,
// and the good samples are admitted.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { repositoryRoot } from '../../../src/api/v1alpha1/generate.ts';
import type { AgentIdentity } from '../../../src/api/v1alpha1/types.ts';
import { lintSources } from '../../../src/cli/lint.ts';
import { validateObject } from '../../../src/policies/admission.ts';
import { describe as describeViolation } from '../../../src/policies/violation.ts';
import { agentIdentity, withSpec } from '../../../src/testing/agent-identity.ts';
import { badAgentIdentities, goodAgentIdentities } from '../../fixtures/bad-agentidentities.ts';
import { kubeConfig, testEnv } from '../../support/env.ts';
import { namespaceBody } from '../../support/namespaces.ts';
import { eventually, uniqueName } from '../../support/wait.ts';

const FIELD_MANAGER = 'nhi-admission-test';
const group = 'nhi.dev';
const version = 'v1alpha1';
const plural = 'agentidentities';

/**
 * Manifests as typed client-node models. Plain objects would lose `default`, `enum` and
 * `x-kubernetes-validations` on their way through client-node's model serializer.
 */
function manifests(...paths: string[]): k8s.KubernetesObject[] {
  return paths.flatMap((path) =>
    (
      k8s.loadAllYaml(readFileSync(join(repositoryRoot, path), 'utf8')) as Array<k8s.KubernetesObject | null>
    ).filter((o): o is k8s.KubernetesObject => Boolean(o?.kind)),
  );
}

const CRD_FILES = [
  'crds/nhi.dev_agentidentities.yaml',
  'crds/nhi.dev_clustercredentialproviders.yaml',
  'crds/nhi.dev_identitypolicies.yaml',
];
const ADMISSION_FILES = [
  'config/admission/validating-admission-policy.yaml',
  'config/admission/validating-admission-policy-binding.yaml',
];
const POLICY_FILE = 'config/policies/default-identitypolicy.yaml';

let kc: k8s.KubeConfig;
let objects: k8s.KubernetesObjectApi;
let custom: k8s.CustomObjectsApi;
/** One test namespace per environment, labelled as the platform would. */
const namespaces: Record<string, string> = {};
let namespace: string;

async function apply(items: k8s.KubernetesObject[]): Promise<void> {
  for (const item of items) {
    await objects.patch(item, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);
  }
}

/**
 * Creates the identity (dry run unless `persist`) in the test namespace labelled with its environment,
 * and returns the apiserver's rejection, or undefined. The tables are written for namespace `agents`:
 * Vault paths under secret/data/agents/ move with the identity.
 */
async function admit(
  identity: AgentIdentity,
  persist = false,
): Promise<{ code: number; message: string } | undefined> {
  const namespace = (namespaces[identity.spec.environment] ?? namespaces.production) as string;
  const moved = JSON.parse(
    JSON.stringify(identity).replaceAll('secret/data/agents/', `secret/data/${namespace}/`),
  );
  const body = { ...moved, metadata: { ...identity.metadata, namespace } };
  try {
    await custom.createNamespacedCustomObject({
      group,
      version,
      namespace,
      plural,
      body,
      fieldValidation: 'Strict',
      ...(persist ? {} : { dryRun: 'All' }),
    });
    return undefined;
  } catch (error) {
    if (!(error instanceof k8s.ApiException)) throw error;
    const status = JSON.parse(String(error.body)) as { message?: string };
    return { code: error.code, message: status.message ?? String(error.body) };
  }
}

/** The offline verdict of `nhictl lint` for one identity, as `field: message` lines. */
function lint(identity: AgentIdentity): string[] {
  const report = lintSources([{ name: `${identity.metadata.name}.yaml`, text: stringify(identity) }]);
  return report.documents.flatMap((d) => d.violations.map(describeViolation));
}

const policyBad = badAgentIdentities.find((b) => b.by === 'policy')!;

beforeAll(async () => {
  expect(testEnv().apiserverUrl).toMatch(/^https:/);
  kc = kubeConfig();
  objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const extensions = kc.makeApiClient(k8s.ApiextensionsV1Api);

  const crds = manifests(...CRD_FILES);
  await apply(crds);
  for (const crd of crds) {
    await eventually(`CRD ${crd.metadata?.name} established`, async () => {
      const live = await extensions.readCustomResourceDefinition({ name: crd.metadata?.name ?? '' });
      return live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    });
  }
  await apply(manifests(...ADMISSION_FILES, POLICY_FILE));

  for (const environment of ['development', 'staging', 'production'] as const) {
    namespaces[environment] = uniqueName(`admission-${environment.slice(0, 4)}`);
    await kc
      .makeApiClient(k8s.CoreV1Api)
      .createNamespace({ body: namespaceBody(namespaces[environment], environment) });
  }
  namespace = namespaces.production as string;
  // The binding and its params reach the admission plugin through informers: wait until a
  // policy-violating identity is denied by the policy, not just by a fixed sleep.
  await eventually(
    'the admission policy binding to take effect',
    async () => (await admit(policyBad.identity))?.message.includes('ValidatingAdmissionPolicy'),
    { timeoutMs: 60_000, intervalMs: 250 },
  );
});

afterAll(async () => {
  for (const name of Object.values(namespaces)) {
    await kc.makeApiClient(k8s.CoreV1Api).deleteNamespace({ name });
  }
});

describe('API discovery', () => {
  it('serves AgentIdentity in category nhi with short names agentid and aid', async () => {
    const resources = await custom.getAPIResources({ group, version });
    const agentIdentities = resources.resources.find((r) => r.name === plural);
    expect(agentIdentities).toMatchObject({
      namespaced: true,
      shortNames: ['agentid', 'aid'],
      categories: ['nhi'],
    });
    for (const name of ['clustercredentialproviders', 'identitypolicies']) {
      expect(resources.resources.find((r) => r.name === name)).toMatchObject({
        namespaced: false,
        categories: ['nhi'],
      });
    }
  });
});

describe('ValidatingAdmissionPolicy', () => {
  it('type-checks against the AgentIdentity and IdentityPolicy schemas without warnings', async () => {
    const name = 'nhi-identity-policy';
    const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
    const policy = await eventually('the policy status to be computed', async () => {
      const live = await admission.readValidatingAdmissionPolicy({ name });
      return live.status?.observedGeneration === live.metadata?.generation ? live : undefined;
    });
    expect(policy.status?.typeChecking?.expressionWarnings ?? []).toEqual([]);
  });
});

describe('bad AgentIdentities', () => {
  it.each(badAgentIdentities.map((b) => [b.case, b] as const))('%s', async (_case, bad) => {
    const rejection = await admit(bad.identity);
    expect(rejection, 'the apiserver admitted it').toBeDefined();
    expect(rejection?.message).toContain(bad.field);
    expect(rejection?.message.includes('ValidatingAdmissionPolicy')).toBe(bad.by === 'policy');

    const offline = lint(bad.identity);
    expect(offline.length, 'nhictl lint passed it').toBeGreaterThan(0);
    expect(offline.join('\n')).toContain(bad.field);
  });
});

describe('good AgentIdentities', () => {
  const samples = manifests('config/samples/support-bot.yaml', 'config/samples/crm-sync.yaml').filter(
    (o) => o.kind === 'AgentIdentity',
  ) as unknown as AgentIdentity[];

  it.each([
    ...goodAgentIdentities.map((g) => [g.case, g.identity] as const),
    ...samples.map(
      (s) => [`sample ${s.metadata.name}`, JSON.parse(JSON.stringify(s)) as AgentIdentity] as const,
    ),
  ])('%s is admitted, online and offline', async (_case, identity) => {
    expect(lint(identity)).toEqual([]);
    expect(await admit(identity, true)).toBeUndefined();
  });
});

describe('updates', () => {
  it('judges a spec change against the policy, and lets metadata-only changes through', async () => {
    const name = uniqueName('update');
    expect(await admit(agentIdentity(name), true)).toBeUndefined();
    const current = (await custom.getNamespacedCustomObject({
      group,
      version,
      namespace,
      plural,
      name,
    })) as AgentIdentity;

    const tooLong = structuredClone(current);
    tooLong.spec.ttl = '4000h';
    await expect(
      custom.replaceNamespacedCustomObject({ group, version, namespace, plural, name, body: tooLong }),
    ).rejects.toMatchObject({
      body: expect.stringContaining('spec.ttl 4000h exceeds maxTTL 2160h for production'),
    });

    const labelled = structuredClone(current);
    labelled.metadata.labels = { team: 'support-eng' };
    await custom.replaceNamespacedCustomObject({ group, version, namespace, plural, name, body: labelled });
  });
});

describe('without the IdentityPolicy named default', () => {
  it('denies every AgentIdentity (parameterNotFoundAction Deny) until the policy is back', async () => {
    const good = agentIdentity(uniqueName('noparams'), withSpec({ ttl: '24h' }));
    const policy = manifests(POLICY_FILE);
    await objects.delete(policy[0]!);
    try {
      const denied = await eventually(
        'admission to notice the missing IdentityPolicy',
        async () => {
          const rejection = await admit(good);
          return rejection?.message.includes('ValidatingAdmissionPolicy') ? rejection : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      const phrase = 'no params found for policy binding with `Deny` parameterNotFoundAction';
      expect(denied.message).toContain(phrase);
      expect(validateObject(good).map((v) => v.message)).toEqual([expect.stringContaining(phrase)]);
    } finally {
      await apply(policy);
    }
    await eventually(
      'the restored IdentityPolicy to admit again',
      async () => (await admit(good)) === undefined,
      {
        timeoutMs: 60_000,
        intervalMs: 250,
      },
    );
  });
});
