// A bounded, rolling count of activity per principal, for the operator's status summary: events go
// into hourly buckets per principal key; buckets older than the window are dropped, and at most
// `maxPrincipals` principals are kept (the least recently seen go first). Memory is bounded by
// principals x hours in the window, whatever the log's volume. Pure: events in, summaries out.

import type { AgentIdentity } from '../../api/v1alpha1/types.ts';
import { principalsOf } from './attribute.ts';
import { type Use, useKey, useOf } from './rightsize.ts';
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
  /** Distinct allowed requests (rightsize.ts), at most `MAX_USES`; past it, `overflow` is set. */
  uses: Map<string, Use>;
  overflow: boolean;
  /** Source addresses and when each was last seen (at most MAX_SOURCES). */
  sources: Map<string, string>;
  /** Times of the latest requests, and of the latest denials (at least the latest MAX_RECENT of each, at most twice that), ascending. */
  requests: string[];
  denials: string[];
}

const MAX_SOURCES = 64;
/** Request and denial times kept per principal, for bursts and use after quarantine. */
export const MAX_RECENT = 256;

/** Inserts in order (logs are mostly in order: usually an append), keeping the latest MAX_RECENT. */
function keepRecent(times: string[], time: string): void {
  let at = times.length;
  if (at > 0 && (times[at - 1] as string) > time) {
    let low = 0;
    while (low < at) {
      const mid = (low + at) >> 1;
      if ((times[mid] as string) <= time) low = mid + 1;
      else at = mid;
    }
  }
  if (at === 0 && times.length >= MAX_RECENT) return; // older than all kept
  if (at === times.length) times.push(time);
  else times.splice(at, 0, time);
  // Trimmed in bulk (amortized): up to twice as many are held between trims.
  if (times.length > 2 * MAX_RECENT) times.splice(0, times.length - MAX_RECENT);
}

/** What the anomaly detection reads of an identity in the window. */
export interface Observations {
  uses: Use[];
  sources: Map<string, string>;
  requests: string[];
  denials: string[];
}

/** Distinct uses kept per principal for right-sizing: more, and no grant is called unused. */
export const MAX_USES = 512;

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

  /** The time of the earliest event ever added, in or before the window: where the evidence starts. */
  private earliest: number | undefined;

  get size(): number {
    return this.counts.size;
  }

  /** Where the evidence starts: the window's start, or the first event seen when that is later. */
  evidenceSince(now: Date): Date | undefined {
    if (this.earliest === undefined) return undefined;
    return new Date(Math.max(this.earliest, now.getTime() - this.windowMs));
  }

  add(event: ActivityEvent, now: Date): void {
    const key = eventKey(event);
    const time = Date.parse(event.time);
    if (Number.isFinite(time) && (this.earliest === undefined || time < this.earliest)) this.earliest = time;
    if (!key || !Number.isFinite(time) || time < now.getTime() - this.windowMs) return;
    let entry = this.counts.get(key);
    if (entry) this.counts.delete(key);
    else
      entry = {
        backend: event.backend,
        buckets: [],
        uses: new Map(),
        overflow: false,
        sources: new Map(),
        requests: [],
        denials: [],
      };
    keepRecent(entry.requests, event.time);
    if (event.outcome === 'denied') keepRecent(entry.denials, event.time);
    if (event.sourceAddress && (entry.sources.has(event.sourceAddress) || entry.sources.size < MAX_SOURCES)) {
      const seen = entry.sources.get(event.sourceAddress);
      if (!seen || seen < event.time) entry.sources.set(event.sourceAddress, event.time);
    }
    const use = useOf(event);
    if (use) {
      const k = useKey(use);
      const seen = entry.uses.get(k);
      if (seen) {
        if (seen.lastSeen < use.lastSeen) seen.lastSeen = use.lastSeen;
      } else if (entry.uses.size < MAX_USES) entry.uses.set(k, use);
      else entry.overflow = true;
    }
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
    const start = new Date(now.getTime() - this.windowMs).toISOString();
    for (const [key, entry] of this.counts) {
      entry.buckets = entry.buckets.filter((b) => b.hour >= first);
      for (const [k, use] of entry.uses) if (use.lastSeen < start) entry.uses.delete(k);
      for (const [k, seen] of entry.sources) if (seen < start) entry.sources.delete(k);
      entry.requests = entry.requests.filter((t) => t >= start);
      entry.denials = entry.denials.filter((t) => t >= start);
      if (entry.buckets.length === 0) this.counts.delete(key);
    }
  }

  /** The distinct uses of the identity in the window; undefined when more were seen than are kept. */
  usesFor(identity: AgentIdentity, now: Date): Use[] | undefined {
    this.prune(now);
    const out: Use[] = [];
    for (const key of identityKeys(identity)) {
      const entry = this.counts.get(key);
      if (!entry) continue;
      if (entry.overflow) return undefined;
      out.push(...entry.uses.values());
    }
    return out;
  }

  /** Uses, sources, request and denial times of the identity in the window, for anomaly detection. */
  observationsFor(identity: AgentIdentity, now: Date): Observations {
    this.prune(now);
    const out: Observations = { uses: [], sources: new Map(), requests: [], denials: [] };
    for (const key of identityKeys(identity)) {
      const entry = this.counts.get(key);
      if (!entry) continue;
      out.uses.push(...entry.uses.values());
      for (const [address, seen] of entry.sources) {
        const before = out.sources.get(address);
        if (!before || before < seen) out.sources.set(address, seen);
      }
      out.requests.push(...entry.requests.slice(-MAX_RECENT));
      out.denials.push(...entry.denials.slice(-MAX_RECENT));
    }
    out.requests.sort();
    out.denials.sort();
    return out;
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
