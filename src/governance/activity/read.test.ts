import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readActivityFile } from './read.ts';
import { kubeAuditEvent, vaultAuditEntry } from './testing/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'nhi-activity-read-'));
const lines = (...values: unknown[]) => `${values.map((v) => JSON.stringify(v)).join('\n')}\n`;

describe('reading audit files', () => {
  it('streams JSON lines, keeps what the filter accepts and counts every line', async () => {
    const file = join(dir, 'audit.log');
    writeFileSync(
      file,
      `${lines(
        kubeAuditEvent({ user: 'system:serviceaccount:a:bot', verb: 'get' }),
        kubeAuditEvent({ user: 'system:serviceaccount:a:bot', verb: 'list' }),
        kubeAuditEvent({ user: 'system:serviceaccount:a:other' }),
      )}torn line {"kind"\n`,
    );
    const stats = { lines: 0, skipped: 0 };
    const events = await readActivityFile('kubernetes', file, stats, {
      needles: ['bot'],
      keep: (e) => e.verb === 'get',
    });
    expect(events.map((e) => e.verb)).toEqual(['get']);
    expect(stats.lines).toBe(4);
  });

  it('reads a gzipped OpenBao audit log', async () => {
    const file = join(dir, 'vault.log.gz');
    writeFileSync(
      file,
      gzipSync(
        lines(
          vaultAuditEntry({ path: 'secret/data/a', role: 'r', type: 'request' }),
          vaultAuditEntry({ path: 'secret/data/a', role: 'r' }),
        ),
      ),
    );
    expect((await readActivityFile('vault', file)).map((e) => e.resource)).toEqual(['secret/data/a']);
  });

  it('names a missing file in its error', async () => {
    await expect(readActivityFile('vault', join(dir, 'absent.log'))).rejects.toThrow(
      /vault audit log .*absent\.log: no such file/,
    );
  });
});
