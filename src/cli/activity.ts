// `nhictl activity NAME`: what one AgentIdentity did, from the real audit logs: the apiserver's
// audit log (its ServiceAccount's requests), OpenBao's file audit device (its kubernetes auth role's
// requests) and CloudTrail files (its IAM role's calls). Attribution is governance/activity; this
// file reads the AgentIdentity and the files and prints. Nothing secret is read or printed: the
// parsers keep only who, verb, resource, outcome, source address and time.

import * as k8s from '@kubernetes/client-node';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { parseDuration } from '../api/v1alpha1/duration.ts';
import type { ActivityAnomaly, AgentIdentity, RightSizingStatus } from '../api/v1alpha1/types.ts';
import { GROUP, VERSION } from '../api/v1alpha1/types.ts';
import { readEnvironment } from '../dev/environment.ts';
import {
  type ActivityEvent,
  type ActivityRecord,
  type ActivitySource,
  attribute,
  type BackendSummary,
  matches,
  type ParseStats,
  principalsOf,
  type ReadFilter,
  readActivityFile,
  summarize,
} from '../governance/activity/index.ts';
import { distinctUses, rightSize } from '../governance/activity/rightsize.ts';
import { devDir } from './dev.ts';
import { currentNamespace, loadKubeConfig } from './kube.ts';
import { type OutputFormat, outputOption, printListing, renderTable } from './output.ts';

export interface ActivityFiles {
  kubeAuditLog?: string;
  vaultAuditLog?: string;
  cloudTrail?: string[];
}

export interface SourceRead extends ParseStats {
  source: ActivitySource;
  file: string;
}

export interface ActivityReport {
  identity: { namespace: string; name: string; owner: string; purpose: string };
  since: string;
  generatedAt: string;
  sources: SourceRead[];
  summary: BackendSummary[];
  records: ActivityRecord[];
  /** The identity's grants against its allowed requests since `since` (absent: it has no scopes). */
  rightSizing?: RightSizingStatus;
  /** The anomalies the operator found and recorded (status.activity.anomalies) since `since`. */
  anomalies: ActivityAnomaly[];
}

const BACKEND_OF_SOURCE: Record<ActivitySource, BackendSummary['backend']> = {
  kubernetes: 'kubernetes',
  vault: 'vault',
  cloudtrail: 'aws',
};

function filesToRead(files: ActivityFiles): Array<{ source: ActivitySource; file: string }> {
  return [
    ...(files.kubeAuditLog ? [{ source: 'kubernetes' as const, file: files.kubeAuditLog }] : []),
    ...(files.vaultAuditLog ? [{ source: 'vault' as const, file: files.vaultAuditLog }] : []),
    ...(files.cloudTrail ?? []).map((file) => ({ source: 'cloudtrail' as const, file })),
  ];
}

export async function activityReport(
  identity: AgentIdentity,
  files: ActivityFiles,
  since: Date,
  now: Date,
): Promise<ActivityReport> {
  const wanted = filesToRead(files);
  if (wanted.length === 0) {
    throw new Error(
      'no audit source: pass --kube-audit-log, --vault-audit-log or --cloudtrail (or run nhictl dev up)',
    );
  }
  const principals = principalsOf(identity);
  const filter: ReadFilter = {
    needles: [principals.serviceAccount.name, principals.vaultRole ?? '', principals.awsRoleName ?? ''],
    keep: (event) => Date.parse(event.time) >= since.getTime() && matches(event, principals),
  };
  const sources: SourceRead[] = [];
  const events = [];
  for (const { source, file } of wanted) {
    const stats = { lines: 0, skipped: 0 };
    events.push(...(await readActivityFile(source, file, stats, filter)));
    sources.push({ source, file, ...stats });
  }
  const records = attribute(events, [identity], { since });
  const rightSizing = rightSizingOf(identity, events, sources, since);
  return {
    identity: {
      namespace: identity.metadata.namespace ?? '',
      name: identity.metadata.name,
      owner: identity.spec.owner?.team ?? '',
      purpose: identity.spec.purpose ?? '',
    },
    since: since.toISOString(),
    generatedAt: now.toISOString(),
    sources,
    summary: summarize(records),
    records,
    ...(rightSizing ? { rightSizing } : {}),
    anomalies: (identity.status?.activity?.anomalies ?? []).filter(
      (a) => Date.parse(a.time) >= since.getTime(),
    ),
  };
}

/**
 * Grants against the uses read. Complete when every file starts at or before `since` and the
 * identity existed by then; each backend is judged only if one of its sources was read.
 */
function rightSizingOf(
  identity: AgentIdentity,
  events: readonly ActivityEvent[],
  sources: readonly SourceRead[],
  since: Date,
): RightSizingStatus | undefined {
  if (!identity.spec.scopes?.length) return undefined;
  const starts = sources.map((s) => (s.firstEvent ? Date.parse(s.firstEvent) : Number.POSITIVE_INFINITY));
  const start = Math.max(since.getTime(), ...starts.filter(Number.isFinite));
  const created = Date.parse(identity.metadata.creationTimestamp ?? '');
  return rightSize({
    scopes: identity.spec.scopes,
    namespace: identity.metadata.namespace ?? 'default',
    uses: distinctUses(events),
    backends: [...new Set(sources.map((s) => BACKEND_OF_SOURCE[s.source]))],
    since: new Date(start).toISOString(),
    complete:
      starts.every((t) => t <= since.getTime()) && Number.isFinite(created) && created <= since.getTime(),
  });
}

/** Unused grants and the suggested scopes, as text (also used by `nhictl risk`). */
export function renderRightSizing(rightSizing: RightSizingStatus): string[] {
  const partial = rightSizing.complete ? '' : ' (partial: the logs or the identity do not span the window)';
  if (rightSizing.unused.length === 0) return [`every grant was used since ${rightSizing.since}${partial}`];
  return [
    `unused grants since ${rightSizing.since}${partial}:`,
    renderTable(
      ['FIELD', 'GRANT', 'UNUSED'],
      rightSizing.unused.map((u) => [u.field, u.grant, u.unused]),
      64,
    ),
    '',
    'suggested scopes (still allow every request seen):',
    stringify({ scopes: rightSizing.suggestedScopes ?? [] }).trimEnd(),
  ];
}

export function renderActivity(report: ActivityReport): string {
  const { identity } = report;
  const lines = [
    `${identity.namespace}/${identity.name}  owner ${identity.owner}  purpose: ${identity.purpose}`,
    `since ${report.since}; read ${report.sources.map((s) => `${s.source} ${s.file} (${s.lines} lines)`).join(', ')}`,
    '',
  ];
  const sizing = [
    ...(report.rightSizing ? ['', ...renderRightSizing(report.rightSizing)] : []),
    ...(report.anomalies.length > 0
      ? [
          '',
          'anomalies recorded by the operator:',
          renderTable(
            ['TIME', 'KIND', 'WHAT'],
            report.anomalies.map((a) => [a.time, a.kind, a.message]),
            120,
          ),
        ]
      : []),
  ];
  if (report.records.length === 0)
    return [...lines, 'no activity attributed to this identity', ...sizing].join('\n');
  lines.push(
    renderTable(
      ['BACKEND', 'REQUESTS', 'DENIED', 'ERRORS', 'LAST USED'],
      report.summary.map((s) => [
        s.backend,
        String(s.requests),
        String(s.denials),
        String(s.errors),
        s.lastUsed ?? '-',
      ]),
    ),
    '',
    renderTable(
      ['TIME', 'BACKEND', 'VERB', 'RESOURCE', 'OUTCOME', 'CODE', 'SOURCE'],
      report.records.map((r) => [
        r.time,
        r.backend,
        r.verb,
        r.resource,
        r.outcome,
        r.code ?? '',
        r.sourceAddress ?? '',
      ]),
      64,
    ),
    ...sizing,
  );
  return lines.join('\n');
}

async function readIdentity(name: string, namespace: string | undefined): Promise<AgentIdentity> {
  const kc = loadKubeConfig();
  const ns = currentNamespace(kc, namespace);
  try {
    return (await kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'agentidentities',
      namespace: ns,
      name,
    })) as AgentIdentity;
  } catch (error) {
    if (error instanceof k8s.ApiException && error.code === 404)
      throw new Error(`AgentIdentity ${ns}/${name} not found`);
    throw error;
  }
}

interface ActivityOptions {
  namespace?: string;
  since: string;
  kubeAuditLog?: string;
  vaultAuditLog?: string;
  cloudtrail?: string[];
  output: OutputFormat;
}

/** The files named on the command line; without any, those of a running `nhictl dev up`. */
function filesOf(options: ActivityOptions): ActivityFiles {
  if (options.kubeAuditLog || options.vaultAuditLog || options.cloudtrail?.length) {
    return {
      ...(options.kubeAuditLog ? { kubeAuditLog: options.kubeAuditLog } : {}),
      ...(options.vaultAuditLog ? { vaultAuditLog: options.vaultAuditLog } : {}),
      ...(options.cloudtrail ? { cloudTrail: options.cloudtrail } : {}),
    };
  }
  const dev = readEnvironment(devDir());
  return dev ? { kubeAuditLog: dev.apiserverAuditLog, vaultAuditLog: dev.baoAuditLog } : {};
}

export function registerActivityCommand(program: Command): void {
  program
    .command('activity <name>')
    .description(
      'what an AgentIdentity did: its requests in the apiserver and OpenBao audit logs and CloudTrail files, with outcome',
    )
    .option('-n, --namespace <namespace>', 'namespace of the AgentIdentity')
    .option('--since <duration>', 'how far back (a duration: 90m, 24h, 168h)', '24h')
    .option('--kube-audit-log <file>', 'the apiserver audit log (audit.k8s.io/v1 Event JSON lines)')
    .option('--vault-audit-log <file>', "OpenBao's file audit device log (JSON lines)")
    .option('--cloudtrail <files...>', 'CloudTrail log files (JSON, .json.gz)')
    .addOption(outputOption())
    .action(async (name: string, options: ActivityOptions) => {
      const window = parseDuration(options.since);
      if (window === undefined) throw new Error(`--since ${options.since}: not a duration (e.g. 24h, 90m)`);
      const now = new Date();
      const identity = await readIdentity(name, options.namespace);
      const report = await activityReport(identity, filesOf(options), new Date(now.getTime() - window), now);
      printListing(options.output, { data: report, human: () => renderActivity(report) });
    });
}
