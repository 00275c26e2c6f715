// `nhictl demo` (npm run demo): the whole identity lifecycle, live, on the local control plane, with
// all three backends. Brings up the dev environment, installs the CRDs and default policies, the
// ClusterCredentialProviders for the environment's moto (IAM, in IRSA mode) and OpenBao, runs the
// operator, and applies two identities (grace and quarantine periods shortened so the demo takes
// well under a minute):
//   support-bot  config/samples/support-bot.yaml, production, namespace agents: kubernetes only;
//   crm-sync     development, namespace agents-dev: an IAM role and a Vault role (demo-backends.ts).
// With the dev node (as root), the operator runs as a Pod from the Helm chart with the image built
// here (demo-chart.ts) and crm-sync as a real pod (demo-pod.ts); without it, the operator is a host
// process and the workloads stay Pending.
// It walks: provision → the IRSA role in IAM → the workload's token logs in to OpenBao (and, with
// PostgreSQL in the environment, reads a database login and queries its schema) → rotate → admission
// guardrail → workloads deleted → quarantine (the Vault token and the database login stop working) →
// revoke.

import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import type { Command } from 'commander';
import type { AgentIdentity } from '../api/v1alpha1/types.ts';
import { repoRoot } from '../dev/components.ts';
import { type DevEnvironment, removeProcess } from '../dev/environment.ts';
import { applyObjects, installOperatorManifests, readManifests } from '../dev/install.ts';
import { type DevNode, readNode } from '../dev/node/node.ts';
import { readAuditFile, verifyChain } from '../governance/audit/audit.ts';
import {
  baoCall,
  CRM_NAME,
  CRM_NAMESPACE,
  CRM_SCHEMA,
  CRM_SECRET_PATH,
  CRM_SETTINGS_PATH,
  CRM_TABLE,
  crmSyncObjects,
  databaseLogin,
  iamClient,
  OTHER_SCHEMA,
  OTHER_TENANT_PATH,
  providerObjects,
  psql,
  readIrsaRole,
  roleExists,
  seedKnowledgeBase,
  seedTeamSettings,
  workloadLogin,
} from './demo-backends.ts';
import {
  DEMO_RELEASE,
  describeLeader,
  inClusterVaultAuth,
  installOperatorChart,
  OPERATOR_VAULT_ROLE,
} from './demo-chart.ts';
import { askPod, onDevNode, readyPod } from './demo-pod.ts';
import { devDir, devUp, startDevOperator } from './dev.ts';
import { rotate } from './identity.ts';

const NS = 'agents';
const NAME = 'support-bot';
const ref = { group: 'nhi.dev', version: 'v1alpha1', plural: 'agentidentities' };
/** Demo speed: the samples' 5m grace and 24h quarantine would make the walk last a day. */
const PERIODS = { orphanGracePeriod: '5s', quarantinePeriod: '10s' };

type Log = (line: string) => void;
type Key = { namespace: string; name: string };
const SUPPORT_BOT: Key = { namespace: NS, name: NAME };
const CRM_SYNC: Key = { namespace: CRM_NAMESPACE, name: CRM_NAME };

/** Where the demo runs: the dev environment (`npm run demo`), or a test's environment and operator. */
export interface DemoSetup {
  /** Brings up the environment, or returns the running one. */
  environment(): Promise<DevEnvironment>;
  /** Starts nhi-operator against it; resolves with where its audit trail goes. */
  startOperator(): Promise<{ auditLog: string }>;
  /** A private folder for files the operator reads (the OpenBao token file). */
  stateDir: string;
  /**
   * The dev node (docs/node.md): crm-sync runs on it as a real pod, and the operator as a Pod from the
   * Helm chart instead of startOperator. None: the operator is a host process, crm-sync stays Pending.
   */
  node?(): DevNode | undefined;
  /** Stops a host-process operator an earlier run left, before the chart's operator takes over. */
  stopHostOperator?(): Promise<boolean>;
}

/** As root, the demo's crm-sync runs as a real pod on the dev node (docs/node.md); NHI_DEMO_NODE=0 opts out. */
const demoWantsNode = () => process.getuid?.() === 0 && process.env.NHI_DEMO_NODE !== '0';

export function devDemoSetup(log: Log): DemoSetup {
  return {
    environment: async () => {
      if (!demoWantsNode()) return devUp(log);
      try {
        return await devUp(log, { node: true });
      } catch (error) {
        log(`  no dev node, the workloads stay Pending: ${(error as Error).message.split('\n')[0]}`);
        return devUp(log);
      }
    },
    startOperator: async () => {
      await startDevOperator(log);
      return { auditLog: join(repoRoot, '.nhi', 'dev', 'audit.jsonl') };
    },
    stateDir: devDir(),
    node: () => readNode(devDir()),
    stopHostOperator: () => removeProcess(devDir(), 'nhi-operator'),
  };
}

export async function runDemo(log: Log = console.log, setup: DemoSetup = devDemoSetup(log)): Promise<void> {
  const started = Date.now();
  const timings: Array<[string, number]> = [];
  const stage = async <T>(title: string, work: () => Promise<T>): Promise<T> => {
    log(`\n▶ ${title}`);
    const t0 = Date.now();
    const result = await work();
    timings.push([title, Date.now() - t0]);
    return result;
  };

  const env = await stage('local control plane, OpenBao and the AWS emulator', () => setup.environment());
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(env.kubeconfigPath);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const iam = iamClient(env);
  const identities = new Identities(custom);
  const node = setup.node?.();

  await stage('install the CRDs, the ValidatingAdmissionPolicy and the default IdentityPolicy', async () => {
    await installOperatorManifests(kc);
    log(
      '  crds/ (AgentIdentity, ClusterCredentialProvider, IdentityPolicy), config/admission, config/policies',
    );
  });

  await stage(
    `ClusterCredentialProviders aws (the emulator, IRSA) and vault (OpenBao), for namespace ${CRM_NAMESPACE} only`,
    async () => {
      const providers = providerObjects(
        env,
        setup.stateDir,
        node && {
          baoAddr: node.podBaoAddr,
          awsEndpoint: node.podAwsEndpoint,
          vaultAuth: inClusterVaultAuth(env),
        },
      );
      await replaceMovedProviders(custom, providers, log);
      await applyObjects(kc, providers);
      await seedTeamSettings(env);
      await seedKnowledgeBase(env);
      const route = (at: string, local: string) =>
        node ? `${at} (the node's bridge address, where pods reach it; node-proxy forwards to ${local})` : at;
      log(
        `  aws: IAM at ${node ? route(node.podAwsEndpoint, env.aws.endpoint) : env.aws.endpoint}, roles trusting the apiserver's issuer ${env.serviceAccountIssuer}`,
      );
      log(
        `  vault: OpenBao at ${node ? route(node.podBaoAddr, env.bao.addr) : env.bao.addr}, kubernetes auth mount verifying tokens with the apiserver`,
      );
      log(
        node
          ? `  the operator logs in to OpenBao with its own projected ServiceAccount token (audience vault), role ${OPERATOR_VAULT_ROLE} with exactly operatorPolicy() (src/providers/vault/operator-policy.ts)`
          : '  the operator reads the OpenBao dev root token from a file (host process only)',
      );
      log(`  the platform keeps the team's settings at ${CRM_SETTINGS_PATH}`);
      if (env.database) {
        log(
          `  vault.database: OpenBao's database engine ${env.database.mount}/, connection ${env.database.connection} (PostgreSQL ${env.postgres?.host}:${env.postgres?.port}); the team's schema ${CRM_SCHEMA}`,
        );
      }
    },
  );

  const { auditLog } = node
    ? await stage(
        `nhi-operator as a Pod: the Helm chart with the image built here, 2 replicas, leader election`,
        async () => {
          if (await setup.stopHostOperator?.()) log('  stopped the host-process operator of an earlier run');
          const pods = await installOperatorChart(kc, env, node, setup.stateDir, log);
          await describeLeader(kc, pods, log);
          identities.hint = `kubectl logs -n ${pods.leader.namespace} ${pods.leader.name}`;
          return pods;
        },
      )
    : await stage('start nhi-operator (it keeps running with the environment)', async () => {
        log(
          '  no dev node (it needs root; NHI_DEMO_NODE=0 opts out): the operator runs as a host process, not as a Pod',
        );
        return setup.startOperator();
      });
  await stage(
    `apply config/samples/support-bot.yaml (production, ${NS}) and crm-sync (development, ${CRM_NAMESPACE})`,
    async () => {
      const supportBot = readManifests('config/samples/support-bot.yaml').map((o) =>
        o.kind === 'AgentIdentity'
          ? { ...o, spec: { ...(o as unknown as AgentIdentity).spec, ...PERIODS } }
          : o,
      );
      await cleanupPreviousRun(identities, apps, [SUPPORT_BOT, CRM_SYNC]);
      const crmObjects = crmSyncObjects(PERIODS, Boolean(env.database)).map((o) =>
        node && o.kind === 'Deployment' ? onDevNode(o as k8s.V1Deployment) : o,
      );
      await applyObjects(kc, [...(supportBot as k8s.KubernetesObject[]), ...crmObjects]);
      log(`  each namespace carries nhi.dev/environment, the environment its identities must declare`);
      log('  demo speed: orphanGracePeriod 5m → 5s, quarantinePeriod 24h → 10s');
    },
  );

  const ready = await stage(
    'provision support-bot: ServiceAccount, Role + RoleBinding, and a random API key',
    async () => {
      const identity = await identities.until(SUPPORT_BOT, 'Ready');
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

  const crm = await stage(
    `AWS: an IRSA role in the emulator that only ${CRM_NAMESPACE}/${CRM_NAME}'s ServiceAccount can assume`,
    async () => {
      const identity = await identities.until(CRM_SYNC, 'Ready');
      const roleName = identity.status?.aws?.roleName ?? '';
      const role = await readIrsaRole(iam, roleName, env.serviceAccountIssuer);
      const sa = await core.readNamespacedServiceAccount({ namespace: CRM_NAMESPACE, name: CRM_NAME });
      log(`  IAM role ${role.arn}`);
      log(`  trust: sts:AssumeRoleWithWebIdentity from ${role.federated}`);
      log(`         only for sub=${role.trustedSubject}, aud=${role.trustedAudience}`);
      log(`  inline policies ${role.inlinePolicies.join(', ')}: allow ${role.allowed.join(', ')}`);
      log(
        `  ServiceAccount ${CRM_NAME} annotated eks.amazonaws.com/role-arn=${sa.metadata?.annotations?.['eks.amazonaws.com/role-arn']} (what EKS injects credentials from)`,
      );
      return { identity, roleName };
    },
  );

  const vaultRole = crm.identity.status?.vault?.role ?? '';
  const session = await stage(
    "Vault: the workload's ServiceAccount token logs in to OpenBao and reads what its scope allows",
    async () => {
      const { jwt, login } = await workloadLogin(core, env, vaultRole);
      if (login.status !== 200) throw new Error(`OpenBao login as ${vaultRole}: HTTP ${login.status}`);
      const token = login.json.auth?.client_token ?? '';
      log(
        `  TokenRequest for ServiceAccount ${CRM_NAMESPACE}/${CRM_NAME}, then auth/kubernetes/login role ${vaultRole}`,
      );
      log(
        `  → a Vault token with policies ${login.json.auth?.policies?.join(', ')} (the token is never printed)`,
      );
      await showReads(log, env, token);
      return { jwt, token };
    },
  );

  const dbRole = crm.identity.status?.vault?.databaseRole ?? '';
  const dbLogin = env.database
    ? await stage(
        'PostgreSQL: the same token reads a database login that lives minutes, for its own schema only',
        async () => {
          const login = await databaseLogin(env, session.token, dbRole);
          if (!login.username || !login.password) {
            throw new Error(`${env.database?.mount}/creds/${dbRole}: HTTP ${login.status}`);
          }
          log(
            `  GET ${env.database?.mount}/creds/${dbRole} → HTTP ${login.status}: user ${login.username}, lease ${login.leaseSeconds} s (credentialTTL; the password is never printed)`,
          );
          await showQueries(log, env, { username: login.username, password: login.password });
          return { username: login.username, password: login.password };
        },
      )
    : undefined;

  const pod = node
    ? await stage(
        `a real pod: ${CRM_NAME} runs on ${node.name} and logs in to OpenBao with its own mounted token`,
        async () => {
          const running = await readyPod(core, CRM_NAMESPACE, { 'app.kubernetes.io/name': CRM_NAME });
          const tokenFile = '/var/run/secrets/kubernetes.io/serviceaccount/token';
          const login = await askPod<{ status: number; policies: string[] }>(running.ip, '/vault/login', {
            addr: node.podBaoAddr,
            role: vaultRole,
            file: tokenFile,
          });
          log(
            `  pod ${running.name} Running on ${running.node} (${running.ip}), image localhost/nhi/probe:1`,
          );
          log(
            `  in the pod: auth/kubernetes/login with its mounted token → HTTP ${login.status}, policies ${login.policies.join(', ')}`,
          );
          for (const path of [CRM_SETTINGS_PATH, OTHER_TENANT_PATH]) {
            const read = await askPod<{ status: number }>(running.ip, '/vault/read', {
              addr: node.podBaoAddr,
              path,
            });
            log(`  in the pod: GET ${path} → HTTP ${read.status}`);
          }
          const { token } = await askPod<{ token: string }>(running.ip, '/token', { file: tokenFile });
          return { ...running, jwt: token };
        },
      )
    : undefined;

  await stage(
    'rotate on demand (nhictl rotate): staged, the previous value stays valid for the overlap',
    async () => {
      const before = ready.status?.secrets?.[0]?.currentVersion ?? 0;
      await rotate({ api: custom, ...SUPPORT_BOT }, (line) => log(`  ${line}`));
      await identities.until(
        SUPPORT_BOT,
        'Ready',
        (i) => (i.status?.secrets?.[0]?.currentVersion ?? 0) > before,
      );
      const s = (await identities.get(SUPPORT_BOT))?.status?.secrets?.[0];
      log(
        `  crm-api-key: version ${s?.previousVersion} → ${s?.currentVersion}; next rotation ${s?.nextRotation}`,
      );
    },
  );

  await stage(
    'admission guardrail: a production identity asking for "*" is refused before it exists',
    async () => {
      log(`  rejected: ${await greedyIdentityRejection(custom)}`);
    },
  );

  await stage('the workloads go away: both Deployments deleted, their pods garbage-collected', async () => {
    await Promise.all(
      [SUPPORT_BOT, CRM_SYNC].map((k) =>
        apps.deleteNamespacedDeployment({ ...k, propagationPolicy: 'Background' }),
      ),
    );
    log(
      `  kubectl delete deployment -n ${NS} ${NAME}; kubectl delete deployment -n ${CRM_NAMESPACE} ${CRM_NAME}`,
    );
  });

  await stage(
    'phase 1, quarantine after the grace period: access cut in every backend, reversibly',
    async () => {
      const [bot] = await Promise.all([
        identities.until(SUPPORT_BOT, 'Quarantined'),
        identities.until(CRM_SYNC, 'Quarantined'),
      ]);
      log(
        `  support-bot: RoleBinding removed, secret values emptied; quarantined until ${bot.status?.quarantineUntil}`,
      );
      const role = await readIrsaRole(iam, crm.roleName, env.serviceAccountIssuer);
      log(
        `  crm-sync AWS: the role now carries ${role.inlinePolicies.filter((p) => p !== 'nhi-scopes').join(', ')} (deny all, and every earlier session)`,
      );
      log('  crm-sync Vault: the token the workload logged in with before:');
      await showReads(log, env, session.token);
      const again = await baoCall(env, '', 'POST', `auth/${env.bao.kubernetesAuthMount}/login`, {
        role: vaultRole,
        jwt: session.jwt,
      });
      log(
        `    a new login with the same ServiceAccount token → HTTP ${again.status}${again.status === 200 ? ' (unexpectedly allowed)' : ' (refused)'}`,
      );
      if (dbLogin) {
        const reconnect = await psql(env, dbLogin, 'SELECT 1');
        log(
          `  crm-sync PostgreSQL: the login read before → ${reconnect.ok ? 'still connects (unexpected)' : `refused: ${reconnect.text}`}`,
        );
        const fresh = await databaseLogin(env, session.token, dbRole);
        log(
          `    a fresh GET ${env.database?.mount}/creds/${dbRole} → HTTP ${fresh.status}${fresh.status === 200 ? ' (unexpectedly allowed)' : ' (refused)'}`,
        );
      }
      if (pod) {
        const podLogin = await baoCall(env, '', 'POST', `auth/${env.bao.kubernetesAuthMount}/login`, {
          role: vaultRole,
          jwt: pod.jwt,
        });
        log(
          `  the pod's own token (pod ${pod.name} is gone with its Deployment): a new login → HTTP ${podLogin.status}${podLogin.status === 200 ? ' (unexpectedly allowed)' : ' (refused)'}`,
        );
      }
      log('  reversible: bring the Deployments back within the quarantine period and access is restored');
    },
  );

  await stage(
    'phase 2, revoke after the quarantine period: everything the operator owns is deleted',
    async () => {
      await Promise.all([identities.until(SUPPORT_BOT, 'Revoked'), identities.until(CRM_SYNC, 'Revoked')]);
      const left = await core.listNamespacedServiceAccount({ namespace: NS });
      log(
        `  ServiceAccounts left in ${NS}: ${left.items.map((s) => s.metadata?.name).join(', ') || 'none'} (only what the operator does not own)`,
      );
      const vaultLeft = await baoCall(
        env,
        env.bao.token,
        'GET',
        `auth/${env.bao.kubernetesAuthMount}/role/${vaultRole}`,
      );
      log(
        `  IAM role ${crm.roleName}: ${(await roleExists(iam, crm.roleName)) ? 'still there (unexpected)' : 'deleted'}`,
      );
      log(
        `  Vault role ${vaultRole}: ${vaultLeft.status === 404 ? 'deleted' : `HTTP ${vaultLeft.status} (unexpected)`}, with its policy and KV secrets`,
      );
    },
  );

  await stage('audit trail', async () => {
    const records = readAuditFile(auditLog);
    const broken = verifyChain(records);
    if (node) log("  the leader pod's trail, read from its emptyDir on the node");
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
  log(
    '  npx nhictl list; npx nhictl inventory    # the identities, and every identity the cluster can reach',
  );
  log('  npx nhictl risk -o yaml                  # their risk, as table, json or yaml');
  log('  npx nhictl dev status                    # the processes and their logs');
  if (node) {
    log(
      `  $NHI_BIN_DIR/kubectl -n ${DEMO_RELEASE.namespace} get pods,lease   # the operator's pods and the Lease its leader holds`,
    );
  }
  log('Stop everything with: npx nhictl dev down');
}

/** What crm-sync's token may read: the team's settings and its own KV secret, not another tenant's path. */
async function showReads(log: Log, env: DevEnvironment, token: string): Promise<void> {
  for (const [path, what] of [
    [CRM_SETTINGS_PATH, 'the team settings, in its scope'],
    [CRM_SECRET_PATH, 'its webhook key, generated by the operator'],
    [OTHER_TENANT_PATH, "another namespace's path"],
  ] as const) {
    const answer = await baoCall(env, token, 'GET', path);
    const verdict =
      answer.status === 200 ? `read ${Object.keys(answer.json.data?.data ?? {}).join(', ')}` : 'denied';
    log(`    GET ${path} (${what}) → HTTP ${answer.status}, ${verdict}`);
  }
}

async function showQueries(
  log: Log,
  env: DevEnvironment,
  login: { username: string; password: string },
): Promise<void> {
  for (const [sql, what] of [
    [`SELECT count(*) FROM ${CRM_SCHEMA}.${CRM_TABLE}`, 'its table'],
    [`SELECT count(*) FROM ${OTHER_SCHEMA}.tickets`, "another tenant's schema"],
    [`DELETE FROM ${CRM_SCHEMA}.${CRM_TABLE}`, 'a write, read-only login'],
  ] as const) {
    const answer = await psql(env, login, sql);
    log(`    psql: ${sql} (${what}) → ${answer.ok ? `${answer.text} rows` : `denied: ${answer.text}`}`);
  }
}

/** The refusal admission gives a production identity asking for every AWS action on every resource. */
async function greedyIdentityRejection(custom: k8s.CustomObjectsApi): Promise<string> {
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
          sponsor: { name: 'head-of-growth' },
          purpose: 'Do whatever the growth experiments need',
          environment: 'production',
          ttl: '720h',
          scopes: [{ provider: 'aws', actions: ['*'], resources: ['*'] }],
        },
      },
    });
    return '(unexpectedly admitted)';
  } catch (error) {
    const body = error instanceof k8s.ApiException ? String(error.body) : String(error);
    const message = /"message":"((?:[^"\\]|\\.)*)"/.exec(body)?.[1] ?? body;
    return message.replace(/\\"/g, '"').slice(0, 400);
  }
}

/** Reads of the demo's AgentIdentities, and waits on their conditions. */
class Identities {
  /** Where to look when an identity does not get there: the operator's log. */
  hint = 'see .nhi/dev/state/logs/nhi-operator.log';
  constructor(private readonly custom: k8s.CustomObjectsApi) {}

  async get(key: Key): Promise<AgentIdentity | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({ ...ref, ...key })) as AgentIdentity;
    } catch (error) {
      if (error instanceof k8s.ApiException && error.code === 404) return undefined;
      throw error;
    }
  }

  /** Waits until condition `type` is True (and `also` holds); returns the identity at that moment. */
  async until(
    key: Key,
    type: string,
    also: (identity: AgentIdentity) => boolean = () => true,
    timeoutMs = 60_000,
  ): Promise<AgentIdentity> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const identity = await this.get(key);
      const condition = identity?.status?.conditions?.find((c) => c.type === type);
      if (identity && condition?.status === 'True' && also(identity)) return identity;
      await sleep(250);
    }
    throw new Error(
      `${key.namespace}/${key.name} did not become ${type} within ${timeoutMs / 1000}s; ${this.hint}`,
    );
  }

  async delete(key: Key): Promise<boolean> {
    try {
      await this.custom.deleteNamespacedCustomObject({ ...ref, ...key });
      return true;
    } catch (error) {
      if (error instanceof k8s.ApiException && error.code === 404) return false;
      throw error;
    }
  }
}

/**
 * A provider's address and endpoint are immutable (they decide where credentials live). The demo's
 * own providers move between the host's loopback ports and the node's bridge address, which lead to
 * the same OpenBao and moto, when the node comes or goes: such a provider is deleted and re-created.
 */
async function replaceMovedProviders(
  custom: k8s.CustomObjectsApi,
  providers: k8s.KubernetesObject[],
  log: Log,
): Promise<void> {
  type Spec = { aws?: { endpoint?: string }; vault?: { address?: string } };
  const where = (spec: Spec | undefined) => spec?.aws?.endpoint ?? spec?.vault?.address;
  const api = { group: 'nhi.dev', version: 'v1alpha1', plural: 'clustercredentialproviders' };
  for (const provider of providers) {
    const name = provider.metadata?.name ?? '';
    const live = (await custom.getClusterCustomObject({ ...api, name }).catch(() => undefined)) as
      | { spec?: Spec }
      | undefined;
    const wanted = where((provider as { spec?: Spec }).spec);
    if (!live || where(live.spec) === wanted) continue;
    await custom.deleteClusterCustomObject({ ...api, name });
    for (
      let i = 0;
      i < 40 && (await custom.getClusterCustomObject({ ...api, name }).catch(() => undefined));
      i++
    )
      await sleep(250);
    log(`  provider ${name} moved from ${where(live.spec)} to ${wanted} (the same backend): re-created`);
  }
}

/** A second `npm run demo` starts from a clean slate: identities left by an interrupted run are offboarded first. */
async function cleanupPreviousRun(identities: Identities, apps: k8s.AppsV1Api, keys: Key[]): Promise<void> {
  await Promise.all(
    keys.map(async (key) => {
      if (!(await identities.delete(key))) return;
      for (let i = 0; i < 120 && (await identities.get(key)); i++) await sleep(250);
      await apps.deleteNamespacedDeployment(key).catch(() => undefined);
    }),
  );
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'bring up the local environment and walk identities through their whole lifecycle on Kubernetes, AWS (emulated) and OpenBao',
    )
    .action(async () => {
      await runDemo();
    });
}
