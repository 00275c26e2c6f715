// Signed checkpoints of the audit chain: {chain, seq, hash, time} signed with ed25519, so that an
// auditor holding only the public key can tell that no record up to `seq` was changed, removed or
// added, and that the trail was not cut short before it. Pure apart from node:crypto.

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
} from 'node:crypto';
import { canonicalJson } from './audit.ts';

export interface Checkpoint {
  /** The cluster's chain: chosen at genesis, kept by every later leader. */
  chain: string;
  /** The last record the checkpoint covers (0 = the empty chain at genesis). */
  seq: number;
  /** That record's hash. */
  hash: string;
  time: string;
  /** The operator process that signed it. */
  writer: string;
  /** Which key signed it: the first 16 hex digits of the SHA-256 of the public key (DER). */
  keyId: string;
  /** base64 ed25519 signature over the canonical JSON of every other field. */
  signature: string;
}

export type UnsignedCheckpoint = Omit<Checkpoint, 'keyId' | 'signature'>;

export interface AuditSigningKey {
  keyId: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

export function keyIdOf(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

export function generateSigningKey(): AuditSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    keyId: keyIdOf(publicKeyPem),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem,
  };
}

/** The key from its PEM (as stored in the Secret); refuses anything but ed25519. */
export function signingKeyFromPem(privateKeyPem: string): AuditSigningKey {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the audit signing key must be ed25519');
  const publicKeyPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
  return { keyId: keyIdOf(publicKeyPem), privateKeyPem, publicKeyPem };
}

function payload(checkpoint: UnsignedCheckpoint & { keyId: string }): Buffer {
  const { chain, seq, hash, time, writer, keyId } = checkpoint;
  return Buffer.from(canonicalJson({ chain, seq, hash, time, writer, keyId }));
}

export function signCheckpoint(unsigned: UnsignedCheckpoint, key: AuditSigningKey): Checkpoint {
  const withKey = { ...unsigned, keyId: key.keyId };
  const signature = sign(null, payload(withKey), createPrivateKey(key.privateKeyPem)).toString('base64');
  return { ...withKey, signature };
}

/** Whether the checkpoint was signed by the private half of `publicKeyPem` and is unchanged since. */
export function checkpointSignatureValid(checkpoint: Checkpoint, publicKeyPem: string): boolean {
  try {
    return verify(
      null,
      payload(checkpoint),
      createPublicKey(publicKeyPem),
      Buffer.from(checkpoint.signature, 'base64'),
    );
  } catch {
    return false;
  }
}

export function isCheckpoint(value: unknown): value is Checkpoint {
  const c = value as Partial<Checkpoint> | null;
  return (
    !!c &&
    typeof c === 'object' &&
    typeof c.chain === 'string' &&
    typeof c.seq === 'number' &&
    typeof c.hash === 'string' &&
    typeof c.time === 'string' &&
    typeof c.signature === 'string'
  );
}
