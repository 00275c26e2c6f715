import { describe, expect, it } from 'vitest';
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
  ])('%j on %j → violation: %s', (actions, resources, violates) => {
    const found = awsManagedSecretViolations(identity(actions, resources));
    expect(found.length > 0).toBe(violates);
    if (violates) expect(found[0]?.field).toBe('spec.scopes[0].resources[0]');
  });
});
