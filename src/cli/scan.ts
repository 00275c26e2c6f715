// `nhictl scan PATH...`: hard-coded credentials in a repository before merge (manifests, kustomize
// trees, Helm values and charts, Terraform, CI workflows), with the rules the cluster inventory
// uses. Table, json or SARIF; exit code 1 when anything not allow-listed is found. No value is ever
// printed: a finding is a file, a line, a rule and a fingerprint.

import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { type Command, Option } from 'commander';
import { componentPaths, repoRoot } from '../dev/components.ts';
import { describeLocation, type SecretFinding } from '../governance/secrets/detect.ts';
import { toSarif } from '../governance/secrets/sarif.ts';
import { type AllowEntry, applyAllowList, parseAllowList, scanPaths } from '../governance/secrets/scan.ts';
import { formatListing, renderTable } from './output.ts';

export type ScanFormat = 'table' | 'json' | 'yaml' | 'sarif';

/** `--helm`, else the helm of the local environment (nhictl dev), else helm on PATH; undefined when none. */
export function findHelm(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (explicit) return explicit;
  const local = componentPaths(env).helm;
  if (existsSync(local)) return local;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'helm'))) return join(dir, 'helm');
  }
  return undefined;
}

export interface ScanReport {
  files: number;
  findings: SecretFinding[];
  allowed: Array<SecretFinding & { reason: string }>;
  notes: string[];
}

export function renderScanTable(report: ScanReport): string {
  const lines = [
    report.findings.length === 0
      ? `no hard-coded credentials in ${report.files} files`
      : renderTable(
          ['FILE', 'LINE', 'RULE', 'FINGERPRINT'],
          report.findings.map((f) => [
            f.location.file ?? f.location.name,
            String(f.location.line ?? '-'),
            f.rule,
            f.fingerprint,
          ]),
          96,
        ),
  ];
  if (report.findings.length > 0)
    lines.push('', `${report.findings.length} findings in ${report.files} files`);
  if (report.allowed.length > 0) {
    lines.push('', 'Allowed:');
    for (const a of report.allowed) lines.push(`  ${describeLocation(a.location)} ${a.rule}: ${a.reason}`);
  }
  for (const note of report.notes) lines.push(`note: ${note}`);
  return lines.join('\n');
}

export function formatScanReport(format: ScanFormat, report: ScanReport, version: string): string {
  if (format === 'sarif') return `${JSON.stringify(toSarif(report.findings, version), null, 2)}\n`;
  return formatListing(format, { data: report, human: () => renderScanTable(report) });
}

function packageVersion(): string {
  try {
    return String(JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version);
  } catch {
    return 'unknown';
  }
}

export function registerScanCommand(program: Command): void {
  program
    .command('scan')
    .description(
      'find hard-coded credentials in files and directories (manifests, Helm charts, kustomize, Terraform, CI workflows) before merge; exit 1 on findings',
    )
    .argument('<path...>', 'files or directories to scan')
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(['table', 'json', 'yaml', 'sarif'])
        .default('table'),
    )
    .option('--allow <file>', 'allow-list (YAML: allow: [{fingerprint | path + rule, reason}])')
    .option('--helm <path>', 'helm binary used to render charts (default: the local environment, then PATH)')
    .action(async (paths: string[], options: { output: ScanFormat; allow?: string; helm?: string }) => {
      const entries: AllowEntry[] = options.allow
        ? parseAllowList(readFileSync(options.allow, 'utf8'), options.allow)
        : [];
      const scanned = await scanPaths(paths, { helm: findHelm(options.helm) });
      const { findings, allowed } = applyAllowList(scanned.findings, entries);
      const report: ScanReport = { files: scanned.files, findings, allowed, notes: scanned.notes };
      process.stdout.write(formatScanReport(options.output, report, packageVersion()));
      if (findings.length > 0) process.exitCode = 1;
    });
}
