// Write-once storage for the audit trail: an S3 bucket with Object Lock (compliance mode). At each
// checkpoint the records since the last one become one sealed segment object
// `<prefix><chain>/segments/<first>-<last>.jsonl`, then the signed checkpoint
// `<prefix><chain>/checkpoints/<seq>.json`, each locked until its retention ends. Reading back
// (`nhictl audit verify --s3-bucket`) uses every object version: a later version or a delete marker
// over a locked original is an attempt to overwrite or hide it, reported, and the original verified.

import type { AuditRecord } from './audit.ts';
import { type Checkpoint, isCheckpoint } from './checkpoint.ts';
import type { SinkOpening, TrailSink } from './trail.ts';
import { parseTrailText, type TrailLine } from './verify.ts';

export interface S3ObjectVersion {
  key: string;
  versionId: string;
  lastModified: Date;
  deleteMarker: boolean;
}

/** The calls the audit trail makes on S3. */
export interface AuditS3Port {
  putLocked(key: string, body: string, retainUntil: Date): Promise<{ requestId?: string }>;
  listVersions(prefix: string): Promise<S3ObjectVersion[]>;
  get(key: string, versionId?: string): Promise<string>;
}

export interface AuditS3Location {
  bucket: string;
  /** Key prefix, e.g. `nhi-audit/prod-cluster/` (ends in `/` or is empty). */
  prefix: string;
}

const pad = (n: number) => String(n).padStart(12, '0');

export const segmentKey = (prefix: string, chain: string, first: number, last: number) =>
  `${prefix}${chain}/segments/${pad(first)}-${pad(last)}.jsonl`;
export const checkpointKey = (prefix: string, chain: string, seq: number) =>
  `${prefix}${chain}/checkpoints/${pad(seq)}.json`;

export function s3Sink(
  s3: AuditS3Port,
  location: AuditS3Location,
  retentionMs: number,
  now: () => Date = () => new Date(),
): TrailSink {
  let sealedUpTo = 0;
  /** Records adopted at open: their writer may have sealed a checkpoint for them already. */
  let adoptedUpTo = 0;
  const retainUntil = () => new Date(now().getTime() + retentionMs);
  return {
    name: `s3 ${location.bucket}/${location.prefix}`,
    async open(head: Checkpoint | undefined): Promise<SinkOpening> {
      if (!head) return { tail: [], recovered: [] };
      sealedUpTo = head.seq;
      // A segment sealed after the head was read but before it moved (a crash between the two) is
      // durable already: adopt it if it continues the head, so it is not written twice.
      const trail = await readS3Trail(s3, location, head.chain, head.seq);
      const tail: AuditRecord[] = [];
      let link = { seq: head.seq, hash: head.hash };
      for (const line of trail.lines) {
        if (line.kind !== 'record' || line.record.seq <= head.seq) continue;
        if (line.record.seq !== link.seq + 1 || line.record.prevHash !== link.hash) break;
        tail.push(line.record);
        link = { seq: line.record.seq, hash: line.record.hash };
      }
      sealedUpTo = link.seq;
      adoptedUpTo = link.seq;
      return { tail, recovered: [] };
    },
    async seal(records, checkpoint) {
      const fresh = records.filter((r) => r.seq > sealedUpTo);
      const first = fresh[0];
      const last = fresh.at(-1);
      if (first && last) {
        const body = fresh.map((r) => JSON.stringify(r)).join('\n');
        await s3.putLocked(
          segmentKey(location.prefix, checkpoint.chain, first.seq, last.seq),
          `${body}\n`,
          retainUntil(),
        );
        sealedUpTo = last.seq;
      }
      const key = checkpointKey(location.prefix, checkpoint.chain, checkpoint.seq);
      // Never a second version over a checkpoint the previous writer sealed (its own is as good).
      if (checkpoint.seq <= adoptedUpTo && (await s3.listVersions(key)).length > 0) return;
      await s3.putLocked(key, `${JSON.stringify(checkpoint)}\n`, retainUntil());
    },
  };
}

export interface S3Trail {
  chain: string;
  /** Records of every segment, in order of their first seq, each line named by its segment. */
  lines: TrailLine[];
  checkpoints: Array<{ checkpoint: Checkpoint; where: string }>;
  /** Overwrite or delete attempts seen in the versions (the locked originals are what was read). */
  tampering: string[];
}

/** The chains stored under the prefix. */
export async function listS3Chains(s3: AuditS3Port, location: AuditS3Location): Promise<string[]> {
  const versions = await s3.listVersions(location.prefix);
  const chains = new Set<string>();
  for (const v of versions) {
    const rest = v.key.slice(location.prefix.length);
    const match = /^([^/]+)\/(segments|checkpoints)\//.exec(rest);
    if (match?.[1]) chains.add(match[1]);
  }
  return [...chains].sort();
}

export async function readS3Trail(
  s3: AuditS3Port,
  location: AuditS3Location,
  chain: string,
  /** Read only the segments that begin after this seq (a new leader looking past the head). */
  afterSeq?: number,
): Promise<S3Trail> {
  const base = `${location.prefix}${chain}/`;
  const firstSeq = (key: string) => Number(/\/segments\/(\d+)-/.exec(key)?.[1] ?? Number.NaN);
  const versions = (await s3.listVersions(base)).filter(
    (v) => afterSeq === undefined || (v.key.startsWith(`${base}segments/`) && firstSeq(v.key) > afterSeq),
  );
  // S3 lists each key's versions newest first: the listing order breaks ties of LastModified
  // (one-second resolution), so the oldest, the locked original, is found even when overwritten at once.
  const byKey = new Map<string, Array<S3ObjectVersion & { order: number }>>();
  for (const [order, v] of versions.entries())
    byKey.set(v.key, [...(byKey.get(v.key) ?? []), { ...v, order }]);
  const tampering: string[] = [];
  const originals: Array<{ key: string; versionId: string }> = [];
  for (const [key, list] of [...byKey].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const sorted = [...list].sort(
      (a, b) => a.lastModified.getTime() - b.lastModified.getTime() || b.order - a.order,
    );
    const real = sorted.filter((v) => !v.deleteMarker);
    const original = real[0];
    if (!original) {
      tampering.push(`${key}: only delete markers remain (its locked version is gone)`);
      continue;
    }
    if (real.length > 1) tampering.push(`${key}: ${real.length - 1} later version(s) written over it`);
    if (sorted.some((v) => v.deleteMarker)) tampering.push(`${key}: hidden by a delete marker`);
    originals.push({ key, versionId: original.versionId });
  }
  const lines: TrailLine[] = [];
  const checkpoints: S3Trail['checkpoints'] = [];
  for (const { key, versionId } of originals) {
    const body = await s3.get(key, versionId);
    const name = key.slice(location.prefix.length);
    if (key.startsWith(`${base}segments/`)) lines.push(...parseTrailText(body, `segment ${name} `));
    else if (key.startsWith(`${base}checkpoints/`)) {
      try {
        const value: unknown = JSON.parse(body);
        if (isCheckpoint(value)) checkpoints.push({ checkpoint: value, where: `checkpoint ${name}` });
        else tampering.push(`${name}: not a checkpoint`);
      } catch {
        tampering.push(`${name}: not a checkpoint`);
      }
    }
  }
  return { chain, lines, checkpoints, tampering };
}
