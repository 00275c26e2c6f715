import { describe, expect, it } from 'vitest';
import { Marks } from '../../api/v1alpha1/annotations.ts';
import type { AgentIdentity, Condition } from '../../api/v1alpha1/types.ts';
import {
  agentIdentity,
  createdAt,
  inNamespace,
  withOwner,
  withPurpose,
  withServiceAccount,
  withStatus,
  withUid,
  withWorkload,
} from '../../testing/agent-identity.ts';
import { classify, identityState } from './classify.ts';
import { summarize } from './summary.ts';
import type {
  FindingKind,
  InventoryItem,
  RawIamRole,
  RawInventory,
  RawServiceAccount,
  RawVaultRole,
} from './types.ts';

const NOW = new Date('2025-06-01T12:00:00Z');
const ISSUER = 'https://127.0.0.1:6443';
const HOST = '127.0.0.1:6443';

function identity(name: string, namespace: string, uid: string, conditions: Condition[] = []): AgentIdentity {
  return agentIdentity(
    name,
    inNamespace(namespace),
    withUid(uid),
    createdAt('2025-05-01T00:00:00Z'),
    withOwner({ team: 'support-eng' }),
    withPurpose('Answer support tickets'),
    withServiceAccount(name),
    withWorkload(),
    withStatus({ conditions }),
  );
}

const cond = (type: string, status: Condition['status'] = 'True', reason = type): Condition => ({
  type,
  status,
  reason,
  message: '',
  lastTransitionTime: '2025-05-01T00:00:00Z',
});

const sa = (namespace: string, name: string, extra: Partial<RawServiceAccount> = {}): RawServiceAccount => ({
  namespace,
  name,
  ...extra,
});

function role(
  name: string,
  subs: string[] | undefined,
  tags: Record<string, string> = {},
  like = false,
): RawIamRole {
  const condition: Record<string, Record<string, unknown>> = {
    StringEquals: { [`${HOST}:aud`]: 'sts.amazonaws.com' },
  };
  if (subs)
    condition[like ? 'StringLike' : 'StringEquals'] = {
      ...condition[like ? 'StringLike' : 'StringEquals'],
      [`${HOST}:sub`]: subs.map((s) => `system:serviceaccount:${s.replace('/', ':')}`),
    };
  return {
    name,
    arn: `arn:aws:iam::123456789012:role/${name}`,
    path: '/',
    tags,
    trustPolicy: {
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: `arn:aws:iam::123456789012:oidc-provider/${HOST}` },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: condition,
        },
      ],
    },
  };
}

const vaultRole = (
  name: string,
  names: string[],
  namespaces: string[],
  ownerRecord?: Record<string, string>,
): RawVaultRole => ({
  mount: 'kubernetes',
  name,
  boundServiceAccountNames: names,
  boundServiceAccountNamespaces: namespaces,
  policies: ['default'],
  ...(ownerRecord ? { ownerRecord } : {}),
});

const BOT = identity('support-bot', 'agents', 'uid-bot', [cond('Ready')]);

function raw(extra: Partial<RawInventory> = {}): RawInventory {
  return {
    now: NOW,
    identities: [BOT],
    serviceAccounts: [
      sa('agents', 'support-bot', { labels: { [Marks.identityUid]: 'uid-bot' } }),
      sa('agents', 'default'),
      sa('kube-system', 'deployment-controller'),
      sa('agents', 'legacy-batch'),
      sa('agents', 'reporting', {
        annotations: { [Marks.owner]: 'data-team', [Marks.purpose]: 'nightly reports' },
      }),
      sa('agents', 'ghost', { labels: { [Marks.identityUid]: 'uid-gone', [Marks.owner]: 'old-team' } }),
      sa('agents', 'adopted', {
        ownerReferences: [{ kind: 'AgentIdentity', name: 'support-bot', uid: 'uid-bot' }],
      }),
    ],
    tokenSecrets: [
      { namespace: 'agents', name: 'legacy-batch-token', serviceAccountName: 'legacy-batch' },
      { namespace: 'agents', name: 'reporting-token', serviceAccountName: 'reporting' },
      { namespace: 'agents', name: 'deleted-token', serviceAccountName: 'deleted' },
      { namespace: 'kube-system', name: 'ctrl-token', serviceAccountName: 'deployment-controller' },
    ],
    pods: [
      { namespace: 'agents', serviceAccountName: 'support-bot' },
      { namespace: 'agents', serviceAccountName: 'support-bot' },
    ],
    ...extra,
  };
}

function find(items: InventoryItem[], type: string, name: string): InventoryItem {
  const found = items.find((i) => i.type === type && i.name === name);
  if (!found) throw new Error(`no ${type} ${name} in ${items.map((i) => `${i.type}/${i.name}`).join(', ')}`);
  return found;
}

const kinds = (item: InventoryItem): FindingKind[] => item.findings.map((f) => f.kind);

describe('classify: Kubernetes', () => {
  const items = classify(raw());

  it('lists the AgentIdentity with owner, purpose, environment, state and risk', () => {
    const bot = find(items, 'AgentIdentity', 'support-bot');
    expect(bot).toMatchObject({
      namespace: 'agents',
      owner: 'support-eng',
      purpose: 'Answer support tickets',
      environment: 'production',
      state: 'Active',
      managed: true,
      boundTo: ['agents/support-bot'],
    });
    expect(bot.risk?.level).toBeDefined();
    expect(bot.risk?.factors.length).toBeGreaterThan(0);
  });

  it.each<[string, string, Partial<InventoryItem>, FindingKind[]]>([
    [
      'ServiceAccount',
      'support-bot',
      { managed: true, owner: 'support-eng', identity: 'agents/support-bot', state: 'in use (2 pods)' },
      [],
    ],
    ['ServiceAccount', 'adopted', { managed: true, identity: 'agents/support-bot' }, []],
    ['ServiceAccount', 'legacy-batch', { managed: false, state: 'unused' }, ['shadow', 'unused']],
    [
      'ServiceAccount',
      'reporting',
      { managed: false, owner: 'data-team', purpose: 'nightly reports' },
      ['unused'],
    ],
    ['ServiceAccount', 'ghost', { managed: false, owner: 'old-team' }, ['orphaned-marks', 'unused']],
    ['System', 'default', { namespace: 'agents', owner: 'kubernetes', managed: false }, []],
    ['System', 'deployment-controller', { namespace: 'kube-system' }, []],
    [
      'ServiceAccountToken',
      'legacy-batch-token',
      { managed: false, boundTo: ['agents/legacy-batch'] },
      ['shadow', 'legacy-token'],
    ],
    ['ServiceAccountToken', 'reporting-token', { owner: 'data-team' }, ['legacy-token']],
    ['ServiceAccountToken', 'deleted-token', {}, ['shadow', 'legacy-token', 'dangling-trust']],
    ['System', 'ctrl-token', { namespace: 'kube-system' }, []],
  ])('%s %s', (type, name, expected, findings) => {
    const item = find(items, type, name);
    expect(item).toMatchObject(expected);
    expect(kinds(item)).toEqual(findings);
  });

  it('never calls a system account a shadow identity', () => {
    for (const item of items.filter((i) => i.type === 'System')) expect(item.findings).toEqual([]);
  });

  it('sorts by type, namespace and name', () => {
    const order = items.map((i) => `${i.type}:${i.namespace}/${i.name}`);
    expect(order[0]).toBe('AgentIdentity:agents/support-bot');
    expect(order.indexOf('ServiceAccount:agents/adopted')).toBeLessThan(
      order.indexOf('ServiceAccount:agents/ghost'),
    );
    expect(order.at(-1)).toBe('System:kube-system/deployment-controller');
  });
});

describe('classify: IAM', () => {
  const items = classify(
    raw({
      aws: {
        issuers: [ISSUER],
        roles: [
          role('nhi-agents-support-bot-1a2b', ['agents/support-bot'], { [Marks.identityUid]: 'uid-bot' }),
          role('legacy-irsa', ['agents/legacy-batch']),
          role('dangling-irsa', ['agents/removed-sa']),
          role('wide-irsa', ['agents/*'], {}, true),
          role('any-sa', undefined, { [Marks.owner]: 'platform' }),
          role('owned-dangling', ['ops/nothing'], { [Marks.owner]: 'platform' }),
        ],
        users: [
          {
            name: 'ci-deployer',
            arn: 'arn:aws:iam::1:user/ci-deployer',
            tags: {},
            accessKeys: [{ status: 'Active', createDate: '2025-05-20T00:00:00Z' }],
          },
          {
            name: 'old-bot',
            arn: 'arn:aws:iam::1:user/old-bot',
            tags: { [Marks.owner]: 'ml-team' },
            accessKeys: [
              { status: 'Active', createDate: '2024-01-01T00:00:00Z', lastUsed: '2025-05-31T00:00:00Z' },
              { status: 'Inactive' },
            ],
          },
          { name: 'console-human', arn: 'arn:aws:iam::1:user/console-human', tags: {}, accessKeys: [] },
        ],
      },
    }),
  );

  it.each<[string, string, Partial<InventoryItem>, FindingKind[]]>([
    [
      'IAMRole',
      'nhi-agents-support-bot-1a2b',
      { managed: true, identity: 'agents/support-bot', owner: 'support-eng', state: 'never used' },
      [],
    ],
    ['IAMRole', 'legacy-irsa', { managed: false, boundTo: ['agents/legacy-batch'] }, ['shadow']],
    ['IAMRole', 'dangling-irsa', { managed: false }, ['shadow', 'dangling-trust']],
    ['IAMRole', 'wide-irsa', { boundTo: ['agents/*'] }, ['shadow', 'wildcard-trust']],
    ['IAMRole', 'any-sa', { owner: 'platform' }, ['wildcard-trust']],
    ['IAMRole', 'owned-dangling', { owner: 'platform' }, ['dangling-trust']],
    [
      'IAMUser',
      'ci-deployer',
      { managed: false, state: '1 active / 1 keys, never used' },
      ['shadow', 'static-access-key'],
    ],
    [
      'IAMUser',
      'old-bot',
      { owner: 'ml-team', state: '1 active / 2 keys, used 2025-05-31' },
      ['static-access-key'],
    ],
  ])('%s %s', (type, name, expected, findings) => {
    const item = find(items, type, name);
    expect(item).toMatchObject({ provider: 'aws', ...expected });
    expect(kinds(item)).toEqual(findings);
  });

  it('rates an access key older than 90 days high, a recent one a warning', () => {
    expect(find(items, 'IAMUser', 'old-bot').findings[0]?.severity).toBe('high');
    expect(find(items, 'IAMUser', 'ci-deployer').findings[1]?.severity).toBe('warning');
  });

  it('rates a role any ServiceAccount may assume critical', () => {
    expect(find(items, 'IAMRole', 'any-sa').findings[0]).toMatchObject({
      kind: 'wildcard-trust',
      severity: 'critical',
    });
  });

  it('names the missing ServiceAccount of a dangling trust', () => {
    expect(find(items, 'IAMRole', 'dangling-irsa').findings[1]?.message).toContain('agents/removed-sa');
  });

  it('lists only IAM users that hold access keys', () => {
    expect(items.some((i) => i.name === 'console-human')).toBe(false);
  });
});

describe('classify: Vault', () => {
  const owned = {
    [Marks.managedBy]: Marks.managedByValue,
    [Marks.identityUid]: 'uid-bot',
    [Marks.owner]: 'support-eng',
  };
  const items = classify(
    raw({
      vault: {
        roles: [
          vaultRole('nhi-agents-support-bot-1a2b', ['support-bot'], ['agents'], owned),
          vaultRole('old-app', ['removed'], ['agents']),
          vaultRole('everyone', ['*'], ['agents']),
          vaultRole('leftover', ['gone'], ['agents'], { ...owned, [Marks.identityUid]: 'uid-gone' }),
          { ...vaultRole('selector', ['bot'], []), namespaceSelector: '{"matchLabels":{"team":"a"}}' },
        ],
      },
    }),
  );

  it.each<[string, Partial<InventoryItem>, FindingKind[]]>([
    [
      'nhi-agents-support-bot-1a2b',
      { managed: true, identity: 'agents/support-bot', boundTo: ['agents/support-bot'] },
      [],
    ],
    ['old-app', { managed: false, boundTo: ['agents/removed'] }, ['shadow', 'dangling-trust']],
    ['everyone', { managed: false }, ['shadow', 'wildcard-trust']],
    ['leftover', { managed: false, owner: 'support-eng' }, ['orphaned-marks', 'dangling-trust']],
    ['selector', { managed: false }, ['shadow', 'wildcard-trust']],
  ])('%s', (name, expected, findings) => {
    const item = find(items, 'VaultRole', name);
    expect(item).toMatchObject({ provider: 'vault', ...expected });
    expect(kinds(item)).toEqual(findings);
  });
});

describe('identity state', () => {
  it.each<[string, Condition[], string]>([
    ['nothing reported yet', [], 'Pending'],
    ['ready', [cond('Ready')], 'Active'],
    ['expired', [cond('Expired'), cond('Ready', 'False')], 'Expired'],
    ['orphaned', [cond('Orphaned')], 'Orphaned'],
    [
      'quarantined, with why',
      [cond('Orphaned'), cond('Quarantined', 'True', 'Locked')],
      'Quarantined (Locked)',
    ],
    ['revoked', [cond('Quarantined'), cond('Revoked')], 'Revoked'],
    ['non-compliant', [cond('PolicyCompliant', 'False')], 'NonCompliant'],
  ])('%s', (_name, conditions, state) => {
    expect(identityState(identity('x', 'y', 'z', conditions))).toBe(state);
  });
});

describe('summary', () => {
  it('counts types and lists shadow identities and dangling trust', () => {
    const items = classify(
      raw({ aws: { issuers: [ISSUER], roles: [role('dangling-irsa', ['agents/removed-sa'])], users: [] } }),
    );
    const summary = summarize(items);
    expect(summary.byType.System).toBe(3);
    expect(summary.byType.ServiceAccountToken).toBe(3);
    expect(summary.shadow.map((i) => i.name).sort()).toEqual([
      'dangling-irsa',
      'deleted-token',
      'legacy-batch',
      'legacy-batch-token',
    ]);
    expect(summary.danglingTrust.map((i) => i.name).sort()).toEqual(['dangling-irsa', 'deleted-token']);
    expect(summary.orphanedMarks.map((i) => i.name)).toEqual(['ghost']);
    expect(summary.total).toBe(items.length);
  });
});

describe('classify: identities adopted observe-only', () => {
  const watcher = agentIdentity(
    'legacy-batch',
    inNamespace('agents'),
    withUid('uid-watch'),
    withOwner({ team: 'batch-team' }),
    withPurpose('nightly batch'),
    withStatus({
      observed: {
        objects: [
          { kind: 'ServiceAccount', name: 'legacy-batch', reported: true },
          { kind: 'IAMRole', name: 'legacy-irsa', reported: true },
          { kind: 'IAMRole', name: 'other-team', reported: false, message: 'refused' },
        ],
      },
    }),
  );
  watcher.spec.management = 'Observe';
  watcher.spec.observe = { serviceAccountName: 'legacy-batch', iamRoleName: 'legacy-irsa' };
  const items = classify(
    raw({
      identities: [BOT, watcher],
      aws: {
        issuers: [ISSUER],
        roles: [role('legacy-irsa', ['agents/legacy-batch']), role('other-team', ['team-b/bot'])],
        users: [],
      },
    }),
  );

  it('calls the observed ServiceAccount and role observed, not shadow, with the identity as owner', () => {
    for (const [type, name] of [
      ['ServiceAccount', 'legacy-batch'],
      ['IAMRole', 'legacy-irsa'],
    ] as const) {
      const item = find(items, type, name);
      expect(kinds(item)).toContain('observed');
      expect(kinds(item)).not.toContain('shadow');
      expect(item).toMatchObject({ managed: false, owner: 'batch-team', identity: 'agents/legacy-batch' });
    }
  });

  it('a role the identity may not observe (refused in its status) stays shadow', () => {
    expect(kinds(find(items, 'IAMRole', 'other-team'))).toContain('shadow');
  });
});
