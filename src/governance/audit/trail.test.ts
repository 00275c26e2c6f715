// The cluster's chain across writers: a new leader (or a replaced pod with a fresh file) continues
// from the anchored head, a torn last line is set aside and recorded, a fenced writer stops.

import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuditEntry } from './audit.ts';
import { generateSigningKey } from './checkpoint.ts';
import { fileSink } from './file-sink.ts';
import { readS3Trail, s3Sink } from './s3.ts';
import { MemoryHeadStore } from './testing/memory-head-store.ts';
import { MemoryS3 } from './testing/memory-s3.ts';
import { AuditTrail, AuditTrailClosedError, HeadConflictError, streamSink } from './trail.ts';
import { parseTrailText, verifyTrail } from './verify.ts';

const key = generateSigningKey();
const entry = (name: string): AuditEntry => ({
  action: 'provisioned',
  identity: { uid: `uid-${name}`, namespace: 'agents', name },
  actor: 'nhi-operator',
  resource: `kubernetes:ServiceAccount/agents/${name}`,
  origin: 'reconcile',
  outcome: 'success',
});

function writer(path: string, store: MemoryHeadStore, name: string, onFenced?: () => void) {
  return new AuditTrail({
    sinks: [fileSink(path)],
    anchor: { store, key: async () => key },
    writer: name,
    ...(onFenced && { onFenced }),
  });
}

const dir = () => mkdtempSync(join(tmpdir(), 'nhi-audit-trail-'));

function verifyFiles(paths: string[], store: MemoryHeadStore) {
  return verifyTrail({
    lines: paths.flatMap((p) => parseTrailText(readFileSync(p, 'utf8'), `${p} `)),
    anchors: store.head ? [{ checkpoint: store.head, where: 'cluster head' }] : [],
    publicKeys: [key.publicKeyPem],
  });
}

describe('one chain per cluster', () => {
  it('a new leader with a fresh file continues from the anchored head, and both files verify as one chain', async () => {
    const store = new MemoryHeadStore();
    const [a, b] = [join(dir(), 'audit.jsonl'), join(dir(), 'audit.jsonl')];
    const first = writer(a, store, 'pod-a');
    await first.open();
    await first.record(entry('one'));
    const last = await first.record(entry('two'));
    await first.close();

    const second = writer(b, store, 'pod-b');
    await second.open();
    const next = await second.record(entry('three'));
    await second.close();

    expect(next).toMatchObject({ seq: last.seq + 1, prevHash: last.hash, writer: 'pod-b' });
    expect(store.head).toMatchObject({ seq: next.seq, hash: next.hash, chain: store.history[0]?.chain });
    expect(verifyFiles([a, b], store).problem).toBeUndefined();
    // The second file alone verifies too: it opens with the signed head it continued from.
    expect(verifyFiles([b], store)).toMatchObject({ records: 1, firstSeq: next.seq });
    // Without the first, the chain before it is not claimed, and the first alone is truncated.
    expect(verifyFiles([a], store).problem?.kind).toBe('truncated');
  });

  it('records a leader appended but never anchored are reported as orphaned, not as tampering', async () => {
    const store = new MemoryHeadStore();
    const [a, b] = [join(dir(), 'audit.jsonl'), join(dir(), 'audit.jsonl')];
    const first = writer(a, store, 'pod-a');
    await first.open();
    await first.record(entry('anchored'));
    await first.flush();
    await first.record(entry('never anchored'));
    first.abandon(); // killed before its next checkpoint

    const second = writer(b, store, 'pod-b');
    await second.open();
    await second.record(entry('after failover'));
    await second.close();
    const report = verifyFiles([a, b], store);
    expect(report.problem).toBeUndefined();
    expect(report.orphaned).toEqual([{ fromSeq: 2, toSeq: 2, where: `${b} line 1` }]);
  });

  it('a writer whose head another writer moved is fenced: it stops appending', async () => {
    const store = new MemoryHeadStore();
    let fenced = false;
    const stale = writer(join(dir(), 'audit.jsonl'), store, 'pod-a', () => {
      fenced = true;
    });
    await stale.open();
    const other = writer(join(dir(), 'audit.jsonl'), store, 'pod-b');
    await other.open();
    await other.record(entry('by the real leader'));
    await other.flush();

    await stale.record(entry('by the stale one'));
    await expect(stale.flush()).rejects.toBeInstanceOf(HeadConflictError);
    expect(fenced).toBe(true);
    await expect(stale.record(entry('again'))).rejects.toBeInstanceOf(AuditTrailClosedError);
  });
});

describe('the stdout copy a SIEM keeps', () => {
  it('verifies from the operator logs, each pod’s output on its own too, with log lines in between', async () => {
    const store = new MemoryHeadStore();
    const logs = ['', ''];
    const out = (i: number) => ({
      write: (text: string) => {
        logs[i] += `{"level":"info","message":"reconciled"}\n${text}`;
        return true;
      },
    });
    for (const [i, name] of ['pod-a', 'pod-b'].entries()) {
      const trail = new AuditTrail({
        sinks: [streamSink(out(i))],
        anchor: { store, key: async () => key },
        writer: name,
      });
      await trail.open();
      await trail.record(entry(`${name}-1`));
      await trail.record(entry(`${name}-2`));
      await trail.close();
    }
    const check = (...texts: string[]) =>
      verifyTrail({
        lines: texts.flatMap((t, i) => parseTrailText(t, `log ${i} `, { log: true })),
        anchors: [{ checkpoint: store.head!, where: 'head' }],
        publicKeys: [key.publicKeyPem],
      });
    expect(check(logs[0]!, logs[1]!)).toMatchObject({ records: 4, firstSeq: 1, lastSeq: 4 });
    expect(check(logs[0]!, logs[1]!).problem).toBeUndefined();
    expect(check(logs[1]!)).toMatchObject({ records: 2, firstSeq: 3 });
    expect(check(logs[1]!).problem).toBeUndefined();
    // A record taken out of the SIEM's copy is missed.
    const cut = logs[0]!
      .split('\n')
      .filter((l) => !l.includes('pod-a-2'))
      .join('\n');
    expect(check(cut, logs[1]!).problem).toMatchObject({ kind: 'missing', seq: 2 });
  });
});

describe('a file that holds no record', () => {
  it('opened by a leader that appended nothing, then continued after another led: still one verifiable piece', async () => {
    const store = new MemoryHeadStore();
    const a = join(dir(), 'audit.jsonl');
    const idle = writer(a, store, 'pod-a');
    await idle.open();
    await idle.close();
    const other = writer(join(dir(), 'audit.jsonl'), store, 'pod-b');
    await other.open();
    await other.record(entry('while pod-a was away'));
    await other.close();

    const back = writer(a, store, 'pod-a');
    await back.open();
    await back.record(entry('back'));
    await back.close();
    expect(verifyFiles([a], store)).toMatchObject({ records: 1, firstSeq: 2 });
    expect(verifyFiles([a], store).problem).toBeUndefined();
  });
});

describe('a torn last line', () => {
  it('is set aside with a recovered record; the operator starts and the file verifies', async () => {
    const store = new MemoryHeadStore();
    const folder = dir();
    const path = join(folder, 'audit.jsonl');
    const first = writer(path, store, 'pod-a');
    await first.open();
    await first.record(entry('one'));
    await first.close();
    appendFileSync(path, '{"action":"rotated","identity":{"uid":"u'); // disk full, node crash

    const again = writer(path, store, 'pod-a');
    await again.open();
    await again.close();
    const records = parseTrailText(readFileSync(path, 'utf8')).flatMap((l) =>
      l.kind === 'record' ? [l.record] : [],
    );
    expect(records.at(-1)).toMatchObject({ action: 'recovered', severity: 'warning' });
    expect(records.at(-1)?.detail).toMatch(
      /^file .*: set aside a torn last line \(40 bytes, sha256 [0-9a-f]{64}\) to .*\.torn-/,
    );
    const aside = readdirSync(folder).find((f) => f.startsWith('audit.jsonl.torn-'));
    expect(aside && existsSync(join(folder, aside))).toBe(true);
    expect(verifyFiles([path], store).problem).toBeUndefined();
  });
});

describe('write-once storage across a failure between a seal and the head', () => {
  class FlakyHeadStore extends MemoryHeadStore {
    failWrites = 0;
    override async write(checkpoint: Parameters<MemoryHeadStore['write']>[0], version: string | undefined) {
      if (this.failWrites > 0) {
        this.failWrites--;
        throw new Error('apiserver unavailable');
      }
      return super.write(checkpoint, version);
    }
  }
  const s3Writer = (s3: MemoryS3, store: MemoryHeadStore, name: string, file?: string) =>
    new AuditTrail({
      sinks: [s3Sink(s3, { bucket: 'b', prefix: 'p/' }, 60_000), ...(file ? [fileSink(file)] : [])],
      anchor: { store, key: async () => key },
      writer: name,
    });

  it('a retried head move reuses the sealed checkpoint: nothing is written twice', async () => {
    const s3 = new MemoryS3();
    const store = new FlakyHeadStore();
    const trail = s3Writer(s3, store, 'pod-a');
    await trail.open();
    await trail.record(entry('one'));
    store.failWrites = 1;
    await expect(trail.flush()).rejects.toThrow('apiserver unavailable');
    await trail.flush();
    // One version per key: the retry did not write the checkpoint again.
    const keys = s3.versions.map((v) => v.key);
    expect(keys).toHaveLength(new Set(keys).size);
    expect(store.head?.seq).toBe(1);
  });

  it('a new leader adopts a segment sealed after the head it reads, and continues after it', async () => {
    const s3 = new MemoryS3();
    const store = new FlakyHeadStore();
    const first = s3Writer(s3, store, 'pod-a');
    await first.open();
    await first.record(entry('one'));
    store.failWrites = 1;
    await expect(first.flush()).rejects.toThrow('apiserver unavailable');
    first.abandon(); // the pod dies before it can retry

    const file = join(dir(), 'audit.jsonl');
    const second = s3Writer(s3, store, 'pod-b', file);
    await second.open();
    const next = await second.record(entry('two'));
    await second.close();
    expect(next.seq).toBe(2);
    // Its fresh file got the adopted record too: it verifies on its own, without a gap.
    expect(verifyFiles([file], store)).toMatchObject({ records: 2, firstSeq: 1, lastSeq: 2 });
    const trail = await readS3Trail(s3, { bucket: 'b', prefix: 'p/' }, store.head!.chain);
    expect(trail.tampering).toEqual([]);
    const report = verifyTrail({
      lines: trail.lines,
      anchors: [...trail.checkpoints, { checkpoint: store.head!, where: 'head' }],
      publicKeys: [key.publicKeyPem],
    });
    expect(report).toMatchObject({ records: 2, lastSeq: 2 });
    expect(report.problem).toBeUndefined();
  });

  it('a record is returned as written although the checkpoint it forced failed; the next flush anchors it', async () => {
    const s3 = new MemoryS3();
    const store = new MemoryHeadStore();
    const errors: unknown[] = [];
    const trail = new AuditTrail({
      sinks: [s3Sink(s3, { bucket: 'b', prefix: 'p/' }, 60_000)],
      anchor: { store, key: async () => key },
      writer: 'pod-a',
      maxPending: 1,
      onCheckpointError: (error) => errors.push(error),
    });
    await trail.open();
    s3.failPuts = 1;
    await expect(trail.record(entry('one'))).resolves.toMatchObject({ seq: 1 });
    expect(errors).toHaveLength(1);
    expect(store.head?.seq).toBe(0);
    await trail.flush();
    expect(store.head?.seq).toBe(1);
  });

  it('opens again after a failed first attempt: the torn line is still recorded, once', async () => {
    const store = new FlakyHeadStore();
    const path = join(dir(), 'audit.jsonl');
    const first = writer(path, store, 'pod-a');
    await first.open();
    await first.record(entry('one'));
    await first.close();
    appendFileSync(path, '{"torn');

    const again = writer(path, store, 'pod-a');
    store.failWrites = 1;
    await expect(again.open()).rejects.toThrow('apiserver unavailable');
    await again.open();
    await again.close();
    const recovered = parseTrailText(readFileSync(path, 'utf8')).filter(
      (l) => l.kind === 'record' && l.record.action === 'recovered',
    );
    expect(recovered).toHaveLength(1);
    expect(verifyFiles([path], store).problem).toBeUndefined();
    expect(store.head?.seq).toBe(2);
  });
});

describe('records asked for together', () => {
  it('are written as one batch per sync, in chain order, and each caller gets its own record', async () => {
    const store = new MemoryHeadStore();
    const path = join(dir(), 'audit.jsonl');
    const batches: number[] = [];
    const file = fileSink(path);
    const counting = {
      ...file,
      append: async (records: Parameters<NonNullable<typeof file.append>>[0]) => {
        batches.push(records.length);
        await file.append?.(records);
      },
    };
    const trail = new AuditTrail({ sinks: [counting], anchor: { store, key: async () => key }, writer: 'w' });
    await trail.open();
    const records = await Promise.all(Array.from({ length: 50 }, (_, i) => trail.record(entry(`n${i}`))));
    await trail.close();
    expect(records.map((r) => r.identity.name)).toEqual(Array.from({ length: 50 }, (_, i) => `n${i}`));
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => (records[0]?.seq ?? 0) + i));
    expect(batches.reduce((a, b) => a + b, 0)).toBe(50);
    expect(batches.length).toBeLessThan(50);
    expect(verifyFiles([path], store).problem).toBeUndefined();
  });

  it('all fail together when the sink cannot write them, and the chain goes on from the last durable record', async () => {
    const store = new MemoryHeadStore();
    const path = join(dir(), 'audit.jsonl');
    const file = fileSink(path);
    let fail = true;
    const flaky = {
      ...file,
      append: async (records: Parameters<NonNullable<typeof file.append>>[0]) => {
        if (fail) throw new Error('disk full');
        await file.append?.(records);
      },
    };
    const trail = new AuditTrail({ sinks: [flaky], anchor: { store, key: async () => key }, writer: 'w' });
    await trail.open();
    const lost = await Promise.allSettled([trail.record(entry('a')), trail.record(entry('b'))]);
    expect(lost.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await trail.record(entry('c'));
    await trail.close();
    expect(verifyFiles([path], store).problem).toBeUndefined();
  });
});
