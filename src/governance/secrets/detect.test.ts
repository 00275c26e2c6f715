import { describe, expect, it } from 'vitest';
import {
  detectSecrets,
  fingerprint,
  scanAnnotations,
  scanConfigMapData,
  scanPodSpec,
  shannonEntropy,
} from './detect.ts';
import {
  awsAccessKeyId,
  awsSecretAccessKey,
  buildId,
  githubToken,
  jwt,
  password,
  privateKeyPem,
} from './testing/generated.ts';

const deployment = { kind: 'Deployment', namespace: 'apps', name: 'web' };

describe('detectSecrets', () => {
  it.each([
    ['an AWS access key id', () => `id: ${awsAccessKeyId()}`, 'aws/AWSAccessKeyID'],
    [
      'an AWS secret access key',
      () => `AWS_SECRET_ACCESS_KEY: ${awsSecretAccessKey()}`,
      'aws/AWSSecretAccessKey',
    ],
    ['a GitHub token', () => `token: ${githubToken()}`, 'github/GITHUB_TOKEN'],
    ['a private key', () => privateKeyPem(), 'privatekey/PrivateKey'],
    ['a JWT', () => `header: ${jwt()}`, 'nhi/jwt'],
    ['a password', () => `db_password: ${password()}`, 'nhi/high-entropy-under-key'],
  ])('finds %s with its line', async (_what, make, rule) => {
    const text = `# config\n${make()}\n`;
    const found = await detectSecrets(text, { source: 'values.yaml' });
    expect(found.map((f) => f.rule)).toContain(rule);
    expect(found.find((f) => f.rule === rule)?.location).toEqual({
      kind: 'File',
      name: 'values.yaml',
      field: '',
      file: 'values.yaml',
      line: 2,
    });
  });

  it('does not report a high-entropy value under a benign name', async () => {
    expect(
      await detectSecrets(`BUILD_SHA: ${buildId()}\ncommit: ${buildId()}\n`, { source: 'x.yaml' }),
    ).toEqual([]);
  });

  it('does not report templated values under key-like names', async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${VAR} reference is the input under test
    const text = 'password: ${DB_PASSWORD_FROM_VAULT_XYZ}\ntoken: "{{ .Values.tokenFromTheSecret }}"\n';
    expect(await detectSecrets(text, { source: 'x.yaml' })).toEqual([]);
  });

  it('names a manifest env value by the name above it', async () => {
    const value = password();
    const text = `env:\n  - name: API_TOKEN\n    value: ${value}\n`;
    const [found] = await detectSecrets(text, { source: 'deploy.yaml' });
    expect(found).toMatchObject({ rule: 'nhi/high-entropy-under-key', location: { line: 3 } });
  });

  it('returns a fingerprint, never the value', async () => {
    const value = githubToken();
    const found = await detectSecrets(`token: ${value}`, { source: 'x.yaml' });
    expect(found[0]?.fingerprint).toBe(fingerprint(value));
    expect(found[0]?.fingerprint).toMatch(/^[0-9a-f]{8}$/);
    expect(JSON.stringify(found)).not.toContain(value);
  });

  it('measures entropy in bits per character', () => {
    expect(shannonEntropy('aaaa')).toBe(0);
    expect(shannonEntropy('abcd')).toBe(2);
  });
});

describe('scanPodSpec', () => {
  it('finds literal env values, args and commands by container and field', async () => {
    const [key, token, secret] = [awsAccessKeyId(), githubToken(), password()];
    const found = await scanPodSpec(
      {
        initContainers: [{ name: 'init', command: ['sh', '-c', `curl -H "x: ${token}"`] }],
        containers: [
          {
            name: 'app',
            env: [
              { name: 'AWS_ACCESS_KEY_ID', value: key },
              { name: 'BUILD_SHA', value: buildId() },
              { name: 'FROM_SECRET' },
            ],
            args: ['--client-secret', secret],
          },
        ],
      },
      deployment,
    );
    expect(found.map((f) => [f.location.container, f.location.field, f.rule])).toEqual([
      ['init', 'command[2]', 'github/GITHUB_TOKEN'],
      ['app', 'env[AWS_ACCESS_KEY_ID]', 'aws/AWSAccessKeyID'],
      ['app', 'args[1]', 'nhi/high-entropy-under-key'],
    ]);
    expect(found[1]?.location).toEqual({ ...deployment, container: 'app', field: 'env[AWS_ACCESS_KEY_ID]' });
  });
});

describe('ConfigMaps and annotations', () => {
  it('finds a private key in ConfigMap data with the line inside the value', async () => {
    const found = await scanConfigMapData(
      { 'app.conf': `mode=prod\n${privateKeyPem()}` },
      { kind: 'ConfigMap', namespace: 'apps', name: 'conf' },
    );
    expect(found).toEqual([
      expect.objectContaining({
        rule: 'privatekey/PrivateKey',
        location: { kind: 'ConfigMap', namespace: 'apps', name: 'conf', field: 'data[app.conf]', line: 2 },
      }),
    ]);
  });

  it('finds a token in an annotation and skips last-applied-configuration', async () => {
    const token = githubToken();
    const found = await scanAnnotations(
      { 'example.com/token': token, 'kubectl.kubernetes.io/last-applied-configuration': `{"t":"${token}"}` },
      deployment,
    );
    expect(found.map((f) => f.location.field)).toEqual(['metadata.annotations[example.com/token]']);
  });
});
