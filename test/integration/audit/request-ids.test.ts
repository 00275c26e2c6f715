// Audit records carry the backends' request IDs, so each can be matched with the backend's own log:
// with the real operator process, moto behind a recording proxy (its answers' x-amzn-RequestId, as
// CloudTrail would name the calls) and the test OpenBao with its file audit device (declared in its
// configuration: OpenBao 2.x refuses audit devices through the API). For the calls OpenBao answers
// without a body (204) the operator's X-Nhi-Request-Id is the ID: this test lists that header in
// sys/config/auditing/request-headers, as an administrator would, and removes it afterwards.
// Failed calls are noted too (the adapters over the real SDK client and OpenBao), and no record holds
// a token or a secret value.

import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentIdentity } from '../../../src/api/v1alpha1/types.ts';
import { auditFailure } from '../../../src/controller/agentidentity/identity.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { type AuditRecord, readAuditFile } from '../../../src/governance/audit/audit.ts';
import { createAwsPorts } from '../../../src/providers/aws/factory.ts';
import { withRequestIds } from '../../../src/providers/request-ids.ts';
import {
  createNodeVaultClient,
  NodeVaultPort,
  REQUEST_ID_HEADER,
} from '../../../src/providers/vault/adapter.ts';
import { StaticTokenSource } from '../../../src/providers/vault/auth.ts';
import { agentIdentity, withScopes } from '../../../src/testing/agent-identity.ts';
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
import { kubeConfig, testEnv } from '../../support/env.ts';
import { deployment, onTestCluster, readConfigMaps, withSecret } from '../../support/fixtures.ts';
import { type HttpFaultProxy, startHttpFaultProxy } from '../../support/http-fault-proxy.ts';
import { type OperatorProcess, startOperatorProcess } from '../../support/operator.ts';
import { eventually, uniqueName } from '../../support/wait.ts';

const env = testEnv();
const kc = kubeConfig();
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const identities = { group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' };
const AWS = uniqueName('aws-reqid');
const VAULT = uniqueName('vault-reqid');
const HEADER_CONFIG = `sys/config/auditing/request-headers/${REQUEST_ID_HEADER}`;
let moto: HttpFaultProxy;
let operator: OperatorProcess;

/** What OpenBao's audit log knows of each request: its own id and the X-Nhi-Request-Id sent. */
function baoAuditEntries(): Array<{ id: string; sent?: string; path: string; operation: string }> {
  return readFileSync(env.baoAuditLog, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as { type: string; request?: Record<string, unknown> })
    .filter((e) => e.type === 'request' && e.request)
    .map(({ request }) => {
      const headers = (request?.headers ?? {}) as Record<string, string[]>;
      const sent = headers[REQUEST_ID_HEADER.toLowerCase()]?.[0];
      return {
        id: String(request?.id),
        ...(sent !== undefined && { sent }),
        path: String(request?.path),
        operation: String(request?.operation),
      };
    });
}

/** moto's answers passed through the proxy, by request ID: the IAM or Secrets Manager action each named. */
function motoAnswers(): Map<string, { action: string; status: number }> {
  const out = new Map<string, { action: string; status: number }>();
  for (const answer of moto.passed) {
    const id = answer.headers['x-amzn-requestid'];
    if (!id) continue;
    const action =
      /(?:^|&)Action=(\w+)/.exec(answer.request.body)?.[1] ??
      answer.request.headers['x-amz-target']?.split('.').at(-1) ??
      '?';
    out.set(id, { action, status: answer.status });
  }
  return out;
}

const idsOf = (r: AuditRecord) => r.requestIds ?? (r.requestId ? [r.requestId] : []);

function identity(name: string, ns: string): AgentIdentity {
  return agentIdentity(
    name,
    onTestCluster(ns),
    withScopes(
      readConfigMaps,
      {
        provider: 'vault',
        providerRef: VAULT,
        paths: [{ path: `secret/data/${ns}/docs/*`, capabilities: ['read'] }],
      },
      {
        provider: 'aws',
        providerRef: AWS,
        actions: ['secretsmanager:GetSecretValue'],
        resources: ['arn:aws:secretsmanager:us-east-1:123456789012:secret:crm/*'],
      },
    ),
    withSecret('api-key'),
  );
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  moto = await startHttpFaultProxy(env.aws.endpoint);
  expect((await bao('PUT', HEADER_CONFIG, env.bao.token, { hmac: false })).status).toBe(204);
  await installVaultProvider({ name: VAULT });
  await installAwsProvider({ name: AWS, spec: { endpoint: moto.url } });
  operator = startOperatorProcess();
});

afterAll(async () => {
  await operator?.stop();
  await removeProvider(AWS);
  await removeProvider(VAULT);
  await bao('DELETE', HEADER_CONFIG, env.bao.token);
  await moto?.close();
});

describe('request IDs in the audit trail', () => {
  it("names, for each provision and revocation, the calls moto answered and OpenBao's audit log holds", async () => {
    const ns = await newNamespace('reqid');
    const name = 'reqid-bot';
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment(name, name) });
    await createIdentity(identity(name, ns));
    const ready = await untilCondition(ns, name, 'Ready', 'True', 90_000);
    const vaultRole = ready.status?.vault?.role ?? '';
    await custom.deleteNamespacedCustomObject({ ...identities, namespace: ns, name });
    await eventually(
      'offboarded',
      async () =>
        !(await exists(() => custom.getNamespacedCustomObject({ ...identities, namespace: ns, name }))),
      { timeoutMs: 90_000, intervalMs: 500 },
    );

    const records = readAuditFile(operator.auditLog).filter((r) => r.identity.name === name);
    const of = (backend: string, action: string) =>
      records.filter(
        (r) => r.resource.startsWith(`${backend}:`) && r.action === action && r.outcome === 'success',
      );

    // AWS: every ID a record names is one moto answered, and the writes are among them.
    const answers = motoAnswers();
    for (const action of ['provisioned', 'revoked']) {
      const ids = of(`aws/${AWS}`, action).flatMap(idsOf);
      expect(ids.length, `${action} records with request IDs`).toBeGreaterThan(0);
      for (const id of ids) expect(answers.has(id), `moto answered ${id}`).toBe(true);
    }
    const actions = (action: string) =>
      of(`aws/${AWS}`, action)
        .flatMap(idsOf)
        .map((id) => answers.get(id)?.action);
    expect(actions('provisioned')).toEqual(expect.arrayContaining(['CreateRole', 'PutRolePolicy']));
    expect(actions('revoked')).toContain('DeleteRole');

    // OpenBao: every ID is in its audit log, as its own request id or as the header the operator sent.
    const logged = baoAuditEntries();
    const known = new Set(logged.flatMap((e) => [e.id, ...(e.sent ? [e.sent] : [])]));
    for (const action of ['provisioned', 'revoked']) {
      const ids = of(`vault/${VAULT}`, action).flatMap(idsOf);
      expect(ids.length, `${action} records with request IDs`).toBeGreaterThan(0);
      for (const id of ids) expect(known.has(id), `OpenBao's audit log has ${id}`).toBe(true);
    }
    // The role's deletion (a 204, no body) is found in OpenBao's log by the header the record names.
    const roleDeleted = logged.find(
      (e) => e.operation === 'delete' && e.path === `auth/kubernetes/role/${vaultRole}`,
    );
    expect(roleDeleted?.sent).toBeDefined();
    expect(of(`vault/${VAULT}`, 'revoked').flatMap(idsOf)).toContain(roleDeleted?.sent);
    // A read answered with a body is named by OpenBao's own request_id.
    const own = new Set(logged.map((e) => e.id));
    expect(records.flatMap(idsOf).some((id) => own.has(id))).toBe(true);

    // Each revocation had its intent first; nothing in the records is a credential.
    expect(
      records.filter((r) => r.action === 'revoked' && r.outcome === 'intent').length,
    ).toBeGreaterThanOrEqual(3);
    expect(JSON.stringify(records)).not.toContain(env.bao.token);
    expect(JSON.stringify(records)).not.toContain(env.aws.secretAccessKey);
  });

  it('records a role created before its policy write failed, with the ID moto gave the CreateRole', async () => {
    const ns = await newNamespace('reqid-fail');
    const name = 'reqid-half';
    moto.addRule({
      when: (r) => r.body.includes('Action=PutRolePolicy') && r.body.includes(name),
      answers: ['echo-400'],
      dialect: 'aws',
    });
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment(name, name) });
    await createIdentity(identity(name, ns));
    await untilCondition(ns, name, 'Ready', 'True', 90_000);
    expect(moto.faulted.filter((f) => f.request.body.includes(name))).toHaveLength(1);

    const records = readAuditFile(operator.auditLog).filter(
      (r) => r.identity.name === name && r.resource.startsWith(`aws/${AWS}:`),
    );
    const created = records.find((r) => r.detail?.includes('before a later write failed'));
    expect(created).toMatchObject({ action: 'provisioned', outcome: 'success' });
    expect(created?.detail).toMatch(/^create-role: /);
    const failed = records.find((r) => r.outcome === 'failure');
    expect(failed?.action).toBe('provisioned');
    // The failure names every call of the attempt: CreateRole's ID is moto's, and it was a success.
    const answers = motoAnswers();
    const calls = idsOf(failed as AuditRecord).map((id) => answers.get(id));
    expect(calls).toContainEqual({ action: 'CreateRole', status: 200 });
    expect(JSON.stringify(records)).not.toContain(env.aws.secretAccessKey);
    // The retry's intent is answered: the identity became Ready with an outcome for its provision.
    expect(records.filter((r) => r.outcome === 'intent').length).toBeGreaterThanOrEqual(2);
    await custom.deleteNamespacedCustomObject({ ...identities, namespace: ns, name });
  });

  it('names a failed call by the ID of the answer that refused it', async () => {
    // AWS: CreateRole of a role that exists is refused by moto (409 EntityAlreadyExists).
    const config = { region: env.aws.region, endpoint: moto.url, mode: 'irsa' } as Parameters<
      typeof createAwsPorts
    >[0];
    const { iam } = createAwsPorts(config, {
      credentials: { accessKeyId: env.aws.accessKeyId, secretAccessKey: env.aws.secretAccessKey },
      maxAttempts: 1,
    });
    const role = {
      name: uniqueName('reqid-dup'),
      path: '/reqid/',
      trustPolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
      description: 'request id test',
      maxSessionDuration: 3600,
      tags: {},
    };
    await iam.createRole(role);
    const ids: string[] = [];
    const refused = await withRequestIds(ids, () => iam.createRole(role)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);
    const answer = motoAnswers().get(ids.at(-1) ?? '');
    expect(answer).toEqual({ action: 'CreateRole', status: 409 });
    expect(auditFailure(refused).detail).not.toContain(env.aws.secretAccessKey);

    // OpenBao: a policy that does not parse is refused (400) and audited with the header sent.
    const port = new NodeVaultPort(
      createNodeVaultClient({ address: env.bao.addr }),
      new StaticTokenSource(env.bao.token),
    );
    const policy = uniqueName('reqid-bad');
    const baoIds: string[] = [];
    const rejected = await withRequestIds(baoIds, () => port.writePolicy(policy, 'path {{{')).catch(
      (e: unknown) => e,
    );
    expect(rejected).toBeInstanceOf(Error);
    const entry = baoAuditEntries().find((e) => e.path === `sys/policies/acl/${policy}`);
    expect(entry?.sent).toBe(baoIds.at(-1));
    expect(String((rejected as Error).message)).not.toContain(env.bao.token);
  });
});
