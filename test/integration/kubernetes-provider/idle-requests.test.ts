// An idle operator costs the apiserver nothing per reconcile: with its identities Ready and nothing
// changing, the periodic resync reconciles each of them again and again, and every read those
// reconciles make of the objects the Kubernetes provider owns (ServiceAccounts, Roles, RoleBindings,
// Secrets), of the workloads and of Pods is served from the operator's informer caches. Counted with
// a client-side counter on the operator's own KubeConfig (every API request it sends passes through
// applySecurityAuthentication); watches are told apart by their ?watch=true. Counts, never timings.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { installOperatorManifests } from '../../../src/dev/install.ts';
import { type RunningOperator, startOperator } from '../../../src/operator.ts';
import { createLogger } from '../../../src/runtime/logger.ts';
import { agentIdentity, withScopes } from '../../../src/testing/agent-identity.ts';
import { createIdentity, newNamespace, untilCondition } from '../../support/cluster.ts';
import { kubeConfig, testEnv } from '../../support/env.ts';
import { deployment, onTestCluster, readConfigMaps, withSecret } from '../../support/fixtures.ts';
import { eventually } from '../../support/wait.ts';

type RequestContext = Parameters<k8s.KubeConfig['applySecurityAuthentication']>[0];

/** The test cluster's KubeConfig, recording the method and path of every request sent through it. */
class CountingKubeConfig extends k8s.KubeConfig {
  readonly requests: Array<{ method: string; path: string; watch: boolean }> = [];
  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const url = new URL(context.getUrl());
    this.requests.push({
      method: context.getHttpMethod(),
      path: url.pathname,
      watch: url.searchParams.get('watch') === 'true',
    });
  }
}

const IDENTITIES = 3;
const OWNED_OR_READ = /\/(serviceaccounts|secrets|roles|rolebindings|pods|deployments)(\/|$)/;
const kc = kubeConfig();
const apps = kc.makeApiClient(k8s.AppsV1Api);
let operator: RunningOperator | undefined;
let counting: CountingKubeConfig;
let auditDir: string;
let ns: string;

async function reconciles(op: RunningOperator): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${op.port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('controller_runtime_reconcile_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

beforeAll(async () => {
  await installOperatorManifests(kc);
  ns = await newNamespace('idle');
  for (let i = 0; i < IDENTITIES; i++) {
    const name = `idle-${i}`;
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment(name, name, 0) });
    await createIdentity(
      agentIdentity(name, onTestCluster(ns), withScopes(readConfigMaps), withSecret('api-key')),
    );
  }
  counting = new CountingKubeConfig();
  counting.loadFromFile(testEnv().kubeconfigPath);
  auditDir = mkdtempSync(join(tmpdir(), 'nhi-idle-'));
  const config = loadConfig(
    [
      '--http-port=0',
      '--http-host=127.0.0.1',
      '--leader-elect=false',
      '--resync-period=1s',
      `--audit-log=${join(auditDir, 'audit.jsonl')}`,
      `--watch-namespace=${ns}`,
    ],
    {},
  );
  operator = await startOperator(config, counting, createLogger({ silent: true }));
  for (let i = 0; i < IDENTITIES; i++) await untilCondition(ns, `idle-${i}`, 'Ready', 'True', 60_000);
}, 120_000);

afterAll(async () => {
  await operator?.stop();
  rmSync(auditDir, { recursive: true, force: true });
});

describe('an idle operator', () => {
  it('serves every resync reconcile of its identities from its caches: no read of owned objects, workloads or Pods, and no write', async () => {
    const op = operator as RunningOperator;
    // Let the provisioning writes' watch events arrive, then count from a quiet point.
    await eventually(
      'the caches caught up (a reconcile with no request)',
      async () => {
        const before = counting.requests.length;
        const reconciled = await reconciles(op);
        await new Promise((r) => setTimeout(r, 1_500));
        return (await reconciles(op)) > reconciled && counting.requests.length === before ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );

    const from = counting.requests.length;
    const reconciledBefore = await reconciles(op);
    await eventually(
      'each identity reconciled at least five more times by the resync',
      async () => ((await reconciles(op)) - reconciledBefore >= 5 * IDENTITIES ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const during = counting.requests.slice(from).filter((r) => !r.watch);

    expect(during.filter((r) => OWNED_OR_READ.test(r.path))).toEqual([]);
    expect(during.filter((r) => r.method !== 'GET')).toEqual([]);
  });
});
