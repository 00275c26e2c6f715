// Secret value generators shared by every backend. Values never leave memory except to the backend
// and the target Secret. Each value is registered with the redaction (runtime/redact.ts) the moment
// it is made: a backend that answers a failed write with an error echoing the request would otherwise
// put a value no shape rule catches (a 16-character password) into status, an Event or the log.

import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import type { SecretGenerator } from '../api/v1alpha1/types.ts';
import { registerSecretValue } from '../runtime/redact.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export const DEFAULT_RANDOM_LENGTH = 40;
export const DEFAULT_HMAC_BYTES = 32;

/**
 * A new secret value as a string: random text, an HMAC key (base64), or an ed25519 key pair (JSON of
 * PEMs), registered with the redaction before it is returned.
 */
export function generateSecretValue(generator: SecretGenerator): string {
  const value = newValue(generator);
  registerSecretValue(value);
  return value;
}

function newValue(generator: SecretGenerator): string {
  switch (generator.type) {
    case 'random': {
      const length = generator.length ?? DEFAULT_RANDOM_LENGTH;
      let out = '';
      for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
      return out;
    }
    case 'hmac':
      return randomBytes(generator.length ?? DEFAULT_HMAC_BYTES).toString('base64');
    case 'ed25519': {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      return JSON.stringify({
        privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }),
        publicKey: publicKey.export({ type: 'spki', format: 'pem' }),
      });
    }
  }
}
