// `nhictl demo` (what `npm run demo` runs) against the test environment with a real operator
// process: the walk finishes, and what it prints shows every backend doing its part: the IRSA role in
// moto trusted by the one ServiceAccount, the workload's token logging in to OpenBao and reading its
// scope (and not another namespace's path), access lost at quarantine, everything gone at revocation.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../src/cli/demo.ts';
import { CRM_NAME, CRM_NAMESPACE } from '../../src/cli/demo-backends.ts';
import { AGENT_IDENTITIES, getIdentity, removeProvider } from '../support/cluster.ts';
import { kubeConfig, testEnv } from '../support/env.ts';
import { type OperatorProcess, startOperatorProcess } from '../support/operator.ts';
import { eventually } from '../support/wait.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const stateDir = mkdtempSync(join(tmpdir(), 'nhi-demo-'));
const identities = [
  { namespace: 'agents', name: 'support-bot' },
  { namespace: CRM_NAMESPACE, name: CRM_NAME },
];
let operator: OperatorProcess | undefined;

afterAll(async () => {
  // The identities end Revoked; deleting them needs the operator for the finalizer.
  for (const key of identities) {
    await custom.deleteNamespacedCustomObject({ ...AGENT_IDENTITIES, ...key }).catch(() => undefined);
    await eventually(
      `${key.name} deleted`,
      async () => (await getIdentity(key.namespace, key.name)) === undefined,
    );
  }
  await operator?.stop();
  for (const namespace of ['agents', CRM_NAMESPACE])
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  await removeProvider('aws');
  await removeProvider('vault');
  rmSync(stateDir, { recursive: true, force: true });
});

/** The lines of one stage: from its `▶ title` to the next stage. */
function stage(output: string, title: string): string {
  const start = output.indexOf(`▶ ${title}`);
  expect(start, `stage "${title}" was printed`).toBeGreaterThanOrEqual(0);
  const end = output.indexOf('\n▶ ', start + 1);
  return output.slice(start, end < 0 ? undefined : end);
}

describe('nhictl demo', () => {
  it('walks the identities through Kubernetes, AWS and OpenBao, and times every stage', async () => {
    const lines: string[] = [];
    await runDemo((line) => lines.push(line), {
      environment: async () => testEnv(),
      startOperator: async () => {
        operator = startOperatorProcess();
        return { auditLog: operator.auditLog };
      },
      stateDir,
    });
    const output = lines.join('\n');

    const aws = stage(output, 'AWS:');
    expect(aws).toContain(
      `only for sub=system:serviceaccount:${CRM_NAMESPACE}:${CRM_NAME}, aud=sts.amazonaws.com`,
    );
    expect(aws).toMatch(/allow secretsmanager:DescribeSecret, secretsmanager:GetSecretValue/);

    const vault = stage(output, 'Vault:');
    expect(vault).toMatch(/GET secret\/data\/agents-dev\/crm\/settings .*→ HTTP 200/);
    expect(vault).toMatch(/GET secret\/data\/nhi\/agents-dev\/crm-sync\/webhook-key .*→ HTTP 200/);
    expect(vault).toMatch(/another namespace's path\) → HTTP 403/);

    const database = stage(output, 'PostgreSQL:');
    expect(database).toMatch(
      /GET database\/creds\/nhi-agents-dev-crm-sync-[0-9a-f]{8} → HTTP 200: user \S+, lease 900 s/,
    );
    expect(database).toMatch(/closed_deals \(its table\) → 2 rows/);
    expect(database).toMatch(/another tenant's schema\) → denied: .*permission denied for schema agents/);
    expect(database).toMatch(/a write, read-only login\) → denied: .*read-only transaction/);

    const quarantine = stage(output, 'phase 1');
    expect(quarantine).toMatch(
      /PostgreSQL: the login read before → refused: .*password authentication failed/,
    );
    expect(quarantine).toMatch(/a fresh GET database\/creds\/\S+ → HTTP 403 \(refused\)/);
    expect(quarantine).toContain('the role now carries nhi-quarantine');
    expect(quarantine).toMatch(/GET secret\/data\/agents-dev\/crm\/settings .*→ HTTP 403/);
    expect(quarantine).toMatch(/GET secret\/data\/nhi\/agents-dev\/crm-sync\/webhook-key .*→ HTTP 403/);
    expect(quarantine).toMatch(/a new login with the same ServiceAccount token → HTTP 4\d\d \(refused\)/);

    const revoke = stage(output, 'phase 2');
    expect(revoke).toMatch(/IAM role \S+: deleted/);
    expect(revoke).toMatch(/Vault role \S+: deleted/);
    expect(stage(output, 'audit trail')).toContain('chain intact');

    const summary = output.slice(output.indexOf('── summary ──'));
    // 15 stages, and the PostgreSQL one when the environment has PostgreSQL
    expect(summary.match(/^\s+\d+\.\ds {2}\S/gm)?.length).toBe(testEnv().database ? 16 : 15);
    expect(output).not.toContain(testEnv().postgres?.password ?? 'no PostgreSQL');
    expect(output).not.toContain(testEnv().bao.token);
    expect(output).not.toContain(testEnv().aws.secretAccessKey);
  });
});
