// The local environment: etcd + kube-apiserver + kube-controller-manager (a real control plane
// without kubelet or scheduler), an OpenBao dev server with the kubernetes auth method configured
// against that apiserver, moto_server for IAM, STS and Secrets Manager, and (when Debian's
// PostgreSQL is installed) a private PostgreSQL with OpenBao's database secrets engine on it. All on free loopback
// ports under one state folder; `stopEnvironment` leaves no process behind.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { componentPaths, missingComponents } from './components.ts';
import { readNode, stopNode } from './node/node.ts';
import { generatePki, kubeconfigYaml, randomToken } from './pki.ts';
import { type DevPostgres, postgresBinDir, startPostgres } from './postgres.ts';
import {
  freePort,
  httpOk,
  httpsGet,
  isAlive,
  type StartedProcess,
  startProcess,
  stopProcesses,
  waitUntil,
} from './processes.ts';

export interface DevEnvironment {
  dir: string;
  kubeconfigPath: string;
  apiserverUrl: string;
  caPem: string;
  /**
   * The apiserver's audit log (Metadata level, AgentIdentity writes only): where the admission
   * policy nhi-identity-controls records who used a protected control. Never request bodies.
   */
  apiserverAuditLog: string;
  /** OpenBao's file audit device (declared in its config): tokens and response data HMAC'd. */
  baoAuditLog: string;
  serviceAccountIssuer: string;
  adminToken: string;
  bao: { addr: string; token: string; kubernetesAuthMount: string };
  aws: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  /** Absent when PostgreSQL is not installed (scripts/build-components.sh installs it). */
  postgres?: DevPostgres & { binDir: string };
  /** OpenBao's database secrets engine on `postgres`: its mount and connection name. */
  database?: { mount: string; connection: string };
  binDir: string;
  processes: StartedProcess[];
  startedAt: string;
}

export type Progress = (message: string) => void;

/** The dev environment's database secrets engine: mount and connection (the ClusterCredentialProvider names them). */
export const DEV_DATABASE = { mount: 'database', connection: 'nhi-dev-postgres' } as const;

const CONTROLLERS = [
  'garbage-collector-controller',
  'deployment-controller',
  'replicaset-controller',
  'statefulset-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  'clusterrole-aggregation-controller',
  'validatingadmissionpolicy-status-controller',
  // Removes the not-ready taint TaintNodesByCondition puts on a new Node (the dev node, docs/node.md).
  'node-lifecycle-controller',
];

/**
 * The apiserver's audit policy: metadata (who, what, the admission policies' audit annotations) of
 * writes to AgentIdentities, and of every request made by a ServiceAccount outside kube-system (the
 * workloads' activity `nhictl activity` attributes). Metadata level carries no request or response body.
 */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch]
    resources:
      - group: nhi.dev
        resources: [agentidentities]
  - level: None
    userGroups: ['system:serviceaccounts:kube-system']
  - level: Metadata
    userGroups: ['system:serviceaccounts']
  - level: None
`;

/** OpenBao 2.x refuses audit devices through the API: they are declared in its configuration. */
function baoAuditConfig(file: string): string {
  return `audit "file" "nhi-file" {\n  options {\n    file_path = ${JSON.stringify(file)}\n    mode = "0600"\n  }\n}\n`;
}

export function stateFile(dir: string): string {
  return join(dir, 'state.json');
}

export function readEnvironment(dir: string): DevEnvironment | undefined {
  if (!existsSync(stateFile(dir))) return undefined;
  return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as DevEnvironment;
}

/** Processes added after start (the demo's operator) that the environment's health does not depend on. */
const EXTRAS = new Set(['nhi-operator']);

export function isRunning(env: DevEnvironment): boolean {
  const core = env.processes.filter((p) => !EXTRAS.has(p.name));
  return core.length > 0 && core.every((p) => isAlive(p.pid));
}

/** Records another process (the operator) in the environment, replacing an earlier one of that name. */
export async function addProcess(dir: string, started: StartedProcess): Promise<void> {
  const env = readEnvironment(dir);
  if (!env) throw new Error('the dev environment is not running: npx nhictl dev up');
  const previous = env.processes.filter((p) => p.name === started.name);
  await stopProcesses(previous);
  env.processes = [...env.processes.filter((p) => p.name !== started.name), started];
  writeFileSync(stateFile(dir), JSON.stringify(env, null, 2), { mode: 0o600 });
}

/** Stops and forgets an extra process of the environment (the host-process operator); false when none ran. */
export async function removeProcess(dir: string, name: string): Promise<boolean> {
  const env = readEnvironment(dir);
  const previous = env?.processes.filter((p) => p.name === name) ?? [];
  if (!env || previous.length === 0) return false;
  await stopProcesses(previous);
  env.processes = env.processes.filter((p) => p.name !== name);
  writeFileSync(stateFile(dir), JSON.stringify(env, null, 2), { mode: 0o600 });
  return true;
}

export async function startEnvironment(dir: string, progress: Progress = () => {}): Promise<DevEnvironment> {
  const paths = componentPaths();
  const missing = missingComponents(paths);
  if (missing.length > 0) {
    throw new Error(`components not built yet (run scripts/build-components.sh): ${missing.join(', ')}`);
  }
  const previous = readEnvironment(dir);
  if (readNode(dir)) await stopNode(dir, previous);
  if (previous) await stopProcesses(previous.processes);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  mkdirSync(join(dir, 'pki'), { recursive: true, mode: 0o700 });

  const started: StartedProcess[] = [];
  const record = (p: StartedProcess) => {
    started.push(p);
    writeFileSync(join(dir, 'pids.json'), JSON.stringify(started));
    return p;
  };
  try {
    progress('generating PKI, service-account signing keys and tokens');
    const pki = generatePki(join(dir, 'pki'));
    const [etcdPort, etcdPeerPort, apiPort, baoPort, motoPort, pgPort] = (await Promise.all(
      Array.from({ length: 6 }, () => freePort()),
    )) as [number, number, number, number, number, number];
    const pgBinDir = postgresBinDir();

    progress('starting etcd, OpenBao and moto');
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = record(
      startProcess(
        'etcd',
        paths.etcd,
        [
          '--name=nhi-dev',
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
          `--initial-cluster=nhi-dev=http://127.0.0.1:${etcdPeerPort}`,
          '--unsafe-no-fsync',
          '--log-level=warn',
        ],
        { dir },
      ),
    );
    const baoToken = randomToken();
    const baoAddr = `http://127.0.0.1:${baoPort}`;
    const baoAuditLog = join(dir, 'logs', 'openbao-audit.log');
    const baoConfig = join(dir, 'openbao-audit.hcl');
    writeFileSync(baoConfig, baoAuditConfig(baoAuditLog));
    const bao = record(
      startProcess(
        'openbao',
        paths.bao,
        [
          'server',
          '-dev',
          `-dev-root-token-id=${baoToken}`,
          `-dev-listen-address=127.0.0.1:${baoPort}`,
          `-config=${baoConfig}`,
        ],
        { dir, env: { ...process.env, HOME: dir, BAO_ADDR: baoAddr } },
      ),
    );
    const awsEndpoint = `http://127.0.0.1:${motoPort}`;
    const moto = record(
      startProcess('moto', paths.motoServer, ['-H', '127.0.0.1', '-p', String(motoPort)], { dir }),
    );

    const postgresStart = pgBinDir
      ? startPostgres(dir, pgPort, pgBinDir, record)
      : Promise.resolve(undefined);
    // Handled where it is awaited; this keeps an early failure from surfacing as unhandled.
    postgresStart.catch(() => {});

    await waitUntil('etcd', () => httpOk(`${etcdUrl}/health`), { timeoutMs: 30_000, process: etcd });

    progress('starting kube-apiserver');
    const apiserverUrl = `https://127.0.0.1:${apiPort}`;
    const auditPolicy = join(dir, 'audit-policy.yaml');
    writeFileSync(auditPolicy, AUDIT_POLICY);
    const apiserverAuditLog = join(dir, 'logs', 'kube-apiserver-audit.log');
    const apiserver = record(
      startProcess(
        'kube-apiserver',
        paths.kubeApiserver,
        [
          `--etcd-servers=${etcdUrl}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          `--secure-port=${apiPort}`,
          `--tls-cert-file=${pki.servingCert}`,
          `--tls-private-key-file=${pki.servingKey}`,
          `--client-ca-file=${pki.caCert}`,
          `--token-auth-file=${pki.tokenFile}`,
          '--authorization-mode=RBAC',
          `--audit-policy-file=${auditPolicy}`,
          `--audit-log-path=${apiserverAuditLog}`,
          `--service-account-issuer=${apiserverUrl}`,
          `--service-account-key-file=${pki.saPublicKey}`,
          `--service-account-signing-key-file=${pki.saPrivateKey}`,
          '--service-cluster-ip-range=10.0.0.0/24',
          '--allow-privileged=true',
          '--endpoint-reconciler-type=none',
          '--profiling=false',
          `--cert-dir=${join(dir, 'pki')}`,
          // The dev node (docs/node.md): its kubelet trusts the dev CA and listens on its InternalIP.
          `--kubelet-client-certificate=${pki.kubeletClientCert}`,
          `--kubelet-client-key=${pki.kubeletClientKey}`,
          '--kubelet-preferred-address-types=InternalIP,Hostname',
        ],
        { dir },
      ),
    );
    const caPem = readFileSync(pki.caCert, 'utf8');
    await waitUntil(
      'kube-apiserver',
      async () =>
        (await httpsGet(`${apiserverUrl}/readyz`, { ca: caPem, token: pki.adminToken })).status === 200,
      { timeoutMs: 90_000, process: apiserver, intervalMs: 300 },
    );

    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfigPath,
      kubeconfigYaml({ server: apiserverUrl, caFile: pki.caCert, token: pki.adminToken, user: 'nhi-admin' }),
      { mode: 0o600 },
    );
    const kcmKubeconfig = join(dir, 'kube-controller-manager.kubeconfig');
    writeFileSync(
      kcmKubeconfig,
      kubeconfigYaml({
        server: apiserverUrl,
        caFile: pki.caCert,
        token: pki.controllerManagerToken,
        user: 'system:kube-controller-manager',
      }),
      { mode: 0o600 },
    );

    progress('starting kube-controller-manager');
    const kcm = record(
      startProcess(
        'kube-controller-manager',
        paths.kubeControllerManager,
        [
          `--kubeconfig=${kcmKubeconfig}`,
          `--authentication-kubeconfig=${kcmKubeconfig}`,
          `--authorization-kubeconfig=${kcmKubeconfig}`,
          '--leader-elect=false',
          '--secure-port=0',
          `--controllers=${CONTROLLERS.join(',')}`,
          `--service-account-private-key-file=${pki.saPrivateKey}`,
          `--root-ca-file=${pki.caCert}`,
          '--use-service-account-credentials=true',
          '--concurrent-gc-syncs=5',
        ],
        { dir },
      ),
    );
    await Promise.all([
      waitUntil('OpenBao', () => httpOk(`${baoAddr}/v1/sys/health`), { timeoutMs: 30_000, process: bao }),
      waitUntil('moto_server', () => httpOk(`${awsEndpoint}/moto-api/`), {
        timeoutMs: 60_000,
        process: moto,
      }),
      // The serviceaccount controller creates `default` in every namespace: proof the controllers run.
      waitUntil(
        'kube-controller-manager',
        async () =>
          (
            await httpsGet(`${apiserverUrl}/api/v1/namespaces/default/serviceaccounts/default`, {
              ca: caPem,
              token: pki.adminToken,
            })
          ).status === 200,
        { timeoutMs: 60_000, process: kcm, intervalMs: 300 },
      ),
    ]);

    progress('configuring OpenBao kubernetes auth against the apiserver');
    const { configureBaoKubernetesAuth } = await import('./bao-setup.ts');
    await configureBaoKubernetesAuth({
      baoAddr,
      baoToken,
      kubeconfigPath,
      apiserverUrl,
      caPem,
      mount: 'kubernetes',
    });

    const postgres = await postgresStart;
    const database = postgres ? DEV_DATABASE : undefined;
    if (postgres && pgBinDir) {
      progress('configuring the OpenBao database secrets engine against PostgreSQL');
      const { configureBaoDatabase } = await import('./bao-setup.ts');
      await configureBaoDatabase({ baoAddr, baoToken, binDir: pgBinDir, postgres, ...DEV_DATABASE });
    } else {
      progress('PostgreSQL not installed: no database secrets engine (scripts/build-components.sh)');
    }

    const env: DevEnvironment = {
      dir,
      kubeconfigPath,
      apiserverUrl,
      caPem,
      apiserverAuditLog,
      baoAuditLog,
      serviceAccountIssuer: apiserverUrl,
      adminToken: pki.adminToken,
      bao: { addr: baoAddr, token: baoToken, kubernetesAuthMount: 'kubernetes' },
      // moto accepts any credentials: these are generated per environment, never real keys.
      aws: {
        endpoint: awsEndpoint,
        region: 'us-east-1',
        accessKeyId: `AKIA${randomToken(12)
          .replace(/[^A-Z0-9]/gi, '')
          .toUpperCase()
          .slice(0, 16)
          .padEnd(16, 'X')}`,
        secretAccessKey: randomToken(30),
      },
      ...(postgres && pgBinDir ? { postgres: { ...postgres, binDir: pgBinDir } } : {}),
      ...(database ? { database } : {}),
      binDir: paths.binDir,
      processes: started,
      startedAt: new Date().toISOString(),
    };
    writeFileSync(stateFile(dir), JSON.stringify(env, null, 2), { mode: 0o600 });
    return env;
  } catch (error) {
    await stopProcesses(started);
    throw error;
  }
}

export async function stopEnvironment(dir: string): Promise<StartedProcess[]> {
  const env = readEnvironment(dir);
  // The dev node first, while the apiserver still answers (its pods are deleted through it).
  const node = readNode(dir);
  const nodeLeft = node ? await stopNode(dir, env) : [];
  if (nodeLeft.length > 0) console.warn(`the dev node left behind:\n  ${nodeLeft.join('\n  ')}`);
  let processes = env?.processes ?? [];
  if (processes.length === 0 && existsSync(join(dir, 'pids.json'))) {
    processes = JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as StartedProcess[];
  }
  await stopProcesses(processes);
  rmSync(stateFile(dir), { force: true });
  rmSync(join(dir, 'pids.json'), { force: true });
  return [...(node?.processes ?? []), ...processes];
}

/** Shell exports for the environment (the file `nhictl dev up` writes to .nhi/dev/env). */
export function envExports(env: DevEnvironment): string {
  const vars: Record<string, string> = {
    KUBECONFIG: env.kubeconfigPath,
    BAO_ADDR: env.bao.addr,
    BAO_TOKEN: env.bao.token,
    VAULT_ADDR: env.bao.addr,
    VAULT_TOKEN: env.bao.token,
    AWS_ENDPOINT_URL: env.aws.endpoint,
    AWS_REGION: env.aws.region,
    AWS_ACCESS_KEY_ID: env.aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: env.aws.secretAccessKey,
    NHI_BIN_DIR: env.binDir,
    ...(env.postgres
      ? {
          PGHOST: env.postgres.host,
          PGPORT: String(env.postgres.port),
          PGUSER: env.postgres.superuser,
          PGPASSWORD: env.postgres.password,
          PGDATABASE: env.postgres.database,
        }
      : {}),
  };
  return `${Object.entries(vars)
    .map(([key, value]) => `export ${key}='${value}'`)
    .join('\n')}\n`;
}
