// Verifying an audit trail against its signed checkpoints: pure. The trail is a sequence of lines
// (records and checkpoint lines, from a file or from the S3 segments in order), the checkpoints come
// from the lines themselves and from outside (the cluster's head, the checkpoint objects in S3), the
// public key from the cluster's ConfigMap or the auditor's own copy. The answer names the first bad
// line and why: edited, reordered, missing, inserted, truncated after checkpoint N, signature
// invalid, deleted.

import { type AuditRecord, GENESIS_HASH, hashRecord } from './audit.ts';
import { type Checkpoint, checkpointSignatureValid, isCheckpoint } from './checkpoint.ts';

export type TrailLine =
  | { kind: 'record'; record: AuditRecord; where: string }
  | {
      kind: 'checkpoint';
      checkpoint: Checkpoint;
      where: string;
      /** The first line of a file: the signed head that file's writer continued from. */
      opens?: boolean;
    }
  | { kind: 'unreadable'; where: string; last: boolean };

export type ProblemKind =
  | 'edited'
  | 'reordered'
  | 'missing'
  | 'inserted'
  | 'rewritten'
  | 'truncated'
  | 'deleted'
  | 'signature-invalid'
  | 'unreadable'
  | 'no-key';

export interface TrailProblem {
  kind: ProblemKind;
  /** Where the first bad line is (`line 7`, `segment …/000001-000100.jsonl line 3`, `cluster head`). */
  where: string;
  /** Index into the lines (lines.length for a problem after the last line). */
  index: number;
  seq?: number;
  message: string;
}

export interface TrailReport {
  records: number;
  firstSeq?: number;
  lastSeq?: number;
  /** Checkpoints whose signature was checked. */
  checkpoints: number;
  /** The highest checkpoint seen (the anchored head). */
  latest?: Checkpoint;
  /** Records after the latest signed checkpoint: appended since it, or added by someone. */
  unanchored: number;
  /**
   * Records a writer appended but never anchored before another continued from an earlier signed
   * head (a leader killed between checkpoints): they are in its file and on stdout only, and not
   * part of the verified chain.
   */
  orphaned: Array<{ fromSeq: number; toSeq: number; where: string }>;
  problem?: TrailProblem;
}

/** One line of a JSON-lines trail: a record, `{"checkpoint": …}`, `{"audit": record}` (stdout form). */
export function parseTrailLine(text: string, where: string, last: boolean, first = false): TrailLine {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    if (value && typeof value === 'object') {
      if (isCheckpoint(value.checkpoint))
        return { kind: 'checkpoint', checkpoint: value.checkpoint, where, ...(first && { opens: true }) };
      const record = (value.audit ?? value) as AuditRecord;
      if (typeof record.seq === 'number' && typeof record.hash === 'string')
        return { kind: 'record', record, where };
    }
  } catch {
    // not JSON: reported below
  }
  return { kind: 'unreadable', where, last };
}

/** The lines of a JSON-lines file; `prefix` names the source (`segment x`), empty for a plain file. */
/**
 * `log`: the text is the operator's output (`kubectl logs`), where the trail's lines are mixed with
 * log lines: only lines that carry `"audit"` or `"checkpoint"` count (one of them edited until it no
 * longer parses shows as the record missing from the chain).
 */
export function parseTrailText(text: string, prefix = '', options: { log?: boolean } = {}): TrailLine[] {
  const raw = text.split('\n');
  const lastIndex = text.endsWith('\n') ? raw.length - 2 : raw.length - 1;
  const lines: TrailLine[] = [];
  raw.forEach((line, i) => {
    if (!line.trim()) return;
    const parsed = parseTrailLine(line, `${prefix}line ${i + 1}`, i === lastIndex, lines.length === 0);
    if (options.log && (parsed.kind === 'unreadable' || !/^\{"(audit|checkpoint)":/.test(line))) return;
    lines.push(parsed);
  });
  return lines;
}

export function verifyTrail(input: {
  lines: readonly TrailLine[];
  /** Checkpoints from outside the lines (cluster head, S3), each with where it came from. */
  anchors?: ReadonlyArray<{ checkpoint: Checkpoint; where: string }>;
  /** Every public key that may have signed (PEM); a checkpoint must verify under one of them. */
  publicKeys?: readonly string[];
  /** Check the chain only (the operator re-reading its own file); never for an auditor. */
  skipSignatures?: boolean;
}): TrailReport {
  const { lines, skipSignatures } = input;
  const publicKeys = input.publicKeys ?? [];
  const report: TrailReport = { records: 0, checkpoints: 0, unanchored: 0, orphaned: [] };
  const fail = (problem: TrailProblem): TrailReport => ({ ...report, problem });
  const signed = new Map<number, { checkpoint: Checkpoint; where: string }>();
  const inline = new Map<number, { checkpoint: Checkpoint; where: string }>();
  let chainId: string | undefined;

  const accept = (checkpoint: Checkpoint, where: string, index: number): TrailProblem | undefined => {
    if (skipSignatures) {
      // only the chain's own consistency
    } else if (publicKeys.length === 0)
      return {
        kind: 'no-key',
        where,
        index,
        seq: checkpoint.seq,
        message: `signed checkpoint ${checkpoint.seq} cannot be checked: no public key given`,
      };
    else if (!publicKeys.some((key) => checkpointSignatureValid(checkpoint, key)))
      return {
        kind: 'signature-invalid',
        where,
        index,
        seq: checkpoint.seq,
        message: `checkpoint ${checkpoint.seq}: signature invalid (edited, or not signed by this key)`,
      };
    if (!skipSignatures && chainId !== undefined && checkpoint.chain !== chainId)
      return {
        kind: 'inserted',
        where,
        index,
        seq: checkpoint.seq,
        message: `checkpoint ${checkpoint.seq} belongs to chain ${checkpoint.chain}, not ${chainId}`,
      };
    chainId = checkpoint.chain;
    report.checkpoints++;
    const known = signed.get(checkpoint.seq);
    if (known && known.checkpoint.hash !== checkpoint.hash)
      return {
        kind: 'rewritten',
        where,
        index,
        seq: checkpoint.seq,
        message: `two signed checkpoints for seq ${checkpoint.seq} disagree (${known.where})`,
      };
    signed.set(checkpoint.seq, { checkpoint, where });
    if (!report.latest || checkpoint.seq > report.latest.seq) report.latest = checkpoint;
    return undefined;
  };

  for (const anchor of input.anchors ?? []) {
    const problem = accept(anchor.checkpoint, anchor.where, lines.length);
    if (problem) return fail(problem);
  }

  const hashes = new Map<number, string>();
  let expectSeq = 1;
  let prevHash = GENESIS_HASH;
  let started = false;
  let opened = false;
  for (const [index, line] of lines.entries()) {
    const at = { where: line.where, index };
    if (line.kind === 'unreadable')
      return fail({
        ...at,
        kind: 'unreadable',
        seq: expectSeq,
        message: line.last
          ? 'the last line is not a complete record (torn or cut)'
          : 'not a JSON record (edited or corrupted)',
      });
    if (line.kind === 'checkpoint') {
      const cp = line.checkpoint;
      const problem = accept(cp, line.where, index);
      if (problem) return fail(problem);
      inline.set(cp.seq, { checkpoint: cp, where: line.where });
      if (!started && !opened) {
        // A fragment (a new pod's file) opens with the signed head it continues from.
        opened = true;
        expectSeq = cp.seq + 1;
        prevHash = cp.hash;
        hashes.set(cp.seq, cp.hash);
      } else if (line.opens && cp.seq < expectSeq - 1 && hashes.get(cp.seq) === cp.hash) {
        // The next file continues from an earlier signed head than where the previous one ends.
        report.orphaned.push({ fromSeq: cp.seq + 1, toSeq: expectSeq - 1, where: line.where });
        for (const seq of hashes.keys()) if (seq > cp.seq) hashes.delete(seq);
        for (const seq of inline.keys()) if (seq > cp.seq) inline.delete(seq);
        report.records -= expectSeq - 1 - cp.seq;
        expectSeq = cp.seq + 1;
        prevHash = cp.hash;
      } else if (cp.seq >= expectSeq) {
        return fail({
          ...at,
          kind: 'missing',
          seq: expectSeq,
          message: `checkpoint ${cp.seq} names records from seq ${expectSeq} that are not before it (deleted)`,
        });
      } else if (hashes.get(cp.seq) !== cp.hash) {
        return fail({
          ...at,
          kind: 'rewritten',
          seq: cp.seq,
          message: `record ${cp.seq} differs from signed checkpoint ${cp.seq} (the chain was rewritten)`,
        });
      }
      continue;
    }
    const record = line.record;
    const { hash, ...unsigned } = record;
    if (hashRecord(record.prevHash, unsigned) !== hash)
      return fail({
        ...at,
        kind: 'edited',
        seq: record.seq,
        message: `record seq ${record.seq}: content does not match its hash (edited)`,
      });
    if (
      record.seq > expectSeq &&
      lines.slice(index + 1).some((l) => l.kind === 'record' && l.record.seq === expectSeq)
    )
      return fail({
        ...at,
        kind: 'reordered',
        seq: record.seq,
        message: `record seq ${record.seq} comes before seq ${expectSeq} (reordered)`,
      });
    if (record.seq > expectSeq)
      return fail({
        ...at,
        kind: 'missing',
        seq: expectSeq,
        message:
          expectSeq === record.seq - 1
            ? `record seq ${expectSeq} is missing before seq ${record.seq} (deleted)`
            : `records seq ${expectSeq}–${record.seq - 1} are missing before seq ${record.seq} (deleted)`,
      });
    if (record.seq < expectSeq)
      return fail({
        ...at,
        kind: 'reordered',
        seq: record.seq,
        message: `record seq ${record.seq} comes after seq ${expectSeq - 1} (reordered or duplicated)`,
      });
    if (record.prevHash !== prevHash)
      return fail({
        ...at,
        kind: 'inserted',
        seq: record.seq,
        message: `record seq ${record.seq} does not link to the record before it (that one was edited and re-hashed, or this one was inserted)`,
      });
    // Checkpoints from outside are compared at the end: a later file may supersede orphaned records.
    const anchor = inline.get(record.seq);
    if (anchor && anchor.checkpoint.hash !== hash)
      return fail({
        ...at,
        kind: 'rewritten',
        seq: record.seq,
        message: `record seq ${record.seq} differs from signed checkpoint ${record.seq} (${anchor.where}): the chain was rewritten`,
      });
    started = true;
    hashes.set(record.seq, hash);
    report.records++;
    report.firstSeq ??= record.seq;
    report.lastSeq = record.seq;
    expectSeq = record.seq + 1;
    prevHash = hash;
  }
  // Checkpoints from outside may name records in this trail that came after an inline check.
  for (const [seq, { checkpoint, where }] of signed) {
    const seen = hashes.get(seq);
    if (seen !== undefined && seen !== checkpoint.hash) {
      const index = lines.findLastIndex((l) => l.kind === 'record' && l.record.seq === seq);
      return fail({
        kind: 'rewritten',
        where: lines[index]?.where ?? where,
        index,
        seq,
        message: `record seq ${seq} differs from signed checkpoint ${seq} (${where}): the chain was rewritten`,
      });
    }
  }
  const latest = report.latest;
  if (latest && latest.seq >= expectSeq) {
    const end = lines.length;
    if (report.records === 0 && !started)
      return fail({
        kind: 'deleted',
        where: lines.length === 0 ? 'the whole trail' : 'after the last line',
        index: end,
        seq: expectSeq,
        message: `no records, yet signed checkpoint ${latest.seq} names seq ${latest.seq}: the trail was deleted or emptied`,
      });
    const before = [...signed.keys()].filter((s) => s < expectSeq).sort((a, b) => b - a)[0];
    return fail({
      kind: 'truncated',
      where: 'after the last line',
      index: end,
      seq: expectSeq,
      message: `truncated after seq ${expectSeq - 1}${before !== undefined ? ` (checkpoint ${before})` : ''}: signed checkpoint ${latest.seq} names seq ${latest.seq}`,
    });
  }
  report.unanchored = latest ? Math.max(0, expectSeq - 1 - latest.seq) : report.records;
  return report;
}
