// Makes OpenBao's kubernetes auth method usable against the local apiserver: a ServiceAccount
// allowed to call TokenReview (system:auth-delegator), a bound token for it, and the auth mount's
// config pointing at the apiserver with its CA. Also the database secrets engine against the dev
// PostgreSQL (configureBaoDatabase).

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';

export interface BaoKubernetesAuthOptions {
  baoAddr: string;
  baoToken: string;
  kubeconfigPath: string;
  apiserverUrl: string;
  caPem: string;
  mount: string;
}

const REVIEWER = { namespace: 'kube-system', name: 'openbao-token-reviewer' };

async function bao(
  options: { baoAddr: string; baoToken: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<void> {
  const response = await fetch(`${options.baoAddr}/v1/${path}`, {
    method,
    headers: { 'x-vault-token': options.baoToken, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok && response.status !== 204) {
    const text = await response.text();
    // OpenBao answers 400 "path is already in use" when the mount exists: that is fine.
    if (!(response.status === 400 && text.includes('already in use'))) {
      throw new Error(`OpenBao ${method} ${path}: HTTP ${response.status}`);
    }
  }
}

export async function configureBaoKubernetesAuth(options: BaoKubernetesAuthOptions): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(options.kubeconfigPath);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);

  await ignoreConflict(() =>
    core.createNamespacedServiceAccount({
      namespace: REVIEWER.namespace,
      body: { metadata: { name: REVIEWER.name } },
    }),
  );
  await ignoreConflict(() =>
    rbac.createClusterRoleBinding({
      body: {
        metadata: { name: REVIEWER.name },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'system:auth-delegator',
        },
        subjects: [{ kind: 'ServiceAccount', name: REVIEWER.name, namespace: REVIEWER.namespace }],
      },
    }),
  );
  const tokenRequest = await core.createNamespacedServiceAccountToken({
    namespace: REVIEWER.namespace,
    name: REVIEWER.name,
    body: { spec: { audiences: [], expirationSeconds: 7 * 24 * 3600 } },
  });
  const reviewerJwt = tokenRequest.status?.token;
  if (!reviewerJwt) throw new Error('TokenRequest for the OpenBao token reviewer returned no token');

  await bao(options, 'POST', `sys/auth/${options.mount}`, { type: 'kubernetes' });
  await bao(options, 'POST', `auth/${options.mount}/config`, {
    kubernetes_host: options.apiserverUrl,
    kubernetes_ca_cert: options.caPem,
    token_reviewer_jwt: reviewerJwt,
    disable_local_ca_jwt: true,
  });
  // The requested role of a login stays plain in the audit log, so a refused login is attributed.
  await bao(options, 'POST', `sys/auth/${options.mount}/tune`, { audit_non_hmac_request_keys: ['role'] });
}

async function ignoreConflict(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (error) {
    if (error instanceof k8s.ApiException && error.code === 409) return;
    throw error;
  }
}

export interface BaoDatabaseOptions {
  baoAddr: string;
  baoToken: string;
  /** The PostgreSQL bin folder (psql). */
  binDir: string;
  postgres: { host: string; port: number; superuser: string; password: string; database: string };
  /** The database secrets engine's mount, e.g. `database`. */
  mount: string;
  /** The connection's name under <mount>/config/. */
  connection: string;
}

/** The login OpenBao's connection uses; its password is rotated away at once (rotate-root). */
export const BAO_DATABASE_ADMIN = 'openbao_admin';

/**
 * The monitoring role of the dev engine (spec.vault.database.activity.role): its logins are members of
 * pg_monitor, so they read every session in pg_stat_activity, and nothing else. Outside nhi-*: the
 * operator must not be able to rewrite it.
 */
export const BAO_DATABASE_ACTIVITY_ROLE = 'nhi_activity';

/**
 * The database secrets engine against the dev PostgreSQL, as a platform team would set it up: a
 * dedicated admin login for OpenBao, the engine's mount, one connection that only `nhi-*` roles may
 * use, and rotate-root, so that only OpenBao knows the admin password from then on (the operator
 * never holds it: it writes roles, not connections).
 *
 * The admin is a superuser here: granting on tables in every tenant's schemas and terminating
 * sessions needs it or schema ownership with grant options (docs/database.md).
 */
export async function configureBaoDatabase(options: BaoDatabaseOptions): Promise<void> {
  const { postgres: pg } = options;
  const adminPassword = randomBytes(24).toString('base64url');
  execFileSync(
    join(options.binDir, 'psql'),
    [
      '-h',
      pg.host,
      '-p',
      String(pg.port),
      '-U',
      pg.superuser,
      '-d',
      pg.database,
      '-v',
      'ON_ERROR_STOP=1',
      '-q',
      '-c',
      `CREATE ROLE ${BAO_DATABASE_ADMIN} WITH LOGIN SUPERUSER PASSWORD '${adminPassword}'`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '', PGPASSWORD: pg.password } },
  );
  await bao(options, 'POST', `sys/mounts/${options.mount}`, { type: 'database' });
  await bao(options, 'POST', `${options.mount}/config/${options.connection}`, {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@${pg.host}:${pg.port}/${pg.database}?sslmode=disable`,
    username: BAO_DATABASE_ADMIN,
    password: adminPassword,
    password_authentication: 'scram-sha-256',
    allowed_roles: ['nhi-*', BAO_DATABASE_ACTIVITY_ROLE],
    verify_connection: true,
  });
  await bao(options, 'POST', `${options.mount}/rotate-root/${options.connection}`, {});
  await bao(options, 'POST', `${options.mount}/roles/${BAO_DATABASE_ACTIVITY_ROLE}`, {
    db_name: options.connection,
    creation_statements: [
      `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' CONNECTION LIMIT 2 NOSUPERUSER NOCREATEDB NOCREATEROLE;`,
      'GRANT pg_monitor TO "{{name}}";',
    ],
    revocation_statements: [
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}';`,
      'DROP ROLE IF EXISTS "{{name}}";',
    ],
    default_ttl: '10m',
    max_ttl: '1h',
  });
}
