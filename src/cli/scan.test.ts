// `nhictl scan` on a tree generated at test time: Helm values and a chart rendered by the project's
// helm, a Terraform file, a CI workflow and an allow-listed fixture. The planted values are made
// here and must appear in no output.

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../dev/components.ts';
import { fingerprint } from '../governance/secrets/detect.ts';
import {
  awsAccessKeyId,
  awsSecretAccessKey,
  githubToken,
  jwt,
  password,
  privateKeyPem,
} from '../governance/secrets/testing/generated.ts';
import { findHelm } from './scan.ts';

const run = promisify(execFile);
const planted = {
  valuesKey: awsAccessKeyId(),
  templateToken: githubToken(),
  terraformSecret: awsSecretAccessKey(),
  workflowJwt: jwt(),
  fixturePassword: password(),
  kustomizeKey: privateKeyPem(),
};
let root = '';

function write(path: string, text: string): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'nhi-scan-'));
  write('chart/Chart.yaml', 'apiVersion: v2\nname: app\nversion: 0.1.0\n');
  write('chart/values.yaml', `replicas: 1\naws:\n  accessKeyId: ${planted.valuesKey}\n`);
  // Only the rendering shows this one: the token is assembled by the template.
  const [head, tail] = [planted.templateToken.slice(0, 10), planted.templateToken.slice(10)];
  write(
    'chart/templates/deployment.yaml',
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  note: hello\n  gh: {{ printf "%s%s" "${head}" "${tail}" }}\n`,
  );
  write(
    'infra/main.tf',
    `provider "aws" {\n  region = "eu-west-1"\n  aws_secret_access_key = "${planted.terraformSecret}"\n}\n`,
  );
  write(
    '.github/workflows/ci.yml',
    `on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: curl -H "Authorization: Bearer ${planted.workflowJwt}" https://example.test\n`,
  );
  write('overlays/prod/kustomization.yaml', 'resources:\n  - key.yaml\n');
  write(
    'overlays/prod/key.yaml',
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: k\ndata:\n  key.pem: |\n${planted.kustomizeKey
      .trim()
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n')}\n`,
  );
  write('test/fixtures/db.yaml', `db_password: ${planted.fixturePassword}\n`);
  write(
    'allow.yaml',
    'allow:\n  - path: test/fixtures/db.yaml\n    rule: nhi/high-entropy-under-key\n    reason: a throwaway password of the local test database\n',
  );
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function nhictl(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(repoRoot, 'bin', 'nhictl.js'), ...args], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

function expectNoPlantedValue(text: string): void {
  for (const value of Object.values(planted)) {
    expect(text).not.toContain(value);
    expect(text).not.toContain(value.trim().split('\n')[1] ?? value);
  }
}

interface Report {
  files: number;
  findings: Array<{
    rule: string;
    fingerprint: string;
    location: { file: string; line: number; field: string };
  }>;
  allowed: Array<{ rule: string; reason: string; location: { file: string } }>;
  notes: string[];
}

// Each case runs nhictl as a child process (and helm for the chart): give it room on a loaded machine.
describe('nhictl scan', { timeout: 60_000 }, () => {
  it('finds the project helm, so the chart is rendered rather than read as text', () => {
    expect(findHelm(undefined)).toBeDefined();
  });

  it('finds each planted value with file and line, passes the allow-listed one, exits 1', async () => {
    const { stdout, stderr, code } = await nhictl('scan', '.', '--allow', 'allow.yaml', '-o', 'json');
    expect(code).toBe(1);
    expectNoPlantedValue(stdout + stderr);
    const report = JSON.parse(stdout) as Report;
    // secretlint's AWS secret-key rule passes over some random 40-character values (its own
    // heuristics); the entropy rule then reports the same place, which is what matters here.
    const rule = (f: { rule: string }) =>
      f.rule === 'nhi/high-entropy-under-key' ? 'aws/AWSSecretAccessKey' : f.rule;
    const where = report.findings.map((f) => [f.location.file, f.location.line, rule(f)]).sort();
    expect(where).toEqual(
      [
        ['.github/workflows/ci.yml', 6, 'nhi/jwt'],
        ['chart/templates/deployment.yaml', 7, 'github/GITHUB_TOKEN'],
        ['chart/values.yaml', 3, 'aws/AWSAccessKeyID'],
        ['infra/main.tf', 3, 'aws/AWSSecretAccessKey'],
        ['overlays/prod/key.yaml', 7, 'privatekey/PrivateKey'],
      ].sort(),
    );
    expect(report.findings.find((f) => f.rule === 'aws/AWSAccessKeyID')?.fingerprint).toBe(
      fingerprint(planted.valuesKey),
    );
    expect(report.allowed).toEqual([
      expect.objectContaining({
        rule: 'nhi/high-entropy-under-key',
        reason: 'a throwaway password of the local test database',
        location: expect.objectContaining({ file: 'test/fixtures/db.yaml' }),
      }),
    ]);
    expect(report.notes).toEqual([]);
  });

  it('writes SARIF 2.1.0 that names each rule and line', async () => {
    const { stdout, code } = await nhictl('scan', '.', '--allow', 'allow.yaml', '-o', 'sarif');
    expect(code).toBe(1);
    expectNoPlantedValue(stdout);
    const sarif = JSON.parse(stdout);
    expect(sarif.version).toBe('2.1.0');
    const [run] = sarif.runs;
    const ruleIds = run.tool.driver.rules.map((r: { id: string }) => r.id);
    expect(run.results).toHaveLength(5);
    for (const result of run.results) {
      expect(ruleIds).toContain(result.ruleId);
      expect(result.message.text).toBeTruthy();
      expect(result.locations[0].physicalLocation.artifactLocation.uri).toMatch(/^[^/]/);
      expect(result.locations[0].physicalLocation.region.startLine).toBeGreaterThan(0);
    }
  });

  it('prints a table without values and exits 0 when everything found is allowed', async () => {
    const { stdout, code } = await nhictl('scan', 'test/fixtures', '--allow', 'allow.yaml');
    expect(code).toBe(0);
    expect(stdout).toContain('no hard-coded credentials');
    expect(stdout).toContain('a throwaway password of the local test database');
    expectNoPlantedValue(stdout);
  });

  it('rejects an allow-list entry without a reason', async () => {
    write('bad-allow.yaml', 'allow:\n  - fingerprint: 0123abcd\n');
    const { stderr, code } = await nhictl('scan', 'infra', '--allow', 'bad-allow.yaml');
    expect(code).toBe(1);
    expect(stderr).toContain('allow[0] has no reason');
  });
});
