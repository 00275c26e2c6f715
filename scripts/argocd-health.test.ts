// The Argo CD health check for AgentIdentity in the unit suite: the files written from it carry it
// unchanged, the real lua5.1 gives each committed object from a real reconcile (test/fixtures/argocd)
// the health its state names, failures the test cluster does not reach quickly are derived from those
// objects, and the sandbox is as strict as Argo CD's, so a script that passes here runs there.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { AgentIdentity, Condition, RiskStatus } from '../src/api/v1alpha1/types.ts';
import { HealthCases } from '../test/fixtures/argocd/health-cases.ts';
import { argoHealth, committedHealthScript, HealthStatuses } from '../test/support/argocd-health.ts';
import {
  ARGO_CD_VALUES,
  ARGOCD_CM_PATCH,
  argocdOutputs,
  CHART_HEALTH_SCRIPT,
  HEALTH_KEY,
  HIGH_RISK_SWITCH,
  withHighRiskDegraded,
} from './argocd-health.ts';
import { repositoryRoot } from './sync-chart.ts';

const read = (path: string) => readFileSync(join(repositoryRoot, path), 'utf8');
const script = committedHealthScript();

function fixture(state: string): AgentIdentity {
  return JSON.parse(read(`test/fixtures/argocd/${state}.json`)) as AgentIdentity;
}

/** The fixture with condition `type` replaced (or added), as the owning step would write it. */
function withCondition(
  identity: AgentIdentity,
  condition: Omit<Condition, 'lastTransitionTime'>,
): AgentIdentity {
  const copy = structuredClone(identity);
  const written: Condition = {
    lastTransitionTime: '2026-01-01T00:00:00Z',
    observedGeneration: copy.metadata.generation ?? 1,
    ...condition,
  };
  const conditions = (copy.status?.conditions ?? []).filter((c) => c.type !== condition.type);
  copy.status = { ...copy.status, conditions: [...conditions, written] };
  return copy;
}

/** Deleted by its owner, held by the finalizer (Argo CD itself shows it as Progressing, "Pending deletion"). */
function withDeletion(identity: AgentIdentity): AgentIdentity {
  const copy = structuredClone(identity);
  copy.metadata.deletionTimestamp = '2026-12-01T16:00:00Z';
  return copy;
}

function withRisk(identity: AgentIdentity, level: RiskStatus['level']): AgentIdentity {
  const copy = structuredClone(identity);
  const risk = copy.status?.risk;
  if (!risk) throw new Error('the ready fixture carries status.risk');
  copy.status = { ...copy.status, risk: { ...risk, level, score: 16, remediateBy: '2026-12-08T00:00:00Z' } };
  return copy;
}

describe('the files written from config/argocd/health-agentidentity.lua', () => {
  it('put the script unchanged under the argocd-cm key, as a patch with no namespace', () => {
    const patch = parse(read(ARGOCD_CM_PATCH));
    expect(patch).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'argocd-cm' } });
    expect(patch.metadata.namespace).toBeUndefined();
    expect(Object.keys(patch.data)).toEqual([HEALTH_KEY]);
    expect(patch.data[HEALTH_KEY]).toBe(script);
  });

  it('put it unchanged into the argo-cd Helm values (configs.cm) and the chart', () => {
    expect(parse(read(ARGO_CD_VALUES)).configs.cm[HEALTH_KEY]).toBe(script);
    expect(read(CHART_HEALTH_SCRIPT)).toBe(script);
    expect([...argocdOutputs(repositoryRoot).keys()].sort()).toEqual(
      [ARGO_CD_VALUES, ARGOCD_CM_PATCH, CHART_HEALTH_SCRIPT].sort(),
    );
  });

  it('turn on Degraded for high risk by rewriting one line, which the chart template rewrites too', () => {
    const on = withHighRiskDegraded(script);
    const changed = on.split('\n').filter((line, i) => line !== script.split('\n')[i]);
    expect(changed).toEqual([HIGH_RISK_SWITCH.on]);
    const template = read('charts/nhi-operator/templates/argocd-health.yaml');
    expect(template).toContain(`"${HIGH_RISK_SWITCH.off}"`);
    expect(template).toContain(`"${HIGH_RISK_SWITCH.on}"`);
    expect(() => withHighRiskDegraded(script.replace(HIGH_RISK_SWITCH.off, ''))).toThrow(/exactly once/);
  });
});

describe('Argo CD health on AgentIdentities from real reconciles (test/fixtures/argocd)', () => {
  it.each(HealthCases)('$state: an identity $what is $status', async ({ state, status, message }) => {
    const health = await argoHealth(fixture(state));
    expect(health.status, health.message).toBe(status);
    expect(health.message).toMatch(message);
  });

  it.each(['High', 'Critical'] as const)('a %s risk stays Healthy unless the switch is on', async (level) => {
    const risky = withRisk(fixture('ready'), level);
    expect((await argoHealth(risky)).status).toBe('Healthy');
    expect(await argoHealth(risky, withHighRiskDegraded(script))).toEqual({
      status: 'Degraded',
      message: `risk ${level} (score 16), remediate by 2026-12-08T00:00:00Z: see status.risk.factors`,
    });
  });

  it.each(['Low', 'Moderate'] as const)('a %s risk is Healthy with the switch on', async (level) => {
    expect((await argoHealth(withRisk(fixture('ready'), level), withHighRiskDegraded(script))).status).toBe(
      'Healthy',
    );
  });
});

describe('Argo CD health on failures, derived from the real objects', () => {
  it.each([
    [
      'a lock whose quarantine fails is Degraded, never Suspended: the credentials still work',
      withCondition(
        withCondition(fixture('locked'), {
          type: 'Quarantined',
          status: 'False',
          reason: 'ProviderUnavailable',
          message: 'attempt 1 failed: connect ECONNREFUSED',
        }),
        {
          type: 'Ready',
          status: 'False',
          reason: 'Locked',
          message: 'quarantine pending: locked (kill switch)',
        },
      ),
      'Degraded',
      'quarantine failing: ProviderUnavailable: attempt 1 failed: connect ECONNREFUSED',
    ],
    [
      'a provisioning that fails is Degraded with the attempt',
      withCondition(
        withCondition(fixture('ready'), {
          type: 'Provisioned',
          status: 'False',
          reason: 'ProviderUnavailable',
          message: 'attempt 2 failed: Vault sealed',
        }),
        {
          type: 'Ready',
          status: 'False',
          reason: 'ProviderUnavailable',
          message: 'attempt 2 failed: Vault sealed',
        },
      ),
      'Degraded',
      'ProviderUnavailable: attempt 2 failed: Vault sealed',
    ],
    [
      'an offboarding whose revocation is blocked is Degraded, though Ready stays True',
      withCondition(withDeletion(fixture('ready')), {
        type: 'Revoked',
        status: 'False',
        reason: 'RevocationBlocked',
        message: 'revocation blocked in aws/prod',
      }),
      'Degraded',
      'revocation failing: RevocationBlocked: revocation blocked in aws/prod',
    ],
    [
      'an identity close to its expiry is Healthy and says when it expires',
      withCondition(fixture('ready'), {
        type: 'Expired',
        status: 'False',
        reason: 'ExpiringSoon',
        message: 'the identity expires at 2026-12-31T15:52:27.000Z',
      }),
      'Healthy',
      'credentials provisioned and bound to the workload; the identity expires at 2026-12-31T15:52:27.000Z',
    ],
  ])('%s', async (_what, identity, status, message) => {
    expect(await argoHealth(identity)).toEqual({ status, message });
  });
});

describe('the sandbox the harness runs the script in, as strict as Argo CD', () => {
  it.each([
    ['the string library', 'return { status = string.upper("healthy") }'],
    ['string methods', 'return { status = ("Healthy"):lower() }'],
    ['the math library', 'return { status = "Healthy", message = tostring(math.floor(1.5)) }'],
    ['io', 'io.write("x") return { status = "Healthy" }'],
  ])('refuses a script that uses %s', async (_what, source) => {
    await expect(argoHealth(fixture('ready'), source)).rejects.toThrow(/health script failed/);
  });

  it('hands the object over intact: quotes, backslashes, newlines and non-ASCII text', async () => {
    const text = 'a "quoted" \\ path\nand ☃ déjà';
    expect(
      await argoHealth(
        { metadata: { name: text } },
        'return { status = "Healthy", message = obj.metadata.name }',
      ),
    ).toEqual({ status: 'Healthy', message: text });
  });

  it('gets one of the health codes Argo CD accepts from every fixture', async () => {
    for (const { state } of HealthCases)
      expect(HealthStatuses).toContain((await argoHealth(fixture(state))).status);
  });
});
