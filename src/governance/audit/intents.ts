// Which intents were never followed by their outcome. The operator writes an `intent` record before
// each backend write and an outcome (`success`, `failure`) after it; an intent left without one is an
// attempt cut short (a crash, a killed leader) between the two. Pure: `nhictl audit show` marks such
// intents as interrupted, and the crash-injection checks use it to see that every cut attempt was
// finished by a later one.

import type { AuditRecord } from './audit.ts';

/** The backend a record's resource names: `aws/prod` of `aws/prod:identity/agents/bot`. */
const backendOf = (resource: string) => resource.split(':', 1)[0] ?? resource;

/**
 * An intent is answered by the first later record of the same identity, action and backend that is
 * not an intent (a provision's outcome may name the role it created rather than the identity), as long
 * as no new intent for the same resource came first (the attempt was cut, and this is its retry).
 * Returns the seqs of the intents that were not answered, in trail order.
 */
export function interruptedIntents(records: readonly AuditRecord[]): number[] {
  const open = new Map<string, AuditRecord[]>();
  const interrupted: number[] = [];
  const key = (r: AuditRecord, resource: string) => JSON.stringify([r.identity.uid, r.action, resource]);
  for (const record of records) {
    const backend = backendOf(record.resource);
    if (record.outcome === 'intent') {
      const same = open.get(key(record, backend)) ?? [];
      for (const earlier of same.filter((i) => i.resource === record.resource)) interrupted.push(earlier.seq);
      open.set(key(record, backend), [...same.filter((i) => i.resource !== record.resource), record]);
      continue;
    }
    const waiting = open.get(key(record, backend));
    if (!waiting || waiting.length === 0) continue;
    // The outcome answers the intent for its own resource, else the oldest one waiting on the backend.
    const answered = waiting.find((i) => i.resource === record.resource) ?? waiting[0];
    open.set(
      key(record, backend),
      waiting.filter((i) => i !== answered),
    );
  }
  for (const waiting of open.values()) interrupted.push(...waiting.map((i) => i.seq));
  return interrupted.sort((a, b) => a - b);
}
