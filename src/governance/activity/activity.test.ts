import { describe, expect, it } from 'vitest';
import { identityNames } from '../../providers/vault/names.ts';
import { agentIdentity, inNamespace, withServiceAccount, withStatus } from '../../testing/agent-identity.ts';
import {
  attribute,
  parseCloudTrail,
  parseKubernetesAudit,
  parseText,
  parseVaultAudit,
  summarize,
} from './index.ts';
import { cloudTrailRecord, kubeAuditEvent, vaultAuditEntry } from './testing/fixtures.ts';

const bot = agentIdentity(
  'bot',
  inNamespace('team-a'),
  withStatus({ vault: { role: 'nhi-team-a-bot-1234abcd' } }),
);
const other = agentIdentity('other', inNamespace('team-a'));
const sa = (ns: string, name: string) => `system:serviceaccount:${ns}:${name}`;

describe('Kubernetes audit events', () => {
  it('reduce a final-stage event to verb, resource, outcome, source and time', () => {
    const [event] = parseKubernetesAudit(
      kubeAuditEvent({
        user: sa('team-a', 'bot'),
        verb: 'get',
        resource: 'configmaps',
        namespace: 'team-a',
        name: 'cfg',
        sourceIP: '10.1.2.3',
        time: '2026-12-01T10:00:00.5Z',
      }),
    );
    expect(event).toEqual({
      time: '2026-12-01T10:00:00.500Z',
      backend: 'kubernetes',
      principal: sa('team-a', 'bot'),
      verb: 'get',
      resource: 'configmaps team-a/cfg',
      outcome: 'allowed',
      code: '200',
      sourceAddress: '10.1.2.3',
      match: { serviceAccount: { namespace: 'team-a', name: 'bot' } },
      target: { apiGroup: '', resource: 'configmaps', namespace: 'team-a', name: 'cfg' },
    });
  });

  it.each([
    [{ code: 403 }, 'denied'],
    [{ code: 401, decision: 'allow' as const }, 'denied'],
    [{ code: 404 }, 'error'],
    [{ code: 500 }, 'error'],
    [{ code: 201 }, 'allowed'],
  ])('classify %o as %s', (fields, outcome) => {
    expect(parseKubernetesAudit(kubeAuditEvent({ user: sa('a', 'b'), ...fields }))[0]?.outcome).toBe(outcome);
  });

  it('count one event per request: earlier stages are ignored', () => {
    expect(parseKubernetesAudit(kubeAuditEvent({ user: sa('a', 'b'), stage: 'RequestReceived' }))).toEqual(
      [],
    );
    expect(parseKubernetesAudit(kubeAuditEvent({ user: sa('a', 'b'), stage: 'ResponseStarted' }))).toEqual(
      [],
    );
  });

  it('name group, subresource and list targets in the resource', () => {
    const [scale] = parseKubernetesAudit(
      kubeAuditEvent({
        user: sa('a', 'b'),
        apiGroup: 'apps',
        resource: 'deployments',
        subresource: 'scale',
        namespace: 'a',
        name: 'web',
        verb: 'patch',
      }),
    );
    const [list] = parseKubernetesAudit(
      kubeAuditEvent({ user: sa('a', 'b'), resource: 'secrets', namespace: 'a', verb: 'list' }),
    );
    expect(scale?.resource).toBe('apps/deployments/scale a/web');
    expect(list?.resource).toBe('secrets a/*');
  });

  it('read the events of a webhook EventList and ignore other JSON', () => {
    const list = {
      kind: 'EventList',
      apiVersion: 'audit.k8s.io/v1',
      items: [kubeAuditEvent({ user: 'alice' }), kubeAuditEvent({ user: sa('a', 'b') })],
    };
    expect(parseKubernetesAudit(list).map((e) => e.principal)).toEqual(['alice', sa('a', 'b')]);
    expect(parseKubernetesAudit({ kind: 'Pod', apiVersion: 'v1' })).toEqual([]);
  });

  it('attribute an impersonated request to the impersonated ServiceAccount', () => {
    const [event] = parseKubernetesAudit(
      kubeAuditEvent({ user: 'admin', impersonatedUser: sa('team-a', 'bot') }),
    );
    expect(event?.match.serviceAccount).toEqual({ namespace: 'team-a', name: 'bot' });
  });
});

describe('OpenBao audit entries', () => {
  it('reduce a response entry to operation, path, outcome and role, keeping no HMAC or token', () => {
    const entry = vaultAuditEntry({
      path: 'secret/data/nhi/team-a/bot/db',
      role: 'nhi-team-a-bot-1234abcd',
      serviceAccount: { namespace: 'team-a', name: 'bot' },
    });
    const [event] = parseVaultAudit(entry);
    expect(event).toMatchObject({
      backend: 'vault',
      verb: 'read',
      resource: 'secret/data/nhi/team-a/bot/db',
      outcome: 'allowed',
      principal: 'role=nhi-team-a-bot-1234abcd sa=team-a/bot',
      sourceAddress: '127.0.0.1',
    });
    expect(JSON.stringify(event)).not.toContain('hmac-sha256');
  });

  it('ignore request entries: the response carries the outcome', () => {
    expect(parseVaultAudit(vaultAuditEntry({ path: 'secret/data/x', type: 'request' }))).toEqual([]);
  });

  it.each([
    ['permission denied', 'denied'],
    ['invalid role name "x"', 'denied'],
    ['internal error', 'error'],
  ])('classify the error "%s" as %s', (error, outcome) => {
    expect(parseVaultAudit(vaultAuditEntry({ path: 'secret/data/x', role: 'r', error }))[0]?.outcome).toBe(
      outcome,
    );
  });

  it('attribute a login by the auth in its response, and a refused one by a plain request role', () => {
    const [ok] = parseVaultAudit(
      vaultAuditEntry({
        path: 'auth/kubernetes/login',
        operation: 'update',
        login: true,
        role: 'r1',
        serviceAccount: { namespace: 'a', name: 'b' },
      }),
    );
    const [refused] = parseVaultAudit(
      vaultAuditEntry({
        path: 'auth/kubernetes/login',
        operation: 'update',
        login: true,
        requestRole: 'r1',
        error: 'permission denied',
      }),
    );
    const [hmacd] = parseVaultAudit(
      vaultAuditEntry({
        path: 'auth/kubernetes/login',
        operation: 'update',
        login: true,
        error: 'permission denied',
      }),
    );
    expect(ok?.match).toEqual({ vaultRole: 'r1', serviceAccount: { namespace: 'a', name: 'b' } });
    expect(refused?.match).toEqual({ vaultRole: 'r1' });
    expect(hmacd?.match).toEqual({});
  });
});

describe('CloudTrail events (recorded shape; moto does not produce CloudTrail)', () => {
  const roleArn = 'arn:aws:iam::123456789012:role/nhi/nhi-team-a-bot';

  it('read a delivered log file and name the role from the session issuer', () => {
    const events = parseCloudTrail({
      Records: [
        cloudTrailRecord({ roleArn, secretId: 'nhi/team-a/bot/api-key' }),
        cloudTrailRecord({ roleArn, eventName: 'PutSecretValue', errorCode: 'AccessDeniedException' }),
      ],
    });
    expect(events.map((e) => [e.verb, e.outcome, e.match.awsRoleName])).toEqual([
      ['secretsmanager:GetSecretValue', 'allowed', 'nhi-team-a-bot'],
      ['secretsmanager:PutSecretValue', 'denied', 'nhi-team-a-bot'],
    ]);
    expect(events[0]?.resource).toBe('nhi/team-a/bot/api-key');
  });

  it('never keep response elements or the session key', () => {
    const record = cloudTrailRecord({ roleArn });
    const text = JSON.stringify(parseCloudTrail(record));
    expect(text).not.toContain((record.responseElements as { secretString: string }).secretString);
    expect(text).not.toContain((record.userIdentity as { accessKeyId: string }).accessKeyId);
  });
});

describe('attribution', () => {
  const events = [
    ...parseKubernetesAudit(kubeAuditEvent({ user: sa('team-a', 'bot'), time: '2026-12-01T10:00:00Z' })),
    ...parseKubernetesAudit(
      kubeAuditEvent({ user: sa('team-a', 'bot'), code: 403, time: '2026-12-01T10:01:00Z' }),
    ),
    ...parseKubernetesAudit(kubeAuditEvent({ user: sa('team-a', 'other'), time: '2026-12-01T10:02:00Z' })),
    ...parseKubernetesAudit(kubeAuditEvent({ user: sa('team-b', 'bot'), time: '2026-12-01T10:03:00Z' })),
    ...parseVaultAudit(
      vaultAuditEntry({
        path: 'secret/data/nhi/team-a/bot/db',
        role: 'nhi-team-a-bot-1234abcd',
        time: '2026-12-01T09:00:00Z',
      }),
    ),
    ...parseVaultAudit(
      vaultAuditEntry({
        path: 'secret/data/other',
        role: 'someone-elses-role',
        serviceAccount: { namespace: 'team-a', name: 'bot' },
      }),
    ),
  ];

  it("gives each identity its own calls, with owner and purpose, and never another's", () => {
    const records = attribute(events, [bot, other]);
    const ofBot = records.filter((r) => r.identity.name === 'bot');
    expect(ofBot.map((r) => [r.backend, r.outcome, r.time])).toEqual([
      ['vault', 'allowed', '2026-12-01T09:00:00.000Z'],
      ['kubernetes', 'allowed', '2026-12-01T10:00:00.000Z'],
      ['kubernetes', 'denied', '2026-12-01T10:01:00.000Z'],
    ]);
    expect(ofBot[0]?.identity).toEqual({
      namespace: 'team-a',
      name: 'bot',
      owner: 'support-eng',
      purpose: bot.spec.purpose,
    });
    expect(records.filter((r) => r.identity.name === 'other')).toHaveLength(1);
  });

  it('follow a spec serviceAccountName and derive the Vault role from the uid when status has none', () => {
    const renamed = agentIdentity('renamed', inNamespace('team-a'), withServiceAccount('bot'));
    expect(attribute(events, [renamed]).filter((r) => r.backend === 'kubernetes')).toHaveLength(2);
    const plain = agentIdentity('plain');
    const role = identityNames({
      identity: plain,
      subject: { namespace: 'agents', serviceAccountName: 'plain' },
    }).base;
    const vault = [
      ...parseVaultAudit(vaultAuditEntry({ path: 'p', role })),
      ...parseVaultAudit(vaultAuditEntry({ path: 'q', role: `${role}x` })),
    ];
    expect(attribute(vault, [plain]).map((r) => r.resource)).toEqual(['p']);
  });

  it('leave out events before --since and summarize per backend', () => {
    const records = attribute(events, [bot], { since: new Date('2026-12-01T09:30:00Z') });
    expect(summarize(records)).toEqual([
      { backend: 'kubernetes', requests: 2, denials: 1, errors: 0, lastUsed: '2026-12-01T10:00:00.000Z' },
    ]);
  });

  it('attribute AWS events by the role recorded in status', () => {
    const withRole = agentIdentity(
      'bot',
      inNamespace('team-a'),
      withStatus({ aws: { roleArn: 'arn:aws:iam::123456789012:role/nhi/nhi-team-a-bot' } }),
    );
    const records = attribute(
      parseCloudTrail(cloudTrailRecord({ roleArn: 'arn:aws:iam::123456789012:role/nhi/nhi-team-a-bot' })),
      [withRole, other],
    );
    expect(records.map((r) => r.identity.name)).toEqual(['bot']);
  });

  it('attribute to an observe-only identity the calls of its observed ServiceAccount and of reported roles only', () => {
    const watcher = agentIdentity(
      'watcher',
      inNamespace('team-a'),
      withStatus({
        serviceAccount: 'stale-managed-name',
        observed: {
          objects: [
            { kind: 'ServiceAccount', name: 'bot', reported: true },
            { kind: 'VaultRole', name: 'someone-elses-role', reported: false, message: 'refused' },
          ],
        },
      }),
    );
    watcher.spec.management = 'Observe';
    watcher.spec.observe = { serviceAccountName: 'bot', vaultRoleName: 'someone-elses-role' };
    const records = attribute(events, [watcher]);
    expect(records.filter((r) => r.backend === 'kubernetes').map((r) => r.time)).toEqual([
      '2026-12-01T10:00:00.000Z',
      '2026-12-01T10:01:00.000Z',
    ]);
    // The Vault role is refused in status: its calls are not this identity's.
    expect(records.map((r) => r.backend)).toEqual(['kubernetes', 'kubernetes']);
    expect(records.every((r) => r.identity.name === 'watcher')).toBe(true);
  });
});

describe('reading files', () => {
  it('parse JSON lines, count what it skips, and accept a pretty-printed CloudTrail file', () => {
    const stats = { lines: 0, skipped: 0 };
    const text = [JSON.stringify(kubeAuditEvent({ user: 'u' })), 'not json', '{"kind":"Other"}', ''].join(
      '\n',
    );
    expect(parseText('kubernetes', text, stats)).toHaveLength(1);
    expect(stats).toEqual({ lines: 3, skipped: 2 });
    const file = JSON.stringify(
      { Records: [cloudTrailRecord({ roleArn: 'arn:aws:iam::1:role/r' })] },
      null,
      2,
    );
    expect(parseText('cloudtrail', file)).toHaveLength(1);
  });
});
