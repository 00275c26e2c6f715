import { describe, expect, it } from 'vitest';
import type { AwsProviderSpec } from '../../api/v1alpha1/types.ts';
import { InvalidConfigError } from '../types.ts';
import { awsConfigFromSpec } from './config.ts';
import { irsaSpec } from './testing/fixtures.ts';

describe('awsConfigFromSpec', () => {
  it('fills in defaults', () => {
    const config = awsConfigFromSpec(
      { region: 'us-east-1', mode: 'pod-identity', podIdentity: { clusterName: 'c' } },
      'aws',
    );
    expect(config).toEqual({
      name: 'aws',
      region: 'us-east-1',
      rolePath: '/nhi/',
      roleNamePrefix: 'nhi-',
      mode: 'pod-identity',
      podIdentity: { clusterName: 'c' },
      recoveryWindowDays: 7, // the CRD default, when the object was read without it
      forceDelete: false,
      maxWritesPerSecond: 5,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each<[string, Partial<AwsProviderSpec> | undefined]>([
    ['a missing spec', undefined],
    ['no region', { region: '' }],
    ['a role path without slashes', { rolePath: 'nhi' }],
    ['a prefix with spaces', { roleNamePrefix: 'my prefix' }],
    ['a prefix longer than 32', { roleNamePrefix: 'p'.repeat(33) }],
    ['a recovery window of 3 days', { secretsManager: { recoveryWindowDays: 3 } }],
    ['a zero write rate', { maxWritesPerSecond: 0 }],
    ['irsa without issuer', { irsa: { oidcProviderArn: 'arn', issuer: '' } }],
    ['an http issuer', { irsa: { oidcProviderArn: 'arn', issuer: 'http://insecure' } }],
    ['pod-identity without cluster', { mode: 'pod-identity' }],
  ])('rejects %s', (_, overrides) => {
    const spec = overrides === undefined ? undefined : irsaSpec(overrides);
    expect(() => awsConfigFromSpec(spec)).toThrow(InvalidConfigError);
  });
});
