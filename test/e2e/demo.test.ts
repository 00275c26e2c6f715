// `nhictl demo` (what `npm run demo` runs) against the test environment with a real operator
// process: the walk finishes, and what it prints shows every backend doing its part: the IRSA role in
// moto trusted by the one ServiceAccount, the workload's token logging in to OpenBao and reading its
// scope (and not another namespace's path), access lost at quarantine, everything gone at revocation.
// On the dev node (docs/node.md) the same walk runs the operator as a Pod from the Helm chart with the
// image built here, and crm-sync as a real pod that uses its own token and loses it.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../src/cli/demo.ts';
import { CRM_NAME, CRM_NAMESPACE } from '../../src/cli/demo-backends.ts';
import { DEMO_RELEASE, uninstallOperatorChart } from '../../src/cli/demo-chart.ts';
import type { DevNode } from '../../src/dev/node/node.ts';
import { AGENT_IDENTITIES, getIdentity, removeProvider } from '../support/cluster.ts';
import { kubeConfig, testEnv } from '../support/env.ts';
import { describeOnNode, useNode } from '../support/node.ts';
import { type OperatorProcess, startOperatorProcess } from '../support/operator.ts';
import { eventually } from '../support/wait.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
const identities = [
  { namespace: 'agents', name: 'support-bot' },
  { namespace: CRM_NAMESPACE, name: CRM_NAME },
];

/**
 * The identities end Revoked; deleting them needs the operator for the finalizer, so the operator
 * stops after. The namespaces are gone before the next walk re-creates them.
 */
async function cleanUp(stopOperator: () => Promise<void>, stateDir: string): Promise<void> {
  for (const key of identities) {
    await custom.deleteNamespacedCustomObject({ ...AGENT_IDENTITIES, ...key }).catch(() => undefined);
    await eventually(
      `${key.name} deleted`,
      async () => (await getIdentity(key.namespace, key.name)) === undefined,
    );
  }
  await stopOperator();
  for (const namespace of ['agents', CRM_NAMESPACE])
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  await eventually(
    'the demo namespaces deleted',
    async () => {
      const names = (await core.listNamespace()).items.map((n) => n.metadata?.name);
      return !names.includes('agents') && !names.includes(CRM_NAMESPACE);
    },
    { timeoutMs: 60_000 },
  );
  await removeProvider('aws');
  await removeProvider('vault');
  rmSync(stateDir, { recursive: true, force: true });
}

/** What every walk shows, wherever the operator runs: AWS, OpenBao, PostgreSQL, quarantine, revocation. */
function expectBackendsWalk(output: string, stages: number): void {
  const aws = stage(output, 'AWS:');
  expect(aws).toContain(
    `only for sub=system:serviceaccount:${CRM_NAMESPACE}:${CRM_NAME}, aud=sts.amazonaws.com`,
  );
  expect(aws).toMatch(/allow secretsmanager:DescribeSecret, secretsmanager:GetSecretValue/);

  const vault = stage(output, 'Vault:');
  expect(vault).toMatch(/GET secret\/data\/agents-dev\/crm\/settings .*→ HTTP 200/);
  expect(vault).toMatch(/GET secret\/data\/nhi\/agents-dev\/crm-sync\/webhook-key .*→ HTTP 200/);
  expect(vault).toMatch(/another namespace's path\) → HTTP 403/);

  if (testEnv().database) {
    const database = stage(output, 'PostgreSQL:');
    expect(database).toMatch(
      /GET database\/creds\/nhi-agents-dev-crm-sync-[0-9a-f]{8} → HTTP 200: user \S+, lease 900 s/,
    );
    expect(database).toMatch(/closed_deals \(its table\) → 2 rows/);
    expect(database).toMatch(/another tenant's schema\) → denied: .*permission denied for schema agents/);
    expect(database).toMatch(/a write, read-only login\) → denied: .*read-only transaction/);
  }

  const quarantine = stage(output, 'phase 1');
  if (testEnv().database) {
    expect(quarantine).toMatch(
      /PostgreSQL: the login read before → refused: .*password authentication failed/,
    );
    expect(quarantine).toMatch(/a fresh GET database\/creds\/\S+ → HTTP 403 \(refused\)/);
  }
  expect(quarantine).toContain('the role now carries nhi-quarantine');
  expect(quarantine).toMatch(/GET secret\/data\/agents-dev\/crm\/settings .*→ HTTP 403/);
  expect(quarantine).toMatch(/GET secret\/data\/nhi\/agents-dev\/crm-sync\/webhook-key .*→ HTTP 403/);
  expect(quarantine).toMatch(/a new login with the same ServiceAccount token → HTTP 4\d\d \(refused\)/);

  const revoke = stage(output, 'phase 2');
  expect(revoke).toMatch(/IAM role \S+: deleted/);
  expect(revoke).toMatch(/Vault role \S+: deleted/);
  expect(stage(output, 'audit trail')).toMatch(/ [1-9]\d* hash-chained records .*chain intact/);

  const summary = output.slice(output.indexOf('── summary ──'));
  // the stages, and the PostgreSQL one when the environment has PostgreSQL
  expect(summary.match(/^\s+\d+\.\ds {2}\S/gm)?.length).toBe(stages + (testEnv().database ? 1 : 0));
  expect(output).not.toContain(testEnv().postgres?.password ?? 'no PostgreSQL');
  expect(output).not.toContain(testEnv().bao.token);
  expect(output).not.toContain(testEnv().aws.secretAccessKey);
}

/** The lines of one stage: from its `▶ title` to the next stage. */
function stage(output: string, title: string): string {
  const start = output.indexOf(`▶ ${title}`);
  expect(start, `stage "${title}" was printed`).toBeGreaterThanOrEqual(0);
  const end = output.indexOf('\n▶ ', start + 1);
  return output.slice(start, end < 0 ? undefined : end);
}

describe('nhictl demo', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'nhi-demo-'));
  let operator: OperatorProcess | undefined;
  afterAll(() =>
    cleanUp(async () => {
      await operator?.stop();
    }, stateDir),
  );

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
    expect(stage(output, 'start nhi-operator')).toContain(
      'the operator runs as a host process, not as a Pod',
    );
    expectBackendsWalk(output, 15);
  });
});

describeOnNode('nhictl demo on the dev node', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'nhi-demo-node-'));
  afterAll(() => cleanUp(() => uninstallOperatorChart(kc, testEnv(), stateDir), stateDir));

  it('runs the operator as a Pod from the chart, and crm-sync as a pod that uses its token and loses it at quarantine', async () => {
    const node: DevNode = await useNode();
    const lines: string[] = [];
    const started = Date.now();
    await runDemo((line) => lines.push(line), {
      environment: async () => testEnv(),
      startOperator: async () => {
        throw new Error('with a node the demo runs the operator as a Pod, never as a host process');
      },
      stateDir,
      node: () => node,
    });
    const output = lines.join('\n');
    console.log(
      `[nhi] the demo on the node: ${((Date.now() - started) / 1000).toFixed(1)} s\n${output.slice(output.indexOf('── summary ──'))}`,
    );

    const operator = stage(output, 'nhi-operator as a Pod');
    const leader =
      /leader: pod nhi-system\/(\S+) on nhi-dev-node holds Lease nhi-system\/nhi-operator; standby: nhi-operator-\S+/.exec(
        operator,
      )?.[1];
    expect(leader, operator).toMatch(/^nhi-operator-/);
    expect(operator).toContain(
      'runAsNonRoot=true, runAsUser=65532, seccomp RuntimeDefault, readOnlyRootFilesystem=true, allowPrivilegeEscalation=false, capabilities drop ALL',
    );
    expect(operator).toMatch(
      /its process \(pid \d+, from \/proc\): uid 65532, CapEff 0000000000000000, NoNewPrivs 1, Seccomp 2 \(filter\), root filesystem read-only/,
    );
    // The pod that led is a pod of the release, and the Lease names it (not only the demo's words).
    const lease = await coordination.readNamespacedLease({
      namespace: DEMO_RELEASE.namespace,
      name: DEMO_RELEASE.lease,
    });
    const pods = (await core.listNamespacedPod({ namespace: DEMO_RELEASE.namespace })).items;
    expect(pods.map((p) => p.metadata?.name)).toContain(lease.spec?.holderIdentity?.split('_')[0]);
    expect(stage(output, 'ClusterCredentialProviders')).toContain(
      `OpenBao at ${node.podBaoAddr} (the node's bridge address`,
    );

    const pod = stage(output, 'a real pod:');
    expect(pod).toMatch(
      /in the pod: auth\/kubernetes\/login with its mounted token → HTTP 200, policies .*nhi-agents-dev-crm-sync/,
    );
    expect(pod).toMatch(/in the pod: GET secret\/data\/agents-dev\/crm\/settings → HTTP 200/);
    expect(pod).toMatch(/in the pod: GET secret\/data\/agents\/support\/settings → HTTP 403/);
    expect(stage(output, 'phase 1')).toMatch(
      /the pod's own token \(pod \S+ is gone with its Deployment\): a new login → HTTP 4\d\d \(refused\)/,
    );
    expect(stage(output, 'audit trail')).toContain("the leader pod's trail");

    expectBackendsWalk(output, 16);
  }, 240_000);
});
