// What a crash-injection run must leave, judged from the backends and the audit file alone:
//
// Backends (inventory.ts, counted by ownership marks): every identity holds exactly what its fate
// says — active and locked ones one of each object, orphaned (revoked) and deleted (offboarded) ones
// nothing at all — so a leaked or a duplicated role, secret, policy, auth role, KV entry,
// ServiceAccount, Role or Secret fails the run. Each secret of an active identity has exactly one new
// version per rotation request (no lost rotation, no double write): Secrets Manager VersionIds
// 1..1+r without gaps or repeats, the KV key's latest and current version 1+r, every target Secret at
// 1+r.
//
// Audit trail (the file sink, continued by every restarted process): the hash chain verifies (no
// torn or lost line); every action that happened has a record — `provisioned` for each backend,
// `rotated` naming each version 2..1+r of each secret, `locked`/`orphaned`, `quarantined` and
// `revoked` for each backend, `offboarded` — and no record names a version that was never written.
// Backend writes have an `intent` record before them and their outcome after (an intent is not the
// action's record: only an outcome counts above). A reconcile cut between the action and its status
// write repeats the action idempotently (or finds it done) and records it again: so a record may
// repeat, never go missing. Repeats of outcomes are counted and reported, and bounded by the number
// of kills; intents repeat on purpose (the cut attempt's, then its retry's). A kill may leave an
// intent without an outcome, but every attempt an active identity still needed was finished: its
// last intent for each action and resource has its outcome (interruptedIntents).

import { type AuditRecord, verifyChain } from '../../../src/governance/audit/audit.ts';
import { interruptedIntents } from '../../../src/governance/audit/intents.ts';
import type { CrashRunResult } from './crash-run.ts';
import { type Held, KINDS, type Kind } from './inventory.ts';
import type { Fate, Planned } from './scenario.ts';

const ONE_OF_EACH: Record<Kind, number> = {
  'iam-role': 1,
  'sm-secret': 1,
  'vault-policy': 1,
  'vault-role': 1,
  'vault-owner-record': 1,
  'vault-kv': 1,
  ServiceAccount: 1,
  Role: 1,
  RoleBinding: 1,
  Secret: 3,
};
const NOTHING = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;

/** What each fate leaves in the backends. A locked identity keeps everything but its RoleBinding. */
export const EXPECTED_HOLDINGS: Record<Fate, { counts: Record<Kind, number>; roleQuarantined: boolean }> = {
  active: { counts: ONE_OF_EACH, roleQuarantined: false },
  locked: { counts: { ...ONE_OF_EACH, RoleBinding: 0 }, roleQuarantined: true },
  orphaned: { counts: NOTHING, roleQuarantined: false },
  deleted: { counts: NOTHING, roleQuarantined: false },
};

const BACKENDS = ['aws', 'vault', 'kubernetes'] as const;
const SECRETS = ['k', 'a', 'v'] as const;

export interface CrashReport {
  problems: string[];
  records: number;
  /** Records repeating an earlier one (same identity, action, resource and detail). */
  repeated: number;
}

export function holdingProblems(p: Planned, held: Held | undefined): string[] {
  const who = `${p.name} (${p.fate})`;
  if (!held) return [`${who}: no inventory`];
  const want = EXPECTED_HOLDINGS[p.fate];
  const problems: string[] = [];
  for (const kind of KINDS) {
    if (held.counts[kind] !== want.counts[kind])
      problems.push(`${who}: ${held.counts[kind]} ${kind} held, ${want.counts[kind]} expected`);
  }
  if (held.roleQuarantined !== want.roleQuarantined && want.counts['iam-role'] > 0)
    problems.push(`${who}: IAM role quarantine policy ${held.roleQuarantined ? 'present' : 'missing'}`);
  if (p.fate !== 'active') return problems;
  const n = 1 + p.rotations;
  const expect = (key: string, want: number[]) => {
    const got = held.versions[key] ?? [];
    if (got.join(',') !== want.join(','))
      problems.push(`${who}: ${key} versions [${got.join(',')}], [${want.join(',')}] expected`);
  };
  expect(
    'aws:a',
    Array.from({ length: n }, (_, i) => i + 1),
  );
  expect('vault:v', [n, n]);
  for (const s of SECRETS) expect(`target:${s}`, [n]);
  return problems;
}

/**
 * `intentsAnswered`: require the last intent of each action and resource to have its outcome. Right
 * for one writer (crash injection, storm); not across SIGKILLed leaders, where a deposed leader's
 * in-flight intent can follow its successor's finished work and is then never answered.
 */
export function auditProblems(
  p: Planned,
  records: AuditRecord[],
  options: { intentsAnswered?: boolean } = {},
): string[] {
  const who = `${p.name} (${p.fate})`;
  const all = records.filter((r) => r.identity.uid === p.uid);
  const mine = all.filter((r) => r.outcome !== 'intent');
  const has = (action: string, backend?: string) =>
    mine.some((r) => r.action === action && (!backend || r.resource.startsWith(backend)));
  const problems: string[] = [];
  const need = (action: string, backend?: string) => {
    if (!has(action, backend))
      problems.push(`${who}: no '${action}' record${backend ? ` for ${backend}` : ''}`);
  };
  for (const b of BACKENDS) need('provisioned', b);
  if (p.fate === 'locked') need('locked');
  if (p.fate === 'orphaned') need('orphaned');
  if (p.fate === 'locked' || p.fate === 'orphaned') for (const b of BACKENDS) need('quarantined', b);
  if (p.fate === 'orphaned' || p.fate === 'deleted') for (const b of BACKENDS) need('revoked', b);
  if (p.fate === 'deleted') need('offboarded');
  for (const s of SECRETS) {
    const named = new Set(
      mine
        .filter((r) => r.action === 'rotated' && r.resource.endsWith(`:secret/${s}`))
        .map((r) => Number(/version (\d+)/.exec(r.detail ?? '')?.[1] ?? 0)),
    );
    if (p.fate === 'active') {
      for (let v = 2; v <= 1 + p.rotations; v++)
        if (!named.has(v)) problems.push(`${who}: no 'rotated' record for version ${v} of ${s}`);
      for (const v of named)
        if (v > 1 + p.rotations)
          problems.push(`${who}: 'rotated' record for version ${v} of ${s}, never written`);
    }
  }
  if (p.fate === 'active' && options.intentsAnswered !== false) {
    // An intent cut by a kill is followed by its retry's; the last one of each must have its outcome.
    const cut = new Set(interruptedIntents(all));
    const last = new Map<string, AuditRecord>();
    for (const r of all) if (r.outcome === 'intent') last.set(`${r.action} ${r.resource}`, r);
    for (const [what, r] of last)
      if (cut.has(r.seq)) problems.push(`${who}: intent '${what}' (seq ${r.seq}) never got its outcome`);
  }
  return problems;
}

export function checkCrashRun(run: CrashRunResult): CrashReport {
  const problems = [...run.selfExits.map((log) => `the operator exited by itself:\n${log}`)];
  const broken = verifyChain(run.audit);
  if (broken) problems.push(`audit chain broken at record ${broken.seq}: ${broken.problem}`);
  for (const p of run.identities) {
    problems.push(...holdingProblems(p, p.uid ? run.held.get(p.uid) : undefined));
    problems.push(...auditProblems(p, run.audit));
  }
  const seen = new Set<string>();
  let repeated = 0;
  for (const r of run.audit) {
    if (r.outcome === 'intent') continue;
    const key = JSON.stringify([r.identity.uid, r.action, r.resource, r.detail ?? '']);
    if (seen.has(key)) repeated++;
    seen.add(key);
  }
  if (repeated > run.kills) problems.push(`${repeated} repeated audit records for ${run.kills} kills`);
  return { problems, records: run.audit.length, repeated };
}
