// `nhictl audit`: the tamper-evident trail.
//  - `verify [FILE...]` checks a file (or one per pod that led), or the sealed segments in S3 (--s3-bucket), against the signed
//    checkpoints and public key (from the cluster with --cluster, or the auditor's own copies with
//    --public-key/--head) and names the first bad record and why;
//  - `pubkey` and `head` print what the cluster publishes, so an auditor can keep copies offline;
//  - `show --identity NAME` answers what the operator did for one identity, when, and for whom.

import { existsSync, readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { type Command, InvalidArgumentError } from 'commander';
import { readAuditAnchor } from '../adapters/kubernetes/audit-anchor.ts';
import type { AuditRecord } from '../governance/audit/audit.ts';
import { type Checkpoint, isCheckpoint } from '../governance/audit/checkpoint.ts';
import { interruptedIntents } from '../governance/audit/intents.ts';
import { listS3Chains, readS3Trail } from '../governance/audit/s3.ts';
import { parseTrailText, type TrailLine, type TrailReport, verifyTrail } from '../governance/audit/verify.ts';
import { loadKubeConfig } from './kube.ts';
import { outputOption, printListing, renderTable } from './output.ts';

const DEFAULT_ANCHOR = { namespace: 'nhi-system', configMap: 'nhi-operator-audit' };

interface SourceOptions {
  log?: boolean;
  s3Bucket?: string;
  s3Prefix: string;
  s3Region?: string;
  s3Endpoint?: string;
  chain?: string;
}

interface AnchorOptions {
  cluster?: boolean;
  anchorNamespace: string;
  anchorConfigmap: string;
}

function sourceOptions(command: Command): Command {
  return command
    .option('--s3-bucket <bucket>', 'read the sealed segments from this S3 bucket instead of a file')
    .option('--s3-prefix <prefix>', 'key prefix of the trail in the bucket', '')
    .option('--s3-region <region>', 'the bucket region (default: the AWS SDK chain)')
    .option('--s3-endpoint <url>', 'an S3-compatible endpoint (path-style)')
    .option('--chain <id>', 'the chain to read when the prefix holds several')
    .option(
      '--log',
      "the files are the operator's output (kubectl logs; - for stdin): only its audit lines count",
    );
}

function anchorOptions(command: Command): Command {
  return command
    .option('--anchor-namespace <namespace>', 'the operator namespace', DEFAULT_ANCHOR.namespace)
    .option('--anchor-configmap <name>', 'the ConfigMap with the signed head', DEFAULT_ANCHOR.configMap);
}

/** A trail to verify or show: its lines, and the checkpoints stored beside it. */
interface LoadedTrail {
  name: string;
  lines: TrailLine[];
  checkpoints: Array<{ checkpoint: Checkpoint; where: string }>;
  tampering: string[];
}

class AuditCliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

async function loadTrails(files: readonly string[], options: SourceOptions): Promise<LoadedTrail[]> {
  if (options.s3Bucket) {
    // Loaded only when asked for: the S3 SDK costs every other nhictl command start-up time.
    const { auditS3Port } = await import('../governance/audit/s3-adapter.ts');
    const s3 = auditS3Port({
      bucket: options.s3Bucket,
      ...(options.s3Region && { region: options.s3Region }),
      ...(options.s3Endpoint && { endpoint: options.s3Endpoint }),
    });
    const location = { bucket: options.s3Bucket, prefix: options.s3Prefix };
    const chains = options.chain ? [options.chain] : await listS3Chains(s3, location);
    if (chains.length === 0)
      throw new AuditCliError(`s3://${options.s3Bucket}/${options.s3Prefix}: no audit chain found`, 1);
    return Promise.all(
      chains.map(async (chain) => ({
        name: `s3://${options.s3Bucket}/${options.s3Prefix}${chain}`,
        ...(await readS3Trail(s3, location, chain)),
      })),
    );
  }
  if (files.length === 0) throw new AuditCliError('name an audit FILE or --s3-bucket');
  // Several files (one per pod that led) are one chain: in the order of the seq each begins at.
  const parsed = files.map((file) => {
    const stdin = file === '-';
    const exists = stdin || existsSync(file);
    const lines = exists
      ? parseTrailText(readFileSync(stdin ? 0 : file, 'utf8'), files.length > 1 ? `${file} ` : '', {
          log: options.log === true,
        })
      : [];
    return { file, exists, lines, start: startSeq(lines) };
  });
  parsed.sort((a, b) => a.start - b.start);
  return [
    {
      name: files.length > 1 ? `audit logs ${files.join(', ')}` : `audit log ${files[0]}`,
      lines: parsed.flatMap((p) => p.lines),
      checkpoints: [],
      tampering: parsed.filter((p) => !p.exists).map((p) => `${p.file}: no such file`),
    },
  ];
}

function startSeq(lines: readonly TrailLine[]): number {
  const first = lines[0];
  if (first?.kind === 'checkpoint') return first.checkpoint.seq + 1;
  if (first?.kind === 'record') return first.record.seq;
  return Number.MAX_SAFE_INTEGER;
}

function readCheckpointFile(path: string): Checkpoint {
  const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
  const checkpoint = (value as { checkpoint?: unknown })?.checkpoint ?? value;
  if (!isCheckpoint(checkpoint)) throw new AuditCliError(`${path}: not a signed checkpoint`);
  return checkpoint;
}

async function anchorFromCluster(options: AnchorOptions) {
  const core = loadKubeConfig().makeApiClient(k8s.CoreV1Api);
  return readAuditAnchor(core, { namespace: options.anchorNamespace, configMap: options.anchorConfigmap });
}

function describeProblem(report: TrailReport): string {
  const p = report.problem;
  if (!p) return '';
  return `${p.where}${p.seq !== undefined ? ` (seq ${p.seq})` : ''}: ${p.kind}: ${p.message}`;
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit trail');

  const verify = audit
    .command('verify [files...]')
    .description(
      'verify the hash chain of an audit log (files, one per pod that led, or the S3 segments) against the signed checkpoints',
    )
    .option(
      '--public-key <file>',
      'a public key PEM file the checkpoints may verify under (repeat for several; one file may hold several)',
      (file: string, files: string[]) => [...files, file],
      [] as string[],
    )
    .option('--head <file>', 'a signed head kept by the auditor (JSON, as `nhictl audit head` prints it)')
    .option('--cluster', "read the public keys and the latest signed head from the operator's ConfigMap")
    .option(
      '--from-seq <n>',
      'the trail given starts at this sequence on purpose (a later part); otherwise it must start at 1',
      (value: string) => {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1)
          throw new InvalidArgumentError('--from-seq: a sequence number, 1 or more');
        return n;
      },
    )
    .addOption(outputOption('text'));
  sourceOptions(verify);
  anchorOptions(verify);
  verify.action(
    async (
      files: string[],
      options: SourceOptions &
        AnchorOptions & {
          publicKey?: string[];
          head?: string;
          fromSeq?: number;
          output: 'text' | 'json' | 'yaml';
        },
    ) => {
      try {
        const publicKeys = (options.publicKey ?? []).flatMap((path) => pemBlocks(readFileSync(path, 'utf8')));
        const anchors: Array<{ checkpoint: Checkpoint; where: string }> = [];
        if (options.head) anchors.push({ checkpoint: readCheckpointFile(options.head), where: options.head });
        if (options.cluster) {
          const cluster = await anchorFromCluster(options);
          publicKeys.push(...cluster.publicKeys);
          if (isCheckpoint(cluster.head))
            anchors.push({
              checkpoint: cluster.head,
              where: `ConfigMap ${options.anchorNamespace}/${options.anchorConfigmap}`,
            });
        }
        const trails = await loadTrails(files, options);
        if (anchors.length === 0 && trails.every((t) => t.lines.length === 0 && t.tampering.length > 0))
          // Nothing says a trail should be there: a wrong path, not evidence of a deletion.
          throw new AuditCliError(trails.flatMap((t) => t.tampering).join('; '));
        const results = trails.map((trail) => {
          // A head from another chain (the cluster's, when verifying an old chain in S3) does not apply.
          const chain = trail.checkpoints[0]?.checkpoint.chain ?? firstChain(trail.lines);
          const own = anchors.filter((a) => chain === undefined || a.checkpoint.chain === chain);
          const report = verifyTrail({
            lines: trail.lines,
            anchors: [...trail.checkpoints, ...own],
            publicKeys,
          });
          // A trail that opens at a signed checkpoint continues earlier records: unless the auditor
          // asked for a later part, their absence is a cut start, not a fragment.
          const start = options.fromSeq ?? 1;
          if (
            !report.problem &&
            report.records > 0 &&
            report.firstSeq !== undefined &&
            report.firstSeq > start
          )
            trail.tampering.push(
              `records before seq ${report.firstSeq} are absent: the start of the trail was cut, or these files continue earlier ones (give those too, or --from-seq ${report.firstSeq} to check a later part on purpose)`,
            );
          return { trail, report };
        });
        let failed = false;
        if (options.output !== 'text') {
          printListing(options.output, {
            data: results.map(({ trail, report }) => ({
              source: trail.name,
              ok: !report.problem && trail.tampering.length === 0,
              ...report,
              tampering: trail.tampering,
            })),
            human: () => '',
          });
          failed = results.some((r) => r.report.problem || r.trail.tampering.length > 0);
        } else {
          for (const { trail, report } of results) {
            for (const t of trail.tampering) console.error(`${trail.name}: ${t}`);
            if (report.problem) {
              console.error(`${trail.name}: ${describeProblem(report)}`);
              failed = true;
              continue;
            }
            if (trail.tampering.length > 0) failed = true;
            const range = report.records ? ` (seq ${report.firstSeq}–${report.lastSeq})` : '';
            const signed = report.latest
              ? `, signed up to checkpoint ${report.latest.seq} (${report.checkpoints} checkpoints checked)`
              : ', no signed checkpoint: truncation at the end cannot be detected';
            for (const o of report.orphaned)
              console.log(
                `${trail.name}: records seq ${o.fromSeq}–${o.toSeq} before ${o.where} were appended by a writer that stopped before anchoring them; the chain continues without them`,
              );
            const tail =
              report.unanchored > 0 && report.latest
                ? `; ${report.unanchored} records after it are not yet anchored`
                : '';
            console.log(`${trail.name}: ${report.records} records${range}, chain intact${signed}${tail}`);
          }
        }
        if (failed) process.exitCode = 1;
      } catch (error) {
        console.error(`nhictl audit verify: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = error instanceof AuditCliError ? error.exitCode : 2;
      }
    },
  );

  anchorOptions(
    audit
      .command('pubkey')
      .description('print the public key the operator signs checkpoints with (from its ConfigMap)')
      .option('--all', 'every key that ever signed, not only the current one'),
  ).action(async (options: AnchorOptions & { all?: boolean }) => {
    const anchor = await anchorFromCluster(options);
    const keys = options.all ? anchor.publicKeys : anchor.current ? [anchor.current] : [];
    if (keys.length === 0) throw new Error('no public key published yet: has the operator started?');
    process.stdout.write(keys.map((k) => (k.endsWith('\n') ? k : `${k}\n`)).join(''));
  });

  anchorOptions(
    audit.command('head').description('print the latest signed head anchored in the cluster (JSON)'),
  ).action(async (options: AnchorOptions) => {
    const anchor = await anchorFromCluster(options);
    if (!isCheckpoint(anchor.head)) throw new Error('no signed head yet: has the operator started?');
    console.log(JSON.stringify(anchor.head, null, 2));
  });

  const show = audit
    .command('show [files...]')
    .description('what the operator did for one identity: when, what, for whom and with what outcome')
    .requiredOption('--identity <name>', 'the AgentIdentity name')
    .option('-n, --namespace <namespace>', 'its namespace (default: any)')
    .addOption(outputOption('table'));
  sourceOptions(show);
  show.action(
    async (
      files: string[],
      options: SourceOptions & { identity: string; namespace?: string; output: 'table' | 'json' | 'yaml' },
    ) => {
      const trails = await loadTrails(files, options);
      const records = trails
        .flatMap((t) => t.lines)
        .flatMap((l) => (l.kind === 'record' ? [l.record] : []))
        .filter(
          (r) =>
            r.identity.name === options.identity &&
            (options.namespace === undefined || r.identity.namespace === options.namespace),
        );
      const interrupted = new Set(interruptedIntents(records));
      printListing(options.output, {
        data: records.map((r) => (interrupted.has(r.seq) ? { ...r, interrupted: true } : r)),
        human: () =>
          records.length === 0
            ? `no audit records for ${options.namespace ? `${options.namespace}/` : ''}${options.identity}`
            : renderTable(
                ['SEQ', 'TIME', 'ACTION', 'OUTCOME', 'ACTOR', 'RESOURCE', 'ORIGIN', 'DETAIL'],
                records.map((r) => showRow(r, interrupted.has(r.seq))),
              ),
      });
    },
  );
}

/** An intent never followed by its outcome reads `intent (interrupted)`: the attempt was cut short. */
function showRow(r: AuditRecord, interrupted: boolean): string[] {
  const requests = r.requestIds ?? (r.requestId ? [r.requestId] : []);
  return [
    String(r.seq),
    r.timestamp,
    r.action,
    interrupted ? `${r.outcome} (interrupted)` : r.outcome,
    r.actor,
    r.resource,
    r.origin,
    [r.detail, requests.length > 0 && `request ${requests.join(', ')}`].filter(Boolean).join('; '),
  ];
}

function firstChain(lines: readonly TrailLine[]): string | undefined {
  for (const line of lines) if (line.kind === 'checkpoint') return line.checkpoint.chain;
  return undefined;
}

/** Every PEM block in a file (`nhictl audit pubkey --all` writes several into one). */
function pemBlocks(text: string): string[] {
  return [...text.matchAll(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----\n?/g)].map(
    (m) => m[0],
  );
}
