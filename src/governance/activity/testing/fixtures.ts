// Recorded-shape audit entries, built at test time: the fields and nesting are those of the real
// sources (an apiserver Event at Metadata level, an OpenBao file-device response entry with its
// HMAC'd token fields, a CloudTrail record). Values are generated per call; nothing is a real key.
// Test code: lives under testing/, which the build excludes.

import { randomBytes, randomUUID } from 'node:crypto';

export interface KubeEventFields {
  user: string;
  verb?: string;
  resource?: string;
  namespace?: string;
  name?: string;
  apiGroup?: string;
  subresource?: string;
  code?: number;
  decision?: 'allow' | 'forbid';
  stage?: string;
  time?: string;
  sourceIP?: string;
  impersonatedUser?: string;
}

export function kubeAuditEvent(f: KubeEventFields): Record<string, unknown> {
  const time = f.time ?? '2026-12-01T10:00:00.000000Z';
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: randomUUID(),
    stage: f.stage ?? 'ResponseComplete',
    requestURI: `/api/v1/namespaces/${f.namespace ?? 'agents'}/${f.resource ?? 'configmaps'}${f.name ? `/${f.name}` : ''}`,
    verb: f.verb ?? 'get',
    user: {
      username: f.user,
      uid: randomUUID(),
      groups: ['system:serviceaccounts', 'system:authenticated'],
      extra: { 'authentication.kubernetes.io/credential-id': [`JTI=${randomUUID()}`] },
    },
    ...(f.impersonatedUser ? { impersonatedUser: { username: f.impersonatedUser } } : {}),
    sourceIPs: [f.sourceIP ?? '10.0.0.7'],
    userAgent: 'agent/1.0',
    objectRef: {
      resource: f.resource ?? 'configmaps',
      namespace: f.namespace ?? 'agents',
      ...(f.name ? { name: f.name } : {}),
      ...(f.apiGroup ? { apiGroup: f.apiGroup } : {}),
      ...(f.subresource ? { subresource: f.subresource } : {}),
      apiVersion: 'v1',
    },
    responseStatus: { metadata: {}, code: f.code ?? 200 },
    requestReceivedTimestamp: time,
    stageTimestamp: time,
    annotations: {
      'authorization.k8s.io/decision': f.decision ?? ((f.code ?? 200) === 403 ? 'forbid' : 'allow'),
      'authorization.k8s.io/reason': '',
    },
  };
}

const hmac = () => `hmac-sha256:${randomBytes(32).toString('hex')}`;

export interface VaultEntryFields {
  path: string;
  operation?: string;
  role?: string;
  serviceAccount?: { namespace: string; name: string };
  error?: string;
  time?: string;
  remote?: string;
  /** A login: the auth (with metadata) is in the response, the request has no token. */
  login?: boolean;
  /** A login's request body role (plain when the mount lists it in audit_non_hmac_request_keys). */
  requestRole?: string;
  type?: 'request' | 'response';
}

export function vaultAuditEntry(f: VaultEntryFields): Record<string, unknown> {
  const metadata = {
    ...(f.role ? { role: f.role } : {}),
    ...(f.serviceAccount
      ? {
          service_account_namespace: f.serviceAccount.namespace,
          service_account_name: f.serviceAccount.name,
          service_account_uid: randomUUID(),
          service_account_secret_name: '',
        }
      : {}),
  };
  const auth = {
    client_token: hmac(),
    accessor: hmac(),
    display_name: f.serviceAccount
      ? `kubernetes-${f.serviceAccount.namespace}-${f.serviceAccount.name}`
      : 'token',
    policies: ['default', f.role ?? 'x'],
    metadata,
    token_type: 'service',
    policy_results: { allowed: !f.error },
  };
  return {
    time: f.time ?? '2026-12-01T10:00:00.000000000Z',
    type: f.type ?? 'response',
    ...(f.login ? {} : { auth }),
    request: {
      id: randomUUID(),
      operation: f.operation ?? 'read',
      mount_type: 'kv',
      ...(f.login ? {} : { client_token: hmac(), client_token_accessor: hmac() }),
      path: f.path,
      ...(f.login ? { data: { jwt: hmac(), role: f.requestRole ?? hmac() } } : {}),
      remote_address: f.remote ?? '127.0.0.1',
      remote_port: 50000,
    },
    response: {
      ...(f.login && !f.error ? { auth } : {}),
      data: f.error ? { error: hmac() } : { data: { password: hmac() } },
    },
    ...(f.error ? { error: `1 error occurred:\n\t* ${f.error}\n\n` } : {}),
  };
}

export interface CloudTrailFields {
  roleArn: string;
  eventSource?: string;
  eventName?: string;
  errorCode?: string;
  secretId?: string;
  time?: string;
  sourceIP?: string;
}

export function cloudTrailRecord(f: CloudTrailFields): Record<string, unknown> {
  const [, , , , account, rest] = f.roleArn.split(':');
  const roleName = rest?.split('/').at(-1) ?? 'role';
  const sessionKey = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
  return {
    eventVersion: '1.09',
    userIdentity: {
      type: 'AssumedRole',
      principalId: `AROA${randomBytes(8).toString('hex').toUpperCase()}:botocore-session`,
      arn: `arn:aws:sts::${account}:assumed-role/${roleName}/botocore-session`,
      accountId: account,
      accessKeyId: sessionKey,
      sessionContext: {
        sessionIssuer: {
          type: 'Role',
          principalId: 'AROAX',
          arn: f.roleArn,
          accountId: account,
          userName: roleName,
        },
        attributes: { creationDate: '2026-12-01T09:59:00Z', mfaAuthenticated: 'false' },
      },
    },
    eventTime: f.time ?? '2026-12-01T10:00:00Z',
    eventSource: f.eventSource ?? 'secretsmanager.amazonaws.com',
    eventName: f.eventName ?? 'GetSecretValue',
    awsRegion: 'us-east-1',
    sourceIPAddress: f.sourceIP ?? '10.0.0.7',
    userAgent: 'aws-sdk-js/3',
    ...(f.errorCode ? { errorCode: f.errorCode, errorMessage: 'User is not authorized' } : {}),
    requestParameters: f.secretId ? { secretId: f.secretId } : null,
    responseElements: f.errorCode ? null : { secretString: randomBytes(16).toString('hex') },
    requestID: randomUUID(),
    eventID: randomUUID(),
    readOnly: true,
    eventType: 'AwsApiCall',
    recipientAccountId: account,
  };
}
