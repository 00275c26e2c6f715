// `nhictl adopt --secret` as a user runs it (node bin/nhictl.js with the admin kubeconfig), against
// the real apiserver with the shipped admission policies and the real operator running: a Deployment
// with a key-shaped literal env value (generated here, never committed) ends up reading it from a
// Secret the operator owns, adopts as the current version and later rotates. There is no kubelet in
// this environment, so no pod runs: the pod template's secretKeyRef is what proves the workload reads
// the managed Secret. The operator records each adoption in the cluster's audit chain; a literal in a
// container argument moves the same way (`--arg`), and a ConfigMap is refused with how to move it by hand.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Marks, ObjectMarks } from '../../../src/api/v1alpha1/annotations.ts';
import type { AgentIdentity } from '../../../src/api/v1alpha1/types.ts';
import type { AdoptResult } from '../../../src/cli/adopt.ts';
import { repoRoot } from '../../../src/dev/components.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { type AuditRecord, readAuditFile, verifyChain } from '../../../src/governance/audit/audit.ts';
import { agentIdentity, withSpec } from '../../../src/testing/agent-identity.ts';
import { AGENT_IDENTITIES, getIdentity, newNamespace, untilCondition } from '../../support/cluster.ts';
import { childProcessEnv, kubeConfig } from '../../support/env.ts';
import { fakeSecretAccessKey } from '../../support/fake-credentials.ts';
import { deployment, onTestCluster } from '../../support/fixtures.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually } from '../../support/wait.ts';

const run = promisify(execFile);
const admin = kubeConfig();
const apps = admin.makeApiClient(k8s.AppsV1Api);
const core = admin.makeApiClient(k8s.CoreV1Api);
const events = admin.makeApiClient(k8s.EventsV1Api);
const custom = admin.makeApiClient(k8s.CustomObjectsApi);

const ENV = 'AWS_SECRET_ACCESS_KEY';
let ns: string;
let operator: OperatorProcess;
const outputs: string[] = [];
const literals: string[] = [];

/** `adopt deployment/<name> -n <ns> --container agent --env <ENV> --secret <secret>`, the common part. */
const adoptArgs = (name: string, secret: string) => [
  'adopt',
  `deployment/${name}`,
  '-n',
  ns,
  '--container',
  'agent',
  '--env',
  ENV,
  '--secret',
  secret,
];

async function nhictl(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(repoRoot, 'bin', 'nhictl.js'), ...args], {
      env: childProcessEnv(),
    });
    outputs.push(stdout, stderr);
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    outputs.push(e.stdout ?? '', e.stderr ?? '');
    throw error;
  }
}

/** A Deployment whose container carries `value` as a literal env value, with owner and purpose. */
async function workloadWithLiteral(name: string, value: string, serviceAccount = name): Promise<void> {
  const body = deployment(name, serviceAccount);
  body.metadata = {
    ...body.metadata,
    annotations: { [Marks.owner]: 'team-payments', [Marks.purpose]: 'reconciles invoices against S3' },
  };
  const container = body.spec?.template.spec?.containers[0];
  if (container)
    container.env = [
      { name: 'LOG_LEVEL', value: 'info' },
      { name: ENV, value },
    ];
  await apps.createNamespacedDeployment({ namespace: ns, body });
}

function envOf(d: k8s.V1Deployment, name: string): k8s.V1EnvVar | undefined {
  return d.spec?.template.spec?.containers.find((c) => c.name === 'agent')?.env?.find((e) => e.name === name);
}

async function secretValue(name: string, key: string): Promise<string | undefined> {
  const secret = await core.readNamespacedSecret({ namespace: ns, name });
  const data = secret.data?.[key];
  return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
}

function hardCodedFactor(identity: AgentIdentity | undefined) {
  return identity?.status?.risk?.factors.find((f) => f.id === 'likelihood.hard-coded-credentials');
}

function adoptedVersion(identity: AgentIdentity | undefined, secret: string): number | undefined {
  return identity?.status?.secrets?.find((s) => s.name === secret)?.currentVersion;
}

beforeAll(async () => {
  await installOperatorManifests(admin);
  ns = await newNamespace('adopt');
  operator = startOperatorProcess(['--providers=']);
});

afterAll(async () => {
  await core.deleteNamespace({ name: ns }).catch(() => undefined);
  await operator?.stop();
});

describe('nhictl adopt --secret --apply on a Deployment without an AgentIdentity', () => {
  const name = 'invoices';
  const literal = fakeSecretAccessKey();
  const auditLog = join(mkdtempSync(join(tmpdir(), 'nhictl-adopt-')), 'audit.jsonl');
  let result: AdoptResult;

  beforeAll(async () => {
    literals.push(literal);
    await workloadWithLiteral(name, literal);
    const stdout = await nhictl(
      ...adoptArgs(name, `${name}-aws`),
      '--rotation-interval',
      '168h',
      '--apply',
      '--audit-log',
      auditLog,
      '-o',
      'json',
    );
    result = JSON.parse(stdout) as AdoptResult;
  });

  it('points the container at the target Secret key; the literal is gone from the pod template', async () => {
    const live = await apps.readNamespacedDeployment({ namespace: ns, name });
    expect(envOf(live, ENV)).toEqual({
      name: ENV,
      valueFrom: { secretKeyRef: { name: `${name}-aws`, key: ENV } },
    });
    expect(envOf(live, 'LOG_LEVEL')).toEqual({ name: 'LOG_LEVEL', value: 'info' });
    expect(JSON.stringify(live.spec).includes(literal)).toBe(false);
    expect(result.applied).toBe(true);
  });

  it('creates the AgentIdentity bound to the workload, owner and purpose from its annotations', async () => {
    expect(result.identity).toEqual({ namespace: ns, name, created: true });
    const identity = await getIdentity(ns, name);
    expect(identity?.spec).toMatchObject({
      owner: { team: 'team-payments' },
      purpose: 'reconciles invoices against S3',
      environment: 'development',
      workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      secrets: [
        {
          name: 'aws-secret-access-key',
          backend: 'kubernetes',
          rotationInterval: '168h',
          target: { secretName: `${name}-aws`, key: ENV },
        },
      ],
    });
  });

  it('the operator adopts the original value as the current version instead of generating one', async () => {
    expect(result.adopted).toBe(true);
    const ready = await untilCondition(ns, name, 'Ready');
    expect(adoptedVersion(ready, 'aws-secret-access-key')).toBe(result.version);
    const secret = await core.readNamespacedSecret({ namespace: ns, name: `${name}-aws` });
    expect(secret.metadata?.labels?.[Marks.identityUid]).toBe(ready.metadata.uid);
    expect(secret.metadata?.annotations?.[ObjectMarks.currentVersion]).toBe(String(result.version));
    expect((await secretValue(`${name}-aws`, ENV)) === literal).toBe(true);
    // The first rotation is one interval away, not now.
    const next = ready.status?.secrets?.[0]?.nextRotation ?? '';
    expect(Date.parse(next) - Date.now()).toBeGreaterThan(167 * 3600_000);
  });

  it('records the adoption as an Event on the identity and in the hash-chained audit file', async () => {
    const identity = await getIdentity(ns, name);
    const event = await eventually('the SecretAdopted event', async () =>
      (await events.listNamespacedEvent({ namespace: ns })).items.find(
        (e) => e.reason === 'SecretAdopted' && e.regarding?.uid === identity?.metadata.uid,
      ),
    );
    expect(event.note).toContain(`Secret ${name}-aws key ${ENV}`);
    const records = readAuditFile(auditLog);
    expect(verifyChain(records)).toBeUndefined();
    expect(records).toEqual([
      expect.objectContaining({
        action: 'adopted',
        outcome: 'success',
        resource: `kubernetes:Secret/${ns}/${name}-aws`,
      }),
    ]);
  });

  it("the operator records the adoption in the cluster's audit chain, and nhictl audit show lists it", async () => {
    const record = await eventually("the operator's adopted record", async () =>
      readAuditFile(operator.auditLog).find((r) => r.action === 'adopted' && r.identity.name === name),
    );
    expect(record).toMatchObject({
      identity: { namespace: ns, name },
      outcome: 'success',
      resource: 'kubernetes:secret/aws-secret-access-key',
      origin: expect.stringContaining(
        `nhictl adopt Deployment/${ns}/${name} container agent env[${ENV}] by `,
      ),
      detail: expect.stringContaining(`version ${result.version} of Secret ${ns}/${name}-aws`),
    });
    const shown = JSON.parse(
      await nhictl('audit', 'show', operator.auditLog, '--identity', name, '-n', ns, '-o', 'json'),
    ) as AuditRecord[];
    expect(shown.filter((r) => r.action === 'adopted')).toEqual([
      expect.objectContaining({ seq: record.seq }),
    ]);
    const table = await nhictl('audit', 'show', operator.auditLog, '--identity', name, '-n', ns);
    expect(table).toMatch(/\badopted\s+success\s/);
  });

  it('a later rotation replaces the value and the workload still reads the Secret key', async () => {
    await nhictl('rotate', name, '-n', ns);
    const rotated = await eventually('the rotation', async () => {
      const identity = await getIdentity(ns, name);
      return (adoptedVersion(identity, 'aws-secret-access-key') ?? 0) > result.version ? identity : undefined;
    });
    const current = await secretValue(`${name}-aws`, ENV);
    expect(current).toBeTruthy();
    expect(current === literal).toBe(false);
    // Staged: the adopted value stays valid as the previous one for the overlap.
    expect((await secretValue(`${name}-aws`, `${ENV}.previous`)) === literal).toBe(true);
    expect(rotated.status?.secrets?.[0]?.previousVersion).toBe(result.version);
    const live = await apps.readNamespacedDeployment({ namespace: ns, name });
    expect(envOf(live, ENV)?.valueFrom?.secretKeyRef).toEqual({ name: `${name}-aws`, key: ENV });
  });

  it('refuses to adopt again: the workload holds no literal any more', async () => {
    await expect(nhictl(...adoptArgs(name, `${name}-aws`))).rejects.toMatchObject({
      stderr: expect.stringContaining('already reads its value from a reference'),
    });
  });
});

describe('nhictl adopt --secret without --apply, for a workload that has an AgentIdentity', () => {
  const name = 'reports';
  const literal = fakeSecretAccessKey();
  let stdout = '';

  beforeAll(async () => {
    literals.push(literal);
    await workloadWithLiteral(name, literal, 'reports-bot');
    await custom.createNamespacedCustomObject({
      ...AGENT_IDENTITIES,
      namespace: ns,
      body: agentIdentity(
        'reports-bot',
        onTestCluster(ns),
        withSpec({ workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name } }),
      ),
    });
    await untilCondition(ns, 'reports-bot', 'Ready');
    stdout = await nhictl(...adoptArgs(name, 'reports-aws'));
  });

  it("counts the literal in the identity's status.risk, naming the container and field, never the value", async () => {
    const identity = await eventually('the hard-coded credential risk factor', async () => {
      const i = await getIdentity(ns, 'reports-bot');
      return hardCodedFactor(i) ? i : undefined;
    });
    expect(hardCodedFactor(identity)?.description).toContain(`container agent env[${ENV}]`);
    expect(JSON.stringify(identity.status).includes(literal)).toBe(false);
  });

  it('adds the managed secret to the existing identity, which adopts the value', async () => {
    const identity = await eventually('the adopted version', async () => {
      const i = await getIdentity(ns, 'reports-bot');
      return adoptedVersion(i, 'aws-secret-access-key') ? i : undefined;
    });
    expect(identity.spec.secrets?.map((s) => s.target?.secretName)).toEqual(['reports-aws']);
    expect((await secretValue('reports-aws', ENV)) === literal).toBe(true);
    expect(stdout).toContain('of AgentIdentity');
  });

  it('leaves the workload alone and prints the reviewed patch, which does what it says when applied', async () => {
    const before = await apps.readNamespacedDeployment({ namespace: ns, name });
    expect(envOf(before, ENV)?.value === literal).toBe(true);
    expect(stdout).toContain('--type strategic');
    const patch = parseYaml(stdout.slice(stdout.indexOf('\nspec:') + 1)) as object;
    await apps.patchNamespacedDeployment(
      { namespace: ns, name, body: patch },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    const after = await apps.readNamespacedDeployment({ namespace: ns, name });
    expect(envOf(after, ENV)).toEqual({
      name: ENV,
      valueFrom: { secretKeyRef: { name: 'reports-aws', key: ENV } },
    });
  });

  it('drops the risk factor once the literal is gone from the pod template', async () => {
    await eventually('the risk without the hard-coded credential', async () => {
      const i = await getIdentity(ns, 'reports-bot');
      return i?.status?.risk && !hardCodedFactor(i) ? i : undefined;
    });
  });
});

describe('nhictl adopt --secret --rotate-now', () => {
  it('adopts the value, then rotates it at once: the adopted value is only the previous one', async () => {
    const name = 'ledger';
    const literal = fakeSecretAccessKey();
    literals.push(literal);
    await workloadWithLiteral(name, literal);
    const result = JSON.parse(
      await nhictl(...adoptArgs(name, `${name}-aws`), '--apply', '--rotate-now', '-o', 'json'),
    ) as AdoptResult;
    expect(result).toMatchObject({ adopted: true, rotationRequested: true });
    const identity = await eventually('the rotation after adoption', async () => {
      const i = await getIdentity(ns, name);
      return (adoptedVersion(i, 'aws-secret-access-key') ?? 0) > result.version ? i : undefined;
    });
    expect(identity.status?.secrets?.[0]?.previousVersion).toBe(result.version);
    expect((await secretValue(`${name}-aws`, ENV)) === literal).toBe(false);
    expect((await secretValue(`${name}-aws`, `${ENV}.previous`)) === literal).toBe(true);
  });
});

describe('nhictl adopt --secret --arg: a literal in a container argument', () => {
  const name = 'crawler';
  const literal = fakeSecretAccessKey();
  const key = 'API_TOKEN';
  const envVar = 'NHI_ADOPTED_API_TOKEN';

  it('replaces that argument with $(NHI_ADOPTED_API_TOKEN), an env var read from the managed Secret', async () => {
    literals.push(literal);
    const body = deployment(name, name);
    body.metadata = {
      ...body.metadata,
      annotations: { [Marks.owner]: 'team-search', [Marks.purpose]: 'crawls the partner catalogue' },
    };
    const container = body.spec?.template.spec?.containers[0];
    if (container) container.args = ['--verbose', `--api-token=${literal}`, 'serve'];
    await apps.createNamespacedDeployment({ namespace: ns, body });
    const result = JSON.parse(
      await nhictl(
        'adopt',
        `deployment/${name}`,
        '-n',
        ns,
        '--container',
        'agent',
        '--arg',
        '1',
        '--secret',
        `${name}-token`,
        '--apply',
        '-o',
        'json',
      ),
    ) as AdoptResult;
    expect(result).toMatchObject({
      adopted: true,
      applied: true,
      patchType: 'json',
      field: 'args[1]',
      argEnv: envVar,
    });
    const live = await apps.readNamespacedDeployment({ namespace: ns, name });
    const agent = live.spec?.template.spec?.containers.find((c) => c.name === 'agent');
    expect(agent?.args).toEqual(['--verbose', `--api-token=$(${envVar})`, 'serve']);
    expect(agent?.env).toEqual([
      { name: envVar, valueFrom: { secretKeyRef: { name: `${name}-token`, key } } },
    ]);
    expect(JSON.stringify(live.spec).includes(literal)).toBe(false);
    expect((await secretValue(`${name}-token`, key)) === literal).toBe(true);
    const identity = await getIdentity(ns, name);
    expect(adoptedVersion(identity, 'api-token')).toBe(result.version);
    const record = await eventually("the operator's adopted record", async () =>
      readAuditFile(operator.auditLog).find((r) => r.action === 'adopted' && r.identity.name === name),
    );
    expect(record.origin).toContain(`Deployment/${ns}/${name} container agent args[1] by `);
  });

  it('refuses a ConfigMap, saying how to move its value by hand', async () => {
    await expect(
      nhictl('adopt', 'configmap/settings', '-n', ns, '--container', 'x', '--env', 'X', '--secret', 's'),
    ).rejects.toMatchObject({ stderr: expect.stringContaining('move it by hand') });
  });
});

describe('the value never leaks', () => {
  it('appears in no nhictl output, operator log or audit record, Event, or AgentIdentity', async () => {
    expect(literals).toHaveLength(4);
    const identities = JSON.stringify(
      await custom.listNamespacedCustomObject({ ...AGENT_IDENTITIES, namespace: ns }),
    );
    const notes = JSON.stringify((await events.listNamespacedEvent({ namespace: ns })).items);
    const places = {
      nhictl: outputs.join('\n'),
      operatorLog: operator.logs(),
      operatorAudit: readFileSync(operator.auditLog, 'utf8'),
      events: notes,
      identities,
    };
    for (const literal of literals) {
      for (const [place, text] of Object.entries(places))
        expect({ place, leaked: text.includes(literal) }).toEqual({ place, leaked: false });
    }
  });
});
