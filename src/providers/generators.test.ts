import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSecretValue } from './generators.ts';

describe('generateSecretValue', () => {
  it.each([
    [{ type: 'random' as const }, /^[A-Za-z0-9]{40}$/],
    [{ type: 'random' as const, length: 64 }, /^[A-Za-z0-9]{64}$/],
    [{ type: 'hmac' as const }, /^[A-Za-z0-9+/]{43}=$/],
  ])('%o produces a value of the right shape', (generator, shape) => {
    expect(generateSecretValue(generator)).toMatch(shape);
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
