// Property tests over real trails: written by the real AuditTrail into a real file with signed
// checkpoints, then tampered with one edit, deletion, insertion, reordering or truncation. Verify
// must catch each and name the first bad line; the untouched trail verifies.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { AuditActions, type AuditEntry, type AuditRecord, hashRecord } from './audit.ts';
import { generateSigningKey } from './checkpoint.ts';
import { fileSink } from './file-sink.ts';
import { MemoryHeadStore } from './testing/memory-head-store.ts';
import { AuditTrail } from './trail.ts';
import { parseTrailText, verifyTrail } from './verify.ts';

const key = generateSigningKey();

interface Written {
  text: string;
  head: MemoryHeadStore;
}

function entry(i: number): AuditEntry {
  return {
    action: AuditActions[i % AuditActions.length]!,
    identity: { uid: `uid-${i % 3}`, namespace: 'agents', name: `bot-${i % 3}` },
    actor: 'system:serviceaccount:nhi-system:nhi-operator',
    resource: `aws:role/nhi-${i}`,
    origin: 'reconcile',
    outcome: i % 5 === 0 ? 'failure' : 'success',
    detail: `step ${i}`,
  };
}

async function writeTrail(records: number, maxPending: number): Promise<Written> {
  const path = join(mkdtempSync(join(tmpdir(), 'nhi-audit-prop-')), 'audit.jsonl');
  const head = new MemoryHeadStore();
  let tick = Date.parse('2026-01-01T00:00:00Z');
  const trail = new AuditTrail({
    sinks: [fileSink(path)],
    anchor: { store: head, key: async () => key },
    writer: 'operator-a',
    maxPending,
    now: () => {
      tick += 1000;
      return new Date(tick);
    },
  });
  await trail.open();
  for (let i = 0; i < records; i++) await trail.record(entry(i));
  await trail.close();
  return { text: readFileSync(path, 'utf8'), head };
}

function check(text: string, written: Written) {
  const anchors = written.head.head ? [{ checkpoint: written.head.head, where: 'cluster head' }] : [];
  return verifyTrail({ lines: parseTrailText(text), anchors, publicKeys: [key.publicKeyPem] });
}

const trails: Written[] = [];
beforeAll(async () => {
  for (const [n, every] of [
    [12, 4],
    [25, 7],
    [6, 100],
    [1, 1],
  ] as const)
    trails.push(await writeTrail(n, every));
});

const lineArb = fc.nat({ max: 3 }).chain((t) => fc.record({ t: fc.constant(t), seed: fc.nat() }));

function linesOf(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}
const join_ = (lines: string[]) => lines.map((l) => `${l}\n`).join('');
const recordIndexes = (lines: string[]) =>
  lines.flatMap((l, i) => (JSON.parse(l).checkpoint === undefined ? [i] : []));

/** The first record line after `i`, or the end: where a self-consistent forgery shows at the latest. */
function nextRecord(lines: string[], i: number): number {
  const j = lines.findIndex((l, k) => k > i && JSON.parse(l).checkpoint === undefined);
  return j < 0 ? lines.length : j;
}
const between = (index: number | undefined, lo: number, hi: number) =>
  index !== undefined && index >= lo && index <= hi;

describe('audit verify over real trails', () => {
  it('verifies every untouched trail', () => {
    for (const written of trails) {
      const report = check(written.text, written);
      expect(report.problem).toBeUndefined();
      expect(report.checkpoints).toBeGreaterThan(0);
    }
  });

  const fields = ['action', 'actor', 'resource', 'outcome', 'detail', 'timestamp', 'origin'] as const;

  it('names the edited record, re-hashed or not', () => {
    fc.assert(
      fc.property(
        lineArb,
        fc.constantFrom(...fields),
        fc.string({ minLength: 1, maxLength: 12 }),
        fc.boolean(),
        ({ t, seed }, field, value, rehash) => {
          const written = trails[t]!;
          const lines = linesOf(written.text);
          const recs = recordIndexes(lines);
          const i = recs[seed % recs.length]!;
          const record = JSON.parse(lines[i]!) as AuditRecord;
          if (String(record[field]) === value) return;
          const edited = { ...record, [field]: value } as AuditRecord;
          if (rehash) {
            const { hash: _h, ...unsigned } = edited;
            edited.hash = hashRecord(edited.prevHash, unsigned);
          }
          lines[i] = JSON.stringify(edited);
          const { problem } = check(join_(lines), written);
          expect(problem).toBeDefined();
          if (rehash) expect(between(problem?.index, i, nextRecord(lines, i))).toBe(true);
          else expect(problem).toMatchObject({ index: i, kind: 'edited', seq: record.seq });
        },
      ),
    );
  });

  it('names the place of a deleted record', () => {
    fc.assert(
      fc.property(lineArb, ({ t, seed }) => {
        const written = trails[t]!;
        const lines = linesOf(written.text);
        const recs = recordIndexes(lines);
        const i = recs[seed % recs.length]!;
        const removed = JSON.parse(lines[i]!) as AuditRecord;
        lines.splice(i, 1);
        const { problem } = check(join_(lines), written);
        expect(problem).toMatchObject({ index: i, kind: 'missing', seq: removed.seq });
      }),
    );
  });

  it('names an inserted record (a copy of another, or a forged one)', () => {
    fc.assert(
      fc.property(lineArb, fc.nat(), fc.boolean(), ({ t, seed }, at, forge) => {
        const written = trails[t]!;
        const lines = linesOf(written.text);
        const recs = recordIndexes(lines);
        const source = JSON.parse(lines[recs[seed % recs.length]!]!) as AuditRecord;
        const i = at % (lines.length + 1);
        let inserted: AuditRecord = source;
        if (forge) {
          // The best an attacker can do without the key: a record that links to the one before it.
          const before = lines
            .slice(0, i)
            .map((l) => JSON.parse(l) as AuditRecord & { checkpoint?: AuditRecord })
            .reverse()
            .find((l) => l.checkpoint === undefined);
          const unsigned = {
            ...entry(99),
            seq: (before?.seq ?? 0) + 1,
            timestamp: '2026-01-01T12:00:00.000Z',
            prevHash: before?.hash ?? '0'.repeat(64),
          };
          inserted = { ...unsigned, hash: hashRecord(unsigned.prevHash, unsigned) };
        }
        lines.splice(i, 0, JSON.stringify(inserted));
        const report = check(join_(lines), written);
        if (report.problem) expect(between(report.problem.index, i, nextRecord(lines, i))).toBe(true);
        // A forged record after the last signed checkpoint is the one thing a chain alone cannot
        // refute: verify counts it as unanchored.
        else expect(report.unanchored).toBe(1);
      }),
    );
  });

  it('names the first of two swapped records as reordered', () => {
    fc.assert(
      fc.property(lineArb, fc.nat(), fc.nat(), ({ t }, a, b) => {
        const written = trails[t]!;
        const lines = linesOf(written.text);
        const recs = recordIndexes(lines);
        if (recs.length < 2) return;
        const [i, j] = [recs[a % recs.length]!, recs[b % recs.length]!].sort((x, y) => x - y) as [
          number,
          number,
        ];
        if (i === j) return;
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        const { problem } = check(join_(lines), written);
        expect(problem).toMatchObject({ index: i, kind: 'reordered' });
      }),
    );
  });

  it('reports a truncation, at a line or inside one, as truncated after the last good record', () => {
    fc.assert(
      fc.property(lineArb, fc.nat(), ({ t }, at) => {
        const written = trails[t]!;
        const text = written.text;
        const cut = at % text.length;
        const truncated = text.slice(0, cut);
        const lines = parseTrailText(truncated);
        const { problem } = check(truncated, written);
        const kept = lines.filter((l) => l.kind === 'record').length;
        const all = parseTrailText(text).filter((l) => l.kind === 'record').length;
        // Cutting only checkpoint lines off the end loses no record: nothing to report.
        if (kept === all && lines.at(-1)?.kind !== 'unreadable') return;
        expect(problem).toBeDefined();
        const last = lines.at(-1);
        if (last?.kind === 'unreadable')
          expect(problem).toMatchObject({ kind: 'unreadable', index: lines.length - 1 });
        else expect(problem?.kind).toMatch(/truncated|deleted/);
      }),
    );
  });

  it('reports the deletion of the whole file, or the whole chain rewritten, against the signed head', () => {
    for (const written of trails) {
      expect(check('', written).problem).toMatchObject({ kind: 'deleted' });
      // Rewritten from scratch with the same records, re-chained: every hash differs from the head.
      const records = linesOf(written.text)
        .map((l) => JSON.parse(l) as AuditRecord & { checkpoint?: unknown })
        .filter((l) => l.checkpoint === undefined);
      let prev = '0'.repeat(64);
      const forged = records.map((r) => {
        const unsigned = { ...r, detail: 'nothing happened', prevHash: prev } as Omit<AuditRecord, 'hash'> & {
          hash?: string;
        };
        delete unsigned.hash;
        const hash = hashRecord(prev, unsigned);
        prev = hash;
        return JSON.stringify({ ...unsigned, hash });
      });
      expect(check(join_(forged), written).problem?.kind).toBe('rewritten');
    }
  });

  it('refuses a checkpoint line whose signature does not verify', () => {
    const written = trails[1]!;
    const lines = linesOf(written.text);
    const i = lines.findIndex(
      (l) => JSON.parse(l).checkpoint !== undefined && JSON.parse(l).checkpoint.seq > 0,
    );
    const line = JSON.parse(lines[i]!) as { checkpoint: { time: string } };
    line.checkpoint.time = '2030-01-01T00:00:00.000Z';
    lines[i] = JSON.stringify(line);
    expect(check(join_(lines), written).problem).toMatchObject({ kind: 'signature-invalid', index: i });
    const other = generateSigningKey();
    const report = verifyTrail({
      lines: parseTrailText(written.text),
      publicKeys: [other.publicKeyPem],
    });
    expect(report.problem?.kind).toBe('signature-invalid');
  });
});
