// SARIF 2.1.0 for `nhictl scan -o sarif`, the format GitHub code scanning and GitLab read to
// annotate the lines of a pull request. One run, the rules that matched, one result per finding
// with the file and line; the message names the rule and fingerprint, never the value.

import { OwnRules, type SecretFinding } from './detect.ts';

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

function ruleText(rule: string): string {
  const own = (OwnRules as Record<string, string>)[rule];
  if (own) return own;
  const [name, messageId] = rule.split('/');
  return `secretlint rule @secretlint/secretlint-rule-${name} (${messageId}): a credential-shaped literal.`;
}

export function toSarif(findings: readonly SecretFinding[], version: string): unknown {
  const rules = [...new Set(findings.map((f) => f.rule))].sort();
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'nhictl scan',
            version,
            informationUri: 'https://github.com/secretlint/secretlint',
            rules: rules.map((id) => ({
              id,
              shortDescription: { text: ruleText(id) },
              helpUri: 'docs/secret-scanning.md',
              defaultConfiguration: { level: 'error' },
            })),
          },
        },
        results: findings.map((f) => ({
          ruleId: f.rule,
          ruleIndex: rules.indexOf(f.rule),
          level: 'error',
          message: {
            text: `Hard-coded credential (${f.rule}, fingerprint ${f.fingerprint}): move it into a managed secret or allow-list it with a reason.`,
          },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: f.location.file ?? f.location.name },
                region: { startLine: f.location.line ?? 1 },
              },
            },
          ],
          partialFingerprints: { 'nhiSecret/v1': f.fingerprint },
        })),
      },
    ],
  };
}
