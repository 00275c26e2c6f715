// The file sink (development, or a shared volume): JSON lines, one record each, with a signed
// `{"checkpoint": …}` line at each checkpoint. On opening it never crash-loops on what it finds:
// a torn last line (disk full, node crash) is moved to `<file>.torn-<time>` and the file cut back to
// its last whole line; a file that does not continue the anchored head (another pod wrote meanwhile,
// or it forked) is moved aside whole; a fresh file opens with the head it continues from, so the
// fragment verifies on its own. Each of these becomes a `recovered` record.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditRecord } from './audit.ts';
import type { Checkpoint } from './checkpoint.ts';
import type { SinkOpening, TrailSink } from './trail.ts';
import { parseTrailText, verifyTrail } from './verify.ts';

function stamp(now: Date): string {
  return now.toISOString().replace(/[:.]/g, '-');
}

/** Appends and syncs without blocking the event loop (the reconcile workers go on meanwhile). */
async function appendDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, 'a');
  try {
    await handle.appendFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function fileSink(path: string, now: () => Date = () => new Date()): TrailSink {
  return {
    name: `file ${path}`,
    async open(head: Checkpoint | undefined): Promise<SinkOpening> {
      mkdirSync(dirname(path), { recursive: true });
      const recovered: string[] = [];
      if (!existsSync(path)) writeFileSync(path, '');
      let text = readFileSync(path, 'utf8');
      const cut = text.lastIndexOf('\n') + 1;
      if (cut < text.length) {
        const torn = text.slice(cut);
        const aside = `${path}.torn-${stamp(now())}`;
        writeFileSync(aside, torn);
        truncateSync(path, Buffer.byteLength(text.slice(0, cut)));
        text = text.slice(0, cut);
        const digest = createHash('sha256').update(torn).digest('hex');
        recovered.push(
          `set aside a torn last line (${Buffer.byteLength(torn)} bytes, sha256 ${digest}) to ${aside}`,
        );
      }
      const lines = parseTrailText(text);
      const records = lines.flatMap((l) => (l.kind === 'record' ? [l.record] : []));
      // The chain's own consistency only: signatures are the verifier's business.
      const broken = verifyTrail({ lines, skipSignatures: true }).problem !== undefined;
      const moveAside = (why: string) => {
        const aside = `${path}.${why}-${stamp(now())}`;
        renameSync(path, aside);
        writeFileSync(path, '');
        recovered.push(`moved ${records.length} records aside to ${aside}: ${why}`);
      };
      if (!head) {
        // A local chain (or the first anchored one): continue what the file holds, if it holds together.
        if (broken) {
          moveAside('broken');
          return { tail: [], recovered };
        }
        return { tail: records, recovered };
      }
      const at = records.findIndex((r) => r.seq === head.seq);
      if (broken) moveAside('broken');
      else if (at >= 0 && records[at]?.hash === head.hash) return { tail: records.slice(at + 1), recovered };
      else if (records.length > 0) moveAside(at >= 0 ? 'forked' : 'behind-the-head');
      // Only checkpoint lines (opened, then nothing appended): they are copies of signed heads kept
      // in the cluster, and an older opening line would make the new one look like a gap.
      else writeFileSync(path, '');
      // A fresh fragment opens with the signed head it continues from.
      await appendDurably(path, `${JSON.stringify({ checkpoint: head })}\n`);
      return { tail: [], recovered };
    },
    async append(records: readonly AuditRecord[]) {
      await appendDurably(path, records.map((record) => `${JSON.stringify(record)}\n`).join(''));
    },
    async seal(_records, checkpoint: Checkpoint) {
      await appendDurably(path, `${JSON.stringify({ checkpoint })}\n`);
    },
  };
}
