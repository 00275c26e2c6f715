// The audit trail: one structured record per action, hash-chained (SHA-256 over the previous hash
// and the canonical record) so that any edit, insertion or removal is detectable. Secret values
// never enter a record: only names, versions and outcomes.

import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const AuditActions = [
  'provisioned',
  'rotated',
  'quarantined',
  'restored',
  'revoked',
  'expired',
  'orphaned',
  'denied',
  'drift-corrected',
  'locked',
  'offboarded',
  /** A backend whose ClusterCredentialProvider is gone, given up on by the abandon annotation. */
  'abandoned',
  /**
   * A hard-coded value moved into a managed Secret (`nhictl adopt --secret`): by the operator when it
   * takes the adopted version over (rotate.ts), and by nhictl itself with --audit-log.
   */
  'adopted',
  /** The sponsor confirmed the identity is still needed (`nhictl attest`); the actor is that Kubernetes user. */
  'attested',
  /** A notification was delivered to the IdentityPolicy's webhook. */
  'notified',
  /** The trail itself: a torn last line set aside, or a sink's unanchored tail adopted or moved aside. */
  'recovered',
  /**
   * An AgentIdentity went and its credentials were left in place on purpose: spec.deletionPolicy
   * Retain, or the AgentIdentity CRD being deleted (the operator steps aside).
   */
  'retained',
  /**
   * Offboarding in a namespace being deleted kept failing past its bound: the finalizer was released
   * and the backends named were not revoked (severity high).
   */
  'released',
  /** The identity's workload was rolled after a rotation (spec.secrets[].restartWorkload). */
  'workload-restarted',
  /** An activity anomaly in the audit logs: first-seen action or source, denial burst, use after quarantine. */
  'anomaly',
] as const;
export type AuditAction = (typeof AuditActions)[number];

export interface AuditEntry {
  action: AuditAction;
  identity: { uid: string; namespace: string; name: string };
  /** Who caused it: the operator's own identity, or a user for lock/offboard. */
  actor: string;
  /** What was acted on, e.g. `kubernetes:Secret/agents/support-bot-crm` or `aws:role/nhi-...`. */
  resource: string;
  /** Why: the reconcile trigger or the CLI command. */
  origin: string;
  /** `intent`: written before a backend write, so a crash or failure after it still leaves a trace. */
  outcome: 'success' | 'failure' | 'denied' | 'intent';
  severity?: 'info' | 'warning' | 'high';
  detail?: string;
  /**
   * The backend's request ID (AWS x-amzn-RequestId, OpenBao request_id or the X-Nhi-Request-Id sent),
   * to match CloudTrail or Bao's audit log: of the last call the step made (the failing one on a failure).
   */
  requestId?: string;
  /** Every call's request ID, in call order, when the step made more than one call. */
  requestIds?: string[];
}

export interface AuditRecord extends AuditEntry {
  seq: number;
  timestamp: string;
  prevHash: string;
  hash: string;
  /** The operator process (pod) that appended it; a new leader continues the same chain. */
  writer?: string;
}

export interface AuditSink {
  record(entry: AuditEntry): Promise<AuditRecord>;
}

export const GENESIS_HASH = '0'.repeat(64);

/** Stable JSON: keys sorted at every level, so the hash does not depend on property order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function hashRecord(prevHash: string, record: Omit<AuditRecord, 'hash'>): string {
  return createHash('sha256').update(prevHash).update(canonicalJson(record)).digest('hex');
}

/** The end of a chain a record links to: the last record, or a signed checkpoint naming it. */
export interface ChainLink {
  seq: number;
  hash: string;
}

export function chain(
  previous: ChainLink | undefined,
  entry: AuditEntry,
  now: Date,
  writer?: string,
): AuditRecord {
  const unsigned = {
    ...entry,
    seq: (previous?.seq ?? 0) + 1,
    timestamp: now.toISOString(),
    prevHash: previous?.hash ?? GENESIS_HASH,
    ...(writer !== undefined && { writer }),
  };
  return { ...unsigned, hash: hashRecord(unsigned.prevHash, unsigned) };
}

/** The first record whose hash or link does not verify, or undefined when the chain is intact. */
export function verifyChain(
  records: readonly AuditRecord[],
): { index: number; seq: number; problem: string } | undefined {
  let prevHash = GENESIS_HASH;
  for (const [index, record] of records.entries()) {
    const { hash, ...unsigned } = record;
    if (record.prevHash !== prevHash)
      return { index, seq: record.seq, problem: 'broken link to the previous record' };
    if (hashRecord(prevHash, unsigned) !== hash)
      return { index, seq: record.seq, problem: 'content does not match its hash' };
    prevHash = hash;
  }
  return undefined;
}

/** Keeps records in memory (tests, dry runs) and optionally forwards each to a listener. */
export class MemoryAuditSink implements AuditSink {
  readonly records: AuditRecord[] = [];
  constructor(private readonly now: () => Date = () => new Date()) {}

  async record(entry: AuditEntry): Promise<AuditRecord> {
    const record = chain(this.records.at(-1), entry, this.now());
    this.records.push(record);
    return record;
  }
}

/** Appends records as JSON lines to a file, continuing the chain already in it. */
export class FileAuditSink implements AuditSink {
  private last: AuditRecord | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.last = readAuditFile(path).at(-1);
  }

  record(entry: AuditEntry): Promise<AuditRecord> {
    const next = this.queue.then(() => {
      const record = chain(this.last, entry, this.now());
      appendFileSync(this.path, `${JSON.stringify(record)}\n`);
      this.last = record;
      return record;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** The records of an audit file (signed checkpoint lines left out; `nhictl audit verify` reads those). */
export function readAuditFile(path: string): AuditRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((line, index) => ({ line, index }))
    .filter(({ line }) => line.trim())
    .map(({ line, index }) => {
      try {
        return JSON.parse(line) as AuditRecord | { checkpoint: unknown };
      } catch {
        throw new Error(`line ${index + 1} is not a JSON record (the file was edited or truncated)`);
      }
    })
    .filter((line): line is AuditRecord => !('checkpoint' in line));
}
