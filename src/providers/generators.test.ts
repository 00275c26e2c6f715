import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { maskSecrets, REDACTED } from '../runtime/redact.ts';
import { generateSecretValue } from './generators.ts';

describe('generateSecretValue', () => {
  it.each([
    [{ type: 'random' as const }, /^[A-Za-z0-9]{40}$/],
    [{ type: 'random' as const, length: 64 }, /^[A-Za-z0-9]{64}$/],
    [{ type: 'hmac' as const }, /^[A-Za-z0-9+/]{43}=$/],
  ])('%o produces a value of the right shape', (generator, shape) => {
    expect(generateSecretValue(generator)).toMatch(shape);
  });

  it('registers each value with the redaction as it is made, before any backend can echo it in an error', () => {
    // Short enough that no shape rule would mask it: only its registration can.
    const value = generateSecretValue({ type: 'random', length: 16 });
    const echoed = `HTTP 500: POST rejected: {"data":{"value":"${value}"}}`;
    expect(maskSecrets(echoed)).toBe(`HTTP 500: POST rejected: {"data":{"value":"${REDACTED}"}}`);
    expect(maskSecrets(Buffer.from(value).toString('base64'))).toBe(REDACTED);
  });

  it('never repeats a value', () => {
    const values = new Set(Array.from({ length: 200 }, () => generateSecretValue({ type: 'random' })));
    expect(values.size).toBe(200);
  });

  it('produces a usable ed25519 key pair', () => {
    const pair = JSON.parse(generateSecretValue({ type: 'ed25519' })) as {
      privateKey: string;
      publicKey: string;
    };
    expect(createPrivateKey(pair.privateKey).asymmetricKeyType).toBe('ed25519');
    expect(pair.publicKey).toContain('BEGIN PUBLIC KEY');
  });
});
