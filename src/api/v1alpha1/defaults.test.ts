import { describe, expect, it } from 'vitest';
import {
  awsMaxSessionSeconds,
  awsTokenExpirationSeconds,
  credentialTtlMs,
  expiryWarningLeadMs,
  lastUsedStepMs,
  nextRotationAt,
  overlapMs,
  quarantinePeriodEnd,
  retireAt,
  SpecDefaults,
  ttlMs,
  validCredentialTtlMs,
} from './defaults.ts';
import { AgentIdentitySchema } from './schema.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('the overlap rule', () => {
  it.each([
    [{ overlap: '5m' }, 5 * MIN],
    [{ overlap: '0s' }, 0],
    [{ rotationInterval: '20m' }, 10 * MIN],
    [{ rotationInterval: '2h' }, HOUR],
    [{ rotationInterval: '5h' }, HOUR],
    [{ rotationInterval: '24h' }, HOUR],
    [{}, HOUR],
  ])('%j keeps the previous value %d ms', (secret, ms) => {
    expect(overlapMs(secret)).toBe(ms);
  });

  it('retires the previous value one overlap after the rotation', () => {
    const rotated = '2026-01-01T00:00:00Z';
    expect(retireAt({ rotationInterval: '20m' }, rotated).toISOString()).toBe('2026-01-01T00:10:00.000Z');
    expect(nextRotationAt({ rotationInterval: '20m' }, rotated).toISOString()).toBe(
      '2026-01-01T00:20:00.000Z',
    );
  });
});

describe('identity time rules', () => {
  it('warns a tenth of the ttl ahead, at most 7 days', () => {
    expect(expiryWarningLeadMs(10 * HOUR)).toBe(HOUR);
    expect(expiryWarningLeadMs(2160 * HOUR)).toBe(168 * HOUR);
  });

  it('ends a quarantine one quarantinePeriod after it starts', () => {
    const start = new Date('2026-01-01T00:00:00Z');
    expect(quarantinePeriodEnd({}, start).toISOString()).toBe('2026-01-02T00:00:00.000Z');
    expect(quarantinePeriodEnd({ quarantinePeriod: '1h' }, start).toISOString()).toBe(
      '2026-01-01T01:00:00.000Z',
    );
  });

  it('records last use in steps of a hundredth of the inactivity timeout, at least 1 s', () => {
    expect(lastUsedStepMs({})).toBe((720 * 60 * MIN) / 100);
    expect(lastUsedStepMs({ inactivityTimeout: '10m' })).toBe(6000);
    expect(lastUsedStepMs({ inactivityTimeout: '1s' })).toBe(1000);
  });

  it('falls back to the default for a malformed duration, and reports it as invalid', () => {
    expect(ttlMs({ ttl: 'soon' })).toBe(2160 * HOUR);
    expect(credentialTtlMs({ credentialTTL: 'soon' })).toBe(15 * MIN);
    expect(validCredentialTtlMs({ credentialTTL: 'soon' })).toBeUndefined();
    expect(validCredentialTtlMs({ credentialTTL: '0s' })).toBeUndefined();
    expect(validCredentialTtlMs({})).toBe(15 * MIN);
  });
});

describe('AWS session clamping', () => {
  it.each([
    [{}, 3600, 900],
    [{ credentialTTL: '5m' }, 3600, 600],
    [{ credentialTTL: '2h' }, 7200, 7200],
    [{ credentialTTL: '24h' }, 43_200, 86_400],
  ])('credentialTTL %j: MaxSessionDuration %d s, token %d s', (spec, session, token) => {
    expect(awsMaxSessionSeconds(spec)).toBe(session);
    expect(awsTokenExpirationSeconds(spec)).toBe(token);
  });
});

describe('the schema', () => {
  const spec = (
    AgentIdentitySchema.properties as Record<string, { properties: Record<string, Record<string, unknown>> }>
  ).spec;
  const perSecret = ['rotationInterval', 'restartWorkload'];
  it.each(Object.entries(SpecDefaults).filter(([k]) => !perSecret.includes(k)))(
    'states the default of %s from the one table',
    (field, value) => {
      expect(spec?.properties[field]?.default).toBe(value);
    },
  );
  it.each(perSecret)('states the default of secrets[].%s from the one table', (field) => {
    const secrets = spec?.properties.secrets as {
      items?: { properties?: Record<string, { default?: unknown }> };
    };
    expect(secrets.items?.properties?.[field]?.default).toBe(
      SpecDefaults[field as keyof typeof SpecDefaults],
    );
  });
});
