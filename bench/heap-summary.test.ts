import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { summarizeHeap } from './heap-summary.ts';

describe('heap summary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nhi-heap-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // A real snapshot of a small Node.js process holding 300 copies of one string and 400 objects of
  // one class, and one string held once.
  const file = join(dir, 'small.heapsnapshot');
  execFileSync(process.execPath, [
    '-e',
    `class Holder { constructor(i) { this.i = i; } }
     globalThis.copies = Array.from({ length: 300 }, (_, i) => ['namespace-', String(i % 1), '-tenant'].join(''));
     globalThis.holders = Array.from({ length: 400 }, (_, i) => new Holder(i));
     globalThis.once = ['held-', 'once-only'].join('');
     require('node:v8').writeHeapSnapshot(${JSON.stringify(file)});`,
  ]);
  const summary = summarizeHeap(JSON.parse(readFileSync(file, 'utf8')));

  it('counts objects by constructor and sums their self size', () => {
    const holders = summary.kinds.find((row) => row.kind === 'object Holder');
    expect(holders?.count).toBe(400);
    expect(holders?.bytes).toBeGreaterThan(0);
    expect(summary.total.bytes).toBeGreaterThanOrEqual(
      summary.kinds.reduce((sum, row) => sum + row.bytes, 0),
    );
  });

  it('lists strings held many times, and never one held once', () => {
    expect(summary.strings.find((row) => row.kind === 'namespace-0-tenant')?.count).toBe(300);
    expect(summary.strings.some((row) => row.kind === 'held-once-only')).toBe(false);
  });
});
