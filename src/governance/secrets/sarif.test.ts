import { describe, expect, it } from 'vitest';
import type { SecretFinding } from './detect.ts';
import { toSarif } from './sarif.ts';

const finding = (file: string, line: number, rule: string): SecretFinding => ({
  rule,
  fingerprint: '0123abcd',
  location: { kind: 'File', name: file, field: '', file, line },
});

interface Sarif {
  version: string;
  $schema: string;
  runs: Array<{
    tool: { driver: { name: string; rules: Array<{ id: string; shortDescription: { text: string } }> } };
    results: Array<{
      ruleId: string;
      ruleIndex: number;
      message: { text: string };
      locations: Array<{
        physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } };
      }>;
    }>;
  }>;
}

describe('toSarif', () => {
  it('writes SARIF 2.1.0 with one rule per matched rule and a location per result', () => {
    const sarif = toSarif(
      [
        finding('charts/app/values.yaml', 3, 'aws/AWSAccessKeyID'),
        finding('main.tf', 7, 'nhi/jwt'),
        finding('ci.yml', 1, 'nhi/jwt'),
      ],
      '1.2.3',
    ) as Sarif;
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.$schema).toMatch(/sarif-2\.1\.0/);
    const [run] = sarif.runs;
    expect(run?.tool.driver.rules.map((r) => r.id)).toEqual(['aws/AWSAccessKeyID', 'nhi/jwt']);
    expect(run?.tool.driver.rules.every((r) => r.shortDescription.text.length > 0)).toBe(true);
    expect(
      run?.results.map((r) => [
        r.ruleId,
        r.ruleIndex,
        r.locations[0]?.physicalLocation.artifactLocation.uri,
        r.locations[0]?.physicalLocation.region.startLine,
      ]),
    ).toEqual([
      ['aws/AWSAccessKeyID', 0, 'charts/app/values.yaml', 3],
      ['nhi/jwt', 1, 'main.tf', 7],
      ['nhi/jwt', 1, 'ci.yml', 1],
    ]);
    expect(run?.results[0]?.message.text).toContain('0123abcd');
  });

  it('writes an empty run when nothing was found', () => {
    const sarif = toSarif([], '1.2.3') as Sarif;
    expect(sarif.runs[0]?.results).toEqual([]);
    expect(sarif.runs[0]?.tool.driver.name).toBe('nhictl scan');
  });
});
