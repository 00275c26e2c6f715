// The generated glob matchers give the apiserver's answer: a throwaway ValidatingAdmissionPolicy on
// ConfigMaps in one namespace evaluates them in kube-apiserver, each ConfigMap carrying a pattern
// pair and the answer @bufbuild/cel (src/policies/cel.ts) gives offline; a disagreement is a denial
// that names the case. Typed and dyn operands both appear, as in the real policy (object fields are
// typed by the CRD schema, params are not).

import * as k8s from '@kubernetes/client-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arnGlobMayReachCel, globsMayOverlapCel } from '../../../src/api/v1alpha1/glob.ts';
import {
  GRANTS_SECRETS_MANAGER,
  REACHES_OTHER_MANAGED_SECRETS,
} from '../../../src/api/v1alpha1/managed-secrets.ts';
import {
  GLOB_OVERLAP_CASES,
  MANAGED_ARN,
  MANAGED_ARN_REACH_CASES,
} from '../../../src/api/v1alpha1/testing/glob-cases.ts';
import { evaluateRule } from '../../../src/policies/cel.ts';
import { kubeConfig } from '../../support/env.ts';
import { eventually, uniqueName } from '../../support/wait.ts';

type Kind = 'flat' | 'arn' | 'guard' | 'grants';

/**
 * Each rule offline (`rule`, with `bindings` from the ConfigMap's data) and as the policy states it
 * (`inPolicy`: the same text, its variables bound by one-element comprehensions over the data).
 */
const RULES: Record<
  Kind,
  { rule: string; inPolicy: string; bindings: (data: Record<string, string>) => Record<string, unknown> }
> = {
  flat: {
    rule: globsMayOverlapCel('a', 'b'),
    inPolicy: `[object.data.a].all(a, [dyn(object.data.b)].all(b, ${globsMayOverlapCel('a', 'b')}))`,
    bindings: (d) => ({ a: d.a, b: d.b }),
  },
  arn: {
    rule: arnGlobMayReachCel('r', MANAGED_ARN),
    inPolicy: `[object.data.r].all(r, ${arnGlobMayReachCel('r', MANAGED_ARN)})`,
    bindings: (d) => ({ r: d.r }),
  },
  guard: {
    rule: REACHES_OTHER_MANAGED_SECRETS,
    inPolicy: `[object.data.resource].all(resource, [object.data.own].all(own, ${REACHES_OTHER_MANAGED_SECRETS}))`,
    bindings: (d) => ({ resource: d.resource, own: d.own }),
  },
  grants: {
    rule: GRANTS_SECRETS_MANAGER,
    inPolicy: `[object.data.actions.split(',')].all(actions, ${GRANTS_SECRETS_MANAGER})`,
    bindings: (d) => ({ actions: (d.actions ?? '').split(',') }),
  },
};

const pattern = fc.string({ unit: fc.constantFrom('a', 'b', ':', '*', '?'), maxLength: 8 });
const arnish = fc.string({ unit: fc.constantFrom('a', 'n', 'r', ':', '/', 's', '*', '?'), maxLength: 12 });

let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let admission: k8s.AdmissionregistrationV1Api;
let namespace: string;
const policyName = uniqueName('nhi-glob-parity');

function offline(kind: Kind, data: Record<string, string>): boolean {
  const outcome = evaluateRule(RULES[kind].rule, RULES[kind].bindings(data));
  if (!outcome.ok) throw new Error(`offline ${kind} failed on ${JSON.stringify(data)}: ${outcome.error}`);
  return outcome.value as boolean;
}

/** Dry-run creates a ConfigMap with `data`; returns the denial message, or undefined when admitted. */
async function judge(data: Record<string, string>): Promise<string | undefined> {
  try {
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: uniqueName('case') }, data },
      dryRun: 'All',
    });
    return undefined;
  } catch (error) {
    if (!(error instanceof k8s.ApiException)) throw error;
    return String(error.body);
  }
}

/** The apiserver agrees with the offline answer for `data` (sent as `expected`). */
async function agrees(kind: Kind, data: Record<string, string>): Promise<string | undefined> {
  const expected = String(offline(kind, data));
  return judge({ kind, ...data, expected });
}

beforeAll(async () => {
  kc = kubeConfig();
  core = kc.makeApiClient(k8s.CoreV1Api);
  admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  namespace = uniqueName('glob');
  await core.createNamespace({
    body: { metadata: { name: namespace, labels: { 'nhi.dev/glob-parity': policyName } } },
  });
  await admission.createValidatingAdmissionPolicy({
    body: {
      metadata: { name: policyName },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          namespaceSelector: { matchLabels: { 'nhi.dev/glob-parity': policyName } },
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] },
          ],
        },
        matchConditions: [{ name: 'is-a-case', expression: "has(object.data) && 'kind' in object.data" }],
        validations: (Object.keys(RULES) as Kind[]).map((kind) => ({
          expression: `object.data.kind != '${kind}' || ((object.data.expected == 'true') == ${RULES[kind].inPolicy})`,
          messageExpression: `'apiserver disagrees on ${kind}: ' + object.data.map(k, k + '=' + object.data[k]).join(' ')`,
        })),
      },
    },
  });
  await admission.createValidatingAdmissionPolicyBinding({
    body: {
      metadata: { name: policyName },
      spec: { policyName, validationActions: ['Deny'] },
    },
  });
  // The policy reaches the admission plugin through informers: wait until a wrong answer is denied.
  await eventually(
    'the glob parity policy to take effect',
    async () => (await judge({ kind: 'flat', a: 'x', b: 'y', expected: 'true' }))?.includes('disagrees'),
    { timeoutMs: 60_000, intervalMs: 250 },
  );
});

afterAll(async () => {
  await admission.deleteValidatingAdmissionPolicyBinding({ name: policyName }).catch(() => undefined);
  await admission.deleteValidatingAdmissionPolicy({ name: policyName }).catch(() => undefined);
  if (namespace) await core.deleteNamespace({ name: namespace });
});

describe('generated glob matchers in kube-apiserver', () => {
  it('type-check without warnings', async () => {
    const policy = await eventually('the policy status to be computed', async () => {
      const live = await admission.readValidatingAdmissionPolicy({ name: policyName });
      return live.status?.observedGeneration === live.metadata?.generation ? live : undefined;
    });
    expect(policy.status?.typeChecking?.expressionWarnings ?? []).toEqual([]);
  });

  it('deny a wrong answer, so agreement below means something', async () => {
    expect(await judge({ kind: 'flat', a: 'iam:*', b: 's3:get*', expected: 'true' })).toContain(
      'apiserver disagrees on flat',
    );
  });

  it.each(GLOB_OVERLAP_CASES)('flat: %s against %s', async (a, b) => {
    expect(await agrees('flat', { a, b })).toBeUndefined();
    expect(await agrees('flat', { a: b, b: a })).toBeUndefined();
  });

  it('flat: random pairs', async () => {
    for (const [a, b] of fc.sample(fc.tuple(pattern, pattern), { numRuns: 300, seed: 20260101 })) {
      expect(await agrees('flat', { a, b }), JSON.stringify([a, b])).toBeUndefined();
    }
  });

  it.each(MANAGED_ARN_REACH_CASES)('arn: %s', async (r) => {
    expect(await agrees('arn', { r })).toBeUndefined();
  });

  it('arn: random patterns', async () => {
    const requested = fc.oneof(
      arnish,
      arnish.map((tail) => `arn:aws:secretsmanager:${tail}`),
    );
    for (const r of fc.sample(requested, { numRuns: 300, seed: 20260102 })) {
      expect(await agrees('arn', { r }), r).toBeUndefined();
    }
  });

  it.each([
    'arn:aws:secretsmanager:*:*:secret:nhi/agents/bot/*',
    'arn:aws:secretsmanager:*:*:secret:nhi/other/bot/*',
    'arn:aws:secretsmanager:*:*:secret*',
    'arn:aws:secretsmanager:us-east-1:111122223333:secret:nh?/*',
    'ARN:AWS:SECRETSMANAGER:*:*:SECRET:NHI/*',
    'arn:aws:s3:::bucket/*',
  ])('guard: %s', async (resource) => {
    expect(await agrees('guard', { resource, own: 'nhi/agents/bot/' })).toBeUndefined();
  });

  it.each([
    'secretsmanager:GetSecretValue',
    'SecretsManager:Get*',
    's3:GetObject,iam:PassRole',
    '*',
    '*:*',
    's3:*,secrets*',
  ])('grants: %s', async (actions) => {
    expect(await agrees('grants', { actions })).toBeUndefined();
  });
});
