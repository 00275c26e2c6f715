// A bounded, rolling count of activity per principal, for the operator's status summary: events go
// into hourly buckets per principal key; buckets older than the window are dropped, and at most
// `maxPrincipals` principals are kept (the least recently seen go first). Memory is bounded by
// principals x hours in the window, whatever the log's volume. Pure: events in, summaries out.

import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import { principalsOf } from './attribute.ts';
import type { ActivityBackend, ActivityEvent, BackendSummary } from './types.ts';

const HOUR_MS = 3_600_000;

interface Bucket {
  hour: number;
  requests: number;
  denials: number;
  errors: number;
  lastUsed?: string;
}

interface PrincipalCounts {
  backend: ActivityBackend;
  buckets: Bucket[];
}

/** The keys an event is counted under; attribution's rules (attribute.ts `matches`) in key form. */
export function eventKey(event: ActivityEvent): string | undefined {
  const { match } = event;
  const sa = match.serviceAccount
    ? `${match.serviceAccount.namespace}/${match.serviceAccount.name}`
    : undefined;
  switch (event.backend) {
    case 'kubernetes':
      return sa ? `kubernetes:sa:${sa}` : undefined;
    case 'vault':
      if (match.vaultRole) return `vault:role:${match.vaultRole}`;
      return sa ? `vault:sa:${sa}` : undefined;
    case 'aws':
      return match.awsRoleName ? `aws:role:${match.awsRoleName}` : undefined;
  }
}

export function identityKeys(identity: AgentIdentity): string[] {
  const p = principalsOf(identity);
  const sa = `${p.serviceAccount.namespace}/${p.serviceAccount.name}`;
  return [
    `kubernetes:sa:${sa}`,
    `vault:sa:${sa}`,
    ...(p.vaultRole ? [`vault:role:${p.vaultRole}`] : []),
    ...(p.awsRoleName ? [`aws:role:${p.awsRoleName}`] : []),
  ];
}

export class ActivityWindow {
  private readonly counts = new Map<string, PrincipalCounts>();

  constructor(
    readonly windowMs: number,
    private readonly maxPrincipals = 10_000,
  ) {}

  get size(): number {
    return this.counts.size;
  }

  add(event: ActivityEvent, now: Date): void {
    const key = eventKey(event);
    const time = Date.parse(event.time);
    if (!key || !Number.isFinite(time) || time < now.getTime() - this.windowMs) return;
    let entry = this.counts.get(key);
    if (entry) this.counts.delete(key);
    else entry = { backend: event.backend, buckets: [] };
    // Re-inserted last: Map order is then least recently seen first.
    this.counts.set(key, entry);
    const hour = Math.floor(time / HOUR_MS) * HOUR_MS;
    let bucket = entry.buckets.find((b) => b.hour === hour);
    if (!bucket) {
      bucket = { hour, requests: 0, denials: 0, errors: 0 };
      entry.buckets.push(bucket);
    }
    bucket.requests += 1;
    if (event.outcome === 'denied') bucket.denials += 1;
    if (event.outcome === 'error') bucket.errors += 1;
    if (event.outcome === 'allowed' && (!bucket.lastUsed || event.time > bucket.lastUsed))
      bucket.lastUsed = event.time;
    for (const oldest of this.counts.keys()) {
      if (this.counts.size <= this.maxPrincipals) break;
      this.counts.delete(oldest);
    }
  }

  /** Drops buckets that fell out of the window, and principals left with none. */
  prune(now: Date): void {
    const first = Math.floor((now.getTime() - this.windowMs) / HOUR_MS) * HOUR_MS;
    for (const [key, entry] of this.counts) {
      entry.buckets = entry.buckets.filter((b) => b.hour >= first);
      if (entry.buckets.length === 0) this.counts.delete(key);
    }
  }

  /** Per backend: requests, denials, errors and the last allowed use in the window (hour-granular). */
  summaryFor(identity: AgentIdentity, now: Date): BackendSummary[] {
    this.prune(now);
    const totals = new Map<ActivityBackend, BackendSummary>();
    for (const key of identityKeys(identity)) {
      const entry = this.counts.get(key);
      if (!entry) continue;
      const total = totals.get(entry.backend) ?? {
        backend: entry.backend,
        requests: 0,
        denials: 0,
        errors: 0,
      };
      for (const b of entry.buckets) {
        total.requests += b.requests;
        total.denials += b.denials;
        total.errors += b.errors;
        if (b.lastUsed && (!total.lastUsed || b.lastUsed > total.lastUsed)) total.lastUsed = b.lastUsed;
      }
      totals.set(entry.backend, total);
    }
    return (['kubernetes', 'vault', 'aws'] as const).flatMap((b) => {
      const t = totals.get(b);
      return t ? [t] : [];
    });
  }
}
