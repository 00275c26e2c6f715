// Credential-shaped values made at test time, so no key-shaped literal is ever committed. Each call
// returns a new value; tests then assert it appears in no output.

import { generateKeyPairSync, randomBytes } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function pick(alphabet: string, n: number): string {
  return Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join('');
}

/** `AKIA` + 16 random base32 characters: the shape of an AWS access key id. */
export const awsAccessKeyId = () => `AKIA${pick(BASE32, 16)}`;
/**
 * 40 characters of base64, the shape of an AWS secret access key, ending in a letter or digit:
 * secretlint's AWS rule closes its pattern with \b, so a key ending in / or + (about 3 in 100 random
 * ones) is found only by the entropy rule under its key name.
 */
export const awsSecretAccessKey = () => pick(`${ALNUM}/+`, 39) + pick(ALNUM, 1);
/** A GitHub personal access token shape. */
export const githubToken = () => `ghp_${pick(ALNUM, 36)}`;
/** A fresh RSA private key in PKCS#8 PEM. */
export const privateKeyPem = () =>
  generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
/** A signed-looking HS256 JWT with a random subject and signature. */
export function jwt(): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: pick(ALNUM, 12), iat: 1 })}.${randomBytes(32).toString('base64url')}`;
}
/** A high-entropy value that is not a credential (a build id): must not be reported under a benign name. */
export const buildId = () => randomBytes(20).toString('hex');
/** A random password-like value (24 characters, base64url). */
export const password = () => randomBytes(18).toString('base64url');
