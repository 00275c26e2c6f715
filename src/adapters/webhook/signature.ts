// The webhook signature, in the Standard Webhooks scheme (standardwebhooks.com): three headers,
//   webhook-id         the CloudEvents id (the same for every retry and redelivery of an occurrence)
//   webhook-timestamp  Unix seconds when the notification was signed
//   webhook-signature  `v1,<base64 HMAC-SHA256 over "<id>.<timestamp>.<body>">`
// keyed with the bytes of the IdentityPolicy's Secret (a `whsec_<base64>` value is decoded first, so
// Standard Webhooks libraries verify it as they are). verifySignature is what a receiver runs.

import { createHmac, timingSafeEqual } from 'node:crypto';

export const SignatureHeaders = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

/** How far a receiver should accept a timestamp from its own clock (replay window). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

const WHSEC = 'whsec_';

/** The HMAC key a Secret value stands for. */
export function signingKey(secret: Buffer | string): Buffer {
  const text = Buffer.isBuffer(secret) ? secret.toString('utf8') : secret;
  if (text.startsWith(WHSEC)) return Buffer.from(text.slice(WHSEC.length), 'base64');
  return Buffer.isBuffer(secret) ? secret : Buffer.from(secret, 'utf8');
}

function mac(key: Buffer, id: string, timestamp: string, body: string): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
}

/** The three headers for `body`, signed at `at`. */
export function signatureHeaders(
  secret: Buffer | string,
  id: string,
  body: string,
  at: Date,
): Record<string, string> {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  return {
    [SignatureHeaders.id]: id,
    [SignatureHeaders.timestamp]: timestamp,
    [SignatureHeaders.signature]: `v1,${mac(signingKey(secret), id, timestamp, body)}`,
  };
}

/**
 * A receiver's check: the signature matches the raw body, id and timestamp, and the timestamp is
 * within the tolerance of `now`. Returns why not, or undefined when it verifies.
 */
export function verifySignature(
  secret: Buffer | string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  now: Date = new Date(),
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): string | undefined {
  const one = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const id = one(SignatureHeaders.id);
  const timestamp = one(SignatureHeaders.timestamp);
  const signatures = one(SignatureHeaders.signature);
  if (!id || !timestamp || !signatures) return 'missing webhook-id, webhook-timestamp or webhook-signature';
  const seconds = Number(timestamp);
  if (!Number.isInteger(seconds)) return 'webhook-timestamp is not Unix seconds';
  if (Math.abs(now.getTime() / 1000 - seconds) > toleranceSeconds)
    return 'webhook-timestamp outside tolerance';
  const expected = Buffer.from(mac(signingKey(secret), id, timestamp, body));
  const matches = signatures
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .some((s) => {
      const given = Buffer.from(s.slice(3));
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
  return matches ? undefined : 'signature does not match';
}
