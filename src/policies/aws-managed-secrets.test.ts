import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generalising } from '../api/v1alpha1/testing/glob-arbitraries.ts';
import type { AgentIdentity } from '../api/v1alpha1/types.ts';
import {
  agentIdentity,
  inEnvironment,
  withAwsScopes,
  withOwner,
  withPurpose,
} from '../testing/agent-identity.ts';
import { awsManagedSecretViolations } from './aws-managed-secrets.ts';

function identity(actions: string[], resources: string[]): AgentIdentity {
  return agentIdentity(
    'bot',
    withOwner({ team: 'a' }),
    withPurpose('testing the managed secrets guard'),
    inEnvironment('development'),
    withAwsScopes({ actions, resources }),
  );
}

const arn = (name: string) => `arn:aws:secretsmanager:us-east-1:111122223333:secret:${name}`;

describe('awsManagedSecretViolations', () => {
  it.each([
    [['secretsmanager:GetSecretValue'], [arn('nhi/other/bot/key-*')], true],
    [['secretsmanager:GetSecretValue'], [arn('*')], true],
    [['secretsmanager:GetSecretValue'], [arn('n*')], true],
    [['secretsmanager:GetSecretValue'], ['*'], true],
    [['*'], [arn('nhi/*')], true],
    [['secretsmanager:GetSecretValue'], [arn('nhi/agents/bot/*')], false],
    [['secretsmanager:GetSecretValue'], [arn('crm/*')], false],
    [['s3:GetObject'], ['*'], false],
    [['secretsmanager:GetSecretValue'], ['arn:aws:s3:::bucket/*'], false],
    // Wildcards anywhere in the ARN, judged by the generated glob matcher.
    [['secretsmanager:GetSecretValue'], ['arn:aws:secretsmanager:*:*:secret*'], true],
    [['secretsmanager:GetSecretValue'], ['arn:aws:secretsmanager:*:*:*'], true],
    [['secretsmanager:GetSecretValue'], ['arn:aws:secretsmanager:*'], true],
    [['secretsmanager:GetSecretValue'], ['arn:*'], true],
    [['secretsmanager:GetSecretValue'], [arn('nh?/*')], true],
    [['secretsmanager:GetSecretValue'], [arn('nhi/agents/bot*')], true],
    [['secretsmanager:GetSecretValue'], [arn('nhi/agents/*')], true],
    [['secretsmanager:GetSecretValue'], ['ARN:AWS:SECRETSMANAGER:*:*:SECRET:NHI/*'], true],
    [['secretsmanager:GetSecretValue'], ['arn:aws-cn:secretsmanager:*:*:secret:nhi/*'], true],
    [['secretsmanager:GetSecretValue'], ['arn:aws:secretsmanager:*:*:secret:nhi/agents/bot/*'], false],
    [['secretsmanager:GetSecretValue'], ['arn:aws:secretsmanager:*:*:secret:crm/*'], false],
    [['secretsmanager:GetSecretValue'], ['arn:aws:iam::111122223333:role/*'], false],
    // Actions are globs too: anything that can name a Secrets Manager action counts.
    [['secretsmanager:Get*'], [arn('*')], true],
    [['Secrets*:*'], [arn('*')], true],
    [['*:*'], [arn('nhi/*')], true],
    [['s3:*', 'iam:*'], ['*'], false],
    [['s*'], ['*'], true],
    [['iam:PassRole', 's3:GetObject'], ['*'], false],
  ])('%j on %j → violation: %s', (actions, resources, violates) => {
    const found = awsManagedSecretViolations(identity(actions, resources));
    expect(found.length > 0).toBe(violates);
    if (violates) expect(found[0]?.field).toBe('spec.scopes[0].resources[0]');
  });

  it('flags every pattern that matches a secret the operator manages for another identity', () => {
    const label = fc.stringMatching(/^[a-z0-9]{1,4}$/);
    const others = fc
      .tuple(fc.constantFrom('agents', 'crm', 'agent'), fc.constantFrom('bot', 'bot2', 'bo', 'other'), label)
      .filter(([namespace, name]) => !(namespace === 'agents' && name === 'bot'))
      .map(([namespace, name, secret]) => arn(`nhi/${namespace}/${name}/${secret}-AbCdEf`));
    fc.assert(
      fc.property(
        others.chain((other) => generalising(other)),
        (resource) => {
          expect(
            awsManagedSecretViolations(identity(['secretsmanager:GetSecretValue'], [resource])),
          ).toHaveLength(1);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
