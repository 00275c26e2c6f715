// The demo's cloud part, on the dev environment's moto and OpenBao: ClusterCredentialProviders for
// them (AWS in IRSA mode against the local apiserver's issuer; OpenBao with the operator reading its
// token from a file), the identity crm-sync in the development namespace agents-dev with an AWS
// scope, a Vault scope and a Vault KV secret, and what its workload and an auditor see of them:
// the IAM role and its trust policy, and the workload's ServiceAccount token logging in to OpenBao.
// When the environment has PostgreSQL, crm-sync also gets read-only logins to its namespace's schema
// through OpenBao's database secrets engine, which the demo queries with psql.

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListRolePoliciesCommand,
  NoSuchEntityException,
} from '@aws-sdk/client-iam';
import type * as k8s from '@kubernetes/client-node';
import { Marks } from '../api/v1alpha1/annotations.ts';
import { databaseSchemaOfNamespace } from '../api/v1alpha1/defaults.ts';
import { VAULT_KV_ROOT } from '../api/v1alpha1/managed-secrets.ts';
import { type AgentIdentity, API_VERSION } from '../api/v1alpha1/types.ts';
import type { DevEnvironment } from '../dev/environment.ts';
import { issuerHostOf } from '../governance/inventory/index.ts';

export const CRM_NAMESPACE = 'agents-dev';
export const CRM_NAME = 'crm-sync';
const ACCOUNT_ID = '123456789012';
const WEBHOOK_SECRET = 'webhook-key';
/** What the platform keeps for the team in Vault, under the namespace's own path. */
export const CRM_SETTINGS_PATH = `secret/data/${CRM_NAMESPACE}/crm/settings`;
/** Another tenant's path: outside crm-sync's scope. */
export const OTHER_TENANT_PATH = 'secret/data/agents/support/settings';
export const CRM_SECRET_PATH = `secret/data/${VAULT_KV_ROOT}/${CRM_NAMESPACE}/${CRM_NAME}/${WEBHOOK_SECRET}`;
/** The namespace's own PostgreSQL schema (the default tenancy rule), and its table crm-sync reads. */
export const CRM_SCHEMA = databaseSchemaOfNamespace(CRM_NAMESPACE);
export const CRM_TABLE = 'closed_deals';
/** Another tenant's schema in the same database: outside crm-sync's reach. */
export const OTHER_SCHEMA = 'agents';

/** Where the operator reaches the backends from inside the cluster, and how it logs in to OpenBao there. */
export interface InClusterRoutes {
  baoAddr: string;
  awsEndpoint: string;
  vaultAuth: Record<string, unknown>;
}

/**
 * The ClusterCredentialProviders `aws` and `vault` for the dev environment, usable from agents-dev
 * only. A host-process operator reads the OpenBao dev root token from a file written here (mode
 * 0600); an operator in the cluster (`inCluster`) reaches the backends at the node's bridge address
 * and logs in to OpenBao with its own ServiceAccount token.
 */
export function providerObjects(
  env: DevEnvironment,
  stateDir: string,
  inCluster?: InClusterRoutes,
): k8s.KubernetesObject[] {
  let auth: Record<string, unknown>;
  if (inCluster) auth = inCluster.vaultAuth;
  else {
    const tokenFile = join(stateDir, 'openbao-operator-token');
    writeFileSync(tokenFile, env.bao.token, { mode: 0o600 });
    auth = { tokenFile: { path: tokenFile } };
  }
  const allowedNamespaces = { names: [CRM_NAMESPACE] };
  const providers: Array<k8s.KubernetesObject & { spec: unknown }> = [
    {
      apiVersion: API_VERSION,
      kind: 'ClusterCredentialProvider',
      metadata: { name: 'aws' },
      spec: {
        aws: {
          region: env.aws.region,
          accountId: ACCOUNT_ID,
          endpoint: inCluster?.awsEndpoint ?? env.aws.endpoint,
          rolePath: '/nhi/',
          roleNamePrefix: 'nhi-',
          mode: 'irsa',
          irsa: {
            oidcProviderArn: `arn:aws:iam::${ACCOUNT_ID}:oidc-provider/${issuerHostOf(env.serviceAccountIssuer)}`,
            issuer: env.serviceAccountIssuer,
          },
          secretsManager: { recoveryWindowDays: 7, forceDelete: true },
        },
        allowedNamespaces,
      },
    },
    {
      apiVersion: API_VERSION,
      kind: 'ClusterCredentialProvider',
      metadata: { name: 'vault' },
      spec: {
        vault: {
          address: inCluster?.baoAddr ?? env.bao.addr,
          kubernetesAuthMount: env.bao.kubernetesAuthMount,
          kvMount: 'secret',
          tokenMaxTTL: '1h',
          ...(env.database ? { database: { ...env.database, maxTTL: '1h' } } : {}),
          auth,
        },
        allowedNamespaces,
      },
    },
  ];
  return providers;
}

/**
 * agents-dev (labelled development, as the platform would) with the Deployment crm-sync and its
 * AgentIdentity: read the CRM secrets in AWS (no wildcard resource), read the team's Vault path, and
 * a webhook key in Vault KV that the operator generates and rotates.
 */
export function crmSyncObjects(
  periods: { orphanGracePeriod: string; quarantinePeriod: string },
  withDatabase = false,
) {
  const identity: AgentIdentity = {
    apiVersion: API_VERSION,
    kind: 'AgentIdentity',
    metadata: { name: CRM_NAME, namespace: CRM_NAMESPACE },
    spec: {
      owner: { team: 'revenue-ops', contact: '#revenue-ops' },
      purpose: 'Sync closed deals from the CRM into the billing system',
      environment: 'development',
      workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: CRM_NAME },
      serviceAccountName: CRM_NAME,
      ttl: '720h',
      credentialTTL: '15m',
      ...periods,
      scopes: [
        {
          provider: 'aws',
          actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          resources: [`arn:aws:secretsmanager:us-east-1:${ACCOUNT_ID}:secret:crm/*`],
        },
        {
          provider: 'vault',
          paths: [{ path: `secret/data/${CRM_NAMESPACE}/crm/*`, capabilities: ['read'] }],
        },
        ...(withDatabase
          ? [
              {
                provider: 'vault' as const,
                database: {
                  grants: [{ schema: CRM_SCHEMA, tables: [CRM_TABLE], privileges: ['SELECT' as const] }],
                  readOnly: true,
                },
              },
            ]
          : []),
      ],
      secrets: [
        {
          name: WEBHOOK_SECRET,
          backend: 'vault-kv',
          generator: { type: 'hmac', length: 32 },
          rotationInterval: '720h',
        },
      ],
      impact: { dataClassification: 'confidential' },
    },
  };
  const labels = { 'app.kubernetes.io/name': CRM_NAME };
  const deployment: k8s.V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: CRM_NAME, namespace: CRM_NAMESPACE, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: CRM_NAME,
          containers: [{ name: 'sync', image: 'registry.example.com/crm-sync:2.0.1' }],
        },
      },
    },
  };
  const namespace: k8s.V1Namespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: CRM_NAMESPACE, labels: { [Marks.environment]: 'development' } },
  };
  return [namespace, deployment, identity] as k8s.KubernetesObject[];
}

export interface BaoAnswer {
  status: number;
  json: {
    auth?: { client_token?: string; policies?: string[] };
    data?: { data?: Record<string, string> };
    errors?: string[];
  };
}

/** One call to OpenBao's HTTP API; the token is only ever sent, never printed. */
export async function baoCall(
  env: DevEnvironment,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<BaoAnswer> {
  const response = await fetch(`${env.bao.addr}/v1/${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token && { 'x-vault-token': token }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as BaoAnswer['json']) : {} };
}

/** The platform's part: the team's settings under secret/data/agents-dev/, written with the root token. */
export async function seedTeamSettings(env: DevEnvironment): Promise<void> {
  const answer = await baoCall(env, env.bao.token, 'POST', CRM_SETTINGS_PATH, {
    data: { endpoint: 'https://crm.example.com/api', batchSize: '200' },
  });
  if (answer.status !== 200) throw new Error(`OpenBao POST ${CRM_SETTINGS_PATH}: HTTP ${answer.status}`);
}

/** What the workload does at start: a ServiceAccount token (TokenRequest), then the kubernetes login. */
export async function workloadLogin(
  core: k8s.CoreV1Api,
  env: DevEnvironment,
  role: string,
): Promise<{ jwt: string; login: BaoAnswer }> {
  const request = await core.createNamespacedServiceAccountToken({
    namespace: CRM_NAMESPACE,
    name: CRM_NAME,
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const jwt = request.status?.token ?? '';
  if (!jwt) throw new Error(`TokenRequest for ${CRM_NAMESPACE}/${CRM_NAME} returned no token`);
  return {
    jwt,
    login: await baoCall(env, '', 'POST', `auth/${env.bao.kubernetesAuthMount}/login`, { role, jwt }),
  };
}

/** psql against the environment's PostgreSQL as `user`; the first line of its answer (the password only in the child's env). */
export function psql(
  env: DevEnvironment,
  user: { username: string; password: string },
  sql: string,
): Promise<{ ok: boolean; text: string }> {
  const pg = env.postgres;
  if (!pg) return Promise.resolve({ ok: false, text: 'no PostgreSQL in this environment' });
  const args = ['-h', pg.host, '-p', String(pg.port), '-U', user.username, '-d', pg.database];
  return new Promise((resolve) => {
    execFile(
      `${pg.binDir}/psql`,
      [...args, '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-c', sql],
      { env: { PATH: process.env.PATH ?? '', PGPASSWORD: user.password, PGCONNECT_TIMEOUT: '5' } },
      (error, stdout, stderr) => {
        const text = (error ? stderr : stdout).trim().split('\n')[0] ?? '';
        resolve({ ok: !error, text: text.replace(/^psql: (error: )?/, '') });
      },
    );
  });
}

/** The platform's part: the team's schema with a table of closed deals, and another tenant's schema. */
export async function seedKnowledgeBase(env: DevEnvironment): Promise<void> {
  const pg = env.postgres;
  if (!pg) return;
  const admin = { username: pg.superuser, password: pg.password };
  for (const sql of [
    `CREATE SCHEMA IF NOT EXISTS ${CRM_SCHEMA}`,
    `CREATE TABLE IF NOT EXISTS ${CRM_SCHEMA}.${CRM_TABLE} (id int PRIMARY KEY, customer text, amount int)`,
    `INSERT INTO ${CRM_SCHEMA}.${CRM_TABLE} VALUES (1, 'Acme', 1200), (2, 'Globex', 800) ON CONFLICT DO NOTHING`,
    `CREATE SCHEMA IF NOT EXISTS ${OTHER_SCHEMA}`,
    `CREATE TABLE IF NOT EXISTS ${OTHER_SCHEMA}.tickets (id int PRIMARY KEY)`,
  ]) {
    const answer = await psql(env, admin, sql);
    if (!answer.ok) throw new Error(`seeding PostgreSQL: ${answer.text}`);
  }
}

/** The workload reads its own login from <mount>/creds/<role>; the answer is never printed. */
export async function databaseLogin(
  env: DevEnvironment,
  token: string,
  role: string,
): Promise<{ status: number; username?: string; password?: string; leaseSeconds?: number }> {
  const response = await fetch(`${env.bao.addr}/v1/${env.database?.mount ?? 'database'}/creds/${role}`, {
    headers: { 'x-vault-token': token },
  });
  const body = (await response.json().catch(() => ({}))) as {
    data?: { username?: string; password?: string };
    lease_duration?: number;
  };
  if (!response.ok || !body.data?.username || !body.data.password) return { status: response.status };
  return {
    status: response.status,
    username: body.data.username,
    password: body.data.password,
    ...(body.lease_duration === undefined ? {} : { leaseSeconds: body.lease_duration }),
  };
}

export function iamClient(env: DevEnvironment): IAMClient {
  return new IAMClient({
    region: env.aws.region,
    endpoint: env.aws.endpoint,
    credentials: { accessKeyId: env.aws.accessKeyId, secretAccessKey: env.aws.secretAccessKey },
  });
}

export interface IrsaRole {
  arn: string;
  trustedSubject?: string;
  trustedAudience?: string;
  federated?: string;
  inlinePolicies: string[];
  /** The actions the scopes policy allows. */
  allowed: string[];
}

interface PolicyDocument {
  Statement: Array<{
    Effect: string;
    Action: string | string[];
    Principal?: { Federated?: string };
    Condition?: Record<string, Record<string, string>>;
  }>;
}

const decodeDocument = (text: string | undefined) =>
  JSON.parse(decodeURIComponent(text ?? '{"Statement":[]}')) as PolicyDocument;

/** The role as IAM (moto) holds it: who may assume it, and what it may do. */
export async function readIrsaRole(iam: IAMClient, roleName: string, issuer: string): Promise<IrsaRole> {
  const { Role } = await iam.send(new GetRoleCommand({ RoleName: roleName }));
  const trust = decodeDocument(Role?.AssumeRolePolicyDocument).Statement[0];
  const host = issuerHostOf(issuer);
  const { PolicyNames = [] } = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }));
  const scopes = PolicyNames.includes('nhi-scopes')
    ? decodeDocument(
        (await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: 'nhi-scopes' })))
          .PolicyDocument,
      )
    : { Statement: [] };
  const role: IrsaRole = {
    arn: Role?.Arn ?? '',
    inlinePolicies: PolicyNames,
    allowed: scopes.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => [s.Action].flat()),
  };
  const equals = trust?.Condition?.StringEquals ?? {};
  const subject = equals[`${host}:sub`];
  const audience = equals[`${host}:aud`];
  if (subject) role.trustedSubject = subject;
  if (audience) role.trustedAudience = audience;
  if (trust?.Principal?.Federated) role.federated = trust.Principal.Federated;
  return role;
}

export async function roleExists(iam: IAMClient, roleName: string): Promise<boolean> {
  try {
    await iam.send(new GetRoleCommand({ RoleName: roleName }));
    return true;
  } catch (error) {
    if (error instanceof NoSuchEntityException) return false;
    throw error;
  }
}
