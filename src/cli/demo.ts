// `nhictl demo` (npm run demo): the whole identity lifecycle, live, on the local control plane.
// Brings up the dev environment, installs the CRDs and default policies, runs the operator, applies
// config/samples/support-bot.yaml (grace and quarantine periods shortened so the demo takes a minute)
// and walks: provision → rotate → admission guardrail → workload deleted → quarantine → revoke.

import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import type { Command } from 'commander';
import type { AgentIdentity } from '../api/v1alpha1/types.ts';
import { repoRoot } from '../dev/components.ts';
import { applyObjects, installOperatorManifests, readManifests } from '../dev/install.ts';
import { readAuditFile, verifyChain } from '../governance/audit/audit.ts';
import { devUp, startDevOperator } from './dev.ts';
import { rotate } from './identity.ts';

const NS = 'agents';
const NAME = 'support-bot';
const ref = { group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' };

type Log = (line: string) => void;

export async function runDemo(log: Log = console.log): Promise<void> {
  const started = Date.now();
  const timings: Array<[string, number]> = [];
  const stage = async <T>(title: string, work: () => Promise<T>): Promise<T> => {
    log(`\n▶ ${title}`);
    const t0 = Date.now();
    const result = await work();
    timings.push([title, Date.now() - t0]);
    return result;
  };

  const env = await stage('local control plane, OpenBao and the AWS emulator', () => devUp(log));
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(env.kubeconfigPath);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const get = async () => {
    try {
      return (await custom.getNamespacedCustomObject({ ...ref, namespace: NS, name: NAME })) as AgentIdentity;
    } catch {
      return undefined;
    }
  };
  const waitCondition = async (type: string, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const identity = await get();
      const c = identity?.status?.conditions?.find((x) => x.type === type);
      if (c?.status === 'True') return identity as AgentIdentity;
      await sleep(250);
    }
    throw new Error(`${NAME} did not become ${type} within ${timeoutMs / 1000}s; see .nhi/dev/operator.log`);
  };

  await stage('install the CRDs, the ValidatingAdmissionPolicy and the default IdentityPolicy', async () => {
    await installOperatorManifests(kc);
    log(
      '  crds/ (AgentIdentity, ClusterCredentialProvider, IdentityPolicy), config/admission, config/policies',
    );
  });

  await stage('start nhi-operator (it keeps running with the environment)', () => startDevOperator(log));
  await stage(
    `apply config/samples/support-bot.yaml (a Deployment and its AgentIdentity in namespace ${NS})`,
    async () => {
      const objects = readManifests('config/samples/support-bot.yaml').map((o) =>
        o.kind === 'AgentIdentity'
          ? {
              ...o,
              spec: {
                ...(o as unknown as AgentIdentity).spec,
                orphanGracePeriod: '5s',
                quarantinePeriod: '10s',
              },
            }
          : o,
      );
      await cleanupPreviousRun(custom, apps);
      await applyObjects(kc, objects as k8s.KubernetesObject[]);
      log('  demo speed: orphanGracePeriod 5m → 5s, quarantinePeriod 24h → 10s');
    },
  );

  const ready = await stage(
    'provision: ServiceAccount, Role + RoleBinding, and a random API key',
    async () => {
      const identity = await waitCondition('Ready');
      const role = await rbac.readNamespacedRole({ namespace: NS, name: `nhi-${NAME}` });
      const secret = await core.readNamespacedSecret({ namespace: NS, name: 'support-bot-crm' });
      log(
        `  ServiceAccount ${identity.status?.serviceAccount} (owned by the AgentIdentity), bound pods: ${identity.status?.boundPods}`,
      );
      log(
        `  Role nhi-${NAME}: ${JSON.stringify(role.rules?.map((r) => `${r.verbs.join(',')} ${r.resources?.join(',')}/${r.resourceNames?.join(',') ?? '*'}`))}`,
      );
      log(
        `  Secret support-bot-crm keys: ${Object.keys(secret.data ?? {}).join(', ')} (values never printed)`,
      );
      log(
        `  status: Ready=True, WorkloadBound=${identity.status?.conditions?.find((c) => c.type === 'WorkloadBound')?.reason}, expires ${identity.status?.expiresAt}`,
      );
      return identity;
    },
  );

  await stage(
    'rotate on demand (nhictl rotate): staged, the previous value stays valid for the overlap',
    async () => {
      const before = ready.status?.secrets?.[0]?.currentVersion ?? 0;
      await rotate({ api: custom, namespace: NS, name: NAME });
      for (let i = 0; i < 120; i++) {
        const s = (await get())?.status?.secrets?.[0];
        if ((s?.currentVersion ?? 0) > before) {
          log(
            `  crm-api-key: version ${s?.previousVersion} → ${s?.currentVersion}; next rotation ${s?.nextRotation}`,
          );
          return;
        }
        await sleep(250);
      }
      throw new Error('rotation did not happen');
    },
  );

  await stage(
    'admission guardrail: a production identity asking for "*" is refused before it exists',
    async () => {
      try {
        await custom.createNamespacedCustomObject({
          ...ref,
          namespace: NS,
          body: {
            apiVersion: 'nhi.dev/v1alpha1',
            kind: 'AgentIdentity',
            metadata: { name: 'greedy-bot' },
            spec: {
              owner: { team: 'growth' },
              purpose: 'Do whatever the growth experiments need',
              environment: 'production',
              ttl: '720h',
              scopes: [{ provider: 'aws', actions: ['*'], resources: ['*'] }],
            },
          },
        });
        log('  (unexpectedly admitted)');
      } catch (error) {
        const body = error instanceof k8s.ApiException ? String(error.body) : String(error);
        const message = /"message":"((?:[^"\\]|\\.)*)"/.exec(body)?.[1] ?? body;
        log(`  rejected: ${message.replace(/\\"/g, '"').slice(0, 400)}`);
      }
    },
  );

  await stage('the workload goes away: Deployment deleted, its pods garbage-collected', async () => {
    await apps.deleteNamespacedDeployment({ namespace: NS, name: NAME, propagationPolicy: 'Background' });
    log('  kubectl delete deployment support-bot');
  });

  await stage(
    'phase 1, quarantine after the grace period: RoleBinding removed, secret values emptied',
    async () => {
      const identity = await waitCondition('Quarantined');
      log(
        `  Orphaned=True; quarantined until ${identity.status?.quarantineUntil}; reversible if the Deployment returns`,
      );
    },
  );

  await stage(
    'phase 2, revoke after the quarantine period: everything the operator owns is deleted',
    async () => {
      await waitCondition('Revoked');
      const left = await core.listNamespacedServiceAccount({ namespace: NS });
      log(
        `  ServiceAccounts left in ${NS}: ${left.items.map((s) => s.metadata?.name).join(', ') || 'none'} (only what the operator does not own)`,
      );
    },
  );

  await stage('audit trail', async () => {
    const records = readAuditFile(join(repoRoot, '.nhi', 'dev', 'audit.jsonl'));
    const broken = verifyChain(records);
    log(
      `  ${records.length} hash-chained records (${[...new Set(records.map((r) => r.action))].join(', ')}); chain ${broken ? `BROKEN at #${broken.index + 1}` : 'intact'}`,
    );
  });

  log('\n── summary ──');
  for (const [title, ms] of timings) log(`  ${(ms / 1000).toFixed(1).padStart(6)}s  ${title}`);
  log(`  ${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s  total`);
  log('\nThe environment and the operator keep running. Explore:');
  log(
    '  source .nhi/dev/env                      # KUBECONFIG, BAO_ADDR, AWS_ENDPOINT_URL, ... and NHI_BIN_DIR',
  );
  log('  $NHI_BIN_DIR/kubectl get aid -A          # kubectl v1.35, matching the local apiserver');
  log('  npx nhictl inventory; npx nhictl risk    # every identity the cluster can reach, and their risk');
  log('  npx nhictl dev status                    # the processes and their logs');
  log('Stop everything with: npx nhictl dev down');
}

/** A second `npm run demo` starts from a clean slate: the previous AgentIdentity is offboarded first. */
async function cleanupPreviousRun(custom: k8s.CustomObjectsApi, apps: k8s.AppsV1Api): Promise<void> {
  try {
    await custom.deleteNamespacedCustomObject({ ...ref, namespace: NS, name: NAME });
  } catch {
    return;
  }
  for (let i = 0; i < 120; i++) {
    try {
      await custom.getNamespacedCustomObject({ ...ref, namespace: NS, name: NAME });
    } catch {
      break;
    }
    await sleep(250);
  }
  await apps.deleteNamespacedDeployment({ namespace: NS, name: NAME }).catch(() => undefined);
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('bring up the local environment and walk an identity through its whole lifecycle')
    .action(async () => {
      await runDemo();
    });
}
