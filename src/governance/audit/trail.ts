// The cluster's audit trail: one hash chain per cluster, appended by the leader only. On opening, a
// leader reads the signed head anchored in the cluster (HeadStore) and continues the chain from it;
// every checkpoint interval it seals what it appended (S3 writes a segment and the checkpoint, the
// file a checkpoint line), signs {chain, seq, hash, time} with ed25519 and moves the anchored head
// forward with compare-and-swap. A conflict means another writer moved the head: this one is fenced
// and stops appending (the operator then stops leading). Sinks: stdout always, file, S3.

import { randomUUID } from 'node:crypto';
import { type AuditEntry, type AuditRecord, type AuditSink, type ChainLink, chain } from './audit.ts';
import { type AuditSigningKey, type Checkpoint, signCheckpoint } from './checkpoint.ts';

/** Where the latest signed head lives (a ConfigMap), replaced only if unchanged since it was read. */
export interface HeadStore {
  read(): Promise<{ checkpoint: Checkpoint; version: string } | undefined>;
  /** Stores `checkpoint` if the head is still at `version` (undefined: none yet); the new version. */
  write(checkpoint: Checkpoint, version: string | undefined): Promise<string>;
}

export class HeadConflictError extends Error {
  readonly reason = 'AuditHeadConflict';
}

export class AuditTrailClosedError extends Error {
  readonly reason = 'AuditTrailClosed';
}

/** What a sink found when the trail opened: records past the head it already holds, and notes. */
export interface SinkOpening {
  /** Records after the anchored head, continuous from it (a previous writer's unsealed tail). */
  tail: AuditRecord[];
  /** Things set aside (a torn line, a forked file), each recorded as a `recovered` record. */
  recovered: string[];
}

export interface TrailSink {
  readonly name: string;
  /** Called once when the trail opens, with the head the chain continues from. */
  open?(head: Checkpoint | undefined): Promise<SinkOpening>;
  /**
   * The records appended since the last call, in chain order, durable when this resolves. Records
   * that arrive while a batch is being made durable go together in the next call (group commit).
   */
  append?(records: readonly AuditRecord[]): Promise<void>;
  /** At each checkpoint: the records since the last one, then the signed checkpoint covering them. */
  seal?(records: readonly AuditRecord[], checkpoint: Checkpoint): Promise<void>;
}

export interface AuditTrailOptions {
  sinks: readonly TrailSink[];
  /** Absent: a local chain (development), continued from the file's own last record, unsigned. */
  anchor?: { store: HeadStore; key: () => Promise<AuditSigningKey> };
  writer: string;
  now?: () => Date;
  /** How many appended records force a checkpoint before the interval ends. */
  maxPending?: number;
  /** Told when another writer moved the head: stop leading. */
  onFenced?: (error: HeadConflictError) => void;
  /** Told when a checkpoint forced by many pending records fails (flush() throws instead). */
  onCheckpointError?: (error: unknown) => void;
}

export class AuditTrail implements AuditSink {
  private last: ChainLink | undefined;
  private chainId: string = randomUUID();
  private headVersion: string | undefined;
  private pending: AuditRecord[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  /** Records asked for and not yet appended, and whether a drain of them is queued. */
  private waiting: Array<{
    entry: AuditEntry;
    resolve: (record: AuditRecord) => void;
    reject: (error: unknown) => void;
  }> = [];
  private drainScheduled = false;
  private state: 'new' | 'open' | 'closed' = 'new';
  private key: AuditSigningKey | undefined;
  private sealed: Checkpoint | undefined;
  /** What sinks set aside when opening, until recorded (kept across a failed attempt to open). */
  private readonly recovered: string[] = [];
  private readonly now: () => Date;

  constructor(private readonly options: AuditTrailOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Reads the anchored head, lets each sink adopt or set aside what it holds, and continues the
   * chain. May be called again after it failed (the apiserver or S3 away): nothing is lost or doubled.
   */
  open(): Promise<void> {
    return this.serially(async () => {
      if (this.state !== 'new') return;
      this.pending = [];
      this.last = undefined;
      let head: Checkpoint | undefined;
      if (this.options.anchor) {
        this.key = await this.options.anchor.key();
        const stored = await this.options.anchor.store.read();
        head = stored?.checkpoint;
        this.headVersion = stored?.version;
        if (head) {
          this.chainId = head.chain;
          this.last = { seq: head.seq, hash: head.hash };
        }
      }
      const openings: Array<{ sink: TrailSink; held: number }> = [];
      let tail: AuditRecord[] = [];
      for (const sink of this.options.sinks) {
        const opening = await sink.open?.(head);
        if (!opening) continue;
        openings.push({ sink, held: opening.tail.length });
        this.recovered.push(...opening.recovered.map((note) => `${sink.name}: ${note}`));
        if (opening.tail.length > tail.length) tail = opening.tail;
      }
      // A sink that holds less of the unanchored tail than another (a fresh file beside S3) gets
      // the rest, so each one stays a gapless piece of the chain.
      for (const { sink, held } of openings) if (tail.length > held) await sink.append?.(tail.slice(held));
      const end = tail.at(-1);
      if (end) {
        this.last = { seq: end.seq, hash: end.hash };
        if (this.options.anchor) this.pending.push(...tail);
      }
      this.state = 'open';
      try {
        // Genesis: anchor the empty chain, so a later deletion of the whole trail shows.
        if (this.options.anchor && !head) await this.checkpoint();
        const notes = this.recovered.splice(0);
        if (notes.length > 0)
          await this.appendNow(
            notes.map((detail) => ({
              action: 'recovered' as const,
              identity: { uid: '', namespace: '', name: '' },
              actor: this.options.writer,
              resource: 'audit:trail',
              origin: 'audit trail opened',
              outcome: 'success' as const,
              severity: 'warning' as const,
              detail,
            })),
          );
        if (this.pending.length > 0) await this.checkpoint();
      } catch (error) {
        // Not open after all: the next attempt reads the head and the sinks again.
        if (this.state === 'open') this.state = 'new';
        throw error;
      }
    });
  }

  /**
   * Appends `entry`; resolves once every sink holds it durably. Records asked for while a batch is
   * being written wait for the next one, which takes them all: one write and one sync per batch
   * (group commit), so concurrent reconciles do not queue behind one fsync each.
   */
  record(entry: AuditEntry): Promise<AuditRecord> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ entry, resolve, reject });
      if (this.drainScheduled) return;
      this.drainScheduled = true;
      void this.serially(() => this.drain());
    });
  }

  private async drain(): Promise<void> {
    this.drainScheduled = false;
    const batch = this.waiting.splice(0);
    try {
      const records = await this.appendNow(batch.map((w) => w.entry));
      for (const [i, w] of batch.entries()) w.resolve(records[i] as AuditRecord);
    } catch (error) {
      for (const w of batch) w.reject(error);
      return;
    }
    if (this.pending.length >= (this.options.maxPending ?? 100)) {
      // The records are written: a checkpoint that fails (S3 or the apiserver away) is retried by
      // the next flush and must not make the callers believe the actions went unrecorded.
      await this.checkpoint().catch((error: unknown) => this.options.onCheckpointError?.(error));
    }
  }

  /** Seals what was appended since the last checkpoint and moves the anchored head (no-op if nothing). */
  flush(): Promise<void> {
    return this.serially(async () => {
      if (this.state === 'open' && this.pending.length > 0) await this.checkpoint();
    });
  }

  /** Flushes and stops accepting records. */
  close(): Promise<void> {
    return this.serially(async () => {
      if (this.state === 'open' && this.pending.length > 0) await this.checkpoint();
      this.state = 'closed';
    });
  }

  /** Stops at once, anchoring nothing more: the lease is lost and the next leader continues. */
  abandon(): void {
    this.state = 'closed';
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Chains `entries` after the last record and appends them to every sink, as one batch. */
  private async appendNow(entries: readonly AuditEntry[]): Promise<AuditRecord[]> {
    if (this.state !== 'open')
      throw new AuditTrailClosedError(`the audit trail is ${this.state}: only the leader records`);
    const records: AuditRecord[] = [];
    let link = this.last;
    for (const entry of entries) {
      const record = chain(link, entry, this.now(), this.options.writer);
      records.push(record);
      link = { seq: record.seq, hash: record.hash };
    }
    for (const sink of this.options.sinks) await sink.append?.(records);
    this.last = link;
    if (this.options.anchor) this.pending.push(...records);
    return records;
  }

  private async checkpoint(): Promise<void> {
    const anchor = this.options.anchor;
    const key = this.key;
    if (!anchor || !key) {
      this.pending = [];
      return;
    }
    const seq = this.last?.seq ?? 0;
    let checkpoint = this.sealed;
    if (checkpoint?.seq !== seq) {
      checkpoint = signCheckpoint(
        {
          chain: this.chainId,
          seq,
          hash: this.last?.hash ?? '0'.repeat(64),
          time: this.now().toISOString(),
          writer: this.options.writer,
        },
        key,
      );
      // Sinks first: the head names only records that are already durable.
      for (const sink of this.options.sinks) await sink.seal?.(this.pending, checkpoint);
      // Sealed: if moving the head fails (the apiserver away), the retry moves it with this same
      // checkpoint instead of writing a second one over the first in write-once storage.
      this.sealed = checkpoint;
    }
    try {
      this.headVersion = await anchor.store.write(checkpoint, this.headVersion);
    } catch (error) {
      if (error instanceof HeadConflictError) {
        this.state = 'closed';
        this.options.onFenced?.(error);
      }
      throw error;
    }
    this.pending = [];
  }
}

/** JSON lines on stdout (or any writer) for a SIEM: `{"audit": record}` and `{"checkpoint": …}`. */
export function streamSink(out: Pick<NodeJS.WritableStream, 'write'> = process.stdout): TrailSink {
  return {
    name: 'stdout',
    async open(head) {
      // Like a fresh file, a new pod's output opens with the signed head it continues from.
      if (head) out.write(`${JSON.stringify({ checkpoint: head })}\n`);
      return { tail: [], recovered: [] };
    },
    async append(records) {
      out.write(records.map((record) => `${JSON.stringify({ audit: record })}\n`).join(''));
    },
    async seal(_records, checkpoint) {
      out.write(`${JSON.stringify({ checkpoint })}\n`);
    },
  };
}
