// Redaction: no secret value may reach a log line or an Event note. Three nets, applied
// recursively to everything logged (objects, arrays, Errors with their causes):
//  1. by key   — a field whose name looks secret (password, token, secret, data of a Secret ...)
//                is replaced whole;
//  2. by shape — strings are scanned for PEM blocks, JWTs, Vault tokens, AWS secret keys, Bearer
//                credentials, passwords in URLs and long random-looking tokens;
//  3. by value — every value the operator generated and registered is masked by exact match.

export const REDACTED = '[REDACTED]';

const secretKey =
  /passw|passphrase|pwd|secret|token|authorization|cookie|credential|api[-_]?key|private[-_]?key|signing[-_]?key|client[-_]?key|session[-_]?key|access[-_]?key(?!.?id)|key[-_]?(data|material)|^(value|data|stringdata|binarydata|key|cert|certificate|tls\.key|ssh-privatekey|dockerconfigjson|\.dockerconfigjson)$/i;

/** Names that mention a secret without holding one: `secretName`, `tokenTTL`, `credentialRef` ... */
const secretMetadataKey =
  /(name|names|namespace|ref|refs|ttl|seconds|path|arn|id|ids|count|kind|type|expiry|expires|expiresat|time|timestamp|version|generation|reason|phase)$/i;

/** Field names whose value is a plain identifier even though the name is generic. */
const identifierKeys = new Set(['key']);

export function isSecretKey(key: string): boolean {
  if (identifierKeys.has(key)) return false;
  return secretKey.test(key) && !secretMetadataKey.test(key);
}

const patterns: Array<[RegExp, string]> = [
  [/-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(-----END [A-Z0-9 ]+-----|$)/g, REDACTED],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, REDACTED],
  [/\b(hv[sbr])\.[A-Za-z0-9_-]{20,}/g, '$1.[REDACTED]'],
  [/\b([sbr])\.[A-Za-z0-9]{24,}\b/g, '$1.[REDACTED]'],
  [/\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}/gi, `$1 ${REDACTED}`],
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:)[^@\s/]+@/gi, `$1${REDACTED}@`],
  [/\b(gh[pousr]_|github_pat_|xox[abpr]-|glpat-|sk-)[A-Za-z0-9_-]{16,}/g, `$1${REDACTED}`],
];

/** Runs of base64/base64url characters long enough to be a key; masked if they look random. */
const longToken = /(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/=_-]{40,}(?![A-Za-z0-9+/=_-])/g;

function looksRandom(token: string): boolean {
  if (!/[a-z]/.test(token) || !/[A-Z]/.test(token) || !/[0-9]/.test(token)) return false;
  // Mixing the base64 (+/) and base64url (-_) alphabets means a path, not one encoded secret.
  if (/[+/]/.test(token) && /[-_]/.test(token)) return false;
  return entropyBitsPerChar(token) > 4.2;
}

function entropyBitsPerChar(text: string): number {
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= (n / text.length) * Math.log2(n / text.length);
  return bits;
}

const registered = new Set<string>();
/** The most recent values are kept; the oldest are forgotten beyond this (memory and speed). */
const maxRegistered = 3 * 4096;

/**
 * Masks `value` by exact match everywhere it appears from now on (also in base64 and base64url).
 * Values shorter than 6 characters are ignored: masking them would garble unrelated text.
 */
export function registerSecretValue(value: string): void {
  if (value.length < 6) return;
  for (const form of [
    value,
    Buffer.from(value).toString('base64'),
    Buffer.from(value).toString('base64url'),
  ]) {
    registered.delete(form);
    registered.add(form);
  }
  for (const oldest of registered) {
    if (registered.size <= maxRegistered) break;
    registered.delete(oldest);
  }
}

/** For tests only. */
export function clearRegisteredSecretValues(): void {
  registered.clear();
}

/** Masks every secret-shaped substring of `text`. */
export function maskSecrets(text: string): string {
  let out = text;
  for (const value of registered) if (out.includes(value)) out = out.split(value).join(REDACTED);
  for (const [pattern, replacement] of patterns) out = out.replace(pattern, replacement);
  return out.replace(longToken, (token) => (looksRandom(token) ? REDACTED : token));
}

/** A redacted deep copy of `value`; the original is never modified. */
export function redact(value: unknown): unknown {
  return redactValue(value, new WeakSet(), 0);
}

const maxDepth = 12;

function redactValue(value: unknown, seen: WeakSet<object>, depth: number): unknown {
  if (typeof value === 'string') return maskSecrets(value);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= maxDepth) return '[Truncated]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, seen, depth + 1));
  if (value instanceof Error) return redactError(value, seen, depth);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Map) return redactEntries([...value.entries()], seen, depth);
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return REDACTED;
  return redactEntries(Object.entries(value), seen, depth);
}

/** A redacted copy of the value of field `key`: masked whole when the key looks secret. */
export function redactField(key: string, value: unknown): unknown {
  return fieldValue(key, value, new WeakSet(), 0);
}

function fieldValue(key: string, value: unknown, seen: WeakSet<object>, depth: number): unknown {
  if (isSecretKey(key) && value !== undefined && value !== null && value !== '') return REDACTED;
  return redactValue(value, seen, depth);
}

function redactEntries(entries: Array<[unknown, unknown]>, seen: WeakSet<object>, depth: number) {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) out[String(k)] = fieldValue(String(k), v, seen, depth + 1);
  return out;
}

function redactError(err: Error, seen: WeakSet<object>, depth: number): Record<string, unknown> {
  const fields = redactEntries(Object.entries(err), seen, depth);
  const out: Record<string, unknown> = { ...fields, name: err.name, message: maskSecrets(err.message) };
  if (err.stack) out.stack = maskSecrets(err.stack);
  if (err.cause !== undefined) out.cause = redactValue(err.cause, seen, depth + 1);
  return out;
}
