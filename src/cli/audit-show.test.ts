// `nhictl audit show` over a file trail: an intent never followed by its outcome (the operator was cut
// between the two) reads as interrupted; one answered by its outcome does not.

import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../dev/components.ts';
import { type AuditEntry, FileAuditSink } from '../governance/audit/audit.ts';

const entry = (outcome: AuditEntry['outcome'], resource: string): AuditEntry => ({
  action: 'quarantined',
  identity: { uid: 'u1', namespace: 'agents', name: 'bot' },
  actor: 'system:serviceaccount:nhi-system:nhi-operator',
  resource,
  origin: 'reconcile: locked',
  outcome,
  ...(outcome === 'success' && { requestId: 'req-2', requestIds: ['req-1', 'req-2'] }),
});

describe('nhictl audit show', () => {
  it('marks an intent without its outcome as interrupted, in the table and in JSON', {
    timeout: 60_000,
  }, async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'nhictl-audit-show-')), 'audit.jsonl');
    const sink = new FileAuditSink(file);
    await sink.record(entry('intent', 'aws/prod:identity/agents/bot'));
    await sink.record(entry('success', 'aws/prod:identity/agents/bot'));
    await sink.record(entry('intent', 'kubernetes:identity/agents/bot'));
    const show = (...args: string[]) =>
      spawnSync(
        process.execPath,
        [join(repoRoot, 'bin/nhictl.js'), 'audit', 'show', file, '--identity', 'bot', ...args],
        { cwd: repoRoot, encoding: 'utf8' },
      );

    const table = show();
    expect(table.status).toBe(0);
    const rows = table.stdout.trim().split('\n').slice(1);
    expect(rows[0]).toMatch(/\bintent\b(?! \(interrupted\))/);
    expect(rows[1]).toMatch(/\bsuccess\b.*request req-1, req-2/);
    expect(rows[2]).toMatch(/intent \(interrupted\)/);

    const json = JSON.parse(show('-o', 'json').stdout) as Array<{ seq: number; interrupted?: boolean }>;
    expect(json.map((r) => [r.seq, r.interrupted ?? false])).toEqual([
      [1, false],
      [2, false],
      [3, true],
    ]);
  });
});
