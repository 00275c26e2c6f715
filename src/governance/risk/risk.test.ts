import { describe, expect, it } from 'vitest';
import type {
  AgentIdentity,
  AgentIdentitySpec,
  AgentIdentityStatus,
  RiskStatus,
} from '../../api/v1alpha1/types.ts';
import {
  agentIdentity,
  createdAt,
  withOwner,
  withPurpose,
  withSpec,
  withStatus,
  withUid,
  withWorkload,
} from '../../testing/agent-identity.ts';
import {
  assessRisk,
  exceedsMaxRiskLevel,
  impactFromPoints,
  levelOf,
  likelihoodFromPoints,
  type RiskLevel,
  riskMatrix,
  summarizeRisk,
} from './risk.ts';

const NOW = new Date('2025-06-01T12:00:00Z');
const CREATED = '2025-05-01T00:00:00Z';
const days = (from: string | Date, n: number) =>
  new Date(new Date(from).getTime() + n * 86_400_000).toISOString();

function identity(spec: Partial<AgentIdentitySpec> = {}, status: AgentIdentityStatus = {}): AgentIdentity {
  return agentIdentity(
    'support-bot',
    createdAt(CREATED),
    withUid('u-1'),
    withOwner({ team: 'support-eng' }),
    withPurpose('Answer support tickets'),
    withWorkload(),
    withSpec({ ttl: '2160h', credentialTTL: '15m', ...spec }),
    withStatus({
      lastUsed: '2025-06-01T11:00:00Z',
      conditions: [
        { type: 'WorkloadBound', status: 'True', reason: 'Bound', message: '', lastTransitionTime: CREATED },
      ],
      ...status,
    }),
  );
}

function neverUsed(input: AgentIdentity): AgentIdentity {
  delete input.status?.lastUsed;
  return input;
}

describe('the 5x5 matrix', () => {
  it.each<[number, number, RiskLevel]>([
    [1, 1, 'Low'],
    [1, 4, 'Low'],
    [2, 2, 'Low'],
    [1, 5, 'Moderate'],
    [5, 1, 'Moderate'],
    [2, 3, 'Moderate'],
    [3, 3, 'Moderate'],
    [2, 4, 'Moderate'],
    [2, 5, 'High'],
    [3, 4, 'High'],
    [4, 3, 'High'],
    [3, 5, 'High'],
    [5, 3, 'High'],
    [4, 4, 'Critical'],
    [4, 5, 'Critical'],
    [5, 4, 'Critical'],
    [5, 5, 'Critical'],
  ])('likelihood %i x impact %i is %s', (likelihood, impact, level) => {
    expect(levelOf(likelihood, impact)).toBe(level);
  });

  it('renders 5 rows from likelihood 5 down, 5 columns impact 1..5, with 25 consistent cells', () => {
    const grid = riskMatrix();
    expect(grid.map((row) => row[0]?.likelihood)).toEqual([5, 4, 3, 2, 1]);
    expect(grid[0]?.map((cell) => cell.impact)).toEqual([1, 2, 3, 4, 5]);
    const cells = grid.flat();
    expect(cells).toHaveLength(25);
    for (const cell of cells) {
      expect(cell.score).toBe(cell.likelihood * cell.impact);
      expect(cell.level).toBe(levelOf(cell.likelihood, cell.impact));
    }
    expect(cells.filter((c) => c.level === 'Critical')).toHaveLength(4);
  });

  it.each([
    [0, 1],
    [1, 2],
    [2, 2],
    [3, 3],
    [4, 3],
    [5, 4],
    [6, 4],
    [7, 5],
    [20, 5],
  ])('%i likelihood points give likelihood %i', (points, likelihood) => {
    expect(likelihoodFromPoints(points)).toBe(likelihood);
  });

  it.each([
    [-1, 1],
    [0, 1],
    [3, 3],
    [7, 5],
  ])('%i impact points clamp to %i', (points, impact) => {
    expect(impactFromPoints(points)).toBe(impact);
  });
});

describe('exceedsMaxRiskLevel', () => {
  it.each<[RiskLevel | undefined, RiskLevel | undefined, boolean]>([
    ['Critical', 'High', true],
    ['High', 'High', false],
    ['Moderate', 'High', false],
    ['High', 'Moderate', true],
    ['Low', 'Low', false],
    ['Moderate', 'Low', true],
    ['Critical', undefined, false],
    [undefined, 'Low', false],
  ])('%s against max %s: %s', (level, max, exceeds) => {
    expect(exceedsMaxRiskLevel(level ? { level } : undefined, max)).toBe(exceeds);
  });
});

describe('assessRisk', () => {
  it.each<[string, AgentIdentity, Pick<RiskStatus, 'likelihood' | 'impact' | 'level'>]>([
    [
      'a well-behaved development identity is Low',
      identity({ environment: 'development', impact: { dataClassification: 'internal' } }),
      { likelihood: 1, impact: 1, level: 'Low' },
    ],
    [
      'the design example (one rotated secret, production confidential) is Moderate',
      identity(
        {
          impact: { dataClassification: 'confidential' },
          secrets: [{ name: 'crm-api-key', generator: { type: 'random' }, rotationInterval: '24h' }],
        },
        {
          conditions: [],
          secrets: [{ name: 'crm-api-key', nextRotation: '2025-06-02T00:00:00Z' }],
        },
      ),
      { likelihood: 2, impact: 4, level: 'Moderate' },
    ],
    [
      'long-lived credentials and a wildcard action in staging are Moderate',
      identity({
        environment: 'staging',
        impact: { dataClassification: 'confidential' },
        credentialTTL: '12h',
        scopes: [{ provider: 'aws', actions: ['s3:*'], resources: ['arn:aws:s3:::reports/*'] }],
      }),
      { likelihood: 3, impact: 3, level: 'Moderate' },
    ],
    [
      'an internet-exposed production identity that can pass roles is Critical',
      identity({
        impact: { dataClassification: 'confidential', internetExposed: true },
        scopes: [{ provider: 'aws', actions: ['iam:PassRole', 'ec2:RunInstances'], resources: ['*'] }],
      }),
      { likelihood: 5, impact: 5, level: 'Critical' },
    ],
    [
      'an orphaned restricted-data identity without activity data is High',
      neverUsed(
        identity(
          { impact: { dataClassification: 'restricted' } },
          {
            conditions: [
              {
                type: 'Orphaned',
                status: 'True',
                reason: 'WorkloadGone',
                message: 'gone',
                lastTransitionTime: CREATED,
              },
            ],
          },
        ),
      ),
      { likelihood: 3, impact: 5, level: 'High' },
    ],
  ])('%s', (_name, input, expected) => {
    const risk = assessRisk({ identity: input, now: NOW });
    expect({ likelihood: risk.likelihood, impact: risk.impact, level: risk.level }).toEqual(expected);
    expect(risk.score).toBe(risk.likelihood * risk.impact);
  });

  it('lists every factor that moved the score, likelihood first, with weights that add up', () => {
    const risk = assessRisk({
      identity: identity({
        credentialTTL: '2h',
        impact: { dataClassification: 'confidential', internetExposed: true },
      }),
      now: NOW,
    });
    expect(risk.factors.map((f) => f.id)).toEqual([
      'likelihood.long-lived-credentials',
      'likelihood.internet-exposed',
      'impact.environment',
      'impact.data-classification',
    ]);
    const points = risk.factors
      .filter((f) => f.id.startsWith('likelihood.'))
      .reduce((s, f) => s + f.weight, 0);
    expect(likelihoodFromPoints(points)).toBe(risk.likelihood);
    const impactPoints = risk.factors
      .filter((f) => f.id.startsWith('impact.'))
      .reduce((s, f) => s + f.weight, 0);
    expect(impactFromPoints(impactPoints)).toBe(risk.impact);
  });

  describe('remediation deadline', () => {
    const critical: Partial<AgentIdentitySpec> = {
      impact: { dataClassification: 'restricted', internetExposed: true },
      scopes: [{ provider: 'aws', actions: ['*'], resources: ['*'] }],
    };
    const high: Partial<AgentIdentitySpec> = {
      impact: { dataClassification: 'restricted' },
      credentialTTL: '12h',
      scopes: [{ provider: 'aws', actions: ['s3:*'], resources: ['arn:aws:s3:::b/*'] }],
    };

    it.each<[string, Partial<AgentIdentitySpec>, RiskLevel, string | undefined]>([
      ['Critical: 7 days from creation on the first assessment', critical, 'Critical', days(CREATED, 7)],
      ['High: 30 days from creation', high, 'High', days(CREATED, 30)],
      [
        'Moderate: 90 days (the next quarterly review)',
        { impact: { dataClassification: 'confidential', internetExposed: true } },
        'Moderate',
        days(CREATED, 90),
      ],
      ['Low: no deadline', { environment: 'development' }, 'Low', undefined],
    ])('%s', (_name, spec, level, remediateBy) => {
      const risk = assessRisk({ identity: identity(spec), now: NOW });
      expect(risk.level).toBe(level);
      expect(risk.remediateBy).toBe(remediateBy);
      if (remediateBy === undefined) expect('remediateBy' in risk).toBe(false);
    });

    it('keeps the deadline while the level stays the same', () => {
      const previous: RiskStatus = {
        likelihood: 5,
        impact: 5,
        score: 25,
        level: 'Critical',
        factors: [],
        remediateBy: '2025-05-20T00:00:00Z',
      };
      const risk = assessRisk({ identity: identity(critical, { risk: previous }), now: NOW });
      expect(risk.remediateBy).toBe('2025-05-20T00:00:00Z');
    });

    it('restarts the clock at now when the level changed since the last assessment', () => {
      const previous: RiskStatus = {
        likelihood: 3,
        impact: 4,
        score: 12,
        level: 'High',
        factors: [],
        remediateBy: '2025-06-20T00:00:00Z',
      };
      const risk = assessRisk({ identity: identity(critical, { risk: previous }), now: NOW });
      expect(risk.remediateBy).toBe(days(NOW, 7));
    });

    it('counts from the caller-supplied first detection', () => {
      const risk = assessRisk({
        identity: identity(high),
        now: NOW,
        firstDetected: new Date('2025-05-25T00:00:00Z'),
      });
      expect(risk.remediateBy).toBe(days('2025-05-25T00:00:00Z', 30));
    });

    it('counts from now when the identity has no creation time yet', () => {
      const input = identity(high);
      delete input.metadata.creationTimestamp;
      expect(assessRisk({ identity: input, now: NOW }).remediateBy).toBe(days(NOW, 30));
    });
  });

  it('is deterministic and leaves its input alone', () => {
    const input = identity({
      scopes: [{ provider: 'kubernetes', rules: [{ verbs: ['*'], resources: ['*'] }] }],
    });
    const before = JSON.stringify(input);
    expect(assessRisk({ identity: input, now: NOW })).toEqual(assessRisk({ identity: input, now: NOW }));
    expect(JSON.stringify(input)).toBe(before);
  });

  it('summarizes a score in one line', () => {
    expect(summarizeRisk({ likelihood: 4, impact: 4, score: 16, level: 'Critical' })).toBe(
      'Likely (4) x Major (4) = 16 Critical',
    );
  });
});
