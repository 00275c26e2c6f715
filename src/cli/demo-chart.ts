// The demo's operator as a Pod, when the dev node runs (docs/node.md): the Helm chart installed into
// the dev cluster with the operator image built here (localhost/nhi/nhi-operator:dev, imported into
// the node's containerd, imagePullPolicy Never), 2 replicas with leader election and the chart's
// restricted security context. From inside the cluster the operator reaches OpenBao and moto at the
// node's bridge address (node-proxy forwards them), logs in to OpenBao with its own projected
// ServiceAccount token (the production path: a login role bound to its ServiceAccount and exactly
// operatorPolicy()), and signs its calls to moto with the environment's generated keys, read from a
// Secret. Nothing here prints a token or key.

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { repoRoot } from '../dev/components.ts';
import type { DevEnvironment } from '../dev/environment.ts';
import { applyObjects } from '../dev/install.ts';
import { processesRunning } from '../dev/node/host.ts';
import { OPERATOR_IMAGE, operatorImageArchive } from '../dev/node/images.ts';
import { type DevNode, importImage } from '../dev/node/node.ts';
import { operatorPolicy } from '../providers/vault/operator-policy.ts';
import { baoCall } from './demo-backends.ts';

/** The release the demo installs; the Lease has the chart's default name. */
export const DEMO_RELEASE = { name: 'nhi-operator', namespace: 'nhi-system', lease: 'nhi-operator' };
/** The operator's own OpenBao login role and policy, outside the nhi- prefix it manages (docs/vault.md). */
export const OPERATOR_VAULT_ROLE = 'nhi_operator';
/** Where the chart mounts the operator's projected token for OpenBao (values vaultToken). */
const VAULT_TOKEN_PATH = '/var/run/secrets/nhi-operator/vault/token';
const VAULT_AUDIENCE = 'vault';
const AWS_KEYS_SECRET = 'nhi-operator-aws';
/** Pod annotation naming the imported image archive: a rebuilt image rolls the operator's pods. */
const IMAGE_ARCHIVE_ANNOTATION = 'nhi.dev/dev-image-archive';

type Log = (line: string) => void;

/** The vault provider's `auth` for the operator in the cluster: its own projected token, role nhi_operator. */
export function inClusterVaultAuth(env: DevEnvironment) {
  return {
    kubernetes: {
      role: OPERATOR_VAULT_ROLE,
      mount: env.bao.kubernetesAuthMount,
      tokenPath: VAULT_TOKEN_PATH,
    },
  };
}

/** What the operator pods are and do, printed by the demo. */
export interface OperatorPods {
  leader: { namespace: string; name: string; uid: string; node: string; serviceAccount: string };
  standby: string[];
  /** The leader's audit trail, read on the host from its emptyDir in the kubelet's root dir. */
  auditLog: string;
}

/** helm from the environment's components, with its caches under `stateDir`, never in the home folder. */
function helm(env: DevEnvironment, stateDir: string, args: string[]): Promise<string> {
  const home = join(stateDir, 'helm');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const childEnv = {
    ...process.env,
    KUBECONFIG: env.kubeconfigPath,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(join(env.binDir, 'helm'), args, { env: childEnv, cwd: repoRoot });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`helm ${args[0]}: exit ${code}: ${out.trim().slice(0, 600)}`)),
    );
  });
}

/** The platform's part in OpenBao: the operator's policy (exactly operatorPolicy()) and its login role. */
async function operatorVaultLogin(env: DevEnvironment): Promise<void> {
  const policy = operatorPolicy({
    kvMount: 'secret',
    kubernetesAuthMount: env.bao.kubernetesAuthMount,
    ...(env.database ? { databaseMount: env.database.mount } : {}),
  });
  const written = await baoCall(env, env.bao.token, 'PUT', `sys/policies/acl/${OPERATOR_VAULT_ROLE}`, {
    policy,
  });
  if (written.status !== 204) throw new Error(`OpenBao operator policy: HTTP ${written.status}`);
  const role = await baoCall(
    env,
    env.bao.token,
    'POST',
    `auth/${env.bao.kubernetesAuthMount}/role/${OPERATOR_VAULT_ROLE}`,
    {
      bound_service_account_names: [DEMO_RELEASE.name],
      bound_service_account_namespaces: [DEMO_RELEASE.namespace],
      audience: VAULT_AUDIENCE,
      token_policies: [OPERATOR_VAULT_ROLE],
      token_ttl: '10m',
    },
  );
  if (role.status !== 204) throw new Error(`OpenBao operator login role: HTTP ${role.status}`);
}

/** The chart's values for the dev node: the local image, the providers, and what the demo needs. */
function chartValues(env: DevEnvironment, archive: string) {
  const fromSecret = (name: string) => ({
    name,
    valueFrom: { secretKeyRef: { name: AWS_KEYS_SECRET, key: name } },
  });
  return {
    image: { repository: OPERATOR_IMAGE.repository, tag: OPERATOR_IMAGE.tag, pullPolicy: 'Never' },
    podAnnotations: { [IMAGE_ARCHIVE_ANNOTATION]: basename(archive, '.tar') },
    operator: {
      providers: ['aws', 'vault'],
      resyncPeriod: '2s', // as the host operator of the demo: the shortened grace periods are seen at once
      extraEnv: [
        fromSecret('AWS_ACCESS_KEY_ID'),
        fromSecret('AWS_SECRET_ACCESS_KEY'),
        { name: 'AWS_REGION', value: env.aws.region },
      ],
    },
    vaultToken: { enabled: true, audience: VAULT_AUDIENCE },
    // The demo verifies the leader's own file from its first record; the chart's default anchors the
    // chain in the cluster, so a new leader continues it (docs/audit.md).
    auditLog: { anchor: false },
    terminationGracePeriodSeconds: 5,
    // The demo applied the CRDs, both admission policies and the default IdentityPolicy already
    // (installOperatorManifests, the same files): the release does not take them over, so
    // uninstalling it leaves them.
    admissionPolicy: { enabled: false },
    controls: { admissionPolicy: false },
    defaultPolicy: { enabled: false },
  };
}

/**
 * Imports the operator image, installs (or upgrades) the chart with it and waits until both pods are
 * Ready and one holds the Lease. Stops a host-process operator of an earlier demo run first.
 */
export async function installOperatorChart(
  kc: k8s.KubeConfig,
  env: DevEnvironment,
  node: DevNode,
  stateDir: string,
  log: Log,
): Promise<OperatorPods> {
  let t0 = Date.now();
  const archive = operatorImageArchive();
  const built = Date.now() - t0;
  t0 = Date.now();
  const fresh = importImage(env.dir, archive);
  log(
    `  image ${OPERATOR_IMAGE.repository}:${OPERATOR_IMAGE.tag}: built or cached in ${(built / 1000).toFixed(1)} s (npm ci --omit=dev, tsc, as the Dockerfile), ${fresh ? `imported into the node's containerd in ${((Date.now() - t0) / 1000).toFixed(1)} s` : 'already imported'}`,
  );

  await operatorVaultLogin(env);
  await applyObjects(kc, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEMO_RELEASE.namespace } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: AWS_KEYS_SECRET, namespace: DEMO_RELEASE.namespace },
      stringData: { AWS_ACCESS_KEY_ID: env.aws.accessKeyId, AWS_SECRET_ACCESS_KEY: env.aws.secretAccessKey },
    } as k8s.KubernetesObject,
  ]);
  const valuesFile = join(stateDir, 'nhi-operator-values.json');
  writeFileSync(valuesFile, JSON.stringify(chartValues(env, archive), null, 2), { mode: 0o600 });
  t0 = Date.now();
  await helm(env, stateDir, [
    'upgrade',
    '--install',
    DEMO_RELEASE.name,
    join(repoRoot, 'charts', 'nhi-operator'),
    '-n',
    DEMO_RELEASE.namespace,
    '--skip-crds',
    '--take-ownership', // the cluster-scoped RBAC of an earlier, interrupted install
    '-f',
    valuesFile,
    '--wait',
    '--timeout',
    '120s',
  ]);
  log(
    `  helm upgrade --install ${DEMO_RELEASE.name} charts/nhi-operator -n ${DEMO_RELEASE.namespace} (image.pullPolicy=Never, vaultToken.enabled): both pods Ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  const pods = await leaderPod(kc, node);
  log(
    `  leader: pod ${pods.leader.namespace}/${pods.leader.name} on ${pods.leader.node} holds Lease ${DEMO_RELEASE.namespace}/${DEMO_RELEASE.lease}; standby: ${pods.standby.join(', ') || 'none'}`,
  );
  return pods;
}

/** Waits until a Ready pod of the release holds the Lease; that pod and the others. */
async function leaderPod(kc: k8s.KubeConfig, node: DevNode, timeoutMs = 60_000): Promise<OperatorPods> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const lease = await coordination
      .readNamespacedLease({ namespace: DEMO_RELEASE.namespace, name: DEMO_RELEASE.lease })
      .catch(() => undefined);
    const holder = (lease?.spec?.holderIdentity ?? '').split('_')[0] ?? ''; // <pod name>_<random>
    const pods = (
      await core.listNamespacedPod({
        namespace: DEMO_RELEASE.namespace,
        labelSelector: `app.kubernetes.io/instance=${DEMO_RELEASE.name}`,
      })
    ).items.filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running');
    const leader = pods.find((p) => p.metadata?.name === holder);
    if (leader) {
      const uid = leader.metadata?.uid ?? '';
      return {
        leader: {
          namespace: DEMO_RELEASE.namespace,
          name: holder,
          uid,
          node: leader.spec?.nodeName ?? '',
          serviceAccount: leader.spec?.serviceAccountName ?? '',
        },
        standby: pods.map((p) => p.metadata?.name ?? '').filter((name) => name !== holder),
        auditLog: join(
          node.stateDir,
          'kubelet',
          'pods',
          uid,
          'volumes',
          'kubernetes.io~empty-dir',
          'audit-log',
          'audit.jsonl',
        ),
      };
    }
    await sleep(250);
  }
  throw new Error(
    `no pod of ${DEMO_RELEASE.namespace}/${DEMO_RELEASE.name} holds the Lease within ${timeoutMs / 1000}s: kubectl logs -n ${DEMO_RELEASE.namespace} -l app.kubernetes.io/instance=${DEMO_RELEASE.name}`,
  );
}

/** The leader pod's restricted security context: as specified, and as its process runs (read from /proc). */
export async function describeLeader(kc: k8s.KubeConfig, pods: OperatorPods, log: Log): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const pod = await core.readNamespacedPod({ namespace: pods.leader.namespace, name: pods.leader.name });
  const podContext = pod.spec?.securityContext;
  const container = pod.spec?.containers.find((c) => c.name === 'operator');
  const context = container?.securityContext;
  log(
    `  ServiceAccount ${pods.leader.namespace}/${pods.leader.serviceAccount} (the chart's least-privilege ClusterRole); image ${container?.image}, pullPolicy ${container?.imagePullPolicy}`,
  );
  log(
    `  securityContext: runAsNonRoot=${podContext?.runAsNonRoot}, runAsUser=${podContext?.runAsUser}, seccomp ${podContext?.seccompProfile?.type}, readOnlyRootFilesystem=${context?.readOnlyRootFilesystem}, allowPrivilegeEscalation=${context?.allowPrivilegeEscalation}, capabilities drop ${context?.capabilities?.drop?.join(',')}`,
  );
  const running = operatorProcess(pods.leader.uid);
  log(
    running
      ? `  its process (pid ${running.pid}, from /proc): uid ${running.uid}, CapEff ${running.capEff}, NoNewPrivs ${running.noNewPrivs}, Seccomp ${running.seccomp} (filter), root filesystem ${running.rootReadOnly ? 'read-only' : 'writable'}`
      : '  its process was not found in /proc (the demo reads it only on the node it runs)',
  );
}

/** The operator process of pod `uid` on this host (the dev node), read from /proc. */
function operatorProcess(
  uid: string,
):
  | { pid: number; uid: string; capEff: string; noNewPrivs: string; seccomp: string; rootReadOnly: boolean }
  | undefined {
  const marks = [`pod${uid}`, `pod${uid.replace(/-/g, '_')}`];
  const found = processesRunning(`/usr/local/bin/${OPERATOR_IMAGE.entrypoint.join(' ')}`).find((p) =>
    marks.some((mark) => p.cgroup.includes(mark)),
  );
  if (found)
    return {
      pid: found.pid,
      uid: (found.status.Uid ?? '').split('\t')[0] ?? '',
      capEff: found.status.CapEff ?? '',
      noNewPrivs: found.status.NoNewPrivs ?? '',
      seccomp: found.status.Seccomp ?? '',
      rootReadOnly: found.rootMountOptions.includes('ro'),
    };
  return undefined;
}

/** Removes the demo's release, its namespace and the operator's OpenBao role and policy (tests). */
export async function uninstallOperatorChart(kc: k8s.KubeConfig, env: DevEnvironment, stateDir: string) {
  await helm(env, stateDir, [
    'uninstall',
    DEMO_RELEASE.name,
    '-n',
    DEMO_RELEASE.namespace,
    '--wait',
    '--timeout',
    '60s',
  ]).catch(() => undefined);
  await kc
    .makeApiClient(k8s.CoreV1Api)
    .deleteNamespace({ name: DEMO_RELEASE.namespace })
    .catch(() => undefined);
  await baoCall(
    env,
    env.bao.token,
    'DELETE',
    `auth/${env.bao.kubernetesAuthMount}/role/${OPERATOR_VAULT_ROLE}`,
  );
  await baoCall(env, env.bao.token, 'DELETE', `sys/policies/acl/${OPERATOR_VAULT_ROLE}`);
}
