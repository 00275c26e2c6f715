// Lease-based leader election (coordination.k8s.io/v1), after client-go's leaderelection:
//  - a candidate takes the Lease when it is free, released (empty holder) or expired, writing
//    with the resourceVersion it read (optimistic concurrency: of two racing candidates one 409s);
//  - expiry is judged on the LOCAL clock from when this process last saw the lease change, never
//    by comparing another node's renewTime with ours, so clock skew cannot cause two leaders;
//  - the leader renews every retryPeriod; if no renewal succeeded for renewDeadline (< lease
//    duration) it stops leading at once — a watchdog fires even while an API call hangs — and
//    calls onStoppedLeading('lost') so the process stops reconciling before anyone can take over;
//  - stop() releases the lease (empty holder, leaseDurationSeconds 1) so a standby takes over now.
import { randomBytes } from 'node:crypto';
import { type CoordinationV1Api, type CoreV1Api, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { type CancelTimer, type Clock, sleep, systemClock } from './clock.ts';
import { asConflict, isConflict, isNotFound } from './errors.ts';
import { type Logger, silentLogger } from './logger.ts';
import type { RuntimeMetrics } from './metrics.ts';

/** The three Lease calls election needs. A 409 must surface as an error `isConflict` accepts. */
export interface LeaseStore {
  readonly description: string;
  get(): Promise<V1Lease | undefined>;
  create(lease: V1Lease): Promise<V1Lease>;
  replace(lease: V1Lease): Promise<V1Lease>;
}

export function leaseStore(api: CoordinationV1Api, namespace: string, name: string): LeaseStore {
  return {
    description: `${namespace}/${name}`,
    get: async () => {
      try {
        return await api.readNamespacedLease({ namespace, name });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    create: (lease) =>
      api.createNamespacedLease({
        namespace,
        body: { ...lease, metadata: { ...lease.metadata, name, namespace } },
      }),
    replace: async (lease) => {
      try {
        return await api.replaceNamespacedLease({ namespace, name, body: lease });
      } catch (err) {
        throw asConflict(err, `lease ${namespace}/${name}`);
      }
    },
  };
}

/**
 * The Lease lives in this namespace: when it surely does not exist, fail at start with what to do.
 * Least privilege: the operator may not read namespaces (the chart does not grant it), so only a
 * definite "not found" stops the start; anything else is left to the Lease calls themselves.
 */
export async function requireLeaseNamespace(
  core: Pick<CoreV1Api, 'readNamespace'>,
  name: string,
): Promise<void> {
  try {
    await core.readNamespace({ name });
  } catch (error) {
    if (isNotFound(error)) {
      throw new Error(
        `leader election: namespace ${name} for the Lease does not exist; create it, set POD_NAMESPACE or --lease-namespace, or run with --leader-elect=false`,
      );
    }
  }
}

/** `<pod name>_<random suffix>`: unique even when a pod restarts with the same name. */
export function leaderIdentity(podName: string): string {
  return `${podName}_${randomBytes(5).toString('hex')}`;
}

export type StopReason = 'lost' | 'released';

export interface LeaderElectorOptions {
  store: LeaseStore;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Called once this process holds the lease: start the controllers. */
  onStartedLeading: () => void;
  /** 'lost': stop reconciling immediately (main.ts then exits non-zero). 'released': stop() handed the lease over. */
  onStoppedLeading: (reason: StopReason) => void;
  onNewLeader?: (identity: string) => void;
  clock?: Clock;
  logger?: Logger;
  metrics?: RuntimeMetrics;
}

export class LeaderElector {
  private readonly store: LeaseStore;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly stopping = new AbortController();
  private leading = false;
  private lastRenew = 0;
  private cancelWatchdog: CancelTimer | undefined;
  /** The lease as last read or written, and when (local clock) its content last changed. */
  private observed: V1Lease | undefined;
  private observedAt = 0;
  private lastContact = Number.NEGATIVE_INFINITY;
  private knownLeader: string | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: LeaderElectorOptions) {
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger()).child({ lease: options.store.description });
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!(this.leaseDurationMs > this.renewDeadlineMs && this.renewDeadlineMs > this.retryPeriodMs * 1.2)) {
      throw new Error('leader election needs leaseDuration > renewDeadline > 1.2 × retryPeriod');
    }
    // A standby reports 0 from the start (as client-go does), so "no replica leads" is visible.
    options.metrics?.setLeader(options.store.description, false);
  }

  get identity(): string {
    return this.options.identity;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Who holds the lease, as last seen. */
  leader(): string | undefined {
    return this.knownLeader;
  }

  /** For /readyz: leading, or a standby that reached the apiserver within one lease duration. */
  isReady(): boolean {
    return this.leading || this.clock.now() - this.lastContact <= this.leaseDurationMs;
  }

  /** Campaigns until leading, then renews until the lease is lost or stop() is called. */
  run(): Promise<void> {
    this.running ??= this.campaign();
    return this.running;
  }

  /** Stops campaigning; if leading, releases the lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopping.abort();
    // A lease call may hang; stop waiting for it after a renew deadline (the watchdog covers us).
    const gaveUp = new AbortController();
    await Promise.race([this.running, sleep(this.clock, this.renewDeadlineMs, gaveUp.signal)]);
    gaveUp.abort();
    if (!this.leading) return;
    this.endLeadership();
    await this.release();
    this.options.onStoppedLeading('released');
  }

  private async campaign(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted && !(await this.tryAcquireOrRenew())) {
      await sleep(this.clock, this.retryPeriodMs * (1 + Math.random() * 0.2), signal);
    }
    if (signal.aborted) return;
    this.leading = true;
    this.renewed();
    this.options.metrics?.setLeader(this.store.description, true);
    this.log.info('started leading', { identity: this.identity });
    this.options.onStartedLeading();
    while (this.leading && !signal.aborted) {
      await sleep(this.clock, this.retryPeriodMs, signal);
      if (!this.leading || signal.aborted) break;
      if (await this.tryAcquireOrRenew()) this.renewed();
      else if (this.knownLeader !== this.identity) this.lose('another holder took the lease');
    }
  }

  /** One attempt to take or keep the lease. Never throws: a failure is just `false`. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    try {
      const lease = await this.store.get();
      this.lastContact = this.clock.now();
      if (!lease) {
        this.observe(await this.store.create(this.desired(undefined, now)));
        return true;
      }
      this.observe(lease);
      const holder = lease.spec?.holderIdentity ?? '';
      if (holder && holder !== this.identity && !this.expired(lease)) return false;
      this.observe(await this.store.replace(this.desired(lease, now)));
      return true;
    } catch (err) {
      if (!isConflict(err) && !this.stopping.signal.aborted) this.log.warn('lease update failed', { err });
      return false;
    }
  }

  private desired(current: V1Lease | undefined, now: number): V1Lease {
    const spec = current?.spec ?? {};
    const renewing = spec.holderIdentity === this.identity;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { ...current?.metadata },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
        acquireTime: renewing && spec.acquireTime ? spec.acquireTime : new V1MicroTime(now),
        renewTime: new V1MicroTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (renewing || !current ? 0 : 1),
      },
    };
  }

  private observe(lease: V1Lease): void {
    const changed = lease.metadata?.resourceVersion !== this.observed?.metadata?.resourceVersion;
    this.observed = lease;
    if (changed) this.observedAt = this.clock.now();
    const holder = lease.spec?.holderIdentity || undefined;
    if (holder !== this.knownLeader) {
      this.knownLeader = holder;
      if (holder) {
        this.log.info('new leader', { leader: holder });
        this.options.onNewLeader?.(holder);
      }
    }
  }

  private expired(lease: V1Lease): boolean {
    const seconds = lease.spec?.leaseDurationSeconds ?? this.leaseDurationMs / 1000;
    return this.clock.now() >= this.observedAt + seconds * 1000;
  }

  private renewed(): void {
    this.lastRenew = this.clock.now();
    this.cancelWatchdog?.();
    this.cancelWatchdog = this.clock.setTimer(
      () => this.lose(`no renewal for ${this.renewDeadlineMs}ms`),
      this.lastRenew + this.renewDeadlineMs - this.clock.now(),
    );
  }

  private lose(why: string): void {
    if (!this.leading) return;
    this.endLeadership();
    this.log.error('lost leadership; stopping', { why });
    this.options.onStoppedLeading('lost');
  }

  private endLeadership(): void {
    this.leading = false;
    this.cancelWatchdog?.();
    this.options.metrics?.setLeader(this.store.description, false);
  }

  private async release(): Promise<void> {
    try {
      const lease = await this.store.get();
      if (lease?.spec?.holderIdentity !== this.identity) return;
      const now = new V1MicroTime(this.clock.now());
      await this.store.replace({
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
        },
      });
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn('could not release the lease; a standby takes over when it expires', { err });
    }
  }
}
