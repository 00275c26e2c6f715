import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  fakeAccessKeyId,
  fakeRsaPrivateKeyPem,
  fakeSecretAccessKey,
  fakeVaultToken,
} from '../../test/support/fake-credentials.ts';
import { createLogger, registerSecretValue } from './logger.ts';
import { clearRegisteredSecretValues, isSecretKey, maskSecrets, REDACTED } from './redact.ts';

function capture() {
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  const logger = createLogger({ stream, level: 'debug' });
  return {
    logger,
    output: async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return lines.join('\n');
    },
  };
}

const pem = fakeRsaPrivateKeyPem();
const jwt =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
const awsSecret = fakeSecretAccessKey();
const vaultToken = fakeVaultToken();
const accessKeyId = fakeAccessKeyId();
const legacyVaultToken = 's.Qf1s5zigZ4OX6akYjQXJC1jY';
const generated = 'Gen3rated-P4ss-only-we-know';

function secretError() {
  const root = new Error(`vault said: permission denied for token ${vaultToken}`);
  const err = new Error(`login failed with ${legacyVaultToken}`, { cause: root }) as Error & {
    token?: string;
  };
  err.token = 'tok-in-a-property-0123456789';
  return err;
}

// Each row: what is logged, and the secret that must not appear in the output.
const leaks: Array<[string, (log: ReturnType<typeof capture>['logger']) => void, string]> = [
  [
    'a password field',
    (l) => l.info('login', { password: 'hunter2-correct-horse' }),
    'hunter2-correct-horse',
  ],
  [
    'a nested token field',
    (l) => l.info('cfg', { spec: { auth: { token: 'plain-token-value-1' } } }),
    'plain-token-value-1',
  ],
  [
    'an AWS secret key field',
    (l) => l.info('aws', { secretAccessKey: 'x-secret-access-value' }),
    'x-secret-access-value',
  ],
  [
    'a session token field',
    (l) => l.info('sts', { SessionToken: 'FwoGZXIvYXdzEBY-session' }),
    'FwoGZXIvYXdzEBY-session',
  ],
  [
    'an authorization header',
    (l) => l.info('req', { headers: { Authorization: 'Custom abc-def-123' } }),
    'abc-def-123',
  ],
  ['a value field', (l) => l.info('kv', { key: 'db', value: 'kv-value-is-secret' }), 'kv-value-is-secret'],
  [
    'the data of a Secret',
    (l) => l.info('got', { secret: { kind: 'Secret', data: { pw: 'c2VjcmV0LWRhdGEtYmFzZTY0' } } }),
    'c2VjcmV0LWRhdGEtYmFzZTY0',
  ],
  [
    'stringData of a Secret',
    (l) => l.info('got', { obj: { stringData: { pw: 'string-data-pw' } } }),
    'string-data-pw',
  ],
  ['a PEM block in the message', (l) => l.info(`loaded key ${pem}`), 'MIIEowIBAAKCAQEA0Z3VS5JJcds3'],
  [
    'an unterminated PEM block',
    (l) => l.info('k', { note: pem.slice(0, 90) }),
    'MIIEowIBAAKCAQEA0Z3VS5JJcds3',
  ],
  ['a JWT in a nested string', (l) => l.info('sa', { tokens: [{ note: `jwt=${jwt}` }] }), jwt.split('.')[1]!],
  ['a Vault hvs. token in a message', (l) => l.warn(`renew ${vaultToken} failed`), vaultToken.slice(4)],
  [
    'a legacy s. Vault token',
    (l) => l.warn('renew', { detail: `using ${legacyVaultToken}` }),
    legacyVaultToken.slice(2),
  ],
  ['an AWS key pair in text', (l) => l.info(`creds ${accessKeyId} ${awsSecret}`), awsSecret],
  ['a Bearer credential', (l) => l.info('call', { header: `Bearer ${jwt}x` }), jwt.slice(10)],
  ['a Bearer opaque token', (l) => l.info('Authorization: Bearer opaque-token-123'), 'opaque-token-123'],
  [
    'a password in a URL',
    (l) => l.info('dial', { url: 'postgres://app:pa55word-x@db:5432/x' }),
    'pa55word-x',
  ],
  ['an Error message and its cause', (l) => l.error('failed', { err: secretError() }), vaultToken.slice(4)],
  ['an Error logged directly', (l) => l.error(secretError()), legacyVaultToken.slice(2)],
  [
    'a secret property of an Error',
    (l) => l.error('failed', { err: secretError() }),
    'tok-in-a-property-0123456789',
  ],
  ['a registered value anywhere', (l) => l.info(`made ${generated} for ns/bot`), generated],
  [
    'a registered value in base64',
    (l) => l.info('patch', { body: Buffer.from(generated).toString('base64') }),
    Buffer.from(generated).toString('base64'),
  ],
  [
    'a secret in a Map',
    (l) => l.info('m', { m: new Map([['apiKey', 'map-api-key-value']]) }),
    'map-api-key-value',
  ],
  [
    'a secret in a Buffer',
    (l) => l.info('b', { raw: Buffer.from('buffer-secret-bytes') }),
    'buffer-secret-bytes',
  ],
  [
    'a random 40-character token',
    (l) => l.info('x', { note: 'k=Zx8Qm2Lr7Tp4Vn1Ws6Yb3Hc9Jd5Kf0Ga8Ne2Ru4' }),
    'Zx8Qm2Lr',
  ],
  [
    'a GitHub token',
    (l) => l.info('gh', { note: 'ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ012345' }),
    'aBcDeFgHiJkLmNoPq',
  ],
];

describe('logger redaction', () => {
  afterEach(() => clearRegisteredSecretValues());

  it.each(leaks)('masks %s', async (_name, log, secret) => {
    registerSecretValue(generated);
    const { logger, output } = capture();
    log(logger);
    const text = await output();
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain(secret);
    expect(text).toContain(REDACTED);
  });

  it('keeps fields that only name a secret, and never modifies the logged object', async () => {
    const { logger, output } = capture();
    const obj = {
      key: 'ns/bot',
      secretName: 'bot-creds',
      credentialTTL: '1h',
      tokenExpirySeconds: 600,
      password: 'pw-1234',
    };
    logger.info('reconciled', obj);
    const line = JSON.parse(await output());
    expect(line).toMatchObject({
      key: 'ns/bot',
      secretName: 'bot-creds',
      credentialTTL: '1h',
      tokenExpirySeconds: 600,
    });
    expect(line.password).toBe(REDACTED);
    expect(obj.password).toBe('pw-1234');
  });

  it('survives circular references', async () => {
    const { logger, output } = capture();
    const a: Record<string, unknown> = { name: 'a', token: 'circular-token' };
    a.self = a;
    logger.info('loop', { a });
    expect(await output()).toContain('[Circular]');
  });

  it.each([
    ['a Kubernetes path', '/apis/nhi.dev/v1alpha1/namespaces/team-a/agentidentities/bot'],
    ['a git sha', '5f1c0a9d3b7e2f4c6a8b0d1e3f5a7c9b1d3e5f7a'],
    ['a uid', 'c0a8f9e2-4b1d-4c3e-9f5a-1b2c3d4e5f60'],
    ['a long readable name', 'integration-test-namespace-1234/MyDeploymentName'],
    ['a file path in a stack', 'at load (/work/main/node_modules/tsx/dist/register-D46fvsV_.cjs:22:2188)'],
  ])('leaves %s readable', (_name, text) => {
    expect(maskSecrets(text)).toBe(text);
  });

  it.each([
    ['password', true],
    ['clientSecret', true],
    ['privateKey', true],
    ['data', true],
    ['key', false],
    ['secretName', false],
    ['secretRef', false],
    ['accessKeyId', false],
    ['tokenTTL', false],
  ])('treats field %s as secret: %s', (key, secret) => {
    expect(isSecretKey(key)).toBe(secret);
  });
});
