// Credential-shaped values made at test time, so no key, token or private key is ever committed,
// not even a fake one. They have the shapes redaction and the providers must recognise.

import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';

const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const BASE64ISH = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+';

function pick(alphabet: string, length: number): string {
  return Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join('');
}

/** An AWS access key id shape: AKIA + 16 upper-case characters. */
export const fakeAccessKeyId = (): string => `AKIA${pick(UPPER_ALNUM, 16)}`;

/** An AWS secret access key shape: 40 base64-ish characters. */
export const fakeSecretAccessKey = (): string => pick(BASE64ISH, 40);

/** A Vault/OpenBao service token shape (hvs.). */
export const fakeVaultToken = (): string => `hvs.${randomBytes(24).toString('base64url')}`;

/** A real, throwaway RSA private key in PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"). */
export function fakeRsaPrivateKeyPem(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  return privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
}
