// The webhook signature a receiver verifies: Standard Webhooks headers over id, timestamp and body.

import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SignatureHeaders, signatureHeaders, verifySignature } from './signature.ts';

const key = 'a-signing-key-made-for-this-test';
const body = '{"specversion":"1.0","id":"abc","type":"dev.nhi.identity.quarantined"}';
const at = new Date('2026-06-01T12:00:00Z');

describe('webhook signature', () => {
  it('is HMAC-SHA256 over "<id>.<timestamp>.<body>", base64, as v1', () => {
    const headers = signatureHeaders(key, 'abc', body, at);
    const expected = createHmac('sha256', key)
      .update(`abc.${at.getTime() / 1000}.${body}`)
      .digest('base64');
    expect(headers).toEqual({
      [SignatureHeaders.id]: 'abc',
      [SignatureHeaders.timestamp]: String(at.getTime() / 1000),
      [SignatureHeaders.signature]: `v1,${expected}`,
    });
    expect(verifySignature(key, headers, body, at)).toBeUndefined();
  });

  it.each([
    ['an edited body', (h: Record<string, string>) => [h, body.replace('quarantined', 'restored')]],
    ['another id', (h: Record<string, string>) => [{ ...h, [SignatureHeaders.id]: 'xyz' }, body]],
    [
      'a moved timestamp',
      (h: Record<string, string>) => [
        { ...h, [SignatureHeaders.timestamp]: String(at.getTime() / 1000 + 1) },
        body,
      ],
    ],
  ] as const)('refuses %s', (_what, change) => {
    const [headers, text] = change(signatureHeaders(key, 'abc', body, at));
    expect(verifySignature(key, headers as Record<string, string>, text as string, at)).toBe(
      'signature does not match',
    );
  });

  it('refuses a wrong key, a stale timestamp and missing headers', () => {
    const headers = signatureHeaders(key, 'abc', body, at);
    expect(verifySignature('another-key', headers, body, at)).toBe('signature does not match');
    expect(verifySignature(key, headers, body, new Date(at.getTime() + 301_000))).toBe(
      'webhook-timestamp outside tolerance',
    );
    expect(verifySignature(key, {}, body, at)).toContain('missing');
  });

  it('reads a whsec_ key as Standard Webhooks libraries do (base64 after the prefix)', () => {
    const raw = Buffer.from('raw key bytes');
    const headers = signatureHeaders(`whsec_${raw.toString('base64')}`, 'abc', body, at);
    expect(verifySignature(raw, headers, body, at)).toBeUndefined();
  });
});
