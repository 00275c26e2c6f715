import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  agentIdentity,
  createdAt,
  inNamespace,
  withRules,
  withStatus,
} from '../../testing/agent-identity.ts';
import { parseKubernetesAudit, parseVaultAudit } from './index.ts';
import { AuditActivitySource } from './source.ts';
import { kubeAuditEvent, vaultAuditEntry } from './testing/fixtures.ts';
import { ActivityWindow, MAX_RECENT, MAX_USES } from './window.ts';

const HOUR = 3_600_000;
const now = new Date('2026-12-01T12:00:00Z');
const at = (msAgo: number) => new Date(now.getTime() - msAgo).toISOString();
const bot = agentIdentity('bot', inNamespace('team-a'), withStatus({ vault: { role: 'role-bot' } }));
const other = agentIdentity('other', inNamespace('team-a'));
const kube = (sa: string, time: string, code = 200) =>
  parseKubernetesAudit(kubeAuditEvent({ user: `system:serviceaccount:team-a:${sa}`, time, code }));

describe('the rolling activity window', () => {
  it("counts an identity's requests, denials and last use per backend, and no one else's", () => {
    const window = new ActivityWindow(24 * HOUR);
    for (const e of [
      ...kube('bot', at(2 * HOUR)),
      ...kube('bot', at(HOUR), 403),
      ...kube('other', at(HOUR)),
      ...parseVaultAudit(vaultAuditEntry({ path: 'p', role: 'role-bot', time: at(30 * 60_000) })),
      ...parseVaultAudit(vaultAuditEntry({ path: 'p', role: 'role-other', time: at(60_000) })),
    ])
      window.add(e, now);
    expect(window.summaryFor(bot, now)).toEqual([
      { backend: 'kubernetes', requests: 2, denials: 1, errors: 0, lastUsed: at(2 * HOUR) },
      { backend: 'vault', requests: 1, denials: 0, errors: 0, lastUsed: at(30 * 60_000) },
    ]);
    expect(window.summaryFor(other, now)).toEqual([
      { backend: 'kubernetes', requests: 1, denials: 0, errors: 0, lastUsed: at(HOUR) },
    ]);
  });

  it('forgets what falls out of the window', () => {
    const window = new ActivityWindow(24 * HOUR);
    for (const e of [...kube('bot', at(30 * HOUR)), ...kube('bot', at(23 * HOUR))]) window.add(e, now);
    expect(window.summaryFor(bot, now)[0]?.requests).toBe(1);
    expect(window.summaryFor(bot, new Date(now.getTime() + 2 * HOUR))).toEqual([]);
    expect(window.size).toBe(0);
  });

  it('keeps at most maxPrincipals principals, dropping the least recently seen', () => {
    const window = new ActivityWindow(24 * HOUR, 2);
    for (const sa of ['a', 'b', 'c']) for (const e of kube(sa, at(HOUR))) window.add(e, now);
    expect(window.size).toBe(2);
    expect(window.summaryFor(agentIdentity('a', inNamespace('team-a')), now)).toEqual([]);
  });
});

describe('following audit files for status.activity', () => {
  it('reads only what was appended, waits for a torn last line, and starts over after truncation', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhi-activity-tail-'));
    const file = join(dir, 'audit.log');
    const line = (time: string) =>
      JSON.stringify(kubeAuditEvent({ user: 'system:serviceaccount:team-a:bot', time }));
    writeFileSync(file, `${line(at(HOUR))}\n${line(at(HOUR))}\n`);
    const source = new AuditActivitySource({ kubeAuditLog: file, windowMs: 24 * HOUR });
    expect(source.summaryFor(bot, now).backends[0]?.requests).toBe(2);
    const third = line(at(60_000));
    appendFileSync(file, third.slice(0, 40));
    expect(source.summaryFor(bot, now).backends[0]?.requests).toBe(2);
    appendFileSync(file, `${third.slice(40)}\n`);
    expect(source.summaryFor(bot, now)).toMatchObject({
      window: '24h',
      observedAt: now.toISOString(),
      backends: [{ backend: 'kubernetes', requests: 3, lastUsed: at(60_000) }],
    });
    writeFileSync(file, `${line(at(60_000))}\n`);
    expect(source.summaryFor(bot, now).backends[0]?.requests).toBe(4);
  });

  it('is not built without an audit log, and a missing file gives empty counts', () => {
    expect(AuditActivitySource.fromConfig({ windowMs: HOUR })).toBeUndefined();
    const source = AuditActivitySource.fromConfig({
      vaultAuditLog: '/nonexistent/audit.log',
      windowMs: HOUR,
    });
    expect(source?.summaryFor(bot, now).backends).toEqual([]);
  });
});

describe('right-sizing in status.activity', () => {
  const rules = withRules(
    { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] },
    { apiGroups: [''], resources: ['services'], verbs: ['get'] },
  );
  const line = (verb: string, time: string, code = 200) =>
    JSON.stringify(
      kubeAuditEvent({
        user: 'system:serviceaccount:team-a:bot',
        verb,
        namespace: 'team-a',
        name: 'cfg',
        time,
        code,
      }),
    );
  function sourceWith(lines: string[]) {
    const file = join(mkdtempSync(join(tmpdir(), 'nhi-activity-rs-')), 'audit.log');
    writeFileSync(file, `${lines.join('\n')}\n`);
    return new AuditActivitySource({ kubeAuditLog: file, windowMs: 24 * HOUR });
  }

  it('judges the grants against the allowed requests of the window, complete when the log and the identity span it', () => {
    const source = sourceWith([
      line('get', at(30 * HOUR)),
      line('list', at(30 * HOUR)),
      line('get', at(HOUR)),
    ]);
    const identity = agentIdentity('bot', inNamespace('team-a'), rules, createdAt(at(48 * HOUR)));
    expect(source.summaryFor(identity, now).rightSizing).toEqual({
      since: at(24 * HOUR),
      complete: true,
      backends: ['kubernetes'],
      unused: [
        {
          field: 'spec.scopes[0].rules[0]',
          grant: 'get,list on configmaps (core)',
          unused: 'list on configmaps',
        },
        { field: 'spec.scopes[0].rules[1]', grant: 'get on services (core)', unused: 'never used' },
      ],
      suggestedScopes: [
        { provider: 'kubernetes', rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }] },
      ],
    });
  });

  it('is not complete when the log starts inside the window or the identity is younger than it', () => {
    const young = sourceWith([line('get', at(30 * HOUR))]);
    expect(
      young.summaryFor(agentIdentity('bot', inNamespace('team-a'), rules, createdAt(at(HOUR))), now)
        .rightSizing?.complete,
    ).toBe(false);
    const short = sourceWith([line('get', at(2 * HOUR))]);
    const judged = short.summaryFor(
      agentIdentity('bot', inNamespace('team-a'), rules, createdAt(at(48 * HOUR))),
      now,
    ).rightSizing;
    expect(judged).toMatchObject({ since: at(2 * HOUR), complete: false });
  });

  it('judges nothing when more distinct requests were seen than are kept, or the identity has no scopes', () => {
    const many = Array.from({ length: MAX_USES + 1 }, (_, i) =>
      JSON.stringify(
        kubeAuditEvent({
          user: 'system:serviceaccount:team-a:bot',
          namespace: 'team-a',
          name: `cm-${i}`,
          time: at(HOUR),
        }),
      ),
    );
    const identity = agentIdentity('bot', inNamespace('team-a'), rules, createdAt(at(48 * HOUR)));
    expect(sourceWith(many).summaryFor(identity, now).rightSizing).toBeUndefined();
    expect(
      sourceWith([line('get', at(HOUR))]).summaryFor(agentIdentity('bot', inNamespace('team-a')), now)
        .rightSizing,
    ).toBeUndefined();
  });
});

describe('what the window keeps for anomalies', () => {
  it('keeps request and denial times in order, the latest MAX_RECENT at least, and the source addresses', () => {
    const window = new ActivityWindow(24 * HOUR);
    const times = Array.from({ length: 2 * MAX_RECENT + 10 }, (_, i) => at((i % 7) * 60_000 + i * 1000));
    for (const time of times)
      for (const e of parseKubernetesAudit(
        kubeAuditEvent({ user: 'system:serviceaccount:team-a:bot', time, code: 403, sourceIP: '10.0.0.9' }),
      ))
        window.add(e, now);
    const seen = window.observationsFor(bot, now);
    expect(seen.denials).toEqual([...seen.denials].sort());
    expect(seen.denials.length).toBeGreaterThanOrEqual(MAX_RECENT);
    expect(seen.denials.at(-1)).toBe([...times].sort().at(-1));
    expect([...seen.sources.keys()]).toEqual(['10.0.0.9']);
    expect(seen.uses).toEqual([]);
  });
});
